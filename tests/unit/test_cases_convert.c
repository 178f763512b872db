/* Unit tests for src/service/cases_convert.c: the case messages of the
 * person's notice and the petition on the wire, read into the workflow's
 * event, checked, timed, routed by method, and the case's origin both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cases_internal.h"

#define SF_DA    "CA038013A"
#define SF_COURT "CA038033J"
#define SF_PD    "CA038023P"

static const struct cjx_agency court = {
    .ori = SF_COURT, .role = CJX_ROLE_COURT, .county = "San Francisco"};
static const struct cjx_agency defender = {
    .ori = SF_PD, .role = CJX_ROLE_DEFENDER, .county = "San Francisco"};

/* The parts every message below shares, kept alive for a test. */
struct parts {
    Cjx__V1__RequestMeta meta;
    Cjx__V1__RecordKey key;
    Cjx__V1__Person subject;
    Cjx__V1__ConvictionRecord record;
    Cjx__V1__Determination determination;
    Cjx__V1__Date date;
};

static void
parts_init(struct parts *p)
{
    cjx__v1__request_meta__init(&p->meta);
    p->meta.request_id = "req-1";
    cjx__v1__record_key__init(&p->key);
    p->key.cii = "A1234567";
    p->key.court_case_number = "SCN-2001-123";
    p->key.count_number = 2;
    cjx__v1__person__init(&p->subject);
    p->subject.cii = "A1234567";
    cjx__v1__conviction_record__init(&p->record);
    p->record.subject = &p->subject;
    p->record.court_case_number = "SCN-2001-123";
    p->record.count_number = 2;
    p->record.county = "San Francisco";
    cjx__v1__determination__init(&p->determination);
    p->determination.relief = CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW;
    p->determination.floor = CJX__V1__RELIEF__RELIEF_REDUCE_TO_MISDEMEANOR;
    p->determination.ceiling = CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL;
    p->determination.procedure =
        CJX__V1__PROCEDURE__PROCEDURE_APPLICATION_REDESIGNATION;
    cjx__v1__date__init(&p->date);
    p->date.year = 2026;
    p->date.month = 2;
    p->date.day = 27;
}

static void
person_notified(struct parts *p, Cjx__V1__PersonNotified *m)
{
    cjx__v1__person_notified__init(m);
    m->meta = &p->meta;
    m->key = &p->key;
    m->contact_date = &p->date;
    m->method = CJX__V1__CONTACT_METHOD__CONTACT_METHOD_PHONE;
    m->outcome = CJX__V1__CONTACT_OUTCOME__CONTACT_OUTCOME_NO_RESPONSE;
    m->note = "left a message";
    m->notified_at_unix_us = 1772323200000000;
}

static void
petition(struct parts *p, Cjx__V1__Petition *m)
{
    cjx__v1__petition__init(m);
    m->meta = &p->meta;
    m->record = &p->record;
    m->filed_by = CJX__V1__PETITION_FILER__PETITION_FILER_COUNSEL;
    m->requested = CJX__V1__RELIEF__RELIEF_DISMISS_AND_SEAL;
    m->filed_date = &p->date;
    m->petitioned_at_unix_us = 1772323200000001;
    m->prosecutor_ori = SF_DA;
    m->determination = &p->determination;
}

static void
must_refuse(const ProtobufCMessage *msg, const char *want)
{
    struct cjx_errbuf eb = {{0}};
    int rc = case_check_message(msg, &eb);
    if (rc != CJX_EINVAL || strstr(eb.msg, want) == NULL)
        fail_msg("got %s \"%s\", want CJX_EINVAL \"%s\"", cjx_err_name(rc),
                 eb.msg, want);
}

