// SPDX-License-Identifier: Apache-2.0
/*
 * pprof builder tests: every profile is encoded, gunzipped and unpacked with
 * protobuf-c, then checked against the rules readers enforce (google/pprof's
 * profile.CheckValid and friends). The real client, `go tool pprof`, reads the
 * result too: in CI (CI=true) a missing `go` fails the test instead of skipping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ci.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "exporter/pprof.h"
#include "common/utf8.h"
#include "profile.pb-c.h"

#define PERIOD_NS   10101010ULL /* 99 Hz */
#define TIME_NS	    1700000000123456789LL
#define DURATION_NS 10000000000LL

typedef Perftools__Profiles__Profile Profile;

static int gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	z_stream zs = {0};
	size_t cap = in_len * 4 + 1024;
	uint8_t *buf = malloc(cap), *p;
	int zerr;

	if (!buf)
		return -ENOMEM;
	/* 15 + 16: accept gzip only, so a zlib or raw stream fails the test. */
	if (inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(buf);
		return -EINVAL;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	for (;;) {
		zs.next_out = buf + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		zerr = inflate(&zs, Z_NO_FLUSH);
		if (zerr == Z_STREAM_END)
			break;
		if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
			inflateEnd(&zs);
			free(buf);
			return -EINVAL;
		}
		cap *= 2;
		p = realloc(buf, cap);
		if (!p) {
			inflateEnd(&zs);
			free(buf);
			return -ENOMEM;
		}
		buf = p;
	}
	/* Nothing may follow the gzip member. */
	assert_int_equal(zs.avail_in, 0);
	*out = buf;
	*out_len = zs.total_out;
	inflateEnd(&zs);
	return 0;
}

/* Encode with gzip, check the magic, gunzip and unpack. */
static Profile *encode_decode(const struct pprof_builder *b, uint8_t **gz_out, size_t *gz_len)
{
	uint8_t *gz = NULL, *raw = NULL, *plain = NULL;
	size_t gz_len_ = 0, raw_len = 0, plain_len = 0;
	Profile *p;

	assert_int_equal(pprof_encode(b, DURATION_NS, true, &gz, &gz_len_), 0);
	assert_non_null(gz);
	assert_true(gz_len_ > 18);
	assert_int_equal(gz[0], 0x1f);
	assert_int_equal(gz[1], 0x8b);
	assert_int_equal(gunzip(gz, gz_len_, &raw, &raw_len), 0);

	/* The uncompressed encoding is the same bytes: encoding is deterministic. */
	assert_int_equal(pprof_encode(b, DURATION_NS, false, &plain, &plain_len), 0);
	assert_int_equal(plain_len, raw_len);
	assert_memory_equal(plain, raw, raw_len);
	free(plain);

	p = perftools__profiles__profile__unpack(NULL, raw_len, raw);
	assert_non_null(p);
	free(raw);
	if (gz_out) {
		*gz_out = gz;
		*gz_len = gz_len_;
	} else {
		free(gz);
	}
	return p;
}

static const char *str(const Profile *p, int64_t i)
{
	assert_true(i >= 0 && (size_t)i < p->n_string_table);
	return p->string_table[i];
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Ids are non-zero, unique and dense: the i-th entity has id i + 1. */
#define CHECK_DENSE_IDS(arr, n)                                                                    \
	do {                                                                                       \
		for (size_t i_ = 0; i_ < (n); i_++)                                                \
			assert_int_equal((arr)[i_]->id, i_ + 1);                                   \
	} while (0)

/* The interop rules of /work/shared/reference/interop.md, checked on a decoded profile. */
static void check_valid(const Profile *p)
{
	char **sorted;
	const char *t0, *t1;
	bool offcpu, wall;

	assert_true(p->n_string_table >= 1);
	assert_string_equal(p->string_table[0], "");
	sorted = malloc(p->n_string_table * sizeof(*sorted));
	assert_non_null(sorted);
	memcpy(sorted, p->string_table, p->n_string_table * sizeof(*sorted));
	qsort(sorted, p->n_string_table, sizeof(*sorted), cmp_strp);
	for (size_t i = 1; i < p->n_string_table; i++)
		assert_string_not_equal(sorted[i - 1], sorted[i]);
	free(sorted);

	assert_int_equal(p->n_sample_type, 2);
	offcpu = strcmp(str(p, p->sample_type[0]->type), "switches") == 0;
	wall = strcmp(str(p, p->sample_type[0]->type), "events") == 0;
	t0 = offcpu ? "switches" : wall ? "events" : "samples";
	t1 = offcpu ? "offcpu" : wall ? "wall" : "cpu";
	assert_string_equal(str(p, p->sample_type[0]->type), t0);
	assert_string_equal(str(p, p->sample_type[0]->unit), "count");
	assert_string_equal(str(p, p->sample_type[1]->type), t1);
	assert_string_equal(str(p, p->sample_type[1]->unit), "nanoseconds");
	assert_non_null(p->period_type);
	assert_string_equal(str(p, p->period_type->type), t1);
	assert_string_equal(str(p, p->period_type->unit), "nanoseconds");
	assert_int_equal(p->period, offcpu ? 1 : PERIOD_NS);
	assert_int_equal(p->time_nanos, TIME_NS);
	assert_int_equal(p->duration_nanos, DURATION_NS);

	CHECK_DENSE_IDS(p->mapping, p->n_mapping);
	CHECK_DENSE_IDS(p->location, p->n_location);
	CHECK_DENSE_IDS(p->function, p->n_function);

	for (size_t i = 0; i < p->n_mapping; i++) {
		str(p, p->mapping[i]->filename);
		str(p, p->mapping[i]->build_id);
	}
	for (size_t i = 0; i < p->n_function; i++) {
		const Perftools__Profiles__Function *f = p->function[i];

		assert_true(*str(p, f->name));
		assert_true(*str(p, f->system_name));
		str(p, f->filename);
	}
	for (size_t i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];

		assert_true(l->mapping_id <= p->n_mapping);
		for (size_t j = 0; j < l->n_line; j++)
			assert_true(l->line[j]->function_id >= 1 &&
				    l->line[j]->function_id <= p->n_function);
	}
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];

		assert_int_equal(s->n_value, p->n_sample_type);
		assert_true(s->value[0] > 0);
		if (!offcpu && !wall)
			assert_int_equal(s->value[1], s->value[0] * (int64_t)PERIOD_NS);
		for (size_t j = 0; j < s->n_location_id; j++)
			assert_true(s->location_id[j] >= 1 && s->location_id[j] <= p->n_location);
		for (size_t j = 0; j < s->n_label; j++) {
			const Perftools__Profiles__Label *l = s->label[j];

			assert_true(*str(p, l->key));
			str(p, l->str);
			str(p, l->num_unit);
			/* str or num, never both. */
			if (l->str)
				assert_true(l->num == 0 && l->num_unit == 0);
			for (size_t k = 0; k < j; k++)
				assert_true(s->label[k]->key != l->key);
		}
	}
}

