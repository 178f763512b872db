/* Resolver and type checker: binds names to fields, lets and enum constants, and types every node. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_internal.h"

int
rules_check_err(struct check_ctx *cx, const struct node *n, const char *fmt,
                ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rules_diag(cx->eb, CJX_EPARSE, cx->sm, n->line, n->col, "%s", msg);
}

static const struct enum_const *
find_enum_const(const struct cjx_rules_set *set, const char *name)
{
    for (size_t i = 0; i < set->n_enums; i++)
        if (strcmp(set->enums[i].name, name) == 0)
            return &set->enums[i];
    /* Qualified: "cjx.v1.OffenseLevel.OFFENSE_LEVEL_FELONY". */
    const char *dot = strrchr(name, '.');
    if (dot == NULL)
        return NULL;
    size_t plen = (size_t)(dot - name);
    for (size_t i = 0; i < set->n_enums; i++) {
        const char *en = set->enums[i].en->name;
        if (strlen(en) == plen && memcmp(en, name, plen) == 0 &&
            strcmp(set->enums[i].name, dot + 1) == 0)
            return &set->enums[i];
    }
    return NULL;
}

static struct let_def *
find_let(const struct cjx_rules_set *set, const char *name)
{
    for (size_t i = 0; i < set->n_lets; i++)
        if (strcmp(set->lets[i].name, name) == 0)
            return &set->lets[i];
    return NULL;
}

static const struct rtype *
enum_type(struct check_ctx *cx, const ProtobufCEnumDescriptor *en)
{
    struct rtype *t = cjx_arena_alloc(cx->arena, sizeof(*t));
    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->kind = T_ENUM;
    t->en = en;
    return t;
}

static int
make_enum_lit(struct check_ctx *cx, struct node *n, const struct enum_const *ec)
{
    n->op = N_LIT;
    n->lit.k = V_ENUM;
    n->lit.u.i = ec->value;
    n->type = enum_type(cx, ec->en);
    return n->type == NULL ? CJX_ENOMEM : 0;
}

/* Resolves a bare identifier: loop variable, let or fact, field of the
 * root message, enum constant, in that order. */
static int
check_ident(struct check_ctx *cx, struct node *n)
{
    for (int i = cx->n_scope - 1; i >= 0; i--) {
        if (strcmp(cx->scope_name[i], n->name) == 0) {
            n->op = N_LOOPVAR;
            n->slot = cx->scope_slot[i];
            n->type = cx->scope_type[i];
            return 0;
        }
    }
    struct let_def *l = find_let(cx->set, n->name);
    if (l != NULL) {
        if (l->state == LET_CHECKING)
            return rules_check_err(
                cx, n, "'%s' refers to itself through a cycle of lets",
                n->name);
        TRY(rules_check_let(cx->set, l, cx->eb));
        if (!l->is_fact && l->expr->op == N_LIT) {
            /* A constant let is inlined: a literal list stays a list
             * literal, so "x in some_list" gets the fast set lookup. */
            const char *name = n->name;
            uint32_t pos = n->pos, line = n->line, col = n->col;
            *n = *l->expr;
            n->name = name;
            n->pos = pos;
            n->line = line;
            n->col = col;
            return 0;
        }
        n->op = l->is_fact ? N_FACT : N_LET;
        n->slot = l->slot;
        n->type = l->expr->type;
        return 0;
    }
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(cx->set->message,
                                                        n->name);
    if (fd != NULL) {
        n->op = N_SELECT;
        n->a = NULL;
        n->fd = fd;
        n->type = rules_field_type(cx->arena, fd, &n->date);
        if (n->type == NULL)
            return rules_check_err(
                cx, n, "field '%s' has an unsupported type (bytes)", n->name);
        return 0;
    }
    const struct enum_const *ec = find_enum_const(cx->set, n->name);
    if (ec != NULL)
        return make_enum_lit(cx, n, ec);
    return rules_check_err(cx, n, "undeclared reference to '%s'", n->name);
}

/* For a.b.c where a is not a variable, builds "a.b.c" to try it as a
 * qualified enum constant. Returns 0 when n is not such a chain. */
static int
dotted_name(const struct node *n, char *buf, size_t len)
{
    if (n->op == N_IDENT) {
        int w = snprintf(buf, len, "%s", n->name);
        return w > 0 && (size_t)w < len;
    }
    if (n->op != N_SELECT || n->a == NULL)
        return 0;
    if (!dotted_name(n->a, buf, len))
        return 0;
    size_t used = strlen(buf);
    int w = snprintf(buf + used, len - used, ".%s", n->name);
    return w > 0 && (size_t)w < len - used;
}

