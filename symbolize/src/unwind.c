// SPDX-License-Identifier: Apache-2.0
/*
 * The bridge unwinder: copied user stacks walked in user space with the
 * compiled tables (symbolize/cfitab.h) the in-kernel unwinder uses, by the
 * same rules as walk_step() in bpf/stackd.bpf.c, so a process's samples get
 * the same stacks before and after its tables reach the kernel:
 *   - the leaf and the frame a signal interrupted are looked up at their
 *     exact pc, every other frame at its return address - 1;
 *   - a STOP row ends the walk complete, an UNSUP row ends it;
 *   - a SIGNAL row (__restore_rt) takes the interrupted rip, rsp and rbp
 *     from the kernel's ucontext at rsp + 168, 160 and 120;
 *   - RSP, RBP and PLT rows give the CFA; the return address is at CFA - 8,
 *     the caller's rbp where the row says (unknown: 0);
 *   - a pc without a row (a gap, an object without CFI, anonymous code, no
 *     mapping) is walked by its frame pointer, for that frame only;
 *   - every frame's CFA must be above the frame's sp, and a return address
 *     below the first page ends the walk complete.
 * Memory is read only from the stack copy (stack_word()), never from the
 * process; needing a word above the copy ends the walk as "stack_copy".
 * Nothing here blocks signals or makes a system call per step: a walk is a
 * binary search per frame in a table already in memory.
 *
 * The tables are compiled (cfitab_from_unwtab()) when an object enters the
 * cache, and unwtab's section copies (.eh_frame_hdr, .eh_frame, converted
 * .debug_frame) are dropped right after: nothing reads them once the rows
 * exist. One compiled table serves both unwinder_unwind() and
 * unwinder_table() (the tables loaded into the kernel).
 *
 * Objects are cached by build id (else by file identity) and found by the
 * file identity (device, inode, size, mtime, ctime) priming recorded in the
 * maps snapshot, so a process that has exited still unwinds; never by the
 * (device, inode) of the maps line alone, which a later file can reuse.
 * Eviction (LRU, byte budget) only runs between unwinds, so the table
 * pointers a walk holds stay valid for the whole walk.
 */
#include "symbolize/unwinder.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hmap.h"
#include "common/list.h"
#include "symbolize/cfitab.h"
#include "debuginfo.h"
#include "unwtab.h"

#define UNWINDER_DEFAULT_BYTES (32u << 20)
/* Distinct mappings one unwind remembers; more just means re-resolving. */
#define CTX_MAPS 16
/* Reads above the copy but this close to it are the stack we did not copy. */
#define STACK_NEAR     (64ull << 20)
#define VDSO_MAX_BYTES (1u << 20)
/*
 * Where a user stack pointer can be: above the null page (mmap_min_addr is at
 * least a page) and below the top of a 57-bit (5-level paging) user address
 * space. Anything else is a process playing with its registers. The same
 * bounds as the BPF walker's USER_MIN and USER_END.
 */
#define USER_ADDR_MIN 0x1000ull
#define USER_ADDR_END (1ull << 56)
/* Where the interrupted registers are in the kernel's struct ucontext (x86-64). */
#define UC_RBP 120
#define UC_RSP 160
#define UC_RIP 168

struct uw_obj {
	struct hnode id_node;	  /* in by_id when has_id */
	struct list_head lru;	  /* most recently used at the head */
	struct list_head aliases; /* struct uw_alias.obj_link */
	struct unwtab *tab;	  /* geometry and build id; NULL: unreadable (negative entry) */
	struct cfitab *cft;	  /* the compiled table; NULL: none (why in cft_err) */
	int cft_err;
	uint64_t id;  /* unwinder_table's obj_id: unique for the unwinder's life */
	size_t bytes; /* this + tab + cft + aliases: what the budget is charged */
	bool has_id;
};

/* A file identity (struct procmap_file) pointing to an object: never (device, inode) alone. */
struct uw_alias {
	struct hnode node;
	struct list_head obj_link;
	struct uw_obj *obj;
	uint64_t key[5];
};

