/* Unit tests for the progress report's tallies: steps counted in the
 * period only, deadlines judged at its end, medians of whole days, and the
 * writers' output for a known set of cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/date.h"
#include "progress.h"

#define DAY (INT64_C(86400) * 1000000)

static int64_t
day(int y, int m, int d)
{
    return cjx_date_to_days(y, m, d) * DAY;
}

/* A case of county whose steps were taken on the given days (0: not). */
struct case_spec {
    const char *county;
    Cjx__V1__CaseState state;
    Cjx__V1__DecisionKind decision;
    Cjx__V1__OrderRelief order;
    int64_t identified, notified, decided, ordered, updated;
    int64_t review_by, order_by;
};

static void
add(struct progress *p, const struct case_spec *s)
{
    Cjx__V1__Case c = CJX__V1__CASE__INIT;
    Cjx__V1__CaseTimes t = CJX__V1__CASE_TIMES__INIT;
    Cjx__V1__CaseDeadlines d = CJX__V1__CASE_DEADLINES__INIT;
    c.county = (char *)s->county;
    c.state = s->state;
    c.decision = s->decision;
    c.order = s->order;
    t.identified_at_unix_us = s->identified;
    t.notified_at_unix_us = s->notified;
    t.decided_at_unix_us = s->decided;
    t.ordered_at_unix_us = s->ordered;
    t.history_updated_at_unix_us = s->updated;
    d.review_by_unix_us = s->review_by;
    d.order_by_unix_us = s->order_by;
    c.times = &t;
    c.deadlines = &d;
    assert_int_equal(progress_add(p, &c), 0);
}

#define ST(x) CJX__V1__CASE_STATE__CASE_STATE_##x
#define DK(x) CJX__V1__DECISION_KIND__DECISION_KIND_##x
#define OR(x) CJX__V1__ORDER_RELIEF__ORDER_RELIEF_##x

/* Q1 2026, judged on 2026-04-01 (the period's end). */
static void
fill(struct progress *p)
{
    progress_init(p, day(2026, 1, 1), day(2026, 4, 1), day(2026, 6, 1));
    static struct case_spec cases[5];
    cases[0] = (struct case_spec){"Yolo",
                                  ST(HISTORY_UPDATED),
                                  DK(NO_CHALLENGE),
                                  OR(DISMISS_AND_SEAL),
                                  day(2026, 1, 1),
                                  day(2026, 1, 2),
                                  day(2026, 1, 12),
                                  day(2026, 2, 1),
                                  day(2026, 2, 4),
                                  0,
                                  0};
    cases[1] = (struct case_spec){"Yolo",
                                  ST(CHALLENGED),
                                  DK(CHALLENGE),
                                  0,
                                  day(2026, 1, 1),
                                  day(2026, 1, 2),
                                  day(2026, 1, 22),
                                  0,
                                  0,
                                  0,
                                  0};
    /* Notified before the period, decision due in it and never taken. */
    cases[2] = (struct case_spec){
        "Yolo", ST(NOTIFIED),    0, 0, day(2025, 12, 1), day(2025, 12, 2), 0, 0,
        0,      day(2026, 3, 1), 0};
    /* Decided after the period: not counted as a decision, and its review
     * deadline (after the end) is not missed. */
    cases[3] = (struct case_spec){"Alameda",
                                  ST(NOT_CHALLENGED),
                                  DK(NO_CHALLENGE),
                                  0,
                                  day(2026, 3, 1),
                                  day(2026, 3, 1),
                                  day(2026, 4, 5),
                                  0,
                                  0,
                                  day(2026, 4, 10),
                                  day(2026, 3, 20)};
    cases[4] = (struct case_spec){"Alameda",
                                  ST(ORDERED),
                                  DK(LAPSED),
                                  OR(REDUCE_TO_MISDEMEANOR),
                                  day(2026, 1, 5),
                                  day(2026, 1, 5),
                                  day(2026, 2, 5),
                                  day(2026, 3, 30),
                                  0,
                                  0,
                                  0};
    for (int i = 0; i < 5; i++)
        add(p, &cases[i]);
}

