/* The SQLite store's writer: one thread that takes queued writes in
 * batches and commits each batch in one transaction (group commit), and
 * one completer thread that answers the committed batches in commit order
 * while the writer commits the next. A write that fails is undone alone:
 * the batch runs again with each write in a savepoint of its own.
 * What a write does is in record_writes.c, cases.c and audit_chain.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cjx/clock.h"
#include "cjx/log.h"
#include "sqlite_cases.h"
#include "sqlite_step.h"
#include "sqlite_writer.h"

/* How long audit entries that nobody waits for may wait for company before
 * the writer commits them: at most this many commits per second come from
 * them, however many calls there are. */
#define AUDIT_GATHER_US 5000

/* Every statement of the writer thread, prepared once on its connection. */
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
    /* A new record names the version and the change that follow it,
     * numbered as SQLite would number them (record_versions: the largest
     * id + 1; changes, AUTOINCREMENT: the larger of its sqlite_sequence
     * entry and its largest seq, + 1), so that its row is written once
     * (record_writes.c). */
    [WS_REC_INSERT] =
        "INSERT INTO records (cii, court_case_number, count_number, county,"
        " version, seq, current_version_id)"
        " VALUES (?1, ?2, ?3, ?4, ?5,"
        " max(coalesce((SELECT seq FROM sqlite_sequence"
        " WHERE name = 'changes'), 0),"
        " (SELECT coalesce(max(seq), 0) FROM changes)) + 1,"
        " (SELECT coalesce(max(id), 0) + 1 FROM record_versions))"
        " RETURNING id, seq, current_version_id",
    [WS_REC_UPDATE] = "UPDATE records SET county = ?2, version = ?3,"
                      " seq = ?4, current_version_id = ?5 WHERE id = ?1",
    /* ?8 and ?2: the ids a new record named, or NULL for SQLite's next. */
    [WS_VER_INSERT] = "INSERT INTO record_versions (id, record_id, version,"
                      " county, submitted_by, stored_at_us, flags, body)"
                      " VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [WS_CHG_INSERT] = "INSERT INTO changes (seq, version_id) VALUES (?2, ?1)",
    [WS_AUDIT_INSERT] = "INSERT INTO audit (seq, body, hash)"
                        " VALUES (?1, ?2, ?3)",
    [WS_CHECKPOINT_INSERT] = "INSERT INTO audit_checkpoints (seq, body)"
                             " VALUES (?1, ?2)",
};

/* Room for what a failed statement said, copied before it is reset. */
#define WRITER_MSG_LEN 160

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

/* Applies one write and appends its event. On failure the caller undoes
 * whatever part of it was written. */
static int
apply_write(struct sqlite_store *s, struct sqlite_pending_write *pw, char *msg,
            size_t msg_len)
{
    int rc = pw->kind == SQLITE_WRITE_RECORD
                 ? cjx_store_record_apply(s, pw, msg, msg_len)
                 : cjx_store_cases_apply(s, pw, msg, msg_len);
    if (rc == SQLITE_OK && pw->has_event) {
        cjx_store_complete_event(&pw->ev, &pw->res);
        rc = cjx_store_chain_append(s, &pw->ev, &pw->res.audit_seq, msg,
                                    msg_len);
    }
    return rc;
}

/* Applies one write, with its event, in its own savepoint; a write that
 * fails is undone alone (its event with it) and answered with CJX_ESTORE.
 * Returns SQLITE_OK, or an error when the transaction itself cannot go
 * on. */
static int
apply_in_savepoint(struct sqlite_store *s, struct sqlite_pending_write *pw,
                   char *msg, size_t msg_len)
{
    struct sqlite_audit_chain mark = cjx_store_chain_mark(s);
    int rc = sqlite_step_done(s->ws[WS_SAVEPOINT], "savepoint", msg, msg_len);
    if (rc != SQLITE_OK)
        return rc;
    rc = apply_write(s, pw, msg, msg_len);
    if (rc == SQLITE_OK)
        return sqlite_step_done(s->ws[WS_RELEASE], "release", msg, msg_len);
    cjx_store_chain_undo(s, &mark);
    fail_write(pw, msg);
    /* Some errors (disk full, I/O) make SQLite roll back the whole
     * transaction, and the writes before this one with it. */
    if (sqlite3_get_autocommit(s->wdb))
        return rc;
    rc = sqlite_step_done(s->ws[WS_ROLLBACK_TO], "undoing a write", msg,
                          msg_len);
    if (rc == SQLITE_OK)
        rc = sqlite_step_done(s->ws[WS_RELEASE], "release", msg, msg_len);
    return rc;
}

/* Appends an audit event that goes with no write. A single statement
 * needs no savepoint: a failed one undoes itself. */
