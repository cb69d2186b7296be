// SPDX-License-Identifier: Apache-2.0
#include "symcache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hmap.h"
#include "debuginfo.h"
#include "common/list.h"

#define SYMCACHE_DEFAULT_BYTES (64u << 20)

struct symcache_obj {
	struct hnode id_node;	  /* in by_id when the object has a build id */
	struct list_head lru;	  /* most recently used at the head */
	struct list_head aliases; /* struct alias.obj_link */
	struct elfsym *elf;
	struct gopclntab *gopcln; /* stripped Go binaries only */
	struct dwsym *dw;	  /* DWARF, from the binary or its debug file; NULL if none */
	struct elfsym *dbg_elf;	  /* the debug file's .symtab when the binary is stripped */
	int dw_err;		  /* why DWARF that exists could not be opened, or 0 */
	size_t bytes; /* elf + this + aliases: what the budget is charged */
	unsigned refs;
	bool has_id;
};

enum alias_kind {
	ALIAS_FILE = 1, /* (st_dev, st_ino, st_size, mtime ns) from fstat */
	ALIAS_MAP,	/* (major, minor, inode) from a maps line */
};

/* One key pointing to an object; several keys may share an object. */
struct alias {
	struct hnode node;
	struct list_head obj_link;
	struct symcache_obj *obj;
	uint64_t key[5]; /* kind, then the key fields */
};

struct neg_entry {
	struct hnode node;
	uint64_t key[5];
	int err;
	bool used;
};

struct symcache {
	size_t max_bytes;
	struct hmap by_id;
	struct hmap by_alias;
	struct hmap neg;
	struct list_head lru;
	size_t neg_next; /* ring position: the oldest negative entry is replaced */
	struct symcache_stats stats;
	bool dwarf;
	char **debug_dirs; /* NULL-terminated copy, or NULL for the default */
	struct neg_entry neg_ring[SYMCACHE_NEG_MAX];
};

static uint64_t key_hash(const uint64_t key[5])
{
	return hash_bytes(key, 5 * sizeof(uint64_t), 0x73796d63);
}

static struct alias *alias_find(const struct symcache *c, const uint64_t key[5])
{
	struct hnode *n;

	for (n = hmap_first(&c->by_alias, key_hash(key)); n; n = hmap_next(n)) {
		struct alias *a = container_of(n, struct alias, node);

		if (!memcmp(a->key, key, sizeof(a->key)))
			return a;
	}
	return NULL;
}

static void alias_del(struct symcache *c, struct alias *a)
{
	hmap_remove(&c->by_alias, &a->node);
	list_del(&a->obj_link);
	a->obj->bytes -= sizeof(*a);
	c->stats.bytes -= sizeof(*a);
	free(a);
}

/* Point @key at @o, replacing whatever it pointed at. A failed alloc only costs a re-open. */
static void alias_set(struct symcache *c, const uint64_t key[5], struct symcache_obj *o)
{
	struct alias *a = alias_find(c, key);

	if (a && a->obj == o)
		return;
	if (a)
		alias_del(c, a);
	a = calloc(1, sizeof(*a));
	if (!a)
		return;
	memcpy(a->key, key, sizeof(a->key));
	a->obj = o;
	list_add(&a->obj_link, &o->aliases);
	hmap_insert(&c->by_alias, &a->node, key_hash(key));
	o->bytes += sizeof(*a);
	c->stats.bytes += sizeof(*a);
}

static void map_key(const struct symcache_mapkey *k, uint64_t key[5])
{
	key[0] = ALIAS_MAP;
	key[1] = k->dev_major;
	key[2] = k->dev_minor;
	key[3] = k->inode;
	key[4] = 0;
}

static void obj_drop(struct symcache *c, struct symcache_obj *o)
{
	while (!list_empty(&o->aliases))
		alias_del(c, list_entry(o->aliases.next, struct alias, obj_link));
	if (o->has_id)
		hmap_remove(&c->by_id, &o->id_node);
	list_del(&o->lru);
	c->stats.bytes -= o->bytes;
	c->stats.objects--;
	elfsym_free(o->elf);
	gopclntab_free(o->gopcln);
	dwsym_free(o->dw);
	elfsym_free(o->dbg_elf);
	free(o);
}

/* Evict unreferenced objects from the cold end until the budget holds. */
static void evict(struct symcache *c)
{
	struct list_head *pos = c->lru.prev, *prev;

	while (c->stats.bytes > c->max_bytes && pos != &c->lru) {
		struct symcache_obj *o = list_entry(pos, struct symcache_obj, lru);

		prev = pos->prev;
		if (!o->refs) {
			obj_drop(c, o);
			c->stats.evictions++;
		}
		pos = prev;
	}
}

/*
 * A stripped Go binary has no symbols but still carries the pclntab its
 * runtime uses for tracebacks. Failure just leaves the object without it.
 */
