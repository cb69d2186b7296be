// SPDX-License-Identifier: Apache-2.0
#include "symcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hmap.h"
#include "debuginfo.h"
#include "common/list.h"

#define SYMCACHE_DEFAULT_BYTES (64u << 20)
/*
 * The per-object budget is the cache's, but never below this: a small cache
 * still symbolizes a libc-sized object (and evicts it after use).
 */
#define SYMCACHE_MIN_OBJECT (16u << 20)

/*
 * Where an object's DWARF is, until it is loaded (see symcache.h, "Lazy
 * DWARF"): DW_PENDING with @fd >= 0 (the object itself, or its debug file
 * once found) or with a debug-file search still to run (@search).
 */
enum obj_dw_state {
	DW_NONE = 0, /* DWARF off, no DWARF anywhere, or loaded/tried: see dw, dw_err */
	DW_PENDING,  /* not loaded yet */
	DW_LOST,     /* its fd was closed to stay under the fd cap; re-priming restores it */
};

/* What a deferred search for the separate debug file needs (the probe, minus the buffer). */
struct obj_search {
	char *bin_path; /* as the process saw it */
	char *root;	/* "/proc/PID/root" of the process that mapped it, or NULL */
	char *link;	/* .gnu_debuglink name, or NULL */
	uint32_t link_crc;
	bool has_symtab;
};

struct symcache_obj {
	struct hnode id_node;	  /* in by_id when the object has a build id */
	struct list_head lru;	  /* most recently used at the head */
	struct list_head aliases; /* struct alias.obj_link */
	struct elfsym *elf;
	struct gopclntab *gopcln; /* stripped Go binaries only */
	struct dwsym *dw;	  /* DWARF, from the binary or its debug file; NULL if none (yet) */
	struct elfsym *dbg_elf;	  /* the debug file's .symtab when the binary is stripped */
	struct obj_search *search; /* the debug-file search still to run, or NULL */
	int dw_err;		   /* why DWARF that exists could not be opened, or 0 */
	uint64_t root_dev;	   /* the root its debug file may be searched in (0: host) */
	uint64_t root_ino;
	bool is_dbg_from_root; /* its debug file came from a container's root */
	int fd;		       /* O_RDONLY file holding the DWARF while DW_PENDING, or -1 */
	size_t bytes; /* elf + this + aliases + DWARF once loaded: what the budget is charged */
	unsigned refs;
	unsigned nr_aliases;
	uint8_t dw_state;   /* enum obj_dw_state */
	bool is_fd_trusted; /* fd may be mapped (see dwsym_open_fd_map()) */
	bool has_id;
	bool is_too_big; /* a part of it (symbols, pclntab, DWARF) did not fit max_object */
};

/*
 * One file identity (struct procmap_file: device, inode, size, mtime, ctime)
 * pointing to an object; several files may share an object. Never (device,
 * inode) alone: both are reused, and a new file must not get a gone one's
 * names (nor one process change what is said about another).
 */
struct alias {
	struct hnode node;
	struct list_head obj_link;
	struct symcache_obj *obj;
	uint64_t key[5];
};

struct neg_entry {
	struct hnode node;
	uint64_t key[5];
	int err;
	bool used;
};

