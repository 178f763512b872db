/* Unit tests for src/tls: agency identity, own-certificate checks, key files,
 * revocation lists. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cjx/clock.h"
#include "cjx/conf.h"
#include "cjx/error.h"
#include "cjx/tls.h"

#define TD "cjx.example"

/* The certificates made by certs/make-dev-certs.sh for this run. */
static char certs[PATH_MAX];

static const struct {
    const char *slug, *ori;
} dev_agencies[] = {
    {"doj", "CA0000001"},        {"sf-da", "CA038013A"},
    {"sf-court", "CA038033J"},   {"sf-pd", "CA038023P"},
    {"alameda-da", "CA001013A"}, {"alameda-court", "CA001033J"},
};
#define N_DEV (sizeof(dev_agencies) / sizeof(dev_agencies[0]))

/* ---- Helpers ---------------------------------------------------------- */

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
setup_certs(void **state)
{
    (void)state;
    const char *data = getenv("CJX_TEST_DATA");
    if (data == NULL) {
        fprintf(stderr, "CJX_TEST_DATA is not set (run through ctest)\n");
        return -1;
    }
    char script[PATH_MAX];
    snprintf(script, sizeof(script), "%s/../../certs/make-dev-certs.sh", data);
    const char *tmp = getenv("TMPDIR");
    snprintf(certs, sizeof(certs), "%s/cjx-test-tls-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(certs) == NULL)
        return -1;

    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        execl("/bin/bash", "bash", script, certs, (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s %s failed\n", script, certs);
        return -1;
    }
    return 0;
}

static int
teardown_certs(void **state)
{
    (void)state;
    if (certs[0] != '\0')
        nftw(certs, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void
cert_path(char *buf, size_t len, const char *name, const char *ext)
{
    if (snprintf(buf, len, "%s/%s.%s", certs, name, ext) >= (int)len)
        fail_msg("path too long");
}

/* Reads certs/<name>.<ext>; free with cjx_tls_free_pem. */
static char *
load(const char *name, const char *ext, size_t *len)
{
    char path[PATH_MAX];
    char *pem = NULL;
    size_t n = 0;
    struct cjx_errbuf eb = {{0}};
    cert_path(path, sizeof(path), name, ext);
    if (cjx_tls_read_pem(path, strcmp(ext, "key") == 0, &pem, &n, &eb) != 0)
        fail_msg("%s", eb.msg);
    if (len != NULL)
        *len = n;
    return pem;
}

static int
identify_file(const char *name, struct cjx_peer_identity *id,
              struct cjx_errbuf *eb)
{
    size_t len;
    char *pem = load(name, "pem", &len);
    int rc = cjx_tls_identify(pem, len, TD, id, eb);
    cjx_tls_free_pem(pem, len);
    return rc;
}

static int
check_own(const char *cert, const char *key, const char *ori,
          struct cjx_errbuf *eb)
{
    size_t cl, kl;
    char *c = load(cert, "pem", &cl);
    char *k = load(key, "key", &kl);
    int rc = cjx_tls_check_own_cert(c, k, TD, ori, eb);
    cjx_tls_free_pem(c, cl);
    cjx_tls_free_pem(k, kl);
    return rc;
}

static void
assert_msg_has(const struct cjx_errbuf *eb, const char *part)
{
    if (strstr(eb->msg, part) == NULL)
        fail_msg("message '%s' lacks '%s'", eb->msg, part);
}

/* A certificate built in the test for SAN shapes the script does not make:
 * self-signed, valid from an hour ago for a day, with the given SAN
 * extension value (openssl config syntax) or none. Returns new PEM text
 * (free with free()); *key_pem, if asked for, receives its key. */
static char *
make_cert(const char *san, EVP_PKEY *key, char **key_pem)
{
    EVP_PKEY *k = key != NULL ? key : EVP_EC_gen("P-256");
    assert_non_null(k);
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(x, name);

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    const struct {
        int nid;
        const char *value;
    } exts[] = {
        {NID_key_usage, "critical, digitalSignature"},
        {NID_ext_key_usage, "serverAuth, clientAuth"},
        {NID_subject_alt_name, san},
    };
    for (size_t i = 0; i < 3; i++) {
        if (exts[i].value == NULL)
            continue;
        X509_EXTENSION *e =
            X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
        assert_non_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);

    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *pem = strndup(data, (size_t)n);
    BIO_free(bio);
    if (key_pem != NULL) {
        bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
        n = BIO_get_mem_data(bio, &data);
        *key_pem = strndup(data, (size_t)n);
        BIO_free(bio);
    }
    X509_free(x);
    if (key == NULL)
        EVP_PKEY_free(k);
    return pem;
}

/* ---- cjx_tls_identify ----------------------------------------------------- */

static void
fingerprint_by_cli(const char *name, char out[CJX_FINGERPRINT_HEX_LEN + 1])
{
    char path[PATH_MAX], cmd[PATH_MAX + 96], line[256];
    cert_path(path, sizeof(path), name, "pem");
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in '%s' -noout -fingerprint -sha256", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof(line), p));
    assert_int_equal(pclose(p), 0);
    /* "sha256 Fingerprint=AB:CD:..." */
    const char *s = strchr(line, '=');
    assert_non_null(s);
    size_t n = 0;
    for (s++; *s != '\0' && *s != '\n'; s++) {
        if (*s == ':')
            continue;
        assert_true(n < CJX_FINGERPRINT_HEX_LEN);
        out[n++] = (char)(*s >= 'A' && *s <= 'F' ? *s - 'A' + 'a' : *s);
    }
    assert_int_equal(n, CJX_FINGERPRINT_HEX_LEN);
    out[n] = '\0';
}

static void
test_tls__identify__agency_cert__gives_ori_and_fingerprint(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_DEV; i++) {
        struct cjx_peer_identity id;
        struct cjx_errbuf eb = {{0}};
        char want[CJX_FINGERPRINT_HEX_LEN + 1];
        if (identify_file(dev_agencies[i].slug, &id, &eb) != 0)
            fail_msg("%s: %s", dev_agencies[i].slug, eb.msg);
        assert_string_equal(id.ori, dev_agencies[i].ori);
        fingerprint_by_cli(dev_agencies[i].slug, want);
        assert_string_equal(id.fingerprint, want);
    }
}

/* identify reads identity only; the TLS layer verifies validity and the
 * chain, and the RPC layer looks the ORI up in the registry. */
static void
test_tls__identify__does_not_judge_validity_or_registration(void **state)
{
    (void)state;
    static const struct {
        const char *file, *ori;
    } cases[] = {{"expired", "CA038013A"},
                 {"notyet", "CA038013A"},
                 {"otherca", "CA038013A"},
                 {"unknown", "CA099999X"},
                 {"badusage", "CA038013A"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cjx_peer_identity id;
        struct cjx_errbuf eb = {{0}};
        if (identify_file(cases[i].file, &id, &eb) != 0)
            fail_msg("%s: %s", cases[i].file, eb.msg);
        assert_string_equal(id.ori, cases[i].ori);
    }
}

static void
test_tls__identify__no_san__refused(void **state)
{
    (void)state;
    struct cjx_peer_identity id;
    memset(&id, 'x', sizeof(id));
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(identify_file("nosan", &id, &eb), CJX_EUNAUTH);
    assert_string_equal(eb.msg, "certificate has no subjectAltName");
    assert_int_equal(id.ori[0], 'x'); /* untouched on failure */
}

static void
test_tls__identify__wrong_trust_domain__refused(void **state)
{
    (void)state;
    struct cjx_peer_identity id;
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(identify_file("wrongdomain", &id, &eb), CJX_EUNAUTH);
    assert_string_equal(eb.msg, "agency URI SAN spiffe://other.example/agency/"
                                "CA038013A is not in trust domain cjx.example");
}

static void
test_tls__identify__san_shapes(void **state)
{
    (void)state;
    /* ok is the ORI expected, or NULL with a part of the refusal. */
    static const struct {
        const char *san, *ori, *why;
    } cases[] = {
        {"URI:spiffe://cjx.example/agency/CA038013A", "CA038013A", NULL},
        /* Other URI forms and other SAN types are ignored. */
        {"DNS:localhost, URI:https://cjx.example/agency/CA0000001, "
         "URI:spiffe://cjx.example/agency/CA038013A, "
         "URI:spiffe://cjx.example/workload/db, email:a@b.example",
         "CA038013A", NULL},
        {"URI:spiffe://cjx.example/agency/CA038013A, "
         "URI:spiffe://cjx.example/agency/CA001013A",
         NULL, "2 agency URI SANs"},
        {"URI:spiffe://cjx.example/agency/CA038013A, "
         "URI:spiffe://cjx.example/agency/CA038013A",
         NULL, "2 agency URI SANs"},
        {"URI:spiffe://cjx.example/agency/CA038013A, "
         "URI:spiffe://other.example/agency/CA001013A",
         NULL, "2 agency URI SANs"},
        {"DNS:localhost, IP:127.0.0.1", NULL, "no URI SAN of the form"},
        {"URI:spiffe://cjx.example/workload/CA038013A", NULL,
         "no URI SAN of the form"},
        {"URI:spiffe://cjx.example", NULL, "no URI SAN of the form"},
        {"URI:SPIFFE://cjx.example/agency/CA038013A", NULL, "is malformed"},
        {"URI:spiffe://CJX.EXAMPLE/agency/CA038013A", NULL,
         "not in trust domain"},
        {"URI:spiffe://cjx.example.evil/agency/CA038013A", NULL,
         "not in trust domain"},
        {"URI:spiffe://cjx.exampl/agency/CA038013A", NULL,
         "not in trust domain"},
        {"URI:spiffe://evil@cjx.example/agency/CA038013A", NULL,
         "not in trust domain"},
        {"URI:spiffe://cjx.example:443/agency/CA038013A", NULL,
         "not in trust domain"},
        {"URI:spiffe:///agency/CA038013A", NULL, "not in trust domain"},
        {"URI:spiffe://cjx.example/agency/ca038013a", NULL,
         "does not end in an ORI"},
        {"URI:spiffe://cjx.example/agency/CA038013", NULL,
         "does not end in an ORI"},
        {"URI:spiffe://cjx.example/agency/CA038013AB", NULL,
         "does not end in an ORI"},
        {"URI:spiffe://cjx.example/agency/CA038013A/", NULL,
         "does not end in an ORI"},
        {"URI:spiffe://cjx.example/agency/CA038013A?x=1", NULL,
         "does not end in an ORI"},
        {"URI:spiffe://cjx.example/agency/", NULL, "does not end in an ORI"},
        {"URI:spiffe://cjx.example/agency/CA03-013A", NULL,
         "does not end in an ORI"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *pem = make_cert(cases[i].san, NULL, NULL);
        struct cjx_peer_identity id;
        struct cjx_errbuf eb = {{0}};
        int rc = cjx_tls_identify(pem, strlen(pem), TD, &id, &eb);
        free(pem);
        if (cases[i].ori != NULL) {
            if (rc != 0)
                fail_msg("%s: %s", cases[i].san, eb.msg);
            assert_string_equal(id.ori, cases[i].ori);
        } else {
            if (rc != CJX_EUNAUTH)
                fail_msg("%s: accepted as %s", cases[i].san, id.ori);
            assert_msg_has(&eb, cases[i].why);
        }
    }
}

/* A NUL inside the URI must not let "spiffe://cjx.example/agency/X\0..."
 * pass as X, and must not reach the message raw. */
static void
test_tls__identify__nul_in_uri__refused(void **state)
{
    (void)state;
    static const char uri[] = "spiffe://cjx.example/agency/CA038013A\0\nx";
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    ASN1_STRING_set(s, uri, (int)sizeof(uri) - 1);
    GENERAL_NAME_set0_value(gn, GEN_URI, s);
    sk_GENERAL_NAME_push(names, gn);
    X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, 0);
    GENERAL_NAMES_free(names);
    X509_sign(x, k, EVP_sha256());
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char *data;
    long n = BIO_get_mem_data(bio, &data);

    struct cjx_peer_identity id;
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(cjx_tls_identify(data, (size_t)n, TD, &id, &eb),
                     CJX_EUNAUTH);
    assert_msg_has(&eb, "is malformed");
    assert_null(strchr(eb.msg, '\n'));
    BIO_free(bio);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void
test_tls__identify__garbage__refused(void **state)
{
    (void)state;
    size_t len;
    char *pem = load("sf-da", "pem", &len);
    struct cjx_peer_identity id;
    struct cjx_errbuf eb = {{0}};

    assert_int_equal(cjx_tls_identify(pem, len / 2, TD, &id, &eb), CJX_EUNAUTH);
    assert_msg_has(&eb, "cannot parse the peer certificate");
    assert_int_equal(cjx_tls_identify(pem, 0, TD, &id, &eb), CJX_EUNAUTH);
    assert_int_equal(cjx_tls_identify("hello", 5, TD, &id, &eb), CJX_EUNAUTH);
    assert_int_equal(cjx_tls_identify(NULL, 0, TD, &id, &eb), CJX_EUNAUTH);
    /* A corrupted body: flip a base64 character inside the certificate. */
    pem[len / 2] = pem[len / 2] == 'A' ? 'B' : 'A';
    int rc = cjx_tls_identify(pem, len, TD, &id, &eb);
    assert_true(rc == CJX_EUNAUTH || rc == 0);
    assert_int_equal(cjx_tls_identify(pem, len, "", &id, &eb), CJX_EINVAL);
    assert_int_equal(cjx_tls_identify(pem, len, NULL, &id, &eb), CJX_EINVAL);
    cjx_tls_free_pem(pem, len);
}

struct thread_arg {
    const char *pem;
    size_t len;
    int failures;
};

static void *
identify_many(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 200; i++) {
        struct cjx_peer_identity id;
        if (cjx_tls_identify(a->pem, a->len, TD, &id, NULL) != 0 ||
            strcmp(id.ori, "CA038033J") != 0)
            a->failures++;
    }
    return NULL;
}

static void
test_tls__identify__concurrent_calls__agree(void **state)
{
    (void)state;
    size_t len;
    char *pem = load("sf-court", "pem", &len);
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){pem, len, 0};
        assert_int_equal(pthread_create(&t[i], NULL, identify_many, &args[i]),
                         0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    cjx_tls_free_pem(pem, len);
}

/* ---- client certificate rules and summaries ------------------------------- */

static int
check_client_file(const char *name, struct cjx_errbuf *eb)
{
    size_t len;
    char *pem = load(name, "pem", &len);
    int rc = cjx_tls_check_client_cert(pem, len, eb);
    cjx_tls_free_pem(pem, len);
    return rc;
}

/* Each row is a certificate of the test set and what the client rules say
 * of it; the chain, validity and identity are judged elsewhere. */
static void
test_tls__check_client__dev_certificates__judged_by_the_rules(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int rc;
        const char *reason;
    } cases[] = {
        {"sf-da", 0, NULL},
        {"doj", 0, NULL},
        {"expired", 0, NULL}, /* validity is the handshake's to judge */
        {"badusage", CJX_EUNAUTH,
         "certificate's extended key usage does not include clientAuth"},
        {"ca", CJX_EUNAUTH,
         "certificate is a CA (basicConstraints CA:TRUE); an agency "
         "certificate must have CA:FALSE"},
        {"untrusted-ca", CJX_EUNAUTH, "basicConstraints CA:TRUE"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cjx_errbuf eb = {{0}};
        int rc = check_client_file(cases[i].file, &eb);
        if (rc != cases[i].rc)
            fail_msg("%s: %d (%s), expected %d", cases[i].file, rc, eb.msg,
                     cases[i].rc);
        if (cases[i].reason != NULL && strstr(eb.msg, cases[i].reason) == NULL)
            fail_msg("%s: unexpected reason: %s", cases[i].file, eb.msg);
    }
}

static void
test_tls__check_client__garbage__refused(void **state)
{
    (void)state;
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(cjx_tls_check_client_cert("hello", 5, &eb), CJX_EUNAUTH);
    assert_msg_has(&eb, "cannot parse the peer certificate");
    assert_int_equal(cjx_tls_check_client_cert(NULL, 0, &eb), CJX_EUNAUTH);
}

static void
test_tls__describe__gives_subject_and_the_identity_fingerprint(void **state)
{
    (void)state;
    size_t len;
    char *pem = load("sf-court", "pem", &len);
    struct cjx_cert_summary sum;
    struct cjx_peer_identity id;
    assert_int_equal(cjx_tls_describe_cert(pem, len, &sum), 0);
    assert_int_equal(cjx_tls_identify(pem, len, TD, &id, NULL), 0);
    assert_string_equal(sum.fingerprint, id.fingerprint);
    assert_string_equal(sum.subject,
                        "/O=cjx development/OU=COURT/CN=CA038033J");
    cjx_tls_free_pem(pem, len);

    assert_int_equal(cjx_tls_describe_cert("junk", 4, &sum), CJX_EUNAUTH);
    assert_string_equal(sum.subject, "(unparsable)");
    assert_string_equal(sum.fingerprint, "(none)");
}

static void
test_tls__verify_error_text__names_openssl_reason(void **state)
{
    (void)state;
    assert_string_equal(cjx_tls_verify_error_text(10),
                        "certificate has expired");
    assert_string_equal(cjx_tls_verify_error_text(23), "certificate revoked");
}

/* ---- cjx_tls_read_pem ----------------------------------------------------- */

static void
copy_with_mode(const char *from, const char *to, mode_t mode)
{
    size_t len;
    char *pem = load(from, "key", &len);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, pem, len), (ssize_t)len);
    close(fd);
    assert_int_equal(chmod(to, mode), 0);
    cjx_tls_free_pem(pem, len);
}

static void
test_tls__read_pem__key_open_to_others__refused(void **state)
{
    (void)state;
    static const struct {
        mode_t mode;
        const char *how;
    } cases[] = {{0644, "readable"}, {0640, "readable"}, {0604, "readable"},
                 {0620, "writable"}, {0602, "writable"}, {0610, "accessible"}};
    char path[PATH_MAX], want[PATH_MAX + 128];
    cert_path(path, sizeof(path), "loose", "key");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        copy_with_mode("sf-da", path, cases[i].mode);
        char *pem = (char *)&pem;
        size_t len = 7;
        struct cjx_errbuf eb = {{0}};
        assert_int_equal(cjx_tls_read_pem(path, 1, &pem, &len, &eb), CJX_EPERM);
        snprintf(want, sizeof(want),
                 "key file %s is %s by group or others (mode %04o); chmod 600 "
                 "it",
                 path, cases[i].how, (unsigned)cases[i].mode);
        assert_string_equal(eb.msg, want);
        assert_ptr_equal(pem, (char *)&pem);
        assert_int_equal(len, 7);

        /* Without require_private the same file is read. */
        assert_int_equal(cjx_tls_read_pem(path, 0, &pem, &len, &eb), 0);
        cjx_tls_free_pem(pem, len);
    }
    unlink(path);
}

static void
test_tls__read_pem__private_modes_accepted_and_content_exact(void **state)
{
    (void)state;
    static const mode_t modes[] = {0600, 0400};
    char path[PATH_MAX], orig[PATH_MAX];
    cert_path(path, sizeof(path), "tight", "key");
    cert_path(orig, sizeof(orig), "sf-da", "key");
    for (size_t i = 0; i < 2; i++) {
        copy_with_mode("sf-da", path, modes[i]);
        char *pem = NULL;
        size_t len = 0;
        struct cjx_errbuf eb = {{0}};
        if (cjx_tls_read_pem(path, 1, &pem, &len, &eb) != 0)
            fail_msg("%s", eb.msg);
        struct stat st;
        assert_int_equal(stat(orig, &st), 0);
        assert_int_equal(len, (size_t)st.st_size);
        assert_int_equal(pem[len], '\0');
        assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
        cjx_tls_free_pem(pem, len);
    }
    unlink(path);
    /* The script made every key 0600. */
    for (size_t i = 0; i < N_DEV; i++) {
        struct stat st;
        cert_path(path, sizeof(path), dev_agencies[i].slug, "key");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
    }
}

static void
test_tls__read_pem__missing_or_not_a_file__refused(void **state)
{
    (void)state;
    char *pem = NULL;
    size_t len = 0;
    struct cjx_errbuf eb = {{0}};
    char path[PATH_MAX];
    cert_path(path, sizeof(path), "absent", "pem");
    assert_int_equal(cjx_tls_read_pem(path, 0, &pem, &len, &eb), CJX_EIO);
    assert_msg_has(&eb, "No such file or directory");
    assert_int_equal(cjx_tls_read_pem(certs, 0, &pem, &len, &eb), CJX_EINVAL);
    assert_msg_has(&eb, "not a regular file");
    /* A (sparse) file over the 1 MiB cap is refused before it is read. */
    cert_path(path, sizeof(path), "huge", "pem");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (1 << 20) + 1), 0);
    close(fd);
    assert_int_equal(cjx_tls_read_pem(path, 0, &pem, &len, &eb), CJX_ELIMIT);
    assert_msg_has(&eb, ": larger than 1048576 bytes");
    unlink(path);
    assert_null(pem);
    cjx_tls_free_pem(NULL, 0);
}

