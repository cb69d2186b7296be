// SPDX-License-Identifier: Apache-2.0
/*
 * The symbolizer end to end: on this very process (its executable, libc and
 * a fixture shared object it dlopen()s), on a fake /proc tree (prime, then
 * the "process" disappears), on a synthetic kallsyms, and with a byte budget
 * so small every object is evicted.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ci.h"

#include "symbolize/symbolizer.h"

#define FAKE_PID 4242

static char tmpdir[512];
static char so_path[600];
static char pie_path[600];
static char pie_b_path[600]; /* pie_path with other names of the same lengths: same layout */

__attribute__((noinline)) int stackd_test_marker(int x);
__attribute__((noinline)) int stackd_test_marker(int x)
{
	return x * 7;
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd)) {
		fprintf(stderr, "failed: %s\n", cmd);
		fail();
	}
}

static int setup(void **state)
{
	const char *cc = getenv("CC"), *tmp = getenv("STACKD_TEST_TMP");

	(void)state;
	if (!cc || !*cc)
		cc = "cc";
	snprintf(tmpdir, sizeof(tmpdir), "%s/symbolizer.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(so_path, sizeof(so_path), "%s/libfx.so", tmpdir);
	snprintf(pie_path, sizeof(pie_path), "%s/fx_pie", tmpdir);
	run("%s -O0 -shared -fPIC -DSTACKD_FX_LIB -Wl,--build-id=sha1 -o '%s' '%s/funcs.c'", cc,
	    so_path, STACKD_SYM_FIXTURES);
	run("%s -O0 -fPIE -pie -Wl,--build-id=sha1 -o '%s' '%s/funcs.c'", cc, pie_path,
	    STACKD_SYM_FIXTURES);
	snprintf(pie_b_path, sizeof(pie_b_path), "%s/fx_pie_b", tmpdir);
	run("%s -O0 -fPIE -pie -Wl,--build-id=sha1 -Dstackd_fx_alpha=stackd_fx_omega "
	    "-Dstackd_fx_local=stackd_fx_lokal -o '%s' '%s/funcs.c'",
	    cc, pie_b_path, STACKD_SYM_FIXTURES);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	run("rm -rf '%s'", tmpdir);
	return 0;
}

static uint64_t nm_addr(const char *file, const char *sym)
{
	char cmd[1024], line[1024], name[512], type;
	uint64_t addr, found = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "%" SCNx64 " %c %511s", &addr, &type, name) == 3 &&
		    !strcmp(name, sym))
			found = addr;
	pclose(p);
	return found;
}

/* The PT_LOAD (offset, vaddr, filesz) covering @vaddr, per readelf. */
static void readelf_load(const char *file, uint64_t vaddr, uint64_t *off, uint64_t *va,
			 uint64_t *filesz)
{
	char cmd[1024], line[1024];
	uint64_t o, v, pa, fs, ms;
	bool found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line,
			   " LOAD 0x%" SCNx64 " 0x%" SCNx64 " 0x%" SCNx64 " 0x%" SCNx64
			   " 0x%" SCNx64,
			   &o, &v, &pa, &fs, &ms) == 5 &&
		    vaddr >= v && vaddr < v + fs) {
			*off = o;
			*va = v;
			*filesz = fs;
			found = true;
		}
	pclose(p);
	assert_true(found);
}

static const char *fn_name(const struct sym_frame *f)
{
	return f->nr_lines ? f->lines[0].function : NULL;
}

