// SPDX-License-Identifier: Apache-2.0
#include "selfcheck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroupid.h"
#include "loader.h"
#include "preflight.h"
#include "privs.h"
#include "stackd.h"
#include "version.h"

/* The init PID namespace always has this inode (PROC_PID_INIT_INO). */
#define INIT_PID_NS_INO 4026531836ULL

enum status { ST_OK, ST_INFO, ST_WARN, ST_FAIL };
static const char *const status_tags[] = {"ok", "info", "warn", "FAIL"};

/* What the checks found, for the verdicts at the end. */
struct findings {
	struct privs_env env;
	uint64_t caps;
	bool btf, perf, prog, loaded;
	bool feat[PREFLIGHT_FEAT__MAX]; /* every probed item of the feature is available */
	unsigned unwind_mode;		/* what the agent would load with (auto falls back to fp) */
	bool kallsyms, read_procs, init_pidns;
	unsigned procs_refused; /* other processes whose maps we could not read */
	unsigned nr_online;
	char load_err[256];
};

static char g_libbpf_last[256]; /* libbpf's last warning: why a load failed */

__attribute__((format(printf, 2, 0))) static int capture_libbpf(enum libbpf_print_level level,
								const char *fmt, va_list ap)
{
	char buf[sizeof(g_libbpf_last)];
	size_t n;

	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (n)
		memcpy(g_libbpf_last, buf, n + 1);
	return 0;
}

__attribute__((format(printf, 4, 5))) static void line(FILE *out, enum status st, const char *name,
						       const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "%-5s %-20s ", status_tags[st], name);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

static bool has(uint64_t caps, int cap)
{
	return caps & PRIVS_CAP(cap);
}

static bool kernel_at_least(const struct privs_env *env, unsigned major, unsigned minor)
{
	return env->kernel_major > major ||
	       (env->kernel_major == major && env->kernel_minor >= minor);
}

static int read_first_line(const char *path, char *buf, size_t sz)
{
	FILE *f = fopen(path, "re");
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)sz, f))
		err = ferror(f) ? -EIO : -ENODATA;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return err;
}

/* Online CPU ids from /sys/devices/system/cpu/online ("0-3,6"); returns how many. */
static unsigned online_cpus(int *cpus, unsigned max)
{
	char buf[1024], *save = NULL, *tok, *p = buf;
	unsigned n = 0;

	if (read_first_line("/sys/devices/system/cpu/online", buf, sizeof(buf)))
		return 0;
	while ((tok = strtok_r(p, ",", &save))) {
		unsigned a, b;
		int k = sscanf(tok, "%u-%u", &a, &b);

		p = NULL;
		if (k == 1)
			b = a;
		else if (k != 2 || b < a)
			continue;
		for (unsigned c = a; c <= b; c++) {
			if (n < max)
				cpus[n] = (int)c;
			n++;
		}
	}
	return n;
}

static void check_kernel(FILE *out, struct findings *f)
{
	struct utsname u;

	unsigned min = preflight_feature_min_kernel(PREFLIGHT_FEAT_SAMPLING);

	uname(&u);
	if (kernel_at_least(&f->env, min >> 8, min & 0xff))
		line(out, ST_OK, "kernel", "%s %s", u.release, u.machine);
	else
		line(out, ST_FAIL, "kernel",
		     "%s %s: older than %u.%u (no ring buffer, no CAP_BPF). "
		     "fix: Linux %u.%u or later (README: Requirements)",
		     u.release, u.machine, min >> 8, min & 0xff, min >> 8, min & 0xff);
}

static void check_btf_line(FILE *out, struct findings *f)
{
	long long size = 0;
	int err = preflight_btf(&size);

	f->btf = !err;
	if (!err)
		line(out, ST_OK, "BTF", "/sys/kernel/btf/vmlinux (%.1f MB)", size / 1e6);
	else
		line(out, ST_FAIL, "BTF",
		     "/sys/kernel/btf/vmlinux: %s. fix: a kernel built with "
		     "CONFIG_DEBUG_INFO_BTF=y (Debian 11+, Ubuntu 20.10+, RHEL 8.2+)",
		     strerror(-err));
}

