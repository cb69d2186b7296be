// SPDX-License-Identifier: Apache-2.0
#include "kallsyms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/strbuf.h"

/* KSYM_NAME_LEN is 512 and MODULE_NAME_LEN 56 in 6.x; longer lines are not kallsyms. */
#define KSYM_MAX_NAME	512
#define KSYM_MAX_MODULE 64
#define KSYM_MAX_SYMS	(8u << 20)
#define KSYM_MAX_POOL	(64u << 20)
#define KSYM_NO_MODULE	UINT32_MAX

/* A symbol while parsing: seq and rank only order aliases before deduplication. */
struct ksym {
	uint64_t addr;
	uint32_t name_off;
	uint32_t mod_off; /* KSYM_NO_MODULE for the core kernel */
	uint32_t seq;
	uint32_t rank;
};

/* What a table keeps: 16 bytes a symbol (~120,000 of them on a 6.x kernel with modules). */
struct ksym_entry {
	uint64_t addr;
	uint32_t name_off;
	uint32_t mod_off;
};

struct kallsyms {
	struct ksym_entry *syms;
	struct ksym *tmp; /* while parsing: the symbols as read */
	size_t nr;
	char *pool;
	size_t pool_sz;
};

/* Global before local, functions before weak: lower wins among aliases. */
static int text_rank(char type)
{
	switch (type) {
	case 'T':
		return 0;
	case 'W':
		return 1;
	case 't':
		return 2;
	case 'w':
		return 3;
	default:
		return -1;
	}
}

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* One line: "addr type name[\t[module]]". Returns false for anything else. */
static bool parse_line(const char *p, const char *end, uint64_t *addr, char *type,
		       const char **name, size_t *name_len, const char **mod, size_t *mod_len)
{
	const char *q;

	if (!hex_parse_u64(&p, end, addr) || end - p < 3 || p[0] != ' ' || p[2] != ' ')
		return false;
	*type = p[1];
	p += 3;
	for (q = p; q < end && *q != ' ' && *q != '\t' && *q != '\0'; q++)
		;
	if (q == p || q - p > KSYM_MAX_NAME || (q < end && *q == '\0'))
		return false;
	*name = p;
	*name_len = (size_t)(q - p);
	*mod = NULL;
	*mod_len = 0;
	for (p = q; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	if (p == end)
		return true;
	if (*p != '[' || end[-1] != ']' || end - p < 3 || end - p - 2 > KSYM_MAX_MODULE)
		return false;
	*mod = p + 1;
	*mod_len = (size_t)(end - p - 2);
	return !memchr(*mod, ' ', *mod_len) && !memchr(*mod, ']', *mod_len) &&
	       !memchr(*mod, '\0', *mod_len);
}

/*
 * Incremental parser state: lines may arrive in chunks (kallsyms_load streams
 * the file through a small buffer instead of holding its ~5 MB of text).
 */
struct kparse {
	struct kallsyms *k;
	struct strbuf pool;
	size_t cap;
	uint32_t last_mod_off; /* pool offset of the current run's module name */
	size_t last_mod_len;
};

static int kparse_init(struct kparse *ps)
{
	memset(ps, 0, sizeof(*ps));
	strbuf_init(&ps->pool, KSYM_MAX_POOL);
	ps->last_mod_off = KSYM_NO_MODULE;
	ps->k = calloc(1, sizeof(*ps->k));
	return ps->k ? 0 : -ENOMEM;
}

static int kparse_line(struct kparse *ps, const char *p, const char *eol)
{
	struct kallsyms *k = ps->k;
	const char *name, *mod;
	size_t name_len, mod_len;
	uint64_t addr;
	struct ksym *s;
	char type;
	int err, rank;

	if (!parse_line(p, eol, &addr, &type, &name, &name_len, &mod, &mod_len))
		return 0;
	rank = text_rank(type);
	/* Address 0 is what kptr_restrict shows: as good as no symbol. */
	if (rank < 0 || !addr)
		return 0;
	if (k->nr == ps->cap) {
		struct ksym *v;

		if (ps->cap >= KSYM_MAX_SYMS)
			return -E2BIG;
		ps->cap = ps->cap ? ps->cap * 2 : 4096;
		v = realloc(k->tmp, ps->cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		k->tmp = v;
	}
	s = &k->tmp[k->nr];
	s->addr = addr;
	s->rank = (uint32_t)rank;
	s->seq = (uint32_t)k->nr;
	s->name_off = (uint32_t)ps->pool.len;
	err = strbuf_append(&ps->pool, name, name_len);
	if (!err)
		err = strbuf_append(&ps->pool, "", 1);
	if (err)
		return err;
	s->mod_off = KSYM_NO_MODULE;
	if (mod) {
		/* Module symbols come in runs: store each name once per run. */
		if (ps->last_mod_off == KSYM_NO_MODULE || ps->last_mod_len != mod_len ||
		    memcmp(ps->pool.buf + ps->last_mod_off, mod, mod_len)) {
			ps->last_mod_off = (uint32_t)ps->pool.len;
			ps->last_mod_len = mod_len;
			err = strbuf_append(&ps->pool, mod, mod_len);
			if (!err)
				err = strbuf_append(&ps->pool, "", 1);
			if (err)
				return err;
		}
		s->mod_off = ps->last_mod_off;
	}
	k->nr++;
	return 0;
}

/* Parse the complete lines of [text, text + len); returns bytes consumed or -errno. */
static ssize_t kparse_lines(struct kparse *ps, const char *text, size_t len, bool final)
{
	const char *p = text, *end = text + len, *eol;
	int err;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol) {
			if (!final)
				break; /* partial line: wait for the rest */
			eol = end;
		}
		err = kparse_line(ps, p, eol);
		if (err)
			return err;
		p = eol < end ? eol + 1 : end;
	}
	return p - text;
}

