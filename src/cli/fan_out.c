/* Independent calls to the daemon, several at a time (fan_out.h). */
#include "fan_out.h"

#include <pthread.h>

struct fan_out {
    size_t n;
    cli_fan_out_lane_fn lane;
    void (*run)(void *arg, size_t i);
    void (*progress)(void *arg, size_t done);
    void *arg;
    pthread_mutex_t mu; /* guards done and the progress calls */
    size_t done;
};

struct fan_out_thread {
    struct fan_out *f;
    unsigned index;
};

static unsigned
lane_of(const struct fan_out *f, size_t i)
{
    return (f->lane != NULL ? f->lane(f->arg, i) : (unsigned)i) %
           CLI_FAN_OUT_THREADS;
}

static void *
run_lane(void *arg)
{
    struct fan_out_thread *t = arg;
    struct fan_out *f = t->f;
    for (size_t i = 0; i < f->n; i++) {
        if (lane_of(f, i) != t->index)
            continue;
        f->run(f->arg, i);
        pthread_mutex_lock(&f->mu);
        f->done++;
        if (f->progress != NULL)
            f->progress(f->arg, f->done);
        pthread_mutex_unlock(&f->mu);
    }
    return NULL;
}

void
cli_fan_out(size_t n, cli_fan_out_lane_fn lane,
            void (*run)(void *arg, size_t i),
            void (*progress)(void *arg, size_t done), void *arg)
{
    struct fan_out f = {.n = n,
                        .lane = lane,
                        .run = run,
                        .progress = progress,
                        .arg = arg,
                        .mu = PTHREAD_MUTEX_INITIALIZER};
    struct fan_out_thread threads[CLI_FAN_OUT_THREADS];
    pthread_t ids[CLI_FAN_OUT_THREADS];
    int started[CLI_FAN_OUT_THREADS];
    for (unsigned i = 0; i < CLI_FAN_OUT_THREADS; i++) {
        threads[i] = (struct fan_out_thread){&f, i};
        started[i] = pthread_create(&ids[i], NULL, run_lane, &threads[i]) == 0;
    }
    for (unsigned i = 0; i < CLI_FAN_OUT_THREADS; i++) {
        if (started[i])
            pthread_join(ids[i], NULL);
        else
            run_lane(&threads[i]);
    }
    pthread_mutex_destroy(&f.mu);
}
