/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding a binary's separate debug file (private), the way gdb does:
 *
 *  1. by GNU build id: DIR/.build-id/xx/yyyy.debug for each debug dir,
 *     accepted only when the candidate's own build id matches;
 *  2. by .gnu_debuglink: next to the binary, in its .debug/ subdirectory,
 *     then DIR/<binary's dir>/ for each debug dir, accepted only when the
 *     candidate's CRC32 (zlib's) matches the one in the link.
 *
 * Binaries in containers: the binary's own directory is resolved inside
 * @root (e.g. "/proc/PID/root") as if chrooted there (safefile.h: absolute
 * symlinks and ".." stay inside); the debug dirs are host paths. Every
 * candidate is opened through safefile: regular files only, never blocking
 * on a FIFO, and capped in size (a debuglink candidate is read whole for
 * its CRC, at most 1 GiB). Candidates are untrusted files like the
 * binaries: only their section headers and notes are read here, with every
 * size checked.
 */
#ifndef STACKD_SYMBOLIZE_DEBUGINFO_H
#define STACKD_SYMBOLIZE_DEBUGINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEBUGINFO_MAX_LINK 256 /* .gnu_debuglink names longer than this are ignored */

/* What a binary says about its debug info. */
struct debuginfo_probe {
	bool has_debug_info; /* its own .debug_info */
	bool has_symtab;     /* its own .symtab (not stripped) */
	bool has_link;
	uint32_t link_crc;
	char link[DEBUGINFO_MAX_LINK]; /* .gnu_debuglink file name */
};

/* Read the section headers of the ELF file behind @fd. Returns 0, -ENOEXEC or -EINVAL. */
int debuginfo_probe_fd(int fd, struct debuginfo_probe *out);

struct debuginfo_query {
	const char *build_id;		     /* lowercase hex; NULL or "" when none */
	const struct debuginfo_probe *probe; /* the binary's debuglink, or NULL */
	const char *bin_path;		     /* the binary as its process sees it, or NULL */
	const char *root;		     /* bin_path's root directory; NULL = host */
	const char *const *debug_dirs;	     /* NULL-terminated; NULL = { "/usr/lib/debug" } */
};

/*
 * Open the debug file for @q. Returns an fd (O_RDONLY | O_CLOEXEC) the
 * caller closes, or -ENOENT when none is found or none checks out.
 */
int debuginfo_find(const struct debuginfo_query *q);

/*
 * debuginfo_find(), also telling whether the file found may be mapped
 * (dwsym_open_fd_map()): found in a host debug dir (or next to a host
 * binary, @root NULL) and debuginfo_fd_is_trusted(). A container's file never
 * is: its root may truncate it under the mapping (SIGBUS).
 */
int debuginfo_find_ex(const struct debuginfo_query *q, bool *is_trusted);
/* Regular, owned by root and not writable by group or others: only root can truncate it. */
bool debuginfo_fd_is_trusted(int fd);

/* Lowercase hex build id of the ELF file behind @fd into @out (129 bytes); 0 or -ENOENT. */
int debuginfo_build_id_fd(int fd, char *out, size_t out_sz);

#endif
