/* An in-memory struct cjx_call: drives service handlers without gRPC, for
 * unit tests and fuzz targets. */
#ifndef CJX_TEST_MEM_CALL_H
#define CJX_TEST_MEM_CALL_H

#include <pthread.h>

#include "cjx/call.h"
#include "cjx/service.h"

#define MEM_CALL_KEPT 16

struct mem_call {
    struct cjx_call base;
    const struct cjx_handler *handler;
    struct cjx_arena arena_storage;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int ended;
    int status;        /* google.rpc.Code the call ended with */
    char message[512]; /* its detail */
    uint8_t *reply;    /* packed reply (unary, client streaming) */
    size_t reply_len;
    int sent; /* server-streaming messages sent */
    /* The first MEM_CALL_KEPT of them, packed (free'd by mem_call_fini). */
    uint8_t *sent_msg[MEM_CALL_KEPT];
    size_t sent_len[MEM_CALL_KEPT];
    int send_pending; /* a send waits for its completion */
    int recv_pending; /* the handler asked for the next message */
    /* Client streaming: the messages to feed, already decoded. */
    ProtobufCMessage **stream;
    size_t n_stream, next;
    /* The caller's rate limit as take_token sees it: when rate_limited is
     * set, tokens are handed out until none is left (then a wait of
     * retry_after_ms); otherwise there is no limit. */
    int rate_limited;
    int tokens;
    int token_asks; /* take_token calls, granted or not */
    int64_t retry_after_ms;
};

/* Prepares a call of handler h from a caller. agency NULL = the local
 * operator (conf's own agency); access is decided by cjx_service_authorize. */
void mem_call_init(struct mem_call *mc, struct cjx_service *svc,
                   struct cjx_conf *conf, const struct cjx_handler *h,
                   const struct cjx_agency *agency);

/* Runs the call with one request (unary, server streaming) or the prepared
 * stream (client streaming) and waits until it has ended and every
 * reference is gone. Returns the status code. A denied caller ends with
 * PERMISSION_DENIED before the handler runs, as over gRPC. */
int mem_call_run(struct mem_call *mc, const ProtobufCMessage *req);

/* Runs the call as the transport does with request bytes: decodes them into
 * the call's arena with cjx_wire_decode (include/cjx/wire.h) and ends the
 * call with its INVALID_ARGUMENT (or RESOURCE_EXHAUSTED) when they are not
 * a valid request, else runs it with mem_call_run. Not for client-streaming
 * methods. Returns the status code. */
int mem_call_run_wire(struct mem_call *mc, const uint8_t *data, size_t len);

/* Waits, from another thread than the one in mem_call_run, until the call
 * has sent n messages or ended. Returns the number sent. */
int mem_call_wait_sent(struct mem_call *mc, int n);

/* Releases what the call holds. */
void mem_call_fini(struct mem_call *mc);

#endif
