// SPDX-License-Identifier: Apache-2.0
/*
 * preflight.c's table of BPF features against the compiled BPF object: every helper any
 * program calls, every map type and every program type must be in the table (so
 * stackd --check probes it and README's minimum is computed from it), and every table
 * entry must still be used. Plus the unwind-mode fallback and the per-feature minima.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "preflight.h"
#include "stackd.h"

#ifndef STACKD_BPF_OBJECT
#error "STACKD_BPF_OBJECT (path of stackd.bpf.o) must be defined"
#endif

static const struct preflight_item *find_item(enum preflight_kind kind, int id)
{
	for (size_t i = 0; i < preflight_nr_items; i++)
		if (preflight_items[i].kind == kind && preflight_items[i].id == id)
			return &preflight_items[i];
	return NULL;
}

/* What the object uses, by kind: a flag per id. */
struct used {
	unsigned char helper[1024];
	unsigned char map[256];
	unsigned char prog[256];
};

static void collect(struct used *u)
{
	struct bpf_object *obj = bpf_object__open_file(STACKD_BPF_OBJECT, NULL);
	struct bpf_program *prog;
	struct bpf_map *map;

	assert_non_null(obj);
	memset(u, 0, sizeof(*u));
	bpf_object__for_each_program(prog, obj)
	{
		const struct bpf_insn *insn = bpf_program__insns(prog);
		size_t n = bpf_program__insn_cnt(prog);

		u->prog[bpf_program__type(prog)] = 1;
		for (size_t i = 0; i < n; i++) {
			/* A helper call: BPF_JMP|BPF_CALL with src_reg 0 (1 is a BPF-to-BPF call).
			 */
			if (insn[i].code == (BPF_JMP | BPF_CALL) && insn[i].src_reg == 0) {
				assert_in_range(insn[i].imm, 1, 1023);
				u->helper[insn[i].imm] = 1;
			}
		}
	}
	bpf_object__for_each_map(map, obj) u->map[bpf_map__type(map)] = 1;
	bpf_object__close(obj);
}

static void test_table_covers_object(void **state)
{
	struct used u;
	unsigned nr_helpers = 0;

	(void)state;
	collect(&u);
	for (int id = 0; id < 1024; id++) {
		if (!u.helper[id])
			continue;
		nr_helpers++;
		if (!find_item(PREFLIGHT_HELPER, id))
			fail_msg(
			    "helper #%d (enum bpf_func_id in linux/bpf.h) is called by "
			    "stackd.bpf.o but missing from preflight_items[]: --check would not "
			    "probe it",
			    id);
	}
	for (int t = 0; t < 256; t++) {
		if (u.map[t] && !find_item(PREFLIGHT_MAP_TYPE, t))
			fail_msg("map type %s is used by stackd.bpf.o but missing from "
				 "preflight_items[]",
				 libbpf_bpf_map_type_str((enum bpf_map_type)t));
		if (u.prog[t] && !find_item(PREFLIGHT_PROG_TYPE, t))
			fail_msg("program type %s is used by stackd.bpf.o but missing from "
				 "preflight_items[]",
				 libbpf_bpf_prog_type_str((enum bpf_prog_type)t));
	}
	print_message("stackd.bpf.o calls %u distinct helpers; all in the table\n", nr_helpers);
	assert_true(nr_helpers >= 10);
}

static void test_table_has_no_stale_items(void **state)
{
	struct used u;

	(void)state;
	collect(&u);
	for (size_t i = 0; i < preflight_nr_items; i++) {
		const struct preflight_item *it = &preflight_items[i];
		int used = it->kind == PREFLIGHT_HELPER	    ? u.helper[it->id]
			   : it->kind == PREFLIGHT_MAP_TYPE ? u.map[it->id]
							    : u.prog[it->id];

		if (!used)
			fail_msg("preflight_items[] lists %s, which stackd.bpf.o no longer uses",
				 it->name);
		assert_true(it->since >= PREFLIGHT_KV(3, 18) && it->since < PREFLIGHT_KV(7, 0));
		assert_true(it->feature < PREFLIGHT_FEAT__MAX);
	}
}

/* The minima README's Requirements table states. */
static void test_feature_minimum_kernels(void **state)
{
	(void)state;
	assert_int_equal(preflight_feature_min_kernel(PREFLIGHT_FEAT_SAMPLING),
			 PREFLIGHT_KV(5, 17));
	assert_int_equal(preflight_feature_min_kernel(PREFLIGHT_FEAT_DWARF), PREFLIGHT_KV(5, 17));
	assert_int_equal(preflight_feature_min_kernel(PREFLIGHT_FEAT_CGROUP_FILTER),
			 PREFLIGHT_KV(5, 17));
	assert_string_equal(preflight_feature_name(PREFLIGHT_FEAT_DWARF), "CFI unwinding");
}

static void test_unwind_fallback(void **state)
{
	unsigned mode = 99;

	(void)state;
	/* With the DWARF helpers every mode is kept. */
	for (unsigned m = STACKD_UNWIND_FP; m <= STACKD_UNWIND_KERNEL; m++) {
		assert_int_equal(preflight_unwind_mode_for(m, true, &mode), 0);
		assert_int_equal(mode, m);
	}
	/* Without them auto falls back to fp, fp stays, and an explicit dwarf refuses. */
	assert_int_equal(preflight_unwind_mode_for(STACKD_UNWIND_KERNEL, false, &mode), 0);
	assert_int_equal(mode, STACKD_UNWIND_FP);
	assert_int_equal(preflight_unwind_mode_for(STACKD_UNWIND_FP, false, &mode), 0);
	assert_int_equal(mode, STACKD_UNWIND_FP);
	mode = 99;
	assert_int_equal(preflight_unwind_mode_for(STACKD_UNWIND_DWARF, false, &mode), -ENOTSUP);
	assert_int_equal(mode, 99);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_covers_object),
	    cmocka_unit_test(test_table_has_no_stale_items),
	    cmocka_unit_test(test_feature_minimum_kernels),
	    cmocka_unit_test(test_unwind_fallback),
	};

	/* Opening an object does not need privileges; libbpf's chatter is not the test's. */
	libbpf_set_print(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
