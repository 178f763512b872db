/* Unit tests for src/service: every handler driven in memory against a real
 * SQLite store, with the refusals each caller must get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>

#include "cjx/descriptor_set.h"
#include "cjx/evaluate.h"
#include "cjx/service.h"
#include "cjx/store.h"
#include "cjx/utf8.h"
#include "cjx/v1/record_service.pb-c.h"
#include "cjx/v1/rules_service.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"
#include "mem_call.h"

enum {
    OK = 0,
    INVALID_ARGUMENT = 3,
    NOT_FOUND = 5,
    ALREADY_EXISTS = 6,
    PERMISSION_DENIED = 7,
    RESOURCE_EXHAUSTED = 8,
    FAILED_PRECONDITION = 9,
    UNAVAILABLE = 14
};

struct fixture {
    char dir[64];
    struct cjx_store *store;
    struct cjx_service *svc;
    struct cjx_conf *conf;
};

static const struct cjx_agency *
agency(struct fixture *f, const char *ori)
{
    const struct cjx_agency *a = cjx_registry_find(&f->conf->registry, ori);
    assert_non_null(a);
    return a;
}

#define DOJ(f)           agency(f, "CA0000001")
#define SF_DA(f)         agency(f, "CA038013A")
#define SF_COURT(f)      agency(f, "CA038033J")
#define ALAMEDA_COURT(f) agency(f, "CA001033J")

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cjx-svc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/s.db", f->dir);
    struct cjx_errbuf eb;
    assert_int_equal(cjx_store_sqlite_open(path, NULL, &f->store, &eb), 0);
    assert_int_equal(cjx_service_new(f->store, &f->svc), 0);
    f->conf = cjx_conf_new();
    f->conf->agency = strdup("CA0000001");
    f->conf->limits.bulk_max_messages = 10000; /* the default */
    char reg[512];
    snprintf(reg, sizeof(reg), "%s/service/agencies.yaml",
             getenv("CJX_TEST_DATA"));
    assert_int_equal(cjx_registry_load(reg, &f->conf->registry, &eb), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    cjx_service_shutdown(f->svc);
    cjx_service_free(f->svc);
    cjx_store_close(f->store);
    cjx_conf_unref(f->conf);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A request message and everything it points to. */
struct request {
    Cjx__V1__SubmitRecordRequest req;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__ConvictionRecord rec;
    Cjx__V1__Person person;
    Cjx__V1__Statute charge;
    Cjx__V1__Date offense, conviction;
    char id[32], cii[16], ccn[32], county[32];
};

static Cjx__V1__SubmitRecordRequest *
request(struct request *r, const char *id, const char *cii, int count,
        const char *county)
{
    memset(r, 0, sizeof(*r));
    cjx__v1__submit_record_request__init(&r->req);
    cjx__v1__request_meta__init(&r->meta);
    cjx__v1__conviction_record__init(&r->rec);
    cjx__v1__person__init(&r->person);
    cjx__v1__statute__init(&r->charge);
    cjx__v1__date__init(&r->offense);
    cjx__v1__date__init(&r->conviction);
    snprintf(r->id, sizeof(r->id), "%s", id);
    snprintf(r->cii, sizeof(r->cii), "%s", cii);
    snprintf(r->ccn, sizeof(r->ccn), "CASE-%s", cii);
    snprintf(r->county, sizeof(r->county), "%s", county);
    r->meta.request_id = r->id;
    r->person.cii = r->cii;
    r->charge.section = "11357";
    r->offense.year = 2010;
    r->offense.month = 1;
    r->offense.day = 5;
    r->conviction = r->offense;
    r->conviction.month = 3;
    r->rec.subject = &r->person;
    r->rec.county = r->county;
    r->rec.court_case_number = r->ccn;
    r->rec.count_number = count;
    r->rec.charge = &r->charge;
    r->rec.offense_date = &r->offense;
    r->rec.conviction_date = &r->conviction;
    r->req.meta = &r->meta;
    r->req.record = &r->rec;
    return &r->req;
}

/* Runs one call of path as caller (NULL: local operator); returns the code
 * and leaves the message in msg (if not NULL). */
static int
call(struct fixture *f, const char *path, const struct cjx_agency *caller,
     const ProtobufCMessage *req, char *msg, size_t msg_len)
{
    const struct cjx_handler *h = cjx_service_find(path);
    assert_non_null(h);
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, h, caller);
    int code = mem_call_run(&mc, req);
    if (msg != NULL)
        snprintf(msg, msg_len, "%.200s", mc.message);
    mem_call_fini(&mc);
    return code;
}

static int
submit(struct fixture *f, const struct cjx_agency *caller,
       Cjx__V1__SubmitRecordRequest *req, char *msg)
{
    return call(f, "/cjx.v1.RecordService/SubmitRecord", caller, &req->base,
                msg, 256);
}

static void
test_service__local_operator_submits__ok(void **state)
{
    struct fixture *f = *state;
    struct request r;
    assert_int_equal(
        submit(f, NULL, request(&r, "r1", "A1", 1, "Alameda"), NULL), OK);
}

