/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JIT perf maps (private to the symbolizer).
 *
 * JITs (V8/Node --perf-basic-prof, the JVM with perf-map-agent, .NET with
 * DOTNET_PerfMapEnabled, LuaJIT, ...) describe the code they generate in
 * /tmp/perf-<pid>.map, one "START SIZE NAME" line per function: START and
 * SIZE in hex (an optional 0x is accepted), NAME the rest of the line,
 * spaces included. <pid> is the process's pid in its own pid namespace, and
 * /tmp is its own /tmp, so the file is read as
 * <proc>/<pid>/root/tmp/perf-<nspid>.map, resolved inside that root.
 *
 * A struct perfmap is one parsed file: entries sorted by start address,
 * names in a pool. The file is untrusted: lines that do not parse are
 * skipped and counted, and the file size, entry count and name length are
 * capped. When a code range appears more than once (a JIT reusing memory),
 * the line written last wins.
 *
 * A struct perfmap_cache holds the maps of recently seen processes, keyed by
 * (pid, start time), and re-reads a file when it changed (size, mtime,
 * inode), at most once per refresh interval. Appended lines are parsed
 * incrementally. Not thread-safe.
 */
#ifndef STACKD_SYMBOLIZE_PERFMAP_H
#define STACKD_SYMBOLIZE_PERFMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Caps against hostile or runaway files. */
#define PERFMAP_MAX_FILE    (64u << 20) /* bytes read from one file */
#define PERFMAP_MAX_ENTRIES (1u << 20)
#define PERFMAP_MAX_NAME    1024 /* longer names are truncated */
#define PERFMAP_CACHE_PROCS 64	 /* processes kept; least recently used evicted */
/*
 * Memory: all processes' tables together stay under PERFMAP_CACHE_BYTES,
 * one process's under PERFMAP_PROC_BYTES, checked before each allocation
 * (what does not fit is not parsed, counted in truncated/refused_bytes);
 * files are read PERFMAP_READ_CHUNK at a time, never whole.
 */
#define PERFMAP_CACHE_BYTES (32u << 20)
#define PERFMAP_PROC_BYTES  (8u << 20)
#define PERFMAP_READ_CHUNK  (1u << 20)

struct perfmap;
struct perfmap_cache;

/* Parse perf map text (need not be NUL-terminated). Returns 0 or -errno. */
int perfmap_parse(const char *text, size_t len, struct perfmap **out);
void perfmap_free(struct perfmap *pm);
/* The entry covering @addr: 0, or -ENOENT. @name borrowed from @pm. NULL-safe. */
int perfmap_lookup(const struct perfmap *pm, uint64_t addr, const char **name, uint64_t *start);
size_t perfmap_nr(const struct perfmap *pm);
size_t perfmap_nr_bad_lines(const struct perfmap *pm);
size_t perfmap_bytes(const struct perfmap *pm);

/* @refresh_ns: minimum time between checks of one process's file. */
int perfmap_cache_new(const char *proc_root, uint64_t refresh_ns, struct perfmap_cache **out);
void perfmap_cache_free(struct perfmap_cache *c);
/*
 * The perf map of process @pid, loading or refreshing it as needed; NULL
 * when the process has none. When the process is gone, the last table read
 * for that pid is kept (its samples arrive after it exits). The result is
 * borrowed until the next perfmap_cache_get() or perfmap_cache_free().
 */
const struct perfmap *perfmap_cache_get(struct perfmap_cache *c, pid_t pid);
size_t perfmap_cache_bytes(const struct perfmap_cache *c);
/*
 * @pid's file was rewritten, not appended to (HotSpot writes its map anew at
 * each request): the next perfmap_cache_get() re-reads it in full, at once,
 * and so does every later change of it (the process's life long). The table
 * read before serves until then. A pid not looked up yet is read now.
 */
void perfmap_cache_reload(struct perfmap_cache *c, pid_t pid);

struct perfmap_cache_stats {
	uint64_t truncated;	/* reads that stopped at the memory budget */
	uint64_t refused_bytes; /* bytes of those files left unparsed */
};
void perfmap_cache_get_stats(const struct perfmap_cache *c, struct perfmap_cache_stats *out);

#endif
