/* Internal types shared by the rules module: types, AST nodes, values, rule sets. */
#ifndef CJX_RULES_INTERNAL_H
#define CJX_RULES_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "cjx/arena.h"
#include "cjx/error.h"
#include "cjx/rules.h"

/* Nesting deeper than this is refused at parse time, so that neither the
 * parser nor the evaluator can exhaust the stack on hostile input. */
enum { RULES_MAX_DEPTH = 96, RULES_MAX_HEIGHT = 200 };

/* Returns from the calling function with expr's value when it is not 0. */
#define TRY(expr)         \
    do {                  \
        int rc_ = (expr); \
        if (rc_ != 0)     \
            return rc_;   \
    } while (0)

/* ---- types ------------------------------------------------------------ */

enum rtype_kind {
    T_ANY = 0, /* element type of an empty list literal */
    T_NULL,
    T_BOOL,
    T_INT,
    T_DOUBLE,
    T_STRING,
    T_DATE,
    T_ENUM,
    T_MSG,
    T_LIST,
};

struct rtype {
    enum rtype_kind kind;
    const struct rtype *elem;              /* T_LIST */
    const ProtobufCMessageDescriptor *msg; /* T_MSG */
    const ProtobufCEnumDescriptor *en;     /* T_ENUM */
};

extern const struct rtype rtype_any, rtype_null, rtype_bool, rtype_int,
    rtype_double, rtype_string, rtype_date;

/* Where a date message keeps its parts (cjx.v1.Date, google.type.Date). */
struct date_layout {
    unsigned off_year, off_month, off_day;
};

/* ---- values ----------------------------------------------------------- */

enum val_kind {
    V_ERR = 0,
    V_NULL,
    V_BOOL,
    V_INT,
    V_DOUBLE,
    V_STRING,
    V_DATE, /* i = year * 10000 + month * 100 + day: ordered like dates */
    V_ENUM, /* i = number */
    V_MSG,  /* m may be NULL: the default instance */
    V_LIST,
    V_UNSET = 0xFF, /* a let slot not computed yet in this evaluation */
};

/* How the items of a list are stored. A repeated field is read in place:
 * u.base is the field's array and the kind says how to read one item
 * (repeated dates are read into an L_ARRAY instead). */
enum list_kind {
    L_ARRAY = 0, /* u.items */
    L_I32,
    L_U32,
    L_I64,
    L_U64,
    L_F32,
    L_F64,
    L_BOOL,
    L_ENUM,
    L_STR,
    L_MSG,
};

/* Evaluation errors. An error value carries one of these in lk and the
 * node it arose at (or NULL) in u.at, so that making one allocates
 * nothing. */
enum err_code {
    E_DATE_NOT_SET = 0,
    E_INVALID_DATE,
    E_UNSIGNED_RANGE,
    E_FIELD_TYPE,
    E_NOMEM,
    E_DIV_ZERO,
    E_MOD_ZERO,
    E_OVERFLOW,
    E_FACT_UNKNOWN,
    E_DOMAIN_EMPTY,
    E_DOMAIN_CHANGED,
    E_TOO_MANY_FACTS,
    E_INDEX_RANGE,
    E_UNRESOLVED,
    E_DATE_RANGE,
    E_MIN_EMPTY,
    E_MAX_EMPTY,
    E_UNORDERED,
    E_NO_STRING,
    E_INT_RANGE,
    E_INT_SYNTAX,
    E_NO_INT,
    E_DOUBLE_SYNTAX,
    E_NO_DOUBLE,
    E_DATE_SYNTAX,
    E_UNKNOWN_FN,
};

/* Sixteen bytes, so that evaluators return values in registers. */
struct val {
    uint8_t k; /* enum val_kind */
    /* V_LIST: enum list_kind; V_ERR: enum err_code; V_STRING: 1 for a
     * literal of the rule set, which shares one pointer with every equal
     * literal (see rules_specialise_set) */
    uint8_t lk;
    uint32_t n; /* string length or list length */
    union {
        int64_t i;
        double d;
        const char *s;
        const ProtobufCMessage *m;
        const struct val *items;
        const void *base;
        const struct node *at; /* V_ERR */
    } u;
};

