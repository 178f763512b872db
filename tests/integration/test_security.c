/* Integration tests of cjxd's transport security: revocation, certificate
 * rotation, key hygiene, connection limits, rate limits, hostile peers and
 * the systemd watchdog. Real daemons, real certificates, real sockets. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "grpc/health/v1/health.methods.h"
#include "harness.h"

#define DOJ_ORI      "CA0000001"
#define SF_COURT_ORI "CA038033J"

enum {
    OK = 0,
    PERMISSION_DENIED = 7,
    RESOURCE_EXHAUSTED = 8,
    UNAVAILABLE = 14,
    UNAUTHENTICATED = 16,
};

/* ---- helpers ------------------------------------------------------------- */

/* Runs a formatted shell command and requires it to succeed. */
static void run_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
run_ok(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof(cmd))
        fail_msg("command too long");
    if (harness_run(cmd) != 0)
        fail_msg("failed: %s", cmd);
}

/* First line of a command's output, without its newline. */
static void run_read(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
run_read(char *out, size_t len, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = '\0';
    if (fgets(out, (int)len, p) != NULL)
        out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static int
health_status(struct cjx_client *cl, struct cjx_client_status *st)
{
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    memset(st, 0, sizeof(*st));
    cjx_client_unary(cl, &grpc__health__v1__health__methods[HEALTH_CHECK],
                     &req.base, 5000, &resp, st);
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    return st->code;
}

static int
health_code(struct cjx_client *cl)
{
    struct cjx_client_status st;
    return health_status(cl, &st);
}

/* One call on a new connection presenting the test certificate cert. */
static int
health_as(const struct test_daemon *d, const char *cert)
{
    struct cjx_client *cl = harness_client_tls(d, cert);
    int code = health_code(cl);
    cjx_client_free(cl);
    return code;
}

/* The same with a certificate this test made, in the daemon's directory. */
static int
health_as_own(const struct test_daemon *d, const char *name)
{
    char cert[400], key[400];
    snprintf(cert, sizeof(cert), "%s/%s.pem", d->dir, name);
    snprintf(key, sizeof(key), "%s/%s.key", d->dir, name);
    struct cjx_client *cl = harness_client_tls_at(d, cert, key);
    int code = health_code(cl);
    cjx_client_free(cl);
    return code;
}

static void
start_or_fail(struct test_daemon *d)
{
    assert_int_equal(harness_daemon_start(d), 0);
}

static void
stop_and_clean(struct test_daemon *d)
{
    assert_int_equal(harness_daemon_stop(d), 0);
    harness_daemon_cleanup(d);
}

/* How long a test waits for a log line at most: a bound that fails a test
 * whose line never comes, far above the time the line takes. */
#define LOG_WAIT_MS 20000

static int64_t
monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the log has more than before lines containing text, woken by
 * each write to the log (inotify); fails the test when the line has not
 * come within LOG_WAIT_MS. The watch is set before the first count, so no
 * write between the two is missed. */
static void
wait_log_count(const struct test_daemon *d, const char *text, int before)
{
    int fd = inotify_init1(IN_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(inotify_add_watch(fd, d->log, IN_MODIFY) >= 0);
    int64_t deadline = monotonic_ms() + LOG_WAIT_MS;
    while (harness_log_count(d, text) <= before) {
        int64_t left = deadline - monotonic_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0) {
            close(fd);
            fail_msg("the log got no new line with \"%s\"", text);
        }
        char events[4096];
        if (read(fd, events, sizeof(events)) < 0 && errno != EINTR)
            fail_msg("reading inotify events: %s", strerror(errno));
    }
    close(fd);
}

/* A copy of the test CA's `openssl ca` state in dir/ca-db, so that this test
 * issues and revokes without touching the shared one. */
static void
ca_workspace(const char *dir)
{
    const char *certs = harness_certs();
    run_ok("cp -r '%s/ca-db' '%s/ca-db' && "
           "sed -i 's#%s/ca-db#%s/ca-db#g' '%s/ca-db/ca.cnf'",
           certs, dir, certs, dir, dir);
}

/* Issues dir/name.pem and dir/name.key (mode 0600) for agency ori, with the
 * extensions of section ext of the workspace's ca.cnf. */
static void
issue_with(const char *dir, const char *name, const char *ori, const char *role,
           const char *ext)
{
    run_ok("cd '%s' && (umask 077 && openssl genpkey -algorithm EC "
           "-pkeyopt ec_paramgen_curve:P-256 -out %s.key) && "
           "CJX_SAN= openssl req -config ca-db/ca.cnf -new -key %s.key "
           "-subj '/O=cjx development/OU=%s/CN=%s' -out %s.csr && "
           "CJX_SAN='URI:spiffe://cjx.example/agency/%s, DNS:localhost, "
           "IP:127.0.0.1' openssl ca -config ca-db/ca.cnf -name trusted_ca "
           "-batch -notext -rand_serial -extensions %s -in %s.csr "
           "-out %s.pem -days 30 2>/dev/null",
           dir, name, name, role, ori, name, ori, ext, name, name);
}

/* Issues an agency certificate as make-dev-certs.sh does. */
static void
issue(const char *dir, const char *name, const char *ori, const char *role)
{
    issue_with(dir, name, ori, role, "agency");
}

/* Revokes dir/name.pem and replaces the CRL in dir/crl, as an operator
 * refreshing the CRL would: a new file renamed over the old one. */
static void
revoke_and_publish(const char *dir, const char *name)
{
    run_ok("cd '%s' && export CJX_SAN= && "
           "openssl ca -config ca-db/ca.cnf -name trusted_ca -revoke %s.pem "
           "-crl_reason keyCompromise 2>/dev/null && "
           "openssl ca -config ca-db/ca.cnf -name trusted_ca -gencrl "
           "-out crl/.new.pem 2>/dev/null && "
           "h=$(openssl crl -hash -noout -in crl/.new.pem) && "
           "mv crl/.new.pem crl/$h.r0",
           dir, name);
}

static void
serial_of(const char *pem_path, char *out, size_t len)
{
    run_read(out, len, "openssl x509 -in '%s' -noout -serial | cut -d= -f2",
             pem_path);
    assert_true(out[0] != '\0');
}

/* The SHA-256 fingerprint of a PEM file as cjx writes it: lower-case hex. */
static void
fingerprint_of(const char *pem_path, char *out, size_t len)
{
    run_read(out, len,
             "openssl x509 -in '%s' -noout -fingerprint -sha256 | cut -d= -f2 "
             "| tr -d : | tr A-F a-f",
             pem_path);
    assert_int_equal(strlen(out), 64);
}

/* The serial of the certificate the daemon presents to a new connection. */
static void
served_serial(const struct test_daemon *d, char *out, size_t len)
{
    char buf[512];
    assert_int_equal(
        harness_rawpeer(d, "serial", NULL, "sf-court", 10, buf, sizeof(buf)),
        0);
    buf[strcspn(buf, "\n")] = '\0';
    if (snprintf(out, len, "%s", buf) >= (int)len)
        fail_msg("serial too long: %s", buf);
}

/* ---- revocation ------------------------------------------------------------ */

static void
test_security__revoked_certificate__refused_at_handshake(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    char tls[512];
    snprintf(tls, sizeof(tls), "  crl_dir: %s/crl\n", harness_certs());
    d.tls_yaml = tls;
    harness_daemon_init(&d, "doj", DOJ_ORI);
    start_or_fail(&d);
    assert_int_equal(health_as(&d, "revoked"), UNAVAILABLE);
    /* With CRLs, gRPC passes on OpenSSL's refusals, each logged with its
     * reason, not only its number. */
    static const struct {
        const char *cert, *reason;
    } chain_cases[] = {
        {"revoked", "certificate revoked (X.509 error 23)"},
        {"expired", "certificate has expired (X.509 error 10)"},
        {"notyet", "certificate is not yet valid (X.509 error 9)"},
        {"otherca", "unable to get local issuer certificate (X.509 error 20)"},
    };
    for (size_t i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]); i++) {
        char line[200];
        assert_int_equal(health_as(&d, chain_cases[i].cert), UNAVAILABLE);
        snprintf(line, sizeof(line),
                 "refused a TLS handshake: the certificate chain does not "
                 "verify: %s",
                 chain_cases[i].reason);
        if (!harness_log_contains(&d, line))
            fail_msg("%s: no log line %s", chain_cases[i].cert, line);
    }
    /* The same agency with its valid certificate, and the others, pass. */
    assert_int_equal(health_as(&d, "sf-da"), OK);
    assert_int_equal(health_as(&d, "sf-court"), OK);
    assert_true(harness_log_contains(&d, "revocation: 1 CRL(s)"));
    assert_false(harness_log_contains(&d, "not checked for revocation"));
    stop_and_clean(&d);
}

