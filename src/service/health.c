/* grpc.health.v1.Health/Check and Watch, for the whole server (the empty
 * name) and every service cjxd serves (those of its handler table). */
#include "health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/log.h"
#include "grpc/health/v1/health.methods.h"
#include "service_internal.h"

#define STATUS_SERVING \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define STATUS_NOT_SERVING \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
#define STATUS_SERVICE_UNKNOWN \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN

/* One open Watch stream. */
struct health_watch {
    struct cjx_call *call;
    struct health *health;
    int known;   /* the service asked about is served */
    int sent;    /* the status sent last, -1 before the first */
    int sending; /* a send is in flight */
    int over;    /* the call ended: nothing more is sent */
    struct health_watch *next, *prev;
};

struct health {
    pthread_mutex_t mu; /* guards everything below and every watch */
    int draining;
    int store_failed;
    struct health_watch *watches;
};

struct health *
health_new(void)
{
    struct health *h = calloc(1, sizeof(*h));
    if (h != NULL)
        pthread_mutex_init(&h->mu, NULL);
    return h;
}

void
health_free(struct health *h)
{
    if (h == NULL)
        return;
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* Whether cjxd serves a service of this full name ("" is the server). */
static int
service_is_served(const char *name)
{
    if (name[0] == '\0')
        return 1;
    size_t len = strlen(name);
    for (size_t i = 0; i < cjx_service_handler_count(); i++) {
        const char *path = cjx_service_handler(i)->method->path;
        if (strncmp(path + 1, name, len) == 0 && path[1 + len] == '/')
            return 1;
    }
    return 0;
}

static int
status_locked(const struct health *h, int known)
{
    if (!known)
        return STATUS_SERVICE_UNKNOWN;
    return h->draining || h->store_failed ? STATUS_NOT_SERVING : STATUS_SERVING;
}

static void
health_check(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Grpc__Health__V1__HealthCheckRequest *req =
        (const Grpc__Health__V1__HealthCheckRequest *)msg;
    if (!service_is_served(req->service)) {
        char detail[300];
        snprintf(detail, sizeof(detail), "service: %.200s is not served here",
                 req->service);
        c->ops->fail(c, CJX_ENOTFOUND, detail);
        return;
    }
    struct health *h = c->service->health;
    Grpc__Health__V1__HealthCheckResponse resp =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    pthread_mutex_lock(&h->mu);
    resp.status = status_locked(h, 1);
    pthread_mutex_unlock(&h->mu);
    c->ops->reply(c, &resp.base);
}

/* Takes an ended watch off the list. Called with h->mu held, once, when
 * the watch is over and has no send in flight; the caller then releases
 * the call (watch_release). */
static void
watch_unlink_locked(struct health_watch *w)
{
    struct health *h = w->health;
    /* Under the lock, so that a concurrent on_cancel finds no watch. */
    w->call->state = NULL;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        h->watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
}

static void
watch_release(struct health_watch *w)
{
    struct cjx_call *c = w->call;
    free(w);
    c->ops->unref(c);
}

/* Moves a watch on: sends the current status if it has not been sent, or
 * ends the stream once a draining server's NOT_SERVING has gone out.
 * Called with h->mu held and no send in flight. Returns 1 when the watch is
 * over, unlinked, and must be released by the caller after unlocking. */
static int
watch_advance_locked(struct health_watch *w)
{
    struct health *h = w->health;
    struct cjx_call *c = w->call;
    if (!w->over) {
        int status = status_locked(h, w->known);
        if (status != w->sent) {
            Grpc__Health__V1__HealthCheckResponse resp =
                GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
            resp.status = status;
            w->sent = status;
            w->sending = 1;
            if (c->ops->send(c, &resp.base) == 0)
                return 0;
            w->sending = 0;
            w->over = 1; /* the call is already over */
        } else if (h->draining) {
            w->over = 1;
            c->ops->fail(c, CJX_ECLOSED,
                         "server shutting down; watch another instance or "
                         "retry later");
        } else {
            return 0;
        }
    }
    watch_unlink_locked(w);
    return 1;
}

/* Sends the current status to every watch that can take it now; the others
 * get it when their send completes. */
static void
watches_advance_locked(struct health *h, struct health_watch **ended)
{
    struct health_watch *w = h->watches;
    while (w != NULL) {
        struct health_watch *next = w->next;
        if (!w->sending && watch_advance_locked(w)) {
            w->next = *ended;
            *ended = w;
        }
        w = next;
    }
}

static void
release_all(struct health_watch *ended)
{
    while (ended != NULL) {
        struct health_watch *next = ended->next;
        watch_release(ended);
        ended = next;
    }
}

static void
health_watch_start(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Grpc__Health__V1__HealthCheckRequest *req =
        (const Grpc__Health__V1__HealthCheckRequest *)msg;
    struct health *h = c->service->health;
    struct health_watch *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    w->call = c;
    w->health = h;
    /* The services never change while cjxd runs: an unknown one is told
     * SERVICE_UNKNOWN and the stream stays open, as the standard asks. */
    w->known = service_is_served(req->service);
    w->sent = -1;
    c->ops->ref(c); /* dropped by watch_release */
    pthread_mutex_lock(&h->mu);
    c->state = w;
    w->next = h->watches;
    if (h->watches != NULL)
        h->watches->prev = w;
    h->watches = w;
    int ended = watch_advance_locked(w);
    pthread_mutex_unlock(&h->mu);
    if (ended)
        watch_release(w);
}

static void
health_watch_on_sent(struct cjx_call *c, int ok)
{
    struct health_watch *w = c->state;
    struct health *h = w->health;
    pthread_mutex_lock(&h->mu);
    w->sending = 0;
    if (!ok)
        w->over = 1; /* the client is gone; the transport ends the call */
    int ended = watch_advance_locked(w);
    pthread_mutex_unlock(&h->mu);
    if (ended)
        watch_release(w);
}

static void
health_watch_on_cancel(struct cjx_call *c)
{
    struct health *h = c->service->health;
    pthread_mutex_lock(&h->mu);
    /* Read under the lock: a failed send may end the watch meanwhile. */
    struct health_watch *w = c->state;
    int ended = 0;
    if (w != NULL) {
        w->over = 1;
        ended = !w->sending && watch_advance_locked(w);
    }
    pthread_mutex_unlock(&h->mu);
    if (ended)
        watch_release(w);
}

void
health_on_store_outcome(void *arg, int committed, const char *detail)
{
    struct health *h = arg;
    struct health_watch *ended = NULL;
    pthread_mutex_lock(&h->mu);
    int was_failed = h->store_failed;
    h->store_failed = !committed;
    if (was_failed != h->store_failed)
        watches_advance_locked(h, &ended);
    pthread_mutex_unlock(&h->mu);
    if (!was_failed && !committed)
        cjx_error("health", "NOT_SERVING: the store cannot commit: %s",
                  detail != NULL ? detail : "");
    else if (was_failed && committed)
        cjx_info("health", "SERVING: the store commits again");
    release_all(ended);
}

void
health_drain(struct health *h)
{
    struct health_watch *ended = NULL;
    pthread_mutex_lock(&h->mu);
    h->draining = 1;
    watches_advance_locked(h, &ended);
    pthread_mutex_unlock(&h->mu);
    release_all(ended);
}

const struct cjx_handler cjx_health_handlers[] = {
    {.method = &grpc__health__v1__health__methods[HEALTH_CHECK],
     .unary = health_check},
    {.method = &grpc__health__v1__health__methods[HEALTH_WATCH],
     .server_stream = health_watch_start,
     .on_sent = health_watch_on_sent,
     .on_cancel = health_watch_on_cancel},
};
const size_t cjx_health_handler_count =
    sizeof(cjx_health_handlers) / sizeof(cjx_health_handlers[0]);
