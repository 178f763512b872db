/* Unit tests for src/service/bulk.c: the batch engine driven through
 * operations of the test's own, on a call whose transport and store the
 * test plays by hand, so that each event (a message, the half-close, a
 * cancel, a write's completion) happens exactly when the test says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulk.h"
#include "cjx/v1/exchange.pb-c.h"
#include "cjx/v1/types.pb-c.h"

#define MAX_MSGS 2048
#define ORI      "CA0000001"

/* A call with the ops the engine uses, counting what it is asked. */
struct fake_call {
    struct cjx_call base;
    struct cjx_arena arena;
    struct cjx_conf conf;
    struct cjx_agency agency;
    int refs;       /* references the handler holds */
    int asks;       /* request_next calls */
    int fails;      /* fail calls */
    int status;     /* the status fail gave */
    char why[256];  /* its detail */
    int tokens;     /* rate limit: tokens left, -1 for none */
    int token_asks; /* take_token calls */
    /* The fake store: writes queued and not completed, by arrival. */
    struct bulk_item *queued[MAX_MSGS];
    size_t n_queued;
    int submits; /* writes the ops queued */
    /* The reply the batch ops built, copied. */
    int replies;
    size_t n, accepted;
    int codes[MAX_MSGS];
    int retry[MAX_MSGS];
    char ids[MAX_MSGS][16];
    char msgs[MAX_MSGS][96];
};

static struct fake_call *
fake(struct cjx_call *c)
{
    return (struct fake_call *)c;
}

static void
op_reply(struct cjx_call *c, const ProtobufCMessage *msg)
{
    (void)c;
    (void)msg;
    fail_msg("the engine replies through its batch ops only");
}

static void
op_fail(struct cjx_call *c, int err, const char *detail)
{
    struct fake_call *fc = fake(c);
    fc->fails++;
    fc->status = cjx_err_status_code(err);
    snprintf(fc->why, sizeof(fc->why), "%s", detail);
}

static void
op_request_next(struct cjx_call *c)
{
    fake(c)->asks++;
}

static void
op_ref(struct cjx_call *c)
{
    fake(c)->refs++;
}

static void
op_unref(struct cjx_call *c)
{
    fake(c)->refs--;
}

static int
op_take_token(struct cjx_call *c, int64_t *retry_after_ms)
{
    struct fake_call *fc = fake(c);
    fc->token_asks++;
    if (fc->tokens < 0)
        return 1;
    if (fc->tokens == 0) {
        *retry_after_ms = 25;
        return 0;
    }
    fc->tokens--;
    return 1;
}

static const struct cjx_call_ops fake_ops = {
    .reply = op_reply,
    .fail = op_fail,
    .request_next = op_request_next,
    .ref = op_ref,
    .unref = op_unref,
    .take_token = op_take_token,
};

static const struct cjx_method put_method = {
    .path = "/test.Bulk/Put",
    .name = "Put",
    .client_streaming = 1,
    .input = &cjx__v1__request_meta__descriptor,
};

/* ---- the batch's ops: a message is a RequestMeta; its id says what the
 * fake store does with it ------------------------------------------------ */

static const char *
meta_request_id(const ProtobufCMessage *msg)
{
    const char *id = ((const Cjx__V1__RequestMeta *)msg)->request_id;
    return id[0] != '\0' ? id : NULL;
}

static int
has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "bad…": refused by the check; "full…": the store refuses to queue it;
 * "now…": completed before submit returns; "cancel…": the client goes away
 * while it is handled; anything else waits in the fake store. */
static int
meta_submit(struct cjx_call *c, const ProtobufCMessage *msg,
            struct bulk_item *item, struct cjx_arena *scratch,
            struct cjx_errbuf *eb, int *retry_later)
{
    struct fake_call *fc = fake(c);
    const char *id = ((const Cjx__V1__RequestMeta *)msg)->request_id;
    assert_non_null(cjx_arena_alloc(scratch, 64));
    if (has_prefix(id, "bad"))
        return cjx_errf(eb, CJX_EINVAL, "request_id: %s is refused", id);
    if (has_prefix(id, "full")) {
        *retry_later = 1;
        return cjx_errf(eb, CJX_EBUSY, "the store's queue is full");
    }
    fc->submits++;
    if (has_prefix(id, "now")) {
        bulk_item_done(item, 0, NULL, 0);
        return 0;
    }
    if (has_prefix(id, "cancel"))
        bulk_on_cancel(c);
    fc->queued[fc->n_queued++] = item;
    return 0;
}

