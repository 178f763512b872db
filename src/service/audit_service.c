/* AuditService: the local operator's tail, export and verification of the
 * audit log.
 *
 * Tail and export are follow streams (follow.c) like WatchRecords: they read
 * the log in pages after a cursor and send one item at a time; a following
 * tail parks in the audit hub until the store's audit hook reports a newer
 * entry. An export interleaves the checkpoints, each right after the entry
 * it signs, which is the order a verifier needs. Verification reads the
 * whole log, so it runs on a thread of its own rather than on a
 * completion-queue thread. */
#include "service_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/audit.h"
#include "cjx/audit_wire.h"
#include "cjx/log.h"
#include "cjx/tls.h"
#include "cjx/v1/audit.methods.h"

#define PAGE 64

/* An entry or checkpoint copied out of the store: body and hash in one
 * allocation, both exactly as stored. */
struct audit_item {
    int checkpoint;
    int64_t seq;
    uint8_t *body;
    size_t len;
    uint8_t *hash; /* inside body's allocation; NULL for checkpoints */
    size_t hash_len;
};

struct item_page {
    struct audit_item item[PAGE];
    int n;
    int failed; /* out of memory while copying */
};

static void
item_clear(void *item)
{
    struct audit_item *it = item;
    free(it->body);
    memset(it, 0, sizeof(*it));
}

static int
copy_item(void *arg, const struct cjx_stored_audit *a)
{
    struct item_page *p = arg;
    struct audit_item *it = &p->item[p->n];
    memset(it, 0, sizeof(*it));
    it->checkpoint = a->hash == NULL;
    it->seq = a->seq;
    size_t hash_len = a->hash != NULL ? a->hash_len : 0;
    it->body = malloc(a->body_len + hash_len + 1);
    if (it->body == NULL) {
        p->failed = 1;
        return 1;
    }
    if (a->body_len > 0)
        memcpy(it->body, a->body, a->body_len);
    it->len = a->body_len;
    if (a->hash != NULL) {
        it->hash = it->body + a->body_len;
        if (hash_len > 0)
            memcpy(it->hash, a->hash, hash_len);
        it->hash_len = hash_len;
    }
    p->n++;
    return 0;
}

/* Where a reader of the log stands: the last entry and the last checkpoint
 * it has taken. */
struct audit_cursor {
    int64_t entry;
    int64_t checkpoint;
    int with_checkpoints;
};

/* Reads the next items after the cursor into out (up to 2 * PAGE), entries
 * and checkpoints merged by seq, a checkpoint after the entry it signs.
 * Items beyond what both pages cover wait for the next call, so that the
 * order holds across pages. *n is 0 at the end of the log. */
static int
read_items(struct cjx_store *store, struct audit_cursor *cur,
           struct audit_item *out, int *n, struct cjx_errbuf *eb)
{
    struct item_page *e = calloc(1, sizeof(*e)), *c = calloc(1, sizeof(*c));
    int err =
        e == NULL || c == NULL ? cjx_errf(eb, CJX_ENOMEM, "out of memory") : 0;
    if (err == 0)
        err = cjx_store_read_audit(store, cur->entry, PAGE, copy_item, e, eb);
    if (err == 0 && cur->with_checkpoints)
        err = cjx_store_read_audit_checkpoints(store, cur->checkpoint, PAGE,
                                               copy_item, c, eb);
    if (err == 0 && (e->failed || c->failed))
        err = cjx_errf(eb, CJX_ENOMEM, "out of memory");
    *n = 0;
    if (err == 0) {
        int64_t bound = INT64_MAX;
        if (e->n == PAGE)
            bound = e->item[PAGE - 1].seq;
        if (c->n == PAGE && c->item[PAGE - 1].seq < bound)
            bound = c->item[PAGE - 1].seq;
        int i = 0, j = 0;
        while (i < e->n || j < c->n) {
            int take_cp =
                j < c->n && (i == e->n || c->item[j].seq < e->item[i].seq);
            struct audit_item *it = take_cp ? &c->item[j] : &e->item[i];
            if (it->seq > bound)
                break;
            out[(*n)++] = *it;
            memset(it, 0, sizeof(*it));
            if (take_cp) {
                cur->checkpoint = out[*n - 1].seq;
                j++;
            } else {
                cur->entry = out[*n - 1].seq;
                i++;
            }
        }
    }
    for (int i = 0; e != NULL && i < e->n; i++)
        item_clear(&e->item[i]);
    for (int i = 0; c != NULL && i < c->n; i++)
        item_clear(&c->item[i]);
    free(e);
    free(c);
    return err;
}

