/* Unit tests for src/workflow: every transition by role and county, deadline
 * boundaries, ceilings, out-of-order events, overdue listing and routing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/date.h"
#include "cjx/v1/exchange.pb-c.h"
#include "cjx/workflow.h"

#define US     INT64_C(1000000)
#define MINUTE (60 * US)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)

#define COUNTY          "San Francisco"
#define OTHER_COUNTY    "Alameda"
#define DOJ_ORI         "CA0000001"
#define DA_ORI          "CA038013A"
#define COURT_ORI       "CA038033J"
#define PD_ORI          "CA038023P"
#define OTHER_DA_ORI    "CA001013A"
#define OTHER_COURT_ORI "CA001033J"
#define OTHER_PD_ORI    "CA001023P"
#define CII             "A1234567"
#define CCN             "SCN-2001-123"

static int64_t
utc(int y, int mo, int d, int h, int mi, int s)
{
    return ((cjx_date_to_days(y, mo, d) * 86400) + h * 3600 + mi * 60 + s) * US;
}

/* The schedule of the tests, written out here rather than taken from
 * cjx_workflow_policy_init_prop64(), so each number below is visible. */
#define REVIEW_DEADLINE (utc(2020, 7, 1, 23, 59, 59) + 999999)
#define GRACE           (7 * DAY)
#define SKEW            (5 * MINUTE)
#define NOTICE_WINDOW   (30 * DAY)
#define ORDER_WINDOW    (90 * DAY)
#define HISTORY_WINDOW  (30 * DAY)

static struct cjx_workflow_policy
test_policy(void)
{
    return (struct cjx_workflow_policy){
        .notice = {.window_us = NOTICE_WINDOW},
        .review = {.not_after_us = REVIEW_DEADLINE},
        .order_unchallenged = {.window_us = ORDER_WINDOW,
                               .not_after_us = utc(2023, 3, 1, 0, 0, 0)},
        .order_challenged = {0},
        .history_update = {.window_us = HISTORY_WINDOW},
        .above_ceiling = CJX_CEILING_REFUSE,
        .review_lapse = CJX_LAPSE_NOT_CHALLENGED,
        .decision_grace_us = GRACE,
        .max_clock_skew_us = SKEW,
    };
}

/* When each step of the canonical history is taken. */
#define T_ID       utc(2019, 5, 1, 9, 0, 0)
#define T_NOTICE   utc(2019, 5, 20, 9, 0, 0)
#define T_DECISION utc(2019, 9, 2, 9, 0, 0)
#define T_ORDER    utc(2019, 10, 1, 9, 0, 0)
#define T_ACK      utc(2019, 10, 15, 9, 0, 0)
#define T_PROBE    utc(2020, 6, 1, 12, 0, 0)
#define LAPSE      (REVIEW_DEADLINE + GRACE)

/* ---- Events ---- */

static void
set_sender(struct cjx_case_event *ev, enum cjx_role role, int own)
{
    ev->sender_role = role;
    switch (role) {
    case CJX_ROLE_DOJ:
        /* DOJ is statewide: "other" gives it a county to show that its
         * county never matters. */
        ev->sender_ori = DOJ_ORI;
        ev->sender_county = own ? "" : OTHER_COUNTY;
        break;
    case CJX_ROLE_PROSECUTOR:
        ev->sender_ori = own ? DA_ORI : OTHER_DA_ORI;
        ev->sender_county = own ? COUNTY : OTHER_COUNTY;
        break;
    case CJX_ROLE_DEFENDER:
        ev->sender_ori = own ? PD_ORI : OTHER_PD_ORI;
        ev->sender_county = own ? COUNTY : OTHER_COUNTY;
        break;
    case CJX_ROLE_COURT:
        ev->sender_ori = own ? COURT_ORI : OTHER_COURT_ORI;
        ev->sender_county = own ? COUNTY : OTHER_COUNTY;
        break;
    default:
        ev->sender_ori = "CA0999999";
        ev->sender_county = own ? COUNTY : OTHER_COUNTY;
        break;
    }
}

static enum cjx_role
rightful_sender(enum cjx_case_event_kind kind)
{
    switch (kind) {
    case CJX_CASE_EV_NO_CHALLENGE:
    case CJX_CASE_EV_CHALLENGE:
        return CJX_ROLE_PROSECUTOR;
    case CJX_CASE_EV_RELIEF_ORDER:
    case CJX_CASE_EV_PETITION:
        return CJX_ROLE_COURT;
    case CJX_CASE_EV_PERSON_NOTIFIED:
        return CJX_ROLE_DEFENDER;
    default:
        return CJX_ROLE_DOJ;
    }
}

/* The calendar day (UTC) of a time. */
static struct cjx_case_date
day_of(int64_t us)
{
    int y, m, d;
    cjx_date_from_days(us / DAY, &y, &m, &d);
    return (struct cjx_case_date){.year = y, .month = m, .day = d};
}

/* A valid event of kind from its rightful sender of the case's county. */
static struct cjx_case_event
event(enum cjx_case_event_kind kind, int64_t at)
{
    struct cjx_case_event ev = {
        .kind = kind,
        .cii = CII,
        .court_case_number = CCN,
        .count_number = 1,
        .at_us = at,
        .county = COUNTY,
        .prosecutor_ori = DA_ORI,
        .determination = {.relief = CJX_RELIEF_HUMAN_REVIEW,
                          .floor = CJX_RELIEF_NOT_ELIGIBLE,
                          .ceiling = CJX_RELIEF_DISMISS_AND_SEAL,
                          .procedure =
                              CJX_PROCEDURE_PETITION_RECALL_RESENTENCE},
        .relief = CJX_RELIEF_DISMISS_AND_SEAL,
        .ground = CJX_GROUND_CRITERIA_NOT_MET,
        .reason_code = "FELONY_RETAINED_TWO_PRIORS",
        .order = CJX_ORDER_DISMISS_AND_SEAL,
        .contact_date = day_of(at),
        .contact_method = CJX_CONTACT_MAIL,
        .contact_outcome = CJX_CONTACT_REACHED,
    };
    set_sender(&ev, rightful_sender(kind), 1);
    return ev;
}

/* The event of the table: valid, and different in content from the step of
 * the same kind in the canonical history (so repeating it conflicts),
 * except the acknowledgement, which must echo the order. */
static struct cjx_case_event
probe(enum cjx_case_event_kind kind)
{
    struct cjx_case_event ev = event(kind, T_PROBE);
    ev.determination = (struct cjx_relief_determination){
        .relief = CJX_RELIEF_REDUCE_TO_MISDEMEANOR,
        .procedure = CJX_PROCEDURE_PETITION_RECALL_RESENTENCE};
    ev.relief = CJX_RELIEF_REDUCE_TO_INFRACTION;
    ev.reason_code = "FELONY_RETAINED_PC290_PRIOR";
    ev.order = kind == CJX_CASE_EV_HISTORY_UPDATED
                   ? CJX_ORDER_DISMISS_AND_SEAL
                   : CJX_ORDER_REDUCE_TO_MISDEMEANOR;
    return ev;
}

static void
must_apply(const struct cjx_case *cur, const struct cjx_case_event *ev,
           const struct cjx_workflow_policy *p, int64_t now,
           struct cjx_case *next)
{
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_workflow_apply(cur, ev, p, now, next, &eb);
    if (rc != 0)
        fail_msg("%s refused: %s (%s)", cjx_case_event_kind_name(ev->kind),
                 cjx_err_name(rc), eb.msg);
}

/* Applies ev and checks the refusal: code, next untouched, message that
 * names the case and contains want (if not NULL). */
