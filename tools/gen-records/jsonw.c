/* proto3 JSON mapping writer for protobuf-c messages (lowerCamelCase names, defaults omitted). */
#include "jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static void
put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* proto3 JSON names: snake_case -> lowerCamelCase. */
static void
put_name(FILE *f, const char *name)
{
    fputc('"', f);
    for (const char *p = name; *p; p++) {
        if (*p == '_' && p[1] != '\0') {
            p++;
            fputc(*p >= 'a' && *p <= 'z' ? *p - 32 : *p, f);
        } else {
            fputc(*p, f);
        }
    }
    fputs("\":", f);
}

static size_t
elem_size(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static void put_message(FILE *f, const ProtobufCMessage *m, int flags);

static void
put_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *p, int flags)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        fprintf(f, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        fprintf(f, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        fprintf(f, "\"%" PRId64 "\"", *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        fprintf(f, "\"%" PRIu64 "\"", *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double d = fd->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)p
                                                     : *(const double *)p;
        if (isnan(d))
            fputs("\"NaN\"", f);
        else if (isinf(d))
            fputs(d > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
        else
            fprintf(f, "%.17g", d);
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        fputs(*(const protobuf_c_boolean *)p ? "true" : "false", f);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
            fd->descriptor, *(const int *)p);
        if (ev != NULL)
            put_string(f, ev->name);
        else
            fprintf(f, "%d", *(const int *)p);
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        put_string(f, *(char *const *)p ? *(char *const *)p : "");
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        put_message(f, *(ProtobufCMessage *const *)p, flags);
        break;
    default:
        fputs("\"\"", f); /* bytes: not used by cjx.v1 */
        break;
    }
}

/* Whether a singular field holds a value proto3 JSON prints. */
static int
present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
    const char *p = (const char *)m + fd->offset;
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)((const char *)m + fd->quantifier_offset) ==
               fd->id;
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void *const *)p != NULL;
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL &&
        fd->type != PROTOBUF_C_TYPE_STRING)
        return *(const protobuf_c_boolean *)((const char *)m +
                                             fd->quantifier_offset);
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
        return *(char *const *)p != NULL && (*(char *const *)p)[0] != '\0';
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const int64_t *)p != 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p != 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p != 0;
    default:
        return *(const int32_t *)p != 0;
    }
}

static void
put_message(FILE *f, const ProtobufCMessage *m, int flags)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if ((flags & JSONW_DATES_AS_STRINGS) &&
        strcmp(d->name, "cjx.v1.Date") == 0) {
        const ProtobufCFieldDescriptor *y =
            protobuf_c_message_descriptor_get_field_by_name(d, "year");
        const ProtobufCFieldDescriptor *mo =
            protobuf_c_message_descriptor_get_field_by_name(d, "month");
        const ProtobufCFieldDescriptor *da =
            protobuf_c_message_descriptor_get_field_by_name(d, "day");
        fprintf(f, "\"%04d-%02d-%02d\"",
                *(const int32_t *)((const char *)m + y->offset),
                *(const int32_t *)((const char *)m + mo->offset),
                *(const int32_t *)((const char *)m + da->offset));
        return;
    }
    fputc('{', f);
    int first = 1;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n =
                *(const size_t *)((const char *)m + fd->quantifier_offset);
            if (n == 0)
                continue;
            const char *arr = *(char *const *)((const char *)m + fd->offset);
            if (!first)
                fputc(',', f);
            first = 0;
            put_name(f, fd->name);
            fputc('[', f);
            for (size_t k = 0; k < n; k++) {
                if (k)
                    fputc(',', f);
                put_value(f, fd, arr + k * elem_size(fd), flags);
            }
            fputc(']', f);
            continue;
        }
        if (!present(m, fd))
            continue;
        if (!first)
            fputc(',', f);
        first = 0;
        put_name(f, fd->name);
        put_value(f, fd, (const char *)m + fd->offset, flags);
    }
    fputc('}', f);
}

void
jsonw_message(FILE *f, const ProtobufCMessage *m, int flags)
{
    put_message(f, m, flags);
}
