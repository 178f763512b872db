/* Unit tests for the store's records, against either backend
 * (store_backend.h): versions, idempotency, lookups, refused writes, and
 * what survives a close and reopen. The tests that reach into SQLite
 * itself (its file, its schema version) run with SQLite only. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "cjx/audit.h"
#include "cjx/clock.h"
#include "cjx/error.h"
#include "cjx/store.h"
#include "cjx/tls.h"
#include "cjx/v1/audit.pb-c.h"
#include "store_backend.h"
#include "store_fixture.h"

/* ---- versions and idempotency ---- */

static void
test_store__new_record__gets_version_1_and_seq_1(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1234567", "CASE-1", 1, "Alameda",
            "body-1");
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.seq, 1);
    assert_false(r.unchanged);
    assert_false(r.replayed);
    assert_int_equal(cjx_store_last_seq(f->s), 1);
}

static void
test_store__get_record__returns_every_field(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1234567", "CASE-1", 3, "Alameda",
            "body-1");
    t.w.flags = "old_offense,minor";
    assert_int_equal(submit_wait(f->s, &t).err, 0);

    struct cjx_stored_record rec;
    assert_int_equal(
        cjx_store_get_record(f->s, "A1234567", "CASE-1", 3, &rec, NULL), 0);
    assert_string_equal(rec.cii, "A1234567");
    assert_string_equal(rec.court_case_number, "CASE-1");
    assert_int_equal(rec.count_number, 3);
    assert_string_equal(rec.county, "Alameda");
    assert_int_equal(rec.version, 1);
    assert_int_equal(rec.seq, 1);
    assert_string_equal(rec.submitted_by, "CA0190000");
    assert_string_equal(rec.flags, "old_offense,minor");
    assert_true(rec.stored_at_us > 0);
    assert_int_equal(rec.record_len, 6);
    assert_memory_equal(rec.record, "body-1", 6);
    assert_non_null(rec.owned_);
    cjx_stored_record_fini(f->s, &rec);
    assert_null(rec.owned_);
    assert_null(rec.record);
    cjx_stored_record_fini(f->s, NULL);

    /* No flags are stored as "". */
    tw_init(&t, "CA0190000", "r2", "B1", "CASE-2", 1, "Alameda", "x");
    assert_int_equal(submit_wait(f->s, &t).err, 0);
    assert_int_equal(cjx_store_get_record(f->s, "B1", "CASE-2", 1, &rec, NULL),
                     0);
    assert_string_equal(rec.flags, "");
    cjx_stored_record_fini(f->s, &rec);
}

static void
test_store__changed_resubmission__bumps_version_and_seq(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    tw_init(&t, "CA0190000", "r2", "B2", "CASE-2", 1, "Alameda", "other");
    assert_int_equal(submit_wait(f->s, &t).seq, 2);

    tw_init(&t, "CA0190000", "r3", "A1", "CASE-1", 1, "Alameda", "body-2");
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.version, 2);
    assert_int_equal(r.seq, 3);
    assert_false(r.unchanged);
    assert_false(r.replayed);
    assert_stored_body(f->s, "A1", "CASE-1", 1, "body-2", 2);
    assert_int_equal(count_rows(f->path, "record_versions"), 3);
    assert_int_equal(count_rows(f->path, "records"), 2);
}

static void
test_store__identical_resubmission__is_unchanged_without_a_change(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    struct table_counts before = snapshot(f);

    /* A new request id carrying the same bytes. */
    tw_init(&t, "CA0190000", "r2", "A1", "CASE-1", 1, "Alameda", "body-1");
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.seq, 0);
    assert_true(r.unchanged);
    assert_false(r.replayed);
    struct table_counts after = snapshot(f);
    assert_int_equal(after.versions, before.versions);
    assert_int_equal(after.changes, before.changes);
    assert_int_equal(after.last_seq, before.last_seq);
    assert_int_equal(after.requests, before.requests + 1);
}

