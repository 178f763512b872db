/* The SQLite store's schema as ordered migrations, tracked by user_version. */
#include <stdio.h>

#include "sqlite_store.h"

/* migrations[i] takes a database from user_version i to i + 1. Append only:
 * a released migration is never edited, a change is a new entry.
 *
 * records holds one row per key with its current version; every version's
 * bytes stay in record_versions so that a change-feed reader sees exactly
 * the version its change wrote. changes is the feed: AUTOINCREMENT keeps seq
 * monotonic even if rows were ever deleted. The secondary indexes on records
 * end (implicitly) in the row id, which is the listing order.
 *
 * Migration 2 adds the audit log. Its seq is numbered by the writer, not by
 * AUTOINCREMENT: each entry's bytes name their own seq and the hash of the
 * entry before, so the chain, not SQLite, shows that none is missing. A
 * checkpoint is stored under the seq of the entry it signs.
 *
 * Migration 3 adds the cases of the relief exchange. cases holds one row per
 * key with its indexed columns (county, state, the deadline of the step it
 * waits for); every version's packed cjx.v1.Case stays in case_changes,
 * whose seq (numbered by the writer, so that a case's bytes can carry it) is
 * the case feed. case_inbox answers a repeated message id with the first
 * reply, which is the case version it names (seq) and whether the message
 * changed nothing: the reply's bytes follow from those, so they are not
 * stored twice. A step's hand-off is stored once in outbox_messages and
 * addressed to each peer by a row of outbox, kept until acknowledged; the
 * partial index lists only what is still to deliver, so delivered rows cost
 * the delivery worker nothing. */
static const char *const migrations[] = {
    "CREATE TABLE records ("
    " id INTEGER PRIMARY KEY,"
    " cii TEXT NOT NULL,"
    " court_case_number TEXT NOT NULL,"
    " count_number INTEGER NOT NULL,"
    " county TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " current_version_id INTEGER REFERENCES record_versions(id),"
    " UNIQUE (cii, court_case_number, count_number));"
    "CREATE INDEX records_by_cii ON records(cii);"
    "CREATE INDEX records_by_county ON records(county);"
    "CREATE INDEX records_by_case ON records(court_case_number);"
    "CREATE TABLE record_versions ("
    " id INTEGER PRIMARY KEY,"
    " record_id INTEGER NOT NULL REFERENCES records(id),"
    " version INTEGER NOT NULL,"
    " county TEXT NOT NULL,"
    " submitted_by TEXT NOT NULL,"
    " stored_at_us INTEGER NOT NULL,"
    " flags TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " UNIQUE (record_id, version));"
    "CREATE TABLE changes ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " version_id INTEGER NOT NULL UNIQUE REFERENCES record_versions(id));"
    "CREATE TABLE idempotency ("
    " sender_ori TEXT NOT NULL,"
    " request_id TEXT NOT NULL,"
    " digest BLOB NOT NULL,"
    " version INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " unchanged INTEGER NOT NULL,"
    " created_at_us INTEGER NOT NULL,"
    " PRIMARY KEY (sender_ori, request_id)) WITHOUT ROWID;",

    "CREATE TABLE audit ("
    " seq INTEGER PRIMARY KEY,"
    " body BLOB NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE TABLE audit_checkpoints ("
    " seq INTEGER PRIMARY KEY,"
    " body BLOB NOT NULL);",

    /* Migration 3: the cases of the relief exchange (store_cases.h). */
    "CREATE TABLE cases ("
    " id INTEGER PRIMARY KEY,"
    " cii TEXT NOT NULL,"
    " court_case_number TEXT NOT NULL,"
    " count_number INTEGER NOT NULL,"
    " county TEXT NOT NULL,"
    " state INTEGER NOT NULL,"
    " due_us INTEGER,"
    " version INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " UNIQUE (cii, court_case_number, count_number));"
    "CREATE INDEX cases_by_county ON cases(county);"
    "CREATE INDEX cases_by_state ON cases(state);"
    "CREATE INDEX cases_by_due ON cases(due_us) WHERE due_us IS NOT NULL;"
    "CREATE TABLE case_changes ("
    " seq INTEGER PRIMARY KEY,"
    " case_id INTEGER NOT NULL REFERENCES cases(id),"
    " version INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " event INTEGER NOT NULL,"
    " sender_ori TEXT NOT NULL,"
    " stored_at_us INTEGER NOT NULL,"
    " body BLOB NOT NULL);"
    "CREATE TABLE case_notices ("
    " case_id INTEGER PRIMARY KEY REFERENCES cases(id),"
    " body BLOB NOT NULL);"
    "CREATE TABLE case_inbox ("
    " sender_ori TEXT NOT NULL,"
    " message_id TEXT NOT NULL,"
    " digest BLOB NOT NULL,"
    " seq INTEGER NOT NULL,"
    " unchanged INTEGER NOT NULL,"
    " created_at_us INTEGER NOT NULL,"
    " PRIMARY KEY (sender_ori, message_id)) WITHOUT ROWID;"
    "CREATE TABLE outbox_messages ("
    " id INTEGER PRIMARY KEY,"
    " message_id TEXT NOT NULL,"
    " method TEXT NOT NULL,"
    " cii TEXT NOT NULL,"
    " court_case_number TEXT NOT NULL,"
    " count_number INTEGER NOT NULL,"
    " payload BLOB NOT NULL,"
    " created_us INTEGER NOT NULL);"
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY,"
    " message INTEGER NOT NULL REFERENCES outbox_messages(id),"
    " destination TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_us INTEGER NOT NULL,"
    " last_error TEXT NOT NULL DEFAULT '',"
    " delivered_us INTEGER,"
    " parked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_pending ON outbox(destination, next_attempt_us)"
    " WHERE delivered_us IS NULL AND parked = 0;"
    "CREATE INDEX outbox_parked ON outbox(destination) WHERE parked = 1;",

    /* Migration 4: records.current_version_id references nothing, as in
     * PostgreSQL's schema. A new record's row then names its first version
     * before that is written, and is written once instead of inserted and
     * updated (record_writes.c); the version still references its record,
     * and the change its version. SQLite changes a constraint by rebuilding
     * the table, which foreign keys, still off while migrations run
     * (store_sqlite.c), let it drop. */
    "CREATE TABLE records_4 ("
    " id INTEGER PRIMARY KEY,"
    " cii TEXT NOT NULL,"
    " court_case_number TEXT NOT NULL,"
    " count_number INTEGER NOT NULL,"
    " county TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " current_version_id INTEGER,"
    " UNIQUE (cii, court_case_number, count_number));"
    "INSERT INTO records_4 (id, cii, court_case_number, count_number,"
    " county, version, seq, current_version_id)"
    " SELECT id, cii, court_case_number, count_number, county, version,"
    " seq, current_version_id FROM records;"
    "DROP TABLE records;"
    "ALTER TABLE records_4 RENAME TO records;"
    "CREATE INDEX records_by_cii ON records(cii);"
    "CREATE INDEX records_by_county ON records(county);"
    "CREATE INDEX records_by_case ON records(court_case_number);",
};

