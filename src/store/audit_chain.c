/* The SQLite store's audit chain, on the writer thread: each entry
 * numbered, hashed over the one before and inserted in the transaction of
 * the call it records, and signed checkpoints every N entries or T seconds
 * (and at close). Also where the chain stands at open. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "cjx/log.h"
#include "sqlite_step.h"
#include "sqlite_writer.h"

struct sqlite_audit_chain
cjx_store_chain_mark(const struct sqlite_store *s)
{
    return s->chain;
}

void
cjx_store_chain_undo(struct sqlite_store *s,
                     const struct sqlite_audit_chain *mark)
{
    s->chain = *mark;
}

/* One packing, one SHA-256 and one insert: reads make an entry each, so
 * this is on the path of every call. */
int
cjx_store_chain_append(struct sqlite_store *s, const struct cjx_audit_event *ev,
                       int64_t *seq_out, char *msg, size_t msg_len)
{
    struct sqlite_audit_chain *c = &s->chain;
    int64_t seq = c->seq + 1;
    int64_t now = cjx_clock_now_us();
    size_t n =
        cjx_audit_entry_pack(ev, seq, c->hash, now, s->abuf, s->abuf_cap);
    if (n > s->abuf_cap) {
        size_t cap = n > 2048 ? n : 2048;
        uint8_t *grown = realloc(s->abuf, cap);
        if (grown == NULL) {
            snprintf(msg, msg_len, "out of memory for an audit entry");
            return SQLITE_NOMEM;
        }
        s->abuf = grown;
        s->abuf_cap = cap;
        cjx_audit_entry_pack(ev, seq, c->hash, now, s->abuf, s->abuf_cap);
    }
    if (n > INT_MAX) {
        snprintf(msg, msg_len, "audit entry too large");
        return SQLITE_TOOBIG;
    }
    uint8_t hash[CJX_AUDIT_HASH_LEN];
    if (cjx_audit_hash(s->abuf, n, hash) != 0) {
        snprintf(msg, msg_len, "SHA-256 is unavailable");
        return SQLITE_ERROR;
    }
    sqlite3_stmt *st = s->ws[WS_AUDIT_INSERT];
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_blob(st, 2, s->abuf, (int)n, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, hash, CJX_AUDIT_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite_step_done(st, "recording audit entry", msg, msg_len);
    if (rc != SQLITE_OK)
        return rc;
    c->seq = seq;
    memcpy(c->hash, hash, CJX_AUDIT_HASH_LEN);
    c->unsigned_count++;
    *seq_out = seq;
    return SQLITE_OK;
}

static int
has_signer(struct sqlite_store *s)
{
    return atomic_load(&s->signing);
}

static int
put_checkpoint(void *store, int64_t seq, const uint8_t *body, size_t len,
               char *msg, size_t msg_len)
{
    struct sqlite_store *s = store;
    sqlite3_stmt *st = s->ws[WS_CHECKPOINT_INSERT];
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_blob(st, 2, body, (int)len, SQLITE_STATIC);
    return sqlite_step_done(st, "recording audit checkpoint", msg, msg_len);
}

/* Signs the newest entry inside the open transaction. */
static int
write_checkpoint(struct sqlite_store *s, char *msg, size_t msg_len)
{
    struct sqlite_audit_chain *c = &s->chain;
    const struct cjx_store_signing sg = {
        &s->signer_mu, &s->signer, s->checkpoint_entries, &s->sign_failed};
    const struct cjx_store_chain_head head = {
        c->seq, c->hash, &c->unsigned_count, &c->checkpoint_us};
    return cjx_store_write_checkpoint(&sg, &head, put_checkpoint, s, msg,
                                      msg_len);
}

static int
checkpoint_due_by_time(struct sqlite_store *s, int64_t now)
{
    struct sqlite_audit_chain *c = &s->chain;
    if (c->unsigned_count == 0 || !has_signer(s))
        return 0;
    if (now < c->checkpoint_us)
        c->checkpoint_us = now; /* the clock was set back */
    return now - c->checkpoint_us >= (int64_t)s->checkpoint_seconds * 1000000;
}

int
cjx_store_chain_checkpoint_by_count(struct sqlite_store *s, char *msg,
                                    size_t msg_len)
{
    /* After a signing failure only the interval retries, not every
     * entry. */
    if (s->chain.unsigned_count >= s->checkpoint_entries && !s->sign_failed &&
        has_signer(s))
        return write_checkpoint(s, msg, msg_len);
    return SQLITE_OK;
}

int
cjx_store_chain_checkpoint_by_time(struct sqlite_store *s, char *msg,
                                   size_t msg_len)
{
    if (checkpoint_due_by_time(s, cjx_clock_now_us()))
        return write_checkpoint(s, msg, msg_len);
    return SQLITE_OK;
}

void
cjx_store_chain_checkpoint_alone(struct sqlite_store *s)
{
    char msg[160];
    struct sqlite_audit_chain mark = cjx_store_chain_mark(s);
    int rc = sqlite_step_done(s->ws[WS_BEGIN], "starting transaction", msg,
                              sizeof(msg));
    if (rc == SQLITE_OK)
        rc = write_checkpoint(s, msg, sizeof(msg));
    if (rc == SQLITE_OK)
        rc = sqlite_step_done(s->ws[WS_COMMIT], "committing", msg, sizeof(msg));
    if (rc != SQLITE_OK) {
        cjx_store_writer_abandon(s, &mark);
        cjx_error("store", "audit checkpoint failed: %s", msg);
    }
    if (s->chain.unsigned_count > 0)
        s->chain.checkpoint_us = cjx_clock_now_us();
}

void
cjx_store_chain_checkpoint_at_close(struct sqlite_store *s)
{
    if (s->chain.unsigned_count > 0 && has_signer(s))
        cjx_store_chain_checkpoint_alone(s);
}

int64_t
cjx_store_chain_checkpoint_wait_us(struct sqlite_store *s)
{
    if (s->chain.unsigned_count == 0 || !has_signer(s))
        return -1;
    int64_t now = cjx_clock_now_us();
    if (checkpoint_due_by_time(s, now))
        return 0;
    return s->chain.checkpoint_us + (int64_t)s->checkpoint_seconds * 1000000 -
           now;
}

int
cjx_store_writer_append_audit(struct cjx_store *base,
                              const struct cjx_audit_event *ev,
                              cjx_store_write_done_fn done, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    if (ev == NULL)
        return CJX_EINVAL;
    struct sqlite_pending_write *pw =
        malloc(sizeof(*pw) + cjx_store_writer_event_size(ev));
    if (pw == NULL)
        return CJX_ENOMEM;
    memset(pw, 0, sizeof(*pw));
    pw->done = done;
    pw->arg = arg;
    pw->kind = SQLITE_WRITE_AUDIT;
    pw->has_event = 1;
    char *p = pw->data;
    cjx_store_writer_event_copy(&pw->ev, ev, &p);
    return cjx_store_writer_enqueue(s, pw);
}

int
cjx_store_writer_load_chain(struct sqlite_store *s, struct cjx_errbuf *eb)
{
    memset(&s->chain, 0, sizeof(s->chain));
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->wdb,
                           "SELECT seq, hash FROM audit ORDER BY seq DESC"
                           " LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return cjx_errf(eb, CJX_ESTORE, "reading the audit log: %s",
                        sqlite3_errmsg(s->wdb));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        s->chain.seq = sqlite3_column_int64(st, 0);
        const void *h = sqlite3_column_blob(st, 1);
        int n = sqlite3_column_bytes(st, 1);
        /* A damaged hash is chained to as it is: verification names that
         * entry, and the entries after it still chain correctly. */
        if (h != NULL)
            memcpy(s->chain.hash, h,
                   n < CJX_AUDIT_HASH_LEN ? (size_t)n : CJX_AUDIT_HASH_LEN);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return cjx_errf(eb, CJX_ESTORE, "reading the audit log: %s",
                        sqlite3_errmsg(s->wdb));
    if (sqlite3_prepare_v2(s->wdb,
                           "SELECT coalesce(max(seq), 0) FROM"
                           " audit_checkpoints",
                           -1, &st, NULL) != SQLITE_OK)
        return cjx_errf(eb, CJX_ESTORE, "reading audit checkpoints: %s",
                        sqlite3_errmsg(s->wdb));
    rc = sqlite3_step(st);
    int64_t checkpoint = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return cjx_errf(eb, CJX_ESTORE, "reading audit checkpoints: %s",
                        sqlite3_errmsg(s->wdb));
    if (checkpoint > s->chain.seq) {
        /* Entries signed by a checkpoint are gone from the end. Numbering
         * goes on after the checkpoint, so that the gap stays for
         * verification to name and no new checkpoint collides with it. */
        cjx_warn("store",
                 "audit log ends at entry %" PRId64 " but is signed "
                 "up to entry %" PRId64 ": entries were removed",
                 s->chain.seq, checkpoint);
        s->chain.seq = checkpoint;
    }
    s->chain.unsigned_count = s->chain.seq - checkpoint;
    s->chain.checkpoint_us = cjx_clock_now_us();
    atomic_store(&s->last_audit_seq, s->chain.seq);
    return 0;
}
