// SPDX-License-Identifier: Apache-2.0
/*
 * bench/unwind_churn.sh's workload: short-lived processes that burn CPU in a
 * hot function of their own, built without frame pointers.
 *
 *   churn spawn RATE SECONDS MIN_MS MAX_MS BURN [MAX_LIVE]
 *   churn child MS BURN
 *
 * spawn starts RATE children a second (four spawner processes, RATE/4 each) for SECONDS
 * (posix_spawn of $CHURN_CHILD, default its own executable, so each child is a new exec:
 * new maps, new pid; a copy under another name gives the children their own comm), each
 * told to burn for a uniform MIN_MS..MAX_MS (seed 1: the same series every run). BURN
 * is "wall" (spin in churn_hot until that much wall time has passed) or "cpu"
 * (until that much CPU time is used). At most MAX_LIVE (default 64) children
 * live at once: spawn waits for one to exit when at the cap, so the rate
 * achieved may be lower; each spawner prints what it achieved on stderr at the end
 * ("churn[K]: N children ...").
 *
 * A child is main -> churn_mid -> churn_hot. Built with `gcc -O2
 * -fomit-frame-pointer`: no frame pointer anywhere, so only CFI unwinds it;
 * noinline/noclone keep each level a frame with its own name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))

extern char **environ;
static volatile unsigned long sink;
static int shard; /* which of the SPAWNERS processes this is */

#define SPAWNERS 4

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The hot function: about 50 us of work a call, until the deadline. */
NOINLINE unsigned long churn_hot(clockid_t id, double until)
{
	volatile unsigned long acc = 1;

	while (clock_s(id) < until)
		for (unsigned long i = 0; i < 20000; i++)
			acc = acc * 6364136223846793005UL + 1442695040888963407UL + i;
	return acc;
}

NOINLINE unsigned long churn_mid(clockid_t id, double until)
{
	unsigned long r = churn_hot(id, until);

	sink += r;
	return r ^ 0x9e3779b97f4a7c15UL;
}

static int child(double ms, const char *burn)
{
	clockid_t id = strcmp(burn, "cpu") ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID;

	setpriority(PRIO_PROCESS, 0, 0); /* the spawner's boost is not for the children */
	sink += churn_mid(id, clock_s(id) + ms / 1e3);
	return 0;
}

static int spawn(double rate, double seconds, int min_ms, int max_ms, const char *burn,
		 int max_live)
{
	double t0 = clock_s(CLOCK_MONOTONIC), next = t0, end = t0 + seconds;
	unsigned long started = 0, waited_full = 0;
	char ms_arg[32], *args[5];
	int live = 0, st;
	pid_t pid;

	/*
	 * Four spawners at a quarter of the rate each: one process's
	 * posix_spawn() does not reach 200/s on a loaded 2-vCPU machine.
	 */
	for (int k = 1; k < SPAWNERS; k++) {
		if (fork() == 0) {
			shard = k;
			break;
		}
	}
	rate /= SPAWNERS;
	next += shard / (rate * SPAWNERS);
	srandom(1 + shard);
	/* Keep the rate with every CPU busy: best effort (root only). */
	setpriority(PRIO_PROCESS, 0, -10);
	const char *path = getenv("CHURN_CHILD") ? getenv("CHURN_CHILD") : "/proc/self/exe";

	args[0] = (char *)path;
	args[1] = "child";
	args[2] = ms_arg;
	args[3] = (char *)burn;
	args[4] = NULL;
	while (clock_s(CLOCK_MONOTONIC) < end) {
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			live--;
		if (live >= max_live) {
			if (waitpid(-1, &st, 0) > 0)
				live--;
			waited_full++;
			continue;
		}
		double now = clock_s(CLOCK_MONOTONIC);
		if (now < next) {
			struct timespec d = {0, (long)((next - now) * 1e9)};

			nanosleep(&d, NULL);
			continue;
		}
		snprintf(ms_arg, sizeof(ms_arg), "%d",
			 min_ms + (int)(random() % (max_ms - min_ms + 1)));
		if (posix_spawn(&pid, path, NULL, NULL, args, environ) == 0) {
			live++;
			started++;
		}
		next += 1.0 / rate;
		if (next < now - 1.0) /* far behind (at the cap): do not burst to catch up */
			next = now;
	}
	while (wait(&st) > 0)
		;
	fprintf(stderr,
		"churn[%d]: %lu children in %.1f s (%.1f/s; asked %.0f/s), %lu waits at %d live\n",
		shard, started, seconds, started / seconds, rate, waited_full, max_live);
	if (shard)
		_exit(0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "child"))
		return child(atof(argv[2]), argv[3]);
	if ((argc == 7 || argc == 8) && !strcmp(argv[1], "spawn")) {
		int lo = atoi(argv[4]), hi = atoi(argv[5]);

		if (lo < 1 || hi < lo)
			return 2;
		return spawn(atof(argv[2]), atof(argv[3]), lo, hi, argv[6],
			     argc == 8 ? atoi(argv[7]) : 64);
	}
	fprintf(stderr,
		"usage: %s spawn RATE SECONDS MIN_MS MAX_MS wall|cpu [MAX_LIVE]\n"
		"       %s child MS wall|cpu\n",
		argv[0], argv[0]);
	return 2;
}
