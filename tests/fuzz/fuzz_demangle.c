// SPDX-License-Identifier: Apache-2.0
/* libFuzzer: demangle() on arbitrary names; it must never crash or over-read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "demangle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name, *out;

	/* Names are NUL-terminated strings; also try the two mangled prefixes. */
	name = malloc(size + 3);
	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	out = demangle(name);
	if (out && strlen(out) == 0)
		__builtin_trap();
	free(out);
	if (size && data[0] != '_') {
		memmove(name + 2, name, size + 1);
		name[0] = '_';
		name[1] = (data[0] & 1) ? 'R' : 'Z';
		free(demangle(name));
	}
	free(name);
	return 0;
}
