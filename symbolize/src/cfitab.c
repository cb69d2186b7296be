// SPDX-License-Identifier: Apache-2.0
/*
 * The unwind table compiler: DWARF CFA programs interpreted into sorted rows.
 *
 * One walk over each section collects the CIEs (each parsed once, its
 * initial program run once) and the FDEs (range, CIE, where the program
 * is); the FDEs are sorted by start, and each program then runs once,
 * appending rows in address order, so the output needs no sort: rows are
 * merged with their predecessor when equal, and a gap row is put wherever
 * the next FDE does not start where the last one ended.
 *
 * Only the columns the walker needs are tracked: the CFA, rbp (6) and the
 * CIE's return address column; rules for other registers are parsed and
 * dropped. Expressions are kept as (offset, length) into the section and
 * matched against the few patterns the row format has a kind for.
 */
#include "symbolize/cfitab.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "unwtab.h"

#define DW_EH_PE_absptr	 0x00
#define DW_EH_PE_uleb128 0x01
#define DW_EH_PE_udata2	 0x02
#define DW_EH_PE_udata4	 0x03
#define DW_EH_PE_udata8	 0x04
#define DW_EH_PE_sleb128 0x09
#define DW_EH_PE_sdata2	 0x0a
#define DW_EH_PE_sdata4	 0x0b
#define DW_EH_PE_sdata8	 0x0c
#define DW_EH_PE_pcrel	 0x10
#define DW_EH_PE_omit	 0xff

#define REG_RBP 6
#define REG_RSP 7

/* A bounded reader; any overrun or overflow sets bad and reads zeros after. */
struct rd {
	const unsigned char *p;
	size_t pos, end;
	uint64_t vaddr; /* ELF address of p[0] */
	bool bad;
};

static uint64_t rd_fixed(struct rd *r, size_t n)
{
	uint64_t v = 0;

	if (r->bad || n > r->end - r->pos) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p + r->pos, n); /* x86-64: little endian */
	r->pos += n;
	return v;
}

static uint64_t rd_uleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char b;

	do {
		if (r->bad || r->pos == r->end) {
			r->bad = true;
			return 0;
		}
		b = r->p[r->pos++];
		/* Bits beyond 64 must be zero, or the value does not fit. */
		if (shift >= 64 ? (b & 0x7f) != 0 : shift == 63 && (b & 0x7e)) {
			r->bad = true;
			return 0;
		}
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		if (shift < 70) /* saturate: padding bytes (0x80...) stay allowed */
			shift += 7;
	} while (b & 0x80);
	return v;
}

static int64_t rd_sleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char b;

	do {
		if (r->bad || r->pos == r->end || shift >= 70) {
			r->bad = true;
			return 0;
		}
		b = r->p[r->pos++];
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (shift < 64 && (b & 0x40))
		v |= ~0ull << shift;
	return (int64_t)v;
}

/* An encoded pointer (LSB "DWARF Exception Header Encoding"): absolute and pcrel only. */
static uint64_t rd_ptr(struct rd *r, uint8_t enc)
{
	uint64_t at = r->vaddr + r->pos, v;

	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		v = rd_fixed(r, 8);
		break;
	case DW_EH_PE_uleb128:
		v = rd_uleb(r);
		break;
	case DW_EH_PE_sleb128:
		v = (uint64_t)rd_sleb(r);
		break;
	case DW_EH_PE_udata2:
		v = rd_fixed(r, 2);
		break;
	case DW_EH_PE_sdata2:
		v = (uint64_t)(int64_t)(int16_t)rd_fixed(r, 2);
		break;
	case DW_EH_PE_udata4:
		v = rd_fixed(r, 4);
		break;
	case DW_EH_PE_sdata4:
		v = (uint64_t)(int64_t)(int32_t)rd_fixed(r, 4);
		break;
	default:
		r->bad = true;
		return 0;
	}
	switch (enc & 0xf0) {
	case DW_EH_PE_absptr:
		return v;
	case DW_EH_PE_pcrel:
		return v + at;
	default: /* datarel, textrel, funcrel, aligned, indirect: not in x86-64 .eh_frame */
		r->bad = true;
		return 0;
	}
}

/* How a tracked column is recovered. */
enum how {
	H_UNSET = 0, /* no rule given (rbp: same value; return address: unusable) */
	H_SAME,
	H_UNDEF,
	H_OFFSET, /* saved at CFA + off */
	H_VAL_OFFSET,
	H_REG,
	H_EXPR,
	H_VAL_EXPR,
};

