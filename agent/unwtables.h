/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table manager of in-kernel unwinding (--unwind.mode=kernel): owns the
 * BPF row pool (unwind_rows) and the process entries (unwind_procs).
 *
 * For a process it walks the executable mappings of a maps snapshot, makes
 * each object's compiled table resident in the pool (once per object, by the
 * table's obj_id, one extent of contiguous rows, first fit over the free
 * extents) and installs one entry naming them. An object no process names
 * any more stays resident (a cache) until its space is needed. When a table
 * does not fit, objects are evicted least recently used first, unreferenced
 * ones before referenced ones; evicting a referenced object first rewrites
 * every entry naming it (those mappings fall back to frame pointers,
 * STACKD_MAPF_NO_ROOM). Such starved processes are offered for a retry once
 * room may have come (unwtables_starved), and the retry evicts only objects
 * no process names (unwtables_heal): no process is fed by starving another.
 *
 * Invariant: rows are only ever written into an extent that no installed
 * entry names, and an extent freed after entries naming it were rewritten or
 * deleted is written again only after ops.quiesce returned (no BPF program
 * that could have read the old entry is still running).
 *
 * Kernel access goes through struct unwtables_ops, so the logic runs without
 * BPF in unit tests. Owned by one thread (the drain); not thread-safe. The
 * stats are that thread's: copy them out (unwtables_get_stats) to publish.
 */
#ifndef STACKD_AGENT_UNWTABLES_H
#define STACKD_AGENT_UNWTABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stackd.h"
#include "symbolize/cfitab_abi.h"
#include "symbolize/procmaps.h"

/* One object's table as ops.get_table hands it over (rows borrowed until the next ops call). */
struct unwtables_table {
	const struct cfitab_row *rows;
	uint32_t nr_rows;
	uint64_t obj_id; /* names the table for the manager's life; never reused */
	uint64_t adj;	 /* row pc = runtime address - adj */
};

struct unwtables_ops {
	void *ctx;
	/* 0 and *out; -ENOENT: no CFI; other -errno: the object could not be read. */
	int (*get_table)(void *ctx, uint32_t tgid, const struct procmaps *maps,
			 const struct procmap *m, struct unwtables_table *out);
	int (*write_rows)(void *ctx, uint32_t first, const struct cfitab_row *rows, uint32_t nr);
	/*
	 * -E2BIG: no room for another entry. @only_existing: replace only an
	 * entry the kernel still holds, else -ENOENT.
	 */
	int (*set_proc)(void *ctx, uint32_t tgid, const struct stackd_unwind_proc *p,
			bool only_existing);
	int (*del_proc)(void *ctx, uint32_t tgid, uint64_t start_boottime);
	int (*quiesce)(void *ctx);
};

/* Why a mapping got no table. */
enum unwtables_refusal {
	UNWTABLES_REFUSED_NO_CFI = 0, /* the object has no usable CFI */
	UNWTABLES_REFUSED_UNREADABLE, /* gone, denied, too big to compile */
	UNWTABLES_REFUSED_NO_ROOM,    /* bigger than the pool, or no room even after eviction */
	UNWTABLES_REFUSED__MAX,
};

struct unwtables_stats {
	uint64_t pool_rows;	       /* capacity */
	uint64_t rows_used;	       /* rows held by resident objects */
	uint64_t objects;	       /* resident objects */
	uint64_t objects_unreferenced; /* ...of which cached without a process naming them */
	uint64_t evictions;	       /* objects evicted, all */
	uint64_t evictions_referenced; /* ...of which named by processes (entries rewritten) */
	uint64_t refused[UNWTABLES_REFUSED__MAX]; /* mappings left without a table, by reason */
	uint64_t procs;				  /* process entries installed */
	uint64_t procs_refused;			  /* entries the kernel map had no room for */
	uint64_t mappings_truncated; /* executable mappings beyond STACKD_UNWIND_MAX_MAPPINGS */
	uint64_t loads;		     /* process loads (new, exec, maps changed) */
	uint64_t load_ns;	     /* time spent in them */
	uint64_t alias_hits; /* mappings of a file whose table was resident: no get_table call */
	uint64_t quiesces;
	uint64_t errors;  /* failed kernel map writes (rows, entries) */
	uint64_t retries; /* loads of starved processes (unwtables_heal) */
	uint64_t healed;  /* ...that left them no mapping without room */
};

struct unwtables;

/* @pool_rows: the capacity of the row pool (loader_unwind_rows). @ops is copied. */
int unwtables_new(uint32_t pool_rows, const struct unwtables_ops *ops, struct unwtables **out);
/* Frees the manager's memory only; the kernel maps are the loader's. NULL-safe. */
void unwtables_free(struct unwtables *t);

/*
 * Install (or replace) the entry of process (@tgid, @start_boottime) from
 * its executable mappings in @maps (borrowed for the call). The entry is
 * always written: an exec may keep the very same mappings while the kernel
 * dropped the old entry. 0, or -E2BIG
 * when the kernel map had no room (counted; the process stays on the
 * bridge), or -errno.
 */
int unwtables_load(struct unwtables *t, uint32_t tgid, uint64_t start_boottime,
		   const struct procmaps *maps);
/*
 * The same after a new maps snapshot (dlopen, a new JIT region): the entry
 * is written only when it would say something else than the installed one.
 */
int unwtables_refresh(struct unwtables *t, uint32_t tgid, uint64_t start_boottime,
		      const struct procmaps *maps);
/*
 * Starved processes: an entry with a mapping left without a table for want
 * of room (STACKD_MAPF_NO_ROOM, at the load or when a referenced object was
 * evicted). Fills @tgid/@start with up to @max of them due for a retry at
 * @now_ns (mono ns) for which room may have come since they were last
 * offered (an object evicted, or no longer named by any process): first 1 s
 * after it starved, then after gaps of 2 s doubling to 64 s. Returns how many.
 */
size_t unwtables_starved(struct unwtables *t, uint64_t now_ns, uint32_t *tgid, uint64_t *start,
			 size_t max);
/*
 * Retry a starved process with @maps (its current snapshot): as
 * unwtables_refresh, but evicting only objects no process names, so that one
 * process is never fed by starving another. -ENOENT: no entry (gone).
 */
int unwtables_heal(struct unwtables *t, uint32_t tgid, uint64_t start_boottime,
		   const struct procmaps *maps);
/* Whether the process has an entry installed (as far as the manager knows). */
bool unwtables_has(const struct unwtables *t, uint32_t tgid, uint64_t start_boottime);
/* Remove the process's entry and references (exit, eviction). Unknown processes: a no-op. */
void unwtables_drop(struct unwtables *t, uint32_t tgid, uint64_t start_boottime);

void unwtables_get_stats(const struct unwtables *t, struct unwtables_stats *out);

#endif
