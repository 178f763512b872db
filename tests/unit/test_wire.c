/* Unit tests for the wire checker (src/common/wire.c): each class of fault,
 * nested, repeated, packed and in a oneof, with the field path it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/utf8.h"
#include "cjx/wire.h"
#include "cjx/v1/exchange.pb-c.h"
#include "cjx/v1/record_service.pb-c.h"

/* A valid record to spoil: every string in it is a distinct placeholder,
 * so that a row can replace one of them in the packed bytes with bytes of
 * the same length that protobuf-c's packer (which uses strlen) cannot
 * write. */
struct record_parts {
    Cjx__V1__SubmitRecordRequest req;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__ConvictionRecord rec;
    Cjx__V1__Person subject;
    Cjx__V1__Statute charge, relief_statute;
    Cjx__V1__SentencePart sentence[3], *sentence_p[3];
    Cjx__V1__ReliefEntry relief, *relief_p[1];
    Cjx__V1__PriorRelief prior[2];
    char *statutes[2];
};

static void
record_parts_init(struct record_parts *p)
{
    cjx__v1__submit_record_request__init(&p->req);
    cjx__v1__request_meta__init(&p->meta);
    cjx__v1__conviction_record__init(&p->rec);
    cjx__v1__person__init(&p->subject);
    cjx__v1__statute__init(&p->charge);
    cjx__v1__statute__init(&p->relief_statute);
    cjx__v1__relief_entry__init(&p->relief);
    p->meta.request_id = "REQID-0001";
    p->subject.cii = "CII-000001";
    p->subject.last_name = "Núñez-中文-😀";
    p->rec.subject = &p->subject;
    p->rec.county = "COUNTY-XXXXXXXXXXXXX";
    p->rec.court_case_number = "SF-2012-004411";
    p->rec.count_number = 1;
    p->charge.section = "11357";
    p->rec.charge = &p->charge;
    p->rec.level = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY;
    for (int i = 0; i < 3; i++) {
        cjx__v1__sentence_part__init(&p->sentence[i]);
        p->sentence[i].unit = CJX__V1__DURATION_UNIT__DURATION_UNIT_DAYS;
        p->sentence_p[i] = &p->sentence[i];
    }
    p->rec.sentence = p->sentence_p;
    p->rec.n_sentence = 3;
    p->prior[0] = CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PROP64_DISMISSED;
    p->prior[1] = CJX__V1__PRIOR_RELIEF__PRIOR_RELIEF_PROP64_REDESIGNATED;
    p->rec.prior_relief = p->prior;
    p->rec.n_prior_relief = 2;
    p->statutes[0] = "HS11358";
    p->statutes[1] = "STATUTE-2";
    p->rec.same_case_statutes = p->statutes;
    p->rec.n_same_case_statutes = 2;
    p->relief_statute.description = "DESCRIPTION";
    p->relief.statute = &p->relief_statute;
    p->relief_p[0] = &p->relief;
    p->rec.relief_history = p->relief_p;
    p->rec.n_relief_history = 1;
    p->req.meta = &p->meta;
    p->req.record = &p->rec;
}

struct packed {
    uint8_t *data;
    size_t len;
};

static struct packed
pack(const ProtobufCMessage *m)
{
    struct packed p;
    p.len = protobuf_c_message_get_packed_size(m);
    p.data = malloc(p.len ? p.len : 1);
    assert_non_null(p.data);
    protobuf_c_message_pack(m, p.data);
    return p;
}

/* Replaces the only occurrence of marker in p with with_len bytes of with,
 * which must be as long as the marker. */
static void
patch_n(struct packed *p, const char *marker, const char *with, size_t with_len)
{
    size_t n = strlen(marker);
    assert_int_equal(with_len, n);
    uint8_t *at = memmem(p->data, p->len, marker, n);
    assert_non_null(at);
    assert_null(memmem(at + 1, p->len - (size_t)(at - p->data) - 1, marker, n));
    memcpy(at, with, n);
}

/* A string literal and its length, NULs inside included. */
#define BYTES(lit)            lit, sizeof(lit) - 1
#define patch(p, marker, lit) patch_n(p, marker, BYTES(lit))

