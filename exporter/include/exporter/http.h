/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP server (libmicrohttpd, one thread per connection so a blocking
 * profile request never stalls /metrics).
 *
 * Routes:
 *   GET /debug/pprof/profile?seconds=N  Go net/http/pprof semantics
 *   GET /metrics                         Prometheus text 0.0.4
 *   GET /-/healthy                       200 "OK" while the process serves (liveness)
 *   GET /-/ready                         200 once handlers.is_ready() (readiness), else 503
 *   GET /                                what burns CPU now, with links (handlers.page)
 *   GET /debug/pprof/history?...         pprof of a past time range (handlers.page)
 *   GET /debug/pprof/folded?...          collapsed stacks (handlers.page)
 *   GET /flamegraph?...                  flame graph page (handlers.page)
 * Unknown paths get 404, other methods 405 (GET and HEAD are allowed).
 * Errors are text/plain; charset=utf-8 with the X-Go-Pprof: 1 header.
 *
 * TLS and basic auth come from a struct webconfig (--web.config.file). With
 * basic_auth_users set, every route but /-/healthy and /-/ready answers 401
 * (WWW-Authenticate: Basic realm="stackd") without valid credentials: the
 * probes stay open because kubelet-style probes rarely carry credentials and
 * the two answer nothing but "OK"/"Ready". (With a required client
 * certificate they need one too: TLS is checked before any request.)
 *
 * Abuse bounds: max_connections overall and max_connections_per_client per
 * client IP (excess connections are closed at accept); a connection must
 * deliver a complete request header within read_timeout of its start or of
 * its previous response, however slowly it trickles bytes (slow loris), else
 * it is shut down; idle keep-alive connections close after read_timeout.
 *
 * The server knows nothing about BPF: the agent supplies callbacks.
 */
#ifndef STACKD_EXPORTER_HTTP_H
#define STACKD_EXPORTER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

struct http_server;
struct webconfig;

/* A parsed profile request. */
struct http_profile_req {
	unsigned seconds;
	const void *conn; /* opaque; for http_req_arg() */
};

/* Look up a query argument of the request (NULL when absent). */
const char *http_req_arg(const struct http_profile_req *req, const char *key);

/* What a profile callback returns: either a body (status 200) or an error. */
struct http_reply {
	int status; /* 200, or 4xx/5xx with msg */
	uint8_t *body; /* malloc'd; the server frees it */
	size_t body_len;
	char msg[256]; /* plain-text error message when status != 200 */
	const char *content_type; /* static string; NULL: a pprof profile (octet-stream) */
	bool retry_after; /* a 503 the client should retry: adds Retry-After */
};

/* Fill @reply with an error: @status (4xx/5xx) and a plain-text message. */
void http_reply_errorf(struct http_reply *reply, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The non-blocking pages, answered from what the agent holds. */
enum http_page {
	HTTP_PAGE_INDEX, /* GET /: what burns CPU, with links */
	HTTP_PAGE_HISTORY, /* GET /debug/pprof/history: pprof of a past time range */
	HTTP_PAGE_FOLDED, /* GET /debug/pprof/folded: collapsed stacks */
	HTTP_PAGE_FLAMEGRAPH, /* GET /flamegraph: an interactive flame graph page */
};

struct http_handlers {
	void *ctx;
	/* Blocks for req->seconds, then fills @reply. Called from many threads at once. */
	void (*profile)(void *ctx, const struct http_profile_req *req, struct http_reply *reply);
	/*
	 * Answers one of the pages (never blocks for long); NULL: / is a static
	 * list of links and the other pages are 404. Called from many threads.
	 */
	void (*page)(void *ctx, enum http_page page, const struct http_profile_req *req,
		     struct http_reply *reply);
	/* Appends the agent's metrics; called from many threads at once. */
	int (*metrics)(void *ctx, struct strbuf *out);
	/* /-/ready answers 200 when this returns true (NULL: always ready). */
	bool (*is_ready)(void *ctx);
};

struct http_opts {
	const char *listen_address; /* "host:port", "[v6]:port" or ":port" */
	unsigned max_profile_seconds; /* larger seconds get 400 */
	unsigned default_profile_seconds; /* when seconds is absent: 30 */
	unsigned max_connections;
	unsigned max_concurrent_profiles; /* excess gets 503 */
	struct http_handlers handlers;
	/*
	 * Idle keep-alive timeout, and the time a connection has to deliver a
	 * whole request header; 0 means 30. A profile request's own window is
	 * added to it while the request blocks.
	 */
	unsigned idle_timeout_seconds;
	unsigned max_connections_per_client; /* 0 means 16 */
	/*
	 * TLS and basic auth (NULL: plain HTTP, no auth). On success the
	 * server owns it; on failure the caller still does.
	 */
	struct webconfig *web_config;
};

struct http_stats {
	uint64_t requests[6]; /* by status class: 1xx..5xx; [0] unused */
	uint64_t profile_requests_in_flight;
	uint64_t profile_requests_rejected;
	uint64_t connections_open;
	uint64_t connections_rejected_total; /* --web.max-connections */
	uint64_t connections_rejected_per_client; /* --web.max-connections-per-client */
	uint64_t connections_timed_out; /* no complete request within read_timeout */
	uint64_t auth_missing; /* 401: no usable Authorization header */
	uint64_t auth_invalid; /* 401: unknown user or wrong password */
	uint64_t auth_bcrypt_checks; /* bcrypt runs (cache misses) */
	uint64_t tls_client_cert_rejected; /* handshakes refused for the client certificate */
	uint64_t reloads_ok, reloads_failed;
	bool last_reload_ok;
};

/*
 * Binds and starts serving. Returns -EADDRINUSE when the port is taken,
 * -EINVAL for an unparsable address, -EADDRNOTAVAIL when the host does not
 * resolve to a local address, other -errno else.
 */
int http_server_start(const struct http_opts *opts, struct http_server **out);
/*
 * Re-reads @web_config_file and, when it is valid, serves new connections
 * with its TLS and auth settings: a new daemon takes over the listen socket,
 * the old one finishes its requests in flight and is stopped in the
 * background. Basic-auth changes apply at once to every connection, old ones
 * included. When the file is invalid the error is logged, the old settings
 * stay, and -errno is returned.
 */
int http_server_reload(struct http_server *s, const char *web_config_file);
/* Stops accepting, waits for in-flight requests to end, frees. NULL-safe. */
void http_server_stop(struct http_server *s);
void http_server_get_stats(const struct http_server *s, struct http_stats *out);
/* Appends the server's own metrics (stackd_http_*). */
int http_server_write_metrics(const struct http_server *s, struct strbuf *out);

#endif
