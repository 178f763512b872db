/* Daemon configuration and the agency registry, loaded from YAML files.
 *
 * A configuration is validated completely before anything uses it; a reload
 * builds a new struct cjx_conf and swaps it in only if it loaded cleanly. */
#ifndef CJX_CONF_H
#define CJX_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "cjx/error.h"

/* Numeric values equal cjx.v1.AgencyRole. */
enum cjx_role {
    CJX_ROLE_UNSPECIFIED = 0,
    CJX_ROLE_DOJ = 1,
    CJX_ROLE_PROSECUTOR = 2,
    CJX_ROLE_DEFENDER = 3,
    CJX_ROLE_COURT = 4,
};

/* "DOJ", "PROSECUTOR", ... ; "UNSPECIFIED" for others. */
const char *cjx_role_name(enum cjx_role role);
/* Parses a role name (case-sensitive, as above). 0 or CJX_EINVAL. */
int cjx_role_parse(const char *name, enum cjx_role *out);

#define CJX_ORI_LEN 9

struct cjx_agency {
    char ori[CJX_ORI_LEN + 1];
    enum cjx_role role;
    char *county;   /* "" for statewide (DOJ) */
    char *endpoint; /* host:port of its cjxd, "" if it runs none */
    char *name;     /* display name */
};

struct cjx_registry {
    struct cjx_agency *agencies; /* sorted by ori */
    size_t n;
};

/* Borrowed pointer into the registry, or NULL if the ORI is not registered. */
const struct cjx_agency *cjx_registry_find(const struct cjx_registry *reg,
                                           const char *ori);

/* Limits on what peers may send and how long they may hold resources. */
struct cjx_limits {
    int max_message_bytes;        /* default 4 MiB */
    int max_concurrent_streams;   /* per connection, default 100 */
    int handshake_timeout_ms;     /* default 10000 */
    int idle_timeout_ms;          /* default 600000, at most 3600000 */
    int keepalive_time_ms;        /* default 60000 */
    int keepalive_timeout_ms;     /* default 20000 */
    int rate_limit_per_agency;    /* requests/s per agency, 0 = off */
};

struct cjx_tls_files {
    char *ca;      /* CA bundle trusted for peers (PEM) */
    char *cert;    /* this daemon's certificate chain (PEM) */
    char *key;     /* its private key (PEM) */
    char *crl_dir; /* hashed CRL directory, "" if none */
};

struct cjx_conf {
    char *path;          /* the file it was loaded from, made absolute */
    char *agency;        /* this daemon's own ORI; must be registered */
    char *trust_domain;  /* SPIFFE trust domain, e.g. "cjx.example" */
    char *listen;        /* mTLS address, e.g. "127.0.0.1:7443" */
    char *local_socket;  /* Unix socket path for cjxctl */
    char *state_dir;     /* holds the SQLite database */
    char *registry_path; /* agencies.yaml, resolved against path's dir */
    char *log_level;     /* "debug", "info", "warn", "error" */
    char *rules_dir;     /* directory of rule files, "" for none */
    struct cjx_tls_files tls;
    struct cjx_limits limits;
    struct cjx_registry registry; /* loaded from registry_path */
};

/* Loads and validates the configuration at path and the registry it names.
 * Relative paths inside are resolved against the file's directory. On error
 * returns CJX_EPARSE (or CJX_EIO) with "file:line:col: message" in eb and
 * leaves *out untouched. On success *out is new; free with cjx_conf_free(). */
int cjx_conf_load(const char *path, struct cjx_conf **out,
                  struct cjx_errbuf *eb);

/* As cjx_conf_load, but the file's text is given (text[len] need not be
 * NUL). path is used in messages and to resolve relative paths; it need not
 * exist. The registry it names is still read from disk. For tests and fuzzing. */
int cjx_conf_parse(const char *text, size_t len, const char *path,
                   struct cjx_conf **out, struct cjx_errbuf *eb);

/* Loads a registry file on its own (same rules as inside cjx_conf_load). */
int cjx_registry_load(const char *path, struct cjx_registry *out,
                      struct cjx_errbuf *eb);
/* As cjx_registry_load, from text; name is used in messages. On error *out is
 * untouched; on success release it with cjx_registry_fini(). */
int cjx_registry_parse(const char *text, size_t len, const char *name,
                       struct cjx_registry *out, struct cjx_errbuf *eb);
void cjx_registry_fini(struct cjx_registry *reg);

/* Accepts NULL. */
void cjx_conf_free(struct cjx_conf *conf);

#endif
