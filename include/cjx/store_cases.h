/* Durable storage of the relief exchange: cases, the idempotent inbox of
 * case messages, the case feed and the outbox of hand-offs to peers.
 * Backend-neutral, part of the store interface (include/cjx/store.h).
 *
 * A case is stored as its packed cjx.v1.Case plus indexed columns (county,
 * state, the deadline of the step it waits for). The store never decodes a
 * case: whoever writes one hands it a function that computes the next
 * version from the current one (the workflow, which the store does not
 * know), and the writer calls it inside the transaction that stores the
 * result, on its single thread, so that the check and the write see the
 * same case. Everything a message changes commits together: the new
 * version, the inbox entry, the outbox rows and the audit event.
 *
 * Threading is that of the store: writes are queued to the single writer
 * and group-committed; reads run on the calling thread. */
#ifndef CJX_STORE_CASES_H
#define CJX_STORE_CASES_H

#include "cjx/store.h"

/* The conviction record under a case's key in this store's record table
 * (the agency's criminal history or record of judgment), which a step may
 * rewrite. */
struct cjx_case_record {
    const void *body; /* packed cjx.v1.ConvictionRecord; NULL for none */
    size_t len;
    int64_t version; /* 0 when there is none */
};

/* The stored case a write applies to, as the apply function sees it. */
struct cjx_case_current {
    const void *body; /* packed cjx.v1.Case; NULL when no case has the key */
    size_t body_len;
    int64_t version;  /* 0 when there is none */
    int64_t next_seq; /* the case-feed position a new version will take */
    /* The store's reader of the record under the key: use
     * cjx_case_current_record(). */
    int (*read_record_)(void *reader, struct cjx_case_record *out);
    void *reader_;
};

/* Fills *out with the record under the case's key, read from the store on
 * the first call only: most steps (a decision, a receipt) never look at
 * the record and so cost no read. *out stays valid until the apply
 * function returns. Returns 0, or CJX_ESTORE when the read failed; the
 * store then fails the write itself, whatever the apply function
 * decides. */
static inline int
cjx_case_current_record(const struct cjx_case_current *cur,
                        struct cjx_case_record *out)
{
    return cur->read_record_(cur->reader_, out);
}

/* One hand-off a transition sends to a peer: a row of the outbox. */
struct cjx_outbox_put {
    const char *destination_ori;
    const char
        *method; /* RPC path of the payload, "/cjx.v1.CaseService/Decide" */
    const void *payload; /* the packed request */
    size_t payload_len;
};

/* What an apply function decided. What it points to must stay valid until
 * the write's completion has run (the writer copies it into the database
 * inside the transaction). */
struct cjx_case_next {
    int err;            /* 0, or the CJX code refusing the message */
    const char *detail; /* with err */
    /* The message repeats a step the case has taken, under a new id: only
     * the inbox entry is stored. */
    int unchanged;
    /* The new version (err == 0 && !unchanged): */
    const void *body; /* packed cjx.v1.Case, whose seq is cur->next_seq */
    size_t body_len;
    const char *county;
    int state; /* enum cjx_case_state */
    int event; /* enum cjx_case_event_kind of the step */
    int64_t version;
    int64_t due_us; /* deadline of the step the case waits for; 0 = none */
    /* The document that opened the case (a packed CandidateNotice), kept
     * once per case; NULL for none. */
    const void *notice;
    size_t notice_len;
    /* Hand-offs the step sends, all of one message (the same method and
     * payload) to several peers: the payload is stored once. */
    const struct cjx_outbox_put *outbox;
    size_t n_outbox;
    /* A new version of the conviction record under the case's key, written
     * in the same transaction as the case (DESIGN.md invariant 6): the
     * record a notice brings where the store has none, or the record after
     * an order. NULL for none. It takes the next record version and a
     * record-feed position, so followers of the record feed see it (the
     * store reads the version it replaces if the apply function did
     * not). */
    const void *record; /* packed cjx.v1.ConvictionRecord */
    size_t record_len;
    const char *record_county;
    const char *record_flags; /* comma-separated, or NULL */
};

