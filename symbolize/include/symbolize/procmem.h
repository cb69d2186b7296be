/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading another process's memory, for the runtimes' readers
 * (symbolize/python.h, symbolize/hotspot.h): they read through this
 * callback, so tests and fuzzers hand them fake memory.
 */
#ifndef STACKD_SYMBOLIZE_PROCMEM_H
#define STACKD_SYMBOLIZE_PROCMEM_H

#include <stddef.h>
#include <stdint.h>

/* Reads @len bytes at @addr of the process: 0, or -errno (nothing read counts). */
struct procmem {
	void *ctx;
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
};

/*
 * A read of a live process (@ctx: a pid_t *): process_vm_readv. It waits for
 * the pages it reads, and a process can make that wait last (userfaultfd, a
 * FUSE file mapped): only tools, tests and the attach helper's short-lived
 * workers (agent/jattach.c), which are killed at their deadline, use it;
 * the agent's own threads never do (the kernel walk reads memory there).
 */
int procmem_read_process(void *ctx, uint64_t addr, void *buf, size_t len);

#endif
