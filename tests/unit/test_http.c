// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP server over real sockets: a tiny HTTP/1.1 client below sends exact
 * bytes (hostile ones included) and reads the whole answer (Connection: close).
 * The agent is replaced by fake handlers that record what they were given.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "common/strbuf.h"
#include "exporter/http.h"
#include "exporter/promtext.h"

#define FAKE_BODY "fake-profile-bytes"

struct fake {
	atomic_int profile_calls;
	atomic_uint last_seconds;
	bool do_sleep;	  /* block req->seconds, like the real handler */
	int reply_status; /* 0: 200 with a body; -1: leave the reply untouched */
	size_t body_sz;	  /* 0: FAKE_BODY */
	int metrics_err;
	char last_arg[32];	    /* http_req_arg(req, "seconds") of the last call */
	int start_status;	    /* profile_start fails with it */
	atomic_int windows_open;    /* started, not yet ended */
	atomic_int windows_dropped; /* ended with no reply (client gone, stop) */
	unsigned page_sleep_ms;	    /* the page handler takes this long */
	size_t page_sz;		    /* page body size; 0: a short page */
	atomic_int page_calls;
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;

/* A fake window: a thread that calls http_profile_ready after req->seconds (do_sleep). */
struct fake_window {
	struct fake *f;
	struct http_waiter *waiter;
	unsigned seconds;
	bool is_cancelled;
	bool has_thread;
	pthread_t tid;
	pthread_cond_t cond;
};

static void *fake_window_main(void *arg)
{
	struct fake_window *w = arg;
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += w->seconds;
	pthread_mutex_lock(&fake_lock);
	while (!w->is_cancelled && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cond, &fake_lock, &ts);
	/* Under the lock, as the agent does: once profile_end(NULL) returned, never. */
	if (!w->is_cancelled)
		http_profile_ready(w->waiter);
	pthread_mutex_unlock(&fake_lock);
	return NULL;
}

static void *fake_profile_start(void *ctx, const struct http_profile_req *req,
				struct http_waiter *waiter, struct http_reply *reply)
{
	struct fake *f = ctx;
	const char *arg = http_req_arg(req, "seconds");
	struct fake_window *w;

	atomic_fetch_add(&f->profile_calls, 1);
	atomic_store(&f->last_seconds, req->seconds);
	pthread_mutex_lock(&fake_lock); /* several handlers run at once */
	snprintf(f->last_arg, sizeof(f->last_arg), "%s", arg ? arg : "(null)");
	pthread_mutex_unlock(&fake_lock);
	if (f->start_status) {
		http_reply_errorf(reply, f->start_status, "cannot start");
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->f = f;
	w->waiter = waiter;
	w->seconds = req->seconds;
	pthread_cond_init(&w->cond, NULL);
	if (f->do_sleep) {
		assert_int_equal(pthread_create(&w->tid, NULL, fake_window_main, w), 0);
		w->has_thread = true;
	} else {
		/* At once, before profile_start returns: the server must cope. */
		http_profile_ready(waiter);
	}
	atomic_fetch_add(&f->windows_open, 1);
	return w;
}

static void fake_profile_end(void *ctx, void *window, struct http_reply *reply)
{
	struct fake *f = ctx;
	struct fake_window *w = window;

	pthread_mutex_lock(&fake_lock);
	w->is_cancelled = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&fake_lock);
	if (w->has_thread)
		pthread_join(w->tid, NULL);
	pthread_cond_destroy(&w->cond);
	free(w);
	atomic_fetch_sub(&f->windows_open, 1);
	if (!reply) {
		atomic_fetch_add(&f->windows_dropped, 1);
		return;
	}
	if (f->reply_status < 0)
		return;
	if (f->reply_status) {
		reply->status = f->reply_status;
		snprintf(reply->msg, sizeof(reply->msg), "no profile yet");
		return;
	}
	reply->status = 200;
	if (f->body_sz) {
		reply->body = calloc(1, f->body_sz);
		reply->body_len = f->body_sz;
	} else {
		reply->body = (uint8_t *)strdup(FAKE_BODY);
		reply->body_len = strlen(FAKE_BODY);
	}
}

static void fake_page(void *ctx, enum http_page page, const struct http_profile_req *req,
		      struct http_reply *reply)
{
	struct fake *f = ctx;
	size_t sz = f->page_sz ? f->page_sz : 5;

