// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: common/utf8. Whatever the bytes, the repair is valid UTF-8,
 * takes exactly utf8_sanitized_len() and at most 3 bytes per input byte, leaves
 * valid input unchanged, is idempotent, and a cut output is a prefix of the
 * whole one that is still valid.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = 3 * size + 1, n, m, cut;
	char *out = malloc(cap), *again = malloc(cap);

	if (!out || !again)
		goto cleanup;
	n = utf8_sanitize(data, size, out, cap);
	if (n != utf8_sanitized_len(data, size) || n > 3 * size || !utf8_is_valid(out, n))
		abort();
	if (utf8_is_valid(data, size) && (n != size || memcmp(out, data, size)))
		abort();
	m = utf8_sanitize(out, n, again, cap);
	if (m != n || memcmp(out, again, n))
		abort();
	/* Cut to a size taken from the input: a valid prefix of the whole repair. */
	cut = size ? data[0] % (n + 2) : 0;
	m = utf8_sanitize(data, size, again, cut);
	if (cut && (m >= cut || m > n || memcmp(again, out, m) || !utf8_is_valid(again, m)))
		abort();
cleanup:
	free(out);
	free(again);
	return 0;
}
