/* Compiling specialised expression trees to flat register-machine programs (run by vm.c). */
#include <stdlib.h>
#include <string.h>

#include "bytecode.h"

/* Registers are allocated as a stack: an expression computed into r[d]
 * uses r[d + 1] and up for its operands. The tree's height is bounded at
 * parse time, and so is the register count. */
enum { MAX_REGS = 255 };
/* A run's registers and let frames, its lets run in place included: 16 KiB
 * of registers at most. */
enum { MAX_RUN_REGS = 1024, MAX_RUN_FRAMES = 64 };

struct compiler {
    struct insn *code;
    size_t n, cap;
    unsigned max_reg;
    size_t label; /* the last position a jump targets */
    int failed;
};

static uint32_t
emit(struct compiler *c, struct insn in)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct insn *code = realloc(c->code, cap * sizeof(*code));
        if (code == NULL) {
            c->failed = 1;
            return 0;
        }
        c->code = code;
        c->cap = cap;
    }
    if (in.d > c->max_reg)
        c->max_reg = in.d;
    c->code[c->n] = in;
    return (uint32_t)c->n++;
}

static uint32_t
here(const struct compiler *c)
{
    return (uint32_t)c->n;
}

/* Sets the jump target of instruction at (when it was emitted) to here. */
static void
patch(struct compiler *c, uint32_t at)
{
    c->label = c->n;
    if (!c->failed)
        c->code[at].t = here(c);
}

/* Makes the value just computed into r[d + 1] an operand of the && or ||
 * chain accumulating in r[d], jumping to target when it decides: by
 * giving the instruction that computed it the step, or by a OP_STEP.
 * Returns the instruction, whose t2 is the target. */
static uint32_t
step(struct compiler *c, unsigned d, enum step kind, uint32_t target)
{
    if (!c->failed && c->n > 0 && c->label != c->n) {
        struct insn *last = &c->code[c->n - 1];
        if (last->op <= OP_TREE && last->d == d + 1 && last->step == 0) {
            last->d = (uint8_t)d;
            last->step = (uint8_t)kind;
            last->t2 = target;
            return (uint32_t)(c->n - 1);
        }
    }
    return emit(c, (struct insn){.op = OP_STEP,
                                 .d = (uint8_t)d,
                                 .a = (uint8_t)(d + 1),
                                 .step = (uint8_t)kind,
                                 .t2 = target});
}

/* A field whose message is reached from the root through singular message
 * fields that are not oneof members is walked by offsets alone. */
static void
field_path(struct insn *in, const struct node *f)
{
    in->n = f;
    in->n_path = 0xFF;
    if (f->base != NULL || f->path_len > 3)
        return;
    for (unsigned i = 0; i < f->path_len; i++) {
        const ProtobufCFieldDescriptor *fd = f->path[i];
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || fd->offset > 0xFFFF)
            return;
        in->path[i] = (uint16_t)fd->offset;
    }
    in->n_path = f->path_len;
}

static unsigned
reg(struct compiler *c, unsigned d)
{
    if (d >= MAX_REGS)
        c->failed = 1;
    return d;
}

static void compile(struct compiler *c, const struct node *n, unsigned d);

/* An && (stop 0) or || (stop 1) chain into r[d]. The steps, whose target
 * is the end, are chained through their targets until it is known. */
static void
compile_logic(struct compiler *c, const struct node *n, unsigned d, int stop)
{
    emit(c, (struct insn){.op = OP_BOOL, .d = (uint8_t)d, .t = !stop});
    uint32_t last = UINT32_MAX;
    for (unsigned i = 0; i < n->nargs; i++) {
        compile(c, n->args[i], reg(c, d + 1));
        last = step(c, d, stop ? STEP_OR : STEP_AND, last);
    }
    c->label = c->n;
    while (last != UINT32_MAX && !c->failed) {
        uint32_t prev = c->code[last].t2;
        c->code[last].t2 = here(c);
        last = prev;
    }
}

