/* Unit tests for src/authz: the role x method table, checked cell by cell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/authz.h"
#include "cjx/v1/audit.methods.h"
#include "cjx/v1/exchange.methods.h"
#include "cjx/v1/record_service.methods.h"
#include "cjx/v1/rules_service.methods.h"
#include "grpc/health/v1/health.methods.h"
#include "grpc/reflection/v1/reflection.methods.h"
#include "grpc/reflection/v1alpha/reflection.methods.h"
#include "cjx/v1/status.methods.h"

/* The policy written out again, independently of src/authz/authz.c, in the
 * words of the design: D = deny, A = allow statewide, C = own county only.
 * Columns: local, DOJ, PROSECUTOR, DEFENDER, COURT. */
static const struct expected_row {
    const char *method;
    int local;
    const char cells[5]; /* DOJ, PROSECUTOR, DEFENDER, COURT, then NUL */
} expected[] = {
    {"/cjx.v1.RecordService/SubmitRecord", 1, "ADDC"},
    {"/cjx.v1.RecordService/SubmitRecords", 1, "ADDC"},
    {"/cjx.v1.RecordService/GetRecord", 1, "ACCC"},
    {"/cjx.v1.RecordService/ListRecords", 1, "ACCC"},
    {"/cjx.v1.RecordService/WatchRecords", 1, "ADDD"},
    {"/cjx.v1.RulesService/Evaluate", 1, "AAAA"},
    {"/cjx.v1.RulesService/EvaluateQueries", 1, "AAAA"},
    {"/cjx.v1.AuditService/TailAudit", 1, "DDDD"},
    {"/cjx.v1.AuditService/ExportAudit", 1, "DDDD"},
    {"/cjx.v1.AuditService/VerifyAudit", 1, "DDDD"},
    {"/cjx.v1.CaseService/NotifyCandidate", 1, "ADDD"},
    {"/cjx.v1.CaseService/NotifyCandidates", 1, "ADDD"},
    {"/cjx.v1.CaseService/Decide", 1, "DCDD"},
    {"/cjx.v1.CaseService/Order", 1, "DDDC"},
    {"/cjx.v1.CaseService/OrderBulk", 1, "DDDC"},
    {"/cjx.v1.CaseService/AcknowledgeHistoryUpdated", 1, "ADDD"},
    {"/cjx.v1.CaseService/NotifyPerson", 1, "DDCD"},
    {"/cjx.v1.CaseService/FilePetition", 1, "DDDC"},
    {"/cjx.v1.CaseService/Deliver", 1, "ACCC"},
    {"/cjx.v1.CaseService/GetCase", 1, "ACCC"},
    {"/cjx.v1.CaseService/ListCases", 1, "ACCC"},
    {"/cjx.v1.CaseService/WatchCases", 1, "ACCC"},
    {"/cjx.v1.CaseService/CaseStats", 1, "ACCC"},
    {"/cjx.v1.CaseService/ListOutbox", 1, "DDDD"},
    {"/cjx.v1.StatusService/GetStatus", 1, "DDDD"},
    {"/grpc.health.v1.Health/Check", 1, "AAAA"},
    {"/grpc.health.v1.Health/Watch", 1, "AAAA"},
    {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", 1, "AAAA"},
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", 1,
     "AAAA"},
};
#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static const enum cjx_role roles[] = {CJX_ROLE_DOJ, CJX_ROLE_PROSECUTOR,
                                      CJX_ROLE_DEFENDER, CJX_ROLE_COURT};

static enum cjx_access
access_of(char c)
{
    switch (c) {
    case 'A':
        return CJX_ACCESS_ALLOW;
    case 'C':
        return CJX_ACCESS_OWN_COUNTY;
    default:
        return CJX_ACCESS_DENY;
    }
}

static void
test_authz__every_cell_matches_the_policy(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_EXPECTED; i++) {
        const struct expected_row *row = &expected[i];
        assert_int_equal(cjx_authz_local(row->method), row->local);
        for (size_t r = 0; r < 4; r++) {
            enum cjx_access got = cjx_authz_remote(roles[r], row->method);
            if (got != access_of(row->cells[r]))
                fail_msg("%s for role %d: got %d, want %c", row->method,
                         (int)roles[r], (int)got, row->cells[r]);
        }
    }
}

