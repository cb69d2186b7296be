// SPDX-License-Identifier: Apache-2.0
/*
 * --web.config.file loader. The file is YAML, parsed with libyaml rather
 * than a parser of our own: the file sits on a node that runs as root and may
 * be written by config management or a less trusted operator, and a well-kept,
 * fuzzed parser handles YAML's corners (anchors, flow style, escapes, BOMs)
 * far better than anything we would write for three keys.
 *
 * We use libyaml's document API and walk a fixed shape (mapping of mappings
 * of scalars) to a fixed depth, so aliases cannot make the walk recurse; the
 * file size is capped, which bounds the node count.
 */
#include "exporter/webconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <yaml.h>

/* Far more than any sane config or PEM bundle; a bound on what we read as root. */
#define WEBCONFIG_MAX_FILE_SZ (1u << 20)
#define WEBCONFIG_MAX_USERS   1024

struct load_ctx {
	const char *path;
	char *dir; /* directory of path, for relative file names */
	char *err;
	size_t err_sz;
	yaml_document_t *doc;
};

static int fail(struct load_ctx *c, const yaml_node_t *at, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats "web config FILE: line N: <msg>" into c->err; returns @ret. */
static int fail(struct load_ctx *c, const yaml_node_t *at, int ret, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at)
		snprintf(c->err, c->err_sz, "web config %s: line %zu: %s", c->path,
			 at->start_mark.line + 1, msg);
	else
		snprintf(c->err, c->err_sz, "web config %s: %s", c->path, msg);
	return ret;
}

/*
 * Reads a whole regular file of at most WEBCONFIG_MAX_FILE_SZ bytes into a
 * NUL-terminated buffer. @st_out (optional) gets its fstat.
 */
static int read_file(const char *path, char **out, size_t *len_out, struct stat *st_out)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto cleanup;
	}
	if (st.st_size > WEBCONFIG_MAX_FILE_SZ) {
		err = -EFBIG;
		goto cleanup;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto cleanup;
		}
		if (n == 0)
			break; /* truncated under us: take what is there */
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	if (len_out)
		*len_out = len;
	if (st_out)
		*st_out = st;
	err = 0;
cleanup:
	free(buf);
	close(fd);
	return err;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* YAML's null: "~", "null", or nothing at all (a plain scalar only). */
static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);

	if (!n)
		return true;
	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* A string value: a scalar with no NUL inside (libyaml keeps them). */
static int get_string(struct load_ctx *c, const char *key, const yaml_node_t *v, char **out)
{
	const char *s = scalar(v);

	if (!s)
		return fail(c, v, -EINVAL, "%s: want a string", key);
	if (strlen(s) != v->data.scalar.length)
		return fail(c, v, -EINVAL, "%s: NUL byte in value", key);
	free(*out);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/* @name relative to the config file's directory, unless absolute. */
static int resolve_path(struct load_ctx *c, const char *name, char **out)
{
	if (name[0] == '/')
		*out = strdup(name);
	else if (asprintf(out, "%s/%s", c->dir, name) < 0)
		*out = NULL;
	return *out ? 0 : -ENOMEM;
}

static int load_pem(struct load_ctx *c, const char *key, const yaml_node_t *at, char **path,
		    char **pem)
{
	char *resolved = NULL;
	int err;

	err = resolve_path(c, *path, &resolved);
	if (err)
		return err;
	free(*path);
	*path = resolved;
	err = read_file(*path, pem, NULL, NULL);
	if (err == -EFBIG)
		return fail(c, at, -EINVAL, "%s %s: larger than %u bytes", key, *path,
			    WEBCONFIG_MAX_FILE_SZ);
	if (err == -EINVAL)
		return fail(c, at, -EINVAL, "%s %s: not a regular file", key, *path);
	if (err)
		return fail(c, at, err, "%s %s: %s", key, *path, strerror(-err));
	return 0;
}

/* Known to exporter-toolkit, not implemented here: refused by name. */
static bool is_toolkit_only_tls_key(const char *k)
{
	static const char *const keys[] = {
	    "cert",
	    "key",
	    "client_ca",
	    "cipher_suites",
	    "curve_preferences",
	    "prefer_server_cipher_suites",
	    "client_allowed_sans",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(k, keys[i]))
			return true;
	return false;
}

static int parse_version(struct load_ctx *c, const char *key, const yaml_node_t *v,
			 enum webconfig_tls_version *out)
{
	const char *s = scalar(v);

	if (s && !strcmp(s, "TLS12"))
		*out = WEBCONFIG_TLS12;
	else if (s && !strcmp(s, "TLS13"))
		*out = WEBCONFIG_TLS13;
	else if (s && (!strcmp(s, "TLS10") || !strcmp(s, "TLS11")))
		return fail(c, v, -EINVAL, "%s: %s is not supported (TLS12 or TLS13)", key, s);
	else
		return fail(c, v, -EINVAL, "%s: unknown TLS version \"%s\" (want TLS12 or TLS13)",
			    key, s ? s : "(not a string)");
	return 0;
}

static int parse_client_auth(struct load_ctx *c, const yaml_node_t *v,
			     enum webconfig_client_auth *out)
{
	static const char *const names[] = {
	    [WEBCONFIG_NO_CLIENT_CERT] = "NoClientCert",
	    [WEBCONFIG_REQUEST_CLIENT_CERT] = "RequestClientCert",
	    [WEBCONFIG_REQUIRE_ANY_CLIENT_CERT] = "RequireAnyClientCert",
	    [WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN] = "VerifyClientCertIfGiven",
	    [WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT] = "RequireAndVerifyClientCert",
	};
	const char *s = scalar(v);

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum webconfig_client_auth)i;
			return 0;
		}
	}
	return fail(c, v, -EINVAL,
		    "client_auth_type: unknown value \"%s\" (want NoClientCert, "
		    "RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or "
		    "RequireAndVerifyClientCert)",
		    s ? s : "(not a string)");
}

