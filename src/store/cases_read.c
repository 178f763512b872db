/* The SQLite store's reads of cases, the case feed and the outbox, on a pool
 * of read-only connections of their own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "read_pool.h"
#include "sqlite_cases.h"
#include "store_shared.h"

/* Every case read yields these columns, so that one function turns a row
 * into a struct cjx_stored_case. */
#define CASE_COLUMNS                                               \
    "c.id, c.cii, c.court_case_number, c.count_number, c.county, " \
    "v.state, c.due_us, v.version, v.seq, v.event, v.sender_ori, " \
    "v.stored_at_us, v.body, c.seq "

enum {
    COL_ID,
    COL_CII,
    COL_CCN,
    COL_COUNT,
    COL_COUNTY,
    COL_STATE,
    COL_DUE,
    COL_VERSION,
    COL_SEQ,
    COL_EVENT,
    COL_SENDER,
    COL_STORED_AT,
    COL_BODY,
    COL_CURRENT_SEQ,
};

#define OUTBOX_COLUMNS                                                \
    "o.id, m.message_id, o.destination, m.method, m.cii, "            \
    "m.court_case_number, m.count_number, m.created_us, o.attempts, " \
    "o.next_attempt_us, o.last_error, coalesce(o.delivered_us, 0), o.parked "
/* A row of the outbox with the message it carries. */
#define OUTBOX_FROM \
    "FROM outbox o CROSS JOIN outbox_messages m ON m.id = o.message "

enum case_read_stmt {
    CR_GET,
    CR_NOTICE,
    CR_CHANGES,
    CR_DUE,
    CR_NEXT_DUE,
    CR_PENDING_COUNTS,
    CR_PARKED_COUNTS,
    CR_DELIVERED_COUNTS,
    CR_CASE_COUNTS,
    CR_COUNT_
};

/* CROSS JOIN pins the join order: the driving table, then primary-key
 * lookups. */
static const char *const read_sql[] = {
    [CR_GET] = "SELECT " CASE_COLUMNS "FROM cases c CROSS JOIN case_changes v"
               " ON v.seq = c.seq WHERE c.cii = ?1"
               " AND c.court_case_number = ?2 AND c.count_number = ?3",
    [CR_NOTICE] = "SELECT body FROM case_notices WHERE case_id = ?1",
    [CR_CHANGES] = "SELECT " CASE_COLUMNS "FROM case_changes v"
                   " CROSS JOIN cases c ON c.id = v.case_id"
                   " WHERE v.seq > ?1 ORDER BY v.seq LIMIT ?2",
    [CR_DUE] = "SELECT " OUTBOX_COLUMNS ", m.payload " OUTBOX_FROM
               "WHERE o.destination = ?1 AND o.delivered_us IS NULL"
               " AND o.parked = 0 AND o.next_attempt_us <= ?2"
               " AND o.id % ?3 = ?4 ORDER BY o.next_attempt_us, o.id LIMIT ?5",
    [CR_NEXT_DUE] = "SELECT min(next_attempt_us) FROM outbox"
                    " WHERE destination = ?1 AND delivered_us IS NULL"
                    " AND parked = 0",
    [CR_PENDING_COUNTS] =
        "SELECT o.destination, count(*), min(m.created_us) " OUTBOX_FROM
        "WHERE o.delivered_us IS NULL"
        " AND o.parked = 0 GROUP BY o.destination",
    [CR_PARKED_COUNTS] = "SELECT destination, count(*) FROM outbox"
                         " WHERE parked = 1 GROUP BY destination",
    [CR_DELIVERED_COUNTS] = "SELECT destination, count(*) FROM outbox"
                            " WHERE delivered_us IS NOT NULL"
                            " GROUP BY destination",
    [CR_CASE_COUNTS] = "SELECT county, state, count(*),"
                       " sum(due_us IS NOT NULL AND due_us < ?1) FROM cases"
                       " GROUP BY county, state",
};

/* The outbox worker and the feed followers read all the time: mapped pages
 * spare them a system call per page. */
static const struct read_pool_spec case_reader_spec = {
    read_sql, CR_COUNT_, "PRAGMA mmap_size=268435456", "case reader"};