struct col {
	uint8_t how;
	int64_t off;
	size_t expr, expr_len; /* H_EXPR, H_VAL_EXPR: in the section */
};

struct cfa {
	uint8_t is_expr, is_set;
	uint64_t reg;
	int64_t off;
	size_t expr, expr_len;
};

struct state {
	struct cfa cfa;
	struct col rbp, ra;
};

struct cie {
	size_t off; /* in its section */
	bool bad;
	uint8_t fde_enc;
	bool has_z;
	uint64_t caf;
	int64_t daf;
	uint64_t ra_col;
	struct state init;
};

struct fde {
	uint64_t lo, hi; /* ELF addresses */
	uint32_t sect, cie;
	size_t prog, prog_end; /* program bytes in the section */
	uint32_t seq;	       /* walk order, for a stable sort */
};

struct build {
	const struct cfitab_sect *sects;
	size_t nr_sects;
	uint64_t lo, hi;
	uint32_t max_rows;
	struct cie *cies;
	size_t nr_cies, cap_cies;
	struct fde *fdes;
	size_t nr_fdes, cap_fdes;
	struct cfitab_row *rows;
	size_t nr_rows, cap_rows;
	uint64_t cursor; /* where the last emitted range ended */
	struct cfitab_stats st;
	int err; /* -ENOMEM or -E2BIG: fatal */
};

static void *grow(void *p, size_t *cap, size_t elem, size_t min, size_t max, int *err)
{
	size_t n = *cap ? *cap * 2 : min;
	void *np;

	if (n > max)
		n = max;
	if (n <= *cap) {
		*err = -E2BIG;
		return NULL;
	}
	np = realloc(p, n * elem);
	if (!np) {
		*err = -ENOMEM;
		return NULL;
	}
	*cap = n;
	return np;
}

/* --- the CFA program -------------------------------------------------------- */

struct interp {
	struct build *b;
	const struct cie *cie;
	const struct fde *fde; /* NULL: running the CIE's initial program */
	struct state s;
	struct state stack[CFITAB_MAX_STATE_DEPTH];
	unsigned depth;
	uint64_t loc;
};

static struct col *col_of(struct interp *in, uint64_t reg, struct col **other)
{
	*other = NULL;
	if (reg == in->cie->ra_col) {
		if (reg == REG_RBP)
			*other = &in->s.rbp;
		return &in->s.ra;
	}
	return reg == REG_RBP ? &in->s.rbp : NULL;
}

static void set_col(struct interp *in, uint64_t reg, struct col c)
{
	struct col *a, *b;

	a = col_of(in, reg, &b);
	if (a)
		*a = c;
	if (b)
		*b = c;
}

static void restore_col(struct interp *in, uint64_t reg)
{
	struct col c = {0};

	if (in->fde)
		c = reg == in->cie->ra_col ? in->cie->init.ra : in->cie->init.rbp;
	set_col(in, reg, c);
}

static bool mul_daf(int64_t v, int64_t daf, int64_t *out)
{
	return !__builtin_mul_overflow(v, daf, out);
}

static bool expr_is(const struct rd *sec, size_t at, size_t len, const unsigned char *pat,
		    size_t pat_len)
{
	return len == pat_len && !memcmp(sec->p + at, pat, len);
}

/* Whether the expression at @at is "DW_OP_breg7 (rsp) @off". */
static bool expr_rsp_plus(const struct rd *sec, size_t at, size_t len, int64_t off)
{
	struct rd r = {.p = sec->p, .pos = at + 1, .end = at + len};

	if (len < 2 || sec->p[at] != 0x77)
		return false;
	return rd_sleb(&r) == off && !r.bad && r.pos == r.end;
}

