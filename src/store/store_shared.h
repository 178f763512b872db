/* What every backend shares: copying an audit event into a queued write
 * (write_copy.c), checking what a case's apply function returned (cases.c),
 * copying what a read found (stored_copy.c), and the reads' argument
 * checks and visitors (store_shared.c). */
#ifndef CJX_STORE_SHARED_H
#define CJX_STORE_SHARED_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cjx/audit.h"
#include "cjx/store.h"
#include "cjx/store_cases.h"

/* The room an event's text takes. */
size_t cjx_store_writer_event_size(const struct cjx_audit_event *ev);
/* Copies ev into dst, its text at *p (advanced past it). */
void cjx_store_writer_event_copy(struct cjx_audit_event *dst,
                                 const struct cjx_audit_event *ev, char **p);

/* A record write queued by a writer (write_copy.c): the room its copy takes
 * (0 for a write the store refuses: a key, sender, id or county missing,
 * or a record too large), and the copy into dst, its bytes at p, with its
 * event into ev. Returns whether it has an event. */
size_t cjx_store_record_write_size(const struct cjx_record_write *w);
int cjx_store_record_write_copy(struct cjx_record_write *dst,
                                struct cjx_audit_event *ev,
                                const struct cjx_record_write *w, char *p);

/* A case message queued by a writer (cases.c, pg_cases.c): whether it can
 * be queued (CJX_EINVAL when an id or the key is empty, or it has no apply
 * function or no completion), the room its copy takes, and the copy into
 * dst and ev (has_event set with an event), its text at *p. */
int cjx_store_case_write_check(const struct cjx_case_write *w,
                               const void *done);
size_t cjx_store_case_write_size(const struct cjx_case_write *w);
void cjx_store_case_write_copy(struct cjx_record_write *dst,
                               struct cjx_audit_event *ev, int *has_event,
                               const struct cjx_case_write *w, char **p);

/* Outbox marks queued by a writer: the room their copy takes, the array
 * and then their reasons (0 with CJX_EINVAL in *err for a mark that is not
 * one), and the copy of m into room (aligned for the array), which returns
 * the copied array. */
size_t cjx_store_marks_size(const struct cjx_outbox_mark *m, size_t n,
                            int *err);
struct cjx_outbox_mark *
cjx_store_marks_put(void *room, const struct cjx_outbox_mark *m, size_t n);

/* Room for the destination of a queued cjx_store_outbox_due_now: an ORI. */
#define STORE_DESTINATION_MAX 16
/* Copies destination into dst (room STORE_DESTINATION_MAX): 0, or
 * CJX_EINVAL for NULL, "" or a longer one. */
int cjx_store_destination_copy(char *dst, const char *destination);

/* What a write's event says it did (write_copy.c): CALL with why for a
 * replay, an unchanged record or a conflict (whose text is
 * cjx_store_conflict_detail), STATE_CHANGE for a new version. */
extern const char cjx_store_conflict_detail[];
void cjx_store_complete_event(struct cjx_audit_event *ev,
                              const struct cjx_record_write_result *r);

/* The record version a case step made (next->record) as a write under
 * the key of the case message msg (a queued copy), by its sender; flags
 * "" for none. Borrows from both. */
struct cjx_record_write
cjx_store_step_record(const struct cjx_record_write *msg,
                      const struct cjx_case_next *next);

/* Whether an apply function's next version can be stored: a body, a
 * county, a version, and outbox rows that all carry one message. */
int cjx_store_case_next_is_sane(const struct cjx_case_next *n);

/* Copies a borrowed record, or case (and its notice, may be NULL), into
 * one allocation that *out owns (its owned_). 0 or CJX_ENOMEM. */
int cjx_store_record_copy(const struct cjx_stored_record *src,
                          struct cjx_stored_record *out);
int cjx_store_case_copy(const struct cjx_stored_case *src, const void *notice,
                        size_t notice_len, struct cjx_stored_case *out);

