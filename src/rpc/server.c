/* The gRPC core server: credentials, revocation, ports, completion-queue
 * threads, and graceful shutdown in the order gRPC core requires. */
#include "rpc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/string_util.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cjx/clock.h"
#include "cjx/log.h"
#include "cjx/tls.h"
#include "ratelimit.h"
#include "streamcount.h"

/* Requests kept posted per method: calls arriving together do not queue
 * inside gRPC waiting for the next post. */
#define POSTED_PER_METHOD   32
#define POSTED_UNREGISTERED 4

/* How often gRPC's provider re-reads the credentials, and so how long a
 * reload takes to reach new handshakes. */
#define TLS_REFRESH_S 1

/* Queue threads wake at least this often to show they are alive. */
#define HEARTBEAT_MS 500

/* How often the first queue thread looks for idle streams. */
#define SWEEP_US 1000000

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
    /* OpenSSL's refusal of a certificate chain (expired, unknown CA,
     * revoked by gRPC's own CRL check...) reaches us only as its number;
     * gRPC tells neither the peer nor the certificate at this point. */
    int code;
    if (sscanf(args->message, "Certificate verify failed with code %d",
               &code) == 1) {
        cjx_warn("rpc",
                 "refused a TLS handshake: the certificate chain does not "
                 "verify: %s (X.509 error %d)",
                 cjx_tls_verify_error_text(code), code);
        return;
    }
    cjx_log(level, "grpc", "%s", args->message);
}

/* ---- the configuration calls start under ------------------------------ */

const struct cjx_conf *
cjx_rpc_server_conf(struct cjx_rpc_server *srv)
{
    return cjx_conf_slot_get(&srv->conf);
}

int
server_rate_allows(struct cjx_rpc_server *srv, const struct cjx_conf *conf,
                   const char *ori, int64_t *retry_after_ms)
{
    int rate = conf->limits.rate_limit_per_agency;
    return ratelimit_take(srv->ratelimit, ori, rate, rate,
                          cjx_clock_monotonic_us(), retry_after_ms);
}

/* ---- revocation: the external verifier ---------------------------------- */

/* The CRLs the handshake checks, shared by the server and gRPC's verifier:
 * each holds a reference, because gRPC may destroy its verifier after the
 * server is gone. */
struct revocation {
    grpc_tls_certificate_verifier_external ext; /* user_data = this */
    pthread_mutex_t mu;
    struct cjx_tls_crl_set *crls; /* NULL: no revocation checking */
    atomic_int refs;
};

