/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process labels and the filters over them.
 *
 * Every sample the agent aggregates carries the full label set of its
 * process (pid, comm, exe, cmdline, cgroup, container and Kubernetes
 * metadata, systemd unit; built by agent/labelset.c under the keys named
 * here), so any window can be filtered on any of them later.
 *
 * What a served profile shows is --profiling.labels: the other keys are
 * dropped when the profile is built and samples that become equal are
 * summed, so the default output stays bounded (no cmdline, no cgroup path).
 *
 * Filters come from query arguments of the profile endpoints (untrusted
 * input: bounded, validated, clear errors), parsed by exporter/query.h.
 */
#ifndef STACKD_EXPORTER_LABELS_H
#define STACKD_EXPORTER_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/pprof.h"

enum label_key {
	LABEL_PID,
	LABEL_COMM,
	LABEL_EXE,
	LABEL_CMDLINE,
	LABEL_CGROUP,
	LABEL_CONTAINER_ID,
	LABEL_CONTAINER_RUNTIME,
	LABEL_POD_UID,
	LABEL_POD,
	LABEL_NAMESPACE,
	LABEL_CONTAINER,
	LABEL_UNIT,
	LABEL__MAX,
};

/* The pprof label key of @k ("pid", "container_id", ...). */
const char *label_key_name(enum label_key k);
/* LABEL__MAX when @name is no label key. */
enum label_key label_key_of(const char *name);

/* The string value of label @key among @labels, or "" when there is none. */
const char *label_str(const struct pprof_label *labels, size_t nr, const char *key);

/* Comma-separated keys to a bit mask (1u << enum label_key); -EINVAL on an unknown key. */
int labels_parse_set(const char *list, uint32_t *mask);

/*
 * Where a profile endpoint's samples may come from: all set criteria must
 * hold. Set from query arguments by exporter/query.h.
 */
#define FILTER_MAX_PIDS 64
struct label_filter {
	uint32_t pids[FILTER_MAX_PIDS]; /* any of them */
	size_t nr_pids;
	char comm[64];	     /* shell glob on comm */
	char container[128]; /* container id prefix, or container name */
	char cgroup[512];    /* cgroup path, or an ancestor of it */
	char unit[128];	     /* shell glob on the systemd unit */
};

bool label_filter_active(const struct label_filter *f);
/* Does a sample with these labels pass? */
bool label_filter_match(const struct label_filter *f, const struct pprof_label *labels, size_t nr);

/*
 * A pprof_select over @f (NULL or inactive: every sample) that keeps the
 * label keys in @mask. @sel->ctx points at @ls, which must outlive @sel.
 */
struct label_select {
	const struct label_filter *filter;
	uint32_t mask;
};
void label_select_init(struct pprof_select *sel, struct label_select *ls,
		       const struct label_filter *f, uint32_t mask);

#endif
