/* Benchmark of the relief exchange, two figures measured in the same run:
 *
 *  1. Bulk-notice ingest: a District Attorney's daemon (services, rules and
 *     a durable SQLite store in this process) takes DOJ's candidate notices
 *     in NotifyCandidates streams over mTLS, against the same server whose
 *     NotifyCandidates handler discards each notice (the no-op stream). The
 *     ratio says how much of the stream's own throughput checking and
 *     storing keeps.
 *  2. End to end: real cjxd processes for DOJ, the San Francisco District
 *     Attorney, court and public defender, with their stand-in policies;
 *     DOJ is given candidates and the time until every decided case is
 *     history-updated everywhere (notice, decision, order, acknowledgement,
 *     each delivered to every party) gives cases/s through all hops.
 *
 * Notices are made by tools/gen-records and evaluated with rules/ before
 * timing starts. Each figure is the median of several runs.
 *
 * Usage: bench_exchange [-n NOTICES] [-e CASES] [-r REPEATS] */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cjx/cases.h"
#include "cjx/client.h"
#include "cjx/clock.h"
#include "cjx/conf.h"
#include "cjx/evaluate.h"
#include "cjx/log.h"
#include "cjx/rpc.h"
#include "cjx/rules.h"
#include "cjx/service.h"
#include "cjx/store.h"
#include "cjx/tls.h"
#include "cjx/v1/exchange.methods.h"
#include "genrec.h"

#ifndef CJX_SOURCE_DIR
#define CJX_SOURCE_DIR "."
#endif

static char certs[256];
static const char *source_dir = CJX_SOURCE_DIR;

/* ---- notices ---------------------------------------------------------------- */

struct notices {
    struct cjx_arena arena;
    /* The determinations' strings are the rule set's: kept as long. */
    struct cjx_rules_registry *reg;
    Cjx__V1__CandidateNotice **n;
    size_t count;
};

/* Makes count candidate notices for San Francisco from the synthetic
 * extract, evaluated with the shipped rules; prefix makes their ids. */
static void
make_notices(struct notices *out, size_t count, uint64_t seed,
             const char *prefix)
{
    struct cjx_errbuf eb;
    struct cjx_rules_registry *reg;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/rules", source_dir);
    if (cjx_rules_registry_load_dir(dir, cjx_evaluate_types(), &reg, &eb) != 0)
        cjx_fatal("bench", "%s", eb.msg);
    cjx_arena_init(&out->arena, NULL, 0, 0);
    out->n = calloc(count, sizeof(*out->n));
    out->count = 0;
    struct genrec g;
    genrec_init(&g, seed);
    const char *county[] = {"San Francisco"};
    genrec_set_counties(&g, county, 1);
    int64_t now = cjx_clock_now_us();
    while (out->count < count) {
        Cjx__V1__ReliefQuery *q = genrec_next(&g, &out->arena);
        const struct cjx_rules_set *set =
            cjx_evaluate_pick_set(reg, NULL, q, &eb);
        Cjx__V1__EvaluateResponse r;
        if (set == NULL ||
            cjx_evaluate_query(set, q, &out->arena, &r, &eb) != 0)
            continue;
        Cjx__V1__Determination *d = r.determination;
        int candidate =
            (d->relief >= CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR &&
             d->relief <= CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL) ||
            (d->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW &&
             d->ceiling >= CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR);
        if (!candidate)
            continue;
        Cjx__V1__CandidateNotice *n = cjx_arena_alloc(&out->arena, sizeof(*n));
        Cjx__V1__RequestMeta *m = cjx_arena_alloc(&out->arena, sizeof(*m));
        char *id = cjx_arena_alloc(&out->arena, 48);
        cjx__v1__candidate_notice__init(n);
        cjx__v1__request_meta__init(m);
        snprintf(id, 48, "%s-%zu", prefix, out->count);
        m->request_id = id;
        /* The generator may repeat a key; a different CII keeps them
         * apart. */
        char *cii = cjx_arena_alloc(&out->arena, 16);
        snprintf(cii, 16, "B%08zu", out->count);
        q->record->subject->cii = cii;
        n->meta = m;
        n->record = q->record;
        n->determination = d;
        n->history = q->history;
        n->prosecutor_ori = "CA038013A";
        n->notified_at_unix_us = now;
        out->n[out->count++] = n;
    }
    out->reg = reg;
}

