/* Agency identity from X.509 certificates, own-certificate checks and key file hygiene. */
#include "cjx/tls.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cjx/clock.h"
#include "cjx/file.h"
#include "cjx/log.h"
#include "tls_internal.h"

/* No PEM file cjx reads comes near this; a bigger one is a mistake. */
#define PEM_MAX_BYTES (1u << 20)

#define SPIFFE_SCHEME "spiffe://"
#define AGENCY_PATH   "/agency/"

/* Below this a key is refused: 112 bits is RSA-2048, 128 is P-256. */
#define MIN_SECURITY_BITS 112

const char *
cjx_tls_openssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        snprintf(buf, len, "unknown reason");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/* Names in peer certificates are attacker-controlled, so they are passed
 * through cjx_log_printable. */
const char *
tls_name_text(const X509_NAME *name, char *buf, size_t len)
{
    char raw[512];
    if (X509_NAME_oneline(name, raw, sizeof(raw)) == NULL)
        snprintf(raw, sizeof(raw), "(unreadable name)");
    return cjx_log_printable(raw, strlen(raw), 0, buf, len);
}

X509 *
tls_parse_leaf(const char *pem, size_t len)
{
    if (pem == NULL || len > INT_MAX)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return NULL;
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return x;
}

/* The CA certificates of the bundle, in order. */
STACK_OF(X509) * tls_read_bundle(const char *ca_pem, struct cjx_errbuf *eb)
{
    size_t len = strlen(ca_pem);
    BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(ca_pem, (int)len) : NULL;
    STACK_OF(X509) *cas = sk_X509_new_null();
    if (bio == NULL || cas == NULL) {
        BIO_free(bio);
        sk_X509_free(cas);
        cjx_errf(eb, CJX_ENOMEM, "out of memory");
        return NULL;
    }
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_push(cas, x) <= 0) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error();
    BIO_free(bio);
    if (sk_X509_num(cas) == 0) {
        sk_X509_pop_free(cas, X509_free);
        cjx_errf(eb, CJX_ETLS, "the CA bundle holds no certificate");
        return NULL;
    }
    return cas;
}

/* A URI SAN is an agency SAN if it is a SPIFFE ID (scheme compared without
 * regard to case, so that a variant spelling is refused later rather than
 * ignored) whose path starts with /agency/. */
static int
is_agency_uri(const unsigned char *u, size_t len)
{
    size_t sl = strlen(SPIFFE_SCHEME);
    if (len < sl || strncasecmp((const char *)u, SPIFFE_SCHEME, sl) != 0)
        return 0;
    const unsigned char *path = memchr(u + sl, '/', len - sl);
    if (path == NULL)
        return 0;
    size_t rest = len - (size_t)(path - u);
    size_t al = strlen(AGENCY_PATH);
    return rest >= al && memcmp(path, AGENCY_PATH, al) == 0;
}

static int
ori_valid(const unsigned char *s, size_t len)
{
    if (len != CJX_ORI_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

/* Finds the one agency URI SAN of x and checks it names an agency in
 * trust_domain. Fails with err and the reason in eb. */
static int
agency_of(X509 *x, const char *trust_domain, int err, char ori[CJX_ORI_LEN + 1],
          struct cjx_errbuf *eb)
{
    int crit = -1;
    GENERAL_NAMES *names =
        X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    if (names == NULL) {
        ERR_clear_error();
        if (crit == -1)
            return cjx_errf(eb, err, "certificate has no subjectAltName");
        if (crit == -2)
            return cjx_errf(eb, err,
                            "certificate has several "
                            "subjectAltName extensions");
        return cjx_errf(eb, err, "certificate subjectAltName is malformed");
    }

    const ASN1_IA5STRING *uri = NULL;
    int count = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != GEN_URI)
            continue;
        const ASN1_IA5STRING *s = gn->d.uniformResourceIdentifier;
        if (is_agency_uri(ASN1_STRING_get0_data(s),
                          (size_t)ASN1_STRING_length(s))) {
            uri = s;
            count++;
        }
    }

    int rc = 0;
    char shown[160];
    if (count == 0) {
        rc = cjx_errf(eb, err,
                      "certificate has no URI SAN of the form "
                      "spiffe://%s/agency/<ORI>",
                      trust_domain);
        goto out;
    }
    if (count > 1) {
        rc = cjx_errf(eb, err,
                      "certificate has %d agency URI SANs; exactly one is "
                      "allowed",
                      count);
        goto out;
    }

    const unsigned char *u = ASN1_STRING_get0_data(uri);
    size_t len = (size_t)ASN1_STRING_length(uri);
    cjx_log_printable(u, len, 0, shown, sizeof(shown));
    size_t sl = strlen(SPIFFE_SCHEME);
    const unsigned char *domain = u + sl;
    const unsigned char *path = len > sl ? memchr(domain, '/', len - sl) : NULL;
    if (path == NULL || memcmp(u, SPIFFE_SCHEME, sl) != 0 ||
        memchr(u, '\0', len) != NULL) {
        rc = cjx_errf(eb, err, "agency URI SAN %s is malformed", shown);
        goto out;
    }
    size_t dl = (size_t)(path - domain);
    if (dl != strlen(trust_domain) || memcmp(domain, trust_domain, dl) != 0) {
        rc = cjx_errf(eb, err, "agency URI SAN %s is not in trust domain %s",
                      shown, trust_domain);
        goto out;
    }
    const unsigned char *o = path + strlen(AGENCY_PATH);
    size_t ol = len - (size_t)(o - u);
    if (!ori_valid(o, ol)) {
        rc = cjx_errf(eb, err,
                      "agency URI SAN %s does not end in an ORI (exactly 9 "
                      "characters A-Z or 0-9)",
                      shown);
        goto out;
    }
    memcpy(ori, o, CJX_ORI_LEN);
    ori[CJX_ORI_LEN] = '\0';
out:
    GENERAL_NAMES_free(names);
    return rc;
}

