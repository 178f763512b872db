/* Rule-set loader: reads the YAML rule file with libyaml and compiles every expression in it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "bytecode.h"
#include "cjx/file.h"
#include "rules_internal.h"

struct loader {
    struct cjx_rules_set *set;
    yaml_document_t *doc;
    const char *text;
    size_t text_len;
    struct srcmap file_sm; /* file name and text, for checker messages */
    const struct cjx_rules_types *types;
    struct cjx_errbuf *eb;
    size_t *line_starts; /* byte offset of each line */
    size_t n_lines;
    /* raw nodes kept between the two passes */
    yaml_node_t *lets, *facts, *validations, *decisions, *notes, *review,
        *procedure;
};

static int lerr(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
lerr(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rules_diag(ld->eb, CJX_EPARSE, &ld->file_sm,
                      (uint32_t)n->start_mark.line + 1,
                      (uint32_t)n->start_mark.column + 1, "%s", msg);
}

static yaml_node_t *
get(struct loader *ld, int idx)
{
    return yaml_document_get_node(ld->doc, idx);
}

static const char *
scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                       : NULL;
}

static int
want_scalar(struct loader *ld, const yaml_node_t *n, const char *what,
            const char **out)
{
    *out = "";
    if (n->type != YAML_SCALAR_NODE)
        return lerr(ld, n, "%s must be a scalar", what);
    *out = (const char *)n->data.scalar.value;
    return 0;
}

static int
copy_str(struct loader *ld, const yaml_node_t *n, const char *what,
         const char **out)
{
    const char *s;
    TRY(want_scalar(ld, n, what, &s));
    *out = cjx_arena_strndup(&ld->set->arena, s, n->data.scalar.length);
    return *out == NULL ? CJX_ENOMEM : 0;
}

static int
index_lines(struct loader *ld)
{
    size_t n = 1;
    for (size_t i = 0; i < ld->text_len; i++)
        n += ld->text[i] == '\n';
    ld->line_starts = cjx_arena_alloc(&ld->set->arena, n * sizeof(size_t));
    if (ld->line_starts == NULL)
        return CJX_ENOMEM;
    ld->line_starts[0] = 0;
    size_t k = 1;
    for (size_t i = 0; i < ld->text_len; i++)
        if (ld->text[i] == '\n')
            ld->line_starts[k++] = i + 1;
    ld->n_lines = n;
    return 0;
}

/* Byte offset of a (0-based) line and character column. */
static size_t
offset_of(const struct loader *ld, size_t line, size_t col)
{
    const char *text = ld->text;
    size_t len = ld->text_len;
    if (line >= ld->n_lines)
        return len;
    size_t off = ld->line_starts[line];
    for (size_t c = 0; off < len && text[off] != '\n';) {
        if (c == col)
            break;
        off++;
        while (off < len && ((unsigned char)text[off] & 0xC0) == 0x80)
            off++;
        c++;
    }
    return off;
}

/* Parses the expression held by a scalar node. */
static int
parse_expr(struct loader *ld, const yaml_node_t *n, const char *what,
           struct node **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return lerr(ld, n, "%s must be an expression (a scalar)", what);
    struct srcmap sm;
    size_t start = offset_of(ld, n->start_mark.line, n->start_mark.column);
    size_t end = offset_of(ld, n->end_mark.line, n->end_mark.column);
    TRY(rules_srcmap_scalar(
        &ld->set->arena, &sm, ld->set->file, ld->text, ld->text_len, start, end,
        (uint32_t)n->start_mark.line + 1, (uint32_t)n->start_mark.column + 1,
        (const char *)n->data.scalar.value, n->data.scalar.length));
    return rules_parse(&ld->set->arena, (const char *)n->data.scalar.value,
                       n->data.scalar.length, &sm, out, ld->eb);
}

/* A fact's domain: one expression (a list), or a YAML sequence whose items
 * are expressions. */
static int
parse_domain(struct loader *ld, yaml_node_t *n, struct node **out)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return parse_expr(ld, n, "domain", out);
    size_t k =
        (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (k > 256)
        return lerr(ld, n, "domain too long");
    struct node *l = rules_node_new(&ld->set->arena, N_LIST, 0, NULL);
    if (l == NULL)
        return CJX_ENOMEM;
    l->line = (uint32_t)n->start_mark.line + 1;
    l->col = (uint32_t)n->start_mark.column + 1;
    l->args = cjx_arena_alloc(&ld->set->arena, (k + 1) * sizeof(*l->args));
    if (l->args == NULL)
        return CJX_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *e = get(ld, n->data.sequence.items.start[i]);
        if (e == NULL)
            return lerr(ld, n, "malformed sequence");
        TRY(parse_expr(ld, e, "a domain value", &l->args[i]));
    }
    l->slot = (int)k;
    *out = l;
    return 0;
}

