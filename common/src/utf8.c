// SPDX-License-Identifier: Apache-2.0
/*
 * UTF-8 per RFC 3629 (table 3-7 of Unicode 15 §3.9: the well-formed byte
 * sequences). The second byte's range depends on the lead byte, which is what
 * rules out overlongs (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code
 * points past U+10FFFF (F4 90..BF) without decoding first.
 */
#include "common/utf8.h"

#include <string.h>

size_t utf8_decode(const void *str, size_t n, uint32_t *cp)
{
	const unsigned char *s = str;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;
	uint32_t c;

	*cp = UTF8_INVALID;
	if (!n)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		c &= 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0; /* below: overlong */
		else if (s[0] == 0xed)
			hi = 0x9f; /* above: surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		c &= 0x07;
		if (s[0] == 0xf0)
			lo = 0x90; /* below: overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f; /* above: past U+10FFFF */
	} else {
		return 1; /* 80..BF, C0, C1, F5..FF start nothing */
	}
	if (n < 2 || s[1] < lo || s[1] > hi)
		return 1;
	c = (c << 6) | (s[1] & 0x3f);
	for (i = 2; i < need; i++) {
		/* The subpart so far was a valid prefix: it is replaced as one. */
		if (i >= n || (s[i] & 0xc0) != 0x80)
			return i;
		c = (c << 6) | (s[i] & 0x3f);
	}
	*cp = c;
	return need;
}

bool utf8_is_valid(const void *str, size_t n)
{
	const unsigned char *s = str;
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		/* ASCII runs are the common case: no decoding for them. */
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_decode(s + i, n - i, &cp);
		if (cp == UTF8_INVALID)
			return false;
		i += k;
	}
	return true;
}

size_t utf8_sanitized_len(const void *str, size_t n)
{
	const unsigned char *s = str;
	size_t i = 0, len = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		len += cp == UTF8_INVALID ? UTF8_REPLACEMENT_LEN : k;
		i += k;
	}
	return len;
}

size_t utf8_sanitize(const void *str, size_t n, char *out, size_t out_sz)
{
	const unsigned char *s = str;
	size_t i = 0, o = 0, k, put;
	const void *src;
	uint32_t cp;

	if (!out_sz)
		return 0;
	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		src = cp == UTF8_INVALID ? (const void *)UTF8_REPLACEMENT : (const void *)(s + i);
		put = cp == UTF8_INVALID ? UTF8_REPLACEMENT_LEN : k;
		/* Whole characters only: a cut never leaves half of one behind. */
		if (put > out_sz - 1 - o)
			break;
		memcpy(out + o, src, put);
		o += put;
		i += k;
	}
	out[o] = '\0';
	return o;
}
