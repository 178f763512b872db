/* The case state machine: checks one event against a case and computes the
 * case that follows. */
#include <stdio.h>
#include <string.h>

#include "cjx/workflow.h"
#include "workflow_internal.h"

/* The one role that may send each kind of event, with the rule in words. */
static enum cjx_role
sender_role_for(enum cjx_case_event_kind k, const char **rule)
{
    switch (k) {
    case CJX_CASE_EV_IDENTIFY:
    case CJX_CASE_EV_CANDIDATE_NOTICE:
        *rule = "only DOJ identifies candidates and notifies prosecutors";
        return CJX_ROLE_DOJ;
    case CJX_CASE_EV_NO_CHALLENGE:
    case CJX_CASE_EV_CHALLENGE:
        *rule = "only the prosecutor of the case's county decides";
        return CJX_ROLE_PROSECUTOR;
    case CJX_CASE_EV_RELIEF_ORDER:
        *rule = "only the court of the case's county orders";
        return CJX_ROLE_COURT;
    case CJX_CASE_EV_HISTORY_UPDATED:
        *rule = "only DOJ acknowledges that it updated the history";
        return CJX_ROLE_DOJ;
    case CJX_CASE_EV_PERSON_NOTIFIED:
        *rule = "only a public defender of the case's county notifies the "
                "person of a challenge";
        return CJX_ROLE_DEFENDER;
    case CJX_CASE_EV_PETITION:
        *rule = "only the court of the case's county files a petition";
        return CJX_ROLE_COURT;
    default:
        *rule = "unknown event";
        return CJX_ROLE_UNSPECIFIED;
    }
}

/* Steps in the order the law takes them; a case that has taken step n
 * accepts step n + 1 and treats steps up to n as repetitions. */
static int
state_step(enum cjx_case_state s)
{
    switch (s) {
    case CJX_CASE_IDENTIFIED:
        return 1;
    case CJX_CASE_NOTIFIED:
        return 2;
    case CJX_CASE_NOT_CHALLENGED:
    case CJX_CASE_CHALLENGED:
        return 3;
    case CJX_CASE_ORDERED:
        return 4;
    case CJX_CASE_HISTORY_UPDATED:
        return 5;
    default:
        return -1;
    }
}

/* The step an event takes. A petition opens the case at the notice's step;
 * a report on the person is no step at all (-1 here). */
static int
event_step(enum cjx_case_event_kind k)
{
    switch (k) {
    case CJX_CASE_EV_IDENTIFY:
        return 1;
    case CJX_CASE_EV_CANDIDATE_NOTICE:
    case CJX_CASE_EV_PETITION:
        return 2;
    case CJX_CASE_EV_NO_CHALLENGE:
    case CJX_CASE_EV_CHALLENGE:
        return 3;
    case CJX_CASE_EV_RELIEF_ORDER:
        return 4;
    case CJX_CASE_EV_HISTORY_UPDATED:
        return 5;
    default:
        return -1;
    }
}

/* The origin a case has, reading UNSPECIFIED (stored before origins
 * existed) as the automatic review it then was. */
static enum cjx_case_origin
origin_of(const struct cjx_case *c)
{
    return workflow_is_petition(c) ? CJX_CASE_ORIGIN_PETITION
                                   : CJX_CASE_ORIGIN_AUTOMATIC_REVIEW;
}

/* Whose rules made the case's determination, for messages. */
static const char *
whose_determination(const struct cjx_case *c)
{
    return workflow_is_petition(c) ? "the court's" : "DOJ's";
}

/* ---- Who may act on this case (CJX_EPERM) ---- */

