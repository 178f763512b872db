/* Tree-walking evaluator over resolved nodes: field reads by descriptor offset, CEL error semantics. */
#include <stdio.h>
#include <string.h>

#include "rules_internal.h"

struct val
rules_err(struct eval_ctx *ex, const struct node *n, const char *msg)
{
    (void)ex;
    struct val v = {.k = V_ERR};
    v.aux = msg;
    v.aux2 = n;
    return v;
}

static struct val
mkbool(int b)
{
    struct val v = {.k = V_BOOL};
    v.u.i = b != 0;
    return v;
}

static struct val
mkint(int64_t i)
{
    struct val v = {.k = V_INT};
    v.u.i = i;
    return v;
}

#define AT(m, off, type) (*(const type *)((const char *)(m) + (off)))

/* Literals, loop variables and lets already computed are answered without a
 * call: they are most of the nodes an evaluation visits. */
static inline struct val
eval_child(struct eval_ctx *ex, const struct node *n)
{
    switch (n->op) {
    case N_LIT:
        return n->lit;
    case N_LOOPVAR:
        return ex->slots[n->slot];
    case N_LET:
    case N_FACT:
        if (ex->state[n->slot] == 2)
            return ex->slots[n->slot];
        /* fall through */
    default:
        return rules_eval(ex, n);
    }
}

/* Reads a date message; absent (unset or year 0) and impossible dates are
 * errors, so a rule must test has() before using an optional date. */
static struct val
read_date(struct eval_ctx *ex, const struct node *n,
          const struct date_layout *dl, const ProtobufCMessage *dm)
{
    if (dm == NULL || AT(dm, dl->off_year, int32_t) == 0)
        return rules_err(ex, n, "date is not set");
    int32_t y = AT(dm, dl->off_year, int32_t);
    int32_t mo = AT(dm, dl->off_month, int32_t);
    int32_t d = AT(dm, dl->off_day, int32_t);
    if (!rules_valid_date(y, mo, d))
        return rules_err(ex, n, "invalid date");
    struct val v = {.k = V_DATE};
    v.u.i = rules_date_pack(y, (unsigned)mo, (unsigned)d);
    return v;
}

/* One scalar of type fd->type stored at p. */
static struct val
read_scalar(struct eval_ctx *ex, const struct node *n,
            const ProtobufCFieldDescriptor *fd, const struct date_layout *dl,
            const void *p)
{
    struct val v = {.k = V_INT};
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        v.u.i = *(const int32_t *)p;
        return v;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        v.u.i = *(const uint32_t *)p;
        return v;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        v.u.i = *(const int64_t *)p;
        return v;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t u = *(const uint64_t *)p;
        if (u > INT64_MAX)
            return rules_err(ex, n, "unsigned value out of int range");
        v.u.i = (int64_t)u;
        return v;
    }
    case PROTOBUF_C_TYPE_FLOAT:
        v.k = V_DOUBLE;
        v.u.d = *(const float *)p;
        return v;
    case PROTOBUF_C_TYPE_DOUBLE:
        v.k = V_DOUBLE;
        v.u.d = *(const double *)p;
        return v;
    case PROTOBUF_C_TYPE_BOOL:
        v.k = V_BOOL;
        v.u.i = *(const protobuf_c_boolean *)p != 0;
        return v;
    case PROTOBUF_C_TYPE_ENUM:
        v.k = V_ENUM;
        v.u.i = *(const int *)p;
        return v;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        v.k = V_STRING;
        v.u.s = s != NULL ? s : "";
        v.n = (uint32_t)strlen(v.u.s);
        return v;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (dl != NULL)
            return read_date(ex, n, dl, m);
        v.k = V_MSG;
        v.u.m = m;
        v.aux = fd->descriptor;
        return v;
    }
    default:
        return rules_err(ex, n, "unsupported field type");
    }
}

static const int64_t zero_scalar[2];

/* CEL field selection: an unset field (including any field of an unset
 * message, and an inactive oneof member) reads as its default value. */
