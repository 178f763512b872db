/* The relief exchange on real daemons for integration tests
 * (exchange_net.h). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cjx/v1/exchange.methods.h"
#include "cjx/v1/record_service.methods.h"
#include "cjx/v1/record_service.pb-c.h"
#include "exchange_net.h"

const struct net_agency agencies[N_NET] = {
    [DOJ] = {"doj", "CA0000001"},        [DA] = {"sf-da", "CA038013A"},
    [COURT] = {"sf-court", "CA038033J"}, [PD] = {"sf-pd", "CA038023P"},
    [DOJ_B] = {"doj", "CA0000001"},
};

#define DOJ_EXCHANGE                \
    EXCHANGE_COMMON "  stand_in:\n" \
                    "    doj: {history_update: acknowledge}\n"

const char *const exchange_yaml[N_NET] = {
    [DOJ] = DOJ_EXCHANGE,
    [DA] = EXCHANGE_COMMON "  stand_in:\n"
                           "    prosecutor:\n"
                           "      eligible: no_challenge\n"
                           "      challenge_flags: [challenge_me]\n"
                           "      human_review: pending\n",
    [COURT] = EXCHANGE_COMMON "  stand_in:\n"
                              "    court: {unchallenged: accepted, "
                              "challenged: deny}\n",
    [PD] = EXCHANGE_COMMON,
    [DOJ_B] = DOJ_EXCHANGE,
};

int
net_has(const struct net *n, int i)
{
    return n->d[i].dir[0] != '\0';
}

void
start(struct net *n, int i)
{
    if (harness_daemon_start(&n->d[i]) != 0)
        fail_msg("%s did not start", agencies[i].slug);
}

void
start_all(struct net *n)
{
    for (int i = 0; i < N_DAEMONS; i++)
        start(n, i);
}

const struct cjx_method *
method(int i)
{
    return &cjx__v1__case_service__methods[i];
}

void
nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- notices ---- */

void
make_notice(struct test_notice *t, int i, const char *id_prefix)
{
    static const Cjx__V1__Relief reliefs[] = {
        CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL,
        CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR,
        CJX__V1__RELIEF__RELIEF_REDUCE_TO_INFRACTION};
    memset(t, 0, sizeof(*t));
    cjx__v1__candidate_notice__init(&t->n);
    cjx__v1__request_meta__init(&t->meta);
    cjx__v1__conviction_record__init(&t->rec);
    cjx__v1__person__init(&t->person);
    cjx__v1__statute__init(&t->charge);
    cjx__v1__determination__init(&t->det);
    snprintf(t->id, sizeof(t->id), "%s-%d", id_prefix, i);
    snprintf(t->cii, sizeof(t->cii), "T%08d", i);
    snprintf(t->ccn, sizeof(t->ccn), "SF-%d", i);
    t->meta.request_id = t->id;
    t->person.cii = t->cii;
    t->charge.code = "HS";
    t->charge.section = "11357";
    t->rec.subject = &t->person;
    t->rec.county = "San Francisco";
    t->rec.court_case_number = t->ccn;
    t->rec.count_number = 1;
    t->rec.charge = &t->charge;
    t->rec.level = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY;
    t->rec.disposition = CJX__V1__DISPOSITION__DISPOSITION_CONVICTED;
    t->det.relief = reliefs[i % 3];
    t->det.procedure = CJX__V1__PROCEDURE__PROCEDURE_APPLICATION_REDESIGNATION;
    if (i % 11 == 10) {
        t->det.relief = CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW;
        t->det.floor = CJX__V1__RELIEF__RELIEF_NOT_ELIGIBLE;
        t->det.ceiling = CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL;
    } else if (i % 7 == 6) {
        t->flags[0] = "challenge_me";
        t->det.flags = t->flags;
        t->det.n_flags = 1;
    }
    t->n.meta = &t->meta;
    t->n.record = &t->rec;
    t->n.determination = &t->det;
}

/* Sends notices [from, to) to DOJ's local API in one stream. Returns how
 * many DOJ accepted, or -1 when the stream failed (DOJ died). */
