/* The batch engine: reading with back-pressure, the per-stream limit, the
 * outcome of each message, the one reply, cancel, and the references that
 * keep a batch alive until its last write is done. */
#include "bulk.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "batch_guard.h"
#include "cjx/audit.h"
#include "cjx/error.h"
#include "service_internal.h"

struct bulk {
    pthread_mutex_t mu;
    struct cjx_call *call;
    const struct bulk_ops *ops;
    struct bulk_item **items; /* in arrival order; malloc'd */
    size_t n, cap;
    size_t max;      /* messages the batch may hold */
    int outstanding; /* writes queued and not yet done */
    int paused;      /* reading stopped until the window drains */
    int ended;       /* no more messages will come */
    int cancelled;   /* the client went away: no reply */
    int settled;     /* the call's outcome is given (or it was cancelled) */
    struct batch_guard guard;
    struct cjx_arena scratch; /* one message's check, then the reply */
};

static struct bulk *
bulk_new(struct cjx_call *c, const struct bulk_ops *ops, size_t max)
{
    struct bulk *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    pthread_mutex_init(&b->mu, NULL);
    cjx_arena_init(&b->scratch, NULL, 0, 0);
    b->call = c;
    b->ops = ops;
    b->max = max;
    c->state = b;
    c->ops->ref(c); /* dropped when the batch is released */
    return b;
}

static void
item_free(const struct bulk_ops *ops, struct bulk_item *it)
{
    if (ops->clear != NULL)
        ops->clear(it);
    free(it->request_id);
    free(it->message);
    free(it);
}

/* Frees the batch and drops the call's reference, once the outcome is given
 * and no write is queued: the outcomes are final then, so the audit note
 * counts every refusal, also of a stream cut off at its limit. */
static void
bulk_release(struct bulk *b)
{
    struct cjx_call *c = b->call;
    for (size_t i = 0; i < b->n; i++) {
        struct bulk_item *it = b->items[i];
        batch_guard_count(&b->guard, it->request_id, it->code, it->message);
        item_free(b->ops, it);
    }
    batch_guard_note(&b->guard, c);
    free(b->items);
    cjx_arena_fini(&b->scratch);
    pthread_mutex_destroy(&b->mu);
    free(b);
    c->state = NULL;
    c->ops->unref(c);
}

/* Builds the one reply of the batch and ends the call with it. */
static void
bulk_reply_locked(struct bulk *b)
{
    /* No message is handled once the batch has ended, so the scratch arena
     * is free for the reply. */
    struct cjx_arena *a = &b->scratch;
    cjx_arena_reset(a);
    ProtobufCMessage **results =
        cjx_arena_alloc(a, (b->n ? b->n : 1) * sizeof(*results));
    size_t accepted = 0, built = 0;
    for (; results != NULL && built < b->n; built++) {
        if ((results[built] = b->ops->result(a, b->items[built])) == NULL)
            break;
        accepted += b->items[built]->code == 0;
    }
    if (results == NULL || built < b->n)
        b->call->ops->fail(b->call, CJX_ENOMEM,
                           "out of memory building the response");
    else
        b->ops->reply(b->call, results, b->n, accepted);
}

/* Replies once no more messages will come and every write is done (not to
 * a client that went away). Returns whether the batch can be released. */
static int
bulk_settle_locked(struct bulk *b)
{
    if (b->ended && b->outstanding == 0 && !b->settled) {
        b->settled = 1;
        if (!b->cancelled)
            bulk_reply_locked(b);
    }
    return b->settled && b->outstanding == 0;
}

static void
set_outcome(struct bulk_item *it, int err, const char *detail, int retry)
{
    it->code = cjx_err_status_code(err);
    it->retry_later = retry;
    if (err != 0)
        it->message = strdup(detail != NULL ? detail : cjx_strerror(err));
}

void
bulk_item_done(struct bulk_item *it, int err, const char *detail,
               int retry_later)
{
    struct bulk *b = it->bulk;
    struct cjx_call *c = b->call;
    int resume = 0;
    pthread_mutex_lock(&b->mu);
    set_outcome(it, err, detail, retry_later);
    b->outstanding--;
    if (b->paused && b->outstanding < BULK_WINDOW / 2) {
        b->paused = 0;
        if (b->cancelled)
            b->ended = 1; /* nothing was asked for: nothing more comes */
        else
            resume = 1;
    }
    int release = bulk_settle_locked(b);
    pthread_mutex_unlock(&b->mu);
    if (resume)
        c->ops->request_next(c);
    if (release)
        bulk_release(b);
}

/* No more messages will come: replies if every write is done. Called with
 * b->mu held, which it drops. */
static void
bulk_end_unlock(struct bulk *b)
{
    b->paused = 0;
    b->ended = 1;
    int release = bulk_settle_locked(b);
    pthread_mutex_unlock(&b->mu);
    if (release)
        bulk_release(b);
}

/* Ends the call with err before its end: nothing more is read and nothing
 * replied; queued writes still complete. Called with b->mu held, which it
 * drops; the failure is given under it, since a completion may release the
 * batch and the call's reference as soon as it is dropped. Returns whether
 * the batch can be released. */
static int
bulk_cut_unlock(struct bulk *b, int err, const char *detail)
{
    b->ended = b->settled = 1;
    b->call->ops->fail(b->call, err, detail);
    int release = b->outstanding == 0;
    pthread_mutex_unlock(&b->mu);
    return release;
}

