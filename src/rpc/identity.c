/* Who is calling: the local operator, or a registered agency by certificate. */
#include "rpc_internal.h"

#include <grpc/support/alloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/tls.h"

void
identity_cache_init(struct identity_cache *cache)
{
    memset(cache, 0, sizeof(*cache));
    pthread_mutex_init(&cache->mu, NULL);
}

void
identity_cache_fini(struct identity_cache *cache)
{
    for (int i = 0; i < IDENTITY_CACHE_SLOTS; i++)
        free(cache->slot[i].pem);
    pthread_mutex_destroy(&cache->mu);
}

static size_t
pem_slot(const char *pem, size_t len)
{
    /* FNV-1a over the tail, where certificates differ (signatures). */
    uint64_t h = 1469598103934665603ULL;
    size_t start = len > 256 ? len - 256 : 0;
    for (size_t i = start; i < len; i++)
        h = (h ^ (unsigned char)pem[i]) * 1099511628211ULL;
    return (size_t)(h % IDENTITY_CACHE_SLOTS);
}

/* Looks the certificate up, identifying it, checking it against the CRLs
 * and caching it on a miss. An entry counts only under the configuration
 * that checked it, and a reload brings a new one with the new CRLs: a
 * certificate revoked then is refused on connections opened before. */
static int
identify_cached(struct identity_cache *cache, const char *pem, size_t len,
                const struct cjx_conf *conf, struct cjx_peer_identity *out,
                struct cjx_errbuf *eb)
{
    size_t i = pem_slot(pem, len);
    pthread_mutex_lock(&cache->mu);
    if (cache->slot[i].pem != NULL &&
        cache->slot[i].generation == conf->generation &&
        cache->slot[i].pem_len == len &&
        memcmp(cache->slot[i].pem, pem, len) == 0) {
        *out = cache->slot[i].id;
        pthread_mutex_unlock(&cache->mu);
        return 0;
    }
    pthread_mutex_unlock(&cache->mu);

    int err = cjx_tls_identify(pem, len, conf->trust_domain, out, eb);
    if (err == 0)
        err = cjx_tls_check_client_cert(pem, len, eb);
    if (err == 0 && conf->crls != NULL)
        err = cjx_tls_crl_set_check(conf->crls, pem, len, eb);
    if (err != 0)
        return err; /* refusals are not cached: they stay visible in logs */
    char *copy = malloc(len);
    if (copy == NULL)
        return 0;
    memcpy(copy, pem, len);
    pthread_mutex_lock(&cache->mu);
    free(cache->slot[i].pem);
    cache->slot[i].pem = copy;
    cache->slot[i].pem_len = len;
    cache->slot[i].generation = conf->generation;
    cache->slot[i].id = *out;
    pthread_mutex_unlock(&cache->mu);
    return 0;
}

/* The first value of a property, or NULL. */
static const grpc_auth_property *
find_property(const grpc_auth_context *ctx, const char *name)
{
    grpc_auth_property_iterator it =
        grpc_auth_context_find_properties_by_name(ctx, name);
    return grpc_auth_property_iterator_next(&it);
}

static int
property_is(const grpc_auth_property *p, const char *value)
{
    return p != NULL && p->value_length == strlen(value) &&
           memcmp(p->value, value, p->value_length) == 0;
}

/* Adds the refused certificate's subject and fingerprint to the reason, so
 * that the one line logged and audited for the refusal says which
 * certificate, beside the peer address, it was; the fingerprint also goes
 * to the caller for the audit entry. */
static void
name_refused_cert(const char *pem, size_t len, struct cjx_caller *out,
                  struct cjx_errbuf *eb)
{
    struct cjx_cert_summary sum;
    if (cjx_tls_describe_cert(pem, len, &sum) != 0)
        return;
    if (out->fingerprint[0] == '\0')
        memcpy(out->fingerprint, sum.fingerprint, sizeof(out->fingerprint));
    size_t used = strlen(eb->msg);
    snprintf(eb->msg + used, sizeof(eb->msg) - used,
             " (certificate subject %s, SHA-256 %s)", sum.subject,
             sum.fingerprint);
}

int
identity_of_call(grpc_call *call, const struct cjx_conf *conf,
                 struct identity_cache *cache, struct cjx_caller *out,
                 struct cjx_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    char *peer = grpc_call_get_peer(call);
    if (peer != NULL) {
        snprintf(out->peer, sizeof(out->peer), "%s", peer);
        gpr_free(peer);
    }

    grpc_auth_context *ctx = grpc_call_auth_context(call);
    if (ctx == NULL)
        return cjx_errf(eb, CJX_EUNAUTH, "no security context");
    int err = 0;
    const grpc_auth_property *type =
        find_property(ctx, GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
    if (property_is(type, "local")) {
        /* Only the Unix socket has local credentials: the operator. */
        out->local = 1;
        out->agency = cjx_registry_find(&conf->registry, conf->agency);
        snprintf(out->peer, sizeof(out->peer), "local");
    } else if ((property_is(type, GRPC_TLS_TRANSPORT_SECURITY_TYPE) ||
                property_is(type, GRPC_SSL_TRANSPORT_SECURITY_TYPE)) &&
               grpc_auth_context_peer_is_authenticated(ctx)) {
        /* "tls" from the grpc_tls_* credentials the server uses; "ssl" is
         * what the older grpc_ssl_* API reports, with the same properties. */
        const grpc_auth_property *pem =
            find_property(ctx, GRPC_X509_PEM_CERT_PROPERTY_NAME);
        struct cjx_peer_identity id;
        if (pem == NULL) {
            err = cjx_errf(eb, CJX_EUNAUTH, "no client certificate");
        } else if ((err = identify_cached(cache, pem->value, pem->value_length,
                                          conf, &id, eb)) == 0) {
            memcpy(out->fingerprint, id.fingerprint, sizeof(out->fingerprint));
            out->agency = cjx_registry_find(&conf->registry, id.ori);
            if (out->agency == NULL)
                err = cjx_errf(eb, CJX_EUNAUTH,
                               "certificate names agency %s, which is not in "
                               "the agency registry",
                               id.ori);
        }
        if (err != 0 && pem != NULL)
            name_refused_cert(pem->value, pem->value_length, out, eb);
    } else {
        err = cjx_errf(eb, CJX_EUNAUTH, "connection is not authenticated");
    }
    grpc_auth_context_release(ctx);
    return err;
}
