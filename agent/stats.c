// SPDX-License-Identifier: Apache-2.0
/*
 * /metrics of the agent as a table: one row per family, in exposition order, and one loop that
 * writes them through promtext. A row reads its values from struct agent_stats by offset, or
 * through a getter when they come from struct agent_info or are computed; the families with
 * history only appear when history is on.
 */
#include "stats.h"

#include <stdbool.h>
#include <stddef.h>

#include "version.h"

#include "common/safefile.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The most samples one row writes (the reasons of the largest labelled family). */
#define METRIC_MAX_SAMPLES 16
_Static_assert(SYM_FAIL__MAX <= METRIC_MAX_SAMPLES, "sym failure reasons fit a row");
_Static_assert(UNWIND_END__MAX <= METRIC_MAX_SAMPLES, "unwind end reasons fit a row");
_Static_assert(SAFEFILE__NR <= METRIC_MAX_SAMPLES, "file refusal reasons fit a row");

/* Offset of a uint64_t counter in struct agent_stats; any other type is a compile error. */
#define S(field)                                                                                   \
	(offsetof(struct agent_stats, field) +                                                     \
	 0 * sizeof(char[__builtin_types_compatible_p(                                             \
			     __typeof__(((struct agent_stats *)0)->field), uint64_t)               \
			     ? 1                                                                   \
			     : -1]))
/* One label with a fixed set of values, one sample each. */
#define LABELS(name, arr) .label = (name), .values = (arr), .nr = ARRAY_SIZE(arr)

struct metric_src {
	const struct agent_stats *s;
	const struct agent_info *info;
	const struct prom_histogram *drain_hist;
};

enum metric_kind {
	METRIC_U64,	  /* integer samples */
	METRIC_SECONDS,	  /* one sample, ns written as seconds */
	METRIC_HISTOGRAM, /* the drain duration histogram */
};

struct metric_row {
	const char *name;
	const char *type;
	const char *help;
	enum metric_kind kind;
	const char *label;	   /* NULL: one sample without labels */
	const char *const *values; /* label values (NULL: get() names them) */
	size_t nr;		   /* samples with a label (get() may say otherwise) */
	size_t stat[8];		   /* without get(): offsets of the values in agent_stats */
	/* Values that are not plain agent_stats counters; returns how many it wrote. */
	size_t (*get)(const struct metric_src *m, uint64_t *v, const char **values);
	double (*seconds)(const struct agent_stats *s); /* METRIC_SECONDS */
	bool needs_history;				/* only with --history on */
};

static const char *const stack_kinds[] = {"user", "kernel"};
static const char *const drop_reasons[] = {"counts_map_full", "unattributed",
					   "profile_build_failed"};
static const char *const snap_reasons[] = {"vanished", "error"};
static const char *const evict_reasons[] = {"exited", "capacity"};
static const char *const event_types[] = {"new_process", "exit", "maps_stale"};
static const char *const map_names[] = {"counts", "stacks", "overflow"};
static const char *const unwind_paths[] = {"kernel", "dwarf", "fp"};
static const char *const walk_ends[] = {"complete", "no_table",	   "table_full", "read_fault",
					"depth",    "unsupported", "bad_frame"};
static const char *const walk_frame_kinds[] = {"table", "frame_pointer"};
static const char *const table_refusals[] = {"no_cfi", "unreadable", "no_room"};
static const char *const table_evictions[] = {"unreferenced", "referenced"};
static const char *const history_evict_reasons[] = {"retention", "budget", "too_big",
						    "out_of_memory", "pinned_by_queries"};
static const char *const history_partial_results[] = {"held", "rejected"};

static size_t get_frequency(const struct metric_src *m, uint64_t *v, const char **values)
{
	(void)values;
	v[0] = m->info->frequency_hz;
	return 1;
}

static size_t get_cpus(const struct metric_src *m, uint64_t *v, const char **values)
{
	(void)values;
	v[0] = m->info->nr_cpus;
	return 1;
}

static size_t get_map_entries(const struct metric_src *m, uint64_t *v, const char **values)
{
	(void)values;
	v[0] = m->info->counts_map_entries;
	v[1] = m->info->stack_map_entries;
	v[2] = m->info->overflow_map_entries;
	return 3;
}

static size_t get_symbol_cache_budget(const struct metric_src *m, uint64_t *v, const char **values)
{
	(void)values;
	v[0] = m->info->symbol_cache_budget;
	return 1;
}

static size_t get_stack_cache_budget(const struct metric_src *m, uint64_t *v, const char **values)
{
	(void)values;
	v[0] = m->info->stack_cache_budget;
	return 1;
}

static size_t get_history_budget(const struct metric_src *m, uint64_t *v, const char **values)
{
	(void)values;
	v[0] = m->info->history_budget;
	return 1;
}

