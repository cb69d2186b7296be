// SPDX-License-Identifier: Apache-2.0
/*
 * symbolize's CPython reader (symbolize/python.h):
 *   - the 3.11 layout table equals offsetof() in python3.11-dev's own headers;
 *   - py_code_line() gives, for every instruction of every code object of a
 *     few stdlib modules, the line CPython's own co_lines() gives;
 *   - py_runtime_probe_fd() on Debian's /usr/bin/python3.11 (3.11, the
 *     symbols the walk needs) and on objects that are no CPython;
 *   - a live interpreter (stopped): its two threads by native tid, the exact
 *     frame chain of each with names, files and lines;
 *   - hostile memory: cycles, wrong types, huge lengths, unreadable pointers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ci.h"
#include "pycodes.h"
#include "symbolize/procmaps.h"
#include "symbolize/python.h"
#include "symbolize/symbolizer.h"

#define PYTHON "/usr/bin/python3.11"

static bool have_python(void)
{
	return access(PYTHON, X_OK) == 0;
}

/* ---- the layout against CPython's headers -------------------------------------------------- */

#ifdef STACKD_HAVE_PY311_HEADERS
void py311_offsets(struct py_layout *l, uint32_t *hexversion);
#endif

static void test_layout_vs_headers(void **state)
{
#ifdef STACKD_HAVE_PY311_HEADERS
	struct py_layout h = {0};
	const struct py_layout *l;
	uint32_t v;

	(void)state;
	py311_offsets(&h, &v);
	l = py_layout_find(v);
	assert_non_null(l);
	assert_string_equal(l->name, "3.11");
#define SAME(f) assert_int_equal(l->f, h.f)
	SAME(runtime_interp_head);
	SAME(interp_next);
	SAME(interp_threads_head);
	SAME(tstate_next);
	SAME(tstate_native_tid);
	SAME(tstate_cframe);
	SAME(cframe_current_frame);
	SAME(frame_code);
	SAME(frame_previous);
	SAME(frame_prev_instr);
	SAME(frame_is_entry);
	SAME(frame_owner);
	SAME(code_filename);
	SAME(code_name);
	SAME(code_qualname);
	SAME(code_linetable);
	SAME(code_firstlineno);
	SAME(code_firsttraceable);
	SAME(code_code);
	SAME(bytes_size);
	SAME(bytes_data);
	SAME(str_length);
	SAME(str_state);
	SAME(str_ascii_data);
	SAME(str_compact_data);
	SAME(frame_owned_by_generator);
#undef SAME
	assert_null(py_layout_find(0x030a0000));
	assert_null(py_layout_find(0x030c0000));
#else
	(void)state;
	skip_or_fail("python3.11-dev's headers are not installed (apt-get install python3.11-dev)");
#endif
}

/* ---- the location table against co_lines() -------------------------------------------------- */

/*
 * For every code object (nested ones too) of a few modules: "C firstlineno
 * units hex(co_linetable)", then "L start end line" per co_lines() range
 * (bytes; line -1 for None).
 */
static const char vectors_py[] =
    "import argparse, asyncio.base_events, http.client, json.decoder, threading, types\n"
    "def walk(co):\n"
    "    print('C', co.co_firstlineno, len(co.co_code) // 2, co.co_linetable.hex() or '-')\n"
    "    for s, e, l in co.co_lines():\n"
    "        print('L', s, e, -1 if l is None else l)\n"
    "    for c in co.co_consts:\n"
    "        if isinstance(c, types.CodeType):\n"
    "            walk(c)\n"
    "for m in (argparse, asyncio.base_events, http.client, json.decoder, threading):\n"
    "    walk(compile(open(m.__file__).read(), m.__file__, 'exec'))\n";

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

struct vec_code {
	int first;
	unsigned units;
	unsigned char *tab;
	size_t len;
	int *want; /* per code unit */
};

