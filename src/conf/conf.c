/* The daemon configuration file: parsing, defaults, validation, path resolution. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "cjx/conf.h"
#include "cjx/log.h"
#include "cjx/rules.h"
#include "cjx/tls.h"
#include "conf_internal.h"
#include "yaml_walk.h"

static const struct cjx_limits default_limits = {
    .max_message_bytes = 4 << 20,
    .max_concurrent_streams = 100,
    .handshake_timeout_ms = 10000,
    .idle_timeout_ms = 600000,
    .keepalive_time_ms = 60000,
    .keepalive_timeout_ms = 20000,
    .rate_limit_per_agency = 0,
    .stream_buffer_bytes = 1 << 20,
    .max_streams_per_connection = 32,
    .max_streams_per_agency = 64,
    .stream_idle_timeout_s = 300,
    .bulk_max_messages = 10000,
};

/* Accepted ranges; docs/config.md lists the same numbers. */
static const struct limit_spec {
    const char *key;
    size_t offset;
    long min, max;
} limit_specs[] = {
    /* At least 64 KiB: twice the largest record the record bounds allow
     * (src/service/record_bounds.h), so that a page always holds one. */
    {"max_message_bytes", offsetof(struct cjx_limits, max_message_bytes),
     64L << 10, 64L << 20},
    {"max_concurrent_streams",
     offsetof(struct cjx_limits, max_concurrent_streams), 1, 10000},
    {"handshake_timeout_ms", offsetof(struct cjx_limits, handshake_timeout_ms),
     100, 120000},
    {"idle_timeout_ms", offsetof(struct cjx_limits, idle_timeout_ms), 1000,
     3600000},
    {"keepalive_time_ms", offsetof(struct cjx_limits, keepalive_time_ms), 10000,
     7200000},
    {"keepalive_timeout_ms", offsetof(struct cjx_limits, keepalive_timeout_ms),
     1000, 600000},
    {"rate_limit_per_agency",
     offsetof(struct cjx_limits, rate_limit_per_agency), 0, 1000000},
    {"stream_buffer_bytes", offsetof(struct cjx_limits, stream_buffer_bytes),
     64L << 10, 64L << 20},
    {"max_streams_per_connection",
     offsetof(struct cjx_limits, max_streams_per_connection), 1, 10000},
    {"max_streams_per_agency",
     offsetof(struct cjx_limits, max_streams_per_agency), 1, 100000},
    {"stream_idle_timeout_s",
     offsetof(struct cjx_limits, stream_idle_timeout_s), 1, 86400},
    /* At most 10000: the one response naming every message must fit a
     * client's default 4 MiB receive limit. */
    {"bulk_max_messages", offsetof(struct cjx_limits, bulk_max_messages), 1,
     10000},
};
#define N_LIMITS (sizeof(limit_specs) / sizeof(limit_specs[0]))

enum {
    K_AGENCY,
    K_TRUST_DOMAIN,
    K_LISTEN,
    K_LOCAL_SOCKET,
    K_STATE_DIR,
    K_REGISTRY,
    K_LOG_LEVEL,
    K_LOG_FORMAT,
    K_TLS,
    K_LIMITS,
    K_RULES,
    K_EXCHANGE,
    K_SEALING,
    K_METRICS,
    K_STORE,
    K_N
};

enum { T_CA, T_CERT, T_KEY, T_CRL_DIR, T_N };

/* The generation of the last configuration loaded in this process. */
static atomic_uint_fast64_t last_generation;

const struct cjx_conf *
cjx_conf_ref(const struct cjx_conf *conf)
{
    if (conf != NULL) {
        /* The count is the one field a shared configuration changes; the
         * object was allocated writable by cjx_conf_parse. */
        struct cjx_conf *c = (struct cjx_conf *)conf;
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    }
    return conf;
}

static void conf_free(struct cjx_conf *conf);

struct cjx_conf *
cjx_conf_new(void)
{
    struct cjx_conf *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    atomic_init(&c->refs, 1);
    c->generation = atomic_fetch_add(&last_generation, 1) + 1;
    return c;
}

