/* Values: list items, equality and ordering, error messages, and CEL-like formatting. */
#include <stdio.h>
#include <string.h>

#include "rules_internal.h"

static const char *const err_msgs[] = {
    [E_DATE_NOT_SET] = "date is not set",
    [E_INVALID_DATE] = "invalid date",
    [E_UNSIGNED_RANGE] = "unsigned value out of int range",
    [E_FIELD_TYPE] = "unsupported field type",
    [E_NOMEM] = "out of memory",
    [E_DIV_ZERO] = "division by zero",
    [E_MOD_ZERO] = "modulus by zero",
    [E_OVERFLOW] = "integer overflow",
    [E_FACT_UNKNOWN] = "fact is unknown",
    [E_DOMAIN_EMPTY] = "fact is unknown and its domain is empty",
    [E_DOMAIN_CHANGED] = "fact domain changed between branches",
    [E_TOO_MANY_FACTS] = "too many unknown facts",
    [E_INDEX_RANGE] = "index out of range",
    [E_UNRESOLVED] = "unresolved expression",
    [E_DATE_RANGE] = "date out of range",
    [E_MIN_EMPTY] = "min() of an empty list",
    [E_MAX_EMPTY] = "max() of an empty list",
    [E_UNORDERED] = "values cannot be ordered",
    [E_NO_STRING] = "no string conversion",
    [E_INT_RANGE] = "int() out of range",
    [E_INT_SYNTAX] = "int() of a string that is not a number",
    [E_NO_INT] = "no int conversion",
    [E_DOUBLE_SYNTAX] = "double() of a string that is not a number",
    [E_NO_DOUBLE] = "no double conversion",
    [E_DATE_SYNTAX] = "invalid date string",
    [E_UNKNOWN_FN] = "unknown function",
};

const char *
rules_err_msg(const struct val *v)
{
    if (v->lk < sizeof(err_msgs) / sizeof(*err_msgs) && err_msgs[v->lk] != NULL)
        return err_msgs[v->lk];
    return "error";
}

struct val
rules_list_at(const struct val *l, size_t i)
{
    struct val v = {.k = V_INT};
    switch (l->lk) {
    case L_ARRAY:
        return l->u.items[i];
    case L_I32:
        v.u.i = ((const int32_t *)l->u.base)[i];
        return v;
    case L_U32:
        v.u.i = ((const uint32_t *)l->u.base)[i];
        return v;
    case L_I64:
        v.u.i = ((const int64_t *)l->u.base)[i];
        return v;
    case L_U64: {
        uint64_t u = ((const uint64_t *)l->u.base)[i];
        /* Element errors carry no node: the macro or index that reaches
         * the element names it. */
        if (u > INT64_MAX)
            return rules_err(NULL, E_UNSIGNED_RANGE);
        v.u.i = (int64_t)u;
        return v;
    }
    case L_F32:
        v.k = V_DOUBLE;
        v.u.d = ((const float *)l->u.base)[i];
        return v;
    case L_F64:
        v.k = V_DOUBLE;
        v.u.d = ((const double *)l->u.base)[i];
        return v;
    case L_BOOL:
        v.k = V_BOOL;
        v.u.i = ((const protobuf_c_boolean *)l->u.base)[i] != 0;
        return v;
    case L_ENUM:
        v.k = V_ENUM;
        v.u.i = ((const int *)l->u.base)[i];
        return v;
    case L_STR: {
        const char *s = ((char *const *)l->u.base)[i];
        v.k = V_STRING;
        v.u.s = s != NULL ? s : "";
        v.n = (uint32_t)strlen(v.u.s);
        return v;
    }
    default:
        v.k = V_MSG;
        v.u.m = ((ProtobufCMessage *const *)l->u.base)[i];
        return v;
    }
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
        size_t n = x->n;
        if (n != y->n)
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
        sb_str(b, rules_err_msg(v));
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
        /* A message value is always of a message-typed expression. */
        sb_str(b, t != NULL && t->kind == T_MSG ? t->msg->name : "message");
        sb_str(b, v->u.m != NULL ? "{...}" : "{}");
        return;
    case V_LIST: {
        sb_str(b, "[");
        size_t n = v->n;
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
rules_val_format(struct cjx_arena *a, const struct val *v,
                 const struct rtype *t)
{
    struct sbuf b = {.a = a};
    format_val(&b, v, t);
    if (b.failed)
        return NULL;
    if (b.p == NULL)
        return cjx_arena_strndup(a, "", 0);
    return b.p;
}
