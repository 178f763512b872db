/* Unit tests for src/common: errors, clock formatting, arena, log lines, the calendar, whole-file reads. */
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cjx/arena.h"
#include "cjx/clock.h"
#include "cjx/date.h"
#include "cjx/error.h"
#include "cjx/file.h"
#include "cjx/log.h"
#include "cjx/utf8.h"

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

static void
test_log__format_parse(void **state)
{
    (void)state;
    enum cjx_log_format f = CJX_LOG_TEXT;
    assert_int_equal(cjx_log_format_parse("json", &f), 0);
    assert_int_equal(f, CJX_LOG_JSON);
    assert_int_equal(cjx_log_format_parse("text", &f), 0);
    assert_int_equal(f, CJX_LOG_TEXT);
    assert_int_equal(cjx_log_format_parse("JSON", &f), CJX_EINVAL);
    assert_int_equal(cjx_log_format_parse("", &f), CJX_EINVAL);
    assert_int_equal(f, CJX_LOG_TEXT);
}

/* Runs the logging in between with stderr sent to a temporary file, whose
 * text is returned in out. */
struct captured {
    FILE *file;
    int saved;
};

static void
capture_begin(struct captured *c)
{
    c->file = tmpfile();
    assert_non_null(c->file);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

static void
capture_end(struct captured *c, char *out, size_t size)
{
    assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
    close(c->saved);
    rewind(c->file);
    size_t n = fread(out, 1, size - 1, c->file);
    out[n] = '\0';
    fclose(c->file);
}

static const char *
member(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static void
test_log__json_lines__one_object_per_line_with_the_fields(void **state)
{
    (void)state;
    struct captured c;
    char out[8192];
    struct cjx_log_fields f = {.peer = "CA038013A",
                               .method = "/cjx.v1.CaseService/Deliver",
                               .request_id = "req-1",
                               .status = "PERMISSION_DENIED"};
    cjx_log_set_format(CJX_LOG_JSON);
    capture_begin(&c);
    cjx_log_with(CJX_LOG_WARN, "rpc", &f, "refused \"%s\"\nforged line",
                 "x\\y");
    cjx_info("store", "bad byte \xff here");
    cjx_debug("store", "below the level: not written");
    capture_end(&c, out, sizeof(out));
    cjx_log_set_format(CJX_LOG_TEXT);

    /* Two lines, each a JSON object on its own. */
    char *second = strchr(out, '\n');
    assert_non_null(second);
    *second++ = '\0';
    char *end = strchr(second, '\n');
    assert_non_null(end);
    *end = '\0';
    assert_string_equal(end + 1, "");

    struct json_object *a = json_tokener_parse(out);
    assert_non_null(a);
    assert_string_equal(member(a, "level"), "warn");
    assert_string_equal(member(a, "module"), "rpc");
    assert_string_equal(member(a, "message"), "refused \"x\\y\"?forged line");
    assert_string_equal(member(a, "peer"), "CA038013A");
    assert_string_equal(member(a, "method"), "/cjx.v1.CaseService/Deliver");
    assert_string_equal(member(a, "request_id"), "req-1");
    assert_string_equal(member(a, "status"), "PERMISSION_DENIED");
    const char *t = member(a, "time");
    assert_non_null(t);
    assert_int_equal(strlen(t), strlen("2026-11-25T08:00:00.123456Z"));
    assert_int_equal(t[strlen(t) - 1], 'Z');
    json_object_put(a);

    /* Without fields there are no such members, and what is not UTF-8
     * does not reach the reader. */
    struct json_object *b = json_tokener_parse(second);
    assert_non_null(b);
    assert_string_equal(member(b, "level"), "info");
    assert_string_equal(member(b, "message"), "bad byte ? here");
    assert_null(member(b, "peer"));
    assert_null(member(b, "status"));
    json_object_put(b);
}

static void
test_log__text_lines__unchanged_by_fields(void **state)
{
    (void)state;
    struct captured c;
    char out[4096];
    struct cjx_log_fields f = {.peer = "CA038013A", .status = "NOT_FOUND"};
    capture_begin(&c);
    cjx_log_with(CJX_LOG_ERROR, "rpc", &f, "lost %d", 3);
    capture_end(&c, out, sizeof(out));
    /* "2026-11-25T08:00:00.123456Z error rpc: lost 3\n" */
    size_t ts = strlen("2026-11-25T08:00:00.123456Z");
    assert_true(strlen(out) > ts);
    assert_int_equal(out[ts - 1], 'Z');
    assert_string_equal(out + ts, " error rpc: lost 3\n");
}

/* The one calendar of the code base, as a table: month lengths at the
 * leap-year rules' edges, and day counts across eras and back. */
static void
test_date__month_lengths_validity_and_day_counts(void **state)
{
    (void)state;
    static const struct {
        int year, month, days;
    } months[] = {
        {2023, 2, 28}, {2024, 2, 29}, {1900, 2, 28},  {2000, 2, 29},
        {2024, 1, 31}, {2024, 4, 30}, {2024, 12, 31}, {1, 2, 28},
    };
    for (size_t i = 0; i < sizeof(months) / sizeof(months[0]); i++) {
        int y = months[i].year, m = months[i].month, n = months[i].days;
        assert_int_equal(cjx_date_days_in_month(y, m), n);
        assert_true(cjx_date_is_valid(y, m, n));
        assert_false(cjx_date_is_valid(y, m, n + 1));
    }
    assert_false(cjx_date_is_valid(0, 1, 1));
    assert_false(cjx_date_is_valid(10000, 1, 1));
    assert_false(cjx_date_is_valid(2024, 13, 1));
    assert_false(cjx_date_is_valid(2024, 1, 0));

    static const struct {
        int year, month, day;
        int64_t days;
    } counts[] = {
        {1970, 1, 1, 0},        {1969, 12, 31, -1}, {2000, 3, 1, 11017},
        {2024, 2, 29, 19782},   {1, 1, 1, -719162}, {9999, 12, 31, 2932896},
        {1600, 2, 29, -135081},
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        assert_int_equal(
            cjx_date_to_days(counts[i].year, counts[i].month, counts[i].day),
            counts[i].days);
        int y, m, d;
        cjx_date_from_days(counts[i].days, &y, &m, &d);
        assert_int_equal(y, counts[i].year);
        assert_int_equal(m, counts[i].month);
        assert_int_equal(d, counts[i].day);
    }
}

/* One reader, one bound: the whole file NUL-terminated, or a precise
 * refusal that leaves *out untouched. */
static void
test_file__reads_whole_or_refuses_by_name(void **state)
{
    (void)state;
    char dir[] = "/tmp/cjx-file-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("hello", f);
    fclose(f);
    struct cjx_errbuf eb;
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(cjx_file_read(path, 5, &out, &len, &eb), 0);
    assert_int_equal(len, 5);
    assert_string_equal(out, "hello");
    free(out);
    out = NULL;

    assert_int_equal(cjx_file_read(path, 4, &out, &len, &eb), CJX_ELIMIT);
    assert_non_null(strstr(eb.msg, "/f: larger than 4 bytes"));
    assert_null(out);
    assert_int_equal(cjx_file_read(dir, 4, &out, &len, &eb), CJX_EINVAL);
    assert_non_null(strstr(eb.msg, "not a regular file"));
    unlink(path);
    assert_int_equal(cjx_file_read(path, 4, &out, &len, &eb), CJX_EIO);
    assert_non_null(strstr(eb.msg, "No such file or directory"));
    assert_null(out);
    rmdir(dir);
}

/* The one encoder writes what the one validator accepts, at each length's
 * edges. */
static void
test_utf8__encoder_output_is_valid_at_every_length(void **state)
{
    (void)state;
    static const struct {
        uint32_t cp;
        size_t len;
        const char *bytes;
    } rows[] = {
        {0x41, 1, "A"},
        {0x7F, 1, "\x7F"},
        {0x80, 2, "\xC2\x80"},
        {0x7FF, 2, "\xDF\xBF"},
        {0x800, 3, "\xE0\xA0\x80"},
        {0xFFFF, 3, "\xEF\xBF\xBF"},
        {0x10000, 4, "\xF0\x90\x80\x80"},
        {0x10FFFF, 4, "\xF4\x8F\xBF\xBF"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[4];
        assert_int_equal(cjx_utf8_encode(rows[i].cp, out), rows[i].len);
        assert_memory_equal(out, rows[i].bytes, rows[i].len);
        assert_int_equal(
            cjx_utf8_seq_len((const unsigned char *)out, rows[i].len),
            rows[i].len);
    }
}

/* Untrusted text made safe for a log line, as a table: control bytes
 * never pass, high bytes only as UTF-8 was asked for, "..." when cut. */
static void
test_log__printable__replaces_what_could_forge_a_line(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int keep_utf8;
        size_t cap;
        const char *want;
    } rows[] = {
        {"CN=court", 0, 64, "CN=court"},
        {"line\nforged", 0, 64, "line?forged"},
        {"esc\x1b[31m", 1, 64, "esc?[31m"},
        {"del\x7f", 1, 64, "del?"},
        {"Pe\xc3\xb1"
         "a",
         1, 64,
         "Pe\xc3\xb1"
         "a"},
        {"Pe\xc3\xb1"
         "a",
         0, 64, "Pe??a"},
        {"abcdefghij", 0, 9, "abcde..."},
        {"abcdefgh", 0, 13, "abcdefgh"},
        {"", 0, 5, ""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[64];
        const char *got =
            cjx_log_printable(rows[i].in, strlen(rows[i].in), rows[i].keep_utf8,
                              out, rows[i].cap);
        assert_ptr_equal(got, out);
        if (strcmp(got, rows[i].want) != 0)
            fail_msg("row %zu: got '%s', want '%s'", i, got, rows[i].want);
        assert_true(strlen(got) < rows[i].cap);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error__every_code_has_a_name_and_message),
        cmocka_unit_test(test_log__printable__replaces_what_could_forge_a_line),
        cmocka_unit_test(test_error__errf_formats_and_returns_code),
        cmocka_unit_test(test_clock__formats_utc_with_microseconds),
        cmocka_unit_test(test_clock__source_can_be_replaced),
        cmocka_unit_test(test_arena__allocations_are_aligned_and_distinct),
        cmocka_unit_test(test_arena__limit_refuses_and_marks_failed),
        cmocka_unit_test(test_arena__injected_failure_hits_the_nth_allocation),
        cmocka_unit_test(test_arena__strndup_terminates),
        cmocka_unit_test(test_log__level_parse),
        cmocka_unit_test(test_log__format_parse),
        cmocka_unit_test(
            test_log__json_lines__one_object_per_line_with_the_fields),
        cmocka_unit_test(test_log__text_lines__unchanged_by_fields),
        cmocka_unit_test(test_date__month_lengths_validity_and_day_counts),
        cmocka_unit_test(test_file__reads_whole_or_refuses_by_name),
        cmocka_unit_test(test_utf8__encoder_output_is_valid_at_every_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
