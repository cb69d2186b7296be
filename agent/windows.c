// SPDX-License-Identifier: Apache-2.0
#include "windows.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/list.h"

enum window_state {
	WINDOW_PENDING,	  /* registered; starts at the next drain */
	WINDOW_ACTIVE,	  /* receiving drained samples */
	WINDOW_DONE,	  /* closed at a drain; the requester owns the builder */
	WINDOW_ABORTED,	  /* shutdown or error before it closed */
	WINDOW_CANCELLED, /* the client went away while ACTIVE: the next drain frees it */
};

/* One profile request's window. Every field but @b is guarded by windows.lock. */
struct window {
	struct list_head node;
	unsigned seconds;
	enum window_state state;
	uint64_t reg_mono_ns; /* when the request registered it */
	uint64_t start_mono_ns;
	uint64_t end_mono_ns;
	uint64_t duration_ns;
	int err;
	/* Written only by the drain thread while ACTIVE, then by the requester. */
	struct pprof_builder *b;
	void *waiter; /* told once DONE or ABORTED */
	bool is_notified;
};

struct windows {
	struct windows_opts o;
	pthread_mutex_t lock; /* guards the list, every window's state and is_closed */
	struct list_head list;
	unsigned nr;
	bool is_closed; /* windows_abort() ran: no new window */
	/* Drain thread only: the profiles of the windows ACTIVE at this drain's swap. */
	struct pprof_builder **sinks;
	size_t nr_sinks;
};

int windows_new(const struct windows_opts *o, struct windows **out)
{
	struct windows *ws = calloc(1, sizeof(*ws));

	if (!ws)
		return -ENOMEM;
	ws->sinks = calloc(o->max_windows ? o->max_windows : 1, sizeof(*ws->sinks));
	if (!ws->sinks) {
		free(ws);
		return -ENOMEM;
	}
	ws->o = *o;
	list_init(&ws->list);
	pthread_mutex_init(&ws->lock, NULL);
	*out = ws;
	return 0;
}

static void window_free(struct window *w)
{
	pprof_builder_free(w->b);
	free(w);
}

void windows_free(struct windows *ws)
{
	if (!ws)
		return;
	while (ws->list.next != &ws->list) {
		struct window *w = list_entry(ws->list.next, struct window, node);

		list_del(&w->node);
		window_free(w);
	}
	pthread_mutex_destroy(&ws->lock);
	free(ws->sinks);
	free(ws);
}

int windows_open(struct windows *ws, unsigned seconds, uint64_t now_ns, void *waiter,
		 struct window **out)
{
	struct window *w = calloc(1, sizeof(*w));
	int err = 0;

	if (!w)
		return -ENOMEM;
	w->seconds = seconds;
	w->state = WINDOW_PENDING;
	w->reg_mono_ns = now_ns;
	w->waiter = waiter;

