// SPDX-License-Identifier: Apache-2.0
/*
 * The unwind table manager against a fake kernel: a row pool and a table of
 * process entries that check, on every row write, that no installed entry
 * names the rows being written and that a quiesce came after the last entry
 * that named them was rewritten or deleted. Covers allocation and sharing,
 * eviction order (unreferenced before referenced, least recently used first),
 * the rewrite of referencing entries, NO_ROOM, NO_TABLE, ANON, more than
 * STACKD_UNWIND_MAX_MAPPINGS mappings, fragmentation and a table bigger than
 * the pool.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "unwtables.h"

#define POOL_MAX  4096
#define MAX_PROCS 8
#define MAX_OBJS  512

/* ---- the fake kernel ------------------------------------------------------------------------ */

struct fake_proc {
	uint32_t tgid; /* 0: free slot */
	struct stackd_unwind_proc e;
};

struct fake {
	uint32_t pool_rows;
	struct cfitab_row pool[POOL_MAX];
	uint64_t row_unnamed_seq[POOL_MAX]; /* when an entry naming the row last went away */
	uint64_t seq, last_quiesce_seq;
	struct fake_proc procs[MAX_PROCS];
	bool procs_full; /* set_proc of a new tgid answers -E2BIG */
	unsigned nr_writes, nr_sets, nr_dels, nr_quiesces, nr_get_table;
	/* Objects by path: "/o<N>" is object N with rows[N] rows (0: -ENOENT). */
	uint32_t rows[MAX_OBJS];
	struct cfitab_row buf[POOL_MAX + 64];
	/* The order of calls: 'w'rite, 's'et, 'd'el, 'q'uiesce. */
	char log[4096];
	size_t log_len;
};

static struct fake F;

static void log_op(char c)
{
	if (F.log_len + 1 < sizeof(F.log))
		F.log[F.log_len++] = c;
}

static struct fake_proc *fake_find(uint32_t tgid)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (F.procs[i].tgid == tgid)
			return &F.procs[i];
	return NULL;
}

/* The rows an entry names stop being named now. */
static void unname(const struct stackd_unwind_proc *e)
{
	for (uint32_t i = 0; i < e->nr; i++)
		for (uint32_t r = 0; r < e->maps[i].nr_rows; r++)
			F.row_unnamed_seq[e->maps[i].first_row + r] = F.seq;
}

static bool row_is_named(uint32_t row)
{
	for (int i = 0; i < MAX_PROCS; i++) {
		const struct stackd_unwind_proc *e = &F.procs[i].e;

		if (!F.procs[i].tgid)
			continue;
		for (uint32_t k = 0; k < e->nr; k++)
			if (row >= e->maps[k].first_row &&
			    row < e->maps[k].first_row + e->maps[k].nr_rows)
				return true;
	}
	return false;
}

static int fake_write_rows(void *ctx, uint32_t first, const struct cfitab_row *rows, uint32_t nr)
{
	(void)ctx;
	log_op('w');
	F.nr_writes++;
	assert_true(first + nr <= F.pool_rows);
	for (uint32_t i = 0; i < nr; i++) {
		assert_false(row_is_named(first + i));
		/* Named once: a quiesce must have come after the entry went away. */
		assert_true(F.row_unnamed_seq[first + i] < F.last_quiesce_seq ||
			    !F.row_unnamed_seq[first + i]);
		F.pool[first + i] = rows[i];
	}
	return 0;
}

static int fake_set_proc(void *ctx, uint32_t tgid, const struct stackd_unwind_proc *p,
			 bool only_existing)
{
	struct fake_proc *fp = fake_find(tgid);

	(void)ctx;
	log_op('s');
	F.nr_sets++;
	F.seq++;
	/* The kernel's invariants: sorted, disjoint, inside the pool, flags agree. */
	assert_true(p->nr <= STACKD_UNWIND_MAX_MAPPINGS);
	for (uint32_t i = 0; i < p->nr; i++) {
		const struct stackd_unwind_mapping *m = &p->maps[i];

		assert_true(m->start < m->end);
		if (i)
			assert_true(p->maps[i - 1].end <= m->start);
		assert_true(m->first_row + m->nr_rows <= F.pool_rows);
		assert_true(!m->nr_rows == !!m->flags);
	}
	if (!fp && only_existing)
		return -ENOENT;
	if (!fp) {
		if (F.procs_full)
			return -E2BIG;
		fp = fake_find(0);
		if (!fp)
			return -E2BIG;
	} else {
		unname(&fp->e);
	}
	fp->tgid = tgid;
	fp->e = *p;
	return 0;
}

