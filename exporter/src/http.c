// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP server on libmicrohttpd: one thread per connection, so a profile
 * request that blocks for its whole window never stalls /metrics or another
 * profile request.
 *
 * We bind the listen socket ourselves and hand it to MHD: that way a taken
 * port is reported as -EADDRINUSE instead of a NULL daemon, and the socket's
 * ownership is ours (MHD_quiesce_daemon gives it back before MHD_stop_daemon).
 *
 * Query strings are untrusted: the raw request target is captured through the
 * URI log callback (before MHD unescapes it) and validated strictly before any
 * handler runs; MHD's own unescaping is lenient and silently truncates at %00.
 */
#include "exporter/http.h"
#include "query.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "exporter/promtext.h"

#define HTTP_DEFAULT_PROFILE_SECONDS 30
/* Generous enough for any scraper; a bound so one request cannot pin a thread for days. */
#define HTTP_DEFAULT_MAX_PROFILE_SECONDS     300
#define HTTP_DEFAULT_MAX_CONNECTIONS	     64
#define HTTP_DEFAULT_MAX_CONCURRENT_PROFILES 16
#define HTTP_DEFAULT_IDLE_TIMEOUT_SECONDS    30
/* Longest request target (path + query) we look at; longer gets 414. */
#define HTTP_MAX_URI_LEN 4096
/* Cap on the /metrics body; the agent's families are far below this. */
#define HTTP_METRICS_MAX_SZ (8u << 20)
/* How long http_server_stop waits for requests in flight to be answered. */
#define HTTP_STOP_GRACE_MS 5000
/* Seconds a 503-rejected profile client is told to wait. */
#define HTTP_RETRY_AFTER	"5"

#define CT_TEXT	 "text/plain; charset=utf-8"
#define CT_HTML	 "text/html; charset=utf-8"
#define CT_OCTET "application/octet-stream"

struct http_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	unsigned max_profile_seconds;
	unsigned default_profile_seconds;
	unsigned max_concurrent_profiles;
	unsigned idle_timeout_seconds;
	struct http_handlers handlers;
	_Atomic uint64_t requests[6]; /* by status class, [0] unused */
	_Atomic uint64_t profiles_in_flight;
	_Atomic uint64_t profiles_rejected;
	_Atomic uint64_t requests_active; /* from on_uri to on_completed */
};

enum route {
	ROUTE_NONE,
	ROUTE_INDEX,
	ROUTE_PROFILE,
	ROUTE_METRICS,
	ROUTE_HEALTHY,
	ROUTE_READY,
};

/* Per-request state, created by the URI log callback, freed on completion. */
struct http_req_ctx {
	enum route route; /* ROUTE_NONE until the first call has checked the request */
	bool is_answered;
	bool is_uri_too_long;
	bool has_long_timeout;
	char uri[]; /* raw request target, as sent */
};

static const char index_html[] =
    "<!DOCTYPE html>\n"
    "<html><head><meta charset=\"utf-8\"><title>stackd</title></head>\n"
    "<body><h1>stackd</h1><ul>\n"
    "<li><a href=\"/metrics\">/metrics</a></li>\n"
    "<li><a href=\"/debug/pprof/profile?seconds=10\">/debug/pprof/profile?seconds=10</a>"
    " (CPU profile, 10 s)</li>\n"
    "<li><a href=\"/-/healthy\">/-/healthy</a></li>\n"
    "</ul></body></html>\n";

const char *http_req_arg(const struct http_profile_req *req, const char *key)
{
	if (!req || !req->conn || !key)
		return NULL;
	/* MHD's API is not const-correct; lookups do not modify the connection. */
	return MHD_lookup_connection_value((struct MHD_Connection *)req->conn,
					   MHD_GET_ARGUMENT_KIND, key);
}

static void count_status(struct http_server *s, unsigned status)
{
	unsigned cls = status / 100;

	if (cls >= 1 && cls <= 5)
		atomic_fetch_add_explicit(&s->requests[cls], 1, memory_order_relaxed);
}

