/* Recursive-descent parser for the CEL-subset grammar, producing an untyped AST. */
#include <stdio.h>
#include <string.h>

#include "rules_internal.h"

struct node *
rules_node_new(struct cjx_arena *a, enum node_op op, uint32_t pos,
               const struct srcmap *sm)
{
    struct node *n = cjx_arena_alloc(a, sizeof(*n));
    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->ev = rules_eval_generic;
    n->op = (uint8_t)op;
    n->pos = pos;
    n->slot = -1;
    rules_pos(sm, pos, &n->line, &n->col);
    return n;
}

static int
perr(struct parse_ctx *p, uint32_t pos, const char *msg)
{
    uint32_t line, col;
    rules_pos(p->sm, pos, &line, &col);
    return rules_diag(p->eb, CJX_EPARSE, p->sm, line, col, "%s", msg);
}

static int
advance(struct parse_ctx *p)
{
    int rc = rules_lex_next(&p->lx, &p->tok);
    if (rc != 0)
        return rc;
    if (p->tok.kind == TK_ERR)
        return perr(p, p->tok.pos, p->tok.err);
    return 0;
}

static int
expect(struct parse_ctx *p, enum tok_kind k, const char *what)
{
    if (p->tok.kind != k) {
        char msg[96];
        snprintf(msg, sizeof(msg), "expected %s", what);
        return perr(p, p->tok.pos, msg);
    }
    return advance(p);
}

#define NEW(var, op, pos)                                     \
    do {                                                      \
        (var) = rules_node_new(p->arena, (op), (pos), p->sm); \
        if ((var) == NULL)                                    \
            return CJX_ENOMEM;                                \
    } while (0)

static int parse_expr(struct parse_ctx *p, struct node **out);

/* Keeps every tree shallow enough for the recursive checker and evaluator,
 * however the depth arises (nesting or long operator chains). */
static int
fix_height(struct parse_ctx *p, struct node *n)
{
    unsigned h = 0;
    const struct node *kids[3] = {n->a, n->b, n->c};
    for (int i = 0; i < 3; i++)
        if (kids[i] != NULL && kids[i]->height > h)
            h = kids[i]->height;
    int nargs = n->op == N_LIST ? n->slot : n->nargs;
    for (int i = 0; i < nargs; i++)
        if (n->args[i]->height > h)
            h = n->args[i]->height;
    if (h + 1 > RULES_MAX_HEIGHT)
        return perr(p, n->pos, "expression nested too deeply");
    n->height = (uint16_t)(h + 1);
    return 0;
}

static int
enter(struct parse_ctx *p)
{
    if (++p->depth > RULES_MAX_DEPTH)
        return perr(p, p->tok.pos, "expression nested too deeply");
    return 0;
}

/* Parses "(" args ")" after a call name; the current token is "(". */
static int
parse_args(struct parse_ctx *p, struct node *call)
{
    struct node *args[64];
    int n = 0;
    TRY(advance(p));
    if (p->tok.kind != TK_RPAREN) {
        for (;;) {
            if (n == 64)
                return perr(p, p->tok.pos, "too many arguments");
            TRY(parse_expr(p, &args[n]));
            n++;
            if (p->tok.kind != TK_COMMA)
                break;
            TRY(advance(p));
        }
    }
    TRY(expect(p, TK_RPAREN, "')' after arguments"));
    call->nargs = (uint8_t)n;
    call->args = cjx_arena_alloc(p->arena, (size_t)(n ? n : 1) * sizeof(*args));
    if (call->args == NULL)
        return CJX_ENOMEM;
    memcpy(call->args, args, (size_t)n * sizeof(*args));
    return 0;
}

