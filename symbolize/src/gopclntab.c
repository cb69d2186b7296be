// SPDX-License-Identifier: Apache-2.0
/*
 * Go pclntab functab reader. Layouts follow Go's own debug/gosym:
 *
 *   header: magic u32, pad u8 x2, minLC u8, ptrSize u8, then ptrSize words:
 *     1.16:  nfunc nfiles funcnameOff cuOff filetabOff pctabOff pclnOff
 *     1.18+: nfunc nfiles textStart funcnameOff cuOff filetabOff pctabOff pclnOff
 *   functab at pclnOff: nfunc (pc, funcOff) pairs then the end pc; fields
 *     are ptrSize wide (1.16) or u32 offsets from textStart (1.18+)
 *   _func at pclnOff + funcOff: entry (ptrSize or u32), nameOff i32 into
 *     the funcname table, NUL-terminated names.
 *
 * Only the ELF section headers are used to find the table (Go's linker
 * always writes them, and strip keeps them); a binary with its section
 * headers removed is not handled.
 */
#include "gopclntab.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GO116_MAGIC 0xfffffffau
#define GO118_MAGIC 0xfffffff0u
#define GO120_MAGIC 0xfffffff1u
#define GO12_MAGIC  0xfffffffbu

#define MAX_SHSTRTAB  (1u << 20)
#define MAX_NAME_POOL (64u << 20)

struct gofunc {
	uint64_t start;
	uint64_t end; /* exclusive: the next function's start, or the table's end pc */
	size_t name_off;
};

struct gopclntab {
	size_t bytes;
	size_t nr;
	struct gofunc *funcs;
	char *pool;
	/* funcs[] then the pool follow in the same allocation */
};

/* A bounds-checked view of the pclntab. */
struct view {
	const unsigned char *p;
	size_t len;
	unsigned ptr_sz;
};

static bool view_uint(const struct view *v, uint64_t off, unsigned sz, uint64_t *out)
{
	uint64_t x = 0;
	unsigned i;

	if (off > v->len || sz > v->len - off)
		return false;
	for (i = 0; i < sz; i++)
		x |= (uint64_t)v->p[off + i] << (8 * i);
	*out = x;
	return true;
}

static int cmp_func(const void *a, const void *b)
{
	const struct gofunc *x = a, *y = b;

	return x->start < y->start ? -1 : (x->start > y->start);
}

/* Charge @b when there is one (gopclntab_parse() from tests and fuzzing has none). */
static int go_charge(struct parse_budget *b, uint64_t n)
{
	return b ? budget_charge(b, n) : 0;
}

static int parse_budget_go(const void *data, size_t len, uint64_t text_start,
			   struct parse_budget *b, struct gopclntab **out);

int gopclntab_parse(const void *data, size_t len, uint64_t text_start, struct gopclntab **out)
{
	return parse_budget_go(data, len, text_start, NULL, out);
}

static int parse_budget_go(const void *data, size_t len, uint64_t text_start,
			   struct parse_budget *b, struct gopclntab **out)
{
	struct view v = {.p = data, .len = len};
	struct gofunc *funcs = NULL;
	struct gopclntab *t = NULL;
	uint64_t magic = 0, nfunc, word, nameoff_tab, pcln_off, fsz, i, pc = 0, foff = 0, nameoff;
	uint64_t end_pc = 0;
	size_t pool_sz = 0, nr = 0, bytes;
	bool is_118;
	char *pool;
	int err = 0;

