/* Unit tests for the cases, inbox and outbox of src/store, against either
 * backend (tests/support/store_backend.h): SQLite on real database files
 * in a temporary directory, or a real PostgreSQL server. The apply functions
 * here are small fakes of the workflow: the store does not know it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cjx/audit.h"
#include "cjx/clock.h"
#include "cjx/store.h"
#include "cjx/store_cases.h"
#include "store_backend.h"
#include "store_fixture.h"

/* ---- a fake transition and a synchronous write ---- */

/* What the fake apply function does: refuse, repeat, or write "body" with
 * the outbox rows given. */
struct fake {
    int refuse; /* CJX code, or 0 */
    int unchanged;
    const char *body; /* the new version's bytes */
    const char *county;
    int state;
    int64_t due_us;
    int n_outbox;
    const char *destinations[4];
    const char *notice;
    int mismatched_outbox; /* a broken apply function */
    /* Seen by the apply function. */
    int calls;
    int64_t seen_version, seen_next_seq;
    char seen_body[64];
    struct cjx_outbox_put puts[4];
};

static void
fake_apply(void *arg, const struct cjx_case_current *cur,
           struct cjx_case_next *next)
{
    struct fake *f = arg;
    f->calls++;
    f->seen_version = cur->version;
    f->seen_next_seq = cur->next_seq;
    snprintf(f->seen_body, sizeof(f->seen_body), "%.*s", (int)cur->body_len,
             cur->body != NULL ? (const char *)cur->body : "");
    if (f->refuse != 0) {
        next->err = f->refuse;
        next->detail = "refused by the fake";
        return;
    }
    if (f->unchanged) {
        next->unchanged = 1;
        return;
    }
    next->body = f->body;
    next->body_len = strlen(f->body);
    next->county = f->county;
    next->state = f->state;
    next->event = 2;
    next->version = cur->version + 1;
    next->due_us = f->due_us;
    if (f->notice != NULL) {
        next->notice = f->notice;
        next->notice_len = strlen(f->notice);
    }
    for (int i = 0; i < f->n_outbox; i++)
        f->puts[i] = (struct cjx_outbox_put){
            .destination_ori = f->destinations[i],
            .method = "/cjx.v1.CaseService/NotifyCandidate",
            .payload = i > 0 && f->mismatched_outbox ? "other" : "payload",
            .payload_len = 7};
    next->outbox = f->puts;
    next->n_outbox = (size_t)f->n_outbox;
}

struct result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    struct cjx_case_write_result r;
    char snapshot[128];
    char detail[256];
};

static void
write_done(void *arg, const struct cjx_case_write_result *r)
{
    struct result *res = arg;
    pthread_mutex_lock(&res->mu);
    res->r = *r;
    snprintf(res->snapshot, sizeof(res->snapshot), "%.*s", (int)r->snapshot_len,
             r->snapshot != NULL ? (const char *)r->snapshot : "");
    snprintf(res->detail, sizeof(res->detail), "%s",
             r->detail != NULL ? r->detail : "");
    res->r.snapshot = res->snapshot;
    res->r.detail = res->detail;
    res->done = 1;
    pthread_cond_signal(&res->cv);
    pthread_mutex_unlock(&res->mu);
}

static void
fill_digest(uint8_t d[CJX_STORE_DIGEST_LEN], int variant)
{
    for (int i = 0; i < CJX_STORE_DIGEST_LEN; i++)
        d[i] = (uint8_t)(i * 7 + variant);
}

/* Queues a message from sender with id about key A1 / CASE-1 / count;
 * res is filled when it is answered (wait_case). */
static void
start_case(struct cjx_store *s, const char *sender, const char *id, int count,
           int variant, struct fake *f, const struct cjx_audit_event *ev,
           struct result *res)
{
    memset(res, 0, sizeof(*res));
    pthread_mutex_init(&res->mu, NULL);
    pthread_cond_init(&res->cv, NULL);
    struct cjx_case_write w = {
        .sender_ori = sender,
        .request_id = id,
        .cii = "A1",
        .court_case_number = "CASE-1",
        .count_number = count,
        .apply = fake_apply,
        .apply_arg = f,
        .audit = ev,
    };
    fill_digest(w.request_digest, variant);
    assert_int_equal(cjx_store_submit_case(s, &w, write_done, res), 0);
}

static void
wait_case(struct result *res)
{
    pthread_mutex_lock(&res->mu);
    while (!res->done)
        pthread_cond_wait(&res->cv, &res->mu);
    pthread_mutex_unlock(&res->mu);
}

/* Writes a message from sender with id about key A1 / CASE-1 / count. */
static struct cjx_case_write_result
write_case(struct cjx_store *s, const char *sender, const char *id, int count,
           int variant, struct fake *f, const struct cjx_audit_event *ev)
{
    static struct result res; /* the tests are sequential */
    start_case(s, sender, id, count, variant, f, ev, &res);
    wait_case(&res);
    return res.r;
}

static struct fake
notice(const char *body)
{
    return (struct fake){.body = body, .county = "San Francisco", .state = 2};
}

/* ---- the inbox ---- */