static int
parse_primary(struct parse_ctx *p, struct node **out)
{
    struct node *n;
    struct token t = p->tok;
    switch (t.kind) {
    case TK_INT:
        if (t.slen)
            return perr(p, t.pos, "integer literal out of range");
        NEW(n, N_LIT, t.pos);
        n->lit.k = V_INT;
        n->lit.u.i = t.i;
        n->type = &rtype_int;
        TRY(advance(p));
        break;
    case TK_DOUBLE:
        NEW(n, N_LIT, t.pos);
        n->lit.k = V_DOUBLE;
        n->lit.u.d = t.d;
        n->type = &rtype_double;
        TRY(advance(p));
        break;
    case TK_STRING:
        NEW(n, N_LIT, t.pos);
        n->lit.k = V_STRING;
        n->lit.u.s = t.s;
        n->lit.n = (uint32_t)t.slen;
        n->type = &rtype_string;
        TRY(advance(p));
        break;
    case TK_TRUE:
    case TK_FALSE:
        NEW(n, N_LIT, t.pos);
        n->lit.k = V_BOOL;
        n->lit.u.i = t.kind == TK_TRUE;
        n->type = &rtype_bool;
        TRY(advance(p));
        break;
    case TK_NULL:
        NEW(n, N_LIT, t.pos);
        n->lit.k = V_NULL;
        n->type = &rtype_null;
        TRY(advance(p));
        break;
    case TK_DOT:
        /* A leading dot names the root scope: ".record" is "record". */
        TRY(advance(p));
        if (p->tok.kind != TK_IDENT)
            return perr(p, p->tok.pos, "expected an identifier after '.'");
        return parse_primary(p, out);
    case TK_IDENT:
        TRY(advance(p));
        if (p->tok.kind == TK_LPAREN) {
            NEW(n, N_CALL, t.pos);
            n->name = t.s;
            TRY(parse_args(p, n));
            TRY(fix_height(p, n));
        } else {
            NEW(n, N_IDENT, t.pos);
            n->name = t.s;
        }
        break;
    case TK_LPAREN:
        TRY(advance(p));
        TRY(parse_expr(p, &n));
        TRY(expect(p, TK_RPAREN, "')'"));
        break;
    case TK_LBRACK: {
        struct node *items[256];
        int k = 0;
        NEW(n, N_LIST, t.pos);
        TRY(advance(p));
        while (p->tok.kind != TK_RBRACK) {
            if (k == 256)
                return perr(p, p->tok.pos, "list literal too long");
            TRY(parse_expr(p, &items[k]));
            k++;
            if (p->tok.kind != TK_COMMA)
                break;
            TRY(advance(p));
        }
        TRY(expect(p, TK_RBRACK, "']' or ','"));
        n->nargs = 0;
        n->args =
            cjx_arena_alloc(p->arena, (size_t)(k ? k : 1) * sizeof(*items));
        if (n->args == NULL)
            return CJX_ENOMEM;
        memcpy(n->args, items, (size_t)k * sizeof(*items));
        n->slot = k; /* item count; lists may exceed uint8_t */
        TRY(fix_height(p, n));
        break;
    }
    case TK_LBRACE:
        return perr(p, t.pos, "map literals are not supported");
    case TK_EOF:
        return perr(p, t.pos, "unexpected end of expression");
    default:
        return perr(p, t.pos, "unexpected token");
    }
    *out = n;
    return 0;
}

static int
parse_member(struct parse_ctx *p, struct node **out)
{
    struct node *n;
    TRY(parse_primary(p, &n));
    for (;;) {
        if (p->tok.kind == TK_DOT) {
            uint32_t dot = p->tok.pos;
            TRY(advance(p));
            if (p->tok.kind != TK_IDENT)
                return perr(p, p->tok.pos,
                            "expected a field or method name after '.'");
            struct token name = p->tok;
            TRY(advance(p));
            struct node *m;
            if (p->tok.kind == TK_LPAREN) {
                NEW(m, N_CALL, name.pos);
                m->name = name.s;
                m->receiver = 1;
                m->a = n;
                TRY(parse_args(p, m));
            } else {
                NEW(m, N_SELECT, name.pos);
                m->name = name.s;
                m->a = n;
            }
            (void)dot;
            TRY(fix_height(p, m));
            n = m;
        } else if (p->tok.kind == TK_LBRACK) {
            struct node *m;
            NEW(m, N_INDEX, p->tok.pos);
            TRY(advance(p));
            m->a = n;
            TRY(parse_expr(p, &m->b));
            TRY(expect(p, TK_RBRACK, "']'"));
            TRY(fix_height(p, m));
            n = m;
        } else {
            break;
        }
    }
    *out = n;
    return 0;
}

