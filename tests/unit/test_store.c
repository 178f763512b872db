/* Unit tests for src/store, against either backend (store_backend.h): SQLite
 * on real files in a temp dir, or a real PostgreSQL server. The tests that
 * reach into SQLite itself (its file, its triggers, its writer's pause) run
 * with SQLite only. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "cjx/audit.h"
#include "cjx/clock.h"
#include "cjx/error.h"
#include "cjx/store.h"
#include "cjx/tls.h"
#include "cjx/v1/audit.pb-c.h"
#include "store_backend.h"

/* ---- fixture: a fresh directory and an open store per test ---- */

struct fixture {
    char dir[256];
    char path[300];
    struct cjx_store *s;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/cjx-store-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/cjx.db", f->dir);
    struct cjx_errbuf eb;
    if (test_backend_reset() != 0 ||
        test_backend_open(f->path, NULL, &f->s, &eb) != 0) {
        fprintf(stderr, "open: %s\n", eb.msg);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    cjx_store_close(f->s);
    DIR *d = opendir(f->dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[600];
            snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void
reopen(struct fixture *f)
{
    struct cjx_errbuf eb = {{0}};
    cjx_store_close(f->s);
    f->s = NULL;
    int rc = test_backend_open(f->path, NULL, &f->s, &eb);
    if (rc != 0)
        fail_msg("reopen: %s", eb.msg);
}

/* ---- building writes ---- */

struct test_write {
    struct cjx_record_write w;
    char sender[32], rid[64], cii[64], ccn[64], county[32], body[128];
};

/* A stand-in for SHA-256 of the request: the store only compares digests. */
static void
fake_digest(uint8_t d[CJX_STORE_DIGEST_LEN], const struct test_write *t)
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[] = {t->cii, t->ccn, t->county, t->body};
    for (size_t p = 0; p < 4; p++)
        for (const char *c = parts[p]; *c != '\0'; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    h ^= (uint64_t)(uint32_t)t->w.count_number;
    for (int i = 0; i < CJX_STORE_DIGEST_LEN; i++) {
        h = (h ^ (uint64_t)i) * 1099511628211ULL;
        d[i] = (uint8_t)(h >> 56);
    }
}

static void
tw_init(struct test_write *t, const char *sender, const char *rid,
        const char *cii, const char *ccn, int count, const char *county,
        const char *body)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->sender, sizeof(t->sender), "%s", sender);
    snprintf(t->rid, sizeof(t->rid), "%s", rid);
    snprintf(t->cii, sizeof(t->cii), "%s", cii);
    snprintf(t->ccn, sizeof(t->ccn), "%s", ccn);
    snprintf(t->county, sizeof(t->county), "%s", county);
    snprintf(t->body, sizeof(t->body), "%s", body);
    t->w.sender_ori = t->sender;
    t->w.request_id = t->rid;
    t->w.cii = t->cii;
    t->w.court_case_number = t->ccn;
    t->w.count_number = count;
    t->w.county = t->county;
    t->w.record = t->body;
    t->w.record_len = strlen(t->body);
    t->w.flags = NULL;
    fake_digest(t->w.request_digest, t);
}

/* ---- waiting for completions ---- */

struct result_box {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    struct cjx_record_write_result r;
    char detail[256];
};

static void
box_init(struct result_box *b)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

static void
box_fini(struct result_box *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

static void
box_done(void *arg, const struct cjx_record_write_result *r)
{
    struct result_box *b = arg;
    pthread_mutex_lock(&b->mu);
    b->r = *r;
    b->detail[0] = '\0';
    if (r->detail != NULL)
        snprintf(b->detail, sizeof(b->detail), "%s", r->detail);
    b->r.detail = r->detail != NULL ? b->detail : NULL;
    b->calls++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void
box_wait(struct result_box *b)
{
    pthread_mutex_lock(&b->mu);
    while (b->calls == 0)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

/* Submits and waits for the completion. */
static struct cjx_record_write_result
submit_wait(struct cjx_store *s, const struct test_write *t)
{
    struct result_box b;
    box_init(&b);
    assert_int_equal(cjx_store_submit_record(s, &t->w, box_done, &b), 0);
    box_wait(&b);
    assert_int_equal(b.calls, 1);
    struct cjx_record_write_result r = b.r;
    r.detail = NULL; /* the box goes away */
    box_fini(&b);
    return r;
}

/* Holds the writer thread inside a completion until opened, so that writes
 * submitted meanwhile are all taken as one batch. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, open;
    struct cjx_store *store; /* paused by hold_writer */
};

static void
gate_init(struct gate *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void
gate_done(void *arg, const struct cjx_record_write_result *r)
{
    struct gate *g = arg;
    (void)r;
    pthread_mutex_lock(&g->mu);
    g->entered = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void
gate_wait_entered(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void
gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Commits one write, then pauses the writer, so that writes submitted until
 * release_writer() are taken as one batch. Completions run on their own
 * thread, so blocking one does not hold the writer: pausing does. */
static void
hold_writer(struct cjx_store *s, struct gate *g, const char *tag)
{
    struct test_write t;
    char rid[64];
    snprintf(rid, sizeof(rid), "gate-%s", tag);
    tw_init(&t, "GATE00000", rid, rid, "GATE", 1, "Gate", "gate");
    gate_init(g);
    g->open = 1; /* the completion returns at once */
    assert_int_equal(cjx_store_submit_record(s, &t.w, gate_done, g), 0);
    gate_wait_entered(g);
    cjx_store_sqlite_pause(s, 1);
    g->store = s;
}

static void
release_writer(struct gate *g)
{
    cjx_store_sqlite_pause(g->store, 0);
}

/* ---- direct looks at the database file ---- */

static int64_t
count_rows(const char *path, const char *table)
{
    if (test_backend_is_pg())
        return test_backend_pg_count(table);
    sqlite3 *db;
    char sql[128];
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void
exec_sql(const char *path, const char *sql)
{
    if (test_backend_is_pg()) {
        test_backend_pg_exec(sql);
        return;
    }
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

struct table_counts {
    int64_t records, versions, changes, requests, last_seq;
};

static struct table_counts
snapshot(struct fixture *f)
{
    struct table_counts c = {
        count_rows(f->path, "records"), count_rows(f->path, "record_versions"),
        count_rows(f->path, "changes"), count_rows(f->path, "idempotency"),
        cjx_store_last_seq(f->s)};
    return c;
}

static void
assert_same_counts(struct table_counts a, struct table_counts b)
{
    assert_int_equal(a.records, b.records);
    assert_int_equal(a.versions, b.versions);
    assert_int_equal(a.changes, b.changes);
    assert_int_equal(a.requests, b.requests);
    assert_int_equal(a.last_seq, b.last_seq);
}

static void
assert_stored_body(struct cjx_store *s, const char *cii, const char *ccn,
                   int count, const char *body, int64_t version)
{
    struct cjx_stored_record rec;
    struct cjx_errbuf eb;
    int rc = cjx_store_get_record(s, cii, ccn, count, &rec, &eb);
    if (rc != 0)
        fail_msg("get %s/%s/%d: %s", cii, ccn, count, eb.msg);
    assert_int_equal(rec.record_len, strlen(body));
    assert_memory_equal(rec.record, body, strlen(body));
    assert_int_equal(rec.version, version);
    cjx_stored_record_fini(s, &rec);
}

/* ---- versions and idempotency ---- */

static void
test_store__new_record__gets_version_1_and_seq_1(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1234567", "CASE-1", 1, "Alameda",
            "body-1");
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.seq, 1);
    assert_false(r.unchanged);
    assert_false(r.replayed);
    assert_int_equal(cjx_store_last_seq(f->s), 1);
}

static void
test_store__get_record__returns_every_field(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1234567", "CASE-1", 3, "Alameda",
            "body-1");
    t.w.flags = "old_offense,minor";
    assert_int_equal(submit_wait(f->s, &t).err, 0);

    struct cjx_stored_record rec;
    assert_int_equal(
        cjx_store_get_record(f->s, "A1234567", "CASE-1", 3, &rec, NULL), 0);
    assert_string_equal(rec.cii, "A1234567");
    assert_string_equal(rec.court_case_number, "CASE-1");
    assert_int_equal(rec.count_number, 3);
    assert_string_equal(rec.county, "Alameda");
    assert_int_equal(rec.version, 1);
    assert_int_equal(rec.seq, 1);
    assert_string_equal(rec.submitted_by, "CA0190000");
    assert_string_equal(rec.flags, "old_offense,minor");
    assert_true(rec.stored_at_us > 0);
    assert_int_equal(rec.record_len, 6);
    assert_memory_equal(rec.record, "body-1", 6);
    assert_non_null(rec.owned_);
    cjx_stored_record_fini(f->s, &rec);
    assert_null(rec.owned_);
    assert_null(rec.record);
    cjx_stored_record_fini(f->s, NULL);

    /* No flags are stored as "". */
    tw_init(&t, "CA0190000", "r2", "B1", "CASE-2", 1, "Alameda", "x");
    assert_int_equal(submit_wait(f->s, &t).err, 0);
    assert_int_equal(cjx_store_get_record(f->s, "B1", "CASE-2", 1, &rec, NULL),
                     0);
    assert_string_equal(rec.flags, "");
    cjx_stored_record_fini(f->s, &rec);
}

static void
test_store__changed_resubmission__bumps_version_and_seq(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    tw_init(&t, "CA0190000", "r2", "B2", "CASE-2", 1, "Alameda", "other");
    assert_int_equal(submit_wait(f->s, &t).seq, 2);

    tw_init(&t, "CA0190000", "r3", "A1", "CASE-1", 1, "Alameda", "body-2");
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.version, 2);
    assert_int_equal(r.seq, 3);
    assert_false(r.unchanged);
    assert_false(r.replayed);
    assert_stored_body(f->s, "A1", "CASE-1", 1, "body-2", 2);
    assert_int_equal(count_rows(f->path, "record_versions"), 3);
    assert_int_equal(count_rows(f->path, "records"), 2);
}

static void
test_store__identical_resubmission__is_unchanged_without_a_change(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    struct table_counts before = snapshot(f);

    /* A new request id carrying the same bytes. */
    tw_init(&t, "CA0190000", "r2", "A1", "CASE-1", 1, "Alameda", "body-1");
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.seq, 0);
    assert_true(r.unchanged);
    assert_false(r.replayed);
    struct table_counts after = snapshot(f);
    assert_int_equal(after.versions, before.versions);
    assert_int_equal(after.changes, before.changes);
    assert_int_equal(after.last_seq, before.last_seq);
    assert_int_equal(after.requests, before.requests + 1);
}

static void
test_store__repeated_request_id__returns_first_answer(void **state)
{
    struct fixture *f = *state;
    struct test_write t1, t2;
    tw_init(&t1, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    struct cjx_record_write_result first = submit_wait(f->s, &t1);
    assert_int_equal(first.seq, 1);
    tw_init(&t2, "CA0190000", "r2", "A1", "CASE-1", 1, "Alameda", "body-2");
    assert_int_equal(submit_wait(f->s, &t2).version, 2);
    struct table_counts before = snapshot(f);

    struct cjx_record_write_result r = submit_wait(f->s, &t1);
    assert_int_equal(r.err, 0);
    assert_true(r.replayed);
    assert_int_equal(r.version, first.version);
    assert_int_equal(r.seq, first.seq);
    assert_int_equal(r.unchanged, first.unchanged);
    assert_same_counts(before, snapshot(f));
    /* The replay did not put the old bytes back. */
    assert_stored_body(f->s, "A1", "CASE-1", 1, "body-2", 2);

    /* An unchanged answer replays as unchanged. */
    struct test_write t3;
    tw_init(&t3, "CA0190000", "r3", "A1", "CASE-1", 1, "Alameda", "body-2");
    assert_true(submit_wait(f->s, &t3).unchanged);
    r = submit_wait(f->s, &t3);
    assert_true(r.replayed);
    assert_true(r.unchanged);
    assert_int_equal(r.seq, 0);
    assert_int_equal(r.version, 2);
}

static void
test_store__same_request_id_different_digest__conflicts(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).err, 0);
    struct table_counts before = snapshot(f);

    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-2");
    struct result_box b;
    box_init(&b);
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, box_done, &b), 0);
    box_wait(&b);
    assert_int_equal(b.r.err, CJX_ECONFLICT);
    assert_non_null(b.r.detail);
    assert_false(b.r.replayed);
    box_fini(&b);
    assert_same_counts(before, snapshot(f));
    assert_stored_body(f->s, "A1", "CASE-1", 1, "body-1", 1);
}

