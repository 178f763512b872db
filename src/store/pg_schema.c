/* The PostgreSQL store's schema as ordered migrations, tracked in
 * cjx_schema (the counterpart of SQLite's user_version). */
#include <stdio.h>
#include <string.h>

#include "pg_store.h"

/* migrations[i] takes a database from version i to i + 1. Append only.
 *
 * The tables are those of the SQLite schema (schema.c), with two
 * differences that several replicas need: the feeds' seq columns are
 * plain numbers given inside the writers' advisory lock (never a
 * sequence, whose values commit out of order), and an outbox row carries
 * its lease (which replica holds it, until when). */
static const char *const migrations[] = {
    "CREATE TABLE records ("
    " id bigserial PRIMARY KEY,"
    " cii text NOT NULL,"
    " court_case_number text NOT NULL,"
    " count_number integer NOT NULL,"
    " county text NOT NULL,"
    " version bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " current_version_id bigint,"
    " UNIQUE (cii, court_case_number, count_number));"
    "CREATE INDEX records_by_cii ON records(cii, id);"
    "CREATE INDEX records_by_county ON records(county, id);"
    "CREATE INDEX records_by_case ON records(court_case_number, id);"
    "CREATE TABLE record_versions ("
    " id bigserial PRIMARY KEY,"
    " record_id bigint NOT NULL REFERENCES records(id),"
    " version bigint NOT NULL,"
    " county text NOT NULL,"
    " submitted_by text NOT NULL,"
    " stored_at_us bigint NOT NULL,"
    " flags text NOT NULL,"
    " body bytea NOT NULL,"
    " UNIQUE (record_id, version));"
    "CREATE TABLE changes ("
    " seq bigint PRIMARY KEY,"
    " version_id bigint NOT NULL UNIQUE REFERENCES record_versions(id));"
    "CREATE TABLE idempotency ("
    " sender_ori text NOT NULL,"
    " request_id text NOT NULL,"
    " digest bytea NOT NULL,"
    " version bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " unchanged integer NOT NULL,"
    " created_at_us bigint NOT NULL,"
    " PRIMARY KEY (sender_ori, request_id));"
    "CREATE TABLE audit ("
    " seq bigint PRIMARY KEY,"
    " body bytea NOT NULL,"
    " hash bytea NOT NULL);"
    "CREATE TABLE audit_checkpoints ("
    " seq bigint PRIMARY KEY,"
    " body bytea NOT NULL);"
    "CREATE TABLE cases ("
    " id bigserial PRIMARY KEY,"
    " cii text NOT NULL,"
    " court_case_number text NOT NULL,"
    " count_number integer NOT NULL,"
    " county text NOT NULL,"
    " state integer NOT NULL,"
    " due_us bigint,"
    " version bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " UNIQUE (cii, court_case_number, count_number));"
    "CREATE INDEX cases_by_county ON cases(county);"
    "CREATE INDEX cases_by_state ON cases(state);"
    "CREATE INDEX cases_by_due ON cases(due_us) WHERE due_us IS NOT NULL;"
    "CREATE TABLE case_changes ("
    " seq bigint PRIMARY KEY,"
    " case_id bigint NOT NULL REFERENCES cases(id),"
    " version bigint NOT NULL,"
    " state integer NOT NULL,"
    " event integer NOT NULL,"
    " sender_ori text NOT NULL,"
    " stored_at_us bigint NOT NULL,"
    " body bytea NOT NULL);"
    "CREATE TABLE case_notices ("
    " case_id bigint PRIMARY KEY REFERENCES cases(id),"
    " body bytea NOT NULL);"
    "CREATE TABLE case_inbox ("
    " sender_ori text NOT NULL,"
    " message_id text NOT NULL,"
    " digest bytea NOT NULL,"
    " seq bigint NOT NULL,"
    " unchanged integer NOT NULL,"
    " created_at_us bigint NOT NULL,"
    " PRIMARY KEY (sender_ori, message_id));"
    "CREATE TABLE outbox_messages ("
    " id bigserial PRIMARY KEY,"
    " message_id text NOT NULL,"
    " method text NOT NULL,"
    " cii text NOT NULL,"
    " court_case_number text NOT NULL,"
    " count_number integer NOT NULL,"
    " payload bytea NOT NULL,"
    " created_us bigint NOT NULL);"
    "CREATE TABLE outbox ("
    " id bigserial PRIMARY KEY,"
    " message bigint NOT NULL REFERENCES outbox_messages(id),"
    " destination text NOT NULL,"
    " attempts integer NOT NULL DEFAULT 0,"
    " next_attempt_us bigint NOT NULL,"
    " last_error text NOT NULL DEFAULT '',"
    " delivered_us bigint,"
    " parked integer NOT NULL DEFAULT 0,"
    " leased_until_us bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_pending ON outbox(destination, next_attempt_us)"
    " WHERE delivered_us IS NULL AND parked = 0;"
    "CREATE INDEX outbox_parked ON outbox(destination) WHERE parked = 1;",
};