struct unwinder {
	char *proc_root;
	size_t max_bytes;
	struct hmap by_id;
	struct hmap by_alias;
	struct list_head lru;
	struct unwinder_stats stats;
	struct unwtab *vdso; /* this process's vDSO: the kernel maps the same image everywhere */
	struct cfitab *vdso_cft;
	int vdso_cft_err;
	uint64_t vdso_id;
	uint64_t next_id; /* obj_id of the next compiled table */
	size_t vdso_sz;	  /* its mapped size, to recognize it in other processes */
	bool vdso_tried;
};

/* One mapping a walk touched, with its table. */
struct ctx_map {
	const struct procmap *m;
	const struct cfitab *tab; /* NULL: no table for this mapping */
	uint64_t adj;		  /* row pc = address - adj */
};

struct uw_ctx {
	struct unwinder *u;
	pid_t pid;
	const struct procmaps *maps;
	const unsigned char *stack;
	uint64_t stack_lo, stack_hi;
	struct ctx_map cm[CTX_MAPS];
	size_t nr_cm, next_cm;
};

static const char *const end_names[UNWIND_END__MAX] = {
    [UNWIND_END_COMPLETE] = "complete",	  [UNWIND_END_STACK_COPY] = "stack_copy",
    [UNWIND_END_NO_CFI] = "no_cfi",	  [UNWIND_END_NO_MAPPING] = "no_mapping",
    [UNWIND_END_MAX_DEPTH] = "max_depth", [UNWIND_END_ERROR] = "error",
    [UNWIND_END_BAD_REGS] = "bad_regs",
};

const char *unwind_end_name(enum unwind_end e)
{
	if ((unsigned)e >= UNWIND_END__MAX)
		return "unknown";
	return end_names[e];
}

/* --- The object cache ---------------------------------------------------- */

static uint64_t key_hash(const uint64_t key[5])
{
	return hash_bytes(key, 5 * sizeof(uint64_t), 0x756e7763);
}

static uint64_t id_hash(const struct unwtab *t)
{
	return hash_bytes(t->build_id, t->build_id_len, 0x756e7769);
}

static struct uw_alias *alias_find(const struct unwinder *u, const uint64_t key[5])
{
	struct hnode *n;

	for (n = hmap_first(&u->by_alias, key_hash(key)); n; n = hmap_next(n)) {
		struct uw_alias *a = container_of(n, struct uw_alias, node);

		if (!memcmp(a->key, key, sizeof(a->key)))
			return a;
	}
	return NULL;
}

static void alias_del(struct unwinder *u, struct uw_alias *a)
{
	hmap_remove(&u->by_alias, &a->node);
	list_del(&a->obj_link);
	a->obj->bytes -= sizeof(*a);
	u->stats.cache_bytes -= sizeof(*a);
	free(a);
}

/* Point @key at @o. A failed allocation only costs a re-open later. */
static void alias_set(struct unwinder *u, const uint64_t key[5], struct uw_obj *o)
{
	struct uw_alias *a = alias_find(u, key);

	if (a && a->obj == o)
		return;
	if (a)
		alias_del(u, a);
	a = calloc(1, sizeof(*a));
	if (!a)
		return;
	memcpy(a->key, key, sizeof(a->key));
	a->obj = o;
	if (hmap_insert(&u->by_alias, &a->node, key_hash(key))) {
		free(a);
		return;
	}
	list_add(&a->obj_link, &o->aliases);
	o->bytes += sizeof(*a);
	u->stats.cache_bytes += sizeof(*a);
}

/*
 * Compile @t's CFI into *@cft, then drop @t's section copies: the rows are
 * all that unwinding reads. 0, or why there is no table (-ENOENT: no CFI at
 * all; -E2BIG, -EINVAL: beyond a cap or unusable; -ENOMEM).
 */
static int compile(struct unwinder *u, struct unwtab *t, struct cfitab **cft)
{
	int err = cfitab_from_unwtab(t, 0, cft);

	if (!err)
		u->stats.tables_built++;
	unwtab_drop_table(t, err);
	return err;
}

static bool cft_equal(const struct cfitab *a, const struct cfitab *b)
{
	if (!a || !b)
		return a == b;
	return a->base == b->base && a->nr_rows == b->nr_rows &&
	       !memcmp(a->rows, b->rows, a->nr_rows * sizeof(a->rows[0]));
}

