// SPDX-License-Identifier: Apache-2.0
#include "stats.h"

#include "version.h"

#include "common/safefile.h"

#define L(n, v)                                                                                    \
	{                                                                                          \
		.name = (n), .value = (v)                                                          \
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
	static const char *const stack_kinds[] = {"user", "kernel"};
	static const char *const drop_reasons[] = {"counts_map_full", "unattributed",
						   "profile_build_failed"};
	static const char *const snap_reasons[] = {"vanished", "error"};
	static const char *const evict_reasons[] = {"exited", "capacity"};
	static const char *const event_types[] = {"new_process", "exit"};
	static const char *const map_names[] = {"counts", "stacks", "overflow"};
	static const char *const unwind_paths[] = {"fp", "dwarf"};
	const char *sym_reasons[SYM_FAIL__MAX];
	const char *unwind_ends[UNWIND_END__MAX];
	struct prom_label build[3] = {
	    L("version", STACKD_VERSION),
	    L("commit", STACKD_GIT_COMMIT),
	    L("libbpf", STACKD_LIBBPF_VERSION),
	};
	uint64_t v[16];
	int err = 0;

	err = prom_family(sb, "stackd_build_info", "gauge",
			  "A metric with a constant '1' value labelled by version, commit and "
			  "libbpf version from which stackd was built.");
	err = err ?: prom_sample_u64(sb, "stackd_build_info", build, 3, 1);

	err = err
		  ?: prom_metric_u64(sb, "stackd_sampling_frequency_hertz", "gauge",
				     "Configured sampling frequency per CPU.", info->frequency_hz);
	err = err
		  ?: prom_metric_u64(sb, "stackd_sampled_cpus", "gauge",
				     "CPUs with an attached sampling event.", info->nr_cpus);
	v[0] = info->counts_map_entries;
	v[1] = info->stack_map_entries;
	v[2] = info->overflow_map_entries;
	err = err
		  ?: prom_metric_labelled_u64(
			 sb, "stackd_bpf_map_entries", "gauge",
			 "Capacity of each of the two double-buffered BPF map sets.", "map",
			 map_names, v, 3);

	err = err
		  ?: prom_metric_u64(sb, "stackd_bpf_samples_total", "counter",
				     "Perf samples the BPF program was invoked for, idle included.",
				     s->bpf[STACKD_CNT_SAMPLES]);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_samples_idle_total", "counter",
			 "Idle-task samples skipped in the kernel (--profiling.include-idle "
			 "is off).",
			 s->bpf[STACKD_CNT_IDLE]);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_bpf_samples_filtered_total", "counter",
			 "Samples of processes outside --profiling.pids/--profiling.cgroups, "
			 "dropped in the kernel before any stack walk.",
			 s->bpf[STACKD_CNT_FILTERED]);
	err = err
		  ?: prom_metric_u64(sb, "stackd_samples_recorded_total", "counter",
				     "Samples counted into a BPF counts map.",
				     s->bpf[STACKD_CNT_RECORDED]);
	err = err
		  ?: prom_metric_u64(sb, "stackd_samples_drained_total", "counter",
				     "Samples read from the BPF counts maps by the agent.",
				     s->samples_drained);
	v[0] = s->bpf[STACKD_CNT_COUNTS_FULL];
	v[1] = s->samples_unattributed;
	v[2] = s->samples_not_in_profile;
	err = err
		  ?: prom_metric_labelled_u64(sb, "stackd_samples_dropped_total", "counter",
					      "Samples lost, by reason.", "reason", drop_reasons, v,
					      3);
	v[0] = s->bpf[STACKD_CNT_USTACK_COLLISION];
	v[1] = s->bpf[STACKD_CNT_KSTACK_COLLISION];
	err = err
		  ?: prom_metric_labelled_u64(
			 sb, "stackd_stack_collisions_total", "counter",
			 "Stacks that collided in a stack-trace map (-EEXIST) and were "
			 "walked again into the overflow map.",
			 "stack", stack_kinds, v, 2);
	v[0] = s->bpf[STACKD_CNT_USTACK_LOST];
	v[1] = s->bpf[STACKD_CNT_KSTACK_LOST];
	err = err
		  ?: prom_metric_labelled_u64(
			 sb, "stackd_stacks_lost_total", "counter",
			 "Collided stacks the overflow map could not take either; the sample "
			 "is kept with a placeholder frame.",
			 "stack", stack_kinds, v, 2);
	v[0] = s->bpf[STACKD_CNT_USTACK_MISSING];
	v[1] = s->bpf[STACKD_CNT_KSTACK_MISSING];
	err = err
		  ?: prom_metric_labelled_u64(
			 sb, "stackd_stacks_unavailable_total", "counter",
			 "Samples whose stack could not be walked (other than collisions).",
			 "stack", stack_kinds, v, 2);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_stacks_not_found_total", "counter",
			 "Stack ids in a counts entry that were missing from the stack map.",
			 s->stacks_not_found);

	v[0] = s->events_new;
	v[1] = s->events_exit;
	err = err
		  ?: prom_metric_labelled_u64(sb, "stackd_process_events_total", "counter",
					      "Process notifications received from the BPF side.",
					      "type", event_types, v, 2);
	err = err
		  ?: prom_metric_u64(sb, "stackd_process_events_lost_total", "counter",
				     "Process notifications lost because the ring buffer was full.",
				     s->bpf[STACKD_CNT_EVENTS_LOST]);

	err = err
		  ?: prom_metric_u64(sb, "stackd_drains_total", "counter",
				     "Drains of the BPF maps.", s->drains);
	err =
	    err
		?: prom_metric_u64(sb, "stackd_drain_swap_timeouts_total", "counter",
				   "Drains that did not see every CPU leave the old map set within "
				   "50 ms.",
				   s->swap_timeouts);
	err = err
		  ?: prom_histogram_write(sb, "stackd_drain_duration_seconds",
					  "Time to drain, symbolize and aggregate one map set.",
					  drain_hist);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_drain_stalled", "gauge",
			 "1 while no drain completed for 3 drain intervals (at least 5 s): "
			 "/-/ready answers 503 then.",
			 s->drain_stalled);
	err = err
		  ?: prom_metric(sb, "stackd_drain_last_success_timestamp_seconds", "gauge",
				 "When the last drain completed (Unix time; 0: none yet).",
				 (double)s->drain_last_unix_ns / 1e9);

	err = err
		  ?: prom_metric_u64(sb, "stackd_processes_tracked", "gauge",
				     "Processes in the process table.", s->procs.tracked);
	err = err
		  ?: prom_metric_u64(sb, "stackd_process_maps_bytes", "gauge",
				     "Memory held by process maps snapshots.", s->procs.maps_bytes);
	err = err
		  ?: prom_metric_u64(sb, "stackd_process_snapshots_total", "counter",
				     "Snapshots of /proc/PID (comm, exe, maps) taken.",
				     s->procs.snapshots);
	v[0] = s->procs.snapshot_vanished;
	v[1] = s->procs.snapshot_errors;
	err = err
		  ?: prom_metric_labelled_u64(
			 sb, "stackd_process_snapshot_failures_total", "counter",
			 "Snapshots that failed: the process was gone (or its pid reused) "
			 "or /proc could not be read.",
			 "reason", snap_reasons, v, 2);
	v[0] = s->procs.evicted_exited;
	v[1] = s->procs.evicted_capacity;
	err = err
		  ?: prom_metric_labelled_u64(sb, "stackd_processes_evicted_total", "counter",
					      "Processes removed from the process table.", "reason",
					      evict_reasons, v, 2);

	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_process_maps_refused_total", "counter",
			 "Maps snapshots refused: over 1 MiB for one process or 64 MiB for all.",
			 s->procs.maps_refused);
	err = err
		  ?: prom_metric_u64(sb, "stackd_process_maps_refused_bytes_total", "counter",
				     "Bytes of the maps snapshots refused.",
				     s->procs.maps_refused_bytes);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_process_maps_budget_evictions_total", "counter",
			 "Least recently sampled processes evicted to bring maps snapshots "
			 "back under their budget.",
			 s->procs.evicted_maps_budget);
	err = err
		  ?: prom_metric_u64(sb, "stackd_symbolize_frames_total", "counter",
				     "Frames symbolized.", s->sym.frames_total);
	for (int i = 0; i < SYM_FAIL__MAX; i++) {
		sym_reasons[i] = sym_fail_reason_name((enum sym_fail_reason)i);
		v[i] = s->sym.failures[i];
	}
	err = err
		  ?: prom_metric_labelled_u64(sb, "stackd_symbolize_failures_total", "counter",
					      "Frames left unsymbolized, by reason.", "reason",
					      sym_reasons, v, SYM_FAIL__MAX);
	err = err
		  ?: prom_metric_u64(sb, "stackd_symbol_cache_bytes", "gauge",
				     "Memory held by cached symbol tables.", s->sym.cache_bytes);
	err = err
		  ?: prom_metric_u64(sb, "stackd_symbol_cache_budget_bytes", "gauge",
				     "Budget of the symbol cache (--symbolize.cache-size).",
				     info->symbol_cache_budget);
	err = err
		  ?: prom_metric_u64(sb, "stackd_symbol_cache_objects", "gauge",
				     "Object files in the symbol cache.", s->sym.cache_objects);
	err =
	    err
		?: prom_metric_u64(sb, "stackd_symbol_cache_fds", "gauge",
				   "Object files held open for DWARF not loaded yet (at most 256).",
				   s->sym.cache_fds);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_symbol_cache_fd_drops_total", "counter",
			 "Held files closed at the cap: their DWARF is unavailable until a "
			 "process mapping them is seen again.",
			 s->sym.cache_fd_drops);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_symbol_cache_alias_drops_total", "counter",
			 "File identities a cached object forgot at its cap of 64 (each costs that "
			 "file a re-parse).",
			 s->sym.cache_alias_drops);
	err = err
		  ?: prom_metric_u64(sb, "stackd_symbol_cache_hits_total", "counter",
				     "Symbol cache lookups that hit.", s->sym.cache_hits);
	err =
	    err
		?: prom_metric_u64(sb, "stackd_symbol_cache_misses_total", "counter",
				   "Symbol cache lookups that loaded a file.", s->sym.cache_misses);
	err = err
		  ?: prom_metric_u64(sb, "stackd_symbol_cache_evictions_total", "counter",
				     "Objects evicted from the symbol cache to stay within budget.",
				     s->sym.cache_evictions);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_symbolize_objects_too_big_total", "counter",
			 "Object parses stopped at the per-object budget "
			 "(--symbolize.max-object-size): their frames stay raw addresses.",
			 s->sym.objects_too_big);
	err = err
		  ?: prom_metric_u64(sb, "stackd_symbolize_too_big_refused_bytes_total", "counter",
				     "Bytes those parses asked for beyond the per-object budget.",
				     s->sym.too_big_bytes);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_perfmap_bytes", "gauge",
			 "Memory held by JIT perf maps (at most 32 MiB, 8 MiB per process).",
			 s->sym.perfmap_bytes);
	err = err
		  ?: prom_metric_u64(sb, "stackd_perfmap_truncated_total", "counter",
				     "Perf map reads stopped at their memory budget.",
				     s->sym.perfmap_truncated);
	err = err
		  ?: prom_metric_u64(sb, "stackd_perfmap_refused_bytes_total", "counter",
				     "Bytes of perf map files left unparsed at that budget.",
				     s->sym.perfmap_refused_bytes);

	err = err
		  ?: prom_metric_u64(sb, "stackd_stack_cache_bytes", "gauge",
				     "Memory held by symbolized stacks.", s->stacks.bytes);
	err = err
		  ?: prom_metric_u64(sb, "stackd_stack_cache_budget_bytes", "gauge",
				     "Budget of the stack cache (--symbolize.stack-cache-size).",
				     info->stack_cache_budget);
	err = err
		  ?: prom_metric_u64(sb, "stackd_stack_cache_entries", "gauge",
				     "Symbolized stacks cached.", s->stacks.entries);
	err = err
		  ?: prom_metric_u64(sb, "stackd_stack_cache_hits_total", "counter",
				     "Stacks served from the cache with no symbolization work.",
				     s->stacks.hits);
	err = err
		  ?: prom_metric_u64(sb, "stackd_stack_cache_misses_total", "counter",
				     "Stacks symbolized afresh.", s->stacks.misses);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_stack_cache_invalidated_total", "counter",
			 "Cached stacks dropped because the process exec'd or its maps changed, "
			 "or because they went through JIT code (kept for one drain only).",
			 s->stacks.invalidated);
	err = err
		  ?: prom_metric_u64(sb, "stackd_stack_cache_evictions_total", "counter",
				     "Stacks evicted from the cache to stay within budget.",
				     s->stacks.evictions);
	v[0] = s->bpf[STACKD_CNT_RECORDED];
	v[1] = s->dwarf_samples;
	err = err
		  ?: prom_metric_labelled_u64(
			 sb, "stackd_unwind_samples_total", "counter",
			 "Samples by how their user stack was walked: frame pointers in the "
			 "kernel, or DWARF CFI over a stack copy in user space.",
			 "path", unwind_paths, v, 2);
	v[0] = s->fp_ended_early;
	v[1] = s->dwarf_ended_early;
	err = err
		  ?: prom_metric_labelled_u64(
			 sb, "stackd_unwind_stacks_ended_early_total", "counter",
			 "Stacks that did not reach main, _start or a thread start: fp counts "
			 "the stacks --unwind.mode=auto checked, dwarf every unwound sample.",
			 "path", unwind_paths, v, 2);
	for (int i = 0; i < UNWIND_END__MAX; i++) {
		unwind_ends[i] = unwind_end_name((enum unwind_end)i);
		v[i] = s->unw.ends[i];
	}
	err = err
		  ?: prom_metric_labelled_u64(sb, "stackd_unwind_dwarf_ends_total", "counter",
					      "Why each DWARF unwind stopped.", "reason",
					      unwind_ends, v, UNWIND_END__MAX);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_unwind_ring_full_total", "counter",
			 "Stack copies that found the ring buffer full; those samples were "
			 "counted with frame pointers instead.",
			 s->bpf[STACKD_CNT_DWARF_RB_FULL]);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_unwind_samples_dropped_total", "counter",
			 "Unwound samples lost: more distinct stacks in one drain interval than "
			 "the aggregation table holds, or malformed records.",
			 s->dwarf_dropped + s->dwarf_bad_records);
	err = err
		  ?: prom_metric_u64(sb, "stackd_unwind_processes_switched_total", "counter",
				     "Processes --unwind.mode=auto switched to DWARF unwinding.",
				     s->procs_switched_dwarf);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_unwind_processes_refused_total", "counter",
			 "Processes auto mode could not switch because the kernel's table of "
			 "DWARF processes was full.",
			 s->dwarf_procs_full);
	err = err
		  ?: prom_metric_u64(
			 sb, "stackd_unwind_processes_released_total", "counter",
			 "Processes taken out of DWARF unwinding because the process table "
			 "evicted them while they ran (--process.max or the maps budget).",
			 s->dwarf_procs_released);
	err = err
		  ?: prom_metric_u64(sb, "stackd_unwind_cache_bytes", "gauge",
				     "Memory held by cached unwind tables.", s->unw.cache_bytes);
	err = err
		  ?: prom_metric_u64(sb, "stackd_unwind_cache_objects", "gauge",
				     "Objects with cached unwind tables.", s->unw.cache_objects);
	err = err
		  ?: prom_metric_u64(sb, "stackd_unwind_cache_hits_total", "counter",
				     "Unwind table lookups that hit the cache.", s->unw.cache_hits);
	err = err
		  ?: prom_metric_u64(sb, "stackd_unwind_cache_misses_total", "counter",
				     "Unwind table lookups that loaded an object.",
				     s->unw.cache_misses);
	err = err
		  ?: prom_metric_u64(sb, "stackd_unwind_cache_evictions_total", "counter",
				     "Objects evicted from the unwind cache to stay within budget.",
				     s->unw.cache_evictions);
	err = err
		  ?: prom_metric_u64(sb, "stackd_profiles_requested_total", "counter",
				     "Profile windows opened by /debug/pprof/profile requests.",
				     s->req.profiles_started);
	err = err
		  ?: prom_metric_u64(sb, "stackd_profiles_served_total", "counter",
				     "Profiles encoded and served.", s->req.profiles_served);
	err = err
		  ?: prom_metric(sb, "stackd_profile_encode_seconds", "gauge",
				 "Time from the close of the last served window to its encoded "
				 "pprof.",
				 (double)s->req.profile_encode_ns_last / 1e9);
	err = err
		  ?: prom_metric_u64(sb, "stackd_process_labels_bytes", "gauge",
				     "Memory held by the label sets of tracked processes.",
				     s->procs.labels_bytes);
	err = err
		  ?: prom_metric_u64(sb, "stackd_process_metadata_reads_total", "counter",
				     "Processes whose cgroup and command line were read.",
				     s->meta.reads);
	err = err
		  ?: prom_metric_u64(sb, "stackd_process_metadata_vanished_total", "counter",
				     "Processes gone before their metadata could be read in full.",
				     s->meta.vanished);
	err = err
		  ?: prom_metric_u64(sb, "stackd_container_name_lookups_total", "counter",
				     "Container runtime state files read to name a container.",
				     s->meta.name_lookups);
	err = err
		  ?: prom_metric_u64(sb, "stackd_container_name_cache_evictions_total", "counter",
				     "Container names evicted from their bounded cache.",
				     s->meta.name_cache_evictions);
	if (info->history_budget) {
		const char *const reasons[] = {"retention", "budget", "too_big", "out_of_memory",
					       "pinned_by_queries"};
		uint64_t ev[5] = {s->hist.evicted_retention, s->hist.evicted_budget,
				  s->hist.rejected_too_big, s->history_freeze_failed,
				  s->hist.rejected_pinned};

		err = err
			  ?: prom_metric_u64(sb, "stackd_history_windows", "gauge",
					     "Profile windows held in history.", s->hist.windows);
		err = err
			  ?: prom_metric_u64(sb, "stackd_history_bytes", "gauge",
					     "Memory held by the profile history (frozen windows).",
					     s->hist.bytes);
		err =
		    err
			?: prom_metric_u64(sb, "stackd_history_budget_bytes", "gauge",
					   "The history's hard byte budget (--history.max-bytes).",
					   info->history_budget);
		err =
		    err
			?: prom_metric_u64(sb, "stackd_history_samples", "gauge",
					   "Samples held in the profile history.", s->hist.samples);
		err = err
			  ?: prom_metric(sb, "stackd_history_oldest_timestamp_seconds", "gauge",
					 "Start of the oldest window held (Unix time; 0: none).",
					 (double)s->hist.oldest_ns / 1e9);
		err = err
			  ?: prom_metric_labelled_u64(
				 sb, "stackd_history_windows_evicted_total", "counter",
				 "Windows that left the history (or never entered it), by why.",
				 "reason", reasons, ev, 5);
		err =
		    err
			?: prom_metric_u64(sb, "stackd_history_samples_evicted_total", "counter",
					   "Samples in the windows that left the history (or never "
					   "entered it).",
					   s->hist.evicted_samples);
		err = err
			  ?: prom_metric_u64(sb, "stackd_history_queries_total", "counter",
					     "Queries answered from the history.", s->hist.queries);
	}

	{
		/* Process-wide atomics (common/safefile.c): any thread's refusals, snapshotted now.
		 */
		const char *why[SAFEFILE__NR];
		uint64_t nr[SAFEFILE__NR];

		safefile_refused(nr);
		for (int i = 0; i < SAFEFILE__NR; i++)
			why[i] = safefile_refusal_name((enum safefile_refusal)i);
		err = err
			  ?: prom_metric_labelled_u64(
				 sb, "stackd_files_refused_total", "counter",
				 "Files under a process's control refused at open or read "
				 "(debug links, mapped objects, perf maps, runtime state files), "
				 "by reason.",
				 "reason", why, nr, SAFEFILE__NR);
	}

	err = err ?: prom_write_process_metrics(sb);
	return err;
}
