// SPDX-License-Identifier: Apache-2.0
/* libFuzzer: kallsyms_parse on arbitrary text, then lookups around every symbol. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kallsyms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kallsyms *k = NULL;
	const char *name, *mod;
	uint64_t start, addr;
	size_t i;

	if (kallsyms_parse((const char *)data, size, &k))
		return 0;
	if (!kallsyms_nr(k))
		__builtin_trap();
	addr = kallsyms_min_addr(k);
	if (kallsyms_lookup(k, addr, &name, &mod, &start) || start != addr || !*name)
		__builtin_trap();
	/* Probe addresses taken from the input itself. */
	for (i = 0; i + 8 <= size && i < 512; i += 8) {
		memcpy(&addr, data + i, 8);
		if (!kallsyms_lookup(k, addr, &name, &mod, &start)) {
			if (start > addr || addr - start >= KALLSYMS_MAX_SPAN)
				__builtin_trap();
			if (strlen(name) > size || (mod && strlen(mod) > size))
				__builtin_trap();
		}
	}
	kallsyms_free(k);
	return 0;
}
