// SPDX-License-Identifier: Apache-2.0
#include "checks.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define BTF_PATH "/sys/kernel/btf/vmlinux"

int checks_caps(uint64_t *effective)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data) != 0)
		return -errno;
	*effective = (uint64_t)data[1].effective << 32 | data[0].effective;
	return 0;
}

int checks_caps_can_load(uint64_t eff)
{
	return (eff >> CAP_SYS_ADMIN & 1) || ((eff >> CAP_BPF & 1) && (eff >> CAP_PERFMON & 1));
}

static int check_caps(void)
{
	uint64_t eff = 0;
	int err = checks_caps(&eff);

	if (err) {
		pr_err("cannot read capabilities: %s", strerror(-err));
		return err;
	}
	if (checks_caps_can_load(eff))
		return 0;
	pr_err("stackd needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load and attach its "
	       "BPF programs, and reads every process's /proc/PID/maps. Fix: run it as root "
	       "(sudo), or grant the capabilities: setcap "
	       "cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search,cap_checkpoint_restore,"
	       "cap_syslog,cap_setpcap+ep stackd");
	return -EPERM;
}

int checks_btf(long long *size)
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
	int err = checks_btf(&size);

	if (!err)
		return 0;
	pr_err("no kernel BTF at " BTF_PATH " (%s). stackd's BPF programs use CO-RE "
	       "and need a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian 11+, Ubuntu "
	       "20.10+, RHEL 8.2+ have it)",
	       strerror(-err));
	return -ENOENT;
}

int checks_perf_open(uint32_t type, uint64_t config, int cpu)
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
	int err = checks_perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, 0);

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

int checks_run(void)
{
	int err = check_caps();

	if (!err)
		err = check_btf();
	if (!err)
		err = check_perf();
	return err;
}
