// SPDX-License-Identifier: Apache-2.0
/* Probe results per object file: see objprobe.h. */
#include "objprobe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct slot {
	uint64_t key[5]; /* file identity (procmap_file_key) */
	uint64_t seq;	 /* when it was probed: the oldest is replaced */
	int err;
};

struct objprobe {
	char *proc_root;
	objprobe_fn *probe;
	size_t cap, nr, size;
	uint64_t seq, probes;
	unsigned char *slots; /* cap of (struct slot + size bytes) */
};

static struct slot *slot_at(const struct objprobe *op, size_t i)
{
	return (struct slot *)(op->slots + i * (sizeof(struct slot) + op->size));
}

static void *result_of(struct slot *s)
{
	return s + 1;
}

int objprobe_new(const char *proc_root, size_t nr, size_t size, objprobe_fn *probe,
		 struct objprobe **out)
{
	struct objprobe *op;

	*out = NULL;
	if (!nr || !probe || size % 8)
		return -EINVAL;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->proc_root = strdup(proc_root ? proc_root : "/proc");
	op->slots = calloc(nr, sizeof(struct slot) + size);
	if (!op->proc_root || !op->slots) {
		objprobe_free(op);
		return -ENOMEM;
	}
	op->cap = nr;
	op->size = size;
	op->probe = probe;
	*out = op;
	return 0;
}

void objprobe_free(struct objprobe *op)
{
	if (!op)
		return;
	free(op->slots);
	free(op->proc_root);
	free(op);
}

static struct slot *find(const struct objprobe *op, const uint64_t key[5])
{
	for (size_t i = 0; i < op->nr; i++)
		if (!memcmp(slot_at(op, i)->key, key, sizeof(slot_at(op, i)->key)))
			return slot_at(op, i);
	return NULL;
}

const void *objprobe_get(struct objprobe *op, uint32_t tgid, const struct procmap *m, int *err,
			 bool *is_new)
{
	struct procmap_file id;
	struct slot *slot;
	struct stat st;
	uint64_t key[5];
	int fd;

	*is_new = false;
	if (m->has_file) {
		procmap_file_key(&m->file, key);
		slot = find(op, key);
		if (slot) {
			*err = slot->err;
			return result_of(slot);
		}
	}
	fd = procmaps_open_object(op->proc_root, (pid_t)tgid, m);
	if (fd < 0)
		return NULL;
	if (!m->has_file) {
		if (fstat(fd, &st)) {
			close(fd);
			return NULL;
		}
		procmap_file_of_stat(&st, &id);
		procmap_file_key(&id, key);
		slot = find(op, key);
		if (slot) {
			close(fd);
			*err = slot->err;
			return result_of(slot);
		}
	}
	slot = slot_at(op, 0);
	if (op->nr < op->cap) {
		slot = slot_at(op, op->nr++);
	} else {
		for (size_t i = 1; i < op->cap; i++)
			if (slot_at(op, i)->seq < slot->seq)
				slot = slot_at(op, i);
	}
	memset(slot, 0, sizeof(*slot) + op->size);
	memcpy(slot->key, key, sizeof(key));
	slot->seq = ++op->seq;
	op->probes++;
	slot->err = op->probe(fd, result_of(slot));
	close(fd);
	*err = slot->err;
	*is_new = true;
	return result_of(slot);
}

uint64_t objprobe_probes(const struct objprobe *op)
{
	return op ? op->probes : 0;
}
