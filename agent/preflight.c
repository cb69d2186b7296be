// SPDX-License-Identifier: Apache-2.0
#include "preflight.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "common/log.h"
#include "stackd.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define BTF_PATH "/sys/kernel/btf/vmlinux"

int preflight_caps(uint64_t *effective)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data) != 0)
		return -errno;
	*effective = (uint64_t)data[1].effective << 32 | data[0].effective;
	return 0;
}

int preflight_caps_can_load(uint64_t eff)
{
	return (eff >> CAP_SYS_ADMIN & 1) || ((eff >> CAP_BPF & 1) && (eff >> CAP_PERFMON & 1));
}

static int check_caps(void)
{
	uint64_t eff = 0;
	int err = preflight_caps(&eff);

	if (err) {
		pr_err("cannot read capabilities: %s", strerror(-err));
		return err;
	}
	if (preflight_caps_can_load(eff))
		return 0;
	pr_err("stackd needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load and attach its "
	       "BPF programs, and reads every process's /proc/PID/maps. Fix: run it as root "
	       "(sudo), or grant the capabilities: setcap "
	       "cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search,cap_checkpoint_restore,"
	       "cap_syslog,cap_setpcap+ep stackd");
	return -EPERM;
}

int preflight_btf(long long *size)
{
	struct stat st;

	if (access(BTF_PATH, R_OK) || stat(BTF_PATH, &st))
		return -errno;
	*size = (long long)st.st_size;
	return 0;
}

static int check_btf(void)
{
	long long size;
	int err = preflight_btf(&size);

	if (!err)
		return 0;
	pr_err("no kernel BTF at " BTF_PATH " (%s). stackd's BPF programs use CO-RE "
	       "and need a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian 11+, Ubuntu "
	       "20.10+, RHEL 8.2+ have it)",
	       strerror(-err));
	return -ENOENT;
}

int preflight_perf_open(uint32_t type, uint64_t config, int cpu)
{
	struct perf_event_attr attr = {
	    .type = type,
	    .size = sizeof(attr),
	    .config = config,
	    .sample_period = 1000000,
	    .disabled = 1,
	};
	int fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int check_perf(void)
{
	int err = preflight_perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, 0);

	if (!err)
		return 0;
	if (err == -EACCES || err == -EPERM)
		pr_err("perf events are not permitted (%s): check "
		       "/proc/sys/kernel/perf_event_paranoid and grant CAP_PERFMON",
		       strerror(-err));
	else
		pr_err("the software cpu-clock perf event is unavailable (%s): the kernel needs "
		       "CONFIG_PERF_EVENTS; in a container, perf_event_open may be blocked by "
		       "seccomp",
		       strerror(-err));
	return err;
}

#define PROG(t, n, maj, min, f)                                                                    \
	{                                                                                          \
		PREFLIGHT_PROG_TYPE, BPF_PROG_TYPE_##t, n, PREFLIGHT_KV(maj, min), f               \
	}
#define MAP(t, n, maj, min, f)                                                                     \
	{                                                                                          \
		PREFLIGHT_MAP_TYPE, BPF_MAP_TYPE_##t, n, PREFLIGHT_KV(maj, min), f                 \
	}
#define HELPER(h, maj, min, f)                                                                     \
	{                                                                                          \
		PREFLIGHT_HELPER, BPF_FUNC_##h, "bpf_" #h, PREFLIGHT_KV(maj, min), f               \
	}

/*
 * Releases from the kernel's history of each helper and map type (bcc's
 * docs/kernel-versions.md lists them with their commits); a helper older than
 * perf_event programs (4.9) counts from 4.9. The tp_btf programs call a subset
 * of the perf_event program's helpers: both program types take them from the
 * kernel's tracing helper set, so they are probed once, as perf_event.
 */
