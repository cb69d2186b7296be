/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's counters and their Prometheus exposition. Every metric is
 * documented in README.md.
 *
 * Ownership (no counter is shared between threads): the drain thread counts
 * into its own struct agent_stats without a lock, and after each drain copies
 * it into the published one under the agent's lock (stats_publish); the HTTP
 * threads count profile requests (struct agent_req_stats) only in the
 * published struct, under that lock. /metrics copies the published struct
 * under the lock and writes the copy.
 */
#ifndef STACKD_AGENT_STATS_H
#define STACKD_AGENT_STATS_H

#include <stdint.h>

#include "common/strbuf.h"
#include "exporter/promtext.h"
#include "exporter/history.h"
#include "javaprocs.h"
#include "procmeta.h"
#include "proctable.h"
#include "pyprocs.h"
#include "stackcache.h"
#include "stackd.h"
#include "symbolize/symbolizer.h"
#include "symbolize/unwinder.h"
#include "unwtables.h"

/* Counted by the HTTP threads that serve profiles, in the published struct only. */
struct agent_req_stats {
	uint64_t profiles_started;
	uint64_t profiles_served;
	uint64_t profile_encode_ns_last;
};

struct agent_stats {
	uint64_t bpf[STACKD_CNT__MAX]; /* totals of the kernel-side counters */
	uint64_t drains;
	uint64_t swap_timeouts;
	uint64_t samples_drained;
	uint64_t records_drained;
	uint64_t stacks_not_found;
	uint64_t samples_unattributed;	 /* no process entry could be made (out of memory) */
	uint64_t samples_not_in_profile; /* a window could not take them (out of memory) */
	uint64_t events_new;
	uint64_t events_exit;
	uint64_t events_stale;	/* MAPS_STALE: a kernel walk met a pc outside the known mappings */
	uint64_t tables_healed; /* kernel mode: loads asked for by a bridge sample */
	struct agent_req_stats req; /* HTTP threads; stats_publish leaves it alone */
	struct symbolizer_stats sym;
	struct stackcache_stats stacks;
	struct unwinder_stats unw;
	struct unwtables_stats tables; /* kernel mode: the row pool and process entries */
	struct pyprocs_stats py;       /* CPython processes (--python.enabled) */
	struct javaprocs_stats java;   /* HotSpot JVMs (--java.enabled) */
	uint64_t py_codes;	       /* code object records received */
	uint64_t dwarf_samples;	       /* samples unwound from stack copies */
	uint64_t dwarf_ended_early;    /* ...whose unwind did not reach the outermost frame */
	uint64_t dwarf_dropped; /* ...not aggregated (more distinct stacks than the table holds) */
	uint64_t dwarf_bad_records;
	struct proctable_stats procs;
	struct procmeta_stats meta;
	struct history_stats hist;	/* read at scrape time */
	uint64_t history_freeze_failed; /* windows lost: freezing ran out of memory */
	uint64_t drain_stalled;		/* 0/1, read at scrape time */
	int64_t drain_last_unix_ns;	/* when the last drain completed, read at scrape time */
};

/* Static facts about this run, for gauges. */
struct agent_info {
	unsigned nr_cpus;
	unsigned frequency_hz;
	uint32_t stack_map_entries;
	uint32_t counts_map_entries;
	uint32_t overflow_map_entries;
	uint64_t symbol_cache_budget;
	uint64_t stack_cache_budget;
	uint64_t history_budget; /* 0: no history */
};

/*
 * Publish the drain thread's counters @drain into @pub, keeping @pub's request
 * counters. The caller holds the lock that guards @pub.
 */
void stats_publish(struct agent_stats *pub, const struct agent_stats *drain);

int stats_write_metrics(struct strbuf *out, const struct agent_stats *s,
			const struct agent_info *info, const struct prom_histogram *drain_hist);

#endif