/* A CRL rewritten while the daemon runs counts from SIGHUP on: refused at
 * the handshake for new connections, and call by call on connections that
 * were open before. */
static void
test_security__crl_replaced_while_running__applies_from_sighup(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    char tls[512];
    snprintf(tls, sizeof(tls), "  crl_dir: %s/crl\n", d.dir);
    d.tls_yaml = tls;
    harness_daemon_write_conf(&d);
    ca_workspace(d.dir);
    run_ok("cp -r '%s/crl' '%s/crl'", harness_certs(), d.dir);
    issue(d.dir, "victim", SF_COURT_ORI, "COURT");
    start_or_fail(&d);

    char cert[400], key[400];
    snprintf(cert, sizeof(cert), "%s/victim.pem", d.dir);
    snprintf(key, sizeof(key), "%s/victim.key", d.dir);
    struct cjx_client *kept = harness_client_tls_at(&d, cert, key);
    assert_int_equal(health_code(kept), OK);

    revoke_and_publish(d.dir, "victim");
    /* Until told, the daemon keeps the CRLs it loaded. */
    assert_int_equal(health_as_own(&d, "victim"), OK);
    assert_int_equal(health_code(kept), OK);

    int loads = harness_log_count(&d, "revocation: ");
    harness_daemon_signal(&d, SIGHUP);
    wait_log_count(&d, "revocation: ", loads);

    assert_int_equal(health_as_own(&d, "victim"), UNAVAILABLE);
    struct cjx_client_status st;
    assert_int_equal(health_status(kept, &st), UNAUTHENTICATED);
    if (strstr(st.message, "was revoked") == NULL)
        fail_msg("unexpected message: %s", st.message);
    /* The refusal is logged. Our own check names the certificate; gRPC
     * gives it no address. But the reload also gave gRPC new credentials,
     * and its provider, which looks every second at a moment the test does
     * not choose, may already have built a new TLS context that reads the
     * new CRL: then gRPC's own check refused the handshake first, logged as
     * X.509 error 23 (revoked), and ours was not asked. */
    char fp[80];
    fingerprint_of(cert, fp, sizeof(fp));
    const char *by_us[] = {"refused a TLS handshake: ", "was revoked",
                           "(certificate subject /O=cjx development/OU=COURT/",
                           fp, NULL};
    const char *by_grpc = "certificate revoked (X.509 error 23)";
    if (!harness_log_line_with(&d, by_us))
        wait_log_count(&d, by_grpc, 0); /* gRPC logs after it refused */
    /* Only that certificate: its agency's other one still works. */
    assert_int_equal(health_as(&d, "sf-court"), OK);
    /* And it stays refused once gRPC has re-read the CRL directory too:
     * from then on gRPC's own check refuses the certificate first. Every
     * try until then must be refused by ours. */
    int grpc_refusals = harness_log_count(&d, by_grpc);
    for (int i = 0; i < 2000 && harness_log_count(&d, by_grpc) == grpc_refusals;
         i++)
        assert_int_equal(health_as_own(&d, "victim"), UNAVAILABLE);
    assert_true(harness_log_count(&d, by_grpc) > grpc_refusals);
    assert_int_equal(health_as_own(&d, "victim"), UNAVAILABLE);
    cjx_client_free(kept);
    stop_and_clean(&d);
}

