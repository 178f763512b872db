/* Durable storage for cjx: records, idempotency, change feed. Backend-neutral.
 *
 * Nothing above this interface may assume SQLite: a PostgreSQL backend will
 * implement the same ops table. Records are stored as packed protobuf bytes
 * plus the key and index columns; the store never decodes them.
 *
 * Threading: every function may be called from any thread. Writes are queued
 * to a single writer that batches concurrent writes into one transaction
 * (group commit) and calls each write's completion only after that
 * transaction is durable. Reads run on the calling thread. */
#ifndef CJX_STORE_H
#define CJX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cjx/error.h"

#define CJX_STORE_DIGEST_LEN 32 /* SHA-256 of the request bytes */

struct cjx_store;

/* One conviction-record write. Everything is borrowed for the duration of
 * cjx_store_submit_record() only: the store copies what it keeps. */
struct cjx_record_write {
    const char *sender_ori;  /* agency that sent it: the idempotency scope */
    const char *request_id;  /* sender-chosen, non-empty */
    uint8_t request_digest[CJX_STORE_DIGEST_LEN];
    const char *cii;
    const char *court_case_number;
    int32_t count_number;
    const char *county;
    const void *record; /* packed cjx.v1.ConvictionRecord */
    size_t record_len;
    const char *flags; /* comma-separated validation flags, or NULL */
};

/* What a write did. With replayed set, the values are those of the first
 * write with the same (sender_ori, request_id), and nothing was changed. */
struct cjx_record_write_result {
    int err;        /* 0, CJX_ECONFLICT (same id, different digest),
                       CJX_ESTORE, CJX_ECLOSED */
    int64_t version; /* 1 for a new key; +1 per changed rewrite */
    int64_t seq;     /* change-feed position; 0 if unchanged */
    int unchanged;   /* identical record bytes were already stored */
    int replayed;    /* answered from the idempotency table */
    const char *detail; /* static or store-owned text for err, or NULL;
                           valid during the callback only */
};

/* Called once per write, on the writer thread, after the transaction holding
 * the write is durable (or has failed). Must not block: hand the result on. */
typedef void (*cjx_store_write_done_fn)(void *arg,
                                        const struct cjx_record_write_result *r);

/* A stored record, borrowed: valid during the callback that receives it or
 * until cjx_stored_record_fini() for one filled by a get. */
struct cjx_stored_record {
    const char *cii;
    const char *court_case_number;
    int32_t count_number;
    const char *county;
    int64_t version;
    int64_t seq;
    const char *submitted_by;
    int64_t stored_at_us;
    const char *flags; /* comma-separated, "" if none */
    const void *record;
    size_t record_len;
    void *owned_; /* backend-private storage for a filled record */
};

/* Return non-zero to stop a visit early. */
typedef int (*cjx_store_visit_fn)(void *arg, const struct cjx_stored_record *r);

enum cjx_record_filter {
    CJX_FILTER_CII = 1,
    CJX_FILTER_COUNTY = 2,
    CJX_FILTER_CASE = 3, /* court case number */
};

/* Called on the writer thread after each commit that advanced the change
 * feed, with the newest sequence number. Must not block. */
typedef void (*cjx_store_commit_fn)(void *arg, int64_t last_seq);

struct cjx_store_ops {
    int (*submit_record)(struct cjx_store *s, const struct cjx_record_write *w,
                         cjx_store_write_done_fn done, void *arg);
    int (*get_record)(struct cjx_store *s, const char *cii, const char *ccn,
                      int32_t count, struct cjx_stored_record *out,
                      struct cjx_errbuf *eb);
    int (*list_records)(struct cjx_store *s, enum cjx_record_filter f,
                        const char *value, int64_t after_id, int limit,
                        cjx_store_visit_fn visit, void *arg, int64_t *last_id,
                        struct cjx_errbuf *eb);
    int (*read_changes)(struct cjx_store *s, int64_t after_seq, int limit,
                        cjx_store_visit_fn visit, void *arg,
                        struct cjx_errbuf *eb);
    int64_t (*last_seq)(struct cjx_store *s);
    void (*set_commit_hook)(struct cjx_store *s, cjx_store_commit_fn fn,
                            void *arg);
    void (*stored_record_fini)(struct cjx_stored_record *r);
    void (*close)(struct cjx_store *s);
};