/* The row rule of state @s (see cfitab_abi.h); @sec holds its expressions. */
static unsigned int state_rule(const struct rd *sec, const struct state *s)
{
	/* DW_OP_breg7 8; DW_OP_breg16 0; lit15; and; litN; ge; lit3; shl; plus */
	static const unsigned char plt[] = {0x77, 8,	0x80, 0,    0x3f, 0x1a,
					    0,	  0x2a, 0x33, 0x24, 0x22};
	/* DW_OP_breg7 160; DW_OP_deref: the interrupted rsp in the ucontext */
	static const unsigned char sig[] = {0x77, 0xa0, 0x01, 0x06};
	const struct cfa *c = &s->cfa;
	unsigned int rbp = CFITAB_RBP_SAME;
	int64_t aux = 0;

	if (s->ra.how == H_UNDEF)
		return CFITAB_RULE(CFITAB_CFA_STOP, 0, 0, 0);
	if (c->is_expr) {
		unsigned char p[sizeof(plt)];

		if (c->expr_len == sizeof(plt)) {
			memcpy(p, sec->p + c->expr, sizeof(p));
			aux = p[6] - 0x30;
			p[6] = 0;
			if (!memcmp(p, plt, sizeof(p)) && aux >= 0 && aux < 16 &&
			    s->ra.how == H_OFFSET && s->ra.off == -8)
				return CFITAB_RULE(CFITAB_CFA_PLT, 0, aux, 8);
		}
		if (expr_is(sec, c->expr, c->expr_len, sig, sizeof(sig)) && s->ra.how == H_EXPR &&
		    expr_rsp_plus(sec, s->ra.expr, s->ra.expr_len, 168))
			return CFITAB_RULE(CFITAB_CFA_SIGNAL, 0, 0, 0);
		return CFITAB_RULE(CFITAB_CFA_UNSUP, 0, 0, 0);
	}
	if (!c->is_set || (c->reg != REG_RSP && c->reg != REG_RBP) || s->ra.how != H_OFFSET ||
	    s->ra.off != -8 || c->off < 0 || c->off % 8 || c->off > (int64_t)CFITAB_CFA_OFF_MAX)
		return CFITAB_RULE(CFITAB_CFA_UNSUP, 0, 0, 0);
	switch (s->rbp.how) {
	case H_UNSET:
	case H_SAME:
		break;
	case H_UNDEF:
		rbp = CFITAB_RBP_UNDEF;
		break;
	case H_OFFSET:
		if (s->rbp.off % 8 == 0 && s->rbp.off / 8 >= CFITAB_AUX_MIN &&
		    s->rbp.off / 8 <= CFITAB_AUX_MAX) {
			rbp = CFITAB_RBP_CFA;
			aux = s->rbp.off / 8;
			break;
		}
		/* fall through */
	default:
		rbp = CFITAB_RBP_UNSUP;
		break;
	}
	return CFITAB_RULE(c->reg == REG_RSP ? CFITAB_CFA_RSP : CFITAB_CFA_RBP, rbp, aux, c->off);
}

/*
 * Append row (pc, rule) unless it repeats the last one. emit() pushes only
 * at or after the cursor and every range it pushes is non-empty, so pcs
 * strictly increase; a row at or before the last one would be a bug here,
 * and fails the table rather than leave it unsorted.
 */
static void push_row(struct build *b, uint64_t pc, unsigned int rule)
{
	struct cfitab_row *last = b->nr_rows ? &b->rows[b->nr_rows - 1] : NULL;
	void *np;

	if (b->err || (last && last->rule == rule))
		return;
	if (last && (uint32_t)(pc - b->lo) <= last->pc) {
		b->err = -EINVAL;
		return;
	}
	if (b->nr_rows == b->cap_rows) {
		np = grow(b->rows, &b->cap_rows, sizeof(*b->rows), 1024, b->max_rows, &b->err);
		if (!np)
			return;
		b->rows = np;
	}
	b->rows[b->nr_rows++] = (struct cfitab_row){(uint32_t)(pc - b->lo), rule};
}

/* Rows for [lo, hi) under @rule, behind what is already covered. */
static bool emit(struct build *b, uint64_t lo, uint64_t hi, unsigned int rule)
{
	bool hidden = lo < b->cursor;

	if (hidden)
		lo = b->cursor;
	if (lo >= hi)
		return hidden;
	if (b->nr_rows && lo > b->cursor)
		push_row(b, b->cursor, CFITAB_RULE(CFITAB_CFA_GAP, 0, 0, 0));
	push_row(b, lo, rule);
	b->cursor = hi;
	return hidden;
}

/* Operands of one register-rule opcode; false when malformed. */
static bool op_block(struct rd *r, size_t *at, size_t *len)
{
	uint64_t n = rd_uleb(r);

	if (r->bad || n > r->end - r->pos)
		return false;
	*at = r->pos;
	*len = (size_t)n;
	r->pos += (size_t)n;
	return true;
}

