/* The SQLite store's case writes: the inbox check, the apply function of
 * the caller, the new version, the outbox rows, and the outbox's delivery
 * marks, all on the writer thread. */
#include <inttypes.h>
#include <limits.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "sqlite_cases.h"
#include "sqlite_step.h"
#include "store_shared.h"

enum case_stmt {
    CW_INBOX_GET,
    CW_CHANGE_GET,
    CW_INBOX_PUT,
    CW_CASE_GET,
    CW_CASE_INSERT,
    CW_CASE_UPDATE,
    CW_CHANGE_INSERT,
    CW_NOTICE_PUT,
    CW_OUTBOX_MESSAGE_PUT,
    CW_OUTBOX_PUT,
    CW_MARK_DELIVERED,
    CW_MARK_RETRY,
    CW_MARK_PARK,
    CW_DUE_NOW,
    CW_MAX_SEQ,
    CW_COUNT_
};
_Static_assert(CW_COUNT_ == SQLITE_CASE_WRITER_STMTS, "case statement count");

static const char *const case_sql[] = {
    [CW_INBOX_GET] = "SELECT digest, seq, unchanged FROM case_inbox"
                     " WHERE sender_ori = ?1 AND message_id = ?2",
    [CW_CHANGE_GET] = "SELECT body FROM case_changes WHERE seq = ?1",
    [CW_INBOX_PUT] = "INSERT INTO case_inbox (sender_ori, message_id, digest,"
                     " seq, unchanged, created_at_us)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [CW_CASE_GET] = "SELECT c.id, c.version, v.body, c.seq FROM cases c"
                    " CROSS JOIN case_changes v ON v.seq = c.seq"
                    " WHERE c.cii = ?1 AND c.court_case_number = ?2"
                    " AND c.count_number = ?3",
    [CW_CASE_INSERT] = "INSERT INTO cases (cii, court_case_number,"
                       " count_number, county, state, due_us, version, seq)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [CW_CASE_UPDATE] = "UPDATE cases SET county = ?2, state = ?3, due_us = ?4,"
                       " version = ?5, seq = ?6 WHERE id = ?1",
    [CW_CHANGE_INSERT] = "INSERT INTO case_changes (seq, case_id, version,"
                         " state, event, sender_ori, stored_at_us, body)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [CW_NOTICE_PUT] = "INSERT OR IGNORE INTO case_notices (case_id, body)"
                      " VALUES (?1, ?2)",
    [CW_OUTBOX_MESSAGE_PUT] = "INSERT INTO outbox_messages (message_id,"
                              " method, cii, court_case_number,"
                              " count_number, payload, created_us)"
                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [CW_OUTBOX_PUT] = "INSERT INTO outbox (message, destination,"
                      " next_attempt_us) VALUES (?1, ?2, ?3)",
    [CW_MARK_DELIVERED] = "UPDATE outbox SET delivered_us = ?2,"
                          " attempts = attempts + 1, last_error = ''"
                          " WHERE id = ?1 AND delivered_us IS NULL",
    [CW_MARK_RETRY] = "UPDATE outbox SET attempts = attempts + 1,"
                      " next_attempt_us = ?2, last_error = ?3"
                      " WHERE id = ?1 AND delivered_us IS NULL AND parked = 0",
    [CW_MARK_PARK] = "UPDATE outbox SET attempts = attempts + 1, parked = 1,"
                     " last_error = ?2 WHERE id = ?1 AND delivered_us IS NULL",
    [CW_DUE_NOW] = "UPDATE outbox SET next_attempt_us = ?2"
                   " WHERE destination = ?1 AND delivered_us IS NULL"
                   " AND parked = 0 AND next_attempt_us > ?2",
    [CW_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM case_changes",
};

enum pending_kind { PENDING_CASE, PENDING_MARKS, PENDING_DUE_NOW };

/* What a queued case write or batch of marks carries besides the generic
 * pending write, placed (aligned) at the start of its data[]. */
struct case_pending {
    enum pending_kind kind;
    struct sqlite_store *s;
    cjx_case_write_done_fn done;
    cjx_store_write_done_fn marks_done;
    void *arg;
    cjx_case_apply_fn apply;
    void *apply_arg;
    /* Filled on the writer thread. */
    const void *snapshot; /* the apply function's, or snapshot_copy */
    size_t snapshot_len;
    void *snapshot_copy; /* a stored version, read for the answer */
    size_t outbox_added;
    int64_t record_version; /* of the record version the step wrote */
    int64_t record_seq;     /* and its record-feed position */
    char detail[512];       /* the apply function's refusal */
    /* Kept for a second run of the write after its transaction was
     * rolled back for another write of the batch (writer.c). */
    struct cjx_store_case_decision decision;
    /* PENDING_MARKS */
    struct cjx_outbox_mark *marks;
    size_t n_marks;
    /* PENDING_DUE_NOW */
    char destination[STORE_DESTINATION_MAX];
    int64_t due_us;
};

static struct case_pending *
pending_of(struct sqlite_pending_write *pw)
{
    uintptr_t p = (uintptr_t)pw->data;
    p = (p + alignof(max_align_t) - 1) & ~(uintptr_t)(alignof(max_align_t) - 1);
    return (struct case_pending *)p;
}

/* Room before the text of a pending write: the alignment padding and the
 * case_pending itself. */
#define PENDING_HEAD (alignof(max_align_t) + sizeof(struct case_pending))

/* A pending write of the cases with room for extra bytes after its
 * case_pending (at cp + 1), which *cp receives: both zeroed but for kind
 * and store. NULL when out of memory. */
static struct sqlite_pending_write *
pending_new(struct sqlite_store *s, enum pending_kind kind, size_t extra,
            struct case_pending **cp)
{
    struct sqlite_pending_write *pw =
        malloc(sizeof(*pw) + PENDING_HEAD + extra);
    if (pw == NULL)
        return NULL;
    memset(pw, 0, sizeof(*pw));
    *cp = pending_of(pw);
    memset(*cp, 0, sizeof(**cp));
    (*cp)->kind = kind;
    (*cp)->s = s;
    return pw;
}

/* ---- setup --------------------------------------------------------- */

int
cjx_store_cases_init(struct sqlite_store *s, struct cjx_errbuf *eb)
{
    struct sqlite_cases *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    cjx_store_case_hooks_init(&c->hooks);
    pthread_mutex_init(&c->pool_mu, NULL);
    atomic_init(&c->last_seq, 0);

    /* Every case message looks up its case, its message id and the indexes
     * by keys in no particular order: a cache that holds the hot pages of
     * a few hundred thousand cases saves a read per lookup. */
    sqlite3_exec(s->wdb, "PRAGMA cache_size=-65536", NULL, NULL, NULL);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->wdb, case_sql[CW_MAX_SEQ], -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            atomic_store(&c->last_seq, sqlite3_column_int64(st, 0));
            rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK) {
        int err = cjx_errf(eb, CJX_ESTORE, "reading the case feed: %s",
                           sqlite3_errmsg(s->wdb));
        cjx_store_case_hooks_fini(&c->hooks);
        pthread_mutex_destroy(&c->pool_mu);
        free(c);
        return err;
    }
    c->next_seq = atomic_load(&c->last_seq) + 1;
    s->cases = c;
    int err = cjx_store_checkpointer_start(s, eb);
    if (err != 0) {
        cjx_store_cases_free(s);
        return err;
    }
    return 0;
}

