/* Specialised evaluators chosen once a set is compiled: typed field reads, comparisons with constants, sum of a map. */
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "rules_internal.h"

#define mkbool rules_mkbool

/* ---- field reads ------------------------------------------------------ */

/* A singular field of a type known at load (rules_read_kind): no
 * descriptor is consulted, and an unset message reads as zero or "". */
static struct val
ev_field(struct eval_ctx *ex, const struct node *n)
{
    const ProtobufCMessage *m;
    struct val err;
    if (rules_field_msg(ex, n, &m, &err))
        return err;
    return rules_field_value(ex, n, m);
}

static enum presence
presence_kind(const struct node *n)
{
    const ProtobufCFieldDescriptor *fd = n->fd;
    if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
        fd->label == PROTOBUF_C_LABEL_REPEATED ||
        fd->label == PROTOBUF_C_LABEL_REQUIRED)
        return P_GENERIC;
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
        return n->date != NULL ? P_DATE : P_MSG;
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL)
        return fd->type == PROTOBUF_C_TYPE_STRING ? P_GENERIC : P_FLAG;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
        return P_NONEMPTY;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return P_NONZERO32;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return P_NONZERO64;
    case PROTOBUF_C_TYPE_BOOL:
        return P_BOOL;
    default: /* floats */
        return P_GENERIC;
    }
}

static struct val
ev_has(struct eval_ctx *ex, const struct node *n)
{
    const ProtobufCMessage *m;
    struct val err;
    if (rules_field_msg(ex, n, &m, &err))
        return err;
    return mkbool(rules_field_present(n, m));
}

/* ---- comparisons with a constant -------------------------------------- */

/* n->rk holds the truth of the comparison for each order of the operands:
 * bit c + 1 for c = -1, 0, 1. */
static uint8_t
cmp_mask(int sub)
{
    switch (sub) {
    case OP_EQ:
        return 2;
    case OP_NE:
        return 5;
    case OP_LT:
        return 1;
    case OP_LE:
        return 3;
    case OP_GT:
        return 4;
    default:
        return 6;
    }
}

/* int, enum, bool and date operands compare as integers, whatever mix of
 * these kinds (the general comparison does the same). */
static inline struct val
cmp_int_const(struct eval_ctx *ex, const struct node *n)
{
    struct val x = rules_eval(ex, n->a);
    if (x.k == V_ERR)
        return x;
    return rules_cmp_result(n->rk, rules_order3(x.u.i, n->b->lit.u.i));
}

static struct val
ev_cmp_int_const(struct eval_ctx *ex, const struct node *n)
{
    return cmp_int_const(ex, n);
}

/* An integer-like field read in place into *x. Returns 1 with an error in
 * *err. */
static inline int
field_int(struct eval_ctx *ex, const struct node *f, int64_t *x,
          struct val *err)
{
    const ProtobufCMessage *m;
    if (rules_field_msg(ex, f, &m, err))
        return 1;
    return rules_field_int(f, m, x, err);
}

static int
is_int_field(const struct node *f)
{
    return f->op == N_SELECT &&
           (f->rk == RK_I32 || f->rk == RK_U32 || f->rk == RK_I64 ||
            f->rk == RK_ENUM || f->rk == RK_BOOL || f->rk == RK_DATE);
}

/* The same with an integer-like field read in place. */
static inline struct val
cmp_field_const(struct eval_ctx *ex, const struct node *n)
{
    int64_t x;
    struct val err;
    if (field_int(ex, n->a, &x, &err))
        return err;
    return rules_cmp_result(n->rk, rules_order3(x, n->b->lit.u.i));
}

static struct val
ev_cmp_field_const(struct eval_ctx *ex, const struct node *n)
{
    return cmp_field_const(ex, n);
}

/* c ? a : b whose condition is one of the comparisons above, evaluated in
 * place: such conditions are most of them. */
static struct val
ev_cond_field(struct eval_ctx *ex, const struct node *n)
{
    return rules_eval_branch(ex, n, cmp_field_const(ex, n->a));
}

static struct val
ev_cond_int(struct eval_ctx *ex, const struct node *n)
{
    return rules_eval_branch(ex, n, cmp_int_const(ex, n->a));
}