const struct preflight_item preflight_items[] = {
    PROG(PERF_EVENT, "perf_event", 4, 9, PREFLIGHT_FEAT_SAMPLING),
    PROG(TRACING, "tp_btf (exec, exit)", 5, 5, PREFLIGHT_FEAT_SAMPLING),
    MAP(HASH, "HASH", 4, 9, PREFLIGHT_FEAT_SAMPLING),
    MAP(ARRAY, "ARRAY (mmap'ed .bss)", 5, 5, PREFLIGHT_FEAT_SAMPLING),
    MAP(PERCPU_ARRAY, "PERCPU_ARRAY", 4, 9, PREFLIGHT_FEAT_SAMPLING),
    MAP(STACK_TRACE, "STACK_TRACE", 4, 9, PREFLIGHT_FEAT_SAMPLING),
    MAP(LRU_HASH, "LRU_HASH", 4, 10, PREFLIGHT_FEAT_SAMPLING),
    MAP(RINGBUF, "RINGBUF", 5, 8, PREFLIGHT_FEAT_SAMPLING),
    HELPER(map_lookup_elem, 4, 9, PREFLIGHT_FEAT_SAMPLING),
    HELPER(map_update_elem, 4, 9, PREFLIGHT_FEAT_SAMPLING),
    HELPER(map_delete_elem, 4, 9, PREFLIGHT_FEAT_SAMPLING),
    HELPER(get_smp_processor_id, 4, 9, PREFLIGHT_FEAT_SAMPLING),
    HELPER(get_current_pid_tgid, 4, 9, PREFLIGHT_FEAT_SAMPLING),
    HELPER(get_current_comm, 4, 9, PREFLIGHT_FEAT_SAMPLING),
    HELPER(get_current_task, 4, 9, PREFLIGHT_FEAT_SAMPLING),
    HELPER(get_stackid, 4, 9, PREFLIGHT_FEAT_SAMPLING),
    HELPER(get_stack, 4, 18, PREFLIGHT_FEAT_SAMPLING),
    HELPER(probe_read_kernel, 5, 5, PREFLIGHT_FEAT_SAMPLING),
    HELPER(ringbuf_reserve, 5, 8, PREFLIGHT_FEAT_SAMPLING),
    HELPER(ringbuf_submit, 5, 8, PREFLIGHT_FEAT_SAMPLING),
    HELPER(loop, 5, 17, PREFLIGHT_FEAT_SAMPLING),
    HELPER(ktime_get_ns, 4, 9, PREFLIGHT_FEAT_SAMPLING),
    /* --offcpu.max-walks: 1 in K switch-outs (the sched_switch program loads with the rest). */
    HELPER(get_prandom_u32, 4, 9, PREFLIGHT_FEAT_SAMPLING),
    HELPER(probe_read_user, 5, 5, PREFLIGHT_FEAT_DWARF),
    HELPER(ringbuf_query, 5, 8, PREFLIGHT_FEAT_DWARF),
    HELPER(get_current_task_btf, 5, 11, PREFLIGHT_FEAT_DWARF),
    HELPER(task_pt_regs, 5, 15, PREFLIGHT_FEAT_DWARF),
    HELPER(get_current_cgroup_id, 4, 18, PREFLIGHT_FEAT_CGROUP_FILTER),
    HELPER(get_current_ancestor_cgroup_id, 5, 6, PREFLIGHT_FEAT_CGROUP_FILTER),
};
const size_t preflight_nr_items = sizeof(preflight_items) / sizeof(preflight_items[0]);

const char *preflight_feature_name(enum preflight_feature f)
{
	static const char *const names[PREFLIGHT_FEAT__MAX] = {
	    [PREFLIGHT_FEAT_SAMPLING] = "sampling",
	    [PREFLIGHT_FEAT_DWARF] = "CFI unwinding",
	    [PREFLIGHT_FEAT_CGROUP_FILTER] = "cgroup filter",
	};

	return f < PREFLIGHT_FEAT__MAX ? names[f] : "?";
}

unsigned preflight_feature_min_kernel(enum preflight_feature f)
{
	unsigned v = 0;

	/* A feature also needs everything sampling needs: its programs load as one object. */
	for (size_t i = 0; i < preflight_nr_items; i++)
		if ((preflight_items[i].feature == f ||
		     preflight_items[i].feature == PREFLIGHT_FEAT_SAMPLING) &&
		    preflight_items[i].since > v)
			v = preflight_items[i].since;
	return v;
}

