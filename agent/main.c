// SPDX-License-Identifier: Apache-2.0
/*
 * stackd: a continuous profiling node agent.
 *
 * Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), --help/--version, or --check
 * when stackd can run here; 1 when start-up fails (privileges, BTF, perf events, port in
 * use, dropping privileges) or --check finds it cannot run; 2 on a usage error (a bad flag,
 * or a --profiling.cgroups path that is not a cgroup). A shutdown that does not finish
 * within SHUTDOWN_DEADLINE_S of the first SIGINT/SIGTERM (a worker stuck), or a second
 * SIGINT/SIGTERM, ends the process at once with exit code 1.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "common/clock.h"
#include "preflight.h"
#include "selfcheck.h"
#include "common/log.h"
#include "config.h"
#include "exporter/http.h"
#include "exporter/webconfig.h"
#include "jattach.h"
#include "privs.h"
#include "version.h"

/* Set once privileges are dropped: only then is the agent ready (and /-/ready 200). */
static atomic_bool g_privs_dropped;

/*
 * From the first SIGINT/SIGTERM the process is gone within this (under 5 s
 * with the exit itself), whatever a thread is stuck in.
 */
#define SHUTDOWN_DEADLINE_S 4

/* What the shutdown is waiting for, for the watchdog's last words. */
static _Atomic(const char *) g_shutdown_stage = "starting the shutdown";

struct shutdown_watch {
	pthread_mutex_t lock; /* guards agent: NULL once it is being freed */
	struct agent *agent;
	sigset_t sigs;	/* SIGINT, SIGTERM: blocked in every thread */
	uint64_t t0_ns; /* mono_ns() of the first signal */
};

/*
 * Started at the first SIGINT/SIGTERM: a second one, or the deadline, ends
 * the process with _exit() (no atexit work that could block too). A clean
 * shutdown returns from main() first, which ends this thread with the rest.
 */
static void *shutdown_watchdog(void *arg)
{
	struct shutdown_watch *w = arg;
	struct timespec left = {.tv_sec = SHUTDOWN_DEADLINE_S};
	char what[160];
	uint64_t now;
	int sig;

	sig = sigtimedwait(&w->sigs, NULL, &left);
	now = mono_ns();
	pthread_mutex_lock(&w->lock);
	if (w->agent)
		agent_shutdown_report(w->agent, what, sizeof(what));
	else
		snprintf(what, sizeof(what), "drain thread ended");
	if (sig > 0)
		pr_err("second %s after %.1f s while %s (%s): exiting now",
		       sig == SIGINT ? "SIGINT" : "SIGTERM", (double)(now - w->t0_ns) / 1e9,
		       atomic_load(&g_shutdown_stage), what);
	else
		pr_err("shutdown did not finish within %d s, stuck %s (%s): exiting now",
		       SHUTDOWN_DEADLINE_S, atomic_load(&g_shutdown_stage), what);
	_exit(1);
	return NULL;
}

/* Arms the shutdown deadline; if no thread can be made, SIGALRM's default action enforces it. */
static void arm_shutdown_deadline(struct shutdown_watch *w)
{
	pthread_attr_t attr;
	pthread_t t;
	int err;

	w->t0_ns = mono_ns();
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&t, &attr, shutdown_watchdog, w);
	pthread_attr_destroy(&attr);
	if (err) {
		pr_warn("no shutdown watchdog thread (%s): SIGALRM ends a stuck shutdown",
			strerror(err));
		alarm(SHUTDOWN_DEADLINE_S);
	}
}

static bool is_ready(void *ctx, char *why, size_t why_sz)
{
	if (!atomic_load(&g_privs_dropped)) {
		snprintf(why, why_sz, "starting: BPF programs not attached yet");
		return false;
	}
	return agent_ready_why(ctx, why, why_sz);
}