const char *webconfig_client_auth_name(enum webconfig_client_auth ca)
{
	switch (ca) {
	case WEBCONFIG_REQUEST_CLIENT_CERT:
		return "RequestClientCert";
	case WEBCONFIG_REQUIRE_ANY_CLIENT_CERT:
		return "RequireAnyClientCert";
	case WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN:
		return "VerifyClientCertIfGiven";
	case WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT:
		return "RequireAndVerifyClientCert";
	case WEBCONFIG_NO_CLIENT_CERT:
	default:
		return "NoClientCert";
	}
}

/* Checks the files with GnuTLS now, so a bad pair fails the load, not the daemon start. */
static int check_tls_files(struct load_ctx *c, struct webconfig *wc, const yaml_node_t *at)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_datum_t cert, key, ca;
	int ret, err = 0;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return -ENOMEM;
	cert.data = (unsigned char *)wc->cert_pem;
	cert.size = (unsigned)strlen(wc->cert_pem);
	key.data = (unsigned char *)wc->key_pem;
	key.size = (unsigned)strlen(wc->key_pem);
	ret = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (ret < 0) {
		err = fail(c, at, -EINVAL, "cert_file %s / key_file %s: %s", wc->cert_file,
			   wc->key_file, gnutls_strerror(ret));
		goto cleanup;
	}
	if (wc->client_ca_pem) {
		ca.data = (unsigned char *)wc->client_ca_pem;
		ca.size = (unsigned)strlen(wc->client_ca_pem);
		ret = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
		if (ret <= 0) {
			err = fail(c, at, -EINVAL, "client_ca_file %s: %s", wc->client_ca_file,
				   ret < 0 ? gnutls_strerror(ret) : "no PEM certificate in it");
			goto cleanup;
		}
	}
cleanup:
	gnutls_certificate_free_credentials(cred);
	return err;
}

