/* Checks shared by the configuration and registry parsers of module conf. */
#ifndef CJX_CONF_INTERNAL_H
#define CJX_CONF_INTERNAL_H

/* 1 if s is an ORI: exactly CJX_ORI_LEN characters of [A-Z0-9]. */
int cjx_conf_ori_valid(const char *s);

/* 1 if s is "host:port" with a non-empty host (a name, an IPv4 address or a
 * bracketed IPv6 address) and a decimal port of 1-65535, or 0 as well when
 * allow_port_zero (the listener then takes any free port). */
int cjx_conf_address_valid(const char *s, int allow_port_zero);

#include <stdint.h>
#include <yaml.h>

#include "cjx/conf.h"

struct cjx_conf_yaml;

/* The last microsecond (UTC) of a calendar day in California, daylight
 * saving time included: how a statutory deadline "on or before" a date is
 * read. */
int64_t cjx_conf_end_of_day_pacific_us(int year, int month, int day);

/* The `exchange` section (exchange_conf.c): defaults, parsing of its
 * mapping node, and release of what parsing allocated. */
void cjx_conf_exchange_defaults(struct cjx_exchange_conf *x);
int cjx_conf_exchange_parse(struct cjx_conf_yaml *y, yaml_node_t *node,
                            struct cjx_exchange_conf *x, struct cjx_errbuf *eb);
void cjx_conf_exchange_fini(struct cjx_exchange_conf *x);

/* Reads a path-valued key, resolved against base_dir, or against
 * $CREDENTIALS_DIRECTORY when it starts with "%d/" (conf.c). */
int cjx_conf_read_path(struct cjx_conf_yaml *y, const yaml_node_t *node,
                       const char *what, const char *base_dir, int allow_empty,
                       char **out, struct cjx_errbuf *eb);

/* The `store` section (store_conf.c): the SQLite default, parsing of its
 * mapping node, and release. */
int cjx_conf_store_defaults(struct cjx_store_conf *s);
int cjx_conf_store_parse(struct cjx_conf_yaml *y, yaml_node_t *node,
                         const char *base_dir, struct cjx_store_conf *s,
                         struct cjx_errbuf *eb);
void cjx_conf_store_fini(struct cjx_store_conf *s);

/* A registry agency's `endpoint` (endpoint.c): node NULL (absent) reads as
 * "", a scalar must be host:port, and a list must hold IP address:port
 * entries of one family, each once, joined into "a:p,b:q". *out is a new
 * string. */
int cjx_conf_endpoint_parse(struct cjx_conf_yaml *y, yaml_node_t *node,
                            char **out, struct cjx_errbuf *eb);
/* Its `tls_name` (node NULL when absent: "", refused for an endpoint of
 * several addresses, reported at agency): a DNS name, only with an
 * endpoint. *out is a new string. */
int cjx_conf_tls_name_parse(struct cjx_conf_yaml *y, yaml_node_t *node,
                            const char *endpoint, const yaml_node_t *agency,
                            char **out, struct cjx_errbuf *eb);

#endif
