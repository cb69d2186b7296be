// SPDX-License-Identifier: Apache-2.0
/*
 * stackd: a continuous profiling node agent.
 *
 * Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM) or --help/--version;
 * 1 when start-up fails (privileges, BTF, perf events, port in use);
 * 2 on a usage error (unknown flag, bad value).
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "checks.h"
#include "common/log.h"
#include "config.h"
#include "exporter/http.h"
#include "version.h"

int main(int argc, char **argv)
{
	struct http_server *http = NULL;
	struct agent *agent = NULL;
	struct http_opts hopts;
	struct config cfg;
	sigset_t sigs;
	int sig = 0, err;

	config_defaults(&cfg);
	err = config_parse(&cfg, argc, argv, stdout, stderr);
	if (err == CONFIG_EXIT_OK)
		return 0;
	if (err)
		return 2;

	/*
	 * Block the shutdown signals before any thread starts, so they all
	 * inherit the mask and only sigwait() below receives them.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Footprint: one malloc arena per HTTP thread would keep each thread's
	 * freed profile buffers resident; two arenas are plenty at our rates.
	 */
	mallopt(M_ARENA_MAX, 2);
	pr_info("stackd %s starting (frequency %u Hz, drain every %llu ms)", STACKD_VERSION,
		cfg.frequency_hz, (unsigned long long)(cfg.drain_interval_ns / 1000000));
	if (checks_run())
		return 1;
	err = agent_new(&cfg, &agent);
	if (err)
		return 1;

	/* Bind before the slow BPF load, so a busy port fails at once. */
	hopts = (struct http_opts){
		.listen_address = cfg.listen_address,
		.max_profile_seconds = cfg.max_profile_seconds,
		/* Go's default is 30 s; a smaller maximum lowers it. */
		.default_profile_seconds = cfg.max_profile_seconds < 30 ? cfg.max_profile_seconds : 30,
		.max_connections = cfg.max_connections,
		.max_concurrent_profiles = cfg.max_concurrent_profiles,
		.handlers = {
			.ctx = agent,
			.profile = agent_http_profile,
			.metrics = agent_http_metrics,
			.is_ready = agent_is_ready,
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
		agent_stop(agent);
		return 1;
	}
	err = agent_start(agent);
	if (err) {
		agent_begin_shutdown(agent);
		http_server_stop(http);
		agent_stop(agent);
		return 1;
	}
	/* Loading parsed the kernel's BTF (several MB): give that memory back. */
	malloc_trim(0);
	pr_info("ready: serving on http://%s (/debug/pprof/profile, /metrics, /-/ready)",
		cfg.listen_address);

	while (sigwait(&sigs, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
		;
	pr_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	/* Wake waiting profile requests first so the HTTP threads can finish. */
	agent_begin_shutdown(agent);
	http_server_stop(http);
	agent_stop(agent);
	pr_info("stopped");
	return 0;
}