static void
test_cases_convert__person_notified__reads_as_its_event(void **state)
{
    (void)state;
    struct parts p;
    parts_init(&p);
    Cjx__V1__PersonNotified m;
    person_notified(&p, &m);
    assert_int_equal(case_kind_of(&m.base), CJX_CASE_EV_PERSON_NOTIFIED);
    assert_string_equal(cjx_cases_method_of(&m.base),
                        "/cjx.v1.CaseService/NotifyPerson");
    assert_int_equal(case_check_message(&m.base, NULL), 0);

    struct cjx_case_event ev;
    case_event_of(&m.base, &defender, &ev);
    assert_int_equal(ev.kind, CJX_CASE_EV_PERSON_NOTIFIED);
    assert_string_equal(ev.cii, "A1234567");
    assert_string_equal(ev.court_case_number, "SCN-2001-123");
    assert_int_equal(ev.count_number, 2);
    assert_int_equal(ev.sender_role, CJX_ROLE_DEFENDER);
    assert_string_equal(ev.sender_ori, SF_PD);
    assert_true(ev.at_us == 1772323200000000);
    assert_int_equal(ev.contact_date.year, 2026);
    assert_int_equal(ev.contact_date.month, 2);
    assert_int_equal(ev.contact_date.day, 27);
    assert_int_equal(ev.contact_method, CJX_CONTACT_PHONE);
    assert_int_equal(ev.contact_outcome, CJX_CONTACT_NO_RESPONSE);

    struct cjx_call_audit ids = {0};
    case_ids_of(&m.base, &ids);
    assert_string_equal(ids.request_id, "req-1");
    assert_string_equal(ids.cii, "A1234567");
    assert_int_equal(ids.count_number, 2);

    case_set_time(&m.base, 42);
    assert_true(m.notified_at_unix_us == 42);
    assert_true(case_time_of(&m.base) == 42);

    /* Without a date the event says so, and the workflow names the field. */
    m.contact_date = NULL;
    case_event_of(&m.base, &defender, &ev);
    assert_int_equal(ev.contact_date.year, 0);
}

static void
test_cases_convert__malformed_person_notified__names_the_field(void **state)
{
    (void)state;
    struct parts p;
    parts_init(&p);
    Cjx__V1__PersonNotified m;
    person_notified(&p, &m);
    m.key = NULL;
    must_refuse(&m.base, "key: required");
    person_notified(&p, &m);
    p.key.count_number = 0;
    must_refuse(&m.base, "count_number: must be 1..999");
    parts_init(&p);
    person_notified(&p, &m);
    m.meta = NULL;
    must_refuse(&m.base, "meta.request_id: required");
    person_notified(&p, &m);
    m.note = "call\nme";
    must_refuse(&m.base, "note: contains a control character");
    char long_note[258];
    memset(long_note, 'x', sizeof(long_note) - 1);
    long_note[sizeof(long_note) - 1] = '\0';
    m.note = long_note;
    must_refuse(&m.base, "note: longer than 256 bytes (257)");
    long_note[256] = '\0';
    assert_int_equal(case_check_message(&m.base, NULL), 0);
}