static const Perftools__Profiles__Label *
find_label(const Profile *p, const Perftools__Profiles__Sample *s, const char *key)
{
	for (size_t i = 0; i < s->n_label; i++)
		if (strcmp(str(p, s->label[i]->key), key) == 0)
			return s->label[i];
	return NULL;
}

/* The sample with exactly these locations and this pid label (-1: no labels). */
static const Perftools__Profiles__Sample *find_sample(const Profile *p, const uint64_t *locs,
						      size_t n, int64_t pid)
{
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
		const Perftools__Profiles__Label *l = find_label(p, s, "pid");

		if (s->n_location_id != n || memcmp(s->location_id, locs, n * sizeof(*locs)))
			continue;
		if (pid < 0 ? s->n_label == 0 : (l && l->num == pid))
			return s;
	}
	return NULL;
}

struct fixture {
	struct pprof_builder *b;
	uint64_t m_user, m_user2, m_kernel;
	uint64_t l_inline, l_main, l_kernel, l_unknown, l_compute2;
};

static void build_fixture(struct fixture *f)
{
	struct pprof_opts opts = {.period_ns = PERIOD_NS, .time_nanos = TIME_NS};
	struct pprof_mapping user = {
	    .start = 0x400000,
	    .limit = 0x500000,
	    .offset = 0x1000,
	    .filename = "/usr/bin/app",
	    .build_id = "0123456789abcdef0123456789abcdef01234567",
	    .has_functions = true,
	    .has_filenames = true,
	    .has_line_numbers = true,
	    .has_inline_frames = true,
	};
	struct pprof_mapping kernel = {
	    .start = 0xffffffff81000000ULL,
	    .limit = 0xffffffffc0000000ULL,
	    .filename = "[kernel.kallsyms]",
	    .has_functions = true,
	};
	/* Innermost first: inner_helper was inlined into compute. */
	struct pprof_line inl[] = {
	    {"inner_helper", "_Z12inner_helperv", "app.c", 10, 12},
	    {"compute", NULL, "app.c", 20, 25},
	};
	struct pprof_line mainl[] = {{"main", NULL, "app.c", 30, 35}};
	struct pprof_line kern[] = {{"do_syscall_64", NULL, NULL, 0, 0}};
	struct pprof_line unknown[] = {{NULL, NULL, NULL, 0, 0}};
	struct pprof_line compute2[] = {{"compute", NULL, "app.c", 20, 27}};
	uint64_t id;

	memset(f, 0, sizeof(*f));
	assert_int_equal(pprof_builder_new(&opts, &f->b), 0);

	assert_int_equal(pprof_add_mapping(f->b, &user, &f->m_user), 0);
	assert_int_equal(pprof_add_mapping(f->b, &kernel, &f->m_kernel), 0);
	/* Equal in every field: the same mapping. */
	assert_int_equal(pprof_add_mapping(f->b, &user, &id), 0);
	assert_int_equal(id, f->m_user);
	user.has_inline_frames = false;
	assert_int_equal(pprof_add_mapping(f->b, &user, &f->m_user2), 0);
	assert_int_not_equal(f->m_user2, f->m_user);
	user.has_inline_frames = true;

	assert_int_equal(pprof_add_location(f->b, f->m_user, 0x401234, inl, 2, &f->l_inline), 0);
	assert_int_equal(pprof_add_location(f->b, f->m_user, 0x402000, mainl, 1, &f->l_main), 0);
	assert_int_equal(
	    pprof_add_location(f->b, f->m_kernel, 0xffffffff81100010ULL, kern, 1, &f->l_kernel), 0);
	assert_int_equal(pprof_add_location(f->b, f->m_user, 0x403000, unknown, 1, &f->l_unknown),
			 0);
	/* Same (mapping, address) and lines: the same location. */
	assert_int_equal(pprof_add_location(f->b, f->m_user, 0x401234, inl, 2, &id), 0);
	assert_int_equal(id, f->l_inline);
	/* Same function key as the physical frame of l_inline: one Function. */
	assert_int_equal(pprof_add_location(f->b, f->m_user, 0x404000, compute2, 1, &f->l_compute2),
			 0);
}

