// SPDX-License-Identifier: Apache-2.0
#include "exporter/history.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

struct history_win {
	struct pprof_frozen *f;
	int64_t start_ns, end_ns;
	size_t bytes;
	int64_t samples;
	unsigned refs; /* queries reading it */
	bool evicted;  /* out of the ring: freed by the last query to release it */
};

struct history {
	struct history_opts o;
	pthread_mutex_t lock;
	struct history_win **ring; /* oldest at head */
	size_t cap, head, nr;
	struct history_win *partial; /* the open window as of the last drain, or NULL */
	bool partial_live;	     /* the drain publishes one every drain */
	pthread_cond_t published;    /* signalled at each publication (CLOCK_MONOTONIC) */
	bool has_query;
	uint64_t last_query_mono_ns;
	struct history_stats st;
};

int history_new(const struct history_opts *o, struct history **out)
{
	struct history *h;

	if (!o || !o->window_ns || !o->retention_ns || !o->max_bytes)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->o = *o;
	/* Retention / window windows, one more being filled past the boundary, one for luck. */
	h->cap = (size_t)(o->retention_ns / o->window_ns) + 2;
	h->ring = calloc(h->cap, sizeof(*h->ring));
	if (!h->ring) {
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->published, &ca);
		pthread_condattr_destroy(&ca);
	}
	*out = h;
	return 0;
}

static void win_free(struct history_win *w)
{
	pprof_frozen_free(w->f);
	free(w);
}

/*
 * Let go of @w, no longer in the ring (or no longer the partial): freed now, or, while a query
 * holds it, marked and counted as pinned until that query's release frees it.
 */
static void win_drop(struct history *h, struct history_win *w)
{
	if (w->refs) {
		w->evicted = true;
		h->st.pinned_bytes += w->bytes;
		return;
	}
	h->st.bytes -= w->bytes;
	win_free(w);
}

void history_free(struct history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nr; i++)
		win_free(h->ring[(h->head + i) % h->cap]);
	if (h->partial)
		win_free(h->partial);
	free(h->ring);
	pthread_cond_destroy(&h->published);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/*
 * Drops the oldest window. Called with the lock held. A window a query still
 * reads leaves the ring but its bytes stay charged (as pinned) until the last
 * reference drops in history_release().
 */
static void evict_oldest(struct history *h, uint64_t *reason)
{
	struct history_win *w = h->ring[h->head];

	h->ring[h->head] = NULL;
	h->head = (h->head + 1) % h->cap;
	h->nr--;
	(*reason)++;
	h->st.evicted_samples += (uint64_t)w->samples;
	h->st.samples -= (uint64_t)w->samples;
	h->st.windows--;
	win_drop(h, w);
}

/*
 * How many of the oldest windows must go so that @need more bytes fit the
 * budget. Evicting a window a query reads frees nothing until the query ends,
 * so only unreferenced windows count as room; the referenced ones in front of
 * them go too (the ring stays in time order). Returns SIZE_MAX when even
 * evicting every window would not make room: then nothing is evicted, or a
 * query over the whole range would empty the history for nothing.
 */
static size_t budget_victims(const struct history *h, size_t need)
{
	size_t charged = h->st.bytes, i;

	for (i = 0; i < h->nr && charged + need > h->o.max_bytes; i++) {
		const struct history_win *w = h->ring[(h->head + i) % h->cap];

		if (!w->refs)
			charged -= w->bytes;
	}
	return charged + need > h->o.max_bytes ? SIZE_MAX : i;
}

/*
 * Drops the partial entry. Called with the lock held. Its samples are not
 * lost (the open window still holds them): nothing counts as evicted. A query
 * still reading it keeps it, charged as pinned, as an evicted window.
 */
static void drop_partial(struct history *h)
{
	struct history_win *w = h->partial;

	if (!w)
		return;
	h->partial = NULL;
	h->st.partial_bytes -= w->bytes;
	win_drop(h, w);
}

static struct history_win *win_new(struct pprof_frozen *f)
{
	struct history_win *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->f = f;
	w->start_ns = pprof_frozen_time(f);
	w->end_ns = w->start_ns + pprof_frozen_duration(f);
	w->bytes = pprof_frozen_bytes(f);
	w->samples = pprof_frozen_total(f);
	return w;
}

bool history_partial_wanted(struct history *h, uint64_t now_mono_ns)
{
	bool wanted;

	pthread_mutex_lock(&h->lock);
	wanted = h->has_query && now_mono_ns - h->last_query_mono_ns < HISTORY_INTEREST_NS;
	pthread_mutex_unlock(&h->lock);
	return wanted;
}

void history_set_partial(struct history *h, struct pprof_frozen *f, int err, bool live)
{
	struct history_win *w = NULL;
	size_t victims;

	if (f && !(w = win_new(f)))
		pprof_frozen_free(f);
	pthread_mutex_lock(&h->lock);
	drop_partial(h);
	h->partial_live = live;
	if (err || (f && !w)) {
		h->st.partials_rejected++;
	} else if (w) {
		/* Room as for a window, but never by retention: it is not closed yet. */
		victims = w->bytes > h->o.max_bytes ? SIZE_MAX : budget_victims(h, w->bytes);
		if (victims == SIZE_MAX) {
			h->st.partials_rejected++;
			win_free(w);
		} else {
			while (victims--)
				evict_oldest(h, &h->st.evicted_budget);
			h->partial = w;
			h->st.partials++;
			h->st.bytes += w->bytes;
			h->st.partial_bytes += w->bytes;
		}
	}
	pthread_cond_broadcast(&h->published);
	pthread_mutex_unlock(&h->lock);
}

