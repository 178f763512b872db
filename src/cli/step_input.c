/* Reading the input files of cjxctl's exchange steps: CSV with a header row
 * or JSON Lines, every line checked before anything is sent. A CSV row is
 * turned into the proto3 JSON of the request message after each cell was
 * checked against its column, so that both forms are read by the same
 * parser into the same message. */
#include "step_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cjx/date.h"
#include "cjx/json.h"
#include "cli.h"

#define MAX_REPORTED 20
#define MAX_COLUMNS  32

int
step_enum_parse(const ProtobufCEnumDescriptor *d, const char *text, int *value)
{
    int found = -1, matches = 0;
    size_t n = strlen(text);
    if (n == 0)
        return -1;
    for (unsigned i = 0; i < d->n_values; i++) {
        const ProtobufCEnumValue *v = &d->values[i];
        if (v->value == 0)
            continue; /* UNSPECIFIED is never a choice */
        const char *short_name = cli_enum_short(d, v->value);
        if (strcasecmp(text, v->name) == 0 ||
            strcasecmp(text, short_name) == 0) {
            *value = v->value;
            return 0;
        }
        if (strncasecmp(text, short_name, n) == 0) {
            found = v->value;
            matches++;
        }
    }
    if (matches != 1)
        return -1;
    *value = found;
    return 0;
}

/* ---- CSV ------------------------------------------------------------------ */

/* Splits one CSV line in place into at most max cells (quotes with ""
 * escapes). Returns the number of cells, or -1 for an unterminated quote. */
static int
csv_split(char *line, char **cells, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max)
            return max + 1;
        char *out = p;
        cells[n++] = out;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    return -1;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while (*p != ',' && *p != '\0')
                p++; /* text after the closing quote is ignored */
        } else {
            while (*p != ',' && *p != '\0')
                *out++ = *p++;
        }
        char sep = *p;
        *out = '\0';
        if (sep == '\0')
            return n;
        p++;
    }
}

static void
trim(char **s)
{
    while (**s == ' ' || **s == '\t')
        (*s)++;
    size_t n = strlen(*s);
    while (n > 0 && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\t'))
        (*s)[--n] = '\0';
}

/* Appends text to a growing buffer; on failure the buffer is dropped. */
struct text {
    char *s;
    size_t n, cap;
};

static void
text_add(struct text *t, const char *s, size_t n)
{
    if (t->s == NULL && t->cap != 0)
        return;
    if (t->n + n + 1 > t->cap) {
        size_t cap = (t->n + n + 1) * 2;
        char *grown = realloc(t->s, cap);
        if (grown == NULL) {
            free(t->s);
            t->s = NULL;
            t->cap = 1;
            return;
        }
        t->s = grown;
        t->cap = cap;
    }
    memcpy(t->s + t->n, s, n);
    t->n += n;
    t->s[t->n] = '\0';
}

static void
text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

static void
text_json_string(struct text *t, const char *s)
{
    text_str(t, "\"");
    for (; *s != '\0'; s++) {
        char esc[8];
        if (*s == '"' || *s == '\\') {
            esc[0] = '\\';
            esc[1] = *s;
            text_add(t, esc, 2);
        } else if ((unsigned char)*s < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)*s);
            text_str(t, esc);
        } else {
            text_add(t, s, 1);
        }
    }
    text_str(t, "\"");
}

/* Checks one cell against its column and appends its JSON value. 0, or -1
 * with the reason in eb. */
static int
cell_json(const struct step_column *col, const char *v, struct text *t,
          struct cjx_errbuf *eb)
{
    char *end;
    int e, y, m, d;
    switch (col->cell) {
    case STEP_TEXT:
        text_json_string(t, v);
        return 0;
    case STEP_INT:
        (void)strtol(v, &end, 10);
        if (*end != '\0')
            return cjx_errf(eb, -1, "column %s: '%s' is not a whole number",
                            col->name, v);
        text_str(t, v);
        return 0;
    case STEP_NUMBER:
        (void)strtod(v, &end);
        if (*end != '\0')
            return cjx_errf(eb, -1, "column %s: '%s' is not a number",
                            col->name, v);
        text_str(t, v);
        return 0;
    case STEP_BOOL:
        if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
            strcmp(v, "1") == 0)
            text_str(t, "true");
        else if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 ||
                 strcmp(v, "0") == 0)
            text_str(t, "false");
        else
            return cjx_errf(eb, -1, "column %s: '%s' is not true or false",
                            col->name, v);
        return 0;
    case STEP_DATE:
        if (strlen(v) != 10 || sscanf(v, "%4d-%2d-%2d", &y, &m, &d) != 3 ||
            !cjx_date_is_valid(y, m, d))
            return cjx_errf(eb, -1,
                            "column %s: '%s' is not a date (YYYY-MM-DD)",
                            col->name, v);
        text_json_string(t, v);
        return 0;
    case STEP_ENUM:
        if (step_enum_parse(col->enum_type, v, &e) != 0) {
            char names[512] = "";
            for (unsigned i = 0; i < col->enum_type->n_values; i++) {
                int value = col->enum_type->values[i].value;
                if (value != 0)
                    snprintf(names + strlen(names),
                             sizeof(names) - strlen(names), "%s%s",
                             names[0] ? ", " : "",
                             cli_enum_short(col->enum_type, value));
            }
            return cjx_errf(eb, -1, "column %s: unknown value '%s' (one of %s)",
                            col->name, v, names);
        }
        text_json_string(
            t, protobuf_c_enum_descriptor_get_value(col->enum_type, e)->name);
        return 0;
    }
    return cjx_errf(eb, -1, "column %s: unknown kind", col->name);
}

