/* A prosecutor's decision that names facts a reviewer found in the file
 * (ProsecutorDecision.facts, from `cjxctl review --facts`) is checked
 * again where it is received: the count is evaluated with those facts and
 * the relief the decision accepts must lie within what they lead to. */
#ifndef CJX_SERVICE_DECISION_FACTS_H
#define CJX_SERVICE_DECISION_FACTS_H

#include "cjx/arena.h"
#include "cjx/error.h"
#include "cjx/v1/exchange.pb-c.h"

struct cjx_service;

/* 0 when d names no facts, is a challenge, this daemon holds no case or
 * no relief rule set for it (then the workflow decides alone), or the
 * relief it accepts lies within the floor and ceiling that the case's
 * record and history, with d's facts laid over the record's, lead to under
 * the rule set in effect on the decision's day. Else CJX_ESTATE naming the
 * relief, the bounds and the rule, or CJX_ENOMEM. */
int decision_facts_check(struct cjx_service *svc,
                         const Cjx__V1__ProsecutorDecision *d,
                         struct cjx_arena *a, struct cjx_errbuf *eb);

#endif