static void check_code(struct vec_code *c, unsigned long *units, unsigned long *with_line)
{
	unsigned u;

	for (u = 0; c->want && u < c->units; u++) {
		int got = py_code_line(c->tab, c->len, c->first, u);

		if (got != c->want[u])
			fail_msg("first line %d, unit %u: py_code_line %d, co_lines %d", c->first,
				 u, got, c->want[u]);
		(*units)++;
		*with_line += got >= 0;
	}
	free(c->tab);
	free(c->want);
	memset(c, 0, sizeof(*c));
}

static void test_linetable_vs_co_lines(void **state)
{
	char cmd[256], *line = NULL, hex[1 << 17];
	struct vec_code c = {0};
	unsigned long codes = 0, units = 0, with_line = 0;
	size_t cap = 0;
	FILE *f;

	(void)state;
	if (!have_python()) {
		skip_or_fail(PYTHON " is not installed");
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s -c \"$PY_VECTORS\"", PYTHON);
	setenv("PY_VECTORS", vectors_py, 1);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		long s, e, l;
		size_t i, n;

		if (line[0] == 'C') {
			check_code(&c, &units, &with_line);
			assert_int_equal(sscanf(line, "C %d %u %131071s", &c.first, &c.units, hex),
					 3);
			n = strcmp(hex, "-") ? strlen(hex) / 2 : 0;
			c.tab = malloc(n + 1);
			c.want = malloc((c.units + 1) * sizeof(int));
			assert_true(c.tab && c.want);
			for (i = 0; i < n; i++)
				c.tab[i] = (unsigned char)(hexval(hex[2 * i]) << 4 |
							   hexval(hex[2 * i + 1]));
			c.len = n;
			for (i = 0; i < c.units; i++)
				c.want[i] = -1;
			codes++;
		} else if (line[0] == 'L') {
			assert_int_equal(sscanf(line, "L %ld %ld %ld", &s, &e, &l), 3);
			for (i = (size_t)s / 2; i < (size_t)e / 2 && i < c.units; i++)
				c.want[i] = (int)l;
		}
	}
	check_code(&c, &units, &with_line);
	free(line);
	assert_int_equal(pclose(f), 0);
	printf(
	    "# %lu code objects, %lu instructions (%lu with a line): py_code_line == co_lines()\n",
	    codes, units, with_line);
	assert_true(codes > 500);
	assert_true(with_line > units / 2);
	/* Malformed: an entry not starting with its marker bit, a truncated long form. */
	assert_int_equal(py_code_line((const unsigned char *)"\x01", 1, 1, 0), -1);
	assert_int_equal(py_code_line((const unsigned char *)"\xf0\x41", 2, 1, 0), -1);
	assert_int_equal(py_code_line(NULL, 0, 1, 0), -1);
}

/* ---- the runtime probe ---------------------------------------------------------------------- */

static int probe_path(const char *path, struct py_runtime *rt)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	assert_true(fd >= 0);
	err = py_runtime_probe_fd(fd, rt);
	close(fd);
	return err;
}

