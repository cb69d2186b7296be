// SPDX-License-Identifier: Apache-2.0
/*
 * The process table's eviction hook: every process that leaves the table
 * (over --process.max, or exited) is handed to the owner once, before it is
 * freed, so what the owner keeps per process elsewhere (the kernel's
 * unwind_procs entry) can go with it. No /proc here: the table reads an empty
 * directory, so every process looks vanished, which the table keeps anyway.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "proctable.h"
#include "symbolize/symbolizer.h"

#define MAX 16

struct evicted {
	unsigned nr;
	uint32_t tgid[4 * MAX];
	uint64_t start[4 * MAX];
};

static void on_evict(void *ctx, const struct proc *p)
{
	struct evicted *e = ctx;

	assert_true(e->nr < 4 * MAX);
	e->tgid[e->nr] = p->tgid;
	e->start[e->nr] = p->start_boottime;
	e->nr++;
}

static struct proctable *table(char *dir, struct evicted *e)
{
	struct proctable *t = NULL;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(proctable_new(MAX, dir, NULL, NULL, &t), 0);
	proctable_on_evict(t, on_evict, e);
	return t;
}

/* The least recently sampled process over the cap is handed over, with its start time. */
static void test_capacity_eviction_calls_hook(void **state)
{
	char dir[] = "/tmp/test_proctable.XXXXXX";
	struct evicted e = {0};
	struct proctable *t = table(dir, &e);
	struct proctable_stats st;
	uint64_t seq = 1;

	(void)state;
	/* tgid 1000 first, then MAX others sampled after it: 1000 is the LRU tail. */
	proctable_touch(t, proctable_get(t, 1000, 777, "victim", false), seq);
	for (uint32_t i = 0; i < MAX; i++)
		proctable_touch(t, proctable_get(t, 2000 + i, 1, "other", false), seq);
	proctable_sweep(t, seq);
	assert_int_equal(e.nr, 1);
	assert_int_equal(e.tgid[0], 1000);
	assert_int_equal(e.start[0], 777);
	proctable_get_stats(t, &st);
	assert_int_equal(st.evicted_capacity, 1);
	assert_int_equal(st.tracked, MAX);

	/* Under the cap: nothing more leaves, and freeing the table calls no hook. */
	proctable_sweep(t, ++seq);
	assert_int_equal(e.nr, 1);
	proctable_free(t);
	assert_int_equal(e.nr, 1);
	rmdir(dir);
}

/* An exited process is handed over when the sweep evicts it, one drain after its exit. */
static void test_exit_eviction_calls_hook(void **state)
{
	char dir[] = "/tmp/test_proctable.XXXXXX";
	struct evicted e = {0};
	struct proctable *t = table(dir, &e);

	(void)state;
	proctable_touch(t, proctable_get(t, 3000, 5, "gone", false), 1);
	proctable_mark_exited(t, 3000, 5, 1);
	proctable_sweep(t, 2); /* its last samples may still come at drain 2 */
	assert_int_equal(e.nr, 0);
	proctable_sweep(t, 3);
	assert_int_equal(e.nr, 1);
	assert_int_equal(e.tgid[0], 3000);
	assert_int_equal(e.start[0], 5);
	proctable_free(t);
	rmdir(dir);
}

/* write_file DIR/PID/NAME with TEXT. */
static void put(const char *dir, unsigned pid, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u", dir, pid);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%u/%s", dir, pid, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Make @p's snapshot @ms old, as if it was taken then. */
static void age(struct proc *p, uint64_t ms)
{
	p->maps_read_ns = mono_ns() - ms * 1000000ULL;
}

#define MAP_EXE	 "555555554000-555555556000 r-xp 00001000 08:01 11 /usr/bin/fx\n"
#define MAP_LIBC "7ffff7c28000-7ffff7dbd000 r-xp 00028000 08:01 12 /usr/lib/libc.so.6\n"
#define MAP_LIBM "7ffff7e00000-7ffff7e80000 r-xp 00010000 08:01 13 /usr/lib/libm.so.6\n"

/*
 * A snapshot taken at exec holds the binary and ld.so only; the libraries come
 * milliseconds later. A miss may re-read the maps 10 ms after the snapshot, the
 * next 20 ms after that, doubling: not a second later, and not on every miss.
 */
static void test_young_maps_refresh_soon_then_back_off(void **state)
{
	char dir[] = "/tmp/test_proctable.XXXXXX";
	struct symbolizer_opts so = {.proc_root = dir, .no_dwarf = true};
	struct symbolizer *sym = NULL;
	struct proctable *t = NULL;
	const unsigned pid = 4242;
	uint64_t ticks = 500, start = ticks * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK));
	char stat[256];
	struct proc *p;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(symbolizer_new(&so, &sym), 0);
	assert_int_equal(proctable_new(MAX, dir, sym, NULL, &t), 0);
	snprintf(stat, sizeof(stat),
		 "%u (fx) R 1 %u %u 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 0\n", pid, pid,
		 pid, (unsigned long long)ticks);
	put(dir, pid, "stat", stat);
	put(dir, pid, "comm", "fx\n");
	put(dir, pid, "maps", MAP_EXE);

	p = proctable_get(t, pid, start, "fx", true);
	assert_non_null(p);
	assert_non_null(p->maps);
	assert_int_equal(p->maps->nr, 1);

	/* ld.so maps libc: a miss 5 ms after the snapshot waits, one 11 ms after sees it. */
	put(dir, pid, "maps", MAP_EXE MAP_LIBC);
	age(p, 5);
	proctable_refresh_maps(t, p);
	assert_int_equal(p->maps->nr, 1);
	age(p, 11);
	proctable_refresh_maps(t, p);
	assert_int_equal(p->maps->nr, 2);

	/* The next gap is 20 ms. */
	put(dir, pid, "maps", MAP_EXE MAP_LIBC MAP_LIBM);
	age(p, 12);
	proctable_refresh_maps(t, p);
	assert_int_equal(p->maps->nr, 2);
	age(p, 21);
	proctable_refresh_maps(t, p);
	assert_int_equal(p->maps->nr, 3);
	assert_int_equal(p->maps_refreshes, 2);

	/* Past the young refreshes, a second apart at most. */
	put(dir, pid, "maps", MAP_EXE MAP_LIBC);
	p->maps_refreshes = PROC_MAPS_YOUNG;
	age(p, 900);
	proctable_refresh_maps(t, p);
	assert_int_equal(p->maps->nr, 3);
	age(p, 1001);
	proctable_refresh_maps(t, p);
	assert_int_equal(p->maps->nr, 2);

	proctable_free(t);
	symbolizer_free(sym);
	for (const char *f = "stat\0comm\0maps\0"; *f; f += strlen(f) + 1) {
		snprintf(stat, sizeof(stat), "%s/%u/%s", dir, pid, f);
		unlink(stat);
	}
	snprintf(stat, sizeof(stat), "%s/%u", dir, pid);
	rmdir(stat);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_capacity_eviction_calls_hook),
	    cmocka_unit_test(test_exit_eviction_calls_hook),
	    cmocka_unit_test(test_young_maps_refresh_soon_then_back_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
