/* Checks of an event's own fields, before it meets any case. */
#include <stdio.h>
#include <string.h>

#include "cjx/date.h"
#include "cjx/workflow.h"
#include "workflow_internal.h"

#define US_PER_DAY (INT64_C(86400) * 1000000)

const char *
workflow_event_what(enum cjx_case_event_kind k)
{
    switch (k) {
    case CJX_CASE_EV_IDENTIFY:
        return "identification";
    case CJX_CASE_EV_CANDIDATE_NOTICE:
        return "candidate notice";
    case CJX_CASE_EV_NO_CHALLENGE:
        return "no-challenge";
    case CJX_CASE_EV_CHALLENGE:
        return "challenge";
    case CJX_CASE_EV_RELIEF_ORDER:
        return "relief order";
    case CJX_CASE_EV_HISTORY_UPDATED:
        return "history-updated acknowledgement";
    case CJX_CASE_EV_PERSON_NOTIFIED:
        return "person-notified report";
    case CJX_CASE_EV_PETITION:
        return "petition";
    default:
        return "event";
    }
}

/* A required text field: non-empty, printable, at most max bytes. */
static int
check_text(const char *what, const char *field, const char *v, size_t max,
           struct cjx_errbuf *eb)
{
    if (v == NULL || v[0] == '\0')
        return cjx_errf(eb, CJX_EINVAL, "%s: %s: required", what, field);
    size_t n = strlen(v);
    if (n > max)
        return cjx_errf(eb, CJX_EINVAL, "%s: %s: longer than %zu characters",
                        what, field, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return cjx_errf(eb, CJX_EINVAL,
                            "%s: %s: contains a control character", what,
                            field);
    return 0;
}

static int
is_upper_digit(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int
check_key(const struct cjx_case_event *ev, struct cjx_errbuf *eb)
{
    const char *what = workflow_event_what(ev->kind);
    int err = check_text(what, "cii", ev->cii, CJX_CASE_CII_MAX, eb);
    if (err != 0)
        return err;
    for (const char *p = ev->cii; *p != '\0'; p++)
        if (!is_upper_digit(*p))
            return cjx_errf(eb, CJX_EINVAL,
                            "%s: cii: only capital letters and digits allowed",
                            what);
    err = check_text(what, "court_case_number", ev->court_case_number,
                     CJX_CASE_NUMBER_MAX, eb);
    if (err != 0)
        return err;
    if (ev->count_number < 1 || ev->count_number > CJX_CASE_COUNT_MAX)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s: count_number: must be 1..%d, got %d", what,
                        CJX_CASE_COUNT_MAX, (int)ev->count_number);
    return 0;
}

/* An ORI, or "" / NULL when optional is set. */
static int
check_ori(const struct workflow_step *st, const char *field, const char *v,
          int optional, struct cjx_errbuf *eb)
{
    if (v == NULL || v[0] == '\0') {
        if (optional)
            return 0;
        return cjx_errf(eb, CJX_EINVAL, "%s for %s: %s: required",
                        workflow_event_what(st->ev->kind), st->label, field);
    }
    size_t n = 0;
    while (v[n] != '\0' && is_upper_digit(v[n]))
        n++;
    if (v[n] != '\0' || n != CJX_ORI_LEN)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: %s: not an ORI (exactly %d capital "
                        "letters and digits)",
                        workflow_event_what(st->ev->kind), st->label, field,
                        CJX_ORI_LEN);
    return 0;
}

/* A determination as DOJ's rules give it (or, for a petition, the court's);
 * on success st->det holds it with floor and ceiling filled in. */
static int
check_determination(struct workflow_step *st, struct cjx_errbuf *eb)
{
    const struct cjx_relief_determination *d = &st->ev->determination;
    const char *what = workflow_event_what(st->ev->kind);
    struct cjx_relief_determination out = *d;
    /* DOJ sends only candidates for relief. A person may petition whatever
     * the rules say, and the court must still decide: NOT_ELIGIBLE then
     * bounds the order to a denial. */
    int not_eligible_ok = st->ev->kind == CJX_CASE_EV_PETITION;

    switch (d->relief) {
    case CJX_RELIEF_NOT_ELIGIBLE:
        if (!not_eligible_ok)
            return cjx_errf(eb, CJX_EINVAL,
                            "%s for %s: determination.relief: a count with "
                            "%s is not a candidate for relief",
                            what, st->label, cjx_relief_name(d->relief));
        /* A definite result like the grants. */
        /* fall through */
    case CJX_RELIEF_REDUCE_TO_MISDEMEANOR:
    case CJX_RELIEF_REDUCE_TO_INFRACTION:
    case CJX_RELIEF_DISMISS_AND_SEAL:
        if ((d->floor != CJX_RELIEF_UNSPECIFIED && d->floor != d->relief) ||
            (d->ceiling != CJX_RELIEF_UNSPECIFIED && d->ceiling != d->relief))
            return cjx_errf(eb, CJX_EINVAL,
                            "%s for %s: determination: floor %s and ceiling "
                            "%s must equal the relief %s (or be unset) "
                            "unless the relief is HUMAN_REVIEW",
                            what, st->label, cjx_relief_name(d->floor),
                            cjx_relief_name(d->ceiling),
                            cjx_relief_name(d->relief));
        out.floor = out.ceiling = d->relief;
        break;
    case CJX_RELIEF_HUMAN_REVIEW:
        if (cjx_relief_rank(d->floor) < 0)
            return cjx_errf(eb, CJX_EINVAL,
                            "%s for %s: determination.floor: HUMAN_REVIEW "
                            "needs a floor (NOT_ELIGIBLE or a relief), got %s",
                            what, st->label, cjx_relief_name(d->floor));
        if (cjx_relief_rank(d->ceiling) < 1)
            return cjx_errf(eb, CJX_EINVAL,
                            "%s for %s: determination.ceiling: HUMAN_REVIEW "
                            "needs a ceiling that grants relief, got %s",
                            what, st->label, cjx_relief_name(d->ceiling));
        if (cjx_relief_rank(d->floor) > cjx_relief_rank(d->ceiling))
            return cjx_errf(eb, CJX_EINVAL,
                            "%s for %s: determination: floor %s is above "
                            "the ceiling %s",
                            what, st->label, cjx_relief_name(d->floor),
                            cjx_relief_name(d->ceiling));
        break;
    case CJX_RELIEF_UNSPECIFIED:
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: determination.relief: required", what,
                        st->label);
    case CJX_RELIEF_NO_ACTION:
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: determination.relief: a count with %s is "
                        "not a candidate for relief",
                        what, st->label, cjx_relief_name(d->relief));
    default:
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: determination.relief: unknown value %d",
                        what, st->label, (int)d->relief);
    }
    if ((int)d->procedure < CJX_PROCEDURE_UNSPECIFIED ||
        d->procedure > CJX_PROCEDURE_UNKNOWN_SENTENCE_STATUS)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: determination.procedure: unknown value %d",
                        what, st->label, (int)d->procedure);
    st->det = out;
    return 0;
}

