// SPDX-License-Identifier: Apache-2.0
/*
 * The profile history: windows are evicted past the retention and over the
 * byte budget, and every eviction is counted; queries see the windows that
 * overlap their range; a window a query still reads outlives its eviction.
 * The partial entry (the open window) replaces its predecessor and is replaced
 * by the closed window, is charged to the budget and pinned like a window, and
 * a query after a quiet spell waits for the drain's next one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"

#include "exporter/pprof.h"
#include "exporter/history.h"

#define SEC 1000000000LL
#define T0  (1700000000LL * SEC)

/* A frozen window [start, start + 10 s) holding @count samples of @nstacks stacks. */
static struct pprof_frozen *window(int64_t start, int64_t count, unsigned nstacks)
{
	struct pprof_opts o = {.period_ns = 10101010, .time_nanos = start};
	struct pprof_line line = {.function = "f"};
	struct pprof_label l = {.key = "pid", .num = 1};
	struct pprof_builder *b;
	struct pprof_frozen *f;
	uint64_t id;

	assert_int_equal(pprof_builder_new(&o, &b), 0);
	for (unsigned i = 0; i < nstacks; i++) {
		assert_int_equal(pprof_add_location(b, 0, 0x1000 + i, &line, 1, &id), 0);
		assert_int_equal(
		    pprof_add_sample(b, &id, 1, i == 0 ? count - (nstacks - 1) : 1, &l, 1), 0);
	}
	assert_int_equal(pprof_freeze(b, 10 * SEC, &f), 0);
	pprof_builder_free(b);
	return f;
}

static void test_retention(void **state)
{
	struct history_opts o = {
	    .window_ns = 10 * SEC, .retention_ns = 60 * SEC, .max_bytes = 1 << 20};
	struct history_stats st;
	struct history_view v;
	struct history *h;

	(void)state;
	assert_int_equal(history_new(&o, &h), 0);
	for (int i = 0; i < 10; i++)
		history_push(h, window(T0 + i * 10 * SEC, 5, 1));
	history_get_stats(h, &st);
	/* Ten windows pushed, the newest ends at T0+100s: those ending at or before T0+40s go. */
	assert_int_equal(st.pushed, 10);
	assert_int_equal(st.windows, 6);
	assert_int_equal(st.evicted_retention, 4);
	assert_int_equal(st.evicted_budget, 0);
	assert_int_equal(st.evicted_samples, 20);
	assert_int_equal(st.samples, 30);
	assert_int_equal(st.oldest_ns, T0 + 40 * SEC);
	assert_int_equal(st.newest_end_ns, T0 + 100 * SEC);

	/* [T0+55s, T0+75s) overlaps the windows starting at 50, 60 and 70. */
	assert_int_equal(history_acquire(h, T0 + 55 * SEC, T0 + 75 * SEC, &v), 0);
	assert_int_equal(v.nr, 3);
	assert_int_equal(pprof_frozen_time(v.w[0]), T0 + 50 * SEC);
	assert_int_equal(pprof_frozen_time(v.w[2]), T0 + 70 * SEC);
	assert_int_equal(v.held_from_ns, T0 + 40 * SEC);
	assert_int_equal(v.held_to_ns, T0 + 100 * SEC);
	history_release(&v);
	/* Before everything held: nothing, but what is held is reported. */
	assert_int_equal(history_acquire(h, T0, T0 + 30 * SEC, &v), 0);
	assert_int_equal(v.nr, 0);
	assert_int_equal(v.held_from_ns, T0 + 40 * SEC);
	history_release(&v);
	history_free(h);
}

