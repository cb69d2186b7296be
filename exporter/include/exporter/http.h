/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP server (libmicrohttpd, event-driven: a couple of epoll threads
 * serve every connection, so an idle or slow connection costs a few KB and
 * no thread; work that takes time runs on a small pool of worker threads).
 *
 * Routes:
 *   GET /debug/pprof/profile?seconds=N  Go net/http/pprof semantics
 *   GET /metrics                         Prometheus text 0.0.4
 *   GET /-/healthy                       200 "OK" while the process serves (liveness)
 *   GET /-/ready                         200 once handlers.is_ready() (readiness), else 503
 *   GET /                                what burns CPU now, with links (handlers.page)
 *   GET /debug/pprof/history?...         pprof of a past time range (handlers.page)
 *   GET /debug/pprof/folded?...          collapsed stacks (handlers.page)
 *   GET /debug/pprof/speedscope?...      the same stacks as a speedscope file (handlers.page)
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
 * Abuse bounds: max_connections overall (at the limit, the connection that
 * has waited longest for a request header is evicted for the new one) and
 * max_connections_per_client per client IP (excess closed at accept); a connection must
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

/* A parsed profile or page request. */
/* Which profile endpoint a request came to. */
enum http_profile_kind {
	HTTP_PROFILE_CPU,    /* /debug/pprof/profile */
	HTTP_PROFILE_OFFCPU, /* /debug/pprof/offcpu */
	HTTP_PROFILE_WALL,   /* /debug/pprof/wall */
};

struct http_profile_req {
	unsigned seconds;
	enum http_profile_kind kind;
	const void *conn;   /* opaque; for http_req_arg() */
	size_t max_body_sz; /* pages: a larger answer is refused (413); 0: no cap */
};

/* Look up a query argument of the request (NULL when absent). */
const char *http_req_arg(const struct http_profile_req *req, const char *key);

/* What a profile callback returns: either a body (status 200) or an error. */
struct http_reply {
	int status;    /* 200, or 4xx/5xx with msg */
	uint8_t *body; /* malloc'd; the server frees it */
	size_t body_len;
	char msg[256];		  /* plain-text error message when status != 200 */
	const char *content_type; /* static string; NULL: a pprof profile (octet-stream) */
	bool retry_after;	  /* a 503 the client should retry: adds Retry-After */
};

/* Fill @reply with an error: @status (4xx/5xx) and a plain-text message. */
void http_reply_errorf(struct http_reply *reply, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The non-blocking pages, answered from what the agent holds. */
enum http_page {
	HTTP_PAGE_INDEX,      /* GET /: what burns CPU, with links */
	HTTP_PAGE_HISTORY,    /* GET /debug/pprof/history: pprof of a past time range */
	HTTP_PAGE_FOLDED,     /* GET /debug/pprof/folded: collapsed stacks */
	HTTP_PAGE_FLAMEGRAPH, /* GET /flamegraph: an interactive flame graph page */
	HTTP_PAGE_SPEEDSCOPE, /* GET /debug/pprof/speedscope: the folded stacks as speedscope JSON
			       */
};

/* The server's side of a profile window, handed to profile_start. */
struct http_waiter;

/*
 * The agent calls this exactly once per window that profile_start returned,
 * when it closes (or aborts), unless profile_end(..., NULL) dropped it
 * first. Any thread, any lock held: it only queues work and never calls
 * back into the agent. It may run before profile_start has returned.
 */
void http_profile_ready(struct http_waiter *w);

struct http_handlers {
	void *ctx;
	/*
	 * Opens a window of req->seconds and returns its handle, or NULL with
	 * an error in @reply. Must not block. The request's arguments
	 * (http_req_arg) are readable only during this call.
	 */
	void *(*profile_start)(void *ctx, const struct http_profile_req *req,
			       struct http_waiter *waiter, struct http_reply *reply);
	/*
	 * Ends a window: after http_profile_ready, fills @reply with the
	 * profile (on a worker thread; may take a while). With @reply NULL the
	 * window is dropped, whatever its state (the client went away, or the
	 * server stops): once this returns, http_profile_ready must not be
	 * called for it. Called exactly once per window.
	 */
	void (*profile_end)(void *ctx, void *window, struct http_reply *reply);
	/*
	 * Answers one of the pages, on a worker thread; NULL: / is a static
	 * list of links and the other pages are 404. Called from several
	 * threads at once; req->max_body_sz is the cap on the answer.
	 */
	void (*page)(void *ctx, enum http_page page, const struct http_profile_req *req,
		     struct http_reply *reply);
	/* Appends the agent's metrics; called from many threads at once. */
	int (*metrics)(void *ctx, struct strbuf *out);
	/*
	 * /-/ready answers 200 when this returns true (NULL: always ready); when
	 * false, @why (NUL-terminated, at most @why_sz) says why, for the 503's body.
	 */
	bool (*is_ready)(void *ctx, char *why, size_t why_sz);
};

struct http_opts {
	const char *listen_address;	  /* "host:port", "[v6]:port" or ":port" */
	unsigned max_profile_seconds;	  /* larger seconds get 400 */
	unsigned default_profile_seconds; /* when seconds is absent: 30 */
	unsigned max_connections;	  /* 0 means 512; at most half of RLIMIT_NOFILE */
	unsigned max_concurrent_profiles; /* excess gets 503 */
	struct http_handlers handlers;
	/*
	 * Idle keep-alive timeout, and the time a connection has to deliver a
	 * whole request header; 0 means 30. A profile request's own window is
	 * added to it while the request blocks.
	 */
	unsigned idle_timeout_seconds;
	unsigned max_connections_per_client; /* 0 means 16 */
	unsigned max_page_requests; /* page requests at once (running or queued); 0 means 4 */
	size_t max_page_bytes;	    /* largest page answer; 0 means 64 MiB */
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
	uint64_t connections_rejected_total;	  /* --web.max-connections */
	uint64_t connections_rejected_per_client; /* --web.max-connections-per-client */
	uint64_t connections_timed_out;		  /* no complete request within read_timeout */
	uint64_t connections_evicted;	     /* waiting for a header when the limit was reached */
	uint64_t profile_requests_abandoned; /* the client went away during the window */
	uint64_t page_requests_in_flight;
	uint64_t page_requests_rejected_busy; /* 503: max_page_requests running */
	uint64_t page_requests_rejected_size; /* 413: answer above max_page_bytes */
	uint64_t auth_missing;		      /* 401: no usable Authorization header */
	uint64_t auth_invalid;		      /* 401: unknown user or wrong password */
	uint64_t auth_bcrypt_checks;	      /* bcrypt runs (cache misses) */
	uint64_t tls_client_cert_rejected;    /* handshakes refused for the client certificate */
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
