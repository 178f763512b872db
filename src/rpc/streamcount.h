/* Open streams counted by key (a connection's peer address, an agency's
 * ORI), so that no connection or agency holds more than its limit.
 *
 * Pure bookkeeping, thread-safe; the server takes a count when it admits a
 * streaming call and gives it back when the call is freed. */
#ifndef CJX_RPC_STREAMCOUNT_H
#define CJX_RPC_STREAMCOUNT_H

struct streamcount;

/* Returns a new, empty table (NULL when out of memory); free with
 * streamcount_free(). Accepts NULL. */
struct streamcount *streamcount_new(void);
void streamcount_free(struct streamcount *t);

/* Counts one more stream under key if fewer than max are open: returns 1;
 * else 0 and *open gets how many are. Out of memory counts as full. */
int streamcount_take(struct streamcount *t, const char *key, int max,
                     int *open);
/* Gives back one stream taken under key. */
void streamcount_give(struct streamcount *t, const char *key);

/* Streams open under key (for tests). */
int streamcount_open(struct streamcount *t, const char *key);

#endif