static int
is_variable(struct check_ctx *cx, const char *name)
{
    for (int i = 0; i < cx->n_scope; i++)
        if (strcmp(cx->scope_name[i], name) == 0)
            return 1;
    return find_let(cx->set, name) != NULL ||
           protobuf_c_message_descriptor_get_field_by_name(cx->set->message,
                                                           name) != NULL;
}

static const struct node *
leftmost(const struct node *n)
{
    while (n->op == N_SELECT && n->a != NULL)
        n = n->a;
    return n;
}

/* Folds a chain of singular message selections under n into n->path. */
static int
fuse_path(struct check_ctx *cx, struct node *n)
{
    struct node *a = n->a;
    if (a == NULL) {
        n->base = NULL;
        n->path_len = 0;
        return 0;
    }
    if (a->op == N_SELECT && a->type->kind == T_MSG &&
        a->fd->label != PROTOBUF_C_LABEL_REPEATED && a->path_len < 32) {
        n->base = a->base;
        n->path_len = (uint8_t)(a->path_len + 1);
        n->path = cjx_arena_alloc(cx->arena, n->path_len * sizeof(*n->path));
        if (n->path == NULL)
            return CJX_ENOMEM;
        if (a->path_len)
            memcpy(n->path, a->path, a->path_len * sizeof(*n->path));
        n->path[a->path_len] = a->fd;
        return 0;
    }
    n->base = a;
    n->path_len = 0;
    return 0;
}

static int
check_select(struct check_ctx *cx, struct node *n)
{
    const struct node *lm = leftmost(n);
    if (lm->op == N_IDENT && !is_variable(cx, lm->name)) {
        char buf[256];
        if (dotted_name(n, buf, sizeof(buf))) {
            const struct enum_const *ec = find_enum_const(cx->set, buf);
            if (ec != NULL)
                return make_enum_lit(cx, n, ec);
        }
    }
    TRY(rules_check(cx, n->a));
    const struct rtype *t = n->a->type;
    if (t->kind != T_MSG) {
        char tn[128];
        return rules_check_err(cx, n, "type '%s' has no field '%s'",
                               rules_type_name(t, tn, sizeof(tn)), n->name);
    }
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(t->msg, n->name);
    if (fd == NULL)
        return rules_check_err(cx, n, "no field '%s' in message '%s'", n->name,
                               t->msg->name);
    n->fd = fd;
    n->type = rules_field_type(cx->arena, fd, &n->date);
    if (n->type == NULL)
        return rules_check_err(
            cx, n, "field '%s' has an unsupported type (bytes)", n->name);
    return fuse_path(cx, n);
}

static int
check_has(struct check_ctx *cx, struct node *n)
{
    if (n->nargs != 1)
        return rules_check_err(cx, n, "has() expects 1 argument, got %d",
                               n->nargs);
    struct node *arg = n->args[0];
    if (arg->op != N_SELECT && arg->op != N_IDENT)
        return rules_check_err(
            cx, arg, "has() needs a field selection such as has(a.b)");
    TRY(rules_check(cx, arg));
    if (arg->op != N_SELECT)
        return rules_check_err(
            cx, arg, "has() needs a field selection such as has(a.b)");
    n->op = N_HAS;
    n->a = arg->a;
    n->fd = arg->fd;
    n->date = arg->date;
    n->base = arg->base;
    n->path = arg->path;
    n->path_len = arg->path_len;
    n->type = &rtype_bool;
    return 0;
}

static int
macro_kind(const char *name, int *kind)
{
    static const struct {
        const char *name;
        int kind;
    } m[] = {{"all", M_ALL},
             {"exists", M_EXISTS},
             {"exists_one", M_EXISTS_ONE},
             {"map", M_MAP},
             {"filter", M_FILTER}};
    for (size_t i = 0; i < sizeof(m) / sizeof(*m); i++)
        if (strcmp(name, m[i].name) == 0)
            return *kind = m[i].kind, 1;
    return 0;
}

