// SPDX-License-Identifier: Apache-2.0
/*
 * Frozen profiles: a builder's tables copied into one block of flat arrays
 * with 32-bit indices, and the two ways of reading them back (merging into a
 * builder; walking stacks by name).
 *
 * Layout of the block, in this order so every array is naturally aligned:
 * the header; 8-byte arrays (funcs, maps, locs, lines, labels, samples, and
 * for a profile other than CPU the samples' second values);
 * 4-byte arrays (labelsets, location ids, string offsets); the string bytes.
 * Ids are kept as the builder numbered them (pprof id = index + 1).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/pprof.h"
#include "pprof_internal.h"

struct fz_func {
	int64_t start_line;
	uint32_t name;
	uint32_t system_name;
	uint32_t filename;
	uint32_t pad;
};

struct fz_map {
	uint64_t start;
	uint64_t limit;
	uint64_t offset;
	uint32_t filename;
	uint32_t build_id;
	uint32_t flags;
	uint32_t kind; /* enum pprof_frame_kind of its frames: KERNEL, JIT or USER */
};

struct fz_loc {
	uint64_t address;
	uint64_t lines_hash; /* the builder's, so merges need not hash the names again */
	uint32_t mapping_id;
	uint32_t line_off;
	uint32_t nr_lines;
	uint32_t pad;
};

struct fz_sample {
	int64_t count;
	uint32_t loc_off;
	uint32_t nr_locs;
	uint32_t labelset;
	uint32_t pad;
};

struct fz_labelset {
	uint32_t off;
	uint32_t cnt;
};

struct pprof_frozen {
	size_t bytes;
	uint64_t period_ns;
	enum pprof_kind kind;
	int64_t time_nanos;
	int64_t duration_ns;
	int64_t total;
	uint32_t nr_strs, nr_funcs, nr_maps, nr_locs, nr_lines, nr_labels, nr_labelsets;
	uint32_t nr_samples, nr_loc_ids;
	uint32_t max_locs;   /* longest sample, for scratch arrays */
	uint32_t max_labels; /* largest label set */
	const struct fz_func *funcs;
	const struct fz_map *maps;
	const struct fz_loc *locs;
	const struct line_ent *lines;
	const struct label_ent *labels;
	const struct fz_sample *samples;
	const int64_t *values; /* per sample; NULL for PPROF_KIND_CPU (count * period) */
	const struct fz_labelset *labelsets;
	const uint32_t *loc_ids;
	const uint32_t *str_off; /* nr_strs + 1 offsets into chars */
	const char *chars;
};

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Frames of this mapping: the kernel, JIT code (anonymous memory), or a file. */
static enum pprof_frame_kind mapping_kind(const char *path)
{
	if (strcmp(path, "[kernel.kallsyms]") == 0)
		return PPROF_FRAME_KERNEL;
	if (!*path || strncmp(path, "[anon", 5) == 0 || strncmp(path, "//anon", 6) == 0 ||
	    strncmp(path, "/memfd:", 7) == 0 || strncmp(path, "[perf-", 6) == 0)
		return PPROF_FRAME_JIT;
	return PPROF_FRAME_USER;
}

