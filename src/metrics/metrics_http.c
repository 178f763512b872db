/* The metrics listener on libmicrohttpd: GET /metrics, nothing else. */
#include "cjx/metrics_http.h"

#include <arpa/inet.h>
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

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    (void)req_cls;
    struct cjx_metrics_http *h = cls;
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

int
cjx_metrics_http_start(const char *listen, struct cjx_metrics *metrics,
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
    /* A scrape is small: a few connections, each with a short timeout, so
     * a client that connects and says nothing holds nothing for long. */
    h->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_END);
    if (h->mhd == NULL) {
        free(h);
        return cjx_errf(eb, CJX_EIO, "metrics.listen: cannot listen on %s",
                        listen);
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
    free(h);
}
