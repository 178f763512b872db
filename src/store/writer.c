/* The SQLite store's writer thread: queued record writes, group-committed. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "sqlite_store.h"

static const char conflict_detail[] =
    "request id already used by this sender with a different request";

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

/* Finds the key's current version; *record_id is 0 for a new key. */
static int
find_current(struct sqlite_store *s, struct sqlite_pending_write *pw,
             int64_t *record_id, int64_t *version, int *same_bytes,
             struct writer_error *we)
{
    sqlite3_stmt *st = s->ws[WS_REC_GET];
    bind_text(st, 1, pw->w.cii);
    bind_text(st, 2, pw->w.court_case_number);
    sqlite3_bind_int(st, 3, pw->w.count_number);
    int rc = step_row(s, st, we, "reading record");
    *record_id = 0;
    *version = 0;
    *same_bytes = 0;
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    *record_id = sqlite3_column_int64(st, 0);
    *version = sqlite3_column_int64(st, 1);
    const void *body = sqlite3_column_blob(st, 2);
    size_t len = (size_t)sqlite3_column_bytes(st, 2);
    *same_bytes = len == pw->w.record_len &&
                  (len == 0 || memcmp(body, pw->w.record, len) == 0);
    sqlite3_reset(st);
    return SQLITE_OK;
}

/* Writes a new version of the record and the change that announces it. */
static int
write_version(struct sqlite_store *s, struct sqlite_pending_write *pw,
              int64_t record_id, int64_t version, struct writer_error *we)
{
    const struct cjx_record_write *w = &pw->w;
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

    pw->res.version = version;
    pw->res.seq = seq;
    return SQLITE_OK;
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
        rc = write_version(s, pw, record_id, version + 1, we);
        if (rc != SQLITE_OK)
            return rc;
    }
    return remember_request(s, pw, we);
}

static void
fail_write(struct sqlite_pending_write *pw, const char *detail)
{
    memset(&pw->res, 0, sizeof(pw->res));
    pw->res.err = CJX_ESTORE;
    snprintf(pw->detail, sizeof(pw->detail), "%s", detail);
}

static void
fail_batch(struct sqlite_pending_write *batch, const char *detail)
{
    for (struct sqlite_pending_write *pw = batch; pw != NULL; pw = pw->next)
        fail_write(pw, detail);
}

/* Applies one write in its own savepoint; a write that fails is undone
 * alone and answered with CJX_ESTORE. Returns SQLITE_OK, or an error when
 * the transaction itself cannot go on. */