static struct val
read_field(struct eval_ctx *ex, const struct node *n, const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *fd = n->fd;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        struct val v = {.k = V_LIST, .lk = L_FIELD};
        v.aux = fd;
        v.aux2 = n->date;
        if (m != NULL) {
            v.n = (uint32_t)AT(m, fd->quantifier_offset, size_t);
            v.u.base = AT(m, fd->offset, void *);
        }
        return v;
    }
    int unset = m == NULL;
    if (!unset && (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        unset = AT(m, fd->quantifier_offset, uint32_t) != fd->id;
    if (unset) {
        if (fd->default_value != NULL && fd->type != PROTOBUF_C_TYPE_MESSAGE) {
            if (fd->type == PROTOBUF_C_TYPE_STRING) {
                const char *s = fd->default_value;
                return read_scalar(ex, n, fd, n->date, &s);
            }
            return read_scalar(ex, n, fd, n->date, fd->default_value);
        }
        const void *null_ptr = NULL;
        if (fd->type == PROTOBUF_C_TYPE_STRING ||
            fd->type == PROTOBUF_C_TYPE_MESSAGE)
            return read_scalar(ex, n, fd, n->date, &null_ptr);
        return read_scalar(ex, n, fd, n->date, zero_scalar);
    }
    return read_scalar(ex, n, fd, n->date, (const char *)m + fd->offset);
}

/* has(): CEL presence. proto2 optional scalars by their has_ flag; message
 * fields when set (a date also needs a non-zero year); proto3 scalars when
 * not at their default; repeated fields when not empty. */
static int
has_field(const struct node *n, const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *fd = n->fd;
    if (m == NULL)
        return 0;
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return AT(m, fd->quantifier_offset, uint32_t) == fd->id;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED)
        return AT(m, fd->quantifier_offset, size_t) > 0;
    const char *p = (const char *)m + fd->offset;
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub == NULL)
            return 0;
        return n->date == NULL || AT(sub, n->date->off_year, int32_t) != 0;
    }
    if (fd->label == PROTOBUF_C_LABEL_REQUIRED)
        return 1;
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL) {
        if (fd->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = *(char *const *)p;
            return s != NULL && s != fd->default_value;
        }
        return AT(m, fd->quantifier_offset, protobuf_c_boolean) != 0;
    }
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s != NULL && s[0] != '\0';
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const int64_t *)p != 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p != 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p != 0;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p != 0;
    default: /* 32-bit integers and enums */
        return *(const int32_t *)p != 0;
    }
}

