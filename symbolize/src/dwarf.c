// SPDX-License-Identifier: Apache-2.0
/*
 * DWARF lines and inline chains through libdwarf's object-access interface.
 *
 * Layout of the work:
 *  - open: read the section headers ourselves, load (and inflate) the
 *    .debug_* sections libdwarf and we need, hand them to libdwarf, build
 *    the range -> CU table;
 *  - first hit in a CU: run its line program (own parser, see dwarf.h for
 *    why), walk its DIEs once, collapse everything into sorted arrays:
 *    rows (addr -> file, line), scopes (functions and inlined calls, with
 *    parent links) and a partition of the CU's code into intervals each
 *    naming its innermost scope;
 *  - lookup: two binary searches and a walk up the parent links.
 */
#include "dwarf.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>

#include "budget.h"

#define NO_SCOPE UINT32_MAX
#define NO_FILE	 UINT32_MAX
#define ROW_END	 (UINT32_MAX - 1) /* row.file of an end_sequence: no code from here */

#define MAX_SHNUM	  (1u << 20)
#define MAX_SHSTRTAB	  (16u << 20)
#define MAX_NAME_HOPS	  8 /* abstract_origin / specification chain */
#define MAX_RANGES_CU	  (1u << 22)
#define MAX_PATH	  4096
#define LIBDWARF_CU_BYTES 2048 /* estimate of what libdwarf keeps per visited CU */
#define CU_STATE_UNPARSED 0
#define CU_STATE_OK	  1
#define CU_STATE_BAD	  2

enum sec_id {
	SEC_INFO,
	SEC_ABBREV,
	SEC_LINE,
	SEC_LINE_STR,
	SEC_STR,
	SEC_STR_OFFSETS,
	SEC_ADDR,
	SEC_RANGES,
	SEC_RNGLISTS,
	SEC_ARANGES,
	SEC__MAX,
};

static const char *const sec_names[SEC__MAX] = {
    [SEC_INFO] = ".debug_info",		[SEC_ABBREV] = ".debug_abbrev",
    [SEC_LINE] = ".debug_line",		[SEC_LINE_STR] = ".debug_line_str",
    [SEC_STR] = ".debug_str",		[SEC_STR_OFFSETS] = ".debug_str_offsets",
    [SEC_ADDR] = ".debug_addr",		[SEC_RANGES] = ".debug_ranges",
    [SEC_RNGLISTS] = ".debug_rnglists", [SEC_ARANGES] = ".debug_aranges",
};

struct dw_sec {
	unsigned char *data; /* contents: owned (read or inflated), or inside the file's mapping */
	uint64_t size;
	uint64_t addr;
	bool present;
	bool is_mapped; /* data points into dwsym.map: not freed */
};

struct dw_row {
	uint64_t addr;
	uint32_t line;
	uint32_t file; /* index into files[], NO_FILE, or ROW_END */
};

struct dw_scope {
	const char *name;    /* borrowed from a section */
	const char *linkage; /* idem */
	uint32_t parent;     /* enclosing scope for an inlined call; NO_SCOPE for a function */
	uint32_t call_file;  /* where the parent called us (inlined calls only) */
	uint32_t call_line;
	uint32_t decl_line;
};

/* From lo up to the next interval's lo, the innermost scope is @scope. */
struct dw_ival {
	uint64_t lo;
	uint32_t scope; /* NO_SCOPE: no function here */
};

/* Everything one CU contributes, in one allocation. */
struct dw_cu_data {
	size_t bytes;
	uint32_t nr_rows;
	uint32_t nr_scopes;
	uint32_t nr_ivals;
	uint32_t nr_files;
	struct dw_row *rows;
	struct dw_scope *scopes;
	struct dw_ival *ivals;
	const char **files; /* joined paths; NULL for entries nothing refers to */
};

struct dw_cu {
	uint64_t die_off; /* global .debug_info offset of the CU DIE */
	struct dw_cu_data *data;
	uint8_t state;
};

/* An address range of a CU (cu = its index) or of a scope (cu = scope index). */
struct dw_range {
	uint64_t lo;
	uint64_t hi;
	uint32_t cu;
	uint32_t depth; /* DIE nesting of a scope: outer ranges sort first */
};

struct dwsym {
	Dwarf_Debug dbg;
	Dwarf_Obj_Access_Interface iface; /* libdwarf keeps a pointer to it */
	struct dw_sec secs[SEC__MAX];
	unsigned sec_map[SEC__MAX]; /* libdwarf section index (1-based) -> sec_id */
	unsigned nr_exposed;
	struct dw_cu *cus;
	size_t nr_cus;
	struct dw_range *ranges;
	size_t nr_ranges;
	size_t nr_bad;
	size_t bytes;
	void *map; /* the whole file, read-only, when opened by dwsym_open_fd_map() */
	size_t map_sz;
	size_t mapped_bytes;	/* sections used in place from the mapping */
	struct parse_budget *b; /* while opening: what the open may allocate; NULL after */
};

/* ------------------------------------------------------------------ */
/* Reading the file                                                   */

struct dw_src {
	int fd;
	const unsigned char *mem;
	uint64_t size;
	bool is_mapped; /* mem is a mapping of a trusted file: use sections in place */
	struct parse_budget *b;
};

/* Charge @b (NULL: not opening, the cache charges what a lookup adds afterwards). */
static int dw_charge(struct parse_budget *b, uint64_t n)
{
	return b ? budget_charge(b, n) : 0;
}

static bool range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int src_read(const struct dw_src *src, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t got;

	if (!range_ok(off, len, src->size))
		return -EINVAL;
	if (src->mem) {
		memcpy(buf, src->mem + off, len);
		return 0;
	}
	while (done < len) {
		got = pread(src->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EINVAL; /* the file shrank under us */
		done += (size_t)got;
	}
	return 0;
}

/*
 * Inflate a SHF_COMPRESSED section. The buffer grows with the output rather
 * than trusting ch_size up front, so a lying header costs no memory.
 */
static int inflate_sec(const unsigned char *in, size_t in_sz, uint64_t out_sz, unsigned char **out)
{
	unsigned char *buf = NULL, *nb;
	size_t cap = 0, ncap;
	z_stream zs;
	int zerr, err = 0;

	*out = NULL;
	if (out_sz > DWSYM_MAX_SECTION)
		return -E2BIG;
	if (!out_sz || in_sz > UINT32_MAX)
		return -EINVAL;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK)
		return -ENOMEM;
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)in_sz;
	for (;;) {
		if (zs.total_out == cap) {
			/* Output past ch_size, or a stream that never ends: corrupt. */
			if (cap == out_sz) {
				err = -EINVAL;
				goto cleanup;
			}
			ncap = cap ? cap * 2 : (in_sz < 1024 ? 4096 : in_sz * 4);
			if (ncap > out_sz)
				ncap = out_sz;
			nb = realloc(buf, ncap);
			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = nb;
			cap = ncap;
		}
		zs.next_out = buf + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		zerr = inflate(&zs, Z_NO_FLUSH);
		if (zerr == Z_STREAM_END)
			break;
		if (zerr != Z_OK) {
			err = -EINVAL;
			goto cleanup;
		}
	}
	if (zs.total_out != out_sz) {
		err = -EINVAL;
		goto cleanup;
	}
	*out = buf;
	buf = NULL;
cleanup:
	inflateEnd(&zs);
	free(buf);
	return err;
}

static int load_sec(const struct dw_src *src, const Elf64_Shdr *sh, struct dw_sec *s)
{
	unsigned char *raw = NULL, *data = NULL;
	int err = 0;

	if (sh->sh_type == SHT_NOBITS || !range_ok(sh->sh_offset, sh->sh_size, src->size))
		return -EINVAL;
	if (sh->sh_size > DWSYM_MAX_SECTION)
		return -E2BIG;
	/* Mapped sections count too: the budget bounds what may become resident. */
	err = dw_charge(src->b, sh->sh_size);
	if (err)
		return err;
	/* Page-cache pages of a trusted file: only those touched are resident, and reclaimable. */
	if (src->is_mapped && !(sh->sh_flags & SHF_COMPRESSED)) {
		s->data = (unsigned char *)src->mem + sh->sh_offset;
		s->size = sh->sh_size;
		s->addr = sh->sh_addr;
		s->present = true;
		s->is_mapped = true;
		return 0;
	}
	raw = malloc(sh->sh_size ? sh->sh_size : 1);
	if (!raw)
		return -ENOMEM;
	err = src_read(src, sh->sh_offset, raw, sh->sh_size);
	if (err)
		goto cleanup;
	if (sh->sh_flags & SHF_COMPRESSED) {
		Elf64_Chdr ch;

		if (sh->sh_size < sizeof(ch)) {
			err = -EINVAL;
			goto cleanup;
		}
		memcpy(&ch, raw, sizeof(ch));
		if (ch.ch_type != ELFCOMPRESS_ZLIB) {
			err = -EINVAL;
			goto cleanup;
		}
		/*
		 * A zlib bomb inflates a few kilobytes into gigabytes: the size it
		 * claims must fit what is left of the budget before anything is
		 * inflated, and inflate_sec() never writes past the claim.
		 */
		if (ch.ch_size > DWSYM_MAX_SECTION) {
			err = -E2BIG;
			goto cleanup;
		}
		err = dw_charge(src->b, ch.ch_size);
		if (err)
			goto cleanup;
		err = inflate_sec(raw + sizeof(ch), sh->sh_size - sizeof(ch), ch.ch_size, &data);
		if (err)
			goto cleanup;
		s->size = ch.ch_size;
		s->data = data;
	} else {
		s->size = sh->sh_size;
		s->data = raw;
		raw = NULL;
	}
	s->addr = sh->sh_addr;
	s->present = true;
cleanup:
	free(raw);
	return err;
}

