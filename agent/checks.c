// SPDX-License-Identifier: Apache-2.0
#include "checks.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

static int check_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data) != 0) {
		pr_err("cannot read capabilities: %s", strerror(errno));
		return -errno;
	}
	if (has_cap(data, CAP_SYS_ADMIN) ||
	    (has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON)))
		return 0;
	pr_err("stackd needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load and attach its "
	       "BPF programs, and reads every process's /proc/PID/maps. Fix: run it as root "
	       "(sudo), or grant the capabilities: setcap "
	       "cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search,cap_sys_resource+ep stackd");
	return -EPERM;
}

static int check_btf(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return 0;
	pr_err("no kernel BTF at /sys/kernel/btf/vmlinux (%s). stackd's BPF programs use CO-RE "
	       "and need a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian 11+, Ubuntu "
	       "20.10+, RHEL 8.2+ have it)",
	       strerror(errno));
	return -ENOENT;
}

static int check_perf(void)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = 1000000,
		.disabled = 1,
	};
	int fd = (int)syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EACCES || errno == EPERM)
		pr_err("perf events are not permitted (%s): check "
		       "/proc/sys/kernel/perf_event_paranoid and grant CAP_PERFMON",
		       strerror(errno));
	else
		pr_err("the software cpu-clock perf event is unavailable (%s): the kernel needs "
		       "CONFIG_PERF_EVENTS; in a container, perf_event_open may be blocked by "
		       "seccomp",
		       strerror(errno));
	return -errno;
}

int checks_run(void)
{
	int err = check_caps();

	if (!err)
		err = check_btf();
	if (!err)
		err = check_perf();
	return err;
}
