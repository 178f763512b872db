/* Unit tests for src/common: errors, clock formatting, arena. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/arena.h"
#include "cjx/clock.h"
#include "cjx/error.h"
#include "cjx/log.h"

static void
test_error__every_code_has_a_name_and_message(void **state)
{
    (void)state;
    assert_string_equal(cjx_err_name(CJX_ENOTFOUND), "CJX_ENOTFOUND");
    assert_string_equal(cjx_strerror(CJX_ENOTFOUND), "not found");
    for (int e = CJX_EINVAL; e <= CJX_EINTERNAL; e++) {
        assert_string_not_equal(cjx_strerror(e), "unknown error");
        assert_true(e < 0);
    }
    assert_string_equal(cjx_strerror(12345), "unknown error");
}

static void
test_error__errf_formats_and_returns_code(void **state)
{
    (void)state;
    struct cjx_errbuf eb;
    assert_int_equal(cjx_errf(&eb, CJX_EPARSE, "%s:%d: bad", "f.yaml", 3),
                     CJX_EPARSE);
    assert_string_equal(eb.msg, "f.yaml:3: bad");
    assert_int_equal(cjx_errf(NULL, CJX_EIO, "ignored"), CJX_EIO);
}

static void
test_clock__formats_utc_with_microseconds(void **state)
{
    (void)state;
    char buf[40];
    cjx_clock_format_utc(INT64_C(1478649600123456), buf, sizeof(buf));
    assert_string_equal(buf, "2016-11-09T00:00:00.123456Z");
}

static int64_t
fixed_now(void)
{
    return 42;
}

static void
test_clock__source_can_be_replaced(void **state)
{
    (void)state;
    cjx_clock_set_source(fixed_now);
    assert_int_equal(cjx_clock_now_us(), 42);
    cjx_clock_set_source(NULL);
    assert_true(cjx_clock_now_us() > INT64_C(1600000000000000));
}

static void
test_arena__allocations_are_aligned_and_distinct(void **state)
{
    (void)state;
    char buf[256];
    struct cjx_arena a;
    cjx_arena_init(&a, buf, sizeof(buf), 0);
    char *p = cjx_arena_alloc(&a, 3);
    char *q = cjx_arena_alloc(&a, 100000); /* spills into a chunk */
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal(
        (uintptr_t)q % sizeof(max_align_t) == 0 || (uintptr_t)q % 16 == 0, 1);
    memset(q, 7, 100000);
    assert_ptr_not_equal(p, q);
    cjx_arena_reset(&a);
    assert_int_equal(a.used, 0);
    cjx_arena_fini(&a);
}

static void
test_arena__limit_refuses_and_marks_failed(void **state)
{
    (void)state;
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 1024);
    assert_non_null(cjx_arena_alloc(&a, 512));
    assert_null(cjx_arena_alloc(&a, 1024));
    assert_true(a.failed);
    cjx_arena_fini(&a);
}

static void
test_arena__injected_failure_hits_the_nth_allocation(void **state)
{
    (void)state;
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    cjx_arena_fail_after(2);
    assert_non_null(cjx_arena_alloc(&a, 8));
    assert_null(cjx_arena_alloc(&a, 8));
    assert_non_null(cjx_arena_alloc(&a, 8));
    cjx_arena_fini(&a);
}

static void
test_arena__strndup_terminates(void **state)
{
    (void)state;
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    char *s = cjx_arena_strndup(&a, "hello world", 5);
    assert_string_equal(s, "hello");
    cjx_arena_fini(&a);
}

static void
test_log__level_parse(void **state)
{
    (void)state;
    enum cjx_log_level l;
    assert_int_equal(cjx_log_level_parse("warn", &l), 0);
    assert_int_equal(l, CJX_LOG_WARN);
    assert_int_equal(cjx_log_level_parse("loud", &l), CJX_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error__every_code_has_a_name_and_message),
        cmocka_unit_test(test_error__errf_formats_and_returns_code),
        cmocka_unit_test(test_clock__formats_utc_with_microseconds),
        cmocka_unit_test(test_clock__source_can_be_replaced),
        cmocka_unit_test(test_arena__allocations_are_aligned_and_distinct),
        cmocka_unit_test(test_arena__limit_refuses_and_marks_failed),
        cmocka_unit_test(test_arena__injected_failure_hits_the_nth_allocation),
        cmocka_unit_test(test_arena__strndup_terminates),
        cmocka_unit_test(test_log__level_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
