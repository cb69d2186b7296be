// SPDX-License-Identifier: Apache-2.0
/*
 * The loader's first step without privileges: the options the flags give (one mapping,
 * shared by the agent and stackd --check), the map sizes loader_open derives from the
 * rate, and the order of the steps (open, load, attach). Loading and attaching are
 * the e2e tests' (they need CAP_BPF).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/libbpf.h>

#include "config.h"
#include "loader.h"
#include "stackd.h"

static void test_opts_from_config(void **state)
{
	struct config cfg;
	struct loader_opts o;

	(void)state;
	config_defaults(&cfg);
	cfg.frequency_hz = 123;
	cfg.include_idle = true;
	cfg.drain_interval_ns = 3000000000ULL;
	cfg.stack_map_entries = 5000;
	cfg.counts_map_entries = 6000;
	cfg.unwind_mode = STACKD_UNWIND_DWARF;
	cfg.unwind_stack_bytes = 16384;
	cfg.unwind_ring_bytes = 1 << 22;
	cfg.filter_pids[0] = 42;
	cfg.nr_filter_pids = 1;
	cfg.filter_cgroup_ids[0] = 7;
	cfg.filter_cgroup_ids[1] = 8;
	cfg.nr_filter_cgroup_ids = 2;
	memset(&o, 0xff, sizeof(o));
	loader_opts_from_config(&o, &cfg);
	assert_int_equal(o.frequency_hz, 123);
	assert_true(o.include_idle);
	assert_int_equal(o.drain_interval_ns, 3000000000ULL);
	assert_int_equal(o.stack_map_entries, 5000);
	assert_int_equal(o.counts_map_entries, 6000);
	assert_int_equal(o.unwind_mode, STACKD_UNWIND_DWARF);
	assert_int_equal(o.stack_copy_bytes, 16384);
	assert_int_equal(o.dwarf_ring_bytes, 1 << 22);
	/* The lists are borrowed, not copied. */
	assert_ptr_equal(o.filter_pids, cfg.filter_pids);
	assert_int_equal(o.nr_filter_pids, 1);
	assert_ptr_equal(o.filter_cgroup_ids, cfg.filter_cgroup_ids);
	assert_int_equal(o.nr_filter_cgroups, 2);
	/* What the caller adds starts cleared. */
	assert_null(o.on_event);
	assert_null(o.on_dwarf_sample);
	assert_null(o.ctx);
	assert_false(o.quiet);
}

static uint32_t pow2_at_least(uint64_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static int open_quiet(unsigned hz, uint32_t stack_entries, struct loader **l)
{
	struct config cfg;
	struct loader_opts o;

	config_defaults(&cfg);
	cfg.frequency_hz = hz;
	cfg.drain_interval_ns = 1000000000ULL;
	cfg.stack_map_entries = stack_entries;
	loader_opts_from_config(&o, &cfg);
	o.quiet = true;
	return loader_open(&o, l);
}

/*
 * S = rate x online CPUs x interval: counts 2S, stacks 4S (powers of two, >= 4096), overflow S,
 * twice that in the default kernel mode (it keeps every walked user stack).
 */
static void test_open_sizes_maps(void **state)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct loader *l = NULL;
	uint64_t s;

	(void)state;
	assert_true(ncpu > 0);
	for (unsigned hz = 19; hz <= 9999; hz = hz * 10 + 9) {
		s = (uint64_t)hz * (uint64_t)ncpu;
		assert_int_equal(open_quiet(hz, 0, &l), 0);
		assert_int_equal(loader_counts_map_entries(l),
				 pow2_at_least(s * 2 < 4096 ? 4096 : s * 2));
		assert_int_equal(loader_stack_map_entries(l),
				 pow2_at_least(s * 4 < 4096 ? 4096 : s * 4));
		assert_int_equal(loader_overflow_map_entries(l), 2 * (s < 1024 ? 1024 : s));
		loader_free(l);
		l = NULL;
	}
	/* A stack map set by flag keeps its size; the overflow map takes a quarter of it. */
	assert_int_equal(open_quiet(19, 1 << 20, &l), 0);
	assert_int_equal(loader_stack_map_entries(l), 1 << 20);
	assert_int_equal(loader_overflow_map_entries(l), 2 << 18);
	loader_free(l);
}

/* Each step needs the one before; loader_free undoes whichever was reached. */
static void test_steps_in_order(void **state)
{
	struct loader *l = NULL;

	(void)state;
	assert_int_equal(open_quiet(99, 0, &l), 0);
	assert_non_null(l);
	assert_int_equal(loader_attach(l), -EINVAL);
	assert_int_equal(loader_nr_attached_cpus(l), 0);
	loader_free(l);
	loader_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_opts_from_config),
	    cmocka_unit_test(test_open_sizes_maps),
	    cmocka_unit_test(test_steps_in_order),
	};

	/* Opening the skeleton needs no privileges; libbpf's chatter is not the test's. */
	libbpf_set_print(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