static void check_perf_lines(FILE *out, struct findings *f)
{
	int cpus[4096], first_err = 0, bad_cpu = -1, err;
	unsigned n = online_cpus(cpus, 4096), ok = 0;
	int possible = libbpf_num_possible_cpus();

	f->nr_online = n;
	for (unsigned i = 0; i < n && i < 4096; i++) {
		err = preflight_perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, cpus[i]);
		if (!err) {
			ok++;
		} else if (!first_err) {
			first_err = err;
			bad_cpu = cpus[i];
		}
	}
	line(out, n ? ST_OK : ST_FAIL, "CPUs", "%u online, %d possible", n, possible);
	f->perf = n && ok == n;
	if (f->perf)
		line(out, ST_OK, "perf events", "software cpu-clock opens on all %u online CPUs",
		     n);
	else if (first_err == -EACCES || first_err == -EPERM)
		line(out, ST_FAIL, "perf events",
		     "cpu-clock on CPU %d: %s. fix: run as root or "
		     "grant CAP_PERFMON (perf_event_paranoid=%d)",
		     bad_cpu, strerror(-first_err), f->env.perf_event_paranoid);
	else
		line(out, ST_FAIL, "perf events",
		     "cpu-clock on CPU %d: %s. fix: a kernel with "
		     "CONFIG_PERF_EVENTS; in a container, allow perf_event_open in seccomp",
		     bad_cpu, strerror(-first_err ? -first_err : ENOENT));

	err = preflight_perf_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, n ? cpus[0] : 0);
	if (!err)
		line(out, ST_OK, "hw cycles",
		     "hardware PMU available (not needed: stackd samples "
		     "with cpu-clock)");
	else
		line(out, ST_INFO, "hw cycles",
		     "unavailable (%s; no PMU, as in most VMs): not "
		     "needed, stackd samples with the software cpu-clock",
		     strerror(-err));
}

static const char *probe_str(int r)
{
	static char buf[64];

	if (r == 1)
		return "yes";
	if (r == 0)
		return "no";
	snprintf(buf, sizeof(buf), "probe failed: %s", strerror(-r));
	return buf;
}

/* --profiling.cgroups needs a cgroup2 mount (paths to ids) and the cgroup id helpers. */
static void check_cgroup_filter_line(FILE *out, const struct config *cfg, const struct findings *f)
{
	char mnt[256];
	int m = cgroup_v2_mount(mnt, sizeof(mnt));

	if (f->feat[PREFLIGHT_FEAT_CGROUP_FILTER] && !m)
		line(out, ST_OK, "cgroup filter",
		     "cgroup2 at %s, bpf_get_current_(ancestor_)cgroup_id: --profiling.cgroups "
		     "works",
		     mnt);
	else
		line(out, cfg->filter_cgroups[0] ? ST_WARN : ST_INFO, "cgroup filter",
		     "cgroup2 mount %s, cgroup id helpers %s: --profiling.cgroups unavailable "
		     "(--profiling.pids works)",
		     m ? "none" : mnt, f->feat[PREFLIGHT_FEAT_CGROUP_FILTER] ? "yes" : "missing");
}

/* What a missing item of @feature means for this configuration. */
static enum status missing_status(const struct config *cfg, enum preflight_feature feature,
				  const char **consequence)
{
	switch (feature) {
	case PREFLIGHT_FEAT_DWARF:
		*consequence = cfg->unwind_mode == STACKD_UNWIND_DWARF
				   ? "--unwind.mode=dwarf cannot start"
				   : "--unwind.mode=kernel falls back to frame pointers";
		return cfg->unwind_mode == STACKD_UNWIND_FP	 ? ST_INFO
		       : cfg->unwind_mode == STACKD_UNWIND_DWARF ? ST_FAIL
								 : ST_WARN;
	case PREFLIGHT_FEAT_CGROUP_FILTER:
		*consequence = "--profiling.cgroups cannot start";
		return cfg->filter_cgroups[0] ? ST_FAIL : ST_INFO;
	default:
		*consequence = "stackd cannot start";
		return ST_FAIL;
	}
}

/*
 * One line per program type, map type and helper stackd's programs use (preflight.c's
 * table), probed with libbpf; then one summary line per kind.
 */
