/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leveled logging to stderr, one logfmt line per message:
 *   ts=2026-11-22T20:52:43.123Z level=warn msg="..."
 * Per-sample failures never log: they become counters. Log once, where the
 * context (path, pid, cpu) is known, and let callers propagate -errno.
 */
#ifndef STACKD_COMMON_LOG_H
#define STACKD_COMMON_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Returns 0, or -EINVAL for a name other than error|warn|info|debug. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...)  log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define pr_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define pr_debug(...)                                                                              \
	do {                                                                                       \
		if (log_enabled(LOG_LEVEL_DEBUG))                                                  \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                                     \
	} while (0)

#endif
