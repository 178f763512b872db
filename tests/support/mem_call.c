/* In-memory call: ops that record the outcome instead of sending it. */
#include "mem_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cjx/wire.h"

static struct mem_call *
mem(struct cjx_call *c)
{
    return (struct mem_call *)c;
}

static void
end_locked(struct mem_call *mc, int status, const char *message)
{
    if (mc->ended)
        return;
    mc->ended = 1;
    mc->status = status;
    snprintf(mc->message, sizeof(mc->message), "%s", message ? message : "");
    pthread_cond_broadcast(&mc->cv);
}

static void
op_reply(struct cjx_call *c, const ProtobufCMessage *msg)
{
    struct mem_call *mc = mem(c);
    pthread_mutex_lock(&mc->mu);
    if (!mc->ended) {
        mc->reply_len = protobuf_c_message_get_packed_size(msg);
        mc->reply = malloc(mc->reply_len ? mc->reply_len : 1);
        protobuf_c_message_pack(msg, mc->reply);
    }
    end_locked(mc, 0, NULL);
    pthread_mutex_unlock(&mc->mu);
}

static void
op_fail(struct cjx_call *c, int err, const char *detail)
{
    struct mem_call *mc = mem(c);
    pthread_mutex_lock(&mc->mu);
    end_locked(mc, cjx_err_status_code(err), detail);
    pthread_mutex_unlock(&mc->mu);
}

static int
op_send(struct cjx_call *c, const ProtobufCMessage *msg)
{
    struct mem_call *mc = mem(c);
    size_t len = protobuf_c_message_get_packed_size(msg);
    pthread_mutex_lock(&mc->mu);
    int over = mc->ended;
    if (!over) {
        if (mc->sent < MEM_CALL_KEPT) {
            mc->sent_msg[mc->sent] = malloc(len ? len : 1);
            mc->sent_len[mc->sent] = len;
            protobuf_c_message_pack(msg, mc->sent_msg[mc->sent]);
        }
        mc->sent++;
        /* Completed from mem_call_run's loop, not from here: a handler that
         * sends again from on_sent must not recurse once per message. */
        mc->send_pending = 1;
        pthread_cond_broadcast(&mc->cv);
    }
    pthread_mutex_unlock(&mc->mu);
    return over ? CJX_ECLOSED : 0;
}

static void
op_finish(struct cjx_call *c)
{
    struct mem_call *mc = mem(c);
    pthread_mutex_lock(&mc->mu);
    end_locked(mc, 0, NULL);
    pthread_mutex_unlock(&mc->mu);
}

static void
op_request_next(struct cjx_call *c)
{
    struct mem_call *mc = mem(c);
    pthread_mutex_lock(&mc->mu);
    /* Delivered from mem_call_run's loop, as a completion queue would. */
    if (!mc->ended) {
        mc->recv_pending = 1;
        pthread_cond_broadcast(&mc->cv);
    }
    pthread_mutex_unlock(&mc->mu);
}

static void
op_ref(struct cjx_call *c)
{
    struct mem_call *mc = mem(c);
    pthread_mutex_lock(&mc->mu);
    mc->refs++;
    pthread_mutex_unlock(&mc->mu);
}

static void
op_unref(struct cjx_call *c)
{
    struct mem_call *mc = mem(c);
    pthread_mutex_lock(&mc->mu);
    mc->refs--;
    pthread_cond_broadcast(&mc->cv);
    pthread_mutex_unlock(&mc->mu);
}

static int
op_take_token(struct cjx_call *c, int64_t *retry_after_ms)
{
    struct mem_call *mc = mem(c);
    pthread_mutex_lock(&mc->mu);
    int ok = !mc->rate_limited || mc->tokens > 0;
    mc->token_asks++;
    if (ok && mc->rate_limited)
        mc->tokens--;
    else if (!ok)
        *retry_after_ms = mc->retry_after_ms;
    pthread_mutex_unlock(&mc->mu);
    return ok;
}

static const struct cjx_call_ops mem_ops = {
    .reply = op_reply,
    .fail = op_fail,
    .send = op_send,
    .finish = op_finish,
    .request_next = op_request_next,
    .ref = op_ref,
    .unref = op_unref,
    .take_token = op_take_token,
};

