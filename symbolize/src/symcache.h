/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cache of parsed ELF objects (private to the symbolizer).
 *
 * An object is found by its file identity (st_dev, st_ino, st_size,
 * st_mtime) and deduplicated by GNU build id, so one libc copied into many
 * containers is parsed once. A second index maps the (device, inode) a maps
 * snapshot recorded to the object, so samples of an exited process still
 * resolve. Objects are refcounted: symcache_get_*() returns a reference the
 * caller must drop with symcache_put(); an object is only evicted (least
 * recently used first, when the byte budget is exceeded) while nobody holds
 * it. Files that fail to parse are remembered in a small fixed-size negative
 * cache so a broken binary is not re-parsed on every sample.
 *
 * Not thread-safe, like the symbolizer that owns it.
 */
#ifndef STACKD_SYMBOLIZE_SYMCACHE_H
#define STACKD_SYMBOLIZE_SYMCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "elfsym.h"

#define SYMCACHE_NEG_MAX 256

struct symcache;
struct symcache_obj;

/* The identity of a file as a /proc/PID/maps line shows it. */
struct symcache_mapkey {
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t inode;
};

struct symcache_stats {
	uint64_t bytes;
	uint64_t objects;
	uint64_t hits;
	uint64_t misses;
	uint64_t evictions;
	uint64_t neg_hits; /* lookups answered by the negative cache */
};

int symcache_new(size_t max_bytes, struct symcache **out);
/* Frees every object; no reference may be outstanding. NULL-safe. */
void symcache_free(struct symcache *c);

/* A referenced object previously bound to @key, or NULL. Counts a hit when found. */
struct symcache_obj *symcache_get_mapped(struct symcache *c, const struct symcache_mapkey *key);
/*
 * A referenced object for the file behind @fd, parsing it on a miss, and
 * bound to @key when @key is not NULL. Returns 0, or the parse error
 * (-ENOEXEC, -EINVAL, -E2BIG, -ENOMEM...), or -errno of fstat.
 */
int symcache_get_fd(struct symcache *c, int fd, const struct symcache_mapkey *key,
		    struct symcache_obj **out);
/* Drop a reference; evicts down to the budget. NULL-safe. */
void symcache_put(struct symcache *c, struct symcache_obj *o);
/* Borrowed while the reference is held. */
const struct elfsym *symcache_obj_elf(const struct symcache_obj *o);
void symcache_get_stats(const struct symcache *c, struct symcache_stats *out);

#endif