static void
test_store_cases__new_case__stored_with_seq_1_and_answered_with_it(void **state)
{
    struct fixture *f = *state;
    struct fake fk = notice("v1");
    fk.due_us = 12345;
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.seq, 1);
    assert_int_equal(r.version, 1);
    assert_false(r.replayed);
    assert_string_equal(r.snapshot, "v1");
    assert_int_equal(fk.seen_version, 0);
    assert_int_equal(fk.seen_next_seq, 1);
    assert_int_equal(cjx_store_last_case_seq(f->s), 1);

    struct cjx_stored_case c;
    assert_int_equal(cjx_store_get_case(f->s, "A1", "CASE-1", 1, 0, &c, NULL),
                     0);
    assert_string_equal(c.county, "San Francisco");
    assert_int_equal(c.state, 2);
    assert_int_equal(c.due_us, 12345);
    assert_int_equal(c.version, 1);
    assert_int_equal(c.seq, 1);
    assert_string_equal(c.sender_ori, "CA0000001");
    assert_int_equal(c.body_len, 2);
    assert_memory_equal(c.body, "v1", 2);
    cjx_stored_case_fini(f->s, &c);
}

static void
test_store_cases__repeated_message_id__returns_first_answer_and_changes_nothing(
    void **state)
{
    struct fixture *f = *state;
    struct fake fk = notice("v1");
    write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    struct fake again = notice("v2");
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-1", 1, 0, &again, NULL);
    assert_int_equal(r.err, 0);
    assert_true(r.replayed);
    assert_int_equal(r.seq, 0);
    assert_string_equal(r.snapshot, "v1");
    assert_int_equal(again.calls, 0); /* the workflow never saw it */
    assert_int_equal(cjx_store_last_case_seq(f->s), 1);
}

static void
test_store_cases__same_id_other_content__is_a_conflict(void **state)
{
    struct fixture *f = *state;
    struct fake fk = notice("v1");
    write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    struct fake other = notice("v2");
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-1", 1, 9, &other, NULL);
    assert_int_equal(r.err, CJX_ECONFLICT);
    assert_int_equal(other.calls, 0);
    assert_int_equal(cjx_store_last_case_seq(f->s), 1);
}

static void
test_store_cases__same_id_from_another_sender__is_another_message(void **state)
{
    struct fixture *f = *state;
    struct fake fk = notice("v1");
    write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    struct fake next = notice("v2");
    struct cjx_case_write_result r =
        write_case(f->s, "CA038013A", "m-1", 1, 0, &next, NULL);
    assert_int_equal(r.err, 0);
    assert_false(r.replayed);
    assert_int_equal(r.seq, 2);
    assert_string_equal(next.seen_body, "v1");
    assert_int_equal(next.seen_version, 1);
}

static void
test_store_cases__refusal__stores_nothing_and_a_retry_is_applied_again(
    void **state)
{
    struct fixture *f = *state;
    struct fake fk = notice("v1");
    fk.refuse = CJX_ESTATE;
    fk.n_outbox = 1;
    fk.destinations[0] = "CA038013A";
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    assert_int_equal(r.err, CJX_ESTATE);
    assert_string_equal(r.detail, "refused by the fake");
    struct cjx_stored_case c;
    assert_int_equal(cjx_store_get_case(f->s, "A1", "CASE-1", 1, 0, &c, NULL),
                     CJX_ENOTFOUND);
    /* The same message again reaches the workflow: a refusal because an
     * earlier step was missing may succeed once it arrives. */
    fk.refuse = 0;
    r = write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    assert_int_equal(r.err, 0);
    assert_int_equal(fk.calls, 2);
    assert_int_equal(r.outbox_added, 1);
}

static void
test_store_cases__repeated_step__stores_the_id_and_answers_with_the_case(
    void **state)
{
    struct fixture *f = *state;
    struct fake fk = notice("v1");
    write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    struct fake same = {.unchanged = 1};
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-2", 1, 1, &same, NULL);
    assert_int_equal(r.err, 0);
    assert_true(r.unchanged);
    assert_int_equal(r.seq, 0);
    assert_string_equal(r.snapshot, "v1");
    /* Its id is remembered: a replay does not reach the workflow. */
    r = write_case(f->s, "CA0000001", "m-2", 1, 1, &same, NULL);
    assert_true(r.replayed);
    assert_true(r.unchanged);
    assert_string_equal(r.snapshot, "v1");
    assert_int_equal(same.calls, 1);
    assert_int_equal(cjx_store_last_case_seq(f->s), 1);
}

static void
test_store_cases__broken_apply_result__is_refused_whole(void **state)
{
    struct fixture *f = *state;
    struct fake fk = notice("v1");
    fk.n_outbox = 2;
    fk.destinations[0] = "CA038013A";
    fk.destinations[1] = "CA038033J";
    fk.mismatched_outbox = 1;
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    assert_int_equal(r.err, CJX_EINTERNAL);
    assert_int_equal(cjx_store_last_case_seq(f->s), 0);
    struct fake ok = notice("v1");
    r = write_case(f->s, "CA0000001", "m-1", 1, 0, &ok, NULL);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.seq, 1); /* no number was used up */
}

/* A write that fails after some of its rows are written (here its outbox
 * row, after the case and its change) leaves none of them, nor its audit
 * entry, and uses up no feed position: alone in its transaction, it is
 * undone with the transaction, which holds nothing else. */
static void
test_store_cases__write_failing_halfway__leaves_nothing(void **state)
{
    struct fixture *f = *state;
    struct cjx_audit_event ev = {.type = CJX_AUDIT_CALL,
                                 .agency_ori = "CA0000001",
                                 .method = "/cjx.v1.CaseService/Deliver"};
    int64_t audit_before = cjx_store_last_audit_seq(f->s);
    struct fake fk = notice("v1");
    fk.n_outbox = 1;
    fk.destinations[0] = NULL; /* outbox.destination is NOT NULL */
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, &ev);
    assert_int_equal(r.err, CJX_ESTORE);
    assert_int_equal(fk.calls, 1);
    assert_int_equal(cjx_store_last_case_seq(f->s), 0);
    assert_int_equal(cjx_store_last_audit_seq(f->s), audit_before);
    struct cjx_stored_case c;
    assert_int_equal(cjx_store_get_case(f->s, "A1", "CASE-1", 1, 0, &c, NULL),
                     CJX_ENOTFOUND);
    /* The same message again is applied afresh, with the numbers the
     * failed write would have taken. */
    struct fake ok = notice("v1");
    r = write_case(f->s, "CA0000001", "m-1", 1, 0, &ok, &ev);
    assert_int_equal(r.err, 0);
    assert_int_equal(ok.calls, 1);
    assert_int_equal(r.seq, 1);
    assert_int_equal(r.audit_seq, audit_before + 1);
}

