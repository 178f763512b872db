/* The path of every case message to the store: checks, the rule sets, and
 * the function the store's writer calls inside the transaction to apply the
 * workflow, route a step taken here and build the reply. */
#include "cases_internal.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/audit.h"
#include "cjx/clock.h"
#include "cjx/date.h"
#include "cjx/evaluate.h"
#include "cjx/wire.h"
#include "cjx/log.h"
#include "decision_facts.h"
#include "relief_record.h"

#define US_PER_DAY (INT64_C(86400) * 1000000)

void
cjx_cases_policy(const struct cjx_exchange_conf *x,
                 struct cjx_workflow_policy *out)
{
    cjx_workflow_policy_init_prop64(out);
    if (!x->statutory) {
        out->notice = (struct cjx_workflow_deadline){x->notice.window_us,
                                                     x->notice.not_after_us};
        out->review = (struct cjx_workflow_deadline){x->review.window_us,
                                                     x->review.not_after_us};
        out->order_unchallenged =
            (struct cjx_workflow_deadline){x->order_unchallenged.window_us,
                                           x->order_unchallenged.not_after_us};
        out->order_challenged = (struct cjx_workflow_deadline){
            x->order_challenged.window_us, x->order_challenged.not_after_us};
        out->history_update = (struct cjx_workflow_deadline){
            x->history_update.window_us, x->history_update.not_after_us};
    }
    out->above_ceiling =
        x->above_ceiling_flag ? CJX_CEILING_FLAG : CJX_CEILING_REFUSE;
    out->review_lapse =
        x->review_lapse_wait ? CJX_LAPSE_WAIT : CJX_LAPSE_NOT_CHALLENGED;
    out->decision_grace_us = x->decision_grace_us;
    out->max_clock_skew_us = x->max_clock_skew_us;
}

/* One case message between its check and its completion. The writer
 * thread and then the completer use it, one after the other. */
struct case_op {
    struct cjx_service *svc;
    const struct cjx_conf *conf;
    const struct cjx_agency *sender;
    const struct cjx_agency *self; /* this daemon's agency */
    int local;
    enum cjx_case_event_kind kind;
    const char *method;
    ProtobufCMessage *msg; /* a step taken here: the op's own copy */
    const ProtobufCMessageDescriptor *descriptor; /* of the message */
    int is_notice;                                /* a candidate notice */
    int is_petition; /* a petition: the case opens at the court */
    const char *request_id;
    Cjx__V1__Determination *determination; /* a notice's or petition's */
    uint8_t *payload;                      /* msg as it is sent on and kept */
    size_t payload_len;
    struct cjx_case_event ev;
    struct cjx_workflow_policy policy;
    case_done_fn done;
    void *done_arg;
    /* Filled on the writer thread. */
    int retry_later;
    struct cjx_case next_case;
    struct cjx_outbox_put outbox[CJX_WORKFLOW_MAX_RECIPIENTS];
    char detail[512];
    struct cjx_arena arena;
    char arena_buf[6144];
};

static void
op_free(struct case_op *op)
{
    cjx_arena_fini(&op->arena);
    free(op);
}

const char *
case_error_detail(int err, const char *detail)
{
    /* The client needs the field it got wrong, not the store's wording. */
    if (err == CJX_ECONFLICT)
        return "meta.request_id: already used for a different message";
    return detail != NULL ? detail : cjx_strerror(err);
}

/* ---- on the writer thread ----------------------------------------------- */

static void
refuse(struct case_op *op, struct cjx_case_next *next, int err,
       const char *detail)
{
    if (detail != op->detail)
        snprintf(op->detail, sizeof(op->detail), "%s", detail);
    next->err = err;
    next->detail = op->detail;
}

/* A county agency keeps only its county's cases: a message about another
 * county's case is not for this daemon. */
static int
check_own_county(struct case_op *op, const char *county)
{
    if (op->self == NULL || op->self->county[0] == '\0' || county == NULL ||
        strcmp(op->self->county, county) == 0)
        return 0;
    snprintf(op->detail, sizeof(op->detail),
             "case %s %s #%d is a case of %s; %s (%s) serves %s only",
             op->ev.cii, op->ev.court_case_number, (int)op->ev.count_number,
             county, op->self->ori, op->self->name, op->self->county);
    return CJX_EPERM;
}

/* The record under the case's key, read from the store only by the steps
 * that need it. */
static int
stored_record(struct case_op *op, const struct cjx_case_current *cur,
              struct cjx_case_record *out)
{
    int err = cjx_case_current_record(cur, out);
    if (err != 0)
        snprintf(op->detail, sizeof(op->detail),
                 "the stored record could not be read");
    return err;
}

