/* CaseService: the steps of the relief exchange, one at a time, in bulk
 * streams, and in the batches peers deliver from their outboxes.
 *
 * Every step is authorized, checked, validated by the rule sets and applied
 * by the workflow inside one store transaction (cases_apply.c). A call's
 * audit event commits with its change; a refused one is recorded by the
 * transport as the call ends. Each accepted message of a batch records its
 * own; the refused ones are counted in the batch call's entry
 * (batch_guard.h), so that refusals cost no writes. */
#include "cases_internal.h"

#include <stdlib.h>
#include <string.h>

#include "batch_guard.h"
#include "cjx/audit.h"
#include "cjx/log.h"

/* A stream answers every message in one response, so it is bounded;
 * clients split larger uploads into several streams. */
#define STREAM_MAX_MESSAGES 10000
/* Deliver batches come from peers' outboxes, which send at most 5000. */
#define DELIVER_MAX_MESSAGES 5000
/* Messages of one stream queued at once before reading pauses. */
#define STREAM_WINDOW 2048

static struct case_origin
origin_of(const struct cjx_call *c)
{
    return (struct case_origin){.conf = c->conf,
                                .sender = c->caller.agency,
                                .local = c->caller.local,
                                .access = (enum cjx_access)c->access};
}

/* The answer to a case message: the version it made or found. */
static Cjx__V1__CaseReply *
case_reply(struct cjx_arena *a, const struct case_result *r)
{
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(a);
    Cjx__V1__CaseReply *reply = cjx_arena_alloc(a, sizeof(*reply));
    if (reply == NULL)
        return NULL;
    cjx__v1__case_reply__init(reply);
    reply->unchanged = r->unchanged;
    reply->snapshot =
        cjx__v1__case__unpack(&alloc, r->snapshot_len, r->snapshot);
    return reply->snapshot != NULL ? reply : NULL;
}

/* ---- one step per call ------------------------------------------------- */

static void
unary_done(void *arg, const struct case_result *r)
{
    struct cjx_call *c = arg;
    /* A refusal took no event with it: the transport records the call. */
    if (r->audit_seq == 0)
        c->audit.recorded = 0;
    Cjx__V1__CaseReply *reply = NULL;
    if (r->err != 0)
        c->ops->fail(c, r->err, r->detail);
    else if ((reply = case_reply(c->arena, r)) == NULL)
        c->ops->fail(c, CJX_ESTORE, "the stored case does not decode");
    else
        c->ops->reply(c, &reply->base);
    c->ops->unref(c);
}

static void
case_step(struct cjx_call *c, const ProtobufCMessage *msg)
{
    case_ids_of(msg, &c->audit);
    struct case_origin o = origin_of(c);
    struct cjx_audit_event ev;
    service_call_event(c, &ev);
    struct cjx_errbuf eb;
    c->audit.recorded = 1;
    /* From here a store thread owns the call until unary_done. */
    c->ops->ref(c);
    int err = case_submit(c->service, &o, msg, &ev, unary_done, c, &eb);
    if (err != 0) {
        c->audit.recorded = 0;
        c->ops->fail(c, err, eb.msg);
        c->ops->unref(c);
    }
}

/* ---- batches: client streams and peers' deliveries ---------------------- */

/* A bulk answer names each message's outcome; the cases themselves are
 * read with GetCase or followed with WatchCases, not sent back by the
 * thousand. */
struct batch_item {
    char *request_id;
    int code;
    char *message;
    int retry_later;
};

struct batch {
    pthread_mutex_t mu;
    struct cjx_call *call;
    struct batch_item *items;
    size_t n, cap;
    int outstanding; /* messages queued and not yet done */
    int ended;       /* no more messages will come */
    int replied;
    int paused;    /* streaming: reading stopped until the window drains */
    int streaming; /* a client stream (else one Deliver call) */
    struct batch_guard guard;
};

struct batch_entry {
    struct batch *b;
    size_t index;
};

static void
batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->items[i].request_id);
        free(b->items[i].message);
    }
    free(b->items);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* Called with b->mu held once every message is done after the end. */
