// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the HTTP request-target checks, the ?seconds= parser, and
 * the history range (the input as seconds=, start= or end=).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct one_arg {
	const char *name, *value;
};

static const char *one_arg_get(const void *ctx, const char *name)
{
	const struct one_arg *a = ctx;

	return strcmp(name, a->name) == 0 ? a->value : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[64];
	unsigned seconds = 0;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* The server only parses what uri_check accepted; fuzz both orders anyway. */
	(void)uri_check(s);
	(void)parse_seconds(s, 300, &seconds);
	if (seconds > 300)
		abort();
	(void)form_decode(s, strlen(s), out, sizeof(out));
	for (size_t i = 0; i < 3; i++) {
		static const char *const names[3] = {"seconds", "start", "end"};
		const struct one_arg a = {.name = names[i], .value = s};
		const struct query_args args = {.get = one_arg_get, .ctx = &a};
		int64_t from, to;
		char why[256];

		if (query_parse_range(&args, 1700000000LL * 1000000000LL, 900, &from, &to, why,
				      sizeof(why)) == 0 &&
		    from >= to)
			abort();
	}
	{
		int64_t from, to;

		/* base=FROM,TO of a differential flame graph: a range, FROM first, or refused. */
		if (query_parse_base(s, &from, &to) == 0 && from >= to)
			abort();
	}
	free(s);
	return 0;
}
