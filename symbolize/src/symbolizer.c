// SPDX-License-Identifier: Apache-2.0
/*
 * The symbolizer: normalize (pid, addr) to (object, ELF vaddr) with a maps
 * snapshot and PT_LOAD, then look the vaddr up in the cached object.
 *
 * symbolizer_user() works in two passes so a result is a single allocation:
 * the first resolves every frame while holding cache references and adds up
 * the sizes of what will be copied, the second lays out frames, lines,
 * mappings and strings and copies them; only then are the references
 * dropped. A line array per frame is where DWARF inline frames will go.
 */
#include "symbolize/symbolizer.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/hmap.h"
#include "elfsym.h"
#include "kallsyms.h"
#include "symcache.h"

/* How often symbolizer_kernel() looks at /proc/modules for loads and unloads. */
#define KSYMS_CHECK_NS	 (10ull * 1000000000ull)
#define MODULES_MAX_FILE (4u << 20)

static const char kernel_path[] = "[kernel.kallsyms]";

struct symbolizer {
	struct symcache *cache;
	char *proc_root;
	char *kallsyms_path;
	char *modules_path;
	struct kallsyms *ksyms;
	uint64_t modules_hash;
	uint64_t ksyms_checked_ns;
	bool ksyms_checked;
	uint64_t frames_total;
	uint64_t failures[SYM_FAIL__MAX];
};

/* One distinct mapping touched by a call, with the object behind it. */
struct map_tmp {
	const struct procmap *m;
	struct symcache_obj *obj; /* referenced; NULL when it could not be had */
	int fail;		  /* why obj is NULL: every frame in the mapping fails alike */
};

struct frame_tmp {
	int map_idx;	  /* into map_tmp[], -1 when no mapping covers the address */
	const char *name; /* borrowed from the object; NULL when unsymbolized */
	int fail;	  /* enum sym_fail_reason, or -1 */
};

static const char *const fail_names[SYM_FAIL__MAX] = {
    [SYM_FAIL_NO_MAPPING] = "no_mapping", [SYM_FAIL_OPEN] = "open",
    [SYM_FAIL_BAD_ELF] = "bad_elf",	  [SYM_FAIL_NO_SYMBOL] = "no_symbol",
    [SYM_FAIL_KERNEL] = "kernel",
};

const char *sym_fail_reason_name(enum sym_fail_reason r)
{
	if ((unsigned)r >= SYM_FAIL__MAX)
		return "unknown";
	return fail_names[r];
}

int symbolizer_new(const struct symbolizer_opts *opts, struct symbolizer **out)
{
	struct symbolizer *s = NULL;
	const char *root = opts && opts->proc_root ? opts->proc_root : "/proc";
	int err = 0;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err = symcache_new(opts ? opts->cache_max_bytes : 0, &s->cache);
	if (err)
		goto cleanup;
	s->proc_root = strdup(root);
	if (opts && opts->kallsyms_path)
		s->kallsyms_path = strdup(opts->kallsyms_path);
	else if (asprintf(&s->kallsyms_path, "%s/kallsyms", root) < 0)
		s->kallsyms_path = NULL;
	if (asprintf(&s->modules_path, "%s/modules", root) < 0)
		s->modules_path = NULL;
	if (!s->proc_root || !s->kallsyms_path || !s->modules_path) {
		err = -ENOMEM;
		goto cleanup;
	}
	*out = s;
	s = NULL;
cleanup:
	symbolizer_free(s);
	return err;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	symcache_free(s->cache);
	kallsyms_free(s->ksyms);
	free(s->proc_root);
	free(s->kallsyms_path);
	free(s->modules_path);
	free(s);
}

/* Objects we can open: file-backed, not "[vdso]"-style pseudo paths. */
static bool is_file_backed(const struct procmap *m)
{
	return m->inode && m->path[0] == '/';
}

/*
 * Open the object behind @m. map_files works for deleted files and other
 * mount namespaces; root/<path> is the fallback where map_files is denied.
 */
