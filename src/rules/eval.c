/* Tree-walking evaluator: one function per operator, CEL error semantics, lets computed once. */
#include <stddef.h>
#include <string.h>

#include "rules_internal.h"

#define mkbool rules_mkbool
#define mkint  rules_mkint

int
rules_eval_init(struct eval_ctx *ex, const struct cjx_rules_set *set,
                const ProtobufCMessage *msg, struct cjx_arena *arena)
{
    memset(ex, 0, offsetof(struct eval_ctx, choices));
    ex->set = set;
    ex->root = msg;
    ex->arena = arena;
    size_t n = (size_t)(set->n_slots > 0 ? set->n_slots : 1);
    size_t n_lets = set->n_lets > 0 ? set->n_lets : 1;
    /* One block: the slots, then the log of branch values. */
    size_t size = n * sizeof(struct val) + n_lets * (sizeof(uint16_t) + 1);
    char *p = size <= sizeof(ex->slot_buf) ? ex->slot_buf
                                           : cjx_arena_alloc(arena, size);
    if (p == NULL)
        return CJX_ENOMEM;
    ex->slots = (struct val *)p;
    ex->branch_slots = (uint16_t *)(p + n * sizeof(struct val));
    ex->branch_pos = (uint8_t *)(ex->branch_slots + n_lets);
    /* Let slots start as V_UNSET (0xFF in every byte will do); loop
     * variables are written before they are read. */
    memset(ex->slots, 0xFF, set->n_lets * sizeof(struct val));
    return 0;
}

/* ---- lets and facts --------------------------------------------------- */

/* A fact whose `known` condition fails takes, in turn, each value of its
 * domain: the decide loop replays the decisions once per combination of
 * the unknown facts actually reached (see ruleset.c). */
static struct val
eval_fact(struct eval_ctx *ex, const struct node *n, const struct let_def *l,
          int *known)
{
    *known = 1;
    if (l->known != NULL) {
        struct val k = rules_eval_top(ex, l->known);
        /* A `known` that cannot be evaluated means the fact is unknown. */
        if (k.k == V_BOOL && k.u.i)
            return rules_eval_top(ex, l->expr);
    }
    *known = 0;
    if (!ex->enumerate)
        return rules_err(n, E_FACT_UNKNOWN);
    struct val dom = rules_eval_top(ex, l->domain);
    if (dom.k == V_ERR)
        return dom;
    size_t len = dom.n;
    if (len == 0)
        return rules_err(n, E_DOMAIN_EMPTY);
    unsigned idx;
    if (ex->pos < ex->n_choices) {
        idx = ex->choices[ex->pos].idx;
        if (idx >= len)
            return rules_err(n, E_DOMAIN_CHANGED);
    } else {
        if (ex->n_choices == RULES_MAX_CHOICES || len > UINT16_MAX) {
            ex->overflow = 1;
            return rules_err(n, E_TOO_MANY_FACTS);
        }
        struct choice *c = &ex->choices[ex->n_choices++];
        c->idx = 0;
        c->n = (uint16_t)len;
        c->dec = (uint16_t)ex->cur_dec;
        idx = 0;
    }
    ex->pos++;
    uint64_t bit = UINT64_C(1) << (unsigned)l->fact_bit;
    if (!(ex->unknown_used & bit)) {
        ex->unknown_used |= bit;
        ex->unknown_order[ex->n_unknown_order++] = (uint8_t)l->fact_bit;
    }
    return rules_list_at(&dom, idx);
}

struct val
rules_eval_let(struct eval_ctx *ex, const struct node *n)
{
    int s = n->slot;
    if (ex->slots[s].k != V_UNSET)
        return ex->slots[s];
    const struct let_def *l = &ex->set->lets[s];
    struct val v = rules_eval_top(ex, l->expr);
    rules_let_done(ex, s, v);
    return v;
}

/* Facts apart: their evaluation is larger, and lets are the common case. */
struct val
rules_eval_fact(struct eval_ctx *ex, const struct node *n)
{
    int s = n->slot;
    if (ex->slots[s].k != V_UNSET)
        return ex->slots[s];
    const struct let_def *l = &ex->set->lets[s];
    int known;
    struct val v = eval_fact(ex, n, l, &known);
    ex->slots[s] = v;
    if (!(known && l->stable))
        rules_log_branch_value(ex, s);
    return v;
}

/* ---- leaves ----------------------------------------------------------- */

static struct val
ev_lit(struct eval_ctx *ex, const struct node *n)
{
    (void)ex;
    return n->lit;
}

