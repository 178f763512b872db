/* Start, reload and stop of the daemon's parts, in dependency order. */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "cjx/audit.h"
#include "cjx/clock.h"
#include "cjx/evaluate.h"
#include "cjx/log.h"
#include "cjx/store_pg.h"
#include "cjx/tls.h"

static void
tls_free(struct cjx_rpc_tls *tls)
{
    cjx_tls_free_pem((char *)tls->ca_pem,
                     tls->ca_pem ? strlen(tls->ca_pem) : 0);
    cjx_tls_free_pem((char *)tls->cert_pem,
                     tls->cert_pem ? strlen(tls->cert_pem) : 0);
    cjx_tls_free_pem((char *)tls->key_pem,
                     tls->key_pem ? strlen(tls->key_pem) : 0);
    cjx_tls_crl_set_unref(tls->crls);
    memset(tls, 0, sizeof(*tls));
}

void
daemon_loaded_free(struct daemon_loaded *l)
{
    tls_free(&l->tls);
    cjx_conf_free(l->conf);
    cjx_rules_registry_free(l->rules);
    memset(l, 0, sizeof(*l));
}

void
daemon_apply_logging(const struct cjx_conf *conf)
{
    enum cjx_log_level level;
    if (cjx_log_level_parse(conf->log_level, &level) == 0)
        cjx_log_set_level(level);
    cjx_log_set_format(conf->log_format);
}

static int
load_tls(const struct cjx_conf *conf, struct cjx_rpc_tls *tls,
         struct cjx_errbuf *eb)
{
    char *ca = NULL, *cert = NULL, *key = NULL;
    size_t ca_len, cert_len, key_len;
    struct cjx_tls_crl_set *crls = NULL;
    int err;
    if ((err = cjx_tls_read_pem(conf->tls.ca, 0, &ca, &ca_len, eb)) != 0 ||
        (err = cjx_tls_read_pem(conf->tls.cert, 0, &cert, &cert_len, eb)) !=
            0 ||
        (err = cjx_tls_read_pem(conf->tls.key, 1, &key, &key_len, eb)) != 0 ||
        (err = cjx_tls_check_own_cert(cert, key, conf->trust_domain,
                                      conf->agency, eb)) != 0 ||
        (conf->tls.crl_dir != NULL && conf->tls.crl_dir[0] != '\0' &&
         (err = cjx_tls_crl_set_load(conf->tls.crl_dir, ca, &crls, eb)) != 0)) {
        cjx_tls_free_pem(ca, ca ? ca_len : 0);
        cjx_tls_free_pem(cert, cert ? cert_len : 0);
        cjx_tls_free_pem(key, key ? key_len : 0);
        return err;
    }
    tls->ca_pem = ca;
    tls->cert_pem = cert;
    tls->key_pem = key;
    tls->crls = crls;
    return 0;
}

int
daemon_load(const char *path, struct daemon_loaded *out, struct cjx_errbuf *eb)
{
    struct daemon_loaded l = {0};
    int err = cjx_conf_load(path, &l.conf, eb);
    if (err == 0)
        err = load_tls(l.conf, &l.tls, eb);
    if (err == 0 && l.conf->rules_dir[0] != '\0')
        err = cjx_rules_registry_load_dir(l.conf->rules_dir,
                                          cjx_evaluate_types(), &l.rules, eb);
    if (err != 0) {
        daemon_loaded_free(&l);
        return err;
    }
    *out = l;
    return 0;
}

/* Records an admin action in the audit log. Not waited for: the store
 * commits it with its next batch, and closing commits all that is queued. */
static void
audit_admin(struct cjx_daemon *d, const char *action, int err,
            const char *detail)
{
    struct cjx_audit_event ev = {
        .type = CJX_AUDIT_ADMIN,
        .time_us = cjx_clock_now_us(),
        .agency_ori = d->agency,
        .peer = "local",
        .method = action,
        .outcome_code = cjx_err_status_code(err),
        .outcome_message = detail,
    };
    int rc = cjx_store_append_audit(d->store, &ev, NULL, NULL);
    if (rc != 0)
        cjx_error("daemon", "cannot record %s in the audit log: %s", action,
                  cjx_strerror(rc));
}

