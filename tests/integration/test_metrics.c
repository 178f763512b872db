/* Integration tests of the metrics listener: a real cjxd answers calls over
 * mTLS, and its scrape is read by prometheus_client's OpenMetrics parser. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define DOJ_ORI "CA0000001"

enum { OK = 0, UNAUTHENTICATED = 16 };

static int
health_as(const struct test_daemon *d, const char *cert)
{
    struct cjx_client *cl = harness_client_tls(d, cert);
    int code = harness_health_code(cl, 5000);
    cjx_client_free(cl);
    return code;
}

/* The port the daemon's metrics listener bound, from its start-up line
 * (written before the daemon answers its first health check). */
static int
metrics_port(const struct test_daemon *d)
{
    FILE *f = fopen(d->log, "r");
    assert_non_null(f);
    char line[2048];
    int port = 0;
    while (port == 0 && fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, "OpenMetrics on ");
        if (p != NULL && (p = strstr(p, "(port ")) != NULL)
            port = atoi(p + 6);
    }
    fclose(f);
    assert_true(port > 0);
    return port;
}

/* GETs path from the listener; returns the status code and leaves the body
 * in the file body_path. */
static int
http_get(int port, const char *path, const char *body_path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: localhost\r\n"
                     "Connection: close\r\n\r\n",
                     path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    static char resp[1 << 20];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof(resp) - 1 &&
           (r = read(fd, resp + len, sizeof(resp) - 1 - len)) > 0)
        len += (size_t)r;
    resp[len] = '\0';
    close(fd);
    int code = 0;
    assert_int_equal(sscanf(resp, "HTTP/1.1 %d", &code), 1);
    const char *body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    FILE *f = fopen(body_path, "w");
    assert_non_null(f);
    fputs(body + 4, f);
    fclose(f);
    return code;
}

/* Runs the parser over the scrape; its sample lines land in out. */
static void
parse_scrape(const struct test_daemon *d, const char *body_path, char *out,
             size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s %s > %s/samples.txt",
             getenv("CJX_PYTHON"), getenv("CJX_OPENMETRICS_SAMPLES"), body_path,
             d->dir);
    assert_int_equal(harness_run(cmd), 0);
    char path[400];
    snprintf(path, sizeof(path), "%s/samples.txt", d->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void
assert_sample(const char *samples, const char *line)
{
    char want[512];
    snprintf(want, sizeof(want), "%s\n", line);
    const char *p = strstr(samples, want);
    if (p == NULL || (p != samples && p[-1] != '\n'))
        fail_msg("no sample '%s' in:\n%s", line, samples);
}

/* Every cjx_ name in examples/cjx-alerts.yaml is a family or a sample of
 * the scrape in body_path. */
static void
assert_alert_rules_use(const char *body_path)
{
    static char scrape[1 << 20], rules[1 << 16];
    FILE *f = fopen(body_path, "r");
    assert_non_null(f);
    scrape[fread(scrape, 1, sizeof(scrape) - 1, f)] = '\0';
    fclose(f);
    char path[512];
    snprintf(path, sizeof(path), "%s/examples/cjx-alerts.yaml",
             getenv("CJX_SOURCE_DIR"));
    f = fopen(path, "r");
    assert_non_null(f);
    rules[fread(rules, 1, sizeof(rules) - 1, f)] = '\0';
    fclose(f);
    int names = 0;
    for (const char *p = rules; (p = strstr(p, "cjx_")) != NULL;) {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
        char name[128], type[160], sample[160];
        snprintf(name, sizeof(name), "%.*s", (int)n, p);
        snprintf(type, sizeof(type), "# TYPE %s ", name);
        snprintf(sample, sizeof(sample), "\n%s ", name);
        if (strstr(scrape, type) == NULL && strstr(scrape, sample) == NULL)
            fail_msg("the alert rules use %s, which the daemon does not "
                     "expose",
                     name);
        names++;
        p += n;
    }
    assert_true(names >= 6);
}

static void
test_metrics__scrape__parsed_by_prometheus_client_with_the_calls(void **state)
{
    (void)state;
    char crl_yaml[400];
    snprintf(crl_yaml, sizeof(crl_yaml), "  crl_dir: %s/crl\n",
             harness_certs());
    struct test_daemon d = {.extra_yaml = "metrics:\n  listen: 127.0.0.1:0\n",
                            .tls_yaml = crl_yaml};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&d), 0);
    assert_int_equal(health_as(&d, "sf-da"), OK);
    assert_int_equal(health_as(&d, "sf-court"), OK);
    assert_int_equal(health_as(&d, "unknown"), UNAUTHENTICATED);

    char body[400];
    snprintf(body, sizeof(body), "%s/scrape.txt", d.dir);
    int port = metrics_port(&d);
    assert_int_equal(http_get(port, "/metrics", body), 200);
    static char samples[1 << 20];
    parse_scrape(&d, body, samples, sizeof(samples));

    /* The harness's own health checks on the local socket count too, so
     * the mTLS calls are told apart by status only where it differs. */
    assert_sample(samples, "cjx_rpc_calls_total{code=\"UNAUTHENTICATED\","
                           "method=\"/grpc.health.v1.Health/Check\"} 1");
    assert_non_null(strstr(samples,
                           "cjx_rpc_calls_total{code=\"OK\","
                           "method=\"/grpc.health.v1.Health/Check\"}"));
    assert_non_null(strstr(samples, "cjx_rpc_call_duration_seconds_bucket{"
                                    "le=\"+Inf\",method=\"/grpc.health.v1."
                                    "Health/Check\"}"));
    assert_sample(samples, "cjx_rate_limit_refusals_total{} 0");
    /* Every registered peer with an endpoint, reachable or not yet tried. */
    assert_sample(samples, "cjx_peer_failed_calls{peer=\"CA038013A\"} 0");
    assert_non_null(
        strstr(samples, "cjx_tls_expiry_seconds{kind=\"cert\",subject=\""));
    assert_non_null(
        strstr(samples, "cjx_tls_expiry_seconds{kind=\"ca\",subject=\""));
    assert_non_null(
        strstr(samples, "cjx_tls_expiry_seconds{kind=\"crl\",subject=\""));
    assert_non_null(strstr(samples, "cjx_store_commit_batch_writes_count{} "));
    assert_non_null(strstr(samples, "cjx_audit_entries{} "));

    /* The example alert rules name only metrics the daemon exposes. */
    assert_alert_rules_use(body);

    /* Anything but /metrics is not found. */
    assert_int_equal(http_get(port, "/", body), 404);
    assert_int_equal(harness_daemon_stop(&d), 0);
    harness_daemon_cleanup(&d);
}

