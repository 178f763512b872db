/* Rate-limit tokens per message of a batch, and one audit note for the
 * batch's refused messages. */
#include "batch_guard.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cjx/arena.h"
#include "cjx/audit.h"
#include "cjx/conf.h"

int
batch_guard_admit(struct batch_guard *g, struct cjx_call *c,
                  struct cjx_errbuf *eb)
{
    if (!g->dry && g->admitted > 0 &&
        !c->ops->take_token(c, &g->retry_after_ms))
        g->dry = 1;
    if (g->dry) {
        const struct cjx_agency *ag = c->caller.agency;
        return cjx_errf(eb, CJX_ELIMIT,
                        "agency %s is over its limit of %d requests/s; retry "
                        "after %" PRId64 " ms",
                        ag != NULL ? ag->ori : "?",
                        c->conf->limits.rate_limit_per_agency,
                        g->retry_after_ms);
    }
    g->admitted++;
    return 0;
}

void
batch_guard_count(struct batch_guard *g, const char *request_id, int code,
                  const char *message)
{
    g->counted++;
    if (code == 0)
        return;
    if (g->refused < BATCH_GUARD_REASONS)
        snprintf(g->reasons[g->refused], sizeof(g->reasons[0]), "[%s] %s: %s",
                 request_id != NULL ? request_id : "",
                 cjx_status_code_name(code), message != NULL ? message : "");
    g->refused++;
}

void
batch_guard_note(const struct batch_guard *g, struct cjx_call *c)
{
    if (g->refused == 0)
        return;
    char *note = cjx_arena_alloc(c->arena, CJX_AUDIT_TEXT_MAX + 1);
    if (note == NULL)
        return; /* the entry still has the call's own outcome */
    int used = snprintf(note, CJX_AUDIT_TEXT_MAX + 1,
                        "%zu of %zu messages refused:", g->refused, g->counted);
    size_t shown =
        g->refused < BATCH_GUARD_REASONS ? g->refused : BATCH_GUARD_REASONS;
    for (size_t i = 0; i < shown && used >= 0 && used < CJX_AUDIT_TEXT_MAX; i++)
        used += snprintf(note + used, (size_t)(CJX_AUDIT_TEXT_MAX + 1 - used),
                         "%s %s", i ? ";" : "", g->reasons[i]);
    if (g->refused > shown && used >= 0 && used < CJX_AUDIT_TEXT_MAX)
        snprintf(note + used, (size_t)(CJX_AUDIT_TEXT_MAX + 1 - used),
                 "; and %zu more", g->refused - shown);
    c->audit.note = note;
}
