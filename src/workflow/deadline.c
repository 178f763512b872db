/* Workflow policy, deadlines, lapse of the review period and overdue cases. */
#include <inttypes.h>
#include <stdio.h>

#include "cjx/clock.h"
#include "cjx/date.h"
#include "cjx/workflow.h"
#include "workflow_internal.h"

#define US_PER_SECOND INT64_C(1000000)
#define US_PER_MINUTE (60 * US_PER_SECOND)
#define US_PER_HOUR   (60 * US_PER_MINUTE)
#define US_PER_DAY    (24 * US_PER_HOUR)

int64_t
workflow_add_us(int64_t a, int64_t b)
{
    if (a < 0)
        return a + b; /* cannot overflow: b <= INT64_MAX */
    if (a == CJX_WORKFLOW_NO_DEADLINE || b >= CJX_WORKFLOW_NO_DEADLINE - a)
        return CJX_WORKFLOW_NO_DEADLINE;
    return a + b;
}

const char *
workflow_time(int64_t us, char *buf)
{
    if (us == CJX_WORKFLOW_NO_DEADLINE)
        snprintf(buf, WORKFLOW_TIME_LEN, "none");
    else
        cjx_clock_format_utc(us, buf, WORKFLOW_TIME_LEN);
    return buf;
}

const char *
workflow_duration(int64_t d, char *buf)
{
    static const struct {
        int64_t us;
        const char *unit;
    } units[] = {
        {US_PER_DAY, "days"},
        {US_PER_HOUR, "hours"},
        {US_PER_MINUTE, "minutes"},
        {US_PER_SECOND, "seconds"},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (d != 0 && d % units[i].us == 0) {
            snprintf(buf, WORKFLOW_DURATION_LEN, "%" PRId64 " %s",
                     d / units[i].us, units[i].unit);
            return buf;
        }
    }
    snprintf(buf, WORKFLOW_DURATION_LEN, "%" PRId64 " us", d);
    return buf;
}

/* The last microsecond of a calendar day in a zone utc_offset_hours from
 * UTC (-7 for Pacific daylight time, -8 for Pacific standard time). */
static int64_t
end_of_day_us(int year, int month, int day, int utc_offset_hours)
{
    int64_t next_midnight =
        (cjx_date_to_days(year, month, day) + 1) * US_PER_DAY;
    return next_midnight - utc_offset_hours * US_PER_HOUR - 1;
}

void
cjx_workflow_policy_init_prop64(struct cjx_workflow_policy *p)
{
    /* The statute counts calendar days in California; daylight saving time
     * was in force on 1 July and standard time on 1 March. */
    *p = (struct cjx_workflow_policy){
        .notice = {.not_after_us = end_of_day_us(2019, 7, 1, -7)},
        .review = {.not_after_us = end_of_day_us(2020, 7, 1, -7)},
        .order_unchallenged = {.not_after_us = end_of_day_us(2023, 3, 1, -8)},
        .order_challenged = {0},
        .history_update = {.not_after_us = end_of_day_us(2023, 7, 1, -7)},
        .above_ceiling = CJX_CEILING_REFUSE,
        .review_lapse = CJX_LAPSE_NOT_CHALLENGED,
        .decision_grace_us = 7 * US_PER_DAY,
        .max_clock_skew_us = 5 * US_PER_MINUTE,
    };
}

static int
check_deadline(const char *name, const struct cjx_workflow_deadline *d,
               struct cjx_errbuf *eb)
{
    if (d->window_us < 0)
        return cjx_errf(eb, CJX_EINVAL,
                        "policy.%s.window_us: must not be negative, got "
                        "%" PRId64,
                        name, d->window_us);
    if (d->not_after_us < 0)
        return cjx_errf(eb, CJX_EINVAL,
                        "policy.%s.not_after_us: must not be negative, got "
                        "%" PRId64,
                        name, d->not_after_us);
    return 0;
}