static void test_self(void **state)
{
	struct symbolizer *s = NULL;
	struct procmaps *maps = NULL;
	struct sym_result *r = NULL;
	struct symbolizer_stats st;
	void *libc_getpid = dlsym(RTLD_DEFAULT, "getpid");
	uint64_t ips[4];
	const char *n;
	size_t i;

	(void)state;
	assert_non_null(libc_getpid);
	assert_int_equal(symbolizer_new(NULL, &s), 0);
	assert_int_equal(procmaps_read("/proc", getpid(), PROCMAPS_EXEC_ONLY, &maps), 0);
	/* Leaf at the function itself; callers are return addresses (looked up at ip - 1). */
	ips[0] = (uint64_t)(uintptr_t)&stackd_test_marker;
	ips[1] = (uint64_t)(uintptr_t)libc_getpid + 1;
	ips[2] = 0x10; /* nothing maps page 0 */
	ips[3] = (uint64_t)(uintptr_t)&stackd_test_marker + 1;
	assert_int_equal(symbolizer_user(s, getpid(), maps, ips, 4, &r), 0);
	assert_int_equal(r->nr, 4);

	assert_int_equal(r->frames[0].addr, ips[0]);
	assert_string_equal(fn_name(&r->frames[0]), "stackd_test_marker");
	assert_string_equal(r->frames[0].lines[0].system_name, "stackd_test_marker");
	assert_non_null(strstr(r->frames[0].mapping->path, "test_symbolizer"));
	assert_true(r->frames[0].mapping->has_functions);
	/* This test is built with -g in RelWithDebInfo/Debug: then DWARF gives file:line. */
	if (r->frames[0].mapping->has_line_numbers) {
		assert_non_null(r->frames[0].lines[0].file);
		assert_non_null(strstr(r->frames[0].lines[0].file, "test_symbolizer.c"));
		assert_true(r->frames[0].lines[0].line > 0);
	} else {
		assert_null(r->frames[0].lines[0].file);
		assert_int_equal(r->frames[0].lines[0].line, 0);
	}
	assert_true(r->frames[0].addr >= r->frames[0].mapping->start &&
		    r->frames[0].addr < r->frames[0].mapping->limit);

	/* glibc exports getpid as a WEAK alias of the GLOBAL __getpid. */
	n = fn_name(&r->frames[1]);
	assert_non_null(n);
	assert_true(!strcmp(n, "__getpid") || !strcmp(n, "getpid"));
	assert_non_null(strstr(r->frames[1].mapping->path, "libc"));
	assert_int_equal(strlen(r->frames[1].mapping->build_id), 40);
	assert_int_equal(r->frames[1].addr, ips[1]);

	assert_null(r->frames[2].mapping);
	assert_int_equal(r->frames[2].nr_lines, 0);

	/* Same mapping twice: one sym_mapping shared by both frames. */
	assert_ptr_equal(r->frames[3].mapping, r->frames[0].mapping);
	sym_result_free(r);

	symbolizer_get_stats(s, &st);
	assert_int_equal(st.frames_total, 4);
	assert_int_equal(st.failures[SYM_FAIL_NO_MAPPING], 1);
	assert_int_equal(st.failures[SYM_FAIL_NO_SYMBOL], 0);
	assert_int_equal(st.cache_objects, 2);
	assert_int_equal(st.cache_misses, 2);

	/* Second time round: all from the cache (each file opened, found by its fstat). */
	assert_int_equal(symbolizer_user(s, getpid(), maps, ips, 2, &r), 0);
	assert_string_equal(fn_name(&r->frames[0]), "stackd_test_marker");
	sym_result_free(r);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.cache_misses, 2);
	assert_true(st.cache_hits >= 2);

	/* Names only: the same names, no file or line, whatever DWARF there is. */
	assert_int_equal(symbolizer_user_names(s, getpid(), maps, ips, 2, &r), 0);
	assert_string_equal(fn_name(&r->frames[0]), "stackd_test_marker");
	assert_int_equal(r->frames[0].nr_lines, 1);
	assert_null(r->frames[0].lines[0].file);
	assert_int_equal(r->frames[0].lines[0].line, 0);
	sym_result_free(r);

	/* Priming loads every executable object (vdso and friends skipped). */
	assert_int_equal(symbolizer_prime(s, getpid(), maps), 0);
	symbolizer_get_stats(s, &st);
	assert_true(st.cache_objects >= 3); /* exe, libc, ld.so at least */
	assert_true(st.cache_bytes > 0);
	/* ...and records which file each maps (map_files here, as root). */
	for (i = 0; i < maps->nr; i++) {
		const struct procmap *m = &maps->maps[i];

		if (m->inode && m->path[0] == '/') {
			assert_true(m->has_file);
			assert_int_equal(m->file.ino, m->inode);
		}
	}

	/* An empty batch is fine too. */
	assert_int_equal(symbolizer_user(s, getpid(), maps, ips, 0, &r), 0);
	assert_int_equal(r->nr, 0);
	sym_result_free(r);
	sym_result_free(NULL);
	procmaps_free(maps);
	symbolizer_free(s);
	symbolizer_free(NULL);
}

