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

#include <elf.h>
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/hmap.h"
#include "demangle.h"
#include "elfsym.h"
#include "gopclntab.h"
#include "kallsyms.h"
#include "perfmap.h"
#include "pycodes.h"
#include "symbolize/python.h"
#include "symcache.h"

/* How often symbolizer_kernel() looks at /proc/modules for loads and unloads. */
#define KSYMS_CHECK_NS	 (10ull * 1000000000ull)
#define MODULES_MAX_FILE (4u << 20)
/* A JIT's perf map is re-checked at most this often per process. */
#define PERFMAP_REFRESH_NS (1000000000ull)
/* A [vdso] image is a few pages; anything bigger is not one. */
#define VDSO_MAX_BYTES (1u << 20)

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
	/* Names and code without an ELF file of their own (see "JIT, vDSO"). */
	struct perfmap_cache *perfmaps;
	struct elfsym *vdso_self;  /* this process's vDSO, parsed on first use */
	size_t vdso_self_sz;	   /* its mapped size (page-rounded) */
	struct elfsym *vdso_other; /* last vDSO of another size (32-bit processes) */
	size_t vdso_other_sz;
	bool vdso_tried;
	bool no_demangle;
	struct pycodes *py; /* Python code objects' records, per process */
	uint64_t py_frames, py_unknown;
};

/* One distinct mapping touched by a call, with the object behind it. */
struct map_tmp {
	const struct procmap *m;
	struct symcache_obj *obj; /* referenced; NULL when it could not be had */
	int fail;		  /* why obj is NULL: every frame in the mapping fails alike */
};

struct frame_tmp {
	int map_idx;	   /* into map_tmp[], -1 when no mapping covers the address */
	const char *name;  /* borrowed from the object; NULL when unsymbolized */
	char *demangled;   /* owned; NULL when name is not mangled */
	int fail;	   /* enum sym_fail_reason, or -1 */
	uint32_t dw_first; /* DWARF lines: dw_acc.v[dw_first .. dw_first + dw_nr) */
	uint32_t dw_nr;
};

/*
 * DWARF lines of one call, innermost first per frame. Strings are borrowed
 * from cached objects (referenced until the result is built) except the
 * demangled names, owned here.
 */
struct dw_acc {
	struct dwsym_frame *v;
	char **dem;
	size_t nr;
	size_t cap;
};

static const char *const fail_names[SYM_FAIL__MAX] = {
    [SYM_FAIL_NO_MAPPING] = "no_mapping", [SYM_FAIL_OPEN] = "open",
    [SYM_FAIL_BAD_ELF] = "bad_elf",	  [SYM_FAIL_NO_SYMBOL] = "no_symbol",
    [SYM_FAIL_KERNEL] = "kernel",	  [SYM_FAIL_BAD_DWARF] = "bad_dwarf",
    [SYM_FAIL_TOO_BIG] = "too_big",
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
	symcache_set_max_object(s->cache, opts ? opts->max_object_bytes : 0);
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
	err = pycodes_new(SYMBOLIZER_PY_BYTES, &s->py);
	if (err)
		goto cleanup;
	err = perfmap_cache_new(s->proc_root, PERFMAP_REFRESH_NS, &s->perfmaps);
	if (err)
		goto cleanup;
	s->no_demangle = opts && opts->no_demangle;
	err =
	    symcache_set_dwarf(s->cache, !(opts && opts->no_dwarf), opts ? opts->debug_dirs : NULL);
	if (err)
		goto cleanup;
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
	perfmap_cache_free(s->perfmaps);
	pycodes_free(s->py);
	elfsym_free(s->vdso_self);
	elfsym_free(s->vdso_other);
	free(s);
}

/* Objects we can open: file-backed, not "[vdso]"-style pseudo paths. */
static bool is_file_backed(const struct procmap *m)
{
	return m->inode && m->path[0] == '/';
}

/*
 * The identity of the file mapped at @m's range now, from stat() of
 * map_files (no open: the file is not touched, only its inode). Following
 * that link takes CAP_CHECKPOINT_RESTORE (CAP_SYS_ADMIN before 5.9), which
 * the agent keeps; without it (or in a fake /proc) callers open the file.
 */
