/* Private to the case service files (cases*.c): conversions between the wire
 * messages and the workflow's structs, and the path every case message
 * takes to the store. */
#ifndef CJX_CASES_INTERNAL_H
#define CJX_CASES_INTERNAL_H

#include "service_internal.h"

#include "cases_convert.h"

#include "cjx/cases.h"
#include "cjx/store_cases.h"
#include "cjx/v1/exchange.methods.h"
#include "cjx/v1/exchange.pb-c.h"
#include "cjx/workflow.h"

/* ---- the path to the store (cases_apply.c) ----------------------------- */

/* Where a case message comes from. */
struct case_origin {
    const struct cjx_conf *conf;     /* borrowed until the message is done */
    const struct cjx_agency *sender; /* the caller, from conf's registry */
    int local;                       /* the step is taken here */
    enum cjx_access access;          /* the method's access for the caller */
    /* The event's bytes_in is the message's packed size (a batch's item),
     * set once case_submit has packed it. */
    int bytes_in_packed;
};

/* What a case message came to. Valid during the callback only. */
struct case_result {
    int err;
    const char *detail;
    int retry_later;
    int replayed;
    int unchanged;
    int64_t seq;
    /* When err == 0: what the message is answered with, the packed
     * cjx.v1.Case it made or found, and unchanged. */
    const void *snapshot;
    size_t snapshot_len;
    int64_t audit_seq; /* 0: the caller must record the call's outcome */
};

typedef void (*case_done_fn)(void *arg, const struct case_result *r);

/* Checks msg (borrowed for this call only) and queues it to the store. The
 * audit event ev (may be NULL; copied) is completed with the message's ids
 * and committed with the change. Returns 0 when queued (done is then called
 * exactly once, on a store thread), or the refusal with eb filled and
 * *retry_later set when only an earlier step is missing. */
int case_submit(struct cjx_service *svc, const struct case_origin *o,
                const ProtobufCMessage *msg, const struct cjx_audit_event *ev,
                case_done_fn done, void *arg, struct cjx_errbuf *eb);

/* The detail a client sees for a failed write. */
const char *case_error_detail(int err, const char *detail);

/* ---- the case feed (cases_feed.c) -------------------------------------- */

struct case_hub;
int case_hub_new(struct cjx_service *svc, struct case_hub **out);
/* Ends every open WatchCases with UNAVAILABLE and refuses new ones. */
void case_hub_close(struct case_hub *hub);
void case_hub_free(struct case_hub *hub);

/* Server-streaming start of WatchCases; its on_sent and on_cancel are
 * follow_on_sent and follow_on_cancel. */
void watch_cases_start(struct cjx_call *c, const ProtobufCMessage *req);

/* ---- reads (cases_read.c) ---------------------------------------------- */

void get_case(struct cjx_call *c, const ProtobufCMessage *req);
void list_cases(struct cjx_call *c, const ProtobufCMessage *req);
void case_stats(struct cjx_call *c, const ProtobufCMessage *req);
void list_outbox(struct cjx_call *c, const ProtobufCMessage *req);

/* A stored case as a wire message (its bytes decoded into the arena, seq
 * and state from the row). 0, CJX_ENOMEM or CJX_ESTORE. */
int stored_case_message(struct cjx_arena *a, const struct cjx_stored_case *s,
                        Cjx__V1__Case **out);

#endif
