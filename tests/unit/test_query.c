// SPDX-License-Identifier: Apache-2.0
/*
 * Every parser of request arguments (exporter/query.h): the request target
 * checks, form decoding, ?seconds= of /debug/pprof/profile, the time and
 * range arguments of the history endpoints, the label filters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/labels.h"
#include "exporter/query.h"

#define NS   1000000000LL
#define NOW  (1700000000LL * NS)
#define MAXS 910 /* what 15 min of retention and 10 s windows allow */

static const struct pprof_label sample[] = {
    {.key = "pid", .num = 4242},
    {.key = "comm", .str = "nginx"},
    {.key = "cgroup", .str = "/kubepods.slice/pod1/cri-containerd-abc.scope"},
    {.key = "container_id", .str = "abcdef0123456789"},
    {.key = "container", .str = "web"},
    {.key = "unit", .str = "nginx.service"},
};
#define NR (sizeof(sample) / sizeof(sample[0]))

static bool match(const char *arg, const char *value)
{
	struct label_filter f;

	memset(&f, 0, sizeof(f));
	assert_null(label_filter_set(&f, arg, value));
	assert_true(label_filter_active(&f));
	return label_filter_match(&f, sample, NR);
}

static void test_filters(void **state)
{
	struct label_filter f;

	(void)state;
	assert_true(match("pid", "4242"));
	assert_true(match("pid", "1,4242,7"));
	assert_false(match("pid", "4243"));
	assert_true(match("comm", "nginx"));
	assert_true(match("comm", "ng*"));
	assert_false(match("comm", "ngin"));
	assert_true(match("container", "abcdef")); /* id prefix */
	assert_true(match("container", "web"));	   /* name */
	assert_false(match("container", "bcdef"));
	assert_true(match("cgroup", "/kubepods.slice"));
	assert_true(match("cgroup", "/kubepods.slice/")); /* trailing slash: the same cgroup */
	assert_true(match("cgroup", "/"));
	assert_false(match("cgroup", "/kubepods.sl")); /* not at a component boundary */
	assert_true(match("unit", "*.service"));
	assert_false(match("unit", "nginx"));

	memset(&f, 0, sizeof(f));
	assert_false(label_filter_active(&f));
	assert_non_null(label_filter_set(&f, "pid", ""));
	assert_non_null(label_filter_set(&f, "pid", "0"));
	assert_non_null(label_filter_set(&f, "pid", "-1"));
	assert_non_null(label_filter_set(&f, "pid", "4194305"));
	assert_non_null(label_filter_set(&f, "pid", "12345678"));
	assert_non_null(label_filter_set(&f, "pid", "1,"));
	assert_non_null(label_filter_set(&f, "pid", "1 2"));
	assert_non_null(label_filter_set(&f, "cgroup", "system.slice"));
	assert_non_null(label_filter_set(&f, "comm", "a\nb"));
	assert_non_null(label_filter_set(&f, "nope", "x"));
	{
		char many[64 * 3 + 8] = "";

		for (int i = 0; i < 65; i++)
			strcat(many, i ? ",1" : "1");
		assert_non_null(label_filter_set(&f, "pid", many));
	}
}

static void test_times(void **state)
{
	int64_t ns;

	(void)state;
	assert_int_equal(query_parse_time("1700000000", &ns), 0);
	assert_int_equal(ns, 1700000000LL * 1000000000LL);
	assert_int_equal(query_parse_time("1700000000.25", &ns), 0);
	assert_int_equal(ns, 1700000000250000000LL);
	assert_int_equal(query_parse_time("2023-11-14T22:13:20Z", &ns), 0);
	assert_int_equal(ns, 1700000000LL * 1000000000LL);
	assert_int_equal(query_parse_time("2023-11-14T23:13:20.5+01:00", &ns), 0);
	assert_int_equal(ns, 1700000000500000000LL);
	assert_int_equal(query_parse_time("", &ns), -EINVAL);
	assert_int_equal(query_parse_time("-5", &ns), -EINVAL);
	assert_int_equal(query_parse_time("yesterday", &ns), -EINVAL);
	assert_int_equal(query_parse_time("2023-11-14T22:13:20", &ns), -EINVAL); /* no zone */
	assert_int_equal(query_parse_time("2023-13-14T22:13:20Z", &ns), -EINVAL);
	assert_int_equal(query_parse_time("99999999999", &ns), -EINVAL); /* past 2262 in ns */
	assert_int_equal(query_parse_time("9999-01-01T00:00:00Z", &ns), -EINVAL);
}

/* ---- the raw request target ----------------------------------------------------------------- */