static void
test_store__different_senders__may_reuse_a_request_id(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "same", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    tw_init(&t, "CA0380000", "same", "B1", "CASE-9", 1, "San Francisco",
            "other");
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_false(r.replayed);
    assert_int_equal(r.seq, 2);
    assert_int_equal(count_rows(f->path, "idempotency"), 2);
}

struct hook_log {
    atomic_int calls;
    _Atomic int64_t last;
};

static void
hook_record(void *arg, int64_t last_seq)
{
    struct hook_log *h = arg;
    atomic_fetch_add(&h->calls, 1);
    atomic_store(&h->last, last_seq);
}

static void
test_store__same_request_id_twice_in_one_batch__behaves_sequentially(
    void **state)
{
    struct fixture *f = *state;
    struct hook_log hook = {0};
    cjx_store_set_commit_hook(f->s, hook_record, &hook);
    struct gate g;
    hold_writer(f->s, &g, "batch");
    assert_int_equal(atomic_load(&hook.calls), 1);

    /* Four writes queued while the writer is held: one batch. */
    struct test_write t[4];
    tw_init(&t[0], "CA0190000", "dup", "A1", "CASE-1", 1, "Alameda", "b-1");
    tw_init(&t[1], "CA0190000", "dup", "A1", "CASE-1", 1, "Alameda", "b-1");
    tw_init(&t[2], "CA0190000", "dup", "A1", "CASE-1", 1, "Alameda", "b-2");
    tw_init(&t[3], "CA0190000", "next", "C3", "CASE-3", 1, "Alameda", "b-3");
    struct result_box b[4];
    for (int i = 0; i < 4; i++) {
        box_init(&b[i]);
        assert_int_equal(
            cjx_store_submit_record(f->s, &t[i].w, box_done, &b[i]), 0);
    }
    release_writer(&g);
    for (int i = 0; i < 4; i++)
        box_wait(&b[i]);

    assert_int_equal(b[0].r.err, 0);
    assert_false(b[0].r.replayed);
    assert_int_equal(b[0].r.seq, 2);
    assert_int_equal(b[1].r.err, 0);
    assert_true(b[1].r.replayed);
    assert_int_equal(b[1].r.seq, 2);
    assert_int_equal(b[1].r.version, 1);
    assert_int_equal(b[2].r.err, CJX_ECONFLICT);
    assert_int_equal(b[3].r.seq, 3);
    /* One commit for the four writes. */
    assert_int_equal(atomic_load(&hook.calls), 2);
    assert_int_equal(atomic_load(&hook.last), 3);
    assert_stored_body(f->s, "A1", "CASE-1", 1, "b-1", 1);
    for (int i = 0; i < 4; i++)
        box_fini(&b[i]);
}

static void
test_store__missing_key__is_not_found(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).err, 0);

    struct cjx_stored_record rec;
    memset(&rec, 0x5a, sizeof(rec));
    struct cjx_errbuf eb;
    assert_int_equal(cjx_store_get_record(f->s, "A1", "CASE-1", 2, &rec, &eb),
                     CJX_ENOTFOUND);
    assert_non_null(strstr(eb.msg, "A1"));
    assert_int_equal(cjx_store_get_record(f->s, "Z9", "CASE-1", 1, &rec, NULL),
                     CJX_ENOTFOUND);
    /* A failed get leaves the output alone. */
    assert_int_equal(rec.count_number, 0x5a5a5a5a);
    assert_int_equal(cjx_store_get_record(f->s, NULL, "CASE-1", 1, &rec, NULL),
                     CJX_EINVAL);
}

/* ---- listing and the change feed ---- */

struct seen {
    int n;
    char keys[64][48];
    int64_t seqs[64];
    int64_t versions[64];
    char bodies[64][32];
    int stop_after; /* 0 = never stop early */
};

static int
visit_collect(void *arg, const struct cjx_stored_record *r)
{
    struct seen *s = arg;
    if (s->n < 64) {
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s/%s/%d", r->cii,
                 r->court_case_number, (int)r->count_number);
        s->seqs[s->n] = r->seq;
        s->versions[s->n] = r->version;
        snprintf(s->bodies[s->n], sizeof(s->bodies[0]), "%.*s",
                 (int)r->record_len, (const char *)r->record);
    }
    s->n++;
    return s->stop_after > 0 && s->n >= s->stop_after;
}

static void
fill_listing_data(struct fixture *f)
{
    for (int i = 0; i < 30; i++) {
        struct test_write t;
        char rid[16], cii[16], ccn[16], county[16], body[16];
        snprintf(rid, sizeof(rid), "r%d", i);
        snprintf(cii, sizeof(cii), "C%d", i % 3);
        snprintf(ccn, sizeof(ccn), "CASE%d", i % 5);
        snprintf(county, sizeof(county), "County%d", i % 2);
        snprintf(body, sizeof(body), "b%d", i);
        tw_init(&t, "CA0190000", rid, cii, ccn, i, county, body);
        assert_int_equal(submit_wait(f->s, &t).err, 0);
    }
}

/* Pages through one filter value and checks every matching record came
 * exactly once, in insertion order. */
static void
check_paging(struct fixture *f, enum cjx_record_filter filter,
             const char *value, int modulus, int residue, int page)
{
    struct seen all = {0};
    int64_t pos = 0;
    int pages = 0;
    for (;;) {
        struct seen one = {0};
        int64_t last = -1;
        assert_int_equal(cjx_store_list_records(f->s, filter, value, pos, page,
                                                visit_collect, &one, &last,
                                                NULL),
                         0);
        assert_true(one.n <= page);
        if (one.n == 0) {
            assert_int_equal(last, 0);
            break;
        }
        assert_true(last > pos);
        for (int i = 0; i < one.n; i++)
            memcpy(all.keys[all.n++], one.keys[i], sizeof(one.keys[0]));
        pos = last;
        pages++;
        /* A new version of a listed record must not move it. */
        if (pages == 1) {
            struct test_write t;
            char rid[32], cii[16], ccn[16], county[16];
            snprintf(rid, sizeof(rid), "bump-%d-%s", (int)filter, value);
            snprintf(cii, sizeof(cii), "C%d", residue % 3);
            snprintf(ccn, sizeof(ccn), "CASE%d", residue % 5);
            snprintf(county, sizeof(county), "County%d", residue % 2);
            tw_init(&t, "CA0190000", rid, cii, ccn, residue, county, rid);
            struct cjx_record_write_result r = submit_wait(f->s, &t);
            assert_int_equal(r.err, 0);
            assert_true(r.version >= 2);
        }
    }
    int expected = 0;
    for (int i = 0; i < 30; i++) {
        if (i % modulus != residue)
            continue;
        char key[48];
        snprintf(key, sizeof(key), "C%d/CASE%d/%d", i % 3, i % 5, i);
        assert_true(expected < all.n);
        assert_string_equal(all.keys[expected], key);
        expected++;
    }
    assert_int_equal(all.n, expected);
    assert_true(pages > 1);
}

