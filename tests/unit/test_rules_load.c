/* Unit tests for src/rules: rule-file loading, load errors, validate/decide, registry, allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/v1/determination.pb-c.h"
#include "test_rules.h"

static struct cjx_errbuf eb;

static int
load(const char *text, struct cjx_rules_set **out)
{
    memset(&eb, 0, sizeof(eb));
    return cjx_rules_set_load_buffer("t.yaml", text, strlen(text),
                                     &test_rules_types, out, &eb);
}

/* The head of every rule file below. */
#define HEAD                        \
    "name: t\n"                     \
    "version: \"1\"\n"              \
    "message: cjx.v1.ReliefQuery\n" \
    "output: cjx.v1.Determination\n"

/* Loads text, expects CJX_EPARSE with a message starting with want, and a
 * caret under column col of the quoted source line. */
static void
expect_load_error(const char *text, const char *want, int col)
{
    struct cjx_rules_set *set = NULL;
    int rc = load(text, &set);
    if (rc != CJX_EPARSE)
        fail_msg("want CJX_EPARSE for\n%s\ngot %d (%s)", text, rc, eb.msg);
    assert_null(set);
    if (strncmp(eb.msg, want, strlen(want)) != 0)
        fail_msg("got:  %s\nwant: %s", eb.msg, want);
    /* Line 2 of the message is the source line, line 3 the caret. */
    const char *nl = strchr(eb.msg, '\n');
    assert_non_null(nl);
    const char *nl2 = strchr(nl + 1, '\n');
    assert_non_null(nl2);
    const char *caret = nl2 + 1;
    assert_int_equal(strlen(caret), (size_t)col);
    assert_int_equal(caret[col - 1], '^');
}

static void
test_rules_load__small_rule_set__loads(void **state)
{
    (void)state;
    struct cjx_rules_set *set = NULL;
    int rc = cjx_rules_set_load_file(test_rules_data_path("rules/small.yaml"),
                                     &test_rules_types, &set, &eb);
    if (rc != 0)
        fail_msg("%s", eb.msg);
    assert_string_equal(cjx_rules_set_name(set), "small");
    assert_string_equal(cjx_rules_set_version(set), "1");
    assert_ptr_equal(cjx_rules_set_message(set),
                     &cjx__v1__relief_query__descriptor);
    assert_ptr_equal(cjx_rules_set_output(set),
                     &cjx__v1__determination__descriptor);
    assert_true(cjx_rules_set_in_effect(set, 2016, 11, 9));
    assert_false(cjx_rules_set_in_effect(set, 2016, 11, 8));
    assert_false(cjx_rules_set_in_effect(set, 2030, 1, 1));
    assert_false(cjx_rules_set_in_effect(set, 2016, 2, 30));
    cjx_rules_set_free(set);
    cjx_rules_set_free(NULL);
}

static void
test_rules_load__missing_file__is_an_io_error(void **state)
{
    (void)state;
    struct cjx_rules_set *set = NULL;
    assert_int_equal(cjx_rules_set_load_file("/nonexistent/x.yaml",
                                             &test_rules_types, &set, &eb),
                     CJX_EIO);
    assert_null(set);
    assert_non_null(strstr(eb.msg, "/nonexistent/x.yaml"));
}

