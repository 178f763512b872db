/* cjxctl audit: verify, tail and export the daemon's audit log, and verify
 * an export offline. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cjx/audit.h"
#include "cjx/audit_wire.h"
#include "cjx/clock.h"
#include "cjx/json.h"
#include "cjx/tls.h"
#include "cjx/v1/audit.methods.h"
#include "cli.h"

static const struct cjx_method *
audit_method(int index)
{
    return &cjx__v1__audit_service__methods[index];
}

static void
audit_usage(FILE *out)
{
    fprintf(out, "usage: cjxctl audit verify\n"
                 "       cjxctl audit verify --file EXPORT.jsonl --ca CA.pem "
                 "--agency ORI --trust-domain TD\n"
                 "       cjxctl audit tail [-n N] [--after SEQ] [--follow]\n"
                 "       cjxctl audit export [--after SEQ] [FILE]\n");
}

/* ---- verify --------------------------------------------------------------- */

/* Who wrote the entries, when replicas of the agency wrote them: one line
 * each. A lone daemon's log (one writer, unnamed) prints nothing more. */
static void
print_replicas(const struct cjx_audit_report *r)
{
    if (r->n_replicas == 0 ||
        (r->n_replicas == 1 && r->replicas[0].name[0] == '\0'))
        return;
    for (int i = 0; i < r->n_replicas; i++)
        printf("  replica %s: %" PRId64 " entries\n",
               r->replicas[i].name[0] != '\0' ? r->replicas[i].name
                                              : "(unnamed: a lone daemon's or "
                                                "older entries)",
               r->replicas[i].entries);
}

static int
print_report(struct cli *cli, const struct cjx_audit_report *r)
{
    if (cli->json) {
        Cjx__V1__VerifyAuditResponse resp;
        struct cjx_audit_wire_room room;
        cjx_audit_report_to_wire(r, &resp, &room);
        cli_print_json_line(stdout, &resp.base);
        return r->ok ? 0 : 1;
    }
    if (!r->ok) {
        printf("audit log FAILED at entry %" PRId64 ": %s\n", r->first_bad_seq,
               r->reason);
        printf("(%" PRId64 " entries and %" PRId64 " checkpoints before it "
               "verified)\n",
               r->entries, r->checkpoints);
        return 1;
    }
    printf("audit log OK: %" PRId64 " entries, %" PRId64 " checkpoints",
           r->entries, r->checkpoints);
    if (r->last_checkpoint_seq > 0)
        printf("; signed up to entry %" PRId64 " (%" PRId64 " after it not "
               "signed yet)\n",
               r->last_checkpoint_seq, r->last_seq - r->last_checkpoint_seq);
    else if (r->entries > 0)
        printf("; no checkpoint yet: nothing is signed\n");
    else
        printf("\n");
    print_replicas(r);
    return 0;
}

static int
verify_remote(struct cli *cli)
{
    if (cli_connect(cli) != 0)
        return 1;
    Cjx__V1__VerifyAuditRequest req = CJX__V1__VERIFY_AUDIT_REQUEST__INIT;
    ProtobufCMessage *resp_msg;
    struct cjx_client_status st;
    /* Verifying reads the whole log: no deadline unless one was asked. */
    int timeout = cli->timeout_ms == 30000 ? 0 : cli->timeout_ms;
    if (cjx_client_unary(cli->client, audit_method(AUDIT_SERVICE_VERIFY_AUDIT),
                         &req.base, timeout, &resp_msg, &st) != 0 ||
        st.code != 0)
        return cli_report_status("VerifyAudit", &st);
    Cjx__V1__VerifyAuditResponse *resp =
        (Cjx__V1__VerifyAuditResponse *)resp_msg;
    struct cjx_audit_report r;
    cjx_audit_report_from_wire(resp, &r);
    protobuf_c_message_free_unpacked(resp_msg, NULL);
    return print_report(cli, &r);
}

/* Verifies an export line by line, so that a large file needs no more
 * memory than its longest line. */
