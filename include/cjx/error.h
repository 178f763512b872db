/* Error codes shared by every cjx module. */
#ifndef CJX_ERROR_H
#define CJX_ERROR_H

#include <stddef.h>

/* A call that can fail returns 0 or one of these negative codes. The list is
 * the single source of the codes, their names and their messages. */
#define CJX_ERRNO_MAP(XX)                                     \
    XX(EINVAL, "invalid argument")                            \
    XX(ENOMEM, "out of memory")                               \
    XX(EIO, "input/output error")                             \
    XX(ENOTFOUND, "not found")                                \
    XX(EEXIST, "already exists")                              \
    XX(ECONFLICT, "request id reused with different content") \
    XX(EPERM, "permission denied")                            \
    XX(EUNAUTH, "unauthenticated")                            \
    XX(EPARSE, "parse error")                                 \
    XX(ESTORE, "storage failure")                             \
    XX(EBUSY, "busy")                                         \
    XX(ELIMIT, "limit exceeded")                              \
    XX(ESTATE, "illegal state")                               \
    XX(ECLOSED, "shutting down")                              \
    XX(ETLS, "certificate or TLS error")                      \
    XX(ERULE, "rejected by a validation rule")                \
    XX(EUNAVAIL, "database not reachable")                    \
    XX(EINTERNAL, "internal error")

enum cjx_errno {
    CJX_OK = 0,
#define CJX_ERRNO_ENUM_(name, msg) CJX_##name,
    CJX_ERRNO_FIRST_ = -1000,
    CJX_ERRNO_MAP(CJX_ERRNO_ENUM_)
#undef CJX_ERRNO_ENUM_
};

/* Static message for a code ("not found"); "unknown error" for others. */
const char *cjx_strerror(int err);
/* Static symbolic name for a code ("CJX_ENOTFOUND"). */
const char *cjx_err_name(int err);

/* The canonical status codes (google.rpc.Code; gRPC's are the same
 * numbers): the one place outside src/rpc that names them. */
enum cjx_status {
    CJX_STATUS_OK = 0,
    CJX_STATUS_CANCELLED = 1,
    CJX_STATUS_UNKNOWN = 2,
    CJX_STATUS_INVALID_ARGUMENT = 3,
    CJX_STATUS_DEADLINE_EXCEEDED = 4,
    CJX_STATUS_NOT_FOUND = 5,
    CJX_STATUS_ALREADY_EXISTS = 6,
    CJX_STATUS_PERMISSION_DENIED = 7,
    CJX_STATUS_RESOURCE_EXHAUSTED = 8,
    CJX_STATUS_FAILED_PRECONDITION = 9,
    CJX_STATUS_ABORTED = 10,
    CJX_STATUS_OUT_OF_RANGE = 11,
    CJX_STATUS_UNIMPLEMENTED = 12,
    CJX_STATUS_INTERNAL = 13,
    CJX_STATUS_UNAVAILABLE = 14,
    CJX_STATUS_DATA_LOSS = 15,
    CJX_STATUS_UNAUTHENTICATED = 16,
};

/* The canonical status code (google.rpc.Code, as gRPC uses) for an error:
 * the single place where cjx errors become what a client sees. */
int cjx_err_status_code(int err);
/* Static name of a status code ("PERMISSION_DENIED"); "UNKNOWN" for a
 * number outside the list. */
const char *cjx_status_code_name(int code);

/* Human detail that travels beside an error code: file:line for config and
 * rules, the OpenSSL or SQLite message. Optional wherever it is accepted:
 * a NULL buffer means the caller does not want detail. */
struct cjx_errbuf {
    char msg[512];
};

/* Formats into eb (if not NULL) and returns err, so callers can write
 * `return cjx_errf(eb, CJX_EPARSE, "%s:%d: ...", ...);`. */
int cjx_errf(struct cjx_errbuf *eb, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
