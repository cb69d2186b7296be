// SPDX-License-Identifier: Apache-2.0
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroupid.h"
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
	FLAG_PIDLIST,	 /* comma-separated pids into filter_pids/nr_filter_pids */
	FLAG_KEYLIST,	 /* comma-separated keys, each from flag_keys(); "" allowed */
	FLAG_CGROUPLIST, /* comma-separated cgroup paths; "" allowed */
	FLAG_GLOBLIST,	 /* comma-separated shell globs; "" allowed */
};

/* The keys --profiling.labels and --metrics.cpu.labels accept. */
static const char *const sample_label_keys[] = {
    "pid",     "comm", "exe",	    "cmdline",	 "cgroup", "container_id", "container_runtime",
    "pod_uid", "pod",  "namespace", "container", "unit",   NULL,
};
/* No pid or cmdline: a series per process would make the cardinality unbounded. */
static const char *const cpu_metric_label_keys[] = {
    "comm", "exe",	 "container", "container_id", "pod_uid",
    "pod",  "namespace", "unit",      "cgroup",	      NULL,
};

struct flag {
	const char *name;
	enum flag_kind kind;
	size_t offset;
	size_t size; /* FLAG_STRING: the field's size */
	/* Numeric kinds: the range; FLAG_PIDLIST: of each pid; other lists: max = most elements. */
	uint64_t min, max;
	const char *def; /* default, as shown in --help */
	const char *help;
};

#define OFF(f) offsetof(struct config, f), 0
#define STR(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