int
cjx_workflow_policy_check(const struct cjx_workflow_policy *p,
                          struct cjx_errbuf *eb)
{
    if (p == NULL)
        return cjx_errf(eb, CJX_EINVAL, "policy: required");
    int err;
    if ((err = check_deadline("notice", &p->notice, eb)) != 0 ||
        (err = check_deadline("review", &p->review, eb)) != 0 ||
        (err = check_deadline("order_unchallenged", &p->order_unchallenged,
                              eb)) != 0 ||
        (err = check_deadline("order_challenged", &p->order_challenged, eb)) !=
            0 ||
        (err = check_deadline("history_update", &p->history_update, eb)) != 0)
        return err;
    if (p->above_ceiling != CJX_CEILING_REFUSE &&
        p->above_ceiling != CJX_CEILING_FLAG)
        return cjx_errf(eb, CJX_EINVAL, "policy.above_ceiling: unknown mode %d",
                        (int)p->above_ceiling);
    if (p->review_lapse != CJX_LAPSE_NOT_CHALLENGED &&
        p->review_lapse != CJX_LAPSE_WAIT)
        return cjx_errf(eb, CJX_EINVAL, "policy.review_lapse: unknown mode %d",
                        (int)p->review_lapse);
    if (p->decision_grace_us < 0)
        return cjx_errf(eb, CJX_EINVAL,
                        "policy.decision_grace_us: must not be negative, got "
                        "%" PRId64,
                        p->decision_grace_us);
    if (p->max_clock_skew_us < 0)
        return cjx_errf(eb, CJX_EINVAL,
                        "policy.max_clock_skew_us: must not be negative, got "
                        "%" PRId64,
                        p->max_clock_skew_us);
    return 0;
}

/* A deadline that starts at start (0: the step has not been taken, so only
 * an absolute limit can apply). */
static int64_t
deadline_from(int64_t start, const struct cjx_workflow_deadline *d)
{
    int64_t by_window = CJX_WORKFLOW_NO_DEADLINE;
    if (start != 0 && d->window_us > 0)
        by_window = workflow_add_us(start, d->window_us);
    int64_t limit =
        d->not_after_us > 0 ? d->not_after_us : CJX_WORKFLOW_NO_DEADLINE;
    return by_window < limit ? by_window : limit;
}

static int64_t
review_deadline(const struct cjx_case *c,
                const struct cjx_workflow_policy *policy)
{
    /* HS 11361.8 gives the prosecutor no time limit to answer a petition;
     * the review deadline is AB 1793's, for DOJ's notices. */
    if (c->times.notified_us == 0 || workflow_is_petition(c))
        return CJX_WORKFLOW_NO_DEADLINE;
    return deadline_from(c->times.notified_us, &policy->review);
}

int64_t
cjx_workflow_lapse_us(const struct cjx_case *c,
                      const struct cjx_workflow_policy *policy)
{
    if (c == NULL || policy == NULL || c->state != CJX_CASE_NOTIFIED ||
        policy->review_lapse != CJX_LAPSE_NOT_CHALLENGED)
        return CJX_WORKFLOW_NO_DEADLINE;
    return workflow_add_us(review_deadline(c, policy),
                           policy->decision_grace_us);
}

void
cjx_workflow_deadlines(const struct cjx_case *c,
                       const struct cjx_workflow_policy *policy,
                       struct cjx_case_deadlines *out)
{
    out->notice_us = out->review_us = out->order_us = out->history_update_us =
        CJX_WORKFLOW_NO_DEADLINE;
    if (c == NULL || policy == NULL || c->state == CJX_CASE_STATE_UNSPECIFIED)
        return;

    out->review_us = review_deadline(c, policy);
    if (c->times.ordered_us != 0)
        out->history_update_us =
            deadline_from(c->times.ordered_us, &policy->history_update);
    /* A petition has neither DOJ's notice nor the automatic schedule of
     * orders (AB 1706): only DOJ's update of its record after the order
     * is timed. */
    if (workflow_is_petition(c))
        return;

    /* A case that began with a received notice has no identification time,
     * so only the absolute limit can say whether the notice was late. */
    out->notice_us = deadline_from(c->times.identified_us, &policy->notice);

