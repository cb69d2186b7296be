// SPDX-License-Identifier: Apache-2.0
#include "unwtables.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/hmap.h"
#include "common/list.h"

/* Addresses at or above this are not user space (the legacy [vsyscall] page). */
#define USER_ADDR_END 0x800000000000ULL

/* File identities (and mapping offsets) an object is known under, at most: */
#define OBJ_MAX_ALIASES 8

struct ut_obj;

/*
 * A mapped file a resident object's table was made for. The same file
 * (dev, inode, size, mtime, ctime: never reused together) at the same file
 * offset always gets the same table at a fixed distance from (start -
 * offset), so a process mapping it again needs no call to get_table: no
 * rebuild even when the unwinder's own cache has let the table go.
 */
struct ut_alias {
	struct hnode node;     /* by file key and offset */
	struct ut_alias *next; /* the object's other aliases */
	struct ut_obj *obj;
	uint64_t key[5];
	uint64_t offset;
	uint64_t delta; /* adj - (start - offset) */
};

/* A resident object: its table's rows in the pool. */
struct ut_obj {
	struct hnode node;    /* by obj_id */
	struct list_head lru; /* most recently used first */
	struct ut_alias *aliases;
	uint32_t nr_aliases;
	uint64_t obj_id;
	uint32_t first_row, nr_rows;
	uint32_t refs; /* mappings of installed entries naming it */
	uint64_t pin;  /* == the manager's load_gen: used by the load in progress */
};

struct ut_map {
	struct stackd_unwind_mapping m;
	struct ut_obj *obj; /* NULL: no rows (m.flags says why) */
};

/* A process with an installed entry: what the entry says, to rewrite it on eviction. */
struct ut_proc {
	struct hnode node; /* by (tgid, start_boottime) */
	uint32_t tgid;
	uint64_t start_boottime;
	/*
	 * Starved (a mapping is STACKD_MAPF_NO_ROOM): when it is offered for a
	 * retry next, the gap after that, and the manager's freed_gen it was
	 * last offered at (no room came since: no retry).
	 */
	uint64_t retry_ns, retry_gap_ns, freed_seen;
	uint32_t nr;
	struct ut_map maps[];
};

#define RETRY_FIRST_NS (1ULL * 1000000000ULL)
#define RETRY_MAX_NS   (64ULL * 1000000000ULL)

/* A free run of pool rows. */
struct ut_extent {
	uint32_t start, len;
};

struct unwtables {
	struct unwtables_ops ops;
	uint32_t pool_rows;
	struct hmap objs, procs, aliases;
	struct list_head lru;
	struct ut_extent *free; /* sorted by start, never adjacent (merged) */
	size_t nr_free, cap_free;
	/*
	 * An entry naming rows was rewritten or deleted since the last quiesce:
	 * a program may still be walking with the old one, so no freed extent
	 * may be written before the next quiesce.
	 */
	bool need_quiesce;
	/* A retry of a starved process is loading: evict no object a process names. */
	bool healing;
	uint64_t load_gen;
	uint64_t freed_gen; /* bumped when rows become free or evictable */
	struct unwtables_stats stats;
	struct ut_map work[STACKD_UNWIND_MAX_MAPPINGS]; /* the entry being built */
	struct stackd_unwind_proc scratch;		/* what set_proc is handed */
};

/* Keyed by tgid alone, as the kernel's map is: one record per entry the kernel can hold. */
static uint64_t proc_hash(uint32_t tgid)
{
	return hash_u64(tgid);
}

int unwtables_new(uint32_t pool_rows, const struct unwtables_ops *ops, struct unwtables **out)
{
	struct unwtables *t;

	if (!ops || !ops->get_table || !ops->write_rows || !ops->set_proc || !ops->del_proc ||
	    !ops->quiesce)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ops = *ops;
	t->pool_rows = pool_rows;
	hmap_init(&t->objs);
	hmap_init(&t->procs);
	hmap_init(&t->aliases);
	list_init(&t->lru);
	t->stats.pool_rows = pool_rows;
	if (pool_rows) {
		t->free = malloc(sizeof(*t->free));
		if (!t->free) {
			free(t);
			return -ENOMEM;
		}
		t->free[0] = (struct ut_extent){.start = 0, .len = pool_rows};
		t->nr_free = t->cap_free = 1;
	}
	*out = t;
	return 0;
}

