/* Case messages on the wire and the workflow's structs: kinds, keys, checks
 * and conversions in both directions. */
#include "cases_convert.h"

#include <stdio.h>
#include <string.h>

#include "cjx/date.h"
#include "record_bounds.h"
#include "cjx/cases.h"
#include "cjx/v1/exchange.methods.h"
#include "record_check.h"

enum cjx_case_event_kind
case_kind_of(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    if (d == &cjx__v1__candidate_notice__descriptor)
        return ((const Cjx__V1__CandidateNotice *)msg)->hold
                   ? CJX_CASE_EV_IDENTIFY
                   : CJX_CASE_EV_CANDIDATE_NOTICE;
    if (d == &cjx__v1__prosecutor_decision__descriptor) {
        const Cjx__V1__ProsecutorDecision *pd =
            (const Cjx__V1__ProsecutorDecision *)msg;
        if (pd->decision_case ==
            CJX__V1__PROSECUTOR_DECISION__DECISION_NO_CHALLENGE)
            return CJX_CASE_EV_NO_CHALLENGE;
        if (pd->decision_case ==
            CJX__V1__PROSECUTOR_DECISION__DECISION_CHALLENGE)
            return CJX_CASE_EV_CHALLENGE;
        return CJX_CASE_EV_UNSPECIFIED;
    }
    if (d == &cjx__v1__relief_order__descriptor)
        return CJX_CASE_EV_RELIEF_ORDER;
    if (d == &cjx__v1__history_updated__descriptor)
        return CJX_CASE_EV_HISTORY_UPDATED;
    if (d == &cjx__v1__person_notified__descriptor)
        return CJX_CASE_EV_PERSON_NOTIFIED;
    if (d == &cjx__v1__petition__descriptor)
        return CJX_CASE_EV_PETITION;
    return CJX_CASE_EV_UNSPECIFIED;
}

static const struct {
    const ProtobufCMessageDescriptor *d;
    int method;
} message_methods[] = {
    {&cjx__v1__candidate_notice__descriptor, CASE_SERVICE_NOTIFY_CANDIDATE},
    {&cjx__v1__prosecutor_decision__descriptor, CASE_SERVICE_DECIDE},
    {&cjx__v1__relief_order__descriptor, CASE_SERVICE_ORDER},
    {&cjx__v1__history_updated__descriptor,
     CASE_SERVICE_ACKNOWLEDGE_HISTORY_UPDATED},
    {&cjx__v1__person_notified__descriptor, CASE_SERVICE_NOTIFY_PERSON},
    {&cjx__v1__petition__descriptor, CASE_SERVICE_FILE_PETITION},
};
#define N_MESSAGE_METHODS (sizeof(message_methods) / sizeof(message_methods[0]))

const char *
cjx_cases_method_of(const ProtobufCMessage *msg)
{
    for (size_t i = 0; msg != NULL && i < N_MESSAGE_METHODS; i++)
        if (msg->descriptor == message_methods[i].d)
            return cjx__v1__case_service__methods[message_methods[i].method]
                .path;
    return NULL;
}

/* The key of the conviction record a notice or a petition carries. */
static void
record_parts(const Cjx__V1__ConvictionRecord *rec, const char **cii,
             const char **ccn, int32_t *count)
{
    if (rec == NULL)
        return;
    if (rec->subject != NULL)
        *cii = rec->subject->cii;
    *ccn = rec->court_case_number;
    *count = rec->count_number;
}