/* A message's result as the case streams answer it; none (as when out of
 * memory) for a message whose id starts with "unanswerable". */
static ProtobufCMessage *
meta_result(struct cjx_arena *arena, const struct bulk_item *item)
{
    if (item->request_id != NULL &&
        has_prefix(item->request_id, "unanswerable"))
        return NULL;
    Cjx__V1__CaseResult *res = cjx_arena_alloc(arena, sizeof(*res));
    assert_non_null(res);
    cjx__v1__case_result__init(res);
    bulk_item_outcome(item, &res->request_id, &res->code, &res->message);
    res->retry_later = item->retry_later;
    return &res->base;
}

static void
meta_reply(struct cjx_call *c, ProtobufCMessage **results, size_t n,
           size_t accepted)
{
    struct fake_call *fc = fake(c);
    fc->replies++;
    fc->n = n;
    fc->accepted = accepted;
    for (size_t i = 0; i < n; i++) {
        const Cjx__V1__CaseResult *res =
            (const Cjx__V1__CaseResult *)results[i];
        fc->codes[i] = res->code;
        fc->retry[i] = res->retry_later;
        snprintf(fc->ids[i], sizeof(fc->ids[i]), "%s", res->request_id);
        snprintf(fc->msgs[i], sizeof(fc->msgs[i]), "%s", res->message);
    }
}

static const struct bulk_ops meta_ops = {
    .request_id = meta_request_id,
    .submit = meta_submit,
    .result = meta_result,
    .reply = meta_reply,
};

/* ---- driving the call ---------------------------------------------------- */

struct fixture {
    struct fake_call fc;
    Cjx__V1__RequestMeta msgs[MAX_MSGS];
    char ids[MAX_MSGS][16];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct fake_call *fc = &f->fc;
    fc->base.ops = &fake_ops;
    fc->base.method = &put_method;
    fc->base.conf = &fc->conf;
    fc->conf.limits.bulk_max_messages = 10000;
    fc->conf.limits.rate_limit_per_agency = 5;
    snprintf(fc->agency.ori, sizeof(fc->agency.ori), "%s", ORI);
    fc->base.caller.agency = &fc->agency;
    cjx_arena_init(&fc->arena, NULL, 0, 0);
    fc->base.arena = &fc->arena;
    fc->tokens = -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    cjx_arena_fini(&f->fc.arena);
    free(f);
    return 0;
}

/* The i-th message of the fixture, with request id id. */
static const ProtobufCMessage *
msg(struct fixture *f, size_t i, const char *id)
{
    cjx__v1__request_meta__init(&f->msgs[i]);
    snprintf(f->ids[i], sizeof(f->ids[i]), "%s", id);
    f->msgs[i].request_id = f->ids[i];
    return &f->msgs[i].base;
}

/* Sends the message with id as the next of the stream. */
static void
send(struct fixture *f, size_t i, const char *id)
{
    bulk_on_message(&f->fc.base, msg(f, i, id));
}

/* Completes the i-th write still queued in the fake store. */
static void
complete(struct fake_call *fc, size_t i, int err, const char *detail)
{
    assert_true(i < fc->n_queued);
    struct bulk_item *item = fc->queued[i];
    fc->queued[i] = NULL;
    bulk_item_done(item, err, detail, 0);
}

/* Completes every write still queued, accepted. */
static void
complete_all(struct fake_call *fc)
{
    for (size_t i = 0; i < fc->n_queued; i++)
        if (fc->queued[i] != NULL)
            complete(fc, i, 0, NULL);
}

/* The batch is gone and the call's reference with it. */
static void
assert_released(struct fake_call *fc)
{
    assert_int_equal(fc->refs, 0);
    assert_null(fc->base.state);
}

/* ---- the ordinary path ---------------------------------------------------- */