static struct val
ev_loopvar(struct eval_ctx *ex, const struct node *n)
{
    return ex->slots[n->slot];
}

/* Field selection and has() for any field: walk the fused path, then
 * read through the descriptor. */
static struct val
ev_select(struct eval_ctx *ex, const struct node *n)
{
    const ProtobufCMessage *m;
    struct val err;
    if (rules_field_msg(ex, n, &m, &err))
        return err;
    if (n->op == N_HAS)
        return mkbool(rules_has_field(n, m));
    return rules_read_field(ex, n, m);
}

/* ---- operators -------------------------------------------------------- */

static struct val
concat(struct eval_ctx *ex, const struct node *n, const struct val *x,
       const struct val *y)
{
    if (x->k == V_STRING) {
        char *s = cjx_arena_alloc(ex->arena, (size_t)x->n + y->n + 1);
        if (s == NULL)
            return rules_err(n, E_NOMEM);
        memcpy(s, x->u.s, x->n);
        memcpy(s + x->n, y->u.s, y->n);
        s[x->n + y->n] = '\0';
        struct val v = {.k = V_STRING, .n = x->n + y->n};
        v.u.s = s;
        return v;
    }
    size_t a = x->n, b = y->n;
    struct val *items =
        cjx_arena_alloc(ex->arena, (a + b + 1) * sizeof(*items));
    if (items == NULL)
        return rules_err(n, E_NOMEM);
    for (size_t i = 0; i < a; i++)
        items[i] = rules_list_at(x, i);
    for (size_t i = 0; i < b; i++)
        items[a + i] = rules_list_at(y, i);
    struct val v = {.k = V_LIST, .lk = L_ARRAY, .n = (uint32_t)(a + b)};
    v.u.items = items;
    return v;
}

static struct val
arith(struct eval_ctx *ex, const struct node *n, const struct val *x,
      const struct val *y)
{
    if (x->k == V_STRING || x->k == V_LIST)
        return concat(ex, n, x, y);
    if (x->k == V_DOUBLE) {
        struct val v = {.k = V_DOUBLE};
        switch (n->sub) {
        case OP_ADD:
            v.u.d = x->u.d + y->u.d;
            break;
        case OP_SUB:
            v.u.d = x->u.d - y->u.d;
            break;
        case OP_MUL:
            v.u.d = x->u.d * y->u.d;
            break;
        default:
            v.u.d = x->u.d / y->u.d;
            break;
        }
        return v;
    }
    int64_t a = x->u.i, b = y->u.i, r = 0;
    int over = 0;
    switch (n->sub) {
    case OP_ADD:
        over = __builtin_add_overflow(a, b, &r);
        break;
    case OP_SUB:
        over = __builtin_sub_overflow(a, b, &r);
        break;
    case OP_MUL:
        over = __builtin_mul_overflow(a, b, &r);
        break;
    case OP_DIV:
        if (b == 0)
            return rules_err(n, E_DIV_ZERO);
        if (a == INT64_MIN && b == -1)
            return rules_err(n, E_OVERFLOW);
        r = a / b;
        break;
    case OP_MOD:
        if (b == 0)
            return rules_err(n, E_MOD_ZERO);
        if (a == INT64_MIN && b == -1)
            return rules_err(n, E_OVERFLOW);
        r = a % b;
        break;
    }
    if (over)
        return rules_err(n, E_OVERFLOW);
    return mkint(r);
}

static struct val
ev_binop(struct eval_ctx *ex, const struct node *n)
{
    struct val x, y;
    if (rules_eval_operands(ex, n, &x, &y))
        return x;
    int c;
    /* The common cases, equality of two strings or two integers, without
     * the general comparison. */
    if ((n->sub == OP_EQ || n->sub == OP_NE) && x.k == y.k) {
        int eq;
        if (x.k == V_STRING)
            eq = x.n == y.n && memcmp(x.u.s, y.u.s, x.n) == 0;
        else if (x.k == V_INT || x.k == V_ENUM || x.k == V_BOOL ||
                 x.k == V_DATE)
            eq = x.u.i == y.u.i;
        else
            eq = rules_val_equal(&x, &y);
        return mkbool(n->sub == OP_EQ ? eq : !eq);
    }
    switch (n->sub) {
    case OP_EQ:
        return mkbool(rules_val_equal(&x, &y));
    case OP_NE:
        return mkbool(!rules_val_equal(&x, &y));
    case OP_LT:
        return mkbool(rules_val_compare(&x, &y, &c) == 0 && c < 0);
    case OP_LE:
        return mkbool(rules_val_compare(&x, &y, &c) == 0 && c <= 0);
    case OP_GT:
        return mkbool(rules_val_compare(&x, &y, &c) == 0 && c > 0);
    case OP_GE:
        return mkbool(rules_val_compare(&x, &y, &c) == 0 && c >= 0);
    default:
        return arith(ex, n, &x, &y);
    }
}