/* One address, two names (a JIT's code named only once its perf map came): two locations. */
static void test_location_identity(void **state)
{
	struct pprof_opts opts = {.period_ns = 10000000};
	struct pprof_mapping jit = {.start = 0x7f0000000000ULL, .limit = 0x7f0000100000ULL};
	struct pprof_line named[] = {{"long Bakery.fold(long)", NULL, NULL, 0, 0}};
	struct pprof_line renamed[] = {{"long Bakery.knead(long)", NULL, NULL, 0, 0}};
	struct pprof_line unnamed[] = {{NULL, NULL, NULL, 0, 0}};
	struct pprof_line bad[] = {{"fold\xff\xfe(long)", NULL, "A\xc3.java", 0, 7}};
	static char longname[1024];
	struct pprof_line longbad[] = {{longname, NULL, NULL, 0, 0}};
	struct pprof_builder *b;
	uint64_t m, a, b1, c, again;

	(void)state;
	assert_int_equal(pprof_builder_new(&opts, &b), 0);
	assert_int_equal(pprof_add_mapping(b, &jit, &m), 0);
	assert_int_equal(pprof_add_location(b, m, 0x7f0000001000ULL, unnamed, 1, &a), 0);
	assert_int_equal(pprof_add_location(b, m, 0x7f0000001000ULL, named, 1, &b1), 0);
	assert_int_equal(pprof_add_location(b, m, 0x7f0000001000ULL, renamed, 1, &c), 0);
	assert_int_not_equal(a, b1);
	assert_int_not_equal(b1, c);
	assert_int_not_equal(a, c);
	assert_int_equal(pprof_add_location(b, m, 0x7f0000001000ULL, named, 1, &again), 0);
	assert_int_equal(again, b1);
	assert_int_equal(pprof_add_location(b, m, 0x7f0000001000ULL, unnamed, 1, &again), 0);
	assert_int_equal(again, a);
	/* A name stored repaired (invalid UTF-8) still finds its location: no growth. */
	assert_int_equal(pprof_add_location(b, m, 0x7f0000002000ULL, bad, 1, &c), 0);
	assert_int_equal(pprof_add_location(b, m, 0x7f0000002000ULL, bad, 1, &again), 0);
	assert_int_equal(again, c);
	/* The same for a name longer than any stack buffer (a hostile perf map's 1 KiB line). */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	longname[7] = '\xff';
	assert_int_equal(pprof_add_location(b, m, 0x7f0000003000ULL, longbad, 1, &c), 0);
	assert_int_equal(pprof_add_location(b, m, 0x7f0000003000ULL, longbad, 1, &again), 0);
	assert_int_equal(again, c);
	pprof_builder_free(b);
}

static void test_profile_rules(void **state)
{
	struct pprof_label lab_a[] = {
	    {.key = "pid", .num = 42},
	    {.key = "comm", .str = "app"},
	};
	/* Same set, other order: must merge with lab_a. */
	struct pprof_label lab_a_rev[] = {
	    {.key = "comm", .str = "app"},
	    {.key = "pid", .num = 42},
	};
	struct pprof_label lab_b[] = {
	    {.key = "pid", .num = 43},
	    {.key = "comm", .str = "app"},
	};
	struct pprof_label dup[] = {{.key = "pid", .num = 1}, {.key = "pid", .num = 2}};
	const Perftools__Profiles__Sample *s;
	const Perftools__Profiles__Location *l;
	const Perftools__Profiles__Label *lab;
	const Perftools__Profiles__Mapping *m;
	struct fixture f;
	uint64_t stack[3], short_stack[2], unk[2], bad[1];
	Profile *p;

	build_fixture(&f);
	stack[0] = f.l_kernel;
	stack[1] = f.l_inline;
	stack[2] = f.l_main;
	short_stack[0] = f.l_inline;
	short_stack[1] = f.l_main;
	unk[0] = f.l_unknown;
	unk[1] = f.l_main;

	assert_int_equal(pprof_add_sample(f.b, stack, 3, 3, lab_a, 2), 0);
	assert_int_equal(pprof_add_sample(f.b, stack, 3, 2, lab_a_rev, 2), 0);
	assert_int_equal(pprof_add_sample(f.b, short_stack, 2, 1, lab_a, 2), 0);
	assert_int_equal(pprof_add_sample(f.b, stack, 3, 1, lab_b, 2), 0);
	assert_int_equal(pprof_add_sample(f.b, unk, 2, 7, NULL, 0), 0);
	assert_int_equal(pprof_add_sample(f.b, unk, 2, 1, NULL, 0), 0);
	assert_int_equal(pprof_builder_nr_samples(f.b), 4);

	/* Rejected without side effects. */
	bad[0] = 0;
	assert_int_equal(pprof_add_sample(f.b, bad, 1, 1, NULL, 0), -EINVAL);
	bad[0] = 999;
	assert_int_equal(pprof_add_sample(f.b, bad, 1, 1, NULL, 0), -EINVAL);
	assert_int_equal(pprof_add_sample(f.b, stack, 3, 1, dup, 2), -EINVAL);
	assert_int_equal(pprof_add_sample(f.b, stack, 3, -1, NULL, 0), -EINVAL);
	assert_int_equal(pprof_add_location(f.b, 99, 0x1, NULL, 0, bad), -EINVAL);
	assert_int_equal(pprof_builder_nr_samples(f.b), 4);
	assert_true(pprof_builder_bytes(f.b) > 0);

	p = encode_decode(f.b, NULL, NULL);
	check_valid(p);

	assert_int_equal(p->n_mapping, 3);
	m = p->mapping[f.m_user - 1];
	assert_int_equal(m->memory_start, 0x400000);
	assert_int_equal(m->memory_limit, 0x500000);
	assert_int_equal(m->file_offset, 0x1000);
	assert_string_equal(str(p, m->filename), "/usr/bin/app");
	assert_string_equal(str(p, m->build_id), "0123456789abcdef0123456789abcdef01234567");
	assert_true(m->has_functions && m->has_filenames && m->has_line_numbers &&
		    m->has_inline_frames);
	assert_false(p->mapping[f.m_user2 - 1]->has_inline_frames);
	m = p->mapping[f.m_kernel - 1];
	assert_string_equal(str(p, m->filename), "[kernel.kallsyms]");
	assert_int_equal(m->build_id, 0);
	assert_false(m->has_line_numbers);

	/* inner_helper, compute, main, do_syscall_64: "compute" is shared, "other" never added. */
	assert_int_equal(p->n_function, 4);
	assert_int_equal(p->n_location, 5);

	l = p->location[f.l_inline - 1];
	assert_int_equal(l->mapping_id, f.m_user);
	assert_int_equal(l->address, 0x401234);
	assert_int_equal(l->n_line, 2);
	assert_string_equal(str(p, p->function[l->line[0]->function_id - 1]->name), "inner_helper");
	assert_string_equal(str(p, p->function[l->line[0]->function_id - 1]->system_name),
			    "_Z12inner_helperv");
	assert_int_equal(p->function[l->line[0]->function_id - 1]->start_line, 10);
	assert_int_equal(l->line[0]->line, 12);
	assert_string_equal(str(p, p->function[l->line[1]->function_id - 1]->name), "compute");
	/* NULL system_name means "same as name". */
	assert_string_equal(str(p, p->function[l->line[1]->function_id - 1]->system_name),
			    "compute");
	assert_string_equal(str(p, p->function[l->line[1]->function_id - 1]->filename), "app.c");
	assert_int_equal(l->line[1]->line, 25);
	assert_int_equal(p->location[f.l_compute2 - 1]->line[0]->function_id,
			 l->line[1]->function_id);

	l = p->location[f.l_kernel - 1];
	assert_int_equal(l->mapping_id, f.m_kernel);
	assert_int_equal(l->n_line, 1);
	assert_int_equal(p->function[l->line[0]->function_id - 1]->filename, 0);

	l = p->location[f.l_unknown - 1];
	assert_int_equal(l->n_line, 0);
	assert_int_equal(l->address, 0x403000);

	/* Merged: 3 + 2, leaf first as given. */
	s = find_sample(p, stack, 3, 42);
	assert_non_null(s);
	assert_int_equal(s->value[0], 5);
	assert_int_equal(s->value[1], 5 * (int64_t)PERIOD_NS);
	assert_int_equal(s->location_id[0], f.l_kernel);
	assert_int_equal(s->location_id[2], f.l_main);
	lab = find_label(p, s, "comm");
	assert_non_null(lab);
	assert_string_equal(str(p, lab->str), "app");
	lab = find_label(p, s, "pid");
	assert_int_equal(lab->str, 0);
	assert_int_equal(lab->num_unit, 0);

	s = find_sample(p, stack, 3, 43);
	assert_non_null(s);
	assert_int_equal(s->value[0], 1);
	s = find_sample(p, short_stack, 2, 42);
	assert_non_null(s);
	assert_int_equal(s->value[0], 1);
	s = find_sample(p, unk, 2, -1);
	assert_non_null(s);
	assert_int_equal(s->value[0], 8);

	perftools__profiles__profile__free_unpacked(p, NULL);
	pprof_builder_free(f.b);
}

