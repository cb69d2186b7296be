// SPDX-License-Identifier: Apache-2.0
/* Request-target checks and the strict ?seconds= parser (fuzzed: tests/fuzz/fuzz_query.c). */
#include "exporter/query.h"

#include <stdbool.h>
#include <string.h>

#include "common/hex.h"

/*
 * Rejects what MHD would otherwise let through half-parsed: a '%' not
 * followed by two hex digits, an encoded NUL (MHD's strings would end there)
 * and raw control bytes. Returns NULL when fine, else the reason.
 */
const char *uri_check(const char *uri)
{
	const unsigned char *p;

	for (p = (const unsigned char *)uri; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return "control character in request URI";
		if (*p != '%')
			continue;
		if (hex_digit(p[1]) < 0 || hex_digit(p[2]) < 0)
			return "bad percent-encoding in request URI";
		if (p[1] == '0' && p[2] == '0')
			return "NUL byte in request URI";
		p += 2;
	}
	return NULL;
}

/*
 * Form-decodes s[0..n) ('+' is a space) into out; returns the decoded length
 * or -1 when it does not fit. Input was validated by uri_check().
 */
int form_decode(const char *s, size_t n, char *out, size_t out_sz)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 &&
			   hex_digit(s[i + 2]) >= 0) {
			c = (char)(hex_digit(s[i + 1]) << 4 | hex_digit(s[i + 2]));
			i += 2;
		}
		if (o + 1 >= out_sz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

/*
 * Finds "seconds" in the raw query (strictly: only decimal digits, 1 to 10 of
 * them, no sign or space, at most once). Absent leaves *seconds untouched.
 */
enum seconds_err parse_seconds(const char *query, unsigned max, unsigned *seconds)
{
	const char *p = query;
	bool is_seen = false;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t key_len = eq ? (size_t)(eq - p) : len;
		char key[16], val[HTTP_SECONDS_MAX_DIGITS + 2];
		unsigned long long v = 0;
		int n, i;

		if (len == 0 || form_decode(p, key_len, key, sizeof(key)) < 0 ||
		    strcmp(key, "seconds") != 0)
			goto next;
		if (is_seen)
			return SECONDS_DUPLICATE;
		is_seen = true;
		n = eq ? form_decode(eq + 1, len - key_len - 1, val, sizeof(val)) : 0;
		if (n <= 0 || n > HTTP_SECONDS_MAX_DIGITS)
			return SECONDS_INVALID;
		for (i = 0; i < n; i++) {
			if (val[i] < '0' || val[i] > '9')
				return SECONDS_INVALID;
			v = v * 10 + (unsigned)(val[i] - '0');
		}
		if (v == 0)
			return SECONDS_INVALID;
		if (v > max)
			return SECONDS_TOO_LARGE;
		*seconds = (unsigned)v;
	next:
		p = end ? end + 1 : NULL;
	}
	return SECONDS_OK;
}
