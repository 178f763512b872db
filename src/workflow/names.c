/* Names and relief ranks of the workflow's enumerations. */
#include "cjx/workflow.h"

#define NAME_OF(table, v)                                         \
    ((v) > 0 && (size_t)(v) < sizeof(table) / sizeof(table[0]) && \
             table[(v)] != NULL                                   \
         ? table[(v)]                                             \
         : "UNSPECIFIED")

const char *
cjx_case_state_name(enum cjx_case_state s)
{
    static const char *const names[] = {
        [CJX_CASE_IDENTIFIED] = "IDENTIFIED",
        [CJX_CASE_NOTIFIED] = "NOTIFIED",
        [CJX_CASE_NOT_CHALLENGED] = "NOT_CHALLENGED",
        [CJX_CASE_CHALLENGED] = "CHALLENGED",
        [CJX_CASE_ORDERED] = "ORDERED",
        [CJX_CASE_HISTORY_UPDATED] = "HISTORY_UPDATED",
    };
    return NAME_OF(names, s);
}

const char *
cjx_case_event_kind_name(enum cjx_case_event_kind k)
{
    static const char *const names[] = {
        [CJX_CASE_EV_IDENTIFY] = "IDENTIFY",
        [CJX_CASE_EV_CANDIDATE_NOTICE] = "CANDIDATE_NOTICE",
        [CJX_CASE_EV_NO_CHALLENGE] = "NO_CHALLENGE",
        [CJX_CASE_EV_CHALLENGE] = "CHALLENGE",
        [CJX_CASE_EV_RELIEF_ORDER] = "RELIEF_ORDER",
        [CJX_CASE_EV_HISTORY_UPDATED] = "HISTORY_UPDATED",
        [CJX_CASE_EV_PERSON_NOTIFIED] = "PERSON_NOTIFIED",
        [CJX_CASE_EV_PETITION] = "PETITION",
    };
    return NAME_OF(names, k);
}

const char *
cjx_case_origin_name(enum cjx_case_origin o)
{
    static const char *const names[] = {
        [CJX_CASE_ORIGIN_AUTOMATIC_REVIEW] = "AUTOMATIC_REVIEW",
        [CJX_CASE_ORIGIN_PETITION] = "PETITION",
    };
    return NAME_OF(names, o);
}

const char *
cjx_contact_method_name(enum cjx_contact_method m)
{
    static const char *const names[] = {
        [CJX_CONTACT_MAIL] = "MAIL",   [CJX_CONTACT_PHONE] = "PHONE",
        [CJX_CONTACT_EMAIL] = "EMAIL", [CJX_CONTACT_IN_PERSON] = "IN_PERSON",
        [CJX_CONTACT_OTHER] = "OTHER",
    };
    return NAME_OF(names, m);
}

const char *
cjx_contact_outcome_name(enum cjx_contact_outcome o)
{
    static const char *const names[] = {
        [CJX_CONTACT_REACHED] = "REACHED",
        [CJX_CONTACT_NO_RESPONSE] = "NO_RESPONSE",
        [CJX_CONTACT_UNDELIVERABLE] = "UNDELIVERABLE",
        [CJX_CONTACT_NO_CONTACT_INFO] = "NO_CONTACT_INFO",
    };
    return NAME_OF(names, o);
}

const char *
cjx_relief_name(enum cjx_relief r)
{
    static const char *const names[] = {
        [CJX_RELIEF_NOT_ELIGIBLE] = "NOT_ELIGIBLE",
        [CJX_RELIEF_REDUCE_TO_MISDEMEANOR] = "REDUCE_TO_MISDEMEANOR",
        [CJX_RELIEF_REDUCE_TO_INFRACTION] = "REDUCE_TO_INFRACTION",
        [CJX_RELIEF_DISMISS_AND_SEAL] = "DISMISS_AND_SEAL",
        [CJX_RELIEF_HUMAN_REVIEW] = "HUMAN_REVIEW",
        [CJX_RELIEF_NO_ACTION] = "NO_ACTION",
    };
    return NAME_OF(names, r);
}

