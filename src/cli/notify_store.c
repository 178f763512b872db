/* The extract of `cjxctl notify --from-store`: DOJ's own stored records as
 * relief queries, each with the person's statewide history taken from the
 * person's other records. The result is the same length-delimited stream
 * an extract file holds, so that notify evaluates and sends it unchanged. */
#include "notify_store.h"

#include <stdlib.h>
#include <string.h>

#include "cjx/conf.h"
#include "cjx/v1/determination.pb-c.h"
#include "cjx/v1/record_service.methods.h"

struct out_buf {
    char *s;
    size_t n, cap;
    int failed;
};

static void
out_add(struct out_buf *o, const void *p, size_t n)
{
    if (o->failed)
        return;
    if (o->n + n > o->cap) {
        size_t cap = (o->n + n) * 2 + 4096;
        char *grown = realloc(o->s, cap);
        if (grown == NULL) {
            o->failed = 1;
            return;
        }
        o->s = grown;
        o->cap = cap;
    }
    memcpy(o->s + o->n, p, n);
    o->n += n;
}

/* Appends msg with its varint length in front. */
static void
out_message(struct out_buf *o, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t len[10];
    size_t k = 0;
    for (size_t v = n; k == 0 || v != 0; v >>= 7)
        len[k++] = (uint8_t)((v & 0x7F) | (v >> 7 ? 0x80 : 0));
    out_add(o, len, k);
    uint8_t *bytes = malloc(n ? n : 1);
    if (bytes == NULL) {
        o->failed = 1;
        return;
    }
    protobuf_c_message_pack(msg, bytes);
    out_add(o, bytes, n);
    free(bytes);
}

/* One page of ListRecords; *resp is new. 0, or 1 after reporting. */
static int
list_page(struct cli *cli, Cjx__V1__ListRecordsRequest *req,
          Cjx__V1__ListRecordsResponse **resp)
{
    ProtobufCMessage *m = NULL;
    struct cjx_client_status st;
    req->page_size = 1000;
    if (cjx_client_unary(
            cli->client,
            &cjx__v1__record_service__methods[RECORD_SERVICE_LIST_RECORDS],
            &req->base, cli->timeout_ms, &m, &st) != 0 ||
        st.code != 0) {
        if (m != NULL)
            protobuf_c_message_free_unpacked(m, NULL);
        return cli_report_status("ListRecords", &st);
    }
    *resp = (Cjx__V1__ListRecordsResponse *)m;
    return 0;
}

/* A person's records, every page of ListRecords by CII. */
struct person {
    char cii[32];
    Cjx__V1__ListRecordsResponse **pages;
    size_t npages;
};

static void
person_clear(struct person *p)
{
    for (size_t i = 0; i < p->npages; i++)
        protobuf_c_message_free_unpacked(&p->pages[i]->base, NULL);
    free(p->pages);
    memset(p, 0, sizeof(*p));
}

static int
person_load(struct cli *cli, struct person *p, const char *cii)
{
    person_clear(p);
    snprintf(p->cii, sizeof(p->cii), "%s", cii);
    Cjx__V1__ListRecordsRequest req = CJX__V1__LIST_RECORDS_REQUEST__INIT;
    req.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_CII;
    req.cii = (char *)cii;
    char token[128] = "";
    do {
        req.page_token = token;
        Cjx__V1__ListRecordsResponse *r = NULL;
        if (list_page(cli, &req, &r) != 0)
            return 1;
        Cjx__V1__ListRecordsResponse **grown =
            realloc(p->pages, (p->npages + 1) * sizeof(*grown));
        if (grown == NULL) {
            protobuf_c_message_free_unpacked(&r->base, NULL);
            return 1;
        }
        p->pages = grown;
        p->pages[p->npages++] = r;
        snprintf(token, sizeof(token), "%s", r->next_page_token);
    } while (token[0] != '\0');
    return 0;
}

static int
same_count(const Cjx__V1__ConvictionRecord *a,
           const Cjx__V1__ConvictionRecord *b)
{
    return strcmp(a->court_case_number, b->court_case_number) == 0 &&
           a->count_number == b->count_number;
}

/* Writes the query for rec: the count, and the person's other records as
 * the history the prior-conviction rules read. */
