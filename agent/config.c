// SPDX-License-Identifier: Apache-2.0
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "stackd.h"
#include "version.h"

enum flag_kind {
	FLAG_STRING,
	FLAG_UINT,
	FLAG_BOOL,
	FLAG_DURATION,
	FLAG_SIZE,
	FLAG_LOGLEVEL,
	FLAG_UNWIND_MODE,
};

struct flag {
	const char *name;
	enum flag_kind kind;
	size_t offset;
	size_t size; /* FLAG_STRING: the field's size */
	uint64_t min, max; /* for numeric kinds */
	const char *def; /* default, as shown in --help */
	const char *help;
};

#define OFF(f) offsetof(struct config, f), 0
#define STR(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

static const struct flag flags[] = {
	{ "web.listen-address", FLAG_STRING, STR(listen_address), 0, 0, "127.0.0.1:6061",
	  "Address to serve HTTP on (host:port, [v6]:port or :port for all addresses)." },
	{ "web.max-connections", FLAG_UINT, OFF(max_connections), 1, 100000, "64",
	  "Maximum simultaneous HTTP connections." },
	{ "web.max-connections-per-client", FLAG_UINT, OFF(max_connections_per_client), 1, 100000,
	  "16", "Maximum simultaneous HTTP connections from one client IP address." },
	{ "web.read-timeout", FLAG_DURATION, OFF(read_timeout_ns), 1000000000ULL, 3600000000000ULL,
	  "30s", "Time a connection has to send a complete request header (and idle keep-alive "
	  "timeout); slower clients are disconnected (1s..1h, whole seconds)." },
	{ "web.config.file", FLAG_STRING, STR(web_config_file), 0, 0, "none",
	  "Web config (exporter-toolkit format) enabling TLS and basic auth; re-read on SIGHUP." },
	{ "profiling.frequency", FLAG_UINT, OFF(frequency_hz), 1, 10000, "19",
	  "Sampling frequency per CPU, in Hz (software cpu-clock event)." },
	{ "profiling.include-idle", FLAG_BOOL, OFF(include_idle), 0, 0, "false",
	  "Keep samples of the idle task (pid 0) instead of dropping them in the kernel." },
	{ "profiling.drain-interval", FLAG_DURATION, OFF(drain_interval_ns), 10000000ULL,
	  60000000000ULL, "1s", "How often the agent drains the kernel maps (10ms..60s)." },
	{ "profiling.max-profile-seconds", FLAG_UINT, OFF(max_profile_seconds), 1, 86400, "300",
	  "Largest ?seconds= accepted by /debug/pprof/profile; larger requests get 400." },
	{ "profiling.max-concurrent-profiles", FLAG_UINT, OFF(max_concurrent_profiles), 1, 1024,
	  "16", "Profile requests served at once; more get 503." },
	{ "bpf.stack-map-entries", FLAG_UINT, OFF(stack_map_entries), 0, 1u << 24, "0",
	  "Entries of each stack-trace map (0: derived from frequency x CPUs x drain interval)." },
	{ "bpf.counts-map-entries", FLAG_UINT, OFF(counts_map_entries), 0, 1u << 24, "0",
	  "Entries of each counts map (0: derived from frequency x CPUs x drain interval)." },
	{ "symbolize.cache-size", FLAG_SIZE, OFF(symbol_cache_bytes), 1ULL << 20, 1ULL << 40,
	  "64MiB", "Memory budget for cached symbol tables (LRU beyond it)." },
	{ "symbolize.stack-cache-size", FLAG_SIZE, OFF(stack_cache_bytes), 1ULL << 16,
	  1ULL << 40, "16MiB",
	  "Memory budget for symbolized stacks, so a stack seen before costs no work." },
	{ "symbolize.debug-dirs", FLAG_STRING, STR(debug_dirs), 0, 0, "none",
	  "Extra comma-separated directories searched for separate debug files (by build "
	  "id and .gnu_debuglink) before /usr/lib/debug." },
	{ "process.max", FLAG_UINT, OFF(max_processes), 16, 1u << 22, "16384",
	  "Most processes tracked at once; the least recently sampled are evicted." },
	{ "unwind.mode", FLAG_UNWIND_MODE, OFF(unwind_mode), 0, 0, "auto",
	  "User stacks: fp (frame pointers), dwarf (copy every stack, unwind with CFI) or "
	  "auto (DWARF only for processes whose frame-pointer stacks end early)." },
	{ "unwind.stack-size", FLAG_SIZE, OFF(unwind_stack_bytes), 1024, 32768, "16KiB",
	  "User stack bytes copied per DWARF-unwound sample (a multiple of 1KiB)." },
	{ "unwind.ring-buffer-size", FLAG_SIZE, OFF(unwind_ring_bytes), 65536, 1ULL << 30, "4MiB",
	  "Ring buffer for stack copies (a power of two); a full ring falls back to frame "
	  "pointers and is counted." },
	{ "unwind.cache-size", FLAG_SIZE, OFF(unwind_cache_bytes), 1ULL << 20, 1ULL << 40,
	  "32MiB", "Memory budget for cached unwind tables (LRU beyond it)." },
	{ "log.level", FLAG_LOGLEVEL, OFF(log_level), 0, 0, "info",
	  "Log level: error, warn, info or debug (SIGUSR1 raises it, SIGUSR2 lowers it)." },
	{ "run-as-user", FLAG_STRING, STR(run_as_user), 0, 0, "none",
	  "Once attached, switch to this user (e.g. nobody), keeping only the capabilities "
	  "needed to read other processes." },
};