static void check_bpf_lines(FILE *out, const struct config *cfg, struct findings *f)
{
	static const char *const kind_line[] = {"BPF program", "BPF map", "BPF helper"};
	static const char *const kind_sum[] = {"BPF programs", "BPF maps", "BPF helpers"};
	unsigned nr[3] = {0}, ok[3] = {0};
	enum status worst[3] = {ST_OK, ST_OK, ST_OK};

	for (int i = 0; i < PREFLIGHT_FEAT__MAX; i++)
		f->feat[i] = true;
	/* Unprivileged, libbpf's probes report "unsupported" for what is only refused. */
	if (!preflight_caps_can_load(f->caps)) {
		for (int i = 0; i < PREFLIGHT_FEAT__MAX; i++)
			f->feat[i] = false;
		line(out, ST_FAIL, "BPF features",
		     "not probed: loading BPF needs CAP_BPF and "
		     "CAP_PERFMON (or CAP_SYS_ADMIN). fix: run as root");
		return;
	}
	for (size_t i = 0; i < preflight_nr_items; i++) {
		const struct preflight_item *it = &preflight_items[i];
		const char *feat = preflight_feature_name(it->feature), *consequence;
		enum status st;
		int r;

		nr[it->kind]++;
		/* A tracing program needs a BTF target to load: libbpf cannot probe the type. */
		if (it->kind == PREFLIGHT_PROG_TYPE && it->id != BPF_PROG_TYPE_PERF_EVENT) {
			ok[it->kind]++;
			line(out, ST_INFO, kind_line[it->kind],
			     "%s: not probed alone (Linux %u.%u+, %s): the BPF load below "
			     "verifies it",
			     it->name, it->since >> 8, it->since & 0xff, feat);
			continue;
		}
		r = preflight_probe(it);
		if (r == 1) {
			ok[it->kind]++;
			line(out, ST_OK, kind_line[it->kind], "%s: yes (Linux %u.%u+, %s)",
			     it->name, it->since >> 8, it->since & 0xff, feat);
			continue;
		}
		f->feat[it->feature] = false;
		st = missing_status(cfg, it->feature, &consequence);
		if (st > worst[it->kind])
			worst[it->kind] = st;
		line(out, st, kind_line[it->kind], "%s: %s (Linux %u.%u+, %s): %s", it->name,
		     probe_str(r), it->since >> 8, it->since & 0xff, feat, consequence);
	}
	f->prog = f->feat[PREFLIGHT_FEAT_SAMPLING];
	for (int k = 0; k < 3; k++)
		line(out, worst[k], kind_sum[k],
		     "%u of the %u that stackd's programs use are available", ok[k], nr[k]);
	check_cgroup_filter_line(out, cfg, f);
}

/*
 * The real thing: verify and load stackd's programs through the agent's own loader,
 * configured from the same flags, then unload. Not attached: --check leaves nothing
 * running (the perf event lines above open and close the events instead).
 */
static void check_load(FILE *out, const struct config *cfg, struct findings *f)
{
	struct loader_opts opts;
	struct loader *l = NULL;
	int err;

	loader_opts_from_config(&opts, cfg);
	opts.unwind_mode = f->unwind_mode;
	opts.quiet = true;
	/*
	 * --check runs before the cgroup paths are resolved to ids. The load only needs
	 * to know the filter is on (the ids go into the map in loader_attach, which is
	 * not called), so the programs are verified with the cgroup path in.
	 */
	if (cfg->filter_cgroups[0] && !opts.nr_filter_cgroups)
		opts.nr_filter_cgroups = 1;
	g_libbpf_last[0] = '\0';
	err = loader_open(&opts, &l);
	if (err) {
		snprintf(f->load_err, sizeof(f->load_err), "open: %s", strerror(-err));
		goto fail;
	}
	err = loader_load(l);
	if (err)
		snprintf(f->load_err, sizeof(f->load_err), "%s%s%.200s", strerror(-err),
			 *g_libbpf_last ? ": " : "", g_libbpf_last);
	loader_free(l); /* unloads */
	if (err)
		goto fail;
	f->loaded = true;
	line(out, ST_OK, "BPF load",
	     "stackd's programs pass the verifier (--unwind.mode=%s) "
	     "and were unloaded again",
	     f->unwind_mode == STACKD_UNWIND_FP	     ? "fp"
	     : f->unwind_mode == STACKD_UNWIND_DWARF ? "dwarf"
						     : "kernel");
	return;
fail:
	line(out, ST_FAIL, "BPF load", "%s. fix: see the lines above", f->load_err);
}

