/* Integration tests of the relief exchange with real daemons: DOJ, a
 * District Attorney, a court and a public defender on loopback, talking
 * mTLS, with their stand-in policies on. A case goes through every hop;
 * then peers are down, daemons are killed (SIGKILL) at several points and
 * restarted, messages are replayed and arrive out of order, and afterwards
 * every case on every daemon is compared: no hand-off lost, none applied
 * twice. Waits poll for a condition with a bound; nothing asserts on time. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cjx/client.h"
#include "cjx/v1/exchange.methods.h"
#include "cjx/v1/exchange.pb-c.h"
#include "cjx/v1/record_service.methods.h"
#include "cjx/v1/record_service.pb-c.h"
#include "harness.h"

enum { DOJ, DA, COURT, PD, N_DAEMONS };

static const struct {
    const char *slug, *ori;
} agencies[N_DAEMONS] = {
    [DOJ] = {"doj", "CA0000001"},
    [DA] = {"sf-da", "CA038013A"},
    [COURT] = {"sf-court", "CA038033J"},
    [PD] = {"sf-pd", "CA038023P"},
};

#define EXCHANGE_HEAD                       \
    "exchange:\n"                           \
    "  deadlines:\n"                        \
    "    review: {days: 365}\n"             \
    "    order_unchallenged: {days: 365}\n" \
    "    history_update: {days: 90}\n"      \
    "  delivery:\n"                         \
    "    batch: 40\n"                       \
    "    streams_per_peer: 2\n"             \
    "    timeout_ms: 5000\n"

/* Short retries, so that a peer back from a crash is reached soon. */
#define EXCHANGE_COMMON                        \
    EXCHANGE_HEAD "    retry_initial_ms: 50\n" \
                  "    retry_max_ms: 400\n"

/* A hand-off that failed is tried again after ten minutes, or five at the
 * least with jitter: longer than any test waits, so what arrives sooner
 * was brought forward when its peer came back. */
#define EXCHANGE_SLOW_RETRY                        \
    EXCHANGE_HEAD "    retry_initial_ms: 600000\n" \
                  "    retry_max_ms: 600000\n"

static const char *const exchange_yaml[N_DAEMONS] = {
    [DOJ] = EXCHANGE_COMMON "  stand_in:\n"
                            "    doj: {history_update: acknowledge}\n",
    [DA] = EXCHANGE_COMMON "  stand_in:\n"
                           "    prosecutor:\n"
                           "      eligible: no_challenge\n"
                           "      challenge_flags: [challenge_me]\n"
                           "      human_review: pending\n",
    [COURT] = EXCHANGE_COMMON "  stand_in:\n"
                              "    court: {unchallenged: accepted, "
                              "challenged: deny}\n",
    [PD] = EXCHANGE_COMMON,
};

struct net {
    struct test_daemon d[N_DAEMONS];
    char registry[300];
};

/* Writes the registry, agency i reachable at endpoint[i] (the YAML value
 * of its endpoint key; NULL: at its daemon's port, "": unreachable) and
 * its certificates checked for tls_name[i] (NULL: no key). */
static void
write_registry_with(struct net *n, const char *const endpoint[N_DAEMONS],
                    const char *const tls_name[N_DAEMONS])
{
    snprintf(n->registry, sizeof(n->registry), "%s/agencies.yaml",
             n->d[DOJ].dir);
    FILE *f = fopen(n->registry, "w");
    assert_non_null(f);
    static const char *const roles[] = {"DOJ", "PROSECUTOR", "COURT",
                                        "DEFENDER"};
    fprintf(f, "agencies:\n");
    for (int i = 0; i < N_DAEMONS; i++) {
        fprintf(f, "  - ori: %s\n    role: %s\n%s    name: test %s\n",
                agencies[i].ori, roles[i],
                i == DOJ ? "" : "    county: San Francisco\n",
                agencies[i].slug);
        if (endpoint[i] == NULL)
            fprintf(f, "    endpoint: 127.0.0.1:%d\n", n->d[i].port);
        else if (endpoint[i][0] != '\0')
            fprintf(f, "    endpoint: %s\n", endpoint[i]);
        if (tls_name[i] != NULL)
            fprintf(f, "    tls_name: %s\n", tls_name[i]);
    }
    fclose(f);
}

static void
write_registry(struct net *n)
{
    const char *const every_port[N_DAEMONS] = {NULL};
    write_registry_with(n, every_port, every_port);
}