/* county is the case's, or for an event that opens a case, its own. */
static int
check_scope(const struct workflow_step *st, const char *county,
            const struct cjx_case *c, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    if (ev->sender_role == CJX_ROLE_DOJ)
        return 0; /* statewide */
    if (strcmp(workflow_nz(ev->sender_county), county) != 0)
        return cjx_errf(
            eb, CJX_EPERM, "%s for %s: %s %s of %s may not act on a case of %s",
            workflow_event_what(ev->kind), st->label,
            cjx_role_name(ev->sender_role), workflow_nz(ev->sender_ori),
            workflow_nz(ev->sender_county)[0] != '\0' ? ev->sender_county
                                                      : "no county",
            county);
    if (ev->sender_role == CJX_ROLE_PROSECUTOR && c != NULL &&
        c->prosecutor_ori[0] != '\0' &&
        strcmp(ev->sender_ori, c->prosecutor_ori) != 0)
        return cjx_errf(eb, CJX_EPERM,
                        "%s for %s: the case was sent to prosecutor %s, "
                        "not %s",
                        workflow_event_what(ev->kind), st->label,
                        c->prosecutor_ori, ev->sender_ori);
    return 0;
}

/* ---- Repetitions of a step already taken ---- */

/* The origin an opening event gives its case. */
static enum cjx_case_origin
origin_opened_by(enum cjx_case_event_kind k)
{
    return k == CJX_CASE_EV_PETITION ? CJX_CASE_ORIGIN_PETITION
                                     : CJX_CASE_ORIGIN_AUTOMATIC_REVIEW;
}

static int
same_opening(const struct workflow_step *st, const struct cjx_case *c)
{
    const struct cjx_relief_determination *a = &st->det, *b = &c->determination;
    return origin_opened_by(st->ev->kind) == origin_of(c) &&
           strcmp(workflow_nz(st->ev->county), c->county) == 0 &&
           strcmp(workflow_nz(st->ev->prosecutor_ori), c->prosecutor_ori) ==
               0 &&
           a->relief == b->relief && a->floor == b->floor &&
           a->ceiling == b->ceiling && a->procedure == b->procedure;
}

static int
same_decision(const struct cjx_case_event *ev, const struct cjx_case *c)
{
    const struct cjx_case_decision *d = &c->decision;
    if (ev->kind == CJX_CASE_EV_NO_CHALLENGE)
        return d->kind == CJX_DECISION_NO_CHALLENGE && d->relief == ev->relief;
    return d->kind == CJX_DECISION_CHALLENGE && d->ground == ev->ground &&
           strcmp(d->reason_code, workflow_nz(ev->reason_code)) == 0;
}

static void
describe_decision(const struct cjx_case *c, char *buf, size_t len)
{
    const struct cjx_case_decision *d = &c->decision;
    char t[WORKFLOW_TIME_LEN];
    switch (d->kind) {
    case CJX_DECISION_NO_CHALLENGE:
        snprintf(buf, len, "no challenge, accepting %s, at %s",
                 cjx_relief_name(d->relief),
                 workflow_time(c->times.decided_us, t));
        break;
    case CJX_DECISION_CHALLENGE:
        snprintf(buf, len, "challenge on %s%s%s at %s",
                 cjx_challenge_ground_name(d->ground),
                 d->reason_code[0] != '\0' ? " " : "", d->reason_code,
                 workflow_time(c->times.decided_us, t));
        break;
    case CJX_DECISION_LAPSED:
        snprintf(buf, len,
                 "none by the review deadline, so the case was ordered as "
                 "not challenged (lapse at %s)",
                 workflow_time(c->times.decided_us, t));
        break;
    default:
        /* A petition the court ordered before the prosecutor answered. */
        snprintf(buf, len, "none: the court ordered the case at %s without one",
                 workflow_time(c->times.ordered_us, t));
        break;
    }
}

/* How the case was opened, for messages: "notified at ...". */
static void
describe_opening(const struct cjx_case *c, char *buf, size_t len)
{
    char t[WORKFLOW_TIME_LEN];
    if (workflow_is_petition(c))
        snprintf(buf, len, "opened by a petition filed at %s",
                 workflow_time(c->times.notified_us, t));
    else if (c->times.notified_us != 0)
        snprintf(buf, len, "notified at %s",
                 workflow_time(c->times.notified_us, t));
    else
        snprintf(buf, len, "identified at %s",
                 workflow_time(c->times.identified_us, t));
}