static void test_empty_and_args(void **state)
{
	struct pprof_opts opts = {.period_ns = PERIOD_NS, .time_nanos = TIME_NS};
	struct pprof_opts zero = {0};
	struct pprof_builder *b = NULL;
	struct pprof_label num_unit = {.key = "alloc", .num = 4096, .num_unit = "bytes"};
	uint64_t id, loc;
	Profile *p;

	assert_int_equal(pprof_builder_new(&zero, &b), -EINVAL);
	assert_null(b);
	assert_int_equal(pprof_builder_new(NULL, &b), -EINVAL);
	pprof_builder_free(NULL);
	assert_int_equal(pprof_builder_nr_samples(NULL), 0);

	assert_int_equal(pprof_builder_new(&opts, &b), 0);
	p = encode_decode(b, NULL, NULL);
	check_valid(p);
	assert_int_equal(p->n_sample, 0);
	perftools__profiles__profile__free_unpacked(p, NULL);

	/* No mapping (id 0), no lines, a numeric label with a unit, a zero count (dropped). */
	assert_int_equal(pprof_add_location(b, 0, 0xdead, NULL, 0, &loc), 0);
	assert_int_equal(pprof_add_location(b, 0, 0xdead, NULL, 0, &id), 0);
	assert_int_equal(id, loc);
	assert_int_equal(pprof_add_sample(b, &loc, 1, 0, NULL, 0), 0);
	assert_int_equal(pprof_builder_nr_samples(b), 0);
	assert_int_equal(pprof_add_sample(b, &loc, 1, 2, &num_unit, 1), 0);
	p = encode_decode(b, NULL, NULL);
	check_valid(p);
	assert_int_equal(p->n_sample, 1);
	assert_int_equal(p->location[0]->mapping_id, 0);
	assert_int_equal(p->sample[0]->n_label, 1);
	assert_int_equal(p->sample[0]->label[0]->num, 4096);
	assert_string_equal(str(p, p->sample[0]->label[0]->num_unit), "bytes");
	perftools__profiles__profile__free_unpacked(p, NULL);
	pprof_builder_free(b);

	/* A sample without a stack is legal pprof; equal ones still merge. */
	assert_int_equal(pprof_builder_new(&opts, &b), 0);
	assert_int_equal(pprof_add_sample(b, NULL, 0, 1, NULL, 0), 0);
	assert_int_equal(pprof_add_sample(b, NULL, 0, 2, NULL, 0), 0);
	assert_int_equal(pprof_builder_nr_samples(b), 1);
	p = encode_decode(b, NULL, NULL);
	check_valid(p);
	assert_int_equal(p->sample[0]->n_location_id, 0);
	assert_int_equal(p->sample[0]->value[0], 3);
	perftools__profiles__profile__free_unpacked(p, NULL);
	pprof_builder_free(b);
}

static bool have_tool(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static const char *test_tmp(void)
{
	const char *t = getenv("STACKD_TEST_TMP");

	return t && *t ? t : "/tmp";
}

static char *read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

/* Run `go tool pprof MODE FILE` in a throwaway HOME; returns its output (caller frees). */
static char *run_pprof(const char *mode, const char *file, const char *home)
{
	char cmd[2048], out[1024];
	int status;

	snprintf(out, sizeof(out), "%s/pprof%s.out", home, mode);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && HOME='%s' PPROF_TMPDIR='%s' GOCACHE='%s/gocache' "
		 "go tool pprof %s '%s' >'%s' 2>&1",
		 home, home, home, home, mode, file, out);
	status = system(cmd);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *text = read_file(out);

		print_error("go tool pprof %s failed (status %d):\n%s\n", mode, status, text);
		free(text);
		fail();
	}
	return read_file(out);
}

/*
 * Names are the process's to choose (comm, binary paths, symbols): every string
 * of the profile is valid UTF-8 anyway, bad bytes as U+FFFD, through a freeze
 * and a merge too.
 */
