// SPDX-License-Identifier: Apache-2.0
/*
 * Names and where binaries live (issue 3 parts 3 and 4): demangling of C++
 * and Rust, JIT perf maps (parser, per-process cache, and through
 * symbolizer_user() on a fake /proc tree), stripped Go binaries through
 * their pclntab (a fixture built here with `go build`, then stripped, run
 * and symbolized), and the vDSO of this very process.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ci.h"

#include "demangle.h"
#include "gopclntab.h"
#include "perfmap.h"
#include "symbolize/procmaps.h"
#include "symbolize/symbolizer.h"

#define FAKE_PID   4343
#define FAKE_NSPID 7

static char tmpdir[512];

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd)) {
		fprintf(stderr, "failed: %s\n", cmd);
		fail();
	}
}

static bool have_tool(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static void write_file(const char *path, const char *text, const char *mode)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	const char *tmp = getenv("STACKD_TEST_TMP");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/names.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	run("rm -rf '%s'", tmpdir);
	return 0;
}

/* --- demangling ---------------------------------------------------------- */

static void expect_demangled(const char *mangled, const char *want)
{
	char *got = demangle(mangled);

	if (!want) {
		if (got)
			fprintf(stderr, "%s: want NULL, got %s\n", mangled, got);
		assert_null(got);
		return;
	}
	if (!got || strcmp(got, want))
		fprintf(stderr, "%s: want %s, got %s\n", mangled, want, got ? got : "(null)");
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_demangle_table(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    /* C++: namespaces, templates, operators, cv, clones */
	    {"_ZN3foo3barEv", "foo::bar()"},
	    {"_ZNSt6vectorIiSaIiEE9push_backERKi",
	     "std::vector<int, std::allocator<int> >::push_back(int const&)"},
	    {"_ZN3foo3barIiEclEv", "foo::bar<int>::operator()()"},
	    {"_ZplRK1AS1_", "operator+(A const&, A const&)"},
	    {"_ZNK2ns5Klass6methodEPKc", "ns::Klass::method(char const*) const"},
	    {"_ZN2ns1SIJidEE1fEv", "ns::S<int, double>::f()"},
	    {"_Z3foov.cold", "foo() [clone .cold]"},
	    {"_ZN9__gnu_cxx13new_allocatorIcED2Ev",
	     "__gnu_cxx::new_allocator<char>::~new_allocator()"},
	    /* Rust legacy: the hash is dropped, $LT$-style escapes decoded */
	    {"_ZN1r8hot_loop17ha18a3a36c35e60f4E", "r::hot_loop"},
	    {"_ZN1r5outer12Foo$LT$T$GT$3get17h1b352e278f435ed5E", "r::outer::Foo<T>::get"},
	    {"_ZN4core3ptr13drop_in_place17h0123456789abcdefE", "core::ptr::drop_in_place"},
	    /* Rust v0 (from rustc 1.95 -C symbol-mangling-version=v0) */
	    {"_RNvCs6GmmlP4bgsG_1r8hot_loop", "r::hot_loop"},
	    {"_RNvMNtCs6GmmlP4bgsG_1r5outerINtB2_3FoomE3getB4_", "<r::outer::Foo<u32>>::get"},
	    {"_RNvXs1_NvNtCsjrHSEGnQ3l9_3std9panicking13panic_handlerNtB5_"
	     "16StaticStrPayloadNtNtCsgE"
	     "mfK2I1SDS_4core5panic12PanicPayload3get",
	     "<std::panicking::panic_handler::StaticStrPayload as core::panic::PanicPayload>::get"},
	    /* not mangled, or not validly */
	    {"main", NULL},
	    {"_start", NULL},
	    {"__libc_start_main", NULL},
	    {"_Z", NULL},
	    {"_ZN3foo", NULL},
	    {"_R", NULL},
	    {"_RNvC", NULL},
	    {"", NULL},
	};
	char *big;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_demangled(cases[i].in, cases[i].out);
	assert_null(demangle(NULL));

	/* Over the cap: left alone, even though it is well-formed. */
	big = malloc(DEMANGLE_MAX_NAME + 64);
	assert_non_null(big);
	strcpy(big, "_ZN");
	for (i = 3; i < DEMANGLE_MAX_NAME; i += 4)
		memcpy(big + i, "1a1b", 4);
	strcpy(big + i, "Ev");
	assert_null(demangle(big));
	/* Deep nesting that a recursive demangler could blow its stack on. */
	memset(big, 'P', DEMANGLE_MAX_NAME);
	memcpy(big, "_Z1fP", 5);
	strcpy(big + DEMANGLE_MAX_NAME - 2, "i");
	free(demangle(big));
	free(big);
}

