/* The daemon's metrics: counters and histograms that the transport, the
 * store and the delivery worker feed as they work, and the OpenMetrics text
 * of a scrape, to which gauges read at scrape time are added.
 *
 * Feeding a metric takes only atomic additions, so it may happen on any
 * thread, on every call, without a lock. */
#ifndef CJX_METRICS_H
#define CJX_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "cjx/error.h"

struct cjx_metrics;

/* The text of a scrape being written. */
struct cjx_metrics_text;

/* A new set of metrics for the methods whose paths are given (borrowed: they
 * must outlive the set; a method is named by its index below). Returns 0 or
 * CJX_ENOMEM. Free with cjx_metrics_free(). */
int cjx_metrics_new(const char *const *method_paths, size_t n_methods,
                    struct cjx_metrics **out);
/* Accepts NULL. */
void cjx_metrics_free(struct cjx_metrics *m);

/* A call of method number method ended with gRPC status (0 - 16), after
 * duration_us, having received msgs_in messages and sent msgs_out. Every
 * feeding function accepts a NULL m (metrics off) and ignores an index or
 * status out of range. */
void cjx_metrics_call_done(struct cjx_metrics *m, size_t method, int status,
                           int64_t duration_us, int64_t msgs_in,
                           int64_t msgs_out);
/* A call refused for its agency's rate limit. */
void cjx_metrics_rate_refused(struct cjx_metrics *m);
/* The store committed a transaction of batch writes in duration_us. */
void cjx_metrics_store_commit(struct cjx_metrics *m, int64_t duration_us,
                              int batch);

/* Writes the gauges read at scrape time into t. Returns 0, or an error,
 * which the scrape reports as its own failure. */
typedef int (*cjx_metrics_gauges_fn)(void *arg, struct cjx_metrics_text *t);

/* The OpenMetrics text (version 1.0.0) of every metric of m, then those of
 * gauges (may be NULL), ended by "# EOF". On success *out is a new
 * NUL-terminated string of *len bytes; free() it. Returns 0, CJX_ENOMEM, or
 * the error of gauges. */
int cjx_metrics_render(struct cjx_metrics *m, cjx_metrics_gauges_fn gauges,
                       void *arg, char **out, size_t *len);

/* The media type of that text. */
#define CJX_METRICS_CONTENT_TYPE \
    "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* Writing a family: its metadata first, then its samples. name has no
 * suffix; type is "gauge", "counter", ... ; help is one line. */
void cjx_metrics_text_family(struct cjx_metrics_text *t, const char *name,
                             const char *type, const char *help);
/* One sample: name (with its suffix, e.g. "_total"), labels as a
 * NULL-terminated list of name, value pairs (NULL for none; values are
 * escaped here), and the value. */
void cjx_metrics_text_sample(struct cjx_metrics_text *t, const char *name,
                             const char *const *labels, double value);

#endif
