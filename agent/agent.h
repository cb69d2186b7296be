/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent: wires BPF (loader), the process table, the symbolizer and the
 * exporter together.
 *
 * Threads. One drain thread owns the loader, the process table and the
 * symbolizer: it polls process events, drains the kernel maps every drain
 * interval and feeds each drained stack to the open profile windows. HTTP
 * threads only (a) register a window and wait for the drain thread to close
 * it, then encode it without any lock held, and (b) read a stats snapshot
 * the drain thread publishes under a mutex after every drain.
 */
#ifndef STACKD_AGENT_AGENT_H
#define STACKD_AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "config.h"
#include "exporter/http.h"

struct agent;
struct jattach;

/* Allocates the agent; nothing is loaded yet (HTTP can bind before the slow part). */
int agent_new(const struct config *cfg, struct agent **out);
/* The JVM attach helper (--java.enabled), forked by main while privileged: @a owns it now. */
void agent_take_jattach(struct agent *a, struct jattach *ja);
/*
 * Loads and attaches BPF (needs the start-up privileges). Parses nothing a
 * process controls. Returns 0 or -errno (logged).
 */
int agent_start(struct agent *a);
/*
 * Starts the drain thread, the only reader of process-controlled files,
 * once privs_drop() succeeded (else -EPERM). Until it returns 0, profile
 * requests wait and the history pages get 503.
 */
int agent_run(struct agent *a);
/* Begins the shutdown and waits for the drain thread to end (main thread). */
void agent_join(struct agent *a);
/* Stops the drain thread, answers waiting profile requests with 503, detaches, frees. */
void agent_stop(struct agent *a);

/* http_handlers callbacks; ctx is the struct agent. */
void *agent_http_profile_start(void *ctx, const struct http_profile_req *req,
			       struct http_waiter *waiter, struct http_reply *reply);
void agent_http_profile_end(void *ctx, void *window, struct http_reply *reply);
int agent_http_metrics(void *ctx, struct strbuf *out);
/* The history pages (/, /debug/pprof/history, /debug/pprof/folded, /flamegraph). */
void agent_http_page(void *ctx, enum http_page page, const struct http_profile_req *req,
		     struct http_reply *reply);
/*
 * True once the BPF programs are attached and the drain thread runs, and
 * while it keeps draining: no drain completed for 3 drain intervals (at least
 * 5 s) makes it false (logged once, and stackd_drain_stalled says so).
 */
bool agent_is_ready(void *ctx);
/* agent_is_ready(), and when false, why (into @why, at most @why_sz bytes). */
bool agent_ready_why(void *ctx, char *why, size_t why_sz);
/*
 * For the shutdown watchdog (any thread, even with the drain thread stuck):
 * writes what the drain thread is doing and since when into @buf; returns
 * true when it is stalled.
 */
bool agent_shutdown_report(struct agent *a, char *buf, size_t len);

/* Wakes profile requests early with 503 (shutdown has begun). */
void agent_begin_shutdown(struct agent *a);

#endif
