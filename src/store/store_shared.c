/* What every backend shares: the table of case hooks, the swap of the
 * audit signer and the signing of checkpoints (store_shared.h). */
#include <inttypes.h>
#include <string.h>

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

int
cjx_store_sign_checkpoint(pthread_mutex_t *mu,
                          struct cjx_audit_signer *const *signer, int64_t seq,
                          const uint8_t hash[CJX_AUDIT_HASH_LEN], int64_t now,
                          int interval_entries, uint8_t **body, size_t *len,
                          int *failed)
{
    struct cjx_errbuf eb;
    pthread_mutex_lock(mu);
    int err = CJX_ENOTFOUND;
    if (*signer != NULL)
        err = cjx_audit_checkpoint_make(*signer, seq, hash, now,
                                        interval_entries, body, len, &eb);
    pthread_mutex_unlock(mu);
    if (err == CJX_ENOTFOUND)
        return err;
    if (err != 0 && !*failed)
        cjx_error("store",
                  "cannot sign the audit checkpoint at %" PRId64 ": %s", seq,
                  eb.msg);
    *failed = err != 0;
    return err;
}
