// SPDX-License-Identifier: Apache-2.0
/*
 * The CPython reader on arbitrary bytes, three ways:
 *   - bytes starting "\x7fELF": an object for py_runtime_probe_mem() (seed: a
 *     tiny object that exports the runtime's symbols, built with the fuzzer);
 *   - else by the first byte, even: a 3.11 location table for py_code_line()
 *     (first line and instruction from the next 8 bytes);
 *   - odd: a process's memory at FAKE_BASE holding the runtime at its start: the
 *      thread list, every thread's frames, and every frame's code object read
 *      and its line looked up, as stackd-pystack does.
 * Whatever comes in, names stay NUL-terminated within PY_MAX_NAME and the
 * line table within PY_MAX_LINETABLE (ASan and the malloc limit check the rest).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/python.h"

#define FAKE_BASE 0x10000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct image {
	const uint8_t *b;
	size_t len;
};

static int image_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct image *im = ctx;

	if (addr < FAKE_BASE || addr - FAKE_BASE > im->len || len > im->len - (addr - FAKE_BASE))
		return -14;
	memcpy(buf, im->b + (addr - FAKE_BASE), len);
	return 0;
}

static void walk_memory(const uint8_t *data, size_t size)
{
	struct image im = {.b = data, .len = size};
	const struct procmem m = {.ctx = &im, .read = image_read};
	const struct py_proc p = {
	    .layout = py_layout_find(0x030b0000),
	    .runtime = FAKE_BASE,
	    .code_type = 0x11,
	    .str_type = 0x22,
	    .bytes_type = 0x33,
	};
	struct py_thread th[8];
	struct py_frame fr[16];
	int n, i, nf, j;

	n = py_threads(&m, &p, th, 8);
	for (i = 0; i < n; i++) {
		nf = py_stack(&m, &p, th[i].tstate, fr, 16);
		for (j = 0; j < nf; j++) {
			struct py_code c;

			if (py_code_read(&m, &p, fr[j].code, &c))
				continue;
			if (strlen(c.qualname) >= PY_MAX_NAME ||
			    strlen(c.filename) >= PY_MAX_NAME || c.linetable_len > PY_MAX_LINETABLE)
				abort();
			(void)py_code_line(c.linetable, c.linetable_len, c.firstlineno,
					   fr[j].lasti);
			py_code_free(&c);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_runtime rt;
	int32_t first;
	uint32_t lasti;

	if (size >= 4 && !memcmp(data,
				 "\x7f"
				 "ELF",
				 4)) {
		(void)py_runtime_probe_mem(data, size, &rt);
	} else if (size >= 9 && !(data[0] & 1)) {
		memcpy(&first, data + 1, 4);
		memcpy(&lasti, data + 5, 4);
		(void)py_code_line(data + 9, size - 9, first, lasti);
	} else if (size >= 1) {
		walk_memory(data + 1, size - 1);
	}
	return 0;
}
