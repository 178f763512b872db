/* Integration tests of the audit log: a real daemon records accepted and
 * refused calls, `cjxctl audit verify` vouches for the log, and names the
 * first bad entry once the SQLite file is tampered with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cjx/v1/audit.methods.h"
#include "cjx/v1/record_service.methods.h"
#include "grpc/health/v1/health.methods.h"
#include "harness.h"

#define DOJ_ORI      "CA0000001"
#define SF_COURT_ORI "CA038033J"
#define SF_DA_ORI    "CA038013A"

enum {
    OK = 0,
    INVALID_ARGUMENT = 3,
    NOT_FOUND = 5,
    PERMISSION_DENIED = 7,
    UNIMPLEMENTED = 12,
    UNAUTHENTICATED = 16
};

static struct test_daemon doj;
static char db[400], pristine[400];

/* ---- calls that the log must show ------------------------------------------ */

struct record_buf {
    Cjx__V1__ConvictionRecord rec;
    Cjx__V1__Person person;
    Cjx__V1__Statute charge;
    Cjx__V1__Date dob, offense, conviction;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__SubmitRecordRequest req;
};

static Cjx__V1__SubmitRecordRequest *
make_request(struct record_buf *b, const char *cii, const char *ccn,
             const char *request_id)
{
    memset(b, 0, sizeof(*b));
    cjx__v1__conviction_record__init(&b->rec);
    cjx__v1__person__init(&b->person);
    cjx__v1__statute__init(&b->charge);
    cjx__v1__date__init(&b->dob);
    cjx__v1__date__init(&b->offense);
    cjx__v1__date__init(&b->conviction);
    cjx__v1__request_meta__init(&b->meta);
    cjx__v1__submit_record_request__init(&b->req);
    b->person.cii = (char *)cii;
    b->person.last_name = "TESTER";
    b->person.first_name = "PAT";
    b->dob.year = 1980;
    b->dob.month = 5;
    b->dob.day = 1;
    b->person.date_of_birth = &b->dob;
    b->charge.section = "11359";
    b->charge.code = "HS";
    b->charge.normalized = "HS 11359";
    b->offense.year = 2012;
    b->offense.month = 3;
    b->offense.day = 2;
    b->conviction.year = 2012;
    b->conviction.month = 6;
    b->conviction.day = 1;
    b->rec.subject = &b->person;
    b->rec.county = "San Francisco";
    b->rec.court_ori = SF_COURT_ORI;
    b->rec.court_case_number = (char *)ccn;
    b->rec.count_number = 1;
    b->rec.offense_date = &b->offense;
    b->rec.conviction_date = &b->conviction;
    b->rec.charge = &b->charge;
    b->rec.level = CJX__V1__OFFENSE_LEVEL__OFFENSE_LEVEL_FELONY;
    b->rec.disposition = CJX__V1__DISPOSITION__DISPOSITION_CONVICTED;
    b->meta.request_id = (char *)request_id;
    b->req.meta = &b->meta;
    b->req.record = &b->rec;
    return &b->req;
}

static int
submit_as(const char *cert, const char *cii, const char *ccn, const char *id)
{
    struct cjx_client *cl = harness_client_tls(&doj, cert);
    struct record_buf b;
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st;
    assert_int_equal(
        cjx_client_unary(
            cl, &cjx__v1__record_service__methods[RECORD_SERVICE_SUBMIT_RECORD],
            &make_request(&b, cii, ccn, id)->base, 10000, &resp, &st),
        0);
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    cjx_client_free(cl);
    return st.code;
}

static int
get_as(const char *cert, const char *cii, const char *ccn)
{
    struct cjx_client *cl = harness_client_tls(&doj, cert);
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    key.cii = (char *)cii;
    key.court_case_number = (char *)ccn;
    key.count_number = 1;
    Cjx__V1__GetRecordRequest req = CJX__V1__GET_RECORD_REQUEST__INIT;
    req.key = &key;
    ProtobufCMessage *resp = NULL;
    struct cjx_client_status st;
    assert_int_equal(
        cjx_client_unary(
            cl, &cjx__v1__record_service__methods[RECORD_SERVICE_GET_RECORD],
            &req.base, 10000, &resp, &st),
        0);
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    cjx_client_free(cl);
    return st.code;
}

