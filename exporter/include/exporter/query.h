/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsing of untrusted request targets. Pure functions
 * over NUL-terminated strings: no allocation, no MHD.
 */
#ifndef STACKD_EXPORTER_QUERY_H
#define STACKD_EXPORTER_QUERY_H

#include <stddef.h>

/* Most digits accepted in ?seconds= (the value must also fit the maximum). */
#define HTTP_SECONDS_MAX_DIGITS 10

enum seconds_err {
	SECONDS_OK,
	SECONDS_INVALID,
	SECONDS_DUPLICATE,
	SECONDS_TOO_LARGE,
};

/* NULL when @uri is acceptable, else the reason (bad %-encoding, NUL, control bytes). */
const char *uri_check(const char *uri);
/* Form-decode s[0..n) into out; the decoded length, or -1 when it does not fit. */
int form_decode(const char *s, size_t n, char *out, size_t out_sz);
/* Find ?seconds= in a raw query: strictly 1..10 digits, non-zero, at most once. */
enum seconds_err parse_seconds(const char *query, unsigned max, unsigned *seconds);

#endif