static void test_invalid_utf8(void **state)
{
	struct pprof_opts opts = {.period_ns = PERIOD_NS, .time_nanos = TIME_NS};
	struct pprof_mapping pm = {
	    .start = 0x1000, .limit = 0x2000, .filename = "/tmp/\xff\xfe-bad"};
	struct pprof_line line = {
	    .function = "f\xc0\x80", .filename = "a\xed\xa0\x80.c", .line = 3};
	struct pprof_label label = {.key = "comm", .str = "\xff\xfe-bad"};
	struct pprof_builder *b = NULL, *m = NULL;
	struct pprof_frozen *f = NULL;
	uint64_t map, loc;
	bool seen = false;
	Profile *p;

	(void)state;
	assert_int_equal(pprof_builder_new(&opts, &b), 0);
	assert_int_equal(pprof_add_mapping(b, &pm, &map), 0);
	assert_int_equal(pprof_add_location(b, map, 0x1100, &line, 1, &loc), 0);
	assert_int_equal(pprof_add_sample(b, &loc, 1, 5, &label, 1), 0);
	/* The raw and the repaired name are one string, one label set, one sample. */
	label.str = "\xef\xbf\xbd\xef\xbf\xbd-bad";
	assert_int_equal(pprof_add_sample(b, &loc, 1, 2, &label, 1), 0);
	assert_int_equal(pprof_builder_nr_samples(b), 1);
	assert_int_equal(pprof_freeze(b, DURATION_NS, &f), 0);
	assert_int_equal(pprof_builder_new(&opts, &m), 0);
	assert_int_equal(pprof_merge(m, f, NULL), 0);
	for (int round = 0; round < 2; round++) {
		p = encode_decode(round ? m : b, NULL, NULL);
		check_valid(p);
		for (size_t i = 0; i < p->n_string_table; i++) {
			assert_true(utf8_is_valid(p->string_table[i], strlen(p->string_table[i])));
			seen |= !strcmp(p->string_table[i], "\xef\xbf\xbd\xef\xbf\xbd-bad");
		}
		assert_string_equal(str(p, p->function[0]->name), "f\xef\xbf\xbd\xef\xbf\xbd");
		assert_string_equal(str(p, p->mapping[0]->filename),
				    "/tmp/\xef\xbf\xbd\xef\xbf\xbd-bad");
		assert_int_equal(p->sample[0]->value[0], 7);
		perftools__profiles__profile__free_unpacked(p, NULL);
	}
	assert_true(seen);
	pprof_frozen_free(f);
	pprof_builder_free(m);
	pprof_builder_free(b);
}

static void test_go_tool_pprof(void **state)
{
	struct fixture f;
	struct pprof_label labels[] = {
	    {.key = "pid", .num = 42},
	    {.key = "comm", .str = "app"},
	};
	uint64_t stack[3];
	char path[1024], home[1024], cmd[1100], *text, *a, *c, *k, *mn;
	uint8_t *gz = NULL;
	size_t gz_len;
	FILE *fp;
	Profile *p;

	if (!have_tool("go"))
		skip_or_fail("`go` not on PATH; `go tool pprof` check not run");

	build_fixture(&f);
	stack[0] = f.l_kernel;
	stack[1] = f.l_inline;
	stack[2] = f.l_main;
	assert_int_equal(pprof_add_sample(f.b, stack, 3, 5, labels, 2), 0);
	stack[0] = f.l_unknown;
	assert_int_equal(pprof_add_sample(f.b, stack, 3, 2, NULL, 0), 0);
	p = encode_decode(f.b, &gz, &gz_len);
	check_valid(p);
	perftools__profiles__profile__free_unpacked(p, NULL);

	snprintf(path, sizeof(path), "%s/test_pprof.pb.gz", test_tmp());
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(gz, 1, gz_len, fp), gz_len);
	assert_int_equal(fclose(fp), 0);
	free(gz);

	snprintf(home, sizeof(home), "%s/pprof-home-XXXXXX", test_tmp());
	assert_non_null(mkdtemp(home));

	text = run_pprof("-raw", path, home);
	assert_non_null(strstr(text, "inner_helper"));
	assert_non_null(strstr(text, "compute"));
	assert_non_null(strstr(text, "main"));
	assert_non_null(strstr(text, "do_syscall_64"));
	assert_non_null(strstr(text, "[kernel.kallsyms]"));
	assert_non_null(strstr(text, "/usr/bin/app"));
	free(text);

	/* -traces prints each stack leaf first: the order pprof readers will show. */
	text = run_pprof("-traces", path, home);
	k = strstr(text, "do_syscall_64");
	a = strstr(text, "inner_helper");
	c = strstr(text, "compute");
	mn = strstr(text, "main");
	assert_true(k && a && c && mn);
	assert_true(k < a && a < c && c < mn);
	/* Labels print as "comm:  app" (older pprof) or "comm:[app]": match key and value. */
	k = strstr(text, "comm:");
	assert_non_null(k);
	assert_non_null(strstr(k, "app"));
	k = strstr(text, "pid:");
	assert_non_null(k);
	assert_non_null(strstr(k, "42"));
	free(text);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	assert_int_equal(system(cmd), 0);
	pprof_builder_free(f.b);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define SYN_FUNCS  5000
#define SYN_LOCS   20000
#define SYN_STACKS 10000
#define SYN_RUNS   7

/*
 * A synthetic 10,000-distinct-stack profile at a realistic shape: C++-ish names,
 * a fifth of locations with an inlined frame, stacks 8-40 deep, 16 processes.
 * Encode time is printed, not asserted: timings are figures, not tests.
 */
