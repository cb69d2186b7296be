// SPDX-License-Identifier: Apache-2.0
/* HotSpot's code cache from outside the JVM: see symbolize/hotspot.h. */
#include "symbolize/hotspot.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define NAME_MAX_LEN  64  /* type and field names we compare are shorter */
#define ENTRY_MAX     256 /* bytes of one table entry we accept (stride) */
#define ENTRIES_CHUNK 64  /* entries read at once */
#define SEGMENT_MIN   4	  /* log2 bounds of CodeCacheSegmentSize (16 B .. 4 KiB) */
#define SEGMENT_MAX   12
#define HEAP_MAX      (4ULL << 30) /* ReservedCodeCacheSize is at most 2 GiB */

/* ---- the file: the exported description ---------------------------------------------------- */

static void on_sym(void *ctx, const char *name, uint64_t value, uint64_t size, unsigned type)
{
	static const struct {
		const char *name;
		size_t off;
	} want[] = {
	    {"gHotSpotVMStructs", offsetof(struct hs_jvm, structs)},
	    {"gHotSpotVMStructEntryArrayStride", offsetof(struct hs_jvm, struct_stride)},
	    {"gHotSpotVMStructEntryTypeNameOffset", offsetof(struct hs_jvm, struct_type)},
	    {"gHotSpotVMStructEntryFieldNameOffset", offsetof(struct hs_jvm, struct_field)},
	    {"gHotSpotVMStructEntryIsStaticOffset", offsetof(struct hs_jvm, struct_static)},
	    {"gHotSpotVMStructEntryOffsetOffset", offsetof(struct hs_jvm, struct_offset)},
	    {"gHotSpotVMStructEntryAddressOffset", offsetof(struct hs_jvm, struct_address)},
	    {"gHotSpotVMTypes", offsetof(struct hs_jvm, types)},
	    {"gHotSpotVMTypeEntryArrayStride", offsetof(struct hs_jvm, type_stride)},
	    {"gHotSpotVMTypeEntryTypeNameOffset", offsetof(struct hs_jvm, type_name)},
	    {"gHotSpotVMTypeEntrySizeOffset", offsetof(struct hs_jvm, type_size)},
	};

	(void)type;
	if (strncmp(name, "gHotSpotVM", 10) || size < 8)
		return;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strcmp(name, want[i].name))
			memcpy((char *)ctx + want[i].off, &value, sizeof(value));
}

int hs_probe_fd(int fd, struct hs_jvm *out)
{
	struct elfdyn_src s;
	int err;

	memset(out, 0, sizeof(*out));
	err = elfdyn_src_fd(fd, &s);
	if (!err)
		err = elfdyn_scan(&s, &out->elf, on_sym, out);
	if (err)
		return err;
	if (!out->structs || !out->struct_stride || !out->struct_type || !out->struct_field ||
	    !out->struct_static || !out->struct_offset || !out->struct_address || !out->types ||
	    !out->type_stride || !out->type_name || !out->type_size)
		return -ENOENT;
	return 0;
}

/* ---- the process: the tables ---------------------------------------------------------------- */

static int rd_u64(const struct procmem *m, uint64_t addr, uint64_t *v)
{
	return m->read(m->ctx, addr, v, sizeof(*v));
}

static int rd_s32(const struct procmem *m, uint64_t addr, int32_t *v)
{
	return m->read(m->ctx, addr, v, sizeof(*v));
}

/*
 * The NUL-terminated string at @addr, at most NAME_MAX_LEN - 1 bytes: 0, or
 * -ENAMETOOLONG (longer: no name we look for), -errno. Reads stop at a page
 * end first, so a short string at the end of a mapping still reads.
 */
static int rd_str(const struct procmem *m, uint64_t addr, char *buf)
{
	size_t first = 4096 - (addr & 4095), got = 0;

	if (first > NAME_MAX_LEN)
		first = NAME_MAX_LEN;
	while (got < NAME_MAX_LEN) {
		size_t n = got ? NAME_MAX_LEN - got : first;
		int err = m->read(m->ctx, addr + got, buf + got, n);

		if (err)
			return err;
		if (memchr(buf + got, '\0', n))
			return 0;
		got += n;
	}
	return -ENAMETOOLONG;
}