static void
test_bulk__stream__answers_each_message_in_order_after_the_last_write(
    void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    bulk_stream_begin(&fc->base, &meta_ops);
    assert_int_equal(fc->asks, 1);
    assert_int_equal(fc->refs, 1);
    send(f, 0, "m1");
    send(f, 1, "bad-m2");
    send(f, 2, "m3");
    assert_int_equal(fc->asks, 4);
    assert_int_equal(fc->submits, 2);
    bulk_on_end(&fc->base);
    /* Two writes are still queued: no answer yet. */
    assert_int_equal(fc->replies, 0);
    assert_int_equal(fc->refs, 1);
    complete(fc, 1, 0, NULL); /* m3 before m1 */
    assert_int_equal(fc->replies, 0);
    complete(fc, 0, 0, NULL);
    assert_int_equal(fc->replies, 1);
    assert_int_equal(fc->fails, 0);
    assert_int_equal(fc->n, 3);
    assert_int_equal(fc->accepted, 2);
    assert_string_equal(fc->ids[0], "m1");
    assert_int_equal(fc->codes[0], CJX_STATUS_OK);
    assert_string_equal(fc->ids[1], "bad-m2");
    assert_int_equal(fc->codes[1], CJX_STATUS_INVALID_ARGUMENT);
    assert_string_equal(fc->msgs[1], "request_id: bad-m2 is refused");
    assert_string_equal(fc->ids[2], "m3");
    assert_int_equal(fc->codes[2], CJX_STATUS_OK);
    assert_string_equal(fc->msgs[2], "");
    /* The refusal is told once, in the call's note. */
    assert_string_equal(fc->base.audit.note,
                        "1 of 3 messages refused: [bad-m2] INVALID_ARGUMENT: "
                        "request_id: bad-m2 is refused");
    assert_int_equal(fc->asks, 4); /* nothing read after the half-close */
    assert_released(fc);
}

/* A write completed before its submit returned, then the half-close: the
 * answer goes at once. */
static void
test_bulk__half_close_with_nothing_queued__replies_at_once(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    bulk_stream_begin(&fc->base, &meta_ops);
    send(f, 0, "now-1");
    send(f, 1, "now-2");
    assert_int_equal(fc->replies, 0);
    bulk_on_end(&fc->base);
    assert_int_equal(fc->replies, 1);
    assert_int_equal(fc->n, 2);
    assert_int_equal(fc->codes[0], CJX_STATUS_OK);
    assert_int_equal(fc->codes[1], CJX_STATUS_OK);
    assert_null(fc->base.audit.note);
    assert_released(fc);
}

static void
test_bulk__empty_stream__replies_with_no_results(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    bulk_stream_begin(&fc->base, &meta_ops);
    bulk_on_end(&fc->base);
    assert_int_equal(fc->replies, 1);
    assert_int_equal(fc->n, 0);
    assert_released(fc);
}

/* ---- back-pressure --------------------------------------------------------- */

static void
test_bulk__window_full__reading_pauses_until_half_drained(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    char id[16];
    bulk_stream_begin(&fc->base, &meta_ops);
    for (size_t i = 0; i < BULK_WINDOW; i++) {
        snprintf(id, sizeof(id), "w%zu", i);
        send(f, i, id);
    }
    /* The first ask, and one after each message but the last. */
    assert_int_equal(fc->asks, BULK_WINDOW);
    for (size_t i = 0; i < BULK_WINDOW / 2; i++)
        complete(fc, i, 0, NULL);
    assert_int_equal(fc->asks, BULK_WINDOW); /* half still queued */
    complete(fc, BULK_WINDOW / 2, 0, NULL);
    assert_int_equal(fc->asks, BULK_WINDOW + 1);
    /* Further completions do not ask twice. */
    complete(fc, BULK_WINDOW / 2 + 1, 0, NULL);
    assert_int_equal(fc->asks, BULK_WINDOW + 1);
    bulk_on_end(&fc->base);
    complete_all(fc);
    assert_int_equal(fc->replies, 1);
    assert_int_equal(fc->n, BULK_WINDOW);
    assert_released(fc);
}

/* ---- the limit --------------------------------------------------------------- */

static void
test_bulk__over_the_limit__fails_the_call_and_reads_no_more(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    fc->conf.limits.bulk_max_messages = 3;
    bulk_stream_begin(&fc->base, &meta_ops);
    send(f, 0, "o1");
    send(f, 1, "bad-o2");
    send(f, 2, "o3");
    assert_int_equal(fc->asks, 4);
    send(f, 3, "o4");
    assert_int_equal(fc->fails, 1);
    assert_int_equal(fc->status, CJX_STATUS_RESOURCE_EXHAUSTED);
    assert_string_equal(fc->why,
                        "limits.bulk_max_messages: more than 3 messages in "
                        "one Put stream; split them into several streams");
    assert_int_equal(fc->asks, 4);
    assert_int_equal(fc->submits, 2); /* o4 went nowhere */
    /* The writes queued before the cut still complete, then the state
     * goes; the call was answered by its failure only. */
    assert_int_equal(fc->refs, 1);
    complete(fc, 0, 0, NULL);
    assert_int_equal(fc->refs, 1);
    complete(fc, 1, CJX_ESTORE, "disk I/O error");
    assert_int_equal(fc->replies, 0);
    assert_string_equal(fc->base.audit.note,
                        "2 of 3 messages refused: [bad-o2] INVALID_ARGUMENT: "
                        "request_id: bad-o2 is refused; [o3] INTERNAL: disk "
                        "I/O error");
    assert_released(fc);
}