static void
test_progress__steps_in_the_period_deadlines_at_its_end(void **state)
{
    (void)state;
    struct progress p;
    fill(&p);
    assert_int_equal(p.n, 2);
    const struct progress_county *yolo = &p.counties[0], *ala = &p.counties[1];
    assert_string_equal(yolo->name, "Yolo");
    assert_int_equal(yolo->cases, 3);
    assert_int_equal(yolo->notified, 2);
    assert_int_equal(yolo->not_challenged, 1);
    assert_int_equal(yolo->challenged, 1);
    assert_int_equal(yolo->orders[OR(DISMISS_AND_SEAL)], 1);
    assert_int_equal(yolo->records_updated, 1);
    assert_int_equal(yolo->overdue[PROGRESS_HOP_REVIEW], 1);
    assert_int_equal(ala->not_challenged, 0);
    assert_int_equal(ala->lapsed, 1);
    assert_int_equal(ala->orders[OR(REDUCE_TO_MISDEMEANOR)], 1);
    assert_int_equal(ala->overdue[PROGRESS_HOP_REVIEW], 0);
    /* Ordered nowhere by 20 March. */
    assert_int_equal(ala->overdue[PROGRESS_HOP_ORDER], 1);
    /* Review: Yolo 10 and 20 days (the lower middle), Alameda 31. */
    assert_int_equal(progress_median_days(yolo, PROGRESS_HOP_REVIEW), 10);
    assert_int_equal(progress_median_days(ala, PROGRESS_HOP_REVIEW), 31);
    assert_int_equal(progress_median_days(ala, PROGRESS_HOP_HISTORY), -1);
    /* Weekly buckets: the order of 1 Feb is in week 4 (from 29 Jan). */
    assert_int_equal(p.bucket_days, 7);
    assert_int_equal(p.n_buckets, 13);
    assert_int_equal(p.throughput[PROGRESS_HOP_ORDER][4], 1);
    progress_fini(&p);
}

static void
test_progress__csv_and_json_carry_the_numbers(void **state)
{
    (void)state;
    struct progress p;
    fill(&p);
    char buf[8192] = "";
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    assert_int_equal(progress_write_csv(&p, f), 0);
    fclose(f);
    const char *yolo = strstr(buf, "\nYolo,");
    assert_non_null(yolo);
    assert_true(strncmp(yolo,
                        "\nYolo,3,0,1,0,1,0,1,2,1,1,0,0,0,0,1,1,0,1,0,0,"
                        "1,10,20,3\n",
                        56) == 0);
    assert_non_null(strstr(buf, "\nAll counties,5,"));
    f = fmemopen(buf, sizeof(buf), "w");
    assert_int_equal(progress_write_json(&p, f), 0);
    fclose(f);
    assert_non_null(strstr(buf, "\"from\": \"2026-01-01\", \"to\": "
                                "\"2026-03-31\""));
    assert_non_null(strstr(buf, "\"median_days\": {\"notice\": 0, \"review\": "
                                "31, \"order\": 53, \"history\": null}"));
    progress_fini(&p);
}

static void
test_progress__html_is_self_contained_and_escapes_names(void **state)
{
    (void)state;
    struct progress p;
    progress_init(&p, day(2026, 1, 1), day(2026, 4, 1), day(2026, 6, 1));
    struct case_spec s = {"<b>&\"Yolo",
                          ST(NOTIFIED),
                          0,
                          0,
                          day(2026, 1, 1),
                          day(2026, 1, 2),
                          0,
                          0,
                          0,
                          0,
                          0};
    add(&p, &s);
    static char buf[65536];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    assert_int_equal(progress_write_html(&p, "Q1 <2026>", f), 0);
    fclose(f);
    assert_non_null(strstr(buf, "&lt;b&gt;&amp;&quot;Yolo"));
    assert_null(strstr(buf, "<b>&"));
    assert_non_null(strstr(buf, "<title>Q1 &lt;2026&gt;</title>"));
    assert_int_equal(strstr(buf, "<svg") != NULL, 1);
    /* Nothing is loaded from anywhere. */
    assert_null(strstr(buf, "<script"));
    assert_null(strstr(buf, "src="));
    assert_null(strstr(buf, "href="));
    assert_null(strstr(buf, "url("));
    assert_null(strstr(buf, "@import"));
    progress_fini(&p);
}

static void
test_progress__last_quarter(void **state)
{
    (void)state;
    int64_t from, to;
    progress_last_quarter(day(2026, 12, 6) + 5, &from, &to);
    assert_true(from == day(2026, 7, 1) && to == day(2026, 10, 1));
    progress_last_quarter(day(2026, 2, 1), &from, &to);
    assert_true(from == day(2025, 10, 1) && to == day(2026, 1, 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_progress__steps_in_the_period_deadlines_at_its_end),
        cmocka_unit_test(test_progress__csv_and_json_carry_the_numbers),
        cmocka_unit_test(
            test_progress__html_is_self_contained_and_escapes_names),
        cmocka_unit_test(test_progress__last_quarter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
