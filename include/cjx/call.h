/* The interface between the transport and the services: one incoming call.
 *
 * The rpc module implements it over gRPC; tests and fuzz targets implement it
 * in memory, so that every service handler runs without a network. A handler
 * never sees gRPC: it reads the decoded request and the caller, and ends the
 * call with reply() or fail(), possibly later and from another thread (a
 * durable write completes on the store's completion thread). */
#ifndef CJX_CALL_H
#define CJX_CALL_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "cjx/arena.h"
#include "cjx/conf.h"
#include "cjx/method.h"
#include "cjx/tls.h"

/* Who is calling. For the local operator API the agency is the daemon's own
 * and local is set; for mTLS peers it is the registered agency named by the
 * verified certificate. */
struct cjx_caller {
    const struct cjx_agency *agency; /* borrowed from the call's registry */
    int local;
    char fingerprint[CJX_FINGERPRINT_HEX_LEN + 1]; /* "" for local */
    char peer[64];                                 /* "ipv4:127.0.0.1:5555" */
};

/* What the audit log records of a call besides its caller, method and
 * outcome (include/cjx/audit.h). */
struct cjx_call_audit {
    /* The objects the call concerns, set by its handler once it knows them.
     * Borrowed: they must stay valid until the call ends (point into the
     * request of a unary call, or into the call's arena). */
    const char *request_id;
    const char *cii;
    const char *court_case_number;
    int32_t count_number;
    int64_t bytes_in; /* request bytes received; kept by the transport */
    /* Added to the outcome message of the call's own entry: what became of
     * the messages of a batch that were refused (which have no entries of
     * their own). Borrowed, like the ids above; NULL for none. */
    const char *note;
    /* When set, the audit entry's outcome message in place of the status
     * message the caller gets: what the caller must not learn but the log
     * must keep (another county's record exists; a sealed record). */
    const char *hidden_reason;
    /* Set by a handler whose store write carries the call's event in its
     * own transaction, and cleared again if the write did not commit it:
     * when set, the transport records nothing more for the call. */
    int recorded;
};

struct cjx_call;
struct cjx_service;

struct cjx_call_ops {
    /* Ends the call with OK and one reply message (unary and client-streaming
     * methods). The message is packed before returning: it may be freed then. */
    void (*reply)(struct cjx_call *c, const ProtobufCMessage *msg);
    /* Ends the call with the status that err maps to and detail as message. */
    void (*fail)(struct cjx_call *c, int err, const char *detail);
    /* Server streaming: sends one message. At most one send is in flight; the
     * handler's on_sent runs when it completes. Returns 0 or CJX_ECLOSED if
     * the call is already over. */
    int (*send)(struct cjx_call *c, const ProtobufCMessage *msg);
    /* Server streaming: ends the stream with OK. */
    void (*finish)(struct cjx_call *c);
    /* Client streaming: asks for the next request message; the handler's
     * on_message runs with it, or on_end when the client has half-closed.
     * Handlers call it to apply back-pressure. */
    void (*request_next)(struct cjx_call *c);
    /* Takes a reference so that the call outlives an asynchronous completion
     * (a store write); unref drops it. The call ends when reply/fail/finish
     * has been called and every reference is dropped. */
    void (*ref)(struct cjx_call *c);
    void (*unref)(struct cjx_call *c);
    /* Counts one more message of a batch or stream against the caller's
     * per-agency rate limit (limits.rate_limit_per_agency), from which the
     * call itself took one token as it arrived. Returns 1 when the message
     * may be handled; 0 when the agency's bucket is empty, with the
     * milliseconds until its next token (at least 1) in *retry_after_ms.
     * The local operator is never limited. Safe from any thread. */
    int (*take_token)(struct cjx_call *c, int64_t *retry_after_ms);
};

struct cjx_call {
    const struct cjx_call_ops *ops;
    const struct cjx_method *method;
    struct cjx_caller caller;
    struct cjx_service *service; /* the services answering it */
    /* The configuration the call started under: a reference held until it
     * ends, so a reload in between changes nothing the call sees. */
    const struct cjx_conf *conf;
    struct cjx_arena *arena; /* freed when the call ends */
    int access;              /* enum cjx_access granted to the caller */
    void *state;             /* the handler's per-call state */
    struct cjx_call_audit audit;
};

#endif
