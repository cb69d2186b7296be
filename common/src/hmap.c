// SPDX-License-Identifier: Apache-2.0
#include "common/hmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void hmap_init(struct hmap *h)
{
	h->buckets = NULL;
	h->nbuckets = 0;
	h->count = 0;
}

void hmap_fini(struct hmap *h)
{
	free(h->buckets);
	hmap_init(h);
}

static void hmap_grow(struct hmap *h)
{
	size_t nb = h->nbuckets ? h->nbuckets * 2 : 16;
	struct hnode **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < h->nbuckets; i++) {
		struct hnode *n = h->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = nb;
}

int hmap_insert(struct hmap *h, struct hnode *n, uint64_t hash)
{
	size_t i;

	if (h->count >= h->nbuckets)
		hmap_grow(h);
	if (!h->nbuckets) {
		/* The very first allocation failed: try a one-bucket fallback. */
		h->buckets = calloc(1, sizeof(*h->buckets));
		if (!h->buckets)
			return -ENOMEM; /* nowhere to link the entry: the caller drops it */
		h->nbuckets = 1;
	}
	n->hash = hash;
	i = hash & (h->nbuckets - 1);
	n->next = h->buckets[i];
	h->buckets[i] = n;
	h->count++;
	return 0;
}

void hmap_remove(struct hmap *h, struct hnode *n)
{
	struct hnode **pp;

	if (!h->nbuckets)
		return;
	for (pp = &h->buckets[n->hash & (h->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			h->count--;
			return;
		}
	}
}

struct hnode *hmap_first(const struct hmap *h, uint64_t hash)
{
	struct hnode *n;

	if (!h->nbuckets)
		return NULL;
	for (n = h->buckets[hash & (h->nbuckets - 1)]; n; n = n->next)
		if (n->hash == hash)
			return n;
	return NULL;
}

struct hnode *hmap_next(const struct hnode *n)
{
	uint64_t hash = n->hash;

	for (n = n->next; n; n = n->next)
		if (n->hash == hash)
			return (struct hnode *)n;
	return NULL;
}

uint64_t hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
	uint64_t v;

	while (len >= 8) {
		memcpy(&v, p, 8);
		h = hash_combine(h, v);
		p += 8;
		len -= 8;
	}
	v = 0;
	memcpy(&v, p, len);
	return hash_combine(h, v ^ ((uint64_t)len << 56));
}
