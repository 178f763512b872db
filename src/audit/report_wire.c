/* A verification's report to and from cjx.v1.VerifyAuditResponse. */
#include <stdio.h>
#include <string.h>

#include "cjx/audit_wire.h"

void
cjx_audit_report_to_wire(const struct cjx_audit_report *r,
                         Cjx__V1__VerifyAuditResponse *resp,
                         struct cjx_audit_wire_room *room)
{
    cjx__v1__verify_audit_response__init(resp);
    resp->ok = r->ok;
    resp->entries_checked = r->entries;
    resp->checkpoints_checked = r->checkpoints;
    resp->first_bad_seq = r->first_bad_seq;
    resp->reason = (char *)r->reason;
    resp->last_seq = r->last_seq;
    resp->last_checkpoint_seq = r->last_checkpoint_seq;
    for (int i = 0; i < r->n_replicas; i++) {
        Cjx__V1__AuditReplicaCount *c = &room->counts[i];
        cjx__v1__audit_replica_count__init(c);
        c->replica = (char *)r->replicas[i].name;
        c->entries = r->replicas[i].entries;
        room->items[i] = c;
    }
    resp->replicas = room->items;
    resp->n_replicas = (size_t)r->n_replicas;
}

void
cjx_audit_report_from_wire(const Cjx__V1__VerifyAuditResponse *resp,
                           struct cjx_audit_report *r)
{
    memset(r, 0, sizeof(*r));
    r->ok = resp->ok;
    r->entries = resp->entries_checked;
    r->checkpoints = resp->checkpoints_checked;
    r->last_seq = resp->last_seq;
    r->last_checkpoint_seq = resp->last_checkpoint_seq;
    r->first_bad_seq = resp->first_bad_seq;
    snprintf(r->reason, sizeof(r->reason), "%s", resp->reason);
    for (size_t i = 0; i < resp->n_replicas; i++) {
        /* A daemon sends no more than a report holds; any more are cut. */
        if (r->n_replicas == CJX_AUDIT_MAX_REPLICAS)
            break;
        snprintf(r->replicas[r->n_replicas].name, sizeof(r->replicas[0].name),
                 "%s", resp->replicas[i]->replica);
        r->replicas[r->n_replicas++].entries = resp->replicas[i]->entries;
    }
}
