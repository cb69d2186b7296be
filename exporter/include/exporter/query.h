/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every parser of request arguments, in one place: the request target
 * (http.c), ?seconds= of /debug/pprof/profile, the time range of the history
 * endpoints (seconds=, start=, end=) and the label filters (pid, comm,
 * container, cgroup, unit) of every profile endpoint. All input is untrusted:
 * bounded, validated, and refused with a message that says what is wrong.
 * Pure functions over NUL-terminated strings: no allocation, no MHD, any thread.
 */
#ifndef STACKD_EXPORTER_QUERY_H
#define STACKD_EXPORTER_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "exporter/labels.h"

/* ---- the raw request target (http.c, before anything is decoded) ---------------------------- */

/* Most digits accepted in ?seconds= (the value must also fit the maximum). */
#define HTTP_SECONDS_MAX_DIGITS 10

enum seconds_err {
	SECONDS_OK,
	SECONDS_INVALID,
	SECONDS_DUPLICATE,
	SECONDS_TOO_LARGE,
};

/* NULL when @uri is acceptable, else the reason (bad %-encoding, NUL, control bytes). */
const char *uri_check(const char *uri);
/* Form-decode s[0..n) into out; the decoded length, or -1 when it does not fit. */
int form_decode(const char *s, size_t n, char *out, size_t out_sz);
/* Find ?seconds= in a raw query: strictly 1..10 digits, non-zero, at most once. */
enum seconds_err parse_seconds(const char *query, unsigned max, unsigned *seconds);

/* ---- arguments already decoded (the server's http_req_arg()) -------------------------------- */

/* A request's decoded arguments by name: get() returns NULL when @name is absent. */
struct query_args {
	const char *(*get)(const void *ctx, const char *name);
	const void *ctx;
};

/*
 * A time argument (start=, end=): Unix seconds with an optional fraction
 * ("1700000000", "1700000000.25") or RFC 3339 with Z or an offset
 * ("2026-11-22T03:00:00Z") -> Unix ns. -EINVAL for anything else.
 */
int query_parse_time(const char *s, int64_t *ns);

/* The range of a history query without seconds=, start= or end=: the last minute. */
#define QUERY_DEFAULT_SECONDS 60

/*
 * The time range of a history query, [*from_ns, *to_ns) in Unix ns: seconds=N
 * (the last N seconds before @now_ns, 1..@max_seconds), or start= and/or end=
 * (query_parse_time; end defaults to @now_ns, start to QUERY_DEFAULT_SECONDS
 * before end), not both. 0, or -EINVAL with the message for a 400 in @why.
 */
int query_parse_range(const struct query_args *args, int64_t now_ns, uint64_t max_seconds,
		      int64_t *from_ns, int64_t *to_ns, char *why, size_t why_sz);

/*
 * The base range of a differential flame graph, base=FROM,TO (two times as
 * query_parse_time takes them, FROM before TO) -> [*from_ns, *to_ns).
 * -EINVAL for anything else.
 */
int query_parse_base(const char *s, int64_t *from_ns, int64_t *to_ns);

/* Filter query arguments, in the order they are documented. */
extern const char *const label_filter_args[5]; /* pid, comm, container, cgroup, unit */

/*
 * Apply query argument @arg (one of label_filter_args) with @value to @f.
 * Returns NULL, or a message saying what is wrong with the value.
 */
const char *label_filter_set(struct label_filter *f, const char *arg, const char *value);

/*
 * Every filter argument of a request into @f (zeroed first). 0, or -EINVAL
 * with the message for a 400 in @why (the first bad argument's).
 */
int query_parse_filter(const struct query_args *args, struct label_filter *f, char *why,
		       size_t why_sz);

#endif