static int
check_expr(struct loader *ld, struct node *e)
{
    struct check_ctx cx;
    memset(&cx, 0, sizeof(cx));
    cx.set = ld->set;
    cx.sm = &ld->file_sm;
    cx.eb = ld->eb;
    cx.arena = &ld->set->arena;
    return rules_check(&cx, e);
}

static int
compile_bool(struct loader *ld, const yaml_node_t *n, const char *what,
             struct node **out)
{
    TRY(parse_expr(ld, n, what, out));
    TRY(check_expr(ld, *out));
    if ((*out)->type->kind != T_BOOL) {
        char tn[128];
        return rules_diag(ld->eb, CJX_EPARSE, &ld->file_sm, (*out)->line,
                          (*out)->col, "%s must be a bool expression, not '%s'",
                          what, rules_type_name((*out)->type, tn, sizeof(tn)));
    }
    return 0;
}

/* Iterates a mapping's pairs, refusing duplicate and unexpected keys. */
struct pair {
    const char *key;
    yaml_node_t *knode, *value;
};

static int
mapping_pairs(struct loader *ld, yaml_node_t *m, const char *what,
              const char *const *allowed, struct pair *out, size_t cap,
              size_t *n_out)
{
    *n_out = 0; /* set on every path: optimised builds warn otherwise */
    if (m->type != YAML_MAPPING_NODE)
        return lerr(ld, m, "%s must be a mapping", what);
    size_t n = 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
         p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = get(ld, p->key), *v = get(ld, p->value);
        if (k == NULL || v == NULL)
            return lerr(ld, m, "malformed mapping");
        const char *key = scalar(k);
        if (key == NULL)
            return lerr(ld, k, "keys of %s must be scalars", what);
        if (allowed != NULL) {
            int ok = 0;
            for (size_t i = 0; allowed[i] != NULL; i++)
                if (strcmp(allowed[i], key) == 0)
                    ok = 1;
            if (!ok)
                return lerr(ld, k, "unknown key '%s' in %s", key, what);
        }
        for (size_t i = 0; i < n; i++)
            if (strcmp(out[i].key, key) == 0)
                return lerr(ld, k, "duplicate key '%s' in %s", key, what);
        if (n == cap)
            return lerr(ld, k, "too many keys in %s", what);
        out[n].key = key;
        out[n].knode = k;
        out[n].value = v;
        n++;
    }
    *n_out = n;
    return 0;
}

static yaml_node_t *
lookup(const struct pair *p, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].key, key) == 0)
            return p[i].value;
    return NULL;
}

static int
require(struct loader *ld, const struct pair *p, size_t n, yaml_node_t *m,
        const char *key, const char *what, yaml_node_t **out)
{
    *out = lookup(p, n, key);
    if (*out == NULL)
        return lerr(ld, m, "%s needs '%s'", what, key);
    return 0;
}

static int
seq_items(struct loader *ld, yaml_node_t *s, const char *what,
          yaml_node_item_t **start, size_t *n)
{
    *start = NULL;
    *n = 0;
    if (s->type != YAML_SEQUENCE_NODE)
        return lerr(ld, s, "%s must be a sequence", what);
    *start = s->data.sequence.items.start;
    *n = (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
    return 0;
}

static int
string_list(struct loader *ld, yaml_node_t *s, const char *what,
            const char ***out, size_t *n_out)
{
    yaml_node_item_t *it;
    size_t n;
    if (s->type == YAML_SCALAR_NODE) {
        /* A single string stands for a one-element list. */
        const char **l = cjx_arena_alloc(&ld->set->arena, sizeof(*l));
        if (l == NULL)
            return CJX_ENOMEM;
        TRY(copy_str(ld, s, what, &l[0]));
        *out = l;
        *n_out = 1;
        return 0;
    }
    TRY(seq_items(ld, s, what, &it, &n));
    const char **l = cjx_arena_alloc(&ld->set->arena, (n + 1) * sizeof(*l));
    if (l == NULL)
        return CJX_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *e = get(ld, it[i]);
        if (e == NULL)
            return lerr(ld, s, "malformed sequence");
        TRY(copy_str(ld, e, what, &l[k]));
        /* A repeated entry says nothing more; outputs list each once. */
        size_t j = 0;
        while (j < k && strcmp(l[j], l[k]) != 0)
            j++;
        k += j == k;
    }
    *out = l;
    *n_out = k;
    return 0;
}

