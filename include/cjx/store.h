/* Durable storage for cjx: records, idempotency, change feed, audit log.
 * Backend-neutral.
 *
 * Nothing above this interface may assume SQLite: a PostgreSQL backend will
 * implement the same ops table. Records are stored as packed protobuf bytes
 * plus the key and index columns; the store never decodes them.
 *
 * Threading: every function may be called from any thread. Writes are queued
 * to a single writer that batches concurrent writes into one transaction
 * (group commit). Each write's completion runs only after that transaction
 * is durable, on the store's completion thread, never the caller's: with
 * SQLite a completer thread of its own, which answers committed
 * transactions in commit order while the writer commits the next; with
 * PostgreSQL the writer thread. The commit, audit and outcome hooks run on
 * the same thread, before the completions of the transaction that caused
 * them. Reads run on the calling thread.
 *
 * The audit log (include/cjx/audit.h) lives here too, because an event must
 * commit in the same transaction as the change it records. The writer is
 * its sequencer: it numbers each entry, chains it to the one before and,
 * with a signing key, signs a checkpoint every N entries or T seconds (and
 * on close) inside the transaction that made it due. */
#ifndef CJX_STORE_H
#define CJX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cjx/audit.h"
#include "cjx/error.h"

#define CJX_STORE_DIGEST_LEN 32 /* SHA-256 of the request bytes */

struct cjx_store;

/* One conviction-record write. Everything is borrowed for the duration of
 * cjx_store_submit_record() only: the store copies what it keeps. */
struct cjx_record_write {
    const char *sender_ori; /* agency that sent it: the idempotency scope */
    const char *request_id; /* sender-chosen, non-empty */
    uint8_t request_digest[CJX_STORE_DIGEST_LEN];
    const char *cii;
    const char *court_case_number;
    int32_t count_number;
    const char *county;
    const void *record; /* packed cjx.v1.ConvictionRecord */
    size_t record_len;
    const char *flags; /* comma-separated validation flags, or NULL */
    /* The audit event of the call that makes this write, or NULL: recorded
     * in the write's own transaction (and rolled back with it). The writer
     * completes it from what the write did: type STATE_CHANGE when a new
     * version was written and CALL otherwise (a replay, an unchanged
     * record, a conflict), outcome_code and outcome_message, change_seq
     * and record_version. */
    const struct cjx_audit_event *audit;
};

/* What a write did. With replayed set, the values are those of the first
 * write with the same (sender_ori, request_id), and nothing was changed. */
struct cjx_record_write_result {
    int err;            /* 0, CJX_ECONFLICT (same id, different digest),
                       CJX_ESTORE, CJX_ECLOSED, or CJX_EUNAVAIL (a shared
                       database was not reachable: nothing, or not known
                       what, was stored; a retry is answered by the
                       idempotency table) */
    int64_t version;    /* 1 for a new key; +1 per changed rewrite */
    int64_t seq;        /* change-feed position; 0 if unchanged */
    int unchanged;      /* identical record bytes were already stored */
    int replayed;       /* answered from the idempotency table */
    const char *detail; /* static or store-owned text for err, or NULL;
                           valid during the callback only */
    int64_t audit_seq;  /* the audit entry committed with the write (or by
                          an audit append); 0 if none was */
};

/* Called once per write, on the store's completion thread (see Threading
 * above), after the transaction holding the write is durable (or has
 * failed); writes are answered in the order they were committed. Must not
 * block: hand the result on. */
typedef void (*cjx_store_write_done_fn)(
    void *arg, const struct cjx_record_write_result *r);

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

/* Called on the completion thread after each commit that advanced the
 * change feed, with the newest sequence number; with PostgreSQL also on the
 * listener thread when another replica of the agency committed. Must not
 * block, and must take its own locks (two threads may call it). */
typedef void (*cjx_store_commit_fn)(void *arg, int64_t last_seq);

/* Called on the completion thread after each transaction of writes, before
 * the completions of its writes run: committed is 1 when it committed, 0
 * when it failed (disk full, the database locked or gone), with the store's detail (valid
 * during the call only). Tells whether the store can commit at all, which
 * no single write's answer does. Must not block. */
typedef void (*cjx_store_outcome_fn)(void *arg, int committed,
                                     const char *detail);

