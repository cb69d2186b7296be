// SPDX-License-Identifier: Apache-2.0
/*
 * Reading the unwind tables of an ELF object with pread.
 *
 * Plain pread, no libelf and no mmap: only a handful of headers and two
 * sections are needed, and a mapped file that a container truncates under
 * us would turn a read into SIGBUS. Section headers are preferred to find
 * .eh_frame_hdr and .eh_frame because `objcopy --remove-section` edits them
 * and leaves a stale PT_GNU_EH_FRAME behind; PT_GNU_EH_FRAME is the fallback
 * for objects without section headers (what the runtime itself uses).
 */
#include "unwtab.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNWTAB_MAX_PHNUM 4096u
#define UNWTAB_MAX_SHNUM 65535u
#define UNWTAB_MAX_SHSTR (1u << 20)
#define UNWTAB_MAX_NOTE	 (64u << 10)
#define UNWTAB_PAGE	 4096u

/* DWARF pointer encodings (LSB 2.0 "DWARF Exception Header Encoding"). */
#define DW_EH_PE_absptr	 0x00
#define DW_EH_PE_udata4	 0x03
#define DW_EH_PE_udata8	 0x04
#define DW_EH_PE_sdata4	 0x0b
#define DW_EH_PE_sdata8	 0x0c
#define DW_EH_PE_pcrel	 0x10
#define DW_EH_PE_datarel 0x30
#define DW_EH_PE_omit	 0xff

/* Where the bytes come from: a file descriptor or a buffer. */
struct src {
	int fd;
	const unsigned char *mem;
	uint64_t size;
};

static int src_read(const struct src *s, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;

	if (off > s->size || len > s->size - off)
		return -EINVAL;
	if (s->mem) {
		memcpy(buf, s->mem + off, len);
		return 0;
	}
	while (done < len) {
		ssize_t got = pread(s->fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -EINVAL; /* truncated under us */
		done += (size_t)got;
	}
	return 0;
}

static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

/*
 * Copy ELF range [vaddr, vaddr + size), which lives at file offset @off,
 * widened to 8-byte boundaries. Bytes outside the file stay zero.
 */
static int read_sect(const struct src *s, uint64_t vaddr, uint64_t size, uint64_t off,
		     struct unwtab_sect *out)
{
	uint64_t lo = align_down(vaddr, 8), hi, pad = vaddr - lo, flo, fhi;
	int err;

	if (!size || size > UNWTAB_MAX_SECTION || vaddr > UINT64_MAX - size - 8 || off < pad ||
	    off > s->size || size > s->size - off)
		return -EINVAL;
	hi = align_down(vaddr + size + 7, 8);
	out->data = calloc(1, hi - lo);
	if (!out->data)
		return -ENOMEM;
	out->vaddr = lo;
	out->size = hi - lo;
	flo = off - pad;
	fhi = flo + (hi - lo) < s->size ? flo + (hi - lo) : s->size;
	err = src_read(s, flo, out->data, fhi - flo);
	if (err) {
		free(out->data);
		out->data = NULL;
	}
	return err;
}

/* File offset of ELF address @vaddr through the PT_LOADs with @len bytes in the file. */
static int vaddr_to_off(const struct unwtab *t, uint64_t vaddr, uint64_t len, uint64_t *off)
{
	size_t i;

	for (i = 0; i < t->nr_loads; i++) {
		const struct unwtab_load *l = &t->loads[i];

		if (vaddr >= l->vaddr && vaddr - l->vaddr < l->filesz &&
		    len <= l->filesz - (vaddr - l->vaddr)) {
			*off = l->off + (vaddr - l->vaddr);
			return 0;
		}
	}
	return -ENOENT;
}

static const struct unwtab_load *load_of_vaddr(const struct unwtab *t, uint64_t vaddr)
{
	size_t i;

	for (i = 0; i < t->nr_loads; i++) {
		if (vaddr >= t->loads[i].vaddr && vaddr - t->loads[i].vaddr < t->loads[i].filesz)
			return &t->loads[i];
	}
	return NULL;
}

/* Scan a note area for NT_GNU_BUILD_ID; @align is 4 or 8 (the note segment's). */
static void scan_notes(struct unwtab *t, const unsigned char *p, size_t len, size_t align)
{
	size_t pos = 0;

	while (len - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		size_t name_sz, desc_sz;

		memcpy(&nh, p + pos, sizeof(nh));
		pos += sizeof(nh);
		name_sz = ((size_t)nh.n_namesz + align - 1) & ~(align - 1);
		if (nh.n_namesz > len || name_sz > len - pos)
			return;
		desc_sz = ((size_t)nh.n_descsz + align - 1) & ~(align - 1);
		if (nh.n_descsz > len || desc_sz > len - pos - name_sz)
			return;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp(p + pos, "GNU", 4) && nh.n_descsz &&
		    nh.n_descsz <= UNWTAB_MAX_BUILD_ID) {
			memcpy(t->build_id, p + pos + name_sz, nh.n_descsz);
			t->build_id_len = nh.n_descsz;
			return;
		}
		pos += name_sz + desc_sz;
	}
}

