/* CaseService reads: one case, listings with filters and paging, counts by
 * state and outcome, and the local operator's view of the outbox. County
 * agencies see their county's cases only. */
#include "cases_internal.h"
#include "sealing.h"

#include <stdlib.h>
#include <string.h>

#include "cjx/clock.h"
#include "cjx/log.h"
#include "page_budget.h"
#include "record_check.h"

int
stored_case_message(struct cjx_arena *a, const struct cjx_stored_case *s,
                    Cjx__V1__Case **out)
{
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(a);
    Cjx__V1__Case *m = cjx__v1__case__unpack(&alloc, s->body_len, s->body);
    if (m == NULL)
        return a->failed ? CJX_ENOMEM : CJX_ESTORE;
    m->seq = s->seq;
    *out = m;
    return 0;
}

/* The county a caller is confined to, or NULL. */
static const char *
scope_of(const struct cjx_call *c)
{
    return c->access == CJX_ACCESS_OWN_COUNTY ? c->caller.agency->county : NULL;
}

/* ---- GetCase -------------------------------------------------------------- */

/* The notice that opened the case, as the caller may read it: once the
 * court dismissed and sealed the count, the notice's record is the sealed
 * record's past and follows the sealing policy (sealing.h). */
static int
attach_notice(struct cjx_call *c, const struct cjx_stored_case *s,
              Cjx__V1__Case *m)
{
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(c->arena);
    m->notice =
        cjx__v1__candidate_notice__unpack(&alloc, s->notice_len, s->notice);
    if (m->notice == NULL || m->notice->record == NULL)
        return c->arena->failed ? CJX_ENOMEM : CJX_ESTORE;
    if (m->order != CJX__V1__ORDER_RELIEF__ORDER_RELIEF_DISMISS_AND_SEAL)
        return 0;
    Cjx__V1__ConvictionRecord sealed = *m->notice->record;
    sealed.sealed = 1;
    if (!sealing_may_read(c->conf, c->caller.agency, &sealed)) {
        c->audit.hidden_reason =
            "refused: the notice of a sealed record withheld "
            "under the sealing policy";
        return CJX_ENOTFOUND;
    }
    c->audit.hidden_reason = "sealed record read (the case's notice) under the "
                             "sealing policy";
    return 0;
}

void
get_case(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__GetCaseRequest *req = (const Cjx__V1__GetCaseRequest *)msg;
    struct cjx_errbuf eb;
    if (req->key != NULL) {
        c->audit.cii = req->key->cii;
        c->audit.court_case_number = req->key->court_case_number;
        c->audit.count_number = req->key->count_number;
    }
    int err = record_check_key(req->key, &eb);
    if (err != 0) {
        c->ops->fail(c, err, eb.msg);
        return;
    }
    struct cjx_store *store = c->service->store;
    struct cjx_stored_case s;
    err = cjx_store_get_case(store, req->key->cii, req->key->court_case_number,
                             req->key->count_number, req->include_notice, &s,
                             &eb);
    if (err == CJX_ENOTFOUND) {
        c->ops->fail(c, err, "no case with that key");
        return;
    }
    if (err != 0) {
        cjx_error("cases", "get failed: %s", eb.msg);
        c->ops->fail(c, err, "could not read the case");
        return;
    }
    const char *scope = scope_of(c);
    Cjx__V1__Case *m = NULL;
    if (scope != NULL && strcmp(s.county, scope) != 0) {
        /* Answered as a missing case: the answer must not tell whether the
         * person has a case in another county. The audit keeps why. */
        c->audit.hidden_reason = "refused: the case belongs to another county";
        c->ops->fail(c, CJX_ENOTFOUND, "no case with that key");
    } else if ((err = stored_case_message(c->arena, &s, &m)) != 0) {
        c->ops->fail(c, err, "the stored case could not be decoded");
    } else if (s.notice != NULL && (err = attach_notice(c, &s, m)) != 0) {
        c->ops->fail(c, err,
                     err == CJX_ENOTFOUND ? "no case with that key"
                                          : "the stored notice could not be "
                                            "decoded");
    } else {
        c->ops->reply(c, &m->base);
    }
    cjx_stored_case_fini(store, &s);
}

/* ---- ListCases ------------------------------------------------------------ */

struct case_page {
    struct cjx_call *call;
    const struct cjx_workflow_policy *policy;
    int64_t now_us;
    int overdue;               /* keep only cases with a missed deadline */
    enum cjx_role overdue_for; /* ... that this party must act on */
    Cjx__V1__Case **items;
    struct page_fill fill;
    int err;
};

