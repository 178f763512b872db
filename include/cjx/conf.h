/* Daemon configuration and the agency registry, loaded from YAML files.
 *
 * A configuration is validated completely before anything uses it, and is
 * immutable once shared: every module that runs on it holds a reference
 * (cjx_conf_ref) for as long as it uses it, and the last cjx_conf_unref
 * frees it. A reload loads a new one and hands that one object to every
 * module, or to none (cjxd's daemon_reload). */
#ifndef CJX_CONF_H
#define CJX_CONF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cjx/error.h"
#include "cjx/log.h"

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

/* Offense levels a prosecuting agency prosecutes (registry key
 * `prosecutes`), as bits of cjx.v1.OffenseLevel values. */
#define CJX_PROSECUTES_FELONY      (1u << 1)
#define CJX_PROSECUTES_MISDEMEANOR (1u << 2)
#define CJX_PROSECUTES_INFRACTION  (1u << 3)
#define CJX_PROSECUTES_ALL                                \
    (CJX_PROSECUTES_FELONY | CJX_PROSECUTES_MISDEMEANOR | \
     CJX_PROSECUTES_INFRACTION)

struct cjx_agency {
    char ori[CJX_ORI_LEN + 1];
    enum cjx_role role;
    char *county; /* "" for statewide (DOJ) */
    /* host:port of its cjxd, or the IP address:port of each of its
     * replicas joined with commas; "" if it runs none */
    char *endpoint;
    /* The DNS name its certificates carry for peers to check, "" for the
     * endpoint's host (required with several addresses). */
    char *tls_name;
    char *name; /* display name */
    /* PROSECUTOR only: CJX_PROSECUTES_* bits (default all levels); a city
     * attorney prosecutes MISDEMEANOR (and INFRACTION) only. 0 otherwise. */
    unsigned prosecutes;
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
    int max_message_bytes;      /* default 4 MiB */
    int max_concurrent_streams; /* per connection, default 100 */
    int handshake_timeout_ms;   /* default 10000 */
    int idle_timeout_ms;        /* default 600000, at most 3600000 */
    int keepalive_time_ms;      /* default 60000 */
    int keepalive_timeout_ms;   /* default 20000 */
    int rate_limit_per_agency;  /* requests/s per agency, 0 = off */
    /* Streams (calls with a client or server stream) hold resources for
     * long: each follow stream reads at most stream_buffer_bytes ahead of
     * its reader (default 1 MiB); a connection may hold
     * max_streams_per_connection of them (default 32) and an agency
     * max_streams_per_agency (default 64); a stream waiting that many
     * seconds for its client to send or to read is ended (default 300). */
    int stream_buffer_bytes;
    int max_streams_per_connection;
    int max_streams_per_agency;
    int stream_idle_timeout_s;
    /* A batch stream (SubmitRecords, NotifyCandidates, OrderBulk) answers
     * every message in one response, so it holds at most this many
     * (default 10000; src/service/bulk.h). */
    int bulk_max_messages;
};

struct cjx_tls_files {
    char *ca;      /* CA bundle trusted for peers (PEM) */
    char *cert;    /* this daemon's certificate chain (PEM) */
    char *key;     /* its private key (PEM) */
    char *crl_dir; /* hashed CRL directory, "" if none */
};

/* A deadline of the case workflow: a window after the step that starts it,
 * an absolute last instant, or both (the earlier wins); 0 = not set. */
struct cjx_conf_deadline {
    int64_t window_us;
    int64_t not_after_us;
};

/* What the prosecutor's stand-in does with a case DOJ sent. */
enum cjx_standin_review {
    CJX_STANDIN_PENDING = 0,      /* leave it for a person (no decision) */
    CJX_STANDIN_NO_CHALLENGE = 1, /* accept DOJ's relief (or its floor) */
};