static int
verify_file(struct cli *cli, const char *path, const char *ca_path,
            const char *agency, const char *trust_domain)
{
    char *ca;
    size_t ca_len;
    struct cjx_errbuf eb;
    if (cjx_tls_read_pem(ca_path, 0, &ca, &ca_len, &eb) != 0) {
        fprintf(stderr, "cjxctl: %s\n", eb.msg);
        return 1;
    }
    struct cjx_audit_trust trust = {ca, trust_domain, agency};
    struct cjx_audit_verifier *v;
    int err = cjx_audit_verifier_new(&trust, &v, &eb);
    cjx_tls_free_pem(ca, ca_len);
    if (err != 0) {
        fprintf(stderr, "cjxctl: %s\n", eb.msg);
        return 1;
    }
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cjxctl: cannot open %s: %s\n", path, strerror(errno));
        cjx_audit_verifier_free(v);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int line_no = 0;
    while (cjx_audit_verifier_ok(v) && (n = getline(&line, &cap, f)) >= 0)
        cjx_audit_verifier_export_line(v, line, (size_t)n, ++line_no);
    int read_error = ferror(f);
    free(line);
    if (f != stdin)
        fclose(f);
    if (read_error) {
        fprintf(stderr, "cjxctl: error reading %s\n", path);
        cjx_audit_verifier_free(v);
        return 1;
    }
    struct cjx_audit_report r;
    cjx_audit_verifier_finish(v, &r);
    cjx_audit_verifier_free(v);
    return print_report(cli, &r);
}

static int
audit_verify(struct cli *cli, int argc, char **argv)
{
    const char *file = NULL, *ca = NULL, *agency = NULL, *td = NULL;
    enum { OPT_FILE = 256, OPT_CA, OPT_AGENCY, OPT_TD };
    static const struct option opts[] = {
        {"file", required_argument, NULL, OPT_FILE},
        {"ca", required_argument, NULL, OPT_CA},
        {"agency", required_argument, NULL, OPT_AGENCY},
        {"trust-domain", required_argument, NULL, OPT_TD},
        {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_FILE:
            file = optarg;
            break;
        case OPT_CA:
            ca = optarg;
            break;
        case OPT_AGENCY:
            agency = optarg;
            break;
        case OPT_TD:
            td = optarg;
            break;
        default:
            audit_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        audit_usage(stderr);
        return 2;
    }
    if (file == NULL) {
        if (ca != NULL || agency != NULL || td != NULL) {
            fprintf(stderr, "cjxctl: --ca, --agency and --trust-domain go "
                            "with --file\n");
            return 2;
        }
        return verify_remote(cli);
    }
    if (ca == NULL || agency == NULL || td == NULL) {
        fprintf(stderr, "cjxctl: verifying a file needs --ca, --agency and "
                        "--trust-domain\n");
        return 2;
    }
    return verify_file(cli, file, ca, agency, td);
}

/* ---- tail -------------------------------------------------------------------- */

/* "AUDIT_EVENT_TYPE_STATE_CHANGE" -> "STATE_CHANGE". */
static const char *
type_name(int type)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &cjx__v1__audit_event_type__descriptor, type);
    if (v == NULL)
        return "?";
    static const char prefix[] = "AUDIT_EVENT_TYPE_";
    return strncmp(v->name, prefix, sizeof(prefix) - 1) == 0
               ? v->name + sizeof(prefix) - 1
               : v->name;
}

/* Text from the log as it may be shown on a terminal: no control bytes. */
static void
printable(const char *s, char *out, size_t len)
{
    size_t n = 0;
    for (; *s != '\0' && n + 1 < len; s++)
        out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    out[n] = '\0';
}

static void
print_entry_header(void)
{
    printf("%-7s %-27s %-12s %-9s %-24s %-28s %-30s %s\n", "SEQ", "TIME",
           "TYPE", "AGENCY", "PEER", "METHOD", "OBJECT", "OUTCOME");
}

static void
print_entry_line(const ProtobufCMessage *msg)
{
    const Cjx__V1__AuditRecord *rec = (const Cjx__V1__AuditRecord *)msg;
    if (rec->item_case != CJX__V1__AUDIT_RECORD__ITEM_ENTRY)
        return;
    const Cjx__V1__AuditEntry *e = rec->entry;
    char when[32], object[200], method[200], message[300];
    cjx_clock_format_utc(e->time_unix_us, when, sizeof(when));
    if (e->cii[0] != '\0' || e->court_case_number[0] != '\0')
        snprintf(object, sizeof(object), "%s/%s/%d", e->cii[0] ? e->cii : "-",
                 e->court_case_number[0] ? e->court_case_number : "-",
                 (int)e->count_number);
    else
        snprintf(object, sizeof(object), "-");
    /* "/cjx.v1.RecordService/GetRecord" reads as "RecordService/GetRecord". */
    const char *m = e->method;
    if (strncmp(m, "/cjx.v1.", 8) == 0)
        m += 8;
    char safe_object[200];
    printable(object, safe_object, sizeof(safe_object));
    printable(m, method, sizeof(method));
    printable(e->outcome_message, message, sizeof(message));
    printf("%-7" PRId64 " %-27s %-12s %-9s %-24s %-28s %-30s %s%s%s\n",
           rec->seq, when, type_name(e->type),
           e->agency_ori[0] ? e->agency_ori : "-", e->peer, method, safe_object,
           cjx_client_code_name(e->outcome_code), message[0] ? ": " : "",
           message);
}

