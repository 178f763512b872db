/* The SQLite store's WAL checkpoints on a thread of their own.
 *
 * SQLite's default checkpoints the WAL inside the commit that makes it
 * large, on the writer's thread: under load every few commits then wait
 * for the copy into the database file and its fsync. Here the writer's
 * commit only notes the WAL's size (its WAL hook) and a second connection
 * on this thread runs passive checkpoints, which never block the writer or
 * the readers. Durability is unchanged: a commit is durable once its WAL
 * frames are synced (synchronous=FULL), whether or not it was copied. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cjx/log.h"
#include "sqlite_cases.h"

/* Checkpoint once the WAL holds this many pages (16 MiB of 4 KiB pages). */
#define CHECKPOINT_PAGES 4096

struct sqlite_checkpointer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wanted;
    int stopping;
    sqlite3 *db;
};

/* The writer connection's WAL hook: runs on the writer thread after each
 * commit, with the WAL's size in pages. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    struct sqlite_checkpointer *c = arg;
    if (pages >= CHECKPOINT_PAGES) {
        pthread_mutex_lock(&c->mu);
        c->wanted = 1;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

static void *
checkpointer_main(void *arg)
{
    struct sqlite_checkpointer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->wanted && !c->stopping)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stopping)
            break;
        c->wanted = 0;
        pthread_mutex_unlock(&c->mu);
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(
            c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            cjx_warn("store", "WAL checkpoint: %s", sqlite3_errmsg(c->db));
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int
cjx_store_checkpointer_start(struct sqlite_store *s, struct cjx_errbuf *eb)
{
    struct sqlite_checkpointer *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    int rc = sqlite3_open_v2(s->path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(c->db, s->busy_timeout_ms);
        rc = sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        int err = cjx_errf(
            eb, CJX_ESTORE, "opening the checkpoint connection: %s",
            c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(c->db);
        free(c);
        return err;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, checkpointer_main, c) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        sqlite3_close_v2(c->db);
        free(c);
        return cjx_errf(eb, CJX_ESTORE, "cannot start the checkpoint thread");
    }
    /* Replaces the automatic checkpoint of the writer's connection. */
    sqlite3_wal_hook(s->wdb, wal_hook, c);
    s->cases->checkpointer = c;
    return 0;
}

void
cjx_store_checkpointer_stop(struct sqlite_store *s)
{
    struct sqlite_checkpointer *c =
        s->cases != NULL ? s->cases->checkpointer : NULL;
    if (c == NULL)
        return;
    sqlite3_wal_hook(s->wdb, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    sqlite3_close_v2(c->db);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
    s->cases->checkpointer = NULL;
}