/* The hooks of a store's case feed. The mutex is recursive and held while
 * they run, so that removing a hook guarantees it is no longer running,
 * even from inside it. */
struct cjx_store_case_hooks {
    pthread_mutex_t mu;
    struct {
        cjx_store_case_hook_fn fn;
        void *arg;
    } at[CJX_STORE_MAX_CASE_HOOKS];
    int n;
};
void cjx_store_case_hooks_init(struct cjx_store_case_hooks *h);
void cjx_store_case_hooks_fini(struct cjx_store_case_hooks *h);
/* 0, CJX_EINVAL (no fn) or CJX_ELIMIT (full). */
int cjx_store_case_hooks_add(struct cjx_store_case_hooks *h,
                             cjx_store_case_hook_fn fn, void *arg);
void cjx_store_case_hooks_remove(struct cjx_store_case_hooks *h,
                                 cjx_store_case_hook_fn fn, void *arg);
void cjx_store_case_hooks_run(struct cjx_store_case_hooks *h, int64_t last_seq,
                              size_t outbox_added);

/* The record under a case write's key, read once, on demand, by both
 * writers: the apply function's cjx_case_current_record() and the write of
 * a new record version. find is the backend's read: 0 with *out filled
 * (body NULL for no record), or non-zero when it failed. */
struct cjx_store_lazy_record {
    int (*find)(struct cjx_store_lazy_record *lr, struct cjx_case_record *out);
    int read;
    int err; /* of find */
    struct cjx_case_record found;
};
/* Reads the record unless read before: find's result. */
int cjx_store_lazy_record_read(struct cjx_store_lazy_record *lr);
/* The read_record_ of struct cjx_case_current, reader a lazy record. */
int cjx_store_lazy_record_get(void *reader, struct cjx_case_record *out);

/* What a case write's apply function decided, kept with the queued write
 * so that a second run of it (its batch run again after another write
 * failed, in both writers) does not call the function again: the first
 * decision was made on the same stored case. asked_record: the function
 * read the record under the key, which a second run reads again (a failed
 * read fails the write). Zeroed with the write. */
struct cjx_store_case_decision {
    int made, asked_record;
    struct cjx_case_next next;
};
/* Calls apply(arg, cur, ...) on the first run, with rec as cur's record
 * reader; returns the decision. */
const struct cjx_case_next *cjx_store_case_decide(
    struct cjx_store_case_decision *d, cjx_case_apply_fn apply, void *arg,
    const struct cjx_case_current *cur, struct cjx_store_lazy_record *rec);

/* The set_audit_signer op: a signer for key_pem and cert_pem (both NULL:
 * none) replaces *slot under mu; on error the current one stays. */
int cjx_store_replace_signer(pthread_mutex_t *mu,
                             struct cjx_audit_signer **slot,
                             const char *key_pem, const char *cert_pem,
                             struct cjx_errbuf *eb);

/* A writer's signing of audit checkpoints: the signer in *signer (under
 * mu), signing every interval_entries entries, and whether its last try
 * failed (failures are logged once per run of them). */
struct cjx_store_signing {
    pthread_mutex_t *mu;
    struct cjx_audit_signer *const *signer;
    int interval_entries;
    int *failed;
};

/* An audit chain as a checkpoint sees it: the newest entry (seq, hash),
 * and the chain's count of entries since its last checkpoint and the time
 * of that checkpoint, both updated. */
struct cjx_store_chain_head {
    int64_t seq;
    const uint8_t *hash;
    int64_t *unsigned_count;
    int64_t *checkpoint_us;
};

/* Stores a signed checkpoint's body inside the writer's open transaction:
 * 0, or the backend's error with msg filled. */
typedef int (*cjx_store_checkpoint_put_fn)(void *store, int64_t seq,
                                           const uint8_t *body, size_t len,
                                           char *msg, size_t msg_len);

