/* Unit tests of the flat evaluator: every determination it makes is the tree walker's, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/v1/determination.pb-c.h"
#include "genrec.h"
#include "test_rules.h"

int
test_rules_same_decision(const struct cjx_rules_set *set,
                         const ProtobufCMessage *q, char *why, size_t why_len)
{
    struct cjx_arena ta, ca;
    cjx_arena_init(&ta, NULL, 0, 0);
    cjx_arena_init(&ca, NULL, 0, 0);
    ProtobufCMessage *tree = NULL, *compiled = NULL;
    struct cjx_errbuf teb = {{0}}, ceb = {{0}};
    int trc = cjx_rules_decide(set, q, &ta, &tree, &teb);
    int crc = cjx_rules_decide_compiled(set, q, &ca, &compiled, &ceb);
    int same = trc == crc;
    if (!same) {
        snprintf(why, why_len,
                 "tree returned %d (%.200s), compiled %d (%.200s)", trc,
                 teb.msg, crc, ceb.msg);
    } else if (trc != 0) {
        same = strcmp(teb.msg, ceb.msg) == 0;
        if (!same)
            snprintf(why, why_len,
                     "tree failed with '%.200s', compiled with '%.200s'",
                     teb.msg, ceb.msg);
    } else {
        size_t tn = protobuf_c_message_get_packed_size(tree);
        size_t cn = protobuf_c_message_get_packed_size(compiled);
        uint8_t *tb = malloc(tn + 1), *cb = malloc(cn + 1);
        assert_non_null(tb);
        assert_non_null(cb);
        protobuf_c_message_pack(tree, tb);
        protobuf_c_message_pack(compiled, cb);
        same = tn == cn && memcmp(tb, cb, tn) == 0;
        if (!same)
            snprintf(why, why_len,
                     "determinations differ: tree %zu bytes, compiled %zu "
                     "(decisions %s / %s)",
                     tn, cn,
                     ((const Cjx__V1__Determination *)tree)->decision_id,
                     ((const Cjx__V1__Determination *)compiled)->decision_id);
        free(tb);
        free(cb);
    }
    cjx_arena_fini(&ta);
    cjx_arena_fini(&ca);
    return same;
}

/* Synthetic DOJ-like counts: every section, level, missing fact, prior
 * and sentence shape the generator draws, so that every decision, fact
 * enumeration and procedure of the Prop 64 set is reached. */
static void
test_rules_compiled__generated_records__decide_as_the_tree(void **state)
{
    (void)state;
    struct cjx_rules_set *set = NULL;
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(cjx_rules_set_load_file(test_rules_prop64_path(),
                                             &test_rules_types, &set, &eb),
                     0);
    static const uint64_t seeds[] = {1, 42, 2026};
    size_t differ = 0, n = 0, decided = 0;
    for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        struct cjx_arena data;
        cjx_arena_init(&data, NULL, 0, 0);
        struct genrec g;
        genrec_init(&g, seeds[s]);
        for (int i = 0; i < 20000; i++, n++) {
            Cjx__V1__ReliefQuery *q = genrec_next(&g, &data);
            assert_non_null(q);
            char why[512];
            if (!test_rules_same_decision(set, &q->base, why, sizeof(why)) &&
                differ++ < 5)
                fprintf(stderr, "seed %llu record %d: %s\n",
                        (unsigned long long)seeds[s], i, why);
            decided++;
        }
        cjx_arena_fini(&data);
    }
    cjx_rules_set_free(set);
    assert_int_equal(decided, n);
    assert_int_equal(differ, 0);
}

/* A set built to reach the flat evaluator's other paths: decisions whose
 * condition is an error, no decision matching, unknown facts enumerated
 * across decisions led by the same let, || chains absorbing errors,
 * conditional values and lets computed in place inside macros. */