static void
expect_fault(const ProtobufCMessageDescriptor *desc, const struct packed *p,
             int want_err, const char *want_msg)
{
    struct cjx_errbuf eb = {{0}};
    int err = cjx_wire_check(desc, p->data, p->len, &eb);
    assert_int_equal(err, want_err);
    if (want_msg != NULL)
        assert_string_equal(eb.msg, want_msg);
}

/* One spoiled record: which placeholder becomes which bytes, or which enum
 * gets which number, and what the checker must say. */
static const struct record_row {
    const char *marker, *with;
    size_t with_len;
    int set_enum; /* 1 level, 2 prior_relief[1], 3 sentence[2].unit */
    int32_t value;
    const char *message;
} record_rows[] = {
    {"CII-000001", BYTES("B9000\0XXXX"), 0, 0,
     "record.subject.cii: holds a NUL byte (byte 5)"},
    {"REQID-0001", BYTES("\0EQID-0001"), 0, 0,
     "meta.request_id: holds a NUL byte (byte 0)"},
    {"COUNTY-XXXXXXXXXXXXX", BYTES("San Francisco\0Alamed"), 0, 0,
     "record.county: holds a NUL byte (byte 13)"},
    {"COUNTY-XXXXXXXXXXXXX", BYTES("San\xff Francisco......"), 0, 0,
     "record.county: is not valid UTF-8 (byte 3)"},
    /* An overlong '/', a UTF-16 surrogate, above U+10FFFF, cut short. */
    {"COUNTY-XXXXXXXXXXXXX", BYTES("ab\xc0\xaf................"), 0, 0,
     "record.county: is not valid UTF-8 (byte 2)"},
    {"COUNTY-XXXXXXXXXXXXX", BYTES("abcd\xed\xa0\x80............."), 0, 0,
     "record.county: is not valid UTF-8 (byte 4)"},
    {"COUNTY-XXXXXXXXXXXXX", BYTES("\xf4\x90\x80\x80................"), 0, 0,
     "record.county: is not valid UTF-8 (byte 0)"},
    {"COUNTY-XXXXXXXXXXXXX", BYTES("...................\xe4"), 0, 0,
     "record.county: is not valid UTF-8 (byte 19)"},
    /* The first fault in the string wins. */
    {"COUNTY-XXXXXXXXXXXXX", BYTES("a\xff\0................."), 0, 0,
     "record.county: is not valid UTF-8 (byte 1)"},
    {"STATUTE-2",
     BYTES("HS\0"
           "113578"),
     0, 0, "record.same_case_statutes[1]: holds a NUL byte (byte 2)"},
    {"DESCRIPTION", BYTES("DESCRIPTIO\x80"), 0, 0,
     "record.relief_history[0].statute.description: is not valid UTF-8 "
     "(byte 10)"},
    {NULL, NULL, 0, 1, 99,
     "record.level: 99 is not a value of cjx.v1.OffenseLevel"},
    {NULL, NULL, 0, 1, -1,
     "record.level: -1 is not a value of cjx.v1.OffenseLevel"},
    {NULL, NULL, 0, 2, 77,
     "record.prior_relief[1]: 77 is not a value of cjx.v1.PriorRelief"},
    {NULL, NULL, 0, 3, 9,
     "record.sentence[2].unit: 9 is not a value of cjx.v1.DurationUnit"},
};

static void
test_wire__record_faults__named_by_field_path(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(record_rows) / sizeof(record_rows[0]); i++) {
        const struct record_row *row = &record_rows[i];
        struct record_parts parts;
        record_parts_init(&parts);
        if (row->set_enum == 1)
            parts.rec.level = (Cjx__V1__OffenseLevel)row->value;
        else if (row->set_enum == 2)
            parts.prior[1] = (Cjx__V1__PriorRelief)row->value;
        else if (row->set_enum == 3)
            parts.sentence[2].unit = (Cjx__V1__DurationUnit)row->value;
        struct packed p = pack(&parts.req.base);
        if (row->marker != NULL)
            patch_n(&p, row->marker, row->with, row->with_len);
        expect_fault(&cjx__v1__submit_record_request__descriptor, &p,
                     CJX_EINVAL, row->message);
        free(p.data);
    }
}

static void
test_wire__valid_record__passes(void **state)
{
    (void)state;
    struct record_parts parts;
    record_parts_init(&parts);
    struct packed p = pack(&parts.req.base);
    expect_fault(&cjx__v1__submit_record_request__descriptor, &p, 0, NULL);
    free(p.data);
}

