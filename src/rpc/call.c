/* One server call over gRPC core: the struct cjx_call ops and its events.
 *
 * Every batch started on a call holds a reference that its completion drops;
 * handlers hold more through ops->ref while they work asynchronously. The
 * call's mutex serialises batches, because the store's writer thread and the
 * completion-queue threads may both end or feed the same call.
 *
 * When the last reference goes, the call's audit event is handed to the
 * services (cjx_service_audit_call): that point is reached exactly once by
 * every call, however it ended. */
#include "rpc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "cjx/log.h"
#include "codec.h"
#include "streamcount.h"

/* A decoded request may take this many times its wire size in memory; more
 * means a message built to exhaust memory, refused as such. */
#define DECODE_EXPANSION 16
#define DECODE_SLACK     (64 * 1024)

static struct rpc_call *
rpc_of(struct cjx_call *c)
{
    return (struct rpc_call *)c;
}

static void
start_batch_locked(struct rpc_call *rc, grpc_op *ops, size_t n,
                   struct rpc_tag *tag)
{
    atomic_fetch_add(&rc->refs, 1);
    grpc_call_error e = grpc_call_start_batch(rc->call, ops, n, tag, NULL);
    if (e != GRPC_CALL_OK) {
        /* Nothing happened and no tag will come: take the reference back. */
        cjx_error("rpc", "start_batch failed (%d) on %s", (int)e,
                  rc->base.method ? rc->base.method->path : "?");
        atomic_fetch_sub(&rc->refs, 1);
    }
}

/* Sends the status (and, with msg, the reply). Called with rc->mu held,
 * rc->ended already set and no send in flight. */
static void
send_final_locked(struct rpc_call *rc, grpc_status_code code,
                  grpc_byte_buffer *msg)
{
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (!rc->initial_md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        rc->initial_md_sent = 1;
    }
    rc->status_set = 1;
    rc->status = code;
    if (msg != NULL) {
        rc->msgs_out++;
        rc->bytes_out += (int64_t)grpc_byte_buffer_length(msg);
        rc->final_buf = msg;
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = msg;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n++].data.send_status_from_server.status_details =
        code == GRPC_STATUS_OK ? NULL : &rc->status_details;
    if (!rc->close_started) {
        rc->close_started = 1;
        ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[n++].data.recv_close_on_server.cancelled = &rc->cancelled;
    }
    start_batch_locked(rc, ops, n, &rc->t_final);
}

static void end_with_status_locked(struct rpc_call *rc, grpc_status_code code,
                                   const char *detail);

/* Packs an outgoing message, or ends the call with INTERNAL when it would
 * carry a string or enum that breaks the peer's client. The services
 * withhold a stored message that fails the check and serve the rest; this
 * is the last line, for anything they did not foresee. Called with rc->mu
 * held; NULL when the call has ended. */
static grpc_byte_buffer *
encode_or_end_locked(struct rpc_call *rc, const ProtobufCMessage *msg)
{
    grpc_byte_buffer *bb = NULL;
    struct cjx_errbuf eb;
    int err = codec_encode_checked(msg, &bb, &eb);
    if (err == 0)
        return bb;
    cjx_error("rpc", "%s to %s: %s withheld: %s", rc->base.method->path,
              rc->base.caller.peer, msg->descriptor->name, eb.msg);
    char detail[600];
    snprintf(detail, sizeof(detail), "the answer is withheld: %s", eb.msg);
    end_with_status_locked(rc, GRPC_STATUS_INTERNAL, detail);
    return NULL;
}

static void
op_reply(struct cjx_call *c, const ProtobufCMessage *msg)
{
    struct rpc_call *rc = rpc_of(c);
    pthread_mutex_lock(&rc->mu);
    if (!rc->ended) {
        grpc_byte_buffer *bb = encode_or_end_locked(rc, msg);
        if (bb != NULL) {
            rc->ended = 1;
            send_final_locked(rc, GRPC_STATUS_OK, bb);
        }
    }
    pthread_mutex_unlock(&rc->mu);
}

