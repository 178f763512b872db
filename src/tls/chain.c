/* Certificate chains verified against a CA bundle at a given time, and the
 * private keys that go with certificates (the signers of audit
 * checkpoints). */
#include "cjx/tls.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "tls_internal.h"

struct cjx_tls_trust {
    X509_STORE *store;
};

struct cjx_tls_chain {
    X509 *leaf;
    STACK_OF(X509) * rest; /* intermediates, untrusted */
    EVP_PKEY *key;         /* the leaf's public key */
};

int
cjx_tls_trust_new(const char *ca_pem, struct cjx_tls_trust **out,
                  struct cjx_errbuf *eb)
{
    STACK_OF(X509) *cas = tls_read_bundle(ca_pem, eb);
    if (cas == NULL)
        return CJX_ETLS;
    struct cjx_tls_trust *t = calloc(1, sizeof(*t));
    if (t != NULL)
        t->store = X509_STORE_new();
    int rc = t != NULL && t->store != NULL ? 0 : CJX_ENOMEM;
    for (int i = 0; rc == 0 && i < sk_X509_num(cas); i++)
        if (X509_STORE_add_cert(t->store, sk_X509_value(cas, i)) != 1)
            rc = CJX_ENOMEM;
    ERR_clear_error();
    sk_X509_pop_free(cas, X509_free);
    if (rc != 0) {
        cjx_tls_trust_free(t);
        return cjx_errf(eb, rc, "out of memory");
    }
    *out = t;
    return 0;
}

void
cjx_tls_trust_free(struct cjx_tls_trust *t)
{
    if (t == NULL)
        return;
    X509_STORE_free(t->store);
    free(t);
}

int
cjx_tls_chain_parse(const char *pem, struct cjx_tls_chain **out,
                    struct cjx_errbuf *eb)
{
    size_t len = pem != NULL ? strlen(pem) : 0;
    BIO *bio =
        pem != NULL && len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    struct cjx_tls_chain *c = calloc(1, sizeof(*c));
    if (c != NULL)
        c->rest = sk_X509_new_null();
    if (bio == NULL || c == NULL || c->rest == NULL) {
        BIO_free(bio);
        cjx_tls_chain_free(c);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (c->leaf == NULL)
            c->leaf = x;
        else if (!sk_X509_push(c->rest, x))
            X509_free(x);
    }
    ERR_clear_error(); /* the end of the text reads as an error */
    BIO_free(bio);
    if (c->leaf == NULL || (c->key = X509_get_pubkey(c->leaf)) == NULL) {
        ERR_clear_error();
        cjx_tls_chain_free(c);
        return cjx_errf(eb, CJX_ETLS, "the certificate does not parse");
    }
    *out = c;
    return 0;
}

void
cjx_tls_chain_free(struct cjx_tls_chain *c)
{
    if (c == NULL)
        return;
    EVP_PKEY_free(c->key);
    X509_free(c->leaf);
    sk_X509_pop_free(c->rest, X509_free);
    free(c);
}

EVP_PKEY *
cjx_tls_chain_key(const struct cjx_tls_chain *c)
{
    return c->key;
}

int
cjx_tls_chain_verify_at(const struct cjx_tls_trust *t,
                        const struct cjx_tls_chain *c, int64_t at,
                        int64_t *valid_from, int64_t *valid_until,
                        struct cjx_errbuf *eb)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx == NULL ||
        X509_STORE_CTX_init(ctx, t->store, c->leaf, c->rest) != 1) {
        X509_STORE_CTX_free(ctx);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    X509_STORE_CTX_set_time(ctx, 0, (time_t)at);
    int rc = 0;
    if (X509_verify_cert(ctx) == 1) {
        /* The chain stays valid for any time inside every certificate's
         * validity; an unreadable time leaves the span empty. */
        STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
        int64_t from = 0, until = INT64_MAX;
        for (int i = 0; i < sk_X509_num(chain); i++) {
            int64_t nb, na;
            X509 *x = sk_X509_value(chain, i);
            if (tls_unix_seconds(X509_get0_notBefore(x), &nb) != 0 ||
                tls_unix_seconds(X509_get0_notAfter(x), &na) != 0) {
                from = 1;
                until = 0;
                break;
            }
            if (nb > from)
                from = nb;
            if (na < until)
                until = na;
        }
        *valid_from = from;
        *valid_until = until;
    } else {
        rc = cjx_errf(
            eb, CJX_EUNAUTH, "%s",
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    return rc;
}

/* Refuses to ask for a passphrase: a daemon has no one to ask. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int
cjx_tls_private_key_parse(const char *key_pem, EVP_PKEY **out,
                          struct cjx_errbuf *eb)
{
    char why[256];
    size_t len = key_pem != NULL ? strlen(key_pem) : 0;
    BIO *bio = key_pem != NULL && len <= INT_MAX
                   ? BIO_new_mem_buf(key_pem, (int)len)
                   : NULL;
    EVP_PKEY *key = NULL;
    if (bio != NULL)
        key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (key == NULL)
        return cjx_errf(eb, CJX_ETLS,
                        "cannot parse the private key (it must be "
                        "unencrypted PEM): %s",
                        cjx_tls_openssl_reason(why, sizeof(why)));
    *out = key;
    return 0;
}

int
cjx_tls_key_matches_cert(const char *cert_pem, EVP_PKEY *key,
                         struct cjx_errbuf *eb)
{
    char why[256];
    X509 *x = tls_parse_leaf(cert_pem, cert_pem != NULL ? strlen(cert_pem) : 0);
    if (x == NULL)
        return cjx_errf(eb, CJX_ETLS, "cannot parse the certificate: %s",
                        cjx_tls_openssl_reason(why, sizeof(why)));
    int rc = 0;
    if (X509_check_private_key(x, key) != 1)
        rc = cjx_errf(eb, CJX_ETLS,
                      "the private key does not belong to the certificate");
    ERR_clear_error();
    X509_free(x);
    return rc;
}
