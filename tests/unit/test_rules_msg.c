/* Test helper: builds protobuf-c messages from YAML through descriptors, and the shared type list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/v1/determination.pb-c.h"
#include "test_rules.h"

static const ProtobufCMessageDescriptor *const types[] = {
    &cjx__v1__relief_query__descriptor,
    &cjx__v1__determination__descriptor,
    &cjx__v1__conviction_record__descriptor,
};

const struct cjx_rules_types test_rules_types = {types, 3};

const char *
test_rules_data_path(const char *rel)
{
    static char buf[1024];
    const char *base = getenv("CJX_TEST_DATA");
    snprintf(buf, sizeof(buf), "%s/%s", base != NULL ? base : "tests/data",
             rel);
    return buf;
}

const char *
test_rules_prop64_path(void)
{
    static char buf[1024];
    const char *base = getenv("CJX_TEST_DATA");
    snprintf(buf, sizeof(buf), "%s/../../rules/prop64.yaml",
             base != NULL ? base : "tests/data");
    return buf;
}

static const ProtobufCEnumValue *
enum_by_name(const ProtobufCEnumDescriptor *en, const char *name)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value_by_name(en, name);
    if (v != NULL)
        return v;
    size_t n = strlen(name);
    for (unsigned i = 0; i < en->n_values; i++) {
        size_t m = strlen(en->values[i].name);
        if (m > n && strcmp(en->values[i].name + m - n, name) == 0 &&
            en->values[i].name[m - n - 1] == '_')
            return &en->values[i];
    }
    return NULL;
}

static int
fail(char *err, size_t len, const char *fmt, const char *a)
{
    snprintf(err, len, fmt, a);
    return -1;
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
    default:
        return 4;
    }
}

/* Stores one scalar (or nested message) value of field fd at p. */
static int
store(yaml_document_t *doc, yaml_node_t *v, const ProtobufCFieldDescriptor *fd,
      struct cjx_arena *arena, void *p, char *err, size_t len)
{
    const char *s =
        v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
    if (fd->type != PROTOBUF_C_TYPE_MESSAGE && s == NULL)
        return fail(err, len, "field %s needs a scalar", fd->name);
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *(int32_t *)p = (int32_t)strtoll(s, NULL, 10);
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *(int64_t *)p = strtoll(s, NULL, 10);
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *)p = strtof(s, NULL);
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *)p = strtod(s, NULL);
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)p = strcmp(s, "true") == 0;
        return 0;
    case PROTOBUF_C_TYPE_STRING:
        *(char **)p = cjx_arena_strndup(arena, s, strlen(s));
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev = enum_by_name(fd->descriptor, s);
        if (ev == NULL)
            return fail(err, len, "unknown enum value %s", s);
        *(int *)p = ev->value;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *md = fd->descriptor;
        ProtobufCMessage *m = NULL;
        if (s != NULL && s[0] != '\0' && strcmp(md->name, "cjx.v1.Date") == 0) {
            Cjx__V1__Date *d = cjx_arena_alloc(arena, sizeof(*d));
            cjx__v1__date__init(d);
            if (sscanf(s, "%d-%d-%d", &d->year, &d->month, &d->day) != 3)
                return fail(err, len, "bad date %s", s);
            *(ProtobufCMessage **)p = &d->base;
            return 0;
        }
        if (s != NULL && s[0] == '\0') { /* "" = present, empty message */
            m = cjx_arena_alloc(arena, md->sizeof_message);
            protobuf_c_message_init(md, m);
            *(ProtobufCMessage **)p = m;
            return 0;
        }
        m = *(ProtobufCMessage **)p;
        if (test_rules_msg_from_node(doc, v, md, arena, &m, err, len) != 0)
            return -1;
        *(ProtobufCMessage **)p = m;
        return 0;
    }
    default:
        return fail(err, len, "unsupported field %s", fd->name);
    }
}

int
test_rules_msg_from_node(yaml_document_t *doc, yaml_node_t *node,
                         const ProtobufCMessageDescriptor *desc,
                         struct cjx_arena *arena, ProtobufCMessage **inout,
                         char *err, size_t len)
{
    if (node->type != YAML_MAPPING_NODE)
        return fail(err, len, "%s needs a mapping", desc->name);
    ProtobufCMessage *m = *inout;
    if (m == NULL) {
        m = cjx_arena_alloc(arena, desc->sizeof_message);
        protobuf_c_message_init(desc, m);
    }
    for (yaml_node_pair_t *pr = node->data.mapping.pairs.start;
         pr < node->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(doc, pr->value);
        const char *key = (const char *)k->data.scalar.value;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(desc, key);
        if (fd == NULL)
            return fail(err, len, "no field %s", key);
        char *base = (char *)m;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            if (v->type != YAML_SEQUENCE_NODE)
                return fail(err, len, "field %s needs a sequence", key);
            size_t n = (size_t)(v->data.sequence.items.top -
                                v->data.sequence.items.start);
            size_t es = elem_size(fd);
            char *arr = cjx_arena_alloc(arena, (n + 1) * es);
            memset(arr, 0, (n + 1) * es);
            for (size_t i = 0; i < n; i++) {
                yaml_node_t *e = yaml_document_get_node(
                    doc, v->data.sequence.items.start[i]);
                if (store(doc, e, fd, arena, arr + i * es, err, len) != 0)
                    return -1;
            }
            *(size_t *)(base + fd->quantifier_offset) = n;
            *(void **)(base + fd->offset) = arr;
            continue;
        }
        if (store(doc, v, fd, arena, base + fd->offset, err, len) != 0)
            return -1;
        if (fd->label == PROTOBUF_C_LABEL_OPTIONAL &&
            fd->type != PROTOBUF_C_TYPE_MESSAGE &&
            fd->type != PROTOBUF_C_TYPE_STRING)
            *(protobuf_c_boolean *)(base + fd->quantifier_offset) = 1;
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)(base + fd->quantifier_offset) = fd->id;
    }
    *inout = m;
    return 0;
}

ProtobufCMessage *
test_rules_msg(const char *text, const ProtobufCMessageDescriptor *desc,
               struct cjx_arena *arena)
{
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    ProtobufCMessage *m = NULL;
    char err[256];
    if (!yaml_parser_load(&p, &doc)) {
        fprintf(stderr, "bad YAML in test: %s\n", text);
        yaml_parser_delete(&p);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        m = arena != NULL ? cjx_arena_alloc(arena, desc->sizeof_message) : NULL;
        protobuf_c_message_init(desc, m);
    } else if (test_rules_msg_from_node(&doc, root, desc, arena, &m, err,
                                        sizeof(err)) != 0) {
        fprintf(stderr, "bad message in test: %s: %s\n", err, text);
        m = NULL;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return m;
}