	(void)page;
	atomic_fetch_add(&f->page_calls, 1);
	assert_true(req->max_body_sz > 0);
	if (f->page_sleep_ms)
		usleep(f->page_sleep_ms * 1000);
	reply->status = 200;
	reply->content_type = "text/plain; charset=utf-8";
	reply->body = malloc(sz);
	memset(reply->body, 'p', sz);
	reply->body_len = sz;
}

static int fake_metrics(void *ctx, struct strbuf *out)
{
	struct fake *f = ctx;

	if (f->metrics_err)
		return f->metrics_err;
	return strbuf_appends(out, "# HELP fake_metric A test metric.\n"
				   "# TYPE fake_metric gauge\n"
				   "fake_metric 42\n");
}

/* ---- a minimal HTTP client ---- */

struct resp {
	int status;
	char head[8192];
	char *body;
	size_t body_len;
};

static void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

static int connect_port(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 20};
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Sends @req verbatim, reads until EOF. r->status is -1 when no status line came back. */
static int http_raw(int port, const char *req, size_t req_len, struct resp *r)
{
	size_t cap = 1 << 16, len = 0, off = 0;
	char *buf, *sep;
	int fd;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	fd = connect_port(port);
	if (fd < 0)
		return fd;
	while (off < req_len) {
		ssize_t n = send(fd, req + off, req_len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break; /* the server may answer before reading everything */
		off += (size_t)n;
	}
	buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	sep = strstr(buf, "\r\n\r\n");
	if (sep && sscanf(buf, "HTTP/1.%*d %d", &r->status) == 1) {
		size_t hlen = (size_t)(sep - buf) + 2;

		if (hlen >= sizeof(r->head))
			hlen = sizeof(r->head) - 1;
		memcpy(r->head, buf, hlen);
		r->head[hlen] = '\0';
		r->body_len = len - (size_t)(sep + 4 - buf);
		r->body = malloc(r->body_len + 1);
		assert_non_null(r->body);
		memcpy(r->body, sep + 4, r->body_len);
		r->body[r->body_len] = '\0';
	}
	free(buf);
	return 0;
}

static int http_req(int port, const char *method, const char *target, struct resp *r)
{
	char req[65536];
	int n;

	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", method,
		     target);
	assert_true(n > 0 && (size_t)n < sizeof(req));
	return http_raw(port, req, (size_t)n, r);
}

static int http_get(int port, const char *target, struct resp *r)
{
	return http_req(port, "GET", target, r);
}

/* Value of header @name (case-insensitive), or NULL. */
static const char *resp_header(const struct resp *r, const char *name, char *buf, size_t sz)
{
	const char *p = strstr(r->head, "\r\n");
	size_t nlen = strlen(name);

	while (p && p[2]) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!end)
			break;
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;
			size_t vlen;

			while (*v == ' ')
				v++;
			vlen = (size_t)(end - v);
			if (vlen >= sz)
				vlen = sz - 1;
			memcpy(buf, v, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		p = end;
	}
	return NULL;
}

static void assert_header(const struct resp *r, const char *name, const char *want)
{
	char buf[256];
	const char *got = resp_header(r, name, buf, sizeof(buf));

	if (!got || strcmp(got, want) != 0)
		fail_msg("header %s: want \"%s\", got \"%s\"\nresponse head:\n%s", name, want,
			 got ? got : "(absent)", r->head);
}

/* Go net/http/pprof's error shape. */
static void assert_pprof_error(const struct resp *r, int status)
{
	if (r->status != status)
		fail_msg("want status %d, got %d\n%s%s", status, r->status, r->head,
			 r->body ? r->body : "");
	assert_header(r, "Content-Type", "text/plain; charset=utf-8");
	assert_header(r, "X-Go-Pprof", "1");
	assert_header(r, "X-Content-Type-Options", "nosniff");
	assert_non_null(r->body);
	assert_true(r->body_len > 1);
	assert_int_equal(r->body[r->body_len - 1], '\n');
}

/* ---- server fixture ---- */

static int free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd, port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void default_opts(struct http_opts *o, struct fake *f)
{
	memset(o, 0, sizeof(*o));
	o->max_profile_seconds = 60;
	o->handlers.ctx = f;
	o->handlers.profile_start = fake_profile_start;
	o->handlers.profile_end = fake_profile_end;
	o->handlers.metrics = fake_metrics;
}

/* Starts on "@host:PORT" at a free port; retries a lost race for the port. */
static struct http_server *start_on(struct http_opts *o, const char *host, int *port_out)
{
	struct http_server *s = NULL;
	char addr[64];
	int i, err = 0;

	for (i = 0; i < 20; i++) {
		int port = free_port();

		snprintf(addr, sizeof(addr), "%s:%d", host, port);
		o->listen_address = addr;
		err = http_server_start(o, &s);
		if (!err) {
			*port_out = port;
			o->listen_address = NULL;
			return s;
		}
		if (err != -EADDRINUSE)
			break;
	}
	fail_msg("http_server_start(%s): %s", addr, strerror(-err));
	return NULL;
}

