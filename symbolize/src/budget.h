/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A byte budget for parsing one untrusted object (private to the symbolizer).
 *
 * Parsers charge it *before* every allocation whose size the file decides
 * (a section read whole, an inflated section, a table sized from a header
 * count, an array grown per entry); a charge that does not fit fails with
 * -EFBIG and nothing is allocated. One budget spans everything read from one
 * object at a time, so ten 1 GiB sections cost at most the budget, not
 * 10 GiB. Charges are not given back inside a parse: the budget bounds the
 * sum of what one parse allocates, hence its peak.
 *
 * @refused keeps the size of the first charge that did not fit, for the
 * counters (bytes the object asked for and did not get).
 */
#ifndef STACKD_SYMBOLIZE_BUDGET_H
#define STACKD_SYMBOLIZE_BUDGET_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* What a parse may allocate when its caller sets no budget (tests, tools). */
#define PARSE_BUDGET_DEFAULT (256ull << 20)

struct parse_budget {
	uint64_t limit;
	uint64_t used;
	uint64_t refused; /* the first charge that failed, 0 if none */
};

static inline struct parse_budget parse_budget_make(uint64_t limit)
{
	return (struct parse_budget){.limit = limit};
}

/* Reserve @n bytes: 0, or -EFBIG (recorded in @refused) when they do not fit. */
static inline int budget_charge(struct parse_budget *b, uint64_t n)
{
	if (n > b->limit - b->used) {
		if (!b->refused)
			b->refused = n;
		return -EFBIG;
	}
	b->used += n;
	return 0;
}

static inline uint64_t budget_left(const struct parse_budget *b)
{
	return b->limit - b->used;
}

#endif
