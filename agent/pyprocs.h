/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPython processes for the in-kernel walk (--python.enabled, kernel mode):
 * from a process's maps snapshot, find the object holding CPython's runtime
 * (a python3.X executable or libpython3.X.so mapping; probed once per file
 * identity, symbolize/python.h), and install the process's py_procs entry:
 * the runtime's addresses in the process and its version's structure
 * offsets. Probed objects are remembered (PYPROCS_CACHE of them, the oldest
 * forgotten first), so a fleet of workers of one interpreter costs one probe.
 *
 * Only objects whose file name starts with "python" or "libpython" are
 * probed: an interpreter linked into another binary under another name is
 * not recognized (counted nowhere: it is simply a native process).
 *
 * Owned by the drain thread; not thread-safe.
 */
#ifndef STACKD_AGENT_PYPROCS_H
#define STACKD_AGENT_PYPROCS_H

#include <stdint.h>

#include "stackd.h"
#include "symbolize/procmaps.h"

#define PYPROCS_CACHE 64

struct pyprocs_ops {
	void *ctx;
	int (*set_proc)(void *ctx, uint32_t tgid, const struct stackd_py_proc *p);
	int (*del_proc)(void *ctx, uint32_t tgid, uint64_t start_boottime);
};

struct pyprocs_stats {
	uint64_t procs;	      /* entries installed (a process's maps changing counts again) */
	uint64_t probes;      /* objects probed */
	uint64_t unsupported; /* ...that were CPython of a version without a layout */
	uint64_t errors;      /* entries the kernel map refused */
};

struct pyprocs;

int pyprocs_new(const char *proc_root, const struct pyprocs_ops *ops, struct pyprocs **out);
void pyprocs_free(struct pyprocs *pp);
/* @tgid's maps were read (new process, exec, maps changed): install its entry if it is CPython. */
void pyprocs_update(struct pyprocs *pp, uint32_t tgid, uint64_t start_boottime,
		    const struct procmaps *maps);
/* @tgid exited or was forgotten: its entry goes. */
void pyprocs_drop(struct pyprocs *pp, uint32_t tgid, uint64_t start_boottime);
void pyprocs_get_stats(const struct pyprocs *pp, struct pyprocs_stats *out);

#endif
