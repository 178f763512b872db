/* Integration tests: real cjxd processes, real mTLS, real SQLite files. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cjx/v1/record_service.methods.h"
#include "grpc/health/v1/health.methods.h"
#include "harness.h"

#define DOJ_ORI      "CA0000001"
#define SF_COURT_ORI "CA038033J"

enum {
    OK = 0,
    INVALID_ARGUMENT = 3,
    NOT_FOUND = 5,
    ALREADY_EXISTS = 6,
    PERMISSION_DENIED = 7,
    RESOURCE_EXHAUSTED = 8,
    UNIMPLEMENTED = 12,
    UNAVAILABLE = 14,
    UNAUTHENTICATED = 16
};

static struct test_daemon doj;

static const struct cjx_method *
method(int i)
{
    return &cjx__v1__record_service__methods[i];
}

/* A record for count `count` of a San Francisco case of person cii. */
struct record_buf {
    Cjx__V1__ConvictionRecord rec;
    Cjx__V1__Person person;
    Cjx__V1__Statute charge;
    Cjx__V1__Date dob, offense, conviction;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__SubmitRecordRequest req;
    char cii[16], ccn[32], id[64];
};

static Cjx__V1__SubmitRecordRequest *
make_request(struct record_buf *b, const char *cii, const char *ccn, int count,
             const char *county, const char *request_id)
{
    memset(b, 0, sizeof(*b));
    cjx__v1__conviction_record__init(&b->rec);
    cjx__v1__person__init(&b->person);
    cjx__v1__statute__init(&b->charge);
    cjx__v1__date__init(&b->dob);
    cjx__v1__date__init(&b->offense);
    cjx__v1__date__init(&b->conviction);
    cjx__v1__request_meta__init(&b->meta);
    cjx__v1__submit_record_request__init(&b->req);
    snprintf(b->cii, sizeof(b->cii), "%s", cii);
    snprintf(b->ccn, sizeof(b->ccn), "%s", ccn);
    snprintf(b->id, sizeof(b->id), "%s", request_id);
    b->person.cii = b->cii;
    b->person.last_name = "TESTER";
    b->person.first_name = "PAT";
    b->dob = (Cjx__V1__Date){
        .base = b->dob.base, .year = 1980, .month = 5, .day = 1};
    b->person.date_of_birth = &b->dob;
    b->charge.section = "11359";
    b->charge.code = "HS";
    b->charge.normalized = "HS 11359";
    b->offense = (Cjx__V1__Date){
        .base = b->offense.base, .year = 2012, .month = 3, .day = 2};
    b->conviction = (Cjx__V1__Date){
        .base = b->conviction.base, .year = 2012, .month = 6, .day = 1};
    b->rec.subject = &b->person;
    b->rec.county = (char *)county;
    b->rec.court_ori = SF_COURT_ORI;
    b->rec.court_case_number = b->ccn;
    b->rec.count_number = count;
    b->rec.offense_date = &b->offense;
    b->rec.conviction_date = &b->conviction;
    b->rec.charge = &b->charge;
    b->rec.level = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY;
    b->rec.disposition = CJX__V1__DISPOSITION__DISPOSITION_CONVICTED;
    b->meta.request_id = b->id;
    b->req.meta = &b->meta;
    b->req.record = &b->rec;
    return &b->req;
}

/* Submits and returns the status code; *resp is filled on OK. */
static int
submit(struct cjx_client *cl, Cjx__V1__SubmitRecordRequest *req,
       Cjx__V1__SubmitRecordResponse **resp, struct cjx_client_status *st)
{
    ProtobufCMessage *m = NULL;
    assert_int_equal(cjx_client_unary(cl, method(RECORD_SERVICE_SUBMIT_RECORD),
                                      &req->base, 10000, &m, st),
                     0);
    if (resp != NULL)
        *resp = (Cjx__V1__SubmitRecordResponse *)m;
    else if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return st->code;
}

static int
health_code(struct cjx_client *cl)
{
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st;
    cjx_client_unary(cl, &grpc__health__v1__health__methods[HEALTH_CHECK],
                     &req.base, 5000, &resp, &st);
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    return st.code;
}

