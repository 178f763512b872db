/* The relief case workflow: a pure state machine per convicted count, with
 * its deadlines, the overdue listing and the routing of each message.
 *
 * Pure: no I/O, no clock reads (the time is always a parameter), no memory
 * allocation. Every function here may be called from any thread; the store's
 * single writer calls cjx_workflow_apply() to validate and apply each
 * incoming message against the case's current state. docs/workflow.md
 * describes the rules with their reasons.
 *
 * A case moves
 *
 *   IDENTIFIED -> NOTIFIED -> NOT_CHALLENGED | CHALLENGED -> ORDERED
 *              -> HISTORY_UPDATED
 *
 * (a case may also start at NOTIFIED, when its first known event is the
 * candidate notice; and a NOTIFIED case goes straight to ORDERED when the
 * review deadline lapsed without a decision, see cjx_workflow_lapse_us()).
 *
 * The individual path (HS 11361.8): a court files a person's PETITION, which
 * opens the case at NOTIFIED with origin CJX_CASE_ORIGIN_PETITION. Such a
 * case has no notice, review or order deadline; the prosecutor may respond
 * (NO_CHALLENGE or CHALLENGE) and the court may order it at NOTIFIED.
 *
 * PERSON_NOTIFIED (M4) records a public defender's effort to tell the person
 * of a challenge: it leaves the state as it is and adds a version.
 *
 * Who may cause what (anything else is CJX_EPERM):
 *   IDENTIFY, CANDIDATE_NOTICE, HISTORY_UPDATED   DOJ (statewide)
 *   NO_CHALLENGE, CHALLENGE                       the PROSECUTOR of the
 *                                                 case's county (and, when
 *                                                 the case names one, only
 *                                                 that prosecutor)
 *   RELIEF_ORDER, PETITION                        the COURT of the county
 *   PERSON_NOTIFIED                               a DEFENDER of the county
 *
 * Errors, by what would fix them:
 *   CJX_EINVAL  the event itself is malformed (missing ground, unknown
 *               relief, bad key, time missing or in the future).
 *   CJX_EPERM   the sender's role or county may not cause it.
 *   CJX_ESTATE  the event does not fit the case: an illegal transition, a
 *               step that has not arrived here yet (out of order: see
 *               cjx_workflow_retry_may_succeed()), a different repetition of
 *               a step already taken, a deadline passed, relief outside
 *               DOJ's determination. Maps to FAILED_PRECONDITION. */
#ifndef CJX_WORKFLOW_H
#define CJX_WORKFLOW_H

#include <stddef.h>
#include <stdint.h>

#include "cjx/conf.h"
#include "cjx/error.h"

/* A deadline that does not apply (not started, or no limit configured). */
#define CJX_WORKFLOW_NO_DEADLINE INT64_MAX

#define CJX_CASE_CII_MAX    16  /* capital letters and digits */
#define CJX_CASE_NUMBER_MAX 64  /* court case number, printable */
#define CJX_CASE_COUNTY_MAX 64  /* county name, printable */
#define CJX_CASE_REASON_MAX 64  /* reason code: A-Z, 0-9 and '_' */
#define CJX_CASE_COUNT_MAX  999 /* count numbers are 1..999 */

/* Numeric values equal cjx.v1.CaseState. */
enum cjx_case_state {
    CJX_CASE_STATE_UNSPECIFIED = 0,
    CJX_CASE_IDENTIFIED = 1,      /* DOJ found a candidate; not yet sent */
    CJX_CASE_NOTIFIED = 2,        /* the prosecutor has been notified */
    CJX_CASE_NOT_CHALLENGED = 3,  /* the prosecutor does not oppose relief */
    CJX_CASE_CHALLENGED = 4,      /* the prosecutor challenges relief */
    CJX_CASE_ORDERED = 5,         /* the court granted or denied relief */
    CJX_CASE_HISTORY_UPDATED = 6, /* DOJ applied the order to its record */
};

