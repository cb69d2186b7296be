// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "symbolize/procmaps.h"

static const char sample[] =
    "55d0c4a00000-55d0c4a02000 r--p 00000000 fd:01 1048602                    /usr/bin/cat\n"
    "55d0c4a02000-55d0c4a07000 r-xp 00002000 fd:01 1048602                    /usr/bin/cat\n"
    "55d0c5c1e000-55d0c5c3f000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f1a2b000000-7f1a2b022000 r-xp 00022000 103:02 77 /opt/my app/lib x.so (deleted)\n"
    "7f1a2b100000-7f1a2b200000 rw-s 00000000 00:05 9                          /dev/zero (deleted)\n"
    "7f1a2b300000-7f1a2b301000 r-xp 00000000 00:00 0 \n"
    "7ffd1c9d0000-7ffd1c9f1000 rw-p 00000000 00:00 0                          [stack]\n"
    "7ffd1c9f8000-7ffd1c9fa000 r-xp 00000000 00:00 0                          [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

static void test_parse_fields(void **state)
{
	struct procmaps *m = NULL;
	const struct procmap *p;

	(void)state;
	assert_int_equal(procmaps_parse(sample, strlen(sample), 0, &m), 0);
	assert_int_equal(m->nr, 9);
	assert_int_equal(m->nr_bad_lines, 0);
	assert_true(m->bytes >= sizeof(*m) + 9 * sizeof(struct procmap));

	p = &m->maps[1];
	assert_int_equal(p->start, 0x55d0c4a02000ull);
	assert_int_equal(p->end, 0x55d0c4a07000ull);
	assert_int_equal(p->offset, 0x2000);
	assert_int_equal(p->dev_major, 0xfd);
	assert_int_equal(p->dev_minor, 1);
	assert_int_equal(p->inode, 1048602);
	assert_int_equal(p->perms, PROCMAP_READ | PROCMAP_EXEC | PROCMAP_PRIVATE);
	assert_false(p->is_deleted);
	assert_string_equal(p->path, "/usr/bin/cat");

	assert_string_equal(m->maps[2].path, "[heap]");
	assert_int_equal(m->maps[2].inode, 0);

	/* Spaces inside the path survive; the deleted suffix is stripped and flagged. */
	p = &m->maps[3];
	assert_string_equal(p->path, "/opt/my app/lib x.so");
	assert_true(p->is_deleted);
	assert_int_equal(p->dev_major, 0x103);
	assert_int_equal(p->dev_minor, 2);

	p = &m->maps[4];
	assert_int_equal(p->perms, PROCMAP_READ | PROCMAP_WRITE);
	assert_true(p->is_deleted);
	assert_string_equal(p->path, "/dev/zero");

	/* Anonymous executable memory (JIT): empty path. */
	assert_string_equal(m->maps[5].path, "");
	assert_string_equal(m->maps[7].path, "[vdso]");
	/* Unterminated last line still parses. */
	assert_string_equal(m->maps[8].path, "[vsyscall]");
	assert_int_equal(m->maps[8].perms, PROCMAP_EXEC | PROCMAP_PRIVATE);
	procmaps_free(m);
}

static void test_exec_only(void **state)
{
	struct procmaps *m = NULL;
	size_t i;

	(void)state;
	assert_int_equal(procmaps_parse(sample, strlen(sample), PROCMAPS_EXEC_ONLY, &m), 0);
	assert_int_equal(m->nr, 5);
	for (i = 0; i < m->nr; i++)
		assert_true(m->maps[i].perms & PROCMAP_EXEC);
	procmaps_free(m);
}

static void test_find(void **state)
{
	struct procmaps *m = NULL;
	const struct procmap *p;

	(void)state;
	assert_int_equal(procmaps_parse(sample, strlen(sample), 0, &m), 0);
	assert_null(procmaps_find(m, 0));
	assert_null(procmaps_find(m, 0x55d0c49fffffull));
	p = procmaps_find(m, 0x55d0c4a00000ull);
	assert_non_null(p);
	assert_int_equal(p->start, 0x55d0c4a00000ull);
	p = procmaps_find(m, 0x55d0c4a06fffull);
	assert_non_null(p);
	assert_int_equal(p->offset, 0x2000);
	/* end is exclusive; the gap after it belongs to nobody */
	assert_null(procmaps_find(m, 0x55d0c4a07000ull));
	p = procmaps_find(m, 0xffffffffff600fffull);
	assert_non_null(p);
	assert_null(procmaps_find(m, UINT64_MAX));
	assert_null(procmaps_find(NULL, 1));
	procmaps_free(m);
}