void history_push(struct history *h, struct pprof_frozen *f)
{
	struct history_win *w;
	int64_t limit;
	size_t victims;

	if (!f)
		return;
	w = win_new(f);
	if (!w) {
		pthread_mutex_lock(&h->lock);
		drop_partial(h);
		h->st.rejected_too_big++; /* not held either way: counted as a window lost */
		h->st.evicted_samples += (uint64_t)pprof_frozen_total(f);
		pthread_mutex_unlock(&h->lock);
		pprof_frozen_free(f);
		return;
	}

	pthread_mutex_lock(&h->lock);
	/* The closed window replaces the snapshot of it; its room is the window's. */
	drop_partial(h);
	h->st.pushed++;
	if (w->bytes > h->o.max_bytes) {
		h->st.rejected_too_big++;
		h->st.evicted_samples += (uint64_t)w->samples;
		pthread_mutex_unlock(&h->lock);
		win_free(w);
		return;
	}
	limit = w->end_ns - (int64_t)h->o.retention_ns;
	while (h->nr && (h->ring[h->head]->end_ns <= limit || h->nr == h->cap))
		evict_oldest(h, &h->st.evicted_retention);
	victims = budget_victims(h, w->bytes);
	if (victims == SIZE_MAX) {
		/* Queries pin too much right now: lose this window, not the whole history. */
		h->st.rejected_pinned++;
		h->st.evicted_samples += (uint64_t)w->samples;
		pthread_mutex_unlock(&h->lock);
		win_free(w);
		return;
	}
	while (victims--)
		evict_oldest(h, &h->st.evicted_budget);
	h->ring[(h->head + h->nr) % h->cap] = w;
	h->nr++;
	h->st.windows++;
	h->st.bytes += w->bytes;
	h->st.samples += (uint64_t)w->samples;
	pthread_mutex_unlock(&h->lock);
}

/*
 * Waits, the lock held, for the next publication of the partial: the query
 * just marked its interest, so the next drain freezes the open window. Bounded
 * by partial_wait_ns, for a drain that is late or stuck.
 */
static void wait_partial(struct history *h)
{
	uint64_t deadline = mono_ns() + h->o.partial_wait_ns;
	struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000ull),
			      .tv_nsec = (long)(deadline % 1000000000ull)};

	while (!h->partial_live)
		if (pthread_cond_timedwait(&h->published, &h->lock, &ts))
			break;
}

int history_acquire(struct history *h, int64_t from_ns, int64_t to_ns, struct history_view *v)
{
	size_t n = 0;

	memset(v, 0, sizeof(*v));
	v->h = h;
	pthread_mutex_lock(&h->lock);
	h->st.queries++;
	h->has_query = true;
	h->last_query_mono_ns = mono_ns();
	/* A range the closed windows cover in full needs no snapshot: no wait. */
	if (h->o.partial_wait_ns && !h->partial_live &&
	    (!h->nr || to_ns > h->ring[(h->head + h->nr - 1) % h->cap]->end_ns))
		wait_partial(h);
	if (h->nr || h->partial) {
		v->held_from_ns = h->nr ? h->ring[h->head]->start_ns : h->partial->start_ns;
		v->held_to_ns = h->partial ? h->partial->end_ns
					   : h->ring[(h->head + h->nr - 1) % h->cap]->end_ns;
		v->w = calloc(h->nr + 1, sizeof(*v->w));
		v->wins = calloc(h->nr + 1, sizeof(*v->wins));
		if (!v->w || !v->wins) {
			pthread_mutex_unlock(&h->lock);
			free(v->w);
			free(v->wins);
			memset(v, 0, sizeof(*v));
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < h->nr; i++) {
		struct history_win *w = h->ring[(h->head + i) % h->cap];

		if (w->end_ns <= from_ns || w->start_ns >= to_ns)
			continue;
		w->refs++;
		v->wins[n] = w;
		v->w[n++] = w->f;
	}
	if (h->partial && h->partial->end_ns > from_ns && h->partial->start_ns < to_ns) {
		h->partial->refs++;
		v->wins[n] = h->partial;
		v->w[n++] = h->partial->f;
	}
	v->nr = n;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

void history_release(struct history_view *v)
{
	struct history *h = v->h;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < v->nr; i++) {
		struct history_win *w = v->wins[i];

		if (--w->refs == 0 && w->evicted) {
			h->st.bytes -= w->bytes;
			h->st.pinned_bytes -= w->bytes;
			win_free(w);
		}
	}
	pthread_mutex_unlock(&h->lock);
	free(v->w);
	free(v->wins);
	memset(v, 0, sizeof(*v));
}

void history_get_stats(struct history *h, struct history_stats *out)
{
	pthread_mutex_lock(&h->lock);
	*out = h->st;
	if (h->nr) {
		out->oldest_ns = h->ring[h->head]->start_ns;
		out->newest_end_ns = h->ring[(h->head + h->nr - 1) % h->cap]->end_ns;
	}
	pthread_mutex_unlock(&h->lock);
}
