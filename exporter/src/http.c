// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP server on libmicrohttpd, event-driven: HTTP_EVENT_THREADS epoll
 * threads serve every connection, so a connection that sends nothing, or a
 * byte a second, costs a few KB and no thread, and a crowd of them cannot
 * take the slots a scraper needs (see the accept policy, on_accept).
 *
 * Nothing slow runs on those threads. Work that takes time (page handlers,
 * encoding a profile, bcrypt when basic auth is on) is a job: the connection
 * is suspended (MHD_suspend_connection), a worker of a small pool runs the
 * job, fills the request's reply and resumes the connection, and MHD calls
 * on_request again, which queues the answer. A profile request holds no
 * thread at all during its window: it waits suspended until the agent calls
 * http_profile_ready, and a watcher thread notices a client that goes away
 * meanwhile (EPOLLRDHUP on the socket MHD no longer polls), drops the window
 * and frees the slot at once.
 *
 * We bind the listen socket ourselves and hand it to MHD: that way a taken
 * port is reported as -EADDRINUSE instead of a NULL daemon, and the socket's
 * ownership is ours (MHD_quiesce_daemon gives it back before MHD_stop_daemon).
 *
 * Query strings are untrusted: the raw request target is captured through the
 * URI log callback (before MHD unescapes it) and validated strictly before any
 * handler runs; MHD's own unescaping is lenient and silently truncates at %00.
 *
 * TLS: MHD's HTTPS mode (GnuTLS). Client certificates are checked during the
 * handshake, by a GnuTLS verify function installed on each session when MHD
 * announces the connection (the session exists then, the handshake has not
 * started), so a client without an acceptable certificate never gets to send
 * a request. A reload starts a new daemon on a dup() of the listen socket and
 * quiesces the old one, so the socket never stops listening and a new daemon
 * that fails to start leaves the old one serving.
 *
 * Connection bookkeeping (limits, eviction, slow-client deadlines) is ours,
 * not MHD's: MHD's limits are per daemon (two run during a reload) and refuse
 * without telling us, so nothing could be counted.
 *
 * Locks: s->lock (connections, auth, retired daemons) and s->jobs_lock (jobs)
 * are never held together. The agent calls http_profile_ready under its own
 * lock, so jobs_lock is taken after the agent's and the handlers are never
 * called with jobs_lock held. MHD_suspend/resume_connection are called under
 * jobs_lock; MHD calls none of our callbacks under the mutex they take.
 */
#include "exporter/http.h"
#include "basicauth.h"
#include "exporter/query.h"

#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "common/clock.h"
#include "common/list.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "exporter/promtext.h"
#include "exporter/webconfig.h"

#define HTTP_DEFAULT_PROFILE_SECONDS 30
/* Generous enough for any scraper; a bound so one request cannot pin a thread for days. */
#define HTTP_DEFAULT_MAX_PROFILE_SECONDS 300
/* An idle connection costs a few KB and no thread: room for a crowd and the scrapers. */
#define HTTP_DEFAULT_MAX_CONNECTIONS	     512
#define HTTP_DEFAULT_MAX_CONCURRENT_PROFILES 16
#define HTTP_DEFAULT_IDLE_TIMEOUT_SECONDS    30
#define HTTP_DEFAULT_MAX_CONN_PER_CLIENT     16
#define HTTP_DEFAULT_MAX_PAGE_REQUESTS	     4
#define HTTP_DEFAULT_MAX_PAGE_BYTES	     (64u << 20)
/* epoll threads of one MHD daemon: one stalled by a TLS handshake leaves the other. */
#define HTTP_EVENT_THREADS 2
/* Worker threads for jobs (pages, profile encoding, bcrypt). */
#define HTTP_WORKERS 4
/* File descriptors kept for the rest of the agent when RLIMIT_NOFILE bounds connections. */
#define HTTP_NOFILE_RESERVE 256
/* How often the housekeeping thread looks for overdue connections and retired daemons. */
#define HTTP_HOUSEKEEPING_MS 250
/* Longest request target (path + query) we look at; longer gets 414. */
#define HTTP_MAX_URI_LEN 4096
/* Cap on the /metrics body; the agent's families are far below this. */
#define HTTP_METRICS_MAX_SZ (8u << 20)
/*
 * How long http_server_stop waits for requests in flight to be answered: well
 * inside the agent's 4 s shutdown deadline, which must also cover the drain
 * thread and the teardown after it.
 */
#define HTTP_STOP_GRACE_MS 1500
/* Seconds a 503-rejected profile client is told to wait. */
#define HTTP_RETRY_AFTER "5"

#define CT_TEXT	 "text/plain; charset=utf-8"
#define CT_HTML	 "text/html; charset=utf-8"
#define CT_OCTET "application/octet-stream"

/* One MHD daemon and the web config it was started with. */
struct http_daemon {
	struct http_server *s;
	struct MHD_Daemon *mhd;
	struct webconfig *wc;	  /* owned; NULL: plain HTTP, no auth */
	struct http_daemon *next; /* on s->retired */
	uint64_t stop_by_ns;	  /* retired: stopped at the latest then */
	int quiesced_fd;       /* its listen fd once quiesced, closed only after MHD_stop_daemon */
	unsigned jobs_running; /* its requests' jobs a worker runs; under jobs_lock */
	bool jobs_closed;      /* retiring: no new job; under jobs_lock */
};

/*
 * Listen-socket dups are made and retired daemons' dups closed under this
 * lock. A quiesced daemon's fd is closed only once the daemon is stopped,
 * and only if it is still a dup of the listen socket: closing it earlier
 * lets the number be reused (by the next daemon's dup, say) while the old
 * daemon's thread may still touch it, and a double close would take the
 * new daemon's listen fd away, leaving connections queued unanswered.
 */
static pthread_mutex_t listen_fd_lock = PTHREAD_MUTEX_INITIALIZER;

