/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cache of parsed ELF objects (private to the symbolizer).
 *
 * An object is found by its file identity (struct procmap_file: device,
 * inode, size, mtime, ctime) and deduplicated by GNU build id, so one libc
 * copied into many containers is parsed once. A maps snapshot records each
 * mapping's identity while its process lives (symbolizer_prime()), so
 * samples of an exited process still resolve through symcache_get_file().
 * Never by (device, inode) alone: both are reused (a fresh tmpfs gets a
 * freed device number, its first file a freed inode number), and a new file
 * must not get a gone one's symbols. Objects are refcounted:
 * symcache_get_*() returns a reference the caller must drop with
 * symcache_put(); an object is only evicted (least recently used first, when
 * the byte budget is exceeded) while nobody holds it. Files that fail to
 * parse are remembered in a small fixed-size negative cache so a broken
 * binary is not re-parsed on every sample.
 *
 * Lazy DWARF: creating an object (priming) reads its ELF symbols and its
 * section headers only. DWARF is loaded by the first symcache_obj_dwarf()
 * of the object, and its separate debug file searched for then (or by the
 * first symcache_obj_symbol() of a stripped binary, whose .symtab is in
 * that file), and charged to the budget when loaded. Because the process
 * may be gone by then, an object whose own file has .debug_info keeps an
 * O_RDONLY fd of it until its DWARF is loaded; the debug-file search keeps
 * the binary's path and root, and only host debug dirs remain once the
 * process has exited. Held fds are capped (SYMCACHE_MAX_FDS): past the cap,
 * the least recently used holder's fd is closed and that object's DWARF is
 * lost (counted in fd_drops) until symcache_obj_restore_fd() gives it a new
 * one. A cap rather than raising RLIMIT_NOFILE: every held fd pins an open
 * file (and a deleted binary's blocks), and the budget rule applies to fds too.
 *
 * Memory while parsing: everything one object's parse allocates (symbol
 * tables, pclntab, DWARF sections, inflated ones by their claimed size) is
 * charged to a per-object budget (symcache_set_max_object(); the cache's
 * budget by default, at least 16 MiB: an object bigger than the whole cache
 * could not be kept anyway) *before* it is allocated. An object whose symbol tables do
 * not fit is kept without them (segments and build id: its frames stay raw
 * addresses, module + offset); one whose headers do not fit goes to the
 * negative cache; DWARF that does not fit is given up for that object. Each
 * is counted in too_big, and never parsed again while it is remembered.
 *
 * Sharing by build id: a build id is only a claim, and any container can
 * copy another's. Two files share one object only when their content
 * digests agree too (elfsym_digest(): headers, symbol tables, DWARF, pclntab,
 * debuglink), and never when the object's debug file was found inside
 * another process's root; a shared object whose debug file is still to be
 * searched for is then searched for in the host's debug dirs only.
 *
 * Not thread-safe, like the symbolizer that owns it.
 */
#ifndef STACKD_SYMBOLIZE_SYMCACHE_H
#define STACKD_SYMBOLIZE_SYMCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dwarf.h"
#include "elfsym.h"
#include "gopclntab.h"
#include "symbolize/procmaps.h"

#define SYMCACHE_NEG_MAX 256
#define SYMCACHE_MAX_FDS 256 /* fds held for DWARF not loaded yet */
/*
 * File identities one object is found by (copies of one file, and the same
 * file after a touch or chmod): past it the oldest is forgotten (counted in
 * alias_drops), which costs that file one re-parse.
 */
#define SYMCACHE_MAX_ALIASES 64

struct symcache;
struct symcache_obj;

struct stat;

struct symcache_stats {
	uint64_t bytes;
	uint64_t objects;
	uint64_t hits;
	uint64_t misses;
	uint64_t evictions;
	uint64_t neg_hits; /* lookups answered by the negative cache */
	uint64_t fds;	   /* fds held for DWARF not loaded yet */
	uint64_t fd_drops; /* held fds closed at the cap (their DWARF lost until restored) */
	uint64_t too_big;  /* parses that hit the per-object budget (symbols, pclntab or DWARF) */
	uint64_t too_big_bytes; /* what those parses asked for beyond it (first refused charge) */
	uint64_t alias_drops;	/* identities forgotten at SYMCACHE_MAX_ALIASES */
};

