/* The SQLite store's record writes, on the writer thread inside its
 * transaction: the idempotency check, the new version of a record and the
 * change that announces it, and the request id that makes a repeat a
 * replay. Also the record lookups a case step makes (cases.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "sqlite_step.h"
#include "sqlite_writer.h"

/* Looks up an earlier write with the same (sender, request id). Sets
 * *answered when the write needs no further work. */
static int
check_idempotency(struct sqlite_store *s, struct sqlite_pending_write *pw,
                  int *answered, char *msg, size_t msg_len)
{
    sqlite3_stmt *st = s->ws[WS_IDEM_GET];
    sqlite_bind_text(st, 1, pw->w.sender_ori);
    sqlite_bind_text(st, 2, pw->w.request_id);
    int rc = sqlite_step_row(st, "reading request ids", msg, msg_len);
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
            int32_t count, int64_t *record_id, int64_t *version, char *msg,
            size_t msg_len)
{
    sqlite3_stmt *st = s->ws[WS_REC_GET];
    sqlite_bind_text(st, 1, cii);
    sqlite_bind_text(st, 2, ccn);
    sqlite3_bind_int(st, 3, count);
    int rc = sqlite_step_row(st, "reading record", msg, msg_len);
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
             int64_t *record_id, int64_t *version, int *same_bytes, char *msg,
             size_t msg_len)
{
    *same_bytes = 0;
    int rc = find_record(s, pw->w.cii, pw->w.court_case_number,
                         pw->w.count_number, record_id, version, msg, msg_len);
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

/* Inserts a new key's record row, naming its first version and the change
 * that announces it before either is written: records.current_version_id
 * references nothing (schema.c, migration 4), so the row need not be
 * updated once they are. Fills the three numbers. */
static int
insert_record(struct sqlite_store *s, const struct cjx_record_write *w,
              int64_t version, int64_t *record_id, int64_t *seq,
              int64_t *version_id, char *msg, size_t msg_len)
{
    sqlite3_stmt *st = s->ws[WS_REC_INSERT];
    sqlite_bind_text(st, 1, w->cii);
    sqlite_bind_text(st, 2, w->court_case_number);
    sqlite3_bind_int(st, 3, w->count_number);
    sqlite_bind_text(st, 4, w->county);
    sqlite3_bind_int64(st, 5, version);
    int rc = sqlite_step_row(st, "inserting record", msg, msg_len);
    if (rc == SQLITE_DONE) {
        snprintf(msg, msg_len, "inserting record: no row returned");
        return SQLITE_INTERNAL;
    }
    if (rc != SQLITE_ROW)
        return rc;
    *record_id = sqlite3_column_int64(st, 0);
    *seq = sqlite3_column_int64(st, 1);
    *version_id = sqlite3_column_int64(st, 2);
    /* Stepped to its end, so that the statement is complete (and counted
     * with its row) before the next one runs. */
    return sqlite_step_done(st, "inserting record", msg, msg_len);
}

static void
bind_id_or_next(sqlite3_stmt *st, int i, int64_t id)
{
    if (id != 0)
        sqlite3_bind_int64(st, i, id);
    else
        sqlite3_bind_null(st, i);
}

int
cjx_store_writer_put_record(struct sqlite_store *s,
                            const struct cjx_record_write *w, int64_t record_id,
                            int64_t version, int64_t *seq_out, char *msg,
                            size_t msg_len)
{
    /* 0: SQLite numbers the version and the change. */
    int64_t version_id = 0, seq = 0;
    int is_new = record_id == 0;
    int rc;
    if (is_new) {
        rc = insert_record(s, w, version, &record_id, &seq, &version_id, msg,
                           msg_len);
        if (rc != SQLITE_OK)
            return rc;
    }

    sqlite3_stmt *st = s->ws[WS_VER_INSERT];
    sqlite3_bind_int64(st, 1, record_id);
    sqlite3_bind_int64(st, 2, version);
    sqlite_bind_text(st, 3, w->county);
    sqlite_bind_text(st, 4, w->sender_ori);
    sqlite3_bind_int64(st, 5, cjx_clock_now_us());
    sqlite_bind_text(st, 6, w->flags);
    sqlite3_bind_blob(st, 7, w->record, (int)w->record_len, SQLITE_STATIC);
    bind_id_or_next(st, 8, version_id);
    rc = sqlite_step_done(st, "inserting record version", msg, msg_len);
    if (rc != SQLITE_OK)
        return rc;
    version_id = sqlite3_last_insert_rowid(s->wdb);

    st = s->ws[WS_CHG_INSERT];
    sqlite3_bind_int64(st, 1, version_id);
    bind_id_or_next(st, 2, seq);
    rc = sqlite_step_done(st, "inserting change", msg, msg_len);
    if (rc != SQLITE_OK)
        return rc;
    seq = sqlite3_last_insert_rowid(s->wdb);

    if (!is_new) {
        st = s->ws[WS_REC_UPDATE];
        sqlite3_bind_int64(st, 1, record_id);
        sqlite_bind_text(st, 2, w->county);
        sqlite3_bind_int64(st, 3, version);
        sqlite3_bind_int64(st, 4, seq);
        sqlite3_bind_int64(st, 5, version_id);
        rc = sqlite_step_done(st, "updating record", msg, msg_len);
        if (rc != SQLITE_OK)
            return rc;
    }

    *seq_out = seq;
    return SQLITE_OK;
}

int
cjx_store_writer_find_record(struct sqlite_store *s, const char *cii,
                             const char *ccn, int32_t count,
                             struct sqlite_found_record *out, char *msg,
                             size_t msg_len)
{
    memset(out, 0, sizeof(*out));
    int rc = find_record(s, cii, ccn, count, &out->record_id, &out->version,
                         msg, msg_len);
    if (rc != SQLITE_ROW)
        return rc;
    sqlite3_stmt *st = s->ws[WS_REC_GET];
    out->body = sqlite3_column_blob(st, 2);
    out->body_len = (size_t)sqlite3_column_bytes(st, 2);
    if (out->body == NULL)
        out->body = "";
    out->statement = st;
    return SQLITE_OK;
}

void
cjx_store_writer_found_record_done(struct sqlite_found_record *f)
{
    if (f->statement != NULL)
        sqlite3_reset(f->statement);
    f->statement = NULL;
    f->body = NULL;
}

static int
remember_request(struct sqlite_store *s, struct sqlite_pending_write *pw,
                 char *msg, size_t msg_len)
{
    sqlite3_stmt *st = s->ws[WS_IDEM_PUT];
    sqlite_bind_text(st, 1, pw->w.sender_ori);
    sqlite_bind_text(st, 2, pw->w.request_id);
    sqlite3_bind_blob(st, 3, pw->w.request_digest, CJX_STORE_DIGEST_LEN,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, pw->res.version);
    sqlite3_bind_int64(st, 5, pw->res.seq);
    sqlite3_bind_int(st, 6, pw->res.unchanged);
    sqlite3_bind_int64(st, 7, cjx_clock_now_us());
    return sqlite_step_done(st, "recording request id", msg, msg_len);
}

int
cjx_store_record_apply(struct sqlite_store *s, struct sqlite_pending_write *pw,
                       char *msg, size_t msg_len)
{
    int answered;
    int rc = check_idempotency(s, pw, &answered, msg, msg_len);
    if (rc != SQLITE_OK || answered)
        return rc;

    int64_t record_id, version;
    int same_bytes;
    rc = find_current(s, pw, &record_id, &version, &same_bytes, msg, msg_len);
    if (rc != SQLITE_OK)
        return rc;
    if (same_bytes) {
        pw->res.version = version;
        pw->res.unchanged = 1;
    } else {
        rc = cjx_store_writer_put_record(s, &pw->w, record_id, version + 1,
                                         &pw->res.seq, msg, msg_len);
        if (rc != SQLITE_OK)
            return rc;
        pw->res.version = version + 1;
    }
    return remember_request(s, pw, msg, msg_len);
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
    return cjx_store_writer_enqueue(s, pw);
}