/*
 * Whether cached @o and a new object (@t compiled into @cft, or @cft_err)
 * unwind alike: the same load layout and the same rows. A build id is only a
 * claim the file makes; a process may present another object's id with
 * tables of its own, and must not change how any other process's stacks are
 * walked.
 */
static bool obj_equal(const struct uw_obj *o, const struct unwtab *t, const struct cfitab *cft,
		      int cft_err)
{
	const struct unwtab *a = o->tab;

	if (a->e_type != t->e_type || a->nr_loads != t->nr_loads ||
	    memcmp(a->loads, t->loads, a->nr_loads * sizeof(a->loads[0])))
		return false;
	if (!o->cft || !cft)
		return !o->cft && !cft && o->cft_err == cft_err;
	return cft_equal(o->cft, cft);
}

/* The cached object with @t's build id and the same tables, or NULL. */
static struct uw_obj *obj_by_id(struct unwinder *u, const struct unwtab *t,
				const struct cfitab *cft, int cft_err)
{
	struct hnode *n;

	for (n = hmap_first(&u->by_id, id_hash(t)); n; n = hmap_next(n)) {
		struct uw_obj *o = container_of(n, struct uw_obj, id_node);

		if (o->tab->build_id_len != t->build_id_len ||
		    memcmp(o->tab->build_id, t->build_id, t->build_id_len))
			continue;
		if (obj_equal(o, t, cft, cft_err))
			return o;
		u->stats.cache_id_conflicts++;
	}
	return NULL;
}

static void obj_drop(struct unwinder *u, struct uw_obj *o)
{
	while (!list_empty(&o->aliases))
		alias_del(u, list_entry(o->aliases.next, struct uw_alias, obj_link));
	if (o->has_id)
		hmap_remove(&u->by_id, &o->id_node);
	list_del(&o->lru);
	u->stats.cache_bytes -= o->bytes;
	u->stats.cache_objects--;
	unwtab_free(o->tab);
	cfitab_free(o->cft);
	free(o);
}

/* Only between unwinds: a walk holds borrowed table pointers. */
static void evict(struct unwinder *u)
{
	while (u->stats.cache_bytes > u->max_bytes && !list_empty(&u->lru)) {
		obj_drop(u, list_entry(u->lru.prev, struct uw_obj, lru));
		u->stats.cache_evictions++;
	}
}

/*
 * Takes @t (NULL: unreadable) and @cft (NULL: no table, why in @cft_err);
 * returns NULL only when out of memory.
 */
static struct uw_obj *obj_insert(struct unwinder *u, struct unwtab *t, struct cfitab *cft,
				 int cft_err)
{
	struct uw_obj *o = calloc(1, sizeof(*o));

	if (!o) {
		unwtab_free(t);
		cfitab_free(cft);
		return NULL;
	}
	/* An object beyond the whole budget would be re-read per sample: keep it as "no CFI". */
	if (cft && cft->bytes > u->max_bytes) {
		cfitab_free(cft);
		cft = NULL;
		cft_err = -E2BIG;
	}
	o->tab = t;
	o->cft = cft;
	o->cft_err = cft ? 0 : cft_err;
	if (cft)
		o->id = ++u->next_id;
	o->bytes = sizeof(*o) + (t ? t->bytes : 0) + (cft ? cft->bytes : 0);
	list_init(&o->aliases);
	list_add(&o->lru, &u->lru);
	/* Unindexed by build id (no memory for a bucket): only not shared by id. */
	if (t && t->build_id_len)
		o->has_id = hmap_insert(&u->by_id, &o->id_node, id_hash(t)) == 0;
	u->stats.cache_bytes += o->bytes;
	u->stats.cache_objects++;
	return o;
}

static void stat_key(const struct stat *st, uint64_t key[5])
{
	struct procmap_file id;

	procmap_file_of_stat(st, &id);
	procmap_file_key(&id, key);
}
/*
 * An object without any CFI of its own may have a .debug_frame in its
 * separate debug file (build id, else .gnu_debuglink), found the way the
 * symbolizer finds DWARF. Only on a cache miss, and only for such objects.
 */
