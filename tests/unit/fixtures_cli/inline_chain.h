/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Part of the stackd-symbolize fixture: an always-inlined function from a
 * second file, so inline frames name two different source files.
 */
#ifndef STACKD_FX_INLINE_CHAIN_H
#define STACKD_FX_INLINE_CHAIN_H

extern volatile int cli_fx_sink;

static inline __attribute__((always_inline)) int cli_fx_innermost(int x)
{
	cli_fx_sink = x;
	return x * 7 + 3;
}

#endif
