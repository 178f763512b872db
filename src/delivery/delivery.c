/* The outbox worker: per peer, sender threads that take due hand-offs in
 * batches, deliver them with CaseService/Deliver and mark each by result. */
#include "cjx/delivery.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cjx/client.h"
#include "cjx/clock.h"
#include "cjx/log.h"
#include "cjx/store_cases.h"
#include "cjx/tls.h"
#include "cjx/v1/exchange.methods.h"
#include "policy.h"

/* A batch is bounded by bytes too, well under the peers' default 4 MiB
 * message limit. */
#define BATCH_MAX_BYTES (2u << 20)
/* After a wake-up, a sender that made a call within this long waits this
 * long for more rows to gather, so that a busy outbox goes out in batches
 * rather than row by row; an idle one sends at once (policy.h). */
#define LINGER_US 3000
/* Even without a wake-up a sender looks at its rows this often. */
#define IDLE_CHECK_US 1000000
/* A peer's watcher waits for its channel to change at most this long
 * before it looks whether the worker is stopping. */
#define WATCH_SLICE_MS 250

struct peer;

struct sender {
    struct peer *peer;
    int partition;
    pthread_t thread;
    int started;
    uint64_t rng;
    atomic_int failures; /* consecutive failed calls; read by scrapes */
    int max_rows; /* rows per call; halved when a peer finds a call too big */
    int64_t last_call_us; /* monotonic end of its last Deliver call; 0: none */
};

struct peer {
    struct cjx_delivery *d;
    char ori[CJX_ORI_LEN + 1];
    char *endpoint;
    struct cjx_client *client;
    pthread_t watcher; /* watcher_main */
    int watching;
    /* Whether rows wait for this peer, as its senders last found: the
     * watcher keeps the channel connected only then. */
    atomic_int rows_waiting;
    int n_senders;
    struct sender senders[16];
};

struct cjx_delivery {
    struct cjx_store *store;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* monotonic clock */
    uint64_t generation; /* bumped when rows are added */
    int stopping;

    /* Settings, from the configuration. */
    int batch;
    int timeout_ms;
    int64_t retry_initial_us;
    int64_t retry_max_us;

    /* Held while the peers are replaced (reload) and while they are
     * looked at from outside (cjx_delivery_peers). */
    pthread_mutex_t peers_mu;
    struct peer *peers;
    size_t n_peers;
    struct cjx_conf_slot conf; /* the peers' and settings' */
};

/* ---- time and randomness ------------------------------------------------ */

static uint64_t
next_rand(uint64_t *s)
{
    /* xorshift64*: enough to spread retries, which is all it is for. */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(2685821657736338717);
}

/* base, times a random factor in [0.5, 1.5): peers that failed together
 * do not retry together. */
static int64_t
jitter(struct sender *s, int64_t base)
{
    uint64_t r = next_rand(&s->rng) % 1000;
    return base / 2 + (int64_t)((double)base * (double)r / 1000.0);
}

/* Waits on d->cv until the generation moves past seen, stop, or until
 * (monotonic microseconds). Called with d->mu held. */