static void test_budget_and_readers(void **state)
{
	struct history_opts o = {.window_ns = 10 * SEC, .retention_ns = 3600 * SEC};
	struct pprof_frozen *probe = window(T0, 200, 200);
	size_t one = pprof_frozen_bytes(probe);
	struct history_stats st;
	struct history_view v;
	struct history *h;

	(void)state;
	pprof_frozen_free(probe);
	o.max_bytes = one * 3 + one / 2; /* room for three windows */
	assert_int_equal(history_new(&o, &h), 0);
	history_push(h, window(T0, 200, 200));
	/* A reader holds the oldest window while the budget evicts it. */
	assert_int_equal(history_acquire(h, T0, T0 + SEC, &v), 0);
	assert_int_equal(v.nr, 1);
	for (int i = 1; i < 6; i++)
		history_push(h, window(T0 + i * 10 * SEC, 200, 200));
	/*
	 * The evicted window still being read counts against the budget until
	 * it is released, so the budget holds even then: two windows plus it.
	 */
	history_get_stats(h, &st);
	assert_int_equal(st.windows, 2);
	assert_int_equal(st.evicted_budget, 4);
	assert_int_equal(st.evicted_samples, 800);
	assert_int_equal(st.bytes, 3 * one);
	assert_true(st.bytes <= o.max_bytes);
	assert_int_equal(pprof_frozen_total(v.w[0]), 200);
	history_release(&v);
	history_get_stats(h, &st);
	assert_int_equal(st.bytes, 2 * one);

	/* A window larger than the whole budget is never held, and is counted. */
	history_push(h, window(T0 + 60 * SEC, 5000, 5000));
	history_get_stats(h, &st);
	assert_int_equal(st.rejected_too_big, 1);
	assert_int_equal(st.windows, 2);
	assert_int_equal(st.evicted_samples, 5800);
	history_free(h);
}

/*
 * A query holding every window while a push arrives at the budget: evicting
 * them would free nothing until the query ends, so the history keeps them and
 * drops the new window (counted) instead of emptying itself and still
 * overshooting. Pinned bytes are charged once and subtracted on release.
 */
static void test_query_across_push_at_budget(void **state)
{
	struct history_opts o = {.window_ns = 10 * SEC, .retention_ns = 3600 * SEC};
	struct pprof_frozen *probe = window(T0, 200, 200);
	size_t one = pprof_frozen_bytes(probe);
	struct history_view all, first;
	struct history_stats st;
	struct history *h;

	(void)state;
	pprof_frozen_free(probe);
	o.max_bytes = one * 3 + one / 2; /* room for three windows */
	assert_int_equal(history_new(&o, &h), 0);
	for (int i = 0; i < 3; i++)
		history_push(h, window(T0 + i * 10 * SEC, 200, 200));
	assert_int_equal(history_acquire(h, T0, T0 + 3600 * SEC, &all), 0);
	assert_int_equal(all.nr, 3);
	history_push(h, window(T0 + 30 * SEC, 200, 200));
	history_get_stats(h, &st);
	assert_int_equal(st.windows, 3); /* the history is still there */
	assert_int_equal(st.evicted_budget, 0);
	assert_int_equal(st.rejected_pinned, 1);
	assert_int_equal(st.evicted_samples, 200);
	assert_int_equal(st.bytes, 3 * one);
	assert_true(st.bytes <= o.max_bytes);
	history_release(&all);
	history_get_stats(h, &st);
	assert_int_equal(st.bytes, 3 * one);
	assert_int_equal(st.pinned_bytes, 0);

	/*
	 * A query on the oldest two: they free nothing, so the third goes too
	 * (oldest first, the ring stays in time order); the two read are
	 * charged once, as pinned, and the budget still holds.
	 */
	assert_int_equal(history_acquire(h, T0, T0 + 20 * SEC, &first), 0);
	assert_int_equal(first.nr, 2);
	history_push(h, window(T0 + 40 * SEC, 200, 200));
	history_get_stats(h, &st);
	assert_int_equal(st.windows, 1);
	assert_int_equal(st.evicted_budget, 3);
	assert_int_equal(st.pinned_bytes, 2 * one);
	assert_int_equal(st.bytes, 3 * one);
	history_release(&first);
	history_get_stats(h, &st);
	assert_int_equal(st.bytes, one);
	assert_int_equal(st.pinned_bytes, 0);
	assert_int_equal(st.windows, 1);
	history_free(h);
}

/*
 * A partial replaces the previous one and is replaced by the closed window;
 * queries see it last; a query reading a replaced one keeps it (pinned) until
 * it lets go; none of that counts samples as held or evicted.
 */