/* A step the case has already taken: the same content is a resend (1, and
 * nothing changes), anything else a conflict (CJX_ESTATE). */
static int
check_repeat(const struct workflow_step *st, const struct cjx_case *c,
             struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    const char *what = workflow_event_what(ev->kind);
    char t[WORKFLOW_TIME_LEN], desc[160];
    switch (ev->kind) {
    case CJX_CASE_EV_IDENTIFY:
    case CJX_CASE_EV_CANDIDATE_NOTICE:
    case CJX_CASE_EV_PETITION:
        if (same_opening(st, c))
            return 1;
        /* A case has one origin: a petition for a count DOJ already sent,
         * or a notice for a count a court opened by petition, is refused
         * for good, as a different notice is. */
        describe_opening(c, desc, sizeof(desc));
        return cjx_errf(
            eb, CJX_ESTATE,
            "%s for %s: the case is %s and was %s with county %s, relief %s "
            "(floor %s, ceiling %s), prosecutor %s; %s %s cannot %s it",
            what, st->label, cjx_case_state_name(c->state), desc, c->county,
            cjx_relief_name(c->determination.relief),
            cjx_relief_name(c->determination.floor),
            cjx_relief_name(c->determination.ceiling),
            c->prosecutor_ori[0] != '\0' ? c->prosecutor_ori : "(any)",
            origin_opened_by(ev->kind) == origin_of(c) ? "a different" : "a",
            what,
            origin_opened_by(ev->kind) == origin_of(c) ? "replace" : "reopen");
    case CJX_CASE_EV_NO_CHALLENGE:
    case CJX_CASE_EV_CHALLENGE:
        if (same_decision(ev, c))
            return 1;
        describe_decision(c, desc, sizeof(desc));
        return cjx_errf(eb, CJX_ESTATE,
                        "%s for %s: the prosecutor's decision is already "
                        "taken (%s); a different decision cannot replace it",
                        what, st->label, desc);
    case CJX_CASE_EV_RELIEF_ORDER:
        if (c->order == ev->order)
            return 1;
        return cjx_errf(eb, CJX_ESTATE,
                        "relief order for %s: the court already ordered %s "
                        "at %s; a different order (%s) cannot replace it",
                        st->label, cjx_order_name(c->order),
                        workflow_time(c->times.ordered_us, t),
                        cjx_order_name(ev->order));
    default: /* CJX_CASE_EV_HISTORY_UPDATED */
        if (c->order == ev->order)
            return 1;
        return cjx_errf(eb, CJX_ESTATE,
                        "history-updated acknowledgement for %s: DOJ already "
                        "acknowledged applying %s at %s, not %s",
                        st->label, cjx_order_name(c->order),
                        workflow_time(c->times.history_updated_us, t),
                        cjx_order_name(ev->order));
    }
}

/* ---- Steps that have not arrived yet (CJX_ESTATE, worth a retry) ---- */

static int
refuse_early(const struct workflow_step *st, const struct cjx_case *c,
             struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    const char *what = workflow_event_what(ev->kind);
    char t1[WORKFLOW_TIME_LEN], t2[WORKFLOW_TIME_LEN];
    if (c == NULL)
        return cjx_errf(eb, CJX_ESTATE,
                        "%s for %s: no candidate notice or petition for this "
                        "case has arrived yet; the sender should retry later",
                        what, st->label);
    if (ev->kind == CJX_CASE_EV_PERSON_NOTIFIED)
        return cjx_errf(eb, CJX_ESTATE,
                        "%s for %s: the case is %s and no challenge has been "
                        "applied yet; the sender should retry later",
                        what, st->label, cjx_case_state_name(c->state));
    switch (state_step(c->state)) {
    case 1:
        return cjx_errf(eb, CJX_ESTATE,
                        "%s for %s: the case is IDENTIFIED and its candidate "
                        "notice has not been applied yet; the sender should "
                        "retry later",
                        what, st->label);
    case 2:
        if (ev->kind == CJX_CASE_EV_RELIEF_ORDER) {
            int64_t lapse = cjx_workflow_lapse_us(c, st->policy);
            if (lapse == CJX_WORKFLOW_NO_DEADLINE)
                return cjx_errf(eb, CJX_ESTATE,
                                "relief order for %s: the prosecutor has not "
                                "decided yet and, by policy, the court waits "
                                "for the decision; the sender should retry "
                                "later",
                                st->label);
            return cjx_errf(eb, CJX_ESTATE,
                            "relief order for %s: the prosecutor has not "
                            "decided yet and the review period lapses only "
                            "after %s (now %s); the sender should retry later",
                            st->label, workflow_time(lapse, t1),
                            workflow_time(st->now_us, t2));
        }
        return cjx_errf(eb, CJX_ESTATE,
                        "%s for %s: the case is NOTIFIED and no court order "
                        "has been applied yet; the sender should retry later",
                        what, st->label);
    default:
        return cjx_errf(eb, CJX_ESTATE,
                        "%s for %s: the case is %s and no court order has "
                        "been applied yet; the sender should retry later",
                        what, st->label, cjx_case_state_name(c->state));
    }
}

