/* Running a command's independent calls to the daemon several at a time
 * through one client, which several threads may call through at once. A
 * call the daemon answers only once it is durable waits for a commit: one
 * at a time, each waits for its own; several in flight are committed
 * together. */
#ifndef CJX_CLI_FAN_OUT_H
#define CJX_CLI_FAN_OUT_H

#include <stddef.h>

/* Threads at most: fewer than gRPC lets wait on one completion queue at
 * once (6). */
#define CLI_FAN_OUT_THREADS 4

/* Which thread runs item i (taken modulo CLI_FAN_OUT_THREADS). */
typedef unsigned (*cli_fan_out_lane_fn)(void *arg, size_t i);

/* Calls run(arg, i) for every i in [0, n) on up to CLI_FAN_OUT_THREADS
 * threads and returns when all have run. Items of one lane run one after
 * another in ascending order; lane NULL deals them out in turn. After each
 * item, progress(arg, items run so far) is called under a lock (progress
 * may be NULL). A thread that cannot be started leaves its items to the
 * calling thread. */
void cli_fan_out(size_t n, cli_fan_out_lane_fn lane,
                 void (*run)(void *arg, size_t i),
                 void (*progress)(void *arg, size_t done), void *arg);

#endif