static int
raw_as(const char *cert, const char *path, const void *bytes, size_t len)
{
    struct cjx_client *cl = harness_client_tls(&doj, cert);
    void *resp = NULL;
    size_t resp_len;
    struct cjx_client_status st;
    assert_int_equal(cjx_client_unary_raw(cl, path, bytes, len, 10000, &resp,
                                          &resp_len, &st),
                     0);
    free(resp);
    cjx_client_free(cl);
    return st.code;
}

/* ---- reading the log back ---------------------------------------------------- */

struct log {
    Cjx__V1__AuditRecord *rec[512];
    int n;
};

static void
read_log(struct log *l)
{
    struct cjx_client *cl = harness_client_local(&doj);
    Cjx__V1__ExportAuditRequest req = CJX__V1__EXPORT_AUDIT_REQUEST__INIT;
    struct cjx_client_stream *s;
    assert_int_equal(
        cjx_client_stream_open(
            cl, &cjx__v1__audit_service__methods[AUDIT_SERVICE_EXPORT_AUDIT],
            &req.base, 10000, &s),
        0);
    l->n = 0;
    ProtobufCMessage *m;
    while (cjx_client_stream_read(s, &m) == 1) {
        assert_true(l->n < 512);
        l->rec[l->n++] = (Cjx__V1__AuditRecord *)m;
    }
    struct cjx_client_status st;
    cjx_client_stream_finish(s, NULL, &st);
    cjx_client_stream_free(s);
    cjx_client_free(cl);
    assert_int_equal(st.code, OK);
}

static void
free_log(struct log *l)
{
    for (int i = 0; i < l->n; i++)
        protobuf_c_message_free_unpacked(&l->rec[i]->base, NULL);
    l->n = 0;
}

/* The newest entry of the log for method with outcome code, or NULL. */
static const Cjx__V1__AuditEntry *
find(const struct log *l, const char *method, int code)
{
    for (int i = l->n - 1; i >= 0; i--) {
        const Cjx__V1__AuditRecord *r = l->rec[i];
        if (r->item_case == CJX__V1__AUDIT_RECORD__ITEM_ENTRY &&
            strcmp(r->entry->method, method) == 0 &&
            r->entry->outcome_code == code)
            return r->entry;
    }
    return NULL;
}

/* Reads the log until it holds an entry for method with outcome code: a
 * call's entry is queued as the call ends, just after its answer went out,
 * and committed a moment later. */
static void
read_log_with(struct log *l, const char *method, int code)
{
    for (int i = 0; i < 250; i++) {
        read_log(l);
        if (find(l, method, code) != NULL)
            return;
        free_log(l);
        usleep(20 * 1000);
    }
    fail_msg("no entry for %s with outcome %d", method, code);
}

/* ---- running cjxctl and sqlite3 ---------------------------------------------- */

/* Runs cjxctl on the daemon's socket, capturing what it prints. */
static int
cjxctl(const char *args, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s -s %s %s 2>&1", getenv("CJX_CJXCTL"),
             doj.socket, args);
    return harness_run_capture(cmd, out, len);
}

static void
sql(const char *path, const char *statement)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"%s\"", path, statement);
    assert_int_equal(harness_run(cmd), 0);
}

/* ---- fixture: one daemon, calls of every kind, then stopped ------------------- */

static int
start_doj(void **state)
{
    (void)state;
    doj.max_message_bytes = 64 * 1024;
    harness_daemon_init(&doj, "doj", DOJ_ORI);
    snprintf(db, sizeof(db), "%s/state/cjxd.db", doj.dir);
    snprintf(pristine, sizeof(pristine), "%s/pristine.db", doj.dir);
    return harness_daemon_start(&doj);
}

static int
stop_doj(void **state)
{
    (void)state;
    if (doj.pid > 0)
        harness_daemon_stop(&doj);
    harness_daemon_cleanup(&doj);
    return 0;
}

