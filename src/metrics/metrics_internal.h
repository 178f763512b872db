/* Private parts of the metrics module shared by its files. */
#ifndef CJX_METRICS_INTERNAL_H
#define CJX_METRICS_INTERNAL_H

#include "cjx/metrics.h"

struct cjx_metrics_text {
    char *buf;
    size_t len, cap;
    int failed; /* memory ran out: the text is incomplete */
};

int metrics_text_init(struct cjx_metrics_text *t);
void metrics_text_fini(struct cjx_metrics_text *t);
void metrics_text_printf(struct cjx_metrics_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A sample with an "le" label after labels (le NULL: none). */
void metrics_text_sample_le(struct cjx_metrics_text *t, const char *name,
                            const char *const *labels, const char *le,
                            double value);

#endif