/* SIGUSR1 (+1, towards debug) and SIGUSR2 (-1, towards error). */
static void step_log_level(int step)
{
	int old = (int)log_get_level(), level = old + step;

	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	log_set_level((enum log_level)level);
	/* Logged at the new level, the one sure to be shown (a debug line proves debug works). */
	log_msg((enum log_level)level, "log level %s (was %s, %s)",
		log_level_name((enum log_level)level), log_level_name((enum log_level)old),
		step > 0 ? "SIGUSR1" : "SIGUSR2");
}

int main(int argc, char **argv)
{
	struct http_server *http = NULL;
	struct agent *agent = NULL;
	struct jattach *ja = NULL;
	struct http_opts hopts;
	struct webconfig *wc = NULL;
	bool is_tls = false, is_watched = false;
	struct shutdown_watch watch;
	struct config cfg;
	sigset_t sigs;
	int sig = 0, err, ret = 1;

	/*
	 * Other processes' stack bytes and symbol data pass through this memory:
	 * no core dump of it and no ptrace by a same-uid process without
	 * CAP_SYS_PTRACE. privs_drop() sets it again (a uid change may reset it).
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		pr_warn("PR_SET_DUMPABLE 0 failed: %s", strerror(errno));
	config_defaults(&cfg);
	err = config_parse(&cfg, argc, argv, stdout, stderr);
	if (err == CONFIG_EXIT_OK || err == CONFIG_CHECK) {
		ret = err == CONFIG_CHECK && selfcheck_report(&cfg, stdout) ? 1 : 0;
		goto cleanup;
	}
	/* A cgroup that does not exist is a bad flag value: refuse it before the slow start. */
	if (err || config_resolve_cgroups(&cfg, stderr)) {
		ret = 2;
		goto cleanup;
	}

	/*
	 * Block the shutdown and log-level signals before any thread starts, so they
	 * all inherit the mask and only sigwait() below receives them.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGHUP); /* re-read --web.config.file */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Footprint: one malloc arena per HTTP thread would keep each thread's
	 * freed profile buffers resident; two arenas are plenty at our rates.
	 */
	mallopt(M_ARENA_MAX, 2);
	pr_info("stackd %s starting (frequency %u Hz, drain every %llu ms)", STACKD_VERSION,
		cfg.frequency_hz, (unsigned long long)(cfg.drain_interval_ns / 1000000));
	/*
	 * The JVM attach helper: forked now, while this process is single-threaded and holds
	 * the privileges the helper keeps (agent/jattach.h), and before the web config is
	 * read (the helper's memory is a copy of ours: no keys or passwords in it).
	 * Without it Java frames stay unnamed; nothing else depends on it.
	 */
	if (cfg.java_enabled) {
		err = jattach_start(&(struct jattach_opts){0}, &ja);
		if (err)
			pr_warn("cannot start the JVM attach helper (%s): Java frames stay unnamed",
				strerror(-err));
	}
	/* Before the slow checks and BPF load: a bad web config fails at once. */
	if (cfg.web_config_file[0]) {
		char msg[768];

		/* It names keys and passwords a root process will use: only root may write it. */
		if (privs_check_config_file(cfg.web_config_file))
			goto cleanup;
		if (webconfig_load(cfg.web_config_file, &wc, msg, sizeof(msg))) {
			pr_err("--web.config.file: %s", msg);
			goto cleanup;
		}
		is_tls = wc->has_tls;
	}
	if (preflight_run())
		goto cleanup;
	err = agent_new(&cfg, &agent);
	if (err)
		goto cleanup;
	agent_take_jattach(agent, ja);
	ja = NULL;

	/* Bind before the slow BPF load, so a busy port fails at once. */
	hopts = (struct http_opts){
	    .listen_address = cfg.listen_address,
	    .max_profile_seconds = cfg.max_profile_seconds,
	    /* Go's default is 30 s; a smaller maximum lowers it. */
	    .default_profile_seconds = cfg.max_profile_seconds < 30 ? cfg.max_profile_seconds : 30,
	    .max_connections = cfg.max_connections,
	    .max_connections_per_client = cfg.max_connections_per_client,
	    .max_page_requests = cfg.max_page_requests,
	    .max_page_bytes = cfg.max_page_bytes,
	    .idle_timeout_seconds = (unsigned)(cfg.read_timeout_ns / 1000000000ULL),
	    .web_config = wc, /* the server owns it once started */
	    .max_concurrent_profiles = cfg.max_concurrent_profiles,
	    .handlers =
		{
		    .ctx = agent,
		    .profile_start = agent_http_profile_start,
		    .profile_end = agent_http_profile_end,
		    .metrics = agent_http_metrics,
		    .page = agent_http_page,
		    .is_ready = is_ready,
		},
	};
	err = http_server_start(&hopts, &http);
	if (err) {
		if (err == -EADDRINUSE)
			pr_err("cannot listen on %s: the address is already in use; stop the other "
			       "process or pick another port with --web.listen-address",
			       cfg.listen_address);
		else
			pr_err("cannot start the HTTP server on %s: %s", cfg.listen_address,
			       strerror(-err));
		goto cleanup;
	}
	wc = NULL; /* the server owns it now */
	err = agent_start(agent);
	if (err)
		goto cleanup;
	/* Attached: from here on only /proc reads need privileges (privs.c says which). */
	err = privs_drop(&(struct privs_opts){.run_as_user = cfg.run_as_user});
	if (err)
		goto cleanup;
	/* Only now: the drain thread reads what processes control (maps, ELF, cgroups). */
	err = agent_run(agent);
	if (err)
		goto cleanup;
	atomic_store(&g_privs_dropped, true);
	/* Loading parsed the kernel's BTF (several MB): give that memory back. */
	malloc_trim(0);
	pr_info("ready: serving on %s://%s (/debug/pprof/profile, /metrics, /-/ready)",
		is_tls ? "https" : "http", cfg.listen_address);

	while (sigwait(&sigs, &sig) != 0 || (sig != SIGINT && sig != SIGTERM)) {
		if (sig == SIGUSR1 || sig == SIGUSR2)
			step_log_level(sig == SIGUSR1 ? 1 : -1);
		if (sig == SIGHUP && cfg.web_config_file[0]) {
			/*
			 * A file others can now write is refused (logged). The reload logs
			 * too; either way the old config stays on error.
			 */
			if (!privs_check_config_file(cfg.web_config_file))
				http_server_reload(http, cfg.web_config_file);
		} else if (sig == SIGHUP)
			pr_info("SIGHUP: no --web.config.file to reload");
		sig = 0;
	}
	pr_info("received %s, shutting down (at most %d s; a second signal exits at once)",
		sig == SIGINT ? "SIGINT" : "SIGTERM", SHUTDOWN_DEADLINE_S);
	pthread_mutex_init(&watch.lock, NULL);
	watch.agent = agent;
	sigemptyset(&watch.sigs);
	sigaddset(&watch.sigs, SIGINT);
	sigaddset(&watch.sigs, SIGTERM);
	arm_shutdown_deadline(&watch);
	is_watched = true;
	ret = 0;
cleanup:
	/*
	 * Every exit comes here: the steps undo the start in reverse order, and
	 * each is a no-op for what was never made.
	 */
	if (http) {
		/* Wake waiting profile requests first so the HTTP threads can finish. */
		agent_begin_shutdown(agent);
		atomic_store(&g_shutdown_stage, "stopping the HTTP server");
		http_server_stop(http);
	}
	webconfig_free(wc);
	if (is_watched) {
		atomic_store(&g_shutdown_stage, "stopping the drain thread");
		agent_join(agent);
		pthread_mutex_lock(&watch.lock);
		watch.agent = NULL;
		pthread_mutex_unlock(&watch.lock);
		atomic_store(&g_shutdown_stage, "detaching and freeing");
	}
	agent_stop(agent);
	jattach_stop(ja); /* not handed to an agent */
	if (is_watched)
		pr_info("stopped");
	return ret;
}
