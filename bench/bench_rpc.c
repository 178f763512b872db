/* Benchmark: unary mTLS calls/s of cjxd's GetRecord and durable SubmitRecord
 * against the same server with no-op handlers, measured in the same run.
 * With --postgres DSN (or under tests/support/with-postgres), durable
 * submits at 64 in flight also on PostgreSQL: one replica, and two
 * replicas of one agency on the database, each taking half the load.
 *
 * The server (rpc + services + a SQLite store in a temporary directory) and
 * the load generator share this process and the machine's cores, as they
 * would on a 2-core test box. The load generator keeps N calls in flight on
 * one mTLS channel. Each configuration runs several times; the medians and
 * the ratios against the no-op baseline are printed. */
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cjx/client.h"
#include "cjx/clock.h"
#include "cjx/conf.h"
#include "cjx/log.h"
#include "cjx/rpc.h"
#include "cjx/service.h"
#include "cjx/store.h"
#include "cjx/store_pg.h"
#include "cjx/tls.h"
#include "codec.h"
#include "cjx/v1/record_service.methods.h"

#define MAX_SLOTS 64
#define GET_KEYS  1000

static int repeats = 5;
static double seconds = 2.0;
static char certs[256];

/* ---- no-op handlers: same messages, no store ---------------------------- */

static uint8_t canned_record[1024];
static size_t canned_record_len;

static void
noop_submit(struct cjx_call *c, const ProtobufCMessage *req)
{
    (void)req;
    Cjx__V1__SubmitRecordResponse resp = CJX__V1__SUBMIT_RECORD_RESPONSE__INIT;
    resp.version = 1;
    resp.seq = 1;
    c->ops->reply(c, &resp.base);
}

static void
noop_get(struct cjx_call *c, const ProtobufCMessage *req)
{
    (void)req;
    /* The same reply a real get sends, without reading the store. */
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(c->arena);
    Cjx__V1__StoredRecord out = CJX__V1__STORED_RECORD__INIT;
    out.record = cjx__v1__conviction_record__unpack(&alloc, canned_record_len,
                                                    canned_record);
    out.version = 1;
    out.seq = 1;
    out.submitted_by = "CA0000001";
    c->ops->reply(c, &out.base);
}

/* ---- the server under test ------------------------------------------------ */

struct bench_server {
    struct cjx_store *store;
    struct cjx_service *service;
    struct cjx_rpc_server *rpc;
    struct cjx_handler noop[2];
    const struct cjx_handler *handlers[8];
    char dir[64];
};

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

/* A server with no-op handlers (noop), or the real ones on a SQLite store
 * in a temporary directory or, with pg_dsn, on that PostgreSQL database. */
static void
server_start(struct bench_server *s, int noop, const char *pg_dsn)
{
    struct cjx_errbuf eb;
    snprintf(s->dir, sizeof(s->dir), "/tmp/cjx-bench-XXXXXX");
    if (mkdtemp(s->dir) == NULL)
        cjx_fatal("bench", "mkdtemp failed");
    char path[512];
    snprintf(path, sizeof(path), "%s/bench.db", s->dir);
    struct cjx_store_pg_options pg = {.dsn = pg_dsn};
    if ((pg_dsn != NULL
             ? cjx_store_pg_open(&pg, &s->store, &eb)
             : cjx_store_sqlite_open(path, NULL, &s->store, &eb)) != 0 ||
        cjx_service_new(s->store, &s->service) != 0)
        cjx_fatal("bench", "store: %s", eb.msg);
    size_t n = 0;
    if (noop) {
        s->noop[0] = (struct cjx_handler){
            .method =
                &cjx__v1__record_service__methods[RECORD_SERVICE_SUBMIT_RECORD],
            .unary = noop_submit};
        s->noop[1] = (struct cjx_handler){
            .method =
                &cjx__v1__record_service__methods[RECORD_SERVICE_GET_RECORD],
            .unary = noop_get};
        s->handlers[n++] = &s->noop[0];
        s->handlers[n++] = &s->noop[1];
    } else {
        s->handlers[n++] =
            cjx_service_find("/cjx.v1.RecordService/SubmitRecord");
        s->handlers[n++] = cjx_service_find("/cjx.v1.RecordService/GetRecord");
    }
    snprintf(path, sizeof(path), "%s/doj.yaml", certs);
    struct cjx_conf *conf;
    if (cjx_conf_load(path, &conf, &eb) != 0)
        cjx_fatal("bench", "%s", eb.msg);
    free(conf->listen);
    conf->listen = strdup("127.0.0.1:0");
    char *ca = slurp("ca.pem"), *cert = slurp("doj.pem"),
         *key = slurp("doj.key");
    struct cjx_rpc_tls tls = {.ca_pem = ca, .cert_pem = cert, .key_pem = key};
    struct cjx_rpc_server_options opts = {.listen = "127.0.0.1:0",
                                          .handlers = s->handlers,
                                          .n_handlers = n,
                                          .service = s->service};
    if (cjx_rpc_server_start(&opts, conf, &tls, &s->rpc, &eb) != 0)
        cjx_fatal("bench", "server: %s", eb.msg);
    cjx_conf_unref(conf); /* the server holds its own reference */
    cjx_tls_free_pem(ca, strlen(ca));
    cjx_tls_free_pem(cert, strlen(cert));
    cjx_tls_free_pem(key, strlen(key));
}

