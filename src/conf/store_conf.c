/* The `store` section of the configuration: which backend keeps the
 * daemon's state. SQLite needs nothing more; PostgreSQL a connection
 * string and, apart from it, the password's file. */
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "conf_internal.h"
#include "yaml_walk.h"

enum {
    S_BACKEND,
    S_DSN,
    S_PASSWORD_FILE,
    S_OUTBOX_LEASE,
    S_REPLICA,
    S_N,
};

int
cjx_conf_store_defaults(struct cjx_store_conf *s)
{
    s->backend = CJX_STORE_SQLITE;
    s->outbox_lease_seconds = 60;
    s->dsn = strdup("");
    s->password_file = strdup("");
    s->replica = strdup("");
    return s->dsn == NULL || s->password_file == NULL || s->replica == NULL
               ? CJX_ENOMEM
               : 0;
}

void
cjx_conf_store_fini(struct cjx_store_conf *s)
{
    free(s->dsn);
    free(s->password_file);
    free(s->replica);
    s->dsn = s->password_file = s->replica = NULL;
}

/* Whether a libpq connection string carries a password: a password
 * keyword (password=, or ?password= in a URI), or user:password@ in a
 * URI's authority. A configuration file is read by more people than the
 * secret should be, so the password lives in a file of its own. */
static int
dsn_has_password(const char *dsn)
{
    for (const char *p = dsn; *p != '\0'; p++) {
        if (strncasecmp(p, "password", 8) != 0)
            continue;
        const char *q = p + 8;
        while (*q == ' ')
            q++;
        if (*q == '=')
            return 1;
    }
    const char *scheme = strstr(dsn, "://");
    if (scheme == NULL)
        return 0;
    const char *auth = scheme + 3;
    size_t end = strcspn(auth, "/?");
    const char *at = memchr(auth, '@', end);
    return at != NULL && memchr(auth, ':', (size_t)(at - auth)) != NULL;
}

/* store.replica: a name for the audit log, 1 to 63 letters, digits, '.',
 * '-', '_' or ':', so that it prints as it is and fits the report. */
static int
parse_replica(struct cjx_conf_yaml *y, yaml_node_t *value,
              struct cjx_store_conf *s, struct cjx_errbuf *eb)
{
    char *name = NULL;
    int rc = cjx_conf_yaml_string(y, value, "store.replica", 0, &name, eb);
    if (rc != 0)
        return rc;
    size_t n = strlen(name);
    int ok = n >= 1 && n <= 63 &&
             strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789.-_:") == n;
    if (!ok) {
        free(name);
        return cjx_conf_yaml_errf(y, value, CJX_EPARSE, eb,
                                  "store.replica: 1 to 63 letters, digits, "
                                  "'.', '-', '_' or ':'");
    }
    free(s->replica);
    s->replica = name;
    return 0;
}

int
cjx_conf_store_parse(struct cjx_conf_yaml *y, yaml_node_t *node,
                     const char *base_dir, struct cjx_store_conf *s,
                     struct cjx_errbuf *eb)
{
    struct cjx_conf_yaml_key keys[S_N] = {
        [S_BACKEND] = {"backend", 1, NULL, NULL},
        [S_DSN] = {"dsn", 0, NULL, NULL},
        [S_PASSWORD_FILE] = {"password_file", 0, NULL, NULL},
        [S_OUTBOX_LEASE] = {"outbox_lease_seconds", 0, NULL, NULL},
        [S_REPLICA] = {"replica", 0, NULL, NULL},
    };
    int rc = cjx_conf_store_defaults(s);
    if (rc != 0)
        return cjx_errf(eb, rc, "%s: out of memory", y->name);
    rc = cjx_conf_yaml_mapping(y, node, "store", keys, S_N, eb);
    char *backend = NULL;
    if (rc == 0)
        rc = cjx_conf_yaml_string(y, keys[S_BACKEND].value, "store.backend", 0,
                                  &backend, eb);
    if (rc != 0)
        return rc;
    int pg = strcmp(backend, "postgresql") == 0;
    int known = pg || strcmp(backend, "sqlite") == 0;
    free(backend);
    if (!known)
        return cjx_conf_yaml_errf(y, keys[S_BACKEND].value, CJX_EPARSE, eb,
                                  "store.backend: expected sqlite or "
                                  "postgresql");
    s->backend = pg ? CJX_STORE_POSTGRESQL : CJX_STORE_SQLITE;
    if (!pg) {
        /* SQLite keeps its file in state_dir: nothing else applies. */
        for (int k = S_DSN; k < S_N; k++)
            if (keys[k].value != NULL)
                return cjx_conf_yaml_errf(
                    y, keys[k].key, CJX_EPARSE, eb,
                    "store.%s: only for backend postgresql", keys[k].name);
        return 0;
    }
    if (keys[S_DSN].value == NULL)
        return cjx_conf_yaml_errf(y, node, CJX_EPARSE, eb,
                                  "store.dsn: required with backend "
                                  "postgresql");
    free(s->dsn);
    s->dsn = NULL;
    rc =
        cjx_conf_yaml_string(y, keys[S_DSN].value, "store.dsn", 0, &s->dsn, eb);
    if (rc != 0)
        return rc;
    if (dsn_has_password(s->dsn))
        return cjx_conf_yaml_errf(y, keys[S_DSN].value, CJX_EPARSE, eb,
                                  "store.dsn: holds a password; put it in "
                                  "the file store.password_file names");
    if (keys[S_PASSWORD_FILE].value != NULL) {
        free(s->password_file);
        s->password_file = NULL;
        rc = cjx_conf_read_path(y, keys[S_PASSWORD_FILE].value,
                                "store.password_file", base_dir, 0,
                                &s->password_file, eb);
        if (rc != 0)
            return rc;
    }
    if (keys[S_OUTBOX_LEASE].value != NULL)
        rc = cjx_conf_yaml_int(y, keys[S_OUTBOX_LEASE].value,
                               "store.outbox_lease_seconds", 5, 3600,
                               &s->outbox_lease_seconds, eb);
    if (rc == 0 && keys[S_REPLICA].value != NULL)
        rc = parse_replica(y, keys[S_REPLICA].value, s, eb);
    return rc;
}
