/* Unit tests for the store's writer, against either backend
 * (store_backend.h): concurrent submitters, failures inside a batch and of
 * a whole commit, the outcome hook, and acknowledged writes surviving a
 * kill. The tests that make SQLite fail on purpose or pause its writer run
 * with SQLite only. */
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

/* ---- where and in which order completions run ---- */

#define ORDERED_WRITES 300

struct completion_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    int64_t seqs[ORDERED_WRITES];
    pthread_t threads[ORDERED_WRITES];
};

static void
log_completion(void *arg, const struct cjx_record_write_result *r)
{
    struct completion_log *l = arg;
    pthread_mutex_lock(&l->mu);
    if (l->n < ORDERED_WRITES) {
        l->seqs[l->n] = r->err == 0 ? r->seq : -1;
        l->threads[l->n] = pthread_self();
    }
    l->n++;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Writes submitted one after another are committed in that order, over
 * several batches while the first are answered; store.h promises their
 * completions in commit order, on one store thread that is not the
 * caller's. */
static void
test_store__completions__run_in_commit_order_on_one_store_thread(void **state)
{
    struct fixture *f = *state;
    struct completion_log l = {.n = 0};
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    for (int i = 0; i < ORDERED_WRITES; i++) {
        struct test_write t;
        char key[32];
        snprintf(key, sizeof(key), "ORDER-%d", i);
        tw_init(&t, "CA0190000", key, key, "CASE", 1, "Alameda", "body");
        assert_int_equal(
            cjx_store_submit_record(f->s, &t.w, log_completion, &l), 0);
    }
    pthread_mutex_lock(&l.mu);
    while (l.n < ORDERED_WRITES)
        pthread_cond_wait(&l.cv, &l.mu);
    pthread_mutex_unlock(&l.mu);
    assert_int_equal(l.n, ORDERED_WRITES);
    for (int i = 0; i < ORDERED_WRITES; i++) {
        /* Every write is a new key: the i-th committed has seq i + 1. */
        assert_int_equal(l.seqs[i], i + 1);
        assert_true(pthread_equal(l.threads[i], l.threads[0]));
    }
    assert_false(pthread_equal(l.threads[0], pthread_self()));
    pthread_cond_destroy(&l.cv);
    pthread_mutex_destroy(&l.mu);
}

/* ---- failures inside a batch ---- */

static void
test_store__failing_write_in_batch__leaves_the_others_committed(void **state)
{
    struct fixture *f = *state;
    /* The write's last statement fails, after its record, version and
     * change rows were written: they must all go. */
    refuse_request_id_bad(f);

    struct gate g;
    hold_writer(f->s, &g, "fail");
    struct test_write t[3];
    tw_around(t, "bad", "FAIL");
    struct result_box b[3];
    submit_batch(f->s, &g, t, b, 3);
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

/* Writes submitted at once, one of them failing at its last statement
 * (after its record, version and change rows): whatever batches the
 * writer makes of them, the failed write leaves nothing and the others
 * commit in order with dense seqs. Both writers run a batch of several
 * without a savepoint per write, and run it again with them when one
 * fails; on PostgreSQL, whose writer cannot be held, this is how a failing
 * write comes to share a batch with others. */
#define MANY_WRITES 24
#define FAILING     11

static void
test_store__failing_write_among_many__fails_alone(void **state)
{
    struct fixture *f = *state;
    refuse_request_id_bad(f);
    struct test_write t[MANY_WRITES];
    struct result_box b[MANY_WRITES];
    char ids[MANY_WRITES][16];
    for (int i = 0; i < MANY_WRITES; i++) {
        snprintf(ids[i], sizeof(ids[i]), "K%d", i);
        tw_init(&t[i], "CA0190000", i == FAILING ? "bad" : ids[i], ids[i],
                "CASE", 1, "Alameda", ids[i]);
    }
    submit_batch(f->s, NULL, t, b, MANY_WRITES);
    for (int i = 0; i < MANY_WRITES; i++) {
        if (i == FAILING) {
            assert_int_equal(b[i].r.err, CJX_ESTORE);
            assert_non_null(strstr(b[i].r.detail, "refused by test"));
            continue;
        }
        assert_int_equal(b[i].r.err, 0);
        /* Commit order is submission order; the failed write used no
         * seq. */
        assert_int_equal(b[i].r.seq, i < FAILING ? i + 1 : i);
        assert_stored_body(f->s, ids[i], "CASE", 1, ids[i], 1);
    }
    struct cjx_stored_record rec;
    assert_int_equal(
        cjx_store_get_record(f->s, ids[FAILING], "CASE", 1, &rec, NULL),
        CJX_ENOTFOUND);
    assert_int_equal(count_rows(f->path, "changes"), MANY_WRITES - 1);
    assert_int_equal(count_rows(f->path, "records"), MANY_WRITES - 1);
    for (int i = 0; i < MANY_WRITES; i++)
        box_fini(&b[i]);
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
    tw_around(t, "doom", "DOOM");
    struct result_box b[3];
    submit_batch(f->s, &g, t, b, 3);
    for (int i = 0; i < 3; i++) {
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

int
main(void)
{
    /* Both backends. */
    const struct CMUnitTest tests[] = {
        STORE_TEST(
            test_store__concurrent_submitters__all_complete_with_dense_seqs),
        STORE_TEST(
            test_store__completions__run_in_commit_order_on_one_store_thread),
        STORE_TEST(test_store__failing_write_among_many__fails_alone),
    };
    /* SQLite's own. */
    const struct CMUnitTest sqlite_tests[] = {
        STORE_TEST(
            test_store__failing_write_in_batch__leaves_the_others_committed),
        STORE_TEST(test_store__commit_failure__fails_every_write_in_the_batch),
        STORE_TEST(
            test_store__outcome_hook__tells_a_failed_commit_then_a_good_one),
        STORE_TEST(test_store__kill_after_ack__acknowledged_writes_survive),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (!test_backend_is_pg())
        failed += cmocka_run_group_tests(sqlite_tests, NULL, NULL);
    return failed;
}