static void
server_stop(struct bench_server *s)
{
    cjx_service_shutdown(s->service);
    cjx_rpc_server_free(s->rpc);
    cjx_service_free(s->service);
    cjx_store_close(s->store);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s->dir);
}

/* ---- the load generator --------------------------------------------------- */

enum workload { WORK_GET, WORK_SUBMIT };

struct slot {
    grpc_call *call;
    grpc_byte_buffer *req, *resp;
    grpc_metadata_array imd, tmd;
    grpc_status_code status;
    grpc_slice details;
};

struct load {
    grpc_channel *ch;
    grpc_completion_queue *cq;
    void *path_handle;
    enum workload work;
    uint64_t next_id; /* keys of submitted records */
    uint64_t run_tag; /* makes every run's keys new */
    long done, failed;
};

static void
make_record(Cjx__V1__ConvictionRecord *r, Cjx__V1__Person *p,
            Cjx__V1__Statute *st, Cjx__V1__Date *d, char *cii, char *ccn)
{
    cjx__v1__conviction_record__init(r);
    cjx__v1__person__init(p);
    cjx__v1__statute__init(st);
    cjx__v1__date__init(d);
    p->cii = cii;
    p->last_name = "BENCHMARK";
    p->first_name = "RECORD";
    d->year = 1980;
    d->month = 1;
    d->day = 2;
    p->date_of_birth = d;
    st->code = "HS";
    st->section = "11359";
    st->normalized = "HS 11359";
    st->code_raw = "11359 HS-POSSESS MARIJUANA FOR SALE";
    r->subject = p;
    r->county = "San Francisco";
    r->court_ori = "CA038033J";
    r->court_case_number = ccn;
    r->count_number = 1;
    r->offense_date = d;
    r->conviction_date = d;
    r->charge = st;
    r->level = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY;
    r->disposition = CJX__V1__DISPOSITION__DISPOSITION_CONVICTED;
    r->prosecuting_agency_ori = "CA038013A";
}

static grpc_byte_buffer *
next_request(struct load *l)
{
    char cii[16], ccn[40], id[48];
    uint64_t n = l->next_id++;
    if (l->work == WORK_GET) {
        snprintf(cii, sizeof(cii), "G%08" PRIu64, n % GET_KEYS);
        Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
        key.cii = cii;
        key.court_case_number = "GET-CASE";
        key.count_number = 1;
        Cjx__V1__GetRecordRequest req = CJX__V1__GET_RECORD_REQUEST__INIT;
        req.key = &key;
        return codec_encode(&req.base);
    }
    snprintf(cii, sizeof(cii), "S%08" PRIu64, n % 100000000);
    snprintf(ccn, sizeof(ccn), "R%" PRIu64 "-%" PRIu64, l->run_tag, n);
    snprintf(id, sizeof(id), "bench-%" PRIu64 "-%" PRIu64, l->run_tag, n);
    Cjx__V1__ConvictionRecord r;
    Cjx__V1__Person p;
    Cjx__V1__Statute st;
    Cjx__V1__Date d;
    make_record(&r, &p, &st, &d, cii, ccn);
    Cjx__V1__RequestMeta meta = CJX__V1__REQUEST_META__INIT;
    meta.request_id = id;
    Cjx__V1__SubmitRecordRequest req = CJX__V1__SUBMIT_RECORD_REQUEST__INIT;
    req.meta = &meta;
    req.record = &r;
    return codec_encode(&req.base);
}