static void
test_security__expired_crl__refused_at_start_and_on_reload(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    char tls[512];
    snprintf(tls, sizeof(tls), "  crl_dir: %s/crl\n", d.dir);
    d.tls_yaml = tls;
    harness_daemon_write_conf(&d);
    ca_workspace(d.dir);
    run_ok("mkdir '%s/stale' && cd '%s' && CJX_SAN= openssl ca -config "
           "ca-db/ca.cnf -name trusted_ca -gencrl -crl_lastupdate "
           "20200101000000Z -crl_nextupdate 20200201000000Z -out stale/old.r0 "
           "2>/dev/null",
           d.dir, d.dir);

    /* At start: `cjxd -n` and the daemon itself refuse, saying why. */
    run_ok("cp -r '%s/stale' '%s/crl'", d.dir, d.dir);
    char out[1024];
    run_read(out, sizeof(out), "%s -n -c '%s' 2>&1", getenv("CJX_CJXD"),
             d.conf);
    if (strstr(out, "old.r0: the CRL expired at 2020-02-01T00:00:00Z") == NULL)
        fail_msg("unexpected message: %s", out);
    assert_int_equal(harness_daemon_start(&d), -1);
    assert_true(harness_log_contains(&d, "the CRL expired at"));

    /* On reload: the running CRLs stay, and so does the daemon. */
    run_ok("rm -r '%s/crl' && cp -r '%s/crl' '%s/crl'", d.dir, harness_certs(),
           d.dir);
    start_or_fail(&d);
    run_ok("cp '%s/stale/old.r0' '%s/crl/'", d.dir, d.dir);
    int refused = harness_log_count(&d, "reload refused");
    harness_daemon_signal(&d, SIGHUP);
    wait_log_count(&d, "reload refused", refused);
    assert_int_equal(health_as(&d, "sf-court"), OK);
    assert_int_equal(health_as(&d, "revoked"), UNAVAILABLE);
    stop_and_clean(&d);
}

