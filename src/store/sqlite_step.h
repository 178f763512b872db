/* Private to the SQLite store: stepping and binding the writer thread's
 * prepared statements (writer.c, record_writes.c, audit_chain.c, cases.c).
 * A failed step leaves "what: SQLite's message" in msg, because the
 * statement's own message is gone once it is reset. */
#ifndef CJX_SQLITE_STEP_H
#define CJX_SQLITE_STEP_H

#include <stdio.h>

#include <sqlite3.h>

/* Steps a statement that returns no rows, then resets it. Returns
 * SQLITE_OK or the SQLite error. */
static inline int
sqlite_step_done(sqlite3_stmt *st, const char *what, char *msg, size_t msg_len)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        snprintf(msg, msg_len, "%s: %s", what,
                 sqlite3_errmsg(sqlite3_db_handle(st)));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Steps a query of at most one row: SQLITE_ROW (the statement stays on its
 * row for the caller, who reads the columns and resets it), SQLITE_DONE
 * (already reset) or the SQLite error (reset). */
static inline int
sqlite_step_row(sqlite3_stmt *st, const char *what, char *msg, size_t msg_len)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return rc;
    if (rc != SQLITE_DONE)
        snprintf(msg, msg_len, "%s: %s", what,
                 sqlite3_errmsg(sqlite3_db_handle(st)));
    sqlite3_reset(st);
    return rc;
}

/* Every value the writer binds outlives the step that uses it and is bound
 * again before the next step, so SQLite need not copy it. */
static inline void
sqlite_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* An empty blob is bound as zero bytes, not as NULL. */
static inline void
sqlite_bind_blob(sqlite3_stmt *st, int i, const void *v, size_t len)
{
    sqlite3_bind_blob(st, i, len > 0 ? v : "", (int)len, SQLITE_STATIC);
}

#endif
