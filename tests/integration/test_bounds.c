/* Integration tests: what one agency sends cannot break listings or hold
 * the daemon's memory. Records and notices over their bounds are refused,
 * pages of the largest records fit the message limit, never-read streams
 * cost bounded memory and count against their limits, a silent client
 * stream is ended, and a batch stream holds at most its configured number
 * of messages. Real daemons, real mTLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cjx/v1/exchange.methods.h"
#include "cjx/v1/record_service.methods.h"
#include "harness.h"

#define DOJ_ORI      "CA0000001"
#define SF_COURT_ORI "CA038033J"

enum { OK = 0, INVALID_ARGUMENT = 3 };

/* A record near its bounds (about 17 KiB packed): long texts everywhere a
 * real record has them, the most sentence parts and relief entries. */
struct big_record {
    Cjx__V1__SubmitRecordRequest req;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__ConvictionRecord rec;
    Cjx__V1__Person person;
    Cjx__V1__Statute charge, relief_statute;
    Cjx__V1__SentencePart part, *parts[200000];
    Cjx__V1__ReliefEntry relief, *reliefs[8];
    char *statutes[32];
    char cii[16], ccn[32], id[64];
    char text512[513], text128[129], text64[65];
};

static struct big_record *
big_record_new(int i)
{
    struct big_record *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    memset(b->text512, 'D', 512);
    memset(b->text128, 'C', 128);
    memset(b->text64, 'S', 64);
    cjx__v1__submit_record_request__init(&b->req);
    cjx__v1__request_meta__init(&b->meta);
    cjx__v1__conviction_record__init(&b->rec);
    cjx__v1__person__init(&b->person);
    cjx__v1__statute__init(&b->charge);
    cjx__v1__statute__init(&b->relief_statute);
    cjx__v1__sentence_part__init(&b->part);
    cjx__v1__relief_entry__init(&b->relief);
    snprintf(b->cii, sizeof(b->cii), "B%07d", i);
    snprintf(b->ccn, sizeof(b->ccn), "SF-BIG-%d", i);
    snprintf(b->id, sizeof(b->id), "big-%d", i);
    b->person.cii = b->cii;
    b->person.last_name = "TESTER";
    b->charge.section = "11359";
    b->charge.code_raw = b->text128;
    b->charge.description = b->text512;
    b->charge.comment_text = b->text512;
    b->relief_statute = b->charge;
    b->relief.statute = &b->relief_statute;
    b->relief.citation = b->text128;
    b->relief.order_id = b->text128;
    b->part.length = 12;
    for (size_t k = 0; k < 200000; k++)
        b->parts[k] = &b->part;
    for (size_t k = 0; k < 8; k++)
        b->reliefs[k] = &b->relief;
    for (size_t k = 0; k < 32; k++)
        b->statutes[k] = b->text64;
    b->rec.subject = &b->person;
    b->rec.county = "San Francisco";
    b->rec.court_ori = SF_COURT_ORI;
    b->rec.court_case_number = b->ccn;
    b->rec.count_number = 1;
    b->rec.charge = &b->charge;
    b->rec.sentence = b->parts;
    b->rec.n_sentence = 32;
    b->rec.relief_history = b->reliefs;
    b->rec.n_relief_history = 8;
    b->rec.same_case_statutes = b->statutes;
    b->rec.n_same_case_statutes = 32;
    b->meta.request_id = b->id;
    b->req.meta = &b->meta;
    b->req.record = &b->rec;
    return b;
}

static int
call(struct cjx_client *cl, const struct cjx_method *m,
     const ProtobufCMessage *req, ProtobufCMessage **resp,
     struct cjx_client_status *st)
{
    ProtobufCMessage *r = NULL;
    assert_int_equal(cjx_client_unary(cl, m, req, 30000, &r, st), 0);
    if (resp != NULL)
        *resp = r;
    else if (r != NULL)
        protobuf_c_message_free_unpacked(r, NULL);
    return st->code;
}

static const struct cjx_method *
records(int i)
{
    return &cjx__v1__record_service__methods[i];
}

/* ---- records over their bounds --------------------------------------- */

/* Makes one record of the kind: within the message limit, over a
 * bound. */
typedef void (*spoil_fn)(struct big_record *b);

static char *huge_text;

static void
spoil_description(struct big_record *b)
{
    b->charge.description = huge_text; /* 3.9 MB */
}

static void
spoil_sentence(struct big_record *b)
{
    b->rec.n_sentence = 200000;
}

