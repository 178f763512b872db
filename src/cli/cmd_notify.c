/* cjxctl notify: DOJ's loading of a criminal-history extract. Every count
 * is evaluated with the rule sets; each candidate for relief becomes a
 * candidate notice, sent to the local daemon in NotifyCandidates streams,
 * which stores it and routes it to the county's prosecutor, court and
 * public defenders. One thread evaluates while the other sends. */
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cjx/clock.h"
#include "cjx/date.h"
#include "cjx/doj.h"
#include "cjx/evaluate.h"
#include "cjx/json.h"
#include "cjx/v1/exchange.methods.h"
#include "cli.h"
#include "notify_store.h"
#include "research_file.h"

/* Notices per stream: the daemon answers each stream in one response and
 * takes at most 10000. */
#define CHUNK        10000
#define MAX_REPORTED 10

struct chunk {
    struct chunk *next;
    struct cjx_arena arena;
    Cjx__V1__CandidateNotice **notices;
    size_t n;
};

struct loader {
    /* Input and rules: the evaluator thread's. */
    const char *path;
    char *buf;
    size_t len;
    int pb;
    int doj; /* a DOJ research file, read from path one subject at a time */
    const struct cjx_rules_registry *reg;
    Cjx__V1__Date as_of;
    int have_as_of;
    int hold;
    /* Chunks between the threads. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct chunk *head, *tail;
    int queued;
    int done; /* the evaluator has finished */
    /* Tallies. */
    long read, candidates, errors;
    long by_relief[8];
    int reported;
};

static const char *
relief_name(int v)
{
    const ProtobufCEnumValue *e =
        protobuf_c_enum_descriptor_get_value(&cjx__v1__relief__descriptor, v);
    return e != NULL ? e->name + strlen("RELIEF_") : "?";
}

static int
is_candidate(const Cjx__V1__Determination *d)
{
    switch (d->relief) {
    case CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR:
    case CJX__V1__RELIEF__RELIEF_REDUCE_TO_INFRACTION:
    case CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL:
        return 1;
    case CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW:
        return d->ceiling >= CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR &&
               d->ceiling <= CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL;
    default:
        return 0;
    }
}

/* The notice's id comes from the record's bytes: loading the same extract
 * again is a retry that changes nothing. */
static char *
notice_id(struct cjx_arena *a, const Cjx__V1__ConvictionRecord *rec)
{
    size_t n = protobuf_c_message_get_packed_size(&rec->base);
    uint8_t *bytes = cjx_arena_alloc(a, n ? n : 1);
    char *id = cjx_arena_alloc(a, 48);
    unsigned char md[32];
    if (bytes == NULL || id == NULL)
        return NULL;
    protobuf_c_message_pack(&rec->base, bytes);
    if (EVP_Digest(bytes, n, md, NULL, EVP_sha256(), NULL) != 1)
        return NULL;
    memcpy(id, "notice.", 7);
    for (int i = 0; i < 16; i++)
        snprintf(id + 7 + 2 * i, 3, "%02x", md[i]);
    return id;
}

static void
report(struct loader *l, const char *fmt, const char *a, const char *b)
{
    if (l->reported++ < MAX_REPORTED)
        fprintf(stderr, fmt, a, b);
}

/* Evaluates one query into the chunk: a notice when it is a candidate. */
static void
evaluate(struct loader *l, struct chunk *c, Cjx__V1__ReliefQuery *q,
         const char *where)
{
    struct cjx_errbuf eb;
    l->read++;
    if (q->record == NULL || q->record->subject == NULL) {
        l->errors++;
        report(l, "%s: %s\n", where, "no conviction record");
        return;
    }
    if (l->have_as_of || q->as_of == NULL || q->as_of->year == 0)
        q->as_of = &l->as_of;
    const struct cjx_rules_set *set =
        cjx_evaluate_pick_set(l->reg, NULL, q, &eb);
    Cjx__V1__EvaluateResponse resp;
    if (set == NULL || cjx_evaluate_query(set, q, &c->arena, &resp, &eb) != 0) {
        l->errors++;
        report(l, "%s: %s\n", where, eb.msg);
        return;
    }
    Cjx__V1__Determination *d = resp.determination;
    if (d->relief >= 0 && d->relief < 8)
        l->by_relief[d->relief]++;
    if (!is_candidate(d))
        return;
    Cjx__V1__CandidateNotice *n = cjx_arena_alloc(&c->arena, sizeof(*n));
    Cjx__V1__RequestMeta *m = cjx_arena_alloc(&c->arena, sizeof(*m));
    if (n == NULL || m == NULL)
        return;
    cjx__v1__candidate_notice__init(n);
    cjx__v1__request_meta__init(m);
    m->request_id = notice_id(&c->arena, q->record);
    if (m->request_id == NULL)
        return;
    n->meta = m;
    n->record = q->record;
    n->determination = d;
    n->history = q->history;
    n->hold = l->hold;
    c->notices[c->n++] = n;
    l->candidates++;
}

