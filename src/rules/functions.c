/* Built-in functions: signatures checked at load, implementations run by the evaluator, and date arithmetic. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/date.h"
#include "rules_internal.h"

/* ---- dates ------------------------------------------------------------ */

/* The day numbers (days since 1970-01-01) of 0001-01-01 and 9999-12-31,
 * the calendar's first and last days, as constants: add_days checks every
 * result against them. */
enum { FIRST_DAY = -719162, LAST_DAY = 2932896 };

/* The calendar is cjx_date's (include/cjx/date.h); these adapt the rules'
 * 64-bit values to it. */
int64_t
rules_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    return cjx_date_to_days((int)y, (int)m, (int)d);
}

void
rules_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int year, month, day;
    cjx_date_from_days(z, &year, &month, &day);
    *y = year;
    *m = (unsigned)month;
    *d = (unsigned)day;
}

int
rules_valid_date(int64_t y, int64_t m, int64_t d)
{
    /* Out of int's range is out of the calendar's too. */
    return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= 31 &&
           cjx_date_is_valid((int)y, (int)m, (int)d);
}

int64_t
rules_date_pack(int64_t y, unsigned m, unsigned d)
{
    return y * 10000 + m * 100 + d;
}

void
rules_date_unpack(int64_t v, int64_t *y, unsigned *m, unsigned *d)
{
    *y = v / 10000;
    *m = (unsigned)(v / 100 % 100);
    *d = (unsigned)(v % 100);
}

static int64_t
date_to_days(int64_t v)
{
    int64_t y;
    unsigned m, d;
    rules_date_unpack(v, &y, &m, &d);
    return rules_days_from_civil(y, m, d);
}

static int64_t
date_of_days(int64_t days)
{
    int64_t y;
    unsigned m, d;
    rules_civil_from_days(days, &y, &m, &d);
    return rules_date_pack(y, m, d);
}

int
rules_parse_date(const char *s, size_t len, int64_t *packed)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int v[8];
    static const int at[] = {0, 1, 2, 3, 5, 6, 8, 9};
    for (int i = 0; i < 8; i++) {
        char c = s[at[i]];
        if (c < '0' || c > '9')
            return -1;
        v[i] = c - '0';
    }
    int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    int m = v[4] * 10 + v[5], d = v[6] * 10 + v[7];
    if (!rules_valid_date(y, m, d))
        return -1;
    *packed = rules_date_pack(y, (unsigned)m, (unsigned)d);
    return 0;
}

/* Adds days that keep the date in its month without the day counts:
 * sentence ends add no days or a few. A day count is linear in the day of
 * the month, so for a month 1..12 of a year 1..9999 and a resulting day
 * 1..28 (in every month) the result is that day, as the conversion both
 * ways would give. Returns 1 with the date in *out, else 0. */
static int
add_days_in_month(int64_t date, int64_t days, int64_t *out)
{
    int64_t y;
    unsigned m, d;
    if (date < 0)
        return 0;
    rules_date_unpack(date, &y, &m, &d);
    int64_t nd = (int64_t)d + days;
    if (y < 1 || y > 9999 || m < 1 || m > 12 || nd < 1 || nd > 28)
        return 0;
    *out = rules_date_pack(y, m, (unsigned)nd);
    return 1;
}

/* Adds months, keeping the day unless the target month is shorter, in
 * which case the last day of that month is used (31 Jan + 1 month =
 * 28/29 Feb). */
static int
add_months(int64_t date, int64_t months, int64_t *out)
{
    int64_t y;
    unsigned m, d;
    rules_date_unpack(date, &y, &m, &d);
    if (months > 12 * 10000 || months < -12 * 10000)
        return -1;
    int64_t total = y * 12 + (int64_t)(m - 1) + months;
    int64_t ny = total >= 0 ? total / 12 : -((-total + 11) / 12);
    unsigned nm = (unsigned)(total - ny * 12) + 1;
    if (ny < 1 || ny > 9999)
        return -1;
    unsigned dim = (unsigned)cjx_date_days_in_month((int)ny, (int)nm);
    *out = rules_date_pack(ny, nm, d > dim ? dim : d);
    return 0;
}

