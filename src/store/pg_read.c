/* The PostgreSQL store's reads: records, the feeds, the audit log, cases
 * and the outbox, each on a pooled connection of the calling thread. The
 * outbox's due rows are leased to the replica that reads them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_store.h"
#include "store_shared.h"

/* Runs one query on a pooled connection: the result, or NULL with *err
 * set and eb filled. */
static PGresult *
query(struct pg_store *s, const char *sql, const struct pg_params *p,
      const char *what, int *err, struct cjx_errbuf *eb)
{
    PGconn *c;
    *err = pg_reader_acquire(s, &c, eb);
    if (*err != 0)
        return NULL;
    char msg[256];
    PGresult *r = pg_exec(c, sql, p, what, msg, sizeof(msg));
    if (r == NULL && PQstatus(c) != CONNECTION_OK) {
        /* Pooled connections the server dropped (it restarted) fail their
         * first statement: the idle ones are dropped too, and the query
         * runs once more on a new connection. */
        PQfinish(c);
        pg_readers_free(s);
        *err = pg_reader_acquire(s, &c, eb);
        if (*err != 0)
            return NULL;
        r = pg_exec(c, sql, p, what, msg, sizeof(msg));
    }
    int gone = r == NULL && PQstatus(c) != CONNECTION_OK;
    pg_reader_release(s, c);
    if (r == NULL)
        *err = cjx_errf(eb, gone ? CJX_EUNAVAIL : CJX_ESTORE, "%s", msg);
    return r;
}

/* Takes row i of r: hands it to the caller's visitor and returns what the
 * visitor did (non-zero: stop), with the row's position in *pos. */
typedef int (*row_fn)(void *ctx, const PGresult *r, int i, int64_t *pos);

/* Hands each row of r to row until the end or row asks to stop. *last_pos
 * (may be NULL) gets the position of the last row taken: a row it stopped
 * at is not counted, so the next page starts with it. Returns the number
 * of rows taken. */
static int
visit_result(const PGresult *r, row_fn row, void *ctx, int64_t *last_pos)
{
    int64_t last = 0;
    int i = 0;
    for (; i < PQntuples(r); i++) {
        int64_t pos = 0;
        if (row(ctx, r, i, &pos) != 0)
            break;
        last = pos;
    }
    if (last_pos != NULL)
        *last_pos = last;
    return i;
}

/* A read of rows: query, then visit_result. 0 or the query's error. */
static int
query_rows(struct pg_store *s, const char *sql, const struct pg_params *p,
           const char *what, row_fn row, void *ctx, int64_t *last_pos,
           struct cjx_errbuf *eb)
{
    int err;
    PGresult *r = query(s, sql, p, what, &err, eb);
    if (r == NULL)
        return err;
    visit_result(r, row, ctx, last_pos);
    PQclear(r);
    return 0;
}

/* A feed read: the rows of sql after position $1, at most $2 of them. */
static int
read_feed(struct pg_store *s, const char *sql, const char *what,
          int64_t after_seq, int limit, row_fn row, void *ctx,
          struct cjx_errbuf *eb)
{
    struct pg_params p = {0};
    pg_int(&p, after_seq);
    pg_int(&p, limit);
    return query_rows(s, sql, &p, what, row, ctx, NULL, eb);
}

/* Takes the row a key found (row 0 of r): 0, or an error with eb filled. */
typedef int (*found_fn)(void *ctx, const PGresult *r, struct cjx_errbuf *eb);

/* A read of one key: sql with (cii, ccn, count) at $1..$3, its row to
 * found. 0 or found's error, CJX_ENOTFOUND with "no <noun>
 * cii/ccn/count", or the query's error. */
static int
query_key(struct pg_store *s, const char *sql, const char *what,
          const char *noun, const char *cii, const char *ccn, int32_t count,
          found_fn found, void *ctx, struct cjx_errbuf *eb)
{
    struct pg_params p = {0};
    pg_text(&p, cii);
    pg_text(&p, ccn);
    pg_int(&p, count);
    int err;
    PGresult *r = query(s, sql, &p, what, &err, eb);
    if (r == NULL)
        return err;
    if (PQntuples(r) == 0)
        err = cjx_errf(eb, CJX_ENOTFOUND, "no %s %s/%s/%d", noun, cii, ccn,
                       (int)count);
    else
        err = found(ctx, r, eb);
    PQclear(r);
    return err;
}

