/* A verification's report (include/cjx/audit.h) as the audit service
 * answers it, cjx.v1.VerifyAuditResponse, and back: one conversion for the
 * service that sends it and cjxctl that prints it. */
#ifndef CJX_AUDIT_WIRE_H
#define CJX_AUDIT_WIRE_H

#include "cjx/audit.h"
#include "cjx/v1/audit.pb-c.h"

/* Room for the per-replica counts of one response. */
struct cjx_audit_wire_room {
    Cjx__V1__AuditReplicaCount counts[CJX_AUDIT_MAX_REPLICAS];
    Cjx__V1__AuditReplicaCount *items[CJX_AUDIT_MAX_REPLICAS];
};

/* Fills resp (initialised here) from r. resp borrows from r and room, which
 * must outlive it. */
void cjx_audit_report_to_wire(const struct cjx_audit_report *r,
                              Cjx__V1__VerifyAuditResponse *resp,
                              struct cjx_audit_wire_room *room);

/* Fills *r from a response (copying its text, cut to fit). */
void cjx_audit_report_from_wire(const Cjx__V1__VerifyAuditResponse *resp,
                                struct cjx_audit_report *r);

#endif