/* ---- Transitions ---- */

/* An event dated before the step it follows, by more than clocks differ. */
static int
check_not_before(const struct workflow_step *st, int64_t prev_us,
                 const char *prev, struct cjx_errbuf *eb)
{
    char t1[WORKFLOW_TIME_LEN], t2[WORKFLOW_TIME_LEN];
    if (prev_us == 0 ||
        st->ev->at_us >= prev_us - st->policy->max_clock_skew_us)
        return 0;
    return cjx_errf(
        eb, CJX_ESTATE, "%s for %s: dated %s, before the %s it follows (%s)",
        workflow_event_what(st->ev->kind), st->label,
        workflow_time(st->ev->at_us, t1), prev, workflow_time(prev_us, t2));
}

/* Relief above the determination's ceiling: refused or flagged, as the
 * policy says. */
static int
check_ceiling(const struct workflow_step *st, const struct cjx_case *c,
              int rank, const char *name, struct cjx_case *next,
              struct cjx_errbuf *eb)
{
    if (rank <= cjx_relief_rank(c->determination.ceiling))
        return 0;
    if (st->policy->above_ceiling == CJX_CEILING_FLAG) {
        next->flags |= CJX_CASE_FLAG_ABOVE_CEILING;
        return 0;
    }
    return cjx_errf(eb, CJX_ESTATE,
                    "%s for %s: %s is more relief than %s ceiling %s, and "
                    "the policy refuses relief above the ceiling",
                    workflow_event_what(st->ev->kind), st->label, name,
                    whose_determination(c),
                    cjx_relief_name(c->determination.ceiling));
}

/* IDENTIFY, CANDIDATE_NOTICE and PETITION: the case opens (or DOJ releases
 * the notice of a case it identified). */
static int
apply_opening(const struct workflow_step *st, const struct cjx_case *c,
              struct cjx_case *next, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    if (c != NULL) {
        /* Only the notice may follow an identification here. The county
         * decides who may act on the case, so DOJ cannot move it by
         * notice; the determination may change, as DOJ can run its rules
         * again before it releases the notice. */
        if (strcmp(ev->county, c->county) != 0)
            return cjx_errf(eb, CJX_ESTATE,
                            "candidate notice for %s: the case was identified "
                            "in %s, the notice names %s",
                            st->label, c->county, ev->county);
        int err =
            check_not_before(st, c->times.identified_us, "identification", eb);
        if (err != 0)
            return err;
        *next = *c;
    } else {
        memset(next, 0, sizeof(*next));
        snprintf(next->key.cii, sizeof(next->key.cii), "%s", ev->cii);
        snprintf(next->key.court_case_number,
                 sizeof(next->key.court_case_number), "%s",
                 ev->court_case_number);
        next->key.count_number = ev->count_number;
    }
    snprintf(next->county, sizeof(next->county), "%s", ev->county);
    snprintf(next->prosecutor_ori, sizeof(next->prosecutor_ori), "%s",
             workflow_nz(ev->prosecutor_ori));
    next->determination = st->det;
    next->origin = origin_opened_by(ev->kind);
    if (ev->kind == CJX_CASE_EV_IDENTIFY) {
        next->state = CJX_CASE_IDENTIFIED;
        next->times.identified_us = ev->at_us;
        return 0;
    }
    /* A petition tells the prosecutor as it is filed, so its case starts
     * where a notice's does. */
    next->state = CJX_CASE_NOTIFIED;
    next->times.notified_us = ev->at_us;
    struct cjx_case_deadlines d;
    cjx_workflow_deadlines(next, st->policy, &d);
    if (ev->at_us > d.notice_us)
        next->flags |= CJX_CASE_FLAG_NOTIFIED_LATE;
    return 0;
}

