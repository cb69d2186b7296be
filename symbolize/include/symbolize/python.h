/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPython's frames, read from outside the interpreter (issue 13's first
 * step: the user-space half, and a reader that tests and tools use).
 *
 * A CPython process is recognized by an object it maps (the python3.X
 * executable or libpython3.X.so) that exports _PyRuntime and Py_Version:
 * py_runtime_probe_*() reads those symbols' addresses from the object's
 * .dynsym and the version word from the file, and picks the structure layout
 * of that version (struct py_layout, one table per minor version; 3.11 only
 * for now). Nothing is taken from the process's say-so: the layout comes
 * from the version the file states, and every pointer read through it is
 * checked (type objects by address, sizes capped) before anything is
 * allocated.
 *
 * Memory of the process is read through a caller's callback (struct procmem:
 * process_vm_readv in tools, a buffer in tests and fuzzing), in small
 * bounded reads; a read that fails ends that walk or that name, never
 * anything else.
 *
 * The walk (3.11): _PyRuntime.interpreters.head -> PyInterpreterState
 * .threads.head -> PyThreadState (next...), each with its native thread id
 * and cframe->current_frame -> _PyInterpreterFrame (previous...), each frame
 * naming its code object and its last instruction. py_code_read() turns a
 * code object into its qualified name, file name and line table;
 * py_code_line() the line of an instruction (the 3.11 location table).
 */
#ifndef STACKD_SYMBOLIZE_PYTHON_H
#define STACKD_SYMBOLIZE_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolize/elfdyn.h"
#include "symbolize/procmem.h"

#define PY_MAX_NAME	 512	      /* bytes of UTF-8 kept of a name or file name (truncated) */
#define PY_MAX_LINETABLE (256u << 10) /* a bigger location table is not read */
#define PY_MAX_THREADS	 4096	      /* thread states one walk of a process lists */
#define PY_MAX_INTERPS	 64	      /* interpreters one walk visits */

/*
 * A Python frame in a stack of addresses (bpf/stackd.h says the same):
 * PY_FRAME_TAG | lasti << PY_LASTI_SHIFT | code object address.
 */
#define PY_FRAME_TAG   (1ULL << 63)
#define PY_LASTI_SHIFT 48
#define PY_LASTI_NONE  0x7fffu
#define PY_CODE_MASK   ((1ULL << 48) - 1)

static inline bool py_is_frame(uint64_t ip)
{
	return (ip & PY_FRAME_TAG) != 0;
}

static inline uint64_t py_frame_code(uint64_t ip)
{
	return ip & PY_CODE_MASK;
}

static inline uint32_t py_frame_lasti(uint64_t ip)
{
	return (uint32_t)(ip >> PY_LASTI_SHIFT) & PY_LASTI_NONE;
}

/*
 * A str's code points as copied raw (@kind bytes each: 1, 2 or 4; @len
 * bytes) into @dst as UTF-8, NUL-terminated, cut to fit @cap; surrogates and
 * NULs become U+FFFD. Returns the bytes written (without the NUL).
 */
size_t py_str_utf8(const unsigned char *raw, size_t len, unsigned kind, char *dst, size_t cap);

/* Byte offsets into one CPython minor version's structures. */
struct py_layout {
	uint32_t version; /* PY_VERSION_HEX of the minor version: 0x030b0000 */
	const char *name; /* "3.11" */
	uint16_t runtime_interp_head;
	uint16_t interp_next, interp_threads_head;
	uint16_t tstate_next, tstate_native_tid, tstate_cframe;
	uint16_t cframe_current_frame;
	uint16_t frame_code, frame_previous, frame_prev_instr, frame_is_entry, frame_owner;
	uint16_t code_filename, code_name, code_qualname, code_linetable, code_firstlineno;
	uint16_t code_firsttraceable, code_code; /* _co_firsttraceable, co_code_adaptive */
	uint16_t bytes_size, bytes_data;
	uint16_t str_length, str_state, str_ascii_data, str_compact_data;
	uint8_t frame_owned_by_generator;
};

