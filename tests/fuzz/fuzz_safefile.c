// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the opens of files a process controls: a path, a
 * debuglink name or a maps path taken from the input is opened below a
 * scratch "process root" full of traps (FIFOs, absolute, relative,
 * escaping and looping symlinks, a magic link, directories, a 1 TiB sparse
 * file), through safefile_openat(), debuginfo_find() and
 * procmaps_open_object().
 *
 * Asserted: nothing blocks (libFuzzer's -timeout catches a hang); an fd
 * returned is non-blocking, read-only, a regular file within the cap, and
 * one of the regular files inside the root (never the host file outside it,
 * which an absolute or ".." symlink points at).
 *
 * Input: byte 0 picks the entry point and flags, the rest is the path.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/safefile.h"
#include "debuginfo.h"
#include "symbolize/procmaps.h"

#define MAX_INODES 64
#define CAP	   (1u << 20)

static char top[PATH_MAX], root[PATH_MAX], proc[PATH_MAX];
static int root_fd = -1;
static ino_t inodes[MAX_INODES];
static dev_t devs[MAX_INODES];
static size_t nr_inodes;

static void die(const char *what)
{
	perror(what);
	abort();
}

static void mk(const char *rel, const char *text)
{
	char p[PATH_MAX * 2];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	if (!f)
		die(p);
	fputs(text, f);
	fclose(f);
}

static void ln(const char *target, const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (symlink(target, p))
		die(p);
}

static void dir(const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (mkdir(p, 0700))
		die(p);
}

static int note_inode(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	if (S_ISREG(st->st_mode) && nr_inodes < MAX_INODES) {
		inodes[nr_inodes] = st->st_ino;
		devs[nr_inodes++] = st->st_dev;
	}
	return 0;
}

static void build_tree(void)
{
	const char *base = getenv("TMPDIR");
	char p[PATH_MAX * 2], secret[PATH_MAX * 2];
	int fd;

	snprintf(top, sizeof(top), "%s/fuzz_safefile.XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(top))
		die("mkdtemp");
	snprintf(secret, sizeof(secret), "%s/secret", top);
	fd = open(secret, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || write(fd, "host", 4) != 4)
		die(secret);
	close(fd);
	snprintf(root, sizeof(root), "%s/root", top);
	if (mkdir(root, 0700))
		die(root);
	dir("bin");
	dir("bin/.debug");
	dir("usr");
	dir("tmp");
	mk("bin/app", "\177ELF not really");
	mk("bin/.debug/app.debug", "debug");
	mk("usr/lib.so", "lib");
	mk("tmp/perf-1.map", "1000 10 jit\n");
	snprintf(p, sizeof(p), "%s/bin/fifo", root);
	if (mkfifo(p, 0600))
		die(p);
	snprintf(p, sizeof(p), "%s/tmp/perf-2.map", root);
	if (mkfifo(p, 0600))
		die(p);
	ln(secret, "bin/abs");	      /* absolute, to the host file */
	ln("/etc/passwd", "bin/etc"); /* absolute, to a path absent from the root */
	ln("../../secret", "bin/up"); /* escapes by ".." */
	ln("../../../../../../../secret", "bin/upup");
	ln("app", "bin/rel"); /* harmless */
	ln("loop2", "bin/loop1");
	ln("loop1", "bin/loop2");
	ln("/proc/self/exe", "bin/magic"); /* a magic link */
	ln("/proc/self/root", "bin/magicdir");
	ln(top, "bin/topdir"); /* a directory outside */
	ln("/dev/zero", "bin/dev");
	ln("fifo", "bin/tofifo");
	snprintf(p, sizeof(p), "%s/bin/sparse", root);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)1 << 40))
		die(p);
	close(fd);
	if (nftw(root, note_inode, 16, FTW_PHYS))
		die("nftw");
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		die(root);
	/* A fake /proc: PID 1's root is the scratch root (map_files absent: the root path is
	 * taken). */
	snprintf(proc, sizeof(proc), "%s/proc", top);
	snprintf(p, sizeof(p), "%s/1", proc);
	if (mkdir(proc, 0700) || mkdir(p, 0700))
		die(p);
	snprintf(p, sizeof(p), "%s/1/root", proc);
	if (symlink(root, p))
		die(p);
}

static void cleanup_tree(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", top);
}

/* An fd from any entry point: regular, non-blocking, read-only, capped, inside the root. */
static void check_fd(int fd, uint64_t cap, bool must_be_inside)
{
	struct stat st;
	size_t i;
	int fl;

	if (fd < 0)
		return;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > cap)
		abort();
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || !(fl & O_NONBLOCK) || (fl & O_ACCMODE) != O_RDONLY)
		abort();
	if (must_be_inside) {
		for (i = 0; i < nr_inodes; i++)
			if (inodes[i] == st.st_ino && devs[i] == st.st_dev)
				break;
		if (i == nr_inodes)
			abort(); /* a file outside the root */
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned flags[] = {SAFEFILE_IN_ROOT, SAFEFILE_BENEATH,
					 SAFEFILE_IN_ROOT | SAFEFILE_NO_SYMLINKS, SAFEFILE_BENEATH};
	char path[PATH_MAX + 8];
	struct debuginfo_probe probe;
	struct procmap m;
	uint8_t op;
	size_t len;
	char *buf;
	int fd;

	if (root_fd < 0) {
		build_tree();
		atexit(cleanup_tree);
	}
	if (!size)
		return 0;
	op = data[0];
	len = size - 1 < sizeof(path) - 1 ? size - 1 : sizeof(path) - 1;
	memcpy(path, data + 1, len);
	path[len] = '\0';
	safefile_test_force_walk(op & 0x80);
	switch (op & 7) {
	case 0:
	case 1:
	case 2:
	case 3:
		fd = safefile_openat(root_fd, path, flags[op & 3], CAP);
		check_fd(fd, CAP, true);
		break;
	case 4:
		/* No cap at open: the read is bounded all the same. */
		fd = safefile_openat(root_fd, path, SAFEFILE_IN_ROOT, SAFEFILE_NO_CAP);
		if (fd >= 0) {
			if (!safefile_read_all(fd, 4096, &buf, &len)) {
				if (len > 4096)
					abort();
				free(buf);
			}
			check_fd(fd, SAFEFILE_NO_CAP, true);
		}
		break;
	case 5:
		/* A debuglink name next to /bin/app (no '/' in a real one; anything here). */
		memset(&probe, 0, sizeof(probe));
		if (len >= sizeof(probe.link))
			break;
		memcpy(probe.link, path, len + 1);
		probe.has_link = true;
		probe.link_crc = 0; /* CRC of an empty file: an empty file would match */
		fd = debuginfo_find(
		    &(struct debuginfo_query){.probe = &probe,
					      .bin_path = "/bin/app",
					      .root = root,
					      .debug_dirs = (const char *const[]){NULL}});
		check_fd(fd, 1ull << 30, true);
		break;
	default:
		/* A maps path: PID 1's root is the scratch root. */
		memset(&m, 0, sizeof(m));
		m.start = 0x1000;
		m.end = 0x2000;
		m.inode = 1;
		m.path = path;
		fd = procmaps_open_object(proc, 1, &m);
		check_fd(fd, 8ull << 30, true);
		break;
	}
	return 0;
}