void
cjx_conf_unref(const struct cjx_conf *conf)
{
    if (conf == NULL)
        return;
    struct cjx_conf *c = (struct cjx_conf *)conf;
    /* Release: this holder's reads happen before the free; acquire in the
     * last holder: the free sees them all. */
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        conf_free(c);
}

void
cjx_conf_slot_init(struct cjx_conf_slot *slot, const struct cjx_conf *conf)
{
    pthread_mutex_init(&slot->mu, NULL);
    slot->conf = cjx_conf_ref(conf);
}

const struct cjx_conf *
cjx_conf_slot_get(struct cjx_conf_slot *slot)
{
    /* The count must go up before a concurrent set can give the slot's
     * reference back: hence the lock rather than an atomic pointer. */
    pthread_mutex_lock(&slot->mu);
    const struct cjx_conf *conf = cjx_conf_ref(slot->conf);
    pthread_mutex_unlock(&slot->mu);
    return conf;
}

void
cjx_conf_slot_set(struct cjx_conf_slot *slot, const struct cjx_conf *conf)
{
    conf = cjx_conf_ref(conf);
    pthread_mutex_lock(&slot->mu);
    const struct cjx_conf *old = slot->conf;
    slot->conf = conf;
    pthread_mutex_unlock(&slot->mu);
    cjx_conf_unref(old);
}

void
cjx_conf_slot_fini(struct cjx_conf_slot *slot)
{
    cjx_conf_unref(slot->conf);
    slot->conf = NULL;
    pthread_mutex_destroy(&slot->mu);
}

static void
conf_free(struct cjx_conf *conf)
{
    free(conf->path);
    free(conf->agency);
    free(conf->trust_domain);
    free(conf->listen);
    free(conf->local_socket);
    free(conf->state_dir);
    free(conf->registry_path);
    free(conf->log_level);
    free(conf->metrics_listen);
    free(conf->rules_dir);
    free(conf->tls.ca);
    free(conf->tls.cert);
    free(conf->tls.key);
    free(conf->tls.crl_dir);
    cjx_conf_exchange_fini(&conf->exchange);
    cjx_conf_store_fini(&conf->store);
    cjx_registry_fini(&conf->registry);
    cjx_rules_registry_free(conf->rules);
    cjx_tls_crl_set_unref(conf->crls);
    free(conf);
}

static char *
join_path(const char *dir, const char *rel)
{
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    size_t dl = strlen(dir), rl = strlen(rel);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *s = malloc(dl + (size_t)slash + rl + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, dir, dl);
    if (slash)
        s[dl] = '/';
    memcpy(s + dl + (size_t)slash, rel, rl + 1);
    return s;
}

/* The daemon may change directory after start, and reloads the file by the
 * path it keeps, so every path it keeps is absolute. */
static int
absolute_path(const char *path, char **out, struct cjx_errbuf *eb)
{
    if (path[0] == '/') {
        *out = strdup(path);
    } else {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return cjx_errf(eb, CJX_EIO,
                            "%s: cannot resolve the current "
                            "directory",
                            path);
        *out = join_path(cwd, path);
    }
    return *out == NULL ? cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", path)
                        : 0;
}

/* Reads a path-valued key and resolves it against the file's directory,
 * or, when it starts with "%d/", against $CREDENTIALS_DIRECTORY: where
 * systemd puts the files of LoadCredential= (the same %d as in unit files). */
int
cjx_conf_read_path(struct cjx_conf_yaml *y, const yaml_node_t *node,
                   const char *what, const char *base_dir, int allow_empty,
                   char **out, struct cjx_errbuf *eb)
{
    char *s;
    int rc = cjx_conf_yaml_string(y, node, what, allow_empty, &s, eb);
    if (rc != 0)
        return rc;
    if (s[0] == '\0' || s[0] == '/') {
        *out = s;
        return 0;
    }
    const char *rel = s;
    if (strncmp(s, "%d/", 3) == 0) {
        base_dir = getenv("CREDENTIALS_DIRECTORY");
        rel = s + 3;
        if (base_dir == NULL || base_dir[0] != '/') {
            free(s);
            return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                      "%s: a path starting with %%d/ needs "
                                      "$CREDENTIALS_DIRECTORY, which systemd "
                                      "sets for a unit with LoadCredential=",
                                      what);
        }
    }
    *out = join_path(base_dir, rel);
    free(s);
    return *out == NULL ? cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name)
                        : 0;
}

