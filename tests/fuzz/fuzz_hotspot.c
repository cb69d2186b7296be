// SPDX-License-Identifier: Apache-2.0
/*
 * The HotSpot reader (symbolize/hotspot.c) on an arbitrary memory image
 * mapped at HS_FUZZ_BASE, whose first 88 bytes are the gHotSpotVM*
 * variables (seed: hs_seed.c, a JVM's description and one code heap laid
 * out as OpenJDK 17's): hs_layout_read(), then hs_blob_find() at pcs spread
 * over every heap it accepted. Whatever the image says, reads stay bounded
 * (the count is checked), and a layout it accepts is sane.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_fuzz.h"
#include "symbolize/hotspot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct image {
	const uint8_t *b;
	size_t len;
	size_t reads;
};

static int image_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct image *im = ctx;

	im->reads++;
	if (addr < HS_FUZZ_BASE || addr - HS_FUZZ_BASE > im->len ||
	    len > im->len - (addr - HS_FUZZ_BASE))
		return -14;
	memcpy(buf, im->b + (addr - HS_FUZZ_BASE), len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image im = {.b = data, .len = size};
	const struct procmem m = {.ctx = &im, .read = image_read};
	struct hs_jvm j = {0};
	struct hs_layout l;

	j.structs = HS_FUZZ_BASE;
	j.struct_stride = HS_FUZZ_BASE + 0x08;
	j.struct_type = HS_FUZZ_BASE + 0x10;
	j.struct_field = HS_FUZZ_BASE + 0x18;
	j.struct_static = HS_FUZZ_BASE + 0x20;
	j.struct_offset = HS_FUZZ_BASE + 0x28;
	j.struct_address = HS_FUZZ_BASE + 0x30;
	j.types = HS_FUZZ_BASE + 0x38;
	j.type_stride = HS_FUZZ_BASE + 0x40;
	j.type_name = HS_FUZZ_BASE + 0x48;
	j.type_size = HS_FUZZ_BASE + 0x50;
	if (hs_layout_read(&m, &j, 0, &l))
		return 0;
	/* Two tables of at most HS_MAX_ENTRIES, names of two reads each, and the heaps. */
	if (im.reads > 2 * (HS_MAX_ENTRIES * 3 + HS_MAX_ENTRIES / 8) + 64)
		abort();
	if (!l.nr_heaps || l.nr_heaps > HS_MAX_HEAPS || l.log2_segment < 4 || l.log2_segment > 12 ||
	    !l.heapblock_size || l.heapblock_size > 64)
		abort();
	for (unsigned h = 0; h < l.nr_heaps; h++) {
		uint64_t span = l.heaps[h].high - l.heaps[h].low;

		for (unsigned k = 0; k < 16; k++) {
			struct hs_blob b;
			size_t before = im.reads;

			if (!hs_blob_find(&m, &l, l.heaps[h].low + span / 16 * k, &b) &&
			    (b.code_begin > l.heaps[h].low + span / 16 * k ||
			     b.code_end <= l.heaps[h].low + span / 16 * k))
				abort();
			if (im.reads - before > HS_MAX_HOPS + 8)
				abort();
		}
	}
	return 0;
}
