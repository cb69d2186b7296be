// SPDX-License-Identifier: Apache-2.0
/*
 * agent/jattach.c as root: the helper's privileges and descriptors; fake JVMs forked here
 * that play HotSpot's part of the attach protocol (trigger file, socket renamed into place,
 * peer credentials, the exact request bytes) as root and as nobody, including hostile ones
 * (no socket, a listener that never answers, a FIFO, symlinks or another user's socket in
 * the way, replies with an error code or none); a process without a SIGQUIT handler, which
 * must survive; a stale start time; the request queue's limit and a helper that died; and
 * two live OpenJDK 17 JVMs (root and nobody) whose perf maps must appear, asked twice
 * without a second SIGQUIT (no thread dump).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "jattach.h"

#define JAVA	      "/usr/bin/java"
#define JAVAC	      "/usr/bin/javac"
#define NOBODY	      65534
#define FAKE_TIMEOUT  800 /* ms: the fake JVMs' helper */
#define JVM_TIMEOUT   5000
#define HELPER_CAPS   0x800c4ULL /* dac_read_search(2), setgid(6), setuid(7), sys_ptrace(19) */
#define REQUEST_BYTES "1\0jcmd\0Compiler.perfmap\0\0" /* sizeof: 26, the NUL included */

/* Exit codes of a fake JVM. */
enum {
	FAKE_EXIT_OK = 0,
	FAKE_EXIT_TRIGGER = 2, /* SIGQUIT without a trigger file of our euid in /tmp */
	FAKE_EXIT_SETUP = 3,
	FAKE_EXIT_PEER = 4,    /* a peer neither of our euid and egid */
	FAKE_EXIT_REQUEST = 5, /* not the exact request bytes */
	FAKE_EXIT_QUIT = 9,    /* SIGQUIT where none may come */
};

enum fake_mode {
	FAKE_ANSWER,	/* on SIGQUIT: socket, one connection answered "0\nok\n" */
	FAKE_FAILING,	/* ...answered as HotSpot does an unknown command ("-1\n...") */
	FAKE_GARBAGE,	/* ...answered without a code line */
	FAKE_SILENT,	/* on SIGQUIT: socket, accepts, never answers */
	FAKE_NO_SOCKET, /* on SIGQUIT: nothing */
	FAKE_NO_QUIT,	/* a SIGQUIT handler that must never run */
	FAKE_LISTENING, /* its socket is up from the start; a SIGQUIT must never come */
};

struct fake {
	pid_t pid;
	uint64_t start;
};

/*
 * What a test started, for its teardown: a failed assertion skips the rest of the test, and
 * neither a process nor a file in /tmp may outlive it (a JVM would hold ctest's pipe).
 */
#define MAX_SPAWNED 8
static struct spawned {
	pid_t pid;
	bool reaped; /* its pid may belong to another process now: files only */
} spawned[MAX_SPAWNED];
static unsigned nr_spawned;
static int spawned_fds[MAX_SPAWNED];
static unsigned nr_spawned_fds;
static struct jattach *helper;

static volatile sig_atomic_t got_quit;

static void on_quit(int sig)
{
	(void)sig;
	got_quit = 1;
}

static void on_forbidden_quit(int sig)
{
	(void)sig;
	_exit(FAKE_EXIT_QUIT);
}

static void tmp_name(char *buf, size_t sz, const char *prefix, pid_t pid)
{
	snprintf(buf, sz, "/tmp/%s%d", prefix, (int)pid);
}

static void track(pid_t pid)
{
	assert_true(nr_spawned < MAX_SPAWNED);
	spawned[nr_spawned++] = (struct spawned){.pid = pid};
}

static void track_fd(int fd)
{
	assert_true(nr_spawned_fds < MAX_SPAWNED);
	spawned_fds[nr_spawned_fds++] = fd;
}

static void mark_reaped(pid_t pid)
{
	for (unsigned i = 0; i < nr_spawned; i++)
		if (spawned[i].pid == pid)
			spawned[i].reaped = true;
}