/* A dlopen()ed shared object: ET_DYN at a random base, offset != vaddr. */
static void test_dlopen(void **state)
{
	struct symbolizer *s = NULL;
	struct procmaps *maps = NULL;
	struct sym_result *r = NULL;
	void *h, *alpha, *beta;
	uint64_t ips[2];

	(void)state;
	h = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	alpha = dlsym(h, "stackd_fx_alpha");
	beta = dlsym(h, "stackd_fx_beta_weak");
	assert_non_null(alpha);
	assert_non_null(beta);
	assert_int_equal(symbolizer_new(NULL, &s), 0);
	assert_int_equal(procmaps_read(NULL, getpid(), 0, &maps), 0);
	ips[0] = (uint64_t)(uintptr_t)alpha + 2;
	ips[1] = (uint64_t)(uintptr_t)beta + 4;
	assert_int_equal(symbolizer_user(s, getpid(), maps, ips, 2, &r), 0);
	assert_string_equal(fn_name(&r->frames[0]), "stackd_fx_alpha");
	assert_string_equal(fn_name(&r->frames[1]), "stackd_fx_beta");
	assert_string_equal(r->frames[0].mapping->path, so_path);
	assert_true(r->frames[0].mapping->start > 0);
	sym_result_free(r);
	procmaps_free(maps);
	symbolizer_free(s);
	dlclose(h);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/*
 * A fake /proc with one process whose root holds the PIE fixture at /bin/fx,
 * mapped at a made-up base. map_files does not exist there, so the
 * symbolizer falls back to root/<path>; after priming, the process is removed
 * and the frames must still resolve through the (dev, inode) index.
 */
static void test_fake_proc(void **state)
{
	struct symbolizer_opts opts = {0};
	struct symbolizer *s = NULL;
	struct procmaps *maps = NULL;
	struct sym_result *r = NULL;
	struct symbolizer_stats st;
	char root[700], gone[720], maps_text[1024];
	uint64_t alpha = nm_addr(pie_path, "stackd_fx_alpha");
	uint64_t local = nm_addr(pie_path, "stackd_fx_local");
	uint64_t off = 0, va = 0, filesz = 0, base = 0x555500000000ull, map_start, ips[5];
	int n;

	(void)state;
	readelf_load(pie_path, alpha, &off, &va, &filesz);
	snprintf(root, sizeof(root), "%s/proc", tmpdir);
	run("mkdir -p '%s/%d/root/bin' && cp '%s' '%s/%d/root/bin/fx'", root, FAKE_PID, pie_path,
	    root, FAKE_PID);
	run("printf 'garbage' > '%s/%d/root/bin/broken'", root, FAKE_PID);
	/* The text segment, page-aligned like the loader maps it. */
	map_start = base + (va & ~(uint64_t)0xfff);
	n = snprintf(maps_text, sizeof(maps_text),
		     "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " fe:01 777 /bin/fx\n"
		     "%" PRIx64 "-%" PRIx64 " r-xp 00000000 fe:01 778 /bin/broken\n"
		     "%" PRIx64 "-%" PRIx64 " r-xp 00000000 fe:01 779 /bin/missing\n",
		     map_start, base + ((va + filesz + 0xfff) & ~(uint64_t)0xfff),
		     off & ~(uint64_t)0xfff, base + 0x100000, base + 0x101000, base + 0x200000,
		     base + 0x201000);
	assert_int_equal(procmaps_parse(maps_text, (size_t)n, 0, &maps), 0);
	assert_int_equal(maps->nr, 3);

	opts.proc_root = root;
	assert_int_equal(symbolizer_new(&opts, &s), 0);
	assert_int_equal(symbolizer_prime(s, FAKE_PID, maps), 0);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.cache_objects, 1);

	/* The process exits: its /proc entry goes away. */
	snprintf(gone, sizeof(gone), "%s.gone", root);
	assert_int_equal(rename(root, gone), 0);
	assert_int_equal(symbolizer_prime(s, FAKE_PID, maps), -ESRCH);

	ips[0] = base + alpha + 1;
	ips[1] = base + local + 2;
	ips[2] = base + 0x100010;
	ips[3] = base + 0x200010;
	ips[4] = map_start + 1; /* first byte of the mapping: maybe no symbol, never a crash */
	assert_int_equal(symbolizer_user(s, FAKE_PID, maps, ips, 5, &r), 0);
	assert_string_equal(fn_name(&r->frames[0]), "stackd_fx_alpha");
	assert_string_equal(fn_name(&r->frames[1]), "stackd_fx_local");
	assert_string_equal(r->frames[0].mapping->path, "/bin/fx");
	assert_int_equal(r->frames[0].mapping->start, map_start);
	assert_int_equal(r->frames[0].mapping->offset, off & ~(uint64_t)0xfff);
	assert_int_equal(strlen(r->frames[0].mapping->build_id), 40);
	assert_int_equal(r->frames[2].nr_lines, 0);
	assert_string_equal(r->frames[2].mapping->path, "/bin/broken");
	assert_false(r->frames[2].mapping->has_functions);
	assert_string_equal(r->frames[2].mapping->build_id, "");
	assert_int_equal(r->frames[3].nr_lines, 0);
	sym_result_free(r);

	symbolizer_get_stats(s, &st);
	/*
	 * Prime parsed fx and broken (which failed, so nothing binds its inode);
	 * with the process gone, broken and missing cannot be opened.
	 */
	assert_int_equal(st.failures[SYM_FAIL_OPEN], 2);
	assert_int_equal(st.failures[SYM_FAIL_NO_MAPPING], 0);
	assert_int_equal(st.cache_misses, 2);
	symbolizer_free(s);
	procmaps_free(maps);
	assert_int_equal(rename(gone, root), 0);

	/* With the tree in place, the broken file is a BAD_ELF, parsed only once. */
	assert_int_equal(procmaps_parse(maps_text, (size_t)n, 0, &maps), 0);
	assert_int_equal(symbolizer_new(&opts, &s), 0);
	assert_int_equal(symbolizer_user(s, FAKE_PID, maps, ips + 2, 1, &r), 0);
	sym_result_free(r);
	assert_int_equal(symbolizer_user(s, FAKE_PID, maps, ips + 2, 1, &r), 0);
	sym_result_free(r);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.failures[SYM_FAIL_BAD_ELF], 2);
	assert_int_equal(st.cache_misses, 1);
	symbolizer_free(s);
	procmaps_free(maps);
}

