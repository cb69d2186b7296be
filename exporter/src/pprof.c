// SPDX-License-Identifier: Apache-2.0
/*
 * pprof builder: interns strings, functions, mappings, locations, label sets
 * and samples into compact tables, then encodes them with protobuf-c and gzip.
 *
 * Storage: every deduplicated entity lives in a segmented array (fixed-size
 * segments, so entries never move and can sit in an intrusive hmap); its
 * pprof id is its index + 1. Variable-length parts (lines of a location,
 * location ids of a sample, labels of a label set) live in flat growable
 * arrays addressed by offset. Strings are copied into a block arena. Encoding
 * builds the protobuf-c message tree out of a handful of flat arrays, never a
 * malloc per message.
 */
#include "exporter/pprof.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <zlib.h>

#include "common/clock.h"
#include "common/hmap.h"
#include "common/utf8.h"
#include "pprof_internal.h"
#include "profile.pb-c.h"

/* Go's runtime/pprof also compresses with gzip.BestSpeed: profiles are served on demand. */
#define PPROF_GZIP_LEVEL 1

/* hash_bytes() memcpy()s from its pointer even for length 0: never hand it NULL. */
static const uint64_t empty_key[1];

static void segvec_init(struct segvec *sv, size_t elem_sz)
{
	memset(sv, 0, sizeof(*sv));
	sv->elem_sz = elem_sz;
}

static void segvec_fini(struct segvec *sv)
{
	for (size_t i = 0; i < sv->nr_segs; i++)
		free(sv->segs[i]);
	free(sv->segs);
	sv->segs = NULL;
	sv->nr_segs = sv->segs_cap = sv->cnt = 0;
}

/* Append a zeroed element; NULL on allocation failure (nothing changed). */
static void *segvec_push(struct segvec *sv)
{
	void *e;

	if (sv->cnt == sv->nr_segs * SEG_ENTRIES) {
		if (sv->nr_segs == sv->segs_cap) {
			size_t cap = sv->segs_cap ? sv->segs_cap * 2 : 8;
			char **segs = realloc(sv->segs, cap * sizeof(*segs));

			if (!segs)
				return NULL;
			sv->segs = segs;
			sv->segs_cap = cap;
		}
		sv->segs[sv->nr_segs] = malloc(SEG_ENTRIES * sv->elem_sz);
		if (!sv->segs[sv->nr_segs])
			return NULL;
		sv->nr_segs++;
	}
	e = segvec_at(sv, sv->cnt++);
	memset(e, 0, sv->elem_sz);
	return e;
}

/* Take back the element segvec_push() just returned (its segment stays allocated). */
static void segvec_pop(struct segvec *sv)
{
	sv->cnt--;
}

static size_t segvec_bytes(const struct segvec *sv)
{
	return sv->nr_segs * SEG_ENTRIES * sv->elem_sz + sv->segs_cap * sizeof(*sv->segs);
}

static void vec_init(struct vec *v, size_t elem_sz)
{
	memset(v, 0, sizeof(*v));
	v->elem_sz = elem_sz;
}

static void vec_fini(struct vec *v)
{
	free(v->data);
	v->data = NULL;
	v->cnt = v->cap = 0;
}

/* Make room for @n more elements; returns 0 or -ENOMEM. */
static int vec_reserve(struct vec *v, size_t n)
{
	size_t cap;
	void *p;

	if (n <= v->cap - v->cnt)
		return 0;
	if (n > SIZE_MAX / v->elem_sz - v->cnt)
		return -ENOMEM;
	cap = v->cap ? v->cap : 64;
	while (cap < v->cnt + n)
		cap *= 2;
	/* Doubling may overshoot what fits in size_t bytes; the exact need does fit. */
	if (cap > SIZE_MAX / v->elem_sz)
		cap = v->cnt + n;
	p = realloc(v->data, cap * v->elem_sz);
	if (!p)
		return -ENOMEM;
	v->data = p;
	v->cap = cap;
	return 0;
}

static void arena_fini(struct arena *a)
{
	struct arena_block *blk, *next;

	for (blk = a->head; blk; blk = next) {
		next = blk->next;
		free(blk);
	}
	memset(a, 0, sizeof(*a));
}

static char *arena_alloc(struct arena *a, size_t sz)
{
	/* Big strings get a block of their own so they don't waste the current one. */
	bool own = sz > ARENA_BLOCK_SZ / 4;
	size_t bsz = own ? sz : ARENA_BLOCK_SZ;
	struct arena_block *blk;
	char *p;

	if (sz <= a->left) {
		p = a->cur;
		a->cur += sz;
		a->left -= sz;
		return p;
	}
	blk = malloc(sizeof(*blk) + bsz);
	if (!blk)
		return NULL;
	a->bytes += sizeof(*blk) + bsz;
	if (own) {
		/* Keep filling the current block: insert the big one behind the head. */
		if (a->head) {
			blk->next = a->head->next;
			a->head->next = blk;
		} else {
			blk->next = NULL;
			a->head = blk;
		}
		return blk->data;
	}
	blk->next = a->head;
	a->head = blk;
	a->cur = blk->data + sz;
	a->left = bsz - sz;
	return blk->data;
}