static void
revocation_unref(struct revocation *r)
{
    if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    cjx_tls_crl_set_unref(r->crls);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* The set in use now, with a reference for the caller (or NULL). */
static struct cjx_tls_crl_set *
revocation_get(struct revocation *r)
{
    pthread_mutex_lock(&r->mu);
    struct cjx_tls_crl_set *set = r->crls;
    if (set != NULL)
        cjx_tls_crl_set_ref(set);
    pthread_mutex_unlock(&r->mu);
    return set;
}

/* Puts set (a new reference is taken; NULL turns checking off) in place;
 * handshakes already checking keep the set they took. */
static void
revocation_swap(struct revocation *r, struct cjx_tls_crl_set *set)
{
    if (set != NULL)
        cjx_tls_crl_set_ref(set);
    pthread_mutex_lock(&r->mu);
    struct cjx_tls_crl_set *old = r->crls;
    r->crls = set;
    pthread_mutex_unlock(&r->mu);
    cjx_tls_crl_set_unref(old);
}

/* Runs on gRPC's threads once per handshake, after OpenSSL has verified the
 * chain; answers at once. gRPC caches the CRL directory it reads itself, so
 * this check is what makes a CRL replaced on SIGHUP count. */
static int
verify_not_revoked(void *user_data,
                   grpc_tls_custom_verification_check_request *req,
                   grpc_tls_on_custom_verification_check_done_cb cb,
                   void *cb_arg, grpc_status_code *status, char **details)
{
    (void)cb;
    (void)cb_arg;
    struct revocation *r = user_data;
    struct cjx_tls_crl_set *set = revocation_get(r);
    *status = GRPC_STATUS_OK;
    if (set == NULL)
        return 1;
    struct cjx_errbuf eb;
    const char *leaf = req->peer_info.peer_cert;
    const char *chain = req->peer_info.peer_cert_full_chain;
    size_t leaf_len = leaf != NULL ? strlen(leaf) : 0;
    int err = 0;
    if (leaf_len == 0)
        err = cjx_errf(&eb, CJX_EUNAUTH, "the peer sent no certificate");
    else
        err = cjx_tls_crl_set_check(set, leaf, leaf_len, &eb);
    if (err == 0 && chain != NULL && chain[0] != '\0')
        err = cjx_tls_crl_set_check(set, chain, strlen(chain), &eb);
    cjx_tls_crl_set_unref(set);
    if (err != 0) {
        /* gRPC's verifier is not told the peer's address. */
        struct cjx_cert_summary sum;
        cjx_tls_describe_cert(leaf, leaf_len, &sum);
        cjx_warn("rpc",
                 "refused a TLS handshake: %s (certificate subject %s, "
                 "SHA-256 %s)",
                 eb.msg, sum.subject, sum.fingerprint);
        *status = GRPC_STATUS_UNAUTHENTICATED;
        *details = gpr_strdup(eb.msg);
    }
    return 1;
}

static void
verifier_destruct(void *user_data)
{
    revocation_unref(user_data);
}

static struct revocation *
revocation_new(void)
{
    struct revocation *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    atomic_init(&r->refs, 1);
    r->ext.user_data = r;
    r->ext.verify = verify_not_revoked;
    r->ext.destruct = verifier_destruct;
    return r;
}

/* Says what revocation checking the server does from now on. */
static void
log_revocation(const struct cjx_conf *conf, const struct cjx_tls_crl_set *set)
{
    if (set == NULL) {
        cjx_warn("rpc", "tls.crl_dir is not set: peer certificates are not "
                        "checked for revocation");
        return;
    }
    cjx_info("rpc", "revocation: %zu CRL(s) from %s",
             cjx_tls_crl_set_count(set),
             conf->tls.crl_dir ? conf->tls.crl_dir : "?");
    const char *uncovered = cjx_tls_crl_set_uncovered(set);
    if (uncovered[0] != '\0')
        cjx_warn("rpc",
                 "no CRL in %s for CA %s: certificates it issues are "
                 "not checked for revocation",
                 conf->tls.crl_dir ? conf->tls.crl_dir : "?", uncovered);
}

/* ---- TLS credentials, replaced whole on reload ----------------------------
 *
 * gRPC 1.51 can change a running server's certificate only through its
 * file-watcher provider, which re-reads two paths every TLS_REFRESH_S. The
 * paths are /proc/self/fd/N of anonymous in-memory files (memfd), so the key
 * never touches a disk; a reload writes a new memfd and moves it onto N with
 * dup3, which is atomic. The provider reads the identity file twice (as key
 * and as certificate chain) and retries when its modification time changed
 * in between, so each generation gets a distinct time and key and chain come
 * in one file: gRPC never pairs a key with another certificate. PEM readers
 * skip blocks of other types, so the one file serves as both. */

/* A new memfd holding the parts, stamped with time stamp_s. */
static int
memfd_with(const char *name, const char *const *parts, size_t n_parts,
           int64_t stamp_s, struct cjx_errbuf *eb)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return cjx_errf(eb, CJX_EIO, "memfd_create: %s", strerror(errno));
    for (size_t i = 0; i < n_parts; i++) {
        const char *p = parts[i];
        size_t left = strlen(p);
        while (left > 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                int e = errno;
                close(fd);
                return cjx_errf(eb, CJX_EIO, "writing credentials: %s",
                                strerror(e));
            }
            p += w;
            left -= (size_t)w;
        }
    }
    struct timespec times[2] = {{(time_t)stamp_s, 0}, {(time_t)stamp_s, 0}};
    if (futimens(fd, times) != 0) {
        int e = errno;
        close(fd);
        return cjx_errf(eb, CJX_EIO, "stamping credentials: %s", strerror(e));
    }
    return fd;
}

/* A generation of credentials written, not yet at the watched paths. */
struct tls_files {
    int identity_fd, roots_fd;
};

static void wipe_fd(int fd);

