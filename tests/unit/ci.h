/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests that cannot run here (a tool missing, a kernel feature hidden)
 * skip on a developer's machine and FAIL under CI=true: in CI a skipped test
 * hides a broken runner. Include after <cmocka.h>.
 */
#ifndef STACKD_TESTS_UNIT_CI_H
#define STACKD_TESTS_UNIT_CI_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static inline bool unit_in_ci(void)
{
	const char *ci = getenv("CI");

	return ci && strcmp(ci, "true") == 0;
}

/* Ends the test: fails under CI=true, else skips; either way says why (a literal format). */
#define skip_or_fail(...)                                                                          \
	do {                                                                                       \
		if (unit_in_ci())                                                                  \
			fail_msg("CI=true, cannot run: " __VA_ARGS__);                             \
		print_message("SKIP: " __VA_ARGS__);                                               \
		print_message("\n");                                                               \
		skip();                                                                            \
	} while (0)

#endif
