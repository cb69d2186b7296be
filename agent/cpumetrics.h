/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Profile-derived metrics: CPU seconds counted from samples, so Prometheus
 * can graph and alert on what the profiles show.
 *
 *   stackd_cpu_seconds_total{<--metrics.cpu.labels>}   per process group
 *   stackd_function_cpu_seconds_total{function}        per function matching
 *                                                      --metrics.functions
 *   stackd_offcpu_seconds_total{<labels>,reason}       time off CPU (--offcpu.enabled),
 *                                                      per process group and why
 *
 * A sample is one period (1 / --profiling.frequency) of one CPU. A function
 * counts a sample when it is anywhere on the stack, inlined or not, once per
 * sample however often it recurses: the function's cumulative ("total") CPU.
 *
 * Cardinality is bounded: each family holds at most its --*.max-series
 * series. A series that has not grown for CPUMETRICS_IDLE_SECONDS gives up
 * its place to a new one (long enough for rate() over the usual windows to
 * see it end); a new group that finds every place busy is counted in
 * stackd_{cpu,function_cpu}_seconds_cut_total instead, so the sum over a
 * family plus its cut counter is all the CPU seen.
 *
 * Thread-safe: the drain thread adds, HTTP threads write the metrics.
 */
#ifndef STACKD_AGENT_CPUMETRICS_H
#define STACKD_AGENT_CPUMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "exporter/pprof.h"
#include "symbolize/symbolizer.h"

#define CPUMETRICS_IDLE_SECONDS 300
#define CPUMETRICS_MAX_PATTERNS 64
#define CPUMETRICS_MAX_LABELS	8
/* Longest label value kept (longer C++ names are cut, marked with "..."). */
#define CPUMETRICS_VALUE_MAX 256

struct cpumetrics_opts {
	uint64_t period_ns;	 /* CPU time one sample stands for */
	unsigned cpu_max_series; /* 0: no stackd_cpu_seconds_total */
	const char *cpu_labels;	 /* comma-separated: comm, exe, container, container_id, ... */
	const char *functions;	 /* comma-separated shell globs; NULL or "": none */
	unsigned functions_max_series;
	bool offcpu; /* stackd_offcpu_seconds_total (same labels and cap as the CPU family) */
};

struct cpumetrics;

/* -EINVAL for an unknown label key or a bad pattern list. */
int cpumetrics_new(const struct cpumetrics_opts *o, struct cpumetrics **out);
void cpumetrics_free(struct cpumetrics *m);

/* @count samples of the process with these labels (its full label set). */
void cpumetrics_add_process(struct cpumetrics *m, const struct pprof_label *labels, size_t nr,
			    uint64_t count, uint64_t now_ns);
/* @ns off CPU of the process with these labels, that left the CPU for @reason. */
void cpumetrics_add_offcpu(struct cpumetrics *m, const struct pprof_label *labels, size_t nr,
			   const char *reason, uint64_t ns, uint64_t now_ns);
bool cpumetrics_wants_stacks(const struct cpumetrics *m);
/* @count samples of a stack made of @nr symbolized parts (e.g. kernel then user frames). */
void cpumetrics_add_stack(struct cpumetrics *m, const struct sym_result *const *parts, size_t nr,
			  uint64_t count, uint64_t now_ns);

int cpumetrics_write(struct cpumetrics *m, struct strbuf *out);

#endif
