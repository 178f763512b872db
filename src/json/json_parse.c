/* JSON text to protobuf-c message, following the proto3 JSON mapping. */
#include "cjx/json.h"

#include <float.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

struct parse_ctx {
    ProtobufCAllocator *allocator;
    struct cjx_errbuf *eb;
    struct cjx_json_path path;
    char shown[80]; /* a value quoted in the error message */
};

static int parse_message(struct parse_ctx *c,
                         const ProtobufCMessageDescriptor *desc,
                         struct json_object *obj, ProtobufCMessage *msg);

/* Formats "path: message" (or just the message at the root). */
static int fail(struct parse_ctx *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct parse_ctx *c, int err, const char *fmt, ...)
{
    char what[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (c->path.len > 0)
        return cjx_errf(c->eb, err, "%s: %s", c->path.buf, what);
    return cjx_errf(c->eb, err, "%s", what);
}

static int
nomem(struct parse_ctx *c)
{
    return fail(c, CJX_ENOMEM, "out of memory");
}

static void *
pb_alloc(struct parse_ctx *c, size_t size)
{
    return c->allocator->alloc(c->allocator->allocator_data, size);
}

static const char *
json_kind(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "boolean";
    case json_type_double:
    case json_type_int:
        return "number";
    case json_type_object:
        return "object";
    case json_type_array:
        return "array";
    case json_type_string:
        return "string";
    }
    return "value";
}

/* Text for an error message: cut short on a character boundary and kept
 * on one line. */
static const char *
show_text(struct parse_ctx *c, const char *s, size_t n)
{
    size_t max = 60, out = 0, i = 0;

    while (i < n && out < max) {
        size_t k = cjx_utf8_seq_len((const unsigned char *)s + i, n - i);
        if (k == 0 || (unsigned char)s[i] < 0x20) {
            c->shown[out++] = '?';
            i++;
            continue;
        }
        if (out + k > max)
            break;
        memcpy(c->shown + out, s + i, k);
        out += k;
        i += k;
    }
    if (i < n) {
        memcpy(c->shown + out, "...", 3);
        out += 3;
    }
    c->shown[out] = '\0';
    return c->shown;
}

/* A value as written (a string's content, a number's text). */
static const char *
show(struct parse_ctx *c, struct json_object *v)
{
    const char *s = json_object_get_string(v);

    return show_text(c, s,
                     json_object_is_type(v, json_type_string)
                         ? (size_t)json_object_get_string_len(v)
                         : strlen(s));
}

/* An integer read from JSON as sign and magnitude, so that the whole of
 * int64 and uint64 fits before the range check. */
struct json_int {
    int negative;
    uint64_t magnitude;
};

static int
read_integer(struct parse_ctx *c, struct json_object *v, const char *type_name,
             struct json_int *out)
{
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t s = json_object_get_int64(v);
        out->negative = s < 0;
        out->magnitude =
            s < 0 ? (uint64_t)0 - (uint64_t)s : json_object_get_uint64(v);
        return 0;
    }
    case json_type_double: {
        double d = json_object_get_double(v);
        if (!isfinite(d))
            return fail(c, CJX_EPARSE, "%s is out of range for %s", show(c, v),
                        type_name);
        if (d != floor(d))
            return fail(c, CJX_EPARSE, "%s is not an integer", show(c, v));
        if (d >= 18446744073709551616.0 || d < -9223372036854775808.0)
            return fail(c, CJX_EPARSE, "%s is out of range for %s", show(c, v),
                        type_name);
        out->negative = d < 0;
        out->magnitude = (uint64_t)fabs(d);
        return 0;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        size_t i = 0;
        uint64_t m = 0;
        out->negative = n > 0 && s[0] == '-';
        i = (size_t)out->negative;
        if (i == n)
            return fail(c, CJX_EPARSE, "\"%s\" is not a decimal integer",
                        show(c, v));
        for (; i < n; i++) {
            unsigned d = (unsigned char)s[i] - '0';
            if (d > 9)
                return fail(c, CJX_EPARSE, "\"%s\" is not a decimal integer",
                            show(c, v));
            if (m > (UINT64_MAX - d) / 10)
                return fail(c, CJX_EPARSE, "\"%s\" is out of range for %s",
                            show(c, v), type_name);
            m = m * 10 + d;
        }
        out->magnitude = m;
        return 0;
    }
    default:
        return fail(c, CJX_EPARSE,
                    "expected an integer (number or decimal string) for %s, "
                    "got %s",
                    type_name, json_kind(v));
    }
}

