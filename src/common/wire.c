/* The wire checker: strings and enums of a packed message against its
 * descriptors, before anything trusts what protobuf-c unpacked. */
#include "cjx/wire.h"

#include <stdio.h>
#include <string.h>

#include "cjx/utf8.h"

/* No cjx message nests this deep; a message that does was built to exhaust
 * the stack and is not a message of ours. */
#define WIRE_MAX_DEPTH 64

enum wire_type {
    WIRE_VARINT = 0,
    WIRE_FIXED64 = 1,
    WIRE_LEN = 2,
    WIRE_FIXED32 = 5,
};

/* One step of the path from the top message to the field being checked:
 * the field, and where its value starts in its message's bytes, so that the
 * index of a repeated element is counted only when a fault is reported. */
struct wire_step {
    const ProtobufCFieldDescriptor *field;
    const uint8_t *msg;  /* the bytes of the message holding the field */
    size_t value_at;     /* offset of the value's tag in msg */
    size_t packed_index; /* element within a packed run */
};

struct wire_walk {
    struct wire_step steps[WIRE_MAX_DEPTH];
    int depth;
    struct cjx_errbuf *eb;
};

static int
read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Reads one field's tag and finds its value: a length-delimited value's
 * bytes are [*val, *val + *val_len), any other's are skipped. Returns 0 or
 * -1 for bytes that are not a field. */
static int
read_field(const uint8_t **p, const uint8_t *end, uint32_t *number,
           int *wire_type, const uint8_t **val, size_t *val_len)
{
    uint64_t tag, n;
    if (read_varint(p, end, &tag) != 0 || (tag >> 3) == 0 ||
        (tag >> 3) > 536870911)
        return -1;
    *number = (uint32_t)(tag >> 3);
    *wire_type = (int)(tag & 7);
    *val = *p;
    switch (*wire_type) {
    case WIRE_VARINT:
        return read_varint(p, end, &n);
    case WIRE_FIXED64:
        n = 8;
        break;
    case WIRE_FIXED32:
        n = 4;
        break;
    case WIRE_LEN:
        if (read_varint(p, end, &n) != 0)
            return -1;
        *val = *p;
        break;
    default:
        return -1; /* groups are not proto3 */
    }
    if (n > (uint64_t)(end - *p))
        return -1;
    *val_len = (size_t)n;
    *p += n;
    return 0;
}

/* How many elements of field number came before offset at in the message
 * msg[0..at): the index of a repeated element, packed runs counted by
 * element. */
static size_t
count_before(const uint8_t *msg, size_t at, const ProtobufCFieldDescriptor *f)
{
    const uint8_t *p = msg, *end = msg + at, *val;
    size_t count = 0, len;
    uint32_t number;
    int wt;
    while (p < end && read_field(&p, end, &number, &wt, &val, &len) == 0) {
        if (number != f->id)
            continue;
        if (wt == WIRE_LEN && f->type == PROTOBUF_C_TYPE_ENUM) {
            const uint8_t *q = val;
            uint64_t v;
            while (q < val + len && read_varint(&q, val + len, &v) == 0)
                count++;
        } else {
            count++;
        }
    }
    return count;
}

/* Writes the path of the walk's current field into buf:
 * "messages[3].order.judge". */
static void
format_path(const struct wire_walk *w, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < w->depth && used < size; i++) {
        const struct wire_step *s = &w->steps[i];
        int n = snprintf(buf + used, size - used, "%s%s", i ? "." : "",
                         s->field->name);
        if (n > 0)
            used += (size_t)n;
        if (s->field->label == PROTOBUF_C_LABEL_REPEATED && used < size) {
            size_t index =
                count_before(s->msg, s->value_at, s->field) + s->packed_index;
            n = snprintf(buf + used, size - used, "[%zu]", index);
            if (n > 0)
                used += (size_t)n;
        }
    }
}

/* Reports the walk's current field as the fault: its path, then detail. */
static int
fault(struct wire_walk *w, const char *detail)
{
    char path[256];
    format_path(w, path, sizeof(path));
    return cjx_errf(w->eb, CJX_EINVAL, "%s: %s", path, detail);
}

static int
check_string(struct wire_walk *w, const uint8_t *val, size_t len)
{
    const void *nul = memchr(val, '\0', len);
    size_t bad = cjx_utf8_invalid_at((const char *)val, len);
    char detail[64];
    if (nul != NULL && (size_t)((const uint8_t *)nul - val) < bad) {
        snprintf(detail, sizeof(detail), "holds a NUL byte (byte %zu)",
                 (size_t)((const uint8_t *)nul - val));
        return fault(w, detail);
    }
    if (bad < len) {
        snprintf(detail, sizeof(detail), "is not valid UTF-8 (byte %zu)", bad);
        return fault(w, detail);
    }
    return 0;
}