/*
 * Intern the repaired form of @s (@len bytes, not valid UTF-8): pprof strings
 * are proto3 strings, and readers may refuse a whole profile over one.
 */
static int64_t intern_repaired(struct pprof_builder *b, const char *s, size_t len)
{
	size_t sz = utf8_sanitized_len(s, len) + 1;
	char *fixed = malloc(sz);
	int64_t idx;

	if (!fixed)
		return -ENOMEM;
	utf8_sanitize(s, len, fixed, sz);
	idx = pprof__intern(b, fixed);
	free(fixed);
	return idx;
}

/*
 * Every string of a profile enters here: function and file names (from the
 * process's binaries and perf maps), mapping paths, label keys and values. So
 * this is where each one is made valid UTF-8, whatever it came from.
 */
int64_t pprof__intern(struct pprof_builder *b, const char *s)
{
	struct str_ent *e;
	struct hnode *n;
	uint64_t hash;
	size_t len;
	char *copy;

	if (!s || !*s)
		return 0;
	len = strlen(s);
	if (len >= UINT32_MAX / 3)
		return -E2BIG;
	if (!utf8_is_valid(s, len))
		return intern_repaired(b, s, len);
	hash = hash_bytes(s, len, HASH_SEED);
	for (n = hmap_first(&b->str_map, hash); n; n = hmap_next(n)) {
		e = container_of(n, struct str_ent, node);
		if (e->len == len && memcmp(e->s, s, len) == 0)
			return e->idx;
	}
	if (b->strs.cnt >= UINT32_MAX)
		return -E2BIG;
	copy = arena_alloc(&b->arena, len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len + 1);
	e = segvec_push(&b->strs);
	if (!e)
		return -ENOMEM; /* the arena copy stays behind as slack: harmless */
	e->s = copy;
	e->len = (uint32_t)len;
	e->idx = (uint32_t)(b->strs.cnt - 1);
	if (hmap_insert(&b->str_map, &e->node, hash)) {
		segvec_pop(&b->strs);
		return -ENOMEM;
	}
	return e->idx;
}

void pprof_builder_free(struct pprof_builder *b)
{
	if (!b)
		return;
	hmap_fini(&b->str_map);
	hmap_fini(&b->func_map);
	hmap_fini(&b->map_map);
	hmap_fini(&b->loc_map);
	hmap_fini(&b->labelset_map);
	hmap_fini(&b->sample_map);
	segvec_fini(&b->strs);
	segvec_fini(&b->funcs);
	segvec_fini(&b->maps);
	segvec_fini(&b->locs);
	segvec_fini(&b->labelsets);
	segvec_fini(&b->samples);
	vec_fini(&b->lines);
	vec_fini(&b->loc_ids);
	vec_fini(&b->labels);
	vec_fini(&b->scratch);
	arena_fini(&b->arena);
	free(b);
}

/* The two sample types of each kind of profile (units: count, nanoseconds). */
static const char *const kind_types[][2] = {
    [PPROF_KIND_CPU] = {"samples", "cpu"},
    [PPROF_KIND_OFFCPU] = {"switches", "offcpu"},
    [PPROF_KIND_WALL] = {"events", "wall"},
};

int pprof_builder_new(const struct pprof_opts *opts, struct pprof_builder **out)
{
	struct pprof_builder *b = NULL;
	struct str_ent *empty;
	int64_t idx[4];
	int err;

	if (!opts || !out)
		return -EINVAL;
	*out = NULL;
	/* A zero period would make every cpu value 0: refuse rather than emit a useless profile. */
	if (opts->period_ns == 0 || opts->period_ns > INT64_MAX ||
	    (opts->kind != PPROF_KIND_CPU && opts->kind != PPROF_KIND_OFFCPU &&
	     opts->kind != PPROF_KIND_WALL))
		return -EINVAL;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->opts = *opts;
	segvec_init(&b->strs, sizeof(struct str_ent));
	segvec_init(&b->funcs, sizeof(struct func_ent));
	segvec_init(&b->maps, sizeof(struct map_ent));
	segvec_init(&b->locs, sizeof(struct loc_ent));
	segvec_init(&b->labelsets, sizeof(struct labelset_ent));
	segvec_init(&b->samples, sizeof(struct sample_ent));
	hmap_init(&b->str_map);
	hmap_init(&b->func_map);
	hmap_init(&b->map_map);
	hmap_init(&b->loc_map);
	hmap_init(&b->labelset_map);
	hmap_init(&b->sample_map);
	vec_init(&b->lines, sizeof(struct line_ent));
	vec_init(&b->loc_ids, sizeof(uint64_t));
	vec_init(&b->labels, sizeof(struct label_ent));
	vec_init(&b->scratch, sizeof(struct label_ent));

	/* string_table[0] must be "": it is entry 0 and never in the hash map. */
	empty = segvec_push(&b->strs);
	if (!empty) {
		err = -ENOMEM;
		goto cleanup;
	}
	empty->s = "";

	idx[0] = pprof__intern(b, kind_types[opts->kind][0]);
	idx[1] = pprof__intern(b, "count");
	idx[2] = pprof__intern(b, kind_types[opts->kind][1]);
	idx[3] = pprof__intern(b, "nanoseconds");
	for (int i = 0; i < 4; i++) {
		if (idx[i] < 0) {
			err = (int)idx[i];
			goto cleanup;
		}
	}
	b->s_samples = (uint32_t)idx[0];
	b->s_count = (uint32_t)idx[1];
	b->s_cpu = (uint32_t)idx[2];
	b->s_nanoseconds = (uint32_t)idx[3];

	*out = b;
	return 0;

cleanup:
	pprof_builder_free(b);
	return err;
}

