// SPDX-License-Identifier: Apache-2.0
/*
 * The unwinder on recorded snapshots: fixtures_unwind/unw_snap.c is built at
 * test time with gcc and clang (-O2 -fomit-frame-pointer), run once per mode,
 * and records its registers, 16 KiB of stack and its maps from inside a leaf
 * function (a 7- and a 30-deep chain, a qsort comparator, a signal handler).
 * PLT and vDSO frames are made from a recorded stack by pushing a return
 * address into the leaf and starting from a PLT stub or a vDSO function. The fixture has exited
 * when we unwind, so objects are opened through a fake proc root whose 1/root links to "/". Frames
 * are checked by name with elfsym (fixture) and by mapping (libc, which has no .symtab). The same
 * fixture built with -fno-asynchronous-unwind-tables -g has CFI for its own functions only in
 * .debug_frame (crt's _start keeps .eh_frame).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ci.h"

#include "elfsym.h"
#include "symbolize/cfitab.h"
#include "symbolize/procmaps.h"
#include "symbolize/symbolizer.h"
#include "symbolize/unwinder.h"
#include "unwtab.h"

#define MAX_FRAMES 128

enum fx_cc { CC_GCC, CC_CLANG, CC__MAX };
enum fx_mode { MODE_CHAIN, MODE_QSORT, MODE_DEEP, MODE_SIGNAL, MODE__MAX };

static const char *const cc_names[CC__MAX] = {"gcc", "clang"};
static const char *const mode_names[MODE__MAX] = {"chain", "qsort", "deep", "signal"};

struct snapshot {
	uint64_t regs[UNWIND_NR_REGS];
	unsigned char *stack;
	size_t stack_len;
	struct procmaps *maps;
	char bin[400];
};

static char tmpdir[256];
static char proc_root[600];
static struct snapshot snaps[CC__MAX][MODE__MAX];
static struct snapshot df_snaps[CC__MAX][MODE__MAX]; /* .debug_frame builds */

#define DF_FLAGS "-O2 -fomit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables -g"

__attribute__((format(printf, 1, 2))) static int run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd)) {
		fprintf(stderr, "failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

static void *slurp(const char *path, size_t *len)
{
	struct stat st;
	void *buf = NULL;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st))
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (buf && read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	*len = (size_t)st.st_size;
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

/*
 * As the agent does with every snapshot while its process lives: record the
 * file each mapping names (pid 1 of the fake /proc), which is how an exited
 * process's objects are found later.
 */
static int prime(struct procmaps *maps)
{
	struct symbolizer_opts opts = {.proc_root = proc_root, .no_dwarf = true};
	struct symbolizer *sym = NULL;
	int err;

	err = symbolizer_new(&opts, &sym);
	if (!err)
		err = symbolizer_prime(sym, 1, maps);
	symbolizer_free(sym);
	return err;
}

static int load_snapshot(struct snapshot *s, const char *prefix)
{
	char path[600];
	size_t len = 0;
	void *regs, *maps;
	int err;

	snprintf(path, sizeof(path), "%s.regs", prefix);
	regs = slurp(path, &len);
	if (!regs || len != sizeof(s->regs))
		return -1;
	memcpy(s->regs, regs, sizeof(s->regs));
	free(regs);
	snprintf(path, sizeof(path), "%s.stack", prefix);
	s->stack = slurp(path, &s->stack_len);
	snprintf(path, sizeof(path), "%s.maps", prefix);
	maps = slurp(path, &len);
	if (!s->stack || !maps)
		return -1;
	err = procmaps_parse(maps, len, PROCMAPS_EXEC_ONLY, &s->maps);
	free(maps);
	return err ? err : prime(s->maps);
}

static int setup(void **state)
{
	const char *tmp = getenv("STACKD_TEST_TMP");
	char prefix[512];
	int c, m;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/unwind_XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	/* The fixture is gone by the time we unwind: pid 1 of a fake /proc sees the host. */
	snprintf(proc_root, sizeof(proc_root), "%s/proc", tmpdir);
	if (run("mkdir -p '%s/1' && ln -s / '%s/1/root'", proc_root, proc_root))
		return -1;
	for (c = 0; c < CC__MAX * 2; c++) {
		bool df = c >= CC__MAX;
		const char *cc = cc_names[c % CC__MAX];

		for (m = 0; m < MODE__MAX; m++) {
			struct snapshot *s = df ? &df_snaps[c % CC__MAX][m] : &snaps[c][m];

			snprintf(s->bin, sizeof(s->bin), "%s/unw_snap_%s%s", tmpdir, cc,
				 df ? "_df" : "");
			if (m == 0 && run("%s %s -o '%s' '%s/unw_snap.c'", cc,
					  df ? DF_FLAGS : "-O2 -fomit-frame-pointer", s->bin,
					  STACKD_UNW_FIXTURES))
				return -1;
			snprintf(prefix, sizeof(prefix), "%s/snap_%s%s_%s", tmpdir, cc,
				 df ? "_df" : "", mode_names[m]);
			if (run("'%s' %s '%s'", s->bin, mode_names[m], prefix) ||
			    load_snapshot(s, prefix))
				return -1;
		}
	}
	return 0;
}

static int teardown(void **state)
{
	int c, m;

	(void)state;
	for (c = 0; c < CC__MAX; c++) {
		for (m = 0; m < MODE__MAX; m++) {
			free(snaps[c][m].stack);
			procmaps_free(snaps[c][m].maps);
			free(df_snaps[c][m].stack);
			procmaps_free(df_snaps[c][m].maps);
		}
	}
	if (tmpdir[0] && !getenv("STACKD_KEEP_TMP"))
		run("rm -rf '%s'", tmpdir);
	return 0;
}

static struct unwinder *new_unwinder(size_t budget, const char *root)
{
	struct unwinder_opts opts = {.cache_max_bytes = budget, .proc_root = root};
	struct unwinder *u = NULL;

	assert_int_equal(unwinder_new(&opts, &u), 0);
	assert_non_null(u);
	return u;
}

/*
 * Names of @ips: the fixture's function names, "libc" for any libc frame,
 * "?" otherwise. Return addresses are looked up at ip - 1 (inside the call).
 */
static void name_frames(const struct snapshot *s, const uint64_t *ips, size_t n, char names[][64])
{
	struct elfsym *e = NULL;
	int fd = open(s->bin, O_RDONLY);
	size_t i;

	assert_true(fd >= 0);
	assert_int_equal(elfsym_open_fd(fd, &e), 0);
	close(fd);
	for (i = 0; i < n; i++) {
		uint64_t addr = i ? ips[i] - 1 : ips[i], vaddr;
		const struct procmap *m = procmaps_find(s->maps, addr);
		const char *name = "?";

		if (m && !strcmp(m->path, s->bin)) {
			if (!elfsym_file_to_vaddr(e, addr - m->start + m->offset, &vaddr))
				elfsym_lookup(e, vaddr, &name, NULL);
		} else if (m && strstr(m->path, "/libc.so")) {
			name = "libc";
		}
		snprintf(names[i], 64, "%s", name);
	}
	elfsym_free(e);
}

static void dump(const char *what, const uint64_t *ips, char names[][64], size_t n,
		 enum unwind_end end)
{
	size_t i;

	fprintf(stderr, "%s: %zu frames, end %s\n", what, n, unwind_end_name(end));
	for (i = 0; i < n; i++)
		fprintf(stderr, "  #%zu %#" PRIx64 " %s\n", i, ips[i], names[i]);
}

/* Frames after @i up to "_start" are libc's startup (at least one), then the end. */
static void expect_startup(char names[][64], size_t n, size_t i)
{
	size_t libc = 0;

	for (; i < n && !strcmp(names[i], "libc"); i++)
		libc++;
	assert_true(libc >= 1);
	assert_true(i < n);
	assert_string_equal(names[i], "_start");
	assert_int_equal(i + 1, n);
}

static void check_chain_of(const struct snapshot *s, const char *what)
{
	static const char *const want[] = {"leaf", "f1", "f2", "f3", "f4", "f5", "f6", "main"};
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t ips[MAX_FRAMES];
	char names[MAX_FRAMES][64];
	enum unwind_end end;
	size_t n, i;

	n = unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips, MAX_FRAMES, &end);
	name_frames(s, ips, n, names);
	dump(what, ips, names, n, end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_int_equal(ips[0], s->regs[UNWIND_REG_RIP]);
	assert_true(n > 8);
	for (i = 0; i < 8; i++)
		assert_string_equal(names[i], want[i]);
	expect_startup(names, n, 8);
	unwinder_free(u);
}

static void check_chain(enum fx_cc cc)
{
	check_chain_of(&snaps[cc][MODE_CHAIN], cc_names[cc]);
}

static void test_chain_gcc(void **state)
{
	(void)state;
	check_chain(CC_GCC);
}

static void test_chain_clang(void **state)
{
	(void)state;
	check_chain(CC_CLANG);
}

static void check_qsort_of(const struct snapshot *s, const char *what)
{
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t ips[MAX_FRAMES];
	char names[MAX_FRAMES][64];
	enum unwind_end end;
	size_t n, i = 1, libc = 0;

	n = unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips, MAX_FRAMES, &end);
	name_frames(s, ips, n, names);
	dump(what, ips, names, n, end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_string_equal(names[0], "cmp");
	/* The comparator is called from libc's merge sort, through qsort_r. */
	for (; i < n && !strcmp(names[i], "libc"); i++)
		libc++;
	assert_true(libc >= 2);
	assert_true(i + 2 < n);
	assert_string_equal(names[i], "sorter");
	assert_string_equal(names[i + 1], "main");
	expect_startup(names, n, i + 2);
	unwinder_free(u);
}

static void check_qsort(enum fx_cc cc)
{
	check_qsort_of(&snaps[cc][MODE_QSORT], cc_names[cc]);
}

static void test_qsort_gcc(void **state)
{
	(void)state;
	check_qsort(CC_GCC);
}

static void test_qsort_clang(void **state)
{
	(void)state;
	check_qsort(CC_CLANG);
}

/* A short copy ends the walk where it runs out, keeping the frames it had. */
static void test_truncated_stack(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_QSORT];
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t full[MAX_FRAMES], ips[MAX_FRAMES];
	enum unwind_end end;
	size_t nfull, n, i;

	(void)state;
	nfull =
	    unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, full, MAX_FRAMES, &end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	n = unwinder_unwind(u, 1, s->maps, s->regs, s->stack, 256, ips, MAX_FRAMES, &end);
	assert_int_equal(end, UNWIND_END_STACK_COPY);
	assert_true(n >= 1 && n < nfull);
	for (i = 0; i < n; i++)
		assert_int_equal(ips[i], full[i]);
	/* No copy at all: the leaf alone. */
	n = unwinder_unwind(u, 1, s->maps, s->regs, NULL, 0, ips, MAX_FRAMES, &end);
	assert_int_equal(n, 1);
	assert_int_equal(end, UNWIND_END_STACK_COPY);
	unwinder_free(u);
}

static void test_max_depth(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t ips[MAX_FRAMES];
	enum unwind_end end;

	(void)state;
	assert_int_equal(
	    unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips, 3, &end), 3);
	assert_int_equal(end, UNWIND_END_MAX_DEPTH);
	assert_int_equal(
	    unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips, 0, &end), 0);
	assert_int_equal(end, UNWIND_END_MAX_DEPTH);
	unwinder_free(u);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Garbage registers and stacks: at least the rip, never a crash or a hang. */
