// SPDX-License-Identifier: Apache-2.0
/*
 * Basic auth with bcrypt through the system's crypt library (libxcrypt on
 * Debian: $2a$/$2b$/$2y$ supported), an HMAC-keyed cache of successes, a
 * bound on concurrent bcrypt runs, and failures slowed per client address.
 */
#include "basicauth.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "common/clock.h"
#include "common/strbuf.h"
#include "exporter/promtext.h"

#define MAC_SZ 32 /* HMAC-SHA256 */

struct cache_entry {
	uint8_t mac[MAC_SZ];
	uint64_t expires_ns; /* 0: free */
};

struct basicauth {
	atomic_int refcnt;
	struct webconfig_user *users; /* sorted by name, as in the webconfig */
	size_t user_cnt;
	/* Checked for unknown users, so their answer takes as long as a known one's. */
	char dummy_hash[CRYPT_OUTPUT_SIZE];
	pthread_mutex_t lock; /* the cache */
	struct cache_entry cache[BASICAUTH_CACHE_ENTRIES];
};

/* Process-wide: keys the cache's HMACs; never leaves memory. */
static uint8_t hmac_key[32];
static pthread_once_t hmac_key_once = PTHREAD_ONCE_INIT;
static int hmac_key_err;
/* bcrypt runs in flight, all configurations together. */
static sem_t bcrypt_slots;

/*
 * The failure table: a fixed array scanned under one mutex. Only checks that
 * would run bcrypt (milliseconds each) look at it, so a scan of 1024 slots is
 * noise beside them.
 */
struct throttle_slot {
	uint8_t key[16]; /* the address; IPv6 cut to its /64 */
	uint32_t fails;
	uint64_t last_ns;  /* last failure; 0: free */
	uint64_t until_ns; /* no bcrypt for this address before */
};

static struct {
	pthread_mutex_t lock;
	struct throttle_slot slot[BASICAUTH_THROTTLE_SLOTS];
	atomic_uint_fast64_t throttled, evicted;
} throttle = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void hmac_key_init(void)
{
	hmac_key_err = gnutls_rnd(GNUTLS_RND_KEY, hmac_key, sizeof(hmac_key)) < 0 ? -EIO : 0;
	sem_init(&bcrypt_slots, 0, BASICAUTH_MAX_PARALLEL);
}

static bool ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static int cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct webconfig_user *)a)->name,
		      ((const struct webconfig_user *)b)->name);
}

