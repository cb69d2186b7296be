// SPDX-License-Identifier: Apache-2.0
/*
 * C++ part of the stackd-symbolize fixture (built with clang++ -O1 -g):
 * mangled names, to compare -C output with addr2line's.
 */
namespace stackd_fx {

volatile int sink;

struct widget {
	__attribute__((noinline)) int poke(int x);
};

__attribute__((noinline)) int widget::poke(int x)
{
	sink = x;
	return x + 1;
}

template <typename T> __attribute__((noinline)) T twice(T v)
{
	sink = (int)v;
	return v + v;
}

} // namespace stackd_fx

int main(int argc, char **argv)
{
	stackd_fx::widget w;

	return w.poke(argc) + stackd_fx::twice<long>(argc) + (int)stackd_fx::twice<double>(argc) > 0
		       ? 0
		       : 1;
}