/* SQLite: several writes in one transaction, the middle one failing
 * halfway (after its case and its change, at its outbox row). The writer
 * runs a batch without savepoints; on the failure it rolls the
 * transaction back and runs the batch again, each write in a savepoint
 * (writer.c). The others commit with the numbers they would have had, the
 * failed one leaves nothing, and no apply function is called twice: the
 * second run uses the first's decisions. */
static void
test_store_cases__write_failing_halfway_in_a_batch__leaves_the_others(
    void **state)
{
    struct fixture *f = *state;
    struct fake fk[3] = {notice("v1"), notice("v2"), notice("v3")};
    fk[1].n_outbox = 1;
    fk[1].destinations[0] = NULL; /* outbox.destination is NOT NULL */
    static struct result res[3];
    static const char *const ids[] = {"m-1", "m-2", "m-3"};
    struct gate g;
    hold_writer(f->s, &g, "cases");
    for (int i = 0; i < 3; i++)
        start_case(f->s, "CA0000001", ids[i], i + 1, 0, &fk[i], NULL, &res[i]);
    release_writer(&g);
    for (int i = 0; i < 3; i++)
        wait_case(&res[i]);

    assert_int_equal(res[0].r.err, 0);
    assert_int_equal(res[0].r.seq, 1);
    assert_string_equal(res[0].snapshot, "v1");
    assert_int_equal(res[1].r.err, CJX_ESTORE);
    assert_non_null(strstr(res[1].detail, "NOT NULL"));
    assert_int_equal(res[2].r.err, 0);
    assert_int_equal(res[2].r.seq, 2); /* the failed write used no number */
    assert_string_equal(res[2].snapshot, "v3");
    for (int i = 0; i < 3; i++)
        assert_int_equal(fk[i].calls, 1);
    assert_int_equal(fk[2].seen_next_seq, 2);
    assert_int_equal(cjx_store_last_case_seq(f->s), 2);
    struct cjx_stored_case c;
    assert_int_equal(cjx_store_get_case(f->s, "A1", "CASE-1", 2, 0, &c, NULL),
                     CJX_ENOTFOUND);
    assert_int_equal(cjx_store_get_case(f->s, "A1", "CASE-1", 3, 0, &c, NULL),
                     0);
    assert_int_equal(c.seq, 2);
    cjx_stored_case_fini(f->s, &c);

    /* The failed message, sent again without the fault, is applied. */
    struct fake ok = notice("v2");
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-2", 2, 0, &ok, NULL);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.seq, 3);
}

static void
test_store_cases__write_with_event__commits_its_audit_entry(void **state)
{
    struct fixture *f = *state;
    struct cjx_audit_event ev = {.type = CJX_AUDIT_CALL,
                                 .agency_ori = "CA0000001",
                                 .method = "/cjx.v1.CaseService/Deliver"};
    int64_t before = cjx_store_last_audit_seq(f->s);
    struct fake fk = notice("v1");
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, &ev);
    assert_int_equal(r.err, 0);
    assert_true(r.audit_seq > before);
    struct fake no = notice("v1");
    no.refuse = CJX_EPERM;
    r = write_case(f->s, "CA0000001", "m-2", 2, 0, &no, &ev);
    assert_int_equal(r.err, CJX_EPERM);
    assert_int_equal(r.audit_seq, 0); /* the caller records a refusal */
}

static void
test_store_cases__notice__kept_once_with_the_case(void **state)
{
    struct fixture *f = *state;
    struct fake fk = notice("v1");
    fk.notice = "the notice";
    write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    struct fake second = notice("v2");
    second.notice = "another notice";
    write_case(f->s, "CA0000001", "m-2", 1, 1, &second, NULL);
    struct cjx_stored_case c;
    assert_int_equal(cjx_store_get_case(f->s, "A1", "CASE-1", 1, 1, &c, NULL),
                     0);
    assert_int_equal(c.notice_len, strlen("the notice"));
    assert_memory_equal(c.notice, "the notice", c.notice_len);
    assert_memory_equal(c.body, "v2", 2);
    cjx_stored_case_fini(f->s, &c);
    assert_int_equal(cjx_store_get_case(f->s, "A1", "CASE-1", 1, 0, &c, NULL),
                     0);
    assert_null(c.notice);
    cjx_stored_case_fini(f->s, &c);
}

/* ---- survival ---- */

static void
test_store_cases__reopen__keeps_cases_inbox_outbox_and_seq(void **state)
{
    struct fixture *f = *state;
    struct fake fk = notice("v1");
    fk.n_outbox = 1;
    fk.destinations[0] = "CA038013A";
    write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    reopen(f);
    assert_int_equal(cjx_store_last_case_seq(f->s), 1);
    struct fake again = notice("v1");
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-1", 1, 0, &again, NULL);
    assert_true(r.replayed);
    struct fake next = notice("v2");
    r = write_case(f->s, "CA0000001", "m-2", 1, 1, &next, NULL);
    assert_int_equal(r.seq, 2);
    int64_t at = 0;
    assert_int_equal(cjx_store_outbox_next_due(f->s, "CA038013A", &at, NULL),
                     0);
    assert_true(at > 0);
}

