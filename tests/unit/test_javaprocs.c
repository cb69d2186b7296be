// SPDX-License-Identifier: Apache-2.0
/*
 * agent/javaprocs.c against fake ops (no JVM, no helper): which processes are JVMs, when
 * they are asked, how answers move them on, and that a walk entry never outlives its slot.
 *   - a snapshot mapping libjvm.so is tracked, others not; the first request is due 1 s
 *     after first sight;
 *   - after an answer, unnamed JIT code asks again after 2 s, then 4 s (doubling);
 *   - NOT_JVM is tried 3 times 2 s apart, other failures twice, then never again;
 *   - a layout answer installs an entry; GONE, exit and slot reuse delete it;
 *   - -EAGAIN keeps the request due; requests go round robin past a stuck head;
 *   - a dead helper ends the requests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>

#include "ci.h"
#include "javaprocs.h"

#define S 1000000000ULL

struct fake {
	unsigned requests, layouts, dels, reloads;
	uint32_t last_pid;
	bool last_wants_layout;
	int request_err;
	unsigned asked[64]; /* requests by pid */
};

static int fake_request(void *ctx, uint32_t pid, uint64_t start, const struct hs_jvm *jvm,
			uint64_t bias)
{
	struct fake *f = ctx;

	(void)start;
	(void)bias;
	if (f->request_err)
		return f->request_err;
	f->requests++;
	f->last_pid = pid;
	if (pid < 64)
		f->asked[pid]++;
	f->last_wants_layout = jvm != NULL;
	return 0;
}

static void fake_reloaded(void *ctx, uint32_t pid, uint64_t start)
{
	(void)pid;
	(void)start;
	((struct fake *)ctx)->reloads++;
}

static int fake_set_layout(void *ctx, uint32_t pid, const struct stackd_hs_proc *e)
{
	(void)pid;
	assert_true(e->nr_heaps >= 1);
	((struct fake *)ctx)->layouts++;
	return 0;
}

static void fake_del_layout(void *ctx, uint32_t pid, uint64_t start)
{
	(void)pid;
	(void)start;
	((struct fake *)ctx)->dels++;
}

static struct procmaps *maps_of(const char *path)
{
	struct procmaps *m = calloc(1, sizeof(*m) + sizeof(m->maps[0]));

	assert_non_null(m);
	m->maps = (struct procmap *)(m + 1);
	m->nr = 1;
	m->maps[0].start = 0x7f0000000000ULL;
	m->maps[0].end = 0x7f0000100000ULL;
	m->maps[0].perms = PROCMAP_EXEC;
	m->maps[0].path = path;
	return m;
}

static struct javaprocs *new_jp_root(struct fake *f, const char *root)
{
	const struct javaprocs_ops ops = {.ctx = f,
					  .request = fake_request,
					  .reloaded = fake_reloaded,
					  .set_layout = fake_set_layout,
					  .del_layout = fake_del_layout};
	struct javaprocs *j;

	assert_int_equal(javaprocs_new(root, &ops, 100, &j), 0);
	return j;
}

/* A proc root without the files: libjvm.so is not probed, requests carry no layout. */
static struct javaprocs *new_jp(struct fake *f)
{
	return new_jp_root(f, "/nonexistent");
}

static struct jattach_result answer(const struct javaprocs *j, uint32_t pid, uint64_t start,
				    int status)
{
	return (struct jattach_result){
	    .pid = (pid_t)pid, .start_ticks = javaprocs_ticks(j, start), .status = status};
}

