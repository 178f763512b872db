/* cjx.v1.StatusService/GetStatus: the daemon's own state for its operator
 * (`cjxctl status`), gathered from the configuration, the rule sets, the
 * store, the TLS files and, through the daemon's peer source, the delivery
 * worker. */
#include "service_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cjx/arena.h"
#include "cjx/clock.h"
#include "cjx/rules.h"
#include "cjx/store_cases.h"
#include "cjx/tls.h"
#include "cjx/v1/audit.pb-c.h"
#include "cjx/v1/status.methods.h"

/* The most peers and expiries one answer lists. */
#define MAX_PEERS    256
#define MAX_EXPIRIES 64

struct status_build {
    struct cjx_call *c;
    Cjx__V1__DaemonStatus *st;
    Cjx__V1__PeerStatus **peers;
    Cjx__V1__ExpiryStatus **expiries;
    const char *kind;
    int failed; /* memory ran out */
};

static char *
copy(struct status_build *b, const char *s)
{
    char *p = cjx_arena_strndup(b->c->arena, s, strlen(s));
    if (p == NULL)
        b->failed = 1;
    return p != NULL ? p : (char *)"";
}

static int
add_peer(void *arg, const char *ori, const char *endpoint, int failed_calls)
{
    struct status_build *b = arg;
    if (b->st->n_peers == MAX_PEERS)
        return 1;
    Cjx__V1__PeerStatus *p = cjx_arena_alloc(b->c->arena, sizeof(*p));
    if (p == NULL) {
        b->failed = 1;
        return 1;
    }
    cjx__v1__peer_status__init(p);
    p->ori = copy(b, ori);
    p->endpoint = copy(b, endpoint);
    const struct cjx_agency *a = cjx_registry_find(&b->c->conf->registry, ori);
    p->name = copy(b, a != NULL ? a->name : "");
    p->reachable = failed_calls == 0;
    p->failed_calls = failed_calls;
    b->peers[b->st->n_peers++] = p;
    return 0;
}

static int
add_outbox(void *arg, const struct cjx_outbox_count *c)
{
    struct status_build *b = arg;
    for (size_t i = 0; i < b->st->n_peers; i++) {
        Cjx__V1__PeerStatus *p = b->peers[i];
        if (strcmp(p->ori, c->destination_ori) != 0)
            continue;
        p->outbox_pending = c->pending;
        p->outbox_parked = c->parked;
        p->oldest_pending_unix_us = c->pending > 0 ? c->oldest_pending_us : 0;
    }
    return 0;
}

static int
add_expiry(void *arg, const char *subject, int64_t unix_s)
{
    struct status_build *b = arg;
    if (b->st->n_expiries == MAX_EXPIRIES)
        return 1;
    Cjx__V1__ExpiryStatus *e = cjx_arena_alloc(b->c->arena, sizeof(*e));
    if (e == NULL) {
        b->failed = 1;
        return 1;
    }
    cjx__v1__expiry_status__init(e);
    e->kind = (char *)b->kind;
    e->subject = copy(b, subject);
    e->not_after_unix_s = unix_s;
    b->expiries[b->st->n_expiries++] = e;
    /* The daemon's own certificate is the leaf of its chain. */
    return strcmp(b->kind, "cert") == 0;
}

/* The certificates of a PEM file, read now: a renewed file shows at once. */
static void
add_file_expiries(struct status_build *b, const char *kind, const char *path)
{
    char *pem = NULL;
    size_t len = 0;
    if (cjx_tls_read_pem(path, 0, &pem, &len, NULL) != 0)
        return;
    b->kind = kind;
    cjx_tls_cert_expiries(pem, len, add_expiry, b);
    cjx_tls_free_pem(pem, len);
}

static void
add_rule_sets(struct status_build *b)
{
    const struct cjx_conf *ref = cjx_service_conf(b->c->service);
    size_t n = service_conf_rules(ref) != NULL
                   ? cjx_rules_registry_count(service_conf_rules(ref))
                   : 0;
    Cjx__V1__RuleSetStatus **sets =
        cjx_arena_alloc(b->c->arena, (n ? n : 1) * sizeof(*sets));
    for (size_t i = 0; sets != NULL && i < n; i++) {
        const struct cjx_rules_set *set =
            cjx_rules_registry_at(service_conf_rules(ref), i);
        Cjx__V1__RuleSetStatus *r = cjx_arena_alloc(b->c->arena, sizeof(*r));
        if (r == NULL)
            break;
        cjx__v1__rule_set_status__init(r);
        r->name = copy(b, cjx_rules_set_name(set));
        r->version = copy(b, cjx_rules_set_version(set));
        r->message_type = copy(b, cjx_rules_set_message(set)->name);
        sets[b->st->n_rule_sets++] = r;
    }
    if (sets == NULL || b->st->n_rule_sets != n)
        b->failed = 1;
    b->st->rule_sets = sets;
    cjx_conf_unref(ref);
}