_Static_assert(sizeof(struct val) == 16, "a value fits two registers");

/* ---- AST -------------------------------------------------------------- */

enum node_op {
    /* Leaves first: rules_eval answers these without a call. */
    N_LIT,     /* lit */
    N_LET,     /* slot */
    N_FACT,    /* slot */
    N_LOOPVAR, /* slot */
    N_IDENT,   /* name (before resolution) */
    N_SELECT,  /* a.name -> fd after resolution; a == NULL: root field */
    N_HAS,     /* has(a.name) */
    N_LIST,    /* args */
    N_INDEX,   /* a[b] */
    N_NOT,
    N_NEG,
    N_AND,
    N_OR,
    N_COND,   /* a ? b : c */
    N_BINOP,  /* a op b; sub = operator */
    N_IN,     /* a in b */
    N_IN_SET, /* a in constant string set */
    N_CALL,   /* name(args) or a.name(args) before resolution; fn after */
    N_MACRO,  /* a.sub(var, b[, c]) */
};

enum binop {
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
};

enum macro_kind { M_ALL, M_EXISTS, M_EXISTS_ONE, M_MAP, M_FILTER };

struct strset {
    const struct val *items; /* sorted by (length, bytes) */
    uint32_t n;
    uint32_t max_len; /* of the longest item */
};

struct eval_ctx;
typedef struct val (*rules_eval_fn)(struct eval_ctx *ex, const struct node *n);

struct node {
    /* Chosen for the node's operator and operand types once the set is
     * compiled (rules_specialise); until then a generic switch. */
    rules_eval_fn ev;
    uint8_t op;
    uint8_t sub;      /* enum binop / macro_kind / function id */
    uint8_t receiver; /* N_CALL: written as a.f(...) */
    uint8_t nargs;
    uint16_t height;    /* longest path to a leaf, bounded at parse time */
    uint32_t pos;       /* byte offset in the expression text */
    uint32_t line, col; /* position in the rule file */
    const struct rtype *type;
    struct node *a, *b, *c;
    struct node **args;
    const char *name;
    const ProtobufCFieldDescriptor *fd;
    const struct date_layout *date; /* N_SELECT/N_HAS of a date field */
    /* N_SELECT/N_HAS: the message the field is read from is reached from
     * base (NULL: the root message) through path_len singular message
     * fields, so a chain a.b.c.d is one node walked in a loop. */
    struct node *base;
    const ProtobufCFieldDescriptor **path;
    uint8_t path_len;
    int slot;
    struct val lit;
    const struct strset *set;
    regex_t *re;
    /* Set by rules_specialise. N_SELECT: enum read_kind; N_HAS: how
     * presence is read; N_BINOP comparisons: bit c + 1 is the result when
     * the operands compare as c (-1, 0, 1). */
    uint8_t rk;
    uint8_t list_kind; /* N_SELECT of RK_LIST: enum list_kind */
    /* The expression compiled to bytecode (bytecode.c), on the roots the
     * evaluation starts from: lets, facts, rules, procedures, notes. */
    const struct prog *prog;
};

/* ---- diagnostics ------------------------------------------------------ */

/* Maps byte offsets of an expression (a YAML scalar's value) back to the
 * rule file so that errors point at the right column. */
struct srcmap {
    const char *file; /* name shown in messages */
    const char *text; /* whole file, for quoting the line */
    size_t text_len;
    const uint32_t *line; /* per value byte, 1-based; NULL: line0 */
    const uint32_t *col;
    uint32_t line0, col0; /* position of byte 0 when no table */
};

void rules_pos(const struct srcmap *sm, uint32_t off, uint32_t *line,
               uint32_t *col);