static int
apply_decision(const struct workflow_step *st, const struct cjx_case *c,
               struct cjx_case *next, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    const struct cjx_workflow_policy *p = st->policy;
    const char *what = workflow_event_what(ev->kind);
    char t1[WORKFLOW_TIME_LEN], t2[WORKFLOW_TIME_LEN], t3[WORKFLOW_TIME_LEN];
    char dur[WORKFLOW_DURATION_LEN];
    struct cjx_case_deadlines d;
    cjx_workflow_deadlines(c, p, &d);
    *next = *c;

    int made_late = ev->at_us > d.review_us;
    int arrived_late =
        st->now_us > workflow_add_us(d.review_us, p->decision_grace_us);
    if (p->review_lapse == CJX_LAPSE_NOT_CHALLENGED) {
        if (made_late)
            return cjx_errf(eb, CJX_ESTATE,
                            "%s for %s: review deadline %s passed: the "
                            "decision was taken at %s; without a decision "
                            "by the deadline the case counts as not "
                            "challenged",
                            what, st->label, workflow_time(d.review_us, t1),
                            workflow_time(ev->at_us, t2));
        if (arrived_late)
            return cjx_errf(eb, CJX_ESTATE,
                            "%s for %s: review deadline %s passed: the "
                            "decision taken at %s arrived at %s, later than "
                            "the %s allowed for delivery",
                            what, st->label, workflow_time(d.review_us, t1),
                            workflow_time(ev->at_us, t2),
                            workflow_time(st->now_us, t3),
                            workflow_duration(p->decision_grace_us, dur));
    } else if (made_late) {
        next->flags |= CJX_CASE_FLAG_DECIDED_LATE;
    }
    int err = check_not_before(
        st, c->times.notified_us,
        workflow_is_petition(c) ? "petition" : "candidate notice", eb);
    if (err != 0)
        return err;

    if (ev->kind == CJX_CASE_EV_NO_CHALLENGE) {
        if (cjx_relief_rank(ev->relief) <
            cjx_relief_rank(c->determination.floor))
            return cjx_errf(eb, CJX_ESTATE,
                            "no-challenge for %s: accepts %s, less than %s "
                            "floor %s; a prosecutor who opposes part of the "
                            "relief challenges",
                            st->label, cjx_relief_name(ev->relief),
                            whose_determination(c),
                            cjx_relief_name(c->determination.floor));
        err = check_ceiling(st, c, cjx_relief_rank(ev->relief),
                            cjx_relief_name(ev->relief), next, eb);
        if (err != 0)
            return err;
        next->state = CJX_CASE_NOT_CHALLENGED;
        next->decision = (struct cjx_case_decision){
            .kind = CJX_DECISION_NO_CHALLENGE, .relief = ev->relief};
    } else {
        /* The public-safety ground exists only against resentencing a
         * person still serving; on a completed sentence the court must
         * grant relief once the criteria are met (HS 11361.8(b), (f)). */
        if (ev->ground == CJX_GROUND_UNREASONABLE_RISK &&
            c->determination.procedure ==
                CJX_PROCEDURE_APPLICATION_REDESIGNATION)
            return cjx_errf(eb, CJX_ESTATE,
                            "challenge for %s: UNREASONABLE_RISK is a ground "
                            "only against resentencing a person still "
                            "serving the sentence, and %s determination "
                            "says APPLICATION_REDESIGNATION (completed)",
                            st->label, whose_determination(c));
        next->state = CJX_CASE_CHALLENGED;
        next->decision = (struct cjx_case_decision){
            .kind = CJX_DECISION_CHALLENGE, .ground = ev->ground};
        snprintf(next->decision.reason_code, sizeof(next->decision.reason_code),
                 "%s", workflow_nz(ev->reason_code));
    }
    next->times.decided_us = ev->at_us;
    return 0;
}

