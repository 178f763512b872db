/* A case-service fixture for unit tests: one daemon's service over a real
 * SQLite store in a temporary directory, the test registry
 * (tests/data/cases/agencies.yaml), a clock the tests move, builders of
 * each case message and calls run in memory (mem_call.h) as any agency. */
#include "case_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/clock.h"
#include "cjx/service.h"
#include "cjx/store.h"
#include "mem_call.h"

/* The tests' clock: 1 March 2026, moved by the tests that need it. */
int64_t test_now = INT64_C(1772323200) * 1000000;

static int64_t
fixed_now(void)
{
    return test_now;
}

const struct cjx_agency *
agency(struct fixture *f, const char *ori)
{
    const struct cjx_agency *a = cjx_registry_find(&f->conf->registry, ori);
    assert_non_null(a);
    return a;
}

/* Makes the fixture's daemon the one of agency ori. */
void
become(struct fixture *f, const char *ori)
{
    free(f->conf->agency);
    f->conf->agency = strdup(ori);
}

int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/cjx-cases-svc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/s.db", f->dir);
    struct cjx_errbuf eb;
    test_now = INT64_C(1772323200) * 1000000;
    cjx_clock_set_source(fixed_now);
    assert_int_equal(cjx_store_sqlite_open(path, NULL, &f->store, &eb), 0);
    assert_int_equal(cjx_service_new(f->store, &f->svc), 0);
    f->conf = cjx_conf_new();
    f->conf->agency = strdup(DOJ);
    char reg[512];
    snprintf(reg, sizeof(reg), "%s/cases/agencies.yaml",
             getenv("CJX_TEST_DATA"));
    if (cjx_registry_load(reg, &f->conf->registry, &eb) != 0)
        fail_msg("%s", eb.msg);
    /* Windows from each step, as the development configurations have. */
    struct cjx_exchange_conf *x = &f->conf->exchange;
    x->review.window_us = 90 * DAY;
    x->order_unchallenged.window_us = 90 * DAY;
    x->history_update.window_us = 30 * DAY;
    x->decision_grace_us = 7 * DAY;
    x->max_clock_skew_us = 300 * INT64_C(1000000);
    f->conf->sealed_readers = CJX_SEALED_DEFAULT;
    f->conf->limits.bulk_max_messages = 10000; /* the default */
    *state = f;
    return 0;
}