static const struct flag flags[] = {
    {"web.listen-address", FLAG_STRING, STR(listen_address), 0, 0, "127.0.0.1:6061",
     "Address to serve HTTP on (host:port, [v6]:port or :port for all addresses)."},
    {"web.max-connections", FLAG_UINT, OFF(max_connections), 1, 100000, "512",
     "Maximum simultaneous HTTP connections; at the limit, the one waiting longest for a "
     "request header is evicted for a new one (at most half of RLIMIT_NOFILE)."},
    {"web.max-connections-per-client", FLAG_UINT, OFF(max_connections_per_client), 1, 100000, "16",
     "Maximum simultaneous HTTP connections from one client IP address."},
    {"web.max-page-requests", FLAG_UINT, OFF(max_page_requests), 1, 1024, "4",
     "Page requests (/, /flamegraph, /debug/pprof/folded, /debug/pprof/history) served at "
     "once, running or queued; more get 503 with Retry-After."},
    {"web.max-page-bytes", FLAG_SIZE, OFF(max_page_bytes), 64ULL << 10, 4ULL << 30, "64MiB",
     "Largest page answer; a larger one is refused with 413 (64KiB..4GiB)."},
    {"web.read-timeout", FLAG_DURATION, OFF(read_timeout_ns), 1000000000ULL, 3600000000000ULL,
     "30s",
     "Time a connection has to send a complete request header (and idle keep-alive "
     "timeout); slower clients are disconnected (1s..1h, whole seconds)."},
    {"web.config.file", FLAG_STRING, STR(web_config_file), 0, 0, "none",
     "Web config (exporter-toolkit format) enabling TLS and basic auth; re-read on SIGHUP."},
    {"profiling.frequency", FLAG_UINT, OFF(frequency_hz), 1, 10000, "19",
     "Sampling frequency per CPU, in Hz (software cpu-clock event)."},
    {"profiling.include-idle", FLAG_BOOL, OFF(include_idle), 0, 0, "false",
     "Keep samples of the idle task (pid 0) instead of dropping them in the kernel."},
    {"profiling.pids", FLAG_PIDLIST, OFF(filter_pids), 1, CONFIG_MAX_PID, "none",
     "Sample only these processes (comma-separated pids, at most 1024); with "
     "--profiling.cgroups, a process in either is sampled. Others are dropped in the "
     "kernel before any stack walk."},
    {"profiling.cgroups", FLAG_CGROUPLIST, STR(filter_cgroups), 0, CONFIG_MAX_FILTER_CGROUPS,
     "none",
     "Sample only tasks in these cgroups or below them: comma-separated cgroup v2 paths, "
     "/sys/fs/cgroup/... or as in /proc/PID/cgroup (/system.slice/foo.service)."},
    {"profiling.labels", FLAG_KEYLIST, STR(labels), 0, 0,
     "pid,comm,exe,container_id,pod_uid,container,unit",
     "Labels of each profile sample, comma-separated: pid, comm, exe, cmdline, cgroup, "
     "container_id, container_runtime, pod_uid, pod, namespace, container, unit."},
    {"profiling.drain-interval", FLAG_DURATION, OFF(drain_interval_ns), 10000000ULL, 60000000000ULL,
     "1s", "How often the agent drains the kernel maps (10ms..60s)."},
    {"profiling.max-profile-seconds", FLAG_UINT, OFF(max_profile_seconds), 1, 86400, "300",
     "Largest ?seconds= accepted by /debug/pprof/profile; larger requests get 400."},
    {"profiling.max-concurrent-profiles", FLAG_UINT, OFF(max_concurrent_profiles), 1, 1024, "16",
     "Profile requests served at once; more get 503."},
    {"bpf.stack-map-entries", FLAG_UINT, OFF(stack_map_entries), 0, 1u << 24, "0",
     "Entries of each stack-trace map (0: derived from frequency x CPUs x drain interval)."},
    {"bpf.counts-map-entries", FLAG_UINT, OFF(counts_map_entries), 0, 1u << 24, "0",
     "Entries of each counts map (0: derived from frequency x CPUs x drain interval)."},
    {"symbolize.cache-size", FLAG_SIZE, OFF(symbol_cache_bytes), 1ULL << 20, 1ULL << 40, "64MiB",
     "Memory budget for cached symbol tables (LRU beyond it)."},
    {"symbolize.max-object-size", FLAG_SIZE, OFF(symbol_max_object_bytes), 0, 1ULL << 40, "0",
     "What parsing one object file may allocate, checked before allocating (0: the "
     "symbol cache size, at least 16MiB); bigger objects keep what fits, raw addresses "
     "for the rest."},
    {"symbolize.stack-cache-size", FLAG_SIZE, OFF(stack_cache_bytes), 1ULL << 16, 1ULL << 40,
     "16MiB", "Memory budget for symbolized stacks, so a stack seen before costs no work."},
    {"symbolize.debug-dirs", FLAG_STRING, STR(debug_dirs), 0, 0, "none",
     "Extra comma-separated directories searched for separate debug files (by build "
     "id and .gnu_debuglink) before /usr/lib/debug."},
    {"process.max", FLAG_UINT, OFF(max_processes), 16, 1u << 22, "16384",
     "Most processes tracked at once; the least recently sampled are evicted."},
    {"history.window", FLAG_DURATION, OFF(history_window_ns), 1000000000ULL, 600000000000ULL, "10s",
     "Length of one window of the profile history (1s..10m)."},
    {"history.retention", FLAG_DURATION, OFF(history_retention_ns), 0, 86400000000000ULL, "15m",
     "How far back the profile history reaches (at least --history.window, at most 24h; "
     "0 disables the history)."},
    {"history.max-bytes", FLAG_SIZE, OFF(history_max_bytes), 64ULL << 10, 16ULL << 30, "32MiB",
     "Hard byte budget of the profile history; the oldest windows are evicted beyond it "
     "(64KiB..16GiB). With --offcpu.enabled: half for CPU, a quarter each for off-CPU and "
     "wall."},
    {"metrics.cpu.max-series", FLAG_UINT, OFF(metrics_cpu_max_series), 0, 100000, "100",
     "Most series of stackd_cpu_seconds_total (0 disables the metric)."},
    {"metrics.cpu.labels", FLAG_KEYLIST, STR(metrics_cpu_labels), 0, 0, "comm,container",
     "Labels of stackd_cpu_seconds_total, comma-separated: comm, exe, container, "
     "container_id, pod_uid, pod, namespace, unit, cgroup."},
    {"metrics.functions", FLAG_GLOBLIST, STR(metrics_functions), 0, CONFIG_MAX_FUNCTION_PATTERNS,
     "none",
     "Functions whose CPU time is exported as metrics: comma-separated shell globs matched "
     "against function names (e.g. malloc,std::vector*,*::Parse*), at most 64."},
    {"metrics.functions.max-series", FLAG_UINT, OFF(metrics_functions_max_series), 1, 100000, "100",
     "Most series of the --metrics.functions metrics."},
    {"unwind.mode", FLAG_UNWIND_MODE, OFF(unwind_mode), 0, 0, "kernel",
     "User stacks: kernel (walked in the BPF program with unwind tables compiled from "
     ".eh_frame/.debug_frame; a new process's first samples are copied and unwound in user "
     "space until its tables are in), fp (frame pointers only) or dwarf (copy every stack, "
     "unwind in user space). auto is kept as another name for kernel."},
    {"unwind.stack-size", FLAG_SIZE, OFF(unwind_stack_bytes), 1024, 32768, "16KiB",
     "User stack bytes copied per DWARF-unwound sample (a multiple of 1KiB)."},
    {"unwind.ring-buffer-size", FLAG_SIZE, OFF(unwind_ring_bytes), 65536, 1ULL << 30, "0",
     "Ring buffer for stack copies (a power of two); a full ring falls back to frame "
     "pointers and is counted. 0 = a second of every online CPU's copies at "
     "--profiling.frequency, 1MiB..4MiB (1MiB with --unwind.mode=kernel, 64KiB with fp)."},
    {"unwind.cache-size", FLAG_SIZE, OFF(unwind_cache_bytes), 1ULL << 20, 1ULL << 40, "32MiB",
     "Memory budget for cached unwind tables (LRU beyond it)."},
    {"unwind.table-budget", FLAG_SIZE, OFF(unwind_table_bytes), 1ULL << 20, 1ULL << 30, "32MiB",
     "Kernel memory for the unwind tables of --unwind.mode=kernel (8 bytes a row; libc "
     "needs about 220KiB). Objects least recently loaded are evicted beyond it; their "
     "frames fall back to frame pointers."},
    {"python.enabled", FLAG_BOOL, OFF(python_enabled), 0, 0, "true",
     "Name Python frames (CPython 3.11) with --unwind.mode=kernel: the walk records the "
     "function, file and line of each Python frame in place of the interpreter's "
     "_PyEval_EvalFrameDefault frames. No change to the programs."},
    {"java.enabled", FLAG_BOOL, OFF(java_enabled), 0, 0, "true",
     "Name Java frames of HotSpot JVMs (OpenJDK 17+): the agent asks each JVM it samples "
     "for its JIT perf map (as `jcmd PID Compiler.perfmap` does, through the JVM's attach "
     "socket, from a helper process), and with --unwind.mode=kernel the walk steps through "
     "JIT-compiled frames by their code blobs. No change to the programs."},
    {"offcpu.enabled", FLAG_BOOL, OFF(offcpu_enabled), 0, 0, "false",
     "Profile time off CPU too: at each context switch of a sampled thread, where it waits "
     "(kernel and user stack) and for how long, served at /debug/pprof/offcpu. Costs a kernel "
     "stack per context switch of the profiled threads, a user stack walk per period of at "
     "least --offcpu.min-duration, and a lookup per system call."},
    {"offcpu.min-duration", FLAG_DURATION, OFF(offcpu_min_ns), 0, 1000000000ULL, "10us",
     "Off-CPU periods shorter than this are counted (stackd_offcpu_short_periods_total) but "
     "left out of the profiles; one spent in a system call gets no user stack walk (0..1s)."},
    {"offcpu.max-walks", FLAG_UINT, OFF(offcpu_max_walks), 100, 1000000, "5000",
     "Switch-outs whose stacks are walked per CPU and second; beyond it (judged from the "
     "second before) 1 in K is walked and weighs K, so totals stay unbiased and the cost "
     "bounded (stackd_offcpu_unsampled_total)."},
    {"log.level", FLAG_LOGLEVEL, OFF(log_level), 0, 0, "info",
     "Log level: error, warn, info or debug (SIGUSR1 raises it, SIGUSR2 lowers it)."},
    {"run-as-user", FLAG_STRING, STR(run_as_user), 0, 0, "none",
     "Once attached, switch to this user (e.g. nobody), keeping only the capabilities "
     "needed to read other processes."},
};