/* ---- cjx_tls_check_own_cert ----------------------------------------------- */

static void
test_tls__check_own__every_dev_agency__accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_DEV; i++) {
        struct cjx_errbuf eb = {{0}};
        if (check_own(dev_agencies[i].slug, dev_agencies[i].slug,
                      dev_agencies[i].ori, &eb) != 0)
            fail_msg("%s: %s", dev_agencies[i].slug, eb.msg);
    }
}

/* What the daemon does at start: config, then its files, then the check. */
static void
test_tls__check_own__via_generated_config__accepted(void **state)
{
    (void)state;
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/sf-pd.yaml", certs) >=
        (int)sizeof(path))
        fail_msg("path too long");
    struct cjx_conf *c = NULL;
    struct cjx_errbuf eb = {{0}};
    if (cjx_conf_load(path, &c, &eb) != 0)
        fail_msg("%s", eb.msg);
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    assert_int_equal(cjx_tls_read_pem(c->tls.cert, 0, &cert, &cl, &eb), 0);
    assert_int_equal(cjx_tls_read_pem(c->tls.key, 1, &key, &kl, &eb), 0);
    if (cjx_tls_check_own_cert(cert, key, c->trust_domain, c->agency, &eb) != 0)
        fail_msg("%s", eb.msg);
    cjx_tls_free_pem(cert, cl);
    cjx_tls_free_pem(key, kl);
    cjx_conf_unref(c);
}