static void
test_service__submit_without_request_id__invalid_argument(void **state)
{
    struct fixture *f = *state;
    struct request r;
    char msg[256];
    request(&r, "", "A2", 1, "Alameda");
    assert_int_equal(submit(f, NULL, &r.req, msg), INVALID_ARGUMENT);
    assert_string_equal(msg, "meta.request_id: required");
    r.req.meta = NULL;
    assert_int_equal(submit(f, NULL, &r.req, msg), INVALID_ARGUMENT);
}

static void
test_service__malformed_record_fields__invalid_argument_naming_field(
    void **state)
{
    struct fixture *f = *state;
    struct request r;
    char msg[256];
    request(&r, "bad-cii", "a-1", 1, "Alameda");
    assert_int_equal(submit(f, NULL, &r.req, msg), INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "record.subject.cii"));
    request(&r, "bad-count", "A3", 0, "Alameda");
    assert_int_equal(submit(f, NULL, &r.req, msg), INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "record.count_number"));
    request(&r, "bad-county", "A3", 1, "");
    assert_int_equal(submit(f, NULL, &r.req, msg), INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "record.county"));
    request(&r, "bad-date", "A3", 1, "Alameda");
    r.offense.day = 32;
    assert_int_equal(submit(f, NULL, &r.req, msg), INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "record.offense_date"));
    request(&r, "bad;id", "A3", 1, "Alameda");
    assert_int_equal(submit(f, NULL, &r.req, msg), INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "meta.request_id"));
    /* Nothing of it was stored. */
    assert_int_equal(cjx_store_last_seq(f->store), 0);
}

static void
test_service__court_writes_only_its_county(void **state)
{
    struct fixture *f = *state;
    struct request r;
    char msg[256];
    assert_int_equal(submit(f, SF_COURT(f),
                            request(&r, "c1", "B1", 1, "San Francisco"), msg),
                     OK);
    assert_int_equal(submit(f, ALAMEDA_COURT(f),
                            request(&r, "c2", "B2", 1, "San Francisco"), msg),
                     PERMISSION_DENIED);
    assert_non_null(strstr(msg, "record.county"));
    assert_int_equal(
        submit(f, SF_DA(f), request(&r, "c3", "B3", 1, "San Francisco"), msg),
        PERMISSION_DENIED);
}

static void
test_service__retry_replays_and_reuse_conflicts(void **state)
{
    struct fixture *f = *state;
    struct request r;
    char msg[256];
    assert_int_equal(
        submit(f, DOJ(f), request(&r, "same", "C1", 1, "Alameda"), NULL), OK);
    int64_t seq = cjx_store_last_seq(f->store);
    assert_int_equal(
        submit(f, DOJ(f), request(&r, "same", "C1", 1, "Alameda"), NULL), OK);
    assert_int_equal(cjx_store_last_seq(f->store), seq);
    request(&r, "same", "C1", 1, "Alameda");
    r.charge.section = "11358";
    assert_int_equal(submit(f, DOJ(f), &r.req, msg), ALREADY_EXISTS);
    assert_non_null(strstr(msg, "meta.request_id"));
    assert_int_equal(cjx_store_last_seq(f->store), seq);
}

static int
get(struct fixture *f, const struct cjx_agency *caller, const char *cii,
    const char *ccn, int count, char *msg)
{
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = (char *)cii;
    key.court_case_number = (char *)ccn;
    key.count_number = count;
    Cjx__V1__GetRecordRequest req = CJX__V1__GET_RECORD_REQUEST__INIT;
    req.key = &key;
    return call(f, "/cjx.v1.RecordService/GetRecord", caller, &req.base, msg,
                256);
}

static void
test_service__get_checks_key_existence_and_county(void **state)
{
    struct fixture *f = *state;
    struct request r;
    char msg[256];
    assert_int_equal(
        submit(f, NULL, request(&r, "g1", "D1", 1, "Alameda"), NULL), OK);
    assert_int_equal(get(f, NULL, "D1", "CASE-D1", 1, msg), OK);
    assert_int_equal(get(f, ALAMEDA_COURT(f), "D1", "CASE-D1", 1, msg), OK);
    /* Another county's record and a missing one get the same answer: no
     * existence oracle. */
    char missing[256];
    assert_int_equal(get(f, SF_DA(f), "D1", "CASE-D1", 1, msg), NOT_FOUND);
    assert_int_equal(get(f, SF_DA(f), "D1", "CASE-D1", 2, missing), NOT_FOUND);
    assert_string_equal(msg, missing);
    assert_int_equal(get(f, NULL, "D1", "CASE-D1", 2, msg), NOT_FOUND);
    assert_int_equal(get(f, NULL, "", "CASE-D1", 1, msg), INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "key.cii"));
    Cjx__V1__GetRecordRequest empty = CJX__V1__GET_RECORD_REQUEST__INIT;
    assert_int_equal(call(f, "/cjx.v1.RecordService/GetRecord", NULL,
                          &empty.base, msg, sizeof(msg)),
                     INVALID_ARGUMENT);
}

