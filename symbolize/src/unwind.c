// SPDX-License-Identifier: Apache-2.0
/*
 * DWARF unwinding of copied user stacks with libunwind's remote API.
 *
 * libunwind asks for everything through our accessors, with a per-call
 * context as the argument:
 *   - registers come from the sample (enum unwind_reg is libunwind's own
 *     UNW_X86_64_* numbering, checked at compile time);
 *   - memory comes from the stack copy, or from our cached copies of an
 *     object's .eh_frame_hdr/.eh_frame at their runtime addresses (that is
 *     where the table lookup and the CFI parser read); any other address
 *     inside a mapped object's image reads as zero (on the DWARF path that
 *     is only the personality routine pointer behind a DW_EH_PE_indirect
 *     CIE augmentation, which unwinding never uses), everything else fails;
 *   - find_proc_info turns the ip into (mapping, cached object, load bias),
 *     binary-searches the object's .eh_frame_hdr table in our copy, and
 *     hands _Ux86_64_dwarf_search_unwind_table a one-entry
 *     UNW_INFO_FORMAT_REMOTE_TABLE holding that entry (libunwind's own remote
 *     search would read every probe byte by byte through access_mem).
 * When find_proc_info or a read fails, the callback records why in the
 * context, and returns an error other than -UNW_ENOINFO: ENOINFO would make
 * libunwind guess the frame from rbp, which on code without frame pointers
 * invents frames rather than ending the stack honestly.
 *
 * .debug_frame is not handed to libunwind as such: it reads a
 * UNW_INFO_FORMAT_TABLE (.debug_frame) through its *local* address space
 * with an internal index struct, which a remote unwinder cannot provide.
 * unwtab converts it to .eh_frame form at load time instead (its own, or a
 * separate debug file's when the object has no CFI at all), and the copy is
 * served here like any .eh_frame.
 *
 * Objects are cached by build id (else by file identity) and found by the
 * file identity (device, inode, size, mtime, ctime) priming recorded in the
 * maps snapshot, so a process that has exited still unwinds; never by the
 * (device, inode) of the maps line alone, which a later file can reuse.
 * Eviction (LRU, byte budget) only runs between unwinds, so the pointers a
 * context holds stay valid for the whole unwind.
 */
#include "symbolize/unwinder.h"

#define UNW_REMOTE_ONLY
#include <libunwind.h>

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

/* Exported by libunwind-x86_64 but missing from its headers. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

#define UNWINDER_DEFAULT_BYTES (32u << 20)
/* Distinct mappings one unwind remembers; more just means re-resolving. */
#define CTX_MAPS 16
/*
 * Reads one unwind may make. A 30-frame stack needs a few thousand (libunwind
 * reads CFI a byte at a time); the cap stops hostile DWARF expressions that
 * loop (DW_OP_skip backwards) from hanging the drain loop.
 */
#define CTX_MAX_READS (1u << 17)
/* Reads above the copy but this close to it are the stack we did not copy. */
#define STACK_NEAR     (64ull << 20)
#define VDSO_MAX_BYTES (1u << 20)
/*
 * Where libunwind reads the one-entry table find_proc_info builds: the null
 * page, which is never stack nor object memory.
 */
#define ENTRY_ADDR 0x10ull
/* Processes whose libunwind caches stay warm at once (see as_claim()). */
#define UNWIND_AS_SLOTS 8
/*
 * Where a user stack pointer can be: above the null page (mmap_min_addr is at
 * least a page) and below the top of a 57-bit (5-level paging) user address
 * space. Anything else is a process playing with its registers.
 */
#define USER_ADDR_MIN 0x1000ull
#define USER_ADDR_END (1ull << 56)

