/* Blocking client calls over a pluck completion queue. */
#include "cjx/client.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define CLIENT_MAX_ACTIVE 16

struct cjx_client {
    grpc_channel *channel;
    grpc_completion_queue *cq;
    /* Where cjx_client_await_state's watch completes: a queue of its own,
     * so that the watch never counts against the pluckers of cq. */
    grpc_completion_queue *watch_cq;
    /* Unary calls in progress, so that cjx_client_cancel() can end them;
     * several threads may call through one client at once. */
    pthread_mutex_t mu;
    grpc_call *active[CLIENT_MAX_ACTIVE];
    int cancelled;
};

struct cjx_client_stream {
    struct cjx_client *cl;
    const struct cjx_method *m;
    grpc_call *call;
    grpc_metadata_array initial_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
    int status_started, status_done;
    int initial_md_received;
};

const char *
cjx_client_code_name(int code)
{
    return cjx_status_code_name(code);
}

static int
client_new(grpc_channel *ch, struct cjx_client **out, struct cjx_errbuf *eb)
{
    struct cjx_client *cl = calloc(1, sizeof(*cl));
    if (cl == NULL) {
        grpc_channel_destroy(ch);
        grpc_shutdown();
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    cl->channel = ch;
    cl->cq = grpc_completion_queue_create_for_pluck(NULL);
    cl->watch_cq = grpc_completion_queue_create_for_next(NULL);
    pthread_mutex_init(&cl->mu, NULL);
    *out = cl;
    return 0;
}

/* Registers a unary call as in progress; 0 if the client was cancelled. */
static int
track_call(struct cjx_client *cl, grpc_call *call)
{
    pthread_mutex_lock(&cl->mu);
    int ok = !cl->cancelled;
    for (int i = 0; ok && i < CLIENT_MAX_ACTIVE; i++) {
        if (cl->active[i] == NULL) {
            cl->active[i] = call;
            break;
        }
    }
    pthread_mutex_unlock(&cl->mu);
    return ok;
}

static void
untrack_call(struct cjx_client *cl, grpc_call *call)
{
    pthread_mutex_lock(&cl->mu);
    for (int i = 0; i < CLIENT_MAX_ACTIVE; i++)
        if (cl->active[i] == call)
            cl->active[i] = NULL;
    pthread_mutex_unlock(&cl->mu);
}

void
cjx_client_cancel(struct cjx_client *cl)
{
    if (cl == NULL)
        return;
    pthread_mutex_lock(&cl->mu);
    cl->cancelled = 1;
    for (int i = 0; i < CLIENT_MAX_ACTIVE; i++)
        if (cl->active[i] != NULL)
            grpc_call_cancel(cl->active[i], NULL);
    pthread_mutex_unlock(&cl->mu);
}

/* The channel arguments of every client, in buf (room for CLIENT_ARGS).
 * buf is the caller's: clients are opened from several threads at once
 * (the delivery senders), so nothing here may be shared. */
#define CLIENT_ARGS 3
static size_t
client_args(grpc_arg *buf)
{
    size_t n = 0;
    /* Each client is its own connection (tests open several on purpose). */
    buf[n++] = (grpc_arg){.type = GRPC_ARG_INTEGER,
                          .key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
                          .value.integer = 1};
    buf[n++] = (grpc_arg){.type = GRPC_ARG_INTEGER,
                          .key = GRPC_ARG_ENABLE_HTTP_PROXY,
                          .value.integer = 0};
    buf[n++] = (grpc_arg){.type = GRPC_ARG_INTEGER,
                          .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                          .value.integer = 64 * 1024 * 1024};
    return n;
}

int
cjx_client_connect_local(const char *socket_path, struct cjx_client **out,
                         struct cjx_errbuf *eb)
{
    char target[512];
    snprintf(target, sizeof(target), "unix:%s", socket_path);
    grpc_init();
    grpc_arg buf[CLIENT_ARGS];
    grpc_channel_args args = {client_args(buf), buf};
    grpc_channel_credentials *creds = grpc_local_credentials_create(UDS);
    grpc_channel *ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    return client_new(ch, out, eb);
}

/* An mTLS channel to target with the common arguments and n_extra more. */
static int
connect_tls(const char *target, const char *ca_pem, const char *cert_pem,
            const char *key_pem, const grpc_arg *extra, size_t n_extra,
            struct cjx_client **out, struct cjx_errbuf *eb)
{
    grpc_init();
    grpc_ssl_pem_key_cert_pair pair = {key_pem, cert_pem};
    grpc_channel_credentials *creds = grpc_ssl_credentials_create(
        ca_pem, cert_pem != NULL ? &pair : NULL, NULL, NULL);
    if (creds == NULL) {
        grpc_shutdown();
        return cjx_errf(eb, CJX_ETLS, "invalid TLS credentials");
    }
    grpc_arg buf[CLIENT_ARGS + 4];
    grpc_channel_args args = {client_args(buf), buf};
    for (size_t i = 0; i < n_extra && args.num_args < CLIENT_ARGS + 4; i++)
        buf[args.num_args++] = extra[i];
    grpc_channel *ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    return client_new(ch, out, eb);
}

int
cjx_client_connect_tls(const char *target, const char *ca_pem,
                       const char *cert_pem, const char *key_pem,
                       struct cjx_client **out, struct cjx_errbuf *eb)
{
    return connect_tls(target, ca_pem, cert_pem, key_pem, NULL, 0, out, eb);
}

void
cjx_client_free(struct cjx_client *cl)
{
    if (cl == NULL)
        return;
    grpc_channel_destroy(cl->channel);
    grpc_completion_queue_shutdown(cl->cq);
    while (grpc_completion_queue_pluck(cl->cq, NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cl->cq);
    grpc_completion_queue_shutdown(cl->watch_cq);
    while (grpc_completion_queue_next(cl->watch_cq,
                                      gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cl->watch_cq);
    pthread_mutex_destroy(&cl->mu);
    free(cl);
    grpc_shutdown();
}

static gpr_timespec
deadline_in(int timeout_ms)
{
    if (timeout_ms <= 0)
        return gpr_inf_future(GPR_CLOCK_REALTIME);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

static int
run_batch(struct cjx_client *cl, grpc_call *call, grpc_op *ops, size_t n)
{
    void *tag = ops;
    if (grpc_call_start_batch(call, ops, n, tag, NULL) != GRPC_CALL_OK)
        return CJX_EINTERNAL;
    grpc_event ev = grpc_completion_queue_pluck(
        cl->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.success ? 0 : CJX_ECLOSED;
}

static void
copy_status(struct cjx_client_status *st, grpc_status_code code,
            grpc_slice details)
{
    st->code = (int)code;
    size_t n = GRPC_SLICE_LENGTH(details);
    if (n >= sizeof(st->message))
        n = sizeof(st->message) - 1;
    memcpy(st->message, GRPC_SLICE_START_PTR(details), n);
    st->message[n] = '\0';
}

static grpc_call *
new_call(struct cjx_client *cl, const char *path, int timeout_ms)
{
    grpc_slice method = grpc_slice_from_static_string(path);
    return grpc_channel_create_call(cl->channel, NULL, GRPC_PROPAGATE_DEFAULTS,
                                    cl->cq, method, NULL,
                                    deadline_in(timeout_ms), NULL);
}

/* One unary exchange of byte buffers. *resp_bb is NULL unless status OK. */
static int
unary_bytes(struct cjx_client *cl, const char *path, grpc_byte_buffer *req_bb,
            int timeout_ms, grpc_byte_buffer **resp_bb,
            struct cjx_client_status *st)
{
    grpc_call *call = new_call(cl, path, timeout_ms);
    grpc_metadata_array initial_md, trailing_md;
    grpc_metadata_array_init(&initial_md);
    grpc_metadata_array_init(&trailing_md);
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = resp_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;
    *resp_bb = NULL;
    int err = CJX_ECLOSED;
    if (track_call(cl, call)) {
        err = run_batch(cl, call, ops, 6);
        untrack_call(cl, call);
    } else {
        code = GRPC_STATUS_CANCELLED;
    }
    copy_status(st, code, details);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial_md);
    grpc_metadata_array_destroy(&trailing_md);
    grpc_call_unref(call);
    if (st->code != GRPC_STATUS_OK && *resp_bb != NULL) {
        grpc_byte_buffer_destroy(*resp_bb);
        *resp_bb = NULL;
    }
    return err;
}

int
cjx_client_unary(struct cjx_client *cl, const struct cjx_method *m,
                 const ProtobufCMessage *req, int timeout_ms,
                 ProtobufCMessage **resp, struct cjx_client_status *st)
{
    grpc_byte_buffer *req_bb = codec_encode(req);
    grpc_byte_buffer *resp_bb;
    *resp = NULL;
    int err = unary_bytes(cl, m->path, req_bb, timeout_ms, &resp_bb, st);
    grpc_byte_buffer_destroy(req_bb);
    if (err != 0 || st->code != GRPC_STATUS_OK)
        return err;
    if (resp_bb == NULL) {
        st->code = GRPC_STATUS_INTERNAL;
        snprintf(st->message, sizeof(st->message), "OK without a response");
        return 0;
    }
    void *data;
    size_t len;
    err = codec_read_all(resp_bb, &data, &len);
    grpc_byte_buffer_destroy(resp_bb);
    if (err != 0)
        return err;
    *resp = protobuf_c_message_unpack(m->output, NULL, len, data);
    free(data);
    if (*resp == NULL) {
        st->code = GRPC_STATUS_INTERNAL;
        snprintf(st->message, sizeof(st->message), "response is not a valid %s",
                 m->output->name);
    }
    return 0;
}

int
cjx_client_unary_raw(struct cjx_client *cl, const char *path, const void *req,
                     size_t len, int timeout_ms, void **resp, size_t *resp_len,
                     struct cjx_client_status *st)
{
    grpc_byte_buffer *req_bb = codec_encode_raw(req, len);
    grpc_byte_buffer *resp_bb;
    *resp = NULL;
    *resp_len = 0;
    int err = unary_bytes(cl, path, req_bb, timeout_ms, &resp_bb, st);
    grpc_byte_buffer_destroy(req_bb);
    if (err == 0 && resp_bb != NULL)
        err = codec_read_all(resp_bb, resp, resp_len);
    grpc_byte_buffer_destroy(resp_bb);
    return err;
}

/* ---- streams ---------------------------------------------------------- */

/* Posts RECV_STATUS_ON_CLIENT once; finish plucks it. */
static int
start_status(struct cjx_client_stream *s)
{
    if (s->status_started)
        return 0;
    s->status_started = 1;
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.status = &s->status;
    op.data.recv_status_on_client.status_details = &s->details;
    op.data.recv_status_on_client.trailing_metadata = &s->trailing_md;
    if (grpc_call_start_batch(s->call, &op, 1, &s->status, NULL) !=
        GRPC_CALL_OK)
        return CJX_EINTERNAL;
    return 0;
}

int
cjx_client_stream_open(struct cjx_client *cl, const struct cjx_method *m,
                       const ProtobufCMessage *req, int timeout_ms,
                       struct cjx_client_stream **out)
{
    struct cjx_client_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return CJX_ENOMEM;
    s->cl = cl;
    s->m = m;
    s->details = grpc_empty_slice();
    grpc_metadata_array_init(&s->initial_md);
    grpc_metadata_array_init(&s->trailing_md);
    s->call = new_call(cl, m->path, timeout_ms);
    int err = start_status(s);
    grpc_op ops[3];
    memset(ops, 0, sizeof(ops));
    size_t n = 0;
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    grpc_byte_buffer *bb = NULL;
    if (req != NULL) {
        bb = codec_encode(req);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = bb;
        ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    }
    if (err == 0)
        err = run_batch(cl, s->call, ops, n);
    grpc_byte_buffer_destroy(bb);
    if (err != 0 && err != CJX_ECLOSED) {
        cjx_client_stream_free(s);
        return err;
    }
    /* A refused stream shows its status at finish. */
    *out = s;
    return 0;
}

int
cjx_client_stream_write(struct cjx_client_stream *s,
                        const ProtobufCMessage *msg)
{
    grpc_byte_buffer *bb = codec_encode(msg);
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    int err = run_batch(s->cl, s->call, &op, 1);
    grpc_byte_buffer_destroy(bb);
    return err;
}

/* Receives one message (NULL at the end of the stream). */
static int
recv_one(struct cjx_client_stream *s, grpc_byte_buffer **bb)
{
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    size_t n = 0;
    if (!s->initial_md_received) {
        s->initial_md_received = 1;
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata =
            &s->initial_md;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = bb;
    *bb = NULL;
    int err = run_batch(s->cl, s->call, ops, n);
    return err == CJX_ECLOSED ? 0 : err;
}

static int
decode_response(const struct cjx_method *m, grpc_byte_buffer *bb,
                ProtobufCMessage **msg)
{
    void *data;
    size_t len;
    int err = codec_read_all(bb, &data, &len);
    if (err != 0)
        return err;
    *msg = protobuf_c_message_unpack(m->output, NULL, len, data);
    free(data);
    return *msg != NULL ? 0 : CJX_EPARSE;
}

int
cjx_client_stream_read(struct cjx_client_stream *s, ProtobufCMessage **msg)
{
    grpc_byte_buffer *bb;
    int err = recv_one(s, &bb);
    if (err != 0)
        return err;
    if (bb == NULL)
        return 0;
    err = decode_response(s->m, bb, msg);
    grpc_byte_buffer_destroy(bb);
    return err == 0 ? 1 : err;
}

int
cjx_client_stream_finish(struct cjx_client_stream *s, ProtobufCMessage **resp,
                         struct cjx_client_status *st)
{
    if (resp != NULL)
        *resp = NULL;
    if (s->m->client_streaming) {
        grpc_op op;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        run_batch(s->cl, s->call, &op, 1); /* fails harmlessly if over */
        grpc_byte_buffer *bb = NULL;
        if (recv_one(s, &bb) == 0 && bb != NULL) {
            if (resp != NULL)
                decode_response(s->m, bb, resp);
            grpc_byte_buffer_destroy(bb);
        }
    }
    grpc_completion_queue_pluck(s->cl->cq, &s->status,
                                gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    s->status_done = 1;
    copy_status(st, s->status, s->details);
    if (st->code != 0 && resp != NULL && *resp != NULL) {
        protobuf_c_message_free_unpacked(*resp, NULL);
        *resp = NULL;
    }
    return 0;
}

void
cjx_client_stream_free(struct cjx_client_stream *s)
{
    if (s == NULL)
        return;
    if (s->status_started && !s->status_done) {
        grpc_call_cancel(s->call, NULL);
        grpc_completion_queue_pluck(s->cl->cq, &s->status,
                                    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    grpc_slice_unref(s->details);
    grpc_metadata_array_destroy(&s->initial_md);
    grpc_metadata_array_destroy(&s->trailing_md);
    grpc_call_unref(s->call);
    free(s);
}

/* ---- a peer's replicas and its channel's connectivity ------------------ */

/* Calls go round-robin over every address the target resolves to, and
 * only to the addresses whose grpc.health.v1 Watch (of the whole server,
 * the empty service name) says SERVING: a stopped or draining replica is
 * skipped while the others take its share. */
static const char peer_service_config[] =
    "{\"loadBalancingConfig\":[{\"round_robin\":{}}],"
    "\"healthCheckConfig\":{\"serviceName\":\"\"}}";

/* A peer that is down is dialled again at most this far apart (gRPC's
 * own reconnect backoff, 1 s growing by 1.6, capped here instead of at its
 * default two minutes), so that its return is noticed within seconds. */
#define PEER_MAX_RECONNECT_BACKOFF_MS 5000

int
cjx_client_connect_peer(const char *endpoint, const char *tls_name,
                        const char *ca_pem, const char *cert_pem,
                        const char *key_pem, struct cjx_client **out,
                        struct cjx_errbuf *eb)
{
    if (endpoint == NULL || endpoint[0] == '\0')
        return cjx_errf(eb, CJX_EINVAL, "no endpoint");
    /* Several addresses are one target of gRPC's sockaddr resolver
     * ("ipv4:a:p,b:q"); one host:port goes to its DNS resolver, which
     * gives every address the name has. */
    char target[1024];
    int several = strchr(endpoint, ',') != NULL;
    int n = snprintf(target, sizeof(target), "%s%s",
                     !several             ? ""
                     : endpoint[0] == '[' ? "ipv6:"
                                          : "ipv4:",
                     endpoint);
    if (n < 0 || (size_t)n >= sizeof(target))
        return cjx_errf(eb, CJX_EINVAL, "endpoint too long: %s", endpoint);
    grpc_arg extra[3] = {
        {.type = GRPC_ARG_STRING,
         .key = GRPC_ARG_SERVICE_CONFIG,
         .value.string = (char *)peer_service_config},
        {.type = GRPC_ARG_INTEGER,
         .key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
         .value.integer = PEER_MAX_RECONNECT_BACKOFF_MS},
        /* The authority is the name the servers' certificates are checked
         * against; without it a list of addresses would be checked as one
         * host name. */
        {.type = GRPC_ARG_STRING,
         .key = GRPC_ARG_DEFAULT_AUTHORITY,
         .value.string = (char *)tls_name},
    };
    size_t n_extra = tls_name != NULL && tls_name[0] != '\0' ? 3 : 2;
    return connect_tls(target, ca_pem, cert_pem, key_pem, extra, n_extra, out,
                       eb);
}

_Static_assert((int)CJX_CLIENT_IDLE == (int)GRPC_CHANNEL_IDLE &&
                   (int)CJX_CLIENT_CONNECTING == (int)GRPC_CHANNEL_CONNECTING &&
                   (int)CJX_CLIENT_READY == (int)GRPC_CHANNEL_READY &&
                   (int)CJX_CLIENT_TRANSIENT_FAILURE ==
                       (int)GRPC_CHANNEL_TRANSIENT_FAILURE &&
                   (int)CJX_CLIENT_SHUTDOWN == (int)GRPC_CHANNEL_SHUTDOWN,
               "connectivity states as gRPC numbers them");

enum cjx_client_state
cjx_client_state(struct cjx_client *cl, int try_to_connect)
{
    return (enum cjx_client_state)grpc_channel_check_connectivity_state(
        cl->channel, try_to_connect);
}

enum cjx_client_state
cjx_client_await_state(struct cjx_client *cl, enum cjx_client_state last,
                       int timeout_ms)
{
    /* The watch completes on watch_cq when the state leaves last (success)
     * or at its deadline (no success): either way exactly one event. */
    grpc_channel_watch_connectivity_state(
        cl->channel, (grpc_connectivity_state)last,
        deadline_in(timeout_ms > 0 ? timeout_ms : 1), cl->watch_cq, cl);
    grpc_completion_queue_next(cl->watch_cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                               NULL);
    return cjx_client_state(cl, 0);
}
