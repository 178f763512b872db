/* Reading a DOJ research file for cjxctl: bad subjects are reported with
 * line, column and value, and either refuse the file or go to the reject
 * file, as the operator chose. */
#include "research_file.h"

#include <errno.h>
#include <string.h>

#include "cjx/arena.h"

#define MAX_REPORTED 20

int
research_rejects_open(struct research_rejects *r, const char *path,
                      const char *reject_path)
{
    memset(r, 0, sizeof(*r));
    r->path = path;
    if (reject_path == NULL)
        return 0;
    r->reject = fopen(reject_path, "w");
    if (r->reject == NULL) {
        fprintf(stderr, "cjxctl: %s: %s\n", reject_path, strerror(errno));
        return 1;
    }
    return 0;
}

int
research_rejects_close(struct research_rejects *r)
{
    if (r->reject == NULL)
        return 0;
    int failed = fclose(r->reject) != 0;
    r->reject = NULL;
    if (failed)
        fprintf(stderr, "cjxctl: the reject file: %s\n", strerror(errno));
    return failed;
}

int
research_rejects_note(void *ctx, const struct cjx_doj_error *e)
{
    struct research_rejects *r = ctx;
    r->refused++;
    if (r->reported++ < MAX_REPORTED) {
        char msg[512];
        cjx_doj_error_format(e, msg, sizeof(msg));
        fprintf(stderr, "%s: %s%s%s%s\n", r->path, msg,
                e->subject_id[0] ? " (subject " : "", e->subject_id,
                e->subject_id[0] ? ")" : "");
    }
    if (r->reject != NULL && e->raw_len > 0 &&
        fwrite(e->raw, 1, e->raw_len, r->reject) != e->raw_len)
        return 1;
    return 0;
}

int
research_file_check(const char *path, struct research_rejects *r)
{
    struct cjx_doj_callbacks cb = {NULL, research_rejects_note, r};
    struct cjx_doj_counts counts;
    struct cjx_errbuf eb;
    int rc = cjx_doj_read_file(path, &cb, &counts, &eb);
    if (rc != 0) {
        fprintf(stderr, "cjxctl: %s\n", eb.msg);
        return 1;
    }
    if (r->refused > 0 && r->reject == NULL) {
        fprintf(stderr,
                "cjxctl: %s: %ld subject(s) cannot be read; nothing was "
                "sent (--reject-file FILE sets them aside)\n",
                path, r->refused);
        return 1;
    }
    return 0;
}

int
research_subject_counts(const struct cjx_doj_subject *s, const char *path,
                        research_count_fn visit, void *ctx)
{
    struct cjx_arena arena;
    cjx_arena_init(&arena, NULL, 0, 0);
    int rc = 0;
    for (size_t i = 0; i < s->n_convictions && rc == 0; i++) {
        if (!cjx_doj_is_prop64(s->convictions[i]->charge))
            continue;
        Cjx__V1__ReliefQuery *q;
        if (cjx_doj_subject_query(s, i, &arena, &q) != 0) {
            rc = CJX_ENOMEM;
            break;
        }
        char where[600];
        snprintf(where, sizeof(where), "%s:%ld", path, s->conviction_lines[i]);
        rc = visit(ctx, where, q);
    }
    cjx_arena_fini(&arena);
    return rc;
}
