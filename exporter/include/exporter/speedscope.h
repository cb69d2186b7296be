/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Speedscope file writer (https://www.speedscope.app/file-format-schema.json).
 *
 * Stacks in (root first, as the folded format has them), one JSON document
 * out: shared.frames holds every distinct frame name once, and there is one
 * "sampled" profile per distinct root frame (the pages put the process's comm
 * there), busiest first, each sample an array of frame indices root first
 * with its weight (a sample count, unit "none", or a time in the meta's
 * unit). Identical stacks of a
 * profile are merged. Why one profile per comm: speedscope's own importers
 * (perf script, py-spy, Chrome traces) give one profile per process or
 * thread and its profile selector switches between them; its left-heavy and
 * sandwich views are about one program, so mixing the node's processes in one
 * profile would rank a function of one program against those of all others.
 * Keeping the comm as each sample's root frame makes the samples the lines of
 * /debug/pprof/folded: all profiles' weights together are the folded total.
 *
 * Frame names are untrusted (symbol tables and JIT maps of hostile
 * processes): each is cut to SPEEDSCOPE_MAX_NAME bytes on a character
 * boundary, invalid UTF-8 becomes U+FFFD and '"', '\' and control bytes are
 * escaped (\u00XX), so that every string of the file is valid UTF-8 JSON.
 * Names are deduplicated after that repair.
 *
 * Bound: the writer is given the answer's byte budget; speedscope_add fails
 * with -ENOSPC as soon as the stacks held would need more than that in the
 * file (so what it holds stays within a small multiple of the budget), and
 * speedscope_write fails with -ENOSPC when the file does not fit in @out.
 *
 * Not thread-safe; the writer copies every string it is given.
 */
#ifndef STACKD_EXPORTER_SPEEDSCOPE_H
#define STACKD_EXPORTER_SPEEDSCOPE_H

#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

#define SPEEDSCOPE_SCHEMA   "https://www.speedscope.app/file-format-schema.json"
#define SPEEDSCOPE_MAX_NAME 4096u

struct speedscope;

/* @max_sz: the file's byte budget (0: none). */
int speedscope_new(size_t max_sz, struct speedscope **out);
void speedscope_free(struct speedscope *ss);

/*
 * Add @weight samples of one stack: frames[0] is the root and names the
 * profile, frames[nr - 1] the leaf. Returns 0, -EINVAL (nr == 0 or a NULL
 * frame), -ENOSPC (over the budget; nothing is added) or -ENOMEM.
 */
int speedscope_add(struct speedscope *ss, const char *const *frames, size_t nr, uint64_t weight);

struct speedscope_meta {
	const char *name;     /* the file's name, shown by speedscope; NULL: "stackd" */
	const char *exporter; /* e.g. "stackd 1.2.3"; NULL: "stackd" */
	/* The weights' unit in speedscope's words ("microseconds"); NULL: "none" (samples). */
	const char *unit;
};

/*
 * Append the JSON document (and a newline) to @out, all or nothing: on error
 * @out is left as it was. Returns 0, -ENOSPC (@out's cap) or -ENOMEM.
 */
int speedscope_write(const struct speedscope *ss, const struct speedscope_meta *meta,
		     struct strbuf *out);

/* Append @len bytes of @s as the inside of a JSON string (repaired, escaped, not cut). */
int speedscope_json_escape(struct strbuf *sb, const char *s, size_t len);

#endif