static void
end_with_status_locked(struct rpc_call *rc, grpc_status_code code,
                       const char *detail)
{
    if (rc->ended)
        return;
    rc->ended = 1;
    rc->status_set = 1;
    rc->status = code;
    if (code != GRPC_STATUS_OK)
        rc->status_details =
            grpc_slice_from_copied_string(detail ? detail : "");
    if (rc->sending) {
        /* One send at a time: the status follows the message in flight. */
        rc->final_deferred = 1;
        rc->final_code = code;
        return;
    }
    send_final_locked(rc, code, NULL);
}

static void
op_fail(struct cjx_call *c, int err, const char *detail)
{
    struct rpc_call *rc = rpc_of(c);
    int code = cjx_err_status_code(err);
    if (code == GRPC_STATUS_OK)
        code = GRPC_STATUS_UNKNOWN;
    pthread_mutex_lock(&rc->mu);
    end_with_status_locked(rc, (grpc_status_code)code, detail);
    pthread_mutex_unlock(&rc->mu);
}

static int
op_send(struct cjx_call *c, const ProtobufCMessage *msg)
{
    struct rpc_call *rc = rpc_of(c);
    int err = 0;
    pthread_mutex_lock(&rc->mu);
    grpc_byte_buffer *bb = NULL;
    if (rc->ended || rc->sending ||
        (bb = encode_or_end_locked(rc, msg)) == NULL) {
        err = CJX_ECLOSED;
    } else {
        grpc_op ops[2];
        size_t n = 0;
        memset(ops, 0, sizeof(ops));
        if (!rc->initial_md_sent) {
            ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
            rc->initial_md_sent = 1;
        }
        rc->send_buf = bb;
        rc->msgs_out++;
        rc->bytes_out += (int64_t)grpc_byte_buffer_length(rc->send_buf);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = rc->send_buf;
        rc->sending = 1;
        /* Until the client's flow control takes the message. */
        atomic_store(&rc->wait_since_us, cjx_clock_monotonic_us());
        start_batch_locked(rc, ops, n, &rc->t_send);
    }
    pthread_mutex_unlock(&rc->mu);
    return err;
}

static void
op_finish(struct cjx_call *c)
{
    struct rpc_call *rc = rpc_of(c);
    pthread_mutex_lock(&rc->mu);
    end_with_status_locked(rc, GRPC_STATUS_OK, NULL);
    pthread_mutex_unlock(&rc->mu);
}

static void
op_request_next(struct cjx_call *c)
{
    struct rpc_call *rc = rpc_of(c);
    pthread_mutex_lock(&rc->mu);
    /* After the call has ended nothing more is read: the handler ended it
     * and knows. */
    if (!rc->ended) {
        grpc_op op;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &rc->recv_buf;
        atomic_store(&rc->wait_since_us, cjx_clock_monotonic_us());
        start_batch_locked(rc, &op, 1, &rc->t_recv);
    }
    pthread_mutex_unlock(&rc->mu);
}

static void
op_ref(struct cjx_call *c)
{
    atomic_fetch_add(&rpc_of(c)->refs, 1);
}

static void
op_unref(struct cjx_call *c)
{
    rpc_call_unref(rpc_of(c));
}

static int
op_take_token(struct cjx_call *c, int64_t *retry_after_ms)
{
    struct rpc_call *rc = rpc_of(c);
    const struct cjx_agency *ag = c->caller.agency;
    if (c->caller.local || ag == NULL)
        return 1; /* the operator on the local socket is not limited */
    return server_rate_allows(rc->srv, c->conf, ag->ori, retry_after_ms);
}

static const struct cjx_call_ops rpc_call_ops = {
    .reply = op_reply,
    .fail = op_fail,
    .send = op_send,
    .finish = op_finish,
    .request_next = op_request_next,
    .ref = op_ref,
    .unref = op_unref,
    .take_token = op_take_token,
};

