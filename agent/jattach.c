// SPDX-License-Identifier: Apache-2.0
/*
 * The JIT perf map helper (contract in jattach.h): a supervisor process forked from main(),
 * a worker process per request, and the agent's end of a SOCK_SEQPACKET socketpair.
 *
 * HotSpot's side of the protocol (OpenJDK 17, attachListener_linux.cpp, checked against a
 * live JVM in tests/unit/test_jattach.c):
 *  - its signal dispatcher, on SIGQUIT, starts the attach listener when .attach_pid<pid> (pid
 *    as the JVM sees it: the last NSpid) exists in its cwd or /tmp and is owned by its euid
 *    or root; otherwise it prints a thread dump to stdout. Once started, further SIGQUITs
 *    print thread dumps, so none is sent while its socket answers;
 *  - the listener binds /tmp/.java_pid<pid>.tmp, chmods it 0600, chowns it to its euid/egid
 *    and renames it over /tmp/.java_pid<pid> (a stale socket of a killed JVM included);
 *  - it accepts a peer whose SO_PEERCRED is root or its own euid AND egid, both as seen from
 *    its user namespace (so host root is "nobody" to a JVM in a user-namespaced container,
 *    hence acting as the JVM's uid/gid), reads "1\0jcmd\0<cmd>\0\0\0", runs the command,
 *    answers "<code>\n<output>" and closes. Compiler.perfmap writes the map before answering.
 *
 * The worker acts as the JVM's euid/egid with uid 0 kept as real and saved uid: files it
 * creates belong to the JVM's user, the 0600 socket opens to it as owner, its peer
 * credentials pass, and the JVM's user can neither signal nor ptrace it (both look at the
 * real and saved uid). The effective capabilities vanish with euid 0; nothing after the
 * switch needs them.
 */
#include "jattach.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT		 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* The supervisor kills a worker this long after the request's deadline. */
#define JATTACH_GRACE_MS 500
/* A worker whose supervisor is gone ends itself (SIGALRM) this long after its deadline. */
#define JATTACH_WATCHDOG_MS 1000
/* jattach_stop() waits this long past the timeout for the helper to exit. */
#define JATTACH_STOP_WAIT_MS 2000
/* How long jattach_start() waits for the helper to report its privileges dropped. */
#define JATTACH_START_WAIT_MS  5000
#define JATTACH_SOCKET_POLL_MS 20
#define JATTACH_STAT_MAX       1024
#define JATTACH_STATUS_MAX     8192
#define JATTACH_REPLY_MAX      4096
/* The helper's socketpair end, once every other descriptor is closed. */
#define JATTACH_HELPER_FD 3

#define CAP_BIT(c) (1ULL << (c))
/*
 * What the helper keeps: SETUID/SETGID to act as each JVM's user; SYS_PTRACE to open
 * /proc/PID/root of any process; DAC_READ_SEARCH to resolve its /tmp (or where a symlinked
 * /tmp leads) through directories root could not search once CAP_DAC_OVERRIDE is gone.
 */
static const uint64_t helper_caps = CAP_BIT(CAP_SETUID) | CAP_BIT(CAP_SETGID) |
				    CAP_BIT(CAP_SYS_PTRACE) | CAP_BIT(CAP_DAC_READ_SEARCH);

/* Version "1", command "jcmd", its 3 arguments: 26 bytes, the literal's own NUL the last. */
static const char jcmd_request[] = "1\0jcmd\0Compiler.perfmap\0\0";

struct jattach {
	int fd;
	pid_t pid;
	unsigned pending;
	uint32_t timeout_ms;
};

/* What a worker learns about its target and holds open. */
struct target {
	pid_t pid;
	uint64_t start_ticks;
	int procfd; /* /proc/PID: reads of that process only, and a pidfd for SIGQUIT */
	int tmpfd;  /* O_PATH: the JVM's /tmp, resolved inside its root */
	pid_t nspid;
	uid_t euid;
	gid_t egid;
	uint64_t sigcgt;
	char sock_name[32]; /* .java_pid<nspid> */
	char trig_name[32]; /* .attach_pid<nspid> */
};

