// SPDX-License-Identifier: Apache-2.0
/*
 * ELF function symbols through libelf.
 *
 * Files are opened with ELF_C_READ (pread on demand) rather than mmap: a
 * container can truncate a mapped binary under us and turn a read into
 * SIGBUS. libelf trusts the header counts when it sizes its own tables, so
 * the header is validated against the file size before elf_begin(), and each
 * section is bounds-checked before elf_getdata() allocates for it, and
 * charged to the parse budget (budget.h) before libelf allocates for it.
 */
#include "elfsym.h"

#include <elf.h>
#include <errno.h>
#include <gelf.h>
#include <gnutls/crypto.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Section and segment header counts beyond these are hostile. */
#define ELFSYM_MAX_SHNUM (1u << 20)
#define ELFSYM_MAX_PHNUM 65535u
/*
 * What libelf allocates per section (its Elf_Scn and the header it reads)
 * and per program header, charged before elf_begin() from the header counts.
 */
#define ELFSYM_SCN_COST	 256u
#define ELFSYM_PHDR_COST 128u
#define HASH_CHUNK	 16384u

struct elfsym_load {
	uint64_t off;
	uint64_t vaddr;
	uint64_t filesz;
	uint64_t memsz;
};

struct elfsym_sym {
	uint64_t start;
	uint64_t end;	  /* exclusive */
	const char *name; /* into the pool */
};

struct elfsym {
	size_t bytes;
	size_t nr_loads;
	size_t nr_syms;
	struct elfsym_load loads[ELFSYM_MAX_LOADS];
	struct elfsym_sym *syms;
	bool is_truncated; /* a symbol table was left out: over the budget or a cap */
	bool has_digest;
	unsigned char digest[ELFSYM_DIGEST_SZ];
	char build_id[ELFSYM_MAX_BUILD_ID * 2 + 1];
	/* syms[] then the name pool follow in the same allocation */
};

/* A symbol while collecting; name points into libelf's copy of the string table. */
struct raw_sym {
	uint64_t start;
	uint64_t size;
	const char *name;
	size_t name_len;
	unsigned rank; /* 0 GLOBAL, 1 WEAK, 2 LOCAL, 3 other: lower wins a tie */
	size_t seq;    /* input order, to make the sort deterministic */
};

struct raw_syms {
	struct raw_sym *v;
	size_t nr;
	size_t cap;
	struct parse_budget *b;
};

/* Where the bytes come from: a file descriptor or a buffer. */
struct elf_src {
	int fd;
	const unsigned char *mem;
	uint64_t size;
};

static int src_read(const struct elf_src *src, uint64_t off, void *buf, size_t len)
{
	ssize_t got;

	if (off > src->size || len > src->size - off)
		return -EINVAL;
	if (src->mem) {
		memcpy(buf, src->mem + off, len);
		return 0;
	}
	got = pread(src->fd, buf, len, (off_t)off);
	if (got < 0)
		return -errno;
	return (size_t)got == len ? 0 : -EINVAL;
}

static bool range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* One parse: where the bytes come from, what it may allocate, the digest being computed. */
struct parse_ctx {
	const struct elf_src *src;
	struct parse_budget *b;
	gnutls_hash_hd_t hash; /* NULL: no digest (no build id to share by, or no memory) */
	bool is_truncated;
};

static void digest_add(struct parse_ctx *ctx, const void *data, size_t len)
{
	if (ctx->hash && len)
		gnutls_hash(ctx->hash, data, len);
}

/*
 * libelf allocates its section and segment tables from the header counts;
 * make sure they describe headers that actually fit in the file, and charge
 * what libelf will allocate for them.
 */
