// SPDX-License-Identifier: Apache-2.0
/*
 * CPython's frames from outside the interpreter: see symbolize/python.h.
 *
 * The layouts are CPython's own structures (Include/internal/pycore_*.h and
 * Include/cpython/ headers of the version), written down as offsets: no CPython
 * header is needed to build stackd. tests/unit/test_python.c checks the 3.11
 * table against offsetof() in the installed python3.11-dev headers.
 */
#include "symbolize/python.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define STR_MAX_LEN (PY_MAX_NAME * 4) /* code points read of a name, at most */

static const struct py_layout layouts[] = {
    {
	/* 3.11: pycore_runtime.h, pycore_interp.h, cpython/pystate.h, pycore_frame.h,
	   cpython/code.h */
	.version = 0x030b0000,	   .name = "3.11",
	.runtime_interp_head = 40, .interp_next = 0,
	.interp_threads_head = 16, .tstate_next = 8,
	.tstate_native_tid = 160,  .tstate_cframe = 56,
	.cframe_current_frame = 8, .frame_code = 32,
	.frame_previous = 48,	   .frame_prev_instr = 56,
	.frame_is_entry = 68,	   .frame_owner = 69,
	.code_filename = 112,	   .code_name = 120,
	.code_qualname = 128,	   .code_linetable = 136,
	.code_firstlineno = 72,	   .code_firsttraceable = 168,
	.code_code = 184,	   .bytes_size = 16,
	.bytes_data = 32,	   .str_length = 16,
	.str_state = 32,	   .str_ascii_data = 48,
	.str_compact_data = 72,	   .frame_owned_by_generator = 1,
    },
};

/* ob_type: the same place in every object of every version. */
#define OB_TYPE 8

const struct py_layout *py_layout_find(uint32_t hexversion)
{
	size_t i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if ((hexversion & 0xffff0000u) == layouts[i].version)
			return &layouts[i];
	return NULL;
}

/* ---- the object: .dynsym, the version word ------------------------------------------------ */

struct scan {
	struct py_runtime *rt;
	uint64_t version_vaddr;
};

/* The symbols the walk needs, by name, from .dynsym. */
static void on_sym(void *ctx, const char *name, uint64_t value, uint64_t size, unsigned type)
{
	struct scan *sc = ctx;
	struct py_runtime *rt = sc->rt;

	if (!strcmp(name, "_PyRuntime"))
		rt->runtime = value;
	else if (!strcmp(name, "PyCode_Type"))
		rt->code_type = value;
	else if (!strcmp(name, "PyUnicode_Type"))
		rt->str_type = value;
	else if (!strcmp(name, "PyBytes_Type"))
		rt->bytes_type = value;
	else if (!strcmp(name, "Py_Version") && size >= 4)
		sc->version_vaddr = value;
	else if (!strcmp(name, "_PyEval_EvalFrameDefault") && type == STT_FUNC &&
		 value <= UINT64_MAX - size) {
		rt->eval_lo = value;
		rt->eval_hi = value + size;
	}
}

static int probe(const struct elfdyn_src *s, struct py_runtime *rt)
{
	struct scan sc = {.rt = rt};
	uint32_t version;
	int err;

	memset(rt, 0, sizeof(*rt));
	err = elfdyn_scan(s, &rt->elf, on_sym, &sc);
	if (err)
		return err;
	if (!rt->runtime || !rt->code_type || !sc.version_vaddr)
		return -ENOENT;
	if (elfdyn_read_vaddr(s, &rt->elf, sc.version_vaddr, &version, sizeof(version)))
		return -EINVAL;
	rt->hexversion = version;
	rt->layout = py_layout_find(version);
	return rt->layout && rt->str_type && rt->bytes_type ? 0 : -ENOTSUP;
}

int py_runtime_probe_fd(int fd, struct py_runtime *out)
{
	struct elfdyn_src s;
	int err;

	memset(out, 0, sizeof(*out));
	err = elfdyn_src_fd(fd, &s);
	return err ? err : probe(&s, out);
}

