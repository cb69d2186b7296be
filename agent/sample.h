/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The neutral sample: what the drain hands to the sample sinks (the open
 * profile windows, the history window being filled, the CPU metrics), with
 * no trace of where it came from. A counts entry the kernel aggregated and a
 * stack unwound with CFI in user space both arrive as one: no sink sees a
 * BPF key or a stack id.
 *
 * The drain fills the raw part (process, stacks as ips, count) from a
 * drained record, resolves it (process labels, symbolized frames), then
 * calls each sink's add function once. Everything a sample points to is a
 * borrow valid only during that call: a sink copies what it keeps (pprof
 * builders copy every string).
 */
#ifndef STACKD_AGENT_SAMPLE_H
#define STACKD_AGENT_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/pprof.h"
#include "symbolize/symbolizer.h"

/* What became of one stack (kernel or user) of a sample. */
enum sample_stack {
	SAMPLE_STACK_NONE, /* none to take: a user-mode sample has no kernel stack,
			    * a kernel thread no user stack */
	SAMPLE_STACK_OK, /* walked; the ips are in the sample unless they could not be read back */
	SAMPLE_STACK_LOST,   /* walked, but lost in a stack-map collision */
	SAMPLE_STACK_FAILED, /* the walk failed (or an overflowed stack was not found) */
};

struct sample {
	/* The process: (tgid, start time), so that a reused pid is another process. */
	uint32_t tgid;
	uint32_t pid; /* the thread; no sink splits by it today */
	uint64_t start_boottime;
	uint64_t count; /* samples this stands for (all one period of one CPU) */

	/* Raw stacks, leaf first; NULL with nr 0 when absent (see the state). */
	enum sample_stack kstate, ustate;
	const uint64_t *kips, *uips;
	uint32_t nr_kips, nr_uips;
	bool is_dwarf; /* the user stack was unwound from a copy with CFI, not frame pointers */
	/* Time off CPU: count is the periods off CPU, offcpu_ns their length. */
	bool offcpu;
	uint64_t offcpu_ns;
	uint32_t offcpu_reason; /* enum stackd_offcpu_reason */

	/* Resolved by the drain before any sink sees the sample. */
	const struct pprof_label *labels; /* the process's labels (pid and comm at least) */
	size_t nr_labels;
	/* Symbolized stacks; NULL when no sink wanted frames, or they could not be made. */
	const struct sym_result *kframes, *uframes;
};

/*
 * Adds @s to profile @b: kernel frames on top of user frames, a pseudo frame
 * ("[user stack lost: stack map collision]", ...) for a stack that is known
 * to be missing, "[no stack]" when nothing is left. Returns 0 or -ENOMEM.
 */
int sample_add_to_profile(struct pprof_builder *b, const struct sample *s);

/* The offcpu_reason label's value for an enum stackd_offcpu_reason ("other" when unknown). */
const char *sample_offcpu_reason(uint32_t reason);

#endif