static void
wait_until(struct cjx_delivery *d, uint64_t seen, int64_t until_mono_us)
{
    while (!d->stopping && d->generation == seen) {
        int64_t now = cjx_clock_monotonic_us();
        if (now >= until_mono_us)
            return;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (until_mono_us - now) % 1000000 * 1000;
        ts.tv_sec +=
            (time_t)((until_mono_us - now) / 1000000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
}

static void
on_outbox_rows(void *arg, int64_t last_seq, size_t added)
{
    (void)last_seq;
    struct cjx_delivery *d = arg;
    if (added == 0)
        return;
    pthread_mutex_lock(&d->mu);
    d->generation++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* ---- one batch ---------------------------------------------------------- */

struct row {
    int64_t id;
    int attempts;
};

struct batch {
    struct cjx_delivery *d;
    struct row *rows;
    size_t n, cap;
    uint8_t *buf; /* the CaseMessages being built */
    size_t len, buf_cap;
    /* Rows of a method this version does not deliver: parked at once. */
    int64_t unknown[64];
    size_t n_unknown;
};

/* The CaseMessage field that carries a method's request: the member whose
 * message type is the method's input, found in the generated descriptors,
 * so that a renumbered or renamed field is followed, not broken. 0 for a
 * method no CaseMessage member carries. */
static int
field_of(const char *method)
{
    const ProtobufCMessageDescriptor *input = NULL;
    for (unsigned i = 0; i < cjx__v1__case_service__descriptor.n_methods; i++)
        if (strcmp(cjx__v1__case_service__methods[i].path, method) == 0)
            input = cjx__v1__case_service__methods[i].input;
    const ProtobufCMessageDescriptor *cm = &cjx__v1__case_message__descriptor;
    for (unsigned i = 0; input != NULL && i < cm->n_fields; i++)
        if (cm->fields[i].type == PROTOBUF_C_TYPE_MESSAGE &&
            cm->fields[i].descriptor == input)
            return (int)cm->fields[i].id;
    return 0;
}

static size_t
put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v)
            p[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

static size_t
varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

/* The field number of CaseMessages.messages. */
static int
messages_field(void)
{
    return (int)cjx__v1__case_messages__descriptor.fields[0].id;
}

/* Appends a stored payload to the CaseMessages being built. The payload is
 * already the encoding of its message, so wrapping it as CaseMessage's
 * oneof field and as one item of CaseMessages.messages is two length
 * prefixes: no decoding and no re-encoding. */
static int
add_row(void *arg, const struct cjx_outbox_row *r)
{
    struct batch *b = arg;
    int field = field_of(r->method);
    size_t inner = 1 + varint_len(r->payload_len) + r->payload_len;
    size_t need = 1 + varint_len(inner) + inner;
    if (field == 0) {
        if (b->n_unknown < sizeof(b->unknown) / sizeof(b->unknown[0]))
            b->unknown[b->n_unknown++] = r->id;
        return 0;
    }
    if (b->n > 0 && b->len + need > BATCH_MAX_BYTES)
        return 1;
    if (b->len + need > b->buf_cap) {
        size_t cap = (b->len + need) * 2;
        uint8_t *grown = realloc(b->buf, cap);
        if (grown == NULL)
            return 1;
        b->buf = grown;
        b->buf_cap = cap;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct row *grown = realloc(b->rows, cap * sizeof(*grown));
        if (grown == NULL)
            return 1;
        b->rows = grown;
        b->cap = cap;
    }
    uint8_t *p = b->buf + b->len;
    *p++ = (uint8_t)((messages_field() << 3) | 2); /* length-delimited */
    p += put_varint(p, inner);
    *p++ = (uint8_t)((field << 3) | 2);
    p += put_varint(p, r->payload_len);
    memcpy(p, r->payload, r->payload_len);
    p += r->payload_len;
    b->len = (size_t)(p - b->buf);
    b->rows[b->n++] = (struct row){.id = r->id, .attempts = r->attempts};
    return 0;
}

/* A queued store write, waited for until it is durable. */
struct write_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int err;
};

static void
write_done(void *arg, const struct cjx_record_write_result *r)
{
    struct write_wait *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->err = r->err;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Waits for the write queued with write_done and w, if it was queued (err
 * is what queueing it returned); returns its outcome. */
static int
write_wait(struct write_wait *w, int err)
{
    if (err == 0) {
        pthread_mutex_lock(&w->mu);
        while (!w->done)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
        err = w->err;
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return err;
}

static void
write_wait_init(struct write_wait *w)
{
    *w = (struct write_wait){.done = 0};
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

/* Stores the marks and waits until they are durable, so that the next read
 * does not see these rows as due again. */
static void
store_marks(struct cjx_delivery *d, const struct cjx_outbox_mark *m, size_t n)
{
    struct write_wait w;
    write_wait_init(&w);
    int err =
        write_wait(&w, cjx_store_outbox_mark(d->store, m, n, write_done, &w));
    if (err != 0)
        cjx_error("delivery", "cannot record delivery results: %s",
                  cjx_strerror(err));
}

/* Logs what a batch came to and adjusts the sender: fewer rows per call
 * after a peer found a batch too big, more again after a success. */
static void
report(struct sender *s, size_t n, const Cjx__V1__CaseResults *results,
       const struct cjx_outbox_mark *m, const struct delivery_verdict *v)
{
    struct peer *p = s->peer;
    struct cjx_delivery *d = p->d;
    if (v->peer_failed) {
        s->failures++;
        if (v->shrink) {
            s->max_rows = (int)(n / 2);
            s->failures = 0;
            cjx_warn("delivery",
                     "%s refused a batch of %zu (%s): sending %d "
                     "at a time",
                     p->ori, n, m[0].error, s->max_rows);
        } else if (v->refused_all) {
            cjx_error("delivery", "%s refused a batch of %zu for good: %s",
                      p->ori, n, m[0].error);
        } else if (s->failures == 1 || s->failures % 20 == 0) {
            cjx_warn("delivery",
                     "%s unreachable (%d failed calls), will "
                     "retry: %s",
                     p->ori, s->failures, m[0].error);
        }
        return;
    }
    if (s->failures > 0)
        cjx_info("delivery", "%s reachable again", p->ori);
    s->failures = 0;
    if (s->max_rows < d->batch)
        s->max_rows = s->max_rows * 2 < d->batch ? s->max_rows * 2 : d->batch;
    for (size_t i = 0; v->parked > 0 && i < n; i++)
        if (m[i].outcome == CJX_OUTBOX_MARK_PARK)
            cjx_warn("delivery", "%s refused %s for good: %s", p->ori,
                     results->results[i]->request_id, m[i].error);
}

static int64_t
sender_jitter(void *arg, int64_t base)
{
    return jitter(arg, base);
}

/* Sends one batch, decides what became of each row (policy.h), records
 * the marks and says what happened. */
static void
deliver_batch(struct sender *s, struct batch *b)
{
    struct peer *p = s->peer;
    struct cjx_delivery *d = p->d;
    struct cjx_outbox_mark *m = calloc(b->n, sizeof(*m));
    char(*why)[DELIVERY_WHY_LEN] = calloc(b->n, sizeof(*why));
    struct delivery_row *rows = calloc(b->n, sizeof(*rows));
    if (m == NULL || why == NULL || rows == NULL) {
        free(m);
        free(why);
        free(rows);
        return;
    }
    void *resp = NULL;
    size_t resp_len = 0;
    struct cjx_client_status st = {0};
    int err = cjx_client_unary_raw(
        p->client, cjx__v1__case_service__methods[CASE_SERVICE_DELIVER].path,
        b->buf, b->len, d->timeout_ms, &resp, &resp_len, &st);
    s->last_call_us = cjx_clock_monotonic_us();
    Cjx__V1__CaseResults *results = NULL;
    if (err == 0 && st.code == CJX_STATUS_OK)
        results = cjx__v1__case_results__unpack(NULL, resp_len, resp);
    free(resp);
    for (size_t i = 0; i < b->n; i++)
        rows[i] = (struct delivery_row){.id = b->rows[i].id,
                                        .attempts = b->rows[i].attempts};
    struct delivery_answer answer = {.transport_err = err,
                                     .code = err == 0 ? st.code : 0,
                                     .message = st.message,
                                     .results = results};
    struct delivery_backoff backoff = {.initial_us = d->retry_initial_us,
                                       .max_us = d->retry_max_us,
                                       .jitter = sender_jitter,
                                       .jitter_arg = s};
    struct delivery_verdict v;
    delivery_decide(rows, b->n, &answer, &backoff, cjx_clock_now_us(),
                    p->endpoint, m, why, &v);
    report(s, b->n, results, m, &v);
    if (results != NULL)
        cjx__v1__case_results__free_unpacked(results, NULL);
    store_marks(d, m, b->n);
    free(m);
    free(why);
    free(rows);
}

/* ---- the sender loop ---------------------------------------------------- */

/* How long ago s's last Deliver call ended; INT64_MAX before its first. */
static int64_t
idle_us(const struct sender *s)
{
    if (s->last_call_us == 0)
        return INT64_MAX;
    return cjx_clock_monotonic_us() - s->last_call_us;
}

static void *
sender_main(void *arg)
{
    struct sender *s = arg;
    struct peer *p = s->peer;
    struct cjx_delivery *d = p->d;
    struct batch b = {.d = d};
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        int stop = d->stopping;
        seen = d->generation;
        pthread_mutex_unlock(&d->mu);
        if (stop)
            break;
        b.n = 0;
        b.len = 0;
        b.n_unknown = 0;
        struct cjx_errbuf eb;
        int err = cjx_store_outbox_due(d->store, p->ori, cjx_clock_now_us(),
                                       s->partition, p->n_senders, s->max_rows,
                                       add_row, &b, &eb);
        if (err != 0)
            cjx_error("delivery", "reading the outbox: %s", eb.msg);
        for (size_t i = 0; i < b.n_unknown; i++) {
            struct cjx_outbox_mark m = {
                .id = b.unknown[i],
                .outcome = CJX_OUTBOX_MARK_PARK,
                .error = "not a method this daemon delivers"};
            store_marks(d, &m, 1);
        }
        if (err == 0 && b.n > 0) {
            deliver_batch(s, &b);
            continue;
        }
        /* Nothing due: sleep until the earliest retry, a new row, or the
         * idle check, whichever comes first. */
        int64_t next = 0;
        int64_t wait = IDLE_CHECK_US;
        int read = cjx_store_outbox_next_due(d->store, p->ori, &next, &eb);
        if (read == 0)
            atomic_store(&p->rows_waiting, next > 0);
        if (read == 0 && next > 0) {
            int64_t until = next - cjx_clock_now_us();
            if (until < wait)
                wait = until > 1000 ? until : 1000;
        }
        pthread_mutex_lock(&d->mu);
        wait_until(d, seen, cjx_clock_monotonic_us() + wait);
        int woken = d->generation != seen && !d->stopping;
        pthread_mutex_unlock(&d->mu);
        int64_t linger = woken ? delivery_linger_us(idle_us(s), LINGER_US) : 0;
        if (linger > 0) {
            /* A busy outbox: let more rows gather before reading. */
            struct timespec ts = {0, (long)linger * 1000};
            nanosleep(&ts, NULL);
        }
    }
    free(b.rows);
    free(b.buf);
    return NULL;
}

/* ---- a peer's return ---------------------------------------------------- */

static int
is_stopping(struct cjx_delivery *d)
{
    pthread_mutex_lock(&d->mu);
    int stop = d->stopping;
    pthread_mutex_unlock(&d->mu);
    return stop;
}

/* Makes every row waiting for p due now, durably, then wakes the senders
 * to take them; says so when the peer had been reachable before (not at
 * the first connection, which every start makes). */
static void
make_due_now(struct peer *p, int returned)
{
    struct cjx_delivery *d = p->d;
    struct write_wait w;
    write_wait_init(&w);
    int err = write_wait(&w, cjx_store_outbox_due_now(d->store, p->ori,
                                                      cjx_clock_now_us(),
                                                      write_done, &w));
    if (err != 0) {
        cjx_error("delivery", "cannot bring %s's waiting rows forward: %s",
                  p->ori, cjx_strerror(err));
        return;
    }
    if (returned)
        cjx_info("delivery",
                 "%s is reachable again: the rows waiting for it are due",
                 p->ori);
    pthread_mutex_lock(&d->mu);
    d->generation++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* Follows a peer's channel (gRPC's connectivity watch). When it becomes
 * ready after it was not (the peer was down, or this worker has just
 * started and cannot know for how long it was), the rows waiting for the
 * peer are made due at once: a peer back from an outage of a second or
 * two gets its hand-offs then, not when each row's backoff ends, which may
 * be minutes later. While the peer stays down its channel never becomes
 * ready, so nothing is brought forward and every row keeps its backoff; a
 * peer that is reachable but refuses calls keeps a ready channel, which
 * brings nothing forward either. */
static void *
watcher_main(void *arg)
{
    struct peer *p = arg;
    int away = 1, was_ready = 0;
    enum cjx_client_state st = cjx_client_state(p->client, 0);
    while (!is_stopping(p->d)) {
        if (st == CJX_CLIENT_READY && away) {
            make_due_now(p, was_ready);
            was_ready = 1;
        }
        away = st != CJX_CLIENT_READY;
        /* An idle channel connects only when a call or this asks. With
         * rows waiting for their backoff no call is made: ask, so that the
         * peer's return is seen. Without rows, a daemon does not hold a
         * connection to every agency it knows. */
        if (st == CJX_CLIENT_IDLE && atomic_load(&p->rows_waiting))
            cjx_client_state(p->client, 1);
        st = cjx_client_await_state(p->client, st, WATCH_SLICE_MS);
    }
    return NULL;
}

/* ---- peers ------------------------------------------------------------- */

/* Frees peers whose senders are stopped (or were never started). */
static void
peers_free(struct peer *peers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct peer *p = &peers[i];
        for (int k = 0; k < p->n_senders; k++)
            if (p->senders[k].started)
                pthread_join(p->senders[k].thread, NULL);
        if (p->watching)
            pthread_join(p->watcher, NULL);
        cjx_client_free(p->client);
        free(p->endpoint);
    }
    free(peers);
}

static void
peers_stop(struct cjx_delivery *d)
{
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; i < d->n_peers; i++)
        cjx_client_cancel(d->peers[i].client);
    peers_free(d->peers, d->n_peers);
    d->peers = NULL;
    d->n_peers = 0;
}

/* The peers of a configuration, connected, their senders not started: all
 * of a start or reload that can fail. */
struct cjx_delivery_reload {
    const struct cjx_conf *conf;
    struct peer *peers;
    size_t n_peers;
};

static int
peers_connect(struct cjx_delivery *d, const struct cjx_conf *conf,
              const struct cjx_delivery_tls *tls,
              struct cjx_delivery_reload *out, struct cjx_errbuf *eb)
{
    struct peer *peers =
        calloc(conf->registry.n ? conf->registry.n : 1, sizeof(*peers));
    if (peers == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < conf->registry.n; i++) {
        const struct cjx_agency *a = &conf->registry.agencies[i];
        if (a->endpoint[0] == '\0' || strcmp(a->ori, conf->agency) == 0)
            continue;
        struct peer *p = &peers[n];
        p->d = d;
        snprintf(p->ori, sizeof(p->ori), "%s", a->ori);
        p->endpoint = strdup(a->endpoint);
        int err = p->endpoint == NULL
                      ? cjx_errf(eb, CJX_ENOMEM, "out of memory")
                      : cjx_client_connect_peer(a->endpoint, a->tls_name,
                                                tls->ca_pem, tls->cert_pem,
                                                tls->key_pem, &p->client, eb);
        if (err != 0) {
            free(p->endpoint);
            peers_free(peers, n);
            return err;
        }
        n++;
    }
    *out = (struct cjx_delivery_reload){
        .conf = cjx_conf_ref(conf), .peers = peers, .n_peers = n};
    return 0;
}

/* Puts connected peers and their configuration's settings in place and
 * starts their senders; the worker's senders must be stopped. A sender
 * that cannot start leaves its share of the peer's rows waiting until the
 * next start or reload; that is logged, not returned, so that a reload
 * prepared in full is not half undone. */
static void
peers_run(struct cjx_delivery *d, struct cjx_delivery_reload *r)
{
    const struct cjx_exchange_conf *x = &r->conf->exchange;
    d->batch = x->delivery_batch;
    d->timeout_ms = x->delivery_timeout_ms;
    d->retry_initial_us = (int64_t)x->retry_initial_ms * 1000;
    d->retry_max_us = (int64_t)x->retry_max_ms * 1000;
    d->stopping = 0;
    cjx_conf_slot_set(&d->conf, r->conf);
    cjx_conf_unref(r->conf);
    d->peers = r->peers;
    d->n_peers = r->n_peers;
    int streams = x->delivery_streams;
    if (streams > 16)
        streams = 16;
    uint64_t seed = (uint64_t)cjx_clock_now_us() | 1;
    for (size_t i = 0; i < d->n_peers; i++) {
        struct peer *p = &d->peers[i];
        p->n_senders = streams;
        atomic_init(&p->rows_waiting, 0);
        for (int k = 0; k < streams; k++) {
            struct sender *s = &p->senders[k];
            s->peer = p;
            s->partition = k;
            s->max_rows = d->batch;
            seed = seed * UINT64_C(6364136223846793005) + 1442695040888963407;
            s->rng = seed | 1;
            if (pthread_create(&s->thread, NULL, sender_main, s) != 0)
                cjx_error("delivery",
                          "cannot start sender %d of %s: its rows wait for "
                          "the next reload",
                          k, p->ori);
            else
                s->started = 1;
        }
        if (pthread_create(&p->watcher, NULL, watcher_main, p) != 0)
            cjx_error("delivery",
                      "cannot watch %s's channel: its rows wait out their "
                      "backoff after an outage",
                      p->ori);
        else
            p->watching = 1;
    }
}

int
cjx_delivery_start(struct cjx_store *store, const struct cjx_conf *conf,
                   const struct cjx_delivery_tls *tls,
                   struct cjx_delivery **out, struct cjx_errbuf *eb)
{
    if (store == NULL || conf == NULL || tls == NULL || out == NULL)
        return cjx_errf(eb, CJX_EINVAL, "delivery: missing argument");
    struct cjx_delivery *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    d->store = store;
    cjx_conf_slot_init(&d->conf, NULL);
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->peers_mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &attr);
    pthread_condattr_destroy(&attr);
    struct cjx_delivery_reload r;
    int err = cjx_store_add_case_hook(store, on_outbox_rows, d);
    if (err == 0)
        err = peers_connect(d, conf, tls, &r, eb);
    else
        cjx_errf(eb, err, "delivery: cannot watch the outbox");
    if (err != 0) {
        cjx_store_remove_case_hook(store, on_outbox_rows, d);
        cjx_conf_slot_fini(&d->conf);
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->peers_mu);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return err;
    }
    peers_run(d, &r);
    cjx_info("delivery", "delivering to %zu peer(s), %d stream(s) each",
             d->n_peers, conf->exchange.delivery_streams);
    *out = d;
    return 0;
}

