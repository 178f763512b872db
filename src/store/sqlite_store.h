/* Private to the SQLite store: the handle and the functions its files share. */
#ifndef CJX_SQLITE_STORE_H
#define CJX_SQLITE_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <sqlite3.h>

#include "cjx/store.h"

/* One queued write: the caller's write, copied into data[] so the write
 * pointers stay valid until the writer is done with it. */
struct sqlite_pending_write {
    struct sqlite_pending_write *next;
    cjx_store_write_done_fn done;
    void *arg;
    struct cjx_record_write w;
    struct cjx_record_write_result res;
    char detail[160]; /* SQLite's message when res.err is CJX_ESTORE */
    char data[];
};

/* How many statements the writer caches on its connection (writer.c). */
#define SQLITE_WRITER_STMTS 13

struct sqlite_reader; /* reader.c */
struct sqlite_committed; /* writer.c */

struct sqlite_store {
    struct cjx_store base; /* first, so a struct cjx_store * converts */
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
    /* Committed batches waiting for their completions, oldest first; the
     * completer thread answers them while the writer commits the next. */
    pthread_cond_t committed_cv;
    struct sqlite_committed *committed_head, *committed_tail;
    int writer_done;

    /* Recursive, and held while the hook runs, so that removing the hook
     * guarantees it is no longer running, even from inside the hook. */
    pthread_mutex_t hook_mu;
    cjx_store_commit_fn hook;
    void *hook_arg;

    _Atomic int64_t last_seq;

    pthread_mutex_t pool_mu;
    struct sqlite_reader *pool;
};

/* The newest schema version this code knows. */
extern const int cjx_store_schema_version;

/* Brings db to cjx_store_schema_version, one transaction per migration.
 * Refuses (CJX_ESTORE) a database whose user_version is newer. */
int cjx_store_schema_migrate(sqlite3 *db, struct cjx_errbuf *eb);

/* Prepares the writer statements on s->wdb and starts the writer thread. */
int cjx_store_writer_start(struct sqlite_store *s, struct cjx_errbuf *eb);

/* Refuses new writes, lets the writer finish every queued one, joins it and
 * finalizes its statements. */
void cjx_store_writer_stop(struct sqlite_store *s);

/* The submit_record op. */
int cjx_store_writer_submit(struct cjx_store *base,
                            const struct cjx_record_write *w,
                            cjx_store_write_done_fn done, void *arg);

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

#endif