/* ---- checking --------------------------------------------------------- */

struct fn_def {
    const char *name;
    enum fn_id id;
    int nargs;    /* including the receiver */
    int receiver; /* 0 global only, 1 method only, 2 either */
};

static const struct fn_def fns[] = {
    {"size", FN_SIZE, 1, 2},
    {"startsWith", FN_STARTS, 2, 1},
    {"endsWith", FN_ENDS, 2, 1},
    {"contains", FN_CONTAINS, 2, 1},
    {"matches", FN_MATCHES, 2, 2},
    {"int", FN_INT, 1, 0},
    {"double", FN_DOUBLE, 1, 0},
    {"string", FN_STRING, 1, 0},
    {"date", FN_DATE, 1, 0},
    {"age_at", FN_AGE_AT, 2, 0},
    {"days_between", FN_DAYS_BETWEEN, 2, 0},
    {"add_days", FN_ADD_DAYS, 2, 0},
    {"add_months", FN_ADD_MONTHS, 2, 0},
    {"add_years", FN_ADD_YEARS, 2, 0},
    {"sum", FN_SUM, 1, 2},
    {"min", FN_MIN, 1, 2},
    {"max", FN_MAX, 1, 2},
    {"year", FN_YEAR, 1, 2},
    {"month", FN_MONTH, 1, 2},
    {"day", FN_DAY, 1, 2},
};

static const struct rtype *
arg_type(const struct node *n, int i)
{
    if (n->receiver)
        return i == 0 ? n->a->type : n->args[i - 1]->type;
    return n->args[i]->type;
}

static struct node *
arg_node(const struct node *n, int i)
{
    if (n->receiver)
        return i == 0 ? n->a : n->args[i - 1];
    return n->args[i];
}

static int
sig_error(struct check_ctx *cx, const struct node *n)
{
    char buf[256] = "";
    size_t used = 0;
    int total = n->nargs + (n->receiver ? 1 : 0);
    for (int i = 0; i < total && used < sizeof(buf) - 1; i++) {
        char tn[96];
        int w = snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? ", " : "",
                         rules_type_name(arg_type(n, i), tn, sizeof(tn)));
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return rules_check_err(
        cx, n, "no matching overload for '%s' applied to '(%s)'", n->name, buf);
}

static int
compile_regex(struct check_ctx *cx, struct node *n)
{
    struct node *pat = arg_node(n, 1);
    if (pat->op != N_LIT || pat->lit.k != V_STRING)
        return rules_check_err(cx, pat,
                               "matches() needs a literal pattern, compiled "
                               "once at load");
    /* CEL's matches() finds the pattern anywhere; ours is anchored at both
     * ends, so a rule says exactly what must match. */
    size_t len = pat->lit.n;
    char *full = cjx_arena_alloc(cx->arena, len + 5);
    struct regex_entry *e = cjx_arena_alloc(cx->arena, sizeof(*e));
    if (full == NULL || e == NULL)
        return CJX_ENOMEM;
    memcpy(full, "^(", 2);
    memcpy(full + 2, pat->lit.u.s, len);
    memcpy(full + 2 + len, ")$", 3);
    int rc = regcomp(&e->re, full, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &e->re, msg, sizeof(msg));
        if (rc == REG_ESPACE)
            return CJX_ENOMEM;
        return rules_check_err(cx, pat, "invalid regular expression: %s", msg);
    }
    e->next = cx->set->regexes;
    cx->set->regexes = e;
    n->re = &e->re;
    return 0;
}

static int
is_num(const struct rtype *t)
{
    return t->kind == T_INT || t->kind == T_DOUBLE;
}

