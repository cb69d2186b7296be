// SPDX-License-Identifier: Apache-2.0
/*
 * stackd-pystack: the Python stacks of a running CPython process, read from
 * outside it with symbolize's python reader (what the agent's Python frames
 * are built on). For people checking what stackd can see of a process, and
 * for the tests of that reader against a live interpreter.
 *
 *   stackd-pystack [--raw] PID
 *
 * Prints, per thread state: "thread <native tid>", then one frame a line,
 * innermost first: "  <qualified name> (<file>:<line>)", with " [entry]"
 * on the first frame of each _PyEval_EvalFrameDefault call. --raw adds the
 * code object address and instruction index. The process is read as it runs
 * (stop it first for a consistent picture: kill -STOP).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize/procmaps.h"
#include "symbolize/python.h"

#define MAX_FRAMES 256

/* The CPython runtime among @pid's mappings: 0 and *@p, else -ENOENT/-ENOTSUP. */
static int find_runtime(pid_t pid, const struct procmaps *maps, struct py_proc *p,
			const char **path, uint32_t *version)
{
	int err = -ENOENT;
	size_t i;

	for (i = 0; i < maps->nr; i++) {
		const struct procmap *m = &maps->maps[i];
		struct py_runtime rt;
		uint64_t bias;
		int fd, e;

		/* The object's first mapping: python3.X or libpython3.X.so. */
		if (!m->inode || m->path[0] != '/' || m->offset ||
		    (i && maps->maps[i - 1].inode == m->inode &&
		     !strcmp(maps->maps[i - 1].path, m->path)))
			continue;
		if (!strstr(m->path, "python"))
			continue;
		fd = procmaps_open_object("/proc", pid, m);
		if (fd < 0)
			continue;
		e = py_runtime_probe_fd(fd, &rt);
		close(fd);
		if (e == -ENOTSUP) {
			*version = rt.hexversion;
			*path = m->path;
			err = e;
		}
		if (e)
			continue;
		if (py_runtime_bias(&rt, m->start, m->offset, &bias))
			continue;
		py_proc_init(p, &rt, bias);
		*path = m->path;
		*version = rt.hexversion;
		return 0;
	}
	return err;
}

int main(int argc, char **argv)
{
	struct py_thread threads[256];
	struct procmaps *maps = NULL;
	struct py_proc p;
	const char *path = "";
	uint32_t version = 0;
	bool raw = false;
	pid_t pid;
	char *end;
	int i, n, err;

	if (argc == 3 && !strcmp(argv[1], "--raw")) {
		raw = true;
		argv++;
		argc--;
	}
	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc == 2 ? stdout : stderr,
			"usage: stackd-pystack [--raw] PID\n"
			"The Python stack of every thread of CPython process PID (3.11), read from "
			"outside it.\n");
		return argc == 2 ? 0 : 2;
	}
	errno = 0;
	pid = (pid_t)strtol(argv[1], &end, 10);
	if (errno || *end || pid <= 0) {
		fprintf(stderr, "stackd-pystack: not a pid: '%s'\n", argv[1]);
		return 2;
	}
	err = procmaps_read("/proc", pid, 0, &maps);
	if (err) {
		fprintf(stderr, "stackd-pystack: cannot read /proc/%d/maps: %s\n", (int)pid,
			strerror(-err));
		return 1;
	}
	err = find_runtime(pid, maps, &p, &path, &version);
	if (err == -ENOTSUP) {
		fprintf(stderr, "stackd-pystack: %s is CPython %u.%u, which has no layout here\n",
			path, version >> 24, version >> 16 & 0xff);
		procmaps_free(maps);
		return 1;
	}
	if (err) {
		fprintf(stderr, "stackd-pystack: pid %d maps no CPython runtime\n", (int)pid);
		procmaps_free(maps);
		return 1;
	}
	printf("pid %d CPython %u.%u.%u (%s)\n", (int)pid, version >> 24, version >> 16 & 0xff,
	       version >> 8 & 0xff, path);
	n = py_threads(&(struct procmem){.ctx = &pid, .read = procmem_read_process}, &p, threads,
		       sizeof(threads) / sizeof(threads[0]));
	if (n < 0) {
		fprintf(stderr, "stackd-pystack: cannot read the runtime of pid %d: %s\n", (int)pid,
			strerror(-n));
		procmaps_free(maps);
		return 1;
	}
	for (i = 0; i < n; i++) {
		const struct procmem m = {.ctx = &pid, .read = procmem_read_process};
		struct py_frame frames[MAX_FRAMES];
		int j, nf;

		printf("thread %" PRIu64 "\n", threads[i].native_tid);
		nf = py_stack(&m, &p, threads[i].tstate, frames, MAX_FRAMES);
		if (nf < 0)
			printf("  [unreadable: %s]\n", strerror(-nf));
		for (j = 0; j < nf; j++) {
			struct py_code c;
			int line = -1;

			if (py_code_read(&m, &p, frames[j].code, &c)) {
				printf("  [unknown code object 0x%" PRIx64 "]\n", frames[j].code);
				continue;
			}
			if (c.linetable)
				line = py_code_line(c.linetable, c.linetable_len, c.firstlineno,
						    frames[j].lasti);
			printf("  %s (%s:%d)%s", c.qualname, c.filename, line,
			       frames[j].is_entry ? " [entry]" : "");
			if (raw)
				printf(" code=0x%" PRIx64 " lasti=%u", frames[j].code,
				       frames[j].lasti);
			printf("\n");
			py_code_free(&c);
		}
	}
	procmaps_free(maps);
	return 0;
}
