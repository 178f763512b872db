/* Unit tests for src/standin: which step each stand-in policy takes for a
 * case version, and under which message id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/arena.h"
#include "cjx/conf.h"
#include "cjx/standin.h"
#include "cjx/v1/exchange.pb-c.h"
#include "cjx/workflow.h"

struct fixture {
    struct cjx_conf *conf;
    struct cjx_arena arena;
    uint8_t buf[4096];
    size_t len;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->conf = cjx_conf_new();
    char reg[512];
    struct cjx_errbuf eb;
    snprintf(reg, sizeof(reg), "%s/cases/agencies.yaml",
             getenv("CJX_TEST_DATA"));
    if (cjx_registry_load(reg, &f->conf->registry, &eb) != 0)
        fail_msg("%s", eb.msg);
    struct cjx_exchange_conf *x = &f->conf->exchange;
    x->standin_prosecutor = 1;
    x->standin_eligible = CJX_STANDIN_NO_CHALLENGE;
    x->standin_human_review = CJX_STANDIN_PENDING;
    x->standin_challenge_flags[0] = strdup("aggravator_facts_unchecked");
    x->standin_n_challenge_flags = 1;
    x->standin_court = 1;
    x->standin_unchallenged = CJX_STANDIN_ORDER_ACCEPTED;
    x->standin_challenged = CJX_STANDIN_ORDER_DENY;
    x->standin_doj_acknowledge = 1;
    cjx_arena_init(&f->arena, NULL, 0, 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    cjx_conf_unref(f->conf);
    cjx_arena_fini(&f->arena);
    free(f);
    return 0;
}

static void
as(struct fixture *f, const char *ori)
{
    free(f->conf->agency);
    f->conf->agency = strdup(ori);
}

/* Packs a San Francisco case in state with DOJ's relief. */
static void
make_case(struct fixture *f, Cjx__V1__CaseState state, Cjx__V1__Relief relief,
          const char *flag)
{
    Cjx__V1__Case c = CJX__V1__CASE__INIT;
    Cjx__V1__RecordKey k = CJX__V1__RECORD_KEY__INIT;
    Cjx__V1__Determination d = CJX__V1__DETERMINATION__INIT;
    char *flags[] = {(char *)flag};
    char *reasons[] = {"NOW_MISDEMEANOR"};
    k.cii = "A1";
    k.court_case_number = "CASE-1";
    k.count_number = 1;
    c.key = &k;
    c.county = "San Francisco";
    c.prosecutor_ori = "CA038013A";
    c.state = state;
    c.relief = relief;
    c.floor = c.ceiling = relief;
    c.procedure = CJX__V1__PROCEDURE__PROCEDURE_APPLICATION_REDESIGNATION;
    d.relief = relief;
    d.reason_codes = reasons;
    d.n_reason_codes = 1;
    if (flag != NULL) {
        d.flags = flags;
        d.n_flags = 1;
    }
    c.determination = &d;
    f->len = cjx__v1__case__pack(&c, f->buf);
}

static ProtobufCMessage *
step(struct fixture *f, int event)
{
    return cjx_standin_step(f->conf, event, f->buf, f->len, 1000000, &f->arena);
}

