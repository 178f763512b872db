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
    memset(tls, 0, sizeof(*tls));
}

void
daemon_loaded_free(struct daemon_loaded *l)
{
    tls_free(&l->tls);
    cjx_conf_unref(l->conf);
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

/* Reads the certificates and key into tls and the CRLs into conf. */
static int
load_tls(struct cjx_conf *conf, struct cjx_rpc_tls *tls, struct cjx_errbuf *eb)
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
    conf->crls = crls;
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
        err = cjx_rules_registry_load_dir(
            l.conf->rules_dir, cjx_evaluate_types(), &l.conf->rules, eb);
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
    /* The daemon's reference: every module takes its own from it. */
    const struct cjx_conf *conf = d->conf = l->conf;
    const struct cjx_rpc_tls *tls = &l->tls;
    l->conf = NULL;
    char db[4096];
    int err = make_state_dir(conf->state_dir, eb);
    if (err != 0)
        goto no_store;
    snprintf(db, sizeof(db), "%s/cjxd.db", conf->state_dir);
    snprintf(d->agency, sizeof(d->agency), "%s", conf->agency);
    if ((err = open_store(conf, db, tls, &d->store, eb)) != 0)
        goto no_store;
    if ((err = cjx_service_new(d->store, &d->service)) != 0) {
        cjx_errf(eb, err, "cannot start the services");
        goto no_service;
    }
    cjx_service_set_conf(d->service, conf);
    size_t n = cjx_service_handler_count();
    d->handlers = calloc(n, sizeof(*d->handlers));
    if (d->handlers == NULL) {
        err = cjx_errf(eb, CJX_ENOMEM, "out of memory");
        goto no_handlers;
    }
    for (size_t i = 0; i < n; i++)
        d->handlers[i] = cjx_service_handler(i);
    if ((err = daemon_metrics_new(d, conf, tls, eb)) != 0 ||
        (conf->metrics_listen != NULL &&
         (err = daemon_metrics_listen(d, conf->metrics_listen,
                                      conf->metrics_tls ? tls : NULL, eb)) !=
             0))
        goto no_server;
    struct cjx_rpc_server_options opts = {
        .listen = conf->listen,
        .local_socket = conf->local_socket[0] ? conf->local_socket : NULL,
        .handlers = d->handlers,
        .n_handlers = n,
        .service = d->service,
        .metrics = daemon_metrics_set(d),
    };
    if ((err = cjx_rpc_server_start(&opts, conf, tls, &d->server, eb)) != 0) {
        audit_admin(d, "cjxd/start", err, eb->msg);
        goto no_server;
    }
    if ((err = daemon_exchange_start(d, tls, eb)) != 0) {
        audit_admin(d, "cjxd/start", err, eb->msg);
        cjx_rpc_server_shutdown(d->server);
        cjx_rpc_server_free(d->server);
        goto no_server;
    }
    daemon_metrics_watch_delivery(d);
    char started[64];
    snprintf(started, sizeof(started), "serving mTLS on port %d",
             cjx_rpc_server_port(d->server));
    audit_admin(d, "cjxd/start", 0, started);
    cjx_info("daemon", "agency %s serving mTLS on %s (port %d), database %s",
             conf->agency, conf->listen, cjx_rpc_server_port(d->server), db);
    return 0;

no_server:
    daemon_metrics_free(d);
    free(d->handlers);
no_handlers:
    cjx_service_free(d->service);
no_service:
    cjx_store_close(d->store);
no_store:
    cjx_conf_unref(d->conf);
    d->conf = NULL;
    return err;
}

/* A reload prepared: the configuration, loaded once, and what each module
 * built from it. Everything that can fail is done; nothing is in force. */
struct reload {
    struct daemon_loaded loaded;
    struct cjx_rpc_server_reload *server;
    struct cjx_delivery_reload *delivery;
    struct daemon_metrics_reload *metrics;
};

static void
reload_cancel(struct reload *r)
{
    cjx_rpc_server_cancel_reload(r->server);
    daemon_exchange_cancel_reload(r->delivery);
    daemon_metrics_cancel_reload(r->metrics);
    daemon_loaded_free(&r->loaded);
}