static struct val
ev_in_set(struct eval_ctx *ex, const struct node *n)
{
    struct val x = rules_eval(ex, n->a);
    if (x.k == V_ERR)
        return x;
    const struct strset *s = n->set;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct val *e = &s->items[mid];
        int c =
            e->n != x.n ? (e->n < x.n ? -1 : 1) : memcmp(e->u.s, x.u.s, x.n);
        if (c == 0)
            return mkbool(1);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return mkbool(0);
}

static struct val
ev_in(struct eval_ctx *ex, const struct node *n)
{
    struct val x, l;
    if (rules_eval_operands(ex, n, &x, &l))
        return x;
    size_t len = l.n;
    for (size_t i = 0; i < len; i++) {
        struct val e = rules_list_at(&l, i);
        if (e.k != V_ERR && rules_val_equal(&x, &e))
            return mkbool(1);
    }
    return mkbool(0);
}

static struct val
ev_list(struct eval_ctx *ex, const struct node *n)
{
    int k = n->slot;
    struct val *items =
        cjx_arena_alloc(ex->arena, (size_t)(k + 1) * sizeof(*items));
    if (items == NULL)
        return rules_err(n, E_NOMEM);
    for (int i = 0; i < k; i++) {
        items[i] = rules_eval(ex, n->args[i]);
        if (items[i].k == V_ERR)
            return items[i];
    }
    struct val v = {.k = V_LIST, .lk = L_ARRAY, .n = (uint32_t)k};
    v.u.items = items;
    return v;
}

static struct val
ev_index(struct eval_ctx *ex, const struct node *n)
{
    struct val l, i;
    if (rules_eval_operands(ex, n, &l, &i))
        return l;
    if (i.u.i < 0 || (uint64_t)i.u.i >= l.n)
        return rules_err(n, E_INDEX_RANGE);
    struct val e = rules_list_at(&l, (size_t)i.u.i);
    if (e.k == V_ERR && e.u.at == NULL)
        e.u.at = n;
    return e;
}

static struct val
ev_not(struct eval_ctx *ex, const struct node *n)
{
    struct val x = rules_eval(ex, n->a);
    if (x.k == V_ERR)
        return x;
    return mkbool(!x.u.i);
}

static struct val
ev_neg(struct eval_ctx *ex, const struct node *n)
{
    struct val x = rules_eval(ex, n->a);
    if (x.k == V_ERR)
        return x;
    if (x.k == V_DOUBLE) {
        x.u.d = -x.u.d;
        return x;
    }
    if (x.u.i == INT64_MIN)
        return rules_err(n, E_OVERFLOW);
    return mkint(-x.u.i);
}

/* Commutative error absorption: one false (for ||, one true) decides even
 * if other operands are errors; otherwise the first error, else the
 * identity. The loops below stop at the first operand that is not a bool
 * and hand over here, which keeps them small: errors are rare. */
struct val
rules_logic_rest(struct eval_ctx *ex, const struct node *n, unsigned i,
                 struct val err, int stop)
{
    for (i++; i < n->nargs; i++) {
        struct val x = rules_eval(ex, n->args[i]);
        if (x.k == V_BOOL && x.u.i == stop)
            return x;
    }
    return err;
}

static struct val
ev_and(struct eval_ctx *ex, const struct node *n)
{
    for (unsigned i = 0; i < n->nargs; i++) {
        struct val x = rules_eval(ex, n->args[i]);
        if (x.k != V_BOOL)
            return rules_logic_rest(ex, n, i, x, 0);
        if (!x.u.i)
            return x;
    }
    return mkbool(1);
}

static struct val
ev_or(struct eval_ctx *ex, const struct node *n)
{
    for (unsigned i = 0; i < n->nargs; i++) {
        struct val x = rules_eval(ex, n->args[i]);
        if (x.k != V_BOOL)
            return rules_logic_rest(ex, n, i, x, 1);
        if (x.u.i)
            return x;
    }
    return mkbool(0);
}

static struct val
ev_cond(struct eval_ctx *ex, const struct node *n)
{
    return rules_eval_branch(ex, n, rules_eval(ex, n->a));
}

/* l.all(x, p) (stop 0) and l.exists(x, p) (stop 1) absorb errors as &&
 * and || do: one false element makes all() false (one true makes exists()
 * true) even if other elements error. */
