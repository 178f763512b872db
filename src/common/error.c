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
#define CJX_ERRNO_MSG_(name, msg)                                              \
    case CJX_##name:                                                           \
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
#define CJX_ERRNO_NAME_(name, msg)                                             \
    case CJX_##name:                                                           \
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
