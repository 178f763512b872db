/* What every backend shares: the table of case hooks, the swap of the
 * audit signer, the signing of checkpoints and the checks of the reads'
 * arguments (store_shared.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "cjx/log.h"

#include "store_shared.h"

void
cjx_store_case_hooks_init(struct cjx_store_case_hooks *h)
{
    memset(h->at, 0, sizeof(h->at));
    h->n = 0;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&h->mu, &attr);
    pthread_mutexattr_destroy(&attr);
}

void
cjx_store_case_hooks_fini(struct cjx_store_case_hooks *h)
{
    pthread_mutex_destroy(&h->mu);
}

int
cjx_store_case_hooks_add(struct cjx_store_case_hooks *h,
                         cjx_store_case_hook_fn fn, void *arg)
{
    if (fn == NULL)
        return CJX_EINVAL;
    pthread_mutex_lock(&h->mu);
    int err = 0;
    if (h->n == CJX_STORE_MAX_CASE_HOOKS) {
        err = CJX_ELIMIT;
    } else {
        h->at[h->n].fn = fn;
        h->at[h->n].arg = arg;
        h->n++;
    }
    pthread_mutex_unlock(&h->mu);
    return err;
}

void
cjx_store_case_hooks_remove(struct cjx_store_case_hooks *h,
                            cjx_store_case_hook_fn fn, void *arg)
{
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->n; i++) {
        if (h->at[i].fn == fn && h->at[i].arg == arg) {
            memmove(&h->at[i], &h->at[i + 1],
                    (size_t)(h->n - i - 1) * sizeof(h->at[0]));
            h->n--;
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
}

void
cjx_store_case_hooks_run(struct cjx_store_case_hooks *h, int64_t last_seq,
                         size_t outbox_added)
{
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->n; i++)
        h->at[i].fn(h->at[i].arg, last_seq, outbox_added);
    pthread_mutex_unlock(&h->mu);
}

int
cjx_store_replace_signer(pthread_mutex_t *mu, struct cjx_audit_signer **slot,
                         const char *key_pem, const char *cert_pem,
                         struct cjx_errbuf *eb)
{
    struct cjx_audit_signer *fresh = NULL;
    if ((key_pem == NULL) != (cert_pem == NULL))
        return cjx_errf(eb, CJX_EINVAL,
                        "store: an audit key needs its certificate");
    if (key_pem != NULL) {
        int err = cjx_audit_signer_new(key_pem, cert_pem, &fresh, eb);
        if (err != 0)
            return err;
    }
    pthread_mutex_lock(mu);
    struct cjx_audit_signer *old = *slot;
    *slot = fresh;
    pthread_mutex_unlock(mu);
    cjx_audit_signer_free(old);
    return 0;
}

/* Signs a checkpoint over entry seq: 0 with *body (free()) of *len bytes
 * to store, CJX_ENOTFOUND without a signer, or the failure, logged once
 * per run of failures. */
static int
sign_checkpoint(const struct cjx_store_signing *sg, int64_t seq,
                const uint8_t *hash, int64_t now, uint8_t **body, size_t *len)
{
    struct cjx_errbuf eb;
    pthread_mutex_lock(sg->mu);
    int err = CJX_ENOTFOUND;
    if (*sg->signer != NULL)
        err = cjx_audit_checkpoint_make(*sg->signer, seq, hash, now,
                                        sg->interval_entries, body, len, &eb);
    pthread_mutex_unlock(sg->mu);
    if (err == CJX_ENOTFOUND)
        return err;
    if (err != 0 && !*sg->failed)
        cjx_error("store",
                  "cannot sign the audit checkpoint at %" PRId64 ": %s", seq,
                  eb.msg);
    *sg->failed = err != 0;
    return err;
}

int
cjx_store_write_checkpoint(const struct cjx_store_signing *sg,
                           const struct cjx_store_chain_head *chain,
                           cjx_store_checkpoint_put_fn put, void *store,
                           char *msg, size_t msg_len)
{
    int64_t now = cjx_clock_now_us();
    uint8_t *body = NULL;
    size_t len = 0;
    int err = sign_checkpoint(sg, chain->seq, chain->hash, now, &body, &len);
    if (err == CJX_ENOTFOUND)
        return 0;
    if (err != 0) {
        *chain->checkpoint_us = now; /* try again after a full interval */
        return 0;
    }
    err = put(store, chain->seq, body, len, msg, msg_len);
    free(body);
    if (err == 0) {
        *chain->unsigned_count = 0;
        *chain->checkpoint_us = now;
    }
    return err;
}

