/* What the store's unit tests share: the fixture, writes, completions, the
 * gate, and direct looks at the database (store_fixture.h). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store_backend.h"
#include "store_fixture.h"

/* ---- fixture: a fresh directory and an open store per test ---- */

int
store_setup(void **state)
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

int
store_teardown(void **state)
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

void
reopen_with(struct fixture *f, const struct cjx_store_sqlite_options *o)
{
    struct cjx_errbuf eb = {{0}};
    cjx_store_close(f->s);
    f->s = NULL;
    if (test_backend_open(f->path, o, &f->s, &eb) != 0)
        fail_msg("reopen: %s", eb.msg);
}

void
reopen(struct fixture *f)
{
    reopen_with(f, NULL);
}

/* ---- building writes ---- */

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

void
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

void
tw_around(struct test_write t[3], const char *rid, const char *cii)
{
    tw_init(&t[0], "CA0190000", "ok1", "OK1", "CASE", 1, "Alameda", "1");
    tw_init(&t[1], "CA0190000", rid, cii, "CASE", 1, "Alameda", "2");
    tw_init(&t[2], "CA0190000", "ok2", "OK2", "CASE", 1, "Alameda", "3");
}

/* ---- waiting for completions ---- */

void
box_init(struct result_box *b)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

void
box_fini(struct result_box *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

void
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

void
box_wait(struct result_box *b)
{
    pthread_mutex_lock(&b->mu);
    while (b->calls == 0)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

/* Submits and waits for the completion. */
struct cjx_record_write_result
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

void
gate_init(struct gate *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

void
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

void
gate_wait_entered(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

void
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
void
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

void
release_writer(struct gate *g)
{
    cjx_store_sqlite_pause(g->store, 0);
}

void
submit_batch(struct cjx_store *s, struct gate *g, const struct test_write *t,
             struct result_box *b, int n)
{
    for (int i = 0; i < n; i++) {
        box_init(&b[i]);
        assert_int_equal(cjx_store_submit_record(s, &t[i].w, box_done, &b[i]),
                         0);
    }
    if (g != NULL)
        release_writer(g);
    for (int i = 0; i < n; i++)
        box_wait(&b[i]);
}

/* ---- reading ---- */

int
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

/* ---- direct looks at the database file ---- */

int64_t
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

void
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

struct table_counts
snapshot(struct fixture *f)
{
    struct table_counts c = {
        count_rows(f->path, "records"), count_rows(f->path, "record_versions"),
        count_rows(f->path, "changes"), count_rows(f->path, "idempotency"),
        cjx_store_last_seq(f->s)};
    return c;
}

void
assert_same_counts(struct table_counts a, struct table_counts b)
{
    assert_int_equal(a.records, b.records);
    assert_int_equal(a.versions, b.versions);
    assert_int_equal(a.changes, b.changes);
    assert_int_equal(a.requests, b.requests);
    assert_int_equal(a.last_seq, b.last_seq);
}

void
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

void
hook_record(void *arg, int64_t last_seq)
{
    struct hook_log *h = arg;
    atomic_fetch_add(&h->calls, 1);
    atomic_store(&h->last, last_seq);
}

/* ---- making SQLite fail on purpose ---- */

void
refuse_request_id_bad(struct fixture *f)
{
    cjx_store_close(f->s);
    f->s = NULL;
    if (test_backend_is_pg())
        exec_sql(f->path, "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN"
                          " IF NEW.request_id = 'bad' THEN"
                          " RAISE EXCEPTION 'refused by test'; END IF;"
                          " RETURN NEW; END $$ LANGUAGE plpgsql;"
                          "CREATE TRIGGER refuse AFTER INSERT ON idempotency"
                          " FOR EACH ROW EXECUTE FUNCTION refuse();");
    else
        exec_sql(f->path,
                 "CREATE TRIGGER refuse AFTER INSERT ON idempotency"
                 " WHEN NEW.request_id = 'bad'"
                 " BEGIN SELECT RAISE(ABORT, 'refused by test'); END;");
    reopen(f);
}

void
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