static int precheck_header(const struct elf_src *src, struct parse_budget *b)
{
	unsigned char ident[EI_NIDENT];
	uint64_t shoff, phoff, shnum, phnum, shentsz, phentsz;
	int err;

	err = src_read(src, 0, ident, sizeof(ident));
	if (err)
		return -ENOEXEC;
	if (memcmp(ident, ELFMAG, SELFMAG))
		return -ENOEXEC;
	/* Only native byte order: every profiled target is little-endian. */
	if (ident[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	if (ident[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;

		if (src_read(src, 0, &eh, sizeof(eh)))
			return -EINVAL;
		shoff = eh.e_shoff;
		phoff = eh.e_phoff;
		shnum = eh.e_shnum;
		phnum = eh.e_phnum;
		shentsz = eh.e_shentsize;
		phentsz = eh.e_phentsize;
		if (shoff && shentsz != sizeof(Elf64_Shdr))
			return -EINVAL;
		if (phnum && phentsz != sizeof(Elf64_Phdr))
			return -EINVAL;
		if (shoff && (shnum == 0 || phnum == PN_XNUM)) {
			/* Extended numbering: the real counts live in section 0. */
			Elf64_Shdr sh0;

			if (src_read(src, shoff, &sh0, sizeof(sh0)))
				return -EINVAL;
			if (shnum == 0)
				shnum = sh0.sh_size;
			if (phnum == PN_XNUM)
				phnum = sh0.sh_info;
		}
	} else if (ident[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;

		if (src_read(src, 0, &eh, sizeof(eh)))
			return -EINVAL;
		shoff = eh.e_shoff;
		phoff = eh.e_phoff;
		shnum = eh.e_shnum;
		phnum = eh.e_phnum;
		shentsz = eh.e_shentsize;
		phentsz = eh.e_phentsize;
		if (shoff && shentsz != sizeof(Elf32_Shdr))
			return -EINVAL;
		if (phnum && phentsz != sizeof(Elf32_Phdr))
			return -EINVAL;
		if (shoff && (shnum == 0 || phnum == PN_XNUM)) {
			Elf32_Shdr sh0;

			if (src_read(src, shoff, &sh0, sizeof(sh0)))
				return -EINVAL;
			if (shnum == 0)
				shnum = sh0.sh_size;
			if (phnum == PN_XNUM)
				phnum = sh0.sh_info;
		}
	} else {
		return -ENOEXEC;
	}
	if (shnum > ELFSYM_MAX_SHNUM || phnum > ELFSYM_MAX_PHNUM)
		return -EINVAL;
	if (shoff && !range_ok(shoff, shnum * shentsz, src->size))
		return -EINVAL;
	if (phnum && !range_ok(phoff, phnum * phentsz, src->size))
		return -EINVAL;
	return budget_charge(b, shnum * ELFSYM_SCN_COST + phnum * ELFSYM_PHDR_COST);
}

static int raw_push(struct raw_syms *r, const struct raw_sym *s)
{
	struct raw_sym *v;
	size_t cap;

	if (r->nr == r->cap) {
		if (r->cap >= ELFSYM_MAX_SYMS)
			return -E2BIG;
		cap = r->cap ? r->cap * 2 : 256;
		if (cap > ELFSYM_MAX_SYMS)
			cap = ELFSYM_MAX_SYMS;
		if (budget_charge(r->b, (cap - r->cap) * sizeof(*v)))
			return -EFBIG;
		v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->nr++] = *s;
	return 0;
}

/* Section data, after checking the section really lies inside the file. */
static Elf_Data *scn_data(Elf_Scn *scn, const GElf_Shdr *sh, uint64_t file_sz)
{
	if (sh->sh_type == SHT_NOBITS || !range_ok(sh->sh_offset, sh->sh_size, file_sz))
		return NULL;
	return elf_getdata(scn, NULL);
}

static unsigned bind_rank(unsigned char bind)
{
	switch (bind) {
	case STB_GLOBAL:
		return 0;
	case STB_WEAK:
		return 1;
	case STB_LOCAL:
		return 2;
	default:
		return 3;
	}
}

static int collect_syms(struct parse_ctx *ctx, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
			struct raw_syms *r)
{
	uint64_t file_sz = ctx->src->size;
	Elf_Scn *str_scn;
	GElf_Shdr str_sh;
	Elf_Data *data, *str;
	size_t ent_sz, nr, i;
	int err;

	str_scn = elf_getscn(elf, sh->sh_link);
	if (!str_scn || !gelf_getshdr(str_scn, &str_sh) || str_sh.sh_type != SHT_STRTAB)
		return -EINVAL;
	/* libelf reads both sections whole: charge them before it does. */
	err = budget_charge(ctx->b, sh->sh_size);
	err = err ?: budget_charge(ctx->b, str_sh.sh_size);
	if (err)
		return err;
	data = scn_data(scn, sh, file_sz);
	str = scn_data(str_scn, &str_sh, file_sz);
	if (!data || !str || !data->d_buf || !str->d_buf)
		return -EINVAL;
	digest_add(ctx, data->d_buf, data->d_size);
	digest_add(ctx, str->d_buf, str->d_size);
	ent_sz = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	if (!ent_sz)
		return -EINVAL;
	nr = data->d_size / ent_sz;
	for (i = 1; i < nr; i++) {
		struct raw_sym rs;
		GElf_Sym sym;
		unsigned char type;

		if (!gelf_getsym(data, (int)i, &sym))
			return -EINVAL;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		if (!sym.st_value || sym.st_shndx == SHN_UNDEF)
			continue;
		if (sym.st_name >= str->d_size)
			continue;
		rs.start = sym.st_value;
		rs.size = sym.st_size;
		rs.name = (const char *)str->d_buf + sym.st_name;
		rs.name_len = strnlen(rs.name, str->d_size - sym.st_name);
		/*
		 * Versioned definitions in .symtab read "memcpy@@GLIBC_2.14": the
		 * function is "memcpy". A leading '@' is part of no version.
		 */
		{
			const char *at =
			    memchr(rs.name + 1, '@', rs.name_len ? rs.name_len - 1 : 0);

			if (at)
				rs.name_len = (size_t)(at - rs.name);
		}
		if (!rs.name_len)
			continue;
		if (rs.name_len > ELFSYM_MAX_NAME - 1)
			rs.name_len = ELFSYM_MAX_NAME - 1;
		rs.rank = bind_rank(GELF_ST_BIND(sym.st_info));
		rs.seq = r->nr;
		err = raw_push(r, &rs);
		if (err)
			return err;
	}
	return 0;
}

static void hex_encode(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* Find NT_GNU_BUILD_ID in one note buffer. Returns true when found. */
static bool scan_notes(Elf_Data *data, char *out)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	if (!data || !data->d_buf)
		return false;
	while (off < data->d_size) {
		next = gelf_getnote(data, off, &nh, &name_off, &desc_off);
		if (!next || next <= off)
			break;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == sizeof(ELF_NOTE_GNU) &&
		    !memcmp((const char *)data->d_buf + name_off, ELF_NOTE_GNU,
			    sizeof(ELF_NOTE_GNU)) &&
		    nh.n_descsz > 0 && nh.n_descsz <= ELFSYM_MAX_BUILD_ID) {
			hex_encode((const unsigned char *)data->d_buf + desc_off, nh.n_descsz, out);
			return true;
		}
		off = next;
	}
	return false;
}

static int cmp_raw(const void *a, const void *b)
{
	const struct raw_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	/* A sized symbol describes the code better than a bare label. */
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* End of the executable segment holding @vaddr, for an unsized last symbol. */
static uint64_t segment_end(const struct elfsym *e, uint64_t vaddr)
{
	size_t i;

	for (i = 0; i < e->nr_loads; i++) {
		const struct elfsym_load *l = &e->loads[i];

		if (vaddr >= l->vaddr && vaddr - l->vaddr < l->memsz)
			return l->vaddr + l->memsz;
	}
	return vaddr + 1;
}

/* Sections whose contents decide what is shown for the object beyond its symbol tables. */
static bool is_content_section(const char *name)
{
	size_t n = strlen(name);

	return !strncmp(name, ".debug_", 7) || !strncmp(name, ".zdebug_", 8) ||
	       !strcmp(name, ".gnu_debuglink") || (n >= 9 && !strcmp(name + n - 9, "gopclntab"));
}

/* Hash @len bytes at @off of the file with a fixed buffer: I/O, no allocation. */
static int digest_range(struct parse_ctx *ctx, uint64_t off, uint64_t len)
{
	unsigned char buf[HASH_CHUNK];
	size_t n;
	int err;

	if (ctx->src->mem) {
		digest_add(ctx, ctx->src->mem + off, len);
		return 0;
	}
	while (len) {
		n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		err = src_read(ctx->src, off, buf, n);
		if (err)
			return err;
		digest_add(ctx, buf, n);
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * Add the contents of the DWARF, pclntab and debuglink sections to the
 * digest. Their total is bounded by the budget's limit: bigger ones would
 * not be loaded anyway, and such an object is simply not shared. Returns
 * false when the digest cannot stand for the contents.
 */
static bool digest_contents(struct parse_ctx *ctx, Elf *elf)
{
	uint64_t total = 0;
	Elf_Scn *scn = NULL, *str_scn;
	GElf_Shdr sh;
	size_t shstrndx;
	const char *name;

	if (elf_getshdrstrndx(elf, &shstrndx) || !(str_scn = elf_getscn(elf, shstrndx)) ||
	    !gelf_getshdr(str_scn, &sh) || sh.sh_type != SHT_STRTAB ||
	    !range_ok(sh.sh_offset, sh.sh_size, ctx->src->size) ||
	    budget_charge(ctx->b, sh.sh_size))
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || !is_content_section(name))
			continue;
		if (!range_ok(sh.sh_offset, sh.sh_size, ctx->src->size))
			return false;
		total += sh.sh_size;
		if (total > ctx->b->limit)
			return false;
		digest_add(ctx, name, strlen(name) + 1);
		if (digest_range(ctx, sh.sh_offset, sh.sh_size))
			return false;
	}
	return true;
}

static int elfsym_parse(struct parse_ctx *ctx, Elf *elf, struct elfsym **out)
{
	uint64_t file_sz = ctx->src->size;
	struct raw_syms raw = {.b = ctx->b};
	struct elfsym hdr = {0}, *e = NULL;
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	size_t phnum, i, nr, pool_sz = 0, bytes;
	bool have_id = false;
	char *pool;
	int err = 0;

	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		err = -ENOEXEC;
		goto cleanup;
	}
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
		err = -ENOEXEC;
		goto cleanup;
	}
	if (elf_getphdrnum(elf, &phnum)) {
		err = -EINVAL;
		goto cleanup;
	}
	digest_add(ctx, &file_sz, sizeof(file_sz));
	digest_add(ctx, &eh, sizeof(eh));
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph)) {
			err = -EINVAL;
			goto cleanup;
		}
		digest_add(ctx, &ph, sizeof(ph));
		if (ph.p_type == PT_LOAD) {
			if (hdr.nr_loads == ELFSYM_MAX_LOADS) {
				err = -EINVAL;
				goto cleanup;
			}
			hdr.loads[hdr.nr_loads++] = (struct elfsym_load){
			    .off = ph.p_offset,
			    .vaddr = ph.p_vaddr,
			    .filesz = ph.p_filesz,
			    .memsz = ph.p_memsz,
			};
		} else if (ph.p_type == PT_NOTE && !have_id &&
			   range_ok(ph.p_offset, ph.p_filesz, file_sz) &&
			   !budget_charge(ctx->b, ph.p_filesz)) {
			Elf_Data *d =
			    elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
						 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);

			have_id = scan_notes(d, hdr.build_id);
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh)) {
			err = -EINVAL;
			goto cleanup;
		}
		digest_add(ctx, &sh, sizeof(sh));
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) {
			size_t before = raw.nr;

			err = collect_syms(ctx, elf, scn, &sh, &raw);
			/* A table too big for the budget or a cap is left out; the others stay. */
			if (err == -EFBIG || err == -E2BIG) {
				raw.nr = before;
				ctx->is_truncated = true;
				err = 0;
			}
			if (err)
				goto cleanup;
		} else if (sh.sh_type == SHT_NOTE && !have_id &&
			   !budget_charge(ctx->b, sh.sh_size)) {
			have_id = scan_notes(scn_data(scn, &sh, file_sz), hdr.build_id);
		}
	}
	if (have_id && ctx->hash && !ctx->is_truncated && digest_contents(ctx, elf)) {
		gnutls_hash_deinit(ctx->hash, hdr.digest);
		hdr.has_digest = true;
		ctx->hash = NULL;
	}

	/* Sort, then keep the best-ranked symbol of each address. */
	if (raw.nr)
		qsort(raw.v, raw.nr, sizeof(*raw.v), cmp_raw);
	for (i = 0, nr = 0; i < raw.nr; i++) {
		if (nr && raw.v[nr - 1].start == raw.v[i].start)
			continue;
		raw.v[nr++] = raw.v[i];
		pool_sz += raw.v[i].name_len + 1;
		if (pool_sz > ELFSYM_MAX_POOL)
			break;
	}
	bytes = sizeof(*e) + nr * sizeof(struct elfsym_sym) + pool_sz;
	/* Names that do not fit: keep the segments and build id, frames stay raw addresses. */
	if (pool_sz > ELFSYM_MAX_POOL || budget_charge(ctx->b, bytes)) {
		ctx->is_truncated = true;
		nr = 0;
		pool_sz = 0;
		bytes = sizeof(*e);
	}
	e = malloc(bytes);
	if (!e) {
		err = -ENOMEM;
		goto cleanup;
	}
	*e = hdr;
	e->bytes = bytes;
	e->is_truncated = ctx->is_truncated;
	if (e->is_truncated)
		e->has_digest = false;
	e->nr_syms = nr;
	e->syms = (struct elfsym_sym *)(e + 1);
	pool = (char *)(e->syms + nr);
	for (i = 0; i < nr; i++) {
		struct elfsym_sym *s = &e->syms[i];

		memcpy(pool, raw.v[i].name, raw.v[i].name_len);
		pool[raw.v[i].name_len] = '\0';
		s->name = pool;
		pool += raw.v[i].name_len + 1;
		s->start = raw.v[i].start;
		if (raw.v[i].size && raw.v[i].size <= UINT64_MAX - s->start)
			s->end = s->start + raw.v[i].size;
		else if (i + 1 < nr)
			s->end = raw.v[i + 1].start; /* unsized: runs up to the next symbol */
		else
			s->end = segment_end(e, s->start);
	}
	*out = e;
	e = NULL;
