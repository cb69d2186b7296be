/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a runtime's probe found in an object file, remembered per file
 * (agent/pyprocs.c for CPython, agent/javaprocs.c for HotSpot): a fleet of
 * workers of one interpreter or JVM costs one probe.
 *
 * Files are told apart by their identity (procmap_file_key: device, inode,
 * size, times), from the maps snapshot when it has it, else from the opened
 * file's own stat, never from a (device, inode) pair alone. The cache holds
 * @nr results of @size bytes; when full, the least recently probed is
 * replaced. The file is opened with procmaps_open_object() (inside the
 * process's root, never blocking).
 *
 * Owned by one thread (the drain); not thread-safe.
 */
#ifndef STACKD_AGENT_OBJPROBE_H
#define STACKD_AGENT_OBJPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolize/procmaps.h"

/* Fills @out (@size bytes, zeroed first) from the file @fd: 0 or -errno, kept with it. */
typedef int objprobe_fn(int fd, void *out);

struct objprobe;

int objprobe_new(const char *proc_root, size_t nr, size_t size, objprobe_fn *probe,
		 struct objprobe **out);
void objprobe_free(struct objprobe *op);

/*
 * The probe of @m's file (a mapping of process @tgid): its result, borrowed
 * until the next call, with the probe's return in *@err; *@is_new when this
 * call probed it. NULL when the file could not be opened (nothing cached).
 */
const void *objprobe_get(struct objprobe *op, uint32_t tgid, const struct procmap *m, int *err,
			 bool *is_new);
/* Files probed so far (cache misses). */
uint64_t objprobe_probes(const struct objprobe *op);

#endif
