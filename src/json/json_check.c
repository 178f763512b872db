/* Strict RFC 8259 check of a document json-c has accepted, plus duplicate keys. */
#include "json_internal.h"

#include <stdlib.h>
#include <string.h>

#include "cjx/utf8.h"

/* A key of an object still open, for duplicate detection. Decoded keys live
 * in the scratch buffer, which may move, so they are kept as offsets. */
struct check_key {
    const char *raw;    /* key text in the document when it had no escape */
    size_t scratch_off; /* else its decoded form in scratch */
    size_t len;
    size_t doc_off; /* where the key starts, for the error message */
    const char *resolved;
};

struct check {
    const unsigned char *s;
    size_t len;
    size_t pos;
    int depth;
    struct cjx_errbuf *eb;
    struct cjx_json_path path;
    struct check_key *keys;
    size_t n_keys, cap_keys;
    char *scratch;
    size_t n_scratch, cap_scratch;
};

static int check_value(struct check *c);

static int
fail_at(struct check *c, size_t off, const char *what)
{
    if (c->path.len > 0)
        return cjx_errf(c->eb, CJX_EPARSE,
                        "%s: JSON syntax error at byte offset %zu: %s",
                        c->path.buf, off, what);
    return cjx_errf(c->eb, CJX_EPARSE,
                    "JSON syntax error at byte offset %zu: %s", off, what);
}

static int
nomem(struct check *c)
{
    return cjx_errf(c->eb, CJX_ENOMEM, "out of memory checking JSON");
}

static void
skip_ws(struct check *c)
{
    while (c->pos < c->len && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' ||
                               c->s[c->pos] == '\n' || c->s[c->pos] == '\r'))
        c->pos++;
}

static int
scratch_put(struct check *c, const char *bytes, size_t n)
{
    if (n == 0)
        return 0;
    if (c->cap_scratch - c->n_scratch < n) {
        size_t cap = c->cap_scratch ? c->cap_scratch : 256;
        char *p;
        while (cap - c->n_scratch < n)
            cap *= 2;
        p = realloc(c->scratch, cap);
        if (p == NULL)
            return -1;
        c->scratch = p;
        c->cap_scratch = cap;
    }
    memcpy(c->scratch + c->n_scratch, bytes, n);
    c->n_scratch += n;
    return 0;
}

