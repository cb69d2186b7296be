/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The served profile: the one path from frozen windows to what a profile
 * endpoint answers. /debug/pprof/profile (the request's own window, frozen
 * when it closes), /debug/pprof/history, /debug/pprof/folded and /flamegraph
 * (the history's windows in a range) all merge through profile_merge(): only
 * the samples the filter keeps, with only the label keys asked for, samples
 * that become equal summed.
 *
 * Pure over its inputs: the windows are only read (any thread, any number
 * at once, as the history allows); the builder returned is the caller's.
 */
#ifndef STACKD_EXPORTER_PROFILE_H
#define STACKD_EXPORTER_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "exporter/labels.h"
#include "exporter/pprof.h"

struct profile_query {
	const struct label_filter *filter; /* NULL or inactive: every sample */
	uint32_t label_mask;		   /* label keys kept: 1u << enum label_key */
	uint64_t period_ns;		   /* of the windows and the answer */
	enum pprof_kind kind;		   /* of the windows and the answer */
};

/*
 * Merge the windows w[0..nr) (oldest first; nr may be 0) into a new builder
 * *out whose time is w[0]'s start. *duration_ns: from w[0]'s start to
 * w[nr - 1]'s end (0 when nr is 0), what pprof_encode() wants. The windows
 * may be released as soon as this returns. 0 or -errno; *out is NULL on error.
 */
int profile_merge(const struct profile_query *q, const struct pprof_frozen *const *w, size_t nr,
		  struct pprof_builder **out, int64_t *duration_ns);

#endif