/* ---- queued case messages and outbox marks ----------------------------- */

static char *
put_text(char **p, const char *v)
{
    size_t n = strlen(v) + 1;
    char *dst = memcpy(*p, v, n);
    *p += n;
    return dst;
}

int
cjx_store_case_write_check(const struct cjx_case_write *w, const void *done)
{
    if (w == NULL || done == NULL || w->apply == NULL ||
        !cjx_store_set(w->sender_ori) || !cjx_store_set(w->request_id) ||
        !cjx_store_set(w->cii) || !cjx_store_set(w->court_case_number))
        return CJX_EINVAL;
    return 0;
}

size_t
cjx_store_case_write_size(const struct cjx_case_write *w)
{
    size_t total = strlen(w->sender_ori) + strlen(w->request_id) +
                   strlen(w->cii) + strlen(w->court_case_number) + 4;
    if (w->audit != NULL)
        total += cjx_store_writer_event_size(w->audit);
    return total;
}

void
cjx_store_case_write_copy(struct cjx_record_write *dst,
                          struct cjx_audit_event *ev, int *has_event,
                          const struct cjx_case_write *w, char **p)
{
    dst->sender_ori = put_text(p, w->sender_ori);
    dst->request_id = put_text(p, w->request_id);
    dst->cii = put_text(p, w->cii);
    dst->court_case_number = put_text(p, w->court_case_number);
    dst->count_number = w->count_number;
    memcpy(dst->request_digest, w->request_digest, CJX_STORE_DIGEST_LEN);
    if (w->audit != NULL) {
        cjx_store_writer_event_copy(ev, w->audit, p);
        *has_event = 1;
    }
}

size_t
cjx_store_marks_size(const struct cjx_outbox_mark *m, size_t n, int *err)
{
    *err = n == 0 || m == NULL ? CJX_EINVAL : 0;
    size_t total = n * sizeof(*m);
    for (size_t i = 0; *err == 0 && i < n; i++) {
        if (m[i].outcome < CJX_OUTBOX_MARK_DELIVERED ||
            m[i].outcome > CJX_OUTBOX_MARK_PARK || m[i].id <= 0)
            *err = CJX_EINVAL;
        total += strlen(m[i].error != NULL ? m[i].error : "") + 1;
    }
    return *err == 0 ? total : 0;
}

int
cjx_store_destination_copy(char *dst, const char *destination)
{
    if (destination == NULL || destination[0] == '\0' ||
        strlen(destination) >= STORE_DESTINATION_MAX)
        return CJX_EINVAL;
    memcpy(dst, destination, strlen(destination) + 1);
    return 0;
}

struct cjx_outbox_mark *
cjx_store_marks_put(void *room, const struct cjx_outbox_mark *m, size_t n)
{
    struct cjx_outbox_mark *dst = room;
    memcpy(dst, m, n * sizeof(*m));
    char *p = (char *)(dst + n);
    for (size_t i = 0; i < n; i++)
        dst[i].error = put_text(&p, m[i].error != NULL ? m[i].error : "");
    return dst;
}

struct cjx_record_write
cjx_store_step_record(const struct cjx_record_write *msg,
                      const struct cjx_case_next *next)
{
    return (struct cjx_record_write){
        .sender_ori = msg->sender_ori,
        .cii = msg->cii,
        .court_case_number = msg->court_case_number,
        .count_number = msg->count_number,
        .county = next->record_county,
        .record = next->record,
        .record_len = next->record_len,
        .flags = next->record_flags != NULL ? next->record_flags : "",
    };
}

int
cjx_store_lazy_record_read(struct cjx_store_lazy_record *lr)
{
    if (!lr->read) {
        lr->read = 1;
        memset(&lr->found, 0, sizeof(lr->found));
        lr->err = lr->find(lr, &lr->found);
    }
    return lr->err;
}