int pprof_freeze(const struct pprof_builder *b, int64_t duration_ns, struct pprof_frozen **out)
{
	size_t chars = 0, sz, off;
	struct pprof_frozen *f;
	char *base, *p;
	uint32_t *str_off;

	if (!b || !out)
		return -EINVAL;
	*out = NULL;
	if (b->loc_ids.cnt >= UINT32_MAX)
		return -E2BIG;
	for (size_t i = 0; i < b->strs.cnt; i++)
		chars += ((const struct str_ent *)segvec_at(&b->strs, i))->len + 1;
	if (chars >= UINT32_MAX)
		return -E2BIG;

	sz = align8(sizeof(*f));
	sz += b->funcs.cnt * sizeof(struct fz_func) + b->maps.cnt * sizeof(struct fz_map) +
	      b->locs.cnt * sizeof(struct fz_loc) + b->lines.cnt * sizeof(struct line_ent) +
	      b->labels.cnt * sizeof(struct label_ent) + b->samples.cnt * sizeof(struct fz_sample);
	if (b->opts.kind != PPROF_KIND_CPU)
		sz += b->samples.cnt * sizeof(int64_t);
	sz += b->labelsets.cnt * sizeof(struct fz_labelset) + b->loc_ids.cnt * sizeof(uint32_t) +
	      (b->strs.cnt + 1) * sizeof(uint32_t) + chars;
	base = malloc(sz);
	if (!base)
		return -ENOMEM;
	f = (struct pprof_frozen *)base;
	memset(f, 0, sizeof(*f));
	f->bytes = sz;
	f->period_ns = b->opts.period_ns;
	f->kind = b->opts.kind;
	f->time_nanos = b->opts.time_nanos;
	f->duration_ns = duration_ns;
	f->nr_strs = (uint32_t)b->strs.cnt;
	f->nr_funcs = (uint32_t)b->funcs.cnt;
	f->nr_maps = (uint32_t)b->maps.cnt;
	f->nr_locs = (uint32_t)b->locs.cnt;
	f->nr_lines = (uint32_t)b->lines.cnt;
	f->nr_labels = (uint32_t)b->labels.cnt;
	f->nr_labelsets = (uint32_t)b->labelsets.cnt;
	f->nr_samples = (uint32_t)b->samples.cnt;
	f->nr_loc_ids = (uint32_t)b->loc_ids.cnt;
	off = align8(sizeof(*f));

	/* Strings first (the mapping kinds below read them). */
	{
		size_t tail = sz - chars - (b->strs.cnt + 1) * sizeof(uint32_t);
		size_t c = 0;

		str_off = (uint32_t *)(base + tail);
		p = base + tail + (b->strs.cnt + 1) * sizeof(uint32_t);
		for (size_t i = 0; i < b->strs.cnt; i++) {
			const struct str_ent *e = segvec_at(&b->strs, i);

			str_off[i] = (uint32_t)c;
			memcpy(p + c, e->s, e->len);
			p[c + e->len] = '\0';
			c += e->len + 1;
		}
		str_off[b->strs.cnt] = (uint32_t)c;
		f->str_off = str_off;
		f->chars = p;
	}

	{
		struct fz_func *fn = (struct fz_func *)(base + off);

		for (size_t i = 0; i < b->funcs.cnt; i++) {
			const struct func_ent *e = segvec_at(&b->funcs, i);

			fn[i] = (struct fz_func){.start_line = e->start_line,
						 .name = e->name,
						 .system_name = e->system_name,
						 .filename = e->filename};
		}
		f->funcs = fn;
		off += b->funcs.cnt * sizeof(*fn);
	}
	{
		struct fz_map *mp = (struct fz_map *)(base + off);

		for (size_t i = 0; i < b->maps.cnt; i++) {
			const struct map_ent *e = segvec_at(&b->maps, i);

			mp[i] = (struct fz_map){.start = e->start,
						.limit = e->limit,
						.offset = e->offset,
						.filename = e->filename,
						.build_id = e->build_id,
						.flags = e->flags};
			mp[i].kind = mapping_kind(f->chars + f->str_off[e->filename]);
		}
		f->maps = mp;
		off += b->maps.cnt * sizeof(*mp);
	}
	{
		struct fz_loc *lc = (struct fz_loc *)(base + off);

		for (size_t i = 0; i < b->locs.cnt; i++) {
			const struct loc_ent *e = segvec_at(&b->locs, i);

			lc[i] = (struct fz_loc){.address = e->address,
						.lines_hash = e->lines_hash,
						.mapping_id = e->mapping_id,
						.line_off = e->line_off,
						.nr_lines = e->nr_lines};
		}
		f->locs = lc;
		off += b->locs.cnt * sizeof(*lc);
	}
	if (b->lines.cnt)
		memcpy(base + off, b->lines.data, b->lines.cnt * sizeof(struct line_ent));
	f->lines = (const struct line_ent *)(base + off);
	off += b->lines.cnt * sizeof(struct line_ent);
	if (b->labels.cnt)
		memcpy(base + off, b->labels.data, b->labels.cnt * sizeof(struct label_ent));
	f->labels = (const struct label_ent *)(base + off);
	off += b->labels.cnt * sizeof(struct label_ent);
	{
		struct fz_sample *sm = (struct fz_sample *)(base + off);

		for (size_t i = 0; i < b->samples.cnt; i++) {
			const struct sample_ent *e = segvec_at(&b->samples, i);

			sm[i] = (struct fz_sample){.count = e->count,
						   .loc_off = (uint32_t)e->loc_off,
						   .nr_locs = e->nr_locs,
						   .labelset = e->labelset};
			if (e->nr_locs > f->max_locs)
				f->max_locs = e->nr_locs;
			if (__builtin_add_overflow(f->total, e->count, &f->total))
				f->total = INT64_MAX;
		}
		f->samples = sm;
		off += b->samples.cnt * sizeof(*sm);
	}
	if (b->opts.kind != PPROF_KIND_CPU) {
		int64_t *v = (int64_t *)(base + off);

		for (size_t i = 0; i < b->samples.cnt; i++)
			v[i] = ((const struct sample_ent *)segvec_at(&b->samples, i))->value;
		f->values = v;
		off += b->samples.cnt * sizeof(*v);
	}
	{
		struct fz_labelset *ls = (struct fz_labelset *)(base + off);

		for (size_t i = 0; i < b->labelsets.cnt; i++) {
			const struct labelset_ent *e = segvec_at(&b->labelsets, i);

			ls[i] = (struct fz_labelset){.off = e->off, .cnt = e->cnt};
			if (e->cnt > f->max_labels)
				f->max_labels = e->cnt;
		}
		f->labelsets = ls;
		off += b->labelsets.cnt * sizeof(*ls);
	}
	{
		uint32_t *ids = (uint32_t *)(base + off);
		const uint64_t *src = b->loc_ids.data;

		for (size_t i = 0; i < b->loc_ids.cnt; i++)
			ids[i] = (uint32_t)src[i];
		f->loc_ids = ids;
	}
	*out = f;
	return 0;
}

