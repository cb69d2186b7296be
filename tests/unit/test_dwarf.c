// SPDX-License-Identifier: Apache-2.0
/*
 * DWARF lines and inline chains (dwarf.c), separate debug files
 * (debuginfo.c) and their use by symbolizer_file():
 *  - a fixture with always_inline calls three deep, built now with $CC and
 *    clang, DWARF 4 and 5, -O2: names, file basenames and exact lines at
 *    every inline level (lines found by the MARK_* comments), and the whole
 *    function compared with llvm-symbolizer;
 *  - the debug file by build id (stripped binary, debug dir in a temp dir),
 *    by .gnu_debuglink, and a debuglink whose CRC does not match;
 *  - libc with libc6-dbg (DWARF 5, and the file-index bug of libdwarf
 *    20210528 that this module works around);
 *  - truncated and corrupt DWARF: counted, the symbol table still answers;
 *  - lazy DWARF in the cache (nothing loaded before the first line lookup,
 *    the fd held until then, the fd cap), and mapped sections;
 *  - memory bombs (tests/fixtures/elfbomb.py: a .symtab claiming 256 MiB, zlib
 *    sections inflating to 256 MiB each) refused by the per-object budget
 *    before anything is allocated, remembered, counted;
 *  - two files with one build id and different symbols: each keeps its own.
 * Under CI=true missing tools (clang, llvm-symbolizer, libc6-dbg) fail.
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ci.h"

#include "debuginfo.h"
#include "dwarf.h"
#include "symcache.h"
#include "symbolize/symbolizer.h"

#define MAX_ADDRS 4096

static char tmpdir[512];
static const char *fixture = STACKD_DWARF_FIXTURES "/inl.c";
static const char *elfbomb = STACKD_DWARF_FIXTURES "/../../fixtures/elfbomb.py";

static int run_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

#define RUN(...)                                                                                   \
	do {                                                                                       \
		if (run_sh(__VA_ARGS__)) {                                                         \
			fprintf(stderr, "command failed\n");                                       \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

static bool have(const char *tool)
{
	return !run_sh("command -v %s >/dev/null 2>&1", tool);
}

/* Whether a tool is there; a missing one fails under CI=true, where every tool must be. */
static bool need(const char *tool)
{
	if (have(tool))
		return true;
	if (unit_in_ci())
		fail_msg("%s is required under CI=true", tool);
	fprintf(stderr, "skipping: %s not installed\n", tool);
	return false;
}

/* Line number of the fixture line containing @marker. */
static uint32_t marker_line(const char *marker)
{
	char buf[512];
	uint32_t n = 0;
	FILE *f = fopen(fixture, "r");

	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		n++;
		if (strstr(buf, marker)) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	fail_msg("marker %s not in fixture", marker);
	return 0;
}

/* Start and size of @sym per nm -S. */
static void nm_sym(const char *file, const char *sym, uint64_t *start, uint64_t *size)
{
	char cmd[1024], buf[512];
	FILE *p;
	bool found = false;

	snprintf(cmd, sizeof(cmd), "nm -S '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(buf, sizeof(buf), p)) {
		char name[256], type;
		uint64_t a, s;

		if (sscanf(buf, "%" SCNx64 " %" SCNx64 " %c %255s", &a, &s, &type, name) == 4 &&
		    !strcmp(name, sym)) {
			*start = a;
			*size = s;
			found = true;
		}
	}
	pclose(p);
	assert_true(found);
}

static const char *base(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path;
}

static struct symbolizer *new_sym(const char *const *dirs, bool no_dwarf)
{
	struct symbolizer_opts o = {.debug_dirs = dirs, .no_dwarf = no_dwarf};
	struct symbolizer *s = NULL;

	assert_int_equal(symbolizer_new(&o, &s), 0);
	return s;
}

static int setup(void **state)
{
	const char *tmp = getenv("STACKD_TEST_TMP");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/dwarf.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	run_sh("rm -rf '%s'", tmpdir);
	return 0;
}

static const char *cc(void)
{
	const char *c = getenv("CC");

	return c && *c ? c : "cc";
}

/* Build the fixture with @compiler and DWARF @ver into tmpdir/@name. */
static void build(const char *compiler, int ver, const char *name, char *out, size_t out_sz)
{
	snprintf(out, out_sz, "%s/%s", tmpdir, name);
	RUN("%s -O2 -g -gdwarf-%d -Wl,--build-id=sha1 -o '%s' '%s'", compiler, ver, out, fixture);
}

