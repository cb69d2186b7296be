/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An open-addressing table from 64-bit keys to nonzero 32-bit values, the
 * key kept in the slot so that a probe reads nothing else (linear probing,
 * at most half full, doubled as it fills). For hot lookups whose keys are
 * small (an index pair, a pointer and a tag, or a strong hash whose owner
 * checks the entry it names): the flame graph's trie and name tables, the
 * pages' name cache.
 *
 * Keys need not be unique: u64map_put never looks, and u64map_next walks
 * every value put under one key (a hash's owner checks each). Values are
 * never 0 (0 marks an empty slot). There is no removal.
 */
#ifndef STACKD_COMMON_U64MAP_H
#define STACKD_COMMON_U64MAP_H

#include <stdint.h>

#include "common/hmap.h"

struct u64map_slot {
	uint64_t key;
	uint32_t val; /* 0: empty */
	uint32_t pad;
};

struct u64map {
	struct u64map_slot *slots;
	uint32_t mask; /* slots - 1, a power of two; 0 with no slots */
	uint32_t nr;
};

void u64map_init(struct u64map *m);
void u64map_fini(struct u64map *m);

/* Add @val (nonzero) under @key: 0, -EINVAL (val 0) or -ENOMEM (the table unchanged). */
int u64map_put(struct u64map *m, uint64_t key, uint32_t val);

/*
 * The values under @key in turn: start with *@pos = UINT32_MAX; each call
 * returns the next one, or 0 when there is none left.
 */
static inline uint32_t u64map_next(const struct u64map *m, uint64_t key, uint32_t *pos)
{
	uint32_t j;

	if (!m->slots)
		return 0;
	j = *pos == UINT32_MAX ? (uint32_t)hash_u64(key) & m->mask : (*pos + 1) & m->mask;
	for (; m->slots[j].val; j = (j + 1) & m->mask) {
		if (m->slots[j].key == key) {
			*pos = j;
			return m->slots[j].val;
		}
	}
	return 0;
}

/* The first value under @key, or 0. */
static inline uint32_t u64map_get(const struct u64map *m, uint64_t key)
{
	uint32_t pos = UINT32_MAX;

	return u64map_next(m, key, &pos);
}

#endif
