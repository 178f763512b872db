/* The PostgreSQL store's writer thread: queued writes group-committed in
 * one transaction each, serialised across replicas by an advisory lock,
 * with the audit chain and its checkpoints. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cjx/clock.h"
#include "cjx/log.h"
#include "pg_store.h"
#include "store_shared.h"

/* Every replica's writer takes this lock first in each transaction, so
 * that the transactions of all replicas commit one after another: feed
 * positions and audit entries are numbered in commit order. */
#define WRITERS_LOCK "SELECT pg_advisory_xact_lock(7236002)"

/* ---- records --------------------------------------------------------- */

int
pg_find_record(struct pg_store *s, const char *cii, const char *ccn,
               int32_t count, struct pg_found_record *out, char *msg,
               size_t msg_len)
{
    memset(out, 0, sizeof(*out));
    struct pg_params p = {0};
    pg_text(&p, cii);
    pg_text(&p, ccn);
    pg_int(&p, count);
    PGresult *r =
        pg_exec(s->wconn,
                "SELECT r.id, r.version, v.body FROM records r"
                " JOIN record_versions v ON v.id = r.current_version_id"
                " WHERE r.cii = $1 AND r.court_case_number = $2"
                " AND r.count_number = $3",
                &p, "reading record", msg, msg_len);
    if (r == NULL)
        return CJX_ESTORE;
    int err = 0;
    if (PQntuples(r) == 1) {
        size_t len;
        const void *body = pg_col_bytes(r, 0, 2, &len);
        out->body = malloc(len > 0 ? len : 1);
        if (out->body == NULL) {
            snprintf(msg, msg_len, "out of memory for a record");
            err = CJX_ESTORE;
        } else {
            memcpy(out->body, body, len);
            out->body_len = len;
            out->id = pg_col_int(r, 0, 0);
            out->version = pg_col_int(r, 0, 1);
        }
    }
    PQclear(r);
    return err;
}