/* What the court's stand-in orders. */
enum cjx_standin_order {
    CJX_STANDIN_ORDER_NONE = 0,     /* leave it for a judge */
    CJX_STANDIN_ORDER_ACCEPTED = 1, /* the relief the prosecutor accepted */
    CJX_STANDIN_ORDER_DENY = 2,     /* deny relief */
    CJX_STANDIN_ORDER_FLOOR = 3,  /* DOJ's floor if it is a grant, else deny */
    CJX_STANDIN_ORDER_RELIEF = 4, /* DOJ's relief (its ceiling under review) */
};

#define CJX_STANDIN_MAX_FLAGS 16

/* The relief exchange: the workflow's deadlines and checks, peer delivery,
 * and the automated policies that stand in for the agencies' own case
 * systems (docs/config.md, `exchange`). */
struct cjx_exchange_conf {
    int statutory; /* no `deadlines` given: the Prop 64 statutory dates */
    struct cjx_conf_deadline notice, review, order_unchallenged,
        order_challenged, history_update;
    int above_ceiling_flag; /* 0: refuse an order above DOJ's ceiling */
    int review_lapse_wait;  /* 0: a silent case lapses to not challenged */
    int64_t decision_grace_us;
    int64_t max_clock_skew_us;

    int delivery_batch;   /* hand-offs per Deliver call */
    int delivery_streams; /* Deliver calls in flight per peer */
    int delivery_timeout_ms;
    int retry_initial_ms;
    int retry_max_ms;

    /* Stand-ins; each acts only in a daemon of its role. */
    int standin_prosecutor;                       /* configured */
    enum cjx_standin_review standin_eligible;     /* definite relief */
    enum cjx_standin_review standin_human_review; /* HUMAN_REVIEW */
    /* Determination flags that make the prosecutor challenge
     * (CRITERIA_NOT_MET, the flag upper-cased as reason code). */
    char *standin_challenge_flags[CJX_STANDIN_MAX_FLAGS];
    size_t standin_n_challenge_flags;
    int standin_court; /* configured */
    enum cjx_standin_order standin_unchallenged;
    enum cjx_standin_order standin_challenged;
    int standin_doj_acknowledge; /* DOJ acknowledges each order it applies */
};

/* Who may read a dismissed-and-sealed record (HS 11361.8(f)); everyone
 * else is answered as if it did not exist (docs/config.md, `sealing`). */
enum cjx_sealed_reader {
    CJX_SEALED_DOJ = 1u << 0,        /* the state's criminal history */
    CJX_SEALED_COURT = 1u << 1,      /* the court of conviction */
    CJX_SEALED_PROSECUTOR = 1u << 2, /* the case's prosecutor */
    CJX_SEALED_DEFENDER = 1u << 3,   /* the county's public defenders */
};
#define CJX_SEALED_DEFAULT \
    (CJX_SEALED_DOJ | CJX_SEALED_COURT | CJX_SEALED_PROSECUTOR)

/* Where the daemon keeps its state (docs/config.md, `store`). */
enum cjx_store_backend {
    CJX_STORE_SQLITE = 0,     /* state_dir/cjxd.db: one daemon, embedded */
    CJX_STORE_POSTGRESQL = 1, /* a database several replicas share */
};

struct cjx_store_conf {
    enum cjx_store_backend backend;
    /* PostgreSQL: the libpq connection string, which may not hold a
     * password; "" for SQLite. */
    char *dsn;
    /* PostgreSQL: the file whose first line is the password (a path
     * starting with %d/ is a systemd credential), "" for none. */
    char *password_file;
    int outbox_lease_seconds; /* PostgreSQL; default 60 */
    /* PostgreSQL: this replica's name in the audit log, "" for
     * "hostname:pid". */
    char *replica;
};