static void
test_rules_load__structure_errors__point_at_the_node(void **state)
{
    (void)state;
    expect_load_error("name: [\n", "t.yaml:2:1: YAML: ", 1);
    expect_load_error("- a\n", "t.yaml:1:1: the rule file must be a mapping",
                      1);
    expect_load_error(HEAD "colour: red\n",
                      "t.yaml:5:1: unknown key 'colour' in the rule file", 1);
    expect_load_error(HEAD "name: u\n",
                      "t.yaml:5:1: duplicate key 'name' in the rule file", 1);
    expect_load_error("version: \"1\"\nmessage: cjx.v1.ReliefQuery\n",
                      "t.yaml:1:1: a rule file needs 'name'", 1);
    expect_load_error("name: t\nversion: \"1\"\nmessage: cjx.v1.Nope\n",
                      "t.yaml:3:10: unknown message type 'cjx.v1.Nope'", 10);
    expect_load_error("name: t\nversion: \"1\"\nmessage: cjx.v1.ReliefQuery\n"
                      "decisions: []\n",
                      "t.yaml:1:1: a rule file with decisions needs 'output'",
                      1);
    expect_load_error(HEAD "effective: {from: 2016-13-01}\n",
                      "t.yaml:5:19: invalid date '2016-13-01'", 19);
    expect_load_error(HEAD "effective: {from: 2017-01-01, until: 2016-01-01}\n",
                      "t.yaml:5:12: 'until' must be after 'from'", 12);
    expect_load_error(
        HEAD "decisions:\n  - id: a\n    when: 'true'\n    relief: MAYBE\n",
        "t.yaml:8:13: unknown relief 'MAYBE' (not a value of cjx.v1.Relief)",
        13);
    expect_load_error(HEAD "decisions:\n  - id: a\n    when: 'true'\n    "
                           "relief: NO_ACTION\n    colour: red\n",
                      "t.yaml:9:5: unknown key 'colour' in decision", 5);
    expect_load_error(HEAD
                      "decisions:\n  - when: 'true'\n    relief: NO_ACTION\n",
                      "t.yaml:6:5: a decision needs 'id'", 5);
    expect_load_error(
        HEAD "decisions:\n  - {id: a, when: 'true', relief: NO_ACTION}\n"
             "  - {id: a, when: 'true', relief: NO_ACTION}\n",
        "t.yaml:7:10: decision id 'a' is used twice", 10);
    expect_load_error(HEAD "decisions:\n  - {id: a, when: 'true', relief: "
                           "NO_ACTION, floor: NOT_ELIGIBLE}\n",
                      "t.yaml:6:5: floor and ceiling go together", 5);
    expect_load_error(
        HEAD "decisions:\n  - {id: a, when: 'true', relief: NO_ACTION, floor: "
             "NOT_ELIGIBLE, ceiling: NOT_ELIGIBLE}\n",
        "t.yaml:6:53: floor and ceiling need a 'review' order", 53);
    expect_load_error(
        HEAD "review: {relief: HUMAN_REVIEW, order: [NOT_ELIGIBLE]}\n"
             "decisions:\n  - {id: a, when: 'true', relief: HUMAN_REVIEW}\n",
        "t.yaml:7:35: a review decision needs floor and ceiling", 35);
    expect_load_error(
        HEAD "review: {relief: HUMAN_REVIEW, order: [NOT_ELIGIBLE]}\n"
             "decisions:\n  - {id: a, when: 'true', relief: HUMAN_REVIEW, "
             "floor: NO_ACTION, ceiling: NOT_ELIGIBLE}\n",
        "t.yaml:7:56: floor is not in the review order", 56);
    expect_load_error(
        HEAD
        "review: {relief: HUMAN_REVIEW, order: [NOT_ELIGIBLE, NOT_ELIGIBLE]}\n",
        "t.yaml:5:54: relief listed twice in order", 54);
    expect_load_error(
        HEAD
        "validations:\n  - {id: v, rule: 'true', message: m, severity: loud}\n",
        "t.yaml:6:49: severity must be 'reject' or 'flag'", 49);
    expect_load_error(HEAD "validations:\n  - {id: v, rule: 'true', message: "
                           "m}\n  - {id: v, rule: 'true', message: m}\n",
                      "t.yaml:7:10: validation id 'v' is used twice", 10);
    expect_load_error(HEAD "validations:\n  - {id: v, rule: 'true'}\n",
                      "t.yaml:6:5: a validation needs 'message'", 5);
    expect_load_error(HEAD "decisions: {a: 1}\n",
                      "t.yaml:5:12: decisions must be a sequence", 12);
}