static const ProtobufCMessageDescriptor *
find_type(const struct cjx_rules_types *types, const char *name)
{
    if (types == NULL)
        return NULL;
    for (size_t i = 0; i < types->n_messages; i++)
        if (types->messages[i] != NULL &&
            strcmp(types->messages[i]->name, name) == 0)
            return types->messages[i];
    return NULL;
}

static int
is_identifier(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* Finds an enum value by its full name or with the enum's prefix left out
 * ("DISMISS_AND_SEAL" for RELIEF_DISMISS_AND_SEAL of enum Relief). */
static const ProtobufCEnumValue *
enum_value(const ProtobufCEnumDescriptor *en, const char *name)
{
    for (unsigned i = 0; i < en->n_values; i++)
        if (strcmp(en->values[i].name, name) == 0)
            return &en->values[i];
    char prefix[128];
    size_t o = 0;
    for (const char *p = en->short_name; *p && o + 3 < sizeof(prefix); p++) {
        if (*p >= 'A' && *p <= 'Z' && p != en->short_name)
            prefix[o++] = '_';
        prefix[o++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    }
    prefix[o++] = '_';
    prefix[o] = '\0';
    for (unsigned i = 0; i < en->n_values; i++) {
        const char *v = en->values[i].name;
        if (strncmp(v, prefix, o) == 0 && strcmp(v + o, name) == 0)
            return &en->values[i];
    }
    return NULL;
}

static int
relief_value(struct loader *ld, yaml_node_t *n, int *out)
{
    const char *s = "";
    TRY(want_scalar(ld, n, "a relief", &s));
    if (ld->set->out.relief == NULL)
        return lerr(ld, n, "the output message has no 'relief' field");
    const ProtobufCEnumValue *v =
        enum_value(ld->set->out.relief->descriptor, s);
    if (v == NULL)
        return lerr(
            ld, n, "unknown relief '%s' (not a value of %s)", s,
            ((const ProtobufCEnumDescriptor *)ld->set->out.relief->descriptor)
                ->name);
    *out = v->value;
    return 0;
}

static int
date_value(struct loader *ld, yaml_node_t *n, int32_t *out)
{
    const char *s;
    TRY(want_scalar(ld, n, "a date", &s));
    int64_t days;
    if (rules_parse_date(s, n->data.scalar.length, &days) != 0)
        return lerr(ld, n, "invalid date '%s' (expected YYYY-MM-DD)", s);
    *out = (int32_t)days;
    return 0;
}

/* ---- sections --------------------------------------------------------- */

static int
declare_lets(struct loader *ld)
{
    size_t n_lets = 0, n_facts = 0;
    struct pair lp[256];
    yaml_node_item_t *fit = NULL;
    if (ld->lets != NULL)
        TRY(mapping_pairs(ld, ld->lets, "lets", NULL, lp, 256, &n_lets));
    if (ld->facts != NULL)
        TRY(seq_items(ld, ld->facts, "facts", &fit, &n_facts));
    if (n_facts > 64)
        return lerr(ld, ld->facts, "at most 64 facts are supported");
    struct cjx_rules_set *set = ld->set;
    set->lets = cjx_arena_alloc(&set->arena,
                                (n_lets + n_facts + 1) * sizeof(*set->lets));
    if (set->lets == NULL)
        return CJX_ENOMEM;
    memset(set->lets, 0, (n_lets + n_facts + 1) * sizeof(*set->lets));
    for (size_t i = 0; i < n_lets + n_facts; i++) {
        struct let_def *l = &set->lets[i];
        yaml_node_t *name_node, *expr_node;
        l->slot = (int)i;
        l->sm = ld->file_sm;
        if (i < n_lets) {
            name_node = lp[i].knode;
            expr_node = lp[i].value;
            l->name = lp[i].key;
        } else {
            static const char *const keys[] = {
                "name", "value", "known", "domain", "missing", "field", NULL};
            yaml_node_t *f = get(ld, fit[i - n_lets]);
            struct pair fp[8];
            size_t nf;
            if (f == NULL)
                return lerr(ld, ld->facts, "malformed sequence");
            TRY(mapping_pairs(ld, f, "fact", keys, fp, 8, &nf));
            TRY(require(ld, fp, nf, f, "name", "a fact", &name_node));
            TRY(require(ld, fp, nf, f, "value", "a fact", &expr_node));
            yaml_node_t *known, *domain, *missing, *field;
            TRY(require(ld, fp, nf, f, "known", "a fact", &known));
            TRY(require(ld, fp, nf, f, "domain", "a fact", &domain));
            TRY(require(ld, fp, nf, f, "missing", "a fact", &missing));
            TRY(want_scalar(ld, name_node, "a fact name", &l->name));
            TRY(parse_expr(ld, known, "known", &l->known));
            TRY(parse_domain(ld, domain, &l->domain));
            TRY(copy_str(ld, missing, "missing", &l->missing));
            field = lookup(fp, nf, "field");
            if (field != NULL)
                TRY(copy_str(ld, field, "field", &l->field));
            l->is_fact = 1;
            l->fact_bit = (int)(i - n_lets);
        }
        if (!is_identifier(l->name))
            return lerr(ld, name_node, "'%s' is not a valid name", l->name);
        static const char *const reserved[] = {"has",  "true", "false",
                                               "null", "in",   NULL};
        for (size_t r = 0; reserved[r] != NULL; r++)
            if (strcmp(reserved[r], l->name) == 0)
                return lerr(ld, name_node, "'%s' is a reserved word", l->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(set->lets[j].name, l->name) == 0)
                return lerr(ld, name_node, "'%s' is declared twice", l->name);
        if (protobuf_c_message_descriptor_get_field_by_name(set->message,
                                                            l->name) != NULL)
            return lerr(ld, name_node,
                        "'%s' would hide the field of the same "
                        "name in %s",
                        l->name, set->message->name);
        l->name = cjx_arena_strndup(&set->arena, l->name, strlen(l->name));
        if (l->name == NULL)
            return CJX_ENOMEM;
        l->line = (uint32_t)name_node->start_mark.line + 1;
        l->col = (uint32_t)name_node->start_mark.column + 1;
        TRY(parse_expr(ld, expr_node, "a let", &l->expr));
        set->n_lets = i + 1;
    }
    return 0;
}

static int
load_validations(struct loader *ld)
{
    yaml_node_item_t *it;
    size_t n;
    TRY(seq_items(ld, ld->validations, "validations", &it, &n));
    struct cjx_rules_set *set = ld->set;
    set->validations =
        cjx_arena_alloc(&set->arena, (n + 1) * sizeof(*set->validations));
    if (set->validations == NULL)
        return CJX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        static const char *const keys[] = {"id",       "rule",  "message",
                                           "severity", "field", NULL};
        yaml_node_t *v = get(ld, it[i]), *id, *rule, *msg, *sev, *field;
        struct pair p[8];
        size_t np;
        struct validation *val = &set->validations[i];
        memset(val, 0, sizeof(*val));
        if (v == NULL)
            return lerr(ld, ld->validations, "malformed sequence");
        TRY(mapping_pairs(ld, v, "validation", keys, p, 8, &np));
        TRY(require(ld, p, np, v, "id", "a validation", &id));
        TRY(require(ld, p, np, v, "rule", "a validation", &rule));
        TRY(require(ld, p, np, v, "message", "a validation", &msg));
        TRY(copy_str(ld, id, "id", &val->id));
        for (size_t j = 0; j < i; j++)
            if (strcmp(set->validations[j].id, val->id) == 0)
                return lerr(ld, id, "validation id '%s' is used twice",
                            val->id);
        TRY(copy_str(ld, msg, "message", &val->message));
        val->field = "";
        if ((field = lookup(p, np, "field")) != NULL)
            TRY(copy_str(ld, field, "field", &val->field));
        val->severity = CJX_RULES_REJECT;
        if ((sev = lookup(p, np, "severity")) != NULL) {
            const char *s;
            TRY(want_scalar(ld, sev, "severity", &s));
            if (strcmp(s, "reject") == 0)
                val->severity = CJX_RULES_REJECT;
            else if (strcmp(s, "flag") == 0)
                val->severity = CJX_RULES_FLAG;
            else
                return lerr(ld, sev, "severity must be 'reject' or 'flag'");
        }
        TRY(compile_bool(ld, rule, "a validation rule", &val->rule));
        set->n_validations = i + 1;
    }
    return 0;
}

static int
load_review(struct loader *ld)
{
    static const char *const keys[] = {"relief", "order", NULL};
    struct pair p[4];
    size_t np;
    yaml_node_t *relief, *order;
    yaml_node_item_t *it;
    size_t n;
    TRY(mapping_pairs(ld, ld->review, "review", keys, p, 4, &np));
    TRY(require(ld, p, np, ld->review, "relief", "review", &relief));
    TRY(require(ld, p, np, ld->review, "order", "review", &order));
    TRY(relief_value(ld, relief, &ld->set->review_relief));
    TRY(seq_items(ld, order, "order", &it, &n));
    if (n == 0)
        return lerr(ld, order, "order must list at least one relief");
    ld->set->order = cjx_arena_alloc(&ld->set->arena, n * sizeof(int));
    if (ld->set->order == NULL)
        return CJX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *e = get(ld, it[i]);
        if (e == NULL)
            return lerr(ld, order, "malformed sequence");
        TRY(relief_value(ld, e, &ld->set->order[i]));
        for (size_t j = 0; j < i; j++)
            if (ld->set->order[j] == ld->set->order[i])
                return lerr(ld, e, "relief listed twice in order");
    }
    ld->set->n_order = n;
    return 0;
}

