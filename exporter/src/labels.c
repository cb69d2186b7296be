// SPDX-License-Identifier: Apache-2.0
#include "exporter/labels.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

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

	/* Not process labels but part of what an off-CPU or wall sample says: always kept. */
	if (k == LABEL__MAX)
		return strcmp(key, "offcpu_reason") == 0 || strcmp(key, "tid") == 0;
	return ls->mask & (1u << k);
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