static void
test_audit__accepted_and_refused_calls__are_recorded_with_their_outcome(
    void **state)
{
    (void)state;
    assert_int_equal(submit_as("sf-court", "A40000001", "SF-A1", "aud-1"), OK);
    assert_int_equal(get_as("sf-court", "A40000001", "SF-A1"), OK);
    assert_int_equal(get_as("doj", "A40000099", "SF-A9"), NOT_FOUND);
    assert_int_equal(submit_as("sf-da", "A40000002", "SF-A2", "aud-2"),
                     PERMISSION_DENIED);
    assert_int_equal(submit_as("unknown", "A40000003", "SF-A3", "aud-3"),
                     UNAUTHENTICATED);
    static const uint8_t garbage[] = {0x12, 0x64, 0x0a, 0x01, 0x41};
    assert_int_equal(raw_as("sf-court", "/cjx.v1.RecordService/SubmitRecord",
                            garbage, sizeof(garbage)),
                     INVALID_ARGUMENT);
    assert_int_equal(raw_as("sf-court", "/cjx.v1.RecordService/Nope", "", 0),
                     UNIMPLEMENTED);
    /* A remote agency may not read the log. */
    Cjx__V1__VerifyAuditRequest vreq = CJX__V1__VERIFY_AUDIT_REQUEST__INIT;
    size_t vlen = protobuf_c_message_get_packed_size(&vreq.base);
    uint8_t vbuf[8];
    protobuf_c_message_pack(&vreq.base, vbuf);
    assert_int_equal(
        raw_as("doj", "/cjx.v1.AuditService/VerifyAudit", vbuf, vlen),
        PERMISSION_DENIED);

    struct log l;
    read_log_with(&l, "/cjx.v1.AuditService/VerifyAudit", PERMISSION_DENIED);
    const Cjx__V1__AuditEntry *e;
    e = find(&l, "cjxd/start", OK);
    assert_non_null(e);
    assert_int_equal(e->type,
                     CJX__V1__AUDIT_EVENT_TYPE__AUDIT_EVENT_TYPE_ADMIN);
    assert_string_equal(e->agency_ori, DOJ_ORI);

    /* The accepted submission: a state change, committed with the record. */
    e = find(&l, "/cjx.v1.RecordService/SubmitRecord", OK);
    assert_non_null(e);
    assert_int_equal(e->type,
                     CJX__V1__AUDIT_EVENT_TYPE__AUDIT_EVENT_TYPE_STATE_CHANGE);
    assert_string_equal(e->agency_ori, SF_COURT_ORI);
    assert_int_equal(strlen(e->cert_fingerprint), 64);
    assert_non_null(strstr(e->peer, "127.0.0.1"));
    assert_string_equal(e->cii, "A40000001");
    assert_string_equal(e->court_case_number, "SF-A1");
    assert_int_equal(e->count_number, 1);
    assert_string_equal(e->request_id, "aud-1");
    assert_true(e->change_seq > 0);
    assert_int_equal(e->record_version, 1);
    assert_true(e->bytes_in > 0);
    assert_true(e->time_unix_us > 0);

    e = find(&l, "/cjx.v1.RecordService/GetRecord", OK);
    assert_non_null(e);
    assert_int_equal(e->type, CJX__V1__AUDIT_EVENT_TYPE__AUDIT_EVENT_TYPE_CALL);
    assert_string_equal(e->cii, "A40000001");
    assert_true(e->bytes_out > 0);
    e = find(&l, "/cjx.v1.RecordService/GetRecord", NOT_FOUND);
    assert_non_null(e);
    assert_string_equal(e->agency_ori, DOJ_ORI);

    e = find(&l, "/cjx.v1.RecordService/SubmitRecord", PERMISSION_DENIED);
    assert_non_null(e);
    assert_string_equal(e->agency_ori, SF_DA_ORI);
    assert_non_null(strstr(e->outcome_message, "PROSECUTOR"));

    e = find(&l, "/cjx.v1.RecordService/SubmitRecord", UNAUTHENTICATED);
    assert_non_null(e);
    assert_string_equal(e->agency_ori, ""); /* not a registered agency */
    assert_int_equal(strlen(e->cert_fingerprint), 64);
    assert_non_null(strstr(e->outcome_message, "not in the agency registry"));

    e = find(&l, "/cjx.v1.RecordService/SubmitRecord", INVALID_ARGUMENT);
    assert_non_null(e);
    assert_int_equal(e->bytes_in, (int64_t)sizeof(garbage));

    e = find(&l, "/cjx.v1.RecordService/Nope", UNIMPLEMENTED);
    assert_non_null(e);
    assert_string_equal(e->agency_ori, SF_COURT_ORI);

    e = find(&l, "/cjx.v1.AuditService/VerifyAudit", PERMISSION_DENIED);
    assert_non_null(e);

    /* Every seq once, in order. */
    int64_t last = 0;
    for (int i = 0; i < l.n; i++) {
        if (l.rec[i]->item_case != CJX__V1__AUDIT_RECORD__ITEM_ENTRY)
            continue;
        assert_int_equal(l.rec[i]->seq, last + 1);
        last = l.rec[i]->seq;
    }
    free_log(&l);

    char out[4096];
    assert_int_equal(cjxctl("audit verify", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "audit log OK"));
    assert_int_equal(cjxctl("audit tail -n 3", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "SEQ"));
    assert_non_null(strstr(out, "AuditService/")); /* the reads above */
    /* The change feed read by the same follower, as a table: the one record
     * stored above, in its columns. */
    assert_int_equal(cjxctl("watch --after 0", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "SEQ      CII          CASE"));
    assert_non_null(strstr(out, " A40000001    SF-A1            1     1 "));
    assert_null(strstr(out, "A40000002")); /* refused above */
}