static void test_garbage(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	struct unwinder *u = new_unwinder(0, proc_root);
	struct unwinder_stats st;
	uint64_t regs[UNWIND_NR_REGS], ips[MAX_FRAMES];
	unsigned char stack[4096];
	enum unwind_end end;
	size_t n, i, j;

	(void)state;
	for (i = 0; i < 3000; i++) {
		for (j = 0; j < UNWIND_NR_REGS; j++)
			regs[j] = rnd();
		for (j = 0; j < sizeof(stack); j += 8) {
			uint64_t v = rnd();

			/* Sometimes plausible: return addresses into the fixture, stack pointers.
			 */
			if (v % 3 == 0)
				v = s->maps->maps[v % s->maps->nr].start + (v >> 40) % 4096;
			memcpy(stack + j, &v, 8);
		}
		if (i % 2) /* a real ip: the CFI is right, the stack is not */
			regs[UNWIND_REG_RIP] = s->regs[UNWIND_REG_RIP];
		if (i % 4 == 1)
			regs[UNWIND_REG_RSP] = s->regs[UNWIND_REG_RSP];
		regs[UNWIND_REG_RIP] |= 1; /* non-zero */
		n = unwinder_unwind(u, 1, s->maps, regs, stack, sizeof(stack), ips, MAX_FRAMES,
				    &end);
		assert_true(n >= 1 && n <= MAX_FRAMES);
		assert_int_equal(ips[0], regs[UNWIND_REG_RIP]);
		assert_true(end < UNWIND_END__MAX);
	}
	unwinder_get_stats(u, &st);
	assert_int_equal(st.stacks, 3000);
	fprintf(stderr,
		"garbage ends: complete %" PRIu64 " stack_copy %" PRIu64 " no_cfi %" PRIu64
		" no_mapping %" PRIu64 " max_depth %" PRIu64 " error %" PRIu64 "\n",
		st.ends[0], st.ends[1], st.ends[2], st.ends[3], st.ends[4], st.ends[5]);
	/* A zero rip gives nothing. */
	regs[UNWIND_REG_RIP] = 0;
	assert_int_equal(
	    unwinder_unwind(u, 1, s->maps, regs, stack, sizeof(stack), ips, MAX_FRAMES, &end), 0);
	unwinder_free(u);
}

/* A copy of the maps with the fixture's lines pointing at @path (stat'ed). */
/* Serials of hand-made snapshots: far from those procmaps_parse() hands out. */
static uint64_t hand_made_serial = 1ull << 62;

static struct procmaps *maps_for(const struct snapshot *s, const char *path)
{
	struct procmaps *m = NULL;
	struct stat st;
	size_t i;

	assert_int_equal(stat(path, &st), 0);
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	m->nr = s->maps->nr;
	m->serial = ++hand_made_serial;
	m->maps = calloc(m->nr, sizeof(*m->maps));
	assert_non_null(m->maps);
	memcpy(m->maps, s->maps->maps, m->nr * sizeof(*m->maps));
	for (i = 0; i < m->nr; i++) {
		if (strcmp(m->maps[i].path, s->bin))
			continue;
		m->maps[i].path = path;
		m->maps[i].inode = st.st_ino;
		m->maps[i].dev_major = major(st.st_dev);
		m->maps[i].dev_minor = minor(st.st_dev);
		m->maps[i].has_file = false; /* another file than the one primed: unprimed */
	}
	return m;
}

static void maps_for_free(struct procmaps *m)
{
	if (m)
		free(m->maps);
	free(m);
}

static enum unwind_end unwind_with(const struct snapshot *s, const char *bin, size_t *n)
{
	struct procmaps *m = maps_for(s, bin);
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t ips[MAX_FRAMES];
	enum unwind_end end;

	*n = unwinder_unwind(u, 1, m, s->regs, s->stack, s->stack_len, ips, MAX_FRAMES, &end);
	unwinder_free(u);
	maps_for_free(m);
	return end;
}

