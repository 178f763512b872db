/* The follow-stream engine: batches, one send in flight, parking, wake-ups,
 * cancel, shutdown and the references that keep a stream alive. */
#include "follow.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/error.h"
#include "cjx/log.h"
#include "page_budget.h"
#include "service_internal.h"

struct follow {
    pthread_mutex_t mu;
    struct cjx_call *call;
    struct follow_hub *hub;
    const struct follow_ops *ops;
    void *feed;
    int follow;
    int batch_len, batch_next;
    int sending;     /* a send is in flight */
    int parked;      /* waiting in the hub for a commit */
    int over;        /* the call ended: no more sends */
    atomic_int refs; /* alive + in-flight send + wake-ups in progress */
    struct follow *next_parked;
    struct follow *next_active, *prev_active;
    struct cjx_arena send_arena; /* the message being sent */
    alignas(max_align_t) unsigned char items[];
};

void
follow_hub_init(struct follow_hub *hub)
{
    pthread_mutex_init(&hub->mu, NULL);
    hub->parked = hub->active = NULL;
    hub->closed = 0;
}

void
follow_hub_fini(struct follow_hub *hub)
{
    pthread_mutex_destroy(&hub->mu);
}

static void *
item_at(struct follow *f, int i)
{
    return f->items + (size_t)i * f->ops->item_size;
}

static void
unpark_locked(struct follow_hub *hub, struct follow *f)
{
    for (struct follow **pp = &hub->parked; *pp != NULL;
         pp = &(*pp)->next_parked) {
        if (*pp == f) {
            *pp = f->next_parked;
            break;
        }
    }
    f->parked = 0;
}

static void
follow_hold(struct follow *f)
{
    atomic_fetch_add(&f->refs, 1);
}

