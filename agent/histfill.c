// SPDX-License-Identifier: Apache-2.0
#include "histfill.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#include "common/clock.h"

struct histfill {
	struct history *hist;
	uint64_t window_ns, period_ns;
	enum pprof_kind kind;
	struct pprof_builder *b; /* NULL until the first rotate, or when it failed */
	uint64_t start_mono_ns;
	int64_t start_unix_ns;
	bool published; /* the history holds (or may hold) a partial of ours */
};

int histfill_new(struct history *hist, uint64_t window_ns, uint64_t period_ns, enum pprof_kind kind,
		 struct histfill **out)
{
	struct histfill *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->hist = hist;
	f->window_ns = window_ns;
	f->period_ns = period_ns;
	f->kind = kind;
	*out = f;
	return 0;
}

void histfill_free(struct histfill *f)
{
	if (!f)
		return;
	pprof_builder_free(f->b);
	free(f);
}

int histfill_rotate(struct histfill *f, uint64_t t0, int64_t t0_unix)
{
	struct pprof_opts popts = {
	    .period_ns = f->period_ns, .kind = f->kind, .time_nanos = t0_unix};
	struct pprof_frozen *fz = NULL;
	int err = 0;

	if (f->b && t0 - f->start_mono_ns < f->window_ns)
		return 0;
	if (f->b) {
		err = pprof_freeze(f->b, (int64_t)(t0 - f->start_mono_ns), &fz);
		if (!err)
			history_push(f->hist, fz);
		pprof_builder_free(f->b);
		f->b = NULL;
		/* The window's hash tables are gone: give the pages back. */
		malloc_trim(0);
	}
	if (pprof_builder_new(&popts, &f->b) == 0) {
		f->start_mono_ns = t0;
		f->start_unix_ns = t0_unix;
	}
	return err;
}

int histfill_publish(struct histfill *f, uint64_t t0)
{
	struct pprof_frozen *fz = NULL;
	int err = 0;

	if (!history_partial_wanted(f->hist, mono_ns())) {
		/* Nobody looks: spare the freezes and give the bytes back. */
		if (f->published)
			history_set_partial(f->hist, NULL, 0, false);
		f->published = false;
		return 0;
	}
	/* A window opened at this drain is empty: NULL says so (the closed one covers it). */
	if (f->b && pprof_builder_nr_samples(f->b))
		err = pprof_freeze(f->b, (int64_t)(t0 - f->start_mono_ns), &fz);
	history_set_partial(f->hist, fz, err, true);
	f->published = true;
	return err;
}

bool histfill_wants_samples(const struct histfill *f)
{
	return f->b != NULL;
}

int histfill_add(struct histfill *f, const struct sample *s)
{
	return f->b ? sample_add_to_profile(f->b, s) : 0;
}