/* --- Hostile registers and stacks (issue 10) -------------------------------- */

/* Where the tests put an anonymous executable mapping (JIT-like code, no CFI). */
#define JIT_LO	 0x10000000ull
#define JIT_HI	 0x10001000ull
#define WILD_RBP 0x4141414141414140ull
/* Beyond the 57-bit user address space: no stack can be there. */
#define USER_END_PROBE (1ull << 56)
/* A plausible stack address for hand-made copies (nothing reads it but the unwinder). */
#define FAKE_SP 0x7ffd00001000ull

/* @s's maps plus an anonymous r-xp mapping at [JIT_LO, JIT_HI), as a process that JITs has. */
static struct procmaps *maps_with_jit(const struct snapshot *s)
{
	struct procmaps *m = calloc(1, sizeof(*m));
	size_t i, j = 0;
	bool put = false;

	assert_non_null(m);
	m->nr = s->maps->nr + 1;
	m->serial = ++hand_made_serial;
	m->maps = calloc(m->nr, sizeof(*m->maps));
	assert_non_null(m->maps);
	for (i = 0; i < s->maps->nr; i++) {
		if (!put && s->maps->maps[i].start >= JIT_HI) {
			m->maps[j++] =
			    (struct procmap){.start = JIT_LO,
					     .end = JIT_HI,
					     .perms = PROCMAP_READ | PROCMAP_EXEC | PROCMAP_PRIVATE,
					     .path = ""};
			put = true;
		}
		assert_true(s->maps->maps[i].end <= JIT_LO || s->maps->maps[i].start >= JIT_HI);
		m->maps[j++] = s->maps->maps[i];
	}
	assert_true(put);
	return m;
}

static void hostile_regs(uint64_t regs[UNWIND_NR_REGS], uint64_t rip, uint64_t rsp, uint64_t rbp)
{
	memset(regs, 0, UNWIND_NR_REGS * sizeof(*regs));
	regs[UNWIND_REG_RIP] = rip;
	regs[UNWIND_REG_RSP] = rsp;
	regs[UNWIND_REG_RBP] = rbp;
}

/*
 * What crashed the agent: code without CFI in an anonymous mapping, rsp = 8,
 * a wild rbp and an empty copy (bpf_probe_read_user failed). The frame-pointer
 * step computed stack_hi - 16 with stack_hi = 8. Now: the sampled ip alone,
 * counted as bad_regs; likewise at the top of the address space, where
 * rsp + the copy's length would wrap.
 */
static void test_hostile_rsp(void **state)
{
	static const uint64_t bad_sp[] = {
	    0, 8, 16, 0xff8, UINT64_MAX - 7, UINT64_MAX - 63, USER_END_PROBE};
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	struct procmaps *m = maps_with_jit(s);
	struct unwinder *u = new_unwinder(0, proc_root);
	struct unwinder_stats st;
	uint64_t regs[UNWIND_NR_REGS], ips[MAX_FRAMES], rbp;
	unsigned char stack[64];
	enum unwind_end end;
	size_t i, k, n, len;

	(void)state;
	memset(stack, 0x41, sizeof(stack));
	for (i = 0; i < sizeof(bad_sp) / sizeof(bad_sp[0]); i++) {
		for (k = 0; k < 4; k++) {
			rbp = k % 2 ? WILD_RBP : bad_sp[i] + 16;
			len = k < 2 ? 0 : sizeof(stack);
			hostile_regs(regs, JIT_LO + 0x10, bad_sp[i], rbp);
			n = unwinder_unwind(u, 1, m, regs, len ? stack : NULL, len, ips, MAX_FRAMES,
					    &end);
			assert_int_equal(n, 1);
			assert_int_equal(ips[0], JIT_LO + 0x10);
			assert_int_equal(end, UNWIND_END_BAD_REGS);
			/* The same from an ip with CFI: the walk must not read either. */
			regs[UNWIND_REG_RIP] = s->regs[UNWIND_REG_RIP];
			n = unwinder_unwind(u, 1, m, regs, len ? stack : NULL, len, ips, MAX_FRAMES,
					    &end);
			assert_int_equal(n, 1);
			assert_int_equal(end, UNWIND_END_BAD_REGS);
		}
	}
	unwinder_get_stats(u, &st);
	assert_int_equal(st.ends[UNWIND_END_BAD_REGS], st.stacks);
	assert_string_equal(unwind_end_name(UNWIND_END_BAD_REGS), "bad_regs");
	unwinder_free(u);
	maps_for_free(m);
}

/*
 * A plausible rsp with an empty or tiny copy and a wild or edge rbp: the
 * frame-pointer step reads only inside the copy (ASan would see a byte
 * beyond it: the copies are heap buffers of exactly their length).
 */
static void test_hostile_short_copy(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	struct procmaps *m = maps_with_jit(s);
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t regs[UNWIND_NR_REGS], ips[MAX_FRAMES], w;
	static const size_t lens[] = {0, 1, 8, 15, 16, 17, 24};
	const uint64_t rbps[] = {WILD_RBP,     FAKE_SP,		FAKE_SP + 8,
				 FAKE_SP + 16, UINT64_MAX - 15, UINT64_MAX - 7};
	enum unwind_end end;
	size_t i, k, n;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		unsigned char *stack = malloc(lens[i] ? lens[i] : 1);

		assert_non_null(stack);
		/* Every word a return address into the JIT code, or the frame itself. */
		for (k = 0; k + 8 <= lens[i]; k += 8) {
			w = k % 16 ? JIT_LO + 0x20 : FAKE_SP + k;
			memcpy(stack + k, &w, 8);
		}
		for (k = 0; k < sizeof(rbps) / sizeof(rbps[0]); k++) {
			hostile_regs(regs, JIT_LO + 0x10, FAKE_SP, rbps[k]);
			n = unwinder_unwind(u, 1, m, regs, stack, lens[i], ips, MAX_FRAMES, &end);
			assert_true(n >= 1 && n <= 2);
			/*
			 * Only a whole frame (saved rbp, return address) inside the copy is
			 * followed. Like the BPF walker, a frame-pointer step takes any
			 * return address above the null page: from rbp = FAKE_SP + 8 that is
			 * the word FAKE_SP + 16, an unmapped pc whose own step ends the walk.
			 */
			if (n == 2 && rbps[k] == FAKE_SP) {
				assert_true(lens[i] >= 16);
				assert_int_equal(ips[1], JIT_LO + 0x20);
				assert_int_equal(end, UNWIND_END_NO_CFI);
			} else if (n == 2) {
				assert_int_equal(rbps[k], FAKE_SP + 8);
				assert_true(lens[i] >= 24);
				assert_int_equal(ips[1], FAKE_SP + 16);
				assert_int_equal(end, UNWIND_END_NO_MAPPING);
			} else {
				assert_int_equal(end, UNWIND_END_NO_CFI);
			}
		}
		free(stack);
	}
	unwinder_free(u);
	maps_for_free(m);
}

/*
 * rbp chains that loop on a real stack: a frame whose saved rbp is itself,
 * and two frames pointing at each other. Each frame-pointer step must move
 * up the stack, so the walk ends after the frames it could really take.
 */
