/* cjxd's process: configuration, store, services and server, and signals. */
#ifndef CJX_DAEMON_H
#define CJX_DAEMON_H

#include "cjx/conf.h"
#include "cjx/error.h"
#include "cjx/rules.h"
#include "cjx/rpc.h"
#include "cjx/service.h"
#include "cjx/store.h"

struct cjx_delivery;
struct cjx_delivery_reload;
struct cjx_standin;
struct daemon_metrics_reload;

struct cjx_daemon {
    const char *conf_path;
    /* The configuration in force (a reference): the one place every
     * module's configuration comes from. Each holds a reference of its own
     * to this same object, taken at start and at each reload. */
    const struct cjx_conf *conf;
    char agency[16]; /* own ORI, for the audit log's admin events */
    struct cjx_store *store;
    struct cjx_service *service;
    struct cjx_rpc_server *server;
    const struct cjx_handler **handlers;
    struct cjx_delivery *delivery;  /* the outbox worker (exchange.c) */
    struct cjx_standin *standin;    /* NULL unless configured */
    struct daemon_metrics *metrics; /* NULL without a metrics key */
    /* A test seam: called when every module has prepared its part of a
     * reload and none has changed; non-zero refuses the reload with the
     * reason in eb, as a module's failure would. NULL in cjxd. */
    int (*reload_hook)(void *arg, struct cjx_errbuf *eb);
    void *reload_hook_arg;
};

/* Everything a configuration file names, loaded and checked. */
struct daemon_loaded {
    /* With the rule sets and CRLs it names (conf->rules, conf->crls): one
     * load, not yet shared. */
    struct cjx_conf *conf;
    struct cjx_rpc_tls tls; /* PEM text, wiped by daemon_loaded_free */
};

/* Loads the configuration and everything it names (registry, certificates,
 * key, CRLs, rule sets) and checks them: the whole of `cjxd -n`. On success
 * *out holds new objects; release what is not handed on with
 * daemon_loaded_free(). */
int daemon_load(const char *path, struct daemon_loaded *out,
                struct cjx_errbuf *eb);
void daemon_loaded_free(struct daemon_loaded *l);
/* Puts conf's log_level and log_format in force. */
void daemon_apply_logging(const struct cjx_conf *conf);

/* Opens the store, starts the services and the server. Takes the conf out
 * of l (leaving NULL there) into d->conf; the TLS text stays with l. */
int daemon_start(struct cjx_daemon *d, struct daemon_loaded *l,
                 struct cjx_errbuf *eb);

/* SIGHUP: loads the file once, prepares every module's part of the reload
 * (all that can fail), then swaps all of them, which cannot fail, and only
 * then logs and audits the reload. On any error no module changes, and the
 * refusal is logged and audited with the reason. Returns 0 or that error. */
int daemon_reload(struct cjx_daemon *d);

/* The relief exchange's workers (exchange.c): the outbox's delivery and the
 * stand-in policy, started on d->conf once the services run and stopped
 * first. A reload prepares the delivery's new peers (*out, NULL without a
 * worker) and then either commits both workers to conf, which cannot fail,
 * or cancels. */
int daemon_exchange_start(struct cjx_daemon *d, const struct cjx_rpc_tls *tls,
                          struct cjx_errbuf *eb);
int daemon_exchange_prepare_reload(struct cjx_daemon *d,
                                   const struct cjx_conf *conf,
                                   const struct cjx_rpc_tls *tls,
                                   struct cjx_delivery_reload **out,
                                   struct cjx_errbuf *eb);
void daemon_exchange_commit_reload(struct cjx_daemon *d,
                                   const struct cjx_conf *conf,
                                   struct cjx_delivery_reload *r);
void daemon_exchange_cancel_reload(struct cjx_delivery_reload *r);
void daemon_exchange_stop(struct cjx_daemon *d);

/* SIGTERM: drains calls, closes the store. */
void daemon_stop(struct cjx_daemon *d);

/* The metrics (daemon_metrics.c). daemon_metrics_new makes the set when
 * conf has a metrics key (else does nothing), after d->handlers; the server
 * then feeds daemon_metrics_set(d) (NULL without metrics).
 * daemon_metrics_listen starts the listener and the store's hook before
 * the server answers anyone, so that a daemon that answers has its
 * metrics; daemon_metrics_watch_delivery adds the delivery worker's peers
 * once it runs, to the metrics and to GetStatus (with or without metrics); a
 * reload prepares the new TLS files' copies (which can fail) and then
 * commits them (which cannot) or cancels; daemon_metrics_stop_listening
 * comes before anything a scrape reads is stopped, daemon_metrics_free
 * after the server is gone. */
int daemon_metrics_new(struct cjx_daemon *d, const struct cjx_conf *conf,
                       const struct cjx_rpc_tls *tls, struct cjx_errbuf *eb);
struct cjx_metrics *daemon_metrics_set(struct cjx_daemon *d);
int daemon_metrics_listen(struct cjx_daemon *d, const char *listen,
                          const struct cjx_rpc_tls *tls, struct cjx_errbuf *eb);
void daemon_metrics_watch_delivery(struct cjx_daemon *d);
int daemon_metrics_prepare_reload(struct cjx_daemon *d,
                                  const struct cjx_conf *conf,
                                  const struct cjx_rpc_tls *tls,
                                  struct daemon_metrics_reload **out,
                                  struct cjx_errbuf *eb);
void daemon_metrics_commit_reload(struct cjx_daemon *d,
                                  struct daemon_metrics_reload *r);
void daemon_metrics_cancel_reload(struct daemon_metrics_reload *r);
/* The configuration the expiry gauges read, with a reference for the caller
 * (NULL without metrics). */
const struct cjx_conf *daemon_metrics_conf(struct cjx_daemon *d);
void daemon_metrics_stop_listening(struct cjx_daemon *d);
void daemon_metrics_free(struct cjx_daemon *d);

#endif