static void
test_service__list_refusals(void **state)
{
    struct fixture *f = *state;
    char msg[256];
    Cjx__V1__ListRecordsRequest req = CJX__V1__LIST_RECORDS_REQUEST__INIT;
    const char *path = "/cjx.v1.RecordService/ListRecords";
    assert_int_equal(call(f, path, NULL, &req.base, msg, sizeof(msg)),
                     INVALID_ARGUMENT);
    req.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY;
    req.county = "Alameda";
    req.page_size = 1001;
    assert_int_equal(call(f, path, NULL, &req.base, msg, sizeof(msg)),
                     INVALID_ARGUMENT);
    req.page_size = 0;
    req.page_token = "not-a-token";
    assert_int_equal(call(f, path, NULL, &req.base, msg, sizeof(msg)),
                     INVALID_ARGUMENT);
    req.page_token = "";
    assert_int_equal(call(f, path, SF_DA(f), &req.base, msg, sizeof(msg)),
                     PERMISSION_DENIED);
    assert_int_equal(
        call(f, path, ALAMEDA_COURT(f), &req.base, msg, sizeof(msg)), OK);
}

static void
test_service__list_pages_through_every_record(void **state)
{
    struct fixture *f = *state;
    struct request r;
    char id[8], cii[8];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "l%d", i);
        snprintf(cii, sizeof(cii), "L%d", i);
        assert_int_equal(submit(f, ALAMEDA_COURT(f),
                                request(&r, id, cii, 1, "Alameda"), NULL),
                         OK);
    }
    const struct cjx_handler *h =
        cjx_service_find("/cjx.v1.RecordService/ListRecords");
    Cjx__V1__ListRecordsRequest req = CJX__V1__LIST_RECORDS_REQUEST__INIT;
    req.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY;
    req.county = "Alameda";
    req.page_size = 2;
    char token[32] = "";
    int seen = 0;
    do {
        req.page_token = token;
        struct mem_call mc;
        mem_call_init(&mc, f->svc, f->conf, h, NULL);
        assert_int_equal(mem_call_run(&mc, &req.base), OK);
        Cjx__V1__ListRecordsResponse *resp =
            cjx__v1__list_records_response__unpack(NULL, mc.reply_len,
                                                   mc.reply);
        assert_non_null(resp);
        for (size_t i = 0; i < resp->n_records; i++) {
            /* Built after the store's row is gone: must be a copy. */
            assert_string_equal(resp->records[i]->submitted_by, "CA001033J");
            seen++;
        }
        snprintf(token, sizeof(token), "%s", resp->next_page_token);
        cjx__v1__list_records_response__free_unpacked(resp, NULL);
        mem_call_fini(&mc);
    } while (token[0] != '\0');
    assert_int_equal(seen, 5);
}

static void
test_service__bulk_answers_each_record(void **state)
{
    struct fixture *f = *state;
    struct request r[3];
    request(&r[0], "b1", "E1", 1, "Alameda");
    request(&r[1], "b2", "e-bad", 1, "Alameda");
    request(&r[2], "b3", "E3", 1, "Alameda");
    ProtobufCMessage *stream[] = {&r[0].req.base, &r[1].req.base,
                                  &r[2].req.base};
    const struct cjx_handler *h =
        cjx_service_find("/cjx.v1.RecordService/SubmitRecords");
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, h, NULL);
    mc.stream = stream;
    mc.n_stream = 3;
    assert_int_equal(mem_call_run(&mc, NULL), OK);
    Cjx__V1__SubmitRecordsResponse *resp =
        cjx__v1__submit_records_response__unpack(NULL, mc.reply_len, mc.reply);
    assert_non_null(resp);
    assert_int_equal(resp->n_results, 3);
    assert_int_equal(resp->accepted, 2);
    assert_int_equal(resp->rejected, 1);
    assert_int_equal(resp->results[1]->code, INVALID_ARGUMENT);
    assert_string_equal(resp->results[1]->request_id, "b2");
    assert_non_null(strstr(resp->results[1]->message, "record.subject.cii"));
    cjx__v1__submit_records_response__free_unpacked(resp, NULL);
    mem_call_fini(&mc);
}

/* Each record of a stream after the first takes a token; once none is
 * left the rest of the stream is refused to be sent again, unchecked. */
