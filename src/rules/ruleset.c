/* Running a rule set: validations, ordered decisions, enumeration of unknown facts, output message. */
#include <stdio.h>
#include <string.h>

#include "rules_internal.h"

static int
init_eval(const struct cjx_rules_set *set, const ProtobufCMessage *msg,
          struct cjx_arena *arena, struct eval_ctx *ex)
{
    memset(ex, 0, sizeof(*ex));
    ex->set = set;
    ex->root = msg;
    ex->arena = arena;
    size_t n = (size_t)(set->n_slots > 0 ? set->n_slots : 1);
    ex->slots = cjx_arena_alloc(arena, n * sizeof(*ex->slots));
    ex->state = cjx_arena_alloc(arena, n);
    if (ex->slots == NULL || ex->state == NULL)
        return CJX_ENOMEM;
    memset(ex->state, 0, n);
    return 0;
}

/* Before another branch: only what depends on facts is computed again. */
static void
reset_run(struct eval_ctx *ex)
{
    const struct cjx_rules_set *set = ex->set;
    for (int i = 0; i < set->n_branch_slots; i++)
        ex->state[set->branch_slots[i]] = 0;
    ex->pos = 0;
}

static int
eval_error(const struct eval_ctx *ex, const struct val *v, const char *what,
           const char *id, struct cjx_errbuf *eb)
{
    if (ex->arena->failed)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    const struct node *n = v->aux2;
    if (n != NULL)
        return cjx_errf(eb, CJX_EINVAL, "%s:%u:%u: %s '%s': %s",
                        ex->set->file, n->line, n->col, what, id,
                        (const char *)v->aux);
    return cjx_errf(eb, CJX_EINVAL, "%s: %s '%s': %s", ex->set->file, what, id,
                    (const char *)v->aux);
}

int
cjx_rules_validate(const struct cjx_rules_set *set, const ProtobufCMessage *msg,
                   struct cjx_arena *arena, struct cjx_rules_report *out,
                   struct cjx_errbuf *eb)
{
    if (msg == NULL || msg->descriptor != set->message)
        return cjx_errf(eb, CJX_EINVAL, "rule set %s applies to %s", set->name,
                        set->message->name);
    struct eval_ctx ex;
    if (init_eval(set, msg, arena, &ex) != 0)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    struct cjx_rules_failure *f = NULL;
    size_t n = 0;
    int rejected = 0;
    for (size_t i = 0; i < set->n_validations; i++) {
        const struct validation *v = &set->validations[i];
        struct val r = rules_eval(&ex, v->rule);
        if (r.k == V_BOOL && r.u.i)
            continue;
        if (f == NULL) {
            f = cjx_arena_alloc(arena, set->n_validations * sizeof(*f));
            if (f == NULL)
                return cjx_errf(eb, CJX_ENOMEM, "out of memory");
        }
        f[n].id = v->id;
        f[n].message = v->message;
        f[n].field = v->field;
        f[n].severity = v->severity;
        f[n].detail = NULL;
        if (r.k == V_ERR) {
            char buf[256];
            const struct node *at = r.aux2;
            if (at != NULL)
                snprintf(buf, sizeof(buf), "%s:%u:%u: %s", set->file, at->line,
                         at->col, (const char *)r.aux);
            else
                snprintf(buf, sizeof(buf), "%s", (const char *)r.aux);
            f[n].detail = cjx_arena_strndup(arena, buf, strlen(buf));
        }
        rejected |= v->severity == CJX_RULES_REJECT;
        n++;
    }
    if (arena->failed)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    out->failures = f;
    out->n_failures = n;
    out->rejected = rejected;
    return 0;
}

/* ---- decide ----------------------------------------------------------- */

static int
rank(const struct cjx_rules_set *set, int relief)
{
    for (size_t i = 0; i < set->n_order; i++)
        if (set->order[i] == relief)
            return (int)i;
    return -1;
}

/* A growable list of borrowed strings without duplicates. */
struct strlist {
    const char **v;
    size_t n, cap;
};

static int
strlist_add(struct cjx_arena *a, struct strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == s || strcmp(l->v[i], s) == 0)
            return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        const char **v = cjx_arena_alloc(a, cap * sizeof(*v));
        if (v == NULL)
            return CJX_ENOMEM;
        if (l->n)
            memcpy(v, l->v, l->n * sizeof(*v));
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