struct rpc_call *
rpc_call_new(struct cjx_rpc_server *srv, struct rpc_method *method)
{
    struct rpc_call *rc = calloc(1, sizeof(*rc));
    if (rc == NULL)
        return NULL;
    rc->base.ops = &rpc_call_ops;
    rc->base.method = method ? method->handler->method : NULL;
    rc->base.service = srv->service;
    rc->base.arena = &rc->arena;
    rc->srv = srv;
    rc->method = method;
    rc->t_new = (struct rpc_tag){TAG_NEW, rc};
    rc->t_recv = (struct rpc_tag){TAG_RECV, rc};
    rc->t_send = (struct rpc_tag){TAG_SEND, rc};
    rc->t_final = (struct rpc_tag){TAG_FINAL, rc};
    rc->t_close = (struct rpc_tag){TAG_CLOSE, rc};
    grpc_metadata_array_init(&rc->md);
    grpc_call_details_init(&rc->details);
    pthread_mutex_init(&rc->mu, NULL);
    atomic_init(&rc->refs, 1);
    size_t limit = srv->max_message_bytes * DECODE_EXPANSION + DECODE_SLACK;
    cjx_arena_init(&rc->arena, rc->arena_buf, sizeof(rc->arena_buf), limit);
    cjx_arena_init(&rc->msg_arena, NULL, 0, limit);
    pthread_mutex_lock(&srv->mu);
    srv->live_calls++;
    pthread_mutex_unlock(&srv->mu);
    return rc;
}

/* Copies a slice as text (cut to fit) for the audit log. */
static const char *
slice_text(grpc_slice slice, char *buf, size_t len)
{
    size_t n = GRPC_SLICE_LENGTH(slice);
    if (n >= len)
        n = len - 1;
    memcpy(buf, GRPC_SLICE_START_PTR(slice), n);
    buf[n] = '\0';
    return buf;
}

/* Hands the call's audit event to the services: its caller (still held
 * with the call's configuration), method, status and byte counts. */
static void
record_call(struct rpc_call *rc)
{
    if (rc->srv->service == NULL)
        return;
    char path[300], message[CJX_AUDIT_TEXT_MAX + 1];
    const char *method =
        rc->base.method != NULL
            ? rc->base.method->path
            : slice_text(rc->details.method, path, sizeof(path));
    int code = GRPC_STATUS_CANCELLED;
    const char *detail = "ended before it was answered";
    if (rc->status_set) {
        code = (int)rc->status;
        detail = code == GRPC_STATUS_OK
                     ? ""
                     : slice_text(rc->status_details, message, sizeof(message));
    }
    cjx_service_audit_call(rc->srv->service, &rc->base, method, code, detail,
                           rc->bytes_out);
    /* An unknown path is no method of the metrics. */
    if (rc->method != NULL)
        cjx_metrics_call_done(rc->srv->metrics,
                              (size_t)(rc->method - rc->srv->methods), code,
                              cjx_clock_monotonic_us() - rc->started_us,
                              rc->msgs_in, rc->msgs_out);
}

static void stream_release(struct rpc_call *rc);

void
rpc_call_unref(struct rpc_call *rc)
{
    if (atomic_fetch_sub(&rc->refs, 1) != 1)
        return;
    stream_release(rc);
    if (rc->dispatched)
        record_call(rc);
    if (rc->call != NULL)
        grpc_call_unref(rc->call);
    grpc_metadata_array_destroy(&rc->md);
    grpc_call_details_destroy(&rc->details);
    grpc_byte_buffer_destroy(rc->payload);
    grpc_byte_buffer_destroy(rc->recv_buf);
    grpc_byte_buffer_destroy(rc->send_buf);
    grpc_byte_buffer_destroy(rc->final_buf);
    grpc_slice_unref(rc->status_details);
    cjx_conf_unref(rc->base.conf);
    cjx_arena_fini(&rc->arena);
    cjx_arena_fini(&rc->msg_arena);
    pthread_mutex_destroy(&rc->mu);
    struct cjx_rpc_server *srv = rc->srv;
    free(rc);
    /* Shutdown waits for the last call before it closes the queue. */
    pthread_mutex_lock(&srv->mu);
    if (--srv->live_calls == 0)
        pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
}

static void
fail_now(struct rpc_call *rc, int err, const char *detail)
{
    op_fail(&rc->base, err, detail);
}

/* Logs a call the transport ended itself ("refused", "ended"...) with
 * status, naming the peer (its agency where known), method and status
 * as separate fields for a JSON log. */