/* Numeric values equal cjx.v1.CaseEventKind. */
enum cjx_case_event_kind {
    CJX_CASE_EV_UNSPECIFIED = 0,
    CJX_CASE_EV_IDENTIFY = 1,         /* DOJ, inside its own daemon */
    CJX_CASE_EV_CANDIDATE_NOTICE = 2, /* DOJ -> prosecutor */
    CJX_CASE_EV_NO_CHALLENGE = 3,     /* prosecutor -> court */
    CJX_CASE_EV_CHALLENGE = 4,        /* prosecutor -> court + defender */
    CJX_CASE_EV_RELIEF_ORDER = 5,     /* court -> DOJ + prosecutor */
    CJX_CASE_EV_HISTORY_UPDATED = 6,  /* DOJ -> court */
    CJX_CASE_EV_PERSON_NOTIFIED = 7,  /* defender -> court, prosecutor, DOJ */
    CJX_CASE_EV_PETITION = 8,         /* court -> prosecutor + DOJ */
};

/* How a case came to the exchange. Numeric values equal cjx.v1.CaseOrigin;
 * UNSPECIFIED (a case stored before origins existed) reads as
 * AUTOMATIC_REVIEW. */
enum cjx_case_origin {
    CJX_CASE_ORIGIN_UNSPECIFIED = 0,
    CJX_CASE_ORIGIN_AUTOMATIC_REVIEW = 1, /* DOJ's notice (HS 11361.9) */
    CJX_CASE_ORIGIN_PETITION = 2,         /* a petition (HS 11361.8) */
};

/* How a public defender tried to reach the person. Numeric values equal
 * cjx.v1.ContactMethod. */
enum cjx_contact_method {
    CJX_CONTACT_METHOD_UNSPECIFIED = 0,
    CJX_CONTACT_MAIL = 1,
    CJX_CONTACT_PHONE = 2,
    CJX_CONTACT_EMAIL = 3,
    CJX_CONTACT_IN_PERSON = 4,
    CJX_CONTACT_OTHER = 5,
};

/* What came of it. Numeric values equal cjx.v1.ContactOutcome. */
enum cjx_contact_outcome {
    CJX_CONTACT_OUTCOME_UNSPECIFIED = 0,
    CJX_CONTACT_REACHED = 1,         /* the person was told of the challenge */
    CJX_CONTACT_NO_RESPONSE = 2,     /* sent or called; no answer yet */
    CJX_CONTACT_UNDELIVERABLE = 3,   /* returned mail, wrong number */
    CJX_CONTACT_NO_CONTACT_INFO = 4, /* no address or number on record */
};

/* Numeric values equal cjx.v1.Relief. */
enum cjx_relief {
    CJX_RELIEF_UNSPECIFIED = 0,
    CJX_RELIEF_NOT_ELIGIBLE = 1,
    CJX_RELIEF_REDUCE_TO_MISDEMEANOR = 2,
    CJX_RELIEF_REDUCE_TO_INFRACTION = 3,
    CJX_RELIEF_DISMISS_AND_SEAL = 4,
    CJX_RELIEF_HUMAN_REVIEW = 5,
    CJX_RELIEF_NO_ACTION = 6,
};

/* Numeric values equal cjx.v1.Procedure. */
enum cjx_procedure {
    CJX_PROCEDURE_UNSPECIFIED = 0,
    CJX_PROCEDURE_APPLICATION_REDESIGNATION = 1,  /* sentence completed */
    CJX_PROCEDURE_PETITION_RECALL_RESENTENCE = 2, /* still serving */
    CJX_PROCEDURE_UNKNOWN_SENTENCE_STATUS = 3,
};

/* Numeric values equal cjx.v1.ChallengeGround. */
enum cjx_challenge_ground {
    CJX_GROUND_UNSPECIFIED = 0,
    CJX_GROUND_CRITERIA_NOT_MET = 1,  /* needs a reason code */
    CJX_GROUND_UNREASONABLE_RISK = 2, /* only for a person still serving */
};

