/* cjxctl submit, get, list, watch and health. */
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cjx/json.h"
#include "cjx/v1/record_service.methods.h"
#include "grpc/health/v1/health.methods.h"
#include "cli.h"

#define BULK_CHUNK          10000 /* the server's limit per SubmitRecords stream */
#define MAX_REPORTED_ERRORS 20

static const struct cjx_method *
record_method(int index)
{
    return &cjx__v1__record_service__methods[index];
}

static void
format_date(const Cjx__V1__Date *d, char *buf, size_t len)
{
    if (d == NULL || d->year == 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%04d-%02d-%02d", (int)d->year, (int)d->month,
                 (int)d->day);
}

/* A request id derived from the record's bytes: resubmitting the same file
 * is a retry (answered from the first time), a changed record is new. */
static void
content_request_id(const Cjx__V1__ConvictionRecord *rec, char out[40])
{
    size_t n = protobuf_c_message_get_packed_size(&rec->base);
    uint8_t *buf = malloc(n ? n : 1);
    uint8_t md[32];
    unsigned int mdlen = 0;
    if (buf != NULL) {
        protobuf_c_message_pack(&rec->base, buf);
        EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL);
        free(buf);
    }
    memcpy(out, "rec-", 4);
    for (int i = 0; i < 16; i++)
        snprintf(out + 4 + i * 2, 3, "%02x", mdlen ? md[i] : 0);
}

struct submit_input {
    const char *path;
    char *buf;
    size_t len;
};

/* Calls fn for every record of the input; stops at the first error fn
 * returns. Parse errors are reported with file:line and counted. */
static int
for_each_record(struct submit_input *in, int *parse_errors,
                int (*fn)(void *, Cjx__V1__ConvictionRecord *, int line),
                void *arg)
{
    size_t off = 0;
    const char *doc;
    size_t doc_len;
    int line;
    for (;;) {
        int r = cjx_json_next_document(in->buf, in->len, &off, &doc, &doc_len,
                                       &line);
        if (r == 0)
            return 0;
        if (r < 0) {
            fprintf(stderr, "%s:%d: not JSON\n", in->path, line);
            (*parse_errors)++;
            return 0;
        }
        ProtobufCMessage *msg;
        struct cjx_errbuf eb;
        if (cjx_json_to_message(&cjx__v1__conviction_record__descriptor, doc,
                                doc_len, NULL, &msg, &eb) != 0) {
            if (*parse_errors < MAX_REPORTED_ERRORS)
                fprintf(stderr, "%s:%d: %s\n", in->path, line, eb.msg);
            (*parse_errors)++;
            continue;
        }
        int err =
            fn != NULL ? fn(arg, (Cjx__V1__ConvictionRecord *)msg, line) : 0;
        protobuf_c_message_free_unpacked(msg, NULL);
        if (err != 0)
            return err;
    }
}

struct bulk_session {
    struct cli *cli;
    const char *path;
    struct cjx_client_stream *stream;
    int lines[BULK_CHUNK]; /* input line of each record in the stream */
    int in_stream;
    long total, sent, accepted, unchanged, rejected;
    int failed; /* a stream failed as a whole */
};

static int
bulk_flush(struct bulk_session *b)
{
    if (b->stream == NULL)
        return 0;
    ProtobufCMessage *resp_msg;
    struct cjx_client_status st;
    cjx_client_stream_finish(b->stream, &resp_msg, &st);
    cjx_client_stream_free(b->stream);
    b->stream = NULL;
    if (st.code != 0) {
        b->failed = 1;
        b->rejected += b->in_stream;
        return cli_report_status("SubmitRecords", &st);
    }
    Cjx__V1__SubmitRecordsResponse *resp =
        (Cjx__V1__SubmitRecordsResponse *)resp_msg;
    for (size_t i = 0; i < resp->n_results; i++) {
        Cjx__V1__SubmitRecordResult *r = resp->results[i];
        if (b->cli->json)
            cli_print_json_line(stdout, &r->base);
        if (r->code == 0) {
            b->accepted++;
            if (r->response != NULL && r->response->unchanged)
                b->unchanged++;
        } else {
            b->rejected++;
            if (!b->cli->json)
                fprintf(stderr, "%s:%d: %s: %s\n", b->path,
                        i < (size_t)b->in_stream ? b->lines[i] : 0,
                        cjx_client_code_name(r->code), r->message);
        }
    }
    protobuf_c_message_free_unpacked(resp_msg, NULL);
    b->in_stream = 0;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\rsubmitted %ld/%ld records", b->sent, b->total);
    else
        fprintf(stderr, "submitted %ld/%ld records\n", b->sent, b->total);
    return 0;
}

