/* Tallying cases for the progress report: steps taken in the period,
 * deadlines missed at its end, and the days of each hop as a histogram of
 * whole days, so that a median needs no list of every case. */
#include "progress.h"

#include <stdlib.h>
#include <string.h>

#include "cjx/date.h"

#define DAY_US (INT64_C(86400) * 1000000)

const char *
progress_hop_name(enum progress_hop h)
{
    static const char *const names[PROGRESS_HOPS] = {"notice", "review",
                                                     "order", "history"};
    return (unsigned)h < PROGRESS_HOPS ? names[h] : "?";
}

void
progress_init(struct progress *p, int64_t from_us, int64_t to_us,
              int64_t now_us)
{
    memset(p, 0, sizeof(*p));
    p->from_us = from_us;
    p->to_us = to_us;
    p->at_us = now_us < to_us ? now_us : to_us;
    int64_t days = (to_us - from_us + DAY_US - 1) / DAY_US;
    if (days < 1)
        days = 1;
    /* Weeks, unless the period needs longer buckets to fit. */
    p->bucket_days = 7;
    while ((days + p->bucket_days - 1) / p->bucket_days > PROGRESS_MAX_BUCKETS)
        p->bucket_days += 7;
    p->n_buckets = (int)((days + p->bucket_days - 1) / p->bucket_days);
}

void
progress_fini(struct progress *p)
{
    for (int i = 0; i < p->n; i++)
        for (int h = 0; h < PROGRESS_HOPS; h++)
            free(p->counties[i].hop_days[h]);
    p->n = 0;
}

static struct progress_county *
county_of(struct progress *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->counties[i].name, name) == 0)
            return &p->counties[i];
    if (p->n == PROGRESS_MAX_COUNTIES)
        return NULL;
    struct progress_county *c = &p->counties[p->n];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    for (int h = 0; h < PROGRESS_HOPS; h++) {
        c->hop_days[h] = calloc(PROGRESS_MAX_DAYS + 1, sizeof(uint32_t));
        if (c->hop_days[h] == NULL) {
            for (int k = 0; k < h; k++)
                free(c->hop_days[k]);
            return NULL;
        }
    }
    p->n++;
    return c;
}

static int
in_period(const struct progress *p, int64_t us)
{
    return us != 0 && us >= p->from_us && us < p->to_us;
}

/* A hop from start to end: counted when it ended in the period. */
static void
hop(struct progress *p, struct progress_county *c, enum progress_hop h,
    int64_t start, int64_t end)
{
    if (!in_period(p, end) || start == 0 || end < start)
        return;
    int64_t days = (end - start) / DAY_US;
    c->hop_days[h][days > PROGRESS_MAX_DAYS ? PROGRESS_MAX_DAYS : days]++;
    c->hop_n[h]++;
    int b = (int)((end - p->from_us) / DAY_US / p->bucket_days);
    if (b >= 0 && b < p->n_buckets)
        p->throughput[h][b]++;
}

/* A deadline passed by the period's end whose step was not taken by it. */
static int
missed(const struct progress *p, int64_t deadline, int64_t done)
{
    return deadline != 0 && deadline < p->at_us &&
           (done == 0 || done > deadline);
}

int
progress_add(struct progress *p, const Cjx__V1__Case *cs)
{
    struct progress_county *c = county_of(p, cs->county);
    if (c == NULL)
        return -1;
    c->cases++;
    if ((unsigned)cs->state < PROGRESS_STATES)
        c->by_state[cs->state]++;
    static const Cjx__V1__CaseTimes no_times = CJX__V1__CASE_TIMES__INIT;
    static const Cjx__V1__CaseDeadlines no_deadlines =
        CJX__V1__CASE_DEADLINES__INIT;
    const Cjx__V1__CaseTimes *t = cs->times ? cs->times : &no_times;
    const Cjx__V1__CaseDeadlines *d =
        cs->deadlines ? cs->deadlines : &no_deadlines;
    if (in_period(p, t->notified_at_unix_us))
        c->notified++;
    if (in_period(p, t->decided_at_unix_us)) {
        switch (cs->decision) {
        case CJX__V1__DECISION_KIND__DECISION_KIND_NO_CHALLENGE:
            c->not_challenged++;
            break;
        case CJX__V1__DECISION_KIND__DECISION_KIND_CHALLENGE:
            c->challenged++;
            break;
        case CJX__V1__DECISION_KIND__DECISION_KIND_LAPSED:
            c->lapsed++;
            break;
        default:
            break;
        }
    }
    if (in_period(p, t->ordered_at_unix_us) &&
        (unsigned)cs->order < PROGRESS_ORDERS)
        c->orders[cs->order]++;
    if (in_period(p, t->history_updated_at_unix_us))
        c->records_updated++;
    hop(p, c, PROGRESS_HOP_NOTICE, t->identified_at_unix_us,
        t->notified_at_unix_us);
    hop(p, c, PROGRESS_HOP_REVIEW, t->notified_at_unix_us,
        t->decided_at_unix_us);
    hop(p, c, PROGRESS_HOP_ORDER, t->decided_at_unix_us, t->ordered_at_unix_us);
    hop(p, c, PROGRESS_HOP_HISTORY, t->ordered_at_unix_us,
        t->history_updated_at_unix_us);
    c->overdue[PROGRESS_HOP_NOTICE] +=
        missed(p, d->notice_by_unix_us, t->notified_at_unix_us);
    c->overdue[PROGRESS_HOP_REVIEW] +=
        missed(p, d->review_by_unix_us, t->decided_at_unix_us);
    c->overdue[PROGRESS_HOP_ORDER] +=
        missed(p, d->order_by_unix_us, t->ordered_at_unix_us);
    c->overdue[PROGRESS_HOP_HISTORY] +=
        missed(p, d->history_update_by_unix_us, t->history_updated_at_unix_us);
    return 0;
}

int
progress_median_days(const struct progress_county *c, enum progress_hop h)
{
    if (c->hop_n[h] == 0)
        return -1;
    long want = (c->hop_n[h] + 1) / 2, seen = 0;
    for (int d = 0; d <= PROGRESS_MAX_DAYS; d++) {
        seen += c->hop_days[h][d];
        if (seen >= want)
            return d;
    }
    return PROGRESS_MAX_DAYS;
}

void
progress_last_quarter(int64_t now_us, int64_t *from_us, int64_t *to_us)
{
    int y, m, d;
    cjx_date_from_days(now_us / DAY_US, &y, &m, &d);
    int q_month = (m - 1) / 3 * 3 + 1; /* first month of this quarter */
    int fy = y, fm = q_month - 3;
    if (fm < 1) {
        fm += 12;
        fy--;
    }
    *from_us = cjx_date_to_days(fy, fm, 1) * DAY_US;
    *to_us = cjx_date_to_days(y, q_month, 1) * DAY_US;
}