struct cjx_conf {
    char *path;         /* the file it was loaded from, made absolute */
    char *agency;       /* this daemon's own ORI; must be registered */
    char *trust_domain; /* SPIFFE trust domain, e.g. "cjx.example" */
    char *listen;       /* mTLS address, e.g. "127.0.0.1:7443" */
    char *local_socket; /* Unix socket path for cjxctl */
    char *state_dir;    /* holds the SQLite database */
    struct cjx_store_conf store;
    char *registry_path; /* agencies.yaml, resolved against path's dir */
    char *log_level;     /* "debug", "info", "warn", "error" */
    enum cjx_log_format log_format; /* text (the default) or JSON lines */
    char *rules_dir;                /* directory of rule files, "" for none */
    struct cjx_tls_files tls;
    struct cjx_limits limits;
    struct cjx_registry registry; /* loaded from registry_path */
    struct cjx_exchange_conf exchange;
    unsigned sealed_readers; /* enum cjx_sealed_reader bits */
    /* The OpenMetrics listener's host:port; NULL without a metrics key
     * (no listener). */
    char *metrics_listen;
    /* metrics.tls: the listener is HTTPS with the daemon's certificate and
     * asks every scraper for a client certificate from the exchange's CA. */
    int metrics_tls;

    /* What the file names, loaded by the daemon (daemon_load) into the
     * configuration before it is shared, so that a call, a stand-in step or
     * a scrape sees the rule sets and revocation lists of the same load as
     * the rest. NULL: none configured (or not loaded, as by cjxctl and
     * tests). cjx_conf_unref releases them with the configuration. */
    struct cjx_rules_registry *rules; /* rule sets of rules_dir */
    struct cjx_tls_crl_set *crls;     /* CRLs of tls.crl_dir */

    /* Which load this is: distinct for every configuration loaded in the
     * process, increasing. Logged with a reload, and how tests see that
     * every module runs on the same one. */
    uint64_t generation;
    atomic_int refs; /* cjx_conf_ref / cjx_conf_unref only */
};

/* Loads and validates the configuration at path and the registry it names.
 * Relative paths inside are resolved against the file's directory. On error
 * returns CJX_EPARSE (or CJX_EIO) with "file:line:col: message" in eb and
 * leaves *out untouched. On success *out is new, with one reference (the
 * caller's), and a new generation; until the caller shares it, it may still
 * fill in rules and crls. Release with cjx_conf_unref(). */
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

/* An empty configuration with one reference and a new generation, for
 * tests that build one by hand; NULL when out of memory. */
struct cjx_conf *cjx_conf_new(void);

/* Takes one more reference to conf, for a holder that keeps it beyond
 * the call it was given in; returns conf. Safe from any thread, as is
 * cjx_conf_unref: the count is atomic, and nothing else in a shared
 * configuration changes. Accepts NULL (returns NULL). */
const struct cjx_conf *cjx_conf_ref(const struct cjx_conf *conf);

/* Gives a reference back; the last one frees the configuration, its
 * registry, rule sets and CRLs. conf must not be used by this holder
 * afterwards. Accepts NULL. */
void cjx_conf_unref(const struct cjx_conf *conf);

/* Where a module keeps the configuration it runs on: one reference, which
 * a reload replaces while other threads take references of their own from
 * it. Every holder of a configuration that changes at run time keeps it in
 * one of these. */
struct cjx_conf_slot {
    pthread_mutex_t mu;
    const struct cjx_conf *conf; /* read through cjx_conf_slot_get */
};

/* Puts a reference to conf (NULL ok) in the slot. */
void cjx_conf_slot_init(struct cjx_conf_slot *slot,
                        const struct cjx_conf *conf);
/* The configuration in the slot, with a reference for the caller
 * (cjx_conf_unref; NULL if the slot holds none). */
const struct cjx_conf *cjx_conf_slot_get(struct cjx_conf_slot *slot);
/* Replaces the slot's configuration with a reference to conf and gives the
 * old one back; holders of references to the old one keep it. */
void cjx_conf_slot_set(struct cjx_conf_slot *slot, const struct cjx_conf *conf);
/* Gives the slot's reference back. */
void cjx_conf_slot_fini(struct cjx_conf_slot *slot);

#endif
