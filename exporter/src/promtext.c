// SPDX-License-Identifier: Apache-2.0
/*
 * Prometheus text exposition 0.0.4. Every public writer is all-or-nothing:
 * on error the strbuf is rolled back to where the call found it, so a failed
 * call never leaves half a line that would make the whole scrape unparsable.
 */
#include "exporter/promtext.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/utf8.h"

/* Integers up to 2^53 are exact in a double: print those without an exponent. */
#define PROM_EXACT_INT_MAX 9007199254740992.0

static void sb_rollback(struct strbuf *sb, size_t len)
{
	sb->len = len;
	if (sb->buf)
		sb->buf[len] = '\0';
}

static bool is_metric_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;

		if (c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			continue;
		if (p != s && c >= '0' && c <= '9')
			continue;
		return false;
	}
	return true;
}

static bool is_label_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;

		if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			continue;
		if (p != s && c >= '0' && c <= '9')
			continue;
		return false;
	}
	return true;
}

/*
 * Append @s escaping backslash and newline, and the double quote too when
 * @quote (label values). HELP text leaves quotes alone, as the format says.
 * Invalid UTF-8 becomes U+FFFD: Prometheus refuses the whole scrape over one
 * bad label value, and values come from process names a process chooses.
 */
static int append_escaped(struct strbuf *sb, const char *s, bool quote)
{
	const char *run = s, *p = s;
	const char *esc;
	uint32_t cp;
	size_t k;
	int err;

	while (*p) {
		k = 1;
		esc = NULL;
		if (*p == '\\') {
			esc = "\\\\";
		} else if (*p == '\n') {
			esc = "\\n";
		} else if (*p == '"' && quote) {
			esc = "\\\"";
		} else if ((unsigned char)*p >= 0x80) {
			/* strnlen: a sequence cut by the NUL is a bad one, never read past. */
			k = utf8_decode(p, strnlen(p, 4), &cp);
			if (cp == UTF8_INVALID)
				esc = UTF8_REPLACEMENT;
		}
		if (!esc) {
			p += k;
			continue;
		}
		err = strbuf_append(sb, run, (size_t)(p - run));
		if (!err)
			err = strbuf_appends(sb, esc);
		if (err)
			return err;
		p += k;
		run = p;
	}
	return strbuf_append(sb, run, (size_t)(p - run));
}

int prom_escape_label_value(struct strbuf *sb, const char *value)
{
	size_t start;
	int err;

	if (!sb || !value)
		return -EINVAL;
	start = sb->len;
	err = append_escaped(sb, value, true);
	if (err)
		sb_rollback(sb, start);
	return err;
}

int prom_family(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
	bool type_ok = false;
	size_t start;
	int err = 0;

	if (!sb || !is_metric_name(name) || !type)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		type_ok |= strcmp(type, types[i]) == 0;
	if (!type_ok)
		return -EINVAL;

	start = sb->len;
	if (help) {
		err = strbuf_appendf(sb, "# HELP %s ", name);
		if (!err)
			err = append_escaped(sb, help, false);
		if (!err)
			err = strbuf_append(sb, "\n", 1);
	}
	if (!err)
		err = strbuf_appendf(sb, "# TYPE %s %s\n", name, type);
	if (err)
		sb_rollback(sb, start);
	return err;
}

void prom_format_value(double v, char *buf, size_t len)
{
	if (!buf || !len)
		return;
	if (isnan(v))
		snprintf(buf, len, "NaN");
	else if (isinf(v))
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else if (v == trunc(v) && fabs(v) <= PROM_EXACT_INT_MAX)
		snprintf(buf, len, "%" PRId64, (int64_t)v);
	else
		snprintf(buf, len, "%.17g", v);
}