/* The case reader's pool, over the cases' idle list. */
static struct read_pool
pool_of(struct sqlite_store *s)
{
    return (struct read_pool){&s->cases->pool_mu, &s->cases->pool, s->path,
                              s->busy_timeout_ms, &case_reader_spec};
}

void
cjx_store_case_readers_free(struct sqlite_cases *c)
{
    struct read_pool p = {&c->pool_mu, &c->pool, NULL, 0, &case_reader_spec};
    read_pool_free_idle(&p);
}

static int
acquire(struct sqlite_store *s, struct read_conn **out, struct cjx_errbuf *eb)
{
    struct read_pool p = pool_of(s);
    return read_pool_acquire(&p, out, eb);
}

static void
release(struct sqlite_store *s, struct read_conn *r)
{
    struct read_pool p = pool_of(s);
    read_pool_release(&p, r);
}

static void
row_to_case(sqlite3_stmt *st, struct cjx_stored_case *c)
{
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(st, COL_ID);
    c->cii = read_column_text(st, COL_CII);
    c->court_case_number = read_column_text(st, COL_CCN);
    c->count_number = sqlite3_column_int(st, COL_COUNT);
    c->county = read_column_text(st, COL_COUNTY);
    c->state = sqlite3_column_int(st, COL_STATE);
    c->due_us = sqlite3_column_int64(st, COL_DUE);
    c->version = sqlite3_column_int64(st, COL_VERSION);
    c->seq = sqlite3_column_int64(st, COL_SEQ);
    c->event = sqlite3_column_int(st, COL_EVENT);
    c->sender_ori = read_column_text(st, COL_SENDER);
    c->stored_at_us = sqlite3_column_int64(st, COL_STORED_AT);
    c->body = sqlite3_column_blob(st, COL_BODY);
    c->body_len = (size_t)sqlite3_column_bytes(st, COL_BODY);
    c->current_seq = sqlite3_column_int64(st, COL_CURRENT_SEQ);
}

/* Where the case a key found goes, with its notice if asked for. */
struct case_found {
    int with_notice;
    struct cjx_stored_case *out;
};

static int
case_found(void *ctx, struct read_conn *r, sqlite3_stmt *st,
           struct cjx_errbuf *eb)
{
    const struct case_found *to = ctx;
    struct cjx_stored_case c;
    row_to_case(st, &c);
    const void *notice = NULL;
    size_t notice_len = 0;
    sqlite3_stmt *nst = r->st[CR_NOTICE];
    int nrc = SQLITE_DONE;
    if (to->with_notice) {
        sqlite3_bind_int64(nst, 1, c.id);
        nrc = sqlite3_step(nst);
        if (nrc == SQLITE_ROW) {
            notice = sqlite3_column_blob(nst, 0);
            notice_len = (size_t)sqlite3_column_bytes(nst, 0);
            if (notice == NULL)
                notice = "";
        }
    }
    int err = 0;
    if (nrc != SQLITE_ROW && nrc != SQLITE_DONE)
        err = cjx_errf(eb, CJX_ESTORE, "get_case: %s", sqlite3_errmsg(r->db));
    else if ((err = cjx_store_case_copy(&c, notice, notice_len, to->out)) != 0)
        cjx_errf(eb, err, "get_case: copying the case");
    sqlite3_reset(nst);
    return err;
}

int
cjx_store_cases_get(struct cjx_store *base, const char *cii, const char *ccn,
                    int32_t count, int with_notice, struct cjx_stored_case *out,
                    struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err = cjx_store_check_get("get_case", cii, ccn, out, eb);
    if (err != 0)
        return err;
    struct case_found to = {with_notice, out};
    struct read_pool p = pool_of(s);
    return read_pool_get(&p, CR_GET, "get_case", "case", cii, ccn, count,
                         case_found, &to, eb);
}

static int
case_row(void *ctx, sqlite3_stmt *st, int64_t *pos)
{
    const struct cjx_store_case_visitor *v = ctx;
    struct cjx_stored_case c;
    row_to_case(st, &c);
    *pos = v->by_seq ? c.seq : c.id;
    return v->visit(v->arg, &c);
}

