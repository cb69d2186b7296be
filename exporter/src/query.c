// SPDX-License-Identifier: Apache-2.0
/*
 * Every parser of request arguments (fuzzed: tests/fuzz/fuzz_query.c and fuzz_filter.c; tested:
 * tests/unit/test_query.c).
 */
#include "exporter/query.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "common/utf8.h"

#define NS 1000000000LL

/*
 * A count of seconds as both seconds parsers take it: 1 to
 * HTTP_SECONDS_MAX_DIGITS decimal digits and nothing else (no sign, space or
 * fraction), not zero. The caller checks the maximum.
 */
static bool seconds_value(const char *s, size_t n, unsigned long long *v)
{
	*v = 0;
	if (n == 0 || n > HTTP_SECONDS_MAX_DIGITS)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return *v != 0;
}

/*
 * Rejects what MHD would otherwise let through half-parsed: a '%' not
 * followed by two hex digits, an encoded NUL (MHD's strings would end there)
 * and raw control bytes. Returns NULL when fine, else the reason.
 */
const char *uri_check(const char *uri)
{
	const unsigned char *p;

	for (p = (const unsigned char *)uri; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return "control character in request URI";
		if (*p != '%')
			continue;
		if (hex_digit(p[1]) < 0 || hex_digit(p[2]) < 0)
			return "bad percent-encoding in request URI";
		if (p[1] == '0' && p[2] == '0')
			return "NUL byte in request URI";
		p += 2;
	}
	return NULL;
}

/*
 * Form-decodes s[0..n) ('+' is a space) into out; returns the decoded length
 * or -1 when it does not fit. Input was validated by uri_check().
 */
int form_decode(const char *s, size_t n, char *out, size_t out_sz)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 &&
			   hex_digit(s[i + 2]) >= 0) {
			c = (char)(hex_digit(s[i + 1]) << 4 | hex_digit(s[i + 2]));
			i += 2;
		}
		if (o + 1 >= out_sz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

/*
 * Finds "seconds" in the raw query (strictly: only decimal digits, 1 to 10 of
 * them, no sign or space, at most once). Absent leaves *seconds untouched.
 */
enum seconds_err parse_seconds(const char *query, unsigned max, unsigned *seconds)
{
	const char *p = query;
	bool is_seen = false;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t key_len = eq ? (size_t)(eq - p) : len;
		char key[16], val[HTTP_SECONDS_MAX_DIGITS + 2];
		unsigned long long v;
		int n;

		if (len == 0 || form_decode(p, key_len, key, sizeof(key)) < 0 ||
		    strcmp(key, "seconds") != 0)
			goto next;
		if (is_seen)
			return SECONDS_DUPLICATE;
		is_seen = true;
		n = eq ? form_decode(eq + 1, len - key_len - 1, val, sizeof(val)) : 0;
		if (n <= 0 || !seconds_value(val, (size_t)n, &v))
			return SECONDS_INVALID;
		if (v > max)
			return SECONDS_TOO_LARGE;
		*seconds = (unsigned)v;
	next:
		p = end ? end + 1 : NULL;
	}
	return SECONDS_OK;
}

/* ---- time range -------------------------------------------------------------------------- */

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

int query_parse_base(const char *s, int64_t *from_ns, int64_t *to_ns)
{
	const char *comma = s ? strchr(s, ',') : NULL;
	char first[48];
	size_t n;

	if (!comma || strchr(comma + 1, ','))
		return -EINVAL;
	n = (size_t)(comma - s);
	if (n >= sizeof(first))
		return -EINVAL;
	memcpy(first, s, n);
	first[n] = '\0';
	if (query_parse_time(first, from_ns) || query_parse_time(comma + 1, to_ns) ||
	    *from_ns >= *to_ns)
		return -EINVAL;
	return 0;
}

int query_parse_range(const struct query_args *args, int64_t now_ns, uint64_t max_seconds,
		      int64_t *from_ns, int64_t *to_ns, char *why, size_t why_sz)
{
	const char *sec = args->get(args->ctx, "seconds"), *start = args->get(args->ctx, "start");
	const char *end = args->get(args->ctx, "end");
	unsigned long long n = QUERY_DEFAULT_SECONDS;

	if (sec && (start || end)) {
		snprintf(why, why_sz, "%s",
			 "give either \"seconds\" or \"start\"/\"end\", not both");
		return -EINVAL;
	}
	if (sec && (!seconds_value(sec, strlen(sec), &n) || n > max_seconds)) {
		snprintf(why, why_sz,
			 "invalid value for \"seconds\": want an integer from 1 to %llu",
			 (unsigned long long)max_seconds);
		return -EINVAL;
	}
	*to_ns = now_ns;
	if (end && query_parse_time(end, to_ns)) {
		snprintf(why, why_sz, "%s",
			 "invalid value for \"end\": want Unix seconds or RFC 3339 UTC "
			 "(2026-11-22T03:00:00Z)");
		return -EINVAL;
	}
	*from_ns = *to_ns - (int64_t)n * NS;
	if (start && query_parse_time(start, from_ns)) {
		snprintf(why, why_sz, "%s",
			 "invalid value for \"start\": want Unix seconds or RFC 3339 UTC "
			 "(2026-11-22T03:00:00Z)");
		return -EINVAL;
	}
	if (*from_ns >= *to_ns) {
		snprintf(why, why_sz, "%s", "\"start\" must be before \"end\"");
		return -EINVAL;
	}
	return 0;
}

/* ---- label filters ------------------------------------------------------------------------ */

const char *const label_filter_args[5] = {"pid", "comm", "container", "cgroup", "unit"};

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

int query_parse_filter(const struct query_args *args, struct label_filter *f, char *why,
		       size_t why_sz)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < sizeof(label_filter_args) / sizeof(label_filter_args[0]); i++) {
		const char *v = args->get(args->ctx, label_filter_args[i]);
		const char *bad;

		if (!v)
			continue;
		bad = label_filter_set(f, label_filter_args[i], v);
		if (bad) {
			snprintf(why, why_sz, "invalid value for \"%s\": %s", label_filter_args[i],
				 bad);
			return -EINVAL;
		}
	}
	return 0;
}