static int
trust_domain_valid(const char *s)
{
    size_t i;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_'))
            return 0;
    }
    return i > 0 && i <= 255;
}

static int
parse_tls(struct cjx_conf_yaml *y, yaml_node_t *node, const char *base_dir,
          struct cjx_conf *c, struct cjx_errbuf *eb)
{
    struct cjx_conf_yaml_key keys[T_N] = {
        [T_CA] = {"ca", 1, NULL, NULL},
        [T_CERT] = {"cert", 1, NULL, NULL},
        [T_KEY] = {"key", 1, NULL, NULL},
        [T_CRL_DIR] = {"crl_dir", 0, NULL, NULL},
    };
    int rc = cjx_conf_yaml_mapping(y, node, "tls", keys, T_N, eb);
    if (rc == 0)
        rc = cjx_conf_read_path(y, keys[T_CA].value, "tls.ca", base_dir, 0,
                                &c->tls.ca, eb);
    if (rc == 0)
        rc = cjx_conf_read_path(y, keys[T_CERT].value, "tls.cert", base_dir, 0,
                                &c->tls.cert, eb);
    if (rc == 0)
        rc = cjx_conf_read_path(y, keys[T_KEY].value, "tls.key", base_dir, 0,
                                &c->tls.key, eb);
    if (rc != 0 || keys[T_CRL_DIR].value == NULL)
        return rc;
    return cjx_conf_read_path(y, keys[T_CRL_DIR].value, "tls.crl_dir", base_dir,
                              1, &c->tls.crl_dir, eb);
}

/* The default keeps metrics on the machine: exposing them takes a choice. */
#define METRICS_DEFAULT_LISTEN "127.0.0.1:9464"

static int
parse_metrics(struct cjx_conf_yaml *y, yaml_node_t *node, struct cjx_conf *c,
              struct cjx_errbuf *eb)
{
    struct cjx_conf_yaml_key keys[2] = {{"listen", 0, NULL, NULL},
                                        {"tls", 0, NULL, NULL}};
    int rc = cjx_conf_yaml_mapping(y, node, "metrics", keys, 2, eb);
    if (rc != 0)
        return rc;
    if (keys[1].value != NULL) {
        char *v = NULL;
        rc = cjx_conf_yaml_string(y, keys[1].value, "metrics.tls", 0, &v, eb);
        if (rc != 0)
            return rc;
        int yes = strcmp(v, "true") == 0, no = strcmp(v, "false") == 0;
        free(v);
        if (!yes && !no)
            return cjx_conf_yaml_errf(y, keys[1].value, CJX_EPARSE, eb,
                                      "metrics.tls: true or false");
        c->metrics_tls = yes;
    }
    if (keys[0].value == NULL) {
        c->metrics_listen = strdup(METRICS_DEFAULT_LISTEN);
        return c->metrics_listen != NULL
                   ? 0
                   : cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    }
    rc = cjx_conf_yaml_string(y, keys[0].value, "metrics.listen", 0,
                              &c->metrics_listen, eb);
    if (rc != 0)
        return rc;
    if (!cjx_conf_address_valid(c->metrics_listen, 1)) {
        char q[64];
        return cjx_conf_yaml_errf(
            y, keys[0].value, CJX_EPARSE, eb,
            "metrics.listen: '%s' is not host:port (port 0 to 65535)",
            cjx_conf_yaml_quote(keys[0].value, q, sizeof(q)));
    }
    return 0;
}

static int
parse_limits(struct cjx_conf_yaml *y, yaml_node_t *node, struct cjx_limits *l,
             struct cjx_errbuf *eb)
{
    struct cjx_conf_yaml_key keys[N_LIMITS];
    for (size_t i = 0; i < N_LIMITS; i++)
        keys[i] = (struct cjx_conf_yaml_key){limit_specs[i].key, 0, NULL, NULL};
    int rc = cjx_conf_yaml_mapping(y, node, "limits", keys, N_LIMITS, eb);
    for (size_t i = 0; rc == 0 && i < N_LIMITS; i++) {
        if (keys[i].value == NULL)
            continue;
        char what[64];
        snprintf(what, sizeof(what), "limits.%s", limit_specs[i].key);
        rc = cjx_conf_yaml_int(y, keys[i].value, what, limit_specs[i].min,
                               limit_specs[i].max,
                               (int *)((char *)l + limit_specs[i].offset), eb);
    }
    return rc;
}