int
teardown(void **state)
{
    struct fixture *f = *state;
    cjx_service_shutdown(f->svc);
    cjx_service_free(f->svc);
    cjx_store_close(f->store);
    cjx_conf_unref(f->conf);
    cjx_clock_set_source(NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- messages ---- */

Cjx__V1__CandidateNotice *
notice(struct notice_buf *b, const char *id, const char *cii,
       const char *county, Cjx__V1__Relief relief)
{
    memset(b, 0, sizeof(*b));
    cjx__v1__candidate_notice__init(&b->n);
    cjx__v1__request_meta__init(&b->meta);
    cjx__v1__conviction_record__init(&b->rec);
    cjx__v1__person__init(&b->person);
    cjx__v1__statute__init(&b->charge);
    cjx__v1__determination__init(&b->det);
    snprintf(b->id, sizeof(b->id), "%s", id);
    snprintf(b->cii, sizeof(b->cii), "%s", cii);
    snprintf(b->ccn, sizeof(b->ccn), "CASE-%s", cii);
    snprintf(b->county, sizeof(b->county), "%s", county);
    b->meta.request_id = b->id;
    b->person.cii = b->cii;
    b->charge.section = "11357";
    b->rec.subject = &b->person;
    b->rec.county = b->county;
    b->rec.court_case_number = b->ccn;
    b->rec.count_number = 1;
    b->rec.charge = &b->charge;
    b->rec.level = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY;
    b->det.relief = relief;
    b->det.procedure = CJX__V1__PROCEDURE__PROCEDURE_APPLICATION_REDESIGNATION;
    b->det.rule_set = "prop64";
    b->n.meta = &b->meta;
    b->n.record = &b->rec;
    b->n.determination = &b->det;
    return &b->n;
}

static void
step_common(struct step_buf *b, const char *id, const char *cii)
{
    cjx__v1__request_meta__init(&b->meta);
    cjx__v1__record_key__init(&b->key);
    snprintf(b->id, sizeof(b->id), "%s", id);
    snprintf(b->cii, sizeof(b->cii), "%s", cii);
    snprintf(b->ccn, sizeof(b->ccn), "CASE-%s", cii);
    b->meta.request_id = b->id;
    b->key.cii = b->cii;
    b->key.court_case_number = b->ccn;
    b->key.count_number = 1;
}

Cjx__V1__ProsecutorDecision *
no_challenge(struct step_buf *b, const char *id, const char *cii,
             Cjx__V1__Relief relief)
{
    memset(b, 0, sizeof(*b));
    step_common(b, id, cii);
    cjx__v1__prosecutor_decision__init(&b->m.d);
    cjx__v1__no_challenge__init(&b->nc);
    b->nc.relief = relief;
    b->m.d.meta = &b->meta;
    b->m.d.key = &b->key;
    b->m.d.decision_case = CJX__V1__PROSECUTOR_DECISION__DECISION_NO_CHALLENGE;
    b->m.d.no_challenge = &b->nc;
    return &b->m.d;
}

Cjx__V1__ProsecutorDecision *
challenge(struct step_buf *b, const char *id, const char *cii,
          const char *reason)
{
    memset(b, 0, sizeof(*b));
    step_common(b, id, cii);
    cjx__v1__prosecutor_decision__init(&b->m.d);
    cjx__v1__challenge__init(&b->ch);
    b->ch.ground = CJX__V1__CHALLENGE_GROUND__CHALLENGE_GROUND_CRITERIA_NOT_MET;
    b->ch.reason_code = (char *)reason;
    b->ch.supporting_facts_ref = "file 7";
    b->m.d.meta = &b->meta;
    b->m.d.key = &b->key;
    b->m.d.decision_case = CJX__V1__PROSECUTOR_DECISION__DECISION_CHALLENGE;
    b->m.d.challenge = &b->ch;
    return &b->m.d;
}

Cjx__V1__ReliefOrder *
order(struct step_buf *b, const char *id, const char *cii,
      Cjx__V1__OrderRelief relief)
{
    memset(b, 0, sizeof(*b));
    step_common(b, id, cii);
    cjx__v1__relief_order__init(&b->m.o);
    b->m.o.meta = &b->meta;
    b->m.o.key = &b->key;
    b->m.o.relief = relief;
    return &b->m.o;
}

Cjx__V1__HistoryUpdated *
acknowledge(struct step_buf *b, const char *id, const char *cii,
            Cjx__V1__OrderRelief applied)
{
    memset(b, 0, sizeof(*b));
    step_common(b, id, cii);
    cjx__v1__history_updated__init(&b->m.h);
    b->m.h.meta = &b->meta;
    b->m.h.key = &b->key;
    b->m.h.applied = applied;
    return &b->m.h;
}

/* ---- calls ---- */

void
answer_free(struct answer *a)
{
    if (a->reply != NULL)
        cjx__v1__case_reply__free_unpacked(a->reply, NULL);
    if (a->results != NULL)
        cjx__v1__case_results__free_unpacked(a->results, NULL);
    memset(a, 0, sizeof(*a));
}

/* Runs method i with req as caller ori (NULL: the local operator). */
struct answer
run(struct fixture *f, int i, const char *caller, const ProtobufCMessage *req)
{
    const struct cjx_method *m = &cjx__v1__case_service__methods[i];
    const struct cjx_handler *h = cjx_service_find(m->path);
    assert_non_null(h);
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, h,
                  caller != NULL ? agency(f, caller) : NULL);
    struct answer a = {0};
    a.code = mem_call_run(&mc, req);
    snprintf(a.message, sizeof(a.message), "%s", mc.message);
    if (a.code == OK && m->output == &cjx__v1__case_reply__descriptor)
        a.reply = cjx__v1__case_reply__unpack(NULL, mc.reply_len, mc.reply);
    if (a.code == OK && m->output == &cjx__v1__case_results__descriptor)
        a.results = cjx__v1__case_results__unpack(NULL, mc.reply_len, mc.reply);
    mem_call_fini(&mc);
    return a;
}

int
run_method(struct fixture *f, const struct cjx_method *m, const char *caller,
           const ProtobufCMessage *req, ProtobufCMessage **out)
{
    struct mem_call mc;
    mem_call_init(&mc, f->svc, f->conf, cjx_service_find(m->path),
                  caller != NULL ? agency(f, caller) : NULL);
    int code = mem_call_run(&mc, req);
    *out = NULL;
    if (code == OK && mc.reply != NULL)
        *out =
            protobuf_c_message_unpack(m->output, NULL, mc.reply_len, mc.reply);
    mem_call_fini(&mc);
    return code;
}

int
run_read(struct fixture *f, int i, const char *caller,
         const ProtobufCMessage *req, ProtobufCMessage **out)
{
    return run_method(f, &cjx__v1__case_service__methods[i], caller, req, out);
}

int64_t
pending_for(struct fixture *f, const char *destination)
{
    Cjx__V1__ListOutboxRequest req = CJX__V1__LIST_OUTBOX_REQUEST__INIT;
    ProtobufCMessage *out;
    assert_int_equal(
        run_read(f, CASE_SERVICE_LIST_OUTBOX, NULL, &req.base, &out), OK);
    Cjx__V1__ListOutboxResponse *r = (Cjx__V1__ListOutboxResponse *)out;
    int64_t n = 0;
    for (size_t i = 0; i < r->n_counts; i++)
        if (destination == NULL ||
            strcmp(r->counts[i]->destination_ori, destination) == 0)
            n += r->counts[i]->pending;
    protobuf_c_message_free_unpacked(out, NULL);
    return n;
}

struct answer
local_notice(struct fixture *f, const char *id, const char *cii,
             const char *county, Cjx__V1__Relief relief)
{
    struct notice_buf b;
    return run(f, CASE_SERVICE_NOTIFY_CANDIDATE, NULL,
               &notice(&b, id, cii, county, relief)->base);
}

Cjx__V1__CandidateNotice *
delivered_notice(struct notice_buf *b, const char *cii, Cjx__V1__Relief relief)
{
    notice(b, cii, cii, "San Francisco", relief);
    b->n.notified_at_unix_us = test_now;
    b->n.prosecutor_ori = SF_DA;
    return &b->n;
}

void
court_has_notice(struct fixture *f, const char *cii, Cjx__V1__Relief relief)
{
    become(f, SF_COURT);
    struct notice_buf b;
    struct answer a = run(f, CASE_SERVICE_NOTIFY_CANDIDATE, DOJ,
                          &delivered_notice(&b, cii, relief)->base);
    assert_int_equal(a.code, OK);
    answer_free(&a);
}
