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
 * .debug_frame is converted to .eh_frame form (see unwtab.h for why).
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
	bool compressed; /* SHF_COMPRESSED or .zdebug_: would need zlib, not read */
};

/*
 * Find .eh_frame_hdr, .eh_frame and .debug_frame (not allocated: no address)
 * through the section headers. -ENOENT: no section headers.
 */
static int find_sections(const struct src *s, struct unwtab *t, const Elf64_Ehdr *eh,
			 struct sect_loc *hdr, struct sect_loc *ehf, struct sect_loc *dbf)
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
		/* gold (and so Debian's LLVM) types the unwind sections SHT_X86_64_UNWIND. */
		if ((sh[i].sh_type != SHT_PROGBITS && sh[i].sh_type != SHT_X86_64_UNWIND) ||
		    sh[i].sh_name >= sh[stridx].sh_size)
			continue;
		name = str + sh[i].sh_name;
		if ((!strcmp(name, ".debug_frame") || !strcmp(name, ".zdebug_frame")) &&
		    !dbf->found && sh[i].sh_size) {
			*dbf =
			    (struct sect_loc){0, sh[i].sh_size, sh[i].sh_offset, true,
					      name[1] == 'z' || (sh[i].sh_flags & SHF_COMPRESSED)};
			continue;
		}
		if (!strcmp(name, ".eh_frame_hdr"))
			loc = hdr;
		else if (!strcmp(name, ".eh_frame"))
			loc = ehf;
		if (!loc || loc->found || !sh[i].sh_addr)
			continue;
		*loc =
		    (struct sect_loc){sh[i].sh_addr, sh[i].sh_size, sh[i].sh_offset, true, false};
	}
cleanup:
	free(sh);
	free(str);
	return err;
}

/* --- .debug_frame converted to .eh_frame ---------------------------------- */

/*
 * What the converted entries look like to libunwind: augmentation "zR" with
 * pcrel|sdata8 FDE pointers. Not absptr: the remote-table path does not add
 * the load bias to absolute FDE addresses (only the .debug_frame path does).
 */
#define DF_FDE_ENC     (DW_EH_PE_pcrel | DW_EH_PE_sdata8)
#define DF_HDR_SIZE    12u	   /* version, 3 encodings, eh_frame_ptr, fde_count */
#define DF_LOWEST      UNWTAB_PAGE /* keep synthetic bytes off the null page (ENTRY_ADDR) */
#define DF_CIE_ID32    0xffffffffull
#define DF_CIE_ID64    UINT64_MAX
#define DW_CFA_set_loc 0x01

/* A bounded reader over the .debug_frame bytes; any overrun sets err. */
struct rd {
	const unsigned char *p;
	size_t pos, end;
	int err;
};

static uint64_t rd_fixed(struct rd *r, size_t n)
{
	uint64_t v = 0;

	if (r->err || n > r->end - r->pos) {
		r->err = -EINVAL;
		return 0;
	}
	memcpy(&v, r->p + r->pos, n); /* little endian: ELFDATA2LSB only */
	r->pos += n;
	return v;
}

/* Skip one LEB128 number; returns its value when it is unsigned and fits (block lengths). */
static uint64_t rd_leb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char b;

	do {
		if (r->err || r->pos == r->end || shift > 63) {
			r->err = -EINVAL;
			return 0;
		}
		b = r->p[r->pos++];
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	return v;
}

/* A growable output with a hard cap; overflow sets err and ignores later writes. */
struct obuf {
	unsigned char *p;
	size_t len, cap;
	int err;
};

static void ob_put(struct obuf *o, const void *buf, size_t n)
{
	size_t cap;
	unsigned char *np;

	if (o->err)
		return;
	if (n > UNWTAB_MAX_SECTION - o->len) {
		o->err = -E2BIG;
		return;
	}
	if (o->len + n > o->cap) {
		cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n)
			cap *= 2;
		np = realloc(o->p, cap);
		if (!np) {
			o->err = -ENOMEM;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, buf, n);
	o->len += n;
}

static void ob_u8(struct obuf *o, uint8_t v)
{
	ob_put(o, &v, 1);
}

static void ob_u32(struct obuf *o, uint32_t v)
{
	ob_put(o, &v, 4);
}

static void ob_u64(struct obuf *o, uint64_t v)
{
	ob_put(o, &v, 8);
}