/* Without tls.crl_dir nothing is checked (documented), and the log says so. */
static void
test_security__no_crl_dir__warned_and_not_checked(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    start_or_fail(&d);
    assert_true(harness_log_contains(&d, "tls.crl_dir is not set: peer "
                                         "certificates are not checked for "
                                         "revocation"));
    assert_int_equal(health_as(&d, "revoked"), OK);
    stop_and_clean(&d);
}

/* ---- server certificate rotation --------------------------------------------- */

static void
test_security__server_certificate_rotated__new_connections_see_it(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    ca_workspace(d.dir);
    run_ok("cd '%s' && cp '%s/doj.pem' own.pem && cp -p '%s/doj.key' own.key",
           d.dir, harness_certs(), harness_certs());
    snprintf(d.cert_file, sizeof(d.cert_file), "%s/own.pem", d.dir);
    snprintf(d.key_file, sizeof(d.key_file), "%s/own.key", d.dir);
    harness_daemon_write_conf(&d);
    start_or_fail(&d);

    char old_serial[128], new_serial[128], seen[128];
    serial_of(d.cert_file, old_serial, sizeof(old_serial));
    served_serial(&d, seen, sizeof(seen));
    assert_string_equal(seen, old_serial);

    issue(d.dir, "renewed", DOJ_ORI, "DOJ");
    char renewed[400];
    snprintf(renewed, sizeof(renewed), "%s/renewed.pem", d.dir);
    serial_of(renewed, new_serial, sizeof(new_serial));
    assert_string_not_equal(new_serial, old_serial);
    run_ok("cd '%s' && mv renewed.key own.key && mv renewed.pem own.pem",
           d.dir);
    /* New files alone change nothing: the daemon serves what it checked. */
    served_serial(&d, seen, sizeof(seen));
    assert_string_equal(seen, old_serial);

    harness_daemon_signal(&d, SIGHUP);
    /* gRPC's provider picks the new pair up within about a second; each
     * try is a whole handshake by a new peer. Until then the old one is
     * served, never anything else. */
    for (int i = 0; i < 200 && strcmp(seen, new_serial) != 0; i++) {
        served_serial(&d, seen, sizeof(seen));
        if (strcmp(seen, new_serial) != 0)
            assert_string_equal(seen, old_serial);
    }
    assert_string_equal(seen, new_serial);
    assert_int_equal(health_as(&d, "sf-court"), OK);
    stop_and_clean(&d);
}

