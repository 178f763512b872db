/* Unit tests for the pure parts of src/rpc: the per-agency rate limiter. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"
#include "streamcount.h"

#define MS 1000LL
#define S  1000000LL

static struct ratelimit *
limiter(void)
{
    struct ratelimit *rl = ratelimit_new();
    assert_non_null(rl);
    return rl;
}

static void
test_rpc__ratelimit__burst_then_refused_with_retry_hint(void **state)
{
    (void)state;
    struct ratelimit *rl = limiter();
    int64_t retry = -1;
    int64_t t = 5 * S;
    assert_int_equal(ratelimit_take(rl, "CA038033J", 2, 2, t, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "CA038033J", 2, 2, t, &retry), 1);
    assert_int_equal(retry, -1);
    assert_int_equal(ratelimit_take(rl, "CA038033J", 2, 2, t, &retry), 0);
    assert_int_equal(retry, 500); /* 2 tokens/s: the next in half a second */

    /* Part of the wait has passed: the hint shrinks accordingly. */
    assert_int_equal(
        ratelimit_take(rl, "CA038033J", 2, 2, t + 200 * MS, &retry), 0);
    assert_int_equal(retry, 300);
    assert_int_equal(
        ratelimit_take(rl, "CA038033J", 2, 2, t + 500 * MS, &retry), 1);
    assert_int_equal(
        ratelimit_take(rl, "CA038033J", 2, 2, t + 500 * MS, &retry), 0);
    ratelimit_free(rl);
}

static void
test_rpc__ratelimit__hint_rounds_up_and_is_never_zero(void **state)
{
    (void)state;
    struct ratelimit *rl = limiter();
    int64_t retry = 0;
    assert_int_equal(ratelimit_take(rl, "A", 3, 1, 0, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "A", 3, 1, 0, &retry), 0);
    assert_int_equal(retry, 334); /* 333.33 ms, rounded up */

    /* A microsecond short of a token still says to wait. */
    assert_int_equal(ratelimit_take(rl, "B", 1000000, 1, 0, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "B", 1000000, 1, 0, &retry), 0);
    assert_int_equal(retry, 1);
    assert_int_equal(ratelimit_take(rl, "B", 1000000, 1, 1, &retry), 1);
    ratelimit_free(rl);
}

static void
test_rpc__ratelimit__agencies_have_separate_buckets(void **state)
{
    (void)state;
    struct ratelimit *rl = limiter();
    int64_t retry;
    assert_int_equal(ratelimit_take(rl, "CA038033J", 1, 1, 0, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "CA038033J", 1, 1, 0, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "CA038013A", 1, 1, 0, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "CA038023P", 1, 1, 0, &retry), 1);
    assert_int_equal(ratelimit_keys(rl), 3);
    /* Many agencies, each with its own full bucket. */
    char key[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "K%08d", i);
        assert_int_equal(ratelimit_take(rl, key, 1, 1, 0, &retry), 1);
    }
    assert_int_equal(ratelimit_keys(rl), 1003);
    assert_int_equal(ratelimit_take(rl, "K00000500", 1, 1, 0, &retry), 0);
    ratelimit_free(rl);
}