int py_runtime_probe_mem(const void *data, size_t len, struct py_runtime *out)
{
	struct elfdyn_src s = {.fd = -1, .mem = data, .size = len};

	return probe(&s, out);
}

int py_runtime_bias(const struct py_runtime *rt, uint64_t start, uint64_t offset, uint64_t *bias)
{
	return elfdyn_bias(&rt->elf, start, offset, bias);
}

void py_proc_init(struct py_proc *p, const struct py_runtime *rt, uint64_t bias)
{
	p->layout = rt->layout;
	p->runtime = rt->runtime + bias;
	p->code_type = rt->code_type + bias;
	p->str_type = rt->str_type + bias;
	p->bytes_type = rt->bytes_type + bias;
	p->eval_lo = rt->eval_lo ? rt->eval_lo + bias : 0;
	p->eval_hi = rt->eval_hi ? rt->eval_hi + bias : 0;
}

/* ---- the process: thread states and frames --------------------------------------------------- */

static int rd_u64(const struct procmem *m, uint64_t addr, uint64_t *v)
{
	if (addr > UINT64_MAX - 8)
		return -EFAULT;
	return m->read(m->ctx, addr, v, sizeof(*v));
}

int py_threads(const struct procmem *m, const struct py_proc *p, struct py_thread *out, size_t max)
{
	const struct py_layout *l = p->layout;
	uint64_t interp, ts;
	size_t n = 0, ni;
	int err;

	if (max > PY_MAX_THREADS)
		max = PY_MAX_THREADS;
	err = rd_u64(m, p->runtime + l->runtime_interp_head, &interp);
	if (err)
		return err;
	for (ni = 0; interp && ni < PY_MAX_INTERPS && n < max; ni++) {
		if (rd_u64(m, interp + l->interp_threads_head, &ts))
			break;
		while (ts && n < max) {
			out[n].tstate = ts;
			if (rd_u64(m, ts + l->tstate_native_tid, &out[n].native_tid))
				break;
			n++;
			if (rd_u64(m, ts + l->tstate_next, &ts))
				break;
		}
		if (rd_u64(m, interp + l->interp_next, &interp))
			break;
	}
	return (int)n;
}

int py_stack(const struct procmem *m, const struct py_proc *p, uint64_t tstate,
	     struct py_frame *out, size_t max)
{
	const struct py_layout *l = p->layout;
	uint64_t cframe, frame, code, prev_instr;
	uint8_t owner, is_entry;
	int32_t first_traceable;
	size_t n = 0, seen;
	int err;

	err = rd_u64(m, tstate + l->tstate_cframe, &cframe);
	if (!err)
		err = cframe ? rd_u64(m, cframe + l->cframe_current_frame, &frame) : -EINVAL;
	if (err)
		return err;
	/* A hostile chain can loop: the frames visited are capped, not only those kept. */
	for (seen = 0; frame && n < max && seen < 4 * max + 64; seen++) {
		uint64_t cur = frame;

		if (rd_u64(m, cur + l->frame_code, &code) ||
		    rd_u64(m, cur + l->frame_prev_instr, &prev_instr) ||
		    m->read(m->ctx, cur + l->frame_owner, &owner, 1) ||
		    m->read(m->ctx, cur + l->frame_is_entry, &is_entry, 1) ||
		    rd_u64(m, cur + l->frame_previous, &frame))
			break;
		if (!code || m->read(m->ctx, code + l->code_firsttraceable, &first_traceable,
				     sizeof(first_traceable)))
			break;
		if (owner != l->frame_owned_by_generator &&
		    (prev_instr < code + l->code_code ||
		     (prev_instr - (code + l->code_code)) / 2 < (uint64_t)(int64_t)first_traceable))
			continue; /* not started: _PyFrame_IsIncomplete() */
		out[n].code = code;
		out[n].lasti = prev_instr >= code + l->code_code &&
				       (prev_instr - (code + l->code_code)) / 2 <= UINT32_MAX
				   ? (uint32_t)((prev_instr - (code + l->code_code)) / 2)
				   : 0;
		out[n].is_entry = is_entry != 0;
		n++;
	}
	return (int)n;
}

