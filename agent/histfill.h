/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The history window being filled: the sample sink that takes every drained
 * sample into a profile, and at each --history.window boundary freezes it
 * into the history ring and opens the next one. Drain thread only.
 */
#ifndef STACKD_AGENT_HISTFILL_H
#define STACKD_AGENT_HISTFILL_H

#include <stdint.h>

#include "exporter/history.h"
#include "sample.h"

struct histfill;

/*
 * Fills windows of @window_ns, profiles of @kind (exporter/pprof.h) whose
 * counts weigh @period_ns, into @hist (borrowed; it outlives the fill).
 */
int histfill_new(struct history *hist, uint64_t window_ns, uint64_t period_ns, enum pprof_kind kind,
		 struct histfill **out);
void histfill_free(struct histfill *f);

/*
 * At a drain's swap @t0 (@t0_unix in Unix time): once the window being filled
 * is at or past its end, freezes it into the history and opens the next at
 * @t0; the first call opens the first window. Returns -ENOMEM when the closed
 * window was lost (its freeze failed), else 0.
 */
int histfill_rotate(struct histfill *f, uint64_t t0, int64_t t0_unix);
/*
 * At the end of the drain of @t0 (after histfill_rotate): while queries want
 * it, freezes the window being filled (up to @t0) into the history as its
 * partial entry, so queries reach the last drain; drops the partial once
 * they stop. Returns -ENOMEM when the freeze failed (the history counts it).
 */
int histfill_publish(struct histfill *f, uint64_t t0);
/* Does a window take samples (none after an allocation failure until the next rotate)? */
bool histfill_wants_samples(const struct histfill *f);
/* Adds @s to the window being filled: 0, or -errno when it could not take it. */
int histfill_add(struct histfill *f, const struct sample *s);

#endif
