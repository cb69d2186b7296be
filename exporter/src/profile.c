// SPDX-License-Identifier: Apache-2.0
#include "exporter/profile.h"

int profile_merge(const struct profile_query *q, const struct pprof_frozen *const *w, size_t nr,
		  struct pprof_builder **out, int64_t *duration_ns)
{
	struct pprof_opts opts = {.period_ns = q->period_ns, .kind = q->kind};
	struct pprof_builder *b = NULL;
	struct label_select ls;
	struct pprof_select sel;
	int err;

	*out = NULL;
	*duration_ns = 0;
	if (nr) {
		opts.time_nanos = pprof_frozen_time(w[0]);
		*duration_ns = pprof_frozen_time(w[nr - 1]) + pprof_frozen_duration(w[nr - 1]) -
			       opts.time_nanos;
	}
	label_select_init(&sel, &ls, q->filter, q->label_mask);
	err = pprof_builder_new(&opts, &b);
	for (size_t i = 0; !err && i < nr; i++)
		err = pprof_merge(b, w[i], &sel);
	if (err)
		goto cleanup;
	*out = b;
	b = NULL;
cleanup:
	pprof_builder_free(b);
	return err;
}
