/* Reads libyaml documents into C values, with positioned error messages. */
#include "yaml_walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/file.h"
#include "cjx/log.h"

/* Long enough to recognise any value in a message, short enough that a
 * hostile file cannot push the rest of the message out of the buffer. */
#define QUOTE_MAX 48

int
cjx_conf_yaml_read_file(const char *path, char **out, size_t *len,
                        struct cjx_errbuf *eb)
{
    int rc = cjx_file_read(path, CJX_CONF_YAML_MAX_BYTES, out, len, eb);
    /* To the callers of cjx_conf_load a file that is not one, or too large
     * to be one, is a configuration error like any other (conf.h promises
     * CJX_EPARSE or CJX_EIO); the reader's message already names the file
     * and the bound. */
    if (rc == CJX_ELIMIT || rc == CJX_EINVAL)
        return CJX_EPARSE;
    return rc;
}

const char *
cjx_conf_yaml_quote(const yaml_node_t *node, char *dst, size_t cap)
{
    if (node->type != YAML_SCALAR_NODE) {
        dst[0] = '\0';
        return dst;
    }
    /* At most QUOTE_MAX bytes of the value, then "...". */
    size_t shown = cap < QUOTE_MAX + 4 ? cap : QUOTE_MAX + 4;
    return cjx_log_printable(node->data.scalar.value, node->data.scalar.length,
                             1, dst, shown);
}

static const char *
kind_name(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static int
verrf_at(const char *name, size_t line, size_t col, int err,
         struct cjx_errbuf *eb, const char *fmt, va_list ap)
{
    if (eb == NULL)
        return err;
    int n = snprintf(eb->msg, sizeof(eb->msg), "%s:%zu:%zu: ", name, line + 1,
                     col + 1);
    if (n < 0 || (size_t)n >= sizeof(eb->msg))
        return err;
    vsnprintf(eb->msg + n, sizeof(eb->msg) - (size_t)n, fmt, ap);
    return err;
}

static int errf_at(const char *name, size_t line, size_t col, int err,
                   struct cjx_errbuf *eb, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int
errf_at(const char *name, size_t line, size_t col, int err,
        struct cjx_errbuf *eb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrf_at(name, line, col, err, eb, fmt, ap);
    va_end(ap);
    return err;
}

int
cjx_conf_yaml_errf(const struct cjx_conf_yaml *y, const yaml_node_t *node,
                   int err, struct cjx_errbuf *eb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrf_at(y->name, node->start_mark.line, node->start_mark.column, err, eb,
             fmt, ap);
    va_end(ap);
    return err;
}

/* libyaml reports reader errors (bad encoding) as a byte offset only. */
static void
offset_to_position(const char *buf, size_t len, size_t offset, size_t *line,
                   size_t *col)
{
    *line = 0;
    *col = 0;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 0;
        } else {
            (*col)++;
        }
    }
}