static void
test_tls__check_own__refusals(void **state)
{
    (void)state;
    static const struct {
        const char *cert, *key, *ori, *why;
    } cases[] = {
        {"sf-da", "doj", "CA038013A",
         "the private key does not belong to the certificate"},
        {"otherca", "sf-da", "CA038013A",
         "the private key does not belong to the certificate"},
        {"sf-da", "sf-da", "CA0000001",
         "certificate names agency CA038013A, but this daemon is CA0000001"},
        {"unknown", "unknown", "CA038013A",
         "certificate names agency CA099999X, but this daemon is CA038013A"},
        {"expired", "expired", "CA038013A",
         "certificate expired at 2021-01-01T00:00:00Z"},
        {"notyet", "notyet", "CA038013A", "certificate is not valid before "},
        {"nosan", "nosan", "CA038013A", "certificate has no subjectAltName"},
        {"wrongdomain", "wrongdomain", "CA038013A",
         "is not in trust domain cjx.example"},
        {"badusage", "badusage", "CA038013A",
         "certificate may not be used by a TLS client"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cjx_errbuf eb = {{0}};
        int rc = check_own(cases[i].cert, cases[i].key, cases[i].ori, &eb);
        if (rc != CJX_ETLS)
            fail_msg("%s/%s: got %s", cases[i].cert, cases[i].key,
                     cjx_err_name(rc));
        assert_msg_has(&eb, cases[i].why);
    }
}

static int64_t pinned_us;

static int64_t
pinned_clock(void)
{
    return pinned_us;
}

/* Validity is judged against the cjx clock, so a pinned clock decides. */
static void
test_tls__check_own__judged_by_the_cjx_clock(void **state)
{
    (void)state;
    struct cjx_errbuf eb = {{0}};
    cjx_clock_set_source(pinned_clock);
    pinned_us = INT64_C(4102444800) * 1000000; /* 2100-01-01 */
    int late = check_own("sf-da", "sf-da", "CA038013A", &eb);
    struct cjx_errbuf eb2 = {{0}};
    pinned_us = INT64_C(946684800) * 1000000; /* 2000-01-01 */
    int early = check_own("sf-da", "sf-da", "CA038013A", &eb2);
    struct cjx_errbuf eb3 = {{0}};
    pinned_us = INT64_C(1577923200) * 1000000; /* 2020-01-02, in "expired" */
    int then = check_own("expired", "expired", "CA038013A", &eb3);
    cjx_clock_set_source(NULL);

    assert_int_equal(late, CJX_ETLS);
    assert_msg_has(&eb, "certificate expired at ");
    assert_int_equal(early, CJX_ETLS);
    assert_msg_has(&eb2, "certificate is not valid before ");
    if (then != 0)
        fail_msg("%s", eb3.msg);
}

static void
test_tls__check_own__bad_key_material__refused(void **state)
{
    (void)state;
    struct cjx_errbuf eb = {{0}};
    size_t cl, kl;
    char *cert = load("sf-da", "pem", &cl);
    char *key = load("sf-da", "key", &kl);

    /* An encrypted key: the daemon must not prompt for a passphrase. */
    BIO *in = BIO_new_mem_buf(key, (int)kl);
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    BIO_free(in);
    assert_non_null(pk);
    BIO *out = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(out, pk, EVP_aes_256_cbc(),
                                              (unsigned char *)"secret", 6,
                                              NULL, NULL),
                     1);
    char *enc;
    long n = BIO_get_mem_data(out, &enc);
    char *enc_pem = strndup(enc, (size_t)n);
    BIO_free(out);
    EVP_PKEY_free(pk);
    assert_int_equal(
        cjx_tls_check_own_cert(cert, enc_pem, TD, "CA038013A", &eb), CJX_ETLS);
    assert_msg_has(&eb, "cannot parse the private key");
    free(enc_pem);

    assert_int_equal(cjx_tls_check_own_cert(cert, "junk", TD, "CA038013A", &eb),
                     CJX_ETLS);
    assert_msg_has(&eb, "cannot parse the private key");
    assert_int_equal(cjx_tls_check_own_cert("junk", key, TD, "CA038013A", &eb),
                     CJX_ETLS);
    assert_msg_has(&eb, "cannot parse the certificate");
    assert_int_equal(cjx_tls_check_own_cert(cert, key, TD, NULL, &eb),
                     CJX_EINVAL);
    cjx_tls_free_pem(cert, cl);
    cjx_tls_free_pem(key, kl);
}

