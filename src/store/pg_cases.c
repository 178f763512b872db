/* The PostgreSQL store's case writes (the inbox check, the caller's apply
 * function, the new version, the outbox rows, a record version) and the
 * outbox's delivery marks, on the writer thread; the case hooks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "pg_store.h"
#include "store_shared.h"

static int
keep_snapshot(struct pg_write *pw, const void *body, size_t len, char *msg,
              size_t msg_len)
{
    free(pw->snapshot);
    pw->snapshot = malloc(len > 0 ? len : 1);
    if (pw->snapshot == NULL) {
        snprintf(msg, msg_len, "out of memory for a case snapshot");
        return CJX_ESTORE;
    }
    memcpy(pw->snapshot, body, len);
    pw->snapshot_len = len;
    return 0;
}

/* Looks the message id up in the inbox, inside the writers' lock, so that
 * the same message delivered to two replicas at once takes effect once.
 * *answered when nothing more is to be done. */
static int
check_inbox(struct pg_store *s, struct pg_write *pw, int *answered, char *msg,
            size_t msg_len)
{
    struct pg_params p = {0};
    pg_text(&p, pw->w.sender_ori);
    pg_text(&p, pw->w.request_id);
    PGresult *r = pg_exec(s->wconn,
                          "SELECT i.digest, i.unchanged, v.body"
                          " FROM case_inbox i LEFT JOIN case_changes v"
                          " ON v.seq = i.seq WHERE i.sender_ori = $1"
                          " AND i.message_id = $2",
                          &p, "reading the inbox", msg, msg_len);
    if (r == NULL)
        return CJX_ESTORE;
    int err = 0;
    *answered = PQntuples(r) == 1;
    if (*answered) {
        size_t len;
        const void *digest = pg_col_bytes(r, 0, 0, &len);
        if (len != CJX_STORE_DIGEST_LEN ||
            memcmp(digest, pw->w.request_digest, len) != 0) {
            pw->res.err = CJX_ECONFLICT;
        } else {
            pw->res.unchanged = (int)pg_col_int(r, 0, 1);
            pw->res.replayed = 1;
            const void *body = pg_col_bytes(r, 0, 2, &len);
            err = keep_snapshot(pw, body, len, msg, msg_len);
        }
    }
    PQclear(r);
    return err;
}

static int
remember_message(struct pg_store *s, struct pg_write *pw, int64_t seq,
                 int unchanged, char *msg, size_t msg_len)
{
    struct pg_params p = {0};
    pg_text(&p, pw->w.sender_ori);
    pg_text(&p, pw->w.request_id);
    pg_bytes(&p, pw->w.request_digest, CJX_STORE_DIGEST_LEN);
    pg_int(&p, seq);
    pg_int(&p, unchanged);
    pg_int(&p, cjx_clock_now_us());
    return pg_command(s->wconn,
                      "INSERT INTO case_inbox (sender_ori, message_id,"
                      " digest, seq, unchanged, created_at_us)"
                      " VALUES ($1, $2, $3, $4, $5, $6)",
                      &p, "recording the message id", msg, msg_len);
}

/* The case under the write's key, and the seq its next version gets. */
struct found_case {
    int64_t id, seq, version, next_seq;
    void *body;
    size_t body_len;
};

static int
find_case(struct pg_store *s, struct pg_write *pw, struct found_case *out,
          char *msg, size_t msg_len)
{
    memset(out, 0, sizeof(*out));
    struct pg_params p = {0};
    pg_text(&p, pw->w.cii);
    pg_text(&p, pw->w.court_case_number);
    pg_int(&p, pw->w.count_number);
    /* Numbered inside the writers' lock: max + 1 follows commit order. */
    PGresult *r =
        pg_exec(s->wconn,
                "SELECT c.id, c.version, v.body, c.seq,"
                " (SELECT coalesce(max(seq), 0) + 1 FROM case_changes)"
                " FROM (SELECT 1) one LEFT JOIN (cases c JOIN case_changes v"
                " ON v.seq = c.seq AND c.cii = $1 AND c.court_case_number = $2"
                " AND c.count_number = $3) ON true",
                &p, "reading case", msg, msg_len);
    if (r == NULL)
        return CJX_ESTORE;
    out->id = pg_col_int(r, 0, 0);
    out->version = pg_col_int(r, 0, 1);
    out->seq = pg_col_int(r, 0, 3);
    out->next_seq = pg_col_int(r, 0, 4);
    size_t len;
    const void *body = pg_col_bytes(r, 0, 2, &len);
    out->body = malloc(len > 0 ? len : 1);
    int err = 0;
    if (out->body == NULL) {
        snprintf(msg, msg_len, "out of memory for a case");
        err = CJX_ESTORE;
    } else {
        memcpy(out->body, body, len);
        out->body_len = len;
    }
    PQclear(r);
    return err;
}