/*
 * Every address of stackd_dw_outer: where the chain is four deep it must be
 * leaf_inl < mid_inl < top_inl < stackd_dw_outer with the marked lines; at
 * least one address must have the leaf's first line exactly.
 */
/* @symfile: where nm finds the function (the debug file when @bin is stripped). */
static void check_chains(struct symbolizer *s, const char *bin, const char *symfile)
{
	uint32_t l_leaf = marker_line("MARK_LEAF */"), l_leaf_ret = marker_line("MARK_LEAF_RET");
	uint32_t l_mid = marker_line("MARK_MID_CALL"), l_top = marker_line("MARK_TOP_CALL");
	uint32_t l_outer = marker_line("MARK_OUTER_CALL");
	static const char *const names[] = {"leaf_inl", "mid_inl", "top_inl", "stackd_dw_outer"};
	struct sym_result *r = NULL;
	uint64_t start, size, i, *addrs;
	size_t deep = 0, exact = 0, k;

	nm_sym(symfile, "stackd_dw_outer", &start, &size);
	assert_true(size > 0 && size < MAX_ADDRS);
	addrs = calloc(size, sizeof(*addrs));
	assert_non_null(addrs);
	for (i = 0; i < size; i++)
		addrs[i] = start + i;
	assert_int_equal(symbolizer_file(s, bin, addrs, size, &r), 0);
	for (i = 0; i < size; i++) {
		const struct sym_frame *f = &r->frames[i];

		assert_true(f->nr_lines >= 1);
		assert_null(f->mapping);
		assert_string_equal(f->lines[f->nr_lines - 1].function, "stackd_dw_outer");
		for (k = 0; k < f->nr_lines; k++)
			assert_string_equal(base(f->lines[k].file), "inl.c");
		if (f->nr_lines != 4)
			continue;
		deep++;
		for (k = 0; k < 4; k++)
			assert_string_equal(f->lines[k].function, names[k]);
		assert_true(f->lines[0].line == l_leaf || f->lines[0].line == l_leaf_ret);
		assert_int_equal(f->lines[1].line, l_mid);
		assert_int_equal(f->lines[2].line, l_top);
		assert_int_equal(f->lines[3].line, l_outer);
		exact += f->lines[0].line == l_leaf;
	}
	assert_true(deep > 0);
	assert_true(exact > 0);
	sym_result_free(r);
	free(addrs);
}

/*
 * Compare with llvm-symbolizer at @nr addresses from @start: same depth,
 * function, file basename and line at every level.
 */
static void compare_llvm(struct symbolizer *s, const char *bin, const char *dwarf_file,
			 uint64_t start, uint64_t nr)
{
	char cmd[2048], buf[4096], out[600];
	struct sym_result *r = NULL;
	uint64_t *addrs, i;
	size_t agree = 0;
	FILE *f, *p;

	snprintf(out, sizeof(out), "%s/addrs.txt", tmpdir);
	addrs = calloc(nr, sizeof(*addrs));
	assert_non_null(addrs);
	f = fopen(out, "w");
	assert_non_null(f);
	for (i = 0; i < nr; i++) {
		addrs[i] = start + i;
		fprintf(f, "0x%" PRIx64 "\n", addrs[i]);
	}
	fclose(f);
	assert_int_equal(symbolizer_file(s, bin, addrs, nr, &r), 0);
	snprintf(cmd, sizeof(cmd),
		 "llvm-symbolizer --obj='%s' --inlining --functions=linkage --no-demangle < '%s'",
		 dwarf_file, out);
	p = popen(cmd, "r");
	assert_non_null(p);
	for (i = 0; i < nr; i++) {
		const struct sym_frame *fr = &r->frames[i];
		size_t k = 0;
		bool ok = true;

		/* Records: (function, file:line:col) pairs, then an empty line. */
		while (fgets(buf, sizeof(buf), p) && buf[0] != '\n') {
			char loc[4096], *colon;
			unsigned long line = 0;

			buf[strcspn(buf, "\n")] = '\0';
			if (!fgets(loc, sizeof(loc), p))
				break;
			loc[strcspn(loc, "\n")] = '\0';
			colon = strchr(loc, ':');
			if (colon) {
				*colon = '\0';
				line = strtoul(colon + 1, NULL, 10);
			}
			if (k >= fr->nr_lines) {
				ok = false;
				k++;
				continue;
			}
			/* The outermost name may be another alias of the same address. */
			if (k + 1 < fr->nr_lines && strcmp(buf, fr->lines[k].system_name))
				ok = false;
			if (strcmp(loc, "??") &&
			    (!fr->lines[k].file || strcmp(base(loc), base(fr->lines[k].file))))
				ok = false;
			if (line != fr->lines[k].line)
				ok = false;
			k++;
		}
		if (k != fr->nr_lines)
			ok = false;
		agree += ok;
		if (!ok)
			fprintf(stderr, "disagree at 0x%" PRIx64 "\n", addrs[i]);
	}
	pclose(p);
	/* The production target is 99.5%; a handful of addresses here must all agree. */
	assert_int_equal(agree, nr);
	sym_result_free(r);
	free(addrs);
}