/* The SHA-256 of x's DER in lower-case hex. */
static int
fingerprint_of(X509 *x, char out[CJX_FINGERPRINT_HEX_LEN + 1],
               struct cjx_errbuf *eb)
{
    char why[256];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!X509_digest(x, EVP_sha256(), md, &mdlen) ||
        mdlen * 2 != CJX_FINGERPRINT_HEX_LEN)
        return cjx_errf(eb, CJX_ETLS, "cannot hash the peer certificate: %s",
                        cjx_tls_openssl_reason(why, sizeof(why)));
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[CJX_FINGERPRINT_HEX_LEN] = '\0';
    return 0;
}

int
cjx_tls_identify(const char *pem, size_t pem_len, const char *trust_domain,
                 struct cjx_peer_identity *out, struct cjx_errbuf *eb)
{
    char why[256];
    if (trust_domain == NULL || trust_domain[0] == '\0' || out == NULL)
        return cjx_errf(eb, CJX_EINVAL, "identify: missing argument");

    X509 *x = tls_parse_leaf(pem, pem_len);
    if (x == NULL)
        return cjx_errf(eb, CJX_EUNAUTH,
                        "cannot parse the peer certificate: %s",
                        cjx_tls_openssl_reason(why, sizeof(why)));

    struct cjx_peer_identity id;
    int rc = agency_of(x, trust_domain, CJX_EUNAUTH, id.ori, eb);
    if (rc != 0)
        goto out;

    rc = fingerprint_of(x, id.fingerprint, eb);
    if (rc == 0)
        *out = id;
out:
    X509_free(x);
    return rc;
}

int
cjx_tls_read_pem(const char *path, int require_private, char **out, size_t *len,
                 struct cjx_errbuf *eb)
{
    int fd;
    int rc = cjx_file_open(path, &fd, eb);
    if (rc != 0)
        return rc;
    struct stat st;
    if (fstat(fd, &st) != 0)
        rc = cjx_errf(eb, CJX_EIO, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = cjx_errf(eb, CJX_EINVAL, "%s: not a regular file", path);
    /* The mode is checked on the open file, so a swap of the path between
     * check and read cannot slip a readable file past it. */
    else if (require_private && (st.st_mode & 077) != 0) {
        const char *how = (st.st_mode & 044)   ? "readable"
                          : (st.st_mode & 022) ? "writable"
                                               : "accessible";
        rc = cjx_errf(eb, CJX_EPERM,
                      "key file %s is %s by group or others (mode %04o); "
                      "chmod 600 it",
                      path, how, (unsigned)(st.st_mode & 07777));
    } else {
        rc = cjx_file_read_fd(fd, path, PEM_MAX_BYTES, out, len, eb);
    }
    close(fd);
    return rc;
}

void
cjx_tls_free_pem(char *pem, size_t len)
{
    if (pem == NULL)
        return;
    OPENSSL_cleanse(pem, len);
    free(pem);
}

/* Refuses to ask for a passphrase: a daemon has no one to ask. */

void
tls_format_time(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) != 1 ||
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "(unreadable)");
}

static int
check_validity(X509 *x, struct cjx_errbuf *eb)
{
    /* The clock source, not time(), so that tests can pin "now". */
    time_t now = (time_t)(cjx_clock_now_us() / 1000000);
    char when[40];
    const ASN1_TIME *nb = X509_get0_notBefore(x);
    const ASN1_TIME *na = X509_get0_notAfter(x);
    int before = X509_cmp_time(nb, &now);
    int after = X509_cmp_time(na, &now);
    ERR_clear_error();
    if (before == 0 || after == 0)
        return cjx_errf(eb, CJX_ETLS,
                        "certificate validity dates are "
                        "unreadable");
    if (before > 0) {
        tls_format_time(nb, when, sizeof(when));
        return cjx_errf(eb, CJX_ETLS, "certificate is not valid before %s",
                        when);
    }
    if (after < 0) {
        tls_format_time(na, when, sizeof(when));
        return cjx_errf(eb, CJX_ETLS, "certificate expired at %s", when);
    }
    return 0;
}

