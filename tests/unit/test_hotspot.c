// SPDX-License-Identifier: Apache-2.0
/*
 * symbolize/hotspot.c:
 *   - hs_probe_fd() finds the vmStructs description in OpenJDK 17's libjvm.so,
 *     and nothing in a binary without it;
 *   - against a live JVM running tests/fixtures/JavaHot.java: the layout
 *     reads, and every code blob the JVM lists in its perf map (jcmd
 *     Compiler.perfmap) is found from its first byte and from inside it,
 *     the interpreter as an rbp frame and the compiled Bakery methods with
 *     a frame size (what the kernel walk relies on);
 *   - hostile memory: a table without end, implausible heaps, a segment
 *     map that loops or points below its heap: -EINVAL or -ENOENT, in
 *     bounded reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ci.h"
#include "symbolize/hotspot.h"
#include "symbolize/procmaps.h"

#define JDK    "/usr/lib/jvm/java-17-openjdk-amd64"
#define LIBJVM JDK "/lib/server/libjvm.so"
#define JAVA   JDK "/bin/java"
#define JAVAC  JDK "/bin/javac"
#define JCMD   JDK "/bin/jcmd"

static bool have_jdk(void)
{
	return access(JAVA, X_OK) == 0 && access(JAVAC, X_OK) == 0 && access(JCMD, X_OK) == 0;
}

static void test_probe(void **state)
{
	struct hs_jvm j;
	int fd;

	(void)state;
	if (!have_jdk())
		skip_or_fail("no OpenJDK 17 at " JDK " (Debian openjdk-17-jdk-headless)");
	fd = open(LIBJVM, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(hs_probe_fd(fd, &j), 0);
	close(fd);
	assert_true(j.structs && j.types && j.struct_stride && j.type_size);
	fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(hs_probe_fd(fd, &j), -ENOENT);
	close(fd);
}

/* ---- a live JVM ------------------------------------------------------------------------------ */

static pid_t run(char *const argv[], bool wait_for)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	if (!wait_for)
		return pid;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return 0;
}

struct entry {
	uint64_t start, size;
	char name[160];
};

static size_t read_perfmap(pid_t pid, struct entry *out, size_t max)
{
	char path[64], line[512];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (n < max && fgets(line, sizeof(line), f)) {
		int at = 0;

		if (sscanf(line, "%lx %lx %n", &out[n].start, &out[n].size, &at) != 2)
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", line + at);
		out[n].name[strcspn(out[n].name, "\n")] = '\0';
		n++;
	}
	fclose(f);
	unlink(path);
	return n;
}

static void test_live(void **state)
{
	static struct entry ents[20000];
	const char *tmp = getenv("STACKD_TEST_TMP");
	char dir[512], pidstr[16];
	struct procmaps *maps = NULL;
	const struct procmap *jvm_map = NULL;
	struct procmem mem;
	struct hs_layout l;
	struct hs_jvm j;
	uint64_t bias;
	size_t n, interp = 0, fold = 0;
	pid_t java;
	int fd;

	(void)state;
	if (!have_jdk())
		skip_or_fail("no OpenJDK 17 at " JDK " (Debian openjdk-17-jdk-headless)");
	snprintf(dir, sizeof(dir), "%s/hotspot_classes", tmp ? tmp : "/tmp");
	run((char *const[]){JAVAC, "-d", dir, STACKD_FIXTURES "/JavaHot.java", NULL}, true);
	java = run((char *const[]){JAVA, "-cp", dir, "JavaHot", "20", NULL}, false);
	sleep(3); /* the Bakery methods get compiled in the first second */
	snprintf(pidstr, sizeof(pidstr), "%d", (int)java);
	run((char *const[]){JCMD, pidstr, "Compiler.perfmap", NULL}, true);

	assert_int_equal(procmaps_read("/proc", java, PROCMAPS_EXEC_ONLY, &maps), 0);
	for (size_t i = 0; i < maps->nr; i++)
		if (strstr(maps->maps[i].path, "/libjvm.so"))
			jvm_map = &maps->maps[i];
	assert_non_null(jvm_map);
	fd = open(LIBJVM, O_RDONLY | O_CLOEXEC);
	assert_int_equal(hs_probe_fd(fd, &j), 0);
	close(fd);
	assert_int_equal(elfdyn_bias(&j.elf, jvm_map->start, jvm_map->offset, &bias), 0);
	mem = (struct procmem){.ctx = &java, .read = procmem_read_process};
	assert_int_equal(hs_layout_read(&mem, &j, bias, &l), 0);
	assert_true(l.nr_heaps >= 1 && l.nr_heaps <= HS_MAX_HEAPS);
	assert_true(l.heapblock_size > 0 && l.log2_segment >= 4);

	n = read_perfmap(java, ents, sizeof(ents) / sizeof(ents[0]));
	assert_true(n > 50);
	for (size_t i = 0; i < n; i++) {
		struct hs_blob b, mid;

		assert_int_equal(hs_blob_find(&mem, &l, ents[i].start, &b), 0);
		assert_int_equal(b.code_begin, ents[i].start);
		assert_int_equal(b.code_end, ents[i].start + ents[i].size);
		assert_int_equal(hs_blob_find(&mem, &l, ents[i].start + ents[i].size - 1, &mid), 0);
		assert_int_equal(mid.addr, b.addr);
		if (!strcmp(ents[i].name, "Interpreter")) {
			assert_true(b.frame_size <= 0);
			interp++;
		}
		if (strstr(ents[i].name, "JavaHot$Bakery.fold(long)")) {
			assert_true(b.frame_size > 0 && b.frame_complete > 0);
			fold++;
		}
	}
	assert_int_equal(interp, 1);
	assert_true(fold >= 1);
	/* Outside every heap. */
	{
		struct hs_blob b;

		assert_int_equal(hs_blob_find(&mem, &l, 0x1000, &b), -ENOENT);
	}
	procmaps_free(maps);
	kill(java, SIGKILL);
	waitpid(java, NULL, 0);
}

