// SPDX-License-Identifier: Apache-2.0
/*
 * The unwind table compiler on arbitrary bytes. An input is one flags byte,
 * a u32 ELF address and a section: .eh_frame compiled directly at that
 * address, or (flags bit 0) .debug_frame converted by unwtab first, into an
 * object image spanning [0, 16 MiB) like fuzz_unwtab's. The whole input is
 * also tried as an ELF file (the ELF seeds). Bits 1..3 of the flags pick a
 * row cap, so the -E2BIG path is reached too.
 *
 * Whatever table comes out must be what cfitab_abi.h promises: rows strictly
 * sorted, neighbours different, inside the span, known kinds, a gap row
 * last, within the row cap, its stats adding up; and every lookup must land
 * on the last row at or below the address.
 */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/cfitab.h"
#include "unwtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SPAN (16u << 20)

static void check(const struct cfitab *t, uint64_t span, uint32_t max_rows)
{
	uint32_t i, sum = 0;

	if (!t->nr_rows || t->nr_rows > max_rows ||
	    t->bytes != sizeof(*t) + t->nr_rows * sizeof(t->rows[0]))
		abort();
	for (i = 0; i < t->nr_rows; i++) {
		unsigned int rule = t->rows[i].rule;

		if (t->rows[i].pc > span || CFITAB_RULE_CFA(rule) > CFITAB_CFA_UNSUP)
			abort();
		if (i && (t->rows[i - 1].pc >= t->rows[i].pc || t->rows[i - 1].rule == rule))
			abort();
		/* Only the stack-pointer kinds carry an rbp rule or an offset. */
		if (CFITAB_RULE_CFA(rule) != CFITAB_CFA_RSP &&
		    CFITAB_RULE_CFA(rule) != CFITAB_CFA_RBP &&
		    CFITAB_RULE_RBP(rule) != CFITAB_RBP_SAME)
			abort();
	}
	if (CFITAB_RULE_CFA(t->rows[t->nr_rows - 1].rule) != CFITAB_CFA_GAP)
		abort();
	for (i = 0; i < 8; i++)
		sum += t->stats.rows_by_cfa[i];
	if (sum != t->nr_rows || t->stats.fdes_bad > t->stats.fdes ||
	    t->stats.cies_bad > t->stats.cies)
		abort();
	/* Lookups at each row, just below it, and between. */
	for (i = 0; i < t->nr_rows; i++) {
		uint64_t a = t->base + t->rows[i].pc;
		const struct cfitab_row *r = cfitab_lookup(t, a), *p = cfitab_lookup(t, a - 1);

		if (r != &t->rows[i] || (i ? p != &t->rows[i - 1] : p != NULL))
			abort();
	}
}

static uint32_t cap_of(uint8_t flags)
{
	static const uint32_t caps[8] = {0, 1, 2, 3, 8, 64, 4096, CFITAB_MAX_ROWS};

	return caps[(flags >> 1) & 7];
}

static void run_eh(const uint8_t *sect, size_t len, uint32_t vaddr, uint32_t cap)
{
	struct cfitab_sect s = {sect, len, vaddr};
	struct cfitab_opts o = {.lo = 0, .hi = SPAN, .max_rows = cap};
	struct cfitab *t = NULL;
	int err = cfitab_build(&s, 1, &o, &t);

	if (err && (t || (err != -ENOENT && err != -E2BIG && err != -ENOMEM)))
		abort();
	if (!err)
		check(t, SPAN, cap ? cap : CFITAB_MAX_ROWS);
	cfitab_free(t);
}

static void run_unwtab(const struct unwtab *u, uint32_t cap)
{
	struct cfitab *t = NULL;

	if (!cfitab_from_unwtab(u, cap, &t))
		check(t, u->image_hi - u->image_lo, cap ? cap : CFITAB_MAX_ROWS);
	cfitab_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unwtab *u = NULL;
	uint32_t vaddr, cap;

	if (!unwtab_open_mem(data, size, &u)) {
		run_unwtab(u, 0);
		unwtab_free(u);
	}
	if (size < 5)
		return 0;
	cap = cap_of(data[0]);
	memcpy(&vaddr, data + 1, 4);
	if (!(data[0] & 1)) {
		run_eh(data + 5, size - 5, vaddr % SPAN, cap);
		return 0;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return 0;
	u->e_type = ET_EXEC;
	u->nr_loads = 1;
	u->loads[0] = (struct unwtab_load){0, 0, SPAN, SPAN};
	u->image_lo = 0;
	u->image_hi = SPAN;
	u->bytes = sizeof(*u);
	if (!unwtab_add_debug_frame(u, data + 5, size - 5))
		run_unwtab(u, cap);
	unwtab_free(u);
	return 0;
}
