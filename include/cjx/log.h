/* Structured, thread-safe logging to stderr (journald reads it from there). */
#ifndef CJX_LOG_H
#define CJX_LOG_H

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

/* Writes one line: `2026-11-25T08:00:00.123456Z info  rpc: message`.
 * Each line is emitted with a single write, so lines from different threads
 * never interleave. */
void cjx_log(enum cjx_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cjx_debug(mod, ...) cjx_log(CJX_LOG_DEBUG, mod, __VA_ARGS__)
#define cjx_info(mod, ...)  cjx_log(CJX_LOG_INFO, mod, __VA_ARGS__)
#define cjx_warn(mod, ...)  cjx_log(CJX_LOG_WARN, mod, __VA_ARGS__)
#define cjx_error(mod, ...) cjx_log(CJX_LOG_ERROR, mod, __VA_ARGS__)

/* Logs at error level and exits 1. Start-up and broken invariants only:
 * nothing a peer sends may reach it. */
void cjx_fatal(const char *module, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif
