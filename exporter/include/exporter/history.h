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
 */
#ifndef STACKD_EXPORTER_HISTORY_H
#define STACKD_EXPORTER_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "exporter/pprof.h"

struct history;

struct history_opts {
	uint64_t window_ns;    /* length of one window */
	uint64_t retention_ns; /* windows older than this are evicted */
	size_t max_bytes;      /* hard budget of the frozen windows held */
};

struct history_stats {
	uint64_t windows;      /* held now */
	uint64_t bytes;	       /* of the windows held and of evicted ones still being read */
	uint64_t pinned_bytes; /* of evicted windows still being read (part of bytes) */
	uint64_t samples;      /* sample counts held */
	int64_t oldest_ns, newest_end_ns; /* Unix ns; 0 when empty */
	uint64_t pushed;
	uint64_t evicted_retention, evicted_budget; /* windows */
	uint64_t evicted_samples;		    /* sample counts in the evicted windows */
	uint64_t rejected_too_big; /* windows larger than the whole budget, never held */
	uint64_t rejected_pinned;  /* windows that found no room: queries held the rest */
	uint64_t queries;
};

int history_new(const struct history_opts *o, struct history **out);
/* Frees every window; no query may be running. NULL-safe. */
void history_free(struct history *h);

/*
 * Appends a closed window (the history takes @f) and evicts what is past
 * the retention (measured from @f's end) or over the budget. Drain thread.
 */
void history_push(struct history *h, struct pprof_frozen *f);

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
 * first. Returns 0 (possibly with nr == 0) or -ENOMEM.
 */
int history_acquire(struct history *h, int64_t from_ns, int64_t to_ns, struct history_view *v);
void history_release(struct history_view *v);

void history_get_stats(struct history *h, struct history_stats *out);

#endif
