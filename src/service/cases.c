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

#include "bulk.h"
#include "cjx/audit.h"
#include "cjx/log.h"

/* Deliver batches come from peers' outboxes, which send at most 5000. */
#define DELIVER_MAX_MESSAGES 5000

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

/* ---- batches: client streams and peers' deliveries (bulk.h) ------------ */

/* A bulk answer names each message's outcome; the cases themselves are
 * read with GetCase or followed with WatchCases, not sent back by the
 * thousand. */

static const char *
case_item_request_id(const ProtobufCMessage *msg)
{
    struct cjx_call_audit ids = {0};
    case_ids_of(msg, &ids);
    return ids.request_id;
}

static void
case_item_done(void *arg, const struct case_result *r)
{
    /* An accepted message's entry committed with it; a refused one is
     * counted in the batch's note. */
    bulk_item_done(arg, r->err, r->detail, r->retry_later);
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

static int
case_item_submit(struct cjx_call *c, const ProtobufCMessage *msg,
                 struct bulk_item *it, struct cjx_arena *scratch,
                 struct cjx_errbuf *eb, int *retry_later)
{
    (void)scratch;
    (void)retry_later; /* a refusal before the store is final */
    const char *method = cjx_cases_method_of(msg);
    if (method == NULL)
        return cjx_errf(eb, CJX_EINVAL, "messages: not a case message");
    int err = may_send(c, method, eb);
    if (err != 0)
        return err;
    struct cjx_call_audit ids = {0};
    case_ids_of(msg, &ids);
    /* Under the message's own method: a Deliver batch carries several. */
    struct cjx_audit_event ev;
    bulk_item_event(c, &ids, &ev);
    ev.method = method;
    struct case_origin o = origin_of(c);
    o.bytes_in_packed = 1;
    return case_submit(c->service, &o, msg, &ev, case_item_done, it, eb);
}

static ProtobufCMessage *
case_item_result(struct cjx_arena *a, const struct bulk_item *it)
{
    Cjx__V1__CaseResult *res = cjx_arena_alloc(a, sizeof(*res));
    if (res == NULL)
        return NULL;
    cjx__v1__case_result__init(res);
    bulk_item_outcome(it, &res->request_id, &res->code, &res->message);
    res->retry_later = it->retry_later;
    return &res->base;
}

static void
case_items_reply(struct cjx_call *c, ProtobufCMessage **results, size_t n,
                 size_t accepted)
{
    Cjx__V1__CaseResults resp = CJX__V1__CASE_RESULTS__INIT;
    resp.results = (Cjx__V1__CaseResult **)results;
    resp.n_results = n;
    resp.accepted = (int32_t)accepted;
    resp.rejected = (int32_t)(n - accepted);
    c->ops->reply(c, &resp.base);
}

/* Client streams: NotifyCandidates and OrderBulk. */
static const struct bulk_ops case_stream_ops = {
    .request_id = case_item_request_id,
    .submit = case_item_submit,
    .result = case_item_result,
    .reply = case_items_reply,
};

static void
stream_begin(struct cjx_call *c)
{
    bulk_stream_begin(c, &case_stream_ops);
}

/* Deliver: one batch of hand-offs from a peer's outbox, each message in
 * its CaseMessage envelope. */

/* The step inside an envelope, or NULL when it holds none. */
static const ProtobufCMessage *
unwrap(const ProtobufCMessage *msg)
{
    const Cjx__V1__CaseMessage *cm = (const Cjx__V1__CaseMessage *)msg;
    switch (cm->message_case) {
    case CJX__V1__CASE_MESSAGE__MESSAGE_NOTICE:
        return &cm->notice->base;
    case CJX__V1__CASE_MESSAGE__MESSAGE_DECISION:
        return &cm->decision->base;
    case CJX__V1__CASE_MESSAGE__MESSAGE_ORDER:
        return &cm->order->base;
    case CJX__V1__CASE_MESSAGE__MESSAGE_HISTORY_UPDATED:
        return &cm->history_updated->base;
    case CJX__V1__CASE_MESSAGE__MESSAGE_PERSON_NOTIFIED:
        return &cm->person_notified->base;
    case CJX__V1__CASE_MESSAGE__MESSAGE_PETITION:
        return &cm->petition->base;
    default:
        return NULL;
    }
}

static const char *
envelope_request_id(const ProtobufCMessage *msg)
{
    const ProtobufCMessage *inner = unwrap(msg);
    return inner != NULL ? case_item_request_id(inner) : NULL;
}

static int
envelope_submit(struct cjx_call *c, const ProtobufCMessage *msg,
                struct bulk_item *it, struct cjx_arena *scratch,
                struct cjx_errbuf *eb, int *retry_later)
{
    const ProtobufCMessage *inner = unwrap(msg);
    if (inner == NULL)
        return cjx_errf(eb, CJX_EINVAL,
                        "messages: one of notice, decision, order, "
                        "history_updated, person_notified or petition is "
                        "required");
    return case_item_submit(c, inner, it, scratch, eb, retry_later);
}

static const struct bulk_ops deliver_ops = {
    .request_id = envelope_request_id,
    .submit = envelope_submit,
    .result = case_item_result,
    .reply = case_items_reply,
};

static void
deliver(struct cjx_call *c, const ProtobufCMessage *req)
{
    const Cjx__V1__CaseMessages *m = (const Cjx__V1__CaseMessages *)req;
    if (m->n_messages > DELIVER_MAX_MESSAGES) {
        c->ops->fail(c, CJX_ELIMIT,
                     "messages: more than 5000 in one Deliver call");
        return;
    }
    bulk_run(c, &deliver_ops, (const ProtobufCMessage *const *)m->messages,
             m->n_messages);
}

#define M(i) (&cjx__v1__case_service__methods[i])

const struct cjx_handler cjx_cases_handlers[] = {
    {.method = M(CASE_SERVICE_NOTIFY_CANDIDATE), .unary = case_step},
    {.method = M(CASE_SERVICE_NOTIFY_CANDIDATES),
     .stream_begin = stream_begin,
     .on_message = bulk_on_message,
     .on_end = bulk_on_end,
     .on_cancel = bulk_on_cancel},
    {.method = M(CASE_SERVICE_DECIDE), .unary = case_step},
    {.method = M(CASE_SERVICE_ORDER), .unary = case_step},
    {.method = M(CASE_SERVICE_ORDER_BULK),
     .stream_begin = stream_begin,
     .on_message = bulk_on_message,
     .on_end = bulk_on_end,
     .on_cancel = bulk_on_cancel},
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