/* What the court ordered. Numeric values equal cjx.v1.OrderRelief and, for
 * the three grants, cjx.v1.Relief. Ordered by how much relief is granted:
 * DENIED < REDUCE_TO_MISDEMEANOR < REDUCE_TO_INFRACTION < DISMISS_AND_SEAL. */
enum cjx_order {
    CJX_ORDER_UNSPECIFIED = 0,
    CJX_ORDER_DENIED = 1,
    CJX_ORDER_REDUCE_TO_MISDEMEANOR = 2,
    CJX_ORDER_REDUCE_TO_INFRACTION = 3,
    CJX_ORDER_DISMISS_AND_SEAL = 4,
};

/* Numeric values equal cjx.v1.DecisionKind. */
enum cjx_decision_kind {
    CJX_DECISION_NONE = 0,
    CJX_DECISION_NO_CHALLENGE = 1,
    CJX_DECISION_CHALLENGE = 2,
    /* No decision by the review deadline: the court proceeded as on a
     * no-challenge (HS 11361.9, AB 1793). Recorded when the order comes. */
    CJX_DECISION_LAPSED = 3,
};

/* Facts about a case worth reporting; none refuses anything. */
enum cjx_case_flag {
    CJX_CASE_FLAG_NOTIFIED_LATE = 1u << 0, /* notice after its deadline */
    CJX_CASE_FLAG_DECIDED_LATE = 1u << 1,  /* CJX_LAPSE_WAIT only */
    CJX_CASE_FLAG_ABOVE_CEILING = 1u << 2, /* CJX_CEILING_FLAG only */
    /* An unchallenged case ordered with less relief than the prosecutor
     * accepted (or, after a lapse, than DOJ's floor). */
    CJX_CASE_FLAG_BELOW_UNCHALLENGED = 1u << 3,
    CJX_CASE_FLAG_ORDERED_LATE = 1u << 4,
    CJX_CASE_FLAG_UPDATED_LATE = 1u << 5,
};

/* DOJ's rules result for the count. relief is REDUCE_TO_MISDEMEANOR,
 * REDUCE_TO_INFRACTION, DISMISS_AND_SEAL or HUMAN_REVIEW. With HUMAN_REVIEW,
 * floor (NOT_ELIGIBLE or a grant) and ceiling (a grant) bound the relief,
 * floor <= ceiling; otherwise both equal relief (an event may leave them
 * UNSPECIFIED, the case then holds relief in both). */
struct cjx_relief_determination {
    enum cjx_relief relief;
    enum cjx_relief floor;
    enum cjx_relief ceiling;
    enum cjx_procedure procedure;
};

/* A calendar day; year 0 means absent. */
struct cjx_case_date {
    int32_t year;
    int32_t month;
    int32_t day;
};

struct cjx_case_key {
    char cii[CJX_CASE_CII_MAX + 1];
    char court_case_number[CJX_CASE_NUMBER_MAX + 1];
    int32_t count_number;
};

struct cjx_case_decision {
    enum cjx_decision_kind kind;
    enum cjx_relief relief;           /* NO_CHALLENGE: the relief accepted */
    enum cjx_challenge_ground ground; /* CHALLENGE */
    char reason_code[CJX_CASE_REASON_MAX + 1]; /* CHALLENGE, may be "" */
};

/* When each step was taken, by the clock of the agency that took it
 * (microseconds since the epoch, UTC); 0 until then. For a LAPSED decision,
 * decided_us is the instant of the lapse. */
struct cjx_case_times {
    int64_t identified_us;
    int64_t notified_us; /* for a petition: when the court filed it */
    int64_t decided_us;
    int64_t ordered_us;
    int64_t history_updated_us;
};

/* Inclusive: an act at the deadline's microsecond is in time.
 * CJX_WORKFLOW_NO_DEADLINE where none applies. */
struct cjx_case_deadlines {
    int64_t notice_us;         /* DOJ sends the notice */
    int64_t review_us;         /* the prosecutor decides */
    int64_t order_us;          /* the court orders */
    int64_t history_update_us; /* DOJ updates the criminal history */
};