static void
log_call_end(const struct rpc_call *rc, const char *what,
             grpc_status_code status, const char *detail)
{
    const struct cjx_agency *ag = rc->base.caller.agency;
    struct cjx_log_fields f = {
        .peer = ag != NULL ? ag->ori : rc->base.caller.peer,
        .method = rc->base.method->path,
        .request_id = rc->base.audit.request_id,
        .status = cjx_status_code_name((int)status),
    };
    cjx_log_with(CJX_LOG_WARN, "rpc", &f, "%s%s%s from %s: %s", what,
                 what[0] != '\0' ? " " : "", rc->base.method->path,
                 rc->base.caller.peer, detail);
}

/* Decodes a request into arena, answering INVALID_ARGUMENT (or
 * RESOURCE_EXHAUSTED) itself when it does not decode. */
static ProtobufCMessage *
decode_or_fail(struct rpc_call *rc, grpc_byte_buffer *bb,
               struct cjx_arena *arena)
{
    const ProtobufCMessageDescriptor *desc = rc->base.method->input;
    char detail[256];
    if (bb == NULL) {
        snprintf(detail, sizeof(detail), "no request message (expected %s)",
                 desc->name);
        fail_now(rc, CJX_EINVAL, detail);
        return NULL;
    }
    ProtobufCMessage *msg = NULL;
    struct cjx_errbuf eb;
    int err = codec_decode(bb, desc, arena, &msg, &eb);
    if (err == CJX_ENOMEM) {
        fail_now(rc, CJX_ELIMIT, "request needs too much memory to decode");
        return NULL;
    }
    if (err != 0) {
        log_call_end(rc, "", GRPC_STATUS_INVALID_ARGUMENT, eb.msg);
        fail_now(rc, CJX_EINVAL, eb.msg);
        return NULL;
    }
    return msg;
}

/* Refuses a call over its agency's rate limit: RESOURCE_EXHAUSTED, with the
 * wait in the message and in trailing metadata, as retry-after-ms and as
 * gRPC's own grpc-retry-pushback-ms (which a gRPC client with retries
 * configured honours). send_final_locked's batch, plus the trailers. */
static void
refuse_over_rate(struct rpc_call *rc, const char *ori, int64_t retry_ms)
{
    char detail[256];
    snprintf(detail, sizeof(detail),
             "agency %s is over its limit of %d requests/s; retry after %lld "
             "ms",
             ori, rc->base.conf->limits.rate_limit_per_agency,
             (long long)retry_ms);
    log_call_end(rc, "refused", GRPC_STATUS_RESOURCE_EXHAUSTED, detail);
    cjx_metrics_rate_refused(rc->srv->metrics);
    /* The call's arena outlives the batch, so the value can live there. */
    char *value = cjx_arena_alloc(&rc->arena, 24);
    grpc_metadata *md = cjx_arena_alloc(&rc->arena, 2 * sizeof(*md));
    if (value == NULL || md == NULL) {
        fail_now(rc, CJX_ELIMIT, detail);
        return;
    }
    snprintf(value, 24, "%lld", (long long)retry_ms);
    memset(md, 0, 2 * sizeof(*md));
    md[0].key = grpc_slice_from_static_string("retry-after-ms");
    md[0].value = grpc_slice_from_static_string(value);
    md[1].key = grpc_slice_from_static_string("grpc-retry-pushback-ms");
    md[1].value = md[0].value;
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    pthread_mutex_lock(&rc->mu);
    if (!rc->ended) {
        rc->ended = 1;
        rc->status_set = 1;
        rc->status = GRPC_STATUS_RESOURCE_EXHAUSTED;
        rc->status_details = grpc_slice_from_copied_string(detail);
        if (!rc->initial_md_sent) {
            ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
            rc->initial_md_sent = 1;
        }
        ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[n].data.send_status_from_server.status =
            GRPC_STATUS_RESOURCE_EXHAUSTED;
        ops[n].data.send_status_from_server.status_details =
            &rc->status_details;
        ops[n].data.send_status_from_server.trailing_metadata_count = 2;
        ops[n++].data.send_status_from_server.trailing_metadata = md;
        if (!rc->close_started) {
            rc->close_started = 1;
            ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
            ops[n++].data.recv_close_on_server.cancelled = &rc->cancelled;
        }
        start_batch_locked(rc, ops, n, &rc->t_final);
    }
    pthread_mutex_unlock(&rc->mu);
}