static int
bulk_send_one(void *arg, Cjx__V1__ConvictionRecord *rec, int line)
{
    struct bulk_session *b = arg;
    if (b->stream == NULL &&
        cjx_client_stream_open(b->cli->client,
                               record_method(RECORD_SERVICE_SUBMIT_RECORDS),
                               NULL, 0, &b->stream) != 0) {
        fprintf(stderr, "cjxctl: cannot open a SubmitRecords stream\n");
        return 1;
    }
    char id[40];
    content_request_id(rec, id);
    Cjx__V1__RequestMeta meta = CJX__V1__REQUEST_META__INIT;
    meta.request_id = id;
    Cjx__V1__SubmitRecordRequest req = CJX__V1__SUBMIT_RECORD_REQUEST__INIT;
    req.meta = &meta;
    req.record = rec;
    /* A write that fails means the server ended the stream; finish says why. */
    cjx_client_stream_write(b->stream, &req.base);
    b->lines[b->in_stream++] = line;
    b->sent++;
    if (b->in_stream == BULK_CHUNK)
        return bulk_flush(b);
    return 0;
}

static int
count_one(void *arg, Cjx__V1__ConvictionRecord *rec, int line)
{
    (void)rec;
    (void)line;
    (*(long *)arg)++;
    return 0;
}

static int
submit_single(struct cli *cli, Cjx__V1__ConvictionRecord *rec,
              const char *request_id)
{
    char id[40];
    Cjx__V1__RequestMeta meta = CJX__V1__REQUEST_META__INIT;
    if (request_id == NULL) {
        content_request_id(rec, id);
        request_id = id;
    }
    meta.request_id = (char *)request_id;
    Cjx__V1__SubmitRecordRequest req = CJX__V1__SUBMIT_RECORD_REQUEST__INIT;
    req.meta = &meta;
    req.record = rec;
    ProtobufCMessage *resp_msg;
    struct cjx_client_status st;
    if (cjx_client_unary(cli->client,
                         record_method(RECORD_SERVICE_SUBMIT_RECORD), &req.base,
                         cli->timeout_ms, &resp_msg, &st) != 0 ||
        st.code != 0)
        return cli_report_status("SubmitRecord", &st);
    Cjx__V1__SubmitRecordResponse *resp =
        (Cjx__V1__SubmitRecordResponse *)resp_msg;
    if (cli->json) {
        cli_print_json_line(stdout, resp_msg);
    } else {
        printf("%s %s count %d: version %" PRId64 "%s\n", resp->key->cii,
               resp->key->court_case_number, (int)resp->key->count_number,
               resp->version, resp->unchanged ? " (unchanged)" : "");
    }
    protobuf_c_message_free_unpacked(resp_msg, NULL);
    return 0;
}

struct single_capture {
    struct cli *cli;
    const char *request_id;
    int status;
};

static int
submit_first(void *arg, Cjx__V1__ConvictionRecord *rec, int line)
{
    struct single_capture *s = arg;
    (void)line;
    s->status = submit_single(s->cli, rec, s->request_id);
    return 1; /* only one */
}