/* Real v0 symbols from this machine's rustc, when there is one. */
/*
 * Hostile names must cost bounded memory and time: this 27-byte v0 name asks
 * rust-demangle for billions of lifetimes (fuzz_demangle found a 2 GiB
 * allocation); it must come back undemangled, quickly.
 */
static void test_demangle_unbounded_output(void **state)
{
	struct timespec t0, t1;
	char *out;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	out = demangle("_RNvMNtC1r5out3_FGC2r5out3_");
	assert_null(out);
	/* Binders whose lifetimes rust-demangle would skip printing: a loop, not output. */
	assert_null(demangle("_RNvMNvMNtC1r5out3_FGtC1r5out3_FGC2_"));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Not a timing assertion: a runaway loop would take minutes or forever, not this. */
	assert_true(t1.tv_sec - t0.tv_sec < 10);
	/* Ordinary names still demangle through the bounded sink. */
	out = demangle("_ZN9stackd_fx6BurnerIiE4spinEv");
	assert_non_null(out);
	assert_string_equal(out, "stackd_fx::Burner<int>::spin()");
	free(out);
}

static void test_demangle_rustc_v0(void **state)
{
	char bin[700], cmd[1600], line[4096];
	bool saw_hot = false, saw_get = false;
	FILE *p;

	(void)state;
	if (!have_tool("rustc"))
		skip_or_fail("rustc not on PATH: v0 covered by the literal samples only");
	snprintf(bin, sizeof(bin), "%s/rsv0", tmpdir);
	run("rustc -C symbol-mangling-version=v0 -o '%s' '%s/rsv0.rs' >/dev/null 2>&1", bin,
	    STACKD_NAMES_FIXTURES);
	snprintf(cmd, sizeof(cmd), "nm '%s'", bin);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *sym = strrchr(line, ' '), *d;

		if (!sym)
			continue;
		sym++;
		sym[strcspn(sym, "\n")] = '\0';
		if (strncmp(sym, "_R", 2) || !strstr(sym, "rsv0"))
			continue;
		d = demangle(sym);
		assert_non_null(d);
		if (!strcmp(d, "rsv0::hot_loop"))
			saw_hot = true;
		if (!strcmp(d, "<rsv0::outer::Foo<u32>>::get"))
			saw_get = true;
		free(d);
	}
	pclose(p);
	assert_true(saw_hot);
	assert_true(saw_get);
}

/* --- perf maps ------------------------------------------------------------ */

static void test_perfmap_parse(void **state)
{
	static const char text[] =
	    "1000 100 LazyCompile:~hot /app/server.js:10:3\n"
	    "0x2000 0x10 Stub:CEntry\r\n"
	    "bogus line\n"
	    "3000 0 zero size\n"
	    "ffffffffffffff00 1000 overflowing\n"
	    "\n"
	    "1000 80 LazyCompile:*hot /app/server.js:10:3\n" /* re-JITted: newer wins */
	    "1040 20 inner overlap\n"
	    "4000 10 no newline at end";
	struct perfmap *pm = NULL;
	const char *name;
	uint64_t start;

	(void)state;
	assert_int_equal(perfmap_parse(text, sizeof(text) - 1, &pm), 0);
	assert_int_equal(perfmap_nr(pm), 4);
	assert_int_equal(perfmap_nr_bad_lines(pm), 3);
	assert_int_equal(perfmap_lookup(pm, 0x1010, &name, &start), 0);
	assert_string_equal(name, "LazyCompile:*hot /app/server.js:10:3");
	assert_int_equal(start, 0x1000);
	assert_int_equal(perfmap_lookup(pm, 0x1045, &name, NULL), 0);
	assert_string_equal(name, "inner overlap");
	assert_int_equal(perfmap_lookup(pm, 0x2000, &name, NULL), 0);
	assert_string_equal(name, "Stub:CEntry");
	assert_int_equal(perfmap_lookup(pm, 0x2010, &name, NULL), -ENOENT);
	assert_int_equal(perfmap_lookup(pm, 0x400f, &name, NULL), 0);
	assert_string_equal(name, "no newline at end");
	assert_int_equal(perfmap_lookup(pm, 0xfff, &name, NULL), -ENOENT);
	assert_int_equal(perfmap_lookup(NULL, 0x1000, &name, NULL), -ENOENT);
	perfmap_free(pm);
	perfmap_free(NULL);

	assert_int_equal(perfmap_parse("", 0, &pm), 0);
	assert_int_equal(perfmap_nr(pm), 0);
	assert_int_equal(perfmap_lookup(pm, 0, &name, NULL), -ENOENT);
	perfmap_free(pm);
}