/* ---- key hygiene and systemd credentials -------------------------------------- */

static void
test_security__key_open_to_group__refused_at_start(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    run_ok("cp '%s/doj.key' '%s/loose.key' && chmod 640 '%s/loose.key'",
           harness_certs(), d.dir, d.dir);
    snprintf(d.cert_file, sizeof(d.cert_file), "%s/doj.pem", harness_certs());
    snprintf(d.key_file, sizeof(d.key_file), "%s/loose.key", d.dir);
    harness_daemon_write_conf(&d);
    char out[1024];
    run_read(out, sizeof(out), "%s -n -c '%s' 2>&1", getenv("CJX_CJXD"),
             d.conf);
    if (strstr(out, "loose.key is readable by group or others (mode 0640); "
                    "chmod 600 it") == NULL)
        fail_msg("unexpected message: %s", out);
    assert_int_equal(harness_daemon_start(&d), -1);
    assert_true(harness_log_contains(&d, "chmod 600 it"));
    harness_daemon_cleanup(&d);
}

/* A key handed over by systemd's LoadCredential=: "%d/..." in the file. */
static void
test_security__key_in_credentials_directory__used_via_percent_d(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    char creds[400];
    snprintf(creds, sizeof(creds), "%s/credentials", d.dir);
    run_ok("mkdir '%s' && cp '%s/doj.key' '%s/tls.key' && chmod 400 "
           "'%s/tls.key' && chmod 500 '%s'",
           creds, harness_certs(), creds, creds, creds);
    snprintf(d.cert_file, sizeof(d.cert_file), "%s/doj.pem", harness_certs());
    snprintf(d.key_file, sizeof(d.key_file), "\"%%d/tls.key\"");
    harness_daemon_write_conf(&d);

    char out[1024];
    run_read(out, sizeof(out), "%s -n -c '%s' 2>&1", getenv("CJX_CJXD"),
             d.conf);
    if (strstr(out, "tls.key: a path starting with %d/ needs "
                    "$CREDENTIALS_DIRECTORY") == NULL)
        fail_msg("unexpected message: %s", out);

    setenv("CREDENTIALS_DIRECTORY", creds, 1);
    int started = harness_daemon_start(&d);
    unsetenv("CREDENTIALS_DIRECTORY");
    assert_int_equal(started, 0);
    assert_int_equal(health_as(&d, "sf-court"), OK);
    /* The reload reads it again from the same place. */
    int loads = harness_log_count(&d, "reloaded");
    harness_daemon_signal(&d, SIGHUP);
    wait_log_count(&d, "reloaded", loads);
    assert_int_equal(harness_daemon_stop(&d), 0);
    run_ok("chmod 700 '%s'", creds);
    harness_daemon_cleanup(&d);
}

/* ---- connection limits and hostile peers -------------------------------------- */

static struct test_daemon limited;

static int
start_limited(void **state)
{
    (void)state;
    memset(&limited, 0, sizeof(limited));
    limited.limits_yaml = "  handshake_timeout_ms: 1000\n"
                          "  idle_timeout_ms: 1500\n"
                          "  max_concurrent_streams: 7\n";
    harness_daemon_init(&limited, "doj", DOJ_ORI);
    return harness_daemon_start(&limited);
}

static int
stop_limited(void **state)
{
    (void)state;
    int status = harness_daemon_stop(&limited);
    harness_daemon_cleanup(&limited);
    return status == 0 ? 0 : -1;
}

static void
assert_still_serving(void)
{
    assert_int_equal(kill(limited.pid, 0), 0);
    assert_int_equal(health_as(&limited, "sf-court"), OK);
}

/* The configured stream limit is what the daemon announces to peers. */
static void
test_security__max_concurrent_streams__announced_in_settings(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(harness_rawpeer(&limited, "settings", NULL, "sf-court", 20,
                                     out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "3=7\n")); /* SETTINGS_MAX_CONCURRENT_STREAMS */
}

