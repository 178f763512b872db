/* Private to the SQLite store: the cases of the relief exchange, the inbox
 * and the outbox (cases.c for the writer side, cases_read.c for reads). */
#ifndef CJX_SQLITE_CASES_H
#define CJX_SQLITE_CASES_H

#include "cjx/store_cases.h"
#include "sqlite_store.h"

/* Statements the writer thread uses for cases; prepared on first use. */
#define SQLITE_CASE_WRITER_STMTS 15

struct read_conn; /* read_pool.h */

struct sqlite_cases {
    struct cjx_store_case_hooks hooks;
    _Atomic int64_t last_seq; /* newest committed case-feed position */

    /* The writer thread's own: statements and the next seq to give. Seq
     * numbers are handed out by the writer so that a case's bytes can name
     * their own position; a failed transaction leaves a gap, never a
     * repeat (a batch run again after a failed write takes its numbers
     * again, which nobody has seen: _rewind() below). */
    sqlite3_stmt *ws[SQLITE_CASE_WRITER_STMTS];
    int ws_ready;
    int64_t next_seq;

    pthread_mutex_t pool_mu;
    struct read_conn *pool;

    struct sqlite_checkpointer *checkpointer; /* checkpointer.c */
};

/* Checkpoints the WAL on a thread of its own instead of in the writer's
 * commits (checkpointer.c). Start once s->cases is set, before the writer
 * runs; stop after the writer has stopped. */
int cjx_store_checkpointer_start(struct sqlite_store *s, struct cjx_errbuf *eb);
void cjx_store_checkpointer_stop(struct sqlite_store *s);

/* The ops table of cases for the SQLite backend. */
extern const struct cjx_store_case_ops cjx_store_sqlite_case_ops;

/* Sets up s->cases on the opening thread (reads the newest seq on s->wdb);
 * frees everything it holds once the writer has stopped. */
int cjx_store_cases_init(struct sqlite_store *s, struct cjx_errbuf *eb);
void cjx_store_cases_free(struct sqlite_store *s);

/* Writer thread, inside the transaction (and the write's savepoint when a
 * batch runs again after a failed write): applies
 * a queued write of kind SQLITE_WRITE_CASE or SQLITE_WRITE_OUTBOX, filling
 * pw->res. Returns an SQLite code; on failure msg says what failed. */
int cjx_store_cases_apply(struct sqlite_store *s,
                          struct sqlite_pending_write *pw, char *msg,
                          size_t msg_len);

/* Writer thread, when a batch's transaction is rolled back so that its
 * writes run again (writer.c): _forget_result() drops what a case write's
 * first run filled in (its apply function's decision is kept: it is not
 * called twice), and the case feed's numbering goes back to where it
 * stood at BEGIN (_next_seq() read then, _rewind()), so that the second
 * run gives each write the number its kept decision names. */
void cjx_store_cases_forget_result(struct sqlite_pending_write *pw);
int64_t cjx_store_cases_next_seq(const struct sqlite_store *s);
void cjx_store_cases_rewind(struct sqlite_store *s, int64_t next_seq);

/* Read ops (cases_read.c). */
int cjx_store_cases_get(struct cjx_store *base, const char *cii,
                        const char *ccn, int32_t count, int with_notice,
                        struct cjx_stored_case *out, struct cjx_errbuf *eb);
void cjx_store_cases_fini(struct cjx_stored_case *c);
int cjx_store_cases_list(struct cjx_store *base,
                         const struct cjx_case_filter *f, int64_t after_id,
                         int limit, cjx_store_case_visit_fn visit, void *arg,
                         int64_t *last_id, struct cjx_errbuf *eb);
int cjx_store_cases_changes(struct cjx_store *base, int64_t after_seq,
                            int limit, cjx_store_case_visit_fn visit, void *arg,
                            struct cjx_errbuf *eb);
int cjx_store_outbox_read_due(struct cjx_store *base, const char *destination,
                              int64_t now_us, int partition, int partitions,
                              int limit, cjx_store_outbox_visit_fn visit,
                              void *arg, struct cjx_errbuf *eb);
int cjx_store_outbox_read_next_due(struct cjx_store *base,
                                   const char *destination, int64_t *next_us,
                                   struct cjx_errbuf *eb);
int cjx_store_outbox_read_list(struct cjx_store *base,
                               enum cjx_outbox_which which,
                               const char *destination, int64_t after_id,
                               int limit, cjx_store_outbox_visit_fn visit,
                               void *arg, int64_t *last_id,
                               struct cjx_errbuf *eb);
int cjx_store_case_read_counts(struct cjx_store *base, int64_t now_us,
                               cjx_store_case_count_fn visit, void *arg,
                               struct cjx_errbuf *eb);
int cjx_store_outbox_read_counts(struct cjx_store *base, int with_delivered,
                                 cjx_store_outbox_count_fn visit, void *arg,
                                 struct cjx_errbuf *eb);
void cjx_store_case_readers_free(struct sqlite_cases *c);

#endif