static int
check_macro(struct check_ctx *cx, struct node *n, int kind)
{
    int want = kind == M_MAP ? (n->nargs == 3 ? 3 : 2) : 2;
    if (n->nargs != want)
        return rules_check_err(cx, n, "%s() expects %d arguments, got %d",
                               n->name, want, n->nargs);
    if (n->args[0]->op != N_IDENT)
        return rules_check_err(cx, n->args[0],
                               "%s() needs a variable name first", n->name);
    TRY(rules_check(cx, n->a));
    if (n->a->type->kind != T_LIST) {
        char tn[128];
        return rules_check_err(cx, n, "%s() needs a list, not '%s'", n->name,
                               rules_type_name(n->a->type, tn, sizeof(tn)));
    }
    if (cx->n_scope == RULES_MAX_DEPTH)
        return rules_check_err(cx, n, "macros nested too deeply");
    const char *var = n->args[0]->name;
    if (find_let(cx->set, var) != NULL ||
        protobuf_c_message_descriptor_get_field_by_name(cx->set->message,
                                                        var) != NULL)
        return rules_check_err(
            cx, n->args[0], "'%s' would hide a variable of the same name", var);
    /* Every macro variable gets its own slot in the whole set, so a let
     * evaluated inside a loop body can never overwrite an enclosing loop's
     * variable. */
    int slot = (int)cx->set->n_lets + cx->set->n_loop_slots++;
    cx->scope_name[cx->n_scope] = var;
    cx->scope_type[cx->n_scope] = n->a->type->elem;
    cx->scope_slot[cx->n_scope] = slot;
    cx->n_scope++;
    int rc = rules_check(cx, n->args[1]);
    if (rc == 0 && want == 3)
        rc = rules_check(cx, n->args[2]);
    cx->n_scope--;
    TRY(rc);
    if (kind != M_MAP || want == 3) {
        if (n->args[1]->type->kind != T_BOOL)
            return rules_check_err(cx, n->args[1],
                                   "%s() needs a bool condition", n->name);
    }
    n->op = N_MACRO;
    n->sub = (uint8_t)kind;
    n->slot = slot;
    n->b = n->args[1];
    n->c = want == 3 ? n->args[2] : NULL;
    switch (kind) {
    case M_ALL:
    case M_EXISTS:
    case M_EXISTS_ONE:
        n->type = &rtype_bool;
        break;
    case M_FILTER:
        n->type = n->a->type;
        break;
    case M_MAP:
        n->type = rules_type_list(cx->arena, (want == 3 ? n->c : n->b)->type);
        if (n->type == NULL)
            return CJX_ENOMEM;
        break;
    }
    return 0;
}

static int
is_numeric(const struct rtype *t)
{
    return t->kind == T_INT || t->kind == T_DOUBLE;
}

/* Whether == and != apply to the two types. */
static int
equality_ok(const struct rtype *x, const struct rtype *y)
{
    if (x->kind == T_ANY || y->kind == T_ANY)
        return 1;
    if (is_numeric(x) && is_numeric(y))
        return 1;
    if ((x->kind == T_ENUM && y->kind == T_INT) ||
        (x->kind == T_INT && y->kind == T_ENUM))
        return 1;
    if (x->kind == T_NULL || y->kind == T_NULL)
        return x->kind == T_NULL || x->kind == T_MSG || y->kind == T_MSG ||
               y->kind == T_NULL;
    if (x->kind == T_MSG || y->kind == T_MSG)
        return 0;
    if (x->kind == T_LIST && y->kind == T_LIST)
        return equality_ok(x->elem, y->elem);
    return rules_type_equal(x, y);
}

static int
ordering_ok(const struct rtype *x, const struct rtype *y)
{
    if (is_numeric(x) && is_numeric(y))
        return 1;
    if ((x->kind == T_ENUM && y->kind == T_INT) ||
        (x->kind == T_INT && y->kind == T_ENUM))
        return 1;
    if (x->kind != y->kind)
        return 0;
    switch (x->kind) {
    case T_STRING:
    case T_DATE:
    case T_BOOL:
        return 1;
    case T_ENUM:
        return x->en == y->en;
    default:
        return 0;
    }
}

static const char *const binop_names[] = {
    [OP_ADD] = "_+_", [OP_SUB] = "_-_", [OP_MUL] = "_*_", [OP_DIV] = "_/_",
    [OP_MOD] = "_%_", [OP_EQ] = "_==_", [OP_NE] = "_!=_", [OP_LT] = "_<_",
    [OP_LE] = "_<=_", [OP_GT] = "_>_",  [OP_GE] = "_>=_",
};

