/* Reading protobuf-c fields as values: CEL defaults for unset fields, presence for has(), dates. */
#include <string.h>

#include "rules_internal.h"

#define AT(m, off, type) (*(const type *)((const char *)(m) + (off)))

/* One scalar of type fd->type stored at p. */
static struct val
read_scalar(const struct node *n, const ProtobufCFieldDescriptor *fd,
            const struct date_layout *dl, const void *p)
{
    struct val v = {.k = V_INT};
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        v.u.i = *(const int32_t *)p;
        return v;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        v.u.i = *(const uint32_t *)p;
        return v;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        v.u.i = *(const int64_t *)p;
        return v;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t u = *(const uint64_t *)p;
        if (u > INT64_MAX)
            return rules_err(n, E_UNSIGNED_RANGE);
        v.u.i = (int64_t)u;
        return v;
    }
    case PROTOBUF_C_TYPE_FLOAT:
        v.k = V_DOUBLE;
        v.u.d = *(const float *)p;
        return v;
    case PROTOBUF_C_TYPE_DOUBLE:
        v.k = V_DOUBLE;
        v.u.d = *(const double *)p;
        return v;
    case PROTOBUF_C_TYPE_BOOL:
        v.k = V_BOOL;
        v.u.i = *(const protobuf_c_boolean *)p != 0;
        return v;
    case PROTOBUF_C_TYPE_ENUM:
        v.k = V_ENUM;
        v.u.i = *(const int *)p;
        return v;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        v.k = V_STRING;
        v.u.s = s != NULL ? s : "";
        v.n = (uint32_t)strlen(v.u.s);
        return v;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (dl != NULL)
            return rules_read_date(n, dl, m);
        v.k = V_MSG;
        v.u.m = m;
        return v;
    }
    default:
        return rules_err(n, E_FIELD_TYPE);
    }
}

enum list_kind
rules_list_kind(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return L_I32;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return L_U32;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return L_I64;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return L_U64;
    case PROTOBUF_C_TYPE_FLOAT:
        return L_F32;
    case PROTOBUF_C_TYPE_DOUBLE:
        return L_F64;
    case PROTOBUF_C_TYPE_BOOL:
        return L_BOOL;
    case PROTOBUF_C_TYPE_ENUM:
        return L_ENUM;
    case PROTOBUF_C_TYPE_STRING:
        return L_STR;
    default:
        return L_MSG;
    }
}

/* A repeated field as a list. Dates are read into an array now (their
 * layout does not fit in a value); every other type is read in place. */
static struct val
read_repeated(struct eval_ctx *ex, const struct node *n,
              const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *fd = n->fd;
    struct val v = {.k = V_LIST, .lk = (uint8_t)rules_list_kind(fd)};
    if (m == NULL)
        return v;
    size_t len = AT(m, fd->quantifier_offset, size_t);
    const ProtobufCMessage *const *items =
        AT(m, fd->offset, ProtobufCMessage *const *);
    v.n = (uint32_t)len;
    v.u.base = items;
    if (n->date == NULL || len == 0)
        return v;
    struct val *out = cjx_arena_alloc(ex->arena, len * sizeof(*out));
    if (out == NULL)
        return rules_err(n, E_NOMEM);
    /* Element errors (an unset date in a list) carry no node: the macro
     * or index that reaches the element names it. */
    for (size_t i = 0; i < len; i++)
        out[i] = rules_read_date(NULL, n->date, items[i]);
    v.lk = L_ARRAY;
    v.u.items = out;
    return v;
}

static const int64_t zero_scalar[2];

/* CEL field selection: an unset field (including any field of an unset
 * message, and an inactive oneof member) reads as its default value. */
struct val
rules_read_field(struct eval_ctx *ex, const struct node *n,
                 const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *fd = n->fd;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED)
        return read_repeated(ex, n, m);
    int unset = m == NULL;
    if (!unset && (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        unset = AT(m, fd->quantifier_offset, uint32_t) != fd->id;
    if (unset) {
        if (fd->default_value != NULL && fd->type != PROTOBUF_C_TYPE_MESSAGE) {
            if (fd->type == PROTOBUF_C_TYPE_STRING) {
                const char *s = fd->default_value;
                return read_scalar(n, fd, n->date, &s);
            }
            return read_scalar(n, fd, n->date, fd->default_value);
        }
        const void *null_ptr = NULL;
        if (fd->type == PROTOBUF_C_TYPE_STRING ||
            fd->type == PROTOBUF_C_TYPE_MESSAGE)
            return read_scalar(n, fd, n->date, &null_ptr);
        return read_scalar(n, fd, n->date, zero_scalar);
    }
    return read_scalar(n, fd, n->date, (const char *)m + fd->offset);
}

/* has(): CEL presence. proto2 optional scalars by their has_ flag; message
 * fields when set (a date also needs a non-zero year); proto3 scalars when
 * not at their default; repeated fields when not empty. */
int
rules_has_field(const struct node *n, const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *fd = n->fd;
    if (m == NULL)
        return 0;
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return AT(m, fd->quantifier_offset, uint32_t) == fd->id;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED)
        return AT(m, fd->quantifier_offset, size_t) > 0;
    const char *p = (const char *)m + fd->offset;
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub == NULL)
            return 0;
        return n->date == NULL || AT(sub, n->date->off_year, int32_t) != 0;
    }
    if (fd->label == PROTOBUF_C_LABEL_REQUIRED)
        return 1;
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (fd->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = *(char *const *)p;
            return s != NULL && s != fd->default_value;
        }
        return AT(m, fd->quantifier_offset, protobuf_c_boolean) != 0;
    }
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s != NULL && s[0] != '\0';
    }
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
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p != 0;
    default: /* 32-bit integers and enums */
        return *(const int32_t *)p != 0;
    }
}

/* The fields whose reading needs nothing but the type: singular, not in a
 * oneof, and read as zero, "" or unset when absent. (proto3 strings name
 * "" as their default; a message's default is never read.) */
enum read_kind
rules_read_kind(const struct node *n)
{
    const ProtobufCFieldDescriptor *fd = n->fd;
    if (fd == NULL || (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return RK_GENERIC;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED)
        return n->date == NULL ? RK_LIST : RK_GENERIC;
    if (fd->default_value != NULL && fd->type != PROTOBUF_C_TYPE_MESSAGE &&
        !(fd->type == PROTOBUF_C_TYPE_STRING &&
          *(const char *)fd->default_value == '\0'))
        return RK_GENERIC;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return RK_I32;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return RK_U32;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return RK_I64;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return RK_U64;
    case PROTOBUF_C_TYPE_FLOAT:
        return RK_F32;
    case PROTOBUF_C_TYPE_DOUBLE:
        return RK_F64;
    case PROTOBUF_C_TYPE_BOOL:
        return RK_BOOL;
    case PROTOBUF_C_TYPE_ENUM:
        return RK_ENUM;
    case PROTOBUF_C_TYPE_STRING:
        return RK_STR;
    case PROTOBUF_C_TYPE_MESSAGE:
        return n->date != NULL ? RK_DATE : RK_MSG;
    default:
        return RK_GENERIC;
    }
}
