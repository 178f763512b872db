/* The metrics listener on libmicrohttpd: GET /metrics, nothing else. */
#include "cjx/metrics_http.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cjx/log.h"

struct cjx_metrics_http {
    struct MHD_Daemon *mhd;
    int tls;               /* client certificates are required */
    char *ca, *cert, *key; /* the PEM texts MHD was given */
    struct cjx_metrics *metrics;
    cjx_metrics_gauges_fn gauges;
    void *arg;
    int port;
};

/* libmicrohttpd's own complaints go to cjx's log, so that they keep its
 * format (a JSON log stays JSON). */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    cjx_warn("metrics", "%s", msg);
}

static enum MHD_Result
answer_text(struct MHD_Connection *conn, unsigned code, const char *type,
            char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
answer_static(struct MHD_Connection *conn, unsigned code, const char *text)
{
    return answer_text(conn, code, "text/plain; charset=utf-8", (char *)text,
                       strlen(text), MHD_RESPMEM_PERSISTENT);
}

/* Whether the scraper presented a certificate that chains to the CA
 * (libmicrohttpd asks for one but leaves the verdict to its user). */
static int
client_verified(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL)
        return 0;
    gnutls_session_t session = (gnutls_session_t)ci->tls_session;
    unsigned n = 0, status = 0;
    if (gnutls_certificate_get_peers(session, &n) == NULL || n == 0)
        return 0;
    return gnutls_certificate_verify_peers2(session, &status) == 0 &&
           status == 0;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    (void)req_cls;
    struct cjx_metrics_http *h = cls;
    if (h->tls && !client_verified(conn))
        return answer_static(conn, MHD_HTTP_FORBIDDEN,
                             "a client certificate from the exchange's CA "
                             "is required\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                             "only GET /metrics\n");
    if (*upload_data_size != 0)
        return answer_static(conn, MHD_HTTP_BAD_REQUEST, "no body expected\n");
    if (strcmp(url, "/metrics") != 0)
        return answer_static(conn, MHD_HTTP_NOT_FOUND,
                             "metrics are at /metrics\n");
    char *text = NULL;
    size_t len = 0;
    int err = cjx_metrics_render(h->metrics, h->gauges, h->arg, &text, &len);
    if (err != 0) {
        cjx_warn("metrics", "a scrape failed: %s", cjx_strerror(err));
        return answer_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                             "the metrics could not be read\n");
    }
    return answer_text(conn, MHD_HTTP_OK, CJX_METRICS_CONTENT_TYPE, text, len,
                       MHD_RESPMEM_MUST_FREE);
}

/* Splits "host:port" or "[v6]:port" into an address to bind. */
static int
resolve(const char *listen, struct sockaddr_storage *sa, socklen_t *sa_len,
        struct cjx_errbuf *eb)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0' ||
        (size_t)(colon - listen) >= sizeof(host))
        return cjx_errf(eb, CJX_EINVAL, "metrics.listen: '%s' is not host:port",
                        listen);
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0)
        return cjx_errf(eb, CJX_EINVAL, "metrics.listen: %s: %s", listen,
                        gai_strerror(rc));
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    *sa_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static void
free_pem(char *p)
{
    if (p != NULL) {
        memset(p, 0, strlen(p));
        free(p);
    }
}

static void
http_free(struct cjx_metrics_http *h)
{
    free_pem(h->ca);
    free_pem(h->cert);
    free_pem(h->key);
    free(h);
}

int
cjx_metrics_http_start(const char *listen, const struct cjx_metrics_tls *tls,
                       struct cjx_metrics *metrics,
                       cjx_metrics_gauges_fn gauges, void *arg,
                       struct cjx_metrics_http **out, struct cjx_errbuf *eb)
{
    struct sockaddr_storage sa;
    socklen_t sa_len;
    int err = resolve(listen, &sa, &sa_len, eb);
    if (err != 0)
        return err;
    struct cjx_metrics_http *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    h->metrics = metrics;
    h->gauges = gauges;
    h->arg = arg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls != NULL) {
        h->tls = 1;
        h->ca = strdup(tls->ca_pem);
        h->cert = strdup(tls->cert_pem);
        h->key = strdup(tls->key_pem);
        if (h->ca == NULL || h->cert == NULL || h->key == NULL) {
            http_free(h);
            return cjx_errf(eb, CJX_ENOMEM, "out of memory");
        }
        flags |= MHD_USE_TLS;
    }
    /* A scrape is small: a few connections, each with a short timeout, so
     * a client that connects and says nothing holds nothing for long. With
     * TLS the options after the logger give the key, the certificate and
     * the CA that client certificates are asked to chain to. */
    h->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, h->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END,
        h->key, MHD_OPTION_HTTPS_MEM_CERT, h->cert, MHD_OPTION_HTTPS_MEM_TRUST,
        h->ca, MHD_OPTION_END);
    if (h->mhd == NULL) {
        http_free(h);
        return cjx_errf(eb, CJX_EIO, "metrics.listen: cannot listen on %s%s",
                        listen, tls != NULL ? " with TLS" : "");
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info != NULL ? info->port : 0;
    *out = h;
    return 0;
}

int
cjx_metrics_http_port(const struct cjx_metrics_http *h)
{
    return h->port;
}

void
cjx_metrics_http_stop(struct cjx_metrics_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->mhd);
    http_free(h);
}