int
notify(struct net *n, int from, int to)
{
    struct cjx_client *cl = harness_client_local(&n->d[DOJ]);
    struct cjx_client_stream *s;
    int accepted = -1;
    if (cjx_client_stream_open(cl, method(CASE_SERVICE_NOTIFY_CANDIDATES), NULL,
                               30000, &s) == 0) {
        int err = 0;
        for (int i = from; i < to && err == 0; i++) {
            struct test_notice t;
            make_notice(&t, i, "t-notice");
            err = cjx_client_stream_write(s, &t.n.base);
        }
        ProtobufCMessage *resp = NULL;
        struct cjx_client_status st;
        cjx_client_stream_finish(s, &resp, &st);
        if (st.code == 0 && resp != NULL)
            accepted = ((Cjx__V1__CaseResults *)resp)->accepted;
        if (resp != NULL)
            protobuf_c_message_free_unpacked(resp, NULL);
        cjx_client_stream_free(s);
    }
    cjx_client_free(cl);
    return accepted;
}

/* ---- what each daemon holds ---- */

static int
row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct case_row *)a)->cii,
                  ((const struct case_row *)b)->cii);
}

static void
add_cases(void *arg, const ProtobufCMessage *page)
{
    struct table *t = arg;
    const Cjx__V1__ListCasesResponse *r =
        (const Cjx__V1__ListCasesResponse *)page;
    t->rows = realloc(t->rows, (t->n + r->n_cases + 1) * sizeof(*t->rows));
    for (size_t k = 0; k < r->n_cases; k++) {
        const Cjx__V1__Case *c = r->cases[k];
        struct case_row *row = &t->rows[t->n++];
        snprintf(row->cii, sizeof(row->cii), "%s", c->key->cii);
        row->state = c->state;
        row->decision = c->decision;
        row->order = c->order;
        row->version = c->version;
        row->notified = c->times->notified_at_unix_us;
        row->decided = c->times->decided_at_unix_us;
        row->ordered = c->times->ordered_at_unix_us;
        row->updated = c->times->history_updated_at_unix_us;
    }
}

/* Every case of daemon i, sorted by CII; 0, or -1 if it cannot be read. */
int
read_cases(struct net *n, int i, struct table *t)
{
    memset(t, 0, sizeof(*t));
    struct cjx_client *cl = harness_client_local(&n->d[i]);
    Cjx__V1__ListCasesRequest req = CJX__V1__LIST_CASES_REQUEST__INIT;
    req.page_size = 1000;
    int rc = harness_each_page(cl, method(CASE_SERVICE_LIST_CASES), &req.base,
                               &req.page_token, add_cases, t);
    cjx_client_free(cl);
    if (rc == 0 && t->n > 0)
        qsort(t->rows, t->n, sizeof(*t->rows), row_cmp);
    return rc;
}

/* Outbox rows of daemon i: pending, parked and delivered. */
void
outbox_counts(struct net *n, int i, int64_t *pending, int64_t *parked,
              int64_t *delivered)
{
    *pending = *parked = *delivered = -1;
    struct cjx_client *cl = harness_client_local(&n->d[i]);
    Cjx__V1__ListOutboxRequest req = CJX__V1__LIST_OUTBOX_REQUEST__INIT;
    req.which = CJX__V1__LIST_OUTBOX_REQUEST__WHICH__WHICH_ALL;
    req.page_size = 1;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    if (cjx_client_unary(cl, method(CASE_SERVICE_LIST_OUTBOX), &req.base, 10000,
                         &resp, &st) == 0 &&
        st.code == 0) {
        Cjx__V1__ListOutboxResponse *r = (Cjx__V1__ListOutboxResponse *)resp;
        *pending = *parked = *delivered = 0;
        for (size_t k = 0; k < r->n_counts; k++) {
            *pending += r->counts[k]->pending;
            *parked += r->counts[k]->parked;
            *delivered += r->counts[k]->delivered;
        }
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    cjx_client_free(cl);
}

struct progress
progress(struct net *n)
{
    struct progress p = {0};
    struct table t;
    if (read_cases(n, DOJ, &t) == 0) {
        p.cases = (int64_t)t.n;
        for (size_t k = 0; k < t.n; k++) {
            p.decided += t.rows[k].decision != 0;
            p.updated += t.rows[k].state ==
                         CJX__V1__CASE_STATE__CASE_STATE_HISTORY_UPDATED;
        }
    }
    free(t.rows);
    p.quiet = 1;
    for (int i = 0; i < N_NET; i++) {
        if (n->d[i].pid <= 0)
            continue;
        int64_t pending, parked, delivered;
        outbox_counts(n, i, &pending, &parked, &delivered);
        p.quiet &= pending == 0;
    }
    return p;
}

int64_t
monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the n_cases cases are at DOJ, every decided one is
 * history-updated, and no outbox holds anything: for at most 1200 looks
 * (about two minutes), and no later than deadline_ms (monotonic, 0: no
 * deadline). */
void
wait_until_settled_by(struct net *n, int64_t n_cases, int64_t want_decided,
                      int64_t deadline_ms)
{
    struct progress p = {0};
    for (int tries = 0; tries < 1200; tries++) {
        if (deadline_ms > 0 && monotonic_ms() > deadline_ms)
            break;
        p = progress(n);
        if (p.cases == n_cases && p.decided == want_decided &&
            p.updated == p.decided && p.quiet)
            return;
        nap_ms(100);
    }
    fail_msg("the exchange did not settle: %lld case(s) at DOJ, %lld decided, "
             "%lld history-updated, outboxes %s",
             (long long)p.cases, (long long)p.decided, (long long)p.updated,
             p.quiet ? "empty" : "not empty");
}

void
wait_until_settled(struct net *n, int64_t n_cases, int64_t want_decided)
{
    wait_until_settled_by(n, n_cases, want_decided, 0);
}

/* How many of notices [0, n) the prosecutor's policy decides. */
int64_t
decided_among(int n)
{
    int64_t d = 0;
    for (int i = 0; i < n; i++)
        d += i % 11 != 10;
    return d;
}

/* A conviction record as daemon i's own operator reads it. */
struct record_row {
    char cii[16];
    int64_t version;
    int sealed;
    size_t n_history;
};

static int
record_row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct record_row *)a)->cii,
                  ((const struct record_row *)b)->cii);
}