/* An integer field plus, minus or times an int literal, as the general
 * arithmetic does it (overflow is an error). */
static struct val
ev_arith_field_const(struct eval_ctx *ex, const struct node *n)
{
    int64_t x, r;
    struct val v;
    if (field_int(ex, n->a, &x, &v))
        return v;
    int64_t y = n->b->lit.u.i;
    int over = n->sub == OP_ADD   ? __builtin_add_overflow(x, y, &r)
               : n->sub == OP_SUB ? __builtin_sub_overflow(x, y, &r)
                                  : __builtin_mul_overflow(x, y, &r);
    if (over)
        return rules_err(n, E_OVERFLOW);
    v.k = V_INT;
    v.lk = 0;
    v.n = 0;
    v.u.i = r;
    return v;
}

/* Two integer-like operands, neither a literal. */
static struct val
ev_cmp_ints(struct eval_ctx *ex, const struct node *n)
{
    struct val x, y;
    if (rules_eval_operands(ex, n, &x, &y))
        return x;
    return rules_cmp_result(n->rk, rules_order3(x.u.i, y.u.i));
}

/* A double operand with a number: NaN is unordered and unequal. */
static struct val
ev_cmp_double_const(struct eval_ctx *ex, const struct node *n)
{
    struct val x = rules_eval(ex, n->a);
    if (x.k == V_ERR)
        return x;
    double a = x.u.d;
    double b = n->b->lit.k == V_DOUBLE ? n->b->lit.u.d : (double)n->b->lit.u.i;
    if (a != a || b != b)
        return mkbool(n->sub == OP_NE);
    return rules_cmp_result(n->rk, (a > b) - (a < b));
}

/* A string with a string literal, or two strings. */
static struct val
ev_eq_strings(struct eval_ctx *ex, const struct node *n)
{
    struct val x, y;
    if (rules_eval_operands(ex, n, &x, &y))
        return x;
    int eq = rules_str_eq(&x, &y);
    return mkbool(n->sub == OP_EQ ? eq : !eq);
}

/* A string field against a constant without a NUL inside, compared in
 * place. */
static struct val
ev_eq_field_const(struct eval_ctx *ex, const struct node *n)
{
    const ProtobufCMessage *m;
    struct val err;
    if (rules_field_msg(ex, n->a, &m, &err))
        return err;
    int eq = rules_str_field_eq(n->a, m, &n->b->lit);
    return mkbool(n->sub == OP_EQ ? eq : !eq);
}

static int
is_intlike_type(const struct rtype *t)
{
    return t->kind == T_INT || t->kind == T_ENUM || t->kind == T_BOOL ||
           t->kind == T_DATE;
}

static int
is_intlike_val(const struct val *v)
{
    return v->k == V_INT || v->k == V_ENUM || v->k == V_BOOL || v->k == V_DATE;
}

/* The evaluator of a comparison, `a op literal` above all, or NULL when
 * the general one is needed. An operand of a static type always yields a value of that kind
 * or an error, which is what makes these shortcuts exact. */
static rules_eval_fn
cmp_const_evaluator(struct node *n)
{
    const struct node *a = n->a, *b = n->b;
    if (n->sub < OP_EQ || n->sub > OP_GE)
        return NULL;
    n->rk = cmp_mask(n->sub);
    const struct rtype *t = a->type;
    if (b->op != N_LIT) {
        if (is_intlike_type(t) && is_intlike_type(b->type))
            return ev_cmp_ints;
        if (t->kind == T_STRING && b->type->kind == T_STRING &&
            (n->sub == OP_EQ || n->sub == OP_NE))
            return ev_eq_strings;
        return NULL;
    }
    if (is_intlike_type(t) && is_intlike_val(&b->lit))
        return is_int_field(a) ? ev_cmp_field_const : ev_cmp_int_const;
    if (t->kind == T_DOUBLE && (b->lit.k == V_DOUBLE || b->lit.k == V_INT))
        return ev_cmp_double_const;
    if (t->kind == T_STRING && b->lit.k == V_STRING &&
        (n->sub == OP_EQ || n->sub == OP_NE)) {
        if (a->op == N_SELECT && a->rk == RK_STR &&
            memchr(b->lit.u.s, '\0', b->lit.n) == NULL)
            return ev_eq_field_const;
        return ev_eq_strings;
    }
    return NULL;
}