static int
out_of_range(struct parse_ctx *c, struct json_object *v, const char *type_name)
{
    if (json_object_is_type(v, json_type_string))
        return fail(c, CJX_EPARSE, "\"%s\" is out of range for %s", show(c, v),
                    type_name);
    return fail(c, CJX_EPARSE, "%s is out of range for %s", show(c, v),
                type_name);
}

static int
read_signed(struct parse_ctx *c, struct json_object *v, const char *type_name,
            int64_t min, int64_t max, int64_t *out)
{
    struct json_int n;
    int rc = read_integer(c, v, type_name, &n);

    if (rc < 0)
        return rc;
    if (n.negative ? n.magnitude > (uint64_t)0 - (uint64_t)min
                   : n.magnitude > (uint64_t)max)
        return out_of_range(c, v, type_name);
    *out = n.negative ? (int64_t)((uint64_t)0 - n.magnitude)
                      : (int64_t)n.magnitude;
    return 0;
}

static int
read_unsigned(struct parse_ctx *c, struct json_object *v, const char *type_name,
              uint64_t max, uint64_t *out)
{
    struct json_int n;
    int rc = read_integer(c, v, type_name, &n);

    if (rc < 0)
        return rc;
    if ((n.negative && n.magnitude != 0) || n.magnitude > max)
        return out_of_range(c, v, type_name);
    *out = n.magnitude;
    return 0;
}

/* Whether s is a JSON number in full ("-1.5e3"), as strtod alone would also
 * take hex, "inf" and leading blanks. */
static int
is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    size_t digits;

    if (i < n && s[i] == '-')
        i++;
    for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (digits == 0)
        return 0;
    if (i < n && s[i] == '.') {
        for (i++, digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
        if (digits == 0)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
        if (digits == 0)
            return 0;
    }
    return i == n;
}

static int
read_double(struct parse_ctx *c, struct json_object *v, int is_float,
            double *out)
{
    const char *type_name = is_float ? "float" : "double";
    double d;

    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t s = json_object_get_int64(v);
        d = s < 0 ? (double)s : (double)json_object_get_uint64(v);
        break;
    }
    case json_type_double:
        /* JSON has no literal for infinity: this is an overflow. */
        d = json_object_get_double(v);
        if (isinf(d))
            return fail(c, CJX_EPARSE, "%s is out of range for %s", show(c, v),
                        type_name);
        break;
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (strcmp(s, "NaN") == 0) {
            d = NAN;
        } else if (strcmp(s, "Infinity") == 0) {
            d = INFINITY;
        } else if (strcmp(s, "-Infinity") == 0) {
            d = -INFINITY;
        } else if (is_json_number(s, n)) {
            d = strtod(s, NULL);
            if (isinf(d))
                return fail(c, CJX_EPARSE, "\"%s\" is out of range for %s",
                            show(c, v), type_name);
        } else {
            return fail(c, CJX_EPARSE, "\"%s\" is not a number", show(c, v));
        }
        break;
    }
    default:
        return fail(c, CJX_EPARSE,
                    "expected a number (or \"NaN\", \"Infinity\") for %s, "
                    "got %s",
                    type_name, json_kind(v));
    }
    if (is_float && isfinite(d) && fabs(d) > FLT_MAX) {
        /* Values up to half a unit above FLT_MAX still round to it; the
         * shortest form of FLT_MAX ("3.4028235e+38") is one of them. */
        if (fabs(d) >= 0x1.ffffffp+127)
            return fail(c, CJX_EPARSE, "%s is out of range for float",
                        show(c, v));
        d = d > 0 ? FLT_MAX : -FLT_MAX;
    }
    *out = d;
    return 0;
}

/* Enums of proto3 files are open (any int32 is kept); fields with a proto2
 * label hold closed enums, which take only the numbers declared. */
static int
read_enum(struct parse_ctx *c, const ProtobufCFieldDescriptor *f,
          struct json_object *v, int *out)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;

    if (json_object_is_type(v, json_type_string)) {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value_by_name(
                ed, json_object_get_string(v));
        if (ev == NULL)
            return fail(c, CJX_EPARSE, "unknown enum value \"%s\" for %s",
                        show(c, v), ed->name);
        *out = ev->value;
        return 0;
    }
    if (json_object_is_type(v, json_type_int) ||
        json_object_is_type(v, json_type_double)) {
        int64_t n;
        int rc = read_signed(c, v, ed->name, INT32_MIN, INT32_MAX, &n);
        if (rc < 0)
            return rc;
        if ((f->label == PROTOBUF_C_LABEL_OPTIONAL ||
             f->label == PROTOBUF_C_LABEL_REQUIRED) &&
            protobuf_c_enum_descriptor_get_value(ed, (int)n) == NULL)
            return fail(c, CJX_EPARSE, "unknown enum number %lld for %s",
                        (long long)n, ed->name);
        *out = (int)n;
        return 0;
    }
    return fail(c, CJX_EPARSE,
                "expected an enum name (string) or number for %s, got %s",
                ed->name, json_kind(v));
}