static int
parser_error(const yaml_parser_t *p, const char *name, const char *buf,
             size_t len, struct cjx_errbuf *eb)
{
    const char *problem = p->problem != NULL ? p->problem : "syntax error";
    size_t line, col;

    switch (p->error) {
    /* libyaml's composer fails without recording an error only when an
     * allocation fails (a tag copy, for one). */
    case YAML_NO_ERROR:
    case YAML_MEMORY_ERROR:
        return cjx_errf(eb, CJX_ENOMEM, "%s: out of memory while parsing",
                        name);
    case YAML_READER_ERROR:
        offset_to_position(buf, len, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            return errf_at(name, line, col, CJX_EPARSE, eb, "%s (byte 0x%02x)",
                           problem, (unsigned)p->problem_value & 0xffu);
        return errf_at(name, line, col, CJX_EPARSE, eb, "%s", problem);
    default:
        if (p->context != NULL)
            return errf_at(name, p->problem_mark.line, p->problem_mark.column,
                           CJX_EPARSE, eb, "%s (%s at line %zu, column %zu)",
                           problem, p->context, p->context_mark.line + 1,
                           p->context_mark.column + 1);
        return errf_at(name, p->problem_mark.line, p->problem_mark.column,
                       CJX_EPARSE, eb, "%s", problem);
    }
}

int
cjx_conf_yaml_parse(struct cjx_conf_yaml *y, const char *name, const char *buf,
                    size_t len, struct cjx_errbuf *eb)
{
    memset(y, 0, sizeof(*y));
    y->name = name;

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

    int rc = 0;
    if (!yaml_parser_load(&parser, &y->doc)) {
        rc = parser_error(&parser, name, buf, len, eb);
        goto out;
    }
    y->loaded = 1;

    yaml_node_t *root = yaml_document_get_root_node(&y->doc);
    if (root == NULL) {
        rc = errf_at(name, 0, 0, CJX_EPARSE, eb, "the file holds no document");
        goto out;
    }

    /* A second document would be silently ignored by yaml_parser_load;
     * refusing it catches a stray "---" that cut a file in two. */
    yaml_document_t extra;
    if (!yaml_parser_load(&parser, &extra)) {
        rc = parser_error(&parser, name, buf, len, eb);
        goto out;
    }
    yaml_node_t *extra_root = yaml_document_get_root_node(&extra);
    if (extra_root != NULL)
        rc = errf_at(name, extra.start_mark.line, extra.start_mark.column,
                     CJX_EPARSE, eb, "only one YAML document is allowed");
    yaml_document_delete(&extra);
    if (rc != 0)
        goto out;

    if (root->type != YAML_MAPPING_NODE)
        rc = cjx_conf_yaml_errf(y, root, CJX_EPARSE, eb,
                                "expected a mapping at the top level, found %s",
                                kind_name(root));
out:
    yaml_parser_delete(&parser);
    if (rc != 0)
        cjx_conf_yaml_fini(y);
    return rc;
}

void
cjx_conf_yaml_fini(struct cjx_conf_yaml *y)
{
    if (y != NULL && y->loaded) {
        yaml_document_delete(&y->doc);
        y->loaded = 0;
    }
}

yaml_node_t *
cjx_conf_yaml_root(struct cjx_conf_yaml *y)
{
    return y->loaded ? yaml_document_get_root_node(&y->doc) : NULL;
}

yaml_node_t *
cjx_conf_yaml_node(struct cjx_conf_yaml *y, int index)
{
    return yaml_document_get_node(&y->doc, index);
}

static int
scalar_is(const yaml_node_t *node, const char *s)
{
    size_t n = strlen(s);
    return node->data.scalar.length == n &&
           memcmp(node->data.scalar.value, s, n) == 0;
}

int
cjx_conf_yaml_mapping(struct cjx_conf_yaml *y, yaml_node_t *node,
                      const char *what, struct cjx_conf_yaml_key *keys,
                      size_t n, struct cjx_errbuf *eb)
{
    const char *in = what != NULL ? " in " : "";
    const char *where = what != NULL ? what : "";
    char q[QUOTE_MAX + 8];

    if (node->type != YAML_MAPPING_NODE)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s%sexpected a mapping, found %s", where,
                                  what != NULL ? ": " : "", kind_name(node));
    for (size_t i = 0; i < n; i++) {
        keys[i].key = NULL;
        keys[i].value = NULL;
    }

    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = yaml_document_get_node(&y->doc, pair->key);
        yaml_node_t *v = yaml_document_get_node(&y->doc, pair->value);
        if (k == NULL || v == NULL)
            return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                      "malformed mapping");
        if (k->type != YAML_SCALAR_NODE)
            return cjx_conf_yaml_errf(y, k, CJX_EPARSE, eb,
                                      "a key must be a string, found %s%s%s",
                                      kind_name(k), in, where);
        size_t i;
        for (i = 0; i < n; i++)
            if (scalar_is(k, keys[i].name))
                break;
        if (i == n) {
            /* Room for the longest list, limits' twelve keys (about 270
             * bytes), within the 512 of the error buffer. */
            char expected[384];
            size_t off = 0;
            expected[0] = '\0';
            for (size_t j = 0; j < n && off < sizeof(expected); j++) {
                int w = snprintf(expected + off, sizeof(expected) - off, "%s%s",
                                 j > 0 ? ", " : "", keys[j].name);
                if (w < 0)
                    break;
                off += (size_t)w;
            }
            return cjx_conf_yaml_errf(
                y, k, CJX_EPARSE, eb, "unknown key '%s'%s%s (expected %s)",
                cjx_conf_yaml_quote(k, q, sizeof(q)), in, where, expected);
        }
        if (keys[i].key != NULL)
            return cjx_conf_yaml_errf(y, k, CJX_EPARSE, eb,
                                      "duplicate key '%s'%s%s (first at line "
                                      "%zu)",
                                      keys[i].name, in, where,
                                      keys[i].key->start_mark.line + 1);
        keys[i].key = k;
        keys[i].value = v;
    }

    for (size_t i = 0; i < n; i++)
        if (keys[i].required && keys[i].key == NULL)
            return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                      "missing required key '%s'%s%s",
                                      keys[i].name, in, where);
    return 0;
}