static void test_probe(void **state)
{
	static const char junk[] = "\x7f"
				   "ELF not really";
	struct py_runtime rt;
	char buf[4096];
	int fd;

	(void)state;
	if (!have_python()) {
		skip_or_fail(PYTHON " is not installed");
		return;
	}
	assert_int_equal(probe_path(PYTHON, &rt), 0);
	assert_int_equal(rt.hexversion >> 16, 0x030b);
	assert_non_null(rt.layout);
	assert_true(rt.runtime && rt.code_type && rt.str_type && rt.bytes_type);
	assert_true(rt.eval_lo && rt.eval_hi > rt.eval_lo);
	printf("# %s: CPython %x, _PyRuntime at 0x%" PRIx64 ", _PyEval_EvalFrameDefault %" PRIu64
	       " bytes\n",
	       PYTHON, rt.hexversion, rt.runtime, rt.eval_hi - rt.eval_lo);
	assert_int_equal(probe_path("/bin/true", &rt), -ENOENT);
	assert_int_equal(py_runtime_probe_mem(junk, sizeof(junk), &rt), -ENOEXEC);
	/* The first page of the interpreter: headers promise sections beyond the end. */
	fd = open(PYTHON, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	close(fd);
	assert_int_equal(py_runtime_probe_mem(buf, sizeof(buf), &rt), -EINVAL);
}

/* ---- a live interpreter -----------------------------------------------------------------------
 */

static const char live_py[] = "import threading\n"			  /* 1 */
			      "class Bakery:\n"				  /* 2 */
			      "    def run(self, n):\n"			  /* 3 */
			      "        return self.knead(n)\n"		  /* 4 */
			      "    def knead(self, n):\n"		  /* 5 */
			      "        t = 0\n"				  /* 6 */
			      "        while True:\n"			  /* 7 */
			      "            t += n\n"			  /* 8 */
			      "def worker():\n"				  /* 9 */
			      "    x = 0\n"				  /* 10 */
			      "    while True:\n"			  /* 11 */
			      "        x += 1\n"			  /* 12 */
			      "threading.Thread(target=worker).start()\n" /* 13 */
			      "print('ready', flush=True)\n"		  /* 14 */
			      "Bakery().run(3)\n";			  /* 15 */

static bool find_proc(pid_t pid, struct py_proc *p)
{
	struct procmaps *maps;
	size_t i;
	bool found = false;

	assert_int_equal(procmaps_read("/proc", pid, 0, &maps), 0);
	for (i = 0; i < maps->nr && !found; i++) {
		const struct procmap *m = &maps->maps[i];
		struct py_runtime rt;
		uint64_t bias;
		int fd;

		if (!m->inode || m->offset || m->path[0] != '/')
			continue;
		fd = procmaps_open_object("/proc", pid, m);
		if (fd < 0)
			continue;
		if (!py_runtime_probe_fd(fd, &rt) &&
		    !py_runtime_bias(&rt, m->start, m->offset, &bias)) {
			py_proc_init(p, &rt, bias);
			found = true;
		}
		close(fd);
	}
	procmaps_free(maps);
	return found;
}

/* "name file-suffix line|-" per frame, innermost first, into @out. */
static void describe(const struct procmem *m, const struct py_proc *p, uint64_t tstate, char *out,
		     size_t cap)
{
	struct py_frame fr[64];
	size_t len = 0;
	int n, i;

	out[0] = '\0';
	n = py_stack(m, p, tstate, fr, 64);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		struct py_code c;
		const char *base;
		int line;

		assert_int_equal(py_code_read(m, p, fr[i].code, &c), 0);
		line = py_code_line(c.linetable, c.linetable_len, c.firstlineno, fr[i].lasti);
		base = strrchr(c.filename, '/');
		len += (size_t)snprintf(out + len, cap - len, "%s%s@%s:%d%s", i ? " <- " : "",
					c.qualname, base ? base + 1 : c.filename, line,
					fr[i].is_entry ? "!" : "");
		assert_true(len < cap);
		py_code_free(&c);
	}
}

/* @in without its ":LINE" parts, into @out (as big as @in). */
static void strip_lines(const char *in, char *out)
{
	while (*in) {
		if (*in == ':') {
			in++;
			if (*in == '-')
				in++;
			while (*in >= '0' && *in <= '9')
				in++;
			continue;
		}
		*out++ = *in++;
	}
	*out = '\0';
}

static void test_live(void **state)
{
	char path[512], buf[64], main_st[2048] = "", worker_st[2048] = "", names[2048];
	const char *tmp = getenv("STACKD_TEST_TMP");
	struct py_thread th[16];
	struct py_proc p;
	struct procmem m;
	int fds[2], n, i, status;
	FILE *f;
	pid_t pid;

	(void)state;
	if (!have_python()) {
		skip_or_fail(PYTHON " is not installed");
		return;
	}
	snprintf(path, sizeof(path), "%s/live_py_fixture.py", tmp ? tmp : "/tmp");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(live_py, f);
	fclose(f);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(fds[1], 1);
		execl(PYTHON, PYTHON, path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	n = (int)read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	usleep(200 * 1000); /* into the loops */
	kill(pid, SIGSTOP);
	waitpid(pid, &status, WUNTRACED);

	assert_true(find_proc(pid, &p));
	m = (struct procmem){.ctx = &pid, .read = procmem_read_process};
	n = py_threads(&m, &p, th, 16);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		if (th[i].native_tid == (uint64_t)pid)
			describe(&m, &p, th[i].tstate, main_st, sizeof(main_st));
		else
			describe(&m, &p, th[i].tstate, worker_st, sizeof(worker_st));
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	printf("# main thread:   %s\n# worker thread: %s\n", main_st, worker_st);
	/* The loop's back edge is line 7 or 8 (11 or 12); every caller is at its call. */
	if (strcmp(main_st, "Bakery.knead@live_py_fixture.py:8 <- Bakery.run@live_py_fixture.py:4 "
			    "<- <module>@live_py_fixture.py:15!") &&
	    strcmp(main_st, "Bakery.knead@live_py_fixture.py:7 <- Bakery.run@live_py_fixture.py:4 "
			    "<- <module>@live_py_fixture.py:15!"))
		fail_msg("main thread: %s", main_st);
	/* The worker: its whole chain by name (threading.py's lines are the stdlib's own). */
	strip_lines(worker_st, names);
	assert_string_equal(names, "worker@live_py_fixture.py! <- Thread.run@threading.py <- "
				   "Thread._bootstrap_inner@threading.py <- "
				   "Thread._bootstrap@threading.py!");
	assert_true(!strncmp(worker_st, "worker@live_py_fixture.py:11!", 29) ||
		    !strncmp(worker_st, "worker@live_py_fixture.py:12!", 29));
	assert_null(strstr(worker_st, ":-1"));
}

/* ---- hostile memory ---------------------------------------------------------------------------
 */

#define FAKE_BASE 0x10000ull
#define FAKE_SIZE 8192u

struct fake {
	unsigned char b[FAKE_SIZE];
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;

	if (addr < FAKE_BASE || addr - FAKE_BASE > FAKE_SIZE ||
	    len > FAKE_SIZE - (addr - FAKE_BASE))
		return -EFAULT;
	memcpy(buf, f->b + (addr - FAKE_BASE), len);
	return 0;
}

static void put64(struct fake *f, uint64_t addr, uint64_t v)
{
	memcpy(f->b + (addr - FAKE_BASE), &v, 8);
}

static void put32(struct fake *f, uint64_t addr, uint32_t v)
{
	memcpy(f->b + (addr - FAKE_BASE), &v, 4);
}

/* A compact ASCII str at @at holding @s, of a claimed @length. */
static void put_str(struct fake *f, const struct py_proc *p, uint64_t at, const char *s,
		    uint64_t length)
{
	const struct py_layout *l = p->layout;

	put64(f, at + 8, p->str_type);
	put64(f, at + l->str_length, length);
	put32(f, at + l->str_state, 1u << 2 | 1u << 5 | 1u << 6 | 1u << 7);
	memcpy(f->b + (at + l->str_ascii_data - FAKE_BASE), s, strlen(s));
}

static void test_hostile(void **state)
{
	static struct fake f;
	const uint64_t rt = FAKE_BASE, interp = FAKE_BASE + 0x100, ts = FAKE_BASE + 0x200,
		       cf = FAKE_BASE + 0x400, fr = FAKE_BASE + 0x500, code = FAKE_BASE + 0x600,
		       qn = FAKE_BASE + 0x800, fn = FAKE_BASE + 0x900, lt = FAKE_BASE + 0xa00;
	struct py_proc p = {
	    .layout = py_layout_find(0x030b02f0),
	    .runtime = rt,
	    .code_type = 0xc0de,
	    .str_type = 0x5712,
	    .bytes_type = 0xb17e,
	};
	const struct py_layout *l = p.layout;
	const struct procmem m = {.ctx = &f, .read = fake_read};
	struct py_thread th[8];
	struct py_frame frames[8];
	struct py_code c;

	(void)state;
	assert_non_null(l);
	memset(&f, 0, sizeof(f));
	/* A thread list that points to itself: capped at max, no hang. */
	put64(&f, rt + l->runtime_interp_head, interp);
	put64(&f, interp + l->interp_threads_head, ts);
	put64(&f, interp + l->interp_next, interp); /* and the interpreter list too */
	put64(&f, ts + l->tstate_next, ts);
	put64(&f, ts + l->tstate_native_tid, 42);
	assert_int_equal(py_threads(&m, &p, th, 8), 8);
	assert_int_equal(th[7].native_tid, 42);
	/* A frame chain that loops: capped. */
	put64(&f, ts + l->tstate_cframe, cf);
	put64(&f, cf + l->cframe_current_frame, fr);
	put64(&f, fr + l->frame_code, code);
	put64(&f, fr + l->frame_prev_instr, code + l->code_code + 2 * 5);
	put64(&f, fr + l->frame_previous, fr);
	assert_int_equal(py_stack(&m, &p, ts, frames, 8), 8);
	assert_int_equal(frames[0].lasti, 5);
	/* A frame before its first traceable instruction is skipped (not started). */
	put32(&f, code + l->code_firsttraceable, 6);
	put64(&f, fr + l->frame_previous, 0);
	assert_int_equal(py_stack(&m, &p, ts, frames, 8), 0);
	put32(&f, code + l->code_firsttraceable, 0);
	/* A frame pointing outside readable memory ends the walk there. */
	put64(&f, fr + l->frame_previous, 0xdead0000);
	assert_int_equal(py_stack(&m, &p, ts, frames, 8), 1);
	assert_int_equal(py_stack(&m, &p, 0xdead0000, frames, 8), -EFAULT);

	/* A code object of another type is refused. */
	put64(&f, code + 8, 0x1234);
	assert_int_equal(py_code_read(&m, &p, code, &c), -EINVAL);
	put64(&f, code + 8, p.code_type);
	/* Names: a qualname claiming 2^40 characters is read up to the cap (and NUL-free). */
	put_str(&f, &p, qn, "Bakery.run", 1ull << 40);
	put_str(&f, &p, fn, "/srv/app.py", 11);
	put64(&f, code + l->code_qualname, qn);
	put64(&f, code + l->code_filename, fn);
	put32(&f, code + l->code_firstlineno, 10);
	/* A line table claiming more than the cap is not read: names alone. */
	put64(&f, lt + 8, p.bytes_type);
	put64(&f, lt + l->bytes_size, PY_MAX_LINETABLE + 1);
	put64(&f, code + l->code_linetable, lt);
	assert_int_equal(py_code_read(&m, &p, code, &c), 0);
	assert_memory_equal(c.qualname, "Bakery.run\xef\xbf\xbd", 13); /* NULs as U+FFFD */
	assert_true(strlen(c.qualname) < PY_MAX_NAME);
	assert_string_equal(c.filename, "/srv/app.py");
	assert_null(c.linetable);
	py_code_free(&c);
	/* An unreadable qualname: the plain name stands in. */
	put64(&f, code + l->code_qualname, 0xdead0000);
	put64(&f, code + l->code_name, fn);
	assert_int_equal(py_code_read(&m, &p, code, &c), 0);
	assert_string_equal(c.qualname, "/srv/app.py");
	py_code_free(&c);
	put64(&f, code + l->code_qualname, qn);
	put64(&f, qn + l->str_length, 10);
	/* no location for 1 unit, then +2 lines for 1 unit (no-column form) */
	put64(&f, lt + l->bytes_size, 3);
	memcpy(f.b + (lt + l->bytes_data - FAKE_BASE), "\xf8\xe8\x04", 3);
	assert_int_equal(py_code_read(&m, &p, code, &c), 0);
	assert_string_equal(c.qualname, "Bakery.run");
	assert_int_equal(c.linetable_len, 3);
	assert_int_equal(py_code_line(c.linetable, c.linetable_len, c.firstlineno, 0), -1);
	assert_int_equal(py_code_line(c.linetable, c.linetable_len, c.firstlineno, 1), 12);
	assert_int_equal(py_code_line(c.linetable, c.linetable_len, c.firstlineno, 2), -1);
	py_code_free(&c);
	/* A str that is not compact (legacy layout): refused, the name from co_name. */
	put32(&f, qn + l->str_state, 1u << 2 | 1u << 7);
	assert_int_equal(py_code_read(&m, &p, code, &c), 0);
	assert_string_equal(c.qualname, "/srv/app.py");
	py_code_free(&c);
}

/* ---- the store of code object records, and Python frames in a symbolized stack ------------- */

static void test_pycodes(void **state)
{
	struct symbolizer_py_code a = {.code = 0x1000,
				       .firstlineno = 3,
				       .qualname = "A.f",
				       .filename = "/a.py",
				       .linetable = (const unsigned char *)"\xf8",
				       .linetable_len = 1};
	struct symbolizer_py_code b = a;
	const struct pycode *pc;
	struct pycodes_stats st;
	struct pycodes *c;
	size_t one;

	(void)state;
	assert_int_equal(pycodes_new(1 << 20, &c), 0);
	assert_int_equal(pycodes_add(c, 10, &a), 0);
	pc = pycodes_get(c, 10, 0x1000);
	assert_non_null(pc);
	assert_string_equal(pc->qualname, "A.f");
	assert_string_equal(pc->filename, "/a.py");
	assert_int_equal(pc->linetable_len, 1);
	/* Another pid, the same address: apart. */
	assert_null(pycodes_get(c, 11, 0x1000));
	/* The same (pid, address) again: replaced (another object there now). */
	b.qualname = "B.g";
	assert_int_equal(pycodes_add(c, 10, &b), 1);
	assert_string_equal(pycodes_get(c, 10, 0x1000)->qualname, "B.g");
	pycodes_get_stats(c, &st);
	assert_int_equal(st.entries, 1);
	one = st.bytes;
	/* Forgetting a pid drops its entries only. */
	b.code = 0x2000;
	assert_int_equal(pycodes_add(c, 11, &b), 0);
	pycodes_forget(c, 10);
	assert_null(pycodes_get(c, 10, 0x1000));
	assert_non_null(pycodes_get(c, 11, 0x2000));
	pycodes_forget(c, 11);
	pycodes_forget(c, 12); /* never seen */
	pycodes_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	pycodes_free(c);

	/* A budget of three entries: the least recently used goes first. */
	assert_int_equal(pycodes_new(3 * one + one / 2, &c), 0);
	for (uint64_t k = 1; k <= 3; k++) {
		a.code = k;
		assert_int_equal(pycodes_add(c, 10, &a), 0);
	}
	assert_non_null(pycodes_get(c, 10, 1)); /* 1 is now the most recent */
	a.code = 4;
	assert_int_equal(pycodes_add(c, 10, &a), 0);
	assert_null(pycodes_get(c, 10, 2));
	assert_non_null(pycodes_get(c, 10, 1));
	assert_non_null(pycodes_get(c, 10, 4));
	pycodes_get_stats(c, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.entries, 3);
	/* A record bigger than the whole budget is refused, nothing else lost. */
	a.linetable_len = 4 * one;
	a.linetable = calloc(1, a.linetable_len);
	assert_int_equal(pycodes_add(c, 10, &a), -ENOMEM);
	free((void *)a.linetable);
	pycodes_get_stats(c, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.entries, 3);
	pycodes_free(c);
}

static void test_symbolizer_frames(void **state)
{
	/* "\xf8\xe8\x04": unit 0 no line, unit 1 first line + 2 */
	const struct symbolizer_py_code code = {.code = 0x7f0000001000,
						.firstlineno = 40,
						.qualname = "Bakery.run",
						.filename = "/srv/bakery.py",
						.linetable = (const unsigned char *)"\xf8\xe8\x04",
						.linetable_len = 3};
	const uint64_t ips[3] = {
	    PY_FRAME_TAG | 1ull << PY_LASTI_SHIFT | 0x7f0000001000,
	    PY_FRAME_TAG | (uint64_t)PY_LASTI_NONE << PY_LASTI_SHIFT | 0x7f0000001000,
	    PY_FRAME_TAG | 0x7f0000002000, /* no record */
	};
	struct symbolizer_stats st;
	struct symbolizer *s;
	struct sym_result *r;
	struct procmaps *maps;

	(void)state;
	assert_int_equal(symbolizer_new(NULL, &s), 0);
	assert_int_equal(procmaps_parse("", 0, 0, &maps), 0);
	assert_int_equal(symbolizer_py_code_add(s, 4242, &code), 0);
	assert_int_equal(symbolizer_user(s, 4242, maps, ips, 3, &r), 0);
	assert_int_equal(r->nr, 3);
	assert_int_equal(r->frames[0].nr_lines, 1);
	assert_string_equal(r->frames[0].lines[0].function, "Bakery.run");
	assert_string_equal(r->frames[0].lines[0].file, "/srv/bakery.py");
	assert_int_equal(r->frames[0].lines[0].line, 42);
	assert_int_equal(r->frames[0].lines[0].start_line, 40);
	assert_null(r->frames[0].mapping);
	/* The instruction unknown: the function, no line. */
	assert_string_equal(r->frames[1].lines[0].function, "Bakery.run");
	assert_int_equal(r->frames[1].lines[0].line, 0);
	/* No record: the placeholder, never another object's name. */
	assert_int_equal(r->frames[2].nr_lines, 1);
	assert_string_equal(r->frames[2].lines[0].function, PY_UNKNOWN_FRAME);
	sym_result_free(r);
	/* Another process with the same address has no record of it. */
	assert_int_equal(symbolizer_user(s, 4243, maps, ips, 1, &r), 0);
	assert_string_equal(r->frames[0].lines[0].function, PY_UNKNOWN_FRAME);
	sym_result_free(r);
	symbolizer_py_forget(s, 4242);
	assert_int_equal(symbolizer_user(s, 4242, maps, ips, 1, &r), 0);
	assert_string_equal(r->frames[0].lines[0].function, PY_UNKNOWN_FRAME);
	sym_result_free(r);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.py_frames, 2);
	assert_int_equal(st.py_unknown, 3);
	assert_int_equal(st.py_codes, 0);
	procmaps_free(maps);
	symbolizer_free(s);
}

static void test_str_utf8(void **state)
{
	const unsigned char ucs2[] = {'a',  0,	  0xe9, 0,
				      0x00, 0xd8, 0,	0}; /* a, é, lone surrogate, NUL */
	const uint32_t ucs4[] = {0x1f600, 0x110000};
	char out[16];

	(void)state;
	assert_int_equal(py_str_utf8(ucs2, sizeof(ucs2), 2, out, sizeof(out)), 1 + 2 + 3 + 3);
	assert_string_equal(out, "a\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd");
	assert_int_equal(
	    py_str_utf8((const unsigned char *)ucs4, sizeof(ucs4), 4, out, sizeof(out)), 4 + 3);
	assert_string_equal(out, "\xf0\x9f\x98\x80\xef\xbf\xbd");
	/* Cut to fit, never in the middle of a character. */
	assert_int_equal(py_str_utf8((const unsigned char *)ucs4, sizeof(ucs4), 4, out, 6), 4);
	assert_int_equal(py_str_utf8((const unsigned char *)"abc", 3, 3, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_vs_headers),
	    cmocka_unit_test(test_linetable_vs_co_lines),
	    cmocka_unit_test(test_probe),
	    cmocka_unit_test(test_live),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_pycodes),
	    cmocka_unit_test(test_symbolizer_frames),
	    cmocka_unit_test(test_str_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
