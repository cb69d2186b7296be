// SPDX-License-Identifier: Apache-2.0
/* Flag parsing: defaults, every value kind, and clear errors for bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "stackd.h"

struct run {
	int ret;
	char out[8192];
	char err[1024];
};

static void parse(struct config *cfg, struct run *r, int argc, const char **argv)
{
	FILE *out = fmemopen(r->out, sizeof(r->out), "w");
	FILE *err = fmemopen(r->err, sizeof(r->err), "w");

	memset(r->out, 0, sizeof(r->out));
	memset(r->err, 0, sizeof(r->err));
	config_defaults(cfg);
	r->ret = config_parse(cfg, argc, (char **)argv, out, err);
	fclose(out);
	fclose(err);
}

static void test_defaults(void **state)
{
	const char *argv[] = { "stackd" };
	struct config cfg;
	struct run r;

	parse(&cfg, &r, 1, argv);
	assert_int_equal(r.ret, CONFIG_RUN);
	assert_string_equal(cfg.listen_address, "127.0.0.1:6061");
	assert_int_equal(cfg.frequency_hz, 19);
	assert_false(cfg.include_idle);
	assert_int_equal(cfg.drain_interval_ns, 1000000000ULL);
	assert_int_equal(cfg.max_profile_seconds, 300);
	assert_int_equal(cfg.symbol_cache_bytes, 64ULL << 20);
}

static void test_values(void **state)
{
	const char *argv[] = { "stackd",
			       "--web.listen-address=:7070",
			       "--profiling.frequency",
			       "99",
			       "--profiling.include-idle",
			       "--profiling.drain-interval=500ms",
			       "--symbolize.cache-size=1GiB",
			       "--bpf.stack-map-entries=65536",
			       "--log.level=debug" };
	struct config cfg;
	struct run r;

	parse(&cfg, &r, sizeof(argv) / sizeof(argv[0]), argv);
	assert_int_equal(r.ret, CONFIG_RUN);
	assert_string_equal(cfg.listen_address, ":7070");
	assert_int_equal(cfg.frequency_hz, 99);
	assert_true(cfg.include_idle);
	assert_int_equal(cfg.drain_interval_ns, 500000000ULL);
	assert_int_equal(cfg.symbol_cache_bytes, 1ULL << 30);
	assert_int_equal(cfg.stack_map_entries, 65536);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	log_set_level(LOG_LEVEL_INFO);
}

static void expect_error(const char *arg, const char *needle)
{
	const char *argv[] = { "stackd", arg };
	struct config cfg;
	struct run r;

	parse(&cfg, &r, 2, argv);
	assert_int_equal(r.ret, -EINVAL);
	if (!strstr(r.err, needle))
		fail_msg("error for %s was \"%s\", expected it to mention \"%s\"", arg, r.err,
			 needle);
}

static void test_errors(void **state)
{
	expect_error("--nope", "unknown flag --nope");
	expect_error("--profiling.frequency=abc", "--profiling.frequency");
	expect_error("--profiling.frequency=0", "range 1..10000");
	expect_error("--profiling.frequency=-5", "--profiling.frequency");
	expect_error("--profiling.frequency=99999999999999999999999", "--profiling.frequency");
	expect_error("--profiling.drain-interval=5", "--profiling.drain-interval");
	expect_error("--profiling.drain-interval=1ms", "--profiling.drain-interval");
	expect_error("--symbolize.cache-size=lots", "--symbolize.cache-size");
	expect_error("--log.level=loud", "--log.level");
	expect_error("--profiling.include-idle=maybe", "--profiling.include-idle");
	expect_error("--web.listen-address=", "--web.listen-address");
	expect_error("stray", "unexpected argument");
	expect_error("--profiling.frequency", "needs a value");
	expect_error("--unwind.mode=frames", "--unwind.mode");
	expect_error("--unwind.stack-size=1500", "--unwind.stack-size");
	expect_error("--unwind.stack-size=64KiB", "--unwind.stack-size");
	expect_error("--unwind.ring-buffer-size=3MiB", "--unwind.ring-buffer-size");
}

static void test_unwind_flags(void **state)
{
	const char *argv[] = { "stackd", "--unwind.mode=dwarf", "--unwind.stack-size=8KiB",
			       "--unwind.ring-buffer-size=1MiB", "--unwind.cache-size=8MiB" };
	struct config cfg;
	struct run r;

	parse(&cfg, &r, 1, argv);
	assert_int_equal(cfg.unwind_mode, STACKD_UNWIND_AUTO);
	assert_int_equal(cfg.unwind_stack_bytes, 16384);
	parse(&cfg, &r, sizeof(argv) / sizeof(argv[0]), argv);
	assert_int_equal(r.ret, CONFIG_RUN);
	assert_int_equal(cfg.unwind_mode, STACKD_UNWIND_DWARF);
	assert_int_equal(cfg.unwind_stack_bytes, 8192);
	assert_int_equal(cfg.unwind_ring_bytes, 1 << 20);
	assert_int_equal(cfg.unwind_cache_bytes, 8 << 20);
}

static void test_help_lists_every_flag(void **state)
{
	const char *argv[] = { "stackd", "--help" };
	const char *flags[] = { "--web.listen-address",
				"--web.max-connections",
				"--profiling.frequency",
				"--profiling.include-idle",
				"--profiling.drain-interval",
				"--profiling.max-profile-seconds",
				"--profiling.max-concurrent-profiles",
				"--bpf.stack-map-entries",
				"--bpf.counts-map-entries",
				"--symbolize.cache-size",
				"--symbolize.debug-dirs",
				"--symbolize.stack-cache-size",
				"--process.max",
				"--log.level",
				"--unwind.mode",
				"--unwind.stack-size",
				"--unwind.ring-buffer-size",
				"--unwind.cache-size",
				"--version" };
	struct config cfg;
	struct run r;

	parse(&cfg, &r, 2, argv);
	assert_int_equal(r.ret, CONFIG_EXIT_OK);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strstr(r.out, flags[i]))
			fail_msg("--help does not mention %s", flags[i]);
}

static void test_units(void **state)
{
	uint64_t v;

	assert_int_equal(config_parse_duration("2m", &v), 0);
	assert_int_equal(v, 120000000000ULL);
	assert_int_equal(config_parse_duration("250us", &v), 0);
	assert_int_equal(v, 250000ULL);
	assert_int_equal(config_parse_duration("1.5s", &v), -EINVAL);
	assert_int_equal(config_parse_duration("s", &v), -EINVAL);
	assert_int_equal(config_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(config_parse_size("3MB", &v), 0);
	assert_int_equal(v, 3000000);
	assert_int_equal(config_parse_size("99999999999999999999GiB", &v), -EINVAL);
	assert_int_equal(config_parse_size("18446744073709551615GiB", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_help_lists_every_flag),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_unwind_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