/* Called once per write on the writer thread, inside its transaction, with
 * the case as stored. Must fill *next (zeroed on entry) and not block. */
typedef void (*cjx_case_apply_fn)(void *arg, const struct cjx_case_current *cur,
                                  struct cjx_case_next *next);

/* One case message. Borrowed for cjx_store_submit_case() only, except
 * apply_arg, which must stay valid until the completion has run. */
struct cjx_case_write {
    const char *sender_ori; /* the idempotency scope */
    const char *request_id; /* the sender's message id, non-empty */
    uint8_t request_digest[CJX_STORE_DIGEST_LEN];
    const char *cii;
    const char *court_case_number;
    int32_t count_number;
    cjx_case_apply_fn apply;
    void *apply_arg;
    /* The call's audit event, or NULL. A message that changes the case (or
     * repeats a step, or replays an id) records it in its own transaction:
     * STATE_CHANGE for a new version, CALL otherwise. A refusal records
     * nothing: the caller records the refused call. */
    const struct cjx_audit_event *audit;
};

/* What a case write did. */
struct cjx_case_write_result {
    /* 0; CJX_ECONFLICT (the id was used for other content); the apply
     * function's refusal; CJX_ESTORE; CJX_ECLOSED. */
    int err;
    const char *detail; /* valid during the callback only */
    int replayed;       /* answered from the inbox: nothing changed */
    int unchanged;      /* a repeated step: only the inbox entry stored */
    int64_t version;    /* of the new version (0 for a replay) */
    int64_t seq;        /* case-feed position of the new version, or 0 */
    size_t outbox_added;
    /* What the message is answered with, now and whenever its id comes
     * again: the case version it made (or, for a repeated step, found;
     * for a replay, the first message's), packed cjx.v1.Case, with
     * unchanged as above. Valid during the callback only. */
    const void *snapshot;
    size_t snapshot_len;
    int64_t audit_seq; /* the audit entry committed with it, 0 if none */
    /* The record version the step wrote (see cjx_case_next.record) and its
     * record-feed position; 0 when it wrote none. */
    int64_t record_version;
    int64_t record_seq;
};

/* Called once per write on a store thread after its transaction is durable
 * (or failed). Must not block. */
typedef void (*cjx_case_write_done_fn)(void *arg,
                                       const struct cjx_case_write_result *r);

/* A case as stored, borrowed for the visit (or until
 * cjx_stored_case_fini() for one filled by cjx_store_get_case()). */
struct cjx_stored_case {
    int64_t id; /* listing position */
    const char *cii;
    const char *court_case_number;
    int32_t count_number;
    const char *county;
    int state;
    int64_t due_us; /* 0 = none */
    int64_t version;
    int64_t seq;
    /* The case's newest version's seq: in the feed, greater than seq when
     * the case has moved on since. */
    int64_t current_seq;
    int event;              /* the step that made this version */
    const char *sender_ori; /* who sent that step */
    int64_t stored_at_us;
    const void *body; /* packed cjx.v1.Case */
    size_t body_len;
    const void *notice; /* get with the notice only; else NULL */
    size_t notice_len;
    void *owned_;
};

/* Return non-zero to stop a visit early. */
typedef int (*cjx_store_case_visit_fn)(void *arg,
                                       const struct cjx_stored_case *c);

/* Which cases a listing visits: every condition set must hold. */
struct cjx_case_filter {
    const char *county;    /* NULL or "": any */
    const char *cii;       /* NULL or "": any */
    int state;             /* 0: any */
    int64_t due_before_us; /* > 0: only cases whose deadline is before it */
};

/* One outbox row, borrowed for the visit. */
struct cjx_outbox_row {
    int64_t id;
    const char *message_id;
    const char *destination_ori;
    const char *method;
    const char *cii;
    const char *court_case_number;
    int32_t count_number;
    const void *payload; /* outbox_due only; NULL in listings */
    size_t payload_len;
    int64_t created_us;
    int attempts;
    int64_t next_attempt_us;
    const char *last_error;
    int64_t delivered_us; /* 0 while pending */
    int parked;
};

