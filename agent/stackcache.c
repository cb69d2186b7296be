// SPDX-License-Identifier: Apache-2.0
#include "stackcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/list.h"

/* The entries of one process, so an exec drops them without a scan of the cache. */
struct group {
	struct hnode node;
	struct list_head entries;
	uint32_t tgid;
	uint64_t start;
};

struct entry {
	struct hnode node;
	struct list_head lru;	  /* most recently used first */
	struct list_head sibling; /* in group->entries */
	struct list_head drain;	  /* in stackcache.this_drain, or empty */
	struct group *g;
	uint32_t tgid;
	uint32_t nr;
	uint64_t start;
	size_t bytes;
	struct sym_result *res;
	uint64_t ips[]; /* nr */
};

struct stackcache {
	struct hmap map;
	struct hmap groups;
	struct list_head lru;
	struct list_head this_drain;
	size_t max_bytes;
	struct stackcache_stats stats;
};

static uint64_t key_hash(uint32_t tgid, uint64_t start, const uint64_t *ips, uint32_t nr)
{
	return hash_bytes(ips, nr * sizeof(*ips), hash_combine(hash_u64(tgid), start));
}

static uint64_t group_hash(uint32_t tgid, uint64_t start)
{
	return hash_combine(hash_u64(tgid), start);
}

int stackcache_new(size_t max_bytes, struct stackcache **out)
{
	struct stackcache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	hmap_init(&c->map);
	hmap_init(&c->groups);
	list_init(&c->lru);
	list_init(&c->this_drain);
	c->max_bytes = max_bytes;
	*out = c;
	return 0;
}

static struct group *group_find(struct stackcache *c, uint32_t tgid, uint64_t start)
{
	struct hnode *n;

	for (n = hmap_first(&c->groups, group_hash(tgid, start)); n; n = hmap_next(n)) {
		struct group *g = container_of(n, struct group, node);

		if (g->tgid == tgid && g->start == start)
			return g;
	}
	return NULL;
}

static void entry_drop(struct stackcache *c, struct entry *e)
{
	struct group *g = e->g;

	hmap_remove(&c->map, &e->node);
	list_del(&e->lru);
	list_del(&e->sibling);
	list_del(&e->drain);
	c->stats.bytes -= e->bytes;
	c->stats.entries--;
	sym_result_free(e->res);
	free(e);
	if (list_empty(&g->entries)) {
		hmap_remove(&c->groups, &g->node);
		c->stats.bytes -= sizeof(*g);
		free(g);
	}
}

void stackcache_free(struct stackcache *c)
{
	if (!c)
		return;
	while (!list_empty(&c->lru))
		entry_drop(c, list_entry(c->lru.next, struct entry, lru));
	hmap_fini(&c->map);
	hmap_fini(&c->groups);
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
		    uint32_t nr, struct sym_result *res, bool this_drain)
{
	size_t bytes = sizeof(struct entry) + nr * sizeof(*ips) + sym_result_bytes(res);
	struct group *g = group_find(c, tgid, start);
	struct entry *e;

	if (bytes + (g ? 0 : sizeof(*g)) > c->max_bytes)
		goto drop;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			goto drop;
		g->tgid = tgid;
		g->start = start;
		list_init(&g->entries);
		if (hmap_insert(&c->groups, &g->node, group_hash(tgid, start))) {
			free(g);
			goto drop;
		}
		c->stats.bytes += sizeof(*g);
	}
	e = malloc(sizeof(*e) + nr * sizeof(*ips));
	if (!e)
		goto drop_group;
	e->g = g;
	e->tgid = tgid;
	e->start = start;
	e->nr = nr;
	e->bytes = bytes;
	e->res = res;
	memcpy(e->ips, ips, nr * sizeof(*ips));
	if (hmap_insert(&c->map, &e->node, key_hash(tgid, start, ips, nr))) {
		free(e);
		goto drop_group;
	}
	list_add(&e->lru, &c->lru);
	list_add(&e->sibling, &g->entries);
	if (this_drain)
		list_add(&e->drain, &c->this_drain);
	else
		list_init(&e->drain);
	c->stats.bytes += bytes;
	c->stats.entries++;
	while (c->stats.bytes > c->max_bytes && !list_empty(&c->lru)) {
		entry_drop(c, list_entry(c->lru.prev, struct entry, lru));
		c->stats.evictions++;
	}
	return;
drop_group:
	if (list_empty(&g->entries)) {
		hmap_remove(&c->groups, &g->node);
		c->stats.bytes -= sizeof(*g);
		free(g);
	}
drop:
	sym_result_free(res);
}

void stackcache_forget(struct stackcache *c, uint32_t tgid, uint64_t start)
{
	struct group *g = group_find(c, tgid, start);

	/* Dropping the last entry frees the group: test emptiness before each drop. */
	while (g) {
		bool last = g->entries.next->next == &g->entries;

		entry_drop(c, list_entry(g->entries.next, struct entry, sibling));
		c->stats.invalidated++;
		if (last)
			break;
	}
}

void stackcache_end_drain(struct stackcache *c)
{
	while (!list_empty(&c->this_drain)) {
		entry_drop(c, list_entry(c->this_drain.next, struct entry, drain));
		c->stats.invalidated++;
	}
}

void stackcache_get_stats(const struct stackcache *c, struct stackcache_stats *out)
{
	*out = c->stats;
}

bool stackcache_frame_is_jit(const struct sym_frame *f)
{
	const struct sym_mapping *m = f->mapping;

	/* The symbolizer's test for JIT memory: no file behind the mapping. */
	return m && (!m->path[0] || !strncmp(m->path, "[anon:", 6) ||
		     !strncmp(m->path, "//anon", 6) || !strncmp(m->path, "/memfd:", 7));
}

bool stackcache_is_jit(const struct sym_result *res)
{
	for (size_t i = 0; i < res->nr; i++)
		if (stackcache_frame_is_jit(&res->frames[i]))
			return true;
	return false;
}