/* ---- hostile memory -------------------------------------------------------------------------- */

#define BASE 0x100000ULL
#define SIZE (1u << 20)

struct fake {
	unsigned char mem[SIZE];
	size_t reads;
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;

	f->reads++;
	if (addr < BASE || addr - BASE > SIZE || len > SIZE - (addr - BASE))
		return -EFAULT;
	memcpy(buf, f->mem + (addr - BASE), len);
	return 0;
}

static void put64(struct fake *f, uint64_t addr, uint64_t v)
{
	memcpy(f->mem + (addr - BASE), &v, 8);
}

static void put32(struct fake *f, uint64_t addr, uint32_t v)
{
	memcpy(f->mem + (addr - BASE), &v, 4);
}

static uint64_t put_str(struct fake *f, uint64_t *at, const char *s)
{
	uint64_t a = *at;

	memcpy(f->mem + (a - BASE), s, strlen(s) + 1);
	*at += (strlen(s) + 8) & ~7ULL;
	return a;
}

/*
 * A JVM's description in fake memory, laid out as OpenJDK 17's (stride 48;
 * type, field, type string, is_static, offset, address), with one heap.
 * Variables at BASE (j's link addresses with bias 0), tables at BASE + 4 KiB.
 */
static void build(struct fake *f, struct hs_jvm *j, int32_t log2)
{
	static const struct {
		const char *type, *field;
		int is_static;
		uint64_t off;
	} fields[] = {
	    {"CodeBlob", "_code_begin", 0, 0x20},
	    {"CodeBlob", "_code_end", 0, 0x28},
	    {"CodeBlob", "_frame_size", 0, 0x1c},
	    {"CodeBlob", "_frame_complete_offset", 0, 0x14},
	    {"CodeCache", "_heaps", 1, BASE + 0x80000},
	    {"GrowableArrayBase", "_len", 0, 0},
	    {"GrowableArray<int>", "_data", 0, 8},
	    {"CodeHeap", "_memory", 0, 8},
	    {"CodeHeap", "_segmap", 0, 0x78},
	    {"CodeHeap", "_log2_segment_size", 0, 0x100},
	    {"VirtualSpace", "_low_boundary", 0, 0},
	    {"VirtualSpace", "_high_boundary", 0, 8},
	    {"VirtualSpace", "_low", 0, 0x10},
	};
	uint64_t strs = BASE + 0x40000, structs = BASE + 0x1000, types = BASE + 0x8000;
	uint64_t heaps = BASE + 0x81000, heap = BASE + 0x82000;
	size_t i;

	memset(f, 0, sizeof(*f));
	memset(j, 0, sizeof(*j));
	j->structs = BASE + 0x0;
	j->struct_stride = BASE + 0x8;
	j->struct_type = BASE + 0x10;
	j->struct_field = BASE + 0x18;
	j->struct_static = BASE + 0x20;
	j->struct_offset = BASE + 0x28;
	j->struct_address = BASE + 0x30;
	j->types = BASE + 0x38;
	j->type_stride = BASE + 0x40;
	j->type_name = BASE + 0x48;
	j->type_size = BASE + 0x50;
	put64(f, j->structs, structs);
	put64(f, j->struct_stride, 48);
	put64(f, j->struct_type, 0);
	put64(f, j->struct_field, 8);
	put64(f, j->struct_static, 24);
	put64(f, j->struct_offset, 32);
	put64(f, j->struct_address, 40);
	put64(f, j->types, types);
	put64(f, j->type_stride, 48);
	put64(f, j->type_name, 0);
	put64(f, j->type_size, 32);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint64_t e = structs + i * 48;

		put64(f, e, put_str(f, &strs, fields[i].type));
		put64(f, e + 8, put_str(f, &strs, fields[i].field));
		put32(f, e + 24, (uint32_t)fields[i].is_static);
		put64(f, e + (fields[i].is_static ? 40 : 32), fields[i].off);
	}
	put64(f, types, put_str(f, &strs, "HeapBlock"));
	put64(f, types + 32, 16);
	/* CodeCache::_heaps -> GrowableArray {len 1, data -> [heap]} */
	put64(f, BASE + 0x80000, heaps);
	put32(f, heaps, 1);
	put64(f, heaps + 8, heaps + 0x100);
	put64(f, heaps + 0x100, heap);
	put64(f, heap + 8, BASE + 0xc0000);	    /* low boundary */
	put64(f, heap + 16, BASE + 0xc0000 + 4096); /* high boundary */
	put64(f, heap + 0x78 + 0x10, BASE + 0xa0000);
	put32(f, heap + 0x100, (uint32_t)log2);
}