static int fake_del_proc(void *ctx, uint32_t tgid, uint64_t start)
{
	struct fake_proc *fp = fake_find(tgid);

	(void)ctx;
	log_op('d');
	F.nr_dels++;
	F.seq++;
	if (!fp || fp->e.start_boottime != start)
		return 0;
	unname(&fp->e);
	fp->tgid = 0;
	return 1;
}

static int fake_quiesce(void *ctx)
{
	(void)ctx;
	log_op('q');
	F.nr_quiesces++;
	F.last_quiesce_seq = ++F.seq;
	return 0;
}

static int fake_get_table(void *ctx, uint32_t tgid, const struct procmaps *maps,
			  const struct procmap *m, struct unwtables_table *out)
{
	unsigned n;

	(void)ctx;
	(void)tgid;
	(void)maps;
	F.nr_get_table++;
	if (!strcmp(m->path, "/unreadable"))
		return -EACCES;
	if (!strcmp(m->path, "[vdso]"))
		n = 1;
	else if (sscanf(m->path, "/o%u", &n) != 1 || n >= MAX_OBJS)
		return -ENOENT;
	if (!F.rows[n])
		return -ENOENT;
	assert_true(F.rows[n] <= sizeof(F.buf) / sizeof(F.buf[0]));
	/* Rows that say whose they are: rule = object number. */
	for (uint32_t i = 0; i < F.rows[n]; i++)
		F.buf[i] = (struct cfitab_row){.pc = i * 16, .rule = n};
	out->rows = F.buf;
	out->nr_rows = F.rows[n];
	out->obj_id = 1000 + n;
	out->adj = m->start - m->offset;
	return 0;
}

static const struct unwtables_ops fake_ops = {
    .get_table = fake_get_table,
    .write_rows = fake_write_rows,
    .set_proc = fake_set_proc,
    .del_proc = fake_del_proc,
    .quiesce = fake_quiesce,
};

static struct unwtables *fake_new(uint32_t pool_rows)
{
	struct unwtables *t = NULL;

	memset(&F, 0, sizeof(F));
	F.pool_rows = pool_rows;
	assert_int_equal(unwtables_new(pool_rows, &fake_ops, &t), 0);
	return t;
}

/* ---- maps snapshots -------------------------------------------------------------------------- */

struct snap {
	struct procmaps pm;
	struct procmap maps[600];
	char paths[600][24];
};

static void snap_init(struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->pm.maps = s->maps;
}

static void snap_add(struct snap *s, uint64_t start, uint64_t end, const char *path, bool exec)
{
	struct procmap *m = &s->maps[s->pm.nr];

	assert_true(s->pm.nr < 600);
	snprintf(s->paths[s->pm.nr], sizeof(s->paths[0]), "%s", path);
	*m = (struct procmap){.start = start,
			      .end = end,
			      .perms = PROCMAP_READ | (exec ? PROCMAP_EXEC : 0),
			      .path = s->paths[s->pm.nr]};
	s->pm.nr++;
}

/* A process mapping objects @objs (0-terminated), one 64 KiB text mapping each. */
static void snap_objs(struct snap *s, const unsigned *objs)
{
	char path[24];

	snap_init(s);
	for (unsigned i = 0; objs[i]; i++) {
		snprintf(path, sizeof(path), "/o%u", objs[i]);
		snap_add(s, 0x400000 + (uint64_t)i * 0x100000, 0x410000 + (uint64_t)i * 0x100000,
			 path, true);
	}
}

static const struct stackd_unwind_mapping *kmap(uint32_t tgid, uint32_t i)
{
	struct fake_proc *fp = fake_find(tgid);

	assert_non_null(fp);
	assert_true(i < fp->e.nr);
	return &fp->e.maps[i];
}