static int
scalar_is_null(const yaml_node_t *node)
{
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return node->data.scalar.length == 0 || scalar_is(node, "~") ||
           scalar_is(node, "null") || scalar_is(node, "Null") ||
           scalar_is(node, "NULL");
}

int
cjx_conf_yaml_string(const struct cjx_conf_yaml *y, const yaml_node_t *node,
                     const char *what, int allow_empty, char **out,
                     struct cjx_errbuf *eb)
{
    if (node->type != YAML_SCALAR_NODE)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s: expected a string, found %s", what,
                                  kind_name(node));
    const char *v = (const char *)node->data.scalar.value;
    size_t len = scalar_is_null(node) ? 0 : node->data.scalar.length;
    if (memchr(v, '\0', len) != NULL)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s: contains a NUL character", what);
    if (len == 0 && !allow_empty)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s: must not be empty", what);
    char *s = malloc(len + 1);
    if (s == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    memcpy(s, v, len);
    s[len] = '\0';
    *out = s;
    return 0;
}

int
cjx_conf_yaml_int(const struct cjx_conf_yaml *y, const yaml_node_t *node,
                  const char *what, long min, long max, int *out,
                  struct cjx_errbuf *eb)
{
    char q[QUOTE_MAX + 8];

    if (node->type != YAML_SCALAR_NODE)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s: expected an integer, found %s", what,
                                  kind_name(node));
    const unsigned char *s = node->data.scalar.value;
    size_t len = node->data.scalar.length;
    cjx_conf_yaml_quote(node, q, sizeof(q));
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s: expected an integer, found the quoted "
                                  "string '%s'",
                                  what, q);

    size_t i = 0;
    int negative = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        negative = s[i++] == '-';
    /* Eighteen digits cannot overflow a long long; more is out of range for
     * every limit anyway, so it is reported as such rather than as garbage. */
    long long v = 0;
    size_t digits = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++)
        if (digits < 18)
            v = v * 10 + (s[i] - '0');
    if (digits == 0 || i != len)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s: '%s' is not a decimal integer", what, q);
    if (negative)
        v = -v;
    if (digits > 18 || v < min || v > max)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s: %s is out of range (%ld to %ld)", what,
                                  q, min, max);
    *out = (int)v;
    return 0;
}

int
cjx_conf_yaml_sequence(const struct cjx_conf_yaml *y, const yaml_node_t *node,
                       const char *what, struct cjx_errbuf *eb)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "%s: expected a sequence, found %s", what,
                                  kind_name(node));
    return 0;
}