static uint64_t read_start_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	uint64_t start = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	assert_non_null(p);
	for (int field = 3; field <= 22; field++) {
		p = strchr(p, ' ');
		assert_non_null(p);
		p++;
		if (field == 22)
			start = strtoull(p, NULL, 10);
	}
	return start;
}

/* HotSpot's way: bind <path>.tmp, 0600, rename over <path>. */
static int fake_listen(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char path[64];
	int l;

	tmp_name(path, sizeof(path), ".java_pid", getpid());
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.tmp", path);
	unlink(addr.sun_path);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) || listen(l, 5) ||
	    chmod(addr.sun_path, 0600) || rename(addr.sun_path, path))
		_exit(FAKE_EXIT_SETUP);
	return l;
}

/* One connection: strict peer check (our euid and egid, root only if we are root). */
static void fake_serve(int l, enum fake_mode mode)
{
	static const char *const replies[] = {
	    [FAKE_ANSWER] = "0\nok\n",
	    [FAKE_FAILING] = "-1\njava.lang.IllegalArgumentException: Unknown diagnostic command\n",
	    [FAKE_GARBAGE] = "perf map written, I promise\n",
	    [FAKE_LISTENING] = "0\n",
	};
	const char *reply = mode < sizeof(replies) / sizeof(replies[0]) ? replies[mode] : NULL;
	char req[64], extra;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	size_t got = 0;
	ssize_t n;
	int c;

	c = accept(l, NULL, NULL);
	if (c < 0 || getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		_exit(FAKE_EXIT_SETUP);
	if (cred.uid != geteuid() || cred.gid != getegid())
		_exit(FAKE_EXIT_PEER);
	while (got < sizeof(REQUEST_BYTES)) {
		n = read(c, req + got, sizeof(REQUEST_BYTES) - got);
		if (n <= 0)
			_exit(FAKE_EXIT_REQUEST);
		got += (size_t)n;
	}
	if (memcmp(req, REQUEST_BYTES, sizeof(REQUEST_BYTES)))
		_exit(FAKE_EXIT_REQUEST);
	/* Nothing more may follow. */
	if (poll(&(struct pollfd){.fd = c, .events = POLLIN}, 1, 50) > 0 &&
	    recv(c, &extra, 1, MSG_DONTWAIT) > 0)
		_exit(FAKE_EXIT_REQUEST);
	if (!reply)
		for (;;)
			pause();
	if (write(c, reply, strlen(reply)) != (ssize_t)strlen(reply))
		_exit(FAKE_EXIT_SETUP);
	close(c);
}

static void __attribute__((noreturn)) fake_main(int ready, enum fake_mode mode, uid_t uid)
{
	struct sigaction sa = {.sa_handler = on_quit};
	char path[64];
	struct stat st;
	sigset_t quit, none;
	int l = -1;

	if (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
		_exit(FAKE_EXIT_SETUP);
	/* After the uid change, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() == 1)
		_exit(FAKE_EXIT_SETUP);
	alarm(30);
	if (mode == FAKE_NO_QUIT || mode == FAKE_LISTENING)
		sa.sa_handler = on_forbidden_quit;
	sigemptyset(&quit);
	sigaddset(&quit, SIGQUIT);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &quit, NULL);
	if (sigaction(SIGQUIT, &sa, NULL))
		_exit(FAKE_EXIT_SETUP);
	if (mode == FAKE_LISTENING)
		l = fake_listen();
	if (write(ready, "r", 1) != 1)
		_exit(FAKE_EXIT_SETUP);
	close(ready);
	if (mode == FAKE_LISTENING) {
		sigprocmask(SIG_UNBLOCK, &quit, NULL);
		fake_serve(l, mode);
		_exit(FAKE_EXIT_OK);
	}
	while (!got_quit)
		sigsuspend(&none);
	tmp_name(path, sizeof(path), ".attach_pid", getpid());
	if (stat(path, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		_exit(FAKE_EXIT_TRIGGER);
	if (mode == FAKE_NO_SOCKET)
		for (;;)
			pause();
	l = fake_listen();
	fake_serve(l, mode);
	tmp_name(path, sizeof(path), ".java_pid", getpid());
	unlink(path);
	_exit(FAKE_EXIT_OK);
}

static void fake_spawn(enum fake_mode mode, uid_t uid, struct fake *f)
{
	int p[2];
	char c;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (!f->pid) {
		close(p[0]);
		fake_main(p[1], mode, uid);
	}
	track(f->pid);
	close(p[1]);
	assert_true(poll(&(struct pollfd){.fd = p[0], .events = POLLIN}, 1, 5000) == 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	f->start = read_start_ticks(f->pid);
}

/* Exit code of a fake that should have exited (or -1 if it still runs after 2 s). */
static int fake_wait(const struct fake *f)
{
	int st;

	for (int i = 0; i < 200; i++) {
		pid_t r = waitpid(f->pid, &st, WNOHANG);

		assert_true(r >= 0);
		if (r) {
			mark_reaped(f->pid);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(10 * 1000);
	}
	return -1;
}

static bool still_runs(pid_t pid)
{
	int st;

	return waitpid(pid, &st, WNOHANG) == 0;
}

static void reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	mark_reaped(pid);
}

/* Teardown of every test: its processes killed, their files in /tmp gone, the helper stopped. */
static int cleanup(void **state)
{
	static const char *const prefixes[] = {".java_pid", ".attach_pid", "perf-",
					       "stackd-jattach-sock.", "stackd-jattach-target."};
	char path[64];

	(void)state;
	for (unsigned i = 0; i < nr_spawned; i++) {
		if (!spawned[i].reaped)
			reap(spawned[i].pid);
		for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++) {
			tmp_name(path, sizeof(path), prefixes[k], spawned[i].pid);
			if (!strcmp(prefixes[k], "perf-"))
				strcat(path, ".map");
			unlink(path);
		}
	}
	nr_spawned = 0;
	for (unsigned i = 0; i < nr_spawned_fds; i++)
		close(spawned_fds[i]);
	nr_spawned_fds = 0;
	jattach_stop(helper);
	helper = NULL;
	return 0;
}

static bool tmp_exists(const char *prefix, pid_t pid)
{
	char path[64];
	struct stat st;

	tmp_name(path, sizeof(path), prefix, pid);
	return lstat(path, &st) == 0;
}

/* One request and its result; returns the milliseconds it took. */
static unsigned ask(struct jattach *ja, pid_t pid, uint64_t start, struct jattach_result *res)
{
	uint64_t t0 = mono_ns();

	assert_int_equal(jattach_request(ja, pid, start), 0);
	assert_int_equal(poll(&(struct pollfd){.fd = jattach_fd(ja), .events = POLLIN}, 1, 15000),
			 1);
	assert_int_equal(jattach_result(ja, res), 1);
	assert_int_equal(res->pid, pid);
	assert_int_equal(res->start_ticks, start);
	return (unsigned)((mono_ns() - t0) / 1000000);
}

static void expect_status(const struct jattach_result *res, int want)
{
	if (res->status != want)
		fail_msg("status %s, want %s", jattach_status_str(res->status),
			 jattach_status_str(want));
}

/* The test's helper, stopped by cleanup(). */
static struct jattach *start_helper(uint32_t timeout_ms)
{
	const struct jattach_opts opts = {.timeout_ms = timeout_ms};

	assert_null(helper);
	assert_int_equal(jattach_start(&opts, &helper), 0);
	assert_non_null(helper);
	return helper;
}

/* The value after "@key:\t" in /proc/PID/status, up to the line's end. */
static void status_value(pid_t pid, const char *key, char *out, size_t sz)
{
	char path[64], buf[8192], *p, *nl;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	p = strstr(buf, key);
	assert_non_null(p);
	p += strlen(key) + 1;
	while (*p == '\t' || *p == ' ')
		p++;
	nl = strchr(p, '\n');
	assert_non_null(nl);
	*nl = '\0';
	snprintf(out, sz, "%s", p);
}

static void assert_caps(pid_t pid, const char *key, uint64_t want)
{
	char val[64];

	status_value(pid, key, val, sizeof(val));
	if (strtoull(val, NULL, 16) != want)
		fail_msg("%s %s, want %016llx", key, val, (unsigned long long)want);
}

static void test_helper_privileges(void **state)
{
	char val[128], path[64], link[64];
	struct jattach *ja;
	struct dirent *de;
	int leak[2], nfds = 0;
	ssize_t n;
	pid_t h;
	DIR *d;

	(void)state;
	/* Not close-on-exec: the helper must close it anyway. */
	assert_int_equal(pipe(leak), 0);
	track_fd(leak[0]);
	track_fd(leak[1]);
	ja = start_helper(FAKE_TIMEOUT);
	h = jattach_helper_pid(ja);
	status_value(h, "Name", val, sizeof(val));
	assert_string_equal(val, "stackd-jattach");
	status_value(h, "Uid", val, sizeof(val));
	assert_string_equal(val, "0\t0\t0\t0");
	status_value(h, "Groups", val, sizeof(val));
	assert_string_equal(val, "");
	status_value(h, "NoNewPrivs", val, sizeof(val));
	assert_string_equal(val, "1");
	assert_caps(h, "CapEff", HELPER_CAPS);
	assert_caps(h, "CapPrm", HELPER_CAPS);
	assert_caps(h, "CapBnd", HELPER_CAPS);
	assert_caps(h, "CapInh", 0);
	assert_caps(h, "CapAmb", 0);
	/* Its socket on 3, /dev/null on 0-2, nothing else. */
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)h);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d))) {
		char fdpath[128];
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		nfds++;
		snprintf(fdpath, sizeof(fdpath), "%s/%d", path, fd);
		n = readlink(fdpath, link, sizeof(link) - 1);
		assert_true(n > 0);
		link[n] = '\0';
		if (fd <= 2)
			assert_string_equal(link, "/dev/null");
		else if (fd == 3)
			assert_true(strncmp(link, "socket:", 7) == 0);
		else
			fail_msg("helper holds fd %d (%s)", fd, link);
	}
	closedir(d);
	assert_int_equal(nfds, 4);
	assert_int_equal(jattach_pending(ja), 0);
	jattach_stop(ja);
	helper = NULL;
	/* Reaped: no such process any more. */
	assert_int_equal(kill(h, 0), -1);
}

