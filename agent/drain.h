/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The drain: the agent's one collecting thread. It polls process events and
 * copied stacks (loader_poll_events, bounded per loop), and every drain
 * interval, or when a profile window must open or close, swaps the kernel's
 * double-buffered maps (loader_drain). Each drained counts entry, and each
 * stack unwound with CFI since the last drain (aggregated in dwarfagg),
 * becomes one neutral struct sample: attributed to its process (proctable),
 * labelled, symbolized once (stackcache, symbolizer) when a sink wants
 * frames, and handed to the sinks: the CPU metrics, the open profile
 * windows (windows.h) and the history window being filled (histfill.h).
 *
 * Liveness: the drain records when it last completed and what it is doing
 * now (a short stage string); any thread may ask whether it is stalled (no
 * drain for 3 intervals, at least 5 s), logged once per stall.
 *
 * Threads. The drain thread alone uses the parts (struct drain_parts) and
 * its counters; it publishes a copy of the counters under a mutex after
 * every drain (drain_read_stats). drain_wake, drain_stop, drain_is_stalled,
 * drain_stage and drain_read_stats may be called from any thread.
 */
#ifndef STACKD_AGENT_DRAIN_H
#define STACKD_AGENT_DRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpumetrics.h"
#include "dwarfagg.h"
#include "exporter/promtext.h"
#include "histfill.h"
#include "loader.h"
#include "procmeta.h"
#include "pyprocs.h"
#include "proctable.h"
#include "stackcache.h"
#include "stats.h"
#include "symbolize/symbolizer.h"
#include "symbolize/unwinder.h"
#include "unwtables.h"
#include "windows.h"

struct drain;

struct drain_opts {
	uint64_t interval_ns;		/* --profiling.drain-interval */
	struct windows *windows;	/* borrowed; outlives the drain */
	struct windows *offcpu_windows; /* the same for /debug/pprof/offcpu (--offcpu.enabled) */
	struct windows *wall_windows;	/* ...and /debug/pprof/wall: CPU and off-CPU samples */
	/* Test builds: while this FIFO exists each drain blocks opening it (NULL: never). */
	const char *test_stall_path;
};

/* What the drain works with: made and freed by the agent, used by the drain thread alone. */
struct drain_parts {
	struct loader *loader; /* its callbacks: drain_on_event, drain_on_dwarf_sample */
	struct symbolizer *sym;
	struct proctable *procs;
	struct stackcache *stacks;
	struct unwinder *unw;
	struct unwtables *tables; /* NULL outside --unwind.mode=kernel */
	struct pyprocs *py; /* CPython processes; NULL without --python.enabled (kernel mode) */
	/* HotSpot JVMs and the attach helper; both NULL without --java.enabled. */
	struct javaprocs *java;
	struct jattach *ja;
	struct dwarfagg *dwarf;
	struct cpumetrics *cpu;
	/* The history windows being filled, by enum pprof_kind; NULL: that history is off. */
	struct histfill *fill[PPROF_NR_KINDS];
	struct procmeta_reader *meta;
	enum stackd_unwind_mode unwind_mode;
};

/* The wake-up fd and the liveness state only: the drain can be woken before it has parts. */
int drain_new(const struct drain_opts *o, struct drain **out);
/* After drain_join (or when drain_run never ran). NULL-safe. */
void drain_free(struct drain *d);

/* Takes the parts (borrowed): watches the loader's events, hears the table's evictions. */
int drain_attach(struct drain *d, const struct drain_parts *p);
/* loader_opts callbacks (ctx: the drain). */
void drain_on_event(void *ctx, const struct stackd_event *ev);
void drain_on_dwarf_sample(void *ctx, const struct stackd_dwarf_sample *rec, size_t len);

/* Starts the drain thread (after drain_attach). */
int drain_run(struct drain *d);
/* Asks the drain thread to end (any thread); on its way out it aborts the open windows. */
void drain_stop(struct drain *d);
/* Waits for the drain thread to end (once; main thread). */
void drain_join(struct drain *d);
/* A window is waiting to open, or the drain must re-read the deadlines. Any thread. */
void drain_wake(struct drain *d);

/* True when no drain completed for the stall threshold; *@idle_ns: since the last one. */
bool drain_is_stalled(struct drain *d, uint64_t *idle_ns);
/* What the drain thread is doing now (a static string). */
const char *drain_stage(struct drain *d);
/*
 * The counters as of the last drain, with drain_stalled and
 * drain_last_unix_ns as of now; req is left zero (the HTTP side counts it).
 */
void drain_read_stats(struct drain *d, struct agent_stats *out);
/* Drain durations, for /metrics (atomic counters: any thread may read). */
const struct prom_histogram *drain_histogram(const struct drain *d);

#endif