/* An audit entry or checkpoint as stored, borrowed for the duration of the
 * visit that receives it. */
struct cjx_stored_audit {
    int64_t seq;
    const void *body; /* packed cjx.v1.AuditEntry or cjx.v1.AuditCheckpoint */
    size_t body_len;
    const void *hash; /* entries: the stored hash; checkpoints: NULL */
    size_t hash_len;
};

/* Return non-zero to stop a visit early. */
typedef int (*cjx_store_audit_visit_fn)(void *arg,
                                        const struct cjx_stored_audit *a);

/* Called on the writer thread after each transaction it committed, with how
 * long the transaction took (BEGIN to COMMIT, microseconds) and how many
 * writes it held. Must not block: it feeds the metrics. */
typedef void (*cjx_store_stats_fn)(void *arg, int64_t commit_us, int writes);

struct cjx_store_case_ops;

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
    int (*append_audit)(struct cjx_store *s, const struct cjx_audit_event *ev,
                        cjx_store_write_done_fn done, void *arg);
    int (*read_audit)(struct cjx_store *s, int64_t after_seq, int limit,
                      cjx_store_audit_visit_fn visit, void *arg,
                      struct cjx_errbuf *eb);
    int (*read_audit_checkpoints)(struct cjx_store *s, int64_t after_seq,
                                  int limit, cjx_store_audit_visit_fn visit,
                                  void *arg, struct cjx_errbuf *eb);
    int64_t (*last_audit_seq)(struct cjx_store *s);
    int (*read_last_audit_checkpoint)(struct cjx_store *s,
                                      cjx_store_audit_visit_fn visit, void *arg,
                                      struct cjx_errbuf *eb);
    void (*set_stats_hook)(struct cjx_store *s, cjx_store_stats_fn fn,
                           void *arg);
    void (*set_audit_hook)(struct cjx_store *s, cjx_store_commit_fn fn,
                           void *arg);
    void (*set_outcome_hook)(struct cjx_store *s, cjx_store_outcome_fn fn,
                             void *arg);
    int (*set_audit_signer)(struct cjx_store *s, const char *key_pem,
                            const char *cert_pem, struct cjx_errbuf *eb);
    int (*lead)(struct cjx_store *s);
    void (*close)(struct cjx_store *s);
    /* The cases of the relief exchange: include/cjx/store_cases.h. */
    const struct cjx_store_case_ops *cases;
};

/* Every backend's handle starts with this. */
struct cjx_store {
    const struct cjx_store_ops *ops;
};

struct cjx_store_sqlite_options {
    int max_batch;       /* writes per transaction at most; 0 = 1024 */
    int busy_timeout_ms; /* 0 = 5000 */
    /* The daemon's private key and certificate chain (PEM, borrowed): they
     * sign audit checkpoints. Both NULL: the log is hash-chained but never
     * signed. The key is parsed at open and released (wiped) at close. */
    const char *audit_key_pem;
    const char *audit_cert_pem;
    int audit_checkpoint_entries; /* sign every N entries; 0 = 1000 */
    int audit_checkpoint_seconds; /* or when T s passed since the last
                                     checkpoint and entries were added;
                                     0 = 60 */
};

/* Opens (creating if needed) the SQLite database at path, runs pending schema
 * migrations and starts the writer thread. WAL journal, synchronous=FULL.
 * opts may be NULL. On success *out is a new store; close it with
 * cjx_store_close(). On failure returns CJX_ESTORE/CJX_EIO with detail, or
 * CJX_ETLS for an audit key or certificate that does not parse or match. */
int cjx_store_sqlite_open(const char *path,
                          const struct cjx_store_sqlite_options *opts,
                          struct cjx_store **out, struct cjx_errbuf *eb);

/* Test hook of the SQLite backend: while paused the writer takes no new
 * batch, so writes submitted meanwhile are committed together when it
 * resumes (tests use it to make a batch deterministic). */
void cjx_store_sqlite_pause(struct cjx_store *s, int paused);

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
 * position of the last record visited (for the next page), 0 if none; a
 * record at which visit asked to stop is not counted, so a page that ends
 * early (its byte budget is spent) resumes with that record. */
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

