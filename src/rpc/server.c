/* The gRPC core server: credentials, ports, completion-queue threads, and
 * graceful shutdown in the order gRPC core requires. */
#include "rpc_internal.h"

#include <grpc/support/log.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cjx/log.h"

/* Requests kept posted per method: calls arriving together do not queue
 * inside gRPC waiting for the next post. */
#define POSTED_PER_METHOD 32
#define POSTED_UNREGISTERED 4

/* ---- gRPC's log into ours -------------------------------------------- */

static void
grpc_log_sink(gpr_log_func_args *args)
{
    /* Handshake refusals are only visible here (TLS 1.3 shows the client a
     * closed socket), so they are kept at warning level. */
    enum cjx_log_level level = CJX_LOG_DEBUG;
    if (args->severity == GPR_LOG_SEVERITY_ERROR)
        level = CJX_LOG_WARN;
    else if (args->severity == GPR_LOG_SEVERITY_INFO)
        level = CJX_LOG_DEBUG;
    /* gRPC reports a harmless SNI mismatch as an error; keep it quiet. */
    if (strstr(args->message, "No match found for server name") != NULL)
        level = CJX_LOG_DEBUG;
    cjx_log(level, "grpc", "%s", args->message);
}

/* ---- configuration snapshots ---------------------------------------- */

static struct conf_ref *
conf_ref_new(struct cjx_conf *conf)
{
    struct conf_ref *ref = calloc(1, sizeof(*ref));
    if (ref == NULL)
        return NULL;
    ref->conf = conf;
    identity_cache_init(&ref->cache);
    atomic_init(&ref->refs, 1);
    return ref;
}

void
conf_ref_put(struct conf_ref *ref)
{
    if (ref == NULL || atomic_fetch_sub(&ref->refs, 1) != 1)
        return;
    identity_cache_fini(&ref->cache);
    cjx_conf_free(ref->conf);
    free(ref);
}

struct conf_ref *
server_conf_get(struct cjx_rpc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    struct conf_ref *ref = srv->conf;
    atomic_fetch_add(&ref->refs, 1);
    pthread_mutex_unlock(&srv->mu);
    return ref;
}

/* ---- TLS credentials, swappable between handshakes ------------------- */

