/* Static types of the expression language and their mapping from protobuf-c field descriptors. */
#include <stdio.h>
#include <string.h>

#include "rules_internal.h"

const struct rtype rtype_any = {.kind = T_ANY};
const struct rtype rtype_null = {.kind = T_NULL};
const struct rtype rtype_bool = {.kind = T_BOOL};
const struct rtype rtype_int = {.kind = T_INT};
const struct rtype rtype_double = {.kind = T_DOUBLE};
const struct rtype rtype_string = {.kind = T_STRING};
const struct rtype rtype_date = {.kind = T_DATE};

const struct rtype *
rules_type_list(struct cjx_arena *a, const struct rtype *elem)
{
    struct rtype *t = cjx_arena_alloc(a, sizeof(*t));
    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->kind = T_LIST;
    t->elem = elem;
    return t;
}

/* Messages with this shape are values of the date type, as CEL treats
 * google.protobuf.Timestamp as a timestamp. */
static const char *const date_messages[] = {"cjx.v1.Date", "google.type.Date"};

const struct date_layout *
rules_date_layout(const ProtobufCMessageDescriptor *d, struct cjx_arena *a)
{
    int is_date = 0;
    for (size_t i = 0; i < sizeof(date_messages) / sizeof(*date_messages); i++)
        if (strcmp(d->name, date_messages[i]) == 0)
            is_date = 1;
    if (!is_date)
        return NULL;
    const ProtobufCFieldDescriptor *y =
        protobuf_c_message_descriptor_get_field_by_name(d, "year");
    const ProtobufCFieldDescriptor *m =
        protobuf_c_message_descriptor_get_field_by_name(d, "month");
    const ProtobufCFieldDescriptor *dd =
        protobuf_c_message_descriptor_get_field_by_name(d, "day");
    if (y == NULL || m == NULL || dd == NULL ||
        y->type != PROTOBUF_C_TYPE_INT32 || m->type != PROTOBUF_C_TYPE_INT32 ||
        dd->type != PROTOBUF_C_TYPE_INT32)
        return NULL;
    struct date_layout *l = cjx_arena_alloc(a, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->off_year = y->offset;
    l->off_month = m->offset;
    l->off_day = dd->offset;
    return l;
}

static const struct rtype *
scalar_type(struct cjx_arena *a, const ProtobufCFieldDescriptor *fd,
            const struct date_layout **date)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return &rtype_int;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return &rtype_double;
    case PROTOBUF_C_TYPE_BOOL:
        return &rtype_bool;
    case PROTOBUF_C_TYPE_STRING:
        return &rtype_string;
    case PROTOBUF_C_TYPE_ENUM: {
        struct rtype *t = cjx_arena_alloc(a, sizeof(*t));
        if (t == NULL)
            return NULL;
        memset(t, 0, sizeof(*t));
        t->kind = T_ENUM;
        t->en = fd->descriptor;
        return t;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *md = fd->descriptor;
        const struct date_layout *dl = rules_date_layout(md, a);
        if (dl != NULL) {
            *date = dl;
            return &rtype_date;
        }
        struct rtype *t = cjx_arena_alloc(a, sizeof(*t));
        if (t == NULL)
            return NULL;
        memset(t, 0, sizeof(*t));
        t->kind = T_MSG;
        t->msg = md;
        return t;
    }
    default:
        return NULL; /* bytes: not supported */
    }
}

const struct rtype *
rules_field_type(struct cjx_arena *a, const ProtobufCFieldDescriptor *fd,
                 const struct date_layout **date)
{
    *date = NULL;
    const struct rtype *t = scalar_type(a, fd, date);
    if (t == NULL || fd->label != PROTOBUF_C_LABEL_REPEATED)
        return t;
    return rules_type_list(a, t);
}

int
rules_type_equal(const struct rtype *x, const struct rtype *y)
{
    if (x == y)
        return 1;
    if (x->kind == T_ANY || y->kind == T_ANY)
        return 1;
    if (x->kind != y->kind)
        return 0;
    switch (x->kind) {
    case T_LIST:
        return rules_type_equal(x->elem, y->elem);
    case T_MSG:
        return x->msg == y->msg;
    case T_ENUM:
        return x->en == y->en;
    default:
        return 1;
    }
}

const char *
rules_type_name(const struct rtype *t, char *buf, size_t len)
{
    switch (t->kind) {
    case T_ANY:
        snprintf(buf, len, "dyn");
        break;
    case T_NULL:
        snprintf(buf, len, "null_type");
        break;
    case T_BOOL:
        snprintf(buf, len, "bool");
        break;
    case T_INT:
        snprintf(buf, len, "int");
        break;
    case T_DOUBLE:
        snprintf(buf, len, "double");
        break;
    case T_STRING:
        snprintf(buf, len, "string");
        break;
    case T_DATE:
        snprintf(buf, len, "date");
        break;
    case T_ENUM:
        snprintf(buf, len, "%s", t->en->name);
        break;
    case T_MSG:
        snprintf(buf, len, "%s", t->msg->name);
        break;
    case T_LIST: {
        char inner[96];
        snprintf(buf, len, "list(%s)",
                 rules_type_name(t->elem, inner, sizeof(inner)));
        break;
    }
    }
    return buf;
}

static int
has_enum(const struct cjx_rules_set *set, const ProtobufCEnumDescriptor *en)
{
    for (size_t i = 0; i < set->n_enums; i++)
        if (set->enums[i].en == en)
            return 1;
    return 0;
}

static int
add_enum(struct cjx_rules_set *set, const ProtobufCEnumDescriptor *en)
{
    if (has_enum(set, en))
        return 0;
    struct enum_const *grown = cjx_arena_alloc(
        &set->arena, (set->n_enums + en->n_values) * sizeof(*grown));
    if (grown == NULL)
        return CJX_ENOMEM;
    if (set->n_enums > 0)
        memcpy(grown, set->enums, set->n_enums * sizeof(*grown));
    for (unsigned i = 0; i < en->n_values; i++) {
        grown[set->n_enums + i].name = en->values[i].name;
        grown[set->n_enums + i].en = en;
        grown[set->n_enums + i].value = en->values[i].value;
    }
    set->enums = grown;
    set->n_enums += en->n_values;
    return 0;
}

/* Collects every enumeration reachable from root, so that enum constants
 * can be written by their value names. */
static int
walk(struct cjx_rules_set *set, const ProtobufCMessageDescriptor *d,
     const ProtobufCMessageDescriptor **seen, size_t *n_seen, size_t cap)
{
    for (size_t i = 0; i < *n_seen; i++)
        if (seen[i] == d)
            return 0;
    if (*n_seen == cap)
        return 0;
    seen[(*n_seen)++] = d;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        int rc = 0;
        if (fd->type == PROTOBUF_C_TYPE_ENUM)
            rc = add_enum(set, fd->descriptor);
        else if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
            rc = walk(set, fd->descriptor, seen, n_seen, cap);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
rules_collect_enums(struct cjx_rules_set *set,
                    const ProtobufCMessageDescriptor *root)
{
    const ProtobufCMessageDescriptor *seen[256];
    size_t n = 0;
    return walk(set, root, seen, &n, 256);
}
