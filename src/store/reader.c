/* The SQLite store's reads, on a pool of read-only connections: records,
 * the change feed and the audit log. */
#include <stdlib.h>
#include <string.h>

#include "read_pool.h"
#include "sqlite_store.h"

/* Every read statement yields the same columns, so one function turns a row
 * into a struct cjx_stored_record. Column 0 is the row's position: the
 * record id for listings, the seq for the change feed. */
#define RECORD_COLUMNS "r.cii, r.court_case_number, r.count_number, "
#define VERSION_COLUMNS \
    "v.version, v.submitted_by, v.stored_at_us, v.flags, v.body "

enum {
    COL_POS,
    COL_CII,
    COL_CCN,
    COL_COUNT,
    COL_COUNTY,
    COL_SEQ,
    COL_VERSION,
    COL_SUBMITTED_BY,
    COL_STORED_AT,
    COL_FLAGS,
    COL_BODY,
};

#define CURRENT_SELECT                                                 \
    "SELECT r.id, " RECORD_COLUMNS "r.county, r.seq, " VERSION_COLUMNS \
    "FROM records r CROSS JOIN record_versions v"                      \
    " ON v.id = r.current_version_id "

enum reader_stmt {
    RS_GET,
    RS_LIST_CII,
    RS_LIST_COUNTY,
    RS_LIST_CASE,
    RS_CHANGES,
    RS_AUDIT,
    RS_AUDIT_CHECKPOINTS,
    RS_AUDIT_LAST_CHECKPOINT,
    RS_COUNT_
};

/* Listings use the secondary indexes, which end in the row id, so paging
 * by id within one value is an index range scan. CROSS JOIN pins the join
 * order (the driving table first, then primary-key lookups) so the planner
 * never chooses a scan and a sort. */
static const char *const reader_sql[] = {
    [RS_GET] = CURRENT_SELECT "WHERE r.cii = ?1 AND r.court_case_number = ?2"
                              " AND r.count_number = ?3",
    [RS_LIST_CII] = CURRENT_SELECT "WHERE r.cii = ?1 AND r.id > ?2"
                                   " ORDER BY r.id LIMIT ?3",
    [RS_LIST_COUNTY] = CURRENT_SELECT "WHERE r.county = ?1 AND r.id > ?2"
                                      " ORDER BY r.id LIMIT ?3",
    [RS_LIST_CASE] = CURRENT_SELECT "WHERE r.court_case_number = ?1"
                                    " AND r.id > ?2 ORDER BY r.id LIMIT ?3",
    /* The feed reports the county each version was written with. */
    [RS_CHANGES] = "SELECT c.seq, " RECORD_COLUMNS
                   "v.county, c.seq, " VERSION_COLUMNS "FROM changes c"
                   " CROSS JOIN record_versions v ON v.id = c.version_id"
                   " CROSS JOIN records r ON r.id = v.record_id"
                   " WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
    [RS_AUDIT] = "SELECT seq, body, hash FROM audit WHERE seq > ?1"
                 " ORDER BY seq LIMIT ?2",
    [RS_AUDIT_CHECKPOINTS] = "SELECT seq, body, NULL FROM audit_checkpoints"
                             " WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [RS_AUDIT_LAST_CHECKPOINT] = "SELECT seq, body, NULL FROM audit_checkpoints"
                                 " WHERE seq > ?1 ORDER BY seq DESC LIMIT ?2",
};

static const struct read_pool_spec reader_spec = {reader_sql, RS_COUNT_, NULL,
                                                  "read connection"};

/* The record reader's pool, over the store's idle list. */
static struct read_pool
pool_of(struct sqlite_store *s)
{
    return (struct read_pool){&s->pool_mu, &s->pool, s->path,
                              s->busy_timeout_ms, &reader_spec};
}

int
cjx_store_readers_start(struct sqlite_store *s, struct cjx_errbuf *eb)
{
    struct read_pool p = pool_of(s);
    struct read_conn *r;
    int err = read_pool_acquire(&p, &r, eb);
    if (err == 0)
        read_pool_release(&p, r);
    return err;
}

void
cjx_store_readers_free(struct sqlite_store *s)
{
    struct read_pool p = pool_of(s);
    read_pool_free_idle(&p);
}

/* Points rec at the current row; valid until the statement moves on. */
static void
row_to_record(sqlite3_stmt *st, struct cjx_stored_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->cii = read_column_text(st, COL_CII);
    rec->court_case_number = read_column_text(st, COL_CCN);
    rec->count_number = sqlite3_column_int(st, COL_COUNT);
    rec->county = read_column_text(st, COL_COUNTY);
    rec->version = sqlite3_column_int64(st, COL_VERSION);
    rec->seq = sqlite3_column_int64(st, COL_SEQ);
    rec->submitted_by = read_column_text(st, COL_SUBMITTED_BY);
    rec->stored_at_us = sqlite3_column_int64(st, COL_STORED_AT);
    rec->flags = read_column_text(st, COL_FLAGS);
    rec->record = sqlite3_column_blob(st, COL_BODY);
    rec->record_len = (size_t)sqlite3_column_bytes(st, COL_BODY);
}