static void
wipe_free(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static int
store_tls(struct cjx_rpc_server *srv, const struct cjx_rpc_tls *tls)
{
    char *ca = strdup(tls->ca_pem), *cert = strdup(tls->cert_pem);
    char *key = strdup(tls->key_pem);
    if (ca == NULL || cert == NULL || key == NULL) {
        free(ca);
        free(cert);
        wipe_free(key);
        return CJX_ENOMEM;
    }
    pthread_mutex_lock(&srv->mu);
    free(srv->ca_pem);
    free(srv->cert_pem);
    wipe_free(srv->key_pem);
    srv->ca_pem = ca;
    srv->cert_pem = cert;
    srv->key_pem = key;
    pthread_mutex_unlock(&srv->mu);
    atomic_store(&srv->tls_changed, 1);
    return 0;
}

/* Runs on gRPC's threads before every handshake: must stay cheap. */
static grpc_ssl_certificate_config_reload_status
fetch_server_certificate(void *user_data,
                         grpc_ssl_server_certificate_config **config)
{
    struct cjx_rpc_server *srv = user_data;
    if (!atomic_exchange(&srv->tls_changed, 0))
        return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
    pthread_mutex_lock(&srv->mu);
    grpc_ssl_pem_key_cert_pair pair = {srv->key_pem, srv->cert_pem};
    *config = grpc_ssl_server_certificate_config_create(srv->ca_pem, &pair, 1);
    pthread_mutex_unlock(&srv->mu);
    return *config != NULL ? GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW
                           : GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_FAIL;
}

/* ---- requests and the completion queue ------------------------------- */

int
rpc_request_call(struct cjx_rpc_server *srv, struct rpc_method *method)
{
    struct rpc_call *rc = rpc_call_new(srv, method);
    if (rc == NULL)
        return CJX_ENOMEM;
    grpc_call_error e;
    if (method == NULL) {
        e = grpc_server_request_call(srv->server, &rc->call, &rc->details,
                                     &rc->md, srv->cq, srv->cq, &rc->t_new);
    } else {
        int with_payload = !method->handler->method->client_streaming;
        e = grpc_server_request_registered_call(
            srv->server, method->registration, &rc->call, &rc->deadline,
            &rc->md, with_payload ? &rc->payload : NULL, srv->cq, srv->cq,
            &rc->t_new);
    }
    if (e != GRPC_CALL_OK) {
        rpc_call_unref(rc);
        return CJX_EINTERNAL;
    }
    return 0;
}

static void *
cq_thread(void *arg)
{
    struct cjx_rpc_server *srv = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(
            srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        struct rpc_tag *tag = ev.tag;
        if (tag->kind == TAG_SHUTDOWN) {
            pthread_mutex_lock(&srv->mu);
            srv->shutdown_done = 1;
            pthread_cond_broadcast(&srv->cond);
            pthread_mutex_unlock(&srv->mu);
            continue;
        }
        rpc_call_on_event(tag->call, tag->kind, ev.success);
    }
    return NULL;
}

/* ---- start ------------------------------------------------------------ */

static grpc_channel_args *
server_args(const struct cjx_limits *l, grpc_arg *buf)
{
    static grpc_channel_args args;
    int n = 0;
#define INT_ARG(k, v)                                                          \
    buf[n++] = (grpc_arg){.type = GRPC_ARG_INTEGER, .key = (char *)(k),        \
                          .value.integer = (v)}
    INT_ARG(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, l->max_message_bytes);
    INT_ARG(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, l->max_message_bytes);
    INT_ARG(GRPC_ARG_MAX_CONCURRENT_STREAMS, l->max_concurrent_streams);
    INT_ARG(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, l->handshake_timeout_ms);
    INT_ARG(GRPC_ARG_MAX_CONNECTION_IDLE_MS, l->idle_timeout_ms);
    INT_ARG(GRPC_ARG_KEEPALIVE_TIME_MS, l->keepalive_time_ms);
    INT_ARG(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, l->keepalive_timeout_ms);
    INT_ARG(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    /* Clients may ping while idle, but not more often than every 10 s. */
    INT_ARG(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
#undef INT_ARG
    args.num_args = (size_t)n;
    args.args = buf;
    return &args;
}

static int
add_ports(struct cjx_rpc_server *srv, const struct cjx_rpc_server_options *opts,
          struct cjx_errbuf *eb)
{
    if (opts->listen != NULL) {
        grpc_ssl_server_credentials_options *o =
            grpc_ssl_server_credentials_create_options_using_config_fetcher(
                GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY,
                fetch_server_certificate, srv);
        grpc_server_credentials *creds =
            grpc_ssl_server_credentials_create_with_options(o);
        if (creds == NULL)
            return cjx_errf(eb, CJX_ETLS,
                            "the server certificate, key or CA bundle was "
                            "refused by the TLS library");
        srv->port = grpc_server_add_http2_port(srv->server, opts->listen, creds);
        grpc_server_credentials_release(creds);
        if (srv->port == 0)
            return cjx_errf(eb, CJX_EIO, "cannot listen on %s", opts->listen);
    }
    if (opts->local_socket != NULL) {
        char addr[512];
        snprintf(addr, sizeof(addr), "unix:%s", opts->local_socket);
        grpc_server_credentials *creds = grpc_local_server_credentials_create(UDS);
        int ok = grpc_server_add_http2_port(srv->server, addr, creds);
        grpc_server_credentials_release(creds);
        if (ok == 0)
            return cjx_errf(eb, CJX_EIO, "cannot listen on %s",
                            opts->local_socket);
        srv->local_socket = strdup(opts->local_socket);
    }
    return 0;
}

static int
register_methods(struct cjx_rpc_server *srv,
                 const struct cjx_rpc_server_options *opts)
{
    srv->methods = calloc(opts->n_handlers, sizeof(*srv->methods));
    if (srv->methods == NULL)
        return CJX_ENOMEM;
    srv->n_methods = opts->n_handlers;
    for (size_t i = 0; i < opts->n_handlers; i++) {
        const struct cjx_handler *h = opts->handlers[i];
        srv->methods[i].handler = h;
        srv->methods[i].registration = grpc_server_register_method(
            srv->server, h->method->path, NULL,
            h->method->client_streaming ? GRPC_SRM_PAYLOAD_NONE
                                        : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
            0);
        if (srv->methods[i].registration == NULL)
            return CJX_EINTERNAL;
    }
    return 0;
}

static int
post_requests(struct cjx_rpc_server *srv)
{
    for (size_t i = 0; i < srv->n_methods; i++) {
        for (int k = 0; k < POSTED_PER_METHOD; k++) {
            if (rpc_request_call(srv, &srv->methods[i]) != 0)
                return CJX_EINTERNAL;
        }
    }
    for (int k = 0; k < POSTED_UNREGISTERED; k++) {
        if (rpc_request_call(srv, NULL) != 0)
            return CJX_EINTERNAL;
    }
    return 0;
}

static void
server_free_parts(struct cjx_rpc_server *srv)
{
    free(srv->methods);
    free(srv->threads);
    free(srv->local_socket);
    free(srv->ca_pem);
    free(srv->cert_pem);
    wipe_free(srv->key_pem);
    conf_ref_put(srv->conf);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cond);
    free(srv);
}

int
cjx_rpc_server_start(const struct cjx_rpc_server_options *opts,
                     struct cjx_conf *conf, const struct cjx_rpc_tls *tls,
                     struct cjx_rpc_server **out, struct cjx_errbuf *eb)
{
    struct cjx_rpc_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        cjx_conf_free(conf);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cond, NULL);
    srv->conf = conf_ref_new(conf);
    if (srv->conf == NULL) {
        cjx_conf_free(conf);
        server_free_parts(srv);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    srv->service = opts->service;
    srv->drain_grace_ms = opts->drain_grace_ms > 0 ? opts->drain_grace_ms : 5000;
    srv->max_message_bytes = (size_t)conf->limits.max_message_bytes;
    srv->t_shutdown = (struct rpc_tag){TAG_SHUTDOWN, NULL};
    if (tls != NULL && store_tls(srv, tls) != 0) {
        server_free_parts(srv);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }

    gpr_set_log_function(grpc_log_sink);
    gpr_set_log_verbosity(cjx_log_get_level() == CJX_LOG_DEBUG
                              ? GPR_LOG_SEVERITY_DEBUG
                              : GPR_LOG_SEVERITY_ERROR);
    grpc_init();
    grpc_arg argbuf[16];
    srv->server = grpc_server_create(server_args(&conf->limits, argbuf), NULL);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);

    int err = register_methods(srv, opts);
    if (err == 0)
        err = add_ports(srv, opts, eb);
    else
        cjx_errf(eb, err, "cannot register methods");
    if (err != 0) {
        grpc_server_destroy(srv->server);
        grpc_completion_queue_shutdown(srv->cq);
        while (grpc_completion_queue_next(srv->cq,
                                          gpr_inf_future(GPR_CLOCK_REALTIME),
                                          NULL)
                   .type != GRPC_QUEUE_SHUTDOWN) {
        }
        grpc_completion_queue_destroy(srv->cq);
        grpc_shutdown();
        server_free_parts(srv);
        return err;
    }
    grpc_server_start(srv->server);
    if (srv->local_socket != NULL)
        chmod(srv->local_socket, 0660); /* owner and group: the operators */
    if (post_requests(srv) != 0)
        cjx_fatal("rpc", "cannot post requests to gRPC");

    srv->n_threads = opts->threads > 0 ? opts->threads : 1;
    srv->threads = calloc((size_t)srv->n_threads, sizeof(*srv->threads));
    if (srv->threads == NULL)
        cjx_fatal("rpc", "out of memory");
    for (int i = 0; i < srv->n_threads; i++) {
        if (pthread_create(&srv->threads[i], NULL, cq_thread, srv) != 0)
            cjx_fatal("rpc", "cannot start a server thread");
    }
    *out = srv;
    return 0;
}

int
cjx_rpc_server_port(const struct cjx_rpc_server *srv)
{
    return srv->port;
}

void
cjx_rpc_server_reload(struct cjx_rpc_server *srv, struct cjx_conf *conf,
                      const struct cjx_rpc_tls *tls)
{
    struct conf_ref *fresh = conf_ref_new(conf);
    if (fresh == NULL) {
        cjx_error("rpc", "out of memory: keeping the old configuration");
        cjx_conf_free(conf);
        return;
    }
    pthread_mutex_lock(&srv->mu);
    struct conf_ref *old = srv->conf;
    srv->conf = fresh;
    pthread_mutex_unlock(&srv->mu);
    conf_ref_put(old);
    if (tls != NULL && store_tls(srv, tls) != 0)
        cjx_error("rpc", "out of memory: keeping the old certificates");
}

static int
wait_shutdown_tag(struct cjx_rpc_server *srv, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&srv->mu);
    while (!srv->shutdown_done) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&srv->cond, &srv->mu);
        } else if (pthread_cond_timedwait(&srv->cond, &srv->mu, &until) != 0) {
            break;
        }
    }
    int done = srv->shutdown_done;
    pthread_mutex_unlock(&srv->mu);
    return done;
}

