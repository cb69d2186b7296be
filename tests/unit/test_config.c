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
	char out[16384];
	char err[2048];
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
	const char *argv[] = {"stackd"};
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
	const char *argv[] = {"stackd",
			      "--web.listen-address=:7070",
			      "--profiling.frequency",
			      "99",
			      "--profiling.include-idle",
			      "--profiling.drain-interval=500ms",
			      "--symbolize.cache-size=1GiB",
			      "--bpf.stack-map-entries=65536",
			      "--log.level=debug"};
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
	const char *argv[] = {"stackd", arg};
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
	const char *argv[] = {"stackd", "--unwind.mode=dwarf", "--unwind.stack-size=8KiB",
			      "--unwind.ring-buffer-size=1MiB", "--unwind.cache-size=8MiB"};
	struct config cfg;
	struct run r;

	parse(&cfg, &r, 1, argv);
	assert_int_equal(cfg.unwind_mode, STACKD_UNWIND_KERNEL);
	assert_int_equal(cfg.unwind_stack_bytes, 16384);
	/* Derived: a power of two, 1..4 MiB (dwarf: by frequency and CPUs), 64 KiB for fp only. */
	assert_true(cfg.unwind_ring_bytes >= 1 << 20 && cfg.unwind_ring_bytes <= 4 << 20);
	assert_int_equal(cfg.unwind_ring_bytes & (cfg.unwind_ring_bytes - 1), 0);
	{
		const char *hot[] = {"stackd", "--profiling.frequency=10000"};
		const char *hot_dwarf[] = {"stackd", "--profiling.frequency=10000",
					   "--unwind.mode=dwarf"};
		const char *fp[] = {"stackd", "--unwind.mode=fp"};

		/* kernel mode copies only a new process's first samples: 1 MiB at any rate. */
		parse(&cfg, &r, 2, hot);
		assert_int_equal(cfg.unwind_ring_bytes, 1 << 20);
		parse(&cfg, &r, 3, hot_dwarf);
		assert_int_equal(cfg.unwind_ring_bytes, 4 << 20);
		parse(&cfg, &r, 2, fp);
		assert_int_equal(cfg.unwind_ring_bytes, 64 << 10);
	}
	parse(&cfg, &r, sizeof(argv) / sizeof(argv[0]), argv);
	assert_int_equal(r.ret, CONFIG_RUN);
	assert_int_equal(cfg.unwind_mode, STACKD_UNWIND_DWARF);
	assert_int_equal(cfg.unwind_stack_bytes, 8192);
	assert_int_equal(cfg.unwind_ring_bytes, 1 << 20);
	assert_int_equal(cfg.unwind_cache_bytes, 8 << 20);
}

static void test_help_lists_every_flag(void **state)
{
	const char *argv[] = {"stackd", "--help"};
	const char *flags[] = {"--web.listen-address",
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
			       "--unwind.table-budget",
			       "--profiling.pids",
			       "--profiling.cgroups",
			       "--profiling.labels",
			       "--history.window",
			       "--history.retention",
			       "--history.max-bytes",
			       "--metrics.cpu.max-series",
			       "--metrics.cpu.labels",
			       "--metrics.functions",
			       "--metrics.functions.max-series",
			       "--version"};
	struct config cfg;
	struct run r;

	const char *line;

	parse(&cfg, &r, 2, argv);
	assert_int_equal(r.ret, CONFIG_EXIT_OK);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strstr(r.out, flags[i]))
			fail_msg("--help does not mention %s", flags[i]);
	/* Wrapped for a terminal, and a default is never split across lines. */
	for (line = r.out; *line;) {
		size_t len = strcspn(line, "\n");

		if (len > 100)
			fail_msg("--help line longer than 100 columns: %.*s", (int)len, line);
		line += len + (line[len] == '\n');
	}
	assert_non_null(
	    strstr(r.out, "(default pid,comm,exe,container_id,pod_uid,container,unit)"));
	assert_non_null(strstr(r.out, "--history.window=DUR"));
	assert_non_null(strstr(r.out, "--profiling.pids=LIST"));
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