static int
make_state_dir(const char *dir, struct cjx_errbuf *eb)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return cjx_errf(eb, CJX_EIO, "cannot create state directory %s: %s",
                        dir, strerror(errno));
    return 0;
}

/* Reads the PostgreSQL password: the first line of the file the
 * configuration names (readable by its owner only, or a systemd
 * credential). *out is NULL when none is named; wipe it with
 * cjx_tls_free_pem(). */
static int
read_password(const char *path, char **out, size_t *len, struct cjx_errbuf *eb)
{
    *out = NULL;
    *len = 0;
    if (path[0] == '\0')
        return 0;
    struct cjx_errbuf why;
    int err = cjx_tls_read_pem(path, 1, out, len, &why);
    if (err != 0)
        return cjx_errf(eb, err, "store.password_file: %s", why.msg);
    (*out)[strcspn(*out, "\r\n")] = '\0';
    return 0;
}

/* Opens the store the configuration names. The daemon's own key signs
 * the audit log's checkpoints on either backend. */
static int
open_store(const struct cjx_conf *conf, const char *sqlite_path,
           const struct cjx_rpc_tls *tls, struct cjx_store **out,
           struct cjx_errbuf *eb)
{
    if (conf->store.backend == CJX_STORE_SQLITE) {
        struct cjx_store_sqlite_options o = {
            .audit_key_pem = tls->key_pem,
            .audit_cert_pem = tls->cert_pem,
        };
        return cjx_store_sqlite_open(sqlite_path, &o, out, eb);
    }
    char *password;
    size_t password_len;
    int err =
        read_password(conf->store.password_file, &password, &password_len, eb);
    if (err != 0)
        return err;
    struct cjx_store_pg_options o = {
        .dsn = conf->store.dsn,
        .password = password,
        .audit_key_pem = tls->key_pem,
        .audit_cert_pem = tls->cert_pem,
        .outbox_lease_seconds = conf->store.outbox_lease_seconds,
        .replica = conf->store.replica,
    };
    err = cjx_store_pg_open(&o, out, eb);
    cjx_tls_free_pem(password, password_len);
    return err;
}

