/* Counters and histograms fed by the daemon's modules, and their text. */
#include "metrics_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjx/error.h"

#define N_STATUS (CJX_STATUS_UNAUTHENTICATED + 1) /* enum cjx_status */

/* Upper bounds of the duration buckets, in seconds, and as written. */
static const double duration_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                         0.025,  0.05,  0.1,    0.25,  0.5,
                                         1,      2.5,   5,      10};
static const char *const duration_les[] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1.0",   "2.5",  "5.0",   "10.0"};
#define N_DURATION (sizeof(duration_bounds) / sizeof(duration_bounds[0]))

/* Upper bounds of the batch-size buckets (writes per transaction). */
static const double batch_bounds[] = {1,  2,   4,   8,   16,  32,
                                      64, 128, 256, 512, 1024};
static const char *const batch_les[] = {"1.0",   "2.0",   "4.0",   "8.0",
                                        "16.0",  "32.0",  "64.0",  "128.0",
                                        "256.0", "512.0", "1024.0"};
#define N_BATCH (sizeof(batch_bounds) / sizeof(batch_bounds[0]))

/* A histogram: each observation counted in the first bucket whose bound it
 * does not exceed (the last bucket is +Inf); cumulated when written. */
struct histogram {
    atomic_ullong bucket[N_DURATION + 1];
    atomic_ullong sum_micro; /* sum of observations, in millionths */
};

struct method_metrics {
    atomic_ullong calls[N_STATUS];
    atomic_ullong msgs_in, msgs_out;
    struct histogram duration;
};

struct cjx_metrics {
    const char *const *paths;
    size_t n_methods;
    struct method_metrics *methods;
    atomic_ullong rate_refused;
    struct histogram commit_duration;
    struct histogram commit_batch;
};

int
cjx_metrics_new(const char *const *method_paths, size_t n_methods,
                struct cjx_metrics **out)
{
    struct cjx_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return CJX_ENOMEM;
    m->methods = calloc(n_methods ? n_methods : 1, sizeof(*m->methods));
    if (m->methods == NULL) {
        free(m);
        return CJX_ENOMEM;
    }
    m->paths = method_paths;
    m->n_methods = n_methods;
    *out = m;
    return 0;
}

void
cjx_metrics_free(struct cjx_metrics *m)
{
    if (m == NULL)
        return;
    free(m->methods);
    free(m);
}

static void
observe(struct histogram *h, const double *bounds, size_t n, double value)
{
    size_t i = 0;
    while (i < n && value > bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_micro,
                              (unsigned long long)(value * 1e6 + 0.5),
                              memory_order_relaxed);
}

void
cjx_metrics_call_done(struct cjx_metrics *m, size_t method, int status,
                      int64_t duration_us, int64_t msgs_in, int64_t msgs_out)
{
    if (m == NULL || method >= m->n_methods || status < 0 || status >= N_STATUS)
        return;
    struct method_metrics *mm = &m->methods[method];
    atomic_fetch_add_explicit(&mm->calls[status], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mm->msgs_in,
                              (unsigned long long)(msgs_in > 0 ? msgs_in : 0),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&mm->msgs_out,
                              (unsigned long long)(msgs_out > 0 ? msgs_out : 0),
                              memory_order_relaxed);
    observe(&mm->duration, duration_bounds, N_DURATION,
            duration_us > 0 ? (double)duration_us / 1e6 : 0);
}

void
cjx_metrics_rate_refused(struct cjx_metrics *m)
{
    if (m != NULL)
        atomic_fetch_add_explicit(&m->rate_refused, 1, memory_order_relaxed);
}

void
cjx_metrics_store_commit(struct cjx_metrics *m, int64_t duration_us, int batch)
{
    if (m == NULL)
        return;
    observe(&m->commit_duration, duration_bounds, N_DURATION,
            duration_us > 0 ? (double)duration_us / 1e6 : 0);
    observe(&m->commit_batch, batch_bounds, N_BATCH, batch > 0 ? batch : 0);
}

/* ---- the text ----------------------------------------------------------- */

/* The samples of one histogram. Buckets are read once each, and the count
 * is their sum, so the text is consistent even while calls go on. */
