/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The non-blocking pages, answered from the profile history:
 *
 *   /                      the processes that burned CPU over the last minute, with links
 *   /debug/pprof/history   pprof (gzip) of a time range
 *   /debug/pprof/folded    collapsed stacks (Brendan Gregg's format: comm;root;...;leaf N)
 *   /debug/pprof/speedscope  the same stacks as a speedscope file (exporter/speedscope.h)
 *   /flamegraph            a self-contained interactive flame graph page
 *
 * Time range (query arguments): seconds=N (the last N seconds; default 60),
 * or start= and/or end= as Unix seconds or RFC 3339 UTC
 * (2026-11-22T03:00:00Z). A window is in the range when it overlaps it, so
 * answers are in whole --history.window steps; the window being filled is
 * in them up to the last drain (exporter/history.h). Filters: pid, comm,
 * container, cgroup, unit (see exporter/labels.h; parsed by
 * exporter/query.h), as on /debug/pprof/profile.
 *
 * Profile type (all but /): type=cpu (the default), offcpu or wall, the
 * history of /debug/pprof/profile, /debug/pprof/offcpu or /debug/pprof/wall.
 * Folded stacks, speedscope and the flame graph weigh CPU stacks in samples
 * and off-CPU and wall stacks in microseconds.
 */
#ifndef STACKD_EXPORTER_PAGES_H
#define STACKD_EXPORTER_PAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "exporter/http.h"
#include "exporter/history.h"
#include "exporter/labels.h"

struct pages_ctx {
	/*
	 * The history of each profile type, by enum pprof_kind; NULL: none
	 * (--history.retention=0, or no off-CPU profiling for the other two).
	 */
	struct history *hist[PPROF_NR_KINDS];
	uint32_t label_mask; /* --profiling.labels */
	uint64_t period_ns;
	uint64_t window_ns, retention_ns;
};

void pages_serve(const struct pages_ctx *c, enum http_page page, const struct http_profile_req *req,
		 struct http_reply *reply);

/* The filter arguments of a request; false with a 400 in @reply when one is bad. */
bool pages_parse_filter(const struct http_profile_req *req, struct label_filter *f,
			struct http_reply *reply);

#endif
