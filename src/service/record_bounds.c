/* The size bounds of records and case messages, walked through protobuf-c
 * descriptors so that a field added to the schema is bounded too. */
#include "record_bounds.h"

#include <stdio.h>
#include <string.h>

/* A walk deeper than this is not a message of our schema (which has no
 * recursive types); refused rather than followed. */
#define MAX_DEPTH 16

/* The fields whose bound differs from the defaults. Texts are generous for
 * real data: a statute's description or comment is a line or two of text,
 * a name a few dozen characters; counts are a few times what a real count
 * carries (a sentence has a handful of parts, a count one or two relief
 * orders, a person's statewide history some dozens of events). Together
 * they keep the largest record under 32 KiB packed, half the smallest
 * message size limit a daemon accepts (docs/operations.md). */
static const struct field_bound {
    const char *message; /* full name, e.g. "cjx.v1.Statute" */
    const char *field;
    size_t text;    /* bytes of each string; 0 = the default */
    size_t entries; /* entries of a repeated field; 0 = the default */
} bounds[] = {
    {"cjx.v1.Person", "last_name", 100, 0},
    {"cjx.v1.Person", "first_name", 100, 0},
    {"cjx.v1.Person", "middle_name", 100, 0},
    {"cjx.v1.Person", "fbi_number", 32, 0},
    {"cjx.v1.Person", "doj_subject_id", 32, 0},
    {"cjx.v1.Statute", "code_raw", 128, 0},
    {"cjx.v1.Statute", "code", 16, 0},
    {"cjx.v1.Statute", "section", 32, 0},
    {"cjx.v1.Statute", "subsection", 32, 0},
    {"cjx.v1.Statute", "normalized", 64, 0},
    {"cjx.v1.Statute", "description", 512, 0},
    {"cjx.v1.Statute", "comment_text", 512, 0},
    {"cjx.v1.ConvictionRecord", "county", 64, 0},
    {"cjx.v1.ConvictionRecord", "court_ori", 16, 0},
    {"cjx.v1.ConvictionRecord", "court_case_number", 64, 0},
    {"cjx.v1.ConvictionRecord", "prosecuting_agency_ori", 16, 0},
    {"cjx.v1.ConvictionRecord", "sentence", 0, 32},
    {"cjx.v1.ConvictionRecord", "prior_relief", 0, 8},
    {"cjx.v1.ConvictionRecord", "same_case_statutes", 64, 32},
    {"cjx.v1.ConvictionRecord", "relief_history", 0, 8},
    {"cjx.v1.ReliefEntry", "order_id", 128, 0},
    {"cjx.v1.ReliefEntry", "bulk_order_id", 128, 0},
    {"cjx.v1.ReliefEntry", "court_ori", 16, 0},
    {"cjx.v1.ReliefEntry", "judge", 100, 0},
    {"cjx.v1.ReliefEntry", "recorded_by_ori", 16, 0},
    {"cjx.v1.HistoryEvent", "court_case_number", 64, 0},
    {"cjx.v1.HistoryEvent", "county", 64, 0},
    {"cjx.v1.PersonHistory", "events", 0, 1000},
    {"cjx.v1.Determination", "reason_codes", 64, 32},
    {"cjx.v1.Determination", "citations", 128, 32},
    {"cjx.v1.Determination", "missing_facts", 64, 32},
    {"cjx.v1.Determination", "flags", 64, 32},
    {"cjx.v1.RequestMeta", "request_id", 128, 0},
};

static const struct field_bound *
bound_of(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
        if (strcmp(bounds[i].message, d->name) == 0 &&
            strcmp(bounds[i].field, f->name) == 0)
            return &bounds[i];
    return NULL;
}

size_t
record_bounds_text_max(const ProtobufCMessageDescriptor *d,
                       const ProtobufCFieldDescriptor *f)
{
    const struct field_bound *b = bound_of(d, f);
    return b != NULL && b->text != 0 ? b->text : RECORD_BOUNDS_TEXT_DEFAULT;
}

size_t
record_bounds_entries_max(const ProtobufCMessageDescriptor *d,
                          const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        return 0;
    const struct field_bound *b = bound_of(d, f);
    return b != NULL && b->entries != 0 ? b->entries
                                        : RECORD_BOUNDS_REPEATED_DEFAULT;
}

/* The path of field f inside path, with the entry index when i >= 0. */
static void
field_path(char *out, size_t len, const char *path,
           const ProtobufCFieldDescriptor *f, long i)
{
    const char *dot = path[0] != '\0' ? "." : "";
    if (i >= 0)
        snprintf(out, len, "%s%s%s[%ld]", path, dot, f->name, i);
    else
        snprintf(out, len, "%s%s%s", path, dot, f->name);
}

/* Whether a singular field is set: a oneof member only when it is the
 * chosen one (its storage is shared with the others). */
static int
singular_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return 1;
    const uint32_t *chosen =
        (const uint32_t *)((const char *)msg + f->quantifier_offset);
    return *chosen == f->id;
}

static int check_message(const ProtobufCMessage *msg, const char *path,
                         int depth, struct cjx_errbuf *eb);

/* Checks one value of field f (an entry of a repeated field, or the value
 * of a singular one) stored at p. */
static int
check_value(const ProtobufCMessageDescriptor *d,
            const ProtobufCFieldDescriptor *f, const void *p, const char *path,
            long i, int depth, struct cjx_errbuf *eb)
{
    size_t len;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        len = s != NULL ? strlen(s) : 0;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES:
        len = ((const ProtobufCBinaryData *)p)->len;
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub == NULL)
            return 0;
        char sub_path[256];
        field_path(sub_path, sizeof(sub_path), path, f, i);
        return check_message(sub, sub_path, depth + 1, eb);
    }
    default:
        return 0;
    }
    size_t max = record_bounds_text_max(d, f);
    if (len <= max)
        return 0;
    char at[256];
    field_path(at, sizeof(at), path, f, i);
    return cjx_errf(eb, CJX_EINVAL, "%s: longer than %zu bytes (%zu)", at, max,
                    len);
}

static size_t
value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return 0; /* numbers and enums carry no size to bound */
    }
}

static int
check_message(const ProtobufCMessage *msg, const char *path, int depth,
              struct cjx_errbuf *eb)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    if (depth > MAX_DEPTH)
        return cjx_errf(eb, CJX_EINVAL, "%s: nested too deeply", path);
    for (unsigned k = 0; k < d->n_fields; k++) {
        const ProtobufCFieldDescriptor *f = &d->fields[k];
        const char *base = (const char *)msg + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n =
                *(const size_t *)((const char *)msg + f->quantifier_offset);
            size_t max = record_bounds_entries_max(d, f);
            if (n > max) {
                char at[256];
                field_path(at, sizeof(at), path, f, -1);
                return cjx_errf(eb, CJX_EINVAL,
                                "%s: more than %zu entries (%zu)", at, max, n);
            }
            size_t size = value_size(f);
            if (size == 0)
                continue;
            const char *v = *(const char *const *)base;
            for (size_t i = 0; i < n; i++) {
                int err =
                    check_value(d, f, v + i * size, path, (long)i, depth, eb);
                if (err != 0)
                    return err;
            }
        } else if (value_size(f) != 0 && singular_present(msg, f)) {
            int err = check_value(d, f, base, path, -1, depth, eb);
            if (err != 0)
                return err;
        }
    }
    return 0;
}

int
record_bounds_check(const ProtobufCMessage *msg, const char *path,
                    struct cjx_errbuf *eb)
{
    if (msg == NULL)
        return 0;
    return check_message(msg, path, 0, eb);
}