static void
test_service__bulk_over_the_rate_limit__rest_refused_and_noted(void **state)
{
    struct fixture *f = *state;
    f->conf->limits.rate_limit_per_agency = 2;
    struct request r[4];
    request(&r[0], "t1", "F1", 1, "Alameda");
    request(&r[1], "t2", "F2", 1, "Alameda");
    request(&r[2], "t3", "F3", 1, "Alameda");
    request(&r[3], "t4", "f-bad", 1, "Alameda"); /* not even checked */
    ProtobufCMessage *stream[] = {&r[0].req.base, &r[1].req.base,
                                  &r[2].req.base, &r[3].req.base};
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf,
                  cjx_service_find("/cjx.v1.RecordService/SubmitRecords"),
                  ALAMEDA_COURT(f));
    mc.stream = stream;
    mc.n_stream = 4;
    mc.rate_limited = 1;
    mc.tokens = 1;
    mc.retry_after_ms = 40;
    assert_int_equal(mem_call_run(&mc, NULL), OK);
    Cjx__V1__SubmitRecordsResponse *resp =
        cjx__v1__submit_records_response__unpack(NULL, mc.reply_len, mc.reply);
    assert_int_equal(mc.token_asks, 2);
    assert_int_equal(resp->accepted, 2);
    assert_int_equal(resp->results[2]->code, RESOURCE_EXHAUSTED);
    assert_int_equal(resp->results[3]->code, RESOURCE_EXHAUSTED);
    assert_string_equal(resp->results[3]->message,
                        "agency CA001033J is over its limit of 2 requests/s; "
                        "retry after 40 ms");
    assert_string_equal(mc.base.audit.note,
                        "2 of 4 messages refused: [t3] RESOURCE_EXHAUSTED: "
                        "agency CA001033J is over its limit of 2 requests/s; "
                        "retry after 40 ms; [t4] RESOURCE_EXHAUSTED: agency "
                        "CA001033J is over its limit of 2 requests/s; retry "
                        "after 40 ms");
    cjx__v1__submit_records_response__free_unpacked(resp, NULL);
    mem_call_fini(&mc);
    /* Only what was admitted is stored. */
    char msg[256];
    assert_int_equal(get(f, NULL, "F2", "CASE-F2", 1, msg), OK);
    assert_int_equal(get(f, NULL, "F3", "CASE-F3", 1, msg), NOT_FOUND);
}

static void
test_service__bulk_over_the_limit__resource_exhausted(void **state)
{
    struct fixture *f = *state;
    enum { N = 10001 };
    struct request *r = calloc(N, sizeof(*r));
    ProtobufCMessage **stream = calloc(N, sizeof(*stream));
    for (int i = 0; i < N; i++) {
        /* Invalid records: refused without touching the store. */
        request(&r[i], "x", "bad-cii", 1, "Alameda");
        stream[i] = &r[i].req.base;
    }
    const struct cjx_handler *h =
        cjx_service_find("/cjx.v1.RecordService/SubmitRecords");
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, h, NULL);
    mc.stream = stream;
    mc.n_stream = N;
    assert_int_equal(mem_call_run(&mc, NULL), RESOURCE_EXHAUSTED);
    assert_non_null(strstr(mc.message, "10000"));
    /* The records refused before the cut leave one note, not 10000
     * entries. */
    assert_non_null(mc.base.audit.note);
    assert_non_null(strstr(mc.base.audit.note,
                           "10000 of 10000 messages refused: [x] "
                           "INVALID_ARGUMENT: "));
    assert_non_null(strstr(mc.base.audit.note, "; and 9997 more"));
    mem_call_fini(&mc);
    free(stream);
    free(r);
}

static void
test_service__watch_sends_every_change_then_ends(void **state)
{
    struct fixture *f = *state;
    struct request r;
    char id[8], cii[8];
    for (int i = 0; i < 70; i++) { /* more than one read batch */
        snprintf(id, sizeof(id), "w%d", i);
        snprintf(cii, sizeof(cii), "W%d", i);
        assert_int_equal(
            submit(f, NULL, request(&r, id, cii, 1, "Alameda"), NULL), OK);
    }
    const struct cjx_handler *h =
        cjx_service_find("/cjx.v1.RecordService/WatchRecords");
    Cjx__V1__WatchRecordsRequest req = CJX__V1__WATCH_RECORDS_REQUEST__INIT;
    req.after_seq = 5;
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, h, NULL);
    assert_int_equal(mem_call_run(&mc, &req.base), OK);
    assert_int_equal(mc.sent, 65);
    mem_call_fini(&mc);

    req.after_seq = -1;
    mem_call_init(&mc, f->svc, f->conf, h, NULL);
    assert_int_equal(mem_call_run(&mc, &req.base), INVALID_ARGUMENT);
    mem_call_fini(&mc);

    req.after_seq = 0;
    mem_call_init(&mc, f->svc, f->conf, h, SF_DA(f));
    assert_int_equal(mem_call_run(&mc, &req.base), PERMISSION_DENIED);
    mem_call_fini(&mc);
}

static void
load_rules(struct fixture *f)
{
    struct cjx_rules_registry *reg;
    struct cjx_errbuf eb;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/../../rules", getenv("CJX_TEST_DATA"));
    if (cjx_rules_registry_load_dir(dir, cjx_evaluate_types(), &reg, &eb) != 0)
        fail_msg("%s", eb.msg);
    f->conf->rules = reg; /* released with the configuration */
    cjx_service_set_conf(f->svc, f->conf);
}