/* Shortest %g that reads back as the same double: bucket bounds print as "0.005", not 17 digits. */
static void format_bound(double v, char *buf, size_t len)
{
	if (isnan(v) || isinf(v) || (v == trunc(v) && fabs(v) <= PROM_EXACT_INT_MAX)) {
		prom_format_value(v, buf, len);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* name{labels} — shared by both sample writers; the value is appended by the caller. */
static int append_series(struct strbuf *sb, const char *name, const struct prom_label *labels,
			 size_t nr_labels)
{
	int err;

	if (!is_metric_name(name) || (nr_labels && !labels))
		return -EINVAL;
	err = strbuf_appends(sb, name);
	if (err || !nr_labels)
		return err;
	for (size_t i = 0; i < nr_labels; i++) {
		if (!is_label_name(labels[i].name) || !labels[i].value)
			return -EINVAL;
		err = strbuf_appendf(sb, "%s%s=\"", i ? "," : "{", labels[i].name);
		if (!err)
			err = append_escaped(sb, labels[i].value, true);
		if (!err)
			err = strbuf_append(sb, "\"", 1);
		if (err)
			return err;
	}
	return strbuf_append(sb, "}", 1);
}

static int write_sample(struct strbuf *sb, const char *name, const struct prom_label *labels,
			size_t nr_labels, const char *value)
{
	size_t start;
	int err;

	if (!sb)
		return -EINVAL;
	start = sb->len;
	err = append_series(sb, name, labels, nr_labels);
	if (!err)
		err = strbuf_appendf(sb, " %s\n", value);
	if (err)
		sb_rollback(sb, start);
	return err;
}

int prom_sample(struct strbuf *sb, const char *name, const struct prom_label *labels,
		size_t nr_labels, double value)
{
	char buf[64];

	prom_format_value(value, buf, sizeof(buf));
	return write_sample(sb, name, labels, nr_labels, buf);
}

int prom_sample_u64(struct strbuf *sb, const char *name, const struct prom_label *labels,
		    size_t nr_labels, uint64_t value)
{
	char buf[32];

	/* Exact even past 2^53: Prometheus parses it as a float, but the text stays true. */
	snprintf(buf, sizeof(buf), "%" PRIu64, value);
	return write_sample(sb, name, labels, nr_labels, buf);
}

int prom_sample_text(struct strbuf *sb, const char *name, const struct prom_label *labels,
		     size_t nr_labels, const char *value)
{
	if (!value)
		return -EINVAL;
	return write_sample(sb, name, labels, nr_labels, value);
}

int prom_metric(struct strbuf *sb, const char *name, const char *type, const char *help,
		double value)
{
	size_t start = sb ? sb->len : 0;
	int err = prom_family(sb, name, type, help);

	err = err ?: prom_sample(sb, name, NULL, 0, value);
	if (err && sb)
		sb_rollback(sb, start);
	return err;
}

int prom_metric_u64(struct strbuf *sb, const char *name, const char *type, const char *help,
		    uint64_t value)
{
	return prom_metric_labelled_u64(sb, name, type, help, NULL, NULL, &value, 1);
}

int prom_metric_labelled_u64(struct strbuf *sb, const char *name, const char *type,
			     const char *help, const char *label, const char *const *values,
			     const uint64_t *v, size_t nr)
{
	size_t start = sb ? sb->len : 0;
	int err = prom_family(sb, name, type, help);

	if (!err && nr && (!v || (label && !values)))
		err = -EINVAL;
	for (size_t i = 0; i < nr && !err; i++) {
		struct prom_label l = {.name = label, .value = label ? values[i] : NULL};

		err = prom_sample_u64(sb, name, &l, label ? 1 : 0, v[i]);
	}
	if (err && sb)
		sb_rollback(sb, start);
	return err;
}

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nr_bounds)
{
	double tmp;
	size_t j;

	if (!h)
		return;
	if (!bounds || nr_bounds > PROM_HIST_MAX_BUCKETS)
		nr_bounds = bounds ? PROM_HIST_MAX_BUCKETS : 0;
	h->nr_bounds = nr_bounds;
	for (size_t i = 0; i < nr_bounds; i++) {
		/* Keep them sorted: observe stops at the first bound that fits. */
		tmp = bounds[i];
		for (j = i; j > 0 && h->bounds[j - 1] > tmp; j--)
			h->bounds[j] = h->bounds[j - 1];
		h->bounds[j] = tmp;
	}
	for (size_t i = nr_bounds; i < PROM_HIST_MAX_BUCKETS; i++)
		h->bounds[i] = 0;
	for (size_t i = 0; i <= PROM_HIST_MAX_BUCKETS; i++)
		atomic_init(&h->counts[i], 0);
	atomic_init(&h->sum_ns, 0);
	atomic_init(&h->count, 0);
}

void prom_histogram_observe_ns(struct prom_histogram *h, uint64_t ns)
{
	double secs = (double)ns / 1e9;
	size_t i;

	/* Buckets are "less than or equal": a value on a bound belongs to that bucket. */
	for (i = 0; i < h->nr_bounds; i++)
		if (secs <= h->bounds[i])
			break;
	/* counts[nr_bounds] holds the observations above every bound (le="+Inf" only). */
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

int prom_histogram_write(struct strbuf *sb, const char *name, const char *help,
			 const struct prom_histogram *h)
{
	/* Room for name + "_bucket"; metric names longer than this are not ours. */
	char series[256], le[64];
	struct prom_label label = {.name = "le", .value = le};
	struct prom_histogram *mh = (struct prom_histogram *)h;
	uint64_t cum = 0, sum_ns;
	size_t start;
	int err;

	if (!sb || !h || !name || strlen(name) + sizeof("_bucket") > sizeof(series))
		return -EINVAL;
	start = sb->len;
	err = prom_family(sb, name, "histogram", help);
	if (err)
		return err;

	snprintf(series, sizeof(series), "%s_bucket", name);
	for (size_t i = 0; i < h->nr_bounds && !err; i++) {
		/* mh drops const only because C11 atomic_load predates const arguments. */
		cum += atomic_load_explicit(&mh->counts[i], memory_order_relaxed);
		format_bound(h->bounds[i], le, sizeof(le));
		err = prom_sample_u64(sb, series, &label, 1, cum);
	}
	/*
	 * +Inf and _count come from the same cumulative sum, so they agree even
	 * while other threads observe; _sum may run a few observations ahead.
	 */
	cum += atomic_load_explicit(&mh->counts[h->nr_bounds], memory_order_relaxed);
	snprintf(le, sizeof(le), "+Inf");
	if (!err)
		err = prom_sample_u64(sb, series, &label, 1, cum);
	sum_ns = atomic_load_explicit(&mh->sum_ns, memory_order_relaxed);
	snprintf(series, sizeof(series), "%s_sum", name);
	if (!err)
		err = prom_sample(sb, series, NULL, 0, (double)sum_ns / 1e9);
	snprintf(series, sizeof(series), "%s_count", name);
	if (!err)
		err = prom_sample_u64(sb, series, NULL, 0, cum);
	if (err)
		sb_rollback(sb, start);
	return err;
}

/* Read a small /proc file whole into @buf (NUL-terminated). */
static int read_proc(const char *path, char *buf, size_t len)
{
	ssize_t n;
	size_t off = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off + 1 < len) {
		n = read(fd, buf + off, len - 1 - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	close(fd);
	return err;
}

struct proc_stat {
	uint64_t utime, stime; /* clock ticks */
	uint64_t starttime;    /* clock ticks since boot */
	uint64_t vsize;	       /* bytes */
	int64_t rss;	       /* pages */
};

/* /proc/self/stat, per proc(5): fields counted from 1; comm (2) may hold spaces and ')'. */
static int parse_proc_stat(const char *buf, struct proc_stat *st)
{
	const char *p = strrchr(buf, ')');
	unsigned long long v[22];
	int field;
	char *end;

	if (!p)
		return -EINVAL;
	p++;
	/* v[k] is field k + 3 (state, the first after comm, is field 3 and skipped). */
	while (*p == ' ')
		p++;
	if (!*p)
		return -EINVAL;
	p++; /* state */
	for (field = 4; field <= 24; field++) {
		while (*p == ' ')
			p++;
		errno = 0;
		v[field - 3] = strtoull(p, &end, 10);
		if (end == p || errno)
			return -EINVAL;
		p = end;
	}
	st->utime = v[14 - 3];
	st->stime = v[15 - 3];
	st->starttime = v[22 - 3];
	st->vsize = v[23 - 3];
	st->rss = (int64_t)v[24 - 3];
	return 0;
}

static int read_btime(uint64_t *btime)
{
	char buf[16384];
	const char *p;
	int err;

	err = read_proc("/proc/stat", buf, sizeof(buf));
	if (err)
		return err;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "btime ", 6) == 0) {
			*btime = strtoull(p + 6, NULL, 10);
			return 0;
		}
	}
	/* /proc/stat can outgrow the buffer on huge machines; btime then sits past it. */
	return -ENOENT;
}