int
pg_read_top(struct pg_store *s, const char *table, int64_t *top)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(seq), 0) FROM %s", table);
    int err;
    PGresult *r = query(s, sql, NULL, table, &err, NULL);
    if (r == NULL)
        return err;
    *top = pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

/* ---- records ----------------------------------------------------------- */

/* Columns of a record row; the first is its position (id or seq). */
#define RECORD_COLUMNS                                                  \
    "r.cii, r.court_case_number, r.count_number, v.county, v.version, " \
    "v.submitted_by, v.stored_at_us, v.flags, v.body "
#define CURRENT_SELECT                                     \
    "SELECT r.id, r.seq, " RECORD_COLUMNS "FROM records r" \
    " JOIN record_versions v ON v.id = r.current_version_id "

static void
row_to_record(const PGresult *r, int i, struct cjx_stored_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->seq = pg_col_int(r, i, 1);
    rec->cii = pg_col_text(r, i, 2);
    rec->court_case_number = pg_col_text(r, i, 3);
    rec->count_number = (int32_t)pg_col_int(r, i, 4);
    rec->county = pg_col_text(r, i, 5);
    rec->version = pg_col_int(r, i, 6);
    rec->submitted_by = pg_col_text(r, i, 7);
    rec->stored_at_us = pg_col_int(r, i, 8);
    rec->flags = pg_col_text(r, i, 9);
    rec->record = pg_col_bytes(r, i, 10, &rec->record_len);
}

static int
record_row(void *ctx, const PGresult *r, int i, int64_t *pos)
{
    const struct cjx_store_record_visitor *v = ctx;
    struct cjx_stored_record rec;
    row_to_record(r, i, &rec);
    *pos = pg_col_int(r, i, 0);
    return v->visit(v->arg, &rec);
}

/* Copies the record a key found into out. */
static int
record_found(void *out, const PGresult *r, struct cjx_errbuf *eb)
{
    struct cjx_stored_record rec;
    row_to_record(r, 0, &rec);
    int err = cjx_store_record_copy(&rec, out);
    if (err != 0)
        cjx_errf(eb, err, "get_record: copying the record");
    return err;
}

int
pg_get_record(struct cjx_store *base, const char *cii, const char *ccn,
              int32_t count, struct cjx_stored_record *out,
              struct cjx_errbuf *eb)
{
    struct pg_store *s = (struct pg_store *)base;
    int err = cjx_store_check_get("get_record", cii, ccn, out, eb);
    if (err != 0)
        return err;
    return query_key(s,
                     CURRENT_SELECT "WHERE r.cii = $1"
                                    " AND r.court_case_number = $2"
                                    " AND r.count_number = $3",
                     "get_record", "record", cii, ccn, count, record_found, out,
                     eb);
}

int
pg_list_records(struct cjx_store *base, enum cjx_record_filter f,
                const char *value, int64_t after_id, int limit,
                cjx_store_visit_fn visit, void *arg, int64_t *last_id,
                struct cjx_errbuf *eb)
{
    struct pg_store *s = (struct pg_store *)base;
    static const char *const by[] = {
        [CJX_FILTER_CII] = CURRENT_SELECT "WHERE r.cii = $1",
        [CJX_FILTER_COUNTY] = CURRENT_SELECT "WHERE r.county = $1",
        [CJX_FILTER_CASE] = CURRENT_SELECT "WHERE r.court_case_number = $1",
    };
    int err = cjx_store_check_list_records(f, value, visit != NULL, after_id,
                                           limit, eb);
    if (err != 0)
        return err;
    char sql[512];
    snprintf(sql, sizeof(sql), "%s AND r.id > $2 ORDER BY r.id LIMIT $3",
             by[f]);
    struct pg_params p = {0};
    pg_text(&p, value);
    pg_int(&p, after_id);
    pg_int(&p, limit);
    struct cjx_store_record_visitor v = {visit, arg};
    return query_rows(s, sql, &p, "list_records", record_row, &v, last_id, eb);
}

int
pg_read_changes(struct cjx_store *base, int64_t after_seq, int limit,
                cjx_store_visit_fn visit, void *arg, struct cjx_errbuf *eb)
{
    int err = cjx_store_check_page("read_changes", "seq", visit != NULL,
                                   after_seq, limit, eb);
    if (err != 0)
        return err;
    struct cjx_store_record_visitor v = {visit, arg};
    return read_feed((struct pg_store *)base,
                     "SELECT c.seq, c.seq, " RECORD_COLUMNS "FROM changes c"
                     " JOIN record_versions v ON v.id = c.version_id"
                     " JOIN records r ON r.id = v.record_id"
                     " WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
                     "read_changes", after_seq, limit, record_row, &v, eb);
}

