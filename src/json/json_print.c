/* protobuf-c message to proto3 JSON text. */
#include "cjx/json.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

static struct json_object *print_message(const ProtobufCMessage *msg, int flags,
                                         int *failed);

/* Shortest "%.*g" text that reads back as the same value: what a reader
 * needs to round-trip, without 17 digits of noise. */
static void
format_shortest(double d, int is_float, char *buf, size_t cap)
{
    int max_digits = is_float ? 9 : 17;

    for (int digits = 1; digits <= max_digits; digits++) {
        snprintf(buf, cap, "%.*g", digits, d);
        if (is_float ? strtof(buf, NULL) == (float)d : strtod(buf, NULL) == d)
            return;
    }
}

static struct json_object *
print_double(double d, int is_float)
{
    char buf[40];

    if (isnan(d))
        return json_object_new_string("NaN");
    if (isinf(d))
        return json_object_new_string(d > 0 ? "Infinity" : "-Infinity");
    /* "-0" would read back as the integer 0 and lose the sign. */
    if (d == 0 && signbit(d))
        snprintf(buf, sizeof(buf), "-0.0");
    else
        format_shortest(d, is_float, buf, sizeof(buf));
    return json_object_new_double_s(d, buf);
}

/* JSON text must be UTF-8; a message decoded from the wire may hold any
 * bytes in a string, so bad sequences are shown as U+FFFD. */
static struct json_object *
print_string(const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;
    struct json_object *o;
    char *clean, *p;

    if (len == 0 || cjx_utf8_valid(s, len))
        return json_object_new_string_len(len ? s : "", (int)len);
    if ((clean = malloc(len * 3 + 1)) == NULL)
        return NULL;
    p = clean;
    for (size_t i = 0; i < len;) {
        size_t n = cjx_utf8_seq_len((const unsigned char *)s + i, len - i);
        if (n == 0) {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3;
            i++;
        } else {
            memcpy(p, s + i, n);
            p += n;
            i += n;
        }
    }
    o = json_object_new_string_len(clean, (int)(p - clean));
    free(clean);
    return o;
}

static struct json_object *
print_bytes(const ProtobufCBinaryData *bd)
{
    struct json_object *o;
    char *text;

    if (bd->len == 0)
        return json_object_new_string("");
    if ((text = malloc(4 * ((bd->len + 2) / 3) + 1)) == NULL)
        return NULL;
    cjx_json_base64_encode(bd->data, bd->len, text);
    o = json_object_new_string(text);
    free(text);
    return o;
}

static int
is_date(const ProtobufCFieldDescriptor *f)
{
    return f->type == PROTOBUF_C_TYPE_MESSAGE &&
           strcmp(((const ProtobufCMessageDescriptor *)f->descriptor)->name,
                  CJX_JSON_DATE_TYPE) == 0;
}

static int
date_member(const ProtobufCMessage *date, const char *name, int32_t *out)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(date->descriptor, name);

    if (f == NULL || f->type != PROTOBUF_C_TYPE_INT32 ||
        f->label == PROTOBUF_C_LABEL_REPEATED)
        return -1;
    *out = *(const int32_t *)((const char *)date + f->offset);
    return 0;
}

/* The date as "YYYY-MM-DD" into buf; -1 when it is not a real day (such a
 * date prints as an object, so that nothing is lost). */
static int
format_date(const ProtobufCMessage *date, char *buf, size_t cap)
{
    int32_t y, m, d;

    if (date_member(date, "year", &y) < 0 ||
        date_member(date, "month", &m) < 0 ||
        date_member(date, "day", &d) < 0 || !cjx_json_date_valid(y, m, d))
        return -1;
    snprintf(buf, cap, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
    return 0;
}

static int
date_is_absent(const ProtobufCMessage *date)
{
    int32_t y;

    return date == NULL || (date_member(date, "year", &y) == 0 && y == 0);
}

/* One value of field f stored at member; NULL with *failed set when out of
 * memory (a NULL without *failed is JSON null). */
static struct json_object *
print_value(const ProtobufCFieldDescriptor *f, const void *member, int flags,
            int *failed)
{
    struct json_object *o = NULL;
    char buf[32];

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        o = json_object_new_int64(*(const int32_t *)member);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        o = json_object_new_int64(*(const uint32_t *)member);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)member);
        o = json_object_new_string(buf);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)member);
        o = json_object_new_string(buf);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        o = print_double(*(const float *)member, 1);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        o = print_double(*(const double *)member, 0);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        o = json_object_new_boolean(*(const protobuf_c_boolean *)member != 0);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)member;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        /* A number the schema does not name (an open enum) stays a
         * number, as the mapping prescribes. */
        o = ev != NULL ? json_object_new_string(ev->name)
                       : json_object_new_int64(v);
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        o = print_string(*(char *const *)member);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        o = print_bytes(member);
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member;
        char date[16];
        if (sub == NULL)
            return NULL; /* JSON null, not a failure */
        if ((flags & CJX_JSON_DATES_AS_STRINGS) && is_date(f) &&
            format_date(sub, date, sizeof(date)) == 0)
            o = json_object_new_string(date);
        else
            return print_message(sub, flags, failed);
        break;
    }
    }
    if (o == NULL)
        *failed = 1;
    return o;
}

