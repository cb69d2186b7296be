// SPDX-License-Identifier: Apache-2.0
/*
 * common/utf8: validation per RFC 3629 and repair by maximal subparts. The
 * expected repairs are what Python's bytes.decode("utf-8", "replace") gives,
 * the reference behaviour of Unicode 15 §3.9 "U+FFFD substitution".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/utf8.h"

#define R UTF8_REPLACEMENT

struct vec {
	const char *in;
	size_t in_len;
	const char *want;
};

#define V(a, b)                                                                                    \
	{                                                                                          \
		a, sizeof(a) - 1, b                                                                \
	}

static const struct vec vecs[] = {
    V("", ""),
    V("abc", "abc"),
    V("\xff\xfe-bad", R R "-bad"),	  /* the hostile comm */
    V("\xc0\x80", R R),			  /* overlong NUL */
    V("\xc1\xbf", R R),			  /* overlong '?' */
    V("\xe0\x80\x80", R R R),		  /* overlong, 3 bytes */
    V("\xf0\x80\x80\x80", R R R R),	  /* overlong, 4 bytes */
    V("\xed\xa0\x80", R R R),		  /* high surrogate */
    V("\xed\xbf\xbf", R R R),		  /* low surrogate */
    V("\xf4\x90\x80\x80", R R R R),	  /* U+110000 */
    V("\xf8\x88\x80\x80\x80", R R R R R), /* old 5-byte form */
    V("\xf0\x9f\x98", R),		  /* truncated at the end */
    V("\xe2\x82!", R "!"),		  /* truncated, then ASCII */
    V("\xc2", R),
    V("\x80\xbf", R R), /* lone continuations */
    V("a\xe0\xa0", "a" R),
    V("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"), /* U+1F600 */
    V("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"), /* U+10FFFF */
    V("\xed\x9f\xbf", "\xed\x9f\xbf"),	       /* U+D7FF */
    V("\xee\x80\x80", "\xee\x80\x80"),	       /* U+E000 */
    V("\xef\xbf\xbd", "\xef\xbf\xbd"),	       /* U+FFFD itself */
    V("\xc2\x80", "\xc2\x80"),		       /* U+0080 */
    V("caf\xc3\xa9 \xe6\x97\xa5", "caf\xc3\xa9 \xe6\x97\xa5"),
};

static void test_vectors(void **state)
{
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		size_t n = utf8_sanitize(v->in, v->in_len, out, sizeof(out));

		assert_string_equal(out, v->want);
		assert_int_equal(n, strlen(v->want));
		assert_int_equal(utf8_sanitized_len(v->in, v->in_len), strlen(v->want));
		assert_int_equal(utf8_is_valid(v->in, v->in_len), strcmp(v->in, v->want) == 0);
		assert_true(utf8_is_valid(out, n));
		/* Idempotent. */
		char again[64];

		utf8_sanitize(out, n, again, sizeof(again));
		assert_string_equal(again, out);
	}
}

static void test_decode(void **state)
{
	uint32_t cp;

	(void)state;
	assert_int_equal(utf8_decode("", 0, &cp), 0);
	assert_int_equal(cp, UTF8_INVALID);
	assert_int_equal(utf8_decode("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(utf8_decode("\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(utf8_decode("\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1f600);
	/* A valid prefix cut by @n is one subpart; the bytes past @n are never read. */
	assert_int_equal(utf8_decode("\xf0\x9f\x98\x80", 3, &cp), 3);
	assert_int_equal(cp, UTF8_INVALID);
	assert_int_equal(utf8_decode("\xe2\x82\xac", 1, &cp), 1);
	assert_int_equal(cp, UTF8_INVALID);
	assert_int_equal(utf8_decode("\xed\xa0\x80", 3, &cp), 1);
	assert_int_equal(cp, UTF8_INVALID);
	/* NUL is a character like any other when a length is given. */
	assert_int_equal(utf8_decode("\0x", 2, &cp), 1);
	assert_int_equal(cp, 0);
}

static void test_cut(void **state)
{
	char out[8];

	(void)state;
	/* "aé€" is 1 + 2 + 3 bytes: room for 5 keeps "aé" and never half of the euro. */
	assert_int_equal(utf8_sanitize("a\xc3\xa9\xe2\x82\xac", 6, out, 6), 3);
	assert_string_equal(out, "a\xc3\xa9");
	assert_int_equal(utf8_sanitize("a\xc3\xa9\xe2\x82\xac", 6, out, 7), 6);
	/* A replacement is cut whole too. */
	assert_int_equal(utf8_sanitize("ab\xff", 3, out, 5), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(utf8_sanitize("abc", 3, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(utf8_sanitize("abc", 3, out, 0), 0);
}

/* Every 1- and 2-byte input, and every 3-byte input with a non-ASCII lead: bounds hold. */
static void test_exhaustive(void **state)
{
	unsigned char in[3];
	char out[16];
	size_t n;

	(void)state;
	for (unsigned a = 0x80; a < 0x100; a++) {
		for (unsigned b = 0; b < 0x100; b++) {
			for (unsigned c = 0; c < 0x100; c += 7) {
				in[0] = (unsigned char)a;
				in[1] = (unsigned char)b;
				in[2] = (unsigned char)c;
				n = utf8_sanitize(in, 3, out, sizeof(out));
				assert_true(n <= 9);
				assert_int_equal(n, utf8_sanitized_len(in, 3));
				assert_true(utf8_is_valid(out, n));
				if (utf8_is_valid(in, 3))
					assert_memory_equal(out, in, 3);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_cut),
	    cmocka_unit_test(test_exhaustive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
