// SPDX-License-Identifier: Apache-2.0
#include "procmeta.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/hmap.h"
#include "common/log.h"
#include "common/safefile.h"
#include "common/utf8.h"

/* /proc/PID/cgroup: about 13 lines of at most PATH_MAX on any real kernel. */
#define CGROUP_FILE_MAX (64u << 10)
/* Much more than fits in the label, so a cut is always seen as one. */
#define CMDLINE_READ_MAX 4096
#define MOUNTINFO_MAX	 (1u << 20)
#define CONTAINER_ID_LEN 64
#define POD_UID_LEN	 36
#define POD_HASH_LEN	 32 /* static pods: the hash of their manifest, no dashes */
#define JSON_PATH_MAX	 4
#define JSON_KEY_MAX	 256
#define ROOT_MAX	 256

enum rt {
	RT_NONE = 0,
	RT_DOCKER,
	RT_CONTAINERD,
	RT_CRIO,
	RT_PODMAN,
	RT__NR,
};

static const char *const rt_names[RT__NR] = {
    [RT_NONE] = "",	 [RT_DOCKER] = "docker", [RT_CONTAINERD] = "containerd",
    [RT_CRIO] = "cri-o", [RT_PODMAN] = "podman",
};

/* Containers' cgroup directories: <prefix><64 hex>, ".scope" added by the systemd driver. */
static const struct {
	const char *prefix;
	enum rt rt;
	bool is_conmon;
} ctr_prefixes[] = {
    {"docker-", RT_DOCKER, false},	{"cri-containerd-", RT_CONTAINERD, false},
    {"nerdctl-", RT_CONTAINERD, false}, {"crio-conmon-", RT_CRIO, true},
    {"crio-", RT_CRIO, false},		{"libpod-conmon-", RT_PODMAN, true},
    {"libpod-", RT_PODMAN, false},
};

/* systemd unit types that hold processes (slices only group them). */
static const char *const unit_suffixes[] = {".service", ".scope", ".socket", ".mount", ".swap"};

struct name_entry {
	struct hnode node;
	char id[CONTAINER_ID_LEN + 1];
	uint8_t rt;	    /* the runtime the path named: part of the key */
	uint8_t found_rt;   /* whose state named it; RT_NONE for a negative entry */
	bool is_referenced; /* CLOCK's second-chance bit */
	char container_name[128];
	char pod_name[128];
	char pod_namespace[128];
};

struct procmeta_reader {
	char proc_root[ROOT_MAX];
	char runtime_root[ROOT_MAX];
	char cgroup2_mount[ROOT_MAX]; /* "": none, cgroup ids are not resolved */
	struct hmap names;
	struct name_entry *slots[PROCMETA_NAME_CACHE_MAX];
	size_t nr_slots;
	size_t hand;
	struct procmeta_stats stats;
};

/* ---- small string helpers ---- */

static bool has_prefix(const char *s, size_t n, const char *prefix, size_t *plen)
{
	size_t l = strlen(prefix);

	if (n < l || memcmp(s, prefix, l) != 0)
		return false;
	*plen = l;
	return true;
}

/* Does @s end in @suffix with something before it? *stem gets the length before it. */
static bool has_suffix(const char *s, size_t n, const char *suffix, size_t *stem)
{
	size_t l = strlen(suffix);

	if (n <= l || memcmp(s + n - l, suffix, l) != 0)
		return false;
	*stem = n - l;
	return true;
}

static bool eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_container_id(const char *s, size_t n)
{
	size_t i;

	if (n != CONTAINER_ID_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!is_lower_hex(s[i]))
			return false;
	return true;
}