int
cjx_store_lazy_record_get(void *reader, struct cjx_case_record *out)
{
    struct cjx_store_lazy_record *lr = reader;
    if (cjx_store_lazy_record_read(lr) != 0) {
        memset(out, 0, sizeof(*out));
        return CJX_ESTORE;
    }
    *out = lr->found;
    return 0;
}

const struct cjx_case_next *
cjx_store_case_decide(struct cjx_store_case_decision *d,
                      cjx_case_apply_fn apply, void *arg,
                      const struct cjx_case_current *cur,
                      struct cjx_store_lazy_record *rec)
{
    if (!d->made) {
        memset(&d->next, 0, sizeof(d->next));
        apply(arg, cur, &d->next);
        d->made = 1;
        d->asked_record = rec->read;
    } else if (d->asked_record) {
        cjx_store_lazy_record_read(rec);
    }
    return &d->next;
}

/* ---- the arguments of reads --------------------------------------------- */

int
cjx_store_set(const char *v)
{
    return v != NULL && v[0] != '\0';
}

int
cjx_store_check_get(const char *op, const char *cii, const char *ccn,
                    const void *out, struct cjx_errbuf *eb)
{
    if (cii == NULL || ccn == NULL || out == NULL)
        return cjx_errf(eb, CJX_EINVAL, "%s: missing key or output", op);
    return 0;
}

int
cjx_store_check_page(const char *op, const char *what, int has_visitor,
                     int64_t after, int limit, struct cjx_errbuf *eb)
{
    if (!has_visitor || after < 0 || limit <= 0)
        return cjx_errf(eb, CJX_EINVAL,
                        "%s: needs a visitor, a %s >= 0 and a limit > 0", op,
                        what);
    return 0;
}

int
cjx_store_check_list_records(enum cjx_record_filter f, const char *value,
                             int has_visitor, int64_t after_id, int limit,
                             struct cjx_errbuf *eb)
{
    if (f < CJX_FILTER_CII || f > CJX_FILTER_CASE)
        return cjx_errf(eb, CJX_EINVAL, "list_records: unknown filter %d",
                        (int)f);
    if (value == NULL)
        return cjx_errf(eb, CJX_EINVAL, "list_records: needs a value");
    return cjx_store_check_page("list_records", "position", has_visitor,
                                after_id, limit, eb);
}

int
cjx_store_check_list_cases(const struct cjx_case_filter **f, int has_visitor,
                           int64_t after_id, int limit, struct cjx_errbuf *eb)
{
    static const struct cjx_case_filter none = {0};
    if (*f == NULL)
        *f = &none;
    return cjx_store_check_page("list_cases", "position", has_visitor, after_id,
                                limit, eb);
}

int
cjx_store_check_outbox_due(const char *destination, int has_visitor,
                           int partition, int partitions, int limit,
                           struct cjx_errbuf *eb)
{
    if (!cjx_store_set(destination) || !has_visitor || limit <= 0 ||
        partitions <= 0 || partition < 0 || partition >= partitions)
        return cjx_errf(eb, CJX_EINVAL,
                        "outbox_due: needs a destination, a visitor, a limit "
                        "and 0 <= partition < partitions");
    return 0;
}

int
cjx_store_check_outbox_next_due(const char *destination, int has_out,
                                struct cjx_errbuf *eb)
{
    if (!cjx_store_set(destination) || !has_out)
        return cjx_errf(eb, CJX_EINVAL,
                        "outbox_next_due: needs a destination and an output");
    return 0;
}

int
cjx_store_check_outbox_list(enum cjx_outbox_which which, int has_visitor,
                            int64_t after_id, int limit, struct cjx_errbuf *eb)
{
    if (which < CJX_OUTBOX_PENDING || which > CJX_OUTBOX_ALL)
        return cjx_errf(eb, CJX_EINVAL, "outbox_list: unknown filter %d",
                        (int)which);
    return cjx_store_check_page("outbox_list", "position", has_visitor,
                                after_id, limit, eb);
}

int
cjx_store_check_visitor(const char *op, int has_visitor, struct cjx_errbuf *eb)
{
    if (!has_visitor)
        return cjx_errf(eb, CJX_EINVAL, "%s: needs a visitor", op);
    return 0;
}
