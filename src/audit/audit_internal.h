/* Private to the audit module: what its files share. */
#ifndef CJX_AUDIT_INTERNAL_H
#define CJX_AUDIT_INTERNAL_H

#include <openssl/evp.h>
#include <stdio.h>

#include "cjx/audit.h"
#include "cjx/v1/audit.pb-c.h"

/* Prefixed to what a checkpoint's signature covers. */
#define AUDIT_CHECKPOINT_LABEL "cjx.v1.AuditCheckpoint\n"

/* The digest a key signs with: "SHA256", or NULL for EdDSA keys. */
const char *audit_digest_for(const EVP_PKEY *key);

/* The signed bytes of a checkpoint (its signature ignored): a new buffer
 * (free()) of *len bytes, or NULL when out of memory. */
uint8_t *audit_checkpoint_signed_bytes(const Cjx__V1__AuditCheckpoint *cp,
                                       size_t *len);

/* Records a finding (the first one counts) in a verifier. */
void audit_verifier_fail(struct cjx_audit_verifier *v, int64_t seq,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The newest entry a verifier has accepted, 0 for none. */
int64_t audit_verifier_last_seq(const struct cjx_audit_verifier *v);

#endif