static void add_debug_file(const struct unwinder *u, pid_t pid, const struct procmap *m, int fd,
			   struct unwtab *t)
{
	static const char hex[] = "0123456789abcdef";
	char build_id[2 * UNWTAB_MAX_BUILD_ID + 1], root[PATH_MAX];
	struct debuginfo_probe probe;
	struct debuginfo_query q = {.probe = &probe, .bin_path = m->path, .root = root};
	size_t i;
	int dfd, n;

	for (i = 0; i < t->build_id_len; i++) {
		build_id[2 * i] = hex[t->build_id[i] >> 4];
		build_id[2 * i + 1] = hex[t->build_id[i] & 0xf];
	}
	build_id[2 * i] = '\0';
	q.build_id = build_id;
	n = snprintf(root, sizeof(root), "%s/%d/root", u->proc_root, (int)pid);
	if (n < 0 || (size_t)n >= sizeof(root) || debuginfo_probe_fd(fd, &probe))
		return;
	dfd = debuginfo_find(&q);
	if (dfd < 0)
		return;
	unwtab_add_debug_fd(t, dfd);
	close(dfd);
}

/*
 * The cached object for file-backed mapping @m, reading it on a miss; NULL
 * if unopenable. A primed snapshot (symbolizer_prime()) names the file of
 * each mapping by its identity: found by it without an open, and no other
 * file (the range remapped, the pid reused) stands in for it.
 */
static struct uw_obj *obj_for_map(struct unwinder *u, pid_t pid, const struct procmap *m)
{
	uint64_t mkey[5], fkey[5];
	struct uw_alias *a;
	struct unwtab *t = NULL;
	struct cfitab *cft = NULL;
	struct uw_obj *o = NULL;
	struct stat st;
	int fd, err, cft_err = -ENOENT;

	if (m->has_file) {
		procmap_file_key(&m->file, mkey);
		a = alias_find(u, mkey);
		if (a) {
			u->stats.cache_hits++;
			list_move(&a->obj->lru, &u->lru);
			return a->obj;
		}
	}
	u->stats.cache_misses++;
	fd = procmaps_open_object(u->proc_root, pid, m);
	if (fd < 0)
		return NULL; /* gone, or denied: not cached, a live process may open it later */
	if (fstat(fd, &st))
		goto cleanup;
	stat_key(&st, fkey);
	if (m->has_file && memcmp(fkey, mkey, sizeof(fkey)))
		goto cleanup;
	a = alias_find(u, fkey);
	if (a) {
		o = a->obj;
		goto bind;
	}
	err = unwtab_open_fd(fd, &t);
	if (err == -ENOMEM)
		goto cleanup;
	if (t && !t->has_table && t->table_err == -ENOENT)
		add_debug_file(u, pid, m, fd, t);
	if (t) {
		cft_err = compile(u, t, &cft);
		if (cft_err == -ENOMEM) {
			unwtab_free(t);
			goto cleanup;
		}
	}
	/* An unparsable file is cached as such so it is not re-read on every sample. */
	o = t && t->build_id_len ? obj_by_id(u, t, cft, cft_err) : NULL;
	if (o) {
		unwtab_free(t);
		cfitab_free(cft);
	} else {
		o = obj_insert(u, t, cft, cft_err);
		if (!o)
			goto cleanup;
	}
	alias_set(u, fkey, o);
bind:
	list_move(&o->lru, &u->lru);
cleanup:
	close(fd);
	return o;
}

/* This process's vDSO image size from its (kernel-made, trusted) headers. */
static size_t vdso_image_size(const unsigned char *base)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	size_t end = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	unsigned i;

	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_offset + ph[i].p_filesz > end)
			end = ph[i].p_offset + ph[i].p_filesz;
	}
	return end;
}

/* This process's vDSO (compiled on first use) if @m is a vDSO like it, else NULL. */
static const struct unwtab *vdso_tab(struct unwinder *u, const struct procmap *m)
{
	const unsigned char *base;
	size_t sz, pg = (size_t)sysconf(_SC_PAGESIZE);

	if (!u->vdso_tried) {
		u->vdso_tried = true;
		u->vdso_cft_err = -ENOENT;
		base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
		if (base && !memcmp(base, ELFMAG, SELFMAG) && base[EI_CLASS] == ELFCLASS64) {
			sz = vdso_image_size(base);
			if (sz <= VDSO_MAX_BYTES && !unwtab_open_mem(base, sz, &u->vdso)) {
				u->vdso_sz = (sz + pg - 1) / pg * pg;
				u->vdso_cft_err = compile(u, u->vdso, &u->vdso_cft);
				if (u->vdso_cft)
					u->vdso_id = ++u->next_id;
			}
		}
	}
	/* Another size is another image (a 32-bit process): its CFI is not ours. */
	if (!u->vdso || m->end - m->start != u->vdso_sz)
		return NULL;
	return u->vdso;
}