static int parse_tls(struct load_ctx *c, struct webconfig *wc, const yaml_node_t *map)
{
	const yaml_node_t *cert_at = map, *ca_at = map;
	bool has_auth_type = false, has_max = false;
	yaml_node_pair_t *p;
	int err;

	if (is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return fail(c, map, -EINVAL, "tls_server_config: want a mapping");
	wc->min_version = WEBCONFIG_TLS12;
	wc->max_version = WEBCONFIG_TLS13;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *k = scalar(kn);

		if (!k)
			return fail(c, kn, -EINVAL, "tls_server_config: keys must be strings");
		if (!strcmp(k, "cert_file")) {
			err = get_string(c, k, v, &wc->cert_file);
			cert_at = v;
		} else if (!strcmp(k, "key_file")) {
			err = get_string(c, k, v, &wc->key_file);
		} else if (!strcmp(k, "client_ca_file")) {
			err = get_string(c, k, v, &wc->client_ca_file);
			ca_at = v;
		} else if (!strcmp(k, "client_auth_type")) {
			err = parse_client_auth(c, v, &wc->client_auth);
			has_auth_type = true;
		} else if (!strcmp(k, "min_version")) {
			err = parse_version(c, k, v, &wc->min_version);
		} else if (!strcmp(k, "max_version")) {
			err = parse_version(c, k, v, &wc->max_version);
			has_max = true;
		} else if (is_toolkit_only_tls_key(k)) {
			return fail(
			    c, kn, -EINVAL,
			    "tls_server_config.%s is an exporter-toolkit option that stackd "
			    "does not support; remove it",
			    k);
		} else {
			return fail(c, kn, -EINVAL, "unknown key \"%s\" in tls_server_config", k);
		}
		if (err)
			return err;
		/* An empty string is "not set", as in exporter-toolkit. */
		if (wc->cert_file && !*wc->cert_file)
			free(wc->cert_file), wc->cert_file = NULL;
		if (wc->key_file && !*wc->key_file)
			free(wc->key_file), wc->key_file = NULL;
		if (wc->client_ca_file && !*wc->client_ca_file)
			free(wc->client_ca_file), wc->client_ca_file = NULL;
	}

	if (!wc->cert_file && !wc->key_file && !wc->client_ca_file && !has_auth_type)
		return 0; /* an empty tls_server_config: plain HTTP, as in exporter-toolkit */
	if (!wc->cert_file)
		return fail(c, map, -EINVAL, "tls_server_config: cert_file is required");
	if (!wc->key_file)
		return fail(c, map, -EINVAL, "tls_server_config: key_file is required");
	if (has_max && wc->max_version < wc->min_version)
		return fail(c, map, -EINVAL, "tls_server_config: max_version is below min_version");
	if (wc->client_ca_file && wc->client_auth == WEBCONFIG_NO_CLIENT_CERT)
		return fail(c, ca_at, -EINVAL,
			    "client_ca_file is set but client_auth_type is NoClientCert; set "
			    "client_auth_type (e.g. RequireAndVerifyClientCert)");
	if (!wc->client_ca_file && (wc->client_auth == WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN ||
				    wc->client_auth == WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT))
		return fail(c, map, -EINVAL, "client_auth_type %s needs client_ca_file",
			    webconfig_client_auth_name(wc->client_auth));

	err = load_pem(c, "cert_file", cert_at, &wc->cert_file, &wc->cert_pem);
	if (!err)
		err = load_pem(c, "key_file", map, &wc->key_file, &wc->key_pem);
	if (!err && wc->client_ca_file)
		err = load_pem(c, "client_ca_file", ca_at, &wc->client_ca_file, &wc->client_ca_pem);
	if (!err)
		err = check_tls_files(c, wc, map);
	if (!err)
		wc->has_tls = true;
	return err;
}

/*
 * "$2a$", "$2b$" or "$2y$", a two-digit cost 04..31, "$", 53 bcrypt-base64
 * chars. *@cost gets the cost (-1 when there is none to read).
 */
static bool is_bcrypt(const char *h, int *cost)
{
	static const char alphabet[] =
	    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	*cost = -1;
	if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) || !h[2] ||
	    h[3] != '$' || h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9' || h[6] != '$')
		return false;
	*cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (*cost < 4 || *cost > 31)
		return false;
	return strspn(h + 7, alphabet) == 53;
}

static int cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct webconfig_user *)a)->name,
		      ((const struct webconfig_user *)b)->name);
}