#define SAME_REG(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME_REG(UNWIND_REG_RAX, UNW_X86_64_RAX) &&
		   SAME_REG(UNWIND_REG_RBX, UNW_X86_64_RBX) &&
		   SAME_REG(UNWIND_REG_RBP, UNW_X86_64_RBP) &&
		   SAME_REG(UNWIND_REG_RSP, UNW_X86_64_RSP) &&
		   SAME_REG(UNWIND_REG_R8, UNW_X86_64_R8) &&
		   SAME_REG(UNWIND_REG_R15, UNW_X86_64_R15) &&
		   SAME_REG(UNWIND_REG_RIP, UNW_X86_64_RIP),
	       "enum unwind_reg must follow libunwind's x86_64 register numbering");

struct uw_obj {
	struct hnode id_node;	  /* in by_id when has_id */
	struct list_head lru;	  /* most recently used at the head */
	struct list_head aliases; /* struct uw_alias.obj_link */
	struct unwtab *tab;	  /* NULL: not an object we can read (negative entry) */
	struct cfitab *cft;	  /* compiled on first unwinder_table(); NULL before or if failed */
	int cft_err;		  /* 0: not tried yet; else why cft is NULL */
	uint64_t id;		  /* unwinder_table's obj_id: unique for the unwinder's life */
	size_t bytes;		  /* this + tab + cft + aliases: what the budget is charged */
	bool has_id;
};

/* A file identity (struct procmap_file) pointing to an object: never (device, inode) alone. */
struct uw_alias {
	struct hnode node;
	struct list_head obj_link;
	struct uw_obj *obj;
	uint64_t key[5];
};

/* Who an address space's register-state cache describes. */
struct as_id {
	pid_t pid;
	const struct procmaps *maps;
	uint64_t serial; /* the snapshot's: its address alone may be a freed one's */
	size_t nr, bytes;
	uint64_t lo, hi;
};

struct as_slot {
	unw_addr_space_t as; /* created on first use */
	struct as_id id;
	uint64_t used;
};

struct unwinder {
	struct as_slot as[UNWIND_AS_SLOTS];
	uint64_t as_clock;
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

/* One mapping an unwind touched, with where its tables are at run time. */
struct ctx_map {
	const struct procmap *m;
	const struct unwtab *tab; /* NULL: no CFI for this mapping */
	int fail;		  /* enum unwind_end when !tab */
	uint64_t bias;
	uint64_t img_lo, img_hi; /* runtime span of the object's PT_LOADs */
};

struct uw_ctx {
	struct unwinder *u;
	pid_t pid;
	const struct procmaps *maps;
	const uint64_t *regs;
	const unsigned char *stack;
	uint64_t stack_lo, stack_hi;
	struct ctx_map cm[CTX_MAPS];
	size_t nr_cm, next_cm;
	const struct ctx_map *last; /* where the previous table read hit */
	int32_t entry[2];	    /* the table entry find_proc_info chose, served at ENTRY_ADDR */
	size_t reads;
	int fail; /* enum unwind_end a callback hit during this step, or -1 */
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

static bool sect_equal(const struct unwtab_sect *a, const struct unwtab_sect *b)
{
	if (a->vaddr != b->vaddr || a->size != b->size || !a->data != !b->data)
		return false;
	return !a->data || !memcmp(a->data, b->data, a->size);
}

/*
 * Whether @a and @b unwind alike: the same load layout and byte-identical
 * tables. A build id is only a claim the file makes; a process may present
 * another object's id with tables of its own, and must not change how any
 * other process's stacks are walked.
 */
static bool tab_equal(const struct unwtab *a, const struct unwtab *b)
{
	if (a->e_type != b->e_type || a->nr_loads != b->nr_loads ||
	    memcmp(a->loads, b->loads, a->nr_loads * sizeof(a->loads[0])) ||
	    a->has_table != b->has_table)
		return false;
	if (!a->has_table)
		return a->table_err == b->table_err;
	return a->hdr_vaddr == b->hdr_vaddr && a->table_vaddr == b->table_vaddr &&
	       a->fde_count == b->fde_count && sect_equal(&a->hdr, &b->hdr) &&
	       sect_equal(&a->eh, &b->eh) && sect_equal(&a->dbg, &b->dbg);
}

/* The cached object with @t's build id and the same tables, or NULL. */
static struct uw_obj *obj_by_id(struct unwinder *u, const struct unwtab *t)
{
	struct hnode *n;

