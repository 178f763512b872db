/* Reading a field of a message already reached, by the kind decided at
 * load: shared by the tree's specialised evaluators and the bytecode. */
#ifndef CJX_RULES_ACCESS_H
#define CJX_RULES_ACCESS_H

#include <string.h>

#include "rules_internal.h"

#define RULES_AT(m, off, type) (*(const type *)((const char *)(m) + (off)))

/* The value of n's field in m (NULL: an unset message, so the default),
 * for a read kind other than RK_GENERIC: no descriptor is consulted. */
static inline struct val
rules_field_value(struct eval_ctx *ex, const struct node *n,
                  const ProtobufCMessage *m)
{
    unsigned off = n->fd->offset;
    struct val v = {.k = V_INT};
    switch (n->rk) {
    case RK_I32:
        v.u.i = m != NULL ? RULES_AT(m, off, int32_t) : 0;
        return v;
    case RK_U32:
        v.u.i = m != NULL ? RULES_AT(m, off, uint32_t) : 0;
        return v;
    case RK_I64:
        v.u.i = m != NULL ? RULES_AT(m, off, int64_t) : 0;
        return v;
    case RK_ENUM:
        v.k = V_ENUM;
        v.u.i = m != NULL ? RULES_AT(m, off, int) : 0;
        return v;
    case RK_BOOL:
        v.k = V_BOOL;
        v.u.i = m != NULL && RULES_AT(m, off, protobuf_c_boolean) != 0;
        return v;
    case RK_F64:
        v.k = V_DOUBLE;
        v.u.d = m != NULL ? RULES_AT(m, off, double) : 0.0;
        return v;
    case RK_STR: {
        const char *s = m != NULL ? RULES_AT(m, off, char *) : NULL;
        v.k = V_STRING;
        v.u.s = s != NULL ? s : "";
        v.n = (uint32_t)strlen(v.u.s);
        return v;
    }
    case RK_MSG:
        v.k = V_MSG;
        v.u.m = m != NULL ? RULES_AT(m, off, ProtobufCMessage *) : NULL;
        return v;
    case RK_DATE:
        return rules_read_date(n, n->date,
                               m != NULL ? RULES_AT(m, off, ProtobufCMessage *)
                                         : NULL);
    case RK_LIST:
        v.k = V_LIST;
        v.lk = n->list_kind;
        if (m != NULL) {
            v.n = (uint32_t)RULES_AT(m, n->fd->quantifier_offset, size_t);
            v.u.base = RULES_AT(m, off, void *);
        } else {
            v.u.base = NULL;
        }
        return v;
    default:
        return rules_read_field(ex, n, m);
    }
}

/* How has() decides presence for one field (in n->rk of an N_HAS). */
enum presence {
    P_GENERIC = 0,
    P_MSG,      /* message set */
    P_DATE,     /* date message set with a year */
    P_FLAG,     /* proto2 optional scalar: its has_ flag */
    P_NONEMPTY, /* proto3 string */
    P_NONZERO32,
    P_NONZERO64,
    P_BOOL,
};

/* has(m.f) for n's field in m (NULL: an unset message). */
static inline int
rules_field_present(const struct node *n, const ProtobufCMessage *m)
{
    if (m == NULL)
        return 0;
    const ProtobufCFieldDescriptor *fd = n->fd;
    switch (n->rk) {
    case P_MSG:
        return RULES_AT(m, fd->offset, ProtobufCMessage *) != NULL;
    case P_DATE: {
        const ProtobufCMessage *d = RULES_AT(m, fd->offset, ProtobufCMessage *);
        return d != NULL && RULES_AT(d, n->date->off_year, int32_t) != 0;
    }
    case P_FLAG:
        return RULES_AT(m, fd->quantifier_offset, protobuf_c_boolean) != 0;
    case P_NONEMPTY: {
        const char *s = RULES_AT(m, fd->offset, char *);
        return s != NULL && s[0] != '\0';
    }
    case P_NONZERO32:
        return RULES_AT(m, fd->offset, int32_t) != 0;
    case P_NONZERO64:
        return RULES_AT(m, fd->offset, int64_t) != 0;
    case P_BOOL:
        return RULES_AT(m, fd->offset, protobuf_c_boolean) != 0;
    default:
        return rules_has_field(n, m);
    }
}

