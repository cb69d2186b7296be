// SPDX-License-Identifier: Apache-2.0
/*
 * Safe opens of files a profiled process controls (see safefile.h).
 *
 * Two steps, so that nothing but a regular file is ever opened for reading:
 * resolve the path to an O_PATH handle (which opens nothing: no FIFO wait,
 * no device open side effect), check that handle with fstat(), then reopen
 * the very same inode through /proc/self/fd/N.
 */
#include "common/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* openat2 may fail with EAGAIN when a rename races a ".." walk: retry a few times. */
#define OPENAT2_RETRIES 8
#define READ_CHUNK	16384

static _Atomic uint64_t refused[SAFEFILE__NR];
static bool force_walk;

static const char *const refusal_names[SAFEFILE__NR] = {
    [SAFEFILE_NOT_REGULAR] = "not_regular", [SAFEFILE_TOO_BIG] = "too_big",
    [SAFEFILE_ESCAPE] = "escape",	    [SAFEFILE_LINK] = "link",
    [SAFEFILE_BAD_PATH] = "bad_path",
};

void safefile_count(enum safefile_refusal why)
{
	if ((unsigned)why < SAFEFILE__NR)
		atomic_fetch_add_explicit(&refused[why], 1, memory_order_relaxed);
}

void safefile_refused(uint64_t out[SAFEFILE__NR])
{
	for (int i = 0; i < SAFEFILE__NR; i++)
		out[i] = atomic_load_explicit(&refused[i], memory_order_relaxed);
}

const char *safefile_refusal_name(enum safefile_refusal why)
{
	return (unsigned)why < SAFEFILE__NR ? refusal_names[why] : "unknown";
}

void safefile_test_force_walk(bool on)
{
	force_walk = on;
}

/* A refusal: count it and return its errno. */
static int refuse(enum safefile_refusal why, int err)
{
	safefile_count(why);
	return err;
}

/*
 * Before openat2: walk @path one component at a time from @dirfd with
 * O_NOFOLLOW, refusing every symlink and "..". Stricter than RESOLVE_IN_ROOT
 * (a container's own relative symlinks are refused too), never looser.
 */
static int walk_opath(int dirfd, const char *path)
{
	char buf[PATH_MAX], *comp, *next;
	struct stat st;
	int cur = dirfd, fd = -1, err = 0;

	if (strlen(path) >= sizeof(buf))
		return refuse(SAFEFILE_BAD_PATH, -ENAMETOOLONG);
	strcpy(buf, path);
	for (comp = buf; comp; comp = next) {
		next = strchr(comp, '/');
		if (next)
			*next++ = '\0';
		if (!*comp || !strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			err = refuse(SAFEFILE_BAD_PATH, -EINVAL);
			goto cleanup;
		}
		fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			goto cleanup;
		}
		if (cur != dirfd)
			close(cur);
		cur = fd;
		fd = -1;
		if (fstat(cur, &st)) {
			err = -errno;
			goto cleanup;
		}
		if (S_ISLNK(st.st_mode)) {
			err = refuse(SAFEFILE_LINK, -ELOOP);
			goto cleanup;
		}
	}
	if (cur == dirfd)
		return refuse(SAFEFILE_BAD_PATH, -EINVAL); /* nothing but "/" and "." */
	return cur;
cleanup:
	if (cur != dirfd)
		close(cur);
	return err;
}

