// SPDX-License-Identifier: Apache-2.0
/*
 * common/safefile: what a hostile process can plant where the agent opens a
 * file (a FIFO, an absolute or escaping symlink, a symlink loop, a magic
 * link, a directory, a device, a sparse multi-TiB file) is refused without
 * blocking and counted; a root resolves like a chroot; the pre-openat2 walk
 * is never looser; bounded reads stop at their cap whatever st_size says.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/safefile.h"

struct tree {
	char top[PATH_MAX];    /* scratch dir */
	char root[PATH_MAX];   /* top/root: the "process root" */
	char secret[PATH_MAX]; /* top/outside/secret: a host file outside the root */
};

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void at(char *out, const char *base, const char *rel)
{
	assert_true(snprintf(out, PATH_MAX, "%s/%s", base, rel) < PATH_MAX);
}

/*
 * top/outside/secret                   "host secret"
 * top/root/bin/ok                      "ok"
 * top/root/bin/fifo                    FIFO (no writer: an open() for reading would block)
 * top/root/bin/abs      -> TOP/outside/secret   (absolute: the agent's root if followed)
 * top/root/bin/up       -> ../../outside/secret (escapes by "..")
 * top/root/bin/loop     -> loop
 * top/root/bin/dir/     a directory
 * top/root/bin/sparse   1 TiB, sparse
 * top/root/bin/rel      -> ok         (a harmless relative link inside the root)
 * top/root/TOP/outside/secret          "inside": where "abs" lands when resolved in the root
 */
static int setup(void **state)
{
	const char *base = getenv("STACKD_TEST_TMP");
	struct tree *t = calloc(1, sizeof(*t));
	char p[PATH_MAX], q[PATH_MAX * 5];
	int fd;

	assert_non_null(t);
	snprintf(t->top, sizeof(t->top), "%s/safefile.XXXXXX", base ? base : "/tmp");
	assert_non_null(mkdtemp(t->top));
	at(t->root, t->top, "root");
	at(p, t->top, "outside");
	assert_int_equal(mkdir(p, 0700), 0);
	at(t->secret, t->top, "outside/secret");
	put(t->secret, "host secret");
	assert_int_equal(mkdir(t->root, 0700), 0);
	at(p, t->root, "bin");
	assert_int_equal(mkdir(p, 0700), 0);
	at(p, t->root, "bin/ok");
	put(p, "ok");
	at(p, t->root, "bin/fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	at(p, t->root, "bin/abs");
	assert_int_equal(symlink(t->secret, p), 0);
	at(p, t->root, "bin/up");
	assert_int_equal(symlink("../../outside/secret", p), 0);
	at(p, t->root, "bin/loop");
	assert_int_equal(symlink("loop", p), 0);
	at(p, t->root, "bin/rel");
	assert_int_equal(symlink("ok", p), 0);
	at(p, t->root, "bin/dir");
	assert_int_equal(mkdir(p, 0700), 0);
	at(p, t->root, "bin/sparse");
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)1 << 40), 0);
	close(fd);
	/* The decoy inside the root at the absolute target's path. */
	snprintf(q, sizeof(q), "mkdir -p '%s%s/outside' && printf inside > '%s%s/outside/secret'",
		 t->root, t->top, t->root, t->top);
	assert_int_equal(system(q), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tree *t = *state;
	char cmd[PATH_MAX + 16];

	safefile_test_force_walk(false);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->top);
	if (system(cmd))
		print_message("could not remove %s\n", t->top);
	free(t);
	return 0;
}

static uint64_t refused(enum safefile_refusal why)
{
	uint64_t v[SAFEFILE__NR];

	safefile_refused(v);
	return v[why];
}

/* The whole file behind @fd (closed) as a string in @out. */
static void slurp(int fd, char *out, size_t sz)
{
	size_t len;
	char *buf;

	assert_true(fd >= 0);
	assert_int_equal(safefile_read_all(fd, 4096, &buf, &len), 0);
	close(fd);
	assert_true(len < sz);
	memcpy(out, buf, len + 1);
	free(buf);
}

static void test_regular(void **state)
{
	struct tree *t = *state;
	char got[64];
	int fd;

	fd = safefile_open_in_root(t->root, "/bin/ok", 100);
	slurp(fd, got, sizeof(got));
	assert_string_equal(got, "ok");
	/* Relative and with a harmless in-root symlink. */
	slurp(safefile_open_in_root(t->root, "bin/rel", 100), got, sizeof(got));
	assert_string_equal(got, "ok");
	/* The fd is non-blocking and close-on-exec. */
	fd = safefile_open_in_root(t->root, "bin/ok", 100);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	close(fd);
	assert_int_equal(safefile_open_in_root(t->root, "bin/missing", 100), -ENOENT);
}

static void test_fifo_dir_device(void **state)
{
	struct tree *t = *state;
	uint64_t n0 = refused(SAFEFILE_NOT_REGULAR);
	char p[PATH_MAX];

	/* Returns at once: a blocking open() would wait forever for a writer here. */
	assert_int_equal(safefile_open_in_root(t->root, "bin/fifo", 100), -ENODEV);
	assert_int_equal(safefile_open_in_root(t->root, "bin/dir", 100), -ENODEV);
	at(p, t->root, "bin/fifo");
	assert_int_equal(safefile_open(p, 100), -ENODEV);
	assert_int_equal(safefile_open("/dev/null", 100), -ENODEV);
	assert_int_equal(refused(SAFEFILE_NOT_REGULAR) - n0, 4);
}

