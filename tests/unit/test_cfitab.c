// SPDX-License-Identifier: Apache-2.0
/*
 * The unwind table compiler against binutils: for real objects (libc, the
 * agent, CPython, and fixtures built now with gcc and clang -O2
 * -fomit-frame-pointer, once more with only .debug_frame), every row that
 * `readelf --debug-dump=frames-interp` prints must agree with our row for
 * the same addresses: the CFA rule, the return address and the caller's rbp.
 * Rules our format cannot say must come out as the UNSUP kinds, and no
 * address outside readelf's FDEs may be covered. Row counts, table bytes
 * and the time to compile libc's table are printed, not asserted.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ci.h"
#include "symbolize/cfitab.h"
#include "unwtab.h"

#define MAX_COLS 40

/* One readelf row: [lo, hi) with its CFA, rbp and return address rules as printed. */
struct re_row {
	uint64_t lo, hi;
	char cfa[24], rbp[24], ra[24];
};

struct re_fde {
	uint64_t lo, hi;
};

struct re_table {
	struct re_row *rows;
	size_t nr, cap;
	struct re_fde *fdes;
	size_t nr_fdes, cap_fdes;
};

/* A CIE's initial rules, by its offset. */
struct re_cie {
	unsigned long off;
	char cfa[24], rbp[24], ra[24];
};

static void *grow(void *p, size_t *cap, size_t elem)
{
	*cap = *cap ? *cap * 2 : 1024;
	p = realloc(p, *cap * elem);
	assert_non_null(p);
	return p;
}

static void add_row(struct re_table *t, uint64_t lo, const char *cfa, const char *rbp,
		    const char *ra)
{
	struct re_row *r;

	if (t->nr == t->cap)
		t->rows = grow(t->rows, &t->cap, sizeof(*t->rows));
	r = &t->rows[t->nr++];
	r->lo = lo;
	r->hi = 0;
	snprintf(r->cfa, sizeof(r->cfa), "%s", cfa);
	snprintf(r->rbp, sizeof(r->rbp), "%s", rbp);
	snprintf(r->ra, sizeof(r->ra), "%s", ra);
}

static bool is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!s[i] || !strchr("0123456789abcdef", s[i]))
			return false;
	}
	return true;
}

/*
 * Parse readelf's interpreted tables of .eh_frame and .debug_frame (an
 * object built with -fno-asynchronous-unwind-tables has its own code in the
 * one, crt's in the other). An FDE whose program has no row-making
 * instruction prints no table: its CIE's initial rules cover it. CIE
 * offsets are per section: a new section forgets the CIEs before.
 */
