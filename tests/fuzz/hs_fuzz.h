/* SPDX-License-Identifier: Apache-2.0 */
/* The memory image of fuzz_hotspot and its seed (hs_seed.c). */
#ifndef STACKD_TESTS_FUZZ_HS_FUZZ_H
#define STACKD_TESTS_FUZZ_HS_FUZZ_H

#define HS_FUZZ_BASE	0x100000ULL
#define HS_FUZZ_SIZE	(64u << 10)
#define HS_FUZZ_NR_VARS 11 /* the gHotSpotVM* variables, 8 bytes each, at HS_FUZZ_BASE */

#endif
