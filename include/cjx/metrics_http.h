/* The metrics listener: HTTP on its own address (loopback by default), or
 * HTTPS asking every scraper for a client certificate from the exchange's
 * CA (mutual TLS, `metrics.tls`),
 * answering GET /metrics with the OpenMetrics text of a cjx_metrics set and
 * its scrape-time gauges. Served by libmicrohttpd on a thread of its own, so
 * a slow scraper never holds a gRPC thread. */
#ifndef CJX_METRICS_HTTP_H
#define CJX_METRICS_HTTP_H

#include "cjx/error.h"
#include "cjx/metrics.h"

struct cjx_metrics_http;

/* The listener's TLS: the daemon's certificate chain and key, and the CA
 * bundle client certificates must chain to (PEM text, copied). */
struct cjx_metrics_tls {
    const char *ca_pem;
    const char *cert_pem;
    const char *key_pem;
};

/* Starts listening on listen ("127.0.0.1:9464", "[::1]:9464"; port 0 takes
 * a free one), over mutual TLS when tls is not NULL (a scrape without a
 * client certificate that verifies against tls->ca_pem gets 403). metrics
 * and arg are borrowed and must outlive the listener.
 * Returns 0 with a new listener, or CJX_EINVAL (an address that is not
 * host:port), CJX_EIO (it cannot be bound), CJX_ENOMEM, with detail in eb. */
int cjx_metrics_http_start(const char *listen,
                           const struct cjx_metrics_tls *tls,
                           struct cjx_metrics *metrics,
                           cjx_metrics_gauges_fn gauges, void *arg,
                           struct cjx_metrics_http **out,
                           struct cjx_errbuf *eb);
/* The port bound. */
int cjx_metrics_http_port(const struct cjx_metrics_http *h);
/* Stops listening, waiting for a scrape in progress. Accepts NULL. */
void cjx_metrics_http_stop(struct cjx_metrics_http *h);

#endif
