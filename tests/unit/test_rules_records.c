/* Unit tests for rules/records.yaml: each check of incoming records as a
 * row, a record that breaks it and a neighbour that does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/v1/conviction.pb-c.h"
#include "test_rules.h"

static struct cjx_rules_set *records;

static int
setup(void **state)
{
    (void)state;
    struct cjx_errbuf eb = {{0}};
    char path[1024];
    const char *base = getenv("CJX_TEST_DATA");
    snprintf(path, sizeof(path), "%s/../../rules/records.yaml",
             base != NULL ? base : "tests/data");
    int rc = cjx_rules_set_load_file(path, &test_rules_types, &records, &eb);
    if (rc != 0)
        fprintf(stderr, "records.yaml: %s\n", eb.msg);
    return rc;
}

static int
teardown(void **state)
{
    (void)state;
    cjx_rules_set_free(records);
    return 0;
}

/* A record no rule has anything to say about, completed by each row. */
#define GOOD_RECORD                                                           \
    "subject: {cii: A1, date_of_birth: 1980-01-01}, court_case_number: C1, "  \
    "count_number: 1, offense_date: 2010-01-01, charge: {section: '11357'}, " \
    "level: FELONY"

static const struct records_row {
    const char *rest; /* the fields after GOOD_RECORD */
    const char *id;   /* the one rule that fails, or NULL for none */
    const char *field;
    enum cjx_rules_severity severity;
} rows[] = {
    {"cycle_age: 30, disposition: CONVICTED, conviction_date: 2010-06-01", NULL,
     NULL, 0},
    {"cycle_age: 0", NULL, NULL, 0},
    {"cycle_age: -1", "cycle_age_not_negative", "cycle_age", CJX_RULES_REJECT},
    {"sentence: [{length: 0, fine_cents: 0}, {length: 12, fine_cents: 100}]",
     NULL, NULL, 0},
    {"sentence: [{length: 10}, {length: -3}]", "sentence_length_not_negative",
     "sentence.length", CJX_RULES_REJECT},
    {"sentence: [{fine_cents: 5000}, {fine_cents: -1}]",
     "sentence_fine_not_negative", "sentence.fine_cents", CJX_RULES_REJECT},
    {"disposition: CONVICTED", "convicted_without_conviction_date",
     "conviction_date", CJX_RULES_FLAG},
    {"disposition: CONVICTED, conviction_date: 0000-00-00",
     "convicted_without_conviction_date", "conviction_date", CJX_RULES_FLAG},
    {"disposition: DISMISSED", NULL, NULL, 0},
};

static void
test_rules_records__each_check__fails_alone(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct records_row *row = &rows[i];
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "{" GOOD_RECORD ", %s}", row->rest);
        struct cjx_arena a;
        cjx_arena_init(&a, NULL, 0, 0);
        ProtobufCMessage *rec =
            test_rules_msg(yaml, &cjx__v1__conviction_record__descriptor, &a);
        if (rec == NULL)
            fail_msg("row %zu does not build", i);
        struct cjx_rules_report r;
        struct cjx_errbuf eb;
        assert_int_equal(cjx_rules_validate(records, rec, &a, &r, &eb), 0);
        if (row->id == NULL) {
            if (r.n_failures != 0)
                fail_msg("row %zu: %s failed", i, r.failures[0].id);
        } else {
            if (r.n_failures != 1)
                fail_msg("row %zu: %zu failures, want %s", i, r.n_failures,
                         row->id);
            assert_string_equal(r.failures[0].id, row->id);
            assert_string_equal(r.failures[0].field, row->field);
            assert_int_equal(r.failures[0].severity, row->severity);
            assert_null(r.failures[0].detail);
            assert_int_equal(r.rejected, row->severity == CJX_RULES_REJECT);
        }
        cjx_arena_fini(&a);
    }
}

int
test_rules_run_records(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_records__each_check__fails_alone),
    };
    return cmocka_run_group_tests_name("rules_records", tests, setup, teardown);
}