int
rules_fn_check(struct check_ctx *cx, struct node *n)
{
    const struct fn_def *f = NULL;
    for (size_t i = 0; i < sizeof(fns) / sizeof(*fns); i++)
        if (strcmp(fns[i].name, n->name) == 0)
            f = &fns[i];
    if (f == NULL)
        return rules_check_err(cx, n, "unknown function '%s'", n->name);
    if ((n->receiver && f->receiver == 0) || (!n->receiver && f->receiver == 1))
        return rules_check_err(cx, n, "'%s' cannot be called %s", n->name,
                               n->receiver ? "as a method"
                                           : "as a global function");
    int total = n->nargs + (n->receiver ? 1 : 0);
    if (total != f->nargs) {
        int shown = n->receiver ? f->nargs - 1 : f->nargs;
        return rules_check_err(cx, n, "'%s' expects %d argument%s, got %d",
                               n->name, shown, shown == 1 ? "" : "s", n->nargs);
    }
    n->sub = (uint8_t)f->id;
    const struct rtype *t0 = arg_type(n, 0);
    const struct rtype *t1 = total > 1 ? arg_type(n, 1) : NULL;
    switch (f->id) {
    case FN_SIZE:
        if (t0->kind != T_STRING && t0->kind != T_LIST)
            return sig_error(cx, n);
        n->type = &rtype_int;
        return 0;
    case FN_STARTS:
    case FN_ENDS:
    case FN_CONTAINS:
        if (t0->kind != T_STRING || t1->kind != T_STRING)
            return sig_error(cx, n);
        n->type = &rtype_bool;
        return 0;
    case FN_MATCHES:
        if (t0->kind != T_STRING || t1->kind != T_STRING)
            return sig_error(cx, n);
        n->type = &rtype_bool;
        return compile_regex(cx, n);
    case FN_INT:
        if (!is_num(t0) && t0->kind != T_STRING && t0->kind != T_ENUM)
            return sig_error(cx, n);
        n->type = &rtype_int;
        return 0;
    case FN_DOUBLE:
        if (!is_num(t0) && t0->kind != T_STRING)
            return sig_error(cx, n);
        n->type = &rtype_double;
        return 0;
    case FN_STRING:
        if (!is_num(t0) && t0->kind != T_STRING && t0->kind != T_BOOL &&
            t0->kind != T_DATE && t0->kind != T_ENUM)
            return sig_error(cx, n);
        n->type = &rtype_string;
        return 0;
    case FN_DATE: {
        if (t0->kind != T_STRING)
            return sig_error(cx, n);
        n->type = &rtype_date;
        struct node *a = arg_node(n, 0);
        if (a->op == N_LIT) {
            /* A literal date is resolved once, here. */
            int64_t packed;
            if (rules_parse_date(a->lit.u.s, a->lit.n, &packed) != 0)
                return rules_check_err(cx, a,
                                       "invalid date literal \"%s\" (expected "
                                       "a valid YYYY-MM-DD)",
                                       a->lit.u.s);
            n->op = N_LIT;
            memset(&n->lit, 0, sizeof(n->lit));
            n->lit.k = V_DATE;
            n->lit.u.i = packed;
        }
        return 0;
    }
    case FN_AGE_AT:
    case FN_DAYS_BETWEEN:
        if (t0->kind != T_DATE || t1->kind != T_DATE)
            return sig_error(cx, n);
        n->type = &rtype_int;
        return 0;
    case FN_ADD_DAYS:
    case FN_ADD_MONTHS:
    case FN_ADD_YEARS:
        if (t0->kind != T_DATE || t1->kind != T_INT)
            return sig_error(cx, n);
        n->type = &rtype_date;
        return 0;
    case FN_SUM:
        if (t0->kind != T_LIST || !is_num(t0->elem))
            return sig_error(cx, n);
        n->type = t0->elem;
        return 0;
    case FN_MIN:
    case FN_MAX:
        if (t0->kind != T_LIST ||
            (!is_num(t0->elem) && t0->elem->kind != T_DATE &&
             t0->elem->kind != T_STRING))
            return sig_error(cx, n);
        n->type = t0->elem;
        return 0;
    case FN_YEAR:
    case FN_MONTH:
    case FN_DAY:
        if (t0->kind != T_DATE)
            return sig_error(cx, n);
        n->type = &rtype_int;
        return 0;
    }
    return sig_error(cx, n);
}

/* ---- evaluation ------------------------------------------------------- */

#define mkint  rules_mkint
#define mkbool rules_mkbool

static struct val
mkdouble(double d)
{
    struct val v = {.k = V_DOUBLE};
    v.u.d = d;
    return v;
}

static struct val
mkdate(int64_t days)
{
    return rules_mkval(V_DATE, days);
}