static int
setup(void **state)
{
    struct net *n = calloc(1, sizeof(*n));
    for (int i = 0; i < N_DAEMONS; i++) {
        n->d[i].extra_yaml = exchange_yaml[i];
        harness_daemon_init(&n->d[i], agencies[i].slug, agencies[i].ori);
    }
    write_registry(n);
    for (int i = 0; i < N_DAEMONS; i++) {
        snprintf(n->d[i].registry_file, sizeof(n->d[i].registry_file), "%s",
                 n->registry);
        harness_daemon_write_conf(&n->d[i]);
    }
    *state = n;
    return 0;
}

static int
teardown(void **state)
{
    struct net *n = *state;
    int failed = 0;
    for (int i = N_DAEMONS - 1; i >= 0; i--) {
        /* Every daemon still running stops cleanly (a sanitizer's finding
         * at exit would show here as a failed stop). */
        if (n->d[i].pid > 0 && harness_daemon_stop(&n->d[i]) != 0) {
            fprintf(stderr, "%s did not stop cleanly; its log:\n",
                    agencies[i].slug);
            char cmd[400];
            snprintf(cmd, sizeof(cmd), "tail -n 40 %s >&2", n->d[i].log);
            harness_run(cmd);
            failed = 1;
        }
        harness_daemon_cleanup(&n->d[i]);
    }
    free(n);
    return failed ? -1 : 0;
}

static void
start(struct net *n, int i)
{
    if (harness_daemon_start(&n->d[i]) != 0)
        fail_msg("%s did not start", agencies[i].slug);
}

static void
start_all(struct net *n)
{
    for (int i = 0; i < N_DAEMONS; i++)
        start(n, i);
}

static const struct cjx_method *
method(int i)
{
    return &cjx__v1__case_service__methods[i];
}

static void
nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- notices ---- */

/* Test notice i: relief by i, every seventh flagged for a challenge, every
 * eleventh for human review (left pending by the prosecutor). */
struct test_notice {
    Cjx__V1__CandidateNotice n;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__ConvictionRecord rec;
    Cjx__V1__Person person;
    Cjx__V1__Statute charge;
    Cjx__V1__Determination det;
    char id[32], cii[16], ccn[32];
    char *flags[1];
};

static void
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
static int
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

struct case_row {
    char cii[16];
    int state, decision, order;
    int64_t version;
    int64_t notified, decided, ordered, updated;
};

struct table {
    struct case_row *rows;
    size_t n;
};

static int
row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct case_row *)a)->cii,
                  ((const struct case_row *)b)->cii);
}

/* Every case of daemon i, sorted by CII; 0, or -1 if it cannot be read. */
static int
read_cases(struct net *n, int i, struct table *t)
{
    memset(t, 0, sizeof(*t));
    struct cjx_client *cl = harness_client_local(&n->d[i]);
    char token[32] = "";
    int rc = 0;
    do {
        Cjx__V1__ListCasesRequest req = CJX__V1__LIST_CASES_REQUEST__INIT;
        req.page_size = 1000;
        req.page_token = token;
        ProtobufCMessage *resp;
        struct cjx_client_status st;
        if (cjx_client_unary(cl, method(CASE_SERVICE_LIST_CASES), &req.base,
                             10000, &resp, &st) != 0 ||
            st.code != 0) {
            rc = -1;
            break;
        }
        Cjx__V1__ListCasesResponse *r = (Cjx__V1__ListCasesResponse *)resp;
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
        snprintf(token, sizeof(token), "%s", r->next_page_token);
        protobuf_c_message_free_unpacked(resp, NULL);
    } while (token[0] != '\0');
    cjx_client_free(cl);
    if (rc == 0 && t->n > 0)
        qsort(t->rows, t->n, sizeof(*t->rows), row_cmp);
    return rc;
}

/* Outbox rows of daemon i: pending, parked and delivered. */
static void
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

/* How far the exchange is: cases at DOJ, of them decided, of those
 * history-updated, and whether every running daemon's outbox is empty. */
struct progress {
    int64_t cases, decided, updated;
    int quiet;
};

static struct progress
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
    for (int i = 0; i < N_DAEMONS; i++) {
        if (n->d[i].pid <= 0)
            continue;
        int64_t pending, parked, delivered;
        outbox_counts(n, i, &pending, &parked, &delivered);
        p.quiet &= pending == 0;
    }
    return p;
}

static int64_t
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
static void
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

