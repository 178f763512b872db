/* The engine behind the service's follow streams (WatchRecords, WatchCases,
 * TailAudit and ExportAudit), private to the service module.
 *
 * A stream reads items in batches after its cursor and sends them one at a
 * time (one send in flight, as gRPC requires). When it has caught up and the
 * client asked to follow, it parks in its hub; a store commit hook wakes the
 * hub. What an item is, how a batch is read and how an item is sent is the
 * feed's business, given by a table of operations. */
#ifndef CJX_SERVICE_FOLLOW_H
#define CJX_SERVICE_FOLLOW_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cjx/service.h"

struct follow;
struct cjx_errbuf;
struct page_budget;

/* The streams of one feed: those parked until the store commits something
 * newer, and every open one, for shutdown. */
struct follow_hub {
    pthread_mutex_t mu;
    struct follow *parked; /* singly linked through next_parked */
    struct follow *active; /* every open stream */
    int closed;
};

/* What a feed does with its own state (feed, owned by the stream) and its
 * items (item_size bytes each, batch of them per stream). */
struct follow_ops {
    size_t item_size;
    int batch;
    /* Reads the next items after the feed's cursor into items (zeroed, room
     * for batch), taking the bytes each holds from budget and stopping
     * before the first that does not fit (page_budget_take), so that a
     * stream holds at most limits.stream_buffer_bytes however slowly its
     * client reads. Sets *n and moves the cursor past what it read only.
     * Returns 0 or a CJX_E code with detail in eb. */
    int (*read)(void *feed, struct cjx_store *store, void *items, int *n,
                struct page_budget *budget, struct cjx_errbuf *eb);
    /* Sends one item on c, building the message in arena (reset). Returns 0
     * when the send is in flight, else a CJX_E code. */
    int (*send)(void *feed, struct cjx_call *c, struct cjx_arena *arena,
                const void *item);
    /* Frees what an item holds and zeroes it. */
    void (*clear)(void *item);
    /* The feed's cursor, and the newest position in the store: a parked
     * stream looks again when the store is past its cursor. */
    int64_t (*cursor)(const void *feed);
    int64_t (*newest)(struct cjx_store *store);
    void (*free_feed)(void *feed);
    const char *log_module;
    const char *read_failed;  /* logged before the store's detail */
    const char *read_refused; /* the client's detail for a failed read */
    const char *send_refused; /* the client's detail for a failed send */
};

void follow_hub_init(struct follow_hub *hub);
void follow_hub_fini(struct follow_hub *hub);
/* Wakes the parked streams: they read what the store committed. */
void follow_hub_wake(struct follow_hub *hub);
/* Ends every parked stream with UNAVAILABLE and refuses new ones; a stream
 * with a send in flight ends when it next parks. */
void follow_hub_close(struct follow_hub *hub);

/* Starts the stream of call c in hub, reading with ops; once caught up it
 * parks if follow is set, else it finishes. Takes feed (freed with
 * ops->free_feed, also when the start fails); ops is borrowed and must
 * outlive the stream. */
void follow_start(struct cjx_call *c, struct follow_hub *hub,
                  const struct follow_ops *ops, void *feed, int follow);
/* The stream handlers' on_sent and on_cancel. */
void follow_on_sent(struct cjx_call *c, int ok);
void follow_on_cancel(struct cjx_call *c);

#endif
