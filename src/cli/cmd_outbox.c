/* cjxctl outbox: what this daemon still has to hand to its peers, and why
 * a hand-off is waiting or was given up. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/v1/exchange.methods.h"
#include "cli.h"

/* "/cjx.v1.CaseService/Decide" -> "Decide" */
static const char *
method_short(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

static void
print_counts(const Cjx__V1__ListOutboxResponse *r, int with_delivered)
{
    static const char *const headers[] = {"PEER", "PENDING", "OLDEST PENDING",
                                          "PARKED", "DELIVERED"};
    struct cli_table *t = cli_table_new(5, headers);
    for (size_t i = 0; i < r->n_counts; i++) {
        const Cjx__V1__OutboxCount *c = r->counts[i];
        char pending[24], parked[24], delivered[24], oldest[40];
        snprintf(pending, sizeof(pending), "%" PRId64, c->pending);
        snprintf(parked, sizeof(parked), "%" PRId64, c->parked);
        if (with_delivered)
            snprintf(delivered, sizeof(delivered), "%" PRId64, c->delivered);
        else
            snprintf(delivered, sizeof(delivered), "(--all)");
        cli_format_time(c->oldest_pending_at_unix_us, oldest, sizeof(oldest));
        const char *cells[] = {c->destination_ori, pending, oldest, parked,
                               delivered};
        cli_table_add(t, cells);
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
}

int
cmd_outbox(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"parked", no_argument, NULL, 'p'},
        {"delivered", no_argument, NULL, 'd'},
        {"all", no_argument, NULL, 'a'},
        {"to", required_argument, NULL, 't'},
        {"limit", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    Cjx__V1__ListOutboxRequest req = CJX__V1__LIST_OUTBOX_REQUEST__INIT;
    long limit = 50;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            req.which = CJX__V1__LIST_OUTBOX_REQUEST__WHICH__WHICH_PARKED;
            break;
        case 'd':
            req.which = CJX__V1__LIST_OUTBOX_REQUEST__WHICH__WHICH_DELIVERED;
            break;
        case 'a':
            req.which = CJX__V1__LIST_OUTBOX_REQUEST__WHICH__WHICH_ALL;
            break;
        case 't':
            req.destination_ori = optarg;
            break;
        case 'n':
            limit = atol(optarg);
            break;
        default:
            return 2;
        }
    }
    if (optind != argc || limit < 0 || limit > 1000) {
        fprintf(stderr, "usage: cjxctl outbox [--parked | --delivered | --all] "
                        "[--to ORI] [--limit N (0..1000)]\n");
        return 2;
    }
    int status = cli_connect(cli);
    if (status != 0)
        return status;
    req.page_size = limit > 0 ? (int32_t)limit : 1;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    int err = cjx_client_unary(
        cli->client, &cjx__v1__case_service__methods[CASE_SERVICE_LIST_OUTBOX],
        &req.base, cli->timeout_ms, &resp, &st);
    if (err != 0) {
        fprintf(stderr, "cjxctl: %s\n", cjx_strerror(err));
        return 1;
    }
    if (st.code != 0)
        return cli_report_status("outbox", &st);
    Cjx__V1__ListOutboxResponse *r = (Cjx__V1__ListOutboxResponse *)resp;
    if (cli->json) {
        cli_print_json_line(stdout, resp);
        protobuf_c_message_free_unpacked(resp, NULL);
        return 0;
    }
    int with_delivered =
        req.which == CJX__V1__LIST_OUTBOX_REQUEST__WHICH__WHICH_DELIVERED ||
        req.which == CJX__V1__LIST_OUTBOX_REQUEST__WHICH__WHICH_ALL;
    if (r->n_counts == 0)
        printf("nothing to deliver, nothing parked\n");
    else
        print_counts(r, with_delivered);
    if (limit > 0 && r->n_entries > 0) {
        printf("\n");
        static const char *const headers[] = {
            "ID",       "PEER",         "STEP",   "CASE",
            "ATTEMPTS", "NEXT ATTEMPT", "STATUS", "LAST ERROR"};
        struct cli_table *t = cli_table_new(8, headers);
        for (size_t i = 0; i < r->n_entries; i++) {
            const Cjx__V1__OutboxEntry *e = r->entries[i];
            char id[24], key[128], attempts[16], next[40];
            snprintf(id, sizeof(id), "%" PRId64, e->id);
            snprintf(key, sizeof(key), "%s %s #%d", e->key ? e->key->cii : "",
                     e->key ? e->key->court_case_number : "",
                     e->key ? (int)e->key->count_number : 0);
            snprintf(attempts, sizeof(attempts), "%d", (int)e->attempts);
            const char *status_text = e->parked ? "parked"
                                      : e->delivered_at_unix_us != 0
                                          ? "delivered"
                                          : "pending";
            cli_format_time(e->delivered_at_unix_us == 0 && !e->parked
                                ? e->next_attempt_at_unix_us
                                : 0,
                            next, sizeof(next));
            const char *cells[] = {id,
                                   e->destination_ori,
                                   method_short(e->method),
                                   key,
                                   attempts,
                                   next,
                                   status_text,
                                   e->last_error[0] ? e->last_error : "-"};
            cli_table_add(t, cells);
        }
        cli_table_print(t, stdout);
        cli_table_free(t);
        if (r->next_page_token[0] != '\0')
            printf("(more rows: raise --limit or filter with --to)\n");
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}
