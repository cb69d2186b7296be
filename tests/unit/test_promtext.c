// SPDX-License-Identifier: Apache-2.0
/*
 * Prometheus text writer tests: escaping, special values, histograms, the
 * process_* family, and the real linter (`promtool check metrics`) over a
 * whole exposition. In CI (CI=true) a missing promtool fails instead of skipping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ci.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "exporter/promtext.h"

static void test_format_value(void **state)
{
	char buf[64];

	prom_format_value(NAN, buf, sizeof(buf));
	assert_string_equal(buf, "NaN");
	prom_format_value(INFINITY, buf, sizeof(buf));
	assert_string_equal(buf, "+Inf");
	prom_format_value(-INFINITY, buf, sizeof(buf));
	assert_string_equal(buf, "-Inf");
	prom_format_value(0, buf, sizeof(buf));
	assert_string_equal(buf, "0");
	prom_format_value(42, buf, sizeof(buf));
	assert_string_equal(buf, "42");
	prom_format_value(-3, buf, sizeof(buf));
	assert_string_equal(buf, "-3");
	prom_format_value(1e15, buf, sizeof(buf));
	assert_string_equal(buf, "1000000000000000");
	prom_format_value(9007199254740992.0, buf, sizeof(buf)); /* 2^53 */
	assert_string_equal(buf, "9007199254740992");
	prom_format_value(0.5, buf, sizeof(buf));
	assert_string_equal(buf, "0.5");
	prom_format_value(0.1, buf, sizeof(buf));
	assert_string_equal(buf, "0.10000000000000001");
	assert_true(strtod(buf, NULL) == 0.1);
	prom_format_value(1e300, buf, sizeof(buf));
	assert_true(strtod(buf, NULL) == 1e300);
	prom_format_value(1.5e-9, buf, sizeof(buf));
	assert_true(strtod(buf, NULL) == 1.5e-9);
	/* Truncates, never overflows. */
	prom_format_value(0.1, buf, 4);
	assert_string_equal(buf, "0.1");
}

static void test_escaping(void **state)
{
	struct strbuf sb;
	struct prom_label labels[] = {
	    {"path", "C:\\dir\\\"x\"\nend"},
	    {"mode", ""},
	};

	strbuf_init(&sb, 1 << 16);
	assert_int_equal(prom_escape_label_value(&sb, "a\\b\"c\nd"), 0);
	assert_string_equal(sb.buf, "a\\\\b\\\"c\\nd");
	strbuf_reset(&sb);

	/* HELP escapes backslash and newline but leaves quotes alone. */
	assert_int_equal(prom_family(&sb, "stackd_x_total", "counter", "a \"b\" c\\d\ne"), 0);
	assert_string_equal(sb.buf, "# HELP stackd_x_total a \"b\" c\\\\d\\ne\n"
				    "# TYPE stackd_x_total counter\n");
	strbuf_reset(&sb);

	assert_int_equal(prom_sample(&sb, "stackd_x_total", labels, 2, 3), 0);
	assert_string_equal(sb.buf,
			    "stackd_x_total{path=\"C:\\\\dir\\\\\\\"x\\\"\\nend\",mode=\"\"} 3\n");
	strbuf_reset(&sb);

	assert_int_equal(prom_sample(&sb, "stackd_up", NULL, 0, NAN), 0);
	assert_int_equal(prom_sample(&sb, "stackd_up", NULL, 0, -INFINITY), 0);
	assert_int_equal(prom_sample_u64(&sb, "stackd_big", NULL, 0, UINT64_MAX), 0);
	assert_string_equal(sb.buf,
			    "stackd_up NaN\nstackd_up -Inf\nstackd_big 18446744073709551615\n");
	strbuf_free(&sb);
}

/* A process names itself "\xff\xfe-bad": the scrape must stay valid UTF-8 (U+FFFD). */
static void test_invalid_utf8(void **state)
{
	struct prom_label labels[] = {{"comm", "\xff\xfe-bad"}, {"fn", "a\xe2\x82\"\xc3\xa9"}};
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 1 << 16);
	assert_int_equal(prom_sample_u64(&sb, "stackd_x_total", labels, 2, 1), 0);
	assert_string_equal(sb.buf, "stackd_x_total{comm=\"\xef\xbf\xbd\xef\xbf\xbd-bad\","
				    "fn=\"a\xef\xbf\xbd\\\"\xc3\xa9\"} 1\n");
	strbuf_reset(&sb);
	/* Cut by the NUL: the decoder never reads past the end of the value. */
	assert_int_equal(prom_escape_label_value(&sb, "x\xf0\x9f"), 0);
	assert_string_equal(sb.buf, "x\xef\xbf\xbd");
	strbuf_reset(&sb);
	assert_int_equal(prom_family(&sb, "stackd_y", "gauge",
				     "h\xc0\xaf"
				     "elp"),
			 0);
	assert_string_equal(sb.buf, "# HELP stackd_y h\xef\xbf\xbd\xef\xbf\xbd"
				    "elp\n"
				    "# TYPE stackd_y gauge\n");
	strbuf_free(&sb);
}