static void test_malformed(void **state)
{
	static const char bad[] =
	    "garbage\n"
	    "1000-2000 r-xp\n" /* missing fields */
	    "2000-1000 r-xp 00000000 08:01 1 /start-after-end\n"
	    "zz00-3000 r-xp 00000000 08:01 1 /bad-hex\n"
	    "10000000000000000-10000000000000001 r-xp 00000000 08:01 1 /overflow\n"
	    "3000-4000 rqxp 00000000 08:01 1 /bad-perms\n"
	    "3000-4000 r-xp 00000000 08-01 1 /bad-dev\n"
	    "3000-4000 r-xp 00000000 08:01 x /bad-inode\n"
	    "3000-4000 r-xp 00000000 08:01 12x /junk-after-inode\n"
	    "3000-4000 r-xp 00000000 1000:01 1 /major-too-big\n"
	    "3000-4000  r-xp 00000000 08:01 1 /double-space\n"
	    "-4000 r-xp 00000000 08:01 1 /no-start\n"
	    "\n" /* blank lines are skipped silently */
	    "5000-6000 r-xp 00001000 08:01 42 /good\n"
	    "5000-5800 r-xp 00000000 08:01 43 /overlaps-good\n";
	struct procmaps *m = NULL;

	(void)state;
	assert_int_equal(procmaps_parse(bad, strlen(bad), 0, &m), 0);
	assert_int_equal(m->nr, 1);
	assert_string_equal(m->maps[0].path, "/good");
	assert_int_equal(m->nr_bad_lines, 13);
	procmaps_free(m);

	/* Embedded NUL in a path is never legitimate. */
	{
		static const char nul[] = "1000-2000 r-xp 00000000 08:01 1 /a\0b\n";

		assert_int_equal(procmaps_parse(nul, sizeof(nul) - 1, 0, &m), 0);
		assert_int_equal(m->nr, 0);
		assert_int_equal(m->nr_bad_lines, 1);
		procmaps_free(m);
	}
	assert_int_equal(procmaps_parse(NULL, 0, 0, &m), 0);
	assert_int_equal(m->nr, 0);
	procmaps_free(m);
	assert_int_equal(procmaps_parse(NULL, 5, 0, &m), -EINVAL);
	procmaps_free(NULL);
}

static void test_unsorted(void **state)
{
	static const char text[] = "7000-8000 r-xp 00000000 08:01 3 /c\n"
				   "1000-2000 r-xp 00000000 08:01 1 /a\n"
				   "4000-5000 r-xp 00000000 08:01 2 /b\n";
	struct procmaps *m = NULL;

	(void)state;
	assert_int_equal(procmaps_parse(text, strlen(text), 0, &m), 0);
	assert_int_equal(m->nr, 3);
	assert_string_equal(m->maps[0].path, "/a");
	assert_string_equal(m->maps[1].path, "/b");
	assert_string_equal(m->maps[2].path, "/c");
	assert_string_equal(procmaps_find(m, 0x4800)->path, "/b");
	procmaps_free(m);
}

static void test_huge(void **state)
{
	const size_t nr = 200000, line_max = 96;
	size_t len = 0, i;
	struct procmaps *m = NULL;
	char *text;

	(void)state;
	/* Many lines: all kept, find still exact. */
	text = malloc(nr * line_max + 1);
	assert_non_null(text);
	for (i = 0; i < nr; i++)
		len += (size_t)sprintf(text + len, "%zx-%zx r-xp %08zx 08:01 %zu /lib/l%zu.so\n",
				       0x10000 + i * 0x2000, 0x11000 + i * 0x2000, i, i + 1, i);
	assert_int_equal(procmaps_parse(text, len, 0, &m), 0);
	assert_int_equal(m->nr, nr);
	assert_int_equal(procmaps_find(m, 0x10000 + 12345 * 0x2000 + 5)->inode, 12346);
	assert_null(procmaps_find(m, 0x11000 + 12345 * 0x2000));
	procmaps_free(m);
	free(text);

	/* One line of 1 MiB: rejected as a line, not a failure of the snapshot. */
	len = 1 << 20;
	text = malloc(len + 64);
	assert_non_null(text);
	i = (size_t)sprintf(text, "1000-2000 r-xp 00000000 08:01 1 /");
	memset(text + i, 'a', len - i);
	memcpy(text + len, "\n3000-4000 r-xp 00000000 08:01 2 /ok\n", 37);
	assert_int_equal(procmaps_parse(text, len + 37, 0, &m), 0);
	assert_int_equal(m->nr, 1);
	assert_int_equal(m->nr_bad_lines, 1);
	assert_string_equal(m->maps[0].path, "/ok");
	procmaps_free(m);
	free(text);
}

static void make_tmp_root(char *buf, size_t sz)
{
	const char *tmp = getenv("STACKD_TEST_TMP");

	snprintf(buf, sz, "%s/procmaps_root.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(buf));
}

static void test_read(void **state)
{
	struct procmaps *m = NULL;
	const struct procmap *p;
	char root[512], path[600];
	FILE *f;
	size_t i;

	(void)state;
	assert_int_equal(procmaps_read(NULL, getpid(), 0, &m), 0);
	p = procmaps_find(m, (uint64_t)(uintptr_t)&test_read);
	assert_non_null(p);
	assert_true(p->perms & PROCMAP_EXEC);
	assert_non_null(strstr(p->path, "test_procmaps"));
	procmaps_free(m);

	/* A pid that does not exist: the process "vanished". */
	make_tmp_root(root, sizeof(root));
	assert_int_equal(procmaps_read(root, 4242, 0, &m), -ESRCH);
	assert_null(m);
	assert_int_equal(procmaps_read("/proc", 0x3ffffff0, 0, &m), -ESRCH);

	/* Over the cap: -E2BIG rather than unbounded memory. */
	snprintf(path, sizeof(path), "%s/4242", root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/4242/maps", root);
	f = fopen(path, "w");
	assert_non_null(f);
	for (i = 0; i < (17u << 20) / 64; i++)
		fprintf(f, "%063zx\n", i);
	fclose(f);
	assert_int_equal(procmaps_read(root, 4242, 0, &m), -E2BIG);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("1000-2000 r-xp 00000000 08:01 1 /x\n", f);
	fclose(f);
	assert_int_equal(procmaps_read(root, 4242, 0, &m), 0);
	assert_int_equal(m->nr, 1);
	procmaps_free(m);
	unlink(path);
	snprintf(path, sizeof(path), "%s/4242", root);
	rmdir(path);
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_fields), cmocka_unit_test(test_exec_only),
	    cmocka_unit_test(test_find),	 cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_unsorted),	 cmocka_unit_test(test_huge),
	    cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
