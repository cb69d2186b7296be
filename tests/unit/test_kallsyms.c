// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ci.h"

#include "kallsyms.h"

static const char synth[] = "ffffffff81000000 T _stext\n"
			    "ffffffff81000000 t _text_alias\n"
			    "ffffffff81000100 t helper_local\n"
			    "ffffffff81000180 D some_data\n"
			    "ffffffff81000200 T do_work\n"
			    "ffffffff81000200 W do_work_weak\n"
			    "ffffffff81000300 b bss_thing\n"
			    "0000000000000000 A fixed_percpu_data\n"
			    "ffffffffc0001000 t mod_fn\t[my_mod]\n"
			    "ffffffffc0001040 T mod_fn2\t[my_mod]\n"
			    "ffffffffc0002000 t other_fn\t[other]\n"
			    "ffffffff81000400 T late_listed\n" /* out of order */
			    "nonsense line\n"
			    "ffffffff81000500 T\n"
			    "ffffffff8100050 t x [unterminated\n"
			    "ffffffff81000600 t last_core";

static void expect(const struct kallsyms *k, uint64_t addr, const char *name, const char *mod,
		   uint64_t start)
{
	const char *n = NULL, *m = NULL;
	uint64_t s = 0;

	assert_int_equal(kallsyms_lookup(k, addr, &n, &m, &s), 0);
	assert_string_equal(n, name);
	if (mod)
		assert_string_equal(m, mod);
	else
		assert_null(m);
	assert_int_equal(s, start);
}

static void test_synthetic(void **state)
{
	struct kallsyms *k = NULL;
	const char *n;

	(void)state;
	assert_int_equal(kallsyms_parse(synth, strlen(synth), &k), 0);
	/* _stext, helper_local, do_work, late_listed, last_core, 3 module symbols */
	assert_int_equal(kallsyms_nr(k), 8);
	assert_int_equal(kallsyms_min_addr(k), 0xffffffff81000000ull);
	assert_true(kallsyms_bytes(k) > 0);

	assert_int_equal(kallsyms_lookup(k, 0xffffffff80ffffffull, &n, NULL, NULL), -ENOENT);
	/* Aliases at one address: T beats t, T beats W. */
	expect(k, 0xffffffff81000000ull, "_stext", NULL, 0xffffffff81000000ull);
	expect(k, 0xffffffff810000ffull, "_stext", NULL, 0xffffffff81000000ull);
	expect(k, 0xffffffff81000100ull, "helper_local", NULL, 0xffffffff81000100ull);
	/* Data symbols are not kept: the text symbol before them extends over. */
	expect(k, 0xffffffff81000190ull, "helper_local", NULL, 0xffffffff81000100ull);
	expect(k, 0xffffffff81000234ull, "do_work", NULL, 0xffffffff81000200ull);
	expect(k, 0xffffffff81000401ull, "late_listed", NULL, 0xffffffff81000400ull);
	expect(k, 0xffffffff81000601ull, "last_core", NULL, 0xffffffff81000600ull);
	expect(k, 0xffffffffc0001001ull, "mod_fn", "my_mod", 0xffffffffc0001000ull);
	expect(k, 0xffffffffc0001041ull, "mod_fn2", "my_mod", 0xffffffffc0001040ull);
	expect(k, 0xffffffffc0002001ull, "other_fn", "other", 0xffffffffc0002000ull);
	/* Far past the last symbol of a region: a gap, not a 16 MiB function. */
	assert_int_equal(
	    kallsyms_lookup(k, 0xffffffff81000600ull + KALLSYMS_MAX_SPAN, &n, NULL, NULL), -ENOENT);
	kallsyms_free(k);
	kallsyms_free(NULL);
}

static void test_restricted(void **state)
{
	static const char zeros[] = "0000000000000000 T _stext\n"
				    "0000000000000000 t helper\n"
				    "0000000000000000 T schedule\n";
	struct kallsyms *k = NULL;
	const char *n;

	(void)state;
	assert_int_equal(kallsyms_parse(zeros, strlen(zeros), &k), -ENODATA);
	assert_null(k);
	assert_int_equal(kallsyms_parse("", 0, &k), -ENODATA);
	assert_int_equal(kallsyms_parse(NULL, 0, &k), -ENODATA);
	assert_int_equal(kallsyms_lookup(NULL, 1, &n, NULL, NULL), -ENOENT);
	assert_int_equal(kallsyms_load("/nonexistent/kallsyms", &k), -ENOENT);
}

/* Address of @name in the real /proc/kallsyms, or 0 if hidden or unreadable. */
static uint64_t real_addr(const char *name)
{
	char line[1024], sym[600], type;
	uint64_t addr, found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%" SCNx64 " %c %599s", &addr, &type, sym) == 3 &&
		    !strcmp(sym, name) && (type == 'T' || type == 't')) {
			found = addr;
			break;
		}
	fclose(f);
	return found;
}

static void test_real(void **state)
{
	uint64_t addr = real_addr("schedule");
	struct kallsyms *k = NULL;
	const char *n = NULL, *m = NULL;
	uint64_t start = 0;
	int err;

	(void)state;
	err = kallsyms_load("/proc/kallsyms", &k);
	if (!addr) {
		/* kptr_restrict hides addresses from us: must be reported as unavailable. */
		assert_true(err == -ENODATA || err == -EACCES || err == -ENOENT);
		skip_or_fail("kallsyms addresses hidden (kptr_restrict)");
	}
	assert_int_equal(err, 0);
	assert_int_equal(kallsyms_lookup(k, addr + 1, &n, &m, &start), 0);
	assert_string_equal(n, "schedule");
	assert_null(m);
	assert_int_equal(start, addr);
	assert_true(kallsyms_nr(k) > 1000);
	kallsyms_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_synthetic),
	    cmocka_unit_test(test_restricted),
	    cmocka_unit_test(test_real),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