static int
is_date_type(const ProtobufCFieldDescriptor *f)
{
    const ProtobufCMessageDescriptor *md = f->descriptor;

    return strcmp(md->name, CJX_JSON_DATE_TYPE) == 0;
}

static int
set_int32_field(const ProtobufCMessageDescriptor *md, ProtobufCMessage *m,
                const char *name, int32_t value)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(md, name);

    if (f == NULL || f->type != PROTOBUF_C_TYPE_INT32 ||
        f->label == PROTOBUF_C_LABEL_REPEATED)
        return -1;
    *(int32_t *)((char *)m + f->offset) = value;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
        *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
    return 0;
}

static int
read_message(struct parse_ctx *c, const ProtobufCFieldDescriptor *f,
             struct json_object *v, ProtobufCMessage **dst)
{
    const ProtobufCMessageDescriptor *md = f->descriptor;
    ProtobufCMessage *sub;

    if (json_object_is_type(v, json_type_string) && is_date_type(f)) {
        int32_t y, m, d;
        if (cjx_json_date_parse(json_object_get_string(v),
                                (size_t)json_object_get_string_len(v), &y, &m,
                                &d) < 0)
            return fail(c, CJX_EPARSE,
                        "\"%s\" is not a valid date (YYYY-MM-DD)", show(c, v));
        if ((sub = pb_alloc(c, md->sizeof_message)) == NULL)
            return nomem(c);
        protobuf_c_message_init(md, sub);
        *dst = sub;
        if (set_int32_field(md, sub, "year", y) < 0 ||
            set_int32_field(md, sub, "month", m) < 0 ||
            set_int32_field(md, sub, "day", d) < 0)
            return fail(c, CJX_EINTERNAL, "%s has no int32 year/month/day",
                        md->name);
        return 0;
    }
    if (!json_object_is_type(v, json_type_object))
        return fail(
            c, CJX_EPARSE, "expected an object for %s%s, got %s", md->name,
            is_date_type(f) ? " or a \"YYYY-MM-DD\" string" : "", json_kind(v));
    if ((sub = pb_alloc(c, md->sizeof_message)) == NULL)
        return nomem(c);
    protobuf_c_message_init(md, sub);
    /* Stored before it is filled in, so that a failure below frees it with
     * the rest of the message. */
    *dst = sub;
    return parse_message(c, md, v, sub);
}

/* Reads one value (a singular field or one repeated element) into dst,
 * which points at storage of the field's C type. */
static int
read_value(struct parse_ctx *c, const ProtobufCFieldDescriptor *f,
           struct json_object *v, void *dst)
{
    int rc = 0;
    int64_t s;
    uint64_t u;
    double d;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((rc = read_signed(c, v, "int32", INT32_MIN, INT32_MAX, &s)) == 0)
            *(int32_t *)dst = (int32_t)s;
        return rc;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rc = read_signed(c, v, "int64", INT64_MIN, INT64_MAX, &s)) == 0)
            *(int64_t *)dst = s;
        return rc;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((rc = read_unsigned(c, v, "uint32", UINT32_MAX, &u)) == 0)
            *(uint32_t *)dst = (uint32_t)u;
        return rc;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((rc = read_unsigned(c, v, "uint64", UINT64_MAX, &u)) == 0)
            *(uint64_t *)dst = u;
        return rc;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((rc = read_double(c, v, 1, &d)) == 0)
            *(float *)dst = (float)d;
        return rc;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((rc = read_double(c, v, 0, &d)) == 0)
            *(double *)dst = d;
        return rc;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return fail(c, CJX_EPARSE, "expected true or false, got %s",
                        json_kind(v));
        *(protobuf_c_boolean *)dst = json_object_get_boolean(v) ? 1 : 0;
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        return read_enum(c, f, v, (int *)dst);
    case PROTOBUF_C_TYPE_STRING: {
        size_t n;
        char *copy;
        if (!json_object_is_type(v, json_type_string))
            return fail(c, CJX_EPARSE, "expected a string, got %s",
                        json_kind(v));
        n = (size_t)json_object_get_string_len(v);
        /* A proto3 string at its default keeps the shared empty string,
         * as protobuf-c's own decoder leaves it. */
        if (n == 0 && f->label == PROTOBUF_C_LABEL_NONE &&
            !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            return 0;
        if ((copy = pb_alloc(c, n + 1)) == NULL)
            return nomem(c);
        memcpy(copy, json_object_get_string(v), n);
        copy[n] = '\0';
        *(char **)dst = copy;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *bd = dst;
        const char *text;
        size_t n;
        uint8_t *data;
        long got;
        if (!json_object_is_type(v, json_type_string))
            return fail(c, CJX_EPARSE, "expected a base64 string, got %s",
                        json_kind(v));
        text = json_object_get_string(v);
        n = (size_t)json_object_get_string_len(v);
        if (n == 0) {
            bd->len = 0;
            bd->data = NULL;
            return 0;
        }
        if ((data = pb_alloc(c, cjx_json_base64_decoded_max(n))) == NULL)
            return nomem(c);
        got = cjx_json_base64_decode(text, n, data);
        if (got < 0) {
            c->allocator->free(c->allocator->allocator_data, data);
            return fail(c, CJX_EPARSE, "invalid base64 \"%s\"", show(c, v));
        }
        bd->len = (size_t)got;
        bd->data = data;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return read_message(c, f, v, (ProtobufCMessage **)dst);
    }
    return fail(c, CJX_EINTERNAL, "unsupported field type %d", (int)f->type);
}

