/* cjxd's process: configuration, store, services and server, and signals. */
#ifndef CJX_DAEMON_H
#define CJX_DAEMON_H

#include "cjx/conf.h"
#include "cjx/error.h"
#include "cjx/rpc.h"
#include "cjx/service.h"
#include "cjx/store.h"

struct cjx_daemon {
    const char *conf_path;
    struct cjx_store *store;
    struct cjx_service *service;
    struct cjx_rpc_server *server;
    const struct cjx_handler **handlers;
};

/* Loads the configuration and everything it names (registry, certificates,
 * key) and checks them: the whole of `cjxd -n`. On success *conf is new and
 * *tls holds PEM text to release with daemon_tls_free(). */
int daemon_load(const char *path, struct cjx_conf **conf,
                struct cjx_rpc_tls *tls, struct cjx_errbuf *eb);
void daemon_tls_free(struct cjx_rpc_tls *tls);

/* Opens the store, starts the services and the server. Takes ownership of
 * conf. */
int daemon_start(struct cjx_daemon *d, struct cjx_conf *conf,
                 const struct cjx_rpc_tls *tls, struct cjx_errbuf *eb);

/* SIGHUP: reloads configuration and certificates; on any error keeps the old
 * ones and logs why. */
void daemon_reload(struct cjx_daemon *d);

/* SIGTERM: drains calls, closes the store. */
void daemon_stop(struct cjx_daemon *d);

#endif
