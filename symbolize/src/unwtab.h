/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The unwind tables of one ELF object (private to the unwinder).
 *
 * An unwtab holds copies of the bytes DWARF unwinding reads from an object:
 * .eh_frame_hdr (whose binary search table maps a function start to its
 * FDE) and .eh_frame (the CIEs and FDEs), each with its ELF virtual address,
 * plus the PT_LOAD table to translate a mapping into a load bias, and the GNU
 * build id. Nothing stays open or mapped after unwtab_open_*() returns.
 *
 * The file is untrusted: sizes are capped (UNWTAB_MAX_SECTION per section),
 * every offset is checked against the file, and the .eh_frame_hdr header is
 * validated (version 1, a datarel|sdata4 table whose entries fit the
 * section). An object that is ELF but has no usable table still opens, with
 * has_table false and why in table_err, so the caller can cache "no CFI" and
 * not re-read the file per sample. Section copies are padded to 8-byte
 * boundaries with the file's own neighbouring bytes (libunwind, the first
 * reader, read remote memory in aligned words; cfitab_from_unwtab() skips the
 * padding). The unwinder compiles the copies into a cfitab and then drops them
 * (unwtab_drop_table()): they live only as long as the compile.
 *
 * .debug_frame (what gcc/clang emit for -g code built without unwind tables,
 * and Go's linker for everything) is converted at load time into .eh_frame
 * form, the one form the table compiler reads (libunwind's remote-table
 * search, the first reader, parsed FDEs only as .eh_frame): every
 * usable CIE/FDE is rewritten as an .eh_frame entry (CIE id 0, version 1 or
 * 3, augmentation "zR" with pcrel|sdata8 pointers) into @dbg, placed at a
 * synthetic address inside the object's own image (never read as code:
 * nothing else is served from there), and @hdr becomes a synthetic
 * .eh_frame_hdr whose sorted table holds those FDEs merged with the real
 * .eh_frame's (the real FDE wins when both start at one address). pcrel
 * pointers keep the table correct at any load bias. A .debug_frame that is
 * malformed as a whole is ignored (the real table, if any, stays); a bad
 * entry only drops that entry.
 */
#ifndef STACKD_SYMBOLIZE_UNWTAB_H
#define STACKD_SYMBOLIZE_UNWTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UNWTAB_MAX_SECTION  (64u << 20)
#define UNWTAB_MAX_LOADS    32
#define UNWTAB_MAX_BUILD_ID 64
#define UNWTAB_MAX_CIES	    (1u << 16) /* per .debug_frame */
#define UNWTAB_MAX_FDES	    (1u << 20) /* per table */

struct unwtab_load {
	uint64_t off;
	uint64_t vaddr;
	uint64_t filesz;
	uint64_t memsz;
};

/* A section copy: data[0] is the byte at ELF address @vaddr (8-aligned). */
struct unwtab_sect {
	uint64_t vaddr;
	uint64_t size;
	unsigned char *data;
};

struct unwtab {
	uint16_t e_type; /* ET_EXEC or ET_DYN */
	size_t nr_loads;
	struct unwtab_load loads[UNWTAB_MAX_LOADS];
	uint64_t image_lo, image_hi; /* ELF vaddr span of the PT_LOADs */
	unsigned char build_id[UNWTAB_MAX_BUILD_ID];
	size_t build_id_len; /* 0: none */
	bool has_table;
	/* why !has_table: -ENOENT (no .eh_frame_hdr, no .debug_frame), -EINVAL, -E2BIG, -ENOTSUP */
	int table_err;
	uint64_t hdr_vaddr;   /* ELF address of .eh_frame_hdr */
	uint64_t table_vaddr; /* ...of its binary search table */
	uint64_t fde_count;
	struct unwtab_sect hdr; /* .eh_frame_hdr */
	struct unwtab_sect eh;	/* .eh_frame */
	uint64_t eh_start;	/* ELF address of .eh_frame's first entry (eh.vaddr is 8-aligned) */
	struct unwtab_sect dbg; /* converted .debug_frame (synthetic address); data NULL if none */
	size_t bytes;		/* memory held, for the cache budget */
};

/* Parse the file behind @fd (pread only). 0, -ENOEXEC (not x86_64 ELF), -EINVAL, -ENOMEM. */
int unwtab_open_fd(int fd, struct unwtab **out);
/* Parse an in-memory image (the vDSO, tests, fuzzing); @data is not kept. */
int unwtab_open_mem(const void *data, size_t len, struct unwtab **out);
void unwtab_free(struct unwtab *t);

/* Drop @t's table (keeping geometry and build id) and remember @err as why. */
void unwtab_drop_table(struct unwtab *t, int err);

/*
 * Add the CFI of the @len bytes of .debug_frame at @df (not kept) to @t, as
 * described above. 0, or -ENOMEM, -EINVAL (malformed), -E2BIG (beyond the
 * caps or the image), -ENOENT (no usable FDE); on failure @t is unchanged
 * but for table_err when it has no table.
 */
int unwtab_add_debug_frame(struct unwtab *t, const void *df, size_t len);

/*
 * The same from the .debug_frame of @fd, a separate debug file of @t's
 * object (its addresses are the object's). -ENOENT when it has none,
 * -ENOTSUP when it is compressed.
 */
int unwtab_add_debug_fd(struct unwtab *t, int fd);

/*
 * Load bias of a mapping of @t that starts at @start with file offset
 * @offset: runtime address minus ELF address. -ENOENT when no PT_LOAD holds
 * @offset.
 */
int unwtab_bias(const struct unwtab *t, uint64_t start, uint64_t offset, uint64_t *bias);

#endif