void pprof_frozen_free(struct pprof_frozen *f)
{
	free(f);
}

size_t pprof_frozen_bytes(const struct pprof_frozen *f)
{
	return f ? f->bytes : 0;
}

int64_t pprof_frozen_time(const struct pprof_frozen *f)
{
	return f->time_nanos;
}

int64_t pprof_frozen_duration(const struct pprof_frozen *f)
{
	return f->duration_ns;
}

uint64_t pprof_frozen_period(const struct pprof_frozen *f)
{
	return f->period_ns;
}

enum pprof_kind pprof_frozen_kind(const struct pprof_frozen *f)
{
	return f->kind;
}

size_t pprof_frozen_nr_samples(const struct pprof_frozen *f)
{
	return f ? f->nr_samples : 0;
}

int64_t pprof_frozen_total(const struct pprof_frozen *f)
{
	return f ? f->total : 0;
}

static const char *fz_str(const struct pprof_frozen *f, uint32_t idx)
{
	return idx < f->nr_strs ? f->chars + f->str_off[idx] : "";
}

/* Label set @idx in public form into @out (f->max_labels entries). */
static size_t fz_labels(const struct pprof_frozen *f, uint32_t idx, struct pprof_label *out)
{
	const struct fz_labelset *ls = &f->labelsets[idx];

	for (uint32_t i = 0; i < ls->cnt; i++) {
		const struct label_ent *le = &f->labels[ls->off + i];

		out[i] = (struct pprof_label){
		    .key = fz_str(f, le->key),
		    .str = le->str ? fz_str(f, le->str) : NULL,
		    .num = le->num,
		    .num_unit = le->num_unit ? fz_str(f, le->num_unit) : NULL,
		};
	}
	return ls->cnt;
}

/*
 * Per label set of @f: whether @sel keeps its samples, and (when @dst) the
 * label set interned in @dst with only the kept keys. keep[i] is 0 (drop)
 * or 1; dst_ls[i] the index in @dst.
 */
static int select_labelsets(const struct pprof_frozen *f, const struct pprof_select *sel,
			    struct pprof_builder *dst, uint8_t *keep, uint32_t *dst_ls)
{
	struct pprof_label *labels = calloc(f->max_labels + 1, sizeof(*labels));
	struct pprof_label *kept = calloc(f->max_labels + 1, sizeof(*kept));
	int err = 0;

	if (!labels || !kept) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < f->nr_labelsets; i++) {
		size_t n = fz_labels(f, i, labels), nk = 0;
		int64_t idx;

		keep[i] = !sel || !sel->keep_sample || sel->keep_sample(sel->ctx, labels, n);
		if (!keep[i] || !dst)
			continue;
		for (size_t j = 0; j < n; j++)
			if (!sel || !sel->keep_label || sel->keep_label(sel->ctx, labels[j].key))
				kept[nk++] = labels[j];
		idx = pprof__labelset(dst, kept, nk);
		if (idx < 0) {
			err = (int)idx;
			goto out;
		}
		dst_ls[i] = (uint32_t)idx;
	}
out:
	free(labels);
	free(kept);
	return err;
}