/* One case: one convicted count, as this daemon's copy knows it. Plain data
 * with no pointers: copy it freely. */
struct cjx_case {
    struct cjx_case_key key;
    char county[CJX_CASE_COUNTY_MAX + 1]; /* county of conviction */
    /* The prosecuting agency DOJ sent the notice to, or the court told of a
     * petition (see cjx_workflow_prosecutor_for()); "" if the event named
     * none, and then any prosecutor of the county may decide. */
    char prosecutor_ori[CJX_ORI_LEN + 1];
    enum cjx_case_state state;
    /* AUTOMATIC_REVIEW or PETITION for a case the workflow made;
     * UNSPECIFIED reads as AUTOMATIC_REVIEW. */
    enum cjx_case_origin origin;
    /* DOJ's determination, or for a petition the court's own. */
    struct cjx_relief_determination determination;
    struct cjx_case_decision decision;
    enum cjx_order order; /* from ORDERED on: what the court ordered */
    struct cjx_case_times times;
    /* As computed under the policy of the last transition. Functions that
     * take a policy recompute them, so a changed configuration (a law that
     * moves a date) applies to existing cases at once. */
    struct cjx_case_deadlines deadlines;
    unsigned flags;     /* enum cjx_case_flag bits */
    int64_t version;    /* 1 when created, +1 per transition of this copy */
    int64_t updated_us; /* now_us of the last transition at this daemon */
};

/* One message applied to a case. Every pointer is borrowed for the call and
 * may be NULL where "" is allowed; fields of other kinds are ignored. */
struct cjx_case_event {
    enum cjx_case_event_kind kind;
    const char *cii; /* the case key */
    const char *court_case_number;
    int32_t count_number;
    /* The sender, from its certificate and the agency registry. */
    enum cjx_role sender_role;
    const char *sender_ori;
    const char *sender_county; /* "" for DOJ */
    /* When the sender took the step, by its clock. The agency where the step
     * originates sets it to its now_us; receivers keep the sender's value,
     * so every copy of the case records the same times and deadlines. */
    int64_t at_us;

    /* IDENTIFY, CANDIDATE_NOTICE and PETITION */
    const char *county;         /* county of conviction, required */
    const char *prosecutor_ori; /* addressee of the notice, or "" */
    /* DOJ's determination; for a PETITION the court's own. A petition is
     * filed whatever the rules say, so its relief may be NOT_ELIGIBLE too
     * (the order can then only deny). */
    struct cjx_relief_determination determination;
    /* The origin of the case the event opens: UNSPECIFIED means the one its
     * kind implies (AUTOMATIC_REVIEW for IDENTIFY and CANDIDATE_NOTICE,
     * PETITION for PETITION); any other is CJX_EINVAL. Ignored by others. */
    enum cjx_case_origin origin;
    /* NO_CHALLENGE: the relief the prosecutor accepts (a grant) */
    enum cjx_relief relief;
    /* CHALLENGE */
    enum cjx_challenge_ground ground;
    const char *reason_code; /* required with CRITERIA_NOT_MET */
    /* RELIEF_ORDER: the order; HISTORY_UPDATED: the order DOJ applied */
    enum cjx_order order;
    /* PERSON_NOTIFIED: the effort to reach the person. The note and any
     * contact details stay with the service: the case keeps no contacts,
     * so the workflow cannot tell a repeated contact from a new one. */
    struct cjx_case_date contact_date; /* required */
    enum cjx_contact_method contact_method;
    enum cjx_contact_outcome contact_outcome;
};

/* What happens to an order above DOJ's ceiling (and to a no-challenge that
 * accepts more than the ceiling). */
enum cjx_ceiling_mode {
    CJX_CEILING_REFUSE = 0, /* CJX_ESTATE */
    CJX_CEILING_FLAG = 1,   /* accepted with CJX_CASE_FLAG_ABOVE_CEILING */
};

