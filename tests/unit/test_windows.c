// SPDX-License-Identifier: Apache-2.0
/*
 * Profile windows driven by neutral samples, with no BPF: a window gets the
 * samples of the drains after its registration only, closes at the first
 * drain at or past its end, a cancelled one is freed by the next drain,
 * shutdown aborts the open ones, windows overlap without sharing samples,
 * and requests racing the drain thread are each answered once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "stackd.h"
#include "windows.h"

#define SEC    1000000000ULL
#define T0     (1000 * SEC)
#define T_UNIX (1700000000LL * (int64_t)SEC)
#define PERIOD 10101010ULL

/* A waiter: how often notify told it. */
struct waiter {
	atomic_int told;
};

static void notify(void *w)
{
	atomic_fetch_add(&((struct waiter *)w)->told, 1);
}

static struct windows *set_new(unsigned max)
{
	struct windows_opts o = {.period_ns = PERIOD, .max_windows = max, .notify = notify};
	struct windows *ws = NULL;

	assert_int_equal(windows_new(&o, &ws), 0);
	return ws;
}

/* Symbolized frames as the drain would hand them: one user frame in main. */
static const struct sym_line main_line = {.function = "main", .file = "m.c", .line = 3};
static struct sym_frame main_frame = {.addr = 0x401000, .nr_lines = 1, .lines = &main_line};
static const struct sym_result main_frames = {.nr = 1, .frames = &main_frame};
static const struct pprof_label pid_label[] = {{.key = "pid", .num = 42}};

static struct sample sample_of(uint64_t count)
{
	static const uint64_t uips[] = {0x401000};

	return (struct sample){
	    .tgid = 42,
	    .pid = 42,
	    .start_boottime = 7,
	    .count = count,
	    .ustate = SAMPLE_STACK_OK,
	    .uips = uips,
	    .nr_uips = 1,
	    .labels = pid_label,
	    .nr_labels = 1,
	    .uframes = &main_frames,
	};
}

/* One drain at swap @t0 that drains the given sample counts (0 ends the list). */
static void drain(struct windows *ws, uint64_t t0, const uint64_t *counts)
{
	windows_drain_begin(ws);
	for (; counts && *counts; counts++) {
		struct sample s = sample_of(*counts);

		assert_int_equal(windows_add(ws, &s), 0);
	}
	windows_drain_end(ws, t0, T_UNIX + (int64_t)(t0 - T0));
}

static void drain1(struct windows *ws, uint64_t t0, uint64_t count)
{
	uint64_t counts[2] = {count, 0};

	drain(ws, t0, counts);
}

/* Takes @w (DONE) and returns its sample total; checks its span. */
static int64_t take_total(struct windows *ws, struct window *w, uint64_t duration_ns,
			  int64_t time_nanos)
{
	struct window_result res;
	struct pprof_frozen *f = NULL;
	int64_t total;

	windows_take(ws, w, &res);
	assert_true(res.is_done);
	assert_int_equal(res.err, 0);
	assert_non_null(res.b);
	assert_int_equal(res.duration_ns, duration_ns);
	assert_int_equal(pprof_freeze(res.b, (int64_t)res.duration_ns, &f), 0);
	assert_int_equal(pprof_frozen_time(f), time_nanos);
	total = pprof_frozen_total(f);
	pprof_frozen_free(f);
	pprof_builder_free(res.b);
	return total;
}