static void test_hostile_rbp_loop(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	struct procmaps *m = maps_with_jit(s);
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t regs[UNWIND_NR_REGS], ips[MAX_FRAMES], stack[64];
	enum unwind_end end;
	size_t n;

	(void)state;
	memset(stack, 0, sizeof(stack));
	/* Frame at +64: [rbp] = rbp, [rbp + 8] = the JIT code again. */
	stack[8] = FAKE_SP + 64;
	stack[9] = JIT_LO + 0x20;
	hostile_regs(regs, JIT_LO + 0x10, FAKE_SP, FAKE_SP + 64);
	n = unwinder_unwind(u, 1, m, regs, stack, sizeof(stack), ips, MAX_FRAMES, &end);
	assert_int_equal(n, 2);
	assert_int_equal(ips[1], JIT_LO + 0x20);
	assert_int_equal(end, UNWIND_END_NO_CFI);

	/* Frames at +64 and +128 pointing at each other: two steps, then back down is refused. */
	stack[8] = FAKE_SP + 128;
	stack[16] = FAKE_SP + 64;
	stack[17] = JIT_LO + 0x30;
	n = unwinder_unwind(u, 1, m, regs, stack, sizeof(stack), ips, MAX_FRAMES, &end);
	assert_int_equal(n, 3);
	assert_int_equal(ips[1], JIT_LO + 0x20);
	assert_int_equal(ips[2], JIT_LO + 0x30);
	assert_int_equal(end, UNWIND_END_NO_CFI);

	/* rbp below rsp (a frame already popped): not followed. */
	regs[UNWIND_REG_RBP] = FAKE_SP - 16;
	n = unwinder_unwind(u, 1, m, regs, stack, sizeof(stack), ips, MAX_FRAMES, &end);
	assert_int_equal(n, 1);
	/*
	 * Misaligned: the BPF walker does not check alignment, and neither does
	 * its mirror; the unaligned words give an unmapped pc and a wild rbp, and
	 * the walk ends there.
	 */
	regs[UNWIND_REG_RBP] = FAKE_SP + 65;
	n = unwinder_unwind(u, 1, m, regs, stack, sizeof(stack), ips, MAX_FRAMES, &end);
	assert_int_equal(n, 2);
	assert_int_equal(end, UNWIND_END_NO_MAPPING);
	unwinder_free(u);
	maps_for_free(m);
}

/* Without .eh_frame_hdr there is no table to search: NO_CFI at the leaf. */
static void test_no_eh_frame_hdr(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	char bin[700];
	size_t n;

	(void)state;
	snprintf(bin, sizeof(bin), "%s/nohdr", tmpdir);
	assert_int_equal(
	    run("objcopy --remove-section .eh_frame_hdr '%s' '%s' 2>/dev/null", s->bin, bin), 0);
	assert_int_equal(unwind_with(s, bin, &n), UNWIND_END_NO_CFI);
	assert_int_equal(n, 1);
}

/* File offset and size of section @name of the ELF file @path. */
static int section_of(const char *path, const char *name, uint64_t *off, uint64_t *size)
{
	size_t len = 0, i;
	unsigned char *f = slurp(path, &len);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
	const Elf64_Shdr *sh;
	int err = -1;

	if (!f)
		return -1;
	sh = (const Elf64_Shdr *)(f + eh->e_shoff);
	for (i = 0; i < eh->e_shnum; i++) {
		if (!strcmp((const char *)f + sh[eh->e_shstrndx].sh_offset + sh[i].sh_name, name)) {
			*off = sh[i].sh_offset;
			*size = sh[i].sh_size;
			err = 0;
		}
	}
	free(f);
	return err;
}

static void patch(const char *path, uint64_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Hostile objects: a bad header version, garbage CFI, a truncated file. */
static void test_hostile_objects(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	uint64_t hoff, hsz, eoff, esz, i;
	unsigned char b;
	char bin[700];
	size_t n;
	int round;

	(void)state;
	snprintf(bin, sizeof(bin), "%s/hostile", tmpdir);
	assert_int_equal(section_of(s->bin, ".eh_frame_hdr", &hoff, &hsz), 0);
	assert_int_equal(section_of(s->bin, ".eh_frame", &eoff, &esz), 0);

	assert_int_equal(run("cp '%s' '%s'", s->bin, bin), 0);
	b = 2; /* version */
	patch(bin, hoff, &b, 1);
	assert_int_equal(unwind_with(s, bin, &n), UNWIND_END_NO_CFI);
	assert_int_equal(n, 1);

	assert_int_equal(run("cp '%s' '%s'", s->bin, bin), 0);
	b = 0x1b; /* a table encoding unwtab refuses */
	patch(bin, hoff + 3, &b, 1);
	assert_int_equal(unwind_with(s, bin, &n), UNWIND_END_NO_CFI);

	/* An FDE count far beyond the section. */
	assert_int_equal(run("cp '%s' '%s'", s->bin, bin), 0);
	i = 0x7fffffff;
	patch(bin, hoff + 8, &i, 4);
	assert_int_equal(unwind_with(s, bin, &n), UNWIND_END_NO_CFI);

	/* Random .eh_frame and table bytes: whatever comes out, no crash, no hang. */
	for (round = 0; round < 40; round++) {
		unsigned char junk[64];
		uint64_t where = round % 2 ? eoff + rnd() % esz : hoff + 12 + rnd() % (hsz - 12);

		assert_int_equal(run("cp '%s' '%s'", s->bin, bin), 0);
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (unsigned char)rnd();
		patch(bin, where, junk, round % 4 < 2 ? 4 : sizeof(junk));
		unwind_with(s, bin, &n);
		assert_true(n >= 1);
	}

	/* Truncated inside .eh_frame: the sections cannot be read. */
	assert_int_equal(
	    run("cp '%s' '%s' && truncate -s %" PRIu64 " '%s'", s->bin, bin, eoff + esz / 2, bin),
	    0);
	assert_int_equal(unwind_with(s, bin, &n), UNWIND_END_NO_CFI);
	assert_int_equal(n, 1);
}

/* One unwind of @s with its binary replaced by @bin, through the shared unwinder @u. */
static enum unwind_end unwind_in(struct unwinder *u, const struct snapshot *s, const char *bin,
				 size_t *n)
{
	struct procmaps *m = maps_for(s, bin);
	uint64_t ips[MAX_FRAMES];
	enum unwind_end end;

	*n = unwinder_unwind(u, 1, m, s->regs, s->stack, s->stack_len, ips, MAX_FRAMES, &end);
	maps_for_free(m);
	return end;
}

/*
 * A build id is a claim: a file with the fixture's id but other unwind tables
 * (here an .eh_frame_hdr of an unknown version, so no table at all) must not
 * lend them to the real fixture, nor borrow the fixture's. Byte-identical
 * copies share one cached object.
 */
static void test_same_build_id_other_cfi(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	char real[700], copy[700], fake[700];
	struct unwinder_stats st0, st;
	uint64_t hoff, hsz;
	unsigned char b = 2;
	struct unwinder *u;
	size_t n;

	(void)state;
	snprintf(real, sizeof(real), "%s/same_id_real", tmpdir);
	snprintf(copy, sizeof(copy), "%s/same_id_copy", tmpdir);
	snprintf(fake, sizeof(fake), "%s/same_id_fake", tmpdir);
	assert_int_equal(section_of(s->bin, ".eh_frame_hdr", &hoff, &hsz), 0);
	assert_int_equal(run("cp '%s' '%s' && cp '%s' '%s' && cp '%s' '%s'", s->bin, real, s->bin,
			     copy, s->bin, fake),
			 0);
	patch(fake, hoff, &b, 1);

	/* The impostor first: its lack of tables must not stick to the id. */
	u = new_unwinder(0, proc_root);
	assert_int_equal(unwind_in(u, s, fake, &n), UNWIND_END_NO_CFI);
	assert_int_equal(n, 1);
	unwinder_get_stats(u, &st0);
	assert_int_equal(unwind_in(u, s, real, &n), UNWIND_END_COMPLETE);
	assert_true(n > 8);
	unwinder_get_stats(u, &st);
	assert_int_equal(st.cache_id_conflicts, st0.cache_id_conflicts + 1);
	assert_int_equal(st.cache_objects, st0.cache_objects + 2); /* the real one, and libc */
	/* A byte-identical copy shares the real object: no new object, no conflict. */
	assert_int_equal(unwind_in(u, s, copy, &n), UNWIND_END_COMPLETE);
	unwinder_get_stats(u, &st0);
	assert_int_equal(st0.cache_objects, st.cache_objects);
	assert_int_equal(st0.cache_id_conflicts, st.cache_id_conflicts);
	unwinder_free(u);

	/* The real one first: the impostor does not get its tables. */
	u = new_unwinder(0, proc_root);
	assert_int_equal(unwind_in(u, s, real, &n), UNWIND_END_COMPLETE);
	assert_int_equal(unwind_in(u, s, fake, &n), UNWIND_END_NO_CFI);
	assert_int_equal(n, 1);
	unwinder_get_stats(u, &st);
	assert_int_equal(st.cache_id_conflicts, 1);
	unwinder_free(u);
}

/*
 * The cache: a second unwind hits; an exited process (no proc entry at all)
 * still unwinds through the file identities priming recorded; a small budget
 * evicts and stays correct.
 */
static void test_cache(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_QSORT];
	struct unwinder *u = new_unwinder(0, proc_root);
	struct unwinder_stats st, st2;
	uint64_t ips[MAX_FRAMES], ips2[MAX_FRAMES];
	enum unwind_end end;
	size_t n, n2;

	(void)state;
	n = unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips, MAX_FRAMES, &end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	unwinder_get_stats(u, &st);
	assert_int_equal(st.cache_objects, 2); /* fixture and libc */
	assert_int_equal(st.cache_misses, 2);
	assert_true(st.cache_bytes > 0);
	/* pid 2 has no entry under the fake proc root: like a process that exited. */
	n2 =
	    unwinder_unwind(u, 2, s->maps, s->regs, s->stack, s->stack_len, ips2, MAX_FRAMES, &end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_int_equal(n2, n);
	assert_memory_equal(ips, ips2, n * sizeof(ips[0]));
	unwinder_get_stats(u, &st2);
	assert_int_equal(st2.cache_misses, 2);
	assert_true(st2.cache_hits >= 2);
	assert_int_equal(st2.stacks, 2);
	assert_int_equal(st2.frames, n + n2);
	assert_int_equal(st2.ends[UNWIND_END_COMPLETE], 2);
	unwinder_free(u);

	/* Room for libc's tables but not for both objects: evicted after every unwind. */
	u = new_unwinder(st.cache_bytes - 1, proc_root);
	n2 =
	    unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips2, MAX_FRAMES, &end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_int_equal(n2, n);
	n2 =
	    unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips2, MAX_FRAMES, &end);
	assert_int_equal(n2, n);
	unwinder_get_stats(u, &st2);
	assert_true(st2.cache_evictions >= 1);
	assert_true(st2.cache_bytes <= st.cache_bytes - 1);
	unwinder_free(u);
}