static int
no_overload(struct check_ctx *cx, const struct node *n, const char *op,
            const struct rtype *x, const struct rtype *y)
{
    char a[128], b[128];
    if (y == NULL)
        return rules_check_err(
            cx, n, "no matching overload for '%s' applied to '(%s)'", op,
            rules_type_name(x, a, sizeof(a)));
    return rules_check_err(
        cx, n, "no matching overload for '%s' applied to '(%s, %s)'", op,
        rules_type_name(x, a, sizeof(a)), rules_type_name(y, b, sizeof(b)));
}

static int
check_binop(struct check_ctx *cx, struct node *n)
{
    TRY(rules_check(cx, n->a));
    TRY(rules_check(cx, n->b));
    const struct rtype *x = n->a->type, *y = n->b->type;
    const char *name = binop_names[n->sub];
    switch (n->sub) {
    case OP_EQ:
    case OP_NE:
        if (!equality_ok(x, y))
            return no_overload(cx, n, name, x, y);
        n->type = &rtype_bool;
        return 0;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        if (!ordering_ok(x, y))
            return no_overload(cx, n, name, x, y);
        n->type = &rtype_bool;
        return 0;
    case OP_ADD:
        if (x->kind == T_LIST && y->kind == T_LIST &&
            rules_type_equal(x->elem, y->elem)) {
            n->type = x->elem->kind == T_ANY ? y : x;
            return 0;
        }
        if (x->kind == T_STRING && y->kind == T_STRING) {
            n->type = &rtype_string;
            return 0;
        }
        /* fall through */
    case OP_SUB:
    case OP_MUL:
    case OP_DIV:
        if (x->kind == y->kind && is_numeric(x)) {
            n->type = x;
            return 0;
        }
        return no_overload(cx, n, name, x, y);
    case OP_MOD:
        if (x->kind == T_INT && y->kind == T_INT) {
            n->type = &rtype_int;
            return 0;
        }
        return no_overload(cx, n, name, x, y);
    }
    return no_overload(cx, n, name, x, y);
}

static int
strset_cmp(const void *pa, const void *pb)
{
    const struct val *a = pa, *b = pb;
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    return memcmp(a->u.s, b->u.s, a->n);
}

/* "x in ['a', 'b', ...]" with literal strings becomes a sorted set
 * searched by length and bytes: no list is built at run time. */
static int
make_strset(struct check_ctx *cx, struct node *n)
{
    const struct node *l = n->b;
    if (l->op != N_LIT || l->lit.k != V_LIST)
        return 0;
    int k = (int)l->lit.n;
    if (k < 1)
        return 0;
    struct val *items = cjx_arena_alloc(cx->arena, (size_t)k * sizeof(*items));
    struct strset *s = cjx_arena_alloc(cx->arena, sizeof(*s));
    if (items == NULL || s == NULL)
        return CJX_ENOMEM;
    for (int i = 0; i < k; i++)
        items[i] = l->lit.u.items[i];
    qsort(items, (size_t)k, sizeof(*items), strset_cmp);
    s->items = items;
    s->n = (uint32_t)k;
    s->max_len = items[k - 1].n; /* sorted by length first */
    n->op = N_IN_SET;
    n->set = s;
    return 0;
}

static int
check_list(struct check_ctx *cx, struct node *n)
{
    const struct rtype *elem = &rtype_any;
    for (int i = 0; i < n->slot; i++) {
        TRY(rules_check(cx, n->args[i]));
        const struct rtype *t = n->args[i]->type;
        if (elem->kind == T_ANY) {
            elem = t;
        } else if (!rules_type_equal(elem, t)) {
            char a[128], b[128];
            return rules_check_err(
                cx, n->args[i], "list items must have one type: '%s' and '%s'",
                rules_type_name(elem, a, sizeof(a)),
                rules_type_name(t, b, sizeof(b)));
        }
    }
    n->type = rules_type_list(cx->arena, elem);
    if (n->type == NULL)
        return CJX_ENOMEM;
    /* A list of literals is built once, here, not at every evaluation. */
    for (int i = 0; i < n->slot; i++)
        if (n->args[i]->op != N_LIT)
            return 0;
    struct val *items =
        cjx_arena_alloc(cx->arena, (size_t)(n->slot + 1) * sizeof(*items));
    if (items == NULL)
        return CJX_ENOMEM;
    for (int i = 0; i < n->slot; i++)
        items[i] = n->args[i]->lit;
    n->op = N_LIT;
    memset(&n->lit, 0, sizeof(n->lit));
    n->lit.k = V_LIST;
    n->lit.lk = L_ARRAY;
    n->lit.n = (uint32_t)n->slot;
    n->lit.u.items = items;
    return 0;
}