size_t
rules_list_len(const struct val *l)
{
    return l->n;
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
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

struct val
rules_list_at(const struct val *l, size_t i)
{
    if (l->lk == L_ARRAY)
        return l->u.items[i];
    const ProtobufCFieldDescriptor *fd = l->aux;
    const char *p = (const char *)l->u.base + i * elem_size(fd);
    /* Element errors (an unset date in a list) carry no node. */
    return read_scalar(NULL, NULL, fd, l->aux2, p);
}

/* ---- comparison ------------------------------------------------------- */

int
rules_val_compare(const struct val *x, const struct val *y, int *out)
{
    if (x->k == V_DOUBLE || y->k == V_DOUBLE) {
        double a = x->k == V_DOUBLE ? x->u.d : (double)x->u.i;
        double b = y->k == V_DOUBLE ? y->u.d : (double)y->u.i;
        if (a != a || b != b)
            return -1;
        *out = a < b ? -1 : a > b;
        return 0;
    }
    switch (x->k) {
    case V_INT:
    case V_ENUM:
    case V_DATE:
    case V_BOOL:
        *out = x->u.i < y->u.i ? -1 : x->u.i > y->u.i;
        return 0;
    case V_STRING: {
        size_t n = x->n < y->n ? x->n : y->n;
        int c = memcmp(x->u.s, y->u.s, n);
        if (c == 0)
            c = x->n < y->n ? -1 : x->n > y->n;
        *out = c < 0 ? -1 : c > 0;
        return 0;
    }
    default:
        return -1;
    }
}

int
rules_val_equal(const struct val *x, const struct val *y)
{
    if (x->k == V_NULL || y->k == V_NULL)
        return x->k == y->k;
    if (x->k == V_LIST) {
        size_t n = rules_list_len(x);
        if (n != rules_list_len(y))
            return 0;
        for (size_t i = 0; i < n; i++) {
            struct val a = rules_list_at(x, i), b = rules_list_at(y, i);
            if (!rules_val_equal(&a, &b))
                return 0;
        }
        return 1;
    }
    if (x->k == V_MSG || y->k == V_MSG)
        return 0;
    if (x->k == V_STRING)
        return x->n == y->n && memcmp(x->u.s, y->u.s, x->n) == 0;
    int c;
    return rules_val_compare(x, y, &c) == 0 && c == 0;
}

/* ---- operators -------------------------------------------------------- */

static __attribute__((noinline)) struct val
concat(struct eval_ctx *ex, const struct node *n, const struct val *x,
       const struct val *y)
{
    if (x->k == V_STRING) {
        char *s = cjx_arena_alloc(ex->arena, (size_t)x->n + y->n + 1);
        if (s == NULL)
            return rules_err(ex, n, "out of memory");
        memcpy(s, x->u.s, x->n);
        memcpy(s + x->n, y->u.s, y->n);
        s[x->n + y->n] = '\0';
        struct val v = {.k = V_STRING, .n = x->n + y->n};
        v.u.s = s;
        return v;
    }
    size_t a = rules_list_len(x), b = rules_list_len(y);
    struct val *items = cjx_arena_alloc(ex->arena, (a + b + 1) * sizeof(*items));
    if (items == NULL)
        return rules_err(ex, n, "out of memory");
    for (size_t i = 0; i < a; i++)
        items[i] = rules_list_at(x, i);
    for (size_t i = 0; i < b; i++)
        items[a + i] = rules_list_at(y, i);
    struct val v = {.k = V_LIST, .lk = L_ARRAY, .n = (uint32_t)(a + b)};
    v.u.items = items;
    return v;
}

static __attribute__((noinline)) struct val
arith(struct eval_ctx *ex, const struct node *n, const struct val *x,
      const struct val *y)
{
    if (x->k == V_STRING || x->k == V_LIST)
        return concat(ex, n, x, y);
    if (x->k == V_DOUBLE) {
        struct val v = {.k = V_DOUBLE};
        switch (n->sub) {
        case OP_ADD: v.u.d = x->u.d + y->u.d; break;
        case OP_SUB: v.u.d = x->u.d - y->u.d; break;
        case OP_MUL: v.u.d = x->u.d * y->u.d; break;
        default: v.u.d = x->u.d / y->u.d; break;
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
            return rules_err(ex, n, "division by zero");
        if (a == INT64_MIN && b == -1)
            return rules_err(ex, n, "integer overflow");
        r = a / b;
        break;
    case OP_MOD:
        if (b == 0)
            return rules_err(ex, n, "modulus by zero");
        if (a == INT64_MIN && b == -1)
            return rules_err(ex, n, "integer overflow");
        r = a % b;
        break;
    }
    if (over)
        return rules_err(ex, n, "integer overflow");
    return mkint(r);
}

static __attribute__((noinline)) struct val
eval_binop(struct eval_ctx *ex, const struct node *n)
{
    struct val x = eval_child(ex, n->a);
    if (x.k == V_ERR)
        return x;
    struct val y = eval_child(ex, n->b);
    if (y.k == V_ERR)
        return y;
    int c;
    /* The common cases, equality of two strings or two integers, without
     * the general comparison. */
    if ((n->sub == OP_EQ || n->sub == OP_NE) && x.k == y.k) {
        int eq;
        if (x.k == V_STRING)
            eq = x.n == y.n && memcmp(x.u.s, y.u.s, x.n) == 0;
        else if (x.k == V_INT || x.k == V_ENUM || x.k == V_BOOL || x.k == V_DATE)
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

static __attribute__((noinline)) struct val
eval_in_set(struct eval_ctx *ex, const struct node *n)
{
    struct val x = eval_child(ex, n->a);
    if (x.k == V_ERR)
        return x;
    const struct strset *s = n->set;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct val *e = &s->items[mid];
        int c = e->n != x.n ? (e->n < x.n ? -1 : 1)
                            : memcmp(e->u.s, x.u.s, x.n);
        if (c == 0)
            return mkbool(1);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return mkbool(0);
}

static __attribute__((noinline)) struct val
eval_in(struct eval_ctx *ex, const struct node *n)
{
    struct val x = eval_child(ex, n->a);
    if (x.k == V_ERR)
        return x;
    struct val l = eval_child(ex, n->b);
    if (l.k == V_ERR)
        return l;
    size_t len = rules_list_len(&l);
    for (size_t i = 0; i < len; i++) {
        struct val e = rules_list_at(&l, i);
        if (e.k != V_ERR && rules_val_equal(&x, &e))
            return mkbool(1);
    }
    return mkbool(0);
}

static __attribute__((noinline)) struct val
eval_list(struct eval_ctx *ex, const struct node *n)
{
    int k = n->slot;
    struct val *items = cjx_arena_alloc(ex->arena, (size_t)(k + 1) * sizeof(*items));
    if (items == NULL)
        return rules_err(ex, n, "out of memory");
    for (int i = 0; i < k; i++) {
        items[i] = eval_child(ex, n->args[i]);
        if (items[i].k == V_ERR)
            return items[i];
    }
    struct val v = {.k = V_LIST, .lk = L_ARRAY, .n = (uint32_t)k};
    v.u.items = items;
    return v;
}

/* all/exists absorb errors as && and || do: one false element makes all()
 * false (one true makes exists() true) even if other elements error. */
static __attribute__((noinline)) struct val
eval_macro(struct eval_ctx *ex, const struct node *n)
{
    struct val l = eval_child(ex, n->a);
    if (l.k == V_ERR)
        return l;
    size_t len = rules_list_len(&l);
    struct val *slot = &ex->slots[n->slot];
    struct val err = {.k = V_NULL};
    struct val *out = NULL;
    size_t n_out = 0, count = 0;
    if (n->sub == M_MAP || n->sub == M_FILTER) {
        out = cjx_arena_alloc(ex->arena, (len + 1) * sizeof(*out));
        if (out == NULL)
            return rules_err(ex, n, "out of memory");
    }
    for (size_t i = 0; i < len; i++) {
        *slot = rules_list_at(&l, i);
        if (slot->k == V_ERR && slot->aux2 == NULL)
            slot->aux2 = n;
        struct val r = eval_child(ex, n->b);
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
                r = eval_child(ex, n->c);
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

/* A fact whose `known` condition fails takes, in turn, each value of its
 * domain: the decide loop replays the decisions once per combination of
 * the unknown facts actually reached (see ruleset.c). */
static __attribute__((noinline)) struct val
eval_fact(struct eval_ctx *ex, const struct node *n, const struct let_def *l)
{
    if (l->known != NULL) {
        struct val k = eval_child(ex, l->known);
        /* A `known` that cannot be evaluated means the fact is unknown. */
        if (k.k == V_BOOL && k.u.i)
            return eval_child(ex, l->expr);
    }
    if (!ex->enumerate)
        return rules_err(ex, n, "fact is unknown");
    struct val dom = eval_child(ex, l->domain);
    if (dom.k == V_ERR)
        return dom;
    size_t len = rules_list_len(&dom);
    if (len == 0)
        return rules_err(ex, n, "fact is unknown and its domain is empty");
    unsigned idx;
    if (ex->pos < ex->n_choices) {
        idx = ex->choices[ex->pos].idx;
        if (idx >= len)
            return rules_err(ex, n, "fact domain changed between branches");
    } else {
        if (ex->n_choices == RULES_MAX_CHOICES || len > UINT16_MAX) {
            ex->overflow = 1;
            return rules_err(ex, n, "too many unknown facts");
        }
        ex->choices[ex->n_choices].idx = 0;
        ex->choices[ex->n_choices].n = (uint16_t)len;
        ex->n_choices++;
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

static __attribute__((noinline)) struct val
eval_let(struct eval_ctx *ex, const struct node *n)
{
    int s = n->slot;
    if (ex->state[s] == 2)
        return ex->slots[s];
    const struct let_def *l = &ex->set->lets[s];
    struct val v = n->op == N_FACT ? eval_fact(ex, n, l) : eval_child(ex, l->expr);
    ex->slots[s] = v;
    ex->state[s] = 2;
    return v;
}

/* Field selection and has(): walk the fused path, then read. */
static __attribute__((noinline)) struct val
eval_select(struct eval_ctx *ex, const struct node *n)
{
    const ProtobufCMessage *m = ex->root;
    if (n->base != NULL) {
        struct val b = eval_child(ex, n->base);
        if (b.k == V_ERR)
            return b;
        m = b.u.m;
    }
    for (unsigned i = 0; i < n->path_len && m != NULL; i++) {
        const ProtobufCFieldDescriptor *fd = n->path[i];
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            AT(m, fd->quantifier_offset, uint32_t) != fd->id)
            m = NULL;
        else
            m = AT(m, fd->offset, ProtobufCMessage *);
    }
    if (n->op == N_HAS)
        return mkbool(has_field(n, m));
    return read_field(ex, n, m);
}

struct val
rules_eval(struct eval_ctx *ex, const struct node *n)
{
    switch (n->op) {
    case N_LIT:
        return n->lit;
    case N_SELECT:
    case N_HAS:
        return eval_select(ex, n);
    case N_LET:
    case N_FACT:
        return eval_let(ex, n);
    case N_LOOPVAR:
        return ex->slots[n->slot];
    case N_LIST:
        return eval_list(ex, n);
    case N_INDEX: {
        struct val l = eval_child(ex, n->a);
        if (l.k == V_ERR)
            return l;
        struct val i = eval_child(ex, n->b);
        if (i.k == V_ERR)
            return i;
        if (i.u.i < 0 || (uint64_t)i.u.i >= rules_list_len(&l))
            return rules_err(ex, n, "index out of range");
        struct val e = rules_list_at(&l, (size_t)i.u.i);
        if (e.k == V_ERR && e.aux2 == NULL)
            e.aux2 = n;
        return e;
    }
    case N_NOT: {
        struct val x = eval_child(ex, n->a);
        if (x.k == V_ERR)
            return x;
        return mkbool(!x.u.i);
    }
    case N_NEG: {
        struct val x = eval_child(ex, n->a);
        if (x.k == V_ERR)
            return x;
        if (x.k == V_DOUBLE) {
            x.u.d = -x.u.d;
            return x;
        }
        if (x.u.i == INT64_MIN)
            return rules_err(ex, n, "integer overflow");
        return mkint(-x.u.i);
    }
    case N_AND:
    case N_OR: {
        /* Commutative error absorption: one false (for ||, one true)
         * decides even if other operands are errors; otherwise the first
         * error, else the identity. */
        int stop = n->op == N_OR;
        struct val err = {.k = V_NULL};
        for (unsigned i = 0; i < n->nargs; i++) {
            struct val x = eval_child(ex, n->args[i]);
            if (x.k == V_BOOL) {
                if (x.u.i == stop)
                    return x;
            } else if (err.k != V_ERR) {
                err = x;
            }
        }
        return err.k == V_ERR ? err : mkbool(!stop);
    }
    case N_COND: {
        struct val c = eval_child(ex, n->a);
        if (c.k == V_ERR)
            return c;
        return eval_child(ex, c.u.i ? n->b : n->c);
    }
    case N_BINOP:
        return eval_binop(ex, n);
    case N_IN:
        return eval_in(ex, n);
    case N_IN_SET:
        return eval_in_set(ex, n);
    case N_CALL:
        return rules_fn_call(ex, n);
    case N_MACRO:
        return eval_macro(ex, n);
    default:
        return rules_err(ex, n, "unresolved expression");
    }
}

/* ---- formatting ------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    struct cjx_arena *a;
    int failed;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap : 64) * 2;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = cjx_arena_alloc(b->a, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        if (b->len)
            memcpy(p, b->p, b->len);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void
format_val(struct sbuf *b, const struct val *v, const struct rtype *t)
{
    char buf[64];
    switch (v->k) {
    case V_ERR:
        sb_str(b, "error: ");
        sb_str(b, v->aux);
        return;
    case V_NULL:
        sb_str(b, "null");
        return;
    case V_BOOL:
        sb_str(b, v->u.i ? "true" : "false");
        return;
    case V_INT:
        snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i);
        sb_str(b, buf);
        return;
    case V_DOUBLE:
        snprintf(buf, sizeof(buf), "%.17g", v->u.d);
        /* Keep doubles recognisable: 2.0, not 2. */
        if (strspn(buf, "-0123456789") == strlen(buf))
            strcat(buf, ".0");
        sb_str(b, buf);
        return;
    case V_STRING:
        sb_str(b, "\"");
        for (uint32_t i = 0; i < v->n; i++) {
            char c = v->u.s[i];
            if (c == '"' || c == '\\')
                sb_put(b, "\\", 1);
            sb_put(b, &c, 1);
        }
        sb_str(b, "\"");
        return;
    case V_DATE: {
        int64_t y;
        unsigned m, d;
        rules_date_unpack(v->u.i, &y, &m, &d);
        snprintf(buf, sizeof(buf), "date(\"%04lld-%02u-%02u\")", (long long)y,
                 m, d);
        sb_str(b, buf);
        return;
    }
    case V_ENUM: {
        const ProtobufCEnumValue *ev =
            t != NULL && t->kind == T_ENUM
                ? protobuf_c_enum_descriptor_get_value(t->en, (int)v->u.i)
                : NULL;
        if (ev != NULL) {
            sb_str(b, ev->name);
        } else {
            snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i);
            sb_str(b, buf);
        }
        return;
    }
    case V_MSG:
        sb_str(b, ((const ProtobufCMessageDescriptor *)v->aux)->name);
        sb_str(b, v->u.m != NULL ? "{...}" : "{}");
        return;
    case V_LIST: {
        sb_str(b, "[");
        size_t n = rules_list_len(v);
        for (size_t i = 0; i < n; i++) {
            struct val e = rules_list_at(v, i);
            if (i)
                sb_str(b, ", ");
            format_val(b, &e, t != NULL && t->kind == T_LIST ? t->elem : NULL);
        }
        sb_str(b, "]");
        return;
    }
    }
}

char *
rules_val_format(struct cjx_arena *a, const struct val *v, const struct rtype *t)
{
    struct sbuf b = {.a = a};
    format_val(&b, v, t);
    if (b.failed)
        return NULL;
    if (b.p == NULL)
        return cjx_arena_strndup(a, "", 0);
    return b.p;
}
