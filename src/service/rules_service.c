/* RulesService: what the configured rule sets decide for counts. */
#include "service_internal.h"

#include <stdlib.h>
#include <string.h>

#include "cjx/evaluate.h"
#include "cjx/v1/rules_service.methods.h"

#define EVALUATE_MAX_QUERIES 10000

/* Evaluates one request into *out (arena memory). Returns 0 or an error
 * with detail. */
static int
evaluate_one(const struct cjx_conf *conf, const Cjx__V1__EvaluateRequest *req,
             struct cjx_arena *arena, Cjx__V1__EvaluateResponse *out,
             struct cjx_errbuf *eb)
{
    if (req->query == NULL)
        return cjx_errf(eb, CJX_EINVAL, "query: required");
    struct cjx_rules_registry *rules = service_conf_rules(conf);
    const struct cjx_rules_set *set =
        cjx_evaluate_pick_set(rules, req->rule_set, req->query, eb);
    if (set == NULL)
        return rules == NULL ? CJX_ESTATE : CJX_EINVAL;
    return cjx_evaluate_query(set, req->query, arena, out, eb);
}

static void
evaluate(struct cjx_call *c, const ProtobufCMessage *msg)
{
    const struct cjx_conf *conf = cjx_service_conf(c->service);
    struct cjx_errbuf eb;
    Cjx__V1__EvaluateResponse resp;
    int err = evaluate_one(conf, (const Cjx__V1__EvaluateRequest *)msg,
                           c->arena, &resp, &eb);
    if (err == 0)
        c->ops->reply(c, &resp.base);
    else
        c->ops->fail(c, err, eb.msg);
    cjx_conf_unref(conf); /* after reply: strings borrow from the sets */
}

struct eval_stream {
    const struct cjx_conf *conf; /* its rule sets, held for the stream */
    Cjx__V1__EvaluateResult **results;
    size_t n;
};

static void
eval_stream_free(struct cjx_call *c)
{
    struct eval_stream *s = c->state;
    cjx_conf_unref(s->conf);
    free(s->results);
    free(s);
    c->state = NULL;
}

static void
eval_begin(struct cjx_call *c)
{
    struct eval_stream *s = calloc(1, sizeof(*s));
    if (s != NULL)
        s->results = calloc(EVALUATE_MAX_QUERIES, sizeof(*s->results));
    if (s == NULL || s->results == NULL) {
        free(s);
        c->ops->fail(c, CJX_ENOMEM, "out of memory");
        return;
    }
    s->conf = cjx_service_conf(c->service);
    c->state = s;
    c->ops->request_next(c);
}

static void
eval_on_message(struct cjx_call *c, const ProtobufCMessage *msg)
{
    struct eval_stream *s = c->state;
    if (s->n == EVALUATE_MAX_QUERIES) {
        c->ops->fail(c, CJX_ELIMIT,
                     "more than 10000 queries in one EvaluateQueries stream");
        eval_stream_free(c);
        return;
    }
    /* Results outlive the request (decoded per message), so they are built
     * in the call's arena; their strings borrow from the held rule sets. */
    Cjx__V1__EvaluateResult *r = cjx_arena_alloc(c->arena, sizeof(*r));
    Cjx__V1__EvaluateResponse *resp = cjx_arena_alloc(c->arena, sizeof(*resp));
    if (r == NULL || resp == NULL) {
        c->ops->fail(c, CJX_ELIMIT, "the evaluation results are too large");
        eval_stream_free(c);
        return;
    }
    cjx__v1__evaluate_result__init(r);
    struct cjx_errbuf eb;
    int err = evaluate_one(s->conf, (const Cjx__V1__EvaluateRequest *)msg,
                           c->arena, resp, &eb);
    r->code = cjx_err_status_code(err);
    if (err == 0)
        r->response = resp;
    else
        r->message = cjx_arena_strndup(c->arena, eb.msg, strlen(eb.msg));
    if (r->message == NULL)
        r->message = "";
    s->results[s->n++] = r;
    c->ops->request_next(c);
}

static void
eval_on_end(struct cjx_call *c)
{
    struct eval_stream *s = c->state;
    if (s == NULL)
        return;
    Cjx__V1__EvaluateQueriesResponse resp =
        CJX__V1__EVALUATE_QUERIES_RESPONSE__INIT;
    resp.results = s->results;
    resp.n_results = s->n;
    c->ops->reply(c, &resp.base);
    eval_stream_free(c);
}

const struct cjx_handler cjx_rules_handlers[] = {
    {.method = &cjx__v1__rules_service__methods[RULES_SERVICE_EVALUATE],
     .unary = evaluate},
    {.method = &cjx__v1__rules_service__methods[RULES_SERVICE_EVALUATE_QUERIES],
     .stream_begin = eval_begin,
     .on_message = eval_on_message,
     .on_end = eval_on_end},
};
const size_t cjx_rules_handler_count =
    sizeof(cjx_rules_handlers) / sizeof(cjx_rules_handlers[0]);
