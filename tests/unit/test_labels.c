// SPDX-License-Identifier: Apache-2.0
/*
 * Label sets of processes (and filters over their repaired values), and the
 * profile-derived CPU metrics with their cardinality cap. The filter and
 * time arguments themselves: test_query.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "cpumetrics.h"
#include "exporter/labels.h"
#include "exporter/query.h"
#include "labelset.h"
#include "procmeta.h"

static void test_label_set(void **state)
{
	struct procmeta m;
	struct label_set *ls;
	uint32_t mask;

	(void)state;
	memset(&m, 0, sizeof(m));
	strcpy(m.container_id, "abc");
	strcpy(m.unit, "x.service");
	ls = label_set_build(7, "app", "/bin/app", &m);
	assert_non_null(ls);
	/* pid, comm, exe, container_id, unit: empty values are left out. */
	assert_int_equal(ls->nr, 5);
	assert_string_equal(ls->l[0].key, "pid");
	assert_int_equal(ls->l[0].num, 7);
	assert_string_equal(ls->l[3].key, "container_id");
	assert_string_equal(ls->l[3].str, "abc");
	free(ls);
	ls = label_set_build(8, "k", "", NULL);
	assert_int_equal(ls->nr, 2);
	free(ls);

	assert_int_equal(labels_parse_set("pid,comm,unit", &mask), 0);
	assert_int_equal(mask, (1u << LABEL_PID) | (1u << LABEL_COMM) | (1u << LABEL_UNIT));
	assert_int_equal(labels_parse_set("pid,,comm", &mask), -EINVAL);
	assert_int_equal(labels_parse_set("pid,bogus", &mask), -EINVAL);
}

/* Names a process chose are repaired to valid UTF-8 where they become labels; filters too. */
static void test_label_set_utf8(void **state)
{
	struct label_filter f;
	struct procmeta m;
	struct label_set *ls;

	(void)state;
	memset(&m, 0, sizeof(m));
	strcpy(m.cgroup, "/x\xed\xa0\x80.slice");
	ls = label_set_build(9, "\xff\xfe-bad", "/tmp/\xc0\x80", &m);
	assert_non_null(ls);
	assert_int_equal(ls->nr, 4);
	assert_string_equal(label_str(ls->l, ls->nr, "comm"), "\xef\xbf\xbd\xef\xbf\xbd-bad");
	assert_string_equal(label_str(ls->l, ls->nr, "exe"), "/tmp/\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(label_str(ls->l, ls->nr, "cgroup"),
			    "/x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd.slice");
	/* The raw bytes, the repaired form and a glob all select it. */
	memset(&f, 0, sizeof(f));
	assert_null(label_filter_set(&f, "comm", "\xff\xfe-bad"));
	assert_true(label_filter_match(&f, ls->l, ls->nr));
	assert_null(label_filter_set(&f, "comm", "\xef\xbf\xbd\xef\xbf\xbd-bad"));
	assert_true(label_filter_match(&f, ls->l, ls->nr));
	assert_null(label_filter_set(&f, "comm", "*-bad"));
	assert_true(label_filter_match(&f, ls->l, ls->nr));
	assert_null(label_filter_set(&f, "comm", "good"));
	assert_false(label_filter_match(&f, ls->l, ls->nr));
	free(ls);
}

