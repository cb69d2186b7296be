// SPDX-License-Identifier: Apache-2.0
/*
 * Which capabilities stay after start-up, and why. Observed on kernel 6.18 by dropping
 * each one in turn and reading a root process, a non-dumpable root process and another
 * user's process whose binary sits in a 0700 directory, as uid 0 and as nobody:
 *
 *   CAP_SYS_PTRACE         /proc/PID/maps, exe, root, map_files and mem pass a ptrace access
 *                          check: without it even uid 0 is refused every process whose
 *                          capabilities exceed ours (all of root's) and every non-dumpable one.
 *   CAP_DAC_READ_SEARCH    /proc/PID/map_files/ and mem are mode 0500/0600 owned by the target's
 *                          uid; binaries under /proc/PID/root may sit in directories only
 *                          their owner may search (/home/alice, 0700).
 *   CAP_CHECKPOINT_RESTORE opening (not just readlink) a /proc/PID/map_files/ entry; that is how
 *                          deleted binaries and other mount namespaces are read. Kernels before
 *                          5.9 ask for CAP_SYS_ADMIN there instead.
 *   CAP_SYSLOG             /proc/kallsyms shows real addresses only to it when kptr_restrict is 1,
 *                          or 0 with perf_event_paranoid > 1 (the kernel checks the opener's
 *                          capabilities, and kallsyms is re-read when modules change).
 *   CAP_BPF                only on kernels before 6.5 with unprivileged_bpf_disabled set: there
 *                          every bpf() command, even a lookup through an fd we hold, needs it.
 *
 * Not kept: CAP_BPF and CAP_PERFMON otherwise (programs are loaded, perf events attached and
 * no new ones are opened; map reads, the mmap'ed .bss and the ring buffers go through fds we
 * hold), CAP_SYS_ADMIN, CAP_NET_BIND_SERVICE (the socket is bound), CAP_SETUID/SETGID/SETPCAP
 * (used once, here), CAP_DAC_OVERRIDE (nothing is written outside our fds).
 *
 * Why capset(2) and not libcap: cap_set_proc() changes the calling thread only, like the
 * syscall; making it process-wide needs libpsx, which learns of threads through a wrapped
 * pthread_create and so would miss libmicrohttpd's threads. The per-thread broadcast below
 * (a signal whose handler makes only raw syscalls, then a check of every thread in
 * /proc/self/task) is what both would need anyway, and keeps the agent free of another
 * dependency.
 */
#include "privs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

/*
 * ThreadSanitizer builds (tests only): the TSan runtime's own background thread
 * blocks every signal, so it would never drop its capabilities and privs_drop
 * would refuse to run. The runtime stops that thread when told a sandbox begins.
 */
#if defined(__SANITIZE_THREAD__)
#define PRIVS_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PRIVS_UNDER_TSAN 1
#endif
#endif
#ifdef PRIVS_UNDER_TSAN
#include <sanitizer/common_interface_defs.h>
#endif

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT		 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define PRIVS_MAX_GROUPS 64
/* How long all threads get to apply the drop; they only need to be scheduled once. */
#define PRIVS_WAIT_MS 3000

static const char *const cap_names[] = {
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
};
#define NR_CAP_NAMES ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

const char *privs_cap_name(int cap)
{
	return cap >= 0 && cap < NR_CAP_NAMES ? cap_names[cap] : NULL;
}

const char *privs_caps_str(uint64_t mask, char *buf, size_t sz)
{
	size_t n = 0;

	if (!sz)
		return buf;
	buf[0] = '\0';
	for (int c = 0; c < 64 && n < sz; c++) {
		const char *name = privs_cap_name(c);
		int w;

		if (!(mask & PRIVS_CAP(c)))
			continue;
		w = name ? snprintf(buf + n, sz - n, "%s%s", n ? "," : "", name)
			 : snprintf(buf + n, sz - n, "%scap_%d", n ? "," : "", c);
		n += w > 0 ? (size_t)w : 0;
	}
	if (!mask)
		snprintf(buf, sz, "none");
	return buf;
}