static void
test_store__list_by_filter__pages_without_repeats_or_gaps(void **state)
{
    struct fixture *f = *state;
    fill_listing_data(f);
    check_paging(f, CJX_FILTER_CII, "C1", 3, 1, 4);
    check_paging(f, CJX_FILTER_COUNTY, "County0", 2, 0, 4);
    check_paging(f, CJX_FILTER_CASE, "CASE2", 5, 2, 2);
    check_paging(f, CJX_FILTER_CII, "C2", 3, 2, 1);

    struct seen none = {0};
    int64_t last = 99;
    assert_int_equal(cjx_store_list_records(f->s, CJX_FILTER_COUNTY, "Nowhere",
                                            0, 10, visit_collect, &none, &last,
                                            NULL),
                     0);
    assert_int_equal(none.n, 0);
    assert_int_equal(last, 0);
}

/* A visitor that stops at a row (a page whose byte budget is spent) leaves
 * that row out of the position: the next page starts with it. */
static void
test_store__list_stopped_by_visitor__resumes_at_the_row_it_stopped_at(
    void **state)
{
    struct fixture *f = *state;
    fill_listing_data(f);
    struct seen first = {.stop_after = 2};
    int64_t last = 0;
    assert_int_equal(cjx_store_list_records(f->s, CJX_FILTER_COUNTY, "County1",
                                            0, 10, visit_collect, &first, &last,
                                            NULL),
                     0);
    assert_int_equal(first.n, 2);
    assert_true(last > 0);
    struct seen rest = {0};
    assert_int_equal(cjx_store_list_records(f->s, CJX_FILTER_COUNTY, "County1",
                                            last, 1, visit_collect, &rest,
                                            &last, NULL),
                     0);
    assert_int_equal(rest.n, 1);
    assert_string_equal(rest.keys[0], first.keys[1]); /* the refused row */
    assert_string_equal(rest.keys[0], "C0/CASE3/3");  /* second of County1 */
}

static void
test_store__bad_list_arguments__are_refused(void **state)
{
    struct fixture *f = *state;
    struct seen s = {0};
    int64_t last = 0;
    struct cjx_errbuf eb;
    assert_int_equal(cjx_store_list_records(f->s, (enum cjx_record_filter)9,
                                            "x", 0, 1, visit_collect, &s, &last,
                                            &eb),
                     CJX_EINVAL);
    assert_int_equal(cjx_store_list_records(f->s, CJX_FILTER_CII, "x", 0, 0,
                                            visit_collect, &s, &last, NULL),
                     CJX_EINVAL);
    assert_int_equal(cjx_store_list_records(f->s, CJX_FILTER_CII, NULL, 0, 1,
                                            visit_collect, &s, &last, NULL),
                     CJX_EINVAL);
    assert_int_equal(cjx_store_list_records(f->s, CJX_FILTER_CII, "x", -1, 1,
                                            visit_collect, &s, &last, NULL),
                     CJX_EINVAL);
    assert_int_equal(
        cjx_store_read_changes(f->s, -1, 1, visit_collect, &s, NULL),
        CJX_EINVAL);
    assert_int_equal(
        cjx_store_read_changes(f->s, 0, 0, visit_collect, &s, NULL),
        CJX_EINVAL);
    assert_int_equal(cjx_store_read_changes(f->s, 0, 1, NULL, &s, NULL),
                     CJX_EINVAL);
    assert_int_equal(s.n, 0);
}

static void
test_store__read_changes__resumes_after_any_seq(void **state)
{
    struct fixture *f = *state;
    /* Ten changes; key A1 gets versions 1, 2 and 3 at seqs 1, 4 and 8. */
    const char *plan[][2] = {{"A1", "a-1"}, {"B1", "b-1"}, {"C1", "c-1"},
                             {"A1", "a-2"}, {"D1", "d-1"}, {"E1", "e-1"},
                             {"B1", "b-2"}, {"A1", "a-3"}, {"F1", "f-1"},
                             {"G1", "g-1"}};
    for (int i = 0; i < 10; i++) {
        struct test_write t;
        char rid[16];
        snprintf(rid, sizeof(rid), "r%d", i);
        tw_init(&t, "CA0190000", rid, plan[i][0], "CASE", 1, "Alameda",
                plan[i][1]);
        assert_int_equal(submit_wait(f->s, &t).seq, i + 1);
    }
    for (int after = 0; after <= 10; after++) {
        int64_t next = after;
        for (;;) {
            struct seen page = {0};
            assert_int_equal(cjx_store_read_changes(f->s, next, 3,
                                                    visit_collect, &page, NULL),
                             0);
            assert_true(page.n <= 3);
            if (page.n == 0)
                break;
            for (int i = 0; i < page.n; i++) {
                int64_t seq = page.seqs[i];
                assert_int_equal(seq, next + 1);
                /* The version this change wrote, not the current one. */
                assert_string_equal(page.bodies[i], plan[seq - 1][1]);
                next = seq;
            }
        }
        assert_int_equal(next, 10);
    }
    struct seen a1 = {0};
    assert_int_equal(
        cjx_store_read_changes(f->s, 0, 100, visit_collect, &a1, NULL), 0);
    assert_int_equal(a1.n, 10);
    assert_int_equal(a1.versions[0], 1);
    assert_int_equal(a1.versions[3], 2);
    assert_int_equal(a1.versions[7], 3);
}