static int
in_order(const struct cjx_rules_set *set, int relief)
{
    for (size_t i = 0; i < set->n_order; i++)
        if (set->order[i] == relief)
            return 1;
    return 0;
}

static int
compile_procedure(struct loader *ld, yaml_node_t *n, struct node **out)
{
    if (ld->set->out.procedure == NULL)
        return lerr(ld, n, "the output message has no 'procedure' field");
    TRY(parse_expr(ld, n, "procedure", out));
    TRY(check_expr(ld, *out));
    const struct rtype *t = (*out)->type;
    if (t->kind != T_ENUM || t->en != ld->set->out.procedure->descriptor)
        return rules_diag(ld->eb, CJX_EPARSE, &ld->file_sm, (*out)->line,
                          (*out)->col, "procedure must be a value of %s",
                          ((const ProtobufCEnumDescriptor *)
                               ld->set->out.procedure->descriptor)
                              ->name);
    return 0;
}

static int
load_decisions(struct loader *ld)
{
    yaml_node_item_t *it;
    size_t n;
    struct cjx_rules_set *set = ld->set;
    TRY(seq_items(ld, ld->decisions, "decisions", &it, &n));
    if (set->output == NULL)
        return lerr(ld, ld->decisions,
                    "decisions need an 'output' message type");
    set->decisions =
        cjx_arena_alloc(&set->arena, (n + 1) * sizeof(*set->decisions));
    if (set->decisions == NULL)
        return CJX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        static const char *const keys[] = {
            "id",      "when",      "relief",  "floor",     "ceiling",
            "reasons", "citations", "missing", "procedure", NULL};
        yaml_node_t *v = get(ld, it[i]), *id, *when, *relief, *x;
        struct pair p[12];
        size_t np;
        struct decision *d = &set->decisions[i];
        memset(d, 0, sizeof(*d));
        if (v == NULL)
            return lerr(ld, ld->decisions, "malformed sequence");
        TRY(mapping_pairs(ld, v, "decision", keys, p, 12, &np));
        TRY(require(ld, p, np, v, "id", "a decision", &id));
        TRY(require(ld, p, np, v, "when", "a decision", &when));
        TRY(require(ld, p, np, v, "relief", "a decision", &relief));
        TRY(copy_str(ld, id, "id", &d->id));
        for (size_t j = 0; j < i; j++)
            if (strcmp(set->decisions[j].id, d->id) == 0)
                return lerr(ld, id, "decision id '%s' is used twice", d->id);
        d->line = (uint32_t)v->start_mark.line + 1;
        d->col = (uint32_t)v->start_mark.column + 1;
        TRY(relief_value(ld, relief, &d->relief));
        yaml_node_t *fl = lookup(p, np, "floor"),
                    *ce = lookup(p, np, "ceiling");
        if ((fl == NULL) != (ce == NULL))
            return lerr(ld, v, "floor and ceiling go together");
        if (fl != NULL) {
            TRY(relief_value(ld, fl, &d->floor));
            TRY(relief_value(ld, ce, &d->ceiling));
            if (set->n_order == 0)
                return lerr(ld, fl, "floor and ceiling need a 'review' order");
            if (!in_order(set, d->floor))
                return lerr(ld, fl, "floor is not in the review order");
            if (!in_order(set, d->ceiling))
                return lerr(ld, ce, "ceiling is not in the review order");
            d->has_range = 1;
        } else if (set->review_relief >= 0 && d->relief == set->review_relief) {
            return lerr(ld, relief,
                        "a review decision needs floor and ceiling");
        }
        if ((x = lookup(p, np, "reasons")) != NULL)
            TRY(string_list(ld, x, "reasons", &d->reasons, &d->n_reasons));
        if ((x = lookup(p, np, "citations")) != NULL)
            TRY(string_list(ld, x, "citations", &d->citations,
                            &d->n_citations));
        if ((x = lookup(p, np, "missing")) != NULL)
            TRY(string_list(ld, x, "missing", &d->missing, &d->n_missing));
        if ((x = lookup(p, np, "procedure")) != NULL)
            TRY(compile_procedure(ld, x, &d->procedure));
        TRY(compile_bool(ld, when, "'when'", &d->when));
        const struct node *lead = d->when;
        if (lead->op == N_AND && lead->args != NULL)
            lead = lead->args[0];
        d->lead_slot = -1;
        d->lead_neg = 0;
        if (lead->op == N_NOT &&
            (lead->a->op == N_LET || lead->a->op == N_FACT)) {
            d->lead_neg = 1;
            lead = lead->a;
        }
        if (lead->op == N_LET || lead->op == N_FACT)
            d->lead_slot = lead->slot;
        set->n_decisions = i + 1;
    }
    /* Consecutive decisions led by the same test are skipped together. */
    for (size_t i = n; i-- > 0;) {
        struct decision *d = &set->decisions[i];
        const struct decision *e = i + 1 < n ? &set->decisions[i + 1] : NULL;
        d->skip_to = e != NULL && e->lead_slot == d->lead_slot &&
                             e->lead_neg == d->lead_neg
                         ? e->skip_to
                         : i + 1;
    }
    return 0;
}

