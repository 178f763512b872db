/* cjxctl review: the prosecutor's queue of notified cases, HUMAN_REVIEW
 * first, with the facts DOJ's rules missed, the floor and ceiling of the
 * relief and the days left before the review deadline. With --facts FILE,
 * the facts a person found in the file are merged into each count's
 * record, the daemon evaluates it again with its configured rule set (a
 * batch of lines per EvaluateQueries stream), and the determination they
 * lead to is shown. The same file, with a relief or ground column added,
 * is the input of `cjxctl decide --file`: the decision then carries those
 * facts. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "cjx/date.h"
#include "cjx/json.h"
#include "cjx/v1/exchange.methods.h"
#include "cjx/v1/rules_service.methods.h"
#include "fan_out.h"
#include "record_check.h"
#include "steps.h"

#define US_PER_DAY (INT64_C(86400) * 1000000)

/* ---- the queue ----------------------------------------------------------- */

static int64_t
review_by(const Cjx__V1__Case *c)
{
    return c->deadlines != NULL ? c->deadlines->review_by_unix_us : 0;
}

/* HUMAN_REVIEW first, then the nearest deadline (none last), then the key. */
static int
queue_order(const void *a, const void *b)
{
    const Cjx__V1__Case *x = *(const Cjx__V1__Case *const *)a;
    const Cjx__V1__Case *y = *(const Cjx__V1__Case *const *)b;
    int hx = x->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW;
    int hy = y->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW;
    if (hx != hy)
        return hy - hx;
    int64_t dx = review_by(x) ? review_by(x) : INT64_MAX;
    int64_t dy = review_by(y) ? review_by(y) : INT64_MAX;
    if (dx != dy)
        return dx < dy ? -1 : 1;
    int k = strcmp(x->key->cii, y->key->cii);
    if (k == 0)
        k = strcmp(x->key->court_case_number, y->key->court_case_number);
    return k != 0 ? k : (int)x->key->count_number - (int)y->key->count_number;
}

static void
join(char *buf, size_t len, char *const *items, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "," : "",
                 items[i]);
    if (buf[0] == '\0')
        snprintf(buf, len, "-");
}

static const char *
relief_text(int v)
{
    return v == 0 ? "-" : cli_enum_short(&cjx__v1__relief__descriptor, v);
}

static void
add_queue_row(struct cli_table *t, const Cjx__V1__Case *c, int64_t now)
{
    char label[128], missing[256], due[40], left[32];
    steps_case_label(c->key, label, sizeof(label));
    if (c->determination != NULL)
        join(missing, sizeof(missing), c->determination->missing_facts,
             c->determination->n_missing_facts);
    else
        snprintf(missing, sizeof(missing), "-");
    int64_t by = review_by(c);
    if (by == 0) {
        snprintf(due, sizeof(due), "-");
        snprintf(left, sizeof(left), "-");
    } else {
        cjx_clock_format_utc(by, due, sizeof(due));
        /* Whole days still left, counting a started day as left. */
        int64_t days = by >= now ? (by - now + US_PER_DAY - 1) / US_PER_DAY
                                 : -((now - by) / US_PER_DAY) - 1;
        if (days < 0)
            snprintf(left, sizeof(left), "overdue");
        else
            snprintf(left, sizeof(left), "%" PRId64, days);
    }
    const int human = c->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW;
    const char *cells[] = {label,
                           c->county,
                           relief_text(c->relief),
                           relief_text(human ? c->floor : c->relief),
                           relief_text(human ? c->ceiling : c->relief),
                           missing,
                           due,
                           left};
    cli_table_add(t, cells);
}