static void
test_store__commit_hook__fires_with_the_new_seq(void **state)
{
    struct fixture *f = *state;
    struct hook_log hook = {0};
    cjx_store_set_commit_hook(f->s, hook_record, &hook);
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    assert_int_equal(atomic_load(&hook.calls), 1);
    assert_int_equal(atomic_load(&hook.last), 1);

    /* Nothing new in the feed: no call. */
    tw_init(&t, "CA0190000", "r2", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_true(submit_wait(f->s, &t).unchanged);
    assert_int_equal(atomic_load(&hook.calls), 1);

    tw_init(&t, "CA0190000", "r3", "A1", "CASE-1", 1, "Alameda", "body-2");
    assert_int_equal(submit_wait(f->s, &t).seq, 2);
    assert_int_equal(atomic_load(&hook.calls), 2);
    assert_int_equal(atomic_load(&hook.last), 2);

    cjx_store_set_commit_hook(f->s, NULL, NULL);
    tw_init(&t, "CA0190000", "r4", "A1", "CASE-1", 1, "Alameda", "body-3");
    assert_int_equal(submit_wait(f->s, &t).seq, 3);
    assert_int_equal(atomic_load(&hook.calls), 2);
}

/* ---- concurrency ---- */

#define WRITERS           8
#define WRITES_PER_WRITER 500

struct concurrent {
    struct cjx_store *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int completed;
    int64_t seqs[WRITERS * WRITES_PER_WRITER];
    int errors[WRITERS * WRITES_PER_WRITER];
    atomic_int submit_failures;
    atomic_int read_failures;
    atomic_int reads;
    atomic_int stop_reading;
};

struct concurrent_slot {
    struct concurrent *c;
    int index;
};

static void
concurrent_done(void *arg, const struct cjx_record_write_result *r)
{
    struct concurrent_slot *slot = arg;
    struct concurrent *c = slot->c;
    pthread_mutex_lock(&c->mu);
    c->seqs[slot->index] = r->seq;
    c->errors[slot->index] = r->err;
    c->completed++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

struct writer_arg {
    struct concurrent *c;
    int id;
    struct concurrent_slot slots[WRITES_PER_WRITER];
};

static void *
writer_thread(void *arg)
{
    struct writer_arg *wa = arg;
    for (int i = 0; i < WRITES_PER_WRITER; i++) {
        struct test_write t;
        char rid[32], cii[32];
        snprintf(rid, sizeof(rid), "w%d-%d", wa->id, i);
        snprintf(cii, sizeof(cii), "T%d-%d", wa->id, i);
        tw_init(&t, "CA0190000", rid, cii, "CASE", 1, "Alameda", rid);
        wa->slots[i].c = wa->c;
        wa->slots[i].index = wa->id * WRITES_PER_WRITER + i;
        if (cjx_store_submit_record(wa->c->s, &t.w, concurrent_done,
                                    &wa->slots[i]) != 0)
            atomic_fetch_add(&wa->c->submit_failures, 1);
    }
    return NULL;
}

static int
count_visit(void *arg, const struct cjx_stored_record *r)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

/* Reads while the writers write: every read must succeed or miss. */
static void *
reader_thread(void *arg)
{
    struct concurrent *c = arg;
    unsigned n = 0;
    while (!atomic_load(&c->stop_reading)) {
        struct cjx_stored_record rec;
        char cii[32];
        snprintf(cii, sizeof(cii), "T%u-%u", n % WRITERS,
                 (n / WRITERS) % WRITES_PER_WRITER);
        int rc = cjx_store_get_record(c->s, cii, "CASE", 1, &rec, NULL);
        if (rc == 0)
            cjx_stored_record_fini(c->s, &rec);
        else if (rc != CJX_ENOTFOUND)
            atomic_fetch_add(&c->read_failures, 1);
        int seen = 0;
        if (cjx_store_read_changes(c->s, n % 100, 50, count_visit, &seen,
                                   NULL) != 0)
            atomic_fetch_add(&c->read_failures, 1);
        atomic_fetch_add(&c->reads, 1);
        n++;
    }
    return NULL;
}

static void
test_store__concurrent_submitters__all_complete_with_dense_seqs(void **state)
{
    struct fixture *f = *state;
    struct concurrent *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->s = f->s;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    struct writer_arg *wa = calloc(WRITERS, sizeof(*wa));
    assert_non_null(wa);
    pthread_t writers[WRITERS], readers[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, reader_thread, c),
                         0);
    for (int i = 0; i < WRITERS; i++) {
        wa[i].c = c;
        wa[i].id = i;
        assert_int_equal(
            pthread_create(&writers[i], NULL, writer_thread, &wa[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(writers[i], NULL);
    const int total = WRITERS * WRITES_PER_WRITER;
    pthread_mutex_lock(&c->mu);
    while (c->completed < total)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    atomic_store(&c->stop_reading, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(readers[i], NULL);

    assert_int_equal(atomic_load(&c->submit_failures), 0);
    assert_int_equal(atomic_load(&c->read_failures), 0);
    assert_true(atomic_load(&c->reads) > 0);
    char *hit = calloc(total + 1, 1);
    assert_non_null(hit);
    for (int i = 0; i < total; i++) {
        assert_int_equal(c->errors[i], 0);
        assert_in_range(c->seqs[i], 1, total);
        assert_false(hit[c->seqs[i]]);
        hit[c->seqs[i]] = 1;
    }
    free(hit);
    assert_int_equal(cjx_store_last_seq(f->s), total);

    reopen(f);
    assert_int_equal(cjx_store_last_seq(f->s), total);
    int64_t next = 0;
    for (;;) {
        struct seen page = {0};
        assert_int_equal(
            cjx_store_read_changes(f->s, next, 64, visit_collect, &page, NULL),
            0);
        if (page.n == 0)
            break;
        for (int i = 0; i < page.n; i++)
            assert_int_equal(page.seqs[i], ++next);
    }
    assert_int_equal(next, total);
    assert_stored_body(f->s, "T7-499", "CASE", 1, "w7-499", 1);

    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(wa);
    free(c);
}

/* ---- lifecycle ---- */

static void
test_store__close_and_reopen__keeps_data(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    tw_init(&t, "CA0190000", "r2", "A1", "CASE-1", 1, "Alameda", "body-2");
    assert_int_equal(submit_wait(f->s, &t).seq, 2);
    reopen(f);
    assert_int_equal(cjx_store_last_seq(f->s), 2);
    assert_stored_body(f->s, "A1", "CASE-1", 1, "body-2", 2);
    /* The idempotency table survived too. */
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_true(r.replayed);
    assert_int_equal(r.seq, 2);
    /* And the feed continues where it was. */
    tw_init(&t, "CA0190000", "r3", "B1", "CASE-1", 1, "Alameda", "b");
    assert_int_equal(submit_wait(f->s, &t).seq, 3);
}

static void
test_store__schema_version__is_set_and_newer_is_refused(void **state)
{
    struct fixture *f = *state;
    cjx_store_close(f->s);
    f->s = NULL;

    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    assert_true(version >= 1);
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    struct cjx_store *s = (struct cjx_store *)&s;
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(cjx_store_sqlite_open(f->path, NULL, &s, &eb), CJX_ESTORE);
    assert_ptr_equal(s, (struct cjx_store *)&s);
    assert_non_null(strstr(eb.msg, "newer"));
    assert_non_null(strstr(eb.msg, f->path));

    /* Put back, it opens again. */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
    exec_sql(f->path, sql);
    reopen(f);
}

static void
test_store__bad_open_arguments__are_refused(void **state)
{
    struct fixture *f = *state;
    struct cjx_store *s = NULL;
    struct cjx_errbuf eb;
    assert_int_equal(cjx_store_sqlite_open(NULL, NULL, &s, &eb), CJX_EINVAL);
    assert_int_equal(cjx_store_sqlite_open("", NULL, &s, NULL), CJX_EINVAL);
    struct cjx_store_sqlite_options bad = {.max_batch = -1};
    assert_int_equal(cjx_store_sqlite_open(f->path, &bad, &s, &eb), CJX_EINVAL);

    char path[400];
    snprintf(path, sizeof(path), "%s/no/such/dir/cjx.db", f->dir);
    assert_int_equal(cjx_store_sqlite_open(path, NULL, &s, &eb), CJX_EIO);
    assert_non_null(strstr(eb.msg, path));
    assert_null(s);
}

static void
test_store__file_that_is_not_a_database__is_refused(void **state)
{
    struct fixture *f = *state;
    char path[400];
    snprintf(path, sizeof(path), "%s/junk.db", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database at all. ", fp);
    fclose(fp);
    struct cjx_store *s = NULL;
    struct cjx_errbuf eb;
    assert_int_equal(cjx_store_sqlite_open(path, NULL, &s, &eb), CJX_ESTORE);
    assert_null(s);
    assert_non_null(strstr(eb.msg, "not a database"));
}

static void
test_store__invalid_write__is_refused_without_callback(void **state)
{
    struct fixture *f = *state;
    struct result_box b;
    box_init(&b);
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body");
    t.w.request_id = "";
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, box_done, &b),
                     CJX_EINVAL);
    t.w.request_id = "r1";
    t.w.sender_ori = NULL;
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, box_done, &b),
                     CJX_EINVAL);
    t.w.sender_ori = "CA0190000";
    t.w.cii = "";
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, box_done, &b),
                     CJX_EINVAL);
    t.w.cii = "A1";
    t.w.record = NULL;
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, box_done, &b),
                     CJX_EINVAL);
    t.w.record = t.body;
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, NULL, NULL),
                     CJX_EINVAL);
    assert_int_equal(cjx_store_submit_record(f->s, NULL, box_done, &b),
                     CJX_EINVAL);
    /* Let any stray completion arrive before looking. */
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    assert_int_equal(b.calls, 0);
    box_fini(&b);

    /* An empty record is a record. */
    tw_init(&t, "CA0190000", "r2", "E1", "CASE-1", 1, "Alameda", "");
    t.w.record = NULL;
    assert_int_equal(submit_wait(f->s, &t).seq, 2);
    assert_stored_body(f->s, "E1", "CASE-1", 1, "", 1);
}

struct closing {
    struct cjx_store *s;
    struct gate g;
    atomic_int completions;
    int resubmit_rc;
};

static void
closing_gate_done(void *arg, const struct cjx_record_write_result *r)
{
    struct closing *c = arg;
    gate_done(&c->g, r);
    /* A completion that submits again while the store closes. */
    struct test_write t;
    tw_init(&t, "CA0190000", "again", "Z1", "CASE", 1, "Alameda", "z");
    c->resubmit_rc = cjx_store_submit_record(c->s, &t.w, gate_done, &c->g);
}

static void
closing_count_done(void *arg, const struct cjx_record_write_result *r)
{
    struct closing *c = arg;
    if (r->err == 0)
        atomic_fetch_add(&c->completions, 1);
}

static void *
close_thread(void *arg)
{
    cjx_store_close(arg);
    return NULL;
}

static void
test_store__submit_during_close__is_refused_and_queued_writes_finish(
    void **state)
{
    struct fixture *f = *state;
    struct closing *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->s = f->s;
    gate_init(&c->g);
    struct test_write t;
    tw_init(&t, "CA0190000", "first", "A1", "CASE", 1, "Alameda", "a");
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, closing_gate_done, c),
                     0);
    gate_wait_entered(&c->g);

    pthread_t closer;
    assert_int_equal(pthread_create(&closer, NULL, close_thread, f->s), 0);
    f->s = NULL;
    /* Writes queued before close starts must all complete; once it has
     * started, submit refuses. */
    int queued = 0, rc;
    for (;;) {
        char rid[32];
        snprintf(rid, sizeof(rid), "q%d", queued);
        tw_init(&t, "CA0190000", rid, rid, "CASE", 1, "Alameda", rid);
        rc = cjx_store_submit_record(c->s, &t.w, closing_count_done, c);
        if (rc != 0)
            break;
        queued++;
    }
    assert_int_equal(rc, CJX_ECLOSED);
    gate_open(&c->g);
    pthread_join(closer, NULL);
    assert_int_equal(c->resubmit_rc, CJX_ECLOSED);
    assert_int_equal(atomic_load(&c->completions), queued);

    reopen(f);
    assert_int_equal(cjx_store_last_seq(f->s), 1 + queued);
    free(c);
}

/* ---- failures inside a batch ---- */

static void
test_store__failing_write_in_batch__leaves_the_others_committed(void **state)
{
    struct fixture *f = *state;
    cjx_store_close(f->s);
    f->s = NULL;
    /* The write's last statement fails, after its record, version and
     * change rows were written: they must all go. */
    exec_sql(f->path, "CREATE TRIGGER refuse AFTER INSERT ON idempotency"
                      " WHEN NEW.request_id = 'bad'"
                      " BEGIN SELECT RAISE(ABORT, 'refused by test'); END;");
    reopen(f);

    struct gate g;
    hold_writer(f->s, &g, "fail");
    struct test_write t[3];
    tw_init(&t[0], "CA0190000", "ok1", "OK1", "CASE", 1, "Alameda", "1");
    tw_init(&t[1], "CA0190000", "bad", "FAIL", "CASE", 1, "Alameda", "2");
    tw_init(&t[2], "CA0190000", "ok2", "OK2", "CASE", 1, "Alameda", "3");
    struct result_box b[3];
    for (int i = 0; i < 3; i++) {
        box_init(&b[i]);
        assert_int_equal(
            cjx_store_submit_record(f->s, &t[i].w, box_done, &b[i]), 0);
    }
    release_writer(&g);
    for (int i = 0; i < 3; i++)
        box_wait(&b[i]);
    assert_int_equal(b[0].r.err, 0);
    assert_int_equal(b[0].r.seq, 2);
    assert_int_equal(b[1].r.err, CJX_ESTORE);
    assert_non_null(b[1].r.detail);
    assert_non_null(strstr(b[1].r.detail, "refused by test"));
    assert_int_equal(b[2].r.err, 0);
    assert_int_equal(b[2].r.seq, 3); /* the failed write used no seq */
    assert_stored_body(f->s, "OK1", "CASE", 1, "1", 1);
    assert_stored_body(f->s, "OK2", "CASE", 1, "3", 1);
    struct cjx_stored_record rec;
    assert_int_equal(cjx_store_get_record(f->s, "FAIL", "CASE", 1, &rec, NULL),
                     CJX_ENOTFOUND);
    for (int i = 0; i < 3; i++)
        box_fini(&b[i]);

    /* The failed request was not remembered: a retry runs again. */
    cjx_store_close(f->s);
    f->s = NULL;
    exec_sql(f->path, "DROP TRIGGER refuse");
    reopen(f);
    struct cjx_record_write_result r = submit_wait(f->s, &t[1]);
    assert_int_equal(r.err, 0);
    assert_false(r.replayed);
    assert_int_equal(r.seq, 4);
}