static void test_base(void **state)
{
	int64_t from, to;

	(void)state;
	assert_int_equal(query_parse_base("1700000000,1700000300.5", &from, &to), 0);
	assert_int_equal(from, 1700000000LL * 1000000000LL);
	assert_int_equal(to, 1700000300LL * 1000000000LL + 500000000LL);
	assert_int_equal(query_parse_base("2026-11-22T03:00:00Z,2026-11-22T03:05:00Z", &from, &to),
			 0);
	assert_int_equal(to - from, 300LL * 1000000000LL);
	assert_int_equal(query_parse_base("1700000300,1700000000", &from, &to), -EINVAL);
	assert_int_equal(query_parse_base("1700000000", &from, &to), -EINVAL);
	assert_int_equal(query_parse_base("1,2,3", &from, &to), -EINVAL);
	assert_int_equal(query_parse_base(",2", &from, &to), -EINVAL);
	assert_int_equal(query_parse_base("x,2", &from, &to), -EINVAL);
	assert_int_equal(query_parse_base(NULL, &from, &to), -EINVAL);
}

static void test_uri_check(void **state)
{
	(void)state;
	assert_null(uri_check("/debug/pprof/profile?seconds=5"));
	assert_null(uri_check("/x?a=%41%2b&b=%7e"));
	assert_null(uri_check(""));
	assert_non_null(uri_check("/x?a=%zz"));
	assert_non_null(uri_check("/x?a=%4"));
	assert_non_null(uri_check("/x?a=%"));
	assert_non_null(uri_check("/x?a=%00"));
	assert_non_null(uri_check("/x?a=\x01"));
	assert_non_null(uri_check("/x?a=\x7f"));
	assert_non_null(uri_check("/x\n"));
}