/* ---- membership ------------------------------------------------------- */

/* A string field in a constant set, read in place. */
static struct val
ev_in_set_field(struct eval_ctx *ex, const struct node *n)
{
    const ProtobufCMessage *m;
    struct val err;
    if (rules_field_msg(ex, n->a, &m, &err))
        return err;
    return mkbool(rules_str_field_in_set(n->a, m, n->set));
}

static struct val
ev_in_set(struct eval_ctx *ex, const struct node *n)
{
    struct val x = rules_eval(ex, n->a);
    if (x.k == V_ERR)
        return x;
    return mkbool(rules_in_strset(n->set, x.u.s, x.n));
}

/* An integer-like value in a list: items of a repeated integer or enum
 * field are compared in place; any other list item by item, as `in`
 * always does. */
static struct val
ev_in_ints(struct eval_ctx *ex, const struct node *n)
{
    struct val x, l;
    if (rules_eval_operands(ex, n, &x, &l))
        return x;
    int64_t want = x.u.i;
    switch (l.lk) {
    case L_I32:
    case L_ENUM:
        for (uint32_t i = 0; i < l.n; i++)
            if (((const int32_t *)l.u.base)[i] == want)
                return mkbool(1);
        return mkbool(0);
    case L_I64:
        for (uint32_t i = 0; i < l.n; i++)
            if (((const int64_t *)l.u.base)[i] == want)
                return mkbool(1);
        return mkbool(0);
    default:
        for (uint32_t i = 0; i < l.n; i++) {
            struct val e = rules_list_at(&l, i);
            if (e.k != V_ERR && rules_val_equal(&x, &e))
                return mkbool(1);
        }
        return mkbool(0);
    }
}

/* ---- sum of a map ----------------------------------------------------- */

/* l.map(x, t).sum() without building the mapped list. The result is the
 * same in every case: an element error is returned as map() would (it
 * stops at the first), and an int overflow only once every element has
 * been mapped without error, as sum() would see it. */
static struct val
ev_sum_map(struct eval_ctx *ex, const struct node *n)
{
    const struct node *map = n->a;
    struct val l = rules_eval(ex, map->a);
    if (l.k == V_ERR)
        return l;
    struct val *slot = &ex->slots[map->slot];
    int is_int = n->type->kind == T_INT, over = 0;
    int64_t si = 0;
    double sd = 0;
    for (size_t i = 0; i < l.n; i++) {
        *slot = rules_list_item(&l, i);
        if (slot->k == V_ERR && slot->u.at == NULL)
            slot->u.at = map;
        struct val r = rules_eval(ex, map->b);
        if (r.k == V_ERR)
            return r;
        if (map->c != NULL) {
            if (!r.u.i)
                continue;
            r = rules_eval(ex, map->c);
            if (r.k == V_ERR)
                return r;
        }
        if (!is_int)
            sd += r.u.d;
        else if (!over)
            over = __builtin_add_overflow(si, r.u.i, &si);
    }
    if (over)
        return rules_err(n, E_OVERFLOW);
    struct val v = {.k = is_int ? V_INT : V_DOUBLE};
    if (is_int)
        v.u.i = si;
    else
        v.u.d = sd;
    return v;
}

/* ---- choosing --------------------------------------------------------- */

enum rules_spec
rules_spec_of(const struct node *n)
{
    static const struct {
        rules_eval_fn ev;
        enum rules_spec spec;
    } map[] = {
        {ev_field, SPEC_FIELD},
        {ev_has, SPEC_HAS},
        {ev_cmp_int_const, SPEC_CMP_INT_CONST},
        {ev_cmp_field_const, SPEC_CMP_FIELD_CONST},
        {ev_cmp_ints, SPEC_CMP_INTS},
        {ev_eq_strings, SPEC_EQ_STRINGS},
        {ev_eq_field_const, SPEC_EQ_FIELD_CONST},
        {ev_in_set_field, SPEC_IN_SET_FIELD},
        {ev_in_set, SPEC_IN_SET},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].ev == n->ev)
            return map[i].spec;
    return SPEC_NONE;
}

