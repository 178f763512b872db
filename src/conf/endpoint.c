/* An agency's endpoint in the registry: one host:port, or a list of the IP
 * addresses of its replicas, read into the one string peers connect to. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "conf_internal.h"
#include "yaml_walk.h"

/* The address family of "a.b.c.d:port" (AF_INET) or "[v6]:port"
 * (AF_INET6) with a port of 1-65535, or 0 for anything else, a host name
 * included. */
static int
ip_family(const char *s)
{
    if (!cjx_conf_address_valid(s, 0))
        return 0;
    const char *colon = strrchr(s, ':');
    char host[64];
    size_t len = (size_t)(colon - s);
    int v6 = s[0] == '[';
    if (v6) {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(host))
        return 0;
    memcpy(host, s, len);
    host[len] = '\0';
    unsigned char buf[16];
    int family = v6 ? AF_INET6 : AF_INET;
    return inet_pton(family, host, buf) == 1 ? family : 0;
}

/* The replicas' addresses, joined with commas: the form the gRPC client
 * takes (cjx_client_connect_peer). */
static int
parse_list(struct cjx_conf_yaml *y, yaml_node_t *node, char **out,
           struct cjx_errbuf *eb)
{
    int rc = cjx_conf_yaml_sequence(y, node, "endpoint", eb);
    if (rc != 0)
        return rc;
    yaml_node_item_t *items = node->data.sequence.items.start;
    size_t n = (size_t)(node->data.sequence.items.top - items);
    if (n == 0)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "endpoint: list at least one address");
    char **addr = calloc(n, sizeof(*addr));
    if (addr == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    size_t total = 0;
    int first_family = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        yaml_node_t *item = cjx_conf_yaml_node(y, items[i]);
        char what[32], q[64];
        snprintf(what, sizeof(what), "endpoint[%zu]", i);
        rc = cjx_conf_yaml_string(y, item, what, 0, &addr[i], eb);
        if (rc != 0)
            break;
        int family = ip_family(addr[i]);
        if (family == 0)
            rc = cjx_conf_yaml_errf(
                y, item, CJX_EPARSE, eb,
                "%s: '%s' is not an IP address and port (a list of "
                "replicas takes a.b.c.d:port or [v6]:port; a host name "
                "that resolves to every replica goes alone)",
                what, cjx_conf_yaml_quote(item, q, sizeof(q)));
        else if (i > 0 && family != first_family)
            rc = cjx_conf_yaml_errf(
                y, item, CJX_EPARSE, eb,
                "%s: '%s' is IPv%d where endpoint[0] is IPv%d: list "
                "addresses of one family",
                what, cjx_conf_yaml_quote(item, q, sizeof(q)),
                family == AF_INET6 ? 6 : 4, family == AF_INET6 ? 4 : 6);
        for (size_t k = 0; rc == 0 && k < i; k++)
            if (strcmp(addr[k], addr[i]) == 0)
                rc = cjx_conf_yaml_errf(
                    y, item, CJX_EPARSE, eb, "%s: '%s' is listed twice", what,
                    cjx_conf_yaml_quote(item, q, sizeof(q)));
        if (i == 0)
            first_family = family;
        if (rc == 0)
            total += strlen(addr[i]) + 1;
    }
    if (rc == 0) {
        *out = malloc(total);
        if (*out == NULL)
            rc = cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    }
    for (size_t i = 0, at = 0; rc == 0 && i < n; i++) {
        size_t len = strlen(addr[i]);
        memcpy(*out + at, addr[i], len);
        at += len;
        (*out)[at++] = i + 1 < n ? ',' : '\0';
    }
    for (size_t i = 0; i < n; i++)
        free(addr[i]);
    free(addr);
    return rc;
}

int
cjx_conf_endpoint_parse(struct cjx_conf_yaml *y, yaml_node_t *node, char **out,
                        struct cjx_errbuf *eb)
{
    *out = NULL;
    if (node == NULL) {
        *out = strdup("");
        return *out != NULL
                   ? 0
                   : cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    }
    if (node->type == YAML_SEQUENCE_NODE)
        return parse_list(y, node, out, eb);
    int rc = cjx_conf_yaml_string(y, node, "endpoint", 1, out, eb);
    if (rc == 0 && (*out)[0] != '\0' && !cjx_conf_address_valid(*out, 0)) {
        char q[64];
        rc = cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                "endpoint: '%s' is not host:port (port 1 "
                                "to 65535)",
                                cjx_conf_yaml_quote(node, q, sizeof(q)));
    }
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

int
cjx_conf_tls_name_parse(struct cjx_conf_yaml *y, yaml_node_t *node,
                        const char *endpoint, const yaml_node_t *agency,
                        char **out, struct cjx_errbuf *eb)
{
    *out = NULL;
    int several = strchr(endpoint, ',') != NULL;
    if (node == NULL) {
        /* The channel to several addresses has one name to check their
         * certificates against; there is no host to take it from. */
        if (several)
            return cjx_conf_yaml_errf(
                y, agency, CJX_EPARSE, eb,
                "tls_name: an endpoint of several addresses needs the DNS "
                "name every replica's certificate carries");
        *out = strdup("");
        return *out != NULL
                   ? 0
                   : cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    }
    int rc = cjx_conf_yaml_string(y, node, "tls_name", 0, out, eb);
    if (rc != 0)
        return rc;
    /* A DNS name: what the host of host:port may be, brackets and colons
     * (IPv6) excepted. */
    char q[64], with_port[300];
    int fits = snprintf(with_port, sizeof(with_port), "%s:1", *out) <
               (int)sizeof(with_port);
    if (endpoint[0] == '\0')
        rc = cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                "tls_name: the agency has no endpoint");
    else if (!fits || strchr(*out, ':') != NULL || (*out)[0] == '[' ||
             !cjx_conf_address_valid(with_port, 0))
        rc = cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                "tls_name: '%s' is not a DNS name",
                                cjx_conf_yaml_quote(node, q, sizeof(q)));
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}