/* What --help shows after the flag name: the kind of value it takes. */
static const char *placeholder(enum flag_kind kind)
{
	switch (kind) {
	case FLAG_BOOL:
		return "";
	case FLAG_UINT:
		return "=N";
	case FLAG_DURATION:
		return "=DUR";
	case FLAG_SIZE:
		return "=SIZE";
	case FLAG_LOGLEVEL:
		return "=LEVEL";
	case FLAG_UNWIND_MODE:
		return "=MODE";
	case FLAG_PIDLIST:
	case FLAG_KEYLIST:
	case FLAG_CGROUPLIST:
	case FLAG_GLOBLIST:
		return "=LIST";
	default:
		return "=VALUE";
	}
}

#define USAGE_NAME_WIDTH 37
#define USAGE_WIDTH	 100

/*
 * "  NAME  help (default X)", wrapped at word boundaries under the help column;
 * "(default X)" is never split. @def may be NULL.
 */
static void usage_line(FILE *out, const char *name, const char *help, const char *def)
{
	const size_t indent = 2 + USAGE_NAME_WIDTH + 1, room = USAGE_WIDTH - indent;
	char buf[1024];
	const char *text = buf;
	size_t keep; /* text from here on stays together */

	snprintf(buf, sizeof(buf), "%s%s%s%s", help, def ? " (default " : "", def ? def : "",
		 def ? ")" : "");
	keep = def ? strlen(help) + 1 : strlen(buf);
	fprintf(out, "  %-*s ", USAGE_NAME_WIDTH, name);
	if (strlen(name) > USAGE_NAME_WIDTH)
		fprintf(out, "\n%*s", (int)indent, "");
	while (strlen(text) > room) {
		size_t cut = room, off = (size_t)(text - buf);

		if (off + cut > keep)
			cut = keep > off ? keep - off : 0;
		while (cut > 0 && text[cut] != ' ')
			cut--;
		if (!cut) /* one word longer than a line: let it overflow */
			cut = strcspn(text, " ");
		if (!text[cut])
			break;
		fprintf(out, "%.*s\n%*s", (int)cut, text, (int)indent, "");
		text += cut;
		while (*text == ' ')
			text++;
	}
	fprintf(out, "%s\n", text);
}