/* ---- streams: counts per connection and agency, idle sweep ------------- */

static int
is_stream(const struct rpc_call *rc)
{
    return rc->base.method->client_streaming ||
           rc->base.method->server_streaming;
}

/* Counts a peer's streaming call against the limits of its connection (its
 * peer address: one per TCP connection) and its agency, or refuses it with
 * RESOURCE_EXHAUSTED naming the limit. Returns 0 or answers the call. */
static int
stream_admit(struct rpc_call *rc, const struct cjx_agency *ag)
{
    if (!is_stream(rc))
        return 0;
    const struct cjx_limits *l = &rc->base.conf->limits;
    struct cjx_rpc_server *srv = rc->srv;
    char detail[256];
    int open = 0;
    if (!streamcount_take(srv->conn_streams, rc->base.caller.peer,
                          l->max_streams_per_connection, &open)) {
        snprintf(detail, sizeof(detail),
                 "limits.max_streams_per_connection: this connection already "
                 "has %d open streams",
                 open);
    } else if (!streamcount_take(srv->agency_streams, ag->ori,
                                 l->max_streams_per_agency, &open)) {
        streamcount_give(srv->conn_streams, rc->base.caller.peer);
        snprintf(detail, sizeof(detail),
                 "limits.max_streams_per_agency: agency %s already has %d "
                 "open streams",
                 ag->ori, open);
    } else {
        rc->stream_counted = 1;
        return 0;
    }
    log_call_end(rc, "refused", GRPC_STATUS_RESOURCE_EXHAUSTED, detail);
    fail_now(rc, CJX_ELIMIT, detail);
    return -1;
}

/* Lists an admitted streaming call for the idle sweep. */
static void
stream_list(struct rpc_call *rc)
{
    struct cjx_rpc_server *srv = rc->srv;
    pthread_mutex_lock(&srv->streams_mu);
    rc->next_stream = srv->streams;
    rc->prev_stream = NULL;
    if (srv->streams != NULL)
        srv->streams->prev_stream = rc;
    srv->streams = rc;
    rc->stream_listed = 1;
    pthread_mutex_unlock(&srv->streams_mu);
}

/* Undoes stream_admit and stream_list when the call is freed. */
static void
stream_release(struct rpc_call *rc)
{
    struct cjx_rpc_server *srv = rc->srv;
    if (rc->stream_listed) {
        pthread_mutex_lock(&srv->streams_mu);
        if (rc->prev_stream != NULL)
            rc->prev_stream->next_stream = rc->next_stream;
        else
            srv->streams = rc->next_stream;
        if (rc->next_stream != NULL)
            rc->next_stream->prev_stream = rc->prev_stream;
        pthread_mutex_unlock(&srv->streams_mu);
    }
    if (rc->stream_counted) {
        streamcount_give(srv->conn_streams, rc->base.caller.peer);
        streamcount_give(srv->agency_streams, rc->base.caller.agency->ori);
    }
}

/* Ends a stream that waited too long on its client. A client stream that
 * sent nothing gets its status at once; a server stream whose client takes
 * nothing would never let a status through, so it is cancelled. */
static void
stream_end_idle(struct rpc_call *rc, int idle_s)
{
    char detail[256];
    pthread_mutex_lock(&rc->mu);
    int stuck_send = rc->sending;
    if (stuck_send)
        snprintf(detail, sizeof(detail),
                 "the client took no message for %d s "
                 "(limits.stream_idle_timeout_s); resume from the last one "
                 "received",
                 idle_s);
    else
        snprintf(detail, sizeof(detail),
                 "no message and no half-close from the client for %d s "
                 "(limits.stream_idle_timeout_s); messages not answered were "
                 "not applied",
                 idle_s);
    log_call_end(rc, "ended", GRPC_STATUS_DEADLINE_EXCEEDED, detail);
    if (!stuck_send) {
        end_with_status_locked(rc, GRPC_STATUS_DEADLINE_EXCEEDED, detail);
        pthread_mutex_unlock(&rc->mu);
        return;
    }
    if (!rc->ended) {
        rc->ended = 1;
        rc->status_set = 1;
        rc->status = GRPC_STATUS_DEADLINE_EXCEEDED;
        rc->status_details = grpc_slice_from_copied_string(detail);
    }
    pthread_mutex_unlock(&rc->mu);
    grpc_call_cancel_with_status(rc->call, GRPC_STATUS_DEADLINE_EXCEEDED,
                                 detail, NULL);
}

