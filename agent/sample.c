// SPDX-License-Identifier: Apache-2.0
#include "sample.h"

#include <errno.h>
#include <string.h>

#include "exporter/labels.h"
#include "stackd.h"

/* Fake addresses for pseudo frames, so each kind dedups to one Location. */
enum pseudo_frame {
	PSEUDO_USTACK_COLLISION = 1,
	PSEUDO_KSTACK_COLLISION,
	PSEUDO_USTACK_MISSING,
	PSEUDO_KSTACK_MISSING,
	PSEUDO_NO_STACK,
};

static const char *const pseudo_names[] = {
    [PSEUDO_USTACK_COLLISION] = "[user stack lost: stack map collision]",
    [PSEUDO_KSTACK_COLLISION] = "[kernel stack lost: stack map collision]",
    [PSEUDO_USTACK_MISSING] = "[user stack unavailable]",
    [PSEUDO_KSTACK_MISSING] = "[kernel stack unavailable]",
    [PSEUDO_NO_STACK] = "[no stack]",
};

static int add_pseudo(struct pprof_builder *b, enum pseudo_frame kind, uint64_t *id)
{
	struct pprof_line line = {.function = pseudo_names[kind]};

	return pprof_add_location(b, 0, kind, &line, 1, id);
}

/* Locations of one symbolized stack into @b, appended to ids[*nr]. */
static int add_frames(struct pprof_builder *b, const struct sym_result *r, uint64_t *ids,
		      size_t *nr, size_t cap)
{
	struct pprof_line lines[16];
	int err;

	for (size_t i = 0; i < r->nr && *nr < cap; i++) {
		const struct sym_frame *f = &r->frames[i];
		uint64_t map_id = 0;
		size_t nl = f->nr_lines < 16 ? f->nr_lines : 16;

		if (f->mapping) {
			struct pprof_mapping m = {
			    .start = f->mapping->start,
			    .limit = f->mapping->limit,
			    .offset = f->mapping->offset,
			    .filename = f->mapping->path,
			    .build_id = f->mapping->build_id,
			    .has_functions = f->mapping->has_functions,
			    .has_filenames = f->mapping->has_filenames,
			    .has_line_numbers = f->mapping->has_line_numbers,
			    .has_inline_frames = f->mapping->has_inline_frames,
			};

			err = pprof_add_mapping(b, &m, &map_id);
			if (err)
				return err;
		}
		for (size_t j = 0; j < nl; j++) {
			lines[j] = (struct pprof_line){
			    .function = f->lines[j].function,
			    .system_name = f->lines[j].system_name,
			    .filename = f->lines[j].file,
			    .start_line = f->lines[j].start_line,
			    .line = f->lines[j].line,
			};
		}
		err = pprof_add_location(b, map_id, f->addr, lines, nl, &ids[*nr]);
		if (err)
			return err;
		(*nr)++;
	}
	return 0;
}

const char *sample_offcpu_reason(uint32_t reason)
{
	static const char *const reasons[STACKD_OFFCPU__MAX] = {
	    [STACKD_OFFCPU_PREEMPTED] = "preempted",
	    [STACKD_OFFCPU_SLEEP] = "sleep",
	    [STACKD_OFFCPU_DISK] = "disk",
	    [STACKD_OFFCPU_OTHER] = "other",
	};

	return reasons[reason < STACKD_OFFCPU__MAX ? reason : STACKD_OFFCPU_OTHER];
}

/*
 * The sample's values and labels as @b's kind wants them: a CPU profile takes
 * CPU samples; an off-CPU profile periods off CPU (their ns, and why); a wall
 * profile both, with the thread's id, CPU samples weighing one period each.
 */
static int add_sample(struct pprof_builder *b, const struct sample *s, const uint64_t *ids,
		      size_t nr)
{
	enum pprof_kind kind = pprof_builder_kind(b);
	struct pprof_label labels[LABEL__MAX + 2];
	size_t nl = s->nr_labels < LABEL__MAX ? s->nr_labels : LABEL__MAX;
	uint64_t ns;

	if (kind == PPROF_KIND_CPU && !s->offcpu)
		return pprof_add_sample(b, ids, nr, (int64_t)s->count, s->labels, s->nr_labels);
	if (kind == PPROF_KIND_CPU || (kind == PPROF_KIND_OFFCPU && !s->offcpu))
		return -EINVAL;
	memcpy(labels, s->labels, nl * sizeof(labels[0]));
	if (s->offcpu) {
		labels[nl++] = (struct pprof_label){.key = "offcpu_reason",
						    .str = sample_offcpu_reason(s->offcpu_reason)};
		ns = s->offcpu_ns;
	} else if (__builtin_mul_overflow(s->count, pprof_builder_period(b), &ns)) {
		ns = INT64_MAX;
	}
	if (kind == PPROF_KIND_WALL)
		labels[nl++] = (struct pprof_label){.key = "tid", .num = (int64_t)s->pid};
	return pprof_add_sample_value(b, ids, nr, (int64_t)s->count,
				      ns > INT64_MAX ? INT64_MAX : (int64_t)ns, labels, nl);
}

int sample_add_to_profile(struct pprof_builder *b, const struct sample *s)
{
	uint64_t ids[2 * STACKD_MAX_STACK_DEPTH + 2];
	const size_t cap = sizeof(ids) / sizeof(ids[0]);
	size_t nr = 0;
	int err = 0;

	/*
	 * Leaf first: kernel frames sit on top of the user frames. A kernel
	 * stack that was walked but not symbolized adds nothing; a user stack
	 * that should be there and is not says so.
	 */
	if (s->kframes)
		err = add_frames(b, s->kframes, ids, &nr, cap - 2);
	else if (s->kstate == SAMPLE_STACK_LOST)
		err = add_pseudo(b, PSEUDO_KSTACK_COLLISION, &ids[nr++]);
	else if (s->kstate == SAMPLE_STACK_FAILED)
		err = add_pseudo(b, PSEUDO_KSTACK_MISSING, &ids[nr++]);
	if (!err && s->uframes)
		err = add_frames(b, s->uframes, ids, &nr, cap - 1);
	else if (!err && s->ustate == SAMPLE_STACK_LOST)
		err = add_pseudo(b, PSEUDO_USTACK_COLLISION, &ids[nr++]);
	else if (!err && s->ustate != SAMPLE_STACK_NONE)
		err = add_pseudo(b, PSEUDO_USTACK_MISSING, &ids[nr++]);
	if (!err && nr == 0)
		err = add_pseudo(b, PSEUDO_NO_STACK, &ids[nr++]);
	if (err)
		return err;
	return add_sample(b, s, ids, nr);
}