/*
 * Run the program in @r. For an FDE, rows go out as the location advances
 * (and for its tail at the end); a CIE's initial program may not advance.
 * False when malformed; *@hidden when some range was behind earlier FDEs.
 */
static bool run(struct interp *in, struct rd *r, bool *hidden)
{
	const struct cie *cie = in->cie;
	const struct rd sec = {.p = r->p, .end = r->end};

	while (!r->bad && r->pos < r->end) {
		uint8_t op = r->p[r->pos++];
		uint64_t reg = op & 0x3f, delta = 0, to = 0, u;
		int64_t s;
		struct col c = {0};
		bool advance = false;

		switch (op & 0xc0) {
		case 0x40:
			delta = op & 0x3f;
			advance = true;
			break;
		case 0x80:
			u = rd_uleb(r);
			c.how = H_OFFSET;
			if (u > INT64_MAX || !mul_daf((int64_t)u, cie->daf, &c.off))
				return false;
			set_col(in, reg, c);
			continue;
		case 0xc0:
			restore_col(in, reg);
			continue;
		}
		if (!advance) {
			switch (op) {
			case 0x00: /* nop */
				break;
			case 0x01: /* set_loc */
				to = rd_ptr(r, cie->fde_enc);
				if (r->bad || !in->fde || to < in->loc)
					return false;
				advance = true;
				break;
			case 0x02:
			case 0x03:
			case 0x04:
				delta = rd_fixed(r, op == 0x02 ? 1 : op == 0x03 ? 2 : 4);
				advance = true;
				break;
			case 0x1d: /* MIPS_advance_loc8 */
				delta = rd_fixed(r, 8);
				advance = true;
				break;
			case 0x05: /* offset_extended */
			case 0x14: /* val_offset */
			case 0x2f: /* GNU_negative_offset_extended */
				reg = rd_uleb(r);
				u = rd_uleb(r);
				if (u > INT64_MAX || !mul_daf((int64_t)u, cie->daf, &c.off))
					return false;
				if (op == 0x2f)
					c.off = -c.off;
				c.how = op == 0x14 ? H_VAL_OFFSET : H_OFFSET;
				set_col(in, reg, c);
				break;
			case 0x11: /* offset_extended_sf */
			case 0x15: /* val_offset_sf */
				reg = rd_uleb(r);
				s = rd_sleb(r);
				if (!mul_daf(s, cie->daf, &c.off))
					return false;
				c.how = op == 0x15 ? H_VAL_OFFSET : H_OFFSET;
				set_col(in, reg, c);
				break;
			case 0x06: /* restore_extended */
				restore_col(in, rd_uleb(r));
				break;
			case 0x07: /* undefined */
			case 0x08: /* same_value */
				reg = rd_uleb(r);
				c.how = op == 0x07 ? H_UNDEF : H_SAME;
				set_col(in, reg, c);
				break;
			case 0x09: /* register */
				reg = rd_uleb(r);
				rd_uleb(r);
				c.how = H_REG;
				set_col(in, reg, c);
				break;
			case 0x0a: /* remember_state */
				if (in->depth == CFITAB_MAX_STATE_DEPTH)
					return false;
				in->stack[in->depth++] = in->s;
				break;
			case 0x0b: /* restore_state */
				if (!in->depth)
					return false;
				in->s = in->stack[--in->depth];
				break;
			case 0x0c: /* def_cfa */
				in->s.cfa.reg = rd_uleb(r);
				u = rd_uleb(r);
				if (u > INT64_MAX)
					return false;
				in->s.cfa = (struct cfa){
				    .is_set = 1, .reg = in->s.cfa.reg, .off = (int64_t)u};
				break;
			case 0x12: /* def_cfa_sf */
				reg = rd_uleb(r);
				s = rd_sleb(r);
				in->s.cfa = (struct cfa){.is_set = 1, .reg = reg};
				if (!mul_daf(s, cie->daf, &in->s.cfa.off))
					return false;
				break;
			case 0x0d: /* def_cfa_register: keeps the offset */
				in->s.cfa.reg = rd_uleb(r);
				in->s.cfa.is_expr = 0;
				in->s.cfa.is_set = 1;
				break;
			case 0x0e: /* def_cfa_offset: keeps the register */
				u = rd_uleb(r);
				if (u > INT64_MAX)
					return false;
				in->s.cfa.off = (int64_t)u;
				break;
			case 0x13: /* def_cfa_offset_sf */
				s = rd_sleb(r);
				if (!mul_daf(s, cie->daf, &in->s.cfa.off))
					return false;
				break;
			case 0x0f: /* def_cfa_expression */
				if (!op_block(r, &in->s.cfa.expr, &in->s.cfa.expr_len))
					return false;
				in->s.cfa.is_expr = in->s.cfa.is_set = 1;
				break;
			case 0x10: /* expression */
			case 0x16: /* val_expression */
				reg = rd_uleb(r);
				if (!op_block(r, &c.expr, &c.expr_len))
					return false;
				c.how = op == 0x10 ? H_EXPR : H_VAL_EXPR;
				set_col(in, reg, c);
				break;
			case 0x2e: /* GNU_args_size: the walker does not need it */
				rd_uleb(r);
				break;
			default: /* window_save (SPARC/AArch64) or unknown */
				return false;
			}
		}
		if (r->bad)
			return false;
		if (!advance)
			continue;
		if (!in->fde)
			return false;
		if (op != 0x01 && (__builtin_mul_overflow(delta, cie->caf, &delta) ||
				   __builtin_add_overflow(in->loc, delta, &to)))
			to = in->fde->hi;
		if (to > in->fde->hi)
			to = in->fde->hi;
		if (to > in->loc) {
			*hidden |= emit(in->b, in->loc, to, state_rule(&sec, &in->s));
			in->loc = to;
		}
		if (in->loc == in->fde->hi)
			return true; /* what follows describes no address of this FDE */
	}
	return !r->bad;
}