/* A new ctime for @path (same content, size and mtime): what any rewrite costs a file. */
static void bump_ctime(const char *path, const struct stat *was)
{
	struct timespec times[2];
	struct stat now;
	int tries;

	times[0] = was->st_atim;
	times[1] = was->st_mtim;
	/* ctime has the clock's coarse granularity: retry until it has moved. */
	for (tries = 0; tries < 500; tries++) {
		assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
		assert_int_equal(stat(path, &now), 0);
		if (now.st_ctim.tv_sec != was->st_ctim.tv_sec ||
		    now.st_ctim.tv_nsec != was->st_ctim.tv_nsec)
			return;
		usleep(2000);
	}
	fail_msg("ctime of %s did not move", path);
}

static void copy_over(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_TRUNC);

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/*
 * Inode reuse: two different binaries shown by maps with the same (device,
 * inode), as a fresh tmpfs shows a new file after a gone one. Each snapshot
 * gets its own file's names: the second is not given the first's cached
 * symbols, and the first (its process exited) keeps its own. Here B is
 * written over A in place (same inode, same size, mtime set back to A's):
 * only ctime, which no process can set back, tells them apart. An
 * unchanged file is never parsed twice.
 */
static void test_inode_reuse(void **state)
{
	struct symbolizer_opts opts = {0};
	struct symbolizer *s = NULL;
	struct procmaps *maps_a = NULL, *maps_b = NULL, *maps_b2 = NULL;
	struct sym_result *r = NULL;
	struct symbolizer_stats st;
	struct stat sa, sb;
	char root[700], fx[760], gone[720], maps_text[512];
	uint64_t alpha = nm_addr(pie_path, "stackd_fx_alpha");
	uint64_t off = 0, va = 0, filesz = 0, base = 0x555500000000ull, ips[2];
	int n;

	(void)state;
	/* The fixture builds B with names of the same lengths: one layout, one maps line. */
	assert_int_equal(nm_addr(pie_b_path, "stackd_fx_omega"), alpha);
	assert_int_equal(nm_addr(pie_b_path, "stackd_fx_lokal"),
			 nm_addr(pie_path, "stackd_fx_local"));
	readelf_load(pie_path, alpha, &off, &va, &filesz);
	snprintf(root, sizeof(root), "%s/proc_reuse", tmpdir);
	snprintf(fx, sizeof(fx), "%s/%d/root/bin/fx", root, FAKE_PID);
	run("mkdir -p '%s/%d/root/bin' && cp '%s' '%s'", root, FAKE_PID, pie_path, fx);
	n = snprintf(maps_text, sizeof(maps_text),
		     "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " 00:2a 2 /bin/fx\n",
		     base + (va & ~(uint64_t)0xfff),
		     base + ((va + filesz + 0xfff) & ~(uint64_t)0xfff), off & ~(uint64_t)0xfff);
	ips[0] = base + alpha + 1;
	ips[1] = base + nm_addr(pie_path, "stackd_fx_local") + 1;

	opts.proc_root = root;
	opts.no_dwarf = true;
	assert_int_equal(symbolizer_new(&opts, &s), 0);
	assert_int_equal(procmaps_parse(maps_text, (size_t)n, 0, &maps_a), 0);
	assert_int_equal(symbolizer_prime(s, FAKE_PID, maps_a), 0);
	assert_true(maps_a->maps[0].has_file);
	assert_int_equal(symbolizer_user(s, FAKE_PID, maps_a, ips, 2, &r), 0);
	assert_string_equal(fn_name(&r->frames[0]), "stackd_fx_alpha");
	assert_string_equal(fn_name(&r->frames[1]), "stackd_fx_local");
	sym_result_free(r);

	/* A is gone; B takes its place with the same (device, inode), size and mtime. */
	assert_int_equal(stat(fx, &sa), 0);
	copy_over(pie_b_path, fx);
	bump_ctime(fx, &sa);
	assert_int_equal(stat(fx, &sb), 0);
	assert_int_equal(sb.st_ino, sa.st_ino);
	assert_int_equal(sb.st_mtim.tv_nsec, sa.st_mtim.tv_nsec);
	if (sb.st_size != sa.st_size)
		print_message("note: B's size %lld differs from A's %lld\n", (long long)sb.st_size,
			      (long long)sa.st_size);

	assert_int_equal(procmaps_parse(maps_text, (size_t)n, 0, &maps_b), 0);
	assert_int_equal(symbolizer_prime(s, FAKE_PID, maps_b), 0);
	assert_int_equal(symbolizer_user(s, FAKE_PID, maps_b, ips, 2, &r), 0);
	assert_string_equal(fn_name(&r->frames[0]), "stackd_fx_omega");
	assert_string_equal(fn_name(&r->frames[1]), "stackd_fx_lokal");
	sym_result_free(r);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.cache_misses, 2);
	assert_int_equal(st.cache_objects, 2);

	/* A new snapshot of the unchanged B: a hit, no parse. */
	assert_int_equal(procmaps_parse(maps_text, (size_t)n, 0, &maps_b2), 0);
	assert_int_equal(symbolizer_prime(s, FAKE_PID, maps_b2), 0);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.cache_misses, 2);

	/* Both processes exit: each snapshot keeps naming its own file. */
	snprintf(gone, sizeof(gone), "%s.gone", root);
	assert_int_equal(rename(root, gone), 0);
	assert_int_equal(symbolizer_user(s, FAKE_PID, maps_a, ips, 2, &r), 0);
	assert_string_equal(fn_name(&r->frames[0]), "stackd_fx_alpha");
	sym_result_free(r);
	assert_int_equal(symbolizer_user(s, FAKE_PID, maps_b2, ips, 2, &r), 0);
	assert_string_equal(fn_name(&r->frames[0]), "stackd_fx_omega");
	sym_result_free(r);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.cache_misses, 2);
	assert_int_equal(st.failures[SYM_FAIL_OPEN], 0);
	assert_int_equal(rename(gone, root), 0);
	procmaps_free(maps_a);
	procmaps_free(maps_b);
	procmaps_free(maps_b2);
	symbolizer_free(s);
}