/* A county agency acts only on its county's cases, and the daemon says so
 * before it looks for the case: a step for another county's case is
 * refused for good (PERMISSION_DENIED), never answered "retry later" by a
 * daemon that holds no copy. The county is the case's, else the event's,
 * else this county daemon's own, else that of the record it holds. */
static int
check_sender_scope(struct case_op *op, const struct cjx_case_current *cur,
                   const char *case_county)
{
    const struct cjx_agency *s = op->sender;
    if (s->role == CJX_ROLE_DOJ || s->county[0] == '\0')
        return 0;
    const char *county = case_county;
    if ((county == NULL || county[0] == '\0') && op->self != NULL &&
        op->self->county[0] != '\0')
        county = op->self->county;
    if (county == NULL || county[0] == '\0') {
        /* Only here does a step read the record to check its sender. */
        struct cjx_case_record r;
        int err = stored_record(op, cur, &r);
        if (err != 0)
            return err;
        ProtobufCAllocator alloc = cjx_arena_pb_allocator(&op->arena);
        Cjx__V1__ConvictionRecord *rec =
            r.body != NULL
                ? cjx__v1__conviction_record__unpack(&alloc, r.len, r.body)
                : NULL;
        if (rec != NULL)
            county = rec->county;
    }
    if (county == NULL || county[0] == '\0' || strcmp(county, s->county) == 0)
        return 0;
    snprintf(op->detail, sizeof(op->detail),
             "case %s %s #%d: %s (%s) of %s may not act on a case of %s",
             op->ev.cii, op->ev.court_case_number, (int)op->ev.count_number,
             s->ori, s->name, s->county, county);
    return CJX_EPERM;
}

/* The outbox rows of a step taken here: one per recipient that runs a
 * daemon, this one excepted. */
static int
route_step(struct case_op *op, struct cjx_case_next *next)
{
    struct cjx_recipient to[CJX_WORKFLOW_MAX_RECIPIENTS];
    size_t n = 0;
    struct cjx_errbuf eb;
    int err = cjx_workflow_route(op->kind, &op->next_case, &op->conf->registry,
                                 to, CJX_WORKFLOW_MAX_RECIPIENTS, &n, &eb);
    if (err != 0) {
        snprintf(op->detail, sizeof(op->detail), "%s", eb.msg);
        return err == CJX_ENOTFOUND ? CJX_ESTATE : err;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cjx_agency *a = to[i].agency;
        if (strcmp(a->ori, op->conf->agency) == 0 || a->endpoint[0] == '\0')
            continue;
        op->outbox[k++] = (struct cjx_outbox_put){
            .destination_ori = a->ori,
            .method = op->method,
            .payload = op->payload,
            .payload_len = op->payload_len,
        };
    }
    next->outbox = op->outbox;
    next->n_outbox = k;
    return 0;
}

/* The message as the op holds it: its own copy for a step taken here, else
 * decoded again from the bytes it keeps (only the steps that rewrite a
 * record need more than the event). NULL when out of memory. */
static const ProtobufCMessage *
op_message(struct case_op *op)
{
    if (op->msg == NULL) {
        ProtobufCAllocator alloc = cjx_arena_pb_allocator(&op->arena);
        op->msg = protobuf_c_message_unpack(op->descriptor, &alloc,
                                            op->payload_len, op->payload);
    }
    return op->msg;
}

/* Relief lands on this daemon's copy of the record with the step that
 * makes it true here: the order, at the court that makes it and at every
 * party that receives it; at DOJ only when DOJ applies it to its criminal
 * history, the step it acknowledges (M7). */
static int
relief_lands_here(const struct case_op *op)
{
    int doj = op->self != NULL && op->self->role == CJX_ROLE_DOJ;
    if (op->kind == CJX_CASE_EV_RELIEF_ORDER)
        return !doj;
    return op->kind == CJX_CASE_EV_HISTORY_UPDATED && doj && op->local;
}

static int
pack_record(struct case_op *op, const Cjx__V1__ConvictionRecord *r,
            struct cjx_case_next *next)
{
    next->record = case_pack(&op->arena, &r->base, &next->record_len);
    next->record_county = r->county;
    return next->record != NULL ? 0 : CJX_ENOMEM;
}

/* The conviction record a notice or a petition opens its case with. */
static const Cjx__V1__ConvictionRecord *
opening_record(const ProtobufCMessage *msg)
{
    if (msg->descriptor == &cjx__v1__petition__descriptor)
        return ((const Cjx__V1__Petition *)msg)->record;
    return ((const Cjx__V1__CandidateNotice *)msg)->record;
}