/* The same enum in its unpacked encoding (one tag per element), which a
 * proto3 parser must accept as well: field 16, varint, twice. */
static void
test_wire__unpacked_repeated_enum__indexed(void **state)
{
    (void)state;
    uint8_t bytes[] = {0x80, 0x01, 0x01, 0x80, 0x01, 0x4d};
    struct packed p = {bytes, sizeof(bytes)};
    expect_fault(&cjx__v1__conviction_record__descriptor, &p, CJX_EINVAL,
                 "prior_relief[1]: 77 is not a value of cjx.v1.PriorRelief");
}

/* A member of a oneof, at the top and inside a repeated message. */
static void
test_wire__oneof_members__named(void **state)
{
    (void)state;
    Cjx__V1__ListRecordsRequest list = CJX__V1__LIST_RECORDS_REQUEST__INIT;
    list.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY;
    list.county = "San Francisco+Alameda";
    struct packed p = pack(&list.base);
    patch(&p, "San Francisco+", "San Francisco\0");
    expect_fault(&cjx__v1__list_records_request__descriptor, &p, CJX_EINVAL,
                 "county: holds a NUL byte (byte 13)");
    free(p.data);

    Cjx__V1__CaseMessage msg[4], *msg_p[4];
    Cjx__V1__ReliefOrder order = CJX__V1__RELIEF_ORDER__INIT;
    order.judge = "JUDGE-HOLMES";
    for (int i = 0; i < 4; i++) {
        cjx__v1__case_message__init(&msg[i]);
        msg[i].message_case = CJX__V1__CASE_MESSAGE__MESSAGE_ORDER;
        msg[i].order = &order;
        msg_p[i] = &msg[i];
    }
    Cjx__V1__CaseMessages batch = CJX__V1__CASE_MESSAGES__INIT;
    batch.messages = msg_p;
    batch.n_messages = 4;
    p = pack(&batch.base);
    expect_fault(&cjx__v1__case_messages__descriptor, &p, 0, NULL);
    /* Spoil the last copy only. */
    uint8_t *last = NULL;
    for (uint8_t *at = p.data;
         (at = memmem(at, p.len - (size_t)(at - p.data), "JUDGE", 5)) != NULL;
         at++)
        last = at;
    assert_non_null(last);
    last[2] = 0xc3;
    expect_fault(&cjx__v1__case_messages__descriptor, &p, CJX_EINVAL,
                 "messages[3].order.judge: is not valid UTF-8 (byte 2)");
    free(p.data);
}

static void
test_wire__fields_the_schema_does_not_know__skipped(void **state)
{
    (void)state;
    /* Field 99, length-delimited, holding a NUL and 0xff; then field 2. */
    uint8_t bytes[] = {0x9a, 0x06, 0x02, 0x00, 0xff, 0x12, 0x02, 'S', 'F'};
    struct packed p = {bytes, sizeof(bytes)};
    expect_fault(&cjx__v1__conviction_record__descriptor, &p, 0, NULL);
}

static void
test_wire__not_a_message__parse_error(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[8];
        size_t len;
    } rows[] = {
        {{0x12, 0x05, 'S', 'F'}, 4},        /* length past the end */
        {{0x12}, 1},                        /* tag without a value */
        {{0x00, 0x01}, 2},                  /* field number 0 */
        {{0x0b, 0x0c}, 2},                  /* a group */
        {{0x48, 0xff, 0xff}, 3},            /* varint cut short */
        {{0x82, 0x01, 0x02, 0x01, 0xff}, 5} /* packed run cut short */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct packed p = {(uint8_t *)rows[i].bytes, rows[i].len};
        expect_fault(&cjx__v1__conviction_record__descriptor, &p, CJX_EPARSE,
                     NULL);
    }
}

