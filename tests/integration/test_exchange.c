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
#include "exchange_net.h"
#include "harness.h"

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

static void
tally_attempts(void *arg, const ProtobufCMessage *page)
{
    struct waiting *w = arg;
    const Cjx__V1__ListOutboxResponse *r =
        (const Cjx__V1__ListOutboxResponse *)page;
    for (size_t k = 0; k < r->n_entries; k++) {
        int a = r->entries[k]->attempts;
        if (w->count == 0 || a < w->min_attempts)
            w->min_attempts = a;
        if (w->count == 0 || a > w->max_attempts)
            w->max_attempts = a;
        w->count++;
    }
}

static struct waiting
waiting_for(struct net *n, int i, const char *destination)
{
    struct waiting w = {0};
    struct cjx_client *cl = harness_client_local(&n->d[i]);
    Cjx__V1__ListOutboxRequest req = CJX__V1__LIST_OUTBOX_REQUEST__INIT;
    req.which = CJX__V1__LIST_OUTBOX_REQUEST__WHICH__WHICH_PENDING;
    req.destination_ori = (char *)destination;
    req.page_size = 1000;
    if (harness_each_page(cl, method(CASE_SERVICE_LIST_OUTBOX), &req.base,
                          &req.page_token, tally_attempts, &w) != 0)
        w.count = -1;
    cjx_client_free(cl);
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
