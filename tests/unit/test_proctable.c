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

#include <stdlib.h>
#include <unistd.h>

#include "proctable.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_capacity_eviction_calls_hook),
	    cmocka_unit_test(test_exit_eviction_calls_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