/*
 * The same pid, later, maps another file at the same range (pid reuse, or
 * a remap): a snapshot primed on the first file never takes the second's
 * names, even when its object was evicted and the file is opened again.
 */
static void test_range_remapped(void **state)
{
	struct symbolizer_opts opts = {0};
	struct symbolizer *s = NULL;
	struct procmaps *maps = NULL;
	struct sym_result *r = NULL;
	struct symbolizer_stats st;
	char root[700], fx[760], maps_text[512];
	uint64_t alpha = nm_addr(pie_path, "stackd_fx_alpha");
	uint64_t off = 0, va = 0, filesz = 0, base = 0x555500000000ull, ip;
	int n;

	(void)state;
	readelf_load(pie_path, alpha, &off, &va, &filesz);
	snprintf(root, sizeof(root), "%s/proc_remap", tmpdir);
	snprintf(fx, sizeof(fx), "%s/%d/root/bin/fx", root, FAKE_PID);
	run("mkdir -p '%s/%d/root/bin' && cp '%s' '%s'", root, FAKE_PID, pie_path, fx);
	n = snprintf(maps_text, sizeof(maps_text),
		     "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " 00:2a 2 /bin/fx\n",
		     base + (va & ~(uint64_t)0xfff),
		     base + ((va + filesz + 0xfff) & ~(uint64_t)0xfff), off & ~(uint64_t)0xfff);
	ip = base + alpha + 1;
	/* A budget too small to keep anything: every lookup opens the file again. */
	opts.proc_root = root;
	opts.cache_max_bytes = 1;
	opts.no_dwarf = true;
	assert_int_equal(symbolizer_new(&opts, &s), 0);
	assert_int_equal(procmaps_parse(maps_text, (size_t)n, 0, &maps), 0);
	assert_int_equal(symbolizer_prime(s, FAKE_PID, maps), 0);
	assert_true(maps->maps[0].has_file);
	run("cp '%s' '%s.new' && mv '%s.new' '%s'", pie_b_path, fx, fx, fx);
	assert_int_equal(symbolizer_user(s, FAKE_PID, maps, &ip, 1, &r), 0);
	assert_int_equal(r->frames[0].nr_lines, 0);
	sym_result_free(r);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.failures[SYM_FAIL_OPEN], 1);
	/* Priming the old snapshot again does not rebind it to the new file either. */
	assert_int_equal(symbolizer_prime(s, FAKE_PID, maps), 0);
	assert_int_equal(symbolizer_user(s, FAKE_PID, maps, &ip, 1, &r), 0);
	assert_int_equal(r->frames[0].nr_lines, 0);
	sym_result_free(r);
	procmaps_free(maps);
	symbolizer_free(s);
}