static double
median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && v[k - 1] > v[k]; k--) {
            double t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- 1. ingest against a no-op stream ------------------------------------ */

struct noop_stream {
    int32_t seen;
};

static void
noop_begin(struct cjx_call *c)
{
    struct noop_stream *s = cjx_arena_alloc(c->arena, sizeof(*s));
    s->seen = 0;
    c->state = s;
    c->ops->request_next(c);
}

static void
noop_message(struct cjx_call *c, const ProtobufCMessage *msg)
{
    (void)msg;
    ((struct noop_stream *)c->state)->seen++;
    c->ops->request_next(c);
}

static void
noop_end(struct cjx_call *c)
{
    Cjx__V1__CaseResults r = CJX__V1__CASE_RESULTS__INIT;
    r.accepted = ((struct noop_stream *)c->state)->seen;
    c->ops->reply(c, &r.base);
}

static char *
slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", certs, name);
    char *pem;
    size_t len;
    struct cjx_errbuf eb;
    if (cjx_tls_read_pem(path, 0, &pem, &len, &eb) != 0)
        cjx_fatal("bench", "%s", eb.msg);
    return pem;
}

struct ingest_server {
    struct cjx_store *store;
    struct cjx_service *service;
    struct cjx_rpc_server *rpc;
    struct cjx_handler noop;
    const struct cjx_handler *handlers[4];
    char dir[64];
};

/* The San Francisco DA's services on a fresh store, or the no-op stream. */
static void
ingest_start(struct ingest_server *s, int noop)
{
    struct cjx_errbuf eb;
    snprintf(s->dir, sizeof(s->dir), "/tmp/cjx-bench-x-XXXXXX");
    if (mkdtemp(s->dir) == NULL)
        cjx_fatal("bench", "mkdtemp failed");
    char path[512];
    snprintf(path, sizeof(path), "%s/bench.db", s->dir);
    if (cjx_store_sqlite_open(path, NULL, &s->store, &eb) != 0 ||
        cjx_service_new(s->store, &s->service) != 0)
        cjx_fatal("bench", "store: %s", eb.msg);
    const char *method = "/cjx.v1.CaseService/NotifyCandidates";
    if (noop) {
        s->noop = (struct cjx_handler){
            .method =
                &cjx__v1__case_service__methods[CASE_SERVICE_NOTIFY_CANDIDATES],
            .stream_begin = noop_begin,
            .on_message = noop_message,
            .on_end = noop_end};
        s->handlers[0] = &s->noop;
    } else {
        s->handlers[0] = cjx_service_find(method);
    }
    snprintf(path, sizeof(path), "%s/sf-da.yaml", certs);
    struct cjx_conf *conf;
    if (cjx_conf_load(path, &conf, &eb) != 0)
        cjx_fatal("bench", "%s", eb.msg);
    struct cjx_rules_registry *reg;
    snprintf(path, sizeof(path), "%s/rules", source_dir);
    if (cjx_rules_registry_load_dir(path, cjx_evaluate_types(), &reg, &eb) != 0)
        cjx_fatal("bench", "%s", eb.msg);
    conf->rules = reg; /* released with the configuration */
    cjx_service_set_conf(s->service, conf);
    char *ca = slurp("ca.pem"), *cert = slurp("sf-da.pem"),
         *key = slurp("sf-da.key");
    struct cjx_rpc_tls tls = {.ca_pem = ca, .cert_pem = cert, .key_pem = key};
    struct cjx_rpc_server_options opts = {.listen = "127.0.0.1:0",
                                          .handlers = s->handlers,
                                          .n_handlers = 1,
                                          .service = s->service};
    free(conf->listen);
    conf->listen = strdup("127.0.0.1:0");
    if (cjx_rpc_server_start(&opts, conf, &tls, &s->rpc, &eb) != 0)
        cjx_fatal("bench", "server: %s", eb.msg);
    cjx_conf_unref(conf); /* the server holds its own reference */
    cjx_tls_free_pem(ca, strlen(ca));
    cjx_tls_free_pem(cert, strlen(cert));
    cjx_tls_free_pem(key, strlen(key));
}

static void
ingest_stop(struct ingest_server *s)
{
    cjx_service_shutdown(s->service);
    cjx_rpc_server_shutdown(s->rpc);
    cjx_rpc_server_free(s->rpc);
    cjx_service_free(s->service);
    cjx_store_close(s->store);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s->dir);
}