cleanup:
	free(raw.v);
	free(e);
	return err;
}

static void elfsym_lib_init(void)
{
	static bool done;

	/* Idempotent and cheap; the symbolizer is single-threaded. */
	if (!done) {
		elf_version(EV_CURRENT);
		done = true;
	}
}

/* Parse an opened Elf, computing the digest alongside. */
static int parse_with_digest(const struct elf_src *src, struct parse_budget *b, Elf *elf,
			     struct elfsym **out)
{
	struct parse_ctx ctx = {.src = src, .b = b};
	int err;

	/* No digest is only a lost chance to share the object. */
	if (gnutls_hash_init(&ctx.hash, GNUTLS_DIG_SHA256))
		ctx.hash = NULL;
	err = elfsym_parse(&ctx, elf, out);
	if (ctx.hash)
		gnutls_hash_deinit(ctx.hash, NULL);
	return err;
}

int elfsym_open_fd_budget(int fd, struct parse_budget *b, struct elfsym **out)
{
	struct elf_src src = {.fd = fd};
	struct stat st;
	Elf *elf = NULL;
	int err;

	*out = NULL;
	elfsym_lib_init();
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	src.size = (uint64_t)st.st_size;
	err = precheck_header(&src, b);
	if (err)
		return err;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -EINVAL;
	err = parse_with_digest(&src, b, elf, out);
	elf_end(elf);
	return err;
}