void config_usage(FILE *out)
{
	fprintf(out,
		"Usage: stackd [FLAGS]\n\n"
		"stackd samples kernel and user stacks of every CPU with eBPF, symbolizes them\n"
		"on the node and serves pprof at /debug/pprof/profile and metrics at /metrics.\n\n"
		"Flags (--flag=value or --flag value):\n");
	usage_line(out, "-h, --help", "Show this help and exit.", NULL);
	usage_line(out, "--version", "Print the version and exit.", NULL);
	usage_line(out, "--check",
		   "Print what this kernel supports and what stackd can do here; exit 0 if it "
		   "can run.",
		   NULL);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "--%s%s", flags[i].name, placeholder(flags[i].kind));
		usage_line(out, name, flags[i].help, flags[i].def);
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
	    {"ns", 1ULL},	  {"us", 1000ULL},	 {"ms", 1000000ULL},
	    {"s", 1000000000ULL}, {"m", 60000000000ULL}, {"h", 3600000000000ULL},
	};

	return parse_with_units(s, units, sizeof(units) / sizeof(units[0]), ns);
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	static const struct unit units[] = {
	    {"", 1ULL},		 {"B", 1ULL},	  {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20},
	    {"GiB", 1ULL << 30}, {"KB", 1000ULL}, {"MB", 1000000ULL},  {"GB", 1000000000ULL},
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
	cfg->max_connections = 512;
	cfg->max_page_requests = 4;
	cfg->max_page_bytes = 64ULL << 20;
	cfg->max_connections_per_client = 16;
	cfg->read_timeout_ns = 30000000000ULL;
	cfg->symbol_cache_bytes = 64ULL << 20;
	cfg->stack_cache_bytes = 16ULL << 20;
	cfg->max_processes = 16384;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->unwind_mode = STACKD_UNWIND_KERNEL;
	cfg->unwind_stack_bytes = 16 * 1024;
	cfg->unwind_ring_bytes = 0; /* derived by config_parse() */
	cfg->unwind_cache_bytes = 32ULL << 20;
	cfg->unwind_table_bytes = 32ULL << 20;
	cfg->offcpu_min_ns = 10000ULL;
	cfg->python_enabled = true;
	cfg->java_enabled = true;
	cfg->offcpu_max_walks = 5000;
	snprintf(cfg->labels, sizeof(cfg->labels), "%s",
		 "pid,comm,exe,container_id,pod_uid,container,unit");
	cfg->history_window_ns = 10000000000ULL;
	cfg->history_retention_ns = 15 * 60000000000ULL;
	cfg->history_max_bytes = 32ULL << 20;
	cfg->metrics_cpu_max_series = 100;
	snprintf(cfg->metrics_cpu_labels, sizeof(cfg->metrics_cpu_labels), "comm,container");
	cfg->metrics_functions_max_series = 100;
}