const char *jattach_status_str(int status)
{
	static const char *const names[JATTACH__NR] = {
	    [JATTACH_OK] = "ok",
	    [JATTACH_GONE] = "gone",
	    [JATTACH_NOT_JVM] = "not_jvm",
	    [JATTACH_NO_SOCKET] = "no_socket",
	    [JATTACH_REFUSED] = "refused",
	    [JATTACH_TIMEOUT] = "timeout",
	    [JATTACH_JVM_ERROR] = "jvm_error",
	    [JATTACH_ERROR] = "error",
	};

	return status >= 0 && status < JATTACH__NR ? names[status] : "unknown";
}

/* Milliseconds left before @deadline (CLOCK_MONOTONIC ns), rounded up; 0 once passed. */
static int ms_left(uint64_t deadline)
{
	uint64_t now = mono_ns();

	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999) / 1000000);
}

/* ---- the worker: one request, as the JVM's user ---- */

/* Reads up to @sz - 1 bytes of @name below @dirfd, NUL-terminated. Returns the length or -errno. */
static ssize_t read_small_at(int dirfd, const char *name, char *buf, size_t sz)
{
	size_t n = 0;
	ssize_t got;
	int fd, err = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	while (n < sz - 1) {
		got = read(fd, buf + n, sz - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			break;
		}
		if (!got)
			break;
		n += (size_t)got;
	}
	close(fd);
	buf[n] = '\0';
	return err ? err : (ssize_t)n;
}

/*
 * /proc/PID/stat: the state (field 3) and the start time (field 22). comm (field 2) is the
 * process's to choose, spaces and parentheses included: fields resume after the last ')'.
 */
static int parse_stat(const char *buf, char *state, uint64_t *start_ticks)
{
	const char *p = strrchr(buf, ')');
	char *end;
	int field;

	if (!p)
		return -EINVAL;
	p++;
	for (field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		if (field == 3)
			*state = *p;
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
	}
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	*start_ticks = strtoull(p, &end, 10);
	if (errno || (*end != ' ' && *end != '\n' && *end != '\0'))
		return -EINVAL;
	return 0;
}