/* The AuditRecord for an item, in the arena. Bytes that do not decode are
 * sent with an empty readable part: the stored bytes are the evidence. */
static int
record_message(struct cjx_arena *a, const struct audit_item *it,
               Cjx__V1__AuditRecord *out)
{
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(a);
    cjx__v1__audit_record__init(out);
    out->seq = it->seq;
    out->body.data = it->body;
    out->body.len = it->len;
    if (it->checkpoint) {
        out->item_case = CJX__V1__AUDIT_RECORD__ITEM_CHECKPOINT;
        out->checkpoint =
            cjx__v1__audit_checkpoint__unpack(&alloc, it->len, it->body);
        if (out->checkpoint == NULL && !a->failed) {
            out->checkpoint = cjx_arena_alloc(a, sizeof(*out->checkpoint));
            if (out->checkpoint != NULL)
                cjx__v1__audit_checkpoint__init(out->checkpoint);
        }
        return out->checkpoint != NULL ? 0 : CJX_ENOMEM;
    }
    out->hash.data = it->hash;
    out->hash.len = it->hash_len;
    out->item_case = CJX__V1__AUDIT_RECORD__ITEM_ENTRY;
    out->entry = cjx__v1__audit_entry__unpack(&alloc, it->len, it->body);
    if (out->entry == NULL && !a->failed) {
        out->entry = cjx_arena_alloc(a, sizeof(*out->entry));
        if (out->entry != NULL)
            cjx__v1__audit_entry__init(out->entry);
    }
    return out->entry != NULL ? 0 : CJX_ENOMEM;
}

/* ---- tail and export streams ------------------------------------------ */

static int
read_page(void *feed, struct cjx_store *store, void *items, int *n,
          struct page_budget *budget, struct cjx_errbuf *eb)
{
    /* Audit entries are the daemon's own, each with at most
     * CJX_AUDIT_TEXT_MAX bytes of text: a page of them is bounded by its
     * count, and these streams are the local operator's only. */
    (void)budget;
    return read_items(store, feed, items, n, eb);
}

static int
send_item(void *feed, struct cjx_call *c, struct cjx_arena *arena,
          const void *item)
{
    (void)feed;
    Cjx__V1__AuditRecord rec;
    int err = record_message(arena, item, &rec);
    if (err != 0)
        return err;
    return c->ops->send(c, &rec.base);
}

static int64_t
entry_cursor(const void *feed)
{
    return ((const struct audit_cursor *)feed)->entry;
}

static const struct follow_ops audit_feed_ops = {
    .item_size = sizeof(struct audit_item),
    .batch = 2 * PAGE,
    .read = read_page,
    .send = send_item,
    .clear = item_clear,
    .cursor = entry_cursor,
    .newest = cjx_store_last_audit_seq,
    .free_feed = free,
    .log_module = "audit",
    .read_failed = "reading the audit log failed",
    .read_refused = "could not read the audit log",
    .send_refused = "could not send the audit record",
};

