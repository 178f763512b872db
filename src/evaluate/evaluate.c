/* Validations and decisions of rule sets, assembled into cjx.v1 replies. */
#include "cjx/evaluate.h"

#include <string.h>

#include "cjx/v1/conviction.pb-c.h"
#include "cjx/v1/determination.pb-c.h"
#include "cjx/v1/exchange.pb-c.h"
#include "cjx/v1/record_service.pb-c.h"

const struct cjx_rules_types *
cjx_evaluate_types(void)
{
    static const ProtobufCMessageDescriptor *const messages[] = {
        &cjx__v1__relief_query__descriptor,
        &cjx__v1__determination__descriptor,
        &cjx__v1__conviction_record__descriptor,
        &cjx__v1__person_history__descriptor,
        &cjx__v1__submit_record_request__descriptor,
        /* The exchange's messages, which the receiver validates too. */
        &cjx__v1__candidate_notice__descriptor,
        &cjx__v1__prosecutor_decision__descriptor,
        &cjx__v1__relief_order__descriptor,
        &cjx__v1__history_updated__descriptor,
    };
    static const struct cjx_rules_types types = {
        messages, sizeof(messages) / sizeof(messages[0])};
    return &types;
}

const struct cjx_rules_set *
cjx_evaluate_pick_set(const struct cjx_rules_registry *reg, const char *name,
                      const Cjx__V1__ReliefQuery *query, struct cjx_errbuf *eb)
{
    if (reg == NULL) {
        cjx_errf(eb, CJX_ENOTFOUND, "no rule sets are configured");
        return NULL;
    }
    if (name != NULL && name[0] != '\0') {
        for (size_t i = 0; i < cjx_rules_registry_count(reg); i++) {
            const struct cjx_rules_set *s = cjx_rules_registry_at(reg, i);
            if (strcmp(cjx_rules_set_name(s), name) == 0 &&
                cjx_rules_set_message(s) == &cjx__v1__relief_query__descriptor)
                return s;
        }
        cjx_errf(eb, CJX_ENOTFOUND,
                 "rule_set: no rule set named \"%s\" for cjx.v1.ReliefQuery",
                 name);
        return NULL;
    }
    const Cjx__V1__Date *d = query != NULL ? query->as_of : NULL;
    const struct cjx_rules_set *s =
        cjx_rules_registry_find(reg, "cjx.v1.ReliefQuery", d ? d->year : 0,
                                d ? d->month : 0, d ? d->day : 0);
    if (s == NULL)
        cjx_errf(
            eb, CJX_ENOTFOUND,
            "no rule set for cjx.v1.ReliefQuery is in effect on that date");
    return s;
}

/* Copies a report's failures into reply messages. */
static int
failures_to_messages(const struct cjx_rules_report *report,
                     struct cjx_arena *arena, Cjx__V1__EvaluateResponse *out)
{
    if (report->n_failures == 0)
        return 0;
    Cjx__V1__ValidationFailure **v =
        cjx_arena_alloc(arena, report->n_failures * sizeof(*v));
    if (v == NULL)
        return CJX_ENOMEM;
    for (size_t i = 0; i < report->n_failures; i++) {
        const struct cjx_rules_failure *f = &report->failures[i];
        v[i] = cjx_arena_alloc(arena, sizeof(**v));
        if (v[i] == NULL)
            return CJX_ENOMEM;
        cjx__v1__validation_failure__init(v[i]);
        v[i]->rule_id = (char *)f->id;
        v[i]->message = (char *)f->message;
        v[i]->field = (char *)f->field;
        v[i]->reject = f->severity == CJX_RULES_REJECT;
        v[i]->detail = f->detail != NULL ? (char *)f->detail : "";
    }
    out->failures = v;
    out->n_failures = report->n_failures;
    return 0;
}

static const struct cjx_rules_failure *
first_rejection(const struct cjx_rules_report *report)
{
    for (size_t i = 0; i < report->n_failures; i++)
        if (report->failures[i].severity == CJX_RULES_REJECT)
            return &report->failures[i];
    return NULL;
}

static int
rejection_error(const struct cjx_rules_failure *f, struct cjx_errbuf *eb)
{
    if (f->field[0] != '\0')
        return cjx_errf(eb, CJX_ERULE, "rule %s: %s (field %s)", f->id,
                        f->message, f->field);
    return cjx_errf(eb, CJX_ERULE, "rule %s: %s", f->id, f->message);
}

int
cjx_evaluate_query(const struct cjx_rules_set *set,
                   const Cjx__V1__ReliefQuery *query, struct cjx_arena *arena,
                   Cjx__V1__EvaluateResponse *out, struct cjx_errbuf *eb)
{
    cjx__v1__evaluate_response__init(out);
    struct cjx_rules_report report;
    int err = cjx_rules_validate(set, &query->base, arena, &report, eb);
    if (err != 0)
        return err;
    if ((err = failures_to_messages(&report, arena, out)) != 0)
        return cjx_errf(eb, err, "out of memory");
    const struct cjx_rules_failure *rejected = first_rejection(&report);
    if (rejected != NULL)
        return rejection_error(rejected, eb);

    ProtobufCMessage *decided;
    if ((err = cjx_rules_decide(set, &query->base, arena, &decided, eb)) != 0)
        return err;
    Cjx__V1__Determination *det = (Cjx__V1__Determination *)decided;
    /* Flags of the validations travel with the determination. */
    if (report.n_failures > 0) {
        size_t n = det->n_flags + report.n_failures;
        char **flags = cjx_arena_alloc(arena, n * sizeof(*flags));
        if (flags == NULL)
            return cjx_errf(eb, CJX_ENOMEM, "out of memory");
        if (det->n_flags > 0)
            memcpy(flags, det->flags, det->n_flags * sizeof(*flags));
        for (size_t i = 0; i < report.n_failures; i++)
            flags[det->n_flags + i] = (char *)report.failures[i].id;
        det->flags = flags;
        det->n_flags = n;
    }
    out->determination = det;
    return 0;
}

int
cjx_evaluate_validate(const struct cjx_rules_registry *reg,
                      const ProtobufCMessage *msg, struct cjx_arena *arena,
                      const char **flags, struct cjx_errbuf *eb)
{
    *flags = "";
    if (reg == NULL)
        return 0;
    size_t cap = 0, len = 0;
    char *buf = NULL;
    for (size_t i = 0; i < cjx_rules_registry_count(reg); i++) {
        const struct cjx_rules_set *set = cjx_rules_registry_at(reg, i);
        if (cjx_rules_set_message(set) != msg->descriptor)
            continue;
        struct cjx_rules_report report;
        int err = cjx_rules_validate(set, msg, arena, &report, eb);
        if (err != 0)
            return err;
        const struct cjx_rules_failure *rejected = first_rejection(&report);
        if (rejected != NULL)
            return rejection_error(rejected, eb);
        for (size_t k = 0; k < report.n_failures; k++) {
            size_t n = strlen(report.failures[k].id);
            if (len + n + 2 > cap) {
                size_t grown = (len + n + 2) * 2;
                char *nb = cjx_arena_alloc(arena, grown);
                if (nb == NULL)
                    return cjx_errf(eb, CJX_ENOMEM, "out of memory");
                if (len > 0)
                    memcpy(nb, buf, len);
                buf = nb;
                cap = grown;
            }
            if (len > 0)
                buf[len++] = ',';
            memcpy(buf + len, report.failures[k].id, n);
            len += n;
            buf[len] = '\0';
        }
    }
    if (buf != NULL)
        *flags = buf;
    return 0;
}
