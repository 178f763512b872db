/* The PostgreSQL store backend: open, close, the ops table and the hooks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pg_store.h"
#include "store_shared.h"

static int64_t
pg_last_seq(struct cjx_store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    int64_t top = 0;
    /* Another replica's commits count too. */
    if (pg_read_top(s, "changes", &top) == 0 && top > atomic_load(&s->last_seq))
        return top;
    return atomic_load(&s->last_seq);
}

static int64_t
pg_last_audit_seq(struct cjx_store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    int64_t top = 0;
    if (pg_read_top(s, "audit", &top) == 0 &&
        top > atomic_load(&s->last_audit_seq))
        return top;
    return atomic_load(&s->last_audit_seq);
}

static void
pg_set_commit_hook(struct cjx_store *base, cjx_store_commit_fn fn, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    pthread_mutex_lock(&s->hook_mu);
    s->hook = fn;
    s->hook_arg = arg;
    pthread_mutex_unlock(&s->hook_mu);
}

static void
pg_set_audit_hook(struct cjx_store *base, cjx_store_commit_fn fn, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    pthread_mutex_lock(&s->hook_mu);
    s->audit_hook = fn;
    s->audit_hook_arg = arg;
    pthread_mutex_unlock(&s->hook_mu);
}

static void
pg_set_stats_hook(struct cjx_store *base, cjx_store_stats_fn fn, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    pthread_mutex_lock(&s->hook_mu);
    s->stats_hook = fn;
    s->stats_hook_arg = arg;
    pthread_mutex_unlock(&s->hook_mu);
}

static void
pg_set_outcome_hook(struct cjx_store *base, cjx_store_outcome_fn fn, void *arg)
{
    struct pg_store *s = (struct pg_store *)base;
    pthread_mutex_lock(&s->hook_mu);
    s->outcome_hook = fn;
    s->outcome_hook_arg = arg;
    pthread_mutex_unlock(&s->hook_mu);
}

static int
pg_set_audit_signer(struct cjx_store *base, const char *key_pem,
                    const char *cert_pem, struct cjx_errbuf *eb)
{
    struct pg_store *s = (struct pg_store *)base;
    return cjx_store_replace_signer(&s->signer_mu, &s->signer, key_pem,
                                    cert_pem, eb);
}

/* Frees everything open() may have built; the writer is not running. */
static void
store_free(struct pg_store *s)
{
    pg_readers_free(s);
    pg_leader_fini(s);
    PQfinish(s->wconn);
    cjx_audit_signer_free(s->signer);
    if (s->password != NULL) {
        OPENSSL_cleanse(s->password, strlen(s->password));
        free(s->password);
    }
    free(s->dsn);
    pthread_mutex_destroy(&s->readers.mu);
    pthread_mutex_destroy(&s->signer_mu);
    pthread_mutex_destroy(&s->hook_mu);
    cjx_store_case_hooks_fini(&s->case_hooks);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void
pg_close(struct cjx_store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    pg_listener_stop(s);
    pg_writer_stop(s);
    store_free(s);
}

static const struct cjx_store_ops pg_ops = {
    .submit_record = pg_submit_record,
    .get_record = pg_get_record,
    .list_records = pg_list_records,
    .read_changes = pg_read_changes,
    .last_seq = pg_last_seq,
    .set_commit_hook = pg_set_commit_hook,
    .stored_record_fini = cjx_store_reader_fini_record,
    .append_audit = pg_append_audit,
    .read_audit = pg_read_audit,
    .read_audit_checkpoints = pg_read_audit_checkpoints,
    .last_audit_seq = pg_last_audit_seq,
    .set_audit_hook = pg_set_audit_hook,
    .read_last_audit_checkpoint = pg_read_last_audit_checkpoint,
    .set_stats_hook = pg_set_stats_hook,
    .set_outcome_hook = pg_set_outcome_hook,
    .set_audit_signer = pg_set_audit_signer,
    .lead = pg_lead,
    .close = pg_close,
    .cases = &cjx_store_pg_case_ops,
};

static void
init_locks(struct pg_store *s)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->hook_mu, &attr);
    pthread_mutexattr_destroy(&attr);
    /* The writer waits with a deadline for a checkpoint: on the monotonic
     * clock, which no clock change moves. */
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &cattr);
    pthread_condattr_destroy(&cattr);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->signer_mu, NULL);
    pthread_mutex_init(&s->readers.mu, NULL);
    pthread_mutex_init(&s->leader.mu, NULL);
    cjx_store_case_hooks_init(&s->case_hooks);
}

