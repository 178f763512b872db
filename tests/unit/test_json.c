/* Unit tests for src/json: the proto3 JSON mapping, its errors and the JSON Lines splitter. */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cjx/json.h"
#include "cjx/v1/record_service.pb-c.h"
#include "jsontest2.pb-c.h"
#include "jsontest3.pb-c.h"

/* An allocator that counts live blocks and can fail its Nth call. */
struct test_alloc {
    ProtobufCAllocator pb;
    long live;
    long calls;
    long fail_at; /* 1-based; 0 never fails */
};

static void *
test_alloc_alloc(void *data, size_t size)
{
    struct test_alloc *a = data;
    void *p;

    a->calls++;
    if (a->fail_at != 0 && a->calls == a->fail_at)
        return NULL;
    p = malloc(size);
    if (p != NULL)
        a->live++;
    return p;
}

static void
test_alloc_free(void *data, void *p)
{
    struct test_alloc *a = data;

    if (p != NULL) {
        a->live--;
        free(p);
    }
}

static void
test_alloc_init(struct test_alloc *a, long fail_at)
{
    a->pb.alloc = test_alloc_alloc;
    a->pb.free = test_alloc_free;
    a->pb.allocator_data = a;
    a->live = 0;
    a->calls = 0;
    a->fail_at = fail_at;
}

static char *
read_data_file(const char *name, size_t *len)
{
    const char *dir = getenv("CJX_TEST_DATA");
    char path[1024];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/json/%s", dir ? dir : "tests/data", name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

/* Parses text with a counting allocator; on failure checks nothing leaked. */
static int
parse(const ProtobufCMessageDescriptor *desc, const char *text,
      ProtobufCMessage **out, struct cjx_errbuf *eb)
{
    struct test_alloc a;
    int rc;

    test_alloc_init(&a, 0);
    rc = cjx_json_to_message(desc, text, strlen(text), &a.pb, out, eb);
    if (rc < 0)
        assert_int_equal(a.live, 0);
    return rc;
}

static ProtobufCMessage *
parse_ok(const ProtobufCMessageDescriptor *desc, const char *text)
{
    struct cjx_errbuf eb = {{0}};
    ProtobufCMessage *m = NULL;
    int rc = cjx_json_to_message(desc, text, strlen(text), NULL, &m, &eb);

    if (rc != 0)
        fail_msg("parse failed: %s: %s", cjx_err_name(rc), eb.msg);
    return m;
}

/* Parsing text must fail with CJX_EPARSE and exactly this detail. */
static void
expect_error(const ProtobufCMessageDescriptor *desc, const char *text,
             const char *detail)
{
    struct cjx_errbuf eb = {{0}};
    ProtobufCMessage *sentinel = (ProtobufCMessage *)&eb;
    ProtobufCMessage *m = sentinel;
    int rc = parse(desc, text, &m, &eb);

    if (rc != CJX_EPARSE)
        fail_msg("expected CJX_EPARSE for %s, got %s (%s)", text,
                 cjx_err_name(rc), eb.msg);
    assert_string_equal(eb.msg, detail);
    assert_ptr_equal(m, sentinel); /* untouched on failure */
}

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *buf = malloc(protobuf_c_message_get_packed_size(m) + 1);

    assert_non_null(buf);
    *len = protobuf_c_message_pack(m, buf);
    return buf;
}

static void
assert_same_bytes(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la, lb;
    uint8_t *pa = pack(a, &la);
    uint8_t *pb = pack(b, &lb);

    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    free(pa);
    free(pb);
}

static char *
print(const ProtobufCMessage *m, int flags)
{
    char *s = cjx_json_from_message(m, flags);

    assert_non_null(s);
    return s;
}

#define RECORD_DESC (&cjx__v1__conviction_record__descriptor)
#define SUBMIT_DESC (&cjx__v1__submit_record_request__descriptor)
#define ALL_DESC    (&cjx__jsontest__all_types__descriptor)
#define OPT_DESC    (&cjx__jsontest__optionals__descriptor)

static const char all_types_json[] =
    "{\"fInt32\":-2147483648,\"fInt64\":\"-9223372036854775808\","
    "\"fUint32\":4294967295,\"fUint64\":\"18446744073709551615\","
    "\"fSint32\":-5,\"fSint64\":\"-6\",\"fFixed32\":7,\"fFixed64\":\"8\","
    "\"fSfixed32\":-9,\"fSfixed64\":\"-10\",\"fFloat\":0.1,\"fDouble\":0.1,"
    "\"fBool\":true,\"fString\":\"h\\u00e9llo \\\"q\\\"\\n\","
    "\"fBytes\":\"AAEC/w==\",\"fEnum\":\"COLOR_GREEN\","
    "\"fInner\":{\"a\":1,\"b\":\"x\"},\"field2x\":18,"
    "\"rInt32\":[1,-1,0],\"rInt64\":[\"1\",\"-2\"],\"rUint32\":[3],"
    "\"rUint64\":[\"4\"],\"rSint64\":[\"-5\"],\"rFixed32\":[6],"
    "\"rSfixed64\":[\"-7\"],\"rFloat\":[1.5,\"NaN\",\"-Infinity\"],"
    "\"rDouble\":[1e+300,\"Infinity\",-0.5],\"rBool\":[true,false],"
    "\"rString\":[\"\",\"a\"],\"rBytes\":[\"\",\"/w==\"],"
    "\"rEnum\":[\"COLOR_RED\",7],\"rInner\":[{},{\"a\":2}],"
    "\"oInner\":{\"b\":\"in oneof\"}}";

/* -- round trips ---------------------------------------------------------- */

static const char record_golden[] =
    "{\"subject\":{\"cii\":\"A12345678\",\"lastName\":\"DOE\","
    "\"firstName\":\"JANE\",\"middleName\":\"Q\","
    "\"dateOfBirth\":{\"year\":1970,\"month\":2,\"day\":28},"
    "\"fbiNumber\":\"123456AB7\",\"dojSubjectId\":\"S-0001\"},"
    "\"county\":\"San Francisco\",\"courtOri\":\"CA038013J\","
    "\"courtCaseNumber\":\"SCN-12345\",\"countNumber\":2,"
    "\"offenseDate\":{\"year\":2012,\"month\":2,\"day\":29},"
    "\"convictionDate\":{\"year\":2013,\"month\":1,\"day\":15},"
    "\"charge\":{\"codeRaw\":\"11359 HS-POSSESS MARIJUANA FOR SALE\","
    "\"code\":\"HS\",\"section\":\"11359\",\"normalized\":\"HS 11359\","
    "\"description\":\"POSSESS MARIJUANA FOR SALE\","
    "\"commentText\":\"Caf\xc3\xa9 \xe2\x80\x94 see \\\"comment\\\" / note\","
    "\"attempt\":true},"
    "\"level\":\"OFFENSE_LEVEL_FELONY\","
    "\"chargeLevel\":\"OFFENSE_LEVEL_MISDEMEANOR\","
    "\"disposition\":\"DISPOSITION_CONVICTED\","
    "\"sentence\":[{\"type\":\"SENTENCE_TYPE_JAIL\",\"length\":180,"
    "\"unit\":\"DURATION_UNIT_DAYS\"},"
    "{\"type\":\"SENTENCE_TYPE_PROBATION\",\"length\":3,"
    "\"unit\":\"DURATION_UNIT_YEARS\",\"fineCents\":\"150000\"},"
    "{\"type\":\"SENTENCE_TYPE_FINE\",\"fineCents\":\"9007199254740993\"}],"
    "\"facts\":{\"grams\":28.5,\"concentrated\":false,\"plants\":6,"
    "\"saleInvolved\":true,\"recipientAge\":0,\"importExportGrams\":0.001},"
    "\"prosecutingAgencyOri\":\"CA0380000\",\"cycleAge\":42,"
    "\"priorRelief\":[\"PRIOR_RELIEF_PROP64_REDESIGNATED\","
    "\"PRIOR_RELIEF_PC1203_4_DISMISSED\"],"
    "\"sameCaseStatutes\":[\"HS 11358\",\"FG 5650(a)(1)\","
    "\"\xc3\xbc"
    "ml\xc3\xa4ut \xf0\x9f\x98\x80\"]}";

