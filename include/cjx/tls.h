/* X.509 for cjx: agency identity from certificates, key file hygiene.
 * The only module that knows X.509; it does not know gRPC. */
#ifndef CJX_TLS_H
#define CJX_TLS_H

#include <stddef.h>

#include "cjx/conf.h"
#include "cjx/error.h"

#define CJX_FINGERPRINT_HEX_LEN 64 /* SHA-256 of the DER, lower-case hex */

/* Who a verified peer certificate says it is. */
struct cjx_peer_identity {
    char ori[CJX_ORI_LEN + 1];
    char fingerprint[CJX_FINGERPRINT_HEX_LEN + 1];
};

/* Reads the agency from a leaf certificate (PEM) that the TLS layer has
 * already verified against the CA bundle. The certificate must carry exactly
 * one URI SAN of the form spiffe://<trust_domain>/agency/<ORI> with a
 * 9-character ORI of [A-Z0-9]; other URI SANs (not spiffe://.../agency/...)
 * are ignored. Returns 0, or CJX_EUNAUTH with the reason in eb (unparsable
 * PEM, no SAN, wrong trust domain, malformed ORI, several agency SANs), or
 * CJX_EINVAL without a trust domain. *out is untouched on failure. Keeps no
 * state: safe to call from any thread, once per new connection. */
int cjx_tls_identify(const char *pem, size_t pem_len, const char *trust_domain,
                     struct cjx_peer_identity *out, struct cjx_errbuf *eb);

/* Reads a whole PEM file into a new NUL-terminated buffer (free with
 * cjx_tls_free_pem, which wipes it). For private keys, require_private
 * refuses a file that group or others can read (CJX_EPERM with a message
 * naming the file and its mode). */
int cjx_tls_read_pem(const char *path, int require_private, char **out,
                     size_t *len, struct cjx_errbuf *eb);
/* Wipes and frees; accepts NULL. */
void cjx_tls_free_pem(char *pem, size_t len);

/* Checks that cert_pem and key_pem form a pair, that the certificate is
 * currently valid (by cjx_clock_now_us), and that it names own_ori in
 * trust_domain; also that it may be used as both TLS server and client and
 * that the key has at least 112 bits of security. Returns 0 or CJX_ETLS with
 * the reason in eb. Used at start and reload so a daemon never serves with a
 * certificate that is not its own. */
int cjx_tls_check_own_cert(const char *cert_pem, const char *key_pem,
                           const char *trust_domain, const char *own_ori,
                           struct cjx_errbuf *eb);

#endif