/* Makes every transaction that inserts a record with cii DOOM fail at
 * COMMIT: a deferred foreign key is only checked there. Reopens f. */
static void
doom_commits_of_records_named_doom(struct fixture *f)
{
    cjx_store_close(f->s);
    f->s = NULL;
    exec_sql(f->path,
             "CREATE TABLE t_parent (id INTEGER PRIMARY KEY);"
             "CREATE TABLE t_child (pid INTEGER REFERENCES t_parent(id)"
             " DEFERRABLE INITIALLY DEFERRED);"
             "CREATE TRIGGER doom AFTER INSERT ON records"
             " WHEN NEW.cii = 'DOOM'"
             " BEGIN INSERT INTO t_child VALUES (42); END;");
    reopen(f);
}

/* What the outcome hook saw, in order. */
struct outcome_log {
    pthread_mutex_t mu;
    int n;
    int committed[8];
    char detail[8][160];
};

static void
outcome_record(void *arg, int committed, const char *detail)
{
    struct outcome_log *log = arg;
    pthread_mutex_lock(&log->mu);
    if (log->n < 8) {
        log->committed[log->n] = committed;
        snprintf(log->detail[log->n], sizeof(log->detail[0]), "%s",
                 detail != NULL ? detail : "");
        log->n++;
    }
    pthread_mutex_unlock(&log->mu);
}

static void
test_store__outcome_hook__tells_a_failed_commit_then_a_good_one(void **state)
{
    struct fixture *f = *state;
    doom_commits_of_records_named_doom(f);
    struct outcome_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
    cjx_store_set_outcome_hook(f->s, outcome_record, &log);
    struct test_write doom, good;
    tw_init(&doom, "CA0190000", "doom", "DOOM", "CASE", 1, "Alameda", "1");
    tw_init(&good, "CA0190000", "good", "GOOD", "CASE", 1, "Alameda", "2");

    /* The hook runs before the completion: once the write is answered,
     * the hook has told of its transaction. */
    assert_int_equal(submit_wait(f->s, &doom).err, CJX_ESTORE);
    pthread_mutex_lock(&log.mu);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.committed[0], 0);
    assert_non_null(strstr(log.detail[0], "FOREIGN KEY"));
    pthread_mutex_unlock(&log.mu);

    assert_int_equal(submit_wait(f->s, &good).err, 0);
    pthread_mutex_lock(&log.mu);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.committed[1], 1);
    assert_string_equal(log.detail[1], "");
    pthread_mutex_unlock(&log.mu);

    /* Removed, it tells nothing more. */
    cjx_store_set_outcome_hook(f->s, NULL, NULL);
    good.w.request_id = "good-again";
    assert_int_equal(submit_wait(f->s, &good).err, 0);
    pthread_mutex_lock(&log.mu);
    assert_int_equal(log.n, 2);
    pthread_mutex_unlock(&log.mu);
}

static void
test_store__commit_failure__fails_every_write_in_the_batch(void **state)
{
    struct fixture *f = *state;
    doom_commits_of_records_named_doom(f);
    struct hook_log hook = {0};
    cjx_store_set_commit_hook(f->s, hook_record, &hook);

    struct gate g;
    hold_writer(f->s, &g, "doom");
    struct table_counts before = snapshot(f);
    struct test_write t[3];
    tw_init(&t[0], "CA0190000", "ok1", "OK1", "CASE", 1, "Alameda", "1");
    tw_init(&t[1], "CA0190000", "doom", "DOOM", "CASE", 1, "Alameda", "2");
    tw_init(&t[2], "CA0190000", "ok2", "OK2", "CASE", 1, "Alameda", "3");
    struct result_box b[3];
    for (int i = 0; i < 3; i++) {
        box_init(&b[i]);
        assert_int_equal(
            cjx_store_submit_record(f->s, &t[i].w, box_done, &b[i]), 0);
    }
    release_writer(&g);
    for (int i = 0; i < 3; i++) {
        box_wait(&b[i]);
        assert_int_equal(b[i].r.err, CJX_ESTORE);
        assert_int_equal(b[i].r.seq, 0);
        assert_non_null(strstr(b[i].r.detail, "FOREIGN KEY"));
        box_fini(&b[i]);
    }
    assert_same_counts(before, snapshot(f));
    assert_int_equal(atomic_load(&hook.calls), 1); /* the gate write only */

    /* The writer recovered: the good writes go through on retry. */
    assert_int_equal(submit_wait(f->s, &t[0]).seq, before.last_seq + 1);
    assert_int_equal(submit_wait(f->s, &t[2]).seq, before.last_seq + 2);
    assert_int_equal(submit_wait(f->s, &t[1]).err, CJX_ESTORE);
}

/* ---- acknowledged means durable ---- */

#define CRASH_WRITES     20000
#define CRASH_KILL_AFTER 300

struct crash_slot {
    int fd;
    int id;
};

static void
crash_ack(void *arg, const struct cjx_record_write_result *r)
{
    struct crash_slot *slot = arg;
    if (r->err != 0)
        return;
    char line[32];
    int n = snprintf(line, sizeof(line), "%d\n", slot->id);
    /* Shorter than PIPE_BUF, so each line arrives whole. */
    if (write(slot->fd, line, (size_t)n) != n)
        _exit(3);
}

static void
crash_child(const char *path, int fd)
{
    struct cjx_store *s;
    if (cjx_store_sqlite_open(path, NULL, &s, NULL) != 0)
        _exit(2);
    struct crash_slot *slots = calloc(CRASH_WRITES, sizeof(*slots));
    if (slots == NULL)
        _exit(2);
    for (int i = 0; i < CRASH_WRITES; i++) {
        struct test_write t;
        char rid[32];
        snprintf(rid, sizeof(rid), "crash-%d", i);
        tw_init(&t, "CA0190000", rid, rid, "CASE", 1, "Alameda", rid);
        slots[i].fd = fd;
        slots[i].id = i;
        if (cjx_store_submit_record(s, &t.w, crash_ack, &slots[i]) != 0)
            _exit(2);
    }
    cjx_store_close(s);
    _exit(0);
}

static void
test_store__kill_after_ack__acknowledged_writes_survive(void **state)
{
    struct fixture *f = *state;
    cjx_store_close(f->s);
    f->s = NULL;

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        crash_child(f->path, fds[1]);
    }
    close(fds[1]);

    char *acked = calloc(CRASH_WRITES, 1);
    assert_non_null(acked);
    int n_acked = 0, killed = 0, cur = 0;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                cur = cur * 10 + (buf[i] - '0');
                continue;
            }
            assert_in_range(cur, 0, CRASH_WRITES - 1);
            acked[cur] = 1;
            n_acked++;
            cur = 0;
        }
        if (!killed && n_acked >= CRASH_KILL_AFTER) {
            kill(pid, SIGKILL);
            killed = 1;
        }
    }
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* Killed, or (on a machine fast enough to finish first) a clean exit;
     * never a failure of its own. */
    assert_true(WIFSIGNALED(status) ||
                (WIFEXITED(status) && WEXITSTATUS(status) == 0));
    assert_true(n_acked >= CRASH_KILL_AFTER);

    reopen(f);
    for (int i = 0; i < CRASH_WRITES; i++) {
        if (!acked[i])
            continue;
        char rid[32];
        snprintf(rid, sizeof(rid), "crash-%d", i);
        struct cjx_stored_record rec;
        struct cjx_errbuf eb;
        int rc = cjx_store_get_record(f->s, rid, "CASE", 1, &rec, &eb);
        if (rc != 0)
            fail_msg("acknowledged write %s lost: %s", rid, eb.msg);
        cjx_stored_record_fini(f->s, &rec);
    }
    /* Spot-check that the request ids survived with the records. */
    for (int i = 0; i < CRASH_WRITES; i += CRASH_WRITES / 10) {
        if (!acked[i])
            continue;
        struct test_write t;
        char rid[32];
        snprintf(rid, sizeof(rid), "crash-%d", i);
        tw_init(&t, "CA0190000", rid, rid, "CASE", 1, "Alameda", rid);
        assert_true(submit_wait(f->s, &t).replayed);
    }
    /* The feed has no holes after recovery. */
    int64_t last = cjx_store_last_seq(f->s);
    assert_true(last >= n_acked);
    assert_int_equal(count_rows(f->path, "changes"), last);
    free(acked);
}

/* ---- the audit log ---- */

#define DOJ_ORI "CA0000001"

static char certs[128]; /* made on first use, removed by main */

static const char *
test_certs(void)
{
    if (certs[0] != '\0')
        return certs;
    snprintf(certs, sizeof(certs), "/tmp/cjx-store-certs-XXXXXX");
    if (mkdtemp(certs) == NULL)
        fail_msg("mkdtemp");
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s/certs/make-dev-certs.sh %s >/dev/null",
             CJX_SOURCE_DIR, certs);
    if (system(cmd) != 0)
        fail_msg("cannot make test certificates");
    return certs;
}

static char *
cert_text(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", test_certs(), name);
    char *pem;
    size_t len;
    struct cjx_errbuf eb;
    if (cjx_tls_read_pem(path, 0, &pem, &len, &eb) != 0)
        fail_msg("%s", eb.msg);
    return pem;
}