/* ---- the audit log ------------------------------------------------------ */

static int
audit_row(void *ctx, const PGresult *r, int i, int64_t *pos)
{
    const struct cjx_store_audit_visitor *v = ctx;
    struct cjx_stored_audit a = {.seq = pg_col_int(r, i, 0)};
    a.body = pg_col_bytes(r, i, 1, &a.body_len);
    if (!PQgetisnull(r, i, 2))
        a.hash = pg_col_bytes(r, i, 2, &a.hash_len);
    *pos = a.seq;
    return v->visit(v->arg, &a);
}

static int
read_audit_rows(struct pg_store *s, const char *sql, const char *what,
                int64_t after_seq, int limit, cjx_store_audit_visit_fn visit,
                void *arg, struct cjx_errbuf *eb)
{
    int err =
        cjx_store_check_page(what, "seq", visit != NULL, after_seq, limit, eb);
    if (err != 0)
        return err;
    struct cjx_store_audit_visitor v = {visit, arg};
    return read_feed(s, sql, what, after_seq, limit, audit_row, &v, eb);
}

int
pg_read_audit(struct cjx_store *base, int64_t after_seq, int limit,
              cjx_store_audit_visit_fn visit, void *arg, struct cjx_errbuf *eb)
{
    return read_audit_rows((struct pg_store *)base,
                           "SELECT seq, body, hash FROM audit WHERE seq > $1"
                           " ORDER BY seq LIMIT $2",
                           "read_audit", after_seq, limit, visit, arg, eb);
}

int
pg_read_audit_checkpoints(struct cjx_store *base, int64_t after_seq, int limit,
                          cjx_store_audit_visit_fn visit, void *arg,
                          struct cjx_errbuf *eb)
{
    return read_audit_rows((struct pg_store *)base,
                           "SELECT seq, body, NULL::bytea"
                           " FROM audit_checkpoints WHERE seq > $1"
                           " ORDER BY seq LIMIT $2",
                           "read_audit_checkpoints", after_seq, limit, visit,
                           arg, eb);
}

int
pg_read_last_audit_checkpoint(struct cjx_store *base,
                              cjx_store_audit_visit_fn visit, void *arg,
                              struct cjx_errbuf *eb)
{
    /* The unused $1 keeps the shared reader's two parameters. */
    return read_audit_rows((struct pg_store *)base,
                           "SELECT seq, body, NULL::bytea"
                           " FROM audit_checkpoints WHERE seq > $1"
                           " ORDER BY seq DESC LIMIT $2",
                           "read_last_audit_checkpoint", 0, 1, visit, arg, eb);
}

/* ---- cases --------------------------------------------------------------- */

#define CASE_COLUMNS                                               \
    "c.id, c.cii, c.court_case_number, c.count_number, c.county, " \
    "v.state, c.due_us, v.version, v.seq, v.event, v.sender_ori, " \
    "v.stored_at_us, v.body, c.seq "

static void
row_to_case(const PGresult *r, int i, struct cjx_stored_case *c)
{
    memset(c, 0, sizeof(*c));
    c->id = pg_col_int(r, i, 0);
    c->cii = pg_col_text(r, i, 1);
    c->court_case_number = pg_col_text(r, i, 2);
    c->count_number = (int32_t)pg_col_int(r, i, 3);
    c->county = pg_col_text(r, i, 4);
    c->state = (int)pg_col_int(r, i, 5);
    c->due_us = pg_col_int(r, i, 6);
    c->version = pg_col_int(r, i, 7);
    c->seq = pg_col_int(r, i, 8);
    c->event = (int)pg_col_int(r, i, 9);
    c->sender_ori = pg_col_text(r, i, 10);
    c->stored_at_us = pg_col_int(r, i, 11);
    c->body = pg_col_bytes(r, i, 12, &c->body_len);
    c->current_seq = pg_col_int(r, i, 13);
}

static int
case_row(void *ctx, const PGresult *r, int i, int64_t *pos)
{
    const struct cjx_store_case_visitor *v = ctx;
    struct cjx_stored_case c;
    row_to_case(r, i, &c);
    *pos = v->by_seq ? c.seq : c.id;
    return v->visit(v->arg, &c);
}

/* Where the case a key found goes, with its notice if asked for. */
struct case_found {
    int with_notice;
    struct cjx_stored_case *out;
};