struct record_rows {
    struct record_row *rows;
    long count;
};

static void
add_records(void *arg, const ProtobufCMessage *page)
{
    struct record_rows *rr = arg;
    const Cjx__V1__ListRecordsResponse *r =
        (const Cjx__V1__ListRecordsResponse *)page;
    rr->rows = realloc(rr->rows, ((size_t)rr->count + r->n_records + 1) *
                                     sizeof(*rr->rows));
    for (size_t k = 0; k < r->n_records; k++) {
        const Cjx__V1__StoredRecord *sr = r->records[k];
        struct record_row *row = &rr->rows[rr->count++];
        snprintf(row->cii, sizeof(row->cii), "%s", sr->record->subject->cii);
        row->version = sr->version;
        row->sealed = sr->record->sealed;
        row->n_history = sr->record->n_relief_history;
    }
}

/* The records of San Francisco that daemon i's operator may read, sorted by
 * CII, in *rows (free it); their number, or -1 if they cannot be read. */
static long
read_records(struct net *n, int i, struct record_row **rows)
{
    struct cjx_client *cl = harness_client_local(&n->d[i]);
    Cjx__V1__ListRecordsRequest req = CJX__V1__LIST_RECORDS_REQUEST__INIT;
    req.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY;
    req.county = "San Francisco";
    req.page_size = 1000;
    struct record_rows rr = {0};
    int rc = harness_each_page(
        cl, &cjx__v1__record_service__methods[RECORD_SERVICE_LIST_RECORDS],
        &req.base, &req.page_token, add_records, &rr);
    cjx_client_free(cl);
    *rows = rr.rows;
    if (rc != 0)
        return -1;
    if (rr.count > 0)
        qsort(*rows, (size_t)rr.count, sizeof(**rows), record_row_cmp);
    return rr.count;
}

/* Relief landed on every record once, with the step that made it true
 * there (DESIGN.md invariant 6): an ordered case's record is at version 2
 * (the notice's, then the order's) with one relief entry, sealed exactly
 * when the court dismissed and sealed; a pending case's is at version 1.
 * The public defender's operator is not a reader of sealed records. */
