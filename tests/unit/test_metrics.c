/* Unit tests for src/metrics: what feeding does to the text, the text's
 * format, and the HTTP listener. */
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

#include "cjx/metrics.h"
#include "cjx/metrics_http.h"

static const char *const paths[] = {"/cjx.v1.RecordService/SubmitRecord",
                                    "/cjx.v1.CaseService/Deliver"};

static int no_gauges_called;

static int
two_gauges(void *arg, struct cjx_metrics_text *t)
{
    (void)arg;
    cjx_metrics_text_family(t, "cjx_outbox_pending", "gauge",
                            "Hand-offs waiting.");
    const char *a[] = {"peer", "CA038033J", NULL};
    cjx_metrics_text_sample(t, "cjx_outbox_pending", a, 3);
    const char *b[] = {"peer", "odd \"name\"\\\n", NULL};
    cjx_metrics_text_sample(t, "cjx_outbox_pending", b, 0.25);
    return 0;
}

static int
failing_gauges(void *arg, struct cjx_metrics_text *t)
{
    (void)arg;
    (void)t;
    no_gauges_called++;
    return CJX_ESTORE;
}

static char *
render(struct cjx_metrics *m, cjx_metrics_gauges_fn g)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(cjx_metrics_render(m, g, NULL, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

static void
assert_line(const char *text, const char *line)
{
    char want[512];
    snprintf(want, sizeof(want), "\n%s\n", line);
    /* The first line has no newline before it. */
    if (strstr(text, want) == NULL && strstr(text, want + 1) != text)
        fail_msg("no line '%s' in:\n%s", line, text);
}

static void
test_metrics__calls__counted_by_method_and_status(void **state)
{
    (void)state;
    struct cjx_metrics *m;
    assert_int_equal(cjx_metrics_new(paths, 2, &m), 0);
    cjx_metrics_call_done(m, 0, 0, 300, 1, 1);      /* 0.3 ms */
    cjx_metrics_call_done(m, 0, 0, 2000, 1, 1);     /* 2 ms */
    cjx_metrics_call_done(m, 0, 7, 20000000, 1, 0); /* 20 s */
    cjx_metrics_call_done(m, 1, 0, 1000, 500, 1);
    /* Out of range: ignored. */
    cjx_metrics_call_done(m, 2, 0, 1, 1, 1);
    cjx_metrics_call_done(m, 0, 17, 1, 1, 1);
    cjx_metrics_call_done(NULL, 0, 0, 1, 1, 1);
    cjx_metrics_rate_refused(m);
    cjx_metrics_rate_refused(m);
    char *t = render(m, NULL);
    assert_line(t, "cjx_rpc_calls_total{method=\"/cjx.v1.RecordService/"
                   "SubmitRecord\",code=\"OK\"} 2");
    assert_line(t, "cjx_rpc_calls_total{method=\"/cjx.v1.RecordService/"
                   "SubmitRecord\",code=\"PERMISSION_DENIED\"} 1");
    assert_line(t, "cjx_rpc_calls_total{method=\"/cjx.v1.CaseService/"
                   "Deliver\",code=\"OK\"} 1");
    assert_null(strstr(t, "code=\"CANCELLED\""));
    assert_line(t, "cjx_rpc_messages_received_total{method=\"/cjx.v1."
                   "CaseService/Deliver\"} 500");
    assert_line(t, "cjx_rpc_messages_sent_total{method=\"/cjx.v1."
                   "RecordService/SubmitRecord\"} 2");
    /* Cumulative buckets: 0.3 ms, 2 ms, then 20 s only in +Inf. */
    const char *p = "cjx_rpc_call_duration_seconds_bucket{method=\"/cjx.v1."
                    "RecordService/SubmitRecord\",le=";
    char line[256];
    snprintf(line, sizeof(line), "%s\"0.0005\"} 1", p);
    assert_line(t, line);
    snprintf(line, sizeof(line), "%s\"0.001\"} 1", p);
    assert_line(t, line);
    snprintf(line, sizeof(line), "%s\"0.0025\"} 2", p);
    assert_line(t, line);
    snprintf(line, sizeof(line), "%s\"10.0\"} 2", p);
    assert_line(t, line);
    snprintf(line, sizeof(line), "%s\"+Inf\"} 3", p);
    assert_line(t, line);
    assert_line(t, "cjx_rpc_call_duration_seconds_count{method=\"/cjx.v1."
                   "RecordService/SubmitRecord\"} 3");
    assert_line(t, "cjx_rpc_call_duration_seconds_sum{method=\"/cjx.v1."
                   "RecordService/SubmitRecord\"} 20.0023");
    assert_line(t, "cjx_rate_limit_refusals_total 2");
    /* The text ends the way OpenMetrics requires. */
    size_t n = strlen(t);
    assert_true(n > 6);
    assert_string_equal(t + n - 6, "# EOF\n");
    free(t);
    cjx_metrics_free(m);
}

static void
test_metrics__store_commits__latency_and_batch(void **state)
{
    (void)state;
    struct cjx_metrics *m;
    assert_int_equal(cjx_metrics_new(paths, 2, &m), 0);
    cjx_metrics_store_commit(m, 4000, 1);
    cjx_metrics_store_commit(m, 4000, 300);
    cjx_metrics_store_commit(m, 4000, 5000);
    char *t = render(m, NULL);
    assert_line(t, "cjx_store_commit_duration_seconds_bucket{le=\"0.005\"} 3");
    assert_line(t, "cjx_store_commit_duration_seconds_bucket{le=\"0.0025\"} 0");
    assert_line(t, "cjx_store_commit_batch_writes_bucket{le=\"1.0\"} 1");
    assert_line(t, "cjx_store_commit_batch_writes_bucket{le=\"256.0\"} 1");
    assert_line(t, "cjx_store_commit_batch_writes_bucket{le=\"512.0\"} 2");
    assert_line(t, "cjx_store_commit_batch_writes_bucket{le=\"+Inf\"} 3");
    assert_line(t, "cjx_store_commit_batch_writes_sum 5301");
    /* No call yet: the families are there, without samples. */
    assert_line(t, "# TYPE cjx_rpc_calls counter");
    assert_null(strstr(t, "cjx_rpc_calls_total{"));
    free(t);
    cjx_metrics_free(m);
}

static void
test_metrics__gauges__written_with_escaped_labels(void **state)
{
    (void)state;
    char *t = render(NULL, two_gauges);
    assert_string_equal(t,
                        "# TYPE cjx_outbox_pending gauge\n"
                        "# HELP cjx_outbox_pending Hand-offs waiting.\n"
                        "cjx_outbox_pending{peer=\"CA038033J\"} 3\n"
                        "cjx_outbox_pending{peer=\"odd \\\"name\\\"\\\\\\n\"}"
                        " 0.25\n"
                        "# EOF\n");
    free(t);
}

static void
test_metrics__failing_gauges__fail_the_scrape(void **state)
{
    (void)state;
    char *text = (char *)"untouched";
    size_t len = 7;
    assert_int_equal(
        cjx_metrics_render(NULL, failing_gauges, NULL, &text, &len),
        CJX_ESTORE);
    assert_string_equal(text, "untouched");
    assert_int_equal(len, 7);
    assert_int_equal(no_gauges_called, 1);
}

/* ---- the listener ---------------------------------------------------- */

/* Sends request to 127.0.0.1:port and reads the whole answer into out. */
static void
http_exchange(int port, const char *request, char *out, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    size_t len = strlen(request);
    assert_int_equal(write(fd, request, len), (ssize_t)len);
    size_t n = 0;
    ssize_t r;
    while (n < size - 1 && (r = read(fd, out + n, size - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fd);
}

static void
test_metrics_http__get_metrics__openmetrics_text(void **state)
{
    (void)state;
    struct cjx_metrics *m;
    assert_int_equal(cjx_metrics_new(paths, 2, &m), 0);
    cjx_metrics_rate_refused(m);
    struct cjx_metrics_http *h = NULL;
    struct cjx_errbuf eb;
    if (cjx_metrics_http_start("127.0.0.1:0", NULL, m, two_gauges, NULL, &h,
                               &eb) != 0)
        fail_msg("%s", eb.msg);
    int port = cjx_metrics_http_port(h);
    assert_true(port > 0);

    char out[65536];
    http_exchange(
        port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        out, sizeof(out));
    assert_true(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    assert_non_null(strstr(out, "Content-Type: " CJX_METRICS_CONTENT_TYPE));
    assert_non_null(strstr(out, "\ncjx_rate_limit_refusals_total 1\n"));
    assert_non_null(
        strstr(out, "\ncjx_outbox_pending{peer=\"CA038033J\"} 3\n"));

    http_exchange(port,
                  "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                  out, sizeof(out));
    assert_true(strncmp(out, "HTTP/1.1 404 ", 13) == 0);
    http_exchange(port,
                  "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                  "Connection: close\r\n\r\n",
                  out, sizeof(out));
    assert_true(strncmp(out, "HTTP/1.1 405 ", 13) == 0);
    cjx_metrics_http_stop(h);
    cjx_metrics_free(m);
}

static void
test_metrics_http__bad_addresses__refused_with_the_key_named(void **state)
{
    (void)state;
    struct cjx_metrics_http *h = NULL;
    struct cjx_errbuf eb;
    assert_int_equal(
        cjx_metrics_http_start("9464", NULL, NULL, NULL, NULL, &h, &eb),
        CJX_EINVAL);
    assert_string_equal(eb.msg, "metrics.listen: '9464' is not host:port");
    assert_int_equal(cjx_metrics_http_start("no.such.host.invalid:9464", NULL,
                                            NULL, NULL, NULL, &h, &eb),
                     CJX_EINVAL);
    assert_non_null(strstr(eb.msg, "metrics.listen: no.such.host.invalid"));
    assert_null(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics__calls__counted_by_method_and_status),
        cmocka_unit_test(test_metrics__store_commits__latency_and_batch),
        cmocka_unit_test(test_metrics__gauges__written_with_escaped_labels),
        cmocka_unit_test(test_metrics__failing_gauges__fail_the_scrape),
        cmocka_unit_test(test_metrics_http__get_metrics__openmetrics_text),
        cmocka_unit_test(
            test_metrics_http__bad_addresses__refused_with_the_key_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
