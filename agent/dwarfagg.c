// SPDX-License-Identifier: Apache-2.0
#include "dwarfagg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "stackd.h"

struct entry {
	struct hnode node;
	struct entry *next_all; /* every entry, for flushing */
	uint32_t tgid, pid;
	uint64_t start_boottime;
	uint64_t count;
	uint32_t unr, knr;
	uint64_t ips[]; /* unr user ips, then knr kernel ips */
};

struct dwarfagg {
	struct hmap map;
	struct entry *all;
	size_t nr, max_entries;
};

int dwarfagg_new(size_t max_entries, struct dwarfagg **out)
{
	struct dwarfagg *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	hmap_init(&d->map);
	d->max_entries = max_entries;
	*out = d;
	return 0;
}

static void clear(struct dwarfagg *d)
{
	while (d->all) {
		struct entry *e = d->all;

		d->all = e->next_all;
		free(e);
	}
	hmap_fini(&d->map);
	hmap_init(&d->map);
	d->nr = 0;
}

void dwarfagg_free(struct dwarfagg *d)
{
	if (!d)
		return;
	clear(d);
	free(d);
}

int dwarfagg_add(struct dwarfagg *d, uint32_t tgid, uint32_t pid, uint64_t start_boottime,
		 const uint64_t *uips, uint32_t unr, const uint64_t *kips, uint32_t knr)
{
	uint64_t h = hash_combine(hash_combine(hash_u64(tgid), pid), start_boottime);
	struct hnode *n;
	struct entry *e;

	/* The caller clamps both to what one record can hold; anything more is a bug, not data. */
	if (unr > STACKD_MAX_STACK_DEPTH || knr > STACKD_MAX_STACK_DEPTH)
		return -EINVAL;
	h = hash_bytes(uips, unr * sizeof(*uips), h);
	h = hash_bytes(kips, knr * sizeof(*kips), h);
	for (n = hmap_first(&d->map, h); n; n = hmap_next(n)) {
		e = container_of(n, struct entry, node);
		if (e->tgid == tgid && e->pid == pid && e->start_boottime == start_boottime &&
		    e->unr == unr && e->knr == knr && !memcmp(e->ips, uips, unr * sizeof(*uips)) &&
		    !memcmp(e->ips + unr, kips, knr * sizeof(*kips))) {
			e->count++;
			return 0;
		}
	}
	if (d->nr >= d->max_entries)
		return -ENOSPC;
	e = calloc(1, sizeof(*e) + (unr + knr) * sizeof(uint64_t));
	if (!e)
		return -ENOMEM;
	e->tgid = tgid;
	e->pid = pid;
	e->start_boottime = start_boottime;
	e->count = 1;
	e->unr = unr;
	e->knr = knr;
	memcpy(e->ips, uips, unr * sizeof(*uips));
	memcpy(e->ips + unr, kips, knr * sizeof(*kips));
	if (hmap_insert(&d->map, &e->node, h)) {
		free(e);
		return -ENOMEM;
	}
	e->next_all = d->all;
	d->all = e;
	d->nr++;
	return 0;
}

void dwarfagg_flush(struct dwarfagg *d, void (*cb)(void *ctx, const struct sample *s), void *ctx)
{
	for (struct entry *e = d->all; e; e = e->next_all) {
		struct sample s = {
		    .tgid = e->tgid,
		    .pid = e->pid,
		    .start_boottime = e->start_boottime,
		    .count = e->count,
		    .ustate = e->unr ? SAMPLE_STACK_OK : SAMPLE_STACK_NONE,
		    .uips = e->unr ? e->ips : NULL,
		    .nr_uips = e->unr,
		    .kstate = e->knr ? SAMPLE_STACK_OK : SAMPLE_STACK_NONE,
		    .kips = e->knr ? e->ips + e->unr : NULL,
		    .nr_kips = e->knr,
		    .is_dwarf = true,
		};

		cb(ctx, &s);
	}
	clear(d);
}