static int64_t
last_seq_seen(struct cjx_client *cl, int64_t after, int *count)
{
    Cjx__V1__WatchRecordsRequest req = CJX__V1__WATCH_RECORDS_REQUEST__INIT;
    req.after_seq = after;
    struct cjx_client_stream *s;
    assert_int_equal(
        cjx_client_stream_open(cl, method(RECORD_SERVICE_WATCH_RECORDS),
                               &req.base, 10000, &s),
        0);
    ProtobufCMessage *m;
    int64_t last = after;
    *count = 0;
    while (cjx_client_stream_read(s, &m) == 1) {
        Cjx__V1__RecordChange *c = (Cjx__V1__RecordChange *)m;
        assert_true(c->seq > last); /* ascending, no repeats */
        last = c->seq;
        (*count)++;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    struct cjx_client_status st;
    cjx_client_stream_finish(s, NULL, &st);
    cjx_client_stream_free(s);
    assert_int_equal(st.code, OK);
    return last;
}

/* ---- fixtures ----------------------------------------------------------- */

static int
start_doj(void **state)
{
    (void)state;
    doj.max_message_bytes = 64 * 1024;
    harness_daemon_init(&doj, "doj", DOJ_ORI);
    return harness_daemon_start(&doj);
}

static int
stop_doj(void **state)
{
    (void)state;
    int status = harness_daemon_stop(&doj);
    harness_daemon_cleanup(&doj);
    return status == 0 ? 0 : -1;
}

/* ---- accepted calls ------------------------------------------------------ */

static void
test_daemon__court_submits_over_mtls__record_is_stored(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_tls(&doj, "sf-court");
    struct record_buf b;
    struct cjx_client_status st;
    Cjx__V1__SubmitRecordResponse *resp;
    assert_int_equal(submit(cl,
                            make_request(&b, "A20000001", "SF-1", 1,
                                         "San Francisco", "court-1"),
                            &resp, &st),
                     OK);
    assert_int_equal(resp->version, 1);
    assert_true(resp->seq > 0);
    protobuf_c_message_free_unpacked(&resp->base, NULL);

    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = "A20000001";
    key.court_case_number = "SF-1";
    key.count_number = 1;
    Cjx__V1__GetRecordRequest get = CJX__V1__GET_RECORD_REQUEST__INIT;
    get.key = &key;
    ProtobufCMessage *m;
    assert_int_equal(cjx_client_unary(cl, method(RECORD_SERVICE_GET_RECORD),
                                      &get.base, 5000, &m, &st),
                     0);
    assert_int_equal(st.code, OK);
    Cjx__V1__StoredRecord *rec = (Cjx__V1__StoredRecord *)m;
    assert_string_equal(rec->submitted_by, SF_COURT_ORI);
    assert_string_equal(rec->record->charge->section, "11359");
    assert_int_equal(rec->record->offense_date->year, 2012);
    protobuf_c_message_free_unpacked(m, NULL);
    cjx_client_free(cl);
}

static void
test_daemon__health_over_mtls_and_local__serving(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_tls(&doj, "sf-da");
    assert_int_equal(health_code(cl), OK);
    cjx_client_free(cl);
    cl = harness_client_local(&doj);
    assert_int_equal(health_code(cl), OK);
    cjx_client_free(cl);
}

/* ---- refusals ------------------------------------------------------------ */

static int
health_as(const char *cert)
{
    struct cjx_client *cl = harness_client_tls(&doj, cert);
    int code = health_code(cl);
    cjx_client_free(cl);
    return code;
}

static void
test_daemon__no_client_certificate__refused_at_handshake(void **state)
{
    (void)state;
    assert_int_equal(health_as(NULL), UNAVAILABLE);
}

static void
test_daemon__certificate_from_other_ca__refused_at_handshake(void **state)
{
    (void)state;
    assert_int_equal(health_as("otherca"), UNAVAILABLE);
}

static void
test_daemon__expired_certificate__refused_at_handshake(void **state)
{
    (void)state;
    assert_int_equal(health_as("expired"), UNAVAILABLE);
}

static void
test_daemon__not_yet_valid_certificate__refused_at_handshake(void **state)
{
    (void)state;
    assert_int_equal(health_as("notyet"), UNAVAILABLE);
}

static void
test_daemon__wrong_key_usage__refused_at_handshake(void **state)
{
    (void)state;
    assert_int_equal(health_as("badusage"), UNAVAILABLE);
}

static void
test_daemon__unknown_agency__unauthenticated(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_tls(&doj, "unknown");
    struct record_buf b;
    struct cjx_client_status st;
    assert_int_equal(submit(cl,
                            make_request(&b, "A20000002", "SF-2", 1,
                                         "San Francisco", "unk-1"),
                            NULL, &st),
                     UNAUTHENTICATED);
    assert_non_null(strstr(st.message, "not in the agency registry"));
    cjx_client_free(cl);
}

static void
test_daemon__no_agency_san__unauthenticated(void **state)
{
    (void)state;
    assert_int_equal(health_as("nosan"), UNAUTHENTICATED);
    assert_int_equal(health_as("wrongdomain"), UNAUTHENTICATED);
}

static void
test_daemon__prosecutor_submitting_records__permission_denied(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_tls(&doj, "sf-da");
    struct record_buf b;
    struct cjx_client_status st;
    assert_int_equal(submit(cl,
                            make_request(&b, "A20000003", "SF-3", 1,
                                         "San Francisco", "da-1"),
                            NULL, &st),
                     PERMISSION_DENIED);
    assert_non_null(strstr(st.message, "PROSECUTOR"));
    cjx_client_free(cl);
}

static void
test_daemon__court_of_other_county__permission_denied(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_tls(&doj, "alameda-court");
    struct record_buf b;
    struct cjx_client_status st;
    assert_int_equal(submit(cl,
                            make_request(&b, "A20000004", "SF-4", 1,
                                         "San Francisco", "ala-1"),
                            NULL, &st),
                     PERMISSION_DENIED);
    assert_non_null(strstr(st.message, "Alameda"));
    cjx_client_free(cl);
}

static void
test_daemon__malformed_protobuf__invalid_argument_and_still_serving(
    void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_tls(&doj, "sf-court");
    /* Field 2 claims 100 bytes but the message ends after 3. */
    static const uint8_t garbage[] = {0x12, 0x64, 0x0a, 0x01, 0x41};
    void *resp;
    size_t len;
    struct cjx_client_status st;
    assert_int_equal(
        cjx_client_unary_raw(cl, "/cjx.v1.RecordService/SubmitRecord", garbage,
                             sizeof(garbage), 5000, &resp, &len, &st),
        0);
    assert_int_equal(st.code, INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "cjx.v1.SubmitRecordRequest"));
    free(resp);
    assert_int_equal(health_code(cl), OK);
    cjx_client_free(cl);
}