void
mem_call_init(struct mem_call *mc, struct cjx_service *svc,
              struct cjx_conf *conf, const struct cjx_handler *h,
              const struct cjx_agency *agency)
{
    memset(mc, 0, sizeof(*mc));
    mc->handler = h;
    mc->base.ops = &mem_ops;
    mc->base.method = h->method;
    mc->base.service = svc;
    mc->base.conf = conf;
    cjx_arena_init(&mc->arena_storage, NULL, 0, 64 * 1024 * 1024);
    mc->base.arena = &mc->arena_storage;
    if (agency == NULL) {
        mc->base.caller.local = 1;
        mc->base.caller.agency =
            cjx_registry_find(&conf->registry, conf->agency);
        snprintf(mc->base.caller.peer, sizeof(mc->base.caller.peer), "local");
    } else {
        mc->base.caller.agency = agency;
        snprintf(mc->base.caller.peer, sizeof(mc->base.caller.peer),
                 "ipv4:127.0.0.1:1");
    }
    pthread_mutex_init(&mc->mu, NULL);
    pthread_cond_init(&mc->cv, NULL);
}

int
mem_call_run(struct mem_call *mc, const ProtobufCMessage *req)
{
    struct cjx_call *c = &mc->base;
    c->access = cjx_service_authorize(c);
    if (c->access == CJX_ACCESS_DENY) {
        op_fail(c, CJX_EPERM, "denied");
    } else if (c->method->client_streaming) {
        mc->handler->stream_begin(c);
    } else if (c->method->server_streaming) {
        mc->handler->server_stream(c, req);
    } else {
        mc->handler->unary(c, req);
    }
    pthread_mutex_lock(&mc->mu);
    while (!mc->ended || mc->refs > 0 || mc->send_pending || mc->recv_pending) {
        if (mc->recv_pending) {
            mc->recv_pending = 0;
            int more = !mc->ended && mc->next < mc->n_stream;
            pthread_mutex_unlock(&mc->mu);
            if (more)
                mc->handler->on_message(c, mc->stream[mc->next++]);
            else
                mc->handler->on_end(c);
            pthread_mutex_lock(&mc->mu);
            continue;
        }
        if (mc->send_pending) {
            mc->send_pending = 0;
            pthread_mutex_unlock(&mc->mu);
            mc->handler->on_sent(c, 1);
            pthread_mutex_lock(&mc->mu);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 2;
        if (pthread_cond_timedwait(&mc->cv, &mc->mu, &until) != 0 &&
            !mc->ended && mc->handler->on_cancel != NULL) {
            /* Nothing moved for a while (a follow stream waiting for
             * commits): the client goes away, as a real one would. */
            pthread_mutex_unlock(&mc->mu);
            mc->handler->on_cancel(c);
            pthread_mutex_lock(&mc->mu);
            end_locked(mc, 1, "cancelled");
        }
    }
    pthread_mutex_unlock(&mc->mu);
    return mc->status;
}

int
mem_call_run_wire(struct mem_call *mc, const uint8_t *data, size_t len)
{
    struct cjx_call *c = &mc->base;
    /* The transport identifies and authorizes before it decodes. */
    if (cjx_service_authorize(c) == CJX_ACCESS_DENY)
        return mem_call_run(mc, NULL);
    ProtobufCMessage *req = NULL;
    struct cjx_errbuf eb;
    int err = cjx_wire_decode(c->method->input, data, len, c->arena, &req, &eb);
    if (err != 0) {
        op_fail(c, err == CJX_ENOMEM ? CJX_ELIMIT : CJX_EINVAL, eb.msg);
        return mc->status;
    }
    return mem_call_run(mc, req);
}

int
mem_call_wait_sent(struct mem_call *mc, int n)
{
    pthread_mutex_lock(&mc->mu);
    while (mc->sent < n && !mc->ended)
        pthread_cond_wait(&mc->cv, &mc->mu);
    int sent = mc->sent;
    pthread_mutex_unlock(&mc->mu);
    return sent;
}

void
mem_call_fini(struct mem_call *mc)
{
    free(mc->reply);
    for (int i = 0; i < mc->sent && i < MEM_CALL_KEPT; i++)
        free(mc->sent_msg[i]);
    cjx_arena_fini(&mc->arena_storage);
    pthread_cond_destroy(&mc->cv);
    pthread_mutex_destroy(&mc->mu);
}
