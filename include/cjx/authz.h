/* Authorization: which role may call which method, deny by default. */
#ifndef CJX_AUTHZ_H
#define CJX_AUTHZ_H

#include "cjx/conf.h"

enum cjx_access {
    CJX_ACCESS_DENY = 0,
    CJX_ACCESS_ALLOW = 1,      /* statewide */
    CJX_ACCESS_OWN_COUNTY = 2, /* only objects in the caller's county */
};

/* Access of a remote agency with the given role to a method path
 * ("/cjx.v1.RecordService/GetRecord"). Unknown methods and roles: DENY. */
enum cjx_access cjx_authz_remote(enum cjx_role role, const char *method_path);

/* Whether the local operator API (the Unix socket, guarded by file
 * permissions) may call the method. */
int cjx_authz_local(const char *method_path);

/* The table itself, for tests that check it cell by cell. */
struct cjx_authz_rule {
    const char *method_path;
    int local;                  /* local operator allowed */
    enum cjx_access by_role[5]; /* indexed by enum cjx_role */
};
extern const struct cjx_authz_rule cjx_authz_table[];
extern const int cjx_authz_table_len;

#endif