/* Entries end on 8 bytes, with DW_CFA_nop (0) inside the entry, as linkers pad. */
static void ob_pad8(struct obuf *o)
{
	static const unsigned char zero[8];

	ob_put(o, zero, (8 - o->len % 8) % 8);
}

/* Set the 32-bit length of the entry that starts at @at to reach the end of @o. */
static void ob_close(struct obuf *o, size_t at)
{
	uint32_t l;

	ob_pad8(o);
	if (o->err)
		return;
	l = (uint32_t)(o->len - at - 4);
	memcpy(o->p + at, &l, 4);
}

/*
 * Operands of CFA opcodes below 0x40: u/s LEB128, 1/2/4/8 fixed bytes, a an
 * address, b a LEB128-sized block (a DWARF expression). NULL: unknown.
 */
static const char *const cfa_operands[0x40] = {
    [0x00] = "",   [0x01] = "a", [0x02] = "1",	[0x03] = "2",  [0x04] = "4",  [0x05] = "uu",
    [0x06] = "u",  [0x07] = "u", [0x08] = "u",	[0x09] = "uu", [0x0a] = "",   [0x0b] = "",
    [0x0c] = "uu", [0x0d] = "u", [0x0e] = "u",	[0x0f] = "b",  [0x10] = "ub", [0x11] = "us",
    [0x12] = "us", [0x13] = "s", [0x14] = "uu", [0x15] = "us", [0x16] = "ub", [0x1d] = "8",
    [0x2d] = "",   [0x2e] = "u", [0x2f] = "uu",
};

/*
 * Copy the CFA program in [r->pos, r->end) to @o. DW_CFA_set_loc is the one
 * operand whose form differs: an absolute @addr_sz-byte address here, the
 * FDE pointer encoding in .eh_frame, so it becomes pcrel relative to where
 * it lands (@vaddr + offset in @o). Expressions are copied as they are
 * (DW_OP_addr is target-sized in both). Unknown opcodes: -EINVAL.
 */
static int cfa_copy(struct rd *r, size_t addr_sz, uint64_t vaddr, struct obuf *o)
{
	while (!r->err && !o->err && r->pos < r->end) {
		uint8_t op = r->p[r->pos++];
		const char *ops =
		    op >= 0x40 ? (op >= 0x80 && op < 0xc0 ? "u" : "") : cfa_operands[op];
		size_t from;
		uint64_t v;

		if (!ops)
			return -EINVAL;
		ob_u8(o, op);
		for (; *ops; ops++) {
			from = r->pos;
			switch (*ops) {
			case 'a':
				v = rd_fixed(r, addr_sz);
				ob_u64(o, v - (vaddr + o->len));
				continue;
			case 'u':
			case 's':
				rd_leb(r);
				break;
			case 'b':
				v = rd_leb(r);
				if (!r->err && v > r->end - r->pos)
					r->err = -EINVAL;
				else
					r->pos += v;
				break;
			default:
				rd_fixed(r, (size_t)(*ops - '0'));
				break;
			}
			if (!r->err)
				ob_put(o, r->p + from, r->pos - from);
		}
	}
	return r->err ? r->err : o->err;
}

/* One .debug_frame entry: [off, end) in the section, body after its id. */
struct df_entry {
	size_t off, body, end;
	bool is_cie;
	uint64_t cie_ptr; /* FDE: section offset of its CIE */
};

/* The entry at *@pos: 0 and *@pos past it, 1 at the end of the section, -EINVAL. */
static int df_next(const unsigned char *df, size_t len, size_t *pos, struct df_entry *e)
{
	struct rd r = {.p = df, .pos = *pos, .end = len};
	uint64_t l, id;
	size_t id_sz = 4;

	for (;;) {
		if (r.pos == len)
			return 1;
		e->off = r.pos;
		l = rd_fixed(&r, 4);
		if (r.err)
			return -EINVAL;
		if (l) /* zero lengths: padding some linkers leave between entries */
			break;
	}
	if (l == 0xffffffff) {
		l = rd_fixed(&r, 8);
		id_sz = 8;
	} else if (l >= 0xfffffff0) {
		return -EINVAL;
	}
	if (r.err || l > len - r.pos || l < id_sz)
		return -EINVAL;
	e->end = r.pos + l;
	id = rd_fixed(&r, id_sz);
	e->body = r.pos;
	e->is_cie = id == (id_sz == 8 ? DF_CIE_ID64 : DF_CIE_ID32);
	e->cie_ptr = id;
	*pos = e->end;
	return 0;
}