static int
check_enum(struct wire_walk *w, uint64_t v)
{
    /* protobuf-c keeps the low 32 bits, as every proto3 runtime does. */
    int32_t value = (int32_t)(uint32_t)v;
    const ProtobufCEnumDescriptor *ed =
        w->steps[w->depth - 1].field->descriptor;
    if (protobuf_c_enum_descriptor_get_value(ed, value) != NULL)
        return 0;
    char detail[200];
    snprintf(detail, sizeof(detail), "%d is not a value of %s", (int)value,
             ed->name);
    return fault(w, detail);
}

static int check_message(struct wire_walk *w,
                         const ProtobufCMessageDescriptor *desc,
                         const uint8_t *data, size_t len);

/* Checks one value of field f: a string, an enum (one, or a packed run),
 * or a sub-message. Other kinds hold no text and no enum. */
static int
check_value(struct wire_walk *w, const ProtobufCFieldDescriptor *f, int wt,
            const uint8_t *val, size_t len)
{
    uint64_t v;
    const uint8_t *p = val;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return wt == WIRE_LEN ? check_string(w, val, len) : 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return wt == WIRE_LEN ? check_message(w, f->descriptor, val, len) : 0;
    case PROTOBUF_C_TYPE_ENUM:
        if (wt == WIRE_VARINT) {
            /* read_field has read this varint already: it ends in time. */
            if (read_varint(&p, val + 10, &v) != 0)
                return CJX_EPARSE;
            return check_enum(w, v);
        }
        if (wt != WIRE_LEN)
            return 0;
        for (; p < val + len; w->steps[w->depth - 1].packed_index++) {
            if (read_varint(&p, val + len, &v) != 0)
                return cjx_errf(w->eb, CJX_EPARSE, "a packed run is cut short");
            int err = check_enum(w, v);
            if (err != 0)
                return err;
        }
        return 0;
    default:
        return 0;
    }
}

static int
check_message(struct wire_walk *w, const ProtobufCMessageDescriptor *desc,
              const uint8_t *data, size_t len)
{
    if (w->depth == WIRE_MAX_DEPTH)
        return cjx_errf(w->eb, CJX_EPARSE, "messages nested too deeply");
    const uint8_t *p = data, *end = data + len, *val;
    while (p < end) {
        size_t at = (size_t)(p - data), val_len;
        uint32_t number;
        int wt;
        if (read_field(&p, end, &number, &wt, &val, &val_len) != 0)
            return cjx_errf(w->eb, CJX_EPARSE, "not a protobuf message");
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(desc, number);
        if (f == NULL)
            continue;
        w->steps[w->depth++] = (struct wire_step){
            .field = f, .msg = data, .value_at = at, .packed_index = 0};
        int err = check_value(w, f, wt, val, val_len);
        w->depth--;
        if (err != 0)
            return err;
    }
    return 0;
}

int
cjx_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
               size_t len, struct cjx_errbuf *eb)
{
    struct wire_walk w = {.depth = 0, .eb = eb};
    return check_message(&w, desc, data, len);
}

int
cjx_wire_field(const uint8_t *data, size_t len, uint32_t number,
               const uint8_t **val, size_t *val_len)
{
    const uint8_t *p = data, *end = data + len, *v;
    size_t n;
    uint32_t at;
    int wt, found = -1;
    while (p < end) {
        if (read_field(&p, end, &at, &wt, &v, &n) != 0)
            return -1;
        if (at == number && wt == WIRE_LEN) {
            *val = v;
            *val_len = n;
            found = 0;
        }
    }
    return found;
}

int
cjx_wire_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                size_t len, struct cjx_arena *arena, ProtobufCMessage **out,
                struct cjx_errbuf *eb)
{
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(arena);
    arena->failed = 0;
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, &alloc, len, data);
    if (msg == NULL) {
        if (arena->failed)
            return cjx_errf(eb, CJX_ENOMEM,
                            "request needs too much memory to decode");
        return cjx_errf(eb, CJX_EPARSE, "request is not a valid %s message",
                        desc->name);
    }
    int err = cjx_wire_check(desc, data, len, eb);
    if (err == CJX_EPARSE)
        return cjx_errf(eb, CJX_EPARSE, "request is not a valid %s message",
                        desc->name);
    if (err != 0)
        return err;
    *out = msg;
    return 0;
}