/* The key and request metadata of each kind of message. */
static void
parts_of(const ProtobufCMessage *msg, const Cjx__V1__RequestMeta **meta,
         const char **cii, const char **ccn, int32_t *count)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const Cjx__V1__RecordKey *key = NULL;
    *meta = NULL;
    *cii = *ccn = NULL;
    *count = 0;
    if (d == &cjx__v1__candidate_notice__descriptor) {
        const Cjx__V1__CandidateNotice *n = (const void *)msg;
        *meta = n->meta;
        record_parts(n->record, cii, ccn, count);
        return;
    }
    if (d == &cjx__v1__petition__descriptor) {
        const Cjx__V1__Petition *p = (const void *)msg;
        *meta = p->meta;
        record_parts(p->record, cii, ccn, count);
        return;
    }
    if (d == &cjx__v1__prosecutor_decision__descriptor) {
        const Cjx__V1__ProsecutorDecision *m = (const void *)msg;
        *meta = m->meta;
        key = m->key;
    } else if (d == &cjx__v1__relief_order__descriptor) {
        const Cjx__V1__ReliefOrder *m = (const void *)msg;
        *meta = m->meta;
        key = m->key;
    } else if (d == &cjx__v1__history_updated__descriptor) {
        const Cjx__V1__HistoryUpdated *m = (const void *)msg;
        *meta = m->meta;
        key = m->key;
    } else if (d == &cjx__v1__person_notified__descriptor) {
        const Cjx__V1__PersonNotified *m = (const void *)msg;
        *meta = m->meta;
        key = m->key;
    }
    if (key != NULL) {
        *cii = key->cii;
        *ccn = key->court_case_number;
        *count = key->count_number;
    }
}

void
case_ids_of(const ProtobufCMessage *msg, struct cjx_call_audit *ids)
{
    const Cjx__V1__RequestMeta *meta;
    parts_of(msg, &meta, &ids->cii, &ids->court_case_number,
             &ids->count_number);
    ids->request_id = meta != NULL ? meta->request_id : NULL;
}

/* An optional ORI: "" or 9 characters (the workflow checks which). */
static int
check_optional_ori(const char *field, const char *ori, struct cjx_errbuf *eb)
{
    if (ori[0] != '\0' && strlen(ori) != CJX_ORI_LEN)
        return cjx_errf(eb, CJX_EINVAL, "%s: not a 9-character ORI", field);
    return 0;
}

/* What the service requires of a petition beyond its request id. Its
 * determination and prosecutor may be missing: the court's daemon fills
 * them in when the petition is filed there (the workflow then requires
 * the determination). */
static int
check_petition(const Cjx__V1__Petition *p, struct cjx_errbuf *eb)
{
    int err = record_check_record_in_bounds(p->record, eb);
    if (err != 0)
        return err;
    if ((err = check_optional_ori("prosecutor_ori", p->prosecutor_ori, eb)) !=
        0)
        return err;
    if ((int)p->filed_by <
            CJX__V1__PETITION_FILER__PETITION_FILER_UNSPECIFIED ||
        p->filed_by > CJX__V1__PETITION_FILER__PETITION_FILER_PUBLIC_DEFENDER)
        return cjx_errf(eb, CJX_EINVAL, "filed_by: unknown value %d",
                        (int)p->filed_by);
    /* What the person asks for: a grant, or whatever applies. */
    if ((int)p->requested < CJX__V1__RELIEF__RELIEF_UNSPECIFIED ||
        p->requested > CJX__V1__RELIEF__RELIEF_NO_ACTION)
        return cjx_errf(eb, CJX_EINVAL, "requested: unknown value %d",
                        (int)p->requested);
    if (p->requested != CJX__V1__RELIEF__RELIEF_UNSPECIFIED &&
        cjx_relief_rank((enum cjx_relief)p->requested) < 1)
        return cjx_errf(eb, CJX_EINVAL,
                        "requested: %s is no relief to petition for "
                        "(REDUCE_TO_MISDEMEANOR, REDUCE_TO_INFRACTION, "
                        "DISMISS_AND_SEAL, or unset)",
                        cjx_relief_name((enum cjx_relief)p->requested));
    const Cjx__V1__Date *d = p->filed_date;
    if (d != NULL && (d->year != 0 || d->month != 0 || d->day != 0) &&
        !cjx_date_is_valid(d->year, d->month, d->day))
        return cjx_errf(eb, CJX_EINVAL,
                        "filed_date: %d-%d-%d is not a calendar date",
                        (int)d->year, (int)d->month, (int)d->day);
    return 0;
}

