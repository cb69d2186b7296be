// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer: elfsym from an in-memory image, then lookups; errors are fine,
 * crashes not. Parsed within a small budget (FUZZ_BUDGET): an allocation
 * the file sizes but the budget does not see shows up under -malloc_limit_mb,
 * and the budget must never be overdrawn.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "elfsym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BUDGET (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parse_budget b = parse_budget_make(FUZZ_BUDGET + 2 * (uint64_t)size);
	struct elfsym *e = NULL;
	const char *name;
	uint64_t addr, vaddr, start;
	size_t i;

	if (elfsym_open_mem_budget(data, size, &b, &e))
		return 0;
	if (b.used > b.limit)
		__builtin_trap();
	if (strlen(elfsym_build_id(e)) > 2 * ELFSYM_MAX_BUILD_ID)
		__builtin_trap();
	/* Probe offsets and addresses taken from the input itself. */
	for (i = 0; i + 8 <= size && i < 1024; i += 8) {
		memcpy(&addr, data + i, 8);
		if (!elfsym_file_to_vaddr(e, addr, &vaddr) &&
		    !elfsym_lookup(e, vaddr, &name, &start))
			if (start > vaddr || strlen(name) >= ELFSYM_MAX_NAME)
				__builtin_trap();
		if (!elfsym_lookup(e, addr, &name, &start) && start > addr)
			__builtin_trap();
	}
	elfsym_free(e);
	return 0;
}