static int
hex4(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        unsigned char h = p[i];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= (uint32_t)(h - '0');
        else if (h >= 'a' && h <= 'f')
            v |= (uint32_t)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            v |= (uint32_t)(h - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Checks the string at c->pos. With key set, also records its decoded form
 * (appended to scratch only when it contains an escape). */
static int
check_string(struct check *c, struct check_key *key)
{
    size_t start = c->pos;
    int decoding = 0;
    size_t scratch_start = c->n_scratch;

    if (c->pos >= c->len || c->s[c->pos] != '"')
        return fail_at(c, c->pos,
                       c->pos < c->len && c->s[c->pos] == '\''
                           ? "strings must be in double quotes"
                           : "string expected");
    c->pos++;
    for (;;) {
        size_t at = c->pos;
        unsigned char ch;

        if (at >= c->len)
            return fail_at(c, at, "unterminated string");
        ch = c->s[at];
        if (ch == '"') {
            c->pos++;
            break;
        }
        if (ch < 0x20)
            return fail_at(c, at, "control character in string");
        if (ch == '\\') {
            char out[8];
            size_t n_out = 0;
            uint32_t cp;

            if (key != NULL && !decoding) {
                /* First escape of a key: start its decoded copy with the
                 * plain text before it. */
                decoding = 1;
                if (scratch_put(c, (const char *)c->s + start + 1,
                                at - start - 1) < 0)
                    return nomem(c);
            }
            if (at + 1 >= c->len)
                return fail_at(c, at, "unterminated string");
            switch (c->s[at + 1]) {
            case '"':
                out[n_out++] = '"';
                break;
            case '\\':
                out[n_out++] = '\\';
                break;
            case '/':
                out[n_out++] = '/';
                break;
            case 'b':
                out[n_out++] = '\b';
                break;
            case 'f':
                out[n_out++] = '\f';
                break;
            case 'n':
                out[n_out++] = '\n';
                break;
            case 'r':
                out[n_out++] = '\r';
                break;
            case 't':
                out[n_out++] = '\t';
                break;
            case 'u':
                if (at + 6 > c->len || hex4(c->s + at + 2, &cp) < 0)
                    return fail_at(c, at, "bad \\u escape");
                if (cp == 0)
                    return fail_at(c, at, "\\u0000 is not allowed in strings");
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return fail_at(c, at, "unpaired surrogate in \\u escape");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t lo;
                    if (at + 12 > c->len || c->s[at + 6] != '\\' ||
                        c->s[at + 7] != 'u' || hex4(c->s + at + 8, &lo) < 0 ||
                        lo < 0xdc00 || lo > 0xdfff)
                        return fail_at(c, at,
                                       "unpaired surrogate in \\u escape");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    c->pos += 6;
                }
                n_out = cjx_utf8_encode(cp, out);
                c->pos += 4;
                break;
            default:
                return fail_at(c, at, "bad escape in string");
            }
            c->pos += 2;
            if (decoding && scratch_put(c, out, n_out) < 0)
                return nomem(c);
            continue;
        }
        {
            size_t n = cjx_utf8_seq_len(c->s + at, c->len - at);
            if (n == 0)
                return fail_at(c, at, "invalid UTF-8 in string");
            if (decoding && scratch_put(c, (const char *)c->s + at, n) < 0)
                return nomem(c);
            c->pos += n;
        }
    }
    if (key != NULL) {
        key->doc_off = start;
        key->resolved = NULL;
        if (decoding) {
            key->raw = NULL;
            key->scratch_off = scratch_start;
            key->len = c->n_scratch - scratch_start;
        } else {
            key->raw = (const char *)c->s + start + 1;
            key->scratch_off = 0;
            key->len = c->pos - start - 2;
        }
    }
    return 0;
}

static int
digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Compares a run of decimal digits without leading zeros against limit. */
static int
digits_exceed(const unsigned char *d, size_t n, const char *limit)
{
    size_t ln = strlen(limit);

    if (n != ln)
        return n > ln;
    return memcmp(d, limit, n) > 0;
}

static int
check_number(struct check *c)
{
    size_t start = c->pos;
    int negative = 0;
    int integral = 1;
    size_t int_start;

    if (c->s[c->pos] == '-') {
        negative = 1;
        c->pos++;
    }
    int_start = c->pos;
    if (c->pos < c->len && c->s[c->pos] == '0') {
        c->pos++;
    } else if (c->pos < c->len && digit(c->s[c->pos])) {
        while (c->pos < c->len && digit(c->s[c->pos]))
            c->pos++;
    } else {
        return fail_at(c, start, "number expected");
    }
    if (c->pos < c->len && digit(c->s[c->pos]))
        return fail_at(c, start, "leading zero in number");
    if (c->pos < c->len && c->s[c->pos] == '.') {
        integral = 0;
        c->pos++;
        if (c->pos >= c->len || !digit(c->s[c->pos]))
            return fail_at(c, start, "digits expected after '.'");
        while (c->pos < c->len && digit(c->s[c->pos]))
            c->pos++;
    }
    if (c->pos < c->len && (c->s[c->pos] == 'e' || c->s[c->pos] == 'E')) {
        integral = 0;
        c->pos++;
        if (c->pos < c->len && (c->s[c->pos] == '+' || c->s[c->pos] == '-'))
            c->pos++;
        if (c->pos >= c->len || !digit(c->s[c->pos]))
            return fail_at(c, start, "digits expected in exponent");
        while (c->pos < c->len && digit(c->s[c->pos]))
            c->pos++;
    }
    /* json-c silently saturates integer literals beyond 64 bits, so they
     * cannot be told apart from the limits afterwards; refuse them here. */
    if (integral && digits_exceed(c->s + int_start, c->pos - int_start,
                                  negative ? "9223372036854775808"
                                           : "18446744073709551615")) {
        size_t n = c->pos - start;
        if (c->path.len > 0)
            return cjx_errf(c->eb, CJX_EPARSE,
                            "%s: integer %.*s%s at byte offset %zu does not "
                            "fit in 64 bits",
                            c->path.buf, (int)(n > 40 ? 40 : n),
                            (const char *)c->s + start, n > 40 ? "..." : "",
                            start);
        return cjx_errf(c->eb, CJX_EPARSE,
                        "integer %.*s%s at byte offset %zu does not fit in "
                        "64 bits",
                        (int)(n > 40 ? 40 : n), (const char *)c->s + start,
                        n > 40 ? "..." : "", start);
    }
    return 0;
}

static int
check_literal(struct check *c)
{
    static const char *const words[] = {"true", "false", "null"};
    size_t avail = c->len - c->pos;

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);
        if (avail >= n && memcmp(c->s + c->pos, words[i], n) == 0) {
            c->pos += n;
            return 0;
        }
    }
    if ((avail >= 3 && memcmp(c->s + c->pos, "NaN", 3) == 0) ||
        (avail >= 8 && memcmp(c->s + c->pos, "Infinity", 8) == 0))
        return fail_at(c, c->pos,
                       "NaN and Infinity are not JSON numbers; quote them");
    return fail_at(c, c->pos, "unexpected character");
}

static int
key_cmp(const void *a, const void *b)
{
    const struct check_key *x = a;
    const struct check_key *y = b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->resolved, y->resolved, x->len);
}

/* Sorts the keys of the object being closed and reports the first repeat,
 * in document order. */