static void
test_json__conviction_record__round_trips_through_binary(void **state)
{
    (void)state;
    size_t len, blen;
    char *text = read_data_file("conviction_record.json", &len);
    struct cjx_errbuf eb = {{0}};
    ProtobufCMessage *m = NULL;
    int rc = cjx_json_to_message(RECORD_DESC, text, len, NULL, &m, &eb);
    Cjx__V1__ConvictionRecord *r;
    ProtobufCMessage *back;
    uint8_t *bin;
    char *first, *second;

    if (rc != 0)
        fail_msg("%s", eb.msg);
    r = (Cjx__V1__ConvictionRecord *)m;
    assert_string_equal(r->subject->first_name, "JANE");
    assert_int_equal(r->subject->date_of_birth->year, 1970);
    assert_int_equal(r->subject->date_of_birth->day, 28);
    assert_int_equal(r->offense_date->day, 29);
    assert_int_equal(r->charge_level,
                     CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR);
    assert_int_equal(r->n_sentence, 3);
    assert_int_equal(r->sentence[1]->fine_cents, 150000);
    assert_true(r->sentence[2]->fine_cents == INT64_C(9007199254740993));
    assert_true(r->facts->has_concentrated);
    assert_false(r->facts->concentrated);
    assert_true(r->facts->has_recipient_age);
    assert_int_equal(r->facts->recipient_age, 0);
    assert_false(r->facts->has_environmental_violation);
    assert_false(r->facts->has_compensation);
    assert_true(r->facts->import_export_grams == 0.001);
    assert_int_equal(r->n_prior_relief, 2);
    assert_int_equal(r->prior_relief[1], 3);

    first = print(m, 0);
    assert_string_equal(first, record_golden);
    bin = pack(m, &blen);
    back = protobuf_c_message_unpack(RECORD_DESC, NULL, blen, bin);
    assert_non_null(back);
    second = print(back, 0);
    assert_string_equal(first, second);

    protobuf_c_message_free_unpacked(back, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    free(bin);
    free(first);
    free(second);
    free(text);
}

static void
test_json__pretty_output__parses_back_to_the_same_message(void **state)
{
    (void)state;
    char *text = read_data_file("conviction_record.json", NULL);
    ProtobufCMessage *m = parse_ok(RECORD_DESC, text);
    char *pretty = print(m, CJX_JSON_PRETTY);
    ProtobufCMessage *back = parse_ok(RECORD_DESC, pretty);

    assert_non_null(strstr(pretty, "\n  \"subject\": {\n    \"cii\": "));
    assert_same_bytes(m, back);
    protobuf_c_message_free_unpacked(m, NULL);
    protobuf_c_message_free_unpacked(back, NULL);
    free(pretty);
    free(text);
}

static void
test_json__all_types__print_and_round_trip(void **state)
{
    (void)state;
    static const char expected[] =
        "{\"fInt32\":-2147483648,\"fInt64\":\"-9223372036854775808\","
        "\"fUint32\":4294967295,\"fUint64\":\"18446744073709551615\","
        "\"fSint32\":-5,\"fSint64\":\"-6\",\"fFixed32\":7,\"fFixed64\":\"8\","
        "\"fSfixed32\":-9,\"fSfixed64\":\"-10\",\"fFloat\":0.1,"
        "\"fDouble\":0.1,\"fBool\":true,\"fString\":\"h\xc3\xa9llo "
        "\\\"q\\\"\\n\",\"fBytes\":\"AAEC/w==\",\"fEnum\":\"COLOR_GREEN\","
        "\"fInner\":{\"a\":1,\"b\":\"x\"},\"field2x\":18,"
        "\"rInt32\":[1,-1,0],\"rInt64\":[\"1\",\"-2\"],\"rUint32\":[3],"
        "\"rUint64\":[\"4\"],\"rSint64\":[\"-5\"],\"rFixed32\":[6],"
        "\"rSfixed64\":[\"-7\"],\"rFloat\":[1.5,\"NaN\",\"-Infinity\"],"
        "\"rDouble\":[1e+300,\"Infinity\",-0.5],\"rBool\":[true,false],"
        "\"rString\":[\"\",\"a\"],\"rBytes\":[\"\",\"/w==\"],"
        "\"rEnum\":[\"COLOR_RED\",7],\"rInner\":[{},{\"a\":2}],"
        "\"oInner\":{\"b\":\"in oneof\"}}";
    ProtobufCMessage *m = parse_ok(ALL_DESC, all_types_json);
    Cjx__Jsontest__AllTypes *t = (Cjx__Jsontest__AllTypes *)m;
    char *out = print(m, 0);
    ProtobufCMessage *back;

    assert_true(t->f_uint64 == UINT64_MAX);
    assert_true(t->f_int64 == INT64_MIN);
    assert_true(t->f_float == 0.1f);
    assert_int_equal(t->f_bytes.len, 4);
    assert_int_equal(t->f_bytes.data[3], 0xff);
    assert_int_equal(t->r_enum[1], 7); /* open enum keeps unknown numbers */
    assert_int_equal(t->choice_case, CJX__JSONTEST__ALL_TYPES__CHOICE_O_INNER);
    assert_string_equal(out, expected);
    back = parse_ok(ALL_DESC, out);
    assert_same_bytes(m, back);
    protobuf_c_message_free_unpacked(m, NULL);
    protobuf_c_message_free_unpacked(back, NULL);
    free(out);
}

static void
test_json__both_name_spellings__give_the_same_message(void **state)
{
    (void)state;
    ProtobufCMessage *a =
        parse_ok(SUBMIT_DESC, "{\"meta\":{\"requestId\":\"r1\"},\"record\":"
                              "{\"courtCaseNumber\":\"C1\",\"count_number\":3,"
                              "\"sameCaseStatutes\":[\"x\"]}}");
    ProtobufCMessage *b =
        parse_ok(SUBMIT_DESC, "{\"meta\":{\"request_id\":\"r1\"},\"record\":"
                              "{\"court_case_number\":\"C1\",\"countNumber\":3,"
                              "\"same_case_statutes\":[\"x\"]}}");

    assert_same_bytes(a, b);
    assert_string_equal(
        ((Cjx__V1__SubmitRecordRequest *)a)->record->court_case_number, "C1");
    protobuf_c_message_free_unpacked(a, NULL);
    protobuf_c_message_free_unpacked(b, NULL);
}

static void
test_json__numbers__accept_strings_exponents_and_integral_floats(void **state)
{
    (void)state;
    ProtobufCMessage *m = parse_ok(
        ALL_DESC, "{\"fInt32\":\"-42\",\"fInt64\":1e3,\"fUint32\":2.0,"
                  "\"fUint64\":18446744073709551615,\"fDouble\":\"1.5e2\","
                  "\"fFloat\":7,\"fSint64\":-9223372036854775808}");
    Cjx__Jsontest__AllTypes *t = (Cjx__Jsontest__AllTypes *)m;

    assert_int_equal(t->f_int32, -42);
    assert_int_equal(t->f_int64, 1000);
    assert_int_equal(t->f_uint32, 2);
    assert_true(t->f_uint64 == UINT64_MAX);
    assert_true(t->f_double == 150.0);
    assert_true(t->f_float == 7.0f);
    assert_true(t->f_sint64 == INT64_MIN);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void
test_json__floats__print_shortest_form_that_reads_back(void **state)
{
    (void)state;
    ProtobufCMessage *m = parse_ok(
        ALL_DESC, "{\"fFloat\":3.4028235e38,\"fDouble\":5e-324,"
                  "\"rFloat\":[16777216,1e-45,0.3],"
                  "\"rDouble\":[0.30000000000000004,123456789012345680]}");
    Cjx__Jsontest__AllTypes *t = (Cjx__Jsontest__AllTypes *)m;
    char *out = print(m, 0);
    ProtobufCMessage *back = parse_ok(ALL_DESC, out);

    assert_true(t->f_float == FLT_MAX);
    assert_string_equal(out, "{\"fFloat\":3.4028235e+38,\"fDouble\":5e-324,"
                             "\"rFloat\":[16777216,1e-45,0.3],"
                             "\"rDouble\":[0.30000000000000004,"
                             "1.2345678901234568e+17]}");
    assert_same_bytes(m, back);
    protobuf_c_message_free_unpacked(m, NULL);
    protobuf_c_message_free_unpacked(back, NULL);
    free(out);
}

static void
test_json__bytes__accept_url_safe_and_unpadded_base64(void **state)
{
    (void)state;
    ProtobufCMessage *m = parse_ok(
        ALL_DESC, "{\"fBytes\":\"-_8\",\"rBytes\":[\"AAE\",\"+/8=\"]}");
    Cjx__Jsontest__AllTypes *t = (Cjx__Jsontest__AllTypes *)m;

    assert_int_equal(t->f_bytes.len, 2);
    assert_int_equal(t->f_bytes.data[0], 0xfb);
    assert_int_equal(t->f_bytes.data[1], 0xff);
    assert_int_equal(t->r_bytes[0].len, 2);
    assert_int_equal(t->r_bytes[1].len, 2);
    assert_memory_equal(t->r_bytes[1].data, "\xfb\xff", 2);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void
test_json__null__leaves_fields_absent(void **state)
{
    (void)state;
    ProtobufCMessage *m =
        parse_ok(OPT_DESC, "{\"oInt32\":null,\"oChild\":null,\"oString\":null,"
                           "\"rEnum\":null,\"oBool\":false}");
    Cjx__Jsontest__Optionals *o = (Cjx__Jsontest__Optionals *)m;
    char *out = print(m, 0);

    assert_false(o->has_o_int32);
    assert_null(o->o_child);
    assert_null(o->o_string);
    assert_true(o->has_o_bool);
    assert_string_equal(out, "{\"oBool\":false}");
    protobuf_c_message_free_unpacked(m, NULL);
    free(out);
}

static void
test_json__proto2_optionals__print_when_set_even_at_zero(void **state)
{
    (void)state;
    ProtobufCMessage *m = parse_ok(
        OPT_DESC, "{\"oInt32\":0,\"oInt64\":\"0\",\"oDouble\":0,"
                  "\"oString\":\"\",\"oBytes\":\"\",\"oEnum\":\"CLOSED_ZERO\","
                  "\"oChild\":{},\"oDefaultedInt\":7,\"rEnum\":[1]}");
    Cjx__Jsontest__Optionals *o = (Cjx__Jsontest__Optionals *)m;
    char *out = print(m, 0);
    ProtobufCMessage *back;

    assert_true(o->has_o_int32 && o->has_o_int64 && o->has_o_double);
    assert_true(o->has_o_bytes && o->has_o_enum && o->has_o_defaulted_int);
    assert_false(o->has_o_uint64);
    assert_string_equal(o->o_defaulted, "dflt"); /* default, not "set" */
    assert_string_equal(out, "{\"oInt32\":0,\"oInt64\":\"0\",\"oDouble\":0,"
                             "\"oString\":\"\",\"oBytes\":\"\","
                             "\"oEnum\":\"CLOSED_ZERO\",\"oChild\":{},"
                             "\"oDefaultedInt\":7,\"rEnum\":[\"CLOSED_ONE\"]}");
    back = parse_ok(OPT_DESC, out);
    assert_same_bytes(m, back);
    protobuf_c_message_free_unpacked(m, NULL);
    protobuf_c_message_free_unpacked(back, NULL);
    free(out);
}

static void
test_json__emit_defaults__prints_defaults_and_null_for_unset(void **state)
{
    (void)state;
    ProtobufCMessage *m = parse_ok(ALL_DESC, "{}");
    ProtobufCMessage *o = parse_ok(OPT_DESC, "{}");
    char *out = print(m, CJX_JSON_EMIT_DEFAULTS);
    char *oout = print(o, CJX_JSON_EMIT_DEFAULTS);
    ProtobufCMessage *back = parse_ok(ALL_DESC, out);
    ProtobufCMessage *oback = parse_ok(OPT_DESC, oout);
    char *plain = print(m, 0);

    assert_string_equal(plain, "{}");
    assert_non_null(strstr(out, "\"fInt32\":0,\"fInt64\":\"0\","));
    assert_non_null(strstr(out, "\"fString\":\"\",\"fBytes\":\"\","
                                "\"fEnum\":\"COLOR_UNSPECIFIED\","
                                "\"fInner\":null,"));
    assert_non_null(strstr(out, "\"rInner\":[],\"oString\":null,"
                                "\"oInner\":null,\"oInt32\":null,"
                                "\"oBytes\":null}"));
    assert_string_equal(oout,
                        "{\"oInt32\":null,\"oInt64\":null,\"oUint64\":null,"
                        "\"oDouble\":null,\"oFloat\":null,\"oBool\":null,"
                        "\"oString\":null,\"oBytes\":null,\"oEnum\":null,"
                        "\"oChild\":null,\"oDefaulted\":null,"
                        "\"oDefaultedInt\":null,\"rEnum\":[]}");
    assert_same_bytes(m, back);
    assert_same_bytes(o, oback);
    protobuf_c_message_free_unpacked(m, NULL);
    protobuf_c_message_free_unpacked(o, NULL);
    protobuf_c_message_free_unpacked(back, NULL);
    protobuf_c_message_free_unpacked(oback, NULL);
    free(out);
    free(oout);
    free(plain);
}

static void
test_json__dates_as_strings__print_days_and_omit_zero_dates(void **state)
{
    (void)state;
    ProtobufCMessage *m =
        parse_ok(RECORD_DESC, "{\"offenseDate\":\"2020-02-29\","
                              "\"convictionDate\":{\"year\":0},"
                              "\"subject\":{\"dateOfBirth\":{\"year\":2021,"
                              "\"month\":2,\"day\":30}}}");
    char *out = print(m, CJX_JSON_DATES_AS_STRINGS);
    char *plain = print(m, 0);
    char *emit = print(m, CJX_JSON_DATES_AS_STRINGS | CJX_JSON_EMIT_DEFAULTS);
    ProtobufCMessage *back = parse_ok(RECORD_DESC, out);

    /* Not a real day: kept as an object so that nothing is lost. */
    assert_string_equal(out, "{\"subject\":{\"dateOfBirth\":{\"year\":2021,"
                             "\"month\":2,\"day\":30}},"
                             "\"offenseDate\":\"2020-02-29\"}");
    assert_string_equal(plain, "{\"subject\":{\"dateOfBirth\":{\"year\":2021,"
                               "\"month\":2,\"day\":30}},\"offenseDate\":"
                               "{\"year\":2020,\"month\":2,\"day\":29},"
                               "\"convictionDate\":{}}");
    assert_non_null(strstr(emit, "\"convictionDate\":null,"));
    /* The zero date reads back as absent, which prints the same. */
    free(out);
    out = print(back, CJX_JSON_DATES_AS_STRINGS);
    assert_string_equal(out, "{\"subject\":{\"dateOfBirth\":{\"year\":2021,"
                             "\"month\":2,\"day\":30}},"
                             "\"offenseDate\":\"2020-02-29\"}");
    protobuf_c_message_free_unpacked(m, NULL);
    protobuf_c_message_free_unpacked(back, NULL);
    free(out);
    free(plain);
    free(emit);
}

static void
test_json__oneof__one_member_and_nulls_are_accepted(void **state)
{
    (void)state;
    ProtobufCMessage *m = parse_ok(&cjx__v1__list_records_request__descriptor,
                                   "{\"cii\":null,\"county\":\"\","
                                   "\"courtCaseNumber\":null}");
    Cjx__V1__ListRecordsRequest *l = (Cjx__V1__ListRecordsRequest *)m;
    char *out = print(m, 0);

    /* A oneof member set to its default is still the one chosen. */
    assert_int_equal(l->filter_case,
                     CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY);
    assert_string_equal(out, "{\"county\":\"\"}");
    protobuf_c_message_free_unpacked(m, NULL);
    free(out);
}

static void
test_json__printer__unknown_enum_number_and_bad_utf8(void **state)
{
    (void)state;
    Cjx__Jsontest__AllTypes t = CJX__JSONTEST__ALL_TYPES__INIT;
    char bad[] = "a\xff"
                 "b\xc0\xaf";
    char *out;

    t.f_enum = 9;
    t.f_string = bad;
    t.f_double = -0.0;
    out = print(&t.base, 0);
    assert_string_equal(out, "{\"fDouble\":-0.0,\"fString\":\"a\xef\xbf\xbd"
                             "b\xef\xbf\xbd\xef\xbf\xbd\",\"fEnum\":9}");
    free(out);
    assert_null(cjx_json_from_message(NULL, 0));
}

/* -- errors --------------------------------------------------------------- */

static void
test_json__unknown_field__is_refused_with_its_path(void **state)
{
    (void)state;
    expect_error(SUBMIT_DESC, "{\"record\":{\"county\":\"x\",\"colour\":1}}",
                 "record: unknown field \"colour\" in cjx.v1.ConvictionRecord");
    expect_error(SUBMIT_DESC, "{\"Record\":{}}",
                 "unknown field \"Record\" in cjx.v1.SubmitRecordRequest");
    expect_error(SUBMIT_DESC, "{\"meta\":{\"request\\nId\":\"x\"}}",
                 "meta: unknown field \"request?Id\" in cjx.v1.RequestMeta");
}

static void
test_json__wrong_type__names_what_was_expected(void **state)
{
    (void)state;
    expect_error(SUBMIT_DESC, "{\"record\":{\"county\":5}}",
                 "record.county: expected a string, got number");
    expect_error(SUBMIT_DESC, "{\"record\":[]}",
                 "record: expected an object for cjx.v1.ConvictionRecord, "
                 "got array");
    expect_error(SUBMIT_DESC, "{\"record\":{\"sentence\":{}}}",
                 "record.sentence: expected an array, got object");
    expect_error(SUBMIT_DESC,
                 "{\"record\":{\"charge\":{\"attempt\":\"true\"}}}",
                 "record.charge.attempt: expected true or false, got string");
    expect_error(SUBMIT_DESC, "{\"record\":{\"countNumber\":true}}",
                 "record.countNumber: expected an integer (number or decimal "
                 "string) for int32, got boolean");
    expect_error(SUBMIT_DESC, "{\"record\":{\"facts\":{\"grams\":[]}}}",
                 "record.facts.grams: expected a number (or \"NaN\", "
                 "\"Infinity\") for double, got array");
    expect_error(SUBMIT_DESC, "{\"record\":{\"offenseDate\":2020}}",
                 "record.offenseDate: expected an object for cjx.v1.Date or "
                 "a \"YYYY-MM-DD\" string, got number");
    expect_error(SUBMIT_DESC, "{\"record\":{\"level\":true}}",
                 "record.level: expected an enum name (string) or number for "
                 "cjx.v1.OffenseLevel, got boolean");
    expect_error(ALL_DESC, "{\"fBytes\":1}",
                 "fBytes: expected a base64 string, got number");
    expect_error(SUBMIT_DESC, "[]",
                 "expected a JSON object for cjx.v1.SubmitRecordRequest, got "
                 "array");
    expect_error(SUBMIT_DESC, "null",
                 "expected a JSON object for cjx.v1.SubmitRecordRequest, got "
                 "null");
}

static void
test_json__bad_enum__is_refused_with_path_and_type(void **state)
{
    (void)state;
    expect_error(SUBMIT_DESC,
                 "{\"record\":{\"sentence\":[{\"unit\":\"DURATION_UNIT_DAYS\"},"
                 "{\"unit\":\"WEEKS\"}]}}",
                 "record.sentence[1].unit: unknown enum value \"WEEKS\" for "
                 "cjx.v1.DurationUnit");
    expect_error(SUBMIT_DESC, "{\"record\":{\"level\":\"felony\"}}",
                 "record.level: unknown enum value \"felony\" for "
                 "cjx.v1.OffenseLevel");
    expect_error(SUBMIT_DESC, "{\"record\":{\"level\":4294967296}}",
                 "record.level: 4294967296 is out of range for "
                 "cjx.v1.OffenseLevel");
    /* Long values are cut on a character boundary, control characters
     * hidden, so that the message stays short and on one line. */
    expect_error(SUBMIT_DESC,
                 "{\"record\":{\"level\":\"\\n\u00e9\u00e9\u00e9\u00e9\u00e9"
                 "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
                 "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
                 "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"}}",
                 "record.level: unknown enum value \"?\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...\" for "
                 "cjx.v1.OffenseLevel");
    /* proto2 enums are closed: only declared numbers. */
    expect_error(OPT_DESC, "{\"oEnum\":5}",
                 "oEnum: unknown enum number 5 for cjx.jsontest.Closed");
}

static void
test_json__integer_out_of_range__is_refused(void **state)
{
    (void)state;
    expect_error(SUBMIT_DESC, "{\"record\":{\"countNumber\":3000000000}}",
                 "record.countNumber: 3000000000 is out of range for int32");
    expect_error(SUBMIT_DESC, "{\"record\":{\"countNumber\":-2147483649}}",
                 "record.countNumber: -2147483649 is out of range for int32");
    expect_error(SUBMIT_DESC,
                 "{\"record\":{\"sentence\":[{\"fineCents\":"
                 "\"9223372036854775808\"}]}}",
                 "record.sentence[0].fineCents: \"9223372036854775808\" is out "
                 "of range for int64");
    expect_error(ALL_DESC, "{\"fUint64\":\"18446744073709551616\"}",
                 "fUint64: \"18446744073709551616\" is out of range for "
                 "uint64");
    expect_error(ALL_DESC, "{\"fUint32\":-1}",
                 "fUint32: -1 is out of range for uint32");
    expect_error(ALL_DESC, "{\"fInt64\":1e19}",
                 "fInt64: 1e19 is out of range for int64");
    expect_error(ALL_DESC, "{\"fInt32\":1e400}",
                 "fInt32: 1e400 is out of range for int32");
    expect_error(ALL_DESC, "{\"fDouble\":99999999999999999999}",
                 "fDouble: integer 99999999999999999999 at byte offset 11 "
                 "does not fit in 64 bits");
    expect_error(ALL_DESC, "{\"fFloat\":1e39}",
                 "fFloat: 1e39 is out of range for float");
    expect_error(ALL_DESC, "{\"fDouble\":-1e400}",
                 "fDouble: -1e400 is out of range for double");
    expect_error(ALL_DESC, "{\"fDouble\":\"1e999\"}",
                 "fDouble: \"1e999\" is out of range for double");
}

static void
test_json__non_integral_number__is_refused(void **state)
{
    (void)state;
    expect_error(SUBMIT_DESC, "{\"record\":{\"countNumber\":1.5}}",
                 "record.countNumber: 1.5 is not an integer");
    expect_error(SUBMIT_DESC, "{\"record\":{\"countNumber\":\"12a\"}}",
                 "record.countNumber: \"12a\" is not a decimal integer");
    expect_error(SUBMIT_DESC, "{\"record\":{\"countNumber\":\"1.0\"}}",
                 "record.countNumber: \"1.0\" is not a decimal integer");
    expect_error(SUBMIT_DESC, "{\"record\":{\"countNumber\":\"\"}}",
                 "record.countNumber: \"\" is not a decimal integer");
    expect_error(ALL_DESC, "{\"fDouble\":\"0x10\"}",
                 "fDouble: \"0x10\" is not a number");
    expect_error(ALL_DESC, "{\"fDouble\":\"nan\"}",
                 "fDouble: \"nan\" is not a number");
}

static void
test_json__bad_base64__is_refused(void **state)
{
    (void)state;
    expect_error(ALL_DESC, "{\"fBytes\":\"@@@@\"}",
                 "fBytes: invalid base64 \"@@@@\"");
    expect_error(ALL_DESC, "{\"fBytes\":\"QUJDR\"}",
                 "fBytes: invalid base64 \"QUJDR\"");
    expect_error(ALL_DESC, "{\"fBytes\":\"QQ=\"}",
                 "fBytes: invalid base64 \"QQ=\"");
    expect_error(ALL_DESC, "{\"rBytes\":[\"QQ==\",\"Q Q==\"]}",
                 "rBytes[1]: invalid base64 \"Q Q==\"");
}

static void
test_json__bad_date__is_refused(void **state)
{
    (void)state;
    expect_error(SUBMIT_DESC, "{\"record\":{\"offenseDate\":\"2021-02-29\"}}",
                 "record.offenseDate: \"2021-02-29\" is not a valid date "
                 "(YYYY-MM-DD)");
    expect_error(SUBMIT_DESC, "{\"record\":{\"offenseDate\":\"1900-02-29\"}}",
                 "record.offenseDate: \"1900-02-29\" is not a valid date "
                 "(YYYY-MM-DD)");
    expect_error(SUBMIT_DESC, "{\"record\":{\"offenseDate\":\"2021-13-01\"}}",
                 "record.offenseDate: \"2021-13-01\" is not a valid date "
                 "(YYYY-MM-DD)");
    expect_error(SUBMIT_DESC, "{\"record\":{\"offenseDate\":\"2021-04-31\"}}",
                 "record.offenseDate: \"2021-04-31\" is not a valid date "
                 "(YYYY-MM-DD)");
    expect_error(SUBMIT_DESC, "{\"record\":{\"offenseDate\":\"0000-01-01\"}}",
                 "record.offenseDate: \"0000-01-01\" is not a valid date "
                 "(YYYY-MM-DD)");
    expect_error(SUBMIT_DESC, "{\"record\":{\"offenseDate\":\"2021-1-01\"}}",
                 "record.offenseDate: \"2021-1-01\" is not a valid date "
                 "(YYYY-MM-DD)");
    expect_error(SUBMIT_DESC,
                 "{\"record\":{\"subject\":{\"dateOfBirth\":\"2000-01-01T\"}}}",
                 "record.subject.dateOfBirth: \"2000-01-01T\" is not a valid "
                 "date (YYYY-MM-DD)");
    /* Leap days that exist are fine. */
    protobuf_c_message_free_unpacked(
        parse_ok(RECORD_DESC, "{\"offenseDate\":\"2000-02-29\","
                              "\"convictionDate\":\"2024-02-29\"}"),
        NULL);
}

static void
test_json__duplicate_key__is_refused(void **state)
{
    (void)state;
    expect_error(SUBMIT_DESC,
                 "{\"record\":{\"charge\":{\"section\":\"1\",\"code\":\"HS\","
                 "\"section\":\"2\"}}}",
                 "record.charge: duplicate key \"section\" at byte offset 47");
    /* The same key spelled with an escape is the same key. */
    expect_error(RECORD_DESC, "{\"county\":\"a\",\"c\\u006funty\":\"b\"}",
                 "duplicate key \"county\" at byte offset 14");
    expect_error(RECORD_DESC,
                 "{\"sentence\":[{\"length\":1},{\"unit\":1,\"unit\":2}]}",
                 "sentence[1]: duplicate key \"unit\" at byte offset 36");
}

static void
test_json__field_by_both_names__is_refused(void **state)
{
    (void)state;
    expect_error(RECORD_DESC, "{\"countNumber\":1,\"count_number\":2}",
                 "field \"count_number\" is given twice (by its proto and its "
                 "JSON name)");
}

static void
test_json__two_oneof_members__are_refused(void **state)
{
    (void)state;
    expect_error(
        &cjx__v1__list_records_request__descriptor,
        "{\"cii\":\"A1\",\"pageSize\":5,\"county\":\"Kern\"}",
        "county: \"cii\" and \"county\" belong to the same oneof; give "
        "at most one");
    expect_error(
        ALL_DESC, "{\"oInner\":{\"a\":1},\"oBytes\":\"AA==\"}",
        "oBytes: \"o_inner\" and \"o_bytes\" belong to the same oneof; "
        "give at most one");
}

static void
test_json__syntax_error__reports_json_c_error_and_offset(void **state)
{
    (void)state;
    expect_error(SUBMIT_DESC, "{\"record\":{\"county\":\"x\",}}",
                 "JSON syntax error at byte offset 24: unexpected character");
    expect_error(SUBMIT_DESC, "{\"record\":",
                 "JSON syntax error at byte offset 10: unexpected end of data");
    expect_error(SUBMIT_DESC, "{} x",
                 "JSON syntax error at byte offset 3: unexpected character");
    expect_error(SUBMIT_DESC, "",
                 "JSON syntax error at byte offset 0: unexpected end of data");
    expect_error(SUBMIT_DESC, "{\"record\":tru}",
                 "JSON syntax error at byte offset 13: boolean expected");
}

static void
test_json__json_c_leniencies__are_refused(void **state)
{
    (void)state;
    expect_error(RECORD_DESC, "{'county':\"x\"}",
                 "JSON syntax error at byte offset 1: strings must be in "
                 "double quotes");
    expect_error(RECORD_DESC, "{\"facts\":{\"grams\":NaN}}",
                 "facts.grams: JSON syntax error at byte offset 18: NaN and "
                 "Infinity are not JSON numbers; quote them");
    expect_error(RECORD_DESC, "{\"facts\":{\"grams\":1.}}",
                 "facts.grams: JSON syntax error at byte offset 18: digits "
                 "expected after '.'");
    expect_error(RECORD_DESC, "{\"county\":\"a\tb\"}",
                 "county: JSON syntax error at byte offset 12: control "
                 "character in string");
    expect_error(RECORD_DESC, "{\"county\":\"a\\u0000b\"}",
                 "county: JSON syntax error at byte offset 12: \\u0000 is not "
                 "allowed in strings");
}

static void
test_json__invalid_utf8__is_refused(void **state)
{
    (void)state;
    expect_error(RECORD_DESC, "{\"county\":\"a\xff\"}",
                 "JSON syntax error at byte offset 12: invalid utf-8 string");
    /* json-c lets these through; the strict check does not. */
    expect_error(RECORD_DESC, "{\"county\":\"\xed\xa0\x80\"}",
                 "county: JSON syntax error at byte offset 11: invalid UTF-8 "
                 "in string");
    expect_error(RECORD_DESC, "{\"county\":\"\xc0\xaf\"}",
                 "county: JSON syntax error at byte offset 11: invalid UTF-8 "
                 "in string");
    expect_error(RECORD_DESC, "{\"county\":\"\\ud800x\"}",
                 "county: JSON syntax error at byte offset 11: unpaired "
                 "surrogate in \\u escape");
    expect_error(RECORD_DESC, "{\"county\":\"\\udc00\"}",
                 "county: JSON syntax error at byte offset 11: unpaired "
                 "surrogate in \\u escape");
}

static void
test_json__nul_byte__is_refused(void **state)
{
    (void)state;
    struct cjx_errbuf eb;
    ProtobufCMessage *m = NULL;
    static const char text[] = "{}\0{\"x\":1}";

    assert_int_equal(
        cjx_json_to_message(RECORD_DESC, text, sizeof(text) - 1, NULL, &m, &eb),
        CJX_EPARSE);
    assert_string_equal(eb.msg, "JSON syntax error at byte offset 2: NUL byte");
    assert_null(m);
}

static void
test_json__null_in_repeated__is_refused(void **state)
{
    (void)state;
    expect_error(
        RECORD_DESC, "{\"sameCaseStatutes\":[\"a\",null]}",
        "sameCaseStatutes[1]: null is not allowed in a repeated field");
    expect_error(RECORD_DESC, "{\"sentence\":[null]}",
                 "sentence[0]: null is not allowed in a repeated field");
}

static void
test_json__deep_nesting__is_refused_not_crashed(void **state)
{
    (void)state;
    char text[1024];
    size_t n = 0;
    struct cjx_errbuf eb;
    ProtobufCMessage *m = NULL;

    n += (size_t)sprintf(text, "{\"sameCaseStatutes\":");
    for (int i = 0; i < 200; i++)
        text[n++] = '[';
    for (int i = 0; i < 200; i++)
        text[n++] = ']';
    text[n++] = '}';
    text[n] = '\0';
    assert_int_equal(parse(RECORD_DESC, text, &m, &eb), CJX_EPARSE);
    assert_non_null(strstr(eb.msg, "nesting too deep"));
}

static void
test_json__bad_arguments__are_einval(void **state)
{
    (void)state;
    ProtobufCMessage *m = NULL;

    assert_int_equal(cjx_json_to_message(NULL, "{}", 2, NULL, &m, NULL),
                     CJX_EINVAL);
    assert_int_equal(
        cjx_json_to_message(RECORD_DESC, "{}", 2, NULL, NULL, NULL),
        CJX_EINVAL);
    assert_int_equal(cjx_json_to_message(RECORD_DESC, NULL, 2, NULL, &m, NULL),
                     CJX_EINVAL);
    assert_null(m);
}

/* -- allocation failures --------------------------------------------------- */

/* Fails the 1st, 2nd, ... allocation until parsing succeeds; returns how
 * many allocations the successful parse made. */
static long
fail_every_allocation_in_turn(const ProtobufCMessageDescriptor *desc,
                              const char *text, size_t len)
{
    long n;

    for (n = 1;; n++) {
        struct test_alloc a;
        struct cjx_errbuf eb;
        ProtobufCMessage *m = NULL;
        int rc;

        test_alloc_init(&a, n);
        rc = cjx_json_to_message(desc, text, len, &a.pb, &m, &eb);
        if (rc == 0) {
            assert_true(a.calls < n); /* no allocation was refused */
            protobuf_c_message_free_unpacked(m, &a.pb);
            assert_int_equal(a.live, 0);
            break;
        }
        if (rc != CJX_ENOMEM)
            fail_msg("allocation %ld: expected CJX_ENOMEM, got %s (%s)", n,
                     cjx_err_name(rc), eb.msg);
        assert_null(m);
        assert_int_equal(a.live, 0);
    }
    return n - 1;
}

static void
test_json__allocation_failure__returns_enomem_and_leaks_nothing(void **state)
{
    (void)state;
    size_t len;
    char *text = read_data_file("conviction_record.json", &len);

    static const char opt[] = "{\"oString\":\"s\",\"oBytes\":\"AAAA\","
                              "\"oChild\":{\"oChild\":{\"oString\":\"t\"}},"
                              "\"rEnum\":[0,1]}";

    /* Top, subject, its date, 2 dates, charge, sentence array and 3
     * parts, facts, strings and statutes: well over 30. */
    assert_true(fail_every_allocation_in_turn(RECORD_DESC, text, len) > 30);
    assert_true(fail_every_allocation_in_turn(ALL_DESC, all_types_json,
                                              strlen(all_types_json)) > 20);
    /* Top, 2 children, 2 strings, bytes, enum array. */
    assert_int_equal(fail_every_allocation_in_turn(OPT_DESC, opt, strlen(opt)),
                     7);
    free(text);
}

/* -- JSON Lines ------------------------------------------------------------ */

struct split {
    int rc;
    int line;
    char text[128];
};

/* Runs the splitter over buf to the end or the first error. */
static int
split_all(const char *buf, size_t len, struct split *out, int max)
{
    size_t offset = 0;
    int line = 0;
    int n = 0;

    while (n < max) {
        const char *doc = NULL;
        size_t doc_len = 0;
        size_t before = offset;
        int rc =
            cjx_json_next_document(buf, len, &offset, &doc, &doc_len, &line);
        out[n].rc = rc;
        out[n].line = line;
        out[n].text[0] = '\0';
        if (rc == 1) {
            assert_true(doc_len < sizeof(out[n].text));
            memcpy(out[n].text, doc, doc_len);
            out[n].text[doc_len] = '\0';
        } else if (rc < 0) {
            assert_int_equal(offset, before); /* cursor untouched */
        }
        n++;
        if (rc != 1)
            break;
    }
    return n;
}

static void
test_json__next_document__single_object(void **state)
{
    (void)state;
    struct split s[4];
    static const char buf[] = "  {\"a\":1}";
    int n = split_all(buf, strlen(buf), s, 4);

    assert_int_equal(n, 2);
    assert_int_equal(s[0].rc, 1);
    assert_string_equal(s[0].text, "{\"a\":1}");
    assert_int_equal(s[0].line, 1);
    assert_int_equal(s[1].rc, 0);
}

static void
test_json__next_document__pretty_object_over_several_lines(void **state)
{
    (void)state;
    struct split s[4];
    static const char buf[] =
        "\n\n{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}\n\n";
    int n = split_all(buf, strlen(buf), s, 4);

    assert_int_equal(n, 2);
    assert_int_equal(s[0].rc, 1);
    assert_int_equal(s[0].line, 3);
    assert_string_equal(s[0].text, "{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}");
    assert_int_equal(s[1].rc, 0);
}

static void
test_json__next_document__json_lines_with_blank_lines(void **state)
{
    (void)state;
    struct split s[8];
    static const char buf[] =
        "\xef\xbb\xbf{\"a\":1}\r\n\r\n{\"b\":\"x\\ny\"}  \n"
        "\n\n  {\"c\":[1,2]}\n[3]\n42";
    int n = split_all(buf, strlen(buf), s, 8);

    assert_int_equal(n, 6);
    assert_string_equal(s[0].text, "{\"a\":1}");
    assert_int_equal(s[0].line, 1);
    assert_string_equal(s[1].text, "{\"b\":\"x\\ny\"}");
    assert_int_equal(s[1].line, 3);
    assert_string_equal(s[2].text, "{\"c\":[1,2]}");
    assert_int_equal(s[2].line, 6);
    assert_string_equal(s[3].text, "[3]");
    assert_int_equal(s[3].line, 7);
    assert_string_equal(s[4].text, "42");
    assert_int_equal(s[4].line, 8);
    assert_int_equal(s[5].rc, 0);
}

static void
test_json__next_document__garbage_is_eparse_with_its_line(void **state)
{
    (void)state;
    struct split s[4];
    static const char trailing[] = "{\"a\":1}\n{\"b\":2} x\n";
    static const char garbage_line[] = "{\"a\":1}\n\nnot json\n";
    static const char truncated[] = "{\"a\":1}\n{\"b\":";
    static const char pretty_then_more[] = "{\n\"a\":1\n}\n{\"b\":2}\n";
    static const char empty[] = " \n\t\n";
    int n;

    n = split_all(trailing, strlen(trailing), s, 4);
    assert_int_equal(n, 2);
    assert_int_equal(s[1].rc, CJX_EPARSE);
    assert_int_equal(s[1].line, 2);

    n = split_all(garbage_line, strlen(garbage_line), s, 4);
    assert_int_equal(n, 2);
    assert_int_equal(s[1].rc, CJX_EPARSE);
    assert_int_equal(s[1].line, 3);

    n = split_all(truncated, strlen(truncated), s, 4);
    assert_int_equal(n, 2);
    assert_int_equal(s[1].rc, CJX_EPARSE);
    assert_int_equal(s[1].line, 2);

    n = split_all(pretty_then_more, strlen(pretty_then_more), s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].rc, CJX_EPARSE);
    assert_int_equal(s[0].line, 4);

    n = split_all(empty, strlen(empty), s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].rc, 0);
    n = split_all("", 0, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].rc, 0);
}

