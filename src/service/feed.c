/* RecordService/WatchRecords: the change feed, resumable from a cursor.
 *
 * A watch reads changes in batches after its cursor and sends them one at a
 * time (one send in flight, as gRPC requires). When it has caught up and the
 * client asked to follow, it parks in the hub; the store's commit hook wakes
 * it. The cursor only moves past a change once that change is read, and the
 * store hands changes out in seq order with no gaps, so a client that resumes
 * after the last seq it received sees every change exactly once. */
#include "service_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/log.h"
#include "cjx/v1/record_service.pb-c.h"

#define WATCH_BATCH 64

/* A change copied out of the store, waiting to be sent. */
struct pending_change {
    int64_t seq;
    char *cii, *ccn, *county, *submitted_by, *flags;
    int32_t count;
    int64_t version, stored_at_us;
    void *bytes;
    size_t len;
};

struct watch {
    pthread_mutex_t mu;
    struct cjx_call *call;
    struct cjx_service *svc;
    int64_t cursor; /* seq of the last change read from the store */
    int follow;
    struct pending_change batch[WATCH_BATCH];
    int batch_len, batch_next;
    int sending;     /* a send is in flight */
    int parked;      /* waiting in the hub for a commit */
    int over;        /* the call ended: no more sends */
    atomic_int refs; /* alive + in-flight send + wake-ups in progress */
    struct watch *next_parked;
    struct watch *next_active, *prev_active;
    struct cjx_arena send_arena; /* decoded record of the change being sent */
};

void
feed_hub_init(struct feed_hub *hub)
{
    pthread_mutex_init(&hub->mu, NULL);
    hub->parked = hub->active = NULL;
    hub->closed = 0;
}

void
feed_hub_fini(struct feed_hub *hub)
{
    pthread_mutex_destroy(&hub->mu);
}

static void
pending_clear(struct pending_change *p)
{
    free(p->cii);
    free(p->ccn);
    free(p->county);
    free(p->submitted_by);
    free(p->flags);
    free(p->bytes);
    memset(p, 0, sizeof(*p));
}

static int
copy_change(void *arg, const struct cjx_stored_record *r)
{
    struct watch *w = arg;
    struct pending_change *p = &w->batch[w->batch_len];
    p->seq = r->seq;
    p->cii = strdup(r->cii);
    p->ccn = strdup(r->court_case_number);
    p->county = strdup(r->county);
    p->submitted_by = strdup(r->submitted_by);
    p->flags = strdup(r->flags ? r->flags : "");
    p->count = r->count_number;
    p->version = r->version;
    p->stored_at_us = r->stored_at_us;
    p->bytes = malloc(r->record_len ? r->record_len : 1);
    p->len = r->record_len;
    if (!p->cii || !p->ccn || !p->county || !p->submitted_by || !p->flags ||
        !p->bytes) {
        pending_clear(p);
        return 1;
    }
    memcpy(p->bytes, r->record, r->record_len);
    w->batch_len++;
    return 0;
}

static void
unpark_locked(struct feed_hub *hub, struct watch *w)
{
    for (struct watch **pp = &hub->parked; *pp != NULL;
         pp = &(*pp)->next_parked) {
        if (*pp == w) {
            *pp = w->next_parked;
            break;
        }
    }
    w->parked = 0;
}

static void
watch_hold(struct watch *w)
{
    atomic_fetch_add(&w->refs, 1);
}

/* Drops a reference; the last one frees the watch and releases its call. */
static void
watch_drop(struct watch *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    struct cjx_call *c = w->call;
    for (int i = w->batch_next; i < w->batch_len; i++)
        pending_clear(&w->batch[i]);
    cjx_arena_fini(&w->send_arena);
    pthread_mutex_destroy(&w->mu);
    free(w);
    c->state = NULL;
    c->ops->unref(c);
}

/* Takes an ended watch out of the hub and drops the reference it held for
 * being alive. Called exactly once per watch, by whoever set w->over. */