/* ---- listings and the feed ---- */

struct seen_cases {
    int n;
    int64_t ids[16];
    int64_t current[16];
    char bodies[16][8];
};

static int
collect(void *arg, const struct cjx_stored_case *c)
{
    struct seen_cases *s = arg;
    s->ids[s->n] = c->seq;
    s->current[s->n] = c->current_seq;
    snprintf(s->bodies[s->n], sizeof(s->bodies[0]), "%.*s", (int)c->body_len,
             (const char *)c->body);
    s->n++;
    return 0;
}

static void
test_store_cases__feed__every_version_in_seq_order(void **state)
{
    struct fixture *f = *state;
    struct fake a = notice("a1"), b = notice("b1"), a2 = notice("a2");
    write_case(f->s, "CA0000001", "m-1", 1, 0, &a, NULL);
    write_case(f->s, "CA0000001", "m-2", 2, 1, &b, NULL);
    write_case(f->s, "CA0000001", "m-3", 1, 2, &a2, NULL);
    struct seen_cases s = {0};
    assert_int_equal(
        cjx_store_read_case_changes(f->s, 0, 10, collect, &s, NULL), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.bodies[0], "a1");
    assert_string_equal(s.bodies[1], "b1");
    assert_string_equal(s.bodies[2], "a2");
    /* Each change says whether its case has moved on since. */
    assert_int_equal(s.current[0], 3);
    assert_int_equal(s.current[1], 2);
    assert_int_equal(s.current[2], 3);
    memset(&s, 0, sizeof(s));
    cjx_store_read_case_changes(f->s, 1, 10, collect, &s, NULL);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ids[0], 2);
}

static void
test_store_cases__list__filters_and_pages(void **state)
{
    struct fixture *f = *state;
    for (int i = 1; i <= 5; i++) {
        struct fake k = notice("x");
        k.county = i % 2 ? "San Francisco" : "Alameda";
        k.state = i <= 2 ? 2 : 3;
        /* Deadlines as the daemon stores them: microseconds since 1970,
         * beyond what a 32-bit integer holds. */
        k.due_us = INT64_C(1700000000000000) + i * 100;
        char id[16];
        snprintf(id, sizeof(id), "m-%d", i);
        write_case(f->s, "CA0000001", id, i, i, &k, NULL);
    }
    struct seen_cases s = {0};
    struct cjx_case_filter sf = {.county = "San Francisco"};
    cjx_store_list_cases(f->s, &sf, 0, 10, collect, &s, NULL, NULL);
    assert_int_equal(s.n, 3);
    memset(&s, 0, sizeof(s));
    struct cjx_case_filter st = {.state = 3, .county = "San Francisco"};
    cjx_store_list_cases(f->s, &st, 0, 10, collect, &s, NULL, NULL);
    assert_int_equal(s.n, 2);
    memset(&s, 0, sizeof(s));
    struct cjx_case_filter due = {.due_before_us =
                                      INT64_C(1700000000000000) + 250};
    cjx_store_list_cases(f->s, &due, 0, 10, collect, &s, NULL, NULL);
    assert_int_equal(s.n, 2);
    /* Pages by position: two, two, one. */
    int64_t after = 0, last = 0;
    int total = 0, pages = 0;
    do {
        memset(&s, 0, sizeof(s));
        last = 0;
        cjx_store_list_cases(f->s, NULL, after, 2, collect, &s, &last, NULL);
        total += s.n;
        pages++;
        after = last;
    } while (last != 0);
    assert_int_equal(total, 5);
    assert_int_equal(pages, 4); /* the last page is empty */
}

/* The case counts of a store, as "county|state|cases|overdue" lines. */
struct counts {
    char text[512];
    size_t len;
};

static int
collect_counts(void *arg, const struct cjx_case_count *c)
{
    struct counts *k = arg;
    k->len += (size_t)snprintf(k->text + k->len, sizeof(k->text) - k->len,
                               "%s|%d|%lld|%lld\n", c->county, c->state,
                               (long long)c->cases, (long long)c->overdue);
    return 0;
}

static void
test_store_cases__case_counts__by_county_and_state_with_overdue(void **state)
{
    struct fixture *f = *state;
    struct counts k = {0};
    assert_int_equal(
        cjx_store_case_counts(f->s, 1000, collect_counts, &k, NULL), 0);
    assert_string_equal(k.text, ""); /* no case yet */
    /* Five cases: SF state 2 (due 100), SF 3 (due 300, 500), Alameda 2
     * (due 200), Alameda 3 (no deadline). */
    static const struct {
        const char *county;
        int state;
        int64_t due_us;
    } cases[] = {{"San Francisco", 2, 100},
                 {"Alameda", 2, 200},
                 {"San Francisco", 3, 300},
                 {"Alameda", 3, 0},
                 {"San Francisco", 3, 500}};
    for (int i = 0; i < 5; i++) {
        struct fake c = notice("x");
        c.county = cases[i].county;
        c.state = cases[i].state;
        c.due_us = cases[i].due_us;
        char id[16];
        snprintf(id, sizeof(id), "c-%d", i);
        write_case(f->s, "CA0000001", id, i + 1, i, &c, NULL);
    }
    /* At 400: the deadlines at 100, 200 and 300 have passed. */
    memset(&k, 0, sizeof(k));
    assert_int_equal(cjx_store_case_counts(f->s, 400, collect_counts, &k, NULL),
                     0);
    assert_string_equal(k.text, "Alameda|2|1|1\n"
                                "Alameda|3|1|0\n"
                                "San Francisco|2|1|1\n"
                                "San Francisco|3|2|1\n");
    assert_int_equal(cjx_store_case_counts(f->s, 400, NULL, NULL, NULL),
                     CJX_EINVAL);
}

