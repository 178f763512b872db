/* Which replica of an agency does its singleton work (the stand-in
 * policies): the one holding a session-level advisory lock of the
 * database. */
#include <stdio.h>
#include <string.h>

#include "cjx/log.h"
#include "pg_store.h"

/* Apart from the writers' and the migrations' transaction-scoped locks
 * (pg_writer.c, pg_schema.c): this one is held for a whole session. */
#define LEADER_TRY     "SELECT pg_try_advisory_lock(7236003)::int4"
#define LEADER_RELEASE "SELECT pg_advisory_unlock(7236003)"

/* Whether the connection still reaches the server. A server restarted or
 * a backend terminated shows only when the connection is used, so it is:
 * the lock lives exactly as long as the session that took it. */
static int
still_connected(PGconn *c)
{
    char msg[256];
    return PQstatus(c) == CONNECTION_OK &&
           pg_command(c, "SELECT 1", NULL, "leader", msg, sizeof(msg)) == 0;
}

/* A connection for the lock that names its replica, so that an operator
 * (pg_stat_activity joined with pg_locks) sees which replica leads. */
static PGconn *
connect_named(struct pg_store *s, char *msg, size_t msg_len)
{
    PGconn *c = pg_connect(s->dsn, s->password, msg, msg_len);
    if (c == NULL)
        return NULL;
    char name[CJX_AUDIT_REPLICA_MAX + 32];
    snprintf(name, sizeof(name), "cjxd leadership %s", s->replica);
    struct pg_params p = {0};
    pg_text(&p, name);
    /* Only a name: a connection that cannot take it still serves. */
    if (pg_command(c, "SELECT set_config('application_name', $1, false)", &p,
                   "naming the leadership connection", msg, msg_len) != 0)
        cjx_warn("store", "%s", msg);
    return c;
}

int
pg_lead(struct cjx_store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    char msg[256];
    pthread_mutex_lock(&s->leader.mu);
    if (s->leader.conn != NULL && !still_connected(s->leader.conn)) {
        if (s->leader.leading)
            cjx_warn("store",
                     "this replica no longer leads its agency's singleton "
                     "work: its connection to PostgreSQL was lost");
        PQfinish(s->leader.conn);
        s->leader.conn = NULL;
        s->leader.leading = 0;
    }
    if (s->leader.conn == NULL)
        s->leader.conn = connect_named(s, msg, sizeof(msg));
    if (s->leader.conn != NULL && !s->leader.leading) {
        PGresult *r = pg_exec(s->leader.conn, LEADER_TRY, NULL, "leader", msg,
                              sizeof(msg));
        if (r != NULL && PQntuples(r) == 1 && pg_col_int(r, 0, 0) == 1) {
            s->leader.leading = 1;
            cjx_info("store", "this replica leads its agency's singleton work "
                              "(stand-in policies)");
        }
        PQclear(r);
    }
    int leading = s->leader.leading;
    pthread_mutex_unlock(&s->leader.mu);
    return leading;
}

void
pg_leader_fini(struct pg_store *s)
{
    /* Released before the connection closes, so that another replica
     * may lead as soon as this one has closed: the server would release
     * it too, but only once it notices the session's end. */
    char msg[256];
    if (s->leader.leading && pg_command(s->leader.conn, LEADER_RELEASE, NULL,
                                        "leader", msg, sizeof(msg)) != 0)
        cjx_warn("store", "leadership left to the session's end: %s", msg);
    PQfinish(s->leader.conn);
    s->leader.conn = NULL;
    pthread_mutex_destroy(&s->leader.mu);
}