/* An integer-like field (rk RK_I32, RK_U32, RK_I64, RK_ENUM, RK_BOOL or
 * RK_DATE) of m read into *x. Returns 1 with an error in *err (a date not
 * set or invalid). */
static inline int
rules_field_int(const struct node *f, const ProtobufCMessage *m, int64_t *x,
                struct val *err)
{
    if (m == NULL) {
        *x = 0;
        if (f->rk != RK_DATE)
            return 0;
        *err = rules_read_date(f, f->date, NULL);
        return 1;
    }
    unsigned off = f->fd->offset;
    switch (f->rk) {
    case RK_I32:
        *x = RULES_AT(m, off, int32_t);
        return 0;
    case RK_U32:
        *x = RULES_AT(m, off, uint32_t);
        return 0;
    case RK_I64:
        *x = RULES_AT(m, off, int64_t);
        return 0;
    case RK_ENUM:
        *x = RULES_AT(m, off, int);
        return 0;
    case RK_BOOL:
        *x = RULES_AT(m, off, protobuf_c_boolean) != 0;
        return 0;
    default: {
        struct val v =
            rules_read_date(f, f->date, RULES_AT(m, off, ProtobufCMessage *));
        if (v.k == V_ERR) {
            *err = v;
            return 1;
        }
        *x = v.u.i;
        return 0;
    }
    }
}

/* A comparison's result when its operands compare as c (-1, 0, 1): bit
 * c + 1 of mask (n->rk of a specialised comparison). */
static inline struct val
rules_cmp_result(unsigned mask, int c)
{
    return rules_mkbool((mask >> (c + 1)) & 1);
}

static inline int
rules_order3(int64_t x, int64_t y)
{
    return (x > y) - (x < y);
}

/* Whether string field f of m equals the literal lit, which has no NUL
 * inside: compared in place, without measuring the field first. */
static inline int
rules_str_field_eq(const struct node *f, const ProtobufCMessage *m,
                   const struct val *lit)
{
    const char *s = m != NULL ? RULES_AT(m, f->fd->offset, char *) : NULL;
    if (s == NULL)
        s = "";
    const char *c = lit->u.s;
    uint32_t len = lit->n, i = 0;
    /* c has no NUL before len, so the loop stops at the end of s. */
    while (i < len && s[i] == c[i])
        i++;
    return i == len && s[i] == '\0';
}

/* Whether the len bytes at x are an item of the constant set s. */
static inline int
rules_in_strset(const struct strset *s, const char *x, uint32_t len)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct val *e = &s->items[mid];
        int c = e->n != len ? (e->n < len ? -1 : 1) : 0;
        for (uint32_t i = 0; c == 0 && i < len; i++)
            c = (unsigned char)e->u.s[i] - (unsigned char)x[i];
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Whether string field f of m is an item of s: a field longer than every
 * item is not measured to its end. */
static inline int
rules_str_field_in_set(const struct node *f, const ProtobufCMessage *m,
                       const struct strset *s)
{
    const char *x = m != NULL ? RULES_AT(m, f->fd->offset, char *) : NULL;
    if (x == NULL)
        x = "";
    uint32_t len = 0, max = s->max_len;
    while (len <= max && x[len] != '\0')
        len++;
    return len <= max && rules_in_strset(s, x, len);
}

/* Two strings equal, the shared literals of a set by pointer. Short
 * strings: a loop beats a call. */
static inline int
rules_str_eq(const struct val *x, const struct val *y)
{
    if (x->lk && y->lk)
        return x->u.s == y->u.s;
    if (x->n != y->n)
        return 0;
    for (uint32_t i = 0; i < x->n; i++)
        if (x->u.s[i] != y->u.s[i])
            return 0;
    return 1;
}

#endif
