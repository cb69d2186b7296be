// SPDX-License-Identifier: Apache-2.0
#include "kallsyms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/strbuf.h"

/* KSYM_NAME_LEN is 512 and MODULE_NAME_LEN 56 in 6.x; longer lines are not kallsyms. */
#define KSYM_MAX_NAME 512
#define KSYM_MAX_MODULE 64
#define KSYM_MAX_SYMS (8u << 20)
#define KSYM_MAX_POOL (64u << 20)
#define KSYM_NO_MODULE UINT32_MAX

struct ksym {
	uint64_t addr;
	uint32_t name_off;
	uint32_t mod_off; /* KSYM_NO_MODULE for the core kernel */
	uint32_t seq;
	uint32_t rank;
};

struct kallsyms {
	struct ksym *syms;
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

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* One line: "addr type name[\t[module]]". Returns false for anything else. */
static bool parse_line(const char *p, const char *end, uint64_t *addr, char *type,
		       const char **name, size_t *name_len, const char **mod, size_t *mod_len)
{
	uint64_t v = 0;
	int n = 0;
	const char *q;

	while (p < end && is_hex(*p)) {
		if (++n > 16)
			return false;
		v = (v << 4) | (uint64_t)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
		p++;
	}
	if (!n || end - p < 3 || p[0] != ' ' || p[2] != ' ')
		return false;
	*addr = v;
	*type = p[1];
	p += 3;
	for (q = p; q < end && *q != ' ' && *q != '\t'; q++)
		;
	if (q == p || q - p > KSYM_MAX_NAME)
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
	return !memchr(*mod, ' ', *mod_len) && !memchr(*mod, ']', *mod_len);
}

int kallsyms_parse(const char *text, size_t len, struct kallsyms **out)
{
	struct kallsyms *k = NULL;
	struct strbuf pool;
	const char *p, *eol, *end, *name, *mod, *last_mod = NULL;
	size_t name_len, mod_len, last_mod_len = 0, cap = 0, i, j;
	uint32_t last_mod_off = KSYM_NO_MODULE;
	uint64_t addr;
	char type;
	int err = 0, rank;

	*out = NULL;
	strbuf_init(&pool, KSYM_MAX_POOL);
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	if (!text)
		len = 0;
	for (p = text, end = text ? text + len : NULL; p && p < end; p = eol < end ? eol + 1 : end) {
		struct ksym *s;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if (!parse_line(p, eol, &addr, &type, &name, &name_len, &mod, &mod_len))
			continue;
		rank = text_rank(type);
		/* Address 0 is what kptr_restrict shows: as good as no symbol. */
		if (rank < 0 || !addr)
			continue;
		if (k->nr == cap) {
			struct ksym *v;

			if (cap >= KSYM_MAX_SYMS) {
				err = -E2BIG;
				goto cleanup;
			}
			cap = cap ? cap * 2 : 4096;
			v = realloc(k->syms, cap * sizeof(*v));
			if (!v) {
				err = -ENOMEM;
				goto cleanup;
			}
			k->syms = v;
		}
		s = &k->syms[k->nr];
		s->addr = addr;
		s->rank = (uint32_t)rank;
		s->seq = (uint32_t)k->nr;
		s->name_off = (uint32_t)pool.len;
		err = strbuf_append(&pool, name, name_len);
		if (!err)
			err = strbuf_append(&pool, "", 1);
		if (err)
			goto cleanup;
		s->mod_off = KSYM_NO_MODULE;
		if (mod) {
			/* Module symbols come in runs: store each name once per run. */
			if (!last_mod || last_mod_len != mod_len || memcmp(last_mod, mod, mod_len)) {
				last_mod_off = (uint32_t)pool.len;
				err = strbuf_append(&pool, mod, mod_len);
				if (!err)
					err = strbuf_append(&pool, "", 1);
				if (err)
					goto cleanup;
				last_mod = mod;
				last_mod_len = mod_len;
			}
			s->mod_off = last_mod_off;
		}
		k->nr++;
	}
	if (!k->nr) {
		err = -ENODATA;
		goto cleanup;
	}
	qsort(k->syms, k->nr, sizeof(*k->syms), cmp_ksym);
	for (i = 0, j = 0; i < k->nr; i++) {
		if (j && k->syms[j - 1].addr == k->syms[i].addr)
			continue;
		k->syms[j++] = k->syms[i];
	}
	k->nr = j;
	k->pool = strbuf_detach(&pool, &k->pool_sz);
	if (!k->pool) {
		err = -ENOMEM;
		goto cleanup;
	}
	*out = k;
	k = NULL;
cleanup:
	if (err == -ENOSPC)
		err = -E2BIG;
	strbuf_free(&pool);
	kallsyms_free(k);
	return err;
}

int kallsyms_load(const char *path, struct kallsyms **out)
{
	struct strbuf sb;
	char chunk[65536];
	ssize_t got;
	int fd, err = 0;

	*out = NULL;
	strbuf_init(&sb, KALLSYMS_MAX_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		got = read(fd, chunk, sizeof(chunk));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (!got)
			break;
		err = strbuf_append(&sb, chunk, (size_t)got);
		if (err) {
			err = err == -ENOSPC ? -E2BIG : err;
			goto cleanup;
		}
	}
	err = kallsyms_parse(sb.buf, sb.len, out);
cleanup:
	close(fd);
	strbuf_free(&sb);
	return err;
}

void kallsyms_free(struct kallsyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k->pool);
	free(k);
}

int kallsyms_lookup(const struct kallsyms *k, uint64_t addr, const char **name,
		    const char **module, uint64_t *start)
{
	size_t lo = 0, hi;
	const struct ksym *s;

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