/* Length of the valid UTF-8 character at @s (1 for ASCII), or 0 (common/utf8.h's rules). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t k = utf8_decode(s, n, &cp);

	return cp == UTF8_INVALID ? 0 : k;
}

/* U+0080..U+009F: valid UTF-8, but terminal controls all the same. */
static bool is_c1(const unsigned char *s, size_t k)
{
	return k == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

/* Copy @n bytes into @dst, cut on a UTF-8 boundary when it does not fit. */
static void copy_cut(char *dst, size_t dst_sz, const char *src, size_t n)
{
	if (n >= dst_sz) {
		n = dst_sz - 1;
		/* Back off continuation bytes so the cut never splits a character. */
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- cgroup paths ---- */

/*
 * A container's cgroup directory: sets *id, *rt and *is_conmon. A bare id is
 * docker's under "docker" (cgroupfs driver) and containerd's under a pod (the
 * kubelet's cgroupfs driver); anywhere else its runtime is unknown.
 */
static bool match_container(const char *c, size_t n, const char *parent, size_t parent_n,
			    bool in_pod, const char **id, enum rt *rt, bool *is_conmon)
{
	size_t stem = n, plen, i;

	if (is_container_id(c, n)) {
		*id = c;
		*is_conmon = false;
		if (parent && eq(parent, parent_n, "docker"))
			*rt = RT_DOCKER;
		else
			*rt = in_pod ? RT_CONTAINERD : RT_NONE;
		return true;
	}
	has_suffix(c, n, ".scope", &stem);
	for (i = 0; i < sizeof(ctr_prefixes) / sizeof(ctr_prefixes[0]); i++) {
		if (!has_prefix(c, stem, ctr_prefixes[i].prefix, &plen) ||
		    !is_container_id(c + plen, stem - plen))
			continue;
		*id = c + plen;
		*rt = ctr_prefixes[i].rt;
		*is_conmon = ctr_prefixes[i].is_conmon;
		return true;
	}
	return false;
}

/* A pod UID: 8-4-4-4-12 lowercase hex with '-' or (systemd driver) '_', or a 32-digit hash. */
static bool parse_uid(const char *s, size_t n, char out[POD_UID_LEN + 1])
{
	size_t i;

	if (n != POD_UID_LEN && n != POD_HASH_LEN)
		return false;
	for (i = 0; i < n; i++) {
		if (n == POD_UID_LEN && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-' && s[i] != '_')
				return false;
			out[i] = '-';
		} else if (is_lower_hex(s[i])) {
			out[i] = s[i];
		} else {
			return false;
		}
	}
	out[n] = '\0';
	return true;
}

/* "pod<uid>" (cgroupfs) or "...-pod<uid>.slice" (systemd: kubepods-burstable-pod<uid>.slice). */
static bool match_pod(const char *c, size_t n, char out[POD_UID_LEN + 1])
{
	static const size_t lens[] = {POD_UID_LEN, POD_HASH_LEN};
	size_t stem, i, at;

	if (!has_suffix(c, n, ".slice", &stem))
		return n > 3 && memcmp(c, "pod", 3) == 0 && parse_uid(c + 3, n - 3, out);
	for (i = 0; i < 2; i++) {
		if (stem < 3 + lens[i])
			continue;
		at = stem - lens[i] - 3;
		if (memcmp(c + at, "pod", 3) == 0 && (at == 0 || c[at - 1] == '-') &&
		    parse_uid(c + at + 3, lens[i], out))
			return true;
	}
	return false;
}

/* A systemd unit name that fits in procmeta.unit, in systemd's own alphabet. */
static bool is_unit(const char *c, size_t n)
{
	size_t stem, i;
	bool typed = false;

	if (n >= sizeof(((struct procmeta *)0)->unit))
		return false;
	for (i = 0; i < sizeof(unit_suffixes) / sizeof(unit_suffixes[0]) && !typed; i++)
		typed = has_suffix(c, n, unit_suffixes[i], &stem);
	if (!typed)
		return false;
	for (i = 0; i < n; i++) {
		char ch = c[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == ':' || ch == '-' || ch == '_' ||
		      ch == '.' || ch == '\\' || ch == '@'))
			return false;
	}
	return true;
}

static void parse_path(const char *p, size_t len, struct procmeta *m)
{
	const char *parent = NULL, *id = NULL, *unit = NULL, *c;
	size_t i = 0, n, parent_n = 0, unit_n = 0;
	enum rt rt = RT_NONE, crt;
	bool in_pod = false, conmon = false, cconmon;
	char uid[POD_UID_LEN + 1];
	const char *cid;

	m->container_id[0] = m->container_runtime[0] = m->pod_uid[0] = m->unit[0] = '\0';
	m->is_conmon = false;
	while (i < len) {
		while (i < len && p[i] == '/')
			i++;
		if (i == len)
			break;
		c = p + i;
		while (i < len && p[i] != '/')
			i++;
		n = (size_t)(p + i - c);
		if (match_container(c, n, parent, parent_n, in_pod, &cid, &crt, &cconmon)) {
			id = cid;
			rt = crt;
			conmon = cconmon;
		} else if (match_pod(c, n, uid)) {
			memcpy(m->pod_uid, uid, strlen(uid) + 1);
			in_pod = true;
		} else if (is_unit(c, n)) {
			unit = c;
			unit_n = n;
		}
		parent = c;
		parent_n = n;
	}
	if (id) {
		memcpy(m->container_id, id, CONTAINER_ID_LEN);
		m->container_id[CONTAINER_ID_LEN] = '\0';
		snprintf(m->container_runtime, sizeof(m->container_runtime), "%s", rt_names[rt]);
		m->is_conmon = conmon;
	}
	if (unit) {
		memcpy(m->unit, unit, unit_n);
		m->unit[unit_n] = '\0';
	}
}

void procmeta_parse_cgroup_path(const char *path, struct procmeta *m)
{
	parse_path(path ? path : "", path ? strlen(path) : 0, m);
}

/* v1 hierarchies by how much their path says: systemd's tree names units and scopes. */
enum v1_rank { V1_SYSTEMD, V1_CPU, V1_MEMORY, V1_PIDS, V1_OTHER, V1__NR };

static enum v1_rank v1_rank_of(const char *ctrl, size_t n)
{
	enum v1_rank best = V1_OTHER, r;
	size_t i = 0, s;

	while (i <= n) {
		s = i;
		while (i < n && ctrl[i] != ',')
			i++;
		if (eq(ctrl + s, i - s, "name=systemd"))
			r = V1_SYSTEMD;
		else if (eq(ctrl + s, i - s, "cpu") || eq(ctrl + s, i - s, "cpuacct"))
			r = V1_CPU;
		else if (eq(ctrl + s, i - s, "memory"))
			r = V1_MEMORY;
		else if (eq(ctrl + s, i - s, "pids"))
			r = V1_PIDS;
		else
			r = V1_OTHER;
		if (r < best)
			best = r;
		i++;
	}
	return best;
}

struct cgroup_lines {
	const char *v2;
	size_t v2_len;
	const char *v1[V1__NR]; /* the first line of each rank */
	size_t v1_len[V1__NR];
};

static int scan_cgroup_file(const char *text, size_t len, struct cgroup_lines *cl)
{
	static const char deleted[] = " (deleted)";
	const char *line, *eol, *ctrl, *colon, *path;
	size_t pos = 0, ll, j, ctrl_len, plen, dl = sizeof(deleted) - 1;
	unsigned valid = 0;
	enum v1_rank rank;
	unsigned long id;

	memset(cl, 0, sizeof(*cl));
	while (pos < len) {
		line = text + pos;
		eol = memchr(line, '\n', len - pos);
		ll = eol ? (size_t)(eol - line) : len - pos;
		pos += ll + 1;
		if (memchr(line, '\0', ll))
			continue;
		/* "ID:CONTROLLERS:/PATH"; hierarchy ids are small, 9 digits bound the number. */
		for (j = 0, id = 0; j < ll && j < 9 && line[j] >= '0' && line[j] <= '9'; j++)
			id = id * 10 + (unsigned long)(line[j] - '0');
		if (j == 0 || j >= ll || line[j] != ':')
			continue;
		ctrl = line + j + 1;
		colon = memchr(ctrl, ':', ll - j - 1);
		if (!colon)
			continue;
		ctrl_len = (size_t)(colon - ctrl);
		path = colon + 1;
		plen = (size_t)(line + ll - path);
		if (plen == 0 || path[0] != '/')
			continue;
		if (id == 0) {
			if (ctrl_len)
				continue;
			valid++;
			/* The kernel marks a v2 cgroup removed under a live (zombie) task. */
			if (plen > dl && memcmp(path + plen - dl, deleted, dl) == 0)
				plen -= dl;
			cl->v2 = path;
			cl->v2_len = plen;
			/* The kernel's last line: the rest came from newlines in cgroup names. */
			break;
		}
		valid++;
		rank = v1_rank_of(ctrl, ctrl_len);
		if (!cl->v1[rank]) {
			cl->v1[rank] = path;
			cl->v1_len[rank] = plen;
		}
	}
	return valid ? 0 : -EINVAL;
}

/* Parse a /proc/PID/cgroup text; @v2 and @v2_len get the v2 path (NULL without a v2 line). */
static int parse_cgroup_text(const char *text, size_t len, struct procmeta *m, const char **v2,
			     size_t *v2_len)
{
	struct cgroup_lines cl;
	const char *path = NULL;
	size_t plen = 0;
	int r;

	m->cgroup[0] = '\0';
	if (v2)
		*v2 = NULL;
	if ((!text && len) || scan_cgroup_file(text, len, &cl)) {
		parse_path("", 0, m);
		return -EINVAL;
	}
	if (cl.v2 && cl.v2_len > 1) {
		path = cl.v2;
		plen = cl.v2_len;
	}
	for (r = 0; r < V1__NR && !path; r++) {
		if (cl.v1[r] && cl.v1_len[r] > 1) {
			path = cl.v1[r];
			plen = cl.v1_len[r];
		}
	}
	if (!path) {
		/* Every hierarchy says the root: that is information too (host, kernel threads). */
		path = "/";
		plen = 1;
	}
	copy_cut(m->cgroup, sizeof(m->cgroup), path, plen);
	parse_path(path, plen, m);
	if (v2 && cl.v2) {
		*v2 = cl.v2;
		*v2_len = cl.v2_len;
	}
	return 0;
}

int procmeta_parse_cgroup_file(const char *text, size_t len, struct procmeta *m)
{
	return parse_cgroup_text(text, len, m, NULL, NULL);
}

/* ---- JSON ---- */

static bool json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Index of the quote closing the string whose body starts at @i, or @len if unterminated. */
static size_t json_string_end(const char *buf, size_t len, size_t i)
{
	while (i < len) {
		if (buf[i] == '\\')
			i += 2;
		else if (buf[i] == '"')
			return i;
		else
			i++;
	}
	return len;
}

static bool json_hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int i, d;

	for (i = 0; i < 4; i++) {
		d = hex_digit(s[i]);
		if (d < 0)
			return false;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return true;
}

static size_t utf8_put(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decode the string body [s, s + n) into @out. Names end up in labels, so
 * control characters (escaped or not) and invalid UTF-8 are refused rather
 * than passed on. Returns the decoded length, -EINVAL, or -ENOSPC with the
 * prefix that fits (cut on a character boundary) in @out.
 */
static int json_decode(const char *s, size_t n, char *out, size_t out_sz)
{
	size_t i = 0, o = 0, k;
	unsigned cp, lo;
	char ch[4];

	out[0] = '\0';
	while (i < n) {
		if (s[i] == '\\') {
			if (i + 1 >= n)
				return -EINVAL;
			if (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == '/') {
				ch[0] = s[i + 1];
				k = 1;
				i += 2;
			} else if (s[i + 1] == 'u') {
				if (n - i < 6 || !json_hex4(s + i + 2, &cp))
					return -EINVAL;
				i += 6;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u' ||
					    !json_hex4(s + i + 2, &lo) || lo < 0xdc00 ||
					    lo > 0xdfff)
						return -EINVAL;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					i += 6;
				} else if (cp >= 0xdc00 && cp <= 0xdfff) {
					return -EINVAL;
				}
				if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
					return -EINVAL;
				k = utf8_put(cp, ch);
			} else {
				/* \b \f \n \r \t are control characters, the rest no escapes. */
				return -EINVAL;
			}
		} else {
			k = utf8_len((const unsigned char *)s + i, n - i);
			if (!k || (unsigned char)s[i] < 0x20 || s[i] == 0x7f ||
			    is_c1((const unsigned char *)s + i, k))
				return -EINVAL;
			memcpy(ch, s + i, k);
			i += k;
		}
		if (o + k >= out_sz) {
			out[o] = '\0';
			return -ENOSPC;
		}
		memcpy(out + o, ch, k);
		o += k;
	}
	out[o] = '\0';
	return (int)o;
}

int procmeta_json_find_string(const char *buf, size_t len, const char *const *path, size_t path_len,
			      char *out, size_t out_sz)
{
	/* on_path[d]: the object open at depth d was reached through path[0 .. d-2]. */
	bool on_path[JSON_PATH_MAX + 2] = {false};
	bool after_colon = false, key_ok = false;
	size_t i = 0, depth = 0, end, j;
	char key[JSON_KEY_MAX];
	int n;

	if (!out || !out_sz)
		return -EINVAL;
	out[0] = '\0';
	if ((!buf && len) || !path || !path_len || path_len > JSON_PATH_MAX)
		return -EINVAL;
	/*
	 * Not a validating parser: one pass over the bytes that tracks nesting
	 * and tells keys (a string followed by ':') from values, so a key-like
	 * string inside some other value never matches.
	 */
	while (i < len) {
		char c = buf[i];

		if (c == '{' || c == '[') {
			if (depth + 1 < sizeof(on_path) / sizeof(on_path[0]))
				on_path[depth + 1] =
				    c == '{' &&
				    (depth == 0 || (after_colon && key_ok && depth < path_len));
			depth++;
			after_colon = key_ok = false;
			i++;
		} else if (c == '}' || c == ']') {
			if (depth)
				depth--;
			after_colon = key_ok = false;
			i++;
		} else if (c == ',') {
			after_colon = key_ok = false;
			i++;
		} else if (c == '"') {
			end = json_string_end(buf, len, i + 1);
			if (end >= len)
				return -ENOENT;
			if (after_colon) {
				if (key_ok && depth == path_len) {
					n = json_decode(buf + i + 1, end - i - 1, out, out_sz);
					return n == -ENOSPC ? (int)strlen(out) : n;
				}
				after_colon = key_ok = false;
				i = end + 1;
				continue;
			}
			for (j = end + 1; j < len && json_ws(buf[j]); j++)
				;
			if (j < len && buf[j] == ':') {
				/* Only keys that may lie on the path are decoded. */
				key_ok =
				    depth >= 1 && depth <= path_len && on_path[depth] &&
				    json_decode(buf + i + 1, end - i - 1, key, sizeof(key)) >= 0 &&
				    strcmp(key, path[depth - 1]) == 0;
				after_colon = true;
				i = j + 1;
			} else {
				i = end + 1;
			}
		} else {
			i++;
		}
	}
	return -ENOENT;
}

/* ---- cmdline ---- */

size_t procmeta_format_cmdline(const char *raw, size_t len, bool is_cut, char *out, size_t out_sz)
{
	const unsigned char *s = (const unsigned char *)raw;
	size_t i = 0, o = 0, safe = 0, cap, k, ul, b;
	bool cut = is_cut;
	char unit[16];

	if (!out || !out_sz)
		return 0;
	out[0] = '\0';
	if (!raw)
		len = 0;
	cap = out_sz - 1;
	/* Arguments end in NUL; a rewritten title pads with more of them. */
	while (len && !s[len - 1])
		len--;
	while (i < len) {
		k = utf8_len(s + i, len - i);
		if (k == 1 && !s[i]) {
			unit[0] = ' ';
			ul = 1;
		} else if (k == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
			ul = (size_t)snprintf(unit, sizeof(unit), "\\x%02x", s[i]);
		} else if (!k || is_c1(s + i, k)) {
			/* One escape per byte: \xc2\x85 for NEL, \xff for a stray byte. */
			k = k ? k : 1;
			for (b = 0, ul = 0; b < k; b++)
				ul += (size_t)snprintf(unit + ul, sizeof(unit) - ul, "\\x%02x",
						       s[i + b]);
		} else {
			memcpy(unit, s + i, k);
			ul = k;
		}
		if (o + ul > cap) {
			cut = true;
			break;
		}
		memcpy(out + o, unit, ul);
		o += ul;
		i += k;
		/* The last unit boundary that leaves room for "...". */
		if (o + 3 <= cap)
			safe = o;
	}
	/* With no room for the mark (a tiny @out_sz) the cut just stays unmarked. */
	if (cut && cap >= 3) {
		memcpy(out + safe, "...", 3);
		o = safe + 3;
	}
	out[o] = '\0';
	return o;
}

/* ---- files ---- */

/*
 * Read at most @max bytes of the file behind @fd into a new buffer (one
 * spare byte, NUL-terminated). *is_full says @max was reached: there may be
 * more.
 */
static int read_fd_bounded(int fd, size_t max, char **out, size_t *out_len, bool *is_full)
{
	size_t cap = max < 16384 ? max : 16384, len = 0;
	char *buf = NULL, *nb;
	ssize_t n;
	int err = 0;

	*out = NULL;
	*out_len = 0;
	*is_full = false;
	buf = malloc(cap + 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		if (len == cap) {
			if (cap == max) {
				*is_full = true;
				break;
			}
			cap = cap * 2 < max ? cap * 2 : max;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
cleanup:
	free(buf);
	return err;
}

/*
 * read_fd_bounded() of the regular file @path (a /proc file of the kernel's).
 * Non-blocking open all the same: a FIFO must never hang the drain thread.
 */
static int read_bounded(const char *path, size_t max, char **out, size_t *out_len, bool *is_full)
{
	struct stat st;
	int fd, err;

	*out = NULL;
	*out_len = 0;
	*is_full = false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	else
		err = read_fd_bounded(fd, max, out, out_len, is_full);
	close(fd);
	return err;
}

/* Undo mountinfo's octal escapes (\040 for a space, ...) of [s, s + n) into @out. */
static bool mountinfo_unescape(const char *s, size_t n, char *out, size_t out_sz)
{
	size_t i = 0, o = 0;

	while (i < n) {
		char c = s[i];

		if (c == '\\' && n - i >= 4 && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
				   (s[i + 3] - '0'));
			i += 4;
		} else {
			i++;
		}
		if (o + 1 >= out_sz || !c)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

/*
 * The first cgroup2 mount of the hierarchy's root in a mountinfo text
 * ("ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ...").
 * A mount of a subtree (a container's view) would shift every path.
 */
bool procmeta_find_cgroup2_mount(const char *text, size_t len, char *out, size_t out_sz)
{
	const char *line, *eol, *tok[6], *p, *sep;
	size_t pos = 0, ll, tl[6];
	int nt;

	while (pos < len) {
		line = text + pos;
		eol = memchr(line, '\n', len - pos);
		ll = eol ? (size_t)(eol - line) : len - pos;
		pos += ll + 1;
		sep = memmem(line, ll, " - cgroup2 ", 11);
		if (!sep)
			continue;
		for (p = line, nt = 0; p < sep && nt < 6; nt++) {
			while (p < sep && *p == ' ')
				p++;
			tok[nt] = p;
			while (p < sep && *p != ' ')
				p++;
			tl[nt] = (size_t)(p - tok[nt]);
		}
		if (nt < 5 || !eq(tok[3], tl[3], "/"))
			continue;
		if (mountinfo_unescape(tok[4], tl[4], out, out_sz) && out[0] == '/')
			return true;
	}
	out[0] = '\0';
	return false;
}

static bool is_gone(int err)
{
	/* ENOENT: /proc/PID is gone; ESRCH: it went while we read it. */
	return err == -ENOENT || err == -ESRCH;
}

/* ---- container names ---- */

struct state_source {
	enum rt rt;	 /* the runtime that writes it */
	const char *dir; /* under runtime_root, followed by the id */
	const char *file;
	bool is_docker;	     /* config.v2.json "Name", not OCI annotations */
	const char *keys[3]; /* annotations: container, pod, namespace */
};

static const struct state_source src_containerd_cri = {
    RT_CONTAINERD,
    "/run/containerd/io.containerd.runtime.v2.task/k8s.io/",
    "/config.json",
    false,
    {"io.kubernetes.cri.container-name", "io.kubernetes.cri.sandbox-name",
     "io.kubernetes.cri.sandbox-namespace"},
};
static const struct state_source src_nerdctl = {
    RT_CONTAINERD,
    "/run/containerd/io.containerd.runtime.v2.task/default/",
    "/config.json",
    false,
    {"nerdctl/name", NULL, NULL},
};
static const struct state_source src_crio_run = {
    RT_CRIO,
    "/run/containers/storage/overlay-containers/",
    "/userdata/config.json",
    false,
    {"io.kubernetes.container.name", "io.kubernetes.pod.name", "io.kubernetes.pod.namespace"},
};
static const struct state_source src_crio_lib = {
    RT_CRIO,
    "/var/lib/containers/storage/overlay-containers/",
    "/userdata/config.json",
    false,
    {"io.kubernetes.container.name", "io.kubernetes.pod.name", "io.kubernetes.pod.namespace"},
};
static const struct state_source src_docker = {
    RT_DOCKER, "/var/lib/docker/containers/", "/config.v2.json", true, {NULL, NULL, NULL},
};

/* Where each runtime's names may be, in order; podman keeps them in its database only. */
static const struct state_source *const sources[RT__NR][4] = {
    [RT_NONE] = {&src_docker},
    [RT_DOCKER] = {&src_docker},
    [RT_CONTAINERD] = {&src_containerd_cri, &src_nerdctl, &src_docker},
    [RT_CRIO] = {&src_crio_run, &src_crio_lib},
    [RT_PODMAN] = {NULL},
};

/*
 * dockershim and cri-dockerd name containers k8s_<container>_<pod>_<namespace>_<uid>_<attempt>;
 * Kubernetes names never hold '_', so the split is exact.
 */
static void docker_name(struct name_entry *e, const char *name)
{
	const char *f[5], *p;
	size_t n[5], i;

	if (name[0] == '/')
		name++;
	p = name;
	if (strncmp(p, "k8s_", 4) == 0) {
		p += 4;
		for (i = 0; i < 5; i++) {
			f[i] = p;
			p += strcspn(p, "_");
			n[i] = (size_t)(p - f[i]);
			if (*p != '_' && i < 4)
				break;
			if (*p)
				p++;
		}
		if (i == 5 && n[0] && n[1] && n[2]) {
			copy_cut(e->container_name, sizeof(e->container_name), f[0], n[0]);
			copy_cut(e->pod_name, sizeof(e->pod_name), f[1], n[1]);
			copy_cut(e->pod_namespace, sizeof(e->pod_namespace), f[2], n[2]);
			return;
		}
	}
	copy_cut(e->container_name, sizeof(e->container_name), name, strlen(name));
}

static bool names_from(const struct procmeta_reader *r, const struct state_source *src,
		       struct name_entry *e)
{
	char dir[PATH_MAX], rel[PATH_MAX], name[256],
	    *fields[3] = {e->container_name, e->pod_name, e->pod_namespace};
	const char *jpath[2];
	size_t len, i;
	char *buf;
	bool is_full, found = false;
	int n, fd, err;

	/*
	 * The id came from a cgroup name a process may pick, but only as 64 hex
	 * digits (is_container_id): no '/' or "..". The file is opened beneath
	 * the runtime's state dir all the same, a regular file only, never
	 * blocking (safefile.h); its read is capped at PROCMETA_STATE_MAX.
	 */
	n = snprintf(dir, sizeof(dir), "%s%s", r->runtime_root, src->dir);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return false;
	n = snprintf(rel, sizeof(rel), "%s%s", e->id, src->file);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return false;
	fd = safefile_open_beneath(dir, rel, SAFEFILE_NO_CAP);
	if (fd < 0)
		return false;
	err = read_fd_bounded(fd, PROCMETA_STATE_MAX, &buf, &len, &is_full);
	close(fd);
	if (err)
		return false;
	if (src->is_docker) {
		jpath[0] = "Name";
		if (procmeta_json_find_string(buf, len, jpath, 1, name, sizeof(name)) > 0) {
			docker_name(e, name);
			found = e->container_name[0] != '\0';
		}
	} else {
		jpath[0] = "annotations";
		for (i = 0; i < 3; i++) {
			if (!src->keys[i])
				continue;
			jpath[1] = src->keys[i];
			if (procmeta_json_find_string(buf, len, jpath, 2, fields[i],
						      sizeof(e->container_name)) > 0)
				found = true;
			else
				fields[i][0] = '\0';
		}
	}
	free(buf);
	return found;
}

/* A free entry: a new one below the cap, else CLOCK's victim (referenced ones get a 2nd chance). */
static struct name_entry *names_slot(struct procmeta_reader *r)
{
	struct name_entry *e;

	if (r->nr_slots < PROCMETA_NAME_CACHE_MAX) {
		e = calloc(1, sizeof(*e));
		if (e)
			r->slots[r->nr_slots++] = e;
		return e;
	}
	for (;;) {
		e = r->slots[r->hand];
		r->hand = (r->hand + 1) % PROCMETA_NAME_CACHE_MAX;
		if (!e->is_referenced)
			break;
		e->is_referenced = false;
	}
	hmap_remove(&r->names, &e->node);
	r->stats.name_cache_evictions++;
	memset(e, 0, sizeof(*e));
	return e;
}

static const struct name_entry *names_get(struct procmeta_reader *r, const char *id, enum rt rt)
{
	uint64_t h = hash_bytes(id, CONTAINER_ID_LEN, rt);
	const struct state_source *src;
	struct name_entry *e;
	struct hnode *n;
	size_t i;

	for (n = hmap_first(&r->names, h); n; n = hmap_next(n)) {
		e = container_of(n, struct name_entry, node);
		if (e->rt == rt && memcmp(e->id, id, CONTAINER_ID_LEN) == 0) {
			e->is_referenced = true;
			r->stats.name_cache_hits++;
			return e;
		}
	}
	r->stats.name_lookups++;
	e = names_slot(r);
	if (!e)
		return NULL;
	memcpy(e->id, id, CONTAINER_ID_LEN);
	e->rt = (uint8_t)rt;
	for (i = 0; i < 4 && (src = sources[rt][i]); i++) {
		if (names_from(r, src, e)) {
			e->found_rt = (uint8_t)src->rt;
			break;
		}
	}
	/* Unindexed (no memory for a bucket): the names are right, only not found next time. */
	(void)hmap_insert(&r->names, &e->node, h);
	return e;
}

static void names_fill(struct procmeta_reader *r, struct procmeta *m)
{
	const struct name_entry *e;
	enum rt rt = RT_NONE;
	int i;

	for (i = 0; i < RT__NR; i++)
		if (strcmp(m->container_runtime, rt_names[i]) == 0)
			rt = (enum rt)i;
	e = names_get(r, m->container_id, rt);
	if (!e || e->found_rt == RT_NONE)
		return;
	memcpy(m->container_name, e->container_name, sizeof(m->container_name));
	memcpy(m->pod_name, e->pod_name, sizeof(m->pod_name));
	memcpy(m->pod_namespace, e->pod_namespace, sizeof(m->pod_namespace));
	snprintf(m->container_runtime, sizeof(m->container_runtime), "%s", rt_names[e->found_rt]);
}

/* ---- the reader ---- */

static int copy_opt(char *dst, const char *src, const char *def)
{
	int n = snprintf(dst, ROOT_MAX, "%s", src ? src : def);

	return n < 0 || n >= ROOT_MAX ? -ENAMETOOLONG : 0;
}

int procmeta_reader_new(const struct procmeta_opts *o, struct procmeta_reader **out)
{
	struct procmeta_reader *r = NULL;
	char path[PATH_MAX], *buf = NULL;
	size_t len;
	bool is_full;
	int err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	hmap_init(&r->names);
	err = copy_opt(r->proc_root, o ? o->proc_root : NULL, "/proc");
	if (!err)
		err = copy_opt(r->runtime_root, o ? o->runtime_root : NULL, "");
	if (!err && o && o->cgroup2_mount)
		err = copy_opt(r->cgroup2_mount, o->cgroup2_mount, "");
	if (err)
		goto cleanup;
	if (!o || !o->cgroup2_mount) {
		snprintf(path, sizeof(path), "%s/self/mountinfo", r->proc_root);
		if (read_bounded(path, MOUNTINFO_MAX, &buf, &len, &is_full) ||
		    !procmeta_find_cgroup2_mount(buf, len, r->cgroup2_mount,
						 sizeof(r->cgroup2_mount)))
			pr_info("procmeta: no cgroup2 mount in %s: cgroup ids are not resolved",
				path);
		free(buf);
	}
	*out = r;
	r = NULL;
cleanup:
	procmeta_reader_free(r);
	return err;
}

void procmeta_reader_free(struct procmeta_reader *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nr_slots; i++)
		free(r->slots[i]);
	hmap_fini(&r->names);
	free(r);
}

/* The inode of <cgroup2 mount><path>: what bpf_get_current_cgroup_id() returns for it. */
static uint64_t cgroup_inode(const struct procmeta_reader *r, const char *p, size_t n)
{
	char full[PATH_MAX];
	size_t ml = strlen(r->cgroup2_mount), i = 0, s;
	struct stat st;

	if (!ml || ml + n + 1 > sizeof(full))
		return 0;
	/* Outside our cgroup namespace the kernel writes "/.." components: not under the mount. */
	while (i < n) {
		while (i < n && p[i] == '/')
			i++;
		s = i;
		while (i < n && p[i] != '/')
			i++;
		if (eq(p + s, i - s, ".."))
			return 0;
	}
	memcpy(full, r->cgroup2_mount, ml);
	memcpy(full + ml, p, n);
	full[ml + n] = '\0';
	if (stat(full, &st) || !S_ISDIR(st.st_mode))
		return 0;
	return (uint64_t)st.st_ino;
}

int procmeta_read(struct procmeta_reader *r, pid_t pid, struct procmeta *out)
{
	char path[PATH_MAX], *buf = NULL, *nl;
	const char *v2 = NULL;
	size_t len, v2_len = 0;
	bool is_full;
	int err, ret = 0;

	memset(out, 0, sizeof(*out));
	if (!r || pid <= 0)
		return -EINVAL;
	r->stats.reads++;

	snprintf(path, sizeof(path), "%s/%d/cgroup", r->proc_root, (int)pid);
	err = read_bounded(path, CGROUP_FILE_MAX, &buf, &len, &is_full);
	if (is_gone(err))
		goto vanished;
	if (err) {
		ret = err;
	} else {
		if (is_full) {
			/* Drop the line the cap cut: a shortened path would name another cgroup. */
			nl = memrchr(buf, '\n', len);
			len = nl ? (size_t)(nl - buf) + 1 : 0;
		}
		if (parse_cgroup_text(buf, len, out, &v2, &v2_len) == 0) {
			if (v2)
				out->cgroup_id = cgroup_inode(r, v2, v2_len);
			if (out->container_id[0])
				names_fill(r, out);
		}
	}
	free(buf);
	buf = NULL;

	snprintf(path, sizeof(path), "%s/%d/cmdline", r->proc_root, (int)pid);
	err = read_bounded(path, CMDLINE_READ_MAX, &buf, &len, &is_full);
	if (is_gone(err))
		goto vanished;
	if (err) {
		if (!ret)
			ret = err;
	} else {
		procmeta_format_cmdline(buf, len, is_full, out->cmdline, sizeof(out->cmdline));
	}
	free(buf);
	return ret;

vanished:
	free(buf);
	r->stats.vanished++;
	return -ESRCH;
}

void procmeta_get_stats(const struct procmeta_reader *r, struct procmeta_stats *out)
{
	*out = r->stats;
}
