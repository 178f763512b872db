/* The relief exchange with DOJ as two cjxd replicas on one PostgreSQL
 * database, over real mTLS on loopback: the prosecutor and the defender
 * reach replica doj-a, the court reaches doj-b. Replicas are killed
 * (SIGKILL) at several points while cases flow, the replica that leads the
 * stand-in among them, and PostgreSQL itself is restarted under load;
 * afterwards every case on every daemon is compared (none lost, none
 * doubled), each replica's record feed is gap-free, the audit log verifies
 * on both, and DOJ's stand-in took each step once. Runs under
 * tests/support/with-postgres. CJX_TEST_REPLICA_CASES (default 300) and
 * CJX_TEST_REPLICA_ROUNDS (default 1: three kill points) make longer runs.
 * Waits poll for a condition with a bound; nothing asserts on time. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/client.h"
#include "cjx/v1/exchange.methods.h"
#include "exchange_net.h"
#include "harness.h"

/* Which DOJ replica each daemon reaches; each DOJ replica names itself. */
static const int doj_of[N_NET] = {
    [DOJ] = DOJ, [DA] = DOJ, [COURT] = DOJ_B, [PD] = DOJ, [DOJ_B] = DOJ_B,
};

struct replica_net {
    struct net net;
    char yaml[2][2048];
};

static int
env_int(const char *name, int fallback)
{
    const char *v = getenv(name);
    return v != NULL && atoi(v) > 0 ? atoi(v) : fallback;
}

/* The registry daemon i reads: DOJ at the replica it reaches. */
static void
write_registry_for(struct net *n, int i)
{
    struct test_daemon *d = &n->d[i];
    /* Through a buffer of its own: the directory is in the same struct. */
    char path[sizeof(d->registry_file)];
    snprintf(path, sizeof(path), "%s/agencies.yaml", d->dir);
    memcpy(d->registry_file, path, sizeof(path));
    FILE *f = fopen(d->registry_file, "w");
    assert_non_null(f);
    static const char *const roles[] = {"DOJ", "PROSECUTOR", "COURT",
                                        "DEFENDER"};
    fprintf(f, "agencies:\n");
    for (int k = 0; k < N_DAEMONS; k++)
        fprintf(f,
                "  - ori: %s\n    role: %s\n%s    endpoint: 127.0.0.1:%d\n"
                "    name: test %s\n",
                agencies[k].ori, roles[k],
                k == DOJ ? "" : "    county: San Francisco\n",
                n->d[k == DOJ ? doj_of[i] : k].port, agencies[k].slug);
    fclose(f);
    harness_daemon_write_conf(d);
}

static int
setup(void **state)
{
    const char *dsn = getenv("CJX_TEST_PG_DSN");
    if (dsn == NULL) {
        fprintf(stderr, "run under tests/support/with-postgres\n");
        return -1;
    }
    /* Each test starts from an empty database. */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "psql -q -v ON_ERROR_STOP=1 '%s' -c 'DROP SCHEMA public CASCADE; "
             "CREATE SCHEMA public' >/dev/null",
             dsn);
    if (harness_run(cmd) != 0)
        return -1;
    struct replica_net *r = calloc(1, sizeof(*r));
    struct net *n = &r->net;
    for (int i = 0; i < N_NET; i++) {
        n->d[i].extra_yaml = exchange_yaml[i];
        if (i == DOJ || i == DOJ_B) {
            int k = i == DOJ ? 0 : 1;
            snprintf(r->yaml[k], sizeof(r->yaml[k]),
                     "%sstore:\n  backend: postgresql\n  dsn: \"%s\"\n"
                     "  replica: doj-%c\n",
                     exchange_yaml[i], dsn, 'a' + k);
            n->d[i].extra_yaml = r->yaml[k];
        }
        harness_daemon_init(&n->d[i], agencies[i].slug, agencies[i].ori);
    }
    for (int i = 0; i < N_NET; i++)
        write_registry_for(n, i);
    *state = r;
    return 0;
}

static int
teardown(void **state)
{
    struct replica_net *r = *state;
    int failed = 0;
    for (int i = N_NET - 1; i >= 0; i--) {
        if (r->net.d[i].pid > 0 && harness_daemon_stop(&r->net.d[i]) != 0) {
            fprintf(stderr, "%s (%d) did not stop cleanly\n", agencies[i].slug,
                    i);
            failed = 1;
        }
        harness_daemon_cleanup(&r->net.d[i]);
    }
    free(r);
    return failed ? -1 : 0;
}

static void
start_net(struct net *n)
{
    start_all(n);
    start(n, DOJ_B);
}

/* The DOJ replica holding the leadership lock: DOJ, DOJ_B, or -1 for none
 * (yet). */