#define SWEEP_BATCH 64

void
rpc_streams_sweep(struct cjx_rpc_server *srv, int64_t now_us)
{
    struct rpc_call *expired[SWEEP_BATCH];
    int idle_s[SWEEP_BATCH];
    size_t n = 0;
    pthread_mutex_lock(&srv->streams_mu);
    for (struct rpc_call *rc = srv->streams; rc != NULL && n < SWEEP_BATCH;
         rc = rc->next_stream) {
        int64_t since = atomic_load(&rc->wait_since_us);
        int limit_s = rc->base.conf->limits.stream_idle_timeout_s;
        if (since == 0 || now_us - since < (int64_t)limit_s * 1000000)
            continue;
        /* A reference, unless the call is already being freed (its last
         * reference gone, waiting for this lock to unlist it). */
        int refs = atomic_load(&rc->refs);
        while (refs > 0 &&
               !atomic_compare_exchange_weak(&rc->refs, &refs, refs + 1)) {
        }
        if (refs <= 0)
            continue;
        /* Once: a later sweep must not end it again. */
        atomic_store(&rc->wait_since_us, 0);
        idle_s[n] = limit_s;
        expired[n++] = rc;
    }
    pthread_mutex_unlock(&srv->streams_mu);
    for (size_t i = 0; i < n; i++) {
        stream_end_idle(expired[i], idle_s[i]);
        rpc_call_unref(expired[i]);
    }
}

/* Identifies and authorizes the caller. Returns 0 or answers the call. */
static int
admit(struct rpc_call *rc)
{
    struct cjx_errbuf eb;
    rc->base.conf = cjx_rpc_server_conf(rc->srv);
    if (identity_of_call(rc->call, rc->base.conf, &rc->srv->identities,
                         &rc->base.caller, &eb) != 0) {
        log_call_end(rc, "refused", GRPC_STATUS_UNAUTHENTICATED, eb.msg);
        fail_now(rc, CJX_EUNAUTH, eb.msg);
        return -1;
    }
    /* The operator on the local socket is not a peer agency: no limit. */
    const struct cjx_agency *ag = rc->base.caller.agency;
    int64_t retry_ms = 0;
    if (!rc->base.caller.local && ag != NULL &&
        !server_rate_allows(rc->srv, rc->base.conf, ag->ori, &retry_ms)) {
        refuse_over_rate(rc, ag->ori, retry_ms);
        return -1;
    }
    if (!rc->base.caller.local && ag != NULL && stream_admit(rc, ag) != 0)
        return -1;
    rc->base.access = cjx_service_authorize(&rc->base);
    if (rc->base.access == CJX_ACCESS_DENY) {
        const struct cjx_agency *a = rc->base.caller.agency;
        snprintf(eb.msg, sizeof(eb.msg), "%s (%s) may not call %s",
                 a ? a->ori : "caller", a ? cjx_role_name(a->role) : "?",
                 rc->base.method->path);
        log_call_end(rc, "refused", GRPC_STATUS_PERMISSION_DENIED, eb.msg);
        fail_now(rc, CJX_EPERM, eb.msg);
        return -1;
    }
    return 0;
}

static void
answer_unimplemented(struct rpc_call *rc)
{
    /* The answer is the same for everyone; the caller is identified for
     * the audit log only. */
    struct cjx_errbuf eb;
    rc->base.conf = cjx_rpc_server_conf(rc->srv);
    identity_of_call(rc->call, rc->base.conf, &rc->srv->identities,
                     &rc->base.caller, &eb);
    char detail[300];
    snprintf(detail, sizeof(detail), "unknown method %.*s",
             (int)GRPC_SLICE_LENGTH(rc->details.method),
             (const char *)GRPC_SLICE_START_PTR(rc->details.method));
    pthread_mutex_lock(&rc->mu);
    rc->ended = 1;
    rc->status_details = grpc_slice_from_copied_string(detail);
    send_final_locked(rc, GRPC_STATUS_UNIMPLEMENTED, NULL);
    pthread_mutex_unlock(&rc->mu);
}