uint64_t privs_effective(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return (uint64_t)data[1].effective << 32 | data[0].effective;
}

static int read_sysctl_int(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return PRIVS_UNKNOWN;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return PRIVS_UNKNOWN;
	buf[n] = '\0';
	return atoi(buf);
}

int privs_env_read(struct privs_env *env)
{
	struct utsname u;

	memset(env, 0, sizeof(*env));
	if (uname(&u))
		return -errno;
	if (sscanf(u.release, "%u.%u", &env->kernel_major, &env->kernel_minor) != 2)
		return -EINVAL;
	env->cap_last_cap = read_sysctl_int("/proc/sys/kernel/cap_last_cap");
	env->kptr_restrict = read_sysctl_int("/proc/sys/kernel/kptr_restrict");
	env->perf_event_paranoid = read_sysctl_int("/proc/sys/kernel/perf_event_paranoid");
	env->unprivileged_bpf_disabled =
	    read_sysctl_int("/proc/sys/kernel/unprivileged_bpf_disabled");
	return 0;
}

static bool kernel_before(const struct privs_env *env, unsigned major, unsigned minor)
{
	return env->kernel_major < major ||
	       (env->kernel_major == major && env->kernel_minor < minor);
}

uint64_t privs_needed_caps(const struct privs_env *env)
{
	uint64_t caps = PRIVS_CAP(CAP_SYS_PTRACE) | PRIVS_CAP(CAP_DAC_READ_SEARCH);

	/* map_files: checkpoint_restore_ns_capable() since 5.9, CAP_SYS_ADMIN before. */
	if (env->cap_last_cap >= CAP_CHECKPOINT_RESTORE)
		caps |= PRIVS_CAP(CAP_CHECKPOINT_RESTORE);
	else
		caps |= PRIVS_CAP(CAP_SYS_ADMIN);
	/*
	 * kallsyms_show_value(): kptr_restrict 0 shows addresses to all when
	 * perf_event_paranoid <= 1, else (and with 1) to CAP_SYSLOG only; 2 hides them from
	 * everyone, so the capability would buy nothing. Unknown: keep it.
	 */
	if (env->kptr_restrict == PRIVS_UNKNOWN || env->kptr_restrict == 1 ||
	    (env->kptr_restrict == 0 &&
	     (env->perf_event_paranoid == PRIVS_UNKNOWN || env->perf_event_paranoid > 1)))
		caps |= PRIVS_CAP(CAP_SYSLOG);
	/*
	 * Before 6.5 (commit "bpf: Move unprivileged checks into map_create() and
	 * bpf_prog_load()") __sys_bpf() refused every command without CAP_BPF when
	 * unprivileged BPF is disabled, including lookups through fds already held.
	 */
	if (kernel_before(env, 6, 5) && env->unprivileged_bpf_disabled != 0)
		caps |=
		    env->cap_last_cap >= CAP_BPF ? PRIVS_CAP(CAP_BPF) : PRIVS_CAP(CAP_SYS_ADMIN);
	return caps;
}

/*
 * The change every thread applies to itself. Filled by privs_drop() before the first
 * signal is sent and read-only afterwards, so the handler may read it.
 */
struct privs_plan {
	uint64_t keep;
	int cap_last;
	bool drop_bounding;
	bool change_ids;
	uid_t uid;
	gid_t gid;
	gid_t groups[PRIVS_MAX_GROUPS];
	int nr_groups;
};

static struct privs_plan g_plan;
static _Atomic int g_thread_err; /* first -errno a thread's handler met */
static _Atomic int g_thread_err_tid;

static long sys_prctl(int op, unsigned long a, unsigned long b)
{
	return syscall(SYS_prctl, op, a, b, 0UL, 0UL);
}

