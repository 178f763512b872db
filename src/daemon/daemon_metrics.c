/* The daemon's metrics: the set the transport and the store feed, the
 * listener, and the gauges read at scrape time from the store, the delivery
 * worker and the TLS files. */
#include "daemon.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "cjx/delivery.h"
#include "cjx/log.h"
#include "cjx/metrics_http.h"
#include "cjx/store_cases.h"
#include "cjx/tls.h"
#include "cjx/v1/audit.pb-c.h"
#include "cjx/v1/exchange.pb-c.h"

struct daemon_metrics {
    struct cjx_daemon *d;
    struct cjx_metrics *metrics;
    struct cjx_metrics_http *http;
    /* The delivery worker, once it runs: the listener starts before it. */
    _Atomic(struct cjx_delivery *) delivery;
    const char **paths; /* the handlers' method paths, in their order */
    /* What the expiry gauges read, replaced on reload: the PEM texts in
     * force and the configuration naming the CRL directory (a
     * reference). */
    pthread_mutex_t mu;
    char *ca_pem, *cert_pem;
    const struct cjx_conf *conf;
};

/* ---- scrape-time gauges -------------------------------------------------- */

struct scrape {
    struct daemon_metrics *m;
    struct cjx_metrics_text *t;
    int64_t now_us;
    const char *kind; /* of the certificates being visited */
};

static int
peer_up(void *arg, const char *ori, const char *endpoint, int failed_calls)
{
    (void)endpoint;
    struct scrape *s = arg;
    const char *labels[] = {"peer", ori, NULL};
    cjx_metrics_text_sample(s->t, "cjx_peer_up", labels, failed_calls == 0);
    return 0;
}

static int
peer_failures(void *arg, const char *ori, const char *endpoint,
              int failed_calls)
{
    (void)endpoint;
    struct scrape *s = arg;
    const char *labels[] = {"peer", ori, NULL};
    cjx_metrics_text_sample(s->t, "cjx_peer_failed_calls", labels,
                            failed_calls);
    return 0;
}

/* The outbox counts of every peer, kept for three families. */
struct outbox_rows {
    struct cjx_outbox_count rows[256];
    char names[256][16];
    size_t n;
};

static int
keep_outbox_count(void *arg, const struct cjx_outbox_count *c)
{
    struct outbox_rows *o = arg;
    if (o->n == sizeof(o->rows) / sizeof(o->rows[0]))
        return 1;
    o->rows[o->n] = *c;
    snprintf(o->names[o->n], sizeof(o->names[0]), "%s", c->destination_ori);
    o->rows[o->n].destination_ori = o->names[o->n];
    o->n++;
    return 0;
}

static int
write_outbox(struct scrape *s)
{
    struct outbox_rows *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return CJX_ENOMEM;
    struct cjx_errbuf eb;
    int err =
        cjx_store_outbox_counts(s->m->d->store, 0, keep_outbox_count, o, &eb);
    if (err != 0) {
        cjx_warn("metrics", "outbox: %s", eb.msg);
        free(o);
        return err;
    }
    cjx_metrics_text_family(s->t, "cjx_outbox_pending", "gauge",
                            "Hand-offs waiting for delivery to a peer.");
    for (size_t i = 0; i < o->n; i++) {
        const char *labels[] = {"peer", o->rows[i].destination_ori, NULL};
        cjx_metrics_text_sample(s->t, "cjx_outbox_pending", labels,
                                (double)o->rows[i].pending);
    }
    cjx_metrics_text_family(s->t, "cjx_outbox_oldest_pending_age_seconds",
                            "gauge",
                            "Age of the oldest hand-off waiting for a peer.");
    for (size_t i = 0; i < o->n; i++) {
        if (o->rows[i].pending == 0)
            continue;
        const char *labels[] = {"peer", o->rows[i].destination_ori, NULL};
        cjx_metrics_text_sample(
            s->t, "cjx_outbox_oldest_pending_age_seconds", labels,
            (double)(s->now_us - o->rows[i].oldest_pending_us) / 1e6);
    }
    cjx_metrics_text_family(s->t, "cjx_outbox_parked", "gauge",
                            "Hand-offs a peer refused for good, waiting for "
                            "an operator.");
    for (size_t i = 0; i < o->n; i++) {
        const char *labels[] = {"peer", o->rows[i].destination_ori, NULL};
        cjx_metrics_text_sample(s->t, "cjx_outbox_parked", labels,
                                (double)o->rows[i].parked);
    }
    free(o);
    return 0;
}