static void
compile_cond(struct compiler *c, const struct node *n, unsigned d)
{
    compile(c, n->a, d);
    uint32_t br = emit(
        c, (struct insn){.op = OP_BRANCH, .d = (uint8_t)d, .a = (uint8_t)d});
    compile(c, n->b, d);
    uint32_t jump = emit(c, (struct insn){.op = OP_JUMP});
    patch(c, br);
    compile(c, n->c, d);
    patch(c, jump);
    if (!c->failed)
        c->code[br].t2 = here(c);
}

/* A comparison or membership test the specialiser recognised, or 0. */
static int
compile_test(struct compiler *c, const struct node *n, unsigned d)
{
    struct insn in = {.d = (uint8_t)d, .mask = n->rk};
    switch (rules_spec_of(n)) {
    case SPEC_CMP_FIELD_CONST:
        in.op = OP_CMP_FIELD_K;
        field_path(&in, n->a);
        in.x.k = &n->b->lit;
        break;
    case SPEC_EQ_FIELD_CONST:
        in.op = OP_EQ_FIELD_K;
        field_path(&in, n->a);
        in.x.k = &n->b->lit;
        in.mask = n->sub != OP_EQ;
        break;
    case SPEC_IN_SET_FIELD:
        in.op = OP_IN_SET_FIELD;
        field_path(&in, n->a);
        in.x.set = n->set;
        break;
    case SPEC_CMP_INT_CONST:
        compile(c, n->a, d);
        in.op = OP_CMP_K;
        in.a = (uint8_t)d;
        in.x.k = &n->b->lit;
        break;
    case SPEC_CMP_INTS:
        compile(c, n->a, d);
        compile(c, n->b, reg(c, d + 1));
        in.op = OP_CMP_REGS;
        in.a = (uint8_t)d;
        in.b = (uint8_t)(d + 1);
        break;
    case SPEC_EQ_STRINGS:
        compile(c, n->a, d);
        in.a = (uint8_t)d;
        in.mask = n->sub != OP_EQ;
        if (n->b->op == N_LIT) {
            in.op = OP_EQ_STR_K;
            in.x.k = &n->b->lit;
        } else {
            compile(c, n->b, reg(c, d + 1));
            in.op = OP_EQ_STR_REGS;
            in.b = (uint8_t)(d + 1);
        }
        break;
    case SPEC_IN_SET:
        compile(c, n->a, d);
        in.op = OP_IN_SET;
        in.a = (uint8_t)d;
        in.x.set = n->set;
        break;
    default:
        return 0;
    }
    emit(c, in);
    return 1;
}

static void
compile(struct compiler *c, const struct node *n, unsigned d)
{
    struct insn in = {.d = (uint8_t)d, .n = n};
    switch (n->op) {
    case N_LIT:
        in.op = OP_LIT;
        in.x.k = &n->lit;
        break;
    case N_LET:
    case N_FACT:
    case N_LOOPVAR:
        in.op = n->op == N_LET    ? OP_LET
                : n->op == N_FACT ? OP_FACT
                                  : OP_LOOPVAR;
        in.t = (uint32_t)n->slot;
        break;
    case N_SELECT:
    case N_HAS: {
        enum rules_spec s = rules_spec_of(n);
        if (s != SPEC_FIELD && s != SPEC_HAS) {
            in.op = OP_TREE;
            break;
        }
        in.op = s == SPEC_FIELD ? OP_FIELD : OP_HAS;
        field_path(&in, n);
        break;
    }
    case N_NOT:
        compile(c, n->a, d);
        in.op = OP_NOT;
        in.a = (uint8_t)d;
        break;
    case N_AND:
    case N_OR:
        compile_logic(c, n, d, n->op == N_OR);
        return;
    case N_COND:
        compile_cond(c, n, d);
        return;
    case N_BINOP:
    case N_IN_SET:
        if (compile_test(c, n, d))
            return;
        in.op = OP_TREE;
        break;
    default:
        /* Calls, macros, lists, indexing, arithmetic and the rarer
         * comparisons: the tree walker's evaluator of the node. */
        in.op = OP_TREE;
        break;
    }
    emit(c, in);
}