static void
test_service__record_rules_reject_and_flag(void **state)
{
    struct fixture *f = *state;
    load_rules(f);
    struct request r;
    char msg[256];
    request(&r, "rule-1", "F1", 1, "Alameda");
    r.conviction.year = 2009; /* before the offense */
    assert_int_equal(submit(f, NULL, &r.req, msg), INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "conviction_after_offense"));
    assert_non_null(strstr(msg, "conviction_date"));

    /* No date of birth on record: accepted and flagged. */
    assert_int_equal(
        submit(f, NULL, request(&r, "rule-2", "F2", 1, "Alameda"), NULL), OK);
    struct cjx_stored_record rec;
    struct cjx_errbuf eb;
    assert_int_equal(
        cjx_store_get_record(f->store, "F2", "CASE-F2", 1, &rec, &eb), 0);
    assert_non_null(strstr(rec.flags, "missing_dob"));
    cjx_stored_record_fini(f->store, &rec);
}

static int
evaluate(struct fixture *f, Cjx__V1__EvaluateRequest *req, char *msg,
         Cjx__V1__EvaluateResponse **out)
{
    const struct cjx_handler *h =
        cjx_service_find("/cjx.v1.RulesService/Evaluate");
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, h, SF_DA(f));
    int code = mem_call_run(&mc, &req->base);
    snprintf(msg, 256, "%.200s", mc.message);
    if (out != NULL && code == OK)
        *out = cjx__v1__evaluate_response__unpack(NULL, mc.reply_len, mc.reply);
    mem_call_fini(&mc);
    return code;
}

static void
test_service__evaluate_decides_and_refuses(void **state)
{
    struct fixture *f = *state;
    struct request r;
    char msg[256];
    Cjx__V1__Date as_of = CJX__V1__DATE__INIT;
    as_of.year = 2026;
    as_of.month = 1;
    as_of.day = 1;
    Cjx__V1__ReliefQuery q = CJX__V1__RELIEF_QUERY__INIT;
    request(&r, "q", "G1", 1, "Alameda");
    q.record = &r.rec;
    q.as_of = &as_of;
    r.charge.section = "11364";
    r.charge.code = "HS";
    Cjx__V1__EvaluateRequest req = CJX__V1__EVALUATE_REQUEST__INIT;
    req.query = &q;
    /* Without rule sets there is nothing to evaluate with. */
    assert_int_equal(evaluate(f, &req, msg, NULL), FAILED_PRECONDITION);

    load_rules(f);
    Cjx__V1__EvaluateResponse *resp;
    assert_int_equal(evaluate(f, &req, msg, &resp), OK);
    assert_int_equal(resp->determination->relief,
                     CJX__V1__RELIEF__RELIEF_NOT_ELIGIBLE);
    assert_string_equal(resp->determination->rule_set, "prop64");
    cjx__v1__evaluate_response__free_unpacked(resp, NULL);

    req.rule_set = "no-such-set";
    assert_int_equal(evaluate(f, &req, msg, NULL), INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "no-such-set"));
    req.rule_set = "";
    req.query = NULL;
    assert_int_equal(evaluate(f, &req, msg, NULL), INVALID_ARGUMENT);
    assert_string_equal(msg, "query: required");
}

/* ---- grpc.health.v1.Health ------------------------------------------- */

#define SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define NOT_SERVING \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
#define SERVICE_UNKNOWN \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN

/* Health/Check of service by an agency: the status, or -code. */
static int
health_check(struct fixture *f, const char *service, char *msg)
{
    const struct cjx_handler *h =
        cjx_service_find("/grpc.health.v1.Health/Check");
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = (char *)service;
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, h, SF_COURT(f));
    int code = mem_call_run(&mc, &req.base);
    int status = -code;
    if (code == OK) {
        Grpc__Health__V1__HealthCheckResponse *resp =
            grpc__health__v1__health_check_response__unpack(NULL, mc.reply_len,
                                                            mc.reply);
        assert_non_null(resp);
        status = resp->status;
        grpc__health__v1__health_check_response__free_unpacked(resp, NULL);
    }
    if (msg != NULL)
        snprintf(msg, 256, "%.200s", mc.message);
    mem_call_fini(&mc);
    return status;
}

static void
test_service__health_check__serving_for_the_server_and_each_service(
    void **state)
{
    struct fixture *f = *state;
    char msg[256];
    assert_int_equal(health_check(f, "", msg), SERVING);
    static const char *const served[] = {
        "cjx.v1.RecordService",
        "cjx.v1.RulesService",
        "cjx.v1.AuditService",
        "cjx.v1.CaseService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    };
    for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++)
        if (health_check(f, served[i], msg) != SERVING)
            fail_msg("%s is not SERVING", served[i]);
    static const char *const unknown[] = {
        "cjx.v1.NoSuchService",  "cjx.v1",
        "cjx.v1.RecordServic",   "cjx.v1.RecordService/GetRecord",
        "/cjx.v1.RecordService",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(health_check(f, unknown[i], msg), -NOT_FOUND);
        char want[256];
        snprintf(want, sizeof(want), "service: %s is not served here",
                 unknown[i]);
        assert_string_equal(msg, want);
    }
}

/* A Health/Watch running on a thread of its own, as a client would. */
struct watcher {
    struct mem_call mc;
    Grpc__Health__V1__HealthCheckRequest req;
    pthread_t thread;
    int code;
};

