// SPDX-License-Identifier: Apache-2.0
/*
 * Writes the seed of fuzz_hotspot: a JVM's description (vmStructs, vmTypes)
 * and one code heap with a blob, laid out as OpenJDK 17's, as a memory image
 * mapped at HS_FUZZ_BASE with the gHotSpotVM* variables at its start (see
 * fuzz_hotspot.c). Usage: hs_seed FILE
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hs_fuzz.h"

static unsigned char img[HS_FUZZ_SIZE];

static void put64(uint64_t addr, uint64_t v)
{
	memcpy(img + (addr - HS_FUZZ_BASE), &v, 8);
}

static void put32(uint64_t addr, uint32_t v)
{
	memcpy(img + (addr - HS_FUZZ_BASE), &v, 4);
}

static uint64_t put_str(uint64_t *at, const char *s)
{
	uint64_t a = *at;

	memcpy(img + (a - HS_FUZZ_BASE), s, strlen(s) + 1);
	*at += (strlen(s) + 8) & ~7ULL;
	return a;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *type, *field;
		int is_static;
		uint64_t off;
	} fields[] = {
	    {"CodeBlob", "_code_begin", 0, 0x20},
	    {"CodeBlob", "_code_end", 0, 0x28},
	    {"CodeBlob", "_frame_size", 0, 0x1c},
	    {"CodeBlob", "_frame_complete_offset", 0, 0x14},
	    {"CodeCache", "_heaps", 1, HS_FUZZ_BASE + 0x3000},
	    {"GrowableArrayBase", "_len", 0, 0},
	    {"GrowableArray<int>", "_data", 0, 8},
	    {"CodeHeap", "_memory", 0, 8},
	    {"CodeHeap", "_segmap", 0, 0x78},
	    {"CodeHeap", "_log2_segment_size", 0, 0x100},
	    {"VirtualSpace", "_low_boundary", 0, 0},
	    {"VirtualSpace", "_high_boundary", 0, 8},
	    {"VirtualSpace", "_low", 0, 0x10},
	};
	uint64_t structs = HS_FUZZ_BASE + 0x100, types = HS_FUZZ_BASE + 0x600;
	uint64_t strs = HS_FUZZ_BASE + 0x800, heaps = HS_FUZZ_BASE + 0x3100;
	uint64_t heap = HS_FUZZ_BASE + 0x3200, segmap = HS_FUZZ_BASE + 0x3400;
	uint64_t low = HS_FUZZ_BASE + 0x3800, blob = low + 16;
	FILE *f;

	if (argc != 2)
		return 2;
	for (int i = 0; i < HS_FUZZ_NR_VARS; i++)
		put64(HS_FUZZ_BASE + 8 * (uint64_t)i, 0);
	put64(HS_FUZZ_BASE + 0x00, structs);
	put64(HS_FUZZ_BASE + 0x08, 48);
	put64(HS_FUZZ_BASE + 0x10, 0);
	put64(HS_FUZZ_BASE + 0x18, 8);
	put64(HS_FUZZ_BASE + 0x20, 24);
	put64(HS_FUZZ_BASE + 0x28, 32);
	put64(HS_FUZZ_BASE + 0x30, 40);
	put64(HS_FUZZ_BASE + 0x38, types);
	put64(HS_FUZZ_BASE + 0x40, 48);
	put64(HS_FUZZ_BASE + 0x48, 0);
	put64(HS_FUZZ_BASE + 0x50, 32);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint64_t e = structs + i * 48;

		put64(e, put_str(&strs, fields[i].type));
		put64(e + 8, put_str(&strs, fields[i].field));
		put32(e + 24, (uint32_t)fields[i].is_static);
		put64(e + (fields[i].is_static ? 40 : 32), fields[i].off);
	}
	put64(types, put_str(&strs, "HeapBlock"));
	put64(types + 32, 16);
	put64(HS_FUZZ_BASE + 0x3000, heaps);
	put32(heaps, 1);
	put64(heaps + 8, heaps + 0x80);
	put64(heaps + 0x80, heap);
	put64(heap + 8, low);
	put64(heap + 16, low + 8 * 16);
	put64(heap + 0x78 + 0x10, segmap);
	put32(heap + 0x100, 4);
	/* One blob over segments 0..5, its code from byte 64. */
	for (int i = 0; i < 6; i++)
		img[segmap - HS_FUZZ_BASE + (uint64_t)i] = (unsigned char)i;
	img[segmap - HS_FUZZ_BASE + 6] = 0xff;
	put64(blob + 0x20, low + 64);
	put64(blob + 0x28, low + 6 * 16);
	put32(blob + 0x1c, 4);
	put32(blob + 0x14, 8);
	f = fopen(argv[1], "wb");
	if (!f || fwrite(img, 1, (size_t)(low + 8 * 16 - HS_FUZZ_BASE), f) !=
		      (size_t)(low + 8 * 16 - HS_FUZZ_BASE))
		return 1;
	return fclose(f) ? 1 : 0;
}