/* A Deliver batch whose messages are all refused costs one entry, the
 * call's own, which counts them and quotes the first reasons. */
static void
test_audit__refused_batch__one_entry_with_count_and_first_reasons(void **state)
{
    (void)state;
    enum { N = 100 };
    /* A prosecutor may deliver, but orders are the court's to send. */
    struct cjx_client_status st;
    Cjx__V1__CaseResults *r =
        harness_deliver_orders(&doj, "sf-da", N, "batch-o", &st);
    assert_int_equal(st.code, OK);
    assert_int_equal(r->rejected, N);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    struct log l;
    read_log_with(&l, "/cjx.v1.CaseService/Deliver", OK);
    const Cjx__V1__AuditEntry *e = find(&l, "/cjx.v1.CaseService/Deliver", OK);
    assert_string_equal(e->agency_ori, SF_DA_ORI);
    const char *want = "100 of 100 messages refused: [batch-o0] "
                       "PERMISSION_DENIED: CA038013A may not call "
                       "/cjx.v1.CaseService/Order; [batch-o1] ";
    if (strncmp(e->outcome_message, want, strlen(want)) != 0 ||
        strstr(e->outcome_message, "; and 97 more") == NULL)
        fail_msg("unexpected outcome: %s", e->outcome_message);
    /* No entry of its own for any refused message. */
    for (int i = 0; i < l.n; i++)
        if (l.rec[i]->item_case == CJX__V1__AUDIT_RECORD__ITEM_ENTRY)
            assert_null(strstr(l.rec[i]->entry->request_id, "batch-o"));
    free_log(&l);

    char out[4096];
    assert_int_equal(cjxctl("audit verify", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "audit log OK"));
}

static void
test_audit__export__verifies_offline_and_an_edited_line_fails(void **state)
{
    (void)state;
    char out[4096], args[1024], file[400];
    snprintf(file, sizeof(file), "%s/export.jsonl", doj.dir);
    snprintf(args, sizeof(args), "audit export %s", file);
    assert_int_equal(cjxctl(args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "exported"));
    const char *certs = harness_certs();
    snprintf(args, sizeof(args),
             "audit verify --file %s --ca %s/ca.pem --agency %s "
             "--trust-domain cjx.example",
             file, certs, DOJ_ORI);
    assert_int_equal(cjxctl(args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "audit log OK"));

    /* The refusal of the DA turned into a success in the readable part. */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "sed -i '/%s/s/\"outcomeCode\":7,//' %s",
             SF_DA_ORI, file);
    assert_int_equal(harness_run(cmd), 0);
    assert_int_equal(cjxctl(args, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "FAILED at entry"));
    assert_non_null(strstr(out, "readable fields differ"));

    /* A file alone does not say whose log it is. */
    snprintf(args, sizeof(args), "audit verify --file %s", file);
    assert_int_equal(cjxctl(args, out, sizeof(out)), 2);
}