static void check_bpf_env_lines(FILE *out, struct findings *f)
{
	char buf[32];
	struct rlimit rl;
	int jit = -1;

	if (!read_first_line("/proc/sys/net/core/bpf_jit_enable", buf, sizeof(buf)))
		jit = atoi(buf);
	if (jit >= 1)
		line(out, ST_OK, "BPF JIT", "enabled (bpf_jit_enable=%d)", jit);
	else if (jit == 0)
		line(out, ST_WARN, "BPF JIT",
		     "disabled: the sampling program runs interpreted, "
		     "slower per sample. fix: sysctl net.core.bpf_jit_enable=1");
	else
		line(out, ST_INFO, "BPF JIT",
		     "bpf_jit_enable unreadable (always on with "
		     "CONFIG_BPF_JIT_ALWAYS_ON)");

	if (kernel_at_least(&f->env, 5, 11)) {
		line(out, ST_OK, "BPF memory",
		     "charged to the memory cgroup (5.11+): "
		     "RLIMIT_MEMLOCK does not limit the maps");
	} else if (!getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_cur == RLIM_INFINITY) {
		line(out, ST_OK, "BPF memory",
		     "charged to RLIMIT_MEMLOCK (before 5.11), unlimited");
	} else {
		line(out, has(f->caps, CAP_SYS_RESOURCE) ? ST_OK : ST_WARN, "BPF memory",
		     "charged to RLIMIT_MEMLOCK (before 5.11), %llu KiB%s",
		     (unsigned long long)(getrlimit(RLIMIT_MEMLOCK, &rl) ? 0 : rl.rlim_cur >> 10),
		     has(f->caps, CAP_SYS_RESOURCE)
			 ? "; libbpf raises it (CAP_SYS_RESOURCE)"
			 : ": large maps fail to load. fix: LimitMEMLOCK=infinity / ulimit -l "
			   "unlimited");
	}
	if (f->env.unprivileged_bpf_disabled != PRIVS_UNKNOWN)
		line(out, ST_INFO, "unprivileged_bpf", "%d%s", f->env.unprivileged_bpf_disabled,
		     f->env.unprivileged_bpf_disabled && !kernel_at_least(&f->env, 6, 5)
			 ? ": before 6.5 reading maps needs CAP_BPF, so stackd keeps it"
			 : ": no effect on stackd once its programs are loaded");
}

static void check_caps_lines(FILE *out, struct findings *f)
{
	static const int shown[] = {CAP_BPF,	    CAP_PERFMON,	 CAP_SYS_ADMIN,
				    CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_CHECKPOINT_RESTORE,
				    CAP_SYSLOG};
	char present[256] = "", absent[256] = "", kept[256], missing[256];
	uint64_t needed = privs_needed_caps(&f->env);
	bool can_load = preflight_caps_can_load(f->caps);

	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		char *dst = has(f->caps, shown[i]) ? present : absent;

		snprintf(dst + strlen(dst), 256 - strlen(dst), "%s%s", *dst ? " " : "",
			 privs_cap_name(shown[i]));
	}
	if (can_load && !(needed & ~f->caps))
		line(out, ST_OK, "capabilities", "effective: %s%s%s", present,
		     *absent ? "; absent: " : "", absent);
	else
		line(out, can_load ? ST_WARN : ST_FAIL, "capabilities",
		     "effective: %s; absent: %s. fix: run as root, or setcap "
		     "cap_bpf,cap_perfmon,%s,cap_setpcap+ep stackd",
		     *present ? present : "none", absent,
		     privs_caps_str(needed, kept, sizeof(kept)));
	line(out, ST_INFO, "after start-up", "keeps %s%s%s (README: Privileges)",
	     privs_caps_str(needed & f->caps, kept, sizeof(kept)),
	     needed & ~f->caps ? "; lacks " : "",
	     needed & ~f->caps ? privs_caps_str(needed & ~f->caps, missing, sizeof(missing)) : "");
}