static int open_mapped_file(const struct symbolizer *s, pid_t pid, const struct procmap *m)
{
	char path[PATH_MAX];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/%d/map_files/%" PRIx64 "-%" PRIx64, s->proc_root,
		     (int)pid, m->start, m->end);
	if (n > 0 && (size_t)n < sizeof(path)) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	if (m->is_deleted)
		return -ENOENT;
	n = snprintf(path, sizeof(path), "%s/%d/root%s", s->proc_root, (int)pid, m->path);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

static void map_key_of(const struct procmap *m, struct symcache_mapkey *k)
{
	k->dev_major = m->dev_major;
	k->dev_minor = m->dev_minor;
	k->inode = m->inode;
}

/* A referenced object for @m, or NULL with *fail set. */
static struct symcache_obj *obj_for_map(struct symbolizer *s, pid_t pid, const struct procmap *m,
					int *fail)
{
	struct symcache_mapkey key;
	struct symcache_obj *o;
	int fd, err;

	if (!is_file_backed(m)) {
		*fail = SYM_FAIL_NO_SYMBOL; /* [vdso], JIT memory: nothing to read symbols from */
		return NULL;
	}
	map_key_of(m, &key);
	o = symcache_get_mapped(s->cache, &key);
	if (o)
		return o;
	fd = open_mapped_file(s, pid, m);
	if (fd < 0) {
		*fail = SYM_FAIL_OPEN;
		return NULL;
	}
	err = symcache_get_fd(s->cache, fd, &key, &o);
	close(fd);
	if (err) {
		*fail = SYM_FAIL_BAD_ELF;
		return NULL;
	}
	return o;
}

static size_t str_sz(const char *str)
{
	return str ? strlen(str) + 1 : 0;
}

static char *copy_str(char **pool, const char *str)
{
	size_t n = strlen(str) + 1;
	char *p = *pool;

	memcpy(p, str, n);
	*pool += n;
	return p;
}

