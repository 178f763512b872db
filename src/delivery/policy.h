/* The delivery worker's decisions, as a pure function: what becomes of
 * each row of a batch once its Deliver call has answered (or failed).
 * No I/O, no clock, no randomness of its own: the time and the jitter are
 * parameters, so the policy is tested as a table (tests/unit/
 * test_delivery_policy.c). Private to src/delivery. */
#ifndef CJX_DELIVERY_POLICY_H
#define CJX_DELIVERY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "cjx/store_cases.h"
#include "cjx/v1/exchange.pb-c.h"

/* One row of a batch: its outbox id and how often it was tried. */
struct delivery_row {
    int64_t id;
    int attempts;
};

/* What the Deliver call came to. */
struct delivery_answer {
    int transport_err;   /* 0, or the CJX code of a call never answered */
    int code;            /* the call's status (enum cjx_status) */
    const char *message; /* the call's status message */
    /* With code OK: the peer's results, one per row in order; NULL when
     * they did not decode (treated as a failed call). */
    const Cjx__V1__CaseResults *results;
};

/* Exponential backoff per row: initial_us after the first failure,
 * doubling per attempt up to max_us, times the jitter. */
struct delivery_backoff {
    int64_t initial_us;
    int64_t max_us;
    /* Returns base times a factor in [0.5, 1.5), so that rows that failed
     * together do not retry together. */
    int64_t (*jitter)(void *arg, int64_t base);
    void *jitter_arg;
};

/* What the decision means for the sender. */
struct delivery_verdict {
    int peer_failed; /* the call failed as a whole (unreachable, refused) */
    int shrink;      /* the peer found the batch too big: send half */
    int refused_all; /* the peer refused the whole batch for good */
    size_t delivered, retried, parked;
};

/* Room for the reason of one row's mark. */
#define DELIVERY_WHY_LEN 200

/* Fills marks[i] (and why[i], which marks[i].error points to) for each of
 * the n rows of a batch delivered to endpoint, given the answer, at now_us:
 *   - every result OK: delivered (a repeated id is the peer's inbox answering);
 *   - a result the peer may accept later (unavailable, overloaded, a step
 *     not arrived there yet): retried after the row's own backoff;
 *   - any other result: parked with the peer's reason;
 *   - a call that failed as a whole: RESOURCE_EXHAUSTED or INVALID_ARGUMENT
 *     for a batch of several rows retries them all at once and asks for
 *     half as many per call (the peer's limit may be smaller, or one row
 *     unreadable to it); another final status parks them all; anything
 *     else (unreachable, deadline) retries each row after its own backoff.
 * Rows back off by their own attempts, so a row written during an outage
 * is tried again soon after it, whatever the peer's history. */
void delivery_decide(const struct delivery_row *rows, size_t n,
                     const struct delivery_answer *a,
                     const struct delivery_backoff *b, int64_t now_us,
                     const char *endpoint, struct cjx_outbox_mark *marks,
                     char (*why)[DELIVERY_WHY_LEN], struct delivery_verdict *v);

/* The wait before attempt attempts + 1, before jitter. */
int64_t delivery_backoff_us(const struct delivery_backoff *b, int attempts);

/* How long a sender woken by new rows waits for more to gather before it
 * reads them, given how long ago its last Deliver call ended (idle_us;
 * INT64_MAX when it has made none). A sender that called within the last
 * linger_us is on a busy outbox: it waits linger_us, so that rows which
 * keep coming go out in batches. One idle for longer waits for nothing: a
 * lone hand-off on a quiet exchange goes out at once instead of waiting
 * for company that is not coming. */
int64_t delivery_linger_us(int64_t idle_us, int64_t linger_us);

#endif
