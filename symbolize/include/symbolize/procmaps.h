/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /proc/PID/maps parsing.
 *
 * A struct procmaps is one allocation-owned snapshot of a process's mappings,
 * sorted by start address (the kernel already lists them sorted; the parser
 * checks it). Paths point into the snapshot and live until procmaps_free().
 * The text is untrusted (it names files inside containers): malformed lines
 * are skipped and counted in nr_bad_lines, never trusted, never a crash.
 */
#ifndef STACKD_SYMBOLIZE_PROCMAPS_H
#define STACKD_SYMBOLIZE_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stat;

enum {
	PROCMAP_READ = 1 << 0,
	PROCMAP_WRITE = 1 << 1,
	PROCMAP_EXEC = 1 << 2,
	PROCMAP_PRIVATE = 1 << 3,
};

/*
 * The mapped file's identity as stat(2) gave it. (device, inode) alone is
 * not one: both are reused (a new tmpfs gets a freed device number, a new
 * file a freed inode); size, mtime and ctime (which no process can set back)
 * tell two files apart that share them over time.
 */
struct procmap_file {
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	uint64_t mtime_ns;
	uint64_t ctime_ns;
};

/* The identity stat(2) gives a file. */
void procmap_file_of_stat(const struct stat *st, struct procmap_file *id);

/* The identity as a cache key: every field, so a reused (dev, inode) never matches. */
static inline void procmap_file_key(const struct procmap_file *id, uint64_t key[5])
{
	key[0] = id->dev;
	key[1] = id->ino;
	key[2] = id->size;
	key[3] = id->mtime_ns;
	key[4] = id->ctime_ns;
}

struct procmap {
	uint64_t start;
	uint64_t end;	 /* exclusive */
	uint64_t offset; /* file offset of start */
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t perms;	 /* PROCMAP_* */
	bool is_deleted; /* the kernel appended " (deleted)"; stripped from path */
	/* @file is set: filled by symbolizer_prime() while the process lives, never parsed. */
	bool has_file;
	struct procmap_file file;
	const char *path; /* "" for anonymous memory, "[vdso]", "[stack]", ... */
};

struct procmaps {
	size_t nr;
	struct procmap *maps;
	size_t nr_bad_lines;
	size_t bytes; /* memory held by this snapshot */
	/*
	 * Unique per parsed snapshot (a process-wide counter, never 0): a cache keyed by a
	 * snapshot cannot take a new one, allocated where a freed one was, for the old one.
	 */
	uint64_t serial;
};

/* Keep only executable mappings (what stacks can point into). */
#define PROCMAPS_EXEC_ONLY (1u << 0)

/* Parse maps text (need not be NUL-terminated). Returns 0 or -errno. */
int procmaps_parse(const char *text, size_t len, unsigned flags, struct procmaps **out);
/*
 * Read /proc/<pid>/maps under @proc_root (normally "/proc"). Returns -ESRCH
 * when the process is gone (ENOENT/ESRCH on open or read), other -errno else.
 */
int procmaps_read(const char *proc_root, pid_t pid, unsigned flags, struct procmaps **out);
/*
 * Open the file behind mapping @m of process @pid, read-only:
 * <proc_root>/<pid>/map_files/<start>-<end> first (works for deleted files
 * and other mount namespaces), else <proc_root>/<pid>/root/<path>. Returns
 * an fd or -errno.
 */
int procmaps_open_object(const char *proc_root, pid_t pid, const struct procmap *m);
/* The mapping containing @addr, or NULL. O(log n). */
const struct procmap *procmaps_find(const struct procmaps *m, uint64_t addr);
void procmaps_free(struct procmaps *m);

#endif