/* Is @fd (still) a descriptor of the same socket as @listen_fd? */
static bool same_socket(int fd, int listen_fd)
{
	struct stat a, b;

	return fd >= 0 && fstat(fd, &a) == 0 && fstat(listen_fd, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* One accepted connection, from MHD's STARTED notification to CLOSED. */
struct http_conn {
	struct http_conn *prev, *next; /* on s->conns, under s->lock */
	struct in6_addr ip;	       /* IPv4 as v4-mapped */
	int fd;
	/* Shut down when still waiting for a request header then; 0: not waiting. */
	_Atomic uint64_t deadline_ns;
	/* Shut down by us (deadline or eviction), closing: no longer counts. Under s->lock. */
	bool is_closing;
};

/* What a suspended request waits for; jobs_lock guards the state. */
enum job_state {
	JOB_NONE,      /* no job: the request is handled on the event thread */
	JOB_STARTING,  /* profile_start running (http_profile_ready may come early) */
	JOB_WAITING,   /* a profile window is open: on s->waiting, watched */
	JOB_QUEUED,    /* on s->queue for a worker */
	JOB_RUNNING,   /* a worker runs it */
	JOB_DONE,      /* the result is in the request; on_request answers */
	JOB_CANCELLED, /* the client went away or the server stops: close */
};

enum job_kind {
	JOB_AUTH,    /* basic auth (may run bcrypt) */
	JOB_PAGE,    /* handlers.page */
	JOB_PROFILE, /* handlers.profile_end, once the window closed */
};

struct http_server {
	struct http_daemon *cur; /* serving; only the owner's thread changes it */
	int listen_fd;		 /* ours; each daemon listens on a dup() */
	int family;
	unsigned max_profile_seconds;
	unsigned default_profile_seconds;
	unsigned max_concurrent_profiles;
	unsigned idle_timeout_seconds;
	unsigned max_connections;
	unsigned max_connections_per_client;
	unsigned max_page_requests;
	size_t max_page_bytes;
	struct http_handlers handlers;
	char *listen_address;

	/* Guards auth, retired, conns, conn_cnt, closing_cnt, and the housekeeper's wake-ups. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct basicauth *auth;	     /* current credentials; requests hold a reference */
	struct http_daemon *retired; /* quiesced, finishing requests in flight */
	struct http_conn conns;	     /* list head */
	unsigned conn_cnt;
	unsigned closing_cnt; /* of conn_cnt, shut down by us and about to close */
	bool is_stopping;
	bool has_housekeeper;
	pthread_t housekeeper;

	/* Jobs: guards queue, waiting, every request's job fields, jobs_stopping. */
	pthread_mutex_t jobs_lock;
	pthread_cond_t jobs_cond;
	struct list_head queue;	  /* JOB_QUEUED requests, oldest first */
	struct list_head waiting; /* JOB_WAITING requests */
	uint64_t next_job_id;
	unsigned jobs_running; /* jobs the workers run */
	bool jobs_stopping;
	pthread_t workers[HTTP_WORKERS];
	unsigned nr_workers;
	/* The watcher: an epoll set of the sockets of JOB_WAITING requests, and its wake-up. */
	int watch_epfd, watch_evfd;
	pthread_t watcher;
	bool has_watcher;

	_Atomic uint64_t requests[6]; /* by status class, [0] unused */
	_Atomic uint64_t profiles_in_flight;
	_Atomic uint64_t profiles_rejected;
	_Atomic uint64_t profiles_abandoned;
	_Atomic uint64_t pages_in_flight;
	_Atomic uint64_t pages_rejected_busy;
	_Atomic uint64_t pages_rejected_size;
	_Atomic uint64_t requests_active; /* from on_uri to on_completed */
	_Atomic uint64_t conn_rejected_total;
	_Atomic uint64_t conn_rejected_per_client;
	_Atomic uint64_t conn_timed_out;
	_Atomic uint64_t conn_evicted;
	_Atomic uint64_t auth_missing;
	_Atomic uint64_t auth_invalid;
	_Atomic uint64_t auth_bcrypt_checks;
	_Atomic uint64_t reloads_ok;
	_Atomic uint64_t reloads_failed;
	_Atomic bool last_reload_ok;
};

/*
 * Handshakes refused in the GnuTLS verify function, which only has the
 * session: process-wide (the agent runs one server).
 */
static _Atomic uint64_t tls_client_cert_rejected;

/* Our per-connection state (NULL if its allocation failed). */
static struct http_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* (Re)starts the clock a connection has to deliver its next request header. */
static void conn_arm(struct http_server *s, struct http_conn *c)
{
	/*
	 * A second past MHD's idle timeout: a silent connection is closed by
	 * MHD first; only one that keeps trickling bytes reaches ours.
	 */
	if (c)
		atomic_store(&c->deadline_ns,
			     mono_ns() + (s->idle_timeout_seconds + 1ull) * 1000000000ull);
}

static void conn_disarm(struct http_conn *c)
{
	if (c)
		atomic_store(&c->deadline_ns, 0);
}

enum route {
	ROUTE_NONE,
	ROUTE_INDEX,
	ROUTE_PROFILE,
	ROUTE_OFFCPU,
	ROUTE_WALL,
	ROUTE_METRICS,
	ROUTE_HEALTHY,
	ROUTE_READY,
	ROUTE_HISTORY,
	ROUTE_FOLDED,
	ROUTE_SPEEDSCOPE,
	ROUTE_FLAMEGRAPH,
};

/*
 * Per-request state, created by the URI log callback, freed on completion
 * (or, if a worker still runs its job then, by the worker). The request is
 * also the job, and the struct http_waiter the agent is handed.
 */
struct http_req_ctx {
	struct list_head node; /* on s->queue or s->waiting, under jobs_lock */
	struct http_daemon *d;
	struct MHD_Connection *conn;
	enum route route; /* ROUTE_NONE until the first call has checked the request */
	bool is_answered;
	bool is_uri_too_long;
	bool needs_auth; /* checked on a worker, before anything else is answered */
	bool is_auth_checked;
	bool holds_profile_slot, holds_page_slot; /* released exactly once */
	/* Job fields, under jobs_lock (the worker owns the result fields while RUNNING). */
	enum job_state state;
	enum job_kind kind;
	bool is_suspended;   /* by us, not yet resumed */
	bool is_ready_early; /* http_profile_ready during profile_start */
	bool is_watched;
	bool is_orphan; /* the request ended while RUNNING: the worker frees it */
	uint64_t id;	/* the watcher's key: never a pointer an event could outlive */
	int fd;		/* the connection's socket, for the watcher */
	enum http_page page;
	void *window; /* profile_start's handle until profile_end */
	enum basicauth_result auth_res;
	bool did_bcrypt;
	unsigned retry_after_s;	  /* BASICAUTH_THROTTLED */
	struct http_reply *reply; /* a job's answer */
	char uri[];		  /* raw request target, as sent */
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

void http_reply_errorf(struct http_reply *reply, int status, const char *fmt, ...)
{
	va_list ap;

	reply->status = status;
	va_start(ap, fmt);
	vsnprintf(reply->msg, sizeof(reply->msg), fmt, ap);
	va_end(ap);
}

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

	conn_disarm(conn_of(conn)); /* the request is in; no more header deadline */
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

/*
 * Queue a handler's reply: its body with its content type (pprof when none),
 * as an attachment named @filename when given; or its error.
 */
static enum MHD_Result send_reply(struct http_server *s, struct MHD_Connection *conn,
				  struct http_req_ctx *rc, struct http_reply *reply,
				  const char *filename)
{
	struct MHD_Response *resp;
	unsigned status = reply->status;

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
			char disp[64];

			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
						reply->content_type ? reply->content_type
								    : CT_OCTET);
			if (filename && !reply->content_type) {
				snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"",
					 filename);
				MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
							disp);
			}
		}
		return queue(s, conn, rc, MHD_HTTP_OK, resp);
	}

	reply->msg[sizeof(reply->msg) - 1] = '\0';
	if (status < 400 || status > 599) {
		/* A handler bug; never pass an odd status on to the scraper. */
		return queue_error(s, conn, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
				   "handler failed%s%s", reply->msg[0] ? ": " : "", reply->msg);
	}
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE && reply->retry_after)
		return queue_error(s, conn, rc, status, MHD_HTTP_HEADER_RETRY_AFTER,
				   HTTP_RETRY_AFTER, "%s",
				   reply->msg[0] ? reply->msg : "unavailable");
	return queue_error(s, conn, rc, status, NULL, NULL, "%s",
			   reply->msg[0] ? reply->msg : "request failed");
}

int http_server_write_metrics(const struct http_server *s, struct strbuf *out)
{
	static const char *const classes[] = {NULL, "1xx", "2xx", "3xx", "4xx", "5xx"};
	static const char *const conn_reasons[] = {"max_connections", "max_connections_per_client"};
	static const char *const auth_reasons[] = {"missing", "invalid"};
	static const char *const page_reasons[] = {"max_page_requests", "max_page_bytes"};
	static const char *const reload_results[] = {"success", "failure"};
	struct http_stats st;
	uint64_t v[2];
	int err;

	if (!s || !out)
		return -EINVAL;
	http_server_get_stats(s, &st);
	/* Every class but 1xx (never sent), always: a stable series set for rate(). */
	err =
	    prom_metric_labelled_u64(out, "stackd_http_requests_total", "counter",
				     "HTTP requests answered by stackd's server, by status class.",
				     "code", classes + 2, st.requests + 2, 4);
	err = err
		  ?: prom_metric_u64(out, "stackd_http_profile_requests_in_flight", "gauge",
				     "Profile requests currently blocking for their window.",
				     st.profile_requests_in_flight);
	err = err
		  ?: prom_metric_u64(out, "stackd_http_profile_requests_rejected_total", "counter",
				     "Profile requests answered 503 because "
				     "max_concurrent_profiles were in flight.",
				     st.profile_requests_rejected);
	err = err
		  ?: prom_metric_u64(out, "stackd_http_connections_open", "gauge",
				     "HTTP connections currently open.", st.connections_open);
	v[0] = st.connections_rejected_total;
	v[1] = st.connections_rejected_per_client;
	err = err
		  ?: prom_metric_labelled_u64(
			 out, "stackd_http_connections_rejected_total", "counter",
			 "Connections closed at accept: --web.max-connections or "
			 "--web.max-connections-per-client reached.",
			 "reason", conn_reasons, v, 2);
	err = err
		  ?: prom_metric_u64(out, "stackd_http_connections_timed_out_total", "counter",
				     "Connections shut down for not delivering a complete request "
				     "header within --web.read-timeout (slow clients).",
				     st.connections_timed_out);
	err = err
		  ?: prom_metric_u64(out, "stackd_http_connections_evicted_total", "counter",
				     "Connections waiting for a request header shut down to make "
				     "room for a new one at --web.max-connections.",
				     st.connections_evicted);
	err = err
		  ?: prom_metric_u64(out, "stackd_http_profile_requests_abandoned_total", "counter",
				     "Profile requests whose client went away during the window "
				     "(window dropped, slot freed at once).",
				     st.profile_requests_abandoned);
	err = err
		  ?: prom_metric_u64(out, "stackd_http_page_requests_in_flight", "gauge",
				     "Page requests (/, /flamegraph, folded, history) running or "
				     "queued.",
				     st.page_requests_in_flight);
	v[0] = st.page_requests_rejected_busy;
	v[1] = st.page_requests_rejected_size;
	err = err
		  ?: prom_metric_labelled_u64(
			 out, "stackd_http_page_requests_rejected_total", "counter",
			 "Page requests refused: 503 at --web.max-page-requests, 413 "
			 "for an answer above --web.max-page-bytes.",
			 "reason", page_reasons, v, 2);
	v[0] = st.auth_missing;
	v[1] = st.auth_invalid;
	err = err
		  ?: prom_metric_labelled_u64(
			 out, "stackd_http_unauthorized_total", "counter",
			 "Requests answered 401: no usable basic-auth credentials "
			 "(missing) or a wrong user or password (invalid).",
			 "reason", auth_reasons, v, 2);
	err = err
		  ?: prom_metric_u64(out, "stackd_http_auth_bcrypt_checks_total", "counter",
				     "Passwords checked with bcrypt (successes are cached for "
				     "60 s, so steady scrapes add none).",
				     st.auth_bcrypt_checks);
	err = err ?: basicauth_write_metrics(out);
	err = err
		  ?: prom_metric_u64(out, "stackd_http_tls_client_cert_rejected_total", "counter",
				     "TLS handshakes refused for a missing or unverifiable client "
				     "certificate.",
				     st.tls_client_cert_rejected);
	v[0] = st.reloads_ok;
	v[1] = st.reloads_failed;
	err = err
		  ?: prom_metric_labelled_u64(out, "stackd_http_config_reloads_total", "counter",
					      "Web config reloads (SIGHUP), by result.", "result",
					      reload_results, v, 2);
	return err
		   ?: prom_metric_u64(out, "stackd_http_config_last_reload_successful", "gauge",
				      "1 when the last web config reload (or the start) succeeded.",
				      st.last_reload_ok ? 1 : 0);
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
	if (strcmp(url, "/debug/pprof/offcpu") == 0)
		return ROUTE_OFFCPU;
	if (strcmp(url, "/debug/pprof/wall") == 0)
		return ROUTE_WALL;
	if (strcmp(url, "/metrics") == 0)
		return ROUTE_METRICS;
	if (strcmp(url, "/-/healthy") == 0)
		return ROUTE_HEALTHY;
	if (strcmp(url, "/-/ready") == 0)
		return ROUTE_READY;
	if (strcmp(url, "/") == 0)
		return ROUTE_INDEX;
	if (strcmp(url, "/debug/pprof/history") == 0)
		return ROUTE_HISTORY;
	if (strcmp(url, "/debug/pprof/folded") == 0)
		return ROUTE_FOLDED;
	if (strcmp(url, "/debug/pprof/speedscope") == 0)
		return ROUTE_SPEEDSCOPE;
	if (strcmp(url, "/flamegraph") == 0)
		return ROUTE_FLAMEGRAPH;
	return ROUTE_NONE;
}

