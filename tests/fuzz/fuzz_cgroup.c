// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer: the pure parsers of procmeta on arbitrary bytes: a whole
 * /proc/PID/cgroup text, one cgroup path, the JSON string scanner that reads
 * runtime state files, and the cmdline formatter; then the invariants the
 * labels rely on.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "procmeta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t sz)
{
	if (!memchr(s, '\0', sz))
		__builtin_trap();
}

/* Valid UTF-8 without C0/C1 controls or DEL: what may go into a label. */
static bool is_clean_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, need, k;

	while (s[i]) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			need = 2;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			need = 3;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			need = 4;
		else
			return false;
		if (need == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)
			return false;
		if ((s[i] == 0xe0 && s[i + 1] < 0xa0) || (s[i] == 0xed && s[i + 1] > 0x9f) ||
		    (s[i] == 0xf0 && s[i + 1] < 0x90) || (s[i] == 0xf4 && s[i + 1] > 0x8f))
			return false;
		for (k = 1; k < need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += need;
	}
	return true;
}

static bool is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void check_meta(const struct procmeta *m)
{
	size_t n;

	check_str(m->cgroup, sizeof(m->cgroup));
	check_str(m->container_id, sizeof(m->container_id));
	check_str(m->container_runtime, sizeof(m->container_runtime));
	check_str(m->pod_uid, sizeof(m->pod_uid));
	check_str(m->unit, sizeof(m->unit));
	n = strlen(m->container_id);
	if ((n != 0 && n != 64) || !is_hex(m->container_id, n))
		__builtin_trap();
	if (m->container_runtime[0] && !n)
		__builtin_trap();
	if (m->is_conmon && !n)
		__builtin_trap();
	n = strlen(m->pod_uid);
	if (n != 0 && n != 32 && n != 36)
		__builtin_trap();
	if (strchr(m->pod_uid, '_') || strchr(m->unit, '/') || strchr(m->unit, ' '))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ann[2] = {"annotations", "io.kubernetes.pod.name"};
	static const char *const name[1] = {"Name"};
	const char *text = (const char *)data;
	struct procmeta m;
	char out[128], tiny[5], *s;
	size_t n;
	int r;

	memset(&m, 0, sizeof(m));
	r = procmeta_parse_cgroup_file(text, size, &m);
	if (r != 0 && r != -EINVAL)
		__builtin_trap();
	if (r == 0 && m.cgroup[0] != '/')
		__builtin_trap();
	if (r != 0 && (m.cgroup[0] || m.container_id[0]))
		__builtin_trap();
	check_meta(&m);

	/* The same bytes as one path (up to the first NUL). */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	procmeta_parse_cgroup_path(s, &m);
	check_meta(&m);
	free(s);

	/* As a runtime state file. */
	r = procmeta_json_find_string(text, size, ann, 2, out, sizeof(out));
	if (r >= 0 && ((size_t)r != strlen(out) || !is_clean_utf8(out)))
		__builtin_trap();
	if (r < 0 && r != -ENOENT && r != -EINVAL)
		__builtin_trap();
	r = procmeta_json_find_string(text, size, name, 1, tiny, sizeof(tiny));
	if (r >= 0 && ((size_t)r != strlen(tiny) || r >= (int)sizeof(tiny) || !is_clean_utf8(tiny)))
		__builtin_trap();

	/* As a cmdline, whole and as the start of a longer one, into two sizes. */
	n = procmeta_format_cmdline(text, size, false, m.cmdline, sizeof(m.cmdline));
	if (n != strlen(m.cmdline) || n >= sizeof(m.cmdline) || !is_clean_utf8(m.cmdline))
		__builtin_trap();
	n = procmeta_format_cmdline(text, size, true, tiny, sizeof(tiny));
	if (n != strlen(tiny) || !is_clean_utf8(tiny) || (n >= 3 && strcmp(tiny + n - 3, "...")))
		__builtin_trap();
	return 0;
}