static void test_invalid_and_enospc(void **state)
{
	struct prom_label bad_label = {"0bad", "v"};
	struct strbuf sb;
	size_t len;

	strbuf_init(&sb, 64);
	assert_int_equal(prom_family(&sb, "ok_metric", "counterz", "x"), -EINVAL);
	assert_int_equal(prom_family(&sb, "bad-name", "gauge", "x"), -EINVAL);
	assert_int_equal(prom_sample(&sb, "9bad", NULL, 0, 1), -EINVAL);
	assert_int_equal(prom_sample(&sb, "ok", &bad_label, 1, 1), -EINVAL);
	assert_int_equal(sb.len, 0);

	assert_int_equal(prom_sample(&sb, "a_metric", NULL, 0, 1), 0);
	len = sb.len;
	/* Does not fit in 64 bytes: fails whole, leaves no partial line behind. */
	assert_int_equal(prom_family(&sb, "a_metric", "gauge",
				     "a help text long enough to pass the sixty-four byte cap"),
			 -ENOSPC);
	assert_int_equal(sb.len, len);
	assert_string_equal(sb.buf, "a_metric 1\n");
	strbuf_free(&sb);
}

/* The whole-family writers the agent's and the server's /metrics use. */
static void test_metric_writers(void **state)
{
	static const char *const reasons[] = {"a\"b", "c"};
	const uint64_t v[] = {3, 18446744073709551615ULL};
	struct prom_label l = {"path", "x\ny"};
	struct strbuf sb;
	size_t len;

	strbuf_init(&sb, 4096);
	assert_int_equal(prom_metric_u64(&sb, "m_total", "counter", "Some \"help\".", 7), 0);
	assert_int_equal(prom_metric(&sb, "m_seconds", "gauge", "Time.", 1.5), 0);
	assert_int_equal(prom_metric_labelled_u64(&sb, "r_total", "counter", "By reason.", "reason",
						  reasons, v, 2),
			 0);
	assert_int_equal(
	    prom_metric_labelled_u64(&sb, "e_total", "counter", NULL, "reason", reasons, v, 0), 0);
	assert_int_equal(prom_sample_text(&sb, "t_total", &l, 1, "0.25"), 0);
	assert_string_equal(sb.buf, "# HELP m_total Some \"help\".\n"
				    "# TYPE m_total counter\n"
				    "m_total 7\n"
				    "# HELP m_seconds Time.\n"
				    "# TYPE m_seconds gauge\n"
				    "m_seconds 1.5\n"
				    "# HELP r_total By reason.\n"
				    "# TYPE r_total counter\n"
				    "r_total{reason=\"a\\\"b\"} 3\n"
				    "r_total{reason=\"c\"} 18446744073709551615\n"
				    "# TYPE e_total counter\n"
				    "t_total{path=\"x\\ny\"} 0.25\n");

	/* A bad label name fails the whole family: no header is left behind. */
	len = sb.len;
	assert_int_equal(
	    prom_metric_labelled_u64(&sb, "b_total", "counter", "x", "0bad", reasons, v, 2),
	    -EINVAL);
	assert_int_equal(prom_sample_text(&sb, "t_total", NULL, 0, NULL), -EINVAL);
	assert_int_equal(sb.len, len);
	strbuf_free(&sb);
	(void)state;
}

static void test_histogram(void **state)
{
	static const double bounds[] = {0.1, 0.005, 1}; /* unsorted on purpose */
	struct prom_histogram h;
	struct strbuf sb;

	prom_histogram_init(&h, bounds, 3);
	assert_int_equal(h.nr_bounds, 3);
	prom_histogram_observe_ns(&h, 1000000);	   /* 1 ms -> le 0.005 */
	prom_histogram_observe_ns(&h, 5000000);	   /* exactly on a bound: le is inclusive */
	prom_histogram_observe_ns(&h, 50000000);   /* 50 ms -> le 0.1 */
	prom_histogram_observe_ns(&h, 2000000000); /* 2 s -> +Inf only */

	strbuf_init(&sb, 1 << 16);
	assert_int_equal(prom_histogram_write(&sb, "stackd_encode_seconds", "Time to encode.", &h),
			 0);
	assert_string_equal(sb.buf, "# HELP stackd_encode_seconds Time to encode.\n"
				    "# TYPE stackd_encode_seconds histogram\n"
				    "stackd_encode_seconds_bucket{le=\"0.005\"} 2\n"
				    "stackd_encode_seconds_bucket{le=\"0.1\"} 3\n"
				    "stackd_encode_seconds_bucket{le=\"1\"} 3\n"
				    "stackd_encode_seconds_bucket{le=\"+Inf\"} 4\n"
				    "stackd_encode_seconds_sum 2.056\n"
				    "stackd_encode_seconds_count 4\n");
	strbuf_reset(&sb);

	/* No observations, no bounds: still a valid family. */
	prom_histogram_init(&h, NULL, 0);
	assert_int_equal(prom_histogram_write(&sb, "stackd_empty_seconds", "Nothing.", &h), 0);
	assert_string_equal(sb.buf, "# HELP stackd_empty_seconds Nothing.\n"
				    "# TYPE stackd_empty_seconds histogram\n"
				    "stackd_empty_seconds_bucket{le=\"+Inf\"} 0\n"
				    "stackd_empty_seconds_sum 0\n"
				    "stackd_empty_seconds_count 0\n");
	strbuf_free(&sb);
}