/* Formats "file:line:col: message", the source line and a caret. */
int rules_diag(struct cjx_errbuf *eb, int err, const struct srcmap *sm,
               uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Builds a map for a scalar whose raw text starts at raw (index into the
 * file) and whose value is val/len. */
int rules_srcmap_scalar(struct cjx_arena *a, struct srcmap *sm,
                        const char *file, const char *text, size_t text_len,
                        size_t raw_start, size_t raw_end, uint32_t line0,
                        uint32_t col0, const char *val, size_t len);

/* ---- lexer / parser --------------------------------------------------- */

enum tok_kind {
    TK_EOF,
    TK_ERR,
    TK_INT,
    TK_DOUBLE,
    TK_STRING,
    TK_IDENT,
    TK_TRUE,
    TK_FALSE,
    TK_NULL,
    TK_IN,
    TK_LPAREN,
    TK_RPAREN,
    TK_LBRACK,
    TK_RBRACK,
    TK_LBRACE,
    TK_RBRACE,
    TK_DOT,
    TK_COMMA,
    TK_COLON,
    TK_QUESTION,
    TK_OR,
    TK_AND,
    TK_NOT,
    TK_EQ,
    TK_NE,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
    TK_PLUS,
    TK_MINUS,
    TK_STAR,
    TK_SLASH,
    TK_PERCENT,
};

struct token {
    enum tok_kind kind;
    uint32_t pos, len;
    int64_t i;
    double d;
    char *s; /* TK_STRING: decoded (arena); TK_IDENT: copy */
    size_t slen;
    const char *err;
};

struct lexer {
    const char *src;
    size_t len;
    size_t pos;
    struct cjx_arena *arena;
};

int rules_lex_next(struct lexer *lx, struct token *t);

struct parse_ctx {
    struct lexer lx;
    struct token tok;
    const struct srcmap *sm;
    struct cjx_arena *arena;
    struct cjx_errbuf *eb;
    int depth;
};

/* Parses a whole expression. Returns 0 or CJX_EPARSE / CJX_ENOMEM. */
int rules_parse(struct cjx_arena *a, const char *src, size_t len,
                const struct srcmap *sm, struct node **out,
                struct cjx_errbuf *eb);
struct node *rules_node_new(struct cjx_arena *a, enum node_op op, uint32_t pos,
                            const struct srcmap *sm);

/* ---- compiled rule sets ----------------------------------------------- */

struct enum_const {
    const char *name;
    const ProtobufCEnumDescriptor *en;
    int value;
};

enum let_state { LET_UNCHECKED, LET_CHECKING, LET_CHECKED };

/* A named sub-expression; a fact is a let that may be unknown. */
struct let_def {
    const char *name;
    struct node *expr;
    struct srcmap sm;
    int state;
    int slot;
    int is_fact;
    int fact_bit;        /* facts: index among facts (at most 64) */
    struct node *known;  /* facts: bool; NULL = always known */
    struct node *domain; /* facts: list of the value's type */
    const char *missing; /* facts: reason code when unknown */
    const char *field;   /* facts: field path reported as missing */
    /* Bit per fact (fact_bit) the value may read, through other lets too;
     * a fact has its own bit and those its known, value and domain read. */
    uint64_t facts;
    /* facts: known and value read no fact, so once known the fact is the
     * same in every branch */
    int stable;
    uint32_t line, col;
};

struct validation {
    const char *id;
    struct node *rule;
    const char *message;
    const char *field;
    int severity; /* enum cjx_rules_severity */
};

struct decision {
    const char *id;
    struct node *when;
    int relief, floor, ceiling; /* enum numbers of the output's relief */
    int has_range;
    const char **reasons;
    size_t n_reasons;
    const char **citations;
    size_t n_citations;
    const char **missing;
    size_t n_missing;
    struct node *procedure; /* NULL: the set's */
    uint32_t line, col;
    /* The first operand of `when` when it is a let or fact (negated when
     * lead_neg): once known false, the decision is skipped unevaluated. */
    int lead_slot;
    int lead_neg;
    /* The first decision after this one with another lead: where to go on
     * when the lead is false. */
    size_t skip_to;
};

struct note {
    struct node *when;
    const char **reasons;
    size_t n_reasons;
};

struct regex_entry {
    regex_t re;
    struct regex_entry *next;
};

/* Output message fields the decision contract fills (NULL when the output
 * message lacks them). */
struct output_fields {
    const ProtobufCFieldDescriptor *relief, *floor, *ceiling, *procedure,
        *reason_codes, *citations, *missing_facts, *decision_id, *rule_set,
        *rule_set_version;
};

struct cjx_rules_set {
    struct cjx_arena arena; /* every compiled object lives here */
    struct regex_entry *regexes;
    const char *file;
    const char *name, *version, *description;
    const ProtobufCMessageDescriptor *message, *output;
    struct output_fields out;
    int32_t eff_from,
        eff_until; /* packed dates; INT32_MIN / INT32_MAX when open */
    struct enum_const *enums;
    size_t n_enums;
    struct let_def *lets;
    size_t n_lets;
    struct validation *validations;
    size_t n_validations;
    struct decision *decisions;
    size_t n_decisions;
    struct note *notes;
    size_t n_notes;
    struct node *procedure;
    int review_relief; /* -1: no enumeration declared */
    int *order;        /* relief numbers, least relief first */
    size_t n_order;
    /* Every decision's `when` as one program with an entry per decision
     * (bytecode.c); NULL until compiled. */
    const struct prog *decide;
    int n_slots; /* lets + facts + loop variables */
    int n_loop_slots;
    const struct let_def *fact_of_bit[64]; /* facts by fact_bit */
};

/* Checker context for one expression. */
struct check_ctx {
    struct cjx_rules_set *set;
    const struct srcmap *sm;
    struct cjx_errbuf *eb;
    struct cjx_arena *arena;
    /* loop variables in scope, innermost last */
    const char *scope_name[RULES_MAX_DEPTH];
    const struct rtype *scope_type[RULES_MAX_DEPTH];
    int scope_slot[RULES_MAX_DEPTH];
    int n_scope;
    int next_loop_slot;
};

/* Reports a type or resolution error at node n of the expression being
 * checked. Returns CJX_EPARSE. */
int rules_check_err(struct check_ctx *cx, const struct node *n, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

int rules_check(struct check_ctx *cx, struct node *n);
/* After every let is checked: computes the facts each let may read, and
 * fills set->fact_of_bit. */
int rules_index_facts(struct cjx_rules_set *set);
int rules_check_let(struct cjx_rules_set *set, struct let_def *l,
                    struct cjx_errbuf *eb);
const struct rtype *rules_type_list(struct cjx_arena *a,
                                    const struct rtype *elem);
const struct rtype *rules_field_type(struct cjx_arena *a,
                                     const ProtobufCFieldDescriptor *fd,
                                     const struct date_layout **date);
const struct date_layout *rules_date_layout(const ProtobufCMessageDescriptor *d,
                                            struct cjx_arena *a);
int rules_type_equal(const struct rtype *x, const struct rtype *y);
const char *rules_type_name(const struct rtype *t, char *buf, size_t len);
int rules_collect_enums(struct cjx_rules_set *set,
                        const ProtobufCMessageDescriptor *root);

/* ---- functions -------------------------------------------------------- */

enum fn_id {
    FN_SIZE = 1,
    FN_STARTS,
    FN_ENDS,
    FN_CONTAINS,
    FN_MATCHES,
    FN_INT,
    FN_DOUBLE,
    FN_STRING,
    FN_DATE,
    FN_AGE_AT,
    FN_DAYS_BETWEEN,
    FN_ADD_DAYS,
    FN_ADD_MONTHS,
    FN_ADD_YEARS,
    FN_SUM,
    FN_MIN,
    FN_MAX,
    FN_YEAR,
    FN_MONTH,
    FN_DAY,
};

/* Resolves and type-checks n (an N_CALL with checked arguments). */
int rules_fn_check(struct check_ctx *cx, struct node *n);

/* ---- evaluation ------------------------------------------------------- */

/* One unknown fact's value in the current branch: index idx of its n
 * domain values. dec is the decision being evaluated when the fact was
 * first reached: decisions before it do not depend on this choice. */
struct choice {
    uint16_t idx, n;
    uint16_t dec;
};

enum { RULES_MAX_CHOICES = 24, RULES_MAX_BRANCHES = 512 };
/* Bytes of an evaluation's own buffer for slots (struct eval_ctx). */
enum { RULES_SLOT_BUF = 4096 };

struct eval_ctx {
    const struct cjx_rules_set *set;
    /* 1: run the compiled programs (bytecode.c); 0: the tree walker. */
    int compiled;
    const ProtobufCMessage *root;
    struct cjx_arena *arena;
    struct val *slots; /* per let, fact and loop variable; k == V_UNSET
                          until computed */
    /* unknown-fact enumeration */
    int enumerate;
    int n_choices;
    int pos;               /* choices consumed so far in this branch */
    int cur_dec;           /* decision being evaluated */
    uint64_t unknown_used; /* bit per fact index (lets order) referenced
                               while unknown */
    int overflow;          /* too many choices */
    int n_unknown_order;
    /* Slots that may differ between branches, in the order they were
     * computed, with pos at that moment: a value computed when pos was p
     * read choices before p only, and is kept when a later choice moves
     * on. Lets that read no fact, and known facts whose known and value
     * read none, are the same in every branch and are not logged. */
    uint16_t *branch_slots;
    uint8_t *branch_pos;
    int n_branch_slots;
    /* Arrays last: rules_eval_init clears what precedes them, and the
     * counts above say how much of them is in use. */
    struct choice choices[RULES_MAX_CHOICES];
    uint8_t unknown_order[64]; /* fact bits in order of first reference */
    /* The slots and the branch log of a set small enough (the Prop 64
     * rule file is), so that an evaluation allocates nothing for them. */
    _Alignas(struct val) char slot_buf[RULES_SLOT_BUF];
};

/* Prepares ex for evaluating set on msg, with slots in ex itself, or from
 * arena for a set with more than fit there. Returns 0 or CJX_ENOMEM. */
int rules_eval_init(struct eval_ctx *ex, const struct cjx_rules_set *set,
                    const ProtobufCMessage *msg, struct cjx_arena *arena);

/* The rest of an && (stop 0) or || (stop 1) chain n after operand i gave
 * the error err: a later deciding operand wins, else err. */
struct val rules_logic_rest(struct eval_ctx *ex, const struct node *n,
                            unsigned i, struct val err, int stop);
/* The general evaluator of n's operator. */
rules_eval_fn rules_op_evaluator(const struct node *n);
/* The evaluator of any node whatever its operator, used for nodes that
 * rules_specialise has not seen. */
struct val rules_eval_generic(struct eval_ctx *ex, const struct node *n);

/* Evaluates n. Literals, loop variables and lets already computed are
 * answered without a call: they are most of the nodes an evaluation
 * reaches. */
static inline struct val
rules_eval(struct eval_ctx *ex, const struct node *n)
{
    /* The leaves are the first operators: one test sends the rest on. */
    if (n->op > N_LOOPVAR)
        return n->ev(ex, n);
    if (n->op == N_LIT)
        return n->lit;
    if (n->op == N_LOOPVAR || ex->slots[n->slot].k != V_UNSET)
        return ex->slots[n->slot];
    return n->ev(ex, n);
}

/* Evaluates both operands of a binary node, n->a into *x and n->b into
 * *y. Returns 1 with the first error in *x. */
static inline int
rules_eval_operands(struct eval_ctx *ex, const struct node *n, struct val *x,
                    struct val *y)
{
    *x = rules_eval(ex, n->a);
    if (x->k == V_ERR)
        return 1;
    *y = rules_eval(ex, n->b);
    if (y->k == V_ERR) {
        *x = *y;
        return 1;
    }
    return 0;
}

/* c ? n->b : n->c for the evaluated condition c of a conditional n. */
static inline struct val
rules_eval_branch(struct eval_ctx *ex, const struct node *n, struct val c)
{
    if (c.k == V_ERR)
        return c;
    return rules_eval(ex, c.u.i ? n->b : n->c);
}

struct val rules_vm_run(struct eval_ctx *ex, const struct prog *p);

/* Evaluates the root of an expression: its program when the compiled
 * evaluator was asked for (and the expression was compiled), else by the
 * tree walker. */
static inline struct val
rules_eval_top(struct eval_ctx *ex, const struct node *n)
{
    if (ex->compiled && n->prog != NULL)
        return rules_vm_run(ex, n->prog);
    return rules_eval(ex, n);
}

/* Logs slot s, just computed, for the next branch to forget. */
static inline void
rules_log_branch_value(struct eval_ctx *ex, int s)
{
    ex->branch_slots[ex->n_branch_slots] = (uint16_t)s;
    ex->branch_pos[ex->n_branch_slots] = (uint8_t)ex->pos;
    ex->n_branch_slots++;
}

/* Stores the value of let s, just computed; one that may read a fact is
 * logged. */
static inline void
rules_let_done(struct eval_ctx *ex, int s, struct val v)
{
    ex->slots[s] = v;
    if (ex->set->lets[s].facts != 0)
        rules_log_branch_value(ex, s);
}

/* A let or fact reference (N_LET, N_FACT) whose slot is not computed yet:
 * computes, stores and returns it. */
struct val rules_eval_let(struct eval_ctx *ex, const struct node *n);
struct val rules_eval_fact(struct eval_ctx *ex, const struct node *n);

/* The message a N_SELECT / N_HAS node reads its field from: the root or
 * the base value, then the fused path (NULL: unset, so the field reads as
 * its default). A loop variable as base is read directly: it is the usual
 * base. Returns 1 with the base's error in *err. */
static inline int
rules_field_msg(struct eval_ctx *ex, const struct node *n,
                const ProtobufCMessage **out, struct val *err)
{
    const ProtobufCMessage *m = ex->root;
    const struct node *b = n->base;
    if (b != NULL) {
        struct val v =
            b->op == N_LOOPVAR ? ex->slots[b->slot] : rules_eval(ex, b);
        if (v.k == V_ERR) {
            *err = v;
            return 1;
        }
        m = v.u.m;
    }
    for (unsigned i = 0; i < n->path_len && m != NULL; i++) {
        const ProtobufCFieldDescriptor *fd = n->path[i];
        const char *p = (const char *)m;
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(p + fd->quantifier_offset) != fd->id)
            m = NULL;
        else
            m = *(const ProtobufCMessage *const *)(p + fd->offset);
    }
    *out = m;
    return 0;
}

/* Which specialised evaluator rules_specialise chose for a node, for the
 * bytecode compiler; SPEC_NONE for the others. */
enum rules_spec {
    SPEC_NONE,
    SPEC_FIELD,
    SPEC_HAS,
    SPEC_CMP_INT_CONST,
    SPEC_CMP_FIELD_CONST,
    SPEC_CMP_INTS,
    SPEC_EQ_STRINGS,
    SPEC_EQ_FIELD_CONST,
    SPEC_IN_SET_FIELD,
    SPEC_IN_SET,
};
enum rules_spec rules_spec_of(const struct node *n);

/* Chooses the evaluator of n and of every node below it (lets are reached
 * through their own definitions, not through references). Idempotent. */
void rules_specialise(struct node *n);
/* Specialises every expression of a compiled set, and makes equal string
 * literals share one pointer. */
void rules_specialise_set(struct cjx_rules_set *set);
/* The same for a standalone expression. */
void rules_specialise_expr(struct node *root);
/* Makes equal string literals under roots share one pointer and marks
 * them (lk = 1): comparing two of them is then comparing pointers. Only an
 * optimisation: when memory runs out the literals stay as they are. */
void rules_share_literals(struct node *const *roots, size_t n_roots);

static inline struct val
rules_err(const struct node *n, enum err_code code)
{
    struct val v = {.k = V_ERR, .lk = (uint8_t)code};
    v.u.at = n;
    return v;
}

/* A value whose payload is the integer i: an int, bool, enum or date. */
static inline struct val
rules_mkval(enum val_kind k, int64_t i)
{
    struct val v = {.k = (uint8_t)k};
    v.u.i = i;
    return v;
}

static inline struct val
rules_mkbool(int b)
{
    return rules_mkval(V_BOOL, b != 0);
}

static inline struct val
rules_mkint(int64_t i)
{
    return rules_mkval(V_INT, i);
}

/* The message of an error value. */
const char *rules_err_msg(const struct val *v);
struct val rules_fn_call(struct eval_ctx *ex, const struct node *n);
struct val rules_list_at(const struct val *l, size_t i);
/* The same, with the lists macros walk most (messages, built lists) read
 * in place. */
static inline struct val
rules_list_item(const struct val *l, size_t i)
{
    if (l->lk == L_MSG) {
        struct val v = {.k = V_MSG};
        v.u.m = ((const ProtobufCMessage *const *)l->u.base)[i];
        return v;
    }
    if (l->lk == L_ARRAY)
        return l->u.items[i];
    return rules_list_at(l, i);
}
int rules_val_equal(const struct val *x, const struct val *y);
int rules_val_compare(const struct val *x, const struct val *y, int *out);
/* Formats v as CEL-like text into the arena. */
char *rules_val_format(struct cjx_arena *a, const struct val *v,
                       const struct rtype *t);

/* Reading fields (field.c). */
enum read_kind {
    RK_GENERIC = 0, /* oneof members, declared defaults, repeated dates, ... */
    RK_LIST,        /* repeated, read in place (list kind in the node) */
    RK_I32,
    RK_U32,
    RK_I64,
    RK_U64,
    RK_F32,
    RK_F64,
    RK_BOOL,
    RK_ENUM,
    RK_STR,
    RK_MSG,
    RK_DATE,
};
enum read_kind rules_read_kind(const struct node *n);
/* How the items of a repeated field are read (not for dates). */
enum list_kind rules_list_kind(const ProtobufCFieldDescriptor *fd);
struct val rules_read_field(struct eval_ctx *ex, const struct node *n,
                            const ProtobufCMessage *m);
int rules_has_field(const struct node *n, const ProtobufCMessage *m);

/* Dates: days since 1970-01-01 for a proleptic Gregorian date. */
int64_t rules_days_from_civil(int64_t y, unsigned m, unsigned d);
void rules_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* Parses "YYYY-MM-DD" into a packed date (yyyymmdd). */
int rules_parse_date(const char *s, size_t len, int64_t *packed);
int64_t rules_date_pack(int64_t y, unsigned m, unsigned d);
void rules_date_unpack(int64_t v, int64_t *y, unsigned *m, unsigned *d);
int rules_valid_date(int64_t y, int64_t m, int64_t d);

/* Reads a date message as a value; absent (unset or year 0) and impossible
 * dates are errors, so a rule must test has() before using an optional
 * date. Inline: dates are read often, and most days need no calendar. */
static inline struct val
rules_read_date(const struct node *n, const struct date_layout *dl,
                const ProtobufCMessage *dm)
{
    const char *p = (const char *)dm;
    if (dm == NULL || *(const int32_t *)(p + dl->off_year) == 0)
        return rules_err(n, E_DATE_NOT_SET);
    int32_t y = *(const int32_t *)(p + dl->off_year);
    int32_t mo = *(const int32_t *)(p + dl->off_month);
    int32_t d = *(const int32_t *)(p + dl->off_day);
    int plain = y >= 1 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= 28;
    if (!plain && !rules_valid_date(y, mo, d))
        return rules_err(n, E_INVALID_DATE);
    struct val v = {.k = V_DATE};
    v.u.i = (int64_t)y * 10000 + mo * 100 + d;
    return v;
}

#endif
