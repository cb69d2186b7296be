// SPDX-License-Identifier: Apache-2.0
/* libFuzzer: procmaps_parse on arbitrary text, then check the snapshot's invariants. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "symbolize/procmaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct procmaps *m = NULL;
	const struct procmap *p;
	unsigned flags;
	size_t i;

	for (flags = 0; flags <= PROCMAPS_EXEC_ONLY; flags += PROCMAPS_EXEC_ONLY) {
		if (procmaps_parse((const char *)data, size, flags, &m))
			continue;
		for (i = 0; i < m->nr; i++) {
			p = &m->maps[i];
			/* Sorted, non-empty, non-overlapping: what the binary search relies on. */
			if (p->start >= p->end || (i && p->start < m->maps[i - 1].end))
				__builtin_trap();
			if ((flags & PROCMAPS_EXEC_ONLY) && !(p->perms & PROCMAP_EXEC))
				__builtin_trap();
			if (strlen(p->path) > size)
				__builtin_trap();
			if (procmaps_find(m, p->start) != p || procmaps_find(m, p->end - 1) != p)
				__builtin_trap();
			procmaps_find(m, p->end);
		}
		procmaps_find(m, 0);
		procmaps_find(m, UINT64_MAX);
		procmaps_free(m);
		m = NULL;
	}
	return 0;
}