static void
test_store__repeated_request_id__returns_first_answer(void **state)
{
    struct fixture *f = *state;
    struct test_write t1, t2;
    tw_init(&t1, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    struct cjx_record_write_result first = submit_wait(f->s, &t1);
    assert_int_equal(first.seq, 1);
    tw_init(&t2, "CA0190000", "r2", "A1", "CASE-1", 1, "Alameda", "body-2");
    assert_int_equal(submit_wait(f->s, &t2).version, 2);
    struct table_counts before = snapshot(f);

    struct cjx_record_write_result r = submit_wait(f->s, &t1);
    assert_int_equal(r.err, 0);
    assert_true(r.replayed);
    assert_int_equal(r.version, first.version);
    assert_int_equal(r.seq, first.seq);
    assert_int_equal(r.unchanged, first.unchanged);
    assert_same_counts(before, snapshot(f));
    /* The replay did not put the old bytes back. */
    assert_stored_body(f->s, "A1", "CASE-1", 1, "body-2", 2);

    /* An unchanged answer replays as unchanged. */
    struct test_write t3;
    tw_init(&t3, "CA0190000", "r3", "A1", "CASE-1", 1, "Alameda", "body-2");
    assert_true(submit_wait(f->s, &t3).unchanged);
    r = submit_wait(f->s, &t3);
    assert_true(r.replayed);
    assert_true(r.unchanged);
    assert_int_equal(r.seq, 0);
    assert_int_equal(r.version, 2);
}

static void
test_store__same_request_id_different_digest__conflicts(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).err, 0);
    struct table_counts before = snapshot(f);

    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-2");
    struct result_box b;
    box_init(&b);
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, box_done, &b), 0);
    box_wait(&b);
    assert_int_equal(b.r.err, CJX_ECONFLICT);
    assert_non_null(b.r.detail);
    assert_false(b.r.replayed);
    box_fini(&b);
    assert_same_counts(before, snapshot(f));
    assert_stored_body(f->s, "A1", "CASE-1", 1, "body-1", 1);
}

static void
test_store__different_senders__may_reuse_a_request_id(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "same", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    tw_init(&t, "CA0380000", "same", "B1", "CASE-9", 1, "San Francisco",
            "other");
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_false(r.replayed);
    assert_int_equal(r.seq, 2);
    assert_int_equal(count_rows(f->path, "idempotency"), 2);
}
static void
test_store__same_request_id_twice_in_one_batch__behaves_sequentially(
    void **state)
{
    struct fixture *f = *state;
    struct hook_log hook = {0};
    cjx_store_set_commit_hook(f->s, hook_record, &hook);
    struct gate g;
    hold_writer(f->s, &g, "batch");
    assert_int_equal(atomic_load(&hook.calls), 1);

    /* Four writes queued while the writer is held: one batch. */
    struct test_write t[4];
    tw_init(&t[0], "CA0190000", "dup", "A1", "CASE-1", 1, "Alameda", "b-1");
    tw_init(&t[1], "CA0190000", "dup", "A1", "CASE-1", 1, "Alameda", "b-1");
    tw_init(&t[2], "CA0190000", "dup", "A1", "CASE-1", 1, "Alameda", "b-2");
    tw_init(&t[3], "CA0190000", "next", "C3", "CASE-3", 1, "Alameda", "b-3");
    struct result_box b[4];
    submit_batch(f->s, &g, t, b, 4);

    assert_int_equal(b[0].r.err, 0);
    assert_false(b[0].r.replayed);
    assert_int_equal(b[0].r.seq, 2);
    assert_int_equal(b[1].r.err, 0);
    assert_true(b[1].r.replayed);
    assert_int_equal(b[1].r.seq, 2);
    assert_int_equal(b[1].r.version, 1);
    assert_int_equal(b[2].r.err, CJX_ECONFLICT);
    assert_int_equal(b[3].r.seq, 3);
    /* One commit for the four writes. */
    assert_int_equal(atomic_load(&hook.calls), 2);
    assert_int_equal(atomic_load(&hook.last), 3);
    assert_stored_body(f->s, "A1", "CASE-1", 1, "b-1", 1);
    for (int i = 0; i < 4; i++)
        box_fini(&b[i]);
}

static void
test_store__missing_key__is_not_found(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).err, 0);

    struct cjx_stored_record rec;
    memset(&rec, 0x5a, sizeof(rec));
    struct cjx_errbuf eb;
    assert_int_equal(cjx_store_get_record(f->s, "A1", "CASE-1", 2, &rec, &eb),
                     CJX_ENOTFOUND);
    assert_non_null(strstr(eb.msg, "A1"));
    assert_int_equal(cjx_store_get_record(f->s, "Z9", "CASE-1", 1, &rec, NULL),
                     CJX_ENOTFOUND);
    /* A failed get leaves the output alone. */
    assert_int_equal(rec.count_number, 0x5a5a5a5a);
    assert_int_equal(cjx_store_get_record(f->s, NULL, "CASE-1", 1, &rec, NULL),
                     CJX_EINVAL);
}

