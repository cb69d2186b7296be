/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unwinding of copied user stacks, and the unwind tables of the in-kernel
 * unwinder.
 *
 * Until a process's tables are in the kernel (and in --unwind.mode=dwarf),
 * the BPF side copies the sampled thread's user registers and the top of its
 * user stack. The unwinder walks that copy with the same compiled tables
 * (symbolize/cfitab.h, from .eh_frame, or .debug_frame when that is all there
 * is) and the same rules as the BPF walker, reading memory only from the
 * copy, never from the live process, and making no system call per frame.
 * Unwind tables are cached per object (build id,
 * else device/inode/size/mtime) within a byte budget, LRU beyond it, and
 * shared by every process mapping the object; objects are opened through
 * /proc/PID/map_files or /proc/PID/root like the symbolizer does, or found by
 * the (device, inode) a maps snapshot recorded once the process is gone.
 *
 * Not thread-safe: one unwinder belongs to one thread (the drain loop).
 */
#ifndef STACKD_SYMBOLIZE_UNWINDER_H
#define STACKD_SYMBOLIZE_UNWINDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolize/procmaps.h"

struct unwinder;

struct unwinder_opts {
	size_t cache_max_bytes; /* unwind tables; 0 = 32 MiB */
	const char *proc_root;	/* NULL = "/proc" */
};

/* x86_64 user registers at the sample, in DWARF register order. */
enum unwind_reg {
	UNWIND_REG_RAX = 0,
	UNWIND_REG_RDX,
	UNWIND_REG_RCX,
	UNWIND_REG_RBX,
	UNWIND_REG_RSI,
	UNWIND_REG_RDI,
	UNWIND_REG_RBP,
	UNWIND_REG_RSP,
	UNWIND_REG_R8,
	UNWIND_REG_R9,
	UNWIND_REG_R10,
	UNWIND_REG_R11,
	UNWIND_REG_R12,
	UNWIND_REG_R13,
	UNWIND_REG_R14,
	UNWIND_REG_R15,
	UNWIND_REG_RIP,
	UNWIND_NR_REGS,
};

/* Why an unwind stopped. */
enum unwind_end {
	UNWIND_END_COMPLETE = 0, /* reached the outermost frame (no return address / CFI says so) */
	UNWIND_END_STACK_COPY,	 /* needed memory beyond the copied stack */
	/* no usable unwind info for an ip (JIT, stripped .eh_frame, CFI the table cannot say)
	 * and no frame pointer to follow instead */
	UNWIND_END_NO_CFI,
	UNWIND_END_NO_MAPPING, /* the same for an ip outside every mapping */
	UNWIND_END_MAX_DEPTH,  /* @max frames written */
	UNWIND_END_ERROR,      /* a frame not above its callee (a loop), a read far off the copy */
	UNWIND_END_BAD_REGS,   /* rsp outside the user address space: a hostile snapshot */
	UNWIND_END__MAX,
};

struct unwinder_stats {
	uint64_t stacks;
	uint64_t frames;
	uint64_t ends[UNWIND_END__MAX];
	uint64_t cache_bytes;
	uint64_t cache_objects;
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t cache_evictions;
	/* objects with a cached object's build id but other tables: cached apart, not shared */
	uint64_t cache_id_conflicts;
	uint64_t tables_built; /* objects whose table was compiled (when they entered the cache) */
};

const char *unwind_end_name(enum unwind_end e);

int unwinder_new(const struct unwinder_opts *opts, struct unwinder **out);
void unwinder_free(struct unwinder *u);

/*
 * Unwind one sample of process @pid. @regs are its user registers, @stack
 * holds @stack_len bytes copied from address regs[UNWIND_REG_RSP] upward.
 * Writes at most @max ips, leaf first (ips[0] = the sampled rip; later ones
 * are return addresses, as the kernel's own stack walks report them).
 * Returns the number of ips written (>= 1 when rip is non-zero), never
 * negative; *end says why it stopped.
 *
 * Everything in @regs and @stack is the sampled process's to choose: any
 * register value (rsp = 8, rsp = 2^64 - 8, rbp anywhere), any stack bytes,
 * an empty copy, a copy that would wrap past 2^64 (treated as empty). Only
 * bytes inside [rsp, rsp + @stack_len) of the copy are ever read, and every
 * frame must have a higher stack pointer than the one before, so the walk
 * ends after at most @max frames and @stack_len / 16 + 1 frame-pointer steps.
 * The frames are those the BPF walker (walk_step) finds for the same
 * registers and memory: a frame without a table is walked by its frame
 * pointer, and any return address above the null page is followed.
 */
size_t unwinder_unwind(struct unwinder *u, pid_t pid, const struct procmaps *maps,
		       const uint64_t regs[UNWIND_NR_REGS], const void *stack, size_t stack_len,
		       uint64_t *ips, size_t max, enum unwind_end *end);

struct cfitab;

/* An object's compiled unwind table, as the in-kernel unwinder needs it. */
struct unwinder_table {
	const struct cfitab *tab; /* borrowed: valid until the next call into this unwinder */
	uint64_t obj_id;	  /* names this table while the unwinder lives; never reused */
	uint64_t adj;		  /* row pc = runtime address in the mapping - adj */
};

/*
 * The compiled table (symbolize/cfitab.h) of the object mapped at @m in
 * process @pid (the vDSO included), built once per object and cached with it
 * under the unwinder's budget. 0 and *out; -ENOENT: the object has no usable
 * CFI (unwind it by frame pointer); -errno: unreadable (gone, denied, too big).
 */
int unwinder_table(struct unwinder *u, pid_t pid, const struct procmaps *maps,
		   const struct procmap *m, struct unwinder_table *out);

void unwinder_get_stats(const struct unwinder *u, struct unwinder_stats *out);

#endif