static int
or_default(int v, int fallback)
{
    return v > 0 ? v : fallback;
}

/* Reads the feeds' heads once, so that last_seq is right before any
 * write of this replica. */
static int
read_heads(struct pg_store *s, struct cjx_errbuf *eb)
{
    int64_t top = 0;
    int err = pg_read_top(s, "changes", &top);
    atomic_store(&s->last_seq, top);
    if (err == 0)
        err = pg_read_top(s, "case_changes", &top);
    atomic_store(&s->last_case_seq, top);
    if (err != 0)
        return cjx_errf(eb, CJX_ESTORE, "reading the feeds' heads failed");
    return 0;
}

/* The name of this replica in its audit entries: the configured one, or
 * the host's name and the process id, which tell the replicas of one
 * agency apart and lead to the journal of the process that wrote. */
static void
name_replica(char *out, size_t len, const char *configured)
{
    if (configured != NULL && configured[0] != '\0') {
        snprintf(out, len, "%s", configured);
        return;
    }
    char host[256];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    snprintf(out, len, "%.40s:%ld", host, (long)getpid());
}

int
cjx_store_pg_open(const struct cjx_store_pg_options *o, struct cjx_store **out,
                  struct cjx_errbuf *eb)
{
    if (o == NULL || o->dsn == NULL || o->dsn[0] == '\0' || out == NULL)
        return cjx_errf(eb, CJX_EINVAL, "store: a PostgreSQL dsn is required");
    if (o->max_batch < 0 || o->audit_checkpoint_entries < 0 ||
        o->audit_checkpoint_seconds < 0 || o->outbox_lease_seconds < 0)
        return cjx_errf(eb, CJX_EINVAL,
                        "store: max_batch, the audit checkpoint intervals "
                        "and outbox_lease_seconds must be >= 0");
    if ((o->audit_key_pem == NULL) != (o->audit_cert_pem == NULL))
        return cjx_errf(eb, CJX_EINVAL,
                        "store: an audit key needs its certificate");
    struct pg_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return CJX_ENOMEM;
    init_locks(s);
    s->base.ops = &pg_ops;
    s->dsn = strdup(o->dsn);
    s->password = o->password != NULL ? strdup(o->password) : NULL;
    s->max_batch = or_default(o->max_batch, 1024);
    s->checkpoint_entries = or_default(o->audit_checkpoint_entries, 1000);
    s->checkpoint_seconds = or_default(o->audit_checkpoint_seconds, 60);
    s->lease_us = (int64_t)or_default(o->outbox_lease_seconds, 60) * 1000000;
    name_replica(s->replica, sizeof(s->replica), o->replica);
    int err = 0;
    if (s->dsn == NULL || (o->password != NULL && s->password == NULL))
        err = cjx_errf(eb, CJX_ENOMEM, "out of memory");
    if (err == 0 && o->audit_key_pem != NULL)
        err = cjx_audit_signer_new(o->audit_key_pem, o->audit_cert_pem,
                                   &s->signer, eb);
    char msg[256];
    if (err == 0 &&
        (s->wconn = pg_connect(s->dsn, s->password, msg, sizeof(msg))) == NULL)
        err = cjx_errf(eb, CJX_ESTORE, "%s", msg);
    if (err == 0)
        err = cjx_store_pg_migrate(s->wconn, eb);
    if (err == 0)
        err = read_heads(s, eb);
    if (err == 0)
        err = pg_writer_start(s, eb);
    if (err == 0 && (err = pg_listener_start(s, eb)) != 0)
        pg_writer_stop(s);
    if (err != 0) {
        store_free(s);
        return err;
    }
    *out = &s->base;
    return 0;
}
