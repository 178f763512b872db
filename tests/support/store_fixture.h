/* What the store's unit tests share (test_store_*.c): a fresh store per
 * test on the backend store_backend.h picks, record writes to submit,
 * waiting for their completions, holding the writer so that writes form
 * one batch, and direct looks at the database. */
#ifndef CJX_TEST_STORE_FIXTURE_H
#define CJX_TEST_STORE_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cjx/store.h"

/* ---- a fresh directory and an open store per test ---- */

struct fixture {
    char dir[256];
    char path[300]; /* the SQLite file (unused with PostgreSQL) */
    struct cjx_store *s;
};

/* cmocka setup and teardown: *state is a struct fixture with an empty
 * store; teardown closes it and removes the directory. */
int store_setup(void **state);
int store_teardown(void **state);
#define STORE_TEST(name) \
    cmocka_unit_test_setup_teardown(name, store_setup, store_teardown)

/* Closes and opens the fixture's store again, with options o (NULL: the
 * defaults), or fails the test. */
void reopen_with(struct fixture *f, const struct cjx_store_sqlite_options *o);
/* reopen_with the defaults. */
void reopen(struct fixture *f);

/* ---- building writes ---- */

struct test_write {
    struct cjx_record_write w;
    char sender[32], rid[64], cii[64], ccn[64], county[32], body[128];
};

/* A write of body under the key, with a digest made from its content, so
 * that the same content gives the same digest. */
void tw_init(struct test_write *t, const char *sender, const char *rid,
             const char *cii, const char *ccn, int count, const char *county,
             const char *body);

/* Three writes of one batch: ok1, then the write under request id rid
 * and cii that a test makes fail, then ok2 (sender CA0190000, case CASE,
 * county Alameda, bodies "1", "2", "3"). */
void tw_around(struct test_write t[3], const char *rid, const char *cii);

/* ---- waiting for completions ---- */

/* One completion's result, signalled when it arrives. */
struct result_box {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    struct cjx_record_write_result r;
    char detail[256];
};

void box_init(struct result_box *b);
void box_fini(struct result_box *b);
/* A cjx_store_write_done_fn that fills the box (arg). */
void box_done(void *arg, const struct cjx_record_write_result *r);
/* Waits until the box has been filled. */
void box_wait(struct result_box *b);

/* Submits and waits for the completion (r.detail is not kept). */
struct cjx_record_write_result submit_wait(struct cjx_store *s,
                                           const struct test_write *t);

/* A completion that blocks its thread until opened. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, open;
    struct cjx_store *store; /* paused by hold_writer */
};

void gate_init(struct gate *g);
/* A cjx_store_write_done_fn that enters the gate (arg) and waits there
 * until it is open. */
void gate_done(void *arg, const struct cjx_record_write_result *r);
void gate_wait_entered(struct gate *g);
void gate_open(struct gate *g);

/* SQLite only: commits one write, then pauses the writer, so that writes
 * submitted until release_writer() are taken as one batch. */
void hold_writer(struct cjx_store *s, struct gate *g, const char *tag);
void release_writer(struct gate *g);

/* Submits the n writes t[] in order, each answered into its box b[i]
 * (initialised here; free with box_fini()), opens the writer held at g
 * (hold_writer(); NULL when none is held) and waits for every answer. */
void submit_batch(struct cjx_store *s, struct gate *g,
                  const struct test_write *t, struct result_box *b, int n);

/* A commit hook (cjx_store_commit_fn) that counts its calls and keeps the
 * newest seq in a struct hook_log. */
struct hook_log {
    atomic_int calls;
    _Atomic int64_t last;
};
void hook_record(void *arg, int64_t last_seq);

/* ---- reading ---- */

/* What a visit saw: the first 64 records' keys, seqs, versions and bodies,
 * and how many it was shown. */
struct seen {
    int n;
    char keys[64][48];
    int64_t seqs[64];
    int64_t versions[64];
    char bodies[64][32];
    int stop_after; /* 0 = never stop early */
};
/* A cjx_store_visit_fn that collects into a struct seen (arg); it stops
 * the visit after stop_after records unless that is 0. */
int visit_collect(void *arg, const struct cjx_stored_record *r);

/* ---- direct looks at the database ---- */

/* The rows of a table, and one SQL statement run on the database (SQLite
 * at path, or the PostgreSQL test database); both fail the test on an
 * error. */
int64_t count_rows(const char *path, const char *table);
void exec_sql(const char *path, const char *sql);

/* What the record tables hold, to show that a refused write changed
 * nothing. */
struct table_counts {
    int64_t records, versions, changes, requests, last_seq;
};
struct table_counts snapshot(struct fixture *f);
void assert_same_counts(struct table_counts a, struct table_counts b);

/* Fails the test unless the record under the key has body at version. */
void assert_stored_body(struct cjx_store *s, const char *cii, const char *ccn,
                        int count, const char *body, int64_t version);

/* ---- making SQLite fail on purpose (SQLite only; both reopen f) ---- */

/* The last statement of a record write with request id "bad" fails, after
 * its record, version and change rows were written. */
void refuse_request_id_bad(struct fixture *f);

/* Every transaction that inserts a record with cii DOOM fails at COMMIT: a
 * deferred foreign key is only checked there. */
void doom_commits_of_records_named_doom(struct fixture *f);

#endif
