/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cgroup v2 paths to the ids the BPF side compares against
 * (bpf_get_current_cgroup_id()): the inode number of the cgroup's directory
 * in the cgroup2 file system (kernfs node id, 64-bit, since Linux 5.5).
 *
 * A path is either a file system path (/sys/fs/cgroup/..., on hybrid systems
 * /sys/fs/cgroup/unified/..., or anything under the cgroup2 mount) or a path
 * as /proc/PID/cgroup shows it ("/system.slice/foo.service"), which is taken
 * relative to the cgroup2 mount found in /proc/self/mountinfo.
 *
 * Nothing here logs: errors are -errno, and cgroup_strerror() says what they
 * mean for a cgroup path, so the caller can log once with its own context.
 */
#ifndef STACKD_AGENT_CGROUPID_H
#define STACKD_AGENT_CGROUPID_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Mount point of the first cgroup2 file system in /proc/self/mountinfo, into
 * @buf. Returns 0, -ENODEV when none is mounted, -ENAMETOOLONG, or -errno.
 */
int cgroup_v2_mount(char *buf, size_t size);
/* The same, read from an open mountinfo stream (exposed for tests). */
int cgroup_v2_mount_from(FILE *mountinfo, char *buf, size_t size);

/*
 * Resolve @path to its cgroup v2 id. @abs (may be NULL) receives the file
 * system path that was looked at, also on failure when it could be built.
 * Returns 0 or:
 *   -ENOENT       no such directory
 *   -ENOTDIR      it is not a directory
 *   -EMEDIUMTYPE  the directory is not in a cgroup2 file system (cgroup v1?)
 *   -ENODEV       a path relative to the cgroup2 mount, and none is mounted
 *   -ENAMETOOLONG, or another -errno from stat()/statfs()
 */
int cgroup_path_resolve(const char *path, char *abs, size_t abs_size, uint64_t *id);
int cgroup_path_to_id(const char *path, uint64_t *id);

/* What an error of cgroup_path_resolve() means, for a message. Static string. */
const char *cgroup_strerror(int err);

#endif