static const char *const *flag_keys(const struct flag *f)
{
	if (f->offset == offsetof(struct config, labels))
		return sample_label_keys;
	return cpu_metric_label_keys;
}

/*
 * The elements of a comma-separated list, one at a time: *@pos walks @list.
 * Returns the element's length, its start in *@elem; -1 at the end. An empty
 * @list has no elements; "a,,b" and "a," have an empty one.
 */
static int next_elem(const char *list, const char **pos, const char **elem)
{
	const char *p = *pos, *end;

	if (!*list || !p)
		return -1;
	end = strchr(p, ',');
	*elem = p;
	*pos = end ? end + 1 : NULL;
	return (int)(end ? end - p : (ptrdiff_t)strlen(p));
}

static int parse_pid_list(struct config *cfg, const struct flag *f, const char *val, FILE *err)
{
	uint32_t pids[CONFIG_MAX_FILTER_PIDS];
	const char *pos = val, *e;
	size_t nr = 0;
	int len;

	while ((len = next_elem(val, &pos, &e)) >= 0) {
		char buf[32];
		uint64_t v;

		if (!len) {
			fprintf(err,
				"stackd: --%s: empty element in \"%s\" (want pids separated by "
				"commas, e.g. 1234,5678)\n",
				f->name, val);
			return -EINVAL;
		}
		snprintf(buf, sizeof(buf), "%.*s", len, e);
		if ((size_t)len >= sizeof(buf) || config_parse_uint(buf, f->max, &v) ||
		    v < f->min) {
			fprintf(err, "stackd: --%s: \"%.*s\" is not a pid (want %llu..%llu)\n",
				f->name, len, e, (unsigned long long)f->min,
				(unsigned long long)f->max);
			return -EINVAL;
		}
		if (nr == CONFIG_MAX_FILTER_PIDS) {
			fprintf(err, "stackd: --%s: more than %d pids\n", f->name,
				CONFIG_MAX_FILTER_PIDS);
			return -EINVAL;
		}
		pids[nr++] = (uint32_t)v;
	}
	memcpy(cfg->filter_pids, pids, nr * sizeof(pids[0]));
	cfg->nr_filter_pids = nr;
	return 0;
}