	for (n = hmap_first(&u->by_id, id_hash(t)); n; n = hmap_next(n)) {
		struct uw_obj *o = container_of(n, struct uw_obj, id_node);

		if (o->tab->build_id_len != t->build_id_len ||
		    memcmp(o->tab->build_id, t->build_id, t->build_id_len))
			continue;
		if (tab_equal(o->tab, t))
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

/* Only between unwinds: a context holds borrowed table pointers. */
static void evict(struct unwinder *u)
{
	while (u->stats.cache_bytes > u->max_bytes && !list_empty(&u->lru)) {
		obj_drop(u, list_entry(u->lru.prev, struct uw_obj, lru));
		u->stats.cache_evictions++;
	}
}

/* Takes @t (may be NULL for "unreadable"); returns NULL only when out of memory. */
static struct uw_obj *obj_insert(struct unwinder *u, struct unwtab *t)
{
	struct uw_obj *o = calloc(1, sizeof(*o));

	if (!o) {
		unwtab_free(t);
		return NULL;
	}
	/* An object beyond the whole budget would be re-read per sample: keep it as "no CFI". */
	if (t && t->has_table && t->bytes > u->max_bytes)
		unwtab_drop_table(t, -E2BIG);
	o->tab = t;
	o->bytes = sizeof(*o) + (t ? t->bytes : 0);
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
	struct uw_obj *o = NULL;
	struct stat st;
	int fd, err;

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
	/* An unparsable file is cached as such so it is not re-read on every sample. */
	o = t && t->build_id_len ? obj_by_id(u, t) : NULL;
	if (o) {
		unwtab_free(t);
	} else {
		o = obj_insert(u, t);
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

static const struct unwtab *vdso_tab(struct unwinder *u, const struct procmap *m)
{
	const unsigned char *base;
	size_t sz, pg = (size_t)sysconf(_SC_PAGESIZE);

	if (!u->vdso_tried) {
		u->vdso_tried = true;
		base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
		if (base && !memcmp(base, ELFMAG, SELFMAG) && base[EI_CLASS] == ELFCLASS64) {
			sz = vdso_image_size(base);
			if (sz <= VDSO_MAX_BYTES && !unwtab_open_mem(base, sz, &u->vdso))
				u->vdso_sz = (sz + pg - 1) / pg * pg;
		}
	}
	/* Another size is another image (a 32-bit process): its CFI is not ours. */
	if (!u->vdso || m->end - m->start != u->vdso_sz)
		return NULL;
	return u->vdso;
}

/* --- Per-unwind context and libunwind's accessors ------------------------ */

static bool is_file_backed(const struct procmap *m)
{
	return m->inode && m->path[0] == '/';
}

static void ctx_fail(struct uw_ctx *c, enum unwind_end why)
{
	if (c->fail < 0)
		c->fail = (int)why;
}

/* The mapping of @ip with its object's tables, resolving and remembering it; NULL if unmapped. */
static const struct ctx_map *ctx_map_of(struct uw_ctx *c, uint64_t ip)
{
	const struct unwtab *t = NULL;
	const struct procmap *m;
	struct ctx_map *cm;
	struct uw_obj *o;
	size_t i;

	for (i = 0; i < c->nr_cm; i++) {
		if (ip >= c->cm[i].m->start && ip < c->cm[i].m->end)
			return &c->cm[i];
	}
	m = c->maps ? procmaps_find(c->maps, ip) : NULL;
	if (!m)
		return NULL;
	if (c->nr_cm < CTX_MAPS) {
		cm = &c->cm[c->nr_cm++];
	} else {
		cm = &c->cm[c->next_cm];
		c->next_cm = (c->next_cm + 1) % CTX_MAPS;
		c->last = NULL;
	}
	*cm = (struct ctx_map){.m = m, .fail = UNWIND_END_NO_CFI};
	if (!strcmp(m->path, "[vdso]")) {
		t = vdso_tab(c->u, m);
	} else if (is_file_backed(m)) {
		o = obj_for_map(c->u, c->pid, m);
		t = o ? o->tab : NULL;
	}
	if (t && t->has_table && !unwtab_bias(t, m->start, m->offset, &cm->bias)) {
		cm->tab = t;
		cm->img_lo = t->image_lo + cm->bias;
		cm->img_hi = t->image_hi + cm->bias;
	}
	return cm;
}

/* The cached section bytes holding the word at @addr, or NULL. */
static const unsigned char *sect_word(const struct ctx_map *cm, uint64_t addr)
{
	const struct unwtab_sect *s[3] = {&cm->tab->hdr, &cm->tab->eh, &cm->tab->dbg};
	unsigned i;

	for (i = 0; i < 3; i++) {
		uint64_t lo = s[i]->vaddr + cm->bias;

		/* Copies are 8-byte multiples; dbg, or eh with only .debug_frame, may be empty. */
		if (s[i]->size >= 8 && addr >= lo && addr - lo <= s[i]->size - 8)
			return s[i]->data + (addr - lo);
	}
	return NULL;
}

/*
 * The .eh_frame_hdr entry covering @ip: the last whose start is <= @ip.
 * Searched here, in our copy, because libunwind's remote search reads each
 * probe byte by byte through access_mem. Returns false when @ip is before
 * the first entry.
 */
static bool table_entry(const struct ctx_map *cm, uint64_t ip, int32_t entry[2])
{
	const struct unwtab *t = cm->tab;
	const unsigned char *tab = t->hdr.data + (t->table_vaddr - t->hdr.vaddr);
	int64_t rel = (int64_t)(ip - (t->hdr_vaddr + cm->bias));
	size_t lo = 0, hi = t->fde_count;
	int32_t start;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		memcpy(&start, tab + mid * 8, 4);
		if (rel < start)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (!hi)
		return false;
	memcpy(entry, tab + (hi - 1) * 8, 8);
	return true;
}

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			      int need_unwind_info, void *arg)
{
	struct uw_ctx *c = arg;
	const struct ctx_map *cm = ctx_map_of(c, ip);
	unw_dyn_info_t di;
	int ret;

	if (!cm) {
		ctx_fail(c, UNWIND_END_NO_MAPPING);
		return -UNW_EUNSPEC;
	}
	if (!cm->tab) {
		ctx_fail(c, (enum unwind_end)cm->fail);
		return -UNW_EUNSPEC;
	}
	if (!table_entry(cm, ip, c->entry)) {
		ctx_fail(c, UNWIND_END_NO_CFI);
		return -UNW_EUNSPEC;
	}
	/*
	 * A one-entry UNW_INFO_FORMAT_REMOTE_TABLE: libunwind still reads the FDE
	 * itself (through access_mem, from our .eh_frame copy at segbase +
	 * fde_offset) and checks that @ip is inside it.
	 */
	memset(&di, 0, sizeof(di));
	di.start_ip = cm->m->start;
	di.end_ip = cm->m->end;
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.u.rti.segbase = cm->tab->hdr_vaddr + cm->bias;
	di.u.rti.table_data = ENTRY_ADDR;
	di.u.rti.table_len = 8 / sizeof(unw_word_t); /* in words: one 8-byte entry */
	ret = _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
	if (ret == -UNW_ENOINFO) {
		ctx_fail(c, UNWIND_END_NO_CFI);
		return -UNW_EUNSPEC;
	}
	return ret;
}

/* Table-format info is freed by libunwind itself; only dynamic info comes here, and we have none.
 */
static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
}

static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg)
{
	return -UNW_ENOINFO;
}

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

static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
			  void *arg)
{
	struct uw_ctx *c = arg;
	const unsigned char *p;
	size_t i;

	if (write)
		return -UNW_EINVAL;
	if (++c->reads > CTX_MAX_READS) {
		ctx_fail(c, UNWIND_END_ERROR);
		return -UNW_EINVAL;
	}
	if (stack_word(c, addr, val))
		return 0;
	if (addr == ENTRY_ADDR) {
		memcpy(val, c->entry, 8);
		return 0;
	}
	if (c->last && (p = sect_word(c->last, addr))) {
		memcpy(val, p, 8);
		return 0;
	}
	for (i = 0; i < c->nr_cm; i++) {
		if (!c->cm[i].tab || !(p = sect_word(&c->cm[i], addr)))
			continue;
		c->last = &c->cm[i];
		memcpy(val, p, 8);
		return 0;
	}
	for (i = 0; i < c->nr_cm; i++) {
		if (c->cm[i].tab && addr >= c->cm[i].img_lo && addr < c->cm[i].img_hi) {
			*val = 0; /* see the top of the file */
			return 0;
		}
	}
	if (addr >= c->stack_lo && addr - c->stack_lo < STACK_NEAR)
		ctx_fail(c, UNWIND_END_STACK_COPY);
	else
		ctx_fail(c, UNWIND_END_ERROR);
	return -UNW_EINVAL;
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
			  void *arg)
{
	const struct uw_ctx *c = arg;

	if (write)
		return -UNW_EREADONLYREG;
	if (reg < 0 || reg >= UNWIND_NR_REGS)
		return -UNW_EBADREG;
	*val = c->regs[reg];
	return 0;
}

static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
			    void *arg)
{
	return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *cur, void *arg)
{
	return -UNW_EINVAL;
}

static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			     unw_word_t *off, void *arg)
{
	return -UNW_ENOINFO; /* names are the symbolizer's job */
}