/* --- Tables of mappings -------------------------------------------------- */

static bool is_file_backed(const struct procmap *m)
{
	return m->inode && m->path[0] == '/';
}

/*
 * The compiled table of mapping @m (the vDSO included) into @out, and its
 * cached object in *@op (NULL for the vDSO); no eviction. 0, -ENOENT (no
 * usable CFI) or -errno.
 */
static int map_table(struct unwinder *u, pid_t pid, const struct procmap *m,
		     struct unwinder_table *out, struct uw_obj **op)
{
	const struct unwtab *t;
	const struct cfitab *cft;
	struct uw_obj *o = NULL;
	uint64_t bias;

	*op = NULL;
	if (!strcmp(m->path, "[vdso]")) {
		t = vdso_tab(u, m);
		if (!t)
			return -ENOENT;
		if (!u->vdso_cft)
			return u->vdso_cft_err;
		cft = u->vdso_cft;
		out->obj_id = u->vdso_id;
	} else {
		if (!is_file_backed(m))
			return -ENOENT;
		o = obj_for_map(u, pid, m);
		if (!o || !o->tab)
			return -ENOENT;
		if (!o->cft)
			return o->cft_err;
		t = o->tab;
		cft = o->cft;
		out->obj_id = o->id;
	}
	if (unwtab_bias(t, m->start, m->offset, &bias))
		return -ENOENT;
	out->tab = cft;
	out->adj = bias + cft->base;
	*op = o;
	return 0;
}

/* The mapping of @addr with its table, resolving and remembering it; NULL if unmapped. */
static const struct ctx_map *ctx_map_of(struct uw_ctx *c, uint64_t addr)
{
	struct unwinder_table ut;
	const struct procmap *m;
	struct ctx_map *cm;
	struct uw_obj *o;
	size_t i;

	for (i = 0; i < c->nr_cm; i++) {
		if (addr >= c->cm[i].m->start && addr < c->cm[i].m->end)
			return &c->cm[i];
	}
	m = procmaps_find(c->maps, addr);
	if (!m)
		return NULL;
	if (c->nr_cm < CTX_MAPS) {
		cm = &c->cm[c->nr_cm++];
	} else {
		cm = &c->cm[c->next_cm];
		c->next_cm = (c->next_cm + 1) % CTX_MAPS;
	}
	*cm = (struct ctx_map){.m = m};
	if (!map_table(c->u, c->pid, m, &ut, &o)) {
		cm->tab = ut.tab;
		cm->adj = ut.adj;
	}
	return cm;
}

/* The rule of the row covering row pc @rpc: the last row at or below it, else a gap. */
static uint32_t row_rule(const struct cfitab *t, uint64_t rpc)
{
	uint32_t lo = 0, hi = t->nr_rows;

	if (rpc >> 32 || !hi || rpc < t->rows[0].pc)
		return CFITAB_CFA_GAP;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= rpc)
			lo = mid;
		else
			hi = mid;
	}
	return t->rows[lo].rule;
}

/* --- The walk ------------------------------------------------------------ */

/*
 * The 8 bytes at @addr from the stack copy, the one place the copy is read.
 * Written as offsets from the copy's start, so no hostile @addr (or copy at
 * the end of the address space) can wrap the check.
 */
static bool stack_word(const struct uw_ctx *c, uint64_t addr, uint64_t *val)
{
	uint64_t len = c->stack_hi - c->stack_lo, off = addr - c->stack_lo;

	if (addr < c->stack_lo || len < 8 || off > len - 8)
		return false;
	memcpy(val, c->stack + off, 8);
	return true;
}

/* Why a walk that could not read @addr ends: just above the copy, the copy was too short. */
static enum unwind_end unread(const struct uw_ctx *c, uint64_t addr)
{
	return addr >= c->stack_lo && addr - c->stack_lo < STACK_NEAR ? UNWIND_END_STACK_COPY
								      : UNWIND_END_ERROR;
}

