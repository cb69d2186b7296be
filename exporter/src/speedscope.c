// SPDX-License-Identifier: Apache-2.0
#include "exporter/speedscope.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/utf8.h"

/* A distinct frame: its name already as JSON string content (repaired, escaped). */
struct ss_frame {
	struct hnode node;
	uint32_t idx;
	size_t len;
	char s[];
};

/* A distinct stack: frame indices root first; idx[0] names the profile. */
struct ss_stack {
	struct hnode node;
	uint64_t weight;
	uint32_t nr;
	uint32_t idx[];
};

struct speedscope {
	size_t max_sz;
	size_t est_sz; /* bytes the file needs at least for what is held */
	struct hmap frame_map, stack_map;
	struct ss_frame **frames; /* by index */
	size_t nr_frames, cap_frames;
	struct ss_stack **stacks; /* in the order they came */
	size_t nr_stacks, cap_stacks;
	struct strbuf name; /* scratch: one escaped name */
	uint32_t *scratch;  /* scratch: one stack's indices */
	size_t cap_scratch;
};

/*
 * Bytes the document takes at least (what est_sz counts is a lower bound, so
 * that speedscope_add never refuses what would fit): the fixed keys, and a
 * frame entry {"name":""}, besides its name.
 */
#define DOC_OVERHEAD   128u
#define FRAME_OVERHEAD 12u

int speedscope_json_escape(struct strbuf *sb, const char *s, size_t len)
{
	const char *run = s, *end = s + len;
	int err = 0;

	while (!err && s < end) {
		uint32_t cp;
		size_t n = utf8_decode(s, (size_t)(end - s), &cp);
		char esc[8];

		if (cp != UTF8_INVALID && cp >= 0x20 && cp != '"' && cp != '\\') {
			s += n;
			continue;
		}
		err = strbuf_append(sb, run, (size_t)(s - run));
		if (err)
			break;
		if (cp == UTF8_INVALID) {
			err = strbuf_append(sb, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
		} else if (cp == '"' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			err = strbuf_append(sb, esc, 2);
		} else {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp & 0x1f);
			err = strbuf_append(sb, esc, 6);
		}
		s += n;
		run = s;
	}
	return err ?: strbuf_append(sb, run, (size_t)(s - run));
}

int speedscope_new(size_t max_sz, struct speedscope **out)
{
	struct speedscope *ss;

	*out = NULL;
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	ss->max_sz = max_sz ? max_sz : SIZE_MAX;
	ss->est_sz = DOC_OVERHEAD;
	hmap_init(&ss->frame_map);
	hmap_init(&ss->stack_map);
	/* An escaped name takes at most 6 bytes per input byte (\u00XX). */
	strbuf_init(&ss->name, 6 * SPEEDSCOPE_MAX_NAME + 1);
	*out = ss;
	return 0;
}

void speedscope_free(struct speedscope *ss)
{
	if (!ss)
		return;
	for (size_t i = 0; i < ss->nr_frames; i++)
		free(ss->frames[i]);
	for (size_t i = 0; i < ss->nr_stacks; i++)
		free(ss->stacks[i]);
	free(ss->frames);
	free(ss->stacks);
	free(ss->scratch);
	hmap_fini(&ss->frame_map);
	hmap_fini(&ss->stack_map);
	strbuf_free(&ss->name);
	free(ss);
}

