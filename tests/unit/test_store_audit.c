/* Unit tests for the store's audit log, against either backend
 * (store_backend.h): numbering and chaining, events that go with writes,
 * checkpoints by count, by time and at close, signers, and one unbroken
 * chain under concurrent writers. The tests that make SQLite fail on
 * purpose run with SQLite only. */
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
#include "store_fixture.h"

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
    reopen_with(f, &o);
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
    refuse_request_id_bad(f);
    struct cjx_audit_event ev =
        test_event("/cjx.v1.RecordService/SubmitRecord", "X");
    struct test_write t[3];
    tw_around(t, "bad", "FAIL");
    for (int i = 0; i < 3; i++)
        t[i].w.audit = &ev;
    struct result_box b[3];
    submit_batch(f->s, NULL, t, b, 3);
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
    doom_commits_of_records_named_doom(f);
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
    /* Both backends. */
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_store__audit_append__numbers_entries_and_chains_them),
        STORE_TEST(test_store__audit_append_without_callback__is_committed),
        STORE_TEST(test_store__write_with_event__records_what_the_write_did),
        STORE_TEST(test_store__checkpoints__every_n_entries_and_at_close),
        STORE_TEST(test_store__checkpoint__due_by_time_in_the_next_write),
        STORE_TEST(test_store__checkpoint__made_on_an_idle_store),
        STORE_TEST(test_store__audit_key_not_matching_cert__is_refused_at_open),
        STORE_TEST(
            test_store__entries_removed_from_the_end__numbering_continues_after),
        STORE_TEST(test_store__audit_hook__fires_with_the_newest_entry),
        STORE_TEST(test_store__audit_signer_set_later__signs_from_then_on),
        STORE_TEST(
            test_store__concurrent_entries_and_writes__one_unbroken_chain),
        STORE_TEST(test_store__bad_audit_arguments__are_refused),
    };
    /* SQLite's own. */
    const struct CMUnitTest sqlite_tests[] = {
        STORE_TEST(test_store__failing_write__takes_its_event_with_it),
        STORE_TEST(test_store__failed_commit__leaves_the_chain_where_it_was),
    };
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