const int cjx_store_schema_version =
    (int)(sizeof(migrations) / sizeof(migrations[0]));

static int
read_user_version(sqlite3 *db, int *version, struct cjx_errbuf *eb)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return cjx_errf(eb, CJX_ESTORE, "reading schema version: %s",
                        sqlite3_errmsg(db));
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return cjx_errf(eb, CJX_ESTORE, "reading schema version: %s",
                        sqlite3_errmsg(db));
    return 0;
}

static int
exec(sqlite3 *db, const char *sql, const char *what, struct cjx_errbuf *eb)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    cjx_errf(eb, CJX_ESTORE, "%s: %s", what,
             msg != NULL ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return CJX_ESTORE;
}

static int
refuse_newer(int found, struct cjx_errbuf *eb)
{
    return cjx_errf(eb, CJX_ESTORE,
                    "database schema version %d is newer than this program "
                    "supports (%d); upgrade cjx",
                    found, cjx_store_schema_version);
}

/* Runs the migrations the database still needs, all in one transaction
 * (one commit, one fsync, however many steps). The version is read inside
 * the write transaction, so two processes opening the same file cannot
 * both apply a step; a step that fails leaves the database at the version
 * it had. */
static int
migrate_pending(sqlite3 *db, struct cjx_errbuf *eb)
{
    int err = exec(db, "BEGIN IMMEDIATE", "starting migration", eb);
    if (err != 0)
        return err;
    int v = 0;
    err = read_user_version(db, &v, eb);
    if (err == 0 && v > cjx_store_schema_version)
        err = refuse_newer(v, eb);
    for (; err == 0 && v < cjx_store_schema_version; v++) {
        char what[64], set[64];
        snprintf(what, sizeof(what), "migrating schema to version %d", v + 1);
        snprintf(set, sizeof(set), "PRAGMA user_version = %d", v + 1);
        err = exec(db, migrations[v], what, eb);
        if (err == 0)
            err = exec(db, set, what, eb);
    }
    if (err == 0)
        err = exec(db, "COMMIT", "committing migration", eb);
    if (err != 0) {
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return err;
    }
    return 0;
}

int
cjx_store_schema_migrate(sqlite3 *db, struct cjx_errbuf *eb)
{
    int v = 0;
    int err = read_user_version(db, &v, eb);
    if (err != 0)
        return err;
    if (v > cjx_store_schema_version)
        return refuse_newer(v, eb);
    return migrate_pending(db, eb);
}