/* Ids in the destination of what one merge met of a frozen profile (0: not yet). */
struct merge_maps {
	uint64_t *locs, *maps;
};

/* The location @src_id of @f in @dst (added on first use); its id in *id. */
static int merge_location(struct pprof_builder *dst, const struct pprof_frozen *f, uint32_t src_id,
			  struct merge_maps *mm, uint64_t *id)
{
	const struct fz_loc *l = &f->locs[src_id - 1];
	struct pprof_line lines[32];
	uint64_t map_id = 0;
	size_t nl = 0;
	int err;

	if (mm->locs[src_id - 1]) {
		*id = mm->locs[src_id - 1];
		return 0;
	}
	if (l->mapping_id) {
		if (!mm->maps[l->mapping_id - 1]) {
			const struct fz_map *m = &f->maps[l->mapping_id - 1];
			struct pprof_mapping pm = {
			    .start = m->start,
			    .limit = m->limit,
			    .offset = m->offset,
			    .filename = fz_str(f, m->filename),
			    .build_id = fz_str(f, m->build_id),
			    .has_functions = !!(m->flags & MAP_HAS_FUNCTIONS),
			    .has_filenames = !!(m->flags & MAP_HAS_FILENAMES),
			    .has_line_numbers = !!(m->flags & MAP_HAS_LINE_NUMBERS),
			    .has_inline_frames = !!(m->flags & MAP_HAS_INLINE_FRAMES),
			};

			err = pprof_add_mapping(dst, &pm, &mm->maps[l->mapping_id - 1]);
			if (err)
				return err;
		}
		map_id = mm->maps[l->mapping_id - 1];
	}
	for (uint32_t i = 0; i < l->nr_lines && nl < sizeof(lines) / sizeof(lines[0]); i++) {
		const struct line_ent *le = &f->lines[l->line_off + i];
		const struct fz_func *fn = &f->funcs[le->function_id - 1];

		lines[nl++] = (struct pprof_line){
		    .function = fz_str(f, fn->name),
		    .system_name = fz_str(f, fn->system_name),
		    .filename = fz_str(f, fn->filename),
		    .start_line = fn->start_line,
		    .line = le->line,
		};
	}
	err = pprof__add_location_hashed(dst, map_id, l->address, lines, nl, l->lines_hash,
					 &mm->locs[src_id - 1]);
	if (err)
		return err;
	*id = mm->locs[src_id - 1];
	return 0;
}

int pprof_merge(struct pprof_builder *dst, const struct pprof_frozen *src,
		const struct pprof_select *sel)
{
	struct merge_maps mm;
	uint64_t *ids;
	uint32_t *dst_ls;
	uint8_t *keep;
	int err = 0;

	if (!dst || !src || dst->opts.kind != src->kind)
		return -EINVAL;
	if (!src->nr_samples)
		return 0;
	mm.locs = calloc(src->nr_locs + 1, sizeof(*mm.locs));
	mm.maps = calloc(src->nr_maps + 1, sizeof(*mm.maps));
	ids = calloc(src->max_locs + 1, sizeof(*ids));
	dst_ls = calloc(src->nr_labelsets + 1, sizeof(*dst_ls));
	keep = calloc(src->nr_labelsets + 1, 1);
	if (!mm.locs || !mm.maps || !ids || !dst_ls || !keep) {
		err = -ENOMEM;
		goto out;
	}
	err = select_labelsets(src, sel, dst, keep, dst_ls);
	for (uint32_t i = 0; !err && i < src->nr_samples; i++) {
		const struct fz_sample *s = &src->samples[i];

		if (!keep[s->labelset])
			continue;
		for (uint32_t j = 0; !err && j < s->nr_locs; j++)
			err = merge_location(dst, src, src->loc_ids[s->loc_off + j], &mm, &ids[j]);
		if (!err)
			err = pprof__add_sample_ls(dst, ids, s->nr_locs, s->count,
						   src->values ? src->values[i] : 0,
						   dst_ls[s->labelset]);
	}
out:
	free(mm.locs);
	free(mm.maps);
	free(ids);
	free(dst_ls);
	free(keep);
	return err;
}

/* Most frames one location expands to (its inline chain); deeper chains are cut. */
#define MAX_INLINE 32