int pprof_add_mapping(struct pprof_builder *b, const struct pprof_mapping *m, uint64_t *id)
{
	struct map_ent key = {0}, *e;
	int64_t filename, build_id;
	struct hnode *n;
	uint64_t hash;

	if (!b || !m || !id)
		return -EINVAL;
	filename = pprof__intern(b, m->filename);
	if (filename < 0)
		return (int)filename;
	build_id = pprof__intern(b, m->build_id);
	if (build_id < 0)
		return (int)build_id;

	key.start = m->start;
	key.limit = m->limit;
	key.offset = m->offset;
	key.filename = (uint32_t)filename;
	key.build_id = (uint32_t)build_id;
	key.flags = (m->has_functions ? MAP_HAS_FUNCTIONS : 0) |
		    (m->has_filenames ? MAP_HAS_FILENAMES : 0) |
		    (m->has_line_numbers ? MAP_HAS_LINE_NUMBERS : 0) |
		    (m->has_inline_frames ? MAP_HAS_INLINE_FRAMES : 0);

	hash = hash_combine(hash_combine(hash_u64(key.start), key.limit), key.offset);
	hash = hash_combine(hash, ((uint64_t)key.filename << 32) | key.build_id);
	hash = hash_combine(hash, key.flags);
	for (n = hmap_first(&b->map_map, hash); n; n = hmap_next(n)) {
		e = container_of(n, struct map_ent, node);
		if (e->start == key.start && e->limit == key.limit && e->offset == key.offset &&
		    e->filename == key.filename && e->build_id == key.build_id &&
		    e->flags == key.flags) {
			*id = e->id;
			return 0;
		}
	}
	if (b->maps.cnt >= UINT32_MAX)
		return -E2BIG;
	e = segvec_push(&b->maps);
	if (!e)
		return -ENOMEM;
	*e = key;
	e->id = (uint32_t)b->maps.cnt;
	if (hmap_insert(&b->map_map, &e->node, hash)) {
		segvec_pop(&b->maps);
		return -ENOMEM;
	}
	*id = e->id;
	return 0;
}

/* Function id for one known line; dedup key (name, system_name, filename, start_line). */
static int64_t add_function(struct pprof_builder *b, const struct pprof_line *l)
{
	int64_t name, system_name, filename;
	struct func_ent *e;
	struct hnode *n;
	uint64_t hash;

	name = pprof__intern(b, l->function);
	if (name < 0)
		return name;
	system_name = l->system_name ? pprof__intern(b, l->system_name) : name;
	if (system_name < 0)
		return system_name;
	filename = pprof__intern(b, l->filename);
	if (filename < 0)
		return filename;

	hash = hash_combine(hash_u64(((uint64_t)name << 32) | (uint64_t)system_name),
			    ((uint64_t)filename << 32) ^ (uint64_t)l->start_line);
	for (n = hmap_first(&b->func_map, hash); n; n = hmap_next(n)) {
		e = container_of(n, struct func_ent, node);
		if (e->name == name && e->system_name == system_name && e->filename == filename &&
		    e->start_line == l->start_line)
			return e->id;
	}
	if (b->funcs.cnt >= UINT32_MAX)
		return -E2BIG;
	e = segvec_push(&b->funcs);
	if (!e)
		return -ENOMEM;
	e->name = (uint32_t)name;
	e->system_name = (uint32_t)system_name;
	e->filename = (uint32_t)filename;
	e->start_line = l->start_line;
	e->id = (uint32_t)b->funcs.cnt;
	if (hmap_insert(&b->func_map, &e->node, hash)) {
		segvec_pop(&b->funcs);
		return -ENOMEM;
	}
	return e->id;
}

/*
 * The key of pprof__lines_hash(), random per run: what a process names its frames cannot
 * be chosen to collide with another's (merges of frozen windows trust the hash alone).
 */
static uint64_t lines_key;
static pthread_once_t lines_key_once = PTHREAD_ONCE_INIT;

static void lines_key_init(void)
{
	uint64_t k = 0;

	if (getrandom(&k, sizeof(k), 0) != (ssize_t)sizeof(k))
		k = (uint64_t)mono_ns() ^
		    ((uint64_t)getpid() << 32); /* no entropy yet: best effort */
	lines_key = k | 1;
}

