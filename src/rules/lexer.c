/* Tokenizer for the CEL-subset expression language. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/utf8.h"
#include "rules_internal.h"

static int
is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int
lex_error(struct token *t, size_t pos, const char *msg)
{
    t->kind = TK_ERR;
    t->pos = (uint32_t)pos;
    t->err = msg;
    return 0;
}

static int
lex_string(struct lexer *lx, struct token *t, int raw)
{
    const char *s = lx->src;
    size_t start = lx->pos;
    char q = s[lx->pos];
    int triple =
        lx->pos + 2 < lx->len && s[lx->pos + 1] == q && s[lx->pos + 2] == q;
    size_t i = lx->pos + (triple ? 3 : 1);
    /* The decoded text is never longer than the source. */
    char *out = cjx_arena_alloc(lx->arena, lx->len - i + 1);
    if (out == NULL)
        return CJX_ENOMEM;
    size_t o = 0;
    for (;;) {
        if (i >= lx->len)
            return lex_error(t, start, "unterminated string literal");
        char c = s[i];
        if (triple) {
            if (c == q && i + 2 < lx->len && s[i + 1] == q && s[i + 2] == q) {
                i += 3;
                break;
            }
        } else if (c == q) {
            i++;
            break;
        } else if (c == '\n') {
            return lex_error(t, start, "unterminated string literal");
        }
        if (c != '\\' || raw) {
            out[o++] = c;
            i++;
            continue;
        }
        if (i + 1 >= lx->len)
            return lex_error(t, start, "unterminated string literal");
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'n':
            out[o++] = '\n';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 'a':
            out[o++] = '\a';
            break;
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'v':
            out[o++] = '\v';
            break;
        case '\\':
        case '\'':
        case '"':
        case '`':
        case '?':
            out[o++] = e;
            break;
        case 'x':
        case 'X':
        case 'u':
        case 'U': {
            int nd = (e == 'x' || e == 'X') ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < nd; k++) {
                int h = i < lx->len ? hexval(s[i]) : -1;
                if (h < 0)
                    return lex_error(t, i, "invalid escape sequence");
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return lex_error(t, i, "invalid code point in escape");
            if (cp == 0)
                return lex_error(t, i, "NUL is not allowed in strings");
            o += cjx_utf8_encode(cp, out + o);
            break;
        }
        default:
            return lex_error(t, i - 2, "invalid escape sequence");
        }
    }
    out[o] = '\0';
    t->kind = TK_STRING;
    t->s = out;
    t->slen = o;
    t->pos = (uint32_t)(raw ? start - 1 : start);
    t->len = (uint32_t)(i - t->pos);
    lx->pos = i;
    return 0;
}