static void test_symlinks_stay_in_root(void **state)
{
	struct tree *t = *state;
	uint64_t n0 = refused(SAFEFILE_LINK);
	char got[64];

	/* Absolute: lands on the decoy inside the root, never on the host's secret. */
	slurp(safefile_open_in_root(t->root, "bin/abs", 100), got, sizeof(got));
	assert_string_equal(got, "inside");
	/* "..": clamped at the root, so ../../outside is root/outside: not there. */
	assert_int_equal(safefile_open_in_root(t->root, "bin/up", 100), -ENOENT);
	assert_int_equal(safefile_open_in_root(t->root, "../../../outside/secret", 100), -ENOENT);
	/* A loop, and a magic link. */
	assert_int_equal(safefile_open_in_root(t->root, "bin/loop", 100), -ELOOP);
	assert_int_equal(safefile_open("/proc/self/exe", UINT64_MAX), -ELOOP);
	assert_int_equal(refused(SAFEFILE_LINK) - n0, 2);
}

static void test_beneath(void **state)
{
	struct tree *t = *state;
	uint64_t n0 = refused(SAFEFILE_ESCAPE);
	char got[64];

	slurp(safefile_open_beneath(t->root, "bin/ok", 100), got, sizeof(got));
	assert_string_equal(got, "ok");
	assert_int_equal(safefile_open_beneath(t->root, "bin/abs", 100), -EXDEV);
	assert_int_equal(safefile_open_beneath(t->root, "bin/up", 100), -EXDEV);
	assert_int_equal(safefile_open_beneath(t->root, "/bin/ok", 100), -EXDEV);
	assert_int_equal(safefile_open_beneath(t->root, "bin/../../outside/secret", 100), -EXDEV);
	assert_int_equal(refused(SAFEFILE_ESCAPE) - n0, 4);
}

static void test_size_cap(void **state)
{
	struct tree *t = *state;
	uint64_t n0 = refused(SAFEFILE_TOO_BIG);
	char *buf;
	size_t len;
	int fd;

	assert_int_equal(safefile_open_in_root(t->root, "bin/sparse", 1ull << 30), -EFBIG);
	assert_int_equal(safefile_open_in_root(t->root, "bin/ok", 1), -EFBIG);
	assert_int_equal(refused(SAFEFILE_TOO_BIG) - n0, 2);
	/* Without a cap at open, a read is still bounded whatever st_size says. */
	fd = safefile_open_in_root(t->root, "bin/sparse", SAFEFILE_NO_CAP);
	assert_true(fd >= 0);
	assert_int_equal(safefile_read_all(fd, 1 << 20, &buf, &len), -EFBIG);
	assert_null(buf);
	assert_int_equal(refused(SAFEFILE_TOO_BIG) - n0, 3);
	close(fd);
	fd = safefile_open_in_root(t->root, "bin/ok", SAFEFILE_NO_CAP);
	assert_int_equal(safefile_read_all(fd, 2, &buf, &len), 0);
	assert_int_equal(len, 2);
	assert_string_equal(buf, "ok");
	free(buf);
	assert_int_equal(safefile_read_all(fd, 1, &buf, &len), -EFBIG);
	assert_int_equal(safefile_read_all(fd, 0, &buf, &len), -EFBIG);
	close(fd);
}

static void test_bad_paths(void **state)
{
	struct tree *t = *state;
	uint64_t n0 = refused(SAFEFILE_BAD_PATH);
	char *longp = malloc(PATH_MAX + 10);

	assert_non_null(longp);
	memset(longp, 'a', PATH_MAX + 9);
	longp[PATH_MAX + 9] = '\0';
	assert_int_equal(safefile_open_in_root(t->root, "", 100), -EINVAL);
	assert_int_equal(safefile_open_in_root(t->root, longp, 100), -ENAMETOOLONG);
	free(longp);
	assert_int_equal(refused(SAFEFILE_BAD_PATH) - n0, 2);
	assert_string_equal(safefile_refusal_name(SAFEFILE_NOT_REGULAR), "not_regular");
	assert_string_equal(safefile_refusal_name(SAFEFILE_BAD_PATH), "bad_path");
}

/* Kernels before 5.6: the component walk refuses every symlink and "..". */
static void test_walk_fallback(void **state)
{
	struct tree *t = *state;
	char got[64];

	safefile_test_force_walk(true);
	slurp(safefile_open_in_root(t->root, "/bin/ok", 100), got, sizeof(got));
	assert_string_equal(got, "ok");
	slurp(safefile_open_in_root(t->root, "bin//./ok", 100), got, sizeof(got));
	assert_string_equal(got, "ok");
	assert_int_equal(safefile_open_in_root(t->root, "bin/abs", 100), -ELOOP);
	assert_int_equal(safefile_open_in_root(t->root, "bin/rel", 100), -ELOOP);
	assert_int_equal(safefile_open_in_root(t->root, "bin/loop", 100), -ELOOP);
	assert_int_equal(safefile_open_in_root(t->root, "bin/../bin/ok", 100), -EINVAL);
	assert_int_equal(safefile_open_in_root(t->root, "bin/fifo", 100), -ENODEV);
	assert_int_equal(safefile_open_in_root(t->root, "bin/sparse", 100), -EFBIG);
	assert_int_equal(safefile_open_in_root(t->root, "/", 100), -EINVAL);
	assert_int_equal(safefile_open_beneath(t->root, "bin/up", 100), -ELOOP);
	/* Host paths keep their symlinks (distributions' /usr/lib/debug/.build-id links). */
	assert_int_equal(safefile_open("/dev/null", 100), -ENODEV);
	safefile_test_force_walk(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_regular),
	    cmocka_unit_test(test_fifo_dir_device),
	    cmocka_unit_test(test_symlinks_stay_in_root),
	    cmocka_unit_test(test_beneath),
	    cmocka_unit_test(test_size_cap),
	    cmocka_unit_test(test_bad_paths),
	    cmocka_unit_test(test_walk_fallback),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