static int
read_repeated(struct parse_ctx *c, const ProtobufCFieldDescriptor *f,
              struct json_object *v, ProtobufCMessage *msg)
{
    size_t *count = (size_t *)((char *)msg + f->quantifier_offset);
    void **array = (void **)((char *)msg + f->offset);
    size_t n, size = cjx_json_element_size(f);
    char *elems;

    if (!json_object_is_type(v, json_type_array))
        return fail(c, CJX_EPARSE, "expected an array, got %s", json_kind(v));
    n = json_object_array_length(v);
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / size || (elems = pb_alloc(c, n * size)) == NULL)
        return nomem(c);
    memset(elems, 0, n * size);
    *array = elems;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        size_t saved = cjx_json_path_push_index(&c->path, i);
        int rc;

        if (e == NULL) {
            rc = fail(c, CJX_EPARSE, "null is not allowed in a repeated field");
        } else {
            /* Counted before it is read: a zeroed element frees cleanly,
             * and a half-built sub-message must be freed too. */
            *count = i + 1;
            rc = read_value(c, f, e, elems + i * size);
        }
        if (rc < 0)
            return rc;
        cjx_json_path_pop(&c->path, saved);
    }
    return 0;
}

static const ProtobufCFieldDescriptor *
find_field(const ProtobufCMessageDescriptor *desc, const char *key)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(desc, key);

    if (f != NULL)
        return f;
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (cjx_json_name_equals(desc->fields[i].name, key))
            return &desc->fields[i];
    return NULL;
}

static int
parse_field(struct parse_ctx *c, const ProtobufCMessageDescriptor *desc,
            const ProtobufCFieldDescriptor *f, struct json_object *v,
            ProtobufCMessage *msg)
{
    void *member = (char *)msg + f->offset;

    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return read_repeated(c, f, v, msg);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)((char *)msg + f->quantifier_offset);
        if (*which != 0 && *which != f->id) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(desc, *which);
            return fail(c, CJX_EPARSE,
                        "\"%s\" and \"%s\" belong to the same oneof; give at "
                        "most one",
                        other != NULL ? other->name : "?", f->name);
        }
        /* Selected first, so that a failure below frees what the member
         * already holds. */
        *which = f->id;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
               f->type != PROTOBUF_C_TYPE_STRING &&
               f->type != PROTOBUF_C_TYPE_MESSAGE) {
        *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 1;
    }
    return read_value(c, f, v, member);
}

static int
parse_message(struct parse_ctx *c, const ProtobufCMessageDescriptor *desc,
              struct json_object *obj, ProtobufCMessage *msg)
{
    unsigned char seen_small[64];
    unsigned char *seen = seen_small;
    int rc = 0;

