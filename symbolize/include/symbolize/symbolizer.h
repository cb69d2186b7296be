/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The symbolizer: raw instruction pointers in, frames out.
 *
 * Two steps, after blazesym: *normalize* a (process, address) into
 * (object file, ELF virtual address) through a maps snapshot and the file's
 * PT_LOAD segments, then *symbolize* inside that object. All per-file work
 * (symbol tables, DWARF lines) is cached by build id, or
 * by (device, inode, size, mtime) for files without one, within a byte budget
 * with least-recently-used eviction, and shared by every process mapping the
 * file.
 *
 * Files are opened through /proc/<pid>/map_files/<range> or
 * /proc/<pid>/root/<path>, so processes in other mount namespaces and
 * deleted binaries work. Because a process may exit before its samples are
 * symbolized, symbolizer_prime() loads every executable object of a maps
 * snapshot while the process is alive; later lookups find those objects by
 * the file identity (device, inode, size, mtime, ctime) priming recorded in
 * the snapshot, without touching /proc.
 * Priming reads symbol tables only: DWARF is loaded by the first lookup
 * that needs lines in an object, from an fd kept since priming when the
 * DWARF is in the object itself, or from its separate debug file.
 *
 * Not thread-safe: one symbolizer belongs to one thread (the drain loop).
 *
 * Results are one allocation each (frames, lines and strings together),
 * freed by sym_result_free(); they stay valid however the cache changes.
 */
#ifndef STACKD_SYMBOLIZE_SYMBOLIZER_H
#define STACKD_SYMBOLIZE_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolize/procmaps.h"

struct symbolizer;

struct symbolizer_opts {
	size_t cache_max_bytes; /* budget for cached per-file data; 0 = 64 MiB */
	/*
	 * What parsing one object may allocate, checked before each allocation
	 * (symbol tables, pclntab, DWARF sections, inflated sizes as claimed);
	 * 0 = cache_max_bytes, at least 16 MiB. Objects over it keep what fit; the rest of their
	 * frames stay raw addresses (mapping + address), counted as too_big.
	 */
	size_t max_object_bytes;
	const char *proc_root;	   /* NULL = "/proc" (tests point it elsewhere) */
	const char *kallsyms_path; /* NULL = "/proc/kallsyms" */
	/*
	 * Where separate debug files are looked for, in order, besides the
	 * binary's own directory and its .debug/ subdirectory. NULL-terminated;
	 * NULL = { "/usr/lib/debug", NULL }. Each dir is searched as
	 * DIR/.build-id/xx/yyyy.debug and DIR/<binary's dir>/<debuglink>.
	 */
	const char *const *debug_dirs;
	bool no_dwarf;	  /* symbol tables only (no DWARF lines or inline frames) */
	bool no_demangle; /* leave names mangled (function == system_name) */
};

/* One source line of a frame. For inlined calls, lines[0] is the innermost. */
struct sym_line {
	const char *function;	 /* demangled name, or NULL when unknown */
	const char *system_name; /* raw (mangled) name, or NULL */
	const char *file;	 /* source file, or NULL */
	uint32_t line;		 /* 0 when unknown */
	uint32_t start_line;	 /* first line of the function, 0 when unknown */
};

/* The object a frame's address lies in, as pprof's Mapping wants it. */
struct sym_mapping {
	uint64_t start;	      /* runtime start of the mapping */
	uint64_t limit;	      /* runtime end, exclusive */
	uint64_t offset;      /* file offset of start */
	const char *path;     /* as the process sees it, or "[kernel.kallsyms]" */
	const char *build_id; /* lowercase hex, "" when none */
	bool has_functions;
	bool has_filenames;
	bool has_line_numbers;
	bool has_inline_frames;
};

struct sym_frame {
	uint64_t addr;			   /* the runtime address as sampled (not adjusted) */
	const struct sym_mapping *mapping; /* NULL when no mapping covers addr */
	uint32_t nr_lines;		   /* 0 when the address could not be symbolized */
	const struct sym_line *lines;
};

struct sym_result {
	size_t nr;
	struct sym_frame *frames; /* same order as the input ips */
};

enum sym_fail_reason {
	SYM_FAIL_NO_MAPPING = 0, /* address outside every executable mapping */
	SYM_FAIL_OPEN,		 /* object file could not be opened */
	SYM_FAIL_BAD_ELF,	 /* malformed or unsupported ELF */
	SYM_FAIL_NO_SYMBOL,	 /* ELF fine, no symbol covers the address */
	SYM_FAIL_KERNEL,	 /* kernel address not in kallsyms */
	SYM_FAIL_BAD_DWARF,	 /* DWARF corrupt or over a cap: symbol-table answer only */
	SYM_FAIL_TOO_BIG,	 /* the object's symbols or DWARF were over the per-object budget */
	SYM_FAIL__MAX,
};