/*
 * Queues @resp (our reference is dropped either way: MHD keeps its own) with
 * @status. A client that went away makes MHD's later send fail, which only
 * closes the connection: MHD sends with MSG_NOSIGNAL, so there is no SIGPIPE.
 */
static enum MHD_Result queue(struct http_server *s, struct MHD_Connection *conn,
			     struct http_req_ctx *rc, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO; /* out of memory: MHD closes the connection */
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES) {
		count_status(s, status);
		if (rc)
			rc->is_answered = true;
	}
	return ret;
}

static enum MHD_Result queue_static(struct http_server *s, struct MHD_Connection *conn,
				    struct http_req_ctx *rc, unsigned status,
				    const char *content_type, const char *body)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	return queue(s, conn, rc, status, resp);
}

/*
 * Go net/http/pprof's error shape: text/plain, X-Go-Pprof: 1, message ending
 * in a newline. @extra_name/@extra_value add one more header (Allow, Retry-After).
 */
static enum MHD_Result queue_error(struct http_server *s, struct MHD_Connection *conn,
				   struct http_req_ctx *rc, unsigned status, const char *extra_name,
				   const char *extra_value, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static enum MHD_Result queue_error(struct http_server *s, struct MHD_Connection *conn,
				   struct http_req_ctx *rc, unsigned status, const char *extra_name,
				   const char *extra_value, const char *fmt, ...)
{
	struct MHD_Response *resp;
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	if (n == 0 || msg[n - 1] != '\n')
		msg[n++] = '\n';
	msg[n] = '\0';

	resp = MHD_create_response_from_buffer(n, msg, MHD_RESPMEM_MUST_COPY);
	if (resp) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CT_TEXT);
		MHD_add_response_header(resp, "X-Go-Pprof", "1");
		if (extra_name)
			MHD_add_response_header(resp, extra_name, extra_value);
	}
	return queue(s, conn, rc, status, resp);
}

/* Takes a profile slot unless max_concurrent_profiles are already taken. */
static bool profile_slot_get(struct http_server *s)
{
	uint64_t cur = atomic_load(&s->profiles_in_flight);

	do {
		if (cur >= s->max_concurrent_profiles)
			return false;
	} while (!atomic_compare_exchange_weak(&s->profiles_in_flight, &cur, cur + 1));
	return true;
}

static enum MHD_Result serve_profile(struct http_server *s, struct MHD_Connection *conn,
				     struct http_req_ctx *rc)
{
	struct http_profile_req req = {.seconds = s->default_profile_seconds, .conn = conn};
	struct http_reply *reply = NULL;
	struct MHD_Response *resp;
	const char *query = strchr(rc->uri, '?');
	enum MHD_Result ret;
	unsigned status;

	switch (parse_seconds(query ? query + 1 : "", s->max_profile_seconds, &req.seconds)) {
	case SECONDS_OK:
		break;
	case SECONDS_DUPLICATE:
		return queue_error(s, conn, rc, MHD_HTTP_BAD_REQUEST, NULL, NULL,
				   "duplicate \"seconds\" parameter");
	case SECONDS_TOO_LARGE:
		return queue_error(s, conn, rc, MHD_HTTP_BAD_REQUEST, NULL, NULL,
				   "profile duration exceeds the server's maximum of %u seconds",
				   s->max_profile_seconds);
	case SECONDS_INVALID:
	default:
		return queue_error(s, conn, rc, MHD_HTTP_BAD_REQUEST, NULL, NULL,
				   "invalid value for \"seconds\": want an integer from 1 to %u",
				   s->max_profile_seconds);
	}

	if (!profile_slot_get(s)) {
		atomic_fetch_add(&s->profiles_rejected, 1);
		return queue_error(s, conn, rc, MHD_HTTP_SERVICE_UNAVAILABLE,
				   MHD_HTTP_HEADER_RETRY_AFTER, HTTP_RETRY_AFTER,
				   "too many concurrent profile requests (limit %u), retry later",
				   s->max_concurrent_profiles);
	}

