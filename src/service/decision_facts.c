/* The second look at a decision that names facts (decision_facts.h). */
#include "decision_facts.h"

#include <string.h>

#include "cjx/clock.h"
#include "cjx/date.h"
#include "cjx/evaluate.h"
#include "cjx/store.h"
#include "cjx/store_cases.h"
#include "cjx/workflow.h"
#include "service_internal.h"

#define US_PER_DAY (INT64_C(86400) * 1000000)

/* The record's facts with the decision's laid over them, field by field:
 * protobuf's merge of two encodings is exactly that. */
static Cjx__V1__OffenseFacts *
merged_facts(const Cjx__V1__OffenseFacts *on_record,
             const Cjx__V1__OffenseFacts *found, struct cjx_arena *a)
{
    size_t n1 = on_record != NULL
                    ? protobuf_c_message_get_packed_size(&on_record->base)
                    : 0;
    size_t n2 = protobuf_c_message_get_packed_size(&found->base);
    uint8_t *buf = cjx_arena_alloc(a, n1 + n2 + 1);
    if (buf == NULL)
        return NULL;
    if (on_record != NULL)
        protobuf_c_message_pack(&on_record->base, buf);
    protobuf_c_message_pack(&found->base, buf + n1);
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(a);
    return cjx__v1__offense_facts__unpack(&alloc, n1 + n2, buf);
}

/* The relief bounds of a determination: a definite relief is its own. */
static void
bounds_of(const Cjx__V1__Determination *d, int *floor, int *ceiling)
{
    if (d->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW) {
        *floor = cjx_relief_rank((enum cjx_relief)d->floor);
        *ceiling = cjx_relief_rank((enum cjx_relief)d->ceiling);
    } else {
        *floor = *ceiling = cjx_relief_rank((enum cjx_relief)d->relief);
    }
}

static int
check_against(const Cjx__V1__CandidateNotice *notice,
              const Cjx__V1__ProsecutorDecision *d,
              const struct cjx_rules_registry *reg, struct cjx_arena *a,
              struct cjx_errbuf *eb)
{
    Cjx__V1__ConvictionRecord rec = *notice->record;
    rec.facts = merged_facts(notice->record->facts, d->facts, a);
    if (rec.facts == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    Cjx__V1__Date as_of = CJX__V1__DATE__INIT;
    int y, m, day;
    /* A step taken here is dated only after this check: it is today's. */
    int64_t at =
        d->decided_at_unix_us != 0 ? d->decided_at_unix_us : cjx_clock_now_us();
    cjx_date_from_days(at / US_PER_DAY, &y, &m, &day);
    as_of.year = y;
    as_of.month = m;
    as_of.day = day;
    Cjx__V1__ReliefQuery q = CJX__V1__RELIEF_QUERY__INIT;
    q.record = &rec;
    q.history = notice->history;
    q.as_of = &as_of;
    struct cjx_errbuf ignored;
    const struct cjx_rules_set *set =
        cjx_evaluate_pick_set(reg, NULL, &q, &ignored);
    if (set == NULL)
        return 0; /* no relief rule set here: the workflow decides alone */
    Cjx__V1__EvaluateResponse out;
    int err = cjx_evaluate_query(set, &q, a, &out, eb);
    if (err == CJX_ENOMEM)
        return err;
    if (err != 0)
        return cjx_errf(eb, CJX_ESTATE,
                        "facts: the count cannot be evaluated with the facts "
                        "the decision names: %s",
                        eb->msg);
    int floor, ceiling;
    bounds_of(out.determination, &floor, &ceiling);
    enum cjx_relief accepted = (enum cjx_relief)d->no_challenge->relief;
    int rank = cjx_relief_rank(accepted);
    if (rank >= floor && rank <= ceiling && ceiling > 0)
        return 0;
    const Cjx__V1__Determination *det = out.determination;
    return cjx_errf(
        eb, CJX_ESTATE,
        "no_challenge.relief: %s is not what the facts the decision names "
        "lead to: %s (floor %s, ceiling %s) by rule %s of %s",
        cjx_relief_name(accepted),
        cjx_relief_name((enum cjx_relief)det->relief),
        cjx_relief_name((enum cjx_relief)det->floor),
        cjx_relief_name((enum cjx_relief)det->ceiling), det->decision_id,
        det->rule_set);
}

int
decision_facts_check(struct cjx_service *svc,
                     const Cjx__V1__ProsecutorDecision *d, struct cjx_arena *a,
                     struct cjx_errbuf *eb)
{
    /* The decision's two kinds share one union: ask which it holds. */
    if (d->facts == NULL || d->key == NULL ||
        d->decision_case != CJX__V1__PROSECUTOR_DECISION__DECISION_NO_CHALLENGE)
        return 0;
    struct cjx_stored_case c;
    struct cjx_errbuf read_eb;
    if (cjx_store_get_case(svc->store, d->key->cii, d->key->court_case_number,
                           d->key->count_number, 1, &c, &read_eb) != 0)
        return 0; /* no case here yet: the workflow says so */
    int err = 0;
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(a);
    Cjx__V1__CandidateNotice *notice =
        c.notice != NULL
            ? cjx__v1__candidate_notice__unpack(&alloc, c.notice_len, c.notice)
            : NULL;
    cjx_stored_case_fini(svc->store, &c);
    if (notice == NULL || notice->record == NULL)
        return 0;
    const struct cjx_conf *rules = cjx_service_conf(svc);
    if (service_conf_rules(rules) != NULL)
        err = check_against(notice, d, service_conf_rules(rules), a, eb);
    cjx_conf_unref(rules);
    return err;
}