/* Reopens the fixture's store with DOJ's key signing checkpoints. */
static void
reopen_signed(struct fixture *f, int every_entries, int every_seconds)
{
    char *key = cert_text("doj.key"), *cert = cert_text("doj.pem");
    struct cjx_store_sqlite_options o = {
        .audit_key_pem = key,
        .audit_cert_pem = cert,
        .audit_checkpoint_entries = every_entries,
        .audit_checkpoint_seconds = every_seconds};
    struct cjx_errbuf eb;
    cjx_store_close(f->s);
    f->s = NULL;
    if (test_backend_open(f->path, &o, &f->s, &eb) != 0)
        fail_msg("open: %s", eb.msg);
    cjx_tls_free_pem(key, strlen(key));
    free(cert);
}

static struct cjx_audit_event
test_event(const char *method, const char *cii)
{
    struct cjx_audit_event ev = {.type = CJX_AUDIT_CALL,
                                 .agency_ori = "CA038033J",
                                 .cert_fingerprint = "00ff",
                                 .peer = "ipv4:127.0.0.1:1234",
                                 .method = method,
                                 .cii = cii,
                                 .bytes_in = 10,
                                 .bytes_out = 20};
    return ev;
}

static struct cjx_record_write_result
append_wait(struct cjx_store *s, const struct cjx_audit_event *ev)
{
    struct result_box b;
    box_init(&b);
    assert_int_equal(cjx_store_append_audit(s, ev, box_done, &b), 0);
    box_wait(&b);
    struct cjx_record_write_result r = b.r;
    r.detail = NULL;
    box_fini(&b);
    return r;
}

/* Everything the audit tables hold, in seq order. */
struct audit_item {
    int64_t seq;
    uint8_t *body;
    size_t len;
    uint8_t hash[CJX_AUDIT_HASH_LEN];
    size_t hash_len;
};

struct audit_list {
    struct audit_item *v;
    int n, cap;
};

static int
collect_audit(void *arg, const struct cjx_stored_audit *a)
{
    struct audit_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, (size_t)l->cap * sizeof(*l->v));
        assert_non_null(l->v);
    }
    struct audit_item *it = &l->v[l->n++];
    it->seq = a->seq;
    it->len = a->body_len;
    it->body = malloc(a->body_len ? a->body_len : 1);
    memcpy(it->body, a->body, a->body_len);
    it->hash_len = a->hash != NULL ? a->hash_len : 0;
    if (it->hash_len > 0)
        memcpy(it->hash, a->hash,
               it->hash_len < CJX_AUDIT_HASH_LEN ? it->hash_len
                                                 : CJX_AUDIT_HASH_LEN);
    return 0;
}

static void
read_all_audit(struct cjx_store *s, struct audit_list *entries,
               struct audit_list *checkpoints)
{
    memset(entries, 0, sizeof(*entries));
    memset(checkpoints, 0, sizeof(*checkpoints));
    int64_t after = 0;
    for (;;) {
        int before = entries->n;
        assert_int_equal(
            cjx_store_read_audit(s, after, 100, collect_audit, entries, NULL),
            0);
        if (entries->n == before)
            break;
        after = entries->v[entries->n - 1].seq;
    }
    after = 0;
    for (;;) {
        int before = checkpoints->n;
        assert_int_equal(cjx_store_read_audit_checkpoints(
                             s, after, 100, collect_audit, checkpoints, NULL),
                         0);
        if (checkpoints->n == before)
            break;
        after = checkpoints->v[checkpoints->n - 1].seq;
    }
}

static void
free_audit(struct audit_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i].body);
    free(l->v);
}

/* Verifies the whole log as the audit service does: entries and the
 * checkpoints that sign them, merged in seq order. */
static struct cjx_audit_report
verify_store(struct cjx_store *s)
{
    struct audit_list e, c;
    read_all_audit(s, &e, &c);
    char *ca = cert_text("ca.pem");
    struct cjx_audit_trust t = {ca, "cjx.example", DOJ_ORI};
    struct cjx_audit_verifier *v;
    assert_int_equal(cjx_audit_verifier_new(&t, &v, NULL), 0);
    int i = 0, j = 0;
    while (i < e.n || j < c.n) {
        if (j < c.n && (i == e.n || c.v[j].seq < e.v[i].seq)) {
            cjx_audit_verifier_checkpoint(v, c.v[j].seq, c.v[j].body,
                                          c.v[j].len);
            j++;
        } else {
            cjx_audit_verifier_entry(v, e.v[i].seq, e.v[i].body, e.v[i].len,
                                     e.v[i].hash, e.v[i].hash_len);
            i++;
        }
    }
    struct cjx_audit_report r;
    cjx_audit_verifier_finish(v, &r);
    cjx_audit_verifier_free(v);
    free(ca);
    free_audit(&e);
    free_audit(&c);
    return r;
}

static Cjx__V1__AuditEntry *
audit_entry(struct cjx_store *s, int64_t seq)
{
    struct audit_list l = {0};
    assert_int_equal(
        cjx_store_read_audit(s, seq - 1, 1, collect_audit, &l, NULL), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].seq, seq);
    Cjx__V1__AuditEntry *e =
        cjx__v1__audit_entry__unpack(NULL, l.v[0].len, l.v[0].body);
    assert_non_null(e);
    free_audit(&l);
    return e;
}

static int64_t
checkpoint_seqs(struct cjx_store *s, int64_t *out, int max)
{
    struct audit_list l = {0};
    assert_int_equal(
        cjx_store_read_audit_checkpoints(s, 0, 1000, collect_audit, &l, NULL),
        0);
    int n = l.n < max ? l.n : max;
    for (int i = 0; i < n; i++)
        out[i] = l.v[i].seq;
    int total = l.n;
    free_audit(&l);
    return total;
}

/* The seq of the newest checkpoint, 0 without one. */
static int64_t
last_checkpoint_seq(struct cjx_store *s)
{
    struct audit_list l = {0};
    assert_int_equal(
        cjx_store_read_last_audit_checkpoint(s, collect_audit, &l, NULL), 0);
    assert_true(l.n <= 1);
    int64_t seq = l.n == 1 ? l.v[0].seq : 0;
    free_audit(&l);
    return seq;
}

static void
test_store__audit_append__numbers_entries_and_chains_them(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(cjx_store_last_audit_seq(f->s), 0);
    for (int i = 1; i <= 5; i++) {
        struct cjx_audit_event ev =
            test_event("/cjx.v1.RecordService/GetRecord", "A1");
        ev.count_number = i;
        struct cjx_record_write_result r = append_wait(f->s, &ev);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.audit_seq, i);
    }
    assert_int_equal(cjx_store_last_audit_seq(f->s), 5);
    struct audit_list e, c;
    read_all_audit(f->s, &e, &c);
    assert_int_equal(e.n, 5);
    assert_int_equal(c.n, 0); /* no key: never signed */
    uint8_t prev[CJX_AUDIT_HASH_LEN] = {0};
    for (int i = 0; i < 5; i++) {
        uint8_t h[CJX_AUDIT_HASH_LEN];
        assert_int_equal(cjx_audit_hash(e.v[i].body, e.v[i].len, h), 0);
        assert_int_equal(e.v[i].hash_len, CJX_AUDIT_HASH_LEN);
        assert_memory_equal(h, e.v[i].hash, CJX_AUDIT_HASH_LEN);
        Cjx__V1__AuditEntry *en =
            cjx__v1__audit_entry__unpack(NULL, e.v[i].len, e.v[i].body);
        assert_int_equal(en->seq, i + 1);
        assert_int_equal(en->count_number, i + 1);
        assert_string_equal(en->method, "/cjx.v1.RecordService/GetRecord");
        assert_string_equal(en->peer, "ipv4:127.0.0.1:1234");
        assert_true(en->time_unix_us > 0);
        assert_memory_equal(en->prev_hash.data, prev, CJX_AUDIT_HASH_LEN);
        memcpy(prev, h, CJX_AUDIT_HASH_LEN);
        cjx__v1__audit_entry__free_unpacked(en, NULL);
    }
    free_audit(&e);
    free_audit(&c);
    struct cjx_audit_report r = verify_store(f->s);
    assert_true(r.ok);
    assert_int_equal(r.entries, 5);

    /* The chain goes on after a reopen. */
    reopen(f);
    assert_int_equal(cjx_store_last_audit_seq(f->s), 5);
    struct cjx_audit_event ev = test_event("/x/y", NULL);
    assert_int_equal(append_wait(f->s, &ev).audit_seq, 6);
    r = verify_store(f->s);
    assert_true(r.ok);
    assert_int_equal(r.entries, 6);
}

static void
test_store__audit_append_without_callback__is_committed(void **state)
{
    struct fixture *f = *state;
    struct cjx_audit_event ev =
        test_event("/cjx.v1.RecordService/GetRecord", "A1");
    for (int i = 0; i < 100; i++)
        assert_int_equal(cjx_store_append_audit(f->s, &ev, NULL, NULL), 0);
    reopen(f); /* close completes every queued write */
    assert_int_equal(cjx_store_last_audit_seq(f->s), 100);
    assert_int_equal(count_rows(f->path, "audit"), 100);
}

