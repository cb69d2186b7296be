// SPDX-License-Identifier: Apache-2.0
/*
 * bench/syscall_cost.sh's workload: N system calls that do nothing (getppid),
 * timed. Prints "ns_per_call X" (CLOCK_MONOTONIC over the loop / N).
 *
 *   syscall_loop [N]      (default 2,000,000)
 *
 * syscall(2) rather than getppid(): glibc may not cache it, but this makes sure
 * every call enters the kernel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	struct timespec a, b;

	if (n <= 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("ns_per_call %.1f\n",
	       ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n);
	return 0;
}
