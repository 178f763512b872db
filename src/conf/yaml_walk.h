/* Module-private helpers that read libyaml documents into C values with
 * "file:line:col: message" errors, shared by the config and registry parsers. */
#ifndef CJX_CONF_YAML_WALK_H
#define CJX_CONF_YAML_WALK_H

#include <stddef.h>
#include <yaml.h>

#include "cjx/error.h"

/* Largest configuration or registry file accepted. */
#define CJX_CONF_YAML_MAX_BYTES (4u << 20)

/* A loaded YAML document and the file name its messages carry. */
struct cjx_conf_yaml {
    yaml_document_t doc;
    const char *name; /* borrowed; must outlive the struct */
    int loaded;
};

/* Reads a whole file into a new NUL-terminated buffer (free with free())
 * with cjx_file_read (include/cjx/file.h), whose messages it keeps.
 * CJX_EIO if it cannot be read, CJX_EPARSE if it is not a regular file or
 * is larger than CJX_CONF_YAML_MAX_BYTES, CJX_ENOMEM. */
int cjx_conf_yaml_read_file(const char *path, char **out, size_t *len,
                            struct cjx_errbuf *eb);

/* Parses exactly one YAML document from buf and checks that its root is a
 * mapping. Syntax errors are CJX_EPARSE with the position of the problem.
 * On success y holds the document until cjx_conf_yaml_fini(). */
int cjx_conf_yaml_parse(struct cjx_conf_yaml *y, const char *name,
                        const char *buf, size_t len, struct cjx_errbuf *eb);
/* Accepts a struct that failed to parse or was zeroed. */
void cjx_conf_yaml_fini(struct cjx_conf_yaml *y);

/* Borrowed; valid until cjx_conf_yaml_fini(). */
yaml_node_t *cjx_conf_yaml_root(struct cjx_conf_yaml *y);

/* Formats "name:line:col: " plus the message, at node's start (lines and
 * columns 1-based), and returns err. */
int cjx_conf_yaml_errf(const struct cjx_conf_yaml *y, const yaml_node_t *node,
                       int err, struct cjx_errbuf *eb, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Copies a scalar's text into dst for a message: shortened, with control
 * characters replaced so that a value cannot forge log lines. Returns dst. */
const char *cjx_conf_yaml_quote(const yaml_node_t *node, char *dst, size_t cap);

/* One key a mapping may hold. cjx_conf_yaml_mapping() fills value (and key,
 * for messages) with borrowed nodes, or leaves them NULL when absent. */
struct cjx_conf_yaml_key {
    const char *name;
    int required;
    yaml_node_t *key;
    yaml_node_t *value;
};

/* Matches node, which must be a mapping, against keys[0..n): refuses unknown
 * keys, duplicate keys, keys that are not scalars and missing required keys
 * (reported at the mapping). what names the mapping in messages ("tls"), or
 * NULL for the document root. */
int cjx_conf_yaml_mapping(struct cjx_conf_yaml *y, yaml_node_t *node,
                          const char *what, struct cjx_conf_yaml_key *keys,
                          size_t n, struct cjx_errbuf *eb);

/* Copies a scalar into a new string (free with free()). A null value (empty,
 * "~" or "null") reads as "" and is refused unless allow_empty, as is an
 * empty string. what names the value in messages ("tls.ca"). */
int cjx_conf_yaml_string(const struct cjx_conf_yaml *y, const yaml_node_t *node,
                         const char *what, int allow_empty, char **out,
                         struct cjx_errbuf *eb);

/* Reads a plain decimal integer within [min, max]. */
int cjx_conf_yaml_int(const struct cjx_conf_yaml *y, const yaml_node_t *node,
                      const char *what, long min, long max, int *out,
                      struct cjx_errbuf *eb);

/* Checks that node is a sequence; its items are node->data.sequence.items. */
int cjx_conf_yaml_sequence(const struct cjx_conf_yaml *y,
                           const yaml_node_t *node, const char *what,
                           struct cjx_errbuf *eb);

/* Borrowed node for an index found in a sequence or mapping. */
yaml_node_t *cjx_conf_yaml_node(struct cjx_conf_yaml *y, int index);

#endif