static void
test_cases_convert__petition__reads_as_its_event(void **state)
{
    (void)state;
    struct parts p;
    parts_init(&p);
    Cjx__V1__Petition m;
    petition(&p, &m);
    assert_int_equal(case_kind_of(&m.base), CJX_CASE_EV_PETITION);
    assert_string_equal(cjx_cases_method_of(&m.base),
                        "/cjx.v1.CaseService/FilePetition");
    assert_int_equal(case_check_message(&m.base, NULL), 0);

    struct cjx_case_event ev;
    case_event_of(&m.base, &court, &ev);
    assert_int_equal(ev.kind, CJX_CASE_EV_PETITION);
    assert_string_equal(ev.cii, "A1234567");
    assert_string_equal(ev.court_case_number, "SCN-2001-123");
    assert_int_equal(ev.count_number, 2);
    assert_string_equal(ev.county, "San Francisco");
    assert_string_equal(ev.prosecutor_ori, SF_DA);
    assert_int_equal(ev.origin, CJX_CASE_ORIGIN_PETITION);
    assert_int_equal(ev.sender_role, CJX_ROLE_COURT);
    assert_true(ev.at_us == 1772323200000001);
    assert_int_equal(ev.determination.relief, CJX_RELIEF_HUMAN_REVIEW);
    assert_int_equal(ev.determination.floor, CJX_RELIEF_REDUCE_TO_MISDEMEANOR);
    assert_int_equal(ev.determination.ceiling, CJX_RELIEF_DISMISS_AND_SEAL);
    assert_int_equal(ev.determination.procedure,
                     CJX_PROCEDURE_APPLICATION_REDESIGNATION);

    struct cjx_call_audit ids = {0};
    case_ids_of(&m.base, &ids);
    assert_string_equal(ids.request_id, "req-1");
    assert_string_equal(ids.court_case_number, "SCN-2001-123");

    case_set_time(&m.base, 7);
    assert_true(case_time_of(&m.base) == 7);

    /* Filed at the court's own daemon, the determination and prosecutor
     * are filled in there: the service does not require them. */
    m.determination = NULL;
    m.prosecutor_ori = "";
    assert_int_equal(case_check_message(&m.base, NULL), 0);
    case_event_of(&m.base, &court, &ev);
    assert_int_equal(ev.determination.relief, CJX_RELIEF_UNSPECIFIED);
}

static void
test_cases_convert__malformed_petition__names_the_field(void **state)
{
    (void)state;
    struct parts p;
    parts_init(&p);
    Cjx__V1__Petition m;
    petition(&p, &m);
    m.record = NULL;
    must_refuse(&m.base, "record");
    petition(&p, &m);
    p.record.county = "";
    must_refuse(&m.base, "county");
    parts_init(&p);
    petition(&p, &m);
    m.prosecutor_ori = "CA038";
    must_refuse(&m.base, "prosecutor_ori: not a 9-character ORI");
    petition(&p, &m);
    m.filed_by = 9;
    must_refuse(&m.base, "filed_by: unknown value 9");
    petition(&p, &m);
    m.requested = CJX__V1__RELIEF__RELIEF_NOT_ELIGIBLE;
    must_refuse(&m.base, "requested: NOT_ELIGIBLE is no relief");
    m.requested = 42;
    must_refuse(&m.base, "requested: unknown value 42");
    petition(&p, &m);
    p.date.day = 30;
    must_refuse(&m.base, "filed_date: 2026-2-30 is not a calendar date");
}

static void
test_cases_convert__origin__travels_both_ways(void **state)
{
    (void)state;
    static const enum cjx_case_origin origins[] = {
        CJX_CASE_ORIGIN_UNSPECIFIED, CJX_CASE_ORIGIN_AUTOMATIC_REVIEW,
        CJX_CASE_ORIGIN_PETITION};
    for (size_t i = 0; i < 3; i++) {
        struct cjx_case c;
        memset(&c, 0, sizeof(c));
        strcpy(c.key.cii, "A1234567");
        strcpy(c.key.court_case_number, "SCN-2001-123");
        c.key.count_number = 2;
        strcpy(c.county, "San Francisco");
        c.state = CJX_CASE_NOTIFIED;
        c.origin = origins[i];
        c.version = 1;
        char buf[2048];
        struct cjx_arena a;
        cjx_arena_init(&a, buf, sizeof(buf), 0);
        Cjx__V1__Case m;
        assert_int_equal(case_to_message(&c, &a, &m), 0);
        assert_int_equal((int)m.origin, (int)origins[i]);
        struct cjx_case back;
        assert_int_equal(case_from_message(&m, &back), 0);
        assert_int_equal(back.origin, origins[i]);
        cjx_arena_fini(&a);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_cases_convert__person_notified__reads_as_its_event),
        cmocka_unit_test(
            test_cases_convert__malformed_person_notified__names_the_field),
        cmocka_unit_test(test_cases_convert__petition__reads_as_its_event),
        cmocka_unit_test(
            test_cases_convert__malformed_petition__names_the_field),
        cmocka_unit_test(test_cases_convert__origin__travels_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