static uint64_t str_hash(const char *s)
{
	return s && *s ? hash_bytes(s, strlen(s), lines_key) : 0;
}

uint64_t pprof__lines_hash(const struct pprof_line *lines, size_t nr_lines)
{
	uint64_t h;

	pthread_once(&lines_key_once, lines_key_init);
	h = lines_key;

	for (size_t i = 0; i < nr_lines; i++) {
		if (!lines[i].function || !*lines[i].function)
			continue;
		h = hash_combine(h, str_hash(lines[i].function));
		h = hash_combine(h, str_hash(lines[i].filename));
		h = hash_combine(h, (uint64_t)lines[i].line);
	}
	return h;
}

/* Is the interned string @idx @s (as pprof__intern would store it: repaired UTF-8)? */
static bool same_str(const struct pprof_builder *b, uint32_t idx, const char *s)
{
	const struct str_ent *e = segvec_at(&b->strs, idx);
	size_t len = s ? strlen(s) : 0, sz;
	char small[512], *fixed = small;
	bool same;

	if (!len)
		return idx == 0;
	if (len == e->len && !memcmp(e->s, s, len))
		return true;
	if (utf8_is_valid(s, len))
		return false;
	/* Stored repaired: compare with the repaired form, whatever its length. */
	sz = utf8_sanitized_len(s, len) + 1;
	if (sz != (size_t)e->len + 1)
		return false;
	if (sz > sizeof(small) && !(fixed = malloc(sz)))
		return false; /* out of memory: another location, never a wrong one */
	utf8_sanitize(s, len, fixed, sz);
	same = !memcmp(e->s, fixed, sz);
	if (fixed != small)
		free(fixed);
	return same;
}

/* Do @e's lines say what @lines say (names, files, line numbers)? */
static bool same_lines(const struct pprof_builder *b, const struct loc_ent *e,
		       const struct pprof_line *lines, size_t nr_lines)
{
	uint32_t k = 0;

	for (size_t i = 0; i < nr_lines; i++) {
		const struct line_ent *le;
		const struct func_ent *fe;

		if (!lines[i].function || !*lines[i].function)
			continue;
		if (k == e->nr_lines)
			return false;
		le = vec_at(&b->lines, e->line_off + k++);
		fe = segvec_at(&b->funcs, le->function_id - 1);
		if (le->line != lines[i].line || !same_str(b, fe->name, lines[i].function) ||
		    !same_str(b, fe->filename, lines[i].filename))
			return false;
	}
	return k == e->nr_lines;
}

/* The entry of a new location: its lines already written at b->lines[b->lines.cnt ...). */
static int push_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
			 uint64_t lh, uint64_t hash, size_t line_end, uint64_t *id)
{
	struct loc_ent *e = segvec_push(&b->locs);

	if (!e)
		return -ENOMEM;
	e->mapping_id = (uint32_t)mapping_id;
	e->address = address;
	e->lines_hash = lh;
	e->line_off = (uint32_t)b->lines.cnt;
	e->nr_lines = (uint32_t)(line_end - b->lines.cnt);
	e->id = (uint32_t)b->locs.cnt;
	if (hmap_insert(&b->loc_map, &e->node, hash)) {
		segvec_pop(&b->locs);
		return -ENOMEM;
	}
	b->lines.cnt = line_end;
	*id = e->id;
	return 0;
}

static uint64_t loc_hash(uint64_t mapping_id, uint64_t address, uint64_t lh)
{
	return hash_combine(hash_combine(hash_u64(mapping_id), address), lh);
}

/*
 * A location is its mapping, its address and what its lines say: the same address can
 * hold other code at other times (a JIT recompiling into freed memory, a frame named only
 * once the JIT's perf map came), and merged windows must not give one the other's name.
 * The hash of the lines finds the candidates; their lines are compared.
 */
static int add_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
			const struct pprof_line *lines, size_t nr_lines, uint64_t lh, bool verify,
			uint64_t *id)
{
	struct loc_ent *e;
	struct hnode *n;
	size_t line_off;
	uint64_t hash;
	int64_t fid;

	if (!b || !id || (nr_lines && !lines) || mapping_id > b->maps.cnt)
		return -EINVAL;

	hash = loc_hash(mapping_id, address, lh);
	for (n = hmap_first(&b->loc_map, hash); n; n = hmap_next(n)) {
		e = container_of(n, struct loc_ent, node);
		if (e->mapping_id == mapping_id && e->address == address && e->lines_hash == lh &&
		    (!verify || same_lines(b, e, lines, nr_lines))) {
			*id = e->id;
			return 0;
		}
	}

	if (b->locs.cnt >= UINT32_MAX || b->lines.cnt + nr_lines >= UINT32_MAX)
		return -E2BIG;
	if (vec_reserve(&b->lines, nr_lines))
		return -ENOMEM;
	/*
	 * Lines go straight into the shared array; they only count once the
	 * location exists, so a failure half-way leaves nothing visible behind.
	 */
	line_off = b->lines.cnt;
	for (size_t i = 0; i < nr_lines; i++) {
		struct line_ent *le;

		/* An unknown frame has no Function: the location keeps its address only. */
		if (!lines[i].function || !*lines[i].function)
			continue;
		fid = add_function(b, &lines[i]);
		if (fid < 0)
			return (int)fid;
		le = vec_at(&b->lines, line_off++);
		le->function_id = (uint32_t)fid;
		le->line = lines[i].line;
	}
	return push_location(b, mapping_id, address, lh, hash, line_off, id);
}