static int
check_reason_code(const struct workflow_step *st, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    const char *r = workflow_nz(ev->reason_code);
    if (r[0] == '\0') {
        if (ev->ground == CJX_GROUND_CRITERIA_NOT_MET)
            return cjx_errf(eb, CJX_EINVAL,
                            "challenge for %s: reason_code: required with "
                            "ground CRITERIA_NOT_MET (which criterion is not "
                            "met, e.g. FELONY_RETAINED_TWO_PRIORS)",
                            st->label);
        return 0;
    }
    size_t n = strlen(r);
    if (n > CJX_CASE_REASON_MAX)
        return cjx_errf(eb, CJX_EINVAL,
                        "challenge for %s: reason_code: longer than %d "
                        "characters",
                        st->label, CJX_CASE_REASON_MAX);
    for (size_t i = 0; i < n; i++)
        if (!is_upper_digit(r[i]) && r[i] != '_')
            return cjx_errf(eb, CJX_EINVAL,
                            "challenge for %s: reason_code: '%s' is not a "
                            "reason code (A-Z, 0-9 and '_')",
                            st->label, r);
    return 0;
}

static int
check_order_value(const struct workflow_step *st, const char *field,
                  enum cjx_order o, struct cjx_errbuf *eb)
{
    if (cjx_order_rank(o) >= 0)
        return 0;
    if (o == CJX_ORDER_UNSPECIFIED)
        return cjx_errf(eb, CJX_EINVAL, "%s for %s: %s: required",
                        workflow_event_what(st->ev->kind), st->label, field);
    return cjx_errf(eb, CJX_EINVAL, "%s for %s: %s: unknown value %d",
                    workflow_event_what(st->ev->kind), st->label, field,
                    (int)o);
}

