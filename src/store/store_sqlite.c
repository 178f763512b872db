/* The SQLite store backend: open, close, the ops table and the hooks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlite_cases.h"
#include "sqlite_store.h"

static int64_t
sqlite_last_seq(struct cjx_store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    return atomic_load(&s->last_seq);
}

static void
sqlite_set_commit_hook(struct cjx_store *base, cjx_store_commit_fn fn,
                       void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    pthread_mutex_lock(&s->hook_mu);
    s->hook = fn;
    s->hook_arg = arg;
    pthread_mutex_unlock(&s->hook_mu);
}

static int64_t
sqlite_last_audit_seq(struct cjx_store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    return atomic_load(&s->last_audit_seq);
}

static void
sqlite_set_stats_hook(struct cjx_store *base, cjx_store_stats_fn fn, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    pthread_mutex_lock(&s->hook_mu);
    s->stats_hook = fn;
    s->stats_hook_arg = arg;
    pthread_mutex_unlock(&s->hook_mu);
}

static void
sqlite_set_audit_hook(struct cjx_store *base, cjx_store_commit_fn fn, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    pthread_mutex_lock(&s->hook_mu);
    s->audit_hook = fn;
    s->audit_hook_arg = arg;
    pthread_mutex_unlock(&s->hook_mu);
}

static void
sqlite_set_outcome_hook(struct cjx_store *base, cjx_store_outcome_fn fn,
                        void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    pthread_mutex_lock(&s->hook_mu);
    s->outcome_hook = fn;
    s->outcome_hook_arg = arg;
    pthread_mutex_unlock(&s->hook_mu);
}

static int
sqlite_set_audit_signer(struct cjx_store *base, const char *key_pem,
                        const char *cert_pem, struct cjx_errbuf *eb)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int err = cjx_store_replace_signer(&s->signer_mu, &s->signer, key_pem,
                                       cert_pem, eb);
    if (err == 0)
        atomic_store(&s->signing, key_pem != NULL);
    return err;
}

/* One daemon owns a SQLite database (its file is locked for writing): it
 * is always its agency's only replica, and so leads. */
static int
sqlite_lead(struct cjx_store *base)
{
    (void)base;
    return 1;
}

/* Frees everything open() may have built; the writer thread is not running. */
static void
store_free(struct sqlite_store *s)
{
    cjx_store_readers_free(s);
    cjx_store_cases_free(s);
    sqlite3_close_v2(s->wdb);
    cjx_audit_signer_free(s->signer);
    pthread_mutex_destroy(&s->signer_mu);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_mutex_destroy(&s->hook_mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->committed_cv);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

static void
sqlite_close(struct cjx_store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    cjx_store_writer_stop(s);
    store_free(s);
}

static const struct cjx_store_ops sqlite_ops = {
    .submit_record = cjx_store_writer_submit,
    .get_record = cjx_store_reader_get,
    .list_records = cjx_store_reader_list,
    .read_changes = cjx_store_reader_changes,
    .last_seq = sqlite_last_seq,
    .set_commit_hook = sqlite_set_commit_hook,
    .stored_record_fini = cjx_store_reader_fini_record,
    .append_audit = cjx_store_writer_append_audit,
    .read_audit = cjx_store_reader_audit,
    .read_audit_checkpoints = cjx_store_reader_audit_checkpoints,
    .last_audit_seq = sqlite_last_audit_seq,
    .read_last_audit_checkpoint = cjx_store_reader_last_audit_checkpoint,
    .set_stats_hook = sqlite_set_stats_hook,
    .set_audit_hook = sqlite_set_audit_hook,
    .set_outcome_hook = sqlite_set_outcome_hook,
    .set_audit_signer = sqlite_set_audit_signer,
    .lead = sqlite_lead,
    .close = sqlite_close,
    .cases = &cjx_store_sqlite_case_ops,
};

static int
exec_pragma(sqlite3 *db, const char *sql, struct cjx_errbuf *eb)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    return cjx_errf(eb, CJX_ESTORE, "%s: %s", sql, sqlite3_errmsg(db));
}

/* WAL lets readers run beside the writer; synchronous=FULL makes every
 * commit durable before it is acknowledged. journal_mode answers with the
 * mode actually in force, which is checked because a database on a file
 * system without shared memory silently stays in rollback mode. */
static int
writer_pragmas(sqlite3 *db, struct cjx_errbuf *eb)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) !=
        SQLITE_OK)
        return cjx_errf(eb, CJX_ESTORE, "journal_mode: %s", sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    int wal = rc == SQLITE_ROW && mode != NULL && strcmp(mode, "wal") == 0;
    int err = 0;
    if (!wal)
        err = cjx_errf(eb, CJX_ESTORE, "cannot enable WAL journal: %s",
                       rc == SQLITE_ROW ? (mode ? mode : "?")
                                        : sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (err == 0)
        err = exec_pragma(db, "PRAGMA synchronous=FULL", eb);
    /* Each write runs in a savepoint, whose journal is a temporary file:
     * kept in memory, it costs no system call per page. */
    if (err == 0)
        err = exec_pragma(db, "PRAGMA temp_store=MEMORY", eb);
    return err;
}

static int
read_last_seq(struct sqlite_store *s, struct cjx_errbuf *eb)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->wdb, "SELECT coalesce(max(seq), 0) FROM changes",
                           -1, &st, NULL) != SQLITE_OK)
        return cjx_errf(eb, CJX_ESTORE, "reading last seq: %s",
                        sqlite3_errmsg(s->wdb));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        atomic_store(&s->last_seq, sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return cjx_errf(eb, CJX_ESTORE, "reading last seq: %s",
                        sqlite3_errmsg(s->wdb));
    return 0;
}