/* Drops a reference; the last one frees the stream and releases its call. */
static void
follow_drop(struct follow *f)
{
    if (atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    struct cjx_call *c = f->call;
    for (int i = f->batch_next; i < f->batch_len; i++)
        f->ops->clear(item_at(f, i));
    f->ops->free_feed(f->feed);
    cjx_arena_fini(&f->send_arena);
    pthread_mutex_destroy(&f->mu);
    free(f);
    c->state = NULL;
    c->ops->unref(c);
}

/* Takes an ended stream out of the hub and drops the reference it held for
 * being alive. Called exactly once per stream, by whoever set f->over. */
static void
follow_end(struct follow *f)
{
    struct follow_hub *hub = f->hub;
    pthread_mutex_lock(&hub->mu);
    if (f->parked)
        unpark_locked(hub, f);
    if (f->prev_active)
        f->prev_active->next_active = f->next_active;
    else if (hub->active == f)
        hub->active = f->next_active;
    if (f->next_active)
        f->next_active->prev_active = f->prev_active;
    pthread_mutex_unlock(&hub->mu);
    follow_drop(f);
}

/* Moves the stream forward: sends the next item, reads the next batch,
 * parks, or ends the stream. Called with f->mu held and no send in flight.
 * Returns 1 when the stream is over and must be released by the caller. */
static int
follow_pump_locked(struct follow *f)
{
    struct cjx_call *c = f->call;
    const struct follow_ops *ops = f->ops;
    struct cjx_store *store = c->service->store;
    for (;;) {
        if (f->over)
            return 1;
        if (f->batch_next < f->batch_len) {
            void *item = item_at(f, f->batch_next++);
            f->sending = 1;
            follow_hold(f); /* dropped by follow_on_sent */
            cjx_arena_reset(&f->send_arena);
            int err = ops->send(f->feed, c, &f->send_arena, item);
            ops->clear(item);
            if (err == 0)
                return 0;
            f->sending = 0;
            atomic_fetch_sub(&f->refs, 1); /* the alive ref still holds it */
            f->over = 1;
            c->ops->fail(c, err, ops->send_refused);
            return 1;
        }
        f->batch_len = f->batch_next = 0;
        memset(f->items, 0, (size_t)ops->batch * ops->item_size);
        struct cjx_errbuf eb;
        int64_t before = ops->cursor(f->feed);
        struct page_budget budget;
        page_budget_for_stream(&budget, c->conf);
        int err =
            ops->read(f->feed, store, f->items, &f->batch_len, &budget, &eb);
        if (err != 0) {
            cjx_error(ops->log_module, "%s: %s", ops->read_failed, eb.msg);
            f->over = 1;
            c->ops->fail(c, err, ops->read_refused);
            return 1;
        }
        /* A feed that filters may move its cursor without an item to send:
         * there may be more behind it. */
        if (f->batch_len > 0 || ops->cursor(f->feed) != before)
            continue;
        if (!f->follow) {
            f->over = 1;
            c->ops->finish(c);
            return 1;
        }
        /* Caught up: park, then look again, because a commit may have landed
         * between the read and the parking and its wake-up would be lost. */
        struct follow_hub *hub = f->hub;
        pthread_mutex_lock(&hub->mu);
        if (hub->closed) {
            pthread_mutex_unlock(&hub->mu);
            f->over = 1;
            c->ops->fail(c, CJX_ECLOSED,
                         "server shutting down; resume from the last seq");
            return 1;
        }
        f->parked = 1;
        f->next_parked = hub->parked;
        hub->parked = f;
        pthread_mutex_unlock(&hub->mu);
        if (ops->newest(store) <= ops->cursor(f->feed))
            return 0;
        pthread_mutex_lock(&hub->mu);
        if (f->parked)
            unpark_locked(hub, f);
        pthread_mutex_unlock(&hub->mu);
    }
}

/* Returns with the stream possibly freed only if the caller held no ref. */
static void
follow_pump(struct follow *f)
{
    pthread_mutex_lock(&f->mu);
    int ended = 0;
    if (!f->over && !f->sending && !f->parked)
        ended = follow_pump_locked(f);
    pthread_mutex_unlock(&f->mu);
    if (ended)
        follow_end(f);
}

void
follow_start(struct cjx_call *c, struct follow_hub *hub,
             const struct follow_ops *ops, void *feed, int follow)
{
    struct follow *f =
        calloc(1, sizeof(*f) + (size_t)ops->batch * ops->item_size);
    if (f == NULL) {
        ops->free_feed(feed);
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    pthread_mutex_init(&f->mu, NULL);
    cjx_arena_init(&f->send_arena, NULL, 0, 0);
    f->call = c;
    f->hub = hub;
    f->ops = ops;
    f->feed = feed;
    f->follow = follow;
    atomic_init(&f->refs, 1);
    c->state = f;
    c->ops->ref(c);

    pthread_mutex_lock(&hub->mu);
    int closed = hub->closed;
    if (!closed) {
        f->next_active = hub->active;
        if (hub->active)
            hub->active->prev_active = f;
        hub->active = f;
    }
    pthread_mutex_unlock(&hub->mu);
    if (closed) {
        c->ops->fail(c, CJX_ECLOSED, "server shutting down");
        follow_drop(f);
        return;
    }
    follow_hold(f);
    follow_pump(f);
    follow_drop(f);
}

void
follow_on_sent(struct cjx_call *c, int ok)
{
    struct follow *f = c->state;
    pthread_mutex_lock(&f->mu);
    f->sending = 0;
    int ended = !ok && !f->over;
    if (ended)
        f->over = 1; /* the client is gone; the transport ends the call */
    pthread_mutex_unlock(&f->mu);
    if (ended)
        follow_end(f);
    else
        follow_pump(f);
    follow_drop(f); /* the send's reference */
}

void
follow_on_cancel(struct cjx_call *c)
{
    struct follow *f = c->state;
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    int ended = !f->over;
    f->over = 1;
    pthread_mutex_unlock(&f->mu);
    if (ended)
        follow_end(f);
}

/* Takes the parked streams off the hub, each with a reference that keeps it
 * alive through a concurrent cancel. */
static struct follow *
take_parked(struct follow_hub *hub, int close)
{
    pthread_mutex_lock(&hub->mu);
    if (close)
        hub->closed = 1;
    struct follow *taken = hub->parked;
    hub->parked = NULL;
    for (struct follow *f = taken; f != NULL; f = f->next_parked) {
        f->parked = 0;
        follow_hold(f);
    }
    pthread_mutex_unlock(&hub->mu);
    return taken;
}

void
follow_hub_wake(struct follow_hub *hub)
{
    struct follow *woken = take_parked(hub, 0);
    /* The list is detached, so a stream that parks again goes onto
     * hub->parked without disturbing this walk. */
    while (woken != NULL) {
        struct follow *next = woken->next_parked;
        woken->next_parked = NULL;
        follow_pump(woken);
        follow_drop(woken);
        woken = next;
    }
}

void
follow_hub_close(struct follow_hub *hub)
{
    struct follow *parked = take_parked(hub, 1);
    while (parked != NULL) {
        struct follow *next = parked->next_parked;
        parked->next_parked = NULL;
        /* A parked stream has no send in flight, so it can end right here. */
        pthread_mutex_lock(&parked->mu);
        int ended = !parked->over && !parked->sending;
        if (ended)
            parked->over = 1;
        pthread_mutex_unlock(&parked->mu);
        if (ended) {
            parked->call->ops->fail(parked->call, CJX_ECLOSED,
                                    "server shutting down; resume from the "
                                    "last seq received");
            follow_end(parked);
        }
        follow_drop(parked);
        parked = next;
    }
}
