/* Commits of the other replicas, heard through LISTEN/NOTIFY: each
 * transaction announces, as it commits, the newest positions of the feeds
 * it advanced (pg_notify_commit), and every replica's listener runs its
 * own hooks on hearing it, so that a follower on one replica learns at
 * once of a commit made by another. PostgreSQL delivers a notification
 * only once its transaction has committed, and in commit order. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cjx/log.h"
#include "pg_store.h"

#define CHANNEL "cjx_commits"

void
pg_notify_payload(const struct pg_write *batch, int64_t audit_top, char *buf,
                  size_t len)
{
    int64_t top = 0, case_top = 0;
    size_t outbox = 0;
    for (const struct pg_write *pw = batch; pw != NULL; pw = pw->next) {
        if (pw->res.err != 0 || pw->res.replayed)
            continue;
        if (pw->kind == PG_WRITE_RECORD && pw->res.seq > top)
            top = pw->res.seq;
        if (pw->kind == PG_WRITE_CASE) {
            if (pw->record_seq > top)
                top = pw->record_seq;
            if (pw->res.seq > case_top)
                case_top = pw->res.seq;
            outbox += pw->outbox_added;
        }
    }
    snprintf(buf, len, "%" PRId64 " %" PRId64 " %" PRId64 " %zu", top, case_top,
             audit_top, outbox);
}

int
pg_notify_commit(struct pg_store *s, const char *payload, char *msg,
                 size_t msg_len)
{
    struct pg_params p = {0};
    pg_text(&p, payload);
    return pg_command(s->wconn, "SELECT pg_notify('" CHANNEL "', $1)", &p,
                      "announcing the commit", msg, msg_len);
}

/* Runs this replica's hooks for what another replica committed. */
static void
heard(struct pg_store *s, const char *payload)
{
    int64_t top = 0, case_top = 0, audit_top = 0;
    size_t outbox = 0;
    if (sscanf(payload, "%" SCNd64 " %" SCNd64 " %" SCNd64 " %zu", &top,
               &case_top, &audit_top, &outbox) != 4)
        return;
    pg_run_feed_hooks(s, top, audit_top);
    if (case_top > 0 || outbox > 0) {
        pg_raise_top(&s->last_case_seq, case_top);
        cjx_store_case_hooks_run(&s->case_hooks, atomic_load(&s->last_case_seq),
                                 outbox);
    }
}

/* Connects and listens. After a lost connection (not at the first),
 * commits made while no listener was connected went unheard: the hooks run
 * once with the feeds' heads, so that followers read what they missed. */
static PGconn *
listen_anew(struct pg_store *s, int again)
{
    char msg[256];
    PGconn *c = pg_connect(s->dsn, s->password, msg, sizeof(msg));
    if (c == NULL)
        return NULL;
    if (pg_command(c, "LISTEN " CHANNEL, NULL, "listening", msg, sizeof(msg)) !=
        0) {
        cjx_warn("store", "%s", msg);
        PQfinish(c);
        return NULL;
    }
    int64_t top = 0, case_top = 0, audit_top = 0;
    if (again && pg_read_top(s, "changes", &top) == 0 &&
        pg_read_top(s, "case_changes", &case_top) == 0 &&
        pg_read_top(s, "audit", &audit_top) == 0) {
        char payload[96];
        snprintf(payload, sizeof(payload),
                 "%" PRId64 " %" PRId64 " %" PRId64 " 1", top, case_top,
                 audit_top);
        heard(s, payload);
    }
    return c;
}

static void *
listener_main(void *arg)
{
    struct pg_store *s = arg;
    PGconn *c = s->listener.conn; /* listening since the store opened */
    int lost = 0;                 /* a connection was had and lost */
    for (;;) {
        if (c == NULL) {
            c = listen_anew(s, lost);
            lost = c != NULL ? 0 : lost;
        }
        struct pollfd fds[2] = {
            {.fd = s->listener.wake[0], .events = POLLIN},
            {.fd = c != NULL ? PQsocket(c) : -1, .events = POLLIN},
        };
        /* Without a connection (the server is down) it tries again each
         * second; with one it waits for a notification or the close. */
        int rc = poll(fds, 2, c != NULL ? -1 : 1000);
        if (rc < 0 && errno != EINTR)
            break;
        if (fds[0].revents != 0)
            break;
        if (c == NULL || fds[1].revents == 0)
            continue;
        if (PQconsumeInput(c) == 0) {
            PQfinish(c);
            c = NULL;
            lost = 1;
            continue;
        }
        int own = atomic_load(&s->listener.writer_pid);
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL) {
            /* This replica's own commits ran its hooks already. */
            if (n->be_pid != own)
                heard(s, n->extra);
            PQfreemem(n);
        }
    }
    PQfinish(c);
    return NULL;
}

int
pg_listener_start(struct pg_store *s, struct cjx_errbuf *eb)
{
    /* Listening before open returns: a commit made by another replica
     * once this store is open is heard. */
    s->listener.conn = listen_anew(s, 0);
    if (s->listener.conn == NULL)
        return cjx_errf(eb, CJX_ESTORE,
                        "cannot listen for other replicas' "
                        "commits");
    if (pipe(s->listener.wake) != 0) {
        PQfinish(s->listener.conn);
        return cjx_errf(eb, CJX_ESTORE, "listener pipe: %s", strerror(errno));
    }
    int rc = pthread_create(&s->listener.thread, NULL, listener_main, s);
    if (rc != 0) {
        PQfinish(s->listener.conn);
        close(s->listener.wake[0]);
        close(s->listener.wake[1]);
        s->listener.wake[0] = s->listener.wake[1] = -1;
        return cjx_errf(eb, CJX_ESTORE, "starting listener thread: %s",
                        strerror(rc));
    }
    s->listener.running = 1;
    return 0;
}

void
pg_listener_stop(struct pg_store *s)
{
    if (!s->listener.running)
        return;
    char one = 1;
    while (write(s->listener.wake[1], &one, 1) < 0 && errno == EINTR) {
    }
    pthread_join(s->listener.thread, NULL);
    close(s->listener.wake[0]);
    close(s->listener.wake[1]);
    s->listener.running = 0;
}
