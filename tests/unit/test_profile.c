// SPDX-License-Identifier: Apache-2.0
/*
 * profile_merge(): the one path from frozen windows to a served profile
 * (/debug/pprof/profile, /history, /folded, /flamegraph): filter, label keys
 * kept, time and duration of the answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "exporter/labels.h"
#include "exporter/pprof.h"
#include "exporter/profile.h"
#include "exporter/query.h"

#define SEC    1000000000LL
#define T0     (1700000000LL * SEC)
#define PERIOD 10101010

/* A window [start, start + 10 s): one stack, @count samples of pid @pid (comm "app") each. */
static struct pprof_frozen *window(int64_t start, const int64_t *pids, size_t nr, int64_t count)
{
	struct pprof_opts o = {.period_ns = PERIOD, .time_nanos = start};
	struct pprof_line line = {.function = "f"};
	struct pprof_builder *b;
	struct pprof_frozen *f;
	uint64_t id;

	assert_int_equal(pprof_builder_new(&o, &b), 0);
	assert_int_equal(pprof_add_location(b, 0, 0x1000, &line, 1, &id), 0);
	for (size_t i = 0; i < nr; i++) {
		struct pprof_label l[2] = {{.key = "pid", .num = pids[i]},
					   {.key = "comm", .str = "app"}};

		assert_int_equal(pprof_add_sample(b, &id, 1, count, l, 2), 0);
	}
	assert_int_equal(pprof_freeze(b, 10 * SEC, &f), 0);
	pprof_builder_free(b);
	return f;
}

/* What @b holds: distinct samples and their total count. */
static void totals(struct pprof_builder *b, size_t *nr, int64_t *total)
{
	struct pprof_frozen *f;

	assert_int_equal(pprof_freeze(b, 0, &f), 0);
	*nr = pprof_frozen_nr_samples(f);
	*total = pprof_frozen_total(f);
	pprof_frozen_free(f);
}

static void test_merge(void **state)
{
	static const int64_t pids[] = {1, 2};
	const struct pprof_frozen *w[2];
	struct pprof_frozen *w0 = window(T0, pids, 2, 3), *w1 = window(T0 + 10 * SEC, pids, 2, 5);
	struct profile_query q = {.label_mask = (1u << LABEL_PID) | (1u << LABEL_COMM),
				  .period_ns = PERIOD};
	struct label_filter f;
	struct pprof_builder *b;
	int64_t duration, total;
	size_t nr;

	(void)state;
	w[0] = w0;
	w[1] = w1;
	/* Everything, by pid and comm: the two processes stay apart, windows add up. */
	assert_int_equal(profile_merge(&q, w, 2, &b, &duration), 0);
	assert_int_equal(duration, 20 * SEC);
	totals(b, &nr, &total);
	assert_int_equal(nr, 2);
	assert_int_equal(total, 2 * 3 + 2 * 5);
	pprof_builder_free(b);

	/* A filter keeps pid 2 only. */
	memset(&f, 0, sizeof(f));
	assert_null(label_filter_set(&f, "pid", "2"));
	q.filter = &f;
	assert_int_equal(profile_merge(&q, w, 2, &b, &duration), 0);
	totals(b, &nr, &total);
	assert_int_equal(nr, 1);
	assert_int_equal(total, 3 + 5);
	pprof_builder_free(b);

	/* comm only (folded, flame graph): the processes become one sample. */
	q.filter = NULL;
	q.label_mask = 1u << LABEL_COMM;
	assert_int_equal(profile_merge(&q, w + 1, 1, &b, &duration), 0);
	assert_int_equal(duration, 10 * SEC);
	totals(b, &nr, &total);
	assert_int_equal(nr, 1);
	assert_int_equal(total, 2 * 5);
	pprof_builder_free(b);

	/* No window: an empty profile of no duration. */
	assert_int_equal(profile_merge(&q, w, 0, &b, &duration), 0);
	assert_int_equal(duration, 0);
	assert_int_equal(pprof_builder_nr_samples(b), 0);
	pprof_builder_free(b);

	pprof_frozen_free(w0);
	pprof_frozen_free(w1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
