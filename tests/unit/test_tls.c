/* Unit tests for src/tls: agency identity, own-certificate checks, key files. */
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
    assert_string_equal(eb.msg,
                        "agency URI SAN spiffe://other.example/agency/"
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
    assert_int_equal(cjx_tls_read_pem(path, 0, &pem, &len, &eb), CJX_EINVAL);
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
    cjx_conf_free(c);
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
    char *cert = make_cert("URI:spiffe://cjx.example/agency/CA038013A", rsa,
                           &key_pem);
    struct cjx_errbuf eb = {{0}};
    assert_int_equal(cjx_tls_check_own_cert(cert, key_pem, TD, "CA038013A", &eb),
                     CJX_ETLS);
    assert_msg_has(&eb, "the key is too weak (80 bits of security");
    free(cert);
    free(key_pem);
    EVP_PKEY_free(rsa);

    /* The same shape with a P-256 key passes, so weakness was the reason. */
    char *key2 = NULL;
    char *cert2 = make_cert("URI:spiffe://cjx.example/agency/CA038013A", NULL,
                            &key2);
    if (cjx_tls_check_own_cert(cert2, key2, TD, "CA038013A", &eb) != 0)
        fail_msg("%s", eb.msg);
    free(cert2);
    free(key2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls__identify__agency_cert__gives_ori_and_fingerprint),
        cmocka_unit_test(test_tls__identify__does_not_judge_validity_or_registration),
        cmocka_unit_test(test_tls__identify__no_san__refused),
        cmocka_unit_test(test_tls__identify__wrong_trust_domain__refused),
        cmocka_unit_test(test_tls__identify__san_shapes),
        cmocka_unit_test(test_tls__identify__nul_in_uri__refused),
        cmocka_unit_test(test_tls__identify__garbage__refused),
        cmocka_unit_test(test_tls__identify__concurrent_calls__agree),
        cmocka_unit_test(test_tls__read_pem__key_open_to_others__refused),
        cmocka_unit_test(test_tls__read_pem__private_modes_accepted_and_content_exact),
        cmocka_unit_test(test_tls__read_pem__missing_or_not_a_file__refused),
        cmocka_unit_test(test_tls__check_own__every_dev_agency__accepted),
        cmocka_unit_test(test_tls__check_own__via_generated_config__accepted),
        cmocka_unit_test(test_tls__check_own__refusals),
        cmocka_unit_test(test_tls__check_own__judged_by_the_cjx_clock),
        cmocka_unit_test(test_tls__check_own__bad_key_material__refused),
        cmocka_unit_test(test_tls__check_own__weak_key__refused),
    };
    return cmocka_run_group_tests(tests, setup_certs, teardown_certs);
}
