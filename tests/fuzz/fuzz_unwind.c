// SPDX-License-Identifier: Apache-2.0
/*
 * The unwinder on hostile register sets and stack copies, through the entry
 * point the agent calls (unwinder_unwind) with the agent's kind of inputs:
 * the maps of a live process, its objects opened through /proc, one
 * unwinder (and its caches) for the whole run.
 *
 * The process is this one: its own executable mappings (the fuzzer with its
 * large .eh_frame, libc, ld.so, the vDSO) plus one anonymous r-x
 * page with no CFI, like JIT code. At start it records a real snapshot of
 * its own registers and the top 16 KiB of its stack, so inputs can start
 * from a stack that unwinds for dozens of frames and damage it, or build
 * one from nothing. The stack copy handed over is a heap buffer of exactly
 * its length, so ASan sees any read past it.
 *
 * Input (short inputs read as zeros):
 *   [0]      flags: 1 = start from the real snapshot, 2 = pass no stack (NULL),
 *            4 = relocate tagged stack words (below), 8 = rip is libc's signal
 *            trampoline (__restore_rt: the walk reads a ucontext from the copy)
 *   [1]      max frames (0..255)
 *   [2..28]  rip, rsp, rbp: each a mode byte and 8 value bytes (little endian):
 *            mode % 4 = 0 base + value (base: the snapshot's, or 0), 1 value,
 *            2 the start of executable mapping (value % nr) + (value >> 8) % 1 MiB,
 *            3 the anonymous page + value % 4096
 *   [29..30] stack length (real snapshot: at most its length; else at most the rest)
 *   [31..32] where the rest is XORed into the real snapshot's copy
 *   [33..]   stack bytes (no snapshot) or the XOR patch (snapshot). With flag 4,
 *            a word whose top byte is 0xa5 becomes mapping (bits 40..47) + bits 0..39,
 *            0x5a becomes rsp + bits 0..23, 0xa6 the anonymous page + bits 0..11.
 * Whatever comes out: at least the rip when it is non-zero, at most max frames,
 * ips[0] the rip, a known end reason.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbolize/procmaps.h"
#include "symbolize/unwinder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SNAP_BYTES (16u << 10)
#define MAX_IPS	   256

static struct unwinder *unw;
static struct procmaps *maps;
static uint64_t anon_page;
static uint64_t snap_regs[UNWIND_NR_REGS];
static unsigned char *snap_stack;
static size_t snap_len;
static uint64_t restorer; /* libc's __restore_rt, or 0 */

/* Like the BPF side's copy: raw bytes of the stack, ASan's redzones included. */
__attribute__((no_sanitize("address"))) static void raw_copy(unsigned char *dst, uint64_t src,
							     size_t len)
{
	const volatile unsigned char *p = (const volatile unsigned char *)(uintptr_t)src;

	for (size_t i = 0; i < len; i++)
		dst[i] = p[i];
}

/* Registers and stack of this very function's frame: a real, deep snapshot. */
static __attribute__((noinline)) void take_snapshot(void)
{
	uint64_t *r = snap_regs;
	FILE *f;
	char line[512];
	unsigned long lo, hi;

	__asm__ volatile("lea 0(%%rip), %%rax\n\t"
			 "mov %%rax, 128(%0)\n\t"
			 "mov %%rsp, 56(%0)\n\t"
			 "mov %%rbp, 48(%0)\n\t"
			 "mov %%rbx, 24(%0)\n\t"
			 "mov %%r12, 96(%0)\n\t"
			 "mov %%r13, 104(%0)\n\t"
			 "mov %%r14, 112(%0)\n\t"
			 "mov %%r15, 120(%0)\n\t"
			 :
			 : "r"(r)
			 : "rax", "memory");
	/*
	 * Up to the end of the stack mapping (reading past it would fault). The
	 * calls below only use stack below the recorded rsp.
	 */
	snap_len = SNAP_BYTES;
	f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && r[UNWIND_REG_RSP] >= lo &&
		    r[UNWIND_REG_RSP] < hi && hi - r[UNWIND_REG_RSP] < snap_len)
			snap_len = hi - r[UNWIND_REG_RSP];
	}
	if (f)
		fclose(f);
	snap_stack = malloc(snap_len);
	if (!snap_stack)
		abort();
	raw_copy(snap_stack, r[UNWIND_REG_RSP], snap_len);
}

/* The trampoline libc's sigaction() gives the kernel as every handler's return address. */
static uint64_t find_restorer(void)
{
	struct sigaction sa = {.sa_handler = SIG_IGN}, old, got;

	if (sigaction(SIGURG, &sa, &old) || sigaction(SIGURG, &old, &got))
		return 0;
	return (uint64_t)(uintptr_t)got.sa_restorer;
}

