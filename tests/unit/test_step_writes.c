/* The SQL each durable step of the exchange costs: statements executed and
 * rows written, table by table, counted on the real SQLite store while the
 * real service takes the step (tests/support/case_fixture.c). Write
 * amplification is the bulk of a step's CPU (docs/performance.md), so a
 * change that adds a statement or a row to a step fails here, where a
 * stopwatch would only drift.
 *
 * The count needs nothing from the store: SQLite's auto-extension hook
 * runs on every connection the store opens in this process, and installs
 * a trace on it (sqlite3_trace_v2) that sees each statement as it
 * finishes. Rows are sqlite3_changes() of each INSERT, UPDATE or DELETE;
 * the indexes each row also writes are named in the comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>

#include "cjx/store.h"
#include "cjx/store_cases.h"
#include "cjx/v1/record_service.methods.h"
#include "case_fixture.h"
#include "mem_call.h"

/* ---- counting ---------------------------------------------------------- */

#define MAX_TABLES 16

struct tally {
    int statements; /* every statement run to its end, reads included */
    int writes;     /* INSERT, UPDATE and DELETE statements among them */
    int commits;
    struct {
        char name[64];
        int rows;
    } tables[MAX_TABLES];
    int n_tables;
};

static pthread_mutex_t tally_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tally tally;
static int counting;

/* The table an INSERT, UPDATE or DELETE writes, or NULL for another
 * statement. */
static const char *
written_table(const char *sql, char *buf, size_t len)
{
    static const char *const verbs[] = {
        "INSERT OR IGNORE INTO ", "INSERT OR REPLACE INTO ", "INSERT INTO ",
        "UPDATE ", "DELETE FROM "};
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        size_t n = strlen(verbs[i]);
        if (strncmp(sql, verbs[i], n) != 0)
            continue;
        size_t k = strcspn(sql + n, " (");
        snprintf(buf, len, "%.*s", (int)k, sql + n);
        return buf;
    }
    return NULL;
}

static void
add_rows(const char *table, int rows)
{
    for (int i = 0; i < tally.n_tables; i++) {
        if (strcmp(tally.tables[i].name, table) == 0) {
            tally.tables[i].rows += rows;
            return;
        }
    }
    assert_true(tally.n_tables < MAX_TABLES);
    snprintf(tally.tables[tally.n_tables].name, sizeof(tally.tables[0].name),
             "%s", table);
    tally.tables[tally.n_tables++].rows = rows;
}

/* SQLITE_TRACE_PROFILE: a statement has run to its end. */
static int
on_statement(unsigned type, void *ctx, void *p, void *x)
{
    (void)ctx;
    (void)x;
    if (type != SQLITE_TRACE_PROFILE)
        return 0;
    sqlite3_stmt *st = p;
    const char *sql = sqlite3_sql(st);
    char table[64];
    pthread_mutex_lock(&tally_mu);
    if (counting && sql != NULL) {
        tally.statements++;
        if (strncmp(sql, "COMMIT", 6) == 0)
            tally.commits++;
        if (written_table(sql, table, sizeof(table)) != NULL) {
            tally.writes++;
            add_rows(table, sqlite3_changes(sqlite3_db_handle(st)));
        }
    }
    pthread_mutex_unlock(&tally_mu);
    return 0;
}

static int
trace_connection(sqlite3 *db, char **err, const void *api)
{
    (void)err;
    (void)api;
    sqlite3_trace_v2(db, SQLITE_TRACE_PROFILE, on_statement, NULL);
    return SQLITE_OK;
}

static void
count_start(void)
{
    pthread_mutex_lock(&tally_mu);
    memset(&tally, 0, sizeof(tally));
    counting = 1;
    pthread_mutex_unlock(&tally_mu);
}

/* Stops counting; the step's reply has come, so its transaction is
 * durable and every statement of it has run. */
static struct tally
count_stop(void)
{
    pthread_mutex_lock(&tally_mu);
    counting = 0;
    struct tally t = tally;
    pthread_mutex_unlock(&tally_mu);
    return t;
}

static int
rows_in(const struct tally *t, const char *table)
{
    for (int i = 0; i < t->n_tables; i++)
        if (strcmp(t->tables[i].name, table) == 0)
            return t->tables[i].rows;
    return 0;
}

