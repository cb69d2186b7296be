// SPDX-License-Identifier: Apache-2.0
#include "exporter/labels.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/utf8.h"

static const char *const key_names[LABEL__MAX] = {
    [LABEL_PID] = "pid",
    [LABEL_COMM] = "comm",
    [LABEL_EXE] = "exe",
    [LABEL_CMDLINE] = "cmdline",
    [LABEL_CGROUP] = "cgroup",
    [LABEL_CONTAINER_ID] = "container_id",
    [LABEL_CONTAINER_RUNTIME] = "container_runtime",
    [LABEL_POD_UID] = "pod_uid",
    [LABEL_POD] = "pod",
    [LABEL_NAMESPACE] = "namespace",
    [LABEL_CONTAINER] = "container",
    [LABEL_UNIT] = "unit",
};

const char *const label_filter_args[5] = {"pid", "comm", "container", "cgroup", "unit"};

const char *label_key_name(enum label_key k)
{
	return k < LABEL__MAX ? key_names[k] : "";
}

enum label_key label_key_of(const char *name)
{
	for (int k = 0; k < LABEL__MAX; k++)
		if (strcmp(name, key_names[k]) == 0)
			return (enum label_key)k;
	return LABEL__MAX;
}

int labels_parse_set(const char *list, uint32_t *mask)
{
	const char *p = list;

	*mask = 0;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char name[32];
		enum label_key k;

		if (len == 0 || len >= sizeof(name))
			return -EINVAL;
		memcpy(name, p, len);
		name[len] = '\0';
		k = label_key_of(name);
		if (k == LABEL__MAX)
			return -EINVAL;
		*mask |= 1u << k;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * Label values are repaired to valid UTF-8 when they are built, so a value
 * asked for with the raw bytes ("comm=%FF%FE-bad") is repaired the same way
 * and still matches.
 */
static const char *set_str(char *dst, size_t sz, const char *value)
{
	size_t len = strlen(value);

	if (!*value)
		return "must not be empty";
	if (utf8_sanitized_len(value, len) >= sz)
		return "is too long";
	if (!printable(value))
		return "contains control characters";
	utf8_sanitize(value, len, dst, sz);
	return NULL;
}

const char *label_filter_set(struct label_filter *f, const char *arg, const char *value)
{
	if (strcmp(arg, "pid") == 0) {
		const char *p = value;

		if (!*value)
			return "must not be empty";
		f->nr_pids = 0;
		while (*p) {
			unsigned long v = 0;
			int digits = 0;

			while (*p >= '0' && *p <= '9') {
				v = v * 10 + (unsigned long)(*p++ - '0');
				if (++digits > 7)
					return "must be comma-separated process ids (1..4194304)";
			}
			if (!digits || v == 0 || v > 4194304 || (*p && *p != ','))
				return "must be comma-separated process ids (1..4194304)";
			if (f->nr_pids == FILTER_MAX_PIDS)
				return "lists more than 64 process ids";
			f->pids[f->nr_pids++] = (uint32_t)v;
			if (*p == ',' && !*++p)
				return "must be comma-separated process ids (1..4194304)";
		}
		return NULL;
	}
	if (strcmp(arg, "comm") == 0)
		return set_str(f->comm, sizeof(f->comm), value);
	if (strcmp(arg, "container") == 0)
		return set_str(f->container, sizeof(f->container), value);
	if (strcmp(arg, "cgroup") == 0) {
		const char *err = set_str(f->cgroup, sizeof(f->cgroup), value);
		size_t len;

		if (err)
			return err;
		if (f->cgroup[0] != '/')
			return "must be an absolute cgroup path (as in /proc/PID/cgroup)";
		/* "/a/b/" and "/a/b" name the same cgroup. */
		len = strlen(f->cgroup);
		while (len > 1 && f->cgroup[len - 1] == '/')
			f->cgroup[--len] = '\0';
		return NULL;
	}
	if (strcmp(arg, "unit") == 0)
		return set_str(f->unit, sizeof(f->unit), value);
	return "is not a filter";
}

bool label_filter_active(const struct label_filter *f)
{
	return f->nr_pids || f->comm[0] || f->container[0] || f->cgroup[0] || f->unit[0];
}

const char *label_str(const struct pprof_label *labels, size_t nr, const char *key)
{
	for (size_t i = 0; i < nr; i++)
		if (labels[i].str && strcmp(labels[i].key, key) == 0)
			return labels[i].str;
	return "";
}

static const char *str_of(const struct pprof_label *labels, size_t nr, enum label_key key)
{
	return label_str(labels, nr, key_names[key]);
}

/* A container id prefix (hex, at least 1 char), or the container's name. */
static bool container_match(const char *want, const struct pprof_label *labels, size_t nr)
{
	const char *id = str_of(labels, nr, LABEL_CONTAINER_ID);
	size_t n = strlen(want);

	if (*id && strncmp(id, want, n) == 0)
		return true;
	return strcmp(str_of(labels, nr, LABEL_CONTAINER), want) == 0;
}

/* @want is @path or one of its ancestors ("/" is every cgroup's). */
static bool cgroup_match(const char *want, const char *path)
{
	size_t n = strlen(want);

	if (!*path)
		return false;
	if (strcmp(want, "/") == 0)
		return true;
	return strncmp(path, want, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool label_filter_match(const struct label_filter *f, const struct pprof_label *labels, size_t nr)
{
	if (f->nr_pids) {
		bool hit = false;

		for (size_t i = 0; i < nr && !hit; i++) {
			if (labels[i].str || strcmp(labels[i].key, "pid") != 0)
				continue;
			for (size_t j = 0; j < f->nr_pids && !hit; j++)
				hit = labels[i].num == (int64_t)f->pids[j];
		}
		if (!hit)
			return false;
	}
	if (f->comm[0] && fnmatch(f->comm, str_of(labels, nr, LABEL_COMM), 0) != 0)
		return false;
	if (f->container[0] && !container_match(f->container, labels, nr))
		return false;
	if (f->cgroup[0] && !cgroup_match(f->cgroup, str_of(labels, nr, LABEL_CGROUP)))
		return false;
	if (f->unit[0] && fnmatch(f->unit, str_of(labels, nr, LABEL_UNIT), 0) != 0)
		return false;
	return true;
}

static bool sel_keep_sample(void *ctx, const struct pprof_label *labels, size_t nr)
{
	const struct label_select *ls = ctx;

	return !ls->filter || label_filter_match(ls->filter, labels, nr);
}

static bool sel_keep_label(void *ctx, const char *key)
{
	const struct label_select *ls = ctx;
	enum label_key k = label_key_of(key);

	return k != LABEL__MAX && (ls->mask & (1u << k));
}

void label_select_init(struct pprof_select *sel, struct label_select *ls,
		       const struct label_filter *f, uint32_t mask)
{
	ls->filter = f && label_filter_active(f) ? f : NULL;
	ls->mask = mask;
	sel->keep_sample = ls->filter ? sel_keep_sample : NULL;
	sel->keep_label = sel_keep_label;
	sel->ctx = ls;
}

#define NS 1000000000LL

/* Exactly @n digits at @s into *v. */
static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

int query_parse_time(const char *s, int64_t *ns)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	int64_t frac = 0, scale = NS;
	const char *p = s;
	struct tm tm;
	time_t t;

	if (!s || !*s || strlen(s) > 40)
		return -EINVAL;
	if (strchr(s, 'T') || strchr(s, 't')) {
		if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
		    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
		    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
		    s[16] != ':' || !digits(s + 17, 2, &sec))
			return -EINVAL;
		p = s + 19;
		if (*p == '.') {
			for (p++; *p >= '0' && *p <= '9'; p++)
				if (scale > 1) {
					scale /= 10;
					frac += (*p - '0') * scale;
				}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if ((*p == '+' || *p == '-') && digits(p + 1, 2, &oh) && p[3] == ':' &&
			   digits(p + 4, 2, &om)) {
			if (*p == '-') {
				oh = -oh;
				om = -om;
			}
			p += 6;
		} else {
			return -EINVAL;
		}
		if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
		    y < 1970 || y > 2261 || oh > 23 || oh < -23 || om > 59 || om < -59)
			return -EINVAL;
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		t = timegm(&tm);
		if (t == (time_t)-1)
			return -EINVAL;
		*ns = ((int64_t)t - oh * 3600 - om * 60) * NS + frac;
		return 0;
	}
	/* Unix seconds, with an optional fraction; in ns, int64 ends in 2262: 10 digits. */
	{
		int64_t v = 0;
		int n = 0;

		for (; *p >= '0' && *p <= '9'; p++) {
			if (++n > 10)
				return -EINVAL;
			v = v * 10 + (*p - '0');
		}
		if (!n)
			return -EINVAL;
		if (*p == '.') {
			for (p++; *p >= '0' && *p <= '9'; p++)
				if (scale > 1) {
					scale /= 10;
					frac += (*p - '0') * scale;
				}
		}
		if (*p || __builtin_mul_overflow(v, NS, ns) ||
		    __builtin_add_overflow(*ns, frac, ns))
			return -EINVAL;
		return 0;
	}
}