int
daemon_start(struct cjx_daemon *d, struct daemon_loaded *l,
             struct cjx_errbuf *eb)
{
    struct cjx_conf *conf = l->conf;
    const struct cjx_rpc_tls *tls = &l->tls;
    l->conf = NULL;
    char db[4096];
    int err = make_state_dir(conf->state_dir, eb);
    if (err != 0) {
        cjx_conf_free(conf);
        return err;
    }
    snprintf(db, sizeof(db), "%s/cjxd.db", conf->state_dir);
    snprintf(d->agency, sizeof(d->agency), "%s", conf->agency);
    if ((err = open_store(conf, db, tls, &d->store, eb)) != 0) {
        cjx_conf_free(conf);
        return err;
    }
    if ((err = cjx_service_new(d->store, &d->service)) != 0) {
        cjx_store_close(d->store);
        cjx_conf_free(conf);
        return cjx_errf(eb, err, "cannot start the services");
    }
    cjx_service_set_rules(d->service, l->rules);
    l->rules = NULL;
    size_t n = cjx_service_handler_count();
    d->handlers = calloc(n, sizeof(*d->handlers));
    if (d->handlers == NULL) {
        cjx_service_free(d->service);
        cjx_store_close(d->store);
        cjx_conf_free(conf);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        d->handlers[i] = cjx_service_handler(i);
    if ((err = daemon_metrics_new(d, conf, tls, eb)) != 0 ||
        (conf->metrics_listen != NULL &&
         (err = daemon_metrics_listen(d, conf->metrics_listen,
                                      conf->metrics_tls ? tls : NULL, eb)) !=
             0)) {
        daemon_metrics_free(d);
        free(d->handlers);
        cjx_service_free(d->service);
        cjx_store_close(d->store);
        cjx_conf_free(conf);
        return err;
    }
    struct cjx_rpc_server_options opts = {
        .listen = conf->listen,
        .local_socket = conf->local_socket[0] ? conf->local_socket : NULL,
        .handlers = d->handlers,
        .n_handlers = n,
        .service = d->service,
        .metrics = daemon_metrics_set(d),
    };
    char listen[256], agency[16];
    snprintf(listen, sizeof(listen), "%s", conf->listen);
    snprintf(agency, sizeof(agency), "%s", conf->agency);
    if ((err = cjx_rpc_server_start(&opts, conf, tls, &d->server, eb)) != 0) {
        audit_admin(d, "cjxd/start", err, eb->msg);
        daemon_metrics_free(d);
        free(d->handlers);
        cjx_service_free(d->service);
        cjx_store_close(d->store);
        return err;
    }
    if ((err = daemon_exchange_start(d, tls, eb)) != 0) {
        audit_admin(d, "cjxd/start", err, eb->msg);
        cjx_rpc_server_shutdown(d->server);
        cjx_rpc_server_free(d->server);
        daemon_metrics_free(d);
        free(d->handlers);
        cjx_service_free(d->service);
        cjx_store_close(d->store);
        return err;
    }
    daemon_metrics_watch_delivery(d);
    char started[64];
    snprintf(started, sizeof(started), "serving mTLS on port %d",
             cjx_rpc_server_port(d->server));
    audit_admin(d, "cjxd/start", 0, started);
    cjx_info("daemon", "agency %s serving mTLS on %s (port %d), database %s",
             agency, listen, cjx_rpc_server_port(d->server), db);
    return 0;
}

void
daemon_reload(struct cjx_daemon *d)
{
    struct cjx_errbuf eb;
    struct daemon_loaded l;
    sd_notify(0, "RELOADING=1");
    int err = daemon_load(d->conf_path, &l, &eb);
    if (err == 0 && strcmp(l.conf->agency, d->agency) != 0) {
        /* The store and its audit log belong to one agency. */
        err = cjx_errf(&eb, CJX_EINVAL,
                       "agency changed from %s to %s: that needs a restart",
                       d->agency, l.conf->agency);
        daemon_loaded_free(&l);
    }
    if (err != 0) {
        cjx_error("daemon",
                  "reload refused, keeping the running configuration: %s",
                  eb.msg);
        audit_admin(d, "cjxd/reload", err, eb.msg);
    } else {
        /* Checkpoints from now on are signed with the renewed key. */
        if (cjx_store_set_audit_signer(d->store, l.tls.key_pem, l.tls.cert_pem,
                                       &eb) != 0)
            cjx_error("daemon", "audit checkpoints keep the old key: %s",
                      eb.msg);
        daemon_apply_logging(l.conf);
        size_t n_rules = l.rules ? cjx_rules_registry_count(l.rules) : 0;
        cjx_service_set_rules(d->service, l.rules);
        l.rules = NULL;
        daemon_exchange_reload(d, &l.tls);
        daemon_metrics_reload(d, l.conf, &l.tls);
        cjx_rpc_server_reload(d->server, l.conf, &l.tls);
        l.conf = NULL;
        daemon_loaded_free(&l);
        cjx_info("daemon",
                 "configuration, certificates and %zu rule set(s) "
                 "reloaded",
                 n_rules);
        audit_admin(d, "cjxd/reload", 0, "configuration reloaded");
    }
    sd_notify(0, "READY=1");
}

void
daemon_stop(struct cjx_daemon *d)
{
    sd_notify(0, "STOPPING=1");
    cjx_info("daemon", "stopping: draining calls");
    /* A scrape reads the worker and the store: it stops before them. */
    daemon_metrics_stop_listening(d);
    /* Nothing new is sent or decided while the rest drains; GetStatus
     * stops listing the worker's peers first. */
    cjx_service_set_peer_source(d->service, NULL, NULL);
    daemon_exchange_stop(d);
    /* Follow streams end first (they would otherwise never finish), then the
     * server drains, and only then does the store close: a call still
     * waiting for its write must get its answer. */
    cjx_service_shutdown(d->service);
    cjx_rpc_server_shutdown(d->server);
    cjx_rpc_server_free(d->server);
    daemon_metrics_free(d);
    /* After the last call's entry; closing the store commits it. */
    audit_admin(d, "cjxd/stop", 0, "stopped by signal");
    cjx_service_free(d->service); /* unhooks from the store */
    cjx_store_close(d->store);
    free(d->handlers);
    memset(d, 0, sizeof(*d));
    cjx_info("daemon", "stopped");
}
