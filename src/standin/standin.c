/* The stand-ins of the agencies' case systems: follow the case feed and take
 * this agency's step by the configured policy, through the local API path. */
#include "cjx/standin.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cjx/arena.h"
#include "cjx/cases.h"
#include "cjx/clock.h"
#include "cjx/date.h"
#include "cjx/log.h"
#include "cjx/store_cases.h"
#include "cjx/v1/exchange.pb-c.h"
#include "cjx/workflow.h"

#define FEED_BATCH 512
/* Steps submitted and not yet done before reading the feed pauses. */
#define WINDOW 1024

struct cjx_standin {
    struct cjx_service *svc;
    struct cjx_store *store;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* The configuration the next feed read runs on; each read, and each
     * step it submits, holds a reference of its own. */
    struct cjx_conf_slot conf;
    int stopping;
    uint64_t generation; /* bumped by the case hook */
    int outstanding;     /* steps submitted, not done */
    pthread_t thread;
    int leading; /* this replica took the agency's steps at the last look */
    int64_t cursor;
    /* What the stand-in did, for the log at stop. */
    int64_t taken, refused;
};

/* ---- the policies ---------------------------------------------------------- */

static int
is_grant(int relief)
{
    return cjx_relief_rank((enum cjx_relief)relief) >= 1;
}

/* A message id for the step this stand-in takes on a case: the same case
 * and step always give the same id, so a repeat is a replay. */
static char *
step_id(struct cjx_arena *a, const char *step, const Cjx__V1__RecordKey *k)
{
    unsigned char md[32];
    char key[160];
    int n = snprintf(key, sizeof(key), "%s|%s|%d", k->cii, k->court_case_number,
                     (int)k->count_number);
    if (EVP_Digest(key, (size_t)n, md, NULL, EVP_sha256(), NULL) != 1)
        return NULL;
    char *id = cjx_arena_alloc(a, 64);
    if (id == NULL)
        return NULL;
    int len = snprintf(id, 64, "standin.%s.", step);
    for (int i = 0; i < 12; i++)
        len += snprintf(id + len, (size_t)(64 - len), "%02x", md[i]);
    return id;
}

static Cjx__V1__RequestMeta *
meta(struct cjx_arena *a, const char *step, const Cjx__V1__RecordKey *k)
{
    Cjx__V1__RequestMeta *m = cjx_arena_alloc(a, sizeof(*m));
    if (m == NULL)
        return NULL;
    cjx__v1__request_meta__init(m);
    m->request_id = step_id(a, step, k);
    return m->request_id != NULL ? m : NULL;
}

/* The flag of the determination that makes the prosecutor challenge, or
 * NULL. */
static const char *
challenge_flag(const struct cjx_exchange_conf *x, const Cjx__V1__Case *c)
{
    if (c->determination == NULL)
        return NULL;
    for (size_t i = 0; i < c->determination->n_flags; i++)
        for (size_t k = 0; k < x->standin_n_challenge_flags; k++)
            if (strcmp(c->determination->flags[i],
                       x->standin_challenge_flags[k]) == 0)
                return c->determination->flags[i];
    return NULL;
}