static void fake_proc(const char *proc, pid_t pid, uint64_t start_time)
{
	char path[1024], text[512];

	snprintf(path, sizeof(path), "%s/%d/root/tmp", proc, (int)pid);
	run("mkdir -p '%s'", path);
	snprintf(path, sizeof(path), "%s/%d/stat", proc, (int)pid);
	/* comm with a space and a ')' to exercise the parser; starttime is field 22. */
	snprintf(text, sizeof(text),
		 "%d (node) x) S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %" PRIu64
		 " 0 0 18446744073709551615\n",
		 (int)pid, start_time);
	write_file(path, text, "w");
	snprintf(path, sizeof(path), "%s/%d/status", proc, (int)pid);
	snprintf(text, sizeof(text), "Name:\tnode\nPid:\t%d\nNSpid:\t%d\t%d\nPPid:\t1\n", (int)pid,
		 (int)pid, FAKE_NSPID);
	write_file(path, text, "w");
}

static void test_perfmap_cache(void **state)
{
	char proc[700], map[900], outside[900], cmd[2000];
	struct perfmap_cache *c = NULL;
	const struct perfmap *pm;
	const char *name;

	(void)state;
	snprintf(proc, sizeof(proc), "%s/cacheproc", tmpdir);
	fake_proc(proc, FAKE_PID, 1000);
	snprintf(map, sizeof(map), "%s/%d/root/tmp/perf-%d.map", proc, FAKE_PID, FAKE_NSPID);
	assert_int_equal(perfmap_cache_new(proc, 0, &c), 0);

	/* No file yet. */
	assert_null(perfmap_cache_get(c, FAKE_PID));
	/* The file, with a line still being written. */
	write_file(map, "1000 10 first\n2000 10 sec", "w");
	pm = perfmap_cache_get(c, FAKE_PID);
	assert_non_null(pm);
	assert_int_equal(perfmap_nr(pm), 1);
	/* Appended: the partial line completes, a new one arrives. */
	write_file(map, "ond\n3000 10 third\n", "a");
	pm = perfmap_cache_get(c, FAKE_PID);
	assert_int_equal(perfmap_nr(pm), 3);
	assert_int_equal(perfmap_lookup(pm, 0x2005, &name, NULL), 0);
	assert_string_equal(name, "second");
	assert_int_equal(perfmap_lookup(pm, 0x3000, &name, NULL), 0);
	assert_string_equal(name, "third");
	assert_true(perfmap_cache_bytes(c) > 0);

	/* Replaced by a shorter file: re-read from scratch. */
	snprintf(cmd, sizeof(cmd), "%s.new", map);
	write_file(cmd, "5000 10 fresh\n", "w");
	assert_int_equal(rename(cmd, map), 0);
	pm = perfmap_cache_get(c, FAKE_PID);
	assert_int_equal(perfmap_nr(pm), 1);
	assert_int_equal(perfmap_lookup(pm, 0x1000, &name, NULL), -ENOENT);

	/* The process exits: its last table stays for its late samples. */
	snprintf(cmd, sizeof(cmd), "%s/%d/stat", proc, FAKE_PID);
	assert_int_equal(unlink(cmd), 0);
	pm = perfmap_cache_get(c, FAKE_PID);
	assert_non_null(pm);
	assert_int_equal(perfmap_lookup(pm, 0x5000, &name, NULL), 0);

	/* The pid is reused (new start time) by a process whose map escapes its root. */
	fake_proc(proc, FAKE_PID, 2000);
	snprintf(outside, sizeof(outside), "%s/outside.map", tmpdir);
	write_file(outside, "1000 10 host secret\n", "w");
	assert_int_equal(unlink(map), 0);
	assert_int_equal(symlink(outside, map), 0); /* absolute: must resolve in the root */
	assert_null(perfmap_cache_get(c, FAKE_PID));
	perfmap_cache_free(c);
	perfmap_cache_free(NULL);
}