/* A fake JVM as root: the whole protocol, and the trigger file removed afterwards. */
static void test_fake_jvm(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);
	struct jattach_result res;
	struct fake f;

	(void)state;
	fake_spawn(FAKE_ANSWER, 0, &f);
	ask(ja, f.pid, f.start, &res);
	expect_status(&res, JATTACH_OK);
	assert_int_equal(res.jvm_code, 0);
	assert_int_equal(fake_wait(&f), FAKE_EXIT_OK);
	assert_false(tmp_exists(".attach_pid", f.pid));
}

/*
 * A fake JVM as nobody, with strict checks: the trigger must be nobody's, the peer must be
 * nobody's uid and gid (root would not do), and /tmp/.java_pid is 0600 nobody's.
 */
static void test_fake_jvm_other_user(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);
	struct jattach_result res;
	struct fake f;

	(void)state;
	fake_spawn(FAKE_ANSWER, NOBODY, &f);
	ask(ja, f.pid, f.start, &res);
	expect_status(&res, JATTACH_OK);
	assert_int_equal(fake_wait(&f), FAKE_EXIT_OK);
	assert_false(tmp_exists(".attach_pid", f.pid));
}

/* A JVM's error code is passed on; a reply without one is an error. */
static void test_jvm_replies(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);
	struct jattach_result res;
	struct fake f;

	(void)state;
	fake_spawn(FAKE_FAILING, 0, &f);
	ask(ja, f.pid, f.start, &res);
	expect_status(&res, JATTACH_JVM_ERROR);
	assert_int_equal(res.jvm_code, -1);
	assert_int_equal(fake_wait(&f), FAKE_EXIT_OK);

	fake_spawn(FAKE_GARBAGE, 0, &f);
	ask(ja, f.pid, f.start, &res);
	expect_status(&res, JATTACH_ERROR);
	assert_int_equal(fake_wait(&f), FAKE_EXIT_OK);
}

