// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer: the Go pclntab reader, both on a raw table (first byte picks a
 * text start) and as an ELF file whose .gopclntab section it must find.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gopclntab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void probe(const struct gopclntab *t, const uint8_t *data, size_t size)
{
	const char *name;
	uint64_t start, addr;
	size_t i;

	for (i = 0; i + 8 <= size && i < 512; i += 8) {
		memcpy(&addr, data + i, sizeof(addr));
		if (!gopclntab_lookup(t, addr, &name, &start)) {
			if (start > addr || strlen(name) >= GOPCLNTAB_MAX_NAME)
				__builtin_trap();
		}
	}
	gopclntab_lookup(t, 0, &name, NULL);
	gopclntab_lookup(t, UINT64_MAX, &name, NULL);
}

#define FUZZ_BUDGET (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parse_budget b = parse_budget_make(FUZZ_BUDGET + 2 * (uint64_t)size);
	struct gopclntab *t = NULL;

	if (!gopclntab_open_mem_budget(data, size, 0, &b, &t)) {
		if (b.used > b.limit)
			__builtin_trap();
		probe(t, data, size);
		gopclntab_free(t);
		t = NULL;
	}
	if (size > 1 && !gopclntab_parse(data + 1, size - 1, data[0] ? 0x401000 : 0, &t)) {
		probe(t, data, size);
		gopclntab_free(t);
	}
	return 0;
}