static void
test_rpc__ratelimit__zero_rate__unlimited_and_keeps_no_state(void **state)
{
    (void)state;
    struct ratelimit *rl = limiter();
    int64_t retry;
    for (int i = 0; i < 100; i++)
        assert_int_equal(ratelimit_take(rl, "A", 0, 0, 0, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "A", -5, 1, 0, &retry), 1);
    assert_int_equal(ratelimit_keys(rl), 0);
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

static void
test_rpc__ratelimit__reloaded_limits_apply_to_existing_buckets(void **state)
{
    (void)state;
    struct ratelimit *rl = limiter();
    int64_t retry;
    for (int i = 0; i < 10; i++)
        assert_int_equal(ratelimit_take(rl, "A", 10, 10, 0, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "A", 10, 10, 0, &retry), 0);
    /* A full second refills to the burst and no further. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(ratelimit_take(rl, "A", 10, 10, 1 * S, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "A", 10, 10, 1 * S, &retry), 0);

    /* A lowered burst caps what has built up. */
    assert_int_equal(ratelimit_take(rl, "A", 10, 2, 10 * S, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "A", 10, 2, 10 * S, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "A", 10, 2, 10 * S, &retry), 0);
    /* A raised rate refills faster: 100/s gives a token in 10 ms. */
    assert_int_equal(ratelimit_take(rl, "A", 100, 2, 10 * S, &retry), 0);
    assert_int_equal(retry, 10);
    ratelimit_free(rl);
}

static void
test_rpc__ratelimit__clock_jumps__no_overflow_no_refill_backwards(void **state)
{
    (void)state;
    struct ratelimit *rl = limiter();
    int64_t retry;
    assert_int_equal(ratelimit_take(rl, "A", 1000000, 3, 100 * S, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "A", 1000000, 3, 100 * S, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "A", 1000000, 3, 100 * S, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "A", 1000000, 3, 100 * S, &retry), 0);
    /* Backwards: nothing comes back. */
    assert_int_equal(ratelimit_take(rl, "A", 1000000, 3, 50 * S, &retry), 0);
    /* Centuries ahead: exactly the burst, however large rate * elapsed. */
    int64_t far = INT64_C(3000000000) * S;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(rl, "A", 1000000, 3, far, &retry), 1);
    assert_int_equal(ratelimit_take(rl, "A", 1000000, 3, far, &retry), 0);
    ratelimit_free(rl);
}

struct taker {
    struct ratelimit *rl;
    int granted;
};

static void *
take_many(void *p)
{
    struct taker *t = p;
    int64_t retry;
    for (int i = 0; i < 1000; i++)
        t->granted += ratelimit_take(t->rl, "A", 1, 50, 7 * S, &retry);
    return NULL;
}

static void
test_rpc__ratelimit__concurrent_takers__grant_exactly_the_burst(void **state)
{
    (void)state;
    struct ratelimit *rl = limiter();
    pthread_t th[4];
    struct taker tk[4];
    for (int i = 0; i < 4; i++) {
        tk[i] = (struct taker){rl, 0};
        assert_int_equal(pthread_create(&th[i], NULL, take_many, &tk[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += tk[i].granted;
    }
    assert_int_equal(total, 50);
    ratelimit_free(rl);
}

/* Each key holds up to its limit; a refusal says how many are open and
 * changes nothing; a stream given back makes room, and a key with none
 * open is forgotten. */
static void
test_rpc__streamcount__limit_per_key_and_room_after_give(void **state)
{
    (void)state;
    struct streamcount *t = streamcount_new();
    assert_non_null(t);
    int open = -1;
    for (int i = 0; i < 3; i++)
        assert_int_equal(streamcount_take(t, "ipv4:127.0.0.1:1", 3, &open), 1);
    assert_int_equal(streamcount_take(t, "ipv4:127.0.0.1:1", 3, &open), 0);
    assert_int_equal(open, 3);
    assert_int_equal(streamcount_open(t, "ipv4:127.0.0.1:1"), 3);
    /* Another key has its own count. */
    assert_int_equal(streamcount_take(t, "ipv4:127.0.0.1:2", 3, &open), 1);
    streamcount_give(t, "ipv4:127.0.0.1:1");
    assert_int_equal(streamcount_take(t, "ipv4:127.0.0.1:1", 3, &open), 1);
    for (int i = 0; i < 3; i++)
        streamcount_give(t, "ipv4:127.0.0.1:1");
    assert_int_equal(streamcount_open(t, "ipv4:127.0.0.1:1"), 0);
    assert_int_equal(streamcount_open(t, "ipv4:127.0.0.1:2"), 1);
    streamcount_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_rpc__ratelimit__burst_then_refused_with_retry_hint),
        cmocka_unit_test(test_rpc__ratelimit__hint_rounds_up_and_is_never_zero),
        cmocka_unit_test(test_rpc__ratelimit__agencies_have_separate_buckets),
        cmocka_unit_test(
            test_rpc__streamcount__limit_per_key_and_room_after_give),
        cmocka_unit_test(
            test_rpc__ratelimit__zero_rate__unlimited_and_keeps_no_state),
        cmocka_unit_test(
            test_rpc__ratelimit__reloaded_limits_apply_to_existing_buckets),
        cmocka_unit_test(
            test_rpc__ratelimit__clock_jumps__no_overflow_no_refill_backwards),
        cmocka_unit_test(
            test_rpc__ratelimit__concurrent_takers__grant_exactly_the_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