/* What the review deadline means for a NOTIFIED case with no decision. */
enum cjx_review_lapse {
    /* HS 11361.9 (AB 1793): without a challenge by the deadline the court
     * shall proceed. Decisions after the deadline are refused, and once the
     * deadline and the delivery grace have passed the case counts as not
     * challenged: the court may order it. */
    CJX_LAPSE_NOT_CHALLENGED = 0,
    /* The deadline only reports: a late decision is accepted (flagged
     * DECIDED_LATE) and the court waits for it. */
    CJX_LAPSE_WAIT = 1,
};

/* A deadline that starts when a step is taken. Both parts are optional; with
 * both, the earlier wins. */
struct cjx_workflow_deadline {
    int64_t window_us;    /* time allowed after the step; 0 = no window */
    int64_t not_after_us; /* absolute last instant (inclusive); 0 = none */
};

/* The configuration of the workflow. All times in microseconds (UTC). */
struct cjx_workflow_policy {
    struct cjx_workflow_deadline notice; /* from IDENTIFY */
    struct cjx_workflow_deadline review; /* from CANDIDATE_NOTICE */
    /* From the decision (or the lapse) to the court's order. */
    struct cjx_workflow_deadline order_unchallenged;
    struct cjx_workflow_deadline order_challenged;
    struct cjx_workflow_deadline history_update; /* from RELIEF_ORDER */
    enum cjx_ceiling_mode above_ceiling;
    enum cjx_review_lapse review_lapse;
    /* How long after the review deadline a decision taken in time may still
     * arrive (outbox retries); a silent case lapses only after it too. */
    int64_t decision_grace_us;
    /* How far an event's time may lie ahead of now_us, or behind the step
     * before it, before it is refused: the agencies' clocks differ. */
    int64_t max_clock_skew_us;
};

/* Fills p with the statutory Prop 64 schedule: notices by 1 July 2019
 * (AB 1793), decisions by 1 July 2020, unchallenged orders by 1 March 2023
 * and DOJ updates by 1 July 2023 (AB 1706), each at the end of that day in
 * California (Pacific time); no deadline for challenged cases; orders above
 * the ceiling refused; lapse = not challenged; 7 days' decision grace, 5
 * minutes' clock skew. */
void cjx_workflow_policy_init_prop64(struct cjx_workflow_policy *p);

/* 0, or CJX_EINVAL naming the first bad field (negative time, unknown
 * mode). cjx_workflow_apply() checks its policy with it. */
int cjx_workflow_policy_check(const struct cjx_workflow_policy *p,
                              struct cjx_errbuf *eb);

/* Validates ev against the current state of its case and computes the next.
 *
 * current is NULL when this daemon has no case under ev's key yet. On success
 * returns 0 and fills *next (which may be the same object as current):
 * either the case after the transition (version + 1, or 1 for a new case,
 * deadlines recomputed, updated_us = now_us), or, when ev repeats a step the
 * case has already taken with the same content (a resend under a new
 * message id; times are not compared), an exact copy of *current: the caller
 * then stores and sends nothing. The same message id is the store's
 * business, not this function's.
 *
 * PERSON_NOTIFIED is accepted once the prosecutor has challenged, in any
 * later state: the state stays, the version grows by one, and every one is
 * new (the service, which keeps the contacts, decides what is a repeat).
 * PETITION opens a case; for a key that already has one it is CJX_ESTATE,
 * unless it repeats the petition that opened it.
 *
 * On failure returns CJX_EINVAL, CJX_EPERM or CJX_ESTATE (see the top of
 * this file) with a message naming the case in eb, and leaves *next
 * untouched. Checks run in this order: event kind, sender's role, the event's
 * own fields, the case's county (and prosecutor), then the transition,
 * deadlines and relief. */
int cjx_workflow_apply(const struct cjx_case *current,
                       const struct cjx_case_event *ev,
                       const struct cjx_workflow_policy *policy, int64_t now_us,
                       struct cjx_case *next, struct cjx_errbuf *eb);