/* ---- the stats hook ---- */

struct commits {
    pthread_mutex_t mu;
    int transactions, writes;
    int64_t longest_us;
};

static void
on_commit_stats(void *arg, int64_t commit_us, int writes)
{
    struct commits *c = arg;
    pthread_mutex_lock(&c->mu);
    c->transactions++;
    c->writes += writes;
    if (commit_us > c->longest_us)
        c->longest_us = commit_us;
    pthread_mutex_unlock(&c->mu);
}

static void
test_store_cases__stats_hook__sees_every_committed_write(void **state)
{
    struct fixture *f = *state;
    struct commits c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    cjx_store_set_stats_hook(f->s, on_commit_stats, &c);
    for (int i = 0; i < 3; i++) {
        struct fake k = notice("x");
        char id[16];
        snprintf(id, sizeof(id), "s-%d", i);
        write_case(f->s, "CA0000001", id, i + 1, i, &k, NULL);
    }
    /* A refused write is rolled back inside its transaction, which still
     * commits: it counts as a write of that transaction. */
    struct fake refused = notice("x");
    refused.refuse = CJX_EINVAL;
    write_case(f->s, "CA0000001", "s-refused", 9, 9, &refused, NULL);
    cjx_store_set_stats_hook(f->s, NULL, NULL);
    struct fake after = notice("x");
    write_case(f->s, "CA0000001", "s-after", 10, 10, &after, NULL);

    pthread_mutex_lock(&c.mu);
    /* Each synchronous write waits for its commit: one transaction each,
     * and none after the hook was removed. */
    assert_int_equal(c.writes, 4);
    assert_true(c.transactions >= 1 && c.transactions <= 4);
    assert_true(c.longest_us > 0);
    pthread_mutex_unlock(&c.mu);
}

/* ---- the outbox ---- */

struct due {
    int n;
    int64_t ids[16];
    char payload[16][16];
    int attempts[16];
};

static int
collect_due(void *arg, const struct cjx_outbox_row *r)
{
    struct due *d = arg;
    d->ids[d->n] = r->id;
    d->attempts[d->n] = r->attempts;
    snprintf(d->payload[d->n], sizeof(d->payload[0]), "%.*s",
             (int)r->payload_len,
             r->payload != NULL ? (const char *)r->payload : "");
    d->n++;
    return 0;
}

static void
mark(struct cjx_store *s, int64_t id, enum cjx_outbox_outcome o, int64_t at,
     const char *why)
{
    struct cjx_outbox_mark m = {
        .id = id, .outcome = o, .next_attempt_us = at, .error = why};
    assert_int_equal(cjx_store_outbox_mark(s, &m, 1, NULL, NULL), 0);
    /* A case write queued after the mark is done after it. */
    struct fake fk = notice("sync");
    char rid[32];
    snprintf(rid, sizeof(rid), "sync-%lld", (long long)id * 10 + o);
    write_case(s, "CA0999999", rid, 99, 0, &fk, NULL);
}

struct counted {
    int n;
    struct cjx_outbox_count c[4];
    char names[4][16];
};

static int
collect_count(void *arg, const struct cjx_outbox_count *c)
{
    struct counted *k = arg;
    k->c[k->n] = *c;
    snprintf(k->names[k->n], sizeof(k->names[0]), "%s", c->destination_ori);
    k->c[k->n].destination_ori = k->names[k->n];
    k->n++;
    return 0;
}

static void
test_store_cases__outbox__one_row_per_peer_until_marked(void **state)
{
    struct fixture *f = *state;
    struct fake fk = notice("v1");
    fk.n_outbox = 3;
    fk.destinations[0] = "CA038013A";
    fk.destinations[1] = "CA038033J";
    fk.destinations[2] = "CA038023P";
    struct cjx_case_write_result r =
        write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    assert_int_equal(r.outbox_added, 3);
    int64_t now = cjx_clock_now_us();
    struct due d = {0};
    assert_int_equal(cjx_store_outbox_due(f->s, "CA038013A", now, 0, 1, 10,
                                          collect_due, &d, NULL),
                     0);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.payload[0], "payload");
    int64_t da_row = d.ids[0];

    mark(f->s, da_row, CJX_OUTBOX_MARK_DELIVERED, 0, NULL);
    memset(&d, 0, sizeof(d));
    cjx_store_outbox_due(f->s, "CA038013A", now, 0, 1, 10, collect_due, &d,
                         NULL);
    assert_int_equal(d.n, 0);

    /* A retry waits for its time; its reason is kept. */
    memset(&d, 0, sizeof(d));
    cjx_store_outbox_due(f->s, "CA038033J", now, 0, 1, 10, collect_due, &d,
                         NULL);
    assert_int_equal(d.n, 1);
    int64_t later = now + 60 * 1000000LL;
    mark(f->s, d.ids[0], CJX_OUTBOX_MARK_RETRY, later, "UNAVAILABLE: down");
    memset(&d, 0, sizeof(d));
    cjx_store_outbox_due(f->s, "CA038033J", now, 0, 1, 10, collect_due, &d,
                         NULL);
    assert_int_equal(d.n, 0);
    int64_t next = 0;
    cjx_store_outbox_next_due(f->s, "CA038033J", &next, NULL);
    assert_int_equal(next, later);
    memset(&d, 0, sizeof(d));
    cjx_store_outbox_due(f->s, "CA038033J", later, 0, 1, 10, collect_due, &d,
                         NULL);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.attempts[0], 1);

    /* A parked row is never due again. */
    memset(&d, 0, sizeof(d));
    cjx_store_outbox_due(f->s, "CA038023P", now, 0, 1, 10, collect_due, &d,
                         NULL);
    mark(f->s, d.ids[0], CJX_OUTBOX_MARK_PARK, 0, "PERMISSION_DENIED: no");
    memset(&d, 0, sizeof(d));
    cjx_store_outbox_due(f->s, "CA038023P", later * 2, 0, 1, 10, collect_due,
                         &d, NULL);
    assert_int_equal(d.n, 0);
    memset(&d, 0, sizeof(d));
    cjx_store_outbox_list(f->s, CJX_OUTBOX_PARKED, NULL, 0, 10, collect_due, &d,
                          NULL, NULL);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.payload[0], ""); /* listings carry no payload */

    struct counted k = {0};
    assert_int_equal(cjx_store_outbox_counts(f->s, 1, collect_count, &k, NULL),
                     0);
    assert_int_equal(k.n, 3);
    for (int i = 0; i < k.n; i++) {
        if (strcmp(k.names[i], "CA038013A") == 0) {
            assert_int_equal(k.c[i].delivered, 1);
            assert_int_equal(k.c[i].pending, 0);
        } else if (strcmp(k.names[i], "CA038033J") == 0) {
            assert_int_equal(k.c[i].pending, 1);
        } else {
            assert_int_equal(k.c[i].parked, 1);
        }
    }
}