static void
test_metrics__listen_address_taken__daemon_refuses_to_start(void **state)
{
    (void)state;
    struct test_daemon a = {.extra_yaml = "metrics:\n  listen: 127.0.0.1:0\n"};
    harness_daemon_init(&a, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&a), 0);
    char yaml[128];
    snprintf(yaml, sizeof(yaml), "metrics:\n  listen: 127.0.0.1:%d\n",
             metrics_port(&a));
    struct test_daemon b = {.extra_yaml = yaml};
    harness_daemon_init(&b, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&b), -1);
    char want[128];
    snprintf(want, sizeof(want),
             "metrics.listen: cannot listen on 127.0.0.1:%d", metrics_port(&a));
    assert_true(harness_log_contains(&b, want));
    harness_daemon_cleanup(&b);
    assert_int_equal(harness_daemon_stop(&a), 0);
    harness_daemon_cleanup(&a);
}

/* Scrapes https://127.0.0.1:port/metrics with Python's own TLS client,
 * with the client certificate of agency slug (NULL: none); returns the
 * script's exit: 0 served metrics, 3 refused with 403, else a failure. */
static int
scrape_tls(int port, const char *slug)
{
    const char *certs = getenv("CJX_TEST_CERTS");
    char cert[512] = "";
    if (slug != NULL)
        snprintf(cert, sizeof(cert),
                 "ctx.load_cert_chain('%s/%s.pem', '%s/%s.key')\n", certs, slug,
                 certs, slug);
    char cmd[4096];
    snprintf(
        cmd, sizeof(cmd),
        "/usr/bin/python3 - <<'EOF'\n"
        "import ssl, sys, urllib.error, urllib.request\n"
        "ctx = ssl.create_default_context(cafile='%s/ca.pem')\n"
        "ctx.check_hostname = False\n"
        "%s"
        "try:\n"
        "    r = urllib.request.urlopen('https://127.0.0.1:%d/metrics',\n"
        "                               context=ctx, timeout=10)\n"
        "    sys.exit(0 if r.status == 200 and b'# EOF' in r.read() else 1)\n"
        "except urllib.error.HTTPError as e:\n"
        "    sys.exit(3 if e.code == 403 else 1)\n"
        "EOF",
        certs, cert, port);
    return harness_run(cmd);
}

/* metrics.tls: HTTPS with the daemon's certificate, and a scraper must
 * show a certificate of the exchange's CA. */
static void
test_metrics__tls__client_certificate_required(void **state)
{
    (void)state;
    struct test_daemon d = {
        .extra_yaml = "metrics:\n  listen: 127.0.0.1:0\n  tls: true\n"};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&d), 0);
    int port = metrics_port(&d);
    assert_int_equal(scrape_tls(port, "sf-pd"), 0);
    assert_int_equal(scrape_tls(port, NULL), 3);
    /* Plain HTTP gets no metrics from a TLS listener. */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c \"import sys, urllib.request\n"
             "try:\n"
             "    urllib.request.urlopen('http://127.0.0.1:%d/metrics', "
             "timeout=10)\n"
             "except Exception:\n"
             "    sys.exit(0)\n"
             "sys.exit(1)\"",
             port);
    assert_int_equal(harness_run(cmd), 0);
    assert_int_equal(harness_daemon_stop(&d), 0);
    harness_daemon_cleanup(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_metrics__scrape__parsed_by_prometheus_client_with_the_calls),
        cmocka_unit_test(
            test_metrics__listen_address_taken__daemon_refuses_to_start),
        cmocka_unit_test(test_metrics__tls__client_certificate_required),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