static void test_partial_replace(void **state)
{
	struct history_opts o = {
	    .window_ns = 10 * SEC, .retention_ns = 3600 * SEC, .max_bytes = 1 << 20};
	struct pprof_frozen *p1 = window(T0 + 20 * SEC, 30, 3), *p2 = window(T0 + 20 * SEC, 90, 9);
	size_t b1 = pprof_frozen_bytes(p1), b2 = pprof_frozen_bytes(p2), bw;
	struct history_view v, v2;
	struct history_stats st;
	struct history *h;

	(void)state;
	assert_int_equal(history_new(&o, &h), 0);
	assert_int_equal(history_acquire(h, T0, T0 + 30 * SEC, &v), 0);
	assert_int_equal(v.nr, 0);
	assert_int_equal(v.held_from_ns, 0);
	history_release(&v);
	history_push(h, window(T0, 10, 1));
	history_push(h, window(T0 + 10 * SEC, 10, 1));
	history_get_stats(h, &st);
	bw = st.bytes;

	history_set_partial(h, p1, 0, true);
	history_get_stats(h, &st);
	assert_int_equal(st.partials, 1);
	assert_int_equal(st.partial_bytes, b1);
	assert_int_equal(st.bytes, bw + b1);
	assert_int_equal(st.windows, 2);
	assert_int_equal(st.samples, 20);
	/* The last seconds are the partial's, and the held range reaches its end. */
	assert_int_equal(history_acquire(h, T0 + 25 * SEC, T0 + 28 * SEC, &v), 0);
	assert_int_equal(v.nr, 1);
	assert_ptr_equal(v.w[0], p1);
	assert_int_equal(v.held_to_ns, T0 + 30 * SEC);
	assert_int_equal(v.held_from_ns, T0);

	/* Replaced while read: kept and charged as pinned until the query ends. */
	history_set_partial(h, p2, 0, true);
	history_get_stats(h, &st);
	assert_int_equal(st.partials, 2);
	assert_int_equal(st.partial_bytes, b2);
	assert_int_equal(st.pinned_bytes, b1);
	assert_int_equal(st.bytes, bw + b1 + b2);
	assert_int_equal(history_acquire(h, T0, T0 + 3600 * SEC, &v2), 0);
	assert_int_equal(v2.nr, 3);
	assert_ptr_equal(v2.w[2], p2);
	history_release(&v);
	history_get_stats(h, &st);
	assert_int_equal(st.pinned_bytes, 0);
	assert_int_equal(st.bytes, bw + b2);

	/* The closed window replaces it: nothing evicted, its samples now held. */
	history_push(h, window(T0 + 20 * SEC, 90, 9));
	history_get_stats(h, &st);
	assert_int_equal(st.partial_bytes, 0);
	assert_int_equal(st.pinned_bytes, b2); /* v2 still reads it */
	assert_int_equal(st.windows, 3);
	assert_int_equal(st.samples, 110);
	assert_int_equal(st.evicted_samples, 0);
	assert_int_equal(st.evicted_budget + st.evicted_retention, 0);
	history_release(&v2);
	history_get_stats(h, &st);
	assert_int_equal(st.pinned_bytes, 0);
	assert_int_equal(st.bytes, bw + b2); /* the closed window is the same size */

	/* Nobody looks any more: the drain drops it. */
	history_set_partial(h, window(T0 + 30 * SEC, 5, 1), 0, true);
	history_set_partial(h, NULL, 0, false);
	history_get_stats(h, &st);
	assert_int_equal(st.partial_bytes, 0);
	assert_int_equal(st.bytes, bw + b2);
	history_free(h);
}

/*
 * A partial is charged to the budget: it evicts the oldest windows (counted as
 * budget evictions) when that makes room, and is not held (counted) when it is
 * larger than the budget, when queries pin the rest, or when its freeze failed.
 * It never evicts by retention.
 */
