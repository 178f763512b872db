/* Private to the PostgreSQL store: the handle, the queued write, and the
 * libpq helpers its files share (pg_conn.c). */
#ifndef CJX_PG_STORE_H
#define CJX_PG_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "cjx/store.h"
#include "cjx/store_cases.h"
#include "cjx/store_pg.h"
#include "store_shared.h"

/* ---- libpq helpers (pg_conn.c) --------------------------------------- */

#define PG_MAX_PARAMS 12

/* The parameters of one statement: text, or binary for bytea. Numbers are
 * formatted into num[] so that nothing borrowed need outlive the call. */
struct pg_params {
    int n;
    const char *value[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int format[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
};

void pg_text(struct pg_params *p, const char *v);
void pg_int(struct pg_params *p, int64_t v);
void pg_bytes(struct pg_params *p, const void *v, size_t len);

/* Runs sql with p (may be NULL), results in binary. Returns the result
 * when it is PGRES_COMMAND_OK or PGRES_TUPLES_OK; otherwise NULL, with
 * "what: PostgreSQL's message" in msg. */
PGresult *pg_exec(PGconn *c, const char *sql, const struct pg_params *p,
                  const char *what, char *msg, size_t msg_len);
/* pg_exec for a statement whose rows nobody reads: 0 or CJX_ESTORE. */
int pg_command(PGconn *c, const char *sql, const struct pg_params *p,
               const char *what, char *msg, size_t msg_len);

/* Columns of a binary result: integers of any width (NULL reads as 0),
 * text ("" for NULL), bytes ("" for NULL). */
int64_t pg_col_int(const PGresult *r, int row, int col);
const char *pg_col_text(const PGresult *r, int row, int col);
const void *pg_col_bytes(const PGresult *r, int row, int col, size_t *len);

/* Opens a connection: dsn plus password. NULL with msg on failure. */
PGconn *pg_connect(const char *dsn, const char *password, char *msg,
                   size_t msg_len);

/* ---- the schema (pg_schema.c) ---------------------------------------- */

extern const int cjx_store_pg_schema_version;

/* Brings the database to cjx_store_pg_schema_version; refuses a newer
 * one. Safe with several replicas starting at once. */
int cjx_store_pg_migrate(PGconn *c, struct cjx_errbuf *eb);

/* ---- the store -------------------------------------------------------- */

enum pg_write_kind {
    PG_WRITE_RECORD,
    PG_WRITE_AUDIT,
    PG_WRITE_CASE,
    PG_WRITE_MARKS,
    PG_WRITE_DUE_NOW,
};

/* One queued write of any kind, its text copied into data[]. */
struct pg_write {
    struct pg_write *next;
    enum pg_write_kind kind;
    cjx_store_write_done_fn done; /* RECORD, AUDIT, MARKS; may be NULL */
    void *arg;
    int has_event;
    struct cjx_audit_event ev;
    struct cjx_record_write w; /* RECORD; CASE uses its key and id */
    struct cjx_record_write_result res;
    char detail[256];
    /* PG_WRITE_CASE */
    cjx_case_write_done_fn case_done;
    cjx_case_apply_fn apply;
    void *apply_arg;
    void *snapshot; /* the version the message is answered with (owned) */
    size_t snapshot_len;
    size_t outbox_added;
    int64_t record_version, record_seq;
    /* Kept for a second run of the write in the same transaction after
     * another write of the batch failed (pg_writer.c). */
    struct cjx_store_case_decision decision;
    /* PG_WRITE_MARKS */
    struct cjx_outbox_mark *marks;
    size_t n_marks;
    /* PG_WRITE_DUE_NOW (done as for MARKS) */
    char destination[STORE_DESTINATION_MAX];
    int64_t due_us;
    char data[];
};

/* Where the audit chain stands, read inside each transaction (another
 * replica may have appended since). */
struct pg_audit_chain {
    int64_t seq;
    uint8_t hash[CJX_AUDIT_HASH_LEN];
    int64_t unsigned_count;
};

struct pg_conn_pool {
    pthread_mutex_t mu;
    struct pg_idle *idle;
};

/* The agency's leadership (pg_leader.c): a session-level advisory lock held
 * on a connection of its own, so that it ends with that connection. */
struct pg_leader {
    pthread_mutex_t mu;
    PGconn *conn;
    int leading;
};

/* The listener of the other replicas' commits (pg_listen.c). */
struct pg_listener {
    pthread_t thread;
    int running;
    int wake[2];            /* a byte here stops it */
    PGconn *conn;           /* its first connection, handed to its thread */
    _Atomic int writer_pid; /* the server process of this replica's
                                  writer, whose commits it ignores */
};

struct pg_store {
    struct cjx_store base; /* first */
    char *dsn;
    char *password;
    int max_batch;
    int checkpoint_entries;
    int checkpoint_seconds;
    int64_t lease_us;
    char replica[CJX_AUDIT_REPLICA_MAX + 1]; /* names its audit entries */

    PGconn *wconn; /* the writer thread's */
    pthread_t writer;
    pthread_mutex_t mu; /* the queue and closing */
    pthread_cond_t cv;
    struct pg_write *head, *tail;
    int closing;

    struct pg_audit_chain chain; /* writer thread */
    int64_t checkpoint_us;       /* when this replica last signed */
    uint8_t *abuf;
    size_t abuf_cap;
    int sign_failed;
    pthread_mutex_t signer_mu;
    struct cjx_audit_signer *signer;

    /* Recursive, held while hooks run, so that removing a hook guarantees
     * it is no longer running, even from inside it. */
    pthread_mutex_t hook_mu;
    cjx_store_commit_fn hook, audit_hook;
    void *hook_arg, *audit_hook_arg;
    cjx_store_stats_fn stats_hook; /* each commit's duration and size */
    void *stats_hook_arg;
    cjx_store_outcome_fn outcome_hook; /* each transaction: committed? */
    void *outcome_hook_arg;
    struct cjx_store_case_hooks case_hooks;

    _Atomic int64_t last_seq, last_audit_seq, last_case_seq;

    struct pg_conn_pool readers;
    struct pg_leader leader;
    struct pg_listener listener;
};

/* Reads: a pooled connection for the calling thread. */
int pg_reader_acquire(struct pg_store *s, PGconn **out, struct cjx_errbuf *eb);
void pg_reader_release(struct pg_store *s, PGconn *c);
/* Closes every idle read connection. */
void pg_readers_free(struct pg_store *s);

/* The lead op (pg_leader.c), and the release of its connection at close. */
int pg_lead(struct cjx_store *base);
void pg_leader_fini(struct pg_store *s);

/* Announcing a commit to the other replicas, and hearing theirs
 * (pg_listen.c): the payload of a batch (its feeds' newest positions,
 * audit_top the newest audit entry, and the outbox rows it added), sent
 * inside its transaction; the listener thread, started once the store is
 * open and stopped before it closes. */
void pg_notify_payload(const struct pg_write *batch, int64_t audit_top,
                       char *buf, size_t len);
int pg_notify_commit(struct pg_store *s, const char *payload, char *msg,
                     size_t msg_len);
int pg_listener_start(struct pg_store *s, struct cjx_errbuf *eb);
void pg_listener_stop(struct pg_store *s);

/* The writer (pg_writer.c). */
int pg_writer_start(struct pg_store *s, struct cjx_errbuf *eb);
void pg_writer_stop(struct pg_store *s);
int pg_writer_enqueue(struct pg_store *s, struct pg_write *pw);
int pg_submit_record(struct cjx_store *base, const struct cjx_record_write *w,
                     cjx_store_write_done_fn done, void *arg);
int pg_append_audit(struct cjx_store *base, const struct cjx_audit_event *ev,
                    cjx_store_write_done_fn done, void *arg);

/* Raises the record feed's and the audit log's cached heads to top and
 * audit_top (0: unchanged) and runs their hooks: for this replica's commit
 * (the writer) or another's (the listener). */
void pg_run_feed_hooks(struct pg_store *s, int64_t top, int64_t audit_top);

/* Raises a feed's cached head to v, never lowering it. */
void pg_raise_top(_Atomic int64_t *top, int64_t v);

/* Writer thread, inside the batch's transaction: the record under a key
 * (id 0 when none; body a copy to free()), and a new version of it. */
struct pg_found_record {
    int64_t id, version;
    void *body;
    size_t body_len;
};
int pg_find_record(struct pg_store *s, const char *cii, const char *ccn,
                   int32_t count, struct pg_found_record *out, char *msg,
                   size_t msg_len);
int pg_put_record(struct pg_store *s, const struct cjx_record_write *w,
                  int64_t record_id, int64_t version, int64_t *seq_out,
                  char *msg, size_t msg_len);

/* Case writes and delivery marks (pg_cases.c): applied by the writer
 * inside the write's savepoint; 0 or CJX_ESTORE with msg. */
int pg_cases_apply(struct pg_store *s, struct pg_write *pw, char *msg,
                   size_t msg_len);
/* Answers a finished case write (runs the case hooks first). */
void pg_cases_finish(struct pg_store *s, struct pg_write *pw);
extern const struct cjx_store_case_ops cjx_store_pg_case_ops;

/* Reads (pg_read.c). */
int pg_get_record(struct cjx_store *base, const char *cii, const char *ccn,
                  int32_t count, struct cjx_stored_record *out,
                  struct cjx_errbuf *eb);
int pg_list_records(struct cjx_store *base, enum cjx_record_filter f,
                    const char *value, int64_t after_id, int limit,
                    cjx_store_visit_fn visit, void *arg, int64_t *last_id,
                    struct cjx_errbuf *eb);
int pg_read_changes(struct cjx_store *base, int64_t after_seq, int limit,
                    cjx_store_visit_fn visit, void *arg, struct cjx_errbuf *eb);
int pg_read_audit(struct cjx_store *base, int64_t after_seq, int limit,
                  cjx_store_audit_visit_fn visit, void *arg,
                  struct cjx_errbuf *eb);
int pg_read_audit_checkpoints(struct cjx_store *base, int64_t after_seq,
                              int limit, cjx_store_audit_visit_fn visit,
                              void *arg, struct cjx_errbuf *eb);
int pg_read_last_audit_checkpoint(struct cjx_store *base,
                                  cjx_store_audit_visit_fn visit, void *arg,
                                  struct cjx_errbuf *eb);
/* The newest committed position of a feed ("changes", "case_changes",
 * "audit"), read from the database: other replicas write too. */
int pg_read_top(struct pg_store *s, const char *table, int64_t *top);

#endif
