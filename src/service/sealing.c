/* Who may read a sealed conviction record, and the audit of every such
 * read (sealing.h). */
#include "sealing.h"

#include <string.h>

#include "cjx/audit.h"
#include "cjx/log.h"
#include "cjx/store.h"
#include "cjx/workflow.h"
#include "service_internal.h"

static int
same_county(const struct cjx_agency *who, const Cjx__V1__ConvictionRecord *r)
{
    return strcmp(who->county, r->county) == 0;
}

/* The court that entered the judgment: the one the record names, or a
 * court of the record's county (a record's court ORI is the one on DOJ's
 * file, which need not be the ORI the court uses in the exchange). */
static int
is_court_of_conviction(const struct cjx_agency *who,
                       const Cjx__V1__ConvictionRecord *r)
{
    return strcmp(r->court_ori, who->ori) == 0 || same_county(who, r);
}

static int
is_prosecutor_of_case(const struct cjx_conf *conf, const struct cjx_agency *who,
                      const Cjx__V1__ConvictionRecord *r)
{
    const struct cjx_agency *p = NULL;
    struct cjx_errbuf eb;
    if (cjx_workflow_prosecutor_for(&conf->registry, r->county,
                                    r->prosecuting_agency_ori, &p, &eb) != 0)
        return 0;
    return strcmp(p->ori, who->ori) == 0;
}

int
sealing_may_read(const struct cjx_conf *conf, const struct cjx_agency *who,
                 const Cjx__V1__ConvictionRecord *r)
{
    if (!r->sealed)
        return 1;
    if (who == NULL)
        return 0;
    unsigned allowed = conf->sealed_readers;
    switch (who->role) {
    case CJX_ROLE_DOJ:
        return (allowed & CJX_SEALED_DOJ) != 0;
    case CJX_ROLE_COURT:
        return (allowed & CJX_SEALED_COURT) && is_court_of_conviction(who, r);
    case CJX_ROLE_PROSECUTOR:
        return (allowed & CJX_SEALED_PROSECUTOR) &&
               is_prosecutor_of_case(conf, who, r);
    case CJX_ROLE_DEFENDER:
        return (allowed & CJX_SEALED_DEFENDER) && same_county(who, r);
    default:
        return 0;
    }
}

void
sealing_audit_read(struct cjx_service *svc, const struct cjx_call *c,
                   const Cjx__V1__ConvictionRecord *r, const char *outcome)
{
    struct cjx_audit_event ev;
    service_call_event(c, &ev);
    if (r->subject != NULL)
        ev.cii = r->subject->cii;
    ev.court_case_number = r->court_case_number;
    ev.count_number = r->count_number;
    ev.outcome_message = outcome;
    int err = cjx_store_append_audit(svc->store, &ev, NULL, NULL);
    if (err != 0)
        cjx_error("audit", "cannot record a sealed read by %s: %s", ev.peer,
                  cjx_strerror(err));
}