static void
spoil_statutes(struct big_record *b)
{
    static char *many[300000];
    for (size_t k = 0; k < 300000; k++)
        many[k] = "HS 11357";
    b->rec.same_case_statutes = many;
    b->rec.n_same_case_statutes = 300000;
}

static void
spoil_relief_history(struct big_record *b)
{
    static Cjx__V1__ReliefEntry *nine[9];
    for (size_t k = 0; k < 9; k++)
        nine[k] = &b->relief;
    b->rec.relief_history = nine;
    b->rec.n_relief_history = 9;
}

static const struct bound_row {
    const char *name;
    spoil_fn spoil;
    const char *detail; /* the start of the refusal's message */
} bound_rows[] = {
    {"3.9 MB description", spoil_description,
     "record.charge.description: longer than 512 bytes"},
    {"200,000 sentence parts", spoil_sentence,
     "record.sentence: more than 32 entries"},
    {"300,000 same-case statutes", spoil_statutes,
     "record.same_case_statutes: more than 32 entries"},
    {"9 relief entries", spoil_relief_history,
     "record.relief_history: more than 8 entries"},
};

static void
test_bounds__oversized_records__refused_naming_the_field(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&d), 0);
    huge_text = malloc(3900001);
    assert_non_null(huge_text);
    memset(huge_text, 'X', 3900000);
    huge_text[3900000] = '\0';
    struct cjx_client *cl = harness_client_local(&d);
    for (size_t i = 0; i < sizeof(bound_rows) / sizeof(bound_rows[0]); i++) {
        struct big_record *b = big_record_new((int)i);
        bound_rows[i].spoil(b);
        struct cjx_client_status st;
        int code = call(cl, records(RECORD_SERVICE_SUBMIT_RECORD), &b->req.base,
                        NULL, &st);
        if (code != INVALID_ARGUMENT ||
            strncmp(st.message, bound_rows[i].detail,
                    strlen(bound_rows[i].detail)) != 0)
            fail_msg("%s: got %s %s", bound_rows[i].name,
                     cjx_client_code_name(code), st.message);
        /* Nothing was stored. */
        Cjx__V1__GetRecordRequest get = CJX__V1__GET_RECORD_REQUEST__INIT;
        Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
        key.cii = b->cii;
        key.court_case_number = b->ccn;
        key.count_number = 1;
        get.key = &key;
        assert_int_equal(
            call(cl, records(RECORD_SERVICE_GET_RECORD), &get.base, NULL, &st),
            5 /* NOT_FOUND */);
        free(b);
    }
    free(huge_text);
    cjx_client_free(cl);
    harness_daemon_stop(&d);
    harness_daemon_cleanup(&d);
}

/* A candidate notice carries the person's history: 1,001 events are more
 * than a notice may hold. */
static void
test_bounds__notice_history_over_its_bound__refused(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    harness_daemon_init(&d, "sf-da", "CA038013A");
    assert_int_equal(harness_daemon_start(&d), 0);
    struct cjx_client *cl = harness_client_local(&d);
    struct big_record *b = big_record_new(1);
    Cjx__V1__CandidateNotice n = CJX__V1__CANDIDATE_NOTICE__INIT;
    Cjx__V1__Determination det = CJX__V1__DETERMINATION__INIT;
    Cjx__V1__PersonHistory hist = CJX__V1__PERSON_HISTORY__INIT;
    Cjx__V1__HistoryEvent ev = CJX__V1__HISTORY_EVENT__INIT;
    static Cjx__V1__HistoryEvent *events[1001];
    for (size_t k = 0; k < 1001; k++)
        events[k] = &ev;
    hist.cii = b->cii;
    hist.events = events;
    hist.n_events = 1001;
    n.meta = &b->meta;
    n.record = &b->rec;
    n.determination = &det;
    n.history = &hist;
    struct cjx_client_status st;
    int code =
        call(cl, &cjx__v1__case_service__methods[CASE_SERVICE_NOTIFY_CANDIDATE],
             &n.base, NULL, &st);
    assert_int_equal(code, INVALID_ARGUMENT);
    assert_non_null(
        strstr(st.message, "history.events: more than 1000 entries (1001)"));
    free(b);
    cjx_client_free(cl);
    harness_daemon_stop(&d);
    harness_daemon_cleanup(&d);
}

/* ---- pages of the largest records ------------------------------------ */

#define BIG_RECORDS 70