static int
overdue_matches(struct case_page *p, const Cjx__V1__Case *m)
{
    struct cjx_case c;
    if (case_from_message(m, &c) != 0)
        return 0;
    struct cjx_overdue od[CJX_WORKFLOW_MAX_OVERDUE_PER_CASE];
    size_t n = cjx_workflow_case_overdue(&c, p->policy, p->now_us, od);
    for (size_t i = 0; i < n; i++)
        if (p->overdue_for == CJX_ROLE_UNSPECIFIED ||
            od[i].party == p->overdue_for)
            return 1;
    return 0;
}

static int
page_visit(void *arg, const struct cjx_stored_case *s)
{
    struct case_page *p = arg;
    p->fill.visited++;
    Cjx__V1__Case *m;
    p->err = stored_case_message(p->call->arena, s, &m);
    if (p->err != 0)
        return 1;
    if (p->overdue && !overdue_matches(p, m))
        return 0;
    if (!page_fill_admit(&p->fill, &m->base))
        return 1;
    p->items[p->fill.n++] = m;
    return 0;
}

void
list_cases(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__ListCasesRequest *req =
        (const Cjx__V1__ListCasesRequest *)msg;
    struct cjx_errbuf eb;
    struct cjx_case_filter f = {0};
    if (req->filter_case == CJX__V1__LIST_CASES_REQUEST__FILTER_COUNTY) {
        f.county = req->county;
        if (f.county[0] == '\0') {
            c->ops->fail(c, CJX_EINVAL, "county: empty");
            return;
        }
    } else if (req->filter_case == CJX__V1__LIST_CASES_REQUEST__FILTER_CII) {
        f.cii = req->cii;
        c->audit.cii = req->cii;
        if (f.cii[0] == '\0') {
            c->ops->fail(c, CJX_EINVAL, "cii: empty");
            return;
        }
    }
    if ((int)req->state < 0 || (int)req->state > CJX_CASE_HISTORY_UPDATED) {
        c->ops->fail(c, CJX_EINVAL, "state: unknown");
        return;
    }
    if ((int)req->overdue_for < 0 || (int)req->overdue_for > CJX_ROLE_COURT) {
        c->ops->fail(c, CJX_EINVAL, "overdue_for: unknown role");
        return;
    }
    f.state = req->state;
    const char *scope = scope_of(c);
    if (scope != NULL) {
        if (f.county != NULL && strcmp(f.county, scope) != 0) {
            c->ops->fail(c, CJX_EPERM, "county: outside the caller's county");
            return;
        }
        f.county = scope;
    }
    int limit = 0;
    int64_t after;
    int err = page_request_parse(req->page_size, req->page_token, &limit,
                                 &after, &eb);
    if (err != 0) {
        c->ops->fail(c, err, eb.msg);
        return;
    }
    struct cjx_workflow_policy policy;
    cjx_cases_policy(&c->conf->exchange, &policy);
    struct case_page page = {
        .call = c,
        .policy = &policy,
        .now_us = cjx_clock_now_us(),
        .overdue = req->overdue || req->overdue_for != 0,
        .overdue_for = (enum cjx_role)req->overdue_for,
    };
    /* The stored deadline is a cheap first cut; the policy in force now
     * decides (a changed law applies to existing cases at once). */
    if (page.overdue)
        f.due_before_us = page.now_us;
    page_fill_init(&page.fill, c->conf);
    page.items = cjx_arena_alloc(c->arena, (size_t)limit * sizeof(*page.items));
    if (page.items == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    int64_t last_id = 0;
    err = cjx_store_list_cases(c->service->store, &f, after, limit, page_visit,
                               &page, &last_id, &eb);
    if (err == 0)
        err = page.err;
    if (err != 0) {
        cjx_error("cases", "list failed: %s", cjx_strerror(err));
        c->ops->fail(c, err, "could not list cases");
        return;
    }
    Cjx__V1__ListCasesResponse resp = CJX__V1__LIST_CASES_RESPONSE__INIT;
    resp.cases = page.items;
    resp.n_cases = page.fill.n;
    char token[PAGE_TOKEN_LEN];
    page_next_token(token, &page.fill, limit, last_id);
    resp.next_page_token = token;
    c->ops->reply(c, &resp.base);
}

/* ---- CaseStats ------------------------------------------------------------ */

#define STATS_MAX_GROUPS 512

struct stats {
    struct cjx_arena scratch; /* one case at a time */
    Cjx__V1__CaseCount groups[STATS_MAX_GROUPS];
    size_t n;
    int64_t total;
    int64_t first[5], last[5];
    int err;
};

static void
note_time(struct stats *st, int i, int64_t t)
{
    if (t == 0)
        return;
    if (st->first[i] == 0 || t < st->first[i])
        st->first[i] = t;
    if (t > st->last[i])
        st->last[i] = t;
}

static int
stats_visit(void *arg, const struct cjx_stored_case *s)
{
    struct stats *st = arg;
    cjx_arena_reset(&st->scratch);
    Cjx__V1__Case *m;
    st->err = stored_case_message(&st->scratch, s, &m);
    if (st->err != 0)
        return 1;
    st->total++;
    size_t i;
    for (i = 0; i < st->n; i++) {
        Cjx__V1__CaseCount *g = &st->groups[i];
        if (g->state == m->state && g->relief == m->relief &&
            g->decision == m->decision && g->order == m->order)
            break;
    }
    if (i == st->n && st->n < STATS_MAX_GROUPS) {
        Cjx__V1__CaseCount *g = &st->groups[st->n++];
        cjx__v1__case_count__init(g);
        g->state = m->state;
        g->relief = m->relief;
        g->decision = m->decision;
        g->order = m->order;
    }
    if (i < st->n)
        st->groups[i].cases++;
    if (m->times != NULL) {
        note_time(st, 0, m->times->identified_at_unix_us);
        note_time(st, 1, m->times->notified_at_unix_us);
        note_time(st, 2, m->times->decided_at_unix_us);
        note_time(st, 3, m->times->ordered_at_unix_us);
        note_time(st, 4, m->times->history_updated_at_unix_us);
    }
    return 0;
}

static void
fill_times(Cjx__V1__CaseTimes *t, const int64_t v[5])
{
    cjx__v1__case_times__init(t);
    t->identified_at_unix_us = v[0];
    t->notified_at_unix_us = v[1];
    t->decided_at_unix_us = v[2];
    t->ordered_at_unix_us = v[3];
    t->history_updated_at_unix_us = v[4];
}

void
case_stats(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__CaseStatsRequest *req =
        (const Cjx__V1__CaseStatsRequest *)msg;
    struct cjx_case_filter f = {0};
    if (req->county[0] != '\0')
        f.county = req->county;
    const char *scope = scope_of(c);
    if (scope != NULL) {
        if (f.county != NULL && strcmp(f.county, scope) != 0) {
            c->ops->fail(c, CJX_EPERM, "county: outside the caller's county");
            return;
        }
        f.county = scope;
    }
    if (req->position_only) {
        Cjx__V1__CaseStatsResponse resp = CJX__V1__CASE_STATS_RESPONSE__INIT;
        resp.last_seq = cjx_store_last_case_seq(c->service->store);
        c->ops->reply(c, &resp.base);
        return;
    }
    struct stats *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    cjx_arena_init(&st->scratch, NULL, 0, 0);
    struct cjx_errbuf eb;
    int64_t after = 0, last = 0;
    int err = 0;
    do {
        last = 0;
        err = cjx_store_list_cases(c->service->store, &f, after, 1000,
                                   stats_visit, st, &last, &eb);
        if (err == 0)
            err = st->err;
        after = last;
    } while (err == 0 && last != 0);
    if (err != 0) {
        c->ops->fail(c, err, "could not count cases");
    } else {
        Cjx__V1__CaseStatsResponse resp = CJX__V1__CASE_STATS_RESPONSE__INIT;
        Cjx__V1__CaseCount *ptrs[STATS_MAX_GROUPS];
        for (size_t i = 0; i < st->n; i++)
            ptrs[i] = &st->groups[i];
        Cjx__V1__CaseTimes first, lastt;
        fill_times(&first, st->first);
        fill_times(&lastt, st->last);
        resp.counts = ptrs;
        resp.n_counts = st->n;
        resp.total = st->total;
        resp.first = &first;
        resp.last = &lastt;
        resp.last_seq = cjx_store_last_case_seq(c->service->store);
        c->ops->reply(c, &resp.base);
    }
    cjx_arena_fini(&st->scratch);
    free(st);
}

/* ---- ListOutbox ----------------------------------------------------------- */

struct outbox_page {
    struct cjx_arena *arena;
    Cjx__V1__OutboxEntry **items;
    struct page_fill fill;
    Cjx__V1__OutboxCount **counts;
    size_t n_counts;
    int err;
};

static char *
arena_str(struct cjx_arena *a, const char *s)
{
    return cjx_arena_strndup(a, s, strlen(s));
}

static int
outbox_visit(void *arg, const struct cjx_outbox_row *r)
{
    struct outbox_page *p = arg;
    p->fill.visited++;
    Cjx__V1__OutboxEntry *e = cjx_arena_alloc(p->arena, sizeof(*e));
    Cjx__V1__RecordKey *k = cjx_arena_alloc(p->arena, sizeof(*k));
    if (e == NULL || k == NULL) {
        p->err = CJX_ENOMEM;
        return 1;
    }
    cjx__v1__outbox_entry__init(e);
    cjx__v1__record_key__init(k);
    e->id = r->id;
    e->message_id = arena_str(p->arena, r->message_id);
    e->destination_ori = arena_str(p->arena, r->destination_ori);
    e->method = arena_str(p->arena, r->method);
    k->cii = arena_str(p->arena, r->cii);
    k->court_case_number = arena_str(p->arena, r->court_case_number);
    k->count_number = r->count_number;
    e->key = k;
    e->created_at_unix_us = r->created_us;
    e->attempts = r->attempts;
    e->next_attempt_at_unix_us = r->next_attempt_us;
    e->last_error = arena_str(p->arena, r->last_error);
    e->delivered_at_unix_us = r->delivered_us;
    e->parked = r->parked;
    if (e->message_id == NULL || e->destination_ori == NULL ||
        e->method == NULL || k->cii == NULL || k->court_case_number == NULL ||
        e->last_error == NULL) {
        p->err = CJX_ENOMEM;
        return 1;
    }
    if (!page_fill_admit(&p->fill, &e->base))
        return 1;
    p->items[p->fill.n++] = e;
    return 0;
}

static int
count_visit(void *arg, const struct cjx_outbox_count *r)
{
    struct outbox_page *p = arg;
    if (p->n_counts == 256)
        return 1;
    Cjx__V1__OutboxCount *o = cjx_arena_alloc(p->arena, sizeof(*o));
    if (o == NULL) {
        p->err = CJX_ENOMEM;
        return 1;
    }
    cjx__v1__outbox_count__init(o);
    o->destination_ori = arena_str(p->arena, r->destination_ori);
    o->pending = r->pending;
    o->delivered = r->delivered;
    o->parked = r->parked;
    o->oldest_pending_at_unix_us = r->oldest_pending_us;
    if (o->destination_ori == NULL) {
        p->err = CJX_ENOMEM;
        return 1;
    }
    p->counts[p->n_counts++] = o;
    return 0;
}

void
list_outbox(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const Cjx__V1__ListOutboxRequest *req =
        (const Cjx__V1__ListOutboxRequest *)msg;
    struct cjx_errbuf eb;
    int limit = 0;
    int64_t after;
    int err = page_request_parse(req->page_size, req->page_token, &limit,
                                 &after, &eb);
    if (err == 0 && ((int)req->which < CJX_OUTBOX_PENDING ||
                     (int)req->which > CJX_OUTBOX_ALL))
        err = cjx_errf(&eb, CJX_EINVAL, "which: unknown");
    if (err != 0) {
        c->ops->fail(c, err, eb.msg);
        return;
    }
    struct outbox_page page = {.arena = c->arena};
    /* The counts beside the entries are a few kilobytes at most (256
     * destinations), well inside the other half of the message. */
    page_fill_init(&page.fill, c->conf);
    page.items = cjx_arena_alloc(c->arena, (size_t)limit * sizeof(*page.items));
    page.counts = cjx_arena_alloc(c->arena, 256 * sizeof(*page.counts));
    if (page.items == NULL || page.counts == NULL) {
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    struct cjx_store *store = c->service->store;
    int64_t last_id = 0;
    enum cjx_outbox_which which = (enum cjx_outbox_which)req->which;
    err = cjx_store_outbox_list(store, which, req->destination_ori, after,
                                limit, outbox_visit, &page, &last_id, &eb);
    if (err == 0)
        err = page.err;
    if (err == 0)
        err = cjx_store_outbox_counts(
            store, which == CJX_OUTBOX_DELIVERED || which == CJX_OUTBOX_ALL,
            count_visit, &page, &eb);
    if (err == 0)
        err = page.err;
    if (err != 0) {
        c->ops->fail(c, err, "could not read the outbox");
        return;
    }
    Cjx__V1__ListOutboxResponse resp = CJX__V1__LIST_OUTBOX_RESPONSE__INIT;
    resp.entries = page.items;
    resp.n_entries = page.fill.n;
    resp.counts = page.counts;
    resp.n_counts = page.n_counts;
    char token[PAGE_TOKEN_LEN];
    page_next_token(token, &page.fill, limit, last_id);
    resp.next_page_token = token;
    c->ops->reply(c, &resp.base);
}
