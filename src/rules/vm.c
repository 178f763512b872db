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
    for (;;) {
        const struct insn *in = &code[pc++];
        struct val v;
        const ProtobufCMessage *m;
        switch (in->op) {
        case OP_LIT:
            v = *in->x.k;
            break;
        case OP_BOOL:
            v = rules_mkbool((int)in->t);
            break;
        case OP_LET: {
            if (ex->slots[in->t].k != V_UNSET) {
                v = ex->slots[in->t];
                break;
            }
            const struct prog *q = ex->set->lets[in->t].expr->prog;
            if (q == NULL || depth == p->n_frames ||
                r + in->d + q->n_regs > end) {
                v = rules_eval_let(ex, in->n);
                break;
            }
            /* Run the let's program in the registers from r[d] up; its
             * OP_RET comes back here. */
            frames[depth++] = (struct frame){code, in, pc, r};
            r += in->d;
            code = q->code;
            pc = 0;
            continue;
        }
        case OP_FACT:
            v = ex->slots[in->t].k != V_UNSET ? ex->slots[in->t]
                                              : rules_eval_fact(ex, in->n);
            break;
        case OP_LOOPVAR:
            v = ex->slots[in->t];
            break;
        case OP_FIELD:
            if (!insn_msg(ex, in, &m, &v))
                v = rules_field_value(ex, in->n, m);
            break;
        case OP_HAS:
            if (!insn_msg(ex, in, &m, &v))
                v = rules_mkbool(rules_field_present(in->n, m));
            break;
        case OP_CMP_FIELD_K: {
            int64_t x;
            if (!insn_msg(ex, in, &m, &v) && !rules_field_int(in->n, m, &x, &v))
                v = rules_cmp_result(in->mask, rules_order3(x, in->x.k->u.i));
            break;
        }
        case OP_EQ_FIELD_K:
            if (!insn_msg(ex, in, &m, &v))
                v = rules_mkbool(rules_str_field_eq(in->n, m, in->x.k) ^
                                 in->mask);
            break;
        case OP_IN_SET_FIELD:
            if (!insn_msg(ex, in, &m, &v))
                v = rules_mkbool(rules_str_field_in_set(in->n, m, in->x.set));
            break;
        case OP_CMP_K:
            v = r[in->a];
            if (v.k != V_ERR)
                v = rules_cmp_result(in->mask,
                                     rules_order3(v.u.i, in->x.k->u.i));
            break;
        case OP_CMP_REGS:
            if (r[in->a].k == V_ERR)
                v = r[in->a];
            else if (r[in->b].k == V_ERR)
                v = r[in->b];
            else
                v = rules_cmp_result(in->mask,
                                     rules_order3(r[in->a].u.i, r[in->b].u.i));
            break;
        case OP_EQ_STR_K:
            v = r[in->a];
            if (v.k != V_ERR)
                v = rules_mkbool(rules_str_eq(&v, in->x.k) ^ in->mask);
            break;
        case OP_EQ_STR_REGS:
            if (r[in->a].k == V_ERR)
                v = r[in->a];
            else if (r[in->b].k == V_ERR)
                v = r[in->b];
            else
                v = rules_mkbool(rules_str_eq(&r[in->a], &r[in->b]) ^ in->mask);
            break;
        case OP_IN_SET:
            v = r[in->a];
            if (v.k != V_ERR)
                v = rules_mkbool(rules_in_strset(in->x.set, v.u.s, v.n));
            break;
        case OP_NOT:
            v = r[in->a];
            if (v.k != V_ERR)
                v = rules_mkbool(!v.u.i);
            break;
        case OP_TREE:
            v = in->n->ev(ex, in->n);
            break;
        case OP_STEP:
            v = r[in->a];
            break;
        case OP_BRANCH:
            if (r[in->a].k == V_ERR)
                pc = in->t2;
            else if (!r[in->a].u.i)
                pc = in->t;
            continue;
        case OP_JUMP:
            pc = in->t;
            continue;
        case OP_RET:
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
            break;
        case OP_DECISION:
            ex->cur_dec = (int)in->t;
            r[0] = rules_mkbool(1);
            continue;
        case OP_MATCH:
            if (r[in->a].k == V_ERR) {
                *out = r[in->a];
                return RULES_VM_ERROR;
            }
            if (r[in->a].u.i)
                return (int)in->t;
            pc = in->t2;
            continue;
        default: /* OP_NO_MATCH */
            return RULES_VM_NO_MATCH;
        }
        /* The value of a value instruction: into r[d], or a step of the
         * chain accumulating there. */
        struct val *d = &r[in->d];
        if (in->step == STEP_NONE) {
            *d = v;
        } else if (v.k == V_BOOL) {
            if (v.u.i == (in->step == STEP_OR)) {
                *d = v;
                pc = in->t2;
            }
        } else if (d->k != V_ERR) {
            *d = v; /* the first error, unless an operand decides */
        }
    }
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