struct symbolizer_stats {
	uint64_t cache_bytes;
	uint64_t cache_objects;
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t cache_evictions;
	uint64_t cache_fds;	    /* fds held for DWARF not loaded yet (see symcache.h) */
	uint64_t cache_fd_drops;    /* of those, closed at the cap: DWARF lost until re-primed */
	uint64_t cache_alias_drops; /* file identities an object forgot at its cap (64) */
	uint64_t objects_too_big;   /* parses over the per-object budget (max_object_bytes) */
	uint64_t too_big_bytes;	    /* bytes those parses asked for and were refused */
	uint64_t perfmap_bytes;	    /* JIT perf maps held (all processes) */
	uint64_t perfmap_truncated; /* perf map reads stopped at their memory budget */
	uint64_t perfmap_refused_bytes; /* bytes of those files left unparsed */
	uint64_t frames_total;
	uint64_t failures[SYM_FAIL__MAX]; /* frames that could not be symbolized */
	/* Python frames (see symbolizer_py_code_add) */
	uint64_t py_frames;	   /* named from a code object's record */
	uint64_t py_unknown;	   /* placeholders: no record of the code object */
	uint64_t py_codes;	   /* code objects held */
	uint64_t py_code_bytes;	   /* their memory */
	uint64_t py_codes_evicted; /* dropped for the budget */
	uint64_t py_codes_refused; /* records not taken (no memory) */
};

const char *sym_fail_reason_name(enum sym_fail_reason r);

int symbolizer_new(const struct symbolizer_opts *opts, struct symbolizer **out);
void symbolizer_free(struct symbolizer *s);

/*
 * Load (into the cache) every executable file-backed object of @maps for
 * process @pid, opening it through /proc while the process is alive, and
 * record in each mapping the identity of its file (procmap.file: one stat()
 * of /proc/PID/map_files/RANGE; a file already cached is not opened again).
 * Later lookups with this snapshot find objects by that identity, never by
 * the (device, inode) of the maps line, which a later file can reuse; a
 * mapping's identity, once recorded, is never replaced by another file's.
 * Returns 0, or -ESRCH when the process vanished (objects loaded so far stay).
 */
int symbolizer_prime(struct symbolizer *s, pid_t pid, struct procmaps *maps);

/*
 * Symbolize user-space ips of process @pid (leaf first, as the kernel
 * records them). ips[i] for i > 0 are return addresses and are looked up at
 * ip - 1. @maps is the snapshot taken when the process was first seen.
 * Never fails for an individual frame: unknown frames have nr_lines = 0 and
 * are counted in the stats. Returns 0 or -ENOMEM.
 */
int symbolizer_user(struct symbolizer *s, pid_t pid, const struct procmaps *maps,
		    const uint64_t *ips, size_t nr, struct sym_result **out);

/*
 * symbolizer_user() from symbol tables only: one line per frame, the
 * function name, no file or line. It never loads DWARF, which costs
 * megabytes per object (libc's is ~9 MB): for callers that only need names
 * (is this stack complete?), so DWARF stays unloaded until a profile needs it.
 */
int symbolizer_user_names(struct symbolizer *s, pid_t pid, const struct procmaps *maps,
			  const uint64_t *ips, size_t nr, struct sym_result **out);

/*
 * Symbolize ELF virtual addresses (as addr2line takes them) of the file at
 * @path: no process, no normalization, no return-address adjustment. The
 * frames' mapping is NULL. Returns 0, or -errno when the file cannot be used.
 */
int symbolizer_file(struct symbolizer *s, const char *path, const uint64_t *addrs, size_t nr,
		    struct sym_result **out);

/* Kernel ips through kallsyms (loaded lazily, reloaded when modules change). */
int symbolizer_kernel(struct symbolizer *s, const uint64_t *ips, size_t nr,
		      struct sym_result **out);

/*
 * Python frames. A user stack may hold Python frames encoded as
 * PY_FRAME_TAG | lasti << PY_LASTI_SHIFT | code object address
 * (symbolize/python.h); each is named from the record of its code object that
 * was added here for that process (by the agent, from the in-kernel walk):
 * the qualified name, the file and the line of instruction lasti. A frame
 * whose code object has no record gets the name PY_UNKNOWN_FRAME (counted in
 * py_unknown), never another object's name. Records are kept within
 * SYMBOLIZER_PY_BYTES, least recently used out first.
 */
#define SYMBOLIZER_PY_BYTES (16u << 20)
#define PY_UNKNOWN_FRAME    "[unknown Python code]"

struct symbolizer_py_code {
	uint64_t code;
	int32_t firstlineno;
	const char *qualname; /* UTF-8 */
	const char *filename;
	const unsigned char *linetable; /* co_linetable (3.11 location table), maybe cut */
	size_t linetable_len;
};

/*
 * Add process @pid's record of a code object: 0; 1 when it replaced one at the same
 * address (another object there now: frames named through the old one are stale);
 * -ENOMEM (counted).
 */
int symbolizer_py_code_add(struct symbolizer *s, pid_t pid, const struct symbolizer_py_code *c);
/* Drop @pid's records (it exited, or exec'd another image). */
void symbolizer_py_forget(struct symbolizer *s, pid_t pid);
/*
 * @pid's JIT perf map was rewritten from its start (a JVM asked for it
 * again): read it anew, in full, at the next lookup.
 */
void symbolizer_perfmap_reload(struct symbolizer *s, pid_t pid);

void sym_result_free(struct sym_result *r);
/* Heap bytes held by @r (for callers that cache results within a budget). */
size_t sym_result_bytes(const struct sym_result *r);
void symbolizer_get_stats(const struct symbolizer *s, struct symbolizer_stats *out);

#endif