void
cjx_store_cases_free(struct sqlite_store *s)
{
    struct sqlite_cases *c = s->cases;
    if (c == NULL)
        return;
    cjx_store_checkpointer_stop(s);
    for (int i = 0; i < SQLITE_CASE_WRITER_STMTS; i++)
        sqlite3_finalize(c->ws[i]);
    cjx_store_case_readers_free(c);
    cjx_store_case_hooks_fini(&c->hooks);
    pthread_mutex_destroy(&c->pool_mu);
    free(c);
    s->cases = NULL;
}

/* The writer's statements, prepared on its own connection the first time
 * it needs them (the connection belongs to the writer thread after open). */
static int
prepare_statements(struct sqlite_store *s, char *msg, size_t msg_len)
{
    struct sqlite_cases *c = s->cases;
    if (c->ws_ready)
        return SQLITE_OK;
    for (int i = 0; i < SQLITE_CASE_WRITER_STMTS; i++) {
        int rc = sqlite3_prepare_v3(s->wdb, case_sql[i], -1,
                                    SQLITE_PREPARE_PERSISTENT, &c->ws[i], NULL);
        if (rc != SQLITE_OK) {
            snprintf(msg, msg_len, "preparing case statements: %s",
                     sqlite3_errmsg(s->wdb));
            for (int k = 0; k < i; k++) {
                sqlite3_finalize(c->ws[k]);
                c->ws[k] = NULL;
            }
            return rc;
        }
    }
    c->ws_ready = 1;
    return SQLITE_OK;
}