static void
test_store__write_with_event__records_what_the_write_did(void **state)
{
    struct fixture *f = *state;
    struct cjx_audit_event ev =
        test_event("/cjx.v1.RecordService/SubmitRecord", "A1");
    ev.request_id = "r1";
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    t.w.audit = &ev;
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.audit_seq, 1);
    Cjx__V1__AuditEntry *e = audit_entry(f->s, 1);
    assert_int_equal(e->type,
                     CJX__V1__AUDIT_EVENT_TYPE__AUDIT_EVENT_TYPE_STATE_CHANGE);
    assert_int_equal(e->outcome_code, 0);
    assert_int_equal(e->change_seq, 1);
    assert_int_equal(e->record_version, 1);
    assert_string_equal(e->request_id, "r1");
    assert_string_equal(e->cii, "A1");
    cjx__v1__audit_entry__free_unpacked(e, NULL);

    /* A replay changes nothing: a CALL saying so. */
    r = submit_wait(f->s, &t);
    assert_true(r.replayed);
    assert_int_equal(r.audit_seq, 2);
    e = audit_entry(f->s, 2);
    assert_int_equal(e->type, CJX__V1__AUDIT_EVENT_TYPE__AUDIT_EVENT_TYPE_CALL);
    assert_int_equal(e->change_seq, 1);
    assert_non_null(strstr(e->outcome_message, "replay"));
    cjx__v1__audit_entry__free_unpacked(e, NULL);

    /* A conflict is ALREADY_EXISTS. */
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "other");
    t.w.audit = &ev;
    r = submit_wait(f->s, &t);
    assert_int_equal(r.err, CJX_ECONFLICT);
    assert_int_equal(r.audit_seq, 3);
    e = audit_entry(f->s, 3);
    assert_int_equal(e->outcome_code, 6);
    assert_int_equal(e->type, CJX__V1__AUDIT_EVENT_TYPE__AUDIT_EVENT_TYPE_CALL);
    cjx__v1__audit_entry__free_unpacked(e, NULL);

    /* The same record under a new id: unchanged. */
    tw_init(&t, "CA0190000", "r2", "A1", "CASE-1", 1, "Alameda", "body-1");
    t.w.audit = &ev;
    r = submit_wait(f->s, &t);
    assert_true(r.unchanged);
    e = audit_entry(f->s, r.audit_seq);
    assert_int_equal(e->type, CJX__V1__AUDIT_EVENT_TYPE__AUDIT_EVENT_TYPE_CALL);
    assert_non_null(strstr(e->outcome_message, "unchanged"));
    cjx__v1__audit_entry__free_unpacked(e, NULL);

    /* Without an event, a write records none. */
    tw_init(&t, "CA0190000", "r3", "B1", "CASE-1", 1, "Alameda", "b");
    r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.audit_seq, 0);
    assert_int_equal(cjx_store_last_audit_seq(f->s), 4);
}

