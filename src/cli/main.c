/* cjxctl: the operator's command-line client for cjxd. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void
usage(FILE *out)
{
    fprintf(
        out,
        "usage: cjxctl [options] COMMAND [args]\n"
        "\n"
        "Commands:\n"
        "  submit FILE|-              submit conviction records (one JSON "
        "object,\n"
        "                             or JSON Lines; proto3 JSON of\n"
        "                             cjx.v1.ConvictionRecord)\n"
        "  get CII CASE COUNT         show one record\n"
        "  list --cii X | --county X | --case X\n"
        "                             list records\n"
        "  watch [--after SEQ] [--follow]\n"
        "                             print the change feed\n"
        "  health                     ask whether the daemon is serving\n"
        "  eval [--rules DIR] [--rule-set NAME] [--as-of DATE] FILE|-\n"
        "                             dry run of the rule sets, no daemon: "
        "what\n"
        "                             they decide for each count (JSON Lines "
        "of\n"
        "                             cjx.v1.ReliefQuery or ConvictionRecord)\n"
        "  audit verify               check the audit log's hash chain and\n"
        "                             signed checkpoints; names the first bad\n"
        "                             entry\n"
        "  audit verify --file FILE --ca CA.pem --agency ORI --trust-domain "
        "TD\n"
        "                             the same for an export, no daemon "
        "needed\n"
        "  audit tail [-n N] [--after SEQ] [--follow]\n"
        "                             print audit entries\n"
        "  audit export [--after SEQ] [FILE]\n"
        "                             write the audit log as JSON Lines\n"
        "  cases [--county X | --cii X] [--state S] [--overdue]\n"
        "        [--overdue-for ROLE] [--limit N]\n"
        "                             list relief cases (those with a missed\n"
        "                             deadline with --overdue)\n"
        "  cases stats [--county X] [--check] [--wait SECONDS] [--position]\n"
        "                             cases by state and outcome, and the\n"
        "                             throughput of each step; --check fails\n"
        "                             if a decided case is not "
        "history-updated;\n"
        "                             --wait first waits for the exchange to\n"
        "                             settle here; --position prints the "
        "newest\n"
        "                             case-feed seq and the pending hand-offs\n"
        "  case [--notice] CII CASE COUNT\n"
        "                             show one case\n"
        "  notify [--rules DIR] [--as-of DATE] [--format pb|jsonl] [--hold] "
        "FILE\n"
        "                             DOJ: evaluate an extract "
        "(cjx.v1.ReliefQuery)\n"
        "                             and send every candidate as a notice\n"
        "  notify --from-store [--county X] [--registry FILE] [--rules "
        "DIR]\n"
        "                             DOJ: the same from the records in its\n"
        "                             store\n"
        "  decide [--dry-run] (CII CASE COUNT (--relief R | --ground G\n"
        "         [--reason-code C]) | --file FILE)\n"
        "                             prosecutor: no challenge, or challenge\n"
        "  order [--dry-run] (CII CASE COUNT --relief R [--judge J] |\n"
        "         --file FILE | --bulk --county X --state S --judge J\n"
        "         --bulk-order-id ID [--relief accepted|R])\n"
        "                             court: one order, or a bulk order\n"
        "  ack [--dry-run] (CII CASE COUNT --applied R | --file FILE)\n"
        "                             DOJ: the order is on the record\n"
        "  notify-person [--dry-run] (CII CASE COUNT --contact-date D\n"
        "         --method M --outcome O [--note T] | --file FILE)\n"
        "                             public defender: the effort to tell "
        "the\n"
        "                             person of a challenge\n"
        "  review [--facts FILE [--as-of DATE]]\n"
        "                             prosecutor: cases waiting for a\n"
        "                             decision; with --facts, what facts "
        "found\n"
        "                             in the file lead to\n"
        "  report [--from DATE] [--to DATE] [--county X] [--format "
        "csv|json|html]\n"
        "         [--title T] [--cases FILE] [-o FILE]\n"
        "                             the AB 1706 progress report per "
        "county\n"
        "                             (default: the last quarter)\n"
        "  outbox [--parked|--delivered|--all] [--to ORI] [--limit N]\n"
        "                             hand-offs to peers: pending, and why\n"
        "  status                     the daemon on one screen: agency,\n"
        "                             version, uptime, rule sets, peers,\n"
        "                             expiries, store and audit log\n"
        "\n"
        "Options:\n"
        "  -s, --socket PATH   local daemon socket (default $CJX_SOCKET or\n"
        "                      /run/cjxd/cjxd.sock)\n"
        "  -r, --remote HOST:PORT  talk to a remote daemon over mTLS, with\n"
        "      --ca FILE --cert FILE --key FILE\n"
        "  -j, --json          JSON Lines output for scripts\n"
        "  -t, --timeout MS    deadline of each call (default 30000)\n"
        "  -h, --help          this help\n");
}

struct command {
    const char *name;
    int (*run)(struct cli *cli, int argc, char **argv);
};

static const struct command commands[] = {
    {"submit", cmd_submit},
    {"get", cmd_get},
    {"list", cmd_list},
    {"watch", cmd_watch},
    {"health", cmd_health},
    {"eval", cmd_eval},
    {"audit", cmd_audit},
    {"cases", cmd_cases},
    {"case", cmd_case},
    {"notify", cmd_notify},
    {"outbox", cmd_outbox},
    {"decide", cmd_decide},
    {"order", cmd_order},
    {"ack", cmd_ack},
    {"notify-person", cmd_notify_person},
    {"review", cmd_review},
    {"report", cmd_report},
    {"status", cmd_status},
};

int
main(int argc, char **argv)
{
    struct cli cli = {.timeout_ms = 30000};
    cli.socket = getenv("CJX_SOCKET");
    if (cli.socket == NULL)
        cli.socket = "/run/cjxd/cjxd.sock";
    enum { OPT_CA = 256, OPT_CERT, OPT_KEY };
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"remote", required_argument, NULL, 'r'},
        {"ca", required_argument, NULL, OPT_CA},
        {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;
    /* "+": options end at the command; its own options follow it. */
    while ((ch = getopt_long(argc, argv, "+s:r:jt:h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            cli.socket = optarg;
            break;
        case 'r':
            cli.remote = optarg;
            break;
        case OPT_CA:
            cli.ca = optarg;
            break;
        case OPT_CERT:
            cli.cert = optarg;
            break;
        case OPT_KEY:
            cli.key = optarg;
            break;
        case 'j':
            cli.json = 1;
            break;
        case 't':
            cli.timeout_ms = atoi(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            int status = commands[i].run(&cli, argc - optind, argv + optind);
            cjx_client_free(cli.client);
            return status;
        }
    }
    fprintf(stderr, "cjxctl: unknown command '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
}
