/* Running cjxctl's exchange steps: the dry run against the workflow,
 * sending one by one (several at a time) or in OrderBulk streams, and
 * printing what came of them (step_run.h). */
#include "step_run.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cases_convert.h"
#include "cjx/clock.h"
#include "cjx/json.h"
#include "cjx/v1/exchange.methods.h"
#include "fan_out.h"

/* Messages per OrderBulk stream: the progress bar moves per stream. */
#define BULK_CHUNK 500

/* ---- the dry run ------------------------------------------------------------ */

/* The workflow policy as far as the case shows it: each of its deadlines
 * as an absolute last instant, the rest the statutory defaults. The
 * daemon's configuration decides in the end; this says what the case, as
 * the daemon sent it, allows. */
static void
policy_of_case(const struct cjx_case *c, struct cjx_workflow_policy *p)
{
    cjx_workflow_policy_init_prop64(p);
    const int64_t at[] = {c->deadlines.notice_us, c->deadlines.review_us,
                          c->deadlines.order_us, c->deadlines.order_us,
                          c->deadlines.history_update_us};
    struct cjx_workflow_deadline *d[] = {
        &p->notice, &p->review, &p->order_unchallenged, &p->order_challenged,
        &p->history_update};
    for (int i = 0; i < 5; i++) {
        d[i]->window_us = 0;
        d[i]->not_after_us = at[i] == CJX_WORKFLOW_NO_DEADLINE ? 0 : at[i];
    }
}

static void
result_refused(struct step_result *r, int cjx_err, const char *msg)
{
    r->code = cjx_err_status_code(cjx_err);
    snprintf(r->message, sizeof(r->message), "%s", msg);
}

/* What the workflow would make of one step on the case the daemon holds.
 * Only the daemon knows which agency it is: the dry run stands in for the
 * case's own prosecutor and county, so a refusal for the wrong role or
 * county shows only when the step is sent (or as a case this daemon does
 * not hold). */
