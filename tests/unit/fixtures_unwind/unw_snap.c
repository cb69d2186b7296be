// SPDX-License-Identifier: Apache-2.0
/*
 * Records what the BPF side would capture for a DWARF-mode sample: the user
 * registers at a point inside a leaf function and the stack above rsp, plus
 * /proc/self/maps. Built at test time with -O2 -fomit-frame-pointer so only
 * CFI can walk it.
 *
 *   unw_snap chain PREFIX   leaf <- f1 <- ... <- f6 <- main
 *   unw_snap qsort PREFIX   cmp <- (libc qsort internals) <- sorter <- main
 *   unw_snap deep PREFIX    leaf <- d30 <- ... <- d1 <- main
 *   unw_snap signal PREFIX  on_signal <- __restore_rt <- poke <- sigfn <- main
 *                           (poke faults on its first instruction; the handler
 *                           records and exits)
 *
 * Writes PREFIX.regs (17 little-endian u64 in DWARF order: rax rdx rcx rbx
 * rsi rdi rbp rsp r8..r15 rip; unknown ones 0), PREFIX.stack (up to 16 KiB
 * from rsp) and PREFIX.maps.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __clang__
#define NOINLINE __attribute__((noinline, used))
#else
#define NOINLINE __attribute__((noinline, noclone, used))
#endif
/* Work after each call so no call becomes a tail jump (which leaves no frame). */
#define BARRIER() __asm__ volatile("" ::: "memory")

#define STACK_MAX 16384

static uint64_t snap[17];
static const char *prefix;
volatile int sink;

/*
 * Callee-saved registers, rsp and an ip inside the function that expands
 * this. Values of registers the function itself saved are still right: its
 * CFI says where the caller's copies went.
 */
#define SNAPSHOT()                                                                                 \
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
			 : "a"(snap)                                                               \
			 : "rcx", "memory")

static void write_file(const char *suffix, const void *buf, size_t len)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s.%s", prefix, suffix);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
}

/* Called after SNAPSHOT(): its own frame is below the recorded rsp. */
NOINLINE void record(void)
{
	static char maps[1 << 16];
	uint64_t rsp = snap[7], lo, hi;
	size_t len = 0, n;
	ssize_t got;
	char *line;
	int fd = open("/proc/self/maps", O_RDONLY);

	while (fd >= 0 && (got = read(fd, maps + len, sizeof(maps) - 1 - len)) > 0)
		len += (size_t)got;
	close(fd);
	maps[len] = '\0';
	write_file("maps", maps, len);
	write_file("regs", snap, sizeof(snap));
	/* Copy up to the end of [stack]: reading past it would fault. */
	n = 0;
	for (line = strtok(maps, "\n"); line; line = strtok(NULL, "\n")) {
		if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    rsp >= lo && rsp < hi)
			n = hi - rsp < STACK_MAX ? hi - rsp : STACK_MAX;
	}
	write_file("stack", (const void *)(uintptr_t)rsp, n);
}

NOINLINE int leaf(int x)
{
	SNAPSHOT();
	record();
	BARRIER();
	return x + sink;
}

NOINLINE int f1(int x)
{
	int r = leaf(x + 1);
	BARRIER();
	return r * 3 + sink;
}
NOINLINE int f2(int x)
{
	int r = f1(x + 2);
	BARRIER();
	return r * 5 + sink;
}
NOINLINE int f3(int x)
{
	int r = f2(x + 3);
	BARRIER();
	return r * 7 + sink;
}
NOINLINE int f4(int x)
{
	int r = f3(x + 4);
	BARRIER();
	return r * 11 + sink;
}
NOINLINE int f5(int x)
{
	int r = f4(x + 5);
	BARRIER();
	return r * 13 + sink;
}
NOINLINE int f6(int x)
{
	int r = f5(x + 6);
	BARRIER();
	return r * 17 + sink;
}

/* 30 frames of -fomit-frame-pointer code: each calls the next, then works. */
#define LINK(name, next)                                                                           \
	NOINLINE int name(int x)                                                                   \
	{                                                                                          \
		int r = next(x + 1);                                                               \
		BARRIER();                                                                         \
		return r * 3 + sink;                                                               \
	}
LINK(d30, leaf)
LINK(d29, d30)
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

/* The handler's caller is the kernel's signal frame (__restore_rt above the ucontext). */
NOINLINE void on_signal(int sig)
{
	SNAPSHOT();
	record();
	BARRIER();
	_exit(sig == SIGSEGV ? 0 : 1);
}

/* A null pointer the compiler cannot see: the store is poke's first instruction. */
int *volatile null_ptr;

NOINLINE int poke(volatile int *p)
{
	*p = 1;
	BARRIER();
	return sink;
}

NOINLINE int sigfn(int x)
{
	struct sigaction sa = {.sa_handler = on_signal};
	int r;

	sigaction(SIGSEGV, &sa, NULL);
	r = poke(null_ptr);
	BARRIER();
	return r + x + sink;
}

static int snapped;

NOINLINE int cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (!snapped) {
		snapped = 1;
		SNAPSHOT();
		record();
	}
	BARRIER();
	return (x > y) - (x < y);
}

NOINLINE int sorter(int seed)
{
	int v[64], i;

	for (i = 0; i < 64; i++)
		v[i] = (i * 7919 + seed) % 101;
	qsort(v, 64, sizeof(v[0]), cmp);
	BARRIER();
	return v[0] + v[63];
}

int main(int argc, char **argv)
{
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: %s chain|qsort|deep|signal PREFIX\n", argv[0]);
		return 2;
	}
	prefix = argv[2];
	if (!strcmp(argv[1], "chain"))
		r = f6(argc);
	else if (!strcmp(argv[1], "deep"))
		r = d1(argc);
	else if (!strcmp(argv[1], "signal"))
		r = sigfn(argc);
	else
		r = sorter(argc);
	BARRIER();
	return r == 12345 ? 3 : 0;
}