static const char error_set[] =
    "name: paths\n"
    "version: '1'\n"
    "message: cjx.v1.ReliefQuery\n"
    "output: cjx.v1.Determination\n"
    "review: {relief: HUMAN_REVIEW, order: [NOT_ELIGIBLE, "
    "REDUCE_TO_MISDEMEANOR, REDUCE_TO_INFRACTION, DISMISS_AND_SEAL]}\n"
    "lets:\n"
    "  sec: record.charge.section\n"
    "  is_a: >-\n"
    "    sec == 'A' || (has(record.offense_date) &&\n"
    "    record.offense_date < date('2000-01-01'))\n"
    "  odd: record.cycle_age % 2 == 1\n"
    "  age: 'record.cycle_age > 0 ? record.cycle_age : 18'\n"
    "  priors: size(history.events.filter(e, e.statute.section == sec))\n"
    "facts:\n"
    "  - name: lvl\n"
    "    known: record.level != OFFENSE_LEVEL_UNSPECIFIED\n"
    "    value: record.level\n"
    "    domain: [OFFENSE_LEVEL_FELONY, OFFENSE_LEVEL_MISDEMEANOR]\n"
    "    missing: MISSING_LEVEL\n"
    "    field: record.level\n"
    "decisions:\n"
    "  - id: dated\n"
    "    when: sec == 'D' && record.offense_date < date('2000-01-01')\n"
    "    relief: NOT_ELIGIBLE\n"
    "  - id: a_felony\n"
    "    when: is_a && lvl == OFFENSE_LEVEL_FELONY && age >= 18\n"
    "    relief: REDUCE_TO_MISDEMEANOR\n"
    "    reasons: [NOW_MISDEMEANOR]\n"
    "  - id: a_other\n"
    "    when: is_a && (odd || priors > 1)\n"
    "    relief: DISMISS_AND_SEAL\n"
    "  - id: b\n"
    "    when: '!is_a && sec in [\"B\", \"C\"]'\n"
    "    relief: REDUCE_TO_INFRACTION\n"
    "  - id: rest\n"
    "    when: sec != 'Z'\n"
    "    relief: NO_ACTION\n";

static void
test_rules_compiled__errors_and_enumeration__as_the_tree(void **state)
{
    (void)state;
    struct cjx_rules_set *set = NULL;
    struct cjx_errbuf eb = {{0}};
    int rc =
        cjx_rules_set_load_buffer("paths.yaml", error_set, strlen(error_set),
                                  &test_rules_types, &set, &eb);
    if (rc != 0)
        fprintf(stderr, "%s\n", eb.msg);
    assert_int_equal(rc, 0);
    /* Each query with the decision the tree makes, or NULL where
     * deciding fails: the rows reach every path. */
    static const struct {
        const char *query, *decision;
    } rows[] = {
        {"record: {charge: {section: D}}", NULL}, /* date not set */
        {"record: {charge: {section: D}, offense_date: 1999-02-30}", NULL},
        {"record: {charge: {section: D}, offense_date: 1999-01-01}", "dated"},
        /* level unknown: enumerated over two decisions */
        {"record: {charge: {section: A}}", "a_felony,rest"},
        {"record: {charge: {section: A}, level: FELONY, cycle_age: 17}",
         "a_other"},
        {"record: {charge: {section: A}, level: MISDEMEANOR, cycle_age: 3}",
         "a_other"},
        {"record: {charge: {section: A}, level: MISDEMEANOR}", "rest"},
        {"{record: {charge: {section: A}, level: INFRACTION}, history: "
         "{events: [{statute: {section: A}}, {statute: {section: A}}, "
         "{statute: {section: B}}]}}",
         "a_other"},
        {"record: {charge: {section: B}}", "b"},
        {"record: {charge: {section: E}, offense_date: 1990-01-01, level: "
         "FELONY}",
         "a_felony"},
        {"record: {charge: {section: N}}", "rest"},
        {"record: {charge: {section: Z}}", NULL}, /* no decision matches */
    };
    int differ = 0, unexpected = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct cjx_arena a;
        cjx_arena_init(&a, NULL, 0, 0);
        ProtobufCMessage *q = test_rules_msg(
            rows[i].query, &cjx__v1__relief_query__descriptor, &a);
        assert_non_null(q);
        char why[512];
        if (!test_rules_same_decision(set, q, why, sizeof(why))) {
            differ++;
            fprintf(stderr, "row %zu: %s\n", i, why);
        }
        ProtobufCMessage *out;
        rc = cjx_rules_decide_compiled(set, q, &a, &out, &eb);
        const char *got =
            rc == 0 ? ((const Cjx__V1__Determination *)out)->decision_id : NULL;
        if (got == NULL ? rows[i].decision != NULL
                        : rows[i].decision == NULL ||
                              strcmp(got, rows[i].decision) != 0) {
            unexpected++;
            fprintf(stderr, "row %zu: want %s, got %s\n", i,
                    rows[i].decision ? rows[i].decision : "a failure",
                    got ? got : eb.msg);
        }
        cjx_arena_fini(&a);
    }
    cjx_rules_set_free(set);
    assert_int_equal(differ, 0);
    assert_int_equal(unexpected, 0);
}