static void
batch_reply_locked(struct batch *b)
{
    struct cjx_call *c = b->call;
    Cjx__V1__CaseResults resp = CJX__V1__CASE_RESULTS__INIT;
    size_t n = b->n ? b->n : 1;
    Cjx__V1__CaseResult *items = calloc(n, sizeof(*items));
    Cjx__V1__CaseResult **ptrs = calloc(n, sizeof(*ptrs));
    b->replied = 1;
    if (items == NULL || ptrs == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory building the response");
        free(items);
        free(ptrs);
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        struct batch_item *it = &b->items[i];
        cjx__v1__case_result__init(&items[i]);
        items[i].request_id = it->request_id ? it->request_id : "";
        items[i].code = it->code;
        items[i].message = it->message ? it->message : "";
        items[i].retry_later = it->retry_later;
        if (it->code == 0)
            resp.accepted++;
        else
            resp.rejected++;
        ptrs[i] = &items[i];
    }
    resp.results = ptrs;
    resp.n_results = b->n;
    c->ops->reply(c, &resp.base);
    free(items);
    free(ptrs);
}

/* Replies once everything is in and done; returns whether the batch can be
 * freed (replied, nothing pending). */
static int
batch_settle_locked(struct batch *b)
{
    if (b->ended && b->outstanding == 0 && !b->replied)
        batch_reply_locked(b);
    return b->replied && b->outstanding == 0;
}

/* Called once every message is done, also after a stream was cut off at
 * its limit: the audit note then counts every refusal. */
static void
batch_release(struct batch *b)
{
    struct cjx_call *c = b->call;
    for (size_t i = 0; i < b->n; i++)
        batch_guard_count(&b->guard, b->items[i].request_id, b->items[i].code,
                          b->items[i].message);
    batch_guard_note(&b->guard, c);
    batch_free(b);
    c->state = NULL;
    c->ops->unref(c);
}

static struct batch *
batch_new(struct cjx_call *c, int streaming, size_t cap)
{
    struct batch *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->items = calloc(cap, sizeof(*b->items));
    if (b->items == NULL) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    b->cap = cap;
    b->call = c;
    b->streaming = streaming;
    c->state = b;
    c->ops->ref(c); /* dropped when the batch is freed */
    return b;
}

/* The event of one message of a batch: the caller, the message's method
 * and ids. */
static void
item_event(struct cjx_call *c, const char *method,
           const struct cjx_call_audit *ids, int64_t bytes_in,
           struct cjx_audit_event *ev)
{
    service_call_event(c, ev);
    ev->method = method;
    ev->request_id = ids->request_id;
    ev->cii = ids->cii;
    ev->court_case_number = ids->court_case_number;
    ev->count_number = ids->count_number;
    ev->bytes_in = bytes_in;
}

static void
set_result(struct batch_item *it, int err, const char *detail, int retry)
{
    it->code = cjx_err_status_code(err);
    it->retry_later = retry;
    if (err != 0)
        it->message = strdup(detail != NULL ? detail : cjx_strerror(err));
}

static void
entry_done(void *arg, const struct case_result *r)
{
    struct batch_entry *e = arg;
    struct batch *b = e->b;
    struct cjx_call *c = b->call;
    /* An accepted message's entry committed with it; a refused one is
     * counted in the batch's note. */
    pthread_mutex_lock(&b->mu);
    struct batch_item *it = &b->items[e->index];
    set_result(it, r->err, r->detail, r->retry_later);
    b->outstanding--;
    int resume = 0;
    if (b->streaming && b->paused && !b->ended &&
        b->outstanding < STREAM_WINDOW / 2) {
        b->paused = 0;
        resume = 1;
    }
    int free_it = batch_settle_locked(b);
    pthread_mutex_unlock(&b->mu);
    free(e);
    if (resume)
        c->ops->request_next(c);
    if (free_it)
        batch_release(b);
}