int pprof_add_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
		       const struct pprof_line *lines, size_t nr_lines, uint64_t *id)
{
	return add_location(b, mapping_id, address, lines, nr_lines,
			    pprof__lines_hash(lines, nr_lines), true, id);
}

int pprof__add_location_hashed(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
			       const struct pprof_line *lines, size_t nr_lines, uint64_t lh,
			       uint64_t *id)
{
	return add_location(b, mapping_id, address, lines, nr_lines, lh, false, id);
}

static int label_cmp_key(const struct label_ent *a, const struct label_ent *c)
{
	return a->key < c->key ? -1 : a->key > c->key;
}

/* Intern the canonical label set in b->scratch; returns its index or -errno. */
static int64_t add_labelset(struct pprof_builder *b, size_t cnt)
{
	const struct label_ent *ls = b->scratch.data;
	struct labelset_ent *e;
	struct hnode *n;
	uint64_t hash;

	hash = hash_bytes(cnt ? (const void *)ls : empty_key, cnt * sizeof(*ls), HASH_SEED);
	for (n = hmap_first(&b->labelset_map, hash); n; n = hmap_next(n)) {
		e = container_of(n, struct labelset_ent, node);
		if (e->cnt == cnt &&
		    (!cnt || memcmp(vec_at(&b->labels, e->off), ls, cnt * sizeof(*ls)) == 0))
			return e->idx;
	}
	if (b->labelsets.cnt >= UINT32_MAX || b->labels.cnt + cnt >= UINT32_MAX)
		return -E2BIG;
	if (vec_reserve(&b->labels, cnt))
		return -ENOMEM;
	e = segvec_push(&b->labelsets);
	if (!e)
		return -ENOMEM;
	e->off = (uint32_t)b->labels.cnt;
	e->cnt = (uint32_t)cnt;
	e->idx = (uint32_t)(b->labelsets.cnt - 1);
	if (cnt)
		memcpy(vec_at(&b->labels, b->labels.cnt), ls, cnt * sizeof(*ls));
	if (hmap_insert(&b->labelset_map, &e->node, hash)) {
		segvec_pop(&b->labelsets);
		return -ENOMEM;
	}
	b->labels.cnt += cnt;
	return e->idx;
}

/*
 * Put @labels in canonical form in b->scratch: interned, empty string values
 * dropped (readers ignore them anyway), sorted by key so that the same set in
 * another order merges. Returns the number of labels or -errno.
 */
static int64_t canon_labels(struct pprof_builder *b, const struct pprof_label *labels,
			    size_t nr_labels)
{
	struct label_ent *ls;
	size_t cnt = 0, j;
	int64_t key, str, unit;

	if (vec_reserve(&b->scratch, nr_labels))
		return -ENOMEM;
	ls = b->scratch.data;
	for (size_t i = 0; i < nr_labels; i++) {
		const struct pprof_label *l = &labels[i];
		struct label_ent le = {0};

		if (!l->key || !*l->key)
			return -EINVAL;
		if (l->str && !*l->str)
			continue;
		key = pprof__intern(b, l->key);
		if (key < 0)
			return key;
		str = l->str ? pprof__intern(b, l->str) : 0;
		if (str < 0)
			return str;
		unit = l->str ? 0 : pprof__intern(b, l->num_unit);
		if (unit < 0)
			return unit;
		le.key = (uint32_t)key;
		le.str = (uint32_t)str;
		le.num = l->str ? 0 : l->num;
		le.num_unit = (uint32_t)unit;

		/* Insertion sort: label sets are a handful of entries. */
		j = cnt;
		while (j > 0 && label_cmp_key(&ls[j - 1], &le) > 0) {
			ls[j] = ls[j - 1];
			j--;
		}
		if (j > 0 && ls[j - 1].key == le.key)
			return -EINVAL; /* at most one value per key */
		ls[j] = le;
		cnt++;
	}
	return (int64_t)cnt;
}

int64_t pprof__labelset(struct pprof_builder *b, const struct pprof_label *labels, size_t nr)
{
	int64_t cnt;

	if (nr && !labels)
		return -EINVAL;
	cnt = canon_labels(b, labels, nr);
	if (cnt < 0)
		return cnt;
	return add_labelset(b, (size_t)cnt);
}