/* The current credentials, referenced (NULL-safe to put). */
static struct basicauth *auth_get(struct http_server *s)
{
	struct basicauth *a;

	pthread_mutex_lock(&s->lock);
	a = s->auth;
	basicauth_get(a);
	pthread_mutex_unlock(&s->lock);
	return a;
}

/* Takes a slot of @in_flight unless @limit are already taken. */
static bool slot_get(_Atomic uint64_t *in_flight, unsigned limit)
{
	uint64_t cur = atomic_load(in_flight);

	do {
		if (cur >= limit)
			return false;
	} while (!atomic_compare_exchange_weak(in_flight, &cur, cur + 1));
	return true;
}

/* Gives back the request's profile and page slots, once. */
static void slots_put(struct http_server *s, struct http_req_ctx *rc)
{
	if (rc->holds_profile_slot)
		atomic_fetch_sub(&s->profiles_in_flight, 1);
	if (rc->holds_page_slot)
		atomic_fetch_sub(&s->pages_in_flight, 1);
	rc->holds_profile_slot = rc->holds_page_slot = false;
}

/* ---- jobs: suspended requests, the worker pool and the watcher ---------------------------- */

/* Under jobs_lock: MHD serves the connection again (on_request is called once more). */
static void job_resume(struct http_req_ctx *rc)
{
	if (rc->is_suspended) {
		rc->is_suspended = false;
		MHD_resume_connection(rc->conn);
	}
}

/* Under jobs_lock: stop watching a waiting request's socket (still open: it is suspended). */
static void job_unwatch(struct http_server *s, struct http_req_ctx *rc)
{
	if (rc->is_watched) {
		epoll_ctl(s->watch_epfd, EPOLL_CTL_DEL, rc->fd, NULL);
		rc->is_watched = false;
	}
}

/* Under jobs_lock: hand @rc to a worker. */
static void job_enqueue(struct http_server *s, struct http_req_ctx *rc)
{
	rc->state = JOB_QUEUED;
	list_add_tail(&rc->node, &s->queue);
	pthread_cond_signal(&s->jobs_cond);
}

/*
 * From on_request: suspend the connection and queue @kind for a worker.
 * MHD_YES: on_request runs again once the job is done. When the server is
 * stopping, answers 503 at once instead.
 */
static enum MHD_Result job_submit(struct http_server *s, struct MHD_Connection *conn,
				  struct http_req_ctx *rc, enum job_kind kind);

/*
 * Detached (CANCELLED, on no list, under jobs_lock): drop its window, give
 * its slots back, resume it so that MHD closes it. Drops and retakes
 * jobs_lock: the agent's profile_end takes the agent's lock, which is held
 * around http_profile_ready. A suspended connection is never closed, so @rc
 * stays valid.
 */
static void job_abandon_locked(struct http_server *s, struct http_req_ctx *rc)
{
	void *window = rc->window;

	rc->window = NULL;
	pthread_mutex_unlock(&s->jobs_lock);
	if (window)
		s->handlers.profile_end(s->handlers.ctx, window, NULL);
	slots_put(s, rc);
	pthread_mutex_lock(&s->jobs_lock);
	job_resume(rc);
}

/* Under jobs_lock: take @rc off its list and mark it cancelled; false when a worker runs it. */
static bool job_detach(struct http_server *s, struct http_req_ctx *rc)
{
	switch (rc->state) {
	case JOB_WAITING:
		job_unwatch(s, rc);
		list_del(&rc->node);
		break;
	case JOB_QUEUED:
		list_del(&rc->node);
		break;
	case JOB_RUNNING:
		return false;
	default:
		break;
	}
	rc->state = JOB_CANCELLED;
	return true;
}

void http_profile_ready(struct http_waiter *w)
{
	struct http_req_ctx *rc = (struct http_req_ctx *)w;
	struct http_server *s;

	if (!rc)
		return;
	s = rc->d->s;
	pthread_mutex_lock(&s->jobs_lock);
	if (rc->state == JOB_STARTING) {
		rc->is_ready_early = true;
	} else if (rc->state == JOB_WAITING) {
		job_unwatch(s, rc);
		list_del(&rc->node);
		job_enqueue(s, rc);
	}
	/* JOB_CANCELLED: the client left first; profile_end(NULL) is on its way. */
	pthread_mutex_unlock(&s->jobs_lock);
}

static void run_auth(struct http_server *s, struct http_req_ctx *rc);
static void run_page(struct http_server *s, struct http_req_ctx *rc);

static void job_run(struct http_server *s, struct http_req_ctx *rc)
{
	void *window;

	switch (rc->kind) {
	case JOB_AUTH:
		run_auth(s, rc);
		break;
	case JOB_PAGE:
		run_page(s, rc);
		break;
	case JOB_PROFILE:
		window = rc->window;
		rc->window = NULL;
		s->handlers.profile_end(s->handlers.ctx, window, rc->reply);
		break;
	}
	/* Answered or not, the window is over: the next request may have the slot. */
	slots_put(s, rc);
}

static void req_free(struct http_req_ctx *rc)
{
	if (!rc)
		return;
	if (rc->reply)
		free(rc->reply->body);
	free(rc->reply);
	free(rc);
}

static void *worker_main(void *arg)
{
	struct http_server *s = arg;

	pthread_mutex_lock(&s->jobs_lock);
	for (;;) {
		struct http_req_ctx *rc;

		while (!s->jobs_stopping && list_empty(&s->queue))
			pthread_cond_wait(&s->jobs_cond, &s->jobs_lock);
		if (list_empty(&s->queue))
			break;
		rc = list_entry(s->queue.next, struct http_req_ctx, node);
		list_del(&rc->node);
		rc->state = JOB_RUNNING;
		rc->d->jobs_running++;
		s->jobs_running++;
		pthread_mutex_unlock(&s->jobs_lock);
		job_run(s, rc);
		pthread_mutex_lock(&s->jobs_lock);
		rc->d->jobs_running--;
		s->jobs_running--;
		if (rc->is_orphan) {
			req_free(rc);
			continue;
		}
		rc->state = JOB_DONE;
		job_resume(rc);
	}
	pthread_mutex_unlock(&s->jobs_lock);
	return NULL;
}

