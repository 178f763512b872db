/* Line-at-a-time logger: formats into a stack buffer and writes it once, as
 * text for people or as one JSON object for machines. */
#include "cjx/log.h"

#include "cjx/clock.h"
#include "cjx/error.h"
#include "cjx/utf8.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int log_level = CJX_LOG_INFO;
static atomic_int log_journal = 0;
static atomic_int log_format = CJX_LOG_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const format_names[] = {"text", "json"};
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

/* Index of name in names[0..n), or -1. */
static int
name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

int
cjx_log_level_parse(const char *name, enum cjx_log_level *out)
{
    int i = name_index(level_names, 4, name);
    if (i < 0)
        return CJX_EINVAL;
    *out = (enum cjx_log_level)i;
    return 0;
}

void
cjx_log_set_journal(int on)
{
    atomic_store(&log_journal, on);
}

void
cjx_log_set_format(enum cjx_log_format format)
{
    atomic_store(&log_format, format);
}

enum cjx_log_format
cjx_log_get_format(void)
{
    return atomic_load(&log_format);
}

int
cjx_log_format_parse(const char *name, enum cjx_log_format *out)
{
    int i = name_index(format_names, 2, name);
    if (i < 0)
        return CJX_EINVAL;
    *out = (enum cjx_log_format)i;
    return 0;
}

/* Control characters from peers (certificate names, messages) must not
 * forge extra log lines, and a JSON reader must get valid UTF-8: each byte
 * of either kind becomes '?'. */
static void
scrub(char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t') {
            s[i++] = '?';
            continue;
        }
        size_t len = cjx_utf8_seq_len((const unsigned char *)s + i, n - i);
        if (len == 0) {
            s[i++] = '?';
            continue;
        }
        i += len;
    }
}

/* The message alone, cut to fit buf and scrubbed. Returns its length. */
static size_t
format_message(char *buf, size_t size, const char *fmt, va_list ap)
{
    int r = vsnprintf(buf, size, fmt, ap);
    size_t n = r < 0 ? 0 : (size_t)r;
    if (n > size - 1)
        n = size - 1;
    /* A cut may split a UTF-8 sequence; scrub turns its head into '?'. */
    scrub(buf, n);
    buf[n] = '\0';
    return n;
}

static void
add_string(struct json_object *o, const char *key, const char *value)
{
    if (value != NULL)
        json_object_object_add(o, key, json_object_new_string(value));
}

/* One JSON object without newlines (json-c escapes control characters), or
 * NULL when memory ran out. Free with json_object_put. */
static struct json_object *
json_line(enum cjx_log_level level, const char *module,
          const struct cjx_log_fields *f, const char *message)
{
    struct json_object *o = json_object_new_object();
    if (o == NULL)
        return NULL;
    char ts[40];
    cjx_clock_format_utc(cjx_clock_now_us(), ts, sizeof(ts));
    add_string(o, "time", ts);
    add_string(o, "level", level_names[level]);
    add_string(o, "module", module);
    add_string(o, "message", message);
    if (f != NULL) {
        add_string(o, "peer", f->peer);
        add_string(o, "method", f->method);
        add_string(o, "request_id", f->request_id);
        add_string(o, "status", f->status);
    }
    return o;
}

static void
log_write(enum cjx_log_level level, const char *module,
          const struct cjx_log_fields *fields, const char *fmt, va_list ap)
{
    char message[2048];
    char line[8192];
    size_t n = 0;

    if (atomic_load(&log_journal))
        n = (size_t)snprintf(line, sizeof(line), "<%d>", level_priority[level]);
    format_message(message, sizeof(message), fmt, ap);

    struct json_object *o = NULL;
    if (atomic_load(&log_format) == CJX_LOG_JSON)
        o = json_line(level, module, fields, message);
    if (o != NULL) {
        n += (size_t)snprintf(
            line + n, sizeof(line) - n, "%s",
            json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        /* A line cut short is no JSON object; the message was bounded so
         * that the escaped object fits, and this is the last resort. */
        if (n > sizeof(line) - 2)
            n = (size_t)snprintf(line, sizeof(line),
                                 "{\"level\":\"error\",\"module\":\"log\","
                                 "\"message\":\"log line too long\"}");
    } else if (atomic_load(&log_journal)) {
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: %s", module,
                              message);
    } else {
        char ts[40];
        cjx_clock_format_utc(cjx_clock_now_us(), ts, sizeof(ts));
        n = (size_t)snprintf(line, sizeof(line), "%s %-5s %s: %s", ts,
                             level_names[level], module, message);
    }
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
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
    log_write(level, module, NULL, fmt, ap);
    va_end(ap);
}

void
cjx_log_with(enum cjx_log_level level, const char *module,
             const struct cjx_log_fields *fields, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_write(level, module, fields, fmt, ap);
    va_end(ap);
}

void
cjx_fatal(const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_write(CJX_LOG_ERROR, module, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}

const char *
cjx_log_printable(const void *text, size_t len, int keep_utf8, char *dst,
                  size_t cap)
{
    const unsigned char *s = text;
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap; i++) {
        int control =
            s[i] < 0x20 || s[i] == 0x7f || (!keep_utf8 && s[i] > 0x7f);
        dst[n++] = control ? '?' : (char)s[i];
    }
    if (n < len && n + 4 <= cap) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
    return dst;
}