/*
 * A frame without a row, by its frame pointer: [rbp] is the caller's rbp,
 * [rbp + 8] the return address, the CFA rbp + 16. rbp is hostile: it must
 * be at or above sp and in the user half (so rbp + 16 cannot wrap), and
 * both words in the copy.
 */
static bool fp_frame(const struct uw_ctx *c, uint64_t sp, uint64_t *bp, uint64_t *cfa, uint64_t *ra)
{
	uint64_t saved;

	if (*bp < sp || *bp >= USER_ADDR_END || !stack_word(c, *bp + 8, ra) ||
	    !stack_word(c, *bp, &saved))
		return false;
	*cfa = *bp + 16;
	*bp = saved;
	return true;
}

/*
 * Walk from the sampled registers, writing each frame's pc before finding
 * its caller (walk_step() in bpf/stackd.bpf.c, frame for frame). Bounded:
 * every iteration writes a frame or returns.
 */
static enum unwind_end walk(struct uw_ctx *c, const uint64_t regs[UNWIND_NR_REGS], uint64_t *ips,
			    size_t max, size_t *n)
{
	uint64_t pc = regs[UNWIND_REG_RIP], sp = regs[UNWIND_REG_RSP], bp = regs[UNWIND_REG_RBP];
	bool exact = true, fp_last = false;

	for (;;) {
		uint64_t look, cfa = 0, ra = 0, off, npc, nsp, nbp;
		const struct ctx_map *cm;
		uint32_t rule = CFITAB_CFA_GAP, kind;
		int aux;

		if (*n >= max)
			return UNWIND_END_MAX_DEPTH;
		ips[(*n)++] = pc;
		/* A return address points after its call, maybe past the end of the function. */
		look = exact ? pc : pc - 1;
		cm = ctx_map_of(c, look);
		if (cm && cm->tab)
			rule = row_rule(cm->tab, look - cm->adj);
		kind = CFITAB_RULE_CFA(rule);
		off = CFITAB_RULE_CFA_OFF(rule);
		aux = CFITAB_RULE_AUX(rule);
		switch (kind) {
		case CFITAB_CFA_STOP:
			return UNWIND_END_COMPLETE;
		case CFITAB_CFA_UNSUP:
			return UNWIND_END_NO_CFI; /* CFI the table cannot say */
		case CFITAB_CFA_SIGNAL:
			/* sp points at the kernel's struct ucontext: the interrupted frame is in
			 * it. */
			if (!stack_word(c, sp + UC_RIP, &npc))
				return unread(c, sp + UC_RIP);
			if (!stack_word(c, sp + UC_RSP, &nsp))
				return unread(c, sp + UC_RSP);
			if (!stack_word(c, sp + UC_RBP, &nbp))
				return unread(c, sp + UC_RBP);
			/* Up the stack like every frame (a copy starting here holds nothing below).
			 */
			if (nsp <= sp)
				return UNWIND_END_ERROR;
			pc = npc;
			sp = nsp;
			bp = nbp;
			exact = true;
			continue;
		case CFITAB_CFA_RSP:
			cfa = sp + off;
			break;
		case CFITAB_CFA_RBP:
			cfa = bp + off;
			break;
		case CFITAB_CFA_PLT:
			cfa = sp + off + ((pc & 15) >= (uint64_t)(int64_t)aux ? 8 : 0);
			break;
		default:
			/* No row here: this frame's frame pointer, if it has one. */
			/* A zero rbp after a frame-pointer step ends the chain: complete. */
			if (!bp && fp_last)
				return UNWIND_END_COMPLETE;
			if (!fp_frame(c, sp, &bp, &cfa, &ra))
				return cm ? UNWIND_END_NO_CFI : UNWIND_END_NO_MAPPING;
			fp_last = true;
			break;
		}
		if (kind != CFITAB_CFA_GAP) {
			fp_last = false;
			if (!stack_word(c, cfa - 8, &ra))
				return unread(c, cfa - 8);
			switch (CFITAB_RULE_RBP(rule)) {
			case CFITAB_RBP_SAME:
				break;
			case CFITAB_RBP_CFA:
				if (!stack_word(c, cfa + (uint64_t)((int64_t)aux * 8), &bp))
					return unread(c, cfa + (uint64_t)((int64_t)aux * 8));
				break;
			default:
				bp = 0; /* unknown: a caller without a row cannot be walked */
				break;
			}
		}
		/* Every frame lies above the one it called: this bounds loops a stack could hold.
		 */
		if (cfa <= sp || cfa >= USER_ADDR_END)
			return UNWIND_END_ERROR;
		/* The outermost frame of a frame-pointer chain has no return address. */
		if (ra < USER_ADDR_MIN)
			return UNWIND_END_COMPLETE;
		sp = cfa;
		pc = ra;
		exact = false;
	}
}

