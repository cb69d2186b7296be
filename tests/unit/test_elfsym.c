// SPDX-License-Identifier: Apache-2.0
/*
 * elfsym against fixtures compiled at test time ($CC on fixtures_sym/funcs.c),
 * with expectations taken from binutils (nm, readelf) at test time too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

#include "elfsym.h"

enum fx { FX_PIE, FX_NOPIE, FX_STATIC, FX_SO, FX__MAX };

static const char *const fx_flags[FX__MAX] = {
    [FX_PIE] = "-fPIE -pie",
    [FX_NOPIE] = "-fno-pie -no-pie",
    [FX_STATIC] = "-static -fno-pie -no-pie",
    [FX_SO] = "-shared -fPIC -DSTACKD_FX_LIB",
};

static char fx_path[FX__MAX][512];

static int build_fixtures(void **state)
{
	const char *cc = getenv("CC"), *tmp = getenv("STACKD_TEST_TMP");
	char cmd[2048];
	int i;

	(void)state;
	if (!cc || !*cc)
		cc = "cc";
	if (!tmp || !*tmp)
		tmp = "/tmp";
	for (i = 0; i < FX__MAX; i++) {
		snprintf(fx_path[i], sizeof(fx_path[i]), "%s/elfsym_fx_%d_%d", tmp, (int)getpid(),
			 i);
		snprintf(cmd, sizeof(cmd), "%s -O0 -g0 -Wl,--build-id=sha1 %s -o '%s' '%s/funcs.c'",
			 cc, fx_flags[i], fx_path[i], STACKD_SYM_FIXTURES);
		if (system(cmd)) {
			fprintf(stderr, "fixture build failed: %s\n", cmd);
			return -1;
		}
	}
	return 0;
}

static int remove_fixtures(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < FX__MAX; i++)
		unlink(fx_path[i]);
	return 0;
}

/* Address of @sym per nm, or 0. */
static uint64_t nm_addr(const char *file, const char *sym)
{
	char cmd[1024], line[1024], name[512], type;
	uint64_t addr, found = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "%" SCNx64 " %c %511s", &addr, &type, name) == 3 &&
		    !strcmp(name, sym))
			found = addr;
	pclose(p);
	return found;
}

/* The file offset of @vaddr per readelf's PT_LOAD table, or -1. */
static int64_t readelf_vaddr_to_off(const char *file, uint64_t vaddr)
{
	char cmd[1024], line[1024];
	uint64_t off, va, pa, filesz, memsz;
	int64_t found = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line,
			   " LOAD 0x%" SCNx64 " 0x%" SCNx64 " 0x%" SCNx64 " 0x%" SCNx64
			   " 0x%" SCNx64,
			   &off, &va, &pa, &filesz, &memsz) == 5 &&
		    vaddr >= va && vaddr < va + filesz)
			found = (int64_t)(vaddr - va + off);
	pclose(p);
	return found;
}