static int
check_duplicates(struct check *c, size_t first)
{
    struct check_key *k = c->keys + first;
    size_t n = c->n_keys - first;
    const struct check_key *dup = NULL;

    for (size_t i = 0; i < n; i++)
        k[i].resolved =
            k[i].raw != NULL ? k[i].raw : c->scratch + k[i].scratch_off;
    qsort(k, n, sizeof(*k), key_cmp);
    for (size_t i = 1; i < n; i++) {
        if (key_cmp(&k[i - 1], &k[i]) == 0) {
            const struct check_key *later =
                k[i - 1].doc_off > k[i].doc_off ? &k[i - 1] : &k[i];
            if (dup == NULL || later->doc_off < dup->doc_off)
                dup = later;
        }
    }
    if (dup == NULL)
        return 0;
    if (c->path.len > 0)
        return cjx_errf(c->eb, CJX_EPARSE,
                        "%s: duplicate key \"%.*s\" at byte offset %zu",
                        c->path.buf, (int)(dup->len > 64 ? 64 : dup->len),
                        dup->resolved, dup->doc_off);
    return cjx_errf(
        c->eb, CJX_EPARSE, "duplicate key \"%.*s\" at byte offset %zu",
        (int)(dup->len > 64 ? 64 : dup->len), dup->resolved, dup->doc_off);
}

/* Reads what follows a member of an object or an element of an array: 1
 * after a ',' (another one follows), 0 after the closing bracket close, or
 * an error saying what was expected. */
static int
after_member(struct check *c, char close, const char *expected)
{
    skip_ws(c);
    if (c->pos < c->len && c->s[c->pos] == ',') {
        c->pos++;
        return 1;
    }
    if (c->pos < c->len && c->s[c->pos] == close) {
        c->pos++;
        return 0;
    }
    return fail_at(c, c->pos, expected);
}

static int
check_object(struct check *c)
{
    size_t first_key = c->n_keys;
    size_t scratch_mark = c->n_scratch;
    int rc;

    c->pos++; /* '{' */
    skip_ws(c);
    if (c->pos < c->len && c->s[c->pos] == '}') {
        c->pos++;
        return 0;
    }
    for (;;) {
        struct check_key *key;
        const char *name;
        size_t saved;

        if (c->n_keys == c->cap_keys) {
            size_t cap = c->cap_keys ? c->cap_keys * 2 : 16;
            struct check_key *p = realloc(c->keys, cap * sizeof(*p));
            if (p == NULL)
                return nomem(c);
            c->keys = p;
            c->cap_keys = cap;
        }
        skip_ws(c);
        key = &c->keys[c->n_keys];
        if ((rc = check_string(c, key)) < 0)
            return rc;
        c->n_keys++;
        skip_ws(c);
        if (c->pos >= c->len || c->s[c->pos] != ':')
            return fail_at(c, c->pos, "':' expected after object key");
        c->pos++;
        name = key->raw != NULL ? key->raw : c->scratch + key->scratch_off;
        saved = cjx_json_path_push_key(&c->path, name, key->len);
        rc = check_value(c);
        cjx_json_path_pop(&c->path, saved);
        if (rc < 0)
            return rc;
        rc = after_member(c, '}', "',' or '}' expected in object");
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
    }
    rc = check_duplicates(c, first_key);
    c->n_keys = first_key;
    c->n_scratch = scratch_mark;
    return rc;
}

static int
check_array(struct check *c)
{
    size_t index = 0;

    c->pos++; /* '[' */
    skip_ws(c);
    if (c->pos < c->len && c->s[c->pos] == ']') {
        c->pos++;
        return 0;
    }
    for (;; index++) {
        size_t saved = cjx_json_path_push_index(&c->path, index);
        int rc = check_value(c);
        cjx_json_path_pop(&c->path, saved);
        if (rc < 0)
            return rc;
        rc = after_member(c, ']', "',' or ']' expected in array");
        if (rc <= 0)
            return rc;
    }
}

static int
check_value(struct check *c)
{
    int rc;

    skip_ws(c);
    if (c->pos >= c->len)
        return fail_at(c, c->pos, "value expected");
    switch (c->s[c->pos]) {
    case '{':
    case '[':
        if (++c->depth > CJX_JSON_MAX_DEPTH)
            return fail_at(c, c->pos, "nesting too deep");
        rc = c->s[c->pos] == '{' ? check_object(c) : check_array(c);
        c->depth--;
        return rc;
    case '"':
    case '\'':
        return check_string(c, NULL);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return check_number(c);
    default:
        return check_literal(c);
    }
}

int
cjx_json_check_strict(const char *json, size_t len, struct cjx_errbuf *eb)
{
    struct check c = {.s = (const unsigned char *)json, .len = len, .eb = eb};
    int rc = check_value(&c);

    if (rc == 0) {
        skip_ws(&c);
        if (c.pos != c.len)
            rc = fail_at(&c, c.pos, "unexpected text after the JSON value");
    }
    free(c.keys);
    free(c.scratch);
    return rc;
}