void unwtables_free(struct unwtables *t)
{
	struct hnode *n, *tmp;
	size_t i;

	if (!t)
		return;
	hmap_for_each_safe (&t->procs, n, tmp, i)
		free(container_of(n, struct ut_proc, node));
	hmap_for_each_safe (&t->aliases, n, tmp, i)
		free(container_of(n, struct ut_alias, node));
	hmap_for_each_safe (&t->objs, n, tmp, i)
		free(container_of(n, struct ut_obj, node));
	hmap_fini(&t->aliases);
	hmap_fini(&t->procs);
	hmap_fini(&t->objs);
	free(t->free);
	free(t);
}

/* ---- the row pool: first fit over sorted, merged free extents ------------------------------ */

static bool extent_alloc(struct unwtables *t, uint32_t nr, uint32_t *first)
{
	for (size_t i = 0; i < t->nr_free; i++) {
		struct ut_extent *e = &t->free[i];

		if (e->len < nr)
			continue;
		*first = e->start;
		e->start += nr;
		e->len -= nr;
		if (!e->len) {
			memmove(e, e + 1, (t->nr_free - i - 1) * sizeof(*e));
			t->nr_free--;
		}
		return true;
	}
	return false;
}

/*
 * Give [first, first + nr) back. Free extents never outnumber resident
 * objects + 1 and the array only grows, so a failed growth keeps the rows
 * lost (counted as used) rather than corrupting the list.
 */
static void extent_free(struct unwtables *t, uint32_t first, uint32_t nr)
{
	size_t i = 0;
	bool prev, next;

	while (i < t->nr_free && t->free[i].start < first)
		i++;
	prev = i > 0 && t->free[i - 1].start + t->free[i - 1].len == first;
	next = i < t->nr_free && first + nr == t->free[i].start;
	if (prev && next) {
		t->free[i - 1].len += nr + t->free[i].len;
		memmove(&t->free[i], &t->free[i + 1], (t->nr_free - i - 1) * sizeof(t->free[0]));
		t->nr_free--;
	} else if (prev) {
		t->free[i - 1].len += nr;
	} else if (next) {
		t->free[i].start = first;
		t->free[i].len += nr;
	} else {
		if (t->nr_free == t->cap_free) {
			size_t cap = t->cap_free ? 2 * t->cap_free : 8;
			struct ut_extent *f = realloc(t->free, cap * sizeof(*f));

			if (!f) {
				t->stats.errors++;
				return;
			}
			t->free = f;
			t->cap_free = cap;
		}
		memmove(&t->free[i + 1], &t->free[i], (t->nr_free - i) * sizeof(t->free[0]));
		t->free[i] = (struct ut_extent){.start = first, .len = nr};
		t->nr_free++;
	}
	t->stats.rows_used -= nr;
}

/* ---- process entries ----------------------------------------------------------------------- */

/* The record of @tgid's entry, whichever process (start time) it is for. */
static struct ut_proc *proc_find_tgid(struct unwtables *t, uint32_t tgid)
{
	for (struct hnode *n = hmap_first(&t->procs, proc_hash(tgid)); n; n = hmap_next(n)) {
		struct ut_proc *p = container_of(n, struct ut_proc, node);

		if (p->tgid == tgid)
			return p;
	}
	return NULL;
}

static struct ut_proc *proc_find(struct unwtables *t, uint32_t tgid, uint64_t start)
{
	struct ut_proc *p = proc_find_tgid(t, tgid);

	return p && p->start_boottime == start ? p : NULL;
}

/* @only_existing: rewrite, never re-create an entry the kernel dropped (exec, exit). */
static int push_entry(struct unwtables *t, uint32_t tgid, uint64_t start, const struct ut_map *maps,
		      uint32_t nr, bool only_existing)
{
	struct stackd_unwind_proc *e = &t->scratch;
	int err;

	memset(e, 0, sizeof(*e));
	e->start_boottime = start;
	e->nr = nr;
	e->bridge_left = STACKD_STALE_BRIDGE;
	for (uint32_t i = 0; i < nr; i++)
		e->maps[i] = maps[i].m;
	err = t->ops.set_proc(t->ops.ctx, tgid, e, only_existing);
	if (err && err != -E2BIG && !(only_existing && err == -ENOENT))
		t->stats.errors++;
	return err;
}

static void unref_maps(struct unwtables *t, const struct ut_map *maps, uint32_t nr)
{
	for (uint32_t i = 0; i < nr; i++) {
		if (maps[i].obj) {
			if (!--maps[i].obj->refs)
				t->freed_gen++; /* evictable now: room for a starved process */
			t->need_quiesce = true;
		}
	}
}