static size_t get_sym_failures(const struct metric_src *m, uint64_t *v, const char **values)
{
	for (int i = 0; i < SYM_FAIL__MAX; i++) {
		values[i] = sym_fail_reason_name((enum sym_fail_reason)i);
		v[i] = m->s->sym.failures[i];
	}
	return SYM_FAIL__MAX;
}

static size_t get_unwind_ends(const struct metric_src *m, uint64_t *v, const char **values)
{
	for (int i = 0; i < UNWIND_END__MAX; i++) {
		values[i] = unwind_end_name((enum unwind_end)i);
		v[i] = m->s->unw.ends[i];
	}
	return UNWIND_END__MAX;
}

static size_t get_java_results(const struct metric_src *m, uint64_t *v, const char **values)
{
	for (int i = 0; i < JATTACH__NR; i++) {
		values[i] = jattach_status_str(i);
		v[i] = m->s->java.results[i];
	}
	return JATTACH__NR;
}

static size_t get_unwind_dropped(const struct metric_src *m, uint64_t *v, const char **values)
{
	(void)values;
	v[0] = m->s->dwarf_dropped + m->s->dwarf_bad_records;
	return 1;
}

/* Walks in the kernel, by how they ended (STACKD_CNT_WALK_COMPLETE.._BAD, in order). */
static uint64_t walks(const struct agent_stats *s)
{
	uint64_t n = 0;

	for (int i = STACKD_CNT_WALK_COMPLETE; i <= STACKD_CNT_WALK_BAD; i++)
		n += s->bpf[i];
	return n;
}

/*
 * Recorded samples are kernel walks plus frame-pointer stacks (fp mode,
 * kernel threads, copies that found the ring full); copies are not recorded.
 * Per-CPU counters are summed one by one: never below zero.
 */
static size_t get_unwind_paths(const struct metric_src *m, uint64_t *v, const char **values)
{
	uint64_t w = walks(m->s), rec = m->s->bpf[STACKD_CNT_RECORDED];

	(void)values;
	v[0] = w;
	v[1] = m->s->dwarf_samples;
	v[2] = rec > w ? rec - w : 0;
	return 3;
}

static size_t get_walk_frames(const struct metric_src *m, uint64_t *v, const char **values)
{
	uint64_t all = m->s->bpf[STACKD_CNT_WALK_FRAMES], fp = m->s->bpf[STACKD_CNT_WALK_FP_FRAMES];

	(void)values;
	v[0] = all > fp ? all - fp : 0;
	v[1] = fp;
	return 2;
}

static size_t get_table_bytes(const struct metric_src *m, uint64_t *v, const char **values)
{
	(void)values;
	v[0] = m->s->tables.rows_used * sizeof(struct cfitab_row);
	return 1;
}

static size_t get_table_budget(const struct metric_src *m, uint64_t *v, const char **values)
{
	(void)values;
	v[0] = m->s->tables.pool_rows * sizeof(struct cfitab_row);
	return 1;
}

static size_t get_table_evictions(const struct metric_src *m, uint64_t *v, const char **values)
{
	uint64_t all = m->s->tables.evictions, named = m->s->tables.evictions_referenced;

	(void)values;
	v[0] = all > named ? all - named : 0;
	v[1] = named;
	return 2;
}

static double table_load_seconds(const struct agent_stats *s)
{
	return (double)s->tables.load_ns / 1e9;
}

/* Process-wide atomics (common/safefile.c): any thread's refusals, snapshotted now. */
static size_t get_files_refused(const struct metric_src *m, uint64_t *v, const char **values)
{
	(void)m;
	safefile_refused(v);
	for (int i = 0; i < SAFEFILE__NR; i++)
		values[i] = safefile_refusal_name((enum safefile_refusal)i);
	return SAFEFILE__NR;
}

static double offcpu_short_seconds(const struct agent_stats *s)
{
	return (double)s->bpf[STACKD_CNT_OFFCPU_SHORT_NS] / 1e9;
}

static double drain_last_seconds(const struct agent_stats *s)
{
	return (double)s->drain_last_unix_ns / 1e9;
}

static double encode_seconds(const struct agent_stats *s)
{
	return (double)s->req.profile_encode_ns_last / 1e9;
}

static double history_oldest_seconds(const struct agent_stats *s)
{
	return (double)s->hist.oldest_ns / 1e9;
}