/* Streams every notice to the server as DOJ; returns notices/s. */
static double
ingest_once(const struct notices *ns, int noop)
{
    struct ingest_server s;
    memset(&s, 0, sizeof(s));
    ingest_start(&s, noop);
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d",
             cjx_rpc_server_port(s.rpc));
    char *ca = slurp("ca.pem"), *cert = slurp("doj.pem"),
         *key = slurp("doj.key");
    struct cjx_client *cl;
    struct cjx_errbuf eb;
    if (cjx_client_connect_tls(target, ca, cert, key, &cl, &eb) != 0)
        cjx_fatal("bench", "%s", eb.msg);
    cjx_tls_free_pem(ca, strlen(ca));
    cjx_tls_free_pem(cert, strlen(cert));
    cjx_tls_free_pem(key, strlen(key));
    const struct cjx_method *m =
        &cjx__v1__case_service__methods[CASE_SERVICE_NOTIFY_CANDIDATES];
    int64_t start = cjx_clock_monotonic_us();
    int32_t accepted = 0;
    for (size_t from = 0; from < ns->count; from += 10000) {
        size_t to = from + 10000 < ns->count ? from + 10000 : ns->count;
        struct cjx_client_stream *st;
        if (cjx_client_stream_open(cl, m, NULL, 0, &st) != 0)
            cjx_fatal("bench", "stream");
        for (size_t i = from; i < to; i++)
            cjx_client_stream_write(st, &ns->n[i]->base);
        ProtobufCMessage *resp = NULL;
        struct cjx_client_status status;
        cjx_client_stream_finish(st, &resp, &status);
        cjx_client_stream_free(st);
        if (status.code != 0)
            cjx_fatal("bench", "NotifyCandidates: %s", status.message);
        accepted += ((Cjx__V1__CaseResults *)resp)->accepted;
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    double secs = (double)(cjx_clock_monotonic_us() - start) / 1e6;
    if ((size_t)accepted != ns->count)
        cjx_fatal("bench", "%d of %zu notices accepted", accepted, ns->count);
    cjx_client_free(cl);
    ingest_stop(&s);
    return (double)ns->count / secs;
}

/* ---- 2. end to end through real daemons ------------------------------------ */

static const char *const e2e_daemons[] = {"doj", "sf-da", "sf-court", "sf-pd"};
#define N_E2E 4