static void test_form_decode(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(form_decode("a+b%41", 6, out, sizeof(out)), 4);
	assert_string_equal(out, "a bA");
	/* Only the first n bytes are read. */
	assert_int_equal(form_decode("abc", 2, out, sizeof(out)), 2);
	assert_string_equal(out, "ab");
	/* A '%' without two hex digits is kept as it is. */
	assert_int_equal(form_decode("%4", 2, out, sizeof(out)), 2);
	assert_string_equal(out, "%4");
	assert_int_equal(form_decode("", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* The NUL needs room too: 7 bytes fit in 8, 8 do not. */
	assert_int_equal(form_decode("1234567", 7, out, sizeof(out)), 7);
	assert_int_equal(form_decode("12345678", 8, out, sizeof(out)), -1);
}

static void test_seconds(void **state)
{
	unsigned s;

	(void)state;
	s = 7;
	assert_int_equal(parse_seconds("", 60, &s), SECONDS_OK);
	assert_int_equal(s, 7); /* absent: untouched */
	assert_int_equal(parse_seconds("x=1&y", 60, &s), SECONDS_OK);
	assert_int_equal(s, 7);
	assert_int_equal(parse_seconds("seconds=30", 60, &s), SECONDS_OK);
	assert_int_equal(s, 30);
	assert_int_equal(parse_seconds("a=b&seconds=060&c", 60, &s), SECONDS_OK);
	assert_int_equal(s, 60);
	assert_int_equal(parse_seconds("%73econds=5", 60, &s), SECONDS_OK); /* the key is decoded */
	assert_int_equal(s, 5);
	assert_int_equal(parse_seconds("seconds=%35", 60, &s), SECONDS_OK); /* the value too */
	assert_int_equal(s, 5);
	assert_int_equal(parse_seconds("seconds=61", 60, &s), SECONDS_TOO_LARGE);
	assert_int_equal(parse_seconds("seconds=9999999999", 60, &s), SECONDS_TOO_LARGE);
	assert_int_equal(parse_seconds("seconds=99999999999", 60, &s), SECONDS_INVALID);
	assert_int_equal(parse_seconds("seconds=0", 60, &s), SECONDS_INVALID);
	assert_int_equal(parse_seconds("seconds=", 60, &s), SECONDS_INVALID);
	assert_int_equal(parse_seconds("seconds", 60, &s), SECONDS_INVALID);
	assert_int_equal(parse_seconds("seconds=+1", 60, &s), SECONDS_INVALID);
	assert_int_equal(parse_seconds("seconds=1+", 60, &s), SECONDS_INVALID);
	assert_int_equal(parse_seconds("seconds=1.5", 60, &s), SECONDS_INVALID);
	assert_int_equal(parse_seconds("seconds=1&seconds=1", 60, &s), SECONDS_DUPLICATE);
	assert_int_equal(parse_seconds("seconds=1&%73econds=2", 60, &s), SECONDS_DUPLICATE);
}

/* ---- decoded arguments: time, range, filters ------------------------------------------------ */

/* Arguments as "name=value" strings (already decoded), NULL-terminated. */
static const char *get_arg(const void *ctx, const char *name)
{
	const char *const *a = ctx;
	size_t n = strlen(name);

	for (; *a; a++)
		if (strncmp(*a, name, n) == 0 && (*a)[n] == '=')
			return *a + n + 1;
	return NULL;
}

/* query_parse_range over @argv: 0 with [*from, *to), or -EINVAL with the message in @why. */
static int range(const char *const *argv, int64_t *from, int64_t *to, char *why)
{
	const struct query_args args = {.get = get_arg, .ctx = argv};

	why[0] = '\0';
	return query_parse_range(&args, NOW, MAXS, from, to, why, 256);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_times_more(void **state)
{
	int64_t ns;

	(void)state;
	/* Lower-case separators, a negative offset, more than 9 fraction digits (cut at ns). */
	assert_int_equal(query_parse_time("2023-11-14t22:13:20z", &ns), 0);
	assert_int_equal(ns, 1700000000LL * NS);
	assert_int_equal(query_parse_time("2023-11-14T21:13:20-01:00", &ns), 0);
	assert_int_equal(ns, 1700000000LL * NS);
	assert_int_equal(query_parse_time("1700000000.1234567891", &ns), 0);
	assert_int_equal(ns, 1700000000123456789LL);
	assert_int_equal(query_parse_time("0", &ns), 0);
	assert_int_equal(ns, 0);
	/* The last second int64 ns can hold (2262), then past it by a second or a fraction. */
	assert_int_equal(query_parse_time("9223372036", &ns), 0);
	assert_int_equal(ns, 9223372036LL * NS);
	assert_int_equal(query_parse_time("9223372037", &ns), -EINVAL);
	assert_int_equal(query_parse_time("9223372036.9", &ns), -EINVAL);
	assert_int_equal(query_parse_time(NULL, &ns), -EINVAL);
	assert_int_equal(query_parse_time(" 1700000000", &ns), -EINVAL);
	assert_int_equal(query_parse_time("1700000000 ", &ns), -EINVAL);
	assert_int_equal(query_parse_time("1700000000x", &ns), -EINVAL);
	assert_int_equal(query_parse_time("1e9", &ns), -EINVAL);
	assert_int_equal(query_parse_time("2023-11-14T22:13:20+01", &ns), -EINVAL);
	assert_int_equal(query_parse_time("2023-11-14T24:00:00Z", &ns), -EINVAL);
	assert_int_equal(query_parse_time("2023-11-14T22:60:00Z", &ns), -EINVAL);
	assert_int_equal(query_parse_time("2023-11-00T22:13:20Z", &ns), -EINVAL);
	assert_int_equal(query_parse_time("1969-12-31T23:59:59Z", &ns), -EINVAL);
	assert_int_equal(query_parse_time("2023-11-14T22:13:20Zjunk", &ns), -EINVAL);
	assert_int_equal(query_parse_time("2023-11-14 22:13:20Z", &ns), -EINVAL);
	/* Longer than any valid form: refused before parsing. */
	assert_int_equal(query_parse_time("1700000000.0000000000000000000000000000001", &ns),
			 -EINVAL);
}

static void test_range(void **state)
{
	int64_t from, to;
	char why[256];

	(void)state;
	/* Nothing: the last QUERY_DEFAULT_SECONDS. */
	assert_int_equal(range(ARGS("x=1"), &from, &to, why), 0);
	assert_int_equal(to, NOW);
	assert_int_equal(from, NOW - QUERY_DEFAULT_SECONDS * NS);
	assert_int_equal(range(ARGS("seconds=300"), &from, &to, why), 0);
	assert_int_equal(to, NOW);
	assert_int_equal(from, NOW - 300 * NS);
	assert_int_equal(range(ARGS("seconds=910"), &from, &to, why), 0);
	/* end= alone: the minute before it; start= alone: from it to now. */
	assert_int_equal(range(ARGS("end=1699999000"), &from, &to, why), 0);
	assert_int_equal(to, 1699999000LL * NS);
	assert_int_equal(from, to - QUERY_DEFAULT_SECONDS * NS);
	assert_int_equal(range(ARGS("start=2023-11-14T22:00:00Z"), &from, &to, why), 0);
	assert_int_equal(from, (1700000000LL - 800) * NS);
	assert_int_equal(to, NOW);
	assert_int_equal(range(ARGS("start=1699990000.5", "end=1699990001"), &from, &to, why), 0);
	assert_int_equal(from, 1699990000500000000LL);
	assert_int_equal(to, 1699990001LL * NS);

	/* Refused, with what the 400 says. */
	assert_int_equal(range(ARGS("seconds=10", "start=1"), &from, &to, why), -EINVAL);
	assert_string_equal(why, "give either \"seconds\" or \"start\"/\"end\", not both");
	assert_int_equal(range(ARGS("end=1", "seconds=10"), &from, &to, why), -EINVAL);
	assert_string_equal(why, "give either \"seconds\" or \"start\"/\"end\", not both");
	static const char *const bad_seconds[] = {
	    "seconds=",	   "seconds=0",	   "seconds=00",  "seconds=911",
	    "seconds=-1",  "seconds=+1",   "seconds= 1",  "seconds=1 ",
	    "seconds=1.5", "seconds=0x10", "seconds=1e3", "seconds=99999999999",
	};
	for (size_t i = 0; i < sizeof(bad_seconds) / sizeof(bad_seconds[0]); i++) {
		if (range(ARGS(bad_seconds[i]), &from, &to, why) != -EINVAL)
			fail_msg("%s: accepted", bad_seconds[i]);
		assert_string_equal(why,
				    "invalid value for \"seconds\": want an integer from 1 to 910");
	}
	assert_int_equal(range(ARGS("end=yesterday"), &from, &to, why), -EINVAL);
	assert_string_equal(why, "invalid value for \"end\": want Unix seconds or RFC 3339 UTC "
				 "(2026-11-22T03:00:00Z)");
	assert_int_equal(range(ARGS("start=-1"), &from, &to, why), -EINVAL);
	assert_string_equal(why, "invalid value for \"start\": want Unix seconds or RFC 3339 UTC "
				 "(2026-11-22T03:00:00Z)");
	/* The end is checked first. */
	assert_int_equal(range(ARGS("start=x", "end=y"), &from, &to, why), -EINVAL);
	assert_non_null(strstr(why, "\"end\""));
	assert_int_equal(range(ARGS("start=1700000000", "end=1700000000"), &from, &to, why),
			 -EINVAL);
	assert_string_equal(why, "\"start\" must be before \"end\"");
	assert_int_equal(range(ARGS("start=1700000001"), &from, &to, why), -EINVAL);
	assert_string_equal(why, "\"start\" must be before \"end\"");
}

static void test_filter_args(void **state)
{
	const struct query_args none = {.get = get_arg, .ctx = ARGS("seconds=5")};
	const struct query_args all = {
	    .get = get_arg,
	    .ctx = ARGS("unit=*.service", "pid=4242,7", "comm=ng*", "container=web",
			"cgroup=/kubepods.slice/"),
	};
	const struct query_args bad = {.get = get_arg, .ctx = ARGS("comm=ok", "pid=1,x")};
	struct label_filter f;
	char why[256];

	(void)state;
	memset(&f, 0xff, sizeof(f));
	assert_int_equal(query_parse_filter(&none, &f, why, sizeof(why)), 0);
	assert_false(label_filter_active(&f)); /* zeroed first */
	assert_int_equal(query_parse_filter(&all, &f, why, sizeof(why)), 0);
	assert_int_equal(f.nr_pids, 2);
	assert_string_equal(f.comm, "ng*");
	assert_string_equal(f.container, "web");
	assert_string_equal(f.cgroup, "/kubepods.slice");
	assert_string_equal(f.unit, "*.service");
	assert_true(label_filter_match(&f, sample, NR));
	assert_int_equal(query_parse_filter(&bad, &f, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "invalid value for \"pid\": must be comma-separated process ids "
				 "(1..4194304)");
	/* The message names the argument; long values are not echoed. */
	{
		const struct query_args empty = {.get = get_arg, .ctx = ARGS("container=")};

		assert_int_equal(query_parse_filter(&empty, &f, why, sizeof(why)), -EINVAL);
		assert_string_equal(why, "invalid value for \"container\": must not be empty");
	}
	/* Every documented argument, none other. */
	assert_string_equal(label_filter_args[0], "pid");
	assert_string_equal(label_filter_args[4], "unit");
	assert_non_null(label_filter_set(&f, "seconds", "5"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base),	cmocka_unit_test(test_uri_check),
	    cmocka_unit_test(test_form_decode), cmocka_unit_test(test_seconds),
	    cmocka_unit_test(test_filters),	cmocka_unit_test(test_times),
	    cmocka_unit_test(test_times_more),	cmocka_unit_test(test_range),
	    cmocka_unit_test(test_filter_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