static void
test_wire__decode__parses_then_checks(void **state)
{
    (void)state;
    struct cjx_arena arena;
    cjx_arena_init(&arena, NULL, 0, 1 << 20);
    struct cjx_errbuf eb;
    ProtobufCMessage *out = NULL;
    uint8_t junk[] = {0x12, 0x05, 'S'};
    assert_int_equal(
        cjx_wire_decode(&cjx__v1__submit_record_request__descriptor, junk,
                        sizeof(junk), &arena, &out, &eb),
        CJX_EPARSE);
    assert_string_equal(
        eb.msg, "request is not a valid cjx.v1.SubmitRecordRequest message");
    assert_null(out);

    struct record_parts parts;
    record_parts_init(&parts);
    struct packed p = pack(&parts.req.base);
    assert_int_equal(
        cjx_wire_decode(&cjx__v1__submit_record_request__descriptor, p.data,
                        p.len, &arena, &out, &eb),
        0);
    assert_string_equal(
        ((Cjx__V1__SubmitRecordRequest *)out)->record->subject->cii,
        "CII-000001");
    out = NULL;
    patch(&p, "CII-000001",
          "CII\0"
          "000001");
    assert_int_equal(
        cjx_wire_decode(&cjx__v1__submit_record_request__descriptor, p.data,
                        p.len, &arena, &out, &eb),
        CJX_EINVAL);
    assert_string_equal(eb.msg,
                        "record.subject.cii: holds a NUL byte (byte 3)");
    assert_null(out);
    free(p.data);
    cjx_arena_fini(&arena);
}

/* A sub-message's bytes inside its packed parent are the bytes it packs to
 * alone: what lets a step store a notice's record without unpacking it. */
static void
test_wire__field__finds_a_part_as_packed_alone(void **state)
{
    (void)state;
    struct record_parts parts;
    record_parts_init(&parts);
    struct packed whole = pack(&parts.req.base);
    struct packed rec = pack(&parts.rec.base);
    struct packed meta = pack(&parts.meta.base);
    const ProtobufCFieldDescriptor *f_rec =
        protobuf_c_message_descriptor_get_field_by_name(
            &cjx__v1__submit_record_request__descriptor, "record");
    const ProtobufCFieldDescriptor *f_meta =
        protobuf_c_message_descriptor_get_field_by_name(
            &cjx__v1__submit_record_request__descriptor, "meta");
    const uint8_t *val = NULL;
    size_t len = 0;
    assert_int_equal(
        cjx_wire_field(whole.data, whole.len, f_rec->id, &val, &len), 0);
    assert_int_equal(len, rec.len);
    assert_memory_equal(val, rec.data, rec.len);
    assert_int_equal(
        cjx_wire_field(whole.data, whole.len, f_meta->id, &val, &len), 0);
    assert_int_equal(len, meta.len);
    assert_memory_equal(val, meta.data, meta.len);

    /* Absent: a field the message does not hold, or holds as a varint. */
    assert_int_equal(cjx_wire_field(whole.data, whole.len, 99, &val, &len), -1);
    uint8_t count_only[] = {0x08, 0x01};
    assert_int_equal(
        cjx_wire_field(count_only, sizeof(count_only), 1, &val, &len), -1);
    /* Not a message: the length runs past the end. */
    assert_int_equal(
        cjx_wire_field(whole.data, whole.len - 1, f_rec->id, &val, &len), -1);
    /* Repeated: the last occurrence. */
    uint8_t twice[] = {0x12, 0x01, 'A', 0x12, 0x02, 'B', 'C'};
    assert_int_equal(cjx_wire_field(twice, sizeof(twice), 2, &val, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(val, "BC", 2);
    free(whole.data);
    free(rec.data);
    free(meta.data);
}

static void
test_utf8__invalid_at__first_bad_byte(void **state)
{
    (void)state;
    assert_int_equal(cjx_utf8_invalid_at("abc", 3), 3);
    assert_int_equal(cjx_utf8_invalid_at("a\xc3\xa9z", 4), 4);
    assert_int_equal(cjx_utf8_invalid_at("a\xc3z", 3), 1);
    assert_int_equal(cjx_utf8_invalid_at("\xe2\x82", 2), 0);
    assert_true(cjx_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(cjx_utf8_valid("\xed\xbf\xbf", 3));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire__valid_record__passes),
        cmocka_unit_test(test_wire__record_faults__named_by_field_path),
        cmocka_unit_test(test_wire__unpacked_repeated_enum__indexed),
        cmocka_unit_test(test_wire__oneof_members__named),
        cmocka_unit_test(test_wire__fields_the_schema_does_not_know__skipped),
        cmocka_unit_test(test_wire__not_a_message__parse_error),
        cmocka_unit_test(test_wire__decode__parses_then_checks),
        cmocka_unit_test(test_wire__field__finds_a_part_as_packed_alone),
        cmocka_unit_test(test_utf8__invalid_at__first_bad_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