static void
test_daemon__invalid_record__invalid_argument_naming_field(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_tls(&doj, "sf-court");
    struct record_buf b;
    struct cjx_client_status st;
    Cjx__V1__SubmitRecordRequest *req =
        make_request(&b, "A20000005", "SF-5", 1, "San Francisco", "bad-1");
    b.offense.month = 13;
    assert_int_equal(submit(cl, req, NULL, &st), INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "record.offense_date"));
    cjx_client_free(cl);
}

static void
test_daemon__oversize_message__resource_exhausted(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_tls(&doj, "sf-court");
    size_t len = 128 * 1024; /* the daemon under test allows 64 KiB */
    uint8_t *big = calloc(1, len);
    void *resp;
    size_t resp_len;
    struct cjx_client_status st;
    assert_int_equal(
        cjx_client_unary_raw(cl, "/cjx.v1.RecordService/SubmitRecord", big, len,
                             5000, &resp, &resp_len, &st),
        0);
    assert_int_equal(st.code, RESOURCE_EXHAUSTED);
    free(big);
    free(resp);
    assert_int_equal(health_code(cl), OK);
    cjx_client_free(cl);
}

static void
test_daemon__unknown_method__unimplemented(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_tls(&doj, "sf-court");
    void *resp;
    size_t len;
    struct cjx_client_status st;
    assert_int_equal(cjx_client_unary_raw(cl, "/cjx.v1.RecordService/Nope", "",
                                          0, 5000, &resp, &len, &st),
                     0);
    assert_int_equal(st.code, UNIMPLEMENTED);
    free(resp);
    cjx_client_free(cl);
}

/* ---- idempotency and the change feed ------------------------------------ */