static void obj_load_gopclntab(struct symcache_obj *o, int fd)
{
	if (gopclntab_open_fd(fd, GOPCLNTAB_IF_STRIPPED, &o->gopcln))
		return;
	o->bytes += gopclntab_bytes(o->gopcln);
}

/*
 * DWARF of a new object: its own .debug_info, else a separate debug file
 * found by build id or .gnu_debuglink. Only the range -> CU table is built
 * now; CUs are parsed on their first lookup. Failures leave the object
 * with symbols only, and a DWARF that exists but is broken is remembered
 * in dw_err so its frames are counted.
 */
static void obj_load_dwarf(const struct symcache *c, struct symcache_obj *o, int fd,
			   const struct symcache_src *src)
{
	struct debuginfo_probe probe;
	struct debuginfo_query q = {
	    .build_id = elfsym_build_id(o->elf),
	    .probe = &probe,
	    .bin_path = src ? src->path : NULL,
	    .root = src ? src->root : NULL,
	    .debug_dirs = (const char *const *)c->debug_dirs,
	};
	int dfd, err;

	if (debuginfo_probe_fd(fd, &probe))
		return;
	if (probe.has_debug_info) {
		err = dwsym_open_fd(fd, &o->dw);
		if (err && err != -ENOENT && err != -ENOEXEC)
			o->dw_err = err;
		goto charge;
	}
	dfd = debuginfo_find(&q);
	if (dfd < 0)
		return;
	err = dwsym_open_fd(dfd, &o->dw);
	if (err && err != -ENOENT && err != -ENOEXEC)
		o->dw_err = err;
	if (!probe.has_symtab && !elfsym_open_fd(dfd, &o->dbg_elf))
		o->bytes += elfsym_bytes(o->dbg_elf);
	close(dfd);
charge:
	o->bytes += dwsym_bytes(o->dw);
}

static void obj_touch(struct symcache *c, struct symcache_obj *o)
{
	o->refs++;
	list_move(&o->lru, &c->lru);
}

int symcache_new(size_t max_bytes, struct symcache **out)
{
	struct symcache *c;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->max_bytes = max_bytes ? max_bytes : SYMCACHE_DEFAULT_BYTES;
	hmap_init(&c->by_id);
	hmap_init(&c->by_alias);
	hmap_init(&c->neg);
	list_init(&c->lru);
	*out = c;
	return 0;
}

static void free_dirs(char **dirs)
{
	size_t i;

	for (i = 0; dirs && dirs[i]; i++)
		free(dirs[i]);
	free(dirs);
}

int symcache_set_dwarf(struct symcache *c, bool enable, const char *const *debug_dirs)
{
	char **dirs = NULL;
	size_t n = 0, i;

	while (debug_dirs && debug_dirs[n])
		n++;
	if (debug_dirs) {
		dirs = calloc(n + 1, sizeof(*dirs));
		if (!dirs)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			dirs[i] = strdup(debug_dirs[i]);
			if (!dirs[i]) {
				free_dirs(dirs);
				return -ENOMEM;
			}
		}
	}
	free_dirs(c->debug_dirs);
	c->debug_dirs = dirs;
	c->dwarf = enable;
	return 0;
}

void symcache_free(struct symcache *c)
{
	if (!c)
		return;
	free_dirs(c->debug_dirs);
	while (!list_empty(&c->lru))
		obj_drop(c, list_entry(c->lru.next, struct symcache_obj, lru));
	hmap_fini(&c->by_id);
	hmap_fini(&c->by_alias);
	hmap_fini(&c->neg);
	free(c);
}

struct symcache_obj *symcache_get_mapped(struct symcache *c, const struct symcache_mapkey *key)
{
	uint64_t k[5];
	struct alias *a;

	map_key(key, k);
	a = alias_find(c, k);
	if (!a)
		return NULL;
	c->stats.hits++;
	obj_touch(c, a->obj);
	return a->obj;
}

static struct neg_entry *neg_find(const struct symcache *c, const uint64_t key[5])
{
	struct hnode *n;

	for (n = hmap_first(&c->neg, key_hash(key)); n; n = hmap_next(n)) {
		struct neg_entry *e = container_of(n, struct neg_entry, node);

		if (!memcmp(e->key, key, sizeof(e->key)))
			return e;
	}
	return NULL;
}

static void neg_add(struct symcache *c, const uint64_t key[5], int err)
{
	struct neg_entry *e = &c->neg_ring[c->neg_next];

	/* Out of memory says nothing about the file: do not remember it. */
	if (err == -ENOMEM)
		return;
	c->neg_next = (c->neg_next + 1) % SYMCACHE_NEG_MAX;
	if (e->used)
		hmap_remove(&c->neg, &e->node);
	memcpy(e->key, key, sizeof(e->key));
	e->err = err;
	e->used = true;
	hmap_insert(&c->neg, &e->node, key_hash(key));
}

