/* libpq helpers of the PostgreSQL store: parameters, statements, columns,
 * connecting, and the pool of read connections. */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_store.h"

void
pg_text(struct pg_params *p, const char *v)
{
    p->value[p->n] = v;
    p->len[p->n] = 0;
    p->format[p->n] = 0;
    p->n++;
}

void
pg_int(struct pg_params *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%" PRId64, v);
    pg_text(p, p->num[p->n]);
}

void
pg_bytes(struct pg_params *p, const void *v, size_t len)
{
    p->value[p->n] = len > 0 ? v : "";
    p->len[p->n] = (int)len;
    p->format[p->n] = 1;
    p->n++;
}

PGresult *
pg_exec(PGconn *c, const char *sql, const struct pg_params *p, const char *what,
        char *msg, size_t msg_len)
{
    PGresult *r = PQexecParams(
        c, sql, p != NULL ? p->n : 0, NULL, p != NULL ? p->value : NULL,
        p != NULL ? p->len : NULL, p != NULL ? p->format : NULL, 1);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    const char *why = r != NULL ? PQresultErrorMessage(r) : "";
    if (why[0] == '\0')
        why = PQerrorMessage(c);
    /* PostgreSQL's messages end in a newline. */
    snprintf(msg, msg_len, "%s: %.*s", what, (int)strcspn(why, "\n"), why);
    PQclear(r);
    return NULL;
}

int
pg_command(PGconn *c, const char *sql, const struct pg_params *p,
           const char *what, char *msg, size_t msg_len)
{
    PGresult *r = pg_exec(c, sql, p, what, msg, msg_len);
    if (r == NULL)
        return CJX_ESTORE;
    PQclear(r);
    return 0;
}

int64_t
pg_col_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const char *v = PQgetvalue(r, row, col);
    switch (PQgetlength(r, row, col)) {
    case 2: {
        uint16_t x;
        memcpy(&x, v, 2);
        return (int16_t)be16toh(x);
    }
    case 4: {
        uint32_t x;
        memcpy(&x, v, 4);
        return (int32_t)be32toh(x);
    }
    case 8: {
        uint64_t x;
        memcpy(&x, v, 8);
        return (int64_t)be64toh(x);
    }
    default:
        return 0;
    }
}

const char *
pg_col_text(const PGresult *r, int row, int col)
{
    /* libpq ends every value with a NUL, binary text included. */
    return PQgetvalue(r, row, col);
}

const void *
pg_col_bytes(const PGresult *r, int row, int col, size_t *len)
{
    *len = (size_t)PQgetlength(r, row, col);
    return PQgetvalue(r, row, col);
}

PGconn *
pg_connect(const char *dsn, const char *password, char *msg, size_t msg_len)
{
    /* The dsn is expanded as libpq's dbname; a password given apart
     * overrides any in it and never passes through a string we format. */
    const char *keys[] = {"dbname", "password", "application_name", NULL};
    const char *values[] = {dsn, password, "cjxd", NULL};
    if (password == NULL) {
        keys[1] = "application_name";
        values[1] = "cjxd";
        keys[2] = NULL;
    }
    PGconn *c = PQconnectdbParams(keys, values, 1);
    if (c != NULL && PQstatus(c) == CONNECTION_OK)
        return c;
    const char *why = c != NULL ? PQerrorMessage(c) : "out of memory";
    snprintf(msg, msg_len, "connecting to PostgreSQL: %.*s",
             (int)strcspn(why, "\n"), why);
    PQfinish(c);
    return NULL;
}

/* ---- the pool of read connections ------------------------------------- */

struct pg_idle {
    struct pg_idle *next;
    PGconn *conn;
};

int
pg_reader_acquire(struct pg_store *s, PGconn **out, struct cjx_errbuf *eb)
{
    pthread_mutex_lock(&s->readers.mu);
    struct pg_idle *i = s->readers.idle;
    if (i != NULL)
        s->readers.idle = i->next;
    pthread_mutex_unlock(&s->readers.mu);
    if (i != NULL) {
        *out = i->conn;
        free(i);
        /* A connection the server dropped (a restart) is opened anew. */
        if (PQstatus(*out) == CONNECTION_OK)
            return 0;
        PQfinish(*out);
    }
    char msg[256];
    *out = pg_connect(s->dsn, s->password, msg, sizeof(msg));
    if (*out == NULL)
        return cjx_errf(eb, CJX_EUNAVAIL, "%s", msg);
    return 0;
}

void
pg_reader_release(struct pg_store *s, PGconn *c)
{
    struct pg_idle *i = malloc(sizeof(*i));
    if (i == NULL || PQstatus(c) != CONNECTION_OK) {
        free(i);
        PQfinish(c);
        return;
    }
    i->conn = c;
    pthread_mutex_lock(&s->readers.mu);
    i->next = s->readers.idle;
    s->readers.idle = i;
    pthread_mutex_unlock(&s->readers.mu);
}

void
pg_readers_free(struct pg_store *s)
{
    pthread_mutex_lock(&s->readers.mu);
    struct pg_idle *i = s->readers.idle;
    s->readers.idle = NULL;
    pthread_mutex_unlock(&s->readers.mu);
    while (i != NULL) {
        struct pg_idle *next = i->next;
        PQfinish(i->conn);
        free(i);
        i = next;
    }
}