/* The JSON object of one CSV row: cells grouped by the first part of their
 * column's path, in the order of the step's column table. */
static int
row_json(const struct step_column *cols, const int *col_of, char **cells,
         int ncells, struct text *t, struct cjx_errbuf *eb)
{
    text_str(t, "{");
    int first = 1;
    for (int c = 0; cols[c].name != NULL; c++) {
        const char *dot = strchr(cols[c].path, '.');
        size_t head = dot ? (size_t)(dot - cols[c].path) : strlen(cols[c].path);
        /* A group is written at its first column. */
        int seen = 0;
        for (int p = 0; p < c && !seen; p++)
            seen = strncmp(cols[p].path, cols[c].path, head) == 0 &&
                   (cols[p].path[head] == '.' || cols[p].path[head] == '\0');
        if (seen)
            continue;
        int opened = 0;
        for (int k = c; cols[k].name != NULL; k++) {
            if (strncmp(cols[k].path, cols[c].path, head) != 0 ||
                (cols[k].path[head] != '.' && cols[k].path[head] != '\0'))
                continue;
            int cell = -1;
            for (int i = 0; i < ncells; i++)
                if (col_of[i] == k)
                    cell = i;
            if (cell < 0 || cells[cell][0] == '\0')
                continue;
            if (!opened) {
                text_str(t, first ? "\"" : ",\"");
                text_add(t, cols[c].path, head);
                text_str(t, dot ? "\":{" : "\":");
                first = 0;
                opened = 1;
            } else {
                text_str(t, ",");
            }
            if (dot != NULL) {
                text_str(t, "\"");
                text_str(t, cols[k].path + head + 1);
                text_str(t, "\":");
            }
            if (cell_json(&cols[k], cells[cell], t, eb) != 0)
                return -1;
        }
        if (opened && dot != NULL)
            text_str(t, "}");
    }
    text_str(t, "}");
    return t->s == NULL ? cjx_errf(eb, -1, "out of memory") : 0;
}

/* Reads the header row: the step column of each cell. */
static int
read_header(char *line, const struct step_column *cols, int *col_of,
            int *ncells, struct cjx_errbuf *eb)
{
    char *cells[MAX_COLUMNS];
    int n = csv_split(line, cells, MAX_COLUMNS);
    if (n < 0 || n > MAX_COLUMNS)
        return cjx_errf(eb, -1, "header: not a CSV row of at most %d columns",
                        MAX_COLUMNS);
    for (int i = 0; i < n; i++) {
        trim(&cells[i]);
        col_of[i] = -1;
        for (int c = 0; cols[c].name != NULL; c++)
            if (strcasecmp(cells[i], cols[c].name) == 0)
                col_of[i] = c;
        if (col_of[i] < 0) {
            char names[512] = "";
            for (int c = 0; cols[c].name != NULL; c++)
                snprintf(names + strlen(names), sizeof(names) - strlen(names),
                         "%s%s", c ? ", " : "", cols[c].name);
            return cjx_errf(eb, -1, "header: unknown column '%s' (known: %s)",
                            cells[i], names);
        }
        for (int p = 0; p < i; p++)
            if (col_of[p] == col_of[i])
                return cjx_errf(eb, -1, "header: column %s given twice",
                                cells[i]);
    }
    for (int c = 0; cols[c].name != NULL; c++) {
        int present = 0;
        for (int i = 0; i < n; i++)
            present |= col_of[i] == c;
        if (cols[c].required && !present)
            return cjx_errf(eb, -1, "header: column %s is required",
                            cols[c].name);
    }
    *ncells = n;
    return 0;
}

/* ---- both forms ------------------------------------------------------------ */

struct reader {
    struct step_input *in;
    const ProtobufCMessageDescriptor *desc;
    step_check_fn check;
    void *arg;
    int errors;
};

static void
line_error(struct reader *r, int line, const char *msg)
{
    if (r->errors++ >= MAX_REPORTED)
        return;
    if (line == 0) /* the command line */
        fprintf(stderr, "cjxctl: %s: %s\n", r->in->path, msg);
    else
        fprintf(stderr, "%s:%d: %s\n", r->in->path, line, msg);
}

/* Parses one JSON document into a line's message and checks it. */
static void
take_json(struct reader *r, const char *doc, size_t len, int line)
{
    struct step_input *in = r->in;
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(&in->arena);
    ProtobufCMessage *msg;
    struct cjx_errbuf eb;
    if (cjx_json_to_message(r->desc, doc, len, &alloc, &msg, &eb) != 0) {
        line_error(r, line, eb.msg);
        return;
    }
    if (r->check != NULL && r->check(r->arg, msg, &in->arena, &eb) != 0) {
        line_error(r, line, eb.msg);
        return;
    }
    if (step_input_add(in, msg, line) != 0)
        line_error(r, line, "out of memory");
}