/* A socket that is already up: used as is, no SIGQUIT (the fake dies of one). */
static void test_existing_socket(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);
	struct jattach_result res;
	struct fake f;

	(void)state;
	fake_spawn(FAKE_LISTENING, NOBODY, &f);
	ask(ja, f.pid, f.start, &res);
	expect_status(&res, JATTACH_OK);
	assert_int_equal(fake_wait(&f), FAKE_EXIT_OK);
	assert_false(tmp_exists(".attach_pid", f.pid));
}

/* Binds a socket at @path and closes it: the file stays, nobody listens. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int s;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(s);
}

/* A socket nobody listens on (a JVM killed before it removed it): trigger anyway. */
static void test_stale_socket(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);
	struct jattach_result res;
	char path[64];
	struct fake f;

	(void)state;
	fake_spawn(FAKE_ANSWER, 0, &f);
	tmp_name(path, sizeof(path), ".java_pid", f.pid);
	make_stale_socket(path);
	ask(ja, f.pid, f.start, &res);
	expect_status(&res, JATTACH_OK);
	assert_int_equal(fake_wait(&f), FAKE_EXIT_OK);
	assert_false(tmp_exists(".attach_pid", f.pid));
}

/* No SIGQUIT handler: no signal, the process lives on. */
static void test_not_jvm(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);
	struct jattach_result res;
	char comm[32] = "";
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	track(pid);
	/* Until it runs sleep, it is a copy of this process. */
	for (int i = 0; i < 500 && strcmp(comm, "sleep"); i++) {
		usleep(2000);
		status_value(pid, "Name", comm, sizeof(comm));
	}
	assert_string_equal(comm, "sleep");
	ask(ja, pid, read_start_ticks(pid), &res);
	expect_status(&res, JATTACH_NOT_JVM);
	usleep(100 * 1000);
	assert_true(still_runs(pid));
	assert_false(tmp_exists(".attach_pid", pid));
}