static void *
watcher_main(void *arg)
{
    struct watcher *w = arg;
    w->code = mem_call_run(&w->mc, &w->req.base);
    return NULL;
}

static void
watcher_start(struct watcher *w, struct fixture *f, const char *service)
{
    memset(w, 0, sizeof(*w));
    grpc__health__v1__health_check_request__init(&w->req);
    w->req.service = (char *)service;
    mem_call_init(&w->mc, f->svc, f->conf,
                  cjx_service_find("/grpc.health.v1.Health/Watch"), DOJ(f));
    assert_int_equal(pthread_create(&w->thread, NULL, watcher_main, w), 0);
}

/* The status the watch sent n-th (1-based), waiting for it. */
static int
watcher_status(struct watcher *w, int n)
{
    if (mem_call_wait_sent(&w->mc, n) < n)
        fail_msg("the watch ended after %d message(s): %s", w->mc.sent,
                 w->mc.message);
    Grpc__Health__V1__HealthCheckResponse *resp =
        grpc__health__v1__health_check_response__unpack(
            NULL, w->mc.sent_len[n - 1], w->mc.sent_msg[n - 1]);
    assert_non_null(resp);
    int status = resp->status;
    grpc__health__v1__health_check_response__free_unpacked(resp, NULL);
    return status;
}

static int
watcher_join(struct watcher *w)
{
    assert_int_equal(pthread_join(w->thread, NULL), 0);
    int sent = w->mc.sent;
    mem_call_fini(&w->mc);
    return sent;
}

/* Makes the store's transactions that insert a record with cii DOOM fail
 * at COMMIT (a deferred foreign key), as a full disk would. */
static void
doom_commits_of_cii_doom(struct fixture *f)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/s.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db,
                          "CREATE TABLE t_parent (id INTEGER PRIMARY KEY);"
                          "CREATE TABLE t_child (pid INTEGER REFERENCES "
                          "t_parent(id) DEFERRABLE INITIALLY DEFERRED);"
                          "CREATE TRIGGER doom AFTER INSERT ON records"
                          " WHEN NEW.cii = 'DOOM'"
                          " BEGIN INSERT INTO t_child VALUES (42); END;",
                          NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("%s", err);
    sqlite3_close(db);
}

static void
test_service__health__not_serving_from_a_failed_commit_to_the_next_good_one(
    void **state)
{
    struct fixture *f = *state;
    doom_commits_of_cii_doom(f);
    struct watcher w;
    watcher_start(&w, f, "");
    assert_int_equal(watcher_status(&w, 1), SERVING);

    struct request r;
    assert_int_not_equal(
        submit(f, NULL, request(&r, "d1", "DOOM", 1, "Alameda"), NULL), OK);
    /* The write is answered after the health has seen its commit fail. */
    assert_int_equal(health_check(f, "", NULL), NOT_SERVING);
    assert_int_equal(health_check(f, "cjx.v1.CaseService", NULL), NOT_SERVING);
    assert_int_equal(watcher_status(&w, 2), NOT_SERVING);

    assert_int_equal(
        submit(f, NULL, request(&r, "g1", "GOOD1", 1, "Alameda"), NULL), OK);
    assert_int_equal(health_check(f, "", NULL), SERVING);
    assert_int_equal(watcher_status(&w, 3), SERVING);

    /* A drain: the watch is told, then ends so the client looks again. */
    cjx_service_shutdown(f->svc);
    assert_int_equal(watcher_status(&w, 4), NOT_SERVING);
    assert_int_equal(watcher_join(&w), 4);
    assert_int_equal(w.code, UNAVAILABLE);
}

static void
test_service__health_watch__unknown_service_stays_open_until_the_drain(
    void **state)
{
    struct fixture *f = *state;
    struct watcher w;
    watcher_start(&w, f, "cjx.v1.NoSuchService");
    assert_int_equal(watcher_status(&w, 1), SERVICE_UNKNOWN);
    /* A change of the daemon's status is nothing to an unknown service. */
    doom_commits_of_cii_doom(f);
    struct request r;
    assert_int_not_equal(
        submit(f, NULL, request(&r, "d1", "DOOM", 1, "Alameda"), NULL), OK);
    assert_int_equal(health_check(f, "", NULL), NOT_SERVING);
    cjx_service_shutdown(f->svc);
    assert_int_equal(watcher_join(&w), 1);
    assert_int_equal(w.code, UNAVAILABLE);

    /* Once draining, a new watch is told NOT_SERVING and ended. */
    watcher_start(&w, f, "cjx.v1.RecordService");
    assert_int_equal(watcher_status(&w, 1), NOT_SERVING);
    assert_int_equal(watcher_join(&w), 1);
    assert_int_equal(w.code, UNAVAILABLE);
}

/* ---- grpc.reflection ServerReflectionInfo ----------------------------- */

typedef Grpc__Reflection__V1__ServerReflectionRequest reflection_request;
typedef Grpc__Reflection__V1__ServerReflectionResponse reflection_response;