static const char *
state_name(int state)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &cjx__v1__case_state__descriptor, state);
    return v != NULL ? v->name : "CASE_STATE_UNSPECIFIED";
}

static int
case_count(void *arg, const struct cjx_case_count *c)
{
    struct scrape *s = arg;
    const char *labels[] = {"county", c->county, "state", state_name(c->state),
                            NULL};
    cjx_metrics_text_sample(s->t, "cjx_cases", labels, (double)c->cases);
    return 0;
}

static int
case_overdue(void *arg, const struct cjx_case_count *c)
{
    struct scrape *s = arg;
    const char *labels[] = {"county", c->county, "state", state_name(c->state),
                            NULL};
    cjx_metrics_text_sample(s->t, "cjx_cases_overdue", labels,
                            (double)c->overdue);
    return 0;
}

static int
write_cases(struct scrape *s)
{
    struct cjx_errbuf eb;
    cjx_metrics_text_family(s->t, "cjx_cases", "gauge",
                            "Relief cases by county and state.");
    int err =
        cjx_store_case_counts(s->m->d->store, s->now_us, case_count, s, &eb);
    if (err == 0) {
        cjx_metrics_text_family(s->t, "cjx_cases_overdue", "gauge",
                                "Cases past the deadline of their state.");
        err = cjx_store_case_counts(s->m->d->store, s->now_us, case_overdue, s,
                                    &eb);
    }
    if (err != 0)
        cjx_warn("metrics", "cases: %s", eb.msg);
    return err;
}

static int
last_checkpoint(void *arg, const struct cjx_stored_audit *a)
{
    int64_t *time_us = arg;
    Cjx__V1__AuditCheckpoint *cp =
        cjx__v1__audit_checkpoint__unpack(NULL, a->body_len, a->body);
    if (cp != NULL) {
        *time_us = cp->time_unix_us;
        cjx__v1__audit_checkpoint__free_unpacked(cp, NULL);
    }
    return 1;
}

static int
write_audit(struct scrape *s)
{
    cjx_metrics_text_family(s->t, "cjx_audit_entries", "gauge",
                            "Entries in the audit log (the newest seq).");
    cjx_metrics_text_sample(s->t, "cjx_audit_entries", NULL,
                            (double)cjx_store_last_audit_seq(s->m->d->store));
    int64_t time_us = 0;
    struct cjx_errbuf eb;
    int err = cjx_store_read_last_audit_checkpoint(
        s->m->d->store, last_checkpoint, &time_us, &eb);
    if (err != 0) {
        cjx_warn("metrics", "audit: %s", eb.msg);
        return err;
    }
    cjx_metrics_text_family(s->t, "cjx_audit_last_checkpoint_age_seconds",
                            "gauge",
                            "Time since the newest signed audit checkpoint.");
    if (time_us > 0)
        cjx_metrics_text_sample(s->t, "cjx_audit_last_checkpoint_age_seconds",
                                NULL, (double)(s->now_us - time_us) / 1e6);
    return 0;
}

static int
expiry(void *arg, const char *subject, int64_t unix_s)
{
    struct scrape *s = arg;
    const char *labels[] = {"kind", s->kind, "subject", subject, NULL};
    cjx_metrics_text_sample(s->t, "cjx_tls_expiry_seconds", labels,
                            (double)unix_s - (double)s->now_us / 1e6);
    /* The daemon's own certificate is the leaf; the rest of its chain is
     * not what an operator renews. */
    return strcmp(s->kind, "cert") == 0;
}