/* Moves the compiled code into the arena as a program. */
static const struct prog *
finish(struct compiler *c, struct cjx_arena *arena, const uint32_t *entry,
       size_t n_entry)
{
    struct prog *p = NULL;
    if (!c->failed)
        p = cjx_arena_alloc(arena, sizeof(*p));
    struct insn *code =
        p != NULL ? cjx_arena_alloc(arena, c->n * sizeof(*code)) : NULL;
    uint32_t *ent = NULL;
    if (code != NULL && n_entry > 0)
        ent = cjx_arena_alloc(arena, n_entry * sizeof(*ent));
    if (code == NULL || (n_entry > 0 && ent == NULL)) {
        free(c->code);
        return NULL;
    }
    memcpy(code, c->code, c->n * sizeof(*code));
    free(c->code);
    if (n_entry > 0)
        memcpy(ent, entry, n_entry * sizeof(*ent));
    p->code = code;
    p->n_code = (uint32_t)c->n;
    p->n_regs = c->max_reg + 1;
    p->n_frames = 0;
    p->entry = ent;
    return p;
}

int
rules_compile_expr(struct cjx_arena *arena, struct node *root)
{
    if (root == NULL)
        return 0;
    struct compiler c = {0};
    compile(&c, root, 0);
    emit(&c, (struct insn){.op = OP_RET});
    root->prog = finish(&c, arena, NULL, 0);
    return root->prog != NULL ? 0 : CJX_ENOMEM;
}

/* The decisions in order. A decision's && chain is compiled in place: an
 * operand that is false goes straight to the next decision, and a false
 * lead (a let or fact, maybe negated) to the first decision with another
 * lead, as the tree's decide loop skips them. */
static int
compile_decisions(struct cjx_rules_set *set)
{
    size_t nd = set->n_decisions;
    uint32_t *entry = malloc((nd + 1) * sizeof(*entry));
    /* Jumps to decisions not compiled yet: (instruction, decision). */
    uint32_t *fix_at = malloc((nd * 258 + 1) * sizeof(*fix_at));
    uint32_t *fix_to = malloc((nd * 258 + 1) * sizeof(*fix_to));
    struct compiler c = {0};
    size_t n_fix = 0;
    if (entry == NULL || fix_at == NULL || fix_to == NULL)
        c.failed = 1;
    for (size_t i = 0; i < nd && !c.failed; i++) {
        const struct decision *dec = &set->decisions[i];
        const struct node *w = dec->when;
        size_t skip = dec->lead_slot >= 0 ? dec->skip_to : i + 1;
        entry[i] = here(&c);
        c.label = c.n;
        fix_at[n_fix] =
            emit(&c, (struct insn){.op = OP_DECISION,
                                   .a = dec->lead_slot >= 0,
                                   .mask = (uint8_t)dec->lead_neg,
                                   .t = (uint32_t)i,
                                   .x.lead = (uint32_t)dec->lead_slot});
        fix_to[n_fix++] = (uint32_t)skip;
        uint32_t m;
        if (w->op == N_AND) {
            for (unsigned j = 0; j < w->nargs; j++) {
                compile(&c, w->args[j], 1);
                fix_at[n_fix] = step(&c, 0, STEP_AND, 0);
                fix_to[n_fix++] = (uint32_t)(j == 0 ? skip : i + 1);
            }
            m = emit(&c,
                     (struct insn){.op = OP_MATCH, .a = 0, .t = (uint32_t)i});
            fix_to[n_fix] = (uint32_t)(i + 1);
        } else {
            compile(&c, w, 0);
            m = emit(&c,
                     (struct insn){.op = OP_MATCH, .a = 0, .t = (uint32_t)i});
            /* A lone lead: false skips its group. */
            fix_to[n_fix] = (uint32_t)skip;
        }
        fix_at[n_fix++] = m;
    }
    if (entry != NULL)
        entry[nd] = here(&c);
    emit(&c, (struct insn){.op = OP_NO_MATCH});
    for (size_t k = 0; k < n_fix && !c.failed; k++)
        c.code[fix_at[k]].t2 = entry[fix_to[k]];
    set->decide = finish(&c, &set->arena, entry, nd + 1);
    free(entry);
    free(fix_at);
    free(fix_to);
    return set->decide != NULL ? 0 : CJX_ENOMEM;
}