static void
wait_until_settled(struct net *n, int64_t n_cases, int64_t want_decided)
{
    wait_until_settled_by(n, n_cases, want_decided, 0);
}

/* How many of notices [0, n) the prosecutor's policy decides. */
static int64_t
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

/* The records of San Francisco that daemon i's operator may read, sorted by
 * CII, in *rows (free it); their number, or -1 if they cannot be read. */
static long
read_records(struct net *n, int i, struct record_row **rows)
{
    struct cjx_client *cl = harness_client_local(&n->d[i]);
    char token[32] = "";
    long count = 0;
    *rows = NULL;
    do {
        Cjx__V1__ListRecordsRequest req = CJX__V1__LIST_RECORDS_REQUEST__INIT;
        req.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY;
        req.county = "San Francisco";
        req.page_size = 1000;
        req.page_token = token;
        ProtobufCMessage *resp;
        struct cjx_client_status st;
        if (cjx_client_unary(
                cl,
                &cjx__v1__record_service__methods[RECORD_SERVICE_LIST_RECORDS],
                &req.base, 10000, &resp, &st) != 0 ||
            st.code != 0) {
            count = -1;
            break;
        }
        Cjx__V1__ListRecordsResponse *r = (Cjx__V1__ListRecordsResponse *)resp;
        *rows =
            realloc(*rows, ((size_t)count + r->n_records + 1) * sizeof(**rows));
        for (size_t k = 0; k < r->n_records; k++) {
            const Cjx__V1__StoredRecord *sr = r->records[k];
            struct record_row *row = &(*rows)[count++];
            snprintf(row->cii, sizeof(row->cii), "%s",
                     sr->record->subject->cii);
            row->version = sr->version;
            row->sealed = sr->record->sealed;
            row->n_history = sr->record->n_relief_history;
        }
        snprintf(token, sizeof(token), "%s", r->next_page_token);
        protobuf_c_message_free_unpacked(resp, NULL);
    } while (token[0] != '\0');
    cjx_client_free(cl);
    if (count > 0)
        qsort(*rows, (size_t)count, sizeof(**rows), record_row_cmp);
    return count;
}

/* Relief landed on every record once, with the step that made it true
 * there (DESIGN.md invariant 6): an ordered case's record is at version 2
 * (the notice's, then the order's) with one relief entry, sealed exactly
 * when the court dismissed and sealed; a pending case's is at version 1.
 * The public defender's operator is not a reader of sealed records. */