/* Another start time (a reused pid), a pid that is gone, a zombie. */
static void test_gone(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);
	struct jattach_result res;
	struct fake f;
	pid_t pid;

	(void)state;
	fake_spawn(FAKE_NO_QUIT, 0, &f);
	ask(ja, f.pid, f.start + 1, &res);
	expect_status(&res, JATTACH_GONE);
	assert_true(still_runs(f.pid));
	reap(f.pid);
	ask(ja, f.pid, f.start, &res);
	expect_status(&res, JATTACH_GONE);

	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		_exit(0);
	track(pid);
	usleep(50 * 1000);
	ask(ja, pid, read_start_ticks(pid), &res);
	expect_status(&res, JATTACH_GONE);
}

/* SIGQUIT answered by no socket: NO_SOCKET at the deadline, trigger removed. */
static void test_no_socket(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);
	struct jattach_result res;
	struct fake f;
	unsigned ms;

	(void)state;
	fake_spawn(FAKE_NO_SOCKET, 0, &f);
	ms = ask(ja, f.pid, f.start, &res);
	expect_status(&res, JATTACH_NO_SOCKET);
	assert_true(ms >= FAKE_TIMEOUT - 50 && ms < FAKE_TIMEOUT + 400);
	/* The fake checked the trigger on SIGQUIT (else it exits 2): still waiting. */
	assert_true(still_runs(f.pid));
	assert_false(tmp_exists(".attach_pid", f.pid));
}