	/*
	 * MHD's idle timeout counts from the connection's last socket
	 * activity, which is before this window. 0.9.75 happens to refresh it
	 * before its next check (test_profile_outlives_idle_timeout passes
	 * without this), but that is internal ordering; stretching the
	 * timeout by the window makes it a non-question. The completion
	 * callback restores the idle value for keep-alive.
	 */
	if (s->idle_timeout_seconds) {
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
					  s->idle_timeout_seconds + req.seconds);
		rc->has_long_timeout = true;
	}

	/* Heap, not stack: the handler may build large things on its own stack. */
	reply = calloc(1, sizeof(*reply));
	if (reply)
		s->handlers.profile(s->handlers.ctx, &req, reply);
	atomic_fetch_sub(&s->profiles_in_flight, 1);
	if (!reply)
		return queue_error(s, conn, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
				   "out of memory");

	status = reply->status;
	if (status == MHD_HTTP_OK) {
		if (reply->body && reply->body_len) {
			resp = MHD_create_response_from_buffer(reply->body_len, reply->body,
							       MHD_RESPMEM_MUST_FREE);
			if (resp)
				reply->body = NULL; /* MHD owns it now */
		} else {
			resp =
			    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		}
		if (resp) {
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CT_OCTET);
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
						"attachment; filename=\"profile\"");
		}
		ret = queue(s, conn, rc, MHD_HTTP_OK, resp);
		goto cleanup;
	}

	reply->msg[sizeof(reply->msg) - 1] = '\0';
	if (status < 400 || status > 599) {
		/* A handler bug; never pass an odd status on to the scraper. */
		ret = queue_error(s, conn, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
				  "profile handler failed%s%s", reply->msg[0] ? ": " : "",
				  reply->msg);
		goto cleanup;
	}
	ret = queue_error(s, conn, rc, status, NULL, NULL, "%s",
			  reply->msg[0] ? reply->msg : "profile failed");
cleanup:
	if (reply)
		free(reply->body);
	free(reply);
	return ret;
}

static int write_metric_u64(struct strbuf *sb, const char *name, const char *type, const char *help,
			    uint64_t v)
{
	int err = prom_family(sb, name, type, help);

	return err ?: prom_sample_u64(sb, name, NULL, 0, v);
}

int http_server_write_metrics(const struct http_server *s, struct strbuf *out)
{
	static const char *const classes[] = {NULL, "1xx", "2xx", "3xx", "4xx", "5xx"};
	struct http_stats st;
	int err, i;

	if (!s || !out)
		return -EINVAL;
	http_server_get_stats(s, &st);
	err = prom_family(out, "stackd_http_requests_total", "counter",
			  "HTTP requests answered by stackd's server, by status class.");
	if (err)
		return err;
	/* Every class but 1xx (never sent), always: a stable series set for rate(). */
	for (i = 2; i <= 5; i++) {
		struct prom_label l = {.name = "code", .value = classes[i]};

		err = prom_sample_u64(out, "stackd_http_requests_total", &l, 1, st.requests[i]);
		if (err)
			return err;
	}
	err = write_metric_u64(out, "stackd_http_profile_requests_in_flight", "gauge",
			       "Profile requests currently blocking for their window.",
			       st.profile_requests_in_flight);
	return err
		   ?: write_metric_u64(out, "stackd_http_profile_requests_rejected_total",
				       "counter",
				       "Profile requests answered 503 because "
				       "max_concurrent_profiles were in flight.",
				       st.profile_requests_rejected);
}

static enum MHD_Result serve_metrics(struct http_server *s, struct MHD_Connection *conn,
				     struct http_req_ctx *rc)
{
	struct MHD_Response *resp;
	struct strbuf sb;
	enum MHD_Result ret;
	size_t len = 0;
	char *body;
	int err = 0;

