/* CaseService/WatchCases: the case feed, resumable from a cursor.
 *
 * As the record feed (feed.c): a watch reads changes in batches after its
 * cursor and sends them one at a time; once caught up it parks in the hub
 * until the store's case hook wakes it. The cursor moves past a change only
 * once it is read, and the store hands changes out in seq order, so a client
 * that resumes after the last seq it received sees each change once. A
 * county agency's watch skips other counties' changes. */
#include "cases_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/log.h"

#define WATCH_BATCH 64

struct case_watch;

struct case_hub {
    struct cjx_service *svc;
    pthread_mutex_t mu;
    struct case_watch *parked; /* linked through next_parked */
    struct case_watch *active; /* every open watch, for shutdown */
    int closed;
};

/* A change copied out of the store, waiting to be sent. */
struct pending_case {
    int64_t seq;
    int event;
    void *body;
    size_t len;
};

struct case_watch {
    pthread_mutex_t mu;
    struct cjx_call *call;
    struct case_hub *hub;
    char *county; /* only this county's changes, or NULL */
    int64_t cursor;
    int follow;
    struct pending_case batch[WATCH_BATCH];
    int batch_len, batch_next;
    int sending, parked, over;
    atomic_int refs;
    struct case_watch *next_parked;
    struct case_watch *next_active, *prev_active;
    struct cjx_arena send_arena;
};

static void case_hub_wake(struct case_hub *hub);

/* The store's case hook: a commit wakes the parked watches. */
static void
hub_on_commit(void *arg, int64_t last_seq, size_t outbox_added)
{
    (void)outbox_added;
    (void)last_seq;
    case_hub_wake(arg);
}

int
case_hub_new(struct cjx_service *svc, struct case_hub **out)
{
    struct case_hub *hub = calloc(1, sizeof(*hub));
    if (hub == NULL)
        return CJX_ENOMEM;
    hub->svc = svc;
    pthread_mutex_init(&hub->mu, NULL);
    int err = cjx_store_add_case_hook(svc->store, hub_on_commit, hub);
    if (err != 0) {
        pthread_mutex_destroy(&hub->mu);
        free(hub);
        return err;
    }
    *out = hub;
    return 0;
}

void
case_hub_free(struct case_hub *hub)
{
    if (hub == NULL)
        return;
    cjx_store_remove_case_hook(hub->svc->store, hub_on_commit, hub);
    pthread_mutex_destroy(&hub->mu);
    free(hub);
}

static void
pending_clear(struct pending_case *p)
{
    free(p->body);
    memset(p, 0, sizeof(*p));
}

static int
copy_change(void *arg, const struct cjx_stored_case *s)
{
    struct case_watch *w = arg;
    /* The cursor passes skipped changes too. */
    w->cursor = s->seq;
    if (w->county != NULL && strcmp(s->county, w->county) != 0)
        return 0;
    struct pending_case *p = &w->batch[w->batch_len];
    p->seq = s->seq;
    p->event = s->event;
    p->body = malloc(s->body_len ? s->body_len : 1);
    if (p->body == NULL)
        return 1;
    memcpy(p->body, s->body, s->body_len);
    p->len = s->body_len;
    w->batch_len++;
    return 0;
}

static void
unpark_locked(struct case_hub *hub, struct case_watch *w)
{
    for (struct case_watch **pp = &hub->parked; *pp != NULL;
         pp = &(*pp)->next_parked) {
        if (*pp == w) {
            *pp = w->next_parked;
            break;
        }
    }
    w->parked = 0;
}

static void
watch_hold(struct case_watch *w)
{
    atomic_fetch_add(&w->refs, 1);
}

static void
watch_drop(struct case_watch *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    struct cjx_call *c = w->call;
    for (int i = w->batch_next; i < w->batch_len; i++)
        pending_clear(&w->batch[i]);
    cjx_arena_fini(&w->send_arena);
    pthread_mutex_destroy(&w->mu);
    free(w->county);
    free(w);
    c->state = NULL;
    c->ops->unref(c);
}