static void
submit_big_records(struct cjx_client *cl)
{
    for (int i = 0; i < BIG_RECORDS; i++) {
        struct big_record *b = big_record_new(100 + i);
        struct cjx_client_status st;
        int code = call(cl, records(RECORD_SERVICE_SUBMIT_RECORD), &b->req.base,
                        NULL, &st);
        if (code != OK)
            fail_msg("record %d: %s %s", i, cjx_client_code_name(code),
                     st.message);
        free(b);
    }
}

/* With a 64 KiB message limit, a page of a thousand records near their
 * bounds would be a megabyte: pages end at the byte budget instead, and
 * their tokens lead through every record once. */
static void
test_bounds__pages_of_large_records__fit_and_cover_all(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    d.max_message_bytes = 64 * 1024;
    harness_daemon_init(&d, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&d), 0);
    struct cjx_client *cl = harness_client_local(&d);
    submit_big_records(cl);
    struct cjx_client *peer = harness_client_tls(&d, "doj");
    char token[32] = "";
    int seen = 0, pages = 0;
    do {
        Cjx__V1__ListRecordsRequest req = CJX__V1__LIST_RECORDS_REQUEST__INIT;
        req.filter_case = CJX__V1__LIST_RECORDS_REQUEST__FILTER_COUNTY;
        req.county = "San Francisco";
        req.page_size = 1000;
        req.page_token = token;
        ProtobufCMessage *m = NULL;
        struct cjx_client_status st;
        int code =
            call(pages % 2 ? cl : peer, records(RECORD_SERVICE_LIST_RECORDS),
                 &req.base, &m, &st);
        if (code != OK)
            fail_msg("page %d: %s %s", pages, cjx_client_code_name(code),
                     st.message);
        Cjx__V1__ListRecordsResponse *r = (Cjx__V1__ListRecordsResponse *)m;
        assert_true(protobuf_c_message_get_packed_size(m) <= 64 * 1024);
        assert_true(r->n_records > 0);
        seen += (int)r->n_records;
        snprintf(token, sizeof(token), "%s", r->next_page_token);
        protobuf_c_message_free_unpacked(m, NULL);
        pages++;
    } while (token[0] != '\0');
    assert_int_equal(seen, BIG_RECORDS);
    assert_true(pages > 1);
    cjx_client_free(peer);
    cjx_client_free(cl);
    harness_daemon_stop(&d);
    harness_daemon_cleanup(&d);
}

/* ---- streams --------------------------------------------------------- */

/* Streams that are never read: each holds at most its read-ahead
 * (stream_buffer_bytes) and the message in flight; beyond
 * max_streams_per_connection they are refused. The RSS growth allowed is
 * derived from those limits: per open stream the read-ahead, two messages
 * (one packed for gRPC, one decoded) and 64 KiB of gRPC's own, plus 8 MiB
 * for the allocator and gRPC's connection. */
/* Under ThreadSanitizer (the whole build carries it, the daemon too) the
 * daemon's resident set also holds TSan's shadow of every byte it touches
 * (two to four bytes per byte, by runtime version) and the slack of TSan's
 * allocator: the same streams grew it by 25 MB there against 4.3 MB in a
 * normal build. There the bound is five times as large; it still fails a
 * daemon that buffers without limit. */
#if defined(__SANITIZE_THREAD__)
#define HOLD_SHADOW_FACTOR 5
#else
#define HOLD_SHADOW_FACTOR 1
#endif
#define HOLD_BUFFER  (64 * 1024)
#define HOLD_MESSAGE (64 * 1024)
#define HOLD_LIMIT   40
#define HOLD_OPENED  45