/* 1 when cjx_workflow_apply() refuses ev with CJX_ESTATE only
 * because a step that must come before it has not been applied to this copy
 * yet: an order for a case whose notice or decision has not arrived, an
 * order for a silent case whose review deadline (and grace) has not passed,
 * or a person's notification for a case whose challenge may still come.
 * The exchange is eventually consistent, so the sender's outbox should
 * retry such a refusal with backoff (receiving is idempotent); any other
 * refusal will not change by waiting. 0 otherwise, and for NULL ev. */
int cjx_workflow_retry_may_succeed(const struct cjx_case *current,
                                   const struct cjx_case_event *ev,
                                   const struct cjx_workflow_policy *policy,
                                   int64_t now_us);

/* The case's deadlines under policy (from its step times; independent of
 * now). The order deadline of a NOTIFIED case under CJX_LAPSE_NOT_CHALLENGED
 * runs from its lapse. A petition case has only the history-update
 * deadline: HS 11361.8 sets no time for notice, response or order. */
void cjx_workflow_deadlines(const struct cjx_case *c,
                            const struct cjx_workflow_policy *policy,
                            struct cjx_case_deadlines *out);

/* The instant after which a NOTIFIED case with no decision counts as not
 * challenged: its review deadline plus the decision grace.
 * CJX_WORKFLOW_NO_DEADLINE under CJX_LAPSE_WAIT, with no review deadline
 * (a petition case never lapses), or when c is not NOTIFIED. */
int64_t cjx_workflow_lapse_us(const struct cjx_case *c,
                              const struct cjx_workflow_policy *policy);

/* The state the case is in at now_us for the purpose of acting on it:
 * c->state, except CJX_CASE_NOT_CHALLENGED for a NOTIFIED case past its
 * lapse. CJX_CASE_STATE_UNSPECIFIED for NULL. */
enum cjx_case_state
cjx_workflow_effective_state(const struct cjx_case *c,
                             const struct cjx_workflow_policy *policy,
                             int64_t now_us);

enum cjx_overdue_kind {
    CJX_OVERDUE_NOTICE = 1,         /* DOJ has not sent the notice */
    CJX_OVERDUE_REVIEW = 2,         /* the prosecutor has not decided */
    CJX_OVERDUE_ORDER = 3,          /* the court has not ordered */
    CJX_OVERDUE_HISTORY_UPDATE = 4, /* DOJ has not updated its record */
};

/* One missed deadline: who must act on which case. */
struct cjx_overdue {
    size_t index; /* of the case in the array given */
    enum cjx_overdue_kind kind;
    enum cjx_role party; /* DOJ, PROSECUTOR or COURT */
    int64_t deadline_us; /* passed: now_us > deadline_us */
};

/* A case can be overdue for two parties at once: a silent case past its
 * lapse is overdue for the prosecutor and, later, for the court. */
#define CJX_WORKFLOW_MAX_OVERDUE_PER_CASE 2

/* Writes the deadlines c has missed at now_us (index 0) into out, which
 * holds CJX_WORKFLOW_MAX_OVERDUE_PER_CASE entries, and returns how many. */
size_t cjx_workflow_case_overdue(const struct cjx_case *c,
                                 const struct cjx_workflow_policy *policy,
                                 int64_t now_us, struct cjx_overdue *out);

/* Lists the missed deadlines of n cases at now_us, in case order. Writes at
 * most cap entries to out (which may be NULL when cap is 0) and returns the
 * total number, as snprintf does: more than cap means the list was cut. */
size_t cjx_workflow_list_overdue(const struct cjx_case *cases, size_t n,
                                 const struct cjx_workflow_policy *policy,
                                 int64_t now_us, struct cjx_overdue *out,
                                 size_t cap);

/* One addressee of a message. to = 1: the party the message is for (it
 * must act, or the statute says it is informed); 0: a copy, so that every
 * party's copy of the case sees every step (the transition rules refuse
 * steps out of order, so a party that missed one could not follow). */