/* --- CIEs and FDEs ------------------------------------------------------------ */

/* Parse the CIE whose body (after the id) is [@body, @end) of @r's section. */
static void parse_cie(struct build *b, struct rd r, struct cie *cie)
{
	struct interp in = {.b = b, .cie = cie};
	const char *aug;
	size_t aug_len, aug_end = 0, i;
	uint8_t version;
	bool hidden = false;

	cie->bad = true;
	cie->fde_enc = DW_EH_PE_absptr;
	version = (uint8_t)rd_fixed(&r, 1);
	if (r.bad || (version != 1 && version != 3 && version != 4))
		return;
	aug = (const char *)r.p + r.pos;
	aug_len = strnlen(aug, r.end - r.pos);
	if (aug_len == r.end - r.pos)
		return;
	r.pos += aug_len + 1;
	if (aug_len && aug[0] != 'z')
		return; /* its data cannot be skipped ("eh" and older) */
	if (version == 4 && (rd_fixed(&r, 1) != 8 || rd_fixed(&r, 1) != 0))
		return;
	cie->caf = rd_uleb(&r);
	cie->daf = rd_sleb(&r);
	cie->ra_col = version == 1 ? rd_fixed(&r, 1) : rd_uleb(&r);
	if (aug_len) {
		uint64_t n = rd_uleb(&r);

		if (r.bad || n > r.end - r.pos)
			return;
		aug_end = r.pos + (size_t)n;
		cie->has_z = true;
	}
	/* Augmentation data is read within its 'z' length. */
	if (aug_len) {
		struct rd a = r;

		a.end = aug_end;
		for (i = 1; i < aug_len && !a.bad; i++) {
			if (aug[i] == 'R')
				cie->fde_enc = (uint8_t)rd_fixed(&a, 1);
			else if (aug[i] == 'L')
				rd_fixed(&a, 1);
			else if (aug[i] == 'P')
				rd_ptr(&a, (uint8_t)rd_fixed(&a, 1) & 0x7f); /* skipped */
			else if (aug[i] != 'S' && aug[i] != 'B')
				break; /* unknown: the rest is skipped by length */
		}
		if (a.bad)
			return;
		r.pos = aug_end;
	}
	if (r.bad)
		return;
	if (cie->fde_enc == DW_EH_PE_omit)
		return;
	if (!run(&in, &r, &hidden) || in.depth)
		return;
	cie->init = in.s;
	cie->bad = false;
}