/* sealing: {visible_to: [doj, court, prosecutor, defender]}. An empty list
 * hides sealed records from every agency, this one's operator included. */
static int
parse_sealing(struct cjx_conf_yaml *y, yaml_node_t *node, unsigned *out,
              struct cjx_errbuf *eb)
{
    static const struct {
        const char *name;
        unsigned bit;
    } readers[] = {
        {"doj", CJX_SEALED_DOJ},
        {"court", CJX_SEALED_COURT},
        {"prosecutor", CJX_SEALED_PROSECUTOR},
        {"defender", CJX_SEALED_DEFENDER},
    };
    struct cjx_conf_yaml_key keys[] = {{"visible_to", 1, NULL, NULL}};
    int rc = cjx_conf_yaml_mapping(y, node, "sealing", keys, 1, eb);
    if (rc == 0)
        rc = cjx_conf_yaml_sequence(y, keys[0].value, "sealing.visible_to", eb);
    if (rc != 0)
        return rc;
    unsigned bits = 0;
    yaml_node_t *list = keys[0].value;
    for (yaml_node_item_t *it = list->data.sequence.items.start;
         it < list->data.sequence.items.top; it++) {
        yaml_node_t *item = cjx_conf_yaml_node(y, *it);
        char *name;
        rc = cjx_conf_yaml_string(y, item, "sealing.visible_to", 0, &name, eb);
        if (rc != 0)
            return rc;
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++)
            if (strcmp(name, readers[i].name) == 0)
                bit = readers[i].bit;
        free(name);
        if (bit == 0)
            return cjx_conf_yaml_errf(y, item, CJX_EPARSE, eb,
                                      "sealing.visible_to: not one of doj, "
                                      "court, prosecutor, defender");
        bits |= bit;
    }
    *out = bits;
    return 0;
}

/* Fills c from the document; c owns whatever was allocated, even on error. */
static int
parse_conf(struct cjx_conf_yaml *y, const char *base_dir, struct cjx_conf *c,
           struct cjx_errbuf *eb)
{
    struct cjx_conf_yaml_key keys[K_N] = {
        [K_AGENCY] = {"agency", 1, NULL, NULL},
        [K_TRUST_DOMAIN] = {"trust_domain", 1, NULL, NULL},
        [K_LISTEN] = {"listen", 1, NULL, NULL},
        [K_LOCAL_SOCKET] = {"local_socket", 0, NULL, NULL},
        [K_STATE_DIR] = {"state_dir", 1, NULL, NULL},
        [K_REGISTRY] = {"registry", 1, NULL, NULL},
        [K_LOG_LEVEL] = {"log_level", 0, NULL, NULL},
        [K_LOG_FORMAT] = {"log_format", 0, NULL, NULL},
        [K_TLS] = {"tls", 1, NULL, NULL},
        [K_LIMITS] = {"limits", 0, NULL, NULL},
        [K_RULES] = {"rules", 0, NULL, NULL},
        [K_EXCHANGE] = {"exchange", 0, NULL, NULL},
        [K_SEALING] = {"sealing", 0, NULL, NULL},
        [K_METRICS] = {"metrics", 0, NULL, NULL},
        [K_STORE] = {"store", 0, NULL, NULL},
    };
    char q[64];
    yaml_node_t *root = cjx_conf_yaml_root(y);
    int rc = cjx_conf_yaml_mapping(y, root, NULL, keys, K_N, eb);
    if (rc != 0)
        return rc;

