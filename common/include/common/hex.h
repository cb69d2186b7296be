/* SPDX-License-Identifier: Apache-2.0 */
/* Hex digits for the parsers of untrusted text (/proc files, perf maps, URLs). */
#ifndef STACKD_COMMON_HEX_H
#define STACKD_COMMON_HEX_H

#include <stdbool.h>
#include <stdint.h>

/* The value of hex digit @c, or -1. */
static inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse hex digits at *pp (before @end) up to the first non-digit; at least
 * one digit, no overflow past 64 bits. Advances *pp on success.
 */
static inline bool hex_parse_u64(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	int d, n = 0;

	while (p < end && (d = hex_digit(*p)) >= 0) {
		if (v >> 60)
			return false;
		v = (v << 4) | (uint64_t)d;
		p++;
		n++;
	}
	if (!n)
		return false;
	*pp = p;
	*out = v;
	return true;
}

#endif