/* Read the section headers and load the sections we know by name. */
static int load_sections(const struct dw_src *src, struct dwsym *d)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *shdrs = NULL, sh0;
	char *shstr = NULL;
	uint64_t shnum, shstrndx, i;
	int err;

	if (src_read(src, 0, &eh, sizeof(eh)))
		return -ENOEXEC;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	/* No relocations are applied: relocatable objects would give wrong addresses. */
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return -ENOEXEC;
	if (!eh.e_shoff || eh.e_shentsize != sizeof(Elf64_Shdr))
		return -ENOENT;
	shnum = eh.e_shnum;
	shstrndx = eh.e_shstrndx;
	if (shnum == 0 || shstrndx == SHN_XINDEX) {
		if (src_read(src, eh.e_shoff, &sh0, sizeof(sh0)))
			return -EINVAL;
		if (shnum == 0)
			shnum = sh0.sh_size;
		if (shstrndx == SHN_XINDEX)
			shstrndx = sh0.sh_link;
	}
	if (shnum > MAX_SHNUM || shstrndx >= shnum ||
	    !range_ok(eh.e_shoff, shnum * sizeof(Elf64_Shdr), src->size))
		return -EINVAL;
	err = dw_charge(src->b, shnum * sizeof(*shdrs));
	if (err)
		return err;
	shdrs = malloc(shnum * sizeof(*shdrs));
	if (!shdrs)
		return -ENOMEM;
	err = src_read(src, eh.e_shoff, shdrs, shnum * sizeof(*shdrs));
	if (err)
		goto cleanup;
	if (shdrs[shstrndx].sh_type == SHT_NOBITS || shdrs[shstrndx].sh_size > MAX_SHSTRTAB) {
		err = -EINVAL;
		goto cleanup;
	}
	err = dw_charge(src->b, shdrs[shstrndx].sh_size + 1);
	if (err)
		goto cleanup;
	shstr = malloc(shdrs[shstrndx].sh_size + 1);
	if (!shstr) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = src_read(src, shdrs[shstrndx].sh_offset, shstr, shdrs[shstrndx].sh_size);
	if (err)
		goto cleanup;
	shstr[shdrs[shstrndx].sh_size] = '\0';
	for (i = 1; i < shnum; i++) {
		const char *name;
		unsigned k;

		if (shdrs[i].sh_name >= shdrs[shstrndx].sh_size)
			continue;
		name = shstr + shdrs[i].sh_name;
		for (k = 0; k < SEC__MAX; k++)
			if (!strcmp(name, sec_names[k]))
				break;
		if (k == SEC__MAX || d->secs[k].present)
			continue;
		err = load_sec(src, &shdrs[i], &d->secs[k]);
		if (err)
			goto cleanup;
		/* Mapped sections count too: the budget bounds what may become resident. */
		d->bytes += d->secs[k].size;
		if (d->secs[k].is_mapped)
			d->mapped_bytes += d->secs[k].size;
	}
	if (!d->secs[SEC_INFO].present || !d->secs[SEC_ABBREV].present)
		err = -ENOENT;
cleanup:
	free(shdrs);
	free(shstr);
	return err;
}

/*
 * libdwarf 20210528 parses every .debug_rnglists header as soon as
 * .debug_info is loaded, and frees twice on some malformed headers (found by
 * fuzz_dwarf). Check the headers ourselves first: every unit in bounds,
 * version 5, 8-byte addresses, no segments, offset array inside the unit.
 */