/* The origin an opening event declares: none (the one its kind implies) or
 * that one. */
static int
check_origin(const struct workflow_step *st, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    enum cjx_case_origin implied = ev->kind == CJX_CASE_EV_PETITION
                                       ? CJX_CASE_ORIGIN_PETITION
                                       : CJX_CASE_ORIGIN_AUTOMATIC_REVIEW;
    if (ev->origin == CJX_CASE_ORIGIN_UNSPECIFIED || ev->origin == implied)
        return 0;
    return cjx_errf(eb, CJX_EINVAL,
                    "%s for %s: origin: the case it opens is of origin %s, "
                    "not %s (%d)",
                    workflow_event_what(ev->kind), st->label,
                    cjx_case_origin_name(implied),
                    cjx_case_origin_name(ev->origin), (int)ev->origin);
}

/* The fields of an event that opens a case: a notice or a petition. */
static int
check_opening(struct workflow_step *st, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    char what[WORKFLOW_LABEL_LEN + 40]; /* "<event> for <label>" */
    snprintf(what, sizeof(what), "%s for %s", workflow_event_what(ev->kind),
             st->label);
    int err;
    if ((err = check_text(what, "county", ev->county, CJX_CASE_COUNTY_MAX,
                          eb)) != 0 ||
        (err = check_ori(st, "prosecutor_ori", ev->prosecutor_ori, 1, eb)) !=
            0 ||
        (err = check_origin(st, eb)) != 0)
        return err;
    return check_determination(st, eb);
}

/* A public defender's report of an effort to reach the person: a real
 * contact date no later than the report, a known method and outcome. */
static int
check_contact(const struct workflow_step *st, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    const struct cjx_case_date *d = &ev->contact_date;
    const char *what = workflow_event_what(ev->kind);
    if (d->year == 0 && d->month == 0 && d->day == 0)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: contact_date: required (when the "
                        "defender tried to reach the person)",
                        what, st->label);
    if (!cjx_date_is_valid(d->year, d->month, d->day))
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: contact_date: %d-%d-%d is not a calendar "
                        "date",
                        what, st->label, (int)d->year, (int)d->month,
                        (int)d->day);
    /* A day of slack: the defender dates the contact in California, the
     * report's time is UTC. */
    if (cjx_date_to_days(d->year, d->month, d->day) >
        ev->at_us / US_PER_DAY + 1)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: contact_date: %04d-%02d-%02d is after "
                        "the report was made",
                        what, st->label, (int)d->year, (int)d->month,
                        (int)d->day);
    if (ev->contact_method == CJX_CONTACT_METHOD_UNSPECIFIED)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: method: required (MAIL, PHONE, EMAIL, "
                        "IN_PERSON or OTHER)",
                        what, st->label);
    if (ev->contact_method < CJX_CONTACT_METHOD_UNSPECIFIED ||
        ev->contact_method > CJX_CONTACT_OTHER)
        return cjx_errf(eb, CJX_EINVAL, "%s for %s: method: unknown value %d",
                        what, st->label, (int)ev->contact_method);
    if (ev->contact_outcome == CJX_CONTACT_OUTCOME_UNSPECIFIED)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: outcome: required (REACHED, NO_RESPONSE, "
                        "UNDELIVERABLE or NO_CONTACT_INFO)",
                        what, st->label);
    if (ev->contact_outcome < CJX_CONTACT_OUTCOME_UNSPECIFIED ||
        ev->contact_outcome > CJX_CONTACT_NO_CONTACT_INFO)
        return cjx_errf(eb, CJX_EINVAL, "%s for %s: outcome: unknown value %d",
                        what, st->label, (int)ev->contact_outcome);
    return 0;
}

