/* Running a rule set: validations, ordered decisions, enumeration of unknown facts, output message. */
#include <stdio.h>
#include <string.h>

#include "bytecode.h"
#include "rules_internal.h"

static int
eval_error(const struct eval_ctx *ex, const struct val *v, const char *what,
           const char *id, struct cjx_errbuf *eb)
{
    if (ex->arena->failed)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    const struct node *n = v->u.at;
    if (n != NULL)
        return cjx_errf(eb, CJX_EINVAL, "%s:%u:%u: %s '%s': %s", ex->set->file,
                        n->line, n->col, what, id, rules_err_msg(v));
    return cjx_errf(eb, CJX_EINVAL, "%s: %s '%s': %s", ex->set->file, what, id,
                    rules_err_msg(v));
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
    if (rules_eval_init(&ex, set, msg, arena) != 0)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    struct cjx_rules_failure *f = NULL;
    size_t n = 0;
    int rejected = 0;
    for (size_t i = 0; i < set->n_validations; i++) {
        const struct validation *v = &set->validations[i];
        struct val r = rules_eval_top(&ex, v->rule);
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
            const struct node *at = r.u.at;
            if (at != NULL)
                snprintf(buf, sizeof(buf), "%s:%u:%u: %s", set->file, at->line,
                         at->col, rules_err_msg(&r));
            else
                snprintf(buf, sizeof(buf), "%s", rules_err_msg(&r));
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

/* A growable list of borrowed output strings of one set, without
 * duplicates. */
struct strlist {
    const char **v;
    size_t n, cap;
};

static int
strlist_add(struct cjx_arena *a, struct strlist *l, const char *s)
{
    /* Equal output strings of a set share one pointer (loader.c). */
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == s)
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

/* Points a repeated string field at n borrowed strings, in place. */
static void
borrow_repeated(ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
                const char *const *s, size_t n)
{
    if (fd == NULL || n == 0)
        return;
    *(size_t *)((char *)m + fd->quantifier_offset) = n;
    FIELD(m, fd, const char *const *) = s;
}

static void
set_repeated(ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
             const struct strlist *l)
{
    borrow_repeated(m, fd, l->v, l->n);
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

/* The result of one decision with every fact known: its relief and its
 * lists as they are (the loader already dropped repeated entries). The
 * lists are the set's own, as their strings are: nothing is copied. */
static void
fill_single(const struct cjx_rules_set *set, const struct decision *d,
            ProtobufCMessage *m)
{
    set_enum(m, set->out.relief, d->relief);
    if (d->has_range) {
        set_enum(m, set->out.floor, d->floor);
        set_enum(m, set->out.ceiling, d->ceiling);
    }
    borrow_repeated(m, set->out.reason_codes, d->reasons, d->n_reasons);
    borrow_repeated(m, set->out.citations, d->citations, d->n_citations);
    borrow_repeated(m, set->out.missing_facts, d->missing, d->n_missing);
    set_string(m, set->out.decision_id, d->id);
}

/* Combines the branches: one relief when they agree, else review with the
 * least and the most relief any branch gives. Reasons start with the
 * missing-fact codes when they disagree; lists are merged without
 * repeats; notes come last. */
static int
fill_combined(const struct cjx_rules_set *set, const struct eval_ctx *ex,
              const uint16_t *branch, int n_branch, const struct strlist *notes,
              ProtobufCMessage *m)
{
    struct cjx_arena *arena = ex->arena;
    const struct decision *first = &set->decisions[branch[0]];
    int agree = 1, lo = -1, hi = -1, unordered = 0;
    for (int i = 0; i < n_branch; i++) {
        const struct decision *d = &set->decisions[branch[i]];
        if (d->relief != first->relief || d->has_range != first->has_range ||
            (d->has_range &&
             (d->floor != first->floor || d->ceiling != first->ceiling)))
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

    struct strlist reasons = {0}, citations = {0}, missing = {0}, ids = {0};
    int rc = 0;
    if (!agree) {
        for (int i = 0; i < ex->n_unknown_order && rc == 0; i++) {
            const struct let_def *l = set->fact_of_bit[ex->unknown_order[i]];
            if (l != NULL)
                rc = strlist_add(arena, &reasons, l->missing);
        }
    }
    for (int i = 0; i < n_branch && rc == 0; i++) {
        const struct decision *d = &set->decisions[branch[i]];
        rc = strlist_add_all(arena, &reasons, d->reasons, d->n_reasons);
        if (rc == 0)
            rc = strlist_add_all(arena, &citations, d->citations,
                                 d->n_citations);
        if (rc == 0)
            rc = strlist_add_all(arena, &missing, d->missing, d->n_missing);
        if (rc == 0)
            rc = strlist_add(arena, &ids, d->id);
    }
    for (int i = 0; i < ex->n_unknown_order && rc == 0; i++) {
        const struct let_def *l = set->fact_of_bit[ex->unknown_order[i]];
        if (l != NULL)
            rc = strlist_add(arena, &missing,
                             l->field != NULL ? l->field : l->name);
    }
    if (rc == 0)
        rc = strlist_add_all(arena, &reasons, notes->v, notes->n);
    if (rc != 0)
        return rc;

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
            return CJX_ENOMEM;
        j[0] = '\0';
        for (size_t i = 0; i < ids.n; i++) {
            if (i)
                strcat(j, ",");
            strcat(j, ids.v[i]);
        }
        id = j;
    }
    set_string(m, set->out.decision_id, id);
    return 0;
}

/* A decision's condition. Most are chains of && evaluated here, saving a
 * call per decision. */
static inline struct val
eval_when(struct eval_ctx *ex, const struct node *w)
{
    if (w->op != N_AND)
        return rules_eval(ex, w);
    for (unsigned i = 0; i < w->nargs; i++) {
        struct val x = rules_eval(ex, w->args[i]);
        if (x.k != V_BOOL)
            return rules_logic_rest(ex, w, i, x, 0);
        if (!x.u.i)
            return x;
    }
    struct val t = {.k = V_BOOL};
    t.u.i = 1;
    return t;
}

/* Runs the decision list with the current fact choices, from decision
 * start on (the ones before it are known not to match). Returns the index
 * of the decision that matched, or a negative error. */
static int
run_decisions(struct eval_ctx *ex, size_t start, struct cjx_errbuf *eb)
{
    const struct cjx_rules_set *set = ex->set;
    if (set->decide != NULL && ex->compiled) {
        struct val err;
        int d = rules_vm_decide(ex, start, &err);
        if (d >= 0)
            return d;
        if (d == RULES_VM_ERROR)
            return eval_error(ex, &err, "decision",
                              set->decisions[ex->cur_dec].id, eb);
        start = set->n_decisions; /* none matched: report as below */
    }
    for (size_t i = start; i < set->n_decisions; i++) {
        const struct decision *d = &set->decisions[i];
        int s = d->lead_slot;
        if (s >= 0 && ex->slots[s].k == V_BOOL &&
            ex->slots[s].u.i == d->lead_neg) {
            i = d->skip_to - 1;
            continue;
        }
        ex->cur_dec = (int)i;
        struct val v = eval_when(ex, d->when);
        if (v.k == V_ERR)
            return eval_error(ex, &v, "decision", d->id, eb);
        if (v.u.i)
            return (int)i;
    }
    if (ex->arena->failed)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    return cjx_errf(eb, CJX_EINVAL, "%s: no decision matched", set->file);
}

/* Moves to the next combination of unknown-fact values, depth first, over
 * the choices the last run actually made, and prepares the next run: what
 * was computed before the choice that moves on (at p) was reached read
 * earlier choices only and is kept; the rest that may read facts is
 * forgotten. Returns 0 when all are done, else 1 with the decision to
 * start from in *start. */
static int
next_choice(struct eval_ctx *ex, size_t *start)
{
    ex->n_choices = ex->pos;
    while (ex->n_choices > 0) {
        struct choice *c = &ex->choices[ex->n_choices - 1];
        if (c->idx + 1 < c->n) {
            c->idx++;
            break;
        }
        ex->n_choices--;
    }
    if (ex->n_choices == 0)
        return 0;
    int p = ex->n_choices - 1;
    /* The log is in the order of computation, so pos only grows along it. */
    while (ex->n_branch_slots > 0 && ex->branch_pos[ex->n_branch_slots - 1] > p)
        ex->slots[ex->branch_slots[--ex->n_branch_slots]].k = V_UNSET;
    ex->pos = p;
    /* The decisions before the one that first reached this fact were
     * evaluated with the earlier choices only, which stay: they still do
     * not match. */
    *start = ex->choices[p].dec;
    return 1;
}

/* Decides with the tree walker, or with the compiled programs. */
static int
decide(const struct cjx_rules_set *set, const ProtobufCMessage *msg,
       struct cjx_arena *arena, ProtobufCMessage **out, struct cjx_errbuf *eb,
       int compiled)
{
    if (msg == NULL || msg->descriptor != set->message)
        return cjx_errf(eb, CJX_EINVAL, "rule set %s applies to %s", set->name,
                        set->message->name);
    if (set->output == NULL || set->n_decisions == 0)
        return cjx_errf(eb, CJX_EINVAL, "rule set %s has no decisions",
                        set->name);
    struct eval_ctx ex;
    if (rules_eval_init(&ex, set, msg, arena) != 0)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    ex.enumerate = 1;
    ex.compiled = compiled;

    uint16_t branch[RULES_MAX_BRANCHES];
    int n_branch = 0;
    int procedure = 0, have_procedure = 0;
    struct strlist notes = {0};
    size_t start = 0;
    do {
        int d = run_decisions(&ex, start, eb);
        if (d < 0)
            return d;
        if (n_branch == RULES_MAX_BRANCHES || ex.overflow)
            return cjx_errf(eb, CJX_ELIMIT,
                            "%s: too many combinations of "
                            "unknown facts",
                            set->file);
        branch[n_branch++] = (uint16_t)d;
        if (n_branch == 1) {
            /* The procedure and notes are read with the first branch's
             * facts; they describe the count, not the relief. A fact they
             * reach first is enumerated from decision d on. */
            const struct node *pn = set->decisions[d].procedure != NULL
                                        ? set->decisions[d].procedure
                                        : set->procedure;
            if (pn != NULL) {
                struct val p = rules_eval_top(&ex, pn);
                if (p.k == V_ERR)
                    return eval_error(&ex, &p, "procedure of decision",
                                      set->decisions[d].id, eb);
                procedure = (int)p.u.i;
                have_procedure = 1;
            }
            for (size_t i = 0; i < set->n_notes; i++) {
                struct val r = rules_eval_top(&ex, set->notes[i].when);
                if (r.k == V_ERR)
                    return eval_error(&ex, &r, "note", "when", eb);
                if (r.u.i &&
                    strlist_add_all(arena, &notes, set->notes[i].reasons,
                                    set->notes[i].n_reasons) != 0)
                    return cjx_errf(eb, CJX_ENOMEM, "out of memory");
            }
        }
    } while (next_choice(&ex, &start));

    ProtobufCMessage *m = cjx_arena_alloc(arena, set->output->sizeof_message);
    if (m == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    protobuf_c_message_init(set->output, m);
    if (n_branch == 1 && ex.n_unknown_order == 0 && notes.n == 0)
        fill_single(set, &set->decisions[branch[0]], m);
    else if (fill_combined(set, &ex, branch, n_branch, &notes, m) != 0)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    if (have_procedure)
        set_enum(m, set->out.procedure, procedure);
    set_string(m, set->out.rule_set, set->name);
    set_string(m, set->out.rule_set_version, set->version);
    if (arena->failed)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    *out = m;
    return 0;
}

int
cjx_rules_decide(const struct cjx_rules_set *set, const ProtobufCMessage *msg,
                 struct cjx_arena *arena, ProtobufCMessage **out,
                 struct cjx_errbuf *eb)
{
    return decide(set, msg, arena, out, eb, 0);
}

int
cjx_rules_decide_compiled(const struct cjx_rules_set *set,
                          const ProtobufCMessage *msg, struct cjx_arena *arena,
                          ProtobufCMessage **out, struct cjx_errbuf *eb)
{
    return decide(set, msg, arena, out, eb, 1);
}