static void
slot_start(struct load *l, struct slot *s)
{
    memset(s, 0, sizeof(*s));
    s->req = next_request(l);
    grpc_metadata_array_init(&s->imd);
    grpc_metadata_array_init(&s->tmd);
    s->call = grpc_channel_create_registered_call(
        l->ch, NULL, GRPC_PROPAGATE_DEFAULTS, l->cq, l->path_handle,
        gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->imd;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->tmd;
    if (grpc_call_start_batch(s->call, ops, 6, s, NULL) != GRPC_CALL_OK)
        cjx_fatal("bench", "start_batch failed");
}

static void
slot_finish(struct load *l, struct slot *s)
{
    if (s->status != GRPC_STATUS_OK) {
        if (l->failed++ == 0)
            fprintf(stderr, "call failed: %d %.*s\n", s->status,
                    (int)GRPC_SLICE_LENGTH(s->details),
                    (const char *)GRPC_SLICE_START_PTR(s->details));
    }
    grpc_byte_buffer_destroy(s->req);
    grpc_byte_buffer_destroy(s->resp);
    grpc_metadata_array_destroy(&s->imd);
    grpc_metadata_array_destroy(&s->tmd);
    grpc_slice_unref(s->details);
    grpc_call_unref(s->call);
}

/* Keeps `inflight` calls going for `secs`; returns completed calls/s. */
static double
run_load(struct load *l, int inflight, double secs)
{
    struct slot slots[MAX_SLOTS];
    l->done = l->failed = 0;
    for (int i = 0; i < inflight; i++)
        slot_start(l, &slots[i]);
    int64_t start = cjx_clock_monotonic_us();
    int64_t stop = start + (int64_t)(secs * 1e6);
    int running = inflight;
    while (running > 0) {
        grpc_event ev = grpc_completion_queue_next(
            l->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        struct slot *s = ev.tag;
        slot_finish(l, s);
        l->done++;
        if (cjx_clock_monotonic_us() < stop)
            slot_start(l, s);
        else
            running--;
    }
    double elapsed = (double)(cjx_clock_monotonic_us() - start) / 1e6;
    if (l->failed > 0)
        fprintf(stderr, "%ld of %ld calls failed\n", l->failed, l->done);
    return (double)l->done / elapsed;
}

static void
load_open(struct load *l, int port, enum workload work)
{
    memset(l, 0, sizeof(*l));
    char *ca = slurp("ca.pem"), *cert = slurp("doj.pem"),
         *key = slurp("doj.key");
    grpc_ssl_pem_key_cert_pair pair = {key, cert};
    grpc_channel_credentials *creds =
        grpc_ssl_credentials_create(ca, &pair, NULL, NULL);
    grpc_arg args[1] = {{.type = GRPC_ARG_INTEGER,
                         .key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
                         .value.integer = 1}};
    grpc_channel_args cargs = {1, args};
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    l->ch = grpc_channel_create(target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    cjx_tls_free_pem(ca, strlen(ca));
    cjx_tls_free_pem(cert, strlen(cert));
    cjx_tls_free_pem(key, strlen(key));
    l->cq = grpc_completion_queue_create_for_next(NULL);
    l->work = work;
    l->path_handle = grpc_channel_register_call(
        l->ch,
        work == WORK_GET ? "/cjx.v1.RecordService/GetRecord"
                         : "/cjx.v1.RecordService/SubmitRecord",
        NULL, NULL);
    l->run_tag = (uint64_t)cjx_clock_now_us();
}

static void
load_close(struct load *l)
{
    grpc_channel_destroy(l->ch);
    grpc_completion_queue_shutdown(l->cq);
    while (grpc_completion_queue_next(l->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                      NULL)
               .type != GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(l->cq);
}

/* Stores the records that GetRecord reads, through the real submit path. */
static void
populate(int port)
{
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    char *ca = slurp("ca.pem"), *cert = slurp("doj.pem"),
         *key = slurp("doj.key");
    struct cjx_client *cl;
    struct cjx_errbuf eb;
    if (cjx_client_connect_tls(target, ca, cert, key, &cl, &eb) != 0)
        cjx_fatal("bench", "%s", eb.msg);
    for (int i = 0; i < GET_KEYS; i++) {
        char cii[16], id[32];
        snprintf(cii, sizeof(cii), "G%08d", i);
        snprintf(id, sizeof(id), "populate-%d", i);
        Cjx__V1__ConvictionRecord r;
        Cjx__V1__Person p;
        Cjx__V1__Statute st;
        Cjx__V1__Date d;
        make_record(&r, &p, &st, &d, cii, "GET-CASE");
        Cjx__V1__RequestMeta meta = CJX__V1__REQUEST_META__INIT;
        meta.request_id = id;
        Cjx__V1__SubmitRecordRequest req = CJX__V1__SUBMIT_RECORD_REQUEST__INIT;
        req.meta = &meta;
        req.record = &r;
        ProtobufCMessage *resp;
        struct cjx_client_status st_;
        if (cjx_client_unary(
                cl,
                &cjx__v1__record_service__methods[RECORD_SERVICE_SUBMIT_RECORD],
                &req.base, 10000, &resp, &st_) != 0 ||
            st_.code != 0)
            cjx_fatal("bench", "populate: %s", st_.message);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    cjx_client_free(cl);
    cjx_tls_free_pem(ca, strlen(ca));
    cjx_tls_free_pem(cert, strlen(cert));
    cjx_tls_free_pem(key, strlen(key));
}

/* The record the no-op GetRecord answers with: the one a real get returns. */
static void
make_canned_record(void)
{
    Cjx__V1__ConvictionRecord r;
    Cjx__V1__Person p;
    Cjx__V1__Statute st;
    Cjx__V1__Date d;
    make_record(&r, &p, &st, &d, "G00000000", "GET-CASE");
    canned_record_len = protobuf_c_message_pack(&r.base, canned_record);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One replica's share of a load spread over several. */
struct share {
    int port, inflight;
    double rate;
};

static void *
share_main(void *arg)
{
    struct share *sh = arg;
    struct load l;
    load_open(&l, sh->port, WORK_SUBMIT);
    run_load(&l, sh->inflight, 0.3);
    sh->rate = run_load(&l, sh->inflight, seconds);
    load_close(&l);
    return NULL;
}

/* Durable submits/s with 64 in flight spread evenly over n replicas
 * (their ports), each replica's share on a channel and thread of its
 * own; the median of the runs. */
static double
median_spread_rate(const int *ports, int n)
{
    double rates[16];
    for (int r = 0; r < repeats; r++) {
        struct share sh[2];
        pthread_t th[2];
        for (int i = 0; i < n; i++) {
            sh[i] = (struct share){.port = ports[i], .inflight = 64 / n};
            pthread_create(&th[i], NULL, share_main, &sh[i]);
        }
        rates[r] = 0;
        for (int i = 0; i < n; i++) {
            pthread_join(th[i], NULL);
            rates[r] += sh[i].rate;
        }
    }
    qsort(rates, (size_t)repeats, sizeof(double), cmp_double);
    return rates[repeats / 2];
}

/* Durable submit at 64 in flight with SQLite (already measured), and on
 * PostgreSQL with one replica and with two on the same database. */
static void
compare_backends(const char *dsn, double sqlite_rate)
{
    struct bench_server s[2];
    int ports[2];
    double pg_rate[2];
    for (int n = 1; n <= 2; n++) {
        for (int i = 0; i < n; i++) {
            server_start(&s[i], 0, dsn);
            ports[i] = cjx_rpc_server_port(s[i].rpc);
        }
        pg_rate[n - 1] = median_spread_rate(ports, n);
        for (int i = 0; i < n; i++)
            server_stop(&s[i]);
    }
    printf("\ndurable submit calls/s at 64 in flight, median of %d runs\n",
           repeats);
    printf("%-28s %10s %7s\n", "store", "calls/s", "ratio");
    printf("%-28s %10.0f %7.2f\n", "SQLite", sqlite_rate, 1.0);
    printf("%-28s %10.0f %7.2f\n", "PostgreSQL, one replica", pg_rate[0],
           pg_rate[0] / sqlite_rate);
    printf("%-28s %10.0f %7.2f\n", "PostgreSQL, two replicas", pg_rate[1],
           pg_rate[1] / sqlite_rate);
}

static double
median_rate(int port, enum workload work, int inflight)
{
    double rates[16];
    for (int r = 0; r < repeats; r++) {
        struct load l;
        load_open(&l, port, work);
        run_load(&l, inflight, 0.3); /* warm the connection and caches */
        rates[r] = run_load(&l, inflight, seconds);
        load_close(&l);
    }
    qsort(rates, (size_t)repeats, sizeof(double), cmp_double);
    return rates[repeats / 2];
}

int
main(int argc, char **argv)
{
    const char *src = getenv("CJX_SOURCE_DIR");
    const char *pg_dsn = getenv("CJX_TEST_PG_DSN");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc)
            src = argv[++i];
        else if (strcmp(argv[i], "--postgres") == 0 && i + 1 < argc)
            pg_dsn = argv[++i];
    }
    if (repeats < 1 || repeats > 15)
        repeats = 5;
    if (src == NULL)
        src = ".";
    cjx_log_set_level(CJX_LOG_WARN);
    snprintf(certs, sizeof(certs), "/tmp/cjx-bench-certs-XXXXXX");
    if (mkdtemp(certs) == NULL)
        return 1;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "%s/certs/make-dev-certs.sh %s >/dev/null", src,
             certs);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot make certificates (use --source DIR)\n");
        return 1;
    }
    static const int inflight[] = {1, 16, 64};
    double noop_get_r[3], get_r[3], noop_sub_r[3], sub_r[3];
    for (int mode = 0; mode < 2; mode++) {
        struct bench_server s;
        server_start(&s, mode == 0, NULL);
        int port = cjx_rpc_server_port(s.rpc);
        if (mode == 0)
            make_canned_record();
        else
            populate(port);
        for (int i = 0; i < 3; i++) {
            double *g = mode == 0 ? noop_get_r : get_r;
            double *w = mode == 0 ? noop_sub_r : sub_r;
            g[i] = median_rate(port, WORK_GET, inflight[i]);
            w[i] = median_rate(port, WORK_SUBMIT, inflight[i]);
        }
        server_stop(&s);
    }
    double sqlite_submit_64 = sub_r[2];

    printf("unary mTLS calls/s, median of %d runs of %.1f s (one channel, "
           "client in the same process)\n",
           repeats, seconds);
    printf("%-9s %12s %12s %7s %14s %14s %7s\n", "in-flight", "no-op get",
           "get", "ratio", "no-op submit", "durable submit", "ratio");
    for (int i = 0; i < 3; i++)
        printf("%-9d %12.0f %12.0f %7.2f %14.0f %14.0f %7.2f\n", inflight[i],
               noop_get_r[i], get_r[i], get_r[i] / noop_get_r[i], noop_sub_r[i],
               sub_r[i], sub_r[i] / noop_sub_r[i]);
    printf("targets: get >= 0.80 x no-op; durable submit >= 20000/s at 64 in "
           "flight\n");
    fflush(stdout);
    if (pg_dsn != NULL)
        compare_backends(pg_dsn, sqlite_submit_64);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", certs);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", certs);
    return 0;
}