static void
compare_records(struct net *n, const struct table *cases)
{
    for (int i = 0; i < N_DAEMONS; i++) {
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
static void
compare_all(struct net *n, int64_t n_cases)
{
    struct table t[N_DAEMONS];
    for (int i = 0; i < N_DAEMONS; i++)
        assert_int_equal(read_cases(n, i, &t[i]), 0);
    for (int i = 0; i < N_DAEMONS; i++) {
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
    for (int i = 0; i < N_DAEMONS; i++) {
        int64_t pending, parked, delivered;
        outbox_counts(n, i, &pending, &parked, &delivered);
        assert_int_equal(pending, 0);
        assert_int_equal(parked, 0);
        free(t[i].rows);
    }
}

/* ---- the tests ---- */

static void
test_exchange__one_case__goes_through_every_hop_on_four_daemons(void **state)
{
    struct net *n = *state;
    start_all(n);
    assert_int_equal(notify(n, 0, 1), 1);
    wait_until_settled(n, 1, 1);
    compare_all(n, 1);
    struct table t;
    assert_int_equal(read_cases(n, PD, &t), 0);
    assert_int_equal(t.rows[0].state,
                     CJX__V1__CASE_STATE__CASE_STATE_HISTORY_UPDATED);
    assert_int_equal(t.rows[0].order,
                     CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL);
    free(t.rows);
    /* Each hand-off went out once: three from DOJ's notice and three from
     * its acknowledgement, three from the decision, three from the order. */
    int64_t pending, parked, delivered;
    outbox_counts(n, DOJ, &pending, &parked, &delivered);
    assert_int_equal(delivered, 6);
    outbox_counts(n, DA, &pending, &parked, &delivered);
    assert_int_equal(delivered, 3);
    outbox_counts(n, COURT, &pending, &parked, &delivered);
    assert_int_equal(delivered, 3);
    outbox_counts(n, PD, &pending, &parked, &delivered);
    assert_int_equal(delivered, 0);
}

static void
test_exchange__peer_down__everything_delivered_once_when_it_is_back(
    void **state)
{
    struct net *n = *state;
    start(n, DOJ);
    start(n, DA);
    start(n, COURT);
    const int cases = 60;
    assert_int_equal(notify(n, 0, cases), cases);
    /* Without the public defender the case still goes through the others;
     * what is for the defender waits in three outboxes, with the reason. */
    for (int tries = 0; tries < 1200; tries++) {
        struct progress p = progress(n);
        if (p.decided == decided_among(cases) && p.updated == p.decided)
            break;
        nap_ms(100);
    }
    int64_t pending, parked, delivered;
    outbox_counts(n, DOJ, &pending, &parked, &delivered);
    assert_true(pending > 0);
    assert_int_equal(parked, 0);
    start(n, PD);
    wait_until_settled(n, cases, decided_among(cases));
    compare_all(n, cases);
}

struct notifier {
    struct net *net;
    int from, to;
    int result;
};

static void *
notify_thread(void *arg)
{
    struct notifier *t = arg;
    t->result = notify(t->net, t->from, t->to);
    return NULL;
}

static int64_t
cases_at(struct net *n, int i)
{
    struct table t;
    int64_t count = read_cases(n, i, &t) == 0 ? (int64_t)t.n : -1;
    free(t.rows);
    return count;
}

static int64_t
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
static void
wait_for(struct net *n, int i, int64_t (*f)(struct net *, int), int64_t want)
{
    for (int tries = 0; tries < 1200 && f(n, i) < want; tries++)
        nap_ms(50);
}

/* Kills daemon i, saying how far it had come (for the test's log). */
static void
crash(struct net *n, int i)
{
    fprintf(stderr, "kill -9 %s holding %lld case(s), %lld decided\n",
            agencies[i].slug, (long long)cases_at(n, i),
            (long long)decided_at(n, i));
    harness_daemon_kill9(&n->d[i]);
}

/* Under ThreadSanitizer (the daemons carry it too) every daemon runs many
 * times slower: 2,000 notices outlast the notify stream's 30 s deadline
 * there. The kill points are fractions of the run, so a quarter of the
 * cases still kills each daemon mid-way through its work. */
#if defined(__SANITIZE_THREAD__)
#define KILL9_CASES 500
#else
#define KILL9_CASES 2000
#endif

static void
test_exchange__kill9_of_senders_and_receivers__no_hand_off_lost_or_doubled(
    void **state)
{
    struct net *n = *state;
    start_all(n);
    const int cases = KILL9_CASES;

    /* DOJ dies in the middle of taking notices. */
    struct notifier bg = {.net = n, .from = 0, .to = cases};
    pthread_t th;
    pthread_create(&th, NULL, notify_thread, &bg);
    wait_for(n, DOJ, cases_at, 100);
    crash(n, DOJ);
    pthread_join(th, NULL);
    start(n, DOJ);

    /* A receiver dies while notices reach it and its decisions go out. */
    crash(n, DA);
    start(n, DA);
    /* The operator sends the extract again: what DOJ took is replayed. */
    assert_int_equal(notify(n, 0, cases), cases);

    /* The court dies while ordering; the prosecutor while deciding. */
    wait_for(n, COURT, decided_at, decided_among(cases) / 4);
    crash(n, COURT);
    wait_for(n, DA, decided_at, decided_among(cases) / 2);
    crash(n, DA);
    start(n, COURT);
    start(n, DA);

    /* DOJ dies again while it acknowledges orders. */
    wait_for(n, DOJ, decided_at, decided_among(cases) * 2 / 3);
    crash(n, DOJ);
    start(n, DOJ);

    wait_until_settled(n, cases, decided_among(cases));
    compare_all(n, cases);
}

/* ---- a receiver's outage, and a receiver's replicas ---- */

/* What waits in daemon i's outbox for destination: how many rows, and the
 * fewest and most attempts among them; count -1 when it cannot be read. */
struct waiting {
    int64_t count;
    int min_attempts, max_attempts;
};

static struct waiting
waiting_for(struct net *n, int i, const char *destination)
{
    struct waiting w = {.count = -1};
    struct cjx_client *cl = harness_client_local(&n->d[i]);
    char token[32] = "";
    int64_t count = 0;
    do {
        Cjx__V1__ListOutboxRequest req = CJX__V1__LIST_OUTBOX_REQUEST__INIT;
        req.which = CJX__V1__LIST_OUTBOX_REQUEST__WHICH__WHICH_PENDING;
        req.destination_ori = (char *)destination;
        req.page_size = 1000;
        req.page_token = token;
        ProtobufCMessage *resp;
        struct cjx_client_status st;
        if (cjx_client_unary(cl, method(CASE_SERVICE_LIST_OUTBOX), &req.base,
                             10000, &resp, &st) != 0 ||
            st.code != 0) {
            cjx_client_free(cl);
            return w;
        }
        Cjx__V1__ListOutboxResponse *r = (Cjx__V1__ListOutboxResponse *)resp;
        for (size_t k = 0; k < r->n_entries; k++) {
            int a = r->entries[k]->attempts;
            if (count == 0 || a < w.min_attempts)
                w.min_attempts = a;
            if (count == 0 || a > w.max_attempts)
                w.max_attempts = a;
            count++;
        }
        snprintf(token, sizeof(token), "%s", r->next_page_token);
        protobuf_c_message_free_unpacked(resp, NULL);
    } while (token[0] != '\0');
    cjx_client_free(cl);
    w.count = count;
    return w;
}

/* Waits until DOJ holds n rows for the prosecutor and has tried each. */
static struct waiting
wait_until_each_tried(struct net *n, int64_t rows)
{
    struct waiting w = {0};
    for (int tries = 0; tries < 1200; tries++) {
        w = waiting_for(n, DOJ, agencies[DA].ori);
        if (w.count == rows && w.min_attempts >= 1)
            return w;
        nap_ms(100);
    }
    fail_msg("DOJ holds %lld row(s) for the prosecutor, tried at least %d "
             "time(s) each; expected %lld tried",
             (long long)w.count, w.min_attempts, (long long)rows);
    return w;
}

/* Only DOJ and the prosecutor are reachable: DOJ's notices go to the
 * prosecutor alone, which takes them and sends nothing (no stand-in). DOJ
 * retries slowly. The prosecutor's endpoint is da_endpoint (NULL: its
 * daemon's port), its certificates checked for da_tls_name. */
static void
doj_to_da_only(struct net *n, const char *da_endpoint, const char *da_tls_name)
{
    const char *const endpoint[N_DAEMONS] = {
        [DOJ] = NULL, [DA] = da_endpoint, [COURT] = "", [PD] = ""};
    const char *const tls_name[N_DAEMONS] = {[DA] = da_tls_name};
    write_registry_with(n, endpoint, tls_name);
    n->d[DOJ].extra_yaml = EXCHANGE_SLOW_RETRY;
    n->d[DA].extra_yaml = EXCHANGE_COMMON;
    harness_daemon_write_conf(&n->d[DOJ]);
    harness_daemon_write_conf(&n->d[DA]);
}

/* The prosecutor is killed; what DOJ sends meanwhile fails once and then
 * waits, however often new rows wake DOJ's senders; when the prosecutor
 * is back, its channel's return makes every waiting row due at once, so
 * they arrive minutes before their backoff would have sent them. */
static void
test_exchange__receiver_killed__its_rows_go_when_it_is_back_not_after_backoff(
    void **state)
{
    struct net *n = *state;
    doj_to_da_only(n, NULL, NULL);
    start(n, DOJ);
    start(n, DA);
    const int clean = 300, during = 300, later = 20;

    int64_t t0 = monotonic_ms();
    assert_int_equal(notify(n, 0, clean), clean);
    wait_until_settled(n, clean, 0);
    int64_t clean_ms = monotonic_ms() - t0;

    /* Every row that fails from here on is tried again by its backoff no
     * sooner than five minutes later; the wait for delivery below ends
     * well before. */
    int64_t backoff_ends = monotonic_ms() + 300 * 1000;
    harness_daemon_kill9(&n->d[DA]);
    assert_int_equal(notify(n, clean, clean + during), during);
    wait_until_each_tried(n, during);
    /* More rows wake the senders and are tried in turn, while gRPC keeps
     * dialling the prosecutor: the rows that failed are not tried again
     * (no loop against a peer that is down). */
    assert_int_equal(notify(n, clean + during, clean + during + later), later);
    struct waiting w = wait_until_each_tried(n, during + later);
    assert_int_equal(w.max_attempts, 1);

    int64_t t1 = monotonic_ms();
    start(n, DA);
    wait_until_settled_by(n, clean + during + later, 0,
                          backoff_ends - 60 * 1000);
    int64_t back_ms = monotonic_ms() - t1;
    fprintf(stderr,
            "settle time: %d case(s) on a clean run %lld ms; %d waiting "
            "case(s) after kill -9 and restart %lld ms from the restart\n",
            clean, (long long)clean_ms, during + later, (long long)back_ms);
    assert_int_equal(cases_at(n, DA), clean + during + later);
    /* It was the prosecutor's return that brought the rows forward. */
    assert_true(
        harness_log_contains(&n->d[DOJ], "CA038013A is reachable again"));
    int64_t pending, parked, delivered;
    outbox_counts(n, DOJ, &pending, &parked, &delivered);
    assert_int_equal(parked, 0);
    assert_int_equal(delivered, clean + during + later);
}

/* The prosecutor runs two replicas (here two SQLite daemons of one
 * identity; the public defender's slot holds the second), listed in one
 * endpoint. DOJ's calls go to both in turn; when one is killed, every
 * later hand-off reaches the other. */
static void
test_exchange__replicas__calls_go_round_and_a_stopped_one_is_skipped(
    void **state)
{
    struct net *n = *state;
    enum { DA2 = PD };
    harness_daemon_cleanup(&n->d[DA2]);
    n->d[DA2].extra_yaml = EXCHANGE_COMMON;
    harness_daemon_init(&n->d[DA2], agencies[DA].slug, agencies[DA].ori);
    snprintf(n->d[DA2].registry_file, sizeof(n->d[DA2].registry_file), "%s",
             n->registry);
    char replicas[64];
    snprintf(replicas, sizeof(replicas), "[127.0.0.1:%d, 127.0.0.1:%d]",
             n->d[DA].port, n->d[DA2].port);
    /* The test certificates name localhost, which is what each replica's
     * certificate is checked for. */
    doj_to_da_only(n, replicas, "localhost");
    n->d[DOJ].extra_yaml = EXCHANGE_COMMON;
    harness_daemon_write_conf(&n->d[DOJ]);
    harness_daemon_write_conf(&n->d[DA2]);
    /* The replicas first, so that DOJ's first connections reach both. */
    start(n, DA);
    start(n, DA2);
    start(n, DOJ);

    /* One notice at a time, each delivered before the next: a call each,
     * until both replicas have had calls (a replica's connection may come
     * up a little after the other's). */
    const int most = 40, cases = 80;
    int one_by_one = 0;
    int64_t at_first = 0, at_second = 0;
    while (one_by_one < most && (at_first == 0 || at_second == 0)) {
        assert_int_equal(notify(n, one_by_one, one_by_one + 1), 1);
        one_by_one++;
        wait_until_settled(n, one_by_one, 0);
        at_first = cases_at(n, DA);
        at_second = cases_at(n, DA2);
    }
    fprintf(stderr, "replicas took %lld and %lld of %d calls\n",
            (long long)at_first, (long long)at_second, one_by_one);
    assert_true(at_first > 0);
    assert_true(at_second > 0);
    assert_int_equal(at_first + at_second, one_by_one);

    harness_daemon_kill9(&n->d[DA]);
    assert_int_equal(notify(n, one_by_one, cases), cases - one_by_one);
    wait_until_settled(n, cases, 0);
    assert_int_equal(cases_at(n, DA2), at_second + cases - one_by_one);
    int64_t pending, parked, delivered;
    outbox_counts(n, DOJ, &pending, &parked, &delivered);
    assert_int_equal(parked, 0);
    assert_int_equal(delivered, cases);
}

/* Takes a step on daemon i's local socket; the answer's status. */
static int
local_step(struct net *n, int i, int m, const ProtobufCMessage *msg)
{
    struct cjx_client *cl = harness_client_local(&n->d[i]);
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st = {0};
    int err = cjx_client_unary(cl, method(m), msg, 10000, &resp, &st);
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    cjx_client_free(cl);
    if (err == 0 && st.code != 0)
        fprintf(stderr, "step refused: %s\n", st.message);
    return err != 0 ? -1 : st.code;
}

/* The individual path (HS 11361.8) between real daemons: the court files a
 * person's petition, the prosecutor answers, the court's stand-in orders,
 * DOJ's applies and acknowledges; every party holds the same case and the
 * relief is on every record, as on the automatic path. */
static void
test_exchange__petition__opened_at_the_court_and_applied_by_doj(void **state)
{
    struct net *n = *state;
    start_all(n);
    struct test_notice t;
    make_notice(&t, 0, "petition");
    Cjx__V1__Petition p = CJX__V1__PETITION__INIT;
    p.meta = &t.meta;
    p.record = &t.rec;
    p.filed_by = CJX__V1__PETITION_FILER__PETITION_FILER_PERSON;
    p.requested = CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL;
    p.determination = &t.det;
    assert_int_equal(local_step(n, COURT, CASE_SERVICE_FILE_PETITION, &p.base),
                     0);
    /* The prosecutor is told, and answers. */
    wait_for(n, DA, cases_at, 1);
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = t.cii;
    key.court_case_number = t.ccn;
    key.count_number = 1;
    Cjx__V1__RequestMeta meta = CJX__V1__REQUEST_META__INIT;
    meta.request_id = "petition-answer-0";
    Cjx__V1__NoChallenge nc = CJX__V1__NO_CHALLENGE__INIT;
    nc.relief = t.det.relief;
    Cjx__V1__ProsecutorDecision d = CJX__V1__PROSECUTOR_DECISION__INIT;
    d.meta = &meta;
    d.key = &key;
    d.decision_case = CJX__V1__PROSECUTOR_DECISION__DECISION_NO_CHALLENGE;
    d.no_challenge = &nc;
    assert_int_equal(local_step(n, DA, CASE_SERVICE_DECIDE, &d.base), 0);
    wait_until_settled(n, 1, 1);
    compare_all(n, 1);
    struct table tab;
    assert_int_equal(read_cases(n, DOJ, &tab), 0);
    assert_int_equal(tab.rows[0].state,
                     CJX__V1__CASE_STATE__CASE_STATE_HISTORY_UPDATED);
    free(tab.rows);
}

static void
test_exchange__replayed_message_id__first_answer_and_nothing_changes(
    void **state)
{
    struct net *n = *state;
    start(n, DA);
    /* DOJ's notice, sent by DOJ's certificate straight to the DA twice. */
    struct cjx_client *cl = harness_client_tls(&n->d[DA], "doj");
    struct test_notice t;
    make_notice(&t, 10, "replay");
    t.n.notified_at_unix_us = (int64_t)time(NULL) * 1000000;
    t.n.prosecutor_ori = "CA038013A";
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    assert_int_equal(cjx_client_unary(cl, method(CASE_SERVICE_NOTIFY_CANDIDATE),
                                      &t.n.base, 10000, &resp, &st),
                     0);
    assert_int_equal(st.code, 0);
    int64_t seq = ((Cjx__V1__CaseReply *)resp)->snapshot->seq;
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_int_equal(cjx_client_unary(cl, method(CASE_SERVICE_NOTIFY_CANDIDATE),
                                      &t.n.base, 10000, &resp, &st),
                     0);
    assert_int_equal(st.code, 0);
    assert_int_equal(((Cjx__V1__CaseReply *)resp)->snapshot->seq, seq);
    assert_int_equal(((Cjx__V1__CaseReply *)resp)->snapshot->version, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* The same id with other content is refused; nothing changed. */
    t.det.relief = CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR;
    assert_int_equal(cjx_client_unary(cl, method(CASE_SERVICE_NOTIFY_CANDIDATE),
                                      &t.n.base, 10000, &resp, &st),
                     0);
    assert_int_equal(st.code, 6); /* ALREADY_EXISTS */
    cjx_client_free(cl);
    struct table tab;
    assert_int_equal(read_cases(n, DA, &tab), 0);
    assert_int_equal(tab.n, 1);
    assert_int_equal(tab.rows[0].version, 1);
    free(tab.rows);
}

static void
test_exchange__order_before_the_notice__retried_until_it_fits(void **state)
{
    struct net *n = *state;
    start(n, DOJ);
    /* The court's order for a case DOJ has not notified yet. */
    struct cjx_client *cl = harness_client_tls(&n->d[DOJ], "sf-court");
    Cjx__V1__RequestMeta meta = CJX__V1__REQUEST_META__INIT;
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    Cjx__V1__ReliefOrder o = CJX__V1__RELIEF_ORDER__INIT;
    meta.request_id = "early-order";
    key.cii = "T00000000";
    key.court_case_number = "SF-0";
    key.count_number = 1;
    o.meta = &meta;
    o.key = &key;
    o.relief = CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL;
    o.ordered_at_unix_us = (int64_t)time(NULL) * 1000000;
    Cjx__V1__CaseMessage cm = CJX__V1__CASE_MESSAGE__INIT;
    cm.message_case = CJX__V1__CASE_MESSAGE__MESSAGE_ORDER;
    cm.order = &o;
    Cjx__V1__CaseMessage *items[] = {&cm};
    Cjx__V1__CaseMessages batch = CJX__V1__CASE_MESSAGES__INIT;
    batch.messages = items;
    batch.n_messages = 1;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    assert_int_equal(cjx_client_unary(cl, method(CASE_SERVICE_DELIVER),
                                      &batch.base, 10000, &resp, &st),
                     0);
    assert_int_equal(st.code, 0);
    Cjx__V1__CaseResults *r = (Cjx__V1__CaseResults *)resp;
    assert_int_equal(r->results[0]->code, 9); /* FAILED_PRECONDITION */
    assert_true(r->results[0]->retry_later);
    protobuf_c_message_free_unpacked(resp, NULL);
    cjx_client_free(cl);

    /* The rest of the exchange comes up; the messages race, and what comes
     * too early waits in its sender's outbox until it fits. */
    start(n, COURT);
    start(n, PD);
    assert_int_equal(notify(n, 0, 30), 30);
    start(n, DA);
    wait_until_settled(n, 30, decided_among(30));
    compare_all(n, 30);
}

static void
test_exchange__final_refusal__parked_with_the_peers_reason(void **state)
{
    struct net *n = *state;
    /* The public defender's daemon thinks it serves Alameda (its own
     * registry says so), while DOJ's says San Francisco: it refuses San
     * Francisco's notices for good, and DOJ stops trying. */
    char reg[300];
    snprintf(reg, sizeof(reg), "%.250s/pd-agencies.yaml", n->d[PD].dir);
    FILE *f = fopen(reg, "w");
    assert_non_null(f);
    fprintf(f,
            "agencies:\n"
            "  - ori: CA0000001\n    role: DOJ\n"
            "    endpoint: 127.0.0.1:%d\n    name: test doj\n"
            "  - ori: CA038023P\n    role: DEFENDER\n    county: Alameda\n"
            "    endpoint: 127.0.0.1:%d\n    name: test pd\n",
            n->d[DOJ].port, n->d[PD].port);
    fclose(f);
    snprintf(n->d[PD].registry_file, sizeof(n->d[PD].registry_file), "%s", reg);
    harness_daemon_write_conf(&n->d[PD]);
    start(n, DOJ);
    start(n, PD);
    assert_int_equal(notify(n, 0, 3), 3);
    int64_t pending = 0, parked = 0, delivered = 0;
    for (int tries = 0; tries < 1200 && parked < 3; tries++) {
        outbox_counts(n, DOJ, &pending, &parked, &delivered);
        nap_ms(50);
    }
    assert_int_equal(parked, 3);
    /* The rows for the prosecutor and the court (down) still wait. */
    assert_int_equal(pending, 6);
    struct cjx_client *cl = harness_client_local(&n->d[DOJ]);
    Cjx__V1__ListOutboxRequest req = CJX__V1__LIST_OUTBOX_REQUEST__INIT;
    req.which = CJX__V1__LIST_OUTBOX_REQUEST__WHICH__WHICH_PARKED;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    assert_int_equal(cjx_client_unary(cl, method(CASE_SERVICE_LIST_OUTBOX),
                                      &req.base, 10000, &resp, &st),
                     0);
    assert_int_equal(st.code, 0);
    Cjx__V1__ListOutboxResponse *r = (Cjx__V1__ListOutboxResponse *)resp;
    assert_int_equal(r->n_entries, 3);
    for (size_t i = 0; i < r->n_entries; i++) {
        assert_string_equal(r->entries[i]->destination_ori, "CA038023P");
        assert_non_null(strstr(r->entries[i]->last_error, "PERMISSION_DENIED"));
        assert_true(r->entries[i]->parked);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    cjx_client_free(cl);
    assert_int_equal(cases_at(n, PD), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        T(test_exchange__one_case__goes_through_every_hop_on_four_daemons),
        T(test_exchange__peer_down__everything_delivered_once_when_it_is_back),
        T(test_exchange__kill9_of_senders_and_receivers__no_hand_off_lost_or_doubled),
        T(test_exchange__receiver_killed__its_rows_go_when_it_is_back_not_after_backoff),
        T(test_exchange__replicas__calls_go_round_and_a_stopped_one_is_skipped),
        T(test_exchange__petition__opened_at_the_court_and_applied_by_doj),
        T(test_exchange__replayed_message_id__first_answer_and_nothing_changes),
        T(test_exchange__order_before_the_notice__retried_until_it_fits),
        T(test_exchange__final_refusal__parked_with_the_peers_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
