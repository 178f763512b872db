/* The store backend of a unit test (store_backend.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "cjx/store_pg.h"
#include "store_backend.h"

int
test_backend_is_pg(void)
{
    const char *b = getenv("CJX_TEST_STORE");
    return b != NULL && strcmp(b, "postgresql") == 0;
}

static const char *
dsn(void)
{
    const char *d = getenv("CJX_TEST_PG_DSN");
    if (d == NULL || d[0] == '\0') {
        fprintf(stderr, "CJX_TEST_PG_DSN is not set: run the test under "
                        "tests/support/with-postgres\n");
        exit(2);
    }
    return d;
}

/* Runs sql; with out, reads a number from its first row. */
static int
run_for(const char *sql, int64_t *out)
{
    PGconn *c = PQconnectdb(dsn());
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connecting: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
             (PQresultStatus(r) == PGRES_TUPLES_OK &&
              (out == NULL || PQntuples(r) == 1));
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
    else if (out != NULL)
        *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

static int
run(const char *sql)
{
    return run_for(sql, NULL);
}

int64_t
test_backend_pg_count(const char *table)
{
    char sql[128];
    int64_t n = -1;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    if (run_for(sql, &n) != 0)
        fail_msg("%s failed", sql);
    return n;
}

int
test_backend_reset(void)
{
    if (!test_backend_is_pg())
        return 0;
    return run("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}

void
test_backend_pg_exec(const char *sql)
{
    if (run(sql) != 0)
        fail_msg("%s failed", sql);
}

int
test_backend_open(const char *sqlite_path,
                  const struct cjx_store_sqlite_options *o,
                  struct cjx_store **out, struct cjx_errbuf *eb)
{
    if (!test_backend_is_pg())
        return cjx_store_sqlite_open(sqlite_path, o, out, eb);
    struct cjx_store_pg_options po = {.dsn = dsn()};
    if (o != NULL) {
        po.max_batch = o->max_batch;
        po.audit_key_pem = o->audit_key_pem;
        po.audit_cert_pem = o->audit_cert_pem;
        po.audit_checkpoint_entries = o->audit_checkpoint_entries;
        po.audit_checkpoint_seconds = o->audit_checkpoint_seconds;
    }
    return cjx_store_pg_open(&po, out, eb);
}
