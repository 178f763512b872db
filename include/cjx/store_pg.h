/* The PostgreSQL backend of the store (include/cjx/store.h), for an agency
 * that runs several cjxd replicas on one database.
 *
 * Every guarantee of the interface holds across replicas, because each
 * group-committed transaction first takes one transaction-scoped advisory
 * lock of the database: the writers of all replicas take turns, so
 *   - the inbox and the idempotency table decide a repeated message inside
 *     the database, whichever replica receives it;
 *   - feed positions (record and case changes) are numbered inside the
 *     lock, so they follow commit order: a reader resuming after seq N can
 *     never miss a row that commits later with a smaller number, as it
 *     could with a sequence;
 *   - the audit log stays one hash chain, each transaction appending to the
 *     newest entry of whichever replica wrote last.
 * Reads take no lock. Outbox rows are leased (FOR UPDATE SKIP LOCKED) by
 * cjx_store_outbox_due(), so that a row is sent by one replica at a time
 * and returns to the others when a replica dies holding it.
 *
 * Each transaction announces its commit (LISTEN/NOTIFY), and every
 * replica runs its commit, audit and case hooks for the other replicas'
 * commits too: on its listener thread, besides its writer thread, so a
 * hook must be safe to call from either. One replica at a time leads the
 * agency's singleton work (cjx_store_lead()): the one whose own connection
 * holds a session-level advisory lock. */
#ifndef CJX_STORE_PG_H
#define CJX_STORE_PG_H

#include "cjx/store.h"

struct cjx_store_pg_options {
    /* libpq connection string or URI (borrowed), without the password. */
    const char *dsn;
    /* The password (borrowed, wiped from the store's memory at close), or
     * NULL for none or libpq's own means (~/.pgpass, PGPASSFILE). */
    const char *password;
    int max_batch; /* writes per transaction at most; 0 = 1024 */
    /* As in struct cjx_store_sqlite_options. */
    const char *audit_key_pem;
    const char *audit_cert_pem;
    int audit_checkpoint_entries; /* 0 = 1000 */
    int audit_checkpoint_seconds; /* 0 = 60 */
    /* How long an outbox row handed out by cjx_store_outbox_due() stays
     * with this replica before another may take it; 0 = 60. */
    int outbox_lease_seconds;
    /* This replica's name in the audit entries it writes (borrowed, at
     * most CJX_AUDIT_REPLICA_MAX bytes kept), or NULL or "" for
     * "hostname:pid". */
    const char *replica;
};

/* Connects, runs pending schema migrations (refusing a database whose
 * schema is newer than this program) and starts the writer. 0, or
 * CJX_EINVAL for missing or negative options, CJX_ESTORE (cannot connect,
 * migrate or read; the detail names what), CJX_ETLS for an audit key that
 * does not parse or match. */
int cjx_store_pg_open(const struct cjx_store_pg_options *opts,
                      struct cjx_store **out, struct cjx_errbuf *eb);

#endif