/* Makes destination's waiting rows due at now_us and waits for it as
 * mark() does. */
static void
due_now(struct cjx_store *s, const char *destination, int64_t now_us)
{
    assert_int_equal(
        cjx_store_outbox_due_now(s, destination, now_us, NULL, NULL), 0);
    struct fake fk = notice("sync");
    char rid[48];
    snprintf(rid, sizeof(rid), "sync-due-%s-%lld", destination,
             (long long)now_us);
    write_case(s, "CA0999999", rid, 98, 0, &fk, NULL);
}

static void
test_store_cases__due_now__brings_one_peers_waiting_rows_forward(void **state)
{
    struct fixture *f = *state;
    for (int i = 1; i <= 4; i++) {
        struct fake fk = notice("v");
        fk.n_outbox = 2;
        fk.destinations[0] = "CA038013A";
        fk.destinations[1] = "CA038033J";
        char id[16];
        snprintf(id, sizeof(id), "m-%d", i);
        write_case(f->s, "CA0000001", id, i, i, &fk, NULL);
    }
    int64_t now = cjx_clock_now_us();
    int64_t later = now + 3600 * 1000000LL;
    /* Both peers were down: every row waits an hour. Of the DA's, one was
     * delivered, one parked, and one waits less long than the others. */
    struct due a = {0}, c = {0};
    cjx_store_outbox_due(f->s, "CA038013A", now, 0, 1, 10, collect_due, &a,
                         NULL);
    cjx_store_outbox_due(f->s, "CA038033J", now, 0, 1, 10, collect_due, &c,
                         NULL);
    assert_int_equal(a.n, 4);
    assert_int_equal(c.n, 4);
    for (int i = 0; i < 4; i++)
        mark(f->s, c.ids[i], CJX_OUTBOX_MARK_RETRY, later, "UNAVAILABLE");
    mark(f->s, a.ids[0], CJX_OUTBOX_MARK_DELIVERED, 0, NULL);
    mark(f->s, a.ids[1], CJX_OUTBOX_MARK_PARK, 0, "PERMISSION_DENIED: no");
    mark(f->s, a.ids[2], CJX_OUTBOX_MARK_RETRY, later, "UNAVAILABLE: down");
    mark(f->s, a.ids[3], CJX_OUTBOX_MARK_RETRY, now + 5, "UNAVAILABLE: down");

    int64_t back = now + 10;
    due_now(f->s, "CA038013A", back);

    /* The row that was due sooner was not put off (asked before the rows
     * are read: PostgreSQL leases what it reads), and the DA's two waiting
     * rows are due at back, tried once each. */
    int64_t next = 0;
    cjx_store_outbox_next_due(f->s, "CA038013A", &next, NULL);
    assert_int_equal(next, now + 5);
    struct due d = {0};
    cjx_store_outbox_due(f->s, "CA038013A", back, 0, 1, 10, collect_due, &d,
                         NULL);
    assert_int_equal(d.n, 2);
    for (int i = 0; i < d.n; i++) {
        assert_true(d.ids[i] == a.ids[2] || d.ids[i] == a.ids[3]);
        assert_int_equal(d.attempts[i], 1);
    }
    /* The delivered and the parked row stay as they were. */
    memset(&d, 0, sizeof(d));
    cjx_store_outbox_list(f->s, CJX_OUTBOX_PARKED, "CA038013A", 0, 10,
                          collect_due, &d, NULL, NULL);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.ids[0], a.ids[1]);
    /* The court's rows still wait their hour. */
    memset(&d, 0, sizeof(d));
    cjx_store_outbox_due(f->s, "CA038033J", back, 0, 1, 10, collect_due, &d,
                         NULL);
    assert_int_equal(d.n, 0);
    cjx_store_outbox_next_due(f->s, "CA038033J", &next, NULL);
    assert_int_equal(next, later);

    assert_int_equal(cjx_store_outbox_due_now(f->s, NULL, back, NULL, NULL),
                     CJX_EINVAL);
    assert_int_equal(cjx_store_outbox_due_now(f->s, "", back, NULL, NULL),
                     CJX_EINVAL);
    assert_int_equal(
        cjx_store_outbox_due_now(f->s, "CA038013ACA038013A", back, NULL, NULL),
        CJX_EINVAL);
}