/* Writes a new generation of credentials; nothing changes for gRPC yet. */
static int
write_tls_files(struct cjx_rpc_server *srv, const struct cjx_rpc_tls *tls,
                struct tls_files *out, struct cjx_errbuf *eb)
{
    char marker[80];
    long gen = ++srv->tls_generation;
    /* Text outside PEM blocks is ignored by readers, but it makes every
     * generation differ, so gRPC rebuilds its TLS context, and with it the
     * CRLs it caches from tls.crl_dir, on every reload. */
    snprintf(marker, sizeof(marker), "\ncjxd credentials, generation %ld\n",
             gen);
    const char *identity[] = {tls->key_pem, "\n", tls->cert_pem, marker};
    const char *roots[] = {tls->ca_pem};
    int64_t stamp = srv->tls_epoch_s + gen;
    int id = memfd_with("cjxd-identity", identity, 4, stamp, eb);
    if (id < 0)
        return id;
    int ro = memfd_with("cjxd-roots", roots, 1, stamp, eb);
    if (ro < 0) {
        wipe_fd(id);
        return ro;
    }
    *out = (struct tls_files){id, ro};
    return 0;
}

/* Places files written by write_tls_files at the watched paths (taking
 * them over). dup3 onto a descriptor the server holds open replaces it
 * atomically; it could fail only if another thread were opening into the
 * same number, which nothing does, so a failure is logged, not returned:
 * the old credentials then stay. */
static void
install_tls_files(struct cjx_rpc_server *srv, struct tls_files *f)
{
    if (srv->identity_fd < 0) {
        srv->identity_fd = f->identity_fd;
        srv->roots_fd = f->roots_fd;
        snprintf(srv->identity_path, sizeof(srv->identity_path),
                 "/proc/self/fd/%d", srv->identity_fd);
        snprintf(srv->roots_path, sizeof(srv->roots_path), "/proc/self/fd/%d",
                 srv->roots_fd);
        return;
    }
    int id_placed = dup3(f->identity_fd, srv->identity_fd, O_CLOEXEC) >= 0;
    int ro_placed =
        id_placed && dup3(f->roots_fd, srv->roots_fd, O_CLOEXEC) >= 0;
    if (!ro_placed)
        cjx_error("rpc", "replacing credentials: %s", strerror(errno));
    /* A file placed at a watched number is shared with it now: closed, not
     * wiped. */
    if (id_placed)
        close(f->identity_fd);
    else
        wipe_fd(f->identity_fd);
    if (ro_placed)
        close(f->roots_fd);
    else
        wipe_fd(f->roots_fd);
}

/* gRPC reads the credentials by path: fail at start, not at the first
 * handshake, where /proc is missing. */
static int
check_readable(const char *path, struct cjx_errbuf *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cjx_errf(eb, CJX_EIO,
                        "cannot read the credentials at %s (%s): the daemon "
                        "needs /proc",
                        path, strerror(errno));
    close(fd);
    return 0;
}

