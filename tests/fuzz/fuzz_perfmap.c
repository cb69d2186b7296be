// SPDX-License-Identifier: Apache-2.0
/* libFuzzer: perfmap_parse on arbitrary text, then check the table's invariants. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "perfmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perfmap *pm = NULL;
	const char *name;
	uint64_t start, addr;
	size_t i;

	if (perfmap_parse((const char *)data, size, &pm))
		return 0;
	if (perfmap_nr(pm) > size)
		__builtin_trap();
	/* Probe at addresses the input itself suggests, and at the extremes. */
	for (i = 0; i + 8 <= size && i < 256; i += 8) {
		memcpy(&addr, data + i, sizeof(addr));
		if (!perfmap_lookup(pm, addr, &name, &start)) {
			if (start > addr || strlen(name) >= PERFMAP_MAX_NAME)
				__builtin_trap();
		}
	}
	perfmap_lookup(pm, 0, &name, NULL);
	perfmap_lookup(pm, UINT64_MAX, &name, NULL);
	perfmap_free(pm);
	return 0;
}