static void
must_refuse(const struct cjx_case *cur, const struct cjx_case_event *ev,
            const struct cjx_workflow_policy *p, int64_t now, int code,
            const char *want)
{
    struct cjx_errbuf eb = {{0}};
    struct cjx_case next, before;
    memset(&next, 0xa5, sizeof(next));
    before = next;
    int rc = cjx_workflow_apply(cur, ev, p, now, &next, &eb);
    if (rc != code)
        fail_msg("%s: got %s (%s), want %s", cjx_case_event_kind_name(ev->kind),
                 cjx_err_name(rc), eb.msg, cjx_err_name(code));
    assert_memory_equal(&next, &before, sizeof(next));
    assert_true(eb.msg[0] != '\0');
    if (want != NULL && strstr(eb.msg, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", eb.msg, want);
}

/* ---- The transition table ---- */

#define ID   CJX_CASE_EV_IDENTIFY
#define NOTE CJX_CASE_EV_CANDIDATE_NOTICE
#define NOCH CJX_CASE_EV_NO_CHALLENGE
#define CHAL CJX_CASE_EV_CHALLENGE
#define ORD  CJX_CASE_EV_RELIEF_ORDER
#define ACK  CJX_CASE_EV_HISTORY_UPDATED
#define PN   CJX_CASE_EV_PERSON_NOTIFIED
#define PET  CJX_CASE_EV_PETITION

/* The cases the table starts from, each reached by its own history: the
 * automatic path with and without a challenge, and the petition path
 * (ordered after an answer, or unanswered). */
enum history {
    H_NONE,
    H_IDENTIFIED,
    H_NOTIFIED,
    H_NOT_CHALLENGED,
    H_CHALLENGED,
    H_ORDERED,
    H_ORDERED_CHALLENGED,
    H_UPDATED,
    H_UPDATED_CHALLENGED,
    H_PETITION,
    H_PETITION_NOT_CHALLENGED,
    H_PETITION_CHALLENGED,
    H_PETITION_ORDERED,
    H_PETITION_ORDERED_CHALLENGED,
    H_PETITION_UPDATED,
    H_PETITION_UPDATED_CHALLENGED,
    N_HISTORIES
};

static const struct {
    const char *name;
    enum cjx_case_event_kind steps[5]; /* up to the first 0 */
} histories[N_HISTORIES] = {
    [H_NONE] = {"no case", {0}},
    [H_IDENTIFIED] = {"IDENTIFIED", {ID}},
    [H_NOTIFIED] = {"NOTIFIED", {ID, NOTE}},
    [H_NOT_CHALLENGED] = {"NOT_CHALLENGED", {ID, NOTE, NOCH}},
    [H_CHALLENGED] = {"CHALLENGED", {ID, NOTE, CHAL}},
    [H_ORDERED] = {"ORDERED", {ID, NOTE, NOCH, ORD}},
    [H_ORDERED_CHALLENGED] = {"ORDERED after a challenge",
                              {ID, NOTE, CHAL, ORD}},
    [H_UPDATED] = {"HISTORY_UPDATED", {ID, NOTE, NOCH, ORD, ACK}},
    [H_UPDATED_CHALLENGED] = {"HISTORY_UPDATED after a challenge",
                              {ID, NOTE, CHAL, ORD, ACK}},
    [H_PETITION] = {"petition NOTIFIED", {PET}},
    [H_PETITION_NOT_CHALLENGED] = {"petition NOT_CHALLENGED", {PET, NOCH}},
    [H_PETITION_CHALLENGED] = {"petition CHALLENGED", {PET, CHAL}},
    [H_PETITION_ORDERED] = {"petition ORDERED unanswered", {PET, ORD}},
    [H_PETITION_ORDERED_CHALLENGED] = {"petition ORDERED after a challenge",
                                       {PET, CHAL, ORD}},
    [H_PETITION_UPDATED] = {"petition HISTORY_UPDATED unanswered",
                            {PET, ORD, ACK}},
    [H_PETITION_UPDATED_CHALLENGED] =
        {"petition HISTORY_UPDATED after a challenge", {PET, CHAL, ORD, ACK}},
};

/* When the canonical histories take each step. */
static int64_t
step_time(enum cjx_case_event_kind k)
{
    switch (k) {
    case ID:
        return T_ID;
    case NOTE:
    case PET:
        return T_NOTICE;
    case NOCH:
    case CHAL:
        return T_DECISION;
    case ORD:
        return T_ORDER;
    default:
        return T_ACK;
    }
}

/* The case history h leads to; NULL for H_NONE. */
static const struct cjx_case *
build_history(enum history h, const struct cjx_workflow_policy *p,
              struct cjx_case *c)
{
    const enum cjx_case_event_kind *steps = histories[h].steps;
    if (steps[0] == 0)
        return NULL;
    for (int i = 0; i < 5 && steps[i] != 0; i++) {
        struct cjx_case_event ev = event(steps[i], step_time(steps[i]));
        must_apply(i == 0 ? NULL : c, &ev, p, ev.at_us + MINUTE, c);
    }
    return c;
}

/* A case in state s, reached by the canonical history (challenged when s
 * is CHALLENGED, otherwise not challenged with DISMISS_AND_SEAL accepted). */
static void
build(enum cjx_case_state s, const struct cjx_workflow_policy *p,
      struct cjx_case *c)
{
    static const enum history by_state[] = {
        [CJX_CASE_IDENTIFIED] = H_IDENTIFIED,
        [CJX_CASE_NOTIFIED] = H_NOTIFIED,
        [CJX_CASE_NOT_CHALLENGED] = H_NOT_CHALLENGED,
        [CJX_CASE_CHALLENGED] = H_CHALLENGED,
        [CJX_CASE_ORDERED] = H_ORDERED,
        [CJX_CASE_HISTORY_UPDATED] = H_UPDATED,
    };
    build_history(by_state[s], p, c);
    assert_int_equal(c->state, s);
}

/* Expected outcome of each event kind, for each history, from each role of
 * the case's county and of another county. Written from the rules in the
 * design, not from the code:
 *   T  transition (to the state in the last column)
 *   U  accepted, nothing changes (a resend of the same step)
 *   W  CJX_ESTATE, an earlier step is missing: retrying may succeed
 *   S  CJX_ESTATE, for good (conflict, step already taken)
 *   P  CJX_EPERM
 * Cells: DOJ own/other, PROSECUTOR own/other, DEFENDER own/other,
 * COURT own/other, UNSPECIFIED own/other. */
struct table_row {
    enum history history;
    enum cjx_case_event_kind kind;
    const char cells[11];
    enum cjx_case_state to;
};

static const struct table_row table[] = {
    {H_NONE, ID, "TTPPPPPPPP", CJX_CASE_IDENTIFIED},
    {H_NONE, NOTE, "TTPPPPPPPP", CJX_CASE_NOTIFIED},
    {H_NONE, NOCH, "PPWWPPPPPP", 0},
    {H_NONE, CHAL, "PPWWPPPPPP", 0},
    {H_NONE, ORD, "PPPPPPWWPP", 0},
    {H_NONE, ACK, "WWPPPPPPPP", 0},
    /* No case says which county a report on the person belongs to. */
    {H_NONE, PN, "PPPPWWPPPP", 0},
    /* A petition names its county: only that county's court files it. */
    {H_NONE, PET, "PPPPPPTPPP", CJX_CASE_NOTIFIED},

    {H_IDENTIFIED, ID, "SSPPPPPPPP", 0},
    {H_IDENTIFIED, NOTE, "TTPPPPPPPP", CJX_CASE_NOTIFIED},
    {H_IDENTIFIED, NOCH, "PPWPPPPPPP", 0},
    {H_IDENTIFIED, CHAL, "PPWPPPPPPP", 0},
    {H_IDENTIFIED, ORD, "PPPPPPWPPP", 0},
    {H_IDENTIFIED, ACK, "WWPPPPPPPP", 0},
    {H_IDENTIFIED, PN, "PPPPWPPPPP", 0},
    {H_IDENTIFIED, PET, "PPPPPPSPPP", 0},

    {H_NOTIFIED, ID, "SSPPPPPPPP", 0},
    {H_NOTIFIED, NOTE, "SSPPPPPPPP", 0},
    {H_NOTIFIED, NOCH, "PPTPPPPPPP", CJX_CASE_NOT_CHALLENGED},
    {H_NOTIFIED, CHAL, "PPTPPPPPPP", CJX_CASE_CHALLENGED},
    {H_NOTIFIED, ORD, "PPPPPPWPPP", 0},
    {H_NOTIFIED, ACK, "WWPPPPPPPP", 0},
    {H_NOTIFIED, PN, "PPPPWPPPPP", 0},
    {H_NOTIFIED, PET, "PPPPPPSPPP", 0},

    {H_NOT_CHALLENGED, ID, "SSPPPPPPPP", 0},
    {H_NOT_CHALLENGED, NOTE, "SSPPPPPPPP", 0},
    {H_NOT_CHALLENGED, NOCH, "PPSPPPPPPP", 0},
    {H_NOT_CHALLENGED, CHAL, "PPSPPPPPPP", 0},
    {H_NOT_CHALLENGED, ORD, "PPPPPPTPPP", CJX_CASE_ORDERED},
    {H_NOT_CHALLENGED, ACK, "WWPPPPPPPP", 0},
    {H_NOT_CHALLENGED, PN, "PPPPSPPPPP", 0},
    {H_NOT_CHALLENGED, PET, "PPPPPPSPPP", 0},

    {H_CHALLENGED, ID, "SSPPPPPPPP", 0},
    {H_CHALLENGED, NOTE, "SSPPPPPPPP", 0},
    {H_CHALLENGED, NOCH, "PPSPPPPPPP", 0},
    {H_CHALLENGED, CHAL, "PPSPPPPPPP", 0},
    {H_CHALLENGED, ORD, "PPPPPPTPPP", CJX_CASE_ORDERED},
    {H_CHALLENGED, ACK, "WWPPPPPPPP", 0},
    {H_CHALLENGED, PN, "PPPPTPPPPP", CJX_CASE_CHALLENGED},
    {H_CHALLENGED, PET, "PPPPPPSPPP", 0},

    {H_ORDERED, ID, "SSPPPPPPPP", 0},
    {H_ORDERED, NOTE, "SSPPPPPPPP", 0},
    {H_ORDERED, NOCH, "PPSPPPPPPP", 0},
    {H_ORDERED, CHAL, "PPSPPPPPPP", 0},
    {H_ORDERED, ORD, "PPPPPPSPPP", 0},
    {H_ORDERED, ACK, "TTPPPPPPPP", CJX_CASE_HISTORY_UPDATED},
    {H_ORDERED, PN, "PPPPSPPPPP", 0},
    {H_ORDERED, PET, "PPPPPPSPPP", 0},

    {H_ORDERED_CHALLENGED, ID, "SSPPPPPPPP", 0},
    {H_ORDERED_CHALLENGED, NOTE, "SSPPPPPPPP", 0},
    {H_ORDERED_CHALLENGED, NOCH, "PPSPPPPPPP", 0},
    {H_ORDERED_CHALLENGED, CHAL, "PPSPPPPPPP", 0},
    {H_ORDERED_CHALLENGED, ORD, "PPPPPPSPPP", 0},
    {H_ORDERED_CHALLENGED, ACK, "TTPPPPPPPP", CJX_CASE_HISTORY_UPDATED},
    {H_ORDERED_CHALLENGED, PN, "PPPPTPPPPP", CJX_CASE_ORDERED},
    {H_ORDERED_CHALLENGED, PET, "PPPPPPSPPP", 0},

    {H_UPDATED, ID, "SSPPPPPPPP", 0},
    {H_UPDATED, NOTE, "SSPPPPPPPP", 0},
    {H_UPDATED, NOCH, "PPSPPPPPPP", 0},
    {H_UPDATED, CHAL, "PPSPPPPPPP", 0},
    {H_UPDATED, ORD, "PPPPPPSPPP", 0},
    {H_UPDATED, ACK, "UUPPPPPPPP", 0},
    {H_UPDATED, PN, "PPPPSPPPPP", 0},
    {H_UPDATED, PET, "PPPPPPSPPP", 0},

    {H_UPDATED_CHALLENGED, ID, "SSPPPPPPPP", 0},
    {H_UPDATED_CHALLENGED, NOTE, "SSPPPPPPPP", 0},
    {H_UPDATED_CHALLENGED, NOCH, "PPSPPPPPPP", 0},
    {H_UPDATED_CHALLENGED, CHAL, "PPSPPPPPPP", 0},
    {H_UPDATED_CHALLENGED, ORD, "PPPPPPSPPP", 0},
    {H_UPDATED_CHALLENGED, ACK, "UUPPPPPPPP", 0},
    {H_UPDATED_CHALLENGED, PN, "PPPPTPPPPP", CJX_CASE_HISTORY_UPDATED},
    {H_UPDATED_CHALLENGED, PET, "PPPPPPSPPP", 0},

    /* A case has one origin: a notice never reopens a petition's case. The
     * court orders a petition without waiting for an answer, and the
     * prosecutor may answer with no deadline. */
    {H_PETITION, ID, "SSPPPPPPPP", 0},
    {H_PETITION, NOTE, "SSPPPPPPPP", 0},
    {H_PETITION, NOCH, "PPTPPPPPPP", CJX_CASE_NOT_CHALLENGED},
    {H_PETITION, CHAL, "PPTPPPPPPP", CJX_CASE_CHALLENGED},
    {H_PETITION, ORD, "PPPPPPTPPP", CJX_CASE_ORDERED},
    {H_PETITION, ACK, "WWPPPPPPPP", 0},
    {H_PETITION, PN, "PPPPWPPPPP", 0},
    {H_PETITION, PET, "PPPPPPSPPP", 0},

    {H_PETITION_NOT_CHALLENGED, ID, "SSPPPPPPPP", 0},
    {H_PETITION_NOT_CHALLENGED, NOTE, "SSPPPPPPPP", 0},
    {H_PETITION_NOT_CHALLENGED, NOCH, "PPSPPPPPPP", 0},
    {H_PETITION_NOT_CHALLENGED, CHAL, "PPSPPPPPPP", 0},
    {H_PETITION_NOT_CHALLENGED, ORD, "PPPPPPTPPP", CJX_CASE_ORDERED},
    {H_PETITION_NOT_CHALLENGED, ACK, "WWPPPPPPPP", 0},
    {H_PETITION_NOT_CHALLENGED, PN, "PPPPSPPPPP", 0},
    {H_PETITION_NOT_CHALLENGED, PET, "PPPPPPSPPP", 0},

    {H_PETITION_CHALLENGED, ID, "SSPPPPPPPP", 0},
    {H_PETITION_CHALLENGED, NOTE, "SSPPPPPPPP", 0},
    {H_PETITION_CHALLENGED, NOCH, "PPSPPPPPPP", 0},
    {H_PETITION_CHALLENGED, CHAL, "PPSPPPPPPP", 0},
    {H_PETITION_CHALLENGED, ORD, "PPPPPPTPPP", CJX_CASE_ORDERED},
    {H_PETITION_CHALLENGED, ACK, "WWPPPPPPPP", 0},
    {H_PETITION_CHALLENGED, PN, "PPPPTPPPPP", CJX_CASE_CHALLENGED},
    {H_PETITION_CHALLENGED, PET, "PPPPPPSPPP", 0},

    /* Ordered unanswered: the prosecutor's turn has passed. */
    {H_PETITION_ORDERED, ID, "SSPPPPPPPP", 0},
    {H_PETITION_ORDERED, NOTE, "SSPPPPPPPP", 0},
    {H_PETITION_ORDERED, NOCH, "PPSPPPPPPP", 0},
    {H_PETITION_ORDERED, CHAL, "PPSPPPPPPP", 0},
    {H_PETITION_ORDERED, ORD, "PPPPPPSPPP", 0},
    {H_PETITION_ORDERED, ACK, "TTPPPPPPPP", CJX_CASE_HISTORY_UPDATED},
    {H_PETITION_ORDERED, PN, "PPPPSPPPPP", 0},
    {H_PETITION_ORDERED, PET, "PPPPPPSPPP", 0},

    {H_PETITION_ORDERED_CHALLENGED, ID, "SSPPPPPPPP", 0},
    {H_PETITION_ORDERED_CHALLENGED, NOTE, "SSPPPPPPPP", 0},
    {H_PETITION_ORDERED_CHALLENGED, NOCH, "PPSPPPPPPP", 0},
    {H_PETITION_ORDERED_CHALLENGED, CHAL, "PPSPPPPPPP", 0},
    {H_PETITION_ORDERED_CHALLENGED, ORD, "PPPPPPSPPP", 0},
    {H_PETITION_ORDERED_CHALLENGED, ACK, "TTPPPPPPPP",
     CJX_CASE_HISTORY_UPDATED},
    {H_PETITION_ORDERED_CHALLENGED, PN, "PPPPTPPPPP", CJX_CASE_ORDERED},
    {H_PETITION_ORDERED_CHALLENGED, PET, "PPPPPPSPPP", 0},

    {H_PETITION_UPDATED, ID, "SSPPPPPPPP", 0},
    {H_PETITION_UPDATED, NOTE, "SSPPPPPPPP", 0},
    {H_PETITION_UPDATED, NOCH, "PPSPPPPPPP", 0},
    {H_PETITION_UPDATED, CHAL, "PPSPPPPPPP", 0},
    {H_PETITION_UPDATED, ORD, "PPPPPPSPPP", 0},
    {H_PETITION_UPDATED, ACK, "UUPPPPPPPP", 0},
    {H_PETITION_UPDATED, PN, "PPPPSPPPPP", 0},
    {H_PETITION_UPDATED, PET, "PPPPPPSPPP", 0},

    {H_PETITION_UPDATED_CHALLENGED, ID, "SSPPPPPPPP", 0},
    {H_PETITION_UPDATED_CHALLENGED, NOTE, "SSPPPPPPPP", 0},
    {H_PETITION_UPDATED_CHALLENGED, NOCH, "PPSPPPPPPP", 0},
    {H_PETITION_UPDATED_CHALLENGED, CHAL, "PPSPPPPPPP", 0},
    {H_PETITION_UPDATED_CHALLENGED, ORD, "PPPPPPSPPP", 0},
    {H_PETITION_UPDATED_CHALLENGED, ACK, "UUPPPPPPPP", 0},
    {H_PETITION_UPDATED_CHALLENGED, PN, "PPPPTPPPPP", CJX_CASE_HISTORY_UPDATED},
    {H_PETITION_UPDATED_CHALLENGED, PET, "PPPPPPSPPP", 0},
};
#define N_TABLE  (sizeof(table) / sizeof(table[0]))
#define N_EVENTS 8 /* IDENTIFY .. PETITION */

static const enum cjx_role table_roles[] = {CJX_ROLE_DOJ, CJX_ROLE_PROSECUTOR,
                                            CJX_ROLE_DEFENDER, CJX_ROLE_COURT,
                                            CJX_ROLE_UNSPECIFIED};

static void
check_cell(const struct table_row *row, const struct cjx_case *cur,
           enum cjx_role role, int own, char want)
{
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case_event ev = probe(row->kind);
    set_sender(&ev, role, own);
    int64_t now = T_PROBE + HOUR;
    struct cjx_errbuf eb = {{0}};
    struct cjx_case next, sentinel;
    memset(&next, 0xa5, sizeof(next));
    sentinel = next;
    int rc = cjx_workflow_apply(cur, &ev, &p, now, &next, &eb);
    int want_rc = want == 'T' || want == 'U' ? 0
                  : want == 'P'              ? CJX_EPERM
                                             : CJX_ESTATE;
    const char *where = histories[row->history].name;
    if (rc != want_rc)
        fail_msg("%s + %s from %s (%s county): got %s (%s), want %c", where,
                 cjx_case_event_kind_name(row->kind), cjx_role_name(role),
                 own ? "own" : "other", cjx_err_name(rc), eb.msg, want);
    int retry = cjx_workflow_retry_may_succeed(cur, &ev, &p, now);
    if (retry != (want == 'W'))
        fail_msg("%s + %s from %s (%s county): retry_may_succeed %d", where,
                 cjx_case_event_kind_name(row->kind), cjx_role_name(role),
                 own ? "own" : "other", retry);
    /* Every case the petition path makes keeps that origin. */
    enum cjx_case_origin origin =
        histories[row->history].steps[0] == PET || row->kind == PET
            ? CJX_CASE_ORIGIN_PETITION
            : CJX_CASE_ORIGIN_AUTOMATIC_REVIEW;
    switch (want) {
    case 'T':
        assert_int_equal(next.state, row->to);
        assert_int_equal(next.origin, origin);
        assert_int_equal(next.version, cur != NULL ? cur->version + 1 : 1);
        assert_true(next.updated_us == now);
        assert_string_equal(next.key.cii, CII);
        assert_string_equal(next.key.court_case_number, CCN);
        assert_int_equal(next.key.count_number, 1);
        assert_string_equal(next.county, COUNTY);
        break;
    case 'U':
        assert_memory_equal(&next, cur, sizeof(next));
        break;
    default:
        assert_memory_equal(&next, &sentinel, sizeof(next));
        assert_true(eb.msg[0] != '\0');
        break;
    }
}

static void
test_workflow__every_state_event_role_and_county__matches_the_table(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    /* Every (history, kind) pair appears exactly once. */
    assert_int_equal(N_TABLE, N_HISTORIES * N_EVENTS);
    for (size_t i = 0; i < N_TABLE; i++)
        for (size_t j = i + 1; j < N_TABLE; j++)
            assert_false(table[i].history == table[j].history &&
                         table[i].kind == table[j].kind);

    for (size_t i = 0; i < N_TABLE; i++) {
        const struct table_row *row = &table[i];
        struct cjx_case c;
        const struct cjx_case *cur = build_history(row->history, &p, &c);
        for (size_t r = 0; r < 5; r++)
            for (int own = 1; own >= 0; own--)
                check_cell(row, cur, table_roles[r], own,
                           row->cells[r * 2 + (own ? 0 : 1)]);
    }
}

static void
test_workflow__role_out_of_range__is_permission_denied(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_NO_CHALLENGE, T_PROBE);
    ev.sender_role = (enum cjx_role)99;
    must_refuse(&c, &ev, &p, T_PROBE, CJX_EPERM, "UNSPECIFIED");
    ev.sender_role = (enum cjx_role) - 1;
    must_refuse(&c, &ev, &p, T_PROBE, CJX_EPERM, NULL);
}

static void
test_workflow__defender_challenge__names_the_rule(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_CHALLENGE, T_PROBE);
    set_sender(&ev, CJX_ROLE_DEFENDER, 1);
    must_refuse(&c, &ev, &p, T_PROBE, CJX_EPERM,
                "a DEFENDER may not send it: only the prosecutor of the "
                "case's county decides");
}

static void
test_workflow__other_county_court__is_refused_with_both_counties(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOT_CHALLENGED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_RELIEF_ORDER, T_PROBE);
    set_sender(&ev, CJX_ROLE_COURT, 0);
    must_refuse(&c, &ev, &p, T_PROBE, CJX_EPERM,
                "COURT " OTHER_COURT_ORI " of Alameda may not act on a case "
                "of San Francisco");
}

/* ---- The whole path ---- */

