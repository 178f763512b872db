/* libFuzzer target: rule-file loading and expression compilation must never crash or leak on any input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/rules.h"
#include "cjx/v1/determination.pb-c.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const msgs[] = {
        &cjx__v1__relief_query__descriptor, &cjx__v1__determination__descriptor,
        &cjx__v1__conviction_record__descriptor};
    static const struct cjx_rules_types types = {msgs, 3};
    struct cjx_errbuf eb;
    struct cjx_rules_set *set = NULL;
    if (cjx_rules_set_load_buffer("fuzz.yaml", (const char *)data, size, &types,
                                  &set, &eb) == 0) {
        /* A set that loads must also evaluate an empty message. */
        struct cjx_arena a;
        cjx_arena_init(&a, NULL, 0, 1 << 20);
        Cjx__V1__ReliefQuery q = CJX__V1__RELIEF_QUERY__INIT;
        struct cjx_rules_report r;
        ProtobufCMessage *out;
        if (cjx_rules_set_message(set) == &cjx__v1__relief_query__descriptor) {
            cjx_rules_validate(set, &q.base, &a, &r, &eb);
            cjx_rules_decide(set, &q.base, &a, &out, &eb);
        }
        cjx_arena_fini(&a);
        cjx_rules_set_free(set);
    }
    /* The same bytes as one expression. */
    char *src = malloc(size + 1);
    if (src == NULL)
        return 0;
    memcpy(src, data, size);
    src[size] = '\0';
    struct cjx_rules_expr *e = NULL;
    if (cjx_rules_expr_compile(src, &cjx__v1__relief_query__descriptor, &e,
                               &eb) == 0) {
        struct cjx_arena a;
        cjx_arena_init(&a, NULL, 0, 1 << 20);
        const char *text;
        cjx_rules_expr_eval(e, NULL, &a, &text);
        cjx_arena_fini(&a);
        cjx_rules_expr_free(e);
    }
    free(src);
    return 0;
}
