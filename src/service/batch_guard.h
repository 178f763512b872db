/* What every batch of messages in one call shares (a Deliver batch, the
 * NotifyCandidates, OrderBulk and SubmitRecords streams): each message is
 * counted against the caller's rate limit, and the refused ones are told in
 * the call's own audit entry rather than one entry each. */
#ifndef CJX_SERVICE_BATCH_GUARD_H
#define CJX_SERVICE_BATCH_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "cjx/call.h"
#include "cjx/error.h"

/* How many refusals the audit note quotes; the count covers the rest. */
#define BATCH_GUARD_REASONS 3

/* One batch's bookkeeping; zero-initialise it. Not locked: the batch's own
 * lock covers it. */
struct batch_guard {
    size_t admitted;        /* messages let through so far */
    int dry;                /* the bucket ran dry: the rest is refused */
    int64_t retry_after_ms; /* the wait the bucket named then */
    size_t counted, refused;
    char reasons[BATCH_GUARD_REASONS][160];
};

/* Decides whether the next message of c's batch may be handled under the
 * caller's per-agency rate limit. The first message rides on the token the
 * call took as it arrived; each later one takes a token of its own, so a
 * batch of N messages costs N. Once the bucket is dry, that message and
 * every later one of the batch are refused without asking again, so none
 * overtakes an earlier one as the bucket refills. Returns 0, or CJX_ELIMIT
 * with "agency ORI is over its limit of N requests/s; retry after M ms" in
 * eb. A refused message must not be applied: the sender retries it. */
int batch_guard_admit(struct batch_guard *g, struct cjx_call *c,
                      struct cjx_errbuf *eb);

/* Counts one message's outcome for the audit note: code is its gRPC status
 * (0 accepted), request_id and message may be NULL. */
void batch_guard_count(struct batch_guard *g, const char *request_id, int code,
                       const char *message);

/* Puts the note of the counted refusals on c's audit entry ("2 of 5000
 * messages refused: [r-1] PERMISSION_DENIED: ...; [r-2] ..."), in c's
 * arena; nothing when none was refused. Call before the call ends. */
void batch_guard_note(const struct batch_guard *g, struct cjx_call *c);

#endif