/* The free-text note of a report on the person: bounded and printable. It
 * travels to every party of the case, so it holds no contact details; that
 * the service cannot check. */
#define CASE_NOTE_MAX 256 /* as record_bounds.c bounds every text field */
static int
check_note(const char *note, struct cjx_errbuf *eb)
{
    size_t n = strlen(note);
    if (n > CASE_NOTE_MAX)
        return cjx_errf(eb, CJX_EINVAL, "note: longer than %d bytes",
                        CASE_NOTE_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)note[i] < 0x20 || note[i] == 0x7f)
            return cjx_errf(eb, CJX_EINVAL,
                            "note: contains a control character");
    return 0;
}

int
case_check_message(const ProtobufCMessage *msg, struct cjx_errbuf *eb)
{
    const Cjx__V1__RequestMeta *meta;
    const char *cii, *ccn;
    int32_t count;
    if (case_kind_of(msg) == CJX_CASE_EV_UNSPECIFIED) {
        if (msg->descriptor == &cjx__v1__prosecutor_decision__descriptor)
            return cjx_errf(eb, CJX_EINVAL,
                            "decision: one of no_challenge or challenge is "
                            "required");
        return cjx_errf(eb, CJX_EINVAL, "not a case message: %s",
                        msg->descriptor->name);
    }
    parts_of(msg, &meta, &cii, &ccn, &count);
    int err = record_check_request_id(meta, eb);
    if (err != 0)
        return err;
    /* Whatever the message carries (a notice's record and the person's
     * history, a contact's note) stays within the bounds. */
    if ((err = record_bounds_check(msg, "", eb)) != 0)
        return err;
    if (msg->descriptor == &cjx__v1__petition__descriptor)
        return check_petition((const Cjx__V1__Petition *)msg, eb);
    if (msg->descriptor == &cjx__v1__person_notified__descriptor &&
        (err = check_note(((const Cjx__V1__PersonNotified *)msg)->note, eb)) !=
            0)
        return err;
    if (msg->descriptor == &cjx__v1__candidate_notice__descriptor) {
        const Cjx__V1__CandidateNotice *n = (const void *)msg;
        if ((err = record_check_record_in_bounds(n->record, eb)) != 0)
            return err;
        if (n->determination == NULL)
            return cjx_errf(eb, CJX_EINVAL, "determination: required");
        return check_optional_ori("prosecutor_ori", n->prosecutor_ori, eb);
    }
    Cjx__V1__RecordKey key = CJX__V1__RECORD_KEY__INIT;
    if (cii == NULL)
        return cjx_errf(eb, CJX_EINVAL, "key: required");
    key.cii = (char *)cii;
    key.court_case_number = (char *)ccn;
    key.count_number = count;
    return record_check_key(&key, eb);
}

/* The wire and workflow enumerations share their numbers. A missing
 * determination stays UNSPECIFIED, which the workflow refuses by name. */
static void
determination_of(const Cjx__V1__Determination *d,
                 struct cjx_relief_determination *out)
{
    if (d == NULL)
        return;
    out->relief = (enum cjx_relief)d->relief;
    out->floor = (enum cjx_relief)d->floor;
    out->ceiling = (enum cjx_relief)d->ceiling;
    out->procedure = (enum cjx_procedure)d->procedure;
}