/*
 * One binary touched over and over: every ctime is a new identity, all
 * bound to the one object (same build id and content), at most 64 of them.
 */
static void test_alias_cap(void **state)
{
	struct symbolizer_opts opts = {.no_dwarf = true};
	struct symbolizer *s = NULL;
	struct procmaps *maps = NULL;
	struct symbolizer_stats st;
	struct stat was;
	char root[700], fx[760];
	static const char text[] = "555500000000-555500001000 r-xp 00000000 00:2a 2 /bin/fx\n";
	int i;

	(void)state;
	snprintf(root, sizeof(root), "%s/proc_cap", tmpdir);
	snprintf(fx, sizeof(fx), "%s/%d/root/bin/fx", root, FAKE_PID);
	run("mkdir -p '%s/%d/root/bin' && cp '%s' '%s'", root, FAKE_PID, pie_path, fx);
	opts.proc_root = root;
	assert_int_equal(symbolizer_new(&opts, &s), 0);
	for (i = 0; i < 70; i++) {
		assert_int_equal(stat(fx, &was), 0);
		bump_ctime(fx, &was);
		assert_int_equal(procmaps_parse(text, sizeof(text) - 1, 0, &maps), 0);
		assert_int_equal(symbolizer_prime(s, FAKE_PID, maps), 0);
		procmaps_free(maps);
	}
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.cache_objects, 1);
	assert_int_equal(st.cache_misses, 70);
	assert_int_equal(st.cache_alias_drops, 70 - 64);
	symbolizer_free(s);
}