static void
test_workflow__full_path__records_times_versions_and_deadlines(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_IDENTIFIED, &p, &c);
    assert_int_equal(c.version, 1);
    assert_true(c.times.identified_us == T_ID);
    assert_true(c.deadlines.notice_us == T_ID + NOTICE_WINDOW);
    assert_true(c.deadlines.review_us == CJX_WORKFLOW_NO_DEADLINE);

    build(CJX_CASE_HISTORY_UPDATED, &p, &c);
    assert_int_equal(c.version, 5);
    assert_true(c.times.identified_us == T_ID);
    assert_true(c.times.notified_us == T_NOTICE);
    assert_true(c.times.decided_us == T_DECISION);
    assert_true(c.times.ordered_us == T_ORDER);
    assert_true(c.times.history_updated_us == T_ACK);
    assert_true(c.updated_us == T_ACK + MINUTE);
    assert_true(c.deadlines.notice_us == T_ID + NOTICE_WINDOW);
    assert_true(c.deadlines.review_us == REVIEW_DEADLINE);
    assert_true(c.deadlines.order_us == T_DECISION + ORDER_WINDOW);
    assert_true(c.deadlines.history_update_us == T_ORDER + HISTORY_WINDOW);
    assert_int_equal(c.decision.kind, CJX_DECISION_NO_CHALLENGE);
    assert_int_equal(c.decision.relief, CJX_RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(c.order, CJX_ORDER_DISMISS_AND_SEAL);
    assert_string_equal(c.prosecutor_ori, DA_ORI);
    assert_int_equal(c.determination.relief, CJX_RELIEF_HUMAN_REVIEW);
    assert_int_equal(c.flags, 0);
}

static void
test_workflow__notice_without_identification__creates_notified_case(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case_event ev = event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE);
    ev.determination = (struct cjx_relief_determination){
        .relief = CJX_RELIEF_REDUCE_TO_INFRACTION};
    struct cjx_case c;
    must_apply(NULL, &ev, &p, T_NOTICE + MINUTE, &c);
    assert_int_equal(c.state, CJX_CASE_NOTIFIED);
    assert_int_equal(c.version, 1);
    assert_true(c.times.identified_us == 0);
    /* A definite relief is its own floor and ceiling. */
    assert_int_equal(c.determination.floor, CJX_RELIEF_REDUCE_TO_INFRACTION);
    assert_int_equal(c.determination.ceiling, CJX_RELIEF_REDUCE_TO_INFRACTION);
    /* No identification time, no absolute limit: no notice deadline. */
    assert_true(c.deadlines.notice_us == CJX_WORKFLOW_NO_DEADLINE);
    assert_int_equal(c.flags, 0);
}

static void
test_workflow__next_may_be_current(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_CHALLENGE, T_PROBE);
    must_apply(&c, &ev, &p, T_PROBE, &c);
    assert_int_equal(c.state, CJX_CASE_CHALLENGED);
    assert_int_equal(c.version, 3);
    assert_string_equal(c.decision.reason_code, "FELONY_RETAINED_TWO_PRIORS");
}

/* ---- Review deadline ---- */

static void
decide_at(int64_t at, int64_t now, const struct cjx_workflow_policy *p,
          int want, const char *msg, struct cjx_case *out)
{
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_NO_CHALLENGE, at);
    if (want == 0)
        must_apply(&c, &ev, p, now, out);
    else
        must_refuse(&c, &ev, p, now, want, msg);
}

static void
test_workflow__decision_at_review_deadline__is_accepted(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    decide_at(REVIEW_DEADLINE, REVIEW_DEADLINE, &p, 0, NULL, &c);
    assert_int_equal(c.state, CJX_CASE_NOT_CHALLENGED);
    assert_int_equal(c.flags, 0);
}

static void
test_workflow__decision_one_us_before_review_deadline__is_accepted(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    decide_at(REVIEW_DEADLINE - 1, REVIEW_DEADLINE - 1, &p, 0, NULL, &c);
    assert_int_equal(c.state, CJX_CASE_NOT_CHALLENGED);
}

static void
test_workflow__decision_one_us_after_review_deadline__is_refused(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    decide_at(REVIEW_DEADLINE + 1, REVIEW_DEADLINE + 1, &p, CJX_ESTATE,
              "review deadline 2020-07-01T23:59:59.999999Z passed", NULL);
}

static void
test_workflow__timely_decision_arriving_within_grace__is_accepted(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    decide_at(REVIEW_DEADLINE, REVIEW_DEADLINE + GRACE, &p, 0, NULL, &c);
    assert_int_equal(c.state, CJX_CASE_NOT_CHALLENGED);
    assert_true(c.times.decided_us == REVIEW_DEADLINE);
}

static void
test_workflow__timely_decision_arriving_after_grace__is_refused(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    decide_at(REVIEW_DEADLINE, REVIEW_DEADLINE + GRACE + 1, &p, CJX_ESTATE,
              "later than the 7 days allowed for delivery", NULL);
}

static void
test_workflow__late_decision_under_wait_policy__is_accepted_and_flagged(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    p.review_lapse = CJX_LAPSE_WAIT;
    struct cjx_case c;
    decide_at(REVIEW_DEADLINE + DAY * 100, REVIEW_DEADLINE + DAY * 100, &p, 0,
              NULL, &c);
    assert_int_equal(c.state, CJX_CASE_NOT_CHALLENGED);
    assert_int_equal(c.flags, CJX_CASE_FLAG_DECIDED_LATE);
    decide_at(REVIEW_DEADLINE, REVIEW_DEADLINE, &p, 0, NULL, &c);
    assert_int_equal(c.flags, 0);
}

static void
test_workflow__resent_decision_after_deadline__changes_nothing(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_NOT_CHALLENGED, &p, &c);
    struct cjx_case_event ev =
        event(CJX_CASE_EV_NO_CHALLENGE, REVIEW_DEADLINE + DAY);
    must_apply(&c, &ev, &p, REVIEW_DEADLINE + DAY, &next);
    assert_memory_equal(&next, &c, sizeof(c));
}

static void
test_workflow__review_window_and_limit__earlier_wins(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    p.review.window_us = 60 * DAY;
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    assert_true(c.deadlines.review_us == T_NOTICE + 60 * DAY);
    p.review.window_us = 800 * DAY;
    cjx_workflow_deadlines(&c, &p, &c.deadlines);
    assert_true(c.deadlines.review_us == REVIEW_DEADLINE);
    p.review.not_after_us = 0;
    cjx_workflow_deadlines(&c, &p, &c.deadlines);
    assert_true(c.deadlines.review_us == T_NOTICE + 800 * DAY);
    p.review.window_us = 0;
    cjx_workflow_deadlines(&c, &p, &c.deadlines);
    assert_true(c.deadlines.review_us == CJX_WORKFLOW_NO_DEADLINE);
    /* A window that would overflow means no deadline, not a negative one. */
    p.review.window_us = INT64_MAX;
    cjx_workflow_deadlines(&c, &p, &c.deadlines);
    assert_true(c.deadlines.review_us == CJX_WORKFLOW_NO_DEADLINE);
}

static void
test_workflow__changed_policy__applies_to_existing_case(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    /* A later law moves the review deadline a year out: the stored copy is
     * stale, the policy decides. */
    p.review.not_after_us = REVIEW_DEADLINE + 365 * DAY;
    struct cjx_case_event ev =
        event(CJX_CASE_EV_CHALLENGE, REVIEW_DEADLINE + DAY);
    struct cjx_case next;
    must_apply(&c, &ev, &p, REVIEW_DEADLINE + DAY, &next);
    assert_true(next.deadlines.review_us == REVIEW_DEADLINE + 365 * DAY);
}

/* ---- Lapse: no decision by the deadline ---- */

static void
test_workflow__silent_case__lapses_one_us_after_deadline_plus_grace(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    assert_true(cjx_workflow_lapse_us(&c, &p) == LAPSE);
    assert_int_equal(cjx_workflow_effective_state(&c, &p, REVIEW_DEADLINE + 1),
                     CJX_CASE_NOTIFIED);
    assert_int_equal(cjx_workflow_effective_state(&c, &p, LAPSE),
                     CJX_CASE_NOTIFIED);
    assert_int_equal(cjx_workflow_effective_state(&c, &p, LAPSE + 1),
                     CJX_CASE_NOT_CHALLENGED);
    p.review_lapse = CJX_LAPSE_WAIT;
    assert_true(cjx_workflow_lapse_us(&c, &p) == CJX_WORKFLOW_NO_DEADLINE);
    assert_int_equal(cjx_workflow_effective_state(&c, &p, LAPSE + 400 * DAY),
                     CJX_CASE_NOTIFIED);
    assert_int_equal(cjx_workflow_effective_state(NULL, &p, 0),
                     CJX_CASE_STATE_UNSPECIFIED);
}

static void
test_workflow__order_on_lapsed_case__is_accepted_as_not_challenged(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_RELIEF_ORDER, LAPSE + 1);
    must_apply(&c, &ev, &p, LAPSE + 1, &next);
    assert_int_equal(next.state, CJX_CASE_ORDERED);
    assert_int_equal(next.version, 3);
    assert_int_equal(next.decision.kind, CJX_DECISION_LAPSED);
    assert_true(next.times.decided_us == LAPSE);
    assert_true(next.times.ordered_us == LAPSE + 1);
    assert_true(next.deadlines.order_us == LAPSE + ORDER_WINDOW);
    assert_int_equal(next.flags, 0);
    /* A decision arriving afterwards cannot rewrite the lapse. */
    struct cjx_case_event late = event(CJX_CASE_EV_CHALLENGE, REVIEW_DEADLINE);
    must_refuse(&next, &late, &p, LAPSE + 2, CJX_ESTATE, "lapse");
}

static void
test_workflow__order_on_silent_case_before_lapse__waits(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_RELIEF_ORDER, LAPSE);
    must_refuse(&c, &ev, &p, LAPSE, CJX_ESTATE, "retry later");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ev, &p, LAPSE), 1);
}

static void
test_workflow__order_dated_before_review_deadline_on_lapsed_case__is_refused(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    /* Received after the lapse, but the court says it ordered while the
     * prosecutor could still challenge. */
    struct cjx_case_event ev = event(CJX_CASE_EV_RELIEF_ORDER, REVIEW_DEADLINE);
    must_refuse(&c, &ev, &p, LAPSE + 1, CJX_ESTATE,
                "before the review deadline");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ev, &p, LAPSE + 1), 0);
}

static void
test_workflow__order_on_silent_case_under_wait_policy__waits_for_decision(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    p.review_lapse = CJX_LAPSE_WAIT;
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    int64_t much_later = LAPSE + 1000 * DAY;
    struct cjx_case_event ev = event(CJX_CASE_EV_RELIEF_ORDER, much_later);
    must_refuse(&c, &ev, &p, much_later, CJX_ESTATE,
                "the court waits for the decision");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ev, &p, much_later),
                     1);
}

static void
test_workflow__lapsed_order_below_definite_relief__is_flagged(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case_event notice =
        event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE);
    notice.determination = (struct cjx_relief_determination){
        .relief = CJX_RELIEF_DISMISS_AND_SEAL};
    struct cjx_case c, next;
    must_apply(NULL, &notice, &p, T_NOTICE, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_RELIEF_ORDER, LAPSE + 1);
    ev.order = CJX_ORDER_REDUCE_TO_MISDEMEANOR;
    must_apply(&c, &ev, &p, LAPSE + 1, &next);
    assert_int_equal(next.flags, CJX_CASE_FLAG_BELOW_UNCHALLENGED);

    /* With HUMAN_REVIEW down to NOT_ELIGIBLE, a denial is within reach. */
    build(CJX_CASE_NOTIFIED, &p, &c);
    ev.order = CJX_ORDER_DENIED;
    must_apply(&c, &ev, &p, LAPSE + 1, &next);
    assert_int_equal(next.flags, 0);
}

/* ---- Ceiling and floor ---- */

/* A notified case whose DOJ determination is HUMAN_REVIEW from
 * REDUCE_TO_MISDEMEANOR up to REDUCE_TO_INFRACTION. */
static void
build_bounded(const struct cjx_workflow_policy *p, struct cjx_case *c)
{
    struct cjx_case_event ev = event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE);
    ev.determination.floor = CJX_RELIEF_REDUCE_TO_MISDEMEANOR;
    ev.determination.ceiling = CJX_RELIEF_REDUCE_TO_INFRACTION;
    must_apply(NULL, &ev, p, T_NOTICE, c);
}

static void
order_on_bounded(const struct cjx_workflow_policy *p, enum cjx_order order,
                 int want, struct cjx_case *out)
{
    struct cjx_case c;
    build_bounded(p, &c);
    struct cjx_case_event ch = event(CJX_CASE_EV_CHALLENGE, T_DECISION);
    must_apply(&c, &ch, p, T_DECISION, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_RELIEF_ORDER, T_ORDER);
    ev.order = order;
    if (want == 0)
        must_apply(&c, &ev, p, T_ORDER, out);
    else
        must_refuse(&c, &ev, p, T_ORDER, want,
                    "more relief than DOJ's ceiling REDUCE_TO_INFRACTION");
}

static void
test_workflow__order_above_ceiling__is_refused_by_default(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    order_on_bounded(&p, CJX_ORDER_DISMISS_AND_SEAL, CJX_ESTATE, NULL);
}

static void
test_workflow__order_above_ceiling__is_flagged_when_configured(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    p.above_ceiling = CJX_CEILING_FLAG;
    struct cjx_case c;
    order_on_bounded(&p, CJX_ORDER_DISMISS_AND_SEAL, 0, &c);
    assert_int_equal(c.state, CJX_CASE_ORDERED);
    assert_int_equal(c.flags, CJX_CASE_FLAG_ABOVE_CEILING);
}

static void
test_workflow__order_at_ceiling_or_denied_on_challenge__is_clean(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    for (int mode = 0; mode < 2; mode++) {
        p.above_ceiling = mode ? CJX_CEILING_FLAG : CJX_CEILING_REFUSE;
        order_on_bounded(&p, CJX_ORDER_REDUCE_TO_INFRACTION, 0, &c);
        assert_int_equal(c.flags, 0);
        /* A successful challenge may end in a denial: nothing to flag. */
        order_on_bounded(&p, CJX_ORDER_DENIED, 0, &c);
        assert_int_equal(c.flags, 0);
        assert_int_equal(c.order, CJX_ORDER_DENIED);
    }
}

static void
test_workflow__no_challenge_above_ceiling__follows_the_policy(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build_bounded(&p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_NO_CHALLENGE, T_DECISION);
    ev.relief = CJX_RELIEF_DISMISS_AND_SEAL;
    must_refuse(&c, &ev, &p, T_DECISION, CJX_ESTATE, "ceiling");
    p.above_ceiling = CJX_CEILING_FLAG;
    must_apply(&c, &ev, &p, T_DECISION, &next);
    assert_int_equal(next.flags, CJX_CASE_FLAG_ABOVE_CEILING);
    /* The order that grants what was accepted is above the ceiling too. */
    struct cjx_case_event ord = event(CJX_CASE_EV_RELIEF_ORDER, T_ORDER);
    must_apply(&next, &ord, &p, T_ORDER, &next);
    assert_int_equal(next.flags, CJX_CASE_FLAG_ABOVE_CEILING);
}

static void
test_workflow__no_challenge_below_floor__is_refused(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    struct cjx_case_event notice =
        event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE);
    notice.determination = (struct cjx_relief_determination){
        .relief = CJX_RELIEF_REDUCE_TO_INFRACTION};
    must_apply(NULL, &notice, &p, T_NOTICE, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_NO_CHALLENGE, T_DECISION);
    ev.relief = CJX_RELIEF_REDUCE_TO_MISDEMEANOR;
    must_refuse(&c, &ev, &p, T_DECISION, CJX_ESTATE,
                "less than DOJ's floor REDUCE_TO_INFRACTION");
}

static void
test_workflow__order_below_accepted_relief__is_flagged(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_NOT_CHALLENGED, &p, &c); /* accepted DISMISS_AND_SEAL */
    struct cjx_case_event ev = event(CJX_CASE_EV_RELIEF_ORDER, T_ORDER);
    ev.order = CJX_ORDER_DENIED;
    must_apply(&c, &ev, &p, T_ORDER, &next);
    assert_int_equal(next.flags, CJX_CASE_FLAG_BELOW_UNCHALLENGED);
    ev.order = CJX_ORDER_DISMISS_AND_SEAL;
    must_apply(&c, &ev, &p, T_ORDER, &next);
    assert_int_equal(next.flags, 0);
}