int elfsym_open_fd(int fd, struct elfsym **out)
{
	struct parse_budget b = parse_budget_make(PARSE_BUDGET_DEFAULT);

	return elfsym_open_fd_budget(fd, &b, out);
}

int elfsym_open_mem(const void *data, size_t len, struct elfsym **out)
{
	struct parse_budget b = parse_budget_make(PARSE_BUDGET_DEFAULT);

	return elfsym_open_mem_budget(data, len, &b, out);
}

int elfsym_open_mem_budget(const void *data, size_t len, struct parse_budget *b,
			   struct elfsym **out)
{
	struct elf_src src = {.fd = -1, .mem = data, .size = len};
	Elf *elf = NULL;
	char *copy = NULL;
	int err;

	*out = NULL;
	elfsym_lib_init();
	if (!data || !len)
		return -ENOEXEC;
	err = precheck_header(&src, b);
	err = err ?: budget_charge(b, len);
	if (err)
		return err;
	/* elf_memory() wants a writable image; never hand it the caller's. */
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	elf = elf_memory(copy, len);
	if (!elf) {
		err = -EINVAL;
		goto cleanup;
	}
	err = parse_with_digest(&src, b, elf, out);
cleanup:
	elf_end(elf);
	free(copy);
	return err;
}

void elfsym_free(struct elfsym *e)
{
	free(e);
}

const char *elfsym_build_id(const struct elfsym *e)
{
	return e->build_id;
}

int elfsym_file_to_vaddr(const struct elfsym *e, uint64_t off, uint64_t *vaddr)
{
	size_t i;

	for (i = 0; i < e->nr_loads; i++) {
		const struct elfsym_load *l = &e->loads[i];

		if (off >= l->off && off - l->off < l->filesz) {
			*vaddr = off - l->off + l->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

int elfsym_lookup(const struct elfsym *e, uint64_t vaddr, const char **name, uint64_t *start)
{
	size_t lo = 0, hi = e->nr_syms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->syms[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || vaddr >= e->syms[lo - 1].end)
		return -ENOENT;
	*name = e->syms[lo - 1].name;
	if (start)
		*start = e->syms[lo - 1].start;
	return 0;
}

size_t elfsym_nr_syms(const struct elfsym *e)
{
	return e->nr_syms;
}

size_t elfsym_bytes(const struct elfsym *e)
{
	return e->bytes;
}

bool elfsym_is_truncated(const struct elfsym *e)
{
	return e->is_truncated;
}

const unsigned char *elfsym_digest(const struct elfsym *e)
{
	return e->has_digest ? e->digest : NULL;
}