static struct val
quantify(struct eval_ctx *ex, const struct node *n, int stop)
{
    struct val l = rules_eval(ex, n->a);
    if (l.k == V_ERR)
        return l;
    struct val *slot = &ex->slots[n->slot];
    struct val err = {.k = V_NULL};
    for (size_t i = 0; i < l.n; i++) {
        *slot = rules_list_item(&l, i);
        if (slot->k == V_ERR && slot->u.at == NULL)
            slot->u.at = n;
        struct val r = rules_eval(ex, n->b);
        if (r.k == V_ERR)
            err = r;
        else if (r.u.i == stop)
            return r;
    }
    return err.k == V_ERR ? err : mkbool(!stop);
}

static struct val
ev_all(struct eval_ctx *ex, const struct node *n)
{
    return quantify(ex, n, 0);
}

static struct val
ev_exists(struct eval_ctx *ex, const struct node *n)
{
    return quantify(ex, n, 1);
}

/* The other macros: exists_one, filter and map. */
static struct val
ev_macro(struct eval_ctx *ex, const struct node *n)
{
    struct val l = rules_eval(ex, n->a);
    if (l.k == V_ERR)
        return l;
    size_t len = l.n;
    struct val *slot = &ex->slots[n->slot];
    struct val err = {.k = V_NULL};
    struct val *out = NULL;
    size_t n_out = 0, count = 0;
    if (n->sub == M_MAP || n->sub == M_FILTER) {
        out = cjx_arena_alloc(ex->arena, (len + 1) * sizeof(*out));
        if (out == NULL)
            return rules_err(n, E_NOMEM);
    }
    for (size_t i = 0; i < len; i++) {
        *slot = rules_list_item(&l, i);
        if (slot->k == V_ERR && slot->u.at == NULL)
            slot->u.at = n;
        struct val r = rules_eval(ex, n->b);
        switch (n->sub) {
        case M_ALL:
            if (r.k == V_ERR)
                err = r;
            else if (!r.u.i)
                return mkbool(0);
            break;
        case M_EXISTS:
            if (r.k == V_ERR)
                err = r;
            else if (r.u.i)
                return mkbool(1);
            break;
        case M_EXISTS_ONE:
            if (r.k == V_ERR)
                return r;
            count += r.u.i != 0;
            break;
        case M_FILTER:
            if (r.k == V_ERR)
                return r;
            if (r.u.i)
                out[n_out++] = *slot;
            break;
        case M_MAP:
            if (r.k == V_ERR)
                return r;
            if (n->c != NULL) {
                if (!r.u.i)
                    break;
                r = rules_eval(ex, n->c);
                if (r.k == V_ERR)
                    return r;
            }
            out[n_out++] = r;
            break;
        }
    }
    switch (n->sub) {
    case M_ALL:
        return err.k == V_ERR ? err : mkbool(1);
    case M_EXISTS:
        return err.k == V_ERR ? err : mkbool(0);
    case M_EXISTS_ONE:
        return mkbool(count == 1);
    default: {
        struct val v = {.k = V_LIST, .lk = L_ARRAY, .n = (uint32_t)n_out};
        v.u.items = out;
        return v;
    }
    }
}

static struct val
ev_unresolved(struct eval_ctx *ex, const struct node *n)
{
    (void)ex;
    return rules_err(n, E_UNRESOLVED);
}

/* ---- dispatch --------------------------------------------------------- */

rules_eval_fn
rules_op_evaluator(const struct node *n)
{
    switch (n->op) {
    case N_LIT:
        return ev_lit;
    case N_SELECT:
    case N_HAS:
        return ev_select;
    case N_LET:
        return rules_eval_let;
    case N_FACT:
        return rules_eval_fact;
    case N_LOOPVAR:
        return ev_loopvar;
    case N_LIST:
        return ev_list;
    case N_INDEX:
        return ev_index;
    case N_NOT:
        return ev_not;
    case N_NEG:
        return ev_neg;
    case N_AND:
        return ev_and;
    case N_OR:
        return ev_or;
    case N_COND:
        return ev_cond;
    case N_BINOP:
        return ev_binop;
    case N_IN:
        return ev_in;
    case N_IN_SET:
        return ev_in_set;
    case N_CALL:
        return rules_fn_call;
    case N_MACRO:
        return n->sub == M_ALL      ? ev_all
               : n->sub == M_EXISTS ? ev_exists
                                    : ev_macro;
    default:
        return ev_unresolved;
    }
}

struct val
rules_eval_generic(struct eval_ctx *ex, const struct node *n)
{
    return rules_op_evaluator(n)(ex, n);
}
