/* Structured, thread-safe logging to stderr (journald reads it from there). */
#ifndef CJX_LOG_H
#define CJX_LOG_H

#include <stddef.h>

enum cjx_log_level {
    CJX_LOG_DEBUG = 0,
    CJX_LOG_INFO = 1,
    CJX_LOG_WARN = 2,
    CJX_LOG_ERROR = 3,
};

/* Lines below this level are dropped. Default CJX_LOG_INFO. */
void cjx_log_set_level(enum cjx_log_level level);
enum cjx_log_level cjx_log_get_level(void);
/* Parses "debug", "info", "warn", "error"; returns 0 or CJX_EINVAL. */
int cjx_log_level_parse(const char *name, enum cjx_log_level *out);
/* When set, lines carry the systemd priority prefix ("<6>") instead of a
 * timestamp, for journald. */
void cjx_log_set_journal(int on);

/* How a line is written: CJX_LOG_TEXT for people (the default), CJX_LOG_JSON
 * for journald and log shippers: one JSON object per line with "time",
 * "level", "module", "message" and, where the caller knows them, "peer",
 * "method", "request_id" and "status". Under journald the priority prefix
 * still comes first, and journald strips it. */
enum cjx_log_format {
    CJX_LOG_TEXT = 0,
    CJX_LOG_JSON = 1,
};
void cjx_log_set_format(enum cjx_log_format format);
enum cjx_log_format cjx_log_get_format(void);
/* Parses "text" or "json"; returns 0 or CJX_EINVAL. */
int cjx_log_format_parse(const char *name, enum cjx_log_format *out);

/* What a line is about, beyond its module. Every member may be NULL (not
 * known). Borrowed for the duration of the call. */
struct cjx_log_fields {
    const char *peer;       /* the peer agency's ORI, or its address */
    const char *method;     /* the gRPC method path */
    const char *request_id; /* the sender-chosen id of the message */
    const char *status;     /* the gRPC status name, e.g. "PERMISSION_DENIED" */
};

/* Writes one line: `2026-11-25T08:00:00.123456Z info  rpc: message`.
 * Each line is emitted with a single write, so lines from different threads
 * never interleave. */
void cjx_log(enum cjx_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As cjx_log, with fields: separate members of a JSON line. The text
 * format leaves them out (its message names what matters), so a text line
 * reads exactly as from cjx_log. fields may be NULL. */
void cjx_log_with(enum cjx_log_level level, const char *module,
                  const struct cjx_log_fields *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define cjx_debug(mod, ...) cjx_log(CJX_LOG_DEBUG, mod, __VA_ARGS__)
#define cjx_info(mod, ...)  cjx_log(CJX_LOG_INFO, mod, __VA_ARGS__)
#define cjx_warn(mod, ...)  cjx_log(CJX_LOG_WARN, mod, __VA_ARGS__)
#define cjx_error(mod, ...) cjx_log(CJX_LOG_ERROR, mod, __VA_ARGS__)

/* Copies len bytes of untrusted text (a peer's certificate name, a value
 * from a file) into dst for a log line or an error message, so that it
 * cannot forge lines: control characters become '?', and so does every
 * byte from 0x7f up unless keep_utf8 (a configuration value may be UTF-8;
 * a certificate name is shown as ASCII). At most cap - 1 bytes are written
 * (cap >= 5), ending in "..." when the text was shortened. Returns dst. */
const char *cjx_log_printable(const void *text, size_t len, int keep_utf8,
                              char *dst, size_t cap);

/* Logs at error level and exits 1. Start-up and broken invariants only:
 * nothing a peer sends may reach it. */
void cjx_fatal(const char *module, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif
