// SPDX-License-Identifier: Apache-2.0
/*
 * agent/pyprocs.c against a live /usr/bin/python3.11 and a native process:
 * the entry it installs names the runtime at the process's addresses (the
 * probe of the same file, moved by the bias), the version's offsets, and
 * read windows that hold every field the walk takes from them; a process
 * that is no CPython gets no entry; a second process of the same file costs
 * no second probe; drop removes the entry of that process only.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ci.h"
#include "pyprocs.h"
#include "symbolize/procmaps.h"
#include "symbolize/python.h"

#define PYTHON "/usr/bin/python3.11"

struct fake_kernel {
	uint32_t tgid;
	struct stackd_py_proc e;
	int sets, dels;
};

static int fake_set(void *ctx, uint32_t tgid, const struct stackd_py_proc *p)
{
	struct fake_kernel *k = ctx;

	k->tgid = tgid;
	k->e = *p;
	k->sets++;
	return 0;
}

static int fake_del(void *ctx, uint32_t tgid, uint64_t start)
{
	struct fake_kernel *k = ctx;

	(void)start;
	if (tgid == k->tgid)
		k->dels++;
	return 0;
}

static pid_t spawn(const char *prog, const char *arg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid) {
		execl(prog, prog, "-c", arg, (char *)NULL);
		_exit(127);
	}
	usleep(300 * 1000);
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/* The fields the walk reads from a window lie inside it. */
static void assert_in(uint16_t win, uint8_t len, uint16_t off, unsigned size)
{
	assert_true(off >= win);
	assert_true(off - win + size <= len);
}

static void test_live(void **state)
{
	struct fake_kernel k = {0};
	const struct pyprocs_ops ops = {.ctx = &k, .set_proc = fake_set, .del_proc = fake_del};
	const struct py_layout *l;
	struct pyprocs_stats st;
	struct procmaps *maps;
	struct py_runtime rt;
	struct pyprocs *pp;
	pid_t py, py2, sh;
	int fd;

	(void)state;
	if (access(PYTHON, X_OK)) {
		skip_or_fail(PYTHON " is not installed");
		return;
	}
	fd = open(PYTHON, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(py_runtime_probe_fd(fd, &rt), 0);
	close(fd);
	l = rt.layout;
	assert_int_equal(pyprocs_new("/proc", &ops, &pp), 0);

	py = spawn(PYTHON, "import time; time.sleep(30)");
	assert_int_equal(procmaps_read("/proc", py, PROCMAPS_EXEC_ONLY, &maps), 0);
	pyprocs_update(pp, (uint32_t)py, 1234, maps);
	procmaps_free(maps);
	assert_int_equal(k.sets, 1);
	assert_int_equal(k.tgid, (uint32_t)py);
	assert_int_equal(k.e.start_boottime, 1234);
	/* Debian's python3.11 is not PIE: its addresses are the file's. */
	assert_int_equal(k.e.runtime, rt.runtime);
	assert_int_equal(k.e.eval_lo, rt.eval_lo);
	assert_int_equal(k.e.eval_hi, rt.eval_hi);
	assert_int_equal(k.e.code_type, rt.code_type);
	assert_int_equal(k.e.off[STACKD_PY_TSTATE_NATIVE_TID], l->tstate_native_tid);
	assert_int_equal(k.e.off[STACKD_PY_CODE_CODE], l->code_code);
	assert_in(k.e.frame_win, k.e.frame_len, l->frame_code, 8);
	assert_in(k.e.frame_win, k.e.frame_len, l->frame_previous, 8);
	assert_in(k.e.frame_win, k.e.frame_len, l->frame_prev_instr, 8);
	assert_in(k.e.frame_win, k.e.frame_len, l->frame_is_entry, 1);
	assert_in(k.e.frame_win, k.e.frame_len, l->frame_owner, 1);
	assert_in(k.e.code_win, k.e.code_len, l->code_qualname, 8);
	assert_in(k.e.code_win, k.e.code_len, l->code_firsttraceable, 4);
	assert_true(k.e.frame_len <= STACKD_PY_WIN && k.e.code_len <= STACKD_PY_WIN);

	/* Another process of the same file: an entry, no second probe. */
	py2 = spawn(PYTHON, "import time; time.sleep(30)");
	assert_int_equal(procmaps_read("/proc", py2, PROCMAPS_EXEC_ONLY, &maps), 0);
	pyprocs_update(pp, (uint32_t)py2, 99, maps);
	procmaps_free(maps);
	assert_int_equal(k.sets, 2);
	pyprocs_get_stats(pp, &st);
	assert_int_equal(st.probes, 1);
	assert_int_equal(st.procs, 2);

	/* A process that is no CPython: no entry. */
	sh = spawn("/bin/sh", "exec sleep 30");
	assert_int_equal(procmaps_read("/proc", sh, PROCMAPS_EXEC_ONLY, &maps), 0);
	pyprocs_update(pp, (uint32_t)sh, 5, maps);
	procmaps_free(maps);
	assert_int_equal(k.sets, 2);

	pyprocs_drop(pp, (uint32_t)py2, 99);
	assert_int_equal(k.dels, 1);
	reap(py);
	reap(py2);
	reap(sh);
	pyprocs_free(pp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