/* Copies the record a key found into out. */
static int
record_found(void *out, struct read_conn *r, sqlite3_stmt *st,
             struct cjx_errbuf *eb)
{
    (void)r;
    struct cjx_stored_record rec;
    row_to_record(st, &rec);
    int err = cjx_store_record_copy(&rec, out);
    if (err != 0)
        cjx_errf(eb, err, "get_record: copying the record");
    return err;
}

int
cjx_store_reader_get(struct cjx_store *base, const char *cii, const char *ccn,
                     int32_t count, struct cjx_stored_record *out,
                     struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err = cjx_store_check_get("get_record", cii, ccn, out, eb);
    if (err != 0)
        return err;
    struct read_pool p = pool_of(s);
    return read_pool_get(&p, RS_GET, "get_record", "record", cii, ccn, count,
                         record_found, out, eb);
}

static int
record_row(void *ctx, sqlite3_stmt *st, int64_t *pos)
{
    const struct cjx_store_record_visitor *v = ctx;
    struct cjx_stored_record rec;
    row_to_record(st, &rec);
    *pos = sqlite3_column_int64(st, COL_POS);
    return v->visit(v->arg, &rec);
}

int
cjx_store_reader_list(struct cjx_store *base, enum cjx_record_filter f,
                      const char *value, int64_t after_id, int limit,
                      cjx_store_visit_fn visit, void *arg, int64_t *last_id,
                      struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err = cjx_store_check_list_records(f, value, visit != NULL, after_id,
                                           limit, eb);
    if (err != 0)
        return err;
    struct read_pool p = pool_of(s);
    struct read_conn *r;
    err = read_pool_acquire(&p, &r, eb);
    if (err != 0)
        return err;
    static const enum reader_stmt by_filter[] = {
        [CJX_FILTER_CII] = RS_LIST_CII,
        [CJX_FILTER_COUNTY] = RS_LIST_COUNTY,
        [CJX_FILTER_CASE] = RS_LIST_CASE,
    };
    sqlite3_stmt *st = r->st[by_filter[f]];
    sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after_id);
    sqlite3_bind_int(st, 3, limit);
    struct cjx_store_record_visitor v = {visit, arg};
    err = read_visit_rows(r, st, "list_records", record_row, &v, last_id, eb);
    read_pool_release(&p, r);
    return err;
}

int
cjx_store_reader_changes(struct cjx_store *base, int64_t after_seq, int limit,
                         cjx_store_visit_fn visit, void *arg,
                         struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err = cjx_store_check_page("read_changes", "seq", visit != NULL,
                                   after_seq, limit, eb);
    if (err != 0)
        return err;
    struct read_pool p = pool_of(s);
    struct cjx_store_record_visitor v = {visit, arg};
    return read_pool_feed(&p, RS_CHANGES, "read_changes", after_seq, limit,
                          record_row, &v, eb);
}

static int
audit_row(void *ctx, sqlite3_stmt *st, int64_t *pos)
{
    const struct cjx_store_audit_visitor *v = ctx;
    struct cjx_stored_audit a = {
        .seq = sqlite3_column_int64(st, 0),
        .body = sqlite3_column_blob(st, 1),
        .body_len = (size_t)sqlite3_column_bytes(st, 1),
        .hash = sqlite3_column_blob(st, 2),
        .hash_len = (size_t)sqlite3_column_bytes(st, 2),
    };
    *pos = a.seq;
    return v->visit(v->arg, &a);
}

/* Both audit reads: rows of (seq, body, hash) after a seq. */
static int
read_audit_rows(struct cjx_store *base, enum reader_stmt which,
                const char *what, int64_t after_seq, int limit,
                cjx_store_audit_visit_fn visit, void *arg,
                struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err =
        cjx_store_check_page(what, "seq", visit != NULL, after_seq, limit, eb);
    if (err != 0)
        return err;
    struct read_pool p = pool_of(s);
    struct cjx_store_audit_visitor v = {visit, arg};
    return read_pool_feed(&p, (int)which, what, after_seq, limit, audit_row, &v,
                          eb);
}

int
cjx_store_reader_audit(struct cjx_store *base, int64_t after_seq, int limit,
                       cjx_store_audit_visit_fn visit, void *arg,
                       struct cjx_errbuf *eb)
{
    return read_audit_rows(base, RS_AUDIT, "read_audit", after_seq, limit,
                           visit, arg, eb);
}

int
cjx_store_reader_audit_checkpoints(struct cjx_store *base, int64_t after_seq,
                                   int limit, cjx_store_audit_visit_fn visit,
                                   void *arg, struct cjx_errbuf *eb)
{
    return read_audit_rows(base, RS_AUDIT_CHECKPOINTS, "read_audit_checkpoints",
                           after_seq, limit, visit, arg, eb);
}

int
cjx_store_reader_last_audit_checkpoint(struct cjx_store *base,
                                       cjx_store_audit_visit_fn visit,
                                       void *arg, struct cjx_errbuf *eb)
{
    return read_audit_rows(base, RS_AUDIT_LAST_CHECKPOINT,
                           "read_last_audit_checkpoint", 0, 1, visit, arg, eb);
}
