/* The research-file parser: bytes in any pieces become rows (a row may
 * span lines inside quotes), rows become subjects, and each subject goes
 * to the caller's callback before the next one is read. No I/O here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doj_internal.h"

/* Memory for one subject's rows, records and history; a subject that needs
 * more is refused rather than let grow. */
#define SUBJECT_ARENA_LIMIT (48u << 20)
#define MAX_SUBJECT_ID      64

static const char *const column_names[] = {
#define CJX_DOJ_COLUMN_NAME_(name) #name,
    CJX_DOJ_COLUMNS(CJX_DOJ_COLUMN_NAME_)
#undef CJX_DOJ_COLUMN_NAME_
};

const char *
cjx_doj_column_name(enum cjx_doj_column c)
{
    return (unsigned)c < CJX_DOJ_NCOLUMNS ? column_names[c] : "";
}

struct cjx_doj_parser {
    struct cjx_doj_callbacks cb;
    int stopped; /* what a callback returned to stop, else 0 */
    /* The row being assembled from the input. */
    char *rec;
    size_t rec_len, rec_cap;
    int in_quotes, overlong, started;
    long line;     /* complete physical lines seen */
    long rec_line; /* the line the row starts on */
    /* Where each column sits in a row, and how many fields a row has. */
    int header_read;
    size_t pos[CJX_DOJ_NCOLUMNS];
    size_t width;
    /* The current subject. */
    struct cjx_arena arena;
    /* As wide as a row's id buffer (one more than the longest id allowed,
     * to tell an overlong id), so that an overlong subject is kept as read
     * and not cut to the prefix a valid subject could share. */
    char subject_id[MAX_SUBJECT_ID + 2];
    int have_subject;
    struct doj_row *rows; /* grown up to CJX_DOJ_MAX_SUBJECT_ROWS */
    size_t n_rows, rows_cap;
    char *raw; /* grown up to CJX_DOJ_MAX_SUBJECT_BYTES */
    size_t raw_len, raw_cap;
    int bad;
    struct cjx_doj_error err;
    long first_line, last_line;
    struct cjx_doj_counts counts;
};

struct cjx_doj_parser *
cjx_doj_parser_new(const struct cjx_doj_callbacks *cb)
{
    struct cjx_doj_parser *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->cb = *cb;
    /* Most subjects are a few rows: the buffers start small and grow to
     * the bounds only for a subject that needs it. */
    p->rows_cap = 64;
    p->raw_cap = 64 << 10;
    p->rows = malloc(p->rows_cap * sizeof(*p->rows));
    p->raw = malloc(p->raw_cap);
    p->rec = malloc(CJX_DOJ_MAX_ROW_BYTES);
    if (p->rows == NULL || p->raw == NULL || p->rec == NULL) {
        cjx_doj_parser_free(p);
        return NULL;
    }
    p->rec_cap = CJX_DOJ_MAX_ROW_BYTES;
    for (size_t i = 0; i < CJX_DOJ_NCOLUMNS; i++)
        p->pos[i] = i;
    p->width = CJX_DOJ_NCOLUMNS;
    p->rec_line = 1;
    cjx_arena_init(&p->arena, NULL, 0, SUBJECT_ARENA_LIMIT);
    return p;
}

void
cjx_doj_parser_free(struct cjx_doj_parser *p)
{
    if (p == NULL)
        return;
    cjx_arena_fini(&p->arena);
    free(p->rows);
    free(p->raw);
    free(p->rec);
    free(p);
}

void
cjx_doj_parser_counts(const struct cjx_doj_parser *p,
                      struct cjx_doj_counts *out)
{
    *out = p->counts;
    out->lines = p->line;
}

void
cjx_doj_error_format(const struct cjx_doj_error *e, char *buf, size_t len)
{
    if (e->column[0] != '\0')
        snprintf(buf, len, "line %ld, column %s, value \"%s\": %s", e->line,
                 e->column, e->value, e->message);
    else
        snprintf(buf, len, "line %ld: %s", e->line, e->message);
}