static void read_notes(const struct src *s, struct unwtab *t, uint64_t off, uint64_t len,
		       uint64_t align)
{
	unsigned char *buf;

	if (t->build_id_len || !len || len > UNWTAB_MAX_NOTE)
		return;
	buf = malloc(len);
	if (buf && !src_read(s, off, buf, len))
		scan_notes(t, buf, len, align == 8 ? 8 : 4);
	free(buf);
}

/* Width of an encoded value we accept in the .eh_frame_hdr header; 0 when unsupported. */
static size_t enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		return 8;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		return 4;
	default:
		return 0;
	}
}

/* Decode a header value at hdr byte @pos; only absolute, pcrel and datarel make sense here. */
static int enc_read(const unsigned char *hdr, size_t pos, uint8_t enc, uint64_t hdr_vaddr,
		    uint64_t *out)
{
	uint64_t v;
	uint32_t v32;

	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		memcpy(&v, hdr + pos, 8);
		break;
	case DW_EH_PE_udata4:
		memcpy(&v32, hdr + pos, 4);
		v = v32;
		break;
	case DW_EH_PE_sdata4:
		memcpy(&v32, hdr + pos, 4);
		v = (uint64_t)(int64_t)(int32_t)v32;
		break;
	default:
		return -ENOTSUP;
	}
	switch (enc & 0x70) {
	case 0:
		break;
	case DW_EH_PE_pcrel:
		v += hdr_vaddr + pos;
		break;
	case DW_EH_PE_datarel:
		v += hdr_vaddr;
		break;
	default:
		return -ENOTSUP;
	}
	*out = v;
	return 0;
}

/*
 * Validate .eh_frame_hdr (copied into t->hdr) and find its table. Returns
 * the ELF address of .eh_frame in @eh_vaddr.
 */
