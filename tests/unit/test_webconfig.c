// SPDX-License-Identifier: Apache-2.0
/*
 * --web.config.file parsing: real files in a scratch directory, certificates
 * made with openssl at test time (no committed keys).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "exporter/webconfig.h"

/* bcrypt of "secret", cost 4 (fast) */
#define HASH "$2b$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW"

static char dir[PATH_MAX];

static void write_file(const char *name, mode_t mode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void write_file(const char *name, mode_t mode, const char *fmt, ...)
{
	char path[PATH_MAX + 64];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int load(const char *name, struct webconfig **wc, char *err, size_t err_sz)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return webconfig_load(path, wc, err, err_sz);
}

static int setup(void **state)
{
	const char *tmp = getenv("STACKD_TEST_TMP");
	char cmd[4 * PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/webconfig.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/certs && cd %s/certs && "
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=stackd-test "
		 "-keyout server.key -out server.crt >/dev/null 2>&1 && "
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other "
		 "-keyout other.key -out other.crt >/dev/null 2>&1",
		 dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_valid_relative_paths(void **state)
{
	struct webconfig *wc = NULL;
	char err[512], want[PATH_MAX + 64];

	write_file("valid.yml", 0600,
		   "# a comment\n"
		   "tls_server_config:\n"
		   "  cert_file: certs/server.crt\n"
		   "  key_file: \"certs/server.key\"\n"
		   "  client_ca_file: %s/certs/other.crt\n"
		   "  client_auth_type: RequireAndVerifyClientCert\n"
		   "  min_version: TLS13\n"
		   "basic_auth_users:\n"
		   "  bob: %s\n"
		   "  alice: '%s'\n",
		   dir, HASH, HASH);
	/* Relative to the file's directory, not to ours. */
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(load("valid.yml", &wc, err, sizeof(err)), 0);
	assert_non_null(wc);
	assert_true(wc->has_tls);
	snprintf(want, sizeof(want), "%s/certs/server.crt", dir);
	assert_string_equal(wc->cert_file, want);
	snprintf(want, sizeof(want), "%s/certs/server.key", dir);
	assert_string_equal(wc->key_file, want);
	snprintf(want, sizeof(want), "%s/certs/other.crt", dir);
	assert_string_equal(wc->client_ca_file, want);
	assert_non_null(strstr(wc->cert_pem, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(wc->key_pem, "PRIVATE KEY"));
	assert_int_equal(wc->client_auth, WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT);
	assert_int_equal(wc->min_version, WEBCONFIG_TLS13);
	assert_string_equal(webconfig_tls_priorities(wc), "NORMAL:-VERS-ALL:+VERS-TLS1.3");
	assert_int_equal(wc->user_cnt, 2);
	assert_string_equal(webconfig_user_hash(wc, "alice"), HASH);
	assert_string_equal(webconfig_user_hash(wc, "bob"), HASH);
	assert_null(webconfig_user_hash(wc, "carol"));
	webconfig_free(wc);
}

static void test_defaults_and_empty(void **state)
{
	struct webconfig *wc = NULL;
	char err[512];

	write_file(
	    "tls.yml", 0644,
	    "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n");
	assert_int_equal(load("tls.yml", &wc, err, sizeof(err)), 0);
	assert_true(wc->has_tls);
	assert_int_equal(wc->min_version, WEBCONFIG_TLS12);
	assert_int_equal(wc->client_auth, WEBCONFIG_NO_CLIENT_CERT);
	assert_string_equal(webconfig_tls_priorities(wc),
			    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
	assert_int_equal(wc->user_cnt, 0);
	webconfig_free(wc);

	/* Empty file, or empty sections: plain HTTP, no auth (as exporter-toolkit). */
	write_file("empty.yml", 0600, "%s", "");
	assert_int_equal(load("empty.yml", &wc, err, sizeof(err)), 0);
	assert_false(wc->has_tls);
	assert_int_equal(wc->user_cnt, 0);
	webconfig_free(wc);
	write_file("nulls.yml", 0600, "tls_server_config:\nbasic_auth_users: ~\n");
	assert_int_equal(load("nulls.yml", &wc, err, sizeof(err)), 0);
	assert_false(wc->has_tls);
	webconfig_free(wc);

	/* Auth only. */
	write_file("auth.yml", 0600, "basic_auth_users: {alice: \"%s\"}\n", HASH);
	assert_int_equal(load("auth.yml", &wc, err, sizeof(err)), 0);
	assert_false(wc->has_tls);
	assert_int_equal(wc->user_cnt, 1);
	webconfig_free(wc);
	webconfig_free(NULL);
}

/* Loads @name expecting @want_err and a message containing every given fragment. */
static void expect_error(const char *name, int want_err, const char *frag1, const char *frag2)
{
	struct webconfig *wc = (struct webconfig *)0x1;
	char err[768];
	int ret;

	ret = load(name, &wc, err, sizeof(err));
	if (ret != want_err || !strstr(err, frag1) || (frag2 && !strstr(err, frag2)))
		fail_msg("%s: got %d \"%s\", want %d with \"%s\"%s%s", name, ret, err, want_err,
			 frag1, frag2 ? " and " : "", frag2 ? frag2 : "");
	assert_null(wc);
	assert_non_null(strstr(err, name)); /* the message names the file */
}

static void test_unknown_keys(void **state)
{
	write_file("unknown_top.yml", 0600, "basic_auth_users: {}\ntls_config:\n  cert_file: x\n");
	expect_error("unknown_top.yml", -EINVAL, "unknown key \"tls_config\"", "line 2");
	write_file("unknown_tls.yml", 0600,
		   "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: "
		   "certs/server.key\n  min_versoin: TLS13\n");
	expect_error("unknown_tls.yml", -EINVAL, "unknown key \"min_versoin\" in tls_server_config",
		     "line 4");
	write_file("toolkit_only.yml", 0600,
		   "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: "
		   "certs/server.key\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n");
	expect_error("toolkit_only.yml", -EINVAL, "cipher_suites", "does not support");
	write_file("http_server.yml", 0600, "http_server_config:\n  http2: false\n");
	expect_error("http_server.yml", -EINVAL, "http_server_config", "does not support");
	write_file("dup.yml", 0600, "basic_auth_users:\n  a: %s\n  a: %s\n", HASH, HASH);
	expect_error("dup.yml", -EINVAL, "duplicate key \"a\"", NULL);
}

static void test_missing_files(void **state)
{
	struct webconfig *wc = NULL;
	char err[512];

	write_file("nocert.yml", 0600,
		   "tls_server_config:\n  cert_file: certs/missing.crt\n  key_file: "
		   "certs/server.key\n");
	expect_error("nocert.yml", -ENOENT, "certs/missing.crt", "No such file");
	write_file("nokey.yml", 0600, "tls_server_config:\n  cert_file: certs/server.crt\n");
	expect_error("nokey.yml", -EINVAL, "key_file is required", NULL);
	write_file("mismatch.yml", 0600,
		   "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: "
		   "certs/other.key\n");
	expect_error("mismatch.yml", -EINVAL, "cert_file", "key_file");
	write_file("notpem.yml", 0600,
		   "tls_server_config:\n  cert_file: notpem.yml\n  key_file: certs/server.key\n");
	expect_error("notpem.yml", -EINVAL, "cert_file", NULL);

	assert_int_equal(load("does-not-exist.yml", &wc, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "does-not-exist.yml"));
	assert_null(wc);
}

static void test_bad_yaml(void **state)
{
	write_file("bad.yml", 0600, "tls_server_config:\n  cert_file: [unclosed\n  key_file: x\n");
	expect_error("bad.yml", -EINVAL, "invalid YAML", "line ");
	write_file("tabs.yml", 0600, "tls_server_config:\n\tcert_file: x\n");
	expect_error("tabs.yml", -EINVAL, "invalid YAML", NULL);
	write_file("list.yml", 0600, "- a\n- b\n");
	expect_error("list.yml", -EINVAL, "mapping", NULL);
	write_file("scalar_tls.yml", 0600, "tls_server_config: yes\n");
	expect_error("scalar_tls.yml", -EINVAL, "tls_server_config: want a mapping", NULL);
}

static void test_bad_values(void **state)
{
	write_file("clear.yml", 0600, "basic_auth_users:\n  alice: hunter2\n");
	expect_error("clear.yml", -EINVAL, "not a bcrypt hash", "alice");
	/* A cost past WEBCONFIG_BCRYPT_MAX_COST: each wrong password would pin a core. */
	write_file("dear.yml", 0600, "basic_auth_users:\n  bob: '$2b$13$%s'\n", &HASH[7]);
	expect_error("dear.yml", -EINVAL, "has cost 13, more than 12", "bob");
	write_file("dearest.yml", 0600, "basic_auth_users:\n  bob: '$2y$31$%s'\n", &HASH[7]);
	expect_error("dearest.yml", -EINVAL, "has cost 31", "htpasswd -nbB -C 10");
	write_file("cost12.yml", 0600, "basic_auth_users:\n  bob: '$2b$12$%s'\n", &HASH[7]);
	{
		struct webconfig *wc = NULL;
		char err[256];

		assert_int_equal(load("cost12.yml", &wc, err, sizeof(err)), 0);
		assert_int_equal(strncmp(webconfig_user_hash(wc, "bob"), "$2b$12$", 7), 0);
		webconfig_free(wc);
	}
	write_file("colon.yml", 0600, "basic_auth_users:\n  'a:b': %s\n", HASH);
	expect_error("colon.yml", -EINVAL, "contains ':'", NULL);
	write_file("version.yml", 0600,
		   "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: "
		   "certs/server.key\n  min_version: TLS11\n");
	expect_error("version.yml", -EINVAL, "TLS11 is not supported", NULL);
	write_file("authtype.yml", 0600,
		   "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: "
		   "certs/server.key\n  client_auth_type: RequireClientCert\n");
	expect_error("authtype.yml", -EINVAL, "unknown value \"RequireClientCert\"", NULL);
	write_file("noca.yml", 0600,
		   "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: "
		   "certs/server.key\n  client_auth_type: RequireAndVerifyClientCert\n");
	expect_error("noca.yml", -EINVAL, "needs client_ca_file", NULL);
	write_file("catype.yml", 0600,
		   "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: "
		   "certs/server.key\n  client_ca_file: certs/other.crt\n");
	expect_error("catype.yml", -EINVAL, "client_auth_type is NoClientCert", NULL);
	write_file("range.yml", 0600,
		   "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: "
		   "certs/server.key\n  min_version: TLS13\n  max_version: TLS12\n");
	expect_error("range.yml", -EINVAL, "max_version is below min_version", NULL);
}

static void test_world_writable(void **state)
{
	write_file("ww.yml", 0666, "basic_auth_users: {}\n");
	expect_error("ww.yml", -EPERM, "world-writable", "0666");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_relative_paths),
	    cmocka_unit_test(test_defaults_and_empty),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_missing_files),
	    cmocka_unit_test(test_bad_yaml),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_world_writable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