static void
test_standin__prosecutor__no_challenge_with_dojs_relief(void **state)
{
    struct fixture *f = *state;
    as(f, "CA038013A");
    make_case(f, CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED,
              CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR, NULL);
    ProtobufCMessage *m = step(f, CJX_CASE_EV_CANDIDATE_NOTICE);
    assert_non_null(m);
    assert_ptr_equal(m->descriptor, &cjx__v1__prosecutor_decision__descriptor);
    Cjx__V1__ProsecutorDecision *d = (Cjx__V1__ProsecutorDecision *)m;
    assert_int_equal(d->decision_case,
                     CJX__V1__PROSECUTOR_DECISION__DECISION_NO_CHALLENGE);
    assert_int_equal(d->no_challenge->relief,
                     CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_string_equal(d->no_challenge->statutory_reason, "NOW_MISDEMEANOR");
    /* The same case and step always give the same id. */
    char id[64];
    snprintf(id, sizeof(id), "%s", d->meta->request_id);
    assert_non_null(strstr(id, "standin.no-challenge."));
    m = step(f, CJX_CASE_EV_CANDIDATE_NOTICE);
    assert_string_equal(((Cjx__V1__ProsecutorDecision *)m)->meta->request_id,
                        id);
}

static void
test_standin__prosecutor__challenges_a_flagged_determination(void **state)
{
    struct fixture *f = *state;
    as(f, "CA038013A");
    make_case(f, CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED,
              CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL,
              "aggravator_facts_unchecked");
    Cjx__V1__ProsecutorDecision *d =
        (Cjx__V1__ProsecutorDecision *)step(f, CJX_CASE_EV_CANDIDATE_NOTICE);
    assert_non_null(d);
    assert_int_equal(d->decision_case,
                     CJX__V1__PROSECUTOR_DECISION__DECISION_CHALLENGE);
    assert_int_equal(
        d->challenge->ground,
        CJX__V1__CHALLENGE_GROUND__CHALLENGE_GROUND_CRITERIA_NOT_MET);
    assert_string_equal(d->challenge->reason_code,
                        "AGGRAVATOR_FACTS_UNCHECKED");
}

static void
test_standin__prosecutor__leaves_human_review_pending_unless_floor(void **state)
{
    struct fixture *f = *state;
    as(f, "CA038013A");
    make_case(f, CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED,
              CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW, NULL);
    assert_null(step(f, CJX_CASE_EV_CANDIDATE_NOTICE));
    f->conf->exchange.standin_human_review = CJX_STANDIN_NO_CHALLENGE;
    /* Its floor is HUMAN_REVIEW here, not a grant: still nothing. */
    assert_null(step(f, CJX_CASE_EV_CANDIDATE_NOTICE));
}

static void
test_standin__prosecutor__acts_only_on_notices_addressed_to_it(void **state)
{
    struct fixture *f = *state;
    as(f, "CA001013A"); /* Alameda's DA: not the addressee */
    make_case(f, CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED,
              CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR, NULL);
    assert_null(step(f, CJX_CASE_EV_CANDIDATE_NOTICE));
    as(f, "CA038013A");
    assert_null(step(f, CJX_CASE_EV_RELIEF_ORDER)); /* not its step */
}

static void
test_standin__court__orders_accepted_relief_and_denies_challenges(void **state)
{
    struct fixture *f = *state;
    as(f, "CA038033J");
    make_case(f, CJX__V1__CASE_STATE__CASE_STATE_CHALLENGED,
              CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR, NULL);
    Cjx__V1__ReliefOrder *o =
        (Cjx__V1__ReliefOrder *)step(f, CJX_CASE_EV_CHALLENGE);
    assert_non_null(o);
    assert_int_equal(o->relief, CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DENIED);
    assert_false(o->sealed);
    f->conf->exchange.standin_challenged = CJX_STANDIN_ORDER_NONE;
    assert_null(step(f, CJX_CASE_EV_CHALLENGE));
    f->conf->exchange.standin_challenged = CJX_STANDIN_ORDER_FLOOR;
    o = (Cjx__V1__ReliefOrder *)step(f, CJX_CASE_EV_CHALLENGE);
    assert_int_equal(o->relief,
                     CJX__V1__ORDER_RELIEF__ORDER_RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_int_equal(o->new_level,
                     CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR);
}

static void
test_standin__doj__acknowledges_the_order_it_applied(void **state)
{
    struct fixture *f = *state;
    as(f, "CA0000001");
    Cjx__V1__Case c = CJX__V1__CASE__INIT;
    Cjx__V1__RecordKey k = CJX__V1__RECORD_KEY__INIT;
    k.cii = "A1";
    k.court_case_number = "CASE-1";
    k.count_number = 2;
    c.key = &k;
    c.county = "San Francisco";
    c.state = CJX__V1__CASE_STATE__CASE_STATE_ORDERED;
    c.order = CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL;
    f->len = cjx__v1__case__pack(&c, f->buf);
    Cjx__V1__HistoryUpdated *h =
        (Cjx__V1__HistoryUpdated *)step(f, CJX_CASE_EV_RELIEF_ORDER);
    assert_non_null(h);
    assert_int_equal(h->applied,
                     CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(h->key->count_number, 2);
    f->conf->exchange.standin_doj_acknowledge = 0;
    assert_null(step(f, CJX_CASE_EV_RELIEF_ORDER));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_standin__prosecutor__no_challenge_with_dojs_relief),
        T(test_standin__prosecutor__challenges_a_flagged_determination),
        T(test_standin__prosecutor__leaves_human_review_pending_unless_floor),
        T(test_standin__prosecutor__acts_only_on_notices_addressed_to_it),
        T(test_standin__court__orders_accepted_relief_and_denies_challenges),
        T(test_standin__doj__acknowledges_the_order_it_applied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