static int
apply_in_savepoint(struct sqlite_store *s, struct sqlite_pending_write *pw,
                   struct writer_error *we)
{
    int rc = step_done(s, s->ws[WS_SAVEPOINT], we, "savepoint");
    if (rc != SQLITE_OK)
        return rc;
    rc = apply_write(s, pw, we);
    if (rc == SQLITE_OK)
        return step_done(s, s->ws[WS_RELEASE], we, "release");
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

/* Applies a batch in one transaction. If the transaction fails, every write
 * in it fails. Returns the highest seq the batch committed, 0 if it advanced
 * nothing. */
static int64_t
commit_batch(struct sqlite_store *s, struct sqlite_pending_write *batch)
{
    struct writer_error we;
    int rc = step_done(s, s->ws[WS_BEGIN], &we, "starting transaction");
    for (struct sqlite_pending_write *pw = batch; pw != NULL && rc == SQLITE_OK;
         pw = pw->next)
        rc = apply_in_savepoint(s, pw, &we);
    if (rc == SQLITE_OK)
        rc = step_done(s, s->ws[WS_COMMIT], &we, "committing");
    if (rc != SQLITE_OK) {
        /* A failed COMMIT leaves the transaction open. */
        if (!sqlite3_get_autocommit(s->wdb)) {
            struct writer_error ignored;
            step_done(s, s->ws[WS_ROLLBACK], &ignored, "rollback");
        }
        fail_batch(batch, we.msg);
        return 0;
    }

    int64_t top = 0;
    for (struct sqlite_pending_write *pw = batch; pw != NULL; pw = pw->next)
        if (pw->res.err == 0 && !pw->res.replayed && pw->res.seq > top)
            top = pw->res.seq;
    return top;
}

/* Announces the commit, then answers and frees every write of the batch.
 * The hook runs first so that a write's completion implies the hook has
 * seen its seq. */
static void
finish_batch(struct sqlite_store *s, struct sqlite_pending_write *batch,
             int64_t top)
{
    if (top > 0) {
        atomic_store(&s->last_seq, top);
        pthread_mutex_lock(&s->hook_mu);
        if (s->hook != NULL)
            s->hook(s->hook_arg, top);
        pthread_mutex_unlock(&s->hook_mu);
    }
    while (batch != NULL) {
        struct sqlite_pending_write *pw = batch;
        batch = pw->next;
        if (pw->res.err == CJX_ESTORE)
            pw->res.detail = pw->detail;
        else if (pw->res.err == CJX_ECONFLICT)
            pw->res.detail = conflict_detail;
        pw->done(pw->arg, &pw->res);
        free(pw);
    }
}

/* Detaches up to max_batch writes from the queue head. Called with s->mu. */
static struct sqlite_pending_write *
take_batch(struct sqlite_store *s)
{
    struct sqlite_pending_write *batch = s->head, *last = s->head;
    for (int n = 1; n < s->max_batch && last->next != NULL; n++)
        last = last->next;
    s->head = last->next;
    if (s->head == NULL)
        s->tail = NULL;
    last->next = NULL;
    return batch;
}

/* A committed batch on its way to the completer. */
struct sqlite_committed {
    struct sqlite_committed *next;
    struct sqlite_pending_write *batch;
    int64_t top;
};

static void *
writer_main(void *arg)
{
    struct sqlite_store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->head == NULL && !s->closing)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->head == NULL)
            break; /* closing, and every queued write is committed */
        struct sqlite_pending_write *batch = take_batch(s);
        /* Unlocked while working, so submitters (including completions
         * that submit again) never wait for the disk. */
        pthread_mutex_unlock(&s->mu);
        struct sqlite_committed *c = malloc(sizeof(*c));
        int64_t top = commit_batch(s, batch);
        if (c == NULL) {
            /* No memory to hand over: answer from here instead. */
            finish_batch(s, batch, top);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        *c = (struct sqlite_committed){.batch = batch, .top = top};
        pthread_mutex_lock(&s->mu);
        if (s->committed_tail != NULL)
            s->committed_tail->next = c;
        else
            s->committed_head = c;
        s->committed_tail = c;
        pthread_cond_signal(&s->committed_cv);
    }
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
        finish_batch(s, c->batch, c->top);
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

int
cjx_store_writer_submit(struct cjx_store *base,
                        const struct cjx_record_write *w,
                        cjx_store_write_done_fn done, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    if (w == NULL || done == NULL || !nonempty(w->sender_ori) ||
        !nonempty(w->request_id) || !nonempty(w->cii) ||
        !nonempty(w->court_case_number) || !nonempty(w->county) ||
        (w->record == NULL && w->record_len > 0) || w->record_len > INT_MAX)
        return CJX_EINVAL;

    const char *flags = w->flags != NULL ? w->flags : "";
    const char *strs[] = {w->sender_ori,        w->request_id, w->cii,
                          w->court_case_number, w->county,     flags};
    size_t lens[6], total = w->record_len;
    for (int i = 0; i < 6; i++) {
        lens[i] = strlen(strs[i]) + 1;
        total += lens[i];
    }
    struct sqlite_pending_write *pw = malloc(sizeof(*pw) + total);
    if (pw == NULL)
        return CJX_ENOMEM;
    memset(pw, 0, sizeof(*pw));
    pw->done = done;
    pw->arg = arg;

    /* The record goes first in data[], ahead of the strings. */
    char *p = pw->data;
    if (w->record_len > 0)
        memcpy(p, w->record, w->record_len);
    pw->w.record = p;
    pw->w.record_len = w->record_len;
    p += w->record_len;
    const char **dst[] = {&pw->w.sender_ori, &pw->w.request_id,
                          &pw->w.cii,        &pw->w.court_case_number,
                          &pw->w.county,     &pw->w.flags};
    for (int i = 0; i < 6; i++) {
        memcpy(p, strs[i], lens[i]);
        *dst[i] = p;
        p += lens[i];
    }
    memcpy(pw->w.request_digest, w->request_digest, CJX_STORE_DIGEST_LEN);
    pw->w.count_number = w->count_number;

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
}