static grpc_server_credentials *
tls_credentials(struct cjx_rpc_server *srv, const struct cjx_conf *conf)
{
    grpc_tls_certificate_provider *provider =
        grpc_tls_certificate_provider_file_watcher_create(
            srv->identity_path, srv->identity_path, srv->roots_path,
            TLS_REFRESH_S);
    if (provider == NULL)
        return NULL;
    grpc_tls_credentials_options *o = grpc_tls_credentials_options_create();
    grpc_tls_credentials_options_set_certificate_provider(o, provider);
    grpc_tls_certificate_provider_release(provider);
    grpc_tls_credentials_options_watch_root_certs(o);
    grpc_tls_credentials_options_watch_identity_key_cert_pairs(o);
    grpc_tls_credentials_options_set_cert_request_type(
        o, GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    /* gRPC's own CRL check, in OpenSSL's chain verification, runs first;
     * it reads the directory once per TLS context. */
    if (conf->crls != NULL && conf->tls.crl_dir != NULL &&
        conf->tls.crl_dir[0] != '\0')
        grpc_tls_credentials_options_set_crl_directory(o, conf->tls.crl_dir);
    atomic_fetch_add(&srv->revocation->refs, 1); /* the verifier's */
    grpc_tls_certificate_verifier *v =
        grpc_tls_certificate_verifier_external_create(&srv->revocation->ext);
    grpc_tls_credentials_options_set_certificate_verifier(o, v);
    grpc_tls_certificate_verifier_release(v);
    return grpc_tls_server_credentials_create(o);
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
    int me = atomic_fetch_add(&srv->next_worker, 1);
    for (;;) {
        /* A finite wait, so that an idle thread still shows it is alive. */
        grpc_event ev = grpc_completion_queue_next(
            srv->cq,
            gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                         gpr_time_from_millis(HEARTBEAT_MS, GPR_TIMESPAN)),
            NULL);
        int64_t now = cjx_clock_monotonic_us();
        atomic_store(&srv->heartbeat_us[me], now);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (me == 0 && now - atomic_load(&srv->last_sweep_us) >= SWEEP_US) {
            atomic_store(&srv->last_sweep_us, now);
            rpc_streams_sweep(srv, now);
        }
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

/* The server's channel arguments, built in the caller's storage: gRPC
 * copies them at grpc_server_create(), and two servers in one process (the
 * in-process tests) must not share a static. */
static const grpc_channel_args *
server_args(const struct cjx_limits *l, grpc_arg *buf, grpc_channel_args *args)
{
    int n = 0;
#define INT_ARG(k, v)      \
    buf[n++] = (grpc_arg){ \
        .type = GRPC_ARG_INTEGER, .key = (char *)(k), .value.integer = (v)}
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
    /* gRPC sets SO_REUSEPORT by default, so a second daemon started on the
     * same address would bind too and silently take half of the peers'
     * connections. Without it the second one gets "cannot listen on". */
    INT_ARG(GRPC_ARG_ALLOW_REUSEPORT, 0);
#undef INT_ARG
    args->num_args = (size_t)n;
    args->args = buf;
    return args;
}

static int
add_ports(struct cjx_rpc_server *srv, const struct cjx_rpc_server_options *opts,
          const struct cjx_rpc_tls *tls, struct cjx_errbuf *eb)
{
    if (opts->listen != NULL) {
        struct tls_files files;
        int err = write_tls_files(srv, tls, &files, eb);
        if (err == 0) {
            install_tls_files(srv, &files);
            err = check_readable(srv->identity_path, eb);
        }
        if (err != 0)
            return err;
        grpc_server_credentials *creds = tls_credentials(srv, srv->conf.conf);
        if (creds == NULL)
            return cjx_errf(eb, CJX_ETLS,
                            "the server certificate, key or CA bundle was "
                            "refused by the TLS library");
        srv->port =
            grpc_server_add_http2_port(srv->server, opts->listen, creds);
        grpc_server_credentials_release(creds);
        if (srv->port == 0)
            return cjx_errf(eb, CJX_EIO, "cannot listen on %s", opts->listen);
    }
    if (opts->local_socket != NULL) {
        char addr[512];
        snprintf(addr, sizeof(addr), "unix:%s", opts->local_socket);
        grpc_server_credentials *creds =
            grpc_local_server_credentials_create(UDS);
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
            h->method->client_streaming
                ? GRPC_SRM_PAYLOAD_NONE
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

/* Empties an in-memory credentials file before closing it, so that the
 * key's pages go back to the kernel now rather than when gRPC lets go. */
static void
wipe_fd(int fd)
{
    if (fd < 0)
        return;
    if (ftruncate(fd, 0) != 0)
        cjx_debug("rpc", "ftruncate: %s", strerror(errno));
    close(fd);
}

static void
server_free_parts(struct cjx_rpc_server *srv)
{
    free(srv->methods);
    free(srv->threads);
    free(srv->local_socket);
    free(srv->heartbeat_us);
    wipe_fd(srv->identity_fd);
    wipe_fd(srv->roots_fd);
    revocation_unref(srv->revocation);
    ratelimit_free(srv->ratelimit);
    streamcount_free(srv->conn_streams);
    streamcount_free(srv->agency_streams);
    pthread_mutex_destroy(&srv->streams_mu);
    identity_cache_fini(&srv->identities);
    cjx_conf_slot_fini(&srv->conf);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cond);
    free(srv);
}

int
cjx_rpc_server_start(const struct cjx_rpc_server_options *opts,
                     const struct cjx_conf *conf, const struct cjx_rpc_tls *tls,
                     struct cjx_rpc_server **out, struct cjx_errbuf *eb)
{
    struct cjx_rpc_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->streams_mu, NULL);
    pthread_cond_init(&srv->cond, NULL);
    identity_cache_init(&srv->identities);
    srv->identity_fd = srv->roots_fd = -1;
    srv->tls_epoch_s = cjx_clock_now_us() / 1000000;
    cjx_conf_slot_init(&srv->conf, conf);
    if (opts->listen != NULL && tls == NULL) {
        server_free_parts(srv);
        return cjx_errf(eb, CJX_EINVAL, "an mTLS listener needs credentials");
    }
    srv->n_threads = opts->threads > 0 ? opts->threads : 1;
    srv->revocation = revocation_new();
    srv->ratelimit = ratelimit_new();
    srv->conn_streams = streamcount_new();
    srv->agency_streams = streamcount_new();
    srv->heartbeat_us =
        calloc((size_t)srv->n_threads, sizeof(*srv->heartbeat_us));
    if (srv->revocation == NULL || srv->ratelimit == NULL ||
        srv->conn_streams == NULL || srv->agency_streams == NULL ||
        srv->heartbeat_us == NULL) {
        server_free_parts(srv);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    for (int i = 0; i < srv->n_threads; i++)
        atomic_init(&srv->heartbeat_us[i], cjx_clock_monotonic_us());
    srv->service = opts->service;
    srv->metrics = opts->metrics;
    srv->drain_grace_ms =
        opts->drain_grace_ms > 0 ? opts->drain_grace_ms : 5000;
    srv->max_message_bytes = (size_t)conf->limits.max_message_bytes;
    srv->t_shutdown = (struct rpc_tag){TAG_SHUTDOWN, NULL};
    if (opts->listen != NULL) {
        revocation_swap(srv->revocation, conf->crls);
        log_revocation(conf, conf->crls);
    }

    gpr_set_log_function(grpc_log_sink);
    gpr_set_log_verbosity(cjx_log_get_level() == CJX_LOG_DEBUG
                              ? GPR_LOG_SEVERITY_DEBUG
                              : GPR_LOG_SEVERITY_ERROR);
    grpc_init();
    grpc_arg argbuf[16];
    grpc_channel_args args;
    srv->server =
        grpc_server_create(server_args(&conf->limits, argbuf, &args), NULL);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);

    int err = register_methods(srv, opts);
    if (err == 0)
        err = add_ports(srv, opts, tls, eb);
    else
        cjx_errf(eb, err, "cannot register methods");
    if (err != 0) {
        grpc_server_destroy(srv->server);
        grpc_completion_queue_shutdown(srv->cq);
        while (grpc_completion_queue_next(
                   srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
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

struct cjx_rpc_server_reload {
    const struct cjx_conf *conf;
    int has_files; /* new credentials for the listener */
    struct tls_files files;
};

int
cjx_rpc_server_prepare_reload(struct cjx_rpc_server *srv,
                              const struct cjx_conf *conf,
                              const struct cjx_rpc_tls *tls,
                              struct cjx_rpc_server_reload **out,
                              struct cjx_errbuf *eb)
{
    struct cjx_rpc_server_reload *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    if (tls != NULL && srv->identity_fd >= 0) {
        int err = write_tls_files(srv, tls, &r->files, eb);
        if (err != 0) {
            free(r);
            return err;
        }
        r->has_files = 1;
    }
    r->conf = cjx_conf_ref(conf);
    *out = r;
    return 0;
}

void
cjx_rpc_server_commit_reload(struct cjx_rpc_server *srv,
                             struct cjx_rpc_server_reload *r)
{
    if (r->has_files)
        install_tls_files(srv, &r->files);
    if (srv->identity_fd >= 0) {
        /* Handshakes check the same CRLs as the calls from now on. */
        revocation_swap(srv->revocation, r->conf->crls);
        log_revocation(r->conf, r->conf->crls);
    }
    cjx_conf_slot_set(&srv->conf, r->conf);
    cjx_conf_unref(r->conf);
    free(r);
}

void
cjx_rpc_server_cancel_reload(struct cjx_rpc_server_reload *r)
{
    if (r == NULL)
        return;
    if (r->has_files) {
        wipe_fd(r->files.identity_fd);
        wipe_fd(r->files.roots_fd);
    }
    cjx_conf_unref(r->conf);
    free(r);
}

int
cjx_rpc_server_responsive(struct cjx_rpc_server *srv, int max_age_ms)
{
    int64_t now = cjx_clock_monotonic_us();
    for (int i = 0; i < srv->n_threads; i++) {
        if (now - atomic_load(&srv->heartbeat_us[i]) >
            (int64_t)max_age_ms * 1000)
            return 0;
    }
    return 1;
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
    /* gRPC first: its provider may still read the credentials files that
     * server_free_parts closes. */
    grpc_shutdown();
    server_free_parts(srv);
}

void
cjx_rpc_wait_released(void)
{
    /* grpc_init waits for a shutdown still in progress; the blocking
     * shutdown then cleans up on this thread. */
    grpc_init();
    grpc_shutdown_blocking();
}
