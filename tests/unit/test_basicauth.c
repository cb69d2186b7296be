// SPDX-License-Identifier: Apache-2.0
/*
 * Basic auth: failed logins are slowed per client address (429 without bcrypt
 * once an address has failed BASICAUTH_THROTTLE_FREE times), without locking
 * out any other address, and within a bounded table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basicauth.h"
#include "common/strbuf.h"
#include "exporter/webconfig.h"

#define S 1000000000ull

/* An IPv4 client as the server keys it (v4-mapped), a.b.c.d */
static void v4(uint8_t out[16], unsigned a, unsigned b, unsigned c, unsigned d)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	out[12] = (uint8_t)a;
	out[13] = (uint8_t)b;
	out[14] = (uint8_t)c;
	out[15] = (uint8_t)d;
}

static void test_backoff(void **state)
{
	uint8_t a[16], b[16];
	uint64_t t = 1000 * S;

	(void)state;
	basicauth_throttle_reset();
	v4(a, 10, 0, 0, 1);
	v4(b, 10, 0, 0, 2);
	for (int i = 0; i < BASICAUTH_THROTTLE_FREE; i++) {
		assert_int_equal(basicauth_throttle_wait_s(a, t), 0);
		basicauth_throttle_note(a, false, t);
	}
	/* The free failures cost nothing; the next one bars 1 s, then 2, 4, ... up to the cap. */
	assert_int_equal(basicauth_throttle_wait_s(a, t), 0);
	basicauth_throttle_note(a, false, t);
	assert_int_equal(basicauth_throttle_wait_s(a, t), 1);
	assert_int_equal(basicauth_throttle_wait_s(a, t + S), 0);
	basicauth_throttle_note(a, false, t + S);
	assert_int_equal(basicauth_throttle_wait_s(a, t + S), 2);
	for (int i = 0; i < 10; i++)
		basicauth_throttle_note(a, false, t + S);
	assert_int_equal(basicauth_throttle_wait_s(a, t + S), BASICAUTH_THROTTLE_MAX_S);
	/* Another address is not affected. */
	assert_int_equal(basicauth_throttle_wait_s(b, t + S), 0);
	/* Unknown clients are never throttled. */
	assert_int_equal(basicauth_throttle_wait_s(NULL, t), 0);
	/* A success clears the record; so does a long quiet. */
	basicauth_throttle_note(a, true, t + 2 * S);
	assert_int_equal(basicauth_throttle_wait_s(a, t + 2 * S), 0);
	for (int i = 0; i < 20; i++)
		basicauth_throttle_note(b, false, t);
	assert_true(basicauth_throttle_wait_s(b, t) > 0);
	assert_int_equal(basicauth_throttle_wait_s(b, t + BASICAUTH_THROTTLE_FORGET_S * S), 0);
}

/* IPv6: one /64 is one client (a host can rotate through its whole /64). */
static void test_ipv6_prefix(void **state)
{
	uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
	uint8_t same64[16], other64[16];
	uint64_t t = 5000 * S;

	(void)state;
	basicauth_throttle_reset();
	memcpy(same64, a, 16);
	same64[15] = 0x99;
	same64[9] = 0x42;
	memcpy(other64, a, 16);
	other64[7] = 2;
	for (int i = 0; i <= BASICAUTH_THROTTLE_FREE; i++)
		basicauth_throttle_note(a, false, t);
	assert_int_equal(basicauth_throttle_wait_s(same64, t), 1);
	assert_int_equal(basicauth_throttle_wait_s(other64, t), 0);
}

/* The table is bounded: a flood of addresses evicts (counted), never grows, never blocks others. */
static void test_bounded(void **state)
{
	struct basicauth_throttle_stats st;
	uint8_t a[16], victim[16];
	uint64_t t = 9000 * S;

	(void)state;
	basicauth_throttle_reset();
	v4(victim, 192, 168, 0, 1);
	for (int i = 0; i <= BASICAUTH_THROTTLE_FREE; i++)
		basicauth_throttle_note(victim, false, t);
	for (unsigned i = 0; i < 3 * BASICAUTH_THROTTLE_SLOTS; i++) {
		v4(a, 10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
		basicauth_throttle_note(a, false, t + 1 + i);
		assert_int_equal(basicauth_throttle_wait_s(a, t + 1 + i), 0);
	}
	basicauth_throttle_stats(&st);
	assert_true(st.tracked <= BASICAUTH_THROTTLE_SLOTS);
	assert_int_equal(st.evicted, 2 * BASICAUTH_THROTTLE_SLOTS + 1);
}

/* Through basicauth_check: wrong passwords get 429 unchecked; a cached success still passes. */
static void test_check(void **state)
{
	struct crypt_data cd;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct webconfig_user user = {.name = "alice"};
	struct webconfig wc = {.users = &user, .user_cnt = 1};
	struct basicauth_verdict v;
	struct basicauth *ba = NULL;
	struct strbuf sb;
	uint8_t ip[16], other[16];
	/* alice:secret and alice:wrong */
	const char *good = "Basic YWxpY2U6c2VjcmV0", *bad = "Basic YWxpY2U6d3Jvbmc=";

	(void)state;
	basicauth_throttle_reset();
	assert_non_null(crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)));
	memset(&cd, 0, sizeof(cd));
	assert_non_null(crypt_r("secret", salt, &cd));
	user.hash = cd.output;
	assert_int_equal(basicauth_new(&wc, &ba), 0);
	v4(ip, 127, 0, 0, 1);
	v4(other, 127, 0, 0, 2);

	assert_int_equal(basicauth_check(ba, good, ip, &v), BASICAUTH_OK);
	assert_true(v.did_bcrypt);
	for (int i = 0; i <= BASICAUTH_THROTTLE_FREE; i++) {
		assert_int_equal(basicauth_check(ba, bad, ip, &v), BASICAUTH_INVALID);
		assert_true(v.did_bcrypt);
	}
	assert_int_equal(basicauth_check(ba, bad, ip, &v), BASICAUTH_THROTTLED);
	assert_false(v.did_bcrypt);
	assert_int_equal(v.retry_after_s, 1);
	/* The scraper's cached credentials from the same address still work. */
	assert_int_equal(basicauth_check(ba, good, ip, &v), BASICAUTH_OK);
	assert_false(v.did_bcrypt);
	/* Another address still gets its bcrypt check. */
	assert_int_equal(basicauth_check(ba, bad, other, &v), BASICAUTH_INVALID);
	assert_true(v.did_bcrypt);
	/* A malformed header costs nothing and counts as nothing. */
	assert_int_equal(basicauth_check(ba, "Basic !!", ip, &v), BASICAUTH_MISSING);

	strbuf_init(&sb, 1 << 16);
	assert_int_equal(basicauth_write_metrics(&sb), 0);
	assert_non_null(strstr(sb.buf, "\nstackd_http_auth_throttled_total 1\n"));
	assert_non_null(strstr(sb.buf, "\nstackd_http_auth_throttle_addresses 2\n"));
	strbuf_free(&sb);
	basicauth_put(ba);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_ipv6_prefix),
	    cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