/*
 * Async-signal-safe (raw syscalls only) and idempotent, as a thread may get the signal
 * twice. Order matters: the bounding set needs CAP_SETPCAP and the id change CAP_SETUID/
 * CAP_SETGID, so both come before capset() lowers the permitted set; PR_SET_KEEPCAPS keeps
 * the permitted set across the switch away from uid 0 (the effective set is cleared by it
 * and raised again by capset()). setresuid() and friends are raw syscalls because glibc's
 * wrappers would broadcast them to all threads from inside this handler.
 */
static int apply_to_self(const struct privs_plan *p)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};
	uid_t ruid, euid, suid;

	if (p->change_ids && sys_prctl(PR_SET_KEEPCAPS, 1, 0))
		return -errno;
	for (int c = 0; p->drop_bounding && c <= p->cap_last && c < 64; c++) {
		if (p->keep & PRIVS_CAP(c) || sys_prctl(PR_CAPBSET_READ, (unsigned long)c, 0) != 1)
			continue;
		if (sys_prctl(PR_CAPBSET_DROP, (unsigned long)c, 0))
			return -errno;
	}
	/* EINVAL: a kernel without ambient capabilities (< 4.3) has none to clear. */
	if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL) &&
	    errno != EINVAL)
		return -errno;
	if (p->change_ids) {
		if (syscall(SYS_getresuid, &ruid, &euid, &suid))
			return -errno;
		if (ruid != p->uid || euid != p->uid || suid != p->uid) {
			if (syscall(SYS_setgroups, (size_t)p->nr_groups, p->groups) ||
			    syscall(SYS_setresgid, p->gid, p->gid, p->gid) ||
			    syscall(SYS_setresuid, p->uid, p->uid, p->uid))
				return -errno;
		}
		if (sys_prctl(PR_SET_KEEPCAPS, 0, 0))
			return -errno;
	}
	data[0].effective = data[0].permitted = (uint32_t)p->keep;
	data[1].effective = data[1].permitted = (uint32_t)(p->keep >> 32);
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	if (sys_prctl(PR_SET_NO_NEW_PRIVS, 1, 0))
		return -errno;
	return 0;
}

static void on_privs_signal(int sig)
{
	int saved = errno, err, none = 0;

	(void)sig;
	err = apply_to_self(&g_plan);
	if (err && atomic_compare_exchange_strong(&g_thread_err, &none, err))
		atomic_store(&g_thread_err_tid, (int)syscall(SYS_gettid));
	errno = saved;
}

/*
 * The credential lines of a thread's status, concatenated: two threads with equal
 * strings have equal users, groups, capability sets and no_new_privs.
 */
static int read_creds(pid_t tid, char *out, size_t sz)
{
	static const char *const keys[] = {"Uid:",    "Gid:",	 "Groups:", "CapInh:",	  "CapPrm:",
					   "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:"};
	char path[64], buf[4096];
	size_t n = 0;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return got < 0 ? -errno : -EIO;
	buf[got] = '\0';
	out[0] = '\0';
	for (char *line = buf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t len = (size_t)(nl - line) + 1;

			if (strncmp(line, keys[k], strlen(keys[k])) || n + len >= sz)
				continue;
			memcpy(out + n, line, len);
			n += len;
			out[n] = '\0';
		}
	}
	return 0;
}

/* One pass over the threads: signals each one whose creds differ from @want. */
static int signal_stragglers(const char *want, int sig, unsigned *nr_threads, pid_t *straggler)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	struct dirent *de;
	char creds[1024];
	int pending = 0;
	DIR *d = opendir("/proc/self/task");

	if (!d)
		return -errno;
	*nr_threads = 0;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0)
			continue;
		(*nr_threads)++;
		if (tid == self || read_creds(tid, creds, sizeof(creds)))
			continue; /* a thread that is gone has nothing left to drop */
		if (strcmp(creds, want) == 0)
			continue;
		pending++;
		*straggler = tid;
		if (syscall(SYS_tgkill, getpid(), tid, sig) && errno != ESRCH)
			pending = -errno;
		if (pending < 0)
			break;
	}
	closedir(d);
	return pending;
}