/* The document a case opened by a petition keeps in the place of a
 * candidate notice, so that every case is read the same way (GetCase with
 * include_notice): the petition's record, history, determination and
 * prosecutor, dated when it was filed. */
static int
petition_as_notice(struct case_op *op, struct cjx_case_next *next)
{
    const Cjx__V1__Petition *p = (const Cjx__V1__Petition *)op_message(op);
    if (p == NULL)
        return CJX_ENOMEM;
    Cjx__V1__CandidateNotice n = CJX__V1__CANDIDATE_NOTICE__INIT;
    n.meta = p->meta;
    n.record = p->record;
    n.history = p->history;
    n.determination = p->determination;
    n.prosecutor_ori = p->prosecutor_ori;
    n.notified_at_unix_us = p->petitioned_at_unix_us;
    next->notice = case_pack(&op->arena, &n.base, &next->notice_len);
    return next->notice != NULL ? 0 : CJX_ENOMEM;
}

/* The record the step writes beside the new version of the case m, if
 * any (DESIGN.md invariant 6). */
static int
record_step(struct case_op *op, const struct cjx_case_current *cur,
            const Cjx__V1__Case *m, struct cjx_case_next *next)
{
    if (!op->is_notice && !op->is_petition &&
        (!relief_lands_here(op) || m->relief_order == NULL))
        return 0; /* the record is not read */
    struct cjx_case_record stored;
    int err = stored_record(op, cur, &stored);
    if (err != 0)
        return err;
    if (op->is_notice || op->is_petition) {
        /* The record that opens the case joins the store where it is not
         * there yet; a record the store holds (DOJ's own history, the
         * court's record of judgment) stays as it is. */
        if (stored.body != NULL)
            return 0;
        /* The record as packed inside the message the op keeps (the
         * request as this daemon packed it), without decoding it again. */
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(op->descriptor,
                                                            "record");
        const uint8_t *bytes;
        if (f != NULL && cjx_wire_field(op->payload, op->payload_len, f->id,
                                        &bytes, &next->record_len) == 0) {
            next->record = bytes;
            next->record_county = op->ev.county;
            return 0;
        }
        const ProtobufCMessage *msg = op_message(op);
        if (msg == NULL)
            return CJX_ENOMEM;
        return pack_record(op, opening_record(msg), next);
    }
    if (stored.body == NULL) {
        snprintf(op->detail, sizeof(op->detail),
                 "case %s %s #%d: this daemon holds no conviction record "
                 "under the key, so the order cannot be applied to it",
                 op->ev.cii, op->ev.court_case_number,
                 (int)op->ev.count_number);
        return CJX_ESTATE;
    }
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(&op->arena);
    Cjx__V1__ConvictionRecord *rec =
        cjx__v1__conviction_record__unpack(&alloc, stored.len, stored.body);
    if (rec == NULL) {
        snprintf(op->detail, sizeof(op->detail),
                 "the stored record does not decode");
        return CJX_ESTORE;
    }
    const Cjx__V1__ReliefOrder *order = m->relief_order;
    struct relief_recording how = {
        .recorded_by_ori = op->conf->agency,
        .recorded_at_us = cjx_clock_now_us(),
        .order_id = order->meta != NULL ? order->meta->request_id : "",
        .court_ori = order->court_ori,
        .procedure = m->procedure,
        .origin = m->origin,
    };
    Cjx__V1__ConvictionRecord *after;
    struct cjx_errbuf eb;
    err = relief_record_apply(rec, order, &how, &op->arena, &after, &eb);
    if (err != 0) {
        snprintf(op->detail, sizeof(op->detail), "%s", eb.msg);
        return err;
    }
    return after != NULL ? pack_record(op, after, next) : 0;
}

/* The order as a case keeps it: the court's own, naming its court. A
 * received order that names another court than its sender is refused. */
static int
order_of_step(struct case_op *op, Cjx__V1__ReliefOrder **out)
{
    Cjx__V1__ReliefOrder *o = (Cjx__V1__ReliefOrder *)op_message(op);
    if (o == NULL)
        return CJX_ENOMEM;
    if (o->court_ori[0] == '\0') {
        o->court_ori = (char *)op->sender->ori;
    } else if (strcmp(o->court_ori, op->sender->ori) != 0) {
        snprintf(op->detail, sizeof(op->detail),
                 "court_ori: the order names %s but comes from %s",
                 o->court_ori, op->sender->ori);
        return CJX_EINVAL;
    }
    *out = o;
    return 0;
}

/* M4: the public defender's effort joins the case's contacts. The same
 * effort reported again under another id changes nothing (*repeat). */