static bool rnglists_ok(const struct dw_sec *s)
{
	uint64_t off = 0;

	while (off < s->size) {
		uint64_t len, hdr, cnt;
		uint16_t ver;
		unsigned lsz = 4;
		uint32_t l32;

		if (s->size - off < 4)
			return false;
		memcpy(&l32, s->data + off, 4);
		len = l32;
		if (l32 == 0xffffffffu) {
			if (s->size - off < 12)
				return false;
			memcpy(&len, s->data + off + 4, 8);
			lsz = 12;
		} else if (l32 >= 0xfffffff0u) {
			return false;
		}
		if (len > s->size - off - lsz || len < 8)
			return false;
		hdr = off + lsz;
		memcpy(&ver, s->data + hdr, 2);
		memcpy(&l32, s->data + hdr + 4, 4);
		cnt = l32;
		if (ver != 5 || s->data[hdr + 2] != 8 || s->data[hdr + 3] != 0 ||
		    cnt > (len - 8) / (lsz == 12 ? 8 : 4))
			return false;
		off = hdr + len;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* libdwarf object access                                             */

static int ia_section_info(void *obj, Dwarf_Half idx, Dwarf_Obj_Access_Section *ret, int *error)
{
	struct dwsym *d = obj;
	const struct dw_sec *s;

	(void)error;
	memset(ret, 0, sizeof(*ret));
	if (idx == 0) {
		ret->name = "";
		return DW_DLV_OK;
	}
	if (idx > d->nr_exposed)
		return DW_DLV_NO_ENTRY;
	s = &d->secs[d->sec_map[idx - 1]];
	ret->type = SHT_PROGBITS;
	ret->size = s->size;
	ret->addr = s->addr;
	ret->name = sec_names[d->sec_map[idx - 1]];
	return DW_DLV_OK;
}

static Dwarf_Endianness ia_byte_order(void *obj)
{
	(void)obj;
	return DW_OBJECT_LSB;
}

static Dwarf_Small ia_length_size(void *obj)
{
	(void)obj;
	return 4;
}

static Dwarf_Small ia_pointer_size(void *obj)
{
	(void)obj;
	return 8;
}

static Dwarf_Unsigned ia_section_count(void *obj)
{
	const struct dwsym *d = obj;

	return d->nr_exposed + 1;
}

static int ia_load_section(void *obj, Dwarf_Half idx, Dwarf_Small **data, int *error)
{
	struct dwsym *d = obj;

	(void)error;
	if (idx == 0 || idx > d->nr_exposed)
		return DW_DLV_NO_ENTRY;
	*data = d->secs[d->sec_map[idx - 1]].data;
	return DW_DLV_OK;
}

static const Dwarf_Obj_Access_Methods ia_methods = {
    .get_section_info = ia_section_info,
    .get_byte_order = ia_byte_order,
    .get_length_size = ia_length_size,
    .get_pointer_size = ia_pointer_size,
    .get_section_count = ia_section_count,
    .load_section = ia_load_section,
    .relocate_a_section = NULL,
};

/*
 * Installed so that a libdwarf path that reports an error without an error
 * pointer returns DW_DLV_ERROR instead of calling abort().
 */
static void dw_errhand(Dwarf_Error err, Dwarf_Ptr arg)
{
	(void)err;
	(void)arg;
}

static void err_drop(Dwarf_Debug dbg, Dwarf_Error *err)
{
	if (*err) {
		dwarf_dealloc_error(dbg, *err);
		*err = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Address ranges of a DIE                                            */

struct rvec {
	struct dw_range *v;
	size_t nr;
	size_t cap;
	size_t max;
	uint32_t depth;		/* given to the ranges pushed */
	struct parse_budget *b; /* charged for growth while opening, or NULL */
};

static int rvec_push(struct rvec *r, uint64_t lo, uint64_t hi, uint32_t id)
{
	struct dw_range *v;
	size_t cap;

	/* Empty ranges and the tombstones of discarded code (0, -1, -2) carry nothing. */
	if (hi <= lo || lo == 0 || hi > UINT64_MAX - 2)
		return 0;
	if (r->nr == r->cap) {
		if (r->cap >= r->max)
			return -E2BIG;
		cap = r->cap ? r->cap * 2 : 64;
		if (cap > r->max)
			cap = r->max;
		if (dw_charge(r->b, (cap - r->cap) * sizeof(*v)))
			return -EFBIG;
		v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->nr++] = (struct dw_range){.lo = lo, .hi = hi, .cu = id, .depth = r->depth};
	return 0;
}

static int ranges_dwarf4(Dwarf_Debug dbg, Dwarf_Die die, uint64_t off, uint64_t base, uint32_t id,
			 struct rvec *out)
{
	Dwarf_Ranges *rb = NULL;
	Dwarf_Signed cnt = 0, i;
	Dwarf_Unsigned bytes = 0;
	Dwarf_Off real = 0;
	Dwarf_Error err = NULL;
	int rc, ret = 0;

	rc = dwarf_get_ranges_b(dbg, off, die, &real, &rb, &cnt, &bytes, &err);
	if (rc != DW_DLV_OK) {
		err_drop(dbg, &err);
		return rc == DW_DLV_NO_ENTRY ? 0 : -EINVAL;
	}
	if (cnt > DWSYM_MAX_RANGES)
		cnt = DWSYM_MAX_RANGES;
	for (i = 0; i < cnt && !ret; i++) {
		switch (rb[i].dwr_type) {
		case DW_RANGES_ENTRY:
			ret = rvec_push(out, base + rb[i].dwr_addr1, base + rb[i].dwr_addr2, id);
			break;
		case DW_RANGES_ADDRESS_SELECTION:
			base = rb[i].dwr_addr2;
			break;
		default:
			i = cnt;
			break;
		}
	}
	dwarf_ranges_dealloc(dbg, rb, cnt);
	return ret;
}

static int ranges_dwarf5(Dwarf_Debug dbg, Dwarf_Attribute attr, Dwarf_Half form, uint64_t val,
			 uint32_t id, struct rvec *out)
{
	Dwarf_Rnglists_Head head = NULL;
	Dwarf_Unsigned cnt = 0, goff = 0, i;
	Dwarf_Error err = NULL;
	int rc, ret = 0;

	rc = dwarf_rnglists_get_rle_head(attr, form, val, &head, &cnt, &goff, &err);
	if (rc != DW_DLV_OK) {
		err_drop(dbg, &err);
		return rc == DW_DLV_NO_ENTRY ? 0 : -EINVAL;
	}
	if (cnt > DWSYM_MAX_RANGES)
		cnt = DWSYM_MAX_RANGES;
	for (i = 0; i < cnt && !ret; i++) {
		Dwarf_Unsigned raw1, raw2, c1, c2;
		Dwarf_Bool noaddr = 0;
		unsigned len, code;

		rc = dwarf_get_rnglists_entry_fields_a(head, i, &len, &code, &raw1, &raw2, &noaddr,
						       &c1, &c2, &err);
		if (rc != DW_DLV_OK) {
			err_drop(dbg, &err);
			ret = rc == DW_DLV_NO_ENTRY ? 0 : -EINVAL;
			break;
		}
		if (noaddr)
			continue;
		switch (code) {
		case DW_RLE_startx_endx:
		case DW_RLE_startx_length:
		case DW_RLE_offset_pair:
		case DW_RLE_start_end:
		case DW_RLE_start_length:
			ret = rvec_push(out, c1, c2, id);
			break;
		default:
			break;
		}
	}
	dwarf_dealloc_rnglists_head(head);
	return ret;
}

/* ------------------------------------------------------------------ */
/* DIE attributes                                                     */

struct die_attrs {
	uint64_t lo, hi;
	bool has_lo, has_hi, hi_is_off, has_ranges, is_decl;
	Dwarf_Half ranges_form;
	uint64_t ranges_val;
	const char *name, *linkage;
	uint64_t origin; /* abstract_origin or specification target, 0 = none */
	uint32_t call_file, call_line, decl_line;
	bool has_call_file;
	bool has_stmt;
	uint64_t stmt_list;
	const char *comp_dir;
};

/*
 * An unsigned attribute value. libdwarf 20210528 refuses dwarf_formudata()
 * on DW_FORM_implicit_const (gcc's DWARF 5 call_file, decl_line...), which it
 * reads as signed: take that route for non-negative values.
 */
static int attr_udata(Dwarf_Debug dbg, Dwarf_Attribute at, Dwarf_Half form, Dwarf_Unsigned *u)
{
	Dwarf_Error err = NULL;
	Dwarf_Signed sv = 0;

	if (form == DW_FORM_implicit_const || form == DW_FORM_sdata) {
		if (dwarf_formsdata(at, &sv, &err) != DW_DLV_OK || sv < 0) {
			err_drop(dbg, &err);
			return -EINVAL;
		}
		*u = (Dwarf_Unsigned)sv;
		return 0;
	}
	if (dwarf_formudata(at, u, &err) != DW_DLV_OK) {
		err_drop(dbg, &err);
		return -EINVAL;
	}
	return 0;
}

/*
 * Read what we use of @die. When @keep_ranges is set and the DIE has
 * DW_AT_ranges, that attribute is returned in *ranges_attr (caller frees).
 */
static int die_read(Dwarf_Debug dbg, Dwarf_Die die, struct die_attrs *a,
		    Dwarf_Attribute *ranges_attr)
{
	Dwarf_Attribute *list = NULL;
	Dwarf_Signed cnt = 0, i;
	Dwarf_Error err = NULL;
	int rc, ret = 0;

	memset(a, 0, sizeof(*a));
	if (ranges_attr)
		*ranges_attr = NULL;
	rc = dwarf_attrlist(die, &list, &cnt, &err);
	if (rc == DW_DLV_NO_ENTRY)
		return 0;
	if (rc != DW_DLV_OK) {
		err_drop(dbg, &err);
		return -EINVAL;
	}
	for (i = 0; i < cnt; i++) {
		Dwarf_Attribute at = list[i];
		Dwarf_Half num = 0, form = 0;
		Dwarf_Unsigned u = 0;
		Dwarf_Addr addr = 0;
		Dwarf_Off off = 0;
		char *str = NULL;
		bool keep = false;

		if (ret || dwarf_whatattr(at, &num, &err) != DW_DLV_OK ||
		    dwarf_whatform(at, &form, &err) != DW_DLV_OK) {
			err_drop(dbg, &err);
			ret = ret ? ret : -EINVAL;
			goto next;
		}
		switch (num) {
		case DW_AT_low_pc:
			if (dwarf_formaddr(at, &addr, &err) == DW_DLV_OK) {
				a->lo = addr;
				a->has_lo = true;
			}
			break;
		case DW_AT_high_pc:
			if (form == DW_FORM_addr || form == DW_FORM_addrx ||
			    form == DW_FORM_GNU_addr_index ||
			    (form >= DW_FORM_addrx1 && form <= DW_FORM_addrx4)) {
				if (dwarf_formaddr(at, &addr, &err) == DW_DLV_OK) {
					a->hi = addr;
					a->has_hi = true;
				}
			} else if (!attr_udata(dbg, at, form, &u)) {
				a->hi = u;
				a->has_hi = a->hi_is_off = true;
			}
			break;
		case DW_AT_ranges:
			if (form == DW_FORM_rnglistx) {
				if (dwarf_formudata(at, &u, &err) != DW_DLV_OK)
					break;
			} else if (dwarf_global_formref(at, &off, &err) == DW_DLV_OK) {
				u = off;
			} else if (err_drop(dbg, &err),
				   dwarf_formudata(at, &u, &err) != DW_DLV_OK) {
				break;
			}
			a->has_ranges = true;
			a->ranges_form = form;
			a->ranges_val = u;
			if (ranges_attr && !*ranges_attr) {
				*ranges_attr = at;
				keep = true;
			}
			break;
		case DW_AT_name:
			if (dwarf_formstring(at, &str, &err) == DW_DLV_OK)
				a->name = str;
			break;
		case DW_AT_linkage_name:
		case DW_AT_MIPS_linkage_name:
			if (dwarf_formstring(at, &str, &err) == DW_DLV_OK)
				a->linkage = str;
			break;
		case DW_AT_abstract_origin:
		case DW_AT_specification:
			if (dwarf_global_formref(at, &off, &err) == DW_DLV_OK && !a->origin)
				a->origin = off;
			break;
		case DW_AT_call_file:
			if (!attr_udata(dbg, at, form, &u) && u < NO_FILE) {
				a->call_file = (uint32_t)u;
				a->has_call_file = true;
			}
			break;
		case DW_AT_call_line:
			if (!attr_udata(dbg, at, form, &u))
				a->call_line = u > UINT32_MAX ? 0 : (uint32_t)u;
			break;
		case DW_AT_decl_line:
			if (!attr_udata(dbg, at, form, &u))
				a->decl_line = u > UINT32_MAX ? 0 : (uint32_t)u;
			break;
		case DW_AT_declaration:
			a->is_decl = true;
			break;
		case DW_AT_stmt_list:
			if (dwarf_global_formref(at, &off, &err) == DW_DLV_OK) {
				a->stmt_list = off;
				a->has_stmt = true;
			} else if (err_drop(dbg, &err),
				   dwarf_formudata(at, &u, &err) == DW_DLV_OK) {
				a->stmt_list = u;
				a->has_stmt = true;
			}
			break;
		case DW_AT_comp_dir:
			if (dwarf_formstring(at, &str, &err) == DW_DLV_OK)
				a->comp_dir = str;
			break;
		default:
			break;
		}
		err_drop(dbg, &err);
	next:
		if (!keep)
			dwarf_dealloc_attribute(at);
	}
	dwarf_dealloc(dbg, list, DW_DLA_LIST);
	if (ret && ranges_attr && *ranges_attr) {
		dwarf_dealloc_attribute(*ranges_attr);
		*ranges_attr = NULL;
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* Opening                                                            */

static int cmp_range(const void *a, const void *b)
{
	const struct dw_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi > y->hi ? -1 : 1;
	return x->cu < y->cu ? -1 : (x->cu > y->cu);
}

/* Index of the CU whose DIE is at @off, or -1. cus[] is sorted by die_off. */
static long cu_by_off(const struct dwsym *d, uint64_t off)
{
	size_t lo = 0, hi = d->nr_cus;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->cus[mid].die_off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < d->nr_cus && d->cus[lo].die_off == off ? (long)lo : -1;
}

/* Ranges of a CU DIE itself: low_pc/high_pc and/or DW_AT_ranges. */
static int cu_die_ranges(struct dwsym *d, Dwarf_Die die, Dwarf_Half version, uint32_t id,
			 struct rvec *out)
{
	struct die_attrs a;
	Dwarf_Attribute rattr = NULL;
	int err;

	err = die_read(d->dbg, die, &a, &rattr);
	if (err)
		return err;
	if (a.has_ranges) {
		if (version >= 5)
			err = ranges_dwarf5(d->dbg, rattr, a.ranges_form, a.ranges_val, id, out);
		else
			err =
			    ranges_dwarf4(d->dbg, die, a.ranges_val, a.has_lo ? a.lo : 0, id, out);
	} else if (a.has_lo && a.has_hi) {
		err = rvec_push(out, a.lo, a.hi_is_off ? a.lo + a.hi : a.hi, id);
	}
	if (rattr)
		dwarf_dealloc_attribute(rattr);
	return err;
}

struct arange_tmp {
	uint64_t lo;
	uint64_t hi;
	uint64_t cu_off;
};

static int cmp_arange_cu(const void *a, const void *b)
{
	const struct arange_tmp *x = a, *y = b;

	return x->cu_off < y->cu_off ? -1 : (x->cu_off > y->cu_off);
}

static bool cu_in_aranges(const struct arange_tmp *at, size_t nr, uint64_t cu_off)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (at[mid].cu_off < cu_off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nr && at[lo].cu_off == cu_off;
}

static int read_aranges(struct dwsym *d, struct arange_tmp **out, size_t *nr_out)
{
	Dwarf_Arange *ar = NULL;
	Dwarf_Signed nr = 0, i;
	Dwarf_Error err = NULL;
	struct arange_tmp *at;
	size_t n = 0;
	int rc;

	*out = NULL;
	*nr_out = 0;
	rc = dwarf_get_aranges(d->dbg, &ar, &nr, &err);
	if (rc != DW_DLV_OK) {
		/* Broken or missing aranges: the CUs' own ranges still work. */
		err_drop(d->dbg, &err);
		return 0;
	}
	at = dw_charge(d->b, (nr > 0 ? (uint64_t)nr : 1) * sizeof(*at))
		 ? NULL
		 : calloc(nr > 0 ? (size_t)nr : 1, sizeof(*at));
	for (i = 0; at && i < nr; i++) {
		Dwarf_Unsigned seg = 0, segsz = 0, len = 0;
		Dwarf_Addr start = 0;
		Dwarf_Off cuoff = 0;

		if (dwarf_get_arange_info_b(ar[i], &seg, &segsz, &start, &len, &cuoff, &err) !=
		    DW_DLV_OK) {
			err_drop(d->dbg, &err);
			continue;
		}
		if (len && start && len <= UINT64_MAX - start)
			at[n++] = (struct arange_tmp){start, start + len, cuoff};
	}
	for (i = 0; i < nr; i++)
		dwarf_dealloc(d->dbg, ar[i], DW_DLA_ARANGE);
	dwarf_dealloc(d->dbg, ar, DW_DLA_LIST);
	if (!at)
		return d->b && d->b->refused ? -EFBIG : -ENOMEM;
	if (n)
		qsort(at, n, sizeof(*at), cmp_arange_cu);
	*out = at;
	*nr_out = n;
	return 0;
}

/*
 * The range -> CU table: every compile unit is registered; its ranges come
 * from .debug_aranges when that section lists it, from its DIE otherwise
 * (clang emits no aranges by default).
 */
static int build_cu_table(struct dwsym *d)
{
	struct arange_tmp *at = NULL;
	struct rvec rv = {.max = MAX_RANGES_CU, .b = d->b};
	size_t nr_at = 0, cap = 0, i;
	Dwarf_Error err = NULL;
	int ret;

	ret = read_aranges(d, &at, &nr_at);
	if (ret)
		return ret;
	for (;;) {
		Dwarf_Unsigned hdr_len, typeoff, next;
		Dwarf_Half ver, asz, osz, ext, ut;
		Dwarf_Off abbr, die_off;
		Dwarf_Sig8 sig;
		Dwarf_Die die = NULL;
		Dwarf_Half tag;
		int rc;

		rc = dwarf_next_cu_header_d(d->dbg, true, &hdr_len, &ver, &abbr, &asz, &osz, &ext,
					    &sig, &typeoff, &next, &ut, &err);
		if (rc != DW_DLV_OK) {
			/* A broken header ends the walk; the CUs before it stay usable. */
			err_drop(d->dbg, &err);
			break;
		}
		rc = dwarf_siblingof_b(d->dbg, NULL, true, &die, &err);
		if (rc != DW_DLV_OK) {
			err_drop(d->dbg, &err);
			continue;
		}
		if (dwarf_tag(die, &tag, &err) != DW_DLV_OK || tag != DW_TAG_compile_unit ||
		    dwarf_dieoffset(die, &die_off, &err) != DW_DLV_OK) {
			err_drop(d->dbg, &err);
			dwarf_dealloc_die(die);
			continue;
		}
		if (d->nr_cus == cap) {
			struct dw_cu *v;

			if (cap >= DWSYM_MAX_CUS) {
				dwarf_dealloc_die(die);
				ret = -E2BIG;
				break;
			}
			cap = cap ? cap * 2 : 64;
			/* With what libdwarf keeps of each CU it walked. */
			if (dw_charge(d->b, (cap - d->nr_cus) * (sizeof(*v) + LIBDWARF_CU_BYTES))) {
				dwarf_dealloc_die(die);
				ret = -EFBIG;
				break;
			}
			v = realloc(d->cus, cap * sizeof(*v));
			if (!v) {
				dwarf_dealloc_die(die);
				ret = -ENOMEM;
				break;
			}
			d->cus = v;
		}
		d->cus[d->nr_cus] = (struct dw_cu){.die_off = die_off};
		if (!cu_in_aranges(at, nr_at, die_off)) {
			ret = cu_die_ranges(d, die, ver, (uint32_t)d->nr_cus, &rv);
			/* A CU with unreadable ranges just cannot be found. */
			if (ret == -EINVAL)
				ret = 0;
		}
		dwarf_dealloc_die(die);
		d->nr_cus++;
		if (ret)
			break;
	}
	for (i = 0; !ret && i < nr_at; i++) {
		long cu = cu_by_off(d, at[i].cu_off);

		if (cu >= 0)
			ret = rvec_push(&rv, at[i].lo, at[i].hi, (uint32_t)cu);
	}
	free(at);
	if (ret) {
		free(rv.v);
		return ret;
	}
	if (!d->nr_cus) {
		free(rv.v);
		return -EINVAL;
	}
	if (rv.nr)
		qsort(rv.v, rv.nr, sizeof(*rv.v), cmp_range);
	d->ranges = rv.v;
	d->nr_ranges = rv.nr;
	d->bytes += rv.cap * sizeof(*rv.v) + cap * sizeof(*d->cus);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Line program (own parser)                                          */

struct cur {
	const unsigned char *p;
	const unsigned char *end;
	bool bad;
};

static uint64_t rd_n(struct cur *c, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return 0;
	}
	for (i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

static uint64_t rd_uleb(struct cur *c)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (c->p < c->end) {
		unsigned char b = *c->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static int64_t rd_sleb(struct cur *c)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (c->p < c->end) {
		unsigned char b = *c->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~0ull << shift;
			return (int64_t)v;
		}
	}
	c->bad = true;
	return 0;
}

static const char *rd_str(struct cur *c)
{
	const unsigned char *nul;
	const char *s;

	if (c->bad)
		return NULL;
	nul = memchr(c->p, 0, (size_t)(c->end - c->p));
	if (!nul) {
		c->bad = true;
		c->p = c->end;
		return NULL;
	}
	s = (const char *)c->p;
	c->p = nul + 1;
	return s;
}

/* A NUL-terminated string at @off of section @id, or NULL. */
static const char *sec_str(const struct dwsym *d, enum sec_id id, uint64_t off)
{
	const struct dw_sec *s = &d->secs[id];

	if (!s->present || off >= s->size || !memchr(s->data + off, 0, s->size - off))
		return NULL;
	return (const char *)s->data + off;
}

struct lfile {
	const char *name;
	uint64_t dir;
};

struct row_tmp {
	uint64_t addr;
	uint32_t line;
	uint32_t file;
	uint32_t ord; /* program order: ties at one address go to the last row */
};

struct ltab {
	unsigned version;
	const char **dirs;
	uint32_t nr_dirs;
	struct lfile *files;
	uint32_t nr_files;
	struct row_tmp *rows;
	size_t nr_rows;
	size_t cap_rows;
};

static void ltab_fini(struct ltab *lt)
{
	free(lt->dirs);
	free(lt->files);
	free(lt->rows);
}

/* One value of a DWARF 5 directory/file entry; strings into *str, numbers into *num. */
static int rd_form(const struct dwsym *d, struct cur *c, uint64_t form, bool is64, const char **str,
		   uint64_t *num)
{
	*str = NULL;
	*num = 0;
	switch (form) {
	case DW_FORM_string:
		*str = rd_str(c);
		break;
	case DW_FORM_line_strp:
		*str = sec_str(d, SEC_LINE_STR, rd_n(c, is64 ? 8 : 4));
		break;
	case DW_FORM_strp:
		*str = sec_str(d, SEC_STR, rd_n(c, is64 ? 8 : 4));
		break;
	case DW_FORM_strx:
	case DW_FORM_udata:
		*num = rd_uleb(c);
		break;
	case DW_FORM_sdata:
		*num = (uint64_t)rd_sleb(c);
		break;
	case DW_FORM_data1:
	case DW_FORM_strx1:
		*num = rd_n(c, 1);
		break;
	case DW_FORM_data2:
	case DW_FORM_strx2:
		*num = rd_n(c, 2);
		break;
	case DW_FORM_strx3:
		*num = rd_n(c, 3);
		break;
	case DW_FORM_data4:
	case DW_FORM_strx4:
		*num = rd_n(c, 4);
		break;
	case DW_FORM_data8:
		*num = rd_n(c, 8);
		break;
	case DW_FORM_data16:
		rd_n(c, 8);
		rd_n(c, 8);
		break;
	case DW_FORM_block: {
		uint64_t len = rd_uleb(c);

		if (len > (uint64_t)(c->end - c->p))
			c->bad = true;
		else
			c->p += len;
		break;
	}
	default:
		return -EINVAL; /* unknown size: cannot skip it */
	}
	return c->bad ? -EINVAL : 0;
}

/* DWARF 5 directory or file table: a format description, then the entries. */
static int rd_entries5(const struct dwsym *d, struct cur *c, bool is64, bool files, struct ltab *lt)
{
	uint64_t fmt[2 * 255], nr, i;
	unsigned nr_fmt, k;
	int err;

	nr_fmt = (unsigned)rd_n(c, 1);
	for (k = 0; k < nr_fmt; k++) {
		fmt[2 * k] = rd_uleb(c);
		fmt[2 * k + 1] = rd_uleb(c);
	}
	nr = rd_uleb(c);
	if (c->bad)
		return -EINVAL;
	if (nr > DWSYM_MAX_FILES)
		return -E2BIG;
	if (files) {
		lt->files = calloc(nr ? nr : 1, sizeof(*lt->files));
		if (!lt->files)
			return -ENOMEM;
	} else {
		lt->dirs = calloc(nr ? nr : 1, sizeof(*lt->dirs));
		if (!lt->dirs)
			return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		const char *name = NULL;
		uint64_t dir = 0;

		for (k = 0; k < nr_fmt; k++) {
			const char *str;
			uint64_t num;

			err = rd_form(d, c, fmt[2 * k + 1], is64, &str, &num);
			if (err)
				return err;
			if (fmt[2 * k] == DW_LNCT_path)
				name = str;
			else if (fmt[2 * k] == DW_LNCT_directory_index)
				dir = num;
		}
		if (files)
			lt->files[i] = (struct lfile){.name = name, .dir = dir};
		else
			lt->dirs[i] = name;
	}
	if (files)
		lt->nr_files = (uint32_t)nr;
	else
		lt->nr_dirs = (uint32_t)nr;
	return 0;
}

/* DWARF 2-4: NUL-terminated lists. */
static int rd_entries4(struct cur *c, struct ltab *lt)
{
	size_t cap = 0;

	for (;;) {
		const char *s = rd_str(c);

		if (!s)
			return -EINVAL;
		if (!*s)
			break;
		if (lt->nr_dirs == cap) {
			const char **v;

			if (cap >= DWSYM_MAX_FILES)
				return -E2BIG;
			cap = cap ? cap * 2 : 16;
			v = realloc(lt->dirs, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			lt->dirs = v;
		}
		lt->dirs[lt->nr_dirs++] = s;
	}
	cap = 0;
	for (;;) {
		const char *s = rd_str(c);
		uint64_t dir;

		if (!s)
			return -EINVAL;
		if (!*s)
			break;
		dir = rd_uleb(c);
		rd_uleb(c); /* mtime */
		rd_uleb(c); /* length */
		if (c->bad)
			return -EINVAL;
		if (lt->nr_files == cap) {
			struct lfile *v;

			if (cap >= DWSYM_MAX_FILES)
				return -E2BIG;
			cap = cap ? cap * 2 : 16;
			v = realloc(lt->files, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			lt->files = v;
		}
		lt->files[lt->nr_files++] = (struct lfile){.name = s, .dir = dir};
	}
	return 0;
}

/* The file-table index a file register value names: 0-based in DWARF 5, 1-based before. */
static uint32_t file_index(const struct ltab *lt, uint64_t reg)
{
	if (lt->version < 5) {
		if (reg == 0 || reg > lt->nr_files)
			return NO_FILE;
		return (uint32_t)(reg - 1);
	}
	return reg < lt->nr_files ? (uint32_t)reg : NO_FILE;
}

static int row_push(struct ltab *lt, size_t seq_start, uint64_t addr, int64_t line, uint64_t file,
		    bool end)
{
	struct row_tmp r = {.addr = addr, .ord = (uint32_t)lt->nr_rows};

	r.line = line <= 0 ? 0 : line > UINT32_MAX ? 0 : (uint32_t)line;
	r.file = end ? ROW_END : file_index(lt, file);
	/* A row that changes neither file nor line answers nothing new. */
	if (!end && lt->nr_rows > seq_start && lt->rows[lt->nr_rows - 1].file == r.file &&
	    lt->rows[lt->nr_rows - 1].line == r.line)
		return 0;
	if (lt->nr_rows == lt->cap_rows) {
		struct row_tmp *v;
		size_t cap;

		if (lt->cap_rows >= DWSYM_MAX_ROWS_CU)
			return -E2BIG;
		cap = lt->cap_rows ? lt->cap_rows * 2 : 256;
		if (cap > DWSYM_MAX_ROWS_CU)
			cap = DWSYM_MAX_ROWS_CU;
		v = realloc(lt->rows, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		lt->rows = v;
		lt->cap_rows = cap;
	}
	r.ord = (uint32_t)lt->nr_rows;
	lt->rows[lt->nr_rows++] = r;
	return 0;
}

static int parse_lines(const struct dwsym *d, uint64_t off, struct ltab *lt)
{
	const struct dw_sec *s = &d->secs[SEC_LINE];
	struct cur c;
	const unsigned char *unit_end, *prog, *std_lens;
	uint64_t unit_len, hdr_len, addr = 0, file = 1;
	unsigned min_inst, line_range, opcode_base, addr_sz = 8;
	int line_base, err = 0;
	int64_t line = 1;
	size_t seq_start = 0;
	bool is64 = false;

	if (!s->present || off >= s->size)
		return -EINVAL;
	c = (struct cur){.p = s->data + off, .end = s->data + s->size};
	unit_len = rd_n(&c, 4);
	if (unit_len == 0xffffffffu) {
		unit_len = rd_n(&c, 8);
		is64 = true;
	} else if (unit_len >= 0xfffffff0u) {
		return -EINVAL;
	}
	if (c.bad || unit_len > (uint64_t)(c.end - c.p))
		return -EINVAL;
	unit_end = c.p + unit_len;
	c.end = unit_end;
	lt->version = (unsigned)rd_n(&c, 2);
	if (lt->version < 2 || lt->version > 5)
		return -EINVAL;
	if (lt->version >= 5) {
		addr_sz = (unsigned)rd_n(&c, 1);
		rd_n(&c, 1); /* segment selector size */
	}
	hdr_len = rd_n(&c, is64 ? 8 : 4);
	if (c.bad || hdr_len > (uint64_t)(c.end - c.p))
		return -EINVAL;
	prog = c.p + hdr_len;
	min_inst = (unsigned)rd_n(&c, 1);
	if (lt->version >= 4)
		rd_n(&c, 1); /* maximum_operations_per_instruction: VLIW only */
	rd_n(&c, 1);	     /* default_is_stmt */
	line_base = (int8_t)rd_n(&c, 1);
	line_range = (unsigned)rd_n(&c, 1);
	opcode_base = (unsigned)rd_n(&c, 1);
	if (c.bad || !line_range || !opcode_base || (size_t)(c.end - c.p) < opcode_base - 1)
		return -EINVAL;
	std_lens = c.p;
	c.p += opcode_base - 1;
	if (lt->version >= 5) {
		err = rd_entries5(d, &c, is64, false, lt);
		if (!err)
			err = rd_entries5(d, &c, is64, true, lt);
	} else {
		err = rd_entries4(&c, lt);
	}
	if (err)
		return err;
	if (prog > unit_end)
		return -EINVAL;
	c.p = prog;
	while (c.p < c.end && !c.bad && !err) {
		unsigned op = (unsigned)rd_n(&c, 1);

		if (op >= opcode_base) {
			unsigned adj = op - opcode_base;

			addr += (uint64_t)(adj / line_range) * min_inst;
			line += line_base + (int)(adj % line_range);
			err = row_push(lt, seq_start, addr, line, file, false);
			continue;
		}
		switch (op) {
		case 0: {
			uint64_t len = rd_uleb(&c);
			const unsigned char *next;
			unsigned sub;

			if (c.bad || !len || len > (uint64_t)(c.end - c.p))
				return -EINVAL;
			next = c.p + len;
			sub = (unsigned)rd_n(&c, 1);
			if (sub == DW_LNE_end_sequence) {
				err = row_push(lt, seq_start, addr, line, file, true);
				/* Code the linker discarded sits at 0 (or -1, -2): drop it. */
				if (!err && lt->nr_rows > seq_start &&
				    (lt->rows[seq_start].addr == 0 ||
				     lt->rows[seq_start].addr > UINT64_MAX - 2))
					lt->nr_rows = seq_start;
				seq_start = lt->nr_rows;
				addr = 0;
				file = 1;
				line = 1;
			} else if (sub == DW_LNE_set_address) {
				if (len - 1 == 8 || len - 1 == 4)
					addr = rd_n(&c, (unsigned)(len - 1));
				(void)addr_sz;
			}
			c.p = next;
			break;
		}
		case DW_LNS_copy:
			err = row_push(lt, seq_start, addr, line, file, false);
			break;
		case DW_LNS_advance_pc:
			addr += rd_uleb(&c) * min_inst;
			break;
		case DW_LNS_advance_line:
			line += rd_sleb(&c);
			break;
		case DW_LNS_set_file:
			file = rd_uleb(&c);
			break;
		case DW_LNS_const_add_pc:
			addr += (uint64_t)((255 - opcode_base) / line_range) * min_inst;
			break;
		case DW_LNS_fixed_advance_pc:
			addr += rd_n(&c, 2);
			break;
		default: {
			unsigned n = std_lens[op - 1];

			while (n--)
				rd_uleb(&c);
			break;
		}
		}
	}
	if (c.bad)
		return -EINVAL;
	/* An unterminated last sequence is kept only up to its last row. */
	if (!err && lt->nr_rows > seq_start &&
	    (lt->rows[seq_start].addr == 0 || lt->rows[seq_start].addr > UINT64_MAX - 2))
		lt->nr_rows = seq_start;
	return err;
}

static int cmp_row(const void *a, const void *b)
{
	const struct row_tmp *x = a, *y = b;
	bool xe = x->file == ROW_END, ye = y->file == ROW_END;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* A sequence's end and the next one's start at one address: the start wins. */
	if (xe != ye)
		return xe ? -1 : 1;
	return x->ord < y->ord ? -1 : (x->ord > y->ord);
}

/* ------------------------------------------------------------------ */
/* DIE walk                                                           */

struct origin_ent {
	uint64_t off;
	const char *name;
	const char *linkage;
	uint32_t decl_line;
};

struct walk {
	struct dwsym *d;
	const struct ltab *lt;
	unsigned version;
	uint64_t cu_base;
	struct dw_scope *scopes;
	size_t nr_scopes;
	size_t cap_scopes;
	struct rvec ranges;
	struct origin_ent *oc; /* open addressing, power-of-two size */
	size_t oc_cap;
	size_t oc_nr;
	size_t dies;
};

static size_t oc_slot(const struct walk *w, uint64_t off)
{
	uint64_t h = off * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 20) & (w->oc_cap - 1);
}

static int oc_insert(struct walk *w, const struct origin_ent *e)
{
	size_t i;

	if ((w->oc_nr + 1) * 2 > w->oc_cap) {
		struct origin_ent *old = w->oc;
		size_t old_cap = w->oc_cap, j;

		w->oc_cap = old_cap ? old_cap * 2 : 256;
		w->oc = calloc(w->oc_cap, sizeof(*w->oc));
		if (!w->oc) {
			w->oc = old;
			w->oc_cap = old_cap;
			return -ENOMEM;
		}
		for (j = 0; j < old_cap; j++) {
			if (!old[j].off)
				continue;
			for (i = oc_slot(w, old[j].off); w->oc[i].off;
			     i = (i + 1) & (w->oc_cap - 1))
				;
			w->oc[i] = old[j];
		}
		free(old);
	}
	for (i = oc_slot(w, e->off); w->oc[i].off; i = (i + 1) & (w->oc_cap - 1))
		;
	w->oc[i] = *e;
	w->oc_nr++;
	return 0;
}

static const struct origin_ent *oc_find(const struct walk *w, uint64_t off)
{
	size_t i;

	if (!w->oc_cap)
		return NULL;
	for (i = oc_slot(w, off); w->oc[i].off; i = (i + 1) & (w->oc_cap - 1))
		if (w->oc[i].off == off)
			return &w->oc[i];
	return NULL;
}

/*
 * Names and declaration line along DW_AT_abstract_origin / DW_AT_specification
 * from the DIE at @off, memoized: one inline function is inlined many times.
 */
static int resolve_origin(struct walk *w, uint64_t off, struct origin_ent *out)
{
	const struct origin_ent *hit = oc_find(w, off);
	struct origin_ent e = {.off = off};
	uint64_t cur = off;
	unsigned hops;

	if (hit) {
		*out = *hit;
		return 0;
	}
	for (hops = 0; cur && hops < MAX_NAME_HOPS; hops++) {
		Dwarf_Error err = NULL;
		Dwarf_Die die = NULL;
		struct die_attrs a;
		int rc;

		rc = dwarf_offdie_b(w->d->dbg, cur, true, &die, &err);
		if (rc != DW_DLV_OK) {
			err_drop(w->d->dbg, &err);
			break;
		}
		rc = die_read(w->d->dbg, die, &a, NULL);
		dwarf_dealloc_die(die);
		if (rc)
			break;
		if (!e.name)
			e.name = a.name;
		if (!e.linkage)
			e.linkage = a.linkage;
		if (!e.decl_line)
			e.decl_line = a.decl_line;
		if (e.linkage && e.name && e.decl_line)
			break;
		cur = a.origin == cur ? 0 : a.origin;
	}
	*out = e;
	return oc_insert(w, &e);
}

static bool descend_tag(Dwarf_Half tag)
{
	switch (tag) {
	case DW_TAG_lexical_block:
	case DW_TAG_namespace:
	case DW_TAG_module:
	case DW_TAG_try_block:
	case DW_TAG_catch_block:
		return true;
	default:
		return false;
	}
}

/* A subprogram or inlined call with code: a new scope (its index in *scope). */
static int visit_func(struct walk *w, Dwarf_Die die, Dwarf_Half tag, uint32_t parent,
		      uint32_t depth, uint32_t *scope)
{
	Dwarf_Attribute rattr = NULL;
	struct die_attrs a;
	struct dw_scope *sc;
	size_t before = w->ranges.nr;
	uint32_t id = (uint32_t)w->nr_scopes;
	int err;

	*scope = NO_SCOPE;
	err = die_read(w->d->dbg, die, &a, &rattr);
	if (err)
		return err;
	if (a.is_decl)
		goto cleanup;
	w->ranges.depth = depth;
	if (a.has_ranges) {
		if (w->version >= 5)
			err = ranges_dwarf5(w->d->dbg, rattr, a.ranges_form, a.ranges_val, id,
					    &w->ranges);
		else
			err =
			    ranges_dwarf4(w->d->dbg, die, a.ranges_val, w->cu_base, id, &w->ranges);
	} else if (a.has_lo && a.has_hi) {
		err = rvec_push(&w->ranges, a.lo, a.hi_is_off ? a.lo + a.hi : a.hi, id);
	}
	if (err || w->ranges.nr == before)
		goto cleanup; /* no code here: an abstract or discarded instance */
	if (w->nr_scopes == w->cap_scopes) {
		struct dw_scope *v;
		size_t cap;

		if (w->cap_scopes >= DWSYM_MAX_SCOPES_CU) {
			err = -E2BIG;
			goto cleanup;
		}
		cap = w->cap_scopes ? w->cap_scopes * 2 : 64;
		v = realloc(w->scopes, cap * sizeof(*v));
		if (!v) {
			err = -ENOMEM;
			goto cleanup;
		}
		w->scopes = v;
		w->cap_scopes = cap;
	}
	sc = &w->scopes[w->nr_scopes++];
	*sc = (struct dw_scope){
	    .name = a.name,
	    .linkage = a.linkage,
	    .parent = tag == DW_TAG_inlined_subroutine ? parent : NO_SCOPE,
	    .call_file = a.has_call_file ? file_index(w->lt, a.call_file) : NO_FILE,
	    .call_line = a.call_line,
	    .decl_line = a.decl_line,
	};
	if (a.origin && (!sc->name || !sc->linkage || !sc->decl_line)) {
		struct origin_ent o;

		err = resolve_origin(w, a.origin, &o);
		if (!sc->name)
			sc->name = o.name;
		if (!sc->linkage)
			sc->linkage = o.linkage;
		if (!sc->decl_line)
			sc->decl_line = o.decl_line;
	}
	*scope = id;
cleanup:
	if (rattr)
		dwarf_dealloc_attribute(rattr);
	if (err)
		w->ranges.nr = before;
	return err;
}

/* Depth-first over the CU's DIEs with an explicit, bounded stack. */
static int walk_dies(struct walk *w, Dwarf_Die cu_die)
{
	struct {
		Dwarf_Die die;
		uint32_t scope;
	} st[DWSYM_MAX_DEPTH];
	Dwarf_Debug dbg = w->d->dbg;
	Dwarf_Error err = NULL;
	Dwarf_Die child = NULL;
	int level = 0, rc, ret = 0;

	rc = dwarf_child(cu_die, &child, &err);
	if (rc == DW_DLV_NO_ENTRY)
		return 0;
	if (rc != DW_DLV_OK) {
		err_drop(dbg, &err);
		return -EINVAL;
	}
	st[0].die = child;
	st[0].scope = NO_SCOPE;
	while (level >= 0) {
		Dwarf_Die die = st[level].die;
		uint32_t child_scope = st[level].scope, sc;
		Dwarf_Half tag;
		bool descend = false;

		if (++w->dies > DWSYM_MAX_DIES_CU) {
			ret = -E2BIG;
			break;
		}
		if (dwarf_tag(die, &tag, &err) != DW_DLV_OK) {
			err_drop(dbg, &err);
			ret = -EINVAL;
			break;
		}
		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
			ret = visit_func(w, die, tag, st[level].scope, (uint32_t)level, &sc);
			if (ret)
				break;
			if (sc != NO_SCOPE) {
				child_scope = sc;
				descend = true;
			}
		} else {
			descend = descend_tag(tag);
		}
		if (descend && level + 1 < DWSYM_MAX_DEPTH) {
			rc = dwarf_child(die, &child, &err);
			if (rc == DW_DLV_OK) {
				level++;
				st[level].die = child;
				st[level].scope = child_scope;
				continue;
			}
			if (rc != DW_DLV_NO_ENTRY) {
				err_drop(dbg, &err);
				ret = -EINVAL;
				break;
			}
		}
		/* Next sibling here, or climb until a level has one. */
		for (;;) {
			Dwarf_Die sib = NULL;

			rc = dwarf_siblingof_b(dbg, st[level].die, true, &sib, &err);
			dwarf_dealloc_die(st[level].die);
			st[level].die = NULL;
			if (rc == DW_DLV_OK) {
				st[level].die = sib;
				break;
			}
			if (rc != DW_DLV_NO_ENTRY) {
				err_drop(dbg, &err);
				ret = -EINVAL;
				level--;
				break;
			}
			if (--level < 0)
				break;
		}
		if (ret)
			break;
	}
	for (; level >= 0; level--)
		if (st[level].die)
			dwarf_dealloc_die(st[level].die);
	return ret;
}

static int cmp_scope_range(const void *a, const void *b)
{
	const struct dw_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi > y->hi ? -1 : 1;
	return x->cu < y->cu ? -1 : (x->cu > y->cu);
}

static void ival_emit(struct dw_ival *iv, size_t *n, uint64_t lo, uint32_t scope)
{
	if (*n && iv[*n - 1].lo == lo) {
		iv[*n - 1].scope = scope;
		if (*n >= 2 && iv[*n - 2].scope == scope)
			(*n)--;
		return;
	}
	if (*n && iv[*n - 1].scope == scope)
		return;
	iv[(*n)++] = (struct dw_ival){.lo = lo, .scope = scope};
}

/*
 * Flatten nested scope ranges into a partition: at each breakpoint, the
 * innermost scope from there on. A child reaching past its parent (only in
 * broken files) is clipped to the parent.
 */
static int build_ivals(struct dw_range *r, size_t nr, struct dw_ival **out, size_t *nr_out)
{
	struct dw_ival *iv;
	struct {
		uint64_t hi;
		uint32_t scope;
	} * st;
	size_t n = 0, sp = 0, i;

	*out = NULL;
	*nr_out = 0;
	if (!nr)
		return 0;
	qsort(r, nr, sizeof(*r), cmp_scope_range);
	iv = malloc(2 * nr * sizeof(*iv));
	st = malloc(nr * sizeof(*st));
	if (!iv || !st) {
		free(iv);
		free(st);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		uint64_t hi = r[i].hi;

		while (sp && st[sp - 1].hi <= r[i].lo) {
			uint64_t a = st[--sp].hi;

			ival_emit(iv, &n, a, sp ? st[sp - 1].scope : NO_SCOPE);
		}
		if (sp && hi > st[sp - 1].hi)
			hi = st[sp - 1].hi;
		st[sp].hi = hi;
		st[sp].scope = r[i].cu;
		sp++;
		ival_emit(iv, &n, r[i].lo, r[i].cu);
	}
	while (sp) {
		uint64_t a = st[--sp].hi;

		ival_emit(iv, &n, a, sp ? st[sp - 1].scope : NO_SCOPE);
	}
	free(st);
	*out = iv;
	*nr_out = n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Packing a CU                                                       */

/* Append @comp to the path in @buf the way llvm's sys::path::append does. */
static void path_append(char *buf, size_t *len, const char *comp)
{
	size_t n;

	if (!comp || !*comp)
		return;
	if (*len && buf[*len - 1] != '/' && comp[0] != '/' && *len < MAX_PATH - 1)
		buf[(*len)++] = '/';
	n = strnlen(comp, MAX_PATH - 1 - *len);
	memcpy(buf + *len, comp, n);
	*len += n;
	buf[*len] = '\0';
}

/* The path llvm-symbolizer prints for file entry @i (absolute-file-path kind). */
static size_t join_path(const struct ltab *lt, const char *comp_dir, uint32_t i, char *buf)
{
	const struct lfile *f = &lt->files[i];
	const char *dir = NULL;
	size_t len = 0;

	buf[0] = '\0';
	if (!f->name)
		return 0;
	if (f->name[0] == '/') {
		path_append(buf, &len, f->name);
		return len;
	}
	if (lt->version >= 5) {
		if (f->dir < lt->nr_dirs)
			dir = lt->dirs[f->dir];
	} else if (f->dir > 0 && f->dir <= lt->nr_dirs) {
		dir = lt->dirs[f->dir - 1];
	}
	/*
	 * A relative directory is relative to the compilation directory, entry 0
	 * included: for glibc's DWARF 5 (comp_dir "./stdio-common", dir 0 the same)
	 * that reads ./stdio-common/./stdio-common/x.c. llvm-symbolizer, addr2line
	 * and eu-addr2line all print it so; matching them keeps paths comparable.
	 */
	if (comp_dir && !(dir && dir[0] == '/'))
		path_append(buf, &len, comp_dir);
	path_append(buf, &len, dir);
	path_append(buf, &len, f->name);
	return len;
}

static int cu_pack(struct walk *w, const struct ltab *lt, const char *comp_dir,
		   struct dw_cu_data **out)
{
	struct dw_ival *iv = NULL;
	struct dw_cu_data *cd = NULL;
	size_t nr_iv = 0, nr_rows = 0, pool_sz = 0, bytes, i;
	uint8_t *used = NULL;
	char path[MAX_PATH];
	char *pool;
	int err;

	err = build_ivals(w->ranges.v, w->ranges.nr, &iv, &nr_iv);
	if (err)
		return err;
	/* Sort rows, keep the last row of each address, drop rows that repeat the previous. */
	if (lt->nr_rows)
		qsort(lt->rows, lt->nr_rows, sizeof(*lt->rows), cmp_row);
	for (i = 0; i < lt->nr_rows; i++) {
		const struct row_tmp *r = &lt->rows[i];

		if (i + 1 < lt->nr_rows && lt->rows[i + 1].addr == r->addr)
			continue;
		if (nr_rows && lt->rows[nr_rows - 1].file == r->file &&
		    lt->rows[nr_rows - 1].line == r->line)
			continue;
		lt->rows[nr_rows++] = *r;
	}
	used = calloc(lt->nr_files ? lt->nr_files : 1, 1);
	if (!used) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < nr_rows; i++)
		if (lt->rows[i].file < lt->nr_files)
			used[lt->rows[i].file] = 1;
	for (i = 0; i < w->nr_scopes; i++) {
		if (w->scopes[i].call_file >= lt->nr_files)
			w->scopes[i].call_file = NO_FILE;
		else
			used[w->scopes[i].call_file] = 1;
	}
	for (i = 0; i < lt->nr_files; i++)
		if (used[i])
			pool_sz += join_path(lt, comp_dir, (uint32_t)i, path) + 1;
	bytes = sizeof(*cd) + nr_rows * sizeof(struct dw_row) +
		w->nr_scopes * sizeof(struct dw_scope) + nr_iv * sizeof(struct dw_ival) +
		lt->nr_files * sizeof(char *) + pool_sz;
	cd = calloc(1, bytes);
	if (!cd) {
		err = -ENOMEM;
		goto cleanup;
	}
	cd->bytes = bytes;
	cd->nr_rows = (uint32_t)nr_rows;
	cd->nr_scopes = (uint32_t)w->nr_scopes;
	cd->nr_ivals = (uint32_t)nr_iv;
	cd->nr_files = lt->nr_files;
	cd->rows = (struct dw_row *)(cd + 1);
	cd->scopes = (struct dw_scope *)(cd->rows + nr_rows);
	cd->ivals = (struct dw_ival *)(cd->scopes + w->nr_scopes);
	cd->files = (const char **)(cd->ivals + nr_iv);
	pool = (char *)(cd->files + lt->nr_files);
	for (i = 0; i < nr_rows; i++)
		cd->rows[i] = (struct dw_row){lt->rows[i].addr, lt->rows[i].line, lt->rows[i].file};
	if (w->nr_scopes)
		memcpy(cd->scopes, w->scopes, w->nr_scopes * sizeof(*cd->scopes));
	if (nr_iv)
		memcpy(cd->ivals, iv, nr_iv * sizeof(*iv));
	for (i = 0; i < lt->nr_files; i++) {
		size_t n;

		if (!used[i])
			continue;
		n = join_path(lt, comp_dir, (uint32_t)i, path);
		if (!n)
			continue;
		memcpy(pool, path, n + 1);
		cd->files[i] = pool;
		pool += n + 1;
	}
	*out = cd;
cleanup:
	free(iv);
	free(used);
	return err;
}

static int cu_parse(struct dwsym *d, struct dw_cu *cu, struct dw_cu_data **out)
{
	struct ltab lt = {0};
	struct walk w = {.d = d, .lt = &lt, .ranges = {.max = MAX_RANGES_CU}};
	struct die_attrs a;
	Dwarf_Error err = NULL;
	Dwarf_Die die = NULL;
	Dwarf_Half ver = 0, offsz = 0;
	int rc, ret;

	*out = NULL;
	rc = dwarf_offdie_b(d->dbg, cu->die_off, true, &die, &err);
	if (rc != DW_DLV_OK) {
		err_drop(d->dbg, &err);
		return -EINVAL;
	}
	if (dwarf_get_version_of_die(die, &ver, &offsz) != DW_DLV_OK) {
		ret = -EINVAL;
		goto cleanup;
	}
	ret = die_read(d->dbg, die, &a, NULL);
	if (ret)
		goto cleanup;
	w.version = ver;
	w.cu_base = a.has_lo ? a.lo : 0;
	if (a.has_stmt) {
		ret = parse_lines(d, a.stmt_list, &lt);
		if (ret)
			goto cleanup;
	}
	ret = walk_dies(&w, die);
	if (ret)
		goto cleanup;
	ret = cu_pack(&w, &lt, a.comp_dir, out);
cleanup:
	dwarf_dealloc_die(die);
	ltab_fini(&lt);
	free(w.scopes);
	free(w.ranges.v);
	free(w.oc);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Public                                                             */

static long find_cu(const struct dwsym *d, uint64_t vaddr)
{
	size_t lo = 0, hi = d->nr_ranges, i, n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->ranges[mid].lo <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ranges may overlap (several CUs claiming one address): look back a little. */
	for (i = lo, n = 0; i > 0 && n < 16; i--, n++)
		if (vaddr < d->ranges[i - 1].hi)
			return d->ranges[i - 1].cu;
	return -1;
}

static const char *scope_name(const struct dw_scope *s)
{
	return s->name;
}

/*
 * Footprint: the pages of a mapped file that opening or a CU parse walked
 * (every CU header, a whole line program, the DIEs) stay resident in the
 * agent although what they say is now in our own tables; a big debug build
 * (python3.11d, 24 MB) would keep ~14 MB. Drop them from our page tables:
 * the file is trusted and never written through the mapping, so a later
 * access (names borrowed from .debug_str, the next CU) faults the same bytes
 * back in from the page cache.
 */
static void map_release(const struct dwsym *d)
{
	if (d->map)
		(void)madvise(d->map, d->map_sz, MADV_DONTNEED);
}

int dwsym_lookup(struct dwsym *d, uint64_t vaddr, struct dwsym_frame *frames, size_t max)
{
	const struct dw_cu_data *cd;
	const struct dw_row *row = NULL;
	struct dw_cu *cu;
	uint32_t scope = NO_SCOPE;
	size_t lo, hi, n;
	long idx;
	int err;

	if (!d || !max)
		return 0;
	idx = find_cu(d, vaddr);
	if (idx < 0)
		return 0;
	cu = &d->cus[idx];
	if (cu->state == CU_STATE_UNPARSED) {
		struct dw_cu_data *data;

		err = cu_parse(d, cu, &data);
		if (err == -ENOMEM)
			return err; /* says nothing about the file: try again next time */
		if (err) {
			cu->state = CU_STATE_BAD;
			d->nr_bad++;
			d->bytes += LIBDWARF_CU_BYTES;
		} else {
			cu->state = CU_STATE_OK;
			cu->data = data;
			d->bytes += data->bytes + LIBDWARF_CU_BYTES;
		}
		map_release(d);
	}
	if (cu->state == CU_STATE_BAD)
		return -EINVAL;
	cd = cu->data;

	lo = 0;
	hi = cd->nr_rows;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cd->rows[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && cd->rows[lo - 1].file != ROW_END)
		row = &cd->rows[lo - 1];
	lo = 0;
	hi = cd->nr_ivals;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cd->ivals[mid].lo <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo)
		scope = cd->ivals[lo - 1].scope;
	if (!row && scope == NO_SCOPE)
		return 0;

	frames[0] = (struct dwsym_frame){
	    .file = row && row->file < cd->nr_files ? cd->files[row->file] : NULL,
	    .line = row ? row->line : 0,
	};
	if (scope != NO_SCOPE) {
		frames[0].name = scope_name(&cd->scopes[scope]);
		frames[0].linkage_name = cd->scopes[scope].linkage;
		frames[0].start_line = cd->scopes[scope].decl_line;
	}
	if (max > DWSYM_MAX_INLINE)
		max = DWSYM_MAX_INLINE;
	/* Parents always precede their children in scopes[]: this walk ends. */
	for (n = 1; scope != NO_SCOPE && n < max; n++) {
		const struct dw_scope *s = &cd->scopes[scope];
		const struct dw_scope *p;

		if (s->parent == NO_SCOPE || s->parent >= scope)
			break;
		p = &cd->scopes[s->parent];
		frames[n] = (struct dwsym_frame){
		    .name = scope_name(p),
		    .linkage_name = p->linkage,
		    .file = s->call_file < cd->nr_files ? cd->files[s->call_file] : NULL,
		    .line = s->call_line,
		    .start_line = p->decl_line,
		};
		scope = s->parent;
	}
	return (int)n;
}

static int dwsym_open_src(const struct dw_src *src, struct dwsym **out)
{
	struct dwsym *d;
	Dwarf_Error err = NULL;
	unsigned k;
	int rc, ret;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->bytes = sizeof(*d);
	d->b = src->b;
	ret = load_sections(src, d);
	if (ret)
		goto fail;
	if (d->secs[SEC_RNGLISTS].present && !rnglists_ok(&d->secs[SEC_RNGLISTS])) {
		ret = -EINVAL;
		goto fail;
	}
	for (k = 0; k < SEC__MAX; k++)
		if (d->secs[k].present)
			d->sec_map[d->nr_exposed++] = k;
	d->iface.object = d;
	d->iface.methods = &ia_methods;
	rc = dwarf_object_init_b(&d->iface, dw_errhand, NULL, DW_GROUPNUMBER_ANY, &d->dbg, &err);
	if (rc != DW_DLV_OK) {
		if (rc == DW_DLV_ERROR && err)
			dwarf_dealloc_error(NULL, err);
		d->dbg = NULL;
		ret = rc == DW_DLV_NO_ENTRY ? -ENOENT : -EINVAL;
		goto fail;
	}
	ret = build_cu_table(d);
	if (ret)
		goto fail;
	d->b = NULL;
	*out = d;
	return 0;
fail:
	dwsym_free(d);
	return ret;
}

int dwsym_open_fd(int fd, struct dwsym **out)
{
	struct parse_budget b = parse_budget_make(PARSE_BUDGET_DEFAULT);

	return dwsym_open_fd_budget(fd, &b, out);
}

int dwsym_open_fd_budget(int fd, struct parse_budget *b, struct dwsym **out)
{
	struct dw_src src = {.fd = fd, .b = b};
	struct stat st;

	*out = NULL;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	src.size = (uint64_t)st.st_size;
	return dwsym_open_src(&src, out);
}

int dwsym_open_fd_map(int fd, struct dwsym **out)
{
	struct parse_budget b = parse_budget_make(PARSE_BUDGET_DEFAULT);

	return dwsym_open_fd_map_budget(fd, &b, out);
}

int dwsym_open_fd_map_budget(int fd, struct parse_budget *b, struct dwsym **out)
{
	struct dw_src src = {.fd = -1, .is_mapped = true, .b = b};
	struct dwsym *d = NULL;
	struct stat st;
	void *map;
	int err;

	*out = NULL;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	if (!st.st_size)
		return -ENOEXEC;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return dwsym_open_fd_budget(fd, b, out); /* pread works wherever mmap does not */
	src.mem = map;
	src.size = (uint64_t)st.st_size;
	err = dwsym_open_src(&src, &d);
	if (err) {
		munmap(map, (size_t)st.st_size);
		return err;
	}
	/* Nothing needs the file's headers or code pages: only sections are read later. */
	d->map = map;
	d->map_sz = (size_t)st.st_size;
	if (!d->mapped_bytes) {
		/* Every section was compressed and inflated: the mapping serves nothing. */
		munmap(d->map, d->map_sz);
		d->map = NULL;
	}
	map_release(d);
	*out = d;
	return 0;
}

int dwsym_open_mem(const void *data, size_t len, struct dwsym **out)
{
	struct parse_budget b = parse_budget_make(PARSE_BUDGET_DEFAULT);

	return dwsym_open_mem_budget(data, len, &b, out);
}

int dwsym_open_mem_budget(const void *data, size_t len, struct parse_budget *b, struct dwsym **out)
{
	struct dw_src src = {.fd = -1, .mem = data, .size = len, .b = b};

	*out = NULL;
	if (!data || !len)
		return -ENOEXEC;
	return dwsym_open_src(&src, out);
}

void dwsym_free(struct dwsym *d)
{
	Dwarf_Error err = NULL;
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->nr_cus; i++)
		free(d->cus[i].data);
	free(d->cus);
	free(d->ranges);
	if (d->dbg && dwarf_object_finish(d->dbg, &err) == DW_DLV_ERROR && err)
		dwarf_dealloc_error(NULL, err);
	for (i = 0; i < SEC__MAX; i++)
		if (!d->secs[i].is_mapped)
			free(d->secs[i].data);
	if (d->map)
		munmap(d->map, d->map_sz);
	free(d);
}

size_t dwsym_bytes(const struct dwsym *d)
{
	return d ? d->bytes : 0;
}

size_t dwsym_mapped_bytes(const struct dwsym *d)
{
	return d ? d->mapped_bytes : 0;
}

size_t dwsym_nr_cus(const struct dwsym *d)
{
	return d ? d->nr_cus : 0;
}

size_t dwsym_nr_bad_cus(const struct dwsym *d)
{
	return d ? d->nr_bad : 0;
}

int dwsym_range(const struct dwsym *d, size_t i, uint64_t *lo, uint64_t *hi)
{
	if (!d || i >= d->nr_ranges)
		return -ENOENT;
	*lo = d->ranges[i].lo;
	*hi = d->ranges[i].hi;
	return 0;
}
