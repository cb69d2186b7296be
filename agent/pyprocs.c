// SPDX-License-Identifier: Apache-2.0
#include "pyprocs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "objprobe.h"
#include "symbolize/python.h"

struct pyprocs {
	struct pyprocs_ops ops;
	struct objprobe *probes; /* struct py_runtime of each file */
	struct pyprocs_stats st;
};

static int probe_fd(int fd, void *out)
{
	return py_runtime_probe_fd(fd, out);
}

int pyprocs_new(const char *proc_root, const struct pyprocs_ops *ops, struct pyprocs **out)
{
	struct pyprocs *pp = calloc(1, sizeof(*pp));
	int err;

	*out = NULL;
	if (!pp)
		return -ENOMEM;
	err = objprobe_new(proc_root, PYPROCS_CACHE, sizeof(struct py_runtime), probe_fd,
			   &pp->probes);
	if (err) {
		free(pp);
		return err;
	}
	pp->ops = *ops;
	*out = pp;
	return 0;
}

void pyprocs_free(struct pyprocs *pp)
{
	if (!pp)
		return;
	objprobe_free(pp->probes);
	free(pp);
}

/* A candidate: a mapping of a file named python* or libpython* (snapshots hold executable ones). */
static bool is_candidate(const struct procmap *m)
{
	const char *base;

	if (!m->inode || m->path[0] != '/')
		return false;
	base = strrchr(m->path, '/') + 1;
	return !strncmp(base, "python", 6) || !strncmp(base, "libpython", 9);
}

/* The runtime in @m's file (probed once per file), or NULL: none, or no layout. */
static const struct py_runtime *probe(struct pyprocs *pp, uint32_t tgid, const struct procmap *m)
{
	const struct py_runtime *rt;
	bool is_new;
	int err;

	rt = objprobe_get(pp->probes, tgid, m, &err, &is_new);
	if (!rt)
		return NULL;
	if (is_new)
		pp->st.probes++;
	if (is_new && err == -ENOTSUP) {
		pp->st.unsupported++;
		pr_info("pid %u maps CPython %u.%u (%s): no layout for that version, its Python "
			"frames are not named",
			tgid, rt->hexversion >> 24, rt->hexversion >> 16 & 0xff, m->path);
	}
	return err ? NULL : rt;
}

struct field {
	uint16_t off, size;
};

/*
 * The bytes the walk reads at once to get @f's fields: from the first to the end of the
 * last. A layout whose fields lie further apart than STACKD_PY_WIN gets none (len 0):
 * the walk then records no Python frame of it.
 */
static void win(uint16_t *at, uint8_t *len, const struct field *f, size_t n)
{
	uint32_t lo = UINT16_MAX, hi = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (f[i].off < lo)
			lo = f[i].off;
		if ((uint32_t)f[i].off + f[i].size > hi)
			hi = (uint32_t)f[i].off + f[i].size;
	}
	*at = (uint16_t)lo;
	*len = hi - lo <= STACKD_PY_WIN ? (uint8_t)(hi - lo) : 0;
}

static void fill(struct stackd_py_proc *e, uint64_t start, const struct py_runtime *rt,
		 uint64_t bias)
{
	const struct py_layout *l = rt->layout;

	memset(e, 0, sizeof(*e));
	e->start_boottime = start;
	e->runtime = rt->runtime + bias;
	e->eval_lo = rt->eval_lo ? rt->eval_lo + bias : 0;
	e->eval_hi = rt->eval_hi ? rt->eval_hi + bias : 0;
	e->code_type = rt->code_type + bias;
	e->str_type = rt->str_type + bias;
	e->bytes_type = rt->bytes_type + bias;
	e->off[STACKD_PY_RUNTIME_INTERP_HEAD] = l->runtime_interp_head;
	e->off[STACKD_PY_INTERP_THREADS_HEAD] = l->interp_threads_head;
	e->off[STACKD_PY_TSTATE_NEXT] = l->tstate_next;
	e->off[STACKD_PY_TSTATE_NATIVE_TID] = l->tstate_native_tid;
	e->off[STACKD_PY_TSTATE_CFRAME] = l->tstate_cframe;
	e->off[STACKD_PY_CFRAME_CURRENT_FRAME] = l->cframe_current_frame;
	e->off[STACKD_PY_FRAME_CODE] = l->frame_code;
	e->off[STACKD_PY_FRAME_PREVIOUS] = l->frame_previous;
	e->off[STACKD_PY_FRAME_PREV_INSTR] = l->frame_prev_instr;
	e->off[STACKD_PY_FRAME_IS_ENTRY] = l->frame_is_entry;
	e->off[STACKD_PY_FRAME_OWNER] = l->frame_owner;
	e->off[STACKD_PY_CODE_FILENAME] = l->code_filename;
	e->off[STACKD_PY_CODE_QUALNAME] = l->code_qualname;
	e->off[STACKD_PY_CODE_LINETABLE] = l->code_linetable;
	e->off[STACKD_PY_CODE_FIRSTLINENO] = l->code_firstlineno;
	e->off[STACKD_PY_CODE_FIRSTTRACEABLE] = l->code_firsttraceable;
	e->off[STACKD_PY_CODE_CODE] = l->code_code;
	e->off[STACKD_PY_BYTES_SIZE] = l->bytes_size;
	e->off[STACKD_PY_BYTES_DATA] = l->bytes_data;
	e->off[STACKD_PY_STR_LENGTH] = l->str_length;
	e->off[STACKD_PY_STR_STATE] = l->str_state;
	e->off[STACKD_PY_STR_ASCII_DATA] = l->str_ascii_data;
	e->off[STACKD_PY_STR_COMPACT_DATA] = l->str_compact_data;
	e->owned_by_generator = l->frame_owned_by_generator;
	win(&e->frame_win, &e->frame_len,
	    (const struct field[]){{l->frame_code, 8},
				   {l->frame_previous, 8},
				   {l->frame_prev_instr, 8},
				   {l->frame_is_entry, 1},
				   {l->frame_owner, 1}},
	    5);
	win(&e->code_win, &e->code_len,
	    (const struct field[]){{l->code_qualname, 8}, {l->code_firsttraceable, 4}}, 2);
}

void pyprocs_update(struct pyprocs *pp, uint32_t tgid, uint64_t start_boottime,
		    const struct procmaps *maps)
{
	struct stackd_py_proc e;
	size_t i;

	for (i = 0; maps && i < maps->nr; i++) {
		const struct procmap *m = &maps->maps[i];
		const struct py_runtime *rt;
		uint64_t bias;

		if (!is_candidate(m))
			continue;
		rt = probe(pp, tgid, m);
		if (!rt || py_runtime_bias(rt, m->start, m->offset, &bias))
			continue;
		fill(&e, start_boottime, rt, bias);
		if (pp->ops.set_proc(pp->ops.ctx, tgid, &e))
			pp->st.errors++;
		else
			pp->st.procs++;
		return;
	}
}

void pyprocs_drop(struct pyprocs *pp, uint32_t tgid, uint64_t start_boottime)
{
	pp->ops.del_proc(pp->ops.ctx, tgid, start_boottime);
}

void pyprocs_get_stats(const struct pyprocs *pp, struct pyprocs_stats *out)
{
	*out = pp->st;
}