static struct val
mkstr(const char *s, size_t n)
{
    struct val v = {.k = V_STRING};
    v.u.s = s;
    v.n = (uint32_t)n;
    return v;
}

static size_t
utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

static struct val
eval_arg(struct eval_ctx *ex, const struct node *n, int i)
{
    return rules_eval(ex, arg_node(n, i));
}

static struct val
fold_list(const struct node *n, const struct val *l)
{
    size_t len = l->n;
    int id = n->sub;
    if (id == FN_SUM) {
        if (n->type->kind == T_INT) {
            int64_t s = 0;
            for (size_t i = 0; i < len; i++) {
                struct val x = rules_list_at(l, i);
                if (__builtin_add_overflow(s, x.u.i, &s))
                    return rules_err(n, E_OVERFLOW);
            }
            return mkint(s);
        }
        double s = 0;
        for (size_t i = 0; i < len; i++)
            s += rules_list_at(l, i).u.d;
        return mkdouble(s);
    }
    if (len == 0)
        return rules_err(n, id == FN_MIN ? E_MIN_EMPTY : E_MAX_EMPTY);
    struct val best = rules_list_at(l, 0);
    for (size_t i = 1; i < len; i++) {
        struct val x = rules_list_at(l, i);
        int c;
        if (rules_val_compare(&x, &best, &c) != 0)
            return rules_err(n, E_UNORDERED);
        if ((id == FN_MIN && c < 0) || (id == FN_MAX && c > 0))
            best = x;
    }
    return best;
}

static struct val
to_string(struct eval_ctx *ex, const struct node *n, const struct val *x)
{
    char buf[64];
    int w;
    switch (x->k) {
    case V_STRING:
        return *x;
    case V_BOOL:
        return x->u.i ? mkstr("true", 4) : mkstr("false", 5);
    case V_INT:
        w = snprintf(buf, sizeof(buf), "%lld", (long long)x->u.i);
        break;
    case V_DOUBLE:
        w = snprintf(buf, sizeof(buf), "%.17g", x->u.d);
        break;
    case V_DATE: {
        int64_t y;
        unsigned m, d;
        rules_date_unpack(x->u.i, &y, &m, &d);
        w = snprintf(buf, sizeof(buf), "%04lld-%02u-%02u", (long long)y, m, d);
        break;
    }
    case V_ENUM: {
        const struct node *a = arg_node(n, 0);
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(a->type->en, (int)x->u.i);
        if (ev != NULL)
            return mkstr(ev->name, strlen(ev->name));
        w = snprintf(buf, sizeof(buf), "%lld", (long long)x->u.i);
        break;
    }
    default:
        return rules_err(n, E_NO_STRING);
    }
    char *s = cjx_arena_strndup(ex->arena, buf, (size_t)w);
    if (s == NULL)
        return rules_err(n, E_NOMEM);
    return mkstr(s, (size_t)w);
}

static struct val
to_int(const struct node *n, const struct val *x)
{
    switch (x->k) {
    case V_INT:
    case V_ENUM:
        return mkint(x->u.i);
    case V_DOUBLE:
        /* CEL: truncation toward zero; out of range is an error. */
        if (!(x->u.d > -9223372036854775808.0 &&
              x->u.d < 9223372036854775808.0))
            return rules_err(n, E_INT_RANGE);
        return mkint((int64_t)x->u.d);
    case V_STRING: {
        char buf[32];
        if (x->n == 0 || x->n >= sizeof(buf))
            return rules_err(n, E_INT_SYNTAX);
        memcpy(buf, x->u.s, x->n);
        buf[x->n] = '\0';
        char *end;
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (*end != '\0' || errno == ERANGE)
            return rules_err(n, E_INT_SYNTAX);
        return mkint(v);
    }
    default:
        return rules_err(n, E_NO_INT);
    }
}

