/* RecordService/WatchRecords: the change feed, resumable from a cursor.
 *
 * A watch is a follow stream (follow.c) over the store's record changes.
 * The cursor only moves past a change once that change is read, and the
 * store hands changes out in seq order with no gaps, so a client that resumes
 * after the last seq it received sees every change exactly once. */
#include "service_internal.h"

#include <stdlib.h>
#include <string.h>

#include "cjx/v1/record_service.pb-c.h"
#include "sealing.h"
#include "page_budget.h"

#define WATCH_BATCH 64

/* A change copied out of the store, waiting to be sent. */
struct pending_change {
    int64_t seq;
    char *cii, *ccn, *county, *submitted_by, *flags;
    int32_t count;
    int64_t version, stored_at_us;
    void *bytes;
    size_t len;
};

/* A watch's own state: the seq of the last change read from the store,
 * and who reads, for the sealing policy. */
struct record_feed {
    int64_t cursor;
    struct cjx_call *call; /* the stream's: outlives the feed */
};

/* Where copy_change puts the batch being read. */
struct change_batch {
    struct record_feed *feed;
    struct pending_change *items;
    int n;
    int64_t last_seq; /* of the last change read, sent or withheld */
    struct page_budget *budget;
};

/* A change of a sealed record goes to a reader the sealing policy allows,
 * with an audit entry; other readers skip it (the feed's cursor still
 * moves past it). 1 when the change is to be sent. */
static int
may_follow(struct record_feed *rf, const struct cjx_stored_record *r)
{
    Cjx__V1__ConvictionRecord *rec =
        cjx__v1__conviction_record__unpack(NULL, r->record_len, r->record);
    if (rec == NULL)
        return 1; /* send_change reports a record that does not decode */
    int send = 1;
    if (rec->sealed) {
        struct cjx_call *c = rf->call;
        send = sealing_may_read(c->conf, c->caller.agency, rec);
        if (send)
            sealing_audit_read(c->service, c, rec,
                               "sealed record followed under the sealing "
                               "policy");
    }
    cjx__v1__conviction_record__free_unpacked(rec, NULL);
    return send;
}

static void
pending_clear(void *item)
{
    struct pending_change *p = item;
    free(p->cii);
    free(p->ccn);
    free(p->county);
    free(p->submitted_by);
    free(p->flags);
    free(p->bytes);
    memset(p, 0, sizeof(*p));
}

static int
copy_change(void *arg, const struct cjx_stored_record *r)
{
    struct change_batch *b = arg;
    if (!may_follow(b->feed, r)) {
        b->last_seq = r->seq; /* withheld: the cursor moves past */
        return 0;
    }
    /* What the copy holds; the cursor stays before a change left out. */
    size_t bytes = sizeof(struct pending_change) + r->record_len +
                   strlen(r->cii) + strlen(r->court_case_number) +
                   strlen(r->county) + strlen(r->submitted_by) +
                   (r->flags ? strlen(r->flags) : 0);
    if (!page_budget_take(b->budget, bytes))
        return 1;
    struct pending_change *p = &b->items[b->n];
    if (!stored_record_servable(r)) {
        b->last_seq = r->seq; /* withheld (logged): the cursor moves past */
        return 0;
    }
    p->seq = r->seq;
    p->cii = strdup(r->cii);
    p->ccn = strdup(r->court_case_number);
    p->county = strdup(r->county);
    p->submitted_by = strdup(r->submitted_by);
    p->flags = strdup(r->flags ? r->flags : "");
    p->count = r->count_number;
    p->version = r->version;
    p->stored_at_us = r->stored_at_us;
    p->bytes = malloc(r->record_len ? r->record_len : 1);
    p->len = r->record_len;
    if (!p->cii || !p->ccn || !p->county || !p->submitted_by || !p->flags ||
        !p->bytes) {
        pending_clear(p);
        return 1;
    }
    memcpy(p->bytes, r->record, r->record_len);
    b->n++;
    b->last_seq = r->seq;
    return 0;
}

static int
read_changes(void *feed, struct cjx_store *store, void *items, int *n,
             struct page_budget *budget, struct cjx_errbuf *eb)
{
    struct record_feed *rf = feed;
    struct change_batch b = {rf, items, 0, rf->cursor, budget};
    int err = cjx_store_read_changes(store, rf->cursor, WATCH_BATCH,
                                     copy_change, &b, eb);
    *n = b.n;
    if (err == 0)
        rf->cursor = b.last_seq;
    return err;
}

static int
send_change(void *feed, struct cjx_call *c, struct cjx_arena *arena,
            const void *item)
{
    const struct pending_change *p = item;
    (void)feed;
    struct cjx_stored_record r = {.cii = p->cii,
                                  .court_case_number = p->ccn,
                                  .count_number = p->count,
                                  .county = p->county,
                                  .version = p->version,
                                  .seq = p->seq,
                                  .submitted_by = p->submitted_by,
                                  .stored_at_us = p->stored_at_us,
                                  .flags = p->flags,
                                  .record = p->bytes,
                                  .record_len = p->len};
    Cjx__V1__StoredRecord rec;
    int err = stored_record_message(arena, &r, &rec);
    if (err != 0)
        return err;
    Cjx__V1__RecordChange change = CJX__V1__RECORD_CHANGE__INIT;
    change.seq = p->seq;
    change.record = &rec;
    return c->ops->send(c, &change.base);
}

static int64_t
feed_cursor(const void *feed)
{
    return ((const struct record_feed *)feed)->cursor;
}

static const struct follow_ops record_feed_ops = {
    .item_size = sizeof(struct pending_change),
    .batch = WATCH_BATCH,
    .read = read_changes,
    .send = send_change,
    .clear = pending_clear,
    .cursor = feed_cursor,
    .newest = cjx_store_last_seq,
    .free_feed = free,
    .log_module = "feed",
    .read_failed = "reading changes failed",
    .read_refused = "could not read the change feed",
    .send_refused = "could not send the change",
};

void
watch_records_start(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__WatchRecordsRequest *req =
        (const Cjx__V1__WatchRecordsRequest *)msg;
    if (req->after_seq < 0) {
        c->ops->fail(c, CJX_EINVAL, "after_seq: must not be negative");
        return;
    }
    struct record_feed *rf = malloc(sizeof(*rf));
    if (rf == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    rf->cursor = req->after_seq;
    rf->call = c;
    follow_start(c, &c->service->hub, &record_feed_ops, rf, req->follow);
}