/* Hands the current subject to the caller and forgets it. */
static int
subject_flush(struct cjx_doj_parser *p)
{
    if (!p->have_subject)
        return 0;
    int rc = 0;
    struct cjx_doj_subject s;
    if (!p->bad) {
        int built =
            doj_subject_build(p->rows, p->n_rows, &p->arena, &s, &p->err);
        if (built == CJX_ENOMEM && p->arena.failed) {
            doj_error_set(&p->err, p->first_line, "", "",
                          "the subject needs more than %u MiB",
                          SUBJECT_ARENA_LIMIT >> 20);
            built = CJX_EPARSE;
        }
        if (built == CJX_ENOMEM)
            return CJX_ENOMEM;
        p->bad = built != 0;
    }
    if (p->bad) {
        p->err.subject_id = p->subject_id;
        p->err.raw = p->raw;
        p->err.raw_len = p->raw_len;
        p->counts.bad_subjects++;
        if (p->cb.on_error != NULL)
            rc = p->cb.on_error(p->cb.ctx, &p->err);
    } else {
        s.first_line = p->first_line;
        s.last_line = p->last_line;
        s.raw = p->raw;
        s.raw_len = p->raw_len;
        p->counts.subjects++;
        p->counts.convictions += (long)s.n_convictions;
        if (p->cb.on_subject != NULL)
            rc = p->cb.on_subject(p->cb.ctx, &s);
    }
    p->have_subject = 0;
    p->bad = 0;
    p->n_rows = 0;
    p->raw_len = 0;
    cjx_arena_reset(&p->arena);
    return rc;
}

/* The text of field index of a row, unquoted, into buf (cut to fit);
 * -1 when the row ends before it or its quotes do not close. Reads the
 * subject id before the row is split into the subject's memory. */
static int
csv_field(const char *rec, size_t len, size_t index, char *buf, size_t cap)
{
    size_t i = 0, k = 0;
    for (size_t f = 0; f < index; f++) {
        int quoted = 0;
        while (i < len && (quoted || rec[i] != ','))
            quoted ^= rec[i++] == '"';
        if (i >= len)
            return -1;
        i++;
    }
    if (i < len && rec[i] == '"') {
        for (i++;; i++) {
            if (i >= len)
                return -1;
            if (rec[i] == '"' && !(i + 1 < len && rec[i + 1] == '"'))
                break;
            i += rec[i] == '"';
            if (k + 1 < cap)
                buf[k++] = rec[i];
        }
    } else {
        for (; i < len && rec[i] != ','; i++)
            if (k + 1 < cap)
                buf[k++] = rec[i];
    }
    buf[k] = '\0';
    return 0;
}

/* Starts the next subject when the row names another one. */
static int
subject_switch(struct cjx_doj_parser *p, const char *id)
{
    if (p->have_subject && strcmp(id, p->subject_id) == 0)
        return 0;
    int rc = subject_flush(p);
    if (rc != 0)
        return rc;
    snprintf(p->subject_id, sizeof(p->subject_id), "%s", id);
    p->have_subject = 1;
    p->first_line = p->rec_line;
    return 0;
}

static void
row_failed(struct cjx_doj_parser *p)
{
    p->bad = 1;
    p->err.subject_id = p->subject_id;
}

/* Reads the header row: each column by its name, wherever it stands. */
static int
header_read(struct cjx_doj_parser *p, char **fields, size_t n)
{
    for (size_t c = 0; c < CJX_DOJ_NCOLUMNS; c++) {
        size_t i = 0;
        while (i < n && strcmp(fields[i], column_names[c]) != 0)
            i++;
        if (i == n) {
            struct cjx_doj_error e = {.subject_id = ""};
            doj_error_set(&e, p->rec_line, column_names[c], "",
                          "the header row has no such column");
            if (p->cb.on_error != NULL)
                p->cb.on_error(p->cb.ctx, &e);
            return CJX_EPARSE;
        }
        p->pos[c] = i;
    }
    p->width = n;
    return 0;
}

static int
is_header(const char *rec, size_t len)
{
    char first[32];
    return csv_field(rec, len, 0, first, sizeof(first)) == 0 &&
           strcmp(first, column_names[0]) == 0;
}

/* Room for n more bytes of the subject's raw rows, within the bound (past
 * it the subject is refused, not the file). 0 or CJX_ENOMEM. */