int
cjx_tls_check_own_cert(const char *cert_pem, const char *key_pem,
                       const char *trust_domain, const char *own_ori,
                       struct cjx_errbuf *eb)
{
    char why[256];
    if (cert_pem == NULL || key_pem == NULL || trust_domain == NULL ||
        own_ori == NULL)
        return cjx_errf(eb, CJX_EINVAL, "check_own_cert: missing argument");

    EVP_PKEY *key = NULL;
    X509 *x = tls_parse_leaf(cert_pem, strlen(cert_pem));
    if (x == NULL)
        return cjx_errf(eb, CJX_ETLS, "cannot parse the certificate: %s",
                        cjx_tls_openssl_reason(why, sizeof(why)));

    int rc = cjx_tls_private_key_parse(key_pem, &key, eb);
    if (rc == 0)
        rc = cjx_tls_key_matches_cert(cert_pem, key, eb);
    if (rc != 0)
        goto out;
    int bits = EVP_PKEY_get_security_bits(key);
    if (bits < MIN_SECURITY_BITS) {
        rc = cjx_errf(eb, CJX_ETLS,
                      "the key is too weak (%d bits of security; at least %d "
                      "needed, e.g. P-256 or RSA-3072)",
                      bits, MIN_SECURITY_BITS);
        goto out;
    }
    rc = check_validity(x, eb);
    if (rc != 0)
        goto out;

    char ori[CJX_ORI_LEN + 1];
    rc = agency_of(x, trust_domain, CJX_ETLS, ori, eb);
    if (rc != 0)
        goto out;
    if (strcmp(ori, own_ori) != 0) {
        rc = cjx_errf(eb, CJX_ETLS,
                      "certificate names agency %s, but this daemon is %s", ori,
                      own_ori);
        goto out;
    }

    /* The daemon both serves and calls its peers with this one certificate;
     * catching a missing usage here beats failing every handshake later. */
    if (X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0) != 1) {
        rc = cjx_errf(eb, CJX_ETLS,
                      "certificate may not be used by a TLS server (needs "
                      "extended key usage serverAuth, key usage "
                      "digitalSignature)");
        goto out;
    }
    if (X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
        rc = cjx_errf(eb, CJX_ETLS,
                      "certificate may not be used by a TLS client (needs "
                      "extended key usage clientAuth, key usage "
                      "digitalSignature)");
        goto out;
    }
out:
    ERR_clear_error();
    EVP_PKEY_free(key);
    X509_free(x);
    return rc;
}

int
cjx_tls_describe_cert(const char *pem, size_t len, struct cjx_cert_summary *out)
{
    snprintf(out->subject, sizeof(out->subject), "(no certificate)");
    snprintf(out->fingerprint, sizeof(out->fingerprint), "(none)");
    X509 *x = tls_parse_leaf(pem, len);
    if (x == NULL) {
        ERR_clear_error();
        snprintf(out->subject, sizeof(out->subject), "(unparsable)");
        return CJX_EUNAUTH;
    }
    tls_name_text(X509_get_subject_name(x), out->subject, sizeof(out->subject));
    int rc = fingerprint_of(x, out->fingerprint, NULL);
    ERR_clear_error();
    X509_free(x);
    return rc;
}

/* A certificate that may issue others is no agency's: with it a peer could
 * mint certificates for any agency that chain to the exchange's CA. */
static int
refuse_ca(X509 *x, struct cjx_errbuf *eb)
{
    uint32_t flags = X509_get_extension_flags(x);
    if (flags & EXFLAG_CA)
        return cjx_errf(eb, CJX_EUNAUTH,
                        "certificate is a CA (basicConstraints CA:TRUE); an "
                        "agency certificate must have CA:FALSE");
    if ((flags & EXFLAG_KUSAGE) && (X509_get_key_usage(x) & KU_KEY_CERT_SIGN))
        return cjx_errf(eb, CJX_EUNAUTH,
                        "certificate may sign certificates (key usage "
                        "keyCertSign); an agency certificate may not");
    if (X509_check_ca(x) != 0)
        return cjx_errf(eb, CJX_EUNAUTH,
                        "certificate is a CA certificate; an agency "
                        "certificate may not be");
    return 0;
}

int
cjx_tls_check_client_cert(const char *pem, size_t len, struct cjx_errbuf *eb)
{
    char why[256];
    X509 *x = tls_parse_leaf(pem, len);
    if (x == NULL)
        return cjx_errf(eb, CJX_EUNAUTH,
                        "cannot parse the peer certificate: %s",
                        cjx_tls_openssl_reason(why, sizeof(why)));
    int rc = refuse_ca(x, eb);
    /* OpenSSL takes a certificate without extendedKeyUsage as good for
     * every purpose; cjx requires the usage to be stated. */
    if (rc == 0 && (!(X509_get_extension_flags(x) & EXFLAG_XKUSAGE) ||
                    !(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT)))
        rc = cjx_errf(eb, CJX_EUNAUTH,
                      "certificate's extended key usage does not include "
                      "clientAuth");
    ERR_clear_error();
    X509_free(x);
    return rc;
}

const char *
cjx_tls_verify_error_text(int code)
{
    return X509_verify_cert_error_string(code);
}
