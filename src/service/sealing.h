/* The sealing policy of record reads (HS 11361.8(f); DESIGN.md invariant
 * 6): who may read a dismissed-and-sealed conviction record, and the audit
 * entry every read of one leaves. The configuration says who
 * (cjx_conf.sealed_readers); anyone else is answered as if the record did
 * not exist, so that a refusal reveals no more than a missing record. */
#ifndef CJX_SERVICE_SEALING_H
#define CJX_SERVICE_SEALING_H

#include "cjx/call.h"
#include "cjx/conf.h"
#include "cjx/v1/conviction.pb-c.h"

struct cjx_service;

/* 1 when who may read r: always for a record that is not sealed; for a
 * sealed one only DOJ, the court that entered the judgment, the case's
 * prosecutor (cjx_workflow_prosecutor_for()) and the county's public
 * defenders, each as conf allows. NULL who reads nothing sealed. */
int sealing_may_read(const struct cjx_conf *conf, const struct cjx_agency *who,
                     const Cjx__V1__ConvictionRecord *r);

/* Appends an audit entry saying that call c read (or was refused) the
 * sealed record r: outcome names what happened. Nobody waits for it. */
void sealing_audit_read(struct cjx_service *svc, const struct cjx_call *c,
                        const Cjx__V1__ConvictionRecord *r,
                        const char *outcome);

#endif
