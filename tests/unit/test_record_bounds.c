/* Unit tests for the size bounds of records and case messages: the bounds
 * written out again as a table and checked field by field, and the largest
 * record they allow measured against the page budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/v1/exchange.pb-c.h"
#include "cjx/v1/record_service.pb-c.h"
#include "record_bounds.h"
#include "record_check.h"

/* The bounds of docs/operations.md, independently of record_bounds.c: a
 * path from the top of a SubmitRecordRequest or a CandidateNotice, and the
 * most it may hold (bytes of a text, entries of a repeated field). */
static const struct expected_bound {
    const char *path;
    size_t max;
} expected[] = {
    {"record.subject.last_name", 100},
    {"record.subject.first_name", 100},
    {"record.subject.middle_name", 100},
    {"record.subject.fbi_number", 32},
    {"record.subject.doj_subject_id", 32},
    {"record.court_ori", 16},
    {"record.prosecuting_agency_ori", 16},
    {"record.charge.code_raw", 128},
    {"record.charge.code", 16},
    {"record.charge.section", 32},
    {"record.charge.subsection", 32},
    {"record.charge.normalized", 64},
    {"record.charge.description", 512},
    {"record.charge.comment_text", 512},
    {"record.sentence", 32},
    {"record.prior_relief", 8},
    {"record.same_case_statutes", 32},
    {"record.same_case_statutes[0]", 64},
    {"record.relief_history", 8},
    {"record.relief_history[0].order_id", 128},
    {"record.relief_history[0].judge", 100},
    {"record.relief_history[0].citation", 256},
    {"record.relief_history[0].statute.description", 512},
    {"history.events", 1000},
    {"history.events[0].statute.comment_text", 512},
    {"history.events[0].county", 64},
    {"history.cii", 256},
    {"determination.reason_codes", 32},
    {"determination.citations[0]", 128},
    {"determination.missing_facts", 32},
    {"determination.flags[0]", 64},
    {"prosecutor_ori", 256},
};
#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

/* ---- messages filled to their bounds --------------------------------- */

static ProtobufCMessage *fill_message(const ProtobufCMessageDescriptor *d,
                                      int depth);

static char *
text_of(size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, 'X', n);
    s[n] = '\0';
    return s;
}

/* Stores the largest value of f at p: every text at its bound, every number
 * at its longest encoding. */
static void
fill_value(const ProtobufCMessageDescriptor *d,
           const ProtobufCFieldDescriptor *f, void *p, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        *(char **)p = text_of(record_bounds_text_max(d, f));
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        b->len = record_bounds_text_max(d, f);
        b->data = (uint8_t *)text_of(b->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        *(ProtobufCMessage **)p = fill_message(
            (const ProtobufCMessageDescriptor *)f->descriptor, depth + 1);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        *(int64_t *)p = INT64_MIN;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)p = 1;
        break;
    default: /* 32-bit numbers and enums: negative takes ten bytes */
        *(int32_t *)p = -1;
        break;
    }
}

static size_t
storage_of(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

static ProtobufCMessage *
fill_message(const ProtobufCMessageDescriptor *d, int depth)
{
    assert_true(depth < 16);
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    assert_non_null(m);
    d->message_init(m);
    for (unsigned k = 0; k < d->n_fields; k++) {
        const ProtobufCFieldDescriptor *f = &d->fields[k];
        char *base = (char *)m + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            /* One member of each oneof: the first one met. */
            uint32_t *chosen = (uint32_t *)((char *)m + f->quantifier_offset);
            if (*chosen != 0)
                continue;
            *chosen = f->id;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                   f->quantifier_offset != 0 &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   f->type != PROTOBUF_C_TYPE_STRING) {
            *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = record_bounds_entries_max(d, f);
            size_t size = storage_of(f);
            char *v = calloc(n, size);
            assert_non_null(v);
            for (size_t i = 0; i < n; i++)
                fill_value(d, f, v + i * size, depth);
            *(size_t *)((char *)m + f->quantifier_offset) = n;
            *(char **)base = v;
        } else {
            fill_value(d, f, base, depth);
        }
    }
    return m;
}

/* ---- finding a field by its path ------------------------------------- */

/* Where the value of path is stored in msg, with the descriptors of the
 * field and its message; NULL if the path names nothing. */
static void *
locate(ProtobufCMessage *msg, const char *path,
       const ProtobufCFieldDescriptor **field)
{
    char name[64];
    const char *end = path + strcspn(path, ".[");
    snprintf(name, sizeof(name), "%.*s", (int)(end - path), path);
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
    assert_non_null(f);
    char *p = (char *)msg + f->offset;
    if (*end == '[') {
        long i = strtol(end + 1, (char **)&end, 10);
        end++; /* ']' */
        p = *(char **)p + (size_t)i * storage_of(f);
    }
    if (*end == '\0') {
        *field = f;
        return p;
    }
    return locate(*(ProtobufCMessage **)p, end + 1, field);
}

