/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DWARF line tables and inline chains of one ELF object (private).
 *
 * A dwsym reads the .debug_* sections of an ELF64 little-endian file through
 * libdwarf's object-access interface: the sections are read (and, when
 * SHF_COMPRESSED, inflated) by this module, so the bytes are ours, counted,
 * and the file descriptor is not kept once dwsym_open_*() returns. libdwarf
 * wants whole sections in memory, so they cannot be read per CU; for a
 * trusted file, dwsym_open_fd_map() uses uncompressed sections in place from
 * a read-only mapping instead (page cache: only touched pages are resident,
 * and the kernel may reclaim them).
 *
 * Opening only builds a sorted address-range -> compile-unit table, from
 * .debug_aranges where it covers a CU and from the CU's own DW_AT_ranges /
 * low_pc-high_pc otherwise. The first lookup that lands in a CU parses that
 * CU's line program (by our own parser: libdwarf 20210528 resolves the file
 * of DWARF 5 rows at a sequence start to entry 0 instead of the file
 * register's default 1) and walks its DIE tree once, into compact sorted
 * arrays; libdwarf's per-CU memory is released right after. Later lookups
 * are binary searches and allocate nothing.
 *
 * The file is untrusted: every libdwarf call reports errors through its
 * Dwarf_Error argument (and a no-op handler, never the default abort), rows,
 * DIEs, nesting depth, names and section sizes are capped, and a broken CU
 * is remembered as broken (-EINVAL from then on) without affecting others.
 *
 * Strings returned by lookups are borrowed from the dwsym and stay valid
 * until dwsym_free(), whatever other CUs are loaded meanwhile.
 * Not thread-safe.
 */
#ifndef STACKD_SYMBOLIZE_DWARF_H
#define STACKD_SYMBOLIZE_DWARF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"

struct dwsym;

/* Caps against hostile files; real objects stay far below them. */
#define DWSYM_MAX_SECTION   (1ull << 30) /* bytes of one section, inflated */
#define DWSYM_MAX_CUS	    (1u << 20)
#define DWSYM_MAX_ROWS_CU   (1u << 22) /* line-table rows kept per CU */
#define DWSYM_MAX_DIES_CU   (1u << 22) /* DIEs visited per CU */
#define DWSYM_MAX_SCOPES_CU (1u << 20) /* functions + inlined calls per CU */
#define DWSYM_MAX_DEPTH	    96	       /* DIE nesting */
#define DWSYM_MAX_FILES	    (1u << 16) /* line-table file entries per CU */
#define DWSYM_MAX_RANGES    (1u << 16) /* entries of one range list */
#define DWSYM_MAX_INLINE    32	       /* frames of one address, physical one included */

/* One level of an address's call chain; lines[0] of a pprof Location. */
struct dwsym_frame {
	const char *name;	  /* DW_AT_name (via origin/specification), or NULL */
	const char *linkage_name; /* DW_AT_linkage_name, or NULL */
	const char *file;	  /* as llvm-symbolizer prints it (comp dir joined), or NULL */
	uint32_t line;		  /* 0 when unknown */
	uint32_t start_line;	  /* DW_AT_decl_line of the function, 0 when unknown */
};

/*
 * Open the DWARF of the file behind @fd (pread, never mapped; @fd is not
 * kept). Returns 0; -ENOENT when the file has no .debug_info; -ENOEXEC when
 * it is not an ELF64 LE executable or shared object; -EINVAL when the
 * DWARF is corrupt; -ENOMEM; -E2BIG when a cap is exceeded; -EFBIG when
 * over the parse budget.
 */
int dwsym_open_fd(int fd, struct dwsym **out);
/*
 * dwsym_open_fd() for a trusted file: mapped read-only (MAP_PRIVATE) and
 * kept mapped until dwsym_free(); uncompressed sections are used in place,
 * compressed ones inflated as usual; the pages that opening and each CU
 * parse walked are dropped from the agent's page tables afterwards
 * (MADV_DONTNEED: read again from the page cache on the next access).
 * Only for files nobody untrusted can
 * write: a file truncated under the mapping raises SIGBUS on access.
 * Falls back to dwsym_open_fd() when the file cannot be mapped.
 */
int dwsym_open_fd_map(int fd, struct dwsym **out);
/* The same from an in-memory image (tests, fuzzing); @data is not kept. */
int dwsym_open_mem(const void *data, size_t len, struct dwsym **out);
/*
 * The three above use PARSE_BUDGET_DEFAULT; these charge @b instead for
 * everything opening allocates (section headers and names, every section
 * read or mapped, each inflated section's claimed size before inflating, the
 * CU and range tables): -EFBIG as soon as a charge does not fit, before the
 * allocation. CUs parsed later by lookups are not charged here (the caller
 * charges dwsym_bytes() growth to its cache).
 */
int dwsym_open_fd_budget(int fd, struct parse_budget *b, struct dwsym **out);
int dwsym_open_fd_map_budget(int fd, struct parse_budget *b, struct dwsym **out);
int dwsym_open_mem_budget(const void *data, size_t len, struct parse_budget *b, struct dwsym **out);
void dwsym_free(struct dwsym *d);

/*
 * The call chain at ELF virtual address @vaddr, innermost first, the last
 * frame being the physical function. Writes at most @max frames. Returns
 * the number written; 0 when no CU (or no line, no function) covers
 * @vaddr; -EINVAL when the CU covering it is corrupt; -ENOMEM.
 */
int dwsym_lookup(struct dwsym *d, uint64_t vaddr, struct dwsym_frame *frames, size_t max);

/* Memory held: sections (mapped ones included), the CU table and every CU parsed so far. */
size_t dwsym_bytes(const struct dwsym *d);
/* Of dwsym_bytes(), the sections used in place from the file's mapping. */
size_t dwsym_mapped_bytes(const struct dwsym *d);
/* Number of compile units, and how many are parsed / broken. */
size_t dwsym_nr_cus(const struct dwsym *d);
size_t dwsym_nr_bad_cus(const struct dwsym *d);
/* The @i-th entry of the address -> CU table (fuzzing, tests): 0 or -ENOENT. */
int dwsym_range(const struct dwsym *d, size_t i, uint64_t *lo, uint64_t *hi);

#endif
