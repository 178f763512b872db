/* Unit tests for src/rules: CEL semantics of the expression language (and the test runner's main). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/v1/determination.pb-c.h"
#include "test_rules.h"

static char result[4096];
static char errmsg[1024];

/* Evaluates src on the ReliefQuery described by yaml ("" = empty) and
 * returns the formatted value, or "compile: <message>". */
static const char *
ev(const char *src, const char *yaml)
{
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    ProtobufCMessage *m =
        test_rules_msg(yaml, &cjx__v1__relief_query__descriptor, &a);
    struct cjx_rules_expr *e = NULL;
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_rules_expr_compile(src, &cjx__v1__relief_query__descriptor, &e,
                                    &eb);
    if (rc != 0) {
        snprintf(result, sizeof(result), "compile: %s", eb.msg);
        snprintf(errmsg, sizeof(errmsg), "%s", eb.msg);
        cjx_arena_fini(&a);
        return result;
    }
    const char *text = NULL, *compiled = NULL;
    rc = cjx_rules_expr_eval(e, m, &a, &text);
    assert_int_equal(rc, 0);
    /* Every expression also through the flat evaluator: the same text,
     * error messages included. */
    rc = cjx_rules_expr_eval_compiled(e, m, &a, &compiled);
    assert_int_equal(rc, 0);
    assert_string_equal(compiled, text);
    snprintf(result, sizeof(result), "%s", text);
    cjx_rules_expr_free(e);
    cjx_arena_fini(&a);
    return result;
}

#define EXPECT(src, yaml, want) assert_string_equal(ev(src, yaml), want)

static void
test_rules__literals_and_arithmetic(void **state)
{
    (void)state;
    EXPECT("1 + 2 * 3", "", "7");
    EXPECT("(1 + 2) * 3", "", "9");
    EXPECT("7 / 2", "", "3");
    EXPECT("-7 % 3", "", "-1");
    EXPECT("0x10", "", "16");
    EXPECT("1.5 + 1.0", "", "2.5");
    EXPECT("'a' + \"b\"", "", "\"ab\"");
    EXPECT("r'\\d'", "", "\"\\\\d\"");
    EXPECT("'\\u00e9'.size()", "", "1");
    EXPECT("[1, 2] + [3]", "", "[1, 2, 3]");
    EXPECT("-9223372036854775808", "", "-9223372036854775808");
    EXPECT("true ? 'y' : 'n'", "", "\"y\"");
    EXPECT("null == null", "", "true");
    EXPECT("2 == 2.0", "", "true");
    EXPECT("1 < 1.5", "", "true");
    EXPECT("'abc' < 'abd'", "", "true");
    EXPECT("[1, 2][1]", "", "2");
}

static void
test_rules__int_overflow__is_an_error_value(void **state)
{
    (void)state;
    EXPECT("9223372036854775807 + 1", "", "error: integer overflow");
    EXPECT("-9223372036854775808 - 1", "", "error: integer overflow");
    EXPECT("4611686018427387904 * 2", "", "error: integer overflow");
    EXPECT("-9223372036854775808 / -1", "", "error: integer overflow");
    EXPECT("-(-9223372036854775808)", "", "error: integer overflow");
    EXPECT("1 / 0", "", "error: division by zero");
    EXPECT("1 % 0", "", "error: modulus by zero");
    EXPECT("[1][3]", "", "error: index out of range");
    EXPECT("[1.0, 2.0].sum()", "", "3.0");
    EXPECT("[9223372036854775807, 1].sum()", "", "error: integer overflow");
}

static void
test_rules__and_or__absorb_errors_commutatively(void **state)
{
    (void)state;
    EXPECT("false && 1 / 0 == 1", "", "false");
    EXPECT("1 / 0 == 1 && false", "", "false");
    EXPECT("1 / 0 == 1 && true", "", "error: division by zero");
    EXPECT("true || 1 / 0 == 1", "", "true");
    EXPECT("1 / 0 == 1 || true", "", "true");
    EXPECT("1 / 0 == 1 || false", "", "error: division by zero");
    EXPECT("!(1 / 0 == 1)", "", "error: division by zero");
    EXPECT("false ? 1 / 0 : 2", "", "2");
    /* all() is false and exists() true despite an erroring element. */
    EXPECT("[0, 1].all(x, 1 / x > 5)", "", "false");
    EXPECT("[0, 1].exists(x, 1 / x == 1)", "", "true");
    EXPECT("[0, 1].exists(x, 1 / x == 7)", "", "error: division by zero");
}