static int
open_writer_db(struct sqlite_store *s, struct cjx_errbuf *eb)
{
    int rc = sqlite3_open_v2(
        s->path, &s->wdb,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return cjx_errf(eb, rc == SQLITE_CANTOPEN ? CJX_EIO : CJX_ESTORE,
                        "opening %s: %s", s->path,
                        s->wdb != NULL ? sqlite3_errmsg(s->wdb)
                                       : sqlite3_errstr(rc));
    sqlite3_busy_timeout(s->wdb, s->busy_timeout_ms);

    /* The journal first: in WAL a migration's commit is one fsync, where
     * the rollback journal syncs four times (a new database's schema took
     * 16 fsyncs, the largest part of a first start). Only the journal mode
     * is written to the file, and every version of this program uses WAL,
     * so a database from a newer one is still refused before its content
     * is touched. Foreign keys come on after the migrations: one that
     * rebuilds a table needs them off. */
    int err = writer_pragmas(s->wdb, eb);
    if (err == 0)
        err = cjx_store_schema_migrate(s->wdb, eb);
    if (err == 0)
        err = exec_pragma(s->wdb, "PRAGMA foreign_keys=ON", eb);
    if (err == 0)
        err = read_last_seq(s, eb);
    if (err == 0)
        err = cjx_store_writer_load_chain(s, eb);
    if (err == 0)
        err = cjx_store_cases_init(s, eb);
    if (err != 0 && eb != NULL && strstr(eb->msg, s->path) == NULL) {
        /* Name the file: the caller may hold several stores. */
        char msg[sizeof(eb->msg)];
        snprintf(msg, sizeof(msg), "%s", eb->msg);
        cjx_errf(eb, err, "%s: %s", s->path, msg);
    }
    return err;
}

static int
init_locks(struct sqlite_store *s)
{
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0)
        return -1;
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    int rc = pthread_mutex_init(&s->hook_mu, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0)
        return -1;
    /* The writer waits on cv with a deadline when a checkpoint will fall
     * due: on the monotonic clock, which no clock change moves. */
    pthread_condattr_t cattr;
    if (pthread_condattr_init(&cattr) != 0) {
        pthread_mutex_destroy(&s->hook_mu);
        return -1;
    }
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &cattr);
    pthread_condattr_destroy(&cattr);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->committed_cv, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->signer_mu, NULL);
    return 0;
}

static void
configure_sqlite_once(void)
{
    /* SQLite's memory statistics take a process-wide lock on every
     * allocation, which serialises the readers of a busy daemon. Only
     * possible before SQLite initialises; a no-op (SQLITE_MISUSE) if
     * something else in the process already used it. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
cjx_store_sqlite_open(const char *path,
                      const struct cjx_store_sqlite_options *opts,
                      struct cjx_store **out, struct cjx_errbuf *eb)
{
    if (path == NULL || path[0] == '\0' || out == NULL)
        return cjx_errf(eb, CJX_EINVAL, "store: a path is required");
    if (opts != NULL && (opts->max_batch < 0 || opts->busy_timeout_ms < 0 ||
                         opts->audit_checkpoint_entries < 0 ||
                         opts->audit_checkpoint_seconds < 0))
        return cjx_errf(eb, CJX_EINVAL,
                        "store: max_batch, busy_timeout_ms and the audit "
                        "checkpoint intervals must be >= 0");
    if (opts != NULL &&
        (opts->audit_key_pem == NULL) != (opts->audit_cert_pem == NULL))
        return cjx_errf(eb, CJX_EINVAL,
                        "store: an audit key needs its certificate");
    /* Readers on many threads and the writer thread use separate
     * connections, which needs SQLite built thread-safe. */
    if (!sqlite3_threadsafe())
        return cjx_errf(eb, CJX_ESTORE,
                        "store: SQLite was built without thread support");

    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_sqlite_once);

    struct sqlite_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return CJX_ENOMEM;
    s->path = strdup(path);
    if (s->path == NULL || init_locks(s) != 0) {
        free(s->path);
        free(s);
        return CJX_ENOMEM;
    }
    s->base.ops = &sqlite_ops;
    s->max_batch = opts != NULL && opts->max_batch > 0 ? opts->max_batch : 1024;
    s->busy_timeout_ms = opts != NULL && opts->busy_timeout_ms > 0
                             ? opts->busy_timeout_ms
                             : 5000;
    s->checkpoint_entries = opts != NULL && opts->audit_checkpoint_entries > 0
                                ? opts->audit_checkpoint_entries
                                : 1000;
    s->checkpoint_seconds = opts != NULL && opts->audit_checkpoint_seconds > 0
                                ? opts->audit_checkpoint_seconds
                                : 60;
    atomic_init(&s->last_seq, 0);
    atomic_init(&s->last_audit_seq, 0);

    int err = 0;
    if (opts != NULL && opts->audit_key_pem != NULL)
        err = cjx_audit_signer_new(opts->audit_key_pem, opts->audit_cert_pem,
                                   &s->signer, eb);
    atomic_init(&s->signing, s->signer != NULL);
    if (err == 0)
        err = open_writer_db(s, eb);
    if (err == 0)
        err = cjx_store_readers_start(s, eb);
    if (err == 0)
        err = cjx_store_writer_start(s, eb);
    if (err != 0) {
        store_free(s);
        return err;
    }
    *out = &s->base;
    return 0;
}
