// SPDX-License-Identifier: Apache-2.0
/*
 * common/ unit tests: strbuf cap and -ENOSPC, hmap at scale and out of memory, hash_bytes, log
 * level names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/u64map.h"

static void test_strbuf_basic(void **state)
{
	struct strbuf sb;
	size_t len;
	char *s;

	strbuf_init(&sb, 1024);
	assert_int_equal(strbuf_appends(&sb, "hello"), 0);
	assert_int_equal(strbuf_append(&sb, ", ", 2), 0);
	assert_int_equal(strbuf_appendf(&sb, "%s %d", "world", 42), 0);
	assert_string_equal(sb.buf, "hello, world 42");
	assert_int_equal(sb.len, strlen("hello, world 42"));
	assert_true(sb.len < sb.cap);

	strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	assert_int_equal(strbuf_appends(&sb, "x"), 0);

	s = strbuf_detach(&sb, &len);
	assert_string_equal(s, "x");
	assert_int_equal(len, 1);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	free(s);

	/* Detaching an untouched buffer still gives a valid empty string. */
	s = strbuf_detach(&sb, NULL);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	strbuf_free(&sb);
	strbuf_free(&sb); /* twice is fine */
}

static void test_strbuf_cap(void **state)
{
	char big[100];
	struct strbuf sb;

	memset(big, 'a', sizeof(big));
	strbuf_init(&sb, 10);
	assert_int_equal(strbuf_append(&sb, big, 10), 0); /* exactly max_sz */
	assert_int_equal(sb.len, 10);
	assert_int_equal(strbuf_append(&sb, "b", 1), -ENOSPC);
	assert_int_equal(strbuf_appendf(&sb, "%d", 1), -ENOSPC);
	/* A failed append leaves the buffer as it was. */
	assert_int_equal(sb.len, 10);
	assert_memory_equal(sb.buf, big, 10);
	assert_int_equal(sb.buf[10], '\0');
	assert_true(sb.cap <= 11);

	strbuf_reset(&sb);
	assert_int_equal(strbuf_append(&sb, big, 11), -ENOSPC);
	assert_int_equal(strbuf_appendf(&sb, "%s", "0123456789A"), -ENOSPC);
	assert_int_equal(sb.len, 0);
	/* A length that would overflow size_t arithmetic is refused, not wrapped. */
	assert_int_equal(strbuf_append(&sb, big, SIZE_MAX), -ENOSPC);
	assert_int_equal(strbuf_appendf(&sb, "%s", "0123456789"), 0);
	assert_string_equal(sb.buf, "0123456789");
	strbuf_free(&sb);

	/* Growth across many doublings keeps content intact. */
	strbuf_init(&sb, 1 << 20);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(strbuf_appendf(&sb, "%04d", i % 10000), 0);
	assert_int_equal(sb.len, 40000);
	assert_memory_equal(sb.buf + 4 * 1234, "1234", 4);
	strbuf_free(&sb);
}

struct item {
	struct hnode node;
	uint64_t key;
	int seen;
};

static struct item *find(struct hmap *h, uint64_t key)
{
	struct hnode *n;

	for (n = hmap_first(h, hash_u64(key)); n; n = hmap_next(n)) {
		struct item *it = container_of(n, struct item, node);

		if (it->key == key)
			return it;
	}
	return NULL;
}

#define NR_ITEMS 100000

