/* Several replicas on one PostgreSQL database: two stores opened on the
 * same database stand for two cjxd replicas of one agency. Writers on both
 * at once must leave feeds that a reader follows without a gap or a
 * repeat, one audit chain, messages that take effect once whichever
 * replica receives them, and outbox rows that one replica at a time holds;
 * and both must come back by themselves when the database restarts. Runs
 * under tests/support/with-postgres. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cjx/audit.h"
#include "cjx/clock.h"
#include "cjx/store.h"
#include "cjx/store_cases.h"
#include "cjx/v1/audit.pb-c.h"
#include "store_backend.h"

struct replicas {
    struct cjx_store *a, *b;
};

static struct cjx_store *
open_replica(void)
{
    struct cjx_store *s = NULL;
    struct cjx_errbuf eb;
    if (test_backend_open(NULL, NULL, &s, &eb) != 0)
        fail_msg("open: %s", eb.msg);
    return s;
}

static int
setup(void **state)
{
    if (!test_backend_is_pg()) {
        fprintf(stderr, "these tests need CJX_TEST_STORE=postgresql\n");
        return -1;
    }
    struct replicas *r = calloc(1, sizeof(*r));
    if (r == NULL || test_backend_reset() != 0)
        return -1;
    r->a = open_replica();
    r->b = open_replica();
    *state = r;
    return 0;
}

static int
teardown(void **state)
{
    struct replicas *r = *state;
    cjx_store_close(r->a);
    cjx_store_close(r->b);
    free(r);
    return 0;
}

/* ---- waiting for many completions -------------------------------------- */

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, failed;
    int replayed, applied;
    int last_err; /* of the last failed write */
};

