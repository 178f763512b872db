/* Standalone expressions over a message type, for tools and tests. */
#include <stdlib.h>
#include <string.h>

#include "bytecode.h"
#include "rules_internal.h"

struct cjx_rules_expr {
    struct cjx_rules_set *set; /* holds the arena, enums and loop slots */
    struct node *root;
};

void
cjx_rules_expr_free(struct cjx_rules_expr *e)
{
    if (e == NULL)
        return;
    cjx_rules_set_free(e->set);
    free(e);
}

int
cjx_rules_expr_compile(const char *src, const ProtobufCMessageDescriptor *root,
                       struct cjx_rules_expr **out, struct cjx_errbuf *eb)
{
    struct cjx_rules_expr *e = calloc(1, sizeof(*e));
    struct cjx_rules_set *set = calloc(1, sizeof(*set));
    if (e == NULL || set == NULL) {
        free(e);
        free(set);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    e->set = set;
    cjx_arena_init(&set->arena, NULL, 0, 0);
    set->file = "<expr>";
    set->name = "<expr>";
    set->version = "";
    set->message = root;
    set->review_relief = -1;
    size_t len = strlen(src);
    struct srcmap sm;
    int rc = rules_collect_enums(set, root);
    if (rc == 0)
        rc = rules_srcmap_scalar(&set->arena, &sm, "<expr>", src, len, 0, len,
                                 1, 1, src, len);
    if (rc == 0)
        rc = rules_parse(&set->arena, src, len, &sm, &e->root, eb);
    if (rc == 0) {
        struct check_ctx cx;
        memset(&cx, 0, sizeof(cx));
        cx.set = set;
        cx.sm = &sm;
        cx.eb = eb;
        cx.arena = &set->arena;
        rc = rules_check(&cx, e->root);
    }
    if (set->arena.failed)
        rc = CJX_ENOMEM;
    if (rc != 0) {
        if (rc == CJX_ENOMEM)
            cjx_errf(eb, rc, "out of memory");
        cjx_rules_expr_free(e);
        return rc;
    }
    set->n_slots = set->n_loop_slots;
    rules_specialise_expr(e->root);
    if (rules_compile_expr(&set->arena, e->root) != 0) {
        cjx_rules_expr_free(e);
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    *out = e;
    return 0;
}

static int
expr_eval(const struct cjx_rules_expr *e, const ProtobufCMessage *msg,
          struct cjx_arena *arena, const char **text, int compiled)
{
    struct eval_ctx ex;
    if (rules_eval_init(&ex, e->set, msg, arena) != 0)
        return CJX_ENOMEM;
    ex.compiled = compiled;
    struct val v = rules_eval_top(&ex, e->root);
    if (arena->failed)
        return CJX_ENOMEM;
    *text = rules_val_format(arena, &v, e->root->type);
    return *text == NULL ? CJX_ENOMEM : 0;
}

int
cjx_rules_expr_eval(const struct cjx_rules_expr *e, const ProtobufCMessage *msg,
                    struct cjx_arena *arena, const char **text)
{
    return expr_eval(e, msg, arena, text, 0);
}

int
cjx_rules_expr_eval_compiled(const struct cjx_rules_expr *e,
                             const ProtobufCMessage *msg,
                             struct cjx_arena *arena, const char **text)
{
    return expr_eval(e, msg, arena, text, 1);
}