static void test_opens_at_next_drain(void **state)
{
	struct windows *ws = set_new(4);
	struct waiter wt = {0};
	struct window *w;
	bool pending;

	(void)state;
	drain1(ws, T0, 1); /* nothing open: nobody wants samples */
	assert_int_equal(windows_open(ws, 2, T0 + SEC / 2, &wt, &w), 0);
	assert_int_equal(windows_next_deadline(ws, T0 + 9 * SEC, &pending), T0 + 9 * SEC);
	assert_true(pending); /* the drain thread drains at once */

	/* The drain that opens it drains samples taken before the request: not the window's. */
	windows_drain_begin(ws);
	assert_false(windows_want_samples(ws));
	windows_drain_end(ws, T0 + SEC, T_UNIX + (int64_t)SEC);
	assert_int_equal(windows_next_deadline(ws, T0 + 9 * SEC, &pending), T0 + 3 * SEC);
	assert_false(pending);

	drain1(ws, T0 + 2 * SEC, 5);
	assert_int_equal(atomic_load(&wt.told), 0);
	/* The drain whose swap is at the end closes it, with its samples. */
	windows_drain_begin(ws);
	assert_true(windows_want_samples(ws));
	{
		struct sample s = sample_of(7);

		assert_int_equal(windows_add(ws, &s), 0);
	}
	windows_drain_end(ws, T0 + 3 * SEC, T_UNIX + 3 * (int64_t)SEC);
	assert_int_equal(atomic_load(&wt.told), 1);
	/* Told once, even across more drains. */
	drain1(ws, T0 + 4 * SEC, 100);
	assert_int_equal(atomic_load(&wt.told), 1);

	assert_int_equal(take_total(ws, w, 2 * SEC, T_UNIX + (int64_t)SEC), 12);
	assert_int_equal(windows_count(ws), 0);
	windows_free(ws);
}

static void test_registered_during_drain_waits(void **state)
{
	struct windows *ws = set_new(4);
	struct waiter wt = {0};
	struct window *w;
	bool pending;

	(void)state;
	/* Registered after the swap at T0 (during that drain): it must not open there. */
	assert_int_equal(windows_open(ws, 1, T0 + 1, &wt, &w), 0);
	drain1(ws, T0, 3);
	windows_next_deadline(ws, T0 + 9 * SEC, &pending);
	assert_true(pending);
	drain1(ws, T0 + SEC / 10, 4); /* opens here, 4 predate it */
	drain1(ws, T0 + SEC / 2, 5);
	assert_int_equal(atomic_load(&wt.told), 0);
	drain1(ws, T0 + SEC / 10 + SEC, 6);
	assert_int_equal(atomic_load(&wt.told), 1);
	assert_int_equal(take_total(ws, w, SEC, T_UNIX + (int64_t)(SEC / 10)), 11);
	windows_free(ws);
}

static void test_cancelled(void **state)
{
	struct windows *ws = set_new(4);
	struct waiter wa = {0}, wp = {0};
	struct window *active, *pending_w;

	(void)state;
	assert_int_equal(windows_open(ws, 5, T0, &wa, &active), 0);
	drain1(ws, T0, 1);
	assert_int_equal(windows_open(ws, 5, T0 + 1, &wp, &pending_w), 0);
	assert_int_equal(windows_count(ws), 2);

	/* A pending window is freed at once. */
	windows_cancel(ws, pending_w);
	assert_int_equal(windows_count(ws), 1);

	/* An active one lives until the drain that may be writing it ends. */
	windows_drain_begin(ws);
	windows_cancel(ws, active);
	assert_int_equal(windows_count(ws), 1);
	{
		struct sample s = sample_of(2);

		assert_int_equal(windows_add(ws, &s), 0);
	}
	windows_drain_end(ws, T0 + SEC, T_UNIX + (int64_t)SEC);
	assert_int_equal(windows_count(ws), 0);
	assert_int_equal(atomic_load(&wa.told), 0);
	assert_int_equal(atomic_load(&wp.told), 0);
	drain1(ws, T0 + 2 * SEC, 1);
	windows_free(ws);
}