/* In exposition order; stackd_build_info comes first and process_* last (see below). */
static const struct metric_row metric_rows[] = {
    {"stackd_sampling_frequency_hertz", "gauge", "Configured sampling frequency per CPU.",
     .get = get_frequency},
    {"stackd_sampled_cpus", "gauge", "CPUs with an attached sampling event.", .get = get_cpus},
    {"stackd_bpf_map_entries", "gauge", "Capacity of each of the two double-buffered BPF map sets.",
     LABELS("map", map_names), .get = get_map_entries},
    {"stackd_bpf_samples_total", "counter",
     "Perf samples the BPF program was invoked for, idle included.",
     .stat = {S(bpf[STACKD_CNT_SAMPLES])}},
    {"stackd_samples_idle_total", "counter",
     "Idle-task samples skipped in the kernel (--profiling.include-idle "
     "is off).",
     .stat = {S(bpf[STACKD_CNT_IDLE])}},
    {"stackd_bpf_samples_filtered_total", "counter",
     "Samples of processes outside --profiling.pids/--profiling.cgroups, "
     "dropped in the kernel before any stack walk.",
     .stat = {S(bpf[STACKD_CNT_FILTERED])}},
    {"stackd_samples_recorded_total", "counter", "Samples counted into a BPF counts map.",
     .stat = {S(bpf[STACKD_CNT_RECORDED])}},
    {"stackd_samples_drained_total", "counter",
     "Samples read from the BPF counts maps by the agent.", .stat = {S(samples_drained)}},
    {"stackd_samples_dropped_total", "counter", "Samples lost, by reason.",
     LABELS("reason", drop_reasons),
     .stat = {S(bpf[STACKD_CNT_COUNTS_FULL]), S(samples_unattributed), S(samples_not_in_profile)}},
    {"stackd_stack_collisions_total", "counter",
     "Stacks that collided in a stack-trace map (-EEXIST) and were "
     "walked again into the overflow map.",
     LABELS("stack", stack_kinds),
     .stat = {S(bpf[STACKD_CNT_USTACK_COLLISION]), S(bpf[STACKD_CNT_KSTACK_COLLISION])}},
    {"stackd_stacks_lost_total", "counter",
     "Collided stacks the overflow map could not take either; the sample "
     "is kept with a placeholder frame.",
     LABELS("stack", stack_kinds),
     .stat = {S(bpf[STACKD_CNT_USTACK_LOST]), S(bpf[STACKD_CNT_KSTACK_LOST])}},
    {"stackd_stacks_unavailable_total", "counter",
     "Samples whose stack could not be walked (other than collisions).",
     LABELS("stack", stack_kinds),
     .stat = {S(bpf[STACKD_CNT_USTACK_MISSING]), S(bpf[STACKD_CNT_KSTACK_MISSING])}},
    {"stackd_stacks_not_found_total", "counter",
     "Stack ids in a counts entry that were missing from the stack map.",
     .stat = {S(stacks_not_found)}},
    {"stackd_process_events_total", "counter", "Process notifications received from the BPF side.",
     LABELS("type", event_types), .stat = {S(events_new), S(events_exit), S(events_stale)}},
    {"stackd_process_events_lost_total", "counter",
     "Process notifications lost because the ring buffer was full.",
     .stat = {S(bpf[STACKD_CNT_EVENTS_LOST])}},
    {"stackd_drains_total", "counter", "Drains of the BPF maps.", .stat = {S(drains)}},
    {"stackd_drain_swap_timeouts_total", "counter",
     "Drains that did not see every CPU leave the old map set within "
     "50 ms.",
     .stat = {S(swap_timeouts)}},
    {"stackd_drain_duration_seconds", "histogram",
     "Time to drain, symbolize and aggregate one map set.", .kind = METRIC_HISTOGRAM},
    {"stackd_drain_stalled", "gauge",
     "1 while no drain completed for 3 drain intervals (at least 5 s): "
     "/-/ready answers 503 then.",
     .stat = {S(drain_stalled)}},
    {"stackd_drain_last_success_timestamp_seconds", "gauge",
     "When the last drain completed (Unix time; 0: none yet).", .kind = METRIC_SECONDS,
     .seconds = drain_last_seconds},
    {"stackd_processes_tracked", "gauge", "Processes in the process table.",
     .stat = {S(procs.tracked)}},
    {"stackd_process_maps_bytes", "gauge", "Memory held by process maps snapshots.",
     .stat = {S(procs.maps_bytes)}},
    {"stackd_process_snapshots_total", "counter", "Snapshots of /proc/PID (comm, exe, maps) taken.",
     .stat = {S(procs.snapshots)}},
    {"stackd_process_snapshot_failures_total", "counter",
     "Snapshots that failed: the process was gone (or its pid reused) "
     "or /proc could not be read.",
     LABELS("reason", snap_reasons),
     .stat = {S(procs.snapshot_vanished), S(procs.snapshot_errors)}},
    {"stackd_process_maps_from_template_total", "counter",
     "Processes gone before their maps were read that were given their binary's mappings "
     "from another process of the same binary (their own code named, their libraries not).",
     .stat = {S(procs.maps_from_template)}},
    {"stackd_processes_evicted_total", "counter", "Processes removed from the process table.",
     LABELS("reason", evict_reasons), .stat = {S(procs.evicted_exited), S(procs.evicted_capacity)}},
    {"stackd_process_maps_refused_total", "counter",
     "Maps snapshots refused: over 1 MiB for one process or 64 MiB for all.",
     .stat = {S(procs.maps_refused)}},
    {"stackd_process_maps_refused_bytes_total", "counter", "Bytes of the maps snapshots refused.",
     .stat = {S(procs.maps_refused_bytes)}},
    {"stackd_process_maps_budget_evictions_total", "counter",
     "Least recently sampled processes evicted to bring maps snapshots "
     "back under their budget.",
     .stat = {S(procs.evicted_maps_budget)}},
    {"stackd_symbolize_frames_total", "counter", "Frames symbolized.",
     .stat = {S(sym.frames_total)}},
    {"stackd_symbolize_failures_total", "counter", "Frames left unsymbolized, by reason.",
     .label = "reason", .get = get_sym_failures},
    {"stackd_symbol_cache_bytes", "gauge", "Memory held by cached symbol tables.",
     .stat = {S(sym.cache_bytes)}},
    {"stackd_symbol_cache_budget_bytes", "gauge",
     "Budget of the symbol cache (--symbolize.cache-size).", .get = get_symbol_cache_budget},
    {"stackd_symbol_cache_objects", "gauge", "Object files in the symbol cache.",
     .stat = {S(sym.cache_objects)}},
    {"stackd_symbol_cache_fds", "gauge",
     "Object files held open for DWARF not loaded yet (at most 256).", .stat = {S(sym.cache_fds)}},
    {"stackd_symbol_cache_fd_drops_total", "counter",
     "Held files closed at the cap: their DWARF is unavailable until a "
     "process mapping them is seen again.",
     .stat = {S(sym.cache_fd_drops)}},
    {"stackd_symbol_cache_alias_drops_total", "counter",
     "File identities a cached object forgot at its cap of 64 (each costs that "
     "file a re-parse).",
     .stat = {S(sym.cache_alias_drops)}},
    {"stackd_symbol_cache_hits_total", "counter", "Symbol cache lookups that hit.",
     .stat = {S(sym.cache_hits)}},
    {"stackd_symbol_cache_misses_total", "counter", "Symbol cache lookups that loaded a file.",
     .stat = {S(sym.cache_misses)}},
    {"stackd_symbol_cache_evictions_total", "counter",
     "Objects evicted from the symbol cache to stay within budget.",
     .stat = {S(sym.cache_evictions)}},
    {"stackd_symbolize_objects_too_big_total", "counter",
     "Object parses stopped at the per-object budget "
     "(--symbolize.max-object-size): their frames stay raw addresses.",
     .stat = {S(sym.objects_too_big)}},
    {"stackd_symbolize_too_big_refused_bytes_total", "counter",
     "Bytes those parses asked for beyond the per-object budget.", .stat = {S(sym.too_big_bytes)}},
    {"stackd_perfmap_bytes", "gauge",
     "Memory held by JIT perf maps (at most 32 MiB, 8 MiB per process).",
     .stat = {S(sym.perfmap_bytes)}},
    {"stackd_perfmap_truncated_total", "counter", "Perf map reads stopped at their memory budget.",
     .stat = {S(sym.perfmap_truncated)}},
    {"stackd_perfmap_refused_bytes_total", "counter",
     "Bytes of perf map files left unparsed at that budget.",
     .stat = {S(sym.perfmap_refused_bytes)}},
    {"stackd_stack_cache_bytes", "gauge", "Memory held by symbolized stacks.",
     .stat = {S(stacks.bytes)}},
    {"stackd_stack_cache_budget_bytes", "gauge",
     "Budget of the stack cache (--symbolize.stack-cache-size).", .get = get_stack_cache_budget},
    {"stackd_stack_cache_entries", "gauge", "Symbolized stacks cached.",
     .stat = {S(stacks.entries)}},
    {"stackd_stack_cache_hits_total", "counter",
     "Stacks served from the cache with no symbolization work.", .stat = {S(stacks.hits)}},
    {"stackd_stack_cache_misses_total", "counter", "Stacks symbolized afresh.",
     .stat = {S(stacks.misses)}},
    {"stackd_stack_cache_invalidated_total", "counter",
     "Cached stacks dropped because the process exec'd or its maps changed, "
     "or because they went through JIT code (kept for one drain only).",
     .stat = {S(stacks.invalidated)}},
    {"stackd_stack_cache_evictions_total", "counter",
     "Stacks evicted from the cache to stay within budget.", .stat = {S(stacks.evictions)}},
    {"stackd_unwind_samples_total", "counter",
     "Samples by how their user stack was walked: in the kernel with unwind tables (kernel), "
     "from a stack copy with DWARF CFI in user space (dwarf: dwarf mode, or the bridge before a "
     "process's tables are loaded), or by frame pointers in the kernel (fp: fp mode, kernel "
     "threads, copies that found the ring buffer full).",
     LABELS("path", unwind_paths), .get = get_unwind_paths},
    {"stackd_unwind_walks_total", "counter",
     "Stack walks in the kernel with unwind tables, by how they ended.", LABELS("end", walk_ends),
     .stat = {S(bpf[STACKD_CNT_WALK_COMPLETE]), S(bpf[STACKD_CNT_WALK_NO_TABLE]),
	      S(bpf[STACKD_CNT_WALK_TABLE_FULL]), S(bpf[STACKD_CNT_WALK_READ_FAULT]),
	      S(bpf[STACKD_CNT_WALK_DEPTH]), S(bpf[STACKD_CNT_WALK_UNSUP]),
	      S(bpf[STACKD_CNT_WALK_BAD])}},
    {"stackd_unwind_walk_frames_total", "counter",
     "Frames walked in the kernel: with a table row, or by the frame-pointer fallback.",
     LABELS("how", walk_frame_kinds), .get = get_walk_frames},
    {"stackd_unwind_bridge_samples_total", "counter",
     "Samples of processes whose tables were not loaded yet, sent as stack copies to user space "
     "(the bridge).",
     .stat = {S(bpf[STACKD_CNT_WALK_NO_PROC])}},
    {"stackd_unwind_stale_bridged_total", "counter",
     "Samples whose in-kernel walk met code outside the process's known mappings (a library "
     "mapped after the snapshot), sent to the bridge instead, where the maps are read again "
     "(at most 64 per write of the process's tables).",
     .stat = {S(bpf[STACKD_CNT_WALK_STALE_BRIDGED])}},
    {"stackd_unwind_maps_stale_total", "counter",
     "Walks that met a pc outside every mapping of their process's entry (rate-limited "
     "notifications: the agent re-reads the maps).",
     .stat = {S(bpf[STACKD_CNT_MAPS_STALE])}},
    {"stackd_unwind_table_bytes", "gauge", "Unwind table rows held in the kernel row pool.",
     .get = get_table_bytes},
    {"stackd_unwind_table_budget_bytes", "gauge",
     "Size of the kernel row pool (--unwind.table-budget).", .get = get_table_budget},
    {"stackd_unwind_table_objects", "gauge", "Objects with their table in the row pool.",
     .stat = {S(tables.objects)}},
    {"stackd_unwind_table_cached_objects", "gauge",
     "Of those, objects no process maps any more (kept until their space is needed).",
     .stat = {S(tables.objects_unreferenced)}},
    {"stackd_unwind_table_evictions_total", "counter",
     "Tables evicted from the row pool for another, least recently used first: referenced ones "
     "left their processes' mappings to frame pointers.",
     LABELS("object", table_evictions), .get = get_table_evictions},
    {"stackd_unwind_tables_refused_total", "counter",
     "Executable mappings left without a table, by reason (walked by frame pointer).",
     LABELS("reason", table_refusals),
     .stat = {S(tables.refused[UNWTABLES_REFUSED_NO_CFI]),
	      S(tables.refused[UNWTABLES_REFUSED_UNREADABLE]),
	      S(tables.refused[UNWTABLES_REFUSED_NO_ROOM])}},
    {"stackd_unwind_process_entries", "gauge", "Processes with an entry in the kernel.",
     .stat = {S(tables.procs)}},
    {"stackd_unwind_process_entries_refused_total", "counter",
     "Process entries the kernel map had no room for (those processes stay on the bridge).",
     .stat = {S(tables.procs_refused)}},
    {"stackd_unwind_mappings_truncated_total", "counter",
     "Executable mappings left out of a process entry beyond its 256 (anonymous ones first).",
     .stat = {S(tables.mappings_truncated)}},
    {"stackd_unwind_table_loads_total", "counter",
     "Process entries built (new process, exec, changed maps).", .stat = {S(tables.loads)}},
    {"stackd_unwind_table_reloads_total", "counter",
     "Of those, loads asked for by bridge samples of a live process with no entry (evicted from "
     "the process table while alive and sampled again, or refused by a full map; retried after "
     "1 s, doubling to 64 s).",
     .stat = {S(tables_healed)}},
    {"stackd_unwind_table_retries_total", "counter",
     "Loads of processes some of whose mappings had no room in the row pool, retried once room "
     "may have come (1 s doubling to 64 s; evicting only tables no process maps).",
     .stat = {S(tables.retries)}},
    {"stackd_unwind_table_retries_healed_total", "counter",
     "Of those, retries after which every mapping of the process had its table.",
     .stat = {S(tables.healed)}},
    {"stackd_unwind_table_load_seconds_total", "counter", "Time spent building them.",
     .kind = METRIC_SECONDS, .seconds = table_load_seconds},
    {"stackd_unwind_table_errors_total", "counter",
     "Failed writes of rows or entries to the kernel maps.", .stat = {S(tables.errors)}},
    {"stackd_unwind_stacks_ended_early_total", "counter",
     "Stacks unwound in user space (DWARF mode, or the bridge before a new process's "
     "tables are loaded) that did not reach an outermost frame.",
     .stat = {S(dwarf_ended_early)}},
    {"stackd_unwind_dwarf_ends_total", "counter", "Why each DWARF unwind stopped.",
     .label = "reason", .get = get_unwind_ends},
    {"stackd_offcpu_periods_total", "counter",
     "Periods sampled threads spent off CPU that were recorded with their stacks "
     "(--offcpu.enabled).",
     .stat = {S(bpf[STACKD_CNT_OFFCPU_RECORDED])}},
    {"stackd_offcpu_short_periods_total", "counter",
     "Periods off CPU shorter than --offcpu.min-duration: counted here, not in profiles.",
     .stat = {S(bpf[STACKD_CNT_OFFCPU_SHORT])}},
    {"stackd_offcpu_short_seconds_total", "counter", "Their time.", .kind = METRIC_SECONDS,
     .seconds = offcpu_short_seconds},
    {"stackd_offcpu_unsampled_total", "counter",
     "Switch-outs left unwalked by sampling beyond --offcpu.max-walks per CPU and second "
     "(the walked ones weigh for them).",
     .stat = {S(bpf[STACKD_CNT_OFFCPU_UNSAMPLED])}},
    {"stackd_offcpu_user_walks_total", "counter",
     "User stacks taken for off-CPU periods: at the switch-out (preempted, page faults), or "
     "for a period in a system call of at least --offcpu.min-duration at the call's exit.",
     .stat = {S(bpf[STACKD_CNT_OFFCPU_USER_WALKS])}},
    {"stackd_offcpu_deferred_walks_total", "counter",
     "Recorded periods off CPU inside a system call, whose user stack was walked on the "
     "way back (at the call's exit) rather than at every switch-out.",
     .stat = {S(bpf[STACKD_CNT_OFFCPU_DEFERRED])}},
    {"stackd_offcpu_user_stack_lost_total", "counter",
     "Of those, periods recorded without a user stack: the thread's user registers had "
     "changed before its stack could be walked.",
     .stat = {S(bpf[STACKD_CNT_OFFCPU_MOVED])}},
    {"stackd_offcpu_dropped_total", "counter",
     "Periods off CPU lost: the off-CPU map had no room until the next drain.",
     .stat = {S(bpf[STACKD_CNT_OFFCPU_FULL])}},
    {"stackd_python_walks_total", "counter",
     "In-kernel walks of a CPython process's thread that found its Python thread state "
     "(--python.enabled).",
     .stat = {S(bpf[STACKD_CNT_PY_WALKS])}},
    {"stackd_python_walks_no_thread_state_total", "counter",
     "Walks of a CPython process's thread without a (readable) Python thread state: its "
     "stack keeps the interpreter's native frames.",
     .stat = {S(bpf[STACKD_CNT_PY_NO_TSTATE])}},
    {"stackd_python_frames_total", "counter", "Python frames recorded by the in-kernel walk.",
     .stat = {S(bpf[STACKD_CNT_PY_FRAMES])}},
    {"stackd_python_code_records_total", "counter",
     "Code object records (names, file, line table) the walk sent to the agent.",
     .stat = {S(bpf[STACKD_CNT_PY_CODES_SENT])}},
    {"stackd_python_code_records_lost_total", "counter",
     "Code object records the ring buffer had no room for (sent again at a later sample).",
     .stat = {S(bpf[STACKD_CNT_PY_CODES_LOST])}},
    {"stackd_python_code_objects_bad_total", "counter",
     "Python frames naming memory that is no code object of the process's runtime.",
     .stat = {S(bpf[STACKD_CNT_PY_CODES_BAD])}},
    {"stackd_python_frames_unknown_total", "counter",
     "Python frames named \"" PY_UNKNOWN_FRAME "\": no record of their code object had come.",
     .stat = {S(sym.py_unknown)}},
    {"stackd_python_code_objects", "gauge", "Code object records held for naming frames.",
     .stat = {S(sym.py_codes)}},
    {"stackd_python_code_bytes", "gauge", "Their memory.", .stat = {S(sym.py_code_bytes)}},
    {"stackd_python_code_objects_evicted_total", "counter",
     "Code object records dropped for their budget (least recently used first).",
     .stat = {S(sym.py_codes_evicted)}},
    {"stackd_python_processes_total", "counter",
     "CPython processes whose Python frames the walk names (entries installed).",
     .stat = {S(py.procs)}},
    {"stackd_python_unsupported_total", "counter",
     "CPython runtimes found in a version without a structure layout (not named).",
     .stat = {S(py.unsupported)}},
    {"stackd_java_processes_total", "counter",
     "HotSpot JVMs seen (processes mapping libjvm.so; --java.enabled).", .stat = {S(java.jvms)}},
    {"stackd_java_untracked_total", "counter",
     "JVMs beyond the 256 tracked at once: never asked for their perf map.",
     .stat = {S(java.untracked)}},
    {"stackd_java_attach_requests_total", "counter",
     "Requests for a JVM's perf map (jcmd Compiler.perfmap) sent to the attach helper.",
     .stat = {S(java.requests)}},
    {"stackd_java_attach_results_total", "counter",
     "The helper's answers, by outcome (ok, gone, not_jvm, no_socket, refused, timeout, "
     "jvm_error, error).",
     .label = "result", .get = get_java_results},
    {"stackd_java_attach_lost_total", "counter",
     "Requests the helper never answered (it died or was stopped).", .stat = {S(java.lost)}},
    {"stackd_java_attach_helper_errors_total", "counter",
     "Requests the helper could not take (it is gone).", .stat = {S(java.helper_errors)}},
    {"stackd_java_given_up_total", "counter",
     "JVMs no longer asked after failures (2 in a row; 3 without a SIGQUIT handler).",
     .stat = {S(java.given_up)}},
    {"stackd_java_libjvm_probes_total", "counter",
     "libjvm.so files probed for HotSpot's vmStructs description.", .stat = {S(java.probes)}},
    {"stackd_java_libjvm_no_vmstructs_total", "counter",
     "Of those, files without it: their JVMs' JIT frames end the walk.",
     .stat = {S(java.no_vmstructs)}},
    {"stackd_java_code_heap_layouts_total", "counter",
     "JVMs whose code heaps the in-kernel walk steps through (entries installed).",
     .stat = {S(java.layouts)}},
    {"stackd_java_code_heap_layout_errors_total", "counter",
     "JVMs whose code-heap layout could not be read or installed.",
     .stat = {S(java.layout_errors)}},
    {"stackd_java_jit_frames_total", "counter",
     "JIT-compiled frames the in-kernel walk stepped by their code blob's frame size.",
     .stat = {S(bpf[STACKD_CNT_HS_FRAMES])}},
    {"stackd_java_jit_fp_frames_total", "counter",
     "Frames in a JVM's code heaps stepped by rbp (the interpreter, call stubs).",
     .stat = {S(bpf[STACKD_CNT_HS_FP_FRAMES])}},
    {"stackd_java_jit_no_blob_total", "counter",
     "Walks that met a pc in a code heap no code blob holds (they end there).",
     .stat = {S(bpf[STACKD_CNT_HS_NO_BLOB])}},
    {"stackd_unwind_ring_full_total", "counter",
     "Stack copies that found the ring buffer full; those samples were "
     "counted with frame pointers instead.",
     .stat = {S(bpf[STACKD_CNT_DWARF_RB_FULL])}},
    {"stackd_unwind_samples_dropped_total", "counter",
     "Unwound samples lost: more distinct stacks in one drain interval than "
     "the aggregation table holds, or malformed records.",
     .get = get_unwind_dropped},
    {"stackd_unwind_cache_bytes", "gauge", "Memory held by cached unwind tables.",
     .stat = {S(unw.cache_bytes)}},
    {"stackd_unwind_cache_objects", "gauge", "Objects with cached unwind tables.",
     .stat = {S(unw.cache_objects)}},
    {"stackd_unwind_cache_hits_total", "counter", "Unwind table lookups that hit the cache.",
     .stat = {S(unw.cache_hits)}},
    {"stackd_unwind_cache_misses_total", "counter", "Unwind table lookups that loaded an object.",
     .stat = {S(unw.cache_misses)}},
    {"stackd_unwind_cache_evictions_total", "counter",
     "Objects evicted from the unwind cache to stay within budget.",
     .stat = {S(unw.cache_evictions)}},
    {"stackd_unwind_cache_build_id_conflicts_total", "counter",
     "Objects whose build id matched a cached object's but whose unwind tables did not: cached "
     "apart, never shared.",
     .stat = {S(unw.cache_id_conflicts)}},
    {"stackd_profiles_requested_total", "counter",
     "Profile windows opened by /debug/pprof/profile requests.", .stat = {S(req.profiles_started)}},
    {"stackd_profiles_served_total", "counter", "Profiles encoded and served.",
     .stat = {S(req.profiles_served)}},
    {"stackd_profile_encode_seconds", "gauge",
     "Time from the close of the last served window to its encoded "
     "pprof.",
     .kind = METRIC_SECONDS, .seconds = encode_seconds},
    {"stackd_process_labels_bytes", "gauge", "Memory held by the label sets of tracked processes.",
     .stat = {S(procs.labels_bytes)}},
    {"stackd_process_metadata_reads_total", "counter",
     "Processes whose cgroup and command line were read.", .stat = {S(meta.reads)}},
    {"stackd_process_metadata_vanished_total", "counter",
     "Processes gone before their metadata could be read in full.", .stat = {S(meta.vanished)}},
    {"stackd_container_name_lookups_total", "counter",
     "Container runtime state files read to name a container.", .stat = {S(meta.name_lookups)}},
    {"stackd_container_name_cache_evictions_total", "counter",
     "Container names evicted from their bounded cache.", .stat = {S(meta.name_cache_evictions)}},
    {"stackd_history_windows", "gauge", "Profile windows held in history.",
     .stat = {S(hist.windows)}, .needs_history = true},
    {"stackd_history_bytes", "gauge", "Memory held by the profile history (frozen windows).",
     .stat = {S(hist.bytes)}, .needs_history = true},
    {"stackd_history_budget_bytes", "gauge",
     "The history's hard byte budget (--history.max-bytes).", .get = get_history_budget,
     .needs_history = true},
    {"stackd_history_samples", "gauge", "Samples held in the profile history.",
     .stat = {S(hist.samples)}, .needs_history = true},
    {"stackd_history_oldest_timestamp_seconds", "gauge",
     "Start of the oldest window held (Unix time; 0: none).", .kind = METRIC_SECONDS,
     .seconds = history_oldest_seconds, .needs_history = true},
    {"stackd_history_windows_evicted_total", "counter",
     "Windows that left the history (or never entered it), by why.",
     LABELS("reason", history_evict_reasons),
     .stat = {S(hist.evicted_retention), S(hist.evicted_budget), S(hist.rejected_too_big),
	      S(history_freeze_failed), S(hist.rejected_pinned)},
     .needs_history = true},
    {"stackd_history_samples_evicted_total", "counter",
     "Samples in the windows that left the history (or never "
     "entered it).",
     .stat = {S(hist.evicted_samples)}, .needs_history = true},
    {"stackd_history_queries_total", "counter", "Queries answered from the history.",
     .stat = {S(hist.queries)}, .needs_history = true},
    {"stackd_history_partials_total", "counter",
     "Snapshots of the window being filled put in the history for queries, or not.",
     LABELS("result", history_partial_results),
     .stat = {S(hist.partials), S(hist.partials_rejected)}, .needs_history = true},
    {"stackd_files_refused_total", "counter",
     "Files under a process's control refused at open or read "
     "(debug links, mapped objects, perf maps, runtime state files), "
     "by reason.",
     .label = "reason", .get = get_files_refused},
};

