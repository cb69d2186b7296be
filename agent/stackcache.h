/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Symbolized stacks, so a stack seen before costs no symbolization work.
 *
 * Keyed by the raw ips and, for user stacks, the process identity (tgid,
 * leader start time): the same addresses mean different code in different
 * processes. Kernel stacks are shared by all processes (tgid 0, start 0).
 * Bounded by a byte budget with least-recently-used eviction.
 *
 * Staleness. An exec keeps the tgid and the leader's start time but replaces
 * every mapping, and a maps refresh may show other code at old addresses:
 * the caller forgets the process then (stackcache_forget). Code a JIT wrote
 * into anonymous memory can be replaced at the same address at any time: such
 * stacks are put with @this_drain and dropped by stackcache_end_drain(), so
 * they are never served beyond the drain that symbolized them.
 *
 * Ownership: stackcache_get() returns a borrow valid until the next
 * stackcache_put(), stackcache_forget() of that process or
 * stackcache_end_drain(); stackcache_put() takes ownership of the result.
 * Owned by the drain thread; not thread-safe.
 */
#ifndef STACKD_AGENT_STACKCACHE_H
#define STACKD_AGENT_STACKCACHE_H

#include <stdbool.h>
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
	uint64_t invalidated; /* dropped by an exec or maps change, or at the end of a drain */
};

int stackcache_new(size_t max_bytes, struct stackcache **out);
void stackcache_free(struct stackcache *c);
const struct sym_result *stackcache_get(struct stackcache *c, uint32_t tgid, uint64_t start,
					const uint64_t *ips, uint32_t nr);
/*
 * Takes @res. An entry larger than the whole budget is freed at once. With
 * @this_drain the entry lives only until the next stackcache_end_drain().
 */
void stackcache_put(struct stackcache *c, uint32_t tgid, uint64_t start, const uint64_t *ips,
		    uint32_t nr, struct sym_result *res, bool this_drain);
/* Drops every stack of the process (tgid, start): it exec'd or its maps changed. */
void stackcache_forget(struct stackcache *c, uint32_t tgid, uint64_t start);
/* Drops the entries put with @this_drain. */
void stackcache_end_drain(struct stackcache *c);
void stackcache_get_stats(const struct stackcache *c, struct stackcache_stats *out);

/* Does @res hold a frame in anonymous executable memory (JIT code, perf-map names)? */
bool stackcache_is_jit(const struct sym_result *res);
/* Is @f's mapping anonymous executable memory (no file behind it)? */
bool stackcache_frame_is_jit(const struct sym_frame *f);

#endif