static void test_abort_at_shutdown(void **state)
{
	struct windows *ws = set_new(4);
	struct waiter wa = {0}, wp = {0}, wd = {0}, wn = {0};
	struct window *active, *pending_w, *done, *late;
	struct window_result res;

	(void)state;
	assert_int_equal(windows_open(ws, 1, T0, &wd, &done), 0);
	assert_int_equal(windows_open(ws, 60, T0, &wa, &active), 0);
	drain1(ws, T0, 1);
	drain1(ws, T0 + SEC, 2); /* done closes */
	assert_int_equal(windows_open(ws, 60, T0 + SEC + 1, &wp, &pending_w), 0);
	assert_int_equal(atomic_load(&wd.told), 1);

	windows_abort(ws);
	assert_int_equal(atomic_load(&wa.told), 1);
	assert_int_equal(atomic_load(&wp.told), 1);
	assert_int_equal(atomic_load(&wd.told), 1); /* not told twice */
	assert_int_equal(windows_open(ws, 1, T0 + 2 * SEC, &wn, &late), -ESHUTDOWN);

	windows_take(ws, active, &res);
	assert_false(res.is_done);
	assert_int_equal(res.err, 0);
	assert_null(res.b);
	windows_take(ws, pending_w, &res);
	assert_false(res.is_done);
	/* A window that closed before the shutdown is still served. */
	assert_int_equal(take_total(ws, done, SEC, T_UNIX), 2);
	assert_int_equal(windows_count(ws), 0);
	windows_free(ws);
}

static void test_concurrent_windows(void **state)
{
	struct windows *ws = set_new(2);
	struct waiter w1t = {0}, w2t = {0}, w3t = {0};
	struct window *w1, *w2, *w3;
	bool pending;

	(void)state;
	assert_int_equal(windows_open(ws, 3, T0, &w1t, &w1), 0);
	drain1(ws, T0, 1); /* w1: [T0, T0+3s) */
	assert_int_equal(windows_open(ws, 1, T0 + 1, &w2t, &w2), 0);
	/* At most max_windows open at once. */
	assert_int_equal(windows_open(ws, 1, T0 + 1, &w3t, &w3), -EBUSY);
	drain1(ws, T0 + SEC, 10); /* w1 gets 10; w2 opens: [T0+1s, T0+2s) */
	assert_int_equal(windows_next_deadline(ws, T0 + 9 * SEC, &pending), T0 + 2 * SEC);
	drain1(ws, T0 + 2 * SEC, 100); /* both; w2 closes */
	assert_int_equal(atomic_load(&w2t.told), 1);
	assert_int_equal(atomic_load(&w1t.told), 0);
	assert_int_equal(windows_next_deadline(ws, T0 + 9 * SEC, &pending), T0 + 3 * SEC);
	assert_int_equal(take_total(ws, w2, SEC, T_UNIX + (int64_t)SEC), 100);
	drain1(ws, T0 + 3 * SEC, 1000); /* w1 closes */
	assert_int_equal(atomic_load(&w1t.told), 1);
	assert_int_equal(take_total(ws, w1, 3 * SEC, T_UNIX), 1110);
	windows_free(ws);
}

/* The reason label an off-CPU window's samples carry, and their switches. */
struct reasons_seen {
	char reason[32];
	int64_t switches, ns;
};

static int reason_of(void *ctx, const struct pprof_frame_name *frames, size_t nr, int64_t count,
		     int64_t value, const struct pprof_label *labels, size_t nr_labels)
{
	struct reasons_seen *r = ctx;

	(void)frames;
	(void)nr;
	for (size_t i = 0; i < nr_labels; i++)
		if (strcmp(labels[i].key, "offcpu_reason") == 0 && labels[i].str)
			snprintf(r->reason, sizeof(r->reason), "%s", labels[i].str);
	r->switches += count;
	r->ns += value;
	return 0;
}