static void
out_query(struct out_buf *o, const struct person *p,
          Cjx__V1__ConvictionRecord *rec)
{
    size_t n = 0;
    for (size_t i = 0; i < p->npages; i++)
        n += p->pages[i]->n_records;
    Cjx__V1__HistoryEvent *events = calloc(n ? n : 1, sizeof(*events));
    Cjx__V1__HistoryEvent **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    if (events == NULL || ptrs == NULL) {
        o->failed = 1;
        free(events);
        free(ptrs);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < p->npages; i++) {
        for (size_t j = 0; j < p->pages[i]->n_records; j++) {
            const Cjx__V1__ConvictionRecord *other =
                p->pages[i]->records[j]->record;
            if (other == NULL || same_count(other, rec))
                continue;
            Cjx__V1__HistoryEvent *e = &events[k];
            cjx__v1__history_event__init(e);
            e->kind =
                CJX__V1__HISTORY_EVENT_KIND__HISTORY_EVENT_KIND_CONVICTION;
            e->statute = other->charge;
            e->offense_date = other->offense_date;
            e->event_date = other->conviction_date;
            e->court_case_number = other->court_case_number;
            e->level = other->level;
            e->county = other->county;
            ptrs[k++] = e;
        }
    }
    Cjx__V1__PersonHistory history = CJX__V1__PERSON_HISTORY__INIT;
    history.cii = rec->subject->cii;
    history.events = ptrs;
    history.n_events = k;
    Cjx__V1__ReliefQuery q = CJX__V1__RELIEF_QUERY__INIT;
    q.record = rec;
    q.history = &history;
    out_message(o, &q.base);
    free(events);
    free(ptrs);
}

static int
extract_county(struct cli *cli, const char *county, struct out_buf *o,
               struct person *p, long *records)
{
    Cjx__V1__ListRecordsRequest req = CJX__V1__LIST_RECORDS_REQUEST__INIT;
    req.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY;
    req.county = (char *)county;
    char token[128] = "";
    do {
        req.page_token = token;
        Cjx__V1__ListRecordsResponse *r = NULL;
        if (list_page(cli, &req, &r) != 0)
            return 1;
        for (size_t i = 0; i < r->n_records; i++) {
            Cjx__V1__ConvictionRecord *rec = r->records[i]->record;
            if (rec == NULL || rec->subject == NULL)
                continue;
            /* Records come in key order, so a person's counts are
             * together and their history is read once. */
            if (strcmp(p->cii, rec->subject->cii) != 0 &&
                person_load(cli, p, rec->subject->cii) != 0) {
                protobuf_c_message_free_unpacked(&r->base, NULL);
                return 1;
            }
            out_query(o, p, rec);
            (*records)++;
        }
        snprintf(token, sizeof(token), "%s", r->next_page_token);
        protobuf_c_message_free_unpacked(&r->base, NULL);
    } while (token[0] != '\0' && !o->failed);
    return o->failed;
}

int
notify_store_extract(struct cli *cli, const char *county,
                     const char *registry_path, char **buf, size_t *len)
{
    struct cjx_registry reg = {0};
    struct cjx_errbuf eb;
    if (county == NULL && cjx_registry_load(registry_path, &reg, &eb) != 0) {
        fprintf(stderr, "cjxctl: %s\n", eb.msg);
        return 1;
    }
    struct out_buf o = {0};
    struct person p = {0};
    long records = 0;
    int status = 0;
    if (county != NULL) {
        status = extract_county(cli, county, &o, &p, &records);
    } else {
        /* Every county the registry names, once each. */
        for (size_t i = 0; i < reg.n && status == 0; i++) {
            const char *c = reg.agencies[i].county;
            int seen = c[0] == '\0';
            for (size_t j = 0; j < i && !seen; j++)
                seen = strcmp(reg.agencies[j].county, c) == 0;
            if (!seen)
                status = extract_county(cli, c, &o, &p, &records);
        }
        cjx_registry_fini(&reg);
    }
    person_clear(&p);
    if (status != 0 || o.failed) {
        if (o.failed)
            fprintf(stderr, "cjxctl: out of memory reading the store\n");
        free(o.s);
        return 1;
    }
    fprintf(stderr, "%ld stored record(s) read\n", records);
    *buf = o.s != NULL ? o.s : calloc(1, 1);
    *len = o.n;
    return *buf == NULL;
}