/* Our own vDSO (what [vdso] mappings of 64-bit processes are unwound with) has a table. */
static void test_vdso_table(void)
{
	const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	struct unwtab *t = NULL;

	assert_non_null(base);
	assert_int_equal(
	    unwtab_open_mem(base, eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize, &t), 0);
	assert_true(t->has_table);
	assert_true(t->fde_count >= 1);
	unwtab_free(t);
}

/* The unwind tables parser on its own: this process's libc and the fixture. */
static void test_unwtab(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	struct unwtab *t = NULL;
	uint64_t bias;
	int fd = open(s->bin, O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(unwtab_open_fd(fd, &t), 0);
	close(fd);
	assert_true(t->has_table);
	assert_true(t->fde_count > 8);
	assert_int_equal(t->build_id_len, 20);
	assert_int_equal(t->hdr.vaddr % 8, 0);
	assert_int_equal(unwtab_bias(t, 0x555555554000, 0, &bias), 0);
	assert_int_equal(bias, 0x555555554000);
	unwtab_free(t);
	fd = open("/etc/hostname", O_RDONLY);
	if (fd >= 0) {
		assert_int_equal(unwtab_open_fd(fd, &t), -ENOEXEC);
		close(fd);
	}
	assert_int_equal(unwtab_open_mem("\x7f"
					 "ELF",
					 4, &t),
			 -ENOEXEC);
	test_vdso_table();
}

/*
 * gold keeps the SHT_X86_64_UNWIND type clang gives .eh_frame, and types
 * .eh_frame_hdr so too (Debian's libLLVM, clang and LLVM tools are such
 * objects), not SHT_PROGBITS: such an object must still have its table.
 */
static void test_unwtab_unwind_type(void **state)
{
	char bin[700];
	struct unwtab *t = NULL;
	int fd;

	(void)state;
	if (run("command -v ld.gold >/dev/null"))
		skip_or_fail("ld.gold (Debian package binutils) not found");
	snprintf(bin, sizeof(bin), "%s/unw_snap_gold", tmpdir);
	assert_int_equal(run("clang -O2 -fomit-frame-pointer -fuse-ld=gold -o '%s' '%s/unw_snap.c'",
			     bin, STACKD_UNW_FIXTURES),
			 0);
	assert_int_equal(run("readelf -SW '%s' | grep -q 'eh_frame_hdr *X86_64_UNWIND'", bin), 0);
	fd = open(bin, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(unwtab_open_fd(fd, &t), 0);
	close(fd);
	assert_true(t->has_table);
	assert_true(t->fde_count > 8);
	unwtab_free(t);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/*
 * Not a timed test: prints the cost of an unwind with the object tables
 * cached, (a) one process, (b) pids 1..9 in turn (the fake proc root only
 * answers for 1 but the objects are found by their primed file identity).
 */
static void test_speed(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_QSORT];
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t ips[MAX_FRAMES];
	enum unwind_end end;
	size_t n = 0, i, iters = 20000;
	double t, warm, cold;

	(void)state;
	unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips, MAX_FRAMES, &end);
	t = now_us();
	for (i = 0; i < iters; i++)
		n = unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips, MAX_FRAMES,
				    &end);
	warm = (now_us() - t) / (double)iters;
	assert_int_equal(end, UNWIND_END_COMPLETE);
	t = now_us();
	for (i = 0; i < iters; i++)
		n = unwinder_unwind(u, (pid_t)(1 + i % 9), s->maps, s->regs, s->stack, s->stack_len,
				    ips, MAX_FRAMES, &end);
	cold = (now_us() - t) / (double)iters;
	assert_int_equal(end, UNWIND_END_COMPLETE);
	fprintf(stderr,
		"unwind of %zu frames: %.2f us one pid (%.2f us/frame), %.2f us with "
		"pids in turn (%.2f us/frame)\n",
		n, warm, warm / (double)n, cold, cold / (double)n);
	unwinder_free(u);
}

/* --- .debug_frame ---------------------------------------------------------- */

/*
 * The .debug_frame builds: their own functions have no .eh_frame FDE (with
 * .debug_frame removed the leaf alone comes out), and with it the whole
 * chain unwinds through libc to _start, whose CFI is crt's .eh_frame.
 */
static void check_debug_frame(enum fx_cc cc)
{
	const struct snapshot *s = &df_snaps[cc][MODE_CHAIN];
	uint64_t off, size;
	char bin[700], what[64];
	size_t n;

	assert_int_equal(section_of(s->bin, ".debug_frame", &off, &size), 0);
	assert_true(size > 0);
	snprintf(bin, sizeof(bin), "%s/nodf_%s", tmpdir, cc_names[cc]);
	assert_int_equal(run("objcopy --remove-section .debug_frame '%s' '%s'", s->bin, bin), 0);
	assert_int_equal(unwind_with(s, bin, &n), UNWIND_END_NO_CFI);
	assert_int_equal(n, 1);
	snprintf(what, sizeof(what), "%s .debug_frame", cc_names[cc]);
	check_chain_of(s, what);
	check_qsort_of(&df_snaps[cc][MODE_QSORT], what);
}

