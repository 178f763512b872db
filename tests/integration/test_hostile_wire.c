/* Integration tests: a peer that sends strings proto3 does not allow (a NUL,
 * invalid UTF-8) or enum numbers the schema does not define, over real mTLS
 * to a real daemon, to several methods. Each is refused with
 * INVALID_ARGUMENT naming the field, nothing is stored, and other agencies'
 * reads go on working. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/v1/exchange.pb-c.h"
#include "cjx/v1/record_service.methods.h"
#include "harness.h"

#define DOJ_ORI      "CA0000001"
#define SF_COURT_ORI "CA038033J"

enum { OK = 0, INVALID_ARGUMENT = 3, NOT_FOUND = 5 };

static struct test_daemon doj;

/* A valid record of San Francisco with a placeholder in every string a row
 * spoils; the placeholders are replaced in the packed bytes, because
 * protobuf-c's packer writes C strings and cannot send a NUL itself. */
struct record_parts {
    Cjx__V1__SubmitRecordRequest req;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__ConvictionRecord rec;
    Cjx__V1__Person subject;
    Cjx__V1__Statute charge;
    Cjx__V1__Date dob, offense, conviction;
    Cjx__V1__PriorRelief prior[2];
};

static void
record_parts_init(struct record_parts *p, const char *cii, const char *id)
{
    cjx__v1__submit_record_request__init(&p->req);
    cjx__v1__request_meta__init(&p->meta);
    cjx__v1__conviction_record__init(&p->rec);
    cjx__v1__person__init(&p->subject);
    cjx__v1__statute__init(&p->charge);
    cjx__v1__date__init(&p->dob);
    cjx__v1__date__init(&p->offense);
    cjx__v1__date__init(&p->conviction);
    p->dob.year = 1980, p->dob.month = 5, p->dob.day = 1;
    p->offense.year = 2012, p->offense.month = 3, p->offense.day = 2;
    p->conviction.year = 2012, p->conviction.month = 6, p->conviction.day = 1;
    p->meta.request_id = (char *)id;
    p->subject.cii = (char *)cii;
    p->subject.last_name = "TESTER";
    p->subject.date_of_birth = &p->dob;
    p->charge.section = "11359";
    p->rec.subject = &p->subject;
    p->rec.county = "San Francisco";
    p->rec.court_ori = SF_COURT_ORI;
    p->rec.court_case_number = "SF-WIRE-1";
    p->rec.count_number = 1;
    p->rec.offense_date = &p->offense;
    p->rec.conviction_date = &p->conviction;
    p->rec.charge = &p->charge;
    p->rec.level = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY;
    p->rec.disposition = CJX__V1__DISPOSITION__DISPOSITION_CONVICTED;
    p->prior[0] = CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PROP64_DISMISSED;
    p->prior[1] = CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PROP64_REDESIGNATED;
    p->rec.prior_relief = p->prior;
    p->rec.n_prior_relief = 2;
    p->req.meta = &p->meta;
    p->req.record = &p->rec;
}

struct packed {
    uint8_t data[4096];
    size_t len;
};

static void
pack(const ProtobufCMessage *m, struct packed *p)
{
    p->len = protobuf_c_message_get_packed_size(m);
    assert_true(p->len <= sizeof(p->data));
    protobuf_c_message_pack(m, p->data);
}

/* Replaces the last occurrence of marker in p with as many bytes of with
 * (which may hold NULs: with_len must equal the marker's length). */
static void
patch_n(struct packed *p, const char *marker, const char *with, size_t with_len)
{
    size_t n = strlen(marker);
    assert_int_equal(with_len, n);
    uint8_t *last = NULL;
    for (uint8_t *at = p->data;
         (at = memmem(at, p->len - (size_t)(at - p->data), marker, n)) != NULL;
         at++)
        last = at;
    assert_non_null(last);
    memcpy(last, with, n);
}

#define patch(p, marker, lit) patch_n(p, marker, lit, sizeof(lit) - 1)

/* Sends raw request bytes as cert to path; returns the status. */
static int
call_raw(const char *cert, const char *path, const struct packed *p,
         struct cjx_client_status *st)
{
    struct cjx_client *cl = harness_client_tls(&doj, cert);
    void *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(cjx_client_unary_raw(cl, path, p->data, p->len, 10000,
                                          &resp, &resp_len, st),
                     0);
    free(resp);
    cjx_client_free(cl);
    return st->code;
}