int pprof__add_sample_ls(struct pprof_builder *b, const uint64_t *location_ids, size_t nr_locations,
			 int64_t count, int64_t value, uint32_t labelset)
{
	struct sample_ent *e;
	struct hnode *n;
	uint64_t hash;

	if (count == 0)
		return 0; /* nothing observed: a {0, 0} sample would only add noise */
	hash = hash_bytes(nr_locations ? location_ids : empty_key,
			  nr_locations * sizeof(*location_ids), HASH_SEED);
	hash = hash_combine(hash, (uint64_t)labelset);
	for (n = hmap_first(&b->sample_map, hash); n; n = hmap_next(n)) {
		e = container_of(n, struct sample_ent, node);
		if (e->labelset == labelset && e->nr_locs == nr_locations &&
		    (!nr_locations || memcmp(vec_at(&b->loc_ids, e->loc_off), location_ids,
					     nr_locations * sizeof(*location_ids)) == 0)) {
			/* Saturate rather than wrap: a clamped count is still the right order. */
			if (__builtin_add_overflow(e->count, count, &e->count))
				e->count = INT64_MAX;
			if (__builtin_add_overflow(e->value, value, &e->value))
				e->value = INT64_MAX;
			return 0;
		}
	}

	if (vec_reserve(&b->loc_ids, nr_locations))
		return -ENOMEM;
	e = segvec_push(&b->samples);
	if (!e)
		return -ENOMEM;
	e->loc_off = b->loc_ids.cnt;
	e->nr_locs = (uint32_t)nr_locations;
	e->labelset = labelset;
	e->count = count;
	e->value = b->opts.kind == PPROF_KIND_CPU ? 0 : value;
	if (nr_locations)
		memcpy(vec_at(&b->loc_ids, b->loc_ids.cnt), location_ids,
		       nr_locations * sizeof(*location_ids));
	if (hmap_insert(&b->sample_map, &e->node, hash)) {
		segvec_pop(&b->samples);
		return -ENOMEM;
	}
	b->loc_ids.cnt += nr_locations;
	return 0;
}

int pprof_add_sample(struct pprof_builder *b, const uint64_t *location_ids, size_t nr_locations,
		     int64_t count, const struct pprof_label *labels, size_t nr_labels)
{
	return pprof_add_sample_value(b, location_ids, nr_locations, count, 0, labels, nr_labels);
}

enum pprof_kind pprof_builder_kind(const struct pprof_builder *b)
{
	return b->opts.kind;
}

uint64_t pprof_builder_period(const struct pprof_builder *b)
{
	return b->opts.period_ns;
}

int pprof_add_sample_value(struct pprof_builder *b, const uint64_t *location_ids,
			   size_t nr_locations, int64_t count, int64_t value,
			   const struct pprof_label *labels, size_t nr_labels)
{
	int64_t labelset;

	if (!b || (nr_locations && !location_ids) || (nr_labels && !labels) || count < 0 ||
	    value < 0)
		return -EINVAL;
	if (nr_locations >= UINT32_MAX)
		return -E2BIG;
	for (size_t i = 0; i < nr_locations; i++)
		if (location_ids[i] == 0 || location_ids[i] > b->locs.cnt)
			return -EINVAL;
	if (count == 0)
		return 0;
	labelset = pprof__labelset(b, labels, nr_labels);
	if (labelset < 0)
		return (int)labelset;
	return pprof__add_sample_ls(b, location_ids, nr_locations, count, value,
				    (uint32_t)labelset);
}

size_t pprof_builder_nr_samples(const struct pprof_builder *b)
{
	return b ? b->samples.cnt : 0;
}

static size_t hmap_bytes(const struct hmap *h)
{
	return h->nbuckets * sizeof(*h->buckets);
}

static size_t vec_bytes(const struct vec *v)
{
	return v->cap * v->elem_sz;
}

size_t pprof_builder_bytes(const struct pprof_builder *b)
{
	if (!b)
		return 0;
	return sizeof(*b) + b->arena.bytes + segvec_bytes(&b->strs) + segvec_bytes(&b->funcs) +
	       segvec_bytes(&b->maps) + segvec_bytes(&b->locs) + segvec_bytes(&b->labelsets) +
	       segvec_bytes(&b->samples) + hmap_bytes(&b->str_map) + hmap_bytes(&b->func_map) +
	       hmap_bytes(&b->map_map) + hmap_bytes(&b->loc_map) + hmap_bytes(&b->labelset_map) +
	       hmap_bytes(&b->sample_map) + vec_bytes(&b->lines) + vec_bytes(&b->loc_ids) +
	       vec_bytes(&b->labels) + vec_bytes(&b->scratch);
}