static void
waiter_init(struct waiter *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void
waiter_wait(struct waiter *w, int n)
{
    pthread_mutex_lock(&w->mu);
    while (w->done < n)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

static void
count_result(struct waiter *w, int err, int replayed)
{
    pthread_mutex_lock(&w->mu);
    w->done++;
    w->failed += err != 0;
    if (err != 0)
        w->last_err = err;
    w->replayed += err == 0 && replayed;
    w->applied += err == 0 && !replayed;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void
record_done(void *arg, const struct cjx_record_write_result *r)
{
    count_result(arg, r->err, r->replayed);
}

static void
case_done(void *arg, const struct cjx_case_write_result *r)
{
    count_result(arg, r->err, r->replayed);
}

static void
digest_of(const char *text, uint8_t d[CJX_STORE_DIGEST_LEN])
{
    /* A stand-in digest: the text's first bytes, zero-padded. */
    memset(d, 0, CJX_STORE_DIGEST_LEN);
    size_t n = strlen(text);
    memcpy(d, text, n < CJX_STORE_DIGEST_LEN ? n : CJX_STORE_DIGEST_LEN);
}

/* Queues a record write with its audit event on s. */
static void
submit_record(struct cjx_store *s, const char *sender, const char *id,
              const char *cii, struct waiter *w)
{
    struct cjx_audit_event ev = {.method = "/cjx.v1.RecordService/Submit",
                                 .agency_ori = sender,
                                 .request_id = id};
    struct cjx_record_write wr = {
        .sender_ori = sender,
        .request_id = id,
        .cii = cii,
        .court_case_number = "CASE",
        .count_number = 1,
        .county = "Alameda",
        .record = id,
        .record_len = strlen(id),
        .audit = &ev,
    };
    digest_of(id, wr.request_digest);
    assert_int_equal(cjx_store_submit_record(s, &wr, record_done, w), 0);
}

/* ---- the record feed across replicas ----------------------------------- */

enum { WRITERS = 4, WRITES_PER_WRITER = 150 };

struct writer_arg {
    struct cjx_store *s;
    int index;
    struct waiter w;
};

static void *
writer_main(void *p)
{
    struct writer_arg *a = p;
    for (int i = 0; i < WRITES_PER_WRITER; i++) {
        char id[48];
        snprintf(id, sizeof(id), "w%d-%d", a->index, i);
        submit_record(a->s, "CA0190000", id, id, &a->w);
    }
    waiter_wait(&a->w, WRITES_PER_WRITER);
    return NULL;
}

struct follower {
    struct cjx_store *s;
    int64_t last;
    int seen;
    char error[600];
};

static int
follow_visit(void *arg, const struct cjx_stored_record *r)
{
    struct follower *f = arg;
    if (r->seq != f->last + 1) {
        snprintf(f->error, sizeof(f->error),
                 "after seq %lld the feed gave %lld", (long long)f->last,
                 (long long)r->seq);
        return 1;
    }
    f->last = r->seq;
    f->seen++;
    return 0;
}

/* Follows the feed as a peer would, resuming after the last seq it saw,
 * while the writers run. A position that followed sequence order instead
 * of commit order shows here as a gap: a row that commits after a larger
 * seq was read is skipped. */
static void *
follower_main(void *p)
{
    struct follower *f = p;
    const int total = WRITERS * WRITES_PER_WRITER;
    int64_t give_up = cjx_clock_monotonic_us() + 120 * 1000000LL;
    while (f->seen < total && f->error[0] == '\0') {
        struct cjx_errbuf eb;
        if (cjx_store_read_changes(f->s, f->last, 100, follow_visit, f, &eb) !=
            0)
            snprintf(f->error, sizeof(f->error), "read: %s", eb.msg);
        if (cjx_clock_monotonic_us() > give_up)
            snprintf(f->error, sizeof(f->error), "saw %d of %d changes",
                     f->seen, total);
        sched_yield();
    }
    return NULL;
}

/* Checks the audit log is one chain: dense numbers, each entry naming the
 * hash of the one before, each stored hash that of its bytes. */
struct chain_check {
    int64_t n;
    uint8_t prev[CJX_AUDIT_HASH_LEN];
};

static int
chain_visit(void *arg, const struct cjx_stored_audit *a)
{
    struct chain_check *c = arg;
    assert_int_equal(a->seq, c->n + 1);
    Cjx__V1__AuditEntry *e =
        cjx__v1__audit_entry__unpack(NULL, a->body_len, a->body);
    assert_non_null(e);
    assert_int_equal(e->seq, a->seq);
    assert_int_equal(e->prev_hash.len, CJX_AUDIT_HASH_LEN);
    assert_memory_equal(e->prev_hash.data, c->prev, CJX_AUDIT_HASH_LEN);
    cjx__v1__audit_entry__free_unpacked(e, NULL);
    uint8_t h[CJX_AUDIT_HASH_LEN];
    assert_int_equal(cjx_audit_hash(a->body, a->body_len, h), 0);
    assert_int_equal(a->hash_len, CJX_AUDIT_HASH_LEN);
    assert_memory_equal(a->hash, h, CJX_AUDIT_HASH_LEN);
    memcpy(c->prev, h, CJX_AUDIT_HASH_LEN);
    c->n = a->seq;
    return 0;
}

static int64_t
check_chain(struct cjx_store *s)
{
    struct chain_check c = {0};
    for (int64_t before = -1; before != c.n;) {
        before = c.n;
        assert_int_equal(
            cjx_store_read_audit(s, c.n, 500, chain_visit, &c, NULL), 0);
    }
    return c.n;
}

static void
test_store_replicas__concurrent_writers__one_gap_free_feed_and_one_chain(
    void **state)
{
    struct replicas *r = *state;
    struct writer_arg w[WRITERS];
    pthread_t th[WRITERS], reader;
    struct follower f = {.s = r->b};
    assert_int_equal(pthread_create(&reader, NULL, follower_main, &f), 0);
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer_arg){.s = i % 2 ? r->b : r->a, .index = i};
        waiter_init(&w[i].w);
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    pthread_join(reader, NULL);
    if (f.error[0] != '\0')
        fail_msg("%s", f.error);
    const int total = WRITERS * WRITES_PER_WRITER;
    for (int i = 0; i < WRITERS; i++) {
        assert_int_equal(w[i].w.failed, 0);
        assert_int_equal(w[i].w.applied, WRITES_PER_WRITER);
    }
    assert_int_equal(f.seen, total);
    /* Both replicas know the head, whichever wrote it. */
    assert_int_equal(cjx_store_last_seq(r->a), total);
    assert_int_equal(cjx_store_last_seq(r->b), total);
    /* Every write recorded one entry, in one chain across both. */
    assert_int_equal(check_chain(r->a), total);
    assert_int_equal(cjx_store_last_audit_seq(r->b), total);
}

/* ---- one message, two replicas ------------------------------------------ */

enum { DUPLICATES = 40 };

static void
test_store_replicas__same_request_at_both__takes_effect_once(void **state)
{
    struct replicas *r = *state;
    struct waiter w;
    waiter_init(&w);
    /* Each request goes to both replicas before either is answered, as a
     * sender's retry to another address would. */
    for (int i = 0; i < DUPLICATES; i++) {
        char id[32];
        snprintf(id, sizeof(id), "dup-%d", i);
        submit_record(r->a, "CA0010000", id, id, &w);
        submit_record(r->b, "CA0010000", id, id, &w);
    }
    waiter_wait(&w, 2 * DUPLICATES);
    assert_int_equal(w.failed, 0);
    assert_int_equal(w.applied, DUPLICATES);
    assert_int_equal(w.replayed, DUPLICATES);
    assert_int_equal(test_backend_pg_count("record_versions"), DUPLICATES);
    assert_int_equal(test_backend_pg_count("changes"), DUPLICATES);
}

/* A case step that opens the case and hands it to PEER. */
static void
open_case(void *arg, const struct cjx_case_current *cur,
          struct cjx_case_next *next)
{
    static struct cjx_outbox_put put = {
        .destination_ori = "PEER",
        .method = "/cjx.v1.CaseService/NotifyCandidate",
        .payload = "payload",
        .payload_len = 7};
    (void)arg;
    if (cur->version > 0) {
        next->unchanged = 1;
        return;
    }
    next->body = "opened";
    next->body_len = 6;
    next->county = "Alameda";
    next->state = 1;
    next->event = 1;
    next->version = 1;
    next->outbox = &put;
    next->n_outbox = 1;
}

static void
submit_case(struct cjx_store *s, const char *id, const char *cii,
            struct waiter *w)
{
    struct cjx_case_write cw = {
        .sender_ori = "CA0010000",
        .request_id = id,
        .cii = cii,
        .court_case_number = "CASE",
        .count_number = 1,
        .apply = open_case,
    };
    digest_of(id, cw.request_digest);
    assert_int_equal(cjx_store_submit_case(s, &cw, case_done, w), 0);
}

static void
test_store_replicas__same_case_message_at_both__takes_effect_once(void **state)
{
    struct replicas *r = *state;
    struct waiter w;
    waiter_init(&w);
    for (int i = 0; i < DUPLICATES; i++) {
        char id[32];
        snprintf(id, sizeof(id), "msg-%d", i);
        submit_case(r->a, id, id, &w);
        submit_case(r->b, id, id, &w);
    }
    waiter_wait(&w, 2 * DUPLICATES);
    assert_int_equal(w.failed, 0);
    assert_int_equal(w.applied, DUPLICATES);
    assert_int_equal(w.replayed, DUPLICATES);
    assert_int_equal(test_backend_pg_count("case_changes"), DUPLICATES);
    assert_int_equal(test_backend_pg_count("case_inbox"), DUPLICATES);
    assert_int_equal(test_backend_pg_count("outbox"), DUPLICATES);
    assert_int_equal(cjx_store_last_case_seq(r->a), DUPLICATES);
    assert_int_equal(cjx_store_last_case_seq(r->b), DUPLICATES);
}

/* ---- the outbox lease ----------------------------------------------------- */

enum { ROWS = 30 };

static void
queue_rows(struct replicas *r)
{
    struct waiter w;
    waiter_init(&w);
    for (int i = 0; i < ROWS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "out-%d", i);
        submit_case(i % 2 ? r->a : r->b, id, id, &w);
    }
    waiter_wait(&w, ROWS);
    assert_int_equal(w.failed, 0);
}

/* Row ids taken, in a bitmap by id. */
struct taken {
    int64_t ids[4 * ROWS];
    int n, stop_after;
};

static int
take_row(void *arg, const struct cjx_outbox_row *row)
{
    struct taken *t = arg;
    if (t->stop_after > 0 && t->n == t->stop_after)
        return 1;
    assert_true(t->n < 4 * ROWS);
    t->ids[t->n++] = row->id;
    return 0;
}

static int
due(struct cjx_store *s, int64_t now_us, int limit, struct taken *t)
{
    int before = t->n;
    struct cjx_errbuf eb;
    if (cjx_store_outbox_due(s, "PEER", now_us, 0, 1, limit, take_row, t,
                             &eb) != 0)
        fail_msg("outbox_due: %s", eb.msg);
    return t->n - before;
}

static void
test_store_replicas__outbox_lease__one_holder_until_it_ends(void **state)
{
    struct replicas *r = *state;
    queue_rows(r);
    int64_t now = cjx_clock_now_us();
    struct taken a = {0}, b = {0};
    /* A takes 10 rows; B gets the other 20, never A's. */
    assert_int_equal(due(r->a, now, 10, &a), 10);
    assert_int_equal(due(r->b, now, 100, &b), ROWS - 10);
    for (int i = 0; i < a.n; i++)
        for (int j = 0; j < b.n; j++)
            assert_true(a.ids[i] != b.ids[j]);
    /* Nothing is left for either while the leases run. */
    assert_int_equal(due(r->a, now, 100, &a), 0);
    assert_int_equal(due(r->b, now, 100, &b), 0);
    /* B delivers its rows; A dies holding its own. */
    struct cjx_outbox_mark m[ROWS];
    for (int i = 0; i < b.n; i++)
        m[i] = (struct cjx_outbox_mark){.id = b.ids[i],
                                        .outcome = CJX_OUTBOX_MARK_DELIVERED};
    struct waiter w;
    waiter_init(&w);
    assert_int_equal(
        cjx_store_outbox_mark(r->b, m, (size_t)b.n, record_done, &w), 0);
    waiter_wait(&w, 1);
    assert_int_equal(w.failed, 0);
    cjx_store_close(r->a);
    r->a = NULL;
    /* The next attempt is the end of A's lease, and then B takes A's rows,
     * exactly those. */
    int64_t next = 0;
    assert_int_equal(cjx_store_outbox_next_due(r->b, "PEER", &next, NULL), 0);
    assert_true(next > now);
    assert_int_equal(due(r->b, next - 1, 100, &b), 0);
    struct taken again = {0};
    assert_int_equal(due(r->b, next, 100, &again), 10);
    for (int i = 0; i < again.n; i++) {
        int found = 0;
        for (int j = 0; j < a.n; j++)
            found |= again.ids[i] == a.ids[j];
        assert_true(found);
    }
}

static void
test_store_replicas__rows_a_full_batch_refused__go_to_the_other_at_once(
    void **state)
{
    struct replicas *r = *state;
    queue_rows(r);
    int64_t now = cjx_clock_now_us();
    /* A's batch fills after 4 rows of the 30 it was offered. */
    struct taken a = {.stop_after = 4}, b = {0};
    assert_int_equal(due(r->a, now, 100, &a), 4);
    assert_int_equal(due(r->b, now, 100, &b), ROWS - 4);
}

struct lease_worker {
    struct cjx_store *s;
    struct taken t;
};

/* Takes rows three at a time and marks them delivered until none is due. */
static void *
lease_worker_main(void *p)
{
    struct lease_worker *lw = p;
    for (;;) {
        int before = lw->t.n;
        int n = due(lw->s, cjx_clock_now_us(), 3, &lw->t);
        if (n == 0)
            break;
        struct cjx_outbox_mark m[3];
        for (int i = 0; i < n; i++)
            m[i] =
                (struct cjx_outbox_mark){.id = lw->t.ids[before + i],
                                         .outcome = CJX_OUTBOX_MARK_DELIVERED};
        struct waiter w;
        waiter_init(&w);
        assert_int_equal(
            cjx_store_outbox_mark(lw->s, m, (size_t)n, record_done, &w), 0);
        waiter_wait(&w, 1);
        assert_int_equal(w.failed, 0);
    }
    return NULL;
}

static void
test_store_replicas__two_senders_at_once__each_row_sent_once(void **state)
{
    struct replicas *r = *state;
    queue_rows(r);
    struct lease_worker w[2] = {{.s = r->a}, {.s = r->b}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, lease_worker_main, &w[i]),
                         0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(w[0].t.n + w[1].t.n, ROWS);
    for (int i = 0; i < w[0].t.n; i++)
        for (int j = 0; j < w[1].t.n; j++)
            assert_true(w[0].t.ids[i] != w[1].t.ids[j]);
    assert_int_equal(test_backend_pg_count("outbox WHERE delivered_us IS NULL"),
                     0);
}

/* ---- leadership ------------------------------------------------------- */

/* Ends the session that holds the leadership lock, as a replica's death
 * or a cut connection would, and waits until it is gone. */
static void
end_leader_session(void)
{
    test_backend_pg_exec("SELECT pg_terminate_backend(pid, 10000) "
                         "FROM pg_locks WHERE locktype = 'advisory' "
                         "AND objid = 7236003 AND granted");
}

static void
test_store_replicas__leadership__one_at_a_time_taken_over_when_session_ends(
    void **state)
{
    struct replicas *r = *state;
    assert_int_equal(cjx_store_lead(r->a), 1);
    assert_int_equal(cjx_store_lead(r->b), 0);
    /* Asking again keeps it where it is. */
    assert_int_equal(cjx_store_lead(r->a), 1);
    assert_int_equal(cjx_store_lead(r->b), 0);

    end_leader_session();
    assert_int_equal(cjx_store_lead(r->b), 1);
    /* The old leader learns at its next call that it lost. */
    assert_int_equal(cjx_store_lead(r->a), 0);

    /* A replica that closes hands leadership on at once. */
    cjx_store_close(r->b);
    r->b = NULL;
    assert_int_equal(cjx_store_lead(r->a), 1);
}

/* ---- wake-ups across replicas ----------------------------------------- */

/* What one replica's commit hook has heard. */
struct heard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t last_seq;
};