int
cjx_delivery_prepare_reload(struct cjx_delivery *d, const struct cjx_conf *conf,
                            const struct cjx_delivery_tls *tls,
                            struct cjx_delivery_reload **out,
                            struct cjx_errbuf *eb)
{
    struct cjx_delivery_reload *r = malloc(sizeof(*r));
    if (r == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    int err = peers_connect(d, conf, tls, r, eb);
    if (err != 0) {
        free(r);
        return err;
    }
    *out = r;
    return 0;
}

void
cjx_delivery_commit_reload(struct cjx_delivery *d,
                           struct cjx_delivery_reload *r)
{
    pthread_mutex_lock(&d->peers_mu);
    peers_stop(d);
    peers_run(d, r);
    pthread_mutex_unlock(&d->peers_mu);
    free(r);
}

void
cjx_delivery_cancel_reload(struct cjx_delivery_reload *r)
{
    if (r == NULL)
        return;
    peers_free(r->peers, r->n_peers);
    cjx_conf_unref(r->conf);
    free(r);
}

const struct cjx_conf *
cjx_delivery_conf(struct cjx_delivery *d)
{
    return cjx_conf_slot_get(&d->conf);
}

void
cjx_delivery_stop(struct cjx_delivery *d)
{
    if (d == NULL)
        return;
    cjx_store_remove_case_hook(d->store, on_outbox_rows, d);
    peers_stop(d);
    cjx_conf_slot_fini(&d->conf);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->peers_mu);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

void
cjx_delivery_peers(struct cjx_delivery *d, cjx_delivery_peer_fn visit,
                   void *arg)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->peers_mu);
    for (size_t i = 0; i < d->n_peers; i++) {
        const struct peer *p = &d->peers[i];
        int failures = 0;
        for (int k = 0; k < p->n_senders; k++) {
            int f = atomic_load(&p->senders[k].failures);
            if (f > failures)
                failures = f;
        }
        if (visit(arg, p->ori, p->endpoint, failures) != 0)
            break;
    }
    pthread_mutex_unlock(&d->peers_mu);
}