	pthread_mutex_lock(&ws->lock);
	if (ws->is_closed)
		err = -ESHUTDOWN;
	else if (ws->nr >= ws->o.max_windows)
		err = -EBUSY;
	if (!err) {
		list_add_tail(&w->node, &ws->list);
		ws->nr++;
	}
	pthread_mutex_unlock(&ws->lock);
	if (err) {
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

void windows_take(struct windows *ws, struct window *w, struct window_result *res)
{
	pthread_mutex_lock(&ws->lock);
	list_del(&w->node);
	ws->nr--;
	pthread_mutex_unlock(&ws->lock);
	*res = (struct window_result){
	    .is_done = w->state == WINDOW_DONE,
	    .err = w->err,
	    .duration_ns = w->duration_ns,
	};
	if (res->is_done) {
		res->b = w->b;
		w->b = NULL;
	}
	window_free(w);
}

void windows_cancel(struct windows *ws, struct window *w)
{
	pthread_mutex_lock(&ws->lock);
	if (w->state == WINDOW_ACTIVE) {
		/* The drain may be writing its builder right now: it frees it after. */
		w->state = WINDOW_CANCELLED;
		pthread_mutex_unlock(&ws->lock);
		return;
	}
	list_del(&w->node);
	ws->nr--;
	pthread_mutex_unlock(&ws->lock);
	window_free(w);
}

/*
 * Under the lock, where the drain no longer writes any builder: tell the
 * requesters of windows that closed, and free the ones whose client went
 * away while they were ACTIVE.
 */
static void notify_locked(struct windows *ws)
{
	struct list_head *pos = ws->list.next;

	while (pos != &ws->list) {
		struct window *w = list_entry(pos, struct window, node);

		pos = pos->next;
		if (w->state == WINDOW_CANCELLED) {
			list_del(&w->node);
			ws->nr--;
			window_free(w);
		} else if ((w->state == WINDOW_DONE || w->state == WINDOW_ABORTED) &&
			   !w->is_notified) {
			w->is_notified = true;
			if (ws->o.notify)
				ws->o.notify(w->waiter);
		}
	}
}

void windows_drain_begin(struct windows *ws)
{
	struct list_head *pos;

	/* Windows change state only in windows_drain_end: the ACTIVE set is stable until then. */
	ws->nr_sinks = 0;
	pthread_mutex_lock(&ws->lock);
	for (pos = ws->list.next; pos != &ws->list; pos = pos->next) {
		struct window *w = list_entry(pos, struct window, node);

		if (w->state == WINDOW_ACTIVE && ws->nr_sinks < ws->o.max_windows)
			ws->sinks[ws->nr_sinks++] = w->b;
	}
	pthread_mutex_unlock(&ws->lock);
}

bool windows_want_samples(const struct windows *ws)
{
	return ws->nr_sinks > 0;
}

unsigned windows_add(struct windows *ws, const struct sample *s)
{
	unsigned failed = 0;

	for (size_t i = 0; i < ws->nr_sinks; i++)
		if (sample_add_to_profile(ws->sinks[i], s))
			failed++;
	return failed;
}

void windows_drain_end(struct windows *ws, uint64_t t0, int64_t t0_unix)
{
	struct list_head *pos;

	ws->nr_sinks = 0;
	pthread_mutex_lock(&ws->lock);
	for (pos = ws->list.next; pos != &ws->list; pos = pos->next) {
		struct window *w = list_entry(pos, struct window, node);

		/*
		 * The swap at the start of this drain is the window's boundary:
		 * a window closes once that swap is at or past its end; a pending
		 * one opens at it.
		 */
		if (w->state == WINDOW_ACTIVE && t0 >= w->end_mono_ns) {
			w->state = WINDOW_DONE;
			w->duration_ns = t0 - w->start_mono_ns;
		} else if (w->state == WINDOW_PENDING && w->reg_mono_ns <= t0) {
			/*
			 * Registered before this drain's swap: it opens there. One
			 * registered during the drain waits for the next swap (at
			 * once), else it would hold samples from before its request.
			 */
			struct pprof_opts popts = {.period_ns = ws->o.period_ns,
						   .kind = ws->o.kind,
						   .time_nanos = t0_unix};

			w->start_mono_ns = t0;
			w->end_mono_ns = t0 + (uint64_t)w->seconds * 1000000000ULL;
			w->err = pprof_builder_new(&popts, &w->b);
			w->state = w->err ? WINDOW_ABORTED : WINDOW_ACTIVE;
		}
	}
	notify_locked(ws);
	pthread_mutex_unlock(&ws->lock);
}

uint64_t windows_next_deadline(struct windows *ws, uint64_t deadline, bool *is_pending)
{
	struct list_head *pos;

	*is_pending = false;
	pthread_mutex_lock(&ws->lock);
	for (pos = ws->list.next; pos != &ws->list; pos = pos->next) {
		struct window *w = list_entry(pos, struct window, node);

		if (w->state == WINDOW_PENDING)
			*is_pending = true;
		else if (w->state == WINDOW_ACTIVE && w->end_mono_ns < deadline)
			deadline = w->end_mono_ns;
	}
	pthread_mutex_unlock(&ws->lock);
	return deadline;
}

void windows_abort(struct windows *ws)
{
	struct list_head *pos;

	pthread_mutex_lock(&ws->lock);
	ws->is_closed = true;
	for (pos = ws->list.next; pos != &ws->list; pos = pos->next) {
		struct window *w = list_entry(pos, struct window, node);

		if (w->state == WINDOW_PENDING || w->state == WINDOW_ACTIVE)
			w->state = WINDOW_ABORTED;
	}
	notify_locked(ws);
	pthread_mutex_unlock(&ws->lock);
}

unsigned windows_count(struct windows *ws)
{
	unsigned nr;

	pthread_mutex_lock(&ws->lock);
	nr = ws->nr;
	pthread_mutex_unlock(&ws->lock);
	return nr;
}