/* --- Public API ---------------------------------------------------------- */

int unwinder_new(const struct unwinder_opts *opts, struct unwinder **out)
{
	const char *root = opts && opts->proc_root ? opts->proc_root : "/proc";
	struct unwinder *u;
	int err = 0;

	*out = NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->max_bytes =
	    opts && opts->cache_max_bytes ? opts->cache_max_bytes : UNWINDER_DEFAULT_BYTES;
	hmap_init(&u->by_id);
	hmap_init(&u->by_alias);
	list_init(&u->lru);
	u->proc_root = strdup(root);
	if (!u->proc_root) {
		err = -ENOMEM;
		goto cleanup;
	}
	*out = u;
	u = NULL;
cleanup:
	unwinder_free(u);
	return err;
}

void unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	while (!list_empty(&u->lru))
		obj_drop(u, list_entry(u->lru.next, struct uw_obj, lru));
	hmap_fini(&u->by_id);
	hmap_fini(&u->by_alias);
	unwtab_free(u->vdso);
	cfitab_free(u->vdso_cft);
	free(u->proc_root);
	free(u);
}

size_t unwinder_unwind(struct unwinder *u, pid_t pid, const struct procmaps *maps,
		       const uint64_t regs[UNWIND_NR_REGS], const void *stack, size_t stack_len,
		       uint64_t *ips, size_t max, enum unwind_end *end)
{
	struct uw_ctx c = {
	    .u = u,
	    .pid = pid,
	    .maps = maps,
	    .stack = stack,
	    .stack_lo = regs[UNWIND_REG_RSP],
	};
	enum unwind_end why;
	size_t n = 0;

	/* An empty or wrapping copy is no copy. */
	if (stack && stack_len && c.stack_lo <= UINT64_MAX - stack_len)
		c.stack_hi = c.stack_lo + stack_len;
	else
		c.stack_hi = c.stack_lo;
	if (!max) {
		why = UNWIND_END_MAX_DEPTH;
	} else if (!regs[UNWIND_REG_RIP]) {
		why = UNWIND_END_ERROR;
	} else if (c.stack_lo < USER_ADDR_MIN || c.stack_lo >= USER_ADDR_END) {
		ips[n++] = regs[UNWIND_REG_RIP];
		why = UNWIND_END_BAD_REGS; /* the sampled ip alone, counted */
	} else if (!maps) {
		ips[n++] = regs[UNWIND_REG_RIP];
		why = UNWIND_END_NO_MAPPING;
	} else {
		why = walk(&c, regs, ips, max, &n);
	}
	evict(u);
	u->stats.stacks++;
	u->stats.frames += n;
	u->stats.ends[why]++;
	if (end)
		*end = why;
	return n;
}

void unwinder_get_stats(const struct unwinder *u, struct unwinder_stats *out)
{
	*out = u->stats;
}

int unwinder_table(struct unwinder *u, pid_t pid, const struct procmaps *maps,
		   const struct procmap *m, struct unwinder_table *out)
{
	struct uw_obj *o;
	int err;

	(void)maps;
	err = map_table(u, pid, m, out, &o);
	if (err || !o)
		return err;
	/* Over budget now: evict others, never the one just handed out. */
	list_move(&o->lru, &u->lru);
	while (u->stats.cache_bytes > u->max_bytes && u->lru.prev != &o->lru) {
		obj_drop(u, list_entry(u->lru.prev, struct uw_obj, lru));
		u->stats.cache_evictions++;
	}
	return 0;
}