static void
write_expiries(struct scrape *s)
{
    struct daemon_metrics *m = s->m;
    cjx_metrics_text_family(s->t, "cjx_tls_expiry_seconds", "gauge",
                            "Seconds until the daemon's certificate, each CA "
                            "certificate and each CRL expire (negative: "
                            "expired).");
    pthread_mutex_lock(&m->mu);
    s->kind = "cert";
    cjx_tls_cert_expiries(m->cert_pem, strlen(m->cert_pem), expiry, s);
    s->kind = "ca";
    cjx_tls_cert_expiries(m->ca_pem, strlen(m->ca_pem), expiry, s);
    s->kind = "crl";
    cjx_tls_crl_dir_expiries(m->conf->tls.crl_dir, expiry, s);
    pthread_mutex_unlock(&m->mu);
}

static int
gauges(void *arg, struct cjx_metrics_text *t)
{
    struct scrape s = {.m = arg, .t = t, .now_us = cjx_clock_now_us()};
    cjx_metrics_text_family(t, "cjx_peer_up", "gauge",
                            "1 if the last delivery call to the peer reached "
                            "it (or none was needed), else 0.");
    struct cjx_delivery *delivery = atomic_load(&s.m->delivery);
    cjx_delivery_peers(delivery, peer_up, &s);
    cjx_metrics_text_family(t, "cjx_peer_failed_calls", "gauge",
                            "Delivery calls to the peer that failed in a row.");
    cjx_delivery_peers(delivery, peer_failures, &s);
    int err = write_outbox(&s);
    if (err == 0)
        err = write_cases(&s);
    if (err == 0)
        err = write_audit(&s);
    if (err == 0)
        write_expiries(&s);
    return err;
}

/* ---- life ---------------------------------------------------------------- */

static void
visit_peers(void *src, cjx_service_peer_fn visit, void *arg)
{
    cjx_delivery_peers(src, visit, arg);
}

static void
store_committed(void *arg, int64_t commit_us, int writes)
{
    cjx_metrics_store_commit(arg, commit_us, writes);
}

/* What the expiry gauges will read after a reload, copied beforehand. */
struct daemon_metrics_reload {
    char *ca_pem, *cert_pem;
    const struct cjx_conf *conf;
};

void
daemon_metrics_cancel_reload(struct daemon_metrics_reload *r)
{
    if (r == NULL)
        return;
    free(r->ca_pem);
    free(r->cert_pem);
    cjx_conf_unref(r->conf);
    free(r);
}

static int
copy_tls(const struct cjx_conf *conf, const struct cjx_rpc_tls *tls,
         struct daemon_metrics_reload **out, struct cjx_errbuf *eb)
{
    struct daemon_metrics_reload *r = calloc(1, sizeof(*r));
    if (r != NULL) {
        r->ca_pem = strdup(tls->ca_pem);
        r->cert_pem = strdup(tls->cert_pem);
        r->conf = cjx_conf_ref(conf);
    }
    if (r == NULL || r->ca_pem == NULL || r->cert_pem == NULL) {
        daemon_metrics_cancel_reload(r);
        return cjx_errf(eb, CJX_ENOMEM, "metrics: out of memory");
    }
    *out = r;
    return 0;
}

/* Puts the copies in place for the next scrape (taking r over). */
static void
install_tls(struct daemon_metrics *m, struct daemon_metrics_reload *r)
{
    pthread_mutex_lock(&m->mu);
    char *ca = m->ca_pem, *cert = m->cert_pem;
    const struct cjx_conf *conf = m->conf;
    m->ca_pem = r->ca_pem;
    m->cert_pem = r->cert_pem;
    m->conf = r->conf;
    pthread_mutex_unlock(&m->mu);
    *r = (struct daemon_metrics_reload){ca, cert, conf};
    daemon_metrics_cancel_reload(r);
}