/* a && b && c parses as ((a && b) && c); the evaluator gets one node with
 * the operands in order, so a chain costs one call per operand. */
static int
flatten_logic(struct check_ctx *cx, struct node *n)
{
    int count = (n->a->op == n->op && n->a->args != NULL) ? n->a->nargs : 1;
    count += (n->b->op == n->op && n->b->args != NULL) ? n->b->nargs : 1;
    int flat = count <= 255;
    if (!flat)
        count = 2;
    struct node **args =
        cjx_arena_alloc(cx->arena, (size_t)count * sizeof(*args));
    if (args == NULL)
        return CJX_ENOMEM;
    int k = 0;
    const struct node *sides[2] = {n->a, n->b};
    for (int s = 0; s < 2; s++) {
        if (flat && sides[s]->op == n->op && sides[s]->args != NULL) {
            memcpy(args + k, sides[s]->args, sides[s]->nargs * sizeof(*args));
            k += sides[s]->nargs;
        } else {
            args[k++] = (struct node *)sides[s];
        }
    }
    n->args = args;
    n->nargs = (uint8_t)k;
    return 0;
}

int
rules_check(struct check_ctx *cx, struct node *n)
{
    switch (n->op) {
    case N_LIT:
        return 0;
    case N_IDENT:
        return check_ident(cx, n);
    case N_SELECT:
        if (n->a == NULL) /* already a resolved root field */
            return 0;
        return check_select(cx, n);
    case N_LIST:
        return check_list(cx, n);
    case N_INDEX:
        TRY(rules_check(cx, n->a));
        TRY(rules_check(cx, n->b));
        if (n->a->type->kind != T_LIST || n->b->type->kind != T_INT)
            return no_overload(cx, n, "_[_]", n->a->type, n->b->type);
        n->type = n->a->type->elem;
        return 0;
    case N_NOT:
        TRY(rules_check(cx, n->a));
        if (n->a->type->kind != T_BOOL)
            return no_overload(cx, n, "!_", n->a->type, NULL);
        n->type = &rtype_bool;
        return 0;
    case N_NEG:
        TRY(rules_check(cx, n->a));
        if (!is_numeric(n->a->type))
            return no_overload(cx, n, "-_", n->a->type, NULL);
        n->type = n->a->type;
        return 0;
    case N_AND:
    case N_OR:
        TRY(rules_check(cx, n->a));
        TRY(rules_check(cx, n->b));
        if (n->a->type->kind != T_BOOL || n->b->type->kind != T_BOOL)
            return no_overload(cx, n, n->op == N_AND ? "_&&_" : "_||_",
                               n->a->type, n->b->type);
        n->type = &rtype_bool;
        return flatten_logic(cx, n);
    case N_COND:
        TRY(rules_check(cx, n->a));
        TRY(rules_check(cx, n->b));
        TRY(rules_check(cx, n->c));
        if (n->a->type->kind != T_BOOL)
            return rules_check_err(cx, n->a,
                                   "the condition of '?:' must be a bool");
        if (!rules_type_equal(n->b->type, n->c->type)) {
            char a[128], b[128];
            return rules_check_err(cx, n,
                                   "the branches of '?:' have different types: "
                                   "'%s' and '%s'",
                                   rules_type_name(n->b->type, a, sizeof(a)),
                                   rules_type_name(n->c->type, b, sizeof(b)));
        }
        n->type = n->b->type;
        if (n->type->kind == T_LIST && n->type->elem->kind == T_ANY)
            n->type = n->c->type;
        return 0;
    case N_BINOP:
        return check_binop(cx, n);
    case N_IN:
        TRY(rules_check(cx, n->a));
        TRY(rules_check(cx, n->b));
        if (n->b->type->kind != T_LIST ||
            !equality_ok(n->a->type, n->b->type->elem))
            return no_overload(cx, n, "@in", n->a->type, n->b->type);
        n->type = &rtype_bool;
        if (n->a->type->kind == T_STRING)
            return make_strset(cx, n);
        return 0;
    case N_CALL: {
        int kind;
        if (!n->receiver && strcmp(n->name, "has") == 0)
            return check_has(cx, n);
        if (n->receiver && macro_kind(n->name, &kind) && n->nargs >= 1 &&
            n->args[0]->op == N_IDENT)
            return check_macro(cx, n, kind);
        if (n->receiver)
            TRY(rules_check(cx, n->a));
        for (int i = 0; i < n->nargs; i++)
            TRY(rules_check(cx, n->args[i]));
        return rules_fn_check(cx, n);
    }
    default:
        /* Resolved nodes are reached again when a let is shared. */
        return 0;
    }
}

