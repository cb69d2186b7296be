// SPDX-License-Identifier: Apache-2.0
/*
 * The stack cache never serves a stale name: an exec keeps (tgid, start
 * time) but replaces the code, so the process is forgotten; stacks through
 * JIT code (anonymous executable memory) live for one drain only; the byte
 * count returns to zero when everything is dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stackcache.h"

/* One frame in a mapping of @path, named @fn: one allocation, as the symbolizer makes them. */
static struct sym_result *result(const char *path, const char *fn)
{
	struct blob {
		struct sym_result r;
		struct sym_frame f;
		struct sym_mapping m;
		struct sym_line l;
		char path[32], fn[32];
	} *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	snprintf(b->path, sizeof(b->path), "%s", path);
	snprintf(b->fn, sizeof(b->fn), "%s", fn);
	b->m =
	    (struct sym_mapping){.start = 0x1000, .limit = 0x2000, .path = b->path, .build_id = ""};
	b->l = (struct sym_line){.function = b->fn};
	b->f = (struct sym_frame){.addr = 0x1234, .mapping = &b->m, .nr_lines = 1, .lines = &b->l};
	b->r = (struct sym_result){.nr = 1, .frames = &b->f};
	return &b->r;
}

static const char *name_of(const struct sym_result *r)
{
	return r->frames[0].lines[0].function;
}

static void test_exec_forgets(void **state)
{
	const uint64_t ips[2] = {0x1234, 0x1300};
	const struct sym_result *got;
	struct stackcache_stats st;
	struct stackcache *c;

	(void)state;
	assert_int_equal(stackcache_new(1 << 20, &c), 0);
	stackcache_put(c, 42, 1000, ips, 2, result("/usr/bin/old", "old_main"), false);
	stackcache_put(c, 43, 1000, ips, 2, result("/usr/bin/other", "other_main"), false);
	stackcache_put(c, 0, 0, ips, 2, result("[kernel.kallsyms]", "do_syscall_64"), false);
	got = stackcache_get(c, 42, 1000, ips, 2);
	assert_non_null(got);
	assert_string_equal(name_of(got), "old_main");

	/* pid 42 exec'd: same tgid, same leader start time, new code at the same addresses. */
	stackcache_forget(c, 42, 1000);
	assert_null(stackcache_get(c, 42, 1000, ips, 2));
	stackcache_put(c, 42, 1000, ips, 2, result("/usr/bin/new", "new_main"), false);
	assert_string_equal(name_of(stackcache_get(c, 42, 1000, ips, 2)), "new_main");
	/* Other processes and the kernel's stacks stay. */
	assert_string_equal(name_of(stackcache_get(c, 43, 1000, ips, 2)), "other_main");
	assert_string_equal(name_of(stackcache_get(c, 0, 0, ips, 2)), "do_syscall_64");
	stackcache_get_stats(c, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.invalidated, 1);

	stackcache_forget(c, 42, 1000);
	stackcache_forget(c, 43, 1000);
	stackcache_forget(c, 0, 0);
	stackcache_forget(c, 7, 7); /* unknown: nothing */
	stackcache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	stackcache_free(c);
}

static void test_jit_one_drain(void **state)
{
	const uint64_t ips[1] = {0x1234};
	struct sym_result *jit = result("", "LazyCompile:*hot"), *file = result("/bin/x", "f");
	struct stackcache_stats st;
	struct stackcache *c;

	(void)state;
	assert_true(stackcache_is_jit(jit));
	assert_false(stackcache_is_jit(file));
	assert_int_equal(stackcache_new(1 << 20, &c), 0);
	stackcache_put(c, 9, 1, ips, 1, jit, true);
	stackcache_put(c, 10, 1, ips, 1, file, false);
	/* Within the drain that symbolized it, the JIT stack is served... */
	assert_string_equal(name_of(stackcache_get(c, 9, 1, ips, 1)), "LazyCompile:*hot");
	stackcache_end_drain(c);
	/* ...never after it: the JIT may have put other code there since. */
	assert_null(stackcache_get(c, 9, 1, ips, 1));
	assert_non_null(stackcache_get(c, 10, 1, ips, 1));
	stackcache_get_stats(c, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.invalidated, 1);
	/* A forgotten process's drain-scoped entry leaves both lists. */
	stackcache_put(c, 9, 1, ips, 1, result("", "LazyCompile:*other"), true);
	stackcache_forget(c, 9, 1);
	stackcache_end_drain(c);
	stackcache_forget(c, 10, 1);
	stackcache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	stackcache_free(c);
}

/* Eviction by budget frees a process's group with its last entry. */
static void test_budget(void **state)
{
	struct stackcache_stats st;
	struct stackcache *c;
	uint64_t ip;

	(void)state;
	assert_int_equal(stackcache_new(4096, &c), 0);
	for (ip = 1; ip <= 200; ip++)
		stackcache_put(c, (uint32_t)ip, ip, &ip, 1, result("/bin/x", "f"), ip % 2);
	stackcache_get_stats(c, &st);
	assert_true(st.bytes <= 4096);
	assert_true(st.evictions > 0);
	stackcache_end_drain(c);
	stackcache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exec_forgets),
	    cmocka_unit_test(test_jit_one_drain),
	    cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