    rc = cjx_conf_yaml_string(y, keys[K_AGENCY].value, "agency", 0, &c->agency,
                              eb);
    if (rc != 0)
        return rc;
    if (!cjx_conf_ori_valid(c->agency))
        return cjx_conf_yaml_errf(
            y, keys[K_AGENCY].value, CJX_EPARSE, eb,
            "agency: '%s' is not an ORI (exactly 9 "
            "characters A-Z or 0-9)",
            cjx_conf_yaml_quote(keys[K_AGENCY].value, q, sizeof(q)));

    rc = cjx_conf_yaml_string(y, keys[K_TRUST_DOMAIN].value, "trust_domain", 0,
                              &c->trust_domain, eb);
    if (rc != 0)
        return rc;
    if (!trust_domain_valid(c->trust_domain))
        return cjx_conf_yaml_errf(y, keys[K_TRUST_DOMAIN].value, CJX_EPARSE, eb,
                                  "trust_domain: not a SPIFFE trust domain "
                                  "(lower-case letters, digits, '.', '-', "
                                  "'_'; no scheme)");

    rc = cjx_conf_yaml_string(y, keys[K_LISTEN].value, "listen", 0, &c->listen,
                              eb);
    if (rc != 0)
        return rc;
    if (!cjx_conf_address_valid(c->listen, 1))
        return cjx_conf_yaml_errf(
            y, keys[K_LISTEN].value, CJX_EPARSE, eb,
            "listen: '%s' is not host:port (port 0 to "
            "65535)",
            cjx_conf_yaml_quote(keys[K_LISTEN].value, q, sizeof(q)));

    rc = cjx_conf_read_path(y, keys[K_STATE_DIR].value, "state_dir", base_dir,
                            0, &c->state_dir, eb);
    if (rc != 0)
        return rc;

    /* Without a local_socket key the socket sits in the state directory,
     * which the daemon can always write. A default that is too long is
     * reported at state_dir, where it came from. */
    const yaml_node_t *sock_at = keys[K_LOCAL_SOCKET].value;
    if (sock_at != NULL) {
        rc = cjx_conf_read_path(y, sock_at, "local_socket", base_dir, 0,
                                &c->local_socket, eb);
    } else {
        c->local_socket = join_path(c->state_dir, "cjxd.sock");
        if (c->local_socket == NULL)
            rc = cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    }
    if (rc != 0)
        return rc;
    size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    if (strlen(c->local_socket) > sun_max)
        return cjx_conf_yaml_errf(
            y, sock_at != NULL ? sock_at : keys[K_STATE_DIR].value, CJX_EPARSE,
            eb,
            "%s: socket path %s is longer than the %zu bytes a Unix socket "
            "allows%s",
            sock_at != NULL ? "local_socket" : "state_dir", c->local_socket,
            sun_max, sock_at != NULL ? "" : "; set local_socket");

    rc = cjx_conf_read_path(y, keys[K_REGISTRY].value, "registry", base_dir, 0,
                            &c->registry_path, eb);
    if (rc != 0)
        return rc;

    if (keys[K_LOG_LEVEL].value != NULL) {
        enum cjx_log_level level;
        rc = cjx_conf_yaml_string(y, keys[K_LOG_LEVEL].value, "log_level", 0,
                                  &c->log_level, eb);
        if (rc != 0)
            return rc;
        if (cjx_log_level_parse(c->log_level, &level) != 0)
            return cjx_conf_yaml_errf(y, keys[K_LOG_LEVEL].value, CJX_EPARSE,
                                      eb,
                                      "log_level: expected debug, info, warn "
                                      "or error");
    } else {
        c->log_level = strdup("info");
        if (c->log_level == NULL)
            return cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    }

    c->log_format = CJX_LOG_TEXT;
    if (keys[K_LOG_FORMAT].value != NULL) {
        char *name;
        rc = cjx_conf_yaml_string(y, keys[K_LOG_FORMAT].value, "log_format", 0,
                                  &name, eb);
        if (rc != 0)
            return rc;
        int bad = cjx_log_format_parse(name, &c->log_format) != 0;
        free(name);
        if (bad)
            return cjx_conf_yaml_errf(y, keys[K_LOG_FORMAT].value, CJX_EPARSE,
                                      eb, "log_format: expected text or json");
    }

