/* Splitting one research-file record into fields: commas, RFC 4180 quotes,
 * and the text turned into UTF-8 (DOJ extracts carry Latin-1 names). */
#include <string.h>

#include "cjx/utf8.h"
#include "doj_internal.h"

/* Copies s[0..n) as UTF-8: kept as it is when it already is, otherwise
 * every byte is read as a Latin-1 character. */
static char *
field_text(struct cjx_arena *a, const char *s, size_t n)
{
    if (cjx_utf8_valid(s, n))
        return cjx_arena_strndup(a, s, n);
    char *out = cjx_arena_alloc(a, 2 * n + 1);
    if (out == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[k++] = (char)c;
        } else {
            out[k++] = (char)(0xC0 | (c >> 6));
            out[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[k] = '\0';
    return out;
}

int
doj_csv_split(const char *rec, size_t len, long line, struct cjx_arena *a,
              char ***fields, size_t *n, struct cjx_doj_error *err)
{
    if (memchr(rec, '\0', len) != NULL) {
        doj_error_set(err, line, "", "", "the row holds a NUL byte");
        return CJX_EPARSE;
    }
    /* At most one field per comma, plus one. */
    size_t cap = 1, high = 0;
    for (size_t j = 0; j < len; j++) {
        cap += rec[j] == ',';
        high |= (unsigned char)rec[j] & 0x80;
    }
    char **out = cjx_arena_alloc(a, cap * sizeof(*out));
    /* Every field, unescaped, ends with a NUL in one buffer. A quote or a
     * comma is never inside a UTF-8 sequence, so a row that is UTF-8 has
     * fields that are. */
    char *buf = cjx_arena_alloc(a, len + cap);
    if (out == NULL || buf == NULL)
        return CJX_ENOMEM;
    int utf8 = high == 0 || cjx_utf8_valid(rec, len);
    size_t nf = 0, i = 0, k = 0;
    for (;;) {
        size_t start = k;
        if (i < len && rec[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    doj_error_set(err, line, "", "",
                                  "field %zu: a quote is not closed", nf + 1);
                    return CJX_EPARSE;
                }
                if (rec[i] == '"') {
                    if (i + 1 < len && rec[i + 1] == '"') {
                        buf[k++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                buf[k++] = rec[i++];
            }
            if (i < len && rec[i] != ',') {
                doj_error_set(err, line, "", "",
                              "field %zu: text after its closing quote",
                              nf + 1);
                return CJX_EPARSE;
            }
        } else {
            /* Most fields are short or empty: a loop beats a call. */
            while (i < len && rec[i] != ',')
                buf[k++] = rec[i++];
        }
        buf[k++] = '\0';
        out[nf] = buf + start;
        if (!utf8 &&
            (out[nf] = field_text(a, buf + start, k - 1 - start)) == NULL)
            return CJX_ENOMEM;
        nf++;
        if (i >= len)
            break;
        i++; /* the comma */
    }
    *fields = out;
    *n = nf;
    return 0;
}
