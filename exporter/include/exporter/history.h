/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The profile history: a ring of closed, frozen profile windows (every
 * sample of every process, symbolized and labelled, one window per
 * --history.window) kept for --history.retention under a hard byte budget
 * (--history.max-bytes). The oldest windows go first, past the retention or
 * the budget, and every eviction is counted.
 *
 * One writer (the drain thread) pushes windows; any number of HTTP threads
 * query at once. A query takes references to the windows in its range under
 * a mutex held for a few pointer copies, then merges them with no lock held,
 * so neither side waits on the other's work. An evicted window still
 * referenced by a query is freed when that query lets go of it; the bytes of
 * such windows count against the budget until then (once: they leave the
 * ring's share as they become pinned). A push evicts only the oldest windows
 * whose removal makes room; when the windows queries hold leave too little
 * room, the new window is dropped (counted), never the whole ring.
 *
 * The window being filled is served too, as a "partial" entry outside the
 * ring: while queries come (one within HISTORY_INTEREST_NS), the drain thread
 * freezes the open window at the end of every drain and puts it here, where it
 * replaces the previous partial; the closed window replaces it at the
 * boundary. A query reads it like any window, so answers reach the last drain.
 * Freezing a full window costs ~10 ms (bench/history_query), so it is done only
 * while someone is looking. The first query after a quiet spell waits (at most
 * partial_wait_ns, never the drain for it) for the next drain's snapshot. A
 * partial is charged to the budget like a window: it may evict the oldest
 * windows (the closed window would need that room at the boundary anyway) but
 * never by retention; when it finds no room it is not held (counted).
 */
#ifndef STACKD_EXPORTER_HISTORY_H
#define STACKD_EXPORTER_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/pprof.h"

struct history;

struct history_opts {
	uint64_t window_ns;    /* length of one window */
	uint64_t retention_ns; /* windows older than this are evicted */
	size_t max_bytes;      /* hard budget of the frozen windows held */
	/* How long a query waits for a fresh partial after a quiet spell; 0: never. */
	uint64_t partial_wait_ns;
};

/* The drain keeps freezing the open window this long after the last query. */
#define HISTORY_INTEREST_NS (60ull * 1000000000ull)

struct history_stats {
	uint64_t windows; /* held now */
	uint64_t bytes;	  /* of the windows held (partial too) and of evicted ones being read */
	uint64_t pinned_bytes;		  /* of evicted windows still being read (part of bytes) */
	uint64_t samples;		  /* sample counts held */
	int64_t oldest_ns, newest_end_ns; /* Unix ns; 0 when empty */
	uint64_t pushed;
	uint64_t evicted_retention, evicted_budget; /* windows */
	uint64_t evicted_samples;		    /* sample counts in the evicted windows */
	uint64_t rejected_too_big; /* windows larger than the whole budget, never held */
	uint64_t rejected_pinned;  /* windows that found no room: queries held the rest */
	uint64_t queries;
	uint64_t partials;	    /* snapshots of the open window held */
	uint64_t partials_rejected; /* snapshots not held (budget, pins, out of memory) */
	uint64_t partial_bytes;	    /* of the partial held now (part of bytes) */
};

int history_new(const struct history_opts *o, struct history **out);
/* Frees every window; no query may be running. NULL-safe. */
void history_free(struct history *h);

/*
 * Appends a closed window (the history takes @f) and evicts what is past
 * the retention (measured from @f's end) or over the budget. Drain thread.
 */
void history_push(struct history *h, struct pprof_frozen *f);

/*
 * Does a query want the open window (one came within HISTORY_INTEREST_NS of
 * @now_mono_ns)? Drain thread, at the end of a drain.
 */
bool history_partial_wanted(struct history *h, uint64_t now_mono_ns);
/*
 * Replaces the partial entry with @f (the history takes it; NULL: the open
 * window is empty, or its freeze failed: @err, counted as rejected). @live:
 * the drain publishes one every drain from now on; false (with @f NULL) drops
 * the partial when no query wants it any more. Drain thread; never waits for
 * a query.
 */
void history_set_partial(struct history *h, struct pprof_frozen *f, int err, bool live);

/* The windows of a query, referenced until history_release(). */
struct history_win;
struct history_view {
	struct history *h;
	const struct pprof_frozen **w; /* w[i] is wins[i]'s profile */
	struct history_win **wins;
	size_t nr;
	int64_t held_from_ns, held_to_ns; /* what the history held at the time; 0 when empty */
};

/*
 * References the windows overlapping [from_ns, to_ns) (Unix ns), oldest
 * first, the partial last. When no drain publishes partials yet and the range
 * reaches past the closed windows, waits up to partial_wait_ns for the next
 * drain's (the query marked the interest that makes the drain publish).
 * Returns 0 (possibly with nr == 0) or -ENOMEM.
 */
int history_acquire(struct history *h, int64_t from_ns, int64_t to_ns, struct history_view *v);
void history_release(struct history_view *v);

void history_get_stats(struct history *h, struct history_stats *out);

#endif
