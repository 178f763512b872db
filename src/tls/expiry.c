/* When certificates and CRLs run out: for the metrics and for cjxctl
 * status, which warn before the exchange stops trusting this daemon. */
#include "cjx/tls.h"

#include <dirent.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cjx/file.h"
#include "tls_internal.h"

int
tls_unix_seconds(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

/* Seconds since the epoch of an ASN.1 time, or 0 when it does not parse. */
static int64_t
unix_seconds(const ASN1_TIME *t)
{
    int64_t s;
    return tls_unix_seconds(t, &s) == 0 ? s : 0;
}

int
cjx_tls_cert_expiries(const char *pem, size_t len, cjx_tls_expiry_fn visit,
                      void *arg)
{
    if (pem == NULL || len > INT_MAX)
        return CJX_EINVAL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return CJX_ENOMEM;
    int n = 0, stop = 0;
    X509 *x;
    char subject[256];
    while (!stop && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        n++;
        tls_name_text(X509_get_subject_name(x), subject, sizeof(subject));
        stop = visit(arg, subject, unix_seconds(X509_get0_notAfter(x)));
        X509_free(x);
    }
    ERR_clear_error();
    BIO_free(bio);
    return n > 0 ? 0 : CJX_ETLS;
}

/* Visits the CRLs of one file: PEM (one or several) or DER. */
static int
visit_crl_file(const char *path, cjx_tls_expiry_fn visit, void *arg)
{
    /* Read whole, as the CRL loader reads it: a CRL of many revocations is
     * larger than any fixed buffer, and a cut one would not parse. A file
     * that cannot be read is skipped, as the contract says. */
    char *buf = NULL;
    size_t len = 0;
    if (cjx_file_read(path, TLS_CRL_FILE_MAX_BYTES, &buf, &len, NULL) != 0)
        return 0;
    char issuer[256];
    int stop = 0, found = 0;
    BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(buf, (int)len) : NULL;
    X509_CRL *crl;
    while (bio != NULL && !stop &&
           (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
        found = 1;
        tls_name_text(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
        if (X509_CRL_get0_nextUpdate(crl) != NULL)
            stop =
                visit(arg, issuer, unix_seconds(X509_CRL_get0_nextUpdate(crl)));
        X509_CRL_free(crl);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (!found) {
        const unsigned char *p = (const unsigned char *)buf;
        crl = len <= LONG_MAX ? d2i_X509_CRL(NULL, &p, (long)len) : NULL;
        ERR_clear_error();
        if (crl != NULL && X509_CRL_get0_nextUpdate(crl) != NULL) {
            tls_name_text(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
            stop =
                visit(arg, issuer, unix_seconds(X509_CRL_get0_nextUpdate(crl)));
        }
        X509_CRL_free(crl);
    }
    free(buf);
    return stop;
}

int
cjx_tls_crl_dir_expiries(const char *dir, cjx_tls_expiry_fn visit, void *arg)
{
    if (dir == NULL || dir[0] == '\0')
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return CJX_EIO;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (visit_crl_file(path, visit, arg) != 0)
            break;
    }
    closedir(d);
    return 0;
}
