/* The rewrite of a conviction record by a relief order: level, disposition,
 * sealing, prior relief and the relief history (relief_record.h). */
#include "relief_record.h"

#include <string.h>

#include "cjx/date.h"

#define HS_SECTION "11361.8"
#define US_PER_DAY (INT64_C(86400) * 1000000)

/* The subdivision relief is granted under: a completed sentence is
 * redesignated or dismissed and sealed on application (11361.8(e)-(f)); a
 * sentence still served is recalled on petition (11361.8(a)-(b)). */
static const char *
subdivision_of(int procedure)
{
    return procedure == CJX__V1__PROCEDURE__PROCEDURE_PETITION_RECALL_RESENTENCE
               ? "(b)"
               : "(f)";
}

static const char *
citation_of(int procedure, int origin)
{
    int petition_path = origin == CJX__V1__CASE_ORIGIN__CASE_ORIGIN_PETITION;
    if (procedure == CJX__V1__PROCEDURE__PROCEDURE_PETITION_RECALL_RESENTENCE)
        return petition_path ? "HS 11361.8(a)-(b)"
                             : "HS 11361.9; HS 11361.8(a)-(b)";
    return petition_path ? "HS 11361.8(e)-(f)"
                         : "HS 11361.9; HS 11361.8(e)-(f)";
}

static char *
arena_str(struct cjx_arena *a, const char *s)
{
    return cjx_arena_strndup(a, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static int
already_recorded(const Cjx__V1__ConvictionRecord *cur,
                 const struct relief_recording *how)
{
    for (size_t i = 0; i < cur->n_relief_history; i++) {
        const Cjx__V1__ReliefEntry *e = cur->relief_history[i];
        if (strcmp(e->order_id, how->order_id) == 0 &&
            strcmp(e->recorded_by_ori, how->recorded_by_ori) == 0)
            return 1;
    }
    return 0;
}

static Cjx__V1__ReliefEntry *
entry_of(const Cjx__V1__ConvictionRecord *cur,
         const Cjx__V1__ReliefOrder *order, const struct relief_recording *how,
         int level_after, struct cjx_arena *a)
{
    Cjx__V1__ReliefEntry *e = cjx_arena_alloc(a, sizeof(*e));
    Cjx__V1__Statute *st = cjx_arena_alloc(a, sizeof(*st));
    Cjx__V1__Date *when = cjx_arena_alloc(a, sizeof(*when));
    if (e == NULL || st == NULL || when == NULL)
        return NULL;
    cjx__v1__relief_entry__init(e);
    cjx__v1__statute__init(st);
    cjx__v1__date__init(when);
    const char *sub = subdivision_of(how->procedure);
    st->code = "HS";
    st->section = HS_SECTION;
    st->subsection = (char *)sub;
    st->normalized =
        strcmp(sub, "(b)") == 0 ? "HS 11361.8(b)" : "HS 11361.8(f)";
    st->code_raw = st->normalized;
    st->description = "";
    st->comment_text = "";
    /* Without a date of its own, an order takes effect the day it is
     * made. */
    if (order->effective_date != NULL && order->effective_date->year != 0) {
        *when = *order->effective_date;
    } else if (order->ordered_at_unix_us > 0) {
        int y, m, d;
        cjx_date_from_days(order->ordered_at_unix_us / US_PER_DAY, &y, &m, &d);
        when->year = y;
        when->month = m;
        when->day = d;
    }
    e->relief = order->relief;
    e->level_before = cur->level;
    e->level_after = level_after;
    e->order_id = arena_str(a, how->order_id);
    e->bulk_order_id = arena_str(a, order->bulk_order_id);
    e->court_ori = arena_str(a, how->court_ori);
    e->judge = arena_str(a, order->judge);
    e->effective_date = when;
    e->statute = st;
    e->citation = (char *)citation_of(how->procedure, how->origin);
    e->ordered_at_unix_us = order->ordered_at_unix_us;
    e->recorded_by_ori = arena_str(a, how->recorded_by_ori);
    e->recorded_at_unix_us = how->recorded_at_us;
    return e;
}

/* A copy of arr (n elements of size sz) with room for one more. */
static void *
grow(struct cjx_arena *a, const void *arr, size_t n, size_t sz)
{
    void *out = cjx_arena_alloc(a, (n + 1) * sz);
    if (out != NULL && n > 0)
        memcpy(out, arr, n * sz);
    return out;
}

int
relief_record_apply(const Cjx__V1__ConvictionRecord *cur,
                    const Cjx__V1__ReliefOrder *order,
                    const struct relief_recording *how, struct cjx_arena *a,
                    Cjx__V1__ConvictionRecord **out, struct cjx_errbuf *eb)
{
    *out = NULL;
    int prior = 0, level_after = cur->level;
    Cjx__V1__ConvictionRecord *next = cjx_arena_alloc(a, sizeof(*next));
    if (next == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    *next = *cur;
    switch (order->relief) {
    case CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DENIED:
        break;
    case CJX__V1__ORDER_RELIEF__ORDER_RELIEF_REDUCE_TO_MISDEMEANOR:
        level_after = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR;
        prior = CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PROP64_REDESIGNATED;
        break;
    case CJX__V1__ORDER_RELIEF__ORDER_RELIEF_REDUCE_TO_INFRACTION:
        level_after = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_INFRACTION;
        prior = CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PROP64_REDESIGNATED;
        break;
    case CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL:
        /* A dismissed count has no level after the order. */
        level_after = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_UNSPECIFIED;
        next->disposition = CJX__V1__DISPOSITION__DISPOSITION_DISMISSED;
        next->sealed = 1;
        prior = CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PROP64_DISMISSED;
        break;
    default:
        return cjx_errf(eb, CJX_EINVAL, "relief: %d is not a known order",
                        (int)order->relief);
    }
    if (already_recorded(cur, how))
        return 0;
    if (order->relief != CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL)
        next->level = level_after;
    Cjx__V1__ReliefEntry *e = entry_of(cur, order, how, level_after, a);
    Cjx__V1__ReliefEntry **hist =
        grow(a, cur->relief_history, cur->n_relief_history, sizeof(*hist));
    if (e == NULL || hist == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    hist[cur->n_relief_history] = e;
    next->relief_history = hist;
    next->n_relief_history = cur->n_relief_history + 1;
    if (prior != 0) {
        Cjx__V1__PriorRelief *pr =
            grow(a, cur->prior_relief, cur->n_prior_relief, sizeof(*pr));
        if (pr == NULL)
            return cjx_errf(eb, CJX_ENOMEM, "out of memory");
        pr[cur->n_prior_relief] = (Cjx__V1__PriorRelief)prior;
        next->prior_relief = pr;
        next->n_prior_relief = cur->n_prior_relief + 1;
    }
    *out = next;
    return 0;
}