static int
print_queue(struct cli *cli)
{
    Cjx__V1__ListCasesRequest req = CJX__V1__LIST_CASES_REQUEST__INIT;
    req.state = CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED;
    req.page_size = 1000;
    ProtobufCMessage **pages = NULL;
    const Cjx__V1__Case **cases = NULL;
    size_t npages = 0, n = 0;
    char token[64] = "";
    int status = 0;
    do {
        req.page_token = token;
        ProtobufCMessage *resp;
        struct cjx_client_status st;
        if (cjx_client_unary(
                cli->client,
                &cjx__v1__case_service__methods[CASE_SERVICE_LIST_CASES],
                &req.base, cli->timeout_ms, &resp, &st) != 0 ||
            st.code != 0) {
            status = cli_report_status("review", &st);
            break;
        }
        const Cjx__V1__ListCasesResponse *r = (const void *)resp;
        ProtobufCMessage **p = realloc(pages, (npages + 1) * sizeof(*p));
        const Cjx__V1__Case **c =
            realloc(cases, (n + r->n_cases + 1) * sizeof(*c));
        if (p != NULL)
            pages = p;
        if (c != NULL)
            cases = c;
        if (p == NULL || c == NULL) {
            protobuf_c_message_free_unpacked(resp, NULL);
            status = 1;
            break;
        }
        pages[npages++] = resp;
        for (size_t i = 0; i < r->n_cases; i++)
            cases[n++] = r->cases[i];
        snprintf(token, sizeof(token), "%s", r->next_page_token);
    } while (token[0] != '\0');
    if (status == 0 && n > 0)
        qsort(cases, n, sizeof(*cases), queue_order);
    if (status == 0 && cli->json) {
        for (size_t i = 0; i < n; i++)
            cli_print_json_line(stdout, &cases[i]->base);
    } else if (status == 0) {
        static const char *const headers[] = {
            "CASE",    "COUNTY",        "RELIEF",    "FLOOR",
            "CEILING", "MISSING FACTS", "REVIEW BY", "DAYS LEFT"};
        struct cli_table *t = cli_table_new(8, headers);
        int64_t now = cjx_clock_now_us();
        for (size_t i = 0; i < n; i++)
            add_queue_row(t, cases[i], now);
        cli_table_print(t, stdout);
        cli_table_free(t);
        printf("%zu case(s) waiting for a decision\n", n);
    }
    for (size_t i = 0; i < npages; i++)
        protobuf_c_message_free_unpacked(pages[i], NULL);
    free(pages);
    free(cases);
    return status;
}

/* ---- facts ------------------------------------------------------------------ */

/* A line of a facts file names a case and at least one fact. */
static int
check_facts_line(void *arg, ProtobufCMessage *msg, struct cjx_arena *a,
                 struct cjx_errbuf *eb)
{
    (void)arg;
    (void)a;
    const Cjx__V1__ProsecutorDecision *d = (const void *)msg;
    if (d->key == NULL)
        return cjx_errf(eb, CJX_EINVAL, "key: required");
    int err = record_check_key(d->key, eb);
    if (err != 0)
        return err;
    if (d->facts == NULL ||
        protobuf_c_message_get_packed_size(&d->facts->base) == 0)
        return cjx_errf(eb, CJX_EINVAL, "facts: at least one fact is required");
    return 0;
}

/* Sets in dst every fact that src has (OffenseFacts is proto2: each field
 * has its presence flag). */
static void
merge_facts(Cjx__V1__OffenseFacts *dst, const Cjx__V1__OffenseFacts *src)
{
    const ProtobufCMessageDescriptor *d = &cjx__v1__offense_facts__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const protobuf_c_boolean *has =
            (const void *)((const char *)src + f->quantifier_offset);
        if (!*has)
            continue;
        size_t size = f->type == PROTOBUF_C_TYPE_DOUBLE ? sizeof(double)
                      : f->type == PROTOBUF_C_TYPE_BOOL
                          ? sizeof(protobuf_c_boolean)
                          : sizeof(int32_t);
        memcpy((char *)dst + f->offset, (const char *)src + f->offset, size);
        *(protobuf_c_boolean *)((char *)dst + f->quantifier_offset) = 1;
    }
}

static void
determination_text(const Cjx__V1__Determination *d, char *buf, size_t len)
{
    if (d == NULL) {
        snprintf(buf, len, "-");
        return;
    }
    if (d->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW)
        snprintf(buf, len, "HUMAN_REVIEW (%s..%s)", relief_text(d->floor),
                 relief_text(d->ceiling));
    else
        snprintf(buf, len, "%s", relief_text(d->relief));
}

/* Lines re-evaluated per EvaluateQueries stream. One stream answers a
 * whole batch, where a call per line cost a round trip each; the bound
 * keeps what the batch holds small (the daemon takes at most 10000
 * queries in one stream). */
#define REVIEW_BATCH 500

/* One line of the facts file on its way through the daemon. */
struct reevaluation {
    Cjx__V1__Case *c; /* with its notice */
    /* Borrowed from the batch's EvaluateQueriesResponse. */
    const Cjx__V1__Determination *now;
    struct cjx_client_status st;
};

/* Reads the case a line names, with the notice that holds its record. */
static void
fetch_case(struct cli *cli, const Cjx__V1__ProsecutorDecision *line,
           struct reevaluation *out)
{
    memset(out, 0, sizeof(*out));
    if (steps_get_case(cli, line->key, 1, &out->c, &out->st) != 0 ||
        out->st.code != 0)
        return;
    const Cjx__V1__CandidateNotice *n = out->c->notice;
    if (n == NULL || n->record == NULL) {
        out->st.code = 9; /* FAILED_PRECONDITION */
        snprintf(out->st.message, sizeof(out->st.message),
                 "the case holds no conviction record to evaluate");
    }
}