static void
watch_end(struct watch *w)
{
    struct feed_hub *hub = &w->svc->hub;
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
send_pending(struct watch *w, struct pending_change *p)
{
    struct cjx_stored_record r = {.cii = p->cii,
                                  .court_case_number = p->ccn,
                                  .count_number = p->count,
                                  .county = p->county,
                                  .version = p->version,
                                  .seq = p->seq,
                                  .submitted_by = p->submitted_by,
                                  .stored_at_us = p->stored_at_us,
                                  .flags = p->flags,
                                  .record = p->bytes,
                                  .record_len = p->len};
    Cjx__V1__StoredRecord rec;
    cjx_arena_reset(&w->send_arena);
    int err = stored_record_message(&w->send_arena, &r, &rec);
    if (err != 0)
        return err;
    Cjx__V1__RecordChange change = CJX__V1__RECORD_CHANGE__INIT;
    change.seq = p->seq;
    change.record = &rec;
    return w->call->ops->send(w->call, &change.base);
}

/* Moves the watch forward: sends the next change, reads the next batch,
 * parks, or ends the stream. Called with w->mu held and no send in flight.
 * Returns 1 when the watch is over and must be released by the caller. */
static int
watch_pump_locked(struct watch *w)
{
    struct cjx_call *c = w->call;
    for (;;) {
        if (w->over)
            return 1;
        if (w->batch_next < w->batch_len) {
            struct pending_change *p = &w->batch[w->batch_next++];
            w->sending = 1;
            watch_hold(w); /* dropped by watch_records_on_sent */
            int err = send_pending(w, p);
            pending_clear(p);
            if (err == 0)
                return 0;
            w->sending = 0;
            atomic_fetch_sub(&w->refs, 1); /* the alive ref still holds it */
            w->over = 1;
            c->ops->fail(c, err, "could not send the change");
            return 1;
        }
        w->batch_len = w->batch_next = 0;
        struct cjx_errbuf eb;
        int err = cjx_store_read_changes(w->svc->store, w->cursor, WATCH_BATCH,
                                         copy_change, w, &eb);
        if (err != 0) {
            cjx_error("feed", "reading changes failed: %s", eb.msg);
            w->over = 1;
            c->ops->fail(c, err, "could not read the change feed");
            return 1;
        }
        if (w->batch_len > 0) {
            w->cursor = w->batch[w->batch_len - 1].seq;
            continue;
        }
        if (!w->follow) {
            w->over = 1;
            c->ops->finish(c);
            return 1;
        }
        /* Caught up: park, then look again, because a commit may have landed
         * between the read and the parking and its wake-up would be lost. */
        struct feed_hub *hub = &w->svc->hub;
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
        if (cjx_store_last_seq(w->svc->store) <= w->cursor)
            return 0;
        pthread_mutex_lock(&hub->mu);
        if (w->parked)
            unpark_locked(hub, w);
        pthread_mutex_unlock(&hub->mu);
    }
}

/* Returns with the watch possibly freed only if the caller held no ref. */
static void
watch_pump(struct watch *w)
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
watch_records_start(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__WatchRecordsRequest *req =
        (const Cjx__V1__WatchRecordsRequest *)msg;
    if (req->after_seq < 0) {
        c->ops->fail(c, CJX_EINVAL, "after_seq: must not be negative");
        return;
    }
    struct watch *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    pthread_mutex_init(&w->mu, NULL);
    cjx_arena_init(&w->send_arena, NULL, 0, 0);
    w->call = c;
    w->svc = c->service;
    w->cursor = req->after_seq;
    w->follow = req->follow;
    atomic_init(&w->refs, 1);
    c->state = w;
    c->ops->ref(c);

    struct feed_hub *hub = &w->svc->hub;
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
watch_records_on_sent(struct cjx_call *c, int ok)
{
    struct watch *w = c->state;
    pthread_mutex_lock(&w->mu);
    w->sending = 0;
    int ended = !ok && !w->over;
    if (ended)
        w->over = 1; /* the client is gone; the transport ends the call */
    pthread_mutex_unlock(&w->mu);
    if (ended)
        watch_end(w);
    else
        watch_pump(w);
    watch_drop(w); /* the send's reference */
}

void
watch_records_on_cancel(struct cjx_call *c)
{
    struct watch *w = c->state;
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    int ended = !w->over;
    w->over = 1;
    pthread_mutex_unlock(&w->mu);
    if (ended)
        watch_end(w);
}

void
feed_hub_on_commit(void *arg, int64_t last_seq)
{
    struct cjx_service *svc = arg;
    struct feed_hub *hub = &svc->hub;
    (void)last_seq;
    pthread_mutex_lock(&hub->mu);
    struct watch *woken = hub->parked;
    hub->parked = NULL;
    for (struct watch *w = woken; w != NULL; w = w->next_parked) {
        w->parked = 0;
        watch_hold(w); /* keeps it alive through a concurrent cancel */
    }
    pthread_mutex_unlock(&hub->mu);
    /* The list is detached, so a watch that parks again goes onto
     * hub->parked without disturbing this walk. */
    while (woken != NULL) {
        struct watch *next = woken->next_parked;
        woken->next_parked = NULL;
        watch_pump(woken);
        watch_drop(woken);
        woken = next;
    }
}

void
feed_hub_close(struct cjx_service *svc)
{
    struct feed_hub *hub = &svc->hub;
    pthread_mutex_lock(&hub->mu);
    hub->closed = 1;
    struct watch *parked = hub->parked;
    hub->parked = NULL;
    for (struct watch *w = parked; w != NULL; w = w->next_parked) {
        w->parked = 0;
        watch_hold(w);
    }
    pthread_mutex_unlock(&hub->mu);
    while (parked != NULL) {
        struct watch *next = parked->next_parked;
        parked->next_parked = NULL;
        /* A parked watch has no send in flight, so it can end right here. */
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