/*
 * Watches the sockets of requests waiting for their profile window: MHD
 * polls no suspended connection, so without this a client that gave up
 * would hold its slot (and the agent its window) until the window closed.
 */
static void *watcher_main(void *arg)
{
	struct http_server *s = arg;
	struct epoll_event evs[16];

	for (;;) {
		int n = epoll_wait(s->watch_epfd, evs, 16, -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			struct list_head *pos;
			uint64_t v;

			if (evs[i].data.u64 == 0) {
				if (read(s->watch_evfd, &v, sizeof(v)) < 0) {
					/* Spurious: the flag below is what counts. */
				}
				continue;
			}
			pthread_mutex_lock(&s->jobs_lock);
			/* By id: the request of an event read before its EPOLL_CTL_DEL may be gone.
			 */
			for (pos = s->waiting.next; pos != &s->waiting; pos = pos->next) {
				struct http_req_ctx *rc =
				    list_entry(pos, struct http_req_ctx, node);

				if (rc->id != evs[i].data.u64)
					continue;
				job_detach(s, rc);
				atomic_fetch_add(&s->profiles_abandoned, 1);
				job_abandon_locked(s, rc);
				break;
			}
			pthread_mutex_unlock(&s->jobs_lock);
		}
		pthread_mutex_lock(&s->jobs_lock);
		if (s->jobs_stopping && list_empty(&s->waiting)) {
			pthread_mutex_unlock(&s->jobs_lock);
			break;
		}
		pthread_mutex_unlock(&s->jobs_lock);
	}
	return NULL;
}

/* Under jobs_lock: watch a waiting request's socket for the client going away. */
static void job_watch(struct http_server *s, struct http_req_ctx *rc)
{
	struct epoll_event ev = {.events = EPOLLRDHUP, .data.u64 = rc->id};

	/* EPOLLHUP and EPOLLERR are always reported; EPOLLIN (a pipelined request) is not asked. */
	if (rc->fd >= 0 && epoll_ctl(s->watch_epfd, EPOLL_CTL_ADD, rc->fd, &ev) == 0)
		rc->is_watched = true;
}

/*
 * Cancels the jobs of daemon @d (NULL: all) and resumes their connections,
 * so that the daemon can be stopped (MHD aborts on a suspended connection).
 * Returns how many of them a worker is still running.
 */
static unsigned jobs_release(struct http_server *s, const struct http_daemon *d)
{
	struct list_head *lists[] = {&s->waiting, &s->queue};
	unsigned running;

	pthread_mutex_lock(&s->jobs_lock);
	if (d)
		((struct http_daemon *)d)->jobs_closed = true;
	for (size_t l = 0; l < 2; l++) {
		struct list_head *pos = lists[l]->next;

		while (pos != lists[l]) {
			struct http_req_ctx *rc = list_entry(pos, struct http_req_ctx, node);

			if (d && rc->d != d) {
				pos = pos->next;
				continue;
			}
			job_detach(s, rc);
			job_abandon_locked(s, rc);
			/* The list may have changed while the lock was dropped: start over. */
			pos = lists[l]->next;
		}
	}
	running = d ? d->jobs_running : s->jobs_running;
	pthread_mutex_unlock(&s->jobs_lock);
	return running;
}

/* Give @rc its reply; false when out of memory (its slots are then given back). */
static bool reply_alloc(struct http_server *s, struct http_req_ctx *rc)
{
	if (!rc->reply)
		rc->reply = calloc(1, sizeof(*rc->reply));
	if (!rc->reply)
		slots_put(s, rc);
	return rc->reply;
}

static enum MHD_Result job_submit(struct http_server *s, struct MHD_Connection *conn,
				  struct http_req_ctx *rc, enum job_kind kind)
{
	if (!reply_alloc(s, rc))
		return queue_error(s, conn, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
				   "out of memory");
	pthread_mutex_lock(&s->jobs_lock);
	if (s->jobs_stopping || rc->d->jobs_closed) {
		pthread_mutex_unlock(&s->jobs_lock);
		slots_put(s, rc);
		return queue_error(s, conn, rc, MHD_HTTP_SERVICE_UNAVAILABLE,
				   MHD_HTTP_HEADER_RETRY_AFTER, HTTP_RETRY_AFTER,
				   "stackd is shutting down");
	}
	rc->kind = kind;
	rc->is_suspended = true;
	MHD_suspend_connection(conn);
	job_enqueue(s, rc);
	pthread_mutex_unlock(&s->jobs_lock);
	return MHD_YES;
}