static bool is_starved(const struct ut_map *maps, uint32_t nr)
{
	for (uint32_t i = 0; i < nr; i++)
		if (maps[i].m.flags & STACKD_MAPF_NO_ROOM)
			return true;
	return false;
}

/* @p became starved (or stays so): its first retry comes after RETRY_FIRST_NS. */
static void starve(struct unwtables *t, struct ut_proc *p, const struct ut_proc *old)
{
	if (old && old->retry_gap_ns) {
		p->retry_ns = old->retry_ns;
		p->retry_gap_ns = old->retry_gap_ns;
		p->freed_seen = old->freed_seen;
		return;
	}
	p->retry_ns = mono_ns() + RETRY_FIRST_NS;
	p->retry_gap_ns = RETRY_FIRST_NS;
	p->freed_seen = t->freed_gen - 1; /* whatever frees from now on */
}

static void proc_forget(struct unwtables *t, struct ut_proc *p)
{
	unref_maps(t, p->maps, p->nr);
	hmap_remove(&t->procs, &p->node);
	free(p);
	t->stats.procs--;
}

/*
 * Evicting a named object: every entry naming it is rewritten first, its
 * mappings falling back to frame pointers. An entry the kernel dropped (an
 * exec or exit the drain has not heard of yet) is not re-created: the new
 * image would be walked with the old one's tables. One that cannot be
 * rewritten is deleted, so that nothing names the rows any more either way.
 */
static void unname_obj(struct unwtables *t, struct ut_obj *o)
{
	struct hnode *n, *tmp;
	size_t i;

	hmap_for_each_safe (&t->procs, n, tmp, i) {
		struct ut_proc *p = container_of(n, struct ut_proc, node);
		bool named = false;
		int err;

		for (uint32_t k = 0; k < p->nr; k++) {
			if (p->maps[k].obj != o)
				continue;
			p->maps[k].obj = NULL;
			p->maps[k].m.first_row = 0;
			p->maps[k].m.nr_rows = 0;
			p->maps[k].m.flags |= STACKD_MAPF_NO_ROOM;
			o->refs--;
			named = true;
		}
		if (!named)
			continue;
		if (!p->retry_gap_ns)
			starve(t, p, NULL);
		t->need_quiesce = true;
		err = push_entry(t, p->tgid, p->start_boottime, p->maps, p->nr, true);
		if (err) {
			if (err != -ENOENT)
				t->ops.del_proc(t->ops.ctx, p->tgid, p->start_boottime);
			proc_forget(t, p);
		}
	}
}

static void obj_evict(struct unwtables *t, struct ut_obj *o)
{
	if (o->refs) {
		unname_obj(t, o);
		t->stats.evictions_referenced++;
	}
	while (o->aliases) {
		struct ut_alias *a = o->aliases;

		o->aliases = a->next;
		hmap_remove(&t->aliases, &a->node);
		free(a);
	}
	hmap_remove(&t->objs, &o->node);
	list_del(&o->lru);
	extent_free(t, o->first_row, o->nr_rows);
	t->freed_gen++;
	t->stats.objects--;
	t->stats.evictions++;
	free(o);
}

/* Least recently used first, objects no process names before named ones; never a pinned one. */
static struct ut_obj *pick_victim(struct unwtables *t)
{
	struct ut_obj *named = NULL;

	for (struct list_head *l = t->lru.prev; l != &t->lru; l = l->prev) {
		struct ut_obj *o = list_entry(l, struct ut_obj, lru);

		if (o->pin == t->load_gen)
			continue;
		if (!o->refs)
			return o;
		if (!named)
			named = o;
	}
	/* A retry must not starve another process to feed one: no thrashing. */
	return t->healing ? NULL : named;
}

/* ---- objects --------------------------------------------------------------------------------- */

static struct ut_obj *obj_find(struct unwtables *t, uint64_t obj_id)
{
	for (struct hnode *n = hmap_first(&t->objs, hash_u64(obj_id)); n; n = hmap_next(n)) {
		struct ut_obj *o = container_of(n, struct ut_obj, node);

		if (o->obj_id == obj_id)
			return o;
	}
	return NULL;
}

/* Rows of pinned objects: what eviction cannot free during this load. */
static uint64_t pinned_rows(struct unwtables *t)
{
	uint64_t rows = 0;

	for (struct list_head *l = t->lru.next; l != &t->lru; l = l->next) {
		struct ut_obj *o = list_entry(l, struct ut_obj, lru);

		if (o->pin == t->load_gen)
			rows += o->nr_rows;
	}
	return rows;
}

