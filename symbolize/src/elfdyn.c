// SPDX-License-Identifier: Apache-2.0
/* Dynamic symbols and segments of an untrusted ELF object: see symbolize/elfdyn.h. */
#include "symbolize/elfdyn.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHNUM_MAX 4096
#define PHNUM_MAX 64

int elfdyn_src_fd(int fd, struct elfdyn_src *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	s->fd = fd;
	s->size = (uint64_t)st.st_size;
	return 0;
}

int elfdyn_read(const struct elfdyn_src *s, uint64_t off, void *buf, size_t len)
{
	ssize_t n;

	if (off > s->size || len > s->size - off)
		return -EINVAL;
	if (s->mem) {
		memcpy(buf, s->mem + off, len);
		return 0;
	}
	n = pread(s->fd, buf, len, (off_t)off);
	return n == (ssize_t)len ? 0 : -EINVAL;
}

static int read_loads(const struct elfdyn_src *s, const Elf64_Ehdr *eh, struct elfdyn *out)
{
	for (size_t i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		if (elfdyn_read(s, eh->e_phoff + i * sizeof(ph), &ph, sizeof(ph)))
			return -EINVAL;
		if (ph.p_type != PT_LOAD || out->nr_loads == ELFDYN_MAX_LOADS)
			continue;
		out->loads[out->nr_loads].off = ph.p_offset;
		out->loads[out->nr_loads].vaddr = ph.p_vaddr;
		out->loads[out->nr_loads].filesz = ph.p_filesz;
		out->nr_loads++;
	}
	return 0;
}

static void call_syms(const Elf64_Sym *syms, size_t nsym, const char *str, size_t strsz,
		      void (*sym)(void *, const char *, uint64_t, uint64_t, unsigned), void *ctx)
{
	for (size_t i = 0; i < nsym; i++) {
		const char *name;

		if (!syms[i].st_name || syms[i].st_name >= strsz || syms[i].st_shndx == SHN_UNDEF)
			continue;
		name = str + syms[i].st_name;
		if (!memchr(name, '\0', strsz - syms[i].st_name))
			continue;
		sym(ctx, name, syms[i].st_value, syms[i].st_size, ELF64_ST_TYPE(syms[i].st_info));
	}
}

int elfdyn_scan(const struct elfdyn_src *s, struct elfdyn *out,
		void (*sym)(void *ctx, const char *name, uint64_t value, uint64_t size,
			    unsigned type),
		void *ctx)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL, dynsym, dynstr;
	void *tab = NULL;
	size_t i;
	int err;

	memset(out, 0, sizeof(*out));
	if (elfdyn_read(s, 0, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return -ENOEXEC;
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN))
		return -ENOEXEC;
	out->e_type = eh.e_type;
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !eh.e_shnum || eh.e_shnum > SHNUM_MAX || eh.e_phnum > PHNUM_MAX)
		return -EINVAL;
	err = read_loads(s, &eh, out);
	if (err)
		return err;
	sh = calloc(eh.e_shnum, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	err = -EINVAL;
	if (elfdyn_read(s, eh.e_shoff, sh, (size_t)eh.e_shnum * sizeof(*sh)))
		goto out;
	for (i = 0; i < eh.e_shnum && sh[i].sh_type != SHT_DYNSYM; i++)
		;
	err = -ENOENT;
	if (i == eh.e_shnum || sh[i].sh_link >= eh.e_shnum || sh[i].sh_entsize != sizeof(Elf64_Sym))
		goto out;
	dynsym = sh[i];
	dynstr = sh[dynsym.sh_link];
	err = -EINVAL;
	if (dynstr.sh_type != SHT_STRTAB || dynsym.sh_size > ELFDYN_SYMTAB_MAX ||
	    dynstr.sh_size > ELFDYN_SYMTAB_MAX - dynsym.sh_size || !dynstr.sh_size)
		goto out;
	tab = malloc(dynsym.sh_size + dynstr.sh_size);
	if (!tab) {
		err = -ENOMEM;
		goto out;
	}
	if (elfdyn_read(s, dynsym.sh_offset, tab, dynsym.sh_size) ||
	    elfdyn_read(s, dynstr.sh_offset, (char *)tab + dynsym.sh_size, dynstr.sh_size))
		goto out;
	call_syms(tab, dynsym.sh_size / sizeof(Elf64_Sym), (char *)tab + dynsym.sh_size,
		  dynstr.sh_size, sym, ctx);
	err = 0;
out:
	free(tab);
	free(sh);
	return err;
}

int elfdyn_read_vaddr(const struct elfdyn_src *s, const struct elfdyn *e, uint64_t vaddr, void *buf,
		      size_t len)
{
	for (uint16_t i = 0; i < e->nr_loads; i++) {
		uint64_t v = e->loads[i].vaddr;

		if (vaddr >= v && vaddr - v <= e->loads[i].filesz &&
		    len <= e->loads[i].filesz - (vaddr - v))
			return elfdyn_read(s, e->loads[i].off + (vaddr - v), buf, len);
	}
	return -ENOENT;
}

int elfdyn_bias(const struct elfdyn *e, uint64_t start, uint64_t offset, uint64_t *bias)
{
	if (e->e_type == ET_EXEC) {
		*bias = 0;
		return 0;
	}
	for (uint16_t i = 0; i < e->nr_loads; i++) {
		if (offset >= e->loads[i].off && offset - e->loads[i].off < e->loads[i].filesz) {
			*bias = start - (e->loads[i].vaddr + (offset - e->loads[i].off));
			return 0;
		}
	}
	return -ENOENT;
}
