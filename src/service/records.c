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

#include "bulk.h"
#include "cjx/audit.h"
#include "cjx/evaluate.h"
#include "cjx/log.h"
#include "cjx/wire.h"
#include "cjx/v1/record_service.methods.h"
#include "page_budget.h"
#include "record_check.h"
#include "sealing.h"

/* The one answer for a record the caller may not know of, whether it is
 * missing, another county's or sealed. */
#define NO_SUCH_RECORD "no record with that key"

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

/* ---- SubmitRecords (client streaming, src/service/bulk.h) ------------- */

/* What the answer to one record of a stream needs beside its outcome. */
struct record_item {
    char *cii, *ccn; /* copied: the request is gone when the stream ends */
    int32_t count;
    int64_t version;
    int64_t seq;
    int unchanged;
};

static const char *
record_item_request_id(const ProtobufCMessage *msg)
{
    const Cjx__V1__SubmitRecordRequest *req =
        (const Cjx__V1__SubmitRecordRequest *)msg;
    return req->meta != NULL ? req->meta->request_id : NULL;
}

static void
record_item_done(void *arg, const struct cjx_record_write_result *r)
{
    struct bulk_item *it = arg;
    struct record_item *ri = (struct record_item *)it->extra;
    /* An accepted record's entry committed with it; a write that failed
     * is counted in the stream's note. */
    if (r->err == 0) {
        ri->version = r->version;
        ri->seq = r->seq;
        ri->unchanged = r->unchanged;
    }
    bulk_item_done(it, r->err, r->err != 0 ? write_error_detail(r) : NULL, 0);
}

static int
record_item_submit(struct cjx_call *c, const ProtobufCMessage *msg,
                   struct bulk_item *it, struct cjx_arena *scratch,
                   struct cjx_errbuf *eb, int *retry_later)
{
    const Cjx__V1__SubmitRecordRequest *req =
        (const Cjx__V1__SubmitRecordRequest *)msg;
    struct record_item *ri = (struct record_item *)it->extra;
    struct cjx_record_write w;
    (void)retry_later;
    int err = prepare_write(c, req, scratch, &w, eb);
    if (err != 0)
        return err;
    ri->cii = strdup(w.cii);
    ri->ccn = strdup(w.court_case_number);
    ri->count = w.count_number;
    if (ri->cii == NULL || ri->ccn == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    struct cjx_call_audit ids = {0};
    submission_ids(req, &ids);
    struct cjx_audit_event ev;
    bulk_item_event(c, &ids, &ev);
    ev.bytes_in = (int64_t)protobuf_c_message_get_packed_size(msg);
    ev.type = CJX_AUDIT_STATE_CHANGE;
    w.audit = &ev;
    err =
        cjx_store_submit_record(service_of(c)->store, &w, record_item_done, it);
    if (err != 0)
        return cjx_errf(eb, err, "%s", cjx_strerror(err));
    return 0;
}

/* The answer to one accepted record, in the arena of the reply. */
static Cjx__V1__SubmitRecordResponse *
record_item_response(struct cjx_arena *a, const struct record_item *ri)
{
    Cjx__V1__SubmitRecordResponse *r = cjx_arena_alloc(a, sizeof(*r));
    Cjx__V1__RecordKey *key = cjx_arena_alloc(a, sizeof(*key));
    if (r == NULL || key == NULL)
        return NULL;
    cjx__v1__record_key__init(key);
    key->cii = ri->cii;
    key->court_case_number = ri->ccn;
    key->count_number = ri->count;
    cjx__v1__submit_record_response__init(r);
    r->key = key;
    r->version = ri->version;
    r->seq = ri->seq;
    r->unchanged = ri->unchanged;
    return r;
}

static ProtobufCMessage *
record_item_result(struct cjx_arena *a, const struct bulk_item *it)
{
    Cjx__V1__SubmitRecordResult *res = cjx_arena_alloc(a, sizeof(*res));
    if (res == NULL)
        return NULL;
    cjx__v1__submit_record_result__init(res);
    bulk_item_outcome(it, &res->request_id, &res->code, &res->message);
    if (it->code == 0 &&
        (res->response = record_item_response(
             a, (const struct record_item *)it->extra)) == NULL)
        return NULL;
    return &res->base;
}

static void
record_items_reply(struct cjx_call *c, ProtobufCMessage **results, size_t n,
                   size_t accepted)
{
    Cjx__V1__SubmitRecordsResponse resp =
        CJX__V1__SUBMIT_RECORDS_RESPONSE__INIT;
    resp.results = (Cjx__V1__SubmitRecordResult **)results;
    resp.n_results = n;
    resp.accepted = (int32_t)accepted;
    resp.rejected = (int32_t)(n - accepted);
    c->ops->reply(c, &resp.base);
}

static void
record_item_clear(struct bulk_item *it)
{
    struct record_item *ri = (struct record_item *)it->extra;
    free(ri->cii);
    free(ri->ccn);
}

static const struct bulk_ops record_bulk_ops = {
    .extra_size = sizeof(struct record_item),
    .request_id = record_item_request_id,
    .submit = record_item_submit,
    .result = record_item_result,
    .reply = record_items_reply,
    .clear = record_item_clear,
};

static void
submit_records_begin(struct cjx_call *c)
{
    bulk_stream_begin(c, &record_bulk_ops);
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
    struct page_fill fill;
    int err;
};

static int
list_visit(void *arg, const struct cjx_stored_record *r)
{
    struct list_page *p = arg;
    p->fill.visited++;
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
    if (!page_fill_admit(&p->fill, &m->base))
        return 1;
    /* Each disclosure is a read of a sealed record, audited on its own. */
    if (m->record->sealed)
        sealing_audit_read(p->svc, p->call, m->record,
                           "sealed record listed under the sealing policy");
    p->items[p->fill.n++] = m;
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
    struct cjx_errbuf eb;
    int limit;
    int64_t after;
    int err = page_request_parse(req->page_size, req->page_token, &limit,
                                 &after, &eb);
    if (err != 0) {
        c->ops->fail(c, err, eb.msg);
        return;
    }
    struct list_page page = {.call = c, .svc = service_of(c)};
    page_fill_init(&page.fill, c->conf);
    if (c->access == CJX_ACCESS_OWN_COUNTY) {
        page.county_only = c->caller.agency->county;
        if (filter == CJX_FILTER_COUNTY &&
            strcmp(value, page.county_only) != 0) {
            c->ops->fail(c, CJX_EPERM, "county: outside the caller's county");
            return;
        }
    }
    page.items = cjx_arena_alloc(c->arena, (size_t)limit * sizeof(*page.items));
    if (page.items == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    int64_t last_id = 0;
    err = cjx_store_list_records(service_of(c)->store, filter, value, after,
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
    resp.n_records = page.fill.n;
    char token[PAGE_TOKEN_LEN];
    page_next_token(token, &page.fill, limit, last_id);
    resp.next_page_token = token;
    c->ops->reply(c, &resp.base);
}

const struct cjx_handler cjx_records_handlers[] = {
    {.method = &cjx__v1__record_service__methods[RECORD_SERVICE_SUBMIT_RECORD],
     .unary = submit_record},
    {.method = &cjx__v1__record_service__methods[RECORD_SERVICE_SUBMIT_RECORDS],
     .stream_begin = submit_records_begin,
     .on_message = bulk_on_message,
     .on_end = bulk_on_end,
     .on_cancel = bulk_on_cancel},
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
