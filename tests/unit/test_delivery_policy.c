/* Unit tests of the delivery policy (src/delivery/policy.c): what becomes
 * of each row of a batch, restated here as a table of answers and checked
 * row by row, and the backoff of each row by its own attempts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/error.h"
#include "policy.h"

#define NOW INT64_C(1000000000000)
#define MS  INT64_C(1000)

/* No jitter in the table: the factor is 1. */
static int64_t
no_jitter(void *arg, int64_t base)
{
    (void)arg;
    return base;
}

static const struct delivery_backoff backoff = {
    .initial_us = 50 * MS, .max_us = 400 * MS, .jitter = no_jitter};

enum {
    D = CJX_OUTBOX_MARK_DELIVERED,
    R = CJX_OUTBOX_MARK_RETRY,
    P = CJX_OUTBOX_MARK_PARK
};

/* One peer result: its status and retry_later. */
struct result {
    int code;
    int retry_later;
};

/* Each case: the call's transport error and status, up to three rows'
 * results (code -1: no results at all), the rows' attempts, and what each
 * row must become, with the delay of a retry (from NOW) and the verdict. */
static const struct {
    const char *name;
    int transport_err;
    int call_code;
    int n;
    struct result results[3];
    int attempts[3];
    int outcome[3];
    int64_t delay[3];
    int peer_failed, shrink, refused_all;
} table[] = {
    {"all delivered",
     0,
     0,
     3,
     {{0, 0}, {0, 0}, {0, 0}},
     {0, 1, 5},
     {D, D, D},
     {0, 0, 0},
     0,
     0,
     0},
    {"a step not arrived yet: retried by its own attempts",
     0,
     0,
     3,
     {{0, 0},
      {CJX_STATUS_FAILED_PRECONDITION, 1},
      {CJX_STATUS_FAILED_PRECONDITION, 1}},
     {0, 0, 2},
     {D, R, R},
     {0, 50 * MS, 200 * MS},
     0,
     0,
     0},
    {"a final refusal parks only its row",
     0,
     0,
     3,
     {{CJX_STATUS_PERMISSION_DENIED, 0},
      {0, 0},
      {CJX_STATUS_FAILED_PRECONDITION, 0}},
     {0, 0, 0},
     {P, D, P},
     {0, 0, 0},
     0,
     0,
     0},
    {"the peer overloaded or failing for a row: retried",
     0,
     0,
     3,
     {{CJX_STATUS_RESOURCE_EXHAUSTED, 0},
      {CJX_STATUS_UNAVAILABLE, 0},
      {CJX_STATUS_INTERNAL, 0}},
     {1, 9, 3},
     {R, R, R},
     {100 * MS, 400 * MS, 400 * MS},
     0,
     0,
     0},
    {"bad input of one row: parked",
     0,
     0,
     2,
     {{CJX_STATUS_INVALID_ARGUMENT, 0}, {CJX_STATUS_ALREADY_EXISTS, 0}},
     {0, 0},
     {P, P},
     {0, 0},
     0,
     0,
     0},
    {"unreachable peer: each row backs off by its own attempts",
     CJX_EBUSY,
     0,
     3,
     {{-1, 0}},
     {0, 1, 20},
     {R, R, R},
     {50 * MS, 100 * MS, 400 * MS},
     1,
     0,
     0},
    {"deadline exceeded: retried",
     0,
     CJX_STATUS_DEADLINE_EXCEEDED,
     2,
     {{-1, 0}},
     {0, 0},
     {R, R},
     {50 * MS, 50 * MS},
     1,
     0,
     0},
    {"batch too big: all again at once, half per call",
     0,
     CJX_STATUS_RESOURCE_EXHAUSTED,
     2,
     {{-1, 0}},
     {3, 3},
     {R, R},
     {0, 0},
     1,
     1,
     0},
    {"one row unreadable to the peer: halve until found",
     0,
     CJX_STATUS_INVALID_ARGUMENT,
     2,
     {{-1, 0}},
     {0, 0},
     {R, R},
     {0, 0},
     1,
     1,
     0},
    {"a single unreadable row is parked",
     0,
     CJX_STATUS_INVALID_ARGUMENT,
     1,
     {{-1, 0}},
     {0},
     {P},
     {0},
     1,
     0,
     1},
    {"the peer does not know Deliver: parked",
     0,
     CJX_STATUS_UNIMPLEMENTED,
     2,
     {{-1, 0}},
     {0, 0},
     {P, P},
     {0, 0},
     1,
     0,
     1},
    {"the caller is not allowed (yet): retried",
     0,
     CJX_STATUS_PERMISSION_DENIED,
     2,
     {{-1, 0}},
     {0, 4},
     {R, R},
     {50 * MS, 400 * MS},
     1,
     0,
     0},
    {"an answer that does not match the batch: retried",
     0,
     0,
     3,
     {{0, 0}, {0, 0}},
     {0, 0, 0},
     {R, R, R},
     {50 * MS, 50 * MS, 50 * MS},
     1,
     0,
     0},
};