/* ---- lifecycle ---- */

static void
test_store__close_and_reopen__keeps_data(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    tw_init(&t, "CA0190000", "r2", "A1", "CASE-1", 1, "Alameda", "body-2");
    assert_int_equal(submit_wait(f->s, &t).seq, 2);
    reopen(f);
    assert_int_equal(cjx_store_last_seq(f->s), 2);
    assert_stored_body(f->s, "A1", "CASE-1", 1, "body-2", 2);
    /* The idempotency table survived too. */
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_true(r.replayed);
    assert_int_equal(r.seq, 2);
    /* And the feed continues where it was. */
    tw_init(&t, "CA0190000", "r3", "B1", "CASE-1", 1, "Alameda", "b");
    assert_int_equal(submit_wait(f->s, &t).seq, 3);
}

static void
test_store__schema_version__is_set_and_newer_is_refused(void **state)
{
    struct fixture *f = *state;
    cjx_store_close(f->s);
    f->s = NULL;

    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    assert_true(version >= 1);
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    struct cjx_store *s = (struct cjx_store *)&s;
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(cjx_store_sqlite_open(f->path, NULL, &s, &eb), CJX_ESTORE);
    assert_ptr_equal(s, (struct cjx_store *)&s);
    assert_non_null(strstr(eb.msg, "newer"));
    assert_non_null(strstr(eb.msg, f->path));

    /* Put back, it opens again. */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
    exec_sql(f->path, sql);
    reopen(f);
}

/* The one row of sql's answer on the SQLite database at path, as text. */
static void
query_text(const char *path, const char *sql, char *out, size_t len)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int rc = sqlite3_step(st);
    const char *v = (const char *)sqlite3_column_text(st, 0);
    snprintf(out, len, "%s", rc == SQLITE_ROW && v != NULL ? v : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* A database of schema version 3, whose records.current_version_id
 * referenced record_versions, is upgraded when opened (migration 4): its
 * records keep their ids, versions and bodies, the reference is gone, the
 * others stay, and the feed goes on where it was, for a new version and for
 * a new record, whose row names its version before that is written. */
static void
test_store__records_of_schema_3__survive_the_upgrade(void **state)
{
    struct fixture *f = *state;
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body-1");
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    tw_init(&t, "CA0190000", "r2", "B1", "CASE-2", 1, "Alameda", "other");
    assert_int_equal(submit_wait(f->s, &t).seq, 2);
    cjx_store_close(f->s);
    f->s = NULL;
    /* records as migrations 1 to 3 left it: the table of today with the
     * reference from current_version_id, and the schema version before
     * migration 4. */
    char sql[1024], rebuild[2048];
    query_text(f->path,
               "SELECT replace(replace(sql, '\"records\"', 'records_3'),"
               " 'current_version_id INTEGER,',"
               " 'current_version_id INTEGER REFERENCES record_versions(id),')"
               " FROM sqlite_schema WHERE name = 'records'",
               sql, sizeof(sql));
    assert_non_null(strstr(sql, "records_3"));
    snprintf(rebuild, sizeof(rebuild),
             "BEGIN IMMEDIATE; %s;"
             "INSERT INTO records_3 SELECT * FROM records;"
             "DROP TABLE records;"
             "ALTER TABLE records_3 RENAME TO records;"
             "CREATE INDEX records_by_cii ON records(cii);"
             "CREATE INDEX records_by_county ON records(county);"
             "CREATE INDEX records_by_case ON records(court_case_number);"
             "PRAGMA user_version = 3;"
             "COMMIT;",
             sql);
    exec_sql(f->path, rebuild);
    query_text(f->path, "SELECT sql FROM sqlite_schema WHERE name = 'records'",
               sql, sizeof(sql));
    assert_non_null(strstr(sql, "REFERENCES record_versions"));

    reopen(f);
    query_text(f->path, "SELECT sql FROM sqlite_schema WHERE name = 'records'",
               sql, sizeof(sql));
    assert_null(strstr(sql, "REFERENCES"));
    query_text(f->path,
               "SELECT group_concat(name, ',') FROM (SELECT name FROM"
               " sqlite_schema WHERE tbl_name = 'records' AND type = 'index'"
               " ORDER BY name)",
               sql, sizeof(sql));
    assert_string_equal(sql, "records_by_case,records_by_cii,records_by_county,"
                             "sqlite_autoindex_records_1");
    query_text(f->path,
               "SELECT count(*) FROM pragma_foreign_key_list('record_versions')"
               " WHERE \"table\" = 'records'",
               sql, sizeof(sql));
    assert_string_equal(sql, "1");
    query_text(f->path, "SELECT count(*) FROM pragma_foreign_key_check", sql,
               sizeof(sql));
    assert_string_equal(sql, "0");
    assert_stored_body(f->s, "A1", "CASE-1", 1, "body-1", 1);
    assert_stored_body(f->s, "B1", "CASE-2", 1, "other", 1);
    assert_int_equal(cjx_store_last_seq(f->s), 2);

    tw_init(&t, "CA0190000", "r3", "A1", "CASE-1", 1, "Alameda", "body-2");
    struct cjx_record_write_result r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.seq, 3);
    assert_int_equal(r.version, 2);
    tw_init(&t, "CA0190000", "r4", "C1", "CASE-3", 1, "Alameda", "third");
    r = submit_wait(f->s, &t);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.seq, 4);
    assert_int_equal(r.version, 1);
    assert_stored_body(f->s, "A1", "CASE-1", 1, "body-2", 2);
    assert_stored_body(f->s, "C1", "CASE-3", 1, "third", 1);
    assert_int_equal(count_rows(f->path, "records"), 3);
}

