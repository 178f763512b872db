/* The SQLite store's writer thread: queued record writes and audit entries,
 * group-committed, with the audit chain's checkpoints. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cjx/clock.h"
#include "cjx/log.h"
#include "sqlite_cases.h"
#include "sqlite_store.h"

const char cjx_store_conflict_detail[] =
    "request id already used by this sender with a different request";
static const char replayed_note[] =
    "replay: answered from the first request with this id";
static const char unchanged_note[] =
    "unchanged: the same record is already stored";

/* How long audit entries that nobody waits for may wait for company before
 * the writer commits them: at most this many commits per second come from
 * them, however many calls there are. */
#define AUDIT_GATHER_US 5000

/* The writer's statements, prepared once on its connection. */
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

static const char *const writer_sql[] = {
    [WS_BEGIN] = "BEGIN IMMEDIATE",
    [WS_COMMIT] = "COMMIT",
    [WS_ROLLBACK] = "ROLLBACK",
    [WS_SAVEPOINT] = "SAVEPOINT write",
    [WS_RELEASE] = "RELEASE write",
    [WS_ROLLBACK_TO] = "ROLLBACK TO write",
    [WS_IDEM_GET] = "SELECT digest, version, seq, unchanged FROM idempotency"
                    " WHERE sender_ori = ?1 AND request_id = ?2",
    [WS_IDEM_PUT] = "INSERT INTO idempotency (sender_ori, request_id, digest,"
                    " version, seq, unchanged, created_at_us)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [WS_REC_GET] =
        "SELECT r.id, r.version, v.body FROM records r"
        " CROSS JOIN record_versions v ON v.id = r.current_version_id"
        " WHERE r.cii = ?1 AND r.court_case_number = ?2"
        " AND r.count_number = ?3",
    [WS_REC_INSERT] = "INSERT INTO records (cii, court_case_number,"
                      " count_number, county, version, seq)"
                      " VALUES (?1, ?2, ?3, ?4, 0, 0)",
    [WS_REC_UPDATE] = "UPDATE records SET county = ?2, version = ?3,"
                      " seq = ?4, current_version_id = ?5 WHERE id = ?1",
    [WS_VER_INSERT] = "INSERT INTO record_versions (record_id, version,"
                      " county, submitted_by, stored_at_us, flags, body)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [WS_CHG_INSERT] = "INSERT INTO changes (version_id) VALUES (?1)",
    [WS_AUDIT_INSERT] = "INSERT INTO audit (seq, body, hash)"
                        " VALUES (?1, ?2, ?3)",
    [WS_CHECKPOINT_INSERT] = "INSERT INTO audit_checkpoints (seq, body)"
                             " VALUES (?1, ?2)",
};

/* What one step of the writer failed at, copied before the statement is
 * reset: only the writer thread touches it. */
struct writer_error {
    char msg[160];
};

static void
note_error(struct sqlite_store *s, struct writer_error *we, const char *what)
{
    snprintf(we->msg, sizeof(we->msg), "%s: %s", what, sqlite3_errmsg(s->wdb));
}