static void
test_authz__table_has_exactly_the_expected_rows(void **state)
{
    (void)state;
    assert_int_equal(cjx_authz_table_len, (int)N_EXPECTED);
    for (int i = 0; i < cjx_authz_table_len; i++) {
        size_t found = 0;
        for (size_t j = 0; j < N_EXPECTED; j++)
            found +=
                strcmp(cjx_authz_table[i].method_path, expected[j].method) == 0;
        if (found != 1)
            fail_msg("table row %s appears %zu times in the policy",
                     cjx_authz_table[i].method_path, found);
    }
}

static void
test_authz__unspecified_role_is_denied_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_EXPECTED; i++)
        assert_int_equal(
            cjx_authz_remote(CJX_ROLE_UNSPECIFIED, expected[i].method),
            CJX_ACCESS_DENY);
    for (int i = 0; i < cjx_authz_table_len; i++)
        assert_int_equal(cjx_authz_table[i].by_role[CJX_ROLE_UNSPECIFIED],
                         CJX_ACCESS_DENY);
}

static void
test_authz__out_of_range_role_is_denied(void **state)
{
    (void)state;
    const char *m = "/grpc.health.v1.Health/Check";
    assert_int_equal(cjx_authz_remote((enum cjx_role)5, m), CJX_ACCESS_DENY);
    assert_int_equal(cjx_authz_remote((enum cjx_role) - 1, m), CJX_ACCESS_DENY);
    assert_int_equal(cjx_authz_remote((enum cjx_role)1000, m), CJX_ACCESS_DENY);
}

static void
test_authz__unknown_method_is_denied_for_everyone(void **state)
{
    (void)state;
    static const char *const unknown[] = {
        "/cjx.v1.RecordService/DeleteRecord",
        "/cjx.v1.RecordService/GetRecord/",
        "/cjx.v1.RecordService/getrecord",
        "cjx.v1.RecordService/GetRecord",
        "/cjx.v1.RecordService/GetRecor",
        "/grpc.health.v1.Health/Watchh",
        "/grpc.reflection.v1.ServerReflection/ServerReflection",
        "",
        "/",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(cjx_authz_local(unknown[i]), 0);
        for (size_t r = 0; r < 4; r++)
            assert_int_equal(cjx_authz_remote(roles[r], unknown[i]),
                             CJX_ACCESS_DENY);
    }
    assert_int_equal(cjx_authz_local(NULL), 0);
    assert_int_equal(cjx_authz_remote(CJX_ROLE_DOJ, NULL), CJX_ACCESS_DENY);
}

/* A new RPC in the schema must get a row (and so a decision) here. */
static void
check_every_method_has_a_row(const struct cjx_method *methods, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *path = methods[i].path;
        int found = 0;
        for (int j = 0; j < cjx_authz_table_len; j++)
            found |= strcmp(cjx_authz_table[j].method_path, path) == 0;
        if (!found)
            fail_msg("method %s has no authorization row", path);
    }
}

static void
test_authz__every_generated_method_has_a_row(void **state)
{
    (void)state;
    check_every_method_has_a_row(cjx__v1__record_service__methods,
                                 RECORD_SERVICE_N_METHODS);
    check_every_method_has_a_row(cjx__v1__rules_service__methods,
                                 RULES_SERVICE_N_METHODS);
    check_every_method_has_a_row(cjx__v1__audit_service__methods,
                                 AUDIT_SERVICE_N_METHODS);
    check_every_method_has_a_row(cjx__v1__case_service__methods,
                                 CASE_SERVICE_N_METHODS);
    check_every_method_has_a_row(grpc__health__v1__health__methods,
                                 HEALTH_N_METHODS);
    check_every_method_has_a_row(
        grpc__reflection__v1__server_reflection__methods,
        SERVER_REFLECTION_N_METHODS);
    check_every_method_has_a_row(
        grpc__reflection__v1alpha__server_reflection__methods,
        SERVER_REFLECTION_N_METHODS);
    check_every_method_has_a_row(cjx__v1__status_service__methods,
                                 STATUS_SERVICE_N_METHODS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authz__every_cell_matches_the_policy),
        cmocka_unit_test(test_authz__table_has_exactly_the_expected_rows),
        cmocka_unit_test(test_authz__unspecified_role_is_denied_everywhere),
        cmocka_unit_test(test_authz__out_of_range_role_is_denied),
        cmocka_unit_test(test_authz__unknown_method_is_denied_for_everyone),
        cmocka_unit_test(test_authz__every_generated_method_has_a_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