static void init(void)
{
	uint64_t ips[MAX_IPS];
	enum unwind_end end;
	size_t n;
	void *p;

	/* The anonymous r-x page must be in the maps: map it before reading them. */
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		abort();
	anon_page = (uint64_t)(uintptr_t)p;
	if (procmaps_read("/proc", getpid(), PROCMAPS_EXEC_ONLY, &maps) || !maps->nr)
		abort();
	if (unwinder_new(&(struct unwinder_opts){.cache_max_bytes = 0}, &unw))
		abort();
	take_snapshot();
	restorer = find_restorer();
	n = unwinder_unwind(unw, getpid(), maps, snap_regs, snap_stack, snap_len, ips, MAX_IPS,
			    &end);
	fprintf(stderr,
		"fuzz_unwind: %zu executable mappings, snapshot of %zu bytes unwinds to "
		"%zu frames (%s), signal trampoline %#llx\n",
		maps->nr, snap_len, n, unwind_end_name(end), (unsigned long long)restorer);
}

static uint64_t rd64(const uint8_t *data, size_t size, size_t at)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8; i++)
		v |= (uint64_t)(at + i < size ? data[at + i] : 0) << (8 * i);
	return v;
}

static uint8_t rd8(const uint8_t *data, size_t size, size_t at)
{
	return at < size ? data[at] : 0;
}

static uint64_t map_addr(uint64_t v)
{
	const struct procmap *m = &maps->maps[v % maps->nr];

	return m->start + (v >> 8) % (1u << 20);
}

static uint64_t reg_value(const uint8_t *data, size_t size, size_t at, uint64_t base)
{
	uint64_t v = rd64(data, size, at + 1);

	switch (rd8(data, size, at) % 4) {
	case 0:
		return base + v;
	case 1:
		return v;
	case 2:
		return map_addr(v);
	default:
		return anon_page + v % 4096;
	}
}

static void relocate(unsigned char *stack, size_t len, uint64_t rsp)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, stack + i, 8);
		switch (w >> 56) {
		case 0xa5:
			w = maps->maps[((w >> 40) & 0xff) % maps->nr].start + (w & 0xffffffffffull);
			break;
		case 0x5a:
			w = rsp + (w & 0xffffff);
			break;
		case 0xa6:
			w = anon_page + (w & 0xfff);
			break;
		default:
			continue;
		}
		memcpy(stack + i, &w, 8);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int reg_of[3] = {UNWIND_REG_RIP, UNWIND_REG_RSP, UNWIND_REG_RBP};
	uint64_t regs[UNWIND_NR_REGS] = {0}, ips[MAX_IPS];
	uint8_t flags = rd8(data, size, 0);
	size_t max = rd8(data, size, 1), len, patch_at, rest, n, i;
	bool real = flags & 1;
	unsigned char *stack = NULL;
	enum unwind_end end = UNWIND_END__MAX;

	if (!unw)
		init();
	if (real)
		memcpy(regs, snap_regs, sizeof(regs));
	for (i = 0; i < 3; i++)
		regs[reg_of[i]] = reg_value(data, size, 2 + 9 * i, regs[reg_of[i]]);
	if ((flags & 8) && restorer)
		regs[UNWIND_REG_RIP] = restorer;
	len = (size_t)rd8(data, size, 29) | (size_t)rd8(data, size, 30) << 8;
	patch_at = (size_t)rd8(data, size, 31) | (size_t)rd8(data, size, 32) << 8;
	rest = size > 33 ? size - 33 : 0;
	if (real) {
		len = len % (snap_len + 1);
		stack = malloc(len ? len : 1);
		if (!stack)
			return 0;
		memcpy(stack, snap_stack, len);
		for (i = 0; i < rest && patch_at + i < len; i++)
			stack[patch_at + i] ^= data[33 + i];
	} else {
		len = len % (rest + 1);
		stack = malloc(len ? len : 1);
		if (!stack)
			return 0;
		memcpy(stack, data + 33, len);
	}
	if (flags & 4)
		relocate(stack, len, regs[UNWIND_REG_RSP]);

	n = unwinder_unwind(unw, getpid(), maps, regs, flags & 2 ? NULL : stack,
			    flags & 2 ? 0 : len, ips, max, &end);
	if (n > max || end >= UNWIND_END__MAX)
		abort();
	if (max && regs[UNWIND_REG_RIP] && (n < 1 || ips[0] != regs[UNWIND_REG_RIP]))
		abort();
	free(stack);
	return 0;
}