static int grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	void **p = pp;
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Decimal digits of @v. */
static size_t digits(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* @name cut to SPEEDSCOPE_MAX_NAME bytes on a character boundary. */
static size_t cut_len(const char *name)
{
	size_t len = strnlen(name, SPEEDSCOPE_MAX_NAME + 1), off = 0;
	uint32_t cp;

	if (len <= SPEEDSCOPE_MAX_NAME)
		return len;
	while (off < SPEEDSCOPE_MAX_NAME) {
		size_t n = utf8_decode(name + off, len - off, &cp);

		if (off + n > SPEEDSCOPE_MAX_NAME)
			break;
		off += n;
	}
	return off;
}

/* The index of @name's frame, added when new. *@added: bytes it adds to the file. */
static int frame_index(struct speedscope *ss, const char *name, uint32_t *idx, size_t *added)
{
	struct ss_frame *f;
	struct hnode *n;
	uint64_t h;
	int err;

	strbuf_reset(&ss->name);
	err = speedscope_json_escape(&ss->name, name, cut_len(name));
	if (err)
		return err;
	h = hash_bytes(ss->name.buf ? ss->name.buf : "", ss->name.len, 0x73706564);
	for (n = hmap_first(&ss->frame_map, h); n; n = hmap_next(n)) {
		f = container_of(n, struct ss_frame, node);
		if (f->len == ss->name.len && memcmp(f->s, ss->name.buf, f->len) == 0) {
			*idx = f->idx;
			return 0;
		}
	}
	*added += ss->name.len + FRAME_OVERHEAD;
	if (ss->est_sz + *added > ss->max_sz || ss->nr_frames >= UINT32_MAX)
		return -ENOSPC;
	if (grow(&ss->frames, &ss->cap_frames, ss->nr_frames + 1, sizeof(*ss->frames)))
		return -ENOMEM;
	f = malloc(sizeof(*f) + ss->name.len + 1);
	if (!f)
		return -ENOMEM;
	f->idx = (uint32_t)ss->nr_frames;
	f->len = ss->name.len;
	memcpy(f->s, ss->name.buf ? ss->name.buf : "", f->len);
	f->s[f->len] = '\0';
	if (hmap_insert(&ss->frame_map, &f->node, h)) {
		free(f);
		return -ENOMEM;
	}
	ss->frames[ss->nr_frames++] = f;
	*idx = f->idx;
	return 0;
}

int speedscope_add(struct speedscope *ss, const char *const *frames, size_t nr, uint64_t weight)
{
	size_t added = 0, first_new, stack_sz;
	struct ss_stack *st;
	struct hnode *n;
	uint64_t h;
	int err = 0;

	if (!ss || !frames || !nr || nr > UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < nr; i++)
		if (!frames[i])
			return -EINVAL;
	if (grow(&ss->scratch, &ss->cap_scratch, nr, sizeof(*ss->scratch)))
		return -ENOMEM;
	first_new = ss->nr_frames;
	for (size_t i = 0; !err && i < nr; i++)
		err = frame_index(ss, frames[i], &ss->scratch[i], &added);
	if (err)
		goto cleanup;
	h = hash_bytes(ss->scratch, nr * sizeof(*ss->scratch), 0x73746b);
	for (n = hmap_first(&ss->stack_map, h); n; n = hmap_next(n)) {
		st = container_of(n, struct ss_stack, node);
		if (st->nr == nr && memcmp(st->idx, ss->scratch, nr * sizeof(*st->idx)) == 0) {
			st->weight += weight;
			ss->est_sz += added;
			return 0;
		}
	}
	/* "[i,j,...]," in samples and "w," in weights. */
	stack_sz = 3 + digits(weight) + 1;
	for (size_t i = 0; i < nr; i++)
		stack_sz += digits(ss->scratch[i]) + 1;
	if (ss->est_sz + added + stack_sz > ss->max_sz) {
		err = -ENOSPC;
		goto cleanup;
	}
	err = grow(&ss->stacks, &ss->cap_stacks, ss->nr_stacks + 1, sizeof(*ss->stacks));
	st = err ? NULL : malloc(sizeof(*st) + nr * sizeof(st->idx[0]));
	if (!st) {
		err = -ENOMEM;
		goto cleanup;
	}
	st->weight = weight;
	st->nr = (uint32_t)nr;
	memcpy(st->idx, ss->scratch, nr * sizeof(st->idx[0]));
	if (hmap_insert(&ss->stack_map, &st->node, h)) {
		free(st);
		err = -ENOMEM;
		goto cleanup;
	}
	ss->stacks[ss->nr_stacks++] = st;
	ss->est_sz += added + stack_sz;
	return 0;
cleanup:
	/* Nothing is added: drop the frames this stack brought. */
	while (ss->nr_frames > first_new) {
		struct ss_frame *f = ss->frames[--ss->nr_frames];

		hmap_remove(&ss->frame_map, &f->node);
		free(f);
	}
	return err;
}

struct ss_profile {
	uint32_t root;	  /* frame index naming it */
	size_t first;	  /* its first stack, for a stable order */
	uint64_t total;	  /* sum of its weights */
	size_t start, nr; /* its stacks: order[start, start + nr) */
};

static int cmp_profiles(const void *a, const void *b)
{
	const struct ss_profile *x = a, *y = b;

	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return x->first < y->first ? -1 : x->first > y->first;
}

/*
 * The profiles, busiest first, and the stacks grouped by profile in the order
 * they came (a counting sort: one pass per profile would be profiles x stacks).
 */
static int build_profiles(const struct speedscope *ss, struct ss_profile **out, size_t *nr_out,
			  size_t **order_out)
{
	struct ss_profile *p = NULL;
	size_t *of_root = NULL, *order = NULL, nr = 0, pos = 0;
	int err = -ENOMEM;

	of_root = malloc((ss->nr_frames + 1) * sizeof(*of_root));
	order = malloc((ss->nr_stacks + 1) * sizeof(*order));
	p = calloc(ss->nr_frames + 1, sizeof(*p));
	if (!of_root || !order || !p)
		goto cleanup;
	for (size_t i = 0; i < ss->nr_frames; i++)
		of_root[i] = SIZE_MAX;
	for (size_t i = 0; i < ss->nr_stacks; i++) {
		const struct ss_stack *st = ss->stacks[i];
		uint32_t r = st->idx[0];

		if (of_root[r] == SIZE_MAX) {
			of_root[r] = nr;
			p[nr++] = (struct ss_profile){.root = r, .first = i};
		}
		p[of_root[r]].total += st->weight;
		p[of_root[r]].nr++;
	}
	qsort(p, nr, sizeof(*p), cmp_profiles);
	for (size_t i = 0; i < nr; i++) {
		of_root[p[i].root] = i;
		p[i].start = pos;
		pos += p[i].nr;
		p[i].nr = 0;
	}
	for (size_t i = 0; i < ss->nr_stacks; i++) {
		struct ss_profile *q = &p[of_root[ss->stacks[i]->idx[0]]];

		order[q->start + q->nr++] = i;
	}
	*out = p;
	*nr_out = nr;
	*order_out = order;
	p = NULL;
	order = NULL;
	err = 0;
cleanup:
	free(p);
	free(order);
	free(of_root);
	return err;
}

static int write_profile(const struct speedscope *ss, const struct ss_profile *p,
			 const size_t *order, const char *unit, struct strbuf *out)
{
	const struct ss_frame *name = ss->frames[p->root];
	int err;

	err = strbuf_appends(out, "{\"type\":\"sampled\",\"name\":\"");
	err = err ?: strbuf_append(out, name->s, name->len);
	err = err
		  ?: strbuf_appendf(out,
				    "\",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%llu,"
				    "\"samples\":[",
				    unit, (unsigned long long)p->total);
	for (size_t i = 0; !err && i < p->nr; i++) {
		const struct ss_stack *st = ss->stacks[order[p->start + i]];

		err = strbuf_appends(out, i ? ",[" : "[");
		for (uint32_t k = 0; !err && k < st->nr; k++)
			err = strbuf_appendf(out, k ? ",%u" : "%u", st->idx[k]);
		err = err ?: strbuf_append(out, "]", 1);
	}
	err = err ?: strbuf_appends(out, "],\"weights\":[");
	for (size_t i = 0; !err && i < p->nr; i++)
		err = strbuf_appendf(out, i ? ",%llu" : "%llu",
				     (unsigned long long)ss->stacks[order[p->start + i]]->weight);
	return err ?: strbuf_appends(out, "]}");
}

int speedscope_write(const struct speedscope *ss, const struct speedscope_meta *meta,
		     struct strbuf *out)
{
	const char *name = meta && meta->name ? meta->name : "stackd";
	const char *exporter = meta && meta->exporter ? meta->exporter : "stackd";
	const char *unit = meta && meta->unit ? meta->unit : "none";
	struct ss_profile *p = NULL;
	size_t *order = NULL, nr = 0, start_len;
	int err;

	if (!ss || !out)
		return -EINVAL;
	start_len = out->len;
	err = build_profiles(ss, &p, &nr, &order);
	err = err
		  ?: strbuf_appends(out, "{\"$schema\":\"" SPEEDSCOPE_SCHEMA
					 "\",\"shared\":{\"frames\":[");
	for (size_t i = 0; !err && i < ss->nr_frames; i++) {
		err = strbuf_appends(out, i ? ",{\"name\":\"" : "{\"name\":\"");
		err = err ?: strbuf_append(out, ss->frames[i]->s, ss->frames[i]->len);
		err = err ?: strbuf_append(out, "\"}", 2);
	}
	err = err ?: strbuf_appends(out, "]},\"profiles\":[");
	for (size_t i = 0; !err && i < nr; i++) {
		err = i ? strbuf_append(out, ",", 1) : 0;
		err = err ?: write_profile(ss, &p[i], order, unit, out);
	}
	err = err ?: strbuf_appends(out, "],\"name\":\"");
	err = err ?: speedscope_json_escape(out, name, strlen(name));
	err = err ?: strbuf_appends(out, "\",\"activeProfileIndex\":0,\"exporter\":\"");
	err = err ?: speedscope_json_escape(out, exporter, strlen(exporter));
	err = err ?: strbuf_appends(out, "\"}\n");
	free(p);
	free(order);
	if (err) {
		out->len = start_len;
		if (out->buf)
			out->buf[start_len] = '\0';
	}
	return err;
}