/* The over-limit failure of c's stream, naming the key that sets it. */
static void
fail_over_limit_unlock(struct bulk *b)
{
    struct cjx_errbuf eb;
    cjx_errf(&eb, CJX_ELIMIT,
             "limits.bulk_max_messages: more than %zu messages in one %s "
             "stream; split them into several streams",
             b->max, b->call->method->name);
    if (bulk_cut_unlock(b, CJX_ELIMIT, eb.msg))
        bulk_release(b);
}

/* A new item at the end of the batch, or NULL when out of memory. */
static struct bulk_item *
append_item_locked(struct bulk *b, const ProtobufCMessage *msg)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct bulk_item **items = realloc(b->items, cap * sizeof(*items));
        if (items == NULL)
            return NULL;
        b->items = items;
        b->cap = cap;
    }
    struct bulk_item *it = calloc(1, sizeof(*it) + b->ops->extra_size);
    if (it == NULL)
        return NULL;
    const char *id = b->ops->request_id(msg);
    if (id != NULL && (it->request_id = strdup(id)) == NULL) {
        free(it);
        return NULL;
    }
    it->bulk = b;
    b->items[b->n++] = it;
    return it;
}

/* Admits msg, queues its write and notes a refusal. Called with b->mu held
 * and b->n < b->max; drops the lock while the operations run. Returns 0, or
 * CJX_ENOMEM when the message could not even be kept. */
static int
bulk_take_locked(struct bulk *b, const ProtobufCMessage *msg)
{
    struct cjx_call *c = b->call;
    struct bulk_item *it = append_item_locked(b, msg);
    if (it == NULL)
        return CJX_ENOMEM;
    struct cjx_errbuf eb;
    /* Over the rate limit the message is not even checked: the sender
     * retries it later. */
    int err = batch_guard_admit(&b->guard, c, &eb);
    int retry = err != 0;
    if (err == 0) {
        b->outstanding++;
        pthread_mutex_unlock(&b->mu);
        /* Only the message being handled uses the scratch arena, and one
         * message is handled at a time. */
        cjx_arena_reset(&b->scratch);
        err = b->ops->submit(c, msg, it, &b->scratch, &eb, &retry);
        pthread_mutex_lock(&b->mu);
        if (err != 0)
            b->outstanding--;
    }
    if (err != 0)
        set_outcome(it, err, eb.msg, retry);
    return 0;
}

void
bulk_item_outcome(const struct bulk_item *it, char **request_id, int32_t *code,
                  char **message)
{
    *request_id = it->request_id != NULL ? it->request_id : "";
    *code = it->code;
    *message = it->message != NULL ? it->message : "";
}

void
bulk_item_event(const struct cjx_call *c, const struct cjx_call_audit *ids,
                struct cjx_audit_event *ev)
{
    service_call_event(c, ev);
    ev->request_id = ids->request_id;
    ev->cii = ids->cii;
    ev->court_case_number = ids->court_case_number;
    ev->count_number = ids->count_number;
    ev->bytes_in = 0;
}

void
bulk_stream_begin(struct cjx_call *c, const struct bulk_ops *ops)
{
    size_t max = (size_t)c->conf->limits.bulk_max_messages;
    struct bulk *b = bulk_new(c, ops, max);
    if (b == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    c->ops->request_next(c);
}

void
bulk_on_message(struct cjx_call *c, const ProtobufCMessage *msg)
{
    struct bulk *b = c->state;
    pthread_mutex_lock(&b->mu);
    if (b->n == b->max) {
        fail_over_limit_unlock(b);
        return;
    }
    if (bulk_take_locked(b, msg) != 0) {
        if (bulk_cut_unlock(b, CJX_ENOMEM, "out of memory"))
            bulk_release(b);
        return;
    }
    if (b->cancelled) {
        /* The client went away while this message was handled. */
        bulk_end_unlock(b);
        return;
    }
    int ask = b->outstanding < BULK_WINDOW;
    b->paused = !ask;
    pthread_mutex_unlock(&b->mu);
    if (ask)
        c->ops->request_next(c);
}

void
bulk_on_end(struct cjx_call *c)
{
    struct bulk *b = c->state;
    pthread_mutex_lock(&b->mu);
    bulk_end_unlock(b);
}

void
bulk_on_cancel(struct cjx_call *c)
{
    struct bulk *b = c->state;
    if (b == NULL)
        return; /* already released */
    /* Whoever runs next ends the batch instead of reading on: the handler
     * of a message being read, the transport's on_end after a read that
     * was asked for, or the completion that would resume a paused stream
     * (one is due, since a paused stream has writes queued). */
    pthread_mutex_lock(&b->mu);
    b->cancelled = 1;
    pthread_mutex_unlock(&b->mu);
}

void
bulk_run(struct cjx_call *c, const struct bulk_ops *ops,
         const ProtobufCMessage *const *msgs, size_t n)
{
    struct bulk *b = bulk_new(c, ops, n);
    if (b == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < n; i++) {
        if (bulk_take_locked(b, msgs[i]) != 0) {
            if (bulk_cut_unlock(b, CJX_ENOMEM, "out of memory"))
                bulk_release(b);
            return;
        }
    }
    bulk_end_unlock(b);
}
