/* X.509 for cjx: agency identity from certificates, key file hygiene,
 * revocation lists.
 * The only module that knows X.509; it does not know gRPC. */
#ifndef CJX_TLS_H
#define CJX_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

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

/* What a log line says of a peer certificate: its subject (one line,
 * non-printable bytes replaced) and SHA-256 fingerprint. */
struct cjx_cert_summary {
    char subject[256];
    char fingerprint[CJX_FINGERPRINT_HEX_LEN + 1];
};

/* Fills *out from the first certificate in pem. Returns 0, or CJX_EUNAUTH
 * (pem holds no certificate) or CJX_ETLS (it cannot be hashed) with
 * placeholders in *out, which is always fully written. Safe from any
 * thread. */
int cjx_tls_describe_cert(const char *pem, size_t len,
                          struct cjx_cert_summary *out);

/* Judges a peer's leaf certificate (PEM, already verified against the CA
 * bundle) as a TLS client certificate, as certs/README.md requires: not a
 * CA (basicConstraints CA:TRUE, or key usage keyCertSign), and an extended
 * key usage extension that lists clientAuth (a certificate without one is
 * refused, although OpenSSL would take it for any purpose). Returns 0, or
 * CJX_EUNAUTH with the reason in eb. Keeps no state: safe from any
 * thread. */
int cjx_tls_check_client_cert(const char *pem, size_t len,
                              struct cjx_errbuf *eb);

/* OpenSSL's text for an X.509 verification error number (the code gRPC
 * logs when a peer's chain does not verify), e.g. "certificate has
 * expired". Static; never NULL. */
const char *cjx_tls_verify_error_text(int code);

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

/* ---- Chains and keys (the signers of audit checkpoints) ---------------- */

/* A CA bundle that certificate chains are verified against. Never changes
 * once made. */
struct cjx_tls_trust;

/* Makes a trust from the CA certificates of ca_pem. Returns 0 with a new
 * trust in *out (free with cjx_tls_trust_free), or CJX_ETLS with the reason
 * in eb (the bundle holds no certificate, or memory ran out). */
int cjx_tls_trust_new(const char *ca_pem, struct cjx_tls_trust **out,
                      struct cjx_errbuf *eb);
/* Frees; accepts NULL. */
void cjx_tls_trust_free(struct cjx_tls_trust *t);

/* A certificate chain as a signer presents it: the leaf first, then its
 * intermediates (which are not trusted by being there). */
struct cjx_tls_chain;

/* Parses every certificate of pem (NUL-terminated). Returns 0 with a new
 * chain in *out (free with cjx_tls_chain_free), CJX_ETLS when pem holds no
 * certificate or the leaf's key cannot be read, or CJX_ENOMEM. */
int cjx_tls_chain_parse(const char *pem, struct cjx_tls_chain **out,
                        struct cjx_errbuf *eb);
/* Frees; accepts NULL. */
void cjx_tls_chain_free(struct cjx_tls_chain *c);

/* The leaf's public key. Borrowed; valid as long as the chain. */
EVP_PKEY *cjx_tls_chain_key(const struct cjx_tls_chain *c);

/* Verifies the chain against the trust as if the time were at (seconds
 * since the epoch), so that a certificate that has expired since still
 * vouches for what it signed while it was valid. Returns 0 and the span
 * [*valid_from, *valid_until] in which every certificate of the verified
 * chain is valid (empty, from > until, when a time cannot be read), so that
 * a caller may skip verifying again for a time inside it; or CJX_EUNAUTH
 * with OpenSSL's reason in eb ("certificate has expired"), or CJX_ENOMEM.
 * Neither argument changes: any number of threads may verify at once. */
int cjx_tls_chain_verify_at(const struct cjx_tls_trust *t,
                            const struct cjx_tls_chain *c, int64_t at,
                            int64_t *valid_from, int64_t *valid_until,
                            struct cjx_errbuf *eb);

/* Parses an unencrypted PEM private key (a daemon has no one to ask for a
 * passphrase). Returns 0 with a new key in *out (EVP_PKEY_free), or
 * CJX_ETLS with OpenSSL's reason in eb. */
int cjx_tls_private_key_parse(const char *key_pem, EVP_PKEY **out,
                              struct cjx_errbuf *eb);