static struct http_server *start(struct http_opts *o, int *port_out)
{
	return start_on(o, "127.0.0.1", port_out);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests ---- */

static void test_profile_ok(void **state)
{
	struct fake f = {0};
	struct http_opts o;
	struct http_server *s;
	struct http_stats st;
	struct resp r;
	int port;

	default_opts(&o, &f);
	s = start(&o, &port);
	assert_int_equal(http_get(port, "/debug/pprof/profile?seconds=7", &r), 0);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "application/octet-stream");
	assert_header(&r, "Content-Disposition", "attachment; filename=\"profile\"");
	assert_header(&r, "X-Content-Type-Options", "nosniff");
	assert_int_equal(r.body_len, strlen(FAKE_BODY));
	assert_memory_equal(r.body, FAKE_BODY, r.body_len);
	assert_int_equal(atomic_load(&f.last_seconds), 7);
	assert_string_equal(f.last_arg, "7");
	resp_free(&r);

	/* Percent-encoded digits are still digits. */
	assert_int_equal(http_get(port, "/debug/pprof/profile?x=%20y&seconds=%31%32", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(atomic_load(&f.last_seconds), 12);
	resp_free(&r);

	http_server_get_stats(s, &st);
	assert_int_equal(st.requests[2], 2);
	assert_int_equal(st.profile_requests_in_flight, 0);
	http_server_stop(s);
}

static void test_profile_default_seconds(void **state)
{
	struct fake f = {0};
	struct http_opts o;
	struct http_server *s;
	struct resp r;
	int port;

	default_opts(&o, &f);
	s = start(&o, &port);
	assert_int_equal(http_get(port, "/debug/pprof/profile", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(atomic_load(&f.last_seconds), 30);
	assert_string_equal(f.last_arg, "(null)");
	resp_free(&r);
	assert_int_equal(http_get(port, "/debug/pprof/profile?debug=0", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(atomic_load(&f.last_seconds), 30);
	resp_free(&r);
	http_server_stop(s);

	default_opts(&o, &f);
	o.default_profile_seconds = 9;
	s = start(&o, &port);
	assert_int_equal(http_get(port, "/debug/pprof/profile", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(atomic_load(&f.last_seconds), 9);
	resp_free(&r);
	http_server_stop(s);

	/* A default above the maximum is a configuration error. */
	default_opts(&o, &f);
	o.listen_address = "127.0.0.1:0";
	o.max_profile_seconds = 10;
	assert_int_equal(http_server_start(&o, &s), -EINVAL);
}

static void test_profile_bad_seconds(void **state)
{
	static const struct {
		const char *query;
		const char *msg; /* substring of the body */
	} cases[] = {
	    {"seconds=abc", "invalid value for \"seconds\""},
	    {"seconds=-1", "invalid value for \"seconds\""},
	    {"seconds=+1", "invalid value for \"seconds\""},
	    {"seconds=%2B1", "invalid value for \"seconds\""},
	    {"seconds=%201", "invalid value for \"seconds\""},
	    {"seconds=1%20", "invalid value for \"seconds\""},
	    {"seconds=0", "invalid value for \"seconds\""},
	    {"seconds=00", "invalid value for \"seconds\""},
	    {"seconds=1e3", "invalid value for \"seconds\""},
	    {"seconds=1.5", "invalid value for \"seconds\""},
	    {"seconds=0x10", "invalid value for \"seconds\""},
	    {"seconds=", "invalid value for \"seconds\""},
	    {"seconds", "invalid value for \"seconds\""},
	    {"seconds=99999999999", "invalid value for \"seconds\""},
	    {"seconds=18446744073709551617", "invalid value for \"seconds\""},
	    {"seconds=4294967297", "exceeds the server's maximum of 60 seconds"},
	    {"seconds=61", "exceeds the server's maximum of 60 seconds"},
	    {"seconds=9999999999", "exceeds the server's maximum of 60 seconds"},
	    {"seconds=1&seconds=2", "duplicate \"seconds\""},
	    {"seconds=1&seconds=1", "duplicate \"seconds\""},
	    {"seconds=1&x=y&%73econds=2", "duplicate \"seconds\""},
	};
	struct fake f = {0};
	struct http_opts o;
	struct http_server *s;
	struct http_stats st;
	char target[256];
	struct resp r;
	size_t i;
	int port;

	default_opts(&o, &f);
	s = start(&o, &port);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(target, sizeof(target), "/debug/pprof/profile?%s", cases[i].query);
		assert_int_equal(http_get(port, target, &r), 0);
		assert_pprof_error(&r, 400);
		if (!strstr(r.body, cases[i].msg))
			fail_msg("%s: want \"%s\" in \"%s\"", target, cases[i].msg, r.body);
		resp_free(&r);
	}
	assert_int_equal(atomic_load(&f.profile_calls), 0);
	http_server_get_stats(s, &st);
	assert_int_equal(st.requests[4], sizeof(cases) / sizeof(cases[0]));
	http_server_stop(s);
}

static void test_profile_handler_errors(void **state)
{
	struct fake f = {.reply_status = 503};
	struct http_opts o;
	struct http_server *s;
	struct resp r;
	int port;

	default_opts(&o, &f);
	s = start(&o, &port);
	assert_int_equal(http_get(port, "/debug/pprof/profile?seconds=1", &r), 0);
	assert_pprof_error(&r, 503);
	assert_string_equal(r.body, "no profile yet\n");
	resp_free(&r);

	/* A handler that fills nothing in is a 500, not a 0 on the wire. */
	f.reply_status = -1;
	assert_int_equal(http_get(port, "/debug/pprof/profile?seconds=1", &r), 0);
	assert_pprof_error(&r, 500);
	resp_free(&r);
	http_server_stop(s);
}

static void test_not_found_and_methods(void **state)
{
	static const char *const missing[] = {"/nope", "/debug/pprof/", "/debug/pprof/heap",
					      "/metrics/", "/debug/pprof/profile/"};
	struct fake f = {0};
	struct http_opts o;
	struct http_server *s;
	char req[256];
	struct resp r;
	size_t i;
	int port, n;

	default_opts(&o, &f);
	s = start(&o, &port);
	for (i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		assert_int_equal(http_get(port, missing[i], &r), 0);
		assert_pprof_error(&r, 404);
		resp_free(&r);
	}

	/* POST with a body the server never needs to read. */
	n = snprintf(req, sizeof(req),
		     "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		     "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
	assert_int_equal(http_raw(port, req, (size_t)n, &r), 0);
	assert_pprof_error(&r, 405);
	assert_header(&r, "Allow", "GET, HEAD");
	resp_free(&r);

	assert_int_equal(http_req(port, "DELETE", "/debug/pprof/profile?seconds=1", &r), 0);
	assert_pprof_error(&r, 405);
	assert_header(&r, "Allow", "GET, HEAD");
	resp_free(&r);
	assert_int_equal(http_req(port, "PUT", "/-/healthy", &r), 0);
	assert_pprof_error(&r, 405);
	resp_free(&r);
	assert_int_equal(atomic_load(&f.profile_calls), 0);

	/* HEAD: headers, no body. */
	assert_int_equal(http_req(port, "HEAD", "/metrics", &r), 0);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", PROM_CONTENT_TYPE);
	assert_int_equal(r.body_len, 0);
	resp_free(&r);
	assert_int_equal(http_req(port, "HEAD", "/-/healthy", &r), 0);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Length", "3");
	assert_int_equal(r.body_len, 0);
	resp_free(&r);
	assert_int_equal(http_req(port, "HEAD", "/debug/pprof/profile?seconds=1", &r), 0);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "application/octet-stream");
	assert_int_equal(r.body_len, 0);
	resp_free(&r);
	http_server_stop(s);
}

static void test_metrics_health_index(void **state)
{
	struct fake f = {0};
	struct http_opts o;
	struct http_server *s;
	struct resp r;
	int port;

	default_opts(&o, &f);
	s = start(&o, &port);
	assert_int_equal(http_get(port, "/-/healthy", &r), 0);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "text/plain; charset=utf-8");
	assert_string_equal(r.body, "OK\n");
	resp_free(&r);

	assert_int_equal(http_get(port, "/", &r), 0);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "text/html; charset=utf-8");
	assert_non_null(strstr(r.body, "href=\"/metrics\""));
	assert_non_null(strstr(r.body, "href=\"/debug/pprof/profile?seconds=10\""));
	assert_non_null(strstr(r.body, "href=\"/-/healthy\""));
	resp_free(&r);

	assert_int_equal(http_get(port, "/nope", &r), 0);
	resp_free(&r);

	assert_int_equal(http_get(port, "/metrics", &r), 0);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", PROM_CONTENT_TYPE);
	assert_non_null(strstr(r.body, "fake_metric 42\n"));
	assert_non_null(strstr(r.body, "# HELP stackd_http_requests_total "));
	assert_non_null(strstr(r.body, "# TYPE stackd_http_requests_total counter\n"));
	/* Counted before this request: health, index (2xx), /nope (4xx). */
	assert_non_null(strstr(r.body, "stackd_http_requests_total{code=\"2xx\"} 2\n"));
	assert_non_null(strstr(r.body, "stackd_http_requests_total{code=\"4xx\"} 1\n"));
	assert_non_null(strstr(r.body, "stackd_http_requests_total{code=\"5xx\"} 0\n"));
	assert_non_null(strstr(r.body, "# TYPE stackd_http_profile_requests_in_flight gauge\n"
				       "stackd_http_profile_requests_in_flight 0\n"));
	assert_non_null(strstr(r.body,
			       "# TYPE stackd_http_profile_requests_rejected_total counter\n"
			       "stackd_http_profile_requests_rejected_total 0\n"));
	resp_free(&r);

	f.metrics_err = -EIO;
	assert_int_equal(http_get(port, "/metrics", &r), 0);
	assert_pprof_error(&r, 500);
	resp_free(&r);
	http_server_stop(s);
}

static void test_listen_addresses(void **state)
{
	static const char *const bad[] = {"",
					  "nonsense",
					  "127.0.0.1",
					  "127.0.0.1:",
					  "127.0.0.1:99999",
					  "127.0.0.1:-1",
					  "127.0.0.1:8x",
					  "::1:8080",
					  "[::1",
					  "[::1]8080",
					  "[]:8080",
					  "127.0.0.1:123456"};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct fake f = {0};
	struct http_opts o;
	struct http_server *s = NULL;
	socklen_t len = sizeof(sin);
	char addr[64];
	struct resp r;
	size_t i;
	int fd, port, err;

	default_opts(&o, &f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.listen_address = bad[i];
		err = http_server_start(&o, &s);
		if (err != -EINVAL)
			fail_msg("\"%s\": want -EINVAL, got %d", bad[i], err);
	}
	o.listen_address = NULL;
	assert_int_equal(http_server_start(&o, &s), -EINVAL);
	/* TEST-NET-1: never a local address. */
	o.listen_address = "192.0.2.1:8080";
	assert_int_equal(http_server_start(&o, &s), -EADDRNOTAVAIL);

	/* A port someone else listens on. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sin.sin_port));
	o.listen_address = addr;
	assert_int_equal(http_server_start(&o, &s), -EADDRINUSE);
	assert_null(s);
	snprintf(addr, sizeof(addr), "localhost:%d", ntohs(sin.sin_port));
	assert_int_equal(http_server_start(&o, &s), -EADDRINUSE);
	close(fd);

	/* ":port" is every address, so 127.0.0.1 reaches it. */
	s = start_on(&o, "", &port);
	assert_int_equal(http_get(port, "/-/healthy", &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http_server_stop(s);

	s = start_on(&o, "localhost", &port);
	assert_int_equal(http_get(port, "/-/healthy", &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http_server_stop(s);

	/* IPv6 loopback, where the machine has it. */
	snprintf(addr, sizeof(addr), "[::1]:%d", free_port());
	o.listen_address = addr;
	err = http_server_start(&o, &s);
	if (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT) {
		print_message("no IPv6 loopback here, [::1] not tested\n");
	} else {
		assert_int_equal(err, 0);
		http_server_stop(s);
	}
}

struct bg_req {
	pthread_t tid;
	int port;
	const char *target;
	struct resp r;
	double elapsed;
};

static void *bg_req_main(void *arg)
{
	struct bg_req *b = arg;
	double t0 = now_s();

	http_get(b->port, b->target, &b->r);
	b->elapsed = now_s() - t0;
	return NULL;
}

static void wait_in_flight(struct http_server *s, uint64_t want)
{
	struct http_stats st;
	int i;

	for (i = 0; i < 300; i++) {
		http_server_get_stats(s, &st);
		if (st.profile_requests_in_flight == want)
			return;
		usleep(10 * 1000);
	}
	fail_msg("in-flight profiles: want %llu, got %llu", (unsigned long long)want,
		 (unsigned long long)st.profile_requests_in_flight);
}

static void test_concurrent_profiles(void **state)
{
	struct fake f = {.do_sleep = true};
	struct bg_req bg[2];
	struct http_opts o;
	struct http_server *s;
	struct http_stats st;
	struct resp r;
	int port, i;

	default_opts(&o, &f);
	o.max_concurrent_profiles = 2;
	s = start(&o, &port);
	for (i = 0; i < 2; i++) {
		bg[i] = (struct bg_req){.port = port, .target = "/debug/pprof/profile?seconds=2"};
		assert_int_equal(pthread_create(&bg[i].tid, NULL, bg_req_main, &bg[i]), 0);
	}
	wait_in_flight(s, 2);

	/* /metrics answers while both profiles block: its body still counts both in flight. */
	assert_int_equal(http_get(port, "/metrics", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "stackd_http_profile_requests_in_flight 2\n"));
	resp_free(&r);

	/* A third profile is over the limit. */
	assert_int_equal(http_get(port, "/debug/pprof/profile?seconds=1", &r), 0);
	assert_pprof_error(&r, 503);
	assert_header(&r, "Retry-After", "5");
	resp_free(&r);
	http_server_get_stats(s, &st);
	assert_int_equal(st.profile_requests_rejected, 1);
	assert_int_equal(st.profile_requests_in_flight, 2);

	for (i = 0; i < 2; i++) {
		pthread_join(bg[i].tid, NULL);
		assert_int_equal(bg[i].r.status, 200);
		assert_string_equal(bg[i].r.body, FAKE_BODY);
		assert_true(bg[i].elapsed >= 1.9);
		resp_free(&bg[i].r);
	}
	http_server_get_stats(s, &st);
	assert_int_equal(st.profile_requests_in_flight, 0);

	/* Slots are given back. */
	assert_int_equal(http_get(port, "/debug/pprof/profile?seconds=1", &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http_server_stop(s);
}

/* A window longer than the idle timeout must still deliver its profile. */
static void test_profile_outlives_idle_timeout(void **state)
{
	struct fake f = {.do_sleep = true};
	struct http_opts o;
	struct http_server *s;
	struct resp r;
	int port;

	default_opts(&o, &f);
	o.idle_timeout_seconds = 1;
	s = start(&o, &port);
	assert_int_equal(http_get(port, "/debug/pprof/profile?seconds=3", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, FAKE_BODY);
	resp_free(&r);
	http_server_stop(s);
}

static void test_hostile_queries(void **state)
{
	static const char *const bad_pct[] = {
	    "/debug/pprof/profile?seconds=%zz",
	    "/debug/pprof/profile?seconds=%4",
	    "/debug/pprof/profile?seconds=1&x=%",
	    "/debug/pprof/profile?%%%%",
	    "/debug/pprof/profile?seconds=1%00",
	    "/metrics?x=%00",
	    "/debug/pprof/profile?seconds=1%0",
	    "/debug/pprof/profile%00?seconds=1",
	    "/-/healthy?%G1",
	};
	static const char nul_req[] = "GET /metrics?x=a\0b HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct fake f = {0};
	struct http_opts o;
	struct http_server *s;
	char *target;
	struct resp r;
	size_t i;
	int port;

	default_opts(&o, &f);
	s = start(&o, &port);
	for (i = 0; i < sizeof(bad_pct) / sizeof(bad_pct[0]); i++) {
		assert_int_equal(http_get(port, bad_pct[i], &r), 0);
		assert_pprof_error(&r, 400);
		resp_free(&r);
	}

	/* 10 KB of query: refused by length, before any parsing. */
	target = malloc(10 * 1024 + 64);
	assert_non_null(target);
	strcpy(target, "/debug/pprof/profile?seconds=1&x=");
	memset(target + strlen(target), 'A', 10 * 1024);
	target[strlen("/debug/pprof/profile?seconds=1&x=") + 10 * 1024] = '\0';
	assert_int_equal(http_get(port, target, &r), 0);
	assert_pprof_error(&r, 414);
	resp_free(&r);
	free(target);

	/* 60 KB: past MHD's own per-connection memory; it refuses by itself. */
	target = malloc(60 * 1024 + 64);
	assert_non_null(target);
	strcpy(target, "/metrics?x=");
	memset(target + strlen(target), 'B', 60 * 1024);
	target[strlen("/metrics?x=") + 60 * 1024] = '\0';
	{
		char *req = malloc(60 * 1024 + 256);
		int n;

		assert_non_null(req);
		n = sprintf(req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target);
		assert_int_equal(http_raw(port, req, (size_t)n, &r), 0);
		assert_true(r.status == -1 || (r.status >= 400 && r.status < 500));
		resp_free(&r);
		free(req);
	}
	free(target);

	/* A raw NUL in the request line: whatever MHD makes of it, no crash. */
	assert_int_equal(http_raw(port, nul_req, sizeof(nul_req) - 1, &r), 0);
	resp_free(&r);

	assert_int_equal(atomic_load(&f.profile_calls), 0);
	assert_int_equal(http_get(port, "/-/healthy", &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http_server_stop(s);
}

/* The scraper gives up mid-window: the late write fails quietly. */
static void test_client_goes_away(void **state)
{
	static const char req[] = "GET /debug/pprof/profile?seconds=1 HTTP/1.1\r\nHost: x\r\n\r\n";
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct fake f = {.do_sleep = true, .body_sz = 4 << 20};
	struct http_opts o;
	struct http_server *s;
	struct http_stats st;
	struct resp r;
	int port, fd;

	default_opts(&o, &f);
	s = start(&o, &port);
	fd = connect_port(port);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	wait_in_flight(s, 1);
	/* RST, not FIN: the server's writes hit a dead socket. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	wait_in_flight(s, 0);
	usleep(200 * 1000);

	assert_int_equal(http_get(port, "/-/healthy", &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http_server_get_stats(s, &st);
	assert_int_equal(st.profile_requests_in_flight, 0);
	http_server_stop(s);
}

/* Keep-alive: several requests on one connection, the profile one included. */
static void test_keep_alive(void **state)
{
	static const char reqs[] = "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
				   "GET /debug/pprof/profile?seconds=1 HTTP/1.1\r\nHost: x\r\n\r\n"
				   "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct fake f = {0};
	struct http_opts o;
	struct http_server *s;
	struct http_stats st;
	struct resp r;
	int port;

	default_opts(&o, &f);
	s = start(&o, &port);
	assert_int_equal(http_raw(port, reqs, sizeof(reqs) - 1, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, FAKE_BODY));
	assert_non_null(strstr(r.body, "fake_metric 42"));
	resp_free(&r);
	http_server_get_stats(s, &st);
	assert_int_equal(st.requests[2], 3);
	http_server_stop(s);
}

/* At max_connections, a connection waiting for a header is evicted for a new one. */
static void test_eviction_at_limit(void **state)
{
	struct fake f = {0};
	struct http_opts o;
	struct http_server *s;
	struct http_stats st;
	struct timeval tv = {.tv_sec = 2};
	struct resp r;
	int port, held[4], i;
	char c;

	default_opts(&o, &f);
	o.max_connections = 4;
	s = start(&o, &port);
	for (i = 0; i < 4; i++) {
		held[i] = connect_port(port);
		assert_true(held[i] >= 0);
		usleep(20 * 1000); /* distinct ages */
	}
	/* A partial header on two: still waiting, still evictable. */
	assert_int_equal(send(held[0], "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL), 16);
	assert_int_equal(send(held[1], "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL), 16);
	usleep(100 * 1000);

	/* The fifth is served: the oldest held one made room. */
	assert_int_equal(http_get(port, "/metrics", &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http_server_get_stats(s, &st);
	assert_true(st.connections_evicted >= 1);
	assert_int_equal(st.connections_rejected_total, 0);
	/* The oldest is the one closed. */
	setsockopt(held[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(recv(held[0], &c, 1, 0), 0);
	for (i = 0; i < 4; i++)
		close(held[i]);
	http_server_stop(s);
}

/* Busy connections are never evicted: with all of them busy, the new one is refused. */
static void test_no_eviction_of_busy(void **state)
{
	static const char req[] = "GET /debug/pprof/profile?seconds=3 HTTP/1.1\r\nHost: x\r\n\r\n";
	struct fake f = {.do_sleep = true};
	struct http_opts o;
	struct http_server *s;
	struct http_stats st;
	int port, fds[2], extra, i;
	char c;

	default_opts(&o, &f);
	o.max_connections = 2;
	s = start(&o, &port);
	for (i = 0; i < 2; i++) {
		fds[i] = connect_port(port);
		assert_true(fds[i] >= 0);
		assert_int_equal(send(fds[i], req, sizeof(req) - 1, MSG_NOSIGNAL),
				 (ssize_t)sizeof(req) - 1);
	}
	wait_in_flight(s, 2);
	extra = connect_port(port);
	assert_true(extra >= 0);
	assert_int_equal(recv(extra, &c, 1, 0), 0); /* closed at accept */
	close(extra);
	http_server_get_stats(s, &st);
	assert_int_equal(st.connections_evicted, 0);
	assert_int_equal(st.connections_rejected_total, 1);
	for (i = 0; i < 2; i++)
		close(fds[i]);
	http_server_stop(s);
}

/* A client that leaves during the window: slot freed and window dropped at once. */
static void test_profile_abandoned(void **state)
{
	static const char req[] = "GET /debug/pprof/profile?seconds=30 HTTP/1.1\r\nHost: x\r\n\r\n";
	struct fake f = {.do_sleep = true};
	struct http_opts o;
	struct http_server *s;
	struct http_stats st;
	double t0;
	int port, fd, i;

	default_opts(&o, &f);
	s = start(&o, &port);
	fd = connect_port(port);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	wait_in_flight(s, 1);
	/* The slot is taken before the window opens: wait for the window too. */
	for (i = 0; i < 1000 && !atomic_load(&f.windows_open); i++)
		usleep(10 * 1000);
	assert_int_equal(atomic_load(&f.windows_open), 1);
	close(fd); /* FIN: the scraper gave up */
	t0 = now_s();
	wait_in_flight(s, 0);
	/* Freed long before the 30 s window ends (a generous bound: the machine may be busy). */
	assert_true(now_s() - t0 < 10.0);
	for (i = 0; i < 100 && atomic_load(&f.windows_open); i++)
		usleep(10 * 1000);
	assert_int_equal(atomic_load(&f.windows_open), 0);
	assert_int_equal(atomic_load(&f.windows_dropped), 1);
	for (i = 0; i < 100; i++) {
		http_server_get_stats(s, &st);
		if (st.connections_open == 0)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(st.connections_open, 0);
	assert_int_equal(st.profile_requests_abandoned, 1);
	http_server_stop(s);
}

/* Stopping with a profile window open drops it and answers nothing late. */
static void test_stop_with_waiting_profile(void **state)
{
	struct fake f = {.do_sleep = true};
	struct http_opts o;
	struct http_server *s;
	struct bg_req bg;
	int port;

	default_opts(&o, &f);
	s = start(&o, &port);
	bg = (struct bg_req){.port = port, .target = "/debug/pprof/profile?seconds=30"};
	assert_int_equal(pthread_create(&bg.tid, NULL, bg_req_main, &bg), 0);
	wait_in_flight(s, 1);
	http_server_stop(s); /* waits its 5 s grace, then cancels */
	pthread_join(bg.tid, NULL);
	assert_true(bg.elapsed < 10);
	resp_free(&bg.r);
	assert_int_equal(atomic_load(&f.windows_open), 0);
	assert_int_equal(atomic_load(&f.windows_dropped), 1);
}

/* Pages: at most max_page_requests at once (503 beyond), answers capped (413). */
static void test_page_limits(void **state)
{
	struct fake f = {.page_sleep_ms = 1500};
	struct bg_req bg[2];
	struct http_opts o;
	struct http_server *s;
	struct http_stats st;
	struct resp r;
	int port, i;

	default_opts(&o, &f);
	o.handlers.page = fake_page;
	o.max_page_requests = 2;
	o.max_page_bytes = 1000;
	s = start(&o, &port);
	for (i = 0; i < 2; i++) {
		bg[i] = (struct bg_req){.port = port, .target = "/flamegraph"};
		assert_int_equal(pthread_create(&bg[i].tid, NULL, bg_req_main, &bg[i]), 0);
	}
	for (i = 0; i < 300; i++) {
		http_server_get_stats(s, &st);
		if (st.page_requests_in_flight == 2)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(st.page_requests_in_flight, 2);
	/* /metrics is not held up by slow pages: it answers while both are still running. */
	assert_int_equal(http_get(port, "/metrics", &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "stackd_http_page_requests_in_flight 2\n"));
	resp_free(&r);
	assert_int_equal(http_get(port, "/debug/pprof/folded", &r), 0);
	assert_pprof_error(&r, 503);
	assert_header(&r, "Retry-After", "5");
	assert_non_null(strstr(r.body, "too many concurrent page requests (limit 2)"));
	resp_free(&r);
	for (i = 0; i < 2; i++) {
		pthread_join(bg[i].tid, NULL);
		assert_int_equal(bg[i].r.status, 200);
		resp_free(&bg[i].r);
	}

	f.page_sleep_ms = 0;
	f.page_sz = 1001;
	assert_int_equal(http_get(port, "/", &r), 0);
	assert_pprof_error(&r, 413);
	assert_non_null(strstr(r.body, "--web.max-page-bytes"));
	resp_free(&r);
	f.page_sz = 1000;
	assert_int_equal(http_get(port, "/", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 1000);
	resp_free(&r);

	http_server_get_stats(s, &st);
	assert_int_equal(st.page_requests_rejected_busy, 1);
	assert_int_equal(st.page_requests_rejected_size, 1);
	assert_int_equal(st.page_requests_in_flight, 0);
	http_server_stop(s);
}

static int count_fds(void)
{
	char path[64];
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/* Stop gives the port back and leaks no fd (the listen socket is closed exactly once). */
static void test_stop_releases(void **state)
{
	struct fake f = {0};
	struct http_opts o;
	struct http_server *s;
	char addr[64];
	struct resp r;
	int i, port, fds;

	default_opts(&o, &f);
	fds = count_fds();
	s = start(&o, &port);
	assert_int_equal(http_get(port, "/-/healthy", &r), 0);
	resp_free(&r);
	http_server_stop(s);
	assert_int_equal(count_fds(), fds);

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	o.listen_address = addr;
	for (i = 0; i < 3; i++) {
		assert_int_equal(http_server_start(&o, &s), 0);
		assert_int_equal(http_get(port, "/-/healthy", &r), 0);
		assert_int_equal(r.status, 200);
		resp_free(&r);
		http_server_stop(s);
	}
	assert_int_equal(count_fds(), fds);
}

static void test_stop_null(void **state)
{
	struct http_stats st;
	struct strbuf sb;

	http_server_stop(NULL);
	http_server_get_stats(NULL, &st);
	assert_int_equal(st.requests[2], 0);
	strbuf_init(&sb, 1024);
	assert_int_equal(http_server_write_metrics(NULL, &sb), -EINVAL);
	strbuf_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_profile_ok),
	    cmocka_unit_test(test_profile_default_seconds),
	    cmocka_unit_test(test_profile_bad_seconds),
	    cmocka_unit_test(test_profile_handler_errors),
	    cmocka_unit_test(test_not_found_and_methods),
	    cmocka_unit_test(test_metrics_health_index),
	    cmocka_unit_test(test_listen_addresses),
	    cmocka_unit_test(test_concurrent_profiles),
	    cmocka_unit_test(test_profile_outlives_idle_timeout),
	    cmocka_unit_test(test_hostile_queries),
	    cmocka_unit_test(test_client_goes_away),
	    cmocka_unit_test(test_keep_alive),
	    cmocka_unit_test(test_eviction_at_limit),
	    cmocka_unit_test(test_no_eviction_of_busy),
	    cmocka_unit_test(test_profile_abandoned),
	    cmocka_unit_test(test_stop_with_waiting_profile),
	    cmocka_unit_test(test_page_limits),
	    cmocka_unit_test(test_stop_releases),
	    cmocka_unit_test(test_stop_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
