/* A blocking gRPC client for cjxctl, tests and benchmarks. */
#ifndef CJX_CLIENT_H
#define CJX_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "cjx/error.h"
#include "cjx/method.h"

struct cjx_client;
struct cjx_client_stream;

/* The status a call ended with, as the server (or the channel) said it. */
struct cjx_client_status {
    int code;          /* gRPC status code, 0 = OK */
    char message[512]; /* the server's message */
};

/* Name of a gRPC status code ("PERMISSION_DENIED"). */
const char *cjx_client_code_name(int code);

/* Connects to a daemon's local socket. Returns a new client; free with
 * cjx_client_free(). Connection happens lazily on the first call. */
int cjx_client_connect_local(const char *socket_path, struct cjx_client **out,
                             struct cjx_errbuf *eb);

/* Connects over mTLS. cert_pem/key_pem may be NULL for a client without a
 * certificate (refused by cjxd; used by tests). PEM text is copied. */
int cjx_client_connect_tls(const char *target, const char *ca_pem,
                           const char *cert_pem, const char *key_pem,
                           struct cjx_client **out, struct cjx_errbuf *eb);

/* Connects over mTLS to a peer daemon whose registry endpoint (see
 * cjxd.conf(5)) is one host:port, or several IP address:port of one
 * agency's replicas separated by commas (all IPv4 or all bracketed IPv6).
 * Calls go round-robin over every address (all those a host name resolves
 * to, or the listed ones), skipping those whose health check does not say
 * SERVING. tls_name (NULL or "": the endpoint's host) is the name every
 * replica's certificate must carry. A peer that is down is dialled again
 * every few seconds at most. */
int cjx_client_connect_peer(const char *endpoint, const char *tls_name,
                            const char *ca_pem, const char *cert_pem,
                            const char *key_pem, struct cjx_client **out,
                            struct cjx_errbuf *eb);

/* Accepts NULL. */
void cjx_client_free(struct cjx_client *cl);

/* A client's connectivity, as gRPC names the states of a channel. */
enum cjx_client_state {
    CJX_CLIENT_IDLE,
    CJX_CLIENT_CONNECTING,
    CJX_CLIENT_READY,
    CJX_CLIENT_TRANSIENT_FAILURE,
    CJX_CLIENT_SHUTDOWN,
};

/* The state now; with try_to_connect an idle client starts connecting. */
enum cjx_client_state cjx_client_state(struct cjx_client *cl,
                                       int try_to_connect);

/* Waits until the state is other than last, or timeout_ms (> 0) passed,
 * and returns the state then (last if nothing changed). One thread at a
 * time may wait on a client; calls go on meanwhile. */
enum cjx_client_state cjx_client_await_state(struct cjx_client *cl,
                                             enum cjx_client_state last,
                                             int timeout_ms);

/* Cancels the unary calls in progress on cl (from any thread) and makes
 * every later one fail at once with CANCELLED: how a worker blocked in a
 * call is stopped. Accepts NULL. */
void cjx_client_cancel(struct cjx_client *cl);

/* One unary call. Several threads may make calls through one client at
 * once. Returns 0 when the call completed (st says how; with OK,
 * *resp is a new message to free with protobuf_c_message_free_unpacked(resp,
 * NULL)), or a negative CJX code for a local failure. */
int cjx_client_unary(struct cjx_client *cl, const struct cjx_method *m,
                     const ProtobufCMessage *req, int timeout_ms,
                     ProtobufCMessage **resp, struct cjx_client_status *st);

/* Like cjx_client_unary with raw bytes both ways (tests send malformed
 * messages with it). *resp is malloc'd; free(). */
int cjx_client_unary_raw(struct cjx_client *cl, const char *path,
                         const void *req, size_t len, int timeout_ms,
                         void **resp, size_t *resp_len,
                         struct cjx_client_status *st);

/* Opens a streaming call. For a server-streaming method pass its request;
 * for a client-streaming one pass NULL and write messages. timeout_ms 0 =
 * no deadline. */
int cjx_client_stream_open(struct cjx_client *cl, const struct cjx_method *m,
                           const ProtobufCMessage *req, int timeout_ms,
                           struct cjx_client_stream **out);
/* Client streaming: sends one message. 0 or CJX_ECLOSED if the call ended. */
int cjx_client_stream_write(struct cjx_client_stream *s,
                            const ProtobufCMessage *msg);
/* Server streaming: 1 with a new message in *msg, 0 at the end of the stream
 * (then finish gives the status), or a negative code. */
int cjx_client_stream_read(struct cjx_client_stream *s, ProtobufCMessage **msg);
/* Ends the call: half-closes (client streaming), receives the response if
 * the method has one, and the status. */
int cjx_client_stream_finish(struct cjx_client_stream *s,
                             ProtobufCMessage **resp,
                             struct cjx_client_status *st);
/* Cancels if still running, and frees. Accepts NULL. */
void cjx_client_stream_free(struct cjx_client_stream *s);

#endif