static struct chunk *
chunk_new(void)
{
    struct chunk *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->notices = calloc(CHUNK, sizeof(*c->notices));
    if (c->notices == NULL) {
        free(c);
        return NULL;
    }
    cjx_arena_init(&c->arena, NULL, 0, 0);
    return c;
}

static void
chunk_free(struct chunk *c)
{
    cjx_arena_fini(&c->arena);
    free(c->notices);
    free(c);
}

/* Hands a full chunk to the sender, waiting while two are queued. */
static void
push(struct loader *l, struct chunk *c)
{
    pthread_mutex_lock(&l->mu);
    while (l->queued >= 2)
        pthread_cond_wait(&l->cv, &l->mu);
    if (l->tail != NULL)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->queued++;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static size_t
read_varint(const uint8_t *p, size_t len, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        *v |= (uint64_t)(p[i] & 0x7F) << (7 * i);
        if (!(p[i] & 0x80))
            return i + 1;
    }
    return 0;
}

/* The research file's reading: the chunk being filled. */
struct doj_feed {
    struct loader *l;
    struct chunk *c;
};

/* Each Prop 64 count of a subject joins the chunk. The subject's memory is
 * the parser's until the callback returns, and a notice lives until its
 * chunk is sent, so each query is copied into the chunk's arena. */
static int
doj_count(void *ctx, const char *where, Cjx__V1__ReliefQuery *q)
{
    struct doj_feed *f = ctx;
    size_t n = protobuf_c_message_get_packed_size(&q->base);
    uint8_t *bytes = malloc(n ? n : 1);
    if (bytes == NULL)
        return CJX_ENOMEM;
    protobuf_c_message_pack(&q->base, bytes);
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(&f->c->arena);
    Cjx__V1__ReliefQuery *copy =
        cjx__v1__relief_query__unpack(&alloc, n, bytes);
    free(bytes);
    if (copy == NULL)
        return CJX_ENOMEM;
    evaluate(f->l, f->c, copy, where);
    if (f->c->n == CHUNK) {
        push(f->l, f->c);
        if ((f->c = chunk_new()) == NULL)
            return CJX_ENOMEM;
    }
    return 0;
}

static int
doj_subject(void *ctx, const struct cjx_doj_subject *s)
{
    struct doj_feed *f = ctx;
    return research_subject_counts(s, f->l->path, doj_count, f);
}

/* A subject refused now was refused by the check before anything was sent
 * and is in the reject file already. */
static int
doj_skip_refused(void *ctx, const struct cjx_doj_error *e)
{
    (void)ctx;
    (void)e;
    return 0;
}

/* Evaluates the research file into chunks; returns the last chunk (to be
 * pushed), or NULL after counting the error. */
static struct chunk *
doj_evaluate(struct loader *l, struct chunk *c)
{
    struct doj_feed f = {l, c};
    struct cjx_doj_callbacks cb = {doj_subject, doj_skip_refused, &f};
    struct cjx_errbuf eb;
    if (cjx_doj_read_file(l->path, &cb, NULL, &eb) != 0) {
        fprintf(stderr, "cjxctl: %s\n", eb.msg);
        l->errors++;
    }
    return f.c;
}

