/* The service table: which handler answers which method, and who may call it. */
#include "service_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/audit.h"
#include "cjx/clock.h"
#include "cjx/log.h"
#include "cjx/rules.h"
#include "health.h"

/* The store's commit hook: wakes the parked WatchRecords streams. */
static void
on_record_commit(void *arg, int64_t last_seq)
{
    struct cjx_service *svc = arg;
    (void)last_seq;
    follow_hub_wake(&svc->hub);
}

/* The store's audit hook: wakes the parked audit tails. */
static void
on_audit_commit(void *arg, int64_t last_seq)
{
    struct cjx_service *svc = arg;
    (void)last_seq;
    follow_hub_wake(&svc->audit_hub);
}

int
cjx_service_new(struct cjx_store *store, struct cjx_service **out)
{
    struct cjx_service *svc = calloc(1, sizeof(*svc));
    if (svc == NULL)
        return CJX_ENOMEM;
    svc->store = store;
    svc->health = health_new();
    if (svc->health == NULL) {
        free(svc);
        return CJX_ENOMEM;
    }
    follow_hub_init(&svc->hub);
    follow_hub_init(&svc->audit_hub);
    atomic_init(&svc->audit_closing, 0);
    cjx_conf_slot_init(&svc->conf, NULL);
    pthread_mutex_init(&svc->peers_mu, NULL);
    svc->version = CJX_VERSION;
    svc->started_us = cjx_clock_now_us();
    cjx_store_set_commit_hook(store, on_record_commit, svc);
    cjx_store_set_audit_hook(store, on_audit_commit, svc);
    cjx_store_set_outcome_hook(store, health_on_store_outcome, svc->health);
    int err = cases_service_init(svc);
    if (err != 0) {
        cjx_service_free(svc);
        return err;
    }
    *out = svc;
    return 0;
}

void
cjx_service_shutdown(struct cjx_service *svc)
{
    /* First, so that health watchers learn of the drain before the
     * streams they depend on end. */
    health_drain(svc->health);
    follow_hub_close(&svc->hub);
    cases_service_shutdown(svc);
    atomic_store(&svc->audit_closing, 1);
    follow_hub_close(&svc->audit_hub);
}

void
cjx_service_free(struct cjx_service *svc)
{
    if (svc == NULL)
        return;
    cjx_store_set_commit_hook(svc->store, NULL, NULL);
    cjx_store_set_audit_hook(svc->store, NULL, NULL);
    cjx_store_set_outcome_hook(svc->store, NULL, NULL);
    cases_service_fini(svc);
    health_free(svc->health);
    follow_hub_fini(&svc->hub);
    follow_hub_fini(&svc->audit_hub);
    cjx_conf_slot_fini(&svc->conf);
    pthread_mutex_destroy(&svc->peers_mu);
    free(svc);
}

void
cjx_service_set_conf(struct cjx_service *svc, const struct cjx_conf *conf)
{
    cjx_conf_slot_set(&svc->conf, conf);
}

const struct cjx_conf *
cjx_service_conf(struct cjx_service *svc)
{
    return cjx_conf_slot_get(&svc->conf);
}

/* Every service's handlers, in a stable order. */
static const struct {
    const struct cjx_handler *handlers;
    const size_t *count;
} handler_tables[] = {
    {cjx_records_handlers, &cjx_records_handler_count},
    {cjx_rules_handlers, &cjx_rules_handler_count},
    {cjx_audit_handlers, &cjx_audit_handler_count},
    {cjx_cases_handlers, &cjx_cases_handler_count},
    {cjx_health_handlers, &cjx_health_handler_count},
    {cjx_reflection_handlers, &cjx_reflection_handler_count},
    {cjx_status_handlers, &cjx_status_handler_count},
};

size_t
cjx_service_handler_count(void)
{
    size_t n = 0;
    for (size_t t = 0; t < sizeof(handler_tables) / sizeof(handler_tables[0]);
         t++)
        n += *handler_tables[t].count;
    return n;
}

const struct cjx_handler *
cjx_service_handler(size_t i)
{
    for (size_t t = 0; t < sizeof(handler_tables) / sizeof(handler_tables[0]);
         t++) {
        if (i < *handler_tables[t].count)
            return &handler_tables[t].handlers[i];
        i -= *handler_tables[t].count;
    }
    return NULL;
}

const struct cjx_handler *
cjx_service_find(const char *path)
{
    for (size_t i = 0; i < cjx_service_handler_count(); i++) {
        const struct cjx_handler *h = cjx_service_handler(i);
        if (strcmp(h->method->path, path) == 0)
            return h;
    }
    return NULL;
}

enum cjx_access
cjx_service_authorize(const struct cjx_call *c)
{
    const char *path = c->method->path;
    if (c->caller.local)
        return cjx_authz_local(path) ? CJX_ACCESS_ALLOW : CJX_ACCESS_DENY;
    if (c->caller.agency == NULL)
        return CJX_ACCESS_DENY;
    return cjx_authz_remote(c->caller.agency->role, path);
}

/* ---- the audit events of calls ---------------------------------------- */

void
service_call_event(const struct cjx_call *c, struct cjx_audit_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = CJX_AUDIT_CALL;
    ev->time_us = cjx_clock_now_us();
    ev->agency_ori = c->caller.agency != NULL ? c->caller.agency->ori : "";
    ev->cert_fingerprint = c->caller.fingerprint;
    ev->peer = c->caller.peer;
    ev->method = c->method != NULL ? c->method->path : "";
    ev->request_id = c->audit.request_id;
    ev->cii = c->audit.cii;
    ev->court_case_number = c->audit.court_case_number;
    ev->count_number = c->audit.count_number;
    ev->bytes_in = c->audit.bytes_in;
}

void
cjx_service_audit_call(struct cjx_service *svc, const struct cjx_call *c,
                       const char *method_path, int status_code,
                       const char *status_message, int64_t bytes_out)
{
    if (svc == NULL || c->audit.recorded)
        return;
    struct cjx_audit_event ev;
    service_call_event(c, &ev);
    if (method_path != NULL)
        ev.method = method_path;
    ev.outcome_code = status_code;
    /* What the caller was told, unless the log must know more. */
    if (c->audit.hidden_reason != NULL)
        status_message = c->audit.hidden_reason;
    ev.outcome_message = status_message;
    char message[CJX_AUDIT_TEXT_MAX + 1];
    if (c->audit.note != NULL) {
        /* A batch answered OK still refused some messages; one that failed
         * as a whole says why first. */
        if (status_message == NULL || status_message[0] == '\0')
            ev.outcome_message = c->audit.note;
        else if (snprintf(message, sizeof(message), "%s; %s", status_message,
                          c->audit.note) >= 0)
            ev.outcome_message = message;
    }
    ev.bytes_out = bytes_out;
    /* Nobody waits for it: the store may commit it with others a moment
     * later, and logs it if it is lost. */
    int err = cjx_store_append_audit(svc->store, &ev, NULL, NULL);
    if (err != 0)
        cjx_error("audit", "cannot record %s from %s: %s", ev.method, ev.peer,
                  cjx_strerror(err));
}