static void
test_daemon__repeated_request_id__first_answer_and_nothing_changes(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_local(&doj);
    struct record_buf b;
    struct cjx_client_status st;
    Cjx__V1__SubmitRecordResponse *first, *again;
    assert_int_equal(submit(cl,
                            make_request(&b, "A20000006", "SF-6", 1,
                                         "San Francisco", "idem-1"),
                            &first, &st),
                     OK);
    int n;
    int64_t seq_before = last_seq_seen(cl, 0, &n);
    assert_int_equal(submit(cl,
                            make_request(&b, "A20000006", "SF-6", 1,
                                         "San Francisco", "idem-1"),
                            &again, &st),
                     OK);
    assert_int_equal(again->version, first->version);
    assert_int_equal(again->seq, first->seq);
    assert_int_equal(last_seq_seen(cl, 0, &n), seq_before);

    /* The same id with other content is refused and changes nothing. */
    Cjx__V1__SubmitRecordRequest *other =
        make_request(&b, "A20000006", "SF-6", 1, "San Francisco", "idem-1");
    b.charge.section = "11358";
    assert_int_equal(submit(cl, other, NULL, &st), ALREADY_EXISTS);
    assert_int_equal(last_seq_seen(cl, 0, &n), seq_before);
    protobuf_c_message_free_unpacked(&first->base, NULL);
    protobuf_c_message_free_unpacked(&again->base, NULL);
    cjx_client_free(cl);
}

static void
test_daemon__change_feed__resumes_exactly_after_reconnect(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_local(&doj);
    struct record_buf b;
    struct cjx_client_status st;
    int n;
    int64_t start = last_seq_seen(cl, 0, &n);
    char id[32];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "feed-%d", i);
        assert_int_equal(submit(cl,
                                make_request(&b, "A20000007", "SF-7", i + 1,
                                             "San Francisco", id),
                                NULL, &st),
                         OK);
    }
    /* Read two changes, drop the connection, resume after the second. */
    Cjx__V1__WatchRecordsRequest req = CJX__V1__WATCH_RECORDS_REQUEST__INIT;
    req.after_seq = start;
    req.follow = 1;
    struct cjx_client_stream *s;
    assert_int_equal(
        cjx_client_stream_open(cl, method(RECORD_SERVICE_WATCH_RECORDS),
                               &req.base, 0, &s),
        0);
    int64_t cursor = start;
    for (int i = 0; i < 2; i++) {
        ProtobufCMessage *m;
        assert_int_equal(cjx_client_stream_read(s, &m), 1);
        cursor = ((Cjx__V1__RecordChange *)m)->seq;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    cjx_client_stream_free(s);
    cjx_client_free(cl);

    cl = harness_client_local(&doj);
    int64_t last = last_seq_seen(cl, cursor, &n);
    assert_int_equal(n, 3);
    assert_int_equal(last, start + 5);

    /* A follower sees a change committed after it caught up. */
    req.after_seq = last;
    assert_int_equal(
        cjx_client_stream_open(cl, method(RECORD_SERVICE_WATCH_RECORDS),
                               &req.base, 0, &s),
        0);
    struct cjx_client *writer = harness_client_local(&doj);
    assert_int_equal(submit(writer,
                            make_request(&b, "A20000007", "SF-7", 9,
                                         "San Francisco", "feed-late"),
                            NULL, &st),
                     OK);
    ProtobufCMessage *m;
    assert_int_equal(cjx_client_stream_read(s, &m), 1);
    assert_int_equal(((Cjx__V1__RecordChange *)m)->seq, last + 1);
    protobuf_c_message_free_unpacked(m, NULL);
    cjx_client_stream_free(s);
    cjx_client_free(writer);
    cjx_client_free(cl);
}

/* ---- durability, signals -------------------------------------------------- */

static void
test_daemon__acknowledged_records_survive_kill9(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&d), 0);
    struct cjx_client *cl = harness_client_local(&d);
    struct record_buf b;
    struct cjx_client_status st;
    char id[32], ccn[32];
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof(id), "k9-%d", i);
        snprintf(ccn, sizeof(ccn), "K9-%d", i);
        assert_int_equal(
            submit(cl,
                   make_request(&b, "A30000001", ccn, 1, "San Francisco", id),
                   NULL, &st),
            OK);
    }
    cjx_client_free(cl);
    harness_daemon_kill9(&d);
    assert_int_equal(harness_daemon_start(&d), 0);
    cl = harness_client_local(&d);
    int n;
    last_seq_seen(cl, 0, &n);
    assert_int_equal(n, 50);
    cjx_client_free(cl);
    assert_int_equal(harness_daemon_stop(&d), 0);
    harness_daemon_cleanup(&d);
}

