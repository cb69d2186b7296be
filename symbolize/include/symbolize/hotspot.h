/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HotSpot's code cache from outside the JVM: what the kernel walk needs to
 * step through frames of JIT-compiled Java code, which keep no frame
 * pointer (C1 and C2 use rbp as a general register unless the JVM runs with
 * -XX:+PreserveFramePointer, which stackd does not ask for).
 *
 * Every piece of code HotSpot generates is a CodeBlob in one of the code
 * heaps (CodeHeap). A heap's segment map has one byte per segment of its
 * memory: 0 at the first segment of a block, else how many segments to
 * step back towards it (0xff: free). So from any pc in a heap, a few byte
 * reads find the HeapBlock that holds it and the CodeBlob just after that
 * block's header, and the CodeBlob says its frame size (words, return
 * address included; 0 for the interpreter and stubs that keep an rbp chain)
 * and where its frame is complete. The BPF program does exactly that
 * (bpf/stackd.bpf.c, hs_step); hs_blob_find() is the same walk in C, for
 * tests and tools.
 *
 * Where the fields and heaps are comes from the JVM itself: libjvm.so
 * exports the description HotSpot keeps for its Serviceability Agent
 * (gHotSpotVMStructs, gHotSpotVMTypes and the offsets of their entries'
 * fields). hs_probe_fd() finds those symbols in the file; hs_layout_read()
 * reads the tables from the live process through a struct procmem and
 * keeps what the walk needs. Nothing is taken on trust: entries and string
 * reads are capped, every offset and size is range-checked, and a JVM whose
 * tables say something implausible gets -EINVAL (its frames then end the
 * walk as any code without a table would). Stateless and thread-safe.
 */
#ifndef STACKD_SYMBOLIZE_HOTSPOT_H
#define STACKD_SYMBOLIZE_HOTSPOT_H

#include <stdint.h>

#include "symbolize/elfdyn.h"
#include "symbolize/procmem.h"

#define HS_MAX_HEAPS   4     /* JDK 9+ has 3 with tiered compilation, 1 without */
#define HS_MAX_ENTRIES 16384 /* vmStructs and vmTypes entries read, each, at most */
#define HS_MAX_HOPS    64    /* segment-map steps back to a block's start */
#define HS_MAX_OFFSET  4096  /* any field offset we keep */

/* libjvm.so's description tables, at link-time addresses (add the load bias). */
struct hs_jvm {
	uint64_t structs; /* gHotSpotVMStructs: pointer to the VMStructEntry array */
	uint64_t struct_stride, struct_type, struct_field, struct_static, struct_offset,
	    struct_address; /* gHotSpotVMStructEntry*: variables holding the entry layout */
	uint64_t types;	    /* gHotSpotVMTypes: pointer to the VMTypeEntry array */
	uint64_t type_stride, type_name, type_size;
	struct elfdyn elf;
};

/* 0 and *@out; -ENOENT when the object exports no vmStructs (no libjvm); as elfdyn_scan. */
int hs_probe_fd(int fd, struct hs_jvm *out);

struct hs_heap {
	uint64_t low, high; /* the heap's reserved memory, [low, high) */
	uint64_t segmap;    /* its segment map: the byte of segment i at segmap + i */
};

/* What the walk needs of one JVM. */
struct hs_layout {
	uint16_t blob_code_begin, blob_code_end, blob_frame_size, blob_frame_complete;
	uint16_t heapblock_size; /* a CodeBlob starts this far into its HeapBlock */
	uint8_t log2_segment;	 /* every heap's (HotSpot uses one CodeCacheSegmentSize) */
	uint8_t nr_heaps;
	struct hs_heap heaps[HS_MAX_HEAPS];
};

/*
 * Read the layout of the JVM whose libjvm.so is loaded with @bias. 0;
 * -ENOENT when a field or type we need is not described (another HotSpot
 * shape); -EINVAL when the tables or heaps are implausible; -errno of a read.
 */
int hs_layout_read(const struct procmem *m, const struct hs_jvm *jvm, uint64_t bias,
		   struct hs_layout *out);

struct hs_blob {
	uint64_t addr; /* the CodeBlob */
	uint64_t code_begin, code_end;
	int32_t frame_size;	/* words, return address included; <= 0: an rbp frame */
	int32_t frame_complete; /* offset from code_begin; < 0: none */
};

/* The blob holding @pc: 0, -ENOENT (no heap holds it, a free block), -EINVAL, -errno. */
int hs_blob_find(const struct procmem *m, const struct hs_layout *l, uint64_t pc,
		 struct hs_blob *out);

#endif