static void test_synthetic_10k(void **state)
{
	struct pprof_opts opts = {.period_ns = PERIOD_NS, .time_nanos = TIME_NS};
	struct pprof_mapping m = {.start = 0x400000, .limit = 0x7fffffff, .has_functions = true};
	char names[2][128], sys[2][128], file[2][64], comm[16];
	struct pprof_label labels[2];
	struct pprof_line lines[2];
	struct pprof_builder *b = NULL;
	double times[SYN_RUNS], t0, build_ms;
	uint64_t *locs, stack[40], mid[2], id;
	uint8_t *gz = NULL;
	size_t gz_len = 0, raw_len = 0;
	uint8_t *raw = NULL;
	Profile *p;
	int err;

	locs = calloc(SYN_LOCS, sizeof(*locs));
	assert_non_null(locs);
	t0 = now_ms();
	assert_int_equal(pprof_builder_new(&opts, &b), 0);
	m.filename = "/usr/lib/libapp.so";
	m.build_id = "feedfacecafebeef";
	assert_int_equal(pprof_add_mapping(b, &m, &mid[0]), 0);
	m.start = 0xffffffff81000000ULL;
	m.limit = 0xffffffffc0000000ULL;
	m.filename = "[kernel.kallsyms]";
	m.build_id = NULL;
	assert_int_equal(pprof_add_mapping(b, &m, &mid[1]), 0);

	for (size_t i = 0; i < SYN_LOCS; i++) {
		size_t nl = (i % 5 == 0) ? 2 : 1;

		for (size_t j = 0; j < nl; j++) {
			unsigned fn = (unsigned)((i * 7 + j * 13) % SYN_FUNCS);

			snprintf(names[j], sizeof(names[j]),
				 "stackd::bench::Component%u::method_%u(int, char const*)", fn % 97,
				 fn);
			snprintf(sys[j], sizeof(sys[j]),
				 "_ZN6stackd5bench11Component%u8method_%uEiPKc", fn % 97, fn);
			snprintf(file[j], sizeof(file[j]), "/src/bench/component_%u.cc", fn % 97);
			lines[j] =
			    (struct pprof_line){names[j], sys[j], file[j], fn, fn + 7 + (i % 50)};
		}
		/* Every tenth location is a kernel frame. */
		err =
		    pprof_add_location(b, mid[i % 10 == 0], 0x400000 + i * 16, lines, nl, &locs[i]);
		assert_int_equal(err, 0);
	}
	for (size_t s = 0; s < SYN_STACKS; s++) {
		size_t depth = 8 + rng() % 33;
		unsigned pid = (unsigned)(rng() % 16);

		for (size_t d = 0; d < depth; d++)
			stack[d] = locs[rng() % SYN_LOCS];
		snprintf(comm, sizeof(comm), "worker-%u", pid);
		labels[0] = (struct pprof_label){.key = "pid", .num = 1000 + pid};
		labels[1] = (struct pprof_label){.key = "comm", .str = comm};
		err = pprof_add_sample(b, stack, depth, 1 + (int64_t)(rng() % 100), labels, 2);
		assert_int_equal(err, 0);
	}
	build_ms = now_ms() - t0;
	assert_int_equal(pprof_builder_nr_samples(b), SYN_STACKS);

	for (int r = 0; r < SYN_RUNS; r++) {
		free(gz);
		gz = NULL;
		t0 = now_ms();
		assert_int_equal(pprof_encode(b, DURATION_NS, true, &gz, &gz_len), 0);
		times[r] = now_ms() - t0;
	}
	qsort(times, SYN_RUNS, sizeof(times[0]), cmp_double);
	assert_int_equal(pprof_encode(b, DURATION_NS, false, &raw, &raw_len), 0);
	t0 = now_ms();
	free(raw);
	raw = NULL;
	assert_int_equal(pprof_encode(b, DURATION_NS, false, &raw, &raw_len), 0);
	t0 = now_ms() - t0;

	print_message("[ INFO     ] synthetic profile: %d stacks, %d locations, builder %zu KiB, "
		      "built in %.1f ms\n",
		      SYN_STACKS, SYN_LOCS, pprof_builder_bytes(b) / 1024, build_ms);
	print_message("[ INFO     ] encode+gzip: min %.2f ms, median %.2f ms, max %.2f ms "
		      "(%zu KiB protobuf -> %zu KiB gzip); encode alone %.2f ms\n",
		      times[0], times[SYN_RUNS / 2], times[SYN_RUNS - 1], raw_len / 1024,
		      gz_len / 1024, t0);
	free(raw);

	p = encode_decode(b, NULL, NULL);
	check_valid(p);
	assert_int_equal(p->n_sample, SYN_STACKS);
	assert_int_equal(p->n_location, SYN_LOCS);
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(gz);
	pprof_builder_free(b);

	/* Memory figure at the stated scale: 100k distinct locations, one frame each. */
	assert_int_equal(pprof_builder_new(&opts, &b), 0);
	assert_int_equal(pprof_add_mapping(b, &m, &mid[0]), 0);
	for (size_t i = 0; i < 100000; i++) {
		unsigned fn = (unsigned)(i % 50000);

		snprintf(names[0], sizeof(names[0]), "stackd::bench::Component%u::method_%u()",
			 fn % 97, fn);
		lines[0] = (struct pprof_line){names[0], NULL, "/src/bench/x.cc", fn, fn + 1};
		assert_int_equal(pprof_add_location(b, mid[0], i * 4, lines, 1, &id), 0);
	}
	print_message("[ INFO     ] 100000 locations / 50000 functions: builder %zu KiB\n",
		      pprof_builder_bytes(b) / 1024);
	pprof_builder_free(b);
	free(locs);
}

/* ---- frozen profiles ---------------------------------------------------------------------- */

static bool keep_pid7(void *ctx, const struct pprof_label *labels, size_t nr)
{
	(void)ctx;
	for (size_t i = 0; i < nr; i++)
		if (strcmp(labels[i].key, "pid") == 0)
			return labels[i].num == 7;
	return false;
}

static bool drop_pid_key(void *ctx, const char *key)
{
	(void)ctx;
	return strcmp(key, "pid") != 0;
}

struct walk {
	char text[4][256];
	int64_t count[4];
	size_t n;
};

static int walk_cb(void *ctx, const struct pprof_frame_name *frames, size_t nr, int64_t count,
		   int64_t value, const struct pprof_label *labels, size_t nr_labels)
{
	static const char *const sfx[] = {"", "_[k]", "_[j]", "_[i]"};
	struct walk *w = ctx;
	size_t len = 0;

	(void)labels;
	(void)nr_labels;
	assert_true(w->n < 4);
	/* Root first, as the folded format writes it. */
	for (size_t i = nr; i-- > 0;)
		len += (size_t)snprintf(w->text[w->n] + len, sizeof(w->text[0]) - len, "%s%s%s",
					frames[i].name, sfx[frames[i].kind], i ? ";" : "");
	/* A CPU profile's second value is the count times the period. */
	assert_int_equal(value, count * (int64_t)PERIOD_NS);
	w->count[w->n++] = count;
	return 0;
}

