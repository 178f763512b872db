/* Unit tests of relief on the record (DESIGN.md invariant 6): the court's
 * order and DOJ's application of it write the next version of the
 * conviction record in the transaction of the case step, and a sealed
 * record is read only as the sealing policy allows, each read audited.
 * Driven in memory (tests/support/case_fixture.c) against a real store. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "case_fixture.h"
#include "cjx/audit.h"
#include "cjx/evaluate.h"
#include "cjx/rules.h"
#include "cjx/service.h"
#include "cjx/store.h"
#include "cjx/v1/audit.pb-c.h"
#include "cjx/v1/record_service.methods.h"
#include "cjx/v1/record_service.pb-c.h"

#define SEALED CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL
#define REDUCE CJX__V1__ORDER_RELIEF__ORDER_RELIEF_REDUCE_TO_MISDEMEANOR

/* GetRecord of cii's key as caller; *out the record when OK. */
static int
get_record(struct fixture *f, const char *caller, const char *cii,
           Cjx__V1__StoredRecord **out)
{
    char ccn[32];
    snprintf(ccn, sizeof(ccn), "CASE-%s", cii);
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = (char *)cii;
    key.court_case_number = ccn;
    key.count_number = 1;
    Cjx__V1__GetRecordRequest req = CJX__V1__GET_RECORD_REQUEST__INIT;
    req.key = &key;
    ProtobufCMessage *m;
    int code = run_method(
        f, &cjx__v1__record_service__methods[RECORD_SERVICE_GET_RECORD], caller,
        &req.base, &m);
    *out = (Cjx__V1__StoredRecord *)m;
    return code;
}

/* The records ListRecords by cii shows caller; -1 if the call failed. */
static int
listed_records(struct fixture *f, const char *caller, const char *cii)
{
    Cjx__V1__ListRecordsRequest req = CJX__V1__LIST_RECORDS_REQUEST__INIT;
    req.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_CII;
    req.cii = (char *)cii;
    ProtobufCMessage *m;
    int code = run_method(
        f, &cjx__v1__record_service__methods[RECORD_SERVICE_LIST_RECORDS],
        caller, &req.base, &m);
    if (code != OK)
        return -1;
    int n = (int)((Cjx__V1__ListRecordsResponse *)m)->n_records;
    protobuf_c_message_free_unpacked(m, NULL);
    return n;
}

static int
get_case_with_notice(struct fixture *f, const char *caller, const char *cii)
{
    char ccn[32];
    snprintf(ccn, sizeof(ccn), "CASE-%s", cii);
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = (char *)cii;
    key.court_case_number = ccn;
    key.count_number = 1;
    Cjx__V1__GetCaseRequest req = CJX__V1__GET_CASE_REQUEST__INIT;
    req.key = &key;
    req.include_notice = 1;
    ProtobufCMessage *m;
    int code = run_read(f, CASE_SERVICE_GET_CASE, caller, &req.base, &m);
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return code;
}

/* At the San Francisco court: DOJ's notice of cii, the DA's no-challenge
 * and the court's own order of relief, by judge J under bulk order B. */
