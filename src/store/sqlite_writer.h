/* Private to the SQLite store's writer thread: what its three parts share.
 * writer.c queues, batches and commits, and hands committed batches to the
 * completer thread; record_writes.c applies a record write; audit_chain.c
 * appends audit entries and signs checkpoints. All of it runs on the
 * writer thread, inside the transaction writer.c opened, unless a comment
 * says otherwise. */
#ifndef CJX_SQLITE_WRITER_H
#define CJX_SQLITE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "sqlite_store.h"

/* The writer's statements, prepared once on its connection (writer.c). */
enum writer_stmt {
    WS_BEGIN,
    WS_COMMIT,
    WS_ROLLBACK,
    WS_SAVEPOINT,
    WS_RELEASE,
    WS_ROLLBACK_TO,
    WS_IDEM_GET,
    WS_IDEM_PUT,
    WS_REC_GET,
    WS_REC_INSERT,
    WS_REC_UPDATE,
    WS_VER_INSERT,
    WS_CHG_INSERT,
    WS_AUDIT_INSERT,
    WS_CHECKPOINT_INSERT,
    WS_COUNT_
};
_Static_assert(WS_COUNT_ == SQLITE_WRITER_STMTS, "writer statement count");

/* ---- the transaction (writer.c) -------------------------------------- */

/* Ends a transaction that failed: rolls it back unless SQLite already has,
 * and puts the audit chain back where mark says it stood at BEGIN. */
void cjx_store_writer_abandon(struct sqlite_store *s,
                              const struct sqlite_audit_chain *mark);

/* ---- record writes (record_writes.c) ---------------------------------- */

/* Applies a queued record write (SQLITE_WRITE_RECORD), filling pw->res:
 * the idempotency check, the new version unless the bytes are already
 * stored, and the request id. Returns an SQLite code; on failure msg says
 * what failed and the caller rolls back to the write's savepoint. */
int cjx_store_record_apply(struct sqlite_store *s,
                           struct sqlite_pending_write *pw, char *msg,
                           size_t msg_len);

/* ---- the audit chain (audit_chain.c) ---------------------------------- */

/* Where the chain stood before a piece of work that may be rolled back.
 * Every rollback of the transaction or of a savepoint that may have held
 * entries or a checkpoint puts the chain back with _undo(), so that the
 * next entry chains to what is committed. */
struct sqlite_audit_chain cjx_store_chain_mark(const struct sqlite_store *s);
void cjx_store_chain_undo(struct sqlite_store *s,
                          const struct sqlite_audit_chain *mark);

/* Appends the entry for ev to the chain; *seq_out is its seq. */
int cjx_store_chain_append(struct sqlite_store *s,
                           const struct cjx_audit_event *ev, int64_t *seq_out,
                           char *msg, size_t msg_len);

/* Sign a checkpoint over the newest entry inside the open transaction:
 * _by_count when the entries since the last one reach the configured
 * count (checked after every entry, so that checkpoints fall at exactly
 * every N entries), _by_time when the interval has passed. Without a key,
 * or when signing fails (logged once), the entries wait and the
 * transaction goes on: only a failed insert returns an error. */
int cjx_store_chain_checkpoint_by_count(struct sqlite_store *s, char *msg,
                                        size_t msg_len);
int cjx_store_chain_checkpoint_by_time(struct sqlite_store *s, char *msg,
                                       size_t msg_len);

/* Outside any transaction, while no write comes: microseconds until a
 * checkpoint falls due, 0 if it is due now, -1 if none will without new
 * entries. */
int64_t cjx_store_chain_checkpoint_wait_us(struct sqlite_store *s);

/* Outside any transaction: signs the unsigned entries in a transaction of
 * its own (logged on failure). _alone when a checkpoint is due on an idle
 * writer, _at_close when the writer stops, so that the log of a daemon
 * that stopped cleanly ends signed. */
void cjx_store_chain_checkpoint_alone(struct sqlite_store *s);
void cjx_store_chain_checkpoint_at_close(struct sqlite_store *s);

#endif