static void
test_security__client_that_never_handshakes__dropped(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(harness_rawpeer(&limited, "silent", NULL, "sf-court", 20,
                                     out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "dropped"));
    assert_int_equal(harness_rawpeer(&limited, "partial", NULL, "sf-court", 20,
                                     out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "dropped"));
    assert_true(harness_log_contains(&limited, "Handshake timed out"));
    assert_still_serving();
}

static void
test_security__idle_connection__closed_with_goaway(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(harness_rawpeer(&limited, "idle", NULL, "sf-court", 30,
                                     out, sizeof(out)),
                     0);
    /* gRPC's idle limit says so in the GOAWAY's debug data. */
    if (strstr(out, "goaway") == NULL || strstr(out, "idle") == NULL)
        fail_msg("unexpected close: %s", out);
    assert_still_serving();
}

static void
test_security__malformed_http2__connection_closed_daemon_serves(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(harness_rawpeer(&limited, "h2-garbage", NULL, "sf-court",
                                     20, out, sizeof(out)),
                     0);
    assert_int_equal(harness_rawpeer(&limited, "bad-preface", NULL, "sf-court",
                                     20, out, sizeof(out)),
                     0);
    assert_still_serving();
}

static void
test_security__grpc_length_prefix_beyond_data__refused_daemon_serves(
    void **state)
{
    (void)state;
    char out[256];
    /* The same hand-built call, well formed, is answered: the peer works. */
    assert_int_equal(harness_rawpeer(&limited, "grpc-ok", NULL, "sf-court", 20,
                                     out, sizeof(out)),
                     0);
    assert_int_equal(harness_rawpeer(&limited, "grpc-truncated", NULL,
                                     "sf-court", 20, out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "response bytes=0"));
    assert_still_serving();
}

/* ---- client certificates as certs/README.md requires -------------------- */

/* Certificates the exchange's CA signed although they break the rules for an
 * agency's client certificate. Their chains verify, so OpenSSL alone takes
 * them; the first row is the rule-abiding control. */
static const struct client_cert_case {
    const char *name;       /* file name, and the OU of its subject */
    const char *extensions; /* an `openssl ca` extension section */
    int code;               /* what a health check on it gets */
    const char *reason;     /* in the status message and the log line */
} client_cert_cases[] = {
    {"abiding",
     "basicConstraints = critical, CA:FALSE\n"
     "keyUsage = critical, digitalSignature\n"
     "extendedKeyUsage = serverAuth, clientAuth\n",
     OK, NULL},
    {"ca_true",
     "basicConstraints = critical, CA:TRUE\n"
     "keyUsage = critical, digitalSignature\n"
     "extendedKeyUsage = serverAuth, clientAuth\n",
     UNAUTHENTICATED, "certificate is a CA (basicConstraints CA:TRUE)"},
    {"cert_signer",
     "basicConstraints = critical, CA:FALSE\n"
     "keyUsage = critical, digitalSignature, keyCertSign\n"
     "extendedKeyUsage = serverAuth, clientAuth\n",
     UNAUTHENTICATED,
     "certificate may sign certificates (key usage "
     "keyCertSign)"},
    {"no_eku",
     "basicConstraints = critical, CA:FALSE\n"
     "keyUsage = critical, digitalSignature\n",
     UNAUTHENTICATED, "extended key usage does not include clientAuth"},
};

/* Appends extension section name to the workspace's ca.cnf. */
static void
add_extension_section(const char *dir, const char *name, const char *body)
{
    run_ok("printf '\\n[ %s ]\\n%s"
           "subjectAltName = $ENV::CJX_SAN\\n"
           "subjectKeyIdentifier = hash\\n"
           "authorityKeyIdentifier = keyid\\n' >>'%s/ca-db/ca.cnf'",
           name, body, dir);
}