/* Sends requests on one reflection stream of version v1 (or v1alpha) and
 * returns the responses, unpacked as v1 (free each with
 * grpc__reflection__v1__server_reflection_response__free_unpacked). */
static int
reflect(struct fixture *f, int alpha, reflection_request **reqs, size_t n,
        reflection_response **out)
{
    const char *path =
        alpha ? "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
              : "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, cjx_service_find(path), SF_DA(f));
    ProtobufCMessage *msgs[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        /* The bytes of a v1 request are those of a v1alpha one. */
        uint8_t buf[1024];
        size_t len = protobuf_c_message_pack(&reqs[i]->base, buf);
        msgs[i] = protobuf_c_message_unpack(
            alpha
                ? &grpc__reflection__v1alpha__server_reflection_request__descriptor
                : &grpc__reflection__v1__server_reflection_request__descriptor,
            NULL, len, buf);
        assert_non_null(msgs[i]);
    }
    mc.stream = msgs;
    mc.n_stream = n;
    int code = mem_call_run(&mc, NULL);
    assert_int_equal(mc.sent, (int)n);
    for (size_t i = 0; i < n; i++) {
        out[i] = grpc__reflection__v1__server_reflection_response__unpack(
            NULL, mc.sent_len[i], mc.sent_msg[i]);
        assert_non_null(out[i]);
        protobuf_c_message_free_unpacked(msgs[i], NULL);
    }
    mem_call_fini(&mc);
    return code;
}

/* The name field (1) of a serialized FileDescriptorProto, which is written
 * first. */
static void
assert_file_named(const ProtobufCBinaryData *fd, const char *name)
{
    size_t len = strlen(name);
    assert_true(fd->len > len + 2);
    assert_int_equal(fd->data[0], 0x0a);
    assert_int_equal(fd->data[1], len);
    if (memcmp(fd->data + 2, name, len) != 0)
        fail_msg("file is %.*s, not %s", (int)len, fd->data + 2, name);
}

static void
test_service__reflection__lists_services_and_serves_files_with_imports(
    void **state)
{
    struct fixture *f = *state;
    for (int alpha = 0; alpha <= 1; alpha++) {
        reflection_request q[3];
        reflection_request *reqs[3] = {&q[0], &q[1], &q[2]};
        for (int i = 0; i < 3; i++)
            grpc__reflection__v1__server_reflection_request__init(&q[i]);
        q[0].message_request_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES;
        q[0].list_services = "*";
        q[1].message_request_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
        q[1].file_containing_symbol = "cjx.v1.CaseService.Order";
        q[2].message_request_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
        q[2].file_by_filename = "cjx/v1/types.proto";
        q[2].host = "cjx.example";
        reflection_response *r[3];
        assert_int_equal(reflect(f, alpha, reqs, 3, r), OK);

        /* Exactly the services of the handler table. */
        assert_non_null(r[0]->list_services_response);
        Grpc__Reflection__V1__ListServiceResponse *ls =
            r[0]->list_services_response;
        assert_int_equal(ls->n_service, 8);
        for (size_t i = 0; i < ls->n_service; i++) {
            char probe[128];
            snprintf(probe, sizeof(probe), "%s", ls->service[i]->name);
            assert_int_equal(health_check(f, probe, NULL), SERVING);
        }
        assert_string_equal(r[0]->original_request->list_services, "*");

        /* The file declaring the method, then each of its imports once:
         * exchange.proto imports five files, two of which import more. */
        Grpc__Reflection__V1__FileDescriptorResponse *fd =
            r[1]->file_descriptor_response;
        assert_non_null(fd);
        assert_file_named(&fd->file_descriptor_proto[0],
                          "cjx/v1/exchange.proto");
        assert_int_equal(fd->n_file_descriptor_proto, 7);
        for (size_t i = 0; i < fd->n_file_descriptor_proto; i++)
            for (size_t j = 0; j < i; j++)
                assert_false(fd->file_descriptor_proto[i].len ==
                                 fd->file_descriptor_proto[j].len &&
                             memcmp(fd->file_descriptor_proto[i].data,
                                    fd->file_descriptor_proto[j].data,
                                    fd->file_descriptor_proto[i].len) == 0);

        /* A file that imports nothing comes alone. */
        fd = r[2]->file_descriptor_response;
        assert_non_null(fd);
        assert_int_equal(fd->n_file_descriptor_proto, 1);
        assert_file_named(&fd->file_descriptor_proto[0], "cjx/v1/types.proto");
        assert_string_equal(r[2]->valid_host, "cjx.example");
        for (int i = 0; i < 3; i++)
            grpc__reflection__v1__server_reflection_response__free_unpacked(
                r[i], NULL);
    }
}