static unw_accessors_t accessors = {
    .find_proc_info = acc_find_proc_info,
    .put_unwind_info = acc_put_unwind_info,
    .get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
    .access_mem = acc_access_mem,
    .access_reg = acc_access_reg,
    .access_fpreg = acc_access_fpreg,
    .resume = acc_resume,
    .get_proc_name = acc_get_proc_name,
};

/* --- Public API ---------------------------------------------------------- */

/*
 * libunwind caches register states per ip in each address space, and an ip
 * only means the same code within one process and one maps snapshot. So an
 * unwinder keeps a few address spaces, each bound to the identity of the
 * process (pid, snapshot) it last unwound, and reuses the least recently
 * used one, flushed, for a new identity. Samples from a handful of busy
 * processes then all hit warm caches; with one address space every switch
 * between processes would flush it.
 */
static bool as_id_eq(const struct as_id *a, const struct as_id *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static unw_addr_space_t as_claim(struct unwinder *u, const struct uw_ctx *c)
{
	struct as_id id;
	struct as_slot *s, *victim = NULL;
	size_t i;

	memset(&id, 0, sizeof(id)); /* padding too: compared with memcmp */
	id.pid = c->pid;
	id.maps = c->maps;
	id.serial = c->maps->serial;
	id.nr = c->maps->nr;
	id.bytes = c->maps->bytes;
	id.lo = c->maps->nr ? c->maps->maps[0].start : 0;
	id.hi = c->maps->nr ? c->maps->maps[c->maps->nr - 1].end : 0;
	u->as_clock++;
	for (i = 0; i < UNWIND_AS_SLOTS; i++) {
		s = &u->as[i];
		if (s->as && as_id_eq(&s->id, &id)) {
			s->used = u->as_clock;
			return s->as;
		}
		if (!victim || !s->as || (victim->as && s->used < victim->used))
			victim = s;
	}
	if (!victim->as) {
		victim->as = unw_create_addr_space(&accessors, 0);
		if (!victim->as)
			return NULL;
		unw_set_caching_policy(victim->as, UNW_CACHE_GLOBAL);
	} else {
		unw_flush_cache(victim->as, 0, 0);
	}
	victim->id = id;
	victim->used = u->as_clock;
	return victim->as;
}

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
	size_t i;

	if (!u)
		return;
	while (!list_empty(&u->lru))
		obj_drop(u, list_entry(u->lru.next, struct uw_obj, lru));
	hmap_fini(&u->by_id);
	hmap_fini(&u->by_alias);
	for (i = 0; i < UNWIND_AS_SLOTS; i++) {
		if (u->as[i].as)
			unw_destroy_addr_space(u->as[i].as);
	}
	unwtab_free(u->vdso);
	cfitab_free(u->vdso_cft);
	free(u->proc_root);
	free(u);
}

