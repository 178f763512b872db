/* cjxctl report: the AB 1706 progress report from a daemon's cases (all
 * counties at DOJ, one at a county agency), or offline from cases saved
 * with `cjxctl --json cases`. Cases are read a page at a time and only
 * tallies are kept. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "cjx/date.h"
#include "cjx/json.h"
#include "cjx/v1/exchange.methods.h"
#include "cli.h"
#include "progress.h"

#define DAY_US (INT64_C(86400) * 1000000)

enum report_format { REPORT_CSV, REPORT_JSON, REPORT_HTML };

/* "2026-01-31" as the first microsecond of that day (UTC). */
static int
parse_day(const char *s, int64_t *us)
{
    int y, m, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
        !cjx_date_is_valid(y, m, d))
        return -1;
    *us = cjx_date_to_days(y, m, d) * DAY_US;
    return 0;
}

/* Every case the daemon lets this caller see (of county, if given). */
static int
tally_daemon(struct cli *cli, const char *county, struct progress *p)
{
    int status = cli_connect(cli);
    if (status != 0)
        return status;
    Cjx__V1__ListCasesRequest req = CJX__V1__LIST_CASES_REQUEST__INIT;
    if (county != NULL) {
        req.filter_case = CJX__V1__LIST_CASES_REQUEST__FILTER_COUNTY;
        req.county = (char *)county;
    }
    req.page_size = 1000;
    char token[128] = "";
    do {
        req.page_token = token;
        ProtobufCMessage *resp = NULL;
        struct cjx_client_status st;
        int err = cjx_client_unary(
            cli->client,
            &cjx__v1__case_service__methods[CASE_SERVICE_LIST_CASES], &req.base,
            cli->timeout_ms, &resp, &st);
        if (err != 0 || st.code != 0) {
            if (resp != NULL)
                protobuf_c_message_free_unpacked(resp, NULL);
            if (err != 0) {
                fprintf(stderr, "cjxctl: %s\n", cjx_strerror(err));
                return 1;
            }
            return cli_report_status("report", &st);
        }
        Cjx__V1__ListCasesResponse *r = (Cjx__V1__ListCasesResponse *)resp;
        for (size_t i = 0; i < r->n_cases && status == 0; i++)
            if (progress_add(p, r->cases[i]) != 0) {
                fprintf(stderr, "cjxctl: more than %d counties\n",
                        PROGRESS_MAX_COUNTIES);
                status = 1;
            }
        snprintf(token, sizeof(token), "%s", r->next_page_token);
        protobuf_c_message_free_unpacked(resp, NULL);
    } while (token[0] != '\0' && status == 0);
    return status;
}

/* Cases saved as JSON Lines (one cjx.v1.Case per line), read a line at a
 * time. */
static int
tally_file(const char *path, const char *county, struct progress *p)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cjxctl: cannot read %s\n", path);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int status = 0;
    while (status == 0 && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (n == 1 && line[0] == '\n')
            continue;
        ProtobufCMessage *m;
        struct cjx_errbuf eb;
        if (cjx_json_to_message(&cjx__v1__case__descriptor, line, (size_t)n,
                                NULL, &m, &eb) != 0) {
            fprintf(stderr, "%s:%ld: %s\n", path, lineno, eb.msg);
            status = 1;
            break;
        }
        const Cjx__V1__Case *c = (const Cjx__V1__Case *)m;
        if ((county == NULL || strcmp(c->county, county) == 0) &&
            progress_add(p, c) != 0) {
            fprintf(stderr, "cjxctl: more than %d counties\n",
                    PROGRESS_MAX_COUNTIES);
            status = 1;
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return status;
}

static int
usage(void)
{
    fprintf(stderr, "usage: cjxctl report [--from YYYY-MM-DD] [--to "
                    "YYYY-MM-DD] [--county X]\n"
                    "                     [--format csv|json|html] [--title "
                    "T] [--cases FILE] [-o FILE]\n");
    return 2;
}

int
cmd_report(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"county", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'F'},
        {"title", required_argument, NULL, 'T'},
        {"cases", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}};
    int64_t now = cjx_clock_now_us(), from = 0, to = 0;
    int have_from = 0, have_to = 0;
    const char *county = NULL, *input = NULL, *output = NULL;
    const char *title = "Proposition 64 relief: progress report";
    enum report_format format = REPORT_CSV;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
        case 't':
            if (parse_day(optarg, ch == 'f' ? &from : &to) != 0) {
                fprintf(stderr, "cjxctl: --%s wants YYYY-MM-DD\n",
                        ch == 'f' ? "from" : "to");
                return 2;
            }
            if (ch == 'f')
                have_from = 1;
            else
                have_to = 1;
            break;
        case 'c':
            county = optarg;
            break;
        case 'F':
            if (strcmp(optarg, "csv") == 0)
                format = REPORT_CSV;
            else if (strcmp(optarg, "json") == 0)
                format = REPORT_JSON;
            else if (strcmp(optarg, "html") == 0)
                format = REPORT_HTML;
            else {
                fprintf(stderr, "cjxctl: --format is csv, json or html\n");
                return 2;
            }
            break;
        case 'T':
            title = optarg;
            break;
        case 'i':
            input = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        default:
            return usage();
        }
    }
    if (optind != argc)
        return usage();
    int64_t q_from, q_to;
    progress_last_quarter(now, &q_from, &q_to);
    if (!have_from)
        from = have_to ? to + DAY_US - 92 * DAY_US : q_from;
    /* --to names the last day of the period. */
    to = have_to ? to + DAY_US : q_to;
    if (to <= from) {
        fprintf(stderr, "cjxctl: --to is before --from\n");
        return 2;
    }
    struct progress *p = malloc(sizeof(*p));
    if (p == NULL)
        return 1;
    progress_init(p, from, to, now);
    int status = input != NULL ? tally_file(input, county, p)
                               : tally_daemon(cli, county, p);
    FILE *out = stdout;
    if (status == 0 && output != NULL && (out = fopen(output, "w")) == NULL) {
        fprintf(stderr, "cjxctl: cannot write %s\n", output);
        status = 1;
    }
    if (status == 0) {
        int rc = format == REPORT_CSV    ? progress_write_csv(p, out)
                 : format == REPORT_JSON ? progress_write_json(p, out)
                                         : progress_write_html(p, title, out);
        if (out != stdout && fclose(out) != 0)
            rc = -1;
        if (rc != 0) {
            fprintf(stderr, "cjxctl: cannot write the report\n");
            status = 1;
        }
    }
    progress_fini(p);
    free(p);
    return status;
}
