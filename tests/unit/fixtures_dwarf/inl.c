// SPDX-License-Identifier: Apache-2.0
/*
 * Fixture for test_dwarf: a chain of always_inline functions three deep
 * inside a noinline one, built at test time with gcc and clang, DWARF 4
 * and 5, -O2. The test finds the expected lines by the MARK_* comments:
 * keep each marker on the line it names.
 */
volatile int stackd_dw_sink;

static inline __attribute__((always_inline)) int leaf_inl(int x)
{
	stackd_dw_sink = x * 3;	   /* MARK_LEAF */
	return stackd_dw_sink + x; /* MARK_LEAF_RET */
}

static inline __attribute__((always_inline)) int mid_inl(int x)
{
	int r = leaf_inl(x + 1); /* MARK_MID_CALL */

	return r + stackd_dw_sink;
}

static inline __attribute__((always_inline)) int top_inl(int x)
{
	int r = mid_inl(x * 2); /* MARK_TOP_CALL */

	return r ^ stackd_dw_sink;
}

__attribute__((noinline)) int stackd_dw_outer(int x);
__attribute__((noinline)) int stackd_dw_outer(int x)
{
	int r = top_inl(x); /* MARK_OUTER_CALL */

	stackd_dw_sink = r; /* MARK_OUTER_STORE */
	return r - 1;
}

int main(int argc, char **argv)
{
	(void)argv;
	return stackd_dw_outer(argc) & 1;
}
