/* The gRPC server of cjxd: mTLS port, local Unix-socket port, dispatch.
 * The only module that knows gRPC (with its client half in client.h). */
#ifndef CJX_RPC_H
#define CJX_RPC_H

#include <stddef.h>

#include "cjx/conf.h"
#include "cjx/metrics.h"
#include "cjx/error.h"
#include "cjx/service.h"

struct cjx_rpc_server;

/* The server's credentials. PEM text is borrowed and copied by the server
 * (which wipes its copies when it lets go of them). The CRLs checked at
 * every handshake and call are the configuration's (conf->crls; NULL: no
 * revocation check, logged as a warning). */
struct cjx_rpc_tls {
    const char *ca_pem;   /* CA bundle client certificates must chain to */
    const char *cert_pem; /* server certificate chain */
    const char *key_pem;  /* its private key */
};

struct cjx_rpc_server_options {
    const char *listen;       /* "127.0.0.1:7443"; NULL = no mTLS port */
    const char *local_socket; /* Unix socket path; NULL = no local port */
    int threads;              /* completion-queue threads; 0 = 1 */
    int drain_grace_ms;       /* shutdown: wait this long before cancelling
                                 calls still running; 0 = 5000 */
    /* The methods served; a path not listed gets UNIMPLEMENTED. */
    const struct cjx_handler *const *handlers;
    size_t n_handlers;
    struct cjx_service *service; /* passed to handlers as call->service */
    /* Counts every call by method (the index of its handler above), status,
     * duration and messages, and every rate-limit refusal. NULL: none.
     * Borrowed; must outlive the server. */
    struct cjx_metrics *metrics;
};

/* Initialises gRPC (routing its log into cjx's), binds the ports and starts
 * serving. Takes a reference to conf of its own (its registry identifies
 * callers, its limits become channel arguments); the caller keeps its. tls
 * may be NULL only if opts->listen is NULL. On failure nothing is left
 * running. */
int cjx_rpc_server_start(const struct cjx_rpc_server_options *opts,
                         const struct cjx_conf *conf,
                         const struct cjx_rpc_tls *tls,
                         struct cjx_rpc_server **out, struct cjx_errbuf *eb);

/* The TCP port the mTLS listener bound (useful with "127.0.0.1:0"). */
int cjx_rpc_server_port(const struct cjx_rpc_server *srv);

/* A reload in two steps, so that a daemon can prepare every module before
 * it changes any. cjx_rpc_server_prepare_reload does all that can fail:
 * takes a reference to conf and writes tls (NULL: keep the credentials in
 * use) into new in-memory files; nothing changes yet. Then exactly one of:
 * cjx_rpc_server_commit_reload, which cannot fail, puts them in place for
 * calls that start from now on (calls in progress keep the configuration
 * they started with): the CRLs apply at once, to new handshakes and to
 * every later call, also on connections opened before; the certificate, key
 * and CA bundle reach gRPC within about a second (its provider re-reads
 * them every second); or cjx_rpc_server_cancel_reload, which drops them
 * (NULL ok). Channel limits and listen addresses need a restart. */
struct cjx_rpc_server_reload;
int cjx_rpc_server_prepare_reload(struct cjx_rpc_server *srv,
                                  const struct cjx_conf *conf,
                                  const struct cjx_rpc_tls *tls,
                                  struct cjx_rpc_server_reload **out,
                                  struct cjx_errbuf *eb);
void cjx_rpc_server_commit_reload(struct cjx_rpc_server *srv,
                                  struct cjx_rpc_server_reload *r);
void cjx_rpc_server_cancel_reload(struct cjx_rpc_server_reload *r);

/* The configuration calls start under now, with a reference for the
 * caller (cjx_conf_unref). */
const struct cjx_conf *cjx_rpc_server_conf(struct cjx_rpc_server *srv);

/* 1 if every completion-queue thread has come back to the queue within the
 * last max_age_ms (they check in at least twice a second when idle), 0 if
 * one is stuck in a handler or in gRPC. For the systemd watchdog. */
int cjx_rpc_server_responsive(struct cjx_rpc_server *srv, int max_age_ms);

/* Graceful stop: refuses new calls, lets running ones finish within the
 * grace period, then cancels the rest, and waits for all to end. */
void cjx_rpc_server_shutdown(struct cjx_rpc_server *srv);

/* Waits until gRPC has released everything it holds. Its last shutdown may
 * otherwise finish on a thread of its own while the process exits, leaving
 * TLS state behind; call it once, after every server and client is freed,
 * just before exiting. */
void cjx_rpc_wait_released(void);

/* Frees a shut-down server and releases gRPC. Accepts NULL. */
void cjx_rpc_server_free(struct cjx_rpc_server *srv);

#endif