    if (desc->n_fields > sizeof(seen_small)) {
        if ((seen = calloc(desc->n_fields, 1)) == NULL)
            return nomem(c);
    } else {
        memset(seen_small, 0, sizeof(seen_small));
    }
    json_object_object_foreach(obj, key, v)
    {
        const ProtobufCFieldDescriptor *f = find_field(desc, key);
        size_t idx;

        if (f == NULL) {
            rc = fail(c, CJX_EPARSE, "unknown field \"%s\" in %s",
                      show_text(c, key, strlen(key)), desc->name);
            break;
        }
        idx = (size_t)(f - desc->fields);
        if (seen[idx]) {
            rc = fail(c, CJX_EPARSE,
                      "field \"%s\" is given twice (by its proto and its "
                      "JSON name)",
                      f->name);
            break;
        }
        seen[idx] = 1;
        /* null stands for the field's default: leave it absent. */
        if (v == NULL)
            continue;
        {
            size_t saved = cjx_json_path_push_key(&c->path, key, strlen(key));
            rc = parse_field(c, desc, f, v, msg);
            if (rc < 0)
                break;
            cjx_json_path_pop(&c->path, saved);
        }
    }
    if (seen != seen_small)
        free(seen);
    return rc;
}

static void *
system_alloc(void *data, size_t size)
{
    (void)data;
    return malloc(size);
}

static void
system_free(void *data, void *ptr)
{
    (void)data;
    free(ptr);
}

/* Parses the text into a json-c tree; NULL with detail in eb on error. */
static struct json_object *
tokenize(const char *json, size_t len, struct cjx_errbuf *eb, int *err)
{
    struct json_tokener *tok;
    struct json_object *root;
    enum json_tokener_error jerr;
    size_t at;

    if ((tok = json_tokener_new_ex(CJX_JSON_MAX_DEPTH)) == NULL) {
        *err = cjx_errf(eb, CJX_ENOMEM, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, CJX_JSON_TOKENER_FLAGS);
    root = json_tokener_parse_ex(tok, len > 0 ? json : "", (int)len);
    jerr = json_tokener_get_error(tok);
    at = json_tokener_get_parse_end(tok);
    if (root == NULL && jerr == json_tokener_continue) {
        /* A NUL tells json-c that the text is complete. */
        root = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        at = len;
    }
    json_tokener_free(tok);
    if (root == NULL && jerr != json_tokener_success) {
        *err =
            cjx_errf(eb, CJX_EPARSE, "JSON syntax error at byte offset %zu: %s",
                     at, json_tokener_error_desc(jerr));
        return NULL;
    }
    return root;
}

int
cjx_json_to_message(const ProtobufCMessageDescriptor *desc, const char *json,
                    size_t len, ProtobufCAllocator *allocator,
                    ProtobufCMessage **out, struct cjx_errbuf *eb)
{
    /* protobuf-c does not export its default allocator; it is malloc and
     * free, so a message built with these frees with a NULL allocator. */
    ProtobufCAllocator system = {system_alloc, system_free, NULL};
    struct parse_ctx c = {.allocator = allocator ? allocator : &system,
                          .eb = eb};
    struct json_object *root;
    const char *nul;
    ProtobufCMessage *msg;
    int rc = 0;

    if (desc == NULL || out == NULL || (json == NULL && len > 0))
        return cjx_errf(eb, CJX_EINVAL, "cjx_json_to_message: bad argument");
    if (len > INT_MAX - 1)
        return cjx_errf(eb, CJX_EPARSE, "JSON document too large (%zu bytes)",
                        len);
    /* json-c stops at a NUL byte as if the text ended there. */
    if (len > 0 && (nul = memchr(json, '\0', len)) != NULL)
        return cjx_errf(eb, CJX_EPARSE,
                        "JSON syntax error at byte offset %zu: NUL byte",
                        (size_t)(nul - json));
    if ((root = tokenize(json, len, eb, &rc)) == NULL)
        return rc != 0 ? rc
                       : cjx_errf(eb, CJX_EPARSE,
                                  "expected a JSON object for %s, got null",
                                  desc->name);
    if (!json_object_is_type(root, json_type_object)) {
        rc = cjx_errf(eb, CJX_EPARSE, "expected a JSON object for %s, got %s",
                      desc->name, json_kind(root));
        json_object_put(root);
        return rc;
    }
    if ((rc = cjx_json_check_strict(json, len, eb)) < 0) {
        json_object_put(root);
        return rc;
    }

    if ((msg = pb_alloc(&c, desc->sizeof_message)) == NULL) {
        json_object_put(root);
        return nomem(&c);
    }
    protobuf_c_message_init(desc, msg);
    rc = parse_message(&c, desc, root, msg);
    json_object_put(root);
    if (rc < 0) {
        /* Every step above keeps msg in a state protobuf-c can free. */
        protobuf_c_message_free_unpacked(msg, c.allocator);
        return rc;
    }
    *out = msg;
    return 0;
}
