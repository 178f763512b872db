/* The outbox worker: delivers the hand-offs a daemon's steps queued to the
 * peers that must receive them, over one long-lived mTLS channel per peer.
 *
 * A hand-off is written to the outbox in the transaction of the step that
 * caused it (include/cjx/store_cases.h). The worker takes due rows in
 * batches, sends each batch in one CaseService/Deliver call with a
 * deadline, and marks every row by its result: delivered; retried later
 * with exponential backoff and jitter (the peer is unreachable, or refused
 * only because an earlier step has not reached it yet); or parked with the
 * peer's reason (any other refusal, which waiting cannot change). Receivers
 * answer a repeated message id with their first answer, so a row sent again
 * after a crash or a lost reply takes effect exactly once.
 *
 * Each peer's channel is watched: when it becomes ready after it was not
 * (the peer was down), the rows waiting for that peer are made due at once
 * (cjx_store_outbox_due_now), so a peer back from an outage gets them then,
 * not when each row's backoff ends. An agency's endpoint may list several
 * replicas; calls go round-robin over the healthy ones. */
#ifndef CJX_DELIVERY_H
#define CJX_DELIVERY_H

#include "cjx/conf.h"
#include "cjx/error.h"
#include "cjx/store.h"

struct cjx_delivery;

/* The client credentials of the daemon (PEM text, copied and wiped when
 * no longer needed). */
struct cjx_delivery_tls {
    const char *ca_pem;
    const char *cert_pem;
    const char *key_pem;
};

/* Starts one sender thread per `exchange.delivery.streams_per_peer`, and a
 * watcher of its channel, for every registered agency with an endpoint other than conf's own. store is
 * borrowed and must outlive the worker; the worker takes a reference to
 * conf of its own, and tls is copied. Returns 0 with a new worker (stop
 * with cjx_delivery_stop), or CJX_ENOMEM/CJX_EINVAL.
 */
int cjx_delivery_start(struct cjx_store *store, const struct cjx_conf *conf,
                       const struct cjx_delivery_tls *tls,
                       struct cjx_delivery **out, struct cjx_errbuf *eb);

/* Taking up a new configuration (registry, settings) and credentials, in
 * two steps so that a daemon can prepare every module before it changes
 * any. cjx_delivery_prepare_reload does all that can fail (the peers'
 * channels, a reference to conf); the running senders are untouched. Then
 * exactly one of: cjx_delivery_commit_reload, which cannot fail, restarts
 * the senders on it (a row in flight when they stop is sent again); or
 * cjx_delivery_cancel_reload, which drops it (NULL ok). */
struct cjx_delivery_reload;
int cjx_delivery_prepare_reload(struct cjx_delivery *d,
                                const struct cjx_conf *conf,
                                const struct cjx_delivery_tls *tls,
                                struct cjx_delivery_reload **out,
                                struct cjx_errbuf *eb);
void cjx_delivery_commit_reload(struct cjx_delivery *d,
                                struct cjx_delivery_reload *r);
void cjx_delivery_cancel_reload(struct cjx_delivery_reload *r);

/* The configuration the worker runs on, with a reference for the caller
 * (cjx_conf_unref). */
const struct cjx_conf *cjx_delivery_conf(struct cjx_delivery *d);

/* Visits every peer delivered to: its ORI, endpoint, and the most failed
 * calls in a row of any of its senders (0: the last call reached it, or
 * none was needed). Return non-zero to stop. Safe from any thread; a reload
 * waits for the visit. d may be NULL (no peers). */
typedef int (*cjx_delivery_peer_fn)(void *arg, const char *ori,
                                    const char *endpoint, int failed_calls);
void cjx_delivery_peers(struct cjx_delivery *d, cjx_delivery_peer_fn visit,
                        void *arg);

/* Stops the senders (cancelling calls in flight) and frees the worker.
 * Accepts NULL. */
void cjx_delivery_stop(struct cjx_delivery *d);

#endif