static void
compare_records(struct net *n, const struct table *cases)
{
    for (int i = 0; i < N_NET; i++) {
        if (!net_has(n, i))
            continue;
        struct record_row *rows;
        long got = read_records(n, i, &rows);
        const struct table *t = &cases[i];
        size_t sealed = 0;
        for (size_t k = 0; k < t->n; k++)
            sealed += t->rows[k].order ==
                      CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL;
        long want = (long)(i == PD ? t->n - sealed : t->n);
        if (got != want)
            fail_msg("%s shows %ld record(s), want %ld", agencies[i].slug, got,
                     want);
        for (size_t k = 0; k < t->n; k++) {
            const struct case_row *c = &t->rows[k];
            struct record_row key = {0};
            snprintf(key.cii, sizeof(key.cii), "%s", c->cii);
            const struct record_row *r =
                bsearch(&key, rows, (size_t)got, sizeof(*rows), record_row_cmp);
            int is_sealed =
                c->order ==
                CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL;
            if (r == NULL) {
                if (i == PD && is_sealed)
                    continue;
                fail_msg("%s has no record for case %s", agencies[i].slug,
                         c->cii);
            }
            int64_t want_version = c->order != 0 ? 2 : 1;
            if (r->version != want_version ||
                r->n_history != (size_t)(c->order != 0) ||
                r->sealed != is_sealed)
                fail_msg("%s: record %s is at version %lld with %zu relief "
                         "entr(ies), sealed %d; its case has order %d",
                         agencies[i].slug, c->cii, (long long)r->version,
                         r->n_history, r->sealed, c->order);
        }
        free(rows);
    }
}

/* Every daemon holds every case with the same content, each step applied
 * once: a decided case is at version 4 everywhere (notice, decision,
 * order, acknowledgement), a pending one at 1. And nothing was parked. */
void
compare_all(struct net *n, int64_t n_cases)
{
    struct table t[N_NET] = {{0}};
    for (int i = 0; i < N_NET; i++)
        if (net_has(n, i))
            assert_int_equal(read_cases(n, i, &t[i]), 0);
    for (int i = 0; i < N_NET; i++) {
        if (!net_has(n, i))
            continue;
        if ((int64_t)t[i].n != n_cases)
            fail_msg("%s holds %zu case(s), DOJ sent %lld", agencies[i].slug,
                     t[i].n, (long long)n_cases);
        for (size_t k = 0; k < t[i].n; k++) {
            const struct case_row *a = &t[DOJ].rows[k], *b = &t[i].rows[k];
            assert_string_equal(a->cii, b->cii);
            if (a->state != b->state || a->decision != b->decision ||
                a->order != b->order || a->notified != b->notified ||
                a->decided != b->decided || a->ordered != b->ordered ||
                a->updated != b->updated)
                fail_msg("case %s differs between doj and %s", a->cii,
                         agencies[i].slug);
            int64_t want = b->decision != 0 ? 4 : 1;
            if (b->version != want)
                fail_msg("case %s at %s is at version %lld, not %lld: a step "
                         "was lost or applied twice",
                         b->cii, agencies[i].slug, (long long)b->version,
                         (long long)want);
        }
    }
    compare_records(n, t);
    for (int i = 0; i < N_NET; i++) {
        if (!net_has(n, i))
            continue;
        int64_t pending, parked, delivered;
        outbox_counts(n, i, &pending, &parked, &delivered);
        assert_int_equal(pending, 0);
        assert_int_equal(parked, 0);
        free(t[i].rows);
    }
}

void *
notify_thread(void *arg)
{
    struct notifier *t = arg;
    t->result = notify(t->net, t->from, t->to);
    return NULL;
}

int64_t
cases_at(struct net *n, int i)
{
    struct table t;
    int64_t count = read_cases(n, i, &t) == 0 ? (int64_t)t.n : -1;
    free(t.rows);
    return count;
}

int64_t
decided_at(struct net *n, int i)
{
    struct table t;
    int64_t d = 0;
    if (read_cases(n, i, &t) == 0)
        for (size_t k = 0; k < t.n; k++)
            d += t.rows[k].decision != 0;
    free(t.rows);
    return d;
}

/* Waits until f(n, i) reaches at least want, or gives up quietly. */
void
wait_for(struct net *n, int i, int64_t (*f)(struct net *, int), int64_t want)
{
    for (int tries = 0; tries < 1200 && f(n, i) < want; tries++)
        nap_ms(50);
}

/* Kills daemon i, saying how far it had come (for the test's log). */
void
crash(struct net *n, int i)
{
    fprintf(stderr, "kill -9 %s holding %lld case(s), %lld decided\n",
            agencies[i].slug, (long long)cases_at(n, i),
            (long long)decided_at(n, i));
    harness_daemon_kill9(&n->d[i]);
}