static void test_kernel(void **state)
{
	static const char ksyms[] = "ffffffff81000000 T _stext\n"
				    "ffffffff81000100 T do_work\n"
				    "ffffffff81000200 d some_data\n"
				    "ffffffffc0001000 t mod_fn\t[my_mod]\n";
	struct symbolizer_opts opts = {0};
	struct symbolizer *s = NULL;
	struct sym_result *r = NULL;
	struct symbolizer_stats st;
	char path[700];
	uint64_t ips[4] = {0xffffffff81000105ull, 0xffffffffc0001010ull, 0xffffffff81000100ull,
			   0x1000};

	(void)state;
	snprintf(path, sizeof(path), "%s/kallsyms", tmpdir);
	write_file(path, ksyms, sizeof(ksyms) - 1);
	opts.kallsyms_path = path;
	opts.proc_root = tmpdir; /* no "modules" there: never reloads, fine */
	assert_int_equal(symbolizer_new(&opts, &s), 0);
	assert_int_equal(symbolizer_kernel(s, ips, 4, &r), 0);
	assert_int_equal(r->nr, 4);
	assert_string_equal(fn_name(&r->frames[0]), "do_work");
	assert_string_equal(fn_name(&r->frames[1]), "mod_fn");
	/* A return address at a symbol's start belongs to the previous one. */
	assert_string_equal(fn_name(&r->frames[2]), "_stext");
	assert_int_equal(r->frames[3].nr_lines, 0);
	assert_string_equal(r->frames[0].mapping->path, "[kernel.kallsyms]");
	assert_string_equal(r->frames[0].mapping->build_id, "");
	assert_int_equal(r->frames[0].mapping->start, 0xffffffff81000000ull);
	assert_int_equal(r->frames[0].mapping->limit, UINT64_MAX);
	assert_ptr_equal(r->frames[1].mapping, r->frames[0].mapping);
	assert_int_equal(r->frames[0].addr, ips[0]);
	sym_result_free(r);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.failures[SYM_FAIL_KERNEL], 1);
	symbolizer_free(s);

	/* kallsyms unavailable: every frame fails, nothing else does. */
	opts.kallsyms_path = "/nonexistent/kallsyms";
	assert_int_equal(symbolizer_new(&opts, &s), 0);
	assert_int_equal(symbolizer_kernel(s, ips, 2, &r), 0);
	assert_int_equal(r->frames[0].nr_lines, 0);
	assert_false(r->frames[0].mapping->has_functions);
	sym_result_free(r);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.failures[SYM_FAIL_KERNEL], 2);
	assert_string_equal(sym_fail_reason_name(SYM_FAIL_KERNEL), "kernel");
	assert_string_equal(sym_fail_reason_name(SYM_FAIL__MAX), "unknown");
	symbolizer_free(s);
}