static int count_open_fds(uint64_t *cnt)
{
	struct dirent *de;
	uint64_t n = 0;
	DIR *dir;
	int self;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return -errno;
	self = dirfd(dir);
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		/* Don't count the descriptor we opened to do the counting. */
		if (atoi(de->d_name) == self)
			continue;
		n++;
	}
	closedir(dir);
	*cnt = n;
	return 0;
}

int prom_write_process_metrics(struct strbuf *sb)
{
	char buf[1024];
	struct proc_stat st = {0};
	struct rlimit rl;
	uint64_t btime = 0, fds = 0;
	long tck, page;
	size_t start;
	int err;

	if (!sb)
		return -EINVAL;
	tck = sysconf(_SC_CLK_TCK);
	page = sysconf(_SC_PAGESIZE);
	if (tck <= 0 || page <= 0)
		return -EINVAL;

	/* Gather everything first: a /proc failure must not leave half the families written. */
	err = read_proc("/proc/self/stat", buf, sizeof(buf));
	if (!err)
		err = parse_proc_stat(buf, &st);
	if (!err)
		err = read_btime(&btime);
	if (!err)
		err = count_open_fds(&fds);
	if (!err && getrlimit(RLIMIT_NOFILE, &rl))
		err = -errno;
	if (err)
		return err;

	start = sb->len;
	/* HELP texts as the Prometheus client libraries (client_golang) write them. */
	err = prom_family(sb, "process_cpu_seconds_total", "counter",
			  "Total user and system CPU time spent in seconds.");
	if (!err)
		err = prom_sample(sb, "process_cpu_seconds_total", NULL, 0,
				  (double)(st.utime + st.stime) / (double)tck);
	if (!err)
		err = prom_family(sb, "process_open_fds", "gauge",
				  "Number of open file descriptors.");
	if (!err)
		err = prom_sample_u64(sb, "process_open_fds", NULL, 0, fds);
	if (!err)
		err = prom_family(sb, "process_max_fds", "gauge",
				  "Maximum number of open file descriptors.");
	if (!err)
		err = prom_sample(sb, "process_max_fds", NULL, 0, (double)rl.rlim_cur);
	if (!err)
		err = prom_family(sb, "process_virtual_memory_bytes", "gauge",
				  "Virtual memory size in bytes.");
	if (!err)
		err = prom_sample_u64(sb, "process_virtual_memory_bytes", NULL, 0, st.vsize);
	if (!err)
		err = prom_family(sb, "process_resident_memory_bytes", "gauge",
				  "Resident memory size in bytes.");
	if (!err)
		err = prom_sample_u64(sb, "process_resident_memory_bytes", NULL, 0,
				      st.rss > 0 ? (uint64_t)st.rss * (uint64_t)page : 0);
	if (!err)
		err = prom_family(sb, "process_start_time_seconds", "gauge",
				  "Start time of the process since unix epoch in seconds.");
	if (!err)
		err = prom_sample(sb, "process_start_time_seconds", NULL, 0,
				  (double)btime + (double)st.starttime / (double)tck);
	if (err)
		sb_rollback(sb, start);
	return err;
}