/* gzip (RFC 1952) @in into a malloc'd buffer sized to fit. */
static int gzip_buf(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	z_stream zs = {0};
	uint8_t *buf = NULL, *shrunk;
	size_t bound;
	int err, zerr;

	/* One deflate call: zlib counts in uInt. Profiles are far below 4 GiB. */
	if (in_len > UINT_MAX / 2)
		return -EFBIG;
	/* windowBits 15 + 16 asks zlib for a gzip header and trailer instead of zlib's. */
	zerr = deflateInit2(&zs, PPROF_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (zerr != Z_OK)
		return zerr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	bound = deflateBound(&zs, in_len);
	buf = malloc(bound);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = buf;
	zs.avail_out = (uInt)bound;
	zerr = deflate(&zs, Z_FINISH);
	if (zerr != Z_STREAM_END) {
		err = -EIO;
		goto cleanup;
	}
	*out_len = zs.total_out;
	/* deflateBound is about the input size: give back what compression saved. */
	shrunk = realloc(buf, zs.total_out ? zs.total_out : 1);
	*out = shrunk ? shrunk : buf;
	buf = NULL;
	err = 0;
cleanup:
	deflateEnd(&zs);
	free(buf);
	return err;
}

/* Flat arrays backing one encoding; each a single allocation. */
struct enc_arrays {
	char **strings;
	Perftools__Profiles__Function *fn;
	Perftools__Profiles__Function **fnp;
	Perftools__Profiles__Mapping *mp;
	Perftools__Profiles__Mapping **mpp;
	Perftools__Profiles__Location *lc;
	Perftools__Profiles__Location **lcp;
	Perftools__Profiles__Line *ln;
	Perftools__Profiles__Line **lnp;
	Perftools__Profiles__Label *lb;
	Perftools__Profiles__Label **lbp;
	Perftools__Profiles__Sample *sm;
	Perftools__Profiles__Sample **smp;
	int64_t *values;
};

static void enc_arrays_free(struct enc_arrays *a)
{
	free(a->strings);
	free(a->fn);
	free(a->fnp);
	free(a->mp);
	free(a->mpp);
	free(a->lc);
	free(a->lcp);
	free(a->ln);
	free(a->lnp);
	free(a->lb);
	free(a->lbp);
	free(a->sm);
	free(a->smp);
	free(a->values);
}

/* calloc that is happy with zero elements (returns a 1-byte block so NULL means ENOMEM). */
static void *alloc_arr(size_t n, size_t sz)
{
	return calloc(n ? n : 1, sz);
}

int pprof_encode(const struct pprof_builder *b, int64_t duration_ns, bool gzip, uint8_t **out,
		 size_t *out_len)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt[3] = {
	    PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
	    PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
	    PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
	};
	Perftools__Profiles__ValueType *vtp[2] = {&vt[0], &vt[1]};
	struct enc_arrays a = {0};
	size_t nstr, nfn, nmp, nlc, nln, nlb, nsm, packed_len;
	uint8_t *packed = NULL;
	int64_t period;
	int err;

	if (!b || !out || !out_len)
		return -EINVAL;
	*out = NULL;
	*out_len = 0;
	period = (int64_t)b->opts.period_ns;

	nstr = b->strs.cnt;
	nfn = b->funcs.cnt;
	nmp = b->maps.cnt;
	nlc = b->locs.cnt;
	nln = b->lines.cnt;
	nlb = b->labels.cnt;
	nsm = b->samples.cnt;
	a.strings = alloc_arr(nstr, sizeof(*a.strings));
	a.fn = alloc_arr(nfn, sizeof(*a.fn));
	a.fnp = alloc_arr(nfn, sizeof(*a.fnp));
	a.mp = alloc_arr(nmp, sizeof(*a.mp));
	a.mpp = alloc_arr(nmp, sizeof(*a.mpp));
	a.lc = alloc_arr(nlc, sizeof(*a.lc));
	a.lcp = alloc_arr(nlc, sizeof(*a.lcp));
	a.ln = alloc_arr(nln, sizeof(*a.ln));
	a.lnp = alloc_arr(nln, sizeof(*a.lnp));
	a.lb = alloc_arr(nlb, sizeof(*a.lb));
	a.lbp = alloc_arr(nlb, sizeof(*a.lbp));
	a.sm = alloc_arr(nsm, sizeof(*a.sm));
	a.smp = alloc_arr(nsm, sizeof(*a.smp));
	a.values = alloc_arr(nsm, 2 * sizeof(*a.values));
	if (!a.strings || !a.fn || !a.fnp || !a.mp || !a.mpp || !a.lc || !a.lcp || !a.ln ||
	    !a.lnp || !a.lb || !a.lbp || !a.sm || !a.smp || !a.values) {
		err = -ENOMEM;
		goto cleanup;
	}

	/* protobuf-c only reads these during packing; the casts drop const for its API. */
	for (size_t i = 0; i < nstr; i++)
		a.strings[i] = (char *)((const struct str_ent *)segvec_at(&b->strs, i))->s;

	for (size_t i = 0; i < nfn; i++) {
		const struct func_ent *e = segvec_at(&b->funcs, i);
		Perftools__Profiles__Function *f = &a.fn[i];

		*f = (Perftools__Profiles__Function)PERFTOOLS__PROFILES__FUNCTION__INIT;
		f->id = e->id;
		f->name = e->name;
		f->system_name = e->system_name;
		f->filename = e->filename;
		f->start_line = e->start_line;
		a.fnp[i] = f;
	}

	for (size_t i = 0; i < nmp; i++) {
		const struct map_ent *e = segvec_at(&b->maps, i);
		Perftools__Profiles__Mapping *m = &a.mp[i];

		*m = (Perftools__Profiles__Mapping)PERFTOOLS__PROFILES__MAPPING__INIT;
		m->id = e->id;
		m->memory_start = e->start;
		m->memory_limit = e->limit;
		m->file_offset = e->offset;
		m->filename = e->filename;
		m->build_id = e->build_id;
		m->has_functions = !!(e->flags & MAP_HAS_FUNCTIONS);
		m->has_filenames = !!(e->flags & MAP_HAS_FILENAMES);
		m->has_line_numbers = !!(e->flags & MAP_HAS_LINE_NUMBERS);
		m->has_inline_frames = !!(e->flags & MAP_HAS_INLINE_FRAMES);
		a.mpp[i] = m;
	}

	for (size_t i = 0; i < nln; i++) {
		const struct line_ent *e = vec_at(&b->lines, i);
		Perftools__Profiles__Line *l = &a.ln[i];

		*l = (Perftools__Profiles__Line)PERFTOOLS__PROFILES__LINE__INIT;
		l->function_id = e->function_id;
		l->line = e->line;
		a.lnp[i] = l;
	}

	for (size_t i = 0; i < nlc; i++) {
		const struct loc_ent *e = segvec_at(&b->locs, i);
		Perftools__Profiles__Location *l = &a.lc[i];

		*l = (Perftools__Profiles__Location)PERFTOOLS__PROFILES__LOCATION__INIT;
		l->id = e->id;
		l->mapping_id = e->mapping_id;
		l->address = e->address;
		l->n_line = e->nr_lines;
		l->line = e->nr_lines ? &a.lnp[e->line_off] : NULL;
		a.lcp[i] = l;
	}

	for (size_t i = 0; i < nlb; i++) {
		const struct label_ent *e = vec_at(&b->labels, i);
		Perftools__Profiles__Label *l = &a.lb[i];

		*l = (Perftools__Profiles__Label)PERFTOOLS__PROFILES__LABEL__INIT;
		l->key = e->key;
		l->str = e->str;
		l->num = e->num;
		l->num_unit = e->num_unit;
		a.lbp[i] = l;
	}

	for (size_t i = 0; i < nsm; i++) {
		const struct sample_ent *e = segvec_at(&b->samples, i);
		const struct labelset_ent *ls = segvec_at(&b->labelsets, e->labelset);
		Perftools__Profiles__Sample *s = &a.sm[i];
		int64_t *v = &a.values[2 * i];

		*s = (Perftools__Profiles__Sample)PERFTOOLS__PROFILES__SAMPLE__INIT;
		s->n_location_id = e->nr_locs;
		s->location_id = e->nr_locs ? (uint64_t *)vec_at(&b->loc_ids, e->loc_off) : NULL;
		v[0] = e->count;
		if (b->opts.kind != PPROF_KIND_CPU)
			v[1] = e->value;
		else if (__builtin_mul_overflow(e->count, period, &v[1]))
			v[1] = INT64_MAX;
		s->n_value = 2;
		s->value = v;
		/* Samples sharing a label set share its Label pointers: packing only reads them. */
		s->n_label = ls->cnt;
		s->label = ls->cnt ? &a.lbp[ls->off] : NULL;
		a.smp[i] = s;
	}

	vt[0].type = b->s_samples;
	vt[0].unit = b->s_count;
	vt[1].type = b->s_cpu;
	vt[1].unit = b->s_nanoseconds;
	vt[2].type = b->s_cpu;
	vt[2].unit = b->s_nanoseconds;

	prof.n_sample_type = 2;
	prof.sample_type = vtp;
	prof.n_sample = nsm;
	prof.sample = a.smp;
	prof.n_mapping = nmp;
	prof.mapping = a.mpp;
	prof.n_location = nlc;
	prof.location = a.lcp;
	prof.n_function = nfn;
	prof.function = a.fnp;
	prof.n_string_table = nstr;
	prof.string_table = a.strings;
	prof.time_nanos = b->opts.time_nanos;
	prof.duration_nanos = duration_ns;
	prof.period_type = &vt[2];
	prof.period = period;

	packed_len = perftools__profiles__profile__get_packed_size(&prof);
	packed = malloc(packed_len ? packed_len : 1);
	if (!packed) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (perftools__profiles__profile__pack(&prof, packed) != packed_len) {
		err = -EIO;
		goto cleanup;
	}
	/* The message tree is no longer needed: free it before gzip doubles the footprint. */
	enc_arrays_free(&a);
	memset(&a, 0, sizeof(a));

	if (gzip) {
		err = gzip_buf(packed, packed_len, out, out_len);
		if (err)
			goto cleanup;
	} else {
		*out = packed;
		*out_len = packed_len;
		packed = NULL;
	}
	err = 0;
cleanup:
	enc_arrays_free(&a);
	free(packed);
	return err;
}
