/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Symbolized stacks, so a stack seen before costs no symbolization work.
 *
 * Keyed by the raw ips and, for user stacks, the process identity (tgid,
 * leader start time): the same addresses mean different code in different
 * processes. Kernel stacks are shared by all processes (tgid 0, start 0).
 * Bounded by a byte budget with least-recently-used eviction.
 *
 * Ownership: stackcache_get() returns a borrow valid until the next
 * stackcache_put() (which may evict it); stackcache_put() takes ownership of
 * the result. Owned by the drain thread; not thread-safe.
 */
#ifndef STACKD_AGENT_STACKCACHE_H
#define STACKD_AGENT_STACKCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "symbolize/symbolizer.h"

struct stackcache;

struct stackcache_stats {
	uint64_t bytes;
	uint64_t entries;
	uint64_t hits;
	uint64_t misses;
	uint64_t evictions;
};

int stackcache_new(size_t max_bytes, struct stackcache **out);
void stackcache_free(struct stackcache *c);
const struct sym_result *stackcache_get(struct stackcache *c, uint32_t tgid, uint64_t start,
					const uint64_t *ips, uint32_t nr);
/* Takes @res. An entry larger than the whole budget is freed at once. */
void stackcache_put(struct stackcache *c, uint32_t tgid, uint64_t start, const uint64_t *ips,
		    uint32_t nr, struct sym_result *res);
void stackcache_get_stats(const struct stackcache *c, struct stackcache_stats *out);

#endif