/*
 * One frame-pointer step for a frame without CFI: JIT code (V8, the JVM,
 * .NET) and runtime stubs such as V8's embedded builtins keep rbp frames
 * but publish no CFI. [rbp] is the caller's rbp, [rbp + 8] the return
 * address, and the caller's sp is rbp + 16. Only from the stack copy, only
 * upward, and only to a return address inside executable memory, so a
 * register that is not a frame pointer ends the walk rather than inventing
 * frames. Fills @r (a copy of the frame's registers) for a new cursor; @r
 * may be the array c->regs points at (the previous frame-pointer step's).
 * rbp is hostile: both words are read through stack_word() (an empty copy
 * or rsp = 8 reads nothing), and rbp + 16 cannot wrap once [rbp + 8] was in
 * the copy.
 */
static bool jit_fp_step(const struct uw_ctx *c, unw_cursor_t *cur, uint64_t r[UNWIND_NR_REGS])
{
	unw_word_t ip, sp, rbp;
	const struct procmap *m;
	uint64_t saved_rbp, ra;

	if (unw_get_reg(cur, UNW_REG_IP, &ip) < 0 || unw_get_reg(cur, UNW_REG_SP, &sp) < 0 ||
	    unw_get_reg(cur, UNW_X86_64_RBP, &rbp) < 0)
		return false;
	if (!procmaps_find(c->maps, ip))
		return false;
	if (rbp < sp || (rbp & 7) || rbp > UINT64_MAX - 16)
		return false;
	if (!stack_word(c, rbp, &saved_rbp) || !stack_word(c, rbp + 8, &ra))
		return false;
	m = procmaps_find(c->maps, ra);
	if (!m || !(m->perms & PROCMAP_EXEC))
		return false;
	if (r != c->regs)
		memcpy(r, c->regs, UNWIND_NR_REGS * sizeof(*r));
	r[UNWIND_REG_RIP] = ra;
	r[UNWIND_REG_RSP] = rbp + 16;
	r[UNWIND_REG_RBP] = saved_rbp;
	return true;
}