/* Resolve @path under @flags to an O_PATH fd, or -errno (refusals counted). */
static int resolve_opath(int dirfd, const char *path, unsigned flags)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC};
	bool is_scoped = flags & (SAFEFILE_IN_ROOT | SAFEFILE_BENEATH | SAFEFILE_NO_SYMLINKS);
	int fd = -1, i;

	if (!(flags & SAFEFILE_MAGICLINKS_OK))
		how.resolve |= RESOLVE_NO_MAGICLINKS;
	if (flags & SAFEFILE_IN_ROOT)
		how.resolve |= RESOLVE_IN_ROOT;
	if (flags & SAFEFILE_BENEATH)
		how.resolve |= RESOLVE_BENEATH;
	if (flags & SAFEFILE_NO_SYMLINKS)
		how.resolve |= RESOLVE_NO_SYMLINKS;
	errno = ENOSYS;
	for (i = 0; !force_walk && i < OPENAT2_RETRIES; i++) {
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOSYS:
	case E2BIG:
		break; /* no openat2: walk below */
	case EAGAIN:
	case EXDEV:
		return refuse(SAFEFILE_ESCAPE, -EXDEV);
	case ELOOP:
		return refuse(SAFEFILE_LINK, -ELOOP);
	default:
		return -errno;
	}
	if (is_scoped)
		return walk_opath(dirfd, path);
	/* A host path: symlinks are the host's own (e.g. /usr/lib/debug/.build-id links). */
	fd = openat(dirfd, path, O_PATH | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

int safefile_openat(int dirfd, const char *path, unsigned flags, uint64_t max_size)
{
	char self[64];
	struct stat st, st2;
	int opath = -1, fd = -1, err;

	if (!path || !*path)
		return refuse(SAFEFILE_BAD_PATH, -EINVAL);
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return refuse(SAFEFILE_BAD_PATH, -ENAMETOOLONG);
	if ((flags & SAFEFILE_BENEATH) && path[0] == '/')
		return refuse(SAFEFILE_ESCAPE, -EXDEV);
	opath = resolve_opath(dirfd, path, flags);
	if (opath < 0)
		return opath;
	if (fstat(opath, &st)) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		err = refuse(SAFEFILE_NOT_REGULAR, -ENODEV);
		goto cleanup;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max_size) {
		err = refuse(SAFEFILE_TOO_BIG, -EFBIG);
		goto cleanup;
	}
	/* Reopen the inode the handle holds: no second path walk that could be raced. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", opath);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	if (fstat(fd, &st2)) {
		err = -errno;
		goto cleanup;
	}
	if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino || !S_ISREG(st2.st_mode)) {
		err = refuse(SAFEFILE_NOT_REGULAR, -ENODEV);
		goto cleanup;
	}
	close(opath);
	return fd;
cleanup:
	if (fd >= 0)
		close(fd);
	close(opath);
	return err;
}

int safefile_open(const char *path, uint64_t max_size)
{
	return safefile_openat(AT_FDCWD, path, 0, max_size);
}

/* Open directory @dir (a path the agent built, e.g. "/proc/PID/root") and @path within it. */
static int open_in_dir(const char *dir, const char *path, unsigned flags, uint64_t max_size)
{
	int dfd, fd;

	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = safefile_openat(dfd, path, flags, max_size);
	close(dfd);
	return fd;
}

int safefile_open_in_root(const char *root, const char *path, uint64_t max_size)
{
	return open_in_dir(root, path, SAFEFILE_IN_ROOT, max_size);
}

int safefile_open_beneath(const char *dir, const char *path, uint64_t max_size)
{
	return open_in_dir(dir, path, SAFEFILE_BENEATH, max_size);
}

int safefile_read_all(int fd, size_t max, char **out, size_t *out_len)
{
	size_t cap = max < READ_CHUNK ? max : READ_CHUNK, len = 0;
	char *buf = NULL, *nb, probe;
	ssize_t got;
	int err = 0;

	*out = NULL;
	*out_len = 0;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap == max) {
				/* Full: one byte more means the file is over its cap. */
				do {
					got = pread(fd, &probe, 1, (off_t)len);
				} while (got < 0 && errno == EINTR);
				if (got > 0)
					err = refuse(SAFEFILE_TOO_BIG, -EFBIG);
				else if (got < 0)
					err = -errno;
				break;
			}
			cap = cap > max / 2 ? max : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
		}
		got = pread(fd, buf + len, cap - len, (off_t)len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			break;
		}
		if (!got)
			break;
		len += (size_t)got;
	}
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}