struct symcache {
	size_t max_bytes;
	size_t max_object; /* what parsing one object may allocate (see symcache_set_max_object) */
	struct hmap by_id;
	struct hmap by_alias;
	struct hmap neg;
	struct list_head lru;
	size_t neg_next; /* ring position: the oldest negative entry is replaced */
	unsigned max_fds;
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
	a->obj->nr_aliases--;
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
	if (o->nr_aliases >= SYMCACHE_MAX_ALIASES) {
		/* Hits move an identity to the head: the tail's file was seen the longest ago. */
		alias_del(c, list_entry(o->aliases.prev, struct alias, obj_link));
		c->stats.alias_drops++;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return;
	memcpy(a->key, key, sizeof(a->key));
	a->obj = o;
	if (hmap_insert(&c->by_alias, &a->node, key_hash(key))) {
		free(a);
		return;
	}
	list_add(&a->obj_link, &o->aliases);
	o->nr_aliases++;
	o->bytes += sizeof(*a);
	c->stats.bytes += sizeof(*a);
}

static void search_free(struct obj_search *q)
{
	if (!q)
		return;
	free(q->bin_path);
	free(q->root);
	free(q->link);
	free(q);
}

static size_t search_bytes(const struct obj_search *q)
{
	size_t n = sizeof(*q);

	n += q->bin_path ? strlen(q->bin_path) + 1 : 0;
	n += q->root ? strlen(q->root) + 1 : 0;
	n += q->link ? strlen(q->link) + 1 : 0;
	return n;
}

static void obj_close_fd(struct symcache *c, struct symcache_obj *o)
{
	if (o->fd < 0)
		return;
	close(o->fd);
	o->fd = -1;
	c->stats.fds--;
}

/* Adjust what @o (and so the cache) is charged; evictions happen at symcache_put(). */
static void obj_charge(struct symcache *c, struct symcache_obj *o, size_t add, size_t sub)
{
	o->bytes += add;
	o->bytes -= sub;
	c->stats.bytes += add;
	c->stats.bytes -= sub;
}

static void obj_drop_search(struct symcache *c, struct symcache_obj *o)
{
	if (!o->search)
		return;
	obj_charge(c, o, 0, search_bytes(o->search));
	search_free(o->search);
	o->search = NULL;
}

static void obj_drop(struct symcache *c, struct symcache_obj *o)
{
	while (!list_empty(&o->aliases))
		alias_del(c, list_entry(o->aliases.next, struct alias, obj_link));
	if (o->has_id)
		hmap_remove(&c->by_id, &o->id_node);
	list_del(&o->lru);
	obj_close_fd(c, o);
	obj_drop_search(c, o);
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
/* What is left of the per-object budget for a parse adding to @o. */
static struct parse_budget obj_budget(const struct symcache *c, const struct symcache_obj *o)
{
	return parse_budget_make(o->bytes < c->max_object ? c->max_object - o->bytes : 0);
}

/* A parse of an object ran out of budget: count it, once per parse, with what it asked for. */
static void note_too_big(struct symcache *c, const struct parse_budget *b)
{
	c->stats.too_big++;
	c->stats.too_big_bytes += b->refused;
}

static void obj_load_gopclntab(struct symcache *c, struct symcache_obj *o, int fd)
{
	struct parse_budget b = obj_budget(c, o);
	int err;

	err = gopclntab_open_fd_budget(fd, GOPCLNTAB_IF_STRIPPED, &b, &o->gopcln);
	if (err == -EFBIG) {
		o->is_too_big = true;
		note_too_big(c, &b);
	}
	if (err)
		return;
	o->bytes += gopclntab_bytes(o->gopcln);
}

/*
 * Keep @fd (a duplicate of it) in @o until its DWARF is loaded. At the cap,
 * the least recently used object holding one gives its fd up: its DWARF is
 * lost until a process mapping it is primed again. A failed dup() loses
 * only @o's DWARF.
 */
static void obj_hold_fd(struct symcache *c, struct symcache_obj *o, int fd)
{
	struct list_head *pos;

	obj_close_fd(c, o);
	for (pos = c->lru.prev; c->stats.fds >= c->max_fds && pos != &c->lru; pos = pos->prev) {
		struct symcache_obj *v = list_entry(pos, struct symcache_obj, lru);

		if (v == o || v->fd < 0)
			continue;
		obj_close_fd(c, v);
		v->dw_state = DW_LOST;
		c->stats.fd_drops++;
	}
	o->fd = c->stats.fds < c->max_fds ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (o->fd < 0) {
		o->dw_state = DW_LOST;
		c->stats.fd_drops++;
		return;
	}
	c->stats.fds++;
	o->dw_state = DW_PENDING;
}

static char *dup_opt(const char *str, bool *failed)
{
	char *d;

	if (!str)
		return NULL;
	d = strdup(str);
	if (!d)
		*failed = true;
	return d;
}

/*
 * Whether the file behind @fd is the one at @src's path in our own mount
 * namespace: a host file, not a container's (whose root could truncate it).
 */
static bool is_host_file(int fd, const struct symcache_src *src)
{
	struct stat a, b;

	if (!src || !src->path || src->path[0] != '/' || fstat(fd, &a) || stat(src->path, &b))
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * Where a new object's DWARF is, without reading it: its own .debug_info
 * (then its fd is held), else what the search for a separate debug file
 * needs. The search itself runs on the first lookup that needs the debug
 * file (see obj_search_debug()). Failures leave the object with symbols only.
 */
static void obj_note_dwarf(struct symcache *c, struct symcache_obj *o, int fd,
			   const struct symcache_src *src)
{
	struct debuginfo_probe probe;
	struct obj_search *q;
	bool failed = false;

	if (debuginfo_probe_fd(fd, &probe))
		return;
	if (probe.has_debug_info) {
		obj_hold_fd(c, o, fd);
		o->is_fd_trusted = is_host_file(fd, src) && debuginfo_fd_is_trusted(fd);
		return;
	}
	/* Without a build id or a debuglink there is nothing to search by. */
	if (!*elfsym_build_id(o->elf) && !probe.has_link)
		return;
	q = calloc(1, sizeof(*q));
	if (!q)
		return;
	q->bin_path = dup_opt(src ? src->path : NULL, &failed);
	q->root = dup_opt(src ? src->root : NULL, &failed);
	q->link = dup_opt(probe.has_link ? probe.link : NULL, &failed);
	q->link_crc = probe.link_crc;
	q->has_symtab = probe.has_symtab;
	if (failed) {
		search_free(q);
		return;
	}
	o->search = q;
	o->bytes += search_bytes(q);
	o->dw_state = DW_PENDING;
}

/*
 * Find the separate debug file now: its .symtab is loaded when the binary
 * is stripped, and its fd is held for the DWARF. Run once; when the process
 * has exited, candidates inside its root are gone and only the host debug
 * dirs are searched (the build id or CRC check still guards each candidate).
 */
static void obj_search_debug(struct symcache *c, struct symcache_obj *o)
{
	struct obj_search *q = o->search;
	struct debuginfo_probe probe = {.has_symtab = q->has_symtab};
	struct debuginfo_query dq = {
	    .build_id = elfsym_build_id(o->elf),
	    .probe = &probe,
	    .bin_path = q->bin_path,
	    .root = q->root,
	    .debug_dirs = (const char *const *)c->debug_dirs,
	};
	bool is_trusted = false;
	int dfd;

	if (q->link && strlen(q->link) < sizeof(probe.link)) {
		probe.has_link = true;
		probe.link_crc = q->link_crc;
		strcpy(probe.link, q->link);
	}
	dfd = debuginfo_find_ex(&dq, &is_trusted);
	/* Not from a host debug dir: only processes of that root may see what it says. */
	o->is_dbg_from_root = dfd >= 0 && !is_trusted && q->root;
	obj_drop_search(c, o);
	o->dw_state = DW_NONE;
	if (dfd < 0)
		return;
	if (!probe.has_symtab) {
		struct parse_budget b = obj_budget(c, o);
		int err = elfsym_open_fd_budget(dfd, &b, &o->dbg_elf);

		if (!err && elfsym_is_truncated(o->dbg_elf)) {
			o->is_too_big = true;
			note_too_big(c, &b);
		}
		if (!err)
			obj_charge(c, o, elfsym_bytes(o->dbg_elf), 0);
	}
	obj_hold_fd(c, o, dfd);
	o->is_fd_trusted = is_trusted;
	close(dfd);
}

/*
 * Load the DWARF of a DW_PENDING object within what is left of the
 * per-object budget, charging it to the cache's. DWARF over the budget is
 * given up for good (dw_err = -EFBIG): the object keeps its symbols.
 */
static void obj_load_dwarf(struct symcache *c, struct symcache_obj *o)
{
	struct parse_budget b;
	int err;

	if (o->search)
		obj_search_debug(c, o);
	if (o->dw_state != DW_PENDING || o->fd < 0)
		return;
	b = obj_budget(c, o);
	if (o->is_fd_trusted)
		err = dwsym_open_fd_map_budget(o->fd, &b, &o->dw);
	else
		err = dwsym_open_fd_budget(o->fd, &b, &o->dw);
	if (err == -EFBIG) {
		o->is_too_big = true;
		note_too_big(c, &b);
	}
	if (err && err != -ENOENT && err != -ENOEXEC)
		o->dw_err = err;
	/* Out of memory says nothing about the file: keep the fd and try again later. */
	if (err == -ENOMEM)
		return;
	obj_close_fd(c, o);
	o->dw_state = DW_NONE;
	obj_charge(c, o, dwsym_bytes(o->dw), 0);
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
	symcache_set_max_object(c, 0);
	c->max_fds = SYMCACHE_MAX_FDS;
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

struct symcache_obj *symcache_get_file(struct symcache *c, const struct procmap_file *id)
{
	uint64_t k[5];
	struct alias *a;

	procmap_file_key(id, k);
	a = alias_find(c, k);
	if (!a)
		return NULL;
	c->stats.hits++;
	list_move(&a->obj_link, &a->obj->aliases);
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

/* Remembered failures include objects too big to parse (-EFBIG): refused again at no cost. */
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
	/* Not remembered when the table has no bucket: the failure is only tried again. */
	e->used = hmap_insert(&c->neg, &e->node, key_hash(key)) == 0;
}

/* The root a debug file may be searched in, as (device, inode) of its directory; 0 for the host. */
static void root_identity(const struct symcache_src *src, uint64_t *dev, uint64_t *ino)
{
	struct stat r, host;

	*dev = 0;
	*ino = 0;
	if (!src || !src->root || stat(src->root, &r) || stat("/", &host))
		return;
	if (r.st_dev == host.st_dev && r.st_ino == host.st_ino)
		return;
	*dev = (uint64_t)r.st_dev;
	*ino = (uint64_t)r.st_ino;
}

/*
 * An object parsed from another file that may serve @elf's: same build id
 * and same content digest (a build id alone is a claim any container can
 * copy), and no debug file found inside another root.
 */
static struct symcache_obj *find_shared(const struct symcache *c, const struct elfsym *elf,
					uint64_t root_dev, uint64_t root_ino)
{
	const char *id = elfsym_build_id(elf);
	const unsigned char *dg = elfsym_digest(elf), *odg;
	struct hnode *n;

	if (!*id || !dg)
		return NULL;
	for (n = hmap_first(&c->by_id, hash_bytes(id, strlen(id), 0)); n; n = hmap_next(n)) {
		struct symcache_obj *o = container_of(n, struct symcache_obj, id_node);
		bool same_root = o->root_dev == root_dev && o->root_ino == root_ino;

		odg = elfsym_digest(o->elf);
		if (strcmp(elfsym_build_id(o->elf), id) || !odg ||
		    memcmp(odg, dg, ELFSYM_DIGEST_SZ))
			continue;
		if (o->is_dbg_from_root && !same_root)
			continue;
		return o;
	}
	return NULL;
}

/*
 * @o is shared with a process of another root: its debug file, not searched
 * yet, will be looked for in the host's debug dirs only, never in either
 * container's root (one must not name the debug file of the other).
 */
static void obj_share_root(struct symcache *c, struct symcache_obj *o, uint64_t root_dev,
			   uint64_t root_ino)
{
	if (o->root_dev == root_dev && o->root_ino == root_ino)
		return;
	if (o->search && o->search->root) {
		obj_charge(c, o, 0, strlen(o->search->root) + 1);
		free(o->search->root);
		o->search->root = NULL;
	}
	o->root_dev = 0;
	o->root_ino = 0;
}

int symcache_get_fd(struct symcache *c, int fd, const struct procmap_file *id,
		    struct symcache_obj **out)
{
	return symcache_get_fd_src(c, fd, id, NULL, out);
}

int symcache_get_fd_src(struct symcache *c, int fd, const struct procmap_file *id,
			const struct symcache_src *src, struct symcache_obj **out)
{
	struct symcache_obj *o = NULL;
	struct elfsym *elf = NULL;
	struct neg_entry *neg;
	struct alias *a;
	struct stat st;
	struct parse_budget b = parse_budget_make(c->max_object);
	struct procmap_file fid;
	uint64_t fkey[5], root_dev, root_ino;
	const char *bid;
	int err = 0;

	*out = NULL;
	if (!id) {
		if (fstat(fd, &st))
			return -errno;
		procmap_file_of_stat(&st, &fid);
		id = &fid;
	}
	procmap_file_key(id, fkey);
	a = alias_find(c, fkey);
	if (a) {
		c->stats.hits++;
		list_move(&a->obj_link, &a->obj->aliases);
		o = a->obj;
		obj_touch(c, o);
		goto done;
	}
	neg = neg_find(c, fkey);
	if (neg) {
		c->stats.neg_hits++;
		return neg->err;
	}
	c->stats.misses++;
	err = elfsym_open_fd_budget(fd, &b, &elf);
	if (err == -EFBIG)
		note_too_big(c, &b);
	if (err) {
		neg_add(c, fkey, err);
		return err;
	}
	bid = elfsym_build_id(elf);
	root_identity(src, &root_dev, &root_ino);
	o = find_shared(c, elf, root_dev, root_ino);
	if (o) {
		/* Same content under another name (a copy in a container): share it. */
		elfsym_free(elf);
		obj_touch(c, o);
		obj_share_root(c, o, root_dev, root_ino);
	} else {
		o = calloc(1, sizeof(*o));
		if (!o) {
			elfsym_free(elf);
			return -ENOMEM;
		}
		o->elf = elf;
		o->fd = -1;
		o->bytes = sizeof(*o) + elfsym_bytes(elf);
		o->root_dev = root_dev;
		o->root_ino = root_ino;
		if (elfsym_is_truncated(elf)) {
			/* Kept (segments and build id): its frames are raw addresses, never
			 * re-parsed. */
			o->is_too_big = true;
			note_too_big(c, &b);
		}
		obj_load_gopclntab(c, o, fd);
		list_init(&o->aliases);
		list_add(&o->lru, &c->lru);
		if (c->dwarf)
			obj_note_dwarf(c, o, fd, src);
		/* Unindexed by build id (no memory for a bucket): only not shared by id. */
		if (*bid)
			o->has_id = hmap_insert(&c->by_id, &o->id_node,
						hash_bytes(bid, strlen(bid), 0)) == 0;
		c->stats.bytes += o->bytes;
		c->stats.objects++;
		o->refs = 1;
	}
	alias_set(c, fkey, o);
done:
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

int symcache_obj_symbol(struct symcache *c, struct symcache_obj *o, uint64_t vaddr,
			const char **name, uint64_t *start)
{
	/* A stripped binary's full .symtab is in its debug file: find it now. */
	if (o->search && !o->search->has_symtab)
		obj_search_debug(c, o);
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

	if (o->dw_state == DW_PENDING)
		obj_load_dwarf(c, o);
	if (!o->dw)
		return o->dw_err == -EFBIG ? -EFBIG : o->dw_err ? -EINVAL : 0;
	before = dwsym_bytes(o->dw);
	n = dwsym_lookup(o->dw, vaddr, frames, max);
	/* CUs parsed by this lookup; the budget is enforced at symcache_put(). */
	obj_charge(c, o, dwsym_bytes(o->dw) - before, 0);
	return n == -ENOMEM ? 0 : n;
}

bool symcache_obj_has_dwarf(const struct symcache_obj *o)
{
	return o->dw && dwsym_nr_cus(o->dw) > dwsym_nr_bad_cus(o->dw);
}

bool symcache_obj_is_too_big(const struct symcache_obj *o)
{
	return o->is_too_big;
}

void symcache_set_max_object(struct symcache *c, size_t max_object)
{
	if (!max_object)
		max_object =
		    c->max_bytes > SYMCACHE_MIN_OBJECT ? c->max_bytes : SYMCACHE_MIN_OBJECT;
	c->max_object = max_object;
}

bool symcache_obj_lost_dwarf(const struct symcache_obj *o)
{
	return o->dw_state == DW_LOST;
}

void symcache_obj_restore_fd(struct symcache *c, struct symcache_obj *o, int fd)
{
	char id[2 * ELFSYM_MAX_BUILD_ID + 1];
	struct debuginfo_probe probe;

	/* Only an object whose own file held its DWARF lost an fd that @fd can replace. */
	if (o->dw_state != DW_LOST || o->search || debuginfo_probe_fd(fd, &probe) ||
	    !probe.has_debug_info)
		return;
	/* A (device, inode) reused by another file must not lend it its DWARF. */
	if (*elfsym_build_id(o->elf) &&
	    (debuginfo_build_id_fd(fd, id, sizeof(id)) || strcmp(id, elfsym_build_id(o->elf))))
		return;
	obj_hold_fd(c, o, fd);
	o->is_fd_trusted = false; /* maybe a container's copy: read, never mapped */
}

void symcache_set_max_fds(struct symcache *c, unsigned max_fds)
{
	struct list_head *pos;

	c->max_fds = max_fds;
	for (pos = c->lru.prev; c->stats.fds > max_fds && pos != &c->lru; pos = pos->prev) {
		struct symcache_obj *o = list_entry(pos, struct symcache_obj, lru);

		if (o->fd < 0)
			continue;
		obj_close_fd(c, o);
		o->dw_state = DW_LOST;
		c->stats.fd_drops++;
	}
}

void symcache_get_stats(const struct symcache *c, struct symcache_stats *out)
{
	*out = c->stats;
}