struct field_want {
	const char *type, *field;
	bool is_static;
	uint64_t *out;
};

/* One description table (vmStructs or vmTypes), entry by entry, until its NULL type name. */
struct table {
	uint64_t base, stride, name_off;
};

static int table_open(const struct procmem *m, uint64_t bias, uint64_t array_var,
		      uint64_t stride_var, uint64_t name_var, struct table *t)
{
	int err;

	if ((err = rd_u64(m, array_var + bias, &t->base)) ||
	    (err = rd_u64(m, stride_var + bias, &t->stride)) ||
	    (err = rd_u64(m, name_var + bias, &t->name_off)))
		return err;
	if (!t->base || t->stride < 16 || t->stride > ENTRY_MAX || t->stride % 8 ||
	    t->name_off > t->stride - 8)
		return -EINVAL;
	return 0;
}

/* The offset variable @var (one of gHotSpotVM*Offset), checked to lie in an entry. */
static int entry_off(const struct procmem *m, uint64_t bias, uint64_t var, uint64_t stride,
		     size_t size, uint64_t *off)
{
	int err = rd_u64(m, var + bias, off);

	if (err)
		return err;
	return *off <= stride - size ? 0 : -EINVAL;
}

/*
 * Entries [@i, @i + ENTRIES_CHUNK) of @t into @chunk: at once, or one by one
 * when the chunk runs past readable memory (the table's end may lie near a
 * mapping's end); what cannot be read reads as the table's end (zeros).
 */
static int read_chunk(const struct procmem *m, const struct table *t, size_t i,
		      unsigned char *chunk)
{
	int err = m->read(m->ctx, t->base + i * t->stride, chunk, ENTRIES_CHUNK * t->stride);

	if (!err)
		return 0;
	memset(chunk, 0, ENTRIES_CHUNK * t->stride);
	for (size_t k = 0; k < ENTRIES_CHUNK; k++) {
		err = m->read(m->ctx, t->base + (i + k) * t->stride, chunk + k * t->stride,
			      t->stride);
		if (err)
			return k ? 0 : err;
	}
	return 0;
}

/*
 * Call @fn for each entry of @t, read ENTRIES_CHUNK at a time, up to the entry whose name
 * pointer is NULL (the table's end): @fn returns 0 to go on, 1 to stop (0 returned), or
 * -errno. At the end: -ENOENT; no end within HS_MAX_ENTRIES: -EINVAL.
 */
static int table_walk(const struct procmem *m, const struct table *t,
		      int (*fn)(void *ctx, const unsigned char *e, uint64_t name_ptr), void *ctx)
{
	unsigned char chunk[ENTRIES_CHUNK * ENTRY_MAX];

	for (size_t i = 0; i < HS_MAX_ENTRIES; i += ENTRIES_CHUNK) {
		int err = read_chunk(m, t, i, chunk);

		if (err)
			return err;
		for (size_t k = 0; k < ENTRIES_CHUNK; k++) {
			const unsigned char *e = chunk + k * t->stride;
			uint64_t name_ptr;

			memcpy(&name_ptr, e + t->name_off, 8);
			if (!name_ptr)
				return -ENOENT;
			err = fn(ctx, e, name_ptr);
			if (err)
				return err < 0 ? err : 0;
		}
	}
	return -EINVAL;
}

struct structs_walk {
	const struct procmem *m;
	const struct field_want *want;
	size_t nr_want;
	uint64_t field_off, static_off, offset_off, address_off;
	uint64_t last_type; /* entries come grouped by type: one read of each type's name */
	bool last_match;
	uint64_t found; /* bit w: want[w] seen */
	char type[NAME_MAX_LEN], field[NAME_MAX_LEN];
};