int
cjx_store_cases_list(struct cjx_store *base, const struct cjx_case_filter *f,
                     int64_t after_id, int limit, cjx_store_case_visit_fn visit,
                     void *arg, int64_t *last_id, struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err =
        cjx_store_check_list_cases(&f, visit != NULL, after_id, limit, eb);
    if (err != 0)
        return err;
    /* The conditions vary, so the statement is made for the call; the
     * planner picks the index of the most selective one. */
    char sql[768];
    snprintf(sql, sizeof(sql),
             "SELECT " CASE_COLUMNS "FROM cases c CROSS JOIN case_changes v"
             " ON v.seq = c.seq WHERE c.id > ?1%s%s%s%s ORDER BY c.id LIMIT ?2",
             cjx_store_set(f->county) ? " AND c.county = ?3" : "",
             cjx_store_set(f->cii) ? " AND c.cii = ?4" : "",
             f->state != 0 ? " AND c.state = ?5" : "",
             f->due_before_us > 0 ? " AND c.due_us < ?6" : "");
    struct read_pool p = pool_of(s);
    struct read_conn *r;
    sqlite3_stmt *st;
    err =
        read_pool_listing(&p, sql, "list_cases", after_id, limit, &r, &st, eb);
    if (err != 0)
        return err;
    if (cjx_store_set(f->county))
        sqlite3_bind_text(st, 3, f->county, -1, SQLITE_STATIC);
    if (cjx_store_set(f->cii))
        sqlite3_bind_text(st, 4, f->cii, -1, SQLITE_STATIC);
    if (f->state != 0)
        sqlite3_bind_int(st, 5, f->state);
    if (f->due_before_us > 0)
        sqlite3_bind_int64(st, 6, f->due_before_us);
    struct cjx_store_case_visitor v = {visit, arg, 0};
    err = read_visit_rows(r, st, "list_cases", case_row, &v, last_id, eb);
    sqlite3_finalize(st);
    read_pool_release(&p, r);
    return err;
}

int
cjx_store_cases_changes(struct cjx_store *base, int64_t after_seq, int limit,
                        cjx_store_case_visit_fn visit, void *arg,
                        struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err = cjx_store_check_page("read_case_changes", "seq", visit != NULL,
                                   after_seq, limit, eb);
    if (err != 0)
        return err;
    struct read_pool p = pool_of(s);
    struct cjx_store_case_visitor v = {visit, arg, 1};
    return read_pool_feed(&p, CR_CHANGES, "read_case_changes", after_seq, limit,
                          case_row, &v, eb);
}

/* ---- the outbox --------------------------------------------------------- */

enum {
    OC_ID,
    OC_MESSAGE_ID,
    OC_DESTINATION,
    OC_METHOD,
    OC_CII,
    OC_CCN,
    OC_COUNT,
    OC_CREATED,
    OC_ATTEMPTS,
    OC_NEXT,
    OC_ERROR,
    OC_DELIVERED,
    OC_PARKED,
    OC_PAYLOAD,
};

static void
row_to_outbox(sqlite3_stmt *st, int with_payload, struct cjx_outbox_row *o)
{
    memset(o, 0, sizeof(*o));
    o->id = sqlite3_column_int64(st, OC_ID);
    o->message_id = read_column_text(st, OC_MESSAGE_ID);
    o->destination_ori = read_column_text(st, OC_DESTINATION);
    o->method = read_column_text(st, OC_METHOD);
    o->cii = read_column_text(st, OC_CII);
    o->court_case_number = read_column_text(st, OC_CCN);
    o->count_number = sqlite3_column_int(st, OC_COUNT);
    o->created_us = sqlite3_column_int64(st, OC_CREATED);
    o->attempts = sqlite3_column_int(st, OC_ATTEMPTS);
    o->next_attempt_us = sqlite3_column_int64(st, OC_NEXT);
    o->last_error = read_column_text(st, OC_ERROR);
    o->delivered_us = sqlite3_column_int64(st, OC_DELIVERED);
    o->parked = sqlite3_column_int(st, OC_PARKED);
    if (with_payload) {
        o->payload = sqlite3_column_blob(st, OC_PAYLOAD);
        o->payload_len = (size_t)sqlite3_column_bytes(st, OC_PAYLOAD);
        if (o->payload == NULL)
            o->payload = "";
    }
}