/*
 * A perf map of 800,000 lines (~40 MiB once parsed) is read in chunks and
 * cut at the per-process budget: the cache never holds more than 8 MiB for
 * it, the lines that fit answer, and the cut is counted.
 */
static void test_perfmap_budget(void **state)
{
	char proc[700], map[900];
	struct perfmap_cache_stats st;
	struct perfmap_cache *c = NULL;
	const struct perfmap *pm;
	const char *name;

	(void)state;
	snprintf(proc, sizeof(proc), "%s/budgetproc", tmpdir);
	fake_proc(proc, FAKE_PID, 1000);
	snprintf(map, sizeof(map), "%s/%d/root/tmp/perf-%d.map", proc, FAKE_PID, FAKE_NSPID);
	run("awk 'BEGIN { for (i = 0; i < 800000; i++) printf \"%%x 10 jit_fn_%%d\\n\", "
	    "4096 + 16 * i, i }' > '%s'",
	    map);
	assert_int_equal(perfmap_cache_new(proc, 0, &c), 0);
	pm = perfmap_cache_get(c, FAKE_PID);
	assert_non_null(pm);
	assert_true(perfmap_nr(pm) > 1000);
	assert_true(perfmap_nr(pm) < 800000);
	assert_true(perfmap_bytes(pm) <= PERFMAP_PROC_BYTES);
	assert_true(perfmap_cache_bytes(c) <= PERFMAP_PROC_BYTES + 64 * 1024);
	assert_int_equal(perfmap_lookup(pm, 0x1000, &name, NULL), 0);
	assert_string_equal(name, "jit_fn_0");
	perfmap_cache_get_stats(c, &st);
	assert_int_equal(st.truncated, 1);
	assert_true(st.refused_bytes > 0);
	perfmap_cache_free(c);
}

static const char *fn_name(const struct sym_frame *f)
{
	return f->nr_lines ? f->lines[0].function : NULL;
}

static void test_symbolize_jit(void **state)
{
	static const char maps_text[] =
	    "7f0000000000-7f0000010000 r-xp 00000000 00:00 0 \n"
	    "7f0000020000-7f0000030000 rwxp 00000000 00:00 0                          [anon:v8]\n";
	const uint64_t ips[] = {0x7f0000000105, 0x7f0000020011, 0x7f0000000901, 0x7f0000008000};
	struct symbolizer_opts opts = {0};
	struct symbolizer *s = NULL;
	struct procmaps *maps = NULL;
	struct sym_result *r = NULL;
	char proc[700], map[900];
	bool no_demangle;

	(void)state;
	snprintf(proc, sizeof(proc), "%s/jitproc", tmpdir);
	fake_proc(proc, FAKE_PID, 1000);
	snprintf(map, sizeof(map), "%s/%d/root/tmp/perf-%d.map", proc, FAKE_PID, FAKE_NSPID);
	write_file(map,
		   "7f0000000100 80 LazyCompile:~handler /srv/app.js:3:14\n"
		   "7f0000000900 40 _ZN2v88internal7Builtin4callEv\n"
		   "7f0000020000 20 RegExp:[a-z]+\n",
		   "w");
	assert_int_equal(
	    procmaps_parse(maps_text, sizeof(maps_text) - 1, PROCMAPS_EXEC_ONLY, &maps), 0);
	opts.proc_root = proc;
	for (no_demangle = false;; no_demangle = true) {
		opts.no_demangle = no_demangle;
		assert_int_equal(symbolizer_new(&opts, &s), 0);
		assert_int_equal(symbolizer_user(s, FAKE_PID, maps, ips, 4, &r), 0);
		assert_int_equal(r->nr, 4);
		assert_string_equal(fn_name(&r->frames[0]),
				    "LazyCompile:~handler /srv/app.js:3:14");
		assert_string_equal(r->frames[0].lines[0].system_name,
				    "LazyCompile:~handler /srv/app.js:3:14");
		/* A return address: looked up at ip - 1, so 0x...20010. */
		assert_string_equal(fn_name(&r->frames[1]), "RegExp:[a-z]+");
		assert_string_equal(r->frames[1].mapping->path, "[anon:v8]");
		assert_string_equal(r->frames[2].lines[0].system_name,
				    "_ZN2v88internal7Builtin4callEv");
		assert_string_equal(fn_name(&r->frames[2]), no_demangle
								? "_ZN2v88internal7Builtin4callEv"
								: "v8::internal::Builtin::call()");
		assert_int_equal(r->frames[3].nr_lines, 0);
		sym_result_free(r);
		symbolizer_free(s);
		if (no_demangle)
			break;
	}
	procmaps_free(maps);
}