int pprof_frozen_foreach(const struct pprof_frozen *f, const struct pprof_select *sel,
			 pprof_stack_fn fn, void *ctx)
{
	struct pprof_frame_name *frames = NULL;
	struct pprof_label *labels = NULL;
	uint8_t *keep = NULL;
	int err = 0;

	if (!f || !fn)
		return -EINVAL;
	if (!f->nr_samples)
		return 0;
	frames = calloc((size_t)f->max_locs * MAX_INLINE + 1, sizeof(*frames));
	labels = calloc(f->max_labels + 1, sizeof(*labels));
	keep = calloc(f->nr_labelsets + 1, 1);
	if (!frames || !labels || !keep) {
		err = -ENOMEM;
		goto out;
	}
	err = select_labelsets(f, sel, NULL, keep, NULL);
	for (uint32_t i = 0; !err && i < f->nr_samples; i++) {
		const struct fz_sample *s = &f->samples[i];
		size_t nr = 0, nl;

		if (!keep[s->labelset])
			continue;
		for (uint32_t j = 0; j < s->nr_locs; j++) {
			const struct fz_loc *l = &f->locs[f->loc_ids[s->loc_off + j] - 1];
			const struct fz_map *m = l->mapping_id ? &f->maps[l->mapping_id - 1] : NULL;
			enum pprof_frame_kind kind =
			    m ? (enum pprof_frame_kind)m->kind : PPROF_FRAME_USER;
			uint32_t n = l->nr_lines < MAX_INLINE ? l->nr_lines : MAX_INLINE;

			if (!n) {
				/* Not symbolized: name the file, as perf does with [libfoo.so]. */
				frames[nr++] = (struct pprof_frame_name){
				    .name = m ? fz_str(f, m->filename) : "[unknown]",
				    .kind = kind,
				};
				if (!m || !*frames[nr - 1].name)
					frames[nr - 1].name = "[unknown]";
				continue;
			}
			/* lines[0] is the innermost: every line but the last was inlined. */
			for (uint32_t k = 0; k < n; k++) {
				const struct line_ent *le = &f->lines[l->line_off + k];

				frames[nr++] = (struct pprof_frame_name){
				    .name = fz_str(f, f->funcs[le->function_id - 1].name),
				    .kind = k + 1 < l->nr_lines ? PPROF_FRAME_INLINED : kind,
				};
			}
		}
		nl = fz_labels(f, s->labelset, labels);
		err = fn(ctx, frames, nr, s->count,
			 f->values ? f->values[i] : s->count * (int64_t)f->period_ns, labels, nl);
	}
out:
	free(frames);
	free(labels);
	free(keep);
	return err;
}

int pprof_frozen_sum(const struct pprof_frozen *f, const struct pprof_select *sel, int64_t *count,
		     int64_t *value)
{
	uint8_t *keep = NULL;
	int err;

	*count = *value = 0;
	if (!f->nr_samples)
		return 0;
	keep = calloc(f->nr_labelsets + 1, 1);
	if (!keep)
		return -ENOMEM;
	err = select_labelsets(f, sel, NULL, keep, NULL);
	for (uint32_t i = 0; !err && i < f->nr_samples; i++) {
		const struct fz_sample *s = &f->samples[i];

		if (!keep[s->labelset])
			continue;
		*count += s->count;
		*value += f->values ? f->values[i] : s->count * (int64_t)f->period_ns;
	}
	free(keep);
	return err;
}

int pprof_frozen_foreach_labels(const struct pprof_frozen *f, const struct pprof_select *sel,
				pprof_labels_fn fn, void *ctx)
{
	struct pprof_label *labels = NULL;
	int64_t *sums = NULL;
	uint8_t *keep = NULL;
	int err = 0;

	if (!f || !fn)
		return -EINVAL;
	if (!f->nr_samples)
		return 0;
	labels = calloc(f->max_labels + 1, sizeof(*labels));
	sums = calloc(f->nr_labelsets + 1, sizeof(*sums));
	keep = calloc(f->nr_labelsets + 1, 1);
	if (!labels || !sums || !keep) {
		err = -ENOMEM;
		goto out;
	}
	err = select_labelsets(f, sel, NULL, keep, NULL);
	for (uint32_t i = 0; !err && i < f->nr_samples; i++)
		if (keep[f->samples[i].labelset])
			sums[f->samples[i].labelset] += f->samples[i].count;
	for (uint32_t i = 0; !err && i < f->nr_labelsets; i++) {
		if (!sums[i])
			continue;
		err = fn(ctx, labels, fz_labels(f, i, labels), sums[i]);
	}
out:
	free(labels);
	free(sums);
	free(keep);
	return err;
}