static void test_filter_defaults(void **state)
{
	const char *argv[] = {"stackd"};
	struct config cfg;
	struct run r;

	parse(&cfg, &r, 1, argv);
	assert_int_equal(r.ret, CONFIG_RUN);
	assert_int_equal(cfg.nr_filter_pids, 0);
	assert_string_equal(cfg.filter_cgroups, "");
	assert_string_equal(cfg.labels, "pid,comm,exe,container_id,pod_uid,container,unit");
	assert_int_equal(cfg.history_window_ns, 10000000000ULL);
	assert_int_equal(cfg.history_retention_ns, 900000000000ULL);
	assert_int_equal(cfg.history_max_bytes, 32ULL << 20);
	assert_int_equal(cfg.metrics_cpu_max_series, 100);
	assert_string_equal(cfg.metrics_cpu_labels, "comm,container");
	assert_string_equal(cfg.metrics_functions, "");
	assert_int_equal(cfg.metrics_functions_max_series, 100);
	/* Nothing to resolve: no cgroup filter. */
	assert_int_equal(config_resolve_cgroups(&cfg, stderr), 0);
	assert_int_equal(cfg.nr_filter_cgroup_ids, 0);
}

static void test_filter_values(void **state)
{
	const char *argv[] = {"stackd",
			      "--profiling.pids=1,4194304,377",
			      "--profiling.cgroups=/system.slice/a.service,/sys/fs/cgroup/k8s",
			      "--profiling.labels=pid,cmdline,pod,namespace,container_runtime",
			      "--history.window=30s",
			      "--history.retention=1h",
			      "--history.max-bytes=1GiB",
			      "--metrics.cpu.max-series=0",
			      "--metrics.cpu.labels=unit,cgroup",
			      "--metrics.functions=malloc,std::vector*,*::Parse*,[a-c]x,[!]]y",
			      "--metrics.functions.max-series=100000"};
	struct config cfg;
	struct run r;

	parse(&cfg, &r, sizeof(argv) / sizeof(argv[0]), argv);
	if (r.ret != CONFIG_RUN)
		fail_msg("refused: %s", r.err);
	assert_int_equal(cfg.nr_filter_pids, 3);
	assert_int_equal(cfg.filter_pids[0], 1);
	assert_int_equal(cfg.filter_pids[1], 4194304);
	assert_int_equal(cfg.filter_pids[2], 377);
	assert_string_equal(cfg.filter_cgroups, "/system.slice/a.service,/sys/fs/cgroup/k8s");
	assert_string_equal(cfg.labels, "pid,cmdline,pod,namespace,container_runtime");
	assert_int_equal(cfg.history_window_ns, 30000000000ULL);
	assert_int_equal(cfg.history_retention_ns, 3600000000000ULL);
	assert_int_equal(cfg.history_max_bytes, 1ULL << 30);
	assert_int_equal(cfg.metrics_cpu_max_series, 0);
	assert_string_equal(cfg.metrics_cpu_labels, "unit,cgroup");
	assert_string_equal(cfg.metrics_functions, "malloc,std::vector*,*::Parse*,[a-c]x,[!]]y");
	assert_int_equal(cfg.metrics_functions_max_series, 100000);
}

/* Empty lists switch a feature off; a bare 0 disables the history, whatever the window. */
static void test_filter_empty_and_zero(void **state)
{
	const char *argv[] = {"stackd",
			      "--profiling.pids=5",
			      "--profiling.pids=",
			      "--profiling.labels=",
			      "--metrics.cpu.labels=",
			      "--metrics.functions=",
			      "--history.window=10m",
			      "--history.retention=0"};
	struct config cfg;
	struct run r;

	parse(&cfg, &r, sizeof(argv) / sizeof(argv[0]), argv);
	if (r.ret != CONFIG_RUN)
		fail_msg("refused: %s", r.err);
	assert_int_equal(cfg.nr_filter_pids, 0);
	assert_string_equal(cfg.labels, "");
	assert_string_equal(cfg.metrics_cpu_labels, "");
	assert_string_equal(cfg.metrics_functions, "");
	assert_int_equal(cfg.history_retention_ns, 0);
}

static void test_pid_list_limit(void **state)
{
	static char arg[16 * 1100];
	const char *argv[] = {"stackd", arg};
	struct config cfg;
	struct run r;
	size_t n = (size_t)snprintf(arg, sizeof(arg), "--profiling.pids=");

	for (int i = 1; i <= CONFIG_MAX_FILTER_PIDS; i++)
		n += (size_t)snprintf(arg + n, sizeof(arg) - n, "%s%d", i > 1 ? "," : "", i);
	parse(&cfg, &r, 2, argv);
	assert_int_equal(r.ret, CONFIG_RUN);
	assert_int_equal(cfg.nr_filter_pids, CONFIG_MAX_FILTER_PIDS);
	assert_int_equal(cfg.filter_pids[CONFIG_MAX_FILTER_PIDS - 1], CONFIG_MAX_FILTER_PIDS);
	snprintf(arg + n, sizeof(arg) - n, ",99999");
	parse(&cfg, &r, 2, argv);
	assert_int_equal(r.ret, -EINVAL);
	assert_non_null(strstr(r.err, "more than 1024 pids"));
}