/* Every table an installed entry names holds its object's rows. */
static void check_pool(void)
{
	for (int i = 0; i < MAX_PROCS; i++) {
		const struct stackd_unwind_proc *e = &F.procs[i].e;

		if (!F.procs[i].tgid)
			continue;
		for (uint32_t k = 0; k < e->nr; k++) {
			const struct stackd_unwind_mapping *m = &e->maps[k];

			for (uint32_t r = 0; r < m->nr_rows; r++) {
				assert_int_equal(F.pool[m->first_row + r].pc, r * 16);
				assert_int_equal(F.pool[m->first_row + r].rule,
						 F.pool[m->first_row].rule);
			}
			if (m->nr_rows)
				assert_int_equal(F.rows[F.pool[m->first_row].rule], m->nr_rows);
		}
	}
}

static struct unwtables_stats stats(struct unwtables *t)
{
	struct unwtables_stats s;

	unwtables_get_stats(t, &s);
	return s;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static void test_alloc_and_share(void **state)
{
	struct unwtables *t = fake_new(100);
	struct snap *s = calloc(1, sizeof(*s));
	const struct stackd_unwind_mapping *m;

	(void)state;
	F.rows[2] = 10; /* the executable */
	F.rows[3] = 20; /* libc */
	F.rows[1] = 2;	/* the vDSO */
	snap_init(s);
	snap_add(s, 0x400000, 0x401000, "/o2", false); /* not executable: no entry */
	snap_add(s, 0x401000, 0x410000, "/o2", true);
	snap_add(s, 0x500000, 0x510000, "", true);	      /* JIT */
	snap_add(s, 0x600000, 0x610000, "/nocfi", true);      /* no CFI */
	snap_add(s, 0x610000, 0x620000, "/unreadable", true); /* cannot be read */
	snap_add(s, 0x7f0000000000, 0x7f0000100000, "/o3", true);
	snap_add(s, 0x7fff00000000, 0x7fff00002000, "[vdso]", true);
	snap_add(s, 0xffffffffff600000, 0xffffffffff601000, "[vsyscall]", true);
	assert_int_equal(unwtables_load(t, 10, 111, &s->pm), 0);

	assert_int_equal(fake_find(10)->e.nr, 6);
	assert_int_equal(fake_find(10)->e.start_boottime, 111);
	m = kmap(10, 0);
	assert_int_equal(m->start, 0x401000);
	assert_int_equal(m->nr_rows, 10);
	assert_int_equal(m->flags, 0);
	assert_int_equal(m->adj, 0x401000);
	assert_int_equal(kmap(10, 1)->flags, STACKD_MAPF_ANON);
	assert_int_equal(kmap(10, 1)->nr_rows, 0);
	assert_int_equal(kmap(10, 2)->flags, STACKD_MAPF_NO_TABLE);
	assert_int_equal(kmap(10, 3)->flags, STACKD_MAPF_NO_TABLE);
	assert_int_equal(kmap(10, 4)->nr_rows, 20);
	assert_int_equal(kmap(10, 5)->nr_rows, 2);
	check_pool();
	assert_int_equal(stats(t).objects, 3);
	assert_int_equal(stats(t).rows_used, 32);
	assert_int_equal(stats(t).refused[UNWTABLES_REFUSED_NO_CFI], 1);
	assert_int_equal(stats(t).refused[UNWTABLES_REFUSED_UNREADABLE], 1);
	assert_int_equal(stats(t).procs, 1);
	assert_int_equal(F.nr_writes, 3);

	/* A second process mapping libc shares its rows: no write. */
	snap_init(s);
	snap_add(s, 0x7e0000000000, 0x7e0000100000, "/o3", true);
	assert_int_equal(unwtables_load(t, 11, 222, &s->pm), 0);
	assert_int_equal(F.nr_writes, 3);
	assert_int_equal(kmap(11, 0)->first_row, kmap(10, 4)->first_row);
	assert_int_equal(stats(t).procs, 2);

	/* Dropping both keeps the tables as a cache; nothing is written again. */
	unwtables_drop(t, 10, 111);
	unwtables_drop(t, 11, 222);
	unwtables_drop(t, 11, 222); /* unknown now: a no-op */
	assert_int_equal(F.nr_dels, 2);
	assert_null(fake_find(10));
	assert_int_equal(stats(t).procs, 0);
	assert_int_equal(stats(t).objects, 3);
	assert_int_equal(stats(t).objects_unreferenced, 3);
	free(s);
	unwtables_free(t);
}

/* Unreferenced objects go first, then the least recently used; the named one's entry is rewritten.
 */
static void test_eviction_order(void **state)
{
	struct unwtables *t = fake_new(30);
	struct snap s;
	size_t before;

	(void)state;
	for (unsigned i = 10; i < 20; i++)
		F.rows[i] = 10;
	snap_objs(&s, (unsigned[]){12, 0});
	assert_int_equal(unwtables_load(t, 2, 1, &s.pm), 0);
	snap_objs(&s, (unsigned[]){11, 0});
	assert_int_equal(unwtables_load(t, 1, 1, &s.pm), 0);
	snap_objs(&s, (unsigned[]){13, 0});
	assert_int_equal(unwtables_load(t, 3, 1, &s.pm), 0);
	unwtables_drop(t, 1, 1); /* object 11 is cached, unreferenced; 12 is the LRU tail */

	/* Full: object 14 takes the unreferenced 11's place, not the older 12's. */
	snap_objs(&s, (unsigned[]){14, 0});
	assert_int_equal(unwtables_load(t, 4, 1, &s.pm), 0);
	assert_int_equal(stats(t).evictions, 1);
	assert_int_equal(stats(t).evictions_referenced, 0);
	assert_int_equal(kmap(2, 0)->nr_rows, 10);
	assert_int_equal(kmap(4, 0)->first_row, 10);
	check_pool();

	/* Nothing unreferenced left: the least recently used (12, process 2) goes. */
	before = F.log_len;
	snap_objs(&s, (unsigned[]){15, 0});
	assert_int_equal(unwtables_load(t, 5, 1, &s.pm), 0);
	assert_int_equal(stats(t).evictions, 2);
	assert_int_equal(stats(t).evictions_referenced, 1);
	assert_int_equal(kmap(2, 0)->nr_rows, 0);
	assert_int_equal(kmap(2, 0)->flags, STACKD_MAPF_NO_ROOM);
	assert_int_equal(kmap(5, 0)->first_row, 0);
	assert_int_equal(kmap(3, 0)->nr_rows, 10);
	/* Process 2 rewritten, then a quiesce, then the write; then process 5 installed. */
	assert_memory_equal(F.log + before, "sqws", 4);
	check_pool();
	unwtables_free(t);
}

/* A table bigger than the pool, and one that only fits by evicting what this load uses. */
static void test_no_room(void **state)
{
	struct unwtables *t = fake_new(100);
	struct snap s;

	(void)state;
	F.rows[10] = 101;
	F.rows[11] = 60;
	F.rows[12] = 60;
	snap_objs(&s, (unsigned[]){10, 11, 12, 0});
	assert_int_equal(unwtables_load(t, 7, 1, &s.pm), 0);
	assert_int_equal(kmap(7, 0)->flags, STACKD_MAPF_NO_ROOM);
	assert_int_equal(kmap(7, 1)->nr_rows, 60);
	assert_int_equal(kmap(7, 2)->flags, STACKD_MAPF_NO_ROOM);
	assert_int_equal(stats(t).refused[UNWTABLES_REFUSED_NO_ROOM], 2);
	assert_int_equal(stats(t).evictions, 0);
	assert_int_equal(stats(t).rows_used, 60);
	check_pool();

	/* Another process with 12 alone may evict 11 (named by 7, not by this load). */
	snap_objs(&s, (unsigned[]){12, 0});
	assert_int_equal(unwtables_load(t, 8, 1, &s.pm), 0);
	assert_int_equal(kmap(8, 0)->nr_rows, 60);
	assert_int_equal(kmap(7, 1)->flags, STACKD_MAPF_NO_ROOM);
	assert_int_equal(stats(t).evictions_referenced, 1);
	check_pool();
	unwtables_free(t);
}

/*
 * A process starved by another's load (its object evicted) is retried once room
 * may have come: not before its gap, not while nothing was freed, never by
 * evicting what another process names, and healed once that process is gone.
 */
static void test_heal(void **state)
{
	struct unwtables *t = fake_new(20);
	const uint64_t S = 1000000000ULL, now = mono_ns();
	uint32_t tgid[4];
	uint64_t start[4];
	struct snap s;

	(void)state;
	F.rows[10] = F.rows[11] = F.rows[12] = 10;
	snap_objs(&s, (unsigned[]){10, 0});
	assert_int_equal(unwtables_load(t, 1, 1, &s.pm), 0);
	/* Process 2's second table only fits in place of process 1's: 1 starves. */
	snap_objs(&s, (unsigned[]){11, 12, 0});
	assert_int_equal(unwtables_load(t, 2, 1, &s.pm), 0);
	assert_int_equal(kmap(1, 0)->flags, STACKD_MAPF_NO_ROOM);
	assert_int_equal(kmap(2, 1)->nr_rows, 10);
	assert_int_equal(stats(t).evictions_referenced, 1);

	/* Not before its first gap (1 s). */
	assert_int_equal(unwtables_starved(t, now, tgid, start, 4), 0);
	assert_int_equal(unwtables_starved(t, now + 2 * S, tgid, start, 4), 1);
	assert_int_equal(tgid[0], 1);
	assert_int_equal(start[0], 1);
	/* The retry may not evict process 2's tables: still starved, 2 untouched. */
	snap_objs(&s, (unsigned[]){10, 0});
	assert_int_equal(unwtables_heal(t, 1, 1, &s.pm), 0);
	assert_int_equal(kmap(1, 0)->flags, STACKD_MAPF_NO_ROOM);
	assert_int_equal(kmap(2, 0)->nr_rows, 10);
	assert_int_equal(kmap(2, 1)->nr_rows, 10);
	assert_int_equal(stats(t).evictions_referenced, 1);
	assert_int_equal(stats(t).retries, 1);
	assert_int_equal(stats(t).healed, 0);
	/* Nothing freed since: not offered, however late. */
	assert_int_equal(unwtables_starved(t, now + 1000 * S, tgid, start, 4), 0);

	/* Process 2 exits: its tables are evictable, but the gap doubled (2 s from the offer). */
	unwtables_drop(t, 2, 1);
	assert_int_equal(unwtables_starved(t, now + 3 * S, tgid, start, 4), 0);
	assert_int_equal(unwtables_starved(t, now + 5 * S, tgid, start, 4), 1);
	assert_int_equal(unwtables_heal(t, 1, 1, &s.pm), 0);
	assert_int_equal(kmap(1, 0)->nr_rows, 10);
	assert_int_equal(kmap(1, 0)->flags, 0);
	assert_int_equal(stats(t).retries, 2);
	assert_int_equal(stats(t).healed, 1);
	check_pool();
	/* Healed: never offered again; a process without an entry cannot be healed. */
	assert_int_equal(unwtables_starved(t, now + 1000 * S, tgid, start, 4), 0);
	assert_int_equal(unwtables_heal(t, 2, 1, &s.pm), -ENOENT);
	unwtables_free(t);
}

/* Fragmented free space: evictions continue until one extent is big enough; extents merge. */
static void test_fragmentation(void **state)
{
	struct unwtables *t = fake_new(30);
	struct snap s;

	(void)state;
	F.rows[11] = 10;
	F.rows[12] = 10;
	F.rows[13] = 10;
	F.rows[14] = 20;
	F.rows[15] = 30;
	snap_objs(&s, (unsigned[]){11, 0});
	assert_int_equal(unwtables_load(t, 1, 1, &s.pm), 0);
	snap_objs(&s, (unsigned[]){12, 0});
	assert_int_equal(unwtables_load(t, 2, 1, &s.pm), 0);
	snap_objs(&s, (unsigned[]){13, 0});
	assert_int_equal(unwtables_load(t, 3, 1, &s.pm), 0);
	unwtables_drop(t, 1, 1);
	unwtables_drop(t, 3, 1);
	/* 20 rows: 11 and 13 free 20 rows but not together; 12 must go too. */
	snap_objs(&s, (unsigned[]){14, 0});
	assert_int_equal(unwtables_load(t, 4, 1, &s.pm), 0);
	assert_int_equal(kmap(4, 0)->nr_rows, 20);
	assert_int_equal(kmap(4, 0)->first_row, 0);
	assert_int_equal(kmap(2, 0)->flags, STACKD_MAPF_NO_ROOM);
	assert_int_equal(stats(t).evictions, 3);
	check_pool();
	/* Everything dropped: the free extents merged back into one of 30 rows. */
	unwtables_drop(t, 2, 1);
	unwtables_drop(t, 4, 1);
	snap_objs(&s, (unsigned[]){15, 0});
	assert_int_equal(unwtables_load(t, 5, 1, &s.pm), 0);
	assert_int_equal(kmap(5, 0)->nr_rows, 30);
	assert_int_equal(stats(t).rows_used, 30);
	assert_int_equal(stats(t).objects, 1);
	check_pool();
	unwtables_free(t);
}

/* Beyond 256 executable mappings: objects first, anonymous runs merged, the rest counted. */
static void test_many_mappings(void **state)
{
	struct unwtables *t = fake_new(POOL_MAX);
	struct snap *s = calloc(1, sizeof(*s));
	struct fake_proc *fp;
	char path[24];

	(void)state;
	snap_init(s);
	/* Two adjacent anonymous mappings low (merged into one), then 300 objects. */
	snap_add(s, 0x10000, 0x20000, "", true);
	snap_add(s, 0x20000, 0x30000, "[anon:jit]", true);
	for (unsigned i = 0; i < 300; i++) {
		F.rows[100 + i] = 2;
		snprintf(path, sizeof(path), "/o%u", 100 + i);
		snap_add(s, 0x100000 + (uint64_t)i * 0x10000, 0x108000 + (uint64_t)i * 0x10000,
			 path, true);
	}
	assert_int_equal(unwtables_load(t, 9, 1, &s->pm), 0);
	fp = fake_find(9);
	assert_int_equal(fp->e.nr, STACKD_UNWIND_MAX_MAPPINGS);
	/* The 256 lowest objects; both JIT mappings lost their place to them. */
	assert_int_equal(fp->e.maps[0].start, 0x100000);
	assert_int_equal(fp->e.maps[255].start, 0x100000 + 255 * 0x10000);
	assert_int_equal(stats(t).mappings_truncated, 300 - 256 + 2);
	check_pool();

	/* With room, the adjacent anonymous mappings are one entry. */
	s->pm.nr = 12;
	assert_int_equal(unwtables_load(t, 9, 1, &s->pm), 0);
	fp = fake_find(9);
	assert_int_equal(fp->e.nr, 11);
	assert_int_equal(fp->e.maps[0].start, 0x10000);
	assert_int_equal(fp->e.maps[0].end, 0x30000);
	assert_int_equal(fp->e.maps[0].flags, STACKD_MAPF_ANON);
	assert_int_equal(stats(t).procs, 1);
	check_pool();
	free(s);
	unwtables_free(t);
}

/* A full kernel map: the process stays on the bridge, its tables cached unreferenced. */
static void test_entry_refused(void **state)
{
	struct unwtables *t = fake_new(100);
	struct snap s;

	(void)state;
	F.rows[10] = 5;
	F.procs_full = true;
	snap_objs(&s, (unsigned[]){10, 0});
	assert_int_equal(unwtables_load(t, 3, 1, &s.pm), -E2BIG);
	assert_null(fake_find(3));
	assert_int_equal(stats(t).procs_refused, 1);
	assert_int_equal(stats(t).procs, 0);
	assert_int_equal(stats(t).objects_unreferenced, 1);
	unwtables_free(t);
}

/* New maps (dlopen, exec): the entry is replaced; what only the old one named becomes a cache. */
static void test_reload(void **state)
{
	struct unwtables *t = fake_new(100);
	struct snap s;

	(void)state;
	F.rows[10] = 5;
	F.rows[11] = 7;
	snap_objs(&s, (unsigned[]){10, 0});
	assert_int_equal(unwtables_load(t, 3, 1, &s.pm), 0);
	snap_objs(&s, (unsigned[]){11, 0});
	assert_int_equal(unwtables_load(t, 3, 1, &s.pm), 0);
	assert_int_equal(fake_find(3)->e.nr, 1);
	assert_int_equal(kmap(3, 0)->nr_rows, 7);
	assert_int_equal(stats(t).procs, 1);
	assert_int_equal(stats(t).objects, 2);
	assert_int_equal(stats(t).objects_unreferenced, 1);
	assert_int_equal(stats(t).loads, 2);
	check_pool();
	unwtables_free(t);
}

/* A file seen before maps to its resident table without get_table, at its own address. */
static void test_file_alias(void **state)
{
	struct unwtables *t = fake_new(10);
	struct snap s;
	unsigned calls;

	(void)state;
	F.rows[10] = 5;
	F.rows[11] = 10;
	snap_init(&s);
	snap_add(&s, 0x401000, 0x410000, "/o10", true);
	s.maps[0].offset = 0x1000;
	s.maps[0].has_file = true;
	s.maps[0].file = (struct procmap_file){.dev = 8, .ino = 42, .size = 4096};
	assert_int_equal(unwtables_load(t, 1, 1, &s.pm), 0);
	calls = F.nr_get_table;
	/* Another process, another address (ASLR): same file, same offset. */
	s.maps[0].start = 0x7f0000001000;
	s.maps[0].end = 0x7f0000010000;
	assert_int_equal(unwtables_load(t, 2, 1, &s.pm), 0);
	assert_int_equal(F.nr_get_table, calls);
	assert_int_equal(kmap(2, 0)->adj, 0x7f0000000000);
	assert_int_equal(kmap(2, 0)->first_row, kmap(1, 0)->first_row);
	assert_int_equal(stats(t).alias_hits, 1);
	/* Another file identity (rewritten in place: new mtime) is asked for. */
	s.maps[0].file.mtime_ns = 1;
	assert_int_equal(unwtables_load(t, 3, 1, &s.pm), 0);
	assert_int_equal(F.nr_get_table, calls + 1);
	/* Evicted (pool of 10 rows), the alias goes with the object. */
	unwtables_drop(t, 1, 1);
	unwtables_drop(t, 2, 1);
	unwtables_drop(t, 3, 1);
	snap_objs(&s, (unsigned[]){11, 0});
	assert_int_equal(unwtables_load(t, 4, 1, &s.pm), 0);
	snap_init(&s);
	snap_add(&s, 0x401000, 0x410000, "/o10", true);
	s.maps[0].offset = 0x1000;
	s.maps[0].has_file = true;
	s.maps[0].file = (struct procmap_file){.dev = 8, .ino = 42, .size = 4096};
	calls = F.nr_get_table;
	assert_int_equal(unwtables_load(t, 5, 1, &s.pm), 0);
	assert_int_equal(F.nr_get_table, calls + 1);
	assert_int_equal(kmap(5, 0)->nr_rows, 5);
	check_pool();
	unwtables_free(t);
}

/* An entry the kernel dropped (exec) is not re-created by an eviction; a reused pid replaces. */
static void test_kernel_dropped(void **state)
{
	struct unwtables *t = fake_new(10);
	struct fake_proc *fp;
	struct snap s;

	(void)state;
	F.rows[10] = 10;
	F.rows[11] = 10;
	snap_objs(&s, (unsigned[]){10, 0});
	assert_int_equal(unwtables_load(t, 6, 1, &s.pm), 0);
	/* The exec tracepoint deletes the entry; the drain has not heard of it yet. */
	fp = fake_find(6);
	unname(&fp->e);
	fp->tgid = 0;
	snap_objs(&s, (unsigned[]){11, 0});
	assert_int_equal(unwtables_load(t, 7, 1, &s.pm), 0);
	assert_null(fake_find(6));
	assert_int_equal(stats(t).procs, 1);
	assert_int_equal(stats(t).errors, 0);
	check_pool();

	/* Pid 7 reused by another process: its entry replaces the old one's. */
	snap_objs(&s, (unsigned[]){11, 0});
	assert_int_equal(unwtables_load(t, 7, 2, &s.pm), 0);
	assert_int_equal(fake_find(7)->e.start_boottime, 2);
	assert_int_equal(stats(t).procs, 1);
	unwtables_drop(t, 7, 1); /* the old process's exit, heard late: the new entry stays */
	assert_non_null(fake_find(7));
	assert_int_equal(stats(t).procs, 1);
	unwtables_drop(t, 7, 2);
	assert_null(fake_find(7));
	assert_int_equal(stats(t).procs, 0);
	assert_int_equal(stats(t).objects_unreferenced, 1);
	unwtables_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alloc_and_share), cmocka_unit_test(test_eviction_order),
	    cmocka_unit_test(test_no_room),	    cmocka_unit_test(test_heal),
	    cmocka_unit_test(test_fragmentation),   cmocka_unit_test(test_many_mappings),
	    cmocka_unit_test(test_entry_refused),   cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_file_alias),	    cmocka_unit_test(test_kernel_dropped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