/* Worker: the basic-auth check (bcrypt on a cache miss). */
static void run_auth(struct http_server *s, struct http_req_ctx *rc)
{
	struct basicauth *a = auth_get(s);
	struct http_conn *c = conn_of(rc->conn);
	struct basicauth_verdict v = {0};

	rc->auth_res = basicauth_check(
	    a,
	    MHD_lookup_connection_value(rc->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
	    c ? &c->ip : NULL, &v);
	rc->did_bcrypt = v.did_bcrypt;
	rc->retry_after_s = v.retry_after_s;
	basicauth_put(a);
}

/* Worker: a page, refused when its answer is above max_page_bytes. */
static void run_page(struct http_server *s, struct http_req_ctx *rc)
{
	struct http_profile_req req = {.conn = rc->conn, .max_body_sz = s->max_page_bytes};
	struct http_reply *reply = rc->reply;

	s->handlers.page(s->handlers.ctx, rc->page, &req, reply);
	if (reply->status == MHD_HTTP_OK && reply->body_len > s->max_page_bytes) {
		size_t len = reply->body_len;

		free(reply->body);
		reply->body = NULL;
		reply->body_len = 0;
		http_reply_errorf(
		    reply, MHD_HTTP_CONTENT_TOO_LARGE,
		    "the answer is %zu bytes, above --web.max-page-bytes (%zu): narrow "
		    "it with a filter or a shorter time range",
		    len, s->max_page_bytes);
	}
	if (reply->status == MHD_HTTP_CONTENT_TOO_LARGE)
		atomic_fetch_add(&s->pages_rejected_size, 1);
}

/* A job's answer, once it is DONE (then the request is back to JOB_NONE). */
static enum MHD_Result send_job_reply(struct http_server *s, struct MHD_Connection *conn,
				      struct http_req_ctx *rc, const char *filename)
{
	enum MHD_Result ret;

	rc->state = JOB_NONE;
	ret = send_reply(s, conn, rc, rc->reply, filename);
	free(rc->reply->body);
	free(rc->reply);
	rc->reply = NULL;
	return ret;
}

/*
 * A profile request: opens the agent's window and suspends the connection
 * until http_profile_ready; a worker then has the agent encode the profile.
 */
static enum MHD_Result serve_profile(struct http_server *s, struct MHD_Connection *conn,
				     struct http_req_ctx *rc)
{
	struct http_profile_req req = {.seconds = s->default_profile_seconds,
				       .conn = conn,
				       .kind = rc->route == ROUTE_OFFCPU ? HTTP_PROFILE_OFFCPU
					       : rc->route == ROUTE_WALL ? HTTP_PROFILE_WALL
									 : HTTP_PROFILE_CPU};
	const char *query = strchr(rc->uri, '?');
	void *window;

	if (rc->state == JOB_DONE)
		return send_job_reply(s, conn, rc, "profile");

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

	if (!slot_get(&s->profiles_in_flight, s->max_concurrent_profiles)) {
		atomic_fetch_add(&s->profiles_rejected, 1);
		return queue_error(s, conn, rc, MHD_HTTP_SERVICE_UNAVAILABLE,
				   MHD_HTTP_HEADER_RETRY_AFTER, HTTP_RETRY_AFTER,
				   "too many concurrent profile requests (limit %u), retry later",
				   s->max_concurrent_profiles);
	}
	rc->holds_profile_slot = true;
	if (!reply_alloc(s, rc))
		return queue_error(s, conn, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
				   "out of memory");

	pthread_mutex_lock(&s->jobs_lock);
	rc->state = JOB_STARTING;
	rc->kind = JOB_PROFILE;
	rc->id = ++s->next_job_id;
	pthread_mutex_unlock(&s->jobs_lock);
	window =
	    s->handlers.profile_start(s->handlers.ctx, &req, (struct http_waiter *)rc, rc->reply);
	pthread_mutex_lock(&s->jobs_lock);
	if (window && (s->jobs_stopping || rc->d->jobs_closed)) {
		pthread_mutex_unlock(&s->jobs_lock);
		s->handlers.profile_end(s->handlers.ctx, window, NULL);
		http_reply_errorf(rc->reply, MHD_HTTP_SERVICE_UNAVAILABLE, "%s",
				  "stackd is shutting down");
		rc->reply->retry_after = true;
		window = NULL;
		pthread_mutex_lock(&s->jobs_lock);
	}
	if (!window) {
		rc->state = JOB_DONE;
		pthread_mutex_unlock(&s->jobs_lock);
		slots_put(s, rc);
		if (rc->reply->status == MHD_HTTP_OK || !rc->reply->status)
			http_reply_errorf(rc->reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s",
					  "the profile could not be started");
		return send_job_reply(s, conn, rc, NULL);
	}
	rc->window = window;
	rc->is_suspended = true;
	MHD_suspend_connection(conn);
	if (rc->is_ready_early) {
		job_enqueue(s, rc);
	} else {
		rc->state = JOB_WAITING;
		list_add_tail(&rc->node, &s->waiting);
		job_watch(s, rc);
	}
	pthread_mutex_unlock(&s->jobs_lock);
	return MHD_YES;
}

/* A page: on a worker, at most max_page_requests at once. */
static enum MHD_Result serve_page(struct http_server *s, struct MHD_Connection *conn,
				  struct http_req_ctx *rc, enum http_page page)
{
	if (rc->state == JOB_DONE)
		return send_job_reply(s, conn, rc, page == HTTP_PAGE_HISTORY ? "profile" : NULL);
	if (!s->handlers.page) {
		if (page == HTTP_PAGE_INDEX)
			return queue_static(s, conn, rc, MHD_HTTP_OK, CT_HTML, index_html);
		return queue_error(s, conn, rc, MHD_HTTP_NOT_FOUND, NULL, NULL,
				   "404 page not found");
	}
	if (!slot_get(&s->pages_in_flight, s->max_page_requests)) {
		atomic_fetch_add(&s->pages_rejected_busy, 1);
		return queue_error(s, conn, rc, MHD_HTTP_SERVICE_UNAVAILABLE,
				   MHD_HTTP_HEADER_RETRY_AFTER, HTTP_RETRY_AFTER,
				   "too many concurrent page requests (limit %u), retry later",
				   s->max_page_requests);
	}
	rc->holds_page_slot = true;
	rc->page = page;
	return job_submit(s, conn, rc, JOB_PAGE);
}

/* After the credentials were checked (on a worker): the 401, or MHD_YES to go on. */
static bool auth_refused(struct http_server *s, struct MHD_Connection *conn,
			 struct http_req_ctx *rc, enum MHD_Result *ret)
{
	if (rc->did_bcrypt)
		atomic_fetch_add(&s->auth_bcrypt_checks, 1);
	if (rc->auth_res == BASICAUTH_OK)
		return false;
	if (rc->auth_res == BASICAUTH_THROTTLED) {
		char retry[16];

		snprintf(retry, sizeof(retry), "%u", rc->retry_after_s);
		*ret = queue_error(s, conn, rc, MHD_HTTP_TOO_MANY_REQUESTS, "Retry-After", retry,
				   "429 Too Many Requests: too many failed logins from this "
				   "address; retry in %u s",
				   rc->retry_after_s);
		return true;
	}
	atomic_fetch_add(rc->auth_res == BASICAUTH_MISSING ? &s->auth_missing : &s->auth_invalid,
			 1);
	*ret = queue_error(s, conn, rc, MHD_HTTP_UNAUTHORIZED, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			   "Basic realm=\"stackd\"", "401 Unauthorized");
	return true;
}

/* Unknown paths and methods; true when refused (*ret is the result). */
static bool route_refused(struct http_server *s, struct MHD_Connection *conn,
			  struct http_req_ctx *rc, const char *method, enum MHD_Result *ret)
{
	if (rc->route == ROUTE_NONE) {
		*ret =
		    queue_error(s, conn, rc, MHD_HTTP_NOT_FOUND, NULL, NULL, "404 page not found");
		return true;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		*ret = queue_error(s, conn, rc, MHD_HTTP_METHOD_NOT_ALLOWED, MHD_HTTP_HEADER_ALLOW,
				   "GET, HEAD", "method not allowed");
		return true;
	}
	return false;
}

/*
 * MHD calls this at least twice per request: once the headers are in, then
 * with any body, then once more with none, and again each time a job
 * resumes the connection. Refusals (bad URI, unknown path, method) are
 * queued on the first call so that a body is never read; MHD then closes
 * the connection, which is right for them. With basic auth on, the check
 * (bcrypt, possibly) runs on a worker at the last call, and the 404s and
 * 405s wait for it. Answers are queued on the last call only: an answer
 * queued early also costs the keep-alive.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct http_daemon *d = cls;
	struct http_server *s = d->s;
	struct http_req_ctx *rc = *req_cls;
	enum MHD_Result ret;
	const char *why;

	if (!rc)
		return queue_error(s, conn, NULL, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
				   "out of memory");
	if (rc->state == JOB_CANCELLED)
		return MHD_NO; /* the client went away, or we stop: close */
	if (rc->is_answered || *upload_data_size) {
		/* A body nobody asked for: drop it. */
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (rc->route == ROUTE_NONE && !rc->needs_auth) {
		struct basicauth *a;

		if (rc->is_uri_too_long)
			return queue_error(s, conn, rc, MHD_HTTP_URI_TOO_LONG, NULL, NULL,
					   "request URI too long (limit %d bytes)",
					   HTTP_MAX_URI_LEN);
		why = uri_check(rc->uri);
		if (why)
			return queue_error(s, conn, rc, MHD_HTTP_BAD_REQUEST, NULL, NULL, "%s",
					   why);
		rc->route = route_of(url);
		rc->conn = conn;
		/* Probes stay open (see http.h); everything else, 404s included, needs auth. */
		if (rc->route != ROUTE_HEALTHY && rc->route != ROUTE_READY) {
			a = auth_get(s);
			rc->needs_auth = basicauth_is_enabled(a);
			basicauth_put(a);
		}
		if (!rc->needs_auth && route_refused(s, conn, rc, method, &ret))
			return ret;
		/* ROUTE_NONE with needs_auth: the 404 waits for the credentials. */
		return MHD_YES;
	}

	/* Whole request in: from here only the handler's own time counts. */
	conn_disarm(conn_of(conn));
	if (rc->needs_auth && !rc->is_auth_checked) {
		if (rc->state != JOB_DONE)
			return job_submit(s, conn, rc, JOB_AUTH);
		rc->state = JOB_NONE;
		rc->is_auth_checked = true;
		free(rc->reply);
		rc->reply = NULL;
		if (auth_refused(s, conn, rc, &ret) || route_refused(s, conn, rc, method, &ret))
			return ret;
	}
	switch (rc->route) {
	case ROUTE_PROFILE:
	case ROUTE_OFFCPU:
	case ROUTE_WALL:
		return serve_profile(s, conn, rc);
	case ROUTE_METRICS:
		return serve_metrics(s, conn, rc);
	case ROUTE_HEALTHY:
		return queue_static(s, conn, rc, MHD_HTTP_OK, CT_TEXT, "OK\n");
	case ROUTE_READY:
		if (s->handlers.is_ready) {
			char reason[160] = "";

			if (!s->handlers.is_ready(s->handlers.ctx, reason, sizeof(reason)))
				return queue_error(s, conn, rc, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
						   NULL, "Not ready: %s",
						   reason[0] ? reason : "starting");
		}
		return queue_static(s, conn, rc, MHD_HTTP_OK, CT_TEXT, "Ready\n");
	case ROUTE_HISTORY:
		return serve_page(s, conn, rc, HTTP_PAGE_HISTORY);
	case ROUTE_FOLDED:
		return serve_page(s, conn, rc, HTTP_PAGE_FOLDED);
	case ROUTE_SPEEDSCOPE:
		return serve_page(s, conn, rc, HTTP_PAGE_SPEEDSCOPE);
	case ROUTE_FLAMEGRAPH:
		return serve_page(s, conn, rc, HTTP_PAGE_FLAMEGRAPH);
	case ROUTE_INDEX:
	default:
		return serve_page(s, conn, rc, HTTP_PAGE_INDEX);
	}
}

/* Called once per request with the raw target, before MHD unescapes anything. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_daemon *d = cls;
	size_t len = strlen(uri);
	struct http_req_ctx *rc;
	struct http_conn *c;

	if (len > HTTP_MAX_URI_LEN) {
		rc = calloc(1, sizeof(*rc) + 1);
		if (rc)
			rc->is_uri_too_long = true;
	} else {
		rc = calloc(1, sizeof(*rc) + len + 1);
		if (rc)
			memcpy(rc->uri, uri, len);
	}
	if (!rc)
		return NULL;
	rc->d = d;
	rc->conn = conn;
	list_init(&rc->node);
	c = conn_of(conn);
	rc->fd = c ? c->fd : -1;
	atomic_fetch_add(&d->s->requests_active, 1);
	return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_daemon *d = cls;
	struct http_server *s = d->s;
	struct http_req_ctx *rc = *req_cls;

	/* Keep-alive: the next request header has the same time to arrive. */
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		conn_arm(s, conn_of(conn));
	*req_cls = NULL;
	if (!rc)
		return;
	atomic_fetch_sub(&s->requests_active, 1);
	pthread_mutex_lock(&s->jobs_lock);
	/* Only at a daemon's stop can a request end with its job in flight. */
	if (!job_detach(s, rc)) {
		rc->is_orphan = true; /* the worker frees it */
		pthread_mutex_unlock(&s->jobs_lock);
		return;
	}
	pthread_mutex_unlock(&s->jobs_lock);
	if (rc->window)
		s->handlers.profile_end(s->handlers.ctx, rc->window, NULL);
	slots_put(s, rc);
	req_free(rc);
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

/* The client's address as an IPv6 one (IPv4 v4-mapped), so both families compare alike. */
static void ip_key(const struct sockaddr *sa, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!sa)
		return;
	if (sa->sa_family == AF_INET6) {
		*out = ((const struct sockaddr_in6 *)sa)->sin6_addr;
	} else if (sa->sa_family == AF_INET) {
		out->s6_addr[10] = 0xff;
		out->s6_addr[11] = 0xff;
		memcpy(&out->s6_addr[12], &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
}

/*
 * Under s->lock: the connection to give up for a new one at the limit: the
 * one that has waited longest for a request header (held open, trickling,
 * or idle keep-alive, all serving nobody). Busy ones (a request in, an
 * answer going out, a profile window) are never chosen. NULL: all busy.
 */
static struct http_conn *eviction_victim(struct http_server *s)
{
	struct http_conn *victim = NULL;
	uint64_t oldest = UINT64_MAX;

	for (struct http_conn *c = s->conns.next; c != &s->conns; c = c->next) {
		uint64_t dl = atomic_load(&c->deadline_ns);

		/* Same timeout for all: the earliest deadline is the longest wait. */
		if (!c->is_closing && dl && dl < oldest && c->fd >= 0) {
			oldest = dl;
			victim = c;
		}
	}
	return victim;
}

/* Under s->lock: shut @c down (MHD owns the fd: its recv() now returns 0 and it closes). */
static void conn_shut(struct http_server *s, struct http_conn *c)
{
	shutdown(c->fd, SHUT_RDWR);
	atomic_store(&c->deadline_ns, 0);
	c->is_closing = true;
	s->closing_cnt++;
}

/*
 * Accept policy: the connection limits, server-wide (all daemons together)
 * and counted. Runs on a daemon's thread before the connection exists; the
 * STARTED notification that follows on the same thread adds it. A client
 * at its own limit is refused; at the overall limit a connection waiting for
 * a header is evicted instead, so that held and trickling connections cannot
 * keep a scraper out.
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_server *s = cls;
	struct http_conn *victim = NULL;
	struct in6_addr ip;
	unsigned same = 0;
	bool is_full;

	ip_key(addrlen ? addr : NULL, &ip);
	pthread_mutex_lock(&s->lock);
	for (struct http_conn *c = s->conns.next; c != &s->conns; c = c->next)
		same += !c->is_closing && !memcmp(&c->ip, &ip, sizeof(ip));
	if (same >= s->max_connections_per_client) {
		pthread_mutex_unlock(&s->lock);
		atomic_fetch_add(&s->conn_rejected_per_client, 1);
		return MHD_NO;
	}
	is_full = s->conn_cnt - s->closing_cnt >= s->max_connections;
	if (is_full) {
		victim = eviction_victim(s);
		if (victim)
			conn_shut(s, victim);
	}
	pthread_mutex_unlock(&s->lock);
	if (is_full && !victim) {
		atomic_fetch_add(&s->conn_rejected_total, 1);
		return MHD_NO;
	}
	if (victim)
		atomic_fetch_add(&s->conn_evicted, 1);
	return MHD_YES;
}

static gnutls_typed_vdata_st client_purpose = {
    .type = GNUTLS_DT_KEY_PURPOSE_OID,
    .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
};

/* GnuTLS verify function: <0 fails the handshake. */
static int tls_verify(gnutls_session_t session, bool is_required)
{
	unsigned status = 0, n = 0;
	int ret;

	if (!gnutls_certificate_get_peers(session, &n) || !n) {
		if (!is_required)
			return 0;
		atomic_fetch_add(&tls_client_cert_rejected, 1);
		return GNUTLS_E_NO_CERTIFICATE_FOUND;
	}
	/*
	 * A certificate with an extendedKeyUsage must list clientAuth (or anyEKU),
	 * so a server certificate the same CA signed is no client credential;
	 * one without the extension is unrestricted (RFC 5280 4.2.1.12).
	 */
	ret = gnutls_certificate_verify_peers(session, &client_purpose, 1, &status);
	if (ret < 0 || status) {
		atomic_fetch_add(&tls_client_cert_rejected, 1);
		return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
	}
	return 0;
}

static int tls_verify_required(gnutls_session_t session)
{
	return tls_verify(session, true);
}

static int tls_verify_if_given(gnutls_session_t session)
{
	return tls_verify(session, false);
}

/* A missing certificate, where one is required and not verified. */
static int tls_require_any(gnutls_session_t session)
{
	unsigned n = 0;

	if (gnutls_certificate_get_peers(session, &n) && n)
		return 0;
	atomic_fetch_add(&tls_client_cert_rejected, 1);
	return GNUTLS_E_NO_CERTIFICATE_FOUND;
}

static void tls_setup_session(const struct http_daemon *d, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t session = ci ? ci->tls_session : NULL;

	if (!session)
		return;
	/*
	 * "Require" is enforced by our verify functions, not GnuTLS's
	 * GNUTLS_CERT_REQUIRE: that one fails the handshake before any
	 * callback, and the refusal could not be counted.
	 */
	switch (d->wc->client_auth) {
	case WEBCONFIG_REQUEST_CLIENT_CERT:
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
		break;
	case WEBCONFIG_REQUIRE_ANY_CLIENT_CERT:
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
		gnutls_session_set_verify_function(session, tls_require_any);
		break;
	case WEBCONFIG_VERIFY_CLIENT_CERT_IF_GIVEN:
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
		gnutls_session_set_verify_function(session, tls_verify_if_given);
		break;
	case WEBCONFIG_REQUIRE_AND_VERIFY_CLIENT_CERT:
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
		gnutls_session_set_verify_function(session, tls_verify_required);
		break;
	case WEBCONFIG_NO_CLIENT_CERT:
	default:
		/* MHD asks for a certificate whenever a trust list is set; we set none. */
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_IGNORE);
		break;
	}
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_daemon *d = cls;
	struct http_server *s = d->s;
	struct http_conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci;

		/* TLS first: a tracking failure must not leave a session unchecked. */
		if (d->wc && d->wc->has_tls)
			tls_setup_session(d, conn);
		c = calloc(1, sizeof(*c));
		if (!c)
			return; /* untracked: no deadline, not counted against limits */
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->fd = ci ? ci->connect_fd : -1;
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		ip_key(ci ? ci->client_addr : NULL, &c->ip);
		conn_arm(s, c);
		pthread_mutex_lock(&s->lock);
		c->next = s->conns.next;
		c->prev = &s->conns;
		c->next->prev = c;
		s->conns.next = c;
		s->conn_cnt++;
		pthread_mutex_unlock(&s->lock);
		*socket_context = c;
		return;
	}
	if (!c)
		return;
	/*
	 * MHD notifies CLOSED before it closes the socket, and the
	 * housekeeper only shuts sockets down under s->lock: once unlinked
	 * here, the fd number is never touched again, even if reused.
	 */
	pthread_mutex_lock(&s->lock);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	s->conn_cnt--;
	if (c->is_closing)
		s->closing_cnt--;
	pthread_mutex_unlock(&s->lock);
	free(c);
	*socket_context = NULL;
}

