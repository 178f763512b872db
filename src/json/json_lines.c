/* Splits a file holding one JSON value or JSON Lines into documents. */
#include "cjx/json.h"

#include <json-c/json.h>
#include <limits.h>
#include <string.h>

#include "json_internal.h"

static int
count_newlines(const char *s, size_t n)
{
    int lines = 0;
    const char *end = s + n;

    while (s < end && (s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
        lines++;
        s++;
    }
    return lines;
}

static int
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Where the value starting at buf ends (bytes from buf), or 0 if it is not
 * one complete JSON value. Only the extent matters here: the document is
 * checked in full when it is parsed. */
static size_t
value_extent(const char *buf, size_t avail)
{
    struct json_tokener *tok;
    struct json_object *o;
    enum json_tokener_error jerr;
    size_t end;

    if (avail > INT_MAX - 1 ||
        (tok = json_tokener_new_ex(CJX_JSON_MAX_DEPTH)) == NULL)
        return 0;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                    JSON_TOKENER_ALLOW_TRAILING_CHARS);
    o = json_tokener_parse_ex(tok, buf, (int)avail);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue && end == avail) {
        /* A bare number or literal ends only at the end of the text; a NUL
         * tells json-c there is no more. */
        o = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        end = avail;
    }
    json_object_put(o);
    json_tokener_free(tok);
    if (jerr != json_tokener_success)
        return 0;
    /* json-c may have eaten a blank after the value. */
    while (end > 0 && (is_blank(buf[end - 1]) || buf[end - 1] == '\n'))
        end--;
    return end;
}

int
cjx_json_next_document(const char *buf, size_t len, size_t *offset,
                       const char **doc, size_t *doc_len, int *line)
{
    size_t pos, start, extent, rest;
    int ln, doc_lines;

    if ((buf == NULL && len > 0) || offset == NULL || doc == NULL ||
        doc_len == NULL || line == NULL || *offset > len)
        return CJX_EINVAL;
    pos = *offset;
    if (pos == 0 || *line <= 0) {
        ln = 1 + count_newlines(buf, pos);
        if (pos == 0 && len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
            pos = 3; /* a byte-order mark some editors write */
    } else {
        /* The previous document sat on one line, and the cursor is at the
         * start of the next. */
        ln = *line + 1;
    }

    while (pos < len && (is_blank(buf[pos]) || buf[pos] == '\n')) {
        if (buf[pos] == '\n')
            ln++;
        pos++;
    }
    if (pos == len) {
        *offset = len;
        return 0;
    }
    start = pos;
    if ((extent = value_extent(buf + start, len - start)) == 0) {
        *line = ln;
        return CJX_EPARSE;
    }
    doc_lines = count_newlines(buf + start, extent);

    /* One value per line: only blanks may follow it on its last line. */
    rest = start + extent;
    while (rest < len && is_blank(buf[rest]))
        rest++;
    if (rest < len && buf[rest] != '\n') {
        *line = ln + doc_lines;
        return CJX_EPARSE;
    }
    if (rest < len)
        rest++;
    if (doc_lines > 0) {
        /* A value spread over several lines is a whole file by itself. */
        int after = ln + doc_lines + 1;
        for (; rest < len; rest++) {
            if (buf[rest] == '\n')
                after++;
            else if (!is_blank(buf[rest])) {
                *line = after;
                return CJX_EPARSE;
            }
        }
    }
    *offset = rest;
    *doc = buf + start;
    *doc_len = extent;
    *line = ln;
    return 1;
}