static void
test_tls__check_own__weak_key__refused(void **state)
{
    (void)state;
    EVP_PKEY *rsa = EVP_RSA_gen(1024);
    assert_non_null(rsa);
    char *key_pem = NULL;
    char *cert =
        make_cert("URI:spiffe://cjx.example/agency/CA038013A", rsa, &key_pem);
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(
        cjx_tls_check_own_cert(cert, key_pem, TD, "CA038013A", &eb), CJX_ETLS);
    assert_msg_has(&eb, "the key is too weak (80 bits of security");
    free(cert);
    free(key_pem);
    EVP_PKEY_free(rsa);

    /* The same shape with a P-256 key passes, so weakness was the reason. */
    char *key2 = NULL;
    char *cert2 =
        make_cert("URI:spiffe://cjx.example/agency/CA038013A", NULL, &key2);
    if (cjx_tls_check_own_cert(cert2, key2, TD, "CA038013A", &eb) != 0)
        fail_msg("%s", eb.msg);
    free(cert2);
    free(key2);
}

/* ---- Revocation lists ----------------------------------------------------- */

static void
path_join(char *buf, size_t len, const char *dir, const char *name)
{
    if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
        fail_msg("path too long");
}

/* A fresh directory under the test's certificate directory. */
static void
crl_dir_new(char *buf, size_t len, const char *name)
{
    path_join(buf, len, certs, name);
    mkdir(buf, 0700);
}