static void
read_csv(struct reader *r, char *buf, const struct step_column *cols)
{
    int col_of[MAX_COLUMNS], ncells = 0, line = 0, have_header = 0;
    char *save = NULL;
    /* strtok_r would fold empty lines; walk them by hand to count lines. */
    for (char *p = buf; p != NULL; p = save) {
        char *nl = strchr(p, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl != NULL)
            *nl = '\0';
        line++;
        size_t len = strlen(p);
        if (len > 0 && p[len - 1] == '\r')
            p[--len] = '\0';
        if (len == 0 || p[0] == '#')
            continue;
        struct cjx_errbuf eb;
        if (!have_header) {
            if (read_header(p, cols, col_of, &ncells, &eb) != 0) {
                line_error(r, line, eb.msg);
                return; /* nothing else can be read */
            }
            have_header = 1;
            continue;
        }
        char *cells[MAX_COLUMNS];
        int n = csv_split(p, cells, MAX_COLUMNS);
        if (n < 0) {
            line_error(r, line, "unterminated quote");
            continue;
        }
        if (n != ncells) {
            snprintf(eb.msg, sizeof(eb.msg),
                     "%d cell(s) where the header names %d", n, ncells);
            line_error(r, line, eb.msg);
            continue;
        }
        for (int i = 0; i < n; i++)
            trim(&cells[i]);
        struct text t = {0};
        if (row_json(cols, col_of, cells, n, &t, &eb) != 0)
            line_error(r, line, eb.msg);
        else
            take_json(r, t.s, t.n, line);
        free(t.s);
    }
}

static void
read_json_lines(struct reader *r, const char *buf, size_t len)
{
    size_t off = 0;
    const char *doc;
    size_t doc_len;
    int line = 0, rc;
    while ((rc = cjx_json_next_document(buf, len, &off, &doc, &doc_len,
                                        &line)) > 0)
        take_json(r, doc, doc_len, line);
    if (rc < 0)
        line_error(r, line, "not JSON");
}

void
step_input_init(struct step_input *in, const char *path)
{
    memset(in, 0, sizeof(*in));
    in->path = path;
    cjx_arena_init(&in->arena, NULL, 0, 0);
}

int
step_input_add(struct step_input *in, ProtobufCMessage *msg, int line)
{
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 64;
        struct step_line *grown = realloc(in->lines, cap * sizeof(*grown));
        if (grown == NULL)
            return -1;
        in->lines = grown;
        in->cap = cap;
    }
    in->lines[in->n].msg = msg;
    in->lines[in->n].line = line;
    in->n++;
    return 0;
}

int
step_input_add_values(struct step_input *in, const char *where,
                      const ProtobufCMessageDescriptor *desc,
                      const struct step_column *columns,
                      const char *const *values, step_check_fn check, void *arg)
{
    int col_of[MAX_COLUMNS], n = 0;
    char *cells[MAX_COLUMNS];
    for (int c = 0; columns[c].name != NULL && n < MAX_COLUMNS; c++) {
        if (values[c] == NULL)
            continue;
        col_of[n] = c;
        cells[n++] = (char *)values[c];
    }
    struct reader r = {.in = in, .desc = desc, .check = check, .arg = arg};
    const char *path = in->path;
    in->path = where;
    struct text t = {0};
    struct cjx_errbuf eb;
    if (row_json(columns, col_of, cells, n, &t, &eb) != 0)
        line_error(&r, 0, eb.msg);
    else
        take_json(&r, t.s, t.n, 0);
    free(t.s);
    in->path = path;
    return r.errors > 0;
}

int
step_input_read(struct step_input *in, const char *path,
                const ProtobufCMessageDescriptor *desc,
                const struct step_column *columns, step_check_fn check,
                void *arg)
{
    step_input_init(in, path);
    size_t len;
    char *buf = cli_read_file(path, &len);
    if (buf == NULL) {
        fprintf(stderr, "cjxctl: cannot read %s\n", path);
        return 1;
    }
    char *text = realloc(buf, len + 1);
    if (text == NULL) {
        free(buf);
        return 1;
    }
    text[len] = '\0';
    struct reader r = {.in = in, .desc = desc, .check = check, .arg = arg};
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p == '{')
        read_json_lines(&r, text, len);
    else
        read_csv(&r, text, columns);
    free(text);
    if (r.errors > 0) {
        fprintf(stderr, "cjxctl: %s: %d bad line(s), nothing sent\n", path,
                r.errors);
        return 1;
    }
    if (in->n == 0) {
        fprintf(stderr, "cjxctl: %s: no lines to send\n", path);
        return 1;
    }
    return 0;
}

void
step_input_fini(struct step_input *in)
{
    free(in->lines);
    in->lines = NULL;
    cjx_arena_fini(&in->arena);
}