static void
test_rules_load__let_and_fact_errors(void **state)
{
    (void)state;
    expect_load_error(
        HEAD "lets:\n  a: b\n  b: a\n",
        "t.yaml:7:6: 'a' refers to itself through a cycle of lets", 6);
    expect_load_error(HEAD "lets:\n  record: 1\n",
                      "t.yaml:6:3: 'record' would hide the field of the same "
                      "name in cjx.v1.ReliefQuery",
                      3);
    expect_load_error(HEAD "lets:\n  has: 1\n",
                      "t.yaml:6:3: 'has' is a reserved word", 3);
    expect_load_error(HEAD "lets:\n  2x: 1\n",
                      "t.yaml:6:3: '2x' is not a valid name", 3);
    expect_load_error(HEAD "lets:\n  a: 1\nfacts:\n  - {name: a, known: "
                           "'true', value: 1, domain: [1], missing: M}\n",
                      "t.yaml:8:12: 'a' is declared twice", 12);
    expect_load_error(HEAD
                      "review: {relief: HUMAN_REVIEW, order: [NOT_ELIGIBLE]}\n"
                      "facts:\n  - {name: f, known: '1', value: 1, domain: "
                      "[1], missing: M}\n",
                      "t.yaml:7:23: 'known' must be a bool expression", 23);
    expect_load_error(HEAD
                      "review: {relief: HUMAN_REVIEW, order: [NOT_ELIGIBLE]}\n"
                      "facts:\n  - {name: f, known: 'true', value: 1, domain: "
                      "'[\"x\"]', missing: M}\n",
                      "t.yaml:7:49: 'domain' must be a list of 'int'", 49);
    expect_load_error(
        HEAD "facts:\n  - {name: f, known: 'true', value: 1, domain: [1]}\n",
        "t.yaml:6:5: a fact needs 'missing'", 5);
    expect_load_error(
        HEAD "facts:\n  - {name: f, known: 'true', value: 1, domain: [1], "
             "missing: M}\n"
             "decisions:\n  - {id: a, when: f == 1, relief: NO_ACTION}\n",
        "t.yaml:6:12: facts need a 'review' section", 12);
}

static void
test_rules_load__expression_errors__map_to_file_positions(void **state)
{
    (void)state;
    expect_load_error(
        HEAD "decisions:\n  - id: a\n    when: record.charge.sectoin == '1'\n  "
             "  relief: NO_ACTION\n",
        "t.yaml:7:25: no field 'sectoin' in message 'cjx.v1.Statute'", 25);
    /* Inside a double-quoted scalar the quote shifts the column by one. */
    expect_load_error(HEAD "decisions:\n  - id: a\n    when: \"record.level == "
                           "'F'\"\n    relief: NO_ACTION\n",
                      "t.yaml:7:25: no matching overload for '_==_' applied to "
                      "'(cjx.v1.OffenseLevel, string)'",
                      25);
    /* A folded block scalar: the error is on its second line. */
    expect_load_error(HEAD
                      "decisions:\n  - id: a\n    when: >-\n      has(record) "
                      "&&\n      nosuch(1)\n    relief: NO_ACTION\n",
                      "t.yaml:9:7: unknown function 'nosuch'", 7);
    expect_load_error(
        HEAD "decisions:\n  - id: a\n    when: record.county\n    relief: "
             "NO_ACTION\n",
        "t.yaml:7:18: 'when' must be a bool expression, not 'string'", 18);
    expect_load_error(HEAD "validations:\n  - {id: v, rule: "
                           "\"record.county.matches('(')\", message: m}\n",
                      "t.yaml:6:42: invalid regular expression", 42);
    expect_load_error(
        HEAD "procedure: 'true'\n",
        "t.yaml:5:13: procedure must be a value of cjx.v1.Procedure", 13);
    expect_load_error(HEAD "lets:\n  d: date('2016-02-30')\n",
                      "t.yaml:6:11: invalid date literal", 11);
    expect_load_error(HEAD "lets:\n  a: size(1, 2)\n",
                      "t.yaml:6:6: 'size' expects 1 argument, got 2", 6);
    expect_load_error(HEAD "lets:\n  a: (1 + \n",
                      "t.yaml:6:10: unexpected end of expression", 10);
    expect_load_error(
        HEAD "notes:\n  - {when: 1, reasons: [X]}\n",
        "t.yaml:6:12: 'when' must be a bool expression, not 'int'", 12);
}

