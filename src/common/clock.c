/* UTC wall clock and monotonic clock. */
#include "cjx/clock.h"

#include <stdio.h>
#include <time.h>

static int64_t (*clock_source)(void);

static int64_t
system_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
cjx_clock_now_us(void)
{
    return clock_source != NULL ? clock_source() : system_now_us();
}

void
cjx_clock_set_source(int64_t (*now_us)(void))
{
    clock_source = now_us;
}

void
cjx_clock_format_utc(int64_t us, char *buf, size_t len)
{
    time_t secs = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, frac);
}

int64_t
cjx_clock_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
