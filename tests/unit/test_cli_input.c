/* cjxctl's input files for the exchange steps (src/cli/step_input.c): CSV
 * with a header row and JSON Lines into request messages, every line
 * checked, each error naming the file, the line and the column or field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cjx/v1/exchange.pb-c.h"
#include "step_input.h"

static const struct step_column columns[] = {
    {"cii", "key.cii", STEP_TEXT, NULL, 1},
    {"court_case_number", "key.court_case_number", STEP_TEXT, NULL, 1},
    {"count", "key.count_number", STEP_INT, NULL, 1},
    {"relief", "no_challenge.relief", STEP_ENUM, &cjx__v1__relief__descriptor,
     0},
    {"ground", "challenge.ground", STEP_ENUM,
     &cjx__v1__challenge_ground__descriptor, 0},
    {"reason_code", "challenge.reason_code", STEP_TEXT, NULL, 0},
    {"grams", "facts.grams", STEP_NUMBER, NULL, 0},
    {"sale_involved", "facts.sale_involved", STEP_BOOL, NULL, 0},
    {NULL, NULL, 0, NULL, 0}};

/* The input file of a test and what reading it wrote to stderr. */
struct fixture {
    char path[64];
    char err_path[64];
    int saved_stderr;
};

static struct fixture fx;