/* A batch of lines and what became of them, for fetching in parallel. */
struct review_batch {
    struct cli *cli;
    const struct step_line *lines;
    struct reevaluation *evs;
};

static void
fetch_line(void *arg, size_t i)
{
    struct review_batch *b = arg;
    fetch_case(b->cli, (const Cjx__V1__ProsecutorDecision *)b->lines[i].msg,
               &b->evs[i]);
}

/* Sends the query of one fetched case: the notice's record with the
 * line's facts merged in. The message is packed as it is written, so the
 * merged facts need not outlive the call. */
static int
write_query(struct cjx_client_stream *s, const struct reevaluation *ev,
            const Cjx__V1__ProsecutorDecision *line, const Cjx__V1__Date *as_of)
{
    const Cjx__V1__CandidateNotice *n = ev->c->notice;
    Cjx__V1__OffenseFacts facts = CJX__V1__OFFENSE_FACTS__INIT;
    if (n->record->facts != NULL)
        merge_facts(&facts, n->record->facts);
    merge_facts(&facts, line->facts);
    Cjx__V1__OffenseFacts *kept = n->record->facts;
    n->record->facts = &facts;
    Cjx__V1__ReliefQuery q = CJX__V1__RELIEF_QUERY__INIT;
    q.record = n->record;
    q.history = n->history;
    q.as_of = (Cjx__V1__Date *)as_of;
    Cjx__V1__EvaluateRequest req = CJX__V1__EVALUATE_REQUEST__INIT;
    req.query = &q;
    int err = cjx_client_stream_write(s, &req.base);
    n->record->facts = kept;
    return err;
}

/* Evaluates every fetched case of lines [0, n) in one EvaluateQueries
 * stream; the results come back in the order of the queries. A line whose
 * case could not be read keeps its own status; when the stream fails as a
 * whole, every line it carried gets that status. Returns the response
 * (the determinations borrow from it), NULL if there is none. */
static ProtobufCMessage *
evaluate_batch(struct cli *cli, struct step_line *lines,
               struct reevaluation *evs, size_t n, const Cjx__V1__Date *as_of)
{
    struct cjx_client_stream *s;
    struct cjx_client_status st = {0};
    ProtobufCMessage *resp = NULL;
    int err = cjx_client_stream_open(
        cli->client,
        &cjx__v1__rules_service__methods[RULES_SERVICE_EVALUATE_QUERIES], NULL,
        cli->timeout_ms, &s);
    if (err != 0) {
        st.code = 14; /* UNAVAILABLE */
        snprintf(st.message, sizeof(st.message), "%s", cjx_strerror(err));
    } else {
        for (size_t i = 0; i < n && err == 0; i++)
            if (evs[i].st.code == 0)
                err = write_query(
                    s, &evs[i],
                    (const Cjx__V1__ProsecutorDecision *)lines[i].msg, as_of);
        cjx_client_stream_finish(s, &resp, &st);
        cjx_client_stream_free(s);
    }
    const Cjx__V1__EvaluateQueriesResponse *r = (const void *)resp;
    size_t k = 0; /* the next result: one per query sent */
    for (size_t i = 0; i < n; i++) {
        struct reevaluation *ev = &evs[i];
        if (ev->st.code != 0)
            continue;
        const Cjx__V1__EvaluateResult *one =
            st.code == 0 && r != NULL && k < r->n_results ? r->results[k++]
                                                          : NULL;
        if (one == NULL) {
            ev->st.code = st.code != 0 ? st.code : 13; /* INTERNAL */
            snprintf(ev->st.message, sizeof(ev->st.message), "%s",
                     st.code != 0 ? st.message : "no result for this query");
        } else if (one->code != 0 || one->response == NULL) {
            ev->st.code = one->code != 0 ? one->code : 13;
            snprintf(ev->st.message, sizeof(ev->st.message), "%s",
                     one->message);
        } else {
            ev->now = one->response->determination;
        }
    }
    return resp;
}

static void
facts_text(const Cjx__V1__OffenseFacts *f, char *buf, size_t len)
{
    char *json = cjx_json_from_message(&f->base, 0);
    snprintf(buf, len, "%s", json != NULL ? json : "-");
    free(json);
}

/* Prints what one line came to: a row of the table, or a JSON line.
 * Returns 1 when the line could not be evaluated. */
