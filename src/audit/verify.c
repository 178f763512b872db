/* Verification of an audit log: the chain, the checkpoints, their signers. */
#include "audit_internal.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/tls.h"

/* What was learnt about the certificate of the last checkpoint: daemons
 * sign thousands of checkpoints with one certificate, and checking its
 * chain once per certificate instead of once per checkpoint is most of the
 * cost of a verification. */
struct signer_cache {
    char *pem;
    struct cjx_tls_chain *chain;
    char ori[CJX_ORI_LEN + 1];
    char identity_error[256]; /* "" when the certificate names an agency */
    /* Once the chain has verified: the times (Unix seconds) between which
     * every certificate of the chain is valid. */
    int chain_ok;
    int64_t valid_from, valid_until;
};

struct cjx_audit_verifier {
    struct cjx_tls_trust *ca;
    char *trust_domain;
    char ori[CJX_ORI_LEN + 1];
    struct cjx_audit_report r;
    int bad;
    uint8_t last_hash[CJX_AUDIT_HASH_LEN];
    int64_t prev_cp_seq;      /* 0 before the first checkpoint */
    int32_t prev_cp_interval; /* the interval that checkpoint declared */
    struct signer_cache signer;
};

/* Counts an entry for the replica that wrote it. Names are few (the
 * replicas of one agency), so a linear search is enough. */
static void
count_replica(struct cjx_audit_report *r, const char *name)
{
    char cut[CJX_AUDIT_REPLICA_MAX + 1];
    snprintf(cut, sizeof(cut), "%s", name);
    for (int i = 0; i < r->n_replicas; i++)
        if (strcmp(r->replicas[i].name, cut) == 0) {
            r->replicas[i].entries++;
            return;
        }
    int slot = r->n_replicas;
    if (slot == CJX_AUDIT_MAX_REPLICAS) {
        /* Past the last slot, its entries join those of the others. */
        slot--;
        snprintf(r->replicas[slot].name, sizeof(r->replicas[slot].name), "%s",
                 CJX_AUDIT_OTHER_REPLICAS);
    } else {
        r->n_replicas++;
        snprintf(r->replicas[slot].name, sizeof(r->replicas[slot].name), "%s",
                 cut);
    }
    r->replicas[slot].entries++;
}

void
audit_verifier_fail(struct cjx_audit_verifier *v, int64_t seq, const char *fmt,
                    ...)
{
    if (v->bad)
        return;
    v->bad = 1;
    v->r.ok = 0;
    v->r.first_bad_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->r.reason, sizeof(v->r.reason), fmt, ap);
    va_end(ap);
}

int64_t
audit_verifier_last_seq(const struct cjx_audit_verifier *v)
{
    return v->r.last_seq;
}

static void
signer_cache_clear(struct signer_cache *c)
{
    free(c->pem);
    cjx_tls_chain_free(c->chain);
    memset(c, 0, sizeof(*c));
}