static int
outbox_row(void *ctx, sqlite3_stmt *st, int64_t *pos)
{
    const struct cjx_store_outbox_visitor *v = ctx;
    struct cjx_outbox_row o;
    row_to_outbox(st, v->with_payload, &o);
    *pos = o.id;
    return v->visit(v->arg, &o);
}

int
cjx_store_outbox_read_due(struct cjx_store *base, const char *destination,
                          int64_t now_us, int partition, int partitions,
                          int limit, cjx_store_outbox_visit_fn visit, void *arg,
                          struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err = cjx_store_check_outbox_due(destination, visit != NULL, partition,
                                         partitions, limit, eb);
    if (err != 0)
        return err;
    struct read_conn *r;
    err = acquire(s, &r, eb);
    if (err != 0)
        return err;
    sqlite3_stmt *st = r->st[CR_DUE];
    sqlite3_bind_text(st, 1, destination, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_us);
    sqlite3_bind_int(st, 3, partitions);
    sqlite3_bind_int(st, 4, partition);
    sqlite3_bind_int(st, 5, limit);
    struct cjx_store_outbox_visitor v = {visit, arg, 1};
    err = read_visit_rows(r, st, "outbox_due", outbox_row, &v, NULL, eb);
    release(s, r);
    return err;
}

int
cjx_store_outbox_read_next_due(struct cjx_store *base, const char *destination,
                               int64_t *next_us, struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err = cjx_store_check_outbox_next_due(destination, next_us != NULL, eb);
    if (err != 0)
        return err;
    struct read_conn *r;
    err = acquire(s, &r, eb);
    if (err != 0)
        return err;
    sqlite3_stmt *st = r->st[CR_NEXT_DUE];
    sqlite3_bind_text(st, 1, destination, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *next_us = sqlite3_column_int64(st, 0); /* NULL reads as 0 */
    else
        err = cjx_errf(eb, CJX_ESTORE, "outbox_next_due: %s",
                       sqlite3_errmsg(r->db));
    sqlite3_reset(st);
    release(s, r);
    return err;
}

int
cjx_store_outbox_read_list(struct cjx_store *base, enum cjx_outbox_which which,
                           const char *destination, int64_t after_id, int limit,
                           cjx_store_outbox_visit_fn visit, void *arg,
                           int64_t *last_id, struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    static const char *const conditions[] = {
        [CJX_OUTBOX_PENDING] = " AND o.delivered_us IS NULL AND o.parked = 0",
        [CJX_OUTBOX_PARKED] = " AND o.parked = 1",
        [CJX_OUTBOX_DELIVERED] = " AND o.delivered_us IS NOT NULL",
        [CJX_OUTBOX_ALL] = "",
    };
    int err =
        cjx_store_check_outbox_list(which, visit != NULL, after_id, limit, eb);
    if (err != 0)
        return err;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT " OUTBOX_COLUMNS OUTBOX_FROM "WHERE o.id > ?1%s%s"
             " ORDER BY o.id LIMIT ?2",
             conditions[which],
             cjx_store_set(destination) ? " AND o.destination = ?3" : "");
    struct read_pool p = pool_of(s);
    struct read_conn *r;
    sqlite3_stmt *st;
    err =
        read_pool_listing(&p, sql, "outbox_list", after_id, limit, &r, &st, eb);
    if (err != 0)
        return err;
    if (cjx_store_set(destination))
        sqlite3_bind_text(st, 3, destination, -1, SQLITE_STATIC);
    struct cjx_store_outbox_visitor v = {visit, arg, 0};
    err = read_visit_rows(r, st, "outbox_list", outbox_row, &v, last_id, eb);
    sqlite3_finalize(st);
    read_pool_release(&p, r);
    return err;
}

#define MAX_DESTINATIONS 256

