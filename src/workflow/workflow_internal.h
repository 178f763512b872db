/* Helpers shared by the workflow's source files; not part of its API. */
#ifndef CJX_WORKFLOW_INTERNAL_H
#define CJX_WORKFLOW_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cjx/workflow.h"

/* a + b for b >= 0, stopping at CJX_WORKFLOW_NO_DEADLINE instead of
 * overflowing: a window added to "no deadline" stays "no deadline". */
int64_t workflow_add_us(int64_t a, int64_t b);

/* "2020-07-01T23:59:59.999999Z", or "none" for CJX_WORKFLOW_NO_DEADLINE;
 * buf needs WORKFLOW_TIME_LEN bytes. Returns buf. */
#define WORKFLOW_TIME_LEN 32
const char *workflow_time(int64_t us, char *buf);

/* "7 days", "90 minutes", "1500000 us": the largest unit that divides d.
 * buf needs WORKFLOW_DURATION_LEN bytes. Returns buf. */
#define WORKFLOW_DURATION_LEN 40
const char *workflow_duration(int64_t d, char *buf);

/* "case A1234567 SCN-2001-123 #1" */
#define WORKFLOW_LABEL_LEN (CJX_CASE_CII_MAX + CJX_CASE_NUMBER_MAX + 24)

/* An event while it is checked: its case label and normalized determination
 * are worked out once. */
struct workflow_step {
    const struct cjx_case_event *ev;
    const struct cjx_workflow_policy *policy;
    int64_t now_us;
    char label[WORKFLOW_LABEL_LEN];
    /* IDENTIFY, CANDIDATE_NOTICE, PETITION */
    struct cjx_relief_determination det;
};

/* NULL reads as "" in events. */
static inline const char *
workflow_nz(const char *s)
{
    return s != NULL ? s : "";
}

/* 1 for a case opened by a petition (HS 11361.8), which has no notice,
 * review or order deadline and may be ordered without a decision. */
static inline int
workflow_is_petition(const struct cjx_case *c)
{
    return c->origin == CJX_CASE_ORIGIN_PETITION;
}

/* How a message names an event: "challenge", "relief order". */
const char *workflow_event_what(enum cjx_case_event_kind k);

/* Checks the event's own fields (key, sender ORI, time against now and the
 * clock skew, the payload of its kind): 0 or CJX_EINVAL. Fills st->label
 * and, for the events that open a case, st->det. */
int workflow_check_event(struct workflow_step *st, struct cjx_errbuf *eb);

#endif