static void
test_store__failing_write__takes_its_event_with_it(void **state)
{
    struct fixture *f = *state;
    cjx_store_close(f->s);
    f->s = NULL;
    exec_sql(f->path, "CREATE TRIGGER refuse AFTER INSERT ON idempotency"
                      " WHEN NEW.request_id = 'bad'"
                      " BEGIN SELECT RAISE(ABORT, 'refused by test'); END;");
    reopen(f);
    struct cjx_audit_event ev =
        test_event("/cjx.v1.RecordService/SubmitRecord", "X");
    struct test_write t[3];
    tw_init(&t[0], "CA0190000", "ok1", "OK1", "CASE", 1, "Alameda", "1");
    tw_init(&t[1], "CA0190000", "bad", "FAIL", "CASE", 1, "Alameda", "2");
    tw_init(&t[2], "CA0190000", "ok2", "OK2", "CASE", 1, "Alameda", "3");
    struct result_box b[3];
    for (int i = 0; i < 3; i++) {
        t[i].w.audit = &ev;
        box_init(&b[i]);
        assert_int_equal(
            cjx_store_submit_record(f->s, &t[i].w, box_done, &b[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        box_wait(&b[i]);
    assert_int_equal(b[0].r.audit_seq, 1);
    assert_int_equal(b[1].r.err, CJX_ESTORE);
    assert_int_equal(b[1].r.audit_seq, 0);
    assert_int_equal(b[2].r.audit_seq, 2); /* the failed write used no seq */
    for (int i = 0; i < 3; i++)
        box_fini(&b[i]);
    assert_int_equal(count_rows(f->path, "audit"), 2);
    struct cjx_audit_report r = verify_store(f->s);
    assert_true(r.ok);
}

static void
test_store__failed_commit__leaves_the_chain_where_it_was(void **state)
{
    struct fixture *f = *state;
    cjx_store_close(f->s);
    f->s = NULL;
    exec_sql(f->path,
             "CREATE TABLE t_parent (id INTEGER PRIMARY KEY);"
             "CREATE TABLE t_child (pid INTEGER REFERENCES t_parent(id)"
             " DEFERRABLE INITIALLY DEFERRED);"
             "CREATE TRIGGER doom AFTER INSERT ON records"
             " WHEN NEW.cii = 'DOOM'"
             " BEGIN INSERT INTO t_child VALUES (42); END;");
    reopen(f);
    struct cjx_audit_event ev = test_event("/x/y", NULL);
    assert_int_equal(append_wait(f->s, &ev).audit_seq, 1);
    struct test_write t;
    tw_init(&t, "CA0190000", "doom", "DOOM", "CASE", 1, "Alameda", "2");
    t.w.audit = &ev;
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, CJX_ESTORE);
    assert_int_equal(r.audit_seq, 0);
    assert_int_equal(append_wait(f->s, &ev).audit_seq, 2);
    struct cjx_audit_report rep = verify_store(f->s);
    assert_true(rep.ok);
    assert_int_equal(rep.entries, 2);
}

static void
test_store__checkpoints__every_n_entries_and_at_close(void **state)
{
    struct fixture *f = *state;
    reopen_signed(f, 5, 3600);
    struct cjx_audit_event ev = test_event("/x/y", NULL);
    for (int i = 0; i < 12; i++)
        assert_int_equal(cjx_store_append_audit(f->s, &ev, NULL, NULL), 0);
    assert_int_equal(append_wait(f->s, &ev).audit_seq, 13);
    int64_t seqs[8];
    assert_int_equal(checkpoint_seqs(f->s, seqs, 8), 2);
    assert_int_equal(seqs[0], 5);
    assert_int_equal(seqs[1], 10);
    assert_int_equal(last_checkpoint_seq(f->s), 10);
    reopen(f); /* closing signs the three unsigned entries */
    assert_int_equal(checkpoint_seqs(f->s, seqs, 8), 3);
    assert_int_equal(seqs[2], 13);
    assert_int_equal(last_checkpoint_seq(f->s), 13);
    struct cjx_audit_report r = verify_store(f->s);
    if (!r.ok)
        fail_msg("%s", r.reason);
    assert_int_equal(r.checkpoints, 3);
    assert_int_equal(r.last_checkpoint_seq, 13);

    /* A checkpoint's content: the entry's hash, the interval, the signer. */
    struct audit_list e, c;
    read_all_audit(f->s, &e, &c);
    Cjx__V1__AuditCheckpoint *cp =
        cjx__v1__audit_checkpoint__unpack(NULL, c.v[0].len, c.v[0].body);
    assert_non_null(cp);
    assert_int_equal(cp->seq, 5);
    assert_memory_equal(cp->entry_hash.data, e.v[4].hash, CJX_AUDIT_HASH_LEN);
    assert_int_equal(cp->interval_entries, 5);
    assert_non_null(strstr(cp->signer_cert_pem, "BEGIN CERTIFICATE"));
    assert_true(cp->signature.len > 0);
    cjx__v1__audit_checkpoint__free_unpacked(cp, NULL);
    free_audit(&e);
    free_audit(&c);
}

static _Atomic int64_t fake_us;

static int64_t
fake_clock(void)
{
    return atomic_load(&fake_us);
}

static void
test_store__checkpoint__due_by_time_in_the_next_write(void **state)
{
    struct fixture *f = *state;
    cjx_store_close(f->s);
    f->s = NULL;
    /* Now, so that the certificate is valid when the checkpoint is made. */
    atomic_store(&fake_us, cjx_clock_now_us());
    cjx_clock_set_source(fake_clock);
    reopen_signed(f, 1000, 60);
    struct cjx_audit_event ev = test_event("/x/y", NULL);
    assert_int_equal(append_wait(f->s, &ev).audit_seq, 1);
    int64_t seqs[4];
    assert_int_equal(checkpoint_seqs(f->s, seqs, 4), 0);
    assert_int_equal(last_checkpoint_seq(f->s), 0); /* none yet */
    atomic_fetch_add(&fake_us, 59 * 1000000LL);
    assert_int_equal(append_wait(f->s, &ev).audit_seq, 2);
    assert_int_equal(checkpoint_seqs(f->s, seqs, 4), 0);
    atomic_fetch_add(&fake_us, 2 * 1000000LL);
    assert_int_equal(append_wait(f->s, &ev).audit_seq, 3);
    assert_int_equal(checkpoint_seqs(f->s, seqs, 4), 1);
    assert_int_equal(seqs[0], 3);
    cjx_store_close(f->s);
    f->s = NULL;
    cjx_clock_set_source(NULL);
    reopen(f);
}

static void
test_store__checkpoint__made_on_an_idle_store(void **state)
{
    struct fixture *f = *state;
    reopen_signed(f, 1000, 1);
    struct cjx_audit_event ev = test_event("/x/y", NULL);
    assert_int_equal(append_wait(f->s, &ev).audit_seq, 1);
    int64_t seqs[4];
    int found = 0;
    /* Nothing else is written: the writer must wake up by itself. */
    for (int i = 0; i < 200 && !found; i++) {
        found = checkpoint_seqs(f->s, seqs, 4) == 1;
        if (!found)
            usleep(50 * 1000);
    }
    assert_true(found);
    assert_int_equal(seqs[0], 1);
}

static void
test_store__audit_key_not_matching_cert__is_refused_at_open(void **state)
{
    struct fixture *f = *state;
    char *key = cert_text("doj.key"), *cert = cert_text("sf-da.pem");
    struct cjx_store_sqlite_options o = {.audit_key_pem = key,
                                         .audit_cert_pem = cert};
    struct cjx_store *s = NULL;
    struct cjx_errbuf eb;
    assert_int_equal(test_backend_open(f->path, &o, &s, &eb), CJX_ETLS);
    assert_null(s);
    assert_non_null(strstr(eb.msg, "does not belong"));
    o.audit_cert_pem = NULL;
    assert_int_equal(test_backend_open(f->path, &o, &s, &eb), CJX_EINVAL);
    o = (struct cjx_store_sqlite_options){.audit_checkpoint_entries = -1};
    assert_int_equal(test_backend_open(f->path, &o, &s, &eb), CJX_EINVAL);
    assert_int_equal(cjx_store_set_audit_signer(f->s, key, cert, &eb),
                     CJX_ETLS);
    assert_int_equal(cjx_store_set_audit_signer(f->s, key, NULL, &eb),
                     CJX_EINVAL);
    cjx_tls_free_pem(key, strlen(key));
    free(cert);
}

static void
test_store__entries_removed_from_the_end__numbering_continues_after(
    void **state)
{
    struct fixture *f = *state;
    reopen_signed(f, 5, 3600);
    struct cjx_audit_event ev = test_event("/x/y", NULL);
    for (int i = 0; i < 10; i++)
        append_wait(f->s, &ev);
    cjx_store_close(f->s);
    f->s = NULL;
    exec_sql(f->path, "DELETE FROM audit WHERE seq > 7");
    reopen_signed(f, 5, 3600);
    /* The new entry does not take a seq the checkpoint at 10 signed. */
    assert_int_equal(append_wait(f->s, &ev).audit_seq, 11);
    struct cjx_audit_report r = verify_store(f->s);
    assert_false(r.ok);
    assert_int_equal(r.first_bad_seq, 8);
    assert_non_null(strstr(r.reason, "entries 8 to 10 are missing"));
}

static void
test_store__audit_hook__fires_with_the_newest_entry(void **state)
{
    struct fixture *f = *state;
    struct hook_log hook = {0}, feed = {0};
    cjx_store_set_audit_hook(f->s, hook_record, &hook);
    cjx_store_set_commit_hook(f->s, hook_record, &feed);
    struct cjx_audit_event ev = test_event("/x/y", NULL);
    append_wait(f->s, &ev);
    assert_int_equal(atomic_load(&hook.calls), 1);
    assert_int_equal(atomic_load(&hook.last), 1);
    /* An audit entry alone does not move the change feed. */
    assert_int_equal(atomic_load(&feed.calls), 0);
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    submit_wait(f->s, &t); /* no event: the log does not move */
    assert_int_equal(atomic_load(&hook.calls), 1);
    assert_int_equal(atomic_load(&feed.calls), 1);
    cjx_store_set_audit_hook(f->s, NULL, NULL);
    append_wait(f->s, &ev);
    assert_int_equal(atomic_load(&hook.calls), 1);
    cjx_store_set_commit_hook(f->s, NULL, NULL);
}

static void
test_store__audit_signer_set_later__signs_from_then_on(void **state)
{
    struct fixture *f = *state;
    struct cjx_audit_event ev = test_event("/x/y", NULL);
    for (int i = 0; i < 3; i++)
        append_wait(f->s, &ev);
    char *key = cert_text("doj.key"), *cert = cert_text("doj.pem");
    assert_int_equal(cjx_store_set_audit_signer(f->s, key, cert, NULL), 0);
    cjx_tls_free_pem(key, strlen(key));
    free(cert);
    reopen(f);
    int64_t seqs[4];
    assert_int_equal(checkpoint_seqs(f->s, seqs, 4), 1);
    assert_int_equal(seqs[0], 3);
    assert_true(verify_store(f->s).ok);
    /* Removing the signer stops signing. */
    reopen_signed(f, 1000, 3600);
    assert_int_equal(cjx_store_set_audit_signer(f->s, NULL, NULL, NULL), 0);
    append_wait(f->s, &ev);
    reopen(f);
    assert_int_equal(checkpoint_seqs(f->s, seqs, 4), 1);
}

#define AUDIT_THREADS    4
#define AUDIT_PER_THREAD 500

static void *
audit_thread(void *arg)
{
    struct cjx_store *s = arg;
    for (int i = 0; i < AUDIT_PER_THREAD; i++) {
        struct cjx_audit_event ev =
            test_event("/cjx.v1.RecordService/GetRecord", "A1");
        ev.count_number = i;
        if (cjx_store_append_audit(s, &ev, NULL, NULL) != 0)
            fail_msg("append failed");
    }
    return NULL;
}

static void
test_store__concurrent_entries_and_writes__one_unbroken_chain(void **state)
{
    struct fixture *f = *state;
    reopen_signed(f, 100, 3600);
    pthread_t th[AUDIT_THREADS];
    for (int i = 0; i < AUDIT_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, audit_thread, f->s), 0);
    struct cjx_audit_event ev =
        test_event("/cjx.v1.RecordService/SubmitRecord", NULL);
    for (int i = 0; i < 200; i++) {
        struct test_write t;
        char rid[32];
        snprintf(rid, sizeof(rid), "cw-%d", i);
        tw_init(&t, "CA0190000", rid, rid, "CASE", 1, "Alameda", rid);
        t.w.audit = &ev;
        assert_int_equal(submit_wait(f->s, &t).err, 0);
    }
    for (int i = 0; i < AUDIT_THREADS; i++)
        pthread_join(th[i], NULL);
    reopen(f);
    const int total = AUDIT_THREADS * AUDIT_PER_THREAD + 200;
    assert_int_equal(cjx_store_last_audit_seq(f->s), total);
    struct cjx_audit_report r = verify_store(f->s);
    if (!r.ok)
        fail_msg("%s", r.reason);
    assert_int_equal(r.entries, total);
    assert_int_equal(r.last_checkpoint_seq, total);
    assert_int_equal(r.checkpoints, total / 100);
}

static int
never_visit(void *arg, const struct cjx_stored_audit *a)
{
    (void)arg;
    (void)a;
    fail_msg("visited");
    return 1;
}

static void
test_store__bad_audit_arguments__are_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(cjx_store_append_audit(f->s, NULL, NULL, NULL),
                     CJX_EINVAL);
    assert_int_equal(
        cjx_store_read_audit(f->s, -1, 10, never_visit, NULL, NULL),
        CJX_EINVAL);
    assert_int_equal(cjx_store_read_audit(f->s, 0, 0, never_visit, NULL, NULL),
                     CJX_EINVAL);
    assert_int_equal(
        cjx_store_read_audit_checkpoints(f->s, 0, 10, NULL, NULL, NULL),
        CJX_EINVAL);
    /* An empty log visits nothing. */
    assert_int_equal(cjx_store_read_audit(f->s, 0, 10, never_visit, NULL, NULL),
                     0);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    /* Both backends. */
    const struct CMUnitTest tests[] = {
        T(test_store__new_record__gets_version_1_and_seq_1),
        T(test_store__get_record__returns_every_field),
        T(test_store__changed_resubmission__bumps_version_and_seq),
        T(test_store__identical_resubmission__is_unchanged_without_a_change),
        T(test_store__repeated_request_id__returns_first_answer),
        T(test_store__same_request_id_different_digest__conflicts),
        T(test_store__different_senders__may_reuse_a_request_id),
        T(test_store__missing_key__is_not_found),
        T(test_store__list_by_filter__pages_without_repeats_or_gaps),
        T(test_store__list_stopped_by_visitor__resumes_at_the_row_it_stopped_at),
        T(test_store__bad_list_arguments__are_refused),
        T(test_store__read_changes__resumes_after_any_seq),
        T(test_store__commit_hook__fires_with_the_new_seq),
        T(test_store__concurrent_submitters__all_complete_with_dense_seqs),
        T(test_store__close_and_reopen__keeps_data),
        T(test_store__invalid_write__is_refused_without_callback),
        T(test_store__submit_during_close__is_refused_and_queued_writes_finish),
        T(test_store__audit_append__numbers_entries_and_chains_them),
        T(test_store__audit_append_without_callback__is_committed),
        T(test_store__write_with_event__records_what_the_write_did),
        T(test_store__checkpoints__every_n_entries_and_at_close),
        T(test_store__checkpoint__due_by_time_in_the_next_write),
        T(test_store__checkpoint__made_on_an_idle_store),
        T(test_store__audit_key_not_matching_cert__is_refused_at_open),
        T(test_store__entries_removed_from_the_end__numbering_continues_after),
        T(test_store__audit_hook__fires_with_the_newest_entry),
        T(test_store__audit_signer_set_later__signs_from_then_on),
        T(test_store__concurrent_entries_and_writes__one_unbroken_chain),
        T(test_store__bad_audit_arguments__are_refused),
    };
    /* SQLite's own. */
    const struct CMUnitTest sqlite_tests[] = {
        T(test_store__same_request_id_twice_in_one_batch__behaves_sequentially),
        T(test_store__schema_version__is_set_and_newer_is_refused),
        T(test_store__bad_open_arguments__are_refused),
        T(test_store__file_that_is_not_a_database__is_refused),
        T(test_store__failing_write_in_batch__leaves_the_others_committed),
        T(test_store__commit_failure__fails_every_write_in_the_batch),
        T(test_store__outcome_hook__tells_a_failed_commit_then_a_good_one),
        T(test_store__kill_after_ack__acknowledged_writes_survive),
        T(test_store__failing_write__takes_its_event_with_it),
        T(test_store__failed_commit__leaves_the_chain_where_it_was),
    };
#undef T
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (!test_backend_is_pg())
        failed += cmocka_run_group_tests(sqlite_tests, NULL, NULL);
    if (certs[0] != '\0') {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", certs);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", certs);
    }
    return failed;
}
