/* Certificate revocation lists: loaded from a directory, verified against the
 * CA bundle, and consulted for every peer certificate at the handshake. */
#include "cjx/tls.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cjx/clock.h"
#include "cjx/file.h"
#include "tls_internal.h"

struct crl_entry {
    X509_CRL *crl;
    char *file; /* where it came from, for messages */
};

struct cjx_tls_crl_set {
    atomic_int refs;
    struct crl_entry *crls;
    size_t n, cap;
    char *uncovered; /* CA subjects without a CRL, "; "-separated */
};

static const char *
reason_name(long code)
{
    static const char *const names[] = {
        "unspecified",        "keyCompromise", "cACompromise",
        "affiliationChanged", "superseded",    "cessationOfOperation",
        "certificateHold",    "(unused)",      "removeFromCRL",
        "privilegeWithdrawn", "aACompromise",
    };
    if (code < 0 || code >= (long)(sizeof(names) / sizeof(names[0])))
        return "unknown reason";
    return names[code];
}

static time_t
now_s(void)
{
    /* The cjx clock, not time(), so that tests can move "now". */
    return (time_t)(cjx_clock_now_us() / 1000000);
}

static int
add_crl(struct cjx_tls_crl_set *set, X509_CRL *crl, const char *file)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;
        struct crl_entry *grown = realloc(set->crls, cap * sizeof(*grown));
        if (grown == NULL)
            return CJX_ENOMEM;
        set->crls = grown;
        set->cap = cap;
    }
    char *copy = strdup(file);
    if (copy == NULL)
        return CJX_ENOMEM;
    set->crls[set->n].crl = crl;
    set->crls[set->n].file = copy;
    set->n++;
    return 0;
}

/* The CRL must be signed by a CA of the bundle that may sign CRLs. */
static int
verify_issuer(STACK_OF(X509) * cas, X509_CRL *crl, const char *file,
              struct cjx_errbuf *eb)
{
    const X509_NAME *issuer = X509_CRL_get_issuer(crl);
    char name[256];
    int named = 0, may_sign = 0;
    for (int i = 0; i < sk_X509_num(cas); i++) {
        X509 *ca = sk_X509_value(cas, i);
        if (X509_NAME_cmp(issuer, X509_get_subject_name(ca)) != 0)
            continue;
        named = 1;
        if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) &&
            !(X509_get_key_usage(ca) & KU_CRL_SIGN))
            continue;
        may_sign = 1;
        EVP_PKEY *key = X509_get0_pubkey(ca);
        if (key != NULL && X509_CRL_verify(crl, key) == 1) {
            ERR_clear_error();
            return 0;
        }
    }
    ERR_clear_error();
    tls_name_text(issuer, name, sizeof(name));
    if (!named)
        return cjx_errf(eb, CJX_ETLS,
                        "%s: the CRL is issued by %s, which is not a CA in "
                        "the CA bundle (tls.ca)",
                        file, name);
    if (!may_sign)
        return cjx_errf(eb, CJX_ETLS,
                        "%s: CA %s may not sign CRLs (its key usage lacks "
                        "cRLSign)",
                        file, name);
    return cjx_errf(eb, CJX_ETLS,
                    "%s: the CRL's signature does not verify with the key of "
                    "CA %s",
                    file, name);
}

static int
check_crl_dates(X509_CRL *crl, const char *file, time_t now,
                struct cjx_errbuf *eb)
{
    const ASN1_TIME *last = X509_CRL_get0_lastUpdate(crl);
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    char when[40];
    int c = last != NULL ? X509_cmp_time(last, &now) : 0;
    ERR_clear_error();
    if (c == 0)
        return cjx_errf(eb, CJX_ETLS, "%s: the CRL's issue date is unreadable",
                        file);
    if (c > 0) {
        tls_format_time(last, when, sizeof(when));
        return cjx_errf(eb, CJX_ETLS,
                        "%s: the CRL is not valid before %s (is the clock "
                        "right?)",
                        file, when);
    }
    if (next == NULL)
        return 0; /* no announced successor: it never goes stale */
    c = X509_cmp_time(next, &now);
    ERR_clear_error();
    if (c == 0)
        return cjx_errf(eb, CJX_ETLS,
                        "%s: the CRL's next-update date is unreadable", file);
    if (c < 0) {
        tls_format_time(next, when, sizeof(when));
        return cjx_errf(eb, CJX_ETLS,
                        "%s: the CRL expired at %s (its next update); install "
                        "a current CRL from the CA and reload",
                        file, when);
    }
    return 0;
}

/* Sorts the revoked list once, so that later lookups only read it and any
 * number of threads may share the CRL. */