    /* Rule sets are optional: without them only the built-in structural
     * checks apply. */
    if (keys[K_RULES].value != NULL) {
        rc = cjx_conf_read_path(y, keys[K_RULES].value, "rules", base_dir, 1,
                                &c->rules_dir, eb);
    } else {
        c->rules_dir = strdup("");
        if (c->rules_dir == NULL)
            rc = cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    }
    if (rc != 0)
        return rc;

    rc = parse_tls(y, keys[K_TLS].value, base_dir, c, eb);
    if (rc != 0)
        return rc;
    if (c->tls.crl_dir == NULL) {
        c->tls.crl_dir = strdup("");
        if (c->tls.crl_dir == NULL)
            return cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", y->name);
    }

    c->limits = default_limits;
    if (keys[K_LIMITS].value != NULL) {
        rc = parse_limits(y, keys[K_LIMITS].value, &c->limits, eb);
        if (rc != 0)
            return rc;
    }

    cjx_conf_exchange_defaults(&c->exchange);
    if (keys[K_EXCHANGE].value != NULL) {
        rc = cjx_conf_exchange_parse(y, keys[K_EXCHANGE].value, &c->exchange,
                                     eb);
        if (rc != 0)
            return rc;
    }

    if (keys[K_STORE].value != NULL)
        rc = cjx_conf_store_parse(y, keys[K_STORE].value, base_dir, &c->store,
                                  eb);
    else
        rc = cjx_conf_store_defaults(&c->store);
    if (rc != 0)
        return rc;

    c->sealed_readers = CJX_SEALED_DEFAULT;
    if (keys[K_SEALING].value != NULL) {
        rc = parse_sealing(y, keys[K_SEALING].value, &c->sealed_readers, eb);
        if (rc != 0)
            return rc;
    }

    if (keys[K_METRICS].value != NULL) {
        rc = parse_metrics(y, keys[K_METRICS].value, c, eb);
        if (rc != 0)
            return rc;
    }

    /* The registry comes last, so that a config that is wrong in itself
     * says so first. A registry that cannot be read is reported at the key
     * naming it; one that is wrong inside, at its own line. */
    struct cjx_errbuf reb;
    char *text;
    size_t len;
    rc = cjx_conf_yaml_read_file(c->registry_path, &text, &len, &reb);
    if (rc != 0)
        return cjx_conf_yaml_errf(y, keys[K_REGISTRY].value, rc, eb,
                                  "registry: %s", reb.msg);
    rc = cjx_registry_parse(text, len, c->registry_path, &c->registry, eb);
    free(text);
    if (rc != 0)
        return rc;
    if (cjx_registry_find(&c->registry, c->agency) == NULL)
        return cjx_conf_yaml_errf(y, keys[K_AGENCY].value, CJX_EPARSE, eb,
                                  "agency: %s is not in the registry %s",
                                  c->agency, c->registry_path);
    return 0;
}

int
cjx_conf_parse(const char *text, size_t len, const char *path,
               struct cjx_conf **out, struct cjx_errbuf *eb)
{
    struct cjx_conf *c = cjx_conf_new();
    if (c == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", path);

    char *base_dir = NULL;
    int rc = absolute_path(path, &c->path, eb);
    if (rc != 0)
        goto out;
    base_dir = strdup(c->path);
    if (base_dir == NULL) {
        rc = cjx_errf(eb, CJX_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    char *slash = strrchr(base_dir, '/');
    slash[slash == base_dir ? 1 : 0] = '\0';

    struct cjx_conf_yaml y;
    rc = cjx_conf_yaml_parse(&y, path, text, len, eb);
    if (rc != 0)
        goto out;
    rc = parse_conf(&y, base_dir, c, eb);
    cjx_conf_yaml_fini(&y);
out:
    free(base_dir);
    if (rc != 0) {
        cjx_conf_unref(c);
        return rc;
    }
    *out = c;
    return 0;
}

int
cjx_conf_load(const char *path, struct cjx_conf **out, struct cjx_errbuf *eb)
{
    char *text;
    size_t len;
    int rc = cjx_conf_yaml_read_file(path, &text, &len, eb);
    if (rc != 0)
        return rc;
    rc = cjx_conf_parse(text, len, path, out, eb);
    free(text);
    return rc;
}