static int
strlist_add_all(struct cjx_arena *a, struct strlist *l, const char *const *s,
                size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlist_add(a, l, s[i]) != 0)
            return CJX_ENOMEM;
    return 0;
}

#define FIELD(msg, fd, type) (*(type *)((char *)(msg) + (fd)->offset))

static void
set_repeated(ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
             const struct strlist *l)
{
    if (fd == NULL || l->n == 0)
        return;
    *(size_t *)((char *)m + fd->quantifier_offset) = l->n;
    FIELD(m, fd, const char **) = l->v;
}

static void
set_enum(ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd, int v)
{
    if (fd != NULL)
        FIELD(m, fd, int) = v;
}

static void
set_string(ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
           const char *s)
{
    if (fd != NULL)
        FIELD(m, fd, const char *) = s;
}

/* Runs the decision list once with the current fact choices. Returns the
 * index of the decision that matched, or a negative error. */
static int
run_decisions(struct eval_ctx *ex, struct cjx_errbuf *eb)
{
    const struct cjx_rules_set *set = ex->set;
    for (size_t i = 0; i < set->n_decisions; i++) {
        const struct decision *d = &set->decisions[i];
        int s = d->lead_slot;
        if (s >= 0 && ex->state[s] == 2 && ex->slots[s].k == V_BOOL &&
            ex->slots[s].u.i == d->lead_neg)
            continue;
        struct val r = rules_eval(ex, d->when);
        if (r.k == V_ERR)
            return eval_error(ex, &r, "decision", d->id, eb);
        if (r.u.i)
            return (int)i;
    }
    if (ex->arena->failed)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    return cjx_errf(eb, CJX_EINVAL, "%s: no decision matched", set->file);
}

/* Moves to the next combination of unknown-fact values, depth first, over
 * the choices the last run actually made. Returns 0 when all are done. */
static int
next_choice(struct eval_ctx *ex)
{
    ex->n_choices = ex->pos;
    while (ex->n_choices > 0) {
        struct choice *c = &ex->choices[ex->n_choices - 1];
        if (c->idx + 1 < c->n) {
            c->idx++;
            return 1;
        }
        ex->n_choices--;
    }
    return 0;
}

int
cjx_rules_decide(const struct cjx_rules_set *set, const ProtobufCMessage *msg,
                 struct cjx_arena *arena, ProtobufCMessage **out,
                 struct cjx_errbuf *eb)
{
    if (msg == NULL || msg->descriptor != set->message)
        return cjx_errf(eb, CJX_EINVAL, "rule set %s applies to %s", set->name,
                        set->message->name);
    if (set->output == NULL || set->n_decisions == 0)
        return cjx_errf(eb, CJX_EINVAL, "rule set %s has no decisions",
                        set->name);
    struct eval_ctx ex;
    if (init_eval(set, msg, arena, &ex) != 0)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    ex.enumerate = 1;

    uint16_t branch[RULES_MAX_BRANCHES];
    int n_branch = 0;
    int procedure = 0, have_procedure = 0;
    struct strlist notes = {0};
    do {
        reset_run(&ex);
        int d = run_decisions(&ex, eb);
        if (d < 0)
            return d;
        if (n_branch == RULES_MAX_BRANCHES || ex.overflow)
            return cjx_errf(eb, CJX_ELIMIT, "%s: too many combinations of "
                                            "unknown facts", set->file);
        branch[n_branch++] = (uint16_t)d;
        if (n_branch == 1) {
            /* The procedure and notes are read with the first branch's
             * facts; they describe the count, not the relief. */
            const struct node *pn = set->decisions[d].procedure != NULL
                                        ? set->decisions[d].procedure
                                        : set->procedure;
            if (pn != NULL) {
                struct val p = rules_eval(&ex, pn);
                if (p.k == V_ERR)
                    return eval_error(&ex, &p, "procedure of decision",
                                      set->decisions[d].id, eb);
                procedure = (int)p.u.i;
                have_procedure = 1;
            }
            for (size_t i = 0; i < set->n_notes; i++) {
                struct val r = rules_eval(&ex, set->notes[i].when);
                if (r.k == V_ERR)
                    return eval_error(&ex, &r, "note", "when", eb);
                if (r.u.i && strlist_add_all(arena, &notes, set->notes[i].reasons,
                                             set->notes[i].n_reasons) != 0)
                    return cjx_errf(eb, CJX_ENOMEM, "out of memory");
            }
        }
    } while (next_choice(&ex));