static void
test_daemon__sighup_with_broken_config__keeps_serving(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&d), 0);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cp %s %s.good && echo 'bogus_key: 1' >> %s",
             d.conf, d.conf, d.conf);
    assert_int_equal(harness_run(cmd), 0);
    harness_daemon_signal(&d, SIGHUP);
    struct cjx_client *cl = harness_client_local(&d);
    for (int i = 0; i < 200 && !harness_log_contains(&d, "reload refused"); i++)
        assert_int_equal(health_code(cl), OK);
    assert_true(harness_log_contains(&d, "reload refused"));
    assert_true(harness_log_contains(&d, "bogus_key"));
    assert_int_equal(health_code(cl), OK);
    cjx_client_free(cl);
    assert_int_equal(harness_daemon_stop(&d), 0);
    harness_daemon_cleanup(&d);
}

static void
test_daemon__check_mode_reports_file_and_line(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s -n -c %s >/dev/null", getenv("CJX_CJXD"),
             d.conf);
    assert_int_equal(harness_run(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "echo 'listen: [oops' >> %s; %s -n -c %s 2>&1 | grep -Eq "
             "'%s:[0-9]+:[0-9]+: '",
             d.conf, getenv("CJX_CJXD"), d.conf, d.conf);
    assert_int_equal(harness_run(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s -n -c %s >/dev/null 2>&1",
             getenv("CJX_CJXD"), d.conf);
    assert_int_not_equal(harness_run(cmd), 0);
    harness_daemon_cleanup(&d);
}

static const char *
json_member(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v)
                                                 : NULL;
}

static int
json_member_is(struct json_object *o, const char *key, const char *want)
{
    const char *v = json_member(o, key);
    return v != NULL && strcmp(v, want) == 0;
}

static void
test_daemon__json_log__every_line_an_object_and_refusals_carry_fields(
    void **state)
{
    (void)state;
    struct test_daemon d = {.extra_yaml = "log_format: json\n"};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&d), 0);
    struct cjx_client *cl = harness_client_tls(&d, "sf-da");
    struct record_buf b;
    struct cjx_client_status st;
    assert_int_equal(submit(cl,
                            make_request(&b, "A20000009", "SF-9", 1,
                                         "San Francisco", "da-json-1"),
                            NULL, &st),
                     PERMISSION_DENIED);
    cjx_client_free(cl);
    assert_int_equal(harness_daemon_stop(&d), 0);

    /* Read with json-c, a parser that is not ours: every line is one
     * object with the four fixed members, and the refusal names the
     * caller, method and status as members of their own. */
    FILE *f = fopen(d.log, "r");
    assert_non_null(f);
    char line[8192];
    int lines = 0, refusals = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);
        assert_true(n > 0 && line[n - 1] == '\n');
        struct json_object *o = json_tokener_parse(line);
        if (o == NULL)
            fail_msg("not a JSON object: %s", line);
        assert_true(json_object_is_type(o, json_type_object));
        assert_non_null(json_member(o, "time"));
        assert_non_null(json_member(o, "level"));
        assert_non_null(json_member(o, "module"));
        assert_non_null(json_member(o, "message"));
        if (json_member_is(o, "status", "PERMISSION_DENIED") &&
            json_member_is(o, "peer", "CA038013A") &&
            json_member_is(o, "method", "/cjx.v1.RecordService/SubmitRecord") &&
            json_member_is(o, "level", "warn") &&
            json_member_is(o, "module", "rpc"))
            refusals++;
        json_object_put(o);
        lines++;
    }
    fclose(f);
    assert_true(lines >= 2); /* at least start and stop */
    assert_int_equal(refusals, 1);
    harness_daemon_cleanup(&d);
}

/* A second daemon configured with the address the shared one serves must
 * refuse to start, not share the port: with SO_REUSEPORT (gRPC's default)
 * it would bind too and take half of the peers' connections. */
static void
test_daemon__listen_address_in_use__second_daemon_refuses_to_start(void **state)
{
    (void)state;
    struct test_daemon second = {0};
    harness_daemon_init(&second, "doj", DOJ_ORI);
    second.port = doj.port;
    harness_daemon_write_conf(&second);
    int started = harness_daemon_start(&second);
    if (started == 0)
        harness_daemon_stop(&second);
    assert_int_equal(started, -1);
    char want[64];
    snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%d", doj.port);
    assert_true(harness_log_contains(&second, want));
    /* The first one still answers. */
    struct cjx_client *cl = harness_client_tls(&doj, "sf-court");
    assert_non_null(cl);
    assert_int_equal(harness_health_code(cl, 5000), 0);
    cjx_client_free(cl);
    harness_daemon_cleanup(&second);
}

