/* The serving status of cjxd, as grpc.health.v1.Health tells it, private to
 * the service module.
 *
 * The daemon serves while it can do its work: NOT_SERVING while it drains
 * (a graceful stop) and while its store cannot commit, from a transaction
 * that failed until the next one commits. Every call cjxd answers is
 * audited in the store, so while the store cannot commit no service works,
 * and every service cjxd serves reports the daemon's status. Watch streams
 * are sent each change. */
#ifndef CJX_SERVICE_HEALTH_H
#define CJX_SERVICE_HEALTH_H

#include "cjx/service.h"

struct health;

/* Returns a new status (SERVING) or NULL without memory; free with
 * health_free() once every Watch stream is over. */
struct health *health_new(void);
void health_free(struct health *h);

/* The store's outcome hook (cjx_store_outcome_fn): arg is the health. */
void health_on_store_outcome(void *arg, int committed, const char *detail);

/* Turns NOT_SERVING for good, sends that to every Watch stream and then
 * ends each (UNAVAILABLE: the client retries elsewhere or later). New Watch
 * streams are told NOT_SERVING and ended the same way. */
void health_drain(struct health *h);

#endif