typedef int (*cjx_store_outbox_visit_fn)(void *arg,
                                         const struct cjx_outbox_row *r);

enum cjx_outbox_which {
    CJX_OUTBOX_PENDING = 0,
    CJX_OUTBOX_PARKED = 1,
    CJX_OUTBOX_DELIVERED = 2,
    CJX_OUTBOX_ALL = 3,
};

/* Rows of one destination by status. */
struct cjx_outbox_count {
    const char *destination_ori;
    int64_t pending;
    int64_t delivered; /* -1 when not counted */
    int64_t parked;
    int64_t oldest_pending_us; /* created time; 0 when none is pending */
};

typedef int (*cjx_store_outbox_count_fn)(void *arg,
                                         const struct cjx_outbox_count *c);

/* How many current cases of one county are in one state, and how many of
 * them are past the deadline of that state. Borrowed for the visit. */
struct cjx_case_count {
    const char *county;
    int state; /* cjx.v1.CaseState */
    int64_t cases;
    int64_t overdue;
};

typedef int (*cjx_store_case_count_fn)(void *arg,
                                       const struct cjx_case_count *c);

/* What became of one delivery attempt. */
enum cjx_outbox_outcome {
    CJX_OUTBOX_MARK_DELIVERED = 1, /* acknowledged: never sent again */
    CJX_OUTBOX_MARK_RETRY = 2,     /* try again at next_attempt_us */
    CJX_OUTBOX_MARK_PARK = 3,      /* refused for good: stop, keep why */
};

struct cjx_outbox_mark {
    int64_t id;
    enum cjx_outbox_outcome outcome;
    int64_t next_attempt_us; /* RETRY */
    const char *error;       /* RETRY and PARK: why; copied */
};

/* Called on a store thread after each committed case write that stored a
 * new version or outbox rows, with the newest case-feed position and the
 * number of rows it added. Must not block. */
typedef void (*cjx_store_case_hook_fn)(void *arg, int64_t last_case_seq,
                                       size_t outbox_added);

#define CJX_STORE_MAX_CASE_HOOKS 8

struct cjx_store_case_ops {
    int (*submit_case)(struct cjx_store *s, const struct cjx_case_write *w,
                       cjx_case_write_done_fn done, void *arg);
    int (*get_case)(struct cjx_store *s, const char *cii, const char *ccn,
                    int32_t count, int with_notice, struct cjx_stored_case *out,
                    struct cjx_errbuf *eb);
    void (*stored_case_fini)(struct cjx_stored_case *c);
    int (*list_cases)(struct cjx_store *s, const struct cjx_case_filter *f,
                      int64_t after_id, int limit,
                      cjx_store_case_visit_fn visit, void *arg,
                      int64_t *last_id, struct cjx_errbuf *eb);
    int (*read_case_changes)(struct cjx_store *s, int64_t after_seq, int limit,
                             cjx_store_case_visit_fn visit, void *arg,
                             struct cjx_errbuf *eb);
    int64_t (*last_case_seq)(struct cjx_store *s);
    int (*add_case_hook)(struct cjx_store *s, cjx_store_case_hook_fn fn,
                         void *arg);
    void (*remove_case_hook)(struct cjx_store *s, cjx_store_case_hook_fn fn,
                             void *arg);
    int (*outbox_due)(struct cjx_store *s, const char *destination,
                      int64_t now_us, int partition, int partitions, int limit,
                      cjx_store_outbox_visit_fn visit, void *arg,
                      struct cjx_errbuf *eb);
    int (*outbox_next_due)(struct cjx_store *s, const char *destination,
                           int64_t *next_us, struct cjx_errbuf *eb);
    int (*outbox_list)(struct cjx_store *s, enum cjx_outbox_which which,
                       const char *destination, int64_t after_id, int limit,
                       cjx_store_outbox_visit_fn visit, void *arg,
                       int64_t *last_id, struct cjx_errbuf *eb);
    int (*outbox_counts)(struct cjx_store *s, int with_delivered,
                         cjx_store_outbox_count_fn visit, void *arg,
                         struct cjx_errbuf *eb);
    int (*case_counts)(struct cjx_store *s, int64_t now_us,
                       cjx_store_case_count_fn visit, void *arg,
                       struct cjx_errbuf *eb);
    int (*outbox_mark)(struct cjx_store *s, const struct cjx_outbox_mark *m,
                       size_t n, cjx_store_write_done_fn done, void *arg);
    int (*outbox_due_now)(struct cjx_store *s, const char *destination,
                          int64_t now_us, cjx_store_write_done_fn done,
                          void *arg);
};