static void
test_delivery_policy__every_answer__marks_each_row_as_the_table_says(
    void **state)
{
    (void)state;
    for (size_t t = 0; t < sizeof(table) / sizeof(table[0]); t++) {
        int n = table[t].n;
        struct delivery_row rows[3];
        Cjx__V1__CaseResult res[3], *resp[3];
        Cjx__V1__CaseResults results = CJX__V1__CASE_RESULTS__INIT;
        size_t n_results = 0;
        for (int i = 0; i < 3; i++) {
            rows[i] = (struct delivery_row){.id = 100 + i,
                                            .attempts = table[t].attempts[i]};
            cjx__v1__case_result__init(&res[i]);
            if (i < n && table[t].results[0].code >= 0) {
                res[i].code = table[t].results[i].code;
                res[i].retry_later = table[t].results[i].retry_later;
                res[i].request_id = "r";
                res[i].message = "why";
                resp[n_results++] = &res[i];
            }
        }
        /* The mismatch row lists two results for three rows. */
        if (strstr(table[t].name, "does not match") != NULL)
            n_results = 2;
        results.results = resp;
        results.n_results = n_results;
        struct delivery_answer a = {.transport_err = table[t].transport_err,
                                    .code = table[t].call_code,
                                    .message = "peer says no",
                                    .results =
                                        table[t].results[0].code >= 0 &&
                                                table[t].transport_err == 0 &&
                                                table[t].call_code == 0
                                            ? &results
                                            : NULL};
        struct cjx_outbox_mark m[3];
        char why[3][DELIVERY_WHY_LEN];
        struct delivery_verdict v;
        delivery_decide(rows, (size_t)n, &a, &backoff, NOW, "peer:1", m, why,
                        &v);
        for (int i = 0; i < n; i++) {
            if (m[i].id != rows[i].id ||
                (int)m[i].outcome != table[t].outcome[i])
                fail_msg("%s: row %d marked %d, want %d", table[t].name, i,
                         (int)m[i].outcome, table[t].outcome[i]);
            if (m[i].outcome == CJX_OUTBOX_MARK_RETRY &&
                m[i].next_attempt_us != NOW + table[t].delay[i])
                fail_msg("%s: row %d retried after %lld us, want %lld",
                         table[t].name, i,
                         (long long)(m[i].next_attempt_us - NOW),
                         (long long)table[t].delay[i]);
            if (m[i].outcome != CJX_OUTBOX_MARK_DELIVERED &&
                (m[i].error == NULL || m[i].error[0] == '\0'))
                fail_msg("%s: row %d has no reason", table[t].name, i);
        }
        if (v.peer_failed != table[t].peer_failed ||
            v.shrink != table[t].shrink ||
            v.refused_all != table[t].refused_all)
            fail_msg("%s: verdict failed %d shrink %d refused %d",
                     table[t].name, v.peer_failed, v.shrink, v.refused_all);
        if (v.delivered + v.retried + v.parked != (size_t)n)
            fail_msg("%s: the verdict counts %zu rows of %d", table[t].name,
                     v.delivered + v.retried + v.parked, n);
    }
}

static void
test_delivery_policy__reasons__name_the_status_and_the_peer(void **state)
{
    (void)state;
    struct delivery_row rows[1] = {{.id = 7, .attempts = 0}};
    struct cjx_outbox_mark m[1];
    char why[1][DELIVERY_WHY_LEN];
    struct delivery_verdict v;
    struct delivery_answer down = {.transport_err = CJX_EBUSY};
    delivery_decide(rows, 1, &down, &backoff, NOW, "127.0.0.1:7441", m, why,
                    &v);
    assert_non_null(strstr(m[0].error, "127.0.0.1:7441"));
    Cjx__V1__CaseResult r = CJX__V1__CASE_RESULT__INIT;
    r.code = CJX_STATUS_PERMISSION_DENIED;
    r.message = "relief order: COURT of Alameda may not act";
    Cjx__V1__CaseResult *rp = &r;
    Cjx__V1__CaseResults results = CJX__V1__CASE_RESULTS__INIT;
    results.results = &rp;
    results.n_results = 1;
    struct delivery_answer refused = {.results = &results};
    delivery_decide(rows, 1, &refused, &backoff, NOW, "peer", m, why, &v);
    assert_string_equal(m[0].error, "PERMISSION_DENIED: relief order: COURT "
                                    "of Alameda may not act");
}

static void
test_delivery_policy__backoff__doubles_per_attempt_up_to_the_max(void **state)
{
    (void)state;
    int64_t want[] = {50, 100, 200, 400, 400, 400};
    for (int i = 0; i < 6; i++)
        assert_int_equal(delivery_backoff_us(&backoff, i), want[i] * MS);
}

/* A woken sender waits for company only on a busy outbox: one whose last
 * call ended less than the linger ago. A lone hand-off after a quiet
 * spell, or the first one, is read and sent at once. */
static void
test_delivery_policy__linger__only_after_a_recent_call(void **state)
{
    (void)state;
    const int64_t linger = 3 * MS;
    static const struct {
        int64_t idle_us;
        int64_t want;
    } lingers[] = {
        {0, 3 * MS},          /* a call has just ended */
        {3 * MS - 1, 3 * MS}, /* still within the window */
        {3 * MS, 0},          /* idle for a whole window */
        {250 * MS, 0},        /* a quiet exchange */
        {INT64_MAX, 0},       /* no call made yet */
    };
    for (size_t i = 0; i < sizeof(lingers) / sizeof(lingers[0]); i++)
        assert_int_equal(delivery_linger_us(lingers[i].idle_us, linger),
                         lingers[i].want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_delivery_policy__every_answer__marks_each_row_as_the_table_says),
        cmocka_unit_test(
            test_delivery_policy__reasons__name_the_status_and_the_peer),
        cmocka_unit_test(
            test_delivery_policy__backoff__doubles_per_attempt_up_to_the_max),
        cmocka_unit_test(
            test_delivery_policy__linger__only_after_a_recent_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
