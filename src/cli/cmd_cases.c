/* cjxctl cases, case and notify: the cases of the relief exchange, and
 * DOJ's loading of an extract as candidate notices. */
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cjx/clock.h"
#include "cjx/date.h"
#include "cjx/evaluate.h"
#include "cjx/json.h"
#include "cjx/v1/exchange.methods.h"
#include "cli.h"

static const struct cjx_method *
case_method(int index)
{
    return &cjx__v1__case_service__methods[index];
}

/* An enum value's name without its type prefix ("CASE_STATE_NOTIFIED" ->
 * "NOTIFIED"). */
static const char *
short_name(const ProtobufCEnumDescriptor *d, int value, const char *prefix)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(d, value);
    if (v == NULL)
        return "?";
    size_t n = strlen(prefix);
    return strncmp(v->name, prefix, n) == 0 ? v->name + n : v->name;
}

static const char *
state_name(int v)
{
    return short_name(&cjx__v1__case_state__descriptor, v, "CASE_STATE_");
}

static const char *
relief_name(int v)
{
    return short_name(&cjx__v1__relief__descriptor, v, "RELIEF_");
}

static const char *
decision_name(int v)
{
    return v == 0 ? "-"
                  : short_name(&cjx__v1__decision_kind__descriptor, v,
                               "DECISION_KIND_");
}

static const char *
order_name(int v)
{
    return v == 0 ? "-"
                  : short_name(&cjx__v1__order_relief__descriptor, v,
                               "ORDER_RELIEF_");
}