static void
test_workflow__relief_ranks__follow_the_order_of_relief(void **state)
{
    (void)state;
    assert_true(cjx_order_rank(CJX_ORDER_DENIED) <
                cjx_order_rank(CJX_ORDER_REDUCE_TO_MISDEMEANOR));
    assert_true(cjx_order_rank(CJX_ORDER_REDUCE_TO_MISDEMEANOR) <
                cjx_order_rank(CJX_ORDER_REDUCE_TO_INFRACTION));
    assert_true(cjx_order_rank(CJX_ORDER_REDUCE_TO_INFRACTION) <
                cjx_order_rank(CJX_ORDER_DISMISS_AND_SEAL));
    assert_int_equal(cjx_order_rank(CJX_ORDER_UNSPECIFIED), -1);
    assert_int_equal(cjx_order_rank((enum cjx_order)5), -1);
    assert_int_equal(cjx_relief_rank(CJX_RELIEF_NOT_ELIGIBLE),
                     cjx_order_rank(CJX_ORDER_DENIED));
    assert_int_equal(cjx_relief_rank(CJX_RELIEF_REDUCE_TO_MISDEMEANOR),
                     cjx_order_rank(CJX_ORDER_REDUCE_TO_MISDEMEANOR));
    assert_int_equal(cjx_relief_rank(CJX_RELIEF_REDUCE_TO_INFRACTION),
                     cjx_order_rank(CJX_ORDER_REDUCE_TO_INFRACTION));
    assert_int_equal(cjx_relief_rank(CJX_RELIEF_DISMISS_AND_SEAL),
                     cjx_order_rank(CJX_ORDER_DISMISS_AND_SEAL));
    assert_int_equal(cjx_relief_rank(CJX_RELIEF_HUMAN_REVIEW), -1);
    assert_int_equal(cjx_relief_rank(CJX_RELIEF_NO_ACTION), -1);
    assert_int_equal(cjx_relief_rank(CJX_RELIEF_UNSPECIFIED), -1);
}

/* ---- Grounds ---- */

static void
test_workflow__risk_ground_on_completed_sentence__is_refused(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    struct cjx_case_event notice =
        event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE);
    notice.determination.procedure = CJX_PROCEDURE_APPLICATION_REDESIGNATION;
    must_apply(NULL, &notice, &p, T_NOTICE, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_CHALLENGE, T_DECISION);
    ev.ground = CJX_GROUND_UNREASONABLE_RISK;
    ev.reason_code = NULL;
    must_refuse(&c, &ev, &p, T_DECISION, CJX_ESTATE,
                "UNREASONABLE_RISK is a ground only against resentencing");
    /* Criteria not met is open on any procedure. */
    ev.ground = CJX_GROUND_CRITERIA_NOT_MET;
    ev.reason_code = "FELONY_RETAINED_TWO_PRIORS";
    must_apply(&c, &ev, &p, T_DECISION, &next);
    assert_int_equal(next.state, CJX_CASE_CHALLENGED);
}

static void
test_workflow__risk_ground_while_serving__is_accepted(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_NOTIFIED, &p, &c); /* PETITION_RECALL_RESENTENCE */
    struct cjx_case_event ev = event(CJX_CASE_EV_CHALLENGE, T_DECISION);
    ev.ground = CJX_GROUND_UNREASONABLE_RISK;
    ev.reason_code = "";
    must_apply(&c, &ev, &p, T_DECISION, &next);
    assert_int_equal(next.decision.kind, CJX_DECISION_CHALLENGE);
    assert_int_equal(next.decision.ground, CJX_GROUND_UNREASONABLE_RISK);
    assert_string_equal(next.decision.reason_code, "");
}

/* ---- Out of order and repeats ---- */

static void
test_workflow__order_before_notice__waits_then_applies(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case_event order = event(CJX_CASE_EV_RELIEF_ORDER, T_ORDER);
    must_refuse(NULL, &order, &p, T_ORDER, CJX_ESTATE,
                "no candidate notice or petition for this case has "
                "arrived yet");
    assert_int_equal(cjx_workflow_retry_may_succeed(NULL, &order, &p, T_ORDER),
                     1);

    struct cjx_case c;
    struct cjx_case_event notice =
        event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE);
    must_apply(NULL, &notice, &p, T_ORDER + HOUR, &c);
    must_refuse(&c, &order, &p, T_ORDER + HOUR, CJX_ESTATE, "retry later");
    assert_int_equal(
        cjx_workflow_retry_may_succeed(&c, &order, &p, T_ORDER + HOUR), 1);

    struct cjx_case_event decision =
        event(CJX_CASE_EV_NO_CHALLENGE, T_DECISION);
    must_apply(&c, &decision, &p, T_ORDER + 2 * HOUR, &c);
    must_apply(&c, &order, &p, T_ORDER + 3 * HOUR, &c);
    assert_int_equal(c.state, CJX_CASE_ORDERED);
    assert_int_equal(c.version, 3);
    assert_true(c.times.ordered_us == T_ORDER);
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &order, &p, T_ORDER),
                     0);
}

static void
test_workflow__acknowledgement_before_order__waits(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_CHALLENGED, &p, &c);
    struct cjx_case_event ack = event(CJX_CASE_EV_HISTORY_UPDATED, T_ACK);
    must_refuse(&c, &ack, &p, T_ACK, CJX_ESTATE,
                "no court order has been applied yet");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ack, &p, T_ACK), 1);
}

static void
test_workflow__acknowledgement_of_another_order__is_refused(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_ORDERED, &p, &c);
    struct cjx_case_event ack = event(CJX_CASE_EV_HISTORY_UPDATED, T_ACK);
    ack.order = CJX_ORDER_REDUCE_TO_INFRACTION;
    must_refuse(&c, &ack, &p, T_ACK, CJX_ESTATE,
                "DOJ reports applying REDUCE_TO_INFRACTION but the court "
                "ordered DISMISS_AND_SEAL");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ack, &p, T_ACK), 0);
}

static void
test_workflow__identical_notice_resent__changes_nothing(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_CHALLENGED, &p, &c);
    /* Same content, new time (a resend under a new message id). */
    struct cjx_case_event ev =
        event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE + DAY);
    memset(&next, 0, sizeof(next));
    must_apply(&c, &ev, &p, T_PROBE, &next);
    assert_memory_equal(&next, &c, sizeof(c));
    assert_true(next.times.notified_us == T_NOTICE);
}

static void
test_workflow__notice_with_other_determination__is_a_conflict(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_CANDIDATE_NOTICE, T_PROBE);
    ev.determination.ceiling = CJX_RELIEF_REDUCE_TO_INFRACTION;
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE,
                "a different candidate notice cannot replace it");
    ev = event(CJX_CASE_EV_CANDIDATE_NOTICE, T_PROBE);
    ev.prosecutor_ori = "";
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE, NULL);
}

static void
test_workflow__identical_challenge_resent__changes_nothing(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_CHALLENGED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_CHALLENGE, T_PROBE);
    must_apply(&c, &ev, &p, T_PROBE, &next);
    assert_memory_equal(&next, &c, sizeof(c));
    ev.reason_code = "FELONY_RETAINED_PC290_PRIOR";
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE,
                "the prosecutor's decision is already taken (challenge on "
                "CRITERIA_NOT_MET FELONY_RETAINED_TWO_PRIORS");
    ev = event(CJX_CASE_EV_NO_CHALLENGE, T_PROBE);
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE, "already taken");
}

static void
test_workflow__different_order_after_order__is_a_conflict(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_HISTORY_UPDATED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_RELIEF_ORDER, T_PROBE);
    must_apply(&c, &ev, &p, T_PROBE, &next); /* same order: a resend */
    assert_memory_equal(&next, &c, sizeof(c));
    ev.order = CJX_ORDER_DENIED;
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE,
                "the court already ordered DISMISS_AND_SEAL");
}

static void
test_workflow__notice_moving_identified_case__is_refused(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_IDENTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE);
    ev.county = OTHER_COUNTY;
    must_refuse(&c, &ev, &p, T_NOTICE, CJX_ESTATE,
                "identified in San Francisco, the notice names Alameda");
    /* DOJ may revise its determination before releasing the notice. */
    ev = event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE);
    ev.determination = (struct cjx_relief_determination){
        .relief = CJX_RELIEF_REDUCE_TO_MISDEMEANOR};
    must_apply(&c, &ev, &p, T_NOTICE, &next);
    assert_int_equal(next.determination.ceiling,
                     CJX_RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_true(next.times.identified_us == T_ID);
}

/* ---- Time ---- */

static void
test_workflow__event_dated_before_previous_step__is_refused_beyond_skew(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev =
        event(CJX_CASE_EV_NO_CHALLENGE, T_NOTICE - SKEW - 1);
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE,
                "before the candidate notice it follows");
    ev.at_us = T_NOTICE - SKEW;
    must_apply(&c, &ev, &p, T_PROBE, &next);
}

static void
test_workflow__event_time_ahead_of_now__is_refused_beyond_skew(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_CHALLENGE, T_PROBE + SKEW);
    must_apply(&c, &ev, &p, T_PROBE, &next);
    ev.at_us = T_PROBE + SKEW + 1;
    must_refuse(&c, &ev, &p, T_PROBE, CJX_EINVAL,
                "is more than 5 minutes ahead of now");
}

static void
test_workflow__late_steps__are_flagged(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_IDENTIFIED, &p, &c);
    int64_t t = T_ID + NOTICE_WINDOW;
    struct cjx_case_event ev = event(CJX_CASE_EV_CANDIDATE_NOTICE, t);
    struct cjx_case on_time, late;
    must_apply(&c, &ev, &p, t, &on_time);
    assert_int_equal(on_time.flags, 0);
    ev.at_us = t + 1;
    must_apply(&c, &ev, &p, t + 1, &late);
    assert_int_equal(late.flags, CJX_CASE_FLAG_NOTIFIED_LATE);

    build(CJX_CASE_NOT_CHALLENGED, &p, &c);
    t = T_DECISION + ORDER_WINDOW;
    ev = event(CJX_CASE_EV_RELIEF_ORDER, t);
    must_apply(&c, &ev, &p, t, &on_time);
    assert_int_equal(on_time.flags, 0);
    ev.at_us = t + 1;
    must_apply(&c, &ev, &p, t + 1, &late);
    assert_int_equal(late.flags, CJX_CASE_FLAG_ORDERED_LATE);

    c = on_time;
    t = c.times.ordered_us + HISTORY_WINDOW;
    ev = event(CJX_CASE_EV_HISTORY_UPDATED, t);
    must_apply(&c, &ev, &p, t, &on_time);
    assert_int_equal(on_time.flags, 0);
    ev.at_us = t + 1;
    must_apply(&c, &ev, &p, t + 1, &late);
    assert_int_equal(late.flags, CJX_CASE_FLAG_UPDATED_LATE);
}

/* ---- Malformed events ---- */

struct bad_event {
    const char *name;
    enum cjx_case_event_kind kind;
    void (*mutate)(struct cjx_case_event *ev);
    const char *message;
};

static void
m_no_ground(struct cjx_case_event *e)
{
    e->ground = 0;
}
static void
m_bad_ground(struct cjx_case_event *e)
{
    e->ground = 7;
}
static void
m_no_reason(struct cjx_case_event *e)
{
    e->reason_code = NULL;
}
static void
m_lower_reason(struct cjx_case_event *e)
{
    e->reason_code = "two_priors";
}
static void
m_long_reason(struct cjx_case_event *e)
{
    e->reason_code =
        "A12345678901234567890123456789012345678901234567890123456789012345";
}
static void
m_relief_unset(struct cjx_case_event *e)
{
    e->relief = 0;
}
static void
m_relief_42(struct cjx_case_event *e)
{
    e->relief = 42;
}
static void
m_relief_ne(struct cjx_case_event *e)
{
    e->relief = CJX_RELIEF_NOT_ELIGIBLE;
}
static void
m_relief_hr(struct cjx_case_event *e)
{
    e->relief = CJX_RELIEF_HUMAN_REVIEW;
}
static void
m_det_unset(struct cjx_case_event *e)
{
    e->determination.relief = 0;
}
static void
m_det_ne(struct cjx_case_event *e)
{
    e->determination.relief = CJX_RELIEF_NOT_ELIGIBLE;
}
static void
m_det_no_action(struct cjx_case_event *e)
{
    e->determination.relief = CJX_RELIEF_NO_ACTION;
}
static void
m_det_42(struct cjx_case_event *e)
{
    e->determination.relief = 42;
}
static void
m_det_no_floor(struct cjx_case_event *e)
{
    e->determination.floor = 0;
}
static void
m_det_ceiling_ne(struct cjx_case_event *e)
{
    e->determination.ceiling = CJX_RELIEF_NOT_ELIGIBLE;
}
static void
m_det_floor_above(struct cjx_case_event *e)
{
    e->determination.floor = CJX_RELIEF_DISMISS_AND_SEAL;
    e->determination.ceiling = CJX_RELIEF_REDUCE_TO_INFRACTION;
}
static void
m_det_definite_floor(struct cjx_case_event *e)
{
    e->determination = (struct cjx_relief_determination){
        .relief = CJX_RELIEF_DISMISS_AND_SEAL,
        .floor = CJX_RELIEF_REDUCE_TO_MISDEMEANOR};
}
static void
m_det_procedure(struct cjx_case_event *e)
{
    e->determination.procedure = 9;
}
static void
m_no_county(struct cjx_case_event *e)
{
    e->county = "";
}
static void
m_long_county(struct cjx_case_event *e)
{
    e->county =
        "Countyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
}
static void
m_bad_prosecutor(struct cjx_case_event *e)
{
    e->prosecutor_ori = "CA038013";
}
static void
m_order_unset(struct cjx_case_event *e)
{
    e->order = 0;
}
static void
m_order_9(struct cjx_case_event *e)
{
    e->order = 9;
}
static void
m_no_cii(struct cjx_case_event *e)
{
    e->cii = NULL;
}
static void
m_lower_cii(struct cjx_case_event *e)
{
    e->cii = "a1234567";
}
static void
m_long_cii(struct cjx_case_event *e)
{
    e->cii = "A1234567890123456";
}
static void
m_no_ccn(struct cjx_case_event *e)
{
    e->court_case_number = "";
}
static void
m_ccn_newline(struct cjx_case_event *e)
{
    e->court_case_number = "SCN\n1";
}
static void
m_long_ccn(struct cjx_case_event *e)
{
    e->court_case_number =
        "12345678901234567890123456789012345678901234567890123456789012345";
}
static void
m_count_0(struct cjx_case_event *e)
{
    e->count_number = 0;
}
static void
m_count_1000(struct cjx_case_event *e)
{
    e->count_number = 1000;
}
static void
m_no_sender_ori(struct cjx_case_event *e)
{
    e->sender_ori = NULL;
}
static void
m_bad_sender_ori(struct cjx_case_event *e)
{
    e->sender_ori = "ca038013a";
}
static void
m_no_time(struct cjx_case_event *e)
{
    e->at_us = 0;
}
static void
m_negative_time(struct cjx_case_event *e)
{
    e->at_us = -5;
}

static void
m_no_contact_date(struct cjx_case_event *e)
{
    e->contact_date = (struct cjx_case_date){0};
}
static void
m_feb_30(struct cjx_case_event *e)
{
    e->contact_date =
        (struct cjx_case_date){.year = 2021, .month = 2, .day = 30};
}
static void
m_contact_after_report(struct cjx_case_event *e)
{
    e->contact_date = day_of(e->at_us + 2 * DAY);
}
static void
m_method_unset(struct cjx_case_event *e)
{
    e->contact_method = 0;
}
static void
m_method_9(struct cjx_case_event *e)
{
    e->contact_method = 9;
}
static void
m_outcome_unset(struct cjx_case_event *e)
{
    e->contact_outcome = 0;
}
static void
m_outcome_7(struct cjx_case_event *e)
{
    e->contact_outcome = 7;
}
static void
m_origin_automatic(struct cjx_case_event *e)
{
    e->origin = CJX_CASE_ORIGIN_AUTOMATIC_REVIEW;
}
static void
m_origin_petition(struct cjx_case_event *e)
{
    e->origin = CJX_CASE_ORIGIN_PETITION;
}
static void
m_origin_5(struct cjx_case_event *e)
{
    e->origin = 5;
}