static void readelf_build_id(const char *file, char *out, size_t sz)
{
	char cmd[1024], line[1024];
	FILE *p;

	out[0] = '\0';
	snprintf(cmd, sizeof(cmd), "readelf -n '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, " Build ID: %127s", out) == 1)
			break;
	pclose(p);
	(void)sz;
}

static struct elfsym *open_fx(enum fx which)
{
	struct elfsym *e = NULL;
	int fd = open(fx_path[which], O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(elfsym_open_fd(fd, &e), 0);
	close(fd);
	return e;
}

static void expect_sym(const struct elfsym *e, uint64_t vaddr, const char *name, uint64_t start)
{
	const char *got = NULL;
	uint64_t got_start = 0;

	assert_int_equal(elfsym_lookup(e, vaddr, &got, &got_start), 0);
	assert_string_equal(got, name);
	assert_int_equal(got_start, start);
}

static void check_variant(enum fx which)
{
	const char *file = fx_path[which], *name;
	struct elfsym *e = open_fx(which);
	uint64_t alpha, beta, local, nosize, sized, after, vaddr;
	char id[130];
	int64_t off;

	alpha = nm_addr(file, "stackd_fx_alpha");
	beta = nm_addr(file, "stackd_fx_beta");
	local = nm_addr(file, "stackd_fx_local");
	nosize = nm_addr(file, "stackd_fx_nosize");
	sized = nm_addr(file, "stackd_fx_sized");
	after = nm_addr(file, "stackd_fx_after");
	assert_true(alpha && beta && local && nosize && sized && after);
	assert_int_equal(nm_addr(file, "stackd_fx_beta_weak"), beta);

	expect_sym(e, alpha, "stackd_fx_alpha", alpha);
	expect_sym(e, alpha + 3, "stackd_fx_alpha", alpha);
	expect_sym(e, local + 1, "stackd_fx_local", local);
	/* GLOBAL beats the WEAK alias at the same address. */
	expect_sym(e, beta + 2, "stackd_fx_beta", beta);
	/* No .size: the symbol runs up to the next one. */
	expect_sym(e, nosize + 4, "stackd_fx_nosize", nosize);
	expect_sym(e, sized, "stackd_fx_sized", sized);
	/* Past the end of a sized symbol: nothing, even though it is the closest below. */
	assert_int_equal(elfsym_lookup(e, sized + 1, &name, NULL), -ENOENT);
	assert_int_equal(elfsym_lookup(e, after - 1, &name, NULL), -ENOENT);
	expect_sym(e, after, "stackd_fx_after", after);
	assert_int_equal(elfsym_lookup(e, 1, &name, NULL), -ENOENT);

	/* File offset -> vaddr agrees with readelf's program headers. */
	off = readelf_vaddr_to_off(file, alpha);
	assert_true(off >= 0);
	assert_int_equal(elfsym_file_to_vaddr(e, (uint64_t)off, &vaddr), 0);
	assert_int_equal(vaddr, alpha);
	assert_int_equal(elfsym_file_to_vaddr(e, UINT64_MAX - 1, &vaddr), -ENOENT);

	readelf_build_id(file, id, sizeof(id));
	assert_int_equal(strlen(id), 40);
	assert_string_equal(elfsym_build_id(e), id);

	assert_true(elfsym_nr_syms(e) >= 6);
	assert_true(elfsym_bytes(e) > elfsym_nr_syms(e) * 16);
	elfsym_free(e);
}

static void test_pie(void **state)
{
	(void)state;
	check_variant(FX_PIE);
}

static void test_nopie(void **state)
{
	(void)state;
	check_variant(FX_NOPIE);
}

static void test_static(void **state)
{
	(void)state;
	check_variant(FX_STATIC);
}

static void test_shared(void **state)
{
	(void)state;
	check_variant(FX_SO);
}

/* Stripped: only .dynsym remains, exported functions still resolve. */
static void test_stripped(void **state)
{
	char path[600], cmd[1300];
	struct elfsym *e = NULL;
	uint64_t alpha = nm_addr(fx_path[FX_SO], "stackd_fx_alpha");
	const char *name;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s.stripped", fx_path[FX_SO]);
	snprintf(cmd, sizeof(cmd), "strip -o '%s' '%s'", path, fx_path[FX_SO]);
	assert_int_equal(system(cmd), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(elfsym_open_fd(fd, &e), 0);
	close(fd);
	unlink(path);
	expect_sym(e, alpha + 1, "stackd_fx_alpha", alpha);
	/* LOCAL symbols went with .symtab. */
	assert_true(elfsym_lookup(e, nm_addr(fx_path[FX_SO], "stackd_fx_local"), &name, NULL) ||
		    strcmp(name, "stackd_fx_local"));
	elfsym_free(e);
}

static void *slurp(const char *path, size_t *len)
{
	struct stat st;
	void *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Whatever the damage, a result must be an error or a usable object. */
static void poke(const struct elfsym *e)
{
	const char *name;
	uint64_t v, start;
	uint64_t probes[] = {0, 1, 0x1000, 0x401000, 0x123456, UINT64_MAX};
	size_t i;

	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (!elfsym_lookup(e, probes[i], &name, &start))
			assert_non_null(name);
		elfsym_file_to_vaddr(e, probes[i], &v);
	}
	assert_non_null(elfsym_build_id(e));
}

static void test_mem_matches_fd(void **state)
{
	struct elfsym *e = NULL;
	size_t len;
	void *img = slurp(fx_path[FX_PIE], &len);
	uint64_t alpha = nm_addr(fx_path[FX_PIE], "stackd_fx_alpha");

	(void)state;
	assert_int_equal(elfsym_open_mem(img, len, &e), 0);
	expect_sym(e, alpha + 1, "stackd_fx_alpha", alpha);
	elfsym_free(e);
	free(img);
}

static void test_truncated(void **state)
{
	const char *tmp = getenv("STACKD_TEST_TMP");
	struct elfsym *e = NULL;
	char path[600];
	size_t len, cut, cuts[] = {0, 1, 4, 16, 52, 63, 64, 65, 200, 1000, 4096};
	unsigned char *img = slurp(fx_path[FX_SO], &len);
	size_t i;
	int fd, err;

	(void)state;
	snprintf(path, sizeof(path), "%s/elfsym_trunc_%d", tmp ? tmp : "/tmp", (int)getpid());
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]) + 16; i++) {
		cut = i < sizeof(cuts) / sizeof(cuts[0]) ? cuts[i] : len * (i - 10) / 17;
		if (cut >= len)
			continue;
		err = elfsym_open_mem(img, cut, &e);
		if (!err)
			poke(e);
		elfsym_free(e);
		e = NULL;

		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, img, cut), (ssize_t)cut);
		err = elfsym_open_fd(fd, &e);
		close(fd);
		/* The section headers sit at the end: cutting anything loses them. */
		if (cut < len / 2)
			assert_true(err == -EINVAL || err == -ENOEXEC);
		if (!err)
			poke(e);
		elfsym_free(e);
		e = NULL;
	}
	unlink(path);
	free(img);
}