static pid_t
spawn(const char *cjxd, const char *slug)
{
    char conf[512], log[512];
    snprintf(conf, sizeof(conf), "%s/%s.yaml", certs, slug);
    snprintf(log, sizeof(log), "%s/%s.log", certs, slug);
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen(log, "a", stderr) == NULL)
            _exit(126);
        execl(cjxd, "cjxd", "-c", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static struct cjx_client *
local(const char *slug)
{
    char sock[512];
    snprintf(sock, sizeof(sock), "%s/run/%s/cjxd.sock", certs, slug);
    struct cjx_client *cl;
    struct cjx_errbuf eb;
    if (cjx_client_connect_local(sock, &cl, &eb) != 0)
        cjx_fatal("bench", "%s", eb.msg);
    return cl;
}

static void
nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits until the daemon answers its stats. */
static void
wait_up(const char *slug)
{
    for (int i = 0; i < 400; i++) {
        struct cjx_client *cl = local(slug);
        Cjx__V1__CaseStatsRequest req = CJX__V1__CASE_STATS_REQUEST__INIT;
        ProtobufCMessage *resp;
        struct cjx_client_status st;
        int ok =
            cjx_client_unary(
                cl, &cjx__v1__case_service__methods[CASE_SERVICE_CASE_STATS],
                &req.base, 1000, &resp, &st) == 0 &&
            st.code == 0;
        if (ok)
            protobuf_c_message_free_unpacked(resp, NULL);
        cjx_client_free(cl);
        if (ok)
            return;
        nap_ms(25);
    }
    cjx_fatal("bench", "%s did not start (see %s/%s.log)", slug, certs, slug);
}

/* Decided cases that reached HISTORY_UPDATED at slug, and decided ones. */
static void
count_at(const char *slug, int64_t *updated, int64_t *decided)
{
    *updated = *decided = 0;
    struct cjx_client *cl = local(slug);
    Cjx__V1__CaseStatsRequest req = CJX__V1__CASE_STATS_REQUEST__INIT;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    if (cjx_client_unary(
            cl, &cjx__v1__case_service__methods[CASE_SERVICE_CASE_STATS],
            &req.base, 10000, &resp, &st) == 0 &&
        st.code == 0) {
        Cjx__V1__CaseStatsResponse *r = (Cjx__V1__CaseStatsResponse *)resp;
        for (size_t i = 0; i < r->n_counts; i++) {
            if (r->counts[i]->decision == 0)
                continue;
            *decided += r->counts[i]->cases;
            if (r->counts[i]->state ==
                CJX__V1__CASE_STATE__CASE_STATE_HISTORY_UPDATED)
                *updated += r->counts[i]->cases;
        }
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    cjx_client_free(cl);
}

/* The newest case-feed position of slug plus its pending hand-offs: a
 * cheap sign of whether anything still moves there. */
static int64_t
position_at(const char *slug)
{
    struct cjx_client *cl = local(slug);
    int64_t pos = -1;
    Cjx__V1__CaseStatsRequest req = CJX__V1__CASE_STATS_REQUEST__INIT;
    req.position_only = 1;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    if (cjx_client_unary(
            cl, &cjx__v1__case_service__methods[CASE_SERVICE_CASE_STATS],
            &req.base, 10000, &resp, &st) == 0 &&
        st.code == 0) {
        pos = ((Cjx__V1__CaseStatsResponse *)resp)->last_seq * 1000000;
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    Cjx__V1__ListOutboxRequest ob = CJX__V1__LIST_OUTBOX_REQUEST__INIT;
    ob.page_size = 1;
    if (cjx_client_unary(
            cl, &cjx__v1__case_service__methods[CASE_SERVICE_LIST_OUTBOX],
            &ob.base, 10000, &resp, &st) == 0 &&
        st.code == 0) {
        Cjx__V1__ListOutboxResponse *r = (Cjx__V1__ListOutboxResponse *)resp;
        for (size_t i = 0; i < r->n_counts; i++)
            pos += r->counts[i]->pending;
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    cjx_client_free(cl);
    return pos;
}

/* One end-to-end run; returns decided cases per second, *decided_out the
 * number of cases that went through every hop. */
static double
e2e_once(const char *cjxd, const struct notices *ns, int64_t *decided_out)
{
    pid_t pids[N_E2E];
    for (int i = 0; i < N_E2E; i++) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -f %s/run/%s/cjxd.db*", certs,
                 e2e_daemons[i]);
        if (system(cmd) != 0)
            cjx_fatal("bench", "cannot clear %s", e2e_daemons[i]);
        pids[i] = spawn(cjxd, e2e_daemons[i]);
    }
    for (int i = 0; i < N_E2E; i++)
        wait_up(e2e_daemons[i]);

    /* Every case notified, as DOJ's loader does, then every hop. */
    struct cjx_client *cl = local("doj");
    const struct cjx_method *m =
        &cjx__v1__case_service__methods[CASE_SERVICE_NOTIFY_CANDIDATES];
    int64_t start = cjx_clock_monotonic_us();
    for (size_t from = 0; from < ns->count; from += 10000) {
        size_t to = from + 10000 < ns->count ? from + 10000 : ns->count;
        struct cjx_client_stream *st;
        if (cjx_client_stream_open(cl, m, NULL, 0, &st) != 0)
            cjx_fatal("bench", "stream");
        for (size_t i = from; i < to; i++) {
            /* DOJ originates: it dates the notice and picks the addressee. */
            ns->n[i]->notified_at_unix_us = 0;
            ns->n[i]->prosecutor_ori = "";
            cjx_client_stream_write(st, &ns->n[i]->base);
        }
        ProtobufCMessage *resp = NULL;
        struct cjx_client_status status;
        cjx_client_stream_finish(st, &resp, &status);
        cjx_client_stream_free(st);
        if (status.code != 0)
            cjx_fatal("bench", "NotifyCandidates: %s", status.message);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    cjx_client_free(cl);
    /* Settled: nothing moves on any daemon (cheap looks), then everything
     * decided is history-updated everywhere. The time is that of the first
     * look that saw it quiet. */
    int64_t decided = 0, settled_at = 0;
    int64_t last[N_E2E] = {0};
    for (int steady = 0;;) {
        int same = 1;
        for (int i = 0; i < N_E2E; i++) {
            int64_t p = position_at(e2e_daemons[i]);
            same &= p == last[i] && p % 1000000 == 0;
            last[i] = p;
        }
        if (!same) {
            steady = 0;
            settled_at = cjx_clock_monotonic_us();
        } else if (++steady >= 3) {
            int done = 1;
            for (int i = 0; i < N_E2E; i++) {
                int64_t u, d;
                count_at(e2e_daemons[i], &u, &d);
                done &= u == d && d > 0;
                if (i == 0)
                    decided = d;
            }
            if (done)
                break;
            steady = 0;
        }
        nap_ms(50);
    }
    double secs = (double)(settled_at - start) / 1e6;
    for (int i = 0; i < N_E2E; i++) {
        kill(pids[i], SIGTERM);
        waitpid(pids[i], NULL, 0);
    }
    *decided_out = decided;
    return (double)decided / secs;
}

int
main(int argc, char **argv)
{
    size_t n_ingest = 40000, n_e2e = 5000;
    int repeats = 5;
    int ch;
    while ((ch = getopt(argc, argv, "n:e:r:")) != -1) {
        switch (ch) {
        case 'n':
            n_ingest = (size_t)atol(optarg);
            break;
        case 'e':
            n_e2e = (size_t)atol(optarg);
            break;
        case 'r':
            repeats = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: bench_exchange [-n NOTICES] [-e CASES] "
                            "[-r REPEATS]\n");
            return 2;
        }
    }
    if (repeats < 1 || repeats > 50)
        repeats = 5;
    if (getenv("CJX_SOURCE_DIR") != NULL)
        source_dir = getenv("CJX_SOURCE_DIR");
    signal(SIGPIPE, SIG_IGN);
    cjx_log_set_level(CJX_LOG_WARN);
    snprintf(certs, sizeof(certs), "/tmp/cjx-bench-certs-XXXXXX");
    if (mkdtemp(certs) == NULL)
        return 1;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "%s/certs/make-dev-certs.sh %s >/dev/null",
             source_dir, certs);
    if (system(cmd) != 0)
        cjx_fatal("bench", "make-dev-certs.sh failed");

    struct notices ingest, e2e;
    make_notices(&ingest, n_ingest, 7, "bench-ingest");
    make_notices(&e2e, n_e2e, 9, "bench-e2e");
    printf("bulk-notice ingest: %zu notices per run, DOJ -> San Francisco DA "
           "over mTLS, %d runs\n",
           n_ingest, repeats);
    double noop[50], real[50];
    for (int r = 0; r < repeats; r++) {
        noop[r] = ingest_once(&ingest, 1);
        real[r] = ingest_once(&ingest, 0);
        printf("  run %d: no-op stream %.0f notices/s, durable ingest %.0f "
               "notices/s\n",
               r + 1, noop[r], real[r]);
    }
    double mn = median(noop, repeats), mr = median(real, repeats);
    printf("median: no-op stream %.0f notices/s, durable ingest %.0f "
           "notices/s, ratio %.2f (target >= 0.60)\n\n",
           mn, mr, mr / mn);

    char cjxd[600];
    const char *env = getenv("CJX_CJXD");
    if (env != NULL) {
        snprintf(cjxd, sizeof(cjxd), "%s", env);
    } else {
        /* Beside this program in the build tree: build/bench -> build/src. */
        char self[512];
        ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[k > 0 ? k : 0] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(cjxd, sizeof(cjxd), "%s/../src/daemon/cjxd", self);
    }
    int e2e_runs = n_e2e == 0 ? 0 : repeats < 3 ? repeats : 3;
    printf("end to end: %zu candidates through DOJ, DA, court and public "
           "defender daemons, %d runs\n",
           n_e2e, e2e_runs);
    double rate[50];
    for (int r = 0; r < e2e_runs; r++) {
        int64_t decided;
        rate[r] = e2e_once(cjxd, &e2e, &decided);
        printf("  run %d: %" PRId64 " cases decided, ordered and "
               "history-updated: %.0f cases/s through all hops\n",
               r + 1, decided, rate[r]);
    }
    if (e2e_runs > 0)
        printf("median: %.0f cases/s end to end (each: notice, decision, "
               "order, acknowledgement, 12 deliveries, 15 durable steps)\n",
               median(rate, e2e_runs));

    snprintf(cmd, sizeof(cmd), "rm -rf %s", certs);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", certs);
    cjx_arena_fini(&ingest.arena);
    cjx_arena_fini(&e2e.arena);
    cjx_rules_registry_free(ingest.reg);
    cjx_rules_registry_free(e2e.reg);
    free(ingest.n);
    free(e2e.n);
    return 0;
}
