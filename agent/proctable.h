/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process table: what the agent knows of each sampled process, keyed by
 * (tgid, start time) so a reused pid is a new process, never a merge.
 *
 * An entry is filled when the process is first seen (a ring-buffer event from
 * its first sample, or a drained sample of an unknown process): comm,
 * executable and a snapshot of its executable mappings, with the objects
 * primed in the symbolizer, so samples of a process that exits before the
 * next drain are still symbolized. Exited processes are kept for one more
 * drain (their last samples may still be in the maps) and then evicted;
 * beyond max_entries the least recently sampled are evicted.
 *
 * Owned by the drain thread; not thread-safe. Returned pointers are borrows
 * valid until the next proctable_sweep().
 */
#ifndef STACKD_AGENT_PROCTABLE_H
#define STACKD_AGENT_PROCTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/hmap.h"
#include "common/list.h"
#include "labelset.h"
#include "symbolize/procmaps.h"
#include "symbolize/symbolizer.h"

/* Refreshes while a snapshot counts as young: their gaps double from 10 ms; then 1 s. */
#define PROC_MAPS_YOUNG 7

struct proc {
	struct hnode node;
	struct list_head lru; /* most recently sampled first */
	uint32_t tgid;
	uint64_t start_boottime; /* ns since boot, as the BPF side reports it */
	char comm[16];
	char exe[256];
	struct procmaps *maps;	  /* NULL for kernel threads and vanished processes */
	struct label_set *labels; /* pid, comm, exe, cgroup, container...: never NULL once got */
	bool is_kthread;
	bool has_exited;
	uint64_t exit_drain;	 /* drain sequence at which the exit was noticed */
	uint64_t last_drain;	 /* last drain that saw samples */
	uint64_t maps_read_ns;	 /* CLOCK_MONOTONIC of the last maps snapshot */
	unsigned maps_refreshes; /* refreshes so far: gaps grow 10 ms .. 1 s (PROC_MAPS_YOUNG) */
	/* Its executable as the kernel reported it (proctable_set_exe); 0 when unknown. */
	uint64_t exe_ino, exe_dev, start_code, interp_base;
	bool maps_from_template; /* maps borrowed from another process of the binary */
	uint64_t java_serial;	 /* the maps snapshot javaprocs last saw (drain.c) */
	bool is_jvm; /* javaprocs tracks it: its JIT stacks are cached until its map changes */
	/* Kernel mode: the last load of its unwind tables, and the gap before a retry. */
	uint64_t tables_tried_ns, tables_retry_ns;
};

struct proctable_stats {
	uint64_t tracked;
	uint64_t snapshots;
	uint64_t snapshot_vanished; /* gone (or pid reused) before we could read it */
	uint64_t snapshot_errors;
	uint64_t evicted_exited;
	uint64_t evicted_capacity;
	uint64_t maps_bytes;
	uint64_t labels_bytes;
	uint64_t maps_refused;	      /* snapshots over 1 MiB, or over the 64 MiB of all of them */
	uint64_t maps_refused_bytes;  /* their sizes */
	uint64_t evicted_maps_budget; /* least recently sampled evicted to make room */
	uint64_t maps_from_template;  /* vanished processes given their binary's mappings */
};

struct proctable;

struct procmeta_reader;
/* @meta (may be NULL: pid, comm and exe labels only) reads cgroup, container and cmdline. */
int proctable_new(unsigned max_entries, const char *proc_root, struct symbolizer *sym,
		  struct procmeta_reader *meta, struct proctable **out);
void proctable_free(struct proctable *t);

/*
 * The process (tgid, start), snapshotting it if unknown (or @refresh, e.g.
 * after an exec). @comm_hint (may be NULL) names it if /proc cannot.
 * Never NULL except on allocation failure.
 */
struct proc *proctable_get(struct proctable *t, uint32_t tgid, uint64_t start_boottime,
			   const char *comm_hint, bool refresh);
/*
 * The kernel's identity of @p's executable (struct stackd_event: inode, the
 * kernel's dev_t, mm->start_code). A process whose maps were read becomes a
 * template for its binary; one that exited before (a short-lived process
 * whose event waited behind a busy CPU) gets the mappings of its binary from
 * a template, moved to where its own text was loaded (and the template's
 * ld.so to where the kernel loaded its interpreter): its own code and its
 * start-up are then named, by the file identities the template recorded,
 * without opening anything; frames in its libraries stay raw addresses. Returns true when @p
 * got mappings that way.
 */
bool proctable_set_exe(struct proctable *t, struct proc *p, uint64_t exe_ino, uint64_t exe_dev,
		       uint64_t start_code, uint64_t interp_base);
/* Re-read the maps of a live process whose snapshot misses an address (rate-limited). */
void proctable_refresh_maps(struct proctable *t, struct proc *p);
void proctable_mark_exited(struct proctable *t, uint32_t tgid, uint64_t start_boottime,
			   uint64_t drain_seq);
void proctable_touch(struct proctable *t, struct proc *p, uint64_t drain_seq);
/* Evict processes that exited before the previous drain, and the LRU tail beyond the cap. */
void proctable_sweep(struct proctable *t, uint64_t drain_seq);
void proctable_get_stats(const struct proctable *t, struct proctable_stats *out);
/*
 * @cb(@ctx, p) runs for every process as proctable_sweep() evicts it (exited,
 * over max_entries or over the maps budget), just before it is freed; not at
 * proctable_free(). What the owner keeps per process elsewhere (the kernel's
 * unwind_procs entry) must go with it: an evicted live process is forgotten.
 */
void proctable_on_evict(struct proctable *t, void (*cb)(void *ctx, const struct proc *p),
			void *ctx);

#endif