    /* Combine the branches: one relief when they agree, else review with
     * the least and the most relief any branch gives. */
    const struct decision *first = &set->decisions[branch[0]];
    int agree = 1, lo = -1, hi = -1, unordered = 0;
    for (int i = 0; i < n_branch; i++) {
        const struct decision *d = &set->decisions[branch[i]];
        if (d->relief != first->relief || d->has_range != first->has_range ||
            (d->has_range && (d->floor != first->floor ||
                              d->ceiling != first->ceiling)))
            agree = 0;
        int f = rank(set, d->has_range ? d->floor : d->relief);
        int c = rank(set, d->has_range ? d->ceiling : d->relief);
        if (f < 0 || c < 0) {
            unordered = 1;
            continue;
        }
        if (lo < 0 || f < lo)
            lo = f;
        if (hi < 0 || c > hi)
            hi = c;
    }
    ProtobufCMessage *m = cjx_arena_alloc(arena, set->output->sizeof_message);
    if (m == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    protobuf_c_message_init(set->output, m);

    struct strlist reasons = {0}, citations = {0}, missing = {0}, ids = {0};
    int rc = 0;
    if (!agree) {
        for (int i = 0; i < ex.n_unknown_order && rc == 0; i++) {
            const struct let_def *l = NULL;
            for (size_t k = 0; k < set->n_lets; k++)
                if (set->lets[k].is_fact &&
                    set->lets[k].fact_bit == ex.unknown_order[i])
                    l = &set->lets[k];
            if (l != NULL)
                rc = strlist_add(arena, &reasons, l->missing);
        }
    }
    for (int i = 0; i < n_branch && rc == 0; i++) {
        const struct decision *d = &set->decisions[branch[i]];
        rc = strlist_add_all(arena, &reasons, d->reasons, d->n_reasons);
        if (rc == 0)
            rc = strlist_add_all(arena, &citations, d->citations, d->n_citations);
        if (rc == 0)
            rc = strlist_add_all(arena, &missing, d->missing, d->n_missing);
        if (rc == 0)
            rc = strlist_add(arena, &ids, d->id);
    }
    for (int i = 0; i < ex.n_unknown_order && rc == 0; i++) {
        for (size_t k = 0; k < set->n_lets && rc == 0; k++) {
            const struct let_def *l = &set->lets[k];
            if (l->is_fact && l->fact_bit == ex.unknown_order[i])
                rc = strlist_add(arena, &missing,
                                 l->field != NULL ? l->field : l->name);
        }
    }
    if (rc == 0)
        rc = strlist_add_all(arena, &reasons, notes.v, notes.n);
    if (rc != 0)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");

    if (agree) {
        set_enum(m, set->out.relief, first->relief);
        if (first->has_range) {
            set_enum(m, set->out.floor, first->floor);
            set_enum(m, set->out.ceiling, first->ceiling);
        }
    } else {
        set_enum(m, set->out.relief, set->review_relief);
        /* A branch outside the order (e.g. no action) widens the range to
         * the least relief. */
        if (unordered || lo < 0)
            lo = 0;
        if (hi < 0)
            hi = (int)set->n_order - 1;
        set_enum(m, set->out.floor, set->order[lo]);
        set_enum(m, set->out.ceiling, set->order[hi]);
    }
    if (have_procedure)
        set_enum(m, set->out.procedure, procedure);
    set_repeated(m, set->out.reason_codes, &reasons);
    set_repeated(m, set->out.citations, &citations);
    set_repeated(m, set->out.missing_facts, &missing);
    const char *id = ids.v[0];
    if (ids.n > 1) {
        size_t len = 0;
        for (size_t i = 0; i < ids.n; i++)
            len += strlen(ids.v[i]) + 1;
        char *j = cjx_arena_alloc(arena, len);
        if (j == NULL)
            return cjx_errf(eb, CJX_ENOMEM, "out of memory");
        j[0] = '\0';
        for (size_t i = 0; i < ids.n; i++) {
            if (i)
                strcat(j, ",");
            strcat(j, ids.v[i]);
        }
        id = j;
    }
    set_string(m, set->out.decision_id, id);
    set_string(m, set->out.rule_set, set->name);
    set_string(m, set->out.rule_set_version, set->version);
    if (arena->failed)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    *out = m;
    return 0;
}