	strbuf_init(&sb, HTTP_METRICS_MAX_SZ);
	if (s->handlers.metrics)
		err = s->handlers.metrics(s->handlers.ctx, &sb);
	if (!err)
		err = http_server_write_metrics(s, &sb);
	if (err) {
		strbuf_free(&sb);
		return queue_error(s, conn, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
				   "error writing metrics: %s", strerror(-err));
	}
	body = strbuf_detach(&sb, &len);
	if (body) {
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(body);
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, PROM_CONTENT_TYPE);
	ret = queue(s, conn, rc, MHD_HTTP_OK, resp);
	return ret;
}

static enum route route_of(const char *url)
{
	if (strcmp(url, "/debug/pprof/profile") == 0)
		return ROUTE_PROFILE;
	if (strcmp(url, "/metrics") == 0)
		return ROUTE_METRICS;
	if (strcmp(url, "/-/healthy") == 0)
		return ROUTE_HEALTHY;
	if (strcmp(url, "/-/ready") == 0)
		return ROUTE_READY;
	if (strcmp(url, "/") == 0)
		return ROUTE_INDEX;
	return ROUTE_NONE;
}

/*
 * MHD calls this at least twice per request: once the headers are in, then
 * with any body, then once more with none. Refusals (bad URI, unknown path,
 * method) are queued on the first call so that a body is never read; MHD
 * then closes the connection, which is right for them. Answers are queued on
 * the last call only: an answer queued early also costs the keep-alive.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct http_server *s = cls;
	struct http_req_ctx *rc = *req_cls;
	const char *why;

	if (!rc)
		return queue_error(s, conn, NULL, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
				   "out of memory");
	if (rc->is_answered || *upload_data_size) {
		/* A body nobody asked for: drop it. */
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (rc->route == ROUTE_NONE) {
		if (rc->is_uri_too_long)
			return queue_error(s, conn, rc, MHD_HTTP_URI_TOO_LONG, NULL, NULL,
					   "request URI too long (limit %d bytes)",
					   HTTP_MAX_URI_LEN);
		why = uri_check(rc->uri);
		if (why)
			return queue_error(s, conn, rc, MHD_HTTP_BAD_REQUEST, NULL, NULL, "%s",
					   why);
		rc->route = route_of(url);
		if (rc->route == ROUTE_NONE)
			return queue_error(s, conn, rc, MHD_HTTP_NOT_FOUND, NULL, NULL,
					   "404 page not found");
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return queue_error(s, conn, rc, MHD_HTTP_METHOD_NOT_ALLOWED,
					   MHD_HTTP_HEADER_ALLOW, "GET, HEAD",
					   "method not allowed");
		return MHD_YES;
	}

	switch (rc->route) {
	case ROUTE_PROFILE:
		return serve_profile(s, conn, rc);
	case ROUTE_METRICS:
		return serve_metrics(s, conn, rc);
	case ROUTE_HEALTHY:
		return queue_static(s, conn, rc, MHD_HTTP_OK, CT_TEXT, "OK\n");
	case ROUTE_READY:
		if (s->handlers.is_ready && !s->handlers.is_ready(s->handlers.ctx))
			return queue_static(s, conn, rc, MHD_HTTP_SERVICE_UNAVAILABLE, CT_TEXT,
					    "Not ready: BPF programs not attached yet\n");
		return queue_static(s, conn, rc, MHD_HTTP_OK, CT_TEXT, "Ready\n");
	case ROUTE_INDEX:
	default:
		return queue_static(s, conn, rc, MHD_HTTP_OK, CT_HTML, index_html);
	}
}