static int parse_hdr(struct unwtab *t, uint64_t vaddr, uint64_t size, uint64_t *eh_vaddr)
{
	const unsigned char *h = t->hdr.data + (vaddr - t->hdr.vaddr);
	size_t ptr_sz, cnt_sz, pos = 4;
	uint64_t count;
	int err;

	if (size < 4 || h[0] != 1)
		return -EINVAL;
	/* libunwind's remote lookup only knows 8-byte datarel|sdata4 entries. */
	if (h[1] == DW_EH_PE_omit || h[2] == DW_EH_PE_omit ||
	    h[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
		return -ENOTSUP;
	ptr_sz = enc_size(h[1]);
	cnt_sz = enc_size(h[2]);
	if (!ptr_sz || !cnt_sz || (h[2] & 0x70))
		return -ENOTSUP;
	if (size < pos + ptr_sz + cnt_sz)
		return -EINVAL;
	err = enc_read(h, pos, h[1], vaddr, eh_vaddr);
	if (err)
		return err;
	pos += ptr_sz;
	err = enc_read(h, pos, h[2], vaddr, &count);
	if (err)
		return err;
	pos += cnt_sz;
	if (!count)
		return -ENOENT;
	if (count > (size - pos) / 8)
		return -EINVAL;
	t->hdr_vaddr = vaddr;
	t->table_vaddr = vaddr + pos;
	t->fde_count = count;
	return 0;
}

struct sect_loc {
	uint64_t vaddr, size, off;
	bool found;
};

/* Find .eh_frame_hdr and .eh_frame through the section headers. -ENOENT: no section headers. */
static int find_sections(const struct src *s, struct unwtab *t, const Elf64_Ehdr *eh,
			 struct sect_loc *hdr, struct sect_loc *ehf)
{
	Elf64_Shdr *sh = NULL;
	char *str = NULL;
	size_t nr = eh->e_shnum, i, stridx = eh->e_shstrndx;
	int err = 0;

	if (!eh->e_shoff || !nr || eh->e_shentsize != sizeof(Elf64_Shdr))
		return -ENOENT;
	if (nr > UNWTAB_MAX_SHNUM || stridx >= nr)
		return -EINVAL;
	sh = calloc(nr, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	err = src_read(s, eh->e_shoff, sh, nr * sizeof(*sh));
	if (err)
		goto cleanup;
	if (!sh[stridx].sh_size || sh[stridx].sh_size > UNWTAB_MAX_SHSTR) {
		err = -EINVAL;
		goto cleanup;
	}
	str = malloc(sh[stridx].sh_size + 1);
	if (!str) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = src_read(s, sh[stridx].sh_offset, str, sh[stridx].sh_size);
	if (err)
		goto cleanup;
	str[sh[stridx].sh_size] = '\0';
	for (i = 0; i < nr; i++) {
		struct sect_loc *loc = NULL;
		const char *name;

		if (sh[i].sh_type == SHT_NOTE)
			read_notes(s, t, sh[i].sh_offset, sh[i].sh_size, sh[i].sh_addralign);
		if (sh[i].sh_type != SHT_PROGBITS || sh[i].sh_name >= sh[stridx].sh_size)
			continue;
		name = str + sh[i].sh_name;
		if (!strcmp(name, ".eh_frame_hdr"))
			loc = hdr;
		else if (!strcmp(name, ".eh_frame"))
			loc = ehf;
		if (!loc || loc->found || !sh[i].sh_addr)
			continue;
		*loc = (struct sect_loc){sh[i].sh_addr, sh[i].sh_size, sh[i].sh_offset, true};
	}
cleanup:
	free(sh);
	free(str);
	return err;
}

/* The unwind table, or t->table_err; only allocation failures are returned. */
static int load_table(const struct src *s, struct unwtab *t, const Elf64_Ehdr *eh,
		      const struct sect_loc *pt_hdr)
{
	struct sect_loc hdr = {0}, ehf = {0};
	uint64_t eh_vaddr, off;
	const struct unwtab_load *l;
	int err;

	err = find_sections(s, t, eh, &hdr, &ehf);
	if (err == -ENOMEM)
		return err;
	if (err == -ENOENT)
		hdr = *pt_hdr; /* no section headers: trust the segment */
	else if (err)
		goto bad;
	if (!hdr.found) {
		err = -ENOENT;
		goto bad;
	}
	/* What the process sees at the address is what its PT_LOAD maps there. */
	if (!vaddr_to_off(t, hdr.vaddr, hdr.size, &off))
		hdr.off = off;
	err = read_sect(s, hdr.vaddr, hdr.size, hdr.off, &t->hdr);
	if (err)
		goto bad;
	err = parse_hdr(t, hdr.vaddr, hdr.size, &eh_vaddr);
	if (err)
		goto bad;
	if (!ehf.found) {
		/* No section header for it: up to the end of its segment's file bytes. */
		l = load_of_vaddr(t, eh_vaddr);
		if (!l) {
			err = -EINVAL;
			goto bad;
		}
		ehf.vaddr = eh_vaddr;
		ehf.size = l->filesz - (eh_vaddr - l->vaddr);
		if (ehf.size > UNWTAB_MAX_SECTION)
			ehf.size = UNWTAB_MAX_SECTION;
		ehf.off = l->off + (eh_vaddr - l->vaddr);
	} else if (!vaddr_to_off(t, ehf.vaddr, ehf.size, &off)) {
		ehf.off = off;
	}
	err = read_sect(s, ehf.vaddr, ehf.size, ehf.off, &t->eh);
	if (err)
		goto bad;
	t->has_table = true;
	t->bytes += t->hdr.size + t->eh.size;
	return 0;
bad:
	if (err == -ENOMEM)
		return err;
	free(t->hdr.data);
	free(t->eh.data);
	t->hdr.data = t->eh.data = NULL;
	t->table_err = err == -E2BIG	 ? -E2BIG
		       : err == -ENOTSUP ? -ENOTSUP
		       : err == -ENOENT	 ? -ENOENT
					 : -EINVAL;
	return 0;
}

static int unwtab_parse(const struct src *s, struct unwtab **out)
{
	struct sect_loc pt_hdr = {0};
	struct unwtab *t = NULL;
	Elf64_Phdr *ph = NULL;
	Elf64_Ehdr eh;
	size_t i;
	int err;

	*out = NULL;
	if (src_read(s, 0, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64 || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN))
		return -ENOEXEC;
	if (!eh.e_phnum || eh.e_phnum > UNWTAB_MAX_PHNUM || eh.e_phentsize != sizeof(Elf64_Phdr))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	ph = calloc(eh.e_phnum, sizeof(*ph));
	if (!t || !ph) {
		err = -ENOMEM;
		goto cleanup;
	}
	t->e_type = eh.e_type;
	t->bytes = sizeof(*t);
	err = src_read(s, eh.e_phoff, ph, eh.e_phnum * sizeof(*ph));
	if (err)
		goto cleanup;
	t->image_lo = UINT64_MAX;
	for (i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD) {
			if (t->nr_loads == UNWTAB_MAX_LOADS || ph[i].p_filesz > ph[i].p_memsz ||
			    ph[i].p_vaddr > UINT64_MAX - ph[i].p_memsz) {
				err = -EINVAL;
				goto cleanup;
			}
			t->loads[t->nr_loads++] = (struct unwtab_load){
			    ph[i].p_offset, ph[i].p_vaddr, ph[i].p_filesz, ph[i].p_memsz};
			if (ph[i].p_vaddr < t->image_lo)
				t->image_lo = ph[i].p_vaddr;
			if (ph[i].p_vaddr + ph[i].p_memsz > t->image_hi)
				t->image_hi = ph[i].p_vaddr + ph[i].p_memsz;
		} else if (ph[i].p_type == PT_GNU_EH_FRAME) {
			pt_hdr =
			    (struct sect_loc){ph[i].p_vaddr, ph[i].p_filesz, ph[i].p_offset, true};
		} else if (ph[i].p_type == PT_NOTE) {
			read_notes(s, t, ph[i].p_offset, ph[i].p_filesz, ph[i].p_align);
		}
	}
	if (!t->nr_loads) {
		err = -EINVAL;
		goto cleanup;
	}
	err = load_table(s, t, &eh, &pt_hdr);
	if (err)
		goto cleanup;
	*out = t;
	t = NULL;
cleanup:
	free(ph);
	unwtab_free(t);
	return err;
}

int unwtab_open_fd(int fd, struct unwtab **out)
{
	struct stat st;
	struct src s = {.fd = fd};

	*out = NULL;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	s.size = (uint64_t)st.st_size;
	return unwtab_parse(&s, out);
}

int unwtab_open_mem(const void *data, size_t len, struct unwtab **out)
{
	struct src s = {.fd = -1, .mem = data, .size = len};

	*out = NULL;
	return unwtab_parse(&s, out);
}

void unwtab_free(struct unwtab *t)
{
	if (!t)
		return;
	free(t->hdr.data);
	free(t->eh.data);
	free(t);
}

int unwtab_bias(const struct unwtab *t, uint64_t start, uint64_t offset, uint64_t *bias)
{
	size_t i;

	if (t->e_type == ET_EXEC) {
		*bias = 0;
		return 0;
	}
	for (i = 0; i < t->nr_loads; i++) {
		const struct unwtab_load *l = &t->loads[i];

		/* Mappings start on a page; the segment's file bytes may begin inside it. */
		if (offset >= align_down(l->off, UNWTAB_PAGE) &&
		    offset < l->off + (l->filesz ? l->filesz : 1)) {
			*bias = start + l->off - offset - l->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}