int preflight_probe(const struct preflight_item *it)
{
	switch (it->kind) {
	case PREFLIGHT_PROG_TYPE:
		return libbpf_probe_bpf_prog_type((enum bpf_prog_type)it->id, NULL);
	case PREFLIGHT_MAP_TYPE:
		return libbpf_probe_bpf_map_type((enum bpf_map_type)it->id, NULL);
	case PREFLIGHT_HELPER:
		return libbpf_probe_bpf_helper(BPF_PROG_TYPE_PERF_EVENT, (enum bpf_func_id)it->id,
					       NULL);
	}
	return -EINVAL;
}

int preflight_feature_probe(enum preflight_feature f, const struct preflight_item **missing)
{
	for (size_t i = 0; i < preflight_nr_items; i++) {
		const struct preflight_item *it = &preflight_items[i];
		int r;

		/* libbpf cannot probe tracing programs (they need a BTF target): the load does. */
		if (it->feature != f ||
		    (it->kind == PREFLIGHT_PROG_TYPE && it->id != BPF_PROG_TYPE_PERF_EVENT))
			continue;
		r = preflight_probe(it);
		if (r != 1) {
			if (missing)
				*missing = it;
			return r;
		}
	}
	return 1;
}

int preflight_unwind_mode_for(unsigned want, bool has_dwarf, unsigned *mode)
{
	if (want == STACKD_UNWIND_FP || has_dwarf) {
		*mode = want;
		return 0;
	}
	if (want == STACKD_UNWIND_KERNEL) {
		*mode = STACKD_UNWIND_FP;
		return 0;
	}
	return -ENOTSUP;
}

int preflight_unwind_mode(unsigned *mode)
{
	const struct preflight_item *miss = NULL;
	unsigned want = *mode, min = preflight_feature_min_kernel(PREFLIGHT_FEAT_DWARF);
	/* A probe that fails (rather than says no) also falls back: fp always works. */
	bool has =
	    want == STACKD_UNWIND_FP || preflight_feature_probe(PREFLIGHT_FEAT_DWARF, &miss) == 1;
	int err = preflight_unwind_mode_for(want, has, mode);

	if (err)
		pr_err("--unwind.mode=dwarf needs %s (Linux %u.%u+), which this kernel lacks. "
		       "fix: --unwind.mode=fp, or a newer kernel",
		       miss ? miss->name : "?", min >> 8, min & 0xff);
	else if (*mode != want)
		pr_warn("unwinding with tables needs %s (Linux %u.%u+), which this kernel lacks: "
			"--unwind.mode=kernel falls back to frame pointers only",
			miss ? miss->name : "?", min >> 8, min & 0xff);
	return err;
}

/* Before the verifier says it less clearly: name what sampling needs and the kernel lacks. */
static int check_sampling_features(void)
{
	const struct preflight_item *miss = NULL;
	unsigned min = preflight_feature_min_kernel(PREFLIGHT_FEAT_SAMPLING);
	int r = preflight_feature_probe(PREFLIGHT_FEAT_SAMPLING, &miss);

	if (r == 1)
		return 0;
	/* The probe itself failed: let the real load decide (and its log say why). */
	if (r < 0) {
		pr_warn("cannot probe %s: %s; loading the programs anyway", miss->name,
			strerror(-r));
		return 0;
	}
	pr_err("the kernel lacks %s (Linux %u.%u+), which stackd's sampling program needs "
	       "(stackd --check lists every BPF feature). fix: Linux %u.%u or later",
	       miss->name, miss->since >> 8, miss->since & 0xff, min >> 8, min & 0xff);
	return -ENOTSUP;
}

int preflight_run(void)
{
	int err = check_caps();

	if (!err)
		err = check_btf();
	if (!err)
		err = check_perf();
	if (!err)
		err = check_sampling_features();
	return err;
}
