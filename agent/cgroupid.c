// SPDX-License-Identifier: Apache-2.0
#include "cgroupid.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "procmeta.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* Where cgroup file systems live by convention, v1 and v2 alike. */
#define CGROUP_FS_ROOT "/sys/fs/cgroup"

int cgroup_v2_mount_from(FILE *mountinfo, char *buf, size_t size)
{
	/* mountinfo is a few KiB; a bound keeps a hostile one from costing more. */
	enum { MAX = 1 << 20 };
	char *text = malloc(MAX), mnt[4096];
	size_t len;
	int err;

	if (!text)
		return -ENOMEM;
	len = fread(text, 1, MAX, mountinfo);
	if (ferror(mountinfo))
		err = -EIO;
	else if (!procmeta_find_cgroup2_mount(text, len, mnt, sizeof(mnt)))
		err = -ENODEV;
	else if (strlen(mnt) >= size)
		err = -ENAMETOOLONG;
	else
		err = 0;
	if (!err)
		memcpy(buf, mnt, strlen(mnt) + 1);
	free(text);
	return err;
}

int cgroup_v2_mount(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err;

	if (!f)
		return -errno;
	err = cgroup_v2_mount_from(f, buf, size);
	fclose(f);
	return err;
}

/* Is @path @dir or below it (whole components only)? */
static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int cgroup_path_resolve(const char *path, char *abs, size_t abs_size, uint64_t *id)
{
	char mnt[4096], full[4096];
	struct statfs sfs;
	struct stat st;
	int err, n;

	if (abs && abs_size)
		abs[0] = '\0';
	if (!path || path[0] != '/')
		return -EINVAL;
	err = cgroup_v2_mount(mnt, sizeof(mnt));
	if (err && err != -ENODEV)
		return err;
	if ((!err && is_under(path, mnt)) || is_under(path, CGROUP_FS_ROOT)) {
		/* A file system path; one under /sys/fs/cgroup but not cgroup2 fails below. */
		n = snprintf(full, sizeof(full), "%s", path);
	} else {
		/* As in /proc/PID/cgroup: relative to the cgroup2 mount. */
		if (err)
			return err;
		n = snprintf(full, sizeof(full), "%s%s", mnt, strcmp(path, "/") ? path : "");
	}
	if (n < 0 || (size_t)n >= sizeof(full))
		return -ENAMETOOLONG;
	if (abs && abs_size)
		snprintf(abs, abs_size, "%s", full);

	if (stat(full, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (statfs(full, &sfs))
		return -errno;
	if ((unsigned long)sfs.f_type != CGROUP2_SUPER_MAGIC)
		return -EMEDIUMTYPE;
	/*
	 * bpf_get_current_cgroup_id() returns the kernfs node id of the task's
	 * cgroup2 cgroup, and kernfs makes that id the directory's inode number
	 * (64-bit ids since Linux 5.5).
	 */
	*id = (uint64_t)st.st_ino;
	return 0;
}

int cgroup_path_to_id(const char *path, uint64_t *id)
{
	return cgroup_path_resolve(path, NULL, 0, id);
}

const char *cgroup_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "no such cgroup (the directory does not exist)";
	case -ENOTDIR:
		return "not a directory, so not a cgroup";
	case -EMEDIUMTYPE:
		return "not a cgroup v2 directory (a cgroup v1 hierarchy? give the path under the "
		       "cgroup2 mount, or as /proc/PID/cgroup shows it on its \"0::\" line)";
	case -ENODEV:
		return "no cgroup2 file system is mounted (see /proc/self/mountinfo); the filter "
		       "needs cgroup v2";
	case -EINVAL:
		return "a cgroup path starts with /";
	case -ENAMETOOLONG:
		return "path too long";
	default:
		return strerror(-err);
	}
}
