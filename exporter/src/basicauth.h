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
 * Failed checks are slowed per client address: after BASICAUTH_THROTTLE_FREE
 * failures, each further one bars that address from bcrypt for twice as long
 * as the last (1 s, 2 s, 4 s ... BASICAUTH_THROTTLE_MAX_S), answered at once
 * (429) without running bcrypt; a success or BASICAUTH_THROTTLE_FORGET_S
 * without failures clears it. IPv6 addresses count per /64 (one host has a
 * whole /64 to rotate through). The table is process-wide, survives reloads,
 * and is bounded (BASICAUTH_THROTTLE_SLOTS; when full the address that failed
 * least recently is forgotten): an address can only slow itself, never lock
 * out another. A cached success is never throttled, so a scraper that shares
 * its address with a password guesser keeps working.
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
#define BASICAUTH_MAX_CRED_LEN	    512
#define BASICAUTH_THROTTLE_SLOTS    1024 /* addresses tracked: 40 KiB */
#define BASICAUTH_THROTTLE_FREE	    5	 /* failures an address has before any wait */
#define BASICAUTH_THROTTLE_MAX_S    60
#define BASICAUTH_THROTTLE_FORGET_S 900

struct basicauth;

enum basicauth_result {
	BASICAUTH_OK = 0,
	BASICAUTH_MISSING,   /* no or malformed Authorization: Basic header */
	BASICAUTH_INVALID,   /* unknown user or wrong password */
	BASICAUTH_THROTTLED, /* this address failed too often: retry later, unchecked */
};

struct basicauth_verdict {
	bool did_bcrypt;
	unsigned retry_after_s; /* BASICAUTH_THROTTLED: seconds until it may try again */
};

/* Copies the users of @wc (none: the object accepts everyone). */
int basicauth_new(const struct webconfig *wc, struct basicauth **out);
void basicauth_get(struct basicauth *ba);
/* Drops a reference; the last one frees. NULL-safe. */
void basicauth_put(struct basicauth *ba);
bool basicauth_is_enabled(const struct basicauth *ba);
/*
 * Checks an Authorization header value (NULL when absent) from @client (16
 * bytes, IPv4 as v4-mapped IPv6; NULL: unknown, never throttled). Blocks for
 * a bcrypt run unless cached or throttled; @v (optional) says which.
 * Thread-safe.
 */
enum basicauth_result basicauth_check(struct basicauth *ba, const char *authorization,
				      const void *client, struct basicauth_verdict *v);

/* The throttle by itself, at time @now_ns (CLOCK_MONOTONIC): for tests. */
unsigned basicauth_throttle_wait_s(const void *client, uint64_t now_ns);
void basicauth_throttle_note(const void *client, bool is_ok, uint64_t now_ns);
void basicauth_throttle_reset(void);

struct basicauth_throttle_stats {
	uint64_t throttled; /* checks refused unchecked (429) */
	uint64_t evicted;   /* addresses forgotten because the table was full */
	uint64_t tracked;   /* addresses with failures on record now */
};
void basicauth_throttle_stats(struct basicauth_throttle_stats *st);

struct strbuf;
/* The throttle's metrics (stackd_http_auth_throttled_total and friends). */
int basicauth_write_metrics(struct strbuf *out);

#endif
