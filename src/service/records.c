/* RecordService: submit (one or in bulk), get and list conviction records.
 *
 * Audit: a call's event is recorded by the transport when the call is over,
 * with the object ids the handler noted on the call. A submission instead
 * hands its event to the store write, which commits it with the change; a
 * bulk stream records one event per record besides the call's own. */
#include "service_internal.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_guard.h"
#include "cjx/audit.h"
#include "cjx/evaluate.h"
#include "cjx/log.h"
#include "cjx/wire.h"
#include "cjx/v1/record_service.methods.h"
#include "page_budget.h"
#include "record_check.h"
#include "sealing.h"

/* A bulk submission answers every record in one response, so it is bounded;
 * larger uploads are split into several streams by the client. */
#define BULK_MAX_RECORDS 10000
/* Writes of one bulk stream queued at once before reading pauses. */
#define BULK_WINDOW 256

/* The one answer for a record the caller may not know of, whether it is
 * missing, another county's or sealed. */
#define NO_SUCH_RECORD "no record with that key"

#define LIST_DEFAULT_PAGE 100
#define LIST_MAX_PAGE     1000

static struct cjx_service *
service_of(struct cjx_call *c)
{
    return c->service;
}

/* Packs msg into the arena. Returns NULL when out of memory. */
static uint8_t *
pack_into_arena(struct cjx_arena *a, const ProtobufCMessage *msg, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = cjx_arena_alloc(a, n > 0 ? n : 1);
    if (buf == NULL)
        return NULL;
    *len = protobuf_c_message_pack(msg, buf);
    return buf;
}

/* Runs the configured record rules: a rejection refuses the record, flags
 * are stored with it. */
static int
validate_with_rules(struct cjx_call *c, const Cjx__V1__ConvictionRecord *rec,
                    struct cjx_arena *arena, const char **flags,
                    struct cjx_errbuf *eb)
{
    const struct cjx_conf *rules = cjx_service_conf(service_of(c));
    int err = cjx_evaluate_validate(service_conf_rules(rules), &rec->base,
                                    arena, flags, eb);
    cjx_conf_unref(rules);
    return err;
}

/* Checks a submission and fills the store write for it. The write borrows
 * from req and from arena. */
static int
prepare_write(struct cjx_call *c, const Cjx__V1__SubmitRecordRequest *req,
              struct cjx_arena *arena, struct cjx_record_write *w,
              struct cjx_errbuf *eb)
{
    int err;
    if ((err = record_check_request_id(req->meta, eb)) != 0 ||
        (err = record_check_record(req->record, eb)) != 0)
        return err;
    const Cjx__V1__ConvictionRecord *rec = req->record;
    if (c->access == CJX_ACCESS_OWN_COUNTY &&
        strcmp(rec->county, c->caller.agency->county) != 0)
        return cjx_errf(eb, CJX_EPERM,
                        "record.county: %s may submit records of %s only, "
                        "not %s",
                        c->caller.agency->ori, c->caller.agency->county,
                        rec->county);