static int
apply_order(const struct workflow_step *st, const struct cjx_case *c,
            int lapsed, struct cjx_case *next, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    char t1[WORKFLOW_TIME_LEN], t2[WORKFLOW_TIME_LEN];
    int err;
    *next = *c;
    if (lapsed) {
        struct cjx_case_deadlines d;
        cjx_workflow_deadlines(c, st->policy, &d);
        if (ev->at_us <= d.review_us)
            return cjx_errf(eb, CJX_ESTATE,
                            "relief order for %s: dated %s, before the review "
                            "deadline %s passed without a decision",
                            st->label, workflow_time(ev->at_us, t1),
                            workflow_time(d.review_us, t2));
        next->decision =
            (struct cjx_case_decision){.kind = CJX_DECISION_LAPSED};
        next->times.decided_us = cjx_workflow_lapse_us(c, st->policy);
    } else if (c->decision.kind == CJX_DECISION_NONE) {
        /* A petition ordered before the prosecutor answered. */
        if ((err = check_not_before(st, c->times.notified_us, "petition",
                                    eb)) != 0)
            return err;
    } else if ((err = check_not_before(st, c->times.decided_us,
                                       "prosecutor's decision", eb)) != 0) {
        return err;
    }

    int rank = cjx_order_rank(ev->order);
    err = check_ceiling(st, c, rank, cjx_order_name(ev->order), next, eb);
    if (err != 0)
        return err;
    /* What an unchallenged case should get: what the prosecutor accepted,
     * or after a lapse what DOJ's rules guarantee. A petition the court
     * orders unanswered has no such expectation: the court decides. */
    int expected = -1;
    if (next->decision.kind == CJX_DECISION_NO_CHALLENGE)
        expected = cjx_relief_rank(next->decision.relief);
    else if (next->decision.kind == CJX_DECISION_LAPSED)
        expected = cjx_relief_rank(c->determination.floor);
    if (rank < expected)
        next->flags |= CJX_CASE_FLAG_BELOW_UNCHALLENGED;

    struct cjx_case_deadlines d;
    cjx_workflow_deadlines(next, st->policy, &d);
    if (ev->at_us > d.order_us)
        next->flags |= CJX_CASE_FLAG_ORDERED_LATE;
    next->state = CJX_CASE_ORDERED;
    next->order = ev->order;
    next->times.ordered_us = ev->at_us;
    return 0;
}

static int
apply_history_updated(const struct workflow_step *st, const struct cjx_case *c,
                      struct cjx_case *next, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    if (ev->order != c->order)
        return cjx_errf(eb, CJX_ESTATE,
                        "history-updated acknowledgement for %s: DOJ reports "
                        "applying %s but the court ordered %s",
                        st->label, cjx_order_name(ev->order),
                        cjx_order_name(c->order));
    int err = check_not_before(st, c->times.ordered_us, "relief order", eb);
    if (err != 0)
        return err;
    *next = *c;
    struct cjx_case_deadlines d;
    cjx_workflow_deadlines(c, st->policy, &d);
    if (ev->at_us > d.history_update_us)
        next->flags |= CJX_CASE_FLAG_UPDATED_LATE;
    next->state = CJX_CASE_HISTORY_UPDATED;
    next->times.history_updated_us = ev->at_us;
    return 0;
}

/* 1 while the prosecutor's challenge may still come: the case is not yet
 * notified here, or is notified, undecided and has not lapsed (a petition
 * case never lapses). */