static char *
load_ca(void)
{
    return load("ca", "pem", NULL);
}

static EVP_PKEY *
load_key(const char *name)
{
    char path[PATH_MAX];
    cert_path(path, sizeof(path), name, "key");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(k);
    return k;
}

static X509 *
load_x509(const char *name)
{
    char path[PATH_MAX];
    cert_path(path, sizeof(path), name, "pem");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

/* Writes a CRL for issuer signed by key to path, issued at now+last_s and
 * next due at now+next_s (no next update when next_s is 0), listing serial
 * (if given) with reason (-1 for none). */
static void
write_crl(const char *path, const X509_NAME *issuer, EVP_PKEY *key, long last_s,
          long next_s, const ASN1_INTEGER *serial, int reason)
{
    X509_CRL *crl = X509_CRL_new();
    assert_non_null(crl);
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, issuer);
    ASN1_TIME *t = X509_gmtime_adj(NULL, last_s);
    X509_CRL_set1_lastUpdate(crl, t);
    ASN1_TIME_free(t);
    if (next_s != 0) {
        t = X509_gmtime_adj(NULL, next_s);
        X509_CRL_set1_nextUpdate(crl, t);
        ASN1_TIME_free(t);
    }
    if (serial != NULL) {
        X509_REVOKED *rev = X509_REVOKED_new();
        X509_REVOKED_set_serialNumber(rev, (ASN1_INTEGER *)serial);
        t = X509_gmtime_adj(NULL, -60);
        X509_REVOKED_set_revocationDate(rev, t);
        ASN1_TIME_free(t);
        if (reason >= 0) {
            ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
            ASN1_ENUMERATED_set(e, reason);
            X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, e, 0, 0);
            ASN1_ENUMERATED_free(e);
        }
        X509_CRL_add0_revoked(crl, rev);
    }
    X509_CRL_sort(crl);
    assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509_CRL(f, crl), 1);
    fclose(f);
    X509_CRL_free(crl);
}

/* A CRL of the development CA itself, in dir/name. */
static void
write_ca_crl(const char *dir, const char *name, long last_s, long next_s,
             const char *revoke, int reason)
{
    char path[PATH_MAX];
    path_join(path, sizeof(path), dir, name);
    X509 *ca = load_x509("ca");
    EVP_PKEY *key = load_key("ca");
    X509 *victim = revoke != NULL ? load_x509(revoke) : NULL;
    write_crl(path, X509_get_subject_name(ca), key, last_s, next_s,
              victim != NULL ? X509_get0_serialNumber(victim) : NULL, reason);
    X509_free(victim);
    X509_free(ca);
    EVP_PKEY_free(key);
}

