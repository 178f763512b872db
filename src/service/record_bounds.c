/* The size bounds of records and case messages, walked through protobuf-c
 * descriptors so that a field added to the schema is bounded too. */
#include "record_bounds.h"

#include <stdio.h>
#include <string.h>

#include "cjx/v1/conviction.pb-c.h"
#include "cjx/v1/determination.pb-c.h"
#include "cjx/v1/person.pb-c.h"
#include "cjx/v1/types.pb-c.h"

/* A walk deeper than this is not a message of our schema (which has no
 * recursive types); refused rather than followed. */
#define MAX_DEPTH 16

/* The fields whose bound differs from the defaults. Texts are generous for
 * real data: a statute's description or comment is a line or two of text,
 * a name a few dozen characters; counts are a few times what a real count
 * carries (a sentence has a handful of parts, a count one or two relief
 * orders, a person's statewide history some dozens of events). Together
 * they keep the largest record under 32 KiB packed, half the smallest
 * message size limit a daemon accepts (docs/operations.md). Every field of
 * every message a peer sends is looked up here, so the message is matched
 * by its descriptor's address and only its own fields by name. */
static const struct field_bound {
    const ProtobufCMessageDescriptor *message;
    const char *field;
    size_t text;    /* bytes of each string; 0 = the default */
    size_t entries; /* entries of a repeated field; 0 = the default */
} bounds[] = {
    {&cjx__v1__person__descriptor, "last_name", 100, 0},
    {&cjx__v1__person__descriptor, "first_name", 100, 0},
    {&cjx__v1__person__descriptor, "middle_name", 100, 0},
    {&cjx__v1__person__descriptor, "fbi_number", 32, 0},
    {&cjx__v1__person__descriptor, "doj_subject_id", 32, 0},
    {&cjx__v1__statute__descriptor, "code_raw", 128, 0},
    {&cjx__v1__statute__descriptor, "code", 16, 0},
    {&cjx__v1__statute__descriptor, "section", 32, 0},
    {&cjx__v1__statute__descriptor, "subsection", 32, 0},
    {&cjx__v1__statute__descriptor, "normalized", 64, 0},
    {&cjx__v1__statute__descriptor, "description", 512, 0},
    {&cjx__v1__statute__descriptor, "comment_text", 512, 0},
    {&cjx__v1__conviction_record__descriptor, "county", 64, 0},
    {&cjx__v1__conviction_record__descriptor, "court_ori", 16, 0},
    {&cjx__v1__conviction_record__descriptor, "court_case_number", 64, 0},
    {&cjx__v1__conviction_record__descriptor, "prosecuting_agency_ori", 16, 0},
    {&cjx__v1__conviction_record__descriptor, "sentence", 0, 32},
    {&cjx__v1__conviction_record__descriptor, "prior_relief", 0, 8},
    {&cjx__v1__conviction_record__descriptor, "same_case_statutes", 64, 32},
    {&cjx__v1__conviction_record__descriptor, "relief_history", 0, 8},
    {&cjx__v1__relief_entry__descriptor, "order_id", 128, 0},
    {&cjx__v1__relief_entry__descriptor, "bulk_order_id", 128, 0},
    {&cjx__v1__relief_entry__descriptor, "court_ori", 16, 0},
    {&cjx__v1__relief_entry__descriptor, "judge", 100, 0},
    {&cjx__v1__relief_entry__descriptor, "recorded_by_ori", 16, 0},
    {&cjx__v1__history_event__descriptor, "court_case_number", 64, 0},
    {&cjx__v1__history_event__descriptor, "county", 64, 0},
    {&cjx__v1__person_history__descriptor, "events", 0, 1000},
    {&cjx__v1__determination__descriptor, "reason_codes", 64, 32},
    {&cjx__v1__determination__descriptor, "citations", 128, 32},
    {&cjx__v1__determination__descriptor, "missing_facts", 64, 32},
    {&cjx__v1__determination__descriptor, "flags", 64, 32},
    {&cjx__v1__request_meta__descriptor, "request_id", 128, 0},
};