const int cjx_store_pg_schema_version =
    (int)(sizeof(migrations) / sizeof(migrations[0]));

/* Replicas starting together take turns here: the lock is the
 * transaction's, the version is read under it. */
#define MIGRATION_LOCK "SELECT pg_advisory_xact_lock(7236001)"

static int
migrate_in_transaction(PGconn *c, int *from, char *msg, size_t len)
{
    int err = pg_command(c, MIGRATION_LOCK, NULL, "locking", msg, len);
    if (err == 0)
        err = pg_command(c,
                         "CREATE TABLE IF NOT EXISTS cjx_schema"
                         " (version integer NOT NULL)",
                         NULL, "creating cjx_schema", msg, len);
    PGresult *r = NULL;
    if (err == 0)
        r = pg_exec(c, "SELECT coalesce(max(version), 0) FROM cjx_schema", NULL,
                    "reading schema version", msg, len);
    if (r == NULL)
        return CJX_ESTORE;
    int v = (int)pg_col_int(r, 0, 0);
    PQclear(r);
    *from = v;
    if (v > cjx_store_pg_schema_version) {
        snprintf(msg, len,
                 "database schema version %d is newer than this program "
                 "supports (%d); upgrade cjx",
                 v, cjx_store_pg_schema_version);
        return CJX_ESTORE;
    }
    for (; v < cjx_store_pg_schema_version; v++) {
        char what[64];
        snprintf(what, sizeof(what), "migrating schema to version %d", v + 1);
        /* Several statements: the simple protocol runs them in order. */
        PGresult *m = PQexec(c, migrations[v]);
        if (PQresultStatus(m) != PGRES_COMMAND_OK) {
            const char *why = PQresultErrorMessage(m);
            snprintf(msg, len, "%s: %.*s", what, (int)strcspn(why, "\n"), why);
            PQclear(m);
            return CJX_ESTORE;
        }
        PQclear(m);
    }
    struct pg_params p = {0};
    pg_int(&p, v);
    err = pg_command(c, "DELETE FROM cjx_schema", NULL, "schema", msg, len);
    if (err == 0)
        err = pg_command(c, "INSERT INTO cjx_schema VALUES ($1)", &p,
                         "recording schema version", msg, len);
    return err;
}

int
cjx_store_pg_migrate(PGconn *c, struct cjx_errbuf *eb)
{
    char msg[256];
    int from = 0;
    int err =
        pg_command(c, "BEGIN", NULL, "starting migration", msg, sizeof(msg));
    if (err == 0)
        err = migrate_in_transaction(c, &from, msg, sizeof(msg));
    if (err == 0)
        err = pg_command(c, "COMMIT", NULL, "committing migration", msg,
                         sizeof(msg));
    if (err != 0) {
        PQclear(PQexec(c, "ROLLBACK"));
        return cjx_errf(eb, CJX_ESTORE, "%s", msg);
    }
    return 0;
}