static void
watch_end(struct case_watch *w)
{
    struct case_hub *hub = w->hub;
    pthread_mutex_lock(&hub->mu);
    if (w->parked)
        unpark_locked(hub, w);
    if (w->prev_active)
        w->prev_active->next_active = w->next_active;
    else if (hub->active == w)
        hub->active = w->next_active;
    if (w->next_active)
        w->next_active->prev_active = w->prev_active;
    pthread_mutex_unlock(&hub->mu);
    watch_drop(w);
}

static int
send_pending(struct case_watch *w, struct pending_case *p)
{
    cjx_arena_reset(&w->send_arena);
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(&w->send_arena);
    Cjx__V1__Case *m = cjx__v1__case__unpack(&alloc, p->len, p->body);
    if (m == NULL)
        return w->send_arena.failed ? CJX_ENOMEM : CJX_ESTORE;
    m->seq = p->seq;
    Cjx__V1__CaseChange change = CJX__V1__CASE_CHANGE__INIT;
    change.seq = p->seq;
    change.event = (Cjx__V1__CaseEventKind)p->event;
    change.snapshot = m;
    return w->call->ops->send(w->call, &change.base);
}

/* Sends the next change, reads the next batch, parks, or ends the stream.
 * Called with w->mu held and no send in flight; returns 1 when the watch
 * is over and must be released by the caller. */
static int
watch_pump_locked(struct case_watch *w)
{
    struct cjx_call *c = w->call;
    struct cjx_store *store = w->hub->svc->store;
    for (;;) {
        if (w->over)
            return 1;
        if (w->batch_next < w->batch_len) {
            struct pending_case *p = &w->batch[w->batch_next++];
            w->sending = 1;
            watch_hold(w); /* dropped by watch_cases_on_sent */
            int err = send_pending(w, p);
            pending_clear(p);
            if (err == 0)
                return 0;
            w->sending = 0;
            atomic_fetch_sub(&w->refs, 1);
            w->over = 1;
            c->ops->fail(c, err, "could not send the change");
            return 1;
        }
        w->batch_len = w->batch_next = 0;
        struct cjx_errbuf eb;
        int64_t before = w->cursor;
        int err = cjx_store_read_case_changes(store, w->cursor, WATCH_BATCH,
                                              copy_change, w, &eb);
        if (err != 0) {
            cjx_error("cases", "reading the case feed failed: %s", eb.msg);
            w->over = 1;
            c->ops->fail(c, err, "could not read the case feed");
            return 1;
        }
        if (w->batch_len > 0 || w->cursor != before)
            continue;
        if (!w->follow) {
            w->over = 1;
            c->ops->finish(c);
            return 1;
        }
        /* Caught up: park, then look again, because a commit may have landed
         * between the read and the parking. */
        struct case_hub *hub = w->hub;
        pthread_mutex_lock(&hub->mu);
        if (hub->closed) {
            pthread_mutex_unlock(&hub->mu);
            w->over = 1;
            c->ops->fail(c, CJX_ECLOSED,
                         "server shutting down; resume from the last seq");
            return 1;
        }
        w->parked = 1;
        w->next_parked = hub->parked;
        hub->parked = w;
        pthread_mutex_unlock(&hub->mu);
        if (cjx_store_last_case_seq(store) <= w->cursor)
            return 0;
        pthread_mutex_lock(&hub->mu);
        if (w->parked)
            unpark_locked(hub, w);
        pthread_mutex_unlock(&hub->mu);
    }
}

static void
watch_pump(struct case_watch *w)
{
    pthread_mutex_lock(&w->mu);
    int ended = 0;
    if (!w->over && !w->sending && !w->parked)
        ended = watch_pump_locked(w);
    pthread_mutex_unlock(&w->mu);
    if (ended)
        watch_end(w);
}