static void test_cpumetrics_cap(void **state)
{
	struct cpumetrics_opts o = {.period_ns = 10000000,
				    .cpu_max_series = 2,
				    .cpu_labels = "comm,container",
				    .functions = "hot*",
				    .functions_max_series = 1};
	const uint64_t sec = 1000000000ULL;
	struct pprof_label l[2] = {{.key = "pid", .num = 1}, {.key = "comm"}};
	struct sym_line lines[2] = {{.function = "hot_a"}, {.function = "main"}};
	struct sym_frame fr[2] = {{.nr_lines = 1, .lines = &lines[0]},
				  {.nr_lines = 1, .lines = &lines[1]}};
	struct sym_result r = {.nr = 2, .frames = fr};
	const struct sym_result *parts[1] = {&r};
	struct cpumetrics *m;
	struct strbuf sb;

	(void)state;
	assert_int_equal(cpumetrics_new(&o, &m), 0);
	l[1].str = "a";
	cpumetrics_add_process(m, l, 2, 100, 1 * sec);
	l[1].str = "b";
	cpumetrics_add_process(m, l, 2, 50, 2 * sec);
	l[1].str = "c"; /* both places busy: cut */
	cpumetrics_add_process(m, l, 2, 7, 3 * sec);
	/* a has been idle for 300 s: c takes its place */
	l[1].str = "b";
	cpumetrics_add_process(m, l, 2, 1, 301 * sec);
	l[1].str = "c";
	cpumetrics_add_process(m, l, 2, 3, 302 * sec);
	cpumetrics_add_stack(m, parts, 1, 20, 302 * sec);
	lines[0].function = "hot_b"; /* the one function place is taken and busy */
	cpumetrics_add_stack(m, parts, 1, 5, 302 * sec);

	strbuf_init(&sb, 1 << 20);
	assert_int_equal(cpumetrics_write(m, &sb), 0);
	assert_non_null(
	    strstr(sb.buf, "stackd_cpu_seconds_total{comm=\"c\",container=\"\"} 0.03\n"));
	assert_non_null(
	    strstr(sb.buf, "stackd_cpu_seconds_total{comm=\"b\",container=\"\"} 0.51\n"));
	assert_null(strstr(sb.buf, "comm=\"a\""));
	assert_non_null(strstr(sb.buf, "stackd_cpu_seconds_cut_total 0.07\n"));
	assert_non_null(
	    strstr(sb.buf, "stackd_function_cpu_seconds_total{function=\"hot_a\"} 0.2\n"));
	assert_non_null(strstr(sb.buf, "stackd_function_cpu_seconds_cut_total 0.05\n"));
	assert_non_null(
	    strstr(sb.buf,
		   "stackd_metrics_series_evicted_total{family=\"stackd_cpu_seconds_total\"} 1\n"));
	strbuf_free(&sb);
	cpumetrics_free(m);

	o.cpu_labels = "comm,pid"; /* one series per process: refused */
	assert_int_equal(cpumetrics_new(&o, &m), -EINVAL);
}

/* Off-CPU seconds: per process group and reason, in ns given (not samples), capped alike. */
static void test_cpumetrics_offcpu(void **state)
{
	struct cpumetrics_opts o = {
	    .period_ns = 10000000, .cpu_max_series = 2, .cpu_labels = "comm", .offcpu = true};
	const uint64_t sec = 1000000000ULL;
	struct pprof_label l[2] = {{.key = "pid", .num = 1}, {.key = "comm", .str = "db"}};
	struct cpumetrics *m;
	struct strbuf sb;

	(void)state;
	assert_int_equal(cpumetrics_new(&o, &m), 0);
	cpumetrics_add_offcpu(m, l, 2, "sleep", 1500000000, 1 * sec);
	cpumetrics_add_offcpu(m, l, 2, "sleep", 250, 2 * sec);
	cpumetrics_add_offcpu(m, l, 2, "disk", 20000000, 2 * sec);
	cpumetrics_add_offcpu(m, l, 2, "preempted", 7, 3 * sec); /* both places busy: cut */
	/* The CPU family is apart: its own two places. */
	cpumetrics_add_process(m, l, 2, 3, 3 * sec);
	strbuf_init(&sb, 1 << 20);
	assert_int_equal(cpumetrics_write(m, &sb), 0);
	assert_non_null(strstr(
	    sb.buf, "stackd_offcpu_seconds_total{comm=\"db\",reason=\"sleep\"} 1.50000025\n"));
	assert_non_null(
	    strstr(sb.buf, "stackd_offcpu_seconds_total{comm=\"db\",reason=\"disk\"} 0.02\n"));
	assert_non_null(strstr(sb.buf, "stackd_offcpu_seconds_cut_total 0.000000007\n"));
	assert_non_null(strstr(sb.buf, "stackd_cpu_seconds_total{comm=\"db\"} 0.03\n"));
	assert_non_null(
	    strstr(sb.buf, "stackd_metrics_series{family=\"stackd_offcpu_seconds_total\"} 2\n"));
	strbuf_free(&sb);
	cpumetrics_free(m);

	/* Off (the default): no family at all. */
	o.offcpu = false;
	assert_int_equal(cpumetrics_new(&o, &m), 0);
	cpumetrics_add_offcpu(m, l, 2, "sleep", 1500000000, 1 * sec);
	strbuf_init(&sb, 1 << 20);
	assert_int_equal(cpumetrics_write(m, &sb), 0);
	assert_null(strstr(sb.buf, "offcpu"));
	strbuf_free(&sb);
	cpumetrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_label_set),
	    cmocka_unit_test(test_label_set_utf8),
	    cmocka_unit_test(test_cpumetrics_cap),
	    cmocka_unit_test(test_cpumetrics_offcpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