static int map_file_id(const struct symbolizer *s, pid_t pid, const struct procmap *m,
		       struct procmap_file *id)
{
	char path[PATH_MAX];
	struct stat st;
	int n;

	n = snprintf(path, sizeof(path), "%s/%d/map_files/%" PRIx64 "-%" PRIx64, s->proc_root,
		     (int)pid, m->start, m->end);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENODEV;
	procmap_file_of_stat(&st, id);
	return 0;
}

static int fd_file_id(int fd, struct procmap_file *id)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	procmap_file_of_stat(&st, id);
	return 0;
}

static bool same_file(const struct procmap_file *a, const struct procmap_file *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/*
 * Whether @id may stand for the file of @m: a primed mapping names one file
 * for good; any other file now at its range (the range remapped, or the pid
 * reused by another process) is not the one the snapshot's samples ran.
 */
static bool map_accepts(const struct procmap *m, const struct procmap_file *id)
{
	return !m->has_file || same_file(&m->file, id);
}

/*
 * An object whose held fd was closed at the cache's fd cap gets one again
 * from a process that still maps it, so its DWARF can be loaded later.
 */
static void restore_lost_fd(struct symbolizer *s, pid_t pid, const struct procmap *m,
			    struct symcache_obj *o)
{
	struct procmap_file id;
	int fd;

	if (!symcache_obj_lost_dwarf(o))
		return;
	fd = procmaps_open_object(s->proc_root, pid, m);
	if (fd < 0)
		return;
	if (!fd_file_id(fd, &id) && map_accepts(m, &id))
		symcache_obj_restore_fd(s->cache, o, fd);
	close(fd);
}

/*
 * A referenced object for @m, or NULL with *fail set. A primed mapping is
 * found by the identity recorded then, so an exited process still resolves
 * and a later file with the same (device, inode) is never mistaken for it.
 */
static struct symcache_obj *obj_for_map(struct symbolizer *s, pid_t pid, const struct procmap *m,
					int *fail)
{
	struct symcache_obj *o;
	struct procmap_file id;
	char root[PATH_MAX];
	struct symcache_src src = {.path = m->path, .root = root};
	int fd, err;

	if (!is_file_backed(m)) {
		*fail = SYM_FAIL_NO_SYMBOL; /* [vdso], JIT memory: nothing to read symbols from */
		return NULL;
	}
	o = m->has_file ? symcache_get_file(s->cache, &m->file) : NULL;
	if (o) {
		restore_lost_fd(s, pid, m, o);
		return o;
	}
	fd = procmaps_open_object(s->proc_root, pid, m);
	if (fd < 0) {
		*fail = SYM_FAIL_OPEN;
		return NULL;
	}
	if (fd_file_id(fd, &id) || !map_accepts(m, &id)) {
		close(fd);
		*fail = SYM_FAIL_OPEN;
		return NULL;
	}
	if (snprintf(root, sizeof(root), "%s/%d/root", s->proc_root, (int)pid) >= (int)sizeof(root))
		src.root = NULL;
	err = symcache_get_fd_src(s->cache, fd, &id, &src, &o);
	close(fd);
	if (err) {
		*fail = err == -EFBIG ? SYM_FAIL_TOO_BIG : SYM_FAIL_BAD_ELF;
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

/*
 * --- Names without (usable) ELF symbols: JIT code, the vDSO, stripped Go;
 * and demangling. Kept apart from the ELF path; lookups return 0 or -ENOENT.
 */

/* Per-call state: a process's perf map is fetched once per symbolizer_user(). */
struct jit_ctx {
	const struct perfmap *pm; /* borrowed until the next perfmap_cache_get() */
	bool is_loaded;
};

/* Anonymous executable memory, where JITs put code; .NET double-maps it from a memfd. */
static bool is_jit_map(const struct procmap *m)
{
	return !m->path[0] || !strncmp(m->path, "[anon:", 6) || !strncmp(m->path, "//anon", 6) ||
	       !strncmp(m->path, "/memfd:", 7);
}

static int jit_lookup(struct symbolizer *s, pid_t pid, struct jit_ctx *jc, uint64_t addr,
		      const char **name)
{
	if (!jc->is_loaded) {
		jc->pm = perfmap_cache_get(s->perfmaps, pid);
		jc->is_loaded = true;
	}
	return perfmap_lookup(jc->pm, addr, name, NULL);
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

/* Bytes of the ELF image at @base, from its headers (our own vDSO: the kernel's, trusted). */
static size_t elf_image_size(const unsigned char *base)
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

/* Our own vDSO: the same kernel maps the same image into every 64-bit process. */
static void vdso_load_self(struct symbolizer *s)
{
	const unsigned char *base = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
	size_t sz;

	s->vdso_tried = true;
	if (!base || memcmp(base, ELFMAG, SELFMAG) || base[EI_CLASS] != ELFCLASS64)
		return;
	sz = elf_image_size(base);
	if (sz > VDSO_MAX_BYTES || elfsym_open_mem(base, sz, &s->vdso_self))
		return;
	s->vdso_self_sz = page_round(sz);
}

/* Another vDSO (a 32-bit process's), read from the process's memory while it lives. */
static const struct elfsym *vdso_load_other(struct symbolizer *s, pid_t pid, size_t sz,
					    uint64_t start)
{
	struct elfsym *e = NULL;
	char path[PATH_MAX];
	unsigned char *buf;
	ssize_t got;
	int fd, n;

	if (s->vdso_other && s->vdso_other_sz == sz)
		return s->vdso_other;
	n = snprintf(path, sizeof(path), "%s/%d/mem", s->proc_root, (int)pid);
	if (n < 0 || (size_t)n >= sizeof(path) || !sz || sz > VDSO_MAX_BYTES)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(sz);
	got = buf ? pread(fd, buf, sz, (off_t)start) : -1;
	close(fd);
	if (got > 0 && !elfsym_open_mem(buf, (size_t)got, &e)) {
		elfsym_free(s->vdso_other);
		s->vdso_other = e;
		s->vdso_other_sz = sz;
	}
	free(buf);
	return e;
}

static int vdso_lookup(struct symbolizer *s, pid_t pid, const struct procmap *m, uint64_t addr,
		       const char **name)
{
	const struct elfsym *e;
	size_t sz = (size_t)(m->end - m->start);
	uint64_t vaddr;

	if (!s->vdso_tried)
		vdso_load_self(s);
	if (s->vdso_self && s->vdso_self_sz == sz)
		e = s->vdso_self;
	else
		e = vdso_load_other(s, pid, sz, m->start);
	if (!e || elfsym_file_to_vaddr(e, addr - m->start, &vaddr))
		return -ENOENT;
	return elfsym_lookup(e, vaddr, name, NULL);
}

/* A name for @addr in mapping @m, which has no ELF object we could open. */
static int name_without_object(struct symbolizer *s, pid_t pid, const struct procmap *m,
			       struct jit_ctx *jc, uint64_t addr, const char **name)
{
	if (!strcmp(m->path, "[vdso]"))
		return vdso_lookup(s, pid, m, addr, name);
	if (is_jit_map(m))
		return jit_lookup(s, pid, jc, addr, name);
	return -ENOENT;
}

/* Stripped Go binaries: the pclntab answers where the symbol tables cannot. */
static int go_lookup(const struct symcache_obj *o, uint64_t vaddr, const char **name)
{
	return gopclntab_lookup(symcache_obj_gopclntab(o), vaddr, name, NULL);
}

/* Count a resolved frame's line and strings; its name is demangled once, here. */
static void frame_named(const struct symbolizer *s, struct frame_tmp *f, size_t *nr_lines,
			size_t *str_bytes)
{
	f->demangled = s->no_demangle ? NULL : demangle(f->name);
	(*nr_lines)++;
	*str_bytes += str_sz(f->name) + str_sz(f->demangled);
}

/* function: the demangled name, or the raw one; system_name: the raw one. */
static void line_set_names(char **pool, struct sym_line *l, const char *raw, const char *demangled)
{
	l->system_name = copy_str(pool, raw);
	l->function = demangled ? copy_str(pool, demangled) : l->system_name;
}

static void dw_acc_free(struct dw_acc *a)
{
	size_t i;

	for (i = 0; i < a->nr; i++)
		free(a->dem[i]);
	free(a->v);
	free(a->dem);
}

/* Room for @n more lines. */
static int dw_acc_reserve(struct dw_acc *a, size_t n)
{
	struct dwsym_frame *v;
	char **dem;
	size_t cap;

	if (a->nr + n <= a->cap)
		return 0;
	cap = a->cap ? a->cap * 2 : 64;
	while (cap < a->nr + n)
		cap *= 2;
	v = realloc(a->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	a->v = v;
	dem = realloc(a->dem, cap * sizeof(*dem));
	if (!dem)
		return -ENOMEM;
	a->dem = dem;
	a->cap = cap;
	return 0;
}

/* The raw name DWARF gives a line: the linkage name, else DW_AT_name. */
static const char *dw_raw_name(const struct dwsym_frame *f)
{
	return f->linkage_name ? f->linkage_name : f->name;
}

/*
 * DWARF lines for a frame whose symbol-table name (f->name, possibly NULL)
 * is already known. Like llvm-symbolizer, the physical (last) line keeps
 * the symbol-table name when there is one: it names the code actually
 * emitted (a ".part.0" or ".cold" clone, a versioned alias), and it does not
 * change with debug info present or not. Inlined lines take DWARF's names.
 */
static void dw_resolve(struct symbolizer *s, struct symcache_obj *o, uint64_t vaddr,
		       struct frame_tmp *f, struct dw_acc *a, size_t *nr_lines, size_t *str_bytes)
{
	size_t k;
	int n;

	if (dw_acc_reserve(a, DWSYM_MAX_INLINE))
		return;
	n = symcache_obj_dwarf(s->cache, o, vaddr, a->v + a->nr, DWSYM_MAX_INLINE);
	if (n < 0) {
		f->fail = n == -EFBIG ? SYM_FAIL_TOO_BIG : SYM_FAIL_BAD_DWARF;
		return;
	}
	if (!n)
		return;
	f->dw_first = (uint32_t)a->nr;
	f->dw_nr = (uint32_t)n;
	for (k = 0; k < (size_t)n; k++) {
		const struct dwsym_frame *df = &a->v[a->nr + k];
		const char *raw = dw_raw_name(df);

		a->dem[a->nr + k] = NULL;
		*str_bytes += str_sz(df->file);
		if (k == (size_t)n - 1 && f->name)
			continue; /* counted by frame_named() */
		(*nr_lines)++;
		if (raw && !s->no_demangle && df->linkage_name)
			a->dem[a->nr + k] = demangle(raw);
		*str_bytes += str_sz(raw) + str_sz(a->dem[a->nr + k]);
	}
	a->nr += (size_t)n;
}

/* Lay out a frame's lines (pass 2); returns the next free line. */
static struct sym_line *frame_lines(char **pool, struct sym_frame *fr, const struct frame_tmp *f,
				    const struct dw_acc *a, struct sym_line *lines)
{
	size_t k;

	if (!f->dw_nr) {
		if (f->name) {
			line_set_names(pool, lines, f->name, f->demangled);
			fr->lines = lines++;
			fr->nr_lines = 1;
		}
		return lines;
	}
	fr->lines = lines;
	fr->nr_lines = f->dw_nr;
	for (k = 0; k < f->dw_nr; k++, lines++) {
		const struct dwsym_frame *df = &a->v[f->dw_first + k];
		const char *raw = dw_raw_name(df);

		if (k == f->dw_nr - 1 && f->name)
			line_set_names(pool, lines, f->name, f->demangled);
		else if (raw)
			line_set_names(pool, lines, raw, a->dem[f->dw_first + k]);
		lines->file = df->file ? copy_str(pool, df->file) : NULL;
		lines->line = df->line;
		lines->start_line = df->start_line;
	}
	return lines;
}

/*
 * A Python frame (py_is_frame()): one line named from its code object's
 * record, with the line of its instruction; a placeholder when there is none.
 */
static void py_frame(struct symbolizer *s, pid_t pid, uint64_t ip, struct frame_tmp *f,
		     struct dw_acc *a, size_t *nr_lines, size_t *str_bytes)
{
	const struct pycode *pc = pycodes_get(s->py, pid, py_frame_code(ip));
	struct dwsym_frame *df;
	uint32_t lasti = py_frame_lasti(ip);
	int line = -1;

	if (!pc) {
		s->py_unknown++;
		f->name = PY_UNKNOWN_FRAME;
		frame_named(s, f, nr_lines, str_bytes);
		return;
	}
	if (dw_acc_reserve(a, 1))
		return;
	if (lasti != PY_LASTI_NONE)
		line = py_code_line(pc->linetable, pc->linetable_len, pc->firstlineno, lasti);
	df = &a->v[a->nr];
	a->dem[a->nr] = NULL;
	df->name = pc->qualname;
	df->linkage_name = NULL;
	df->file = pc->filename[0] ? pc->filename : NULL;
	df->line = line > 0 ? (uint32_t)line : 0;
	df->start_line = pc->firstlineno > 0 ? (uint32_t)pc->firstlineno : 0;
	f->dw_first = (uint32_t)a->nr;
	f->dw_nr = 1;
	a->nr++;
	(*nr_lines)++;
	*str_bytes += str_sz(df->name) + str_sz(df->file);
	s->py_frames++;
}

int symbolizer_py_code_add(struct symbolizer *s, pid_t pid, const struct symbolizer_py_code *c)
{
	return pycodes_add(s->py, pid, c);
}

void symbolizer_py_forget(struct symbolizer *s, pid_t pid)
{
	pycodes_forget(s->py, pid);
}

void symbolizer_perfmap_reload(struct symbolizer *s, pid_t pid)
{
	perfmap_cache_reload(s->perfmaps, pid);
}

static int user_frames(struct symbolizer *s, pid_t pid, const struct procmaps *maps,
		       const uint64_t *ips, size_t nr, bool use_dwarf, struct sym_result **out)
{
	struct frame_tmp *ft = NULL;
	struct map_tmp *mt = NULL;
	struct sym_result *r = NULL;
	struct sym_line *lines;
	struct sym_mapping *mappings;
	size_t nr_maps = 0, nr_lines = 0, str_bytes = 0, bytes, i, j;
	struct jit_ctx jc = {0};
	struct dw_acc dwa = {0};
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
		const struct procmap *m;
		const struct elfsym *elf;
		uint64_t vaddr;

		ft[i].map_idx = -1;
		ft[i].fail = -1;
		if (py_is_frame(ips[i])) {
			py_frame(s, pid, ips[i], &ft[i], &dwa, &nr_lines, &str_bytes);
			continue;
		}
		m = procmaps_find(maps, addr);
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
		if (!mt[j].obj && !name_without_object(s, pid, m, &jc, addr, &ft[i].name)) {
			frame_named(s, &ft[i], &nr_lines, &str_bytes);
			continue;
		}
		if (!mt[j].obj) {
			ft[i].fail = mt[j].fail;
			continue;
		}
		elf = symcache_obj_elf(mt[j].obj);
		if (elfsym_file_to_vaddr(elf, addr - m->start + m->offset, &vaddr)) {
			ft[i].fail = SYM_FAIL_NO_SYMBOL;
			continue;
		}
		if (symcache_obj_symbol(s->cache, mt[j].obj, vaddr, &ft[i].name, NULL) &&
		    go_lookup(mt[j].obj, vaddr, &ft[i].name))
			ft[i].name = NULL;
		/*
		 * A caller frame whose ip - 1 is in no function but whose ip starts one:
		 * a signal trampoline (__restore_rt), where the "return address" is the
		 * handler's, pointing at the trampoline's first byte (libc starts its CFI
		 * a byte early for this, but not its symbol).
		 */
		if (!ft[i].name && addr != ips[i]) {
			const char *name = NULL;
			uint64_t start = 0;

			if (!symcache_obj_symbol(s->cache, mt[j].obj, vaddr + 1, &name, &start) &&
			    start == vaddr + 1) {
				ft[i].name = name;
				vaddr++;
			}
		}
		if (use_dwarf)
			dw_resolve(s, mt[j].obj, vaddr, &ft[i], &dwa, &nr_lines, &str_bytes);
		if (!ft[i].name && !ft[i].dw_nr) {
			if (ft[i].fail < 0)
				ft[i].fail = symcache_obj_is_too_big(mt[j].obj)
						 ? SYM_FAIL_TOO_BIG
						 : SYM_FAIL_NO_SYMBOL;
			continue;
		}
		if (ft[i].name)
			frame_named(s, &ft[i], &nr_lines, &str_bytes);
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
		if (mt[j].obj && symcache_obj_has_dwarf(mt[j].obj)) {
			mappings[j].has_filenames = true;
			mappings[j].has_line_numbers = true;
			mappings[j].has_inline_frames = true;
		}
	}
	for (i = 0; i < nr; i++) {
		struct sym_frame *f = &r->frames[i];

		f->addr = ips[i];
		f->mapping = ft[i].map_idx >= 0 ? &mappings[ft[i].map_idx] : NULL;
		lines = frame_lines(&pool, f, &ft[i], &dwa, lines);
		s->frames_total++;
		if (ft[i].fail >= 0)
			s->failures[ft[i].fail]++;
	}
	*out = r;
cleanup:
	for (j = 0; mt && j < nr_maps; j++)
		symcache_put(s->cache, mt[j].obj);
	for (i = 0; ft && i < nr; i++)
		free(ft[i].demangled);
	free(ft);
	free(mt);
	dw_acc_free(&dwa);
	return err;
}

int symbolizer_user(struct symbolizer *s, pid_t pid, const struct procmaps *maps,
		    const uint64_t *ips, size_t nr, struct sym_result **out)
{
	return user_frames(s, pid, maps, ips, nr, true, out);
}

int symbolizer_user_names(struct symbolizer *s, pid_t pid, const struct procmaps *maps,
			  const uint64_t *ips, size_t nr, struct sym_result **out)
{
	return user_frames(s, pid, maps, ips, nr, false, out);
}

int symbolizer_file(struct symbolizer *s, const char *path, const uint64_t *addrs, size_t nr,
		    struct sym_result **out)
{
	struct symcache_obj *o = NULL;
	struct frame_tmp *ft = NULL;
	struct sym_result *r = NULL;
	struct sym_line *lines;
	struct dw_acc dwa = {0};
	char real[PATH_MAX];
	struct symcache_src src = {.path = real};
	size_t nr_lines = 0, str_bytes = 0, bytes, i;
	char *pool;
	int fd, err = 0;

	*out = NULL;
	if (nr > (SIZE_MAX / 4) / (sizeof(*ft) + sizeof(struct sym_frame) +
				   DWSYM_MAX_INLINE * sizeof(struct sym_line)))
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* .gnu_debuglink is looked up next to the binary: give its real directory. */
	if (!realpath(path, real))
		src.path = NULL;
	err = symcache_get_fd_src(s->cache, fd, NULL, &src, &o);
	close(fd);
	if (err)
		return err;
	ft = calloc(nr ? nr : 1, sizeof(*ft));
	if (!ft) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < nr; i++) {
		ft[i].map_idx = -1;
		ft[i].fail = -1;
		if (symcache_obj_symbol(s->cache, o, addrs[i], &ft[i].name, NULL) &&
		    go_lookup(o, addrs[i], &ft[i].name))
			ft[i].name = NULL;
		dw_resolve(s, o, addrs[i], &ft[i], &dwa, &nr_lines, &str_bytes);
		if (!ft[i].name && !ft[i].dw_nr) {
			if (ft[i].fail < 0)
				ft[i].fail = SYM_FAIL_NO_SYMBOL;
			continue;
		}
		if (ft[i].name)
			frame_named(s, &ft[i], &nr_lines, &str_bytes);
	}
	bytes = sizeof(*r) + nr * sizeof(struct sym_frame) + nr_lines * sizeof(struct sym_line) +
		str_bytes;
	r = calloc(1, bytes);
	if (!r) {
		err = -ENOMEM;
		goto cleanup;
	}
	r->nr = nr;
	r->frames = (struct sym_frame *)(r + 1);
	lines = (struct sym_line *)(r->frames + nr);
	pool = (char *)(lines + nr_lines);
	for (i = 0; i < nr; i++) {
		r->frames[i].addr = addrs[i];
		lines = frame_lines(&pool, &r->frames[i], &ft[i], &dwa, lines);
		s->frames_total++;
		if (ft[i].fail >= 0)
			s->failures[ft[i].fail]++;
	}
	*out = r;
cleanup:
	for (i = 0; ft && i < nr; i++)
		free(ft[i].demangled);
	free(ft);
	dw_acc_free(&dwa);
	symcache_put(s->cache, o);
	return err;
}

/*
 * Record which file @m maps (once: see map_accepts()) and load its object:
 * a stat() of map_files and a cache hit when it was parsed already, else an
 * open and a parse. Returns -ESRCH when the process is gone.
 */
static int prime_map(struct symbolizer *s, pid_t pid, struct procmap *m, const char *pid_dir,
		     const char *root)
{
	struct symcache_src src = {.path = m->path, .root = root};
	struct symcache_obj *o = NULL;
	struct procmap_file id;
	int fd;

	if (!map_file_id(s, pid, m, &id)) {
		if (!map_accepts(m, &id))
			return 0;
		m->file = id;
		m->has_file = true;
		o = symcache_get_file(s->cache, &id);
	}
	if (o) {
		restore_lost_fd(s, pid, m, o);
		symcache_put(s->cache, o);
		return 0;
	}
	fd = procmaps_open_object(s->proc_root, pid, m);
	if (fd < 0) {
		/* One mapping gone is a munmap; the whole pid gone is an exit. */
		return access(pid_dir, F_OK) ? -ESRCH : 0;
	}
	/* Not the file stat() saw (the range remapped since): not this snapshot's. */
	if (!fd_file_id(fd, &id) && map_accepts(m, &id)) {
		m->file = id;
		m->has_file = true;
		/* A parse failure is remembered by the cache; frames count it. */
		symcache_get_fd_src(s->cache, fd, &id, &src, &o);
		symcache_put(s->cache, o);
	}
	close(fd);
	return 0;
}

int symbolizer_prime(struct symbolizer *s, pid_t pid, struct procmaps *maps)
{
	char path[PATH_MAX], root[PATH_MAX];
	size_t i;
	int n;

	n = snprintf(path, sizeof(path), "%s/%d", s->proc_root, (int)pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	n = snprintf(root, sizeof(root), "%s/%d/root", s->proc_root, (int)pid);
	if (n < 0 || (size_t)n >= sizeof(root))
		return -ENAMETOOLONG;
	for (i = 0; maps && i < maps->nr; i++) {
		struct procmap *m = &maps->maps[i];

		if (!(m->perms & PROCMAP_EXEC) || !is_file_backed(m))
			continue;
		if (prime_map(s, pid, m, path, root) == -ESRCH)
			return -ESRCH;
	}
	return 0;
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
	uint64_t now = mono_ns(), h;

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
	struct perfmap_cache_stats ps;
	struct symcache_stats cs;

	memset(out, 0, sizeof(*out));
	symcache_get_stats(s->cache, &cs);
	out->cache_bytes = cs.bytes;
	out->cache_objects = cs.objects;
	out->cache_hits = cs.hits;
	out->cache_misses = cs.misses;
	out->cache_evictions = cs.evictions;
	out->cache_fds = cs.fds;
	out->cache_fd_drops = cs.fd_drops;
	out->cache_alias_drops = cs.alias_drops;
	out->objects_too_big = cs.too_big;
	perfmap_cache_get_stats(s->perfmaps, &ps);
	out->perfmap_bytes = perfmap_cache_bytes(s->perfmaps);
	out->perfmap_truncated = ps.truncated;
	out->perfmap_refused_bytes = ps.refused_bytes;
	out->too_big_bytes = cs.too_big_bytes;
	out->frames_total = s->frames_total;
	memcpy(out->failures, s->failures, sizeof(out->failures));
	struct pycodes_stats py;

	pycodes_get_stats(s->py, &py);
	out->py_frames = s->py_frames;
	out->py_unknown = s->py_unknown;
	out->py_codes = py.entries;
	out->py_code_bytes = py.bytes;
	out->py_codes_evicted = py.evicted;
	out->py_codes_refused = py.refused;
}
