/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Asking HotSpot JVMs for their JIT perf map (/tmp/perf-<nspid>.map in the JVM's own /tmp),
 * what `jcmd PID Compiler.perfmap` does, from a privilege-separated helper process.
 *
 * Why a process: the agent drops its capabilities (privs.c) and may switch to another user,
 * yet attaching needs to act as each JVM's user (HotSpot only accepts a trigger file and a
 * peer owned by its own euid or root) and to reach into other containers' /tmp. So
 * jattach_start() forks a helper while main() is still single-threaded and root. The helper
 * keeps CAP_SETUID, CAP_SETGID, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH only (the bounding
 * set too, no_new_privs set), uid 0, no file descriptors of the agent but its socket and
 * /dev/null on 0-2, and is non-dumpable (its memory is a copy of the agent's).
 *
 * The helper is a supervisor that forks one short-lived worker per request. The worker does
 * the attach under the request's deadline; the supervisor SIGKILLs it when the deadline plus
 * a grace period passes (a JVM whose /tmp is a FUSE mount that never answers can hang a
 * syscall beyond any deadline). So a hostile process costs one JATTACH_TIMEOUT, never the
 * helper, and the helper never needs replacing, which matters: it cannot be replaced once the
 * agent has dropped its privileges.
 *
 * What a request does, against a process that may be hostile (and its /tmp):
 *  - /proc/PID/stat's start time must equal the caller's (else JATTACH_GONE); every later
 *    step goes through the /proc/PID directory opened then, and SIGQUIT is sent through it
 *    (pidfd_send_signal), so a reused pid is never signalled;
 *  - no SIGQUIT handler (SigCgt): JATTACH_NOT_JVM, and no signal is sent, since SIGQUIT kills
 *    (and core-dumps) a process without one. A handler is necessary, not sufficient: a Go
 *    program catches SIGQUIT and dies of it after a goroutine dump. The caller must ask only
 *    for processes that map libjvm.so;
 *  - the worker then takes the JVM's effective uid and gid (keeping uid 0 as real and saved
 *    uid), creates /tmp/.attach_pid<nspid> only if /tmp/.java_pid<nspid> is absent (or a stale
 *    socket nobody listens on), sends SIGQUIT, waits for the socket (20 ms polls), connects
 *    without following the JVM's symlinks and sends "jcmd Compiler.perfmap". /tmp is the
 *    JVM's, resolved inside its root (/proc/PID/root); a symlinked /tmp must stay inside it.
 *  - anything in the way that is not a socket owned by the JVM's euid (FIFO, symlink, file
 *    of another user) is JATTACH_REFUSED and never opened for I/O.
 *
 * The JVM writes its map to /tmp/perf-<nspid>.map in its own mount namespace, nspid being its
 * pid in its own pid namespace (the last NSpid): read it through /proc/PID/root
 * (safefile_open_in_root()), not from the agent's /tmp.
 *
 * A JVM started with -XX:+DisableAttachMechanism prints a thread dump on SIGQUIT and never
 * opens its socket (JATTACH_NO_SOCKET); one started with -Xrs has no handler (NOT_JVM).
 *
 * Threads: the handle belongs to one thread (requests and results are not locked), which
 * need not be the one that called jattach_start(). jattach_start() must run in the thread
 * that lives as long as the process (the helper gets SIGKILL when that thread exits, as
 * PR_SET_PDEATHSIG goes by thread), before other threads exist.
 */
#ifndef STACKD_AGENT_JATTACH_H
#define STACKD_AGENT_JATTACH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolize/hotspot.h"

/* Requests sent and not yet answered by jattach_result() beyond which -EAGAIN. */
#define JATTACH_MAX_PENDING	   32
#define JATTACH_DEFAULT_TIMEOUT_MS 5000
#define JATTACH_MAX_TIMEOUT_MS	   60000