static void one_build(const char *compiler, int ver)
{
	const char *const dirs[] = {tmpdir, NULL}; /* nothing there: no host debug files */
	struct symbolizer *s = new_sym(dirs, false);
	struct sym_result *r = NULL;
	char bin[700], name[64];
	uint64_t start, size;

	snprintf(name, sizeof(name), "inl_%s_%d", base(compiler), ver);
	build(compiler, ver, name, bin, sizeof(bin));
	check_chains(s, bin, bin);
	if (need("llvm-symbolizer")) {
		nm_sym(bin, "stackd_dw_outer", &start, &size);
		compare_llvm(s, bin, bin, start, size);
		nm_sym(bin, "main", &start, &size);
		compare_llvm(s, bin, bin, start, size);
	}
	symbolizer_free(s);

	/* no_dwarf: the symbol table only. */
	s = new_sym(dirs, true);
	nm_sym(bin, "stackd_dw_outer", &start, &size);
	assert_int_equal(symbolizer_file(s, bin, &start, 1, &r), 0);
	assert_int_equal(r->frames[0].nr_lines, 1);
	assert_string_equal(r->frames[0].lines[0].function, "stackd_dw_outer");
	assert_null(r->frames[0].lines[0].file);
	sym_result_free(r);
	symbolizer_free(s);
}

static void test_cc_dwarf4(void **state)
{
	(void)state;
	one_build(cc(), 4);
}

static void test_cc_dwarf5(void **state)
{
	(void)state;
	one_build(cc(), 5);
}

static void test_clang(void **state)
{
	(void)state;
	if (!need("clang"))
		skip();
	one_build("clang", 4);
	one_build("clang", 5);
}

/* Read the GNU build id of @bin with readelf (a second opinion on ours). */
static void build_id_of(const char *bin, char *out, size_t out_sz)
{
	char cmd[1024];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | awk '/Build ID/ {print $3}'", bin);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)out_sz, p));
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
	assert_true(strlen(out) > 2);
}

static void test_debug_file_build_id(void **state)
{
	char bin[700], dbg[1024], dir[700], id[160];
	const char *dirs[] = {dir, NULL};
	struct symbolizer *s;

	(void)state;
	build(cc(), 5, "bid", bin, sizeof(bin));
	build_id_of(bin, id, sizeof(id));
	snprintf(dir, sizeof(dir), "%s/debug-bid", tmpdir);
	snprintf(dbg, sizeof(dbg), "%s/.build-id/%.2s/%s.debug", dir, id, id + 2);
	RUN("mkdir -p \"$(dirname '%s')\" && objcopy --only-keep-debug '%s' '%s' && "
	    "strip --strip-all '%s'",
	    dbg, bin, dbg, bin);
	/* The stripped binary has neither DWARF nor .symtab: both come from the debug file. */
	s = new_sym(dirs, false);
	check_chains(s, bin, dbg);
	symbolizer_free(s);
}

