// SPDX-License-Identifier: Apache-2.0
/*
 * The unwind table reader on arbitrary bytes: whatever it accepts, every
 * table entry it promises must lie inside its copy of .eh_frame_hdr (ASan
 * checks the reads below), and the section copies must be 8-byte padded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unwtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unwtab *t = NULL;
	uint64_t bias, i, sum = 0;
	int32_t e[2];

	if (unwtab_open_mem(data, size, &t))
		return 0;
	if (t->has_table) {
		const unsigned char *tab = t->hdr.data + (t->table_vaddr - t->hdr.vaddr);

		if (t->hdr.vaddr % 8 || t->hdr.size % 8 || t->eh.vaddr % 8 || t->eh.size % 8)
			abort();
		for (i = 0; i < t->fde_count; i++) {
			memcpy(e, tab + i * 8, 8);
			sum += (uint64_t)(uint32_t)e[0] + (uint64_t)(uint32_t)e[1];
		}
		if (t->eh.size)
			sum += t->eh.data[t->eh.size - 1];
	}
	unwtab_bias(t, 0x7f0000000000ull, sum & 0xfffff000, &bias);
	unwtab_free(t);
	return 0;
}
