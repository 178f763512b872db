/* The services cjxd answers, independent of the transport.
 *
 * The transport (rpc) identifies the caller, asks cjx_service_authorize(),
 * decodes the request with the method's descriptor and hands it to the
 * method's handler; everything after that — county scope, validation, the
 * store — happens here, behind struct cjx_call. */
#ifndef CJX_SERVICE_H
#define CJX_SERVICE_H

#include <stddef.h>

#include "cjx/authz.h"
#include "cjx/call.h"
#include "cjx/method.h"
#include "cjx/store.h"

struct cjx_service;

/* Handlers of one method. A unary method sets unary; a client-streaming one
 * sets stream_begin/on_message/on_end; a server-streaming one sets
 * server_stream/on_sent. on_cancel, when set, runs once if the client goes
 * away or the server shuts down before the handler ended the call. Requests
 * are borrowed for the duration of the handler only. */
struct cjx_handler {
    const struct cjx_method *method;
    void (*unary)(struct cjx_call *c, const ProtobufCMessage *req);
    void (*stream_begin)(struct cjx_call *c);
    void (*on_message)(struct cjx_call *c, const ProtobufCMessage *req);
    void (*on_end)(struct cjx_call *c);
    void (*server_stream)(struct cjx_call *c, const ProtobufCMessage *req);
    void (*on_sent)(struct cjx_call *c, int ok);
    void (*on_cancel)(struct cjx_call *c);
};

/* The peers a daemon delivers to, for GetStatus: the source calls visit
 * once per peer with its ORI, endpoint and failed delivery calls in a row
 * (include/cjx/delivery.h's cjx_delivery_peers has this shape). */
typedef int (*cjx_service_peer_fn)(void *arg, const char *ori,
                                   const char *endpoint, int failed_calls);
typedef void (*cjx_service_peers_fn)(void *src, cjx_service_peer_fn visit,
                                     void *arg);
struct cjx_service;
/* Installs the source (NULL: no peers are listed). src is borrowed until it
 * is replaced; a call in progress finishes before this returns. */
void cjx_service_set_peer_source(struct cjx_service *svc,
                                 cjx_service_peers_fn fn, void *src);

/* Creates the services over an open store (borrowed; must outlive them).
 * Returns 0 or CJX_ENOMEM. */
int cjx_service_new(struct cjx_store *store, struct cjx_service **out);
/* Puts conf in force for the services (they take a reference of their
 * own): its rule sets (conf->rules; NULL: none) validate incoming messages
 * and answer RulesService. Work already running keeps the configuration it
 * started with. Cannot fail. */
void cjx_service_set_conf(struct cjx_service *svc, const struct cjx_conf *conf);

/* The configuration the services run on, with a reference for the caller
 * (cjx_conf_unref; NULL before the first cjx_service_set_conf). */
const struct cjx_conf *cjx_service_conf(struct cjx_service *svc);

/* Turns the health status NOT_SERVING (Watch streams are told, then end),
 * ends every open follow stream (clients may resume from their cursor) and
 * refuses new ones: the first step of a graceful shutdown. */
void cjx_service_shutdown(struct cjx_service *svc);
/* Accepts NULL. Every call must be over. */
void cjx_service_free(struct cjx_service *svc);

/* The handler table: every method cjxd serves, in a stable order. */
size_t cjx_service_handler_count(void);
const struct cjx_handler *cjx_service_handler(size_t i);
/* Handler for a method path, or NULL (the transport answers UNIMPLEMENTED). */
const struct cjx_handler *cjx_service_find(const char *path);

/* Records the audit event of a call that is over (include/cjx/audit.h),
 * unless its handler's store write already did (c->audit.recorded). The
 * transport calls it exactly once for every call it dispatched, refused
 * ones included, when the call is over; method_path names the method when
 * c->method is NULL (a path no handler serves); status_code is the gRPC
 * status the call ended with. The entry is queued, not waited for. */
void cjx_service_audit_call(struct cjx_service *svc, const struct cjx_call *c,
                            const char *method_path, int status_code,
                            const char *status_message, int64_t bytes_out);

/* Method-level authorization of the call's caller: DENY, ALLOW, or
 * OWN_COUNTY (the handler then restricts objects to the caller's county).
 * Local operator calls get ALLOW where the local table permits them. */
enum cjx_access cjx_service_authorize(const struct cjx_call *c);

#endif