static void test_debug_file_debuglink(void **state)
{
	char bin[700], bin2[700], dbg[700], other[700];
	const char *dirs[] = {tmpdir, NULL};
	struct symbolizer_stats st;
	struct symbolizer *s;
	struct sym_result *r = NULL;
	uint64_t start, size;

	(void)state;
	/* No build id: only the debuglink can find the debug file. */
	snprintf(bin, sizeof(bin), "%s/dl/prog", tmpdir);
	snprintf(dbg, sizeof(dbg), "%s/dl/prog.debug", tmpdir);
	RUN("mkdir -p '%s/dl' && %s -O2 -g -Wl,--build-id=none -o '%s' '%s'", tmpdir, cc(), bin,
	    fixture);
	RUN("cd '%s/dl' && objcopy --only-keep-debug prog prog.debug && strip -g prog && "
	    "objcopy --add-gnu-debuglink=prog.debug prog",
	    tmpdir);
	s = new_sym(dirs, false);
	check_chains(s, bin, bin);
	symbolizer_free(s);

	/* In the .debug/ subdirectory works too. */
	RUN("mkdir -p '%s/dl/.debug' && mv '%s' '%s/dl/.debug/'", tmpdir, dbg, tmpdir);
	s = new_sym(dirs, false);
	check_chains(s, bin, bin);
	symbolizer_free(s);

	/* A debug file whose CRC does not match the link is not used. */
	snprintf(bin2, sizeof(bin2), "%s/dl2/prog", tmpdir);
	snprintf(other, sizeof(other), "%s/dl2/prog.debug", tmpdir);
	RUN("mkdir -p '%s/dl2' && cp '%s' '%s' && cp '%s/dl/.debug/prog.debug' '%s' && "
	    "printf x >> '%s'",
	    tmpdir, bin, bin2, tmpdir, other, other);
	s = new_sym(dirs, false);
	nm_sym(bin2, "stackd_dw_outer", &start, &size);
	assert_int_equal(symbolizer_file(s, bin2, &start, 1, &r), 0);
	assert_int_equal(r->frames[0].nr_lines, 1);
	assert_string_equal(r->frames[0].lines[0].function, "stackd_dw_outer");
	assert_null(r->frames[0].lines[0].file);
	sym_result_free(r);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.failures[SYM_FAIL_BAD_DWARF], 0); /* no DWARF is not bad DWARF */
	symbolizer_free(s);
}

static void test_libc(void **state)
{
	const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
	char id[160], dbg[700];
	struct symbolizer *s;
	struct sym_result *r = NULL;
	uint64_t start, size, addr;
	const struct sym_line *l;

	(void)state;
	build_id_of(libc, id, sizeof(id));
	snprintf(dbg, sizeof(dbg), "/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
	if (access(dbg, R_OK)) {
		skip_or_fail("libc6-dbg not installed (%s)", dbg);
	}
	s = new_sym(NULL, false);
	/*
	 * __libc_start_call_main lives in libc_start_call_main.h, included by
	 * libc-start.c: libdwarf 20210528 (and addr2line) say libc-start.c.
	 */
	nm_sym(dbg, "__libc_start_call_main", &start, &size);
	addr = start + size / 2;
	assert_int_equal(symbolizer_file(s, libc, &addr, 1, &r), 0);
	assert_true(r->frames[0].nr_lines >= 1);
	l = &r->frames[0].lines[r->frames[0].nr_lines - 1];
	assert_string_equal(l->function, "__libc_start_call_main");
	assert_string_equal(base(r->frames[0].lines[0].file), "libc_start_call_main.h");
	assert_true(r->frames[0].lines[0].line > 0);
	sym_result_free(r);

	nm_sym(dbg, "qsort_r", &start, &size);
	addr = start + size / 3;
	assert_int_equal(symbolizer_file(s, libc, &addr, 1, &r), 0);
	assert_true(r->frames[0].nr_lines >= 1);
	assert_non_null(r->frames[0].lines[0].file);
	assert_true(r->frames[0].lines[0].line > 0);
	sym_result_free(r);

	if (need("llvm-symbolizer")) {
		nm_sym(dbg, "__libc_start_call_main", &start, &size);
		compare_llvm(s, libc, dbg, start, size);
		nm_sym(dbg, "qsort_r", &start, &size);
		compare_llvm(s, libc, dbg, start, size < 512 ? size : 512);
	}
	symbolizer_free(s);
}

/* File offset of section @name's header fields we edit. */
static void find_section(const char *file, const char *name, uint64_t *shdr_off, Elf64_Shdr *out)
{
	Elf64_Ehdr eh;
	Elf64_Shdr strsh, sh;
	char nm[64];
	int fd = open(file, O_RDONLY);
	unsigned i;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &eh, sizeof(eh), 0), sizeof(eh));
	assert_int_equal(pread(fd, &strsh, sizeof(strsh),
			       (off_t)(eh.e_shoff + eh.e_shstrndx * sizeof(Elf64_Shdr))),
			 sizeof(strsh));
	for (i = 0; i < eh.e_shnum; i++) {
		off_t off = (off_t)(eh.e_shoff + i * sizeof(Elf64_Shdr));

		assert_int_equal(pread(fd, &sh, sizeof(sh), off), sizeof(sh));
		memset(nm, 0, sizeof(nm));
		if (pread(fd, nm, sizeof(nm) - 1, (off_t)(strsh.sh_offset + sh.sh_name)) <= 0)
			continue;
		if (!strcmp(nm, name)) {
			*shdr_off = (uint64_t)off;
			*out = sh;
			close(fd);
			return;
		}
	}
	close(fd);
	fail_msg("%s has no %s", file, name);
}