static int
rows_total(const struct tally *t)
{
    int n = 0;
    for (int i = 0; i < t->n_tables; i++)
        n += t->tables[i].rows;
    return n;
}

static void
print_tally(const char *step, const struct tally *t)
{
    fprintf(stderr, "%s: %d statements (%d writes, %d commits), %d rows:", step,
            t->statements, t->writes, t->commits, rows_total(t));
    for (int i = 0; i < t->n_tables; i++)
        fprintf(stderr, " %s %d", t->tables[i].name, t->tables[i].rows);
    fputc('\n', stderr);
}

/* Runs CaseService method i as caller and counts its SQL. */
static struct tally
counted_step(struct fixture *f, const char *what, int i, const char *caller,
             const ProtobufCMessage *req)
{
    count_start();
    struct answer a = run(f, i, caller, req);
    struct tally t = count_stop();
    if (a.code != OK)
        fail_msg("%s: %d %s", what, a.code, a.message);
    answer_free(&a);
    print_tally(what, &t);
    return t;
}

/* DOJ has notified the candidate of A1 (not counted). */
static void
doj_has_notified(struct fixture *f)
{
    struct answer a = local_notice(f, "n1", "A1", "San Francisco",
                                   CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(a.code, OK);
    answer_free(&a);
}

/* ---- the steps ----------------------------------------------------------- */

/* Every write runs in a group-commit transaction, alone here: BEGIN
 * IMMEDIATE and COMMIT. Was 4: a write of a batch of several also takes a
 * SAVEPOINT and RELEASE, so that the writer can undo it without the
 * others; the only write of a transaction needs neither, since rolling
 * back the transaction undoes exactly it (writer.c). */
#define TRANSACTION 2
/* Every case message first reads its inbox entry (a replay is answered
 * from it) and the case (cases.c). */
#define CASE_READS 2
/* A step that may write the record under the key (a notice, an order
 * applied here) also reads that record. Every step read it before, 3
 * reads in all: a decision or a receipt never changes the record, and the
 * apply function now asks for it only when it needs it. */
#define RECORD_READ 1

/* The rows every step that changes a case writes (cases.c, schema.c):
 *  - cases: 1 (INSERT for a new case, else UPDATE; the row's indexes
 *    cases_by_county, cases_by_state and cases_by_due follow it, and its
 *    UNIQUE key on a new case);
 *  - case_changes: 1, the new version's bytes (the case feed);
 *  - case_inbox: 1, the message id and its answer (WITHOUT ROWID: the
 *    primary key is the row);
 *  - audit: 1 entry, the call, committed with the step. */
#define CASE_STEP_ROWS 4

static void
assert_case_step(const struct tally *t)
{
    assert_int_equal(t->commits, 1);
    assert_int_equal(rows_in(t, "cases"), 1);
    assert_int_equal(rows_in(t, "case_changes"), 1);
    assert_int_equal(rows_in(t, "case_inbox"), 1);
    assert_int_equal(rows_in(t, "audit"), 1);
}

/* A step that sends one message to n peers stores its bytes once in
 * outbox_messages and one address each in outbox (each also an entry of
 * the partial index outbox_pending until delivered). */
static void
assert_hand_off(const struct tally *t, int peers)
{
    assert_int_equal(rows_in(t, "outbox_messages"), 1);
    assert_int_equal(rows_in(t, "outbox"), peers);
}

/* A new conviction record at the step's own store: records INSERT (with
 * its UNIQUE key and records_by_cii, _by_county, _by_case), naming the
 * version and the change that follow it, record_versions (the bytes,
 * UNIQUE (record_id, version)) and changes (the record feed): 3 rows. Was
 * 4: the records row was inserted first and updated again to point at the
 * version, whose id it needed; it now names the id SQLite gives next
 * (record_writes.c, schema.c migration 4). A new version of a stored
 * record is the same three rows, the records row updated. */
#define NEW_RECORD_ROWS     3
#define RECORD_VERSION_ROWS 3

static void
test_step_writes__doj_notifies_a_candidate(void **state)
{
    struct fixture *f = *state;
    struct notice_buf b;
    struct tally t =
        counted_step(f, "DOJ notifies", CASE_SERVICE_NOTIFY_CANDIDATE, NULL,
                     &notice(&b, "n1", "A1", "San Francisco",
                             CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL)
                          ->base);
    assert_case_step(&t);
    /* The notice is kept once per case (case_notices), and its record is
     * DOJ's criminal history under the key. */
    assert_int_equal(rows_in(&t, "case_notices"), 1);
    assert_int_equal(rows_in(&t, "records"), 1);
    /* The notice goes to the prosecutor, the court and the public
     * defender. */
    assert_hand_off(&t, 3);
    assert_int_equal(rows_total(&t), CASE_STEP_ROWS + 1 + NEW_RECORD_ROWS + 4);
    assert_int_equal(t.writes, rows_total(&t));
    assert_int_equal(t.statements,
                     TRANSACTION + CASE_READS + RECORD_READ + t.writes);
}

/* The prosecutor's daemon receives DOJ's notice, the person's case opens
 * there, the prosecutor decides, and DOJ's retry of the notice is answered
 * from the inbox. */
static void
test_step_writes__prosecutor_receives_the_notice_and_decides(void **state)
{
    struct fixture *f = *state;
    become(f, SF_DA);
    struct notice_buf b;
    struct tally t = counted_step(
        f, "DA receives the notice", CASE_SERVICE_NOTIFY_CANDIDATE, DOJ,
        &delivered_notice(&b, "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL)
             ->base);
    /* The case, its notice and the record it brings; nothing to send. */
    assert_case_step(&t);
    assert_int_equal(rows_in(&t, "case_notices"), 1);
    assert_int_equal(rows_in(&t, "records"), 1);
    assert_int_equal(rows_in(&t, "outbox"), 0);
    assert_int_equal(rows_total(&t), CASE_STEP_ROWS + 1 + NEW_RECORD_ROWS);
    assert_int_equal(t.statements,
                     TRANSACTION + CASE_READS + RECORD_READ + t.writes);

    struct step_buf s;
    no_challenge(&s, "d1", "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    t = counted_step(f, "DA decides", CASE_SERVICE_DECIDE, NULL, &s.m.d.base);
    /* The decision goes to the court, the public defender and DOJ; the
     * record does not change. */
    assert_case_step(&t);
    assert_hand_off(&t, 3);
    assert_int_equal(rows_in(&t, "records"), 0);
    assert_int_equal(rows_total(&t), CASE_STEP_ROWS + 4);
    assert_int_equal(t.statements, TRANSACTION + CASE_READS + t.writes);

    t = counted_step(f, "DA receives the notice again",
                     CASE_SERVICE_NOTIFY_CANDIDATE, DOJ, &b.n.base);
    /* The inbox entry and the version it names are read; only the audit
     * entry of the call is written. */
    assert_int_equal(t.commits, 1);
    assert_int_equal(rows_in(&t, "audit"), 1);
    assert_int_equal(rows_total(&t), 1);
    assert_int_equal(t.statements, TRANSACTION + 2 + 1);
}

/* The court receives the decision and orders; DOJ's acknowledgement
 * closes the case there. */
static void
test_step_writes__court_orders_and_receives_the_acknowledgement(void **state)
{
    struct fixture *f = *state;
    court_has_notice(f, "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    struct step_buf s;
    no_challenge(&s, "d1", "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    s.m.d.decided_at_unix_us = test_now;
    struct tally t = counted_step(f, "court receives the decision",
                                  CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_case_step(&t);
    assert_int_equal(rows_total(&t), CASE_STEP_ROWS);
    assert_int_equal(t.statements, TRANSACTION + CASE_READS + t.writes);

    order(&s, "o1", "A1", CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    t = counted_step(f, "court orders", CASE_SERVICE_ORDER, NULL, &s.m.o.base);
    /* The order goes to DOJ, the prosecutor and the public defender, and
     * the court's record of judgment takes a new version (invariant 6). */
    assert_case_step(&t);
    assert_hand_off(&t, 3);
    assert_int_equal(rows_in(&t, "records"), 1);
    assert_int_equal(rows_in(&t, "record_versions"), 1);
    assert_int_equal(rows_in(&t, "changes"), 1);
    assert_int_equal(rows_total(&t), CASE_STEP_ROWS + 4 + RECORD_VERSION_ROWS);
    assert_int_equal(t.statements,
                     TRANSACTION + CASE_READS + RECORD_READ + t.writes);

    acknowledge(&s, "h1", "A1",
                CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    s.m.h.updated_at_unix_us = test_now;
    t = counted_step(f, "court receives the acknowledgement",
                     CASE_SERVICE_ACKNOWLEDGE_HISTORY_UPDATED, DOJ,
                     &s.m.h.base);
    assert_case_step(&t);
    assert_int_equal(rows_total(&t), CASE_STEP_ROWS);
    assert_int_equal(t.statements, TRANSACTION + CASE_READS + t.writes);
}

/* DOJ receives the court's order, applies it to its criminal history and
 * acknowledges. */
static void
test_step_writes__doj_applies_the_order_and_acknowledges(void **state)
{
    struct fixture *f = *state;
    doj_has_notified(f);
    struct step_buf s;
    no_challenge(&s, "d1", "A1", CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    s.m.d.decided_at_unix_us = test_now;
    struct answer a = run(f, CASE_SERVICE_DECIDE, SF_DA, &s.m.d.base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
    order(&s, "o1", "A1", CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    s.m.o.ordered_at_unix_us = test_now;
    struct tally t = counted_step(f, "DOJ receives the order",
                                  CASE_SERVICE_ORDER, SF_COURT, &s.m.o.base);
    assert_case_step(&t);
    assert_int_equal(rows_total(&t), CASE_STEP_ROWS);
    assert_int_equal(t.statements, TRANSACTION + CASE_READS + t.writes);

    acknowledge(&s, "h1", "A1",
                CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    t = counted_step(f, "DOJ acknowledges",
                     CASE_SERVICE_ACKNOWLEDGE_HISTORY_UPDATED, NULL,
                     &s.m.h.base);
    /* The order applied to DOJ's record (a new version) in the same
     * transaction as the acknowledgement, which goes to the court, the
     * prosecutor and the public defender. */
    assert_case_step(&t);
    assert_hand_off(&t, 3);
    assert_int_equal(rows_in(&t, "record_versions"), 1);
    assert_int_equal(rows_total(&t), CASE_STEP_ROWS + 4 + RECORD_VERSION_ROWS);
    assert_int_equal(t.statements,
                     TRANSACTION + CASE_READS + RECORD_READ + t.writes);
}

/* A conviction record from DOJ's criminal-history system. */
static void
test_step_writes__a_record_is_submitted(void **state)
{
    struct fixture *f = *state;
    struct notice_buf b;
    notice(&b, "r1", "A1", "San Francisco",
           CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL);
    Cjx__V1__SubmitRecordRequest req = CJX__V1__SUBMIT_RECORD_REQUEST__INIT;
    req.meta = &b.meta;
    req.record = &b.rec;
    ProtobufCMessage *out = NULL;
    count_start();
    int code = run_method(
        f, &cjx__v1__record_service__methods[RECORD_SERVICE_SUBMIT_RECORD],
        NULL, &req.base, &out);
    struct tally t = count_stop();
    print_tally("a record is submitted", &t);
    assert_int_equal(code, OK);
    protobuf_c_message_free_unpacked(out, NULL);
    /* The new record, its idempotency entry (WITHOUT ROWID) and the audit
     * entry of the call, in one transaction. Reads: the idempotency entry
     * and the record under the key. */
    assert_int_equal(t.commits, 1);
    assert_int_equal(rows_in(&t, "records"), 1);
    assert_int_equal(rows_in(&t, "record_versions"), 1);
    assert_int_equal(rows_in(&t, "changes"), 1);
    assert_int_equal(rows_in(&t, "idempotency"), 1);
    assert_int_equal(rows_in(&t, "audit"), 1);
    assert_int_equal(rows_total(&t), NEW_RECORD_ROWS + 2);
    assert_int_equal(t.statements, TRANSACTION + 2 + t.writes);
}

/* ---- delivery marks ---- */

struct marked {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, err;
};

static void
mark_done(void *arg, const struct cjx_record_write_result *r)
{
    struct marked *m = arg;
    pthread_mutex_lock(&m->mu);
    m->err = r->err;
    m->done = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static int
take_row_id(void *arg, const struct cjx_outbox_row *r)
{
    int64_t *ids = arg;
    for (int i = 0; i < 3; i++) {
        if (ids[i] == 0) {
            ids[i] = r->id;
            return 0;
        }
    }
    return 1;
}

/* DOJ's notice has been sent to its three peers (not counted): marks of
 * its three outbox rows as delivered, one per peer. */
static void
notice_rows_delivered(struct fixture *f, struct cjx_outbox_mark marks[3])
{
    doj_has_notified(f);
    int64_t ids[3] = {0};
    static const char *const peers[] = {SF_DA, SF_COURT, SF_PD};
    struct cjx_errbuf eb;
    for (int i = 0; i < 3; i++)
        assert_int_equal(cjx_store_outbox_due(f->store, peers[i],
                                              test_now + DAY, 0, 1, 1,
                                              take_row_id, ids, &eb),
                         0);
    for (int i = 0; i < 3; i++) {
        assert_true(ids[i] > 0);
        marks[i] = (struct cjx_outbox_mark){
            .id = ids[i], .outcome = CJX_OUTBOX_MARK_DELIVERED};
    }
}

static void
wait_marked(struct marked *m)
{
    pthread_mutex_lock(&m->mu);
    while (!m->done)
        pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
    assert_int_equal(m->err, 0);
}

/* The delivery worker marks the rows a peer acknowledged, several in one
 * write. */
static void
test_step_writes__delivered_rows_are_marked(void **state)
{
    struct fixture *f = *state;
    struct cjx_outbox_mark marks[3];
    notice_rows_delivered(f, marks);
    struct marked m = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                       0};
    count_start();
    assert_int_equal(cjx_store_outbox_mark(f->store, marks, 3, mark_done, &m),
                     0);
    wait_marked(&m);
    struct tally t = count_stop();
    print_tally("three rows marked delivered", &t);
    /* One UPDATE per row (each leaves the partial index outbox_pending),
     * in one transaction; nothing else is read or written. */
    assert_int_equal(t.commits, 1);
    assert_int_equal(rows_in(&t, "outbox"), 3);
    assert_int_equal(rows_total(&t), 3);
    assert_int_equal(t.statements, TRANSACTION + 3);
}

/* Writes that arrive while the writer is busy share its next transaction
 * (group commit): here three marks of one row each, queued while the
 * writer is held. Each is one UPDATE, and none takes a savepoint: was
 * TRANSACTION + 3 x 3, a SAVEPOINT and RELEASE around each write of a
 * batch of several so that one failing halfway could be undone alone. The
 * writer now runs a batch without them, and runs it again with them only
 * when a write has failed (writer.c;
 * test_store_cases__write_failing_halfway_in_a_batch__leaves_the_others). */
static void
test_step_writes__writes_of_one_transaction_take_no_savepoints(void **state)
{
    struct fixture *f = *state;
    struct cjx_outbox_mark marks[3];
    notice_rows_delivered(f, marks);
    struct marked m[3];
    for (int i = 0; i < 3; i++)
        m[i] = (struct marked){PTHREAD_MUTEX_INITIALIZER,
                               PTHREAD_COND_INITIALIZER, 0, 0};
    cjx_store_sqlite_pause(f->store, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            cjx_store_outbox_mark(f->store, &marks[i], 1, mark_done, &m[i]), 0);
    count_start();
    cjx_store_sqlite_pause(f->store, 0);
    for (int i = 0; i < 3; i++)
        wait_marked(&m[i]);
    struct tally t = count_stop();
    print_tally("three writes in one transaction", &t);
    assert_int_equal(t.commits, 1);
    assert_int_equal(rows_in(&t, "outbox"), 3);
    assert_int_equal(t.statements, TRANSACTION + 3);
}

int
main(void)
{
    sqlite3_auto_extension((void (*)(void))trace_connection);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_step_writes__doj_notifies_a_candidate, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_step_writes__prosecutor_receives_the_notice_and_decides, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_step_writes__court_orders_and_receives_the_acknowledgement,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_step_writes__doj_applies_the_order_and_acknowledges, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_step_writes__a_record_is_submitted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_step_writes__delivered_rows_are_marked, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_step_writes__writes_of_one_transaction_take_no_savepoints,
            setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