int symbolizer_user(struct symbolizer *s, pid_t pid, const struct procmaps *maps,
		    const uint64_t *ips, size_t nr, struct sym_result **out)
{
	struct frame_tmp *ft = NULL;
	struct map_tmp *mt = NULL;
	struct sym_result *r = NULL;
	struct sym_line *lines;
	struct sym_mapping *mappings;
	size_t nr_maps = 0, nr_lines = 0, str_bytes = 0, bytes, i, j;
	char *pool;
	int err = 0;

	*out = NULL;
	if (nr > (SIZE_MAX / 4) / (sizeof(*ft) + sizeof(*mt) + sizeof(struct sym_frame) +
				   sizeof(struct sym_line) + sizeof(struct sym_mapping)))
		return -ENOMEM;
	ft = calloc(nr ? nr : 1, sizeof(*ft));
	mt = calloc(nr ? nr : 1, sizeof(*mt));
	if (!ft || !mt) {
		err = -ENOMEM;
		goto cleanup;
	}

	/* Pass 1: resolve, holding references, and size the result. */
	for (i = 0; i < nr; i++) {
		/* Return addresses point after the call; ip - 1 is inside it. */
		uint64_t addr = i > 0 && ips[i] ? ips[i] - 1 : ips[i];
		const struct procmap *m = procmaps_find(maps, addr);
		const struct elfsym *elf;
		uint64_t vaddr;

		ft[i].map_idx = -1;
		ft[i].fail = -1;
		if (!m || !(m->perms & PROCMAP_EXEC)) {
			ft[i].fail = SYM_FAIL_NO_MAPPING;
			continue;
		}
		for (j = 0; j < nr_maps && mt[j].m != m; j++)
			;
		if (j == nr_maps) {
			mt[j].m = m;
			mt[j].fail = -1;
			mt[j].obj = obj_for_map(s, pid, m, &mt[j].fail);
			nr_maps++;
			str_bytes += str_sz(m->path);
			str_bytes +=
			    mt[j].obj ? str_sz(elfsym_build_id(symcache_obj_elf(mt[j].obj))) : 1;
		}
		ft[i].map_idx = (int)j;
		if (!mt[j].obj) {
			ft[i].fail = mt[j].fail;
			continue;
		}
		elf = symcache_obj_elf(mt[j].obj);
		if (elfsym_file_to_vaddr(elf, addr - m->start + m->offset, &vaddr) ||
		    elfsym_lookup(elf, vaddr, &ft[i].name, NULL)) {
			ft[i].fail = SYM_FAIL_NO_SYMBOL;
			continue;
		}
		nr_lines++;
		str_bytes += str_sz(ft[i].name);
	}

	/* Pass 2: one allocation, structs first (all 8-byte aligned), strings last. */
	bytes = sizeof(*r) + nr * sizeof(struct sym_frame) + nr_lines * sizeof(struct sym_line) +
		nr_maps * sizeof(struct sym_mapping) + str_bytes;
	r = calloc(1, bytes);
	if (!r) {
		err = -ENOMEM;
		goto cleanup;
	}
	r->nr = nr;
	r->frames = (struct sym_frame *)(r + 1);
	lines = (struct sym_line *)(r->frames + nr);
	mappings = (struct sym_mapping *)(lines + nr_lines);
	pool = (char *)(mappings + nr_maps);
	for (j = 0; j < nr_maps; j++) {
		const struct elfsym *elf = mt[j].obj ? symcache_obj_elf(mt[j].obj) : NULL;

		mappings[j].start = mt[j].m->start;
		mappings[j].limit = mt[j].m->end;
		mappings[j].offset = mt[j].m->offset;
		mappings[j].path = copy_str(&pool, mt[j].m->path);
		mappings[j].build_id = copy_str(&pool, elf ? elfsym_build_id(elf) : "");
		mappings[j].has_functions = elf && elfsym_nr_syms(elf) > 0;
	}
	for (i = 0; i < nr; i++) {
		struct sym_frame *f = &r->frames[i];

		f->addr = ips[i];
		f->mapping = ft[i].map_idx >= 0 ? &mappings[ft[i].map_idx] : NULL;
		if (ft[i].name) {
			lines->function = copy_str(&pool, ft[i].name);
			lines->system_name = lines->function;
			f->lines = lines++;
			f->nr_lines = 1;
		}
		s->frames_total++;
		if (ft[i].fail >= 0)
			s->failures[ft[i].fail]++;
	}
	*out = r;
cleanup:
	for (j = 0; mt && j < nr_maps; j++)
		symcache_put(s->cache, mt[j].obj);
	free(ft);
	free(mt);
	return err;
}