static const struct bad_event bad_events[] = {
    {"no ground", CHAL, m_no_ground, "ground: required"},
    {"unknown ground", CHAL, m_bad_ground, "ground: unknown value 7"},
    {"criteria without reason", CHAL, m_no_reason,
     "reason_code: required with ground CRITERIA_NOT_MET"},
    {"lower-case reason", CHAL, m_lower_reason, "is not a reason code"},
    {"long reason", CHAL, m_long_reason, "reason_code: longer than 64"},
    {"no relief", NOCH, m_relief_unset, "relief: required"},
    {"unknown relief", NOCH, m_relief_42, "relief: unknown value 42"},
    {"not eligible accepted", NOCH, m_relief_ne,
     "NOT_ELIGIBLE grants no relief"},
    {"human review accepted", NOCH, m_relief_hr, "HUMAN_REVIEW grants no"},
    {"no determination", NOTE, m_det_unset, "determination.relief: required"},
    {"not eligible candidate", NOTE, m_det_ne,
     "a count with NOT_ELIGIBLE is not a candidate"},
    {"no-action candidate", ID, m_det_no_action, "NO_ACTION is not"},
    {"unknown determination", NOTE, m_det_42, "unknown value 42"},
    {"review without floor", NOTE, m_det_no_floor,
     "HUMAN_REVIEW needs a floor"},
    {"review without ceiling", NOTE, m_det_ceiling_ne,
     "needs a ceiling that grants relief, got NOT_ELIGIBLE"},
    {"floor above ceiling", ID, m_det_floor_above,
     "floor DISMISS_AND_SEAL is above the ceiling REDUCE_TO_INFRACTION"},
    {"definite with floor", NOTE, m_det_definite_floor,
     "must equal the relief DISMISS_AND_SEAL"},
    {"unknown procedure", NOTE, m_det_procedure,
     "determination.procedure: unknown value 9"},
    {"no county", NOTE, m_no_county, "county: required"},
    {"long county", ID, m_long_county, "county: longer than 64"},
    {"bad prosecutor", NOTE, m_bad_prosecutor, "prosecutor_ori: not an ORI"},
    {"no order", ORD, m_order_unset, "order: required"},
    {"unknown order", ORD, m_order_9, "order: unknown value 9"},
    {"ack without order", ACK, m_order_unset,
     "order (the order DOJ applied): required"},
    {"no cii", ORD, m_no_cii, "cii: required"},
    {"lower-case cii", NOCH, m_lower_cii, "only capital letters and digits"},
    {"long cii", ACK, m_long_cii, "cii: longer than 16"},
    {"no case number", CHAL, m_no_ccn, "court_case_number: required"},
    {"control character", NOTE, m_ccn_newline, "control character"},
    {"long case number", ORD, m_long_ccn, "longer than 64"},
    {"count 0", NOCH, m_count_0, "count_number: must be 1..999, got 0"},
    {"count 1000", NOTE, m_count_1000, "got 1000"},
    {"no sender", CHAL, m_no_sender_ori, "sender_ori: required"},
    {"bad sender", ORD, m_bad_sender_ori, "sender_ori: not an ORI"},
    {"no time", NOCH, m_no_time, "at_us: required"},
    {"negative time", ACK, m_negative_time, "at_us: required"},
    {"no contact date", PN, m_no_contact_date, "contact_date: required"},
    {"no such day", PN, m_feb_30, "contact_date: 2021-2-30 is not a calendar"},
    {"contact after the report", PN, m_contact_after_report,
     "is after the report was made"},
    {"no method", PN, m_method_unset, "method: required"},
    {"unknown method", PN, m_method_9, "method: unknown value 9"},
    {"no outcome", PN, m_outcome_unset, "outcome: required"},
    {"unknown outcome", PN, m_outcome_7, "outcome: unknown value 7"},
    {"petition without county", PET, m_no_county, "county: required"},
    {"petition without determination", PET, m_det_unset,
     "petition for case A1234567 SCN-2001-123 #1: determination.relief: "
     "required"},
    {"petition on a relieved count", PET, m_det_no_action,
     "NO_ACTION is not a candidate"},
    {"petition of another origin", PET, m_origin_automatic,
     "petition for case A1234567 SCN-2001-123 #1: origin: the case it opens "
     "is of origin PETITION, not AUTOMATIC_REVIEW (1)"},
    {"notice of a petition's origin", NOTE, m_origin_petition,
     "origin: the case it opens is of origin AUTOMATIC_REVIEW, not "
     "PETITION (2)"},
    {"unknown origin", ID, m_origin_5, "not UNSPECIFIED (5)"},
    {"petition naming no ORI", PET, m_bad_prosecutor,
     "prosecutor_ori: not an ORI"},
};

static void
test_workflow__malformed_events__are_invalid_arguments(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    for (size_t i = 0; i < sizeof(bad_events) / sizeof(bad_events[0]); i++) {
        const struct bad_event *b = &bad_events[i];
        struct cjx_case_event ev = event(b->kind, T_PROBE);
        b->mutate(&ev);
        /* With and without a case: the event is wrong either way. */
        for (int with_case = 0; with_case < 2; with_case++) {
            struct cjx_errbuf eb = {{0}};
            struct cjx_case next, sentinel;
            memset(&next, 0x5a, sizeof(next));
            sentinel = next;
            int rc = cjx_workflow_apply(with_case ? &c : NULL, &ev, &p, T_PROBE,
                                        &next, &eb);
            if (rc != CJX_EINVAL || strstr(eb.msg, b->message) == NULL)
                fail_msg("%s: got %s \"%s\", want CJX_EINVAL \"%s\"", b->name,
                         cjx_err_name(rc), eb.msg, b->message);
            assert_memory_equal(&next, &sentinel, sizeof(next));
            assert_int_equal(cjx_workflow_retry_may_succeed(
                                 with_case ? &c : NULL, &ev, &p, T_PROBE),
                             0);
        }
    }
}

static void
test_workflow__unknown_event_kind__is_invalid(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case_event ev = event(CJX_CASE_EV_IDENTIFY, T_ID);
    ev.kind = CJX_CASE_EV_UNSPECIFIED;
    must_refuse(NULL, &ev, &p, T_ID, CJX_EINVAL, "unknown kind 0");
    ev.kind = (enum cjx_case_event_kind)99;
    must_refuse(NULL, &ev, &p, T_ID, CJX_EINVAL, "unknown kind 99");
}

static void
test_workflow__event_for_another_case__is_invalid(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_CHALLENGE, T_PROBE);
    ev.count_number = 2;
    must_refuse(&c, &ev, &p, T_PROBE, CJX_EINVAL,
                "applied to a different case");
    ev = event(CJX_CASE_EV_CHALLENGE, T_PROBE);
    c.state = (enum cjx_case_state)0;
    must_refuse(&c, &ev, &p, T_PROBE, CJX_EINVAL, "no valid state");
}

static void
test_workflow__missing_arguments__are_invalid(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case_event ev = event(CJX_CASE_EV_IDENTIFY, T_ID);
    struct cjx_case next;
    struct cjx_errbuf eb;
    assert_int_equal(cjx_workflow_apply(NULL, NULL, &p, T_ID, &next, &eb),
                     CJX_EINVAL);
    assert_int_equal(cjx_workflow_apply(NULL, &ev, &p, T_ID, NULL, &eb),
                     CJX_EINVAL);
    assert_int_equal(cjx_workflow_apply(NULL, &ev, NULL, T_ID, &next, &eb),
                     CJX_EINVAL);
    assert_string_equal(eb.msg, "policy: required");
    /* eb is optional. */
    assert_int_equal(cjx_workflow_apply(NULL, &ev, NULL, T_ID, &next, NULL),
                     CJX_EINVAL);
    assert_int_equal(cjx_workflow_retry_may_succeed(NULL, NULL, &p, T_ID), 0);
}

static void
test_workflow__other_prosecutor_of_the_county__is_refused(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_NO_CHALLENGE, T_PROBE);
    ev.sender_ori = "CA038423A"; /* a city attorney of the same county */
    must_refuse(&c, &ev, &p, T_PROBE, CJX_EPERM,
                "the case was sent to prosecutor " DA_ORI ", not CA038423A");

    /* A notice that named no prosecutor leaves it to any of the county. */
    struct cjx_case_event notice =
        event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE);
    notice.prosecutor_ori = NULL;
    must_apply(NULL, &notice, &p, T_NOTICE, &c);
    assert_string_equal(c.prosecutor_ori, "");
    must_apply(&c, &ev, &p, T_PROBE, &next);
    assert_int_equal(next.state, CJX_CASE_NOT_CHALLENGED);
}

/* ---- Policy ---- */

static void
test_workflow__prop64_policy__has_the_statutory_dates(void **state)
{
    (void)state;
    struct cjx_workflow_policy p;
    cjx_workflow_policy_init_prop64(&p);
    assert_int_equal(cjx_workflow_policy_check(&p, NULL), 0);
    /* End of the day in California: PDT (UTC-7) in July, PST in March. */
    assert_true(p.notice.not_after_us == utc(2019, 7, 2, 6, 59, 59) + 999999);
    assert_true(p.review.not_after_us == utc(2020, 7, 2, 6, 59, 59) + 999999);
    assert_true(p.order_unchallenged.not_after_us ==
                utc(2023, 3, 2, 7, 59, 59) + 999999);
    assert_true(p.history_update.not_after_us ==
                utc(2023, 7, 2, 6, 59, 59) + 999999);
    assert_true(p.order_challenged.window_us == 0 &&
                p.order_challenged.not_after_us == 0);
    assert_int_equal(p.above_ceiling, CJX_CEILING_REFUSE);
    assert_int_equal(p.review_lapse, CJX_LAPSE_NOT_CHALLENGED);
    assert_true(p.decision_grace_us == 7 * DAY);
    assert_true(p.max_clock_skew_us == 5 * MINUTE);

    /* 11 pm on 1 July 2020 in Los Angeles is in time. */
    struct cjx_case c, next;
    struct cjx_case_event notice =
        event(CJX_CASE_EV_CANDIDATE_NOTICE, T_NOTICE);
    must_apply(NULL, &notice, &p, T_NOTICE, &c);
    int64_t eleven_pm = utc(2020, 7, 2, 6, 0, 0);
    struct cjx_case_event ev = event(CJX_CASE_EV_CHALLENGE, eleven_pm);
    must_apply(&c, &ev, &p, eleven_pm, &next);
    ev.at_us = utc(2020, 7, 2, 7, 0, 0);
    must_refuse(&c, &ev, &p, ev.at_us, CJX_ESTATE,
                "review deadline 2020-07-02T06:59:59.999999Z passed");
}

static void
test_workflow__bad_policy__is_invalid(void **state)
{
    (void)state;
    struct cjx_errbuf eb;
    struct cjx_workflow_policy p = test_policy();
    p.review.window_us = -1;
    assert_int_equal(cjx_workflow_policy_check(&p, &eb), CJX_EINVAL);
    assert_string_equal(
        eb.msg, "policy.review.window_us: must not be negative, got -1");
    p = test_policy();
    p.history_update.not_after_us = -1;
    assert_int_equal(cjx_workflow_policy_check(&p, &eb), CJX_EINVAL);
    assert_non_null(strstr(eb.msg, "policy.history_update.not_after_us"));
    p = test_policy();
    p.above_ceiling = (enum cjx_ceiling_mode)2;
    assert_int_equal(cjx_workflow_policy_check(&p, &eb), CJX_EINVAL);
    assert_string_equal(eb.msg, "policy.above_ceiling: unknown mode 2");
    p = test_policy();
    p.review_lapse = (enum cjx_review_lapse) - 1;
    assert_int_equal(cjx_workflow_policy_check(&p, &eb), CJX_EINVAL);
    assert_string_equal(eb.msg, "policy.review_lapse: unknown mode -1");
    p = test_policy();
    p.decision_grace_us = -1;
    assert_int_equal(cjx_workflow_policy_check(&p, &eb), CJX_EINVAL);
    p = test_policy();
    p.max_clock_skew_us = -1;
    assert_int_equal(cjx_workflow_policy_check(&p, &eb), CJX_EINVAL);
    assert_int_equal(cjx_workflow_policy_check(NULL, &eb), CJX_EINVAL);

    /* apply refuses to work under a bad policy. */
    p = test_policy();
    p.order_challenged.window_us = -3;
    struct cjx_case_event ev = event(CJX_CASE_EV_IDENTIFY, T_ID);
    must_refuse(NULL, &ev, &p, T_ID, CJX_EINVAL,
                "policy.order_challenged.window_us");
}

/* ---- Overdue listing ---- */

static void
test_workflow__overdue__at_deadline_is_not_and_one_us_later_is(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    struct cjx_overdue o[CJX_WORKFLOW_MAX_OVERDUE_PER_CASE];

    build(CJX_CASE_IDENTIFIED, &p, &c);
    int64_t d = T_ID + NOTICE_WINDOW;
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, d, o), 0);
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, d + 1, o), 1);
    assert_int_equal(o[0].kind, CJX_OVERDUE_NOTICE);
    assert_int_equal(o[0].party, CJX_ROLE_DOJ);
    assert_true(o[0].deadline_us == d);

    build(CJX_CASE_NOTIFIED, &p, &c);
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, REVIEW_DEADLINE, o), 0);
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, REVIEW_DEADLINE + 1, o),
                     1);
    assert_int_equal(o[0].kind, CJX_OVERDUE_REVIEW);
    assert_int_equal(o[0].party, CJX_ROLE_PROSECUTOR);
    assert_true(o[0].deadline_us == REVIEW_DEADLINE);
    /* Lapsed, and the court's time has run out too. */
    d = LAPSE + ORDER_WINDOW;
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, d, o), 1);
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, d + 1, o), 2);
    assert_int_equal(o[1].kind, CJX_OVERDUE_ORDER);
    assert_int_equal(o[1].party, CJX_ROLE_COURT);
    assert_true(o[1].deadline_us == d);

    build(CJX_CASE_NOT_CHALLENGED, &p, &c);
    d = T_DECISION + ORDER_WINDOW;
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, d, o), 0);
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, d + 1, o), 1);
    assert_int_equal(o[0].kind, CJX_OVERDUE_ORDER);
    assert_int_equal(o[0].party, CJX_ROLE_COURT);

    build(CJX_CASE_ORDERED, &p, &c);
    d = T_ORDER + HISTORY_WINDOW;
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, d, o), 0);
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, d + 1, o), 1);
    assert_int_equal(o[0].kind, CJX_OVERDUE_HISTORY_UPDATE);
    assert_int_equal(o[0].party, CJX_ROLE_DOJ);
}