static void
test_rules__field_selection_through_unset_messages__yields_defaults(
    void **state)
{
    (void)state;
    EXPECT("record.charge.section", "", "\"\"");
    EXPECT("record.count_number", "", "0");
    EXPECT("record.level", "", "OFFENSE_LEVEL_UNSPECIFIED");
    EXPECT("record.facts.grams", "", "0.0");
    EXPECT("size(history.events)", "", "0");
    EXPECT("record.offense_date", "", "error: date is not set");
    EXPECT("record.charge.section", "record: {charge: {section: '11357'}}",
           "\"11357\"");
    EXPECT("record.level == OFFENSE_LEVEL_FELONY",
           "record: {level: OFFENSE_LEVEL_FELONY}", "true");
    EXPECT("record.level == cjx.v1.OffenseLevel.OFFENSE_LEVEL_FELONY",
           "record: {level: FELONY}", "true");
    EXPECT("record.level", "record: {level: MISDEMEANOR}",
           "OFFENSE_LEVEL_MISDEMEANOR");
    EXPECT("PRIOR_RELIEF_PROP64_DISMISSED in record.prior_relief",
           "record: {prior_relief: [PROP64_DISMISSED]}", "true");
}

static void
test_rules__has__follows_proto2_and_proto3_presence(void **state)
{
    (void)state;
    EXPECT("has(record.facts)", "", "false");
    EXPECT("has(record.facts.grams)", "", "false");
    EXPECT("has(record.facts.grams)", "record: {facts: {grams: 0}}", "true");
    EXPECT("has(record.facts.plants)", "record: {facts: {grams: 0}}", "false");
    EXPECT("has(record.facts.concentrated)",
           "record: {facts: {concentrated: false}}", "true");
    EXPECT("has(record.count_number)", "record: {count_number: 0}", "false");
    EXPECT("has(record.count_number)", "record: {count_number: 2}", "true");
    EXPECT("has(record.county)", "record: {county: ''}", "false");
    EXPECT("has(record.county)", "record: {county: 'Yolo'}", "true");
    EXPECT("has(record.sentence)", "record: {sentence: []}", "false");
    EXPECT("has(record)", "record: ''", "true");
    EXPECT("has(record.offense_date)", "record: {offense_date: {year: 0}}",
           "false");
    EXPECT("has(record.offense_date)", "record: {offense_date: 2012-01-02}",
           "true");
    EXPECT(
        "has(record.offense_date) && record.offense_date < date('2016-11-09')",
        "", "false");
}

static void
test_rules__macros_over_repeated_fields(void **state)
{
    (void)state;
    const char *h =
        "record: {charge: {section: '11359'}, offense_date: 2010-05-01}\n"
        "history: {events: ["
        "{statute: {section: '11359'}, offense_date: 2004-01-01},"
        "{statute: {section: '11359'}, offense_date: 2010-05-01},"
        "{statute: {section: '11359.5'}, offense_date: 2001-01-01},"
        "{statute: {section: '11359'}, offense_date: 2011-01-01}]}";
    EXPECT(
        "history.events.filter(e, e.statute.section == record.charge.section "
        "&& e.offense_date < record.offense_date).size()",
        h, "1");
    EXPECT("history.events.map(e, e.statute.section)", h,
           "[\"11359\", \"11359\", \"11359.5\", \"11359\"]");
    EXPECT("history.events.map(e, e.statute.section == '11359', "
           "year(e.offense_date))",
           h, "[2004, 2010, 2011]");
    EXPECT("history.events.exists_one(e, e.statute.section == '11359.5')", h,
           "true");
    EXPECT("history.events.all(e, e.statute.section.startsWith('11359'))", h,
           "true");
    EXPECT("history.events.exists(e, e.statute.section == '11357')", h,
           "false");
    EXPECT("[1, 2, 3].filter(x, x > 1).map(x, x * 10)", "", "[20, 30]");
    EXPECT("[[1], [2, 3]].exists(l, l.exists(x, x == 3))", "", "true");
    EXPECT("'11357' in ['11357', '11358', '11359', '11360']", "", "true");
    EXPECT("'11357.5' in ['11357', '11358', '11359', '11360']", "", "false");
    EXPECT("'' in ['11357', '11358', '11359', '11360']", "", "false");
}