static void
test_json__next_document__ignores_line_at_offset_zero(void **state)
{
    (void)state;
    static const char buf[] = "\n{\"a\":1}\n{\"b\":2}\n";
    size_t offset = 0, doc_len;
    const char *doc;
    int line = 12345; /* as a caller that never set it */

    assert_int_equal(cjx_json_next_document(buf, strlen(buf), &offset, &doc,
                                            &doc_len, &line),
                     1);
    assert_int_equal(line, 2);
    assert_int_equal(cjx_json_next_document(buf, strlen(buf), &offset, &doc,
                                            &doc_len, &line),
                     1);
    assert_int_equal(line, 3);
    assert_int_equal(cjx_json_next_document(buf, strlen(buf), &offset, &doc,
                                            &doc_len, &line),
                     0);
}

static void
test_json__next_document__documents_parse_as_messages(void **state)
{
    (void)state;
    static const char buf[] =
        "{\"meta\":{\"requestId\":\"1\"},\"record\":{\"county\":\"Kern\"}}\n"
        "{\"meta\":{\"requestId\":\"2\"},\"record\":{\"county\":\"Yolo\"}}\n";
    size_t offset = 0, doc_len;
    const char *doc;
    int line = 0, count = 0;

    while (cjx_json_next_document(buf, strlen(buf), &offset, &doc, &doc_len,
                                  &line) == 1) {
        struct cjx_errbuf eb;
        ProtobufCMessage *m = NULL;
        assert_int_equal(
            cjx_json_to_message(SUBMIT_DESC, doc, doc_len, NULL, &m, &eb), 0);
        protobuf_c_message_free_unpacked(m, NULL);
        count++;
        assert_int_equal(line, count);
    }
    assert_int_equal(count, 2);
}