static int
leader(void)
{
    char cmd[1024], out[256];
    snprintf(cmd, sizeof(cmd),
             "psql -qtA '%s' -c \"SELECT a.application_name FROM pg_locks l "
             "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = "
             "'advisory' AND l.objid = 7236003 AND l.granted\" 2>/dev/null",
             getenv("CJX_TEST_PG_DSN"));
    if (harness_run_capture(cmd, out, sizeof(out)) != 0)
        return -1;
    if (strstr(out, "cjxd leadership doj-a") != NULL)
        return DOJ;
    if (strstr(out, "cjxd leadership doj-b") != NULL)
        return DOJ_B;
    return -1;
}

/* Waits until a replica other than `not` leads; which one. */
static int
wait_for_leader_other_than(int not )
{
    int who = -1;
    for (int tries = 0; tries < 600; tries++) {
        who = leader();
        if (who >= 0 && who != not )
            return who;
        nap_ms(50);
    }
    fail_msg("no replica took over the leadership from %d", not );
    return -1;
}

/* cjxctl as DOJ's operator on replica i; its exit status, output in out. */
static int
operator(struct net *n, int i, const char *args, char *out, size_t len)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s -s %s %s 2>&1", getenv("CJX_CJXCTL"),
             n->d[i].socket, args);
    return harness_run_capture(cmd, out, len);
}

/* Each replica's record feed holds seq 1, 2, ... with none missing and
 * none twice; returns how many changes it holds. */
static long
check_feed(struct net *n, int i)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s -s %s --json watch --after 0",
             getenv("CJX_CJXCTL"), n->d[i].socket);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[65536];
    long want = 1;
    while (fgets(line, sizeof(line), p) != NULL) {
        const char *at = strstr(line, "\"seq\":");
        long seq = at != NULL ? strtol(at + 6, NULL, 10) : -1;
        if (at != NULL && at[6] == '"')
            seq = strtol(at + 7, NULL, 10);
        if (seq != want)
            fail_msg("replica %d's feed: seq %ld where %ld was due", i, seq,
                     want);
        want++;
    }
    assert_int_equal(pclose(p), 0);
    return want - 1;
}

/* The audit log verifies on both replicas. */
static void
check_audit(struct net *n)
{
    char out[4096];
    for (int i = DOJ; i <= DOJ_B; i += DOJ_B - DOJ)
        if (operator(n, i, "audit verify", out, sizeof(out)) != 0)
            fail_msg("audit on replica %d: %s", i, out);
}

/* How many audit entries record DOJ's stand-in acknowledging an order
 * (accepted or replayed), in all and by replica doj-b. */
static void
standin_entries(struct net *n, long *all, long *by_b)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s -s %s --json audit export",
             getenv("CJX_CJXCTL"), n->d[DOJ].socket);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char line[1 << 16];
    *all = *by_b = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        if (strstr(line, "stand-in") == NULL ||
            strstr(line, "HistoryUpdated") == NULL)
            continue;
        (*all)++;
        *by_b += strstr(line, "doj-b") != NULL;
    }
    assert_int_equal(pclose(p), 0);
}

/* Everything every daemon holds agrees, and DOJ's two replicas show one
 * history: the same cases, one gap-free feed, one verified audit log. */
static void
compare_everything(struct net *n, int cases)
{
    wait_until_settled(n, cases, decided_among(cases));
    compare_all(n, cases);
    long a = check_feed(n, DOJ), b = check_feed(n, DOJ_B);
    assert_int_equal(a, b);
    check_audit(n);
}

static void
test_exchange_replicas__replicas_killed__no_case_lost_or_doubled(void **state)
{
    struct replica_net *r = *state;
    struct net *n = &r->net;
    start_net(n);
    const int cases = env_int("CJX_TEST_REPLICA_CASES", 300);
    const int rounds = env_int("CJX_TEST_REPLICA_ROUNDS", 1);
    int lead = wait_for_leader_other_than(-1);

    for (int round = 0; round < rounds; round++) {
        int from = round * cases, to = from + cases, all = to;
        /* The replica taking the notices dies in the middle of them. */
        struct notifier bg = {.net = n, .from = from, .to = to};
        pthread_t th;
        pthread_create(&th, NULL, notify_thread, &bg);
        wait_for(n, DOJ, cases_at, from + cases / 4);
        crash(n, DOJ);
        pthread_join(th, NULL);
        start(n, DOJ);
        /* The operator sends the extract again: what was taken is
         * replayed. */
        assert_int_equal(notify(n, from, to), cases);

        /* The replica the court's orders reach dies while they come. */
        wait_for(n, DOJ_B, decided_at,
                 decided_among(from) + decided_among(cases) / 3);
        crash(n, DOJ_B);
        start(n, DOJ_B);

        /* The replica leading the stand-in dies while it acknowledges
         * orders: the other takes over and finishes the work. */
        lead = leader();
        if (lead < 0)
            lead = wait_for_leader_other_than(-1);
        wait_for(n, lead, decided_at,
                 decided_among(from) + decided_among(cases) * 2 / 3);
        crash(n, lead);
        int next = wait_for_leader_other_than(lead);
        assert_int_not_equal(next, lead);
        start(n, lead);

        compare_everything(n, all);
    }
    /* Each order was acknowledged by one stand-in once: no replay from a
     * second replica doing the same work. */
    long all, by_b;
    standin_entries(n, &all, &by_b);
    assert_int_equal(all, decided_among(cases * rounds));
}