static void
test_store__bad_open_arguments__are_refused(void **state)
{
    struct fixture *f = *state;
    struct cjx_store *s = NULL;
    struct cjx_errbuf eb;
    assert_int_equal(cjx_store_sqlite_open(NULL, NULL, &s, &eb), CJX_EINVAL);
    assert_int_equal(cjx_store_sqlite_open("", NULL, &s, NULL), CJX_EINVAL);
    struct cjx_store_sqlite_options bad = {.max_batch = -1};
    assert_int_equal(cjx_store_sqlite_open(f->path, &bad, &s, &eb), CJX_EINVAL);

    char path[400];
    snprintf(path, sizeof(path), "%s/no/such/dir/cjx.db", f->dir);
    assert_int_equal(cjx_store_sqlite_open(path, NULL, &s, &eb), CJX_EIO);
    assert_non_null(strstr(eb.msg, path));
    assert_null(s);
}

static void
test_store__file_that_is_not_a_database__is_refused(void **state)
{
    struct fixture *f = *state;
    char path[400];
    snprintf(path, sizeof(path), "%s/junk.db", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database at all. ", fp);
    fclose(fp);
    struct cjx_store *s = NULL;
    struct cjx_errbuf eb;
    assert_int_equal(cjx_store_sqlite_open(path, NULL, &s, &eb), CJX_ESTORE);
    assert_null(s);
    assert_non_null(strstr(eb.msg, "not a database"));
}

static void
test_store__invalid_write__is_refused_without_callback(void **state)
{
    struct fixture *f = *state;
    struct result_box b;
    box_init(&b);
    struct test_write t;
    tw_init(&t, "CA0190000", "r1", "A1", "CASE-1", 1, "Alameda", "body");
    t.w.request_id = "";
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, box_done, &b),
                     CJX_EINVAL);
    t.w.request_id = "r1";
    t.w.sender_ori = NULL;
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, box_done, &b),
                     CJX_EINVAL);
    t.w.sender_ori = "CA0190000";
    t.w.cii = "";
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, box_done, &b),
                     CJX_EINVAL);
    t.w.cii = "A1";
    t.w.record = NULL;
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, box_done, &b),
                     CJX_EINVAL);
    t.w.record = t.body;
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, NULL, NULL),
                     CJX_EINVAL);
    assert_int_equal(cjx_store_submit_record(f->s, NULL, box_done, &b),
                     CJX_EINVAL);
    /* Let any stray completion arrive before looking. */
    assert_int_equal(submit_wait(f->s, &t).seq, 1);
    assert_int_equal(b.calls, 0);
    box_fini(&b);

    /* An empty record is a record. */
    tw_init(&t, "CA0190000", "r2", "E1", "CASE-1", 1, "Alameda", "");
    t.w.record = NULL;
    assert_int_equal(submit_wait(f->s, &t).seq, 2);
    assert_stored_body(f->s, "E1", "CASE-1", 1, "", 1);
}