struct count_table {
    struct cjx_outbox_count rows[MAX_DESTINATIONS];
    char names[MAX_DESTINATIONS][16];
    size_t n;
};

static struct cjx_outbox_count *
count_row(struct count_table *t, const char *destination)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->names[i], destination) == 0)
            return &t->rows[i];
    if (t->n == MAX_DESTINATIONS)
        return NULL;
    struct cjx_outbox_count *c = &t->rows[t->n];
    snprintf(t->names[t->n], sizeof(t->names[0]), "%s", destination);
    memset(c, 0, sizeof(*c));
    c->destination_ori = t->names[t->n];
    t->n++;
    return c;
}

/* One counting statement's rows, added to a table. */
struct count_into {
    struct count_table *t;
    int which; /* CR_PENDING_COUNTS, CR_PARKED_COUNTS or CR_DELIVERED_COUNTS */
};

/* Adds a (destination, count[, oldest]) row; never stops. */
static int
count_into_row(void *ctx, sqlite3_stmt *st, int64_t *pos)
{
    const struct count_into *into = ctx;
    *pos = 0;
    struct cjx_outbox_count *c = count_row(into->t, read_column_text(st, 0));
    if (c == NULL)
        return 0;
    int64_t n = sqlite3_column_int64(st, 1);
    if (into->which == CR_PENDING_COUNTS) {
        c->pending = n;
        c->oldest_pending_us = sqlite3_column_int64(st, 2);
    } else if (into->which == CR_PARKED_COUNTS) {
        c->parked = n;
    } else {
        c->delivered = n;
    }
    return 0;
}

static int
count_into(struct read_conn *r, int which, struct count_table *t,
           struct cjx_errbuf *eb)
{
    struct count_into into = {t, which};
    return read_visit_rows(r, r->st[which], "outbox_counts", count_into_row,
                           &into, NULL, eb);
}

int
cjx_store_outbox_read_counts(struct cjx_store *base, int with_delivered,
                             cjx_store_outbox_count_fn visit, void *arg,
                             struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err = cjx_store_check_visitor("outbox_counts", visit != NULL, eb);
    if (err != 0)
        return err;
    struct count_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    struct read_conn *r;
    err = acquire(s, &r, eb);
    if (err != 0) {
        free(t);
        return err;
    }
    /* Counts come from the partial indexes, except the delivered rows,
     * which only a scan of the whole outbox can count. */
    err = count_into(r, CR_PENDING_COUNTS, t, eb);
    if (err == 0)
        err = count_into(r, CR_PARKED_COUNTS, t, eb);
    if (err == 0 && with_delivered)
        err = count_into(r, CR_DELIVERED_COUNTS, t, eb);
    release(s, r);
    for (size_t i = 0; err == 0 && i < t->n; i++) {
        if (!with_delivered)
            t->rows[i].delivered = -1;
        if (visit(arg, &t->rows[i]) != 0)
            break;
    }
    free(t);
    return err;
}

static int
case_count_row(void *ctx, sqlite3_stmt *st, int64_t *pos)
{
    const struct cjx_store_case_count_visitor *v = ctx;
    struct cjx_case_count c = {
        .county = read_column_text(st, 0),
        .state = sqlite3_column_int(st, 1),
        .cases = sqlite3_column_int64(st, 2),
        .overdue = sqlite3_column_int64(st, 3),
    };
    *pos = 0;
    return v->visit(v->arg, &c);
}

int
cjx_store_case_read_counts(struct cjx_store *base, int64_t now_us,
                           cjx_store_case_count_fn visit, void *arg,
                           struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err = cjx_store_check_visitor("case_counts", visit != NULL, eb);
    if (err != 0)
        return err;
    struct read_conn *r;
    err = acquire(s, &r, eb);
    if (err != 0)
        return err;
    sqlite3_stmt *st = r->st[CR_CASE_COUNTS];
    sqlite3_bind_int64(st, 1, now_us);
    struct cjx_store_case_count_visitor v = {visit, arg};
    err = read_visit_rows(r, st, "case_counts", case_count_row, &v, NULL, eb);
    release(s, r);
    return err;
}