/* The real kallsyms when addresses are visible: schedule must resolve. */
static void test_kernel_real(void **state)
{
	char line[1024], sym[600], type;
	uint64_t addr, sched = 0;
	struct symbolizer *s = NULL;
	struct sym_result *r = NULL;
	FILE *f = fopen("/proc/kallsyms", "r");

	(void)state;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%" SCNx64 " %c %599s", &addr, &type, sym) == 3 &&
		    !strcmp(sym, "schedule")) {
			sched = addr;
			break;
		}
	if (f)
		fclose(f);
	if (!sched)
		skip_or_fail("/proc/kallsyms hides addresses here (not root, or kptr_restrict)");
	assert_int_equal(symbolizer_new(NULL, &s), 0);
	addr = sched + 1;
	assert_int_equal(symbolizer_kernel(s, &addr, 1, &r), 0);
	assert_string_equal(fn_name(&r->frames[0]), "schedule");
	sym_result_free(r);
	symbolizer_free(s);
}

/* A one-byte budget: nothing stays cached, results stay valid, evictions are counted. */
static void test_budget(void **state)
{
	struct symbolizer_opts opts = {.cache_max_bytes = 1};
	struct symbolizer *s = NULL;
	struct procmaps *maps = NULL;
	struct sym_result *r1 = NULL, *r2 = NULL;
	struct symbolizer_stats st;
	uint64_t ips[2];

	(void)state;
	ips[0] = (uint64_t)(uintptr_t)&stackd_test_marker + 1;
	ips[1] = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "getpid") + 1;
	assert_int_equal(procmaps_read(NULL, getpid(), PROCMAPS_EXEC_ONLY, &maps), 0);
	assert_int_equal(symbolizer_new(&opts, &s), 0);
	assert_int_equal(symbolizer_user(s, getpid(), maps, ips, 2, &r1), 0);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.cache_objects, 0);
	assert_int_equal(st.cache_bytes, 0);
	assert_int_equal(st.cache_evictions, 2);
	assert_int_equal(symbolizer_user(s, getpid(), maps, ips, 2, &r2), 0);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.cache_misses, 4);
	assert_int_equal(st.cache_evictions, 4);
	/* The first result outlived the objects it came from. */
	assert_string_equal(fn_name(&r1->frames[0]), "stackd_test_marker");
	assert_string_equal(fn_name(&r2->frames[0]), "stackd_test_marker");
	assert_string_equal(r1->frames[1].mapping->path, r2->frames[1].mapping->path);
	sym_result_free(r1);
	sym_result_free(r2);

	/* Prime under the tiny budget: loads and evicts, never fails. */
	assert_int_equal(symbolizer_prime(s, getpid(), maps), 0);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.cache_objects, 0);
	symbolizer_free(s);
	procmaps_free(maps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_self),	cmocka_unit_test(test_dlopen),
	    cmocka_unit_test(test_fake_proc),	cmocka_unit_test(test_kernel),
	    cmocka_unit_test(test_kernel_real), cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_inode_reuse), cmocka_unit_test(test_range_remapped),
	    cmocka_unit_test(test_alias_cap),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