const char *
cjx_procedure_name(enum cjx_procedure p)
{
    static const char *const names[] = {
        [CJX_PROCEDURE_APPLICATION_REDESIGNATION] = "APPLICATION_REDESIGNATION",
        [CJX_PROCEDURE_PETITION_RECALL_RESENTENCE] =
            "PETITION_RECALL_RESENTENCE",
        [CJX_PROCEDURE_UNKNOWN_SENTENCE_STATUS] = "UNKNOWN_SENTENCE_STATUS",
    };
    return NAME_OF(names, p);
}

const char *
cjx_challenge_ground_name(enum cjx_challenge_ground g)
{
    static const char *const names[] = {
        [CJX_GROUND_CRITERIA_NOT_MET] = "CRITERIA_NOT_MET",
        [CJX_GROUND_UNREASONABLE_RISK] = "UNREASONABLE_RISK",
    };
    return NAME_OF(names, g);
}

const char *
cjx_order_name(enum cjx_order o)
{
    static const char *const names[] = {
        [CJX_ORDER_DENIED] = "DENIED",
        [CJX_ORDER_REDUCE_TO_MISDEMEANOR] = "REDUCE_TO_MISDEMEANOR",
        [CJX_ORDER_REDUCE_TO_INFRACTION] = "REDUCE_TO_INFRACTION",
        [CJX_ORDER_DISMISS_AND_SEAL] = "DISMISS_AND_SEAL",
    };
    return NAME_OF(names, o);
}

const char *
cjx_decision_kind_name(enum cjx_decision_kind k)
{
    static const char *const names[] = {
        [CJX_DECISION_NO_CHALLENGE] = "NO_CHALLENGE",
        [CJX_DECISION_CHALLENGE] = "CHALLENGE",
        [CJX_DECISION_LAPSED] = "LAPSED",
    };
    return NAME_OF(names, k);
}

const char *
cjx_overdue_kind_name(enum cjx_overdue_kind k)
{
    static const char *const names[] = {
        [CJX_OVERDUE_NOTICE] = "NOTICE",
        [CJX_OVERDUE_REVIEW] = "REVIEW",
        [CJX_OVERDUE_ORDER] = "ORDER",
        [CJX_OVERDUE_HISTORY_UPDATE] = "HISTORY_UPDATE",
    };
    return NAME_OF(names, k);
}

const char *
cjx_case_flag_name(unsigned flag)
{
    switch (flag) {
    case CJX_CASE_FLAG_NOTIFIED_LATE:
        return "NOTIFIED_LATE";
    case CJX_CASE_FLAG_DECIDED_LATE:
        return "DECIDED_LATE";
    case CJX_CASE_FLAG_ABOVE_CEILING:
        return "ABOVE_CEILING";
    case CJX_CASE_FLAG_BELOW_UNCHALLENGED:
        return "BELOW_UNCHALLENGED";
    case CJX_CASE_FLAG_ORDERED_LATE:
        return "ORDERED_LATE";
    case CJX_CASE_FLAG_UPDATED_LATE:
        return "UPDATED_LATE";
    default:
        return "UNSPECIFIED";
    }
}

int
cjx_order_rank(enum cjx_order o)
{
    switch (o) {
    case CJX_ORDER_DENIED:
        return 0;
    case CJX_ORDER_REDUCE_TO_MISDEMEANOR:
        return 1;
    case CJX_ORDER_REDUCE_TO_INFRACTION:
        return 2;
    case CJX_ORDER_DISMISS_AND_SEAL:
        return 3;
    default:
        return -1;
    }
}

int
cjx_relief_rank(enum cjx_relief r)
{
    switch (r) {
    case CJX_RELIEF_NOT_ELIGIBLE:
        return 0;
    case CJX_RELIEF_REDUCE_TO_MISDEMEANOR:
        return 1;
    case CJX_RELIEF_REDUCE_TO_INFRACTION:
        return 2;
    case CJX_RELIEF_DISMISS_AND_SEAL:
        return 3;
    default:
        return -1;
    }
}