static void
dry_run_one(struct run *run, const ProtobufCMessage *msg, struct step_result *r)
{
    struct cjx_client_status st;
    Cjx__V1__Case *m;
    if (steps_get_case(run->cli, steps_key_of(msg), 0, &m, &st) != 0 ||
        st.code != 0) {
        r->code = st.code;
        snprintf(r->message, sizeof(r->message), "%s", st.message);
        return;
    }
    struct cjx_case c;
    if (case_from_message(m, &c) != 0) {
        result_refused(r, CJX_ESTORE,
                       "the daemon sent a case that cannot be "
                       "read");
        protobuf_c_message_free_unpacked(&m->base, NULL);
        return;
    }
    r->state = c.state;
    if (run->kind->role == CJX_ROLE_DEFENDER) {
        /* M4 is about a challenge: there is none to tell the person of
         * before the prosecutor challenged. */
        if (c.decision.kind != CJX_DECISION_CHALLENGE)
            result_refused(r, CJX_ESTATE,
                           "the prosecutor has not challenged this case: "
                           "there is no challenge to notify the person of");
        protobuf_c_message_free_unpacked(&m->base, NULL);
        return;
    }
    struct cjx_agency sender = {.role = run->kind->role, .county = c.county};
    snprintf(sender.ori, sizeof(sender.ori), "%s",
             c.prosecutor_ori[0] != '\0' &&
                     run->kind->role == CJX_ROLE_PROSECUTOR
                 ? c.prosecutor_ori
                 : "CA0000000");
    if (run->kind->role == CJX_ROLE_DOJ)
        sender.county = "";
    struct cjx_case_event ev;
    case_event_of(msg, &sender, &ev);
    int64_t now = cjx_clock_now_us();
    ev.at_us = now;
    struct cjx_workflow_policy policy;
    policy_of_case(&c, &policy);
    struct cjx_case next;
    struct cjx_errbuf eb;
    int err = cjx_workflow_apply(&c, &ev, &policy, now, &next, &eb);
    if (err != 0)
        result_refused(r, err, eb.msg);
    else
        r->unchanged = next.version == c.version;
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

/* ---- sending ---------------------------------------------------------------- */

static void
send_one(struct run *run, const ProtobufCMessage *msg, struct step_result *r)
{
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st;
    int err = cjx_client_unary(
        run->cli->client, &cjx__v1__case_service__methods[run->kind->method],
        msg, run->cli->timeout_ms, &resp, &st);
    r->code = st.code;
    snprintf(r->message, sizeof(r->message), "%s",
             err != 0 && st.code == 0 ? cjx_strerror(err) : st.message);
    if (err != 0 && r->code == 0)
        r->code = CJX_STATUS_UNAVAILABLE; /* the call could not be made */
    if (resp != NULL) {
        const Cjx__V1__CaseReply *reply = (const void *)resp;
        r->unchanged = reply->unchanged;
        if (reply->snapshot != NULL)
            r->state = reply->snapshot->state;
        protobuf_c_message_free_unpacked(resp, NULL);
    }
}

/* Sends lines [from, to) in one OrderBulk stream; the results come back in
 * the order of the messages. */
static void
send_bulk_chunk(struct run *run, size_t from, size_t to)
{
    struct cjx_client_stream *s;
    struct cjx_client_status st = {0};
    int err = cjx_client_stream_open(
        run->cli->client,
        &cjx__v1__case_service__methods[CASE_SERVICE_ORDER_BULK], NULL,
        run->cli->timeout_ms, &s);
    ProtobufCMessage *resp = NULL;
    if (err == 0) {
        for (size_t i = from; i < to && err == 0; i++)
            err = cjx_client_stream_write(s, run->in->lines[i].msg);
        cjx_client_stream_finish(s, &resp, &st);
        cjx_client_stream_free(s);
    } else {
        st.code = CJX_STATUS_UNAVAILABLE;
        snprintf(st.message, sizeof(st.message), "%s", cjx_strerror(err));
    }
    const Cjx__V1__CaseResults *rs = (const void *)resp;
    for (size_t i = from; i < to; i++) {
        struct step_result *r = &run->results[i];
        const Cjx__V1__CaseResult *one =
            st.code == 0 && rs != NULL && i - from < rs->n_results
                ? rs->results[i - from]
                : NULL;
        if (one == NULL) {
            r->code = st.code != 0 ? st.code : 13; /* INTERNAL: no answer */
            snprintf(r->message, sizeof(r->message), "%s",
                     st.code != 0 ? st.message : "no result for this order");
            continue;
        }
        r->code = one->code;
        snprintf(r->message, sizeof(r->message), "%s", one->message);
    }
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
}

/* Lines sent one by one go several at a time (fan_out.h); every line of
 * one case goes to the same thread, which sends its lines in the order of
 * the file, so that the steps of a case arrive as the file has them. */
static unsigned
lane_of_case(void *arg, size_t i)
{
    const struct run *run = arg;
    const Cjx__V1__RecordKey *k = steps_key_of(run->in->lines[i].msg);
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = k->cii; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = k->court_case_number; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return (h ^ (uint32_t)k->count_number) * 16777619u;
}

static void
send_line(void *arg, size_t i)
{
    struct run *run = arg;
    send_one(run, run->in->lines[i].msg, &run->results[i]);
}

static void
sending_progress(void *arg, size_t done)
{
    steps_progress("sending", done, ((struct run *)arg)->in->n);
}

void
step_run_lines(struct run *run)
{
    size_t n = run->in->n;
    if (!run->dry_run && run->bulk) {
        for (size_t from = 0; from < n; from += BULK_CHUNK) {
            size_t to = from + BULK_CHUNK < n ? from + BULK_CHUNK : n;
            send_bulk_chunk(run, from, to);
            steps_progress("sending", to, n);
        }
        return;
    }
    if (!run->dry_run) {
        cli_fan_out(n, lane_of_case, send_line, sending_progress, run);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        dry_run_one(run, run->in->lines[i].msg, &run->results[i]);
        steps_progress("checking", i + 1, n);
    }
}

/* ---- printing ----------------------------------------------------------------- */

static const char *
result_word(const struct run *run, const struct step_result *r)
{
    if (r->code != 0)
        return run->dry_run ? "would be refused" : "refused";
    if (r->unchanged)
        return run->dry_run ? "already taken" : "unchanged";
    return run->dry_run ? "would be sent" : "accepted";
}

void
step_print_json(const struct run *run)
{
    for (size_t i = 0; i < run->in->n; i++) {
        const ProtobufCMessage *msg = run->in->lines[i].msg;
        const struct step_result *r = &run->results[i];
        Cjx__V1__CaseResult cr = CJX__V1__CASE_RESULT__INIT;
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(msg->descriptor,
                                                            "meta");
        const Cjx__V1__RequestMeta *meta = *(
            const Cjx__V1__RequestMeta *const *)((const char *)msg + f->offset);
        cr.request_id = meta->request_id;
        cr.code = r->code;
        cr.message = (char *)r->message;
        char *request = cjx_json_from_message(msg, CJX_JSON_DATES_AS_STRINGS);
        char *result = cjx_json_from_message(&cr.base, 0);
        printf("{\"line\":%d,\"dryRun\":%s,\"result\":\"%s\",\"request\":%s,"
               "\"status\":%s}\n",
               run->in->lines[i].line, run->dry_run ? "true" : "false",
               result_word(run, r), request ? request : "null",
               result ? result : "null");
        free(request);
        free(result);
    }
}

void
step_print_table(const struct run *run)
{
    static const char *const headers[] = {"LINE", "CASE", "STATE", "RESULT",
                                          "DETAIL"};
    struct cli_table *t = cli_table_new(5, headers);
    size_t rows = 0;
    for (size_t i = 0; i < run->in->n; i++) {
        const struct step_result *r = &run->results[i];
        /* A bulk order of thousands lists its refusals only. */
        if (run->bulk && !run->dry_run && r->code == 0)
            continue;
        char line[16], label[128], detail[600];
        /* Line 0 is the command line. */
        if (run->in->lines[i].line > 0)
            snprintf(line, sizeof(line), "%d", run->in->lines[i].line);
        else
            snprintf(line, sizeof(line), "-");
        steps_case_label(steps_key_of(run->in->lines[i].msg), label,
                         sizeof(label));
        if (r->code != 0)
            snprintf(detail, sizeof(detail), "%s: %s",
                     cjx_client_code_name(r->code), r->message);
        else
            snprintf(detail, sizeof(detail), "-");
        const char *cells[] = {
            line, label,
            r->state
                ? cli_enum_short(&cjx__v1__case_state__descriptor, r->state)
                : "-",
            result_word(run, r), detail};
        cli_table_add(t, cells);
        rows++;
    }
    if (rows > 0)
        cli_table_print(t, stdout);
    cli_table_free(t);

    /* The summary: how many cases came to each result, refusals by code. */
    static const char *const sum_headers[] = {"RESULT", "CASES"};
    t = cli_table_new(2, sum_headers);
    char words[8][64];
    size_t counts[8] = {0}, kinds = 0;
    for (size_t i = 0; i < run->in->n; i++) {
        const struct step_result *r = &run->results[i];
        char word[64];
        if (r->code != 0)
            snprintf(word, sizeof(word), "%s %s", result_word(run, r),
                     cjx_client_code_name(r->code));
        else
            snprintf(word, sizeof(word), "%s", result_word(run, r));
        size_t k = 0;
        while (k < kinds && strcmp(words[k], word) != 0)
            k++;
        if (k == kinds && kinds < 8)
            snprintf(words[kinds++], sizeof(words[0]), "%s", word);
        if (k < kinds)
            counts[k]++;
    }
    for (size_t k = 0; k < kinds; k++) {
        char n[24];
        snprintf(n, sizeof(n), "%zu", counts[k]);
        const char *cells[] = {words[k], n};
        cli_table_add(t, cells);
    }
    printf("%s%zu %s step(s)%s\n", rows > 0 ? "\n" : "", run->in->n,
           run->kind->name, run->dry_run ? ", nothing sent" : "");
    cli_table_print(t, stdout);
    cli_table_free(t);
}
