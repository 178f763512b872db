/* Private structures of the gRPC server. */
#ifndef CJX_RPC_INTERNAL_H
#define CJX_RPC_INTERNAL_H

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cjx/call.h"
#include "cjx/rpc.h"

#define IDENTITY_CACHE_SLOTS 64

/* Certificates already identified, so a connection's calls parse its
 * certificate once. Keyed by the PEM text itself; an entry counts only for
 * calls under the configuration generation that checked it (its registry,
 * trust domain and CRLs), so a reload refuses on connections opened before
 * what the new configuration refuses. */
struct identity_cache {
    pthread_mutex_t mu;
    struct {
        char *pem;
        size_t pem_len;
        uint64_t generation;
        struct cjx_peer_identity id;
    } slot[IDENTITY_CACHE_SLOTS];
};

enum tag_kind {
    TAG_NEW,      /* a call arrived (or the request was cancelled) */
    TAG_RECV,     /* a client-stream message arrived */
    TAG_SEND,     /* a server-stream message was sent */
    TAG_FINAL,    /* the status went out */
    TAG_CLOSE,    /* the call is over on the server side */
    TAG_SHUTDOWN, /* the server finished shutting down */
};

struct rpc_tag {
    enum tag_kind kind;
    struct rpc_call *call;
};

/* A method as registered with gRPC core. */
struct rpc_method {
    const struct cjx_handler *handler;
    void *registration;
};

struct revocation;
struct ratelimit;
struct streamcount;

struct rpc_call {
    struct cjx_call base; /* first: handlers see only this */
    struct cjx_rpc_server *srv;
    struct rpc_method *method; /* NULL for an unregistered path */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload; /* first request of unary/server streaming */
    grpc_call_details details; /* unregistered calls only */
    grpc_byte_buffer *recv_buf;
    grpc_byte_buffer *send_buf;
    grpc_byte_buffer *final_buf;
    grpc_slice status_details;
    int cancelled;
    struct rpc_tag t_new, t_recv, t_send, t_final, t_close;
    pthread_mutex_t mu; /* serialises batches on this call */
    atomic_int refs;
    int initial_md_sent;
    int close_started;  /* RECV_CLOSE_ON_SERVER is already posted */
    int sending;        /* a SEND_MESSAGE batch is in flight */
    int ended;          /* reply, fail or finish was called */
    int final_deferred; /* final status waits for the send in flight */
    grpc_status_code final_code;
    /* What the audit log records when the call is over (call.c). */
    int dispatched; /* a call arrived and was answered */
    int status_set; /* the final status was sent: status */
    grpc_status_code status;
    int64_t bytes_out; /* response bytes sent */
    /* For the metrics: when the call arrived (monotonic), and the messages
     * received and sent. */
    int64_t started_us;
    int64_t msgs_in, msgs_out;
    /* Streams (call.c): counted against the connection's and the agency's
     * limits while open, and listed for the idle sweep. wait_since_us is
     * when the call began waiting on its client (a message posted to
     * read, or a sent one not taken), 0 when it is not. */
    int stream_counted;
    int stream_listed;
    struct rpc_call *next_stream, *prev_stream; /* under srv->streams_mu */
    atomic_llong wait_since_us;                 /* monotonic */
    struct cjx_arena arena;                     /* the call's memory */
    struct cjx_arena
        msg_arena; /* each client-stream message, reset per message */
    char arena_buf[2048];
};

struct cjx_rpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t *threads;
    int n_threads;
    struct rpc_method *methods;
    size_t n_methods;
    struct cjx_service *service;
    struct cjx_metrics *metrics; /* NULL: not counted */
    int port;
    int drain_grace_ms;
    char *local_socket;
    atomic_int shutting_down;
    struct rpc_tag t_shutdown;
    pthread_mutex_t mu; /* guards the shutdown flag and count below */
    pthread_cond_t cond;
    int shutdown_done;
    int live_calls; /* rpc_call objects not yet freed, under mu */
    /* The configuration calls start under; each call takes its own
     * reference, in base.conf, for as long as it runs. */
    struct cjx_conf_slot conf;
    struct identity_cache identities;
    /* The credentials gRPC's file-watcher provider re-reads: in-memory
     * files at /proc/self/fd/N, replaced whole on reload (server.c). */
    int identity_fd, roots_fd;
    char identity_path[32], roots_path[32];
    long tls_generation;
    int64_t tls_epoch_s;
    struct revocation *revocation; /* the CRLs the handshake checks */
    struct ratelimit *ratelimit;   /* per-agency buckets, kept over reloads */
    struct streamcount *conn_streams;   /* open streams by peer address */
    struct streamcount *agency_streams; /* open streams by ORI */
    pthread_mutex_t streams_mu;         /* guards the list below */
    struct rpc_call *streams;           /* every open streaming call */
    atomic_llong last_sweep_us;         /* monotonic */
    atomic_llong *heartbeat_us;         /* per queue thread, monotonic */
    atomic_int next_worker;
    size_t max_message_bytes;
};

/* Identifies the caller of call under the configuration conf (its
 * registry, trust domain and CRLs), through cache. Returns 0, or
 * CJX_EUNAUTH with the reason in eb. */
int identity_of_call(grpc_call *call, const struct cjx_conf *conf,
                     struct identity_cache *cache, struct cjx_caller *out,
                     struct cjx_errbuf *eb);
void identity_cache_init(struct identity_cache *cache);
void identity_cache_fini(struct identity_cache *cache);

/* 1 if agency ori may make one more call now under conf's
 * limits.rate_limit_per_agency (a bucket of one second's worth); 0 with the
 * wait before the next in *retry_after_ms. (server.c) */
int server_rate_allows(struct cjx_rpc_server *srv, const struct cjx_conf *conf,
                       const char *ori, int64_t *retry_after_ms);

/* Ends the streams that have waited on their client longer than
 * limits.stream_idle_timeout_s: DEADLINE_EXCEEDED, saying which wait it was.
 * Called now and then by a queue thread (call.c). */
void rpc_streams_sweep(struct cjx_rpc_server *srv, int64_t now_us);

/* Call lifecycle (call.c). */
struct rpc_call *rpc_call_new(struct cjx_rpc_server *srv,
                              struct rpc_method *method);
void rpc_call_on_event(struct rpc_call *rc, enum tag_kind kind, int success);
void rpc_call_unref(struct rpc_call *rc);
/* Posts a request for the next call of method (NULL: unregistered paths). */
int rpc_request_call(struct cjx_rpc_server *srv, struct rpc_method *method);

#endif