static int parse_users(struct load_ctx *c, struct webconfig *wc, const yaml_node_t *map)
{
	yaml_node_pair_t *p;
	int err, cost;
	size_t n;

	if (is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return fail(c, map, -EINVAL,
			    "basic_auth_users: want a mapping of user: bcrypt-hash");
	n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
	if (n > WEBCONFIG_MAX_USERS)
		return fail(c, map, -EINVAL, "basic_auth_users: more than %d users",
			    WEBCONFIG_MAX_USERS);
	wc->users = calloc(n ?: 1, sizeof(*wc->users));
	if (!wc->users)
		return -ENOMEM;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		struct webconfig_user *u = &wc->users[wc->user_cnt];
		const char *k = scalar(kn);

		if (!k || !*k || strlen(k) != kn->data.scalar.length)
			return fail(c, kn, -EINVAL,
				    "basic_auth_users: user names must be "
				    "non-empty strings");
		if (strchr(k, ':'))
			return fail(c, kn, -EINVAL,
				    "basic_auth_users: user name \"%s\" contains ':' (basic auth "
				    "cannot carry it)",
				    k);
		err = get_string(c, k, v, &u->hash);
		if (err) {
			free(u->hash);
			u->hash = NULL;
			return err;
		}
		if (!is_bcrypt(u->hash, &cost)) {
			free(u->hash);
			u->hash = NULL;
			return fail(c, v, -EINVAL,
				    "basic_auth_users: the password of \"%s\" is not a bcrypt hash "
				    "($2y$... from 'htpasswd -nbB USER PASSWORD'); stackd never "
				    "takes clear-text passwords",
				    k);
		}
		if (cost > WEBCONFIG_BCRYPT_MAX_COST) {
			free(u->hash);
			u->hash = NULL;
			return fail(c, v, -EINVAL,
				    "basic_auth_users: the bcrypt hash of \"%s\" has cost %d, more "
				    "than %d: every wrong password would cost ~%g s of CPU; "
				    "rehash with 'htpasswd -nbB -C 10 USER PASSWORD'",
				    k, cost, WEBCONFIG_BCRYPT_MAX_COST,
				    0.25 * (double)(1ull << (cost - WEBCONFIG_BCRYPT_MAX_COST)));
		}
		u->name = strdup(k);
		if (!u->name) {
			free(u->hash);
			u->hash = NULL;
			return -ENOMEM;
		}
		wc->user_cnt++;
	}
	qsort(wc->users, wc->user_cnt, sizeof(*wc->users), cmp_user);
	for (size_t i = 1; i < wc->user_cnt; i++)
		if (!strcmp(wc->users[i - 1].name, wc->users[i].name))
			return fail(c, map, -EINVAL, "basic_auth_users: user \"%s\" listed twice",
				    wc->users[i].name);
	return 0;
}

static int parse_root(struct load_ctx *c, struct webconfig *wc)
{
	const yaml_node_t *root = yaml_document_get_root_node(c->doc);
	bool seen_tls = false, seen_users = false;
	yaml_node_pair_t *p;
	int err;

	if (!root || is_null(root))
		return 0; /* an empty file: plain HTTP, no auth */
	if (root->type != YAML_MAPPING_NODE)
		return fail(c, root, -EINVAL, "want a mapping at the top level");
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *k = scalar(kn);

		if (!k)
			return fail(c, kn, -EINVAL, "top-level keys must be strings");
		if (!strcmp(k, "tls_server_config")) {
			if (seen_tls)
				return fail(c, kn, -EINVAL, "duplicate key \"%s\"", k);
			seen_tls = true;
			err = parse_tls(c, wc, v);
		} else if (!strcmp(k, "basic_auth_users")) {
			if (seen_users)
				return fail(c, kn, -EINVAL, "duplicate key \"%s\"", k);
			seen_users = true;
			err = parse_users(c, wc, v);
		} else if (!strcmp(k, "http_server_config")) {
			return fail(c, kn, -EINVAL,
				    "http_server_config is an exporter-toolkit option that stackd "
				    "does not support; remove it");
		} else {
			return fail(c, kn, -EINVAL, "unknown key \"%s\"", k);
		}
		if (err)
			return err;
	}
	return 0;
}

/* Duplicate keys inside tls_server_config: libyaml keeps both; refuse them. */
static int check_dup_keys(struct load_ctx *c, const yaml_node_t *map)
{
	yaml_node_pair_t *p, *q;

	if (!map || map->type != YAML_MAPPING_NODE)
		return 0;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *kp = yaml_document_get_node(c->doc, p->key);

		for (q = p + 1; q < map->data.mapping.pairs.top; q++) {
			const yaml_node_t *kq = yaml_document_get_node(c->doc, q->key);

			if (scalar(kp) && scalar(kq) && !strcmp(scalar(kp), scalar(kq)))
				return fail(c, kq, -EINVAL, "duplicate key \"%s\"", scalar(kq));
		}
	}
	return 0;
}