/* Signs a checkpoint over the chain's newest entry and stores it with put,
 * which then restarts the chain's count and time. Without a signer
 * nothing is done; when signing fails nothing is stored and the chain's
 * time is set to now, so that the interval, not every entry, tries again.
 * Returns put's error, else 0. */
int cjx_store_write_checkpoint(const struct cjx_store_signing *sg,
                               const struct cjx_store_chain_head *chain,
                               cjx_store_checkpoint_put_fn put, void *store,
                               char *msg, size_t msg_len);

/* ---- what a read hands its rows to ------------------------------------ */

/* A read's visitor and its argument, as both backends' row-visiting loops
 * carry them to the function that turns a row into what the visitor takes:
 * records (paged by the row's first column), audit entries, cases (paged
 * by id in listings, by seq in the feed), outbox rows (the due ones with
 * their payload), and counts (delivered ones only when asked, -1
 * otherwise). */
struct cjx_store_record_visitor {
    cjx_store_visit_fn visit;
    void *arg;
};
struct cjx_store_audit_visitor {
    cjx_store_audit_visit_fn visit;
    void *arg;
};
struct cjx_store_case_visitor {
    cjx_store_case_visit_fn visit;
    void *arg;
    int by_seq;
};
struct cjx_store_outbox_visitor {
    cjx_store_outbox_visit_fn visit;
    void *arg;
    int with_payload;
};
struct cjx_store_outbox_count_visitor {
    cjx_store_outbox_count_fn visit;
    void *arg;
    int with_delivered;
};
struct cjx_store_case_count_visitor {
    cjx_store_case_count_fn visit;
    void *arg;
};

/* ---- the arguments every backend's reads check (store_shared.c) ------ */

/* Each returns 0, or CJX_EINVAL with eb naming the op and what it lacks,
 * before a backend touches its database. */

/* Whether v is set: not NULL and not "" (an unset filter). */
int cjx_store_set(const char *v);
/* get_record, get_case: a key and somewhere to put what is found. */
int cjx_store_check_get(const char *op, const char *cii, const char *ccn,
                        const void *out, struct cjx_errbuf *eb);
/* A page of a listing or a feed: a visitor, a position after >= 0 (what
 * names it: "position" or "seq") and a limit > 0. */
int cjx_store_check_page(const char *op, const char *what, int has_visitor,
                         int64_t after, int limit, struct cjx_errbuf *eb);
/* list_records: a known filter with a value, and a page. */
int cjx_store_check_list_records(enum cjx_record_filter f, const char *value,
                                 int has_visitor, int64_t after_id, int limit,
                                 struct cjx_errbuf *eb);
/* list_cases: a page; a NULL filter (*f) becomes the empty one, which
 * every case passes. */
int cjx_store_check_list_cases(const struct cjx_case_filter **f,
                               int has_visitor, int64_t after_id, int limit,
                               struct cjx_errbuf *eb);
/* outbox_due: a destination, a visitor, a limit and 0 <= partition <
 * partitions. */
int cjx_store_check_outbox_due(const char *destination, int has_visitor,
                               int partition, int partitions, int limit,
                               struct cjx_errbuf *eb);
/* outbox_next_due: a destination and somewhere to put the time. */
int cjx_store_check_outbox_next_due(const char *destination, int has_out,
                                    struct cjx_errbuf *eb);
/* outbox_list: a known filter and a page. */
int cjx_store_check_outbox_list(enum cjx_outbox_which which, int has_visitor,
                                int64_t after_id, int limit,
                                struct cjx_errbuf *eb);
/* outbox_counts, case_counts: a visitor. */
int cjx_store_check_visitor(const char *op, int has_visitor,
                            struct cjx_errbuf *eb);

/* The stored_record_fini and stored_case_fini ops: both backends fill a
 * record or case in one allocation (stored_copy.c). */
void cjx_store_reader_fini_record(struct cjx_stored_record *rec);
void cjx_store_cases_fini(struct cjx_stored_case *c);

#endif