/* A listener that takes the request and never answers: TIMEOUT at the deadline. */
static void test_silent_jvm(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);
	struct jattach_result res;
	struct fake f;
	unsigned ms;

	(void)state;
	fake_spawn(FAKE_SILENT, 0, &f);
	ms = ask(ja, f.pid, f.start, &res);
	expect_status(&res, JATTACH_TIMEOUT);
	assert_true(ms >= FAKE_TIMEOUT - 50 && ms < FAKE_TIMEOUT + 400);
	/* The fake got the exact request (else it exits 5) and still waits. */
	assert_true(still_runs(f.pid));
	assert_false(tmp_exists(".attach_pid", f.pid));
}

enum obstacle {
	OBSTACLE_FIFO,		 /* .java_pid is a FIFO */
	OBSTACLE_SOCKET_SYMLINK, /* .java_pid is a symlink to a real listening socket */
	OBSTACLE_FOREIGN_SOCKET, /* .java_pid is a listening socket of another user */
	OBSTACLE_TRIGGER_SYMLINK /* no socket, .attach_pid is a symlink to a FIFO */
};

/*
 * Whatever is in the way is refused at once: nothing is opened for I/O (a FIFO would block),
 * no symlink is followed, no SIGQUIT is sent (the fake dies of one).
 */
static void refused_case(struct jattach *ja, enum obstacle what)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char path[64], target[64];
	struct jattach_result res;
	struct fake f;
	struct stat st;
	int l = -1;
	unsigned ms;

	fake_spawn(FAKE_NO_QUIT, 0, &f);
	tmp_name(path, sizeof(path), ".java_pid", f.pid);
	switch (what) {
	case OBSTACLE_FIFO:
		assert_int_equal(mkfifo(path, 0600), 0);
		break;
	case OBSTACLE_SOCKET_SYMLINK:
	case OBSTACLE_FOREIGN_SOCKET:
		tmp_name(target, sizeof(target), "stackd-jattach-sock.", f.pid);
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s",
			 what == OBSTACLE_SOCKET_SYMLINK ? target : path);
		l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(l >= 0);
		track_fd(l);
		assert_int_equal(bind(l, (struct sockaddr *)&addr, sizeof(addr)), 0);
		assert_int_equal(listen(l, 5), 0);
		if (what == OBSTACLE_SOCKET_SYMLINK)
			assert_int_equal(symlink(target, path), 0);
		else
			assert_int_equal(chown(path, NOBODY, NOBODY), 0);
		break;
	case OBSTACLE_TRIGGER_SYMLINK:
		tmp_name(target, sizeof(target), "stackd-jattach-target.", f.pid);
		assert_int_equal(mkfifo(target, 0600), 0);
		tmp_name(path, sizeof(path), ".attach_pid", f.pid);
		assert_int_equal(symlink(target, path), 0);
		break;
	}
	ms = ask(ja, f.pid, f.start, &res);
	expect_status(&res, JATTACH_REFUSED);
	assert_true(ms < 300);
	usleep(50 * 1000);
	assert_true(still_runs(f.pid));
	if (l >= 0) {
		/* Nobody connected to the real socket behind the symlink, or to nobody's. */
		assert_int_equal(accept(l, NULL, NULL), -1);
		assert_int_equal(errno, EAGAIN);
	}
	if (what == OBSTACLE_TRIGGER_SYMLINK) {
		/* The symlink stays (not ours), its target untouched. */
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISLNK(st.st_mode));
		assert_int_equal(lstat(target, &st), 0);
		assert_true(S_ISFIFO(st.st_mode));
	}
}

static void test_refused(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);

	(void)state;
	refused_case(ja, OBSTACLE_FIFO);
	refused_case(ja, OBSTACLE_SOCKET_SYMLINK);
	refused_case(ja, OBSTACLE_FOREIGN_SOCKET);
	refused_case(ja, OBSTACLE_TRIGGER_SYMLINK);
}