static void
presort(X509_CRL *crl)
{
    ASN1_INTEGER *zero = ASN1_INTEGER_new();
    X509_REVOKED *rev = NULL;
    if (zero != NULL)
        X509_CRL_get0_by_serial(crl, &rev, zero);
    ASN1_INTEGER_free(zero);
    ERR_clear_error();
}

/* Takes one parsed CRL of file into set once it is signed by a CA of cas
 * and current at now. Takes ownership of crl: kept in the set, or freed. */
static int
accept_crl(struct cjx_tls_crl_set *set, STACK_OF(X509) * cas, X509_CRL *crl,
           const char *file, time_t now, struct cjx_errbuf *eb)
{
    int rc;
    if ((rc = verify_issuer(cas, crl, file, eb)) == 0 &&
        (rc = check_crl_dates(crl, file, now, eb)) == 0) {
        presort(crl);
        if ((rc = add_crl(set, crl, file)) != 0)
            cjx_errf(eb, rc, "%s: out of memory", file);
        else
            crl = NULL;
    }
    X509_CRL_free(crl);
    return rc;
}

/* Parses every CRL in one file (PEM, possibly several, or one DER). */
static int
load_file(struct cjx_tls_crl_set *set, STACK_OF(X509) * cas, const char *path,
          time_t now, struct cjx_errbuf *eb)
{
    char *data = NULL;
    size_t len = 0;
    int rc = cjx_file_read(path, TLS_CRL_FILE_MAX_BYTES, &data, &len, eb);
    if (rc != 0)
        return rc;
    int found = 0;
    BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(data, (int)len) : NULL;
    if (bio == NULL) {
        free(data);
        return cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", path);
    }
    X509_CRL *crl;
    while (rc == 0 && (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
        found++;
        rc = accept_crl(set, cas, crl, path, now, eb);
    }
    ERR_clear_error();
    BIO_free(bio);
    if (rc == 0 && found == 0) {
        const unsigned char *der = (const unsigned char *)data;
        const unsigned char *p = der;
        crl = len <= LONG_MAX ? d2i_X509_CRL(NULL, &p, (long)len) : NULL;
        ERR_clear_error();
        if (crl == NULL || p != der + len) {
            X509_CRL_free(crl);
            rc = cjx_errf(eb, CJX_ETLS,
                          "%s: not a CRL (PEM or DER); the CRL directory must "
                          "hold only CRLs",
                          path);
        } else {
            rc = accept_crl(set, cas, crl, path, now, eb);
        }
    }
    free(data);
    return rc;
}

static int
covered(const struct cjx_tls_crl_set *set, const X509_NAME *subject)
{
    for (size_t i = 0; i < set->n; i++)
        if (X509_NAME_cmp(X509_CRL_get_issuer(set->crls[i].crl), subject) == 0)
            return 1;
    return 0;
}

static int
list_uncovered(struct cjx_tls_crl_set *set, STACK_OF(X509) * cas)
{
    size_t cap = 1, used = 0;
    char name[256];
    for (int i = 0; i < sk_X509_num(cas); i++)
        cap += sizeof(name) + 2;
    set->uncovered = malloc(cap);
    if (set->uncovered == NULL)
        return CJX_ENOMEM;
    set->uncovered[0] = '\0';
    for (int i = 0; i < sk_X509_num(cas); i++) {
        const X509_NAME *subject = X509_get_subject_name(sk_X509_value(cas, i));
        if (covered(set, subject))
            continue;
        tls_name_text(subject, name, sizeof(name));
        used += (size_t)snprintf(set->uncovered + used, cap - used, "%s%s",
                                 used ? "; " : "", name);
    }
    return 0;
}

static int
skip_entry(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

int
cjx_tls_crl_set_load(const char *dir, const char *ca_pem,
                     struct cjx_tls_crl_set **out, struct cjx_errbuf *eb)
{
    if (dir == NULL || dir[0] == '\0' || ca_pem == NULL || out == NULL)
        return cjx_errf(eb, CJX_EINVAL, "crl_set_load: missing argument");
    struct cjx_tls_crl_set *set = calloc(1, sizeof(*set));
    if (set == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    atomic_init(&set->refs, 1);

    struct dirent **names = NULL;
    int n = -1, rc;
    STACK_OF(X509) *cas = tls_read_bundle(ca_pem, eb);
    if (cas == NULL) {
        rc = CJX_ETLS;
        goto out;
    }
    /* Sorted, so that the first error reported is the same on every run. */
    n = scandir(dir, &names, skip_entry, alphasort);
    if (n < 0) {
        rc =
            cjx_errf(eb, CJX_EIO, "CRL directory %s: %s", dir, strerror(errno));
        goto out;
    }
    time_t now = now_s();
    rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) >=
            (int)sizeof(path)) {
            rc = cjx_errf(eb, CJX_EINVAL, "%s/%s: path too long", dir,
                          names[i]->d_name);
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0) {
            rc = cjx_errf(eb, CJX_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        if (S_ISDIR(st.st_mode))
            continue;
        if (!S_ISREG(st.st_mode)) {
            rc = cjx_errf(eb, CJX_ETLS, "%s: not a regular file", path);
            break;
        }
        rc = load_file(set, cas, path, now, eb);
    }
    if (rc == 0 && list_uncovered(set, cas) != 0)
        rc = cjx_errf(eb, CJX_ENOMEM, "out of memory");
out:
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    sk_X509_pop_free(cas, X509_free);
    if (rc != 0) {
        cjx_tls_crl_set_unref(set);
        return rc;
    }
    *out = set;
    return 0;
}

void
cjx_tls_crl_set_ref(struct cjx_tls_crl_set *set)
{
    atomic_fetch_add(&set->refs, 1);
}

void
cjx_tls_crl_set_unref(struct cjx_tls_crl_set *set)
{
    if (set == NULL || atomic_fetch_sub(&set->refs, 1) != 1)
        return;
    for (size_t i = 0; i < set->n; i++) {
        X509_CRL_free(set->crls[i].crl);
        free(set->crls[i].file);
    }
    free(set->crls);
    free(set->uncovered);
    free(set);
}

size_t
cjx_tls_crl_set_count(const struct cjx_tls_crl_set *set)
{
    return set->n;
}

const char *
cjx_tls_crl_set_uncovered(const struct cjx_tls_crl_set *set)
{
    return set->uncovered;
}

static int
revoked_message(X509 *x, const X509_REVOKED *rev, struct cjx_errbuf *eb)
{
    char subject[256], issuer[256], when[40];
    char *hex = NULL;
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (bn != NULL)
        hex = BN_bn2hex(bn);
    BN_free(bn);
    long code = -1;
    ASN1_ENUMERATED *reason =
        X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
    if (reason != NULL)
        code = ASN1_ENUMERATED_get(reason);
    ASN1_ENUMERATED_free(reason);
    ERR_clear_error();
    tls_format_time(X509_REVOKED_get0_revocationDate(rev), when, sizeof(when));
    int rc = cjx_errf(
        eb, CJX_EUNAUTH,
        "certificate %s (serial %s) issued by %s was revoked at "
        "%s (%s)",
        tls_name_text(X509_get_subject_name(x), subject, sizeof(subject)),
        hex != NULL ? hex : "?",
        tls_name_text(X509_get_issuer_name(x), issuer, sizeof(issuer)), when,
        code < 0 ? "no reason given" : reason_name(code));
    OPENSSL_free(hex);
    return rc;
}

static int
check_one(const struct cjx_tls_crl_set *set, X509 *x, time_t now,
          struct cjx_errbuf *eb)
{
    const X509_NAME *issuer = X509_get_issuer_name(x);
    for (size_t i = 0; i < set->n; i++) {
        X509_CRL *crl = set->crls[i].crl;
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), issuer) != 0)
            continue;
        const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
        if (next != NULL && X509_cmp_time(next, &now) < 0) {
            /* Not knowing whether a certificate is revoked is no reason to
             * believe it is not: refuse until a current CRL is installed. */
            char name[256], when[40];
            tls_format_time(next, when, sizeof(when));
            ERR_clear_error();
            return cjx_errf(eb, CJX_ETLS,
                            "the CRL of %s (%s) expired at %s, so revocation "
                            "cannot be checked; install a current CRL and "
                            "reload",
                            tls_name_text(issuer, name, sizeof(name)),
                            set->crls[i].file, when);
        }
        X509_REVOKED *rev = NULL;
        /* 2 marks an entry removed from the CRL (a lifted hold). */
        if (X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(x)) == 1)
            return revoked_message(x, rev, eb);
        ERR_clear_error();
    }
    return 0;
}

int
cjx_tls_crl_set_check(const struct cjx_tls_crl_set *set, const char *pem,
                      size_t len, struct cjx_errbuf *eb)
{
    if (set == NULL || pem == NULL)
        return cjx_errf(eb, CJX_EINVAL, "crl_set_check: missing argument");
    BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    if (bio == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    time_t now = now_s();
    int rc = 0, count = 0;
    X509 *x;
    while (rc == 0 && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        count++;
        rc = check_one(set, x, now, eb);
        X509_free(x);
    }
    ERR_clear_error();
    BIO_free(bio);
    if (rc == 0 && count == 0)
        rc = cjx_errf(eb, CJX_EUNAUTH, "cannot parse the peer certificate");
    return rc;
}
