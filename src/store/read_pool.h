/* Pools of read-only SQLite connections with prepared statements, shared by
 * the store's record and case readers, and the row helpers both use. */
#ifndef CJX_STORE_READ_POOL_H
#define CJX_STORE_READ_POOL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "cjx/error.h"

/* A read-only connection with its statements; one thread at a time. */
struct read_conn {
    struct read_conn *next;
    sqlite3 *db;
    sqlite3_stmt *st[];
};

/* What a pool's connections prepare. Borrowed for the pool's lifetime. */
struct read_pool_spec {
    const char *const *sql; /* statements, prepared on every connection */
    int n_sql;
    const char *pragma; /* run on each new connection, or NULL */
    const char *what;   /* names the pool in error messages */
};

/* A pool: idle connections, guarded by the caller's mutex. */
struct read_pool {
    pthread_mutex_t *mu;
    struct read_conn **idle;
    const char *path;
    int busy_timeout_ms;
    const struct read_pool_spec *spec;
};

/* Takes an idle connection, opening one if every connection is busy: a pool
 * grows to the number of threads reading at once. 0 or CJX_ESTORE/ENOMEM. */
int read_pool_acquire(const struct read_pool *p, struct read_conn **out,
                      struct cjx_errbuf *eb);
/* Gives a connection back for reuse. */
void read_pool_release(const struct read_pool *p, struct read_conn *c);
/* Closes every idle connection; none may be in use. */
void read_pool_free_idle(const struct read_pool *p);

/* Takes the row st stands on: hands it to the caller's visitor and
 * returns what the visitor did (non-zero: stop), with the row's position
 * in *pos. */
typedef int (*read_row_fn)(void *ctx, sqlite3_stmt *st, int64_t *pos);

/* Steps st, handing each row to row, until the end or row asks to stop,
 * then resets st: that ends the read transaction, so the next read sees
 * newer commits. *last_pos (may be NULL) gets the position of the last
 * row taken: a row it stopped at is not counted, so the next page starts
 * with it. 0, or CJX_ESTORE with "what: SQLite's message". */
int read_visit_rows(struct read_conn *r, sqlite3_stmt *st, const char *what,
                    read_row_fn row, void *ctx, int64_t *last_pos,
                    struct cjx_errbuf *eb);

/* A feed read on a pooled connection: statement which of the pool's spec,
 * with the position to read after at ?1 and the limit at ?2, its rows to
 * row (read_visit_rows). */
int read_pool_feed(const struct read_pool *p, int which, const char *what,
                   int64_t after, int limit, read_row_fn row, void *ctx,
                   struct cjx_errbuf *eb);

/* Takes the row a key found, on the connection r that found it: 0, or an
 * error with eb filled. */
typedef int (*read_found_fn)(void *ctx, struct read_conn *r, sqlite3_stmt *st,
                             struct cjx_errbuf *eb);

/* A read of one key on a pooled connection: statement which with (cii,
 * ccn, count) at ?1..?3, its row to found. 0 or found's error,
 * CJX_ENOTFOUND with "no <noun> cii/ccn/count", or CJX_ESTORE with "what:
 * SQLite's message". */
int read_pool_get(const struct read_pool *p, int which, const char *what,
                  const char *noun, const char *cii, const char *ccn,
                  int32_t count, read_found_fn found, void *ctx,
                  struct cjx_errbuf *eb);

/* A listing whose statement is made for the call: sql prepared on a
 * pooled connection *r, with the position to read after at ?1 and the
 * limit at ?2; the caller binds the rest, visits, finalizes *st and gives
 * *r back. 0, or an error (CJX_ESTORE with "what: SQLite's message") with
 * nothing held. */
int read_pool_listing(const struct read_pool *p, const char *sql,
                      const char *what, int64_t after, int limit,
                      struct read_conn **r, sqlite3_stmt **st,
                      struct cjx_errbuf *eb);

/* A text column, "" for NULL; valid until the statement moves on. */
const char *read_column_text(sqlite3_stmt *st, int col);

#endif