static void
test_workflow__overdue__lists_cases_by_party(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case cases[7];
    build(CJX_CASE_IDENTIFIED, &p, &cases[0]);
    build(CJX_CASE_NOTIFIED, &p, &cases[1]);
    build(CJX_CASE_NOT_CHALLENGED, &p, &cases[2]);
    build(CJX_CASE_CHALLENGED, &p, &cases[3]); /* no deadline by policy */
    build(CJX_CASE_ORDERED, &p, &cases[4]);
    build(CJX_CASE_HISTORY_UPDATED, &p, &cases[5]);
    build(CJX_CASE_NOT_CHALLENGED, &p, &cases[6]);
    /* The last was decided later, so the court is not late on it yet. */
    cases[6].times.decided_us = utc(2022, 12, 1, 0, 0, 0);

    int64_t now = utc(2022, 1, 1, 0, 0, 0);
    struct cjx_overdue o[10];
    size_t n = cjx_workflow_list_overdue(cases, 7, &p, now, o, 10);
    assert_int_equal(n, 5);
    static const struct {
        size_t index;
        enum cjx_overdue_kind kind;
        enum cjx_role party;
    } want[] = {
        {0, CJX_OVERDUE_NOTICE, CJX_ROLE_DOJ},
        {1, CJX_OVERDUE_REVIEW, CJX_ROLE_PROSECUTOR},
        {1, CJX_OVERDUE_ORDER, CJX_ROLE_COURT},
        {2, CJX_OVERDUE_ORDER, CJX_ROLE_COURT},
        {4, CJX_OVERDUE_HISTORY_UPDATE, CJX_ROLE_DOJ},
    };
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(o[i].index, want[i].index);
        assert_int_equal(o[i].kind, want[i].kind);
        assert_int_equal(o[i].party, want[i].party);
    }

    /* Cut short: the total still says how many there are. */
    struct cjx_overdue two[2];
    assert_int_equal(cjx_workflow_list_overdue(cases, 7, &p, now, two, 2), 5);
    assert_int_equal(two[1].index, 1);
    assert_int_equal(two[1].kind, CJX_OVERDUE_REVIEW);
    assert_int_equal(cjx_workflow_list_overdue(cases, 7, &p, now, NULL, 0), 5);
    assert_int_equal(cjx_workflow_list_overdue(NULL, 7, &p, now, NULL, 0), 0);

    /* Waiting for decisions: the silent case is the prosecutor's alone. */
    p.review_lapse = CJX_LAPSE_WAIT;
    n = cjx_workflow_list_overdue(cases, 7, &p, now, o, 10);
    assert_int_equal(n, 4);
    assert_int_equal(o[1].kind, CJX_OVERDUE_REVIEW);
    assert_int_equal(o[2].index, 2);
}

/* ---- The public defender's notice to the person (M4) ---- */

static void
test_workflow__person_notified__keeps_the_state_and_adds_a_version(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, once, twice;
    build(CJX_CASE_CHALLENGED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_PERSON_NOTIFIED, T_PROBE);
    must_apply(&c, &ev, &p, T_PROBE + MINUTE, &once);
    /* Only the version and the time of the change move. */
    struct cjx_case want = c;
    want.version = c.version + 1;
    want.updated_us = T_PROBE + MINUTE;
    assert_memory_equal(&once, &want, sizeof(want));
    /* The case keeps no contacts: the same report again is a new version
     * (the service, which keeps them, tells repeats). */
    must_apply(&once, &ev, &p, T_PROBE + HOUR, &twice);
    assert_int_equal(twice.version, c.version + 2);
    assert_int_equal(twice.state, CJX_CASE_CHALLENGED);
}

static void
test_workflow__person_notified_before_the_challenge__waits(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_PERSON_NOTIFIED, T_PROBE);
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE,
                "the case is NOTIFIED and no challenge has been applied yet; "
                "the sender should retry later");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ev, &p, T_PROBE), 1);
    must_refuse(NULL, &ev, &p, T_PROBE, CJX_ESTATE, "retry later");
    assert_int_equal(cjx_workflow_retry_may_succeed(NULL, &ev, &p, T_PROBE), 1);

    /* The challenge arrives; the retry succeeds. */
    struct cjx_case_event chal = event(CJX_CASE_EV_CHALLENGE, T_DECISION);
    must_apply(&c, &chal, &p, T_PROBE, &c);
    must_apply(&c, &ev, &p, T_PROBE, &c);
    assert_int_equal(c.state, CJX_CASE_CHALLENGED);

    /* Waiting for decisions by policy, a silent case may still be
     * challenged after the deadline. */
    p.review_lapse = CJX_LAPSE_WAIT;
    build(CJX_CASE_NOTIFIED, &p, &c);
    ev.at_us = LAPSE + DAY;
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ev, &p, LAPSE + DAY),
                     1);
}

static void
test_workflow__person_notified_without_a_challenge__is_refused_for_good(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_NOT_CHALLENGED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_PERSON_NOTIFIED, T_PROBE);
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE,
                "the prosecutor did not challenge (decision: no challenge, "
                "accepting DISMISS_AND_SEAL, at 2019-09-02T09:00:00.000000Z); "
                "the public defender notifies the person only of a "
                "challenge");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ev, &p, T_PROBE), 0);

    /* A silent case past its lapse can no longer be challenged. */
    build(CJX_CASE_NOTIFIED, &p, &c);
    ev.at_us = LAPSE + 1;
    must_refuse(&c, &ev, &p, LAPSE + 1, CJX_ESTATE,
                "counts as not challenged since");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ev, &p, LAPSE + 1), 0);
}

static void
test_workflow__person_notified_dated_before_the_challenge__is_refused(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build(CJX_CASE_CHALLENGED, &p, &c);
    struct cjx_case_event ev =
        event(CJX_CASE_EV_PERSON_NOTIFIED, T_DECISION - SKEW - 1);
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE,
                "before the challenge it follows");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ev, &p, T_PROBE), 0);
    ev.at_us = T_DECISION - SKEW;
    must_apply(&c, &ev, &p, T_PROBE, &next);
}

static void
test_workflow__person_notified_by_others__names_the_rule(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build(CJX_CASE_CHALLENGED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_PERSON_NOTIFIED, T_PROBE);
    set_sender(&ev, CJX_ROLE_PROSECUTOR, 1);
    must_refuse(&c, &ev, &p, T_PROBE, CJX_EPERM,
                "a PROSECUTOR may not send it: only a public defender of the "
                "case's county notifies the person of a challenge");
    set_sender(&ev, CJX_ROLE_DEFENDER, 0);
    must_refuse(&c, &ev, &p, T_PROBE, CJX_EPERM,
                "DEFENDER " OTHER_PD_ORI " of Alameda may not act on a case "
                "of San Francisco");
}

/* ---- Petitions (HS 11361.8) ---- */

static void
test_workflow__petition__opens_a_notified_case_without_deadlines(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case_event ev = event(CJX_CASE_EV_PETITION, T_NOTICE);
    ev.determination = (struct cjx_relief_determination){
        .relief = CJX_RELIEF_REDUCE_TO_MISDEMEANOR,
        .procedure = CJX_PROCEDURE_APPLICATION_REDESIGNATION};
    struct cjx_case c;
    must_apply(NULL, &ev, &p, T_NOTICE + MINUTE, &c);
    assert_int_equal(c.state, CJX_CASE_NOTIFIED);
    assert_int_equal(c.origin, CJX_CASE_ORIGIN_PETITION);
    assert_int_equal(c.version, 1);
    assert_true(c.times.notified_us == T_NOTICE);
    assert_true(c.times.identified_us == 0);
    assert_string_equal(c.prosecutor_ori, DA_ORI);
    assert_int_equal(c.determination.floor, CJX_RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_int_equal(c.determination.ceiling, CJX_RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_int_equal(c.determination.procedure,
                     CJX_PROCEDURE_APPLICATION_REDESIGNATION);
    assert_true(c.deadlines.notice_us == CJX_WORKFLOW_NO_DEADLINE);
    assert_true(c.deadlines.review_us == CJX_WORKFLOW_NO_DEADLINE);
    assert_true(c.deadlines.order_us == CJX_WORKFLOW_NO_DEADLINE);
    assert_true(c.deadlines.history_update_us == CJX_WORKFLOW_NO_DEADLINE);
    assert_int_equal(c.flags, 0);
    /* It never lapses, and nobody is late on it before the order. */
    int64_t later = utc(2030, 1, 1, 0, 0, 0);
    assert_true(cjx_workflow_lapse_us(&c, &p) == CJX_WORKFLOW_NO_DEADLINE);
    assert_int_equal(cjx_workflow_effective_state(&c, &p, later),
                     CJX_CASE_NOTIFIED);
    struct cjx_overdue o[CJX_WORKFLOW_MAX_OVERDUE_PER_CASE];
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, later, o), 0);
}

static void
test_workflow__petition_case__court_orders_without_an_answer(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    build_history(H_PETITION, &p, &c);
    /* Long after the automatic path's order deadline (1 March 2023). */
    int64_t t = utc(2024, 4, 2, 10, 0, 0);
    struct cjx_case_event ord = event(CJX_CASE_EV_RELIEF_ORDER, t);
    ord.order = CJX_ORDER_REDUCE_TO_INFRACTION;
    must_apply(&c, &ord, &p, t + MINUTE, &c);
    assert_int_equal(c.state, CJX_CASE_ORDERED);
    assert_int_equal(c.decision.kind, CJX_DECISION_NONE);
    assert_true(c.times.decided_us == 0);
    assert_true(c.times.ordered_us == t);
    assert_int_equal(c.order, CJX_ORDER_REDUCE_TO_INFRACTION);
    assert_int_equal(c.flags, 0);
    assert_true(c.deadlines.order_us == CJX_WORKFLOW_NO_DEADLINE);
    /* DOJ's update of its record is the one deadline of a petition. */
    assert_true(c.deadlines.history_update_us == t + HISTORY_WINDOW);
    struct cjx_overdue o[CJX_WORKFLOW_MAX_OVERDUE_PER_CASE];
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, t + HISTORY_WINDOW, o),
                     0);
    assert_int_equal(
        cjx_workflow_case_overdue(&c, &p, t + HISTORY_WINDOW + 1, o), 1);
    assert_int_equal(o[0].kind, CJX_OVERDUE_HISTORY_UPDATE);
    assert_int_equal(o[0].party, CJX_ROLE_DOJ);

    /* The prosecutor's turn has passed. */
    struct cjx_case_event chal = event(CJX_CASE_EV_CHALLENGE, t + DAY);
    must_refuse(&c, &chal, &p, t + DAY, CJX_ESTATE,
                "none: the court ordered the case at "
                "2024-04-02T10:00:00.000000Z without one");
}

static void
test_workflow__petition_case__prosecutor_answers_without_a_deadline(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build_history(H_PETITION, &p, &c);
    /* Years after the automatic review deadline and its grace. */
    int64_t t = LAPSE + 365 * DAY;
    struct cjx_case_event ev = event(CJX_CASE_EV_NO_CHALLENGE, t);
    must_apply(&c, &ev, &p, t, &next);
    assert_int_equal(next.state, CJX_CASE_NOT_CHALLENGED);
    assert_int_equal(next.flags, 0);
    assert_true(next.deadlines.order_us == CJX_WORKFLOW_NO_DEADLINE);
    ev = event(CJX_CASE_EV_CHALLENGE, t);
    must_apply(&c, &ev, &p, t, &next);
    assert_int_equal(next.state, CJX_CASE_CHALLENGED);
    /* Nor is the prosecutor overdue on it. */
    struct cjx_overdue o[CJX_WORKFLOW_MAX_OVERDUE_PER_CASE];
    assert_int_equal(cjx_workflow_case_overdue(&c, &p, t, o), 0);
}

static void
test_workflow__petition_case__order_dated_before_the_petition__is_refused(
    void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build_history(H_PETITION, &p, &c);
    struct cjx_case_event ev =
        event(CJX_CASE_EV_RELIEF_ORDER, T_NOTICE - SKEW - 1);
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE,
                "before the petition it follows");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ev, &p, T_PROBE), 0);
    ev.at_us = T_NOTICE - SKEW;
    must_apply(&c, &ev, &p, T_PROBE, &next);
}

static void
test_workflow__identical_petition_resent__changes_nothing(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    build_history(H_PETITION_CHALLENGED, &p, &c);
    struct cjx_case_event ev = event(CJX_CASE_EV_PETITION, T_PROBE);
    must_apply(&c, &ev, &p, T_PROBE, &next);
    assert_memory_equal(&next, &c, sizeof(c));

    ev.prosecutor_ori = "";
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE,
                "was opened by a petition filed at "
                "2019-05-20T09:00:00.000000Z with county San Francisco");
    must_refuse(&c, &ev, &p, T_PROBE, CJX_ESTATE,
                "a different petition cannot replace it");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ev, &p, T_PROBE), 0);
}

static void
test_workflow__petition_and_notice__never_reopen_each_others_case(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c;
    /* The same content as the case's notice: only the origin differs. */
    build(CJX_CASE_NOTIFIED, &p, &c);
    struct cjx_case_event pet = event(CJX_CASE_EV_PETITION, T_PROBE);
    must_refuse(&c, &pet, &p, T_PROBE, CJX_ESTATE,
                "was notified at 2019-05-20T09:00:00.000000Z");
    must_refuse(&c, &pet, &p, T_PROBE, CJX_ESTATE,
                "a petition cannot reopen it");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &pet, &p, T_PROBE), 0);

    build_history(H_PETITION, &p, &c);
    struct cjx_case_event note = event(CJX_CASE_EV_CANDIDATE_NOTICE, T_PROBE);
    must_refuse(&c, &note, &p, T_PROBE, CJX_ESTATE,
                "a candidate notice cannot reopen it");
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &note, &p, T_PROBE), 0);
}

static void
test_workflow__petition_determination__bounds_relief(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case c, next;
    struct cjx_case_event pet = event(CJX_CASE_EV_PETITION, T_NOTICE);
    pet.determination = (struct cjx_relief_determination){
        .relief = CJX_RELIEF_REDUCE_TO_MISDEMEANOR};
    must_apply(NULL, &pet, &p, T_NOTICE, &c);

    struct cjx_case_event ord = event(CJX_CASE_EV_RELIEF_ORDER, T_ORDER);
    must_refuse(&c, &ord, &p, T_ORDER, CJX_ESTATE,
                "DISMISS_AND_SEAL is more relief than the court's ceiling "
                "REDUCE_TO_MISDEMEANOR");
    /* Refused for what it says: waiting changes nothing. */
    assert_int_equal(cjx_workflow_retry_may_succeed(&c, &ord, &p, T_ORDER), 0);
    p.above_ceiling = CJX_CEILING_FLAG;
    must_apply(&c, &ord, &p, T_ORDER, &next);
    assert_int_equal(next.flags, CJX_CASE_FLAG_ABOVE_CEILING);
    p = test_policy();

    struct cjx_case_event noch = event(CJX_CASE_EV_NO_CHALLENGE, T_DECISION);
    noch.relief = CJX_RELIEF_REDUCE_TO_INFRACTION;
    must_refuse(&c, &noch, &p, T_DECISION, CJX_ESTATE,
                "more relief than the court's ceiling");

    /* A person may petition whatever the rules say; the court may then
     * only deny. */
    pet.determination =
        (struct cjx_relief_determination){.relief = CJX_RELIEF_NOT_ELIGIBLE};
    must_apply(NULL, &pet, &p, T_NOTICE, &c);
    assert_int_equal(c.determination.ceiling, CJX_RELIEF_NOT_ELIGIBLE);
    ord.order = CJX_ORDER_REDUCE_TO_MISDEMEANOR;
    must_refuse(&c, &ord, &p, T_ORDER, CJX_ESTATE,
                "more relief than the court's ceiling NOT_ELIGIBLE");
    ord.order = CJX_ORDER_DENIED;
    must_apply(&c, &ord, &p, T_ORDER, &next);
    assert_int_equal(next.order, CJX_ORDER_DENIED);
}

static void
test_workflow__petition_from_another_county__names_both_counties(void **state)
{
    (void)state;
    struct cjx_workflow_policy p = test_policy();
    struct cjx_case_event ev = event(CJX_CASE_EV_PETITION, T_NOTICE);
    set_sender(&ev, CJX_ROLE_COURT, 0);
    must_refuse(
        NULL, &ev, &p, T_NOTICE, CJX_EPERM,
        "petition for case A1234567 SCN-2001-123 #1: COURT " OTHER_COURT_ORI
        " of Alameda may not act on a case of San Francisco");
    set_sender(&ev, CJX_ROLE_DOJ, 1);
    must_refuse(NULL, &ev, &p, T_NOTICE, CJX_EPERM,
                "a DOJ may not send it: only the court of the case's county "
                "files a petition");
}

