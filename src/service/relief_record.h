/* What a relief order does to a conviction record (HS 11361.8; DESIGN.md
 * invariant 6): the pure rewrite that the court's daemon applies when it
 * orders, the other parties' daemons when the order reaches them, and DOJ's
 * daemon when it applies the order to its criminal history before it
 * acknowledges. No I/O; everything it makes lives in the caller's arena. */
#ifndef CJX_SERVICE_RELIEF_RECORD_H
#define CJX_SERVICE_RELIEF_RECORD_H

#include <stdint.h>

#include "cjx/arena.h"
#include "cjx/error.h"
#include "cjx/v1/conviction.pb-c.h"
#include "cjx/v1/exchange.pb-c.h"

/* Who records the order, and on what the order rests. */
struct relief_recording {
    const char *recorded_by_ori; /* the agency whose copy this is */
    int64_t recorded_at_us;
    const char *order_id;  /* the court's message id of the order */
    const char *court_ori; /* the court that made it */
    /* From the case: how relief is granted (Procedure) and how the case
     * came (CaseOrigin), for the statute and citation of the entry. */
    int procedure;
    int origin;
};

/* Fills *out (allocated in a) with the record cur becomes under order:
 *   DISMISS_AND_SEAL     disposition DISMISSED, sealed, prior relief
 *                        PROP64_DISMISSED;
 *   REDUCE_TO_*          level MISDEMEANOR or INFRACTION, prior relief
 *                        PROP64_REDESIGNATED;
 *   DENIED               unchanged but for the history entry;
 * each with a relief-history entry (order id, bulk-order id, court, judge,
 * effective date, statute, citation, who recorded it and when) appended.
 * cur is not changed; *out shares its unchanged parts. When cur already
 * holds an entry for the same order id recorded by the same agency, *out
 * is NULL: the order is on the record already. 0, CJX_EINVAL (an order
 * that grants nothing known) or CJX_ENOMEM. */
int relief_record_apply(const Cjx__V1__ConvictionRecord *cur,
                        const Cjx__V1__ReliefOrder *order,
                        const struct relief_recording *how, struct cjx_arena *a,
                        Cjx__V1__ConvictionRecord **out, struct cjx_errbuf *eb);

#endif