static void
test_security__client_certificate_rules__refused_with_reason(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    ca_workspace(d.dir);
    size_t n = sizeof(client_cert_cases) / sizeof(client_cert_cases[0]);
    for (size_t i = 0; i < n; i++) {
        const struct client_cert_case *t = &client_cert_cases[i];
        add_extension_section(d.dir, t->name, t->extensions);
        issue_with(d.dir, t->name, SF_COURT_ORI, t->name, t->name);
    }
    start_or_fail(&d);

    for (size_t i = 0; i < n; i++) {
        const struct client_cert_case *t = &client_cert_cases[i];
        char cert[400], key[400], fp[80], expected[512];
        snprintf(cert, sizeof(cert), "%s/%s.pem", d.dir, t->name);
        snprintf(key, sizeof(key), "%s/%s.key", d.dir, t->name);
        struct cjx_client *cl = harness_client_tls_at(&d, cert, key);
        struct cjx_client_status st;
        int code = health_status(cl, &st);
        cjx_client_free(cl);
        if (code != t->code)
            fail_msg("%s: status %d (%s), expected %d", t->name, code,
                     st.message, t->code);
        if (t->reason == NULL)
            continue;
        if (strstr(st.message, t->reason) == NULL)
            fail_msg("%s: unexpected message: %s", t->name, st.message);
        /* One log line names the peer's address, the reason, and the
         * certificate by subject and fingerprint. */
        fingerprint_of(cert, fp, sizeof(fp));
        snprintf(expected, sizeof(expected),
                 "(certificate subject /O=cjx development/OU=%s/CN=%s, "
                 "SHA-256 %s)",
                 t->name, SF_COURT_ORI, fp);
        const char *line[] = {"from ipv4:127.0.0.1:", t->reason, expected,
                              NULL};
        if (!harness_log_line_with(&d, line))
            fail_msg("%s: no log line with the peer, %s and %s", t->name,
                     t->reason, expected);
    }
    stop_and_clean(&d);
}

/* ---- per-agency rate limit ------------------------------------------------------ */

static void
test_security__rate_limit__resource_exhausted_with_hint_per_agency(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    d.limits_yaml = "  rate_limit_per_agency: 1\n";
    harness_daemon_init(&d, "doj", DOJ_ORI);
    start_or_fail(&d);

    struct cjx_client *cl = harness_client_tls(&d, "sf-court");
    struct cjx_client_status st;
    int limited_at = -1;
    for (int i = 0; i < 50 && limited_at < 0; i++) {
        int code = health_status(cl, &st);
        if (code == RESOURCE_EXHAUSTED)
            limited_at = i;
        else
            assert_int_equal(code, OK);
    }
    assert_true(limited_at >= 1); /* the burst went through first */
    if (strstr(st.message, "agency CA038033J is over its limit of 1 "
                           "requests/s; retry after ") == NULL ||
        strstr(st.message, " ms") == NULL)
        fail_msg("unexpected message: %s", st.message);
    cjx_client_free(cl);

    /* Other agencies have buckets of their own; the local operator none. */
    assert_int_equal(health_as(&d, "sf-da"), OK);
    struct cjx_client *local = harness_client_local(&d);
    for (int i = 0; i < 10; i++)
        assert_int_equal(health_code(local), OK);
    cjx_client_free(local);

    /* The hint also travels as trailing metadata (read with grpcio). */
    char out[1024];
    assert_int_equal(harness_rawpeer(&d, "ratelimit", NULL, "alameda-court", 20,
                                     out, sizeof(out)),
                     0);
    assert_non_null(strstr(out, "'retry-after-ms'"));
    assert_non_null(strstr(out, "'grpc-retry-pushback-ms'"));
    stop_and_clean(&d);
}

/* Each message of a batch counts: the call's token covers the first, and
 * once the bucket is dry the rest is refused to be retried, unjudged. */