static void test_partial_budget(void **state)
{
	struct history_opts o = {.window_ns = 10 * SEC, .retention_ns = 30 * SEC};
	struct pprof_frozen *probe = window(T0, 200, 200);
	size_t one = pprof_frozen_bytes(probe);
	struct history_stats st;
	struct history_view all;
	struct history *h;

	(void)state;
	pprof_frozen_free(probe);
	o.max_bytes = one * 3 + one / 2; /* room for three windows */
	assert_int_equal(history_new(&o, &h), 0);
	for (int i = 0; i < 3; i++)
		history_push(h, window(T0 + i * 10 * SEC, 200, 200));
	/* Starts 60 s after the oldest ended: no retention eviction for a partial. */
	history_set_partial(h, window(T0 + 70 * SEC, 200, 200), 0, true);
	history_get_stats(h, &st);
	assert_int_equal(st.evicted_retention, 0);
	assert_int_equal(st.evicted_budget, 1);
	assert_int_equal(st.evicted_samples, 200);
	assert_int_equal(st.windows, 2);
	assert_int_equal(st.partial_bytes, one);
	assert_int_equal(st.bytes, 3 * one);
	assert_true(st.bytes <= o.max_bytes);

	/* Queries pin every window: the next partial finds no room. */
	assert_int_equal(history_acquire(h, T0, T0 + 3600 * SEC, &all), 0);
	assert_int_equal(all.nr, 3);
	history_set_partial(h, window(T0 + 70 * SEC, 400, 400), 0, true);
	history_get_stats(h, &st);
	assert_int_equal(st.partials_rejected, 1);
	assert_int_equal(st.partial_bytes, 0);
	assert_int_equal(st.evicted_budget, 1);
	assert_int_equal(st.bytes, 3 * one); /* the replaced partial, pinned */
	history_release(&all);
	history_get_stats(h, &st);
	assert_int_equal(st.bytes, 2 * one);

	/* Larger than the whole budget, or a failed freeze: counted, not held. */
	history_set_partial(h, window(T0 + 70 * SEC, 1000, 1000), 0, true);
	history_set_partial(h, NULL, -ENOMEM, true);
	history_get_stats(h, &st);
	assert_int_equal(st.partials_rejected, 3);
	assert_int_equal(st.partials, 1);
	assert_int_equal(st.windows, 2);
	assert_int_equal(st.bytes, 2 * one);
	history_free(h);
}

static void *publish_later(void *arg)
{
	struct timespec ts = {.tv_nsec = 50000000};

	nanosleep(&ts, NULL);
	history_set_partial(arg, window(T0, 7, 1), 0, true);
	return NULL;
}

/*
 * The drain freezes partials only while queries come; the first query after a
 * quiet spell waits for the drain's next one (bounded), later ones do not.
 */
static void test_partial_interest_and_wait(void **state)
{
	struct history_opts o = {.window_ns = 10 * SEC,
				 .retention_ns = 60 * SEC,
				 .max_bytes = 1 << 20,
				 .partial_wait_ns = 3600 * SEC};
	struct history_view v;
	struct history *h;
	pthread_t t;

	(void)state;
	assert_int_equal(history_new(&o, &h), 0);
	assert_false(history_partial_wanted(h, mono_ns()));
	/* A past range the closed windows cover does not wait (not for an hour). */
	history_push(h, window(T0 - 10 * SEC, 3, 1));
	assert_int_equal(history_acquire(h, T0 - 10 * SEC, T0, &v), 0);
	assert_int_equal(v.nr, 1);
	history_release(&v);
	assert_int_equal(pthread_create(&t, NULL, publish_later, h), 0);
	/* Returns with the partial the "drain" publishes (not after an hour). */
	assert_int_equal(history_acquire(h, T0, T0 + 10 * SEC, &v), 0);
	assert_int_equal(v.nr, 1);
	assert_int_equal(pprof_frozen_total(v.w[0]), 7);
	assert_int_equal(v.held_from_ns, T0 - 10 * SEC);
	history_release(&v);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(history_partial_wanted(h, mono_ns()));
	assert_false(history_partial_wanted(h, mono_ns() + HISTORY_INTEREST_NS));
	/* Live: the next query does not wait. */
	assert_int_equal(history_acquire(h, T0, T0 + 10 * SEC, &v), 0);
	assert_int_equal(v.nr, 1);
	history_release(&v);
	history_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retention),
	    cmocka_unit_test(test_budget_and_readers),
	    cmocka_unit_test(test_query_across_push_at_budget),
	    cmocka_unit_test(test_partial_replace),
	    cmocka_unit_test(test_partial_budget),
	    cmocka_unit_test(test_partial_interest_and_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