static void
test_rules_load__allocation_failures__are_enomem_and_leak_nothing(void **state)
{
    (void)state;
    const char *path = test_rules_data_path("rules/small.yaml");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    int n;
    for (n = 1; n < 100000; n++) {
        struct cjx_rules_set *set = NULL;
        cjx_arena_fail_after(n);
        int rc = cjx_rules_set_load_buffer("small.yaml", buf, len,
                                           &test_rules_types, &set, &eb);
        cjx_arena_fail_after(0);
        if (rc == 0) {
            cjx_rules_set_free(set);
            break;
        }
        if (rc != CJX_ENOMEM)
            fail_msg("failure %d gave %d: %s", n, rc, eb.msg);
        assert_null(set);
    }
    assert_true(n > 10);
    assert_true(n < 100000);
}

static void
test_rules_load__prop64_allocation_failures__are_enomem(void **state)
{
    (void)state;
    FILE *f = fopen(test_rules_prop64_path(), "rb");
    assert_non_null(f);
    static char buf[1 << 17];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    /* Every 23rd allocation (the whole range is covered by small.yaml). */
    int n;
    for (n = 1; n < 1000000; n += 23) {
        struct cjx_rules_set *set = NULL;
        cjx_arena_fail_after(n);
        int rc = cjx_rules_set_load_buffer("prop64.yaml", buf, len,
                                           &test_rules_types, &set, &eb);
        cjx_arena_fail_after(0);
        if (rc == 0) {
            cjx_rules_set_free(set);
            break;
        }
        if (rc != CJX_ENOMEM)
            fail_msg("failure %d gave %d: %s", n, rc, eb.msg);
    }
    assert_true(n < 1000000);
}

/* A set that must load. */
static struct cjx_rules_set *
load_ok(const char *text)
{
    struct cjx_rules_set *set = NULL;
    if (load(text, &set) != 0)
        fail_msg("%s", eb.msg);
    return set;
}

static struct cjx_rules_set *
load_small(void)
{
    struct cjx_rules_set *set = NULL;
    if (cjx_rules_set_load_file(test_rules_data_path("rules/small.yaml"),
                                &test_rules_types, &set, &eb) != 0)
        fail_msg("%s", eb.msg);
    return set;
}

static const Cjx__V1__Determination *
decide(struct cjx_rules_set *set, struct cjx_arena *a, const char *yaml)
{
    ProtobufCMessage *q =
        test_rules_msg(yaml, &cjx__v1__relief_query__descriptor, a);
    assert_non_null(q);
    ProtobufCMessage *out = NULL;
    int rc = cjx_rules_decide(set, q, a, &out, &eb);
    if (rc != 0)
        fail_msg("decide: %s", eb.msg);
    return (const Cjx__V1__Determination *)out;
}