static int
load_set(const char *dir, struct cjx_tls_crl_set **set, struct cjx_errbuf *eb)
{
    char *ca = load_ca();
    int rc = cjx_tls_crl_set_load(dir, ca, set, eb);
    cjx_tls_free_pem(ca, strlen(ca));
    return rc;
}

static int
check_file(const struct cjx_tls_crl_set *set, const char *name,
           struct cjx_errbuf *eb)
{
    size_t len;
    char *pem = load(name, "pem", &len);
    int rc = cjx_tls_crl_set_check(set, pem, len, eb);
    cjx_tls_free_pem(pem, len);
    return rc;
}

static void
test_tls__crl__dev_crl__revoked_refused_others_pass(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    path_join(dir, sizeof(dir), certs, "crl");
    struct cjx_tls_crl_set *set = NULL;
    struct cjx_errbuf eb = {{0}};
    if (load_set(dir, &set, &eb) != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(cjx_tls_crl_set_count(set), 1);
    assert_string_equal(cjx_tls_crl_set_uncovered(set), "");

    assert_int_equal(check_file(set, "revoked", &eb), CJX_EUNAUTH);
    assert_msg_has(&eb, "was revoked at ");
    assert_msg_has(&eb, "(keyCompromise)");
    assert_msg_has(&eb, "CN=CA038013A");
    assert_msg_has(&eb, "cjx development CA");
    for (size_t i = 0; i < N_DEV; i++) {
        if (check_file(set, dev_agencies[i].slug, &eb) != 0)
            fail_msg("%s: %s", dev_agencies[i].slug, eb.msg);
    }
    /* Another CA's certificate: no CRL of that issuer, nothing to say. */
    assert_int_equal(check_file(set, "otherca", &eb), 0);
    cjx_tls_crl_set_unref(set);
}

static void
test_tls__crl__revoked_anywhere_in_chain__refused(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    path_join(dir, sizeof(dir), certs, "crl");
    struct cjx_tls_crl_set *set = NULL;
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(load_set(dir, &set, &eb), 0);
    size_t a, b;
    char *good = load("sf-da", "pem", &a);
    char *bad = load("revoked", "pem", &b);
    char *chain = malloc(a + b + 1);
    memcpy(chain, good, a);
    memcpy(chain + a, bad, b + 1);
    assert_int_equal(cjx_tls_crl_set_check(set, chain, a + b, &eb),
                     CJX_EUNAUTH);
    assert_msg_has(&eb, "was revoked");
    free(chain);
    cjx_tls_free_pem(good, a);
    cjx_tls_free_pem(bad, b);

    assert_int_equal(cjx_tls_crl_set_check(set, "junk", 4, &eb), CJX_EUNAUTH);
    assert_msg_has(&eb, "cannot parse");
    assert_int_equal(cjx_tls_crl_set_check(NULL, "junk", 4, &eb), CJX_EINVAL);
    cjx_tls_crl_set_unref(set);
}

static void
test_tls__crl__empty_dir__empty_set_names_uncovered_ca(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    crl_dir_new(dir, sizeof(dir), "crl-empty");
    struct cjx_tls_crl_set *set = NULL;
    struct cjx_errbuf eb = {{0}};
    if (load_set(dir, &set, &eb) != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(cjx_tls_crl_set_count(set), 0);
    assert_non_null(
        strstr(cjx_tls_crl_set_uncovered(set), "cjx development CA"));
    /* Without a CRL a certificate cannot be found revoked. */
    assert_int_equal(check_file(set, "revoked", &eb), 0);
    cjx_tls_crl_set_unref(set);
}

static void
test_tls__crl__pem_der_and_dotfiles__loaded_as_expected(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX];
    crl_dir_new(dir, sizeof(dir), "crl-forms");
    write_ca_crl(dir, "a.r0", -60, 86400, "revoked", 1);
    /* The same CRL as DER, and a hidden file that is not a CRL at all. */
    char cmd[6 * PATH_MAX];
    if (snprintf(cmd, sizeof(cmd),
                 "openssl crl -in '%s/a.r0' -outform DER -out '%s/b.der' && "
                 "echo junk > '%s/.hidden' && mkdir -p '%s/sub'",
                 dir, dir, dir, dir) >= (int)sizeof(cmd))
        fail_msg("command too long");
    assert_int_equal(system(cmd), 0);
    struct cjx_tls_crl_set *set = NULL;
    struct cjx_errbuf eb = {{0}};
    if (load_set(dir, &set, &eb) != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(cjx_tls_crl_set_count(set), 2);
    assert_int_equal(check_file(set, "revoked", &eb), CJX_EUNAUTH);
    cjx_tls_crl_set_unref(set);

    /* A file that is not a CRL spoils the whole directory. */
    path_join(path, sizeof(path), certs, "ca.pem");
    if (snprintf(cmd, sizeof(cmd), "cp '%s' '%s/c.0'", path, dir) >=
        (int)sizeof(cmd))
        fail_msg("command too long");
    assert_int_equal(system(cmd), 0);
    set = NULL;
    assert_int_equal(load_set(dir, &set, &eb), CJX_ETLS);
    assert_null(set);
    assert_msg_has(&eb, "c.0: not a CRL");
}

static void
test_tls__crl__removed_from_crl__passes(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    crl_dir_new(dir, sizeof(dir), "crl-hold");
    write_ca_crl(dir, "hold.r0", -60, 86400, "sf-court", 8 /* removeFromCRL */);
    struct cjx_tls_crl_set *set = NULL;
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(load_set(dir, &set, &eb), 0);
    assert_int_equal(check_file(set, "sf-court", &eb), 0);
    cjx_tls_crl_set_unref(set);

    dir[0] = '\0';
    crl_dir_new(dir, sizeof(dir), "crl-hold2");
    write_ca_crl(dir, "hold.r0", -60, 86400, "sf-court",
                 6 /* certificateHold */);
    assert_int_equal(load_set(dir, &set, &eb), 0);
    assert_int_equal(check_file(set, "sf-court", &eb), CJX_EUNAUTH);
    assert_msg_has(&eb, "(certificateHold)");
    cjx_tls_crl_set_unref(set);

    crl_dir_new(dir, sizeof(dir), "crl-noreason");
    write_ca_crl(dir, "x.r0", -60, 0, "sf-court", -1);
    assert_int_equal(load_set(dir, &set, &eb), 0);
    assert_int_equal(check_file(set, "sf-court", &eb), CJX_EUNAUTH);
    assert_msg_has(&eb, "(no reason given)");
    cjx_tls_crl_set_unref(set);
}

static void
test_tls__crl__foreign_or_forged_crl__refused_at_load(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX];
    struct cjx_tls_crl_set *set = NULL;
    struct cjx_errbuf eb = {{0}};

    /* Signed by a CA that is not in the bundle. */
    crl_dir_new(dir, sizeof(dir), "crl-foreign");
    path_join(path, sizeof(path), dir, "u.r0");
    X509 *untrusted = load_x509("untrusted-ca");
    EVP_PKEY *ukey = load_key("untrusted-ca");
    write_crl(path, X509_get_subject_name(untrusted), ukey, -60, 86400, NULL,
              -1);
    assert_int_equal(load_set(dir, &set, &eb), CJX_ETLS);
    assert_null(set);
    assert_msg_has(&eb, "u.r0: the CRL is issued by ");
    assert_msg_has(&eb, "untrusted CA");
    assert_msg_has(&eb, "which is not a CA in the CA bundle");

    /* The trusted CA's name, but another key signed it. */
    crl_dir_new(dir, sizeof(dir), "crl-forged");
    path_join(path, sizeof(path), dir, "f.r0");
    X509 *ca = load_x509("ca");
    write_crl(path, X509_get_subject_name(ca), ukey, -60, 86400, NULL, -1);
    assert_int_equal(load_set(dir, &set, &eb), CJX_ETLS);
    assert_msg_has(&eb, "f.r0: the CRL's signature does not verify");

    /* A bundle CA whose key usage does not include cRLSign. */
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"no crl sign", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *e =
        X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical, keyCertSign");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *bundle = strndup(data, (size_t)n);
    BIO_free(bio);
    crl_dir_new(dir, sizeof(dir), "crl-nosign");
    path_join(path, sizeof(path), dir, "n.r0");
    write_crl(path, name, k, -60, 86400, NULL, -1);
    assert_int_equal(cjx_tls_crl_set_load(dir, bundle, &set, &eb), CJX_ETLS);
    assert_msg_has(&eb, "may not sign CRLs");

    assert_int_equal(cjx_tls_crl_set_load(dir, "no certificates", &set, &eb),
                     CJX_ETLS);
    assert_msg_has(&eb, "the CA bundle holds no certificate");
    path_join(path, sizeof(path), certs, "does-not-exist");
    assert_int_equal(load_set(path, &set, &eb), CJX_EIO);
    assert_msg_has(&eb, "does-not-exist");
    assert_null(set);

    free(bundle);
    X509_free(x);
    EVP_PKEY_free(k);
    X509_free(ca);
    X509_free(untrusted);
    EVP_PKEY_free(ukey);
}

static void
test_tls__crl__stale_or_future_crl__refused_at_load(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    struct cjx_tls_crl_set *set = NULL;
    struct cjx_errbuf eb = {{0}};
    crl_dir_new(dir, sizeof(dir), "crl-stale");
    write_ca_crl(dir, "s.r0", -7200, -3600, NULL, -1);
    assert_int_equal(load_set(dir, &set, &eb), CJX_ETLS);
    assert_null(set);
    assert_msg_has(&eb, "s.r0: the CRL expired at ");
    assert_msg_has(&eb, "install a current CRL");

    crl_dir_new(dir, sizeof(dir), "crl-future");
    write_ca_crl(dir, "f.r0", 3600, 7200, NULL, -1);
    assert_int_equal(load_set(dir, &set, &eb), CJX_ETLS);
    assert_msg_has(&eb, "f.r0: the CRL is not valid before ");
}

/* Expiries as "subject|seconds from now" lines, rounded to the minute. */
struct expiries {
    char text[1024];
    size_t len;
};

static int
collect_expiry(void *arg, const char *subject, int64_t unix_s)
{
    struct expiries *e = arg;
    int64_t in = unix_s - (int64_t)time(NULL);
    e->len += (size_t)snprintf(e->text + e->len, sizeof(e->text) - e->len,
                               "%s|%lld\n", subject,
                               (long long)((in + (in < 0 ? -30 : 30)) / 60));
    return 0;
}

static void
test_tls__expiries__certificates_and_crls_even_expired(void **state)
{
    (void)state;
    struct expiries e = {0};
    char *pem = make_cert(NULL, NULL, NULL);
    assert_int_equal(
        cjx_tls_cert_expiries(pem, strlen(pem), collect_expiry, &e), 0);
    free(pem);
    assert_string_equal(e.text, "/CN=test|1440\n"); /* a day, in minutes */
    assert_int_equal(cjx_tls_cert_expiries("nothing", 7, collect_expiry, &e),
                     CJX_ETLS);

    /* An expired CRL is reported (that is the point), a current one too;
     * a file that is no CRL and a hidden file are skipped. */
    char dir[PATH_MAX], path[PATH_MAX];
    crl_dir_new(dir, sizeof(dir), "crl-expiries");
    write_ca_crl(dir, "old.r0", -7200, -3600, NULL, -1);
    path_join(path, sizeof(path), dir, "junk");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a CRL\n", f);
    fclose(f);
    write_ca_crl(dir, ".hidden", -60, 60, NULL, -1);
    memset(&e, 0, sizeof(e));
    assert_int_equal(cjx_tls_crl_dir_expiries(dir, collect_expiry, &e), 0);
    assert_non_null(strstr(e.text, "|-60\n"));
    assert_null(strstr(e.text, "|1\n"));
    memset(&e, 0, sizeof(e));
    write_ca_crl(dir, "new.r0", -60, 7200, NULL, -1);
    assert_int_equal(cjx_tls_crl_dir_expiries(dir, collect_expiry, &e), 0);
    assert_non_null(strstr(e.text, "|-60\n"));
    assert_non_null(strstr(e.text, "|120\n"));
    /* A CRL file larger than 64 KiB (here text before the PEM block, as a
     * CRL of many revocations would be) is read whole, not cut. */
    write_ca_crl(dir, "big.r0", -60, 10800, NULL, -1);
    path_join(path, sizeof(path), dir, "big.r0");
    char *crl_pem = NULL;
    size_t crl_len = 0;
    assert_int_equal(cjx_tls_read_pem(path, 0, &crl_pem, &crl_len, NULL), 0);
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 2000; i++)
        fputs("padding before the CRL, which PEM readers skip .........\n", f);
    fputs(crl_pem, f);
    fclose(f);
    cjx_tls_free_pem(crl_pem, crl_len);
    memset(&e, 0, sizeof(e));
    assert_int_equal(cjx_tls_crl_dir_expiries(dir, collect_expiry, &e), 0);
    assert_non_null(strstr(e.text, "|180\n"));
    assert_int_equal(cjx_tls_crl_dir_expiries("", collect_expiry, &e), 0);
    assert_int_equal(
        cjx_tls_crl_dir_expiries("/nonexistent/crl", collect_expiry, &e),
        CJX_EIO);
}