/* Every element of a key list is one of the allowed keys, none twice. */
static int check_key_list(const struct flag *f, const char *val, FILE *err)
{
	const char *const *keys = flag_keys(f);
	const char *pos = val, *e, *p2, *e2;
	int len, len2;

	while ((len = next_elem(val, &pos, &e)) >= 0) {
		size_t k;

		for (k = 0; keys[k]; k++)
			if (strlen(keys[k]) == (size_t)len && strncmp(keys[k], e, (size_t)len) == 0)
				break;
		if (!keys[k]) {
			if (len)
				fprintf(err, "stackd: --%s: unknown key \"%.*s\"", f->name, len, e);
			else
				fprintf(err, "stackd: --%s: empty element in \"%s\"", f->name, val);
			fprintf(err, "; allowed:");
			for (k = 0; keys[k]; k++)
				fprintf(err, "%s %s", k ? "," : "", keys[k]);
			fprintf(err, "\n");
			return -EINVAL;
		}
		for (p2 = pos; (len2 = next_elem(val, &p2, &e2)) >= 0;) {
			if (len2 == len && strncmp(e, e2, (size_t)len) == 0) {
				fprintf(err, "stackd: --%s: \"%.*s\" is listed twice\n", f->name,
					len, e);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int check_cgroup_list(const struct flag *f, const char *val, FILE *err)
{
	const char *pos = val, *e;
	uint64_t nr = 0;
	int len;

	while ((len = next_elem(val, &pos, &e)) >= 0) {
		if (!len || e[0] != '/') {
			fprintf(err,
				"stackd: --%s: \"%.*s\" is not a cgroup path: give "
				"/sys/fs/cgroup/... or a path as /proc/PID/cgroup shows it "
				"(/system.slice/foo.service)\n",
				f->name, len, e);
			return -EINVAL;
		}
		if (++nr > f->max) {
			fprintf(err, "stackd: --%s: more than %llu cgroups\n", f->name,
				(unsigned long long)f->max);
			return -EINVAL;
		}
	}
	return 0;
}

/* Shell globs as fnmatch(3) takes them: non-empty, every '[' closed. */
static int check_glob_list(const struct flag *f, const char *val, FILE *err)
{
	const char *pos = val, *e;
	uint64_t nr = 0;
	int len;

	while ((len = next_elem(val, &pos, &e)) >= 0) {
		bool open = false;

		if (!len) {
			fprintf(err, "stackd: --%s: empty pattern in \"%s\"\n", f->name, val);
			return -EINVAL;
		}
		for (int i = 0; i < len; i++) {
			if (e[i] == '\\' && i + 1 < len) {
				i++;
			} else if (!open && e[i] == '[') {
				open = true;
				/* "[]..]" and "[!]..]": a leading ']' is a member, not the end. */
				if (i + 1 < len && (e[i + 1] == '!' || e[i + 1] == '^'))
					i++;
				if (i + 1 < len && e[i + 1] == ']')
					i++;
			} else if (open && e[i] == ']') {
				open = false;
			}
		}
		if (open) {
			fprintf(err, "stackd: --%s: pattern \"%.*s\" has an unclosed [\n", f->name,
				len, e);
			return -EINVAL;
		}
		if (++nr > f->max) {
			fprintf(err, "stackd: --%s: more than %llu patterns\n", f->name,
				(unsigned long long)f->max);
			return -EINVAL;
		}
	}
	return 0;
}

/* Write a list flag's value to its string field, after its check passed. */
static int set_list(struct config *cfg, const struct flag *f, const char *val, FILE *err)
{
	int ret;

	if (strlen(val) >= f->size) {
		fprintf(err, "stackd: --%s: value longer than %zu characters\n", f->name,
			f->size - 1);
		return -EINVAL;
	}
	if (f->kind == FLAG_KEYLIST)
		ret = check_key_list(f, val, err);
	else if (f->kind == FLAG_CGROUPLIST)
		ret = check_cgroup_list(f, val, err);
	else
		ret = check_glob_list(f, val, err);
	if (ret)
		return ret;
	snprintf((char *)cfg + f->offset, f->size, "%s", val);
	return 0;
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
		else if (strcmp(val, "kernel") == 0 || strcmp(val, "auto") == 0)
			*(unsigned *)field = STACKD_UNWIND_KERNEL;
		else
			goto bad;
		return 0;
	case FLAG_PIDLIST:
		return parse_pid_list(cfg, f, val, err);
	case FLAG_KEYLIST:
	case FLAG_CGROUPLIST:
	case FLAG_GLOBLIST:
		return set_list(cfg, f, val, err);
	case FLAG_UINT:
		ret = config_parse_uint(val, UINT64_MAX, &v);
		break;
	case FLAG_DURATION:
		/* A bare 0 needs no unit (--history.retention=0). */
		ret = strcmp(val, "0") == 0 ? 0 : config_parse_duration(val, &v);
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
			f->kind == FLAG_DURATION ? " ns"
			: f->kind == FLAG_SIZE	 ? " bytes"
						 : "");
	fprintf(err, "\n");
	return -EINVAL;
}

/* "90s" -> "1m30s": durations in errors as a person would write them. */
static void fmt_duration(uint64_t ns, char *buf, size_t size)
{
	static const struct unit units[] = {
	    {"h", 3600000000000ULL}, {"m", 60000000000ULL}, {"s", 1000000000ULL},
	    {"ms", 1000000ULL},	     {"us", 1000ULL},	    {"ns", 1ULL},
	};
	size_t n = 0;

	buf[0] = '\0';
	if (!ns)
		snprintf(buf, size, "0s");
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && ns && n < size; i++) {
		if (ns >= units[i].mult) {
			n += (size_t)snprintf(buf + n, size - n, "%llu%s",
					      (unsigned long long)(ns / units[i].mult),
					      units[i].suffix);
			ns %= units[i].mult;
		}
	}
}

/* Flags that are valid alone but not together. */
static int check_combinations(const struct config *cfg, FILE *err)
{
	char a[64], b[64];

	if (!cfg->history_retention_ns)
		return 0;
	fmt_duration(cfg->history_retention_ns, a, sizeof(a));
	fmt_duration(cfg->history_window_ns, b, sizeof(b));
	if (cfg->history_retention_ns < cfg->history_window_ns) {
		fprintf(err,
			"stackd: --history.retention=%s is shorter than --history.window=%s: "
			"keep at least one window, or set --history.retention=0 to disable the "
			"history\n",
			a, b);
		return -EINVAL;
	}
	fmt_duration(cfg->drain_interval_ns, a, sizeof(a));
	if (cfg->history_window_ns < cfg->drain_interval_ns) {
		fprintf(err,
			"stackd: --history.window=%s is shorter than "
			"--profiling.drain-interval=%s: a window is made of whole drains\n",
			b, a);
		return -EINVAL;
	}
	return 0;
}

/*
 * Footprint: libbpf maps a ring's data pages twice (for reads across the
 * wrap) and the kernel populates the whole mapping at once, so a 4 MiB ring
 * is 8 MiB of the agent's RSS (and 4 MiB of kernel memory) whether or not a
 * stack is ever copied. Size it for a second of every online CPU's copies at
 * the sampling frequency, the slack the old fixed 4 MiB gave at 99 Hz on
 * 2 CPUs (half a second was measured too little: a drain thread stalled on a
 * loaded machine filled it, and full-ring samples lose their DWARF stacks):
 * 1 MiB at the default 19 Hz on 2 CPUs, 4 MiB from ~110 CPU x Hz up. With
 * --unwind.mode=fp nothing is ever copied; with kernel only the bridge is
 * (a process's samples before its tables are loaded, a few milliseconds):
 * 1 MiB holds 60 such samples, and a full ring only costs those samples
 * their frame-pointer fallback.
 */
static uint64_t derived_ring_bytes(const struct config *cfg)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t want, ring = 1ULL << 20;

	if (cfg->unwind_mode == STACKD_UNWIND_FP)
		return 64 * 1024;
	if (cfg->unwind_mode == STACKD_UNWIND_KERNEL)
		return 1ULL << 20;
	if (ncpu < 1)
		ncpu = 1;
	/* A record: the stack copy, registers, a 127-frame kernel stack, the header. */
	want = (uint64_t)cfg->frequency_hz * (uint64_t)ncpu * (cfg->unwind_stack_bytes + 2048);
	while (ring < want && ring < (4ULL << 20))
		ring <<= 1;
	return ring;
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
			fprintf(out, "stackd %s (libbpf %s)\n", STACKD_VERSION,
				STACKD_LIBBPF_VERSION);
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
	if (check_combinations(cfg, err))
		return -EINVAL;
	if (!cfg->unwind_ring_bytes)
		cfg->unwind_ring_bytes = derived_ring_bytes(cfg);
	log_set_level(cfg->log_level);
	return check ? CONFIG_CHECK : CONFIG_RUN;
}

int config_resolve_cgroups(struct config *cfg, FILE *err)
{
	const char *list = cfg->filter_cgroups, *pos = list, *e;
	char path[4096], looked_at[4096];
	size_t nr = 0;
	int len, ret;

	while ((len = next_elem(list, &pos, &e)) >= 0) {
		uint64_t id;

		if (nr == CONFIG_MAX_FILTER_CGROUPS)
			return -E2BIG; /* config_parse refused it already */
		snprintf(path, sizeof(path), "%.*s", len, e);
		ret = cgroup_path_resolve(path, looked_at, sizeof(looked_at), &id);
		if (ret) {
			bool moved = *looked_at && strcmp(looked_at, path) != 0;
			char mnt[1024];

			fprintf(err, "stackd: --profiling.cgroups: \"%s\"%s%s%s: %s", path,
				moved ? " (" : "", moved ? looked_at : "", moved ? ")" : "",
				cgroup_strerror(ret));
			if (ret == -EMEDIUMTYPE && !cgroup_v2_mount(mnt, sizeof(mnt)))
				fprintf(err, "; cgroup2 is mounted at %s", mnt);
			fprintf(err, "\n");
			return ret;
		}
		cfg->filter_cgroup_ids[nr++] = id;
	}
	cfg->nr_filter_cgroup_ids = nr;
	return 0;
}
