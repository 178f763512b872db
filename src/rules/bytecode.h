/* The flat form of a compiled rule set: each expression a short array of
 * register-machine instructions, and the decision list one program with an
 * entry per decision. */
#ifndef CJX_RULES_BYTECODE_H
#define CJX_RULES_BYTECODE_H

#include <stdint.h>

#include "rules_internal.h"

/* Value instructions write r[d]; with a step (an operand of an && or ||
 * chain accumulating in r[d]) they instead decide the chain: a deciding
 * value (false for &&, true for ||) is stored in r[d] and jumps to t2, the
 * first error is kept in r[d], anything else goes on. */
enum opcode {
    OP_LIT,          /* *k */
    OP_BOOL,         /* bool t */
    OP_LET,          /* let slot t, its program run in place the first time */
    OP_FACT,         /* fact slot t (computed, or a domain value) */
    OP_LOOPVAR,      /* slots[t] */
    OP_FIELD,        /* field n of its message */
    OP_HAS,          /* has(field n) */
    OP_CMP_FIELD_K,  /* integer-like field n compared with k (mask) */
    OP_EQ_FIELD_K,   /* string field n == k (mask 1: !=) */
    OP_IN_SET_FIELD, /* string field n in set */
    OP_CMP_K,        /* integer-like r[a] compared with k (mask) */
    OP_CMP_REGS,     /* r[a] compared with r[b] (mask) */
    OP_EQ_STR_K,     /* r[a] == string k (mask 1: !=) */
    OP_EQ_STR_REGS,  /* r[a] == r[b] (mask 1: !=) */
    OP_IN_SET,       /* r[a] in set */
    OP_NOT,          /* !r[a] */
    OP_TREE,         /* node n by the tree walker */
    /* Control. */
    OP_STEP,   /* r[a] as an operand of the chain in r[d] (step) */
    OP_BRANCH, /* r[a] an error: jump t2; false: jump t; true: on */
    OP_JUMP,   /* to t */
    OP_RET,    /* the value is r[a] */
    /* Decision t starts (facts first reached belong to it), r[0] = true;
     * but with a lead (a = 1) already known to be false (let slot lead
     * equal to mask), its group is skipped: jump t2. */
    OP_DECISION,
    /* r[a] of decision t: an error ends the run with it; true matches t;
     * false jumps to t2. */
    OP_MATCH,
    OP_NO_MATCH, /* past the last decision */
};

enum step { STEP_NONE, STEP_AND, STEP_OR };

struct insn {
    uint8_t op;
    uint8_t d, a, b;
    uint8_t mask;   /* comparisons: bit c + 1 is the result for order c */
    uint8_t step;   /* enum step */
    uint8_t n_path; /* fused field path walked by offsets; 0xFF: not so */
    uint16_t path[3];
    uint32_t t, t2;
    const struct node *n;
    union {
        const struct val *k;
        const struct strset *set;
        uint32_t lead;
    } x;
};

struct prog {
    const struct insn *code;
    uint32_t n_code;
    /* Registers and let frames a run needs, the lets it runs in place
     * included. */
    uint32_t n_regs, n_frames;
    const uint32_t *entry; /* decision programs: pc of each decision, and
                              of the end */
};

/* Compiles every expression of a specialised set, and its decision list.
 * Returns 0 or CJX_ENOMEM. */
int rules_compile_set(struct cjx_rules_set *set);
/* Compiles one specialised expression whose memory lives in arena. */
int rules_compile_expr(struct cjx_arena *arena, struct node *root);

/* Runs the decision program from decision start. Returns the index of the
 * decision that matched; RULES_VM_ERROR with the error value in *err (the
 * decision is ex->cur_dec); RULES_VM_NO_MATCH when none did. */
enum { RULES_VM_ERROR = -1, RULES_VM_NO_MATCH = -2 };
int rules_vm_decide(struct eval_ctx *ex, size_t start, struct val *err);

#endif
