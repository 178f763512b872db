/* Unit tests for cjxctl's fan-out of independent calls (src/cli/fan_out.h):
 * every item runs once, the items of one lane in ascending order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fan_out.h"

#define ITEMS 1000

struct record {
    unsigned lanes; /* lanes in use: item i is in lane i % lanes */
    int runs[ITEMS];
    /* Per lane, the items in the order they ran (a lane runs on one
     * thread, so its list needs no lock). */
    size_t order[CLI_FAN_OUT_THREADS][ITEMS];
    size_t n[CLI_FAN_OUT_THREADS];
    size_t last_progress;
    int progress_calls;
};

static unsigned
lane_by_modulo(void *arg, size_t i)
{
    const struct record *r = arg;
    return (unsigned)(i % r->lanes);
}

static void
run_item(void *arg, size_t i)
{
    struct record *r = arg;
    unsigned lane = lane_by_modulo(r, i) % CLI_FAN_OUT_THREADS;
    r->runs[i]++;
    r->order[lane][r->n[lane]++] = i;
}

static void
count_progress(void *arg, size_t done)
{
    struct record *r = arg;
    r->progress_calls++;
    assert_int_equal(done, r->last_progress + 1);
    r->last_progress = done;
}

static void
check_every_item_once_in_lane_order(struct record *r)
{
    cli_fan_out(ITEMS, lane_by_modulo, run_item, count_progress, r);
    size_t total = 0;
    for (size_t i = 0; i < ITEMS; i++)
        assert_int_equal(r->runs[i], 1);
    for (unsigned l = 0; l < CLI_FAN_OUT_THREADS; l++) {
        for (size_t k = 1; k < r->n[l]; k++)
            assert_true(r->order[l][k - 1] < r->order[l][k]);
        total += r->n[l];
    }
    assert_int_equal(total, ITEMS);
    assert_int_equal(r->progress_calls, ITEMS);
    assert_int_equal(r->last_progress, ITEMS);
}

static void
test_fan_out__every_item_runs_once_in_order_within_its_lane(void **state)
{
    (void)state;
    struct record *r = calloc(1, sizeof(*r));
    r->lanes = CLI_FAN_OUT_THREADS;
    check_every_item_once_in_lane_order(r);
    for (unsigned l = 0; l < CLI_FAN_OUT_THREADS; l++)
        assert_int_equal(r->n[l], ITEMS / CLI_FAN_OUT_THREADS);
    free(r);
}

static void
test_fan_out__one_lane__runs_everything_in_order(void **state)
{
    (void)state;
    struct record *r = calloc(1, sizeof(*r));
    r->lanes = 1;
    check_every_item_once_in_lane_order(r);
    assert_int_equal(r->n[0], ITEMS);
    free(r);
}

static void
test_fan_out__no_items__runs_nothing(void **state)
{
    (void)state;
    struct record *r = calloc(1, sizeof(*r));
    r->lanes = 2;
    cli_fan_out(0, lane_by_modulo, run_item, count_progress, r);
    assert_int_equal(r->progress_calls, 0);
    free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_fan_out__every_item_runs_once_in_order_within_its_lane),
        cmocka_unit_test(test_fan_out__one_lane__runs_everything_in_order),
        cmocka_unit_test(test_fan_out__no_items__runs_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