static void check_kernel_symbol_lines(FILE *out, struct findings *f)
{
	int kr = f->env.kptr_restrict, par = f->env.perf_event_paranoid;
	char buf[256];
	unsigned long long addr = 0;

	if (kr == 0)
		line(out, ST_OK, "kptr_restrict", "0: kernel addresses visible %s",
		     par <= 1 ? "to everyone (perf_event_paranoid <= 1)" : "with CAP_SYSLOG");
	else if (kr == 1)
		line(out, ST_OK, "kptr_restrict",
		     "1: kernel addresses visible with CAP_SYSLOG only");
	else
		line(out, ST_FAIL, "kptr_restrict",
		     "%d: kernel addresses hidden from everyone: "
		     "kernel frames stay unsymbolized. fix: sysctl kernel.kptr_restrict=1",
		     kr);
	line(out, ST_INFO, "perf_event_paranoid", "%d: %s", par,
	     par >= 2 ? "only CAP_PERFMON/CAP_SYS_ADMIN may sample the kernel and other users; "
			"stackd needs them at start-up only"
		      : "unprivileged users may sample too; no effect on stackd");
	if (!read_first_line("/proc/kallsyms", buf, sizeof(buf)))
		sscanf(buf, "%llx", &addr);
	f->kallsyms = addr != 0;
	if (f->kallsyms)
		line(out, ST_OK, "kallsyms", "/proc/kallsyms shows real addresses to stackd");
	else
		line(out, ST_FAIL, "kallsyms",
		     "/proc/kallsyms shows no addresses to this process. "
		     "fix: run as root or grant CAP_SYSLOG; kernel.kptr_restrict must be 0 or 1");
}

static void check_process_lines(FILE *out, struct findings *f)
{
	unsigned readable = 0, refused = 0;
	char buf[256], ns[64] = "";
	unsigned long long ino = 0;
	int err, first_refused = 0;
	struct dirent *de;
	ssize_t n;
	DIR *d;

	/* Every other process: root's, other users', non-dumpable ones (what the agent reads). */
	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		int pid = atoi(de->d_name);
		char path[64];

		if (pid <= 0 || pid == (int)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
		err = read_first_line(path, buf, sizeof(buf));
		if (!err) {
			readable++;
		} else if (err != -ENODATA && err != -ENOENT && err != -ESRCH) {
			/* ENODATA: a kernel thread, no maps; ENOENT: gone meanwhile. */
			if (!refused++)
				first_refused = pid;
		}
	}
	if (d)
		closedir(d);
	f->read_procs = readable > 0;
	f->procs_refused = refused;
	if (!refused && readable)
		line(out, ST_OK, "/proc access",
		     "/proc/PID/maps of all %u other processes readable", readable);
	else
		line(out, readable ? ST_WARN : ST_FAIL, "/proc access",
		     "/proc/PID/maps of %u of %u "
		     "other processes readable (first refused: pid %d). fix: run as root or grant "
		     "CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH; an LSM may refuse some",
		     readable, readable + refused, first_refused);

	n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
	if (n > 0)
		ns[n] = '\0';
	sscanf(ns, "pid:[%llu]", &ino);
	f->init_pidns = ino == INIT_PID_NS_INO;
	if (f->init_pidns)
		line(out, ST_OK, "pid namespace", "the host's: kernel pids match /proc");
	else
		line(out, ST_FAIL, "pid namespace",
		     "%s is not the host's: samples carry host pids "
		     "that this /proc does not show. fix: run with the host PID namespace "
		     "(hostPID: true, docker --pid=host)",
		     *ns ? ns : "unknown");

	d = opendir("/usr/lib/debug/.build-id");
	if (d) {
		unsigned nr = 0;

		while ((de = readdir(d)))
			nr += de->d_name[0] != '.';
		closedir(d);
		line(out, ST_OK, "debuginfo",
		     "/usr/lib/debug/.build-id: %u prefix directories: "
		     "file:line and inlined frames for those objects",
		     nr);
	} else {
		line(out, ST_INFO, "debuginfo",
		     "no /usr/lib/debug/.build-id: function names from "
		     "symbol tables only. fix: install -dbg/-dbgsym packages for file:line");
	}
}