/* Called once per request with the raw target, before MHD unescapes anything. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	size_t len = strlen(uri);
	struct http_req_ctx *rc;

	struct http_server *s = cls;

	if (len > HTTP_MAX_URI_LEN) {
		rc = calloc(1, sizeof(*rc) + 1);
		if (rc)
			rc->is_uri_too_long = true;
	} else {
		rc = calloc(1, sizeof(*rc) + len + 1);
		if (rc)
			memcpy(rc->uri, uri, len);
	}
	if (rc)
		atomic_fetch_add(&s->requests_active, 1);
	return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_req_ctx *rc = *req_cls;

	if (rc && rc->has_long_timeout && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
					  s->idle_timeout_seconds);
	if (rc)
		atomic_fetch_sub(&s->requests_active, 1);
	free(rc);
	*req_cls = NULL;
}

/* MHD's messages are about single clients (resets, timeouts): debug level only. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	pr_debug("http: %s", msg);
}

/*
 * Splits "host:port", "[v6]:port" or ":port". An unbracketed IPv6 literal is
 * ambiguous and rejected, as Go does.
 */
static int split_host_port(const char *addr, char *host, size_t host_sz, char *port, size_t port_sz)
{
	const char *colon, *h = addr;
	size_t hlen, plen, i;
	unsigned long pnum = 0;

	if (!addr || !*addr)
		return -EINVAL;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = addr + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		if (hlen == 0)
			return -EINVAL;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - addr);
		if (memchr(addr, ':', hlen) || memchr(addr, '[', hlen) || memchr(addr, ']', hlen))
			return -EINVAL;
	}
	plen = strlen(colon + 1);
	if (plen == 0 || plen > 5 || hlen >= host_sz || plen >= port_sz)
		return -EINVAL;
	for (i = 0; i < plen; i++) {
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			return -EINVAL;
		pnum = pnum * 10 + (unsigned long)(colon[1 + i] - '0');
	}
	if (pnum > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, colon + 1, plen + 1);
	return 0;
}

static int listen_on(const struct sockaddr *sa, socklen_t sa_len, int *fd_out)
{
	int fd, one = 1, zero = 0, err;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	/* "[::]" and ":port" mean every address, IPv4 included, as in Go. */
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr) &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (bind(fd, sa, sa_len) < 0 || listen(fd, SOMAXCONN) < 0)
		goto fail;
	*fd_out = fd;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* Errors worth more than others when several addresses fail. */
static int err_rank(int err)
{
	return err == -EADDRINUSE ? 3 : err == -EACCES ? 2 : err == -EADDRNOTAVAIL ? 1 : 0;
}

static int bind_address(const char *addr, int *fd_out, int *family_out)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char host[256], port[8];
	int err, pass, best = 0;

	err = split_host_port(addr, host, sizeof(host), port, sizeof(port));
	if (err)
		return err;

	if (!host[0]) {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
		struct sockaddr_in sin = {.sin_family = AF_INET};

		sin6.sin6_port = htons((uint16_t)atoi(port));
		err = listen_on((struct sockaddr *)&sin6, sizeof(sin6), fd_out);
		if (!err) {
			*family_out = AF_INET6;
			return 0;
		}
		if (err != -EAFNOSUPPORT && err != -EADDRNOTAVAIL)
			return err;
		/* A kernel without IPv6: all of IPv4 is what ":port" can mean. */
		sin.sin_port = sin6.sin6_port;
		err = listen_on((struct sockaddr *)&sin, sizeof(sin), fd_out);
		if (!err)
			*family_out = AF_INET;
		return err;
	}

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	err = getaddrinfo(host, port, &hints, &res);
	if (err) {
		pr_debug("http: resolve %s: %s", host, gai_strerror(err));
		if (err == EAI_MEMORY)
			return -ENOMEM;
		return err == EAI_SYSTEM && errno ? -errno : -EADDRNOTAVAIL;
	}

	/* IPv4 first, as Go listens on 127.0.0.1 for "localhost". */
	err = -EADDRNOTAVAIL;
	for (pass = 0; pass < 2; pass++) {
		for (ai = res; ai; ai = ai->ai_next) {
			int e;

			if ((pass == 0) != (ai->ai_family == AF_INET))
				continue;
			if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
				continue;
			e = listen_on(ai->ai_addr, ai->ai_addrlen, fd_out);
			if (!e) {
				*family_out = ai->ai_family;
				freeaddrinfo(res);
				return 0;
			}
			if (!best || err_rank(e) > err_rank(best))
				best = e;
		}
	}
	freeaddrinfo(res);
	return best ?: err;
}