static int
parse_unary(struct parse_ctx *p, struct node **out)
{
    if (p->tok.kind == TK_NOT || p->tok.kind == TK_MINUS) {
        struct token t = p->tok;
        TRY(enter(p));
        TRY(advance(p));
        /* -9223372036854775808 is a literal, not the negation of an
         * out-of-range one. */
        if (t.kind == TK_MINUS && p->tok.kind == TK_INT) {
            struct token lit = p->tok;
            struct node *n;
            TRY(advance(p));
            if (p->tok.kind != TK_DOT && p->tok.kind != TK_LBRACK) {
                NEW(n, N_LIT, t.pos);
                n->lit.k = V_INT;
                n->lit.u.i = lit.slen ? INT64_MIN : -lit.i;
                n->type = &rtype_int;
                p->depth--;
                *out = n;
                return 0;
            }
            return perr(p, p->tok.pos, "unexpected member access on a number");
        }
        struct node *n;
        NEW(n, t.kind == TK_NOT ? N_NOT : N_NEG, t.pos);
        TRY(parse_unary(p, &n->a));
        TRY(fix_height(p, n));
        p->depth--;
        *out = n;
        return 0;
    }
    return parse_member(p, out);
}

static int parse_binary_level(struct parse_ctx *p, int level,
                              struct node **out);

/* Binary precedence levels, loosest first: || && relations + * . */
static int
binop_of(enum tok_kind k, int level, int *op)
{
    switch (level) {
    case 0:
        return k == TK_OR ? (*op = -1, 1) : 0;
    case 1:
        return k == TK_AND ? (*op = -2, 1) : 0;
    case 2:
        switch (k) {
        case TK_EQ:
            *op = OP_EQ;
            return 1;
        case TK_NE:
            *op = OP_NE;
            return 1;
        case TK_LT:
            *op = OP_LT;
            return 1;
        case TK_LE:
            *op = OP_LE;
            return 1;
        case TK_GT:
            *op = OP_GT;
            return 1;
        case TK_GE:
            *op = OP_GE;
            return 1;
        case TK_IN:
            *op = -3;
            return 1;
        default:
            return 0;
        }
    case 3:
        if (k == TK_PLUS)
            return *op = OP_ADD, 1;
        if (k == TK_MINUS)
            return *op = OP_SUB, 1;
        return 0;
    case 4:
        if (k == TK_STAR)
            return *op = OP_MUL, 1;
        if (k == TK_SLASH)
            return *op = OP_DIV, 1;
        if (k == TK_PERCENT)
            return *op = OP_MOD, 1;
        return 0;
    }
    return 0;
}

static int
parse_binary_level(struct parse_ctx *p, int level, struct node **out)
{
    if (level > 4)
        return parse_unary(p, out);
    struct node *l;
    TRY(parse_binary_level(p, level + 1, &l));
    int op;
    while (binop_of(p->tok.kind, level, &op)) {
        uint32_t pos = p->tok.pos;
        /* Left-associative chains deepen the tree as nesting does. */
        TRY(advance(p));
        struct node *r;
        TRY(parse_binary_level(p, level + 1, &r));
        struct node *n;
        if (op == -1) {
            NEW(n, N_OR, pos);
        } else if (op == -2) {
            NEW(n, N_AND, pos);
        } else if (op == -3) {
            NEW(n, N_IN, pos);
        } else {
            NEW(n, N_BINOP, pos);
            n->sub = (uint8_t)op;
        }
        n->a = l;
        n->b = r;
        TRY(fix_height(p, n));
        l = n;
    }
    *out = l;
    return 0;
}

static int
parse_expr(struct parse_ctx *p, struct node **out)
{
    TRY(enter(p));
    struct node *c;
    TRY(parse_binary_level(p, 0, &c));
    if (p->tok.kind == TK_QUESTION) {
        struct node *n;
        NEW(n, N_COND, p->tok.pos);
        TRY(advance(p));
        n->a = c;
        TRY(parse_binary_level(p, 0, &n->b));
        TRY(expect(p, TK_COLON, "':' in conditional"));
        TRY(parse_expr(p, &n->c));
        TRY(fix_height(p, n));
        c = n;
    }
    p->depth--;
    *out = c;
    return 0;
}

int
rules_parse(struct cjx_arena *a, const char *src, size_t len,
            const struct srcmap *sm, struct node **out, struct cjx_errbuf *eb)
{
    struct parse_ctx p;
    memset(&p, 0, sizeof(p));
    p.lx.src = src;
    p.lx.len = len;
    p.lx.arena = a;
    p.arena = a;
    p.sm = sm;
    p.eb = eb;
    TRY(advance(&p));
    if (p.tok.kind == TK_EOF)
        return perr(&p, p.tok.pos, "empty expression");
    struct node *n;
    TRY(parse_expr(&p, &n));
    if (p.tok.kind != TK_EOF)
        return perr(&p, p.tok.pos, "unexpected token after expression");
    *out = n;
    return 0;
}