/* A CIE of the section and where its conversion went. */
struct df_cie {
	uint64_t in_off;
	uint32_t out_off;
	uint8_t addr_sz; /* 0: not convertible, its FDEs are dropped */
};

/* A table entry: function start and its FDE, relative to image_lo. */
struct df_fde {
	uint64_t start;
	uint32_t fde_rel;
	uint32_t is_real; /* from the object's .eh_frame: preferred on equal starts */
};

struct df_conv {
	const unsigned char *df;
	size_t len;
	const struct unwtab *t;
	uint64_t vaddr; /* where the converted bytes will be */
	struct obuf out;
	struct df_cie *cies; /* the convertible ones, by section offset */
	size_t nr_cies, cap_cies;
	struct df_fde *fdes;
	size_t nr_fdes, cap_fdes;
};

/* Convert the CIE @e; an unusable one (version, augmentation) leaves addr_sz 0 and no output. */
static int df_cie(struct df_conv *c, const struct df_entry *e, struct df_cie *cie)
{
	struct rd r = {.p = c->df, .pos = e->body, .end = e->end};
	size_t start = c->out.len, from;
	uint8_t version, addr_sz = 8, seg_sz = 0;
	int err;

	cie->in_off = e->off;
	cie->addr_sz = 0;
	version = (uint8_t)rd_fixed(&r, 1);
	if (version != 1 && version != 3 && version != 4)
		return 0;
	/* An augmentation would need the producer's meaning; .debug_frame has none in practice. */
	if ((uint8_t)rd_fixed(&r, 1) != 0)
		return 0;
	if (version == 4) {
		addr_sz = (uint8_t)rd_fixed(&r, 1);
		seg_sz = (uint8_t)rd_fixed(&r, 1);
	}
	if (r.err || (addr_sz != 4 && addr_sz != 8) || seg_sz)
		return 0;
	from = r.pos;
	rd_leb(&r); /* code alignment factor */
	rd_leb(&r); /* data alignment factor */
	if (version == 1)
		rd_fixed(&r, 1); /* return address register */
	else
		rd_leb(&r);
	if (r.err)
		return 0;
	cie->out_off = (uint32_t)start;
	ob_u32(&c->out, 0); /* length, set by ob_close() */
	ob_u32(&c->out, 0); /* CIE id in .eh_frame */
	/* v4 differs from v3 only by address and segment sizes, which .eh_frame does not have. */
	ob_u8(&c->out, version == 1 ? 1 : 3);
	ob_put(&c->out, "zR", 3);
	ob_put(&c->out, c->df + from, r.pos - from);
	ob_u8(&c->out, 1); /* augmentation data length */
	ob_u8(&c->out, DF_FDE_ENC);
	err = cfa_copy(&r, addr_sz, c->vaddr, &c->out);
	if (err == -ENOMEM || err == -E2BIG)
		return err;
	if (err) {
		c->out.len = start; /* drop what was written of it */
		return 0;
	}
	ob_close(&c->out, start);
	cie->addr_sz = addr_sz;
	return c->out.err;
}

