/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening files that a profiled process controls: the one way to open a file
 * below a process's root (/proc/PID/root: debug links, maps fallbacks, perf
 * maps) or a host file whose name a process picks (runtime state files,
 * build-id paths).
 *
 * Contract of every open here:
 *  - it never blocks: a FIFO, a device or a socket is never open()ed for
 *    reading; the path is first resolved to an O_PATH handle, fstat()ed, and
 *    only a regular file is reopened (O_RDONLY | O_NONBLOCK | O_NOCTTY |
 *    O_CLOEXEC) through that handle, so the file read is the file checked;
 *  - the file's st_size is at most the caller's cap (a sparse 8 EiB file is
 *    refused before one byte is read). Callers still bound their reads: a
 *    file may grow after the check;
 *  - with a root (SAFEFILE_IN_ROOT), resolution is chroot-like
 *    (openat2 RESOLVE_IN_ROOT): absolute symlinks and ".." stay inside the
 *    root, never reach the agent's files; magic links (/proc/self/...) are
 *    refused. Without openat2 (kernels before 5.6) the path is walked one
 *    component at a time and any symlink or ".." is refused.
 *
 * Returns an fd the caller closes, or -errno: -ENOENT/-EACCES as open(2),
 * and for the refusals counted in safefile_refused(): -ENODEV (not a regular
 * file), -EFBIG (larger than the cap), -EXDEV (leaves the directory it must
 * stay beneath), -ELOOP (symlink loop, magic link, or a symlink where none
 * is allowed), -EINVAL (an empty, absolute-where-relative or overlong path).
 *
 * Thread-safe: the refusal counters are atomics; safefile_refused() is a
 * snapshot any thread may take.
 */
#ifndef STACKD_COMMON_SAFEFILE_H
#define STACKD_COMMON_SAFEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum safefile_refusal {
	SAFEFILE_NOT_REGULAR, /* FIFO, device, socket, directory */
	SAFEFILE_TOO_BIG,     /* st_size (or bytes read) above the caller's cap */
	SAFEFILE_ESCAPE,      /* a path leaving its directory (SAFEFILE_BENEATH) */
	SAFEFILE_LINK,	      /* symlink loop, magic link, refused symlink */
	SAFEFILE_BAD_PATH,    /* empty, absolute below a root, too long, ".." in fallback */
	SAFEFILE__NR,
};

/* @flags of safefile_openat() */
#define SAFEFILE_IN_ROOT       (1u << 0) /* @dirfd is a root: "/" and ".." stay inside it */
#define SAFEFILE_BENEATH       (1u << 1) /* refuse any path that leaves @dirfd */
#define SAFEFILE_NO_SYMLINKS   (1u << 2) /* refuse a symlink anywhere on the path */
#define SAFEFILE_MAGICLINKS_OK (1u << 3) /* the path is the kernel's (/proc/PID/map_files) */

#define SAFEFILE_NO_CAP UINT64_MAX /* no size cap at open: the caller caps its reads */

/* Open @path relative to @dirfd (or AT_FDCWD) under the rules of @flags. */
int safefile_openat(int dirfd, const char *path, unsigned flags, uint64_t max_size);
/* A host path: no scope, but regular, non-blocking, capped; magic links refused. */
int safefile_open(const char *path, uint64_t max_size);
/* @path (absolute or not) resolved inside the directory @root, e.g. "/proc/PID/root". */
int safefile_open_in_root(const char *root, const char *path, uint64_t max_size);
/* @path (relative) resolved beneath the directory @dir; no symlink may leave it. */
int safefile_open_beneath(const char *dir, const char *path, uint64_t max_size);

/*
 * Read the whole file behind @fd from offset 0 into a new NUL-terminated
 * buffer (*out, caller frees), reading at most @max bytes whatever st_size
 * says. A file with more than @max bytes: -EFBIG, counted as too_big.
 */
int safefile_read_all(int fd, size_t max, char **out, size_t *out_len);

/* Count a refusal a caller found itself (e.g. a file that grew past its cap while read). */
void safefile_count(enum safefile_refusal why);
/* Snapshot of the refusal counters since start, indexed by enum safefile_refusal. */
void safefile_refused(uint64_t out[SAFEFILE__NR]);
/* "not_regular", "too_big", "escape", "link", "bad_path": the metric's label values. */
const char *safefile_refusal_name(enum safefile_refusal why);

/* Tests only: take the pre-openat2 component walk even where openat2 exists. */
void safefile_test_force_walk(bool on);

#endif
