/* The role x method authorization table, deny by default. */
#include "cjx/authz.h"

#include <string.h>

#define DENY   CJX_ACCESS_DENY
#define ALLOW  CJX_ACCESS_ALLOW
#define COUNTY CJX_ACCESS_OWN_COUNTY

/* One row per method. A role left out of a row is denied, and so is
 * CJX_ROLE_UNSPECIFIED in every row: a new method or role grants nothing
 * until a row here says so. */
const struct cjx_authz_rule cjx_authz_table[] = {
    /* Records come from DOJ's criminal-history system and from courts'
     * case management systems; a court writes only its own county's. */
    {"/cjx.v1.RecordService/SubmitRecord",
     1,
     {[CJX_ROLE_DOJ] = ALLOW, [CJX_ROLE_COURT] = COUNTY}},
    {"/cjx.v1.RecordService/SubmitRecords",
     1,
     {[CJX_ROLE_DOJ] = ALLOW, [CJX_ROLE_COURT] = COUNTY}},
    /* Every party reads; county agencies only their county's records. */
    {"/cjx.v1.RecordService/GetRecord",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = COUNTY,
      [CJX_ROLE_DEFENDER] = COUNTY,
      [CJX_ROLE_COURT] = COUNTY}},
    {"/cjx.v1.RecordService/ListRecords",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = COUNTY,
      [CJX_ROLE_DEFENDER] = COUNTY,
      [CJX_ROLE_COURT] = COUNTY}},
    /* The change feed carries every record, so it is not county-scoped and
     * only the statewide agency may follow it. */
    {"/cjx.v1.RecordService/WatchRecords", 1, {[CJX_ROLE_DOJ] = ALLOW}},
    /* Evaluating a query is pure computation over what the caller sends:
     * any registered agency may ask what the rules say. */
    {"/cjx.v1.RulesService/Evaluate",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = ALLOW,
      [CJX_ROLE_DEFENDER] = ALLOW,
      [CJX_ROLE_COURT] = ALLOW}},
    {"/cjx.v1.RulesService/EvaluateQueries",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = ALLOW,
      [CJX_ROLE_DEFENDER] = ALLOW,
      [CJX_ROLE_COURT] = ALLOW}},
    /* The audit log names every caller and record touched: the local
     * operator reads and verifies it; no remote agency may. */
    {"/cjx.v1.AuditService/TailAudit", 1, {0}},
    {"/cjx.v1.AuditService/ExportAudit", 1, {0}},
    {"/cjx.v1.AuditService/VerifyAudit", 1, {0}},
    /* The relief exchange (docs/workflow.md): each step comes from the
     * role that takes it, county agencies only for their county (the
     * workflow checks the case's county); the local operator may call
     * every method, and the workflow refuses a step its agency's role does
     * not take. Deliver carries peers' hand-offs of several methods: each
     * message in it is authorized again by its own method's row. */
    {"/cjx.v1.CaseService/NotifyCandidate", 1, {[CJX_ROLE_DOJ] = ALLOW}},
    {"/cjx.v1.CaseService/NotifyCandidates", 1, {[CJX_ROLE_DOJ] = ALLOW}},
    {"/cjx.v1.CaseService/Decide", 1, {[CJX_ROLE_PROSECUTOR] = COUNTY}},
    {"/cjx.v1.CaseService/Order", 1, {[CJX_ROLE_COURT] = COUNTY}},
    {"/cjx.v1.CaseService/OrderBulk", 1, {[CJX_ROLE_COURT] = COUNTY}},
    {"/cjx.v1.CaseService/AcknowledgeHistoryUpdated",
     1,
     {[CJX_ROLE_DOJ] = ALLOW}},
    /* M4: the public defenders tell the person of a challenge. */
    {"/cjx.v1.CaseService/NotifyPerson", 1, {[CJX_ROLE_DEFENDER] = COUNTY}},
    /* The individual path: the court files the person's petition. */
    {"/cjx.v1.CaseService/FilePetition", 1, {[CJX_ROLE_COURT] = COUNTY}},
    {"/cjx.v1.CaseService/Deliver",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = COUNTY,
      [CJX_ROLE_DEFENDER] = COUNTY,
      [CJX_ROLE_COURT] = COUNTY}},
    /* Every party reads the cases it takes part in: county agencies
     * their county's (the feed skips other counties' changes for them). */
    {"/cjx.v1.CaseService/GetCase",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = COUNTY,
      [CJX_ROLE_DEFENDER] = COUNTY,
      [CJX_ROLE_COURT] = COUNTY}},
    {"/cjx.v1.CaseService/ListCases",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = COUNTY,
      [CJX_ROLE_DEFENDER] = COUNTY,
      [CJX_ROLE_COURT] = COUNTY}},
    {"/cjx.v1.CaseService/WatchCases",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = COUNTY,
      [CJX_ROLE_DEFENDER] = COUNTY,
      [CJX_ROLE_COURT] = COUNTY}},
    {"/cjx.v1.CaseService/CaseStats",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = COUNTY,
      [CJX_ROLE_DEFENDER] = COUNTY,
      [CJX_ROLE_COURT] = COUNTY}},
    /* The outbox is this daemon's own business. */
    {"/cjx.v1.CaseService/ListOutbox", 1, {0}},
    /* So is its status: its peers, certificates and store are nothing a
     * remote agency needs to see. */
    {"/cjx.v1.StatusService/GetStatus", 1, {0}},
    /* Health and reflection tell what is served and whether it works,
     * never any data: every registered agency may ask. */
    {"/grpc.health.v1.Health/Check",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = ALLOW,
      [CJX_ROLE_DEFENDER] = ALLOW,
      [CJX_ROLE_COURT] = ALLOW}},
    {"/grpc.health.v1.Health/Watch",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = ALLOW,
      [CJX_ROLE_DEFENDER] = ALLOW,
      [CJX_ROLE_COURT] = ALLOW}},
    {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = ALLOW,
      [CJX_ROLE_DEFENDER] = ALLOW,
      [CJX_ROLE_COURT] = ALLOW}},
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
     1,
     {[CJX_ROLE_DOJ] = ALLOW,
      [CJX_ROLE_PROSECUTOR] = ALLOW,
      [CJX_ROLE_DEFENDER] = ALLOW,
      [CJX_ROLE_COURT] = ALLOW}},
};

const int cjx_authz_table_len =
    (int)(sizeof(cjx_authz_table) / sizeof(cjx_authz_table[0]));

static const struct cjx_authz_rule *
find_rule(const char *method_path)
{
    if (method_path == NULL)
        return NULL;
    for (int i = 0; i < cjx_authz_table_len; i++)
        if (strcmp(cjx_authz_table[i].method_path, method_path) == 0)
            return &cjx_authz_table[i];
    return NULL;
}

enum cjx_access
cjx_authz_remote(enum cjx_role role, const char *method_path)
{
    const struct cjx_authz_rule *rule = find_rule(method_path);
    if (rule == NULL || role <= CJX_ROLE_UNSPECIFIED || role > CJX_ROLE_COURT)
        return CJX_ACCESS_DENY;
    return rule->by_role[role];
}

int
cjx_authz_local(const char *method_path)
{
    const struct cjx_authz_rule *rule = find_rule(method_path);
    return rule != NULL && rule->local;
}