/* ---- code objects ---------------------------------------------------------------------------- */

/* Append code point @c as UTF-8 to @dst (@len of @cap used); false when it does not fit. */
static bool put_utf8(char *dst, size_t cap, size_t *len, uint32_t c)
{
	unsigned char b[4];
	size_t n;

	if (c >= 0xd800 && c <= 0xdfff)
		c = 0xfffd; /* lone surrogates (surrogateescape'd bytes): the replacement character
			     */
	if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xc0 | c >> 6);
		b[1] = (unsigned char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (unsigned char)(0xe0 | c >> 12);
		b[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (c & 0x3f));
		n = 3;
	} else if (c <= 0x10ffff) {
		b[0] = (unsigned char)(0xf0 | c >> 18);
		b[1] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (c & 0x3f));
		n = 4;
	} else {
		return put_utf8(dst, cap, len, 0xfffd);
	}
	if (*len + n >= cap)
		return false;
	memcpy(dst + *len, b, n);
	*len += n;
	return true;
}

size_t py_str_utf8(const unsigned char *raw, size_t len, unsigned kind, char *dst, size_t cap)
{
	size_t i, n, out = 0;

	if (!cap)
		return 0;
	dst[0] = '\0';
	if (kind != 1 && kind != 2 && kind != 4)
		return 0;
	n = len / kind;
	for (i = 0; i < n; i++) {
		uint32_t c;

		if (kind == 1)
			c = raw[i];
		else if (kind == 2)
			c = (uint32_t)raw[2 * i] | (uint32_t)raw[2 * i + 1] << 8;
		else
			memcpy(&c, raw + 4 * i, 4);
		if (!c)
			c = 0xfffd;
		if (!put_utf8(dst, cap, &out, c))
			break;
	}
	dst[out] = '\0';
	return out;
}

/*
 * A str object (compact: every str a code object holds is) into @dst as
 * UTF-8, NUL-terminated, truncated to fit. -EINVAL when it is not a compact,
 * ready str of this runtime.
 */
static int read_str(const struct procmem *m, const struct py_proc *p, uint64_t obj, char *dst,
		    size_t cap)
{
	const struct py_layout *l = p->layout;
	unsigned char buf[STR_MAX_LEN * 4];
	uint64_t type, length, data;
	uint32_t state, kind;
	size_t n;
	int err;

	dst[0] = '\0';
	if (!obj || (err = rd_u64(m, obj + OB_TYPE, &type)))
		return obj ? err : -EINVAL;
	if (type != p->str_type)
		return -EINVAL;
	if ((err = rd_u64(m, obj + l->str_length, &length)) ||
	    (err = m->read(m->ctx, obj + l->str_state, &state, sizeof(state))))
		return err;
	kind = state >> 2 & 7;
	/* compact (bit 5) and ready (bit 7); kind 1, 2 or 4 bytes a code point */
	if (!(state & 1u << 5) || !(state & 1u << 7) || (kind != 1 && kind != 2 && kind != 4) ||
	    length > INT64_MAX)
		return -EINVAL;
	data = obj + (state & 1u << 6 ? l->str_ascii_data : l->str_compact_data);
	n = length < STR_MAX_LEN ? (size_t)length : STR_MAX_LEN;
	if (n && (err = m->read(m->ctx, data, buf, n * kind)))
		return err;
	py_str_utf8(buf, n * kind, kind, dst, cap);
	return 0;
}

