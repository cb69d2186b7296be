// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the HTTP request-target checks and the ?seconds= parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	free(s);
	return 0;
}