static int resolve_user(const char *name, struct privs_plan *p)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int n = PRIVS_MAX_GROUPS, err;

	err = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (err || !res) {
		pr_err("--run-as-user=%s: no such user (%s)", name,
		       err ? strerror(err) : "not found");
		return err ? -err : -ENOENT;
	}
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;
	/* The user's own groups, as login would give them (a TLS key may be group-readable). */
	if (getgrouplist(name, pw.pw_gid, p->groups, &n) < 0) {
		pr_warn("--run-as-user=%s: more than %d groups; keeping only the primary group %u",
			name, PRIVS_MAX_GROUPS, (unsigned)pw.pw_gid);
		p->groups[0] = pw.pw_gid;
		n = 1;
	}
	p->nr_groups = n;
	p->change_ids = true;
	return 0;
}

static atomic_bool g_dropped;

bool privs_are_dropped(void)
{
	return atomic_load(&g_dropped);
}

int privs_drop(const struct privs_opts *opts)
{
	struct sigaction sa = {.sa_handler = on_privs_signal, .sa_flags = SA_RESTART};
	uint64_t have = privs_effective(), needed;
	char want[1024], names[512], missing[512];
	unsigned nr_threads = 0;
	pid_t straggler = 0;
	struct privs_env env;
	int sig = SIGRTMIN + 4, err, waited_ms = 0;
	sigset_t set;

	err = privs_env_read(&env);
	if (err) {
		pr_err("cannot read the kernel version: %s", strerror(-err));
		return err;
	}
	needed = privs_needed_caps(&env);
	memset(&g_plan, 0, sizeof(g_plan));
	g_plan.keep = needed & have;
	g_plan.cap_last = env.cap_last_cap != PRIVS_UNKNOWN ? env.cap_last_cap : 63;
	/* Without CAP_SETPCAP (file capabilities without it) the bounding set stays as is. */
	g_plan.drop_bounding = have & PRIVS_CAP(CAP_SETPCAP);
	if (needed & ~have)
		pr_warn("running without %s: some processes, binaries or kernel symbols will not "
			"be readable (stackd --check explains)",
			privs_caps_str(needed & ~have, missing, sizeof(missing)));
	if (opts && opts->run_as_user && *opts->run_as_user) {
		if ((have & (PRIVS_CAP(CAP_SETUID) | PRIVS_CAP(CAP_SETGID))) !=
		    (PRIVS_CAP(CAP_SETUID) | PRIVS_CAP(CAP_SETGID))) {
			pr_err(
			    "--run-as-user=%s needs CAP_SETUID and CAP_SETGID (run stackd as root)",
			    opts->run_as_user);
			return -EPERM;
		}
		err = resolve_user(opts->run_as_user, &g_plan);
		if (err)
			return err;
	}

#ifdef PRIVS_UNDER_TSAN
	__sanitizer_sandbox_on_notify(NULL);
#endif
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		return -errno;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	err = apply_to_self(&g_plan);
	if (err) {
		pr_err("dropping privileges failed: %s", strerror(-err));
		return err;
	}
	err = read_creds((pid_t)syscall(SYS_gettid), want, sizeof(want));
	if (err) {
		pr_err("cannot read /proc/self/task status: %s", strerror(-err));
		return err;
	}
	/* Threads started by a thread not yet converted appear in a later pass. */
	for (;;) {
		int pending = signal_stragglers(want, sig, &nr_threads, &straggler);

		err = atomic_load(&g_thread_err);
		if (err) {
			pr_err("dropping privileges failed in thread %d: %s",
			       atomic_load(&g_thread_err_tid), strerror(-err));
			return err;
		}
		if (pending < 0) {
			pr_err("cannot signal the agent's threads: %s", strerror(-pending));
			return pending;
		}
		if (!pending)
			break;
		if (waited_ms >= PRIVS_WAIT_MS) {
			pr_err("thread %d still has its privileges after %d ms (is signal %d "
			       "blocked there?); refusing to run privileged",
			       (int)straggler, PRIVS_WAIT_MS, sig);
			return -ETIMEDOUT;
		}
		nanosleep(&(struct timespec){.tv_nsec = 5 * 1000000L}, NULL);
		waited_ms += 5;
	}
	/*
	 * A uid change resets the dumpable flag to fs.suid_dumpable, which may be
	 * 1: the process (one mm, so all threads) stays undumpable. main() set it
	 * before any thread started; this is the same guarantee after the drop.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		err = -errno;
		pr_err("PR_SET_DUMPABLE 0 failed: %s", strerror(-err));
		return err;
	}
	atomic_store(&g_dropped, true);
	privs_caps_str(g_plan.keep, names, sizeof(names));
	if (!g_plan.drop_bounding)
		pr_info(
		    "no CAP_SETPCAP: the bounding set stays as it was given (no_new_privs keeps "
		    "execve from raising anything)");
	if (g_plan.change_ids)
		pr_info("privileges dropped in all %u threads: user %s (uid %u, gid %u), "
			"capabilities %s, no_new_privs",
			nr_threads, opts->run_as_user, (unsigned)g_plan.uid, (unsigned)g_plan.gid,
			names);
	else if (geteuid() == 0)
		pr_info("privileges dropped in all %u threads: capabilities %s, no_new_privs "
			"(still uid 0: --run-as-user also gives up root's file ownership)",
			nr_threads, names);
	else
		pr_info("privileges dropped in all %u threads: capabilities %s, no_new_privs "
			"(uid %u)",
			nr_threads, names, (unsigned)geteuid());
	return 0;
}

const char *privs_config_mode_problem(mode_t mode, uid_t uid, gid_t gid, uid_t euid)
{
	if (!S_ISREG(mode) && !S_ISDIR(mode))
		return "not a regular file";
	if (uid != 0 && uid != euid)
		return "owned by a user other than root, who could change what stackd reads";
	if (mode & S_IWOTH)
		return S_ISDIR(mode) && (mode & S_ISVTX)
			   ? NULL
			   : "world-writable (writable by every user)";
	if ((mode & S_IWGRP) && gid != 0)
		return S_ISDIR(mode) && (mode & S_ISVTX) ? NULL
							 : "writable by a group other than root";
	return NULL;
}

int privs_check_config_file(const char *path)
{
	char real[PATH_MAX], *slash;
	const char *why;
	struct stat st;

	/* Check what is really read (ConfigMaps are symlinks), then the directory holding it. */
	if (!realpath(path, real)) {
		int err = -errno;

		pr_err("%s: cannot read: %s", path, strerror(-err));
		return err;
	}
	if (stat(real, &st)) {
		pr_err("%s: cannot read: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("refusing %s: not a regular file", path);
		return -EINVAL;
	}
	why = privs_config_mode_problem(st.st_mode, st.st_uid, st.st_gid, geteuid());
	if (why) {
		pr_err(
		    "refusing %s (%s, mode %04o, uid %u, gid %u): %s. Fix: chown root:root %s && "
		    "chmod go-w %s",
		    path, real, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
		    (unsigned)st.st_gid, why, real, real);
		return -EPERM;
	}
	slash = strrchr(real, '/');
	if (slash == real)
		slash++;
	*slash = '\0';
	if (stat(real, &st)) {
		pr_err("cannot read the directory %s: %s", real, strerror(errno));
		return -errno;
	}
	why = privs_config_mode_problem(st.st_mode, st.st_uid, st.st_gid, geteuid());
	if (why) {
		pr_err(
		    "refusing %s: its directory %s (mode %04o, uid %u) is %s, so the file can be "
		    "replaced. Fix: move the file to a directory only root may write",
		    path, real, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, why);
		return -EPERM;
	}
	return 0;
}
