/* Per-agency request rate limits: one token bucket per ORI.
 *
 * Pure bookkeeping: the caller passes the time (monotonic microseconds), so
 * tests drive it with a fake clock. */
#ifndef CJX_RPC_RATELIMIT_H
#define CJX_RPC_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

/* Returns a new, empty limiter (NULL when out of memory); free with
 * ratelimit_free(). Thread-safe. */
struct ratelimit *ratelimit_new(void);
/* Accepts NULL. */
void ratelimit_free(struct ratelimit *rl);

/* Takes one token from key's bucket, which refills at rate tokens per second
 * up to burst tokens and starts full. rate and burst come with each call, so
 * a reloaded configuration applies at once to existing buckets. Returns 1
 * when the request may go ahead; 0 when the bucket is empty, with the
 * milliseconds until a token is available (at least 1) in *retry_after_ms.
 * A rate of 0 or less means no limit. When the limiter cannot allocate a
 * bucket for a new key the request goes ahead: running out of memory here is
 * not the caller's fault. */
int ratelimit_take(struct ratelimit *rl, const char *key, int rate, int burst,
                   int64_t now_us, int64_t *retry_after_ms);

/* Number of keys with a bucket (for tests). */
int ratelimit_keys(struct ratelimit *rl);

#endif
