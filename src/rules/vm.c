/* Running compiled rule programs: a register machine over the flat instructions of bytecode.c. */
#include <string.h>

#include "access.h"
#include "bytecode.h"

/* The message holding an instruction's field: the root's fused path
 * walked by offsets, else as the tree reads it. Returns 1 with an error in
 * *err. */
static inline int
insn_msg(struct eval_ctx *ex, const struct insn *in, const ProtobufCMessage **m,
         struct val *err)
{
    if (in->n_path == 0xFF)
        return rules_field_msg(ex, in->n, m, err);
    const ProtobufCMessage *p = ex->root;
    for (unsigned i = 0; i < in->n_path && p != NULL; i++)
        p = RULES_AT(p, in->path[i], ProtobufCMessage *);
    *m = p;
    return 0;
}

/* Runs code from pc until it returns a value (VM_RETURN, the value in
 * *out), matches a decision (its index), ends a decision with an error
 * (RULES_VM_ERROR, the error in *out) or passes the last decision
 * (RULES_VM_NO_MATCH). */
enum { VM_RETURN = RULES_VM_NO_MATCH - 1 };

/* A value instruction's result: into r[d], or a step of the chain
 * accumulating there. Each instruction tests for itself, so that the
 * common case jumps straight on. */
#define STORE                                             \
    do {                                                  \
        if (__builtin_expect(in->step == STEP_NONE, 1)) { \
            r[in->d] = v;                                 \
            NEXT;                                         \
        }                                                 \
        goto step;                                        \
    } while (0)

#define NEXT                  \
    do {                      \
        in = &code[pc++];     \
        goto *labels[in->op]; \
    } while (0)

/* A let being computed in place: where its reference was, and the
 * caller's registers. */
struct frame {
    const struct insn *code;
    const struct insn *at; /* the OP_LET */
    uint32_t pc;
    struct val *r;
};