int symcache_new(size_t max_bytes, struct symcache **out);
/*
 * DWARF for objects created from now on: off by default. @debug_dirs
 * (NULL-terminated, copied; NULL = { "/usr/lib/debug" }) is where separate
 * debug files are looked for. Returns 0 or -ENOMEM.
 */
int symcache_set_dwarf(struct symcache *c, bool enable, const char *const *debug_dirs);
/* What parsing one object may allocate; 0 = the cache's budget, at least 16 MiB (the default). */
void symcache_set_max_object(struct symcache *c, size_t max_object);
/* Lower (tests) or raise the cap on held fds, closing the coldest ones above it. */
void symcache_set_max_fds(struct symcache *c, unsigned max_fds);
/* Frees every object; no reference may be outstanding. NULL-safe. */
void symcache_free(struct symcache *c);

/*
 * A referenced object parsed from the file of identity @id, or NULL (never
 * parsed, or evicted). Counts a hit when found. No file is touched.
 */
struct symcache_obj *symcache_get_file(struct symcache *c, const struct procmap_file *id);
/*
 * A referenced object for the file behind @fd, parsing it on a miss, found
 * and bound by the file's identity: @id when the caller has fstat()ed @fd
 * already, else (@id NULL) @fd's own fstat. Returns 0, or the parse error
 * (-ENOEXEC, -EINVAL, -E2BIG, -ENOMEM...), or -errno of fstat.
 */
int symcache_get_fd(struct symcache *c, int fd, const struct procmap_file *id,
		    struct symcache_obj **out);
/*
 * Where the file behind an fd lives, for finding its debug file through
 * .gnu_debuglink: @path as its process sees it, under @root
 * ("/proc/PID/root", NULL for the host).
 */
struct symcache_src {
	const char *path;
	const char *root;
};

/* symcache_get_fd(), with the file's location (@src may be NULL). */
int symcache_get_fd_src(struct symcache *c, int fd, const struct procmap_file *id,
			const struct symcache_src *src, struct symcache_obj **out);
/* Drop a reference; evicts down to the budget. NULL-safe. */
void symcache_put(struct symcache *c, struct symcache_obj *o);
/* Borrowed while the reference is held. */
const struct elfsym *symcache_obj_elf(const struct symcache_obj *o);
/*
 * The Go pclntab of a stripped Go binary (one without .symtab), for
 * addresses its symbol tables do not cover; NULL for every other object.
 * Borrowed while the reference is held.
 */
const struct gopclntab *symcache_obj_gopclntab(const struct symcache_obj *o);
/*
 * The function containing @vaddr: from the separate debug file's .symtab
 * when the binary is stripped and one was found (searched for on the first
 * call; its .symtab is charged to the budget), else from the binary.
 * Borrowed while the reference is held. 0 or -ENOENT.
 */
int symcache_obj_symbol(struct symcache *c, struct symcache_obj *o, uint64_t vaddr,
			const char **name, uint64_t *start);
/*
 * DWARF call chain at @vaddr (see dwsym_lookup()): the number of frames,
 * 0 when the object has no DWARF for it, -EINVAL when its DWARF is broken,
 * -EFBIG when it was over the per-object budget.
 * The first call loads the object's DWARF; that and every CU parsed on the
 * way are charged to the cache's budget. Strings are borrowed while the
 * reference is held.
 */
int symcache_obj_dwarf(struct symcache *c, struct symcache_obj *o, uint64_t vaddr,
		       struct dwsym_frame *frames, size_t max);
/* Whether DWARF (loaded so far) gave this object file names, lines and inline frames. */
bool symcache_obj_has_dwarf(const struct symcache_obj *o);
/* Whether a part of the object was left out for the per-object budget (frames: raw addresses). */
bool symcache_obj_is_too_big(const struct symcache_obj *o);
/* Whether the object's DWARF became unreachable when its fd was closed at the cap. */
bool symcache_obj_lost_dwarf(const struct symcache_obj *o);
/*
 * Give a lost object an fd of its file again (@fd, of the same file, e.g.
 * reopened while priming another process; duplicated, not taken).
 */
void symcache_obj_restore_fd(struct symcache *c, struct symcache_obj *o, int fd);
void symcache_get_stats(const struct symcache *c, struct symcache_stats *out);

#endif