static int64_t total_of(const Profile *p)
{
	int64_t t = 0;

	for (size_t i = 0; i < p->n_sample; i++)
		t += p->sample[i]->value[0];
	return t;
}

static void test_frozen(void **state)
{
	struct pprof_opts opts = {.period_ns = PERIOD_NS, .time_nanos = TIME_NS};
	struct pprof_label l7[] = {{.key = "pid", .num = 7}, {.key = "comm", .str = "app"}};
	struct pprof_label l8[] = {{.key = "pid", .num = 8}, {.key = "comm", .str = "app"}};
	struct pprof_select only7 = {.keep_sample = keep_pid7};
	struct pprof_select nopid = {.keep_label = drop_pid_key};
	struct pprof_frozen *fz = NULL, *fz2 = NULL;
	struct pprof_builder *m = NULL;
	struct fixture f;
	struct walk w = {0};
	Profile *p;

	(void)state;
	build_fixture(&f);
	/* kernel on top of an inlined frame on top of main */
	uint64_t s1[] = {f.l_kernel, f.l_inline, f.l_main};
	uint64_t s2[] = {f.l_unknown, f.l_main};

	assert_int_equal(pprof_add_sample(f.b, s1, 3, 5, l7, 2), 0);
	assert_int_equal(pprof_add_sample(f.b, s1, 3, 3, l8, 2), 0);
	assert_int_equal(pprof_add_sample(f.b, s2, 2, 2, l7, 2), 0);
	assert_int_equal(pprof_freeze(f.b, DURATION_NS, &fz), 0);
	assert_int_equal(pprof_frozen_nr_samples(fz), 3);
	assert_int_equal(pprof_frozen_total(fz), 10);
	assert_int_equal(pprof_frozen_time(fz), TIME_NS);
	assert_int_equal(pprof_frozen_duration(fz), DURATION_NS);
	/* Exactly sized and far smaller than the builder with its hash tables. */
	assert_true(pprof_frozen_bytes(fz) < pprof_builder_bytes(f.b) / 8);
	print_message("[ INFO     ] frozen %zu bytes, builder %zu bytes\n", pprof_frozen_bytes(fz),
		      pprof_builder_bytes(f.b));

	/* A full merge into an empty builder is the same profile. */
	assert_int_equal(pprof_builder_new(&opts, &m), 0);
	assert_int_equal(pprof_merge(m, fz, NULL), 0);
	p = encode_decode(m, NULL, NULL);
	check_valid(p);
	assert_int_equal(p->n_sample, 3);
	assert_int_equal(total_of(p), 10);
	assert_int_equal(p->n_function, 4); /* inner_helper, compute, main, do_syscall_64 */
	perftools__profiles__profile__free_unpacked(p, NULL);

	/* Merging a second window adds up. */
	assert_int_equal(pprof_freeze(m, DURATION_NS, &fz2), 0);
	assert_int_equal(pprof_merge(m, fz2, NULL), 0);
	p = encode_decode(m, NULL, NULL);
	assert_int_equal(p->n_sample, 3);
	assert_int_equal(total_of(p), 20);
	perftools__profiles__profile__free_unpacked(p, NULL);
	pprof_builder_free(m);

	/* A sample filter keeps pid 7 only. */
	assert_int_equal(pprof_builder_new(&opts, &m), 0);
	assert_int_equal(pprof_merge(m, fz, &only7), 0);
	p = encode_decode(m, NULL, NULL);
	check_valid(p);
	assert_int_equal(p->n_sample, 2);
	assert_int_equal(total_of(p), 7);
	for (size_t i = 0; i < p->n_sample; i++)
		assert_int_equal(find_label(p, p->sample[i], "pid")->num, 7);
	perftools__profiles__profile__free_unpacked(p, NULL);
	pprof_builder_free(m);

	/* Dropping the pid key merges pid 7 and pid 8 of the same stack. */
	assert_int_equal(pprof_builder_new(&opts, &m), 0);
	assert_int_equal(pprof_merge(m, fz, &nopid), 0);
	p = encode_decode(m, NULL, NULL);
	check_valid(p);
	assert_int_equal(p->n_sample, 2);
	assert_int_equal(total_of(p), 10);
	for (size_t i = 0; i < p->n_sample; i++) {
		assert_null(find_label(p, p->sample[i], "pid"));
		assert_non_null(find_label(p, p->sample[i], "comm"));
		assert_true(p->sample[i]->value[0] == 8 || p->sample[i]->value[0] == 2);
	}
	perftools__profiles__profile__free_unpacked(p, NULL);
	pprof_builder_free(m);

	/* Sums: all samples, and pid 7's (a CPU profile's value is count x period). */
	{
		int64_t count, value;

		assert_int_equal(pprof_frozen_sum(fz, NULL, &count, &value), 0);
		assert_int_equal(count, 10);
		assert_int_equal(value, 10 * (int64_t)PERIOD_NS);
		assert_int_equal(pprof_frozen_sum(fz, &only7, &count, &value), 0);
		assert_int_equal(count, 7);
		assert_int_equal(value, 7 * (int64_t)PERIOD_NS);
	}

	/* Stacks by name: inline chains expanded, kinds marked; unknown frames named by file. */
	assert_int_equal(pprof_frozen_foreach(fz, &only7, walk_cb, &w), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.text[0], "main;compute;inner_helper_[i];do_syscall_64_[k]");
	assert_int_equal(w.count[0], 5);
	assert_string_equal(w.text[1], "main;/usr/bin/app");
	assert_int_equal(w.count[1], 2);

	pprof_frozen_free(fz);
	pprof_frozen_free(fz2);
	pprof_builder_free(f.b);
}

