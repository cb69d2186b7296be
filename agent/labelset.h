/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The label set of one process, built where the process is read (the process
 * table, drain thread): pid, comm, exe and what procmeta found (cgroup,
 * container and Kubernetes metadata, systemd unit), under the keys of
 * exporter/labels.h. Every sample carries its process's whole set, so what
 * is served can later be filtered on any of them.
 */
#ifndef STACKD_AGENT_LABELSET_H
#define STACKD_AGENT_LABELSET_H

#include <stddef.h>
#include <stdint.h>

#include "exporter/labels.h"
#include "exporter/pprof.h"

/*
 * The full label set of one process, in one allocation (the strings follow
 * the array; keys are label_key_name()'s static strings). Empty values are
 * left out. Freed with free().
 */
struct label_set {
	size_t bytes;
	size_t nr;
	struct pprof_label l[];
};

struct procmeta;
/* @m may be NULL (a process that vanished before it could be read): pid, comm and exe only. */
struct label_set *label_set_build(uint32_t pid, const char *comm, const char *exe,
				  const struct procmeta *m);

#endif