static int
add_contact(struct case_op *op, Cjx__V1__Case *m, int *repeat)
{
    const Cjx__V1__PersonNotified *pn =
        (const Cjx__V1__PersonNotified *)op_message(op);
    if (pn == NULL)
        return CJX_ENOMEM;
    Cjx__V1__PersonContact *c = cjx_arena_alloc(&op->arena, sizeof(*c));
    Cjx__V1__PersonContact **list =
        cjx_arena_alloc(&op->arena, (m->n_contacts + 1) * sizeof(*list));
    if (c == NULL || list == NULL)
        return CJX_ENOMEM;
    cjx__v1__person_contact__init(c);
    c->defender_ori = (char *)op->sender->ori;
    c->contact_date = pn->contact_date;
    c->method = pn->method;
    c->outcome = pn->outcome;
    c->note = pn->note;
    c->notified_at_unix_us = pn->notified_at_unix_us;
    *repeat = 0;
    for (size_t i = 0; i < m->n_contacts; i++) {
        const Cjx__V1__PersonContact *o = m->contacts[i];
        if (strcmp(o->defender_ori, c->defender_ori) == 0 &&
            o->method == c->method && o->outcome == c->outcome &&
            strcmp(o->note, c->note) == 0 && o->contact_date != NULL &&
            c->contact_date != NULL &&
            o->contact_date->year == c->contact_date->year &&
            o->contact_date->month == c->contact_date->month &&
            o->contact_date->day == c->contact_date->day)
            *repeat = 1;
        list[i] = m->contacts[i];
    }
    list[m->n_contacts] = c;
    m->contacts = list;
    m->n_contacts++;
    return 0;
}

/* A received order names the answer the court had when it ordered; a copy
 * that has not seen that answer yet waits for it (retry later), so that
 * every copy takes the answer before the order. */
static int
check_decision_seen(struct case_op *op, const Cjx__V1__Case *cur)
{
    if (op->local || op->kind != CJX_CASE_EV_RELIEF_ORDER)
        return 0;
    const Cjx__V1__ReliefOrder *o =
        (const Cjx__V1__ReliefOrder *)op_message(op);
    if (o == NULL)
        return CJX_ENOMEM;
    int have = cur != NULL ? (int)cur->decision : 0;
    if (o->decision_seen == CJX__V1__DECISION_KIND__DECISION_KIND_UNSPECIFIED ||
        o->decision_seen == CJX__V1__DECISION_KIND__DECISION_KIND_LAPSED ||
        have != CJX__V1__DECISION_KIND__DECISION_KIND_UNSPECIFIED)
        return 0;
    snprintf(op->detail, sizeof(op->detail),
             "relief order for case %s %s #%d: the court ordered after the "
             "prosecutor's answer, which has not arrived here yet; the sender "
             "should retry later",
             op->ev.cii, op->ev.court_case_number, (int)op->ev.count_number);
    return CJX_ESTATE;
}

/* A court's own order names the answer its copy held, and the copy sent on
 * says so. */
static int
note_decision_seen(struct case_op *op, const Cjx__V1__Case *cur)
{
    if (!op->local || op->kind != CJX_CASE_EV_RELIEF_ORDER || cur == NULL)
        return 0;
    Cjx__V1__ReliefOrder *o = (Cjx__V1__ReliefOrder *)op->msg;
    o->decision_seen = cur->decision;
    op->payload = case_pack(&op->arena, &o->base, &op->payload_len);
    return op->payload != NULL ? 0 : CJX_ENOMEM;
}

/* What the case message keeps besides the workflow's struct, carried
 * from the version before. */
static void
carry_case_fields(Cjx__V1__Case *m, const Cjx__V1__Case *before)
{
    if (before == NULL)
        return;
    m->determination = before->determination;
    m->relief_order = before->relief_order;
    m->decision_facts = before->decision_facts;
    m->n_contacts = before->n_contacts;
    m->contacts = before->contacts;
}

static void
op_apply(void *arg, const struct cjx_case_current *cur,
         struct cjx_case_next *next)
{
    struct case_op *op = arg;
    struct cjx_case current;
    Cjx__V1__Case *cur_msg = NULL;
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(&op->arena);
    if (cur->body != NULL) {
        cur_msg = cjx__v1__case__unpack(&alloc, cur->body_len, cur->body);
        if (cur_msg == NULL || case_from_message(cur_msg, &current) != 0) {
            refuse(op, next, CJX_ESTORE, "the stored case does not decode");
            return;
        }
    }
    const char *county = cur_msg != NULL ? current.county : op->ev.county;
    int err = check_own_county(op, county);
    if (err == 0)
        err = check_sender_scope(op, cur, county);
    if (err != 0) {
        refuse(op, next, err, op->detail);
        return;
    }