static int
lex_number(struct lexer *lx, struct token *t)
{
    const char *s = lx->src;
    size_t start = lx->pos, i = lx->pos;
    int is_double = 0;
    if (s[i] == '0' && i + 1 < lx->len &&
        (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        size_t d0 = i;
        while (i < lx->len && hexval(s[i]) >= 0)
            i++;
        if (i == d0)
            return lex_error(t, start, "invalid hexadecimal literal");
    } else {
        while (i < lx->len && is_digit(s[i]))
            i++;
        if (i + 1 < lx->len && s[i] == '.' && is_digit(s[i + 1])) {
            is_double = 1;
            i++;
            while (i < lx->len && is_digit(s[i]))
                i++;
        }
        if (i < lx->len && (s[i] == 'e' || s[i] == 'E')) {
            size_t j = i + 1;
            if (j < lx->len && (s[j] == '+' || s[j] == '-'))
                j++;
            if (j < lx->len && is_digit(s[j])) {
                is_double = 1;
                i = j;
                while (i < lx->len && is_digit(s[i]))
                    i++;
            }
        }
    }
    if (i < lx->len && (s[i] == 'u' || s[i] == 'U'))
        return lex_error(t, start, "unsigned integers are not supported");
    if (i < lx->len && (is_ident_start(s[i]) || is_digit(s[i])))
        return lex_error(t, start, "invalid number literal");
    char buf[64];
    size_t n = i - start;
    if (n >= sizeof(buf))
        return lex_error(t, start, "number literal too long");
    memcpy(buf, s + start, n);
    buf[n] = '\0';
    errno = 0;
    char *end;
    if (is_double) {
        t->kind = TK_DOUBLE;
        t->d = strtod(buf, &end);
    } else {
        /* Parsed unsigned so that -9223372036854775808 can be folded by
         * the parser; the range is checked there. */
        unsigned long long v = strtoull(buf, &end, 0);
        if (errno == ERANGE || v > (unsigned long long)INT64_MAX + 1)
            return lex_error(t, start, "integer literal out of range");
        t->kind = TK_INT;
        t->i = (int64_t)(v & 0x7FFFFFFFFFFFFFFFULL);
        t->d = (double)v; /* remembers INT64_MAX + 1 */
        t->slen = v > (unsigned long long)INT64_MAX;
    }
    t->pos = (uint32_t)start;
    t->len = (uint32_t)n;
    lx->pos = i;
    return 0;
}

int
rules_lex_next(struct lexer *lx, struct token *t)
{
    const char *s = lx->src;
    memset(t, 0, sizeof(*t));
    for (;;) {
        while (lx->pos < lx->len && (s[lx->pos] == ' ' || s[lx->pos] == '\t' ||
                                     s[lx->pos] == '\n' || s[lx->pos] == '\r'))
            lx->pos++;
        /* CEL comments run from // to the end of the line. */
        if (lx->pos + 1 < lx->len && s[lx->pos] == '/' &&
            s[lx->pos + 1] == '/') {
            while (lx->pos < lx->len && s[lx->pos] != '\n')
                lx->pos++;
            continue;
        }
        break;
    }
    t->pos = (uint32_t)lx->pos;
    if (lx->pos >= lx->len) {
        t->kind = TK_EOF;
        return 0;
    }
    char c = s[lx->pos];
    char d = lx->pos + 1 < lx->len ? s[lx->pos + 1] : '\0';
    if ((c == 'r' || c == 'R') && (d == '"' || d == '\'')) {
        lx->pos++;
        return lex_string(lx, t, 1);
    }
    if ((c == 'b' || c == 'B') && (d == '"' || d == '\''))
        return lex_error(t, lx->pos, "bytes literals are not supported");
    if (is_ident_start(c)) {
        size_t i = lx->pos;
        while (i < lx->len && (is_ident_start(s[i]) || is_digit(s[i])))
            i++;
        size_t n = i - lx->pos;
        const char *w = s + lx->pos;
        t->len = (uint32_t)n;
        lx->pos = i;
        if (n == 4 && memcmp(w, "true", 4) == 0)
            t->kind = TK_TRUE;
        else if (n == 5 && memcmp(w, "false", 5) == 0)
            t->kind = TK_FALSE;
        else if (n == 4 && memcmp(w, "null", 4) == 0)
            t->kind = TK_NULL;
        else if (n == 2 && memcmp(w, "in", 2) == 0)
            t->kind = TK_IN;
        else {
            t->kind = TK_IDENT;
            t->s = cjx_arena_strndup(lx->arena, w, n);
            if (t->s == NULL)
                return CJX_ENOMEM;
            t->slen = n;
        }
        return 0;
    }
    if (is_digit(c) || (c == '.' && is_digit(d)))
        return lex_number(lx, t);
    if (c == '"' || c == '\'')
        return lex_string(lx, t, 0);
    enum tok_kind k;
    size_t n = 1;
    switch (c) {
    case '(':
        k = TK_LPAREN;
        break;
    case ')':
        k = TK_RPAREN;
        break;
    case '[':
        k = TK_LBRACK;
        break;
    case ']':
        k = TK_RBRACK;
        break;
    case '{':
        k = TK_LBRACE;
        break;
    case '}':
        k = TK_RBRACE;
        break;
    case '.':
        k = TK_DOT;
        break;
    case ',':
        k = TK_COMMA;
        break;
    case ':':
        k = TK_COLON;
        break;
    case '?':
        k = TK_QUESTION;
        break;
    case '+':
        k = TK_PLUS;
        break;
    case '-':
        k = TK_MINUS;
        break;
    case '*':
        k = TK_STAR;
        break;
    case '/':
        k = TK_SLASH;
        break;
    case '%':
        k = TK_PERCENT;
        break;
    case '|':
        if (d != '|')
            return lex_error(t, lx->pos, "unexpected character '|'");
        k = TK_OR;
        n = 2;
        break;
    case '&':
        if (d != '&')
            return lex_error(t, lx->pos, "unexpected character '&'");
        k = TK_AND;
        n = 2;
        break;
    case '!':
        k = d == '=' ? TK_NE : TK_NOT;
        n = d == '=' ? 2 : 1;
        break;
    case '=':
        if (d != '=')
            return lex_error(t, lx->pos, "unexpected '=' (use '==')");
        k = TK_EQ;
        n = 2;
        break;
    case '<':
        k = d == '=' ? TK_LE : TK_LT;
        n = d == '=' ? 2 : 1;
        break;
    case '>':
        k = d == '=' ? TK_GE : TK_GT;
        n = d == '=' ? 2 : 1;
        break;
    default:
        return lex_error(t, lx->pos, "unexpected character");
    }
    t->kind = k;
    t->len = (uint32_t)n;
    lx->pos += n;
    return 0;
}
