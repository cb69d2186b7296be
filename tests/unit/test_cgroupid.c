// SPDX-License-Identifier: Apache-2.0
/* Cgroup paths to v2 ids: finding the cgroup2 mount, resolving both path forms, errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ci.h"

#include "cgroupid.h"

static int mount_from(const char *text, char *buf, size_t size)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	assert_non_null(f);
	err = cgroup_v2_mount_from(f, buf, size);
	fclose(f);
	return err;
}

static void test_mountinfo(void **state)
{
	/* Debian's hybrid layout: v1 controllers, cgroup2 at .../unified, optional fields. */
	static const char hybrid[] =
	    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu\n"
	    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:4 master:1 - cgroup2 "
	    "cgroup2 rw,nsdelegate\n";
	static const char pure[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "25 22 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
	static const char escaped[] = "25 22 0:22 / /mnt/my\\040cg\\134x rw - cgroup2 none rw\n";
	static const char v1_only[] = "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
	char buf[256];

	assert_int_equal(mount_from(hybrid, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");
	assert_int_equal(mount_from(pure, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup");
	assert_int_equal(mount_from(escaped, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/mnt/my cg\\x");
	assert_int_equal(mount_from(v1_only, buf, sizeof(buf)), -ENODEV);
	assert_int_equal(mount_from("", buf, sizeof(buf)), -ENODEV);
	assert_int_equal(mount_from(pure, buf, 8), -ENAMETOOLONG);
}

/* On this machine's real cgroup2 mount, when there is one (reading it needs no privileges). */
static void test_resolve(void **state)
{
	char mnt[2048], path[4096], abs[4096];
	uint64_t id = 0, id2 = 0;
	struct stat st;

	if (cgroup_v2_mount(mnt, sizeof(mnt))) {
		/* Without cgroup2, a relative path says so. */
		assert_int_equal(cgroup_path_to_id("/x.slice", &id), -ENODEV);
		skip_or_fail("no cgroup2 mount here");
	}
	assert_int_equal(stat(mnt, &st), 0);
	/* "/" as in /proc/PID/cgroup is the root cgroup, the mount point itself. */
	assert_int_equal(cgroup_path_resolve("/", abs, sizeof(abs), &id), 0);
	assert_string_equal(abs, mnt);
	assert_int_equal(id, (uint64_t)st.st_ino);
	assert_int_equal(cgroup_path_to_id(mnt, &id2), 0);
	assert_int_equal(id2, id);

	assert_int_equal(cgroup_path_resolve("/stackd-no-such.slice", abs, sizeof(abs), &id),
			 -ENOENT);
	snprintf(path, sizeof(path), "%s/stackd-no-such.slice", mnt);
	assert_string_equal(abs, path);
	snprintf(path, sizeof(path), "%s/cgroup.procs", mnt);
	assert_int_equal(cgroup_path_to_id(path, &id), -ENOTDIR);
	assert_int_equal(cgroup_path_to_id("relative", &id), -EINVAL);
	/* Under /sys/fs/cgroup but not cgroup2 (the tmpfs of a hybrid layout, or absent). */
	if (strcmp(mnt, "/sys/fs/cgroup") != 0) {
		int err = cgroup_path_to_id("/sys/fs/cgroup", &id);

		assert_true(err == -EMEDIUMTYPE || err == -ENOENT);
	}
	assert_non_null(strstr(cgroup_strerror(-EMEDIUMTYPE), "cgroup v2"));
	assert_non_null(strstr(cgroup_strerror(-ENOENT), "no such cgroup"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mountinfo),
	    cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