static void test_hostile(void **state)
{
	static struct fake f;
	struct procmem mem = {.ctx = &f, .read = fake_read};
	struct hs_layout l;
	struct hs_blob b;
	struct hs_jvm j;

	(void)state;
	build(&f, &j, 7);
	assert_int_equal(hs_layout_read(&mem, &j, 0, &l), 0);
	assert_int_equal(l.nr_heaps, 1);
	assert_int_equal(l.log2_segment, 7);
	assert_int_equal(l.heapblock_size, 16);
	assert_int_equal(l.blob_frame_size, 0x1c);

	/* A blob at segment 2, spanning segments 2..4 (hops 0, 1, 2), a free segment 5. */
	{
		uint64_t blob = BASE + 0xc0000 + 2 * 128 + 16;

		f.mem[0xa0000 + 2] = 0;
		f.mem[0xa0000 + 3] = 1;
		f.mem[0xa0000 + 4] = 2;
		f.mem[0xa0000 + 5] = 0xff;
		put64(&f, blob + 0x20, blob + 64);
		put64(&f, blob + 0x28, BASE + 0xc0000 + 5 * 128);
		put32(&f, blob + 0x1c, 6);
		put32(&f, blob + 0x14, 12);
		assert_int_equal(hs_blob_find(&mem, &l, BASE + 0xc0000 + 4 * 128 + 5, &b), 0);
		assert_int_equal(b.addr, blob);
		assert_int_equal(b.frame_size, 6);
		assert_int_equal(hs_blob_find(&mem, &l, BASE + 0xc0000 + 5 * 128, &b), -ENOENT);
		/* Before the blob's code: its header, not code. */
		assert_int_equal(hs_blob_find(&mem, &l, BASE + 0xc0000 + 2 * 128 + 20, &b),
				 -EINVAL);
	}
	/* A map pointing below the heap, and one that would hop for ever. */
	f.mem[0xa0000 + 0] = 5;
	assert_int_equal(hs_blob_find(&mem, &l, BASE + 0xc0000 + 10, &b), -EINVAL);
	memset(f.mem + 0xa0000, 1, 32);
	f.mem[0xa0000] = 1; /* every segment says "one back", segment 0 too */
	f.reads = 0;
	assert_int_equal(hs_blob_find(&mem, &l, BASE + 0xc0000 + 31 * 128, &b), -EINVAL);
	assert_true(f.reads <= HS_MAX_HOPS + 1);

	/* Implausible segment sizes and heaps. */
	build(&f, &j, 40);
	assert_int_equal(hs_layout_read(&mem, &j, 0, &l), -EINVAL);
	build(&f, &j, 7);
	put32(&f, BASE + 0x81000, 1000); /* 1000 heaps */
	assert_int_equal(hs_layout_read(&mem, &j, 0, &l), -EINVAL);
	build(&f, &j, 7);
	put64(&f, BASE + 0x82000 + 16, BASE + 0xc0000); /* high == low */
	assert_int_equal(hs_layout_read(&mem, &j, 0, &l), -EINVAL);
	/* A field offset far out, a stride that is no stride. */
	build(&f, &j, 7);
	put64(&f, BASE + 0x1000 + 2 * 48 + 32, 1 << 20);
	assert_int_equal(hs_layout_read(&mem, &j, 0, &l), -EINVAL);
	build(&f, &j, 7);
	put64(&f, j.struct_stride, 4096);
	assert_int_equal(hs_layout_read(&mem, &j, 0, &l), -EINVAL);
	/* A field missing: another HotSpot shape. */
	build(&f, &j, 7);
	memset(f.mem + 0x1000 + 12 * 48, 0, 48);
	assert_int_equal(hs_layout_read(&mem, &j, 0, &l), -ENOENT);
	/* A table without end (every entry the same, never a NULL type): bounded. */
	build(&f, &j, 7);
	for (size_t i = 13; i < (0x40000 - 0x1000) / 48; i++)
		memcpy(f.mem + 0x1000 + i * 48, f.mem + 0x1000, 48);
	f.reads = 0;
	assert_true(hs_layout_read(&mem, &j, 0, &l) < 0);
	/* Names without a NUL within reach. */
	build(&f, &j, 7);
	memset(f.mem + 0x40000, 'A', 4096);
	assert_int_equal(hs_layout_read(&mem, &j, 0, &l), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probe),
	    cmocka_unit_test(test_live),
	    cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