static void
court_orders(struct fixture *f, const char *cii, Cjx__V1__OrderRelief relief)
{
    /* The grants of OrderRelief have the numbers of Relief's. */
    court_has_notice(f, cii, (Cjx__V1__Relief)relief);
    struct step_buf s;
    char id[32];
    snprintf(id, sizeof(id), "d-%s", cii);
    no_challenge(&s, id, cii, (Cjx__V1__Relief)relief);
    s.m.d.decided_at_unix_us = test_now;
    struct answer a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    if (a.code != OK)
        fail_msg("decision on %s: %d %s", cii, a.code, a.message);
    answer_free(&a);
    snprintf(id, sizeof(id), "o-%s", cii);
    order(&s, id, cii, relief);
    Cjx__V1__Date effective = CJX__V1__DATE__INIT;
    effective.year = 2026;
    effective.month = 3;
    effective.day = 2;
    s.m.o.judge = "Hon. R. Example";
    s.m.o.bulk_order_id = "SF-BULK-2026-01";
    s.m.o.effective_date = &effective;
    a = run(f, CASE_SERVICE_ORDER, NULL, &s.m.o.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
}

static void
test_relief__court_order__rewrites_the_record_in_the_same_step(void **state)
{
    struct fixture *f = *state;
    court_has_notice(f, "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    /* The notice brought the record into the court's store. */
    Cjx__V1__StoredRecord *r;
    assert_int_equal(get_record(f, NULL, "A1", &r), OK);
    assert_int_equal(r->version, 1);
    assert_false(r->record->sealed);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    int64_t feed_before = cjx_store_last_seq(f->store);

    struct step_buf s;
    no_challenge(&s, "d1", "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    s.m.d.decided_at_unix_us = test_now;
    struct answer a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    assert_int_equal(cjx_store_last_seq(f->store), feed_before);

    court_orders(f, "A2", SEALED);
    assert_int_equal(get_record(f, NULL, "A2", &r), OK);
    assert_int_equal(r->version, 2);
    const Cjx__V1__ConvictionRecord *rec = r->record;
    assert_true(rec->sealed);
    assert_int_equal(rec->disposition,
                     CJX__V1__DISPOSITION__DISPOSITION_DISMISSED);
    assert_int_equal(rec->n_prior_relief, 1);
    assert_int_equal(rec->prior_relief[0],
                     CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PROP64_DISMISSED);
    assert_int_equal(rec->n_relief_history, 1);
    const Cjx__V1__ReliefEntry *e = rec->relief_history[0];
    assert_int_equal(e->relief, SEALED);
    assert_int_equal(e->level_before,
                     CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY);
    assert_string_equal(e->order_id, "o-A2");
    assert_string_equal(e->bulk_order_id, "SF-BULK-2026-01");
    assert_string_equal(e->court_ori, SF_COURT);
    assert_string_equal(e->judge, "Hon. R. Example");
    assert_string_equal(e->recorded_by_ori, SF_COURT);
    assert_int_equal(e->effective_date->year, 2026);
    assert_string_equal(e->statute->normalized, "HS 11361.8(f)");
    assert_non_null(strstr(e->citation, "HS 11361.9"));
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* The change is on the record feed: notice A2 and order A2. */
    assert_int_equal(cjx_store_last_seq(f->store), feed_before + 2);

    /* A redesignation lowers the level and seals nothing. */
    court_orders(f, "A3", REDUCE);
    assert_int_equal(get_record(f, NULL, "A3", &r), OK);
    assert_false(r->record->sealed);
    assert_int_equal(r->record->level,
                     CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR);
    assert_int_equal(r->record->prior_relief[0],
                     CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PROP64_REDESIGNATED);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void
test_relief__doj__record_changes_only_with_its_acknowledgement(void **state)
{
    struct fixture *f = *state;
    struct answer a =
        local_notice(f, "n1", "B1", "San Francisco",
                     CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    struct step_buf s;
    no_challenge(&s, "d1", "B1", CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    s.m.d.decided_at_unix_us = test_now;
    a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    order(&s, "o1", "B1", REDUCE);
    s.m.o.ordered_at_unix_us = test_now;
    s.m.o.court_ori = SF_COURT;
    a = run(f, CASE_SERVICE_ORDER, SF_COURT, &s.m.o.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    /* Received, the order is not yet applied to DOJ's criminal history. */
    Cjx__V1__StoredRecord *r;
    assert_int_equal(get_record(f, NULL, "B1", &r), OK);
    assert_int_equal(r->version, 1);
    assert_int_equal(r->record->level,
                     CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    acknowledge(&s, "h1", "B1", REDUCE);
    a = run(f, CASE_SERVICE_ACKNOWLEDGE_HISTORY_UPDATED, NULL, &s.m.h.base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.reply->snapshot->state,
                     CJX__V1__CASE_STATE__CASE_STATE_HISTORY_UPDATED);
    answer_free(&a);
    assert_int_equal(get_record(f, NULL, "B1", &r), OK);
    assert_int_equal(r->version, 2);
    assert_int_equal(r->record->level,
                     CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR);
    assert_int_equal(r->record->n_relief_history, 1);
    assert_string_equal(r->record->relief_history[0]->recorded_by_ori, DOJ);
    assert_string_equal(r->record->relief_history[0]->court_ori, SF_COURT);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* The same acknowledgement under a new id changes nothing more. */
    acknowledge(&s, "h2", "B1", REDUCE);
    a = run(f, CASE_SERVICE_ACKNOWLEDGE_HISTORY_UPDATED, NULL, &s.m.h.base);
    assert_int_equal(a.code, OK);
    assert_true(a.reply->unchanged);
    answer_free(&a);
    assert_int_equal(get_record(f, NULL, "B1", &r), OK);
    assert_int_equal(r->version, 2);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void
test_relief__order_naming_another_court__invalid_argument(void **state)
{
    struct fixture *f = *state;
    court_has_notice(f, "C1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    become(f, DOJ);
    struct step_buf s;
    order(&s, "o1", "C1", SEALED);
    s.m.o.ordered_at_unix_us = test_now;
    s.m.o.court_ori = ALA_COURT;
    struct answer a = run(f, CASE_SERVICE_ORDER, SF_COURT, &s.m.o.base);
    assert_int_not_equal(a.code, OK);
    answer_free(&a);
}

/* ---- the individual path (HS 11361.8) ---- */

struct petition_buf {
    Cjx__V1__Petition p;
    struct notice_buf n; /* its record and determination */
    Cjx__V1__Date filed;
};

/* A person's petition of cii's count in San Francisco, with the court's
 * determination when relief is a grant (none: the daemon evaluates). */
static Cjx__V1__Petition *
petition(struct petition_buf *b, const char *id, const char *cii,
         Cjx__V1__Relief relief)
{
    memset(b, 0, sizeof(*b));
    notice(&b->n, id, cii, "San Francisco",
           relief != 0 ? relief : CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    cjx__v1__petition__init(&b->p);
    cjx__v1__date__init(&b->filed);
    b->filed.year = 2026;
    b->filed.month = 2;
    b->filed.day = 27;
    b->p.meta = &b->n.meta;
    b->p.record = &b->n.rec;
    b->p.filed_by = CJX__V1__PETITION_FILER__PETITION_FILER_PERSON;
    b->p.filed_date = &b->filed;
    b->p.determination = relief != 0 ? &b->n.det : NULL;
    return &b->p;
}

static void
test_relief__petition__court_opens_orders_and_doj_applies(void **state)
{
    struct fixture *f = *state;
    become(f, SF_COURT);
    /* Without a determination and without rules to make one, the court's
     * daemon cannot bound the relief. */
    struct petition_buf pb;
    struct answer a = run(f, CASE_SERVICE_FILE_PETITION, NULL,
                          &petition(&pb, "p0", "P9", 0)->base);
    assert_int_equal(a.code, FAILED_PRECONDITION);
    assert_non_null(strstr(a.message, "no relief rule set"));
    answer_free(&a);

    a = run(f, CASE_SERVICE_FILE_PETITION, NULL,
            &petition(&pb, "p1", "P1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL)
                 ->base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.reply->snapshot->state,
                     CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED);
    assert_int_equal(a.reply->snapshot->origin,
                     CJX__V1__CASE_ORIGIN__CASE_ORIGIN_PETITION);
    assert_string_equal(a.reply->snapshot->prosecutor_ori, SF_DA);
    answer_free(&a);
    /* The prosecutor and DOJ are told; the record is the court's. */
    assert_int_equal(pending_for(f, SF_DA), 1);
    assert_int_equal(pending_for(f, DOJ), 1);
    Cjx__V1__StoredRecord *r;
    assert_int_equal(get_record(f, NULL, "P1", &r), OK);
    assert_int_equal(r->version, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_int_equal(get_case_with_notice(f, NULL, "P1"), OK);

    /* The court orders without waiting for an answer. */
    struct step_buf s;
    order(&s, "o1", "P1", SEALED);
    s.m.o.judge = "Hon. R. Example";
    a = run(f, CASE_SERVICE_ORDER, NULL, &s.m.o.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    assert_int_equal(get_record(f, NULL, "P1", &r), OK);
    assert_int_equal(r->version, 2);
    assert_true(r->record->sealed);
    assert_string_equal(r->record->relief_history[0]->citation,
                        "HS 11361.8(e)-(f)");
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* At DOJ: the petition opens the case, the order arrives, and DOJ's
     * acknowledgement applies it to the criminal history. */
    become(f, DOJ);
    struct petition_buf pd;
    petition(&pd, "p2", "P2", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    pd.p.prosecutor_ori = SF_DA;
    pd.p.petitioned_at_unix_us = test_now;
    a = run(f, CASE_SERVICE_FILE_PETITION, SF_COURT, &pd.p.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    order(&s, "o2", "P2", SEALED);
    s.m.o.ordered_at_unix_us = test_now;
    a = run(f, CASE_SERVICE_ORDER, SF_COURT, &s.m.o.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    acknowledge(&s, "h2", "P2", SEALED);
    a = run(f, CASE_SERVICE_ACKNOWLEDGE_HISTORY_UPDATED, NULL, &s.m.h.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    assert_int_equal(get_record(f, NULL, "P2", &r), OK);
    assert_int_equal(r->version, 2);
    assert_true(r->record->sealed);
    assert_string_equal(r->record->relief_history[0]->recorded_by_ori, DOJ);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* ---- a decision that names facts ---- */

/* At the San Francisco court: DOJ's notice of an HS 11357 count of cii
 * whose quantity it could not tell, so human review between a reduction
 * and a dismissal. */
static void
court_has_quantity_question(struct fixture *f, const char *cii)
{
    become(f, SF_COURT);
    struct notice_buf b;
    notice(&b, cii, cii, "San Francisco", CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW);
    Cjx__V1__Date dob = {PROTOBUF_C_MESSAGE_INIT(&cjx__v1__date__descriptor),
                         1980, 4, 12};
    Cjx__V1__Date offense = {
        PROTOBUF_C_MESSAGE_INIT(&cjx__v1__date__descriptor), 2012, 3, 2};
    Cjx__V1__Date convicted = {
        PROTOBUF_C_MESSAGE_INIT(&cjx__v1__date__descriptor), 2012, 6, 15};
    b.person.date_of_birth = &dob;
    b.rec.offense_date = &offense;
    b.rec.conviction_date = &convicted;
    b.rec.disposition = CJX__V1__DISPOSITION__DISPOSITION_CONVICTED;
    b.charge.code = "HS";
    b.charge.normalized = "HS 11357";
    b.det.floor = CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR;
    b.det.ceiling = CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL;
    b.n.notified_at_unix_us = test_now;
    b.n.prosecutor_ori = SF_DA;
    struct answer a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, DOJ, &b.n.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
}

static void
test_relief__decision_facts__rechecked_by_the_court(void **state)
{
    struct fixture *f = *state;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/../../rules", getenv("CJX_TEST_DATA"));
    struct cjx_rules_registry *reg;
    struct cjx_errbuf eb;
    if (cjx_rules_registry_load_dir(dir, cjx_evaluate_types(), &reg, &eb) != 0)
        fail_msg("%s", eb.msg);
    f->conf->rules = reg; /* released with the configuration */
    cjx_service_set_conf(f->svc, f->conf);

    court_has_quantity_question(f, "F1");
    court_has_quantity_question(f, "F2");
    struct answer a;

    /* The reviewer found 500 g: that is a reduction, not a dismissal. */
    Cjx__V1__OffenseFacts facts = CJX__V1__OFFENSE_FACTS__INIT;
    facts.has_grams = 1;
    facts.grams = 500;
    struct step_buf s;
    no_challenge(&s, "d1", "F1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    s.m.d.decided_at_unix_us = test_now;
    s.m.d.facts = &facts;
    a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_int_equal(a.code, FAILED_PRECONDITION);
    assert_non_null(strstr(a.message, "no_challenge.relief: DISMISS_AND_SEAL "
                                      "is not what the facts"));
    answer_free(&a);
    /* So is the DA's own, dated when its daemon takes it. */
    become(f, SF_DA);
    no_challenge(&s, "d0", "F1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    s.m.d.facts = &facts;
    a = run(f, CASE_SERVICE_DECIDE, NULL, &s.m.d.base);
    assert_int_equal(a.code, FAILED_PRECONDITION);
    answer_free(&a);
    become(f, SF_COURT);
    /* A challenge that names facts is not a relief to check. */
    Cjx__V1__ProsecutorDecision *ch = challenge(&s, "c1", "F2", "NO_LESSER");
    ch->decided_at_unix_us = test_now;
    ch->facts = &facts;
    a = run(f, CASE_SERVICE_DECIDE, SF_DA, &ch->base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    /* A reduction with those facts is within what they lead to. */
    no_challenge(&s, "d2", "F1", CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    s.m.d.decided_at_unix_us = test_now;
    s.m.d.facts = &facts;
    a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_int_equal(a.code, OK);
    assert_non_null(a.reply->snapshot->decision_facts);
    assert_true(a.reply->snapshot->decision_facts->has_grams);
    answer_free(&a);
}

/* ---- the sealing matrix ---- */

/* Counts audit entries whose outcome message holds text, once everything
 * queued before it is committed (an entry someone waits for is committed
 * after every entry queued before it). */
struct barrier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

static void
barrier_done(void *arg, const struct cjx_record_write_result *r)
{
    (void)r;
    struct barrier *b = arg;
    pthread_mutex_lock(&b->mu);
    b->done = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

struct audit_count {
    const char *text;
    int n;
};

static int
count_entry(void *arg, const struct cjx_stored_audit *a)
{
    struct audit_count *c = arg;
    Cjx__V1__AuditEntry *e =
        cjx__v1__audit_entry__unpack(NULL, a->body_len, a->body);
    assert_non_null(e);
    if (strstr(e->outcome_message, c->text) != NULL)
        c->n++;
    cjx__v1__audit_entry__free_unpacked(e, NULL);
    return 0;
}

static int
audit_entries_saying(struct fixture *f, const char *text)
{
    struct barrier b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct cjx_audit_event ev = {
        .type = CJX_AUDIT_ADMIN, .agency_ori = DOJ, .method = "barrier"};
    assert_int_equal(cjx_store_append_audit(f->store, &ev, barrier_done, &b),
                     0);
    pthread_mutex_lock(&b.mu);
    while (!b.done)
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    struct audit_count c = {text, 0};
    struct cjx_errbuf eb;
    assert_int_equal(
        cjx_store_read_audit(f->store, 0, 1000000, count_entry, &c, &eb), 0);
    return c.n;
}

/* What each reader gets, sealed (S1, dismissed and sealed) and not (S2,
 * redesignated), at the San Francisco court's daemon under the default
 * policy. NULL reader: the court's own operator. */
static const struct {
    const char *reader;
    int get_sealed, get_open;       /* GetRecord status */
    int listed_sealed, listed_open; /* ListRecords by cii: records shown */
    int notice_sealed;              /* GetCase with the notice */
} matrix[] = {
    {DOJ, OK, OK, 1, 1, OK},
    {SF_COURT, OK, OK, 1, 1, OK},
    {NULL, OK, OK, 1, 1, OK},
    {SF_DA, OK, OK, 1, 1, OK},
    {SF_PD, NOT_FOUND, OK, 0, 1, NOT_FOUND},
    {ALA_COURT, NOT_FOUND, NOT_FOUND, 0, 0, NOT_FOUND},
    {ALA_DA, NOT_FOUND, NOT_FOUND, 0, 0, NOT_FOUND},
};

static void
test_relief__sealed_record__read_as_the_policy_allows(void **state)
{
    struct fixture *f = *state;
    court_orders(f, "S1", SEALED);
    court_orders(f, "S2", REDUCE);
    int before = audit_entries_saying(f, "sealed record listed");
    int sealed_listed = 0;
    for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
        const char *who = matrix[i].reader ? matrix[i].reader : "operator";
        Cjx__V1__StoredRecord *r;
        int code = get_record(f, matrix[i].reader, "S1", &r);
        if (code != matrix[i].get_sealed)
            fail_msg("%s: GetRecord of the sealed record: %d", who, code);
        if (code == OK) {
            assert_true(r->record->sealed);
            protobuf_c_message_free_unpacked(&r->base, NULL);
        }
        code = get_record(f, matrix[i].reader, "S2", &r);
        if (code != matrix[i].get_open)
            fail_msg("%s: GetRecord of the open record: %d", who, code);
        if (r != NULL)
            protobuf_c_message_free_unpacked(&r->base, NULL);
        int n = listed_records(f, matrix[i].reader, "S1");
        if (n != matrix[i].listed_sealed)
            fail_msg("%s: listing shows %d sealed records", who, n);
        sealed_listed += n;
        n = listed_records(f, matrix[i].reader, "S2");
        if (n != matrix[i].listed_open)
            fail_msg("%s: listing shows %d open records", who, n);
        code = get_case_with_notice(f, matrix[i].reader, "S1");
        if (code != matrix[i].notice_sealed)
            fail_msg("%s: GetCase with the sealed notice: %d", who, code);
    }
    /* Every sealed record a listing disclosed is an audit entry of its
     * own. (A single read's entry is the call's own, which the transport
     * writes with the handler's note: the integration tests check it.) */
    assert_int_equal(audit_entries_saying(f, "sealed record listed") - before,
                     sealed_listed);
}

static void
test_relief__sealing_policy__configured_readers_only(void **state)
{
    struct fixture *f = *state;
    court_orders(f, "P1", SEALED);
    Cjx__V1__StoredRecord *r;
    f->conf->sealed_readers = CJX_SEALED_DEFAULT | CJX_SEALED_DEFENDER;
    assert_int_equal(get_record(f, SF_PD, "P1", &r), OK);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    f->conf->sealed_readers = CJX_SEALED_DOJ;
    assert_int_equal(get_record(f, SF_DA, "P1", &r), NOT_FOUND);
    assert_int_equal(get_record(f, NULL, "P1", &r), NOT_FOUND);
    assert_int_equal(get_record(f, DOJ, "P1", &r), OK);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_relief__court_order__rewrites_the_record_in_the_same_step),
        T(test_relief__doj__record_changes_only_with_its_acknowledgement),
        T(test_relief__order_naming_another_court__invalid_argument),
        T(test_relief__petition__court_opens_orders_and_doj_applies),
        T(test_relief__decision_facts__rechecked_by_the_court),
        T(test_relief__sealed_record__read_as_the_policy_allows),
        T(test_relief__sealing_policy__configured_readers_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