    memset(w, 0, sizeof(*w));
    if ((err = validate_with_rules(c, rec, arena, &w->flags, eb)) != 0)
        return err;
    size_t req_len;
    uint8_t *req_bytes = pack_into_arena(arena, &req->base, &req_len);
    w->record = pack_into_arena(arena, &rec->base, &w->record_len);
    if (req_bytes == NULL || w->record == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    /* The digest tells a retry (same bytes) from a reused id. */
    if (EVP_Digest(req_bytes, req_len, w->request_digest, NULL, EVP_sha256(),
                   NULL) != 1)
        return cjx_errf(eb, CJX_EINTERNAL, "SHA-256 failed");
    w->sender_ori = c->caller.agency->ori;
    w->request_id = req->meta->request_id;
    w->cii = rec->subject->cii;
    w->court_case_number = rec->court_case_number;
    w->count_number = rec->count_number;
    w->county = rec->county;
    return 0;
}

/* The objects a submission names, as far as it names them. */
static void
submission_ids(const Cjx__V1__SubmitRecordRequest *req,
               struct cjx_call_audit *ids)
{
    if (req->meta != NULL)
        ids->request_id = req->meta->request_id;
    const Cjx__V1__ConvictionRecord *rec = req->record;
    if (rec == NULL)
        return;
    if (rec->subject != NULL)
        ids->cii = rec->subject->cii;
    ids->court_case_number = rec->court_case_number;
    ids->count_number = rec->count_number;
}

static void
fill_submit_response(Cjx__V1__SubmitRecordResponse *resp,
                     Cjx__V1__RecordKey *key,
                     const struct cjx_record_write_result *r)
{
    resp->key = key;
    resp->version = r->version;
    resp->seq = r->seq;
    resp->unchanged = r->unchanged;
}

static const char *
write_error_detail(const struct cjx_record_write_result *r)
{
    /* The client needs the field it got wrong, not the store's wording. */
    if (r->err == CJX_ECONFLICT)
        return "meta.request_id: already used for a different request";
    return r->detail != NULL ? r->detail : cjx_strerror(r->err);
}

/* ---- SubmitRecord ---------------------------------------------------- */

struct submit_ctx {
    struct cjx_call *call;
    Cjx__V1__RecordKey key;
};

static void
submit_done(void *arg, const struct cjx_record_write_result *r)
{
    struct submit_ctx *s = arg;
    struct cjx_call *c = s->call;
    /* A write that failed took the event with it: the transport records
     * the call as it ends. */
    if (r->audit_seq == 0)
        c->audit.recorded = 0;
    if (r->err != 0) {
        c->ops->fail(c, r->err, write_error_detail(r));
    } else {
        Cjx__V1__SubmitRecordResponse resp =
            CJX__V1__SUBMIT_RECORD_RESPONSE__INIT;
        fill_submit_response(&resp, &s->key, r);
        c->ops->reply(c, &resp.base);
    }
    c->ops->unref(c);
}

static void
submit_record(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__SubmitRecordRequest *req =
        (const Cjx__V1__SubmitRecordRequest *)msg;
    struct cjx_errbuf eb;
    struct cjx_record_write w;
    submission_ids(req, &c->audit);
    int err = prepare_write(c, req, c->arena, &w, &eb);
    if (err != 0) {
        c->ops->fail(c, err, eb.msg);
        return;
    }
    struct submit_ctx *s = cjx_arena_alloc(c->arena, sizeof(*s));
    if (s == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    s->call = c;
    cjx__v1__record_key__init(&s->key);
    s->key.cii = (char *)w.cii;
    s->key.court_case_number = (char *)w.court_case_number;
    s->key.count_number = w.count_number;
    /* The call's event commits with the write, in its transaction. */
    struct cjx_audit_event ev;
    service_call_event(c, &ev);
    w.audit = &ev;
    c->audit.recorded = 1;
    /* From here the writer thread owns the call until submit_done. */
    c->ops->ref(c);
    err = cjx_store_submit_record(service_of(c)->store, &w, submit_done, s);
    if (err != 0) {
        c->audit.recorded = 0;
        c->ops->fail(c, err, cjx_strerror(err));
        c->ops->unref(c);
    }
}

/* ---- SubmitRecords (client streaming) -------------------------------- */

struct bulk_result {
    char *request_id;
    int code;
    char *message;
    char *cii;
    char *ccn;
    int32_t count;
    int64_t version;
    int64_t seq;
    int unchanged;
};

struct bulk {
    pthread_mutex_t mu;
    struct cjx_call *call;
    struct bulk_result *results; /* malloc'd: results outlive message arenas */
    size_t n;
    struct cjx_arena scratch; /* one record's packed bytes, reset per record */
    int outstanding;          /* writes queued and not yet done */
    int paused;               /* reading stopped until the window drains */
    int ended;                /* the client half-closed */
    int replied;
    struct batch_guard guard;
};

/* Called with b->mu held once nothing is outstanding after the end. */
static void
bulk_reply_locked(struct bulk *b)
{
    struct cjx_call *c = b->call;
    Cjx__V1__SubmitRecordsResponse resp =
        CJX__V1__SUBMIT_RECORDS_RESPONSE__INIT;
    Cjx__V1__SubmitRecordResult *items =
        calloc(b->n ? b->n : 1, sizeof(*items));
    Cjx__V1__SubmitRecordResult **ptrs = calloc(b->n ? b->n : 1, sizeof(*ptrs));
    Cjx__V1__SubmitRecordResponse *resps =
        calloc(b->n ? b->n : 1, sizeof(*resps));
    Cjx__V1__RecordKey *keys = calloc(b->n ? b->n : 1, sizeof(*keys));
    b->replied = 1;
    if (items == NULL || ptrs == NULL || resps == NULL || keys == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory building the response");
    } else {
        for (size_t i = 0; i < b->n; i++) {
            struct bulk_result *r = &b->results[i];
            cjx__v1__submit_record_result__init(&items[i]);
            items[i].request_id = r->request_id ? r->request_id : "";
            items[i].code = r->code;
            items[i].message = r->message ? r->message : "";
            if (r->code == 0) {
                cjx__v1__submit_record_response__init(&resps[i]);
                cjx__v1__record_key__init(&keys[i]);
                keys[i].cii = r->cii;
                keys[i].court_case_number = r->ccn;
                keys[i].count_number = r->count;
                resps[i].key = &keys[i];
                resps[i].version = r->version;
                resps[i].seq = r->seq;
                resps[i].unchanged = r->unchanged;
                items[i].response = &resps[i];
                resp.accepted++;
            } else {
                resp.rejected++;
            }
            ptrs[i] = &items[i];
        }
        resp.n_results = b->n;
        resp.results = ptrs;
        c->ops->reply(c, &resp.base);
    }
    free(items);
    free(ptrs);
    free(resps);
    free(keys);
}

static void
bulk_free(struct bulk *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->results[i].request_id);
        free(b->results[i].message);
        free(b->results[i].cii);
        free(b->results[i].ccn);
    }
    free(b->results);
    cjx_arena_fini(&b->scratch);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* Drops the bulk state, and the call's reference, once the call has ended
 * and no write is pending; the results are final then, so the audit note
 * counts every refusal, also of a stream cut off at its limit. */
static void
bulk_release(struct bulk *b)
{
    struct cjx_call *c = b->call;
    for (size_t i = 0; i < b->n; i++)
        batch_guard_count(&b->guard, b->results[i].request_id,
                          b->results[i].code, b->results[i].message);
    batch_guard_note(&b->guard, c);
    bulk_free(b);
    c->ops->unref(c);
}

/* Drops the bulk state once the reply went out and no write is pending. */
static void
bulk_maybe_finish_locked(struct bulk *b, int *free_it)
{
    if (b->ended && b->outstanding == 0 && !b->replied)
        bulk_reply_locked(b);
    *free_it = b->replied && b->outstanding == 0;
}

static void
bulk_begin(struct cjx_call *c)
{
    struct bulk *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    b->results = calloc(BULK_MAX_RECORDS, sizeof(*b->results));
    if (b->results == NULL) {
        free(b);
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    pthread_mutex_init(&b->mu, NULL);
    cjx_arena_init(&b->scratch, NULL, 0, 0);
    b->call = c;
    c->state = b;
    c->ops->ref(c); /* dropped when the bulk state is freed */
    c->ops->request_next(c);
}

struct bulk_write {
    struct bulk *bulk;
    size_t index;
};

/* The event of one record of a bulk stream: the call's caller and method,
 * the record's own ids and size. */
static void
bulk_item_event(struct cjx_call *c, const struct cjx_call_audit *ids,
                int64_t bytes_in, struct cjx_audit_event *ev)
{
    service_call_event(c, ev);
    ev->type = CJX_AUDIT_STATE_CHANGE;
    ev->request_id = ids->request_id;
    ev->cii = ids->cii;
    ev->court_case_number = ids->court_case_number;
    ev->count_number = ids->count_number;
    ev->bytes_in = bytes_in;
}

static void
bulk_write_done(void *arg, const struct cjx_record_write_result *r)
{
    struct bulk_write *bw = arg;
    struct bulk *b = bw->bulk;
    struct cjx_call *c = b->call;
    int free_it, resume = 0;

    pthread_mutex_lock(&b->mu);
    struct bulk_result *res = &b->results[bw->index];
    res->code = cjx_err_status_code(r->err);
    /* An accepted record's entry committed with it; a write that failed
     * is counted in the stream's note. */
    if (r->err != 0) {
        res->message = strdup(write_error_detail(r));
    } else {
        res->version = r->version;
        res->seq = r->seq;
        res->unchanged = r->unchanged;
    }
    b->outstanding--;
    if (b->paused && !b->ended && b->outstanding < BULK_WINDOW / 2) {
        b->paused = 0;
        resume = 1;
    }
    bulk_maybe_finish_locked(b, &free_it);
    pthread_mutex_unlock(&b->mu);
    free(bw);
    if (resume)
        c->ops->request_next(c);
    if (free_it)
        bulk_release(b);
}

static void
bulk_on_message(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__SubmitRecordRequest *req =
        (const Cjx__V1__SubmitRecordRequest *)msg;
    struct bulk *b = c->state;
    struct cjx_errbuf eb;
    struct cjx_record_write w;

    pthread_mutex_lock(&b->mu);
    if (b->n == BULK_MAX_RECORDS) {
        b->replied = 1;
        pthread_mutex_unlock(&b->mu);
        c->ops->fail(c, CJX_ELIMIT,
                     "more than 10000 records in one SubmitRecords stream; "
                     "split the upload into several streams");
        /* Nothing more is read; the state goes when the writes finish. */
        pthread_mutex_lock(&b->mu);
        int free_it = b->outstanding == 0;
        pthread_mutex_unlock(&b->mu);
        if (free_it)
            bulk_release(b);
        return;
    }
    size_t index = b->n++;
    struct bulk_result *res = &b->results[index];
    if (req->meta != NULL)
        res->request_id = strdup(req->meta->request_id);
    /* The store copies what it keeps, so one scratch arena serves every
     * record of the stream in turn. */
    cjx_arena_reset(&b->scratch);
    struct cjx_call_audit ids = {0};
    submission_ids(req, &ids);
    int64_t bytes_in = (int64_t)protobuf_c_message_get_packed_size(msg);
    struct cjx_audit_event ev;
    /* Over the rate limit the record is not even checked: the sender
     * retries it later. */
    int err = batch_guard_admit(&b->guard, c, &eb);
    if (err == 0)
        err = prepare_write(c, req, &b->scratch, &w, &eb);
    struct bulk_write *bw = NULL;
    if (err == 0) {
        res->cii = strdup(w.cii);
        res->ccn = strdup(w.court_case_number);
        res->count = w.count_number;
        bw = malloc(sizeof(*bw));
        if (bw == NULL || res->cii == NULL || res->ccn == NULL)
            err = cjx_errf(&eb, CJX_ENOMEM, "out of memory");
    }
    if (err == 0) {
        bw->bulk = b;
        bw->index = index;
        bulk_item_event(c, &ids, bytes_in, &ev);
        w.audit = &ev;
        b->outstanding++;
        pthread_mutex_unlock(&b->mu);
        err = cjx_store_submit_record(service_of(c)->store, &w, bulk_write_done,
                                      bw);
        pthread_mutex_lock(&b->mu);
        if (err != 0) {
            b->outstanding--;
            cjx_errf(&eb, err, "%s", cjx_strerror(err));
            free(bw);
        }
    } else {
        free(bw);
    }
    if (err != 0) {
        res->code = cjx_err_status_code(err);
        res->message = strdup(eb.msg);
    }
    int ask = b->outstanding < BULK_WINDOW;
    b->paused = !ask;
    pthread_mutex_unlock(&b->mu);
    if (ask)
        c->ops->request_next(c);
}

static void
bulk_on_end(struct cjx_call *c)
{
    struct bulk *b = c->state;
    int free_it;
    pthread_mutex_lock(&b->mu);
    b->ended = 1;
    bulk_maybe_finish_locked(b, &free_it);
    pthread_mutex_unlock(&b->mu);
    if (free_it)
        bulk_release(b);
}

/* ---- GetRecord and ListRecords --------------------------------------- */

static void
split_flags(struct cjx_arena *a, const char *flags, Cjx__V1__StoredRecord *out)
{
    if (flags == NULL || flags[0] == '\0')
        return;
    size_t n = 1;
    for (const char *p = flags; *p; p++)
        n += *p == ',';
    char **v = cjx_arena_alloc(a, n * sizeof(*v));
    if (v == NULL)
        return;
    size_t i = 0;
    const char *start = flags;
    for (const char *p = flags;; p++) {
        if (*p == ',' || *p == '\0') {
            v[i++] = cjx_arena_strndup(a, start, (size_t)(p - start));
            start = p + 1;
            if (*p == '\0')
                break;
        }
    }
    out->flags = v;
    out->n_flags = i;
}

int
stored_record_servable(const struct cjx_stored_record *r)
{
    struct cjx_errbuf eb;
    if (cjx_wire_check(&cjx__v1__conviction_record__descriptor, r->record,
                       r->record_len, &eb) == 0)
        return 1;
    cjx_error("records", "stored record %s/%s/%d v%" PRId64 " withheld: %s",
              r->cii, r->court_case_number, (int)r->count_number, r->version,
              eb.msg);
    return 0;
}

int
stored_record_message(struct cjx_arena *arena,
                      const struct cjx_stored_record *r,
                      Cjx__V1__StoredRecord *out)
{
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(arena);
    cjx__v1__stored_record__init(out);
    if (!stored_record_servable(r))
        return CJX_ESTORE;
    out->record =
        cjx__v1__conviction_record__unpack(&alloc, r->record_len, r->record);
    if (out->record == NULL)
        return arena->failed ? CJX_ENOMEM : CJX_ESTORE;
    out->version = r->version;
    out->seq = r->seq;
    /* Copied: a listing builds its messages after the store's row is gone. */
    out->submitted_by =
        cjx_arena_strndup(arena, r->submitted_by, strlen(r->submitted_by));
    if (out->submitted_by == NULL)
        return CJX_ENOMEM;
    out->stored_at_unix_us = r->stored_at_us;
    split_flags(arena, r->flags, out);
    return 0;
}

static void
get_record(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__GetRecordRequest *req =
        (const Cjx__V1__GetRecordRequest *)msg;
    struct cjx_errbuf eb;
    if (req->key != NULL) {
        c->audit.cii = req->key->cii;
        c->audit.court_case_number = req->key->court_case_number;
        c->audit.count_number = req->key->count_number;
    }
    int err = record_check_key(req->key, &eb);
    if (err != 0) {
        c->ops->fail(c, err, eb.msg);
        return;
    }
    struct cjx_store *store = service_of(c)->store;
    struct cjx_stored_record r;
    err =
        cjx_store_get_record(store, req->key->cii, req->key->court_case_number,
                             req->key->count_number, &r, &eb);
    if (err == CJX_ENOTFOUND) {
        c->ops->fail(c, err, NO_SUCH_RECORD);
        return;
    }
    if (err != 0) {
        cjx_error("records", "get failed: %s", eb.msg);
        c->ops->fail(c, err, "could not read the record");
        return;
    }
    /* Another county's record is answered as a missing one, so that the
     * answer does not tell whether the person has a conviction there; the
     * audit entry keeps the difference. */
    if (c->access == CJX_ACCESS_OWN_COUNTY &&
        strcmp(r.county, c->caller.agency->county) != 0) {
        cjx_stored_record_fini(store, &r);
        c->audit.hidden_reason =
            "refused: the record belongs to another county";
        c->ops->fail(c, CJX_ENOTFOUND, NO_SUCH_RECORD);
        return;
    }
    Cjx__V1__StoredRecord out;
    err = stored_record_message(c->arena, &r, &out);
    cjx_stored_record_fini(store, &r);
    if (err != 0) {
        c->ops->fail(c, err, "the stored record could not be decoded");
        return;
    }
    if (out.record->sealed) {
        if (!sealing_may_read(c->conf, c->caller.agency, out.record)) {
            c->audit.hidden_reason =
                "refused: sealed record withheld under the "
                "sealing policy";
            c->ops->fail(c, CJX_ENOTFOUND, NO_SUCH_RECORD);
            return;
        }
        c->audit.hidden_reason = "sealed record read under the sealing policy";
    }
    c->ops->reply(c, &out.base);
}

struct list_page {
    struct cjx_call *call;
    struct cjx_service *svc;
    const char *county_only; /* non-NULL: skip other counties */
    Cjx__V1__StoredRecord **items;
    size_t n;
    int visited; /* rows the store handed over, kept or skipped */
    struct page_budget budget;
    int full; /* stopped at a record the byte budget has no room for */
    int err;
};

static int
list_visit(void *arg, const struct cjx_stored_record *r)
{
    struct list_page *p = arg;
    p->visited++;
    if (p->county_only != NULL && strcmp(r->county, p->county_only) != 0)
        return 0;
    Cjx__V1__StoredRecord *m = cjx_arena_alloc(p->call->arena, sizeof(*m));
    if (m == NULL) {
        p->err = CJX_ENOMEM;
        return 1;
    }
    p->err = stored_record_message(p->call->arena, r, m);
    if (p->err == CJX_ESTORE) {
        p->err = 0; /* withheld (logged): the page goes on without it */
        return 0;
    }
    if (p->err != 0)
        return 1;
    /* A sealed record the caller may not read is withheld without a trace
     * in the page. */
    if (!sealing_may_read(p->call->conf, p->call->caller.agency, m->record))
        return 0;
    if (!page_budget_take(&p->budget, page_budget_entry_size(&m->base))) {
        p->full = 1; /* the store leaves this row for the next page */
        return 1;
    }
    /* Each disclosure is a read of a sealed record, audited on its own. */
    if (m->record->sealed)
        sealing_audit_read(p->svc, p->call, m->record,
                           "sealed record listed under the sealing policy");
    p->items[p->n++] = m;
    return 0;
}

static int
parse_page_token(const char *token, int64_t *out)
{
    if (token[0] == '\0') {
        *out = 0;
        return 0;
    }
    char *end;
    long long v = strtoll(token, &end, 10);
    if (*end != '\0' || v <= 0)
        return CJX_EINVAL;
    *out = v;
    return 0;
}

static void
list_records(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__ListRecordsRequest *req =
        (const Cjx__V1__ListRecordsRequest *)msg;
    enum cjx_record_filter filter;
    const char *value;
    switch (req->filter_case) {
    case CJX__V1__LIST_RECORDS_REQUEST__FILTER_CII:
        filter = CJX_FILTER_CII;
        value = req->cii;
        c->audit.cii = req->cii;
        break;
    case CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY:
        filter = CJX_FILTER_COUNTY;
        value = req->county;
        break;
    case CJX__V1__LIST_RECORDS_REQUEST__FILTER_COURT_CASE_NUMBER:
        filter = CJX_FILTER_CASE;
        value = req->court_case_number;
        c->audit.court_case_number = req->court_case_number;
        break;
    default:
        c->ops->fail(c, CJX_EINVAL,
                     "filter: one of cii, county or court_case_number is "
                     "required");
        return;
    }
    if (value[0] == '\0') {
        c->ops->fail(c, CJX_EINVAL, "filter: the value is empty");
        return;
    }
    if (req->page_size < 0 || req->page_size > LIST_MAX_PAGE) {
        c->ops->fail(c, CJX_EINVAL, "page_size: must be 0..1000");
        return;
    }
    int64_t after;
    if (parse_page_token(req->page_token, &after) != 0) {
        c->ops->fail(c, CJX_EINVAL, "page_token: not a token from this server");
        return;
    }
    struct list_page page = {.call = c, .svc = service_of(c)};
    page_budget_for_reply(&page.budget, c->conf);
    if (c->access == CJX_ACCESS_OWN_COUNTY) {
        page.county_only = c->caller.agency->county;
        if (filter == CJX_FILTER_COUNTY &&
            strcmp(value, page.county_only) != 0) {
            c->ops->fail(c, CJX_EPERM, "county: outside the caller's county");
            return;
        }
    }
    int limit = req->page_size ? req->page_size : LIST_DEFAULT_PAGE;
    page.items = cjx_arena_alloc(c->arena, (size_t)limit * sizeof(*page.items));
    if (page.items == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    struct cjx_errbuf eb;
    int64_t last_id = 0;
    int err = cjx_store_list_records(service_of(c)->store, filter, value, after,
                                     limit, list_visit, &page, &last_id, &eb);
    if (err == 0)
        err = page.err;
    if (err != 0) {
        cjx_error("records", "list failed: %s", cjx_strerror(err));
        c->ops->fail(c, err, "could not list records");
        return;
    }
    Cjx__V1__ListRecordsResponse resp = CJX__V1__LIST_RECORDS_RESPONSE__INIT;
    resp.records = page.items;
    resp.n_records = page.n;
    char token[24] = "";
    /* Only a page on which the store filled the limit (rows skipped for
     * county scope count towards it) or the byte budget can have a
     * successor. */
    if ((page.full || page.visited == limit) && last_id != 0)
        snprintf(token, sizeof(token), "%" PRId64, last_id);
    resp.next_page_token = token;
    c->ops->reply(c, &resp.base);
}

const struct cjx_handler cjx_records_handlers[] = {
    {.method = &cjx__v1__record_service__methods[RECORD_SERVICE_SUBMIT_RECORD],
     .unary = submit_record},
    {.method = &cjx__v1__record_service__methods[RECORD_SERVICE_SUBMIT_RECORDS],
     .stream_begin = bulk_begin,
     .on_message = bulk_on_message,
     .on_end = bulk_on_end},
    {.method = &cjx__v1__record_service__methods[RECORD_SERVICE_GET_RECORD],
     .unary = get_record},
    {.method = &cjx__v1__record_service__methods[RECORD_SERVICE_LIST_RECORDS],
     .unary = list_records},
    {.method = &cjx__v1__record_service__methods[RECORD_SERVICE_WATCH_RECORDS],
     .server_stream = watch_records_start,
     .on_sent = follow_on_sent,
     .on_cancel = follow_on_cancel},
};
const size_t cjx_records_handler_count =
    sizeof(cjx_records_handlers) / sizeof(cjx_records_handlers[0]);