static int
case_found(void *ctx, const PGresult *r, struct cjx_errbuf *eb)
{
    const struct case_found *to = ctx;
    struct cjx_stored_case c;
    row_to_case(r, 0, &c);
    const void *notice = NULL;
    size_t notice_len = 0;
    if (to->with_notice && !PQgetisnull(r, 0, 14))
        notice = pg_col_bytes(r, 0, 14, &notice_len);
    int err = cjx_store_case_copy(&c, notice, notice_len, to->out);
    if (err != 0)
        cjx_errf(eb, err, "get_case: copying the case");
    return err;
}

int
pg_get_case(struct cjx_store *base, const char *cii, const char *ccn,
            int32_t count, int with_notice, struct cjx_stored_case *out,
            struct cjx_errbuf *eb)
{
    struct pg_store *s = (struct pg_store *)base;
    int err = cjx_store_check_get("get_case", cii, ccn, out, eb);
    if (err != 0)
        return err;
    struct case_found to = {with_notice, out};
    return query_key(s,
                     "SELECT " CASE_COLUMNS ", n.body FROM cases c"
                     " JOIN case_changes v ON v.seq = c.seq"
                     " LEFT JOIN case_notices n ON n.case_id = c.id"
                     " WHERE c.cii = $1 AND c.court_case_number = $2"
                     " AND c.count_number = $3",
                     "get_case", "case", cii, ccn, count, case_found, &to, eb);
}

int
pg_list_cases(struct cjx_store *base, const struct cjx_case_filter *f,
              int64_t after_id, int limit, cjx_store_case_visit_fn visit,
              void *arg, int64_t *last_id, struct cjx_errbuf *eb)
{
    struct pg_store *s = (struct pg_store *)base;
    int err =
        cjx_store_check_list_cases(&f, visit != NULL, after_id, limit, eb);
    if (err != 0)
        return err;
    /* Unset conditions are true for every row, so that one statement
     * serves every filter. $6 is cast: compared with the literal 0 alone
     * it would be taken for an int4, and a time in microseconds is not. */
    struct pg_params p = {0};
    pg_int(&p, after_id);
    pg_int(&p, limit);
    pg_text(&p, cjx_store_set(f->county) ? f->county : "");
    pg_text(&p, cjx_store_set(f->cii) ? f->cii : "");
    pg_int(&p, f->state);
    pg_int(&p, f->due_before_us);
    struct cjx_store_case_visitor v = {visit, arg, 0};
    return query_rows(
        s,
        "SELECT " CASE_COLUMNS "FROM cases c JOIN case_changes v"
        " ON v.seq = c.seq WHERE c.id > $1"
        " AND ($3 = '' OR c.county = $3) AND ($4 = '' OR c.cii = $4)"
        " AND ($5 = 0 OR c.state = $5)"
        " AND ($6::int8 <= 0 OR c.due_us < $6::int8)"
        " ORDER BY c.id LIMIT $2",
        &p, "list_cases", case_row, &v, last_id, eb);
}

int
pg_read_case_changes(struct cjx_store *base, int64_t after_seq, int limit,
                     cjx_store_case_visit_fn visit, void *arg,
                     struct cjx_errbuf *eb)
{
    int err = cjx_store_check_page("read_case_changes", "seq", visit != NULL,
                                   after_seq, limit, eb);
    if (err != 0)
        return err;
    struct cjx_store_case_visitor v = {visit, arg, 1};
    return read_feed((struct pg_store *)base,
                     "SELECT " CASE_COLUMNS "FROM case_changes v"
                     " JOIN cases c ON c.id = v.case_id"
                     " WHERE v.seq > $1 ORDER BY v.seq LIMIT $2",
                     "read_case_changes", after_seq, limit, case_row, &v, eb);
}

/* ---- the outbox ------------------------------------------------------------ */

#define OUTBOX_COLUMNS                                                \
    "o.id, m.message_id, o.destination, m.method, m.cii, "            \
    "m.court_case_number, m.count_number, m.created_us, o.attempts, " \
    "o.next_attempt_us, o.last_error, coalesce(o.delivered_us, 0), o.parked "

