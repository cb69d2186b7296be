/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An intrusive chained hash table (in the manner of the kernel's hlist).
 *
 * The caller embeds a struct hnode in its entries, computes the hash and does
 * its own key comparison while walking the candidates of one hash:
 *
 *	for (n = hmap_first(&h, hash); n; n = hmap_next(n))
 *		if (eq(container_of(n, struct foo, node), key)) ...
 *
 * The table never owns entries: hmap_fini frees the bucket array only.
 * It grows by doubling at load factor 1; a failed grow leaves it working
 * (just slower). hmap_insert fails (-ENOMEM, table unchanged) only when the
 * table has no bucket array yet and not even one bucket can be allocated;
 * the caller then drops or frees the entry it meant to add.
 */
#ifndef STACKD_COMMON_HMAP_H
#define STACKD_COMMON_HMAP_H

#include <stddef.h>
#include <stdint.h>

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct hmap {
	struct hnode **buckets;
	size_t nbuckets; /* power of two, or 0 before the first insert */
	size_t count;
};

void hmap_init(struct hmap *h);
void hmap_fini(struct hmap *h);
/* 0, or -ENOMEM with @n not linked (see above). */
int hmap_insert(struct hmap *h, struct hnode *n, uint64_t hash);
void hmap_remove(struct hmap *h, struct hnode *n);
/* First entry whose hash equals @hash, or NULL. */
struct hnode *hmap_first(const struct hmap *h, uint64_t hash);
/* Next entry with the same hash as @n, or NULL. */
struct hnode *hmap_next(const struct hnode *n);

/* Iterate every entry; safe against removing the current one. */
#define hmap_for_each_safe(h, pos, tmp, i)                                                         \
	for ((i) = 0; (i) < (h)->nbuckets; (i)++)                                                  \
		for ((pos) = (h)->buckets[i], (tmp) = (pos) ? (pos)->next : NULL; (pos);           \
		     (pos) = (tmp), (tmp) = (pos) ? (pos)->next : NULL)

/* A fast, well-mixed 64-bit hash of a byte string (not cryptographic). */
uint64_t hash_bytes(const void *data, size_t len, uint64_t seed);
static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}
static inline uint64_t hash_combine(uint64_t h, uint64_t v)
{
	return hash_u64(h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

#endif