static void
test_bounds__never_read_streams__bounded_memory_and_count(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    d.max_message_bytes = HOLD_MESSAGE;
    d.limits_yaml = "  stream_buffer_bytes: 65536\n"
                    "  max_streams_per_connection: 40\n"
                    "  max_streams_per_agency: 40\n"
                    "  max_concurrent_streams: 100\n";
    harness_daemon_init(&d, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&d), 0);
    struct cjx_client *cl = harness_client_local(&d);
    submit_big_records(cl);
    cjx_client_free(cl);

    long bound_kb = ((long)HOLD_LIMIT *
                         (HOLD_BUFFER + 2 * HOLD_MESSAGE + 64 * 1024) / 1024 +
                     8 * 1024) *
                    HOLD_SHADOW_FACTOR;
    char env[32], out[2048];
    snprintf(env, sizeof(env), "%d", HOLD_OPENED);
    setenv("CJX_RAWPEER_STREAMS", env, 1);
    snprintf(env, sizeof(env), "%d", (int)d.pid);
    setenv("CJX_RAWPEER_PID", env, 1);
    snprintf(env, sizeof(env), "%ld", bound_kb);
    setenv("CJX_RAWPEER_RSS_MAX_KB", env, 1);
    int rc =
        harness_rawpeer(&d, "hold-watch", NULL, "doj", 60, out, sizeof(out));
    assert_int_equal(rc, 0);
    char want[64];
    snprintf(want, sizeof(want), "opened=%d refused=%d", HOLD_LIMIT,
             HOLD_OPENED - HOLD_LIMIT);
    assert_non_null(strstr(out, want));
    assert_int_equal(harness_log_count(&d, "limits.max_streams_per_connection: "
                                           "this connection already has 40 "
                                           "open streams"),
                     HOLD_OPENED - HOLD_LIMIT);
    harness_daemon_stop(&d);
    harness_daemon_cleanup(&d);
}

/* A client stream with no message and no half-close is ended once
 * stream_idle_timeout_s has passed, saying why. */
static void
test_bounds__silent_client_stream__ended(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    d.limits_yaml = "  stream_idle_timeout_s: 1\n";
    harness_daemon_init(&d, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&d), 0);
    char out[512];
    assert_int_equal(
        harness_rawpeer(&d, "idle-stream", NULL, "doj", 30, out, sizeof(out)),
        0);
    assert_true(harness_log_contains(
        &d, "no message and no half-close from the client for 1 s "
            "(limits.stream_idle_timeout_s)"));
    harness_daemon_stop(&d);
    harness_daemon_cleanup(&d);
}

/* A batch stream holds at most limits.bulk_max_messages messages: one more
 * ends the call with RESOURCE_EXHAUSTED naming the key, and a stream
 * within the limit is answered message by message. The SF court submits
 * its county's records over mTLS. */
static int
submit_stream(struct cjx_client *cl, int first, int n, char *why, size_t len)
{
    struct cjx_client_stream *s;
    assert_int_equal(
        cjx_client_stream_open(cl, records(RECORD_SERVICE_SUBMIT_RECORDS), NULL,
                               30000, &s),
        0);
    for (int i = first; i < first + n; i++) {
        struct big_record *b = big_record_new(i);
        /* The daemon may end the call before the last write. */
        (void)cjx_client_stream_write(s, &b->req.base);
        free(b);
    }
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st;
    cjx_client_stream_finish(s, &resp, &st);
    snprintf(why, len, "%s", st.message);
    if (st.code == OK) {
        assert_non_null(resp);
        const Cjx__V1__SubmitRecordsResponse *r =
            (const Cjx__V1__SubmitRecordsResponse *)resp;
        assert_int_equal(r->n_results, n);
        assert_int_equal(r->accepted, n);
    }
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    cjx_client_stream_free(s);
    return st.code;
}

static void
test_bounds__bulk_stream_over_its_limit__refused_naming_the_key(void **state)
{
    (void)state;
    struct test_daemon d = {0};
    d.limits_yaml = "  bulk_max_messages: 3\n";
    harness_daemon_init(&d, "doj", DOJ_ORI);
    assert_int_equal(harness_daemon_start(&d), 0);
    struct cjx_client *cl = harness_client_tls(&d, "sf-court");
    char why[512];
    assert_int_equal(submit_stream(cl, 100, 4, why, sizeof(why)),
                     8 /* RESOURCE_EXHAUSTED */);
    assert_string_equal(why, "limits.bulk_max_messages: more than 3 messages "
                             "in one SubmitRecords stream; split them into "
                             "several streams");
    assert_int_equal(submit_stream(cl, 200, 3, why, sizeof(why)), OK);
    cjx_client_free(cl);
    harness_daemon_stop(&d);
    harness_daemon_cleanup(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_bounds__oversized_records__refused_naming_the_field),
        cmocka_unit_test(test_bounds__notice_history_over_its_bound__refused),
        cmocka_unit_test(
            test_bounds__pages_of_large_records__fit_and_cover_all),
        cmocka_unit_test(
            test_bounds__never_read_streams__bounded_memory_and_count),
        cmocka_unit_test(test_bounds__silent_client_stream__ended),
        cmocka_unit_test(
            test_bounds__bulk_stream_over_its_limit__refused_naming_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