/* A CRL that goes stale while loaded refuses its issuer's certificates
 * rather than letting them pass unchecked. */
static void
test_tls__crl__expires_while_loaded__certificates_refused(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    path_join(dir, sizeof(dir), certs, "crl");
    struct cjx_tls_crl_set *set = NULL;
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(load_set(dir, &set, &eb), 0);
    cjx_clock_set_source(pinned_clock);
    pinned_us = INT64_C(4102444800) * 1000000; /* 2100-01-01 */
    int rc = check_file(set, "sf-da", &eb);
    int other = check_file(set, "otherca", NULL);
    struct cjx_errbuf eb2 = {{0}};
    struct cjx_tls_crl_set *later = NULL;
    int load_rc = load_set(dir, &later, &eb2);
    cjx_clock_set_source(NULL);
    assert_int_equal(rc, CJX_ETLS);
    assert_msg_has(&eb, "expired at ");
    assert_msg_has(&eb, "revocation cannot be checked");
    assert_int_equal(other, 0);
    assert_int_equal(load_rc, CJX_ETLS);
    assert_msg_has(&eb2, "the CRL expired at ");
    assert_int_equal(check_file(set, "sf-da", &eb), 0);
    cjx_tls_crl_set_unref(set);
}

struct crl_thread_arg {
    const struct cjx_tls_crl_set *set;
    const char *good, *bad;
    size_t good_len, bad_len;
    int failures;
};