/* Runs bcrypt for @password against @hash; true when they match. */
static bool bcrypt_matches(const char *password, const char *hash)
{
	struct crypt_data *cd;
	const char *out;
	bool ok = false;
	size_t n;

	cd = calloc(1, sizeof(*cd)); /* ~32 KiB: not on a connection thread's stack */
	if (!cd)
		return false;
	while (sem_wait(&bcrypt_slots) < 0 && errno == EINTR)
		;
	out = crypt_r(password, hash, cd);
	sem_post(&bcrypt_slots);
	/* libxcrypt returns a "*"-prefixed failure token, never NULL, on errors. */
	n = strlen(hash);
	if (out && out[0] != '*' && strlen(out) == n)
		ok = ct_equal(out, hash, n);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int basicauth_new(const struct webconfig *wc, struct basicauth **out)
{
	struct basicauth *ba;
	struct crypt_data *cd = NULL;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	unsigned long cost = 4;
	int err = -ENOMEM;

	*out = NULL;
	pthread_once(&hmac_key_once, hmac_key_init);
	if (hmac_key_err)
		return hmac_key_err;
	ba = calloc(1, sizeof(*ba));
	if (!ba)
		return -ENOMEM;
	atomic_init(&ba->refcnt, 1);
	pthread_mutex_init(&ba->lock, NULL);
	if (!wc || !wc->user_cnt)
		goto done;

	ba->users = calloc(wc->user_cnt, sizeof(*ba->users));
	if (!ba->users)
		goto fail;
	for (size_t i = 0; i < wc->user_cnt; i++) {
		ba->users[i].name = strdup(wc->users[i].name);
		ba->users[i].hash = strdup(wc->users[i].hash);
		ba->user_cnt++;
		if (!ba->users[i].name || !ba->users[i].hash)
			goto fail;
		/* "$2b$NN$": the dummy costs as much as the dearest real hash. */
		cost = strtoul(wc->users[i].hash + 4, NULL, 10) > cost
			   ? strtoul(wc->users[i].hash + 4, NULL, 10)
			   : cost;
	}
	qsort(ba->users, ba->user_cnt, sizeof(*ba->users), cmp_user);
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		goto fail;
	err = -EINVAL;
	if (!crypt_gensalt_rn("$2b$", cost, NULL, 0, salt, sizeof(salt)))
		goto fail;
	if (!crypt_rn("stackd-unknown-user", salt, cd, sizeof(*cd)) || cd->output[0] == '*')
		goto fail;
	snprintf(ba->dummy_hash, sizeof(ba->dummy_hash), "%s", cd->output);
done:
	free(cd);
	*out = ba;
	return 0;
fail:
	free(cd);
	basicauth_put(ba);
	return err;
}

void basicauth_get(struct basicauth *ba)
{
	if (ba)
		atomic_fetch_add(&ba->refcnt, 1);
}

void basicauth_put(struct basicauth *ba)
{
	if (!ba || atomic_fetch_sub(&ba->refcnt, 1) != 1)
		return;
	for (size_t i = 0; i < ba->user_cnt; i++) {
		free(ba->users[i].name);
		free(ba->users[i].hash);
	}
	free(ba->users);
	pthread_mutex_destroy(&ba->lock);
	explicit_bzero(ba->cache, sizeof(ba->cache));
	free(ba);
}

bool basicauth_is_enabled(const struct basicauth *ba)
{
	return ba && ba->user_cnt;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64 with padding, as RFC 7617 sends it; NUL-terminates. -1 on junk. */
static long b64_decode(const char *in, size_t len, char *out, size_t out_sz)
{
	size_t o = 0, i;
	uint32_t acc = 0;
	int bits = 0, pad = 0;

	for (i = 0; i < len; i++) {
		int v;

		if (in[i] == '=') {
			pad++;
			continue;
		}
		if (pad)
			return -1; /* data after padding */
		v = b64val(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= out_sz)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || (len % 4) != 0)
		return -1;
	out[o] = '\0';
	return (long)o;
}

static void cache_mac(const char *user, const char *password, uint8_t mac[MAC_SZ])
{
	/* "user\0password": the NUL keeps ("ab","c") and ("a","bc") apart. */
	size_t ul = strlen(user), pl = strlen(password);
	char buf[BASICAUTH_MAX_CRED_LEN + 2];

	memcpy(buf, user, ul + 1);
	memcpy(buf + ul + 1, password, pl);
	gnutls_hmac_fast(GNUTLS_MAC_SHA256, hmac_key, sizeof(hmac_key), buf, ul + 1 + pl, mac);
	explicit_bzero(buf, sizeof(buf));
}

static bool cache_lookup(struct basicauth *ba, const uint8_t mac[MAC_SZ])
{
	uint64_t now = mono_ns();
	bool hit = false;

	pthread_mutex_lock(&ba->lock);
	for (size_t i = 0; i < BASICAUTH_CACHE_ENTRIES; i++) {
		struct cache_entry *e = &ba->cache[i];

		if (e->expires_ns && e->expires_ns > now && ct_equal(e->mac, mac, MAC_SZ)) {
			hit = true;
			break;
		}
	}
	pthread_mutex_unlock(&ba->lock);
	return hit;
}

/* Into a free or expired slot, else over the one closest to expiry. */
static void cache_insert(struct basicauth *ba, const uint8_t mac[MAC_SZ])
{
	uint64_t now = mono_ns();
	size_t victim = 0;

	pthread_mutex_lock(&ba->lock);
	for (size_t i = 0; i < BASICAUTH_CACHE_ENTRIES; i++) {
		struct cache_entry *e = &ba->cache[i];

		if (!e->expires_ns || e->expires_ns <= now) {
			victim = i;
			break;
		}
		if (e->expires_ns < ba->cache[victim].expires_ns)
			victim = i;
	}
	memcpy(ba->cache[victim].mac, mac, MAC_SZ);
	ba->cache[victim].expires_ns = now + BASICAUTH_CACHE_TTL_S * 1000000000ull;
	pthread_mutex_unlock(&ba->lock);
}

/* ::ffff:a.b.c.d stays whole; any other IPv6 address keeps its /64 only. */
static void throttle_key(const void *client, uint8_t key[16])
{
	static const uint8_t v4_mapped[12] = {[10] = 0xff, [11] = 0xff};

	memcpy(key, client, 16);
	if (memcmp(key, v4_mapped, sizeof(v4_mapped)) != 0)
		memset(key + 8, 0, 8);
}

static bool slot_is_live(const struct throttle_slot *e, uint64_t now_ns)
{
	return e->last_ns && now_ns - e->last_ns < BASICAUTH_THROTTLE_FORGET_S * 1000000000ull;
}

/* The live slot of @key, or NULL. Called with throttle.lock held. */
static struct throttle_slot *throttle_find(const uint8_t key[16], uint64_t now_ns)
{
	for (size_t i = 0; i < BASICAUTH_THROTTLE_SLOTS; i++) {
		struct throttle_slot *e = &throttle.slot[i];

		if (slot_is_live(e, now_ns) && !memcmp(e->key, key, 16))
			return e;
	}
	return NULL;
}

unsigned basicauth_throttle_wait_s(const void *client, uint64_t now_ns)
{
	const struct throttle_slot *e;
	unsigned wait = 0;
	uint8_t key[16];

	if (!client)
		return 0;
	throttle_key(client, key);
	pthread_mutex_lock(&throttle.lock);
	e = throttle_find(key, now_ns);
	if (e && e->until_ns > now_ns)
		wait = (unsigned)((e->until_ns - now_ns + 999999999ull) / 1000000000ull);
	pthread_mutex_unlock(&throttle.lock);
	return wait;
}

void basicauth_throttle_note(const void *client, bool is_ok, uint64_t now_ns)
{
	struct throttle_slot *e, *victim = NULL;
	uint32_t over, wait_s;
	uint8_t key[16];

	if (!client)
		return;
	throttle_key(client, key);
	pthread_mutex_lock(&throttle.lock);
	e = throttle_find(key, now_ns);
	if (is_ok) {
		if (e)
			memset(e, 0, sizeof(*e));
		goto out;
	}
	if (!e) {
		/* A free or forgotten slot, else the one whose last failure is oldest. */
		for (size_t i = 0; i < BASICAUTH_THROTTLE_SLOTS && !e; i++) {
			struct throttle_slot *c = &throttle.slot[i];

			if (!slot_is_live(c, now_ns))
				e = c;
			else if (!victim || c->last_ns < victim->last_ns)
				victim = c;
		}
		if (!e) {
			e = victim;
			atomic_fetch_add(&throttle.evicted, 1);
		}
		memset(e, 0, sizeof(*e));
		memcpy(e->key, key, 16);
	}
	e->fails++;
	e->last_ns = now_ns;
	if (e->fails > BASICAUTH_THROTTLE_FREE) {
		/* 1 s after the first failure past the free ones, doubling up to the cap. */
		over = e->fails - BASICAUTH_THROTTLE_FREE - 1;
		wait_s = over < 16 ? 1u << over : BASICAUTH_THROTTLE_MAX_S;
		if (wait_s > BASICAUTH_THROTTLE_MAX_S)
			wait_s = BASICAUTH_THROTTLE_MAX_S;
		e->until_ns = now_ns + wait_s * 1000000000ull;
	}
out:
	pthread_mutex_unlock(&throttle.lock);
}

void basicauth_throttle_reset(void)
{
	pthread_mutex_lock(&throttle.lock);
	memset(throttle.slot, 0, sizeof(throttle.slot));
	pthread_mutex_unlock(&throttle.lock);
	atomic_store(&throttle.throttled, 0);
	atomic_store(&throttle.evicted, 0);
}

void basicauth_throttle_stats(struct basicauth_throttle_stats *st)
{
	uint64_t now = mono_ns(), n = 0;

	pthread_mutex_lock(&throttle.lock);
	for (size_t i = 0; i < BASICAUTH_THROTTLE_SLOTS; i++)
		n += slot_is_live(&throttle.slot[i], now);
	pthread_mutex_unlock(&throttle.lock);
	st->tracked = n;
	st->throttled = atomic_load(&throttle.throttled);
	st->evicted = atomic_load(&throttle.evicted);
}

int basicauth_write_metrics(struct strbuf *out)
{
	struct basicauth_throttle_stats st;
	int err;

	basicauth_throttle_stats(&st);
	err = prom_metric_u64(out, "stackd_http_auth_throttled_total", "counter",
			      "Basic-auth checks answered 429 without bcrypt: the client address "
			      "failed too often (per-address back-off).",
			      st.throttled);
	err =
	    err
		?: prom_metric_u64(out, "stackd_http_auth_throttle_addresses", "gauge",
				   "Client addresses with failed logins on record (at most 1024).",
				   st.tracked);
	return err
		   ?: prom_metric_u64(out, "stackd_http_auth_throttle_evicted_total", "counter",
				      "Addresses forgotten by the login back-off because its table "
				      "was full.",
				      st.evicted);
}

enum basicauth_result basicauth_check(struct basicauth *ba, const char *authorization,
				      const void *client, struct basicauth_verdict *v)
{
	char cred[BASICAUTH_MAX_CRED_LEN + 1];
	const struct webconfig_user *u;
	struct webconfig_user key;
	enum basicauth_result res = BASICAUTH_INVALID;
	uint8_t mac[MAC_SZ];
	const char *p;
	char *colon;
	size_t len;
	struct basicauth_verdict dummy;
	bool is_ok;
	long n;

	if (!v)
		v = &dummy;
	memset(v, 0, sizeof(*v));
	if (!basicauth_is_enabled(ba))
		return BASICAUTH_OK;
	if (!authorization)
		return BASICAUTH_MISSING;
	/* RFC 7617: the scheme is case-insensitive; one or more spaces follow. */
	if (strncasecmp(authorization, "Basic ", 6) != 0)
		return BASICAUTH_MISSING;
	for (p = authorization + 6; *p == ' '; p++)
		;
	len = strlen(p);
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	n = len / 4 * 3 <= BASICAUTH_MAX_CRED_LEN ? b64_decode(p, len, cred, sizeof(cred)) : -1;
	if (n < 0)
		return BASICAUTH_MISSING;
	colon = strchr(cred, ':');
	if (!colon || (size_t)n != strlen(cred)) {
		res = BASICAUTH_MISSING; /* no separator, or a NUL inside */
		goto cleanup;
	}
	*colon = '\0';

	cache_mac(cred, colon + 1, mac);
	if (cache_lookup(ba, mac)) {
		res = BASICAUTH_OK;
		goto cleanup;
	}
	/* Only after the cache: a scraper's remembered success is never held up. */
	v->retry_after_s = basicauth_throttle_wait_s(client, mono_ns());
	if (v->retry_after_s) {
		atomic_fetch_add(&throttle.throttled, 1);
		res = BASICAUTH_THROTTLED;
		goto cleanup;
	}
	key.name = cred;
	u = bsearch(&key, ba->users, ba->user_cnt, sizeof(*ba->users), cmp_user);
	v->did_bcrypt = true;
	/* An unknown user still costs a bcrypt run: no timing oracle for user names. */
	is_ok = bcrypt_matches(colon + 1, u ? u->hash : ba->dummy_hash) && u;
	basicauth_throttle_note(client, is_ok, mono_ns());
	if (is_ok) {
		cache_insert(ba, mac);
		res = BASICAUTH_OK;
	}
cleanup:
	explicit_bzero(cred, sizeof(cred));
	explicit_bzero(mac, sizeof(mac));
	return res;
}