static int structs_entry(void *ctx, const unsigned char *e, uint64_t type_ptr)
{
	struct structs_walk *sw = ctx;
	uint64_t field_ptr, value;
	int32_t is_static;

	if (type_ptr != sw->last_type) {
		sw->last_type = type_ptr;
		sw->last_match = false;
		if (rd_str(sw->m, type_ptr, sw->type))
			return 0;
		for (size_t w = 0; w < sw->nr_want; w++)
			sw->last_match |= !strcmp(sw->type, sw->want[w].type);
	}
	if (!sw->last_match)
		return 0;
	memcpy(&field_ptr, e + sw->field_off, 8);
	if (!field_ptr || rd_str(sw->m, field_ptr, sw->field))
		return 0;
	memcpy(&is_static, e + sw->static_off, 4);
	memcpy(&value, e + (is_static ? sw->address_off : sw->offset_off), 8);
	for (size_t w = 0; w < sw->nr_want; w++) {
		if (strcmp(sw->type, sw->want[w].type) || strcmp(sw->field, sw->want[w].field) ||
		    sw->want[w].is_static != (is_static != 0))
			continue;
		if (!is_static && value >= HS_MAX_OFFSET)
			return -EINVAL;
		sw->found |= 1ULL << w;
		*sw->want[w].out = value;
	}
	return 0;
}

static int read_structs(const struct procmem *m, const struct hs_jvm *j, uint64_t bias,
			const struct field_want *want, size_t nr_want)
{
	struct structs_walk sw = {.m = m, .want = want, .nr_want = nr_want};
	struct table t;
	int err;

	if (nr_want >= 64)
		return -EINVAL;
	if ((err = table_open(m, bias, j->structs, j->struct_stride, j->struct_type, &t)) ||
	    (err = entry_off(m, bias, j->struct_field, t.stride, 8, &sw.field_off)) ||
	    (err = entry_off(m, bias, j->struct_static, t.stride, 4, &sw.static_off)) ||
	    (err = entry_off(m, bias, j->struct_offset, t.stride, 8, &sw.offset_off)) ||
	    (err = entry_off(m, bias, j->struct_address, t.stride, 8, &sw.address_off)))
		return err;
	err = table_walk(m, &t, structs_entry, &sw);
	if (err != -ENOENT)
		return err ? err : -EINVAL;
	return sw.found == (1ULL << nr_want) - 1 ? 0 : -ENOENT;
}

struct type_walk {
	const struct procmem *m;
	const char *name;
	uint64_t size_off, *size;
};

static int type_entry(void *ctx, const unsigned char *e, uint64_t name_ptr)
{
	struct type_walk *tw = ctx;
	char type[NAME_MAX_LEN];

	if (rd_str(tw->m, name_ptr, type) || strcmp(type, tw->name))
		return 0;
	memcpy(tw->size, e + tw->size_off, 8);
	return 1;
}

static int read_type_size(const struct procmem *m, const struct hs_jvm *j, uint64_t bias,
			  const char *name, uint64_t *size)
{
	struct type_walk tw = {.m = m, .name = name, .size = size};
	struct table t;
	int err;

	if ((err = table_open(m, bias, j->types, j->type_stride, j->type_name, &t)) ||
	    (err = entry_off(m, bias, j->type_size, t.stride, 8, &tw.size_off)))
		return err;
	return table_walk(m, &t, type_entry, &tw);
}

static int read_heaps(const struct procmem *m, uint64_t heaps_var, uint64_t len_off,
		      uint64_t data_off, uint64_t mem_off, uint64_t segmap_off, uint64_t log2_off,
		      const uint64_t vs[3], struct hs_layout *l)
{
	uint64_t array, data, heap;
	int32_t len, log2;
	int err;

	if ((err = rd_u64(m, heaps_var, &array)) || (err = rd_s32(m, array + len_off, &len)) ||
	    (err = rd_u64(m, array + data_off, &data)))
		return err;
	if (len <= 0 || len > HS_MAX_HEAPS)
		return -EINVAL;
	for (int32_t i = 0; i < len; i++) {
		struct hs_heap *h = &l->heaps[i];

		if ((err = rd_u64(m, data + (uint64_t)i * 8, &heap)) ||
		    (err = rd_u64(m, heap + mem_off + vs[0], &h->low)) ||
		    (err = rd_u64(m, heap + mem_off + vs[1], &h->high)) ||
		    (err = rd_u64(m, heap + segmap_off + vs[2], &h->segmap)) ||
		    (err = rd_s32(m, heap + log2_off, &log2)))
			return err;
		if (h->low >= h->high || h->high - h->low > HEAP_MAX || !h->segmap ||
		    log2 < SEGMENT_MIN || log2 > SEGMENT_MAX || (i && log2 != l->log2_segment))
			return -EINVAL;
		l->log2_segment = (uint8_t)log2;
	}
	l->nr_heaps = (uint8_t)len;
	return 0;
}