enum jattach_status {
	JATTACH_OK,	   /* the JVM wrote its perf map and answered 0 */
	JATTACH_GONE,	   /* exited, a zombie, or the pid was reused (start time differs) */
	JATTACH_NOT_JVM,   /* no SIGQUIT handler: no signal was sent */
	JATTACH_NO_SOCKET, /* SIGQUIT sent, no attach socket before the deadline */
	JATTACH_REFUSED,   /* not a socket, not the JVM's, connect refused, peer check failed */
	JATTACH_TIMEOUT,   /* connected, no complete reply before the deadline */
	JATTACH_JVM_ERROR, /* the JVM answered a non-zero code (jvm_code) */
	JATTACH_ERROR,	   /* anything else: /proc unreadable, read-only /tmp, helper error */
	JATTACH__NR,
};

struct jattach_opts {
	uint32_t timeout_ms; /* one request's whole deadline; 0: JATTACH_DEFAULT_TIMEOUT_MS */
};

/*
 * One request (jattach_ask): the perf map of @pid, and with @want_layout the layout of its
 * code heaps too (hs_layout_read() of @jvm, libjvm.so's description tables loaded at @bias).
 * The layout is read from the JVM's memory first, by the worker (process_vm_readv can be
 * made to block: a worker is killed at its deadline, an agent thread would hang), whatever
 * the attach then gives.
 */
struct jattach_request {
	pid_t pid;
	uint32_t want_layout; /* bool */
	uint64_t start_ticks;
	uint64_t bias;
	struct hs_jvm jvm;
};

struct jattach_result {
	pid_t pid;
	uint64_t start_ticks;
	int status;	 /* enum jattach_status */
	int jvm_code;	 /* the JVM's reply code when status is JATTACH_OK or JATTACH_JVM_ERROR */
	bool has_layout; /* the request wanted a layout and the worker answered */
	int layout_err;	 /* 0: layout holds it; else hs_layout_read()'s -errno */
	struct hs_layout layout;
};

struct jattach;

/*
 * Forks the helper and waits (at most a few seconds) until it runs with its reduced
 * privileges. Call while the process is still single-threaded and privileged. Returns 0, or
 * -errno: the fork failed, or the helper could not drop its privileges (it is reaped then).
 */
int jattach_start(const struct jattach_opts *opts, struct jattach **out);

/* The agent's end of the socketpair, for poll(): readable when a result is there (or on EOF). */
int jattach_fd(const struct jattach *ja);
/* The helper's pid (for logs). */
pid_t jattach_helper_pid(const struct jattach *ja);
/* Requests sent whose results jattach_result() has not returned yet. */
unsigned jattach_pending(const struct jattach *ja);

/*
 * Queues one request for @pid, whose /proc/PID/stat field 22 (start time in clock ticks) is
 * @start_ticks. Never blocks. Returns 0; -EAGAIN when JATTACH_MAX_PENDING requests are
 * outstanding (or the socket is full); -EPIPE when the helper is gone; -EINVAL for pid <= 0.
 *
 * Requests are handled one at a time, in order, and results come back in that order. A
 * request's deadline starts when the helper takes it up and its result follows at most
 * 500 ms after (a worker stuck past it is killed): with k requests outstanding, the last
 * answer may take k * (timeout + 0.5 s). Count a request as lost only past that.
 */
int jattach_request(struct jattach *ja, pid_t pid, uint64_t start_ticks);
/* The same for a whole request (a layout too). */
int jattach_ask(struct jattach *ja, const struct jattach_request *req);

/* Reads one result if any, never blocks: 1 with *res filled, 0 when none is ready, -EPIPE
 * when the helper is gone, other -errno. */
int jattach_result(struct jattach *ja, struct jattach_result *res);

/*
 * Stops the helper and frees @ja (NULL is fine). Closing the socket ends the helper after its
 * current request; it is also sent SIGKILL, which fails harmlessly once the agent runs as
 * another user (the helper's real uid is 0), and reaped, waiting at most the timeout plus
 * 2 s (a zombie is left behind past that). A helper that is gone (jattach_request() or
 * jattach_result() returned -EPIPE) cannot be replaced once privileges are dropped: stop it
 * and count JIT symbolization as unavailable from then on.
 */
void jattach_stop(struct jattach *ja);

/* "ok", "gone", "not_jvm", "no_socket", "refused", "timeout", "jvm_error", "error": metric
 * label values; "unknown" for anything else. */
const char *jattach_status_str(int status);

#endif
