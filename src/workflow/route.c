/* Routing: which registered agencies receive each message of a case. */
#include <string.h>

#include "cjx/workflow.h"

/* Recipients while they are collected. */
struct route {
    struct cjx_recipient *out;
    size_t cap;
    size_t n;
};

static int
add(struct route *r, const struct cjx_agency *a, int to, struct cjx_errbuf *eb)
{
    if (r->n == r->cap)
        return cjx_errf(eb, CJX_ELIMIT,
                        "route: more than %zu recipients (registry has too "
                        "many agencies for one county)",
                        r->cap);
    r->out[r->n++] = (struct cjx_recipient){.agency = a, .to = to};
    return 0;
}

static int
serves(const struct cjx_agency *a, enum cjx_role role, const char *county)
{
    return a->role == role &&
           (role == CJX_ROLE_DOJ || strcmp(a->county, county) == 0);
}

/* The single agency of role in county (DOJ: statewide). */
static int
find_one(const struct cjx_registry *reg, enum cjx_role role, const char *county,
         const struct cjx_agency **out, struct cjx_errbuf *eb)
{
    const struct cjx_agency *first = NULL, *second = NULL;
    size_t n = 0;
    for (size_t i = 0; i < reg->n; i++) {
        if (!serves(&reg->agencies[i], role, county))
            continue;
        if (n == 0)
            first = &reg->agencies[i];
        else if (n == 1)
            second = &reg->agencies[i];
        n++;
    }
    const char *where = role == CJX_ROLE_DOJ ? "the state" : county;
    if (n == 0)
        return cjx_errf(eb, CJX_ENOTFOUND, "route: no %s registered for %s",
                        cjx_role_name(role), where);
    if (n > 1)
        return cjx_errf(eb, CJX_EINVAL,
                        "route: %zu agencies with role %s registered for %s "
                        "(%s, %s%s): cannot choose one",
                        n, cjx_role_name(role), where, first->ori, second->ori,
                        n > 2 ? ", ..." : "");
    *out = first;
    return 0;
}

int
cjx_workflow_prosecutor_for(const struct cjx_registry *reg, const char *county,
                            const char *named_ori,
                            const struct cjx_agency **out,
                            struct cjx_errbuf *eb)
{
    if (reg == NULL || county == NULL || county[0] == '\0' || out == NULL)
        return cjx_errf(eb, CJX_EINVAL,
                        "route: a registry, a county and a result are "
                        "required");
    /* The agency that prosecuted the count (a city attorney, for the
     * misdemeanors it prosecutes) reviews it. A name that is not a
     * prosecutor of the county is a stale or foreign ORI on the record,
     * not a reason to lose the case: the county's prosecutor gets it. */
    if (named_ori != NULL && named_ori[0] != '\0') {
        const struct cjx_agency *a = cjx_registry_find(reg, named_ori);
        if (a != NULL && serves(a, CJX_ROLE_PROSECUTOR, county)) {
            *out = a;
            return 0;
        }
    }
    /* Of several prosecutors (a District Attorney and City Attorneys), the
     * one the registry says prosecutes felonies is the county's default. */
    const struct cjx_agency *felony = NULL;
    size_t n = 0, n_felony = 0;
    for (size_t i = 0; i < reg->n; i++) {
        const struct cjx_agency *a = &reg->agencies[i];
        if (!serves(a, CJX_ROLE_PROSECUTOR, county))
            continue;
        n++;
        if (a->prosecutes & CJX_PROSECUTES_FELONY) {
            felony = a;
            n_felony++;
        }
    }
    if (n > 1 && n_felony == 1) {
        *out = felony;
        return 0;
    }
    return find_one(reg, CJX_ROLE_PROSECUTOR, county, out, eb);
}

/* Every defender of the county; at least one if required. */
static int
add_defenders(struct route *r, const struct cjx_registry *reg,
              const char *county, int to, int required, struct cjx_errbuf *eb)
{
    size_t found = 0;
    for (size_t i = 0; i < reg->n; i++) {
        if (!serves(&reg->agencies[i], CJX_ROLE_DEFENDER, county))
            continue;
        int err = add(r, &reg->agencies[i], to, eb);
        if (err != 0)
            return err;
        found++;
    }
    if (found == 0 && required)
        return cjx_errf(eb, CJX_ENOTFOUND,
                        "route: no DEFENDER registered for %s: a challenge "
                        "must reach the public defender",
                        county);
    return 0;
}

static int
add_one(struct route *r, const struct cjx_registry *reg, enum cjx_role role,
        const struct cjx_case *c, int to, struct cjx_errbuf *eb)
{
    const struct cjx_agency *a = NULL;
    int err = role == CJX_ROLE_PROSECUTOR
                  ? cjx_workflow_prosecutor_for(reg, c->county,
                                                c->prosecutor_ori, &a, eb)
                  : find_one(reg, role, c->county, &a, eb);
    return err != 0 ? err : add(r, a, to, eb);
}