static int
audit_tail(struct cli *cli, int argc, char **argv)
{
    Cjx__V1__TailAuditRequest req = CJX__V1__TAIL_AUDIT_REQUEST__INIT;
    req.last = 20;
    static const struct option opts[] = {
        {"after", required_argument, NULL, 'a'},
        {"follow", no_argument, NULL, 'f'},
        {"lines", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "a:fn:", opts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'a':
            req.after_seq = strtoll(optarg, &end, 10);
            if (*end != '\0' || req.after_seq < 0) {
                fprintf(stderr, "cjxctl: --after needs a seq >= 0\n");
                return 2;
            }
            break;
        case 'f':
            req.follow = 1;
            break;
        case 'n':
            req.last = (int32_t)strtol(optarg, &end, 10);
            if (*end != '\0' || req.last <= 0) {
                fprintf(stderr, "cjxctl: -n needs a count > 0\n");
                return 2;
            }
            break;
        default:
            audit_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        audit_usage(stderr);
        return 2;
    }
    static const struct cli_follow_view view = {print_entry_header,
                                                print_entry_line};
    return cli_follow(cli, audit_method(AUDIT_SERVICE_TAIL_AUDIT), &req.base,
                      "the audit log", "TailAudit", &view);
}

/* ---- export -------------------------------------------------------------------- */

static int
audit_export(struct cli *cli, int argc, char **argv)
{
    Cjx__V1__ExportAuditRequest req = CJX__V1__EXPORT_AUDIT_REQUEST__INIT;
    static const struct option opts[] = {
        {"after", required_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "a:", opts, NULL)) != -1) {
        char *end;
        if (ch != 'a') {
            audit_usage(stderr);
            return 2;
        }
        req.after_seq = strtoll(optarg, &end, 10);
        if (*end != '\0' || req.after_seq < 0) {
            fprintf(stderr, "cjxctl: --after needs a seq >= 0\n");
            return 2;
        }
    }
    if (optind < argc - 1) {
        audit_usage(stderr);
        return 2;
    }
    const char *path = optind == argc - 1 ? argv[optind] : "-";
    int to_file = strcmp(path, "-") != 0;
    if (cli_connect(cli) != 0)
        return 1;
    FILE *out = stdout;
    if (to_file) {
        /* The log names every caller and record: owner only. */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        out = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (out == NULL) {
            fprintf(stderr, "cjxctl: cannot write %s: %s\n", path,
                    strerror(errno));
            if (fd >= 0)
                close(fd);
            return 1;
        }
    }
    struct cjx_client_stream *s;
    if (cjx_client_stream_open(cli->client,
                               audit_method(AUDIT_SERVICE_EXPORT_AUDIT),
                               &req.base, 0, &s) != 0) {
        fprintf(stderr, "cjxctl: cannot open the audit log\n");
        if (to_file)
            fclose(out);
        return 1;
    }
    long entries = 0, checkpoints = 0;
    int write_failed = 0;
    ProtobufCMessage *msg;
    while (cjx_client_stream_read(s, &msg) == 1) {
        Cjx__V1__AuditRecord *rec = (Cjx__V1__AuditRecord *)msg;
        if (rec->item_case == CJX__V1__AUDIT_RECORD__ITEM_CHECKPOINT)
            checkpoints++;
        else
            entries++;
        char *line = cjx_json_from_message(msg, 0);
        if (line == NULL || fprintf(out, "%s\n", line) < 0)
            write_failed = 1;
        free(line);
        protobuf_c_message_free_unpacked(msg, NULL);
        if (write_failed)
            break;
    }
    struct cjx_client_status st;
    cjx_client_stream_finish(s, NULL, &st);
    cjx_client_stream_free(s);
    if (fflush(out) != 0)
        write_failed = 1;
    if (to_file && fclose(out) != 0)
        write_failed = 1;
    if (write_failed) {
        fprintf(stderr, "cjxctl: writing %s failed\n", path);
        return 1;
    }
    if (st.code != 0)
        return cli_report_status("ExportAudit", &st);
    fprintf(stderr, "exported %ld entries and %ld checkpoints%s%s\n", entries,
            checkpoints, to_file ? " to " : "", to_file ? path : "");
    return 0;
}

int
cmd_audit(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        audit_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "verify") == 0)
        return audit_verify(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "tail") == 0)
        return audit_tail(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "export") == 0)
        return audit_export(cli, argc - 1, argv + 1);
    fprintf(stderr, "cjxctl: unknown audit command '%s'\n", argv[1]);
    audit_usage(stderr);
    return 2;
}