/* The value of the status line starting with @key ("Uid:"), or NULL. */
static const char *status_field(const char *buf, const char *key)
{
	size_t len = strlen(key);
	const char *line = buf;

	while (line && *line) {
		if (!strncmp(line, key, len))
			return line + len;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

/* The next unsigned decimal of a status value ("\t0\t1000\t..."): 0 and *p moved past it. */
static int next_u32(const char **p, uint32_t *out)
{
	unsigned long long v;
	char *end;

	while (**p == ' ' || **p == '\t')
		(*p)++;
	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(*p, &end, 10);
	if (errno || v > UINT32_MAX)
		return -EINVAL;
	*p = end;
	*out = (uint32_t)v;
	return 0;
}

/* The @nth (1-based) number of a status value. */
static int nth_u32(const char *val, int nth, uint32_t *out)
{
	for (int i = 0; i < nth; i++)
		if (next_u32(&val, out))
			return -EINVAL;
	return 0;
}

static int parse_status(const char *buf, struct target *t)
{
	const char *v;
	uint32_t u;
	char *end;

	/* NSpid: one pid per namespace level, the innermost last: the JVM's getpid(). */
	v = status_field(buf, "NSpid:");
	if (v) {
		t->nspid = 0;
		while (!next_u32(&v, &u))
			t->nspid = (pid_t)u;
		if (t->nspid <= 0)
			return -EINVAL;
	} else {
		t->nspid = t->pid; /* kernels before 4.1: no pid namespaces to see through */
	}
	v = status_field(buf, "Uid:");
	if (!v || nth_u32(v, 2, &u))
		return -EINVAL;
	t->euid = (uid_t)u;
	v = status_field(buf, "Gid:");
	if (!v || nth_u32(v, 2, &u))
		return -EINVAL;
	t->egid = (gid_t)u;
	v = status_field(buf, "SigCgt:");
	if (!v)
		return -EINVAL;
	while (*v == '\t' || *v == ' ')
		v++;
	errno = 0;
	t->sigcgt = strtoull(v, &end, 16);
	if (errno || end == v || (*end != '\n' && *end != '\0'))
		return -EINVAL;
	return 0;
}

/* JATTACH_OK when the process behind t->procfd still has the caller's start time. */
static int check_alive(const struct target *t)
{
	char buf[JATTACH_STAT_MAX], state = 0;
	uint64_t start;
	ssize_t n;

	n = read_small_at(t->procfd, "stat", buf, sizeof(buf));
	if (n == -ENOENT || n == -ESRCH || n == 0)
		return JATTACH_GONE;
	if (n < 0 || parse_stat(buf, &state, &start))
		return JATTACH_ERROR;
	if (start != t->start_ticks || state == 'Z' || state == 'X')
		return JATTACH_GONE;
	return JATTACH_OK;
}

/* Opens the JVM's /tmp inside its root: its own symlinks may not lead out of it. */
static int open_tmp(const struct target *t)
{
	struct open_how how = {
	    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int rootfd, fd, err;

	rootfd = openat(t->procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	/* EAGAIN: a rename raced a ".." in a symlink's target; the kernel asks for a retry. */
	for (int i = 0; i < 3; i++) {
		fd = (int)syscall(SYS_openat2, rootfd, "tmp", &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	/* Kernels before 5.6: no scoped resolution, so no symlinked /tmp either. */
	if (fd < 0 && errno == ENOSYS)
		fd = openat(rootfd, "tmp", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	close(rootfd);
	return err ? err : fd;
}

/*
 * Step 1 and 2: the process is the caller's, has a SIGQUIT handler, and its /tmp is open.
 * Runs as root (with CAP_SYS_PTRACE for /proc/PID/root).
 */
static int target_open(struct target *t)
{
	char path[32], buf[JATTACH_STATUS_MAX];
	int status;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d", (int)t->pid);
	/* Not O_PATH: pidfd_send_signal() takes a /proc/PID directory opened for reading. */
	t->procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->procfd < 0)
		return errno == ENOENT || errno == ESRCH ? JATTACH_GONE : JATTACH_ERROR;
	status = check_alive(t);
	if (status != JATTACH_OK)
		return status;
	n = read_small_at(t->procfd, "status", buf, sizeof(buf));
	if (n == -ENOENT || n == -ESRCH)
		return JATTACH_GONE;
	if (n <= 0 || parse_status(buf, t))
		return JATTACH_ERROR;
	if (!(t->sigcgt & (1ULL << (SIGQUIT - 1))))
		return JATTACH_NOT_JVM;
	snprintf(t->sock_name, sizeof(t->sock_name), ".java_pid%d", (int)t->nspid);
	snprintf(t->trig_name, sizeof(t->trig_name), ".attach_pid%d", (int)t->nspid);
	t->tmpfd = open_tmp(t);
	if (t->tmpfd < 0) {
		if (t->tmpfd == -ELOOP || t->tmpfd == -EXDEV || t->tmpfd == -ENOTDIR)
			return JATTACH_REFUSED;
		/* /proc/PID/root of a process that exited reads as ENOENT. */
		return check_alive(t) != JATTACH_OK ? JATTACH_GONE : JATTACH_ERROR;
	}
	/* The /proc/PID fd pins that process, so this only catches an exit meanwhile. */
	return check_alive(t);
}

/* Step 3: the JVM's euid/egid for everything that follows (gid first: it needs euid 0). */
static int become_jvm_user(const struct target *t)
{
	if (setresgid((gid_t)-1, t->egid, (gid_t)-1) || setresuid((uid_t)-1, t->euid, (uid_t)-1))
		return -errno;
	return 0;
}

/*
 * Whether the JVM's socket is there: an O_PATH handle that follows no symlink, opened
 * without I/O (a FIFO never blocks), which is the inode later connected to. Returns the fd
 * with *st filled, -ENOENT when absent, -EPERM when it is not a socket of the JVM's euid.
 */
static int socket_open(const struct target *t, struct stat *st)
{
	int fd = openat(t->tmpfd, t->sock_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || !S_ISSOCK(st->st_mode) || st->st_uid != t->euid) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/*
 * Step 4: the trigger file HotSpot looks for on SIGQUIT. *created tells the caller to remove
 * it. One left by an earlier jcmd is reused if it is a regular file of the JVM's user.
 */
static int trigger_create(const struct target *t, bool *created)
{
	struct stat st;
	int fd;

	fd = openat(t->tmpfd, t->trig_name,
		    O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		*created = true;
		return JATTACH_OK;
	}
	if (errno == EACCES || errno == EPERM)
		return JATTACH_REFUSED;
	if (errno != EEXIST)
		return JATTACH_ERROR;
	if (fstatat(t->tmpfd, t->trig_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
	    st.st_uid != t->euid)
		return JATTACH_REFUSED;
	return JATTACH_OK;
}

/* SIGQUIT through the /proc/PID fd: a pid reused since the start-time check is never hit. */
static int send_sigquit(const struct target *t)
{
	if (!syscall(SYS_pidfd_send_signal, t->procfd, SIGQUIT, NULL, 0))
		return JATTACH_OK;
	if (errno == ESRCH)
		return JATTACH_GONE;
	if (errno != ENOSYS)
		return JATTACH_ERROR;
	/* Before 5.1: re-check the start time as close to the signal as we can. */
	if (check_alive(t) != JATTACH_OK)
		return JATTACH_GONE;
	if (kill(t->pid, SIGQUIT))
		return errno == ESRCH ? JATTACH_GONE : JATTACH_ERROR;
	return JATTACH_OK;
}

/*
 * Waits for a socket other than @stale (NULL: none) to appear, polling every 20 ms. Returns
 * its O_PATH fd with *st filled, or -(JATTACH_xxx status): NO_SOCKET at the deadline.
 */
static int socket_wait(const struct target *t, const struct stat *stale, uint64_t deadline,
		       struct stat *st)
{
	for (;;) {
		int fd = socket_open(t, st);
		uint64_t nap, now;

		if (fd >= 0 && stale && st->st_ino == stale->st_ino && st->st_dev == stale->st_dev)
			close(fd);
		else if (fd >= 0)
			return fd;
		/* HotSpot renames a socket it already chowned into place: nothing else is its. */
		else if (fd == -EPERM)
			return -JATTACH_REFUSED;
		else if (fd != -ENOENT)
			return -JATTACH_ERROR;
		now = mono_ns();
		if (now >= deadline)
			return -JATTACH_NO_SOCKET;
		nap = (uint64_t)JATTACH_SOCKET_POLL_MS * 1000000;
		if (deadline - now < nap)
			nap = deadline - now;
		nanosleep(&(struct timespec){.tv_sec = (time_t)(nap / CLOCK_NS_PER_S),
					     .tv_nsec = (long)(nap % CLOCK_NS_PER_S)},
			  NULL);
	}
}

/*
 * Step 5: connects to the socket behind @pathfd by the magic link /proc/self/fd/N, so the
 * inode checked is the one connected to, and no path length limit or symlink of the JVM's
 * is involved (the kernel's unix_find_bsd() follows the link to the inode itself). Returns
 * the connected socket, or -errno (-ECONNREFUSED: nobody listens; -EAGAIN: backlog full).
 */
static int socket_connect(int pathfd)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int s, err = 0;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d", pathfd);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)))
		err = -errno;
	if (err) {
		close(s);
		return err;
	}
	return s;
}

/* "<code>\n": 0 with *code, -EINVAL when the reply does not start with one. */
static int parse_reply(const char *buf, size_t len, int *code)
{
	long long v = 0;
	size_t i = 0;
	bool neg = false;

	if (i < len && buf[i] == '-')
		neg = true, i++;
	if (i >= len || buf[i] < '0' || buf[i] > '9')
		return -EINVAL;
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		v = v * 10 + (buf[i] - '0');
		if (v > INT32_MAX)
			return -EINVAL;
	}
	if (i >= len || buf[i] != '\n')
		return -EINVAL;
	*code = (int)(neg ? -v : v);
	return 0;
}

/* Step 6: the request out, the reply in, both before @deadline. */
static int jvm_exchange(int s, uint64_t deadline, int *code)
{
	char reply[JATTACH_REPLY_MAX];
	size_t sent = 0, got = 0;
	struct pollfd pfd = {.fd = s};
	bool eof = false;
	ssize_t n;

	while (sent < sizeof(jcmd_request)) {
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, ms_left(deadline)) == 0)
			return JATTACH_TIMEOUT;
		n = send(s, jcmd_request + sent, sizeof(jcmd_request) - sent,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		/* HotSpot closes on a peer it does not accept (SO_PEERCRED). */
		if (n < 0)
			return errno == EPIPE || errno == ECONNRESET ? JATTACH_REFUSED
								     : JATTACH_ERROR;
		sent += (size_t)n;
	}
	while (got < sizeof(reply)) {
		pfd.events = POLLIN;
		if (poll(&pfd, 1, ms_left(deadline)) == 0)
			break;
		n = recv(s, reply + got, sizeof(reply) - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0 && errno == ECONNRESET && !got)
			return JATTACH_REFUSED;
		if (n < 0)
			return JATTACH_ERROR;
		if (!n) {
			eof = true;
			break;
		}
		got += (size_t)n;
	}
	/* A complete code line counts even if the JVM was slow to close: the map is written. */
	if (!parse_reply(reply, got, code))
		return *code ? JATTACH_JVM_ERROR : JATTACH_OK;
	if (eof && !got)
		return JATTACH_REFUSED;
	return eof || got == sizeof(reply) ? JATTACH_ERROR : JATTACH_TIMEOUT;
}

/* Connects to the socket behind @pathfd and asks for the map; -ECONNREFUSED passed up. */
static int jvm_talk(int pathfd, uint64_t deadline, int *code)
{
	int s, status;

	s = socket_connect(pathfd);
	if (s == -ECONNREFUSED)
		return s;
	if (s == -EAGAIN || s == -EACCES || s == -EPERM)
		return JATTACH_REFUSED;
	if (s < 0)
		return JATTACH_ERROR;
	status = jvm_exchange(s, deadline, code);
	close(s);
	return status;
}

/* Steps 4 to 6 once the worker is the JVM's user: trigger if needed, connect, ask. */
static int worker_attach(const struct target *t, uint64_t deadline, int *code)
{
	struct stat st, stale;
	bool have_stale = false, created = false;
	int pathfd, status;

	pathfd = socket_open(t, &st);
	if (pathfd == -EPERM)
		return JATTACH_REFUSED;
	if (pathfd < 0 && pathfd != -ENOENT)
		return JATTACH_ERROR;
	if (pathfd >= 0) {
		status = jvm_talk(pathfd, deadline, code);
		close(pathfd);
		if (status != -ECONNREFUSED)
			return status;
		/*
		 * Nobody listens: the socket of a JVM killed before it could remove it (an
		 * emptyDir /tmp outlives the container's restarts, the new JVM may have the same
		 * nspid). A triggered listener renames its socket over it.
		 */
		stale = st;
		have_stale = true;
	}
	status = trigger_create(t, &created);
	if (status == JATTACH_OK)
		status = send_sigquit(t);
	if (status == JATTACH_OK) {
		pathfd = socket_wait(t, have_stale ? &stale : NULL, deadline, &st);
		status = pathfd < 0 ? -pathfd : JATTACH_OK;
	}
	/* The listener is up (or never will be): HotSpot needs the trigger no longer. */
	if (created)
		unlinkat(t->tmpfd, t->trig_name, 0);
	if (status != JATTACH_OK)
		return status;
	status = jvm_talk(pathfd, deadline, code);
	close(pathfd);
	return status == -ECONNREFUSED ? JATTACH_REFUSED : status;
}

/* The layout of the JVM's code heaps, read from its memory (as root: CAP_SYS_PTRACE). */
static void worker_layout(const struct jattach_request *req, struct jattach_result *res)
{
	pid_t pid = req->pid;
	const struct procmem mem = {.ctx = &pid, .read = procmem_read_process};

	res->has_layout = true;
	res->layout_err = hs_layout_read(&mem, &req->jvm, req->bias, &res->layout);
}

/* A whole request, in the worker. It exits right after, so nothing is closed or restored. */
static int worker_run(const struct jattach_request *req, uint64_t deadline, int *code,
		      struct jattach_result *res)
{
	struct target t = {
	    .pid = req->pid, .start_ticks = req->start_ticks, .procfd = -1, .tmpfd = -1};
	int status;

	if (req->pid <= 0)
		return JATTACH_ERROR;
	status = target_open(&t);
	if (status != JATTACH_OK)
		return status;
	if (req->want_layout)
		worker_layout(req, res);
	if (become_jvm_user(&t))
		return JATTACH_ERROR;
	return worker_attach(&t, deadline, code);
}

/* ---- the supervisor ---- */

/*
 * Workers killed but not reaped yet: a worker in an uninterruptible wait (a FUSE
 * daemon that reads a request and never answers) outlives SIGKILL, and waiting for
 * it would stop every later request. They are reaped without waiting before each
 * request; while JATTACH_MAX_STUCK of them are left, requests are refused
 * (JATTACH_ERROR) rather than stack up more stuck processes.
 */
#define JATTACH_MAX_STUCK 8

static pid_t stuck[JATTACH_MAX_STUCK];
static unsigned nr_stuck;

static void reap_stuck(void)
{
	for (unsigned i = 0; i < nr_stuck;) {
		int st;

		if (waitpid(stuck[i], &st, WNOHANG) != 0) {
			stuck[i] = stuck[--nr_stuck]; /* reaped (or not our child any more) */
			continue;
		}
		i++;
	}
}

/* SIGKILL @w and reap it if it dies within a moment; else leave it to reap_stuck(). */
static void reap_worker(pid_t w)
{
	int st;

	kill(w, SIGKILL);
	for (int i = 0; i < 50; i++) {
		pid_t r = waitpid(w, &st, WNOHANG);

		if (r == w || (r < 0 && errno != EINTR))
			return;
		usleep(2000);
	}
	if (nr_stuck < JATTACH_MAX_STUCK)
		stuck[nr_stuck++] = w;
}

/* Forks a worker for @req and waits for its result, killing it past the deadline. */
static void supervisor_run_one(int sock, const struct jattach_request *req, uint32_t timeout_ms,
			       struct jattach_result *res)
{
	uint64_t deadline = mono_ns() + (uint64_t)timeout_ms * 1000000;
	struct jattach_result wres;
	bool timed_out = false;
	struct pollfd pfd;
	int pipefd[2];
	ssize_t n = 0;
	pid_t parent = getpid(), w;

	memset(res, 0, sizeof(*res));
	res->pid = req->pid;
	res->start_ticks = req->start_ticks;
	res->status = JATTACH_ERROR;
	reap_stuck();
	if (nr_stuck == JATTACH_MAX_STUCK || pipe2(pipefd, O_CLOEXEC))
		return;
	w = fork();
	if (w < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return;
	}
	if (w == 0) {
		struct itimerval watchdog = {
		    .it_value = {.tv_sec = (timeout_ms + JATTACH_WATCHDOG_MS) / 1000,
				 .tv_usec = (timeout_ms + JATTACH_WATCHDOG_MS) % 1000 * 1000},
		};

		close(sock);
		close(pipefd[0]);
		/* Cleared again by the euid switch; the watchdog covers the rest. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(1);
		setitimer(ITIMER_REAL, &watchdog, NULL); /* SIGALRM's default: terminate */
		*res = (struct jattach_result){.pid = req->pid, .start_ticks = req->start_ticks};
		res->status = worker_run(req, deadline, &res->jvm_code, res);
		n = write(pipefd[1], res, sizeof(*res));
		_exit(n == (ssize_t)sizeof(*res) ? 0 : 1);
	}
	close(pipefd[1]);
	pfd = (struct pollfd){.fd = pipefd[0], .events = POLLIN};
	for (;;) {
		int r = poll(&pfd, 1, ms_left(deadline + (uint64_t)JATTACH_GRACE_MS * 1000000));

		if (r < 0 && errno == EINTR)
			continue;
		timed_out = r == 0;
		if (r > 0)
			n = read(pipefd[0], &wres, sizeof(wres));
		break;
	}
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(wres)) {
		*res = wres;
		res->pid = req->pid;
		res->start_ticks = req->start_ticks;
	} else if (timed_out) {
		/* Stuck in a syscall past the deadline (a FUSE /tmp that never answers...). */
		res->status = JATTACH_TIMEOUT;
	}
	/* Fatal signals end the killable waits of FUSE and NFS; not the others. */
	reap_worker(w);
}

static void supervisor_loop(int sock, uint32_t timeout_ms)
{
	struct jattach_result res;
	struct jattach_request req;
	ssize_t n;

	for (;;) {
		n = recv(sock, &req, sizeof(req), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the agent closed its end, or is gone */
		if (n != (ssize_t)sizeof(req)) {
			res = (struct jattach_result){.status = JATTACH_ERROR};
		} else {
			supervisor_run_one(sock, &req, timeout_ms, &res);
		}
		if (send(sock, &res, sizeof(res), MSG_NOSIGNAL) < 0)
			return;
	}
}

/*
 * Only @keep survives, moved to JATTACH_HELPER_FD; fds 0-2 become /dev/null rather than
 * closed, so that no socket or file opened later takes a number something may write to.
 */
static int close_fds_except(int keep)
{
	int fd, nul;
	DIR *d;
	struct dirent *de;

	fd = fcntl(keep, F_DUPFD_CLOEXEC, 16);
	if (fd < 0)
		return -errno;
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0)
		return -errno;
	if (dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0 ||
	    dup3(fd, JATTACH_HELPER_FD, O_CLOEXEC) < 0)
		return -errno;
	if (!syscall(SYS_close_range, JATTACH_HELPER_FD + 1, ~0U, 0))
		return 0;
	/* Before 5.9: every fd listed in /proc/self/fd, except the listing's own. */
	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int n = atoi(de->d_name);

		if (n > JATTACH_HELPER_FD && n != dirfd(d))
			close(n);
	}
	closedir(d);
	return 0;
}

static int reset_signals(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, ign = {.sa_handler = SIG_IGN};
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL); /* glibc's internal signals refuse: fine */
	if (sigaction(SIGPIPE, &ign, NULL))
		return -errno;
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL) ? -errno : 0;
}

/* Exactly helper_caps, in every set; no_new_privs. */
static int drop_caps(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};
	uint64_t eff, prm;

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	eff = (uint64_t)data[1].effective << 32 | data[0].effective;
	if ((eff & helper_caps) != helper_caps)
		return -EPERM;
	/* Without CAP_SETPCAP the bounding set stays: no_new_privs and no execve make it moot. */
	for (int c = 0; c < 64 && (eff & CAP_BIT(CAP_SETPCAP)); c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (r < 0)
			break; /* EINVAL past the kernel's last capability */
		if (r == 1 && !(helper_caps & CAP_BIT(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0))
			return -errno;
	}
	/* EINVAL: a kernel without ambient capabilities (< 4.3) has none to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)helper_caps;
	data[1].effective = data[1].permitted = (uint32_t)(helper_caps >> 32);
	if (syscall(SYS_capset, &hdr, data) || syscall(SYS_capget, &hdr, data))
		return -errno;
	eff = (uint64_t)data[1].effective << 32 | data[0].effective;
	prm = (uint64_t)data[1].permitted << 32 | data[0].permitted;
	if (eff != helper_caps || prm != helper_caps)
		return -EPERM;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? -errno : 0;
}

/* Everything before the first request but the fds; 0 or -errno, reported to jattach_start(). */
static int helper_setup(pid_t parent)
{
	int err;

	/* Its own session: a Ctrl-C or SIGHUP for the agent's process group is not for it. */
	if (setsid() < 0 || chdir("/"))
		return -errno;
	err = reset_signals();
	if (err)
		return err;
	/* A copy of the agent's memory (configuration, credentials): no core, no ptrace. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) || prctl(PR_SET_NAME, "stackd-jattach", 0, 0, 0))
		return -errno;
	umask(077);
	/* Root's supplementary groups would go along with the worker's JVM identity. */
	if (setgroups(0, NULL))
		return -errno;
	err = drop_caps();
	if (err)
		return err;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		return -errno;
	/* The agent died before PR_SET_PDEATHSIG could take effect. */
	if (getppid() != parent)
		return -ESRCH;
	return 0;
}

static void __attribute__((noreturn)) helper_main(int sock, pid_t parent, uint32_t timeout_ms)
{
	struct jattach_result hello = {0};

	hello.status = close_fds_except(sock);
	if (hello.status)
		_exit(1); /* jattach_start() sees the socket close without a word */
	sock = JATTACH_HELPER_FD;
	hello.status = helper_setup(parent);
	if (send(sock, &hello, sizeof(hello), MSG_NOSIGNAL) < 0 || hello.status)
		_exit(1);
	supervisor_loop(sock, timeout_ms);
	_exit(0);
}

/* ---- the agent's side ---- */

int jattach_start(const struct jattach_opts *opts, struct jattach **out)
{
	struct jattach_result hello;
	struct jattach *ja = NULL;
	struct pollfd pfd;
	int sv[2] = {-1, -1}, err = 0, st, r;
	pid_t parent = getpid();
	ssize_t n;

	*out = NULL;
	ja = calloc(1, sizeof(*ja));
	if (!ja)
		return -ENOMEM;
	ja->fd = -1;
	ja->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : JATTACH_DEFAULT_TIMEOUT_MS;
	if (ja->timeout_ms > JATTACH_MAX_TIMEOUT_MS) {
		err = -EINVAL;
		goto cleanup;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		err = -errno;
		goto cleanup;
	}
	ja->pid = fork();
	if (ja->pid < 0) {
		err = -errno;
		goto cleanup;
	}
	if (ja->pid == 0) {
		close(sv[0]);
		helper_main(sv[1], parent, ja->timeout_ms);
	}
	close(sv[1]);
	sv[1] = -1;
	ja->fd = sv[0];
	sv[0] = -1;
	pfd = (struct pollfd){.fd = ja->fd, .events = POLLIN};
	do
		r = poll(&pfd, 1, JATTACH_START_WAIT_MS);
	while (r < 0 && errno == EINTR);
	n = r > 0 ? recv(ja->fd, &hello, sizeof(hello), 0) : -1;
	if (n != (ssize_t)sizeof(hello))
		err = r == 0 ? -ETIMEDOUT : -ECHILD;
	else
		err = hello.status;
	if (err) {
		pr_err("jattach: the helper did not start: %s", strerror(-err));
		kill(ja->pid, SIGKILL);
		while (waitpid(ja->pid, &st, 0) < 0 && errno == EINTR)
			;
		goto cleanup;
	}
	pr_debug("jattach: helper %d runs, timeout %u ms", (int)ja->pid, ja->timeout_ms);
	*out = ja;
	ja = NULL;
cleanup:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (ja && ja->fd >= 0)
		close(ja->fd);
	free(ja);
	return err;
}

int jattach_fd(const struct jattach *ja)
{
	return ja->fd;
}

pid_t jattach_helper_pid(const struct jattach *ja)
{
	return ja->pid;
}

unsigned jattach_pending(const struct jattach *ja)
{
	return ja->pending;
}

int jattach_request(struct jattach *ja, pid_t pid, uint64_t start_ticks)
{
	return jattach_ask(ja, &(struct jattach_request){.pid = pid, .start_ticks = start_ticks});
}

int jattach_ask(struct jattach *ja, const struct jattach_request *r)
{
	struct jattach_request req = *r;

	if (req.pid <= 0)
		return -EINVAL;
	if (ja->pending >= JATTACH_MAX_PENDING)
		return -EAGAIN;
	if (send(ja->fd, &req, sizeof(req), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
			return -EPIPE;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	ja->pending++;
	return 0;
}

int jattach_result(struct jattach *ja, struct jattach_result *res)
{
	ssize_t n = recv(ja->fd, res, sizeof(*res), MSG_DONTWAIT);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return errno == ECONNRESET ? -EPIPE : -errno;
	}
	if (n == 0)
		return -EPIPE; /* the helper never sends an empty packet: this is its end */
	if (n != (ssize_t)sizeof(*res))
		return -EPROTO;
	if (ja->pending)
		ja->pending--;
	return 1;
}

void jattach_stop(struct jattach *ja)
{
	uint64_t deadline;
	pid_t r;
	int st;

	if (!ja)
		return;
	close(ja->fd);
	kill(ja->pid, SIGKILL);
	deadline = mono_ns() + (uint64_t)(ja->timeout_ms + JATTACH_STOP_WAIT_MS) * 1000000;
	for (;;) {
		r = waitpid(ja->pid, &st, WNOHANG);
		if (r != 0 && !(r < 0 && errno == EINTR))
			break; /* reaped, or ECHILD (SIGCHLD ignored: reaped by the kernel) */
		if (!ms_left(deadline)) {
			pr_warn("jattach: helper %d did not exit, left behind", (int)ja->pid);
			break;
		}
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000L}, NULL);
	}
	free(ja);
}