static void test_schedule(void **state)
{
	struct fake f = {0};
	struct javaprocs *j = new_jp(&f);
	struct procmaps *jvm = maps_of("/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so");
	struct procmaps *sh = maps_of("/usr/bin/dash");
	struct javaprocs_stats st;
	struct jattach_result r;
	uint64_t t = 100 * S, start = 5 * S;

	(void)state;
	assert_false(javaprocs_update(j, 10, start, sh, t));
	assert_true(javaprocs_update(j, 20, start, jvm, t));
	javaprocs_tick(j, t + S / 2);
	assert_int_equal(f.requests, 0);
	javaprocs_tick(j, t + S);
	assert_int_equal(f.requests, 1);
	assert_int_equal(f.last_pid, 20);
	r = answer(j, 20, start, JATTACH_OK);
	javaprocs_on_result(j, &r, t + S);
	assert_int_equal(f.reloads, 1);
	/* Unnamed code 1 s later: not yet; 2 s later: asked. */
	javaprocs_note_unnamed(j, 20, start, t + 2 * S);
	javaprocs_tick(j, t + 2 * S);
	assert_int_equal(f.requests, 1);
	javaprocs_note_unnamed(j, 20, start, t + 3 * S);
	javaprocs_tick(j, t + 3 * S);
	assert_int_equal(f.requests, 2);
	r = answer(j, 20, start, JATTACH_OK);
	javaprocs_on_result(j, &r, t + 3 * S);
	/* The next gap is 4 s. */
	javaprocs_note_unnamed(j, 20, start, t + 6 * S);
	javaprocs_tick(j, t + 6 * S);
	assert_int_equal(f.requests, 2);
	javaprocs_note_unnamed(j, 20, start, t + 7 * S);
	javaprocs_tick(j, t + 7 * S);
	assert_int_equal(f.requests, 3);
	/* Another process's answer, or an old one of this pid, moves nothing. */
	r = answer(j, 20, start + 10 * S, JATTACH_OK);
	javaprocs_on_result(j, &r, t + 7 * S);
	assert_int_equal(f.reloads, 2);
	javaprocs_get_stats(j, &st);
	assert_int_equal(st.jvms, 1);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.results[JATTACH_OK], 3);
	javaprocs_free(j);
	free(jvm);
	free(sh);
}

static void test_failures(void **state)
{
	struct fake f = {0};
	struct javaprocs *j = new_jp(&f);
	struct procmaps *jvm = maps_of("/opt/jdk/lib/server/libjvm.so");
	struct javaprocs_stats st;
	struct jattach_result r;
	uint64_t t = 100 * S;

	(void)state;
	/* No SIGQUIT handler yet: three tries, 2 s apart, then never. */
	javaprocs_update(j, 30, 7 * S, jvm, t);
	for (int i = 0; i < 3; i++) {
		t += 2 * S;
		javaprocs_tick(j, t);
		assert_int_equal(f.requests, (unsigned)i + 1);
		r = answer(j, 30, 7 * S, JATTACH_NOT_JVM);
		javaprocs_on_result(j, &r, t);
	}
	for (int i = 0; i < 10; i++)
		javaprocs_tick(j, t += 60 * S);
	assert_int_equal(f.requests, 3);
	/* A refusing JVM: twice, then never. */
	f.requests = 0;
	javaprocs_update(j, 31, 8 * S, jvm, t);
	for (int i = 0; i < 5; i++) {
		t += 15 * S;
		javaprocs_tick(j, t);
		r = answer(j, 31, 8 * S, JATTACH_NO_SOCKET);
		javaprocs_on_result(j, &r, t);
	}
	assert_int_equal(f.requests, 2);
	/* An answer that never comes counts as a failure after JAVAPROCS_LOST_NS. */
	f.requests = 0;
	javaprocs_update(j, 32, 9 * S, jvm, t);
	javaprocs_tick(j, t += 2 * S);
	assert_int_equal(f.requests, 1);
	javaprocs_tick(j, t += JAVAPROCS_LOST_NS);
	javaprocs_get_stats(j, &st);
	assert_int_equal(st.lost, 1);
	assert_int_equal(st.given_up, 2);
	/* A full queue keeps the request due. */
	f.request_err = -EAGAIN;
	javaprocs_update(j, 33, 9 * S, jvm, t);
	javaprocs_tick(j, t += 2 * S);
	assert_int_equal(f.asked[33], 0);
	f.request_err = 0;
	javaprocs_tick(j, t);
	assert_int_equal(f.asked[33], 1);
	javaprocs_free(j);
	free(jvm);
}

#define LIBJVM "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so"

