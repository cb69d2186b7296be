// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's /metrics writer (agent/stats.c) against a golden exposition: every family, HELP
 * text, label and value, byte for byte, for one fixed state with and without history. The
 * golden files were written by the writer as it was before it became a table, so a refactor
 * that changes one byte fails here. STACKD_GOLDEN_UPDATE=1 rewrites them (then review the diff).
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

#include "stats.h"

/* Every 8-byte word of the state gets its own value: a swapped getter shows. */
static void fill(struct agent_stats *s, struct agent_info *info, struct prom_histogram *h)
{
	static const double bounds[] = {0.001, 0.01, 0.1, 1};
	uint64_t words[sizeof(*s) / sizeof(uint64_t)];

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		words[i] = (i + 1) * 1000003ULL;
	memset(s, 0, sizeof(*s));
	memcpy(s, words, sizeof(words));
	s->drain_stalled = 1;
	s->drain_last_unix_ns = 1700000000123456789LL;
	s->req.profile_encode_ns_last = 2500000;
	*info = (struct agent_info){.nr_cpus = 2,
				    .frequency_hz = 99,
				    .stack_map_entries = 16384,
				    .counts_map_entries = 10240,
				    .overflow_map_entries = 1024,
				    .symbol_cache_budget = 256ULL << 20,
				    .stack_cache_budget = 64ULL << 20,
				    .history_budget = 0};
	prom_histogram_init(h, bounds, sizeof(bounds) / sizeof(bounds[0]));
	prom_histogram_observe_ns(h, 500000);
	prom_histogram_observe_ns(h, 20000000);
	prom_histogram_observe_ns(h, 3000000000ULL);
}

/*
 * The exposition up to the process_* families (they read /proc/self), with the build_info
 * sample (version and commit change with every build) replaced by a placeholder.
 */
static char *render(const struct agent_stats *s, const struct agent_info *info,
		    const struct prom_histogram *h)
{
	struct strbuf sb;
	char *out, *p, *end;

	strbuf_init(&sb, 1 << 20);
	assert_int_equal(stats_write_metrics(&sb, s, info, h), 0);
	out = strbuf_detach(&sb, NULL);
	assert_non_null(out);
	p = strstr(out, "# HELP process_cpu_seconds_total");
	assert_non_null(p);
	*p = '\0';
	p = strstr(out, "\nstackd_build_info{version=\"");
	assert_non_null(p);
	end = strchr(p + 1, '\n');
	assert_non_null(end);
	assert_true(end - p > (long)strlen("@BUILD_INFO@"));
	memcpy(p + 1, "@BUILD_INFO@", strlen("@BUILD_INFO@"));
	memmove(p + 1 + strlen("@BUILD_INFO@"), end, strlen(end) + 1);
	return out;
}

static void check_golden(const char *name, const char *got)
{
	char path[512], *want;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", STACKD_GOLDEN_DIR, name);
	if (getenv("STACKD_GOLDEN_UPDATE")) {
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(got, f);
		assert_int_equal(fclose(f), 0);
		return;
	}
	f = fopen(path, "r");
	assert_non_null(f);
	want = calloc(1, 1 << 20);
	assert_non_null(want);
	len = fread(want, 1, (1 << 20) - 1, f);
	fclose(f);
	want[len] = '\0';
	assert_string_equal(got, want);
	free(want);
}

static void test_metrics_golden(void **state)
{
	struct agent_stats s;
	struct agent_info info;
	struct prom_histogram h;
	char *out;

	fill(&s, &info, &h);
	out = render(&s, &info, &h);
	check_golden("stats_metrics.prom", out);
	free(out);

	info.history_budget = 128ULL << 20;
	out = render(&s, &info, &h);
	check_golden("stats_metrics_history.prom", out);
	free(out);
	(void)state;
}

/* A cap too small for the exposition: -ENOSPC, never a truncated text. */
static void test_metrics_enospc(void **state)
{
	struct agent_stats s;
	struct agent_info info;
	struct prom_histogram h;
	struct strbuf sb;

	fill(&s, &info, &h);
	strbuf_init(&sb, 4096);
	assert_int_equal(stats_write_metrics(&sb, &s, &info, &h), -ENOSPC);
	strbuf_free(&sb);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_metrics_golden),
	    cmocka_unit_test(test_metrics_enospc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