static void
test_service__reflection__each_request_after_the_first_takes_a_token(
    void **state)
{
    struct fixture *f = *state;
    ProtobufCMessage *msgs[3];
    for (int i = 0; i < 3; i++) {
        reflection_request *q = calloc(1, sizeof(*q));
        grpc__reflection__v1__server_reflection_request__init(q);
        q->message_request_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES;
        q->list_services = "";
        msgs[i] = &q->base;
    }
    struct mem_call mc;
    mem_call_init(
        &mc, f->svc, f->conf,
        cjx_service_find(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
        SF_DA(f));
    mc.stream = msgs;
    mc.n_stream = 3;
    mc.rate_limited = 1;
    mc.tokens = 1;
    mc.retry_after_ms = 250;
    assert_int_equal(mem_call_run(&mc, NULL), RESOURCE_EXHAUSTED);
    /* The call's own token covered the first; the second took the last. */
    assert_int_equal(mc.sent, 2);
    assert_int_equal(mc.token_asks, 2);
    assert_non_null(strstr(mc.message, "retry after 250 ms"));
    mem_call_fini(&mc);
    for (int i = 0; i < 3; i++)
        free(msgs[i]);
}

/* The largest answer is a file with all it imports; even every file at
 * once must fit the smallest message limit a daemon may be given (64 KiB,
 * docs/config.md), with room to spare for the rest of the response. */
static void
test_service__reflection__every_answer_fits_the_smallest_message_limit(
    void **state)
{
    (void)state;
    size_t total = 0;
    for (size_t i = 0; i < cjx_descriptor_file_count; i++)
        total += cjx_descriptor_files[i].len + 8;
    assert_true(total < 65536 / 2);
}

static void
test_service__reflection__unknown_names_get_an_error_naming_the_field(
    void **state)
{
    struct fixture *f = *state;
    reflection_request q[6];
    reflection_request *reqs[6];
    for (int i = 0; i < 6; i++) {
        grpc__reflection__v1__server_reflection_request__init(&q[i]);
        reqs[i] = &q[i];
    }
    q[0].message_request_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
    q[0].file_containing_symbol = "cjx.v1.NoSuchThing";
    q[1].message_request_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
    q[1].file_by_filename = "cjx/v1/nothing.proto";
    /* Nothing set. */
    q[3].message_request_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE;
    q[3].all_extension_numbers_of_type = "cjx.v1.RecordService";
    /* After the errors the stream still answers. */
    q[4].message_request_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE;
    q[4].all_extension_numbers_of_type = "cjx.v1.ConvictionRecord";
    /* A long name of two-byte characters after one of one byte: the bound
     * of the name in the message falls inside a character. */
    char long_name[402] = "x";
    for (int i = 0; i < 200; i++)
        memcpy(long_name + 1 + 2 * i, "\xc3\xa9", 2);
    long_name[401] = '\0';
    q[5].message_request_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
    q[5].file_by_filename = long_name;
    reflection_response *r[6];
    assert_int_equal(reflect(f, 0, reqs, 6, r), OK);
    static const struct {
        int code;
        const char *words;
    } want[4] = {
        {NOT_FOUND, "file_containing_symbol: no symbol cjx.v1.NoSuchThing"},
        {NOT_FOUND, "file_by_filename: no file cjx/v1/nothing.proto"},
        {INVALID_ARGUMENT, "message_request: none set"},
        {NOT_FOUND, "all_extension_numbers_of_type: no message type "
                    "cjx.v1.RecordService"},
    };
    for (int i = 0; i < 4; i++) {
        assert_non_null(r[i]->error_response);
        assert_int_equal(r[i]->error_response->error_code, want[i].code);
        if (strstr(r[i]->error_response->error_message, want[i].words) == NULL)
            fail_msg("error %d: %s", i, r[i]->error_response->error_message);
    }
    assert_non_null(r[4]->all_extension_numbers_response);
    assert_string_equal(r[4]->all_extension_numbers_response->base_type_name,
                        "cjx.v1.ConvictionRecord");
    assert_int_equal(r[4]->all_extension_numbers_response->n_extension_number,
                     0);
    const char *cut = r[5]->error_response->error_message;
    assert_non_null(strstr(cut, "file_by_filename: no file x\xc3\xa9"));
    assert_true(cjx_utf8_valid(cut, strlen(cut)));
    for (int i = 0; i < 6; i++)
        grpc__reflection__v1__server_reflection_response__free_unpacked(r[i],
                                                                        NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_service__local_operator_submits__ok, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__submit_without_request_id__invalid_argument, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_service__malformed_record_fields__invalid_argument_naming_field,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__court_writes_only_its_county, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__retry_replays_and_reuse_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__get_checks_key_existence_and_county, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service__list_refusals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_service__list_pages_through_every_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service__bulk_answers_each_record,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__bulk_over_the_rate_limit__rest_refused_and_noted,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__bulk_over_the_limit__resource_exhausted, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_service__watch_sends_every_change_then_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__record_rules_reject_and_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__evaluate_decides_and_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__health_check__serving_for_the_server_and_each_service,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__health__not_serving_from_a_failed_commit_to_the_next_good_one,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__health_watch__unknown_service_stays_open_until_the_drain,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__reflection__lists_services_and_serves_files_with_imports,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__reflection__unknown_names_get_an_error_naming_the_field,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_service__reflection__each_request_after_the_first_takes_a_token,
            setup, teardown),
        cmocka_unit_test(
            test_service__reflection__every_answer_fits_the_smallest_message_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
