/* Unit tests for the case service (src/service/cases*.c): every step of the
 * exchange driven in memory (tests/support/mem_call.c) against a real
 * SQLite store, as the originating daemon and as a receiving one, with the
 * refusals each sender must get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/cases.h"
#include "cjx/clock.h"
#include "cjx/evaluate.h"
#include "cjx/rules.h"
#include "cjx/service.h"
#include "cjx/store.h"
#include "cjx/store_cases.h"
#include "cjx/v1/exchange.methods.h"
#include "cjx/v1/audit.pb-c.h"
#include "cjx/v1/exchange.pb-c.h"
#include "case_fixture.h"
#include "mem_call.h"

/* ---- DOJ originates ---- */

static void
test_cases__local_notice__stored_notified_and_routed_to_the_county(void **state)
{
    struct fixture *f = *state;
    struct answer a = local_notice(f, "n1", "A1", "San Francisco",
                                   CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(a.code, OK);
    const Cjx__V1__Case *c = a.reply->snapshot;
    assert_int_equal(c->state, CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED);
    assert_string_equal(c->prosecutor_ori, SF_DA);
    assert_int_equal(c->times->notified_at_unix_us, test_now);
    assert_int_equal(c->deadlines->review_by_unix_us, test_now + 90 * DAY);
    assert_non_null(c->determination);
    assert_string_equal(c->determination->rule_set, "prop64");
    assert_int_equal(c->seq, 1);
    assert_false(a.reply->unchanged);
    answer_free(&a);
    /* The prosecutor, the court and the public defender, nobody else. */
    assert_int_equal(pending_for(f, SF_DA), 1);
    assert_int_equal(pending_for(f, SF_COURT), 1);
    assert_int_equal(pending_for(f, SF_PD), 1);
    assert_int_equal(pending_for(f, NULL), 3);
}

static void
test_cases__replayed_notice__first_answer_and_no_second_hand_off(void **state)
{
    struct fixture *f = *state;
    struct answer a = local_notice(f, "n1", "A1", "San Francisco",
                                   CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    int64_t seq = a.reply->snapshot->seq;
    answer_free(&a);
    test_now += 1000;
    a = local_notice(f, "n1", "A1", "San Francisco",
                     CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.reply->snapshot->seq, seq);
    assert_int_equal(a.reply->snapshot->times->notified_at_unix_us,
                     test_now - 1000);
    answer_free(&a);
    assert_int_equal(pending_for(f, NULL), 3);
    assert_int_equal(cjx_store_last_case_seq(f->store), 1);
}

static void
test_cases__same_id_other_notice__already_exists(void **state)
{
    struct fixture *f = *state;
    struct answer a = local_notice(f, "n1", "A1", "San Francisco",
                                   CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    answer_free(&a);
    a = local_notice(f, "n1", "A1", "San Francisco",
                     CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_int_equal(a.code, ALREADY_EXISTS);
    assert_non_null(strstr(a.message, "meta.request_id"));
    answer_free(&a);
}

static void
test_cases__city_attorney__gets_the_misdemeanors_it_prosecuted(void **state)
{
    struct fixture *f = *state;
    struct notice_buf b;
    notice(&b, "n-la", "A7", "Los Angeles",
           CJX__V1__RELIEF__RELIEF_REDUCE_TO_INFRACTION);
    b.rec.prosecuting_agency_ori = LA_CITY;
    struct answer a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, NULL, &b.n.base);
    assert_int_equal(a.code, OK);
    assert_string_equal(a.reply->snapshot->prosecutor_ori, LA_CITY);
    answer_free(&a);
    /* A count naming no agency goes to the one prosecuting felonies. */
    notice(&b, "n-la2", "A8", "Los Angeles",
           CJX__V1__RELIEF__RELIEF_REDUCE_TO_INFRACTION);
    a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, NULL, &b.n.base);
    assert_int_equal(a.code, OK);
    assert_string_equal(a.reply->snapshot->prosecutor_ori, LA_DA);
    answer_free(&a);
}

static void
test_cases__notice_for_a_county_without_prosecutor__failed_precondition(
    void **state)
{
    struct fixture *f = *state;
    struct answer a = local_notice(f, "n1", "A1", "Yolo",
                                   CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(a.code, FAILED_PRECONDITION);
    assert_non_null(strstr(a.message, "Yolo"));
    answer_free(&a);
    assert_int_equal(cjx_store_last_case_seq(f->store), 0);
}

static void
test_cases__held_notice__identified_then_released_by_a_later_notice(
    void **state)
{
    struct fixture *f = *state;
    struct notice_buf b;
    notice(&b, "hold-1", "A1", "San Francisco",
           CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    b.n.hold = 1;
    struct answer a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, NULL, &b.n.base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.reply->snapshot->state,
                     CJX__V1__CASE_STATE__CASE_STATE_IDENTIFIED);
    answer_free(&a);
    assert_int_equal(pending_for(f, NULL), 0);
    /* A peer may not hold anything. */
    become(f, SF_DA);
    b.n.notified_at_unix_us = test_now;
    a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, DOJ, &b.n.base);
    assert_int_equal(a.code, INVALID_ARGUMENT);
    answer_free(&a);
    /* DOJ's operator releases it: now it is sent. */
    become(f, DOJ);
    notice(&b, "release-1", "A1", "San Francisco",
           CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, NULL, &b.n.base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.reply->snapshot->state,
                     CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED);
    answer_free(&a);
    assert_int_equal(pending_for(f, NULL), 3);
}

static void
test_cases__malformed_notice__invalid_argument_naming_the_field(void **state)
{
    struct fixture *f = *state;
    struct notice_buf b;
    notice(&b, "n1", "a-1", "San Francisco",
           CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    struct answer a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, NULL, &b.n.base);
    assert_int_equal(a.code, INVALID_ARGUMENT);
    assert_non_null(strstr(a.message, "record.subject.cii"));
    answer_free(&a);
    notice(&b, "n1", "A1", "San Francisco",
           CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    b.n.determination = NULL;
    a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, NULL, &b.n.base);
    assert_int_equal(a.code, INVALID_ARGUMENT);
    assert_non_null(strstr(a.message, "determination"));
    answer_free(&a);
    assert_int_equal(pending_for(f, NULL), 0);
}

/* ---- who may send what ---- */

static void
test_cases__notice_from_a_prosecutor__permission_denied(void **state)
{
    struct fixture *f = *state;
    become(f, SF_COURT);
    struct notice_buf b;
    struct answer a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, SF_DA,
                          &notice(&b, "n1", "A1", "San Francisco",
                                  CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL)
                               ->base);
    assert_int_equal(a.code, PERMISSION_DENIED);
    answer_free(&a);
}

static void
test_cases__local_operator_of_a_court__may_not_notify(void **state)
{
    struct fixture *f = *state;
    become(f, SF_COURT);
    struct answer a = local_notice(f, "n1", "A1", "San Francisco",
                                   CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(a.code, PERMISSION_DENIED);
    answer_free(&a);
}

static void
test_cases__notice_for_another_county__permission_denied_at_the_receiver(
    void **state)
{
    struct fixture *f = *state;
    become(f, SF_DA);
    struct notice_buf b;
    notice(&b, "n1", "A1", "Alameda", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    b.n.notified_at_unix_us = test_now;
    struct answer a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, DOJ, &b.n.base);
    assert_int_equal(a.code, PERMISSION_DENIED);
    assert_non_null(strstr(a.message, "San Francisco only"));
    answer_free(&a);
}

static void
test_cases__decision_on_another_countys_case__permission_denied(void **state)
{
    struct fixture *f = *state;
    /* At SF's court, holding an SF case: Alameda's DA may not decide it. */
    become(f, SF_COURT);
    struct notice_buf b;
    notice(&b, "n1", "A1", "San Francisco",
           CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    b.n.notified_at_unix_us = test_now;
    b.n.prosecutor_ori = SF_DA;
    struct answer a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, DOJ, &b.n.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    struct step_buf s;
    no_challenge(&s, "d1", "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    s.m.d.decided_at_unix_us = test_now;
    a = run(f, CASE_SERVICE_DECIDE, ALA_DA, &s.m.d.base);
    assert_int_equal(a.code, PERMISSION_DENIED);
    answer_free(&a);
}

/* A step for another county's case at a daemon that holds no copy is
 * refused for good, not "retry later" (which its sender's outbox would
 * retry forever). */
static void
test_cases__order_for_another_county_without_a_copy__refused_for_good(
    void **state)
{
    struct fixture *f = *state;
    struct step_buf s;
    /* The San Francisco DA's daemon: the county is its own. */
    become(f, SF_DA);
    order(&s, "o1", "Q1", CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    s.m.o.ordered_at_unix_us = test_now;
    struct answer a = run(f, CASE_SERVICE_ORDER, ALA_COURT, &s.m.o.base);
    assert_int_equal(a.code, PERMISSION_DENIED);
    assert_non_null(
        strstr(a.message, "may not act on a case of San Francisco"));
    answer_free(&a);
    /* DOJ's daemon: the county is that of the record it holds. */
    become(f, DOJ);
    a = local_notice(f, "n2", "Q2", "San Francisco",
                     CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    order(&s, "o2", "Q2", CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    s.m.o.ordered_at_unix_us = test_now;
    a = run(f, CASE_SERVICE_ORDER, ALA_COURT, &s.m.o.base);
    assert_int_equal(a.code, PERMISSION_DENIED);
    answer_free(&a);
    /* Without a case or a record, DOJ cannot know the county: the order
     * waits for its notice, as any early step does. */
    order(&s, "o3", "Q3", CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    s.m.o.ordered_at_unix_us = test_now;
    a = run(f, CASE_SERVICE_ORDER, ALA_COURT, &s.m.o.base);
    assert_int_equal(a.code, FAILED_PRECONDITION);
    answer_free(&a);
}

/* ---- received steps ---- */

/* The SF court receives DOJ's notice for case cii. */

static void
test_cases__received_steps__stored_and_never_sent_on(void **state)
{
    struct fixture *f = *state;
    court_has_notice(f, "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    struct step_buf s;
    no_challenge(&s, "d1", "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    s.m.d.decided_at_unix_us = test_now;
    struct answer a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.reply->snapshot->state,
                     CJX__V1__CASE_STATE__CASE_STATE_NOT_CHALLENGED);
    answer_free(&a);
    assert_int_equal(pending_for(f, NULL), 0);
    /* The court's own order is sent: to DOJ, the prosecutor, the PD. */
    order(&s, "o1", "A1", CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    a = run(f, CASE_SERVICE_ORDER, NULL, &s.m.o.base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.reply->snapshot->state,
                     CJX__V1__CASE_STATE__CASE_STATE_ORDERED);
    answer_free(&a);
    assert_int_equal(pending_for(f, DOJ), 1);
    assert_int_equal(pending_for(f, SF_DA), 1);
    assert_int_equal(pending_for(f, SF_PD), 1);
    assert_int_equal(pending_for(f, SF_COURT), 0);
    /* DOJ's acknowledgement closes the case here. */
    acknowledge(&s, "h1", "A1",
                CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    s.m.h.updated_at_unix_us = test_now;
    a = run(f, CASE_SERVICE_ACKNOWLEDGE_HISTORY_UPDATED, DOJ, &s.m.h.base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.reply->snapshot->state,
                     CJX__V1__CASE_STATE__CASE_STATE_HISTORY_UPDATED);
    answer_free(&a);
}

static void
test_cases__decision_before_the_notice__failed_precondition_to_retry(
    void **state)
{
    struct fixture *f = *state;
    become(f, SF_COURT);
    struct step_buf s;
    no_challenge(&s, "d1", "A9", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    s.m.d.decided_at_unix_us = test_now;
    struct answer a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_int_equal(a.code, FAILED_PRECONDITION);
    answer_free(&a);
    /* Delivered in a batch, the refusal says to retry later. */
    Cjx__V1__CaseMessage cm = CJX__V1__CASE_MESSAGE__INIT;
    cm.message_case = CJX__V1__CASE_MESSAGE__MESSAGE_DECISION;
    cm.decision = &s.m.d;
    Cjx__V1__CaseMessage *items[] = {&cm};
    Cjx__V1__CaseMessages batch = CJX__V1__CASE_MESSAGES__INIT;
    batch.messages = items;
    batch.n_messages = 1;
    a = run(f, CASE_SERVICE_DELIVER, SF_DA, &batch.base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.results->n_results, 1);
    assert_int_equal(a.results->results[0]->code, FAILED_PRECONDITION);
    assert_true(a.results->results[0]->retry_later);
    answer_free(&a);
    /* Once the notice is in, the same message is applied. */
    court_has_notice(f, "A9", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    a = run(f, CASE_SERVICE_DELIVER, SF_DA, &batch.base);
    assert_int_equal(a.results->results[0]->code, OK);
    assert_int_equal(a.results->accepted, 1);
    answer_free(&a);
}

static void
test_cases__order_before_the_notice__failed_precondition_to_retry(void **state)
{
    struct fixture *f = *state;
    become(f, DOJ);
    struct step_buf s;
    order(&s, "o1", "B1", CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    s.m.o.ordered_at_unix_us = test_now;
    Cjx__V1__CaseMessage cm = CJX__V1__CASE_MESSAGE__INIT;
    cm.message_case = CJX__V1__CASE_MESSAGE__MESSAGE_ORDER;
    cm.order = &s.m.o;
    Cjx__V1__CaseMessage *items[] = {&cm};
    Cjx__V1__CaseMessages batch = CJX__V1__CASE_MESSAGES__INIT;
    batch.messages = items;
    batch.n_messages = 1;
    struct answer a = run(f, CASE_SERVICE_DELIVER, SF_COURT, &batch.base);
    assert_int_equal(a.results->results[0]->code, FAILED_PRECONDITION);
    assert_true(a.results->results[0]->retry_later);
    answer_free(&a);
}

static void
test_cases__decision_after_the_deadline__failed_precondition_for_good(
    void **state)
{
    struct fixture *f = *state;
    become(f, SF_DA);
    struct notice_buf b;
    notice(&b, "n1", "A1", "San Francisco",
           CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    b.n.notified_at_unix_us = test_now;
    struct answer a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, DOJ, &b.n.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    test_now += 91 * DAY;
    struct step_buf s;
    no_challenge(&s, "d1", "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    a = run(f, CASE_SERVICE_DECIDE, NULL, &s.m.d.base);
    assert_int_equal(a.code, FAILED_PRECONDITION);
    assert_non_null(strstr(a.message, "deadline"));
    answer_free(&a);
    assert_int_equal(pending_for(f, NULL), 0);
    /* Listed as overdue for the prosecutor. */
    Cjx__V1__ListCasesRequest req = CJX__V1__LIST_CASES_REQUEST__INIT;
    req.overdue_for = CJX__V1__AGENCY_ROLE__AGENCY_ROLE_PROSECUTOR;
    ProtobufCMessage *out;
    assert_int_equal(
        run_read(f, CASE_SERVICE_LIST_CASES, NULL, &req.base, &out), OK);
    assert_int_equal(((Cjx__V1__ListCasesResponse *)out)->n_cases, 1);
    protobuf_c_message_free_unpacked(out, NULL);
    req.overdue_for = CJX__V1__AGENCY_ROLE__AGENCY_ROLE_COURT;
    assert_int_equal(
        run_read(f, CASE_SERVICE_LIST_CASES, NULL, &req.base, &out), OK);
    assert_int_equal(((Cjx__V1__ListCasesResponse *)out)->n_cases, 0);
    protobuf_c_message_free_unpacked(out, NULL);
}

static void
test_cases__order_above_the_ceiling__refused_or_flagged_as_configured(
    void **state)
{
    struct fixture *f = *state;
    court_has_notice(f, "A1", CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    struct step_buf s;
    no_challenge(&s, "d1", "A1", CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    s.m.d.decided_at_unix_us = test_now;
    struct answer a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    order(&s, "o1", "A1", CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    a = run(f, CASE_SERVICE_ORDER, NULL, &s.m.o.base);
    assert_int_equal(a.code, FAILED_PRECONDITION);
    assert_non_null(strstr(a.message, "ceiling"));
    answer_free(&a);
    assert_int_equal(pending_for(f, NULL), 0);
    f->conf->exchange.above_ceiling_flag = 1;
    order(&s, "o2", "A1", CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    a = run(f, CASE_SERVICE_ORDER, NULL, &s.m.o.base);
    assert_int_equal(a.code, OK);
    const Cjx__V1__Case *c = a.reply->snapshot;
    int flagged = 0;
    for (size_t i = 0; i < c->n_flags; i++)
        flagged |= strcmp(c->flags[i], "ABOVE_CEILING") == 0;
    assert_true(flagged);
    answer_free(&a);
}

static void
test_cases__challenge__goes_to_court_and_public_defender_with_copy_to_doj(
    void **state)
{
    struct fixture *f = *state;
    become(f, SF_DA);
    struct notice_buf b;
    notice(&b, "n1", "A1", "San Francisco",
           CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    b.n.notified_at_unix_us = test_now;
    b.n.prosecutor_ori = SF_DA;
    struct answer a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, DOJ, &b.n.base);
    answer_free(&a);
    struct step_buf s;
    challenge(&s, "c1", "A1", "AGGRAVATOR_FACTS_UNCHECKED");
    a = run(f, CASE_SERVICE_DECIDE, NULL, &s.m.d.base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.reply->snapshot->state,
                     CJX__V1__CASE_STATE__CASE_STATE_CHALLENGED);
    assert_string_equal(a.reply->snapshot->reason_code,
                        "AGGRAVATOR_FACTS_UNCHECKED");
    answer_free(&a);
    assert_int_equal(pending_for(f, SF_COURT), 1);
    assert_int_equal(pending_for(f, SF_PD), 1);
    assert_int_equal(pending_for(f, DOJ), 1);
    /* A different decision on the same case is refused for good. */
    no_challenge(&s, "d2", "A1", CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    a = run(f, CASE_SERVICE_DECIDE, NULL, &s.m.d.base);
    assert_int_equal(a.code, FAILED_PRECONDITION);
    answer_free(&a);
}

static void
test_cases__rule_sets__check_incoming_decisions(void **state)
{
    struct fixture *f = *state;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/cases/rules", getenv("CJX_TEST_DATA"));
    struct cjx_rules_registry *reg;
    struct cjx_errbuf eb;
    if (cjx_rules_registry_load_dir(dir, cjx_evaluate_types(), &reg, &eb) != 0)
        fail_msg("%s", eb.msg);
    f->conf->rules = reg; /* released with the configuration */
    cjx_service_set_conf(f->svc, f->conf);
    court_has_notice(f, "A1", CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    struct step_buf s;
    challenge(&s, "c1", "A1", "X");
    s.ch.supporting_facts_ref = "";
    s.m.d.decided_at_unix_us = test_now;
    struct answer a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_int_equal(a.code, INVALID_ARGUMENT);
    assert_non_null(strstr(a.message, "challenge_cites_facts"));
    answer_free(&a);
    s.ch.supporting_facts_ref = "file 9";
    a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
}

/* ---- batches ---- */

static void
test_cases__deliver_batch__each_message_authorized_on_its_own(void **state)
{
    struct fixture *f = *state;
    court_has_notice(f, "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    court_has_notice(f, "A2", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    struct step_buf d1, d2, o1;
    no_challenge(&d1, "d1", "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    no_challenge(&d2, "d2", "A2", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    order(&o1, "o1", "A1",
          CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    d1.m.d.decided_at_unix_us = d2.m.d.decided_at_unix_us = test_now;
    o1.m.o.ordered_at_unix_us = test_now;
    Cjx__V1__CaseMessage m[4];
    for (int i = 0; i < 4; i++)
        cjx__v1__case_message__init(&m[i]);
    m[0].message_case = CJX__V1__CASE_MESSAGE__MESSAGE_DECISION;
    m[0].decision = &d1.m.d;
    m[1].message_case = CJX__V1__CASE_MESSAGE__MESSAGE_ORDER; /* not the DA's */
    m[1].order = &o1.m.o;
    m[2].message_case = CJX__V1__CASE_MESSAGE__MESSAGE_DECISION;
    m[2].decision = &d2.m.d;
    /* m[3] is empty */
    Cjx__V1__CaseMessage *items[] = {&m[0], &m[1], &m[2], &m[3]};
    Cjx__V1__CaseMessages batch = CJX__V1__CASE_MESSAGES__INIT;
    batch.messages = items;
    batch.n_messages = 4;
    struct answer a = run(f, CASE_SERVICE_DELIVER, SF_DA, &batch.base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.results->n_results, 4);
    assert_int_equal(a.results->results[0]->code, OK);
    assert_int_equal(a.results->results[1]->code, PERMISSION_DENIED);
    assert_int_equal(a.results->results[2]->code, OK);
    assert_int_equal(a.results->results[3]->code, INVALID_ARGUMENT);
    assert_int_equal(a.results->accepted, 2);
    assert_int_equal(a.results->rejected, 2);
    assert_string_equal(a.results->results[2]->request_id, "d2");
    answer_free(&a);
    /* A defender delivers its own steps (M4), but none of these: each
     * message is refused by its own method's row. */
    a = run(f, CASE_SERVICE_DELIVER, SF_PD, &batch.base);
    assert_int_equal(a.code, OK);
    assert_int_equal(a.results->accepted, 0);
    assert_int_equal(a.results->results[0]->code, PERMISSION_DENIED);
    assert_int_equal(a.results->results[1]->code, PERMISSION_DENIED);
    assert_int_equal(a.results->results[2]->code, PERMISSION_DENIED);
    assert_int_equal(a.results->results[3]->code, INVALID_ARGUMENT);
    answer_free(&a);
}

/* A Deliver from the SF District Attorney to this court under a rate limit
 * of tokens more messages (-1: no limit); the call's audit note goes to
 * note and the number of tokens asked for to *asks. */
static struct answer
deliver_limited(struct fixture *f, Cjx__V1__CaseMessages *batch, int tokens,
                int *asks, char *note, size_t note_len)
{
    const struct cjx_method *m =
        &cjx__v1__case_service__methods[CASE_SERVICE_DELIVER];
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, cjx_service_find(m->path),
                  agency(f, SF_DA));
    mc.rate_limited = tokens >= 0;
    mc.tokens = tokens;
    mc.retry_after_ms = 250;
    struct answer a = {0};
    a.code = mem_call_run(&mc, &batch->base);
    if (a.code == OK)
        a.results = cjx__v1__case_results__unpack(NULL, mc.reply_len, mc.reply);
    *asks = mc.token_asks;
    snprintf(note, note_len, "%s",
             mc.base.audit.note ? mc.base.audit.note : "");
    mem_call_fini(&mc);
    return a;
}

/* n decisions not to challenge, in envelopes for a Deliver batch: items[i]
 * is m[i], holding d[i] about ciis[i] under ids[i], whose notice the court
 * holds. */
static void
decisions_at_court(struct fixture *f, const char *const *ciis,
                   const char *const *ids, int n, struct step_buf *d,
                   Cjx__V1__CaseMessage *m, Cjx__V1__CaseMessage **items)
{
    for (int i = 0; i < n; i++) {
        court_has_notice(f, ciis[i], CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
        no_challenge(&d[i], ids[i], ciis[i],
                     CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
        d[i].m.d.decided_at_unix_us = test_now;
        cjx__v1__case_message__init(&m[i]);
        m[i].message_case = CJX__V1__CASE_MESSAGE__MESSAGE_DECISION;
        m[i].decision = &d[i].m.d;
        items[i] = &m[i];
    }
}

/* The newest audit entry once everything queued before has committed: one
 * more notice goes through the writer after them. */
static int64_t
audit_top_after_flush(struct fixture *f)
{
    court_has_notice(f, "FLUSH", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    return cjx_store_last_audit_seq(f->store);
}

static void
test_cases__deliver_batch__each_message_takes_a_token_the_rest_retry(
    void **state)
{
    struct fixture *f = *state;
    f->conf->limits.rate_limit_per_agency = 2;
    static const char *const ciis[] = {"A1", "A2", "A3"};
    static const char *const ids[] = {"d1", "d2", "d3"};
    struct step_buf d[3];
    Cjx__V1__CaseMessage m[4];
    Cjx__V1__CaseMessage *items[4];
    decisions_at_court(f, ciis, ids, 3, d, m, items);
    cjx__v1__case_message__init(&m[3]);
    items[3] = &m[3];
    /* m[3] is empty: refused all the same once the bucket is dry. */
    Cjx__V1__CaseMessages batch = CJX__V1__CASE_MESSAGES__INIT;
    batch.messages = items;
    batch.n_messages = 4;
    int64_t before = audit_top_after_flush(f);

    /* The call's token covers d1, the one token left d2; d3 and the empty
     * message wait for the bucket and are not judged. */
    int asks;
    char note[600];
    struct answer a = deliver_limited(f, &batch, 1, &asks, note, sizeof(note));
    assert_int_equal(a.code, OK);
    assert_int_equal(asks, 2);
    int want[] = {OK, OK, RESOURCE_EXHAUSTED, RESOURCE_EXHAUSTED};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a.results->results[i]->code, want[i]);
        assert_int_equal(a.results->results[i]->retry_later, i >= 2);
    }
    assert_string_equal(a.results->results[2]->message,
                        "agency CA038013A is over its limit of 2 "
                        "requests/s; retry after 250 ms");
    assert_string_equal(
        note, "2 of 4 messages refused: [d3] RESOURCE_EXHAUSTED: agency "
              "CA038013A is over its limit of 2 requests/s; retry after 250 "
              "ms; [] RESOURCE_EXHAUSTED: agency CA038013A is over its limit "
              "of 2 requests/s; retry after 250 ms");
    answer_free(&a);
    /* Only the accepted decisions wrote, each with its own entry. */
    assert_int_equal(audit_top_after_flush(f) - before, 2 + 1);

    /* d3 was not applied: delivered again later, it is taken now. */
    batch.messages = &items[2];
    batch.n_messages = 1;
    a = deliver_limited(f, &batch, -1, &asks, note, sizeof(note));
    assert_int_equal(a.results->results[0]->code, OK);
    assert_string_equal(note, "");
    answer_free(&a);
    assert_int_equal(audit_top_after_flush(f) - before, 2 + 1 + 1 + 1);
}

/* The entries after seq, unpacked; *n of them. */
struct entries {
    Cjx__V1__AuditEntry *e[8];
    size_t n;
};

static int
keep_entry(void *arg, const struct cjx_stored_audit *a)
{
    struct entries *es = arg;
    if (es->n < 8)
        es->e[es->n++] =
            cjx__v1__audit_entry__unpack(NULL, a->body_len, a->body);
    return 0;
}

/* Each delivered message's entry counts the bytes of that message, not of
 * the batch it came in. */
static void
test_cases__deliver_batch__each_entry_counts_its_message_bytes(void **state)
{
    struct fixture *f = *state;
    static const char *const ciis[] = {"B1", "B2"};
    static const char *const ids[] = {"bytes-1", "bytes-long-request-id-2"};
    struct step_buf d[2];
    Cjx__V1__CaseMessage m[2];
    Cjx__V1__CaseMessage *items[2];
    decisions_at_court(f, ciis, ids, 2, d, m, items);
    Cjx__V1__CaseMessages batch = CJX__V1__CASE_MESSAGES__INIT;
    batch.messages = items;
    batch.n_messages = 2;
    int64_t before = audit_top_after_flush(f);
    int asks;
    char note[600];
    struct answer a = deliver_limited(f, &batch, -1, &asks, note, sizeof(note));
    assert_int_equal(a.code, OK);
    assert_int_equal(a.results->accepted, 2);
    answer_free(&a);
    audit_top_after_flush(f);
    struct entries es = {.n = 0};
    struct cjx_errbuf eb;
    assert_int_equal(
        cjx_store_read_audit(f->store, before, 2, keep_entry, &es, &eb), 0);
    assert_int_equal(es.n, 2);
    for (size_t i = 0; i < es.n; i++) {
        assert_non_null(es.e[i]);
        assert_string_equal(es.e[i]->request_id, ids[i]);
        assert_int_equal(
            es.e[i]->bytes_in,
            (int64_t)protobuf_c_message_get_packed_size(&d[i].m.d.base));
        cjx__v1__audit_entry__free_unpacked(es.e[i], NULL);
    }
}

static void
test_cases__deliver_batch__refusals_cost_one_note_not_an_entry_each(
    void **state)
{
    struct fixture *f = *state;
    enum { N = 200 };
    /* Orders are no prosecutor's to send: every one is refused. */
    static struct step_buf o[N];
    static Cjx__V1__CaseMessage m[N];
    static Cjx__V1__CaseMessage *items[N];
    static char ids[N][8];
    become(f, SF_COURT);
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "o%d", i);
        order(&o[i], ids[i], "A1",
              CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
        cjx__v1__case_message__init(&m[i]);
        m[i].message_case = CJX__V1__CASE_MESSAGE__MESSAGE_ORDER;
        m[i].order = &o[i].m.o;
        items[i] = &m[i];
    }
    Cjx__V1__CaseMessages batch = CJX__V1__CASE_MESSAGES__INIT;
    batch.messages = items;
    batch.n_messages = N;
    int64_t before = audit_top_after_flush(f);
    int asks;
    char note[600];
    struct answer a = deliver_limited(f, &batch, -1, &asks, note, sizeof(note));
    assert_int_equal(a.code, OK);
    assert_int_equal(a.results->rejected, N);
    assert_int_equal(asks, N - 1); /* each message counted all the same */
    answer_free(&a);
    assert_non_null(strstr(note, "200 of 200 messages refused: [o0] "
                                 "PERMISSION_DENIED: CA038013A may not call "));
    assert_non_null(strstr(note, "[o2] PERMISSION_DENIED"));
    assert_null(strstr(note, "[o3]"));
    assert_non_null(strstr(note, "; and 197 more"));
    /* No entry per refusal: the transport's entry for the call carries the
     * note (test_audit_daemon checks it over gRPC). */
    assert_int_equal(audit_top_after_flush(f) - before, 1);
}

static void
test_cases__notify_stream__answers_each_notice(void **state)
{
    struct fixture *f = *state;
    struct notice_buf b[3];
    notice(&b[0], "n1", "A1", "San Francisco",
           CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    notice(&b[1], "n2", "A2", "Alameda", CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW);
    b[1].det.floor = CJX__V1__RELIEF__RELIEF_NOT_ELIGIBLE;
    b[1].det.ceiling = CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL;
    notice(&b[2], "n3", "A3", "Yolo", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    ProtobufCMessage *stream[] = {&b[0].n.base, &b[1].n.base, &b[2].n.base};
    const struct cjx_method *m =
        &cjx__v1__case_service__methods[CASE_SERVICE_NOTIFY_CANDIDATES];
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, cjx_service_find(m->path), NULL);
    mc.stream = stream;
    mc.n_stream = 3;
    assert_int_equal(mem_call_run(&mc, NULL), OK);
    Cjx__V1__CaseResults *r =
        cjx__v1__case_results__unpack(NULL, mc.reply_len, mc.reply);
    mem_call_fini(&mc);
    assert_int_equal(r->accepted, 2);
    assert_int_equal(r->rejected, 1);
    assert_int_equal(r->results[2]->code, FAILED_PRECONDITION);
    assert_string_equal(r->results[1]->request_id, "n2");
    assert_null(r->results[1]->reply); /* read with GetCase */
    cjx__v1__case_results__free_unpacked(r, NULL);
}

/* ---- reads ---- */

static void
test_cases__reads__scoped_to_the_callers_county(void **state)
{
    struct fixture *f = *state;
    struct answer a = local_notice(f, "n1", "A1", "San Francisco",
                                   CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    answer_free(&a);
    a = local_notice(f, "n2", "A2", "Alameda",
                     CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    answer_free(&a);
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = "A1";
    key.court_case_number = "CASE-A1";
    key.count_number = 1;
    Cjx__V1__GetCaseRequest get = CJX__V1__GET_CASE_REQUEST__INIT;
    get.key = &key;
    get.include_notice = 1;
    ProtobufCMessage *out;
    assert_int_equal(
        run_read(f, CASE_SERVICE_GET_CASE, SF_COURT, &get.base, &out), OK);
    Cjx__V1__Case *c = (Cjx__V1__Case *)out;
    assert_non_null(c->notice);
    assert_string_equal(c->notice->record->county, "San Francisco");
    protobuf_c_message_free_unpacked(out, NULL);
    /* Another county's case is answered as a missing one. */
    assert_int_equal(
        run_read(f, CASE_SERVICE_GET_CASE, ALA_COURT, &get.base, &out),
        NOT_FOUND);
    key.cii = "Z9";
    assert_int_equal(
        run_read(f, CASE_SERVICE_GET_CASE, ALA_COURT, &get.base, &out),
        NOT_FOUND);
    assert_int_equal(run_read(f, CASE_SERVICE_GET_CASE, DOJ, &get.base, &out),
                     NOT_FOUND);

    Cjx__V1__ListCasesRequest list = CJX__V1__LIST_CASES_REQUEST__INIT;
    assert_int_equal(
        run_read(f, CASE_SERVICE_LIST_CASES, ALA_COURT, &list.base, &out), OK);
    Cjx__V1__ListCasesResponse *r = (Cjx__V1__ListCasesResponse *)out;
    assert_int_equal(r->n_cases, 1);
    assert_string_equal(r->cases[0]->county, "Alameda");
    protobuf_c_message_free_unpacked(out, NULL);
    list.filter_case = CJX__V1__LIST_CASES_REQUEST__FILTER_COUNTY;
    list.county = "San Francisco";
    assert_int_equal(
        run_read(f, CASE_SERVICE_LIST_CASES, ALA_COURT, &list.base, &out),
        PERMISSION_DENIED);
    assert_int_equal(
        run_read(f, CASE_SERVICE_LIST_CASES, NULL, &list.base, &out), OK);
    assert_int_equal(((Cjx__V1__ListCasesResponse *)out)->n_cases, 1);
    protobuf_c_message_free_unpacked(out, NULL);
    /* The outbox is the local operator's only. */
    Cjx__V1__ListOutboxRequest ob = CJX__V1__LIST_OUTBOX_REQUEST__INIT;
    assert_int_equal(run_read(f, CASE_SERVICE_LIST_OUTBOX, DOJ, &ob.base, &out),
                     PERMISSION_DENIED);
}

static void
test_cases__stats__count_cases_by_state_and_outcome(void **state)
{
    struct fixture *f = *state;
    struct answer a = local_notice(f, "n1", "A1", "San Francisco",
                                   CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    answer_free(&a);
    a = local_notice(f, "n2", "A2", "San Francisco",
                     CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    answer_free(&a);
    a = local_notice(f, "n3", "A3", "Alameda",
                     CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    answer_free(&a);
    Cjx__V1__CaseStatsRequest req = CJX__V1__CASE_STATS_REQUEST__INIT;
    ProtobufCMessage *out;
    assert_int_equal(
        run_read(f, CASE_SERVICE_CASE_STATS, NULL, &req.base, &out), OK);
    Cjx__V1__CaseStatsResponse *r = (Cjx__V1__CaseStatsResponse *)out;
    assert_int_equal(r->total, 3);
    assert_int_equal(r->n_counts, 2);
    assert_int_equal(r->first->notified_at_unix_us, test_now);
    protobuf_c_message_free_unpacked(out, NULL);
    req.county = "Alameda";
    assert_int_equal(
        run_read(f, CASE_SERVICE_CASE_STATS, NULL, &req.base, &out), OK);
    assert_int_equal(((Cjx__V1__CaseStatsResponse *)out)->total, 1);
    protobuf_c_message_free_unpacked(out, NULL);
}

static void
test_cases__feed__every_change_once_and_scoped(void **state)
{
    struct fixture *f = *state;
    struct answer a = local_notice(f, "n1", "A1", "San Francisco",
                                   CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    answer_free(&a);
    a = local_notice(f, "n2", "A2", "Alameda",
                     CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    answer_free(&a);
    Cjx__V1__WatchCasesRequest req = CJX__V1__WATCH_CASES_REQUEST__INIT;
    const struct cjx_method *m =
        &cjx__v1__case_service__methods[CASE_SERVICE_WATCH_CASES];
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, cjx_service_find(m->path), NULL);
    assert_int_equal(mem_call_run(&mc, &req.base), OK);
    assert_int_equal(mc.sent, 2);
    mem_call_fini(&mc);
    mem_call_init(&mc, f->svc, f->conf, cjx_service_find(m->path),
                  agency(f, ALA_COURT));
    assert_int_equal(mem_call_run(&mc, &req.base), OK);
    assert_int_equal(mc.sent, 1);
    mem_call_fini(&mc);
    req.after_seq = 1;
    mem_call_init(&mc, f->svc, f->conf, cjx_service_find(m->path), NULL);
    assert_int_equal(mem_call_run(&mc, &req.base), OK);
    assert_int_equal(mc.sent, 1);
    mem_call_fini(&mc);
}

/* ---- the local API without a call ---- */

struct outcome {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, err, retry;
};

static void
outcome_done(void *arg, const struct cjx_cases_outcome *o)
{
    struct outcome *out = arg;
    pthread_mutex_lock(&out->mu);
    out->done = 1;
    out->err = o->err;
    out->retry = o->retry_later;
    pthread_cond_signal(&out->cv);
    pthread_mutex_unlock(&out->mu);
}

static void
test_cases__submit_local__takes_the_step_as_the_operator_would(void **state)
{
    struct fixture *f = *state;
    struct notice_buf b;
    notice(&b, "n1", "A1", "San Francisco",
           CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    struct outcome o = {.done = 0};
    pthread_mutex_init(&o.mu, NULL);
    pthread_cond_init(&o.cv, NULL);
    assert_int_equal(cjx_cases_submit_local(f->svc, f->conf, &b.n.base,
                                            "stand-in", outcome_done, &o),
                     0);
    pthread_mutex_lock(&o.mu);
    while (!o.done)
        pthread_cond_wait(&o.cv, &o.mu);
    pthread_mutex_unlock(&o.mu);
    assert_int_equal(o.err, 0);
    assert_int_equal(pending_for(f, NULL), 3);
    /* Refused before the store: done is not called. */
    b.n.record->county = "Nowhere";
    b.meta.request_id = "n2";
    assert_int_not_equal(cjx_cases_submit_local(f->svc, f->conf, &b.n.base,
                                                "stand-in", outcome_done, &o),
                         0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_cases__local_notice__stored_notified_and_routed_to_the_county),
        T(test_cases__replayed_notice__first_answer_and_no_second_hand_off),
        T(test_cases__same_id_other_notice__already_exists),
        T(test_cases__city_attorney__gets_the_misdemeanors_it_prosecuted),
        T(test_cases__notice_for_a_county_without_prosecutor__failed_precondition),
        T(test_cases__held_notice__identified_then_released_by_a_later_notice),
        T(test_cases__malformed_notice__invalid_argument_naming_the_field),
        T(test_cases__notice_from_a_prosecutor__permission_denied),
        T(test_cases__local_operator_of_a_court__may_not_notify),
        T(test_cases__notice_for_another_county__permission_denied_at_the_receiver),
        T(test_cases__decision_on_another_countys_case__permission_denied),
        T(test_cases__order_for_another_county_without_a_copy__refused_for_good),
        T(test_cases__received_steps__stored_and_never_sent_on),
        T(test_cases__decision_before_the_notice__failed_precondition_to_retry),
        T(test_cases__order_before_the_notice__failed_precondition_to_retry),
        T(test_cases__decision_after_the_deadline__failed_precondition_for_good),
        T(test_cases__order_above_the_ceiling__refused_or_flagged_as_configured),
        T(test_cases__challenge__goes_to_court_and_public_defender_with_copy_to_doj),
        T(test_cases__rule_sets__check_incoming_decisions),
        T(test_cases__deliver_batch__each_message_authorized_on_its_own),
        T(test_cases__deliver_batch__each_message_takes_a_token_the_rest_retry),
        T(test_cases__deliver_batch__each_entry_counts_its_message_bytes),
        T(test_cases__deliver_batch__refusals_cost_one_note_not_an_entry_each),
        T(test_cases__notify_stream__answers_each_notice),
        T(test_cases__reads__scoped_to_the_callers_county),
        T(test_cases__stats__count_cases_by_state_and_outcome),
        T(test_cases__feed__every_change_once_and_scoped),
        T(test_cases__submit_local__takes_the_step_as_the_operator_would),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