void
watch_cases_start(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__WatchCasesRequest *req =
        (const Cjx__V1__WatchCasesRequest *)msg;
    struct case_hub *hub = c->service->cases;
    if (req->after_seq < 0) {
        c->ops->fail(c, CJX_EINVAL, "after_seq: must not be negative");
        return;
    }
    struct case_watch *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    if (c->access == CJX_ACCESS_OWN_COUNTY) {
        w->county = strdup(c->caller.agency->county);
        if (w->county == NULL) {
            free(w);
            c->ops->fail(c, CJX_ENOMEM, "out of memory");
            return;
        }
    }
    pthread_mutex_init(&w->mu, NULL);
    cjx_arena_init(&w->send_arena, NULL, 0, 0);
    w->call = c;
    w->hub = hub;
    w->cursor = req->after_seq;
    w->follow = req->follow;
    atomic_init(&w->refs, 1);
    c->state = w;
    c->ops->ref(c);

    pthread_mutex_lock(&hub->mu);
    int closed = hub->closed;
    if (!closed) {
        w->next_active = hub->active;
        if (hub->active)
            hub->active->prev_active = w;
        hub->active = w;
    }
    pthread_mutex_unlock(&hub->mu);
    if (closed) {
        c->ops->fail(c, CJX_ECLOSED, "server shutting down");
        watch_drop(w);
        return;
    }
    watch_hold(w);
    watch_pump(w);
    watch_drop(w);
}

void
watch_cases_on_sent(struct cjx_call *c, int ok)
{
    struct case_watch *w = c->state;
    pthread_mutex_lock(&w->mu);
    w->sending = 0;
    int ended = !ok && !w->over;
    if (ended)
        w->over = 1;
    pthread_mutex_unlock(&w->mu);
    if (ended)
        watch_end(w);
    else
        watch_pump(w);
    watch_drop(w);
}

void
watch_cases_on_cancel(struct cjx_call *c)
{
    struct case_watch *w = c->state;
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    int ended = !w->over;
    w->over = 1;
    pthread_mutex_unlock(&w->mu);
    if (ended)
        watch_end(w);
}

static void
case_hub_wake(struct case_hub *hub)
{
    pthread_mutex_lock(&hub->mu);
    struct case_watch *woken = hub->parked;
    hub->parked = NULL;
    for (struct case_watch *w = woken; w != NULL; w = w->next_parked) {
        w->parked = 0;
        watch_hold(w);
    }
    pthread_mutex_unlock(&hub->mu);
    while (woken != NULL) {
        struct case_watch *next = woken->next_parked;
        woken->next_parked = NULL;
        watch_pump(woken);
        watch_drop(woken);
        woken = next;
    }
}

void
case_hub_close(struct case_hub *hub)
{
    if (hub == NULL)
        return;
    pthread_mutex_lock(&hub->mu);
    hub->closed = 1;
    struct case_watch *parked = hub->parked;
    hub->parked = NULL;
    for (struct case_watch *w = parked; w != NULL; w = w->next_parked) {
        w->parked = 0;
        watch_hold(w);
    }
    pthread_mutex_unlock(&hub->mu);
    while (parked != NULL) {
        struct case_watch *next = parked->next_parked;
        parked->next_parked = NULL;
        pthread_mutex_lock(&parked->mu);
        int ended = !parked->over && !parked->sending;
        if (ended)
            parked->over = 1;
        pthread_mutex_unlock(&parked->mu);
        if (ended) {
            parked->call->ops->fail(parked->call, CJX_ECLOSED,
                                    "server shutting down; resume from the "
                                    "last seq received");
            watch_end(parked);
        }
        watch_drop(parked);
        parked = next;
    }
}

int
cases_service_init(struct cjx_service *svc)
{
    return case_hub_new(svc, &svc->cases);
}

void
cases_service_shutdown(struct cjx_service *svc)
{
    case_hub_close(svc->cases);
}

void
cases_service_fini(struct cjx_service *svc)
{
    case_hub_free(svc->cases);
    svc->cases = NULL;
}