static int
raw_reserve(struct cjx_doj_parser *p, size_t n)
{
    if (p->raw_len + n <= p->raw_cap ||
        p->raw_len + n > CJX_DOJ_MAX_SUBJECT_BYTES)
        return 0;
    size_t cap = p->raw_cap;
    while (cap < p->raw_len + n)
        cap *= 2;
    if (cap > CJX_DOJ_MAX_SUBJECT_BYTES)
        cap = CJX_DOJ_MAX_SUBJECT_BYTES;
    char *grown = realloc(p->raw, cap);
    if (grown == NULL)
        return CJX_ENOMEM;
    p->raw = grown;
    p->raw_cap = cap;
    return 0;
}

/* Reads one complete row. */
static int
row_read(struct cjx_doj_parser *p, const char *rec, size_t len)
{
    if (!p->header_read) {
        p->header_read = 1;
        if (is_header(rec, len)) {
            char **fields;
            size_t n;
            struct cjx_doj_error e;
            int rc = doj_csv_split(rec, len, p->rec_line, &p->arena, &fields,
                                   &n, &e);
            if (rc == 0)
                rc = header_read(p, fields, n);
            cjx_arena_reset(&p->arena);
            return rc == CJX_ENOMEM ? rc : rc != 0 ? CJX_EPARSE : 0;
        }
    }
    p->counts.rows++;
    char id[MAX_SUBJECT_ID + 2] = "";
    int have_id =
        csv_field(rec, len, p->pos[CJX_DOJ_SUBJECT_ID], id, sizeof(id)) == 0;
    /* A row whose subject cannot be read belongs to the subject being read
     * (it may be one of its rows); that subject is refused with it. */
    int rc = subject_switch(p, have_id           ? id
                               : p->have_subject ? p->subject_id
                                                 : "");
    if (rc != 0)
        return rc;
    p->last_line = p->line;
    if ((rc = raw_reserve(p, len + 1)) != 0)
        return rc;
    if (p->raw_len + len + 1 <= p->raw_cap) {
        memcpy(p->raw + p->raw_len, rec, len);
        p->raw_len += len;
        p->raw[p->raw_len++] = '\n';
    } else if (!p->bad) {
        doj_error_set(&p->err, p->rec_line, "", "",
                      "the subject's rows exceed %u MiB",
                      CJX_DOJ_MAX_SUBJECT_BYTES >> 20);
        row_failed(p);
    }
    if (p->bad)
        return 0;
    if (strlen(id) > MAX_SUBJECT_ID) {
        doj_error_set(&p->err, p->rec_line, column_names[CJX_DOJ_SUBJECT_ID],
                      id, "longer than %d characters", MAX_SUBJECT_ID);
        row_failed(p);
        return 0;
    }
    if (p->n_rows == CJX_DOJ_MAX_SUBJECT_ROWS) {
        doj_error_set(&p->err, p->rec_line, "", "",
                      "the subject has more than %d rows",
                      CJX_DOJ_MAX_SUBJECT_ROWS);
        row_failed(p);
        return 0;
    }
    if (p->n_rows == p->rows_cap) {
        struct doj_row *grown =
            realloc(p->rows, 2 * p->rows_cap * sizeof(*p->rows));
        if (grown == NULL)
            return CJX_ENOMEM;
        p->rows = grown;
        p->rows_cap *= 2;
    }
    char **fields;
    size_t n;
    rc = doj_csv_split(rec, len, p->rec_line, &p->arena, &fields, &n, &p->err);
    if (rc == 0 && n != p->width) {
        size_t missing = CJX_DOJ_NCOLUMNS;
        for (size_t c = 0; c < CJX_DOJ_NCOLUMNS; c++)
            if (p->pos[c] >= n &&
                (missing == CJX_DOJ_NCOLUMNS || p->pos[c] < p->pos[missing]))
                missing = c;
        if (n < p->width && missing < CJX_DOJ_NCOLUMNS)
            doj_error_set(&p->err, p->rec_line, column_names[missing], "",
                          "missing: the row has %zu fields, %zu expected", n,
                          p->width);
        else
            doj_error_set(&p->err, p->rec_line, "", "",
                          "the row has %zu fields, %zu expected", n, p->width);
        rc = CJX_EPARSE;
    }
    const char *col[CJX_DOJ_NCOLUMNS];
    if (rc == 0) {
        for (size_t c = 0; c < CJX_DOJ_NCOLUMNS; c++)
            col[c] = fields[p->pos[c]];
        rc = doj_row_parse(col, p->rec_line, &p->arena, &p->rows[p->n_rows],
                           &p->err);
    }
    if (rc == CJX_ENOMEM && p->arena.failed) {
        doj_error_set(&p->err, p->rec_line, "", "",
                      "the subject needs more than %u MiB",
                      SUBJECT_ARENA_LIMIT >> 20);
        rc = CJX_EPARSE;
    }
    if (rc == CJX_EPARSE) {
        row_failed(p);
        return 0;
    }
    if (rc == 0)
        p->n_rows++;
    return rc;
}

