// SPDX-License-Identifier: Apache-2.0
/*
 * bench/offcpu.sh's workload: two threads pass one byte back and forth over two
 * pipes, so that each round trip is two blocking reads, i.e. at least two context
 * switches (more when a CPU goes idle in between: a switch to the idle task and back).
 *
 *   pingpong [SECONDS [CPU_PING CPU_PONG]]
 *
 * Runs SECONDS (default 10; 0: until SIGTERM/SIGINT), then prints on stdout
 *   "pingpong: N round trips in S s: R round trips/s"
 * Each SIGUSR1 prints "mark NS N" first (CLOCK_MONOTONIC ns, round trips so far), so that a
 * script can take the rate over a window of its own. CPU_PING and CPU_PONG pin the two
 * threads (-1: not pinned, the default); the main thread only waits for signals.
 *
 * Built `gcc -O2 -g` by the script. noinline keeps ping_loop / pong_loop frames of their own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static int to_pong[2], to_ping[2];
static _Atomic unsigned long round_trips;

static void die(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	errno = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (errno)
		die("pthread_setaffinity_np");
}

static NOINLINE void xfer(int in, int out, char *c)
{
	if (read(in, c, 1) != 1)
		die("read");
	if (out >= 0 && write(out, c, 1) != 1)
		die("write");
}

static NOINLINE void *ping_loop(void *arg)
{
	char c = 'x';

	pin((int)(long)arg);
	for (;;) {
		if (write(to_pong[1], &c, 1) != 1)
			die("write");
		xfer(to_ping[0], -1, &c);
		atomic_fetch_add_explicit(&round_trips, 1, memory_order_relaxed);
	}
	return NULL;
}

static NOINLINE void *pong_loop(void *arg)
{
	char c;

	pin((int)(long)arg);
	for (;;)
		xfer(to_pong[0], to_ping[1], &c);
	return NULL;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10;
	long cpu_ping = argc > 3 ? atol(argv[2]) : -1, cpu_pong = argc > 3 ? atol(argv[3]) : -1;
	unsigned long long t0, t1, end;
	struct timespec wait;
	pthread_t a, b;
	sigset_t sigs;
	siginfo_t si;
	int sig;

	if (seconds < 0) {
		fprintf(stderr, "usage: pingpong [SECONDS [CPU_PING CPU_PONG]]\n");
		return 2;
	}
	/* Blocked in every thread: only the main thread takes them, in sigtimedwait. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (pipe(to_pong) || pipe(to_ping))
		die("pipe");
	t0 = now_ns();
	end = seconds > 0 ? t0 + (unsigned long long)(seconds * 1e9) : 0;
	if ((errno = pthread_create(&b, NULL, pong_loop, (void *)cpu_pong)) ||
	    (errno = pthread_create(&a, NULL, ping_loop, (void *)cpu_ping)))
		die("pthread_create");
	for (;;) {
		unsigned long long left =
		    end ? (now_ns() < end ? end - now_ns() : 0) : 3600000000000ULL;

		if (!left)
			break;
		wait.tv_sec = left / 1000000000ULL;
		wait.tv_nsec = left % 1000000000ULL;
		sig = sigtimedwait(&sigs, &si, &wait);
		if (sig == SIGUSR1) {
			printf("mark %llu %lu\n", now_ns(),
			       atomic_load_explicit(&round_trips, memory_order_relaxed));
			fflush(stdout);
		} else if (sig == SIGTERM || sig == SIGINT) {
			break;
		} else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
			die("sigtimedwait");
		}
	}
	t1 = now_ns();
	{
		unsigned long n = atomic_load_explicit(&round_trips, memory_order_relaxed);
		double s = (t1 - t0) / 1e9;

		printf("pingpong: %lu round trips in %.3f s: %.0f round trips/s\n", n, s, n / s);
		fflush(stdout);
	}
	_exit(0); /* the two threads are blocked in read/write: no joining */
}