int
rules_check_let(struct cjx_rules_set *set, struct let_def *l,
                struct cjx_errbuf *eb)
{
    if (l->state == LET_CHECKED)
        return 0;
    struct check_ctx cx;
    memset(&cx, 0, sizeof(cx));
    cx.set = set;
    cx.sm = &l->sm;
    cx.eb = eb;
    cx.arena = &set->arena;
    l->state = LET_CHECKING;
    int rc = rules_check(&cx, l->expr);
    if (rc == 0 && l->known != NULL) {
        rc = rules_check(&cx, l->known);
        if (rc == 0 && l->known->type->kind != T_BOOL)
            rc = rules_check_err(&cx, l->known,
                                 "'known' must be a bool expression");
    }
    if (rc == 0 && l->domain != NULL) {
        rc = rules_check(&cx, l->domain);
        if (rc == 0 &&
            (l->domain->type->kind != T_LIST ||
             !rules_type_equal(l->domain->type->elem, l->expr->type))) {
            char a[128];
            rc = rules_check_err(&cx, l->domain,
                                 "'domain' must be a list of '%s'",
                                 rules_type_name(l->expr->type, a, sizeof(a)));
        }
    }
    if (rc != 0) {
        l->state = LET_UNCHECKED;
        return rc;
    }
    l->state = LET_CHECKED;
    return 0;
}

enum { FACTS_UNKNOWN = 0, FACTS_COMPUTING, FACTS_DONE };

static uint64_t let_facts(struct cjx_rules_set *set, struct let_def *l,
                          uint8_t *state, int depth);

/* The facts evaluating n may read. Past a depth that only hostile files
 * reach, "every fact" is the safe answer. */
static uint64_t
node_facts(struct cjx_rules_set *set, const struct node *n, uint8_t *state,
           int depth)
{
    if (n == NULL)
        return 0;
    if (depth > 4 * RULES_MAX_HEIGHT)
        return ~UINT64_C(0);
    if (n->op == N_LET || n->op == N_FACT)
        return let_facts(set, &set->lets[n->slot], state, depth + 1);
    if (n->op == N_LIT)
        return 0;
    uint64_t f = node_facts(set, n->a, state, depth + 1) |
                 node_facts(set, n->b, state, depth + 1) |
                 node_facts(set, n->c, state, depth + 1) |
                 node_facts(set, n->base, state, depth + 1);
    int nargs = n->op == N_LIST ? n->slot : n->nargs;
    if (n->op == N_MACRO)
        nargs = 0; /* args alias b and c */
    for (int i = 0; i < nargs; i++)
        f |= node_facts(set, n->args[i], state, depth + 1);
    return f;
}

static uint64_t
let_facts(struct cjx_rules_set *set, struct let_def *l, uint8_t *state,
          int depth)
{
    size_t i = (size_t)(l - set->lets);
    if (state[i] == FACTS_DONE)
        return l->facts;
    if (state[i] == FACTS_COMPUTING) /* lets are acyclic; this only guards */
        return ~UINT64_C(0);
    state[i] = FACTS_COMPUTING;
    uint64_t f = node_facts(set, l->expr, state, depth);
    if (l->is_fact) {
        uint64_t known = node_facts(set, l->known, state, depth);
        l->stable = (f | known) == 0;
        f |= (UINT64_C(1) << l->fact_bit) | known |
             node_facts(set, l->domain, state, depth);
    }
    l->facts = f;
    state[i] = FACTS_DONE;
    return f;
}

int
rules_index_facts(struct cjx_rules_set *set)
{
    uint8_t *state = cjx_arena_alloc(&set->arena, set->n_lets + 1);
    if (state == NULL)
        return CJX_ENOMEM;
    memset(state, FACTS_UNKNOWN, set->n_lets + 1);
    for (size_t i = 0; i < set->n_lets; i++) {
        struct let_def *l = &set->lets[i];
        let_facts(set, l, state, 0);
        if (l->is_fact)
            set->fact_of_bit[l->fact_bit] = l;
    }
    return 0;
}