static int
read_text(struct step_input *in, const char *text)
{
    snprintf(fx.path, sizeof(fx.path), "/tmp/cjx-input-XXXXXX");
    int fd = mkstemp(fx.path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    /* Errors go to stderr: keep them to look at. */
    snprintf(fx.err_path, sizeof(fx.err_path), "/tmp/cjx-input-err-XXXXXX");
    int efd = mkstemp(fx.err_path);
    assert_true(efd >= 0);
    fflush(stderr);
    fx.saved_stderr = dup(STDERR_FILENO);
    dup2(efd, STDERR_FILENO);
    close(efd);
    int rc =
        step_input_read(in, fx.path, &cjx__v1__prosecutor_decision__descriptor,
                        columns, NULL, NULL);
    fflush(stderr);
    dup2(fx.saved_stderr, STDERR_FILENO);
    close(fx.saved_stderr);
    unlink(fx.path);
    return rc;
}

/* What the read reported, with the temporary file's name as "F". */
static const char *
errors(void)
{
    static char buf[4096];
    FILE *f = fopen(fx.err_path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(fx.err_path);
    for (char *p; (p = strstr(buf, fx.path)) != NULL;) {
        *p = 'F';
        memmove(p + 1, p + strlen(fx.path), strlen(p + strlen(fx.path)) + 1);
    }
    return buf;
}

static const Cjx__V1__ProsecutorDecision *
decision(const struct step_input *in, size_t i)
{
    return (const Cjx__V1__ProsecutorDecision *)in->lines[i].msg;
}

static void
test_input__csv__fills_nested_fields_from_columns(void **state)
{
    (void)state;
    struct step_input in;
    assert_int_equal(
        read_text(&in,
                  "cii, court_case_number ,count,relief,grams,sale_involved\n"
                  "A1,\"SF-1, part 2\",3,dismiss,12.5,no\n"
                  "\n"
                  "# a comment\n"
                  "A2,SF-2,1,RELIEF_REDUCE_TO_MISDEMEANOR,,\n"),
        0);
    errors();
    assert_int_equal(in.n, 2);
    const Cjx__V1__ProsecutorDecision *d = decision(&in, 0);
    assert_int_equal(in.lines[0].line, 2);
    assert_string_equal(d->key->cii, "A1");
    assert_string_equal(d->key->court_case_number, "SF-1, part 2");
    assert_int_equal(d->key->count_number, 3);
    assert_int_equal(d->no_challenge->relief,
                     CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_true(d->facts->has_grams);
    assert_true(d->facts->grams == 12.5);
    assert_true(d->facts->has_sale_involved);
    assert_false(d->facts->sale_involved);
    d = decision(&in, 1);
    assert_int_equal(in.lines[1].line, 5);
    assert_int_equal(d->no_challenge->relief,
                     CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_null(d->facts); /* empty cells are absent, not zero */
    step_input_fini(&in);
}

static void
test_input__csv__bad_cells__name_line_and_column_and_keep_nothing(void **state)
{
    (void)state;
    struct step_input in;
    assert_int_equal(read_text(&in, "cii,court_case_number,count,relief,grams\n"
                                    "A1,SF-1,1,dismiss,1\n"
                                    "A2,SF-2,two,dismiss,1\n"
                                    "A3,SF-3,1,reduce,1\n"
                                    "A4,SF-4,1,dismiss,lots\n"
                                    "A5,SF-5,1\n"),
                     1);
    const char *e = errors();
    assert_non_null(strstr(e, "F:3: column count: 'two' is not a whole "
                              "number\n"));
    /* "reduce" is a prefix of two reliefs: it names neither. */
    assert_non_null(strstr(e, "F:4: column relief: unknown value 'reduce'"));
    assert_non_null(strstr(e, "F:5: column grams: 'lots' is not a number\n"));
    assert_non_null(strstr(e, "F:6: 3 cell(s) where the header names 5\n"));
    assert_non_null(strstr(e, "4 bad line(s), nothing sent"));
    step_input_fini(&in);
}

static void
test_input__csv__header__unknown_or_missing_columns_are_refused(void **state)
{
    (void)state;
    struct step_input in;
    assert_int_equal(read_text(&in, "cii,court_case_number,count,releif\n"
                                    "A1,SF-1,1,dismiss\n"),
                     1);
    assert_non_null(strstr(errors(), "F:1: header: unknown column 'releif'"));
    step_input_fini(&in);
    assert_int_equal(read_text(&in, "cii,count,relief\nA1,1,dismiss\n"), 1);
    assert_non_null(
        strstr(errors(), "F:1: header: column court_case_number is required"));
    step_input_fini(&in);
}

static void
test_input__json_lines__parser_names_the_field(void **state)
{
    (void)state;
    struct step_input in;
    assert_int_equal(
        read_text(&in, "{\"key\":{\"cii\":\"A1\",\"courtCaseNumber\":\"SF-1\","
                       "\"countNumber\":1},\"challenge\":{\"ground\":"
                       "\"CHALLENGE_GROUND_CRITERIA_NOT_MET\",\"reasonCode\":"
                       "\"X\"}}\n"
                       "{\"key\":{\"cii\":\"A2\"},\"noChallenge\":{\"relief\":"
                       "\"RELIEF_DISMISS\"}}\n"),
        1);
    const char *e = errors();
    assert_non_null(strstr(e, "F:2: noChallenge.relief: unknown enum value"));
    assert_null(strstr(e, "F:1:"));
    step_input_fini(&in);
}

static void
test_input__empty_file__is_refused(void **state)
{
    (void)state;
    struct step_input in;
    assert_int_equal(read_text(&in, "cii,court_case_number,count\n"), 1);
    assert_non_null(strstr(errors(), "no lines to send"));
    step_input_fini(&in);
}

static void
test_input__enum_parse__name_prefix_or_unique_start(void **state)
{
    (void)state;
    int v = 0;
    const ProtobufCEnumDescriptor *d = &cjx__v1__relief__descriptor;
    assert_int_equal(step_enum_parse(d, "dismiss_and_seal", &v), 0);
    assert_int_equal(v, CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(step_enum_parse(d, "relief_not_eligible", &v), 0);
    assert_int_equal(v, CJX__V1__RELIEF__RELIEF_NOT_ELIGIBLE);
    assert_int_equal(step_enum_parse(d, "reduce_to_i", &v), 0);
    assert_int_equal(v, CJX__V1__RELIEF__RELIEF_REDUCE_TO_INFRACTION);
    assert_int_equal(step_enum_parse(d, "reduce", &v), -1);
    assert_int_equal(step_enum_parse(d, "unspecified", &v), -1);
    assert_int_equal(step_enum_parse(d, "", &v), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input__csv__fills_nested_fields_from_columns),
        cmocka_unit_test(
            test_input__csv__bad_cells__name_line_and_column_and_keep_nothing),
        cmocka_unit_test(
            test_input__csv__header__unknown_or_missing_columns_are_refused),
        cmocka_unit_test(test_input__json_lines__parser_names_the_field),
        cmocka_unit_test(test_input__empty_file__is_refused),
        cmocka_unit_test(test_input__enum_parse__name_prefix_or_unique_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