static int
check_payload(struct workflow_step *st, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    switch (ev->kind) {
    case CJX_CASE_EV_IDENTIFY:
    case CJX_CASE_EV_CANDIDATE_NOTICE:
    case CJX_CASE_EV_PETITION:
        return check_opening(st, eb);
    case CJX_CASE_EV_PERSON_NOTIFIED:
        return check_contact(st, eb);
    case CJX_CASE_EV_NO_CHALLENGE:
        if (cjx_relief_rank(ev->relief) >= 1)
            return 0;
        if (ev->relief == CJX_RELIEF_UNSPECIFIED)
            return cjx_errf(eb, CJX_EINVAL,
                            "no-challenge for %s: relief: required (the "
                            "relief the prosecutor does not oppose)",
                            st->label);
        if (ev->relief == CJX_RELIEF_NOT_ELIGIBLE ||
            ev->relief == CJX_RELIEF_HUMAN_REVIEW ||
            ev->relief == CJX_RELIEF_NO_ACTION)
            return cjx_errf(eb, CJX_EINVAL,
                            "no-challenge for %s: relief: %s grants no "
                            "relief (REDUCE_TO_MISDEMEANOR, "
                            "REDUCE_TO_INFRACTION or DISMISS_AND_SEAL); a "
                            "prosecutor who opposes relief challenges",
                            st->label, cjx_relief_name(ev->relief));
        return cjx_errf(eb, CJX_EINVAL,
                        "no-challenge for %s: relief: unknown value %d",
                        st->label, (int)ev->relief);
    case CJX_CASE_EV_CHALLENGE:
        if (ev->ground == CJX_GROUND_UNSPECIFIED)
            return cjx_errf(eb, CJX_EINVAL,
                            "challenge for %s: ground: required "
                            "(CRITERIA_NOT_MET or UNREASONABLE_RISK)",
                            st->label);
        if (ev->ground != CJX_GROUND_CRITERIA_NOT_MET &&
            ev->ground != CJX_GROUND_UNREASONABLE_RISK)
            return cjx_errf(eb, CJX_EINVAL,
                            "challenge for %s: ground: unknown value %d",
                            st->label, (int)ev->ground);
        return check_reason_code(st, eb);
    case CJX_CASE_EV_RELIEF_ORDER:
        return check_order_value(st, "order", ev->order, eb);
    case CJX_CASE_EV_HISTORY_UPDATED:
        return check_order_value(st, "order (the order DOJ applied)", ev->order,
                                 eb);
    default:
        return cjx_errf(eb, CJX_EINVAL, "event: unknown kind %d",
                        (int)ev->kind);
    }
}

int
workflow_check_event(struct workflow_step *st, struct cjx_errbuf *eb)
{
    const struct cjx_case_event *ev = st->ev;
    char t1[WORKFLOW_TIME_LEN], t2[WORKFLOW_TIME_LEN];
    char dur[WORKFLOW_DURATION_LEN];
    int err = check_key(ev, eb);
    if (err != 0)
        return err;
    snprintf(st->label, sizeof(st->label), "case %s %s #%d", ev->cii,
             ev->court_case_number, (int)ev->count_number);

    if ((err = check_ori(st, "sender_ori", ev->sender_ori, 0, eb)) != 0)
        return err;
    if (ev->at_us <= 0)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: at_us: required (when the sender took "
                        "the step)",
                        workflow_event_what(ev->kind), st->label);
    if (ev->at_us > workflow_add_us(st->now_us, st->policy->max_clock_skew_us))
        return cjx_errf(eb, CJX_EINVAL,
                        "%s for %s: at_us: %s is more than %s ahead of now "
                        "(%s)",
                        workflow_event_what(ev->kind), st->label,
                        workflow_time(ev->at_us, t1),
                        workflow_duration(st->policy->max_clock_skew_us, dur),
                        workflow_time(st->now_us, t2));
    return check_payload(st, eb);
}