void
case_event_of(const ProtobufCMessage *msg, const struct cjx_agency *sender,
              struct cjx_case_event *ev)
{
    const Cjx__V1__RequestMeta *meta;
    memset(ev, 0, sizeof(*ev));
    ev->kind = case_kind_of(msg);
    parts_of(msg, &meta, &ev->cii, &ev->court_case_number, &ev->count_number);
    ev->sender_role = sender->role;
    ev->sender_ori = sender->ori;
    ev->sender_county = sender->county;
    ev->at_us = case_time_of(msg);
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    if (d == &cjx__v1__candidate_notice__descriptor) {
        const Cjx__V1__CandidateNotice *n = (const void *)msg;
        ev->county = n->record != NULL ? n->record->county : NULL;
        ev->prosecutor_ori = n->prosecutor_ori;
        ev->origin = CJX_CASE_ORIGIN_AUTOMATIC_REVIEW;
        determination_of(n->determination, &ev->determination);
    } else if (d == &cjx__v1__petition__descriptor) {
        const Cjx__V1__Petition *p = (const void *)msg;
        ev->county = p->record != NULL ? p->record->county : NULL;
        ev->prosecutor_ori = p->prosecutor_ori;
        ev->origin = CJX_CASE_ORIGIN_PETITION;
        determination_of(p->determination, &ev->determination);
    } else if (d == &cjx__v1__person_notified__descriptor) {
        const Cjx__V1__PersonNotified *m = (const void *)msg;
        if (m->contact_date != NULL)
            ev->contact_date = (struct cjx_case_date){
                .year = m->contact_date->year,
                .month = m->contact_date->month,
                .day = m->contact_date->day,
            };
        ev->contact_method = (enum cjx_contact_method)m->method;
        ev->contact_outcome = (enum cjx_contact_outcome)m->outcome;
    } else if (d == &cjx__v1__prosecutor_decision__descriptor) {
        const Cjx__V1__ProsecutorDecision *m = (const void *)msg;
        if (ev->kind == CJX_CASE_EV_NO_CHALLENGE)
            ev->relief = (enum cjx_relief)m->no_challenge->relief;
        if (ev->kind == CJX_CASE_EV_CHALLENGE) {
            ev->ground = (enum cjx_challenge_ground)m->challenge->ground;
            ev->reason_code = m->challenge->reason_code;
        }
    } else if (d == &cjx__v1__relief_order__descriptor) {
        ev->order = (enum cjx_order)((const Cjx__V1__ReliefOrder *)msg)->relief;
    } else if (d == &cjx__v1__history_updated__descriptor) {
        ev->order =
            (enum cjx_order)((const Cjx__V1__HistoryUpdated *)msg)->applied;
    }
}

int64_t
case_time_of(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    if (d == &cjx__v1__candidate_notice__descriptor)
        return ((const Cjx__V1__CandidateNotice *)msg)->notified_at_unix_us;
    if (d == &cjx__v1__prosecutor_decision__descriptor)
        return ((const Cjx__V1__ProsecutorDecision *)msg)->decided_at_unix_us;
    if (d == &cjx__v1__relief_order__descriptor)
        return ((const Cjx__V1__ReliefOrder *)msg)->ordered_at_unix_us;
    if (d == &cjx__v1__history_updated__descriptor)
        return ((const Cjx__V1__HistoryUpdated *)msg)->updated_at_unix_us;
    if (d == &cjx__v1__person_notified__descriptor)
        return ((const Cjx__V1__PersonNotified *)msg)->notified_at_unix_us;
    if (d == &cjx__v1__petition__descriptor)
        return ((const Cjx__V1__Petition *)msg)->petitioned_at_unix_us;
    return 0;
}

void
case_set_time(ProtobufCMessage *msg, int64_t at_us)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    if (d == &cjx__v1__candidate_notice__descriptor)
        ((Cjx__V1__CandidateNotice *)msg)->notified_at_unix_us = at_us;
    else if (d == &cjx__v1__prosecutor_decision__descriptor)
        ((Cjx__V1__ProsecutorDecision *)msg)->decided_at_unix_us = at_us;
    else if (d == &cjx__v1__relief_order__descriptor)
        ((Cjx__V1__ReliefOrder *)msg)->ordered_at_unix_us = at_us;
    else if (d == &cjx__v1__history_updated__descriptor)
        ((Cjx__V1__HistoryUpdated *)msg)->updated_at_unix_us = at_us;
    else if (d == &cjx__v1__person_notified__descriptor)
        ((Cjx__V1__PersonNotified *)msg)->notified_at_unix_us = at_us;
    else if (d == &cjx__v1__petition__descriptor)
        ((Cjx__V1__Petition *)msg)->petitioned_at_unix_us = at_us;
}

