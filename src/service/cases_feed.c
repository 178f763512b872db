/* CaseService/WatchCases: the case feed, resumable from a cursor.
 *
 * A watch is a follow stream (follow.c) over the store's case changes; the
 * store's case hook wakes it. The cursor moves past a change only once it
 * is read, and the store hands changes out in seq order, so a client that
 * resumes after the last seq it received sees each change once. A county
 * agency's watch skips other counties' changes. */
#include "cases_internal.h"

#include <stdlib.h>
#include <string.h>

#include "page_budget.h"

#define WATCH_BATCH 64

struct case_hub {
    struct cjx_service *svc;
    struct follow_hub streams;
};

/* A change copied out of the store, waiting to be sent. */
struct pending_case {
    int64_t seq;
    int event;
    void *body;
    size_t len;
};

/* A watch's own state. */
struct case_feed {
    char *county; /* only this county's changes, or NULL */
    int64_t cursor;
    struct pending_case *items; /* the batch being read */
    int n;
    struct page_budget *budget; /* of the batch being read */
};

/* The store's case hook: a commit wakes the parked watches. */
static void
hub_on_commit(void *arg, int64_t last_seq, size_t outbox_added)
{
    struct case_hub *hub = arg;
    (void)outbox_added;
    (void)last_seq;
    follow_hub_wake(&hub->streams);
}

int
case_hub_new(struct cjx_service *svc, struct case_hub **out)
{
    struct case_hub *hub = calloc(1, sizeof(*hub));
    if (hub == NULL)
        return CJX_ENOMEM;
    hub->svc = svc;
    follow_hub_init(&hub->streams);
    int err = cjx_store_add_case_hook(svc->store, hub_on_commit, hub);
    if (err != 0) {
        follow_hub_fini(&hub->streams);
        free(hub);
        return err;
    }
    *out = hub;
    return 0;
}

void
case_hub_free(struct case_hub *hub)
{
    if (hub == NULL)
        return;
    cjx_store_remove_case_hook(hub->svc->store, hub_on_commit, hub);
    follow_hub_fini(&hub->streams);
    free(hub);
}

void
case_hub_close(struct case_hub *hub)
{
    if (hub != NULL)
        follow_hub_close(&hub->streams);
}

static void
pending_clear(void *item)
{
    struct pending_case *p = item;
    free(p->body);
    memset(p, 0, sizeof(*p));
}

static int
copy_change(void *arg, const struct cjx_stored_case *s)
{
    struct case_feed *f = arg;
    /* The cursor passes skipped changes too, but stays before a change
     * left out for want of room. */
    if (f->county != NULL && strcmp(s->county, f->county) != 0) {
        f->cursor = s->seq;
        return 0;
    }
    if (!page_budget_take(f->budget, sizeof(struct pending_case) + s->body_len))
        return 1;
    f->cursor = s->seq;
    struct pending_case *p = &f->items[f->n];
    p->seq = s->seq;
    p->event = s->event;
    p->body = malloc(s->body_len ? s->body_len : 1);
    if (p->body == NULL)
        return 1;
    memcpy(p->body, s->body, s->body_len);
    p->len = s->body_len;
    f->n++;
    return 0;
}

static int
read_cases(void *feed, struct cjx_store *store, void *items, int *n,
           struct page_budget *budget, struct cjx_errbuf *eb)
{
    struct case_feed *f = feed;
    f->items = items;
    f->n = 0;
    f->budget = budget;
    int err = cjx_store_read_case_changes(store, f->cursor, WATCH_BATCH,
                                          copy_change, f, eb);
    *n = f->n;
    f->items = NULL;
    f->budget = NULL;
    return err;
}

static int
send_case(void *feed, struct cjx_call *c, struct cjx_arena *arena,
          const void *item)
{
    const struct pending_case *p = item;
    (void)feed;
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(arena);
    Cjx__V1__Case *m = cjx__v1__case__unpack(&alloc, p->len, p->body);
    if (m == NULL)
        return arena->failed ? CJX_ENOMEM : CJX_ESTORE;
    m->seq = p->seq;
    Cjx__V1__CaseChange change = CJX__V1__CASE_CHANGE__INIT;
    change.seq = p->seq;
    change.event = (Cjx__V1__CaseEventKind)p->event;
    change.snapshot = m;
    return c->ops->send(c, &change.base);
}

static int64_t
case_cursor(const void *feed)
{
    return ((const struct case_feed *)feed)->cursor;
}

static void
case_feed_free(void *feed)
{
    struct case_feed *f = feed;
    if (f == NULL)
        return;
    free(f->county);
    free(f);
}

static const struct follow_ops case_feed_ops = {
    .item_size = sizeof(struct pending_case),
    .batch = WATCH_BATCH,
    .read = read_cases,
    .send = send_case,
    .clear = pending_clear,
    .cursor = case_cursor,
    .newest = cjx_store_last_case_seq,
    .free_feed = case_feed_free,
    .log_module = "cases",
    .read_failed = "reading the case feed failed",
    .read_refused = "could not read the case feed",
    .send_refused = "could not send the change",
};

void
watch_cases_start(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__WatchCasesRequest *req =
        (const Cjx__V1__WatchCasesRequest *)msg;
    struct case_hub *hub = c->service->cases;
    if (req->after_seq < 0) {
        c->ops->fail(c, CJX_EINVAL, "after_seq: must not be negative");
        return;
    }
    struct case_feed *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    if (c->access == CJX_ACCESS_OWN_COUNTY) {
        f->county = strdup(c->caller.agency->county);
        if (f->county == NULL) {
            free(f);
            c->ops->fail(c, CJX_ENOMEM, "out of memory");
            return;
        }
    }
    f->cursor = req->after_seq;
    follow_start(c, &hub->streams, &case_feed_ops, f, req->follow);
}

int
cases_service_init(struct cjx_service *svc)
{
    return case_hub_new(svc, &svc->cases);
}

void
cases_service_shutdown(struct cjx_service *svc)
{
    case_hub_close(svc->cases);
}

void
cases_service_fini(struct cjx_service *svc)
{
    case_hub_free(svc->cases);
    svc->cases = NULL;
}
