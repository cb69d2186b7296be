// SPDX-License-Identifier: Apache-2.0
/*
 * Fixture for the stackd-symbolize test, compiled at test time with -O2 -g:
 * its output is compared with GNU addr2line's for every address of these
 * functions. Two levels of inlining (cli_fx_innermost from the header into
 * cli_fx_middle into cli_fx_outer), plain and static functions. No loops:
 * gcc would add line discriminators, which addr2line prints and the
 * symbolizer's frames do not carry.
 *
 * Usage: inline_chain [SECONDS] - with an argument, sleep (for --pid tests).
 */
#include <unistd.h>

#include "inline_chain.h"

#define NOINLINE __attribute__((noinline))

volatile int cli_fx_sink;

int cli_fx_outer(int x);
int cli_fx_plain(int x);

static inline __attribute__((always_inline)) int cli_fx_middle(int x)
{
	int r = cli_fx_innermost(x);

	cli_fx_sink = r;
	return r + 1;
}

NOINLINE int cli_fx_outer(int x)
{
	int r = cli_fx_middle(x);

	cli_fx_sink = r;
	return r * 2;
}

NOINLINE static int cli_fx_static(int x)
{
	cli_fx_sink = x ^ 0x55;
	return cli_fx_sink + 1;
}

NOINLINE int cli_fx_plain(int x)
{
	int r = cli_fx_static(x);

	cli_fx_sink = r;
	return cli_fx_middle(r) + cli_fx_sink;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		sleep((unsigned int)argv[1][0] - '0' + 1);
	return cli_fx_outer(argc) + cli_fx_plain(argc) > 0 ? 0 : 1;
}
