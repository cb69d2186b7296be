// SPDX-License-Identifier: Apache-2.0
/*
 * The unwind table reader on arbitrary bytes: whatever it accepts, every
 * table entry it promises must lie inside its copy of .eh_frame_hdr (ASan
 * checks the reads below), and the section copies must be 8-byte padded.
 * The bytes are read twice: as an ELF file (which reaches the .debug_frame
 * converter when it has that section), and as a bare .debug_frame section
 * for an object image spanning [0, 16 MiB) (where both PIE and non-PIE
 * functions are), so mutations hit the converter directly.
 * A converted table's entries must point into its .eh_frame copies.
 */
#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unwtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool in_sect(const struct unwtab_sect *s, uint64_t addr)
{
	return s->data && addr >= s->vaddr && addr - s->vaddr < s->size;
}

static uint64_t check_table(const struct unwtab *t)
{
	const unsigned char *tab = t->hdr.data + (t->table_vaddr - t->hdr.vaddr);
	uint64_t i, fde, sum = 0;
	int32_t e[2];

	if (t->hdr.vaddr % 8 || t->hdr.size % 8 || t->eh.vaddr % 8 || t->eh.size % 8 ||
	    t->dbg.vaddr % 8 || t->dbg.size % 8)
		abort();
	for (i = 0; i < t->fde_count; i++) {
		memcpy(e, tab + i * 8, 8);
		sum += (uint64_t)(uint32_t)e[0] + (uint64_t)(uint32_t)e[1];
		fde = t->hdr_vaddr + (uint64_t)(int64_t)e[1];
		/* Synthetic tables only hold FDEs they have the bytes of. */
		if (t->dbg.data && !in_sect(&t->dbg, fde) && !in_sect(&t->eh, fde))
			abort();
	}
	if (t->dbg.data) {
		/* Sorted, no duplicates, all inside the image. */
		int32_t prev = 0;

		for (i = 0; i < t->fde_count; i++) {
			memcpy(e, tab + i * 8, 8);
			if ((i && e[0] <= prev) ||
			    t->hdr_vaddr + (uint64_t)(int64_t)e[0] < t->image_lo ||
			    t->hdr_vaddr + (uint64_t)(int64_t)e[0] >= t->image_hi)
				abort();
			prev = e[0];
		}
		if (t->hdr.vaddr < t->image_lo || t->hdr.vaddr + t->hdr.size > t->image_hi ||
		    t->dbg.vaddr < t->image_lo || t->dbg.vaddr + t->dbg.size > t->image_hi)
			abort();
		sum += t->dbg.data[t->dbg.size - 1];
	}
	if (t->eh.size)
		sum += t->eh.data[t->eh.size - 1];
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unwtab *t = NULL;
	uint64_t bias, sum = 0;

	if (!unwtab_open_mem(data, size, &t)) {
		if (t->has_table)
			sum = check_table(t);
		unwtab_bias(t, 0x7f0000000000ull, sum & 0xfffff000, &bias);
		unwtab_free(t);
	}

	t = calloc(1, sizeof(*t));
	if (!t)
		return 0;
	t->e_type = ET_EXEC;
	t->nr_loads = 1;
	t->loads[0] = (struct unwtab_load){0, 0, 16u << 20, 16u << 20};
	t->image_lo = 0;
	t->image_hi = 16u << 20;
	t->bytes = sizeof(*t);
	if (!unwtab_add_debug_frame(t, data, size)) {
		if (!t->has_table || !t->dbg.data || !t->fde_count)
			abort();
		check_table(t);
	}
	unwtab_free(t);
	return 0;
}