/* Starts a daemon with @wc (stored in it on success) on a dup() of the listen socket. */
static int daemon_start(struct http_server *s, struct webconfig *wc, struct http_daemon **out)
{
	struct MHD_OptionItem ops[24];
	struct http_daemon *d;
	unsigned flags, n = 0;
	int fd, err;

#define OPT(o, v, p) (ops[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (void *)(p)})
	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->s = s;
	d->quiesced_fd = -1;
	pthread_mutex_lock(&listen_fd_lock);
	fd = fcntl(s->listen_fd, F_DUPFD_CLOEXEC, 0);
	pthread_mutex_unlock(&listen_fd_lock);
	if (fd < 0) {
		err = -errno;
		free(d);
		return err;
	}

	/*
	 * epoll threads, not a thread per connection: a connection waiting
	 * for a header costs its buffers, not a thread (and a crowd of them no
	 * scheduler time). Suspend/resume carries the jobs; its inter-thread
	 * channel also lets MHD_quiesce_daemon hand the listen socket back.
	 */
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
		MHD_USE_ERROR_LOG;
	if (s->family == AF_INET6)
		flags |= MHD_USE_DUAL_STACK;
	OPT(MHD_OPTION_EXTERNAL_LOGGER, 0, NULL);
	ops[n - 1].value = (intptr_t)on_mhd_log;
	OPT(MHD_OPTION_LISTEN_SOCKET, fd, NULL);
	OPT(MHD_OPTION_THREAD_POOL_SIZE, HTTP_EVENT_THREADS, NULL);
	/*
	 * MHD's own limits are a backstop above ours: on_accept refuses or
	 * evicts first, server-wide and counted. Evicted connections linger
	 * until their thread sees the shutdown, so up to twice ours may be
	 * open; MHD splits its limit between the pool's threads, which do not
	 * get equal shares of the connections.
	 */
	OPT(MHD_OPTION_CONNECTION_LIMIT, (2 * s->max_connections + 8) * HTTP_EVENT_THREADS, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, 2 * s->max_connections_per_client + 1, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout_seconds, NULL);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, 0, d);
	ops[n - 1].value = (intptr_t)on_uri;
	OPT(MHD_OPTION_NOTIFY_COMPLETED, 0, d);
	ops[n - 1].value = (intptr_t)on_completed;
	OPT(MHD_OPTION_NOTIFY_CONNECTION, 0, d);
	ops[n - 1].value = (intptr_t)on_connection;
	/*
	 * MHD parses every query argument into the connection's pool before
	 * our handler runs; past the pool it drops the connection without a
	 * reply. 64 KiB holds the arguments of any request target up to
	 * HTTP_MAX_URI_LEN, so a hostile one reaches our 414/400 instead. It
	 * also bounds what a client can make us buffer for headers.
	 */
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), NULL);
	if (wc && wc->has_tls) {
		flags |= MHD_USE_TLS;
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, wc->cert_pem);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, wc->key_pem);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, webconfig_tls_priorities(wc));
		if (wc->client_ca_pem)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, wc->client_ca_pem);
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT

	errno = 0;
	d->wc = wc; /* on_connection reads it from the first connection on */
	d->mhd = MHD_start_daemon(flags, 0, on_accept, s, on_request, d, MHD_OPTION_ARRAY, ops,
				  MHD_OPTION_END);
	if (!d->mhd) {
		err = errno ? -errno : -EIO;
		close(fd);
		free(d);
		return err;
	}
	*out = d;
	return 0;
}