    switch (c->decision.kind) {
    case CJX_DECISION_NO_CHALLENGE:
    case CJX_DECISION_LAPSED:
        out->order_us =
            deadline_from(c->times.decided_us, &policy->order_unchallenged);
        break;
    case CJX_DECISION_CHALLENGE:
        out->order_us =
            deadline_from(c->times.decided_us, &policy->order_challenged);
        break;
    default: {
        /* A silent case that will lapse has a court deadline already: the
         * court's time runs from the lapse, as from a no-challenge. */
        int64_t lapse = cjx_workflow_lapse_us(c, policy);
        if (lapse != CJX_WORKFLOW_NO_DEADLINE)
            out->order_us = deadline_from(lapse, &policy->order_unchallenged);
        break;
    }
    }
}

enum cjx_case_state
cjx_workflow_effective_state(const struct cjx_case *c,
                             const struct cjx_workflow_policy *policy,
                             int64_t now_us)
{
    if (c == NULL)
        return CJX_CASE_STATE_UNSPECIFIED;
    int64_t lapse = cjx_workflow_lapse_us(c, policy);
    if (lapse != CJX_WORKFLOW_NO_DEADLINE && now_us > lapse)
        return CJX_CASE_NOT_CHALLENGED;
    return c->state;
}

static size_t
add_overdue(struct cjx_overdue *out, size_t n, enum cjx_overdue_kind kind,
            enum cjx_role party, int64_t deadline)
{
    out[n] = (struct cjx_overdue){
        .index = 0, .kind = kind, .party = party, .deadline_us = deadline};
    return n + 1;
}

size_t
cjx_workflow_case_overdue(const struct cjx_case *c,
                          const struct cjx_workflow_policy *policy,
                          int64_t now_us, struct cjx_overdue *out)
{
    if (c == NULL || policy == NULL || out == NULL)
        return 0;
    struct cjx_case_deadlines d;
    cjx_workflow_deadlines(c, policy, &d);
    size_t n = 0;
    switch (c->state) {
    case CJX_CASE_IDENTIFIED:
        if (now_us > d.notice_us)
            n = add_overdue(out, n, CJX_OVERDUE_NOTICE, CJX_ROLE_DOJ,
                            d.notice_us);
        break;
    case CJX_CASE_NOTIFIED:
        /* The prosecutor stays overdue even once the case has lapsed: the
         * statute asks it to tell the court about every case, challenged or
         * not, and the listing is how the missing ones are found. */
        if (now_us > d.review_us)
            n = add_overdue(out, n, CJX_OVERDUE_REVIEW, CJX_ROLE_PROSECUTOR,
                            d.review_us);
        if (cjx_workflow_effective_state(c, policy, now_us) ==
                CJX_CASE_NOT_CHALLENGED &&
            now_us > d.order_us)
            n = add_overdue(out, n, CJX_OVERDUE_ORDER, CJX_ROLE_COURT,
                            d.order_us);
        break;
    case CJX_CASE_NOT_CHALLENGED:
    case CJX_CASE_CHALLENGED:
        if (now_us > d.order_us)
            n = add_overdue(out, n, CJX_OVERDUE_ORDER, CJX_ROLE_COURT,
                            d.order_us);
        break;
    case CJX_CASE_ORDERED:
        if (now_us > d.history_update_us)
            n = add_overdue(out, n, CJX_OVERDUE_HISTORY_UPDATE, CJX_ROLE_DOJ,
                            d.history_update_us);
        break;
    default:
        break;
    }
    return n;
}

size_t
cjx_workflow_list_overdue(const struct cjx_case *cases, size_t n,
                          const struct cjx_workflow_policy *policy,
                          int64_t now_us, struct cjx_overdue *out, size_t cap)
{
    size_t total = 0;
    if (cases == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct cjx_overdue one[CJX_WORKFLOW_MAX_OVERDUE_PER_CASE];
        size_t k = cjx_workflow_case_overdue(&cases[i], policy, now_us, one);
        for (size_t j = 0; j < k; j++, total++) {
            if (out != NULL && total < cap) {
                out[total] = one[j];
                out[total].index = i;
            }
        }
    }
    return total;
}