int
cmd_submit(struct cli *cli, int argc, char **argv)
{
    const char *request_id = NULL;
    static const struct option opts[] = {
        {"request-id", required_argument, NULL, 'i'}, {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "i:", opts, NULL)) != -1) {
        if (ch != 'i')
            return 2;
        request_id = optarg;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: cjxctl submit [--request-id ID] FILE|-\n");
        return 2;
    }
    struct submit_input in = {.path = argv[optind]};
    in.buf = cli_read_file(in.path, &in.len);
    if (in.buf == NULL) {
        fprintf(stderr, "cjxctl: cannot read %s\n", in.path);
        return 1;
    }
    /* Everything is checked before anything is sent: a file with a broken
     * line changes nothing. */
    int parse_errors = 0;
    long total = 0;
    for_each_record(&in, &parse_errors, count_one, &total);
    if (parse_errors > 0 || total == 0) {
        fprintf(stderr, "cjxctl: %s: %d invalid record(s), nothing submitted\n",
                in.path, parse_errors);
        free(in.buf);
        return 1;
    }
    if (request_id != NULL && total != 1) {
        fprintf(stderr, "cjxctl: --request-id needs exactly one record\n");
        free(in.buf);
        return 2;
    }
    if (cli_connect(cli) != 0) {
        free(in.buf);
        return 1;
    }
    int status;
    if (total == 1) {
        struct single_capture s = {cli, request_id, 1};
        for_each_record(&in, &parse_errors, submit_first, &s);
        status = s.status;
    } else {
        struct bulk_session *b = calloc(1, sizeof(*b));
        b->cli = cli;
        b->path = in.path;
        b->total = total;
        for_each_record(&in, &parse_errors, bulk_send_one, b);
        bulk_flush(b);
        if (isatty(STDERR_FILENO))
            fputc('\n', stderr);
        if (!cli->json)
            printf("%ld records: %ld accepted (%ld unchanged), %ld rejected\n",
                   b->total, b->accepted, b->unchanged, b->rejected);
        status = b->rejected > 0 || b->failed;
        free(b);
    }
    free(in.buf);
    return status;
}

/* ---- reading ---------------------------------------------------------- */

static const char *const record_headers[] = {"CII",   "NAME",      "CASE",
                                             "COUNT", "COUNTY",    "STATUTE",
                                             "LEVEL", "CONVICTED", "VERSION"};

static void
add_record_row(struct cli_table *t, const Cjx__V1__StoredRecord *s)
{
    const Cjx__V1__ConvictionRecord *r = s->record;
    char name[160], count[16], convicted[16], version[24];
    const Cjx__V1__Person *p = r->subject;
    snprintf(name, sizeof(name), "%s, %s", p ? p->last_name : "",
             p ? p->first_name : "");
    snprintf(count, sizeof(count), "%d", (int)r->count_number);
    format_date(r->conviction_date, convicted, sizeof(convicted));
    snprintf(version, sizeof(version), "%" PRId64, s->version);
    char statute_buf[128];
    const char *statute =
        cli_statute_text(r->charge, statute_buf, sizeof(statute_buf));
    const char *cells[] = {
        p ? p->cii : "",
        name,
        r->court_case_number,
        count,
        r->county,
        statute,
        cli_enum_short(&cjx__v1__offense_level__descriptor, r->level),
        convicted,
        version};
    cli_table_add(t, cells);
}