static int
apply_audit_only(struct sqlite_store *s, struct sqlite_pending_write *pw,
                 char *msg, size_t msg_len)
{
    struct sqlite_audit_chain mark = cjx_store_chain_mark(s);
    int rc =
        cjx_store_chain_append(s, &pw->ev, &pw->res.audit_seq, msg, msg_len);
    if (rc == SQLITE_OK)
        return rc;
    cjx_store_chain_undo(s, &mark);
    fail_write(pw, msg);
    /* Some errors (disk full, I/O) end the whole transaction. */
    return sqlite3_get_autocommit(s->wdb) ? rc : SQLITE_OK;
}

/* Applies the writes of a batch in order, with the checkpoints that fall
 * due between them. Guarded, each write runs in a savepoint of its own and
 * a failed one is undone alone; unguarded, none does, and the first write
 * that fails stops the batch with its rows half written (*failed). Returns
 * SQLITE_OK, or an error when the transaction cannot go on (*failed stays
 * NULL unless a write failed). */
static int
apply_batch(struct sqlite_store *s, struct sqlite_pending_write *batch,
            int guarded, struct sqlite_pending_write **failed, char *msg,
            size_t msg_len)
{
    int rc = SQLITE_OK;
    for (struct sqlite_pending_write *pw = batch; pw != NULL && rc == SQLITE_OK;
         pw = pw->next) {
        if (pw->kind == SQLITE_WRITE_AUDIT) {
            rc = apply_audit_only(s, pw, msg, msg_len);
        } else if (guarded) {
            rc = apply_in_savepoint(s, pw, msg, msg_len);
        } else if ((rc = apply_write(s, pw, msg, msg_len)) != SQLITE_OK) {
            *failed = pw;
            return rc;
        }
        /* Signed at exactly every N entries, so that a verifier can tell
         * a removed checkpoint by a longer stretch. */
        if (rc == SQLITE_OK)
            rc = cjx_store_chain_checkpoint_by_count(s, msg, msg_len);
    }
    return rc;
}