static const struct cie *find_cie(const struct build *b, size_t first, size_t off)
{
	size_t lo = first, hi = b->nr_cies;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->cies[mid].off == off)
			return &b->cies[mid];
		if (b->cies[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Record the FDE whose body (after the CIE pointer) is [r.pos, r.end). */
static void add_fde(struct build *b, struct rd r, uint32_t sect, const struct cie *cie)
{
	uint64_t lo, len;
	void *np;

	b->st.fdes++;
	if (!cie || cie->bad) {
		b->st.fdes_bad++;
		return;
	}
	lo = rd_ptr(&r, cie->fde_enc);
	len = rd_ptr(&r, cie->fde_enc & 0x0f);
	if (cie->has_z) {
		uint64_t n = rd_uleb(&r);

		if (!r.bad && n > r.end - r.pos)
			r.bad = true;
		else
			r.pos += (size_t)n;
	}
	if (!len)
		return; /* empty: a discarded function, describes nothing */
	if (r.bad || lo < b->lo || lo >= b->hi || len > b->hi - lo) {
		b->st.fdes_bad++;
		return;
	}
	if (b->nr_fdes == b->cap_fdes) {
		np = grow(b->fdes, &b->cap_fdes, sizeof(*b->fdes), 256, CFITAB_MAX_FDES, &b->err);
		if (!np)
			return;
		b->fdes = np;
	}
	b->fdes[b->nr_fdes] = (struct fde){
	    lo, lo + len, sect, (uint32_t)(cie - b->cies), r.pos, r.end, (uint32_t)b->nr_fdes};
	b->nr_fdes++;
}

/* Walk one section's entries (.eh_frame form, up to its zero terminator). */
static void walk_sect(struct build *b, uint32_t idx)
{
	const struct cfitab_sect *s = &b->sects[idx];
	struct rd r = {.p = s->data, .end = s->len, .vaddr = s->vaddr};
	size_t first_cie = b->nr_cies;

	while (!b->err && r.pos < r.end) {
		size_t start = r.pos, end;
		uint64_t l = rd_fixed(&r, 4), id;

		if (r.bad)
			break; /* a tail shorter than a length: trailing padding */
		if (!l)
			return; /* the terminator */
		/* 64-bit lengths: no .eh_frame producer uses them; libgcc reads none either. */
		if (l >= 0xfffffff0 || l < 4 || l > r.end - r.pos) {
			b->st.sects_truncated++;
			return;
		}
		end = r.pos + (size_t)l;
		id = rd_fixed(&r, 4);
		r.end = end;
		if (!id) {
			void *np;

			b->st.cies++;
			if (b->nr_cies == b->cap_cies) {
				np = grow(b->cies, &b->cap_cies, sizeof(*b->cies), 16,
					  CFITAB_MAX_CIES, &b->err);
				if (!np)
					return;
				b->cies = np;
			}
			b->cies[b->nr_cies] = (struct cie){.off = start};
			parse_cie(b, r, &b->cies[b->nr_cies]);
			b->st.cies_bad += b->cies[b->nr_cies].bad;
			b->nr_cies++;
		} else {
			/* The pointer is back from itself to the CIE, within this section. */
			size_t at = start + 4;

			add_fde(b, r, idx, id <= at ? find_cie(b, first_cie, at - id) : NULL);
		}
		r.pos = end;
		r.end = s->len;
	}
}

static int fde_cmp(const void *a, const void *b)
{
	const struct fde *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->sect != y->sect)
		return x->sect < y->sect ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Run FDE @f's program from its CIE's initial state and emit its rows. */
static void compile_fde(struct build *b, const struct fde *f)
{
	const struct cfitab_sect *s = &b->sects[f->sect];
	struct interp in = {.b = b, .cie = &b->cies[f->cie], .fde = f, .loc = f->lo};
	struct rd r = {.p = s->data, .pos = f->prog, .end = f->prog_end, .vaddr = s->vaddr};
	const struct rd sec = {.p = s->data, .end = s->len};
	size_t rows = b->nr_rows;
	uint64_t cursor = b->cursor;
	bool hidden = false;

	in.s = in.cie->init;
	if (!run(&in, &r, &hidden)) {
		/*
		 * Malformed: none of it, its range stays a gap. Truncating puts
		 * back exactly the rows before it: push_row() never edits an
		 * earlier row, and a row it merged away was never added.
		 */
		b->nr_rows = rows;
		b->cursor = cursor;
		b->st.fdes_bad++;
		return;
	}
	if (in.loc < f->hi)
		hidden |= emit(b, in.loc, f->hi, state_rule(&sec, &in.s));
	b->st.fdes_overlap += hidden;
}

int cfitab_build(const struct cfitab_sect *sects, size_t nr, const struct cfitab_opts *opts,
		 struct cfitab **out)
{
	struct build b = {.sects = sects, .nr_sects = nr};
	struct cfitab *t = NULL;
	size_t i;
	int err = 0;

	*out = NULL;
	if (!opts || nr > CFITAB_MAX_SECTS || opts->hi <= opts->lo ||
	    opts->hi - opts->lo > UINT32_MAX)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (sects[i].len > CFITAB_MAX_SECT_BYTES)
			return -E2BIG;
	}
	b.lo = opts->lo;
	b.hi = opts->hi;
	b.cursor = b.lo;
	b.max_rows =
	    opts->max_rows && opts->max_rows < CFITAB_MAX_ROWS ? opts->max_rows : CFITAB_MAX_ROWS;
	for (i = 0; i < nr && !b.err; i++) {
		if (sects[i].data && sects[i].len)
			walk_sect(&b, (uint32_t)i);
	}
	if (b.err) {
		err = b.err;
		goto cleanup;
	}
	if (b.nr_fdes)
		qsort(b.fdes, b.nr_fdes, sizeof(*b.fdes), fde_cmp);
	for (i = 0; i < b.nr_fdes && !b.err; i++)
		compile_fde(&b, &b.fdes[i]);
	if (!b.err && b.nr_rows)
		push_row(&b, b.cursor, CFITAB_RULE(CFITAB_CFA_GAP, 0, 0, 0));
	if (b.err) {
		err = b.err;
		goto cleanup;
	}
	if (!b.nr_rows) {
		err = -ENOENT;
		goto cleanup;
	}
	t = malloc(sizeof(*t) + b.nr_rows * sizeof(*t->rows));
	if (!t) {
		err = -ENOMEM;
		goto cleanup;
	}
	t->base = b.lo;
	t->nr_rows = (uint32_t)b.nr_rows;
	t->bytes = sizeof(*t) + b.nr_rows * sizeof(*t->rows);
	memcpy(t->rows, b.rows, b.nr_rows * sizeof(*t->rows));
	for (i = 0; i < b.nr_rows; i++) {
		unsigned int rule = t->rows[i].rule, rbp = CFITAB_RULE_RBP(rule);

		b.st.rows_by_cfa[CFITAB_RULE_CFA(rule)]++;
		b.st.rows_rbp_unknown += rbp == CFITAB_RBP_UNDEF || rbp == CFITAB_RBP_UNSUP;
	}
	t->stats = b.st;
	*out = t;
cleanup:
	free(b.cies);
	free(b.fdes);
	free(b.rows);
	return err;
}

int cfitab_from_unwtab(const struct unwtab *t, uint32_t max_rows, struct cfitab **out)
{
	struct cfitab_sect s[2];
	struct cfitab_opts o = {.lo = t->image_lo, .hi = t->image_hi, .max_rows = max_rows};
	size_t n = 0;

	*out = NULL;
	if (!t->has_table)
		return -ENOENT;
	/* The copy starts up to 7 bytes early (libunwind reads aligned words). */
	if (t->eh.data && t->eh_start >= t->eh.vaddr && t->eh_start - t->eh.vaddr < t->eh.size) {
		size_t skip = (size_t)(t->eh_start - t->eh.vaddr);

		s[n++] = (struct cfitab_sect){t->eh.data + skip, t->eh.size - skip, t->eh_start};
	}
	if (t->dbg.data)
		s[n++] = (struct cfitab_sect){t->dbg.data, t->dbg.size, t->dbg.vaddr};
	return cfitab_build(s, n, &o, out);
}

const struct cfitab_row *cfitab_lookup(const struct cfitab *t, uint64_t vaddr)
{
	uint64_t rel = vaddr - t->base;
	uint32_t lo = 0, hi = t->nr_rows;

	if (vaddr < t->base || rel > UINT32_MAX || !hi || rel < t->rows[0].pc)
		return NULL;
	/* The last row with pc <= rel. */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= rel)
			lo = mid;
		else
			hi = mid;
	}
	return &t->rows[lo];
}

void cfitab_free(struct cfitab *t)
{
	free(t);
}