/* Steps a statement that returns no rows, then resets it. */
static int
step_done(struct sqlite_store *s, sqlite3_stmt *st, struct writer_error *we,
          const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        note_error(s, we, what);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Steps a one-row query: SQLITE_ROW (leave it to the caller to read the
 * columns and reset), SQLITE_DONE (already reset) or an error (reset). */
static int
step_row(struct sqlite_store *s, sqlite3_stmt *st, struct writer_error *we,
         const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return rc;
    if (rc != SQLITE_DONE)
        note_error(s, we, what);
    sqlite3_reset(st);
    return rc;
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
    /* Every value bound by the writer outlives the step that uses it and
     * is re-bound before the next step, so SQLite need not copy it. */
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Looks up an earlier write with the same (sender, request id). Sets
 * *answered when the write needs no further work. */
static int
check_idempotency(struct sqlite_store *s, struct sqlite_pending_write *pw,
                  int *answered, struct writer_error *we)
{
    sqlite3_stmt *st = s->ws[WS_IDEM_GET];
    bind_text(st, 1, pw->w.sender_ori);
    bind_text(st, 2, pw->w.request_id);
    int rc = step_row(s, st, we, "reading request ids");
    if (rc != SQLITE_ROW) {
        *answered = 0;
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    *answered = 1;
    const void *digest = sqlite3_column_blob(st, 0);
    if (sqlite3_column_bytes(st, 0) == CJX_STORE_DIGEST_LEN &&
        memcmp(digest, pw->w.request_digest, CJX_STORE_DIGEST_LEN) == 0) {
        pw->res.version = sqlite3_column_int64(st, 1);
        pw->res.seq = sqlite3_column_int64(st, 2);
        pw->res.unchanged = sqlite3_column_int(st, 3);
        pw->res.replayed = 1;
    } else {
        pw->res.err = CJX_ECONFLICT;
    }
    sqlite3_reset(st);
    return SQLITE_OK;
}

/* Finds the key's current version; *record_id is 0 for a new key. With
 * SQLITE_ROW the statement stays on its row for the caller, who reads the
 * body (column 2) and resets it; otherwise it is reset. */
static int
find_record(struct sqlite_store *s, const char *cii, const char *ccn,
            int32_t count, int64_t *record_id, int64_t *version,
            struct writer_error *we)
{
    sqlite3_stmt *st = s->ws[WS_REC_GET];
    bind_text(st, 1, cii);
    bind_text(st, 2, ccn);
    sqlite3_bind_int(st, 3, count);
    int rc = step_row(s, st, we, "reading record");
    *record_id = 0;
    *version = 0;
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    *record_id = sqlite3_column_int64(st, 0);
    *version = sqlite3_column_int64(st, 1);
    return SQLITE_ROW;
}

static int
find_current(struct sqlite_store *s, struct sqlite_pending_write *pw,
             int64_t *record_id, int64_t *version, int *same_bytes,
             struct writer_error *we)
{
    *same_bytes = 0;
    int rc = find_record(s, pw->w.cii, pw->w.court_case_number,
                         pw->w.count_number, record_id, version, we);
    if (rc != SQLITE_ROW)
        return rc;
    sqlite3_stmt *st = s->ws[WS_REC_GET];
    const void *body = sqlite3_column_blob(st, 2);
    size_t len = (size_t)sqlite3_column_bytes(st, 2);
    *same_bytes = len == pw->w.record_len &&
                  (len == 0 || memcmp(body, pw->w.record, len) == 0);
    sqlite3_reset(st);
    return SQLITE_OK;
}

/* Writes a new version of the record and the change that announces it;
 * *seq_out is the change's feed position. */
static int
write_version(struct sqlite_store *s, const struct cjx_record_write *w,
              int64_t record_id, int64_t version, int64_t *seq_out,
              struct writer_error *we)
{
    int rc;
    if (record_id == 0) {
        sqlite3_stmt *st = s->ws[WS_REC_INSERT];
        bind_text(st, 1, w->cii);
        bind_text(st, 2, w->court_case_number);
        sqlite3_bind_int(st, 3, w->count_number);
        bind_text(st, 4, w->county);
        if ((rc = step_done(s, st, we, "inserting record")) != SQLITE_OK)
            return rc;
        record_id = sqlite3_last_insert_rowid(s->wdb);
    }

    sqlite3_stmt *st = s->ws[WS_VER_INSERT];
    sqlite3_bind_int64(st, 1, record_id);
    sqlite3_bind_int64(st, 2, version);
    bind_text(st, 3, w->county);
    bind_text(st, 4, w->sender_ori);
    sqlite3_bind_int64(st, 5, cjx_clock_now_us());
    bind_text(st, 6, w->flags);
    sqlite3_bind_blob(st, 7, w->record, (int)w->record_len, SQLITE_STATIC);
    if ((rc = step_done(s, st, we, "inserting record version")) != SQLITE_OK)
        return rc;
    int64_t version_id = sqlite3_last_insert_rowid(s->wdb);

    st = s->ws[WS_CHG_INSERT];
    sqlite3_bind_int64(st, 1, version_id);
    if ((rc = step_done(s, st, we, "inserting change")) != SQLITE_OK)
        return rc;
    int64_t seq = sqlite3_last_insert_rowid(s->wdb);

    st = s->ws[WS_REC_UPDATE];
    sqlite3_bind_int64(st, 1, record_id);
    bind_text(st, 2, w->county);
    sqlite3_bind_int64(st, 3, version);
    sqlite3_bind_int64(st, 4, seq);
    sqlite3_bind_int64(st, 5, version_id);
    if ((rc = step_done(s, st, we, "updating record")) != SQLITE_OK)
        return rc;

    *seq_out = seq;
    return SQLITE_OK;
}

int
cjx_store_writer_find_record(struct sqlite_store *s, const char *cii,
                             const char *ccn, int32_t count,
                             struct sqlite_found_record *out, char *msg,
                             size_t msg_len)
{
    struct writer_error we;
    memset(out, 0, sizeof(*out));
    int rc =
        find_record(s, cii, ccn, count, &out->record_id, &out->version, &we);
    if (rc == SQLITE_ROW) {
        sqlite3_stmt *st = s->ws[WS_REC_GET];
        out->body = sqlite3_column_blob(st, 2);
        out->body_len = (size_t)sqlite3_column_bytes(st, 2);
        if (out->body == NULL)
            out->body = "";
        out->statement = st;
        return SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        snprintf(msg, msg_len, "%s", we.msg);
    return rc;
}

void
cjx_store_writer_found_record_done(struct sqlite_found_record *f)
{
    if (f->statement != NULL)
        sqlite3_reset(f->statement);
    f->statement = NULL;
    f->body = NULL;
}

int
cjx_store_writer_put_record(struct sqlite_store *s,
                            const struct cjx_record_write *w, int64_t record_id,
                            int64_t version, int64_t *seq_out, char *msg,
                            size_t msg_len)
{
    struct writer_error we;
    int rc = write_version(s, w, record_id, version, seq_out, &we);
    if (rc != SQLITE_OK)
        snprintf(msg, msg_len, "%s", we.msg);
    return rc;
}

static int
remember_request(struct sqlite_store *s, struct sqlite_pending_write *pw,
                 struct writer_error *we)
{
    sqlite3_stmt *st = s->ws[WS_IDEM_PUT];
    bind_text(st, 1, pw->w.sender_ori);
    bind_text(st, 2, pw->w.request_id);
    sqlite3_bind_blob(st, 3, pw->w.request_digest, CJX_STORE_DIGEST_LEN,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, pw->res.version);
    sqlite3_bind_int64(st, 5, pw->res.seq);
    sqlite3_bind_int(st, 6, pw->res.unchanged);
    sqlite3_bind_int64(st, 7, cjx_clock_now_us());
    return step_done(s, st, we, "recording request id");
}

/* ---- the audit chain ------------------------------------------------- */

/* Appends the entry for ev to the chain inside the open transaction. One
 * packing, one SHA-256 and one insert: reads make an entry each, so this
 * is on the path of every call. */
static int
append_entry(struct sqlite_store *s, const struct cjx_audit_event *ev,
             int64_t *seq_out, struct writer_error *we)
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
            snprintf(we->msg, sizeof(we->msg),
                     "out of memory for an audit "
                     "entry");
            return SQLITE_NOMEM;
        }
        s->abuf = grown;
        s->abuf_cap = cap;
        cjx_audit_entry_pack(ev, seq, c->hash, now, s->abuf, s->abuf_cap);
    }
    if (n > INT_MAX) {
        snprintf(we->msg, sizeof(we->msg), "audit entry too large");
        return SQLITE_TOOBIG;
    }
    uint8_t hash[CJX_AUDIT_HASH_LEN];
    if (cjx_audit_hash(s->abuf, n, hash) != 0) {
        snprintf(we->msg, sizeof(we->msg), "SHA-256 is unavailable");
        return SQLITE_ERROR;
    }
    sqlite3_stmt *st = s->ws[WS_AUDIT_INSERT];
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_blob(st, 2, s->abuf, (int)n, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, hash, CJX_AUDIT_HASH_LEN, SQLITE_STATIC);
    int rc = step_done(s, st, we, "recording audit entry");
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

/* Signs the newest entry inside the open transaction. Without a key, or
 * when signing fails (logged once), the entries wait for the next try and
 * the transaction goes on; only a failed insert fails it. */
static int
write_checkpoint(struct sqlite_store *s, struct writer_error *we)
{
    struct sqlite_audit_chain *c = &s->chain;
    int64_t now = cjx_clock_now_us();
    uint8_t *body = NULL;
    size_t len = 0;
    int err = cjx_store_sign_checkpoint(&s->signer_mu, &s->signer, c->seq,
                                        c->hash, now, s->checkpoint_entries,
                                        &body, &len, &s->sign_failed);
    if (err == CJX_ENOTFOUND)
        return SQLITE_OK;
    if (err != 0) {
        c->checkpoint_us = now; /* try again after a full interval */
        return SQLITE_OK;
    }
    sqlite3_stmt *st = s->ws[WS_CHECKPOINT_INSERT];
    sqlite3_bind_int64(st, 1, c->seq);
    sqlite3_bind_blob(st, 2, body, (int)len, SQLITE_STATIC);
    int rc = step_done(s, st, we, "recording audit checkpoint");
    free(body);
    if (rc == SQLITE_OK) {
        c->unsigned_count = 0;
        c->checkpoint_us = now;
    }
    return rc;
}

/* After a signing failure only the interval retries, not every entry. */
static int
checkpoint_due_by_count(struct sqlite_store *s)
{
    return s->chain.unsigned_count >= s->checkpoint_entries &&
           !s->sign_failed && has_signer(s);
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

/* A transaction of its own for a checkpoint that is due while no write
 * comes: after the interval on an idle daemon, and at close. */
static void
checkpoint_alone(struct sqlite_store *s)
{
    struct writer_error we;
    struct sqlite_audit_chain before = s->chain;
    int rc = step_done(s, s->ws[WS_BEGIN], &we, "starting transaction");
    if (rc == SQLITE_OK)
        rc = write_checkpoint(s, &we);
    if (rc == SQLITE_OK)
        rc = step_done(s, s->ws[WS_COMMIT], &we, "committing");
    if (rc != SQLITE_OK) {
        if (!sqlite3_get_autocommit(s->wdb)) {
            struct writer_error ignored;
            step_done(s, s->ws[WS_ROLLBACK], &ignored, "rollback");
        }
        s->chain = before;
        cjx_error("store", "audit checkpoint failed: %s", we.msg);
    }
    if (s->chain.unsigned_count > 0)
        s->chain.checkpoint_us = cjx_clock_now_us();
}

/* Microseconds until a checkpoint falls due on an idle writer, 0 if it is
 * due now, -1 if none will without new entries. */
static int64_t
checkpoint_wait_us(struct sqlite_store *s)
{
    if (s->chain.unsigned_count == 0 || !has_signer(s))
        return -1;
    int64_t now = cjx_clock_now_us();
    if (checkpoint_due_by_time(s, now))
        return 0;
    return s->chain.checkpoint_us + (int64_t)s->checkpoint_seconds * 1000000 -
           now;
}

/* Completes a write's event from what the write did. */
void
cjx_store_complete_event(struct cjx_audit_event *ev,
                         const struct cjx_record_write_result *r)
{
    ev->outcome_code = cjx_err_status_code(r->err);
    ev->change_seq = r->seq;
    ev->record_version = r->version;
    ev->type = CJX_AUDIT_CALL;
    if (r->err == CJX_ECONFLICT)
        ev->outcome_message = cjx_store_conflict_detail;
    else if (r->replayed)
        ev->outcome_message = replayed_note;
    else if (r->unchanged)
        ev->outcome_message = unchanged_note;
    else
        ev->type = CJX_AUDIT_STATE_CHANGE;
}

/* ---- record writes -------------------------------------------------- */

/* Applies one write inside the open transaction, filling pw->res. Returns
 * an SQLite error code if a statement failed (the caller rolls back to the
 * write's savepoint). */
static int
apply_write(struct sqlite_store *s, struct sqlite_pending_write *pw,
            struct writer_error *we)
{
    int answered;
    int rc = check_idempotency(s, pw, &answered, we);
    if (rc != SQLITE_OK || answered)
        return rc;

    int64_t record_id, version;
    int same_bytes;
    rc = find_current(s, pw, &record_id, &version, &same_bytes, we);
    if (rc != SQLITE_OK)
        return rc;
    if (same_bytes) {
        pw->res.version = version;
        pw->res.unchanged = 1;
    } else {
        rc = write_version(s, &pw->w, record_id, version + 1, &pw->res.seq, we);
        if (rc != SQLITE_OK)
            return rc;
        pw->res.version = version + 1;
    }
    return remember_request(s, pw, we);
}

static void
fail_write(struct sqlite_pending_write *pw, const char *detail)
{
    memset(&pw->res, 0, sizeof(pw->res));
    pw->record_seq = 0;
    pw->res.err = CJX_ESTORE;
    snprintf(pw->detail, sizeof(pw->detail), "%s", detail);
}

static void
fail_batch(struct sqlite_pending_write *batch, const char *detail)
{
    for (struct sqlite_pending_write *pw = batch; pw != NULL; pw = pw->next)
        fail_write(pw, detail);
}

/* Applies one write, with its event, in its own savepoint; a write that
 * fails is undone alone (its event with it) and answered with CJX_ESTORE.
 * Returns SQLITE_OK, or an error when the transaction itself cannot go
 * on. */
static int
apply_in_savepoint(struct sqlite_store *s, struct sqlite_pending_write *pw,
                   struct writer_error *we)
{
    struct sqlite_audit_chain before = s->chain;
    int rc = step_done(s, s->ws[WS_SAVEPOINT], we, "savepoint");
    if (rc != SQLITE_OK)
        return rc;
    rc = pw->kind == SQLITE_WRITE_RECORD
             ? apply_write(s, pw, we)
             : cjx_store_cases_apply(s, pw, we->msg, sizeof(we->msg));
    if (rc == SQLITE_OK && pw->has_event) {
        cjx_store_complete_event(&pw->ev, &pw->res);
        rc = append_entry(s, &pw->ev, &pw->res.audit_seq, we);
    }
    if (rc == SQLITE_OK)
        return step_done(s, s->ws[WS_RELEASE], we, "release");
    s->chain = before;
    fail_write(pw, we->msg);
    /* Some errors (disk full, I/O) make SQLite roll back the whole
     * transaction, and the writes before this one with it. */
    if (sqlite3_get_autocommit(s->wdb))
        return rc;
    rc = step_done(s, s->ws[WS_ROLLBACK_TO], we, "undoing a write");
    if (rc == SQLITE_OK)
        rc = step_done(s, s->ws[WS_RELEASE], we, "release");
    return rc;
}

/* Appends an audit event that goes with no write. A single statement
 * needs no savepoint: a failed one undoes itself. */
static int
apply_audit_only(struct sqlite_store *s, struct sqlite_pending_write *pw,
                 struct writer_error *we)
{
    struct sqlite_audit_chain before = s->chain;
    int rc = append_entry(s, &pw->ev, &pw->res.audit_seq, we);
    if (rc == SQLITE_OK)
        return rc;
    s->chain = before;
    fail_write(pw, we->msg);
    /* Some errors (disk full, I/O) end the whole transaction. */
    return sqlite3_get_autocommit(s->wdb) ? rc : SQLITE_OK;
}

/* Hands a committed transaction's duration and size to the stats hook. */
static void
report_commit(struct sqlite_store *s, int64_t commit_us, int writes)
{
    pthread_mutex_lock(&s->hook_mu);
    if (s->stats_hook != NULL)
        s->stats_hook(s->stats_hook_arg, commit_us, writes);
    pthread_mutex_unlock(&s->hook_mu);
}

/* Applies a batch in one transaction, with the checkpoints that fall due
 * in it. If the transaction fails, every write in it fails and *failed is
 * set. Returns the highest seq the batch committed, 0 if it advanced
 * nothing; *audit_top likewise for the audit log. */
static int64_t
commit_batch(struct sqlite_store *s, struct sqlite_pending_write *batch,
             int64_t *audit_top, int *failed)
{
    struct writer_error we;
    struct sqlite_audit_chain before = s->chain;
    *audit_top = 0;
    *failed = 0;
    int64_t began_us = cjx_clock_monotonic_us();
    int writes = 0;
    int rc = step_done(s, s->ws[WS_BEGIN], &we, "starting transaction");
    for (struct sqlite_pending_write *pw = batch; pw != NULL && rc == SQLITE_OK;
         pw = pw->next) {
        writes++;
        if (pw->kind == SQLITE_WRITE_AUDIT)
            rc = apply_audit_only(s, pw, &we);
        else
            rc = apply_in_savepoint(s, pw, &we);
        /* Signed at exactly every N entries, so that a verifier can tell
         * a removed checkpoint by a longer stretch. */
        if (rc == SQLITE_OK && checkpoint_due_by_count(s))
            rc = write_checkpoint(s, &we);
    }
    if (rc == SQLITE_OK && checkpoint_due_by_time(s, cjx_clock_now_us()))
        rc = write_checkpoint(s, &we);
    if (rc == SQLITE_OK)
        rc = step_done(s, s->ws[WS_COMMIT], &we, "committing");
    if (rc != SQLITE_OK) {
        /* A failed COMMIT leaves the transaction open. */
        if (!sqlite3_get_autocommit(s->wdb)) {
            struct writer_error ignored;
            step_done(s, s->ws[WS_ROLLBACK], &ignored, "rollback");
        }
        s->chain = before;
        fail_batch(batch, we.msg);
        *failed = 1;
        return 0;
    }
    if (s->chain.seq > before.seq)
        *audit_top = s->chain.seq;
    report_commit(s, cjx_clock_monotonic_us() - began_us, writes);

    int64_t top = 0;
    for (struct sqlite_pending_write *pw = batch; pw != NULL; pw = pw->next) {
        if (pw->kind == SQLITE_WRITE_RECORD && pw->res.err == 0 &&
            !pw->res.replayed && pw->res.seq > top)
            top = pw->res.seq;
        /* A case step that changed a record advanced the record feed. */
        if (pw->kind == SQLITE_WRITE_CASE && pw->res.err == 0 &&
            pw->record_seq > top)
            top = pw->record_seq;
    }
    return top;
}

/* Announces the commit (or its failure), then answers and frees every
 * write of the batch. The hooks run first so that a write's completion
 * implies the hooks have seen its seq and the transaction's outcome. */
static void
finish_batch(struct sqlite_store *s, struct sqlite_pending_write *batch,
             int64_t top, int64_t audit_top, int failed)
{
    pthread_mutex_lock(&s->hook_mu);
    if (s->outcome_hook != NULL)
        s->outcome_hook(s->outcome_hook_arg, !failed,
                        failed ? batch->detail : NULL);
    pthread_mutex_unlock(&s->hook_mu);
    if (top > 0) {
        atomic_store(&s->last_seq, top);
        pthread_mutex_lock(&s->hook_mu);
        if (s->hook != NULL)
            s->hook(s->hook_arg, top);
        pthread_mutex_unlock(&s->hook_mu);
    }
    if (audit_top > 0) {
        atomic_store(&s->last_audit_seq, audit_top);
        pthread_mutex_lock(&s->hook_mu);
        if (s->audit_hook != NULL)
            s->audit_hook(s->audit_hook_arg, audit_top);
        pthread_mutex_unlock(&s->hook_mu);
    }
    int lost = 0;
    char why[sizeof(batch->detail)] = "";
    while (batch != NULL) {
        struct sqlite_pending_write *pw = batch;
        batch = pw->next;
        if (pw->res.err == CJX_ESTORE)
            pw->res.detail = pw->detail;
        else if (pw->res.err == CJX_ECONFLICT)
            pw->res.detail = cjx_store_conflict_detail;
        if (pw->done != NULL) {
            pw->done(pw->arg, &pw->res);
        } else if (pw->res.err != 0 && lost++ == 0) {
            memcpy(why, pw->detail, sizeof(why));
        }
        free(pw);
    }
    /* Nobody waits for these entries: the log is where their loss shows. */
    if (lost > 0)
        cjx_error("store", "%d audit entr%s not recorded: %s", lost,
                  lost == 1 ? "y was" : "ies were", why);
}

/* Everything but an audit entry nobody waits for is committed at once. */
static int
is_urgent(const struct sqlite_pending_write *pw)
{
    return pw->kind != SQLITE_WRITE_AUDIT || pw->done != NULL;
}

/* Detaches up to max_batch writes from the queue head. Called with s->mu. */
static struct sqlite_pending_write *
take_batch(struct sqlite_store *s)
{
    struct sqlite_pending_write *batch = s->head, *last = s->head;
    int n = 1, urgent = is_urgent(last);
    for (; n < s->max_batch && last->next != NULL; n++) {
        last = last->next;
        urgent += is_urgent(last);
    }
    s->head = last->next;
    if (s->head == NULL)
        s->tail = NULL;
    last->next = NULL;
    s->queued -= n;
    s->urgent -= urgent;
    s->head_since_us = cjx_clock_monotonic_us();
    return batch;
}

/* With s->mu held and something queued: lets audit entries that nobody
 * waits for gather until a write someone waits for arrives, a batch is
 * full, the store closes, or the oldest has waited AUDIT_GATHER_US. */
static void
gather_audit_entries(struct sqlite_store *s)
{
    while (s->urgent == 0 && s->queued < s->max_batch && !s->closing) {
        int64_t wait_us =
            s->head_since_us + AUDIT_GATHER_US - cjx_clock_monotonic_us();
        if (wait_us <= 0)
            return;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        long ns = until.tv_nsec + (long)wait_us * 1000;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&s->cv, &s->mu, &until);
    }
}

/* A committed batch on its way to the completer. */
struct sqlite_committed {
    struct sqlite_committed *next;
    struct sqlite_pending_write *batch;
    int64_t top, audit_top;
    int failed; /* the transaction did not commit */
};

/* Waits on s->cv (with s->mu held) until something is queued, the store
 * closes, or a checkpoint falls due, which it makes. */
static void
wait_for_work(struct sqlite_store *s)
{
    while ((s->head == NULL || s->paused) && !s->closing) {
        int64_t wait_us = checkpoint_wait_us(s);
        if (wait_us < 0) {
            pthread_cond_wait(&s->cv, &s->mu);
        } else if (wait_us == 0) {
            pthread_mutex_unlock(&s->mu);
            checkpoint_alone(s);
            pthread_mutex_lock(&s->mu);
        } else {
            /* s->cv runs on the monotonic clock (store_sqlite.c). */
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            int64_t ns = until.tv_nsec + (wait_us % 1000000) * 1000;
            until.tv_sec += (time_t)(wait_us / 1000000 + ns / 1000000000);
            until.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&s->cv, &s->mu, &until);
        }
    }
}

static void *
writer_main(void *arg)
{
    struct sqlite_store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        wait_for_work(s);
        if (s->head == NULL)
            break; /* closing, and every queued write is committed */
        gather_audit_entries(s);
        struct sqlite_pending_write *batch = take_batch(s);
        /* Unlocked while working, so submitters (including completions
         * that submit again) never wait for the disk. */
        pthread_mutex_unlock(&s->mu);
        struct sqlite_committed *c = malloc(sizeof(*c));
        int64_t audit_top;
        int failed;
        int64_t top = commit_batch(s, batch, &audit_top, &failed);
        if (c == NULL) {
            /* No memory to hand over: answer from here instead. */
            finish_batch(s, batch, top, audit_top, failed);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        *c = (struct sqlite_committed){.batch = batch,
                                       .top = top,
                                       .audit_top = audit_top,
                                       .failed = failed};
        pthread_mutex_lock(&s->mu);
        if (s->committed_tail != NULL)
            s->committed_tail->next = c;
        else
            s->committed_head = c;
        s->committed_tail = c;
        pthread_cond_signal(&s->committed_cv);
    }
    /* The log of a daemon that stopped cleanly ends signed. */
    pthread_mutex_unlock(&s->mu);
    if (s->chain.unsigned_count > 0 && has_signer(s))
        checkpoint_alone(s);
    pthread_mutex_lock(&s->mu);
    s->writer_done = 1;
    pthread_cond_signal(&s->committed_cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Runs the completions of committed batches in commit order. Answering a
 * batch (sending replies) costs about as much as committing one, so doing it
 * here lets the writer start the next transaction at once. */
static void *
completer_main(void *arg)
{
    struct sqlite_store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->committed_head == NULL && !s->writer_done)
            pthread_cond_wait(&s->committed_cv, &s->mu);
        struct sqlite_committed *c = s->committed_head;
        if (c == NULL)
            break; /* the writer has stopped and everything is answered */
        s->committed_head = c->next;
        if (s->committed_head == NULL)
            s->committed_tail = NULL;
        pthread_mutex_unlock(&s->mu);
        finish_batch(s, c->batch, c->top, c->audit_top, c->failed);
        free(c);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int
nonempty(const char *v)
{
    return v != NULL && v[0] != '\0';
}

enum { EVENT_STRINGS = 8 };

/* The text fields of an event, so that they can be measured and copied in
 * one loop. */
static void
event_strings(struct cjx_audit_event *ev, const char **field[EVENT_STRINGS])
{
    field[0] = &ev->agency_ori;
    field[1] = &ev->cert_fingerprint;
    field[2] = &ev->peer;
    field[3] = &ev->method;
    field[4] = &ev->request_id;
    field[5] = &ev->cii;
    field[6] = &ev->court_case_number;
    field[7] = &ev->outcome_message;
}

static size_t
event_size(const struct cjx_audit_event *ev)
{
    struct cjx_audit_event copy = *ev;
    const char **field[EVENT_STRINGS];
    event_strings(&copy, field);
    size_t total = 0;
    for (int i = 0; i < EVENT_STRINGS; i++)
        if (*field[i] != NULL)
            total += strlen(*field[i]) + 1;
    return total;
}

/* Copies ev into dst, its text at *p (advanced past it). */
static void
event_copy(struct cjx_audit_event *dst, const struct cjx_audit_event *ev,
           char **p)
{
    *dst = *ev;
    const char **field[EVENT_STRINGS];
    event_strings(dst, field);
    for (int i = 0; i < EVENT_STRINGS; i++) {
        if (*field[i] == NULL)
            continue;
        size_t n = strlen(*field[i]) + 1;
        memcpy(*p, *field[i], n);
        *field[i] = *p;
        *p += n;
    }
}

static int
enqueue(struct sqlite_store *s, struct sqlite_pending_write *pw)
{
    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        pthread_mutex_unlock(&s->mu);
        free(pw);
        return CJX_ECLOSED;
    }
    int was_empty = s->head == NULL;
    if (s->tail != NULL)
        s->tail->next = pw;
    else
        s->head = pw;
    s->tail = pw;
    s->queued++;
    if (was_empty)
        s->head_since_us = cjx_clock_monotonic_us();
    /* An entry nobody waits for wakes the writer only to start the clock
     * or to fill a batch; each signal costs a wake-up of the writer. */
    if (is_urgent(pw)) {
        s->urgent++;
        pthread_cond_signal(&s->cv);
    } else if (was_empty || s->queued >= s->max_batch) {
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* The record write's text: the strings a copy holds, in order. */
static void
record_write_strings(const struct cjx_record_write *w, const char *strs[6])
{
    strs[0] = w->sender_ori;
    strs[1] = w->request_id;
    strs[2] = w->cii;
    strs[3] = w->court_case_number;
    strs[4] = w->county;
    strs[5] = w->flags != NULL ? w->flags : "";
}

size_t
cjx_store_record_write_size(const struct cjx_record_write *w)
{
    if (w == NULL || !nonempty(w->sender_ori) || !nonempty(w->request_id) ||
        !nonempty(w->cii) || !nonempty(w->court_case_number) ||
        !nonempty(w->county) || (w->record == NULL && w->record_len > 0) ||
        w->record_len > INT_MAX)
        return 0;
    const char *strs[6];
    record_write_strings(w, strs);
    size_t total = w->record_len;
    for (int i = 0; i < 6; i++)
        total += strlen(strs[i]) + 1;
    if (w->audit != NULL)
        total += event_size(w->audit);
    return total;
}

int
cjx_store_record_write_copy(struct cjx_record_write *dst,
                            struct cjx_audit_event *ev,
                            const struct cjx_record_write *w, char *p)
{
    /* The record goes first, ahead of the strings. */
    if (w->record_len > 0)
        memcpy(p, w->record, w->record_len);
    *dst = *w;
    dst->record = p;
    dst->audit = NULL;
    p += w->record_len;
    const char *strs[6];
    record_write_strings(w, strs);
    const char **field[] = {&dst->sender_ori, &dst->request_id,
                            &dst->cii,        &dst->court_case_number,
                            &dst->county,     &dst->flags};
    for (int i = 0; i < 6; i++) {
        size_t n = strlen(strs[i]) + 1;
        *field[i] = memcpy(p, strs[i], n);
        p += n;
    }
    if (w->audit == NULL)
        return 0;
    event_copy(ev, w->audit, &p);
    return 1;
}

int
cjx_store_writer_submit(struct cjx_store *base,
                        const struct cjx_record_write *w,
                        cjx_store_write_done_fn done, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    size_t total = cjx_store_record_write_size(w);
    if (done == NULL || total == 0)
        return CJX_EINVAL;
    struct sqlite_pending_write *pw = malloc(sizeof(*pw) + total);
    if (pw == NULL)
        return CJX_ENOMEM;
    memset(pw, 0, sizeof(*pw));
    pw->done = done;
    pw->arg = arg;
    pw->kind = SQLITE_WRITE_RECORD;
    pw->has_event = cjx_store_record_write_copy(&pw->w, &pw->ev, w, pw->data);
    return enqueue(s, pw);
}

int
cjx_store_writer_append_audit(struct cjx_store *base,
                              const struct cjx_audit_event *ev,
                              cjx_store_write_done_fn done, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    if (ev == NULL)
        return CJX_EINVAL;
    struct sqlite_pending_write *pw = malloc(sizeof(*pw) + event_size(ev));
    if (pw == NULL)
        return CJX_ENOMEM;
    memset(pw, 0, sizeof(*pw));
    pw->done = done;
    pw->arg = arg;
    pw->kind = SQLITE_WRITE_AUDIT;
    pw->has_event = 1;
    char *p = pw->data;
    event_copy(&pw->ev, ev, &p);
    return enqueue(s, pw);
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

static void
finalize_all(struct sqlite_store *s)
{
    for (int i = 0; i < SQLITE_WRITER_STMTS; i++) {
        sqlite3_finalize(s->ws[i]);
        s->ws[i] = NULL;
    }
}

static int
prepare_all(struct sqlite_store *s, struct cjx_errbuf *eb)
{
    for (int i = 0; i < SQLITE_WRITER_STMTS; i++) {
        if (sqlite3_prepare_v3(s->wdb, writer_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &s->ws[i],
                               NULL) != SQLITE_OK) {
            cjx_errf(eb, CJX_ESTORE, "preparing \"%s\": %s", writer_sql[i],
                     sqlite3_errmsg(s->wdb));
            finalize_all(s);
            return CJX_ESTORE;
        }
    }
    return 0;
}

int
cjx_store_writer_start(struct sqlite_store *s, struct cjx_errbuf *eb)
{
    int err = prepare_all(s, eb);
    if (err != 0)
        return err;
    int rc = pthread_create(&s->completer, NULL, completer_main, s);
    if (rc != 0) {
        finalize_all(s);
        return cjx_errf(eb, CJX_ESTORE, "starting completer thread: %s",
                        strerror(rc));
    }
    rc = pthread_create(&s->writer, NULL, writer_main, s);
    if (rc != 0) {
        pthread_mutex_lock(&s->mu);
        s->writer_done = 1;
        pthread_cond_signal(&s->committed_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->completer, NULL);
        finalize_all(s);
        return cjx_errf(eb, CJX_ESTORE, "starting writer thread: %s",
                        strerror(rc));
    }
    return 0;
}

void
cjx_store_writer_stop(struct sqlite_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    pthread_join(s->completer, NULL);
    finalize_all(s);
    free(s->abuf);
    s->abuf = NULL;
    s->abuf_cap = 0;
}

void
cjx_store_sqlite_pause(struct cjx_store *base, int paused)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    pthread_mutex_lock(&s->mu);
    s->paused = paused;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

size_t
cjx_store_writer_event_size(const struct cjx_audit_event *ev)
{
    return event_size(ev);
}

void
cjx_store_writer_event_copy(struct cjx_audit_event *dst,
                            const struct cjx_audit_event *ev, char **p)
{
    event_copy(dst, ev, p);
}

int
cjx_store_writer_enqueue(struct sqlite_store *s,
                         struct sqlite_pending_write *pw)
{
    return enqueue(s, pw);
}