/* Room for @nr rows, evicting what must go; false when even that cannot make it. */
static bool make_room(struct unwtables *t, uint32_t nr, uint32_t *first)
{
	struct ut_obj *victim;

	if (nr > t->pool_rows || nr > t->pool_rows - pinned_rows(t))
		return false;
	while (!extent_alloc(t, nr, first)) {
		victim = pick_victim(t);
		if (!victim)
			return false;
		obj_evict(t, victim);
	}
	return true;
}

/* The table resident, or NULL (counted as refused: no room, or the write failed). */
static struct ut_obj *obj_resident(struct unwtables *t, const struct unwtables_table *tab)
{
	struct ut_obj *o = obj_find(t, tab->obj_id);
	uint32_t first;

	if (o)
		goto used;
	if (!tab->nr_rows || !make_room(t, tab->nr_rows, &first))
		goto refused;
	/* The extent may be one an old entry named: no walk may still read it. */
	if (t->need_quiesce) {
		t->stats.quiesces++;
		if (t->ops.quiesce(t->ops.ctx))
			goto unwritten;
		t->need_quiesce = false;
	}
	if (t->ops.write_rows(t->ops.ctx, first, tab->rows, tab->nr_rows))
		goto unwritten;
	o = calloc(1, sizeof(*o));
	if (!o)
		goto unwritten;
	o->obj_id = tab->obj_id;
	o->first_row = first;
	o->nr_rows = tab->nr_rows;
	if (hmap_insert(&t->objs, &o->node, hash_u64(o->obj_id))) {
		free(o);
		goto unwritten;
	}
	list_add(&o->lru, &t->lru);
	t->stats.objects++;
	t->stats.rows_used += tab->nr_rows;
used:
	list_move(&o->lru, &t->lru);
	o->pin = t->load_gen;
	return o;
unwritten:
	t->stats.errors++;
	t->stats.rows_used += tab->nr_rows; /* extent_free takes them off again */
	extent_free(t, first, tab->nr_rows);
refused:
	t->stats.refused[UNWTABLES_REFUSED_NO_ROOM]++;
	return NULL;
}

/* ---- file aliases -------------------------------------------------------------------------- */

static uint64_t alias_hash(const uint64_t key[5], uint64_t offset)
{
	uint64_t h = hash_u64(offset);

	for (int i = 0; i < 5; i++)
		h = hash_combine(h, key[i]);
	return h;
}

static struct ut_alias *alias_find(struct unwtables *t, const struct procmap *pm)
{
	uint64_t key[5];

	procmap_file_key(&pm->file, key);
	for (struct hnode *n = hmap_first(&t->aliases, alias_hash(key, pm->offset)); n;
	     n = hmap_next(n)) {
		struct ut_alias *a = container_of(n, struct ut_alias, node);

		if (a->offset == pm->offset && !memcmp(a->key, key, sizeof(key)))
			return a;
	}
	return NULL;
}

/* Best effort: without the alias the next process only costs a get_table call. */
static void alias_add(struct unwtables *t, struct ut_obj *o, const struct procmap *pm, uint64_t adj)
{
	struct ut_alias *a;

	if (o->nr_aliases >= OBJ_MAX_ALIASES || alias_find(t, pm))
		return;
	a = calloc(1, sizeof(*a));
	if (!a)
		return;
	procmap_file_key(&pm->file, a->key);
	a->offset = pm->offset;
	a->delta = adj - (pm->start - pm->offset);
	a->obj = o;
	if (hmap_insert(&t->aliases, &a->node, alias_hash(a->key, a->offset))) {
		free(a);
		return;
	}
	a->next = o->aliases;
	o->aliases = a;
	o->nr_aliases++;
}

/* ---- loading a process ----------------------------------------------------------------------- */

static bool is_anon(const struct procmap *m)
{
	if (!strcmp(m->path, "[vdso]"))
		return false;
	return !m->path[0] || m->path[0] == '[';
}