static void *
check_many(void *p)
{
    struct crl_thread_arg *a = p;
    for (int i = 0; i < 200; i++) {
        if (cjx_tls_crl_set_check(a->set, a->good, a->good_len, NULL) != 0 ||
            cjx_tls_crl_set_check(a->set, a->bad, a->bad_len, NULL) !=
                CJX_EUNAUTH)
            a->failures++;
    }
    return NULL;
}

static void
test_tls__crl__concurrent_checks_and_refs__agree(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    path_join(dir, sizeof(dir), certs, "crl");
    struct cjx_tls_crl_set *set = NULL;
    assert_int_equal(load_set(dir, &set, NULL), 0);
    size_t gl, bl;
    char *good = load("sf-pd", "pem", &gl);
    char *bad = load("revoked", "pem", &bl);
    pthread_t t[4];
    struct crl_thread_arg args[4];
    /* The threads' reference keeps the set alive after ours is dropped. */
    cjx_tls_crl_set_ref(set);
    for (int i = 0; i < 4; i++) {
        args[i] = (struct crl_thread_arg){set, good, bad, gl, bl, 0};
        assert_int_equal(pthread_create(&t[i], NULL, check_many, &args[i]), 0);
    }
    cjx_tls_crl_set_unref(set);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    cjx_tls_crl_set_unref(set);
    cjx_tls_crl_set_unref(NULL);
    cjx_tls_free_pem(good, gl);
    cjx_tls_free_pem(bad, bl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_tls__identify__agency_cert__gives_ori_and_fingerprint),
        cmocka_unit_test(
            test_tls__identify__does_not_judge_validity_or_registration),
        cmocka_unit_test(test_tls__identify__no_san__refused),
        cmocka_unit_test(test_tls__identify__wrong_trust_domain__refused),
        cmocka_unit_test(test_tls__identify__san_shapes),
        cmocka_unit_test(test_tls__identify__nul_in_uri__refused),
        cmocka_unit_test(test_tls__identify__garbage__refused),
        cmocka_unit_test(test_tls__identify__concurrent_calls__agree),
        cmocka_unit_test(
            test_tls__check_client__dev_certificates__judged_by_the_rules),
        cmocka_unit_test(test_tls__check_client__garbage__refused),
        cmocka_unit_test(
            test_tls__describe__gives_subject_and_the_identity_fingerprint),
        cmocka_unit_test(test_tls__verify_error_text__names_openssl_reason),
        cmocka_unit_test(test_tls__read_pem__key_open_to_others__refused),
        cmocka_unit_test(
            test_tls__read_pem__private_modes_accepted_and_content_exact),
        cmocka_unit_test(test_tls__read_pem__missing_or_not_a_file__refused),
        cmocka_unit_test(test_tls__check_own__every_dev_agency__accepted),
        cmocka_unit_test(test_tls__check_own__via_generated_config__accepted),
        cmocka_unit_test(test_tls__check_own__refusals),
        cmocka_unit_test(test_tls__check_own__judged_by_the_cjx_clock),
        cmocka_unit_test(test_tls__check_own__bad_key_material__refused),
        cmocka_unit_test(test_tls__check_own__weak_key__refused),
        cmocka_unit_test(test_tls__crl__dev_crl__revoked_refused_others_pass),
        cmocka_unit_test(test_tls__crl__revoked_anywhere_in_chain__refused),
        cmocka_unit_test(
            test_tls__crl__empty_dir__empty_set_names_uncovered_ca),
        cmocka_unit_test(
            test_tls__crl__pem_der_and_dotfiles__loaded_as_expected),
        cmocka_unit_test(test_tls__crl__removed_from_crl__passes),
        cmocka_unit_test(test_tls__crl__foreign_or_forged_crl__refused_at_load),
        cmocka_unit_test(test_tls__crl__stale_or_future_crl__refused_at_load),
        cmocka_unit_test(
            test_tls__expiries__certificates_and_crls_even_expired),
        cmocka_unit_test(
            test_tls__crl__expires_while_loaded__certificates_refused),
        cmocka_unit_test(test_tls__crl__concurrent_checks_and_refs__agree),
    };
    return cmocka_run_group_tests(tests, setup_certs, teardown_certs);
}
