/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compiled unwind tables: an object's CFI (.eh_frame, and .debug_frame once
 * unwtab has converted it to .eh_frame form) interpreted once, in user
 * space, into a sorted array of small rows (symbolize/cfitab_abi.h) that a
 * BPF program binary-searches: for each address range, how to find the CFA,
 * the return address and the caller's rbp, where to stop, and where there is
 * no CFI (gaps, for a frame-pointer fallback).
 *
 * Input is untrusted: every length, pointer encoding and LEB128 is checked
 * against its section, the remember_state stack is capped
 * (CFITAB_MAX_STATE_DEPTH), and so are the CIEs, FDEs and rows of one table.
 * A malformed CIE or FDE drops only its own rows (its range becomes a gap,
 * counted in stats); a malformed entry length ends the walk of its section
 * (nothing after it can be framed). The input is read only during the call.
 *
 * Where FDEs overlap, the one that starts first keeps the overlap; on equal
 * starts the one from the earlier section (so .eh_frame beats a converted
 * .debug_frame, as in unwtab's own lookup table).
 *
 * A struct cfitab is one allocation, immutable once built, owned by the
 * caller (cfitab_free). Thread-safe: no shared state.
 */
#ifndef STACKD_SYMBOLIZE_CFITAB_H
#define STACKD_SYMBOLIZE_CFITAB_H

#include <stddef.h>
#include <stdint.h>

#include "symbolize/cfitab_abi.h"

#define CFITAB_MAX_ROWS	       (1u << 22) /* 32 MiB of rows */
#define CFITAB_MAX_CIES	       (1u << 16) /* per table */
#define CFITAB_MAX_FDES	       (1u << 20) /* per table */
#define CFITAB_MAX_STATE_DEPTH 16u	  /* DW_CFA_remember_state nesting */
#define CFITAB_MAX_SECTS       4u
#define CFITAB_MAX_SECT_BYTES  (64u << 20) /* per section, as unwtab's copies */

/* One section in .eh_frame form: data[0] is the byte at ELF address @vaddr. */
struct cfitab_sect {
	const void *data;
	size_t len;
	uint64_t vaddr;
};

struct cfitab_opts {
	uint64_t lo, hi;   /* ELF address span of the object; FDEs outside are dropped */
	uint32_t max_rows; /* 0 or above CFITAB_MAX_ROWS: CFITAB_MAX_ROWS */
};

/* What the compiler met; for metrics and tests. */
struct cfitab_stats {
	uint32_t cies, cies_bad;   /* bad: version, augmentation or initial program unusable */
	uint32_t fdes, fdes_bad;   /* bad: no usable CIE, bad pointer, bad program, outside */
	uint32_t fdes_overlap;	   /* FDEs (partly) hidden by an earlier one */
	uint32_t sects_truncated;  /* sections whose walk ended at a malformed entry length */
	uint32_t rows_by_cfa[8];   /* final rows by CFITAB_CFA_* kind */
	uint32_t rows_rbp_unknown; /* final rows with CFITAB_RBP_UNDEF or _UNSUP */
};

struct cfitab {
	uint64_t base; /* ELF address of row pc 0 (opts->lo) */
	struct cfitab_stats stats;
	size_t bytes; /* memory held, for a cache budget */
	uint32_t nr_rows;
	struct cfitab_row rows[];
};

/*
 * Compile the CFI of @nr sections (at most CFITAB_MAX_SECTS; earlier ones win
 * on equal FDE starts). 0, -EINVAL (bad arguments, or a span of 4 GiB or more),
 * -ENOMEM, -E2BIG (beyond a cap: a section over CFITAB_MAX_SECT_BYTES, more
 * CIEs, FDEs or rows than allowed; never a truncated table), -ENOENT (no
 * usable FDE).
 */
int cfitab_build(const struct cfitab_sect *sects, size_t nr, const struct cfitab_opts *opts,
		 struct cfitab **out);

struct unwtab;
/*
 * The table of an object read by symbolize's unwtab: its .eh_frame and its
 * converted .debug_frame, over its PT_LOAD span. -ENOENT when it has none.
 */
int cfitab_from_unwtab(const struct unwtab *t, uint32_t max_rows, struct cfitab **out);

/* The row covering ELF address @vaddr, or NULL before the first row or outside 32 bits. */
const struct cfitab_row *cfitab_lookup(const struct cfitab *t, uint64_t vaddr);

void cfitab_free(struct cfitab *t);

#endif
