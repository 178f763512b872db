/* Line-at-a-time logger: formats into a stack buffer and writes it once. */
#include "cjx/log.h"

#include "cjx/clock.h"
#include "cjx/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int log_level = CJX_LOG_INFO;
static atomic_int log_journal = 0;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
/* syslog priorities: debug 7, info 6, warning 4, err 3. */
static const int level_priority[] = {7, 6, 4, 3};

void
cjx_log_set_level(enum cjx_log_level level)
{
    atomic_store(&log_level, level);
}

enum cjx_log_level
cjx_log_get_level(void)
{
    return atomic_load(&log_level);
}

int
cjx_log_level_parse(const char *name, enum cjx_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum cjx_log_level)i;
            return 0;
        }
    }
    return CJX_EINVAL;
}

void
cjx_log_set_journal(int on)
{
    atomic_store(&log_journal, on);
}

static void
log_write(enum cjx_log_level level, const char *module, const char *fmt,
          va_list ap)
{
    char line[2048];
    size_t n;

    if (atomic_load(&log_journal)) {
        n = (size_t)snprintf(line, sizeof(line),
                             "<%d>%s: ", level_priority[level], module);
    } else {
        char ts[40];
        cjx_clock_format_utc(cjx_clock_now_us(), ts, sizeof(ts));
        n = (size_t)snprintf(line, sizeof(line), "%s %-5s %s: ", ts,
                             level_names[level], module);
    }
    if (n < sizeof(line))
        n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    /* Control characters from peers (certificate names, messages) must not
     * forge extra log lines. */
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            line[i] = '?';
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void
cjx_log(enum cjx_log_level level, const char *module, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_write(level, module, fmt, ap);
    va_end(ap);
}

void
cjx_fatal(const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_write(CJX_LOG_ERROR, module, fmt, ap);
    va_end(ap);
    exit(1);
}