static const struct field_bound *
bound_of(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
        if (bounds[i].message == d && strcmp(bounds[i].field, f->name) == 0)
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

/* The walk from the checked message down to the value being checked: the
 * field of each level and its entry index (-1 for a singular field). The
 * path is spelled out only for a refusal, so that a message within its
 * bounds costs no string work. */
struct bounds_walk {
    const char *root; /* names the checked message; "" for none */
    const ProtobufCFieldDescriptor *field[MAX_DEPTH + 2];
    long index[MAX_DEPTH + 2];
    int depth;
    struct cjx_errbuf *eb;
};

/* Writes the walk's path into out: "history.events[4].statute". */
static void
walk_path(const struct bounds_walk *w, char *out, size_t len)
{
    int used = snprintf(out, len, "%s", w->root);
    for (int k = 0; k < w->depth && used >= 0 && (size_t)used < len; k++) {
        const char *dot = used > 0 ? "." : "";
        int n = w->index[k] >= 0
                    ? snprintf(out + used, len - (size_t)used, "%s%s[%ld]", dot,
                               w->field[k]->name, w->index[k])
                    : snprintf(out + used, len - (size_t)used, "%s%s", dot,
                               w->field[k]->name);
        used = n < 0 ? n : used + n;
    }
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

static int check_message(struct bounds_walk *w, const ProtobufCMessage *msg);

/* Checks the value of the walk's innermost field (an entry of a repeated
 * field, or the value of a singular one) of a message of type d, stored at
 * p. */
static int
check_value(struct bounds_walk *w, const ProtobufCMessageDescriptor *d,
            const void *p)
{
    const ProtobufCFieldDescriptor *f = w->field[w->depth - 1];
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
        return sub != NULL ? check_message(w, sub) : 0;
    }
    default:
        return 0;
    }
    size_t max = record_bounds_text_max(d, f);
    if (len <= max)
        return 0;
    char at[256];
    walk_path(w, at, sizeof(at));
    return cjx_errf(w->eb, CJX_EINVAL, "%s: longer than %zu bytes (%zu)", at,
                    max, len);
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

/* Checks the value of field f at p, entry i of it (-1: a singular field),
 * one level down the walk. */
static int
check_field_value(struct bounds_walk *w, const ProtobufCMessageDescriptor *d,
                  const ProtobufCFieldDescriptor *f, const void *p, long i)
{
    w->field[w->depth] = f;
    w->index[w->depth] = i;
    w->depth++;
    int err = check_value(w, d, p);
    w->depth--;
    return err;
}

/* Checks msg, the value of the walk's innermost field (or the checked
 * message itself at depth 0). */
static int
check_message(struct bounds_walk *w, const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    char at[256];
    if (w->depth > MAX_DEPTH) {
        walk_path(w, at, sizeof(at));
        return cjx_errf(w->eb, CJX_EINVAL, "%s: nested too deeply", at);
    }
    for (unsigned k = 0; k < d->n_fields; k++) {
        const ProtobufCFieldDescriptor *f = &d->fields[k];
        const char *base = (const char *)msg + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n =
                *(const size_t *)((const char *)msg + f->quantifier_offset);
            size_t max = record_bounds_entries_max(d, f);
            if (n > max) {
                w->field[w->depth] = f;
                w->index[w->depth] = -1;
                w->depth++;
                walk_path(w, at, sizeof(at));
                w->depth--;
                return cjx_errf(w->eb, CJX_EINVAL,
                                "%s: more than %zu entries (%zu)", at, max, n);
            }
            size_t size = value_size(f);
            if (size == 0)
                continue;
            const char *v = *(const char *const *)base;
            for (size_t i = 0; i < n; i++) {
                int err = check_field_value(w, d, f, v + i * size, (long)i);
                if (err != 0)
                    return err;
            }
        } else if (value_size(f) != 0 && singular_present(msg, f)) {
            int err = check_field_value(w, d, f, base, -1);
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
    struct bounds_walk w = {.root = path, .depth = 0, .eb = eb};
    return check_message(&w, msg);
}