/* --- Go -------------------------------------------------------------------- */

static bool need_go(void)
{
	if (have_tool("go"))
		return true;
	skip_or_fail("go not on PATH (golang-go)");
	return false;
}

/* ELF vaddr of @sym in the unstripped @bin, via `go tool nm`. */
static uint64_t go_nm(const char *bin, const char *sym)
{
	char cmd[1600], line[512], name[256];
	uint64_t addr = 0, a;
	char type;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "go tool nm '%s'", bin);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%" SCNx64 " %c %255s", &a, &type, name) == 3 &&
		    !strcmp(name, sym))
			addr = a;
	}
	pclose(p);
	assert_true(addr != 0);
	return addr;
}

static void go_build(const char *out, const char *ldflags)
{
	run("cd '%s' && HOME='%s' GOCACHE='%s/gocache' GOPATH='%s/gopath' GO111MODULE=off "
	    "GOFLAGS= CGO_ENABLED=0 go build -ldflags='%s' -o '%s' '%s/gohot.go'",
	    tmpdir, tmpdir, tmpdir, tmpdir, ldflags, out, STACKD_NAMES_FIXTURES);
}

static void test_gopclntab_file(void **state)
{
	char full[700], stripped[700], sw[700];
	const char *bins[2] = {stripped, sw};
	struct gopclntab *t = NULL;
	const char *name;
	uint64_t hot, start;
	int fd, i;

	(void)state;
	if (!need_go())
		skip();
	snprintf(full, sizeof(full), "%s/gohot", tmpdir);
	snprintf(stripped, sizeof(stripped), "%s/gohot_strip", tmpdir);
	snprintf(sw, sizeof(sw), "%s/gohot_sw", tmpdir);
	go_build(full, "");
	go_build(sw, "-s -w");
	run("cp '%s' '%s' && strip '%s'", full, stripped, stripped);
	hot = go_nm(full, "main.hotLoop");

	/* Unstripped: the symbol table answers, the pclntab is not loaded. */
	fd = open(full, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(gopclntab_open_fd(fd, GOPCLNTAB_IF_STRIPPED, &t), -ENOENT);
	assert_int_equal(gopclntab_open_fd(fd, 0, &t), 0);
	close(fd);
	gopclntab_free(t);
	for (i = 0; i < 2; i++) {
		fd = open(bins[i], O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(gopclntab_open_fd(fd, GOPCLNTAB_IF_STRIPPED, &t), 0);
		close(fd);
		assert_true(gopclntab_nr(t) > 100);
		assert_int_equal(gopclntab_lookup(t, hot + 5, &name, &start), 0);
		assert_string_equal(name, "main.hotLoop");
		assert_int_equal(start, hot);
		assert_int_equal(gopclntab_lookup(t, 0x10, &name, NULL), -ENOENT);
		gopclntab_free(t);
		t = NULL;
	}
}

/* A stripped Go process, symbolized through /proc while it spins in hotLoop. */
static void test_go_process(void **state)
{
	char bin[700], full[700];
	struct symbolizer *s = NULL;
	struct procmaps *maps = NULL;
	struct sym_result *r = NULL;
	uint64_t ips[2];
	pid_t pid;
	int i, status;

	(void)state;
	if (!need_go())
		skip();
	snprintf(full, sizeof(full), "%s/gohot", tmpdir);
	snprintf(bin, sizeof(bin), "%s/gohot_sw", tmpdir);
	if (access(full, X_OK))
		go_build(full, "");
	if (access(bin, X_OK))
		go_build(bin, "-s -w");
	ips[0] = go_nm(full, "main.hotLoop") + 3;
	ips[1] = go_nm(full, "main.main") + 0x20; /* a return address inside main.main */
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		execl(bin, bin, (char *)NULL);
		_exit(127);
	}
	/*
	 * Wait until the binary's text is mapped. /proc/PID/exe names the new binary as soon as
	 * exec installs the new mm, before its segments are mapped: a snapshot taken in between
	 * has no mapping for the ips (seen once under ASan).
	 */
	for (i = 0; i < 1000; i++) {
		const struct procmap *m;

		assert_int_equal(procmaps_read("/proc", pid, PROCMAPS_EXEC_ONLY, &maps), 0);
		m = procmaps_find(maps, ips[0]);
		if (m && !strcmp(m->path, bin))
			break;
		procmaps_free(maps);
		maps = NULL;
		usleep(10000);
	}
	assert_non_null(maps); /* within 10 s */
	assert_int_equal(symbolizer_new(NULL, &s), 0);
	assert_int_equal(symbolizer_user(s, pid, maps, ips, 2, &r), 0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_non_null(fn_name(&r->frames[0]));
	assert_string_equal(fn_name(&r->frames[0]), "main.hotLoop");
	assert_string_equal(fn_name(&r->frames[1]), "main.main");
	assert_string_equal(r->frames[0].mapping->path, bin);
	sym_result_free(r);
	symbolizer_free(s);
	procmaps_free(maps);
}

/* --- vDSO ------------------------------------------------------------------ */

/* Runtime address of a vDSO function, read from the vDSO's own .dynsym. */
static uint64_t vdso_sym(const char *want)
{
	const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	const Elf64_Phdr *ph;
	uint64_t load_vaddr = 0;
	int i, j;

	if (!base)
		return 0;
	eh = (const Elf64_Ehdr *)base;
	sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD) {
			load_vaddr = ph[i].p_vaddr - ph[i].p_offset;
			break;
		}
	}
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *syms;
		const char *strs;

		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		syms = (const Elf64_Sym *)(base + sh[i].sh_offset);
		strs = (const char *)base + sh[sh[i].sh_link].sh_offset;
		for (j = 1; j < (int)(sh[i].sh_size / sizeof(*syms)); j++) {
			if (!strcmp(strs + syms[j].st_name, want))
				return (uint64_t)(uintptr_t)base + syms[j].st_value - load_vaddr;
		}
	}
	return 0;
}