	*out = NULL;
	if (!data || len < 8)
		return -EINVAL;
	view_uint(&v, 0, 4, &magic);
	if (magic == GO12_MAGIC)
		return -ENOTSUP;
	if (magic != GO116_MAGIC && magic != GO118_MAGIC && magic != GO120_MAGIC)
		return -ENOEXEC;
	is_118 = magic != GO116_MAGIC;
	v.ptr_sz = v.p[7];
	if (v.p[4] || v.p[5] || (v.ptr_sz != 4 && v.ptr_sz != 8))
		return -EINVAL;
		/* Header words, numbered as in debug/gosym. */
#define HDR(n, dst)                                                                                \
	do {                                                                                       \
		if (!view_uint(&v, 8 + (uint64_t)(n)*v.ptr_sz, v.ptr_sz, (dst)))                   \
			return -EINVAL;                                                            \
	} while (0)
	HDR(0, &nfunc);
	if (is_118) {
		HDR(2, &word);
		if (!text_start)
			text_start = word;
		HDR(3, &nameoff_tab);
		HDR(7, &pcln_off);
	} else {
		HDR(2, &nameoff_tab);
		HDR(6, &pcln_off);
	}
#undef HDR
	if (!nfunc || nfunc > GOPCLNTAB_MAX_FUNCS || nameoff_tab >= len || pcln_off >= len)
		return -EINVAL;
	fsz = is_118 ? 4 : v.ptr_sz;
	/* The whole functab, with its end pc, must be there. */
	if ((2 * nfunc + 1) * fsz > len - pcln_off)
		return -EINVAL;
	if (go_charge(b, nfunc * sizeof(*funcs)))
		return -EFBIG;
	funcs = calloc(nfunc, sizeof(*funcs));
	if (!funcs)
		return -ENOMEM;
	for (i = 0; i < nfunc; i++) {
		const char *name;
		size_t name_len;

		view_uint(&v, pcln_off + 2 * i * fsz, (unsigned)fsz, &pc);
		view_uint(&v, pcln_off + (2 * i + 1) * fsz, (unsigned)fsz, &foff);
		if (is_118)
			pc += text_start;
		/* nameOff follows the entry field of _func. */
		if (foff > len - pcln_off || !view_uint(&v, pcln_off + foff + fsz, 4, &nameoff))
			continue;
		nameoff = (uint32_t)nameoff;
		if ((int32_t)nameoff < 0 || nameoff >= len - nameoff_tab)
			continue;
		name = (const char *)v.p + nameoff_tab + nameoff;
		name_len = strnlen(name, len - nameoff_tab - nameoff);
		if (!name_len)
			continue;
		if (name_len > GOPCLNTAB_MAX_NAME - 1)
			name_len = GOPCLNTAB_MAX_NAME - 1;
		if (pool_sz + name_len + 1 > MAX_NAME_POOL) {
			err = -E2BIG;
			goto cleanup;
		}
		funcs[nr].start = pc;
		/* Park the source offset and length until the pool exists. */
		funcs[nr].end = (uint64_t)(name - (const char *)v.p);
		funcs[nr].name_off = name_len;
		pool_sz += name_len + 1;
		nr++;
	}
	view_uint(&v, pcln_off + 2 * nfunc * fsz, (unsigned)fsz, &end_pc);
	if (is_118)
		end_pc += text_start;
	if (!nr) {
		err = -EINVAL;
		goto cleanup;
	}
	bytes = sizeof(*t) + nr * sizeof(*funcs) + pool_sz;
	if (go_charge(b, bytes)) {
		err = -EFBIG;
		goto cleanup;
	}
	t = malloc(bytes);
	if (!t) {
		err = -ENOMEM;
		goto cleanup;
	}
	t->bytes = bytes;
	t->nr = nr;
	t->funcs = (struct gofunc *)(t + 1);
	t->pool = (char *)(t->funcs + nr);
	pool = t->pool;
	for (i = 0; i < nr; i++) {
		size_t src = (size_t)funcs[i].end, n = funcs[i].name_off;

		memcpy(pool, v.p + src, n);
		pool[n] = '\0';
		t->funcs[i].start = funcs[i].start;
		t->funcs[i].name_off = (size_t)(pool - t->pool);
		pool += n + 1;
	}
	/* Go writes the table sorted; a hostile one need not be. */
	qsort(t->funcs, nr, sizeof(*t->funcs), cmp_func);
	for (i = 0; i < nr; i++) {
		uint64_t next = i + 1 < nr ? t->funcs[i + 1].start : end_pc;

		t->funcs[i].end = next > t->funcs[i].start ? next : t->funcs[i].start;
	}
	*out = t;
	t = NULL;
cleanup:
	free(funcs);
	free(t);
	return err;
}

/* Where the ELF bytes come from. */
struct src {
	int fd;
	const unsigned char *mem;
	uint64_t size;
	struct parse_budget *b;
};

