/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a runtime's probe reads of an ELF object (symbolize/python.h for
 * CPython, symbolize/hotspot.h for HotSpot): its dynamic symbols by name,
 * bytes at a link-time address, and its load bias in a process.
 *
 * The object is untrusted (a process picks its binaries): every offset is
 * checked against the file's size before it is read, section and segment
 * counts are capped, and .dynsym with its strings is read in one bounded
 * allocation (ELFDYN_SYMTAB_MAX). Only 64-bit little-endian ET_EXEC and
 * ET_DYN objects are read. Stateless and thread-safe.
 */
#ifndef STACKD_SYMBOLIZE_ELFDYN_H
#define STACKD_SYMBOLIZE_ELFDYN_H

#include <stddef.h>
#include <stdint.h>

#define ELFDYN_MAX_LOADS  8	      /* PT_LOAD segments kept; later ones are ignored */
#define ELFDYN_SYMTAB_MAX (16u << 20) /* .dynsym plus .dynstr read, at most */

/* The bytes read: a file (@fd, @size from fstat) or a buffer (@mem, for fuzzing). */
struct elfdyn_src {
	int fd;
	const unsigned char *mem;
	uint64_t size;
};

struct elfdyn {
	uint16_t e_type; /* ET_EXEC or ET_DYN */
	uint16_t nr_loads;
	struct {
		uint64_t off, vaddr, filesz;
	} loads[ELFDYN_MAX_LOADS];
};

/* @s for the regular file @fd: 0, -ENOEXEC when it is not a regular file, or -errno. */
int elfdyn_src_fd(int fd, struct elfdyn_src *s);
/* @len bytes at file offset @off: 0 or -EINVAL (outside the object, short read). */
int elfdyn_read(const struct elfdyn_src *s, uint64_t off, void *buf, size_t len);

/*
 * Read the headers into @out and call @sym once for every defined symbol of
 * .dynsym with a NUL-terminated name (@type is ELF64_ST_TYPE). -ENOEXEC: not
 * an object we read; -ENOENT: no .dynsym; -EINVAL: malformed; -ENOMEM.
 */
int elfdyn_scan(const struct elfdyn_src *s, struct elfdyn *out,
		void (*sym)(void *ctx, const char *name, uint64_t value, uint64_t size,
			    unsigned type),
		void *ctx);
/* @len bytes at link-time address @vaddr, from a PT_LOAD's file bytes: 0, -ENOENT, -EINVAL. */
int elfdyn_read_vaddr(const struct elfdyn_src *s, const struct elfdyn *e, uint64_t vaddr, void *buf,
		      size_t len);
/*
 * The load bias of the object in a process that maps file offset @offset at
 * @start (a /proc/PID/maps line): runtime address = link-time address + bias.
 * ET_EXEC objects have bias 0. -ENOENT when no PT_LOAD holds @offset.
 */
int elfdyn_bias(const struct elfdyn *e, uint64_t start, uint64_t offset, uint64_t *bias);

#endif