static void test_debug_frame_gcc(void **state)
{
	(void)state;
	check_debug_frame(CC_GCC);
}

static void test_debug_frame_clang(void **state)
{
	(void)state;
	check_debug_frame(CC_CLANG);
}

/*
 * Unwind @s with its fixture replaced by @bin (same code); the fixture's
 * frames must all be there, then libc's startup, up to _start. With no CFI
 * for _start left in @bin, that is where it ends: NO_CFI.
 */
static void check_variant(const struct snapshot *s, const char *bin, const char *what)
{
	static const char *const want[] = {"leaf", "f1", "f2", "f3", "f4", "f5", "f6", "main"};
	struct snapshot v = *s;
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t ips[MAX_FRAMES];
	char names[MAX_FRAMES][64];
	enum unwind_end end;
	size_t n, i, libc = 0;

	snprintf(v.bin, sizeof(v.bin), "%s", bin);
	v.maps = maps_for(s, bin);
	n = unwinder_unwind(u, 1, v.maps, v.regs, v.stack, v.stack_len, ips, MAX_FRAMES, &end);
	name_frames(&v, ips, n, names);
	dump(what, ips, names, n, end);
	assert_int_equal(end, UNWIND_END_NO_CFI);
	assert_true(n > 8);
	for (i = 0; i < 8; i++)
		assert_string_equal(names[i], want[i]);
	for (; i < n && !strcmp(names[i], "libc"); i++)
		libc++;
	assert_true(libc >= 1);
	assert_int_equal(i + 1, n);
	assert_string_equal(names[i], "_start");
	unwinder_free(u);
	maps_for_free(v.maps);
}

/* .debug_frame is all there is: in the object itself, or in its debug file. */
static void test_debug_frame_only(void **state)
{
	const struct snapshot *s;
	char bin[700], dbg[700];
	int c;

	(void)state;
	for (c = 0; c < CC__MAX; c++) {
		s = &df_snaps[c][MODE_CHAIN];
		snprintf(bin, sizeof(bin), "%s/dfonly_%s", tmpdir, cc_names[c]);
		assert_int_equal(run("objcopy --remove-section .eh_frame --remove-section "
				     ".eh_frame_hdr '%s' '%s'",
				     s->bin, bin),
				 0);
		check_variant(s, bin, "only .debug_frame");

		/* No CFI in the object; its .gnu_debuglink file (next to it) has it. */
		snprintf(dbg, sizeof(dbg), "%s/dflink_%s.debug", tmpdir, cc_names[c]);
		snprintf(bin, sizeof(bin), "%s/dflink_%s", tmpdir, cc_names[c]);
		assert_int_equal(run("objcopy --only-keep-debug '%s' '%s' && cd '%s' && objcopy "
				     "--strip-debug --remove-section .eh_frame --remove-section "
				     ".eh_frame_hdr --add-gnu-debuglink='%s' '%s' '%s'",
				     s->bin, dbg, tmpdir, dbg, s->bin, bin),
				 0);
		check_variant(s, bin, "separate .debug_frame");
	}
}

/*
 * A corrupted .debug_frame: a length beyond the section drops all of it
 * (NO_CFI at the leaf, with and without the real .eh_frame next to it);
 * junk anywhere in it never crashes or hangs.
 */
static void test_debug_frame_hostile(void **state)
{
	const struct snapshot *s = &df_snaps[CC_GCC][MODE_CHAIN];
	uint64_t off, size, i;
	uint32_t len = 0x7ffffff0;
	char bin[700], only[700];
	size_t n;
	int round;

	(void)state;
	snprintf(bin, sizeof(bin), "%s/dfhostile", tmpdir);
	snprintf(only, sizeof(only), "%s/dfhostile_only", tmpdir);
	assert_int_equal(section_of(s->bin, ".debug_frame", &off, &size), 0);
	assert_int_equal(run("cp '%s' '%s'", s->bin, bin), 0);
	patch(bin, off, &len, 4);
	assert_int_equal(unwind_with(s, bin, &n), UNWIND_END_NO_CFI);
	assert_int_equal(n, 1);
	assert_int_equal(run("objcopy --remove-section .eh_frame --remove-section .eh_frame_hdr "
			     "'%s' '%s'",
			     bin, only),
			 0);
	assert_int_equal(unwind_with(s, only, &n), UNWIND_END_NO_CFI);
	assert_int_equal(n, 1);

	for (round = 0; round < 60; round++) {
		unsigned char junk[64];
		uint64_t where = off + rnd() % size;

		assert_int_equal(run("cp '%s' '%s'", s->bin, bin), 0);
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (unsigned char)rnd();
		if (where + sizeof(junk) > off + size)
			where = off + size - sizeof(junk);
		patch(bin, where, junk, round % 3 ? 2 : sizeof(junk));
		unwind_with(s, bin, &n);
		assert_true(n >= 1);
	}
}

/* A fake object image at 0x400000 for unwtab_add_debug_frame() alone. */
static struct unwtab *fake_tab(void)
{
	struct unwtab *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->e_type = ET_EXEC;
	t->nr_loads = 1;
	t->loads[0] = (struct unwtab_load){0, 0x400000, 0x10000, 0x10000};
	t->image_lo = 0x400000;
	t->image_hi = 0x410000;
	t->bytes = sizeof(*t);
	t->table_err = -ENOENT;
	return t;
}

/* Append @n bytes of @v (little endian). */
static size_t put(unsigned char *b, size_t at, uint64_t v, size_t n)
{
	memcpy(b + at, &v, n);
	return at + n;
}

/*
 * The converter on hand-made sections: a 64-bit DWARF v4 CIE with a 32-bit
 * v3 CIE after its FDE, whose FDE names it (a later CIE) and uses
 * DW_CFA_set_loc; what comes out is .eh_frame (CIE id 0, "zR", pcrel
 * pointers) with a header table sorted by start.
 */
