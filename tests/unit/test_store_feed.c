/* Unit tests for the store's listings and its change feed, against
 * either backend (store_backend.h): paging by filter, resuming after any
 * seq, and the commit hook. */
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

/* ---- listing and the change feed ---- */

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

int
main(void)
{
    /* Both backends. */
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_store__list_by_filter__pages_without_repeats_or_gaps),
        STORE_TEST(
            test_store__list_stopped_by_visitor__resumes_at_the_row_it_stopped_at),
        STORE_TEST(test_store__bad_list_arguments__are_refused),
        STORE_TEST(test_store__read_changes__resumes_after_any_seq),
        STORE_TEST(test_store__commit_hook__fires_with_the_new_seq),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return failed;
}