/* @d stops accepting; its listen fd is kept until daemon_stop(). Idempotent. */
static void daemon_quiesce(struct http_daemon *d)
{
	MHD_socket fd;

	if (d->quiesced_fd >= 0)
		return;
	fd = MHD_quiesce_daemon(d->mhd);
	if (fd != MHD_INVALID_SOCKET)
		d->quiesced_fd = fd;
}

/* Stops @d (blocks until its connection threads end) and frees it with its web config. */
static void daemon_stop(struct http_daemon *d)
{
	if (!d)
		return;
	daemon_quiesce(d);
	pthread_mutex_lock(&listen_fd_lock);
	MHD_stop_daemon(d->mhd);
	if (same_socket(d->quiesced_fd, d->s->listen_fd))
		close(d->quiesced_fd);
	pthread_mutex_unlock(&listen_fd_lock);
	webconfig_free(d->wc);
	free(d);
}

static unsigned daemon_connections(const struct http_daemon *d)
{
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return di ? di->num_connections : 0;
}

/*
 * Once per HTTP_HOUSEKEEPING_MS: shut down connections past their request
 * deadline (MHD's timeout restarts with every byte, so a client trickling a
 * header byte by byte would otherwise hold a connection and its thread for
 * as long as it likes), and stop retired daemons whose connections are gone.
 */
static void *housekeeper_main(void *arg)
{
	struct http_server *s = arg;
	struct timespec ts;

	pthread_mutex_lock(&s->lock);
	while (!s->is_stopping) {
		struct http_daemon **pd = &s->retired, *done = NULL;
		uint64_t now = mono_ns();

		for (struct http_conn *c = s->conns.next; c != &s->conns; c = c->next) {
			uint64_t dl = atomic_load(&c->deadline_ns);

			if (dl && dl < now && c->fd >= 0 && !c->is_closing) {
				conn_shut(s, c);
				atomic_fetch_add(&s->conn_timed_out, 1);
			}
		}
		while (*pd) {
			struct http_daemon *d = *pd;

			if (!daemon_connections(d) || d->stop_by_ns < now) {
				*pd = d->next;
				d->next = done;
				done = d;
			} else {
				pd = &d->next;
			}
		}
		if (done) {
			/* Unlocked: stopping joins threads whose CLOSED notification takes the
			 * lock. */
			pthread_mutex_unlock(&s->lock);
			while (done) {
				struct http_daemon *next = done->next;

				/*
				 * Its jobs are cancelled first (MHD cannot stop with
				 * suspended connections); one a worker still runs
				 * makes it wait for the next round.
				 */
				if (jobs_release(s, done) == 0) {
					daemon_stop(done);
				} else {
					pthread_mutex_lock(&s->lock);
					done->next = s->retired;
					s->retired = done;
					pthread_mutex_unlock(&s->lock);
				}
				done = next;
			}
			pthread_mutex_lock(&s->lock);
			if (s->is_stopping)
				break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += HTTP_HOUSEKEEPING_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void log_web_config(const struct webconfig *wc, const char *what)
{
	if (!wc) {
		pr_info("http: %s: plain HTTP, no authentication", what);
		return;
	}
	pr_info("http: %s %s: %s, client certificates %s, %zu basic-auth user%s", what, wc->path,
		wc->has_tls ? (wc->min_version == WEBCONFIG_TLS13 ? "TLS 1.3" : "TLS 1.2+")
			    : "plain HTTP",
		wc->has_tls ? webconfig_client_auth_name(wc->client_auth) : "unused", wc->user_cnt,
		wc->user_cnt == 1 ? "" : "s");
}

/*
 * Every connection is a descriptor, and evicted ones linger a moment: keep
 * twice max_connections under RLIMIT_NOFILE, with room for the agent's own.
 */
static void clamp_to_nofile(struct http_server *s)
{
	struct rlimit rl;
	rlim_t cap;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	cap = rl.rlim_cur > 2 * HTTP_NOFILE_RESERVE ? (rl.rlim_cur - HTTP_NOFILE_RESERVE) / 2
						    : HTTP_NOFILE_RESERVE / 4;
	if (s->max_connections > cap) {
		pr_warn("http: --web.max-connections=%u lowered to %u for RLIMIT_NOFILE %llu",
			s->max_connections, (unsigned)cap, (unsigned long long)rl.rlim_cur);
		s->max_connections = (unsigned)cap;
	}
}

/* The worker pool and the watcher. On failure, jobs_stop() undoes what started. */
static int jobs_start(struct http_server *s)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
	int err;

	s->watch_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->watch_epfd < 0)
		return -errno;
	s->watch_evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->watch_evfd < 0)
		return -errno;
	if (epoll_ctl(s->watch_epfd, EPOLL_CTL_ADD, s->watch_evfd, &ev) < 0)
		return -errno;
	err = -pthread_create(&s->watcher, NULL, watcher_main, s);
	if (err)
		return err;
	s->has_watcher = true;
	for (; s->nr_workers < HTTP_WORKERS; s->nr_workers++) {
		err = -pthread_create(&s->workers[s->nr_workers], NULL, worker_main, s);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Cancels every job still waiting or queued (their connections resume and
 * close), lets the workers finish the ones they run, and ends the threads.
 */
static void jobs_stop(struct http_server *s)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->jobs_lock);
	s->jobs_stopping = true;
	pthread_cond_broadcast(&s->jobs_cond);
	pthread_mutex_unlock(&s->jobs_lock);
	jobs_release(s, NULL);
	for (unsigned i = 0; i < s->nr_workers; i++)
		pthread_join(s->workers[i], NULL);
	s->nr_workers = 0;
	if (s->has_watcher) {
		if (write(s->watch_evfd, &one, sizeof(one)) < 0) {
			/* Saturated: the watcher is awake anyway. */
		}
		pthread_join(s->watcher, NULL);
		s->has_watcher = false;
	}
	if (s->watch_evfd >= 0)
		close(s->watch_evfd);
	if (s->watch_epfd >= 0)
		close(s->watch_epfd);
	s->watch_evfd = s->watch_epfd = -1;
}