/* A chain of lets deeper than a run computes in place: the deepest are
 * computed by calls, with the same result. */
static void
test_rules_compiled__deep_let_chain__as_the_tree(void **state)
{
    (void)state;
    enum { DEPTH = 150 };
    size_t cap = 512 + DEPTH * 64, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len,
                            "name: deep\nversion: '1'\n"
                            "message: cjx.v1.ReliefQuery\n"
                            "output: cjx.v1.Determination\nlets:\n"
                            "  l0: record.cycle_age\n");
    for (int i = 1; i < DEPTH; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "  l%d: 'l%d > 1000 ? l%d : l%d + 1'\n", i,
                                i - 1, i - 1, i - 1);
    len += (size_t)snprintf(text + len, cap - len,
                            "decisions:\n"
                            "  - {id: big, when: 'l%d > 200', relief: "
                            "NOT_ELIGIBLE}\n"
                            "  - {id: small, when: 'l%d >= 0', relief: "
                            "NO_ACTION}\n",
                            DEPTH - 1, DEPTH - 1);
    struct cjx_rules_set *set = NULL;
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_rules_set_load_buffer("deep.yaml", text, len,
                                       &test_rules_types, &set, &eb);
    free(text);
    if (rc != 0)
        fprintf(stderr, "%s\n", eb.msg);
    assert_int_equal(rc, 0);
    static const char *const queries[] = {"record: {cycle_age: 10}",
                                          "record: {cycle_age: 60}"};
    static const char *const want[] = {"small", "big"};
    for (int i = 0; i < 2; i++) {
        struct cjx_arena a;
        cjx_arena_init(&a, NULL, 0, 0);
        ProtobufCMessage *q =
            test_rules_msg(queries[i], &cjx__v1__relief_query__descriptor, &a);
        char why[512];
        if (!test_rules_same_decision(set, q, why, sizeof(why)))
            fail_msg("%s", why);
        ProtobufCMessage *out;
        assert_int_equal(cjx_rules_decide_compiled(set, q, &a, &out, &eb), 0);
        assert_string_equal(((Cjx__V1__Determination *)out)->decision_id,
                            want[i]);
        cjx_arena_fini(&a);
    }
    cjx_rules_set_free(set);
}

static const struct CMUnitTest compiled_tests[] = {
    cmocka_unit_test(test_rules_compiled__deep_let_chain__as_the_tree),
    cmocka_unit_test(
        test_rules_compiled__generated_records__decide_as_the_tree),
    cmocka_unit_test(test_rules_compiled__errors_and_enumeration__as_the_tree),
};

int
test_rules_run_compiled(void)
{
    return cmocka_run_group_tests_name("rules_compiled", compiled_tests, NULL,
                                       NULL);
}
