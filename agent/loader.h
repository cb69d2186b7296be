/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BPF side as the agent sees it, and the one way stackd loads its programs
 * (the agent and `stackd --check` alike): loader_open sizes the maps and sets the
 * programs' configuration, loader_load has the kernel verify and load them,
 * loader_attach attaches the sampling program to a cpu-clock perf event on every
 * online CPU and the exec/exit tracepoints and opens the ring buffers; then the
 * drain thread flips and drains the double-buffered map sets. Owned by one thread
 * at a time (the starting one, then the drain thread); nothing here is thread-safe.
 */
#ifndef STACKD_AGENT_LOADER_H
#define STACKD_AGENT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stackd.h"
#include "symbolize/cfitab_abi.h"

struct config;
struct loader;
struct ring_buffer;

struct loader_opts {
	unsigned frequency_hz;
	bool include_idle;
	uint64_t drain_interval_ns;
	uint32_t stack_map_entries;  /* 0 = derived */
	uint32_t counts_map_entries; /* 0 = derived */
	/* Called for each ring-buffer event (from loader_poll_events). */
	void (*on_event)(void *ctx, const struct stackd_event *ev);
	/* Called for each sample sent for DWARF unwinding (from loader_poll_events). */
	void (*on_dwarf_sample)(void *ctx, const struct stackd_dwarf_sample *s, size_t len);
	void *ctx;
	enum stackd_unwind_mode unwind_mode;
	uint32_t stack_copy_bytes;   /* multiple of STACKD_STACK_CHUNK, <= STACKD_MAX_STACK_COPY */
	uint32_t dwarf_ring_bytes;   /* power of two, multiple of the page size */
	uint64_t unwind_table_bytes; /* kernel mode: the row pool (--unwind.table-budget) */
	uint32_t unwind_max_procs;   /* kernel mode: processes with mapping tables at once */
	bool offcpu;		     /* --offcpu.enabled: time off CPU by stack */
	bool python;		     /* --python.enabled (kernel mode): Python frames */
	bool java;		     /* --java.enabled (kernel mode): HotSpot JIT frames */
	uint64_t offcpu_min_ns;	     /* --offcpu.min-duration: shorter periods are counted only */
	uint32_t offcpu_max_walks;   /* --offcpu.max-walks: per CPU and second, then sampled */
	/*
	 * Sampling filter (--profiling.pids, --profiling.cgroups): when either list
	 * is non-empty, only those processes, and tasks in those cgroup v2 ids or
	 * their descendants, are sampled; the rest is dropped in the kernel before
	 * any stack walk. Borrowed: read by loader_attach, forgotten after it.
	 */
	const uint32_t *filter_pids;
	size_t nr_filter_pids;
	const uint64_t *filter_cgroup_ids;
	size_t nr_filter_cgroups;
	/*
	 * Report instead of logging (stackd --check): failures are only returned, and
	 * libbpf's print function is left as the caller set it.
	 */
	bool quiet;
};

/* One drained counts (or offcpu) entry with its stacks resolved. */
struct loader_record {
	const struct stackd_count_key *key;
	uint64_t count; /* samples; for an offcpu entry, the periods off CPU */
	bool offcpu;	/* an offcpu entry: offcpu_ns and offcpu_reason are set */
	uint64_t offcpu_ns;
	uint32_t offcpu_reason; /* enum stackd_offcpu_reason */
	const uint64_t *ustack; /* NULL when key->ustack_id < 0 or the id was not found */
	uint32_t ustack_nr;
	const uint64_t *kstack;
	uint32_t kstack_nr;
	bool is_dwarf; /* user stack unwound from a copy with CFI, not frame pointers */
};

struct loader_drain_stats {
	uint64_t records; /* counts entries */
	uint64_t offcpu_records;
	uint64_t samples;
	uint64_t stacks_not_found; /* stack id in counts but not in the stack map */
	bool swap_timed_out;
};

/*
 * The options the flags decide (maps, unwinding, filter), from @cfg; callbacks, ctx and
 * quiet are left zero. The filter lists are borrowed from @cfg (see loader_opts).
 */
void loader_opts_from_config(struct loader_opts *o, const struct config *cfg);

