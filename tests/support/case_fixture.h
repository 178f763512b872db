/* A case-service fixture for unit tests (case_fixture.c). */
#ifndef CJX_TEST_CASE_FIXTURE_H
#define CJX_TEST_CASE_FIXTURE_H

#include <stdint.h>

#include "cjx/conf.h"
#include "cjx/method.h"
#include "cjx/v1/exchange.methods.h"
#include "cjx/v1/exchange.pb-c.h"

enum {
    OK = 0,
    INVALID_ARGUMENT = 3,
    NOT_FOUND = 5,
    ALREADY_EXISTS = 6,
    PERMISSION_DENIED = 7,
    RESOURCE_EXHAUSTED = 8,
    FAILED_PRECONDITION = 9
};
#define DAY (INT64_C(86400) * 1000000)

struct fixture {
    char dir[64];
    struct cjx_store *store;
    struct cjx_service *svc;
    struct cjx_conf *conf;
};
/* Agencies of tests/data/cases/agencies.yaml. */
#define DOJ       "CA0000001"
#define SF_DA     "CA038013A"
#define SF_COURT  "CA038033J"
#define SF_PD     "CA038023P"
#define ALA_DA    "CA001013A"
#define ALA_COURT "CA001033J"
#define LA_CITY   "CA019423A"
#define LA_DA     "CA019013A"

struct notice_buf {
    Cjx__V1__CandidateNotice n;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__ConvictionRecord rec;
    Cjx__V1__Person person;
    Cjx__V1__Statute charge;
    Cjx__V1__Determination det;
    char id[48], cii[16], ccn[32], county[32];
    char *flags[1];
};

struct step_buf {
    union {
        Cjx__V1__ProsecutorDecision d;
        Cjx__V1__ReliefOrder o;
        Cjx__V1__HistoryUpdated h;
    } m;
    Cjx__V1__RequestMeta meta;
    Cjx__V1__RecordKey key;
    Cjx__V1__NoChallenge nc;
    Cjx__V1__Challenge ch;
    char id[48], cii[16], ccn[32];
};

struct answer {
    int code;
    char message[512];
    Cjx__V1__CaseReply *reply;
    Cjx__V1__CaseResults *results;
};

/* The tests' clock: 1 March 2026, moved by the tests that need it. */
extern int64_t test_now;

/* The registered agency ori of the fixture's registry. */
const struct cjx_agency *agency(struct fixture *f, const char *ori);
/* Makes the fixture's daemon the one of agency ori (DOJ at setup). */
void become(struct fixture *f, const char *ori);
/* cmocka setup and teardown: a fresh store, service and configuration. */
int setup(void **state);
int teardown(void **state);

/* Message builders: each fills the caller's buffer and returns the message
 * in it; the key of cii is (cii, "CASE-<cii>", 1). */
Cjx__V1__CandidateNotice *notice(struct notice_buf *b, const char *id,
                                 const char *cii, const char *county,
                                 Cjx__V1__Relief relief);
Cjx__V1__ProsecutorDecision *no_challenge(struct step_buf *b, const char *id,
                                          const char *cii,
                                          Cjx__V1__Relief relief);
Cjx__V1__ProsecutorDecision *challenge(struct step_buf *b, const char *id,
                                       const char *cii, const char *reason);
Cjx__V1__ReliefOrder *order(struct step_buf *b, const char *id, const char *cii,
                            Cjx__V1__OrderRelief relief);
Cjx__V1__HistoryUpdated *acknowledge(struct step_buf *b, const char *id,
                                     const char *cii,
                                     Cjx__V1__OrderRelief applied);

void answer_free(struct answer *a);
/* Runs CaseService method i with req as caller ori (NULL: the local
 * operator). */
struct answer run(struct fixture *f, int i, const char *caller,
                  const ProtobufCMessage *req);
/* Runs a method of service methods whose reply is not a case message;
 * *out is its reply (free with protobuf_c_message_free_unpacked). */
int run_method(struct fixture *f, const struct cjx_method *m,
               const char *caller, const ProtobufCMessage *req,
               ProtobufCMessage **out);
/* run_method for CaseService method i. */
int run_read(struct fixture *f, int i, const char *caller,
             const ProtobufCMessage *req, ProtobufCMessage **out);
/* Outbox rows pending for destination (NULL: every peer). */
int64_t pending_for(struct fixture *f, const char *destination);
/* DOJ's San Francisco notice of cii (id cii) as its peers receive it:
 * dated and addressed to the District Attorney. */
Cjx__V1__CandidateNotice *
delivered_notice(struct notice_buf *b, const char *cii, Cjx__V1__Relief relief);
/* Makes the fixture the San Francisco court's daemon and delivers it DOJ's
 * notice of cii (to the District Attorney). */
void court_has_notice(struct fixture *f, const char *cii,
                      Cjx__V1__Relief relief);
/* DOJ's operator notifies a candidate. */
struct answer local_notice(struct fixture *f, const char *id, const char *cii,
                           const char *county, Cjx__V1__Relief relief);

#endif