static int
run(struct eval_ctx *ex, const struct prog *p, uint32_t pc, struct val *out)
{
    struct val regs[p->n_regs];
    struct frame frames[p->n_frames + 1];
    struct val *r = regs, *end = regs + p->n_regs;
    unsigned depth = 0;
    const struct insn *code = p->code;
    /* Direct threading: each instruction jumps to the next one's code. */
    static const void *const labels[] = {
        [OP_LIT] = &&op_lit,
        [OP_BOOL] = &&op_bool,
        [OP_LET] = &&op_let,
        [OP_FACT] = &&op_fact,
        [OP_LOOPVAR] = &&op_loopvar,
        [OP_FIELD] = &&op_field,
        [OP_HAS] = &&op_has,
        [OP_CMP_FIELD_K] = &&op_cmp_field_k,
        [OP_EQ_FIELD_K] = &&op_eq_field_k,
        [OP_IN_SET_FIELD] = &&op_in_set_field,
        [OP_CMP_K] = &&op_cmp_k,
        [OP_CMP_REGS] = &&op_cmp_regs,
        [OP_EQ_STR_K] = &&op_eq_str_k,
        [OP_EQ_STR_REGS] = &&op_eq_str_regs,
        [OP_IN_SET] = &&op_in_set,
        [OP_NOT] = &&op_not,
        [OP_TREE] = &&op_tree,
        [OP_STEP] = &&op_step,
        [OP_BRANCH] = &&op_branch,
        [OP_JUMP] = &&op_jump,
        [OP_RET] = &&op_ret,
        [OP_DECISION] = &&op_decision,
        [OP_MATCH] = &&op_match,
        [OP_NO_MATCH] = &&op_no_match,
    };
    const struct insn *in;
    struct val v;
    const ProtobufCMessage *m;
    NEXT;
    {
    op_lit:
        v = *in->x.k;
        STORE;
    op_bool:
        v = rules_mkbool((int)in->t);
        STORE;
    op_let : {
        if (ex->slots[in->t].k != V_UNSET) {
            v = ex->slots[in->t];
            STORE;
        }
        const struct prog *q = ex->set->lets[in->t].expr->prog;
        if (q == NULL || depth == p->n_frames || r + in->d + q->n_regs > end) {
            v = rules_eval_let(ex, in->n);
            STORE;
        }
        /* Run the let's program in the registers from r[d] up; its
             * OP_RET comes back here. */
        frames[depth++] = (struct frame){code, in, pc, r};
        r += in->d;
        code = q->code;
        pc = 0;
        NEXT;
    }
    op_fact:
        v = ex->slots[in->t].k != V_UNSET ? ex->slots[in->t]
                                          : rules_eval_fact(ex, in->n);
        STORE;
    op_loopvar:
        v = ex->slots[in->t];
        STORE;
    op_field:
        if (!insn_msg(ex, in, &m, &v))
            v = rules_field_value(ex, in->n, m);
        STORE;
    op_has:
        if (!insn_msg(ex, in, &m, &v))
            v = rules_mkbool(rules_field_present(in->n, m));
        STORE;
    op_cmp_field_k : {
        int64_t x;
        if (!insn_msg(ex, in, &m, &v) && !rules_field_int(in->n, m, &x, &v))
            v = rules_cmp_result(in->mask, rules_order3(x, in->x.k->u.i));
        STORE;
    }
    op_eq_field_k:
        if (!insn_msg(ex, in, &m, &v))
            v = rules_mkbool(rules_str_field_eq(in->n, m, in->x.k) ^ in->mask);
        STORE;
    op_in_set_field:
        if (!insn_msg(ex, in, &m, &v))
            v = rules_mkbool(rules_str_field_in_set(in->n, m, in->x.set));
        STORE;
    op_cmp_k:
        v = r[in->a];
        if (v.k != V_ERR)
            v = rules_cmp_result(in->mask, rules_order3(v.u.i, in->x.k->u.i));
        STORE;
    op_cmp_regs:
        if (r[in->a].k == V_ERR)
            v = r[in->a];
        else if (r[in->b].k == V_ERR)
            v = r[in->b];
        else
            v = rules_cmp_result(in->mask,
                                 rules_order3(r[in->a].u.i, r[in->b].u.i));
        STORE;
    op_eq_str_k:
        v = r[in->a];
        if (v.k != V_ERR)
            v = rules_mkbool(rules_str_eq(&v, in->x.k) ^ in->mask);
        STORE;
    op_eq_str_regs:
        if (r[in->a].k == V_ERR)
            v = r[in->a];
        else if (r[in->b].k == V_ERR)
            v = r[in->b];
        else
            v = rules_mkbool(rules_str_eq(&r[in->a], &r[in->b]) ^ in->mask);
        STORE;
    op_in_set:
        v = r[in->a];
        if (v.k != V_ERR)
            v = rules_mkbool(rules_in_strset(in->x.set, v.u.s, v.n));
        STORE;
    op_not:
        v = r[in->a];
        if (v.k != V_ERR)
            v = rules_mkbool(!v.u.i);
        STORE;
    op_tree:
        v = in->n->ev(ex, in->n);
        STORE;
    op_step:
        v = r[in->a];
        STORE;
    op_branch:
        if (r[in->a].k == V_ERR)
            pc = in->t2;
        else if (!r[in->a].u.i)
            pc = in->t;
        NEXT;
    op_jump:
        pc = in->t;
        NEXT;
    op_ret:
        v = r[in->a];
        if (depth == 0) {
            *out = v;
            return VM_RETURN;
        }
        /* A let computed in place: store it, and go on as its
             * reference would with the value. */
        depth--;
        code = frames[depth].code;
        pc = frames[depth].pc;
        r = frames[depth].r;
        in = frames[depth].at;
        rules_let_done(ex, (int)in->t, v);
        STORE;
    op_decision:
        if (in->a && ex->slots[in->x.lead].k == V_BOOL &&
            ex->slots[in->x.lead].u.i == in->mask) {
            pc = in->t2;
            NEXT;
        }
        ex->cur_dec = (int)in->t;
        r[0] = rules_mkbool(1);
        NEXT;
    op_match:
        if (r[in->a].k == V_ERR) {
            *out = r[in->a];
            return RULES_VM_ERROR;
        }
        if (r[in->a].u.i)
            return (int)in->t;
        pc = in->t2;
        NEXT;
    op_no_match:
        return RULES_VM_NO_MATCH;
    }
    /* The value of a value instruction: into r[d], or a step of the chain
     * accumulating there. */
step:
    if (v.k == V_BOOL) {
        if (v.u.i == (in->step == STEP_OR)) {
            r[in->d] = v;
            pc = in->t2;
        }
    } else if (r[in->d].k != V_ERR) {
        r[in->d] = v; /* the first error, unless an operand decides */
    }
    NEXT;
}

struct val
rules_vm_run(struct eval_ctx *ex, const struct prog *p)
{
    struct val v;
    run(ex, p, 0, &v);
    return v;
}

int
rules_vm_decide(struct eval_ctx *ex, size_t start, struct val *err)
{
    const struct prog *p = ex->set->decide;
    return run(ex, p, p->entry[start], err);
}