int webconfig_load(const char *path, struct webconfig **out, char *err, size_t err_sz)
{
	struct load_ctx c = {.path = path, .err = err, .err_sz = err_sz};
	struct webconfig *wc = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	bool has_parser = false, has_doc = false;
	const yaml_node_t *root;
	char *text = NULL, *slash;
	struct stat st;
	size_t len = 0;
	int ret;

	if (!path || !out || !err || !err_sz)
		return -EINVAL;
	*out = NULL;
	err[0] = '\0';

	ret = read_file(path, &text, &len, &st);
	if (ret == -EFBIG) {
		ret = fail(&c, NULL, -EINVAL, "larger than %u bytes", WEBCONFIG_MAX_FILE_SZ);
		goto cleanup;
	}
	if (ret == -EINVAL) {
		ret = fail(&c, NULL, -EINVAL, "not a regular file");
		goto cleanup;
	}
	if (ret) {
		ret = fail(&c, NULL, ret, "cannot read: %s", strerror(-ret));
		goto cleanup;
	}
	/*
	 * It decides who may read profiles and which key the server uses; a
	 * file anyone may rewrite gives that decision to anyone.
	 */
	if (st.st_mode & S_IWOTH) {
		ret = fail(&c, NULL, -EPERM,
			   "is world-writable (mode %04o); anyone could change TLS and auth "
			   "settings: chmod o-w it",
			   (unsigned)(st.st_mode & 07777));
		goto cleanup;
	}

	c.dir = strdup(path);
	if (!c.dir) {
		ret = -ENOMEM;
		goto cleanup;
	}
	slash = strrchr(c.dir, '/');
	if (!slash)
		strcpy(c.dir, ".");
	else if (slash == c.dir)
		slash[1] = '\0';
	else
		*slash = '\0';

	wc = calloc(1, sizeof(*wc));
	if (!wc || !(wc->path = strdup(path))) {
		ret = -ENOMEM;
		goto cleanup;
	}
	if (!yaml_parser_initialize(&parser)) {
		ret = -ENOMEM;
		goto cleanup;
	}
	has_parser = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = fail(&c, NULL, -EINVAL, "line %zu: invalid YAML: %s%s%s",
			   parser.problem_mark.line + 1, parser.problem ? parser.problem : "error",
			   parser.context ? " " : "", parser.context ? parser.context : "");
		goto cleanup;
	}
	has_doc = true;
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	ret = check_dup_keys(&c, root);
	for (yaml_node_pair_t *p =
		 root && root->type == YAML_MAPPING_NODE ? root->data.mapping.pairs.start : NULL;
	     !ret && p && p < root->data.mapping.pairs.top; p++)
		ret = check_dup_keys(&c, yaml_document_get_node(&doc, p->value));
	if (!ret)
		ret = parse_root(&c, wc);
	if (ret)
		goto cleanup;
	*out = wc;
	wc = NULL;
cleanup:
	if (ret == -ENOMEM && !err[0])
		fail(&c, NULL, ret, "out of memory");
	if (has_doc)
		yaml_document_delete(&doc);
	if (has_parser)
		yaml_parser_delete(&parser);
	free(c.dir);
	free(text);
	webconfig_free(wc);
	return ret;
}

static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void webconfig_free(struct webconfig *wc)
{
	if (!wc)
		return;
	for (size_t i = 0; i < wc->user_cnt; i++) {
		free(wc->users[i].name);
		free(wc->users[i].hash);
	}
	free(wc->users);
	free(wc->path);
	free(wc->cert_file);
	free(wc->key_file);
	free(wc->client_ca_file);
	free(wc->cert_pem);
	free_secret(wc->key_pem);
	free(wc->client_ca_pem);
	free(wc);
}

const char *webconfig_tls_priorities(const struct webconfig *wc)
{
	if (wc && wc->min_version == WEBCONFIG_TLS13)
		return "NORMAL:-VERS-ALL:+VERS-TLS1.3";
	if (wc && wc->max_version == WEBCONFIG_TLS12)
		return "NORMAL:-VERS-ALL:+VERS-TLS1.2";
	return "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
}

const char *webconfig_user_hash(const struct webconfig *wc, const char *name)
{
	struct webconfig_user key = {.name = (char *)name};
	const struct webconfig_user *u;

	if (!wc || !name || !wc->user_cnt)
		return NULL;
	u = bsearch(&key, wc->users, wc->user_cnt, sizeof(*wc->users), cmp_user);
	return u ? u->hash : NULL;
}
