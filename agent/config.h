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

struct config {
	char listen_address[256];
	unsigned frequency_hz;
	bool include_idle;
	uint64_t drain_interval_ns;
	unsigned max_profile_seconds;
	unsigned max_concurrent_profiles;
	unsigned max_connections;
	unsigned max_connections_per_client;
	uint64_t read_timeout_ns;
	char web_config_file[1024]; /* "": plain HTTP, no auth */
	uint32_t stack_map_entries; /* 0: derived from frequency x CPUs x drain interval */
	uint32_t counts_map_entries; /* 0: derived */
	uint64_t symbol_cache_bytes;
	uint64_t stack_cache_bytes;
	char debug_dirs[1024]; /* comma-separated; "" = the default /usr/lib/debug */
	unsigned max_processes;
	enum log_level log_level;
	unsigned unwind_mode; /* enum stackd_unwind_mode */
	uint64_t unwind_stack_bytes;
	uint64_t unwind_ring_bytes;
	uint64_t unwind_cache_bytes;
	char run_as_user[64]; /* "": stay root (capabilities are dropped either way) */
};

enum config_result {
	CONFIG_RUN = 0, /* flags parsed: run the agent */
	CONFIG_EXIT_OK = 1, /* --help or --version was printed */
	CONFIG_CHECK = 2, /* --check: report what this machine supports, then exit */
};

void config_defaults(struct config *cfg);
/* Returns CONFIG_RUN, CONFIG_EXIT_OK, CONFIG_CHECK, or -EINVAL after printing the error to @err. */
int config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err);
void config_usage(FILE *out);

/* Exposed for tests: "1s", "500ms", "2m", "1h" -> ns; "64MiB", "1GB", "4096" -> bytes. */
int config_parse_duration(const char *s, uint64_t *ns);
int config_parse_size(const char *s, uint64_t *bytes);
int config_parse_uint(const char *s, uint64_t max, uint64_t *out);

#endif