int
daemon_metrics_new(struct cjx_daemon *d, const struct cjx_conf *conf,
                   const struct cjx_rpc_tls *tls, struct cjx_errbuf *eb)
{
    if (conf->metrics_listen == NULL)
        return 0;
    struct daemon_metrics *m = calloc(1, sizeof(*m));
    size_t n = cjx_service_handler_count();
    if (m != NULL)
        m->paths = calloc(n, sizeof(*m->paths));
    if (m == NULL || m->paths == NULL) {
        free(m);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        m->paths[i] = d->handlers[i]->method->path;
    m->d = d;
    pthread_mutex_init(&m->mu, NULL);
    struct daemon_metrics_reload *files = NULL;
    if (cjx_metrics_new(m->paths, n, &m->metrics) != 0 ||
        copy_tls(conf, tls, &files, eb) != 0) {
        d->metrics = m;
        daemon_metrics_free(d);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    install_tls(m, files);
    d->metrics = m;
    return 0;
}

struct cjx_metrics *
daemon_metrics_set(struct cjx_daemon *d)
{
    return d->metrics != NULL ? d->metrics->metrics : NULL;
}

int
daemon_metrics_listen(struct cjx_daemon *d, const char *listen,
                      const struct cjx_rpc_tls *tls, struct cjx_errbuf *eb)
{
    struct daemon_metrics *m = d->metrics;
    if (m == NULL)
        return 0;
    struct cjx_metrics_tls mtls = {
        .ca_pem = tls != NULL ? tls->ca_pem : NULL,
        .cert_pem = tls != NULL ? tls->cert_pem : NULL,
        .key_pem = tls != NULL ? tls->key_pem : NULL};
    int err = cjx_metrics_http_start(listen, tls != NULL ? &mtls : NULL,
                                     m->metrics, gauges, m, &m->http, eb);
    if (err != 0)
        return err;
    cjx_store_set_stats_hook(d->store, store_committed, m->metrics);
    cjx_info("metrics", "OpenMetrics on %s://%s/metrics (port %d)",
             tls != NULL ? "https (client certificates required)" : "http",
             listen, cjx_metrics_http_port(m->http));
    return 0;
}

void
daemon_metrics_watch_delivery(struct cjx_daemon *d)
{
    /* GetStatus lists the same peers. */
    cjx_service_set_peer_source(d->service, visit_peers, d->delivery);
    if (d->metrics != NULL)
        atomic_store(&d->metrics->delivery, d->delivery);
}

int
daemon_metrics_prepare_reload(struct cjx_daemon *d, const struct cjx_conf *conf,
                              const struct cjx_rpc_tls *tls,
                              struct daemon_metrics_reload **out,
                              struct cjx_errbuf *eb)
{
    *out = NULL;
    return d->metrics != NULL ? copy_tls(conf, tls, out, eb) : 0;
}

void
daemon_metrics_commit_reload(struct cjx_daemon *d,
                             struct daemon_metrics_reload *r)
{
    if (d->metrics != NULL && r != NULL)
        install_tls(d->metrics, r);
    else
        daemon_metrics_cancel_reload(r);
}

const struct cjx_conf *
daemon_metrics_conf(struct cjx_daemon *d)
{
    struct daemon_metrics *m = d->metrics;
    if (m == NULL)
        return NULL;
    pthread_mutex_lock(&m->mu);
    const struct cjx_conf *conf = cjx_conf_ref(m->conf);
    pthread_mutex_unlock(&m->mu);
    return conf;
}

void
daemon_metrics_stop_listening(struct cjx_daemon *d)
{
    struct daemon_metrics *m = d->metrics;
    if (m == NULL || m->http == NULL)
        return;
    cjx_metrics_http_stop(m->http);
    m->http = NULL;
    atomic_store(&m->delivery, NULL);
    cjx_store_set_stats_hook(d->store, NULL, NULL);
}

void
daemon_metrics_free(struct cjx_daemon *d)
{
    struct daemon_metrics *m = d->metrics;
    if (m == NULL)
        return;
    daemon_metrics_stop_listening(d);
    cjx_metrics_free(m->metrics);
    pthread_mutex_destroy(&m->mu);
    free(m->ca_pem);
    free(m->cert_pem);
    cjx_conf_unref(m->conf);
    free(m->paths);
    free(m);
    d->metrics = NULL;
}