static void verdicts(FILE *out, const struct config *cfg, const struct findings *f)
{
	bool sampling = f->btf && f->perf && f->feat[PREFLIGHT_FEAT_SAMPLING] && f->loaded &&
			preflight_caps_can_load(f->caps);
	bool dwarf =
	    f->feat[PREFLIGHT_FEAT_DWARF] && f->unwind_mode != STACKD_UNWIND_FP && f->loaded;
	unsigned dwarf_min = preflight_feature_min_kernel(PREFLIGHT_FEAT_DWARF);
	bool mapfiles = has(f->caps, CAP_CHECKPOINT_RESTORE) || has(f->caps, CAP_SYS_ADMIN);
	bool user =
	    f->read_procs && has(f->caps, CAP_SYS_PTRACE) && has(f->caps, CAP_DAC_READ_SEARCH);

	fputc('\n', out);
	if (sampling)
		line(out, ST_OK, "=> sampling", "CPU stacks of every process on %u CPUs at %u Hz",
		     f->nr_online, cfg->frequency_hz);
	else
		line(out, ST_FAIL, "=> sampling",
		     "stackd cannot run here: fix the FAIL lines above");
	if (f->kallsyms)
		line(out, ST_OK, "=> kernel symbols",
		     "kernel frames symbolized from /proc/kallsyms");
	else
		line(out, ST_FAIL, "=> kernel symbols", "kernel frames shown as addresses");
	if (user && f->init_pidns)
		line(out, f->procs_refused ? ST_WARN : ST_OK, "=> user symbols",
		     "any process's binaries and libraries%s",
		     f->procs_refused ? ", except the processes refused above" : "");
	else
		line(out, ST_FAIL, "=> user symbols",
		     "user frames of other processes stay "
		     "unsymbolized");
	if (cfg->unwind_mode == STACKD_UNWIND_FP)
		line(out, ST_INFO, "=> CFI unwinding", "off (--unwind.mode=fp)");
	else if (dwarf && f->unwind_mode == STACKD_UNWIND_KERNEL)
		line(out, ST_OK, "=> CFI unwinding",
		     "stacks through code without frame pointers, walked in the kernel "
		     "(the walker passed the verifier above)");
	else if (dwarf)
		line(out, ST_OK, "=> CFI unwinding",
		     "stacks through code without frame pointers, from stack copies");
	else if (!f->loaded)
		line(out, ST_FAIL, "=> CFI unwinding", "the BPF programs do not load here");
	else
		line(out, ST_WARN, "=> CFI unwinding",
		     "unavailable (needs Linux %u.%u+, see the BPF helper lines): "
		     "--unwind.mode=kernel samples with frame pointers only",
		     dwarf_min >> 8, dwarf_min & 0xff);
	if (user && mapfiles && f->init_pidns)
		line(out, f->procs_refused ? ST_WARN : ST_OK, "=> containers",
		     "binaries in other mount namespaces and deleted "
		     "ones, through /proc/PID/map_files and /proc/PID/root");
	else
		line(out, ST_FAIL, "=> containers", "processes in containers stay unsymbolized%s",
		     mapfiles ? "" : " (no CAP_CHECKPOINT_RESTORE for /proc/PID/map_files)");
}

int selfcheck_report(const struct config *cfg, FILE *out)
{
	libbpf_print_fn_t old = libbpf_set_print(capture_libbpf);
	struct findings f = {};
	uint64_t caps = 0;

	privs_env_read(&f.env);
	if (!preflight_caps(&caps))
		f.caps = caps;
	fprintf(out, "stackd %s (libbpf %s): what this machine supports\n\n", STACKD_VERSION,
		STACKD_LIBBPF_VERSION);
	check_kernel(out, &f);
	check_btf_line(out, &f);
	check_perf_lines(out, &f);
	check_bpf_lines(out, cfg, &f);
	/* Load as the agent would: without the CFI helpers, kernel mode falls back to fp. */
	if (preflight_unwind_mode_for(cfg->unwind_mode, f.feat[PREFLIGHT_FEAT_DWARF],
				      &f.unwind_mode))
		f.unwind_mode = cfg->unwind_mode;
	check_load(out, cfg, &f);
	check_bpf_env_lines(out, &f);
	check_caps_lines(out, &f);
	check_kernel_symbol_lines(out, &f);
	check_process_lines(out, &f);
	verdicts(out, cfg, &f);
	fflush(out);
	libbpf_set_print(old);
	return f.btf && f.perf && f.feat[PREFLIGHT_FEAT_SAMPLING] && f.loaded &&
		       preflight_caps_can_load(f.caps)
		   ? 0
		   : -ENOTSUP;
}