static void
on_heard(void *arg, int64_t last_seq)
{
    struct heard *h = arg;
    pthread_mutex_lock(&h->mu);
    if (last_seq > h->last_seq)
        h->last_seq = last_seq;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Waits for the hook to report seq; 0 when it did, -1 when nothing came
 * within the bound (a failure guard, not the synchronisation). */
static int
wait_heard(struct heard *h, int64_t seq)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    int rc = 0;
    pthread_mutex_lock(&h->mu);
    while (h->last_seq < seq && rc == 0)
        rc = pthread_cond_timedwait(&h->cv, &h->mu, &until);
    int got = h->last_seq >= seq;
    pthread_mutex_unlock(&h->mu);
    return got ? 0 : -1;
}

static void
test_store_replicas__commit_on_one__wakes_the_others_hook(void **state)
{
    struct replicas *r = *state;
    struct heard h = {.last_seq = 0};
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    cjx_store_set_commit_hook(r->b, on_heard, &h);
    /* Nothing is written on b: only a's commits can wake its hook. */
    for (int i = 1; i <= 3; i++) {
        char id[32];
        snprintf(id, sizeof(id), "woken-%d", i);
        struct waiter w;
        waiter_init(&w);
        submit_record(r->a, "CA0010000", id, id, &w);
        waiter_wait(&w, 1);
        assert_int_equal(w.applied, 1);
        if (wait_heard(&h, i) != 0)
            fail_msg("replica b did not hear of a's commit %d", i);
    }
    assert_int_equal(cjx_store_last_seq(r->b), 3);
    cjx_store_set_commit_hook(r->b, NULL, NULL);
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.mu);
}

