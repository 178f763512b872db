/* libFuzzer target: the Prop 64 rule set decides and validates any ReliefQuery without crashing, the flat evaluator as the tree does. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/rules.h"
#include "cjx/v1/determination.pb-c.h"
#include "genrec.h"

#ifndef CJX_SOURCE_DIR
#define CJX_SOURCE_DIR "."
#endif

static struct cjx_rules_set *prop64;

static void
load_rules(void)
{
    static const ProtobufCMessageDescriptor *const msgs[] = {
        &cjx__v1__relief_query__descriptor,
        &cjx__v1__determination__descriptor};
    static const struct cjx_rules_types types = {msgs, 2};
    struct cjx_errbuf eb;
    const char *path = getenv("CJX_RULES_FILE");
    if (path == NULL)
        path = CJX_SOURCE_DIR "/rules/prop64.yaml";
    if (cjx_rules_set_load_file(path, &types, &prop64, &eb) != 0) {
        fprintf(stderr, "%s\n", eb.msg);
        abort();
    }
}

/* Whether two determinations pack to the same bytes. */
static int
same_packed(const ProtobufCMessage *x, const ProtobufCMessage *y)
{
    size_t n = protobuf_c_message_get_packed_size(x);
    if (n != protobuf_c_message_get_packed_size(y))
        return 0;
    uint8_t *bx = malloc(n + 1), *by = malloc(n + 1);
    if (bx == NULL || by == NULL)
        abort();
    protobuf_c_message_pack(x, bx);
    protobuf_c_message_pack(y, by);
    int same = memcmp(bx, by, n) == 0;
    free(bx);
    free(by);
    return same;
}

static void
run(const ProtobufCMessage *q)
{
    struct cjx_arena a, fa;
    cjx_arena_init(&a, NULL, 0, 4 << 20);
    cjx_arena_init(&fa, NULL, 0, 4 << 20);
    struct cjx_errbuf eb, feb;
    struct cjx_rules_report r;
    ProtobufCMessage *out, *flat;
    cjx_rules_validate(prop64, q, &a, &r, &eb);
    int rc = cjx_rules_decide(prop64, q, &a, &out, &eb);
    if (rc == 0 && ((Cjx__V1__Determination *)out)->relief == 0)
        abort(); /* every decision names a relief */
    /* The flat evaluator decides exactly as the tree walker does. */
    int frc = cjx_rules_decide_compiled(prop64, q, &fa, &flat, &feb);
    if (frc != rc || (rc != 0 && strcmp(eb.msg, feb.msg) != 0) ||
        (rc == 0 && !same_packed(out, flat)))
        abort();
    cjx_arena_fini(&a);
    cjx_arena_fini(&fa);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (prop64 == NULL)
        load_rules();
    /* The input as a packed ReliefQuery... */
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 8 << 20);
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(&a);
    Cjx__V1__ReliefQuery *q = cjx__v1__relief_query__unpack(&alloc, size, data);
    if (q != NULL)
        run(&q->base);
    /* ...and as a seed for a realistic synthetic record. */
    uint64_t seed = 0;
    memcpy(&seed, data, size < sizeof(seed) ? size : sizeof(seed));
    struct genrec g;
    genrec_init(&g, seed);
    cjx_arena_reset(&a);
    Cjx__V1__ReliefQuery *s = genrec_next(&g, &a);
    if (s != NULL)
        run(&s->base);
    cjx_arena_fini(&a);
    return 0;
}