/*
 * Walk from the sampled registers; ips[0] is already written. Bounded: every
 * iteration writes a frame or returns, and each frame's sp must be above the
 * last one's (libunwind's reads are capped by CTX_MAX_READS as well).
 */

static enum unwind_end walk(struct uw_ctx *c, uint64_t *ips, size_t max, size_t *n)
{
	unw_word_t ip, sp, prev_sp = c->regs[UNWIND_REG_RSP];
	uint64_t fp_regs[UNWIND_NR_REGS];
	unw_addr_space_t as;
	unw_cursor_t cur;
	int ret;

	if (!procmaps_find(c->maps, c->regs[UNWIND_REG_RIP]))
		return UNWIND_END_NO_MAPPING;
	as = as_claim(c->u, c);
	c->fail = -1;
	if (!as || unw_init_remote(&cur, as, c) < 0)
		return UNWIND_END_ERROR;
	/* Each step either ends the walk or writes a frame, so @max bounds the loop. */
	while (*n < max) {
		c->fail = -1;
		ret = unw_step(&cur);
		if (ret == 0)
			return UNWIND_END_COMPLETE;
		if (ret < 0 && c->fail == UNWIND_END_NO_CFI && jit_fp_step(c, &cur, fp_regs) &&
		    fp_regs[UNWIND_REG_RSP] > prev_sp) {
			/* Through the JIT frame by its frame pointer, then CFI again. */
			prev_sp = fp_regs[UNWIND_REG_RSP];
			ips[(*n)++] = fp_regs[UNWIND_REG_RIP];
			c->regs = fp_regs;
			c->fail = -1;
			if (unw_init_remote(&cur, as, c) < 0)
				return UNWIND_END_ERROR;
			continue;
		}
		if (ret < 0)
			return c->fail >= 0 ? (enum unwind_end)c->fail : UNWIND_END_ERROR;
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 ||
		    unw_get_reg(&cur, UNW_REG_SP, &sp) < 0)
			return UNWIND_END_ERROR;
		if (!ip)
			return UNWIND_END_COMPLETE;
		if (c->fail >= 0)
			return (enum unwind_end)c->fail;
		/* Callers live above callees; anything else is a loop or garbage CFI. */
		if (sp <= prev_sp)
			return UNWIND_END_ERROR;
		prev_sp = sp;
		ips[(*n)++] = ip;
	}
	return UNWIND_END_MAX_DEPTH;
}