static int src_read(const struct src *s, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t got;

	if (off > s->size || len > s->size - off)
		return -EINVAL;
	if (s->mem) {
		memcpy(buf, s->mem + off, len);
		return 0;
	}
	while (done < len) {
		got = pread(s->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -EINVAL;
		done += (size_t)got;
	}
	return 0;
}

static int open_src(const struct src *s, unsigned flags, struct gopclntab **out)
{
	Elf64_Shdr *sh = NULL;
	Elf64_Ehdr eh;
	const Elf64_Shdr *pcln = NULL, *strs;
	uint64_t text_start = 0;
	char *names = NULL;
	void *buf = NULL;
	bool has_symtab = false;
	size_t i;
	int err;

	*out = NULL;
	if (src_read(s, 0, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return -ENOEXEC;
	/* Go targets we profile are 64-bit little-endian. */
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	if (!eh.e_shoff || !eh.e_shnum || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_shstrndx >= eh.e_shnum)
		return -ENOENT;
	if (go_charge(s->b, (uint64_t)eh.e_shnum * sizeof(*sh)))
		return -EFBIG;
	sh = calloc(eh.e_shnum, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	err = src_read(s, eh.e_shoff, sh, (size_t)eh.e_shnum * sizeof(*sh));
	if (err)
		goto cleanup;
	strs = &sh[eh.e_shstrndx];
	if (strs->sh_type != SHT_STRTAB || !strs->sh_size || strs->sh_size > MAX_SHSTRTAB) {
		err = -EINVAL;
		goto cleanup;
	}
	if (go_charge(s->b, strs->sh_size + 1)) {
		err = -EFBIG;
		goto cleanup;
	}
	names = malloc(strs->sh_size + 1);
	if (!names) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = src_read(s, strs->sh_offset, names, strs->sh_size);
	if (err)
		goto cleanup;
	names[strs->sh_size] = '\0';
	for (i = 0; i < eh.e_shnum; i++) {
		const char *name;

		if (sh[i].sh_type == SHT_SYMTAB)
			has_symtab = true;
		if (sh[i].sh_name >= strs->sh_size)
			continue;
		name = names + sh[i].sh_name;
		if (!strcmp(name, ".text"))
			text_start = sh[i].sh_addr;
		else if (sh[i].sh_type == SHT_PROGBITS &&
			 (!strcmp(name, ".gopclntab") || !strcmp(name, ".data.rel.ro.gopclntab")))
			pcln = &sh[i];
	}
	if (!pcln || (has_symtab && (flags & GOPCLNTAB_IF_STRIPPED))) {
		err = -ENOENT;
		goto cleanup;
	}
	if (pcln->sh_size < 8 || pcln->sh_size > GOPCLNTAB_MAX_SECTION) {
		err = -EINVAL;
		goto cleanup;
	}
	if (go_charge(s->b, pcln->sh_size)) {
		err = -EFBIG;
		goto cleanup;
	}
	buf = malloc(pcln->sh_size);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = src_read(s, pcln->sh_offset, buf, pcln->sh_size);
	if (err)
		goto cleanup;
	err = parse_budget_go(buf, pcln->sh_size, text_start, s->b, out);
cleanup:
	free(buf);
	free(names);
	free(sh);
	return err;
}

int gopclntab_open_fd(int fd, unsigned flags, struct gopclntab **out)
{
	struct parse_budget b = parse_budget_make(PARSE_BUDGET_DEFAULT);

	return gopclntab_open_fd_budget(fd, flags, &b, out);
}

int gopclntab_open_fd_budget(int fd, unsigned flags, struct parse_budget *b, struct gopclntab **out)
{
	struct src s = {.fd = fd, .b = b};
	struct stat st;

	*out = NULL;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	s.size = (uint64_t)st.st_size;
	return open_src(&s, flags, out);
}

int gopclntab_open_mem(const void *data, size_t len, unsigned flags, struct gopclntab **out)
{
	struct parse_budget b = parse_budget_make(PARSE_BUDGET_DEFAULT);

	return gopclntab_open_mem_budget(data, len, flags, &b, out);
}

int gopclntab_open_mem_budget(const void *data, size_t len, unsigned flags, struct parse_budget *b,
			      struct gopclntab **out)
{
	struct src s = {.fd = -1, .mem = data, .size = len, .b = b};

	*out = NULL;
	if (!data)
		return -ENOEXEC;
	return open_src(&s, flags, out);
}

void gopclntab_free(struct gopclntab *t)
{
	free(t);
}

int gopclntab_lookup(const struct gopclntab *t, uint64_t vaddr, const char **name, uint64_t *start)
{
	size_t lo = 0, hi;

	if (!t)
		return -ENOENT;
	hi = t->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->funcs[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || vaddr >= t->funcs[lo - 1].end)
		return -ENOENT;
	*name = t->pool + t->funcs[lo - 1].name_off;
	if (start)
		*start = t->funcs[lo - 1].start;
	return 0;
}

size_t gopclntab_nr(const struct gopclntab *t)
{
	return t ? t->nr : 0;
}

size_t gopclntab_bytes(const struct gopclntab *t)
{
	return t ? t->bytes : 0;
}