/* A flag as a reason code: upper case, '_' for anything else. */
static char *
reason_code(struct cjx_arena *a, const char *flag)
{
    size_t n = strlen(flag);
    if (n > CJX_CASE_REASON_MAX)
        n = CJX_CASE_REASON_MAX;
    char *r = cjx_arena_alloc(a, n + 1);
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char ch = flag[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        r[i] = (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ? ch : '_';
    }
    r[n] = '\0';
    return r;
}

static ProtobufCMessage *
prosecutor_step(const struct cjx_exchange_conf *x, const Cjx__V1__Case *c,
                struct cjx_arena *a)
{
    int human = c->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW;
    const char *flag = challenge_flag(x, c);
    Cjx__V1__Relief accept = 0;
    if (human) {
        /* A person decides what the rules could not, unless the policy
         * accepts the relief guaranteed whatever the missing facts are. */
        if (x->standin_human_review != CJX_STANDIN_NO_CHALLENGE ||
            !is_grant(c->floor))
            return NULL;
        accept = c->floor;
    } else if (flag == NULL) {
        if (x->standin_eligible != CJX_STANDIN_NO_CHALLENGE ||
            !is_grant(c->relief))
            return NULL;
        accept = c->relief;
    }
    Cjx__V1__ProsecutorDecision *d = cjx_arena_alloc(a, sizeof(*d));
    if (d == NULL)
        return NULL;
    cjx__v1__prosecutor_decision__init(d);
    d->key = c->key;
    if (flag != NULL && !human) {
        Cjx__V1__Challenge *ch = cjx_arena_alloc(a, sizeof(*ch));
        if (ch == NULL)
            return NULL;
        cjx__v1__challenge__init(ch);
        ch->ground =
            CJX__V1__CHALLENGE_GROUND__CHALLENGE_GROUND_CRITERIA_NOT_MET;
        ch->reason_code = reason_code(a, flag);
        ch->supporting_facts_ref = "stand-in policy: flagged by DOJ's rules";
        if (ch->reason_code == NULL)
            return NULL;
        d->decision_case = CJX__V1__PROSECUTOR_DECISION__DECISION_CHALLENGE;
        d->challenge = ch;
        d->meta = meta(a, "challenge", c->key);
    } else {
        Cjx__V1__NoChallenge *nc = cjx_arena_alloc(a, sizeof(*nc));
        if (nc == NULL)
            return NULL;
        cjx__v1__no_challenge__init(nc);
        nc->relief = accept;
        nc->procedure = c->procedure;
        nc->statutory_reason =
            c->determination != NULL && c->determination->n_reason_codes > 0
                ? c->determination->reason_codes[0]
                : "";
        d->decision_case = CJX__V1__PROSECUTOR_DECISION__DECISION_NO_CHALLENGE;
        d->no_challenge = nc;
        d->meta = meta(a, "no-challenge", c->key);
    }
    return d->meta != NULL ? &d->base : NULL;
}

/* What the court orders under a policy, or UNSPECIFIED for no order. */
static Cjx__V1__OrderRelief
court_order(enum cjx_standin_order policy, const Cjx__V1__Case *c)
{
    switch (policy) {
    case CJX_STANDIN_ORDER_ACCEPTED:
        return is_grant(c->accepted_relief)
                   ? (Cjx__V1__OrderRelief)c->accepted_relief
                   : CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DENIED;
    case CJX_STANDIN_ORDER_DENY:
        return CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DENIED;
    case CJX_STANDIN_ORDER_FLOOR:
        return is_grant(c->floor) ? (Cjx__V1__OrderRelief)c->floor
                                  : CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DENIED;
    case CJX_STANDIN_ORDER_RELIEF: {
        int r = c->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW ? c->ceiling
                                                                  : c->relief;
        return is_grant(r) ? (Cjx__V1__OrderRelief)r
                           : CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DENIED;
    }
    default:
        return CJX__V1__ORDER_RELIEF__ORDER_RELIEF_UNSPECIFIED;
    }
}

static ProtobufCMessage *
court_step(const struct cjx_exchange_conf *x, const Cjx__V1__Case *c,
           int64_t now_us, struct cjx_arena *a)
{
    enum cjx_standin_order policy =
        c->state == CJX__V1__CASE_STATE__CASE_STATE_CHALLENGED
            ? x->standin_challenged
            : x->standin_unchallenged;
    Cjx__V1__OrderRelief order = court_order(policy, c);
    if (order == CJX__V1__ORDER_RELIEF__ORDER_RELIEF_UNSPECIFIED)
        return NULL;
    Cjx__V1__ReliefOrder *o = cjx_arena_alloc(a, sizeof(*o));
    Cjx__V1__Date *eff = cjx_arena_alloc(a, sizeof(*eff));
    if (o == NULL || eff == NULL)
        return NULL;
    cjx__v1__relief_order__init(o);
    cjx__v1__date__init(eff);
    int y, m, d;
    cjx_date_from_days(now_us / (INT64_C(86400) * 1000000), &y, &m, &d);
    eff->year = y;
    eff->month = m;
    eff->day = d;
    o->key = c->key;
    o->relief = order;
    o->sealed = order == CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL;
    if (order == CJX__V1__ORDER_RELIEF__ORDER_RELIEF_REDUCE_TO_MISDEMEANOR)
        o->new_level = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_MISDEMEANOR;
    else if (order == CJX__V1__ORDER_RELIEF__ORDER_RELIEF_REDUCE_TO_INFRACTION)
        o->new_level = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_INFRACTION;
    o->effective_date = eff;
    o->judge = "stand-in policy";
    o->meta = meta(a, "order", c->key);
    return o->meta != NULL ? &o->base : NULL;
}

static ProtobufCMessage *
doj_step(const Cjx__V1__Case *c, struct cjx_arena *a)
{
    Cjx__V1__HistoryUpdated *h = cjx_arena_alloc(a, sizeof(*h));
    if (h == NULL)
        return NULL;
    cjx__v1__history_updated__init(h);
    h->key = c->key;
    h->applied = c->order;
    h->meta = meta(a, "history-updated", c->key);
    return h->meta != NULL ? &h->base : NULL;
}

ProtobufCMessage *
cjx_standin_step(const struct cjx_conf *conf, int event, const void *bytes,
                 size_t len, int64_t now_us, struct cjx_arena *arena)
{
    const struct cjx_exchange_conf *x = &conf->exchange;
    const struct cjx_agency *self =
        cjx_registry_find(&conf->registry, conf->agency);
    if (self == NULL)
        return NULL;
    enum cjx_role role = self->role;
    /* Only the changes that call for this agency's step are read. */
    int wanted = (role == CJX_ROLE_PROSECUTOR && x->standin_prosecutor &&
                  event == CJX_CASE_EV_CANDIDATE_NOTICE) ||
                 (role == CJX_ROLE_COURT && x->standin_court &&
                  (event == CJX_CASE_EV_NO_CHALLENGE ||
                   event == CJX_CASE_EV_CHALLENGE)) ||
                 (role == CJX_ROLE_DOJ && x->standin_doj_acknowledge &&
                  event == CJX_CASE_EV_RELIEF_ORDER);
    if (!wanted)
        return NULL;
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(arena);
    Cjx__V1__Case *c = cjx__v1__case__unpack(&alloc, len, bytes);
    if (c == NULL || c->key == NULL)
        return NULL;
    switch (role) {
    case CJX_ROLE_PROSECUTOR:
        /* A case DOJ sent to another prosecutor of the county is not ours. */
        if (c->prosecutor_ori[0] != '\0' &&
            strcmp(c->prosecutor_ori, self->ori) != 0)
            return NULL;
        return prosecutor_step(x, c, arena);
    case CJX_ROLE_COURT:
        return court_step(x, c, now_us, arena);
    case CJX_ROLE_DOJ:
        return doj_step(c, arena);
    default:
        return NULL;
    }
}

/* ---- the feed follower ------------------------------------------------------ */

struct step_done_arg {
    struct cjx_standin *s;
    const struct cjx_conf *conf;
};

static void
step_done(void *arg, const struct cjx_cases_outcome *o)
{
    struct step_done_arg *a = arg;
    struct cjx_standin *s = a->s;
    if (o->err != 0)
        cjx_debug("standin", "step refused: %s", o->detail);
    cjx_conf_unref(a->conf);
    free(a);
    pthread_mutex_lock(&s->mu);
    s->outstanding--;
    if (o->err == 0)
        s->taken++;
    else
        s->refused++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

struct feed_read {
    struct cjx_standin *s;
    const struct cjx_conf *conf;
    struct cjx_arena arena;
    int64_t last;
};

static void
submit_step(struct feed_read *r, const ProtobufCMessage *msg)
{
    struct cjx_standin *s = r->s;
    pthread_mutex_lock(&s->mu);
    while (s->outstanding >= WINDOW && !s->stopping)
        pthread_cond_wait(&s->cv, &s->mu);
    s->outstanding++;
    pthread_mutex_unlock(&s->mu);
    struct step_done_arg *a = malloc(sizeof(*a));
    int err = CJX_ENOMEM;
    if (a != NULL) {
        a->s = s;
        a->conf = cjx_conf_ref(r->conf);
        err = cjx_cases_submit_local(s->svc, r->conf, msg, "stand-in",
                                     step_done, a);
        if (err != 0) {
            cjx_conf_unref(a->conf);
            free(a);
        }
    }
    if (err != 0) {
        pthread_mutex_lock(&s->mu);
        s->outstanding--;
        s->refused++;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

static int
feed_visit(void *arg, const struct cjx_stored_case *c)
{
    struct feed_read *r = arg;
    r->last = c->seq;
    /* A case that has moved on since this version needs nothing from it:
     * following the feed again after a restart submits nothing for the
     * steps already taken. */
    if (c->current_seq != c->seq)
        return 0;
    cjx_arena_reset(&r->arena);
    ProtobufCMessage *step = cjx_standin_step(
        r->conf, c->event, c->body, c->body_len, cjx_clock_now_us(), &r->arena);
    if (step != NULL)
        submit_step(r, step);
    return 0;
}

static void
on_case_commit(void *arg, int64_t last_seq, size_t added)
{
    (void)last_seq;
    (void)added;
    struct cjx_standin *s = arg;
    pthread_mutex_lock(&s->mu);
    s->generation++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void *
standin_main(void *arg)
{
    struct cjx_standin *s = arg;
    struct feed_read r = {.s = s};
    cjx_arena_init(&r.arena, NULL, 0, 0);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        uint64_t seen = s->generation;
        pthread_mutex_unlock(&s->mu);
        r.conf = cjx_conf_slot_get(&s->conf);

        /* Of an agency's replicas, one takes the steps. One that comes to
         * lead follows the feed from its start, as after a restart: what
         * the replica before it left undone is taken, what it took is
         * skipped (and would be a replay if it were not). */
        int leading = cjx_store_lead(s->store) == 1;
        if (leading && !s->leading)
            s->cursor = 0;
        s->leading = leading;
        r.last = s->cursor;
        struct cjx_errbuf eb;
        int err = 0;
        if (leading)
            err = cjx_store_read_case_changes(s->store, s->cursor, FEED_BATCH,
                                              feed_visit, &r, &eb);
        cjx_conf_unref(r.conf);
        if (err != 0)
            cjx_error("standin", "reading the case feed: %s", eb.msg);
        int moved = r.last != s->cursor;
        s->cursor = r.last;
        if (moved && err == 0)
            continue;
        /* A replica that does not lead asks again within a second, so
         * that it takes over soon after the leader is gone. */
        pthread_mutex_lock(&s->mu);
        if (!s->stopping && s->generation == seen) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
    }
    cjx_arena_fini(&r.arena);
    return NULL;
}

int
cjx_standin_start(struct cjx_service *svc, struct cjx_store *store,
                  const struct cjx_conf *conf, struct cjx_standin **out,
                  struct cjx_errbuf *eb)
{
    *out = NULL;
    const struct cjx_agency *self =
        cjx_registry_find(&conf->registry, conf->agency);
    const struct cjx_exchange_conf *x = &conf->exchange;
    int configured =
        self != NULL &&
        ((self->role == CJX_ROLE_PROSECUTOR && x->standin_prosecutor) ||
         (self->role == CJX_ROLE_COURT && x->standin_court) ||
         (self->role == CJX_ROLE_DOJ && x->standin_doj_acknowledge));
    if (!configured)
        return 0;
    struct cjx_standin *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    s->svc = svc;
    s->store = store;
    cjx_conf_slot_init(&s->conf, conf);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int err = cjx_store_add_case_hook(store, on_case_commit, s);
    if (err == 0 && pthread_create(&s->thread, NULL, standin_main, s) != 0) {
        cjx_store_remove_case_hook(store, on_case_commit, s);
        err = CJX_ENOMEM;
    }
    if (err != 0) {
        cjx_conf_slot_fini(&s->conf);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return cjx_errf(eb, err, "cannot start the stand-in");
    }
    cjx_warn("standin",
             "the stand-in policy of this %s is on: it takes the "
             "agency's steps automatically (exchange.stand_in)",
             cjx_role_name(self->role));
    *out = s;
    return 0;
}

void
cjx_standin_reload(struct cjx_standin *s, const struct cjx_conf *conf)
{
    if (s != NULL)
        cjx_conf_slot_set(&s->conf, conf);
}

const struct cjx_conf *
cjx_standin_conf(struct cjx_standin *s)
{
    return cjx_conf_slot_get(&s->conf);
}

void
cjx_standin_stop(struct cjx_standin *s)
{
    if (s == NULL)
        return;
    cjx_store_remove_case_hook(s->store, on_case_commit, s);
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    /* Steps already queued complete through the store. */
    pthread_mutex_lock(&s->mu);
    while (s->outstanding > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    cjx_info("standin", "stand-in stopped: %lld step(s) taken, %lld refused",
             (long long)s->taken, (long long)s->refused);
    cjx_conf_slot_fini(&s->conf);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
