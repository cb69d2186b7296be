// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer: DWARF of an in-memory ELF image (dwsym_open_mem, the same code
 * path as a file but for the pread), then lookups at both ends and the
 * middle of every CU range, so each CU's line program and DIE tree are
 * parsed, plus addresses taken from the input. Errors are fine; crashes,
 * hangs, leaks and runaway allocations are not.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dwarf.h"

#define MAX_RANGES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void probe(struct dwsym *d, uint64_t addr)
{
	struct dwsym_frame fr[DWSYM_MAX_INLINE];
	int n, i;

	n = dwsym_lookup(d, addr, fr, DWSYM_MAX_INLINE);
	if (n > DWSYM_MAX_INLINE)
		__builtin_trap();
	for (i = 0; i < n; i++) {
		/* Every string handed out must be readable and terminated. */
		if (fr[i].name)
			(void)strlen(fr[i].name);
		if (fr[i].linkage_name)
			(void)strlen(fr[i].linkage_name);
		if (fr[i].file)
			(void)strlen(fr[i].file);
	}
}

/* Small, so a bomb in the corpus is refused; anything unbudgeted trips -malloc_limit_mb. */
#define FUZZ_BUDGET (8u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parse_budget b = parse_budget_make(FUZZ_BUDGET + 2 * (uint64_t)size);
	struct dwsym *d = NULL;
	uint64_t lo, hi, addr;
	size_t i;

	if (dwsym_open_mem_budget(data, size, &b, &d))
		return 0;
	if (b.used > b.limit)
		__builtin_trap();
	for (i = 0; i < MAX_RANGES && !dwsym_range(d, i, &lo, &hi); i++) {
		probe(d, lo);
		probe(d, lo + (hi - lo) / 2);
		probe(d, hi - 1);
		probe(d, lo); /* second time: the cached (or remembered broken) CU */
	}
	for (i = 0; i + 8 <= size && i < 512; i += 8) {
		memcpy(&addr, data + i, 8);
		probe(d, addr);
	}
	if (dwsym_nr_bad_cus(d) > dwsym_nr_cus(d))
		__builtin_trap();
	dwsym_free(d);
	return 0;
}