    if ((err = check_decision_seen(op, cur_msg)) != 0) {
        op->retry_later = 1;
        refuse(op, next, err, op->detail);
        return;
    }
    struct cjx_errbuf eb;
    int64_t now = cjx_clock_now_us();
    const struct cjx_case *curp = cur_msg != NULL ? &current : NULL;
    err = cjx_workflow_apply(curp, &op->ev, &op->policy, now, &op->next_case,
                             &eb);
    if (err != 0) {
        op->retry_later =
            cjx_workflow_retry_may_succeed(curp, &op->ev, &op->policy, now);
        refuse(op, next, err, eb.msg);
        return;
    }
    if (curp != NULL && op->next_case.version == current.version) {
        /* A step taken before, under another id: nothing to store or send. */
        next->unchanged = 1;
        return;
    }

    Cjx__V1__Case m;
    if (case_to_message(&op->next_case, &op->arena, &m) != 0) {
        refuse(op, next, CJX_ENOMEM, "out of memory");
        return;
    }
    m.seq = cur->next_seq;
    carry_case_fields(&m, cur_msg);
    /* DOJ's whole determination stays with the case from its notice on. */
    if (op->is_notice || op->is_petition)
        m.determination = op->determination;
    if (op->kind == CJX_CASE_EV_RELIEF_ORDER &&
        ((err = note_decision_seen(op, cur_msg)) != 0 ||
         (err = order_of_step(op, &m.relief_order)) != 0)) {
        refuse(op, next, err, err == CJX_ENOMEM ? "out of memory" : op->detail);
        return;
    }
    if (op->kind == CJX_CASE_EV_NO_CHALLENGE ||
        op->kind == CJX_CASE_EV_CHALLENGE) {
        const Cjx__V1__ProsecutorDecision *d =
            (const Cjx__V1__ProsecutorDecision *)op_message(op);
        if (d == NULL) {
            refuse(op, next, CJX_ENOMEM, "out of memory");
            return;
        }
        m.decision_facts = d->facts;
    }
    if (op->kind == CJX_CASE_EV_PERSON_NOTIFIED) {
        int repeat = 0;
        if ((err = add_contact(op, &m, &repeat)) != 0) {
            refuse(op, next, err, "out of memory");
            return;
        }
        if (repeat) {
            next->unchanged = 1;
            return;
        }
    }
    if ((err = record_step(op, cur, &m, next)) != 0) {
        refuse(op, next, err, err == CJX_ENOMEM ? "out of memory" : op->detail);
        return;
    }
    next->body = case_pack(&op->arena, &m.base, &next->body_len);
    if (next->body == NULL) {
        refuse(op, next, CJX_ENOMEM, "out of memory");
        return;
    }
    next->county = op->next_case.county;
    next->state = op->next_case.state;
    next->event = op->kind;
    next->version = op->next_case.version;
    next->due_us = case_due_us(&op->next_case);
    if (cur_msg == NULL && op->is_notice) {
        next->notice = op->payload;
        next->notice_len = op->payload_len;
    }
    if (cur_msg == NULL && op->is_petition &&
        (err = petition_as_notice(op, next)) != 0) {
        refuse(op, next, err, "out of memory");
        return;
    }
    if (op->local && (err = route_step(op, next)) != 0)
        refuse(op, next, err, op->detail);
}

/* ---- completion ----------------------------------------------------------- */

static void
op_done(void *arg, const struct cjx_case_write_result *r)
{
    struct case_op *op = arg;
    struct case_result res = {
        .err = r->err,
        .detail = r->err != 0 ? case_error_detail(r->err, r->detail) : NULL,
        .retry_later = r->err == CJX_ESTATE && op->retry_later,
        .replayed = r->replayed,
        .unchanged = r->unchanged,
        .seq = r->seq,
        .snapshot = r->snapshot,
        .snapshot_len = r->snapshot_len,
        .audit_seq = r->audit_seq,
    };
    op->done(op->done_arg, &res);
    op_free(op);
}

/* ---- checks and queueing -------------------------------------------------- */

/* The configured rule sets for the message's type and, for a notice, those
 * for its conviction record. Flags do not refuse anything. */
static int
validate_with_rules(struct cjx_service *svc, const ProtobufCMessage *msg,
                    struct cjx_arena *a, struct cjx_errbuf *eb)
{
    const struct cjx_conf *rules = cjx_service_conf(svc);
    const char *flags;
    int err =
        cjx_evaluate_validate(service_conf_rules(rules), msg, a, &flags, eb);
    if (err == 0 && msg->descriptor == &cjx__v1__candidate_notice__descriptor)
        err = cjx_evaluate_validate(
            service_conf_rules(rules),
            &((const Cjx__V1__CandidateNotice *)msg)->record->base, a, &flags,
            eb);
    cjx_conf_unref(rules);
    return err;
}

