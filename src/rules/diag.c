/* Load-error messages: source positions of expression bytes and "file:line:col" with a caret. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rules_internal.h"

void
rules_pos(const struct srcmap *sm, uint32_t off, uint32_t *line, uint32_t *col)
{
    if (sm == NULL) {
        *line = 1;
        *col = off + 1;
        return;
    }
    if (sm->line == NULL) {
        *line = sm->line0;
        *col = sm->col0 + off;
        return;
    }
    *line = sm->line[off];
    *col = sm->col[off];
}

/* Finds the start of 1-based line in text; NULL when there is no such
 * line. */
static const char *
line_start(const char *text, size_t len, uint32_t line, size_t *n)
{
    const char *p = text, *end = text + len;
    for (uint32_t l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return NULL;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *n = (size_t)((nl != NULL ? nl : end) - p);
    if (*n > 0 && p[*n - 1] == '\r')
        (*n)--;
    return p;
}

int
rules_diag(struct cjx_errbuf *eb, int err, const struct srcmap *sm,
           uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (eb == NULL)
        return err;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *file = sm != NULL && sm->file != NULL ? sm->file : "<expr>";
    int w = snprintf(eb->msg, sizeof(eb->msg), "%s:%u:%u: %s", file, line, col,
                     msg);
    if (w < 0 || (size_t)w >= sizeof(eb->msg) || sm == NULL || sm->text == NULL)
        return err;
    size_t n;
    const char *ls = line_start(sm->text, sm->text_len, line, &n);
    if (ls == NULL)
        return err;
    /* Show at most 120 bytes of the line, shifted so the caret is on it. */
    size_t c = col > 0 ? col - 1 : 0;
    size_t first = c > 100 ? c - 60 : 0;
    if (first > n)
        first = n;
    size_t shown = n - first > 120 ? 120 : n - first;
    size_t left = sizeof(eb->msg) - (size_t)w;
    int w2 = snprintf(eb->msg + w, left, "\n%.*s\n", (int)shown, ls + first);
    if (w2 < 0 || (size_t)w2 >= left)
        return err;
    size_t at = (size_t)w + (size_t)w2;
    /* Copy tabs so the caret lines up under tab-indented text. */
    for (size_t i = first; i < c && i < n && at + 2 < sizeof(eb->msg); i++)
        eb->msg[at++] = ls[i] == '\t' ? '\t' : ' ';
    if (at + 2 <= sizeof(eb->msg)) {
        eb->msg[at++] = '^';
        eb->msg[at] = '\0';
    }
    return err;
}

int
rules_srcmap_scalar(struct cjx_arena *a, struct srcmap *sm, const char *file,
                    const char *text, size_t text_len, size_t raw_start,
                    size_t raw_end, uint32_t line0, uint32_t col0,
                    const char *val, size_t len)
{
    sm->file = file;
    sm->text = text;
    sm->text_len = text_len;
    sm->line0 = line0;
    sm->col0 = col0;
    sm->line = NULL;
    sm->col = NULL;
    uint32_t *lines = cjx_arena_alloc(a, (len + 1) * sizeof(uint32_t));
    uint32_t *cols = cjx_arena_alloc(a, (len + 1) * sizeof(uint32_t));
    if (lines == NULL || cols == NULL)
        return CJX_ENOMEM;
    if (raw_end > text_len)
        raw_end = text_len;
    /* The value is (nearly) a subsequence of the raw scalar: quotes,
     * indentation and escapes are the only extra bytes. Align greedily, and
     * let a folded line break stand for a space. */
    size_t r = raw_start;
    uint32_t line = line0, col = col0;
    for (size_t i = 0; i < len; i++) {
        size_t s = r;
        uint32_t sl = line, sc = col;
        int found = 0;
        while (s < raw_end) {
            char ch = text[s];
            if (ch == val[i] || (ch == '\n' && val[i] == ' ')) {
                found = 1;
                break;
            }
            if (ch == '\n') {
                sl++;
                sc = 1;
            } else if (((unsigned char)ch & 0xC0) != 0x80) {
                sc++;
            }
            s++;
        }
        if (!found) {
            lines[i] = line;
            cols[i] = col;
            continue;
        }
        lines[i] = sl;
        cols[i] = sc;
        r = s + 1;
        if (text[s] == '\n') {
            line = sl + 1;
            col = 1;
        } else {
            line = sl;
            col = ((unsigned char)text[s] & 0xC0) != 0x80 ? sc + 1 : sc;
        }
    }
    lines[len] = line;
    cols[len] = col;
    sm->line = lines;
    sm->col = cols;
    return 0;
}
