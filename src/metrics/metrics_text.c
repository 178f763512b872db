/* The OpenMetrics text format: metadata lines, samples with escaped label
 * values, into a growing buffer. */
#include "metrics_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
metrics_text_init(struct cjx_metrics_text *t)
{
    t->cap = 16384;
    t->len = 0;
    t->failed = 0;
    t->buf = malloc(t->cap);
    return t->buf != NULL ? 0 : CJX_ENOMEM;
}

void
metrics_text_fini(struct cjx_metrics_text *t)
{
    free(t->buf);
    t->buf = NULL;
}

static void
ensure(struct cjx_metrics_text *t, size_t more)
{
    if (t->failed || t->len + more < t->cap)
        return;
    size_t cap = t->cap;
    while (t->len + more >= cap)
        cap *= 2;
    char *b = realloc(t->buf, cap);
    if (b == NULL) {
        t->failed = 1;
        return;
    }
    t->buf = b;
    t->cap = cap;
}

void
metrics_text_printf(struct cjx_metrics_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    ensure(t, (size_t)n + 1);
    if (t->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A label value as OpenMetrics quotes it: backslash, double quote and
 * newline escaped. */
static void
put_label_value(struct cjx_metrics_text *t, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\')
            metrics_text_printf(t, "\\\\");
        else if (*v == '"')
            metrics_text_printf(t, "\\\"");
        else if (*v == '\n')
            metrics_text_printf(t, "\\n");
        else
            metrics_text_printf(t, "%c", *v);
    }
}

void
cjx_metrics_text_family(struct cjx_metrics_text *t, const char *name,
                        const char *type, const char *help)
{
    metrics_text_printf(t, "# TYPE %s %s\n# HELP %s %s\n", name, type, name,
                        help);
}

void
metrics_text_sample_le(struct cjx_metrics_text *t, const char *name,
                       const char *const *labels, const char *le, double value)
{
    metrics_text_printf(t, "%s", name);
    int any = 0;
    for (size_t i = 0; labels != NULL && labels[i] != NULL; i += 2) {
        metrics_text_printf(t, "%s%s=\"", any ? "," : "{", labels[i]);
        put_label_value(t, labels[i + 1]);
        metrics_text_printf(t, "\"");
        any = 1;
    }
    if (le != NULL) {
        metrics_text_printf(t, "%sle=\"%s\"", any ? "," : "{", le);
        any = 1;
    }
    /* Integral values print without a fraction or exponent. */
    if (value > -9e15 && value < 9e15 && value == (double)(int64_t)value)
        metrics_text_printf(t, "%s %lld\n", any ? "}" : "",
                            (long long)(int64_t)value);
    else
        metrics_text_printf(t, "%s %.9g\n", any ? "}" : "", value);
}

void
cjx_metrics_text_sample(struct cjx_metrics_text *t, const char *name,
                        const char *const *labels, double value)
{
    metrics_text_sample_le(t, name, labels, NULL, value);
}