static void test_hmap(void **state)
{
	struct item *items = calloc(NR_ITEMS, sizeof(*items));
	struct hnode *pos, *tmp;
	struct hmap h;
	size_t i, cnt;

	assert_non_null(items);
	hmap_init(&h);
	assert_null(hmap_first(&h, 1));	 /* empty, no buckets yet */
	hmap_remove(&h, &items[0].node); /* harmless on an empty map */

	for (i = 0; i < NR_ITEMS; i++) {
		items[i].key = i * 2654435761ULL;
		hmap_insert(&h, &items[i].node, hash_u64(items[i].key));
	}
	assert_int_equal(h.count, NR_ITEMS);
	/* Grew by doubling: load factor at most 1, buckets a power of two. */
	assert_true(h.nbuckets >= NR_ITEMS);
	assert_int_equal(h.nbuckets & (h.nbuckets - 1), 0);
	for (i = 0; i < NR_ITEMS; i++)
		assert_ptr_equal(find(&h, items[i].key), &items[i]);
	assert_null(find(&h, 1));

	/* Remove every other entry; the rest stay findable. */
	for (i = 0; i < NR_ITEMS; i += 2)
		hmap_remove(&h, &items[i].node);
	assert_int_equal(h.count, NR_ITEMS / 2);
	for (i = 0; i < NR_ITEMS; i++) {
		if (i % 2)
			assert_ptr_equal(find(&h, items[i].key), &items[i]);
		else
			assert_null(find(&h, items[i].key));
	}

	/* Entries sharing one hash: all reachable through hmap_next. */
	for (i = 0; i < NR_ITEMS; i += 2)
		hmap_insert(&h, &items[i].node, 7);
	cnt = 0;
	for (pos = hmap_first(&h, 7); pos; pos = hmap_next(pos))
		cnt++;
	assert_int_equal(cnt, NR_ITEMS / 2);

	/* Iterate everything once, removing as we go. */
	cnt = 0;
	hmap_for_each_safe (&h, pos, tmp, i) {
		container_of(pos, struct item, node)->seen++;
		hmap_remove(&h, pos);
		cnt++;
	}
	assert_int_equal(cnt, NR_ITEMS);
	assert_int_equal(h.count, 0);
	for (i = 0; i < NR_ITEMS; i++)
		assert_int_equal(items[i].seen, 1);

	hmap_fini(&h);
	assert_null(h.buckets);
	hmap_fini(&h); /* twice is fine */
	free(items);
}

/*
 * Linked with -Wl,--wrap=calloc (common.cmake): the calls to calloc() in the
 * objects of this test and of libcommon.a come here, so a test can make the
 * next allocations fail. cmocka's own allocations (a shared library) do not.
 */
void *__real_calloc(size_t nmemb, size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
static unsigned calloc_failures;

void *__wrap_calloc(size_t nmemb, size_t size)
{
	if (calloc_failures) {
		calloc_failures--;
		return NULL;
	}
	return __real_calloc(nmemb, size);
}

/* No memory for even one bucket: hmap_insert reports -ENOMEM instead of abort(). */
static void test_hmap_nomem(void **state)
{
	struct item a = {.key = 1}, b = {.key = 2}, c = {.key = 3};
	struct hmap h;

	hmap_init(&h);
	calloc_failures = 2; /* the 16-bucket array, then the one-bucket fallback */
	assert_int_equal(hmap_insert(&h, &a.node, hash_u64(a.key)), -ENOMEM);
	assert_int_equal(calloc_failures, 0);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.nbuckets, 0);
	assert_null(find(&h, a.key));
	hmap_remove(&h, &a.node); /* the caller may still remove what it never added */

	/* Only the 16-bucket array fails: the one-bucket fallback holds the entry. */
	calloc_failures = 1;
	assert_int_equal(hmap_insert(&h, &a.node, hash_u64(a.key)), 0);
	assert_int_equal(h.nbuckets, 1);
	/* A failed grow keeps the table working (one longer chain). */
	calloc_failures = 1;
	assert_int_equal(hmap_insert(&h, &b.node, hash_u64(b.key)), 0);
	assert_int_equal(h.nbuckets, 1);
	/* Memory is back: the next insert grows it (doubling the fallback bucket). */
	assert_int_equal(hmap_insert(&h, &c.node, hash_u64(c.key)), 0);
	assert_int_equal(h.nbuckets, 2);
	assert_int_equal(h.count, 3);
	assert_ptr_equal(find(&h, a.key), &a);
	assert_ptr_equal(find(&h, b.key), &b);
	assert_ptr_equal(find(&h, c.key), &c);
	hmap_fini(&h);
	(void)state;
}