/* -- cross-check with the reference implementation ------------------------- */

static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Our JSON for msg must parse in python3-protobuf to exactly our bytes, and
 * python3-protobuf's JSON for those bytes must parse here to them too. */
static void
crosscheck(const ProtobufCMessage *msg)
{
    const char *python = getenv("CJX_PYTHON3");
    const char *pygen = getenv("CJX_JSON_PYGEN");
    const char *data = getenv("CJX_TEST_DATA");
    const char *tmp = getenv("TMPDIR");
    char dir[512], ours[600], bin[600], theirs[600], cmd[4096];
    char *json, *ref;
    uint8_t *bytes;
    size_t len, ref_len;
    struct cjx_errbuf eb;
    ProtobufCMessage *back = NULL;

    if (python == NULL || pygen == NULL || data == NULL)
        skip();
    snprintf(dir, sizeof(dir), "%s/cjx-json-XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(ours, sizeof(ours), "%s/ours.json", dir);
    snprintf(bin, sizeof(bin), "%s/ours.bin", dir);
    snprintf(theirs, sizeof(theirs), "%s/theirs.json", dir);

    json = print(msg, 0);
    bytes = pack(msg, &len);
    write_file(ours, json, strlen(json));
    write_file(bin, bytes, len);
    snprintf(cmd, sizeof(cmd),
             "'%s' '%s/json/crosscheck.py' '%s' '%s' '%s' "
             "'%s' '%s'",
             python, data, pygen, msg->descriptor->name, ours, bin, theirs);
    if (system(cmd) != 0)
        fail_msg("cross-check failed for %s: %s", msg->descriptor->name, json);

    {
        FILE *f = fopen(theirs, "rb");
        assert_non_null(f);
        ref = malloc(1 << 16);
        assert_non_null(ref);
        ref_len = fread(ref, 1, 1 << 16, f);
        fclose(f);
    }
    if (cjx_json_to_message(msg->descriptor, ref, ref_len, NULL, &back, &eb) !=
        0)
        fail_msg("reference JSON refused: %s\n%.*s", eb.msg, (int)ref_len, ref);
    assert_same_bytes(msg, back);

    protobuf_c_message_free_unpacked(back, NULL);
    unlink(ours);
    unlink(bin);
    unlink(theirs);
    rmdir(dir);
    free(ref);
    free(bytes);
    free(json);
}

static void
test_json__printed_json__matches_python_protobuf_reference(void **state)
{
    (void)state;
    char *text = read_data_file("conviction_record.json", NULL);
    ProtobufCMessage *record = parse_ok(RECORD_DESC, text);
    ProtobufCMessage *all = parse_ok(ALL_DESC, all_types_json);
    ProtobufCMessage *opt = parse_ok(
        OPT_DESC, "{\"oInt32\":0,\"oUint64\":\"18446744073709551615\","
                  "\"oFloat\":3.4e38,\"oDouble\":-2.5e-310,"
                  "\"oBool\":false,\"oString\":\"\",\"oBytes\":\"\","
                  "\"oChild\":{\"oDefaulted\":\"x\"},\"rEnum\":[1,0]}");
    ProtobufCMessage *list =
        parse_ok(&cjx__v1__list_records_request__descriptor,
                 "{\"courtCaseNumber\":\"\",\"pageSize\":-1}");
    char *submit_text = read_data_file("submit_record_request.json", NULL);
    ProtobufCMessage *submit = parse_ok(SUBMIT_DESC, submit_text);

    crosscheck(record);
    crosscheck(all);
    crosscheck(opt);
    crosscheck(list);
    crosscheck(submit);
    protobuf_c_message_free_unpacked(submit, NULL);
    free(submit_text);
    protobuf_c_message_free_unpacked(record, NULL);
    protobuf_c_message_free_unpacked(all, NULL);
    protobuf_c_message_free_unpacked(opt, NULL);
    protobuf_c_message_free_unpacked(list, NULL);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_json__conviction_record__round_trips_through_binary),
        cmocka_unit_test(
            test_json__pretty_output__parses_back_to_the_same_message),
        cmocka_unit_test(test_json__all_types__print_and_round_trip),
        cmocka_unit_test(test_json__both_name_spellings__give_the_same_message),
        cmocka_unit_test(
            test_json__numbers__accept_strings_exponents_and_integral_floats),
        cmocka_unit_test(
            test_json__floats__print_shortest_form_that_reads_back),
        cmocka_unit_test(test_json__bytes__accept_url_safe_and_unpadded_base64),
        cmocka_unit_test(test_json__null__leaves_fields_absent),
        cmocka_unit_test(
            test_json__proto2_optionals__print_when_set_even_at_zero),
        cmocka_unit_test(
            test_json__emit_defaults__prints_defaults_and_null_for_unset),
        cmocka_unit_test(
            test_json__dates_as_strings__print_days_and_omit_zero_dates),
        cmocka_unit_test(test_json__oneof__one_member_and_nulls_are_accepted),
        cmocka_unit_test(test_json__printer__unknown_enum_number_and_bad_utf8),
        cmocka_unit_test(test_json__unknown_field__is_refused_with_its_path),
        cmocka_unit_test(test_json__wrong_type__names_what_was_expected),
        cmocka_unit_test(test_json__bad_enum__is_refused_with_path_and_type),
        cmocka_unit_test(test_json__integer_out_of_range__is_refused),
        cmocka_unit_test(test_json__non_integral_number__is_refused),
        cmocka_unit_test(test_json__bad_base64__is_refused),
        cmocka_unit_test(test_json__bad_date__is_refused),
        cmocka_unit_test(test_json__duplicate_key__is_refused),
        cmocka_unit_test(test_json__field_by_both_names__is_refused),
        cmocka_unit_test(test_json__two_oneof_members__are_refused),
        cmocka_unit_test(
            test_json__syntax_error__reports_json_c_error_and_offset),
        cmocka_unit_test(test_json__json_c_leniencies__are_refused),
        cmocka_unit_test(test_json__invalid_utf8__is_refused),
        cmocka_unit_test(test_json__nul_byte__is_refused),
        cmocka_unit_test(test_json__null_in_repeated__is_refused),
        cmocka_unit_test(test_json__deep_nesting__is_refused_not_crashed),
        cmocka_unit_test(test_json__bad_arguments__are_einval),
        cmocka_unit_test(
            test_json__allocation_failure__returns_enomem_and_leaks_nothing),
        cmocka_unit_test(test_json__next_document__single_object),
        cmocka_unit_test(
            test_json__next_document__pretty_object_over_several_lines),
        cmocka_unit_test(test_json__next_document__json_lines_with_blank_lines),
        cmocka_unit_test(
            test_json__next_document__garbage_is_eparse_with_its_line),
        cmocka_unit_test(test_json__next_document__ignores_line_at_offset_zero),
        cmocka_unit_test(test_json__next_document__documents_parse_as_messages),
        cmocka_unit_test(
            test_json__printed_json__matches_python_protobuf_reference),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
