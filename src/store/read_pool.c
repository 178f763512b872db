/* Read-only connection pools: open lazily, reuse, close at the end. */
#include "read_pool.h"

#include <stdlib.h>

static void
conn_free(const struct read_pool *p, struct read_conn *c)
{
    for (int i = 0; i < p->spec->n_sql; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close_v2(c->db);
    free(c);
}

static int
conn_open(const struct read_pool *p, struct read_conn **out,
          struct cjx_errbuf *eb)
{
    const struct read_pool_spec *spec = p->spec;
    struct read_conn *c =
        calloc(1, sizeof(*c) + (size_t)spec->n_sql * sizeof(c->st[0]));
    if (c == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    int rc = sqlite3_open_v2(p->path, &c->db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(c->db, p->busy_timeout_ms);
        if (spec->pragma != NULL)
            sqlite3_exec(c->db, spec->pragma, NULL, NULL, NULL);
        for (int i = 0; i < spec->n_sql && rc == SQLITE_OK; i++)
            rc = sqlite3_prepare_v3(c->db, spec->sql[i], -1,
                                    SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL);
    }
    if (rc != SQLITE_OK) {
        cjx_errf(eb, CJX_ESTORE, "opening a %s on %s: %s", spec->what, p->path,
                 c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_free(p, c);
        return CJX_ESTORE;
    }
    *out = c;
    return 0;
}

int
read_pool_acquire(const struct read_pool *p, struct read_conn **out,
                  struct cjx_errbuf *eb)
{
    pthread_mutex_lock(p->mu);
    struct read_conn *c = *p->idle;
    if (c != NULL)
        *p->idle = c->next;
    pthread_mutex_unlock(p->mu);
    if (c == NULL)
        return conn_open(p, out, eb);
    *out = c;
    return 0;
}

void
read_pool_release(const struct read_pool *p, struct read_conn *c)
{
    pthread_mutex_lock(p->mu);
    c->next = *p->idle;
    *p->idle = c;
    pthread_mutex_unlock(p->mu);
}

void
read_pool_free_idle(const struct read_pool *p)
{
    while (*p->idle != NULL) {
        struct read_conn *c = *p->idle;
        *p->idle = c->next;
        conn_free(p, c);
    }
}

int
read_visit_rows(struct read_conn *r, sqlite3_stmt *st, const char *what,
                read_row_fn row, void *ctx, int64_t *last_pos,
                struct cjx_errbuf *eb)
{
    int rc, err = 0;
    int64_t last = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t pos = 0;
        if (row(ctx, st, &pos) != 0)
            break;
        last = pos;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = cjx_errf(eb, CJX_ESTORE, "%s: %s", what, sqlite3_errmsg(r->db));
    sqlite3_reset(st);
    if (err == 0 && last_pos != NULL)
        *last_pos = last;
    return err;
}

int
read_pool_feed(const struct read_pool *p, int which, const char *what,
               int64_t after, int limit, read_row_fn row, void *ctx,
               struct cjx_errbuf *eb)
{
    struct read_conn *r;
    int err = read_pool_acquire(p, &r, eb);
    if (err != 0)
        return err;
    sqlite3_stmt *st = r->st[which];
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, limit);
    err = read_visit_rows(r, st, what, row, ctx, NULL, eb);
    read_pool_release(p, r);
    return err;
}

int
read_pool_get(const struct read_pool *p, int which, const char *what,
              const char *noun, const char *cii, const char *ccn, int32_t count,
              read_found_fn found, void *ctx, struct cjx_errbuf *eb)
{
    struct read_conn *r;
    int err = read_pool_acquire(p, &r, eb);
    if (err != 0)
        return err;
    sqlite3_stmt *st = r->st[which];
    sqlite3_bind_text(st, 1, cii, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ccn, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, count);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = found(ctx, r, st, eb);
    else if (rc == SQLITE_DONE)
        err = cjx_errf(eb, CJX_ENOTFOUND, "no %s %s/%s/%d", noun, cii, ccn,
                       (int)count);
    else
        err = cjx_errf(eb, CJX_ESTORE, "%s: %s", what, sqlite3_errmsg(r->db));
    /* Resetting ends the read transaction, so the next read sees newer
     * commits. */
    sqlite3_reset(st);
    read_pool_release(p, r);
    return err;
}

int
read_pool_listing(const struct read_pool *p, const char *sql, const char *what,
                  int64_t after, int limit, struct read_conn **r,
                  sqlite3_stmt **st, struct cjx_errbuf *eb)
{
    int err = read_pool_acquire(p, r, eb);
    if (err != 0)
        return err;
    if (sqlite3_prepare_v2((*r)->db, sql, -1, st, NULL) != SQLITE_OK) {
        err =
            cjx_errf(eb, CJX_ESTORE, "%s: %s", what, sqlite3_errmsg((*r)->db));
        read_pool_release(p, *r);
        return err;
    }
    sqlite3_bind_int64(*st, 1, after);
    sqlite3_bind_int(*st, 2, limit);
    return 0;
}

const char *
read_column_text(sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    return v != NULL ? v : "";
}