static double metric_value(const char *text, const char *name)
{
	char key[128];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(text, key);
	assert_non_null(p);
	return strtod(p + strlen(key), NULL);
}

static void test_process_metrics(void **state)
{
	static const char *const families[] = {
	    "# TYPE process_cpu_seconds_total counter\n",
	    "# TYPE process_open_fds gauge\n",
	    "# TYPE process_max_fds gauge\n",
	    "# TYPE process_virtual_memory_bytes gauge\n",
	    "# TYPE process_resident_memory_bytes gauge\n",
	    "# TYPE process_start_time_seconds gauge\n",
	    "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
	    "seconds.\n",
	};
	struct strbuf sb;

	strbuf_init(&sb, 1 << 16);
	assert_int_equal(prom_write_process_metrics(&sb), 0);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		assert_non_null(strstr(sb.buf, families[i]));
	assert_true(metric_value(sb.buf, "process_open_fds") >= 3);
	assert_true(metric_value(sb.buf, "process_max_fds") >=
		    metric_value(sb.buf, "process_open_fds"));
	assert_true(metric_value(sb.buf, "process_resident_memory_bytes") > 0);
	assert_true(metric_value(sb.buf, "process_virtual_memory_bytes") >
		    metric_value(sb.buf, "process_resident_memory_bytes"));
	/* Started after 2020 and not in the future. */
	assert_true(metric_value(sb.buf, "process_start_time_seconds") > 1.5e9);
	assert_true(metric_value(sb.buf, "process_start_time_seconds") < 4e9);
	assert_true(metric_value(sb.buf, "process_cpu_seconds_total") >= 0);
	strbuf_free(&sb);
}

static bool have_tool(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static void test_promtool(void **state)
{
	static const double bounds[] = {0.001, 0.01, 0.1, 1, 10};
	struct prom_label build[] = {{"version", "0.1.0"}, {"revision", "a\"b\\c\nd"}};
	struct prom_label cpu[] = {{"cpu", "0"}};
	struct prom_histogram h;
	const char *tmp = getenv("STACKD_TEST_TMP");
	char out[1024], cmd[2048];
	struct strbuf sb;
	FILE *fp;
	int status;

	if (!have_tool("promtool"))
		skip_or_fail("`promtool` not on PATH; `promtool check metrics` not run");

	strbuf_init(&sb, 1 << 20);
	assert_int_equal(prom_family(&sb, "stackd_build_info", "gauge",
				     "A metric with a constant '1' value labeled by version."),
			 0);
	assert_int_equal(prom_sample(&sb, "stackd_build_info", build, 2, 1), 0);
	assert_int_equal(prom_family(&sb, "stackd_samples_total", "counter",
				     "Stack samples read from the kernel."),
			 0);
	assert_int_equal(prom_sample_u64(&sb, "stackd_samples_total", cpu, 1, 12345), 0);
	assert_int_equal(prom_family(&sb, "stackd_ratio", "gauge", "Special values\nand \\."), 0);
	assert_int_equal(prom_sample(&sb, "stackd_ratio", NULL, 0, NAN), 0);
	prom_histogram_init(&h, bounds, 5);
	for (uint64_t ns = 1000; ns < 20000000000ULL; ns *= 3)
		prom_histogram_observe_ns(&h, ns);
	assert_int_equal(prom_histogram_write(&sb, "stackd_profile_encode_seconds",
					      "Time to encode and compress a profile.", &h),
			 0);
	assert_int_equal(prom_write_process_metrics(&sb), 0);

	snprintf(out, sizeof(out), "%s/test_promtext.promtool.out", tmp && *tmp ? tmp : "/tmp");
	snprintf(cmd, sizeof(cmd), "promtool check metrics >'%s' 2>&1", out);
	fp = popen(cmd, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(sb.buf, 1, sb.len, fp), sb.len);
	status = pclose(fp);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		print_error("promtool check metrics failed (status %d) on:\n%s\n", status, sb.buf);
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", out);
		(void)!system(cmd);
		fail();
	}
	strbuf_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_value),    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_invalid_utf8),    cmocka_unit_test(test_invalid_and_enospc),
	    cmocka_unit_test(test_metric_writers),  cmocka_unit_test(test_histogram),
	    cmocka_unit_test(test_process_metrics), cmocka_unit_test(test_promtool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