static void
test_rules_load__decide__first_match_and_enumeration(void **state)
{
    (void)state;
    struct cjx_rules_set *set = load_small();
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    const Cjx__V1__Determination *d;

    d = decide(set, &a, "record: {charge: {section: '11361'}}");
    assert_int_equal(d->relief, CJX__V1__RELIEF__RELIEF_NOT_ELIGIBLE);
    assert_string_equal(d->decision_id, "uncovered");
    assert_string_equal(d->rule_set, "small");
    assert_string_equal(d->rule_set_version, "1");
    assert_int_equal(d->procedure,
                     CJX__V1__PROCEDURE__PROCEDURE_UNKNOWN_SENTENCE_STATUS);

    d = decide(
        set, &a,
        "as_of: 2020-01-01\nrecord: {charge: {section: '11357'}, "
        "offense_date: 2010-01-01, subject: {date_of_birth: 1980-01-01}}");
    assert_int_equal(d->relief, CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(d->procedure,
                     CJX__V1__PROCEDURE__PROCEDURE_APPLICATION_REDESIGNATION);
    assert_int_equal(d->n_citations, 1);
    assert_string_equal(d->citations[0], "HS 11362.1");

    /* Unknown DOB: adult -> D, minor -> M; floor M, ceiling D. */
    d = decide(set, &a, "record: {charge: {section: '11357', attempt: true}}");
    assert_int_equal(d->relief, CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW);
    assert_int_equal(d->floor, CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_int_equal(d->ceiling, CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_string_equal(d->reason_codes[0], "MISSING_DOB");
    assert_int_equal(d->n_missing_facts, 1);
    assert_string_equal(d->missing_facts[0], "record.subject.date_of_birth");
    assert_string_equal(d->decision_id, "adult_small,other");
    int attempt = 0;
    for (size_t i = 0; i < d->n_reason_codes; i++)
        attempt |= strcmp(d->reason_codes[i], "ATTEMPT") == 0;
    assert_true(attempt);

    /* A decision that is a review itself keeps its floor and ceiling. */
    d = decide(
        set, &a,
        "record: {charge: {section: '11357'}, facts: {grams: 100}, "
        "offense_date: 2010-01-01, subject: {date_of_birth: 1980-01-01}}");
    assert_int_equal(d->relief, CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW);
    assert_int_equal(d->floor, CJX__V1__RELIEF__RELIEF_NOT_ELIGIBLE);
    assert_int_equal(d->ceiling, CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_string_equal(d->missing_facts[0], "record.facts.grams");

    /* A decision's own procedure wins over the set's. */
    d = decide(set, &a,
               "record: {charge: {section: '11357'}, offense_date: 2010-01-01, "
               "subject: {date_of_birth: 2000-01-01}}");
    assert_int_equal(d->relief, CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_int_equal(d->procedure,
                     CJX__V1__PROCEDURE__PROCEDURE_PETITION_RECALL_RESENTENCE);
    cjx_arena_fini(&a);
    cjx_rules_set_free(set);
}

/* A later branch runs from the decision that first reached the fact that
 * moved on, and keeps what was computed before it: the branches, their
 * order and what they report are those of running every branch from the
 * start. A fact reached first by the procedure is enumerated too. */
static void
test_rules_load__decide__later_branches_match_full_reruns(void **state)
{
    (void)state;
    static const char text[] = HEAD
        "review:\n"
        "  relief: HUMAN_REVIEW\n"
        "  order: [NOT_ELIGIBLE, REDUCE_TO_MISDEMEANOR, REDUCE_TO_INFRACTION,"
        " DISMISS_AND_SEAL]\n"
        "lets:\n"
        "  heavy: level == OFFENSE_LEVEL_FELONY && record.facts.grams > 10.0\n"
        "facts:\n"
        "  - {name: adult, known: has(record.subject.date_of_birth), value: "
        "'true',\n"
        "     domain: [true, false], missing: MISSING_DOB}\n"
        "  - {name: level, known: record.level != OFFENSE_LEVEL_UNSPECIFIED,\n"
        "     value: record.level, missing: MISSING_LEVEL,\n"
        "     domain: '[OFFENSE_LEVEL_FELONY, OFFENSE_LEVEL_MISDEMEANOR]'}\n"
        "  - {name: sentenced, known: has(record.sentence), value: 'true',\n"
        "     domain: [true, false], missing: MISSING_SENTENCE}\n"
        "procedure: >-\n"
        "  sentenced ? PROCEDURE_PETITION_RECALL_RESENTENCE :\n"
        "  PROCEDURE_APPLICATION_REDESIGNATION\n"
        "decisions:\n"
        "  - {id: conspiracy, when: record.charge.conspiracy, relief: "
        "NOT_ELIGIBLE}\n"
        "  - {id: minor, when: '!adult', relief: REDUCE_TO_INFRACTION, "
        "reasons: [MINOR]}\n"
        "  - {id: heavy, when: heavy, relief: NOT_ELIGIBLE, reasons: [HEAVY]}\n"
        "  - {id: misdemeanor, when: level == OFFENSE_LEVEL_MISDEMEANOR,\n"
        "     relief: DISMISS_AND_SEAL, reasons: [LAWFUL]}\n"
        "  - {id: rest, when: 'true', relief: REDUCE_TO_MISDEMEANOR}\n";
    struct cjx_rules_set *set = load_ok(text);
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    /* adult=true, level=felony: heavy, sentenced true then false (heavy
     * again); level=misdemeanor: misdemeanor; adult=false: minor. */
    const Cjx__V1__Determination *d =
        decide(set, &a, "record: {facts: {grams: 20}}");
    assert_int_equal(d->relief, CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW);
    assert_int_equal(d->floor, CJX__V1__RELIEF__RELIEF_NOT_ELIGIBLE);
    assert_int_equal(d->ceiling, CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_string_equal(d->decision_id, "heavy,misdemeanor,minor");
    assert_int_equal(d->procedure,
                     CJX__V1__PROCEDURE__PROCEDURE_PETITION_RECALL_RESENTENCE);
    static const char *const reasons[] = {"MISSING_DOB",      "MISSING_LEVEL",
                                          "MISSING_SENTENCE", "HEAVY",
                                          "LAWFUL",           "MINOR"};
    assert_int_equal(d->n_reason_codes, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(d->reason_codes[i], reasons[i]);
    static const char *const missing[] = {"adult", "level", "sentenced"};
    assert_int_equal(d->n_missing_facts, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(d->missing_facts[i], missing[i]);
    /* Known facts: one branch, its own lists. */
    d = decide(
        set, &a,
        "record: {level: MISDEMEANOR, subject: {date_of_birth: 1980-01-01},"
        " sentence: [{length: 1, unit: DAYS}]}");
    assert_int_equal(d->relief, CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_string_equal(d->decision_id, "misdemeanor");
    assert_int_equal(d->n_reason_codes, 1);
    assert_string_equal(d->reason_codes[0], "LAWFUL");
    assert_int_equal(d->n_missing_facts, 0);
    cjx_arena_fini(&a);
    cjx_rules_set_free(set);
}

static void
test_rules_load__validate__reports_failures_with_severity(void **state)
{
    (void)state;
    struct cjx_rules_set *set = load_small();
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    struct cjx_rules_report r;
    ProtobufCMessage *q =
        test_rules_msg("record: {county: Yolo, charge: {section: '11357'}}",
                       &cjx__v1__relief_query__descriptor, &a);
    assert_int_equal(cjx_rules_validate(set, q, &a, &r, &eb), 0);
    assert_int_equal(r.n_failures, 0);
    assert_false(r.rejected);

    q = test_rules_msg("", &cjx__v1__relief_query__descriptor, &a);
    assert_int_equal(cjx_rules_validate(set, q, &a, &r, &eb), 0);
    assert_int_equal(r.n_failures, 3);
    assert_true(r.rejected);
    assert_string_equal(r.failures[0].id, "has_section");
    assert_int_equal(r.failures[0].severity, CJX_RULES_REJECT);
    assert_string_equal(r.failures[0].field, "record.charge.section");
    assert_null(r.failures[0].detail);
    assert_string_equal(r.failures[1].id, "county_known");
    assert_int_equal(r.failures[1].severity, CJX_RULES_FLAG);
    /* A rule that errors counts as failed and says why, with its position. */
    assert_string_equal(r.failures[2].id, "county_divides");
    assert_non_null(r.failures[2].detail);
    assert_non_null(strstr(r.failures[2].detail, "division by zero"));
    assert_non_null(strstr(r.failures[2].detail, "small.yaml:"));
    assert_string_equal(r.failures[2].field, "");

    /* A message of another type is refused. */
    Cjx__V1__ConvictionRecord rec = CJX__V1__CONVICTION_RECORD__INIT;
    assert_int_equal(cjx_rules_validate(set, &rec.base, &a, &r, &eb),
                     CJX_EINVAL);
    ProtobufCMessage *out = NULL;
    assert_int_equal(cjx_rules_decide(set, &rec.base, &a, &out, &eb),
                     CJX_EINVAL);
    assert_int_equal(cjx_rules_decide(set, NULL, &a, &out, &eb), CJX_EINVAL);
    cjx_arena_fini(&a);
    cjx_rules_set_free(set);
}

/* A set with more slots than an evaluation keeps in its own buffer
 * (RULES_SLOT_BUF) takes them from the arena, and decides the same way. */
static void
test_rules_load__decide__set_larger_than_the_slot_buffer(void **state)
{
    (void)state;
    enum { N_LETS = 250 };
    static char text[N_LETS * 40 + 512];
    size_t len = (size_t)snprintf(text, sizeof(text), HEAD "lets:\n");
    for (int i = 0; i < N_LETS; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "  l%d: record.cycle_age + %d\n", i, i);
    snprintf(text + len, sizeof(text) - len,
             "decisions:\n"
             "  - {id: all_slots, when: 'l0 == 0 && l128 == 128 && l%d == %d',"
             " relief: NO_ACTION, reasons: [LAST_LET]}\n"
             "  - {id: other, when: 'true', relief: NOT_ELIGIBLE}\n",
             N_LETS - 1, N_LETS - 1);
    struct cjx_rules_set *set = load_ok(text);
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    const Cjx__V1__Determination *d =
        decide(set, &a, "record: {cycle_age: 0, charge: {section: '1'}}");
    assert_string_equal(d->decision_id, "all_slots");
    assert_int_equal(d->n_reason_codes, 1);
    assert_string_equal(d->reason_codes[0], "LAST_LET");
    d = decide(set, &a, "record: {cycle_age: 1, charge: {section: '1'}}");
    assert_string_equal(d->decision_id, "other");
    assert_int_equal(d->n_reason_codes, 0);
    cjx_arena_fini(&a);
    cjx_rules_set_free(set);
}

static void
test_rules_load__decide_without_match__is_an_error(void **state)
{
    (void)state;
    struct cjx_rules_set *set = NULL;
    assert_int_equal(load(HEAD "decisions:\n  - {id: a, when: record.county == "
                               "'x', relief: NO_ACTION}\n"
                               "  - {id: b, when: 1 / size(record.county) == "
                               "1, relief: NO_ACTION}\n",
                          &set),
                     0);
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    ProtobufCMessage *out = NULL;
    ProtobufCMessage *q = test_rules_msg(
        "record: {county: ab}", &cjx__v1__relief_query__descriptor, &a);
    assert_int_equal(cjx_rules_decide(set, q, &a, &out, &eb), CJX_EINVAL);
    assert_string_equal(eb.msg, "t.yaml: no decision matched");
    q = test_rules_msg("", &cjx__v1__relief_query__descriptor, &a);
    assert_int_equal(cjx_rules_decide(set, q, &a, &out, &eb), CJX_EINVAL);
    assert_string_equal(eb.msg, "t.yaml:7:21: decision 'b': division by zero");
    cjx_arena_fini(&a);
    cjx_rules_set_free(set);
}

static void
test_rules_load__decide_on_empty_message__does_not_crash(void **state)
{
    (void)state;
    struct cjx_rules_set *set = NULL;
    struct cjx_errbuf e2;
    assert_int_equal(cjx_rules_set_load_file(test_rules_prop64_path(),
                                             &test_rules_types, &set, &e2),
                     0);
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    Cjx__V1__ReliefQuery q = CJX__V1__RELIEF_QUERY__INIT;
    ProtobufCMessage *out = NULL;
    assert_int_equal(cjx_rules_decide(set, &q.base, &a, &out, &eb), 0);
    const Cjx__V1__Determination *d = (const Cjx__V1__Determination *)out;
    assert_int_equal(d->relief, CJX__V1__RELIEF__RELIEF_NOT_ELIGIBLE);
    struct cjx_rules_report r;
    assert_int_equal(cjx_rules_validate(set, &q.base, &a, &r, &eb), 0);
    assert_true(r.rejected);
    assert_string_equal(r.failures[0].id, "record_present");

    /* Present but empty messages at every level. */
    ProtobufCMessage *m = test_rules_msg(
        "record: {subject: {date_of_birth: ''}, charge: {section: '11357'}, "
        "facts: '', "
        "offense_date: '', conviction_date: '', sentence: [{}]}\n"
        "history: {events: [{statute: '', offense_date: '', event_date: ''}, "
        "{}]}\n"
        "as_of: ''",
        &cjx__v1__relief_query__descriptor, &a);
    assert_non_null(m);
    assert_int_equal(cjx_rules_decide(set, m, &a, &out, &eb), 0);
    d = (const Cjx__V1__Determination *)out;
    assert_int_equal(d->relief, CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW);
    assert_int_equal(cjx_rules_validate(set, m, &a, &r, &eb), 0);

    /* Arena exhaustion during a decision is CJX_ENOMEM, never a crash. */
    for (int n = 1; n < 400; n++) {
        struct cjx_arena small;
        cjx_arena_init(&small, NULL, 0, 0);
        cjx_arena_fail_after(n);
        int rc = cjx_rules_decide(set, m, &small, &out, &eb);
        cjx_arena_fail_after(0);
        assert_true(rc == 0 || rc == CJX_ENOMEM);
        cjx_arena_fini(&small);
        if (rc == 0)
            break;
    }
    cjx_arena_fini(&a);
    cjx_rules_set_free(set);
}

static void
test_rules_load__registry__loads_a_directory_by_type(void **state)
{
    (void)state;
    struct cjx_rules_registry *reg = NULL;
    int rc = cjx_rules_registry_load_dir(test_rules_data_path("rules/registry"),
                                         &test_rules_types, &reg, &eb);
    if (rc != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(cjx_rules_registry_count(reg), 2);
    assert_string_equal(cjx_rules_set_name(cjx_rules_registry_at(reg, 0)),
                        "small");
    assert_string_equal(cjx_rules_set_name(cjx_rules_registry_at(reg, 1)),
                        "records");
    assert_null(cjx_rules_registry_at(reg, 2));
    const struct cjx_rules_set *s =
        cjx_rules_registry_find(reg, "cjx.v1.ConvictionRecord", 0, 0, 0);
    assert_non_null(s);
    assert_string_equal(cjx_rules_set_name(s), "records");
    assert_non_null(
        cjx_rules_registry_find(reg, "cjx.v1.ReliefQuery", 2020, 1, 1));
    assert_null(cjx_rules_registry_find(reg, "cjx.v1.ReliefQuery", 2015, 1, 1));
    assert_null(cjx_rules_registry_find(reg, "cjx.v1.Nope", 0, 0, 0));

    /* A validations-only set validates but does not decide. */
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    Cjx__V1__ConvictionRecord rec = CJX__V1__CONVICTION_RECORD__INIT;
    struct cjx_rules_report r;
    assert_int_equal(cjx_rules_validate(s, &rec.base, &a, &r, &eb), 0);
    assert_int_equal(r.n_failures, 1);
    assert_string_equal(r.failures[0].id, "has_case_number");
    ProtobufCMessage *out;
    assert_int_equal(cjx_rules_decide(s, &rec.base, &a, &out, &eb), CJX_EINVAL);
    cjx_arena_fini(&a);
    cjx_rules_registry_free(reg);
    cjx_rules_registry_free(NULL);

    const char *same[] = {test_rules_data_path("rules/small.yaml"), NULL};
    char p0[1024];
    snprintf(p0, sizeof(p0), "%s", same[0]);
    const char *paths[] = {p0, p0};
    assert_int_equal(
        cjx_rules_registry_load_files(paths, 2, &test_rules_types, &reg, &eb),
        CJX_EEXIST);
    assert_non_null(strstr(eb.msg, "already loaded"));
    assert_int_equal(cjx_rules_registry_load_dir("/nonexistent",
                                                 &test_rules_types, &reg, &eb),
                     CJX_EIO);
    const char *bad[] = {p0, "/nonexistent/x.yaml"};
    assert_int_equal(
        cjx_rules_registry_load_files(bad, 2, &test_rules_types, &reg, &eb),
        CJX_EIO);
}

static const struct CMUnitTest load_tests[] = {
    cmocka_unit_test(test_rules_load__small_rule_set__loads),
    cmocka_unit_test(test_rules_load__missing_file__is_an_io_error),
    cmocka_unit_test(test_rules_load__structure_errors__point_at_the_node),
    cmocka_unit_test(test_rules_load__let_and_fact_errors),
    cmocka_unit_test(test_rules_load__expression_errors__map_to_file_positions),
    cmocka_unit_test(
        test_rules_load__allocation_failures__are_enomem_and_leak_nothing),
    cmocka_unit_test(test_rules_load__prop64_allocation_failures__are_enomem),
    cmocka_unit_test(test_rules_load__decide__first_match_and_enumeration),
    cmocka_unit_test(test_rules_load__decide__later_branches_match_full_reruns),
    cmocka_unit_test(test_rules_load__validate__reports_failures_with_severity),
    cmocka_unit_test(test_rules_load__decide__set_larger_than_the_slot_buffer),
    cmocka_unit_test(test_rules_load__decide_without_match__is_an_error),
    cmocka_unit_test(test_rules_load__decide_on_empty_message__does_not_crash),
    cmocka_unit_test(test_rules_load__registry__loads_a_directory_by_type),
};

int
test_rules_run_load(void)
{
    return cmocka_run_group_tests_name("rules_load", load_tests, NULL, NULL);
}
