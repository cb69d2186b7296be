/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line flags. Every flag is described once, in the table in
 * config.c, which drives parsing, --help and the README's flag list.
 */
#ifndef STACKD_AGENT_CONFIG_H
#define STACKD_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"

/* --profiling.pids: most pids listed, and the largest pid Linux hands out (PID_MAX_LIMIT). */
#define CONFIG_MAX_FILTER_PIDS 1024
#define CONFIG_MAX_PID	       4194304
/* --profiling.cgroups: most cgroups listed. */
#define CONFIG_MAX_FILTER_CGROUPS 256
/* --metrics.functions: most patterns (each drained function name is matched against all). */
#define CONFIG_MAX_FUNCTION_PATTERNS 64

struct config {
	char listen_address[256];
	unsigned frequency_hz;
	bool include_idle;
	uint64_t drain_interval_ns;
	unsigned max_profile_seconds;
	unsigned max_concurrent_profiles;
	unsigned max_connections;
	unsigned max_connections_per_client;
	unsigned max_page_requests;
	uint64_t max_page_bytes;
	uint64_t read_timeout_ns;
	char web_config_file[1024];  /* "": plain HTTP, no auth */
	uint32_t stack_map_entries;  /* 0: derived from frequency x CPUs x drain interval */
	uint32_t counts_map_entries; /* 0: derived */
	uint64_t symbol_cache_bytes;
	uint64_t symbol_max_object_bytes; /* 0: derived from symbol_cache_bytes */
	uint64_t stack_cache_bytes;
	char debug_dirs[1024]; /* comma-separated; "" = the default /usr/lib/debug */
	unsigned max_processes;
	enum log_level log_level;
	unsigned unwind_mode; /* enum stackd_unwind_mode */
	uint64_t unwind_stack_bytes;
	uint64_t unwind_ring_bytes;
	uint64_t unwind_cache_bytes;
	uint64_t unwind_table_bytes; /* --unwind.table-budget: the kernel's row pool */
	bool offcpu_enabled;	     /* --offcpu.enabled */
	bool python_enabled;	     /* --python.enabled */
	bool java_enabled;	     /* --java.enabled */
	uint64_t offcpu_min_ns;	     /* --offcpu.min-duration */
	unsigned offcpu_max_walks;   /* --offcpu.max-walks */
	char run_as_user[64];	     /* "": stay root (capabilities are dropped either way) */
	/* Sampling filter; both empty: every process is sampled. */
	uint32_t filter_pids[CONFIG_MAX_FILTER_PIDS]; /* --profiling.pids, parsed */
	size_t nr_filter_pids;
	char filter_cgroups[4096]; /* --profiling.cgroups, comma-separated paths; "" = none */
	/* Not a flag: filter_cgroups resolved by config_resolve_cgroups() at start-up. */
	uint64_t filter_cgroup_ids[CONFIG_MAX_FILTER_CGROUPS];
	size_t nr_filter_cgroup_ids;
	char labels[256]; /* --profiling.labels: sample labels, comma-separated keys */
	uint64_t history_window_ns;
	uint64_t history_retention_ns; /* 0: no history */
	uint64_t history_max_bytes;
	unsigned metrics_cpu_max_series; /* 0: no stackd_cpu_seconds_total */
	char metrics_cpu_labels[128];	 /* comma-separated keys */
	char metrics_functions[4096];	 /* comma-separated shell globs; "" = off */
	unsigned metrics_functions_max_series;
};

enum config_result {
	CONFIG_RUN = 0,	    /* flags parsed: run the agent */
	CONFIG_EXIT_OK = 1, /* --help or --version was printed */
	CONFIG_CHECK = 2,   /* --check: report what this machine supports, then exit */
};

void config_defaults(struct config *cfg);
/* Returns CONFIG_RUN, CONFIG_EXIT_OK, CONFIG_CHECK, or -EINVAL after printing the error to @err. */
int config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err);
void config_usage(FILE *out);
/*
 * Start-up step after config_parse(): resolve --profiling.cgroups to cgroup v2
 * ids (cfg->filter_cgroup_ids). Returns 0, or -errno after printing which
 * path failed and why to @err.
 */
int config_resolve_cgroups(struct config *cfg, FILE *err);

/* Exposed for tests: "1s", "500ms", "2m", "1h" -> ns; "64MiB", "1GB", "4096" -> bytes. */
int config_parse_duration(const char *s, uint64_t *ns);
int config_parse_size(const char *s, uint64_t *bytes);
int config_parse_uint(const char *s, uint64_t max, uint64_t *out);

#endif