/* Queues a case message. Returns 0 if queued (done is called exactly
 * once), or CJX_EINVAL/CJX_ECLOSED/CJX_ENOMEM without calling done. On the
 * writer thread the message is checked against the inbox first: the same
 * (sender, id) with the same digest is a replay (answered with the stored
 * reply, nothing else runs), with another digest CJX_ECONFLICT. Otherwise
 * w->apply computes the next version from the stored case. The inbox keeps
 * the seq of the version the message was answered with, so a replay gets
 * the same snapshot back. */
static inline int
cjx_store_submit_case(struct cjx_store *s, const struct cjx_case_write *w,
                      cjx_case_write_done_fn done, void *arg)
{
    return s->ops->cases->submit_case(s, w, done, arg);
}

/* Fills *out with the current version of the case (and the notice that
 * opened it when with_notice). 0, CJX_ENOTFOUND or CJX_ESTORE. Release
 * with cjx_stored_case_fini(). */
static inline int
cjx_store_get_case(struct cjx_store *s, const char *cii, const char *ccn,
                   int32_t count, int with_notice, struct cjx_stored_case *out,
                   struct cjx_errbuf *eb)
{
    return s->ops->cases->get_case(s, cii, ccn, count, with_notice, out, eb);
}

static inline void
cjx_stored_case_fini(struct cjx_store *s, struct cjx_stored_case *c)
{
    s->ops->cases->stored_case_fini(c);
}

/* Visits up to limit current cases matching f in a stable order, after the
 * opaque position after_id (0 = first). *last_id receives the position of
 * the last case visited, 0 if none; a case at which visit asked to stop is
 * not counted (the next page starts with it). f may be NULL (every case). */
static inline int
cjx_store_list_cases(struct cjx_store *s, const struct cjx_case_filter *f,
                     int64_t after_id, int limit, cjx_store_case_visit_fn visit,
                     void *arg, int64_t *last_id, struct cjx_errbuf *eb)
{
    return s->ops->cases->list_cases(s, f, after_id, limit, visit, arg, last_id,
                                     eb);
}

/* The case feed: visits up to limit versions with seq > after_seq in
 * ascending seq order, each as that change wrote it. As for records, a
 * reader that resumes after the last seq it saw gets no gaps and no
 * repeats. */
static inline int
cjx_store_read_case_changes(struct cjx_store *s, int64_t after_seq, int limit,
                            cjx_store_case_visit_fn visit, void *arg,
                            struct cjx_errbuf *eb)
{
    return s->ops->cases->read_case_changes(s, after_seq, limit, visit, arg,
                                            eb);
}

/* The newest committed case-feed position, 0 for an empty feed. */
static inline int64_t
cjx_store_last_case_seq(struct cjx_store *s)
{
    return s->ops->cases->last_case_seq(s);
}

/* Adds a hook (at most CJX_STORE_MAX_CASE_HOOKS; else CJX_ELIMIT). Removing
 * it guarantees it is no longer running, even from inside it. */
static inline int
cjx_store_add_case_hook(struct cjx_store *s, cjx_store_case_hook_fn fn,
                        void *arg)
{
    return s->ops->cases->add_case_hook(s, fn, arg);
}

static inline void
cjx_store_remove_case_hook(struct cjx_store *s, cjx_store_case_hook_fn fn,
                           void *arg)
{
    s->ops->cases->remove_case_hook(s, fn, arg);
}