void
cjx_rpc_server_shutdown(struct cjx_rpc_server *srv)
{
    if (atomic_exchange(&srv->shutting_down, 1))
        return;
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->t_shutdown);
    if (!wait_shutdown_tag(srv, srv->drain_grace_ms)) {
        cjx_warn("rpc", "calls still running after %d ms: cancelling them",
                 srv->drain_grace_ms);
        grpc_server_cancel_all_calls(srv->server);
        wait_shutdown_tag(srv, -1);
    }
    /* Calls can outlive the shutdown tag when a handler still holds them
     * (a write finishing in the store): their last batches need the queue. */
    pthread_mutex_lock(&srv->mu);
    while (srv->live_calls > 0)
        pthread_cond_wait(&srv->cond, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
    grpc_server_destroy(srv->server);
    srv->server = NULL;
    grpc_completion_queue_shutdown(srv->cq);
    for (int i = 0; i < srv->n_threads; i++)
        pthread_join(srv->threads[i], NULL);
    grpc_completion_queue_destroy(srv->cq);
    srv->cq = NULL;
}

void
cjx_rpc_server_free(struct cjx_rpc_server *srv)
{
    if (srv == NULL)
        return;
    cjx_rpc_server_shutdown(srv);
    server_free_parts(srv);
    grpc_shutdown();
}