/* ---- Routing ---- */

static const char registry_yaml[] =
    "agencies:\n"
    "  - ori: CA0000001\n    role: DOJ\n    name: Department of Justice\n"
    "  - ori: CA038013A\n    role: PROSECUTOR\n    county: San Francisco\n"
    "    name: San Francisco District Attorney\n"
    "  - ori: CA038033J\n    role: COURT\n    county: San Francisco\n"
    "    name: Superior Court of San Francisco\n"
    "  - ori: CA038023P\n    role: DEFENDER\n    county: San Francisco\n"
    "    name: San Francisco Public Defender\n"
    "  - ori: CA019013A\n    role: PROSECUTOR\n    county: Los Angeles\n"
    "    name: Los Angeles County District Attorney\n"
    "  - ori: CA019423A\n    role: PROSECUTOR\n    county: Los Angeles\n"
    "    name: Los Angeles City Attorney\n"
    "  - ori: CA019033J\n    role: COURT\n    county: Los Angeles\n"
    "    name: Superior Court of Los Angeles\n"
    "  - ori: CA019023P\n    role: DEFENDER\n    county: Los Angeles\n"
    "    name: Los Angeles Public Defender\n"
    "  - ori: CA019024P\n    role: DEFENDER\n    county: Los Angeles\n"
    "    name: Los Angeles Alternate Public Defender\n"
    "  - ori: CA001013A\n    role: PROSECUTOR\n    county: Alameda\n"
    "    name: Alameda County District Attorney\n"
    "  - ori: CA001033J\n    role: COURT\n    county: Alameda\n"
    "    name: Superior Court of Alameda\n"
    "  - ori: CA010013A\n    role: PROSECUTOR\n    county: Fresno\n"
    "    name: Fresno County District Attorney\n";

static int
registry_setup(void **state)
{
    static struct cjx_registry reg;
    struct cjx_errbuf eb = {{0}};
    if (cjx_registry_parse(registry_yaml, sizeof(registry_yaml) - 1, "registry",
                           &reg, &eb) != 0) {
        print_error("registry: %s\n", eb.msg);
        return -1;
    }
    *state = &reg;
    return 0;
}

static int
registry_teardown(void **state)
{
    cjx_registry_fini(*state);
    return 0;
}

static struct cjx_case
case_in(const char *county, const char *prosecutor_ori)
{
    struct cjx_case c;
    memset(&c, 0, sizeof(c));
    strcpy(c.county, county);
    strcpy(c.prosecutor_ori, prosecutor_ori);
    c.state = CJX_CASE_NOTIFIED;
    return c;
}

/* "+ORI" for an addressee, "~ORI" for a copy, in order, space-separated. */
static void
expect_route(const struct cjx_registry *reg, enum cjx_case_event_kind kind,
             const struct cjx_case *c, const char *want)
{
    struct cjx_recipient out[CJX_WORKFLOW_MAX_RECIPIENTS];
    size_t n = 99;
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_workflow_route(kind, c, reg, out, CJX_WORKFLOW_MAX_RECIPIENTS,
                                &n, &eb);
    if (rc != 0)
        fail_msg("route %s: %s", cjx_case_event_kind_name(kind), eb.msg);
    char got[256] = "";
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(got);
        snprintf(got + len, sizeof(got) - len, "%s%c%s", i > 0 ? " " : "",
                 out[i].to ? '+' : '~', out[i].agency->ori);
    }
    if (strcmp(got, want) != 0)
        fail_msg("route %s: got \"%s\", want \"%s\"",
                 cjx_case_event_kind_name(kind), got, want);
}

static void
expect_route_error(const struct cjx_registry *reg,
                   enum cjx_case_event_kind kind, const struct cjx_case *c,
                   size_t cap, int code, const char *message)
{
    struct cjx_recipient out[CJX_WORKFLOW_MAX_RECIPIENTS],
        before[CJX_WORKFLOW_MAX_RECIPIENTS];
    memset(out, 0x33, sizeof(out));
    memcpy(before, out, sizeof(out));
    size_t n = 99;
    struct cjx_errbuf eb = {{0}};
    int rc = cjx_workflow_route(kind, c, reg, out, cap, &n, &eb);
    if (rc != code || strstr(eb.msg, message) == NULL)
        fail_msg("route %s: got %s \"%s\", want %s \"%s\"",
                 cjx_case_event_kind_name(kind), cjx_err_name(rc), eb.msg,
                 cjx_err_name(code), message);
    assert_int_equal(n, 99);
    assert_memory_equal(out, before, sizeof(out));
}

static void
test_workflow__route__each_message_reaches_its_parties(void **state)
{
    const struct cjx_registry *reg = *state;
    struct cjx_case sf = case_in("San Francisco", "CA038013A");
    expect_route(reg, CJX_CASE_EV_IDENTIFY, &sf, "");
    expect_route(reg, CJX_CASE_EV_CANDIDATE_NOTICE, &sf,
                 "+CA038013A ~CA038033J ~CA038023P");
    expect_route(reg, CJX_CASE_EV_NO_CHALLENGE, &sf,
                 "+CA038033J ~CA0000001 ~CA038023P");
    expect_route(reg, CJX_CASE_EV_CHALLENGE, &sf,
                 "+CA038033J +CA038023P ~CA0000001");
    expect_route(reg, CJX_CASE_EV_RELIEF_ORDER, &sf,
                 "+CA0000001 +CA038013A ~CA038023P");
    expect_route(reg, CJX_CASE_EV_HISTORY_UPDATED, &sf,
                 "+CA038033J ~CA038013A ~CA038023P");
    expect_route(reg, CJX_CASE_EV_PERSON_NOTIFIED, &sf,
                 "+CA038033J +CA038013A +CA0000001 ~CA038023P");
    expect_route(reg, CJX_CASE_EV_PETITION, &sf,
                 "+CA038013A +CA0000001 ~CA038023P");
}

static void
test_workflow__route__city_attorney_case_goes_to_the_city_attorney(void **state)
{
    const struct cjx_registry *reg = *state;
    struct cjx_case la = case_in("Los Angeles", "CA019423A");
    expect_route(reg, CJX_CASE_EV_CANDIDATE_NOTICE, &la,
                 "+CA019423A ~CA019033J ~CA019023P ~CA019024P");
    expect_route(reg, CJX_CASE_EV_RELIEF_ORDER, &la,
                 "+CA0000001 +CA019423A ~CA019023P ~CA019024P");
    expect_route(reg, CJX_CASE_EV_CHALLENGE, &la,
                 "+CA019033J +CA019023P +CA019024P ~CA0000001");
    expect_route(reg, CJX_CASE_EV_PERSON_NOTIFIED, &la,
                 "+CA019033J +CA019423A +CA0000001 ~CA019023P ~CA019024P");
    expect_route(reg, CJX_CASE_EV_PETITION, &la,
                 "+CA019423A +CA0000001 ~CA019023P ~CA019024P");

    const struct cjx_agency *a = NULL;
    assert_int_equal(
        cjx_workflow_prosecutor_for(reg, "Los Angeles", "CA019013A", &a, NULL),
        0);
    assert_string_equal(a->ori, "CA019013A");
}

static void
test_workflow__route__unnamed_prosecutor_in_county_with_two__is_ambiguous(
    void **state)
{
    const struct cjx_registry *reg = *state;
    struct cjx_case la = case_in("Los Angeles", "");
    expect_route_error(reg, CJX_CASE_EV_CANDIDATE_NOTICE, &la,
                       CJX_WORKFLOW_MAX_RECIPIENTS, CJX_EINVAL,
                       "2 agencies with role PROSECUTOR registered for Los "
                       "Angeles (CA019013A, CA019423A)");
    /* Naming a court does not pick a prosecutor. */
    la = case_in("Los Angeles", "CA019033J");
    expect_route_error(reg, CJX_CASE_EV_RELIEF_ORDER, &la,
                       CJX_WORKFLOW_MAX_RECIPIENTS, CJX_EINVAL,
                       "cannot choose one");
}

static void
test_workflow__route__foreign_or_unknown_prosecutor__falls_back_to_county(
    void **state)
{
    const struct cjx_registry *reg = *state;
    const struct cjx_agency *a = NULL;
    /* Alameda's DA named on a San Francisco case, and an unregistered ORI. */
    assert_int_equal(cjx_workflow_prosecutor_for(reg, "San Francisco",
                                                 "CA001013A", &a, NULL),
                     0);
    assert_string_equal(a->ori, "CA038013A");
    a = NULL;
    assert_int_equal(cjx_workflow_prosecutor_for(reg, "San Francisco",
                                                 "CA0999999", &a, NULL),
                     0);
    assert_string_equal(a->ori, "CA038013A");
    struct cjx_errbuf eb;
    assert_int_equal(cjx_workflow_prosecutor_for(reg, "Inyo", NULL, &a, &eb),
                     CJX_ENOTFOUND);
    assert_string_equal(eb.msg, "route: no PROSECUTOR registered for Inyo");
    assert_int_equal(cjx_workflow_prosecutor_for(NULL, "Inyo", NULL, &a, &eb),
                     CJX_EINVAL);
    assert_int_equal(cjx_workflow_prosecutor_for(reg, "", NULL, &a, &eb),
                     CJX_EINVAL);
}

static void
test_workflow__route__missing_agencies__are_named(void **state)
{
    const struct cjx_registry *reg = *state;
    struct cjx_case fresno = case_in("Fresno", "CA010013A");
    expect_route_error(reg, CJX_CASE_EV_CANDIDATE_NOTICE, &fresno,
                       CJX_WORKFLOW_MAX_RECIPIENTS, CJX_ENOTFOUND,
                       "route: no COURT registered for Fresno");
    /* Alameda has no defender: copies skip it, a challenge cannot. */
    struct cjx_case alameda = case_in("Alameda", "CA001013A");
    expect_route(reg, CJX_CASE_EV_NO_CHALLENGE, &alameda,
                 "+CA001033J ~CA0000001");
    expect_route(reg, CJX_CASE_EV_PERSON_NOTIFIED, &alameda,
                 "+CA001033J +CA001013A +CA0000001");
    expect_route(reg, CJX_CASE_EV_PETITION, &alameda, "+CA001013A +CA0000001");
    /* A petition in a county with no court registered here still reaches
     * its prosecutor; a report on the person needs the court. */
    struct cjx_case fresno_petition = case_in("Fresno", "CA010013A");
    expect_route(reg, CJX_CASE_EV_PETITION, &fresno_petition,
                 "+CA010013A +CA0000001");
    expect_route_error(reg, CJX_CASE_EV_PERSON_NOTIFIED, &fresno_petition,
                       CJX_WORKFLOW_MAX_RECIPIENTS, CJX_ENOTFOUND,
                       "route: no COURT registered for Fresno");
    expect_route_error(reg, CJX_CASE_EV_CHALLENGE, &alameda,
                       CJX_WORKFLOW_MAX_RECIPIENTS, CJX_ENOTFOUND,
                       "no DEFENDER registered for Alameda");
    struct cjx_case none = case_in("", "");
    expect_route_error(reg, CJX_CASE_EV_CHALLENGE, &none,
                       CJX_WORKFLOW_MAX_RECIPIENTS, CJX_EINVAL,
                       "the case has no county");
}

static void
test_workflow__route__small_buffer_and_bad_kind__are_refused(void **state)
{
    const struct cjx_registry *reg = *state;
    struct cjx_case sf = case_in("San Francisco", "CA038013A");
    expect_route_error(reg, CJX_CASE_EV_CHALLENGE, &sf, 2, CJX_ELIMIT,
                       "more than 2 recipients");
    expect_route_error(reg, (enum cjx_case_event_kind)42, &sf,
                       CJX_WORKFLOW_MAX_RECIPIENTS, CJX_EINVAL,
                       "unknown event kind 42");
    expect_route_error(reg, CJX_CASE_EV_UNSPECIFIED, &sf,
                       CJX_WORKFLOW_MAX_RECIPIENTS, CJX_EINVAL,
                       "unknown event kind 0");
}

static void
test_workflow__route__two_doj_agencies__are_ambiguous(void **state)
{
    (void)state;
    static const char yaml[] =
        "agencies:\n"
        "  - ori: CA0000001\n    role: DOJ\n    name: DOJ\n"
        "  - ori: CA0000002\n    role: DOJ\n    name: DOJ again\n"
        "  - ori: CA038013A\n    role: PROSECUTOR\n    county: San "
        "Francisco\n    name: DA\n";
    struct cjx_registry reg;
    assert_int_equal(
        cjx_registry_parse(yaml, sizeof(yaml) - 1, "r", &reg, NULL), 0);
    struct cjx_case sf = case_in("San Francisco", "CA038013A");
    expect_route_error(&reg, CJX_CASE_EV_RELIEF_ORDER, &sf,
                       CJX_WORKFLOW_MAX_RECIPIENTS, CJX_EINVAL,
                       "2 agencies with role DOJ registered for the state");
    cjx_registry_fini(&reg);
}

/* ---- Names ---- */

static void
test_workflow__every_value__has_a_name(void **state)
{
    (void)state;
    for (int s = CJX_CASE_IDENTIFIED; s <= CJX_CASE_HISTORY_UPDATED; s++)
        assert_string_not_equal(cjx_case_state_name(s), "UNSPECIFIED");
    for (int k = CJX_CASE_EV_IDENTIFY; k <= CJX_CASE_EV_PETITION; k++)
        assert_string_not_equal(cjx_case_event_kind_name(k), "UNSPECIFIED");
    for (int o = CJX_CASE_ORIGIN_AUTOMATIC_REVIEW;
         o <= CJX_CASE_ORIGIN_PETITION; o++)
        assert_string_not_equal(cjx_case_origin_name(o), "UNSPECIFIED");
    for (int m = CJX_CONTACT_MAIL; m <= CJX_CONTACT_OTHER; m++)
        assert_string_not_equal(cjx_contact_method_name(m), "UNSPECIFIED");
    for (int o = CJX_CONTACT_REACHED; o <= CJX_CONTACT_NO_CONTACT_INFO; o++)
        assert_string_not_equal(cjx_contact_outcome_name(o), "UNSPECIFIED");
    assert_string_equal(cjx_case_event_kind_name(CJX_CASE_EV_PERSON_NOTIFIED),
                        "PERSON_NOTIFIED");
    assert_string_equal(cjx_case_event_kind_name(CJX_CASE_EV_PETITION),
                        "PETITION");
    assert_string_equal(cjx_case_event_kind_name((enum cjx_case_event_kind)9),
                        "UNSPECIFIED");
    assert_string_equal(cjx_case_origin_name(CJX_CASE_ORIGIN_UNSPECIFIED),
                        "UNSPECIFIED");
    assert_string_equal(cjx_contact_method_name(CJX_CONTACT_IN_PERSON),
                        "IN_PERSON");
    assert_string_equal(cjx_contact_outcome_name(CJX_CONTACT_NO_CONTACT_INFO),
                        "NO_CONTACT_INFO");
    assert_string_equal(cjx_contact_method_name((enum cjx_contact_method)6),
                        "UNSPECIFIED");
    assert_string_equal(cjx_contact_outcome_name((enum cjx_contact_outcome)5),
                        "UNSPECIFIED");
    for (int r = CJX_RELIEF_NOT_ELIGIBLE; r <= CJX_RELIEF_NO_ACTION; r++)
        assert_string_not_equal(cjx_relief_name(r), "UNSPECIFIED");
    for (int o = CJX_ORDER_DENIED; o <= CJX_ORDER_DISMISS_AND_SEAL; o++)
        assert_string_not_equal(cjx_order_name(o), "UNSPECIFIED");
    for (int k = CJX_OVERDUE_NOTICE; k <= CJX_OVERDUE_HISTORY_UPDATE; k++)
        assert_string_not_equal(cjx_overdue_kind_name(k), "UNSPECIFIED");
    for (unsigned f = 1; f <= CJX_CASE_FLAG_UPDATED_LATE; f <<= 1)
        assert_string_not_equal(cjx_case_flag_name(f), "UNSPECIFIED");
    assert_string_equal(cjx_case_state_name(CJX_CASE_NOT_CHALLENGED),
                        "NOT_CHALLENGED");
    assert_string_equal(cjx_order_name(CJX_ORDER_DISMISS_AND_SEAL),
                        "DISMISS_AND_SEAL");
    assert_string_equal(
        cjx_procedure_name(CJX_PROCEDURE_APPLICATION_REDESIGNATION),
        "APPLICATION_REDESIGNATION");
    assert_string_equal(cjx_challenge_ground_name(CJX_GROUND_UNREASONABLE_RISK),
                        "UNREASONABLE_RISK");
    assert_string_equal(cjx_decision_kind_name(CJX_DECISION_LAPSED), "LAPSED");
    assert_string_equal(cjx_case_state_name((enum cjx_case_state)7),
                        "UNSPECIFIED");
    assert_string_equal(cjx_case_state_name((enum cjx_case_state) - 1),
                        "UNSPECIFIED");
    assert_string_equal(cjx_relief_name((enum cjx_relief)0), "UNSPECIFIED");
    assert_string_equal(cjx_order_name((enum cjx_order)5), "UNSPECIFIED");
    assert_string_equal(cjx_case_flag_name(3), "UNSPECIFIED");
    assert_string_equal(cjx_decision_kind_name((enum cjx_decision_kind)4),
                        "UNSPECIFIED");
}