static void test_garbled(void **state)
{
	struct elfsym *e = NULL;
	size_t len, i, n, pos;
	unsigned char *img = slurp(fx_path[FX_SO], &len), *bad = malloc(len);
	int iter, ok = 0;

	(void)state;
	assert_non_null(bad);
	srand(12345);
	for (iter = 0; iter < 600; iter++) {
		memcpy(bad, img, len);
		n = 1 + (size_t)rand() % 16;
		for (i = 0; i < n; i++) {
			/* Aim half of the damage at the headers, where it hurts most. */
			pos = (iter & 1) ? (size_t)rand() % 128 : (size_t)rand() % len;
			if (iter % 3 == 0 && pos + 8 <= len)
				memset(bad + pos, 0xff, 8); /* huge sizes and offsets */
			else
				bad[pos] ^= (unsigned char)(1 + rand() % 255);
		}
		if (!elfsym_open_mem(bad, len, &e)) {
			ok++;
			poke(e);
		}
		elfsym_free(e);
		e = NULL;
	}
	/* Most single-bit damage outside the headers leaves a usable file. */
	assert_true(ok > 0);
	free(bad);
	free(img);
}

static void test_not_elf(void **state)
{
	static const char text[] = "#!/bin/sh\necho hello\n";
	struct elfsym *e = NULL;
	int fd;

	(void)state;
	assert_int_equal(elfsym_open_mem(text, sizeof(text), &e), -ENOEXEC);
	assert_int_equal(elfsym_open_mem(text, 0, &e), -ENOEXEC);
	assert_int_equal(elfsym_open_mem(NULL, 0, &e), -ENOEXEC);
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(elfsym_open_fd(fd, &e), -ENOEXEC);
	close(fd);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(elfsym_open_fd(fd, &e), -ENOEXEC);
	close(fd);
	assert_null(e);
	elfsym_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pie),	      cmocka_unit_test(test_nopie),
	    cmocka_unit_test(test_static),    cmocka_unit_test(test_shared),
	    cmocka_unit_test(test_stripped),  cmocka_unit_test(test_mem_matches_fd),
	    cmocka_unit_test(test_truncated), cmocka_unit_test(test_garbled),
	    cmocka_unit_test(test_not_elf),
	};

	return cmocka_run_group_tests(tests, build_fixtures, remove_fixtures);
}