static const struct df_cie *df_find_cie(const struct df_conv *c, uint64_t off)
{
	size_t lo = 0, hi = c->nr_cies;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->cies[mid].in_off == off)
			return &c->cies[mid];
		if (c->cies[mid].in_off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int df_add_fde(struct df_conv *c, uint64_t start, uint64_t fde_vaddr, bool is_real)
{
	struct df_fde *n;
	size_t cap;

	if (c->nr_fdes == UNWTAB_MAX_FDES)
		return -E2BIG;
	if (c->nr_fdes == c->cap_fdes) {
		cap = c->cap_fdes ? c->cap_fdes * 2 : 256;
		n = realloc(c->fdes, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->fdes = n;
		c->cap_fdes = cap;
	}
	c->fdes[c->nr_fdes++] =
	    (struct df_fde){start, (uint32_t)(fde_vaddr - c->t->image_lo), is_real};
	return 0;
}

/* Convert the FDE @e; one for a function outside the image or a bad CIE is dropped. */
static int df_fde(struct df_conv *c, const struct df_entry *e)
{
	struct rd r = {.p = c->df, .pos = e->body, .end = e->end};
	const struct df_cie *cie = df_find_cie(c, e->cie_ptr);
	size_t at = c->out.len;
	uint64_t start, range;
	int err;

	if (!cie || !cie->addr_sz)
		return 0;
	start = rd_fixed(&r, cie->addr_sz);
	range = rd_fixed(&r, cie->addr_sz);
	/* Linkers leave FDEs of discarded functions at 0 (or a tombstone): not code. */
	if (r.err || !range || start < c->t->image_lo || start >= c->t->image_hi ||
	    range > c->t->image_hi - start)
		return 0;
	ob_u32(&c->out, 0);
	ob_u32(&c->out, (uint32_t)(at + 4 - cie->out_off)); /* back to the CIE from here */
	ob_u64(&c->out, start - (c->vaddr + at + 8));	    /* pcrel */
	ob_u64(&c->out, range);
	ob_u8(&c->out, 0); /* augmentation data length ('z') */
	err = cfa_copy(&r, cie->addr_sz, c->vaddr, &c->out);
	if (err == -ENOMEM || err == -E2BIG)
		return err;
	if (err) {
		c->out.len = at;
		return 0;
	}
	ob_close(&c->out, at);
	if (c->out.err)
		return c->out.err;
	return df_add_fde(c, start, c->vaddr + at, false);
}

/*
 * Both passes over the section: CIEs first (an FDE may name a later CIE),
 * then the FDEs. Output goes to c->out for address c->vaddr.
 */
static int df_convert(struct df_conv *c)
{
	struct df_entry e;
	size_t pos = 0;
	int err;

	while ((err = df_next(c->df, c->len, &pos, &e)) == 0) {
		if (!e.is_cie)
			continue;
		if (c->nr_cies == c->cap_cies)
			return -E2BIG;
		err = df_cie(c, &e, &c->cies[c->nr_cies]);
		if (err)
			return err;
		if (c->cies[c->nr_cies].addr_sz) /* FDEs of the others find no CIE: dropped */
			c->nr_cies++;
	}
	if (err < 0)
		return err;
	pos = 0;
	while ((err = df_next(c->df, c->len, &pos, &e)) == 0) {
		if (e.is_cie)
			continue;
		err = df_fde(c, &e);
		if (err)
			return err;
	}
	if (err < 0)
		return err;
	if (!c->nr_fdes)
		return -ENOENT;
	ob_u32(&c->out, 0); /* the .eh_frame terminator */
	ob_pad8(&c->out);
	return c->out.err;
}

static int df_fde_cmp(const void *a, const void *b)
{
	const struct df_fde *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (int)y->is_real - (int)x->is_real;
}

/* The real .eh_frame_hdr entries of @t that lie in its image, added to @c. */
static int df_add_real(struct df_conv *c, const struct unwtab *t)
{
	const unsigned char *tab = t->hdr.data + (t->table_vaddr - t->hdr.vaddr);
	int32_t ent[2];
	uint64_t i, start, fde;
	int err;

	for (i = 0; i < t->fde_count; i++) {
		memcpy(ent, tab + i * 8, 8);
		start = t->hdr_vaddr + (uint64_t)(int64_t)ent[0];
		fde = t->hdr_vaddr + (uint64_t)(int64_t)ent[1];
		if (start < t->image_lo || start >= t->image_hi || fde < t->image_lo ||
		    fde >= t->image_hi)
			continue;
		err = df_add_fde(c, start, fde, true);
		if (err)
			return err;
	}
	return 0;
}

/* Whether [lo, lo + len) avoids the real .eh_frame copy and stays in the image. */
static bool df_fits(const struct unwtab *t, uint64_t lo, uint64_t len)
{
	if (lo < t->image_lo || lo > t->image_hi || len > t->image_hi - lo)
		return false;
	return !t->eh.data || lo + len <= t->eh.vaddr || lo >= t->eh.vaddr + t->eh.size;
}

static uint64_t align_up8(uint64_t v)
{
	return (v + 7) & ~7ull;
}

/* The synthetic .eh_frame_hdr for the sorted, deduplicated @c->fdes at @vaddr. */
static int df_build_hdr(const struct df_conv *c, uint64_t vaddr, struct unwtab_sect *hdr)
{
	const struct unwtab *t = c->t;
	unsigned char *h;
	int32_t v[2];
	size_t i;

	hdr->vaddr = vaddr;
	hdr->size = align_up8(DF_HDR_SIZE + 8ull * c->nr_fdes);
	hdr->data = h = calloc(1, hdr->size);
	if (!h)
		return -ENOMEM;
	h[0] = 1;
	h[1] = DW_EH_PE_pcrel | DW_EH_PE_sdata4;
	h[2] = DW_EH_PE_udata4;
	h[3] = DW_EH_PE_datarel | DW_EH_PE_sdata4;
	/* The image spans less than 2 GiB (checked): every difference fits 32 bits. */
	v[0] = (int32_t)(c->vaddr - (vaddr + 4));
	v[1] = (int32_t)c->nr_fdes;
	memcpy(h + 4, v, 8);
	for (i = 0; i < c->nr_fdes; i++) {
		v[0] = (int32_t)(c->fdes[i].start - vaddr);
		v[1] = (int32_t)(t->image_lo + c->fdes[i].fde_rel - vaddr);
		memcpy(h + DF_HDR_SIZE + i * 8, v, 8);
	}
	return 0;
}

static void df_conv_reset(struct df_conv *c, uint64_t vaddr)
{
	free(c->out.p);
	memset(&c->out, 0, sizeof(c->out));
	c->nr_cies = c->nr_fdes = 0;
	c->vaddr = vaddr;
}

int unwtab_add_debug_frame(struct unwtab *t, const void *df, size_t len)
{
	struct df_conv c = {.df = df, .len = len, .t = t};
	struct unwtab_sect hdr = {0}, dbg = {0}, old_hdr = t->hdr;
	uint64_t old_hdr_vaddr = t->hdr_vaddr, old_table = t->table_vaddr;
	uint64_t lo, need, old_count = t->fde_count;
	size_t i, n, added = 0;
	int pass, err;

	if (t->dbg.data)
		return -EEXIST;
	if (!len || len > UNWTAB_MAX_SECTION) {
		err = len ? -E2BIG : -ENOENT;
		goto cleanup;
	}
	/* Table entries are 32-bit offsets from the synthetic header, inside the image. */
	if (t->image_hi <= t->image_lo || t->image_hi - t->image_lo > INT32_MAX) {
		err = -E2BIG;
		goto cleanup;
	}
	/* Every entry takes at least 8 bytes of the section. */
	c.cap_cies = len / 8 < UNWTAB_MAX_CIES ? len / 8 + 1 : UNWTAB_MAX_CIES;
	c.cies = calloc(c.cap_cies, sizeof(*c.cies));
	if (!c.cies) {
		err = -ENOMEM;
		goto cleanup;
	}
	/*
	 * The output's pcrel fields depend on where it goes and where it may go
	 * depends on its size: convert at the bottom of the image, and once more
	 * above the real .eh_frame when that is in the way.
	 */
	lo = align_up8(t->image_lo > DF_LOWEST ? t->image_lo : DF_LOWEST);
	for (pass = 0; pass < 2; pass++) {
		df_conv_reset(&c, lo);
		err = df_convert(&c);
		if (!err && t->has_table)
			err = df_add_real(&c, t);
		if (err)
			goto cleanup;
		need = c.out.len + align_up8(DF_HDR_SIZE + 8ull * c.nr_fdes);
		if (df_fits(t, lo, need))
			break;
		if (!t->eh.data || pass) {
			err = -E2BIG;
			goto cleanup;
		}
		lo = t->eh.vaddr + t->eh.size;
	}
	qsort(c.fdes, c.nr_fdes, sizeof(*c.fdes), df_fde_cmp);
	for (i = n = 0; i < c.nr_fdes; i++) {
		if (n && c.fdes[n - 1].start == c.fdes[i].start)
			continue;
		added += !c.fdes[i].is_real;
		c.fdes[n++] = c.fdes[i];
	}
	c.nr_fdes = n;
	/* Nothing the real table lacks: keep it as it is. */
	if (!added) {
		err = -ENOENT;
		goto cleanup;
	}
	err = df_build_hdr(&c, c.vaddr + c.out.len, &hdr);
	if (err)
		goto cleanup;
	dbg = (struct unwtab_sect){c.vaddr, c.out.len, c.out.p};
	c.out.p = NULL;
	/* Served exactly like a real header: it must pass the same checks. */
	t->hdr = hdr;
	err = parse_hdr(t, hdr.vaddr, hdr.size, &lo);
	if (err || lo != dbg.vaddr) {
		t->hdr = old_hdr;
		t->hdr_vaddr = old_hdr_vaddr;
		t->table_vaddr = old_table;
		t->fde_count = old_count;
		err = err ? err : -EINVAL;
		goto cleanup;
	}
	t->bytes += hdr.size + dbg.size - (old_hdr.data ? old_hdr.size : 0);
	free(old_hdr.data);
	t->dbg = dbg;
	hdr.data = dbg.data = NULL;
	t->has_table = true;
	t->table_err = 0;
cleanup:
	if (err && !t->has_table && err != -ENOMEM)
		t->table_err = err;
	free(hdr.data);
	free(dbg.data);
	free(c.out.p);
	free(c.cies);
	free(c.fdes);
	return err;
}

/* The .eh_frame_hdr table and .eh_frame; on failure none and why (-ENOMEM: returned). */
static int load_eh(const struct src *s, struct unwtab *t, struct sect_loc hdr, struct sect_loc ehf)
{
	uint64_t eh_vaddr, off;
	const struct unwtab_load *l;
	int err;

	if (!hdr.found)
		return -ENOENT;
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
	t->eh_start = ehf.vaddr;
	t->has_table = true;
	t->bytes += t->hdr.size + t->eh.size;
	return 0;
bad:
	free(t->hdr.data);
	free(t->eh.data);
	t->hdr = t->eh = (struct unwtab_sect){0};
	t->hdr_vaddr = t->table_vaddr = t->fde_count = t->eh_start = 0;
	return err;
}

/* Read the .debug_frame at @dbf and add it to @t. */
static int load_debug_frame(const struct src *s, struct unwtab *t, const struct sect_loc *dbf)
{
	unsigned char *buf;
	int err;

	if (dbf->compressed)
		return -ENOTSUP;
	if (dbf->size > UNWTAB_MAX_SECTION)
		return -E2BIG;
	buf = malloc(dbf->size);
	if (!buf)
		return -ENOMEM;
	err = src_read(s, dbf->off, buf, dbf->size);
	if (!err)
		err = unwtab_add_debug_frame(t, buf, dbf->size);
	free(buf);
	return err;
}

static int table_errno(int err)
{
	return err == -E2BIG || err == -ENOTSUP || err == -ENOENT ? err : -EINVAL;
}

/*
 * The unwind table, or t->table_err; only allocation failures are returned.
 * A .debug_frame is added to a real table, or stands in for a missing one.
 */
static int load_table(const struct src *s, struct unwtab *t, const Elf64_Ehdr *eh,
		      const struct sect_loc *pt_hdr)
{
	struct sect_loc hdr = {0}, ehf = {0}, dbf = {0};
	int err;

	err = find_sections(s, t, eh, &hdr, &ehf, &dbf);
	if (err == -ENOMEM)
		return err;
	if (err == -ENOENT)
		hdr = *pt_hdr; /* no section headers: trust the segment */
	if (err && err != -ENOENT) {
		unwtab_drop_table(t, table_errno(err));
		return 0;
	}
	err = load_eh(s, t, hdr, ehf);
	if (err == -ENOMEM)
		return err;
	if (err)
		t->table_err = table_errno(err);
	if (!dbf.found)
		return 0;
	err = load_debug_frame(s, t, &dbf);
	if (err && !t->has_table && err != -ENOMEM)
		t->table_err = table_errno(err);
	return err == -ENOMEM ? err : 0;
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
			pt_hdr = (struct sect_loc){ph[i].p_vaddr, ph[i].p_filesz, ph[i].p_offset,
						   true, false};
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
	free(t->dbg.data);
	free(t);
}

void unwtab_drop_table(struct unwtab *t, int err)
{
	struct unwtab_sect *sect[3] = {&t->hdr, &t->eh, &t->dbg};
	size_t i;

	for (i = 0; i < 3; i++) {
		if (sect[i]->data)
			t->bytes -= sect[i]->size;
		free(sect[i]->data);
		*sect[i] = (struct unwtab_sect){0};
	}
	t->has_table = false;
	t->hdr_vaddr = t->table_vaddr = t->fde_count = t->eh_start = 0;
	t->table_err = err;
}

int unwtab_add_debug_fd(struct unwtab *t, int fd)
{
	struct sect_loc hdr = {0}, ehf = {0}, dbf = {0};
	struct src s = {.fd = fd};
	struct unwtab scratch;
	struct stat st;
	Elf64_Ehdr eh;
	int err;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	s.size = (uint64_t)st.st_size;
	if (src_read(&s, 0, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64)
		return -ENOEXEC;
	/* Only its section list matters; notes go to a scratch table, not @t. */
	memset(&scratch, 0, sizeof(scratch));
	scratch.build_id_len = 1; /* skip reading notes */
	err = find_sections(&s, &scratch, &eh, &hdr, &ehf, &dbf);
	if (err)
		return err;
	if (!dbf.found)
		return -ENOENT;
	return load_debug_frame(&s, t, &dbf);
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