static int
challenge_may_come(const struct cjx_case *c,
                   const struct cjx_workflow_policy *policy, int64_t now_us)
{
    if (c == NULL || c->state == CJX_CASE_IDENTIFIED)
        return 1;
    return c->state == CJX_CASE_NOTIFIED &&
           cjx_workflow_effective_state(c, policy, now_us) == CJX_CASE_NOTIFIED;
}

/* M4: the public defender's effort to reach the person, once the
 * prosecutor has challenged. The case keeps no contacts, so each report is
 * a new version; the service keeps the contacts and knows repeats. */
static int
apply_person_notified(const struct workflow_step *st, const struct cjx_case *c,
                      struct cjx_case *next, struct cjx_errbuf *eb)
{
    char desc[160];
    if (c != NULL && c->decision.kind == CJX_DECISION_CHALLENGE) {
        int err = check_not_before(st, c->times.decided_us, "challenge", eb);
        if (err != 0)
            return err;
        *next = *c;
        return 0;
    }
    if (challenge_may_come(c, st->policy, st->now_us))
        return refuse_early(st, c, eb);
    if (c->decision.kind == CJX_DECISION_NONE &&
        c->state == CJX_CASE_NOTIFIED) {
        char t[WORKFLOW_TIME_LEN];
        snprintf(desc, sizeof(desc),
                 "none by the review deadline, and the case counts as not "
                 "challenged since %s",
                 workflow_time(cjx_workflow_lapse_us(c, st->policy), t));
    } else {
        describe_decision(c, desc, sizeof(desc));
    }
    return cjx_errf(eb, CJX_ESTATE,
                    "person-notified report for %s: the prosecutor did not "
                    "challenge (decision: %s); the public defender notifies "
                    "the person only of a challenge",
                    st->label, desc);
}

static int
check_current(const struct workflow_step *st, const struct cjx_case *c,
              struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    if (state_step(c->state) < 0)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: the current case has no valid state (%d)",
                        workflow_event_what(ev->kind), st->label,
                        (int)c->state);
    if (strcmp(c->key.cii, ev->cii) != 0 ||
        strcmp(c->key.court_case_number, ev->court_case_number) != 0 ||
        c->key.count_number != ev->count_number)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: applied to a different case (%s %s #%d)",
                        workflow_event_what(ev->kind), st->label, c->key.cii,
                        c->key.court_case_number, (int)c->key.count_number);
    return 0;
}

/* How the event relates to the case: < 0 the step before it is missing,
 * 0 it is the next step, > 0 the case has taken it already. */
static int
position(const struct cjx_case *c, enum cjx_case_event_kind kind)
{
    /* A report on the person takes no step: apply_person_notified()
     * weighs it against the prosecutor's decision. */
    if (kind == CJX_CASE_EV_PERSON_NOTIFIED)
        return 0;
    /* A petition opens a case or repeats the one that did. */
    if (kind == CJX_CASE_EV_PETITION)
        return c != NULL ? 1 : 0;
    int have = c != NULL ? state_step(c->state) : 0;
    int want = event_step(kind);
    if (have >= want)
        return 1;
    /* A notice may also create a case: where DOJ identified the count
     * elsewhere, the notice is the first event this daemon sees. */
    if (have == want - 1 || (kind == CJX_CASE_EV_CANDIDATE_NOTICE && have == 0))
        return 0;
    return -1;
}

/* 1 when the court's order may follow the notice or petition directly: a
 * silent case past its lapse counts as not challenged, and a petition case
 * waits for no answer (the prosecutor was told; the court decides when). */
static int
order_skips_decision(const struct cjx_case *c,
                     const struct cjx_workflow_policy *policy, int64_t now_us)
{
    if (c == NULL || c->state != CJX_CASE_NOTIFIED)
        return 0;
    return workflow_is_petition(c) ||
           cjx_workflow_effective_state(c, policy, now_us) ==
               CJX_CASE_NOT_CHALLENGED;
}