static int write_row(struct strbuf *sb, const struct metric_row *r, const struct metric_src *m)
{
	const char *names[METRIC_MAX_SAMPLES];
	uint64_t v[METRIC_MAX_SAMPLES];
	const char *const *values = r->values;
	size_t nr = r->label ? r->nr : 1;

	if (r->needs_history && !m->info->history_budget)
		return 0;
	switch (r->kind) {
	case METRIC_HISTOGRAM:
		return prom_histogram_write(sb, r->name, r->help, m->drain_hist);
	case METRIC_SECONDS:
		return prom_metric(sb, r->name, r->type, r->help, r->seconds(m->s));
	case METRIC_U64:
		break;
	}
	if (r->get) {
		nr = r->get(m, v, names);
		if (!values)
			values = names;
	} else {
		for (size_t i = 0; i < nr; i++)
			v[i] = *(const uint64_t *)((const char *)m->s + r->stat[i]);
	}
	if (!r->label)
		return prom_metric_u64(sb, r->name, r->type, r->help, v[0]);
	return prom_metric_labelled_u64(sb, r->name, r->type, r->help, r->label, values, v, nr);
}

void stats_publish(struct agent_stats *pub, const struct agent_stats *drain)
{
	struct agent_req_stats req = pub->req;

	*pub = *drain;
	pub->req = req;
}

int stats_write_metrics(struct strbuf *sb, const struct agent_stats *s,
			const struct agent_info *info, const struct prom_histogram *drain_hist)
{
	const struct prom_label build[] = {
	    {.name = "version", .value = STACKD_VERSION},
	    {.name = "commit", .value = STACKD_GIT_COMMIT},
	    {.name = "libbpf", .value = STACKD_LIBBPF_VERSION},
	};
	const struct metric_src m = {.s = s, .info = info, .drain_hist = drain_hist};
	int err;

	err = prom_family(sb, "stackd_build_info", "gauge",
			  "A metric with a constant '1' value labelled by version, commit and "
			  "libbpf version from which stackd was built.");
	err = err ?: prom_sample_u64(sb, "stackd_build_info", build, ARRAY_SIZE(build), 1);
	for (size_t i = 0; i < ARRAY_SIZE(metric_rows) && !err; i++)
		err = write_row(sb, &metric_rows[i], &m);
	return err ?: prom_write_process_metrics(sb);
}