/* Sets the field at path to hold n (bytes or entries). A repeated field
 * keeps its filled entries and repeats the first. */
static void
resize(ProtobufCMessage *msg, const char *path, size_t n)
{
    const ProtobufCFieldDescriptor *f;
    void *p = locate(msg, path, &f);
    const char *bracket = strrchr(path, ']');
    int is_entry = bracket != NULL && bracket[1] == '\0';
    if (f->label == PROTOBUF_C_LABEL_REPEATED && !is_entry) {
        /* The count sits quantifier_offset - offset bytes from the array. */
        size_t *count =
            (size_t *)((char *)p - f->offset + f->quantifier_offset);
        size_t size = storage_of(f);
        char *v = realloc(*(char **)p, (n ? n : 1) * size);
        assert_non_null(v);
        for (size_t i = *count; i < n; i++) {
            memcpy(v + i * size, v, size);
            if (f->type == PROTOBUF_C_TYPE_STRING)
                *(char **)(v + i * size) = strdup(*(char **)v);
            else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                *(ProtobufCMessage **)(v + i * size) = fill_message(
                    (const ProtobufCMessageDescriptor *)f->descriptor, 1);
        }
        *(char **)p = v;
        *count = n;
        return;
    }
    assert_int_equal(f->type, PROTOBUF_C_TYPE_STRING);
    free(*(char **)p);
    *(char **)p = text_of(n);
}

static ProtobufCMessage *
notice_at_bounds(void)
{
    return fill_message(&cjx__v1__candidate_notice__descriptor, 0);
}

/* ---- tests ----------------------------------------------------------- */

/* Every bound of the table holds exactly: its maximum passes, one more is
 * refused with the field's path and the bound in the detail. */
static void
test_bounds__each_field__max_passes_one_more_is_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_EXPECTED; i++) {
        ProtobufCMessage *m = notice_at_bounds();
        struct cjx_errbuf eb;
        resize(m, expected[i].path, expected[i].max);
        int err = record_bounds_check(m, "", &eb);
        if (err != 0)
            fail_msg("%s at %zu refused: %s", expected[i].path, expected[i].max,
                     eb.msg);
        resize(m, expected[i].path, expected[i].max + 1);
        assert_int_equal(record_bounds_check(m, "", &eb), CJX_EINVAL);
        if (strncmp(eb.msg, expected[i].path, strlen(expected[i].path)) != 0 ||
            eb.msg[strlen(expected[i].path)] != ':')
            fail_msg("%s: detail names another field: %s", expected[i].path,
                     eb.msg);
        char bound[32];
        snprintf(bound, sizeof(bound), " %zu ", expected[i].max);
        if (strstr(eb.msg, bound) == NULL)
            fail_msg("%s: detail does not give the bound %zu: %s",
                     expected[i].path, expected[i].max, eb.msg);
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

/* The largest record the bounds allow packs to at most
 * RECORD_BOUNDS_RECORD_PACKED_MAX, so a page budget of that size holds at
 * least one, and the record checks refuse nothing for its size. */
static void
test_bounds__largest_record__fits_the_page_budget(void **state)
{
    (void)state;
    Cjx__V1__ConvictionRecord *rec = (Cjx__V1__ConvictionRecord *)fill_message(
        &cjx__v1__conviction_record__descriptor, 0);
    size_t packed = protobuf_c_message_get_packed_size(&rec->base);
    print_message("largest record: %zu bytes packed\n", packed);
    assert_true(packed <= RECORD_BOUNDS_RECORD_PACKED_MAX);
    struct cjx_errbuf eb;
    assert_int_equal(record_bounds_check(&rec->base, "record", &eb), 0);
    protobuf_c_message_free_unpacked(&rec->base, NULL);
}

/* Oversized text in a record submitted alone is refused by the record
 * checks, before any rule or store sees it, naming the field. */
static void
test_bounds__record_check__refuses_an_oversized_description(void **state)
{
    (void)state;
    Cjx__V1__ConvictionRecord *rec = (Cjx__V1__ConvictionRecord *)fill_message(
        &cjx__v1__conviction_record__descriptor, 0);
    resize(&rec->base, "charge.description", 3900000);
    struct cjx_errbuf eb;
    assert_int_equal(record_check_record(rec, &eb), CJX_EINVAL);
    assert_string_equal(eb.msg, "record.charge.description: longer than 512 "
                                "bytes (3900000)");
    protobuf_c_message_free_unpacked(&rec->base, NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_bounds__each_field__max_passes_one_more_is_refused),
        cmocka_unit_test(test_bounds__largest_record__fits_the_page_budget),
        cmocka_unit_test(
            test_bounds__record_check__refuses_an_oversized_description),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