/* ---- the database restarted --------------------------------------------- */

static void
server(const char *action)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "%s %s", getenv("CJX_TEST_PG_SERVER"), action);
    if (system(cmd) != 0)
        fail_msg("%s failed", cmd);
}

static int
get_version(struct cjx_store *s, const char *cii, int64_t *version)
{
    struct cjx_stored_record rec;
    struct cjx_errbuf eb;
    int err = cjx_store_get_record(s, cii, "CASE", 1, &rec, &eb);
    if (err == 0) {
        *version = rec.version;
        cjx_stored_record_fini(s, &rec);
    }
    return err;
}

static void
test_store_replicas__database_restarted__refused_while_down_none_lost(
    void **state)
{
    struct replicas *r = *state;
    struct waiter w;
    waiter_init(&w);
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof(id), "before-%d", i);
        submit_record(i % 2 ? r->a : r->b, "CA0010000", id, id, &w);
    }
    waiter_wait(&w, 20);
    assert_int_equal(w.applied, 20);

    server("stop");
    /* A write is answered, not held, as not reachable (UNAVAILABLE to a
     * caller, who retries); a read too. */
    waiter_init(&w);
    submit_record(r->a, "CA0010000", "while-down", "while-down", &w);
    waiter_wait(&w, 1);
    assert_int_equal(w.failed, 1);
    assert_int_equal(w.last_err, CJX_EUNAVAIL);
    int64_t version = 0;
    assert_int_equal(get_version(r->b, "before-0", &version), CJX_EUNAVAIL);
    server("start");

    /* Both replicas connect again by themselves; every acknowledged write
     * is there, and the refused one was not stored, so its retry is
     * applied, not replayed. */
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof(id), "before-%d", i);
        assert_int_equal(get_version(i % 2 ? r->b : r->a, id, &version), 0);
        assert_int_equal(version, 1);
    }
    assert_int_equal(get_version(r->b, "while-down", &version), CJX_ENOTFOUND);
    waiter_init(&w);
    submit_record(r->a, "CA0010000", "while-down", "while-down", &w);
    submit_record(r->b, "CA0010000", "after", "after", &w);
    waiter_wait(&w, 2);
    assert_int_equal(w.failed, 0);
    assert_int_equal(w.applied, 2);
    assert_int_equal(check_chain(r->b), 22);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_store_replicas__concurrent_writers__one_gap_free_feed_and_one_chain),
        T(test_store_replicas__same_request_at_both__takes_effect_once),
        T(test_store_replicas__same_case_message_at_both__takes_effect_once),
        T(test_store_replicas__outbox_lease__one_holder_until_it_ends),
        T(test_store_replicas__rows_a_full_batch_refused__go_to_the_other_at_once),
        T(test_store_replicas__two_senders_at_once__each_row_sent_once),
        T(test_store_replicas__database_restarted__refused_while_down_none_lost),
        T(test_store_replicas__leadership__one_at_a_time_taken_over_when_session_ends),
        T(test_store_replicas__commit_on_one__wakes_the_others_hook),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
