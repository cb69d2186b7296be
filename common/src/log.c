// SPDX-License-Identifier: Apache-2.0
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int g_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[level];
}

void log_set_level(enum log_level level)
{
	atomic_store(&g_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&g_level);
}

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&g_level);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char msg[1024], line[1400];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n = 0;

	if (!log_enabled(level))
		return;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n, ".%03ldZ level=%s msg=\"", ts.tv_nsec / 1000000,
		      log_level_name(level));
	/* logfmt: escape quotes, backslashes and newlines inside msg. */
	for (const char *p = msg; *p && n + 4 < sizeof(line); p++) {
		if (*p == '"' || *p == '\\') {
			line[n++] = '\\';
			line[n++] = *p;
		} else if (*p == '\n') {
			line[n++] = '\\';
			line[n++] = 'n';
		} else {
			line[n++] = *p;
		}
	}
	line[n++] = '"';
	line[n++] = '\n';
	/* One write per line so concurrent threads never interleave within a line. */
	fwrite(line, 1, n, stderr);
}