static void
test_audit__tail_follow__sends_entries_as_they_commit(void **state)
{
    (void)state;
    struct cjx_client *cl = harness_client_local(&doj);
    Cjx__V1__TailAuditRequest req = CJX__V1__TAIL_AUDIT_REQUEST__INIT;
    req.last = 1;
    req.follow = 1;
    struct cjx_client_stream *s;
    assert_int_equal(
        cjx_client_stream_open(
            cl, &cjx__v1__audit_service__methods[AUDIT_SERVICE_TAIL_AUDIT],
            &req.base, 20000, &s),
        0);
    ProtobufCMessage *m;
    assert_int_equal(cjx_client_stream_read(s, &m), 1); /* the newest */
    int64_t seq = ((Cjx__V1__AuditRecord *)m)->seq;
    protobuf_c_message_free_unpacked(m, NULL);
    /* A call made now reaches the follower once it is committed. */
    assert_int_equal(get_as("sf-court", "A40000077", "SF-FOLLOW"), NOT_FOUND);
    int found = 0;
    while (!found && cjx_client_stream_read(s, &m) == 1) {
        Cjx__V1__AuditRecord *r = (Cjx__V1__AuditRecord *)m;
        assert_true(r->seq > seq);
        seq = r->seq;
        found = r->item_case == CJX__V1__AUDIT_RECORD__ITEM_ENTRY &&
                strcmp(r->entry->court_case_number, "SF-FOLLOW") == 0;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    assert_true(found);
    cjx_client_stream_free(s);
    cjx_client_free(cl);
}

/* Stops the daemon and keeps its database as the untouched original. */
static void
test_audit__clean_stop__log_is_signed_to_the_end(void **state)
{
    (void)state;
    /* A follower still waiting is told to resume later. It runs as a
     * process of its own, which goes away with its connection when it is
     * told: a connection left open would hold the stop up for the drain
     * grace period. */
    char follower[400], cmd[1400];
    snprintf(follower, sizeof(follower), "%s/follower.out", doj.dir);
    snprintf(cmd, sizeof(cmd),
             "{ %s -s %s audit tail -n 1 --follow >%s 2>&1; echo \"exit $?\" "
             ">>%s; } </dev/null >/dev/null 2>&1 &",
             getenv("CJX_CJXCTL"), doj.socket, follower, follower);
    assert_int_equal(harness_run(cmd), 0);
    snprintf(cmd, sizeof(cmd), "grep -q '^[0-9]' %s", follower);
    for (int i = 0; i < 250 && harness_run(cmd) != 0; i++)
        usleep(20 * 1000);
    assert_int_equal(harness_run(cmd), 0); /* it has its first entry */
    assert_int_equal(harness_daemon_stop(&doj), 0);
    snprintf(cmd, sizeof(cmd), "grep -q '^exit 1' %s", follower);
    for (int i = 0; i < 250 && harness_run(cmd) != 0; i++)
        usleep(20 * 1000);
    assert_int_equal(harness_run(cmd), 0); /* it ended, with status 1 */
    snprintf(cmd, sizeof(cmd), "grep -q 'UNAVAILABLE' %s", follower);
    assert_int_equal(harness_run(cmd), 0);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && test ! -e '%s-wal'", db,
             pristine, db);
    assert_int_equal(harness_run(cmd), 0);
    char out[64];
    snprintf(cmd, sizeof(cmd),
             "sqlite3 '%s' 'SELECT (SELECT max(seq) FROM audit) = "
             "(SELECT max(seq) FROM audit_checkpoints)'",
             pristine);
    harness_run_capture(cmd, out, sizeof(out));
    assert_string_equal(out, "1\n");
}

/* Puts the original database back, applies statement, restarts and asks
 * for a verification, which must fail at entry `bad`. */