static void test_hash_bytes(void **state)
{
	char buf[80], copy[96];
	uint64_t h[65];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 37 + 11);
	/* Deterministic, and independent of where the bytes sit (unaligned copies). */
	for (size_t len = 0; len <= 64; len++) {
		h[len] = hash_bytes(buf, len, 0);
		assert_int_equal(hash_bytes(buf, len, 0), h[len]);
		for (size_t off = 1; off < 8; off++) {
			memcpy(copy + off, buf, len);
			assert_int_equal(hash_bytes(copy + off, len, 0), h[len]);
		}
	}
	/* Every prefix length hashes differently, including trailing zero bytes. */
	for (size_t i = 0; i <= 64; i++)
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(h[i], h[j]);
	memset(copy, 0, sizeof(copy));
	assert_int_not_equal(hash_bytes(copy, 3, 0), hash_bytes(copy, 4, 0));
	/* The seed matters, a one-bit change matters. */
	assert_int_not_equal(hash_bytes(buf, 16, 0), hash_bytes(buf, 16, 1));
	memcpy(copy, buf, 16);
	copy[9] ^= 1;
	assert_int_not_equal(hash_bytes(buf, 16, 0), hash_bytes(copy, 16, 0));
	assert_int_equal(hash_u64(12345), hash_u64(12345));
	assert_int_not_equal(hash_combine(1, 2), hash_combine(2, 1));
}

static void test_log_level(void **state)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	enum log_level lvl = LOG_LEVEL_INFO, saved = log_get_level();

	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(log_level_parse(names[i], &lvl), 0);
		assert_int_equal(lvl, (enum log_level)i);
		assert_string_equal(log_level_name(lvl), names[i]);
	}
	lvl = LOG_LEVEL_WARN;
	assert_int_equal(log_level_parse("verbose", &lvl), -EINVAL);
	assert_int_equal(log_level_parse("", &lvl), -EINVAL);
	assert_int_equal(log_level_parse("INFO", &lvl), -EINVAL);
	assert_int_equal(log_level_parse("warning", &lvl), -EINVAL);
	assert_int_equal(lvl, LOG_LEVEL_WARN); /* untouched on failure */
	assert_string_equal(log_level_name((enum log_level)99), "unknown");

	log_set_level(LOG_LEVEL_WARN);
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	assert_true(log_enabled(LOG_LEVEL_WARN));
	assert_false(log_enabled(LOG_LEVEL_INFO));
	log_set_level(saved);
}

/* u64map: values by key through growth, several values under one key, 0 refused. */
static void test_u64map(void **state)
{
	struct u64map m;
	uint32_t pos = UINT32_MAX, seen = 0, v;

	(void)state;
	u64map_init(&m);
	assert_int_equal(u64map_get(&m, 7), 0);
	assert_int_equal(u64map_put(&m, 7, 0), -EINVAL);
	for (uint32_t i = 1; i <= 5000; i++) /* past several doublings of the first 1024 slots */
		assert_int_equal(u64map_put(&m, (uint64_t)i << 32 | (i * 7), i), 0);
	assert_int_equal(m.nr, 5000);
	assert_true((uint64_t)m.nr * 2 <= (uint64_t)m.mask + 1);
	for (uint32_t i = 1; i <= 5000; i++)
		assert_int_equal(u64map_get(&m, (uint64_t)i << 32 | (i * 7)), i);
	assert_int_equal(u64map_get(&m, 12345), 0);
	/* One key, three values: u64map_next walks them all, then says 0. */
	assert_int_equal(u64map_put(&m, 42, 100), 0);
	assert_int_equal(u64map_put(&m, 42, 200), 0);
	assert_int_equal(u64map_put(&m, 42, 300), 0);
	while ((v = u64map_next(&m, 42, &pos)))
		seen += v;
	assert_int_equal(seen, 600);
	u64map_fini(&m);
	assert_null(m.slots);
	assert_int_equal(u64map_get(&m, 42), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strbuf_basic), cmocka_unit_test(test_strbuf_cap),
	    cmocka_unit_test(test_hmap),	 cmocka_unit_test(test_hmap_nomem),
	    cmocka_unit_test(test_hash_bytes),	 cmocka_unit_test(test_log_level),
	    cmocka_unit_test(test_u64map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
