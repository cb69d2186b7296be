/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start-up checks: each failure is logged with its cause and the fix. The probes
 * below them are shared with `stackd --check` (check.c), which reports instead of
 * logging.
 */
#ifndef STACKD_AGENT_CHECKS_H
#define STACKD_AGENT_CHECKS_H

#include <stdint.h>

/* Returns 0 when stackd can load and attach its programs here, else -errno (logged). */
int checks_run(void);

/* The calling thread's effective capabilities, one bit per CAP_* number; or -errno. */
int checks_caps(uint64_t *effective);
/* True when @eff lets a process load and attach stackd's programs. */
int checks_caps_can_load(uint64_t eff);
/* 0 with *@size when the kernel's BTF is readable, else -errno. */
int checks_btf(long long *size);
/* Opens (and closes) a sampling perf event of @type/@config on @cpu: 0 or -errno. */
int checks_perf_open(uint32_t type, uint64_t config, int cpu);

#endif