/* ---- one case message ------------------------------------------------ */

/* Copies a stored version into the pending write, for its answer. */
static int
keep_snapshot(struct case_pending *cp, const void *body, size_t len, char *msg,
              size_t msg_len)
{
    cp->snapshot_copy = malloc(len > 0 ? len : 1);
    if (cp->snapshot_copy == NULL) {
        snprintf(msg, msg_len, "out of memory for a case snapshot");
        return SQLITE_NOMEM;
    }
    if (len > 0)
        memcpy(cp->snapshot_copy, body, len);
    cp->snapshot = cp->snapshot_copy;
    cp->snapshot_len = len;
    return SQLITE_OK;
}

/* Looks the message id up. *answered when nothing more is to be done. */
static int
check_inbox(struct sqlite_store *s, struct sqlite_pending_write *pw,
            struct case_pending *cp, int *answered, char *msg, size_t msg_len)
{
    sqlite3_stmt *st = s->cases->ws[CW_INBOX_GET];
    sqlite_bind_text(st, 1, pw->w.sender_ori);
    sqlite_bind_text(st, 2, pw->w.request_id);
    int rc = sqlite_step_row(st, "reading the inbox", msg, msg_len);
    *answered = 0;
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    *answered = 1;
    const void *digest = sqlite3_column_blob(st, 0);
    if (sqlite3_column_bytes(st, 0) != CJX_STORE_DIGEST_LEN ||
        memcmp(digest, pw->w.request_digest, CJX_STORE_DIGEST_LEN) != 0) {
        pw->res.err = CJX_ECONFLICT;
        sqlite3_reset(st);
        return SQLITE_OK;
    }
    int64_t seq = sqlite3_column_int64(st, 1);
    pw->res.unchanged = sqlite3_column_int(st, 2);
    pw->res.replayed = 1;
    sqlite3_reset(st);

