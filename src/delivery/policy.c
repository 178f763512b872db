/* The delivery worker's decisions (policy.h). */
#include "policy.h"

#include <stdio.h>
#include <string.h>

#include "cjx/error.h"

int64_t
delivery_backoff_us(const struct delivery_backoff *b, int attempts)
{
    int64_t wait = b->initial_us;
    for (int i = 0; i < attempts && wait < b->max_us; i++)
        wait *= 2;
    return wait < b->max_us ? wait : b->max_us;
}

int64_t
delivery_linger_us(int64_t idle_us, int64_t linger_us)
{
    return idle_us < linger_us ? linger_us : 0;
}

/* Whether a refusal of one message is worth repeating. */
static int
item_retryable(int code, int retry_later)
{
    switch (code) {
    case CJX_STATUS_DEADLINE_EXCEEDED:
    case CJX_STATUS_RESOURCE_EXHAUSTED:
    case CJX_STATUS_ABORTED:
    case CJX_STATUS_INTERNAL: /* the peer's store failed */
    case CJX_STATUS_UNAVAILABLE:
        return 1;
    case CJX_STATUS_FAILED_PRECONDITION:
        return retry_later;
    default:
        return 0;
    }
}

/* Whether a refusal of a whole call is worth repeating: everything but a
 * message this daemon cannot make acceptable. */
static int
call_retryable(int code)
{
    return code != CJX_STATUS_INVALID_ARGUMENT &&
           code != CJX_STATUS_UNIMPLEMENTED;
}

static void
mark(struct cjx_outbox_mark *m, int64_t id, enum cjx_outbox_outcome outcome,
     int64_t at, const char *error)
{
    *m = (struct cjx_outbox_mark){
        .id = id, .outcome = outcome, .next_attempt_us = at, .error = error};
}

static int64_t
retry_at(const struct delivery_backoff *b, const struct delivery_row *r,
         int64_t now_us)
{
    return now_us +
           b->jitter(b->jitter_arg, delivery_backoff_us(b, r->attempts));
}

static void
decide_call_failure(const struct delivery_row *rows, size_t n,
                    const struct delivery_answer *a,
                    const struct delivery_backoff *b, int64_t now_us,
                    const char *endpoint, struct cjx_outbox_mark *marks,
                    char (*why)[DELIVERY_WHY_LEN], struct delivery_verdict *v)
{
    /* One reason for every row, kept in the first row's room. */
    if (a->transport_err != 0)
        snprintf(why[0], DELIVERY_WHY_LEN, "%s: %s", endpoint,
                 cjx_strerror(a->transport_err));
    else if (a->code != CJX_STATUS_OK)
        snprintf(why[0], DELIVERY_WHY_LEN, "%s: %s",
                 cjx_status_code_name(a->code),
                 a->message != NULL ? a->message : "");
    else
        snprintf(why[0], DELIVERY_WHY_LEN,
                 "the peer's answer does not match the batch");
    v->peer_failed = 1;
    int answered = a->transport_err == 0 && a->code != CJX_STATUS_OK;
    if (answered && n > 1 &&
        (a->code == CJX_STATUS_RESOURCE_EXHAUSTED ||
         a->code == CJX_STATUS_INVALID_ARGUMENT)) {
        v->shrink = 1;
        for (size_t i = 0; i < n; i++)
            mark(&marks[i], rows[i].id, CJX_OUTBOX_MARK_RETRY, now_us, why[0]);
        v->retried = n;
        return;
    }
    if (answered && !call_retryable(a->code)) {
        v->refused_all = 1;
        for (size_t i = 0; i < n; i++)
            mark(&marks[i], rows[i].id, CJX_OUTBOX_MARK_PARK, 0, why[0]);
        v->parked = n;
        return;
    }
    for (size_t i = 0; i < n; i++)
        mark(&marks[i], rows[i].id, CJX_OUTBOX_MARK_RETRY,
             retry_at(b, &rows[i], now_us), why[0]);
    v->retried = n;
}

void
delivery_decide(const struct delivery_row *rows, size_t n,
                const struct delivery_answer *a,
                const struct delivery_backoff *b, int64_t now_us,
                const char *endpoint, struct cjx_outbox_mark *marks,
                char (*why)[DELIVERY_WHY_LEN], struct delivery_verdict *v)
{
    memset(v, 0, sizeof(*v));
    if (n == 0)
        return;
    if (a->transport_err != 0 || a->code != CJX_STATUS_OK ||
        a->results == NULL || a->results->n_results != n) {
        decide_call_failure(rows, n, a, b, now_us, endpoint, marks, why, v);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const Cjx__V1__CaseResult *r = a->results->results[i];
        if (r->code == CJX_STATUS_OK) {
            mark(&marks[i], rows[i].id, CJX_OUTBOX_MARK_DELIVERED, 0, NULL);
            v->delivered++;
            continue;
        }
        snprintf(why[i], DELIVERY_WHY_LEN, "%s: %s",
                 cjx_status_code_name(r->code), r->message);
        if (item_retryable(r->code, r->retry_later)) {
            mark(&marks[i], rows[i].id, CJX_OUTBOX_MARK_RETRY,
                 retry_at(b, &rows[i], now_us), why[i]);
            v->retried++;
        } else {
            mark(&marks[i], rows[i].id, CJX_OUTBOX_MARK_PARK, 0, why[i]);
            v->parked++;
        }
    }
}