/* The limit read as the stream begins holds for it. */
static void
test_bulk__limit__taken_from_the_configuration_at_the_start(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    fc->conf.limits.bulk_max_messages = 1;
    bulk_stream_begin(&fc->base, &meta_ops);
    fc->conf.limits.bulk_max_messages = 10000;
    send(f, 0, "now-1");
    assert_int_equal(fc->fails, 0);
    send(f, 1, "now-2");
    assert_int_equal(fc->fails, 1);
    assert_int_equal(fc->status, CJX_STATUS_RESOURCE_EXHAUSTED);
    assert_released(fc);
}

/* ---- the store ------------------------------------------------------------------ */

/* A write the store refuses to queue, and one that fails after queueing,
 * each answer that message alone; the stream goes on. */
static void
test_bulk__store_failure__answers_that_message_and_goes_on(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    bulk_stream_begin(&fc->base, &meta_ops);
    send(f, 0, "full-1");
    send(f, 1, "s2");
    send(f, 2, "s3");
    assert_int_equal(fc->asks, 4);
    complete(fc, 0, CJX_ESTORE, NULL);
    complete(fc, 1, 0, NULL);
    bulk_on_end(&fc->base);
    assert_int_equal(fc->replies, 1);
    assert_int_equal(fc->fails, 0);
    assert_int_equal(fc->codes[0], CJX_STATUS_UNAVAILABLE);
    assert_string_equal(fc->msgs[0], "the store's queue is full");
    assert_int_equal(fc->retry[0], 1);
    assert_int_equal(fc->codes[1], CJX_STATUS_INTERNAL);
    assert_string_equal(fc->msgs[1], cjx_strerror(CJX_ESTORE));
    assert_int_equal(fc->retry[1], 0);
    assert_int_equal(fc->codes[2], CJX_STATUS_OK);
    assert_released(fc);
}

/* A reply that cannot be built fails the call instead. */
static void
test_bulk__result_not_built__fails_the_call(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    bulk_stream_begin(&fc->base, &meta_ops);
    send(f, 0, "now-1");
    send(f, 1, "unanswerable-2");
    bulk_on_end(&fc->base);
    complete_all(fc);
    assert_int_equal(fc->replies, 0);
    assert_int_equal(fc->fails, 1);
    assert_int_equal(fc->status, CJX_STATUS_RESOURCE_EXHAUSTED);
    assert_string_equal(fc->why, "out of memory building the response");
    assert_released(fc);
}

/* ---- the rate limit ---------------------------------------------------------------- */

static void
test_bulk__rate_limit__rest_refused_unchecked_for_later(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    fc->tokens = 1;
    bulk_stream_begin(&fc->base, &meta_ops);
    send(f, 0, "now-1"); /* rides on the call's own token */
    send(f, 1, "now-2");
    send(f, 2, "now-3");
    send(f, 3, "bad-4"); /* not even checked */
    bulk_on_end(&fc->base);
    assert_int_equal(fc->token_asks, 2);
    assert_int_equal(fc->submits, 2);
    assert_int_equal(fc->codes[1], CJX_STATUS_OK);
    for (size_t i = 2; i < 4; i++) {
        assert_int_equal(fc->codes[i], CJX_STATUS_RESOURCE_EXHAUSTED);
        assert_int_equal(fc->retry[i], 1);
        assert_string_equal(fc->msgs[i], "agency " ORI " is over its limit "
                                         "of 5 requests/s; retry after 25 ms");
    }
    assert_released(fc);
}

/* ---- the client going away -------------------------------------------------------- */

/* Cancelled with a read pending: the transport's failed read (on_end)
 * follows; the writes complete, nobody is answered. */