static void readelf_parse(const char *path, struct re_table *t)
{
	char cmd[1024], line[4096], cols[MAX_COLS][16];
	struct re_cie cies[64];
	size_t nr_cies = 0, nr_cols = 0, fde_first = 0;
	bool in_sect = false, in_fde = false, in_cie = false;
	unsigned long cur_cie = 0;
	uint64_t fde_lo = 0, fde_hi = 0;
	FILE *f;

	memset(t, 0, sizeof(*t));
	snprintf(cmd, sizeof(cmd), "readelf --debug-dump=frames-interp '%s' 2>/dev/null", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	for (;;) {
		bool eof = !fgets(line, sizeof(line), f);
		char *tok, *save = NULL;

		/* Close the FDE before: its last row ends at its end. */
		if (in_fde &&
		    (eof || (is_hex(line, 8) && line[8] == ' ') || strstr(line, "Contents of"))) {
			size_t i;

			if (t->nr == fde_first) {
				for (i = 0; i < nr_cies && cies[i].off != cur_cie; i++)
					;
				assert_true(i < nr_cies);
				add_row(t, fde_lo, cies[i].cfa, cies[i].rbp, cies[i].ra);
			}
			for (i = fde_first; i < t->nr; i++)
				t->rows[i].hi = i + 1 < t->nr ? t->rows[i + 1].lo : fde_hi;
			in_fde = false;
		}
		if (eof)
			break;
		if (strstr(line, "Contents of the ")) {
			in_sect = strstr(line, " .eh_frame ") || strstr(line, " .debug_frame ");
			nr_cies = 0;
			continue;
		}
		if (!in_sect)
			continue;
		if (is_hex(line, 8) && line[8] == ' ') {
			unsigned long off = strtoul(line, NULL, 16);
			char *p;

			in_cie = strstr(line, " CIE") != NULL;
			if (in_cie) {
				assert_true(nr_cies < 64);
				cies[nr_cies] = (struct re_cie){.off = off};
				strcpy(cies[nr_cies].rbp, "u");
				strcpy(cies[nr_cies].ra, "u");
				nr_cies++;
				continue;
			}
			p = strstr(line, " FDE cie=");
			if (!p)
				continue; /* ZERO terminator */
			cur_cie = strtoul(p + 9, NULL, 16);
			p = strstr(line, "pc=");
			assert_non_null(p);
			fde_lo = strtoull(p + 3, &p, 16);
			fde_hi = strtoull(p + 2, NULL, 16);
			if (fde_hi <= fde_lo)
				continue;
			in_fde = true;
			fde_first = t->nr;
			if (t->nr_fdes == t->cap_fdes)
				t->fdes = grow(t->fdes, &t->cap_fdes, sizeof(*t->fdes));
			t->fdes[t->nr_fdes++] = (struct re_fde){fde_lo, fde_hi};
			continue;
		}
		if (strstr(line, "   LOC ")) {
			nr_cols = 0;
			for (tok = strtok_r(line, " \n", &save); tok;
			     tok = strtok_r(NULL, " \n", &save)) {
				assert_true(nr_cols < MAX_COLS);
				snprintf(cols[nr_cols++], sizeof(cols[0]), "%s", tok);
			}
			continue;
		}
		if (is_hex(line, 16) && line[16] == ' ' && (in_fde || in_cie)) {
			const char *cfa = "?", *rbp = "u", *ra = "u";
			uint64_t loc = strtoull(line, NULL, 16);
			size_t c = 0;

			for (tok = strtok_r(line, " \n", &save); tok && c < nr_cols;
			     tok = strtok_r(NULL, " \n", &save), c++) {
				/* A register rule prints as "r10 (r10)": one column. */
				if (tok[0] == '(' && c) {
					c--;
					continue;
				}
				if (!strcmp(cols[c], "CFA"))
					cfa = tok;
				else if (!strcmp(cols[c], "rbp"))
					rbp = tok;
				else if (!strcmp(cols[c], "ra"))
					ra = tok;
			}
			if (in_cie) {
				struct re_cie *ci = &cies[nr_cies - 1];

				snprintf(ci->cfa, sizeof(ci->cfa), "%s", cfa);
				snprintf(ci->rbp, sizeof(ci->rbp), "%s", rbp);
				snprintf(ci->ra, sizeof(ci->ra), "%s", ra);
			} else {
				add_row(t, loc, cfa, rbp, ra);
			}
		}
	}
	pclose(f);
}

/* "reg+N" / "c-N": the number after the prefix, or false. */
static bool parse_off(const char *s, const char *prefix, long *out)
{
	char *end;

	if (strncmp(s, prefix, strlen(prefix)))
		return false;
	s += strlen(prefix);
	if (*s != '+' && *s != '-')
		return false;
	*out = strtol(s, &end, 10);
	return *end == '\0';
}

/* Whether our @rule says what readelf's row @r says; *why on a mismatch. */
static bool row_agrees(const struct re_row *r, unsigned int rule, char *why, size_t why_sz)
{
	unsigned int cfa = CFITAB_RULE_CFA(rule), rbp = CFITAB_RULE_RBP(rule);
	long off, roff;
	bool rsp;

	why[0] = '\0';
	if (!strcmp(r->ra, "u")) {
		snprintf(why, why_sz, "ra undefined: want STOP");
		return cfa == CFITAB_CFA_STOP;
	}
	if (!strcmp(r->cfa, "exp")) {
		snprintf(why, why_sz, "CFA expression: want PLT, SIGNAL or UNSUP");
		if (cfa == CFITAB_CFA_SIGNAL)
			return !strcmp(r->ra, "exp");
		if (cfa == CFITAB_CFA_PLT)
			return !strcmp(r->ra, "c-8") && CFITAB_RULE_CFA_OFF(rule) == 8;
		return cfa == CFITAB_CFA_UNSUP;
	}
	rsp = parse_off(r->cfa, "rsp", &off);
	if (!rsp && !parse_off(r->cfa, "rbp", &off)) {
		snprintf(why, why_sz, "CFA from another register: want UNSUP");
		return cfa == CFITAB_CFA_UNSUP;
	}
	if (strcmp(r->ra, "c-8") || off < 0 || off % 8 || off > (long)CFITAB_CFA_OFF_MAX) {
		snprintf(why, why_sz, "not expressible: want UNSUP");
		return cfa == CFITAB_CFA_UNSUP;
	}
	if (cfa != (rsp ? CFITAB_CFA_RSP : CFITAB_CFA_RBP) ||
	    CFITAB_RULE_CFA_OFF(rule) != (unsigned long)off) {
		snprintf(why, why_sz, "CFA kind %u off %u", cfa, CFITAB_RULE_CFA_OFF(rule));
		return false;
	}
	if (!strcmp(r->rbp, "u") || !strcmp(r->rbp, "s")) {
		snprintf(why, why_sz, "rbp same/undefined: got %u", rbp);
		return rbp == CFITAB_RBP_SAME || (rbp == CFITAB_RBP_UNDEF && r->rbp[0] == 'u');
	}
	if (parse_off(r->rbp, "c", &roff) && roff % 8 == 0 && roff / 8 >= CFITAB_AUX_MIN &&
	    roff / 8 <= CFITAB_AUX_MAX) {
		snprintf(why, why_sz, "rbp at c%+ld: got kind %u aux %d", roff, rbp,
			 CFITAB_RULE_AUX(rule));
		return rbp == CFITAB_RBP_CFA && CFITAB_RULE_AUX(rule) * 8 == roff;
	}
	snprintf(why, why_sz, "rbp not expressible: got %u", rbp);
	return rbp == CFITAB_RBP_UNSUP;
}

static int fde_cmp(const void *a, const void *b)
{
	const struct re_fde *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Whether @pc lies in one of readelf's FDEs (sorted). */
static bool in_fdes(const struct re_table *t, uint64_t pc)
{
	size_t lo = 0, hi = t->nr_fdes, i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->fdes[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* FDEs may nest or overlap: look back a little. */
	for (i = lo; i-- > 0 && lo - i < 64;) {
		if (pc >= t->fdes[i].lo && pc < t->fdes[i].hi)
			return true;
	}
	return false;
}

static double clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct cfitab *build_of(const char *path, struct unwtab **ut_out)
{
	struct unwtab *ut = NULL;
	struct cfitab *ct = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	assert_true(fd >= 0);
	err = unwtab_open_fd(fd, &ut);
	close(fd);
	assert_int_equal(err, 0);
	assert_true(ut->has_table);
	err = cfitab_from_unwtab(ut, 0, &ct);
	assert_int_equal(err, 0);
	*ut_out = ut;
	return ct;
}

/* Our table of @path against readelf's; prints the figures, returns the stats. */
static struct cfitab_stats check_object(const char *name, const char *path)
{
	struct unwtab *ut = NULL;
	struct cfitab *ct = build_of(path, &ut);
	struct cfitab_stats st = ct->stats;
	struct re_table re;
	size_t i, checked = 0, bad = 0, kinds[8] = {0};
	char why[128];

	readelf_parse(path, &re);
	assert_true(re.nr > 0);
	for (i = 0; i < re.nr; i++) {
		const struct re_row *r = &re.rows[i];
		uint64_t at[2] = {r->lo, r->hi - 1};
		int j;

		if (r->hi <= r->lo)
			continue;
		for (j = 0; j < 2; j++) {
			const struct cfitab_row *row = cfitab_lookup(ct, at[j]);
			unsigned int rule = row ? row->rule : 0;

			checked++;
			if (row && row_agrees(r, rule, why, sizeof(why))) {
				kinds[CFITAB_RULE_CFA(rule)]++;
				continue;
			}
			if (!row)
				snprintf(why, sizeof(why), "no row");
			if (bad++ < 10)
				print_message("%s: %#" PRIx64 " readelf [%s %s %s] rule %#x: %s\n",
					      name, at[j], r->cfa, r->rbp, r->ra, rule, why);
		}
	}
	/* Nothing covered where readelf has no FDE. */
	qsort(re.fdes, re.nr_fdes, sizeof(*re.fdes), fde_cmp);
	for (i = 0; i < ct->nr_rows; i++) {
		uint64_t pc = ct->base + ct->rows[i].pc;

		if (CFITAB_RULE_CFA(ct->rows[i].rule) == CFITAB_CFA_GAP)
			continue;
		if (!in_fdes(&re, pc) && bad++ < 10)
			print_message("%s: row at %#" PRIx64 " outside every FDE\n", name, pc);
	}
	/* Sorted strictly, merged, ending in a gap. */
	for (i = 1; i < ct->nr_rows; i++) {
		assert_true(ct->rows[i - 1].pc < ct->rows[i].pc);
		assert_true(ct->rows[i - 1].rule != ct->rows[i].rule);
	}
	assert_int_equal(CFITAB_RULE_CFA(ct->rows[ct->nr_rows - 1].rule), CFITAB_CFA_GAP);
	print_message("%-12s %8u rows %9zu bytes (%zu readelf rows, %zu lookups; rsp %u rbp %u "
		      "plt %u signal %u stop %u unsup %u gap %u; rbp unknown %u; FDEs %u bad %u "
		      "overlap %u)\n",
		      name, ct->nr_rows, ct->bytes, re.nr, checked, ct->stats.rows_by_cfa[1],
		      ct->stats.rows_by_cfa[2], ct->stats.rows_by_cfa[3], ct->stats.rows_by_cfa[4],
		      ct->stats.rows_by_cfa[5], ct->stats.rows_by_cfa[6], ct->stats.rows_by_cfa[0],
		      ct->stats.rows_rbp_unknown, ct->stats.fdes, ct->stats.fdes_bad,
		      ct->stats.fdes_overlap);
	(void)kinds;
	free(re.rows);
	free(re.fdes);
	cfitab_free(ct);
	unwtab_free(ut);
	assert_int_equal(bad, 0);
	return st;
}

static bool have_readelf(void)
{
	return system("readelf --version >/dev/null 2>&1") == 0;
}

static void test_libc(void **state)
{
	struct cfitab_stats st;

	(void)state;
	if (!have_readelf())
		skip_or_fail("readelf (binutils) is not installed");
	st = check_object("libc", "/lib/x86_64-linux-gnu/libc.so.6");
	/* __restore_rt, its PLT, clone/clone3's child with rip undefined */
	assert_true(st.rows_by_cfa[CFITAB_CFA_SIGNAL] >= 1);
	assert_true(st.rows_by_cfa[CFITAB_CFA_PLT] >= 1);
	assert_true(st.rows_by_cfa[CFITAB_CFA_STOP] >= 1);
}

static void test_agent(void **state)
{
	(void)state;
	if (!have_readelf())
		skip_or_fail("readelf (binutils) is not installed");
	/* _start: rip undefined */
	assert_true(check_object("stackd", STACKD_AGENT_BIN).rows_by_cfa[CFITAB_CFA_STOP] >= 1);
}

static void test_python(void **state)
{
	(void)state;
	if (!have_readelf() || access("/usr/bin/python3.11", R_OK))
		skip_or_fail("readelf or /usr/bin/python3.11 is missing");
	check_object("python3.11", "/usr/bin/python3.11");
}

/* The fixture built now with @cc and @flags; its path in @out. */
static bool build_fixture(const char *cc, const char *tag, const char *flags, char *out,
			  size_t out_sz)
{
	const char *tmp = getenv("STACKD_TEST_TMP");
	char cmd[2048];

	snprintf(out, out_sz, "%s/cfitab_%s", tmp ? tmp : "/tmp", tag);
	snprintf(cmd, sizeof(cmd), "%s %s -o '%s' '%s/unwind_deep.c' 2>&1", cc, flags, out,
		 STACKD_FIXTURES);
	return system(cmd) == 0;
}

static void check_fixture(const char *cc, const char *tag, const char *flags)
{
	struct cfitab_stats st;
	char path[512];

	if (!have_readelf())
		skip_or_fail("readelf (binutils) is not installed");
	if (!build_fixture(cc, tag, flags, path, sizeof(path)))
		skip_or_fail("cannot build the fixture with %s", cc);
	st = check_object(tag, path);
	unlink(path);
	assert_true(st.rows_by_cfa[CFITAB_CFA_STOP] >= 1); /* crt1's _start */
	assert_true(st.rows_by_cfa[CFITAB_CFA_RSP] >= 30); /* f1..f30 and main */
}

#define FX_FLAGS "-O2 -fomit-frame-pointer -g"
#define DF_FLAGS "-O2 -fomit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables -g"

static void test_gcc(void **state)
{
	(void)state;
	check_fixture("gcc", "gcc_O2", FX_FLAGS);
}

static void test_clang(void **state)
{
	(void)state;
	check_fixture("clang", "clang_O2", FX_FLAGS);
}

/* Only .debug_frame for the fixture's own code (crt keeps .eh_frame): the converted path. */
static void test_gcc_debug_frame(void **state)
{
	(void)state;
	check_fixture("gcc", "gcc_df", DF_FLAGS);
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The time to compile libc's table (unwtab read excluded), median of 9, wall
 * clock and this thread's CPU time (the CI machine is shared: wall time
 * includes waiting for a CPU); printed only.
 */
static void test_libc_time(void **state)
{
	struct unwtab *ut = NULL;
	struct cfitab *ct = build_of("/lib/x86_64-linux-gnu/libc.so.6", &ut);
	double wall[9], cpu[9];
	size_t i;

	(void)state;
	cfitab_free(ct);
	for (i = 0; i < 9; i++) {
		double w0 = clock_ms(CLOCK_MONOTONIC), c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);

		assert_int_equal(cfitab_from_unwtab(ut, 0, &ct), 0);
		cpu[i] = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
		wall[i] = clock_ms(CLOCK_MONOTONIC) - w0;
		cfitab_free(ct);
	}
	qsort(wall, 9, sizeof(wall[0]), dbl_cmp);
	qsort(cpu, 9, sizeof(cpu[0]), dbl_cmp);
	print_message("libc table compile (9 runs): CPU median %.3f ms (min %.3f, max %.3f), "
		      "wall median %.3f ms (min %.3f, max %.3f)\n",
		      cpu[4], cpu[0], cpu[8], wall[4], wall[0], wall[8]);
	unwtab_free(ut);
}

/* Caps: a row budget below what libc needs fails whole, never truncates. */
static void test_row_cap(void **state)
{
	struct unwtab *ut = NULL;
	struct cfitab *ct = build_of("/lib/x86_64-linux-gnu/libc.so.6", &ut);

	(void)state;
	cfitab_free(ct);
	ct = NULL;
	assert_int_equal(cfitab_from_unwtab(ut, 100, &ct), -E2BIG);
	assert_null(ct);
	unwtab_free(ut);
}

/* Hand-made programs: state stack, restore, undefined RA, PLT and bad input. */
static void test_programs(void **state)
{
	/* CIE: v1 "zR" caf 1 daf -8 ra 16, aug len 1, pcrel|sdata4; def_cfa rsp+8; offset ra c-8 */
	static const unsigned char cie[] = {0x14, 0,	0,   0, 0,    0,    0,	  0,
					    1,	  'z',	'R', 0, 1,    0x78, 0x10, 1,
					    0x1b, 0x0c, 7,   8, 0x90, 1,    0,	  0};
	unsigned char sect[256];
	struct cfitab_sect s = {sect, 0, 0x1000};
	struct cfitab_opts o = {.lo = 0x1000, .hi = 0x100000};
	struct cfitab *t = NULL;
	size_t n = 0;
	int32_t v;
	const struct cfitab_row *r;

	(void)state;
	memcpy(sect, cie, sizeof(cie));
	n = sizeof(cie);
	/* FDE for [0x2000, 0x2040): push rbp; remember; rbp-based; restore; undefined rip */
	{
		static const unsigned char prog[] = {
		    0x41,	 /* advance 1 */
		    0x0e, 16,	 /* def_cfa_offset 16 */
		    0x86, 2,	 /* rbp at c-16 */
		    0x0a,	 /* remember_state */
		    0x44,	 /* advance 4 */
		    0x0d, 6,	 /* def_cfa_register rbp */
		    0x48,	 /* advance 8 */
		    0x0b,	 /* restore_state */
		    0x48,	 /* advance 8 */
		    0x07, 16,	 /* undefined rip */
		    0,	  0,  0, /* nops */
		};
		size_t at = n, len = 4 + 4 + 4 + 1 + sizeof(prog);

		v = (int32_t)len;
		memcpy(sect + n, &v, 4);
		v = (int32_t)(at + 4);
		memcpy(sect + n + 4, &v, 4); /* back to the CIE at 0 */
		v = (int32_t)(0x2000 - (0x1000 + at + 8));
		memcpy(sect + n + 8, &v, 4);
		v = 0x40;
		memcpy(sect + n + 12, &v, 4);
		sect[n + 16] = 0; /* augmentation data length */
		memcpy(sect + n + 17, prog, sizeof(prog));
		n += 4 + len;
	}
	memset(sect + n, 0, 4);
	n += 4;
	s.len = n;
	assert_int_equal(cfitab_build(&s, 1, &o, &t), 0);
	assert_null(cfitab_lookup(t, 0x1fff));
	r = cfitab_lookup(t, 0x2000);
	assert_int_equal(r->rule, CFITAB_RULE(CFITAB_CFA_RSP, CFITAB_RBP_SAME, 0, 8));
	r = cfitab_lookup(t, 0x2001);
	assert_int_equal(r->rule, CFITAB_RULE(CFITAB_CFA_RSP, CFITAB_RBP_CFA, -2, 16));
	r = cfitab_lookup(t, 0x2005);
	assert_int_equal(r->rule, CFITAB_RULE(CFITAB_CFA_RBP, CFITAB_RBP_CFA, -2, 16));
	r = cfitab_lookup(t, 0x200d);
	assert_int_equal(r->rule, CFITAB_RULE(CFITAB_CFA_RSP, CFITAB_RBP_CFA, -2, 16));
	r = cfitab_lookup(t, 0x203f);
	assert_int_equal(CFITAB_RULE_CFA(r->rule), CFITAB_CFA_STOP);
	r = cfitab_lookup(t, 0x2040);
	assert_int_equal(CFITAB_RULE_CFA(r->rule), CFITAB_CFA_GAP);
	assert_int_equal(t->nr_rows, 6);
	cfitab_free(t);

	/*
	 * Through an unwtab whose .eh_frame copy starts 4 bytes early (the copy is
	 * 8-aligned): the same rows as the section at its own address.
	 */
	{
		struct unwtab *ut = calloc(1, sizeof(*ut));
		struct cfitab *t2 = NULL;

		assert_non_null(ut);
		ut->eh.data = calloc(1, n + 8);
		assert_non_null(ut->eh.data);
		memset(ut->eh.data, 0xff, 4); /* a length no walk may read */
		memcpy(ut->eh.data + 4, sect, n);
		ut->eh.vaddr = 0x1000;
		ut->eh.size = n + 8;
		ut->eh_start = 0x1004;
		ut->has_table = true;
		ut->image_lo = 0x1000;
		ut->image_hi = 0x100000;
		s.vaddr = 0x1004;
		assert_int_equal(cfitab_build(&s, 1, &o, &t), 0);
		assert_int_equal(cfitab_from_unwtab(ut, 0, &t2), 0);
		assert_int_equal(t->nr_rows, t2->nr_rows);
		assert_memory_equal(t->rows, t2->rows, t->nr_rows * sizeof(t->rows[0]));
		cfitab_free(t);
		cfitab_free(t2);
		unwtab_free(ut);
		s.vaddr = 0x1000;
	}

	/* restore_state with nothing remembered: the FDE is dropped, its range a gap. */
	sect[sizeof(cie) + 17 + 5] = 0x00; /* remember -> nop */
	t = NULL;
	assert_int_equal(cfitab_build(&s, 1, &o, &t), -ENOENT);
	assert_null(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_programs),
	    cmocka_unit_test(test_libc),
	    cmocka_unit_test(test_agent),
	    cmocka_unit_test(test_python),
	    cmocka_unit_test(test_gcc),
	    cmocka_unit_test(test_clang),
	    cmocka_unit_test(test_gcc_debug_frame),
	    cmocka_unit_test(test_libc_time),
	    cmocka_unit_test(test_row_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