/* Whether a field without presence (proto3) holds its default. */
static int
is_default(const ProtobufCFieldDescriptor *f, const void *member)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const uint32_t *)member == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)member == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)member == 0 && !signbit(*(const float *)member);
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)member == 0 &&
               !signbit(*(const double *)member);
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)member == 0;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)member == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        return s == NULL || *s == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)member)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)member == NULL;
    }
    return 1;
}

/* Whether a field that has presence is set. */
static int
is_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *)msg;
    const void *member = base + f->offset;

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    if (f->type == PROTOBUF_C_TYPE_STRING ||
        f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const void *p = *(void *const *)member;
        return p != NULL && p != f->default_value;
    }
    return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
}

static struct json_object *
print_repeated(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
               int flags, int *failed)
{
    const char *base = (const char *)msg;
    size_t n = *(const size_t *)(base + f->quantifier_offset);
    const char *elems = *(char *const *)(base + f->offset);
    size_t size = cjx_json_element_size(f);
    struct json_object *arr =
        json_object_new_array_ext(n < 1024 ? (int)n : 1024);

    if (arr == NULL) {
        *failed = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = print_value(f, elems + i * size, flags, failed);
        if (*failed || json_object_array_add(arr, e) < 0) {
            json_object_put(e);
            json_object_put(arr);
            *failed = 1;
            return NULL;
        }
    }
    return arr;
}

static struct json_object *
print_message(const ProtobufCMessage *msg, int flags, int *failed)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    struct json_object *obj = json_object_new_object();
    int emit_defaults = (flags & CJX_JSON_EMIT_DEFAULTS) != 0;

    if (obj == NULL) {
        *failed = 1;
        return NULL;
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const void *member = (const char *)msg + f->offset;
        struct json_object *v = NULL;
        char name_small[64];
        char *name = name_small;
        int rc;

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (*(const size_t *)((const char *)msg + f->quantifier_offset) ==
                    0 &&
                !emit_defaults)
                continue;
            v = print_repeated(msg, f, flags, failed);
        } else if (f->label == PROTOBUF_C_LABEL_NONE &&
                   !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
            int absent = is_default(f, member) ||
                         ((flags & CJX_JSON_DATES_AS_STRINGS) && is_date(f) &&
                          date_is_absent(*(ProtobufCMessage *const *)member));
            if (absent && !emit_defaults)
                continue;
            /* An absent sub-message or date prints as null: it has no
             * default value to show. */
            if (absent && f->type == PROTOBUF_C_TYPE_MESSAGE)
                v = NULL;
            else
                v = print_value(f, member, flags, failed);
        } else if (f->label == PROTOBUF_C_LABEL_REQUIRED ||
                   is_present(msg, f)) {
            v = print_value(f, member, flags, failed);
        } else if (!emit_defaults) {
            continue;
        }
        /* Otherwise an unset field with presence prints as null under
         * emit-defaults: its default value would read back as "set". */
        if (*failed) {
            json_object_put(obj);
            return NULL;
        }
        if (strlen(f->name) >= sizeof(name_small) &&
            (name = malloc(strlen(f->name) + 1)) == NULL) {
            json_object_put(v);
            json_object_put(obj);
            *failed = 1;
            return NULL;
        }
        cjx_json_name_format(f->name, name);
        rc = json_object_object_add(obj, name, v);
        if (name != name_small)
            free(name);
        if (rc < 0) {
            json_object_put(v);
            json_object_put(obj);
            *failed = 1;
            return NULL;
        }
    }
    return obj;
}

char *
cjx_json_from_message(const ProtobufCMessage *msg, int flags)
{
    int failed = 0;
    int jflags = JSON_C_TO_STRING_NOSLASHESCAPE;
    struct json_object *root;
    const char *text;
    char *out = NULL;

    if (msg == NULL)
        return NULL;
    if ((root = print_message(msg, flags, &failed)) == NULL)
        return NULL;
    if (flags & CJX_JSON_PRETTY)
        jflags |= JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;
    text = json_object_to_json_string_ext(root, jflags);
    if (text != NULL)
        out = strdup(text);
    json_object_put(root);
    return out;
}
