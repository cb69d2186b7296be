/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start-up checks: each failure is logged with its cause and the fix. The probes
 * below them are shared with `stackd --check` (check.c), which reports instead of
 * logging.
 */
#ifndef STACKD_AGENT_CHECKS_H
#define STACKD_AGENT_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
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

/*
 * What stackd's BPF programs need from the kernel, feature by feature. Every helper the
 * programs call, every map type they create and both program types are listed here
 * (tests/unit/test_checks.c compares the table with the compiled object), with the first
 * kernel release that has it and what stackd does on a kernel without it.
 */
enum checks_feature {
	CHECKS_FEAT_SAMPLING, /* required: frame-pointer stacks, counts, process events */
	CHECKS_FEAT_DWARF,    /* --unwind.mode=auto falls back to fp; =dwarf refuses to start */
	CHECKS_FEAT_CGROUP_FILTER, /* --profiling.cgroups refuses to start; pids still work */
	CHECKS_FEAT__MAX,
};

#define CHECKS_KV(major, minor) ((major) << 8 | (minor))

enum checks_kind { CHECKS_PROG_TYPE, CHECKS_MAP_TYPE, CHECKS_HELPER };

struct checks_item {
	enum checks_kind kind;
	int id;			     /* enum bpf_prog_type, bpf_map_type or bpf_func_id */
	const char *name;	     /* as stackd --check prints it */
	unsigned since;		     /* CHECKS_KV: first release with it (for this program type) */
	enum checks_feature feature; /* the least optional feature that uses it */
};

extern const struct checks_item checks_items[];
extern const size_t checks_nr_items;

/* "sampling", "DWARF unwinding", "cgroup filter". */
const char *checks_feature_name(enum checks_feature f);
/* The newest `since` of the feature's items: its minimum kernel (CHECKS_KV). */
unsigned checks_feature_min_kernel(enum checks_feature f);

/* libbpf's probe for one item: 1 available, 0 not, -errno the probe itself failed. */
int checks_probe(const struct checks_item *it);
/*
 * Probes every item of @f: 1 when all are available; else the first failing item in
 * *@missing (when not NULL) and 0 (the kernel lacks it) or -errno (the probe failed).
 */
int checks_feature_probe(enum checks_feature f, const struct checks_item **missing);

/*
 * The unwind mode to load with (enum stackd_unwind_mode), given whether the kernel has
 * the DWARF unwinding feature: auto falls back to fp without it, dwarf cannot.
 * Returns 0 with *@mode set, or -ENOTSUP.
 */
int checks_unwind_mode_for(unsigned want, bool has_dwarf, unsigned *mode);
/* Probes DWARF unwinding and applies checks_unwind_mode_for to *@mode; logs the outcome. */
int checks_unwind_mode(unsigned *mode);

#endif