/*
 * An off-CPU profile: sample types switches/count and offcpu/nanoseconds, the
 * second value as given (not count x period), summed with its stack, kept
 * through freeze and merge; a CPU window does not merge into it.
 */
static void test_offcpu(void **state)
{
	struct pprof_opts opts = {.period_ns = 1, .time_nanos = TIME_NS, .kind = PPROF_KIND_OFFCPU};
	struct pprof_opts cpu = {.period_ns = PERIOD_NS, .time_nanos = TIME_NS};
	struct pprof_label l7[] = {{.key = "pid", .num = 7},
				   {.key = "offcpu_reason", .str = "sleep"}};
	struct pprof_label l8[] = {{.key = "pid", .num = 8},
				   {.key = "offcpu_reason", .str = "disk"}};
	struct pprof_mapping kernel = {.start = 0xffffffff81000000ULL,
				       .limit = 0xffffffffc0000000ULL,
				       .filename = "[kernel.kallsyms]",
				       .has_functions = true};
	struct pprof_line sleep[] = {{"do_nanosleep", NULL, NULL, 0, 0}};
	struct pprof_builder *b = NULL, *m = NULL, *c = NULL;
	struct pprof_frozen *fz = NULL, *cz = NULL;
	uint64_t mid, loc;
	Profile *p;

	(void)state;
	assert_int_equal(pprof_builder_new(&opts, &b), 0);
	assert_int_equal(pprof_builder_kind(b), PPROF_KIND_OFFCPU);
	assert_int_equal(pprof_add_mapping(b, &kernel, &mid), 0);
	assert_int_equal(pprof_add_location(b, mid, 0xffffffff81100010ULL, sleep, 1, &loc), 0);
	assert_int_equal(pprof_add_sample_value(b, &loc, 1, 2, 3000000, l7, 2), 0);
	assert_int_equal(pprof_add_sample_value(b, &loc, 1, 1, 500, l7, 2), 0);
	assert_int_equal(pprof_add_sample_value(b, &loc, 1, 4, 7000, l8, 2), 0);
	assert_int_equal(pprof_add_sample_value(b, &loc, 1, 1, -1, l8, 2), -EINVAL);

	p = encode_decode(b, NULL, NULL);
	check_valid(p);
	assert_int_equal(p->n_sample_type, 2);
	assert_string_equal(str(p, p->sample_type[0]->type), "switches");
	assert_string_equal(str(p, p->sample_type[0]->unit), "count");
	assert_string_equal(str(p, p->sample_type[1]->type), "offcpu");
	assert_string_equal(str(p, p->sample_type[1]->unit), "nanoseconds");
	assert_string_equal(str(p, p->period_type->type), "offcpu");
	assert_int_equal(p->n_sample, 2);
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];

		if (find_label(p, s, "pid")->num == 7) {
			assert_int_equal(s->value[0], 3);
			assert_int_equal(s->value[1], 3000500);
		} else {
			assert_int_equal(s->value[0], 4);
			assert_int_equal(s->value[1], 7000);
		}
	}
	perftools__profiles__profile__free_unpacked(p, NULL);

	/* Frozen and merged back: the values stay. */
	assert_int_equal(pprof_freeze(b, DURATION_NS, &fz), 0);
	assert_int_equal(pprof_frozen_kind(fz), PPROF_KIND_OFFCPU);
	{
		int64_t count, value;

		assert_int_equal(pprof_frozen_sum(fz, NULL, &count, &value), 0);
		assert_int_equal(count, 7);
		assert_int_equal(value, 3000500 + 7000);
	}
	assert_int_equal(pprof_builder_new(&opts, &m), 0);
	assert_int_equal(pprof_merge(m, fz, NULL), 0);
	assert_int_equal(pprof_merge(m, fz, NULL), 0);
	p = encode_decode(m, NULL, NULL);
	check_valid(p);
	assert_int_equal(p->n_sample, 2);
	for (size_t i = 0; i < p->n_sample; i++)
		assert_true(p->sample[i]->value[1] == 2 * 3000500 ||
			    p->sample[i]->value[1] == 14000);
	perftools__profiles__profile__free_unpacked(p, NULL);

	/* A wall profile: events/count, wall/nanoseconds, the ns as given. */
	{
		struct pprof_opts wo = {
		    .period_ns = PERIOD_NS, .time_nanos = TIME_NS, .kind = PPROF_KIND_WALL};
		struct pprof_builder *w = NULL;
		uint64_t wm, wl;

		assert_int_equal(pprof_builder_new(&wo, &w), 0);
		assert_int_equal(pprof_builder_period(w), PERIOD_NS);
		assert_int_equal(pprof_add_mapping(w, &kernel, &wm), 0);
		assert_int_equal(pprof_add_location(w, wm, 0xffffffff81100010ULL, sleep, 1, &wl),
				 0);
		assert_int_equal(pprof_add_sample_value(w, &wl, 1, 3, 30000000, l7, 2), 0);
		p = encode_decode(w, NULL, NULL);
		check_valid(p);
		assert_int_equal(p->n_sample, 1);
		assert_int_equal(p->sample[0]->value[1], 30000000);
		perftools__profiles__profile__free_unpacked(p, NULL);
		pprof_builder_free(w);
	}

	/* Kinds do not mix. */
	assert_int_equal(pprof_builder_new(&cpu, &c), 0);
	assert_int_equal(pprof_merge(c, fz, NULL), -EINVAL);
	assert_int_equal(pprof_freeze(c, DURATION_NS, &cz), 0);
	assert_int_equal(pprof_merge(m, cz, NULL), -EINVAL);

	pprof_frozen_free(fz);
	pprof_frozen_free(cz);
	pprof_builder_free(b);
	pprof_builder_free(m);
	pprof_builder_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_profile_rules), cmocka_unit_test(test_empty_and_args),
	    cmocka_unit_test(test_invalid_utf8),  cmocka_unit_test(test_go_tool_pprof),
	    cmocka_unit_test(test_synthetic_10k), cmocka_unit_test(test_frozen),
	    cmocka_unit_test(test_offcpu),	  cmocka_unit_test(test_location_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
