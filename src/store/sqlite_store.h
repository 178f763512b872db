/* Private to the SQLite store: the handle and the functions its files share. */
#ifndef CJX_SQLITE_STORE_H
#define CJX_SQLITE_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <sqlite3.h>

#include "cjx/store.h"
#include "store_shared.h"

enum sqlite_write_kind {
    SQLITE_WRITE_RECORD, /* a record write, with or without its event */
    SQLITE_WRITE_AUDIT,  /* an audit event alone */
    SQLITE_WRITE_CASE,   /* a case message (cases.c) */
    SQLITE_WRITE_OUTBOX, /* delivery marks of outbox rows (cases.c) */
};

struct sqlite_pending_write;

/* What the writer hands the completer about a committed batch (writer.c).
 * It lives in the batch's first write, so that handing a batch over needs
 * no memory of its own. */
struct sqlite_committed {
    struct sqlite_pending_write *next_batch; /* committed after this one */
    int64_t top;       /* highest record-feed seq committed, 0 if none */
    int64_t audit_top; /* highest audit seq committed, 0 if none */
    int failed;        /* the transaction did not commit */
};

/* One queued write: the caller's write and event, copied into data[] so
 * their pointers stay valid until the writer is done with them. */
struct sqlite_pending_write {
    struct sqlite_pending_write *next;
    cjx_store_write_done_fn done; /* NULL: nobody waits (audit only) */
    void *arg;
    enum sqlite_write_kind kind;
    int has_event;
    struct cjx_record_write w;
    struct cjx_audit_event ev;
    struct cjx_record_write_result res;
    char detail[160]; /* SQLite's message when res.err is CJX_ESTORE */
    /* SQLITE_WRITE_CASE: the record-feed position of the record version
     * the step wrote, 0 if it wrote none. */
    int64_t record_seq;
    struct sqlite_committed committed; /* of a batch's first write only */
    char data[];
};

/* How many statements the writer caches on its connection (enum
 * writer_stmt in sqlite_writer.h). */
#define SQLITE_WRITER_STMTS 15

/* Where the audit chain stands. The writer thread owns it; before each
 * write and transaction it is marked, so that a rollback can put it back
 * (cjx_store_chain_mark() and _undo() in sqlite_writer.h). */
struct sqlite_audit_chain {
    int64_t seq;                      /* the next entry gets seq + 1 */
    uint8_t hash[CJX_AUDIT_HASH_LEN]; /* of the newest entry */
    int64_t unsigned_count;           /* entries after the newest checkpoint */
    int64_t checkpoint_us; /* time of that checkpoint (or of the open) */
};

struct read_conn; /* read_pool.h */

struct sqlite_cases; /* sqlite_cases.h */

struct sqlite_store {
    struct cjx_store base;      /* first, so a struct cjx_store * converts */
    struct sqlite_cases *cases; /* the relief exchange's tables */
    char *path;
    int max_batch;
    int busy_timeout_ms;

    /* Writer connection: used at open by the opening thread, afterwards by
     * the writer thread only. */
    sqlite3 *wdb;
    sqlite3_stmt *ws[SQLITE_WRITER_STMTS];
    pthread_t writer;
    pthread_t completer;

    /* The queue; mu also guards closing. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sqlite_pending_write *head, *tail;
    int closing;
    int paused; /* cjx_store_sqlite_pause: hold queued writes */
    /* Audit entries nobody waits for may gather for a moment, so that
     * reads, which make one each, share commits: queued counts the queue,
     * urgent the writes in it that someone waits for, head_since_us is
     * when the oldest was queued (monotonic). */
    int queued, urgent;
    int64_t head_since_us;
    /* Committed batches waiting for their completions, oldest first,
     * linked through their first writes' committed.next_batch; the
     * completer thread answers them while the writer commits the next. */
    pthread_cond_t committed_cv;
    struct sqlite_pending_write *committed_head, *committed_tail;
    int writer_done;

    /* Recursive, and held while the hook runs, so that removing the hook
     * guarantees it is no longer running, even from inside the hook. */
    pthread_mutex_t hook_mu;
    cjx_store_commit_fn hook;
    void *hook_arg;
    cjx_store_stats_fn stats_hook; /* under hook_mu */
    void *stats_hook_arg;

    _Atomic int64_t last_seq;

    /* The audit log. chain, abuf and sign_failed belong to the writer
     * thread; signer_mu guards the signer, which a reload may swap. */
    struct sqlite_audit_chain chain;
    uint8_t *abuf; /* the entry being packed */
    size_t abuf_cap;
    int sign_failed; /* a signing failure was logged */
    pthread_mutex_t signer_mu;
    struct cjx_audit_signer *signer;
    atomic_int signing; /* signer != NULL, readable without the lock */
    int checkpoint_entries;
    int checkpoint_seconds;
    _Atomic int64_t last_audit_seq;
    cjx_store_commit_fn audit_hook; /* under hook_mu */
    void *audit_hook_arg;
    cjx_store_outcome_fn outcome_hook; /* under hook_mu */
    void *outcome_hook_arg;