/* At most JATTACH_MAX_PENDING unanswered requests; a helper that died: -EPIPE. */
static void test_pending_and_helper_gone(void **state)
{
	struct jattach *ja = start_helper(FAKE_TIMEOUT);
	struct jattach_result res;
	unsigned got = 0;
	pid_t self = getpid();

	(void)state;
	assert_int_equal(jattach_request(ja, 0, 1), -EINVAL);
	for (unsigned i = 0; i < JATTACH_MAX_PENDING; i++)
		assert_int_equal(jattach_request(ja, self, 1), 0);
	assert_int_equal(jattach_pending(ja), JATTACH_MAX_PENDING);
	assert_int_equal(jattach_request(ja, self, 1), -EAGAIN);
	while (got < JATTACH_MAX_PENDING) {
		int r;

		assert_int_equal(
		    poll(&(struct pollfd){.fd = jattach_fd(ja), .events = POLLIN}, 1, 5000), 1);
		while ((r = jattach_result(ja, &res)) == 1) {
			expect_status(&res, JATTACH_GONE);
			got++;
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(jattach_pending(ja), 0);

	kill(jattach_helper_pid(ja), SIGKILL);
	assert_int_equal(poll(&(struct pollfd){.fd = jattach_fd(ja), .events = POLLIN}, 1, 5000),
			 1);
	assert_int_equal(jattach_result(ja, &res), -EPIPE);
	assert_int_equal(jattach_request(ja, self, 1), -EPIPE);
}

/* ---- live JVMs ---- */

struct jvm {
	pid_t pid;
	uint64_t start;
	int out; /* its stdout, non-blocking */
};

static char class_dir[64];

static const char sleeper_java[] = "public class Sleeper {\n"
				   "\tpublic static void main(String[] a) throws Exception {\n"
				   "\t\tSystem.out.println(\"ready\");\n"
				   "\t\tSystem.out.flush();\n"
				   "\t\tThread.sleep(30000);\n"
				   "\t}\n"
				   "}\n";

/* Sleeper.class in a directory nobody can read; a missing JDK fails the group, never skips. */
static int jvm_group_setup(void **state)
{
	char src[128];
	int fd, st;
	pid_t pid;

	(void)state;
	if (access(JAVA, X_OK) || access(JAVAC, X_OK)) {
		fprintf(stderr,
			JAVA " or " JAVAC " is missing (apt install openjdk-17-jdk-headless)\n");
		return -1;
	}
	snprintf(class_dir, sizeof(class_dir), "/tmp/stackd-jattach-XXXXXX");
	if (!mkdtemp(class_dir) || chmod(class_dir, 0755))
		return -1;
	snprintf(src, sizeof(src), "%s/Sleeper.java", class_dir);
	fd = open(src, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, sleeper_java, sizeof(sleeper_java) - 1) !=
	    (ssize_t)(sizeof(sleeper_java) - 1)) {
		close(fd);
		return -1;
	}
	close(fd);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		execl(JAVAC, JAVAC, "-J-XX:TieredStopAtLevel=1", "-J-XX:-UsePerfData", "-d",
		      class_dir, src, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "javac failed\n");
		return -1;
	}
	return 0;
}