static void
tamper_and_verify(const char *statement, int64_t bad, const char *why)
{
    char cmd[1024], out[4096], want[64];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", pristine, db);
    assert_int_equal(harness_run(cmd), 0);
    sql(db, statement);
    assert_int_equal(harness_daemon_start(&doj), 0);
    assert_int_equal(cjxctl("audit verify", out, sizeof(out)), 1);
    snprintf(want, sizeof(want), "FAILED at entry %lld:", (long long)bad);
    if (strstr(out, want) == NULL || strstr(out, why) == NULL)
        fail_msg("after \"%s\": expected \"%s\" and \"%s\", got: %s", statement,
                 want, why, out);
    assert_int_equal(harness_daemon_stop(&doj), 0);
}

static void
test_audit__changed_byte_of_a_body__names_that_entry(void **state)
{
    (void)state;
    tamper_and_verify("UPDATE audit SET body = substr(body, 1, 20) || "
                      "(CASE WHEN substr(body, 21, 1) = X'41' THEN X'42' "
                      "ELSE X'41' END) || substr(body, 22) WHERE seq = 3",
                      3, "hash does not match its content");
}

static void
test_audit__deleted_row__names_the_missing_entry(void **state)
{
    (void)state;
    tamper_and_verify("DELETE FROM audit WHERE seq = 4", 4, "is missing");
}

static void
test_audit__swapped_rows__names_the_first_of_them(void **state)
{
    (void)state;
    tamper_and_verify("UPDATE audit SET seq = -1 WHERE seq = 5;"
                      "UPDATE audit SET seq = 5 WHERE seq = 6;"
                      "UPDATE audit SET seq = 6 WHERE seq = -1",
                      5, "content says it is entry 6");
}

static int64_t
newest_checkpoint(void)
{
    char cmd[1024], out[64];
    snprintf(cmd, sizeof(cmd),
             "sqlite3 '%s' 'SELECT max(seq) FROM audit_checkpoints'", pristine);
    assert_int_equal(harness_run_capture(cmd, out, sizeof(out)), 0);
    return strtoll(out, NULL, 10);
}

static void
test_audit__forged_checkpoint__is_named(void **state)
{
    (void)state;
    int64_t seq = newest_checkpoint();
    assert_true(seq > 6);
    /* The signature is the checkpoint's last field: change its last byte. */
    tamper_and_verify("UPDATE audit_checkpoints SET body = substr(body, 1, "
                      "length(body) - 1) || (CASE WHEN substr(body, -1) = "
                      "X'41' THEN X'42' ELSE X'41' END) WHERE seq = (SELECT "
                      "max(seq) FROM audit_checkpoints)",
                      seq, "signature invalid");
}

static void
test_audit__original_database__still_verifies(void **state)
{
    (void)state;
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", pristine, db);
    assert_int_equal(harness_run(cmd), 0);
    assert_int_equal(harness_daemon_start(&doj), 0);
    assert_int_equal(cjxctl("audit verify", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "audit log OK"));
    /* The restart was recorded after the stop. */
    struct log l;
    read_log(&l);
    assert_non_null(find(&l, "cjxd/stop", OK));
    free_log(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_audit__accepted_and_refused_calls__are_recorded_with_their_outcome),
        cmocka_unit_test(
            test_audit__refused_batch__one_entry_with_count_and_first_reasons),
        cmocka_unit_test(
            test_audit__export__verifies_offline_and_an_edited_line_fails),
        cmocka_unit_test(test_audit__tail_follow__sends_entries_as_they_commit),
        cmocka_unit_test(test_audit__clean_stop__log_is_signed_to_the_end),
        cmocka_unit_test(test_audit__changed_byte_of_a_body__names_that_entry),
        cmocka_unit_test(test_audit__deleted_row__names_the_missing_entry),
        cmocka_unit_test(test_audit__swapped_rows__names_the_first_of_them),
        cmocka_unit_test(test_audit__forged_checkpoint__is_named),
        cmocka_unit_test(test_audit__original_database__still_verifies),
    };
    return cmocka_run_group_tests_name("audit", tests, start_doj, stop_doj);
}
