/* Benchmark of the relief exchange and its cost model, every figure with
 * its baseline measured in the same run:
 *
 *  1. Bulk-notice ingest: a District Attorney's server (services, rules and
 *     a durable SQLite store, in a process of its own: this program run
 *     with --serve) takes DOJ's candidate notices in NotifyCandidates
 *     streams over mTLS, against the same server whose NotifyCandidates
 *     handler discards each notice (the no-op stream). Throughput and the
 *     server's CPU time per notice (user + system, /proc/PID/stat), both
 *     against the no-op's: what checking, storing and auditing a step
 *     costs over receiving the message at all.
 *  2. End to end: real cjxd processes for DOJ, the San Francisco District
 *     Attorney, court and public defender, with their stand-in policies;
 *     DOJ is given candidates and the time until every decided case is
 *     history-updated everywhere (notice, decision, order, acknowledgement,
 *     each delivered to every party) gives cases/s through all hops, the
 *     CPU time of all four daemons per case, per durable step and per
 *     delivered message, and each hand-off's latency from the step's
 *     commit at the sender to the receiver's commit (the feeds' times in
 *     both stores), under that load and, one case at a time, idle.
 *  3. Each daemon's start to its first answer and its resident memory
 *     idle and at its peak (/proc/PID/status).
 *
 * Notices are made by tools/gen-records and evaluated with rules/ before
 * timing starts. Each figure is the median of several runs.
 *
 * Usage: bench_exchange [-n NOTICES] [-e CASES] [-r REPEATS] [-i IDLE]
 *                       [-p PERF_DATA]
 * -p records the durable server of one ingest run with perf(1) into
 * PERF_DATA (bench/cost-stages groups it by stage). With
 * CJX_BENCH_CALLGRIND=DIR in the environment both ingest servers run
 * under valgrind's callgrind, which writes DIR/callgrind.MODE.PID: the
 * difference between the instruction counts of two runs of different -n
 * is the cost of the notices between them, whatever the machine's load. */
#include <getopt.h>
#include <stddef.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
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

static void
nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- processes: CPU time and memory from /proc ---------------------------- */