/* The row assembled so far is complete. */
static int
record_end(struct cjx_doj_parser *p)
{
    size_t len = p->rec_len;
    const char *rec = p->rec;
    int overlong = p->overlong;
    long start = p->rec_line;
    p->rec_len = 0;
    p->overlong = 0;
    p->rec_line = p->line + 1;
    if (len > 0 && rec[len - 1] == '\n')
        len--;
    if (len > 0 && rec[len - 1] == '\r')
        len--;
    if (len == 0 && !overlong)
        return 0; /* a blank line */
    long saved = p->rec_line;
    p->rec_line = start;
    int rc;
    if (overlong) {
        char id[MAX_SUBJECT_ID + 2];
        p->counts.rows++;
        rc = subject_switch(p, csv_field(rec, len, p->pos[CJX_DOJ_SUBJECT_ID],
                                         id, sizeof(id)) == 0
                                   ? id
                                   : p->subject_id);
        if (rc == 0 && !p->bad) {
            doj_error_set(&p->err, start, "", "",
                          "the row is longer than %d bytes",
                          CJX_DOJ_MAX_ROW_BYTES);
            row_failed(p);
        }
    } else {
        rc = row_read(p, rec, len);
    }
    p->rec_line = saved;
    return rc;
}

int
cjx_doj_parser_feed(struct cjx_doj_parser *p, const char *data, size_t len)
{
    if (p->stopped)
        return p->stopped;
    if (!p->started && len > 0) {
        /* A UTF-8 byte order mark may open the file (spreadsheet
         * exports); it is not part of the first field. */
        static const char bom[] = "\xEF\xBB\xBF";
        size_t have = p->rec_len + len < 3 ? p->rec_len + len : 3;
        char head[3];
        size_t k = 0;
        for (; k < p->rec_len && k < have; k++)
            head[k] = p->rec[k];
        for (size_t j = 0; k < have; k++, j++)
            head[k] = data[j];
        if (memcmp(head, bom, have) != 0) {
            p->started = 1;
        } else if (have == 3) {
            size_t skip = 3 - p->rec_len;
            p->rec_len = 0;
            data += skip;
            len -= skip;
            p->started = 1;
        } else {
            /* Part of a mark: keep it until the rest arrives. */
            memcpy(p->rec + p->rec_len, data, len);
            p->rec_len += len;
            return 0;
        }
    }
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t seg = nl != NULL ? (size_t)(nl - data) + 1 : len;
        for (size_t i = 0; i < seg; i++)
            p->in_quotes ^= data[i] == '"';
        if (p->rec_len + seg <= p->rec_cap && !p->overlong) {
            memcpy(p->rec + p->rec_len, data, seg);
            p->rec_len += seg;
        } else {
            p->overlong = 1;
        }
        data += seg;
        len -= seg;
        if (nl == NULL)
            break;
        p->line++;
        if (p->in_quotes)
            continue;
        int rc = record_end(p);
        if (rc != 0)
            return p->stopped = rc;
    }
    return 0;
}

int
cjx_doj_parser_finish(struct cjx_doj_parser *p)
{
    if (p->stopped)
        return p->stopped;
    int rc = 0;
    if (p->rec_len > 0 || p->overlong) {
        /* A last row without its newline still counts as a line. */
        p->line++;
        if (p->in_quotes) {
            p->started = 1;
            int saved_bad = p->bad;
            rc = subject_switch(p, p->have_subject ? p->subject_id : "");
            if (rc == 0 && !saved_bad) {
                doj_error_set(&p->err, p->rec_line, "", "",
                              "a quote is not closed at the end of the file");
                row_failed(p);
            }
        } else {
            rc = record_end(p);
        }
    }
    if (rc == 0)
        rc = subject_flush(p);
    return p->stopped = rc;
}