static void
test_rules__string_functions(void **state)
{
    (void)state;
    EXPECT("'11357(a)'.startsWith('11357')", "", "true");
    EXPECT("'11357(a)'.endsWith('(a)')", "", "true");
    EXPECT("'SEE COMMENT'.contains('COMMENT')", "", "true");
    EXPECT("'abc'.contains('')", "", "true");
    EXPECT("'11359 HS'.matches('[0-9]+ HS')", "", "true");
    /* Anchored: a partial match is not a match. */
    EXPECT("'x11359 HS'.matches('[0-9]+ HS')", "", "false");
    EXPECT("matches('11357', '1135[7-9]')", "", "true");
    EXPECT("int('42') + 1", "", "43");
    EXPECT("int('4x')", "", "error: int() of a string that is not a number");
    EXPECT("int(2.9)", "", "2");
    EXPECT("double(3)", "", "3.0");
    EXPECT("string(12) + string(true)", "", "\"12true\"");
    EXPECT("string(record.level)", "record: {level: FELONY}",
           "\"OFFENSE_LEVEL_FELONY\"");
    EXPECT("int(record.level)", "record: {level: FELONY}", "1");
}

static void
test_rules__date_functions(void **state)
{
    (void)state;
    EXPECT("date('2016-11-09')", "", "date(\"2016-11-09\")");
    EXPECT("date('2016-11-09') > date('2016-11-08')", "", "true");
    EXPECT("days_between(date('2016-11-08'), date('2016-11-09'))", "", "1");
    EXPECT("days_between(date('2000-01-01'), date('2001-01-01'))", "", "366");
    /* Birthday-inclusive ages. */
    EXPECT("age_at(date('1995-06-15'), date('2016-06-15'))", "", "21");
    EXPECT("age_at(date('1995-06-15'), date('2016-06-14'))", "", "20");
    /* A 29 February birthday is reached on 1 March in common years. */
    EXPECT("age_at(date('2000-02-29'), date('2021-02-28'))", "", "20");
    EXPECT("age_at(date('2000-02-29'), date('2021-03-01'))", "", "21");
    EXPECT("age_at(date('2000-02-29'), date('2004-02-29'))", "", "4");
    EXPECT("add_days(date('2016-11-08'), 1)", "", "date(\"2016-11-09\")");
    /* Within a month and across its end, in both directions. */
    EXPECT("add_days(date('2016-11-08'), 0)", "", "date(\"2016-11-08\")");
    EXPECT("add_days(date('2016-02-27'), 1)", "", "date(\"2016-02-28\")");
    EXPECT("add_days(date('2016-02-28'), 1)", "", "date(\"2016-02-29\")");
    EXPECT("add_days(date('2017-02-28'), 1)", "", "date(\"2017-03-01\")");
    EXPECT("add_days(date('2016-03-01'), -1)", "", "date(\"2016-02-29\")");
    EXPECT("add_days(date('2016-03-28'), -27)", "", "date(\"2016-03-01\")");
    EXPECT("add_days(date('2016-12-31'), 1)", "", "date(\"2017-01-01\")");
    EXPECT("add_days(date('0001-01-01'), -1)", "", "error: date out of range");
    EXPECT("add_days(date('0001-02-01'), -31)", "", "date(\"0001-01-01\")");
    EXPECT("add_days(date('9999-12-30'), 1)", "", "date(\"9999-12-31\")");
    EXPECT("add_days(date('9999-12-31'), 1)", "", "error: date out of range");
    EXPECT("add_months(date('2016-01-31'), 1)", "", "date(\"2016-02-29\")");
    EXPECT("add_months(date('2016-11-30'), 3)", "", "date(\"2017-02-28\")");
    EXPECT("add_months(date('2016-03-31'), -1)", "", "date(\"2016-02-29\")");
    EXPECT("add_years(date('2016-02-29'), 1)", "", "date(\"2017-02-28\")");
    EXPECT("add_years(date('9999-01-01'), 1)", "", "error: date out of range");
    EXPECT("date('2016-02-30' + '')", "", "error: invalid date string");
    EXPECT("[date('2001-01-01'), date('1999-05-05')].min()", "",
           "date(\"1999-05-05\")");
    EXPECT("year(date('2016-11-09')) * 100 + month(date('2016-11-09'))", "",
           "201611");
    EXPECT("record.offense_date", "record: {offense_date: 2016-02-30}",
           "error: invalid date");
}

/* Comparisons with literals, membership, conditions, field arithmetic and
 * sums of maps have evaluators of their own (specialise.c): each must
 * answer as the general one, errors included. */