int hs_layout_read(const struct procmem *m, const struct hs_jvm *jvm, uint64_t bias,
		   struct hs_layout *out)
{
	uint64_t code_begin = UINT64_MAX, code_end = UINT64_MAX, frame_size = UINT64_MAX,
		 frame_complete = UINT64_MAX, heaps = UINT64_MAX, ga_len = UINT64_MAX,
		 ga_data = UINT64_MAX, memory = UINT64_MAX, segmap = UINT64_MAX, log2 = UINT64_MAX,
		 vs_low_boundary = UINT64_MAX, vs_high_boundary = UINT64_MAX, vs_low = UINT64_MAX,
		 block = 0;
	const struct field_want want[] = {
	    {"CodeBlob", "_code_begin", false, &code_begin},
	    {"CodeBlob", "_code_end", false, &code_end},
	    {"CodeBlob", "_frame_size", false, &frame_size},
	    {"CodeBlob", "_frame_complete_offset", false, &frame_complete},
	    {"CodeCache", "_heaps", true, &heaps},
	    {"GrowableArrayBase", "_len", false, &ga_len},
	    {"GrowableArray<int>", "_data", false, &ga_data},
	    {"CodeHeap", "_memory", false, &memory},
	    {"CodeHeap", "_segmap", false, &segmap},
	    {"CodeHeap", "_log2_segment_size", false, &log2},
	    {"VirtualSpace", "_low_boundary", false, &vs_low_boundary},
	    {"VirtualSpace", "_high_boundary", false, &vs_high_boundary},
	    {"VirtualSpace", "_low", false, &vs_low},
	};
	int err;

	memset(out, 0, sizeof(*out));
	err = read_structs(m, jvm, bias, want, sizeof(want) / sizeof(want[0]));
	if (err)
		return err;
	err = read_type_size(m, jvm, bias, "HeapBlock", &block);
	if (err)
		return err;
	if (!block || block > 64)
		return -EINVAL;
	out->blob_code_begin = (uint16_t)code_begin;
	out->blob_code_end = (uint16_t)code_end;
	out->blob_frame_size = (uint16_t)frame_size;
	out->blob_frame_complete = (uint16_t)frame_complete;
	out->heapblock_size = (uint16_t)block;
	return read_heaps(m, heaps, ga_len, ga_data, memory, segmap, log2,
			  (const uint64_t[3]){vs_low_boundary, vs_high_boundary, vs_low}, out);
}

int hs_blob_find(const struct procmem *m, const struct hs_layout *l, uint64_t pc,
		 struct hs_blob *out)
{
	const struct hs_heap *h = NULL;
	uint64_t seg;
	uint8_t hop;
	int err;

	for (uint8_t i = 0; i < l->nr_heaps && i < HS_MAX_HEAPS; i++)
		if (pc >= l->heaps[i].low && pc < l->heaps[i].high)
			h = &l->heaps[i];
	if (!h)
		return -ENOENT;
	seg = (pc - h->low) >> l->log2_segment;
	for (int i = 0;; i++) {
		if (i == HS_MAX_HOPS)
			return -EINVAL;
		if ((err = m->read(m->ctx, h->segmap + seg, &hop, 1)))
			return err;
		if (hop == 0xff)
			return -ENOENT;
		if (!hop)
			break;
		if (hop > seg)
			return -EINVAL;
		seg -= hop;
	}
	memset(out, 0, sizeof(*out));
	out->addr = h->low + (seg << l->log2_segment) + l->heapblock_size;
	if ((err = rd_u64(m, out->addr + l->blob_code_begin, &out->code_begin)) ||
	    (err = rd_u64(m, out->addr + l->blob_code_end, &out->code_end)) ||
	    (err = rd_s32(m, out->addr + l->blob_frame_size, &out->frame_size)) ||
	    (err = rd_s32(m, out->addr + l->blob_frame_complete, &out->frame_complete)))
		return err;
	return pc >= out->code_begin && pc < out->code_end ? 0 : -EINVAL;
}