/* The prosecutor a notice or petition goes to: the one it names, else the
 * one the record names, else the county's (cjx_workflow_prosecutor_for). */
static int
address_prosecutor(struct case_op *op, const Cjx__V1__ConvictionRecord *rec,
                   char **prosecutor_ori, struct cjx_errbuf *eb)
{
    const struct cjx_agency *p = NULL;
    const char *named = (*prosecutor_ori)[0] != '\0'
                            ? *prosecutor_ori
                            : rec->prosecuting_agency_ori;
    int err = cjx_workflow_prosecutor_for(&op->conf->registry, rec->county,
                                          named, &p, eb);
    if (err != 0)
        return err == CJX_ENOTFOUND || err == CJX_EINVAL ? CJX_ESTATE : err;
    *prosecutor_ori = (char *)p->ori;
    return 0;
}

/* The court's own determination of a petition's count, with the rule set
 * this daemon is configured with (as DOJ's bounds relief on the automatic
 * path), as of the day it is filed. */
static int
evaluate_petition(struct case_op *op, Cjx__V1__Petition *p,
                  struct cjx_errbuf *eb)
{
    Cjx__V1__ReliefQuery q = CJX__V1__RELIEF_QUERY__INIT;
    Cjx__V1__Date as_of = CJX__V1__DATE__INIT;
    q.record = p->record;
    q.history = p->history;
    if (p->filed_date != NULL && p->filed_date->year != 0) {
        q.as_of = p->filed_date;
    } else {
        int y, m, d;
        cjx_date_from_days(p->petitioned_at_unix_us / US_PER_DAY, &y, &m, &d);
        as_of.year = y;
        as_of.month = m;
        as_of.day = d;
        q.as_of = &as_of;
    }
    const struct cjx_conf *rules = cjx_service_conf(op->svc);
    const struct cjx_rules_set *set =
        service_conf_rules(rules) != NULL
            ? cjx_evaluate_pick_set(service_conf_rules(rules), NULL, &q, eb)
            : NULL;
    int err;
    if (set == NULL) {
        err = cjx_errf(eb, CJX_ESTATE,
                       "determination: this court's daemon has no relief rule "
                       "set to evaluate the petition with; configure rules "
                       "or send the determination");
    } else {
        Cjx__V1__EvaluateResponse out;
        err = cjx_evaluate_query(set, &q, &op->arena, &out, eb);
        /* The set's strings go when the rules are released: keep a copy. */
        size_t len;
        uint8_t *bytes =
            err == 0 ? case_pack(&op->arena, &out.determination->base, &len)
                     : NULL;
        ProtobufCAllocator alloc = cjx_arena_pb_allocator(&op->arena);
        if (err == 0 && bytes != NULL)
            p->determination =
                cjx__v1__determination__unpack(&alloc, len, bytes);
        if (err == 0 && p->determination == NULL)
            err = cjx_errf(eb, CJX_ENOMEM, "out of memory");
        else if (err == CJX_ERULE || err == CJX_EINVAL)
            err = CJX_EINVAL;
    }
    cjx_conf_unref(rules);
    return err;
}

/* Prepares a step taken here: its time (now, unless the operator dated
 * it) and, for a notice, the prosecutor it goes to. */
static int
originate(struct case_op *op, struct cjx_errbuf *eb)
{
    if (case_time_of(op->msg) == 0)
        case_set_time(op->msg, cjx_clock_now_us());
    if (op->msg->descriptor == &cjx__v1__relief_order__descriptor) {
        Cjx__V1__ReliefOrder *o = (Cjx__V1__ReliefOrder *)op->msg;
        if (o->court_ori[0] == '\0')
            o->court_ori = (char *)op->sender->ori;
        return 0;
    }
    if (op->msg->descriptor == &cjx__v1__petition__descriptor) {
        Cjx__V1__Petition *p = (Cjx__V1__Petition *)op->msg;
        int err = address_prosecutor(op, p->record, &p->prosecutor_ori, eb);
        if (err == 0 && p->determination == NULL)
            err = evaluate_petition(op, p, eb);
        return err;
    }
    if (op->msg->descriptor != &cjx__v1__candidate_notice__descriptor)
        return 0;
    Cjx__V1__CandidateNotice *n = (Cjx__V1__CandidateNotice *)op->msg;
    return address_prosecutor(op, n->record, &n->prosecutor_ori, eb);
}