int py_code_read(const struct procmem *m, const struct py_proc *p, uint64_t code,
		 struct py_code *out)
{
	const struct py_layout *l = p->layout;
	uint64_t type, qualname, filename, tab, tab_type, size;
	int32_t firstlineno;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = rd_u64(m, code + OB_TYPE, &type)))
		return err;
	if (type != p->code_type)
		return -EINVAL;
	if ((err = rd_u64(m, code + l->code_qualname, &qualname)) ||
	    (err = rd_u64(m, code + l->code_filename, &filename)) ||
	    (err = rd_u64(m, code + l->code_linetable, &tab)) ||
	    (err = m->read(m->ctx, code + l->code_firstlineno, &firstlineno, sizeof(firstlineno))))
		return err;
	/* Qualified name, else the plain name; either may be unreadable alone. */
	if (read_str(m, p, qualname, out->qualname, sizeof(out->qualname))) {
		uint64_t name;

		if (!rd_u64(m, code + l->code_name, &name))
			read_str(m, p, name, out->qualname, sizeof(out->qualname));
	}
	read_str(m, p, filename, out->filename, sizeof(out->filename));
	out->firstlineno = firstlineno;
	if (!tab || rd_u64(m, tab + OB_TYPE, &tab_type) || tab_type != p->bytes_type ||
	    rd_u64(m, tab + l->bytes_size, &size) || size > PY_MAX_LINETABLE)
		return 0; /* no lines: names alone */
	out->linetable = malloc(size ? size : 1);
	if (!out->linetable)
		return -ENOMEM;
	if (size && m->read(m->ctx, tab + l->bytes_data, out->linetable, size)) {
		free(out->linetable);
		out->linetable = NULL;
		return 0;
	}
	out->linetable_len = size;
	return 0;
}

void py_code_free(struct py_code *c)
{
	free(c->linetable);
	c->linetable = NULL;
	c->linetable_len = 0;
}

/* ---- the 3.11 location table (Objects/locations.md of CPython) ------------------------------- */

/* An unsigned varint of 6-bit chunks, low first, bit 6 meaning "more"; false at the end. */
static bool lt_varint(const unsigned char *tab, size_t len, size_t *pos, uint32_t *v)
{
	uint32_t val = 0;
	unsigned shift = 0;

	for (;;) {
		unsigned char b;

		if (*pos >= len || shift > 28)
			return false;
		b = tab[(*pos)++];
		val |= (uint32_t)(b & 63) << shift;
		shift += 6;
		if (!(b & 64))
			break;
	}
	*v = val;
	return true;
}

static bool lt_svarint(const unsigned char *tab, size_t len, size_t *pos, int32_t *v)
{
	uint32_t u;

	if (!lt_varint(tab, len, pos, &u))
		return false;
	*v = u & 1 ? -(int32_t)(u >> 1) : (int32_t)(u >> 1);
	return true;
}

int py_code_line(const unsigned char *tab, size_t len, int firstlineno, uint32_t lasti)
{
	int64_t line = firstlineno;
	uint64_t addr = 0;
	size_t pos = 0;

	while (pos < len) {
		unsigned char first = tab[pos++];
		unsigned code = first >> 3 & 15;
		uint32_t units = (first & 7) + 1, skip;
		int32_t delta = 0;
		bool has_line = true;

		if (!(first & 0x80))
			return -1; /* not at an entry's start: malformed */
		switch (code) {
		case 15: /* no location */
			has_line = false;
			break;
		case 14: /* long form: line delta, end line delta, column, end column */
			if (!lt_svarint(tab, len, &pos, &delta) ||
			    !lt_varint(tab, len, &pos, &skip) ||
			    !lt_varint(tab, len, &pos, &skip) || !lt_varint(tab, len, &pos, &skip))
				return -1;
			break;
		case 13: /* no column */
			if (!lt_svarint(tab, len, &pos, &delta))
				return -1;
			break;
		case 10:
		case 11:
		case 12: /* one line: delta code - 10, then column and end column bytes */
			delta = (int32_t)code - 10;
			if (len - pos < 2)
				return -1;
			pos += 2;
			break;
		default: /* short forms 0-9: same line, one column byte */
			if (len - pos < 1)
				return -1;
			pos += 1;
			break;
		}
		line += delta;
		if (lasti < addr + units)
			return has_line && line >= 0 && line <= INT32_MAX ? (int)line : -1;
		addr += units;
	}
	return -1;
}