struct cjx_recipient {
    const struct cjx_agency *agency; /* borrowed from the registry */
    int to;
};

/* Room enough for any message: addressees are one court, one prosecutor,
 * DOJ and the county's defenders. */
#define CJX_WORKFLOW_MAX_RECIPIENTS 8

/* The prosecuting agency for cases of county: the agency named by
 * named_ori if the registry lists it as a PROSECUTOR of that county (a city
 * attorney that prosecuted the count), else the county's only PROSECUTOR.
 * *out is borrowed from reg. 0; CJX_ENOTFOUND when the county has none;
 * CJX_EINVAL when it has several and named_ori picks none of them. */
int cjx_workflow_prosecutor_for(const struct cjx_registry *reg,
                                const char *county, const char *named_ori,
                                const struct cjx_agency **out,
                                struct cjx_errbuf *eb);

/* Who receives the message that an event of kind sends, for case c (the
 * case after the transition):
 *   CANDIDATE_NOTICE  to the prosecutor; copies to the court, defenders
 *   NO_CHALLENGE      to the court; copies to DOJ, defenders
 *   CHALLENGE         to the court and the defenders; copy to DOJ
 *   RELIEF_ORDER      to DOJ and the prosecutor; copies to defenders
 *   HISTORY_UPDATED   to the court; copies to the prosecutor, defenders
 *   PERSON_NOTIFIED   to the court, the prosecutor and DOJ; copies to the
 *                     defenders (the sending defender skips itself, as
 *                     every sender does)
 *   PETITION          to the prosecutor and DOJ; copies to defenders
 *   IDENTIFY          nobody (it stays inside DOJ)
 * "the court", "the prosecutor" and DOJ must each resolve to exactly one
 * agency, defenders to all DEFENDERs of the county (at least one for a
 * challenge). Fills out[0..*n), at most min(cap,
 * CJX_WORKFLOW_MAX_RECIPIENTS) entries. 0; CJX_ENOTFOUND or CJX_EINVAL
 * naming the missing or ambiguous agency; CJX_ELIMIT when there are more
 * recipients than that; CJX_EINVAL for an unknown kind. On failure out and
 * *n are left as they were. */
int cjx_workflow_route(enum cjx_case_event_kind kind, const struct cjx_case *c,
                       const struct cjx_registry *reg,
                       struct cjx_recipient *out, size_t cap, size_t *n,
                       struct cjx_errbuf *eb);

/* Rank of relief granted: DENIED 0 < REDUCE_TO_MISDEMEANOR 1 <
 * REDUCE_TO_INFRACTION 2 < DISMISS_AND_SEAL 3; -1 for anything else. */
int cjx_order_rank(enum cjx_order o);
/* The same scale for relief: NOT_ELIGIBLE 0 (nothing granted), then the
 * three grants; -1 for UNSPECIFIED, HUMAN_REVIEW, NO_ACTION and others. */
int cjx_relief_rank(enum cjx_relief r);

/* Static names ("NOTIFIED", "DISMISS_AND_SEAL", ...), "UNSPECIFIED" for
 * values out of range. */
const char *cjx_case_state_name(enum cjx_case_state s);
const char *cjx_case_event_kind_name(enum cjx_case_event_kind k);
const char *cjx_case_origin_name(enum cjx_case_origin o);
const char *cjx_contact_method_name(enum cjx_contact_method m);
const char *cjx_contact_outcome_name(enum cjx_contact_outcome o);
const char *cjx_relief_name(enum cjx_relief r);
const char *cjx_procedure_name(enum cjx_procedure p);
const char *cjx_challenge_ground_name(enum cjx_challenge_ground g);
const char *cjx_order_name(enum cjx_order o);
const char *cjx_decision_kind_name(enum cjx_decision_kind k);
const char *cjx_overdue_kind_name(enum cjx_overdue_kind k);
/* Name of one flag bit ("ABOVE_CEILING"); "UNSPECIFIED" for anything else. */
const char *cjx_case_flag_name(unsigned flag);

#endif