    /* The answer is the version the first message was answered with. */
    st = s->cases->ws[CW_CHANGE_GET];
    sqlite3_bind_int64(st, 1, seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = keep_snapshot(cp, sqlite3_column_blob(st, 0),
                           (size_t)sqlite3_column_bytes(st, 0), msg, msg_len);
    else if (rc == SQLITE_DONE)
        rc = keep_snapshot(cp, "", 0, msg, msg_len);
    else
        snprintf(msg, msg_len, "reading a case version: %s",
                 sqlite3_errmsg(s->wdb));
    sqlite3_reset(st);
    return rc;
}

static int
remember_message(struct sqlite_store *s, struct sqlite_pending_write *pw,
                 int64_t seq, int unchanged, char *msg, size_t msg_len)
{
    sqlite3_stmt *st = s->cases->ws[CW_INBOX_PUT];
    sqlite_bind_text(st, 1, pw->w.sender_ori);
    sqlite_bind_text(st, 2, pw->w.request_id);
    sqlite_bind_blob(st, 3, pw->w.request_digest, CJX_STORE_DIGEST_LEN);
    sqlite3_bind_int64(st, 4, seq);
    sqlite3_bind_int(st, 5, unchanged);
    sqlite3_bind_int64(st, 6, cjx_clock_now_us());
    return sqlite_step_done(st, "recording the message id", msg, msg_len);
}

static void
bind_due(sqlite3_stmt *st, int i, int64_t due_us)
{
    if (due_us > 0)
        sqlite3_bind_int64(st, i, due_us);
    else
        sqlite3_bind_null(st, i);
}

/* Writes the new version: the case row, the change, the notice. */
static int
write_version(struct sqlite_store *s, struct sqlite_pending_write *pw,
              int64_t case_id, int64_t seq, const struct cjx_case_next *next,
              char *msg, size_t msg_len)
{
    struct sqlite_cases *c = s->cases;
    int rc;
    sqlite3_stmt *st;
    if (case_id == 0) {
        st = c->ws[CW_CASE_INSERT];
        sqlite_bind_text(st, 1, pw->w.cii);
        sqlite_bind_text(st, 2, pw->w.court_case_number);
        sqlite3_bind_int(st, 3, pw->w.count_number);
        sqlite_bind_text(st, 4, next->county);
        sqlite3_bind_int(st, 5, next->state);
        bind_due(st, 6, next->due_us);
        sqlite3_bind_int64(st, 7, next->version);
        sqlite3_bind_int64(st, 8, seq);
        if ((rc = sqlite_step_done(st, "inserting case", msg, msg_len)) !=
            SQLITE_OK)
            return rc;
        case_id = sqlite3_last_insert_rowid(s->wdb);
    } else {
        st = c->ws[CW_CASE_UPDATE];
        sqlite3_bind_int64(st, 1, case_id);
        sqlite_bind_text(st, 2, next->county);
        sqlite3_bind_int(st, 3, next->state);
        bind_due(st, 4, next->due_us);
        sqlite3_bind_int64(st, 5, next->version);
        sqlite3_bind_int64(st, 6, seq);
        if ((rc = sqlite_step_done(st, "updating case", msg, msg_len)) !=
            SQLITE_OK)
            return rc;
    }
    st = c->ws[CW_CHANGE_INSERT];
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, case_id);
    sqlite3_bind_int64(st, 3, next->version);
    sqlite3_bind_int(st, 4, next->state);
    sqlite3_bind_int(st, 5, next->event);
    sqlite_bind_text(st, 6, pw->w.sender_ori);
    sqlite3_bind_int64(st, 7, cjx_clock_now_us());
    sqlite_bind_blob(st, 8, next->body, next->body_len);
    if ((rc = sqlite_step_done(st, "inserting case change", msg, msg_len)) !=
        SQLITE_OK)
        return rc;
    if (next->notice != NULL) {
        st = c->ws[CW_NOTICE_PUT];
        sqlite3_bind_int64(st, 1, case_id);
        sqlite_bind_blob(st, 2, next->notice, next->notice_len);
        if ((rc = sqlite_step_done(st, "storing the notice", msg, msg_len)) !=
            SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static int
write_outbox(struct sqlite_store *s, struct sqlite_pending_write *pw,
             const struct cjx_case_next *next, char *msg, size_t msg_len)
{
    if (next->n_outbox == 0)
        return SQLITE_OK;
    const struct cjx_outbox_put *first = &next->outbox[0];
    int64_t now = cjx_clock_now_us();
    sqlite3_stmt *st = s->cases->ws[CW_OUTBOX_MESSAGE_PUT];
    sqlite_bind_text(st, 1, pw->w.request_id);
    sqlite_bind_text(st, 2, first->method);
    sqlite_bind_text(st, 3, pw->w.cii);
    sqlite_bind_text(st, 4, pw->w.court_case_number);
    sqlite3_bind_int(st, 5, pw->w.count_number);
    sqlite_bind_blob(st, 6, first->payload, first->payload_len);
    sqlite3_bind_int64(st, 7, now);
    int rc = sqlite_step_done(st, "queueing a hand-off", msg, msg_len);
    if (rc != SQLITE_OK)
        return rc;
    int64_t message = sqlite3_last_insert_rowid(s->wdb);
    st = s->cases->ws[CW_OUTBOX_PUT];
    for (size_t i = 0; i < next->n_outbox; i++) {
        sqlite3_bind_int64(st, 1, message);
        sqlite_bind_text(st, 2, next->outbox[i].destination_ori);
        sqlite3_bind_int64(st, 3, now);
        rc = sqlite_step_done(st, "addressing a hand-off", msg, msg_len);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* Writes the record version a step made, under the case's key, as if its
 * sender had submitted it; found is the version it replaces. */
static int
write_record(struct sqlite_store *s, struct sqlite_pending_write *pw,
             struct case_pending *cp, const struct sqlite_found_record *found,
             const struct cjx_case_next *next, char *msg, size_t msg_len)
{
    struct cjx_record_write w = cjx_store_step_record(&pw->w, next);
    int64_t seq = 0;
    int rc = cjx_store_writer_put_record(
        s, &w, found->record_id, found->version + 1, &seq, msg, msg_len);
    if (rc != SQLITE_OK)
        return rc;
    cp->record_version = found->version + 1;
    cp->record_seq = seq;
    pw->record_seq = seq;
    return SQLITE_OK;
}

/* The record under the case's key, read on the writer thread the first
 * time the apply function (or the write of a new record version) asks. */
struct sqlite_lazy_record {
    struct cjx_store_lazy_record lazy; /* first: find gets it */
    struct sqlite_store *s;
    struct sqlite_pending_write *pw;
    struct sqlite_found_record found; /* on its row until done */
    char *msg;
    size_t msg_len;
};

static int
find_record(struct cjx_store_lazy_record *lazy, struct cjx_case_record *out)
{
    struct sqlite_lazy_record *lr = (struct sqlite_lazy_record *)lazy;
    int rc = cjx_store_writer_find_record(
        lr->s, lr->pw->w.cii, lr->pw->w.court_case_number,
        lr->pw->w.count_number, &lr->found, lr->msg, lr->msg_len);
    if (rc == SQLITE_OK && lr->found.record_id != 0)
        *out = (struct cjx_case_record){.body = lr->found.body,
                                        .len = lr->found.body_len,
                                        .version = lr->found.version};
    return rc;
}

int
cjx_store_case_next_is_sane(const struct cjx_case_next *n)
{
    if (n->n_outbox > 0 && n->outbox == NULL)
        return 0;
    for (size_t i = 1; i < n->n_outbox; i++)
        if (n->outbox[i].payload != n->outbox[0].payload ||
            n->outbox[i].payload_len != n->outbox[0].payload_len ||
            strcmp(n->outbox[i].method, n->outbox[0].method) != 0)
            return 0;
    if (n->record != NULL &&
        (n->record_len > INT_MAX || n->record_county == NULL))
        return 0;
    return n->body != NULL && n->body_len <= INT_MAX && n->county != NULL &&
           n->county[0] != '\0' && n->version > 0 && n->notice_len <= INT_MAX;
}

static int
apply_case(struct sqlite_store *s, struct sqlite_pending_write *pw,
           struct case_pending *cp, char *msg, size_t msg_len)
{
    struct sqlite_cases *c = s->cases;
    int answered;
    int rc = check_inbox(s, pw, cp, &answered, msg, msg_len);
    if (rc != SQLITE_OK || answered)
        return rc;

    sqlite3_stmt *st = c->ws[CW_CASE_GET];
    sqlite_bind_text(st, 1, pw->w.cii);
    sqlite_bind_text(st, 2, pw->w.court_case_number);
    sqlite3_bind_int(st, 3, pw->w.count_number);
    rc = sqlite_step_row(st, "reading case", msg, msg_len);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rc;
    int64_t case_id = 0, cur_seq = 0;
    struct cjx_case_current cur = {.next_seq = c->next_seq};
    if (rc == SQLITE_ROW) {
        case_id = sqlite3_column_int64(st, 0);
        cur.version = sqlite3_column_int64(st, 1);
        cur.body = sqlite3_column_blob(st, 2);
        cur.body_len = (size_t)sqlite3_column_bytes(st, 2);
        if (cur.body == NULL)
            cur.body = "";
        cur_seq = sqlite3_column_int64(st, 3);
    }
    struct sqlite_lazy_record rec = {.lazy = {.find = find_record},
                                     .s = s,
                                     .pw = pw,
                                     .msg = msg,
                                     .msg_len = msg_len};
    cur.read_record_ = cjx_store_lazy_record_get;
    cur.reader_ = &rec.lazy;
    /* The rows stay current while the apply function reads them: nothing
     * else runs on this connection meanwhile. */
    struct cjx_case_next next = *cjx_store_case_decide(
        &cp->decision, cp->apply, cp->apply_arg, &cur, &rec.lazy);
    /* A new record version needs the one it replaces. */
    if (next.err == 0 && !next.unchanged && next.record != NULL)
        cjx_store_lazy_record_read(&rec.lazy);
    /* A failed read fails the write, whatever the apply function made of
     * it; a repeated step is answered with the version it found. */
    if (rec.lazy.read && rec.lazy.err != SQLITE_OK)
        rc = rec.lazy.err;
    else if (next.err == 0 && next.unchanged)
        rc = keep_snapshot(cp, cur.body, cur.body_len, msg, msg_len);
    else
        rc = SQLITE_OK;
    cjx_store_writer_found_record_done(&rec.found);
    sqlite3_reset(st);
    if (rc != SQLITE_OK)
        return rc;

    if (next.err != 0) {
        /* A refusal changes nothing and records nothing here. */
        pw->res.err = next.err;
        snprintf(cp->detail, sizeof(cp->detail), "%s",
                 next.detail != NULL ? next.detail : cjx_strerror(next.err));
        pw->has_event = 0;
        return SQLITE_OK;
    }
    if (!next.unchanged && !cjx_store_case_next_is_sane(&next)) {
        pw->res.err = CJX_EINTERNAL;
        snprintf(cp->detail, sizeof(cp->detail),
                 "the case write's apply function returned no valid case");
        pw->has_event = 0;
        return SQLITE_OK;
    }
    int64_t answer_seq = cur_seq;
    if (next.unchanged) {
        pw->res.unchanged = 1;
        pw->res.version = cur.version;
    } else {
        int64_t seq = c->next_seq;
        rc = write_version(s, pw, case_id, seq, &next, msg, msg_len);
        if (rc == SQLITE_OK)
            rc = write_outbox(s, pw, &next, msg, msg_len);
        if (rc == SQLITE_OK && next.record != NULL)
            rc = write_record(s, pw, cp, &rec.found, &next, msg, msg_len);
        if (rc != SQLITE_OK)
            return rc;
        c->next_seq = seq + 1;
        pw->res.seq = seq;
        pw->res.version = next.version;
        cp->outbox_added = next.n_outbox;
        cp->snapshot = next.body;
        cp->snapshot_len = next.body_len;
        answer_seq = seq;
    }
    rc = remember_message(s, pw, answer_seq, next.unchanged, msg, msg_len);
    if (rc != SQLITE_OK) {
        /* The savepoint undoes the version; so must the numbering. */
        if (pw->res.seq != 0)
            c->next_seq = pw->res.seq;
        pw->res.seq = 0;
        cp->outbox_added = 0;
        return rc;
    }
    return SQLITE_OK;
}

/* ---- delivery marks ---------------------------------------------------- */

static int
apply_marks(struct sqlite_store *s, struct case_pending *cp, char *msg,
            size_t msg_len)
{
    struct sqlite_cases *c = s->cases;
    int64_t now = cjx_clock_now_us();
    for (size_t i = 0; i < cp->n_marks; i++) {
        const struct cjx_outbox_mark *m = &cp->marks[i];
        sqlite3_stmt *st;
        switch (m->outcome) {
        case CJX_OUTBOX_MARK_DELIVERED:
            st = c->ws[CW_MARK_DELIVERED];
            sqlite3_bind_int64(st, 1, m->id);
            sqlite3_bind_int64(st, 2, now);
            break;
        case CJX_OUTBOX_MARK_RETRY:
            st = c->ws[CW_MARK_RETRY];
            sqlite3_bind_int64(st, 1, m->id);
            sqlite3_bind_int64(st, 2, m->next_attempt_us);
            sqlite_bind_text(st, 3, m->error);
            break;
        default:
            st = c->ws[CW_MARK_PARK];
            sqlite3_bind_int64(st, 1, m->id);
            sqlite_bind_text(st, 2, m->error);
            break;
        }
        int rc = sqlite_step_done(st, "marking an outbox row", msg, msg_len);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static int
apply_due_now(struct sqlite_store *s, struct case_pending *cp, char *msg,
              size_t msg_len)
{
    sqlite3_stmt *st = s->cases->ws[CW_DUE_NOW];
    sqlite_bind_text(st, 1, cp->destination);
    sqlite3_bind_int64(st, 2, cp->due_us);
    return sqlite_step_done(st, "making outbox rows due", msg, msg_len);
}

int
cjx_store_cases_apply(struct sqlite_store *s, struct sqlite_pending_write *pw,
                      char *msg, size_t msg_len)
{
    struct case_pending *cp = pending_of(pw);
    int rc = prepare_statements(s, msg, msg_len);
    if (rc != SQLITE_OK)
        return rc;
    if (cp->kind == PENDING_MARKS)
        return apply_marks(s, cp, msg, msg_len);
    if (cp->kind == PENDING_DUE_NOW)
        return apply_due_now(s, cp, msg, msg_len);
    int64_t before = s->cases->next_seq;
    rc = apply_case(s, pw, cp, msg, msg_len);
    if (rc != SQLITE_OK)
        s->cases->next_seq = before;
    return rc;
}

void
cjx_store_cases_forget_result(struct sqlite_pending_write *pw)
{
    struct case_pending *cp = pending_of(pw);
    free(cp->snapshot_copy);
    cp->snapshot_copy = NULL;
    cp->snapshot = NULL;
    cp->snapshot_len = 0;
    cp->outbox_added = 0;
    cp->record_version = cp->record_seq = 0;
    cp->detail[0] = '\0';
}

int64_t
cjx_store_cases_next_seq(const struct sqlite_store *s)
{
    return s->cases->next_seq;
}

void
cjx_store_cases_rewind(struct sqlite_store *s, int64_t next_seq)
{
    s->cases->next_seq = next_seq;
}

/* ---- completion -------------------------------------------------------- */

static void
run_hooks(struct sqlite_store *s, int64_t seq, size_t outbox_added)
{
    struct sqlite_cases *c = s->cases;
    if (seq > 0) {
        /* Completions run in commit order, so the newest is the largest. */
        int64_t old = atomic_load(&c->last_seq);
        while (seq > old &&
               !atomic_compare_exchange_weak(&c->last_seq, &old, seq)) {
        }
    }
    cjx_store_case_hooks_run(&c->hooks, atomic_load(&c->last_seq),
                             outbox_added);
}

/* The generic completion of a queued case write, turned into the case
 * write's own. Runs before the writer frees the pending write. */
static void
case_done(void *arg, const struct cjx_record_write_result *res)
{
    struct case_pending *cp = arg;
    struct cjx_case_write_result r;
    memset(&r, 0, sizeof(r));
    r.err = res->err;
    if (res->err == CJX_ESTORE || res->err == CJX_EUNAVAIL ||
        res->err == CJX_ECONFLICT)
        r.detail = res->detail;
    else if (res->err != 0)
        r.detail = cp->detail;
    r.audit_seq = res->audit_seq;
    if (res->err == 0) {
        r.replayed = res->replayed;
        r.unchanged = res->unchanged;
        r.version = res->version;
        r.seq = res->seq;
        r.outbox_added = cp->outbox_added;
        r.snapshot = cp->snapshot;
        r.snapshot_len = cp->snapshot_len;
        r.record_version = cp->record_version;
        r.record_seq = cp->record_seq;
        if (r.seq > 0 || r.outbox_added > 0)
            run_hooks(cp->s, r.seq, r.outbox_added);
    }
    cp->done(cp->arg, &r);
    free(cp->snapshot_copy);
    cp->snapshot_copy = NULL;
}

static void
marks_done(void *arg, const struct cjx_record_write_result *res)
{
    struct case_pending *cp = arg;
    if (cp->marks_done != NULL)
        cp->marks_done(cp->arg, res);
}

/* ---- queueing ---------------------------------------------------------- */

static int
submit_case(struct cjx_store *base, const struct cjx_case_write *w,
            cjx_case_write_done_fn done, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    if (cjx_store_case_write_check(w, done) != 0)
        return CJX_EINVAL;
    struct case_pending *cp;
    struct sqlite_pending_write *pw =
        pending_new(s, PENDING_CASE, cjx_store_case_write_size(w), &cp);
    if (pw == NULL)
        return CJX_ENOMEM;
    cp->done = done;
    cp->arg = arg;
    cp->apply = w->apply;
    cp->apply_arg = w->apply_arg;
    pw->kind = SQLITE_WRITE_CASE;
    pw->done = case_done;
    pw->arg = cp;

    char *p = (char *)(cp + 1);
    cjx_store_case_write_copy(&pw->w, &pw->ev, &pw->has_event, w, &p);
    return cjx_store_writer_enqueue(s, pw);
}

/* Queues a batch of marks or a due-now of the outbox, answered by done. */
static int
outbox_enqueue(struct sqlite_pending_write *pw, struct case_pending *cp,
               cjx_store_write_done_fn done, void *arg)
{
    cp->marks_done = done;
    cp->arg = arg;
    pw->kind = SQLITE_WRITE_OUTBOX;
    pw->done = marks_done;
    pw->arg = cp;
    return cjx_store_writer_enqueue(cp->s, pw);
}

static int
outbox_mark(struct cjx_store *base, const struct cjx_outbox_mark *m, size_t n,
            cjx_store_write_done_fn done, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err;
    size_t room = cjx_store_marks_size(m, n, &err);
    if (err != 0)
        return err;
    struct case_pending *cp;
    struct sqlite_pending_write *pw = pending_new(s, PENDING_MARKS, room, &cp);
    if (pw == NULL)
        return CJX_ENOMEM;
    /* cp + 1 is aligned as a case_pending is, which holds pointers and
     * 64-bit integers as the marks do. */
    cp->marks = cjx_store_marks_put(cp + 1, m, n);
    cp->n_marks = n;
    return outbox_enqueue(pw, cp, done, arg);
}

static int
outbox_due_now(struct cjx_store *base, const char *destination, int64_t now_us,
               cjx_store_write_done_fn done, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct case_pending *cp;
    struct sqlite_pending_write *pw = pending_new(s, PENDING_DUE_NOW, 0, &cp);
    if (pw == NULL)
        return CJX_ENOMEM;
    if (cjx_store_destination_copy(cp->destination, destination) != 0) {
        free(pw);
        return CJX_EINVAL;
    }
    cp->due_us = now_us;
    return outbox_enqueue(pw, cp, done, arg);
}

/* ---- hooks ------------------------------------------------------------- */

static int
add_case_hook(struct cjx_store *base, cjx_store_case_hook_fn fn, void *arg)
{
    struct sqlite_cases *c = ((struct sqlite_store *)base)->cases;
    return cjx_store_case_hooks_add(&c->hooks, fn, arg);
}

static void
remove_case_hook(struct cjx_store *base, cjx_store_case_hook_fn fn, void *arg)
{
    struct sqlite_cases *c = ((struct sqlite_store *)base)->cases;
    cjx_store_case_hooks_remove(&c->hooks, fn, arg);
}

static int64_t
last_case_seq(struct cjx_store *base)
{
    return atomic_load(&((struct sqlite_store *)base)->cases->last_seq);
}

const struct cjx_store_case_ops cjx_store_sqlite_case_ops = {
    .submit_case = submit_case,
    .get_case = cjx_store_cases_get,
    .stored_case_fini = cjx_store_cases_fini,
    .list_cases = cjx_store_cases_list,
    .read_case_changes = cjx_store_cases_changes,
    .last_case_seq = last_case_seq,
    .add_case_hook = add_case_hook,
    .remove_case_hook = remove_case_hook,
    .outbox_due = cjx_store_outbox_read_due,
    .outbox_next_due = cjx_store_outbox_read_next_due,
    .outbox_list = cjx_store_outbox_read_list,
    .outbox_counts = cjx_store_outbox_read_counts,
    .case_counts = cjx_store_case_read_counts,
    .outbox_mark = outbox_mark,
    .outbox_due_now = outbox_due_now,
};
