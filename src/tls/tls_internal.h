/* Helpers shared by the files of the tls module. */
#ifndef CJX_TLS_INTERNAL_H
#define CJX_TLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "cjx/error.h"

/* The largest CRL file read: a statewide CRL can run to megabytes; a file
 * beyond this is a mistake. */
#define TLS_CRL_FILE_MAX_BYTES ((size_t)64 << 20)

/* A certificate name as one line for messages, made printable by
 * cjx_log_printable. Returns buf. */
const char *tls_name_text(const X509_NAME *name, char *buf, size_t len);

/* Formats t as "2026-11-25T08:00:00Z", or "(unreadable)". */
void tls_format_time(const ASN1_TIME *t, char *buf, size_t len);

/* The first certificate of pem, or NULL (no certificate, or out of memory). */
X509 *tls_parse_leaf(const char *pem, size_t len);

/* The CA certificates of a bundle (PEM), in order; NULL with the reason in
 * eb when it holds none or memory runs out. */
STACK_OF(X509) * tls_read_bundle(const char *ca_pem, struct cjx_errbuf *eb);

/* Seconds since the epoch of an ASN.1 time into *out: 0, or -1 when it does
 * not parse. */
int tls_unix_seconds(const ASN1_TIME *t, int64_t *out);

#endif