static void
test_bulk__cancel_mid_stream__no_reply_and_writes_complete(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    bulk_stream_begin(&fc->base, &meta_ops);
    send(f, 0, "c1");
    send(f, 1, "c2");
    bulk_on_cancel(&fc->base);
    assert_int_equal(fc->refs, 1);
    bulk_on_end(&fc->base);
    assert_int_equal(fc->refs, 1); /* two writes still hold it */
    complete(fc, 1, 0, NULL);
    complete(fc, 0, 0, NULL);
    assert_int_equal(fc->replies, 0);
    assert_int_equal(fc->fails, 0);
    assert_int_equal(fc->asks, 3);
    assert_released(fc);
}

/* Cancelled while reading is paused: no read is pending, so nothing more
 * comes from the transport and the last write releases the batch without
 * asking for another message. */
static void
test_bulk__cancel_while_paused__ends_without_another_read(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    char id[16];
    bulk_stream_begin(&fc->base, &meta_ops);
    for (size_t i = 0; i < BULK_WINDOW; i++) {
        snprintf(id, sizeof(id), "p%zu", i);
        send(f, i, id);
    }
    int asks = fc->asks;
    bulk_on_cancel(&fc->base);
    assert_int_equal(fc->refs, 1);
    complete_all(fc);
    assert_int_equal(fc->asks, asks);
    assert_int_equal(fc->replies, 0);
    assert_released(fc);
}

/* Cancelled while a message is being handled: that message's handler
 * ends the batch instead of asking for the next. */
static void
test_bulk__cancel_during_a_message__asks_for_no_more(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    bulk_stream_begin(&fc->base, &meta_ops);
    send(f, 0, "c1");
    send(f, 1, "cancel-2");
    assert_int_equal(fc->asks, 2);
    assert_int_equal(fc->refs, 1);
    complete_all(fc);
    assert_int_equal(fc->replies, 0);
    assert_released(fc);
}

/* A cancel after the batch is gone finds no state and does nothing. */
static void
test_bulk__cancel_after_the_end__ignored(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    bulk_stream_begin(&fc->base, &meta_ops);
    send(f, 0, "now-1");
    bulk_on_end(&fc->base);
    assert_released(fc);
    bulk_on_cancel(&fc->base);
    assert_int_equal(fc->refs, 0);
    assert_int_equal(fc->replies, 1);
}

/* ---- a batch in one request ------------------------------------------------------------ */

static void
test_bulk__run__answers_the_batch_once_its_writes_are_done(void **state)
{
    struct fixture *f = *state;
    struct fake_call *fc = &f->fc;
    const ProtobufCMessage *batch[] = {msg(f, 0, "now-1"), msg(f, 1, "r2"),
                                       msg(f, 2, "bad-3"), msg(f, 3, "")};
    bulk_run(&fc->base, &meta_ops, batch, 4);
    assert_int_equal(fc->asks, 0); /* nothing is read from a unary call */
    assert_int_equal(fc->replies, 0);
    assert_int_equal(fc->refs, 1);
    complete(fc, 0, 0, NULL);
    assert_int_equal(fc->replies, 0);
    complete(fc, 1, 0, NULL);
    assert_int_equal(fc->replies, 1);
    assert_int_equal(fc->n, 4);
    assert_int_equal(fc->codes[0], CJX_STATUS_OK);
    assert_int_equal(fc->codes[1], CJX_STATUS_OK);
    assert_int_equal(fc->codes[2], CJX_STATUS_INVALID_ARGUMENT);
    assert_string_equal(fc->ids[3], ""); /* it names no request id */
    assert_int_equal(fc->codes[3], CJX_STATUS_OK);
    assert_released(fc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_bulk__stream__answers_each_message_in_order_after_the_last_write),
        T(test_bulk__half_close_with_nothing_queued__replies_at_once),
        T(test_bulk__empty_stream__replies_with_no_results),
        T(test_bulk__window_full__reading_pauses_until_half_drained),
        T(test_bulk__over_the_limit__fails_the_call_and_reads_no_more),
        T(test_bulk__limit__taken_from_the_configuration_at_the_start),
        T(test_bulk__store_failure__answers_that_message_and_goes_on),
        T(test_bulk__result_not_built__fails_the_call),
        T(test_bulk__rate_limit__rest_refused_unchecked_for_later),
        T(test_bulk__cancel_mid_stream__no_reply_and_writes_complete),
        T(test_bulk__cancel_while_paused__ends_without_another_read),
        T(test_bulk__cancel_during_a_message__asks_for_no_more),
        T(test_bulk__cancel_after_the_end__ignored),
        T(test_bulk__run__answers_the_batch_once_its_writes_are_done),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