static void test_debug_frame_convert(void **state)
{
	unsigned char df[256], *h;
	struct unwtab *t = fake_tab();
	size_t p = 0, cie2, fde2;
	int32_t ent[2];
	uint64_t v;

	(void)state;
	/* CIE, DWARF64, v4: address size 8, segment size 0, caf 1, daf -8, ra 16. */
	p = put(df, p, 0xffffffff, 4);
	p = put(df, p, 8 + 5 + 2 + 3 + 3, 8);
	p = put(df, p, UINT64_MAX, 8);
	p = put(df, p, 0x0100080004, 5); /* version 4, "", 8, 0, caf 1... */
	p = put(df, p, 0x1078, 2);	 /* ...daf -8, ra 16 */
	p = put(df, p, 0x08070c, 3);	 /* DW_CFA_def_cfa rsp+8 */
	p = put(df, p, 0x019000, 3);	 /* nop, DW_CFA_offset rip cfa-8 */
	/* FDE, DWARF64, for 0x401000..0x401100 under that CIE. */
	p = put(df, p, 0xffffffff, 4);
	p = put(df, p, 8 + 16 + 3, 8);
	p = put(df, p, 0, 8);
	p = put(df, p, 0x401000, 8);
	p = put(df, p, 0x100, 8);
	p = put(df, p, 0x100e41, 3); /* advance 1, def_cfa_offset 16 */
	/* FDE, DWARF32, for 0x400800..0x400900 under the CIE that follows it. */
	fde2 = p;
	p = put(df, p, 4 + 16 + 9 + 2, 4);
	cie2 = p + 4 + 16 + 9 + 2;
	p = put(df, p, cie2, 4);
	p = put(df, p, 0x400800, 8);
	p = put(df, p, 0x100, 8);
	p = put(df, p, 0x01, 1); /* DW_CFA_set_loc 0x400810 */
	p = put(df, p, 0x400810, 8);
	p = put(df, p, 0x100e, 2); /* def_cfa_offset 16 */
	/* CIE, DWARF32, v3. */
	assert_int_equal(p, cie2);
	p = put(df, p, 4 + 1 + 1 + 3 + 3, 4);
	p = put(df, p, 0xffffffff, 4);
	p = put(df, p, 0x0003, 2);
	p = put(df, p, 0x107801, 3);
	p = put(df, p, 0x08070c, 3);

	assert_int_equal(unwtab_add_debug_frame(t, df, p), 0);
	assert_true(t->has_table);
	assert_int_equal(t->fde_count, 2);
	assert_non_null(t->dbg.data);
	assert_int_equal(t->dbg.vaddr % 8, 0);
	assert_int_equal(t->dbg.size % 8, 0);
	assert_int_equal(t->hdr.vaddr % 8, 0);
	assert_true(t->dbg.vaddr >= t->image_lo && t->hdr.vaddr + t->hdr.size <= t->image_hi);
	assert_true(t->bytes > sizeof(*t));
	/* Converted CIEs first (id 0, version 3 from 4, "zR" pcrel|sdata8), in section order. */
	assert_memory_equal(t->dbg.data + 4, "\0\0\0\0\3zR\0", 8);
	h = t->hdr.data + (t->table_vaddr - t->hdr.vaddr);
	/* Sorted: 0x400800 first. */
	memcpy(ent, h, 8);
	assert_int_equal(t->hdr_vaddr + (uint64_t)(int64_t)ent[0], 0x400800);
	v = t->hdr_vaddr + (uint64_t)(int64_t)ent[1] - t->dbg.vaddr;
	assert_true(v < t->dbg.size);
	/* Its initial location, pcrel from the field: the FDE's own address + 8. */
	memcpy(&v, t->dbg.data + v + 8, 8);
	assert_int_equal(v + t->hdr_vaddr + (uint64_t)(int64_t)ent[1] + 8, 0x400800);
	memcpy(ent, h + 8, 8);
	assert_int_equal(t->hdr_vaddr + (uint64_t)(int64_t)ent[0], 0x401000);
	assert_int_equal(unwtab_add_debug_frame(t, df, p), -EEXIST);
	unwtab_free(t);
	(void)fde2;

	/* Malformed as a whole, or nothing usable: no table, and why. */
	t = fake_tab();
	assert_int_equal(unwtab_add_debug_frame(t, df, p - 1), -EINVAL);
	assert_false(t->has_table);
	assert_int_equal(t->table_err, -EINVAL);
	assert_int_equal(unwtab_add_debug_frame(t, df, 0), -ENOENT);
	df[fde2 + 4] ^= 0x40; /* the FDE's CIE pointer now points nowhere: dropped */
	df[20] = 2;	      /* CIE version 2 does not exist: its FDE is dropped */
	assert_int_equal(unwtab_add_debug_frame(t, df, p), -ENOENT);
	assert_false(t->has_table);
	assert_null(t->dbg.data);
	unwtab_free(t);
}

/* --- Stack shapes of the kernel walker, walked by its mirror ------------------ */

/* leaf <- d30 <- ... <- d1 <- main <- libc's startup <- _start. */
static void check_deep(enum fx_cc cc)
{
	const struct snapshot *s = &snaps[cc][MODE_DEEP];
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t ips[MAX_FRAMES];
	char names[MAX_FRAMES][64], want[64];
	enum unwind_end end;
	size_t n, i;

	n = unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips, MAX_FRAMES, &end);
	name_frames(s, ips, n, names);
	dump(cc_names[cc], ips, names, n, end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_true(n > 32);
	assert_string_equal(names[0], "leaf");
	for (i = 1; i <= 30; i++) {
		snprintf(want, sizeof(want), "d%zu", 31 - i);
		assert_string_equal(names[i], want);
	}
	assert_string_equal(names[31], "main");
	expect_startup(names, n, 32);
	unwinder_free(u);
}

static void test_deep_gcc(void **state)
{
	(void)state;
	check_deep(CC_GCC);
}

static void test_deep_clang(void **state)
{
	(void)state;
	check_deep(CC_CLANG);
}

/*
 * A SIGSEGV handler: its caller is libc's __restore_rt (a SIGNAL row), whose
 * ucontext in the copy gives the interrupted frame, poke, at its exact pc:
 * the faulting store is poke's first instruction, so pc - 1 would be
 * another function.
 */
static void check_signal(enum fx_cc cc)
{
	const struct snapshot *s = &snaps[cc][MODE_SIGNAL];
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t ips[MAX_FRAMES];
	char names[MAX_FRAMES][64];
	enum unwind_end end;
	size_t n;

	n = unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, ips, MAX_FRAMES, &end);
	name_frames(s, ips, n, names);
	if (n > 2)
		name_frames(s, &ips[2], 1, &names[2]); /* the interrupted pc, exact */
	dump(cc_names[cc], ips, names, n, end);
	assert_int_equal(end, UNWIND_END_COMPLETE);
	assert_true(n > 5);
	assert_string_equal(names[0], "on_signal");
	assert_string_equal(names[1], "libc");
	assert_string_equal(names[2], "poke");
	assert_string_equal(names[3], "sigfn");
	assert_string_equal(names[4], "main");
	expect_startup(names, n, 5);
	unwinder_free(u);
}

static void test_signal_gcc(void **state)
{
	(void)state;
	check_signal(CC_GCC);
}

static void test_signal_clang(void **state)
{
	(void)state;
	check_signal(CC_CLANG);
}

/* The mapping of @maps whose file is @path (executable), or the one named @path ("[vdso]"). */
static const struct procmap *map_named(const struct procmaps *maps, const char *path)
{
	size_t i;

	for (i = 0; i < maps->nr; i++) {
		if (strstr(maps->maps[i].path, path) && (maps->maps[i].perms & PROCMAP_EXEC))
			return &maps->maps[i];
	}
	return NULL;
}

/*
 * Unwind @s as if the leaf had just called the code at @pc: @pushed words
 * (the return address into the leaf, then @extra words the callee pushed)
 * on top of the recorded stack. The walk must give @pc, then exactly the
 * recorded stack's frames and end.
 */
static void check_callee(const struct snapshot *s, uint64_t pc, const uint64_t *extra,
			 size_t nr_extra, const char *what)
{
	struct unwinder *u = new_unwinder(0, proc_root);
	uint64_t full[MAX_FRAMES], ips[MAX_FRAMES], regs[UNWIND_NR_REGS];
	size_t pre = (nr_extra + 1) * 8, nfull, n;
	unsigned char *stack = malloc(s->stack_len + pre);
	enum unwind_end end_full, end;
	char names[MAX_FRAMES][64];

	assert_non_null(stack);
	nfull = unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, full, MAX_FRAMES,
				&end_full);
	assert_int_equal(end_full, UNWIND_END_COMPLETE);
	if (nr_extra)
		memcpy(stack, extra, nr_extra * 8);
	memcpy(stack + nr_extra * 8, &s->regs[UNWIND_REG_RIP], 8);
	memcpy(stack + pre, s->stack, s->stack_len);
	memcpy(regs, s->regs, sizeof(regs));
	regs[UNWIND_REG_RIP] = pc;
	regs[UNWIND_REG_RSP] -= pre;
	n = unwinder_unwind(u, 1, s->maps, regs, stack, s->stack_len + pre, ips, MAX_FRAMES, &end);
	name_frames(s, ips, n, names);
	dump(what, ips, names, n, end);
	assert_int_equal(end, end_full);
	assert_int_equal(n, nfull + 1);
	assert_int_equal(ips[0], pc);
	assert_memory_equal(ips + 1, full, nfull * sizeof(full[0]));
	free(stack);
	unwinder_free(u);
}