/* ---- what a run needs -------------------------------------------------- */

/* A let's program runs in place, in the registers above the one it is
 * computed into: a program needs, besides its own registers, those of the
 * deepest let it reaches, and a frame for each let on the way. Lets form
 * no cycle (the loader refuses them). */
static void add_needs(const struct cjx_rules_set *set, struct prog *p,
                      uint8_t *state);

static const struct prog *
let_prog(const struct cjx_rules_set *set, uint8_t *state, uint32_t slot)
{
    if (slot >= set->n_lets || set->lets[slot].is_fact ||
        set->lets[slot].expr == NULL)
        return NULL;
    struct prog *q = (struct prog *)set->lets[slot].expr->prog;
    if (q != NULL && state[slot] == 0) {
        state[slot] = 1;
        add_needs(set, q, state);
        state[slot] = 2;
    }
    return state[slot] == 2 ? q : NULL;
}

static void
add_needs(const struct cjx_rules_set *set, struct prog *p, uint8_t *state)
{
    for (uint32_t i = 0; i < p->n_code; i++) {
        const struct insn *in = &p->code[i];
        if (in->op != OP_LET)
            continue;
        const struct prog *q = let_prog(set, state, in->t);
        /* Beyond the bounds a let is computed by a call instead (vm.c
         * checks the same), so that a run's stack stays small whatever
         * the rule file. */
        if (q == NULL || in->d + q->n_regs > MAX_RUN_REGS ||
            q->n_frames + 1 > MAX_RUN_FRAMES)
            continue;
        if (in->d + q->n_regs > p->n_regs)
            p->n_regs = in->d + q->n_regs;
        if (q->n_frames + 1 > p->n_frames)
            p->n_frames = q->n_frames + 1;
    }
}

static void
needs_of(const struct cjx_rules_set *set, const struct node *root,
         uint8_t *state)
{
    if (root != NULL && root->prog != NULL)
        add_needs(set, (struct prog *)root->prog, state);
}

static int
compute_needs(struct cjx_rules_set *set)
{
    uint8_t *state = calloc(set->n_lets + 1, 1);
    if (state == NULL)
        return CJX_ENOMEM;
    for (size_t i = 0; i < set->n_lets; i++) {
        let_prog(set, state, (uint32_t)i);
        needs_of(set, set->lets[i].known, state);
        needs_of(set, set->lets[i].domain, state);
        if (set->lets[i].is_fact)
            needs_of(set, set->lets[i].expr, state);
    }
    for (size_t i = 0; i < set->n_validations; i++)
        needs_of(set, set->validations[i].rule, state);
    for (size_t i = 0; i < set->n_decisions; i++)
        needs_of(set, set->decisions[i].procedure, state);
    for (size_t i = 0; i < set->n_notes; i++)
        needs_of(set, set->notes[i].when, state);
    needs_of(set, set->procedure, state);
    if (set->decide != NULL)
        add_needs(set, (struct prog *)set->decide, state);
    free(state);
    return 0;
}

int
rules_compile_set(struct cjx_rules_set *set)
{
    int rc = 0;
    struct cjx_arena *a = &set->arena;
    for (size_t i = 0; i < set->n_lets && rc == 0; i++) {
        rc = rules_compile_expr(a, set->lets[i].expr);
        if (rc == 0)
            rc = rules_compile_expr(a, set->lets[i].known);
        if (rc == 0)
            rc = rules_compile_expr(a, set->lets[i].domain);
    }
    for (size_t i = 0; i < set->n_validations && rc == 0; i++)
        rc = rules_compile_expr(a, set->validations[i].rule);
    for (size_t i = 0; i < set->n_decisions && rc == 0; i++)
        rc = rules_compile_expr(a, set->decisions[i].procedure);
    for (size_t i = 0; i < set->n_notes && rc == 0; i++)
        rc = rules_compile_expr(a, set->notes[i].when);
    if (rc == 0)
        rc = rules_compile_expr(a, set->procedure);
    if (rc == 0 && set->n_decisions > 0)
        rc = compile_decisions(set);
    if (rc == 0)
        rc = compute_needs(set);
    return rc;
}