/* The header promises the numbers of the wire enums, so that the service
 * layer converts by a cast. */
static void
test_workflow__enum_values__equal_the_proto_values(void **state)
{
    (void)state;
#define SAME(c, pb) assert_int_equal((int)(c), (int)(pb))
    SAME(CJX_CASE_IDENTIFIED, CJX__V1__CASE_STATE__CASE_STATE_IDENTIFIED);
    SAME(CJX_CASE_NOTIFIED, CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED);
    SAME(CJX_CASE_NOT_CHALLENGED,
         CJX__V1__CASE_STATE__CASE_STATE_NOT_CHALLENGED);
    SAME(CJX_CASE_CHALLENGED, CJX__V1__CASE_STATE__CASE_STATE_CHALLENGED);
    SAME(CJX_CASE_ORDERED, CJX__V1__CASE_STATE__CASE_STATE_ORDERED);
    SAME(CJX_CASE_HISTORY_UPDATED,
         CJX__V1__CASE_STATE__CASE_STATE_HISTORY_UPDATED);
    SAME(CJX_CASE_EV_IDENTIFY,
         CJX__V1__CASE_EVENT_KIND__CASE_EVENT_KIND_IDENTIFY);
    SAME(CJX_CASE_EV_CANDIDATE_NOTICE,
         CJX__V1__CASE_EVENT_KIND__CASE_EVENT_KIND_CANDIDATE_NOTICE);
    SAME(CJX_CASE_EV_NO_CHALLENGE,
         CJX__V1__CASE_EVENT_KIND__CASE_EVENT_KIND_NO_CHALLENGE);
    SAME(CJX_CASE_EV_CHALLENGE,
         CJX__V1__CASE_EVENT_KIND__CASE_EVENT_KIND_CHALLENGE);
    SAME(CJX_CASE_EV_RELIEF_ORDER,
         CJX__V1__CASE_EVENT_KIND__CASE_EVENT_KIND_RELIEF_ORDER);
    SAME(CJX_CASE_EV_HISTORY_UPDATED,
         CJX__V1__CASE_EVENT_KIND__CASE_EVENT_KIND_HISTORY_UPDATED);
    SAME(CJX_RELIEF_NOT_ELIGIBLE, CJX__V1__RELIEF__RELIEF_NOT_ELIGIBLE);
    SAME(CJX_RELIEF_REDUCE_TO_MISDEMEANOR,
         CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    SAME(CJX_RELIEF_REDUCE_TO_INFRACTION,
         CJX__V1__RELIEF__RELIEF_REDUCE_TO_INFRACTION);
    SAME(CJX_RELIEF_DISMISS_AND_SEAL, CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    SAME(CJX_RELIEF_HUMAN_REVIEW, CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW);
    SAME(CJX_RELIEF_NO_ACTION, CJX__V1__RELIEF__RELIEF_NO_ACTION);
    SAME(CJX_PROCEDURE_APPLICATION_REDESIGNATION,
         CJX__V1__PROCEDURE__PROCEDURE_APPLICATION_REDESIGNATION);
    SAME(CJX_PROCEDURE_PETITION_RECALL_RESENTENCE,
         CJX__V1__PROCEDURE__PROCEDURE_PETITION_RECALL_RESENTENCE);
    SAME(CJX_PROCEDURE_UNKNOWN_SENTENCE_STATUS,
         CJX__V1__PROCEDURE__PROCEDURE_UNKNOWN_SENTENCE_STATUS);
    SAME(CJX_GROUND_CRITERIA_NOT_MET,
         CJX__V1__CHALLENGE_GROUND__CHALLENGE_GROUND_CRITERIA_NOT_MET);
    SAME(CJX_GROUND_UNREASONABLE_RISK,
         CJX__V1__CHALLENGE_GROUND__CHALLENGE_GROUND_UNREASONABLE_RISK);
    SAME(CJX_ORDER_DENIED, CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DENIED);
    SAME(CJX_ORDER_REDUCE_TO_MISDEMEANOR,
         CJX__V1__ORDER_RELIEF__ORDER_RELIEF_REDUCE_TO_MISDEMEANOR);
    SAME(CJX_ORDER_REDUCE_TO_INFRACTION,
         CJX__V1__ORDER_RELIEF__ORDER_RELIEF_REDUCE_TO_INFRACTION);
    SAME(CJX_ORDER_DISMISS_AND_SEAL,
         CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    SAME(CJX_DECISION_NO_CHALLENGE,
         CJX__V1__DECISION_KIND__DECISION_KIND_NO_CHALLENGE);
    SAME(CJX_DECISION_CHALLENGE,
         CJX__V1__DECISION_KIND__DECISION_KIND_CHALLENGE);
    SAME(CJX_DECISION_LAPSED, CJX__V1__DECISION_KIND__DECISION_KIND_LAPSED);
    SAME(CJX_CASE_EV_PERSON_NOTIFIED,
         CJX__V1__CASE_EVENT_KIND__CASE_EVENT_KIND_PERSON_NOTIFIED);
    SAME(CJX_CASE_EV_PETITION,
         CJX__V1__CASE_EVENT_KIND__CASE_EVENT_KIND_PETITION);
    SAME(CJX_CASE_ORIGIN_UNSPECIFIED,
         CJX__V1__CASE_ORIGIN__CASE_ORIGIN_UNSPECIFIED);
    SAME(CJX_CASE_ORIGIN_AUTOMATIC_REVIEW,
         CJX__V1__CASE_ORIGIN__CASE_ORIGIN_AUTOMATIC_REVIEW);
    SAME(CJX_CASE_ORIGIN_PETITION, CJX__V1__CASE_ORIGIN__CASE_ORIGIN_PETITION);
    SAME(CJX_CONTACT_MAIL, CJX__V1__CONTACT_METHOD__CONTACT_METHOD_MAIL);
    SAME(CJX_CONTACT_PHONE, CJX__V1__CONTACT_METHOD__CONTACT_METHOD_PHONE);
    SAME(CJX_CONTACT_EMAIL, CJX__V1__CONTACT_METHOD__CONTACT_METHOD_EMAIL);
    SAME(CJX_CONTACT_IN_PERSON,
         CJX__V1__CONTACT_METHOD__CONTACT_METHOD_IN_PERSON);
    SAME(CJX_CONTACT_OTHER, CJX__V1__CONTACT_METHOD__CONTACT_METHOD_OTHER);
    SAME(CJX_CONTACT_REACHED,
         CJX__V1__CONTACT_OUTCOME__CONTACT_OUTCOME_REACHED);
    SAME(CJX_CONTACT_NO_RESPONSE,
         CJX__V1__CONTACT_OUTCOME__CONTACT_OUTCOME_NO_RESPONSE);
    SAME(CJX_CONTACT_UNDELIVERABLE,
         CJX__V1__CONTACT_OUTCOME__CONTACT_OUTCOME_UNDELIVERABLE);
    SAME(CJX_CONTACT_NO_CONTACT_INFO,
         CJX__V1__CONTACT_OUTCOME__CONTACT_OUTCOME_NO_CONTACT_INFO);
#undef SAME
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_workflow__every_state_event_role_and_county__matches_the_table),
        cmocka_unit_test(
            test_workflow__role_out_of_range__is_permission_denied),
        cmocka_unit_test(test_workflow__defender_challenge__names_the_rule),
        cmocka_unit_test(
            test_workflow__other_county_court__is_refused_with_both_counties),
        cmocka_unit_test(
            test_workflow__full_path__records_times_versions_and_deadlines),
        cmocka_unit_test(
            test_workflow__notice_without_identification__creates_notified_case),
        cmocka_unit_test(test_workflow__next_may_be_current),
        cmocka_unit_test(
            test_workflow__decision_at_review_deadline__is_accepted),
        cmocka_unit_test(
            test_workflow__decision_one_us_before_review_deadline__is_accepted),
        cmocka_unit_test(
            test_workflow__decision_one_us_after_review_deadline__is_refused),
        cmocka_unit_test(
            test_workflow__timely_decision_arriving_within_grace__is_accepted),
        cmocka_unit_test(
            test_workflow__timely_decision_arriving_after_grace__is_refused),
        cmocka_unit_test(
            test_workflow__late_decision_under_wait_policy__is_accepted_and_flagged),
        cmocka_unit_test(
            test_workflow__resent_decision_after_deadline__changes_nothing),
        cmocka_unit_test(test_workflow__review_window_and_limit__earlier_wins),
        cmocka_unit_test(
            test_workflow__changed_policy__applies_to_existing_case),
        cmocka_unit_test(
            test_workflow__silent_case__lapses_one_us_after_deadline_plus_grace),
        cmocka_unit_test(
            test_workflow__order_on_lapsed_case__is_accepted_as_not_challenged),
        cmocka_unit_test(
            test_workflow__order_on_silent_case_before_lapse__waits),
        cmocka_unit_test(
            test_workflow__order_dated_before_review_deadline_on_lapsed_case__is_refused),
        cmocka_unit_test(
            test_workflow__order_on_silent_case_under_wait_policy__waits_for_decision),
        cmocka_unit_test(
            test_workflow__lapsed_order_below_definite_relief__is_flagged),
        cmocka_unit_test(
            test_workflow__order_above_ceiling__is_refused_by_default),
        cmocka_unit_test(
            test_workflow__order_above_ceiling__is_flagged_when_configured),
        cmocka_unit_test(
            test_workflow__order_at_ceiling_or_denied_on_challenge__is_clean),
        cmocka_unit_test(
            test_workflow__no_challenge_above_ceiling__follows_the_policy),
        cmocka_unit_test(test_workflow__no_challenge_below_floor__is_refused),
        cmocka_unit_test(
            test_workflow__order_below_accepted_relief__is_flagged),
        cmocka_unit_test(
            test_workflow__relief_ranks__follow_the_order_of_relief),
        cmocka_unit_test(
            test_workflow__risk_ground_on_completed_sentence__is_refused),
        cmocka_unit_test(test_workflow__risk_ground_while_serving__is_accepted),
        cmocka_unit_test(
            test_workflow__order_before_notice__waits_then_applies),
        cmocka_unit_test(test_workflow__acknowledgement_before_order__waits),
        cmocka_unit_test(
            test_workflow__acknowledgement_of_another_order__is_refused),
        cmocka_unit_test(
            test_workflow__identical_notice_resent__changes_nothing),
        cmocka_unit_test(
            test_workflow__notice_with_other_determination__is_a_conflict),
        cmocka_unit_test(
            test_workflow__identical_challenge_resent__changes_nothing),
        cmocka_unit_test(
            test_workflow__different_order_after_order__is_a_conflict),
        cmocka_unit_test(
            test_workflow__notice_moving_identified_case__is_refused),
        cmocka_unit_test(
            test_workflow__event_dated_before_previous_step__is_refused_beyond_skew),
        cmocka_unit_test(
            test_workflow__event_time_ahead_of_now__is_refused_beyond_skew),
        cmocka_unit_test(test_workflow__late_steps__are_flagged),
        cmocka_unit_test(
            test_workflow__malformed_events__are_invalid_arguments),
        cmocka_unit_test(test_workflow__unknown_event_kind__is_invalid),
        cmocka_unit_test(test_workflow__event_for_another_case__is_invalid),
        cmocka_unit_test(test_workflow__missing_arguments__are_invalid),
        cmocka_unit_test(
            test_workflow__other_prosecutor_of_the_county__is_refused),
        cmocka_unit_test(test_workflow__prop64_policy__has_the_statutory_dates),
        cmocka_unit_test(test_workflow__bad_policy__is_invalid),
        cmocka_unit_test(
            test_workflow__overdue__at_deadline_is_not_and_one_us_later_is),
        cmocka_unit_test(test_workflow__overdue__lists_cases_by_party),
        cmocka_unit_test(
            test_workflow__person_notified__keeps_the_state_and_adds_a_version),
        cmocka_unit_test(
            test_workflow__person_notified_before_the_challenge__waits),
        cmocka_unit_test(
            test_workflow__person_notified_without_a_challenge__is_refused_for_good),
        cmocka_unit_test(
            test_workflow__person_notified_dated_before_the_challenge__is_refused),
        cmocka_unit_test(
            test_workflow__person_notified_by_others__names_the_rule),
        cmocka_unit_test(
            test_workflow__petition__opens_a_notified_case_without_deadlines),
        cmocka_unit_test(
            test_workflow__petition_case__court_orders_without_an_answer),
        cmocka_unit_test(
            test_workflow__petition_case__prosecutor_answers_without_a_deadline),
        cmocka_unit_test(
            test_workflow__petition_case__order_dated_before_the_petition__is_refused),
        cmocka_unit_test(
            test_workflow__identical_petition_resent__changes_nothing),
        cmocka_unit_test(
            test_workflow__petition_and_notice__never_reopen_each_others_case),
        cmocka_unit_test(test_workflow__petition_determination__bounds_relief),
        cmocka_unit_test(
            test_workflow__petition_from_another_county__names_both_counties),
        cmocka_unit_test_setup_teardown(
            test_workflow__route__each_message_reaches_its_parties,
            registry_setup, registry_teardown),
        cmocka_unit_test_setup_teardown(
            test_workflow__route__city_attorney_case_goes_to_the_city_attorney,
            registry_setup, registry_teardown),
        cmocka_unit_test_setup_teardown(
            test_workflow__route__unnamed_prosecutor_in_county_with_two__is_ambiguous,
            registry_setup, registry_teardown),
        cmocka_unit_test_setup_teardown(
            test_workflow__route__foreign_or_unknown_prosecutor__falls_back_to_county,
            registry_setup, registry_teardown),
        cmocka_unit_test_setup_teardown(
            test_workflow__route__missing_agencies__are_named, registry_setup,
            registry_teardown),
        cmocka_unit_test_setup_teardown(
            test_workflow__route__small_buffer_and_bad_kind__are_refused,
            registry_setup, registry_teardown),
        cmocka_unit_test(test_workflow__route__two_doj_agencies__are_ambiguous),
        cmocka_unit_test(test_workflow__every_value__has_a_name),
        cmocka_unit_test(test_workflow__enum_values__equal_the_proto_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
