/* String literals of a set made to share one pointer, so that two of them compare by address. */
#include <stdlib.h>
#include <string.h>

#include "rules_internal.h"

/* The string literals of a set, gathered to be shared. */
struct lits {
    struct val **v;
    size_t n, cap;
    int failed;
};

static void
lits_add(struct lits *l, struct val *v)
{
    if (l->failed)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct val **p = realloc(l->v, cap * sizeof(*p));
        if (p == NULL) {
            l->failed = 1;
            return;
        }
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

static void
collect_lits(struct lits *l, struct node *n)
{
    if (n == NULL)
        return;
    if (n->op == N_LIT) {
        if (n->lit.k == V_STRING)
            lits_add(l, &n->lit);
        /* A list literal's items were built at load, in the set's arena. */
        if (n->lit.k == V_LIST && n->lit.lk == L_ARRAY)
            for (uint32_t i = 0; i < n->lit.n; i++)
                if (n->lit.u.items[i].k == V_STRING)
                    lits_add(l, (struct val *)&n->lit.u.items[i]);
        return;
    }
    if (n->op == N_AND || n->op == N_OR) {
        for (unsigned i = 0; i < n->nargs; i++)
            collect_lits(l, n->args[i]);
        return;
    }
    collect_lits(l, n->a);
    collect_lits(l, n->b);
    collect_lits(l, n->c);
    collect_lits(l, n->base);
    int nargs = n->op == N_LIST ? n->slot : n->op == N_MACRO ? 0 : n->nargs;
    for (int i = 0; i < nargs; i++)
        collect_lits(l, n->args[i]);
}

static int
lit_cmp(const void *pa, const void *pb)
{
    const struct val *a = *(struct val *const *)pa,
                     *b = *(struct val *const *)pb;
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    int c = memcmp(a->u.s, b->u.s, a->n);
    if (c != 0)
        return c;
    /* Ties by address, so that the shared pointer does not depend on the
     * sort. */
    return a->u.s < b->u.s ? -1 : a->u.s > b->u.s;
}

void
rules_share_literals(struct node *const *roots, size_t n_roots)
{
    struct lits l = {0};
    for (size_t i = 0; i < n_roots; i++)
        collect_lits(&l, roots[i]);
    if (!l.failed && l.n > 0) {
        qsort(l.v, l.n, sizeof(*l.v), lit_cmp);
        const struct val *first = l.v[0];
        for (size_t i = 0; i < l.n; i++) {
            struct val *v = l.v[i];
            if (v->n != first->n || memcmp(v->u.s, first->u.s, v->n) != 0)
                first = v;
            v->u.s = first->u.s;
            v->lk = 1;
        }
    }
    free(l.v);
}
