/* Error code names and messages, generated from CJX_ERRNO_MAP. */
#include "cjx/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *
cjx_strerror(int err)
{
    switch (err) {
    case CJX_OK:
        return "success";
#define CJX_ERRNO_MSG_(name, msg) \
    case CJX_##name:              \
        return msg;
        CJX_ERRNO_MAP(CJX_ERRNO_MSG_)
#undef CJX_ERRNO_MSG_
    default:
        return "unknown error";
    }
}

const char *
cjx_err_name(int err)
{
    switch (err) {
    case CJX_OK:
        return "CJX_OK";
#define CJX_ERRNO_NAME_(name, msg) \
    case CJX_##name:               \
        return "CJX_" #name;
        CJX_ERRNO_MAP(CJX_ERRNO_NAME_)
#undef CJX_ERRNO_NAME_
    default:
        return "CJX_UNKNOWN";
    }
}

int
cjx_errf(struct cjx_errbuf *eb, int err, const char *fmt, ...)
{
    if (eb != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
        va_end(ap);
    }
    return err;
}

int
cjx_err_status_code(int err)
{
    switch (err) {
    case CJX_OK:
        return CJX_STATUS_OK;
    case CJX_EINVAL:
    case CJX_EPARSE:
    case CJX_ERULE:
        return CJX_STATUS_INVALID_ARGUMENT;
    case CJX_ENOTFOUND:
        return CJX_STATUS_NOT_FOUND;
    case CJX_EEXIST:
    case CJX_ECONFLICT:
        return CJX_STATUS_ALREADY_EXISTS;
    case CJX_EPERM:
        return CJX_STATUS_PERMISSION_DENIED;
    case CJX_EUNAUTH:
    case CJX_ETLS:
        return CJX_STATUS_UNAUTHENTICATED;
    case CJX_ELIMIT:
    case CJX_ENOMEM:
        return CJX_STATUS_RESOURCE_EXHAUSTED;
    case CJX_ESTATE:
        return CJX_STATUS_FAILED_PRECONDITION;
    case CJX_EBUSY:
    case CJX_ECLOSED:
    case CJX_EUNAVAIL:
        return CJX_STATUS_UNAVAILABLE;
    default:
        return CJX_STATUS_INTERNAL;
    }
}

const char *
cjx_status_code_name(int code)
{
    static const char *const names[] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};
    if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0])))
        return "UNKNOWN";
    return names[code];
}