static void
test_store_cases__outbox_partitions__never_share_a_row(void **state)
{
    struct fixture *f = *state;
    for (int i = 1; i <= 6; i++) {
        struct fake fk = notice("v");
        fk.n_outbox = 1;
        fk.destinations[0] = "CA038013A";
        char id[16];
        snprintf(id, sizeof(id), "m-%d", i);
        write_case(f->s, "CA0000001", id, i, i, &fk, NULL);
    }
    int64_t now = cjx_clock_now_us();
    struct due p0 = {0}, p1 = {0}, p2 = {0};
    cjx_store_outbox_due(f->s, "CA038013A", now, 0, 3, 10, collect_due, &p0,
                         NULL);
    cjx_store_outbox_due(f->s, "CA038013A", now, 1, 3, 10, collect_due, &p1,
                         NULL);
    cjx_store_outbox_due(f->s, "CA038013A", now, 2, 3, 10, collect_due, &p2,
                         NULL);
    assert_int_equal(p0.n + p1.n + p2.n, 6);
    for (int i = 0; i < p0.n; i++)
        assert_int_equal(p0.ids[i] % 3, 0);
    for (int i = 0; i < p1.n; i++)
        assert_int_equal(p1.ids[i] % 3, 1);
    assert_int_equal(cjx_store_outbox_due(f->s, "CA038013A", now, 3, 3, 10,
                                          collect_due, &p0, NULL),
                     CJX_EINVAL);
}

/* What the reads below would have visited: nothing, as each is refused. */
struct visited {
    struct seen records;
    struct seen_cases cases;
    struct due due;
};

static int
never_audit(void *arg, const struct cjx_stored_audit *a)
{
    (void)arg;
    (void)a;
    fail_msg("visited an audit entry");
    return 1;
}

/* Row `row` of the table below: one read with one argument its contract
 * does not take. */
static int
bad_read(struct cjx_store *s, int row, struct visited *v, struct cjx_errbuf *eb)
{
    struct cjx_stored_record rec;
    int64_t pos = 0, next = 0;
    switch (row) {
    case 0:
        return cjx_store_get_record(s, NULL, "C", 1, &rec, eb);
    case 1:
        return cjx_store_get_case(s, "A1", "C", 1, 0, NULL, eb);
    case 2:
        return cjx_store_list_records(s, (enum cjx_record_filter)9, "x", 0, 1,
                                      visit_collect, &v->records, &pos, eb);
    case 3:
        return cjx_store_list_records(s, CJX_FILTER_CII, NULL, 0, 1,
                                      visit_collect, &v->records, &pos, eb);
    case 4:
        return cjx_store_list_records(s, CJX_FILTER_CII, "x", -1, 1,
                                      visit_collect, &v->records, &pos, eb);
    case 5:
        return cjx_store_read_changes(s, 0, 0, visit_collect, &v->records, eb);
    case 6:
        return cjx_store_read_audit(s, 0, 10, NULL, NULL, eb);
    case 7:
        return cjx_store_read_audit_checkpoints(s, -1, 10, never_audit, NULL,
                                                eb);
    case 8:
        return cjx_store_list_cases(s, NULL, 0, 0, collect, &v->cases, &pos,
                                    eb);
    case 9:
        return cjx_store_read_case_changes(s, -1, 10, collect, &v->cases, eb);
    case 10:
        return cjx_store_outbox_due(s, "CA038013A", 0, 3, 3, 10, collect_due,
                                    &v->due, eb);
    case 11:
        return cjx_store_outbox_due(s, "", 0, 0, 1, 10, collect_due, &v->due,
                                    eb);
    case 12:
        return cjx_store_outbox_next_due(s, "CA038013A", NULL, eb);
    case 13:
        return cjx_store_outbox_next_due(s, NULL, &next, eb);
    case 14:
        return cjx_store_outbox_list(s, (enum cjx_outbox_which)9, NULL, 0, 10,
                                     collect_due, &v->due, &pos, eb);
    case 15:
        return cjx_store_outbox_list(s, CJX_OUTBOX_ALL, NULL, 0, 0, collect_due,
                                     &v->due, &pos, eb);
    case 16:
        return cjx_store_outbox_counts(s, 1, NULL, NULL, eb);
    case 17:
        return cjx_store_case_counts(s, 0, NULL, NULL, eb);
    }
    fail_msg("no row %d", row);
    return 0;
}

/* Every backend refuses them alike, with the same message naming the read
 * and what it lacks: the row of bad_read, then that message. */
static const char *const bad_read_message[] = {
    "get_record: missing key or output",
    "get_case: missing key or output",
    "list_records: unknown filter 9",
    "list_records: needs a value",
    "list_records: needs a visitor, a position >= 0 and a limit > 0",
    "read_changes: needs a visitor, a seq >= 0 and a limit > 0",
    "read_audit: needs a visitor, a seq >= 0 and a limit > 0",
    "read_audit_checkpoints: needs a visitor, a seq >= 0 and a limit > 0",
    "list_cases: needs a visitor, a position >= 0 and a limit > 0",
    "read_case_changes: needs a visitor, a seq >= 0 and a limit > 0",
    "outbox_due: needs a destination, a visitor, a limit and 0 <= partition "
    "< partitions",
    "outbox_due: needs a destination, a visitor, a limit and 0 <= partition "
    "< partitions",
    "outbox_next_due: needs a destination and an output",
    "outbox_next_due: needs a destination and an output",
    "outbox_list: unknown filter 9",
    "outbox_list: needs a visitor, a position >= 0 and a limit > 0",
    "outbox_counts: needs a visitor",
    "case_counts: needs a visitor",
};