static void
stream_start(struct cjx_call *c, int64_t after, int follow,
             int with_checkpoints)
{
    struct audit_cursor *cur = malloc(sizeof(*cur));
    if (cur == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    *cur = (struct audit_cursor){after, after, with_checkpoints};
    follow_start(c, &c->service->audit_hub, &audit_feed_ops, cur, follow);
}

static void
tail_audit(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__TailAuditRequest *req =
        (const Cjx__V1__TailAuditRequest *)msg;
    if (req->after_seq < 0 || req->last < 0) {
        c->ops->fail(c, CJX_EINVAL, "after_seq and last: must not be negative");
        return;
    }
    int64_t after = req->after_seq;
    if (after == 0 && req->last > 0) {
        after = cjx_store_last_audit_seq(c->service->store) - req->last;
        if (after < 0)
            after = 0;
    }
    stream_start(c, after, req->follow, 0);
}

static void
export_audit(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__ExportAuditRequest *req =
        (const Cjx__V1__ExportAuditRequest *)msg;
    if (req->after_seq < 0) {
        c->ops->fail(c, CJX_EINVAL, "after_seq: must not be negative");
        return;
    }
    stream_start(c, req->after_seq, 0, 1);
}

/* ---- verification -------------------------------------------------------- */

struct verify_job {
    struct cjx_call *call;
    struct cjx_service *svc;
    struct cjx_audit_verifier *verifier;
};

static int
verify_all(struct verify_job *job, struct cjx_audit_report *report,
           struct cjx_errbuf *eb)
{
    struct audit_cursor cur = {0, 0, 1};
    struct audit_item *items = calloc(2 * PAGE, sizeof(*items));
    if (items == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    int err = 0;
    for (;;) {
        if (atomic_load(&job->svc->audit_closing)) {
            err = cjx_errf(eb, CJX_ECLOSED, "server shutting down");
            break;
        }
        int n;
        err = read_items(job->svc->store, &cur, items, &n, eb);
        if (err != 0 || n == 0)
            break;
        for (int i = 0; i < n; i++) {
            struct audit_item *it = &items[i];
            if (it->checkpoint)
                cjx_audit_verifier_checkpoint(job->verifier, it->seq, it->body,
                                              it->len);
            else
                cjx_audit_verifier_entry(job->verifier, it->seq, it->body,
                                         it->len, it->hash, it->hash_len);
            item_clear(it);
        }
        if (!cjx_audit_verifier_ok(job->verifier))
            break; /* the first finding is the answer */
    }
    free(items);
    if (err == 0)
        cjx_audit_verifier_finish(job->verifier, report);
    return err;
}

static void *
verify_main(void *arg)
{
    struct verify_job *job = arg;
    struct cjx_call *c = job->call;
    struct cjx_audit_report report;
    struct cjx_errbuf eb;
    int err = verify_all(job, &report, &eb);
    if (err != 0) {
        if (err != CJX_ECLOSED)
            cjx_error("audit", "verification failed: %s", eb.msg);
        c->ops->fail(c, err, eb.msg);
    } else {
        if (!report.ok)
            cjx_warn("audit",
                     "audit log verification failed at entry "
                     "%" PRId64 ": %s",
                     report.first_bad_seq, report.reason);
        Cjx__V1__VerifyAuditResponse resp;
        struct cjx_audit_wire_room room;
        cjx_audit_report_to_wire(&report, &resp, &room);
        c->ops->reply(c, &resp.base);
    }
    cjx_audit_verifier_free(job->verifier);
    free(job);
    c->ops->unref(c); /* last: the call may go with it */
    return NULL;
}

/* Checkpoints must be signed by this daemon's agency with a certificate
 * from the CA bundle it trusts now, read afresh so that a reloaded bundle
 * counts. */
static int
make_verifier(const struct cjx_conf *conf, struct cjx_audit_verifier **out,
              struct cjx_errbuf *eb)
{
    char *ca;
    size_t ca_len;
    int err = cjx_tls_read_pem(conf->tls.ca, 0, &ca, &ca_len, eb);
    if (err != 0)
        return err;
    struct cjx_audit_trust trust = {ca, conf->trust_domain, conf->agency};
    err = cjx_audit_verifier_new(&trust, out, eb);
    cjx_tls_free_pem(ca, ca_len);
    return err;
}

static void
verify_audit(struct cjx_call *c, const ProtobufCMessage *msg)
{
    (void)msg;
    struct cjx_errbuf eb;
    struct verify_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    int err = c->conf != NULL
                  ? make_verifier(c->conf, &job->verifier, &eb)
                  : cjx_errf(&eb, CJX_EINTERNAL, "no configuration");
    if (err != 0) {
        free(job);
        c->ops->fail(c, err, eb.msg);
        return;
    }
    job->call = c;
    job->svc = c->service;
    c->ops->ref(c);
    pthread_attr_t attr;
    pthread_t th;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &attr, verify_main, job);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        cjx_audit_verifier_free(job->verifier);
        free(job);
        c->ops->fail(c, CJX_EINTERNAL, "cannot start the verification");
        c->ops->unref(c);
    }
}

const struct cjx_handler cjx_audit_handlers[] = {
    {.method = &cjx__v1__audit_service__methods[AUDIT_SERVICE_TAIL_AUDIT],
     .server_stream = tail_audit,
     .on_sent = follow_on_sent,
     .on_cancel = follow_on_cancel},
    {.method = &cjx__v1__audit_service__methods[AUDIT_SERVICE_EXPORT_AUDIT],
     .server_stream = export_audit,
     .on_sent = follow_on_sent,
     .on_cancel = follow_on_cancel},
    {.method = &cjx__v1__audit_service__methods[AUDIT_SERVICE_VERIFY_AUDIT],
     .unary = verify_audit},
};
const size_t cjx_audit_handler_count =
    sizeof(cjx_audit_handlers) / sizeof(cjx_audit_handlers[0]);