static char *
dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* Checks the caller may send a message of this method (a Deliver batch
 * carries several methods' messages). */
static int
may_send(const struct cjx_call *c, const char *method, struct cjx_errbuf *eb)
{
    if (c->caller.local) {
        if (cjx_authz_local(method))
            return 0;
    } else if (c->caller.agency != NULL &&
               cjx_authz_remote(c->caller.agency->role, method) !=
                   CJX_ACCESS_DENY) {
        return 0;
    }
    return cjx_errf(eb, CJX_EPERM, "%s may not call %s",
                    c->caller.agency != NULL ? c->caller.agency->ori : "caller",
                    method);
}

/* Adds one message to the batch and queues it. Called with b->mu held;
 * drops it while the store queues the write. */
static void
batch_add_locked(struct batch *b, const ProtobufCMessage *msg)
{
    struct cjx_call *c = b->call;
    size_t index = b->n++;
    struct batch_item *it = &b->items[index];
    struct cjx_call_audit ids = {0};
    case_ids_of(msg, &ids);
    it->request_id = dup_or_null(ids.request_id);
    const char *method = cjx_cases_method_of(msg);
    int64_t bytes_in = (int64_t)protobuf_c_message_get_packed_size(msg);
    struct cjx_errbuf eb;
    /* Over the rate limit the message is not even judged: the sender
     * retries it later. */
    int err = batch_guard_admit(&b->guard, c, &eb);
    int retry = err != 0;
    if (err == 0)
        err = method != NULL
                  ? may_send(c, method, &eb)
                  : cjx_errf(&eb, CJX_EINVAL, "messages[%zu]: empty", index);
    if (method == NULL)
        method = c->method->path;
    struct batch_entry *e = NULL;
    if (err == 0) {
        e = calloc(1, sizeof(*e));
        if (e == NULL) {
            err = cjx_errf(&eb, CJX_ENOMEM, "out of memory");
        } else {
            e->b = b;
            e->index = index;
        }
    }
    if (err == 0) {
        struct case_origin o = origin_of(c);
        struct cjx_audit_event ev;
        item_event(c, method, &ids, bytes_in, &ev);
        b->outstanding++;
        pthread_mutex_unlock(&b->mu);
        err = case_submit(c->service, &o, msg, &ev, entry_done, e, &eb);
        pthread_mutex_lock(&b->mu);
        if (err != 0) {
            b->outstanding--;
            free(e);
        }
    }
    if (err != 0)
        set_result(&b->items[index], err, eb.msg, retry);
}

/* Client streams: NotifyCandidates and OrderBulk. */
static void
stream_begin(struct cjx_call *c)
{
    struct batch *b = batch_new(c, 1, STREAM_MAX_MESSAGES);
    if (b == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    c->ops->request_next(c);
}

static void
stream_on_message(struct cjx_call *c, const ProtobufCMessage *msg)
{
    struct batch *b = c->state;
    pthread_mutex_lock(&b->mu);
    if (b->n == b->cap) {
        b->replied = 1;
        b->ended = 1;
        int free_it = b->outstanding == 0;
        pthread_mutex_unlock(&b->mu);
        c->ops->fail(c, CJX_ELIMIT,
                     "more than 10000 messages in one stream; split them "
                     "into several streams");
        if (free_it)
            batch_release(b);
        return;
    }
    batch_add_locked(b, msg);
    int ask = b->outstanding < STREAM_WINDOW;
    b->paused = !ask;
    pthread_mutex_unlock(&b->mu);
    if (ask)
        c->ops->request_next(c);
}

static void
stream_on_end(struct cjx_call *c)
{
    struct batch *b = c->state;
    pthread_mutex_lock(&b->mu);
    b->ended = 1;
    int free_it = batch_settle_locked(b);
    pthread_mutex_unlock(&b->mu);
    if (free_it)
        batch_release(b);
}

static void
stream_on_cancel(struct cjx_call *c)
{
    (void)c; /* queued messages still complete and release the batch */
}

/* Deliver: one batch of hand-offs from a peer's outbox. */
static void
deliver(struct cjx_call *c, const ProtobufCMessage *req)
{
    const Cjx__V1__CaseMessages *m = (const Cjx__V1__CaseMessages *)req;
    if (m->n_messages > DELIVER_MAX_MESSAGES) {
        c->ops->fail(c, CJX_ELIMIT,
                     "messages: more than 5000 in one Deliver call");
        return;
    }
    struct batch *b = batch_new(c, 0, m->n_messages ? m->n_messages : 1);
    if (b == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < m->n_messages; i++) {
        const Cjx__V1__CaseMessage *cm = m->messages[i];
        const ProtobufCMessage *inner = NULL;
        switch (cm->message_case) {
        case CJX__V1__CASE_MESSAGE__MESSAGE_NOTICE:
            inner = &cm->notice->base;
            break;
        case CJX__V1__CASE_MESSAGE__MESSAGE_DECISION:
            inner = &cm->decision->base;
            break;
        case CJX__V1__CASE_MESSAGE__MESSAGE_ORDER:
            inner = &cm->order->base;
            break;
        case CJX__V1__CASE_MESSAGE__MESSAGE_HISTORY_UPDATED:
            inner = &cm->history_updated->base;
            break;
        case CJX__V1__CASE_MESSAGE__MESSAGE_PERSON_NOTIFIED:
            inner = &cm->person_notified->base;
            break;
        case CJX__V1__CASE_MESSAGE__MESSAGE_PETITION:
            inner = &cm->petition->base;
            break;
        default:
            break;
        }
        if (inner != NULL) {
            batch_add_locked(b, inner);
        } else {
            struct cjx_errbuf eb;
            struct batch_item *it = &b->items[b->n++];
            if (batch_guard_admit(&b->guard, c, &eb) != 0)
                set_result(it, CJX_ELIMIT, eb.msg, 1);
            else
                set_result(it, CJX_EINVAL,
                           "messages: one of notice, decision, order, "
                           "history_updated, person_notified or petition "
                           "is required",
                           0);
        }
    }
    b->ended = 1;
    int free_it = batch_settle_locked(b);
    pthread_mutex_unlock(&b->mu);
    if (free_it)
        batch_release(b);
}

#define M(i) (&cjx__v1__case_service__methods[i])

const struct cjx_handler cjx_cases_handlers[] = {
    {.method = M(CASE_SERVICE_NOTIFY_CANDIDATE), .unary = case_step},
    {.method = M(CASE_SERVICE_NOTIFY_CANDIDATES),
     .stream_begin = stream_begin,
     .on_message = stream_on_message,
     .on_end = stream_on_end,
     .on_cancel = stream_on_cancel},
    {.method = M(CASE_SERVICE_DECIDE), .unary = case_step},
    {.method = M(CASE_SERVICE_ORDER), .unary = case_step},
    {.method = M(CASE_SERVICE_ORDER_BULK),
     .stream_begin = stream_begin,
     .on_message = stream_on_message,
     .on_end = stream_on_end,
     .on_cancel = stream_on_cancel},
    {.method = M(CASE_SERVICE_ACKNOWLEDGE_HISTORY_UPDATED), .unary = case_step},
    {.method = M(CASE_SERVICE_NOTIFY_PERSON), .unary = case_step},
    {.method = M(CASE_SERVICE_FILE_PETITION), .unary = case_step},
    {.method = M(CASE_SERVICE_GET_CASE), .unary = get_case},
    {.method = M(CASE_SERVICE_LIST_CASES), .unary = list_cases},
    {.method = M(CASE_SERVICE_WATCH_CASES),
     .server_stream = watch_cases_start,
     .on_sent = follow_on_sent,
     .on_cancel = follow_on_cancel},
    {.method = M(CASE_SERVICE_DELIVER), .unary = deliver},
    {.method = M(CASE_SERVICE_CASE_STATS), .unary = case_stats},
    {.method = M(CASE_SERVICE_LIST_OUTBOX), .unary = list_outbox},
};
const size_t cjx_cases_handler_count =
    sizeof(cjx_cases_handlers) / sizeof(cjx_cases_handlers[0]);