static struct symcache_obj *find_by_id(const struct symcache *c, const char *id)
{
	struct hnode *n;

	for (n = hmap_first(&c->by_id, hash_bytes(id, strlen(id), 0)); n; n = hmap_next(n)) {
		struct symcache_obj *o = container_of(n, struct symcache_obj, id_node);

		if (!strcmp(elfsym_build_id(o->elf), id))
			return o;
	}
	return NULL;
}

int symcache_get_fd(struct symcache *c, int fd, const struct symcache_mapkey *key,
		    struct symcache_obj **out)
{
	return symcache_get_fd_src(c, fd, key, NULL, out);
}

int symcache_get_fd_src(struct symcache *c, int fd, const struct symcache_mapkey *key,
			const struct symcache_src *src, struct symcache_obj **out)
{
	struct symcache_obj *o = NULL;
	struct elfsym *elf = NULL;
	struct neg_entry *neg;
	struct alias *a;
	struct stat st;
	uint64_t fkey[5], mkey[5];
	const char *id;
	int err = 0;

	*out = NULL;
	if (fstat(fd, &st))
		return -errno;
	fkey[0] = ALIAS_FILE;
	fkey[1] = (uint64_t)st.st_dev;
	fkey[2] = (uint64_t)st.st_ino;
	fkey[3] = (uint64_t)st.st_size;
	fkey[4] = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	a = alias_find(c, fkey);
	if (a) {
		c->stats.hits++;
		o = a->obj;
		obj_touch(c, o);
		goto bind;
	}
	neg = neg_find(c, fkey);
	if (neg) {
		c->stats.neg_hits++;
		return neg->err;
	}
	c->stats.misses++;
	err = elfsym_open_fd(fd, &elf);
	if (err) {
		neg_add(c, fkey, err);
		return err;
	}
	id = elfsym_build_id(elf);
	o = *id ? find_by_id(c, id) : NULL;
	if (o) {
		/* Same content under another name (a copy in a container): share it. */
		elfsym_free(elf);
		obj_touch(c, o);
	} else {
		o = calloc(1, sizeof(*o));
		if (!o) {
			elfsym_free(elf);
			return -ENOMEM;
		}
		o->elf = elf;
		o->bytes = sizeof(*o) + elfsym_bytes(elf);
		obj_load_gopclntab(o, fd);
		if (c->dwarf)
			obj_load_dwarf(c, o, fd, src);
		list_init(&o->aliases);
		list_add(&o->lru, &c->lru);
		if (*id) {
			hmap_insert(&c->by_id, &o->id_node, hash_bytes(id, strlen(id), 0));
			o->has_id = true;
		}
		c->stats.bytes += o->bytes;
		c->stats.objects++;
		o->refs = 1;
	}
	alias_set(c, fkey, o);
bind:
	if (key) {
		map_key(key, mkey);
		alias_set(c, mkey, o);
	}
	evict(c);
	*out = o;
	return 0;
}

void symcache_put(struct symcache *c, struct symcache_obj *o)
{
	if (!o)
		return;
	if (o->refs)
		o->refs--;
	if (!o->refs)
		evict(c);
}

const struct elfsym *symcache_obj_elf(const struct symcache_obj *o)
{
	return o->elf;
}

const struct gopclntab *symcache_obj_gopclntab(const struct symcache_obj *o)
{
	return o->gopcln;
}

int symcache_obj_symbol(const struct symcache_obj *o, uint64_t vaddr, const char **name,
			uint64_t *start)
{
	/* The debug file's .symtab is a superset of a stripped binary's .dynsym. */
	if (o->dbg_elf && !elfsym_lookup(o->dbg_elf, vaddr, name, start))
		return 0;
	return elfsym_lookup(o->elf, vaddr, name, start);
}

int symcache_obj_dwarf(struct symcache *c, struct symcache_obj *o, uint64_t vaddr,
		       struct dwsym_frame *frames, size_t max)
{
	size_t before;
	int n;

	if (!o->dw)
		return o->dw_err ? -EINVAL : 0;
	before = dwsym_bytes(o->dw);
	n = dwsym_lookup(o->dw, vaddr, frames, max);
	/* CUs parsed by this lookup; the budget is enforced at symcache_put(). */
	o->bytes += dwsym_bytes(o->dw) - before;
	c->stats.bytes += dwsym_bytes(o->dw) - before;
	return n == -ENOMEM ? 0 : n;
}

bool symcache_obj_has_dwarf(const struct symcache_obj *o)
{
	return o->dw && dwsym_nr_cus(o->dw) > dwsym_nr_bad_cus(o->dw);
}

void symcache_get_stats(const struct symcache *c, struct symcache_stats *out)
{
	*out = c->stats;
}
