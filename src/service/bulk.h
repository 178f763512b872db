/* The engine behind the service's batch calls, private to the service
 * module: the client streams SubmitRecords, NotifyCandidates and OrderBulk,
 * and the Deliver batch a peer sends in one request.
 *
 * Each message of a batch is counted against the caller's rate limit
 * (batch_guard.h), then checked and queued to the store by the batch's
 * operations; the engine keeps every message's outcome in arrival order
 * and, once no more messages will come and every queued write is done,
 * replies with all of them in one message. What a message is, how it is
 * checked and written and what its result and the reply look like is the
 * operations' business, given by a table (as follow.h does for the watch streams).
 *
 * A stream reads one message at a time and stops reading while
 * BULK_WINDOW writes of it are queued; it reads again once fewer than half
 * of them are. It holds at most limits.bulk_max_messages messages (from the
 * call's configuration, read as the stream begins). The message after them
 * ends the call with RESOURCE_EXHAUSTED "limits.bulk_max_messages: more
 * than N messages in one <method> stream; split them into several streams"
 * and nothing more is read: the messages before it are not answered, but
 * their writes still complete and stay applied, and their refusals are
 * counted in the call's audit note like those of a finished stream.
 *
 * After on_cancel (the client went away) nothing more is read and no reply
 * is built; a read that fails ends the stream as a half-close does, and the
 * transport drops the reply to a call that is already over. Queued writes
 * complete either way. The state, and the call's reference the engine
 * holds, are released once the call's outcome is given (or the call is
 * cancelled) and no write is queued.
 *
 * Threads: the transport runs on_message and on_end for one call one at a
 * time, since the engine asks for the next message only once the last one
 * is handled; write completions come from a store thread, possibly before
 * the operation that queued them has returned. One lock per batch guards
 * the engine's state; the operations but result and reply run without
 * it. */
#ifndef CJX_SERVICE_BULK_H
#define CJX_SERVICE_BULK_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "cjx/service.h"

/* Writes of one stream queued at once before reading pauses: one full
 * group commit of the store (its default max_batch), so that a single
 * stream can keep the writer's transactions full. */
#define BULK_WINDOW 1024

struct bulk;
struct cjx_errbuf;

/* One message of a batch and what became of it. Its address is stable
 * until the batch is released. */
struct bulk_item {
    struct bulk *bulk;
    char *request_id; /* copied from the message; NULL if it names none */
    int code;         /* google.rpc.Code of its outcome: 0 accepted */
    char *message;    /* why it was refused; NULL when accepted */
    int retry_later;  /* refused for now: the sender sends it again */
    /* ops->extra_size bytes, zeroed, for what the reply needs of it. */
    alignas(max_align_t) unsigned char extra[];
};

struct bulk_ops {
    size_t extra_size;
    /* The request id msg names (borrowed from msg), or NULL. */
    const char *(*request_id)(const ProtobufCMessage *msg);
    /* Checks msg and queues its store write, filling item->extra with what
     * the reply needs. msg is borrowed for this call only; scratch is an
     * arena reset before each message, for what the write borrows until
     * the store has copied it. Returns 0 when the write is queued: its
     * completion then calls bulk_item_done(item, ...) exactly once, from
     * any thread. Otherwise nothing is queued and it returns the refusal's
     * CJX_E code with the detail (naming the field) in eb, setting
     * *retry_later when the sender should send the message again. */
    int (*submit)(struct cjx_call *c, const ProtobufCMessage *msg,
                  struct bulk_item *item, struct cjx_arena *scratch,
                  struct cjx_errbuf *eb, int *retry_later);
    /* The result message of item for the reply, built in arena; NULL when
     * out of memory. Runs with the batch's lock held. */
    ProtobufCMessage *(*result)(struct cjx_arena *arena,
                                const struct bulk_item *item);
    /* Ends c with the one reply: results[0..n) are the messages' results in
     * arrival order (protobuf-c keeps a repeated message field as such an
     * array), accepted of them with code 0. Runs with the batch's lock
     * held. */
    void (*reply)(struct cjx_call *c, ProtobufCMessage **results, size_t n,
                  size_t accepted);
    /* Frees what item->extra holds; NULL when it holds nothing to free. */
    void (*clear)(struct bulk_item *item);
};

/* The handlers of a client-streaming method: stream_begin calls
 * bulk_stream_begin with the method's ops; on_message, on_end and
 * on_cancel are these. ops is borrowed and must outlive the stream. */
void bulk_stream_begin(struct cjx_call *c, const struct bulk_ops *ops);
void bulk_on_message(struct cjx_call *c, const ProtobufCMessage *msg);
void bulk_on_end(struct cjx_call *c);
void bulk_on_cancel(struct cjx_call *c);

/* Handles the n messages of one request (msgs and the messages borrowed
 * for this call only) as a batch that has ended after them: each is
 * admitted, submitted and answered as a stream's would be, and c is
 * replied to once every write is done. */
void bulk_run(struct cjx_call *c, const struct bulk_ops *ops,
              const ProtobufCMessage *const *msgs, size_t n);

/* What every result message of a batch says of item, borrowed from it: its
 * request id and why it was refused ("" for none), and its status code. */
void bulk_item_outcome(const struct bulk_item *item, char **request_id,
                       int32_t *code, char **message);

/* The audit event of one message of c's batch: the call's caller and
 * method and the message's own ids. ev borrows from c and ids. Its
 * bytes_in is left 0 for the caller to set to the message's packed size,
 * which a caller that packs the message anyway knows without measuring it
 * a second time. */
struct cjx_audit_event;
void bulk_item_event(const struct cjx_call *c, const struct cjx_call_audit *ids,
                     struct cjx_audit_event *ev);

/* The write of item is over: err is 0 or its CJX_E code, detail (NULL: the
 * code's text) is copied, retry_later as for ops->submit. Called exactly
 * once for every item whose submit returned 0, from any thread; item is
 * not to be touched afterwards. */
void bulk_item_done(struct bulk_item *item, int err, const char *detail,
                    int retry_later);

#endif