/* ---- Case <-> struct cjx_case ------------------------------------------- */

static int
copy_field(char *dst, size_t cap, const char *src)
{
    if (src == NULL)
        src = "";
    size_t n = strlen(src);
    if (n >= cap)
        return CJX_ESTORE;
    memcpy(dst, src, n + 1);
    return 0;
}

static int64_t
deadline_in(int64_t wire)
{
    return wire == 0 ? CJX_WORKFLOW_NO_DEADLINE : wire;
}

static int64_t
deadline_out(int64_t us)
{
    return us == CJX_WORKFLOW_NO_DEADLINE ? 0 : us;
}

int
case_from_message(const Cjx__V1__Case *m, struct cjx_case *out)
{
    struct cjx_case c;
    memset(&c, 0, sizeof(c));
    if (m->key == NULL ||
        copy_field(c.key.cii, sizeof(c.key.cii), m->key->cii) != 0 ||
        copy_field(c.key.court_case_number, sizeof(c.key.court_case_number),
                   m->key->court_case_number) != 0 ||
        copy_field(c.county, sizeof(c.county), m->county) != 0 ||
        copy_field(c.prosecutor_ori, sizeof(c.prosecutor_ori),
                   m->prosecutor_ori) != 0)
        return CJX_ESTORE;
    c.key.count_number = m->key->count_number;
    c.state = (enum cjx_case_state)m->state;
    c.origin = (enum cjx_case_origin)m->origin;
    c.determination.relief = (enum cjx_relief)m->relief;
    c.determination.floor = (enum cjx_relief)m->floor;
    c.determination.ceiling = (enum cjx_relief)m->ceiling;
    c.determination.procedure = (enum cjx_procedure)m->procedure;
    c.decision.kind = (enum cjx_decision_kind)m->decision;
    c.decision.relief = (enum cjx_relief)m->accepted_relief;
    c.decision.ground = (enum cjx_challenge_ground)m->ground;
    if (copy_field(c.decision.reason_code, sizeof(c.decision.reason_code),
                   m->reason_code) != 0)
        return CJX_ESTORE;
    c.order = (enum cjx_order)m->order;
    if (m->times != NULL) {
        c.times.identified_us = m->times->identified_at_unix_us;
        c.times.notified_us = m->times->notified_at_unix_us;
        c.times.decided_us = m->times->decided_at_unix_us;
        c.times.ordered_us = m->times->ordered_at_unix_us;
        c.times.history_updated_us = m->times->history_updated_at_unix_us;
    }
    c.deadlines.notice_us = c.deadlines.review_us = c.deadlines.order_us =
        c.deadlines.history_update_us = CJX_WORKFLOW_NO_DEADLINE;
    if (m->deadlines != NULL) {
        c.deadlines.notice_us = deadline_in(m->deadlines->notice_by_unix_us);
        c.deadlines.review_us = deadline_in(m->deadlines->review_by_unix_us);
        c.deadlines.order_us = deadline_in(m->deadlines->order_by_unix_us);
        c.deadlines.history_update_us =
            deadline_in(m->deadlines->history_update_by_unix_us);
    }
    for (size_t i = 0; i < m->n_flags; i++) {
        for (unsigned bit = 1; bit != 0 && bit <= (1u << 15); bit <<= 1) {
            if (strcmp(cjx_case_flag_name(bit), m->flags[i]) == 0) {
                c.flags |= bit;
                break;
            }
        }
    }
    c.version = m->version;
    c.updated_us = m->updated_at_unix_us;
    *out = c;
    return 0;
}