/* 0 when key is the private key of the first certificate of cert_pem;
 * CJX_ETLS when it is not, or when the certificate does not parse, with the
 * reason in eb. */
int cjx_tls_key_matches_cert(const char *cert_pem, EVP_PKEY *key,
                             struct cjx_errbuf *eb);

/* The reason for the most recent OpenSSL failure on this thread, written to
 * buf (len bytes); the thread's error queue is emptied so that it cannot
 * leak into a later call. Returns buf. For every module that calls OpenSSL
 * (the audit log signs its checkpoints with it). */
const char *cjx_tls_openssl_reason(char *buf, size_t len);

/* ---- Revocation ---------------------------------------------------------- */

/* A set of CRLs, each verified against the CA bundle when loaded. It never
 * changes once loaded, so any number of threads may check certificates
 * against it at once; it is reference-counted so that a reload can put a new
 * set in place while handshakes in progress still use the old one. */
struct cjx_tls_crl_set;

/* Loads every file in dir (names starting with '.' and subdirectories are
 * skipped) as CRLs: PEM (one or several per file) or DER, which is what
 * `openssl rehash` leaves as <hash>.r0. Each CRL must be signed by a CA
 * certificate of ca_pem whose key usage (if any) allows cRLSign, and must be
 * current by cjx_clock_now_us: not issued in the future, next update (if
 * given) not passed. A file that is not a CRL, a CRL from outside the bundle,
 * a bad signature or an expired CRL fails the whole load with CJX_ETLS and
 * the file named in eb; an unreadable directory gives CJX_EIO. An empty
 * directory gives an empty set. On success *out is a new set holding one
 * reference; drop it with cjx_tls_crl_set_unref(). */
int cjx_tls_crl_set_load(const char *dir, const char *ca_pem,
                         struct cjx_tls_crl_set **out, struct cjx_errbuf *eb);

/* Takes one more reference. */
void cjx_tls_crl_set_ref(struct cjx_tls_crl_set *set);
/* Drops one reference, freeing the set with the last; accepts NULL. */
void cjx_tls_crl_set_unref(struct cjx_tls_crl_set *set);

/* Number of CRLs in the set. */
size_t cjx_tls_crl_set_count(const struct cjx_tls_crl_set *set);

/* Subjects of the CA certificates of the bundle that no CRL in the set was
 * issued by, "; "-separated, or "" when every CA has one. Certificates those
 * CAs issue pass cjx_tls_crl_set_check unchecked, so callers warn about them.
 * Borrowed; valid as long as the set. */
const char *cjx_tls_crl_set_uncovered(const struct cjx_tls_crl_set *set);

/* Checks every certificate in pem (a leaf, or a chain) against the set, by
 * issuer name and serial number. Returns 0 when none is revoked (a
 * certificate whose issuer has no CRL in the set passes); CJX_EUNAUTH when
 * one is, with its subject, serial, issuer, revocation time and reason in eb;
 * CJX_ETLS when the CRL of its issuer has expired since it was loaded
 * (revocation cannot be checked, so the certificate is refused rather than
 * assumed good); CJX_EUNAUTH when pem holds no certificate. Judged by
 * cjx_clock_now_us. Safe to call from any thread. */
int cjx_tls_crl_set_check(const struct cjx_tls_crl_set *set, const char *pem,
                          size_t len, struct cjx_errbuf *eb);

/* Called with the subject (of a certificate; the issuer, of a CRL) and the
 * moment it runs out, in seconds since the epoch (0 when unreadable).
 * Return non-zero to stop. */
typedef int (*cjx_tls_expiry_fn)(void *arg, const char *subject,
                                 int64_t unix_s);

/* Visits the notAfter of every certificate in pem (a chain or a bundle).
 * 0, or CJX_ETLS when pem holds none. Safe from any thread. */
int cjx_tls_cert_expiries(const char *pem, size_t len, cjx_tls_expiry_fn visit,
                          void *arg);

/* Visits the nextUpdate of every CRL in the files of dir (as
 * cjx_tls_crl_set_load reads them, without judging them: an expired CRL is
 * exactly what the caller wants to see). A file that is no CRL, and a CRL
 * without a next update, are skipped. dir "" or NULL: nothing. 0, or
 * CJX_EIO when dir cannot be read. */
int cjx_tls_crl_dir_expiries(const char *dir, cjx_tls_expiry_fn visit,
                             void *arg);

#endif
