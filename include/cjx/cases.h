/* The relief exchange's side of the services (src/service/cases*.c), for
 * the parts of cjxd that act on cases without a call: the stand-ins of the
 * agencies' case systems and the delivery worker.
 *
 * Every case message, whichever way it comes (a peer's delivery, the local
 * operator, a stand-in), takes the same path: authorization, structural
 * checks, the configured rule sets, then one store transaction that applies
 * the workflow and, for a step taken here, queues its hand-offs. */
#ifndef CJX_CASES_H
#define CJX_CASES_H

#include <protobuf-c/protobuf-c.h>

#include "cjx/conf.h"
#include "cjx/service.h"
#include "cjx/workflow.h"

/* The workflow policy a configuration's `exchange` section sets. */
void cjx_cases_policy(const struct cjx_exchange_conf *x,
                      struct cjx_workflow_policy *out);

/* How a case message ended. err is 0 or a CJX code (detail says why);
 * retry_later is set for a refusal only because an earlier step has not
 * reached this daemon yet. replayed: the message id had been answered
 * before. Valid during the callback only. */
struct cjx_cases_outcome {
    int err;
    const char *detail;
    int retry_later;
    int replayed;
    int unchanged;
    int64_t seq;
};

typedef void (*cjx_cases_done_fn)(void *arg, const struct cjx_cases_outcome *o);

/* Takes a step at this daemon as its local operator would through the local
 * API: msg is a cjx.v1.CandidateNotice, ProsecutorDecision, ReliefOrder,
 * HistoryUpdated, PersonNotified or Petition (borrowed for the call only). via names the origin in the
 * audit log ("stand-in"). conf (borrowed) must stay valid until done has
 * run. Returns 0 when queued (done is then called exactly once, on a store
 * thread), or a CJX code without calling done. */
int cjx_cases_submit_local(struct cjx_service *svc, const struct cjx_conf *conf,
                           const ProtobufCMessage *msg, const char *via,
                           cjx_cases_done_fn done, void *arg);

/* The method path a case message travels by ("/cjx.v1.CaseService/Decide"),
 * or NULL for any other message. */
const char *cjx_cases_method_of(const ProtobufCMessage *msg);

#endif