int
case_to_message(const struct cjx_case *c, struct cjx_arena *a,
                Cjx__V1__Case *out)
{
    Cjx__V1__RecordKey *key = cjx_arena_alloc(a, sizeof(*key));
    Cjx__V1__CaseTimes *times = cjx_arena_alloc(a, sizeof(*times));
    Cjx__V1__CaseDeadlines *dl = cjx_arena_alloc(a, sizeof(*dl));
    char **flags = cjx_arena_alloc(a, 16 * sizeof(*flags));
    if (key == NULL || times == NULL || dl == NULL || flags == NULL)
        return CJX_ENOMEM;
    cjx__v1__case__init(out);
    cjx__v1__record_key__init(key);
    key->cii = (char *)c->key.cii;
    key->court_case_number = (char *)c->key.court_case_number;
    key->count_number = c->key.count_number;
    out->key = key;
    out->county = (char *)c->county;
    out->prosecutor_ori = (char *)c->prosecutor_ori;
    out->state = (Cjx__V1__CaseState)c->state;
    out->origin = (Cjx__V1__CaseOrigin)c->origin;
    out->relief = (Cjx__V1__Relief)c->determination.relief;
    out->floor = (Cjx__V1__Relief)c->determination.floor;
    out->ceiling = (Cjx__V1__Relief)c->determination.ceiling;
    out->procedure = (Cjx__V1__Procedure)c->determination.procedure;
    out->decision = (Cjx__V1__DecisionKind)c->decision.kind;
    out->accepted_relief = (Cjx__V1__Relief)c->decision.relief;
    out->ground = (Cjx__V1__ChallengeGround)c->decision.ground;
    out->reason_code = (char *)c->decision.reason_code;
    out->order = (Cjx__V1__OrderRelief)c->order;
    cjx__v1__case_times__init(times);
    times->identified_at_unix_us = c->times.identified_us;
    times->notified_at_unix_us = c->times.notified_us;
    times->decided_at_unix_us = c->times.decided_us;
    times->ordered_at_unix_us = c->times.ordered_us;
    times->history_updated_at_unix_us = c->times.history_updated_us;
    out->times = times;
    cjx__v1__case_deadlines__init(dl);
    dl->notice_by_unix_us = deadline_out(c->deadlines.notice_us);
    dl->review_by_unix_us = deadline_out(c->deadlines.review_us);
    dl->order_by_unix_us = deadline_out(c->deadlines.order_us);
    dl->history_update_by_unix_us =
        deadline_out(c->deadlines.history_update_us);
    out->deadlines = dl;
    size_t n = 0;
    for (unsigned bit = 1; bit != 0 && bit <= (1u << 15); bit <<= 1)
        if (c->flags & bit)
            flags[n++] = (char *)cjx_case_flag_name(bit);
    out->flags = flags;
    out->n_flags = n;
    out->version = c->version;
    out->updated_at_unix_us = c->updated_us;
    return 0;
}

int64_t
case_due_us(const struct cjx_case *c)
{
    int64_t due;
    switch (c->state) {
    case CJX_CASE_IDENTIFIED:
        due = c->deadlines.notice_us;
        break;
    case CJX_CASE_NOTIFIED:
        due = c->deadlines.review_us;
        break;
    case CJX_CASE_NOT_CHALLENGED:
    case CJX_CASE_CHALLENGED:
        due = c->deadlines.order_us;
        break;
    case CJX_CASE_ORDERED:
        due = c->deadlines.history_update_us;
        break;
    default:
        due = CJX_WORKFLOW_NO_DEADLINE;
        break;
    }
    return due == CJX_WORKFLOW_NO_DEADLINE ? 0 : due;
}

uint8_t *
case_pack(struct cjx_arena *a, const ProtobufCMessage *msg, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = cjx_arena_alloc(a, n > 0 ? n : 1);
    if (buf == NULL)
        return NULL;
    *len = protobuf_c_message_pack(msg, buf);
    return buf;
}
