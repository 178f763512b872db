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
    /* google.rpc.Code values; gRPC's status codes are the same numbers. */
    enum {
        OK = 0,
        INVALID_ARGUMENT = 3,
        NOT_FOUND = 5,
        ALREADY_EXISTS = 6,
        PERMISSION_DENIED = 7,
        RESOURCE_EXHAUSTED = 8,
        FAILED_PRECONDITION = 9,
        INTERNAL = 13,
        UNAVAILABLE = 14,
        UNAUTHENTICATED = 16
    };
    switch (err) {
    case CJX_OK:
        return OK;
    case CJX_EINVAL:
    case CJX_EPARSE:
    case CJX_ERULE:
        return INVALID_ARGUMENT;
    case CJX_ENOTFOUND:
        return NOT_FOUND;
    case CJX_EEXIST:
    case CJX_ECONFLICT:
        return ALREADY_EXISTS;
    case CJX_EPERM:
        return PERMISSION_DENIED;
    case CJX_EUNAUTH:
    case CJX_ETLS:
        return UNAUTHENTICATED;
    case CJX_ELIMIT:
    case CJX_ENOMEM:
        return RESOURCE_EXHAUSTED;
    case CJX_ESTATE:
        return FAILED_PRECONDITION;
    case CJX_EBUSY:
    case CJX_ECLOSED:
        return UNAVAILABLE;
    default:
        return INTERNAL;
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
