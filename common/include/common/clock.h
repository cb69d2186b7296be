/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's two clocks, in nanoseconds. CLOCK_MONOTONIC measures intervals, deadlines and
 * cache ages (it never jumps); CLOCK_REALTIME only stamps what leaves the agent (history
 * windows, the last drain's time in /metrics). Any thread may call them.
 */
#ifndef STACKD_COMMON_CLOCK_H
#define STACKD_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CLOCK_NS_PER_S 1000000000ULL

/* Nanoseconds on CLOCK_MONOTONIC (since an unspecified start, usually boot). */
static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CLOCK_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds since the Unix epoch on CLOCK_REALTIME (may jump when the clock is set). */
static inline int64_t unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * (int64_t)CLOCK_NS_PER_S + ts.tv_nsec;
}

#endif
