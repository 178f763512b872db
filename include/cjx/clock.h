/* Wall-clock time in UTC microseconds, behind a replaceable source for tests. */
#ifndef CJX_CLOCK_H
#define CJX_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Microseconds since the Unix epoch, UTC. */
int64_t cjx_clock_now_us(void);

/* Replaces the clock source (tests pin time with it); NULL restores the
 * system clock. Not thread-safe: set it before starting threads. */
void cjx_clock_set_source(int64_t (*now_us)(void));

/* Formats as "2026-11-25T08:00:00.123456Z"; buf needs 28 bytes. */
void cjx_clock_format_utc(int64_t us, char *buf, size_t len);

/* Monotonic microseconds, for measuring intervals. */
int64_t cjx_clock_monotonic_us(void);

#endif