/* Runs cjxctl with args against d's local socket; its output lands in
 * out. Returns its exit status. */
static int
cjxctl(const struct test_daemon *d, const char *args, char *out, size_t size)
{
    char cmd[1024], path[400];
    snprintf(path, sizeof(path), "%s/cjxctl.out", d->dir);
    snprintf(cmd, sizeof(cmd), "CJX_SOCKET=%s %s %s > %s 2>&1", d->socket,
             getenv("CJX_CJXCTL"), args, path);
    int status = harness_run(cmd);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    out[fread(out, 1, size - 1, f)] = '\0';
    fclose(f);
    return status;
}

static void
test_daemon__cjxctl_status__the_daemon_on_one_screen(void **state)
{
    (void)state;
    static char out[16384];
    assert_int_equal(cjxctl(&doj, "status", out, sizeof(out)), 0);
    const char *const lines[] = {
        "* cjxd CA0000001 - California Department of Justice (DOJ)\n",
        "     Version: 0.1.0\n",
        "   Rule sets: prop64 ",
        "(cjx.v1.ReliefQuery)\n",
        "    Expiries: cert ",
        "/CN=CA0000001 (in ",
        "       Store: ",
        "       Audit: head ",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        if (strstr(out, lines[i]) == NULL)
            fail_msg("no '%s' in:\n%s", lines[i], out);
    /* The development certificates are valid for a year: no warning. */
    assert_null(strstr(out, "WARNING"));

    /* --json is the message itself, for scripts. */
    assert_int_equal(cjxctl(&doj, "--json status", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"agency\":{\"ori\":\"CA0000001\""));
    assert_non_null(strstr(out, "\"ruleSets\":[{\"name\":\"prop64\""));
    assert_int_equal(cjxctl(&doj, "status extra", out, sizeof(out)), 2);
}

int
main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(
            test_daemon__court_submits_over_mtls__record_is_stored),
        cmocka_unit_test(test_daemon__health_over_mtls_and_local__serving),
        cmocka_unit_test(
            test_daemon__no_client_certificate__refused_at_handshake),
        cmocka_unit_test(
            test_daemon__certificate_from_other_ca__refused_at_handshake),
        cmocka_unit_test(
            test_daemon__expired_certificate__refused_at_handshake),
        cmocka_unit_test(
            test_daemon__not_yet_valid_certificate__refused_at_handshake),
        cmocka_unit_test(test_daemon__wrong_key_usage__refused_at_handshake),
        cmocka_unit_test(test_daemon__unknown_agency__unauthenticated),
        cmocka_unit_test(test_daemon__no_agency_san__unauthenticated),
        cmocka_unit_test(
            test_daemon__prosecutor_submitting_records__permission_denied),
        cmocka_unit_test(test_daemon__court_of_other_county__permission_denied),
        cmocka_unit_test(
            test_daemon__malformed_protobuf__invalid_argument_and_still_serving),
        cmocka_unit_test(
            test_daemon__invalid_record__invalid_argument_naming_field),
        cmocka_unit_test(test_daemon__oversize_message__resource_exhausted),
        cmocka_unit_test(test_daemon__unknown_method__unimplemented),
        cmocka_unit_test(
            test_daemon__repeated_request_id__first_answer_and_nothing_changes),
        cmocka_unit_test(
            test_daemon__change_feed__resumes_exactly_after_reconnect),
        cmocka_unit_test(test_daemon__cjxctl_status__the_daemon_on_one_screen),
        cmocka_unit_test(
            test_daemon__listen_address_in_use__second_daemon_refuses_to_start),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_daemon__acknowledged_records_survive_kill9),
        cmocka_unit_test(test_daemon__sighup_with_broken_config__keeps_serving),
        cmocka_unit_test(test_daemon__check_mode_reports_file_and_line),
        cmocka_unit_test(
            test_daemon__json_log__every_line_an_object_and_refusals_carry_fields),
    };
    int failed = cmocka_run_group_tests_name("shared daemon", shared, start_doj,
                                             stop_doj);
    failed += cmocka_run_group_tests_name("own daemons", own, NULL, NULL);
    return failed;
}