/* The database and its write-ahead log, as they stand on disk. */
static int64_t
store_bytes(const struct cjx_conf *conf)
{
    static const char *const files[] = {"cjxd.db", "cjxd.db-wal"};
    int64_t total = 0;
    char path[4096];
    struct stat sb;
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", conf->state_dir, files[i]);
        if (stat(path, &sb) == 0)
            total += (int64_t)sb.st_size;
    }
    return total;
}

static int
newest_checkpoint(void *arg, const struct cjx_stored_audit *a)
{
    Cjx__V1__DaemonStatus *st = arg;
    Cjx__V1__AuditCheckpoint *cp =
        cjx__v1__audit_checkpoint__unpack(NULL, a->body_len, a->body);
    st->audit_checkpoint_seq = a->seq;
    if (cp != NULL) {
        st->audit_checkpoint_unix_us = cp->time_unix_us;
        cjx__v1__audit_checkpoint__free_unpacked(cp, NULL);
    }
    return 1;
}

static void
get_status(struct cjx_call *c, const ProtobufCMessage *msg)
{
    (void)msg;
    struct cjx_service *svc = c->service;
    const struct cjx_conf *conf = c->conf;
    Cjx__V1__DaemonStatus st = CJX__V1__DAEMON_STATUS__INIT;
    Cjx__V1__Agency agency = CJX__V1__AGENCY__INIT;
    struct status_build b = {.c = c, .st = &st};
    b.peers = cjx_arena_alloc(c->arena, MAX_PEERS * sizeof(*b.peers));
    b.expiries = cjx_arena_alloc(c->arena, MAX_EXPIRIES * sizeof(*b.expiries));
    if (b.peers == NULL || b.expiries == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    const struct cjx_agency *own =
        cjx_registry_find(&conf->registry, conf->agency);
    agency.ori = copy(&b, conf->agency);
    if (own != NULL) {
        agency.role = (Cjx__V1__AgencyRole)own->role;
        agency.county = copy(&b, own->county);
        agency.display_name = copy(&b, own->name);
    }
    st.agency = &agency;
    st.version = (char *)svc->version;
    st.started_unix_us = svc->started_us;
    st.now_unix_us = cjx_clock_now_us();
    add_rule_sets(&b);

    pthread_mutex_lock(&svc->peers_mu);
    if (svc->peers != NULL)
        svc->peers(svc->peers_arg, add_peer, &b);
    pthread_mutex_unlock(&svc->peers_mu);
    st.peers = b.peers;
    struct cjx_errbuf eb;
    int err = cjx_store_outbox_counts(svc->store, 0, add_outbox, &b, &eb);

    add_file_expiries(&b, "cert", conf->tls.cert);
    add_file_expiries(&b, "ca", conf->tls.ca);
    b.kind = "crl";
    cjx_tls_crl_dir_expiries(conf->tls.crl_dir, add_expiry, &b);
    st.expiries = b.expiries;

    st.store_bytes = store_bytes(conf);
    st.audit_last_seq = cjx_store_last_audit_seq(svc->store);
    if (err == 0)
        err = cjx_store_read_last_audit_checkpoint(svc->store,
                                                   newest_checkpoint, &st, &eb);
    if (err != 0) {
        c->ops->fail(c, err, eb.msg);
        return;
    }
    if (b.failed) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    c->ops->reply(c, &st.base);
}

void
cjx_service_set_peer_source(struct cjx_service *svc, cjx_service_peers_fn fn,
                            void *arg)
{
    pthread_mutex_lock(&svc->peers_mu);
    svc->peers = fn;
    svc->peers_arg = arg;
    pthread_mutex_unlock(&svc->peers_mu);
}

const struct cjx_handler cjx_status_handlers[] = {
    {.method = &cjx__v1__status_service__methods[STATUS_SERVICE_GET_STATUS],
     .unary = get_status},
};
const size_t cjx_status_handler_count =
    sizeof(cjx_status_handlers) / sizeof(cjx_status_handlers[0]);