/* One mapping with a table if it has one, its flags otherwise. */
static void fill_mapping(struct unwtables *t, uint32_t tgid, const struct procmaps *maps,
			 const struct procmap *pm, struct ut_map *out)
{
	struct unwtables_table tab;
	struct ut_obj *o;
	int err;

	memset(out, 0, sizeof(*out));
	out->m.start = pm->start;
	out->m.end = pm->end;
	if (pm->has_file) {
		struct ut_alias *a = alias_find(t, pm);

		if (a) {
			o = a->obj;
			list_move(&o->lru, &t->lru);
			o->pin = t->load_gen;
			t->stats.alias_hits++;
			out->obj = o;
			out->m.adj = pm->start - pm->offset + a->delta;
			out->m.first_row = o->first_row;
			out->m.nr_rows = o->nr_rows;
			return;
		}
	}
	err = t->ops.get_table(t->ops.ctx, tgid, maps, pm, &tab);
	if (err) {
		t->stats.refused[err == -ENOENT ? UNWTABLES_REFUSED_NO_CFI
						: UNWTABLES_REFUSED_UNREADABLE]++;
		out->m.flags = STACKD_MAPF_NO_TABLE;
		return;
	}
	o = obj_resident(t, &tab);
	if (!o) {
		out->m.flags = STACKD_MAPF_NO_ROOM;
		return;
	}
	if (pm->has_file && strcmp(pm->path, "[vdso]"))
		alias_add(t, o, pm, tab.adj);
	out->obj = o;
	out->m.adj = tab.adj;
	out->m.first_row = o->first_row;
	out->m.nr_rows = o->nr_rows;
}

static int cmp_map(const void *a, const void *b)
{
	const struct ut_map *x = a, *y = b;

	return x->m.start < y->m.start ? -1 : x->m.start > y->m.start;
}

/*
 * The entry's mappings into t->work, sorted by start. Beyond
 * STACKD_UNWIND_MAX_MAPPINGS, objects (with or without a table) are kept
 * before anonymous memory, whose adjacent runs are merged: a JIT's code
 * heaps must not push libc out; the rest is counted as truncated.
 */
static uint32_t build_mappings(struct unwtables *t, uint32_t tgid, const struct procmaps *maps)
{
	uint32_t nr = 0;
	uint64_t prev_end = 0;

	for (int pass = 0; pass < 2; pass++) {
		prev_end = 0;
		for (size_t i = 0; i < maps->nr; i++) {
			const struct procmap *pm = &maps->maps[i];
			bool anon;

			/* Sorted and disjoint from the kernel; anything else is skipped. */
			if (!(pm->perms & PROCMAP_EXEC) || pm->end <= pm->start ||
			    pm->end > USER_ADDR_END || pm->start < prev_end)
				continue;
			prev_end = pm->end;
			anon = is_anon(pm);
			if (anon != (pass == 1))
				continue;
			if (anon && nr && t->work[nr - 1].m.end == pm->start &&
			    (t->work[nr - 1].m.flags & STACKD_MAPF_ANON)) {
				t->work[nr - 1].m.end = pm->end;
				continue;
			}
			if (nr == STACKD_UNWIND_MAX_MAPPINGS) {
				t->stats.mappings_truncated++;
				continue;
			}
			if (anon) {
				memset(&t->work[nr], 0, sizeof(t->work[nr]));
				t->work[nr].m.start = pm->start;
				t->work[nr].m.end = pm->end;
				t->work[nr].m.flags = STACKD_MAPF_ANON;
			} else {
				fill_mapping(t, tgid, maps, pm, &t->work[nr]);
			}
			nr++;
		}
	}
	qsort(t->work, nr, sizeof(t->work[0]), cmp_map);
	return nr;
}

/* The entry built in t->work says what @p's installed one says. */
static bool same_entry(const struct unwtables *t, const struct ut_proc *p, uint32_t nr)
{
	if (!p || p->nr != nr)
		return false;
	for (uint32_t i = 0; i < nr; i++)
		if (p->maps[i].obj != t->work[i].obj ||
		    memcmp(&p->maps[i].m, &t->work[i].m, sizeof(p->maps[i].m)))
			return false;
	return true;
}