int
cmd_get(struct cli *cli, int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: cjxctl get CII COURT_CASE_NUMBER COUNT\n");
        return 2;
    }
    if (cli_connect(cli) != 0)
        return 1;
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = argv[1];
    key.court_case_number = argv[2];
    key.count_number = atoi(argv[3]);
    Cjx__V1__GetRecordRequest req = CJX__V1__GET_RECORD_REQUEST__INIT;
    req.key = &key;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    if (cjx_client_unary(cli->client, record_method(RECORD_SERVICE_GET_RECORD),
                         &req.base, cli->timeout_ms, &resp, &st) != 0 ||
        st.code != 0)
        return cli_report_status("GetRecord", &st);
    if (cli->json) {
        cli_print_json_line(stdout, resp);
    } else {
        struct cli_table *t = cli_table_new(9, record_headers);
        add_record_row(t, (Cjx__V1__StoredRecord *)resp);
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

int
cmd_list(struct cli *cli, int argc, char **argv)
{
    Cjx__V1__ListRecordsRequest req = CJX__V1__LIST_RECORDS_REQUEST__INIT;
    static const struct option opts[] = {
        {"cii", required_argument, NULL, 'i'},
        {"county", required_argument, NULL, 'c'},
        {"case", required_argument, NULL, 'k'},
        {"page-size", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0}};
    int ch, filters = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            req.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_CII;
            req.cii = optarg;
            filters++;
            break;
        case 'c':
            req.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY;
            req.county = optarg;
            filters++;
            break;
        case 'k':
            req.filter_case =
                CJX__V1__LIST_RECORDS_REQUEST__FILTER_COURT_CASE_NUMBER;
            req.court_case_number = optarg;
            filters++;
            break;
        case 'p':
            req.page_size = atoi(optarg);
            break;
        default:
            return 2;
        }
    }
    if (filters != 1 || optind != argc) {
        fprintf(stderr, "usage: cjxctl list (--cii CII | --county NAME | "
                        "--case NUMBER) [--page-size N]\n");
        return 2;
    }
    if (cli_connect(cli) != 0)
        return 1;
    struct cli_table *t = cli->json ? NULL : cli_table_new(9, record_headers);
    char *token = strdup("");
    int status = 0;
    do {
        req.page_token = token;
        ProtobufCMessage *resp_msg;
        struct cjx_client_status st;
        if (cjx_client_unary(cli->client,
                             record_method(RECORD_SERVICE_LIST_RECORDS),
                             &req.base, cli->timeout_ms, &resp_msg, &st) != 0 ||
            st.code != 0) {
            status = cli_report_status("ListRecords", &st);
            break;
        }
        Cjx__V1__ListRecordsResponse *resp =
            (Cjx__V1__ListRecordsResponse *)resp_msg;
        for (size_t i = 0; i < resp->n_records; i++) {
            if (cli->json)
                cli_print_json_line(stdout, &resp->records[i]->base);
            else
                add_record_row(t, resp->records[i]);
        }
        free(token);
        token = strdup(resp->next_page_token);
        protobuf_c_message_free_unpacked(resp_msg, NULL);
    } while (token != NULL && token[0] != '\0');
    free(token);
    if (t != NULL && status == 0)
        cli_table_print(t, stdout);
    cli_table_free(t);
    return status;
}

static void
print_change_header(void)
{
    printf("%-8s %-12s %-16s %-5s %-7s %s\n", "SEQ", "CII", "CASE", "COUNT",
           "VERSION", "COUNTY");
}

static void
print_change_line(const ProtobufCMessage *msg)
{
    const Cjx__V1__RecordChange *c = (const Cjx__V1__RecordChange *)msg;
    if (c->record == NULL || c->record->record == NULL)
        return;
    const Cjx__V1__ConvictionRecord *r = c->record->record;
    printf("%-8" PRId64 " %-12s %-16s %-5d %-7" PRId64 " %s\n", c->seq,
           r->subject ? r->subject->cii : "", r->court_case_number,
           (int)r->count_number, c->record->version, r->county);
}

int
cmd_watch(struct cli *cli, int argc, char **argv)
{
    Cjx__V1__WatchRecordsRequest req = CJX__V1__WATCH_RECORDS_REQUEST__INIT;
    static const struct option opts[] = {
        {"after", required_argument, NULL, 'a'},
        {"follow", no_argument, NULL, 'f'},
        {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "a:f", opts, NULL)) != -1) {
        if (ch == 'a')
            req.after_seq = strtoll(optarg, NULL, 10);
        else if (ch == 'f')
            req.follow = 1;
        else
            return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "usage: cjxctl watch [--after SEQ] [--follow]\n");
        return 2;
    }
    static const struct cli_follow_view view = {print_change_header,
                                                print_change_line};
    return cli_follow(cli, record_method(RECORD_SERVICE_WATCH_RECORDS),
                      &req.base, "the change feed", "WatchRecords", &view);
}

int
cmd_health(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: cjxctl health\n");
        return 2;
    }
    if (cli_connect(cli) != 0)
        return 1;
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    ProtobufCMessage *resp;
    struct cjx_client_status st;
    if (cjx_client_unary(cli->client,
                         &grpc__health__v1__health__methods[HEALTH_CHECK],
                         &req.base, cli->timeout_ms, &resp, &st) != 0 ||
        st.code != 0)
        return cli_report_status("Health/Check", &st);
    Grpc__Health__V1__HealthCheckResponse *h =
        (Grpc__Health__V1__HealthCheckResponse *)resp;
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &grpc__health__v1__health_check_response__serving_status__descriptor,
        h->status);
    if (cli->json)
        cli_print_json_line(stdout, resp);
    else
        printf("%s\n", v ? v->name : "UNKNOWN");
    int serving =
        h->status ==
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    protobuf_c_message_free_unpacked(resp, NULL);
    return serving ? 0 : 1;
}
