/* The gRPC server of cjxd: mTLS port, local Unix-socket port, dispatch.
 * The only module that knows gRPC (with its client half in client.h). */
#ifndef CJX_RPC_H
#define CJX_RPC_H

#include <stddef.h>

#include "cjx/conf.h"
#include "cjx/error.h"
#include "cjx/service.h"

struct cjx_rpc_server;

/* PEM text of the server's credentials. Borrowed; copied by the server. */
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
};

/* Initialises gRPC (routing its log into cjx's), binds the ports and starts
 * serving. Takes ownership of conf (its registry identifies callers, its
 * limits become channel arguments). tls may be NULL only if opts->listen is
 * NULL. On failure nothing is left running and conf is freed. */
int cjx_rpc_server_start(const struct cjx_rpc_server_options *opts,
                         struct cjx_conf *conf, const struct cjx_rpc_tls *tls,
                         struct cjx_rpc_server **out, struct cjx_errbuf *eb);

/* The TCP port the mTLS listener bound (useful with "127.0.0.1:0"). */
int cjx_rpc_server_port(const struct cjx_rpc_server *srv);

/* Swaps in a new configuration (ownership taken) for calls that start from
 * now on, and new TLS credentials for handshakes from now on (tls may be
 * NULL to keep the current ones). Calls in progress keep the snapshot they
 * started with. Channel limits and listen addresses need a restart. */
void cjx_rpc_server_reload(struct cjx_rpc_server *srv, struct cjx_conf *conf,
                           const struct cjx_rpc_tls *tls);

/* Graceful stop: refuses new calls, lets running ones finish within the
 * grace period, then cancels the rest, and waits for all to end. */
void cjx_rpc_server_shutdown(struct cjx_rpc_server *srv);

/* Frees a shut-down server and releases gRPC. Accepts NULL. */
void cjx_rpc_server_free(struct cjx_rpc_server *srv);

#endif