/* Sends notices [from, to) in batches of `batch`, each its own stream;
 * the batches the daemon acknowledged whole are marked in acked. */
struct batches {
    struct net *net;
    int from, to, batch;
    int acked[64];
    int refused;
    int last_code; /* of a refused batch */
};

static void *
batches_main(void *arg)
{
    struct batches *b = arg;
    for (int k = 0; b->from + k * b->batch < b->to; k++) {
        int lo = b->from + k * b->batch;
        int hi = lo + b->batch < b->to ? lo + b->batch : b->to;
        int got = notify(b->net, lo, hi);
        b->acked[k] = got == hi - lo;
        b->refused += !b->acked[k];
    }
    return NULL;
}

/* The status of a ListCases on DOJ's local socket. */
static int
list_status(struct net *n, int i)
{
    struct cjx_client *cl = harness_client_local(&n->d[i]);
    Cjx__V1__ListCasesRequest req = CJX__V1__LIST_CASES_REQUEST__INIT;
    req.page_size = 1;
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st = {0};
    int err = cjx_client_unary(cl, method(CASE_SERVICE_LIST_CASES), &req.base,
                               10000, &resp, &st);
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    cjx_client_free(cl);
    return err != 0 ? -1 : st.code;
}

static int
cii_cmp(const void *a, const void *b)
{
    return strcmp(((const struct case_row *)a)->cii,
                  ((const struct case_row *)b)->cii);
}

static void
pg_server(const char *action)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "%s %s", getenv("CJX_TEST_PG_SERVER"), action);
    if (harness_run(cmd) != 0)
        fail_msg("%s failed", cmd);
}

static void
test_exchange_replicas__database_restarted_under_load__nothing_acked_lost(
    void **state)
{
    struct replica_net *r = *state;
    struct net *n = &r->net;
    start_net(n);
    const int cases = 600, batch = 20;
    struct batches b = {.net = n, .from = 0, .to = cases, .batch = batch};
    pthread_t th;
    pthread_create(&th, NULL, batches_main, &b);
    wait_for(n, DOJ, cases_at, cases / 4);
    pg_server("stop");
    /* While it is down, both replicas answer UNAVAILABLE: retry later. */
    assert_int_equal(list_status(n, DOJ), 14);
    assert_int_equal(list_status(n, DOJ_B), 14);
    pg_server("start");
    pthread_join(th, NULL);

    /* Both replicas reconnect by themselves; every batch acknowledged
     * before, during or after the restart is there, on either. */
    for (int tries = 0; tries < 600 && list_status(n, DOJ_B) != 0; tries++)
        nap_ms(50);
    struct table t[2];
    assert_int_equal(read_cases(n, DOJ, &t[0]), 0);
    assert_int_equal(read_cases(n, DOJ_B, &t[1]), 0);
    for (int k = 0; k * batch < cases; k++) {
        if (!b.acked[k])
            continue;
        for (int i = k * batch; i < (k + 1) * batch; i++) {
            struct case_row key = {0};
            snprintf(key.cii, sizeof(key.cii), "T%08d", i);
            for (int x = 0; x < 2; x++)
                if (bsearch(&key, t[x].rows, t[x].n, sizeof(key), cii_cmp) ==
                    NULL)
                    fail_msg("acknowledged case %s is missing", key.cii);
        }
    }
    free(t[0].rows);
    free(t[1].rows);
    fprintf(stderr, "%d batch(es) of %d refused while PostgreSQL was down\n",
            b.refused, batch);
    /* The operator sends what was refused again; the exchange completes. */
    assert_int_equal(notify(n, 0, cases), cases);
    compare_everything(n, cases);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        T(test_exchange_replicas__replicas_killed__no_case_lost_or_doubled),
        T(test_exchange_replicas__database_restarted_under_load__nothing_acked_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