    pthread_mutex_t pool_mu;
    struct read_conn *pool;
};

/* The newest schema version this code knows. */
extern const int cjx_store_schema_version;

/* Brings db to cjx_store_schema_version, one transaction per migration.
 * Refuses (CJX_ESTORE) a database whose user_version is newer. */
int cjx_store_schema_migrate(sqlite3 *db, struct cjx_errbuf *eb);

/* Prepares the writer statements on s->wdb and starts the writer and
 * completer threads (writer.c). */
int cjx_store_writer_start(struct sqlite_store *s, struct cjx_errbuf *eb);

/* Refuses new writes, lets the writer commit and the completer answer every
 * queued one, joins both and finalizes the writer's statements. */
void cjx_store_writer_stop(struct sqlite_store *s);

/* The submit_record (record_writes.c) and append_audit (audit_chain.c)
 * ops. */
int cjx_store_writer_submit(struct cjx_store *base,
                            const struct cjx_record_write *w,
                            cjx_store_write_done_fn done, void *arg);
int cjx_store_writer_append_audit(struct cjx_store *base,
                                  const struct cjx_audit_event *ev,
                                  cjx_store_write_done_fn done, void *arg);

/* Queues a write built by the caller (record_writes.c, audit_chain.c,
 * cases.c); takes it, and frees it on CJX_ECLOSED. */
int cjx_store_writer_enqueue(struct sqlite_store *s,
                             struct sqlite_pending_write *pw);

/* A conviction record as the writer found it inside its transaction. */
struct sqlite_found_record {
    int64_t record_id; /* 0: no record under the key */
    int64_t version;
    const void *body; /* packed cjx.v1.ConvictionRecord; valid until done */
    size_t body_len;
    sqlite3_stmt *statement; /* kept on its row while body is read */
};

/* Writer thread, inside a transaction: finds the record under a key (for
 * a case step that rewrites it). Release with _found_record_done() before
 * the next record statement. SQLite code; msg says what failed. */
int cjx_store_writer_find_record(struct sqlite_store *s, const char *cii,
                                 const char *ccn, int32_t count,
                                 struct sqlite_found_record *out, char *msg,
                                 size_t msg_len);
void cjx_store_writer_found_record_done(struct sqlite_found_record *f);

/* Writer thread, inside a transaction: writes version of the record w
 * describes (record_id 0 for a new key) and its change; *seq_out is the
 * change's record-feed position. Nothing of w is copied: it must outlive
 * the step. SQLite code; msg says what failed. */
int cjx_store_writer_put_record(struct sqlite_store *s,
                                const struct cjx_record_write *w,
                                int64_t record_id, int64_t version,
                                int64_t *seq_out, char *msg, size_t msg_len);

/* Reads where the audit chain stands from s->wdb into s->chain
 * (audit_chain.c). */
int cjx_store_writer_load_chain(struct sqlite_store *s, struct cjx_errbuf *eb);

/* Opens the first read connection into the pool, so that open fails early
 * if reading cannot work. */
int cjx_store_readers_start(struct sqlite_store *s, struct cjx_errbuf *eb);

/* Closes every pooled read connection; no read may be running. */
void cjx_store_readers_free(struct sqlite_store *s);

/* The get_record, stored_record_fini, list_records and read_changes ops. */
int cjx_store_reader_get(struct cjx_store *base, const char *cii,
                         const char *ccn, int32_t count,
                         struct cjx_stored_record *out, struct cjx_errbuf *eb);
void cjx_store_reader_fini_record(struct cjx_stored_record *rec);
int cjx_store_reader_list(struct cjx_store *base, enum cjx_record_filter f,
                          const char *value, int64_t after_id, int limit,
                          cjx_store_visit_fn visit, void *arg, int64_t *last_id,
                          struct cjx_errbuf *eb);
int cjx_store_reader_changes(struct cjx_store *base, int64_t after_seq,
                             int limit, cjx_store_visit_fn visit, void *arg,
                             struct cjx_errbuf *eb);

/* The read_audit and read_audit_checkpoints ops. */
int cjx_store_reader_audit(struct cjx_store *base, int64_t after_seq, int limit,
                           cjx_store_audit_visit_fn visit, void *arg,
                           struct cjx_errbuf *eb);
int cjx_store_reader_audit_checkpoints(struct cjx_store *base,
                                       int64_t after_seq, int limit,
                                       cjx_store_audit_visit_fn visit,
                                       void *arg, struct cjx_errbuf *eb);
/* The read_last_audit_checkpoint op. */
int cjx_store_reader_last_audit_checkpoint(struct cjx_store *base,
                                           cjx_store_audit_visit_fn visit,
                                           void *arg, struct cjx_errbuf *eb);

#endif