static void expect_error2(const char *a1, const char *a2, const char *needle)
{
	const char *argv[] = {"stackd", a1, a2};
	struct config cfg;
	struct run r;

	parse(&cfg, &r, 3, argv);
	assert_int_equal(r.ret, -EINVAL);
	if (!strstr(r.err, needle))
		fail_msg("error for %s %s was \"%s\", expected it to mention \"%s\"", a1, a2, r.err,
			 needle);
}

static void test_filter_errors(void **state)
{
	/* The bad element is named. */
	expect_error("--profiling.pids=12,abc,7", "\"abc\" is not a pid");
	expect_error("--profiling.pids=0", "\"0\" is not a pid (want 1..4194304)");
	expect_error("--profiling.pids=4194305", "\"4194305\" is not a pid");
	expect_error("--profiling.pids=-1", "\"-1\" is not a pid");
	expect_error("--profiling.pids=1, 2", "\" 2\" is not a pid");
	expect_error("--profiling.pids=1,,2", "empty element");
	expect_error("--profiling.pids=1,", "empty element");
	expect_error("--profiling.pids=99999999999999999999999", "is not a pid");
	expect_error("--profiling.cgroups=system.slice", "\"system.slice\" is not a cgroup path");
	expect_error("--profiling.cgroups=/a,,/b", "\"\" is not a cgroup path");
	/* Unknown keys: the error lists the allowed ones. */
	expect_error("--profiling.labels=pid,thread",
		     "unknown key \"thread\"; allowed: pid, comm, exe, cmdline, cgroup, "
		     "container_id, container_runtime, pod_uid, pod, namespace, container, unit");
	expect_error("--profiling.labels=pid,,comm", "empty element");
	expect_error("--profiling.labels=comm,pid,comm", "\"comm\" is listed twice");
	expect_error("--metrics.cpu.labels=comm,pid",
		     "unknown key \"pid\"; allowed: comm, exe, container, container_id, pod_uid, "
		     "pod, namespace, unit, cgroup");
	expect_error("--metrics.functions=malloc,,free", "empty pattern");
	expect_error("--metrics.functions=foo[ab", "\"foo[ab\" has an unclosed [");
	expect_error("--metrics.functions.max-series=0", "--metrics.functions.max-series");
	expect_error("--metrics.cpu.max-series=100001", "range 0..100000");
	expect_error("--history.window=500ms", "--history.window");
	expect_error("--history.window=11m", "--history.window");
	expect_error("--history.retention=25h", "--history.retention");
	expect_error("--history.max-bytes=32KiB", "--history.max-bytes");
	expect_error("--history.max-bytes=17GiB", "--history.max-bytes");
	/* Valid alone, not together. */
	expect_error("--history.retention=5s",
		     "--history.retention=5s is shorter than --history.window=10s");
	expect_error2("--history.window=2m", "--history.retention=90s",
		      "--history.retention=1m30s is shorter than --history.window=2m");
	expect_error2("--profiling.drain-interval=30s", "--history.window=5s",
		      "--history.window=5s is shorter than --profiling.drain-interval=30s");
}

static void test_too_many_patterns(void **state)
{
	static char arg[64 * 8];
	const char *argv[] = {"stackd", arg};
	struct config cfg;
	struct run r;
	size_t n = (size_t)snprintf(arg, sizeof(arg), "--metrics.functions=");

	for (int i = 0; i <= CONFIG_MAX_FUNCTION_PATTERNS; i++)
		n += (size_t)snprintf(arg + n, sizeof(arg) - n, "%sf%d", i ? "," : "", i);
	parse(&cfg, &r, 2, argv);
	assert_int_equal(r.ret, -EINVAL);
	assert_non_null(strstr(r.err, "more than 64 patterns"));
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
	    cmocka_unit_test(test_filter_defaults),
	    cmocka_unit_test(test_filter_values),
	    cmocka_unit_test(test_filter_empty_and_zero),
	    cmocka_unit_test(test_pid_list_limit),
	    cmocka_unit_test(test_filter_errors),
	    cmocka_unit_test(test_too_many_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