int http_server_start(const struct http_opts *opts, struct http_server **out)
{
	struct http_server *s = NULL;
	unsigned flags, max_conn;
	int err, family = AF_INET;

	if (!opts || !out || !opts->handlers.profile)
		return -EINVAL;
	*out = NULL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = -1;
	s->handlers = opts->handlers;
	s->max_profile_seconds = opts->max_profile_seconds ?: HTTP_DEFAULT_MAX_PROFILE_SECONDS;
	s->default_profile_seconds = opts->default_profile_seconds ?: HTTP_DEFAULT_PROFILE_SECONDS;
	s->max_concurrent_profiles =
	    opts->max_concurrent_profiles ?: HTTP_DEFAULT_MAX_CONCURRENT_PROFILES;
	s->idle_timeout_seconds = opts->idle_timeout_seconds ?: HTTP_DEFAULT_IDLE_TIMEOUT_SECONDS;
	max_conn = opts->max_connections ?: HTTP_DEFAULT_MAX_CONNECTIONS;
	if (s->default_profile_seconds > s->max_profile_seconds) {
		pr_err("http: default profile duration %us exceeds the maximum %us",
		       s->default_profile_seconds, s->max_profile_seconds);
		err = -EINVAL;
		goto cleanup;
	}

	err = bind_address(opts->listen_address, &s->listen_fd, &family);
	if (err)
		goto cleanup;

	/*
	 * poll, not select: the agent holds many fds (perf events, maps, ELF
	 * files) and select breaks past FD_SETSIZE. ITC lets MHD_quiesce_daemon
	 * hand the listen socket back.
	 */
	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC |
		MHD_USE_ERROR_LOG;
	if (family == AF_INET6)
		flags |= MHD_USE_DUAL_STACK;
	s->daemon =
	    MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
			     on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
			     MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_CONNECTION_TIMEOUT,
			     s->idle_timeout_seconds, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
			     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
			     /*
			      * MHD parses every query argument into the connection's pool
			      * before our handler runs; past the pool it drops the
			      * connection without a reply. 64 KiB holds the arguments of
			      * any request target up to HTTP_MAX_URI_LEN, so a hostile
			      * one reaches our 414/400 instead.
			      */
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
	if (!s->daemon) {
		err = errno ? -errno : -EIO;
		pr_err("http: cannot start the HTTP daemon on %s: %s", opts->listen_address,
		       strerror(-err));
		goto cleanup;
	}
	*out = s;
	return 0;
cleanup:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	free(s);
	return err;
}

void http_server_stop(struct http_server *s)
{
	MHD_socket fd;

	if (!s)
		return;
	if (s->daemon) {
		/*
		 * Take the listen socket back so that exactly one party closes
		 * it, and only after every MHD thread is gone.
		 */
		fd = MHD_quiesce_daemon(s->daemon);
		/*
		 * MHD_stop_daemon shuts every connection down at once, cutting off
		 * answers still being written (a profile request answered 503 at
		 * shutdown). Give requests in flight a bounded grace to finish.
		 */
		for (int i = 0; i < HTTP_STOP_GRACE_MS / 10 && atomic_load(&s->requests_active);
		     i++)
			usleep(10000);
		MHD_stop_daemon(s->daemon);
		if (fd == MHD_INVALID_SOCKET)
			s->listen_fd = -1; /* MHD closed it itself */
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	free(s);
}

void http_server_get_stats(const struct http_server *s, struct http_stats *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	for (i = 1; i <= 5; i++)
		out->requests[i] = atomic_load_explicit(&s->requests[i], memory_order_relaxed);
	out->profile_requests_in_flight = atomic_load(&s->profiles_in_flight);
	out->profile_requests_rejected = atomic_load(&s->profiles_rejected);
}