static void
test_rules__specialised_evaluators__answer_as_the_general_ones(void **state)
{
    (void)state;
    const char *sect = "record: {charge: {section: '11357'}}";
    EXPECT("record.offense_date < date('2016-11-09')", "",
           "error: date is not set");
    EXPECT("record.offense_date < date('2016-11-09')",
           "record: {offense_date: 2016-02-30}", "error: invalid date");
    EXPECT("record.offense_date < date('2016-11-09')",
           "record: {offense_date: 2016-11-08}", "true");
    EXPECT("record.offense_date >= date('2016-11-09')",
           "record: {offense_date: 2016-11-09}", "true");
    EXPECT("record.level == 2", "record: {level: MISDEMEANOR}", "true");
    EXPECT("record.cycle_age > 17", "record: {cycle_age: 18}", "true");
    EXPECT("record.charge.attempt == true", "record: {charge: {attempt: true}}",
           "true");
    EXPECT("record.facts.grams <= 28.5", "record: {facts: {grams: 28.5}}",
           "true");
    EXPECT("record.facts.grams > 28", "record: {facts: {grams: 28.5}}", "true");
    EXPECT("record.charge.section == '11357'", sect, "true");
    EXPECT("record.charge.section == '1135'", sect, "false");
    EXPECT("record.charge.section != '11357x'", sect, "true");
    EXPECT("record.charge.section == ''", "", "true");
    /* Equal literals share a pointer; built strings compare by content. */
    EXPECT("['21_PLUS'][0] == '21_PLUS'", "", "true");
    EXPECT("['21_PLUS'][0] == '18_TO_20'", "", "false");
    EXPECT("'21_' + 'PLUS' == '21_PLUS'", "", "true");
    EXPECT("record.charge.section in ['1', '22']", sect, "false");
    EXPECT("record.charge.section in ['1', '11357']", sect, "true");
    EXPECT("record.charge.code in ['HS', '']", "", "true");
    EXPECT("PRIOR_RELIEF_PC1203_4_DISMISSED in record.prior_relief",
           "record: {prior_relief: [PROP64_DISMISSED]}", "false");
    EXPECT("record.level == OFFENSE_LEVEL_FELONY ? 'F' : 'other'",
           "record: {level: FELONY}", "\"F\"");
    EXPECT("record.offense_date < date('2016-11-09') ? 1 : 2", "",
           "error: date is not set");
    EXPECT("record.cycle_age * 12", "record: {cycle_age: 3}", "36");
    EXPECT("record.count_number * 9223372036854775807",
           "record: {count_number: 2}", "error: integer overflow");
    /* A sum of a map: an error of map() comes before an overflow of sum(). */
    EXPECT("[9223372036854775807, 1].map(x, x).sum()", "",
           "error: integer overflow");
    EXPECT("[9223372036854775807, 1, 0].map(x, x == 0 ? 1 / x : x).sum()", "",
           "error: division by zero");
    EXPECT(
        "record.sentence.map(p, p.unit == DURATION_UNIT_DAYS, p.length).sum()",
        "record: {sentence: [{length: 10, unit: DAYS}, {length: 2, unit: "
        "YEARS},"
        " {length: 5, unit: DAYS}]}",
        "15");
    EXPECT("[1.5, 2.0].map(x, x * 2.0).sum()", "", "7.0");
}

/* Compile errors carry "<expr>:1:col: message". */
static void
expect_compile_error(const char *src, const char *want_prefix)
{
    const char *r = ev(src, "");
    if (strncmp(r, "compile: ", 9) != 0)
        fail_msg("expected a compile error for %s, got %s", src, r);
    if (strncmp(errmsg, want_prefix, strlen(want_prefix)) != 0)
        fail_msg("for %s\n  got:  %s\n  want: %s", src, errmsg, want_prefix);
}