int
cjx_workflow_apply(const struct cjx_case *current,
                   const struct cjx_case_event *ev,
                   const struct cjx_workflow_policy *policy, int64_t now_us,
                   struct cjx_case *next, struct cjx_errbuf *eb)
{
    if (ev == NULL || next == NULL)
        return cjx_errf(eb, CJX_EINVAL,
                        "workflow: an event and a result are required");
    int err = cjx_workflow_policy_check(policy, eb);
    if (err != 0)
        return err;
    const char *rule;
    enum cjx_role rightful = sender_role_for(ev->kind, &rule);
    if (rightful == CJX_ROLE_UNSPECIFIED)
        return cjx_errf(eb, CJX_EINVAL, "event: unknown kind %d",
                        (int)ev->kind);
    if (ev->sender_role != rightful)
        return cjx_errf(eb, CJX_EPERM, "%s: a %s may not send it: %s",
                        workflow_event_what(ev->kind),
                        cjx_role_name(ev->sender_role), rule);

    struct workflow_step st = {.ev = ev, .policy = policy, .now_us = now_us};
    if ((err = workflow_check_event(&st, eb)) != 0)
        return err;
    if (current != NULL &&
        ((err = check_current(&st, current, eb)) != 0 ||
         (err = check_scope(&st, current->county, current, eb)) != 0))
        return err;
    /* An event that opens a case is in the scope of its own county. */
    if (current == NULL && event_step(ev->kind) == 2 &&
        (err = check_scope(&st, ev->county, NULL, eb)) != 0)
        return err;

    struct cjx_case tmp;
    int pos = position(current, ev->kind);
    if (pos > 0) {
        err = check_repeat(&st, current, eb);
        if (err < 0)
            return err;
        if (next != current)
            memcpy(next, current, sizeof(*next));
        return 0;
    }
    if (pos < 0 && !(ev->kind == CJX_CASE_EV_RELIEF_ORDER &&
                     order_skips_decision(current, policy, now_us)))
        return refuse_early(&st, current, eb);

    switch (ev->kind) {
    case CJX_CASE_EV_IDENTIFY:
    case CJX_CASE_EV_CANDIDATE_NOTICE:
    case CJX_CASE_EV_PETITION:
        err = apply_opening(&st, current, &tmp, eb);
        break;
    case CJX_CASE_EV_PERSON_NOTIFIED:
        err = apply_person_notified(&st, current, &tmp, eb);
        break;
    case CJX_CASE_EV_NO_CHALLENGE:
    case CJX_CASE_EV_CHALLENGE:
        err = apply_decision(&st, current, &tmp, eb);
        break;
    case CJX_CASE_EV_RELIEF_ORDER:
        /* Lapsed: a silent automatic case; a petition case is not. */
        err = apply_order(&st, current,
                          pos < 0 && !workflow_is_petition(current), &tmp, eb);
        break;
    default:
        err = apply_history_updated(&st, current, &tmp, eb);
        break;
    }
    if (err != 0)
        return err;
    tmp.version = current != NULL ? current->version + 1 : 1;
    tmp.updated_us = now_us;
    cjx_workflow_deadlines(&tmp, policy, &tmp.deadlines);
    *next = tmp;
    return 0;
}

int
cjx_workflow_retry_may_succeed(const struct cjx_case *current,
                               const struct cjx_case_event *ev,
                               const struct cjx_workflow_policy *policy,
                               int64_t now_us)
{
    struct cjx_case ignored;
    if (cjx_workflow_apply(current, ev, policy, now_us, &ignored, NULL) !=
        CJX_ESTATE)
        return 0;
    /* A report on the person waits for a challenge that may still come;
     * once the case is challenged, or can no longer be, waiting is no use. */
    if (ev->kind == CJX_CASE_EV_PERSON_NOTIFIED)
        return challenge_may_come(current, policy, now_us);
    if (position(current, ev->kind) >= 0)
        return 0;
    /* An order that may skip the decision (after a lapse, or on a petition)
     * was refused for what it says, not for what is missing; any other
     * early step waits for its predecessor (or, for an order on a silent
     * case, for the lapse). */
    return !(ev->kind == CJX_CASE_EV_RELIEF_ORDER &&
             order_skips_decision(current, policy, now_us));
}