static int
load_notes(struct loader *ld)
{
    yaml_node_item_t *it;
    size_t n;
    struct cjx_rules_set *set = ld->set;
    TRY(seq_items(ld, ld->notes, "notes", &it, &n));
    set->notes = cjx_arena_alloc(&set->arena, (n + 1) * sizeof(*set->notes));
    if (set->notes == NULL)
        return CJX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        static const char *const keys[] = {"when", "reasons", NULL};
        yaml_node_t *v = get(ld, it[i]), *when, *reasons;
        struct pair p[4];
        size_t np;
        struct note *nt = &set->notes[i];
        memset(nt, 0, sizeof(*nt));
        if (v == NULL)
            return lerr(ld, ld->notes, "malformed sequence");
        TRY(mapping_pairs(ld, v, "note", keys, p, 4, &np));
        TRY(require(ld, p, np, v, "when", "a note", &when));
        TRY(require(ld, p, np, v, "reasons", "a note", &reasons));
        TRY(string_list(ld, reasons, "reasons", &nt->reasons, &nt->n_reasons));
        TRY(compile_bool(ld, when, "'when'", &nt->when));
        set->n_notes = i + 1;
    }
    return 0;
}

static int
resolve_output(struct loader *ld)
{
    struct cjx_rules_set *set = ld->set;
    const ProtobufCMessageDescriptor *o = set->output;
    struct {
        const char *name;
        const ProtobufCFieldDescriptor **slot;
        int type;
        int repeated;
    } want[] = {
        {"relief", &set->out.relief, PROTOBUF_C_TYPE_ENUM, 0},
        {"floor", &set->out.floor, PROTOBUF_C_TYPE_ENUM, 0},
        {"ceiling", &set->out.ceiling, PROTOBUF_C_TYPE_ENUM, 0},
        {"procedure", &set->out.procedure, PROTOBUF_C_TYPE_ENUM, 0},
        {"reason_codes", &set->out.reason_codes, PROTOBUF_C_TYPE_STRING, 1},
        {"citations", &set->out.citations, PROTOBUF_C_TYPE_STRING, 1},
        {"missing_facts", &set->out.missing_facts, PROTOBUF_C_TYPE_STRING, 1},
        {"decision_id", &set->out.decision_id, PROTOBUF_C_TYPE_STRING, 0},
        {"rule_set", &set->out.rule_set, PROTOBUF_C_TYPE_STRING, 0},
        {"rule_set_version", &set->out.rule_set_version, PROTOBUF_C_TYPE_STRING,
         0},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(o, want[i].name);
        /* A field of another shape is simply not part of the contract. */
        if (fd == NULL || (int)fd->type != want[i].type ||
            (fd->label == PROTOBUF_C_LABEL_REPEATED) != want[i].repeated ||
            (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        *want[i].slot = fd;
    }
    if (set->out.relief == NULL)
        return lerr(
            ld, ld->decisions != NULL ? ld->decisions : ld->doc->nodes.start,
            "output message %s has no enum field 'relief'", o->name);
    /* floor and ceiling must use the relief enumeration. */
    if (set->out.floor != NULL &&
        set->out.floor->descriptor != set->out.relief->descriptor)
        set->out.floor = NULL;
    if (set->out.ceiling != NULL &&
        set->out.ceiling->descriptor != set->out.relief->descriptor)
        set->out.ceiling = NULL;
    return rules_collect_enums(set, o);
}

static int
cmp_strp(const void *a, const void *b)
{
    return strcmp(**(const char **const *)a, **(const char **const *)b);
}

/* Every string a decision can put in the output (reasons, citations,
 * missing facts, ids) is made to share one pointer with the equal ones, so
 * that merging the lists of several branches compares pointers. */
static int
share_output_strings(struct cjx_rules_set *set)
{
    size_t n = 0;
    for (size_t i = 0; i < set->n_decisions; i++) {
        const struct decision *d = &set->decisions[i];
        n += 1 + d->n_reasons + d->n_citations + d->n_missing;
    }
    for (size_t i = 0; i < set->n_notes; i++)
        n += set->notes[i].n_reasons;
    n += 3 * set->n_lets;
    const char ***all = cjx_arena_alloc(&set->arena, (n + 1) * sizeof(*all));
    if (all == NULL)
        return CJX_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < set->n_decisions; i++) {
        struct decision *d = &set->decisions[i];
        all[k++] = &d->id;
        for (size_t j = 0; j < d->n_reasons; j++)
            all[k++] = &d->reasons[j];
        for (size_t j = 0; j < d->n_citations; j++)
            all[k++] = &d->citations[j];
        for (size_t j = 0; j < d->n_missing; j++)
            all[k++] = &d->missing[j];
    }
    for (size_t i = 0; i < set->n_notes; i++)
        for (size_t j = 0; j < set->notes[i].n_reasons; j++)
            all[k++] = &set->notes[i].reasons[j];
    for (size_t i = 0; i < set->n_lets; i++) {
        struct let_def *l = &set->lets[i];
        if (!l->is_fact)
            continue;
        all[k++] = &l->name;
        all[k++] = &l->missing;
        if (l->field != NULL)
            all[k++] = &l->field;
    }
    qsort(all, k, sizeof(*all), cmp_strp);
    for (size_t i = 1; i < k; i++)
        if (strcmp(*all[i], *all[i - 1]) == 0)
            *all[i] = *all[i - 1];
    return 0;
}

static int
load_root(struct loader *ld, yaml_node_t *root)
{
    static const char *const keys[] = {
        "name",      "version",     "description", "message", "output",
        "effective", "lets",        "facts",       "review",  "procedure",
        "notes",     "validations", "decisions",   NULL};
    struct pair p[16];
    size_t np;
    struct cjx_rules_set *set = ld->set;
    yaml_node_t *x;
    TRY(mapping_pairs(ld, root, "the rule file", keys, p, 16, &np));
    TRY(require(ld, p, np, root, "name", "a rule file", &x));
    TRY(copy_str(ld, x, "name", &set->name));
    TRY(require(ld, p, np, root, "version", "a rule file", &x));
    TRY(copy_str(ld, x, "version", &set->version));
    set->description = "";
    if ((x = lookup(p, np, "description")) != NULL)
        TRY(copy_str(ld, x, "description", &set->description));
    const char *s;
    TRY(require(ld, p, np, root, "message", "a rule file", &x));
    TRY(want_scalar(ld, x, "message", &s));
    if ((set->message = find_type(ld->types, s)) == NULL)
        return lerr(ld, x, "unknown message type '%s'", s);
    ld->lets = lookup(p, np, "lets");
    ld->facts = lookup(p, np, "facts");
    ld->validations = lookup(p, np, "validations");
    ld->decisions = lookup(p, np, "decisions");
    ld->notes = lookup(p, np, "notes");
    ld->review = lookup(p, np, "review");
    ld->procedure = lookup(p, np, "procedure");
    set->eff_from = INT32_MIN;
    set->eff_until = INT32_MAX;
    if ((x = lookup(p, np, "effective")) != NULL) {
        static const char *const ekeys[] = {"from", "until", NULL};
        struct pair ep[4];
        size_t ne;
        yaml_node_t *d;
        TRY(mapping_pairs(ld, x, "effective", ekeys, ep, 4, &ne));
        if ((d = lookup(ep, ne, "from")) != NULL)
            TRY(date_value(ld, d, &set->eff_from));
        if ((d = lookup(ep, ne, "until")) != NULL)
            TRY(date_value(ld, d, &set->eff_until));
        if (set->eff_until <= set->eff_from)
            return lerr(ld, x, "'until' must be after 'from'");
    }
    TRY(rules_collect_enums(set, set->message));
    if ((x = lookup(p, np, "output")) != NULL) {
        TRY(want_scalar(ld, x, "output", &s));
        if ((set->output = find_type(ld->types, s)) == NULL)
            return lerr(ld, x, "unknown message type '%s'", s);
        TRY(resolve_output(ld));
    } else if (ld->decisions != NULL || ld->review != NULL ||
               ld->procedure != NULL) {
        return lerr(ld, root, "a rule file with decisions needs 'output'");
    }
    set->review_relief = -1;
    if (ld->review != NULL)
        TRY(load_review(ld));
    /* Names first, so that lets may refer to each other in any order;
     * then types, in dependency order, refusing cycles. */
    TRY(declare_lets(ld));
    for (size_t i = 0; i < set->n_lets; i++)
        TRY(rules_check_let(set, &set->lets[i], ld->eb));
    for (size_t i = 0; i < set->n_lets; i++)
        if (set->lets[i].is_fact && set->n_order == 0 && ld->decisions != NULL)
            return rules_diag(ld->eb, CJX_EPARSE, &ld->file_sm,
                              set->lets[i].line, set->lets[i].col,
                              "facts need a 'review' section saying how "
                              "outcomes are ordered");
    if (ld->procedure != NULL)
        TRY(compile_procedure(ld, ld->procedure, &set->procedure));
    if (ld->notes != NULL)
        TRY(load_notes(ld));
    if (ld->validations != NULL)
        TRY(load_validations(ld));
    if (ld->decisions != NULL)
        TRY(load_decisions(ld));
    set->n_slots = (int)set->n_lets + set->n_loop_slots;
    TRY(rules_index_facts(set));
    TRY(share_output_strings(set));
    rules_specialise_set(set);
    return rules_compile_set(set);
}

void
cjx_rules_set_free(struct cjx_rules_set *set)
{
    if (set == NULL)
        return;
    for (struct regex_entry *e = set->regexes; e != NULL; e = e->next)
        regfree(&e->re);
    cjx_arena_fini(&set->arena);
    free(set);
}

int
cjx_rules_set_load_buffer(const char *name, const char *buf, size_t len,
                          const struct cjx_rules_types *types,
                          struct cjx_rules_set **out, struct cjx_errbuf *eb)
{
    struct cjx_rules_set *set = calloc(1, sizeof(*set));
    if (set == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    cjx_arena_init(&set->arena, NULL, 0, 0);
    set->file = cjx_arena_strndup(&set->arena, name, strlen(name));
    if (set->file == NULL) {
        cjx_rules_set_free(set);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    struct loader ld;
    memset(&ld, 0, sizeof(ld));
    ld.set = set;
    ld.text = buf;
    ld.text_len = len;
    ld.types = types;
    ld.eb = eb;
    ld.file_sm.file = set->file;
    ld.file_sm.text = buf;
    ld.file_sm.text_len = len;

    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = 0;
    if (!yaml_parser_initialize(&parser)) {
        cjx_rules_set_free(set);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        if (parser.error == YAML_MEMORY_ERROR) {
            rc = cjx_errf(eb, CJX_ENOMEM, "out of memory");
        } else {
            rc =
                rules_diag(eb, CJX_EPARSE, &ld.file_sm,
                           (uint32_t)parser.problem_mark.line + 1,
                           (uint32_t)parser.problem_mark.column + 1, "YAML: %s",
                           parser.problem ? parser.problem : "error");
        }
        yaml_parser_delete(&parser);
        cjx_rules_set_free(set);
        return rc;
    }
    ld.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (index_lines(&ld) != 0)
        rc = CJX_ENOMEM;
    else if (root == NULL)
        rc = rules_diag(eb, CJX_EPARSE, &ld.file_sm, 1, 1, "empty rule file");
    else
        rc = load_root(&ld, root);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    /* Whatever error followed an allocation failure, the failure is the
     * cause (a type left unresolved for want of memory, say). */
    if (set->arena.failed)
        rc = CJX_ENOMEM;
    if (rc == CJX_ENOMEM)
        cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", name);
    if (rc != 0) {
        cjx_rules_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

int
cjx_rules_set_load_file(const char *path, const struct cjx_rules_types *types,
                        struct cjx_rules_set **out, struct cjx_errbuf *eb)
{
    /* Rule files are small; refuse anything absurd. */
    char *buf = NULL;
    size_t len = 0;
    int err = cjx_file_read(path, (size_t)16 << 20, &buf, &len, eb);
    if (err != 0)
        return err;
    int rc = cjx_rules_set_load_buffer(path, buf, len, types, out, eb);
    free(buf);
    return rc;
}

const char *
cjx_rules_set_name(const struct cjx_rules_set *set)
{
    return set->name;
}

const char *
cjx_rules_set_version(const struct cjx_rules_set *set)
{
    return set->version;
}

const ProtobufCMessageDescriptor *
cjx_rules_set_message(const struct cjx_rules_set *set)
{
    return set->message;
}

const ProtobufCMessageDescriptor *
cjx_rules_set_output(const struct cjx_rules_set *set)
{
    return set->output;
}

int
cjx_rules_set_in_effect(const struct cjx_rules_set *set, int year, int month,
                        int day)
{
    if (!rules_valid_date(year, month, day))
        return 0;
    int64_t d = rules_date_pack(year, (unsigned)month, (unsigned)day);
    return d >= set->eff_from && d < set->eff_until;
}
