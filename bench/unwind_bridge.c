// SPDX-License-Identifier: Apache-2.0
/*
 * The bridge unwinder (unwinder_unwind) on copies of this process's own
 * stack, as the BPF side copies them for a process whose tables are not in
 * the kernel yet: a 30-deep chain of -O2 -fomit-frame-pointer functions and a
 * qsort comparator called through libc. Prints the cost per stack and per
 * frame with the object tables cached, and the unwinder's cache bytes (libc
 * alone, and after both unwinds). The maps are primed as the agent primes
 * every snapshot (file identities recorded), so cached objects are found
 * without opening files. Not a test: nothing is asserted.
 *
 *   unwind_bridge [ITERATIONS]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "symbolize/cfitab.h"
#include "symbolize/procmaps.h"
#include "symbolize/symbolizer.h"
#include "symbolize/unwinder.h"

#define NOINLINE   __attribute__((noinline, used))
#define BARRIER()  __asm__ volatile("" ::: "memory")
#define COPY_BYTES 16384
#define MAX_FRAMES 127

struct snap {
	uint64_t regs[UNWIND_NR_REGS];
	unsigned char stack[COPY_BYTES];
	size_t len;
};

static struct snap snaps[2];
static struct snap *cur;
static struct procmaps *maps;
volatile int sink;

/* The callee-saved registers, rsp and an ip in the function that expands this. */
#define SNAPSHOT(r)                                                                                \
	__asm__ volatile("movq %%rbx, 24(%0)\n\t"                                                  \
			 "movq %%rbp, 48(%0)\n\t"                                                  \
			 "movq %%rsp, 56(%0)\n\t"                                                  \
			 "movq %%r12, 96(%0)\n\t"                                                  \
			 "movq %%r13, 104(%0)\n\t"                                                 \
			 "movq %%r14, 112(%0)\n\t"                                                 \
			 "movq %%r15, 120(%0)\n\t"                                                 \
			 "leaq 0(%%rip), %%rcx\n\t"                                                \
			 "movq %%rcx, 128(%0)\n\t"                                                 \
			 :                                                                         \
			 : "a"(r)                                                                  \
			 : "rcx", "memory")

/* Copy the stack above the recorded rsp, up to the end of its mapping (as the BPF side). */
NOINLINE static void record(struct snap *s)
{
	const struct procmap *m;
	uint64_t sp = s->regs[UNWIND_REG_RSP];
	struct procmaps *all = NULL;

	if (procmaps_read(NULL, getpid(), 0, &all))
		exit(1);
	m = procmaps_find(all, sp);
	s->len = m ? (m->end - sp < COPY_BYTES ? m->end - sp : COPY_BYTES) : 0;
	memcpy(s->stack, (const void *)(uintptr_t)sp, s->len);
	procmaps_free(all);
}

NOINLINE static int leaf(int x)
{
	SNAPSHOT(cur->regs);
	record(cur);
	BARRIER();
	return x + sink;
}

#define LINK(name, next)                                                                           \
	NOINLINE static int name(int x)                                                            \
	{                                                                                          \
		int r = next(x + 1);                                                               \
		BARRIER();                                                                         \
		return r * 3 + sink;                                                               \
	}
LINK(d29, leaf)
LINK(d28, d29)
LINK(d27, d28)
LINK(d26, d27)
LINK(d25, d26)
LINK(d24, d25)
LINK(d23, d24)
LINK(d22, d23)
LINK(d21, d22)
LINK(d20, d21)
LINK(d19, d20)
LINK(d18, d19)
LINK(d17, d18)
LINK(d16, d17)
LINK(d15, d16)
LINK(d14, d15)
LINK(d13, d14)
LINK(d12, d13)
LINK(d11, d12)
LINK(d10, d11)
LINK(d9, d10)
LINK(d8, d9)
LINK(d7, d8)
LINK(d6, d7)
LINK(d5, d6)
LINK(d4, d5)
LINK(d3, d4)
LINK(d2, d3)
LINK(d1, d2)

static int snapped;

NOINLINE static int cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (!snapped) {
		snapped = 1;
		SNAPSHOT(cur->regs);
		record(cur);
	}
	BARRIER();
	return (x > y) - (x < y);
}

NOINLINE static int sorter(int seed)
{
	int v[64], i;

	for (i = 0; i < 64; i++)
		v[i] = (i * 7919 + seed) % 101;
	qsort(v, 64, sizeof(v[0]), cmp);
	BARRIER();
	return v[0] + v[63];
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void bench(struct unwinder *u, const char *what, const struct snap *s, size_t iters)
{
	uint64_t ips[MAX_FRAMES];
	enum unwind_end end = UNWIND_END_ERROR;
	pid_t pid = getpid(); /* a system call each time: not in the loop */
	size_t i, n = 0;
	double t;

	unwinder_unwind(u, pid, maps, s->regs, s->stack, s->len, ips, MAX_FRAMES, &end);
	t = now_us();
	for (i = 0; i < iters; i++)
		n = unwinder_unwind(u, pid, maps, s->regs, s->stack, s->len, ips, MAX_FRAMES, &end);
	t = (now_us() - t) / (double)iters;
	printf("%-6s %3zu frames, end %-10s %7.3f us/stack %6.3f us/frame\n", what, n,
	       unwind_end_name(end), t, n ? t / (double)n : 0.0);
}

/* Cache bytes of a fresh unwinder once it holds libc's table only. */
static void libc_bytes(void)
{
	struct unwinder *u = NULL;
	struct unwinder_table ut;
	struct unwinder_stats st;
	size_t i;

	if (unwinder_new(NULL, &u))
		return;
	for (i = 0; i < maps->nr; i++) {
		if (strstr(maps->maps[i].path, "/libc.so") &&
		    !unwinder_table(u, getpid(), maps, &maps->maps[i], &ut)) {
			unwinder_get_stats(u, &st);
			printf("libc   cache %" PRIu64 " bytes (table: %u rows, %zu bytes)\n",
			       st.cache_bytes, ut.tab->nr_rows, ut.tab->bytes);
			break;
		}
	}
	unwinder_free(u);
}

int main(int argc, char **argv)
{
	size_t iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
	struct symbolizer_opts so = {.no_dwarf = true};
	struct symbolizer *sym = NULL;
	struct unwinder *u = NULL;
	struct unwinder_stats st;

	cur = &snaps[0];
	sink = d1(argc);
	cur = &snaps[1];
	sink = sorter(argc);
	if (procmaps_read(NULL, getpid(), PROCMAPS_EXEC_ONLY, &maps) || symbolizer_new(&so, &sym) ||
	    symbolizer_prime(sym, getpid(), maps) || unwinder_new(NULL, &u)) {
		fprintf(stderr, "unwind_bridge: setup failed\n");
		return 1;
	}
	bench(u, "chain", &snaps[0], iters);
	bench(u, "qsort", &snaps[1], iters);
	unwinder_get_stats(u, &st);
	printf("both   cache %" PRIu64 " bytes in %" PRIu64 " objects\n", st.cache_bytes,
	       st.cache_objects);
	libc_bytes();
	unwinder_free(u);
	symbolizer_free(sym);
	procmaps_free(maps);
	return 0;
}