/*
 * Loading in three steps, each needing the one before (else -EINVAL); a failed step
 * is not retried. Each returns 0 or -errno and, unless opts.quiet, logs the cause with
 * the fix once. Whatever step failed or was reached, loader_free undoes it all:
 * unloads, detaches, frees.
 *
 * loader_open: read the CPUs, size the maps, open the skeleton and set its
 *   configuration (rodata, map sizes); nothing is in the kernel yet. Routes libbpf's
 *   messages to the log unless opts.quiet.
 * loader_load: create the maps and have the kernel verify and load the programs.
 * loader_attach: fill the filter maps, attach the tracepoints and the perf events, open
 *   the ring buffers: samples flow. The functions below need an attached loader, but
 *   for the map sizes (from loader_open) and loader_read_counters (from loader_load).
 */
int loader_open(const struct loader_opts *opts, struct loader **out);
int loader_load(struct loader *l);
int loader_attach(struct loader *l);
void loader_free(struct loader *l);

unsigned loader_nr_attached_cpus(const struct loader *l);
uint32_t loader_stack_map_entries(const struct loader *l);
uint32_t loader_counts_map_entries(const struct loader *l);
uint32_t loader_overflow_map_entries(const struct loader *l);

/* epoll-able fd that becomes readable when events are waiting. */
int loader_events_fd(const struct loader *l);
/*
 * Consume pending ring-buffer records (calls opts.on_event/on_dwarf_sample) for
 * at most @budget_ns (0: until the rings are empty); records left over wait for
 * the next call. Returns the count handled, or -errno (-EAGAIN: budget spent).
 */
int loader_poll_events(struct loader *l, uint64_t budget_ns);

/*
 * Flip the active set, wait for in-flight programs to leave the old one,
 * then read and clear it, calling @cb for every counts entry.
 */
int loader_drain(struct loader *l, void (*cb)(void *ctx, const struct loader_record *r), void *ctx,
		 struct loader_drain_stats *stats);

/*
 * In-kernel unwinding (--unwind.mode=kernel; see stackd.h). Each returns
 * -ENOTSUP in another mode.
 *
 * loader_unwind_rows: the row pool's capacity in rows (0 in another mode).
 * loader_unwind_write_rows: copy @nr rows into the pool at index @first
 *   (batched); -ERANGE past the pool.
 * loader_unwind_set_proc: install or replace process @tgid's mappings
 *   (p->start_boottime says which process); -E2BIG: unwind_procs is full.
 * loader_unwind_replace_proc: the same, only while @tgid still has an entry
 *   (the kernel drops it at exec and exit); -ENOENT when it has none.
 * loader_unwind_del_proc: remove @tgid's entry only while it is still
 *   (@tgid, @start_boottime)'s: 1 removed, 0 not there (or another's).
 * loader_quiesce: wait until every program that may have started before the
 *   call has returned (rows no entry names any more may then be reused);
 *   -ETIMEDOUT.
 */
uint32_t loader_unwind_rows(const struct loader *l);
int loader_unwind_write_rows(struct loader *l, uint32_t first, const struct cfitab_row *rows,
			     uint32_t nr);
int loader_unwind_set_proc(struct loader *l, uint32_t tgid, const struct stackd_unwind_proc *p);
int loader_unwind_replace_proc(struct loader *l, uint32_t tgid, const struct stackd_unwind_proc *p);
int loader_unwind_del_proc(struct loader *l, uint32_t tgid, uint64_t start_boottime);
/*
 * CPython processes (kernel mode with --python.enabled, else -ENOTSUP):
 * install or replace @tgid's entry; remove it only while it still describes
 * (tgid, start_boottime) (1 removed, 0 not there).
 */
int loader_py_set_proc(struct loader *l, uint32_t tgid, const struct stackd_py_proc *p);
int loader_py_del_proc(struct loader *l, uint32_t tgid, uint64_t start_boottime);
bool loader_python(const struct loader *l);
/* HotSpot JVMs (kernel mode with --java.enabled, else -ENOTSUP): as the CPython ones. */
int loader_hs_set_proc(struct loader *l, uint32_t tgid, const struct stackd_hs_proc *p);
int loader_hs_del_proc(struct loader *l, uint32_t tgid, uint64_t start_boottime);
bool loader_java(const struct loader *l);
int loader_quiesce(struct loader *l);

/* Sum the per-CPU counters into out[STACKD_CNT__MAX] (monotonic totals). */
int loader_read_counters(struct loader *l, uint64_t out[STACKD_CNT__MAX]);

#endif
