/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HotSpot JVMs (--java.enabled): when and how often each JVM is asked for
 * its JIT perf map (what `jcmd PID Compiler.perfmap` does; the asking itself
 * is agent/jattach.h's helper process, reached through ops.request), and,
 * with the first request, for the layout of its code heaps
 * (symbolize/hotspot.h), which ops.set_layout hands to the kernel walk. The
 * layout is read by the helper too: reading a process's memory can be made
 * to block, which the agent's own threads never risk. libjvm.so itself (its
 * exported vmStructs symbols) is probed here, once per file (objprobe.h).
 *
 * A process is a JVM when its maps snapshot holds a mapping of a file named
 * libjvm.so. Its first request is due JAVAPROCS_FIRST_NS after it was first
 * seen (its attach machinery starts with it). After a perf map came, the JVM
 * is asked again only when its stacks show JIT code the map does not name
 * (new compilations), at most once per gap: JAVAPROCS_GAP_MIN_NS (2 s),
 * doubling with each request up to JAVAPROCS_GAP_MAX_NS (5 min): a JVM's
 * compiler is busiest in its first seconds, and one whose stacks keep
 * unnamed code (code HotSpot does not list) costs a request per 5 minutes.
 *
 * Failures are never retried in a loop: a process without a SIGQUIT handler
 * yet (a JVM still starting) is tried JAVAPROCS_NOT_JVM_TRIES times 2 s
 * apart, any other failure (-XX:+DisableAttachMechanism, -Xrs, a refusing
 * or hung JVM) ends the JVM's requests after JAVAPROCS_FAIL_TRIES in a row;
 * all are counted by status. At most JAVAPROCS_MAX JVMs are tracked (more
 * are counted, not asked), at most JAVAPROCS_PER_TICK requests go out per
 * javaprocs_tick.
 *
 * Owned by the drain thread; not thread-safe.
 */
#ifndef STACKD_AGENT_JAVAPROCS_H
#define STACKD_AGENT_JAVAPROCS_H

#include <stdint.h>

#include "jattach.h"
#include "stackd.h"
#include "symbolize/hotspot.h"
#include "symbolize/procmaps.h"

#define JAVAPROCS_MAX		256
#define JAVAPROCS_PROBES	8 /* libjvm.so files whose probe is remembered */
#define JAVAPROCS_PER_TICK	4
#define JAVAPROCS_FIRST_NS	(1000ULL * 1000 * 1000)
#define JAVAPROCS_RETRY_NS	(2000ULL * 1000 * 1000)
#define JAVAPROCS_GAP_MIN_NS	(2ULL * 1000 * 1000 * 1000)
#define JAVAPROCS_GAP_MAX_NS	(300ULL * 1000 * 1000 * 1000)
#define JAVAPROCS_LOST_NS	(60ULL * 1000 * 1000 * 1000) /* no answer: a failure */
#define JAVAPROCS_NOT_JVM_TRIES 3
#define JAVAPROCS_FAIL_TRIES	2

struct javaprocs_ops {
	void *ctx;
	/*
	 * Queue a request for (@pid, @start_boottime), with its layout read from
	 * @jvm's tables loaded at @bias unless @jvm is NULL: 0 or -errno
	 * (-EAGAIN: full, try later).
	 */
	int (*request)(void *ctx, uint32_t pid, uint64_t start_boottime, const struct hs_jvm *jvm,
		       uint64_t bias);
	/* The JVM rewrote its perf map: read it again in full. */
	void (*reloaded)(void *ctx, uint32_t pid, uint64_t start_boottime);
	/*
	 * The JVM's code heaps, for the kernel walk: 0 or -errno. NULL: no
	 * walk to feed (not kernel mode), layouts are not asked for.
	 */
	int (*set_layout)(void *ctx, uint32_t pid, const struct stackd_hs_proc *e);
	/* The process is gone: its entry goes (a no-op when it had none). */
	void (*del_layout)(void *ctx, uint32_t pid, uint64_t start_boottime);
};

struct javaprocs_stats {
	uint64_t jvms;		       /* JVMs seen */
	uint64_t untracked;	       /* ...beyond JAVAPROCS_MAX, never asked */
	uint64_t requests;	       /* requests sent to the helper */
	uint64_t results[JATTACH__NR]; /* answers, by enum jattach_status */
	uint64_t given_up;	       /* JVMs no longer asked after failures */
	uint64_t helper_errors;	       /* requests the helper could not take */
	uint64_t lost;		       /* requests never answered in JAVAPROCS_LOST_NS */
	uint64_t probes;	       /* libjvm.so files probed */
	uint64_t no_vmstructs;	       /* ...without the vmStructs description */
	uint64_t layouts;	       /* code-heap layouts installed for the walk */
	uint64_t layout_errors;	       /* JVMs whose layout could not be read or set */
};

struct javaprocs;

/* @ticks_per_s: sysconf(_SC_CLK_TCK); libjvm.so files are opened below @proc_root. */
int javaprocs_new(const char *proc_root, const struct javaprocs_ops *ops, long ticks_per_s,
		  struct javaprocs **out);
void javaprocs_free(struct javaprocs *j);

/*
 * @maps (borrowed) is (@tgid, @start)'s snapshot: starts tracking it if it maps libjvm.so.
 * Returns whether the process is tracked.
 */
bool javaprocs_update(struct javaprocs *j, uint32_t tgid, uint64_t start_boottime,
		      const struct procmaps *maps, uint64_t now_ns);
/* The process exited or was forgotten. */
void javaprocs_drop(struct javaprocs *j, uint32_t tgid, uint64_t start_boottime);
/* A stack of the process held JIT code its perf map does not name. */
void javaprocs_note_unnamed(struct javaprocs *j, uint32_t tgid, uint64_t start_boottime,
			    uint64_t now_ns);
/* Send the requests due at @now_ns (once per drain). */
void javaprocs_tick(struct javaprocs *j, uint64_t now_ns);
/*
 * A helper's answer. It names the process by pid and start time as
 * /proc/PID/stat says it, in clock ticks (javaprocs_ticks()).
 */
void javaprocs_on_result(struct javaprocs *j, const struct jattach_result *r, uint64_t now_ns);
/* @start_boottime in /proc's clock ticks. */
uint64_t javaprocs_ticks(const struct javaprocs *j, uint64_t start_boottime);

/* The walk's entry for @l: 0, or -EINVAL when its fields do not fit the walk's window. */
int javaprocs_hs_entry(const struct hs_layout *l, uint64_t start_boottime,
		       struct stackd_hs_proc *out);

/*
 * The attach helper is gone (it cannot be replaced once privileges are dropped): no more
 * requests, those in flight count as lost, logged once. Layouts installed stay.
 */
void javaprocs_helper_gone(struct javaprocs *j);

void javaprocs_get_stats(const struct javaprocs *j, struct javaprocs_stats *out);

#endif