static int load(struct unwtables *t, uint32_t tgid, uint64_t start_boottime,
		const struct procmaps *maps, bool keep_same)
{
	uint64_t t0 = mono_ns();
	struct ut_proc *p, *np;
	uint32_t nr;
	int err;

	t->load_gen++;
	nr = build_mappings(t, tgid, maps);
	for (uint32_t i = 0; i < nr; i++)
		if (t->work[i].obj)
			t->work[i].obj->refs++;
	/*
	 * build_mappings may have evicted what p named: p now says what the
	 * kernel holds. A p of another start time is a process that had this pid
	 * before: the entry written below replaces its entry.
	 */
	p = proc_find_tgid(t, tgid);
	if (keep_same && p && p->start_boottime == start_boottime && same_entry(t, p, nr)) {
		for (uint32_t i = 0; i < nr; i++)
			if (t->work[i].obj)
				t->work[i].obj->refs--; /* p names them still */
		err = 0;
		goto out;
	}
	np = malloc(sizeof(*np) + nr * sizeof(np->maps[0]));
	err = np ? push_entry(t, tgid, start_boottime, t->work, nr, false) : -ENOMEM;
	if (err) {
		/* Nothing installed: the process stays on the bridge (the kernel kept no entry). */
		unref_maps(t, t->work, nr);
		free(np);
		if (err == -E2BIG)
			t->stats.procs_refused++;
		if (p) {
			t->ops.del_proc(t->ops.ctx, tgid, p->start_boottime);
			proc_forget(t, p);
		}
		goto out;
	}
	np->tgid = tgid;
	np->start_boottime = start_boottime;
	np->retry_ns = np->retry_gap_ns = np->freed_seen = 0;
	np->nr = nr;
	memcpy(np->maps, t->work, nr * sizeof(np->maps[0]));
	if (is_starved(np->maps, nr))
		starve(t, np, p && p->start_boottime == start_boottime ? p : NULL);
	else if (p && p->start_boottime == start_boottime && p->retry_gap_ns)
		t->stats.healed++;
	if (p)
		proc_forget(t, p); /* replaced: what it named may be free once quiesced */
	if (hmap_insert(&t->procs, &np->node, proc_hash(tgid))) {
		/* Not tracked means never rewritten: the entry must not stay. */
		t->ops.del_proc(t->ops.ctx, tgid, start_boottime);
		unref_maps(t, np->maps, nr);
		free(np);
		err = -ENOMEM;
		goto out;
	}
	t->stats.procs++;
out:
	t->stats.loads++;
	t->stats.load_ns += mono_ns() - t0;
	return err;
}

int unwtables_load(struct unwtables *t, uint32_t tgid, uint64_t start_boottime,
		   const struct procmaps *maps)
{
	return load(t, tgid, start_boottime, maps, false);
}

int unwtables_refresh(struct unwtables *t, uint32_t tgid, uint64_t start_boottime,
		      const struct procmaps *maps)
{
	return load(t, tgid, start_boottime, maps, true);
}

size_t unwtables_starved(struct unwtables *t, uint64_t now_ns, uint32_t *tgid, uint64_t *start,
			 size_t max)
{
	struct hnode *n, *tmp;
	size_t i, nr = 0;

	hmap_for_each_safe (&t->procs, n, tmp, i) {
		struct ut_proc *p = container_of(n, struct ut_proc, node);

		if (nr == max)
			break;
		if (!p->retry_gap_ns || now_ns < p->retry_ns || p->freed_seen == t->freed_gen)
			continue;
		p->freed_seen = t->freed_gen;
		p->retry_gap_ns =
		    p->retry_gap_ns * 2 > RETRY_MAX_NS ? RETRY_MAX_NS : p->retry_gap_ns * 2;
		p->retry_ns = now_ns + p->retry_gap_ns;
		tgid[nr] = p->tgid;
		start[nr++] = p->start_boottime;
	}
	return nr;
}

int unwtables_heal(struct unwtables *t, uint32_t tgid, uint64_t start_boottime,
		   const struct procmaps *maps)
{
	int err;

	if (!proc_find(t, tgid, start_boottime))
		return -ENOENT;
	t->stats.retries++;
	t->healing = true;
	err = load(t, tgid, start_boottime, maps, true);
	t->healing = false;
	return err;
}

bool unwtables_has(const struct unwtables *t, uint32_t tgid, uint64_t start_boottime)
{
	return proc_find((struct unwtables *)t, tgid, start_boottime) != NULL;
}

void unwtables_drop(struct unwtables *t, uint32_t tgid, uint64_t start_boottime)
{
	struct ut_proc *p = proc_find(t, tgid, start_boottime);

	if (!p)
		return;
	t->ops.del_proc(t->ops.ctx, tgid, start_boottime);
	proc_forget(t, p);
}

void unwtables_get_stats(const struct unwtables *t, struct unwtables_stats *out)
{
	*out = t->stats;
	out->objects_unreferenced = 0;
	for (struct list_head *l = t->lru.next; l != &t->lru; l = l->next)
		if (!list_entry(l, struct ut_obj, lru)->refs)
			out->objects_unreferenced++;
}
