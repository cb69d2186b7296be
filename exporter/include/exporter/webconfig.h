/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --web.config.file: TLS and HTTP basic auth for the HTTP server, in the
 * Prometheus exporter-toolkit format (the file node_exporter and friends take):
 *
 *   tls_server_config:
 *     cert_file: server.crt          # PEM; relative paths resolve against
 *     key_file: server.key           # the config file's directory
 *     client_ca_file: ca.crt         # PEM bundle that client certs must chain to
 *     client_auth_type: RequireAndVerifyClientCert
 *     min_version: TLS12             # TLS12 (default) or TLS13
 *     max_version: TLS13             # TLS12 or TLS13 (default)
 *   basic_auth_users:
 *     alice: $2y$10$...              # bcrypt hashes only, cost at most 12
 *
 * Loading is all-or-nothing: every key is known, every file is read and the
 * certificate/key pair checked before webconfig_load() returns 0, so a caller
 * that swaps configurations (SIGHUP) never installs a half-valid one.
 * Keys that exporter-toolkit knows but stackd does not implement (cipher_suites,
 * http_server_config, ...) are refused, never silently ignored: an operator who
 * wrote them expects them to take effect.
 *
 * Ownership: a struct webconfig owns every string and buffer it points to;
 * webconfig_free() releases them all (and wipes the key). Immutable once loaded,
 * so it may be shared read-only between threads.
 */
#ifndef STACKD_EXPORTER_WEBCONFIG_H
#define STACKD_EXPORTER_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum webconfig_tls_version {
	WEBCONFIG_TLS12 = 12,
	WEBCONFIG_TLS13 = 13,
};

/* crypto/tls ClientAuthType names, as exporter-toolkit spells them. */
enum webconfig_client_auth {
	WEBCONFIG_NO_CLIENT_CERT = 0,
	WEBCONFIG_REQUEST_CLIENT_CERT,	       /* ask, accept anything or nothing */
	WEBCONFIG_REQUIRE_ANY_CLIENT_CERT,     /* a certificate must come, unverified */
	WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN, /* none is fine; one given must verify */
	WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT,
};

/*
 * The dearest bcrypt cost accepted. Every check of a wrong password runs
 * bcrypt, and each cost step doubles it: cost 12 is ~250 ms of CPU here
 * (10: 60 ms, 13: 500 ms, 14: 1 s), so a hash with cost 31 would let anyone
 * who can connect pin a core for days per request.
 */
#define WEBCONFIG_BCRYPT_MAX_COST 12

struct webconfig_user {
	char *name;
	char *hash; /* bcrypt, "$2a$", "$2b$" or "$2y$" */
};

struct webconfig {
	char *path; /* the file, as given */
	bool has_tls;
	/* Resolved paths (for messages) and their contents, NUL-terminated PEM. */
	char *cert_file, *key_file, *client_ca_file;
	char *cert_pem, *key_pem, *client_ca_pem;
	enum webconfig_tls_version min_version, max_version;
	enum webconfig_client_auth client_auth;
	struct webconfig_user *users; /* sorted by name */
	size_t user_cnt;
};

/*
 * Reads and validates @path. On failure returns -errno (-EINVAL for a bad
 * file, -ENOENT/-EACCES for a missing/unreadable one, -EPERM when the file is
 * world-writable) and writes a one-line message naming the file, and the line
 * and key when there is one, into @err.
 */
int webconfig_load(const char *path, struct webconfig **out, char *err, size_t err_sz);
void webconfig_free(struct webconfig *wc);

/* GnuTLS priority string for the configured version range (static storage). */
const char *webconfig_tls_priorities(const struct webconfig *wc);
const char *webconfig_client_auth_name(enum webconfig_client_auth ca);
/* The user's bcrypt hash, or NULL. A borrow valid as long as @wc. */
const char *webconfig_user_hash(const struct webconfig *wc, const char *name);

#endif