static void
param_due(struct pg_params *p, int64_t due_us)
{
    if (due_us > 0)
        pg_int(p, due_us);
    else
        pg_text(p, NULL); /* SQL NULL: no deadline */
}

/* Writes the new version: the case row, the change, the notice. */
static int
write_version(struct pg_store *s, struct pg_write *pw, int64_t case_id,
              int64_t seq, const struct cjx_case_next *next, char *msg,
              size_t msg_len)
{
    struct pg_params p = {0};
    pg_text(&p, pw->w.cii);
    pg_text(&p, pw->w.court_case_number);
    pg_int(&p, pw->w.count_number);
    pg_text(&p, next->county);
    pg_int(&p, next->state);
    param_due(&p, next->due_us);
    pg_int(&p, next->version);
    pg_int(&p, seq);
    PGresult *r = pg_exec(
        s->wconn,
        "INSERT INTO cases (cii, court_case_number, count_number, county,"
        " state, due_us, version, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (cii, court_case_number, count_number) DO UPDATE SET"
        " county = $4, state = $5, due_us = $6, version = $7, seq = $8"
        " RETURNING id",
        &p, case_id == 0 ? "inserting case" : "updating case", msg, msg_len);
    if (r == NULL)
        return CJX_ESTORE;
    case_id = pg_col_int(r, 0, 0);
    PQclear(r);
    p = (struct pg_params){0};
    pg_int(&p, seq);
    pg_int(&p, case_id);
    pg_int(&p, next->version);
    pg_int(&p, next->state);
    pg_int(&p, next->event);
    pg_text(&p, pw->w.sender_ori);
    pg_int(&p, cjx_clock_now_us());
    pg_bytes(&p, next->body, next->body_len);
    int err = pg_command(s->wconn,
                         "INSERT INTO case_changes (seq, case_id, version,"
                         " state, event, sender_ori, stored_at_us, body)"
                         " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                         &p, "inserting case change", msg, msg_len);
    if (err != 0 || next->notice == NULL)
        return err;
    p = (struct pg_params){0};
    pg_int(&p, case_id);
    pg_bytes(&p, next->notice, next->notice_len);
    return pg_command(s->wconn,
                      "INSERT INTO case_notices (case_id, body)"
                      " VALUES ($1, $2) ON CONFLICT DO NOTHING",
                      &p, "storing the notice", msg, msg_len);
}

static int
write_outbox(struct pg_store *s, struct pg_write *pw,
             const struct cjx_case_next *next, char *msg, size_t msg_len)
{
    if (next->n_outbox == 0)
        return 0;
    const struct cjx_outbox_put *first = &next->outbox[0];
    int64_t now = cjx_clock_now_us();
    struct pg_params p = {0};
    pg_text(&p, pw->w.request_id);
    pg_text(&p, first->method);
    pg_text(&p, pw->w.cii);
    pg_text(&p, pw->w.court_case_number);
    pg_int(&p, pw->w.count_number);
    pg_bytes(&p, first->payload, first->payload_len);
    pg_int(&p, now);
    PGresult *r = pg_exec(s->wconn,
                          "INSERT INTO outbox_messages (message_id, method,"
                          " cii, court_case_number, count_number, payload,"
                          " created_us) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                          " RETURNING id",
                          &p, "queueing a hand-off", msg, msg_len);
    if (r == NULL)
        return CJX_ESTORE;
    int64_t message = pg_col_int(r, 0, 0);
    PQclear(r);
    for (size_t i = 0; i < next->n_outbox; i++) {
        p = (struct pg_params){0};
        pg_int(&p, message);
        pg_text(&p, next->outbox[i].destination_ori);
        pg_int(&p, now);
        int err = pg_command(s->wconn,
                             "INSERT INTO outbox (message, destination,"
                             " next_attempt_us) VALUES ($1, $2, $3)",
                             &p, "addressing a hand-off", msg, msg_len);
        if (err != 0)
            return err;
    }
    return 0;
}

/* Writes the record version a step made, under the case's key, as if its
 * sender had submitted it; found is the version it replaces. */
static int
write_record(struct pg_store *s, struct pg_write *pw,
             const struct pg_found_record *found,
             const struct cjx_case_next *next, char *msg, size_t msg_len)
{
    struct cjx_record_write w = cjx_store_step_record(&pw->w, next);
    int64_t seq = 0;
    int err =
        pg_put_record(s, &w, found->id, found->version + 1, &seq, msg, msg_len);
    if (err == 0) {
        pw->record_version = found->version + 1;
        pw->record_seq = seq;
    }
    return err;
}

/* What the apply function decided, stored. */
static int
store_next(struct pg_store *s, struct pg_write *pw,
           const struct found_case *cur, const struct pg_found_record *rec,
           const struct cjx_case_next *next, char *msg, size_t msg_len)
{
    if (next->err != 0) {
        /* A refusal changes nothing and records nothing here. */
        pw->res.err = next->err;
        snprintf(pw->detail, sizeof(pw->detail), "%s",
                 next->detail != NULL ? next->detail : cjx_strerror(next->err));
        pw->has_event = 0;
        return 0;
    }
    if (next->unchanged) {
        pw->res.unchanged = 1;
        pw->res.version = cur->version;
        int err = keep_snapshot(pw, cur->body, cur->body_len, msg, msg_len);
        if (err == 0)
            err = remember_message(s, pw, cur->seq, 1, msg, msg_len);
        return err;
    }
    if (!cjx_store_case_next_is_sane(next)) {
        pw->res.err = CJX_EINTERNAL;
        snprintf(pw->detail, sizeof(pw->detail),
                 "the case write's apply function returned no valid case");
        pw->has_event = 0;
        return 0;
    }
    int err = write_version(s, pw, cur->id, cur->next_seq, next, msg, msg_len);
    if (err == 0)
        err = write_outbox(s, pw, next, msg, msg_len);
    if (err == 0 && next->record != NULL)
        err = write_record(s, pw, rec, next, msg, msg_len);
    if (err == 0)
        err = keep_snapshot(pw, next->body, next->body_len, msg, msg_len);
    if (err == 0)
        err = remember_message(s, pw, cur->next_seq, 0, msg, msg_len);
    if (err != 0)
        return err;
    pw->res.seq = cur->next_seq;
    pw->res.version = next->version;
    pw->outbox_added = next->n_outbox;
    return 0;
}

/* The record under the case's key, read the first time the apply
 * function (or the write of a new record version) asks. */
struct pg_lazy_record {
    struct cjx_store_lazy_record lazy; /* first: find gets it */
    struct pg_store *s;
    struct pg_write *pw;
    struct pg_found_record found; /* body free()d by the caller */
    char *msg;
    size_t msg_len;
};

static int
find_record(struct cjx_store_lazy_record *lazy, struct cjx_case_record *out)
{
    struct pg_lazy_record *lr = (struct pg_lazy_record *)lazy;
    int err = pg_find_record(lr->s, lr->pw->w.cii, lr->pw->w.court_case_number,
                             lr->pw->w.count_number, &lr->found, lr->msg,
                             lr->msg_len);
    if (err == 0 && lr->found.id != 0 && lr->found.body != NULL)
        *out = (struct cjx_case_record){.body = lr->found.body,
                                        .len = lr->found.body_len,
                                        .version = lr->found.version};
    return err;
}

static int
apply_case(struct pg_store *s, struct pg_write *pw, char *msg, size_t msg_len)
{
    int answered;
    int err = check_inbox(s, pw, &answered, msg, msg_len);
    if (err != 0 || answered)
        return err;
    struct found_case cur;
    struct pg_lazy_record rec = {.lazy = {.find = find_record},
                                 .s = s,
                                 .pw = pw,
                                 .msg = msg,
                                 .msg_len = msg_len};
    err = find_case(s, pw, &cur, msg, msg_len);
    if (err == 0) {
        struct cjx_case_current c = {
            .version = cur.version,
            .body = cur.id != 0 ? cur.body : NULL,
            .body_len = cur.body_len,
            .next_seq = cur.next_seq,
            .read_record_ = cjx_store_lazy_record_get,
            .reader_ = &rec.lazy,
        };
        struct cjx_case_next next = *cjx_store_case_decide(
            &pw->decision, pw->apply, pw->apply_arg, &c, &rec.lazy);
        /* A new record version needs the one it replaces; a failed read
         * fails the write, whatever the apply function made of it. */
        if (next.err == 0 && !next.unchanged && next.record != NULL)
            cjx_store_lazy_record_read(&rec.lazy);
        err = rec.lazy.read ? rec.lazy.err : 0;
        if (err == 0)
            err = store_next(s, pw, &cur, &rec.found, &next, msg, msg_len);
    }
    free(cur.body);
    free(rec.found.body);
    return err;
}

static int
apply_marks(struct pg_store *s, struct pg_write *pw, char *msg, size_t msg_len)
{
    static const char *const sql[] = {
        [CJX_OUTBOX_MARK_DELIVERED] =
            "UPDATE outbox SET delivered_us = $2, attempts = attempts + 1,"
            " last_error = '', leased_until_us = 0"
            " WHERE id = $1 AND delivered_us IS NULL",
        [CJX_OUTBOX_MARK_RETRY] =
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_us = $2,"
            " last_error = $3, leased_until_us = 0"
            " WHERE id = $1 AND delivered_us IS NULL AND parked = 0",
        [CJX_OUTBOX_MARK_PARK] =
            "UPDATE outbox SET attempts = attempts + 1, parked = 1,"
            " last_error = $2, leased_until_us = 0"
            " WHERE id = $1 AND delivered_us IS NULL",
    };
    int64_t now = cjx_clock_now_us();
    for (size_t i = 0; i < pw->n_marks; i++) {
        const struct cjx_outbox_mark *m = &pw->marks[i];
        struct pg_params p = {0};
        pg_int(&p, m->id);
        if (m->outcome == CJX_OUTBOX_MARK_DELIVERED)
            pg_int(&p, now);
        if (m->outcome == CJX_OUTBOX_MARK_RETRY)
            pg_int(&p, m->next_attempt_us);
        if (m->outcome != CJX_OUTBOX_MARK_DELIVERED)
            pg_text(&p, m->error);
        int err = pg_command(s->wconn, sql[m->outcome], &p,
                             "marking an outbox row", msg, msg_len);
        if (err != 0)
            return err;
    }
    return 0;
}

/* A leased row keeps its lease: the replica holding it marks it. */
static int
apply_due_now(struct pg_store *s, struct pg_write *pw, char *msg,
              size_t msg_len)
{
    struct pg_params p = {0};
    pg_text(&p, pw->destination);
    pg_int(&p, pw->due_us);
    return pg_command(s->wconn,
                      "UPDATE outbox SET next_attempt_us = $2"
                      " WHERE destination = $1 AND delivered_us IS NULL"
                      " AND parked = 0 AND next_attempt_us > $2",
                      &p, "making outbox rows due", msg, msg_len);
}

int
pg_cases_apply(struct pg_store *s, struct pg_write *pw, char *msg,
               size_t msg_len)
{
    switch (pw->kind) {
    case PG_WRITE_MARKS:
        return apply_marks(s, pw, msg, msg_len);
    case PG_WRITE_DUE_NOW:
        return apply_due_now(s, pw, msg, msg_len);
    default:
        return apply_case(s, pw, msg, msg_len);
    }
}

/* ---- completion -------------------------------------------------------- */

void
pg_cases_finish(struct pg_store *s, struct pg_write *pw)
{
    struct cjx_case_write_result r;
    memset(&r, 0, sizeof(r));
    r.err = pw->res.err;
    r.detail = pw->res.err != 0 ? pw->res.detail : NULL;
    if (r.err != 0 && r.detail == NULL)
        r.detail = pw->detail;
    r.audit_seq = pw->res.audit_seq;
    if (r.err == 0) {
        r.replayed = pw->res.replayed;
        r.unchanged = pw->res.unchanged;
        r.version = pw->res.version;
        r.seq = pw->res.seq;
        r.outbox_added = pw->outbox_added;
        r.snapshot = pw->snapshot;
        r.snapshot_len = pw->snapshot_len;
        r.record_version = pw->record_version;
        r.record_seq = pw->record_seq;
    }
    if (r.seq > 0 || r.outbox_added > 0) {
        pg_raise_top(&s->last_case_seq, r.seq);
        cjx_store_case_hooks_run(&s->case_hooks, atomic_load(&s->last_case_seq),
                                 r.outbox_added);
    }
    pw->case_done(pw->arg, &r);
}

/* ---- queueing ---------------------------------------------------------- */

static int
submit_case(struct cjx_store *base, const struct cjx_case_write *w,
            cjx_case_write_done_fn done, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    if (cjx_store_case_write_check(w, done) != 0)
        return CJX_EINVAL;
    size_t total = cjx_store_case_write_size(w);
    struct pg_write *pw = calloc(1, sizeof(*pw) + total);
    if (pw == NULL)
        return CJX_ENOMEM;
    pw->kind = PG_WRITE_CASE;
    pw->case_done = done;
    pw->arg = arg;
    pw->apply = w->apply;
    pw->apply_arg = w->apply_arg;
    char *p = pw->data;
    cjx_store_case_write_copy(&pw->w, &pw->ev, &pw->has_event, w, &p);
    return pg_writer_enqueue(s, pw);
}

static int
outbox_mark(struct cjx_store *base, const struct cjx_outbox_mark *m, size_t n,
            cjx_store_write_done_fn done, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    int err;
    size_t room = cjx_store_marks_size(m, n, &err);
    if (err != 0)
        return err;
    struct pg_write *pw = calloc(1, sizeof(*pw) + room);
    if (pw == NULL)
        return CJX_ENOMEM;
    pw->kind = PG_WRITE_MARKS;
    pw->done = done;
    pw->arg = arg;
    /* data[] is aligned for any type. */
    pw->marks = cjx_store_marks_put(pw->data, m, n);
    pw->n_marks = n;
    return pg_writer_enqueue(s, pw);
}

static int
outbox_due_now(struct cjx_store *base, const char *destination, int64_t now_us,
               cjx_store_write_done_fn done, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    struct pg_write *pw = calloc(1, sizeof(*pw));
    if (pw == NULL)
        return CJX_ENOMEM;
    if (cjx_store_destination_copy(pw->destination, destination) != 0) {
        free(pw);
        return CJX_EINVAL;
    }
    pw->kind = PG_WRITE_DUE_NOW;
    pw->done = done;
    pw->arg = arg;
    pw->due_us = now_us;
    return pg_writer_enqueue(s, pw);
}

/* ---- hooks ------------------------------------------------------------- */

static int
add_case_hook(struct cjx_store *base, cjx_store_case_hook_fn fn, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    return cjx_store_case_hooks_add(&s->case_hooks, fn, arg);
}

static void
remove_case_hook(struct cjx_store *base, cjx_store_case_hook_fn fn, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    cjx_store_case_hooks_remove(&s->case_hooks, fn, arg);
}

static int64_t
last_case_seq(struct cjx_store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    int64_t top = 0;
    /* Another replica's commits count too. */
    if (pg_read_top(s, "case_changes", &top) == 0 &&
        top > atomic_load(&s->last_case_seq))
        return top;
    return atomic_load(&s->last_case_seq);
}

/* Read ops (pg_read.c). */
int pg_get_case(struct cjx_store *base, const char *cii, const char *ccn,
                int32_t count, int with_notice, struct cjx_stored_case *out,
                struct cjx_errbuf *eb);
int pg_list_cases(struct cjx_store *base, const struct cjx_case_filter *f,
                  int64_t after_id, int limit, cjx_store_case_visit_fn visit,
                  void *arg, int64_t *last_id, struct cjx_errbuf *eb);
int pg_read_case_changes(struct cjx_store *base, int64_t after_seq, int limit,
                         cjx_store_case_visit_fn visit, void *arg,
                         struct cjx_errbuf *eb);
int pg_outbox_due(struct cjx_store *base, const char *destination,
                  int64_t now_us, int partition, int partitions, int limit,
                  cjx_store_outbox_visit_fn visit, void *arg,
                  struct cjx_errbuf *eb);
int pg_outbox_next_due(struct cjx_store *base, const char *destination,
                       int64_t *next_us, struct cjx_errbuf *eb);
int pg_outbox_list(struct cjx_store *base, enum cjx_outbox_which which,
                   const char *destination, int64_t after_id, int limit,
                   cjx_store_outbox_visit_fn visit, void *arg, int64_t *last_id,
                   struct cjx_errbuf *eb);
int pg_outbox_counts(struct cjx_store *base, int with_delivered,
                     cjx_store_outbox_count_fn visit, void *arg,
                     struct cjx_errbuf *eb);
int pg_case_counts(struct cjx_store *base, int64_t now_us,
                   cjx_store_case_count_fn visit, void *arg,
                   struct cjx_errbuf *eb);

const struct cjx_store_case_ops cjx_store_pg_case_ops = {
    .submit_case = submit_case,
    .get_case = pg_get_case,
    .stored_case_fini = cjx_store_cases_fini,
    .list_cases = pg_list_cases,
    .read_case_changes = pg_read_case_changes,
    .last_case_seq = last_case_seq,
    .add_case_hook = add_case_hook,
    .remove_case_hook = remove_case_hook,
    .outbox_due = pg_outbox_due,
    .outbox_next_due = pg_outbox_next_due,
    .outbox_list = pg_outbox_list,
    .outbox_counts = pg_outbox_counts,
    .case_counts = pg_case_counts,
    .outbox_mark = outbox_mark,
    .outbox_due_now = outbox_due_now,
};