static void *
evaluator_main(void *arg)
{
    struct loader *l = arg;
    struct chunk *c = chunk_new();
    size_t off = 0;
    int line = 0;
    long index = 0;
    if (l->doj && c != NULL)
        c = doj_evaluate(l, c);
    while (c != NULL && !l->doj) {
        ProtobufCAllocator alloc = cjx_arena_pb_allocator(&c->arena);
        Cjx__V1__ReliefQuery *q = NULL;
        char where[600];
        if (l->pb) {
            uint64_t n;
            if (off >= l->len)
                break;
            size_t k =
                read_varint((const uint8_t *)l->buf + off, l->len - off, &n);
            if (k == 0 || n > l->len - off - k) {
                fprintf(stderr, "%s: truncated at byte %zu\n", l->path, off);
                l->errors++;
                break;
            }
            snprintf(where, sizeof(where), "%s: message %ld", l->path, ++index);
            q = cjx__v1__relief_query__unpack(
                &alloc, n, (const uint8_t *)l->buf + off + k);
            off += k + n;
            if (q == NULL) {
                l->errors++;
                report(l, "%s: %s\n", where, "not a cjx.v1.ReliefQuery");
                continue;
            }
        } else {
            const char *doc;
            size_t doc_len;
            int r = cjx_json_next_document(l->buf, l->len, &off, &doc, &doc_len,
                                           &line);
            if (r <= 0) {
                if (r < 0) {
                    fprintf(stderr, "%s:%d: not JSON\n", l->path, line);
                    l->errors++;
                }
                break;
            }
            snprintf(where, sizeof(where), "%s:%d", l->path, line);
            struct cjx_errbuf eb;
            ProtobufCMessage *m;
            if (cjx_json_to_message(&cjx__v1__relief_query__descriptor, doc,
                                    doc_len, &alloc, &m, &eb) != 0) {
                l->errors++;
                report(l, "%s: %s\n", where, eb.msg);
                continue;
            }
            q = (Cjx__V1__ReliefQuery *)m;
        }
        evaluate(l, c, q, where);
        if (c->n == CHUNK) {
            push(l, c);
            c = chunk_new();
        }
    }
    if (c != NULL)
        push(l, c);
    pthread_mutex_lock(&l->mu);
    l->done = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static struct chunk *
pop(struct loader *l)
{
    pthread_mutex_lock(&l->mu);
    while (l->head == NULL && !l->done)
        pthread_cond_wait(&l->cv, &l->mu);
    struct chunk *c = l->head;
    if (c != NULL) {
        l->head = c->next;
        if (l->head == NULL)
            l->tail = NULL;
        l->queued--;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return c;
}

/* Sends one chunk as a stream; returns the accepted and rejected counts. */
static int
send_chunk(struct cli *cli, struct loader *l, struct chunk *c, long *accepted,
           long *rejected)
{
    if (c->n == 0)
        return 0;
    struct cjx_client_stream *s;
    int err = cjx_client_stream_open(
        cli->client,
        &cjx__v1__case_service__methods[CASE_SERVICE_NOTIFY_CANDIDATES], NULL,
        0, &s);
    if (err != 0) {
        fprintf(stderr, "cjxctl: %s\n", cjx_strerror(err));
        return 1;
    }
    for (size_t i = 0; i < c->n && err == 0; i++)
        err = cjx_client_stream_write(s, &c->notices[i]->base);
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st;
    cjx_client_stream_finish(s, &resp, &st);
    cjx_client_stream_free(s);
    if (st.code != 0) {
        if (resp != NULL)
            protobuf_c_message_free_unpacked(resp, NULL);
        return cli_report_status("notify", &st);
    }
    Cjx__V1__CaseResults *r = (Cjx__V1__CaseResults *)resp;
    *accepted += r->accepted;
    *rejected += r->rejected;
    for (size_t i = 0; i < r->n_results; i++)
        if (r->results[i]->code != 0)
            report(l, "rejected %s: %s\n", r->results[i]->request_id,
                   r->results[i]->message);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* The run's own counts are what the daemon answered; a stream cut short
 * may still have stored its notices. What the daemon holds is the answer an
 * operator needs after an interruption, so it is asked, not inferred. */
static void
print_holdings(struct cli *cli)
{
    Cjx__V1__CaseStatsRequest req = CJX__V1__CASE_STATS_REQUEST__INIT;
    req.county = "";
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st;
    int err = cjx_client_unary(
        cli->client, &cjx__v1__case_service__methods[CASE_SERVICE_CASE_STATS],
        &req.base, cli->timeout_ms, &resp, &st);
    if (err != 0 || st.code != 0) {
        printf("the daemon's cases cannot be counted now (%s); loading the "
               "same file again sends only what it lacks\n",
               err != 0 ? cjx_strerror(err) : st.message);
    } else {
        printf("the daemon holds %" PRId64 " case(s) in all\n",
               ((Cjx__V1__CaseStatsResponse *)resp)->total);
    }
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
}

int
cmd_notify(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"rules", required_argument, NULL, 'r'},
        {"as-of", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'f'},
        {"hold", no_argument, NULL, 'h'},
        {"from-store", no_argument, NULL, 's'},
        {"county", required_argument, NULL, 'c'},
        {"registry", required_argument, NULL, 'g'},
        {"reject-file", required_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    const char *reject_file = NULL;
    int from_store = 0;
    const char *county = NULL;
    const char *registry = getenv("CJX_REGISTRY");
    if (registry == NULL)
        registry = "/etc/cjx/agencies.yaml";
    struct loader l;
    memset(&l, 0, sizeof(l));
    const char *rules = getenv("CJX_RULES");
    if (rules == NULL)
        rules = "rules";
    cjx__v1__date__init(&l.as_of);
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            rules = optarg;
            break;
        case 'a':
            if (cli_parse_as_of(optarg, &l.as_of) != 0)
                return 2;
            l.have_as_of = 1;
            break;
        case 'f':
            if (strcmp(optarg, "pb") != 0 && strcmp(optarg, "jsonl") != 0 &&
                strcmp(optarg, "doj") != 0) {
                fprintf(stderr, "cjxctl: --format is pb, jsonl or doj\n");
                return 2;
            }
            l.pb = strcmp(optarg, "pb") == 0;
            l.doj = strcmp(optarg, "doj") == 0;
            break;
        case 'j':
            reject_file = optarg;
            break;
        case 'h':
            l.hold = 1;
            break;
        case 's':
            from_store = 1;
            break;
        case 'c':
            county = optarg;
            break;
        case 'g':
            registry = optarg;
            break;
        default:
            return 2;
        }
    }
    if (optind != argc - (from_store ? 0 : 1) ||
        (county != NULL && !from_store) || (reject_file && !l.doj) ||
        (l.doj && (from_store || strcmp(argv[optind], "-") == 0))) {
        fprintf(stderr, "usage: cjxctl notify [--rules DIR] [--as-of DATE] "
                        "[--hold] ([--format pb|jsonl] FILE|- |\n"
                        "                     --format doj [--reject-file F] "
                        "FILE |\n"
                        "                     --from-store [--county X] "
                        "[--registry FILE])\n");
        return 2;
    }
    if (from_store) {
        /* The store's records become an extract in memory, read exactly
         * as an extract file is. */
        l.path = "store";
        l.pb = 1;
    } else {
        l.path = argv[optind];
        size_t plen = strlen(l.path);
        if (plen > 3 && strcmp(l.path + plen - 3, ".pb") == 0)
            l.pb = 1;
    }
    if (!l.have_as_of) {
        int64_t days = cjx_clock_now_us() / (INT64_C(86400) * 1000000);
        int y, m, d;
        cjx_date_from_days(days, &y, &m, &d);
        l.as_of.year = y;
        l.as_of.month = m;
        l.as_of.day = d;
    }
    struct cjx_errbuf eb;
    struct cjx_rules_registry *reg;
    if (cjx_rules_registry_load_dir(rules, cjx_evaluate_types(), &reg, &eb) !=
        0) {
        fprintf(stderr, "cjxctl: %s\n", eb.msg);
        return 1;
    }
    l.reg = reg;
    /* A research file is read through once before anything is sent: a
     * subject that cannot be read refuses the whole file, unless the
     * operator asked for such subjects to be set aside. */
    struct research_rejects rej;
    int status = 0;
    if (l.doj) {
        status = research_rejects_open(&rej, l.path, reject_file);
        if (status == 0)
            status = research_file_check(l.path, &rej);
        status |= research_rejects_close(&rej);
        if (status == 0 && rej.refused > 0)
            fprintf(stderr, "%ld subject(s) set aside in %s\n", rej.refused,
                    reject_file);
    }
    if (status == 0)
        status = cli_connect(cli);
    /* A research file is read as it is evaluated, not loaded here. */
    if (status == 0 && from_store)
        status = notify_store_extract(cli, county, registry, &l.buf, &l.len);
    else if (status == 0 && !l.doj &&
             (l.buf = cli_read_file(l.path, &l.len)) == NULL) {
        fprintf(stderr, "cjxctl: cannot read %s\n", l.path);
        status = 1;
    }
    if (status != 0) {
        free(l.buf);
        cjx_rules_registry_free(reg);
        return status;
    }
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    int64_t start = cjx_clock_monotonic_us();
    pthread_t evaluator;
    pthread_create(&evaluator, NULL, evaluator_main, &l);
    long accepted = 0, rejected = 0;
    struct chunk *c;
    while ((c = pop(&l)) != NULL) {
        if (status == 0)
            status = send_chunk(cli, &l, c, &accepted, &rejected);
        chunk_free(c);
    }
    pthread_join(evaluator, NULL);
    double secs = (double)(cjx_clock_monotonic_us() - start) / 1e6;
    printf("%ld count(s) read, %ld candidate(s) for relief:", l.read,
           l.candidates);
    for (int i = 1; i < 8; i++)
        if (l.by_relief[i] > 0)
            printf(" %s %ld,", relief_name(i), l.by_relief[i]);
    printf(" errors %ld\n", l.errors);
    printf("notices: %ld accepted, %ld rejected, in %.2f s (%.0f notices/s)\n",
           accepted, rejected, secs,
           secs > 0 ? (double)l.candidates / secs : 0);
    print_holdings(cli);
    pthread_cond_destroy(&l.cv);
    pthread_mutex_destroy(&l.mu);
    free(l.buf);
    cjx_rules_registry_free(reg);
    return status != 0 || l.errors > 0 || rejected > 0;
}
