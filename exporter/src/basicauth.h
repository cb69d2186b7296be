/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP basic auth against bcrypt hashes (basic_auth_users of the web config).
 *
 * bcrypt is slow on purpose (tens of ms per check at cost 10), and a
 * Prometheus server presents the same credentials every scrape. A successful
 * check is therefore remembered for BASICAUTH_CACHE_TTL_S, keyed by an HMAC
 * (random per-process key) of user and password: the cache holds no password,
 * and not even a plain fast hash of one that could be brute-forced offline
 * from a memory dump. Failures are never cached.
 *
 * One struct basicauth is built per loaded configuration and never changed
 * (its cache aside); a reload builds a new one, so an old password stops
 * working the moment the new object is installed. Reference counted: the
 * server swaps the current object while requests still hold the old one.
 */
#ifndef STACKD_EXPORTER_BASICAUTH_H
#define STACKD_EXPORTER_BASICAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/webconfig.h"

#define BASICAUTH_CACHE_TTL_S	60
#define BASICAUTH_CACHE_ENTRIES 64
/* bcrypt runs at once; more wait, so wrong passwords cannot take every CPU. */
#define BASICAUTH_MAX_PARALLEL 2
/* Longest "user:password" we decode; longer is refused unchecked. */
#define BASICAUTH_MAX_CRED_LEN 512

struct basicauth;

enum basicauth_result {
	BASICAUTH_OK = 0,
	BASICAUTH_MISSING, /* no or malformed Authorization: Basic header */
	BASICAUTH_INVALID, /* unknown user or wrong password */
};

/* Copies the users of @wc (none: the object accepts everyone). */
int basicauth_new(const struct webconfig *wc, struct basicauth **out);
void basicauth_get(struct basicauth *ba);
/* Drops a reference; the last one frees. NULL-safe. */
void basicauth_put(struct basicauth *ba);
bool basicauth_is_enabled(const struct basicauth *ba);
/*
 * Checks an Authorization header value (NULL when absent). Blocks for a
 * bcrypt run unless cached; *@did_bcrypt (optional) says whether it ran.
 * Thread-safe.
 */
enum basicauth_result basicauth_check(struct basicauth *ba, const char *authorization,
				      bool *did_bcrypt);

#endif