struct closing {
    struct cjx_store *s;
    struct gate g;
    atomic_int completions;
    int resubmit_rc;
};

static void
closing_gate_done(void *arg, const struct cjx_record_write_result *r)
{
    struct closing *c = arg;
    gate_done(&c->g, r);
    /* A completion that submits again while the store closes. */
    struct test_write t;
    tw_init(&t, "CA0190000", "again", "Z1", "CASE", 1, "Alameda", "z");
    c->resubmit_rc = cjx_store_submit_record(c->s, &t.w, gate_done, &c->g);
}

static void
closing_count_done(void *arg, const struct cjx_record_write_result *r)
{
    struct closing *c = arg;
    if (r->err == 0)
        atomic_fetch_add(&c->completions, 1);
}

static void *
close_thread(void *arg)
{
    cjx_store_close(arg);
    return NULL;
}

static void
test_store__submit_during_close__is_refused_and_queued_writes_finish(
    void **state)
{
    struct fixture *f = *state;
    struct closing *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->s = f->s;
    gate_init(&c->g);
    struct test_write t;
    tw_init(&t, "CA0190000", "first", "A1", "CASE", 1, "Alameda", "a");
    assert_int_equal(cjx_store_submit_record(f->s, &t.w, closing_gate_done, c),
                     0);
    gate_wait_entered(&c->g);

    pthread_t closer;
    assert_int_equal(pthread_create(&closer, NULL, close_thread, f->s), 0);
    f->s = NULL;
    /* Writes queued before close starts must all complete; once it has
     * started, submit refuses. */
    int queued = 0, rc;
    for (;;) {
        char rid[32];
        snprintf(rid, sizeof(rid), "q%d", queued);
        tw_init(&t, "CA0190000", rid, rid, "CASE", 1, "Alameda", rid);
        rc = cjx_store_submit_record(c->s, &t.w, closing_count_done, c);
        if (rc != 0)
            break;
        queued++;
    }
    assert_int_equal(rc, CJX_ECLOSED);
    gate_open(&c->g);
    pthread_join(closer, NULL);
    assert_int_equal(c->resubmit_rc, CJX_ECLOSED);
    assert_int_equal(atomic_load(&c->completions), queued);

    reopen(f);
    assert_int_equal(cjx_store_last_seq(f->s), 1 + queued);
    free(c);
}

int
main(void)
{
    /* Both backends. */
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_store__new_record__gets_version_1_and_seq_1),
        STORE_TEST(test_store__get_record__returns_every_field),
        STORE_TEST(test_store__changed_resubmission__bumps_version_and_seq),
        STORE_TEST(
            test_store__identical_resubmission__is_unchanged_without_a_change),
        STORE_TEST(test_store__repeated_request_id__returns_first_answer),
        STORE_TEST(test_store__same_request_id_different_digest__conflicts),
        STORE_TEST(test_store__different_senders__may_reuse_a_request_id),
        STORE_TEST(test_store__missing_key__is_not_found),
        STORE_TEST(test_store__close_and_reopen__keeps_data),
        STORE_TEST(test_store__invalid_write__is_refused_without_callback),
        STORE_TEST(
            test_store__submit_during_close__is_refused_and_queued_writes_finish),
    };
    /* SQLite's own. */
    const struct CMUnitTest sqlite_tests[] = {
        STORE_TEST(
            test_store__same_request_id_twice_in_one_batch__behaves_sequentially),
        STORE_TEST(test_store__schema_version__is_set_and_newer_is_refused),
        STORE_TEST(test_store__records_of_schema_3__survive_the_upgrade),
        STORE_TEST(test_store__bad_open_arguments__are_refused),
        STORE_TEST(test_store__file_that_is_not_a_database__is_refused),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (!test_backend_is_pg())
        failed += cmocka_run_group_tests(sqlite_tests, NULL, NULL);
    return failed;
}
