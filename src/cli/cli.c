/* cjxctl plumbing: connecting, reporting errors, tables. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "cjx/date.h"
#include "cjx/json.h"
#include "cjx/tls.h"

int
cli_connect(struct cli *cli)
{
    struct cjx_errbuf eb;
    int err;
    if (cli->remote == NULL) {
        err = cjx_client_connect_local(cli->socket, &cli->client, &eb);
    } else {
        if (cli->ca == NULL || cli->cert == NULL || cli->key == NULL) {
            fprintf(stderr, "cjxctl: --remote needs --ca, --cert and --key\n");
            return 2;
        }
        char *ca = NULL, *cert = NULL, *key = NULL;
        size_t ca_len = 0, cert_len = 0, key_len = 0;
        err = cjx_tls_read_pem(cli->ca, 0, &ca, &ca_len, &eb);
        if (err == 0)
            err = cjx_tls_read_pem(cli->cert, 0, &cert, &cert_len, &eb);
        if (err == 0)
            err = cjx_tls_read_pem(cli->key, 1, &key, &key_len, &eb);
        if (err == 0)
            err = cjx_client_connect_tls(cli->remote, ca, cert, key,
                                         &cli->client, &eb);
        cjx_tls_free_pem(ca, ca_len);
        cjx_tls_free_pem(cert, cert_len);
        cjx_tls_free_pem(key, key_len);
    }
    if (err != 0) {
        fprintf(stderr, "cjxctl: %s\n", eb.msg);
        return 1;
    }
    return 0;
}

int
cli_report_status(const char *what, const struct cjx_client_status *st)
{
    fprintf(stderr, "cjxctl: %s: %s: %s\n", what,
            cjx_client_code_name(st->code), st->message);
    return 1;
}

int
cli_follow(struct cli *cli, const struct cjx_method *m,
           const ProtobufCMessage *req, const char *stream, const char *call,
           const struct cli_follow_view *view)
{
    if (cli_connect(cli) != 0)
        return 1;
    struct cjx_client_stream *s;
    if (cjx_client_stream_open(cli->client, m, req, 0, &s) != 0) {
        fprintf(stderr, "cjxctl: cannot open %s\n", stream);
        return 1;
    }
    if (!cli->json)
        view->header();
    ProtobufCMessage *msg;
    while (cjx_client_stream_read(s, &msg) == 1) {
        if (cli->json)
            cli_print_json_line(stdout, msg);
        else
            view->line(msg);
        fflush(stdout);
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    struct cjx_client_status st;
    cjx_client_stream_finish(s, NULL, &st);
    cjx_client_stream_free(s);
    if (st.code != 0)
        return cli_report_status(call, &st);
    return 0;
}

int
cli_parse_as_of(const char *arg, Cjx__V1__Date *out)
{
    int y, m, d;
    if (sscanf(arg, "%4d-%2d-%2d", &y, &m, &d) != 3 ||
        !cjx_date_is_valid(y, m, d)) {
        fprintf(stderr, "cjxctl: --as-of wants YYYY-MM-DD\n");
        return 2;
    }
    out->year = y;
    out->month = m;
    out->day = d;
    return 0;
}

void
cli_format_time(int64_t us, char *buf, size_t len)
{
    if (us == 0)
        snprintf(buf, len, "-");
    else
        cjx_clock_format_utc(us, buf, len);
}

void
cli_print_json_line(FILE *out, const ProtobufCMessage *msg)
{
    char *s = cjx_json_from_message(msg, CJX_JSON_DATES_AS_STRINGS);
    if (s != NULL) {
        fprintf(out, "%s\n", s);
        free(s);
    }
}

struct cli_table {
    int ncols;
    size_t nrows, cap;
    char **cells; /* nrows * ncols, row 0 is the header */
};

struct cli_table *
cli_table_new(int ncols, const char *const *headers)
{
    struct cli_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->ncols = ncols;
    cli_table_add(t, headers);
    return t;
}

void
cli_table_add(struct cli_table *t, const char *const *cells)
{
    if (t == NULL)
        return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **grown =
            realloc(t->cells, cap * (size_t)t->ncols * sizeof(char *));
        if (grown == NULL)
            return;
        t->cells = grown;
        t->cap = cap;
    }
    for (int i = 0; i < t->ncols; i++)
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] =
            strdup(cells[i] ? cells[i] : "");
    t->nrows++;
}

void
cli_table_print(struct cli_table *t, FILE *out)
{
    if (t == NULL)
        return;
    size_t width[32] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols && c < 32; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            size_t n = s ? strlen(s) : 0;
            if (n > width[c])
                width[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (c == t->ncols - 1)
                fprintf(out, "%s\n", s ? s : "");
            else
                fprintf(out, "%-*s  ", (int)width[c], s ? s : "");
        }
    }
}

void
cli_table_free(struct cli_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

const char *
cli_statute_text(const Cjx__V1__Statute *st, char *buf, size_t len)
{
    if (st == NULL)
        return "-";
    if (st->normalized[0] != '\0')
        return st->normalized;
    if (st->section[0] != '\0') {
        snprintf(buf, len, "%s%s%s%s", st->code, st->code[0] ? " " : "",
                 st->section, st->subsection);
        return buf;
    }
    return st->code_raw[0] != '\0' ? st->code_raw : "-";
}

/* "OFFENSE_LEVEL_FELONY" -> "FELONY": a value's name less the prefix that
 * the protobuf style guide puts on every value (the enum's name in
 * UPPER_SNAKE_CASE). */
const char *
cli_enum_short(const ProtobufCEnumDescriptor *d, int value)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(d, value);
    if (v == NULL)
        return "?";
    char prefix[128];
    size_t n = 0;
    for (const char *p = d->short_name; *p != '\0' && n + 3 < sizeof(prefix);
         p++) {
        if (*p >= 'A' && *p <= 'Z' && p != d->short_name)
            prefix[n++] = '_';
        prefix[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    }
    prefix[n++] = '_';
    prefix[n] = '\0';
    return strncmp(v->name, prefix, n) == 0 ? v->name + n : v->name;
}

char *
cli_read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n == cap) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}