static char *
arena_copy(struct cjx_arena *a, const char *s)
{
    return s != NULL ? cjx_arena_strndup(a, s, strlen(s)) : NULL;
}

/* A step taken here: the op's own copy of the message, completed. */
static int
own_copy(struct case_op *op, const ProtobufCMessage *msg, const uint8_t *req,
         size_t req_len, struct cjx_errbuf *eb)
{
    ProtobufCAllocator alloc = cjx_arena_pb_allocator(&op->arena);
    ProtobufCMessage *copy =
        protobuf_c_message_unpack(msg->descriptor, &alloc, req_len, req);
    if (copy == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    op->msg = copy;
    int err = originate(op, eb);
    if (err != 0)
        return err;
    op->payload = case_pack(&op->arena, copy, &op->payload_len);
    if (op->payload == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    case_event_of(copy, op->sender, &op->ev);
    if (copy->descriptor == &cjx__v1__candidate_notice__descriptor)
        op->determination = ((Cjx__V1__CandidateNotice *)copy)->determination;
    if (copy->descriptor == &cjx__v1__petition__descriptor)
        op->determination = ((Cjx__V1__Petition *)copy)->determination;
    struct cjx_call_audit ids = {0};
    case_ids_of(copy, &ids);
    op->request_id = ids.request_id;
    return 0;
}

/* A received step: its bytes as sent, and copies of the fields the apply
 * function reads (a notice's determination goes into the case). */
static int
received_copy(struct case_op *op, const ProtobufCMessage *msg, uint8_t *req,
              size_t req_len, struct cjx_errbuf *eb)
{
    struct cjx_arena *a = &op->arena;
    op->payload = req;
    op->payload_len = req_len;
    case_event_of(msg, op->sender, &op->ev);
    struct cjx_case_event *ev = &op->ev;
    ev->cii = arena_copy(a, ev->cii);
    ev->court_case_number = arena_copy(a, ev->court_case_number);
    ev->county = arena_copy(a, ev->county);
    ev->prosecutor_ori = arena_copy(a, ev->prosecutor_ori);
    ev->reason_code = arena_copy(a, ev->reason_code);
    struct cjx_call_audit ids = {0};
    case_ids_of(msg, &ids);
    op->request_id = arena_copy(a, ids.request_id);
    const Cjx__V1__Determination *d = NULL;
    if (msg->descriptor == &cjx__v1__candidate_notice__descriptor)
        d = ((const Cjx__V1__CandidateNotice *)msg)->determination;
    else if (msg->descriptor == &cjx__v1__petition__descriptor)
        d = ((const Cjx__V1__Petition *)msg)->determination;
    if (d != NULL) {
        size_t n;
        uint8_t *bytes = case_pack(a, &d->base, &n);
        ProtobufCAllocator alloc = cjx_arena_pb_allocator(a);
        if (bytes != NULL)
            op->determination =
                cjx__v1__determination__unpack(&alloc, n, bytes);
        if (op->determination == NULL)
            return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    }
    if (a->failed)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    return 0;
}

int
case_submit(struct cjx_service *svc, const struct case_origin *o,
            const ProtobufCMessage *msg, const struct cjx_audit_event *ev,
            case_done_fn done, void *arg, struct cjx_errbuf *eb)
{
    int err = case_check_message(msg, eb);
    if (err != 0)
        return err;
    if (msg->descriptor == &cjx__v1__candidate_notice__descriptor &&
        ((const Cjx__V1__CandidateNotice *)msg)->hold && !o->local)
        return cjx_errf(eb, CJX_EINVAL,
                        "hold: only DOJ's own operator may hold a notice");
    struct case_op *op = malloc(sizeof(*op));
    if (op == NULL)
        return cjx_errf(eb, CJX_ENOMEM, "out of memory");
    memset(op, 0, offsetof(struct case_op, arena));
    cjx_arena_init(&op->arena, op->arena_buf, sizeof(op->arena_buf), 0);
    op->svc = svc;
    op->conf = o->conf;
    op->sender = o->sender;
    op->self = cjx_registry_find(&o->conf->registry, o->conf->agency);
    op->local = o->local;
    op->kind = case_kind_of(msg);
    op->is_notice = msg->descriptor == &cjx__v1__candidate_notice__descriptor;
    op->is_petition = msg->descriptor == &cjx__v1__petition__descriptor;
    op->descriptor = msg->descriptor;
    op->method = cjx_cases_method_of(msg);
    op->done = done;
    op->done_arg = arg;
    cjx_cases_policy(&o->conf->exchange, &op->policy);

    /* The request is borrowed for this call only. A step taken here is
     * completed (time, addressee) on a copy of its own; a received one is
     * kept as its bytes plus what the apply function reads. */
    size_t req_len;
    uint8_t *req = case_pack(&op->arena, msg, &req_len);
    struct cjx_case_write w;
    memset(&w, 0, sizeof(w));
    if (req == NULL) {
        err = cjx_errf(eb, CJX_ENOMEM, "out of memory");
        goto fail;
    }
    /* The digest is of the bytes as sent, so that a retry of the same
     * request is known for one whatever this daemon fills in. */
    if (EVP_Digest(req, req_len, w.request_digest, NULL, EVP_sha256(), NULL) !=
        1) {
        err = cjx_errf(eb, CJX_EINTERNAL, "SHA-256 failed");
        goto fail;
    }
    if ((err = validate_with_rules(svc, msg, &op->arena, eb)) != 0)
        goto fail;
    if (msg->descriptor == &cjx__v1__prosecutor_decision__descriptor &&
        (err =
             decision_facts_check(svc, (const Cjx__V1__ProsecutorDecision *)msg,
                                  &op->arena, eb)) != 0)
        goto fail;
    if (o->local)
        err = own_copy(op, msg, req, req_len, eb);
    else
        err = received_copy(op, msg, req, req_len, eb);
    if (err != 0)
        goto fail;

    struct cjx_call_audit ids = {
        .request_id = op->request_id,
        .cii = op->ev.cii,
        .court_case_number = op->ev.court_case_number,
        .count_number = op->ev.count_number,
    };
    w.sender_ori = op->sender->ori;
    w.request_id = ids.request_id;
    w.cii = ids.cii;
    w.court_case_number = ids.court_case_number;
    w.count_number = ids.count_number;
    w.apply = op_apply;
    w.apply_arg = op;
    struct cjx_audit_event event;
    if (ev != NULL) {
        event = *ev;
        event.request_id = ids.request_id;
        event.cii = ids.cii;
        event.court_case_number = ids.court_case_number;
        event.count_number = ids.count_number;
        if (o->bytes_in_packed)
            event.bytes_in = (int64_t)req_len;
        w.audit = &event;
    }
    err = cjx_store_submit_case(svc->store, &w, op_done, op);
    if (err == 0)
        return 0;
    cjx_errf(eb, err, "%s", cjx_strerror(err));
fail:
    op_free(op);
    return err;
}

/* ---- the local API without a call (stand-ins) ---------------------------- */

struct local_submit {
    cjx_cases_done_fn done;
    void *arg;
};

static void
local_done(void *arg, const struct case_result *r)
{
    struct local_submit *ls = arg;
    struct cjx_cases_outcome o = {
        .err = r->err,
        .detail = r->detail,
        .retry_later = r->retry_later,
        .replayed = r->replayed,
        .unchanged = r->unchanged,
        .seq = r->seq,
    };
    ls->done(ls->arg, &o);
    free(ls);
}

int
cjx_cases_submit_local(struct cjx_service *svc, const struct cjx_conf *conf,
                       const ProtobufCMessage *msg, const char *via,
                       cjx_cases_done_fn done, void *arg)
{
    const struct cjx_agency *self =
        cjx_registry_find(&conf->registry, conf->agency);
    const char *method = cjx_cases_method_of(msg);
    if (self == NULL || method == NULL || done == NULL)
        return CJX_EINVAL;
    struct local_submit *ls = malloc(sizeof(*ls));
    if (ls == NULL)
        return CJX_ENOMEM;
    ls->done = done;
    ls->arg = arg;
    struct case_origin o = {
        .conf = conf, .sender = self, .local = 1, .access = CJX_ACCESS_ALLOW};
    struct cjx_audit_event ev = {
        .type = CJX_AUDIT_CALL,
        .time_us = cjx_clock_now_us(),
        .agency_ori = self->ori,
        .cert_fingerprint = "",
        .peer = via != NULL ? via : "local",
        .method = method,
    };
    struct cjx_errbuf eb;
    int err = case_submit(svc, &o, msg, &ev, local_done, ls, &eb);
    if (err != 0) {
        free(ls);
        /* The refusal goes to the audit log as a refused call would. */
        struct cjx_call_audit ids = {0};
        case_ids_of(msg, &ids);
        ev.request_id = ids.request_id;
        ev.cii = ids.cii;
        ev.court_case_number = ids.court_case_number;
        ev.count_number = ids.count_number;
        ev.outcome_code = cjx_err_status_code(err);
        ev.outcome_message = eb.msg;
        cjx_store_append_audit(svc->store, &ev, NULL, NULL);
        cjx_debug("cases", "%s refused %s: %s", ev.peer, method, eb.msg);
    }
    return err;
}