static rules_eval_fn
choose(struct node *n)
{
    switch (n->op) {
    case N_SELECT:
        n->rk = (uint8_t)rules_read_kind(n);
        if (n->rk == RK_LIST)
            n->list_kind = (uint8_t)rules_list_kind(n->fd);
        return n->rk != RK_GENERIC ? ev_field : rules_op_evaluator(n);
    case N_IN_SET:
        if (n->a->op == N_SELECT && n->a->rk == RK_STR)
            return ev_in_set_field;
        return ev_in_set;
    case N_IN:
        if (is_intlike_type(n->a->type) && n->b->type->kind == T_LIST &&
            is_intlike_type(n->b->type->elem))
            return ev_in_ints;
        return rules_op_evaluator(n);
    case N_HAS:
        n->rk = (uint8_t)presence_kind(n);
        return ev_has;
    case N_BINOP: {
        rules_eval_fn f = cmp_const_evaluator(n);
        if (f != NULL)
            return f;
        if ((n->sub == OP_ADD || n->sub == OP_SUB || n->sub == OP_MUL) &&
            n->type->kind == T_INT && n->a->type->kind == T_INT &&
            is_int_field(n->a) && n->b->op == N_LIT && n->b->lit.k == V_INT)
            return ev_arith_field_const;
        return rules_op_evaluator(n);
    }
    case N_COND:
        if (n->a->ev == ev_cmp_field_const)
            return ev_cond_field;
        if (n->a->ev == ev_cmp_int_const)
            return ev_cond_int;
        return rules_op_evaluator(n);
    case N_CALL:
        if (n->sub == FN_SUM && n->receiver && n->a->op == N_MACRO &&
            n->a->sub == M_MAP)
            return ev_sum_map;
        return rules_op_evaluator(n);
    default:
        return rules_op_evaluator(n);
    }
}

void
rules_specialise(struct node *n)
{
    if (n == NULL)
        return;
    if (n->op == N_AND || n->op == N_OR) {
        /* Flattened: the operands are args; a and b are the parse tree. */
        for (unsigned i = 0; i < n->nargs; i++)
            rules_specialise(n->args[i]);
    } else if (n->op != N_LIT) {
        rules_specialise(n->a);
        rules_specialise(n->b);
        rules_specialise(n->c);
        rules_specialise(n->base);
        int nargs = n->op == N_LIST ? n->slot : n->nargs;
        if (n->op == N_MACRO)
            nargs = 0; /* args alias the variable, b and c */
        for (int i = 0; i < nargs; i++)
            rules_specialise(n->args[i]);
    }
    /* Children first: a comparison looks at its operand's read kind. */
    n->ev = choose(n);
}

void
rules_specialise_expr(struct node *root)
{
    rules_specialise(root);
    rules_share_literals(&root, 1);
}

void
rules_specialise_set(struct cjx_rules_set *set)
{
    struct node **roots = NULL;
    size_t n = 0, cap = 3 * set->n_lets + set->n_validations +
                        2 * set->n_decisions + set->n_notes + 1;
    roots = malloc(cap * sizeof(*roots));
    for (size_t i = 0; i < set->n_lets; i++) {
        rules_specialise(set->lets[i].expr);
        rules_specialise(set->lets[i].known);
        rules_specialise(set->lets[i].domain);
        if (roots != NULL) {
            roots[n++] = set->lets[i].expr;
            roots[n++] = set->lets[i].known;
            roots[n++] = set->lets[i].domain;
        }
    }
    for (size_t i = 0; i < set->n_validations; i++) {
        rules_specialise(set->validations[i].rule);
        if (roots != NULL)
            roots[n++] = set->validations[i].rule;
    }
    for (size_t i = 0; i < set->n_decisions; i++) {
        rules_specialise(set->decisions[i].when);
        rules_specialise(set->decisions[i].procedure);
        if (roots != NULL) {
            roots[n++] = set->decisions[i].when;
            roots[n++] = set->decisions[i].procedure;
        }
    }
    for (size_t i = 0; i < set->n_notes; i++) {
        rules_specialise(set->notes[i].when);
        if (roots != NULL)
            roots[n++] = set->notes[i].when;
    }
    rules_specialise(set->procedure);
    if (roots != NULL) {
        roots[n++] = set->procedure;
        rules_share_literals(roots, n);
    }
    free(roots);
}
