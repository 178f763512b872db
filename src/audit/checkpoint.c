/* Audit checkpoints: the daemon's signature over the newest entry hash. */
#include "audit_internal.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/tls.h"

struct cjx_audit_signer {
    EVP_PKEY *key;
    char *cert_pem;
};

const char *
audit_digest_for(const EVP_PKEY *key)
{
    /* EdDSA hashes the message itself and takes no separate digest. */
    if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
        return NULL;
    return "SHA256";
}

int
cjx_audit_signer_new(const char *key_pem, const char *cert_pem,
                     struct cjx_audit_signer **out, struct cjx_errbuf *eb)
{
    if (key_pem == NULL || cert_pem == NULL || out == NULL)
        return cjx_errf(eb, CJX_EINVAL,
                        "audit signer: key and certificate "
                        "are required");
    struct cjx_audit_signer *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    struct cjx_errbuf why;
    int err = cjx_tls_private_key_parse(key_pem, &s->key, &why);
    if (err == 0)
        err = cjx_tls_key_matches_cert(cert_pem, s->key, &why);
    if (err != 0)
        cjx_errf(eb, err, "audit signer: %s", why.msg);
    if (err == 0 && (s->cert_pem = strdup(cert_pem)) == NULL)
        err = cjx_errf(eb, CJX_ENOMEM, "out of memory");
    if (err != 0) {
        cjx_audit_signer_free(s);
        return err;
    }
    *out = s;
    return 0;
}

void
cjx_audit_signer_free(struct cjx_audit_signer *s)
{
    if (s == NULL)
        return;
    /* OpenSSL clears the key's secret numbers when it frees them. */
    EVP_PKEY_free(s->key);
    free(s->cert_pem);
    free(s);
}

/* The bytes a checkpoint's signature covers: a fixed label, so that no
 * signature made with the daemon's key for another purpose can pass for
 * one of these, then the checkpoint packed without its signature. Returns
 * a new buffer (free()) or NULL. */
uint8_t *
audit_checkpoint_signed_bytes(const Cjx__V1__AuditCheckpoint *cp, size_t *len)
{
    Cjx__V1__AuditCheckpoint unsigned_cp = *cp;
    unsigned_cp.signature.data = NULL;
    unsigned_cp.signature.len = 0;
    size_t label = sizeof(AUDIT_CHECKPOINT_LABEL) - 1;
    size_t n = protobuf_c_message_get_packed_size(&unsigned_cp.base);
    uint8_t *buf = malloc(label + n);
    if (buf == NULL)
        return NULL;
    memcpy(buf, AUDIT_CHECKPOINT_LABEL, label);
    protobuf_c_message_pack(&unsigned_cp.base, buf + label);
    *len = label + n;
    return buf;
}

static int
sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t **sig,
     size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL &&
             EVP_DigestSignInit_ex(ctx, NULL, audit_digest_for(key), NULL, NULL,
                                   key, NULL) == 1 &&
             EVP_DigestSign(ctx, NULL, sig_len, msg, len) == 1;
    *sig = ok ? malloc(*sig_len) : NULL;
    ok =
        ok && *sig != NULL && EVP_DigestSign(ctx, *sig, sig_len, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        free(*sig);
        *sig = NULL;
    }
    return ok;
}

int
cjx_audit_checkpoint_make(struct cjx_audit_signer *s, int64_t seq,
                          const uint8_t entry_hash[CJX_AUDIT_HASH_LEN],
                          int64_t time_us, int interval_entries, uint8_t **out,
                          size_t *len, struct cjx_errbuf *eb)
{
    char why[256];
    Cjx__V1__AuditCheckpoint cp = CJX__V1__AUDIT_CHECKPOINT__INIT;
    cp.seq = seq;
    cp.entry_hash.data = (uint8_t *)entry_hash;
    cp.entry_hash.len = CJX_AUDIT_HASH_LEN;
    cp.time_unix_us = time_us;
    cp.signer_cert_pem = s->cert_pem;
    cp.interval_entries = interval_entries;

    size_t msg_len;
    uint8_t *msg = audit_checkpoint_signed_bytes(&cp, &msg_len);
    if (msg == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    uint8_t *sig;
    size_t sig_len;
    int ok = sign(s->key, msg, msg_len, &sig, &sig_len);
    free(msg);
    if (!ok)
        return cjx_errf(eb, CJX_ETLS, "signing checkpoint %lld: %s",
                        (long long)seq,
                        cjx_tls_openssl_reason(why, sizeof(why)));
    cp.signature.data = sig;
    cp.signature.len = sig_len;
    size_t n = protobuf_c_message_get_packed_size(&cp.base);
    uint8_t *buf = malloc(n);
    if (buf == NULL) {
        free(sig);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    protobuf_c_message_pack(&cp.base, buf);
    free(sig);
    *out = buf;
    *len = n;
    return 0;
}