int
cjx_audit_verifier_new(const struct cjx_audit_trust *trust,
                       struct cjx_audit_verifier **out, struct cjx_errbuf *eb)
{
    if (trust == NULL || trust->ca_pem == NULL || trust->trust_domain == NULL ||
        trust->agency_ori == NULL || out == NULL ||
        strlen(trust->agency_ori) != CJX_ORI_LEN)
        return cjx_errf(eb, CJX_EINVAL,
                        "audit verification needs a CA bundle, a trust "
                        "domain and the daemon's 9-character ORI");
    struct cjx_audit_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    v->r.ok = 1;
    memcpy(v->ori, trust->agency_ori, CJX_ORI_LEN + 1);
    v->trust_domain = strdup(trust->trust_domain);
    if (v->trust_domain == NULL) {
        cjx_audit_verifier_free(v);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    int rc = cjx_tls_trust_new(trust->ca_pem, &v->ca, eb);
    if (rc != 0) {
        cjx_audit_verifier_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void
cjx_audit_verifier_free(struct cjx_audit_verifier *v)
{
    if (v == NULL)
        return;
    signer_cache_clear(&v->signer);
    cjx_tls_trust_free(v->ca);
    free(v->trust_domain);
    free(v);
}

int
cjx_audit_verifier_ok(const struct cjx_audit_verifier *v)
{
    return !v->bad;
}

void
cjx_audit_verifier_entry(struct cjx_audit_verifier *v, int64_t seq,
                         const void *body, size_t body_len, const void *hash,
                         size_t hash_len)
{
    if (v->bad)
        return;
    int64_t want = v->r.last_seq + 1;
    if (seq > want && want == 1) {
        audit_verifier_fail(v, 1,
                            "entry 1 is missing (the log starts at "
                            "entry %" PRId64 ")",
                            seq);
        return;
    }
    if (seq > want) {
        audit_verifier_fail(v, want,
                            "entry %" PRId64 " is missing (seq jumps from "
                            "%" PRId64 " to %" PRId64 ")",
                            want, want - 1, seq);
        return;
    }
    if (seq < want) {
        audit_verifier_fail(v, seq,
                            "entry %" PRId64 " is out of order (it follows "
                            "entry %" PRId64 ")",
                            seq, want - 1);
        return;
    }
    uint8_t h[CJX_AUDIT_HASH_LEN];
    if (hash_len != CJX_AUDIT_HASH_LEN) {
        audit_verifier_fail(v, seq,
                            "entry %" PRId64 ": its stored hash is %zu bytes "
                            "long, not %d",
                            seq, hash_len, CJX_AUDIT_HASH_LEN);
        return;
    }
    if (cjx_audit_hash(body, body_len, h) != 0) {
        audit_verifier_fail(v, seq, "entry %" PRId64 ": SHA-256 unavailable",
                            seq);
        return;
    }
    if (memcmp(h, hash, CJX_AUDIT_HASH_LEN) != 0) {
        audit_verifier_fail(v, seq,
                            "entry %" PRId64 ": hash does not match its "
                            "content",
                            seq);
        return;
    }
    Cjx__V1__AuditEntry *e = cjx__v1__audit_entry__unpack(NULL, body_len, body);
    if (e == NULL) {
        audit_verifier_fail(
            v, seq, "entry %" PRId64 ": content is not an audit entry", seq);
        return;
    }
    static const uint8_t zeros[CJX_AUDIT_HASH_LEN];
    const uint8_t *want_prev = seq == 1 ? zeros : v->last_hash;
    if (e->seq != seq) {
        audit_verifier_fail(v, seq,
                            "entry %" PRId64 ": its content says it is entry "
                            "%" PRId64,
                            seq, e->seq);
    } else if (e->prev_hash.len != CJX_AUDIT_HASH_LEN ||
               memcmp(e->prev_hash.data, want_prev, CJX_AUDIT_HASH_LEN) != 0) {
        if (seq == 1)
            audit_verifier_fail(v, seq,
                                "entry 1: prev_hash is not 32 zero "
                                "bytes");
        else
            audit_verifier_fail(v, seq,
                                "entry %" PRId64 ": does not follow entry "
                                "%" PRId64 " (prev_hash differs from that "
                                "entry's hash)",
                                seq, seq - 1);
    }
    if (!v->bad)
        count_replica(&v->r, e->replica);
    cjx__v1__audit_entry__free_unpacked(e, NULL);
    if (v->bad)
        return;
    memcpy(v->last_hash, h, CJX_AUDIT_HASH_LEN);
    v->r.last_seq = seq;
    v->r.entries++;
}

/* ---- checkpoint signers ------------------------------------------------ */

/* Parses a signer's certificate chain into the cache, and reads the agency
 * it names. Returns 0 or -1 with the reason in why. */
static int
signer_load(struct cjx_audit_verifier *v, const char *pem, char *why,
            size_t why_len)
{
    struct signer_cache *c = &v->signer;
    signer_cache_clear(c);
    struct cjx_errbuf eb;
    c->pem = strdup(pem);
    if (c->pem == NULL) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    int rc = cjx_tls_chain_parse(pem, &c->chain, &eb);
    if (rc != 0) {
        signer_cache_clear(c);
        snprintf(why, why_len, "%s",
                 rc == CJX_ENOMEM ? "out of memory"
                                  : "its signer certificate does not parse");
        return -1;
    }
    struct cjx_peer_identity id;
    if (cjx_tls_identify(pem, strlen(pem), v->trust_domain, &id, &eb) != 0)
        snprintf(c->identity_error, sizeof(c->identity_error), "%.200s",
                 eb.msg);
    else
        memcpy(c->ori, id.ori, sizeof(c->ori));
    return 0;
}

/* Checks the cached chain against the CA bundle as of at (Unix seconds).
 * Returns 0 or -1 with the reason in why. */
static int
signer_chain_valid_at(struct cjx_audit_verifier *v, int64_t at, char *why,
                      size_t why_len)
{
    struct signer_cache *c = &v->signer;
    if (c->chain_ok && at >= c->valid_from && at <= c->valid_until)
        return 0;
    struct cjx_errbuf eb;
    if (cjx_tls_chain_verify_at(v->ca, c->chain, at, &c->valid_from,
                                &c->valid_until, &eb) != 0) {
        snprintf(why, why_len, "%.200s", eb.msg);
        return -1;
    }
    /* The chain stays valid for any time inside every certificate's
     * validity, which spares the next checkpoints the work. */
    c->chain_ok = c->valid_from <= c->valid_until;
    return 0;
}

static int
signature_valid(EVP_PKEY *key, const Cjx__V1__AuditCheckpoint *cp)
{
    size_t len;
    uint8_t *msg = audit_checkpoint_signed_bytes(cp, &len);
    if (msg == NULL)
        return 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL &&
             EVP_DigestVerifyInit_ex(ctx, NULL, audit_digest_for(key), NULL,
                                     NULL, key, NULL) == 1 &&
             EVP_DigestVerify(ctx, cp->signature.data, cp->signature.len, msg,
                              len) == 1;
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    free(msg);
    return ok;
}

/* Who signed: the certificate must name this daemon's agency and chain to
 * the CA bundle as of the checkpoint's time (a certificate that expired
 * since still vouches for what it signed while valid), and the signature
 * must verify with its key. */
static void
check_signer(struct cjx_audit_verifier *v, int64_t seq,
             const Cjx__V1__AuditCheckpoint *cp)
{
    char why[300];
    struct signer_cache *c = &v->signer;
    if (c->pem == NULL || strcmp(c->pem, cp->signer_cert_pem) != 0) {
        if (signer_load(v, cp->signer_cert_pem, why, sizeof(why)) != 0) {
            audit_verifier_fail(v, seq, "checkpoint at %" PRId64 ": %s", seq,
                                why);
            return;
        }
    }
    if (c->identity_error[0] != '\0') {
        audit_verifier_fail(v, seq,
                            "checkpoint at %" PRId64 ": signer certificate: "
                            "%s",
                            seq, c->identity_error);
        return;
    }
    if (strcmp(c->ori, v->ori) != 0) {
        audit_verifier_fail(v, seq,
                            "checkpoint at %" PRId64 ": signed by agency %s, "
                            "not by %s",
                            seq, c->ori, v->ori);
        return;
    }
    int64_t at = cp->time_unix_us / 1000000;
    if (signer_chain_valid_at(v, at, why, sizeof(why)) != 0) {
        audit_verifier_fail(v, seq,
                            "checkpoint at %" PRId64 ": signer certificate "
                            "does not chain to the CA bundle: %s",
                            seq, why);
        return;
    }
    if (!signature_valid(cjx_tls_chain_key(c->chain), cp))
        audit_verifier_fail(
            v, seq, "checkpoint at %" PRId64 ": signature invalid", seq);
}

void
cjx_audit_verifier_checkpoint(struct cjx_audit_verifier *v, int64_t seq,
                              const void *body, size_t body_len)
{
    if (v->bad)
        return;
    Cjx__V1__AuditCheckpoint *cp =
        cjx__v1__audit_checkpoint__unpack(NULL, body_len, body);
    if (cp == NULL) {
        audit_verifier_fail(v, seq,
                            "checkpoint at %" PRId64 ": content is not a "
                            "checkpoint",
                            seq);
        return;
    }
    int64_t last = v->r.last_seq;
    if (cp->seq != seq)
        audit_verifier_fail(v, seq,
                            "checkpoint at %" PRId64 ": its content says it "
                            "is at %" PRId64,
                            seq, cp->seq);
    else if (seq == last + 1)
        audit_verifier_fail(v, seq,
                            "entry %" PRId64 " is missing (the checkpoint "
                            "that signs it follows entry %" PRId64 ")",
                            seq, last);
    else if (seq > last)
        audit_verifier_fail(v, last + 1,
                            "entries %" PRId64 " to %" PRId64 " are missing "
                            "(the checkpoint at %" PRId64 " follows entry "
                            "%" PRId64 ")",
                            last + 1, seq, seq, last);
    else if (seq < last || seq <= v->prev_cp_seq)
        audit_verifier_fail(v, seq,
                            "checkpoint at %" PRId64 " is out of order (it "
                            "follows entry %" PRId64 ")",
                            seq, last);
    if (!v->bad)
        check_signer(v, seq, cp);
    if (!v->bad &&
        (cp->entry_hash.len != CJX_AUDIT_HASH_LEN ||
         memcmp(cp->entry_hash.data, v->last_hash, CJX_AUDIT_HASH_LEN) != 0))
        audit_verifier_fail(v, seq,
                            "checkpoint at %" PRId64 ": entry %" PRId64
                            "'s hash differs from the signed one (entries "
                            "after %" PRId64 " were changed after signing)",
                            seq, seq, v->prev_cp_seq);
    if (!v->bad && cp->interval_entries > 0 &&
        seq - v->prev_cp_seq > cp->interval_entries) {
        int64_t missing = v->prev_cp_seq + cp->interval_entries;
        audit_verifier_fail(v, missing,
                            "checkpoint at %" PRId64 " is missing: the daemon "
                            "signs at least every %d entries, but the "
                            "checkpoint after %" PRId64 " is at %" PRId64,
                            missing, (int)cp->interval_entries, v->prev_cp_seq,
                            seq);
    }
    if (!v->bad) {
        v->prev_cp_seq = seq;
        v->prev_cp_interval = cp->interval_entries;
        v->r.checkpoints++;
        v->r.last_checkpoint_seq = seq;
    }
    cjx__v1__audit_checkpoint__free_unpacked(cp, NULL);
}

void
cjx_audit_verifier_finish(struct cjx_audit_verifier *v,
                          struct cjx_audit_report *out)
{
    /* The writer signs as soon as the interval is reached, so an unsigned
     * tail that long means the checkpoint that ended it was removed. */
    if (!v->bad && v->prev_cp_seq > 0 && v->prev_cp_interval > 0 &&
        v->r.last_seq - v->prev_cp_seq >= v->prev_cp_interval) {
        int64_t missing = v->prev_cp_seq + v->prev_cp_interval;
        audit_verifier_fail(v, missing,
                            "checkpoint at %" PRId64 " is missing: the daemon "
                            "signs every %d entries, but none follows "
                            "%" PRId64 " up to the last entry %" PRId64,
                            missing, (int)v->prev_cp_interval, v->prev_cp_seq,
                            v->r.last_seq);
    }
    *out = v->r;
    out->ok = !v->bad;
}