/* Runs a statement that returns one number (an id, a seq). */
static int
returning(struct pg_store *s, const char *sql, const struct pg_params *p,
          const char *what, int64_t *out, char *msg, size_t msg_len)
{
    PGresult *r = pg_exec(s->wconn, sql, p, what, msg, msg_len);
    if (r == NULL)
        return CJX_ESTORE;
    *out = PQntuples(r) > 0 ? pg_col_int(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

/* A new key's record, its first version and the change that announces it,
 * in one statement: the record's row names the version id and the seq
 * before either row exists (current_version_id references nothing), so it
 * is written once, not inserted and then updated, and the three rows cost
 * one round trip instead of four. The references that remain (the
 * version's to its record, the change's to its version) are checked at the
 * end of the statement, when all three rows are there. The seq is numbered
 * as every change's is, inside the writers' lock. */
static int
put_new_record(struct pg_store *s, const struct cjx_record_write *w,
               int64_t version, int64_t *seq_out, char *msg, size_t msg_len)
{
    struct pg_params p = {0};
    pg_text(&p, w->cii);
    pg_text(&p, w->court_case_number);
    pg_int(&p, w->count_number);
    pg_text(&p, w->county);
    pg_int(&p, version);
    pg_text(&p, w->sender_ori);
    pg_int(&p, cjx_clock_now_us());
    pg_text(&p, w->flags != NULL ? w->flags : "");
    pg_bytes(&p, w->record, w->record_len);
    return returning(
        s,
        "WITH r AS (INSERT INTO records (cii, court_case_number,"
        " count_number, county, version, seq, current_version_id)"
        " VALUES ($1, $2, $3, $4, $5,"
        " (SELECT coalesce(max(seq), 0) + 1 FROM changes),"
        " nextval('record_versions_id_seq'))"
        " RETURNING id, seq, current_version_id),"
        " v AS (INSERT INTO record_versions (id, record_id, version, county,"
        " submitted_by, stored_at_us, flags, body)"
        " SELECT current_version_id, id, $5::bigint, $4::text, $6::text,"
        " $7::bigint, $8::text, $9::bytea FROM r"
        " RETURNING id)"
        " INSERT INTO changes (seq, version_id)"
        " SELECT r.seq, v.id FROM r, v RETURNING seq",
        &p, "inserting record", seq_out, msg, msg_len);
}

int
pg_put_record(struct pg_store *s, const struct cjx_record_write *w,
              int64_t record_id, int64_t version, int64_t *seq_out, char *msg,
              size_t msg_len)
{
    if (record_id == 0)
        return put_new_record(s, w, version, seq_out, msg, msg_len);
    struct pg_params p = {0};
    pg_int(&p, record_id);
    pg_int(&p, version);
    pg_text(&p, w->county);
    pg_text(&p, w->sender_ori);
    pg_int(&p, cjx_clock_now_us());
    pg_text(&p, w->flags != NULL ? w->flags : "");
    pg_bytes(&p, w->record, w->record_len);
    int64_t version_id;
    int err =
        returning(s,
                  "INSERT INTO record_versions (record_id, version,"
                  " county, submitted_by, stored_at_us, flags, body)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                  &p, "inserting record version", &version_id, msg, msg_len);
    if (err != 0)
        return err;
    /* Numbered inside the writers' lock: the newest seq is the last
     * committed one, so max + 1 follows commit order. */
    p = (struct pg_params){0};
    pg_int(&p, version_id);
    int64_t seq;
    err = returning(s,
                    "INSERT INTO changes (seq, version_id)"
                    " SELECT coalesce(max(seq), 0) + 1, $1 FROM changes"
                    " RETURNING seq",
                    &p, "inserting change", &seq, msg, msg_len);
    if (err != 0)
        return err;
    p = (struct pg_params){0};
    pg_int(&p, record_id);
    pg_text(&p, w->county);
    pg_int(&p, version);
    pg_int(&p, seq);
    pg_int(&p, version_id);
    err = pg_command(s->wconn,
                     "UPDATE records SET county = $2, version = $3, seq = $4,"
                     " current_version_id = $5 WHERE id = $1",
                     &p, "updating record", msg, msg_len);
    if (err == 0)
        *seq_out = seq;
    return err;
}

/* Looks up an earlier write with the same (sender, request id). Sets
 * *answered when the write needs no further work. */
static int
check_idempotency(struct pg_store *s, struct pg_write *pw, int *answered,
                  char *msg, size_t msg_len)
{
    struct pg_params p = {0};
    pg_text(&p, pw->w.sender_ori);
    pg_text(&p, pw->w.request_id);
    PGresult *r = pg_exec(s->wconn,
                          "SELECT digest, version, seq, unchanged"
                          " FROM idempotency WHERE sender_ori = $1"
                          " AND request_id = $2",
                          &p, "reading request ids", msg, msg_len);
    if (r == NULL)
        return CJX_ESTORE;
    *answered = PQntuples(r) == 1;
    if (*answered) {
        size_t len;
        const void *digest = pg_col_bytes(r, 0, 0, &len);
        if (len == CJX_STORE_DIGEST_LEN &&
            memcmp(digest, pw->w.request_digest, len) == 0) {
            pw->res.version = pg_col_int(r, 0, 1);
            pw->res.seq = pg_col_int(r, 0, 2);
            pw->res.unchanged = (int)pg_col_int(r, 0, 3);
            pw->res.replayed = 1;
        } else {
            pw->res.err = CJX_ECONFLICT;
        }
    }
    PQclear(r);
    return 0;
}

static int
remember_request(struct pg_store *s, struct pg_write *pw, char *msg,
                 size_t msg_len)
{
    struct pg_params p = {0};
    pg_text(&p, pw->w.sender_ori);
    pg_text(&p, pw->w.request_id);
    pg_bytes(&p, pw->w.request_digest, CJX_STORE_DIGEST_LEN);
    pg_int(&p, pw->res.version);
    pg_int(&p, pw->res.seq);
    pg_int(&p, pw->res.unchanged);
    pg_int(&p, cjx_clock_now_us());
    return pg_command(s->wconn,
                      "INSERT INTO idempotency (sender_ori, request_id,"
                      " digest, version, seq, unchanged, created_at_us)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                      &p, "recording request id", msg, msg_len);
}

static int
apply_record(struct pg_store *s, struct pg_write *pw, char *msg, size_t msg_len)
{
    int answered;
    int err = check_idempotency(s, pw, &answered, msg, msg_len);
    if (err != 0 || answered)
        return err;
    struct pg_found_record cur;
    err = pg_find_record(s, pw->w.cii, pw->w.court_case_number,
                         pw->w.count_number, &cur, msg, msg_len);
    if (err != 0)
        return err;
    int same = cur.id != 0 && cur.body_len == pw->w.record_len &&
               (cur.body_len == 0 ||
                memcmp(cur.body, pw->w.record, cur.body_len) == 0);
    free(cur.body);
    if (same) {
        pw->res.version = cur.version;
        pw->res.unchanged = 1;
    } else {
        err = pg_put_record(s, &pw->w, cur.id, cur.version + 1, &pw->res.seq,
                            msg, msg_len);
        if (err != 0)
            return err;
        pw->res.version = cur.version + 1;
    }
    return remember_request(s, pw, msg, msg_len);
}

/* ---- the audit chain ------------------------------------------------- */

/* Where the chain stands in the database: read inside the writers' lock,
 * since another replica may have appended since this one last did. */
static int
load_chain(struct pg_store *s, char *msg, size_t msg_len)
{
    PGresult *r = pg_exec(
        s->wconn,
        "SELECT a.seq, a.hash,"
        " (SELECT coalesce(max(seq), 0) FROM audit_checkpoints)"
        " FROM (SELECT 1) one LEFT JOIN"
        " (SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1) a ON true",
        NULL, "reading the audit log", msg, msg_len);
    if (r == NULL)
        return CJX_ESTORE;
    struct pg_audit_chain *c = &s->chain;
    memset(c, 0, sizeof(*c));
    c->seq = pg_col_int(r, 0, 0);
    size_t len;
    const void *h = pg_col_bytes(r, 0, 1, &len);
    /* A damaged hash is chained to as it is: verification names it. */
    memcpy(c->hash, h, len < CJX_AUDIT_HASH_LEN ? len : CJX_AUDIT_HASH_LEN);
    int64_t checkpoint = pg_col_int(r, 0, 2);
    PQclear(r);
    /* Entries signed by a checkpoint are gone from the end: numbering goes
     * on after the checkpoint, so that the gap stays for verification. */
    if (checkpoint > c->seq)
        c->seq = checkpoint;
    c->unsigned_count = c->seq - checkpoint;
    return 0;
}

static int
append_entry(struct pg_store *s, const struct cjx_audit_event *ev,
             int64_t *seq_out, char *msg, size_t msg_len)
{
    struct pg_audit_chain *c = &s->chain;
    int64_t seq = c->seq + 1;
    int64_t now = cjx_clock_now_us();
    /* Several replicas write one chain: each entry says which. */
    struct cjx_audit_event named = *ev;
    named.replica = s->replica;
    ev = &named;
    size_t n =
        cjx_audit_entry_pack(ev, seq, c->hash, now, s->abuf, s->abuf_cap);
    if (n > s->abuf_cap) {
        uint8_t *grown = realloc(s->abuf, n);
        if (grown == NULL) {
            snprintf(msg, msg_len, "out of memory for an audit entry");
            return CJX_ESTORE;
        }
        s->abuf = grown;
        s->abuf_cap = n;
        cjx_audit_entry_pack(ev, seq, c->hash, now, s->abuf, s->abuf_cap);
    }
    uint8_t hash[CJX_AUDIT_HASH_LEN];
    if (n > INT_MAX || cjx_audit_hash(s->abuf, n, hash) != 0) {
        snprintf(msg, msg_len, "cannot hash an audit entry");
        return CJX_ESTORE;
    }
    struct pg_params p = {0};
    pg_int(&p, seq);
    pg_bytes(&p, s->abuf, n);
    pg_bytes(&p, hash, CJX_AUDIT_HASH_LEN);
    int err = pg_command(s->wconn,
                         "INSERT INTO audit (seq, body, hash)"
                         " VALUES ($1, $2, $3)",
                         &p, "recording audit entry", msg, msg_len);
    if (err != 0)
        return err;
    c->seq = seq;
    memcpy(c->hash, hash, CJX_AUDIT_HASH_LEN);
    c->unsigned_count++;
    *seq_out = seq;
    return 0;
}

static int
put_checkpoint(void *store, int64_t seq, const uint8_t *body, size_t len,
               char *msg, size_t msg_len)
{
    struct pg_store *s = store;
    struct pg_params p = {0};
    pg_int(&p, seq);
    pg_bytes(&p, body, len);
    return pg_command(s->wconn,
                      "INSERT INTO audit_checkpoints (seq, body)"
                      " VALUES ($1, $2)",
                      &p, "recording audit checkpoint", msg, msg_len);
}

/* Signs the newest entry inside the open transaction. Without a key, or
 * when signing fails (logged once), the transaction goes on unsigned. */
static int
write_checkpoint(struct pg_store *s, char *msg, size_t msg_len)
{
    struct pg_audit_chain *c = &s->chain;
    const struct cjx_store_signing sg = {
        &s->signer_mu, &s->signer, s->checkpoint_entries, &s->sign_failed};
    const struct cjx_store_chain_head head = {
        c->seq, c->hash, &c->unsigned_count, &s->checkpoint_us};
    return cjx_store_write_checkpoint(&sg, &head, put_checkpoint, s, msg,
                                      msg_len);
}

static int
has_signer(struct pg_store *s)
{
    pthread_mutex_lock(&s->signer_mu);
    int yes = s->signer != NULL;
    pthread_mutex_unlock(&s->signer_mu);
    return yes;
}

static int
checkpoint_due(struct pg_store *s, int by_time)
{
    if (s->chain.unsigned_count == 0 || !has_signer(s))
        return 0;
    if (!by_time)
        return s->chain.unsigned_count >= s->checkpoint_entries &&
               !s->sign_failed;
    return cjx_clock_now_us() - s->checkpoint_us >=
           (int64_t)s->checkpoint_seconds * 1000000;
}

/* ---- one batch, one transaction -------------------------------------- */

static void
fail_write(struct pg_write *pw, int err, const char *why)
{
    memset(&pw->res, 0, sizeof(pw->res));
    free(pw->snapshot);
    pw->snapshot = NULL;
    pw->outbox_added = 0;
    pw->record_version = pw->record_seq = 0;
    pw->res.err = err;
    snprintf(pw->detail, sizeof(pw->detail), "%s", why);
}

static int
apply_one(struct pg_store *s, struct pg_write *pw, char *msg, size_t msg_len)
{
    switch (pw->kind) {
    case PG_WRITE_RECORD:
        return apply_record(s, pw, msg, msg_len);
    case PG_WRITE_AUDIT:
        return 0;
    default:
        return pg_cases_apply(s, pw, msg, msg_len);
    }
}

/* One write and its event. On failure the caller undoes whatever part of
 * it was written. */
static int
apply_with_event(struct pg_store *s, struct pg_write *pw, char *msg,
                 size_t msg_len)
{
    int err = apply_one(s, pw, msg, msg_len);
    if (err == 0 && pw->has_event) {
        if (pw->kind != PG_WRITE_AUDIT)
            cjx_store_complete_event(&pw->ev, &pw->res);
        err = append_entry(s, &pw->ev, &pw->res.audit_seq, msg, msg_len);
    }
    return err;
}

/* One write and its event in a savepoint of their own: a failed write is
 * undone alone and answered with CJX_ESTORE. Returns non-zero when the
 * transaction itself cannot go on. */
static int
apply_in_savepoint(struct pg_store *s, struct pg_write *pw, char *msg,
                   size_t msg_len)
{
    struct pg_audit_chain before = s->chain;
    int err =
        pg_command(s->wconn, "SAVEPOINT w", NULL, "savepoint", msg, msg_len);
    if (err != 0)
        return err;
    err = apply_with_event(s, pw, msg, msg_len);
    if (err == 0)
        return pg_command(s->wconn, "RELEASE w", NULL, "release", msg, msg_len);
    s->chain = before;
    fail_write(pw, CJX_ESTORE, msg);
    return pg_command(s->wconn, "ROLLBACK TO w", NULL, "undoing a write", msg,
                      msg_len);
}

/* Applies the writes of a batch in order, with the checkpoints that fall
 * due between them. Guarded, each write runs in a savepoint of its own and
 * a failed one is undone alone; unguarded, none does, and the first write
 * that fails stops the batch with its rows half written (*failed). Returns
 * non-zero when the transaction cannot go on (or a write failed). */
static int
apply_batch(struct pg_store *s, struct pg_write *batch, int guarded,
            struct pg_write **failed, char *msg, size_t msg_len)
{
    int err = 0;
    for (struct pg_write *pw = batch; pw != NULL && err == 0; pw = pw->next) {
        if (guarded) {
            err = apply_in_savepoint(s, pw, msg, msg_len);
        } else if ((err = apply_with_event(s, pw, msg, msg_len)) != 0) {
            *failed = pw;
            return err;
        }
        if (err == 0 && checkpoint_due(s, 0))
            err = write_checkpoint(s, msg, msg_len);
    }
    return err;
}

/* Before a batch runs again: what its first run filled in is dropped (a
 * case write's decision is kept). */
static void
forget_results(struct pg_write *batch)
{
    for (struct pg_write *pw = batch; pw != NULL; pw = pw->next)
        fail_write(pw, 0, "");
}

/* The writes of a batch, without a savepoint each: a write rarely fails,
 * and a SAVEPOINT and RELEASE per write cost two round trips each time.
 * The only write of a transaction needs none: if it fails, rolling the
 * transaction back undoes exactly it, and it alone is answered (*undone).
 * A batch of several takes one savepoint first; if a write fails halfway,
 * the batch goes back to it and runs again, each write in a savepoint of
 * its own so that the failed one is undone alone. The writers' lock is
 * held throughout, so the second run finds what the first found, and case
 * writes keep their apply functions' decisions. Returns non-zero when the
 * transaction cannot go on. */
static int
apply_writes(struct pg_store *s, struct pg_write *batch, int *undone, char *msg,
             size_t msg_len)
{
    int several = batch->next != NULL;
    int err = several ? pg_command(s->wconn, "SAVEPOINT batch", NULL,
                                   "savepoint", msg, msg_len)
                      : 0;
    if (err != 0)
        return err;
    struct pg_audit_chain before = s->chain;
    int64_t checkpoint_us = s->checkpoint_us;
    struct pg_write *failed = NULL;
    err = apply_batch(s, batch, 0, &failed, msg, msg_len);
    if (failed == NULL)
        return err;
    s->chain = before;
    s->checkpoint_us = checkpoint_us;
    if (!several) {
        /* Failed because the server went away: the batch's failure
         * answers it UNAVAILABLE, as every write of the batch. */
        fail_write(failed,
                   PQstatus(s->wconn) == CONNECTION_OK ? CJX_ESTORE
                                                       : CJX_EUNAVAIL,
                   msg);
        *undone = 1;
        char ignored[64];
        return pg_command(s->wconn, "ROLLBACK", NULL, "rollback", ignored,
                          sizeof(ignored));
    }
    err = pg_command(s->wconn, "ROLLBACK TO batch", NULL, "undoing a batch",
                     msg, msg_len);
    if (err != 0)
        return err;
    forget_results(batch);
    return apply_batch(s, batch, 1, NULL, msg, msg_len);
}

static int
commit_batch(struct pg_store *s, struct pg_write *batch, int *began, char *msg,
             size_t msg_len)
{
    /* Before anything commits, so that the listener knows this replica's
     * own announcements when it hears them. */
    atomic_store(&s->listener.writer_pid, PQbackendPID(s->wconn));
    int err = pg_command(s->wconn, "BEGIN", NULL, "starting transaction", msg,
                         msg_len);
    *began = err == 0;
    if (err == 0)
        err = pg_command(s->wconn, WRITERS_LOCK, NULL, "taking the lock", msg,
                         msg_len);
    if (err == 0)
        err = load_chain(s, msg, msg_len);
    int undone = 0;
    if (err == 0)
        err = apply_writes(s, batch, &undone, msg, msg_len);
    if (undone && err == 0)
        return 0; /* rolled back: nothing to commit */
    if (err == 0 && checkpoint_due(s, 1))
        err = write_checkpoint(s, msg, msg_len);
    if (err == 0) {
        /* Heard by the other replicas once, and only if, this commits. */
        char payload[128];
        pg_notify_payload(batch, s->chain.seq, payload, sizeof(payload));
        err = pg_notify_commit(s, payload, msg, msg_len);
    }
    if (err == 0)
        err = pg_command(s->wconn, "COMMIT", NULL, "committing", msg, msg_len);

    if (err != 0)
        PQclear(PQexec(s->wconn, "ROLLBACK"));
    return err;
}

/* A transaction of its own for a checkpoint that falls due on an idle
 * writer, and at close. */
static void
checkpoint_alone(struct pg_store *s)
{
    char msg[256];
    int err = pg_command(s->wconn, "BEGIN", NULL, "starting transaction", msg,
                         sizeof(msg));
    if (err == 0)
        err = pg_command(s->wconn, WRITERS_LOCK, NULL, "taking the lock", msg,
                         sizeof(msg));
    if (err == 0)
        err = load_chain(s, msg, sizeof(msg));
    if (err == 0 && s->chain.unsigned_count > 0)
        err = write_checkpoint(s, msg, sizeof(msg));
    if (err == 0)
        err = pg_command(s->wconn, "COMMIT", NULL, "committing", msg,
                         sizeof(msg));
    if (err != 0) {
        PQclear(PQexec(s->wconn, "ROLLBACK"));
        cjx_error("store", "audit checkpoint failed: %s", msg);
    }
    s->checkpoint_us = cjx_clock_now_us();
}

void
pg_run_feed_hooks(struct pg_store *s, int64_t top, int64_t audit_top)
{
    pthread_mutex_lock(&s->hook_mu);
    if (top > 0) {
        pg_raise_top(&s->last_seq, top);
        if (s->hook != NULL)
            s->hook(s->hook_arg, top);
    }
    if (audit_top > 0) {
        pg_raise_top(&s->last_audit_seq, audit_top);
        if (s->audit_hook != NULL)
            s->audit_hook(s->audit_hook_arg, audit_top);
    }
    pthread_mutex_unlock(&s->hook_mu);
}

void
pg_raise_top(_Atomic int64_t *top, int64_t v)
{
    int64_t old = atomic_load(top);
    while (v > old && !atomic_compare_exchange_weak(top, &old, v)) {
    }
}

/* Announces the commit, then answers and frees every write. The hooks run
 * first so that a write's completion implies its hook has seen it. */
static void
finish_batch(struct pg_store *s, struct pg_write *batch)
{
    int64_t top = 0, audit_top = 0;
    for (struct pg_write *pw = batch; pw != NULL; pw = pw->next) {
        if (pw->res.audit_seq > audit_top)
            audit_top = pw->res.audit_seq;
        if (pw->res.err != 0 || pw->res.replayed)
            continue;
        if (pw->kind == PG_WRITE_RECORD && pw->res.seq > top)
            top = pw->res.seq;
        if (pw->kind == PG_WRITE_CASE && pw->record_seq > top)
            top = pw->record_seq;
    }
    pg_run_feed_hooks(s, top, audit_top);
    int lost = 0;
    while (batch != NULL) {
        struct pg_write *pw = batch;
        batch = pw->next;
        if (pw->res.err == CJX_ESTORE || pw->res.err == CJX_EUNAVAIL)
            pw->res.detail = pw->detail;
        else if (pw->res.err == CJX_ECONFLICT)
            pw->res.detail = cjx_store_conflict_detail;
        if (pw->kind == PG_WRITE_CASE)
            pg_cases_finish(s, pw);
        else if (pw->done != NULL)
            pw->done(pw->arg, &pw->res);
        else if (pw->res.err != 0 && lost++ == 0)
            cjx_error("store", "audit entry not recorded: %s", pw->detail);
        free(pw->snapshot);
        free(pw);
    }
}

/* Tells the outcome hook whether the transaction committed (health) and
 * the stats hook what a committed one cost (metrics), before the writes
 * are answered, as the SQLite writer does. */
static void
report_outcome(struct pg_store *s, struct pg_write *batch, int committed,
               const char *msg, int64_t commit_us)
{
    int writes = 0;
    for (struct pg_write *pw = batch; pw != NULL; pw = pw->next)
        writes++;
    pthread_mutex_lock(&s->hook_mu);
    if (s->outcome_hook != NULL)
        s->outcome_hook(s->outcome_hook_arg, committed, committed ? NULL : msg);
    if (committed && s->stats_hook != NULL)
        s->stats_hook(s->stats_hook_arg, commit_us, writes);
    pthread_mutex_unlock(&s->hook_mu);
}

/* Runs a batch; on a failed transaction every write in it fails, and a
 * connection the server dropped is opened again for the next batch. */
static void
run_batch(struct pg_store *s, struct pg_write *batch)
{
    char msg[256];
    int began;
    if (PQstatus(s->wconn) != CONNECTION_OK)
        PQreset(s->wconn);
    int64_t began_us = cjx_clock_monotonic_us();
    int err = commit_batch(s, batch, &began, msg, sizeof(msg));
    if (err != 0 && !began && PQstatus(s->wconn) != CONNECTION_OK) {
        /* The connection died while idle (the server restarted): nothing
         * of the batch reached the server, so it runs again on a new
         * connection. A failure after BEGIN is not retried: a lost answer
         * to COMMIT leaves unknown whether the batch committed. */
        PQreset(s->wconn);
        err = commit_batch(s, batch, &began, msg, sizeof(msg));
    }
    /* A batch that failed because the server is gone is answered
     * UNAVAILABLE: the sender retries (here or at another replica) and
     * the idempotency table or the inbox answers a retry of what did
     * commit. */
    int gone = err != 0 && PQstatus(s->wconn) != CONNECTION_OK;
    if (err != 0)
        for (struct pg_write *pw = batch; pw != NULL; pw = pw->next)
            fail_write(pw, gone ? CJX_EUNAVAIL : CJX_ESTORE, msg);
    report_outcome(s, batch, err == 0, msg,
                   cjx_clock_monotonic_us() - began_us);
    finish_batch(s, batch);
}

static struct pg_write *
take_batch(struct pg_store *s)
{
    struct pg_write *batch = s->head, *last = s->head;
    for (int n = 1; n < s->max_batch && last->next != NULL; n++)
        last = last->next;
    s->head = last->next;
    if (s->head == NULL)
        s->tail = NULL;
    last->next = NULL;
    return batch;
}

/* With s->mu held: waits until something is queued or the store closes,
 * signing a checkpoint that falls due meanwhile. */
static void
wait_for_work(struct pg_store *s)
{
    while (s->head == NULL && !s->closing) {
        if (s->chain.unsigned_count == 0 || !has_signer(s)) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        if (checkpoint_due(s, 1)) {
            pthread_mutex_unlock(&s->mu);
            checkpoint_alone(s);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += s->checkpoint_seconds;
        pthread_cond_timedwait(&s->cv, &s->mu, &until);
    }
}

static void *
writer_main(void *arg)
{
    struct pg_store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        wait_for_work(s);
        if (s->head == NULL)
            break;
        struct pg_write *batch = take_batch(s);
        pthread_mutex_unlock(&s->mu);
        run_batch(s, batch);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    /* The log of a daemon that stopped cleanly ends signed. */
    if (s->chain.unsigned_count > 0 && has_signer(s))
        checkpoint_alone(s);
    return NULL;
}

int
pg_writer_enqueue(struct pg_store *s, struct pg_write *pw)
{
    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        pthread_mutex_unlock(&s->mu);
        free(pw);
        return CJX_ECLOSED;
    }
    if (s->tail != NULL)
        s->tail->next = pw;
    else
        s->head = pw;
    s->tail = pw;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int
pg_submit_record(struct cjx_store *base, const struct cjx_record_write *w,
                 cjx_store_write_done_fn done, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    size_t total = cjx_store_record_write_size(w);
    if (done == NULL || total == 0)
        return CJX_EINVAL;
    struct pg_write *pw = calloc(1, sizeof(*pw) + total);
    if (pw == NULL)
        return CJX_ENOMEM;
    pw->kind = PG_WRITE_RECORD;
    pw->done = done;
    pw->arg = arg;
    pw->has_event = cjx_store_record_write_copy(&pw->w, &pw->ev, w, pw->data);
    return pg_writer_enqueue(s, pw);
}

int
pg_append_audit(struct cjx_store *base, const struct cjx_audit_event *ev,
                cjx_store_write_done_fn done, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    if (ev == NULL)
        return CJX_EINVAL;
    struct pg_write *pw =
        calloc(1, sizeof(*pw) + cjx_store_writer_event_size(ev));
    if (pw == NULL)
        return CJX_ENOMEM;
    pw->kind = PG_WRITE_AUDIT;
    pw->done = done;
    pw->arg = arg;
    pw->has_event = 1;
    char *p = pw->data;
    cjx_store_writer_event_copy(&pw->ev, ev, &p);
    return pg_writer_enqueue(s, pw);
}

int
pg_writer_start(struct pg_store *s, struct cjx_errbuf *eb)
{
    char msg[256];
    if (load_chain(s, msg, sizeof(msg)) != 0)
        return cjx_errf(eb, CJX_ESTORE, "%s", msg);
    atomic_store(&s->last_audit_seq, s->chain.seq);
    s->checkpoint_us = cjx_clock_now_us();
    int rc = pthread_create(&s->writer, NULL, writer_main, s);
    if (rc != 0)
        return cjx_errf(eb, CJX_ESTORE, "starting writer thread: %s",
                        strerror(rc));
    return 0;
}

void
pg_writer_stop(struct pg_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    free(s->abuf);
    s->abuf = NULL;
}