/* The store builds its checkpoint signer from the key and certificate when
 * the reload is committed; building one now makes sure it can. */
static int
check_audit_signer(const struct cjx_rpc_tls *tls, struct cjx_errbuf *eb)
{
    struct cjx_audit_signer *signer;
    int err = cjx_audit_signer_new(tls->key_pem, tls->cert_pem, &signer, eb);
    if (err == 0)
        cjx_audit_signer_free(signer);
    return err;
}

/* Loads the file once and prepares every module's part; on error nothing
 * is left prepared and eb says why. */
static int
reload_prepare(struct cjx_daemon *d, struct reload *r, struct cjx_errbuf *eb)
{
    memset(r, 0, sizeof(*r));
    int err = daemon_load(d->conf_path, &r->loaded, eb);
    if (err != 0)
        return err;
    const struct cjx_conf *conf = r->loaded.conf;
    const struct cjx_rpc_tls *tls = &r->loaded.tls;
    if (strcmp(conf->agency, d->agency) != 0)
        /* The store and its audit log belong to one agency. */
        err = cjx_errf(eb, CJX_EINVAL,
                       "agency changed from %s to %s: that needs a restart",
                       d->agency, conf->agency);
    if (err == 0)
        err = check_audit_signer(tls, eb);
    if (err == 0)
        err =
            cjx_rpc_server_prepare_reload(d->server, conf, tls, &r->server, eb);
    if (err == 0)
        err = daemon_exchange_prepare_reload(d, conf, tls, &r->delivery, eb);
    if (err == 0)
        err = daemon_metrics_prepare_reload(d, conf, tls, &r->metrics, eb);
    if (err == 0 && d->reload_hook != NULL)
        err = d->reload_hook(d->reload_hook_arg, eb);
    if (err != 0)
        reload_cancel(r);
    return err;
}

/* Puts the prepared configuration in force in every module; none of these
 * steps can fail, so no module is left on the old configuration. */
static void
reload_commit(struct cjx_daemon *d, struct reload *r)
{
    const struct cjx_conf *conf = r->loaded.conf;
    const struct cjx_rpc_tls *tls = &r->loaded.tls;
    struct cjx_errbuf eb;
    /* Checkpoints from now on are signed with the renewed key. The signer
     * was built once already; only a lack of memory can refuse it now. */
    if (cjx_store_set_audit_signer(d->store, tls->key_pem, tls->cert_pem,
                                   &eb) != 0)
        cjx_error("daemon", "audit checkpoints keep the old key: %s", eb.msg);
    daemon_apply_logging(conf);
    cjx_service_set_conf(d->service, conf);
    daemon_exchange_commit_reload(d, conf, r->delivery);
    daemon_metrics_commit_reload(d, r->metrics);
    cjx_rpc_server_commit_reload(d->server, r->server);
    r->delivery = NULL;
    r->metrics = NULL;
    r->server = NULL;
    const struct cjx_conf *old = d->conf;
    d->conf = conf; /* the loaded reference becomes the daemon's */
    r->loaded.conf = NULL;
    cjx_conf_unref(old);
    daemon_loaded_free(&r->loaded);
}

int
daemon_reload(struct cjx_daemon *d)
{
    struct cjx_errbuf eb;
    struct reload r;
    sd_notify(0, "RELOADING=1");
    int err = reload_prepare(d, &r, &eb);
    if (err != 0) {
        cjx_error("daemon",
                  "reload refused, keeping the running configuration: %s",
                  eb.msg);
        audit_admin(d, "cjxd/reload", err, eb.msg);
    } else {
        size_t n_rules = r.loaded.conf->rules
                             ? cjx_rules_registry_count(r.loaded.conf->rules)
                             : 0;
        uint64_t generation = r.loaded.conf->generation;
        reload_commit(d, &r);
        cjx_info("daemon",
                 "configuration, certificates and %zu rule set(s) "
                 "reloaded (generation %llu)",
                 n_rules, (unsigned long long)generation);
        audit_admin(d, "cjxd/reload", 0, "configuration reloaded");
    }
    sd_notify(0, "READY=1");
    return err;
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
    cjx_conf_unref(d->conf);
    memset(d, 0, sizeof(*d));
    cjx_info("daemon", "stopped");
}