static void kparse_abort(struct kparse *ps)
{
	strbuf_free(&ps->pool);
	kallsyms_free(ps->k);
	ps->k = NULL;
}

static int kparse_finish(struct kparse *ps, struct kallsyms **out)
{
	struct kallsyms *k = ps->k;
	size_t i, j;
	void *shrunk;

	if (!k->nr) {
		kparse_abort(ps);
		return -ENODATA;
	}
	qsort(k->tmp, k->nr, sizeof(*k->tmp), cmp_ksym);
	for (i = 0, j = 0; i < k->nr; i++) {
		if (j && k->tmp[j - 1].addr == k->tmp[i].addr)
			continue;
		k->tmp[j++] = k->tmp[i];
	}
	k->nr = j;
	/* Footprint: keep an exact-size copy without the sort keys (16 bytes a symbol, not 24). */
	k->syms = malloc(k->nr * sizeof(*k->syms));
	if (!k->syms) {
		kparse_abort(ps);
		return -ENOMEM;
	}
	for (i = 0; i < k->nr; i++)
		k->syms[i] =
		    (struct ksym_entry){k->tmp[i].addr, k->tmp[i].name_off, k->tmp[i].mod_off};
	free(k->tmp);
	k->tmp = NULL;
	/* Growth doubled the pool: hand the slack back. */
	k->pool = strbuf_detach(&ps->pool, &k->pool_sz);
	shrunk = realloc(k->pool, k->pool_sz + 1);
	if (shrunk)
		k->pool = shrunk;
	*out = k;
	ps->k = NULL;
	return 0;
}

static int kparse_err(int err)
{
	return err == -ENOSPC ? -E2BIG : err;
}

int kallsyms_parse(const char *text, size_t len, struct kallsyms **out)
{
	struct kparse ps;
	ssize_t n;
	int err;

	*out = NULL;
	err = kparse_init(&ps);
	if (err)
		return err;
	n = text ? kparse_lines(&ps, text, len, true) : 0;
	if (n < 0) {
		kparse_abort(&ps);
		return kparse_err((int)n);
	}
	return kparse_finish(&ps, out);
}

int kallsyms_load(const char *path, struct kallsyms **out)
{
	char buf[65536];
	size_t have = 0, total = 0;
	struct kparse ps;
	ssize_t got, used;
	bool skipping = false;
	int fd, err;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = kparse_init(&ps);
	if (err)
		goto cleanup;
	for (;;) {
		got = read(fd, buf + have, sizeof(buf) - have);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		total += (size_t)got;
		if (total > KALLSYMS_MAX_FILE) {
			err = -E2BIG;
			break;
		}
		have += (size_t)got;
		if (skipping) {
			/* Drop the rest of an over-long line, up to its newline. */
			char *nl = memchr(buf, '\n', have);

			if (!nl) {
				have = 0;
				if (got == 0)
					break;
				continue;
			}
			skipping = false;
			memmove(buf, nl + 1, have - (size_t)(nl + 1 - buf));
			have -= (size_t)(nl + 1 - buf);
		}
		used = kparse_lines(&ps, buf, have, got == 0);
		if (used < 0) {
			err = kparse_err((int)used);
			break;
		}
		if (got == 0)
			break;
		/* A line longer than the buffer is not a kallsyms line: skip it whole. */
		if (used == 0 && have == sizeof(buf)) {
			have = 0;
			skipping = true;
			continue;
		}
		memmove(buf, buf + used, have - (size_t)used);
		have -= (size_t)used;
	}
	if (err)
		kparse_abort(&ps);
	else
		err = kparse_finish(&ps, out);
cleanup:
	close(fd);
	return err;
}

void kallsyms_free(struct kallsyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k->tmp);
	free(k->pool);
	free(k);
}

int kallsyms_lookup(const struct kallsyms *k, uint64_t addr, const char **name, const char **module,
		    uint64_t *start)
{
	size_t lo = 0, hi;
	const struct ksym_entry *s;

	if (!k)
		return -ENOENT;
	hi = k->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -ENOENT;
	s = &k->syms[lo - 1];
	if (addr - s->addr >= KALLSYMS_MAX_SPAN)
		return -ENOENT;
	*name = k->pool + s->name_off;
	if (module)
		*module = s->mod_off == KSYM_NO_MODULE ? NULL : k->pool + s->mod_off;
	if (start)
		*start = s->addr;
	return 0;
}

uint64_t kallsyms_min_addr(const struct kallsyms *k)
{
	return k && k->nr ? k->syms[0].addr : 0;
}

size_t kallsyms_nr(const struct kallsyms *k)
{
	return k ? k->nr : 0;
}

size_t kallsyms_bytes(const struct kallsyms *k)
{
	return k ? sizeof(*k) + k->nr * sizeof(*k->syms) + k->pool_sz + 1 : 0;
}