static void
start_close_watch(struct rpc_call *rc)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &rc->cancelled;
    pthread_mutex_lock(&rc->mu);
    rc->close_started = 1;
    start_batch_locked(rc, &op, 1, &rc->t_close);
    pthread_mutex_unlock(&rc->mu);
}

static void
dispatch(struct rpc_call *rc)
{
    if (rc->method == NULL) {
        answer_unimplemented(rc);
        return;
    }
    if (admit(rc) != 0)
        return;
    const struct cjx_handler *h = rc->method->handler;
    struct cjx_call *c = &rc->base;
    if (is_stream(rc))
        stream_list(rc);
    if (c->method->client_streaming) {
        h->stream_begin(c);
        return;
    }
    if (rc->payload != NULL)
        c->audit.bytes_in = (int64_t)grpc_byte_buffer_length(rc->payload);
    ProtobufCMessage *req = decode_or_fail(rc, rc->payload, &rc->arena);
    if (req == NULL)
        return;
    if (c->method->server_streaming) {
        /* Learn of a client going away while the stream is open. */
        start_close_watch(rc);
        h->server_stream(c, req);
    } else {
        h->unary(c, req);
    }
}

static void
on_recv(struct rpc_call *rc, int success)
{
    const struct cjx_handler *h = rc->method->handler;
    grpc_byte_buffer *bb = rc->recv_buf;
    rc->recv_buf = NULL;
    atomic_store(&rc->wait_since_us, 0);
    if (!success || bb == NULL) {
        h->on_end(&rc->base);
        grpc_byte_buffer_destroy(bb);
        return;
    }
    rc->base.audit.bytes_in += (int64_t)grpc_byte_buffer_length(bb);
    rc->msgs_in++;
    cjx_arena_reset(&rc->msg_arena);
    ProtobufCMessage *req = decode_or_fail(rc, bb, &rc->msg_arena);
    grpc_byte_buffer_destroy(bb);
    if (req == NULL)
        h->on_end(&rc->base); /* the call failed; let the handler let go */
    else
        h->on_message(&rc->base, req);
}

static void
on_send(struct rpc_call *rc, int success)
{
    pthread_mutex_lock(&rc->mu);
    grpc_byte_buffer_destroy(rc->send_buf);
    rc->send_buf = NULL;
    rc->sending = 0;
    atomic_store(&rc->wait_since_us, 0);
    if (rc->final_deferred) {
        rc->final_deferred = 0;
        send_final_locked(rc, rc->final_code, NULL);
    }
    pthread_mutex_unlock(&rc->mu);
    rc->method->handler->on_sent(&rc->base, success);
}

static void
on_close(struct rpc_call *rc)
{
    pthread_mutex_lock(&rc->mu);
    int notify = rc->cancelled && !rc->ended;
    pthread_mutex_unlock(&rc->mu);
    if (notify && rc->method->handler->on_cancel != NULL)
        rc->method->handler->on_cancel(&rc->base);
}

void
rpc_call_on_event(struct rpc_call *rc, enum tag_kind kind, int success)
{
    switch (kind) {
    case TAG_NEW:
        if (!success) {
            /* A posted request cancelled by shutdown: there is no call. */
            break;
        }
        if (!atomic_load(&rc->srv->shutting_down))
            rpc_request_call(rc->srv, rc->method);
        rc->dispatched = 1;
        rc->started_us = cjx_clock_monotonic_us();
        /* A unary or server-streaming request came with the call. */
        if (rc->payload != NULL)
            rc->msgs_in = 1;
        dispatch(rc);
        break;
    case TAG_RECV:
        on_recv(rc, success);
        break;
    case TAG_SEND:
        on_send(rc, success);
        break;
    case TAG_CLOSE:
        on_close(rc);
        break;
    case TAG_FINAL:
    case TAG_SHUTDOWN:
        break;
    }
    rpc_call_unref(rc);
}