/* Visits up to limit outbox rows for destination that are neither
 * delivered nor parked and are due at now_us (next attempt at or before
 * it), oldest attempt first, payload included. Only rows whose id %
 * partitions == partition are visited, so that several senders to one
 * peer never take the same row.
 *
 * A backend that several replicas share (PostgreSQL) also leases each
 * row visited to the calling replica until now_us plus its lease time:
 * no other replica gets it meanwhile, and it is due again when the lease
 * ends unless a mark (cjx_store_outbox_mark) came first. Rows the visitor
 * refused (it asked to stop) are given back at once. So the caller marks
 * every row it took; one it loses (the replica dies) is sent again by
 * another replica, which the receiver's inbox makes harmless. */
static inline int
cjx_store_outbox_due(struct cjx_store *s, const char *destination,
                     int64_t now_us, int partition, int partitions, int limit,
                     cjx_store_outbox_visit_fn visit, void *arg,
                     struct cjx_errbuf *eb)
{
    return s->ops->cases->outbox_due(s, destination, now_us, partition,
                                     partitions, limit, visit, arg, eb);
}

/* *next_us = the earliest next attempt of a pending row for destination
 * (for a leased row, the end of its lease if later), 0 when none is
 * pending. */
static inline int
cjx_store_outbox_next_due(struct cjx_store *s, const char *destination,
                          int64_t *next_us, struct cjx_errbuf *eb)
{
    return s->ops->cases->outbox_next_due(s, destination, next_us, eb);
}

/* Visits outbox rows (without payload) by id after after_id; destination
 * NULL or "" for every peer. *last_id gets the id of the last row visited;
 * a row at which visit asked to stop is not counted. */
static inline int
cjx_store_outbox_list(struct cjx_store *s, enum cjx_outbox_which which,
                      const char *destination, int64_t after_id, int limit,
                      cjx_store_outbox_visit_fn visit, void *arg,
                      int64_t *last_id, struct cjx_errbuf *eb)
{
    return s->ops->cases->outbox_list(s, which, destination, after_id, limit,
                                      visit, arg, last_id, eb);
}

/* Visits the case counts of every (county, state) that has cases, with
 * "overdue" judged at now_us: the metrics' cases by state and county. */
static inline int
cjx_store_case_counts(struct cjx_store *s, int64_t now_us,
                      cjx_store_case_count_fn visit, void *arg,
                      struct cjx_errbuf *eb)
{
    return s->ops->cases->case_counts(s, now_us, visit, arg, eb);
}

/* Visits the counts of every destination that has rows. Delivered rows are
 * counted only with with_delivered (which reads the whole outbox). */
static inline int
cjx_store_outbox_counts(struct cjx_store *s, int with_delivered,
                        cjx_store_outbox_count_fn visit, void *arg,
                        struct cjx_errbuf *eb)
{
    return s->ops->cases->outbox_counts(s, with_delivered, visit, arg, eb);
}

/* Queues what became of n delivery attempts, in one write. done (may be
 * NULL) is called as for a record write, with err only. Returns 0 if
 * queued, or CJX_EINVAL/CJX_ECLOSED/CJX_ENOMEM. */
static inline int
cjx_store_outbox_mark(struct cjx_store *s, const struct cjx_outbox_mark *m,
                      size_t n, cjx_store_write_done_fn done, void *arg)
{
    return s->ops->cases->outbox_mark(s, m, n, done, arg);
}

/* Queues making every pending row for destination due at now_us: a row
 * whose next attempt is later is brought forward to now_us; its attempts
 * and last error stay as they are, so its backoff resumes where it was if
 * it fails again. The delivery worker calls it when a peer it could not
 * reach is reachable again. A leased row (PostgreSQL) keeps its lease.
 * done (may be NULL) is called as for cjx_store_outbox_mark. Returns 0 if
 * queued, or CJX_EINVAL (destination not an ORI)/CJX_ECLOSED/CJX_ENOMEM. */
static inline int
cjx_store_outbox_due_now(struct cjx_store *s, const char *destination,
                         int64_t now_us, cjx_store_write_done_fn done,
                         void *arg)
{
    return s->ops->cases->outbox_due_now(s, destination, now_us, done, arg);
}

#endif