static int
parse_state(const char *s, int *out)
{
    for (int v = 1; v <= 6; v++) {
        if (strcasecmp(s, state_name(v)) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int
parse_role(const char *s, int *out)
{
    static const char *const names[] = {"", "DOJ", "PROSECUTOR", "DEFENDER",
                                        "COURT"};
    for (int v = 1; v <= 4; v++) {
        if (strcasecmp(s, names[v]) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* ---- cjxctl cases ------------------------------------------------------ */

static int
cases_list(struct cli *cli, Cjx__V1__ListCasesRequest *req, long limit)
{
    static const char *const headers[] = {
        "CII",    "CASE",     "COUNT", "COUNTY", "STATE",
        "RELIEF", "DECISION", "ORDER", "DUE",    "FLAGS"};
    struct cli_table *t = cli->json ? NULL : cli_table_new(10, headers);
    long shown = 0;
    char token[32] = "";
    int status = 0;
    do {
        req->page_token = token;
        long want = limit > 0 && limit - shown < 1000 ? limit - shown : 1000;
        req->page_size = (int32_t)want;
        ProtobufCMessage *resp;
        struct cjx_client_status st;
        int err =
            cjx_client_unary(cli->client, case_method(CASE_SERVICE_LIST_CASES),
                             &req->base, cli->timeout_ms, &resp, &st);
        if (err != 0 || st.code != 0) {
            status =
                err != 0
                    ? (fprintf(stderr, "cjxctl: %s\n", cjx_strerror(err)), 1)
                    : cli_report_status("cases", &st);
            break;
        }
        Cjx__V1__ListCasesResponse *r = (Cjx__V1__ListCasesResponse *)resp;
        for (size_t i = 0; i < r->n_cases; i++) {
            const Cjx__V1__Case *c = r->cases[i];
            if (cli->json) {
                cli_print_json_line(stdout, &c->base);
                continue;
            }
            char count[16], due[40], flags[160] = "";
            snprintf(count, sizeof(count), "%d",
                     c->key ? (int)c->key->count_number : 0);
            int64_t due_us = 0;
            if (c->deadlines != NULL) {
                switch (c->state) {
                case CJX__V1__CASE_STATE__CASE_STATE_IDENTIFIED:
                    due_us = c->deadlines->notice_by_unix_us;
                    break;
                case CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED:
                    due_us = c->deadlines->review_by_unix_us;
                    break;
                case CJX__V1__CASE_STATE__CASE_STATE_NOT_CHALLENGED:
                case CJX__V1__CASE_STATE__CASE_STATE_CHALLENGED:
                    due_us = c->deadlines->order_by_unix_us;
                    break;
                case CJX__V1__CASE_STATE__CASE_STATE_ORDERED:
                    due_us = c->deadlines->history_update_by_unix_us;
                    break;
                default:
                    break;
                }
            }
            cli_format_time(due_us, due, sizeof(due));
            for (size_t k = 0; k < c->n_flags; k++)
                snprintf(flags + strlen(flags), sizeof(flags) - strlen(flags),
                         "%s%s", k ? "," : "", c->flags[k]);
            const char *cells[] = {c->key ? c->key->cii : "",
                                   c->key ? c->key->court_case_number : "",
                                   count,
                                   c->county,
                                   state_name(c->state),
                                   relief_name(c->relief),
                                   decision_name(c->decision),
                                   order_name(c->order),
                                   due,
                                   flags[0] ? flags : "-"};
            cli_table_add(t, cells);
        }
        shown += (long)r->n_cases;
        snprintf(token, sizeof(token), "%s", r->next_page_token);
        protobuf_c_message_free_unpacked(resp, NULL);
    } while (token[0] != '\0' && (limit <= 0 || shown < limit));
    if (t != NULL) {
        if (status == 0) {
            cli_table_print(t, stdout);
            printf("%ld case(s)%s\n", shown,
                   token[0] != '\0' ? " (more: raise --limit)" : "");
        }
        cli_table_free(t);
    }
    return status;
}

/* The summary of cjxctl cases stats: cases by outcome and state, and how
 * fast each step went through over all cases. */
static void
print_stats(const Cjx__V1__CaseStatsResponse *r)
{
    printf("%" PRId64 " case(s)\n\n", r->total);
    static const char *const headers[] = {"STATE", "RELIEF", "DECISION",
                                          "ORDER", "CASES"};
    struct cli_table *t = cli_table_new(5, headers);
    for (int state = 1; state <= 6; state++) {
        for (size_t i = 0; i < r->n_counts; i++) {
            const Cjx__V1__CaseCount *c = r->counts[i];
            if ((int)c->state != state)
                continue;
            char n[24];
            snprintf(n, sizeof(n), "%" PRId64, c->cases);
            const char *cells[] = {state_name(c->state), relief_name(c->relief),
                                   decision_name(c->decision),
                                   order_name(c->order), n};
            cli_table_add(t, cells);
        }
    }
    cli_table_print(t, stdout);
    cli_table_free(t);

    /* Each step's throughput: how many cases took it, over the time from
     * the first to the last. */
    static const char *const steps[] = {"identified", "notified", "decided",
                                        "ordered", "history updated"};
    int64_t first[5] = {0}, last[5] = {0}, n[5] = {0};
    if (r->first != NULL && r->last != NULL) {
        first[0] = r->first->identified_at_unix_us;
        first[1] = r->first->notified_at_unix_us;
        first[2] = r->first->decided_at_unix_us;
        first[3] = r->first->ordered_at_unix_us;
        first[4] = r->first->history_updated_at_unix_us;
        last[0] = r->last->identified_at_unix_us;
        last[1] = r->last->notified_at_unix_us;
        last[2] = r->last->decided_at_unix_us;
        last[3] = r->last->ordered_at_unix_us;
        last[4] = r->last->history_updated_at_unix_us;
    }
    for (size_t i = 0; i < r->n_counts; i++) {
        const Cjx__V1__CaseCount *c = r->counts[i];
        int s = c->state;
        if (s >= CJX__V1__CASE_STATE__CASE_STATE_NOTIFIED)
            n[1] += c->cases;
        if (c->decision == CJX__V1__DECISION_KIND__DECISION_KIND_NO_CHALLENGE ||
            c->decision == CJX__V1__DECISION_KIND__DECISION_KIND_CHALLENGE)
            n[2] += c->cases;
        if (s >= CJX__V1__CASE_STATE__CASE_STATE_ORDERED)
            n[3] += c->cases;
        if (s == CJX__V1__CASE_STATE__CASE_STATE_HISTORY_UPDATED)
            n[4] += c->cases;
    }
    printf("\n");
    static const char *const h2[] = {"STEP", "CASES",   "FIRST",
                                     "LAST", "SECONDS", "CASES/S"};
    t = cli_table_new(6, h2);
    for (int i = 1; i < 5; i++) {
        if (n[i] == 0)
            continue;
        char cases[24], f[40], l[40], secs[24], rate[24];
        snprintf(cases, sizeof(cases), "%" PRId64, n[i]);
        cli_format_time(first[i], f, sizeof(f));
        cli_format_time(last[i], l, sizeof(l));
        double s = (double)(last[i] - first[i]) / 1e6;
        snprintf(secs, sizeof(secs), "%.2f", s);
        snprintf(rate, sizeof(rate), "%.0f", s > 0 ? (double)n[i] / s : 0.0);
        const char *cells[] = {steps[i], cases, f, l, secs, rate};
        cli_table_add(t, cells);
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
}

/* Decided cases that have not reached HISTORY_UPDATED. */
static int64_t
unfinished(const Cjx__V1__CaseStatsResponse *r)
{
    int64_t n = 0;
    for (size_t i = 0; i < r->n_counts; i++) {
        const Cjx__V1__CaseCount *c = r->counts[i];
        int decided =
            c->decision != CJX__V1__DECISION_KIND__DECISION_KIND_UNSPECIFIED;
        if (decided &&
            c->state != CJX__V1__CASE_STATE__CASE_STATE_HISTORY_UPDATED)
            n += c->cases;
    }
    return n;
}

/* Hand-offs still waiting in this daemon's outbox, or -1. */
static int64_t
outbox_pending(struct cli *cli)
{
    Cjx__V1__ListOutboxRequest req = CJX__V1__LIST_OUTBOX_REQUEST__INIT;
    req.page_size = 1;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    if (cjx_client_unary(cli->client, case_method(CASE_SERVICE_LIST_OUTBOX),
                         &req.base, cli->timeout_ms, &resp, &st) != 0 ||
        st.code != 0)
        return -1;
    Cjx__V1__ListOutboxResponse *r = (Cjx__V1__ListOutboxResponse *)resp;
    int64_t n = 0;
    for (size_t i = 0; i < r->n_counts; i++)
        n += r->counts[i]->pending;
    protobuf_c_message_free_unpacked(resp, NULL);
    return n;
}

static int
fetch_stats(struct cli *cli, const char *county,
            Cjx__V1__CaseStatsResponse **out, struct cjx_client_status *st)
{
    Cjx__V1__CaseStatsRequest req = CJX__V1__CASE_STATS_REQUEST__INIT;
    req.county = (char *)(county != NULL ? county : "");
    ProtobufCMessage *resp = NULL;
    int err =
        cjx_client_unary(cli->client, case_method(CASE_SERVICE_CASE_STATS),
                         &req.base, cli->timeout_ms, &resp, st);
    *out = (Cjx__V1__CaseStatsResponse *)resp;
    return err;
}

/* This daemon's newest case-feed position, or -1. */
static int64_t
feed_position(struct cli *cli)
{
    Cjx__V1__CaseStatsRequest req = CJX__V1__CASE_STATS_REQUEST__INIT;
    req.position_only = 1;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    if (cjx_client_unary(cli->client, case_method(CASE_SERVICE_CASE_STATS),
                         &req.base, cli->timeout_ms, &resp, &st) != 0 ||
        st.code != 0)
        return -1;
    int64_t seq = ((Cjx__V1__CaseStatsResponse *)resp)->last_seq;
    protobuf_c_message_free_unpacked(resp, NULL);
    return seq;
}

/* Waits until the exchange is quiet here: nothing in the outbox and no
 * case changing for a second, then every decided case history-updated.
 * The cheap looks come first, so that waiting costs the daemon nothing.
 * 0, or 1 after timeout_s. */
static int
wait_settled(struct cli *cli, const char *county, int timeout_s)
{
    int64_t deadline = cjx_clock_monotonic_us() + (int64_t)timeout_s * 1000000;
    int64_t last = -1;
    int steady = 0;
    while (cjx_clock_monotonic_us() < deadline) {
        int64_t seq = feed_position(cli);
        int quiet = seq >= 0 && outbox_pending(cli) == 0 && seq == last;
        steady = quiet ? steady + 1 : 0;
        last = seq;
        if (steady >= 4) {
            Cjx__V1__CaseStatsResponse *r = NULL;
            struct cjx_client_status st;
            int done = fetch_stats(cli, county, &r, &st) == 0 && st.code == 0 &&
                       unfinished(r) == 0;
            if (r != NULL)
                protobuf_c_message_free_unpacked(&r->base, NULL);
            if (done)
                return 0;
            steady = 0;
        }
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "cjxctl: the exchange did not settle within %d s\n",
            timeout_s);
    return 1;
}

static int
cases_stats(struct cli *cli, const char *county, int check)
{
    Cjx__V1__CaseStatsRequest req = CJX__V1__CASE_STATS_REQUEST__INIT;
    req.county = (char *)(county != NULL ? county : "");
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    int err =
        cjx_client_unary(cli->client, case_method(CASE_SERVICE_CASE_STATS),
                         &req.base, cli->timeout_ms, &resp, &st);
    if (err != 0) {
        fprintf(stderr, "cjxctl: %s\n", cjx_strerror(err));
        return 1;
    }
    if (st.code != 0)
        return cli_report_status("cases stats", &st);
    Cjx__V1__CaseStatsResponse *r = (Cjx__V1__CaseStatsResponse *)resp;
    if (cli->json)
        cli_print_json_line(stdout, resp);
    else
        print_stats(r);
    int status = 0;
    if (check) {
        int64_t open = unfinished(r);
        if (open > 0) {
            fprintf(stderr,
                    "cjxctl: %" PRId64 " decided case(s) have not reached "
                    "HISTORY_UPDATED\n",
                    open);
            status = 1;
        } else if (!cli->json) {
            printf("\nevery decided case reached HISTORY_UPDATED\n");
        }
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return status;
}

int
cmd_cases(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"county", required_argument, NULL, 'c'},
        {"cii", required_argument, NULL, 'i'},
        {"state", required_argument, NULL, 's'},
        {"overdue", no_argument, NULL, 'o'},
        {"overdue-for", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'n'},
        {"check", no_argument, NULL, 'k'},
        {"wait", required_argument, NULL, 'w'},
        {"position", no_argument, NULL, 'p'},
        {NULL, 0, NULL, 0}};
    Cjx__V1__ListCasesRequest req = CJX__V1__LIST_CASES_REQUEST__INIT;
    const char *county = NULL;
    long limit = 0;
    int check = 0, stats = 0, wait_s = 0, position = 0;
    int ch, v;
    optind = 1;
    if (argc > 1 && strcmp(argv[1], "stats") == 0) {
        stats = 1;
        argc--;
        argv++;
    }
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            county = optarg;
            req.filter_case = CJX__V1__LIST_CASES_REQUEST__FILTER_COUNTY;
            req.county = optarg;
            break;
        case 'i':
            req.filter_case = CJX__V1__LIST_CASES_REQUEST__FILTER_CII;
            req.cii = optarg;
            break;
        case 's':
            if (parse_state(optarg, &v) != 0) {
                fprintf(stderr, "cjxctl: unknown state %s\n", optarg);
                return 2;
            }
            req.state = v;
            break;
        case 'o':
            req.overdue = 1;
            break;
        case 'f':
            if (parse_role(optarg, &v) != 0) {
                fprintf(stderr, "cjxctl: unknown role %s\n", optarg);
                return 2;
            }
            req.overdue_for = v;
            break;
        case 'n':
            limit = atol(optarg);
            break;
        case 'k':
            check = 1;
            break;
        case 'w':
            wait_s = atoi(optarg);
            break;
        case 'p':
            position = 1;
            break;
        default:
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr,
                "usage: cjxctl cases [--county X | --cii X] [--state S] "
                "[--overdue] [--overdue-for ROLE] [--limit N]\n"
                "       cjxctl cases stats [--county X] [--check] "
                "[--wait SECONDS] [--position]\n");
        return 2;
    }
    int status = cli_connect(cli);
    if (status != 0)
        return status;
    if (stats && position) {
        /* Whether anything still moves here, cheaply: the newest case
         * version and the hand-offs still to deliver. */
        int64_t seq = feed_position(cli), pending = outbox_pending(cli);
        if (seq < 0 || pending < 0) {
            fprintf(stderr, "cjxctl: cannot read the daemon's position\n");
            return 1;
        }
        printf("%" PRId64 " %" PRId64 "\n", seq, pending);
        return 0;
    }
    if (stats && wait_s > 0 && wait_settled(cli, county, wait_s) != 0)
        return 1;
    if (stats)
        return cases_stats(cli, county, check);
    return cases_list(cli, &req, limit);
}

/* ---- cjxctl case CII CASE COUNT ----------------------------------------- */

static void
print_case(const Cjx__V1__Case *c)
{
    char buf[64];
    printf("case            %s %s count %d (%s)\n", c->key ? c->key->cii : "",
           c->key ? c->key->court_case_number : "",
           c->key ? (int)c->key->count_number : 0, c->county);
    printf("state           %s (version %" PRId64 ", seq %" PRId64 ")\n",
           state_name(c->state), c->version, c->seq);
    printf("prosecutor      %s\n",
           c->prosecutor_ori[0] ? c->prosecutor_ori : "-");
    if (c->origin == CJX__V1__CASE_ORIGIN__CASE_ORIGIN_PETITION)
        printf("origin          petition (HS 11361.8)\n");
    printf("relief          %s", relief_name(c->relief));
    if (c->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW)
        printf(" (floor %s, ceiling %s)", relief_name(c->floor),
               relief_name(c->ceiling));
    printf("\ndecision        %s", decision_name(c->decision));
    if (c->decision == CJX__V1__DECISION_KIND__DECISION_KIND_NO_CHALLENGE)
        printf(" (%s)", relief_name(c->accepted_relief));
    if (c->decision == CJX__V1__DECISION_KIND__DECISION_KIND_CHALLENGE)
        printf(" (%s%s%s)",
               short_name(&cjx__v1__challenge_ground__descriptor, c->ground,
                          "CHALLENGE_GROUND_"),
               c->reason_code[0] ? ": " : "", c->reason_code);
    printf("\norder           %s\n", order_name(c->order));
    if (c->times != NULL) {
        static const char *const names[] = {"identified", "notified", "decided",
                                            "ordered", "history updated"};
        int64_t t[] = {
            c->times->identified_at_unix_us, c->times->notified_at_unix_us,
            c->times->decided_at_unix_us, c->times->ordered_at_unix_us,
            c->times->history_updated_at_unix_us};
        for (int i = 0; i < 5; i++) {
            if (t[i] == 0)
                continue;
            cli_format_time(t[i], buf, sizeof(buf));
            printf("%-16s%s\n", names[i], buf);
        }
    }
    for (size_t i = 0; i < c->n_flags; i++)
        printf("flag            %s\n", c->flags[i]);
}

int
cmd_case(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"notice", no_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    Cjx__V1__GetCaseRequest req = CJX__V1__GET_CASE_REQUEST__INIT;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch != 'n')
            return 2;
        req.include_notice = 1;
    }
    if (optind + 3 != argc) {
        fprintf(stderr, "usage: cjxctl case [--notice] CII CASE COUNT\n");
        return 2;
    }
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = argv[optind];
    key.court_case_number = argv[optind + 1];
    key.count_number = atoi(argv[optind + 2]);
    req.key = &key;
    int status = cli_connect(cli);
    if (status != 0)
        return status;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    int err = cjx_client_unary(cli->client, case_method(CASE_SERVICE_GET_CASE),
                               &req.base, cli->timeout_ms, &resp, &st);
    if (err != 0) {
        fprintf(stderr, "cjxctl: %s\n", cjx_strerror(err));
        return 1;
    }
    if (st.code != 0)
        return cli_report_status("case", &st);
    if (cli->json || req.include_notice)
        cli_print_json_line(stdout, resp);
    else
        print_case((Cjx__V1__Case *)resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}