static void test_layouts_released(void **state)
{
	struct fake f = {0};
	/* This process "maps" the JDK's libjvm.so: it is probed through /proc/self/root. */
	struct javaprocs *j = new_jp_root(&f, "/proc");
	struct procmaps *jvm = maps_of(LIBJVM);
	uint32_t me = (uint32_t)getpid();
	struct javaprocs_stats st;
	struct jattach_result r;
	uint64_t t = 100 * S;

	(void)state;
	if (access(LIBJVM, R_OK))
		skip_or_fail("no OpenJDK 17 at " LIBJVM " (Debian openjdk-17-jdk-headless)");
	assert_true(javaprocs_update(j, me, S, jvm, t));
	javaprocs_tick(j, t += 2 * S);
	assert_true(f.last_wants_layout);
	r = answer(j, me, S, JATTACH_NO_SOCKET);
	r.has_layout = true;
	r.layout = (struct hs_layout){.blob_code_begin = 0x20,
				      .blob_code_end = 0x28,
				      .blob_frame_size = 0x1c,
				      .blob_frame_complete = 0x14,
				      .heapblock_size = 16,
				      .log2_segment = 7,
				      .nr_heaps = 1,
				      .heaps = {{.low = 0x1000, .high = 0x2000, .segmap = 0x3000}}};
	/* The layout comes whatever the attach gave. */
	javaprocs_on_result(j, &r, t);
	assert_int_equal(f.layouts, 1);
	/* Asked again (one failure): no layout wanted any more. */
	javaprocs_tick(j, t += 20 * S);
	assert_false(f.last_wants_layout);
	/* Gone: the entry goes with the slot, once. */
	r = answer(j, me, S, JATTACH_GONE);
	javaprocs_on_result(j, &r, t);
	assert_int_equal(f.dels, 1);
	javaprocs_drop(j, me, S);
	assert_int_equal(f.dels, 1);
	/* A new process of the pid takes the slot: the old entry is not left behind. */
	assert_true(javaprocs_update(j, me, 2 * S, jvm, t));
	javaprocs_tick(j, t += 2 * S);
	r = answer(j, me, 2 * S, JATTACH_OK);
	r.has_layout = true;
	r.layout.nr_heaps = 1;
	r.layout.heaps[0] = (struct hs_heap){.low = 0x1000, .high = 0x2000, .segmap = 0x3000};
	r.layout.blob_code_begin = 0x20;
	r.layout.blob_code_end = 0x28;
	r.layout.blob_frame_size = 0x1c;
	r.layout.blob_frame_complete = 0x14;
	javaprocs_on_result(j, &r, t);
	assert_int_equal(f.layouts, 2);
	assert_true(javaprocs_update(j, me, 3 * S, jvm, t)); /* pid reused again */
	assert_int_equal(f.dels, 2);
	javaprocs_get_stats(j, &st);
	assert_int_equal(st.probes, 1); /* one probe of the file for all three */
	assert_int_equal(st.layouts, 2);
	javaprocs_free(j);
	free(jvm);
}

static void test_window_entry(void **state)
{
	struct hs_layout l = {.blob_code_begin = 0x20,
			      .blob_code_end = 0x28,
			      .blob_frame_size = 0x1c,
			      .blob_frame_complete = 0x14,
			      .heapblock_size = 16,
			      .log2_segment = 7,
			      .nr_heaps = 2};
	struct stackd_hs_proc e;

	(void)state;
	assert_int_equal(javaprocs_hs_entry(&l, 42, &e), 0);
	assert_int_equal(e.blob_win, 0x14);
	assert_int_equal(e.code_begin, 0x0c);
	assert_int_equal(e.code_end, 0x14);
	assert_int_equal(e.frame_size, 0x08);
	assert_int_equal(e.frame_complete, 0);
	assert_int_equal(e.start_boottime, 42);
	/* Fields further apart than the walk's window: refused. */
	l.blob_code_end = 0x200;
	assert_int_equal(javaprocs_hs_entry(&l, 42, &e), -EINVAL);
	l.blob_code_end = 0x28;
	l.nr_heaps = 0;
	assert_int_equal(javaprocs_hs_entry(&l, 42, &e), -EINVAL);
}

static void test_round_robin_and_gone(void **state)
{
	struct fake f = {0};
	struct javaprocs *j = new_jp(&f);
	struct procmaps *jvm = maps_of("/opt/jdk/lib/server/libjvm.so");
	uint64_t t = 100 * S;

	(void)state;
	for (uint32_t pid = 1; pid <= 12; pid++)
		javaprocs_update(j, pid, S, jvm, t);
	/* 4 a tick: three ticks ask all twelve, none twice. */
	for (int k = 0; k < 3; k++) {
		unsigned before = f.requests;

		javaprocs_tick(j, t += 2 * S);
		assert_int_equal(f.requests, before + JAVAPROCS_PER_TICK);
	}
	assert_int_equal(f.requests, 12);
	for (uint32_t pid = 1; pid <= 12; pid++)
		assert_int_equal(f.asked[pid], 1);
	javaprocs_helper_gone(j);
	javaprocs_update(j, 13, S, jvm, t);
	javaprocs_tick(j, t += 10 * S);
	assert_int_equal(f.requests, 12);
	javaprocs_free(j);
	free(jvm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_schedule),
	    cmocka_unit_test(test_failures),
	    cmocka_unit_test(test_layouts_released),
	    cmocka_unit_test(test_window_entry),
	    cmocka_unit_test(test_round_robin_and_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