int
cjx_workflow_route(enum cjx_case_event_kind kind, const struct cjx_case *c,
                   const struct cjx_registry *reg, struct cjx_recipient *out,
                   size_t cap, size_t *n, struct cjx_errbuf *eb)
{
    if (c == NULL || reg == NULL || n == NULL || (out == NULL && cap > 0))
        return cjx_errf(eb, CJX_EINVAL,
                        "route: a case, a registry and a result are required");
    if (c->county[0] == '\0')
        return cjx_errf(eb, CJX_EINVAL, "route: the case has no county");
    /* Collected aside so that a failure leaves out as it was. */
    struct cjx_recipient found[CJX_WORKFLOW_MAX_RECIPIENTS];
    struct route r = {.out = found,
                      .cap = cap < CJX_WORKFLOW_MAX_RECIPIENTS
                                 ? cap
                                 : CJX_WORKFLOW_MAX_RECIPIENTS,
                      .n = 0};
    int err;
    switch (kind) {
    case CJX_CASE_EV_IDENTIFY:
        break;
    case CJX_CASE_EV_CANDIDATE_NOTICE:
        /* The court gets the candidates too: when the prosecutor stays
         * silent the court must still act, and it cannot act on cases
         * nobody told it about (the 2019-2021 failure). */
        if ((err = add_one(&r, reg, CJX_ROLE_PROSECUTOR, c, 1, eb)) != 0 ||
            (err = add_one(&r, reg, CJX_ROLE_COURT, c, 0, eb)) != 0 ||
            (err = add_defenders(&r, reg, c->county, 0, 0, eb)) != 0)
            return err;
        break;
    case CJX_CASE_EV_NO_CHALLENGE:
        if ((err = add_one(&r, reg, CJX_ROLE_COURT, c, 1, eb)) != 0 ||
            (err = add_one(&r, reg, CJX_ROLE_DOJ, c, 0, eb)) != 0 ||
            (err = add_defenders(&r, reg, c->county, 0, 0, eb)) != 0)
            return err;
        break;
    case CJX_CASE_EV_CHALLENGE:
        if ((err = add_one(&r, reg, CJX_ROLE_COURT, c, 1, eb)) != 0 ||
            (err = add_defenders(&r, reg, c->county, 1, 1, eb)) != 0 ||
            (err = add_one(&r, reg, CJX_ROLE_DOJ, c, 0, eb)) != 0)
            return err;
        break;
    case CJX_CASE_EV_RELIEF_ORDER:
        if ((err = add_one(&r, reg, CJX_ROLE_DOJ, c, 1, eb)) != 0 ||
            (err = add_one(&r, reg, CJX_ROLE_PROSECUTOR, c, 1, eb)) != 0 ||
            (err = add_defenders(&r, reg, c->county, 0, 0, eb)) != 0)
            return err;
        break;
    case CJX_CASE_EV_HISTORY_UPDATED:
        if ((err = add_one(&r, reg, CJX_ROLE_COURT, c, 1, eb)) != 0 ||
            (err = add_one(&r, reg, CJX_ROLE_PROSECUTOR, c, 0, eb)) != 0 ||
            (err = add_defenders(&r, reg, c->county, 0, 0, eb)) != 0)
            return err;
        break;
    case CJX_CASE_EV_PERSON_NOTIFIED:
        /* Every party holding a copy keeps the defender's efforts (M4);
         * the sending defender's daemon skips itself among the copies. */
        if ((err = add_one(&r, reg, CJX_ROLE_COURT, c, 1, eb)) != 0 ||
            (err = add_one(&r, reg, CJX_ROLE_PROSECUTOR, c, 1, eb)) != 0 ||
            (err = add_one(&r, reg, CJX_ROLE_DOJ, c, 1, eb)) != 0 ||
            (err = add_defenders(&r, reg, c->county, 0, 0, eb)) != 0)
            return err;
        break;
    case CJX_CASE_EV_PETITION:
        /* The prosecutor is told and may respond (HS 11361.8(b), (f)); DOJ
         * must hold the case to apply the order to its record. */
        if ((err = add_one(&r, reg, CJX_ROLE_PROSECUTOR, c, 1, eb)) != 0 ||
            (err = add_one(&r, reg, CJX_ROLE_DOJ, c, 1, eb)) != 0 ||
            (err = add_defenders(&r, reg, c->county, 0, 0, eb)) != 0)
            return err;
        break;
    default:
        return cjx_errf(eb, CJX_EINVAL, "route: unknown event kind %d",
                        (int)kind);
    }
    if (r.n > 0)
        memcpy(out, found, r.n * sizeof(found[0]));
    *n = r.n;
    return 0;
}