static int
print_reevaluation(struct cli *cli, struct cli_table *t,
                   const struct step_line *l, const struct reevaluation *ev)
{
    const Cjx__V1__ProsecutorDecision *line = (const void *)l->msg;
    const Cjx__V1__Determination *now = ev->now;
    char lineno[16], label[128], facts[256], before[64], after[600],
        reasons[256], missing[256];
    snprintf(lineno, sizeof(lineno), "%d", l->line);
    steps_case_label(line->key, label, sizeof(label));
    facts_text(line->facts, facts, sizeof(facts));
    determination_text(ev->c != NULL ? ev->c->determination : NULL, before,
                       sizeof(before));
    if (now == NULL)
        snprintf(after, sizeof(after), "%s: %s",
                 cjx_client_code_name(ev->st.code), ev->st.message);
    else
        determination_text(now, after, sizeof(after));
    join(reasons, sizeof(reasons), now ? now->reason_codes : NULL,
         now ? now->n_reason_codes : 0);
    join(missing, sizeof(missing), now ? now->missing_facts : NULL,
         now ? now->n_missing_facts : 0);
    if (cli->json) {
        char *key = cjx_json_from_message(&line->key->base, 0);
        char *det = now ? cjx_json_from_message(&now->base, 0) : NULL;
        printf("{\"line\":%d,\"key\":%s,\"facts\":%s,\"determination\":%s"
               "}\n",
               l->line, key ? key : "null", facts, det ? det : "null");
        free(key);
        free(det);
    } else {
        const char *cells[] = {lineno, label,   facts,  before,
                               after,  reasons, missing};
        cli_table_add(t, cells);
    }
    return now == NULL;
}

int
steps_read_facts(struct step_input *in, const char *path)
{
    static const struct step_column columns[] = {
        STEP_KEY_COLUMNS, STEP_FACT_COLUMNS, {NULL, NULL, 0, NULL, 0}};
    return step_input_read(in, path, &cjx__v1__prosecutor_decision__descriptor,
                           columns, check_facts_line, NULL);
}

static int
review_facts(struct cli *cli, const char *path, const Cjx__V1__Date *as_of)
{
    struct step_input in;
    if (steps_read_facts(&in, path) != 0) {
        step_input_fini(&in);
        return 1;
    }
    static const char *const headers[] = {
        "LINE", "CASE", "FACTS", "DOJ", "NOW", "REASONS", "STILL MISSING"};
    struct cli_table *t = cli->json ? NULL : cli_table_new(7, headers);
    int status = 0;
    struct reevaluation *evs = calloc(REVIEW_BATCH, sizeof(*evs));
    if (evs == NULL) {
        fprintf(stderr, "cjxctl: out of memory\n");
        status = 1;
    }
    for (size_t from = 0; evs != NULL && from < in.n; from += REVIEW_BATCH) {
        size_t n = in.n - from < REVIEW_BATCH ? in.n - from : REVIEW_BATCH;
        struct review_batch b = {cli, in.lines + from, evs};
        cli_fan_out(n, NULL, fetch_line, NULL, &b);
        ProtobufCMessage *resp =
            evaluate_batch(cli, in.lines + from, evs, n, as_of);
        for (size_t i = 0; i < n; i++) {
            status |= print_reevaluation(cli, t, &in.lines[from + i], &evs[i]);
            if (evs[i].c != NULL)
                protobuf_c_message_free_unpacked(&evs[i].c->base, NULL);
        }
        if (resp != NULL)
            protobuf_c_message_free_unpacked(resp, NULL);
        steps_progress("evaluating", from + n, in.n);
    }
    free(evs);
    if (t != NULL) {
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
    step_input_fini(&in);
    return status;
}

int
cmd_review(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"facts", required_argument, NULL, 'f'},
        {"as-of", required_argument, NULL, 'a'},
        {NULL, 0, NULL, 0}};
    const char *facts = NULL;
    Cjx__V1__Date as_of = CJX__V1__DATE__INIT;
    int ch, y, m, d;
    /* 0, not 1: GNU getopt starts afresh, so that options may follow the
     * operands here although cjxctl's own options stop at the command. */
    optind = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            facts = optarg;
            break;
        case 'a':
            if (cli_parse_as_of(optarg, &as_of) != 0)
                return 2;
            break;
        default:
            return 2;
        }
    }
    if (optind != argc || (as_of.year != 0 && facts == NULL)) {
        fprintf(stderr, "usage: cjxctl review [--facts FILE [--as-of DATE]]\n");
        return 2;
    }
    if (as_of.year == 0) {
        cjx_date_from_days(cjx_clock_now_us() / US_PER_DAY, &y, &m, &d);
        as_of.year = y;
        as_of.month = m;
        as_of.day = d;
    }
    if (cli_connect(cli) != 0)
        return 1;
    return facts != NULL ? review_facts(cli, facts, &as_of) : print_queue(cli);
}
