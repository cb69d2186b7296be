// SPDX-License-Identifier: Apache-2.0
/*
 * Fixture for the ELF symbol tests, compiled at test time as a PIE, a non-PIE
 * and a static executable, and as a shared object (-DSTACKD_FX_LIB).
 */
__attribute__((noinline)) int stackd_fx_alpha(int x);
__attribute__((noinline)) int stackd_fx_beta(int x);
int stackd_fx_main_helper(int x);

__attribute__((noinline)) int stackd_fx_alpha(int x)
{
	return x * 3 + 1;
}

/* LOCAL binding: comes from .symtab only. */
__attribute__((noinline)) static int stackd_fx_local(int x)
{
	return x ^ 0x55;
}

__attribute__((noinline)) int stackd_fx_beta(int x)
{
	return stackd_fx_local(x) + 2;
}

/* A WEAK alias at the same address: the GLOBAL name must win. */
int stackd_fx_beta_weak(int x) __attribute__((weak, alias("stackd_fx_beta")));

/*
 * stackd_fx_nosize has no .size (it extends to the next symbol);
 * stackd_fx_sized is 1 byte long and followed by 32 bytes no symbol covers.
 */
__asm__(".text\n"
	".globl stackd_fx_nosize\n"
	".type stackd_fx_nosize,@function\n"
	"stackd_fx_nosize:\n"
	"\tnop\n\tnop\n\tnop\n\tnop\n\tret\n"
	".globl stackd_fx_sized\n"
	".type stackd_fx_sized,@function\n"
	"stackd_fx_sized:\n"
	"\tret\n"
	".size stackd_fx_sized, 1\n"
	".skip 32, 0xcc\n"
	".globl stackd_fx_after\n"
	".type stackd_fx_after,@function\n"
	"stackd_fx_after:\n"
	"\tret\n"
	".size stackd_fx_after, 1\n");

int stackd_fx_main_helper(int x)
{
	return stackd_fx_alpha(x) + stackd_fx_beta(x);
}

#ifndef STACKD_FX_LIB
int main(int argc, char **argv)
{
	(void)argv;
	return stackd_fx_main_helper(argc) > 0 ? 0 : 1;
}
#endif