static void
test_store_cases__bad_read_arguments__refused_naming_what_is_missing(
    void **state)
{
    struct fixture *f = *state;
    /* A case with a hand-off, so that a read let through would visit. */
    struct fake fk = notice("v1");
    fk.n_outbox = 1;
    fk.destinations[0] = "CA038013A";
    write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    int rows = (int)(sizeof(bad_read_message) / sizeof(bad_read_message[0]));
    for (int row = 0; row < rows; row++) {
        struct visited v = {0};
        struct cjx_errbuf eb = {{0}};
        int err = bad_read(f->s, row, &v, &eb);
        if (err != CJX_EINVAL || strcmp(eb.msg, bad_read_message[row]) != 0)
            fail_msg("row %d: %d \"%s\", expected CJX_EINVAL \"%s\"", row, err,
                     eb.msg, bad_read_message[row]);
        assert_int_equal(v.records.n + v.cases.n + v.due.n, 0);
    }
}

static void
test_store_cases__bad_arguments__refused(void **state)
{
    struct fixture *f = *state;
    struct cjx_case_write w = {.sender_ori = "CA0000001",
                               .request_id = "",
                               .cii = "A1",
                               .court_case_number = "C",
                               .apply = fake_apply};
    assert_int_equal(cjx_store_submit_case(f->s, &w, write_done, NULL),
                     CJX_EINVAL);
    w.request_id = "x";
    w.apply = NULL;
    assert_int_equal(cjx_store_submit_case(f->s, &w, write_done, NULL),
                     CJX_EINVAL);
    struct cjx_outbox_mark m = {.id = 0, .outcome = CJX_OUTBOX_MARK_DELIVERED};
    assert_int_equal(cjx_store_outbox_mark(f->s, &m, 1, NULL, NULL),
                     CJX_EINVAL);
    m.id = 1;
    m.outcome = (enum cjx_outbox_outcome)9;
    assert_int_equal(cjx_store_outbox_mark(f->s, &m, 1, NULL, NULL),
                     CJX_EINVAL);
    assert_int_equal(
        cjx_store_list_cases(f->s, NULL, 0, 0, collect, NULL, NULL, NULL),
        CJX_EINVAL);
}

/* ---- hooks ---- */

struct hook_count {
    int calls;
    size_t added;
    int64_t last;
};

static void
count_hook(void *arg, int64_t last, size_t added)
{
    struct hook_count *h = arg;
    h->calls++;
    h->added += added;
    h->last = last;
}

static void
test_store_cases__hook__sees_each_commit_before_its_answer(void **state)
{
    struct fixture *f = *state;
    struct hook_count h = {0};
    assert_int_equal(cjx_store_add_case_hook(f->s, count_hook, &h), 0);
    struct fake fk = notice("v1");
    fk.n_outbox = 2;
    fk.destinations[0] = "CA038013A";
    fk.destinations[1] = "CA038033J";
    write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.added, 2);
    assert_int_equal(h.last, 1);
    /* A replay changes nothing and calls nothing. */
    write_case(f->s, "CA0000001", "m-1", 1, 0, &fk, NULL);
    assert_int_equal(h.calls, 1);
    cjx_store_remove_case_hook(f->s, count_hook, &h);
    struct fake more = notice("v2");
    write_case(f->s, "CA0000001", "m-2", 1, 1, &more, NULL);
    assert_int_equal(h.calls, 1);
}

#define T(name) STORE_TEST(name)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store_cases__new_case__stored_with_seq_1_and_answered_with_it),
        T(test_store_cases__repeated_message_id__returns_first_answer_and_changes_nothing),
        T(test_store_cases__same_id_other_content__is_a_conflict),
        T(test_store_cases__same_id_from_another_sender__is_another_message),
        T(test_store_cases__refusal__stores_nothing_and_a_retry_is_applied_again),
        T(test_store_cases__repeated_step__stores_the_id_and_answers_with_the_case),
        T(test_store_cases__broken_apply_result__is_refused_whole),
        T(test_store_cases__write_failing_halfway__leaves_nothing),
        T(test_store_cases__write_with_event__commits_its_audit_entry),
        T(test_store_cases__notice__kept_once_with_the_case),
        T(test_store_cases__reopen__keeps_cases_inbox_outbox_and_seq),
        T(test_store_cases__feed__every_version_in_seq_order),
        T(test_store_cases__list__filters_and_pages),
        T(test_store_cases__case_counts__by_county_and_state_with_overdue),
        T(test_store_cases__stats_hook__sees_every_committed_write),
        T(test_store_cases__outbox__one_row_per_peer_until_marked),
        T(test_store_cases__outbox_partitions__never_share_a_row),
        T(test_store_cases__due_now__brings_one_peers_waiting_rows_forward),
        T(test_store_cases__bad_arguments__refused),
        T(test_store_cases__bad_read_arguments__refused_naming_what_is_missing),
        T(test_store_cases__hook__sees_each_commit_before_its_answer),
    };
    /* SQLite's own: its writer can be held to gather a batch. */
    const struct CMUnitTest sqlite_tests[] = {
        T(test_store_cases__write_failing_halfway_in_a_batch__leaves_the_others),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (!test_backend_is_pg())
        failed += cmocka_run_group_tests(sqlite_tests, NULL, NULL);
    return failed;
}