/* Every backend's handle starts with this. */
struct cjx_store {
    const struct cjx_store_ops *ops;
};

struct cjx_store_sqlite_options {
    int max_batch;       /* writes per transaction at most; 0 = 1024 */
    int busy_timeout_ms; /* 0 = 5000 */
};

/* Opens (creating if needed) the SQLite database at path, runs pending schema
 * migrations and starts the writer thread. WAL journal, synchronous=FULL.
 * opts may be NULL. On success *out is a new store; close it with
 * cjx_store_close(). On failure returns CJX_ESTORE/CJX_EIO with detail. */
int cjx_store_sqlite_open(const char *path,
                          const struct cjx_store_sqlite_options *opts,
                          struct cjx_store **out, struct cjx_errbuf *eb);

/* Queues a write. Returns 0 if queued (done will be called exactly once), or
 * CJX_ECLOSED/CJX_EINVAL/CJX_ENOMEM without calling done. */
static inline int
cjx_store_submit_record(struct cjx_store *s, const struct cjx_record_write *w,
                        cjx_store_write_done_fn done, void *arg)
{
    return s->ops->submit_record(s, w, done, arg);
}

/* Fills *out with the record under the key. 0, CJX_ENOTFOUND or CJX_ESTORE.
 * Release with cjx_stored_record_fini(). */
static inline int
cjx_store_get_record(struct cjx_store *s, const char *cii, const char *ccn,
                     int32_t count, struct cjx_stored_record *out,
                     struct cjx_errbuf *eb)
{
    return s->ops->get_record(s, cii, ccn, count, out, eb);
}

static inline void
cjx_stored_record_fini(struct cjx_store *s, struct cjx_stored_record *r)
{
    s->ops->stored_record_fini(r);
}

/* Visits up to limit records matching the filter, in a stable order, starting
 * after the opaque position after_id (0 = first). *last_id receives the
 * position of the last record visited (for the next page), 0 if none. */
static inline int
cjx_store_list_records(struct cjx_store *s, enum cjx_record_filter f,
                       const char *value, int64_t after_id, int limit,
                       cjx_store_visit_fn visit, void *arg, int64_t *last_id,
                       struct cjx_errbuf *eb)
{
    return s->ops->list_records(s, f, value, after_id, limit, visit, arg,
                                last_id, eb);
}

/* Visits up to limit changes with seq > after_seq in ascending seq order.
 * Every committed change has a distinct seq and is visible to this call as
 * soon as its write's completion has run, so a reader that resumes after
 * the last seq it saw gets no gaps and no repeats. The record passed is the
 * version written by that change. */
static inline int
cjx_store_read_changes(struct cjx_store *s, int64_t after_seq, int limit,
                       cjx_store_visit_fn visit, void *arg,
                       struct cjx_errbuf *eb)
{
    return s->ops->read_changes(s, after_seq, limit, visit, arg, eb);
}

/* The newest committed change-feed position, 0 for an empty feed. */
static inline int64_t
cjx_store_last_seq(struct cjx_store *s)
{
    return s->ops->last_seq(s);
}

/* Installs the single commit hook (NULL removes it). */
static inline void
cjx_store_set_commit_hook(struct cjx_store *s, cjx_store_commit_fn fn,
                          void *arg)
{
    s->ops->set_commit_hook(s, fn, arg);
}

/* Completes every queued write, stops the writer and frees the store.
 * Accepts NULL. */
static inline void
cjx_store_close(struct cjx_store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

#endif
