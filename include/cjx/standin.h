/* Stand-ins for the agencies' own case systems: automated policies from the
 * configuration (`exchange.stand_in`) that take this agency's steps the way
 * a prosecutor's, court's or DOJ's system would through the local API.
 *
 * They exist to run the exchange end to end without those systems (the
 * development and demonstration setups); a deployment leaves them out and
 * its people decide. A stand-in follows this daemon's case feed and, for
 * each change that calls for this agency's step, submits that step as the
 * local operator (include/cjx/cases.h), under a message id derived from the
 * case and the step, so that following the feed again (after a restart)
 * repeats nothing. Of several replicas of one agency, only the one that
 * leads (cjx_store_lead()) takes steps; another takes over within a second
 * of the leader's end.
 *
 *   prosecutor: on a notice, no challenge with DOJ's relief; a challenge
 *               (CRITERIA_NOT_MET) when the determination carries one of
 *               the configured flags; HUMAN_REVIEW left pending (or, with
 *               `human_review: floor`, no challenge at DOJ's floor when it
 *               is a grant).
 *   court:      on a decision, the configured order for unchallenged and
 *               for challenged cases.
 *   DOJ:        on an order, the history-updated acknowledgement (DOJ's
 *               criminal-history system has applied it). */
#ifndef CJX_STANDIN_H
#define CJX_STANDIN_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "cjx/conf.h"
#include "cjx/error.h"
#include "cjx/service.h"
#include "cjx/store.h"

struct cjx_standin;

/* Starts the stand-in of conf's agency's role if the configuration has one
 * (*out is NULL otherwise). svc and store are borrowed and must outlive it;
 * the stand-in takes a reference to conf of its own. */
int cjx_standin_start(struct cjx_service *svc, struct cjx_store *store,
                      const struct cjx_conf *conf, struct cjx_standin **out,
                      struct cjx_errbuf *eb);

/* Swaps in conf (a reference of its own) for the feed reads from now on; a
 * read in progress, and the steps it submitted, keep theirs. Cannot fail.
 * s may be NULL (no stand-in): nothing happens. */
void cjx_standin_reload(struct cjx_standin *s, const struct cjx_conf *conf);

/* The configuration the stand-in runs on, with a reference for the caller
 * (cjx_conf_unref). */
const struct cjx_conf *cjx_standin_conf(struct cjx_standin *s);

/* Stops following the feed, waits for submitted steps, frees. NULL ok. */
void cjx_standin_stop(struct cjx_standin *s);

/* The step the policy of conf takes for the case version c (a packed
 * cjx.v1.Case made by event), or NULL when it takes none. The message is
 * allocated from arena. For tests and `cjxctl`-free dry runs. */
struct cjx_arena;
ProtobufCMessage *cjx_standin_step(const struct cjx_conf *conf, int event,
                                   const void *case_bytes, size_t len,
                                   int64_t now_us, struct cjx_arena *arena);

#endif
