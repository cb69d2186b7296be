// SPDX-License-Identifier: Apache-2.0
#include "common/u64map.h"

#include <errno.h>
#include <stdlib.h>

void u64map_init(struct u64map *m)
{
	m->slots = NULL;
	m->mask = 0;
	m->nr = 0;
}

void u64map_fini(struct u64map *m)
{
	free(m->slots);
	u64map_init(m);
}

static void place(struct u64map_slot *slots, uint32_t mask, const struct u64map_slot *s)
{
	uint32_t j;

	for (j = (uint32_t)hash_u64(s->key) & mask; slots[j].val; j = (j + 1) & mask)
		;
	slots[j] = *s;
}

/* Double the slots (or make the first 1024) and re-insert. */
static int grow(struct u64map *m)
{
	uint32_t nr = m->slots ? (m->mask + 1) * 2 : 1024;
	struct u64map_slot *ns;

	if (m->slots && m->mask + 1 > UINT32_MAX / 4)
		return -ENOMEM;
	ns = calloc(nr, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (uint32_t i = 0; m->slots && i <= m->mask; i++)
		if (m->slots[i].val)
			place(ns, nr - 1, &m->slots[i]);
	free(m->slots);
	m->slots = ns;
	m->mask = nr - 1;
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, uint32_t val)
{
	int err;

	if (!val)
		return -EINVAL;
	if (!m->slots || (uint64_t)(m->nr + 1) * 2 > (uint64_t)m->mask + 1) {
		err = grow(m);
		if (err)
			return err;
	}
	place(m->slots, m->mask, &(struct u64map_slot){.key = key, .val = val});
	m->nr++;
	return 0;
}
