/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Preflight: what the agent checks before it loads anything (privileges, BTF, perf
 * events, the BPF features sampling needs), each failure logged once with its cause
 * and the fix, and the kernel feature probes behind those checks. The probes are
 * shared with `stackd --check` (selfcheck.c), which reports instead of logging.
 */
#ifndef STACKD_AGENT_PREFLIGHT_H
#define STACKD_AGENT_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns 0 when stackd can load and attach its programs here, else -errno (logged). */
int preflight_run(void);

/* The calling thread's effective capabilities, one bit per CAP_* number; or -errno. */
int preflight_caps(uint64_t *effective);
/* True when @eff lets a process load and attach stackd's programs. */
int preflight_caps_can_load(uint64_t eff);
/* 0 with *@size when the kernel's BTF is readable, else -errno. */
int preflight_btf(long long *size);
/* Opens (and closes) a sampling perf event of @type/@config on @cpu: 0 or -errno. */
int preflight_perf_open(uint32_t type, uint64_t config, int cpu);

/*
 * What stackd's BPF programs need from the kernel, feature by feature. Every helper the
 * programs call, every map type they create and both program types are listed here
 * (tests/unit/test_preflight.c compares the table with the compiled object), with the first
 * kernel release that has it and what stackd does on a kernel without it.
 */
enum preflight_feature {
	PREFLIGHT_FEAT_SAMPLING, /* required: frame-pointer stacks, counts, process events */
	PREFLIGHT_FEAT_DWARF, /* --unwind.mode=kernel falls back to fp; =dwarf refuses to start */
	PREFLIGHT_FEAT_CGROUP_FILTER, /* --profiling.cgroups refuses to start; pids still work */
	PREFLIGHT_FEAT__MAX,
};

#define PREFLIGHT_KV(major, minor) ((major) << 8 | (minor))

enum preflight_kind { PREFLIGHT_PROG_TYPE, PREFLIGHT_MAP_TYPE, PREFLIGHT_HELPER };

struct preflight_item {
	enum preflight_kind kind;
	int id;		  /* enum bpf_prog_type, bpf_map_type or bpf_func_id */
	const char *name; /* as stackd --check prints it */
	unsigned since;	  /* PREFLIGHT_KV: first release with it (for this program type) */
	enum preflight_feature feature; /* the least optional feature that uses it */
};

extern const struct preflight_item preflight_items[];
extern const size_t preflight_nr_items;

/* "sampling", "DWARF unwinding", "cgroup filter". */
const char *preflight_feature_name(enum preflight_feature f);
/* The newest `since` of the feature's items: its minimum kernel (PREFLIGHT_KV). */
unsigned preflight_feature_min_kernel(enum preflight_feature f);

/* libbpf's probe for one item: 1 available, 0 not, -errno the probe itself failed. */
int preflight_probe(const struct preflight_item *it);
/*
 * Probes every item of @f: 1 when all are available; else the first failing item in
 * *@missing (when not NULL) and 0 (the kernel lacks it) or -errno (the probe failed).
 */
int preflight_feature_probe(enum preflight_feature f, const struct preflight_item **missing);

/*
 * The unwind mode to load with (enum stackd_unwind_mode), given whether the kernel has
 * the DWARF unwinding feature: kernel falls back to fp without it, dwarf cannot.
 * Returns 0 with *@mode set, or -ENOTSUP.
 */
int preflight_unwind_mode_for(unsigned want, bool has_dwarf, unsigned *mode);
/* Probes DWARF unwinding and applies preflight_unwind_mode_for to *@mode; logs the outcome. */
int preflight_unwind_mode(unsigned *mode);

#endif
