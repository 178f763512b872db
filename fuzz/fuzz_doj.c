/* libFuzzer target: arbitrary bytes as a DOJ research file, fed whole and
 * again in two pieces split where the first byte says. Each subject is
 * turned into its relief queries; every error must name a line. Nothing
 * may crash, leak, or read differently for being split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/doj.h"

struct tally {
    long subjects, errors, counts;
};

static int
on_subject(void *ctx, const struct cjx_doj_subject *s)
{
    struct tally *t = ctx;
    struct cjx_arena a;
    cjx_arena_init(&a, NULL, 0, 0);
    for (size_t i = 0; i < s->n_convictions; i++) {
        Cjx__V1__ReliefQuery *q;
        if (cjx_doj_subject_query(s, i, &a, &q) != 0)
            abort();
        /* The query must pack: every string set, every pointer valid. */
        size_t n = protobuf_c_message_get_packed_size(&q->base);
        uint8_t *buf = malloc(n ? n : 1);
        protobuf_c_message_pack(&q->base, buf);
        free(buf);
        t->counts += cjx_doj_is_prop64(s->convictions[i]->charge);
    }
    cjx_arena_fini(&a);
    t->subjects++;
    return 0;
}

static int
on_error(void *ctx, const struct cjx_doj_error *e)
{
    struct tally *t = ctx;
    char msg[512];
    if (e->line < 1)
        abort();
    cjx_doj_error_format(e, msg, sizeof(msg));
    t->errors++;
    return 0;
}

static void
run(const uint8_t *data, size_t size, size_t split, struct tally *t)
{
    struct cjx_doj_callbacks cb = {on_subject, on_error, t};
    struct cjx_doj_parser *p = cjx_doj_parser_new(&cb);
    if (p == NULL)
        return;
    if (cjx_doj_parser_feed(p, (const char *)data, split) == 0 &&
        cjx_doj_parser_feed(p, (const char *)data + split, size - split) == 0)
        cjx_doj_parser_finish(p);
    cjx_doj_parser_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tally whole = {0}, split = {0};
    run(data, size, size, &whole);
    run(data, size, size > 0 ? data[0] % (size + 1) : 0, &split);
    if (memcmp(&whole, &split, sizeof(whole)) != 0)
        abort();
    return 0;
}