static void
test_rules__type_errors__fail_at_compile_time(void **state)
{
    (void)state;
    expect_compile_error(
        "record.charge.sectoin == '1'",
        "<expr>:1:15: no field 'sectoin' in message 'cjx.v1.Statute'");
    expect_compile_error("1 + 'a'", "<expr>:1:3: no matching overload for "
                                    "'_+_' applied to '(int, string)'");
    expect_compile_error("recrd.x",
                         "<expr>:1:1: undeclared reference to 'recrd'");
    expect_compile_error("foo(1)", "<expr>:1:1: unknown function 'foo'");
    expect_compile_error("'a'.startsWith()",
                         "<expr>:1:5: 'startsWith' expects 1 argument, got 0");
    expect_compile_error("'a'.matches('(')",
                         "<expr>:1:13: invalid regular expression");
    expect_compile_error("date('2016-13-01')",
                         "<expr>:1:6: invalid date literal");
    expect_compile_error("record.level == RELIEF_DISMISS_AND_SEAL",
                         "<expr>:1:17: undeclared reference");
    expect_compile_error("record.level == 'F'",
                         "<expr>:1:14: no matching overload for '_==_'");
    expect_compile_error("1 ? 2 : 3",
                         "<expr>:1:1: the condition of '?:' must be a bool");
    expect_compile_error("[1, 'a']",
                         "<expr>:1:5: list items must have one type");
    expect_compile_error("has(1)", "<expr>:1:5: has() needs a field selection");
    expect_compile_error("1 +", "<expr>:1:4: unexpected end of expression");
    expect_compile_error("(1", "<expr>:1:3: expected ')'");
    expect_compile_error("'abc", "<expr>:1:1: unterminated string literal");
    expect_compile_error("1 = 1", "<expr>:1:3: unexpected '=' (use '==')");
    expect_compile_error("{1: 2}",
                         "<expr>:1:1: map literals are not supported");
    expect_compile_error("99999999999999999999",
                         "<expr>:1:1: integer literal out of range");
    expect_compile_error("1u",
                         "<expr>:1:1: unsigned integers are not supported");
    expect_compile_error("[1].map(x)",
                         "<expr>:1:5: map() expects 2 arguments, got 1");
    expect_compile_error("[1].all(x, x)",
                         "<expr>:1:12: all() needs a bool condition");
    expect_compile_error("[1].all(record, true)",
                         "<expr>:1:9: 'record' would hide a variable");
    expect_compile_error("'a'.matches(record.county)",
                         "<expr>:1:20: matches() needs a literal pattern");
    expect_compile_error("int(record)",
                         "<expr>:1:1: no matching overload for 'int' applied "
                         "to '(cjx.v1.ConvictionRecord)'");
    expect_compile_error("size('a', 'b')",
                         "<expr>:1:1: 'size' expects 1 argument, got 2");
    expect_compile_error("'a'.age_at(date('2000-01-01'))",
                         "<expr>:1:5: 'age_at' cannot be called as a method");
}

static void
test_rules__compile_error__shows_source_line_and_caret(void **state)
{
    (void)state;
    ev("record.charge.sectoin == '1'", "");
    assert_string_equal(
        errmsg, "<expr>:1:15: no field 'sectoin' in message 'cjx.v1.Statute'\n"
                "record.charge.sectoin == '1'\n"
                "              ^");
}

static void
test_rules__deep_nesting__is_refused_not_crashing(void **state)
{
    (void)state;
    char src[4096];
    size_t o = 0;
    for (int i = 0; i < 1000; i++)
        src[o++] = '(';
    src[o++] = '1';
    for (int i = 0; i < 1000; i++)
        src[o++] = ')';
    src[o] = '\0';
    expect_compile_error(src, "<expr>:1:");
    assert_non_null(strstr(errmsg, "nested too deeply"));
    o = 0;
    for (int i = 0; i < 600; i++) {
        memcpy(src + o, "1+", 2);
        o += 2;
    }
    src[o++] = '1';
    src[o] = '\0';
    expect_compile_error(src, "<expr>:1:");
    assert_non_null(strstr(errmsg, "nested too deeply"));
}

static const struct CMUnitTest lang_tests[] = {
    cmocka_unit_test(test_rules__literals_and_arithmetic),
    cmocka_unit_test(test_rules__int_overflow__is_an_error_value),
    cmocka_unit_test(test_rules__and_or__absorb_errors_commutatively),
    cmocka_unit_test(
        test_rules__field_selection_through_unset_messages__yields_defaults),
    cmocka_unit_test(test_rules__has__follows_proto2_and_proto3_presence),
    cmocka_unit_test(test_rules__macros_over_repeated_fields),
    cmocka_unit_test(test_rules__string_functions),
    cmocka_unit_test(test_rules__date_functions),
    cmocka_unit_test(
        test_rules__specialised_evaluators__answer_as_the_general_ones),
    cmocka_unit_test(test_rules__type_errors__fail_at_compile_time),
    cmocka_unit_test(test_rules__compile_error__shows_source_line_and_caret),
    cmocka_unit_test(test_rules__deep_nesting__is_refused_not_crashing),
};

int
test_rules_run_lang(void)
{
    return cmocka_run_group_tests_name("rules_lang", lang_tests, NULL, NULL);
}

int
main(void)
{
    int failed = 0;
    failed += test_rules_run_lang();
    failed += test_rules_run_load();
    failed += test_rules_run_prop64();
    failed += test_rules_run_records();
    failed += test_rules_run_compiled();
    return failed != 0;
}