/* The rule of the row covering runtime address @addr in @ut's table. */
static uint32_t rule_at(const struct unwinder_table *ut, uint64_t addr)
{
	const struct cfitab_row *row = cfitab_lookup(ut->tab, addr - ut->adj + ut->tab->base);

	return row ? row->rule : CFITAB_CFA_GAP;
}

/*
 * A sample in a PLT stub (the leaf calling through it): the CFA depends on
 * where in the 16-byte entry the pc is, before or after its push.
 */
static void test_plt(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	struct unwinder *u = new_unwinder(0, proc_root);
	const struct procmap *m = map_named(s->maps, s->bin);
	struct unwinder_table ut;
	uint64_t off, size, entry, idx = 3;

	(void)state;
	assert_non_null(m);
	assert_int_equal(section_of(s->bin, ".plt", &off, &size), 0);
	assert_true(size >= 32 && off >= m->offset &&
		    off + size <= m->offset + (m->end - m->start));
	entry = m->start + (off - m->offset) + 16; /* the first entry after PLT0 */
	assert_int_equal(unwinder_table(u, 1, s->maps, m, &ut), 0);
	assert_int_equal(CFITAB_RULE_CFA(rule_at(&ut, entry)), CFITAB_CFA_PLT);
	unwinder_free(u);
	check_callee(s, entry, NULL, 0, "plt entry, jmp");
	check_callee(s, entry + 6, NULL, 0, "plt entry, push");
	check_callee(s, entry + 11, &idx, 1, "plt entry, after push");
}

/* A sample in the vDSO (called from the leaf), unwound with this process's vDSO image. */
static void test_vdso(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	struct unwinder *u = new_unwinder(0, proc_root);
	const struct procmap *m = map_named(s->maps, "[vdso]");
	struct unwinder_table ut, ut2;
	uint64_t pc = 0;
	uint32_t i, rule;

	(void)state;
	assert_non_null(m);
	assert_int_equal(unwinder_table(u, 1, s->maps, m, &ut), 0);
	assert_int_equal(unwinder_table(u, 1, s->maps, m, &ut2), 0);
	assert_true(ut.obj_id != 0);
	assert_int_equal(ut.obj_id, ut2.obj_id);
	/* A function entry: the CFA at rsp + 8, rbp untouched. */
	for (i = 0; i < ut.tab->nr_rows && !pc; i++) {
		rule = ut.tab->rows[i].rule;
		if (CFITAB_RULE_CFA(rule) == CFITAB_CFA_RSP && CFITAB_RULE_CFA_OFF(rule) == 8 &&
		    CFITAB_RULE_RBP(rule) == CFITAB_RBP_SAME)
			pc = ut.tab->rows[i].pc + ut.adj;
	}
	assert_true(pc >= m->start && pc < m->end);
	unwinder_free(u);
	check_callee(s, pc, NULL, 0, "vdso");
}

/*
 * unwinder_table(): one object, one id and table across calls; another
 * object, another id; adj turns a runtime address into the row of the
 * function there (the leaf's row says where the return address into f1 is).
 */
static void test_unwinder_table(void **state)
{
	const struct snapshot *s = &snaps[CC_GCC][MODE_CHAIN];
	const struct snapshot *q = &snaps[CC_GCC][MODE_QSORT];
	struct unwinder *u = new_unwinder(0, proc_root);
	const struct procmap *fx = map_named(s->maps, s->bin),
			     *libc = map_named(q->maps, "/libc.so");
	struct unwinder_table a, a2, b;
	struct unwinder_stats st;
	struct procmaps *jit;
	uint64_t ra, full[MAX_FRAMES];
	enum unwind_end end;
	uint32_t rule;
	size_t n;

	(void)state;
	assert_non_null(fx);
	assert_non_null(libc);
	assert_int_equal(unwinder_table(u, 1, s->maps, fx, &a), 0);
	assert_int_equal(unwinder_table(u, 1, s->maps, fx, &a2), 0);
	assert_true(a.obj_id != 0);
	assert_int_equal(a.obj_id, a2.obj_id);
	assert_ptr_equal(a.tab, a2.tab);
	assert_int_equal(a.adj, a2.adj);
	/* A PIE laid out by ld: file offset = ELF address, so the bias is start - offset. */
	assert_int_equal(a.adj - a.tab->base, fx->start - fx->offset);
	rule = rule_at(&a, s->regs[UNWIND_REG_RIP]);
	assert_int_equal(CFITAB_RULE_CFA(rule), CFITAB_CFA_RSP);
	n = unwinder_unwind(u, 1, s->maps, s->regs, s->stack, s->stack_len, full, MAX_FRAMES, &end);
	assert_true(n > 2);
	memcpy(&ra, s->stack + CFITAB_RULE_CFA_OFF(rule) - 8, 8);
	assert_int_equal(ra, full[1]);

	assert_int_equal(unwinder_table(u, 1, q->maps, libc, &b), 0);
	assert_true(b.obj_id != a.obj_id);
	assert_ptr_not_equal(b.tab, a.tab);
	/* The comparator's caller is in libc: its return address has a row there. */
	n = unwinder_unwind(u, 1, q->maps, q->regs, q->stack, q->stack_len, full, MAX_FRAMES, &end);
	assert_true(n > 2);
	assert_true(full[1] >= libc->start && full[1] < libc->end);
	rule = rule_at(&b, full[1] - 1);
	assert_true(CFITAB_RULE_CFA(rule) == CFITAB_CFA_RSP ||
		    CFITAB_RULE_CFA(rule) == CFITAB_CFA_RBP);
	assert_int_equal(unwinder_table(u, 1, q->maps, libc, &a2), 0);
	assert_int_equal(a2.obj_id, b.obj_id);
	unwinder_get_stats(u, &st);
	assert_int_equal(st.tables_built, 2);

	/* Anonymous code has no table. */
	jit = maps_with_jit(s);
	assert_int_equal(unwinder_table(u, 1, jit, procmaps_find(jit, JIT_LO), &a2), -ENOENT);
	maps_for_free(jit);
	unwinder_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain_gcc),
	    cmocka_unit_test(test_chain_clang),
	    cmocka_unit_test(test_qsort_gcc),
	    cmocka_unit_test(test_qsort_clang),
	    cmocka_unit_test(test_truncated_stack),
	    cmocka_unit_test(test_max_depth),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_hostile_rsp),
	    cmocka_unit_test(test_hostile_short_copy),
	    cmocka_unit_test(test_hostile_rbp_loop),
	    cmocka_unit_test(test_no_eh_frame_hdr),
	    cmocka_unit_test(test_hostile_objects),
	    cmocka_unit_test(test_same_build_id_other_cfi),
	    cmocka_unit_test(test_cache),
	    cmocka_unit_test(test_unwtab),
	    cmocka_unit_test(test_unwtab_unwind_type),
	    cmocka_unit_test(test_speed),
	    cmocka_unit_test(test_debug_frame_gcc),
	    cmocka_unit_test(test_debug_frame_clang),
	    cmocka_unit_test(test_debug_frame_only),
	    cmocka_unit_test(test_debug_frame_hostile),
	    cmocka_unit_test(test_debug_frame_convert),
	    cmocka_unit_test(test_deep_gcc),
	    cmocka_unit_test(test_deep_clang),
	    cmocka_unit_test(test_signal_gcc),
	    cmocka_unit_test(test_signal_clang),
	    cmocka_unit_test(test_plt),
	    cmocka_unit_test(test_vdso),
	    cmocka_unit_test(test_unwinder_table),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