static int
outbox_row(void *ctx, const PGresult *r, int i, int64_t *pos)
{
    const struct cjx_store_outbox_visitor *v = ctx;
    struct cjx_outbox_row o = {
        .id = pg_col_int(r, i, 0),
        .message_id = pg_col_text(r, i, 1),
        .destination_ori = pg_col_text(r, i, 2),
        .method = pg_col_text(r, i, 3),
        .cii = pg_col_text(r, i, 4),
        .court_case_number = pg_col_text(r, i, 5),
        .count_number = (int32_t)pg_col_int(r, i, 6),
        .created_us = pg_col_int(r, i, 7),
        .attempts = (int)pg_col_int(r, i, 8),
        .next_attempt_us = pg_col_int(r, i, 9),
        .last_error = pg_col_text(r, i, 10),
        .delivered_us = pg_col_int(r, i, 11),
        .parked = (int)pg_col_int(r, i, 12),
    };
    if (v->with_payload)
        o.payload = pg_col_bytes(r, i, 13, &o.payload_len);
    *pos = o.id;
    return v->visit(v->arg, &o);
}

/* Gives back the leases of the rows from row `from` on, which the visitor
 * did not take (its batch was full): they are due again at once. */
static int
release_leases(struct pg_store *s, const PGresult *r, int from,
               int64_t leased_until, struct cjx_errbuf *eb)
{
    int n = PQntuples(r);
    if (from >= n)
        return 0;
    size_t cap = (size_t)(n - from) * 21 + 3, len = 0;
    char *ids = malloc(cap);
    if (ids == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    ids[len++] = '{';
    for (int i = from; i < n; i++)
        len += (size_t)snprintf(ids + len, cap - len, "%s%lld",
                                i > from ? "," : "",
                                (long long)pg_col_int(r, i, 0));
    snprintf(ids + len, cap - len, "}");
    struct pg_params p = {0};
    pg_text(&p, ids);
    pg_int(&p, leased_until);
    int err;
    PGresult *u = query(s,
                        "UPDATE outbox SET leased_until_us = 0"
                        " WHERE id = ANY($1::bigint[])"
                        " AND leased_until_us = $2",
                        &p, "outbox_due: giving back leases", &err, eb);
    free(ids);
    PQclear(u);
    return u != NULL ? 0 : err;
}

/* The due rows are leased in the statement that finds them: rows another
 * replica is reading (locked) or holds (leased, not yet expired) are
 * skipped, so that no row is sent by two replicas at once; a replica that
 * dies holding rows leaves them to the others when the lease ends. The
 * lease is measured on now_us, the caller's clock. */
int
pg_outbox_due(struct cjx_store *base, const char *destination, int64_t now_us,
              int partition, int partitions, int limit,
              cjx_store_outbox_visit_fn visit, void *arg, struct cjx_errbuf *eb)
{
    struct pg_store *s = (struct pg_store *)base;
    int err = cjx_store_check_outbox_due(destination, visit != NULL, partition,
                                         partitions, limit, eb);
    if (err != 0)
        return err;
    struct pg_params p = {0};
    pg_text(&p, destination);
    pg_int(&p, now_us);
    pg_int(&p, partitions);
    pg_int(&p, partition);
    pg_int(&p, limit);
    pg_int(&p, now_us + s->lease_us);
    PGresult *r = query(
        s,
        "WITH leased AS (UPDATE outbox SET leased_until_us = $6"
        " WHERE id IN (SELECT id FROM outbox WHERE destination = $1"
        " AND delivered_us IS NULL AND parked = 0 AND next_attempt_us <= $2"
        " AND leased_until_us <= $2 AND id % $3 = $4"
        " ORDER BY next_attempt_us, id LIMIT $5 FOR UPDATE SKIP LOCKED)"
        " RETURNING *)"
        " SELECT " OUTBOX_COLUMNS ", m.payload FROM leased o"
        " JOIN outbox_messages m ON m.id = o.message"
        " ORDER BY o.next_attempt_us, o.id",
        &p, "outbox_due", &err, eb);
    if (r == NULL)
        return err;
    struct cjx_store_outbox_visitor v = {visit, arg, 1};
    int taken = visit_result(r, outbox_row, &v, NULL);
    err = release_leases(s, r, taken, now_us + s->lease_us, eb);
    PQclear(r);
    return err;
}

int
pg_outbox_next_due(struct cjx_store *base, const char *destination,
                   int64_t *next_us, struct cjx_errbuf *eb)
{
    struct pg_store *s = (struct pg_store *)base;
    int err = cjx_store_check_outbox_next_due(destination, next_us != NULL, eb);
    if (err != 0)
        return err;
    struct pg_params p = {0};
    pg_text(&p, destination);
    /* A leased row is due again when its lease ends. */
    PGresult *r = query(s,
                        "SELECT min(greatest(next_attempt_us,"
                        " leased_until_us)) FROM outbox WHERE destination = $1"
                        " AND delivered_us IS NULL AND parked = 0",
                        &p, "outbox_next_due", &err, eb);
    if (r == NULL)
        return err;
    *next_us = pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

int
pg_outbox_list(struct cjx_store *base, enum cjx_outbox_which which,
               const char *destination, int64_t after_id, int limit,
               cjx_store_outbox_visit_fn visit, void *arg, int64_t *last_id,
               struct cjx_errbuf *eb)
{
    struct pg_store *s = (struct pg_store *)base;
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
    char sql[768];
    snprintf(sql, sizeof(sql),
             "SELECT " OUTBOX_COLUMNS "FROM outbox o JOIN outbox_messages m"
             " ON m.id = o.message WHERE o.id > $1%s"
             " AND ($3 = '' OR o.destination = $3) ORDER BY o.id LIMIT $2",
             conditions[which]);
    struct pg_params p = {0};
    pg_int(&p, after_id);
    pg_int(&p, limit);
    pg_text(&p, cjx_store_set(destination) ? destination : "");
    struct cjx_store_outbox_visitor v = {visit, arg, 0};
    return query_rows(s, sql, &p, "outbox_list", outbox_row, &v, last_id, eb);
}

static int
outbox_count_row(void *ctx, const PGresult *r, int i, int64_t *pos)
{
    const struct cjx_store_outbox_count_visitor *v = ctx;
    struct cjx_outbox_count c = {
        .destination_ori = pg_col_text(r, i, 0),
        .pending = pg_col_int(r, i, 1),
        .oldest_pending_us = pg_col_int(r, i, 2),
        .parked = pg_col_int(r, i, 3),
        .delivered = v->with_delivered ? pg_col_int(r, i, 4) : -1,
    };
    *pos = 0;
    return v->visit(v->arg, &c);
}

int
pg_outbox_counts(struct cjx_store *base, int with_delivered,
                 cjx_store_outbox_count_fn visit, void *arg,
                 struct cjx_errbuf *eb)
{
    struct pg_store *s = (struct pg_store *)base;
    int err = cjx_store_check_visitor("outbox_counts", visit != NULL, eb);
    if (err != 0)
        return err;
    struct pg_params p = {0};
    pg_int(&p, with_delivered ? 1 : 0);
    struct cjx_store_outbox_count_visitor v = {visit, arg, with_delivered};
    return query_rows(
        s,
        "SELECT o.destination,"
        " count(*) FILTER (WHERE o.delivered_us IS NULL AND o.parked = 0),"
        " min(m.created_us) FILTER"
        " (WHERE o.delivered_us IS NULL AND o.parked = 0),"
        " count(*) FILTER (WHERE o.parked = 1),"
        " count(*) FILTER (WHERE o.delivered_us IS NOT NULL)"
        " FROM outbox o JOIN outbox_messages m ON m.id = o.message"
        " GROUP BY o.destination HAVING $1 = 1"
        " OR count(*) FILTER (WHERE o.delivered_us IS NULL) > 0"
        " ORDER BY o.destination",
        &p, "outbox_counts", outbox_count_row, &v, NULL, eb);
}

static int
case_count_row(void *ctx, const PGresult *r, int i, int64_t *pos)
{
    const struct cjx_store_case_count_visitor *v = ctx;
    struct cjx_case_count c = {
        .county = pg_col_text(r, i, 0),
        .state = (int)pg_col_int(r, i, 1),
        .cases = pg_col_int(r, i, 2),
        .overdue = pg_col_int(r, i, 3),
    };
    *pos = 0;
    return v->visit(v->arg, &c);
}

int
pg_case_counts(struct cjx_store *base, int64_t now_us,
               cjx_store_case_count_fn visit, void *arg, struct cjx_errbuf *eb)
{
    struct pg_store *s = (struct pg_store *)base;
    int err = cjx_store_check_visitor("case_counts", visit != NULL, eb);
    if (err != 0)
        return err;
    struct pg_params p = {0};
    pg_int(&p, now_us);
    struct cjx_store_case_count_visitor v = {visit, arg};
    return query_rows(s,
                      "SELECT county, state, count(*),"
                      " count(*) FILTER (WHERE due_us IS NOT NULL"
                      " AND due_us < $1) FROM cases"
                      " GROUP BY county, state ORDER BY county, state",
                      &p, "case_counts", case_count_row, &v, NULL, eb);
}