static void patch(const char *file, uint64_t off, const void *data, size_t len)
{
	int fd = open(file, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Symbolize stackd_dw_outer of @bin: the name is there, a bad_dwarf failure is counted. */
static void expect_bad_dwarf(const char *bin)
{
	const char *const dirs[] = {tmpdir, NULL};
	struct symbolizer *s = new_sym(dirs, false);
	struct symbolizer_stats st;
	struct sym_result *r = NULL;
	uint64_t start, size;

	nm_sym(bin, "stackd_dw_outer", &start, &size);
	assert_int_equal(symbolizer_file(s, bin, &start, 1, &r), 0);
	assert_true(r->frames[0].nr_lines >= 1);
	assert_string_equal(r->frames[0].lines[r->frames[0].nr_lines - 1].function,
			    "stackd_dw_outer");
	sym_result_free(r);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.failures[SYM_FAIL_BAD_DWARF], 1);
	assert_int_equal(st.failures[SYM_FAIL_NO_SYMBOL], 0);
	symbolizer_free(s);
}

static void test_hostile(void **state)
{
	char good[700], bad[800];
	uint64_t off;
	Elf64_Shdr sh;
	uint16_t ver = 0x7777;
	unsigned char junk[64];
	struct dwsym *d = NULL;
	int v;

	(void)state;
	for (v = 4; v <= 5; v++) {
		char name[32];

		snprintf(name, sizeof(name), "hostile%d", v);
		build(cc(), v, name, good, sizeof(good));

		/* .debug_info cut in half: its CU runs past the end. */
		snprintf(bad, sizeof(bad), "%s.info", good);
		RUN("cp '%s' '%s'", good, bad);
		find_section(bad, ".debug_info", &off, &sh);
		sh.sh_size /= 2;
		patch(bad, off, &sh, sizeof(sh));
		expect_bad_dwarf(bad);

		/* A line table of an unknown version. */
		snprintf(bad, sizeof(bad), "%s.line", good);
		RUN("cp '%s' '%s'", good, bad);
		find_section(bad, ".debug_line", &off, &sh);
		patch(bad, sh.sh_offset + 4, &ver, sizeof(ver));
		expect_bad_dwarf(bad);

		/* .debug_abbrev overwritten with junk. */
		snprintf(bad, sizeof(bad), "%s.abbrev", good);
		RUN("cp '%s' '%s'", good, bad);
		find_section(bad, ".debug_abbrev", &off, &sh);
		memset(junk, 0xff, sizeof(junk));
		patch(bad, sh.sh_offset, junk,
		      sh.sh_size < sizeof(junk) ? sh.sh_size : sizeof(junk));
		expect_bad_dwarf(bad);
	}

	/* Not ELF at all, and an empty image. */
	memset(junk, 0x41, sizeof(junk));
	assert_int_equal(dwsym_open_mem(junk, sizeof(junk), &d), -ENOEXEC);
	assert_null(d);
	assert_int_equal(dwsym_open_mem(junk, 0, &d), -ENOEXEC);
	dwsym_free(NULL);
}

static struct symcache_obj *cache_open(struct symcache *c, const char *path)
{
	struct symcache_src src = {.path = path};
	struct symcache_obj *o = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(symcache_get_fd_src(c, fd, NULL, &src, &o), 0);
	close(fd);
	return o;
}

/* The physical frame of @vaddr's DWARF chain is stackd_dw_outer. */
static void expect_outer(struct symcache *c, struct symcache_obj *o, uint64_t vaddr)
{
	struct dwsym_frame fr[DWSYM_MAX_INLINE];
	int n = symcache_obj_dwarf(c, o, vaddr, fr, DWSYM_MAX_INLINE);

	assert_true(n >= 1);
	assert_string_equal(fr[n - 1].name, "stackd_dw_outer");
	assert_string_equal(base(fr[n - 1].file), "inl.c");
}

/*
 * Priming (symcache_get_fd_src) and symbol lookups load no DWARF; the first
 * DWARF lookup does, from the fd held since priming, and is charged to the
 * budget. Past the fd cap the coldest holder loses its DWARF until restored.
 */
static void test_lazy(void **state)
{
	const char *const dirs[] = {tmpdir, NULL};
	char bin[700], bin2[700], bin3[700];
	struct symcache_obj *o, *o2, *o3;
	struct dwsym_frame fr[DWSYM_MAX_INLINE];
	struct symcache_stats st, st2;
	struct symcache *c = NULL;
	uint64_t start, size, start2, start3;
	const char *name;
	int fd;

	(void)state;
	build(cc(), 5, "lazy1", bin, sizeof(bin));
	build(cc(), 4, "lazy2", bin2, sizeof(bin2));
	snprintf(bin3, sizeof(bin3), "%s/lazy3", tmpdir);
	RUN("%s -O1 -g -Wl,--build-id=sha1 -o '%s' '%s'", cc(), bin3, fixture);
	nm_sym(bin, "stackd_dw_outer", &start, &size);
	nm_sym(bin2, "stackd_dw_outer", &start2, &size);
	nm_sym(bin3, "stackd_dw_outer", &start3, &size);
	assert_int_equal(symcache_new(0, &c), 0);
	assert_int_equal(symcache_set_dwarf(c, true, dirs), 0);

	o = cache_open(c, bin);
	symcache_get_stats(c, &st);
	assert_int_equal(st.fds, 1);
	assert_true(st.bytes < 64 * 1024); /* symbols only */
	assert_false(symcache_obj_has_dwarf(o));
	assert_int_equal(symcache_obj_symbol(c, o, start, &name, NULL), 0);
	assert_string_equal(name, "stackd_dw_outer");
	symcache_get_stats(c, &st2);
	assert_int_equal(st2.bytes, st.bytes);
	expect_outer(c, o, start);
	symcache_get_stats(c, &st2);
	assert_true(st2.bytes > st.bytes); /* the DWARF, charged when loaded */
	assert_int_equal(st2.fds, 0);	   /* not needed once loaded */
	assert_true(symcache_obj_has_dwarf(o));
	symcache_put(c, o);

	/* One fd allowed: bin3 takes it from bin2, whose DWARF is then lost. */
	symcache_set_max_fds(c, 1);
	o2 = cache_open(c, bin2);
	o3 = cache_open(c, bin3);
	symcache_get_stats(c, &st);
	assert_int_equal(st.fds, 1);
	assert_int_equal(st.fd_drops, 1);
	assert_true(symcache_obj_lost_dwarf(o2));
	assert_false(symcache_obj_lost_dwarf(o3));
	assert_int_equal(symcache_obj_dwarf(c, o2, start2, fr, DWSYM_MAX_INLINE), 0);
	/* Its symbols still answer. */
	assert_int_equal(symcache_obj_symbol(c, o2, start2, &name, NULL), 0);
	assert_string_equal(name, "stackd_dw_outer");
	/* Another file's fd is refused; bin2's own gives its DWARF back (at bin3's expense). */
	fd = open(bin3, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	symcache_obj_restore_fd(c, o2, fd);
	close(fd);
	assert_true(symcache_obj_lost_dwarf(o2));
	fd = open(bin2, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	symcache_obj_restore_fd(c, o2, fd);
	close(fd);
	assert_false(symcache_obj_lost_dwarf(o2));
	assert_true(symcache_obj_lost_dwarf(o3));
	expect_outer(c, o2, start2);
	symcache_get_stats(c, &st);
	assert_int_equal(st.fds, 0);
	assert_int_equal(st.fd_drops, 2);
	symcache_put(c, o2);
	symcache_put(c, o3);
	symcache_free(c);

	/* A tiny budget: the DWARF loaded by a lookup is evicted with its object. */
	assert_int_equal(symcache_new(1, &c), 0);
	assert_int_equal(symcache_set_dwarf(c, true, dirs), 0);
	o = cache_open(c, bin);
	expect_outer(c, o, start);
	symcache_put(c, o);
	symcache_get_stats(c, &st);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.fds, 0);
	symcache_free(c);
}

/* Sections used in place from a mapping answer exactly like sections read. */
static void test_mapped(void **state)
{
	char bin[700];
	struct dwsym *dr = NULL, *dm = NULL;
	struct dwsym_frame a[DWSYM_MAX_INLINE], b[DWSYM_MAX_INLINE];
	uint64_t start, size, i;
	int fd, na, nb, k;

	(void)state;
	build(cc(), 5, "mapped", bin, sizeof(bin));
	nm_sym(bin, "stackd_dw_outer", &start, &size);
	fd = open(bin, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(dwsym_open_fd(fd, &dr), 0);
	assert_int_equal(dwsym_open_fd_map(fd, &dm), 0);
	assert_int_equal(dwsym_mapped_bytes(dr), 0);
	assert_true(dwsym_mapped_bytes(dm) > 0); /* gcc does not compress by default */
	assert_int_equal(dwsym_bytes(dm), dwsym_bytes(dr));
	for (i = 0; i < size; i++) {
		na = dwsym_lookup(dr, start + i, a, DWSYM_MAX_INLINE);
		nb = dwsym_lookup(dm, start + i, b, DWSYM_MAX_INLINE);
		assert_int_equal(na, nb);
		for (k = 0; k < na; k++) {
			assert_string_equal(a[k].name, b[k].name);
			assert_string_equal(a[k].file, b[k].file);
			assert_int_equal(a[k].line, b[k].line);
		}
	}
	dwsym_free(dr);
	dwsym_free(dm);

	/* Only root-owned files nobody else can write are mapped. */
	if (!geteuid()) {
		assert_int_equal(fchown(fd, 0, 0), 0);
		assert_int_equal(fchmod(fd, 0755), 0);
		assert_true(debuginfo_fd_is_trusted(fd));
		assert_int_equal(fchmod(fd, 0775), 0);
		assert_false(debuginfo_fd_is_trusted(fd));
	}
	assert_int_equal(fchmod(fd, 0757), 0);
	assert_false(debuginfo_fd_is_trusted(fd));
	close(fd);
}

static long maxrss_kb(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/*
 * An ELF whose .symtab claims 256 MiB and whose .debug_info and .debug_line
 * are zlib bombs of 256 MiB each, under an 8 MiB per-object budget: the
 * object opens without those symbols, its DWARF is refused before inflating,
 * both counted once, and the process's peak RSS does not move by anything
 * near the claims (run first, so the peak is still low).
 */
static void test_bombs(void **state)
{
	const char *const dirs[] = {tmpdir, NULL};
	struct dwsym_frame fr[DWSYM_MAX_INLINE];
	struct parse_budget b = parse_budget_make(8u << 20);
	char bin[700], bomb[700];
	struct symcache_stats st;
	struct symcache *c = NULL;
	struct symcache_obj *o, *o2;
	struct dwsym *d = NULL;
	struct elfsym *e = NULL;
	uint64_t start, size;
	const char *name;
	long rss0;
	int fd;

	(void)state;
	if (!need("python3"))
		return;
	build(cc(), 5, "bomb_src", bin, sizeof(bin));
	snprintf(bomb, sizeof(bomb), "%s/bomb", tmpdir);
	RUN("python3 '%s' '%s' '%s' --symtab-mib 256 --zbomb-mib 256 "
	    "--zbomb-sections .debug_info,.debug_line",
	    elfbomb, bin, bomb);
	nm_sym(bin, "stackd_dw_outer", &start, &size);
	rss0 = maxrss_kb();

	assert_int_equal(symcache_new(0, &c), 0);
	assert_int_equal(symcache_set_dwarf(c, true, dirs), 0);
	symcache_set_max_object(c, 8u << 20);
	o = cache_open(c, bomb);
	assert_true(symcache_obj_is_too_big(o));
	symcache_get_stats(c, &st);
	assert_int_equal(st.too_big, 1);
	assert_true(st.too_big_bytes >= (256u << 20) - 24);
	assert_int_equal(symcache_obj_symbol(c, o, start, &name, NULL), -ENOENT);
	assert_int_equal(symcache_obj_dwarf(c, o, start, fr, DWSYM_MAX_INLINE), -EFBIG);
	symcache_get_stats(c, &st);
	assert_int_equal(st.too_big, 2);
	assert_true(st.too_big_bytes >= (512u << 20) - 24);
	/* Remembered: neither the lookup nor the same file again parses anything. */
	assert_int_equal(symcache_obj_dwarf(c, o, start, fr, DWSYM_MAX_INLINE), -EFBIG);
	o2 = cache_open(c, bomb);
	assert_ptr_equal(o2, o);
	symcache_get_stats(c, &st);
	assert_int_equal(st.too_big, 2);
	symcache_put(c, o2);
	symcache_put(c, o);
	symcache_free(c);

	/* The parsers alone: refused at the claim, the budget never overdrawn. */
	fd = open(bomb, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(dwsym_open_fd_budget(fd, &b, &d), -EFBIG);
	assert_null(d);
	assert_int_equal(b.refused, 256u << 20);
	assert_true(b.used <= b.limit);
	b = parse_budget_make(8u << 20);
	assert_int_equal(elfsym_open_fd_budget(fd, &b, &e), 0);
	assert_true(elfsym_is_truncated(e));
	assert_null(elfsym_digest(e)); /* never shared */
	assert_true(b.used <= b.limit);
	elfsym_free(e);
	close(fd);
	fprintf(stderr, "peak RSS grew by %ld KiB over 768 MiB of claims\n", maxrss_kb() - rss0);
	assert_true(maxrss_kb() - rss0 < 32 * 1024);
}

/*
 * Two files with the same GNU build id and different symbols (a container
 * copying another's build id): each is symbolized from its own content; a
 * byte-identical copy under another name still shares the parsed object.
 */
static void test_same_build_id(void **state)
{
	static const char src[] = "int FN(volatile int *p)\n"
				  "{\n\tint s = 0;\n\tfor (int i = 0; i < *p; i++)\n"
				  "\t\ts += i;\n\treturn s;\n}\n"
				  "int main(void)\n{\n\tvolatile int n = 3;\n"
				  "\treturn FN(&n) > 100;\n}\n";
	const char *id = "0123456789abcdef0123456789abcdef01234567";
	char c_src[700], a[700], b[700], a2[700];
	struct symcache_obj *oa, *ob, *oa2;
	struct symcache *c = NULL;
	uint64_t sa, sb, size;
	const char *name;
	FILE *f;

	(void)state;
	snprintf(c_src, sizeof(c_src), "%s/same_id.c", tmpdir);
	snprintf(a, sizeof(a), "%s/same_id_a", tmpdir);
	snprintf(b, sizeof(b), "%s/same_id_b", tmpdir);
	snprintf(a2, sizeof(a2), "%s/same_id_a2", tmpdir);
	f = fopen(c_src, "w");
	assert_non_null(f);
	fputs(src, f);
	fclose(f);
	RUN("%s -O1 -DFN=alpha_fn -Wl,--build-id=0x%s -o '%s' '%s'", cc(), id, a, c_src);
	RUN("%s -O1 -DFN=beta_fn -Wl,--build-id=0x%s -o '%s' '%s'", cc(), id, b, c_src);
	RUN("cp '%s' '%s'", a, a2);
	nm_sym(a, "alpha_fn", &sa, &size);
	nm_sym(b, "beta_fn", &sb, &size);

	assert_int_equal(symcache_new(0, &c), 0);
	oa = cache_open(c, a);
	ob = cache_open(c, b);
	assert_string_equal(elfsym_build_id(symcache_obj_elf(oa)), id);
	assert_string_equal(elfsym_build_id(symcache_obj_elf(ob)), id);
	assert_ptr_not_equal(oa, ob);
	assert_int_equal(symcache_obj_symbol(c, oa, sa, &name, NULL), 0);
	assert_string_equal(name, "alpha_fn");
	assert_int_equal(symcache_obj_symbol(c, ob, sb, &name, NULL), 0);
	assert_string_equal(name, "beta_fn");
	oa2 = cache_open(c, a2);
	assert_ptr_equal(oa2, oa);
	symcache_put(c, oa2);
	symcache_put(c, ob);
	symcache_put(c, oa);
	symcache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bombs),
	    cmocka_unit_test(test_same_build_id),
	    cmocka_unit_test(test_cc_dwarf4),
	    cmocka_unit_test(test_cc_dwarf5),
	    cmocka_unit_test(test_clang),
	    cmocka_unit_test(test_debug_file_build_id),
	    cmocka_unit_test(test_debug_file_debuglink),
	    cmocka_unit_test(test_libc),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_lazy),
	    cmocka_unit_test(test_mapped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
