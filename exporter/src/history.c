// SPDX-License-Identifier: Apache-2.0
#include "exporter/history.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	*out = h;
	return 0;
}

static void win_free(struct history_win *w)
{
	pprof_frozen_free(w->f);
	free(w);
}

void history_free(struct history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nr; i++)
		win_free(h->ring[(h->head + i) % h->cap]);
	free(h->ring);
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
	if (w->refs) {
		w->evicted = true;
		h->st.pinned_bytes += w->bytes;
		return;
	}
	h->st.bytes -= w->bytes;
	win_free(w);
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

void history_push(struct history *h, struct pprof_frozen *f)
{
	struct history_win *w;
	int64_t limit;
	size_t victims;

	if (!f)
		return;
	w = calloc(1, sizeof(*w));
	if (!w) {
		pthread_mutex_lock(&h->lock);
		h->st.rejected_too_big++; /* not held either way: counted as a window lost */
		h->st.evicted_samples += (uint64_t)pprof_frozen_total(f);
		pthread_mutex_unlock(&h->lock);
		pprof_frozen_free(f);
		return;
	}
	w->f = f;
	w->start_ns = pprof_frozen_time(f);
	w->end_ns = w->start_ns + pprof_frozen_duration(f);
	w->bytes = pprof_frozen_bytes(f);
	w->samples = pprof_frozen_total(f);

	pthread_mutex_lock(&h->lock);
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

int history_acquire(struct history *h, int64_t from_ns, int64_t to_ns, struct history_view *v)
{
	size_t n = 0;

	memset(v, 0, sizeof(*v));
	v->h = h;
	pthread_mutex_lock(&h->lock);
	h->st.queries++;
	if (h->nr) {
		v->held_from_ns = h->ring[h->head]->start_ns;
		v->held_to_ns = h->ring[(h->head + h->nr - 1) % h->cap]->end_ns;
		v->w = calloc(h->nr, sizeof(*v->w));
		v->wins = calloc(h->nr, sizeof(*v->wins));
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