int http_server_start(const struct http_opts *opts, struct http_server **out)
{
	struct http_server *s = NULL;
	int err;

	if (!opts || !out || !opts->handlers.profile_start || !opts->handlers.profile_end)
		return -EINVAL;
	*out = NULL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = -1;
	s->watch_epfd = -1;
	s->watch_evfd = -1;
	s->family = AF_INET;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_mutex_init(&s->jobs_lock, NULL);
	pthread_cond_init(&s->jobs_cond, NULL);
	list_init(&s->queue);
	list_init(&s->waiting);
	s->conns.next = s->conns.prev = &s->conns;
	s->handlers = opts->handlers;
	s->max_profile_seconds = opts->max_profile_seconds ?: HTTP_DEFAULT_MAX_PROFILE_SECONDS;
	s->default_profile_seconds = opts->default_profile_seconds ?: HTTP_DEFAULT_PROFILE_SECONDS;
	s->max_concurrent_profiles =
	    opts->max_concurrent_profiles ?: HTTP_DEFAULT_MAX_CONCURRENT_PROFILES;
	s->idle_timeout_seconds = opts->idle_timeout_seconds ?: HTTP_DEFAULT_IDLE_TIMEOUT_SECONDS;
	s->max_connections = opts->max_connections ?: HTTP_DEFAULT_MAX_CONNECTIONS;
	s->max_connections_per_client =
	    opts->max_connections_per_client ?: HTTP_DEFAULT_MAX_CONN_PER_CLIENT;
	s->max_page_requests = opts->max_page_requests ?: HTTP_DEFAULT_MAX_PAGE_REQUESTS;
	s->max_page_bytes = opts->max_page_bytes ?: HTTP_DEFAULT_MAX_PAGE_BYTES;
	clamp_to_nofile(s);
	atomic_store(&s->last_reload_ok, true);
	if (s->default_profile_seconds > s->max_profile_seconds) {
		pr_err("http: default profile duration %us exceeds the maximum %us",
		       s->default_profile_seconds, s->max_profile_seconds);
		err = -EINVAL;
		goto cleanup;
	}
	s->listen_address = strdup(opts->listen_address ? opts->listen_address : "");
	if (!s->listen_address) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = basicauth_new(opts->web_config, &s->auth);
	if (err) {
		pr_err("http: cannot set up basic auth: %s", strerror(-err));
		goto cleanup;
	}

	err = bind_address(opts->listen_address, &s->listen_fd, &s->family);
	if (err)
		goto cleanup;
	err = daemon_start(s, opts->web_config, &s->cur);
	if (err) {
		pr_err("http: cannot start the HTTP daemon on %s: %s", opts->listen_address,
		       strerror(-err));
		goto cleanup;
	}
	err = jobs_start(s);
	err = err ?: -pthread_create(&s->housekeeper, NULL, housekeeper_main, s);
	if (err) {
		jobs_stop(s);
		s->cur->wc = NULL; /* the caller keeps it on failure */
		daemon_stop(s->cur);
		s->cur = NULL;
		goto cleanup;
	}
	s->has_housekeeper = true;
	if (opts->web_config)
		log_web_config(opts->web_config, "web config");
	*out = s;
	return 0;
cleanup:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	basicauth_put(s->auth);
	free(s->listen_address);
	pthread_cond_destroy(&s->jobs_cond);
	pthread_mutex_destroy(&s->jobs_lock);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return err;
}

int http_server_reload(struct http_server *s, const char *web_config_file)
{
	struct http_daemon *nd = NULL, *old;
	struct basicauth *na = NULL, *oa;
	struct webconfig *wc = NULL;
	char msg[768];
	int err;

	if (!s || !web_config_file)
		return -EINVAL;
	err = webconfig_load(web_config_file, &wc, msg, sizeof(msg));
	if (err) {
		pr_err("http: reload failed, keeping the previous web config: %s", msg);
		goto fail;
	}
	err = basicauth_new(wc, &na);
	if (err) {
		pr_err("http: reload of %s failed, keeping the previous web config: basic auth: %s",
		       web_config_file, strerror(-err));
		goto fail;
	}
	err = daemon_start(s, wc, &nd);
	if (err) {
		pr_err("http: reload of %s failed, keeping the previous web config: cannot start "
		       "the HTTP daemon: %s",
		       web_config_file, strerror(-err));
		goto fail;
	}
	log_web_config(wc, "reloaded web config");
	wc = NULL; /* nd owns it */

	/*
	 * Credentials first, for every connection old and new: an old
	 * password must stop working now, not when old keep-alive connections
	 * happen to close.
	 */
	old = s->cur;
	s->cur = nd;
	pthread_mutex_lock(&s->lock);
	oa = s->auth;
	s->auth = na;
	pthread_mutex_unlock(&s->lock);
	basicauth_put(oa);

	/* The old daemon stops accepting; its requests in flight finish. */
	daemon_quiesce(old);
	pthread_mutex_lock(&s->lock);
	old->stop_by_ns =
	    mono_ns() + (s->max_profile_seconds + s->idle_timeout_seconds + 10ull) * 1000000000ull;
	old->next = s->retired;
	s->retired = old;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&s->reloads_ok, 1);
	atomic_store(&s->last_reload_ok, true);
	return 0;
fail:
	basicauth_put(na);
	webconfig_free(wc);
	atomic_fetch_add(&s->reloads_failed, 1);
	atomic_store(&s->last_reload_ok, false);
	return err;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	if (s->has_housekeeper) {
		pthread_mutex_lock(&s->lock);
		s->is_stopping = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->housekeeper, NULL);
	}
	/* Stop accepting first, then let requests in flight finish. */
	if (s->cur)
		daemon_quiesce(s->cur);
	/*
	 * MHD_stop_daemon shuts every connection down at once, cutting off
	 * answers still being written (a profile request answered 503 at
	 * shutdown). Give requests in flight a bounded grace to finish.
	 */
	for (int i = 0; i < HTTP_STOP_GRACE_MS / 10 && atomic_load(&s->requests_active); i++)
		usleep(10000);
	/* Jobs end before the daemons: MHD cannot stop with a suspended connection. */
	jobs_stop(s);
	daemon_stop(s->cur);
	while (s->retired) {
		struct http_daemon *d = s->retired;

		s->retired = d->next;
		daemon_stop(d);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	basicauth_put(s->auth);
	free(s->listen_address);
	pthread_cond_destroy(&s->jobs_cond);
	pthread_mutex_destroy(&s->jobs_lock);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void http_server_get_stats(const struct http_server *s, struct http_stats *out)
{
	struct http_server *ms = (struct http_server *)s; /* the lock; nothing else changes */
	int i;

	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	for (i = 1; i <= 5; i++)
		out->requests[i] = atomic_load_explicit(&s->requests[i], memory_order_relaxed);
	out->profile_requests_in_flight = atomic_load(&s->profiles_in_flight);
	out->profile_requests_rejected = atomic_load(&s->profiles_rejected);
	pthread_mutex_lock(&ms->lock);
	out->connections_open = s->conn_cnt;
	pthread_mutex_unlock(&ms->lock);
	out->connections_rejected_total = atomic_load(&s->conn_rejected_total);
	out->connections_rejected_per_client = atomic_load(&s->conn_rejected_per_client);
	out->connections_timed_out = atomic_load(&s->conn_timed_out);
	out->connections_evicted = atomic_load(&s->conn_evicted);
	out->profile_requests_abandoned = atomic_load(&s->profiles_abandoned);
	out->page_requests_in_flight = atomic_load(&s->pages_in_flight);
	out->page_requests_rejected_busy = atomic_load(&s->pages_rejected_busy);
	out->page_requests_rejected_size = atomic_load(&s->pages_rejected_size);
	out->auth_missing = atomic_load(&s->auth_missing);
	out->auth_invalid = atomic_load(&s->auth_invalid);
	out->auth_bcrypt_checks = atomic_load(&s->auth_bcrypt_checks);
	out->tls_client_cert_rejected = atomic_load(&tls_client_cert_rejected);
	out->reloads_ok = atomic_load(&s->reloads_ok);
	out->reloads_failed = atomic_load(&s->reloads_failed);
	out->last_reload_ok = atomic_load(&s->last_reload_ok);
}