static struct val
to_double(const struct node *n, const struct val *x)
{
    switch (x->k) {
    case V_INT:
        return mkdouble((double)x->u.i);
    case V_DOUBLE:
        return *x;
    case V_STRING: {
        char buf[64];
        if (x->n == 0 || x->n >= sizeof(buf))
            return rules_err(n, E_DOUBLE_SYNTAX);
        memcpy(buf, x->u.s, x->n);
        buf[x->n] = '\0';
        char *end;
        double d = strtod(buf, &end);
        if (*end != '\0')
            return rules_err(n, E_DOUBLE_SYNTAX);
        return mkdouble(d);
    }
    default:
        return rules_err(n, E_NO_DOUBLE);
    }
}

struct val
rules_fn_call(struct eval_ctx *ex, const struct node *n)
{
    struct val a = eval_arg(ex, n, 0);
    if (a.k == V_ERR)
        return a;
    int total = n->nargs + (n->receiver ? 1 : 0);
    struct val b = {.k = V_NULL};
    if (total > 1) {
        b = eval_arg(ex, n, 1);
        if (b.k == V_ERR)
            return b;
    }
    switch (n->sub) {
    case FN_SIZE:
        if (a.k == V_STRING)
            return mkint((int64_t)utf8_len(a.u.s, a.n));
        return mkint((int64_t)a.n);
    case FN_STARTS:
        return mkbool(b.n <= a.n && memcmp(a.u.s, b.u.s, b.n) == 0);
    case FN_ENDS:
        return mkbool(b.n <= a.n && memcmp(a.u.s + a.n - b.n, b.u.s, b.n) == 0);
    case FN_CONTAINS:
        if (b.n == 0)
            return mkbool(1);
        return mkbool(b.n <= a.n && memmem(a.u.s, a.n, b.u.s, b.n) != NULL);
    case FN_MATCHES:
        /* Strings in this evaluator are always NUL-terminated; one with an
         * embedded NUL cannot be matched whole. */
        if (strlen(a.u.s) != a.n)
            return mkbool(0);
        return mkbool(regexec(n->re, a.u.s, 0, NULL, 0) == 0);
    case FN_INT:
        return to_int(n, &a);
    case FN_DOUBLE:
        return to_double(n, &a);
    case FN_STRING:
        return to_string(ex, n, &a);
    case FN_DATE: {
        int64_t days;
        if (rules_parse_date(a.u.s, a.n, &days) != 0)
            return rules_err(n, E_DATE_SYNTAX);
        return mkdate(days);
    }
    case FN_AGE_AT: {
        /* Whole years, counting the birthday itself: on the 21st birthday
         * the age is 21. Dates are packed as yyyymmdd, so the difference
         * divided by 10000 (rounded down) compares (month, day) tuples: a
         * 29 February birthday is reached on 1 March in common years. */
        int64_t diff = b.u.i - a.u.i;
        return mkint(diff >= 0 ? diff / 10000 : -((-diff + 9999) / 10000));
    }
    case FN_DAYS_BETWEEN:
        return mkint(date_to_days(b.u.i) - date_to_days(a.u.i));
    case FN_ADD_DAYS: {
        int64_t r;
        if (b.u.i > 4000000 || b.u.i < -4000000)
            return rules_err(n, E_DATE_RANGE);
        if (add_days_in_month(a.u.i, b.u.i, &r))
            return mkdate(r);
        r = date_to_days(a.u.i) + b.u.i;
        if (r < FIRST_DAY || r > LAST_DAY)
            return rules_err(n, E_DATE_RANGE);
        return mkdate(date_of_days(r));
    }
    case FN_ADD_MONTHS:
    case FN_ADD_YEARS: {
        int64_t months = b.u.i, r;
        if (n->sub == FN_ADD_YEARS &&
            __builtin_mul_overflow(months, (int64_t)12, &months))
            return rules_err(n, E_DATE_RANGE);
        if (add_months(a.u.i, months, &r) != 0)
            return rules_err(n, E_DATE_RANGE);
        return mkdate(r);
    }
    case FN_SUM:
    case FN_MIN:
    case FN_MAX:
        return fold_list(n, &a);
    case FN_YEAR:
    case FN_MONTH:
    case FN_DAY: {
        int64_t y;
        unsigned m, d;
        rules_date_unpack(a.u.i, &y, &m, &d);
        return mkint(n->sub == FN_YEAR ? y : n->sub == FN_MONTH ? m : d);
    }
    }
    return rules_err(n, E_UNKNOWN_FN);
}