/* The layout of the CPython minor version of @hexversion (PY_VERSION_HEX), or NULL. */
const struct py_layout *py_layout_find(uint32_t hexversion);

/* What an object tells of the runtime it holds; addresses are the object's own (ELF vaddr). */
struct py_runtime {
	uint64_t runtime;    /* _PyRuntime */
	uint64_t code_type;  /* PyCode_Type */
	uint64_t str_type;   /* PyUnicode_Type */
	uint64_t bytes_type; /* PyBytes_Type */
	uint64_t eval_lo;    /* _PyEval_EvalFrameDefault, [lo, hi) */
	uint64_t eval_hi;
	uint32_t hexversion; /* Py_Version */
	const struct py_layout *layout;
	struct elfdyn elf; /* its segments, for the bias */
};

/*
 * Recognize CPython in the ELF object behind @fd (read with pread): 0 and
 * *@out; -ENOENT when it is no CPython runtime (no _PyRuntime, Py_Version or
 * PyCode_Type in .dynsym); -ENOTSUP when its version has no layout (the
 * version is in out->hexversion); -ENOEXEC, -EINVAL for a broken file. At
 * most 16 MiB of symbol and string tables are read.
 */
int py_runtime_probe_fd(int fd, struct py_runtime *out);
int py_runtime_probe_mem(const void *data, size_t len, struct py_runtime *out);
/*
 * The load bias of a mapping of the object at @start, from file offset
 * @offset: runtime address = ELF vaddr + bias. 0, or -ENOENT when no load
 * segment holds @offset.
 */
int py_runtime_bias(const struct py_runtime *rt, uint64_t start, uint64_t offset, uint64_t *bias);

/* One process's runtime at its addresses (py_runtime + bias). */
struct py_proc {
	const struct py_layout *layout;
	uint64_t runtime, code_type, str_type, bytes_type;
	uint64_t eval_lo, eval_hi;
};

void py_proc_init(struct py_proc *p, const struct py_runtime *rt, uint64_t bias);

struct py_thread {
	uint64_t tstate;
	uint64_t native_tid;
};

/*
 * The thread states of every interpreter, up to @max (and PY_MAX_THREADS):
 * how many were listed, or -errno when the runtime could not be read. A
 * cycle in a hostile list ends at the caps.
 */
int py_threads(const struct procmem *m, const struct py_proc *p, struct py_thread *out, size_t max);

struct py_frame {
	uint64_t code;	/* PyCodeObject */
	uint32_t lasti; /* the instruction being executed, in code units (2 bytes) */
	bool is_entry;	/* the first frame of a _PyEval_EvalFrameDefault call */
};

/*
 * The frames of thread state @tstate, innermost first, up to @max: how
 * many, or -errno when the thread state could not be read. A frame that
 * has not started (its last instruction before its first traceable one) is
 * skipped, as CPython's own tracebacks do.
 */
int py_stack(const struct procmem *m, const struct py_proc *p, uint64_t tstate,
	     struct py_frame *out, size_t max);

/* A code object as py_code_read() read it. */
struct py_code {
	char qualname[PY_MAX_NAME]; /* "Bakery.run"; "" when unreadable */
	char filename[PY_MAX_NAME];
	int firstlineno;
	unsigned char *linetable; /* co_linetable (malloc'd; NULL when unreadable) */
	size_t linetable_len;
};

/*
 * Read code object @code: 0 and *@out (py_code_free() it), -EINVAL when
 * @code is not a code object of this runtime (its type is not PyCode_Type)
 * or its fields are not what they must be, -ENOMEM, or the read's error.
 */
int py_code_read(const struct procmem *m, const struct py_proc *p, uint64_t code,
		 struct py_code *out);
void py_code_free(struct py_code *c);

/*
 * The source line of instruction @lasti (code units) by the 3.11 location
 * table @tab (co_linetable) of a code object starting at @firstlineno; -1
 * when the table has no line for it (or is malformed there).
 */
int py_code_line(const unsigned char *tab, size_t len, int firstlineno, uint32_t lasti);

#endif