/* Before a batch runs again: what its first run filled in is dropped. */
static void
forget_results(struct sqlite_pending_write *batch)
{
    for (struct sqlite_pending_write *pw = batch; pw != NULL; pw = pw->next) {
        memset(&pw->res, 0, sizeof(pw->res));
        pw->record_seq = 0;
        pw->detail[0] = '\0';
        if (pw->kind == SQLITE_WRITE_CASE)
            cjx_store_cases_forget_result(pw);
    }
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

void
cjx_store_writer_abandon(struct sqlite_store *s,
                         const struct sqlite_audit_chain *mark)
{
    /* Some errors end the transaction themselves; a failed COMMIT leaves
     * it open. */
    if (!sqlite3_get_autocommit(s->wdb)) {
        char ignored[WRITER_MSG_LEN];
        sqlite_step_done(s->ws[WS_ROLLBACK], "rollback", ignored,
                         sizeof(ignored));
    }
    cjx_store_chain_undo(s, mark);
}

/* Applies a batch in one transaction, with the checkpoints that fall due
 * in it. If the transaction fails, every write in it fails and out->failed
 * is set. Fills out->top with the highest seq the batch committed, 0 if it
 * advanced nothing, and out->audit_top likewise for the audit log. */
static void
commit_batch(struct sqlite_store *s, struct sqlite_pending_write *batch,
             struct sqlite_committed *out)
{
    char msg[WRITER_MSG_LEN];
    struct sqlite_audit_chain mark = cjx_store_chain_mark(s);
    *out = (struct sqlite_committed){0};
    int64_t case_seq = cjx_store_cases_next_seq(s);
    int64_t began_us = cjx_clock_monotonic_us();
    int writes = 0;
    for (struct sqlite_pending_write *pw = batch; pw != NULL; pw = pw->next)
        writes++;
    /* No savepoints: a write rarely fails, and a savepoint pair per write
     * costs two statements each time to save a rerun that rarely comes. */
    struct sqlite_pending_write *failed = NULL;
    int rc = sqlite_step_done(s->ws[WS_BEGIN], "starting transaction", msg,
                              sizeof(msg));
    if (rc == SQLITE_OK)
        rc = apply_batch(s, batch, 0, &failed, msg, sizeof(msg));
    if (failed != NULL) {
        /* A write failed halfway: the transaction, which holds its rows
         * and those of the writes before it, is rolled back. Alone, the
         * write is answered CJX_ESTORE and nothing is left to commit;
         * otherwise the batch runs again, each write in a savepoint so
         * that the failed one is undone alone. Case writes keep their
         * apply functions' decisions: this thread is the database's only
         * writer, so the second run finds the cases the first found. */
        cjx_store_writer_abandon(s, &mark);
        cjx_store_cases_rewind(s, case_seq);
        if (writes == 1) {
            fail_write(failed, msg);
            return; /* nothing committed, nothing to announce */
        }
        forget_results(batch);
        rc = sqlite_step_done(s->ws[WS_BEGIN], "starting transaction", msg,
                              sizeof(msg));
        if (rc == SQLITE_OK)
            rc = apply_batch(s, batch, 1, NULL, msg, sizeof(msg));
    }
    if (rc == SQLITE_OK)
        rc = cjx_store_chain_checkpoint_by_time(s, msg, sizeof(msg));
    if (rc == SQLITE_OK)
        rc = sqlite_step_done(s->ws[WS_COMMIT], "committing", msg, sizeof(msg));
    if (rc != SQLITE_OK) {
        cjx_store_writer_abandon(s, &mark);
        fail_batch(batch, msg);
        out->failed = 1;
        return;
    }
    if (s->chain.seq > mark.seq)
        out->audit_top = s->chain.seq;
    report_commit(s, cjx_clock_monotonic_us() - began_us, writes);

    for (struct sqlite_pending_write *pw = batch; pw != NULL; pw = pw->next) {
        if (pw->kind == SQLITE_WRITE_RECORD && pw->res.err == 0 &&
            !pw->res.replayed && pw->res.seq > out->top)
            out->top = pw->res.seq;
        /* A case step that changed a record advanced the record feed. */
        if (pw->kind == SQLITE_WRITE_CASE && pw->res.err == 0 &&
            pw->record_seq > out->top)
            out->top = pw->record_seq;
    }
}

/* Announces the commit (or its failure), then answers and frees every
 * write of the batch. The hooks run first so that a write's completion
 * implies the hooks have seen its seq and the transaction's outcome. */
static void
finish_batch(struct sqlite_store *s, struct sqlite_pending_write *batch)
{
    const struct sqlite_committed c = batch->committed;
    pthread_mutex_lock(&s->hook_mu);
    if (s->outcome_hook != NULL)
        s->outcome_hook(s->outcome_hook_arg, !c.failed,
                        c.failed ? batch->detail : NULL);
    pthread_mutex_unlock(&s->hook_mu);
    if (c.top > 0) {
        atomic_store(&s->last_seq, c.top);
        pthread_mutex_lock(&s->hook_mu);
        if (s->hook != NULL)
            s->hook(s->hook_arg, c.top);
        pthread_mutex_unlock(&s->hook_mu);
    }
    if (c.audit_top > 0) {
        atomic_store(&s->last_audit_seq, c.audit_top);
        pthread_mutex_lock(&s->hook_mu);
        if (s->audit_hook != NULL)
            s->audit_hook(s->audit_hook_arg, c.audit_top);
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

/* Waits on s->cv (with s->mu held) until something is queued, the store
 * closes, or a checkpoint falls due, which it makes. */
static void
wait_for_work(struct sqlite_store *s)
{
    while ((s->head == NULL || s->paused) && !s->closing) {
        int64_t wait_us = cjx_store_chain_checkpoint_wait_us(s);
        if (wait_us < 0) {
            pthread_cond_wait(&s->cv, &s->mu);
        } else if (wait_us == 0) {
            pthread_mutex_unlock(&s->mu);
            cjx_store_chain_checkpoint_alone(s);
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

/* With s->mu held: queues a committed batch for the completer. The batch's
 * first write carries what the completer needs, so handing it over
 * allocates nothing and cannot fail: every batch, whatever memory is left,
 * is answered on the completer thread after the batches committed before
 * it. (When the hand-over needed an allocation of its own, the writer
 * answered a batch itself if it failed, possibly ahead of earlier batches
 * the completer had not answered yet.) */
static void
hand_to_completer(struct sqlite_store *s, struct sqlite_pending_write *batch)
{
    batch->committed.next_batch = NULL;
    if (s->committed_tail != NULL)
        s->committed_tail->committed.next_batch = batch;
    else
        s->committed_head = batch;
    s->committed_tail = batch;
    pthread_cond_signal(&s->committed_cv);
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
        commit_batch(s, batch, &batch->committed);
        pthread_mutex_lock(&s->mu);
        hand_to_completer(s, batch);
    }
    pthread_mutex_unlock(&s->mu);
    cjx_store_chain_checkpoint_at_close(s);
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
        struct sqlite_pending_write *batch = s->committed_head;
        if (batch == NULL)
            break; /* the writer has stopped and everything is answered */
        s->committed_head = batch->committed.next_batch;
        if (s->committed_head == NULL)
            s->committed_tail = NULL;
        pthread_mutex_unlock(&s->mu);
        finish_batch(s, batch);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int
cjx_store_writer_enqueue(struct sqlite_store *s,
                         struct sqlite_pending_write *pw)
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