/* Queues an audit entry for ev (borrowed; copied before this returns) that
 * goes with no write: a read, a refused call, an admin action. It is group
 * committed with the other writes. done may be NULL for a caller that need
 * not wait: such entries may be held back a few milliseconds to share a
 * commit, and a failure to record them is logged by the store. Otherwise
 * done is called once, as for a record write, with err and audit_seq set.
 * Returns 0 if queued, or CJX_ECLOSED/CJX_EINVAL/CJX_ENOMEM (done is then
 * not called). */
static inline int
cjx_store_append_audit(struct cjx_store *s, const struct cjx_audit_event *ev,
                       cjx_store_write_done_fn done, void *arg)
{
    return s->ops->append_audit(s, ev, done, arg);
}

/* Visits up to limit audit entries with seq > after_seq in ascending seq
 * order, as stored (the store does not verify them). */
static inline int
cjx_store_read_audit(struct cjx_store *s, int64_t after_seq, int limit,
                     cjx_store_audit_visit_fn visit, void *arg,
                     struct cjx_errbuf *eb)
{
    return s->ops->read_audit(s, after_seq, limit, visit, arg, eb);
}

/* Visits up to limit audit checkpoints with seq > after_seq in ascending
 * seq order; a checkpoint's seq is that of the entry it signs. */
static inline int
cjx_store_read_audit_checkpoints(struct cjx_store *s, int64_t after_seq,
                                 int limit, cjx_store_audit_visit_fn visit,
                                 void *arg, struct cjx_errbuf *eb)
{
    return s->ops->read_audit_checkpoints(s, after_seq, limit, visit, arg, eb);
}

/* The newest committed audit entry's seq, 0 for an empty log. */
static inline int64_t
cjx_store_last_audit_seq(struct cjx_store *s)
{
    return s->ops->last_audit_seq(s);
}

/* Visits the newest audit checkpoint, if there is one (visit is then
 * called once). 0 or CJX_ESTORE/CJX_EINVAL. */
static inline int
cjx_store_read_last_audit_checkpoint(struct cjx_store *s,
                                     cjx_store_audit_visit_fn visit, void *arg,
                                     struct cjx_errbuf *eb)
{
    return s->ops->read_last_audit_checkpoint(s, visit, arg, eb);
}

/* Installs the single stats hook (NULL removes it). */
static inline void
cjx_store_set_stats_hook(struct cjx_store *s, cjx_store_stats_fn fn, void *arg)
{
    s->ops->set_stats_hook(s, fn, arg);
}

/* Installs the single audit hook (NULL removes it): called on the
 * completion thread after each commit that added audit entries, with the newest
 * entry's seq. Must not block. */
static inline void
cjx_store_set_audit_hook(struct cjx_store *s, cjx_store_commit_fn fn, void *arg)
{
    s->ops->set_audit_hook(s, fn, arg);
}

/* Installs the single outcome hook (NULL removes it); once it is removed
 * it is no longer running. */
static inline void
cjx_store_set_outcome_hook(struct cjx_store *s, cjx_store_outcome_fn fn,
                           void *arg)
{
    s->ops->set_outcome_hook(s, fn, arg);
}

/* Replaces the key and certificate that sign checkpoints from now on (a
 * certificate renewal); both NULL stops signing. On error (CJX_ETLS,
 * CJX_EINVAL, CJX_ENOMEM) the current ones stay. */
static inline int
cjx_store_set_audit_signer(struct cjx_store *s, const char *key_pem,
                           const char *cert_pem, struct cjx_errbuf *eb)
{
    return s->ops->set_audit_signer(s, key_pem, cert_pem, eb);
}

/* Whether this daemon does its agency's singleton work now (the stand-in
 * policies): 1 when it does, 0 when another replica of the agency does or
 * the database cannot be reached to tell. A backend that serves one daemon
 * (SQLite) always leads. A shared one (PostgreSQL) holds a session-level
 * lock of the database on a connection of its own: leadership ends with
 * that connection (the process killed, the server restarted), and another
 * replica takes it at its next call. Ask again before each piece of such
 * work, and keep the work idempotent: a replica whose connection was cut
 * learns it only at its next call, when another may already lead. */
static inline int
cjx_store_lead(struct cjx_store *s)
{
    return s->ops->lead(s);
}

/* Completes every queued write, signs a last checkpoint if entries are
 * unsigned, stops the writer and frees the store. Accepts NULL. */
static inline void
cjx_store_close(struct cjx_store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

#endif
