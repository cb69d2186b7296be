/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pprof builder's tables, shared by pprof.c (building, encoding) and
 * pprof_frozen.c (freezing a builder into one compact block, merging frozen
 * profiles back into a builder). Private to exporter/.
 */
#ifndef STACKD_EXPORTER_PPROF_INTERNAL_H
#define STACKD_EXPORTER_PPROF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/hmap.h"
#include "exporter/pprof.h"

#define SEG_SHIFT      10 /* 1024 entries per segment */
#define SEG_ENTRIES    (1u << SEG_SHIFT)
#define ARENA_BLOCK_SZ (64 * 1024)
#define HASH_SEED      0x70726f66696c65ULL

/* Segmented array: stable element addresses, growth without copying. */
struct segvec {
	char **segs;
	size_t nr_segs;
	size_t segs_cap;
	size_t cnt;
	size_t elem_sz;
};

/* Flat growable array of elem_sz elements. */
struct vec {
	void *data;
	size_t cnt;
	size_t cap;
	size_t elem_sz;
};

struct arena_block {
	struct arena_block *next;
	char data[];
};

struct arena {
	struct arena_block *head;
	char *cur;
	size_t left;
	size_t bytes;
};

struct str_ent {
	struct hnode node;
	const char *s; /* NUL-terminated, in the arena */
	uint32_t len;
	uint32_t idx; /* string table index */
};

struct func_ent {
	struct hnode node;
	uint32_t name;
	uint32_t system_name;
	uint32_t filename;
	uint32_t id; /* pprof id = index + 1 */
	int64_t start_line;
};

struct map_ent {
	struct hnode node;
	uint64_t start;
	uint64_t limit;
	uint64_t offset;
	uint32_t filename;
	uint32_t build_id;
	uint32_t flags; /* MAP_HAS_* */
	uint32_t id;	/* pprof id = index + 1 */
};

#define MAP_HAS_FUNCTIONS     (1u << 0)
#define MAP_HAS_FILENAMES     (1u << 1)
#define MAP_HAS_LINE_NUMBERS  (1u << 2)
#define MAP_HAS_INLINE_FRAMES (1u << 3)

struct loc_ent {
	struct hnode node;
	uint64_t address;
	uint64_t lines_hash; /* what its lines say (lines_hash()): part of its identity */
	uint32_t mapping_id;
	uint32_t id;	   /* pprof id = index + 1 */
	uint32_t line_off; /* into b->lines */
	uint32_t nr_lines;
};

struct line_ent {
	uint32_t function_id;
	int64_t line;
};

/* One label in canonical form; fully initialized so it can be compared with memcmp. */
struct label_ent {
	uint32_t key;
	uint32_t str; /* 0 = numeric label */
	int64_t num;
	uint32_t num_unit;
	uint32_t pad;
};

struct labelset_ent {
	struct hnode node;
	uint32_t off; /* into b->labels */
	uint32_t cnt;
	uint32_t idx;
};

struct sample_ent {
	struct hnode node;
	size_t loc_off; /* into b->loc_ids */
	uint32_t nr_locs;
	uint32_t labelset;
	int64_t count;
	int64_t value; /* PPROF_KIND_OFFCPU: ns off CPU */
};

struct pprof_builder {
	struct pprof_opts opts;

	struct arena arena;
	struct segvec strs;
	struct hmap str_map;
	struct segvec funcs;
	struct hmap func_map;
	struct segvec maps;
	struct hmap map_map;
	struct segvec locs;
	struct hmap loc_map;
	struct segvec labelsets;
	struct hmap labelset_map;
	struct segvec samples;
	struct hmap sample_map;

	struct vec lines;   /* struct line_ent */
	struct vec loc_ids; /* uint64_t, leaf first per sample */
	struct vec labels;  /* struct label_ent */
	struct vec scratch; /* struct label_ent, canonicalizing one sample's labels */

	uint32_t s_samples, s_count, s_cpu, s_nanoseconds;
};

static inline void *segvec_at(const struct segvec *sv, size_t i)
{
	return sv->segs[i >> SEG_SHIFT] + (i & (SEG_ENTRIES - 1)) * sv->elem_sz;
}

static inline void *vec_at(const struct vec *v, size_t i)
{
	return (char *)v->data + i * v->elem_sz;
}

/* Intern @s (NULL or "" = index 0); the string table index or -errno. */
int64_t pprof__intern(struct pprof_builder *b, const char *s);
/* What a location's named lines say, hashed (names, files, line numbers). */
uint64_t pprof__lines_hash(const struct pprof_line *lines, size_t nr_lines);
/*
 * pprof_add_location() with @lh = pprof__lines_hash(@lines) known: what a merge of a frozen
 * profile does. A location with that mapping, address and hash is taken without comparing
 * names (the hash is keyed per run: see pprof.c).
 */
int pprof__add_location_hashed(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
			       const struct pprof_line *lines, size_t nr_lines, uint64_t lh,
			       uint64_t *id);
/* Intern a label set (any order; empty string values dropped); its index or -errno. */
int64_t pprof__labelset(struct pprof_builder *b, const struct pprof_label *labels, size_t nr);
/* pprof_add_sample() with a label set already interned by pprof__labelset(). */
int pprof__add_sample_ls(struct pprof_builder *b, const uint64_t *location_ids, size_t nr,
			 int64_t count, int64_t value, uint32_t labelset);

#endif
