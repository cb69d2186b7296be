/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Python code objects of each process, as the in-kernel walk read them
 * (private to the symbolizer): names, file and line table per (pid, code
 * object address), so a Python frame of a stack is named without reading the
 * process (which may be gone). Bounded by a byte budget, least recently used
 * out first; a process's entries go when it exits or execs (pycodes_forget).
 * Not thread-safe, like the symbolizer.
 */
#ifndef STACKD_SYMBOLIZE_PYCODES_H
#define STACKD_SYMBOLIZE_PYCODES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolize/symbolizer.h"

struct pycodes;

struct pycode {
	uint64_t code;
	int32_t firstlineno;
	const char *qualname;
	const char *filename;
	const unsigned char *linetable;
	size_t linetable_len;
};

struct pycodes_stats {
	uint64_t entries;
	uint64_t bytes;
	uint64_t added;	  /* records taken (a replaced object counts again) */
	uint64_t evicted; /* entries dropped for the budget */
	uint64_t refused; /* records bigger than the whole budget, or no memory */
	uint64_t found;	  /* lookups answered */
	uint64_t missing; /* lookups of an object no record came for (placeholder frames) */
};

int pycodes_new(size_t max_bytes, struct pycodes **out);
void pycodes_free(struct pycodes *c);
/* Add (0), or replace the entry of the same (pid, code) (1); -ENOMEM (counted). */
int pycodes_add(struct pycodes *c, pid_t pid, const struct symbolizer_py_code *code);
/* The entry, or NULL; borrowed until the next add or forget. */
const struct pycode *pycodes_get(struct pycodes *c, pid_t pid, uint64_t code);
void pycodes_forget(struct pycodes *c, pid_t pid);
void pycodes_get_stats(const struct pycodes *c, struct pycodes_stats *out);

#endif