/* An off-CPU window: an off-CPU profile, its samples labelled with why the thread left. */
static void test_offcpu_window(void **state)
{
	struct windows_opts o = {
	    .period_ns = 1, .kind = PPROF_KIND_OFFCPU, .max_windows = 1, .notify = notify};
	struct waiter wt = {0};
	struct reasons_seen seen = {0};
	struct window_result res;
	struct pprof_frozen *f = NULL;
	struct windows *ws = NULL;
	struct window *w;
	struct sample s = sample_of(3);

	(void)state;
	assert_int_equal(windows_new(&o, &ws), 0);
	assert_int_equal(windows_open(ws, 1, T0, &wt, &w), 0);
	drain(ws, T0, NULL);
	s.offcpu = true;
	s.offcpu_ns = 60000000;
	s.offcpu_reason = STACKD_OFFCPU_SLEEP;
	windows_drain_begin(ws);
	assert_int_equal(windows_add(ws, &s), 0);
	windows_drain_end(ws, T0 + SEC, T_UNIX + (int64_t)SEC);
	windows_take(ws, w, &res);
	assert_true(res.is_done);
	assert_int_equal(pprof_builder_kind(res.b), PPROF_KIND_OFFCPU);
	assert_int_equal(pprof_freeze(res.b, (int64_t)res.duration_ns, &f), 0);
	assert_int_equal(pprof_frozen_kind(f), PPROF_KIND_OFFCPU);
	assert_int_equal(pprof_frozen_foreach(f, NULL, reason_of, &seen), 0);
	assert_string_equal(seen.reason, "sleep");
	assert_int_equal(seen.switches, 3);
	assert_int_equal(seen.ns, 60000000);
	pprof_frozen_free(f);
	pprof_builder_free(res.b);
	windows_free(ws);
}

/* Names of a profile's stacks, leaf first, joined by ';', one stack per call. */
struct stacks_seen {
	char s[4][160];
	int64_t counts[4];
	size_t nr;
};

static int collect(void *ctx, const struct pprof_frame_name *frames, size_t nr, int64_t count,
		   int64_t value, const struct pprof_label *labels, size_t nr_labels)
{
	struct stacks_seen *seen = ctx;
	char *out;

	(void)value;
	assert_true(seen->nr < 4);
	out = seen->s[seen->nr];
	for (size_t i = 0; i < nr; i++) {
		strcat(out, frames[i].name);
		if (i + 1 < nr)
			strcat(out, ";");
	}
	assert_int_equal(nr_labels, 1);
	assert_string_equal(labels[0].key, "pid");
	assert_int_equal(labels[0].num, 42);
	seen->counts[seen->nr++] = count;
	return 0;
}

static int64_t count_of(const struct stacks_seen *seen, const char *stack)
{
	for (size_t i = 0; i < seen->nr; i++)
		if (strcmp(seen->s[i], stack) == 0)
			return seen->counts[i];
	return -1;
}