int symbolizer_prime(struct symbolizer *s, pid_t pid, const struct procmaps *maps)
{
	char path[PATH_MAX];
	size_t i;
	int n;

	n = snprintf(path, sizeof(path), "%s/%d", s->proc_root, (int)pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	for (i = 0; maps && i < maps->nr; i++) {
		const struct procmap *m = &maps->maps[i];
		struct symcache_mapkey key;
		struct symcache_obj *o;
		int fd;

		if (!(m->perms & PROCMAP_EXEC) || !is_file_backed(m))
			continue;
		map_key_of(m, &key);
		o = symcache_get_mapped(s->cache, &key);
		if (!o) {
			fd = open_mapped_file(s, pid, m);
			if (fd < 0) {
				/* One mapping gone is a munmap; the whole pid gone is an exit. */
				if (access(path, F_OK))
					return -ESRCH;
				continue;
			}
			/* A parse failure is remembered by the cache; frames count it. */
			symcache_get_fd(s->cache, fd, &key, &o);
			close(fd);
		}
		symcache_put(s->cache, o);
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Hash of /proc/modules: changes when a module is loaded, unloaded or moved. */
static uint64_t modules_hash(const char *path)
{
	char buf[16384];
	uint64_t h = 0x6d6f64;
	size_t total = 0;
	ssize_t got;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (total < MODULES_MAX_FILE) {
		got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		h = hash_bytes(buf, (size_t)got, h);
		total += (size_t)got;
	}
	close(fd);
	return h;
}

/* Load kallsyms lazily; at most every KSYMS_CHECK_NS, reload if modules changed. */
static void ksyms_refresh(struct symbolizer *s)
{
	struct kallsyms *k = NULL;
	uint64_t now = now_ns(), h;

	if (s->ksyms_checked && now - s->ksyms_checked_ns < KSYMS_CHECK_NS)
		return;
	s->ksyms_checked = true;
	s->ksyms_checked_ns = now;
	h = modules_hash(s->modules_path);
	if (s->ksyms && h == s->modules_hash)
		return;
	/* Keep the old table if the new one fails: stale beats none. */
	if (!kallsyms_load(s->kallsyms_path, &k)) {
		kallsyms_free(s->ksyms);
		s->ksyms = k;
		s->modules_hash = h;
	}
}

int symbolizer_kernel(struct symbolizer *s, const uint64_t *ips, size_t nr, struct sym_result **out)
{
	const char **names = NULL;
	struct sym_result *r = NULL;
	struct sym_mapping *map;
	struct sym_line *lines;
	size_t nr_lines = 0, str_bytes = sizeof(kernel_path) + 1, bytes, i;
	char *pool;
	int err = 0;

	*out = NULL;
	if (nr >
	    (SIZE_MAX / 4) / (sizeof(*names) + sizeof(struct sym_frame) + sizeof(struct sym_line)))
		return -ENOMEM;
	ksyms_refresh(s);
	names = calloc(nr ? nr : 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		uint64_t addr = i > 0 && ips[i] ? ips[i] - 1 : ips[i];

		if (kallsyms_lookup(s->ksyms, addr, &names[i], NULL, NULL)) {
			names[i] = NULL;
			continue;
		}
		nr_lines++;
		str_bytes += strlen(names[i]) + 1;
	}
	bytes = sizeof(*r) + nr * sizeof(struct sym_frame) + nr_lines * sizeof(struct sym_line) +
		sizeof(*map) + str_bytes;
	r = calloc(1, bytes);
	if (!r) {
		err = -ENOMEM;
		goto cleanup;
	}
	r->nr = nr;
	r->frames = (struct sym_frame *)(r + 1);
	lines = (struct sym_line *)(r->frames + nr);
	map = (struct sym_mapping *)(lines + nr_lines);
	pool = (char *)(map + 1);
	map->start = kallsyms_min_addr(s->ksyms);
	map->limit = UINT64_MAX;
	map->offset = 0;
	map->path = copy_str(&pool, kernel_path);
	map->build_id = copy_str(&pool, "");
	map->has_functions = s->ksyms != NULL;
	for (i = 0; i < nr; i++) {
		struct sym_frame *f = &r->frames[i];

		f->addr = ips[i];
		f->mapping = map;
		s->frames_total++;
		if (!names[i]) {
			s->failures[SYM_FAIL_KERNEL]++;
			continue;
		}
		lines->function = copy_str(&pool, names[i]);
		lines->system_name = lines->function;
		f->lines = lines++;
		f->nr_lines = 1;
	}
	*out = r;
cleanup:
	free(names);
	return err;
}

void sym_result_free(struct sym_result *r)
{
	free(r);
}

size_t sym_result_bytes(const struct sym_result *r)
{
	/* A result is one allocation (see symbolizer.h). */
	return r ? malloc_usable_size((void *)r) : 0;
}

void symbolizer_get_stats(const struct symbolizer *s, struct symbolizer_stats *out)
{
	struct symcache_stats cs;

	memset(out, 0, sizeof(*out));
	symcache_get_stats(s->cache, &cs);
	out->cache_bytes = cs.bytes;
	out->cache_objects = cs.objects;
	out->cache_hits = cs.hits;
	out->cache_misses = cs.misses;
	out->cache_evictions = cs.evictions;
	out->frames_total = s->frames_total;
	memcpy(out->failures, s->failures, sizeof(out->failures));
}