size_t unwinder_unwind(struct unwinder *u, pid_t pid, const struct procmaps *maps,
		       const uint64_t regs[UNWIND_NR_REGS], const void *stack, size_t stack_len,
		       uint64_t *ips, size_t max, enum unwind_end *end)
{
	struct uw_ctx c = {
	    .u = u,
	    .pid = pid,
	    .maps = maps,
	    .regs = regs,
	    .stack = stack,
	    .stack_lo = regs[UNWIND_REG_RSP],
	    .fail = -1,
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
	} else {
		ips[n++] = regs[UNWIND_REG_RIP];
		if (c.stack_lo < USER_ADDR_MIN || c.stack_lo >= USER_ADDR_END)
			why = UNWIND_END_BAD_REGS; /* the sampled ip alone, counted */
		else
			why = !maps ? UNWIND_END_NO_MAPPING : walk(&c, ips, max, &n);
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

/* Compile @t once into *@cft (remembering a failure in *@err); 0 or -errno. */
static int compile_table(struct unwinder *u, const struct unwtab *t, struct cfitab **cft, int *err)
{
	if (*cft)
		return 0;
	if (*err)
		return *err;
	*err = cfitab_from_unwtab(t, 0, cft);
	if (*err == 0)
		u->stats.tables_built++;
	return *err;
}

int unwinder_table(struct unwinder *u, pid_t pid, const struct procmaps *maps,
		   const struct procmap *m, struct unwinder_table *out)
{
	struct uw_obj *o = NULL;
	const struct unwtab *t;
	struct cfitab *cft;
	uint64_t bias;
	int err;

	(void)maps;
	if (!strcmp(m->path, "[vdso]")) {
		t = vdso_tab(u, m);
		if (!t)
			return -ENOENT;
		err = compile_table(u, t, &u->vdso_cft, &u->vdso_cft_err);
		if (err)
			return err;
		if (!u->vdso_cft_err && u->vdso_cft && !u->vdso_id)
			u->vdso_id = ++u->next_id;
		cft = u->vdso_cft;
		out->obj_id = u->vdso_id;
	} else {
		if (!is_file_backed(m))
			return -ENOENT;
		o = obj_for_map(u, pid, m);
		if (!o)
			return -ENOENT;
		if (!o->tab)
			return -ENOENT;
		t = o->tab;
		if (!o->cft && !o->cft_err) {
			err = compile_table(u, t, &o->cft, &o->cft_err);
			if (err)
				return err;
			o->id = ++u->next_id;
			o->bytes += o->cft->bytes;
			u->stats.cache_bytes += o->cft->bytes;
		}
		if (!o->cft)
			return o->cft_err;
		cft = o->cft;
		out->obj_id = o->id;
	}
	if (unwtab_bias(t, m->start, m->offset, &bias))
		return -ENOENT;
	out->tab = cft;
	out->adj = bias + cft->base;
	if (!o)
		return 0;
	/* Over budget now: evict others, never the one just handed out. */
	list_move(&o->lru, &u->lru);
	while (u->stats.cache_bytes > u->max_bytes && u->lru.prev != &o->lru) {
		obj_drop(u, list_entry(u->lru.prev, struct uw_obj, lru));
		u->stats.cache_evictions++;
	}
	return 0;
}