/* What a window shows of a sample whose stacks are frames, lost, failed or absent. */
static void test_frames_and_pseudo_frames(void **state)
{
	struct windows *ws = set_new(1);
	struct waiter wt = {0};
	struct stacks_seen seen;
	struct window_result res;
	struct pprof_frozen *f;
	struct window *w;
	struct sample s;

	(void)state;
	assert_int_equal(windows_open(ws, 1, T0, &wt, &w), 0);
	drain1(ws, T0, 1);
	windows_drain_begin(ws);
	s = sample_of(1); /* kernel stack lost, user frames */
	s.kstate = SAMPLE_STACK_LOST;
	assert_int_equal(windows_add(ws, &s), 0);
	s = sample_of(2); /* kernel walk failed, user stack walked but not symbolized */
	s.kstate = SAMPLE_STACK_FAILED;
	s.uframes = NULL;
	assert_int_equal(windows_add(ws, &s), 0);
	s = sample_of(4); /* no stack of either kind (a DWARF sample with nothing unwound) */
	s.is_dwarf = true;
	s.ustate = SAMPLE_STACK_NONE;
	s.uips = NULL;
	s.nr_uips = 0;
	s.uframes = NULL;
	assert_int_equal(windows_add(ws, &s), 0);
	s = sample_of(8); /* user stack lost in the map */
	s.ustate = SAMPLE_STACK_LOST;
	s.uframes = NULL;
	assert_int_equal(windows_add(ws, &s), 0);
	windows_drain_end(ws, T0 + SEC, T_UNIX + (int64_t)SEC);

	windows_take(ws, w, &res);
	assert_true(res.is_done);
	assert_int_equal(pprof_freeze(res.b, (int64_t)res.duration_ns, &f), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(pprof_frozen_foreach(f, NULL, collect, &seen), 0);
	assert_int_equal(seen.nr, 4);
	assert_int_equal(count_of(&seen, "[kernel stack lost: stack map collision];main"), 1);
	assert_int_equal(count_of(&seen, "[kernel stack unavailable];[user stack unavailable]"), 2);
	assert_int_equal(count_of(&seen, "[no stack]"), 4);
	assert_int_equal(count_of(&seen, "[user stack lost: stack map collision]"), 8);
	pprof_frozen_free(f);
	pprof_builder_free(res.b);
	windows_free(ws);
}

/*
 * The drain thread against HTTP threads: each opens windows, then either
 * waits to be told and takes its window, or gives up at once. Every window
 * is told at most once and every taken one closed; nothing is left over
 * (run under TSan for the locking).
 */
#define REQUESTERS 3
#define ROUNDS	   40

struct race {
	struct windows *ws;
	atomic_bool stop;
	atomic_uint_fast64_t now; /* the drain thread's clock */
	atomic_int served;
};

static void *drain_thread(void *arg)
{
	struct race *r = arg;
	uint64_t t = T0;

	while (!atomic_load(&r->stop)) {
		t += SEC / 4;
		atomic_store(&r->now, t);
		drain1(r->ws, t, 1);
	}
	windows_abort(r->ws);
	return NULL;
}

static void *requester(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < ROUNDS; i++) {
		struct waiter wt = {0};
		struct window_result res;
		struct window *w;

		assert_int_equal(windows_open(r->ws, 1, atomic_load(&r->now), &wt, &w), 0);
		if (i % 3 == 0) {
			windows_cancel(r->ws, w);
			continue;
		}
		while (!atomic_load(&wt.told))
			sched_yield();
		windows_take(r->ws, w, &res);
		assert_int_equal(atomic_load(&wt.told), 1);
		if (res.is_done) {
			assert_non_null(res.b);
			atomic_fetch_add(&r->served, 1);
		}
		pprof_builder_free(res.b);
	}
	return NULL;
}

static void test_race_with_drain_thread(void **state)
{
	struct race r = {.ws = set_new(4 * REQUESTERS)};
	pthread_t drainer, req[REQUESTERS];

	(void)state;
	atomic_store(&r.now, T0);
	assert_int_equal(pthread_create(&drainer, NULL, drain_thread, &r), 0);
	for (int i = 0; i < REQUESTERS; i++)
		assert_int_equal(pthread_create(&req[i], NULL, requester, &r), 0);
	for (int i = 0; i < REQUESTERS; i++)
		pthread_join(req[i], NULL);
	atomic_store(&r.stop, true);
	pthread_join(drainer, NULL);
	assert_true(atomic_load(&r.served) > 0);
	/* Cancelled active windows went with the drains after them, or with the abort. */
	assert_int_equal(windows_count(r.ws), 0);
	windows_free(r.ws);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_opens_at_next_drain),
	    cmocka_unit_test(test_registered_during_drain_waits),
	    cmocka_unit_test(test_cancelled),
	    cmocka_unit_test(test_abort_at_shutdown),
	    cmocka_unit_test(test_concurrent_windows),
	    cmocka_unit_test(test_frames_and_pseudo_frames),
	    cmocka_unit_test(test_race_with_drain_thread),
	    cmocka_unit_test(test_offcpu_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