static void test_vdso(void **state)
{
	struct symbolizer *s = NULL;
	struct procmaps *maps = NULL;
	struct sym_result *r = NULL;
	const char *name;
	uint64_t ip;

	(void)state;
	ip = vdso_sym("__vdso_clock_gettime");
	if (!ip)
		ip = vdso_sym("clock_gettime");
	if (!ip) {
		skip_or_fail("no vDSO clock_gettime in this process");
	}
	ip += 1; /* inside the function, as a sampled ip would be */
	assert_int_equal(procmaps_read("/proc", getpid(), PROCMAPS_EXEC_ONLY, &maps), 0);
	assert_int_equal(symbolizer_new(NULL, &s), 0);
	assert_int_equal(symbolizer_user(s, getpid(), maps, &ip, 1, &r), 0);
	assert_non_null(r->frames[0].mapping);
	assert_string_equal(r->frames[0].mapping->path, "[vdso]");
	name = fn_name(&r->frames[0]);
	assert_non_null(name);
	assert_non_null(strstr(name, "clock_gettime"));
	sym_result_free(r);
	symbolizer_free(s);
	procmaps_free(maps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_demangle_table),
	    cmocka_unit_test(test_demangle_rustc_v0),
	    cmocka_unit_test(test_demangle_unbounded_output),
	    cmocka_unit_test(test_perfmap_parse),
	    cmocka_unit_test(test_perfmap_cache),
	    cmocka_unit_test(test_perfmap_budget),
	    cmocka_unit_test(test_symbolize_jit),
	    cmocka_unit_test(test_gopclntab_file),
	    cmocka_unit_test(test_go_process),
	    cmocka_unit_test(test_vdso),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