static void
expect_refusal(const char *cert, const char *path, const struct packed *p,
               const char *message)
{
    struct cjx_client_status st;
    assert_int_equal(call_raw(cert, path, p, &st), INVALID_ARGUMENT);
    assert_string_equal(st.message, message);
}

#define SUBMIT "/cjx.v1.RecordService/SubmitRecord"
#define GET    "/cjx.v1.RecordService/GetRecord"
#define LIST   "/cjx.v1.RecordService/ListRecords"
#define ORDER  "/cjx.v1.CaseService/Order"
#define MANY   "/cjx.v1.CaseService/Deliver"

/* ---- fixtures ----------------------------------------------------------- */

static int
start_doj(void **state)
{
    (void)state;
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

/* ---- records ------------------------------------------------------------ */

/* Each row spoils one string or enum of a valid SubmitRecord. */
static const struct submit_row {
    const char *cii;    /* of the record (a placeholder when spoiled) */
    const char *marker; /* placeholder replaced, or NULL */
    const char *with;
    size_t with_len;
    int level;  /* set when not 0 */
    int prior1; /* prior_relief[1], set when not 0 */
    const char *message;
} submit_rows[] = {
    {"B90001234", "B90001234",
     "B9000\0"
     "234",
     9, 0, 0, "record.subject.cii: holds a NUL byte (byte 5)"},
    {"A30000001", "San Francisco",
     "San\xff"
     "Francisco",
     13, 0, 0, "record.county: is not valid UTF-8 (byte 3)"},
    {"A30000002", "TESTER", "TE\xed\xa0\x80R", 6, 0, 0,
     "record.subject.last_name: is not valid UTF-8 (byte 2)"},
    {"A30000003", "wire-req-3", "wire\0req-3", 10, 0, 0,
     "meta.request_id: holds a NUL byte (byte 4)"},
    {"A30000004", NULL, NULL, 0, 99, 0,
     "record.level: 99 is not a value of cjx.v1.OffenseLevel"},
    {"A30000005", NULL, NULL, 0, 0, 77,
     "record.prior_relief[1]: 77 is not a value of cjx.v1.PriorRelief"},
};

static void
test_hostile_wire__bad_records__refused_naming_the_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(submit_rows) / sizeof(submit_rows[0]); i++) {
        const struct submit_row *row = &submit_rows[i];
        char id[32];
        snprintf(id, sizeof(id), "wire-req-%zu", i);
        struct record_parts parts;
        record_parts_init(&parts, row->cii, id);
        if (row->level != 0)
            parts.rec.level = (Cjx__V1__OffenseLevel)row->level;
        if (row->prior1 != 0)
            parts.prior[1] = (Cjx__V1__PriorRelief)row->prior1;
        struct packed p;
        pack(&parts.req.base, &p);
        if (row->marker != NULL)
            patch_n(&p, row->marker, row->with, row->with_len);
        /* The court of the county and DOJ alike. */
        expect_refusal("sf-court", SUBMIT, &p, row->message);
        expect_refusal("doj", SUBMIT, &p, row->message);
    }
}

static void
test_hostile_wire__bad_reads__refused_naming_the_field(void **state)
{
    (void)state;
    Cjx__V1__ListRecordsRequest list = CJX__V1__LIST_RECORDS_REQUEST__INIT;
    list.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY;
    list.county = "San Francisco+Alameda";
    struct packed p;
    pack(&list.base, &p);
    patch(&p, "San Francisco+", "San Francisco\0");
    expect_refusal("alameda-da", LIST, &p,
                   "county: holds a NUL byte (byte 13)");
    expect_refusal("doj", LIST, &p, "county: holds a NUL byte (byte 13)");

    list.county = "San Francisco";
    list.page_token = "PAGE";
    pack(&list.base, &p);
    patch(&p, "PAGE", "\0AGE");
    expect_refusal("sf-da", LIST, &p, "page_token: holds a NUL byte (byte 0)");

    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = "KEY-CII";
    key.court_case_number = "SF-WIRE-1";
    key.count_number = 1;
    Cjx__V1__GetRecordRequest get = CJX__V1__GET_RECORD_REQUEST__INIT;
    get.key = &key;
    pack(&get.base, &p);
    patch(&p, "KEY-CII", "\xc0\xafY-CII");
    expect_refusal("sf-pd", GET, &p, "key.cii: is not valid UTF-8 (byte 0)");
}

/* ---- cases -------------------------------------------------------------- */

