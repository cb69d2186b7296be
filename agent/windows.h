/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Profile windows: the sample sink behind /debug/pprof/profile?seconds=N.
 *
 * A request registers a window (PENDING). The drain that follows opens it at
 * its swap (ACTIVE): the window gets the samples of the drains after that one
 * only, never samples taken before the request. The first drain whose swap is
 * at or past start + seconds closes it (DONE) and the requester is told
 * (opts.notify); it then takes the profile and builds the answer with no lock
 * held. A window the requester gives up while ACTIVE is CANCELLED and freed
 * by the next drain (the drain may be writing its profile at that moment);
 * shutdown ABORTS every open window and refuses new ones. A window whose
 * profile cannot be made is ABORTED with an error.
 *
 *   PENDING --drain--> ACTIVE --drain at/after end--> DONE
 *      |                 |--requester gone--> CANCELLED --next drain--> freed
 *      +-----------------+--shutdown or error--> ABORTED
 *
 * Threads. Any thread opens and ends windows; one thread (the drain) calls
 * the windows_drain_* functions and windows_add in that order, once per
 * drain. States change only under the set's lock, and ACTIVE profiles are
 * written only by the drain thread between windows_drain_begin and
 * windows_drain_end, without the lock: nobody else touches a window's
 * profile until the window is DONE, ABORTED or CANCELLED.
 */
#ifndef STACKD_AGENT_WINDOWS_H
#define STACKD_AGENT_WINDOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/pprof.h"
#include "sample.h"

struct windows;
struct window;

struct windows_opts {
	uint64_t period_ns;   /* of the profiles */
	enum pprof_kind kind; /* of the profiles: CPU samples, or time off CPU */
	unsigned max_windows; /* open at once; more are refused with -EBUSY */
	/*
	 * Called once per window that became DONE or ABORTED, with the set's
	 * lock held (from windows_drain_end or windows_abort): must not call
	 * back into the set.
	 */
	void (*notify)(void *waiter);
};

int windows_new(const struct windows_opts *o, struct windows **out);
/* Frees the set and every window left in it (no thread may use it any more). NULL-safe. */
void windows_free(struct windows *ws);

/*
 * A request for @seconds, registered at @now_ns (CLOCK_MONOTONIC); @waiter
 * is passed to opts.notify. -ESHUTDOWN after windows_abort(), -EBUSY with
 * max_windows open, -ENOMEM.
 */
int windows_open(struct windows *ws, unsigned seconds, uint64_t now_ns, void *waiter,
		 struct window **out);

/* What a requester gets back from its window (windows_take). */
struct window_result {
	bool is_done; /* DONE: @b holds the profile; else ABORTED (or still open) */
	int err;      /* ABORTED because the profile could not be made (-errno), else 0 */
	struct pprof_builder *b; /* the caller's now (NULL unless is_done) */
	uint64_t duration_ns;	 /* from the opening swap to the closing one */
};

/* Ends @w and frees it: the requester's, after notify. */
void windows_take(struct windows *ws, struct window *w, struct window_result *res);
/* The requester went away: frees @w now, or at the next drain when it is ACTIVE. */
void windows_cancel(struct windows *ws, struct window *w);

/* ---- drain thread ---- */

/* At a drain's swap: the windows ACTIVE now receive this drain's samples. */
void windows_drain_begin(struct windows *ws);
/* Does any window receive this drain's samples? (Frames cost symbolizing.) */
bool windows_want_samples(const struct windows *ws);
/* Adds @s to every such window; returns how many could not take it (out of memory). */
unsigned windows_add(struct windows *ws, const struct sample *s);
/*
 * After the drain whose swap was at @t0 (@t0_unix in Unix time): closes the
 * windows whose end is at or before @t0, opens at @t0 the pending ones
 * registered at or before it (one registered during the drain waits for the
 * next swap), tells the requesters, frees the cancelled windows.
 */
void windows_drain_end(struct windows *ws, uint64_t t0, int64_t t0_unix);
/*
 * When the drain must run next: the earliest end of an active window if it
 * comes before @deadline, else @deadline; *@is_pending when a window waits
 * to open (drain now).
 */
uint64_t windows_next_deadline(struct windows *ws, uint64_t deadline, bool *is_pending);

/*
 * Shutdown: aborts every PENDING and ACTIVE window, tells their requesters,
 * refuses new ones. Only the drain thread calls this, or any thread once no
 * drain thread runs (it must not be inside a drain).
 */
void windows_abort(struct windows *ws);

/* Windows registered and not yet taken or freed (for tests). */
unsigned windows_count(struct windows *ws);

#endif
