// SPDX-License-Identifier: Apache-2.0
#include "labelset.h"

#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "procmeta.h"

struct label_set *label_set_build(uint32_t pid, const char *comm, const char *exe,
				  const struct procmeta *m)
{
	const char *vals[LABEL__MAX] = {0};
	size_t strs = 0, nr = 1;
	struct label_set *ls;
	char *p;

	vals[LABEL_COMM] = comm;
	vals[LABEL_EXE] = exe;
	if (m) {
		vals[LABEL_CMDLINE] = m->cmdline;
		vals[LABEL_CGROUP] = m->cgroup;
		vals[LABEL_CONTAINER_ID] = m->container_id;
		vals[LABEL_CONTAINER_RUNTIME] = m->container_runtime;
		vals[LABEL_POD_UID] = m->pod_uid;
		vals[LABEL_POD] = m->pod_name;
		vals[LABEL_NAMESPACE] = m->pod_namespace;
		vals[LABEL_CONTAINER] = m->container_name;
		vals[LABEL_UNIT] = m->unit;
	}
	/*
	 * Every value is the process's to choose (comm, exe, cmdline, cgroup names,
	 * names in runtime state files): repaired to valid UTF-8 here, where they
	 * become labels, since one invalid byte makes a scrape or a profile unreadable.
	 */
	for (int k = 0; k < LABEL__MAX; k++) {
		if (k == LABEL_PID || !vals[k] || !*vals[k])
			continue;
		strs += utf8_sanitized_len(vals[k], strlen(vals[k])) + 1;
		nr++;
	}
	ls = malloc(sizeof(*ls) + nr * sizeof(ls->l[0]) + strs);
	if (!ls)
		return NULL;
	ls->bytes = sizeof(*ls) + nr * sizeof(ls->l[0]) + strs;
	ls->nr = 0;
	p = (char *)&ls->l[nr];
	ls->l[ls->nr++] = (struct pprof_label){.key = label_key_name(LABEL_PID), .num = pid};
	for (int k = 0; k < LABEL__MAX; k++) {
		size_t len;

		if (k == LABEL_PID || !vals[k] || !*vals[k])
			continue;
		len = utf8_sanitize(vals[k], strlen(vals[k]), p, strs) + 1;
		ls->l[ls->nr++] =
		    (struct pprof_label){.key = label_key_name((enum label_key)k), .str = p};
		p += len;
		strs -= len;
	}
	return ls;
}