static void
test_hostile_wire__bad_orders__refused_naming_the_field(void **state)
{
    (void)state;
    Cjx__V1__RequestMeta meta = CJX__V1__REQUEST_META__INIT;
    meta.request_id = "order-wire-1";
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = "A30000009";
    key.court_case_number = "SF-WIRE-1";
    key.count_number = 1;
    Cjx__V1__ReliefOrder order = CJX__V1__RELIEF_ORDER__INIT;
    order.meta = &meta;
    order.key = &key;
    order.relief = CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL;
    order.judge = "JUDGE-HOLMES";
    struct packed p;
    pack(&order.base, &p);
    patch(&p, "JUDGE-HOLMES", "JUD\0E-HOLMES");
    expect_refusal("sf-court", ORDER, &p, "judge: holds a NUL byte (byte 3)");

    order.judge = "JUDGE-HOLMES";
    order.relief = (Cjx__V1__OrderRelief)42;
    pack(&order.base, &p);
    expect_refusal("sf-court", ORDER, &p,
                   "relief: 42 is not a value of cjx.v1.OrderRelief");

    /* The fourth of a batch, inside the oneof of a repeated message. */
    order.relief = CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL;
    Cjx__V1__CaseMessage msg[4], *msg_p[4];
    for (int i = 0; i < 4; i++) {
        cjx__v1__case_message__init(&msg[i]);
        msg[i].message_case = CJX__V1__CASE_MESSAGE__MESSAGE_ORDER;
        msg[i].order = &order;
        msg_p[i] = &msg[i];
    }
    Cjx__V1__CaseMessages batch = CJX__V1__CASE_MESSAGES__INIT;
    batch.messages = msg_p;
    batch.n_messages = 4;
    pack(&batch.base, &p);
    patch(&p, "JUDGE-HOLMES",
          "JU\xc3"
          "GE-HOLMES");
    expect_refusal("sf-court", MANY, &p,
                   "messages[3].order.judge: is not valid UTF-8 (byte 2)");
}

/* ---- afterwards --------------------------------------------------------- */

static int
get_record(const char *cert, const char *cii, char *county, size_t len)
{
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = (char *)cii;
    key.court_case_number = "SF-WIRE-1";
    key.count_number = 1;
    Cjx__V1__GetRecordRequest get = CJX__V1__GET_RECORD_REQUEST__INIT;
    get.key = &key;
    struct cjx_client *cl = harness_client_tls(&doj, cert);
    ProtobufCMessage *m = NULL;
    struct cjx_client_status st;
    assert_int_equal(
        cjx_client_unary(
            cl, &cjx__v1__record_service__methods[RECORD_SERVICE_GET_RECORD],
            &get.base, 10000, &m, &st),
        0);
    if (m != NULL) {
        snprintf(county, len, "%s",
                 ((Cjx__V1__StoredRecord *)m)->record->county);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    cjx_client_free(cl);
    return st.code;
}

static void
test_hostile_wire__after_the_refusals__nothing_stored_reads_work(void **state)
{
    (void)state;
    /* A good record, by the court. */
    struct record_parts parts;
    record_parts_init(&parts, "A30000100", "wire-good-1");
    struct packed p;
    pack(&parts.req.base, &p);
    struct cjx_client_status st;
    assert_int_equal(call_raw("sf-court", SUBMIT, &p, &st), OK);

    char county[64] = "";
    /* Not the cut CII, not any spoiled record. */
    assert_int_equal(get_record("doj", "B9000", county, sizeof(county)),
                     NOT_FOUND);
    for (size_t i = 0; i < sizeof(submit_rows) / sizeof(submit_rows[0]); i++)
        assert_int_equal(
            get_record("doj", submit_rows[i].cii, county, sizeof(county)),
            NOT_FOUND);
    /* Another agency reads the good one. */
    assert_int_equal(get_record("sf-da", "A30000100", county, sizeof(county)),
                     OK);
    assert_string_equal(county, "San Francisco");
    assert_int_equal(get_record("doj", "A30000100", county, sizeof(county)),
                     OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_hostile_wire__bad_records__refused_naming_the_field),
        cmocka_unit_test(
            test_hostile_wire__bad_reads__refused_naming_the_field),
        cmocka_unit_test(
            test_hostile_wire__bad_orders__refused_naming_the_field),
        cmocka_unit_test(
            test_hostile_wire__after_the_refusals__nothing_stored_reads_work),
    };
    return cmocka_run_group_tests_name("hostile wire", tests, start_doj,
                                       stop_doj);
}