/* User + system CPU time of process pid so far, microseconds. */
static int64_t
cpu_us_of(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (which may hold spaces): state is
     * field 3; utime and stime are 14 and 15. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (p == NULL || sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%llu %llu",
                            &ut, &st) != 2)
        return -1;
    return (int64_t)((ut + st) * 1000000ULL /
                     (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* A line of /proc/PID/status in KiB (VmRSS, VmHWM), or -1. */
static long
status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t len = strlen(field);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            v = atol(line + len + 1);
    if (f != NULL)
        fclose(f);
    return v;
}

/* ---- the ingest server in a process of its own --------------------------------- */

/* bench_exchange --serve noop|durable CERTS: starts the server, prints its
 * port, and stops when its standard input closes. */
static int
serve_main(const char *mode, const char *dir)
{
    snprintf(certs, sizeof(certs), "%s", dir);
    struct ingest_server s;
    memset(&s, 0, sizeof(s));
    ingest_start(&s, strcmp(mode, "noop") == 0);
    printf("%d\n", cjx_rpc_server_port(s.rpc));
    fflush(stdout);
    char c;
    while (read(STDIN_FILENO, &c, 1) > 0) {
    }
    ingest_stop(&s);
    return 0;
}

struct child {
    pid_t pid;
    int to;   /* its standard input: closing it stops the server */
    int port; /* where it listens */
};

static void
child_start(struct child *ch, int noop)
{
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        cjx_fatal("bench", "pipe failed");
    ch->pid = fork();
    if (ch->pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[1]);
        close(out[0]);
        const char *mode = noop ? "noop" : "durable";
        const char *grind = getenv("CJX_BENCH_CALLGRIND");
        if (grind != NULL) {
            /* Counts the server's instructions instead (slow): compare
             * two runs of different sizes for the cost per notice. */
            char grind_out[512], self[512];
            snprintf(grind_out, sizeof(grind_out),
                     "--callgrind-out-file=%s/callgrind.%s.%%p", grind, mode);
            ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
            self[k > 0 ? k : 0] = '\0';
            execlp("valgrind", "valgrind", "-q", "--tool=callgrind", grind_out,
                   self, "--serve", mode, certs, (char *)NULL);
            _exit(127);
        }
        execl("/proc/self/exe", "bench_exchange", "--serve", mode, certs,
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    ch->to = in[1];
    char buf[32] = "";
    ssize_t n = read(out[0], buf, sizeof(buf) - 1);
    close(out[0]);
    ch->port = n > 0 ? atoi(buf) : 0;
    if (ch->port <= 0)
        cjx_fatal("bench", "the ingest server did not start");
}

static void
child_stop(struct child *ch)
{
    close(ch->to);
    waitpid(ch->pid, NULL, 0);
}

struct ingest_figures {
    double rate;   /* notices/s */
    double cpu_us; /* server CPU per notice */
};

/* Streams every notice as DOJ to a server in a process of its own. With
 * perf_data, perf(1) records that server for the run. */
static struct ingest_figures
ingest_once(const struct notices *ns, int noop, const char *perf_data)
{
    struct child ch;
    child_start(&ch, noop);
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", ch.port);
    char *ca = slurp("ca.pem"), *cert = slurp("doj.pem"),
         *key = slurp("doj.key");
    struct cjx_client *cl;
    struct cjx_errbuf eb;
    if (cjx_client_connect_tls(target, ca, cert, key, &cl, &eb) != 0)
        cjx_fatal("bench", "%s", eb.msg);
    cjx_tls_free_pem(ca, strlen(ca));
    cjx_tls_free_pem(cert, strlen(cert));
    cjx_tls_free_pem(key, strlen(key));
    pid_t perf = 0;
    if (perf_data != NULL) {
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", (int)ch.pid);
        perf = fork();
        if (perf == 0) {
            execlp("perf", "perf", "record", "-q", "-g", "-F", "997", "-o",
                   perf_data, "-p", pid, (char *)NULL);
            _exit(127);
        }
        nap_ms(500); /* perf attaches before the load starts */
    }
    const struct cjx_method *m =
        &cjx__v1__case_service__methods[CASE_SERVICE_NOTIFY_CANDIDATES];
    int64_t cpu0 = cpu_us_of(ch.pid);
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
    int64_t cpu = cpu_us_of(ch.pid) - cpu0;
    if (perf > 0) {
        kill(perf, SIGINT);
        waitpid(perf, NULL, 0);
    }
    if ((size_t)accepted != ns->count)
        cjx_fatal("bench", "%d of %zu notices accepted", accepted, ns->count);
    cjx_client_free(cl);
    child_stop(&ch);
    return (struct ingest_figures){(double)ns->count / secs,
                                   (double)cpu / (double)ns->count};
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

/* Waits until the daemon answers its stats. */
static void
wait_up(const char *slug)
{
    for (int i = 0; i < 5000; i++) {
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
        nap_ms(2);
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

/* Sends notices [from, to) in NotifyCandidates streams to DOJ, which
 * originates them: it dates each notice and picks its addressee. */
static void
notify(struct cjx_client *cl, const struct notices *ns, size_t from, size_t to)
{
    const struct cjx_method *m =
        &cjx__v1__case_service__methods[CASE_SERVICE_NOTIFY_CANDIDATES];
    for (size_t at = from; at < to; at += 10000) {
        size_t end = at + 10000 < to ? at + 10000 : to;
        struct cjx_client_stream *st;
        if (cjx_client_stream_open(cl, m, NULL, 0, &st) != 0)
            cjx_fatal("bench", "stream");
        for (size_t i = at; i < end; i++) {
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
}

/* Waits until nothing moves on any daemon (cheap looks) and everything
 * decided is history-updated everywhere. Returns the time of the first
 * look that saw it quiet, and the decided cases in *decided. */
static int64_t
settle(int64_t *decided, int nap)
{
    int64_t settled_at = cjx_clock_monotonic_us();
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
                    *decided = d;
            }
            if (done)
                return settled_at;
            steady = 0;
        }
        nap_ms(nap);
    }
}

/* Hand-off latencies, microseconds: from the commit of a step at the
 * sender to the commit of the same step at the receiver, read from the
 * case feeds (case_changes.stored_at_us) of both stores once the run is
 * over. Only the steps of cases in (after_case_id, ...] at the sender. */
struct latencies {
    int64_t *v;
    size_t n, cap;
};

static void
add_latencies(struct latencies *l, const char *from, const char *to,
              int event_lo, int event_hi, int64_t since_us)
{
    char path[600], sql[1200];
    snprintf(path, sizeof(path), "%s/run/%s/cjxd.db", certs, from);
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        cjx_fatal("bench", "%s: %s", path, sqlite3_errmsg(db));
    snprintf(sql, sizeof(sql), "ATTACH '%s/run/%s/cjxd.db' AS peer", certs, to);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        cjx_fatal("bench", "attach: %s", sqlite3_errmsg(db));
    snprintf(
        sql, sizeof(sql),
        "SELECT pv.stored_at_us - sv.stored_at_us"
        " FROM main.case_changes sv"
        " JOIN main.cases sc ON sc.id = sv.case_id"
        " JOIN peer.cases pc ON pc.cii = sc.cii"
        "  AND pc.court_case_number = sc.court_case_number"
        "  AND pc.count_number = sc.count_number"
        " JOIN peer.case_changes pv ON pv.case_id = pc.id"
        "  AND pv.event = sv.event"
        " WHERE sv.event BETWEEN %d AND %d AND sv.stored_at_us >= %" PRId64,
        event_lo, event_hi, since_us);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        cjx_fatal("bench", "latency query: %s", sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 4096;
            l->v = realloc(l->v, l->cap * sizeof(*l->v));
        }
        l->v[l->n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double
percentile_ms(struct latencies *l, double q)
{
    if (l->n == 0)
        return 0;
    qsort(l->v, l->n, sizeof(*l->v), cmp_i64);
    size_t k = (size_t)(q * (double)(l->n - 1) + 0.5);
    return (double)l->v[k] / 1000.0;
}

/* Every hand-off of the main job's mix: DOJ's notice to the prosecutor,
 * the prosecutor's decision to the court, the court's order to DOJ and
 * DOJ's acknowledgement to the court. */
static void
hand_off_latencies(struct latencies *l, int64_t since_us)
{
    l->n = 0;
    add_latencies(l, "doj", "sf-da", 2, 2, since_us);
    add_latencies(l, "sf-da", "sf-court", 3, 4, since_us);
    add_latencies(l, "sf-court", "doj", 5, 5, since_us);
    add_latencies(l, "doj", "sf-court", 6, 6, since_us);
}

struct e2e_figures {
    double rate; /* decided cases/s through every hop */
    int64_t decided;
    double cpu_per_case_us; /* all four daemons */
    double start_ms[N_E2E]; /* spawn to the first answer */
    long idle_kib[N_E2E], peak_kib[N_E2E];
    double p50_ms, p99_ms;           /* hand-offs under the load */
    double idle_p50_ms, idle_p99_ms; /* one case at a time */
};

/* One end-to-end run: every case at once, then idle_cases more one at a
 * time once the exchange is quiet. */
static void
e2e_once(const char *cjxd, const struct notices *ns, size_t idle_cases,
         struct e2e_figures *out)
{
    pid_t pids[N_E2E];
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < N_E2E; i++) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -f %s/run/%s/cjxd.db*", certs,
                 e2e_daemons[i]);
        if (system(cmd) != 0)
            cjx_fatal("bench", "cannot clear %s", e2e_daemons[i]);
        int64_t t0 = cjx_clock_monotonic_us();
        pids[i] = spawn(cjxd, e2e_daemons[i]);
        wait_up(e2e_daemons[i]);
        out->start_ms[i] = (double)(cjx_clock_monotonic_us() - t0) / 1000.0;
    }
    int64_t cpu0 = 0;
    for (int i = 0; i < N_E2E; i++) {
        out->idle_kib[i] = status_kib(pids[i], "VmRSS");
        cpu0 += cpu_us_of(pids[i]);
    }

    size_t loaded = ns->count - idle_cases;
    struct cjx_client *cl = local("doj");
    int64_t start = cjx_clock_monotonic_us();
    notify(cl, ns, 0, loaded);
    int64_t decided = 0;
    int64_t settled_at = settle(&decided, 50);
    int64_t cpu = -cpu0;
    for (int i = 0; i < N_E2E; i++)
        cpu += cpu_us_of(pids[i]);
    out->rate = (double)decided / ((double)(settled_at - start) / 1e6);
    out->decided = decided;
    out->cpu_per_case_us = (double)cpu / (double)decided;
    struct latencies l = {0};
    hand_off_latencies(&l, 0);
    out->p50_ms = percentile_ms(&l, 0.50);
    out->p99_ms = percentile_ms(&l, 0.99);

    /* Idle: one case at a time through a quiet exchange. */
    int64_t idle_since = cjx_clock_now_us();
    for (size_t i = loaded; i < ns->count; i++) {
        notify(cl, ns, i, i + 1);
        settle(&decided, 5);
    }
    cjx_client_free(cl);
    hand_off_latencies(&l, idle_since);
    out->idle_p50_ms = percentile_ms(&l, 0.50);
    out->idle_p99_ms = percentile_ms(&l, 0.99);
    free(l.v);

    for (int i = 0; i < N_E2E; i++) {
        out->peak_kib[i] = status_kib(pids[i], "VmHWM");
        kill(pids[i], SIGTERM);
        waitpid(pids[i], NULL, 0);
    }
}

/* The medians of the end-to-end runs, field by field. */
static double
median_of(const struct e2e_figures *f, int n, size_t offset)
{
    double v[50];
    for (int i = 0; i < n; i++)
        v[i] = *(const double *)((const char *)&f[i] + offset);
    return median(v, n);
}

#define MEDIAN(f, n, field) median_of(f, n, offsetof(struct e2e_figures, field))

static void
print_ingest(const struct notices *ingest, int repeats, const char *perf_data)
{
    printf("bulk-notice ingest: %zu notices per run, DOJ -> San Francisco DA "
           "over mTLS, server in its own process, %d runs\n",
           ingest->count, repeats);
    double noop[50], real[50], noop_cpu[50], real_cpu[50];
    for (int r = 0; r < repeats; r++) {
        struct ingest_figures n = ingest_once(ingest, 1, NULL);
        struct ingest_figures d =
            ingest_once(ingest, 0, r == 0 ? perf_data : NULL);
        noop[r] = n.rate;
        real[r] = d.rate;
        noop_cpu[r] = n.cpu_us;
        real_cpu[r] = d.cpu_us;
        printf("  run %d: no-op stream %.0f notices/s (%.1f us CPU each), "
               "durable ingest %.0f notices/s (%.1f us CPU each)\n",
               r + 1, n.rate, n.cpu_us, d.rate, d.cpu_us);
    }
    double mn = median(noop, repeats), mr = median(real, repeats);
    double cn = median(noop_cpu, repeats), cr = median(real_cpu, repeats);
    printf("median: no-op stream %.0f notices/s, durable ingest %.0f "
           "notices/s, ratio %.2f (target >= 0.80: %s)\n",
           mn, mr, mr / mn, mr / mn >= 0.8 ? "met" : "not met");
    printf("median server CPU per notice: no-op %.1f us, durable step %.1f "
           "us, ratio %.2f (target <= 2.00: %s)\n\n",
           cn, cr, cr / cn, cr / cn <= 2.0 ? "met" : "not met");
}

static void
print_e2e(const char *cjxd, const struct notices *e2e, size_t idle, int runs)
{
    printf("end to end: %zu candidates through DOJ, DA, court and public "
           "defender daemons, then %zu one at a time, %d runs\n",
           e2e->count - idle, idle, runs);
    struct e2e_figures f[50];
    for (int r = 0; r < runs; r++) {
        e2e_once(cjxd, e2e, idle, &f[r]);
        printf("  run %d: %" PRId64 " cases decided, ordered and "
               "history-updated: %.0f cases/s through all hops, %.0f us "
               "CPU per case\n",
               r + 1, f[r].decided, f[r].rate, f[r].cpu_per_case_us);
    }
    if (runs == 0)
        return;
    /* Each case: notice, decision, order, acknowledgement, each stored
     * where it is taken and by each receiver: 15 durable steps, 12
     * deliveries (docs/performance.md). */
    double cpu = MEDIAN(f, runs, cpu_per_case_us);
    printf("median: %.0f cases/s end to end; CPU of all daemons %.0f us per "
           "case, %.0f us per durable step (15 a case), %.0f us per "
           "delivered message (12 a case)\n",
           MEDIAN(f, runs, rate), cpu, cpu / 15, cpu / 12);
    printf("hand-off, step's commit -> receiver's commit: under load p50 "
           "%.1f ms p99 %.1f ms; idle p50 %.1f ms p99 %.1f ms (target p99 "
           "<= 10 ms idle: %s)\n",
           MEDIAN(f, runs, p50_ms), MEDIAN(f, runs, p99_ms),
           MEDIAN(f, runs, idle_p50_ms), MEDIAN(f, runs, idle_p99_ms),
           MEDIAN(f, runs, idle_p99_ms) <= 10.0 ? "met" : "not met");
    printf("%-10s %14s %12s %12s\n", "daemon", "start (ms)", "idle RSS",
           "peak RSS");
    for (int i = 0; i < N_E2E; i++)
        printf("%-10s %14.1f %9.1f MiB %9.1f MiB\n", e2e_daemons[i],
               f[runs - 1].start_ms[i],
               (double)f[runs - 1].idle_kib[i] / 1024.0,
               (double)f[runs - 1].peak_kib[i] / 1024.0);
    printf("targets: start to SERVING <= 100 ms, idle RSS <= 32 MiB\n");
}

int
main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--serve") == 0)
        return serve_main(argv[2], argv[3]);
    size_t n_ingest = 40000, n_e2e = 5000, n_idle = 50;
    int repeats = 5;
    const char *perf_data = NULL;
    int ch;
    while ((ch = getopt(argc, argv, "n:e:r:i:p:")) != -1) {
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
        case 'i':
            n_idle = (size_t)atol(optarg);
            break;
        case 'p':
            perf_data = optarg;
            break;
        default:
            fprintf(stderr, "usage: bench_exchange [-n NOTICES] [-e CASES] "
                            "[-r REPEATS] [-i IDLE] [-p PERF_DATA]\n");
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
    /* The development court leaves unchallenged cases to the judge's bulk
     * order; here its stand-in orders each one, so that every decided case
     * goes through every hop by itself. */
    snprintf(cmd, sizeof(cmd),
             "sed -i 's/unchallenged: pending/unchallenged: accepted/' "
             "%s/sf-court.yaml",
             certs);
    if (system(cmd) != 0)
        cjx_fatal("bench", "cannot set the court's stand-in");

    struct notices ingest, e2e;
    make_notices(&ingest, n_ingest, 7, "bench-ingest");
    make_notices(&e2e, n_e2e + n_idle, 9, "bench-e2e");
    print_ingest(&ingest, repeats, perf_data);

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
    print_e2e(cjxd, &e2e, n_idle, n_e2e == 0 ? 0 : repeats < 3 ? repeats : 3);

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