static int jvm_group_teardown(void **state)
{
	char path[128];

	(void)state;
	if (!class_dir[0])
		return 0;
	snprintf(path, sizeof(path), "%s/Sleeper.java", class_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/Sleeper.class", class_dir);
	unlink(path);
	rmdir(class_dir);
	return 0;
}

static void jvm_spawn(uid_t uid, struct jvm *j)
{
	char buf[256], path[64];
	size_t got = 0;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	j->pid = fork();
	assert_true(j->pid >= 0);
	if (!j->pid) {
		if (dup2(p[1], 1) < 0 || chdir(class_dir))
			_exit(126);
		if (uid &&
		    (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(126);
		/* After the uid change, which clears it; kept across execve. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		execl(JAVA, JAVA, "-XX:-UsePerfData", "-Xmx64m", "-cp", class_dir, "Sleeper",
		      (char *)NULL);
		_exit(127);
	}
	track(j->pid);
	close(p[1]);
	j->out = p[0];
	track_fd(j->out);
	tmp_name(path, sizeof(path), "perf-", j->pid);
	strcat(path, ".map");
	unlink(path);
	/* main() runs: the VM, its signal dispatcher and SIGQUIT handler are up. */
	while (!memchr(buf, '\n', got)) {
		ssize_t n;

		assert_int_equal(poll(&(struct pollfd){.fd = j->out, .events = POLLIN}, 1, 10000),
				 1);
		n = read(j->out, buf + got, sizeof(buf) - 1 - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_true(strncmp(buf, "ready\n", 6) == 0);
	assert_int_equal(fcntl(j->out, F_SETFL, O_NONBLOCK), 0);
	j->start = read_start_ticks(j->pid);
}

/* The perf map the JVM wrote in (its) /tmp, owned by its user, has the interpreter's blob. */
static void assert_perf_map(const struct jvm *j, uid_t uid)
{
	char path[64], buf[65536];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)j->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_uid, uid);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "Interpreter"));
}

/* No thread dump on its stdout: no SIGQUIT reached an attach listener already up. */
static void assert_no_thread_dump(const struct jvm *j)
{
	char buf[65536];
	ssize_t n = read(j->out, buf, sizeof(buf) - 1);

	if (n > 0) {
		buf[n] = '\0';
		assert_null(strstr(buf, "Full thread dump"));
	}
}

/*
 * OpenJDK 17, as root (with a stale socket of a previous JVM of that pid in the way) and as
 * nobody (the helper acts as nobody: trigger file, 0600 socket, peer credentials); each
 * asked twice, the second time through the socket already up.
 */
static void test_real_jvm(void **state)
{
	struct jattach *ja = start_helper(JVM_TIMEOUT);
	struct jattach_result res;
	struct jvm root, nobody;
	char path[64];

	(void)state;
	jvm_spawn(0, &root);
	jvm_spawn(NOBODY, &nobody);
	tmp_name(path, sizeof(path), ".java_pid", root.pid);
	make_stale_socket(path);

	ask(ja, root.pid, root.start, &res);
	expect_status(&res, JATTACH_OK);
	assert_int_equal(res.jvm_code, 0);
	assert_perf_map(&root, 0);
	assert_false(tmp_exists(".attach_pid", root.pid));

	ask(ja, nobody.pid, nobody.start, &res);
	expect_status(&res, JATTACH_OK);
	assert_perf_map(&nobody, NOBODY);
	assert_false(tmp_exists(".attach_pid", nobody.pid));

	ask(ja, root.pid, root.start, &res);
	expect_status(&res, JATTACH_OK);
	ask(ja, nobody.pid, nobody.start, &res);
	expect_status(&res, JATTACH_OK);
	/* A SIGQUIT to a JVM whose listener is up would print a thread dump now. */
	usleep(300 * 1000);
	assert_no_thread_dump(&root);
	assert_no_thread_dump(&nobody);
	assert_true(still_runs(root.pid));
	assert_true(still_runs(nobody.pid));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_helper_privileges, cleanup),
	    cmocka_unit_test_teardown(test_fake_jvm, cleanup),
	    cmocka_unit_test_teardown(test_fake_jvm_other_user, cleanup),
	    cmocka_unit_test_teardown(test_jvm_replies, cleanup),
	    cmocka_unit_test_teardown(test_existing_socket, cleanup),
	    cmocka_unit_test_teardown(test_stale_socket, cleanup),
	    cmocka_unit_test_teardown(test_not_jvm, cleanup),
	    cmocka_unit_test_teardown(test_gone, cleanup),
	    cmocka_unit_test_teardown(test_no_socket, cleanup),
	    cmocka_unit_test_teardown(test_silent_jvm, cleanup),
	    cmocka_unit_test_teardown(test_refused, cleanup),
	    cmocka_unit_test_teardown(test_pending_and_helper_gone, cleanup),
	};
	const struct CMUnitTest jvm_tests[] = {
	    cmocka_unit_test_teardown(test_real_jvm, cleanup),
	};
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "test_jattach runs as root (it forks JVMs as other users)\n");
		return 1;
	}
	failed = cmocka_run_group_tests_name("jattach", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("jattach_jvm", jvm_tests, jvm_group_setup,
					      jvm_group_teardown);
	return failed;
}