static void
test_security__rate_limit__counts_each_message_of_a_batch(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    d.limits_yaml = "  rate_limit_per_agency: 1\n";
    harness_daemon_init(&d, "doj", DOJ_ORI);
    start_or_fail(&d);
    struct cjx_client_status st;
    Cjx__V1__CaseResults *r =
        harness_deliver_orders(&d, "alameda-da", 5, "rate-o", &st);
    assert_int_equal(st.code, OK);
    assert_int_equal(r->n_results, 5);
    assert_int_equal(r->results[0]->code, PERMISSION_DENIED);
    assert_false(r->results[0]->retry_later);
    for (size_t i = 1; i < 5; i++) {
        assert_int_equal(r->results[i]->code, RESOURCE_EXHAUSTED);
        assert_true(r->results[i]->retry_later);
        if (strstr(r->results[i]->message,
                   "agency CA001013A is over its limit of 1 requests/s; "
                   "retry after ") == NULL)
            fail_msg("unexpected message: %s", r->results[i]->message);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    stop_and_clean(&d);
}

/* ---- systemd notifications and the watchdog ------------------------------------- */

/* Collects notifications until every wanted text has been seen the wanted
 * number of times, or 10 s pass. Returns 1 if all were seen. */
static int
await_notes(int fd, const char *const *texts, const int *times, int n)
{
    int seen[8] = {0};
    for (int round = 0; round < 100; round++) {
        int done = 1;
        for (int i = 0; i < n; i++)
            done &= seen[i] >= times[i];
        if (done)
            return 1;
        char buf[512];
        ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
        if (got < 0)
            continue; /* 100 ms receive timeout */
        buf[got] = '\0';
        for (int i = 0; i < n; i++)
            seen[i] += strstr(buf, texts[i]) != NULL;
    }
    return 0;
}

static void
test_security__watchdog__pings_while_serving_and_notifies_reload(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", d.dir) >=
        (int)sizeof(sa.sun_path))
        fail_msg("socket path too long");
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {0, 100 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    setenv("NOTIFY_SOCKET", sa.sun_path, 1);
    setenv("WATCHDOG_USEC", "1000000", 1);
    int started = harness_daemon_start(&d);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(started, 0);

    const char *ready[] = {"READY=1", "WATCHDOG=1"};
    const int ready_times[] = {1, 3};
    assert_true(await_notes(fd, ready, ready_times, 2));
    assert_true(harness_log_contains(&d, "systemd watchdog every 1000 ms"));

    harness_daemon_signal(&d, SIGHUP);
    const char *reload[] = {"RELOADING=1", "READY=1", "WATCHDOG=1"};
    const int reload_times[] = {1, 1, 1};
    assert_true(await_notes(fd, reload, reload_times, 3));

    kill(d.pid, SIGTERM);
    const char *stop[] = {"STOPPING=1"};
    const int stop_times[] = {1};
    assert_true(await_notes(fd, stop, stop_times, 1));
    assert_int_equal(harness_daemon_stop(&d), 0);
    close(fd);
    harness_daemon_cleanup(&d);
}

int
main(void)
{
    const struct CMUnitTest own[] = {
        cmocka_unit_test(
            test_security__revoked_certificate__refused_at_handshake),
        cmocka_unit_test(
            test_security__crl_replaced_while_running__applies_from_sighup),
        cmocka_unit_test(
            test_security__expired_crl__refused_at_start_and_on_reload),
        cmocka_unit_test(test_security__no_crl_dir__warned_and_not_checked),
        cmocka_unit_test(
            test_security__server_certificate_rotated__new_connections_see_it),
        cmocka_unit_test(test_security__key_open_to_group__refused_at_start),
        cmocka_unit_test(
            test_security__key_in_credentials_directory__used_via_percent_d),
        cmocka_unit_test(
            test_security__client_certificate_rules__refused_with_reason),
        cmocka_unit_test(
            test_security__rate_limit__resource_exhausted_with_hint_per_agency),
        cmocka_unit_test(
            test_security__rate_limit__counts_each_message_of_a_batch),
        cmocka_unit_test(
            test_security__watchdog__pings_while_serving_and_notifies_reload),
    };
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(
            test_security__max_concurrent_streams__announced_in_settings),
        cmocka_unit_test(test_security__client_that_never_handshakes__dropped),
        cmocka_unit_test(test_security__idle_connection__closed_with_goaway),
        cmocka_unit_test(
            test_security__malformed_http2__connection_closed_daemon_serves),
        cmocka_unit_test(
            test_security__grpc_length_prefix_beyond_data__refused_daemon_serves),
    };
    int failed = cmocka_run_group_tests_name("own daemons", own, NULL, NULL);
    failed += cmocka_run_group_tests_name("limited daemon", shared,
                                          start_limited, stop_limited);
    return failed;
}