static void
write_histogram(struct cjx_metrics_text *t, const char *name,
                const char *const *labels, struct histogram *h,
                const char *const *les, size_t n)
{
    char sample[128];
    unsigned long long cumulative = 0;
    snprintf(sample, sizeof(sample), "%s_bucket", name);
    for (size_t i = 0; i <= n; i++) {
        cumulative += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        metrics_text_sample_le(t, sample, labels, i < n ? les[i] : "+Inf",
                               (double)cumulative);
    }
    snprintf(sample, sizeof(sample), "%s_count", name);
    cjx_metrics_text_sample(t, sample, labels, (double)cumulative);
    snprintf(sample, sizeof(sample), "%s_sum", name);
    cjx_metrics_text_sample(
        t, sample, labels,
        (double)atomic_load_explicit(&h->sum_micro, memory_order_relaxed) /
            1e6);
}

static unsigned long long
calls_of(struct method_metrics *mm)
{
    unsigned long long n = 0;
    for (int s = 0; s < N_STATUS; s++)
        n += atomic_load_explicit(&mm->calls[s], memory_order_relaxed);
    return n;
}

static void
write_calls(struct cjx_metrics *m, struct cjx_metrics_text *t)
{
    cjx_metrics_text_family(t, "cjx_rpc_calls", "counter",
                            "Calls answered, by method and gRPC status.");
    for (size_t i = 0; i < m->n_methods; i++) {
        for (int s = 0; s < N_STATUS; s++) {
            unsigned long long n = atomic_load_explicit(&m->methods[i].calls[s],
                                                        memory_order_relaxed);
            if (n == 0)
                continue;
            const char *labels[] = {"method", m->paths[i], "code",
                                    cjx_status_code_name(s), NULL};
            cjx_metrics_text_sample(t, "cjx_rpc_calls_total", labels,
                                    (double)n);
        }
    }
    static const struct {
        const char *family, *sample, *help;
        size_t offset;
    } messages[] = {
        {"cjx_rpc_messages_received", "cjx_rpc_messages_received_total",
         "Request messages received, by method.",
         offsetof(struct method_metrics, msgs_in)},
        {"cjx_rpc_messages_sent", "cjx_rpc_messages_sent_total",
         "Response messages sent, by method.",
         offsetof(struct method_metrics, msgs_out)},
    };
    for (size_t k = 0; k < 2; k++) {
        cjx_metrics_text_family(t, messages[k].family, "counter",
                                messages[k].help);
        for (size_t i = 0; i < m->n_methods; i++) {
            if (calls_of(&m->methods[i]) == 0)
                continue;
            atomic_ullong *v =
                (atomic_ullong *)((char *)&m->methods[i] + messages[k].offset);
            const char *labels[] = {"method", m->paths[i], NULL};
            cjx_metrics_text_sample(t, messages[k].sample, labels,
                                    (double)atomic_load(v));
        }
    }
    cjx_metrics_text_family(t, "cjx_rpc_call_duration_seconds", "histogram",
                            "Time from a call's arrival to its status, by "
                            "method.");
    for (size_t i = 0; i < m->n_methods; i++) {
        if (calls_of(&m->methods[i]) == 0)
            continue;
        const char *labels[] = {"method", m->paths[i], NULL};
        write_histogram(t, "cjx_rpc_call_duration_seconds", labels,
                        &m->methods[i].duration, duration_les, N_DURATION);
    }
}

int
cjx_metrics_render(struct cjx_metrics *m, cjx_metrics_gauges_fn gauges,
                   void *arg, char **out, size_t *len)
{
    struct cjx_metrics_text t;
    if (metrics_text_init(&t) != 0)
        return CJX_ENOMEM;
    if (m != NULL) {
        write_calls(m, &t);
        cjx_metrics_text_family(&t, "cjx_rate_limit_refusals", "counter",
                                "Calls refused for their agency's rate "
                                "limit.");
        cjx_metrics_text_sample(&t, "cjx_rate_limit_refusals_total", NULL,
                                (double)atomic_load(&m->rate_refused));
        cjx_metrics_text_family(&t, "cjx_store_commit_duration_seconds",
                                "histogram",
                                "Time to commit one store transaction.");
        write_histogram(&t, "cjx_store_commit_duration_seconds", NULL,
                        &m->commit_duration, duration_les, N_DURATION);
        cjx_metrics_text_family(&t, "cjx_store_commit_batch_writes",
                                "histogram",
                                "Writes group-committed in one transaction.");
        write_histogram(&t, "cjx_store_commit_batch_writes", NULL,
                        &m->commit_batch, batch_les, N_BATCH);
    }
    int err = gauges != NULL ? gauges(arg, &t) : 0;
    metrics_text_printf(&t, "# EOF\n");
    if (err == 0 && t.failed)
        err = CJX_ENOMEM;
    if (err != 0) {
        metrics_text_fini(&t);
        return err;
    }
    *out = t.buf;
    *len = t.len;
    return 0;
}
