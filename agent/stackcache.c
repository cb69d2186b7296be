// SPDX-License-Identifier: Apache-2.0
#include "stackcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/list.h"

struct entry {
	struct hnode node;
	struct list_head lru; /* most recently used first */
	uint32_t tgid;
	uint32_t nr;
	uint64_t start;
	size_t bytes;
	struct sym_result *res;
	uint64_t ips[]; /* nr */
};

struct stackcache {
	struct hmap map;
	struct list_head lru;
	size_t max_bytes;
	struct stackcache_stats stats;
};

static uint64_t key_hash(uint32_t tgid, uint64_t start, const uint64_t *ips, uint32_t nr)
{
	return hash_bytes(ips, nr * sizeof(*ips), hash_combine(hash_u64(tgid), start));
}

int stackcache_new(size_t max_bytes, struct stackcache **out)
{
	struct stackcache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	hmap_init(&c->map);
	list_init(&c->lru);
	c->max_bytes = max_bytes;
	*out = c;
	return 0;
}

static void entry_drop(struct stackcache *c, struct entry *e)
{
	hmap_remove(&c->map, &e->node);
	list_del(&e->lru);
	c->stats.bytes -= e->bytes;
	c->stats.entries--;
	sym_result_free(e->res);
	free(e);
}

void stackcache_free(struct stackcache *c)
{
	if (!c)
		return;
	while (!list_empty(&c->lru))
		entry_drop(c, list_entry(c->lru.next, struct entry, lru));
	hmap_fini(&c->map);
	free(c);
}

const struct sym_result *stackcache_get(struct stackcache *c, uint32_t tgid, uint64_t start,
					const uint64_t *ips, uint32_t nr)
{
	uint64_t h = key_hash(tgid, start, ips, nr);
	struct hnode *n;

	for (n = hmap_first(&c->map, h); n; n = hmap_next(n)) {
		struct entry *e = container_of(n, struct entry, node);

		if (e->tgid == tgid && e->start == start && e->nr == nr &&
		    memcmp(e->ips, ips, nr * sizeof(*ips)) == 0) {
			list_move(&e->lru, &c->lru);
			c->stats.hits++;
			return e->res;
		}
	}
	c->stats.misses++;
	return NULL;
}

void stackcache_put(struct stackcache *c, uint32_t tgid, uint64_t start, const uint64_t *ips,
		    uint32_t nr, struct sym_result *res)
{
	size_t bytes = sizeof(struct entry) + nr * sizeof(*ips) + sym_result_bytes(res);
	struct entry *e;

	if (bytes > c->max_bytes || !(e = malloc(sizeof(*e) + nr * sizeof(*ips)))) {
		sym_result_free(res);
		return;
	}
	e->tgid = tgid;
	e->start = start;
	e->nr = nr;
	e->bytes = bytes;
	e->res = res;
	memcpy(e->ips, ips, nr * sizeof(*ips));
	hmap_insert(&c->map, &e->node, key_hash(tgid, start, ips, nr));
	list_add(&e->lru, &c->lru);
	c->stats.bytes += bytes;
	c->stats.entries++;
	while (c->stats.bytes > c->max_bytes && !list_empty(&c->lru)) {
		entry_drop(c, list_entry(c->lru.prev, struct entry, lru));
		c->stats.evictions++;
	}
}

void stackcache_get_stats(const struct stackcache *c, struct stackcache_stats *out)
{
	*out = c->stats;
}