void config_usage(FILE *out)
{
	fprintf(out, "Usage: stackd [FLAGS]\n\n"
		     "stackd samples kernel and user stacks of every CPU with eBPF, symbolizes them\n"
		     "on the node and serves pprof at /debug/pprof/profile and metrics at /metrics.\n\n"
		     "Flags (--flag=value or --flag value):\n");
	fprintf(out, "  %-36s %s\n", "-h, --help", "Show this help and exit.");
	fprintf(out, "  %-36s %s\n", "--version", "Print the version and exit.");
	fprintf(out, "  %-36s %s\n", "--check",
		"Print what this kernel supports and what stackd can do here; "
		"exit 0 if it can run.");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "--%s%s", flags[i].name,
			 flags[i].kind == FLAG_BOOL ? "" : "=VALUE");
		fprintf(out, "  %-36s %s (default %s)\n", name, flags[i].help, flags[i].def);
	}
}

int config_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Parse "<digits><unit>" where unit comes from @units (longest match first). */
struct unit {
	const char *suffix;
	uint64_t mult;
};

static int parse_with_units(const char *s, const struct unit *units, size_t nr, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < nr; i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (units[i].mult && v > UINT64_MAX / units[i].mult)
				return -EINVAL;
			*out = v * units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

int config_parse_duration(const char *s, uint64_t *ns)
{
	static const struct unit units[] = {
		{ "ns", 1ULL },	       { "us", 1000ULL },	  { "ms", 1000000ULL },
		{ "s", 1000000000ULL }, { "m", 60000000000ULL }, { "h", 3600000000000ULL },
	};

	return parse_with_units(s, units, sizeof(units) / sizeof(units[0]), ns);
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	static const struct unit units[] = {
		{ "", 1ULL },	     { "B", 1ULL },	       { "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 },
		{ "GiB", 1ULL << 30 }, { "KB", 1000ULL },	 { "MB", 1000000ULL },
		{ "GB", 1000000000ULL },
	};

	return parse_with_units(s, units, sizeof(units) / sizeof(units[0]), bytes);
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen_address, sizeof(cfg->listen_address), "127.0.0.1:6061");
	cfg->frequency_hz = 19;
	cfg->drain_interval_ns = 1000000000ULL;
	cfg->max_profile_seconds = 300;
	cfg->max_concurrent_profiles = 16;
	cfg->max_connections = 64;
	cfg->max_connections_per_client = 16;
	cfg->read_timeout_ns = 30000000000ULL;
	cfg->symbol_cache_bytes = 64ULL << 20;
	cfg->stack_cache_bytes = 16ULL << 20;
	cfg->max_processes = 16384;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->unwind_mode = STACKD_UNWIND_AUTO;
	cfg->unwind_stack_bytes = 16 * 1024;
	cfg->unwind_ring_bytes = 4 * 1024 * 1024;
	cfg->unwind_cache_bytes = 32ULL << 20;
}

static int set_flag(struct config *cfg, const struct flag *f, const char *val, FILE *err)
{
	char *field = (char *)cfg + f->offset;
	uint64_t v = 0;
	int ret = 0;

	switch (f->kind) {
	case FLAG_STRING:
		if (strlen(val) >= f->size || !*val) {
			fprintf(err, "stackd: --%s: value must be 1..%zu characters\n", f->name,
				f->size - 1);
			return -EINVAL;
		}
		snprintf(field, f->size, "%s", val);
		return 0;
	case FLAG_BOOL:
		if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
			*(bool *)field = true;
		else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
			*(bool *)field = false;
		else
			goto bad;
		return 0;
	case FLAG_LOGLEVEL:
		if (log_level_parse(val, (enum log_level *)field))
			goto bad;
		return 0;
	case FLAG_UNWIND_MODE:
		if (strcmp(val, "fp") == 0)
			*(unsigned *)field = STACKD_UNWIND_FP;
		else if (strcmp(val, "dwarf") == 0)
			*(unsigned *)field = STACKD_UNWIND_DWARF;
		else if (strcmp(val, "auto") == 0)
			*(unsigned *)field = STACKD_UNWIND_AUTO;
		else
			goto bad;
		return 0;
	case FLAG_UINT:
		ret = config_parse_uint(val, UINT64_MAX, &v);
		break;
	case FLAG_DURATION:
		ret = config_parse_duration(val, &v);
		break;
	case FLAG_SIZE:
		ret = config_parse_size(val, &v);
		break;
	}
	if (ret || v < f->min || v > f->max)
		goto bad;
	/* Sizes the kernel constrains: stack copies in whole chunks, rings in powers of two. */
	if (f->offset == offsetof(struct config, unwind_stack_bytes) && v % 1024)
		goto bad;
	if (f->offset == offsetof(struct config, unwind_ring_bytes) && (v & (v - 1)))
		goto bad;
	if (f->kind == FLAG_UINT)
		*(unsigned *)field = (unsigned)v;
	else
		*(uint64_t *)field = v;
	return 0;
bad:
	fprintf(err, "stackd: invalid value \"%s\" for --%s: %s", val, f->name, f->help);
	if (f->kind == FLAG_UINT || f->kind == FLAG_DURATION || f->kind == FLAG_SIZE)
		fprintf(err, " (range %llu..%llu%s)", (unsigned long long)f->min,
			(unsigned long long)f->max,
			f->kind == FLAG_DURATION ? " ns" : f->kind == FLAG_SIZE ? " bytes" : "");
	fprintf(err, "\n");
	return -EINVAL;
}

int config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
	bool check = false;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *val = NULL;
		const struct flag *f = NULL;
		size_t name_len;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			config_usage(out);
			return CONFIG_EXIT_OK;
		}
		if (strcmp(arg, "--version") == 0) {
			fprintf(out, "stackd %s (libbpf %s)\n", STACKD_VERSION, STACKD_LIBBPF_VERSION);
			return CONFIG_EXIT_OK;
		}
		/* Noted, not acted on: later flags (--unwind.mode) shape what is checked. */
		if (strcmp(arg, "--check") == 0) {
			check = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0) {
			fprintf(err, "stackd: unexpected argument \"%s\" (see --help)\n", arg);
			return -EINVAL;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		name_len = eq ? (size_t)(eq - name) : strlen(name);
		for (size_t j = 0; j < sizeof(flags) / sizeof(flags[0]); j++) {
			if (strlen(flags[j].name) == name_len &&
			    strncmp(flags[j].name, name, name_len) == 0) {
				f = &flags[j];
				break;
			}
		}
		if (!f) {
			fprintf(err, "stackd: unknown flag --%.*s (see --help)\n", (int)name_len,
				name);
			return -EINVAL;
		}
		if (eq) {
			val = eq + 1;
		} else if (f->kind == FLAG_BOOL) {
			val = "true";
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(err, "stackd: flag --%s needs a value (see --help)\n", f->name);
			return -EINVAL;
		}
		if (set_flag(cfg, f, val, err))
			return -EINVAL;
	}
	log_set_level(cfg->log_level);
	return check ? CONFIG_CHECK : CONFIG_RUN;
}
