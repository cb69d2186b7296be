// SPDX-License-Identifier: Apache-2.0
#include "exporter/pages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/hmap.h"
#include "common/strbuf.h"
#include "common/u64map.h"
#include "exporter/flamegraph.h"
#include "exporter/pprof.h"
#include "exporter/profile.h"
#include "exporter/query.h"
#include "exporter/speedscope.h"

#define NS		1000000000LL
#define DEFAULT_SECONDS QUERY_DEFAULT_SECONDS
/* Folded and HTML answers larger than this are refused (a filter narrows them). */
#define PAGE_MAX_BYTES (256u << 20)
/* The server's cap (--web.max-page-bytes) when it gives one. */
#define PAGE_CAP(req) ((req)->max_body_sz ? (req)->max_body_sz : PAGE_MAX_BYTES)
/* Processes listed on the index page. */
#define INDEX_TOP 50

static const char *req_arg(const void *ctx, const char *name)
{
	return http_req_arg(ctx, name);
}

/* Answer with @out's text as @type, or the error @err: 413 past the page budget, else 500. */
static void reply_body(struct http_reply *reply, int err, struct strbuf *out, const char *type)
{
	if (err) {
		strbuf_free(out);
		http_reply_errorf(reply, err == -ENOSPC ? 413 : 500, "%s",
				  err == -ENOSPC
				      ? "the answer is too large: narrow it with a filter"
				      : "out of memory");
		return;
	}
	reply->status = 200;
	reply->content_type = type;
	reply->body = (uint8_t *)strbuf_detach(out, &reply->body_len);
}

bool pages_parse_filter(const struct http_profile_req *req, struct label_filter *f,
			struct http_reply *reply)
{
	const struct query_args args = {.get = req_arg, .ctx = req};
	char why[256];

	if (query_parse_filter(&args, f, why, sizeof(why))) {
		http_reply_errorf(reply, 400, "%s", why);
		return false;
	}
	return true;
}

/* The range of a request: [*from, *to) in Unix ns. False with a 400 in @reply. */
static bool parse_range(const struct pages_ctx *c, const struct http_profile_req *req, int64_t now,
			int64_t *from, int64_t *to, struct http_reply *reply)
{
	const struct query_args args = {.get = req_arg, .ctx = req};
	char why[256];

	if (query_parse_range(&args, now, c->retention_ns / NS + c->window_ns / NS, from, to, why,
			      sizeof(why))) {
		http_reply_errorf(reply, 400, "%s", why);
		return false;
	}
	return true;
}

/* The profile types by enum pprof_kind: the type= argument, and in titles. */
static const char *const type_arg[PPROF_NR_KINDS] = {"cpu", "offcpu", "wall"};
static const char *const type_title[PPROF_NR_KINDS] = {"CPU", "off-CPU", "wall-clock"};

/* What a history request asks for, and the windows that answer it. */
struct selection {
	enum pprof_kind kind;
	struct label_filter f;
	int64_t from, to; /* Unix ns */
	struct history_view v;
};

/* The profile type of a request (type=, default cpu); false with a 400 or 404 in @reply. */
static bool parse_type(const struct pages_ctx *c, const struct http_profile_req *req,
		       enum pprof_kind *kind, struct http_reply *reply)
{
	const char *t = http_req_arg(req, "type");
	size_t i = 0;

	if (t && *t)
		for (i = 0; i < PPROF_NR_KINDS && strcmp(t, type_arg[i]); i++)
			;
	if (i == PPROF_NR_KINDS) {
		http_reply_errorf(reply, 400, "%s", "type must be cpu, offcpu or wall");
		return false;
	}
	*kind = (enum pprof_kind)i;
	if (c->hist[i])
		return true;
	if (!c->hist[PPROF_KIND_CPU])
		http_reply_errorf(reply, 404, "%s",
				  "the profile history is off (--history.retention=0); use "
				  "/debug/pprof/profile?seconds=N");
	else
		http_reply_errorf(reply, 404, "%s",
				  "off-CPU profiling is off: start stackd with --offcpu.enabled");
	return false;
}

/* The windows of the request's type and range, or false with the reason in @reply. */
static bool acquire(const struct pages_ctx *c, const struct http_profile_req *req,
		    struct selection *sel, struct http_reply *reply)
{
	if (!parse_type(c, req, &sel->kind, reply) || !pages_parse_filter(req, &sel->f, reply) ||
	    !parse_range(c, req, unix_ns(), &sel->from, &sel->to, reply))
		return false;
	if (history_acquire(c->hist[sel->kind], sel->from, sel->to, &sel->v)) {
		http_reply_errorf(reply, 500, "%s", "out of memory");
		return false;
	}
	return true;
}

/* ns of one count of a profile of @kind: CPU samples weigh one period. */
static uint64_t kind_period(const struct pages_ctx *c, enum pprof_kind kind)
{
	return kind == PPROF_KIND_OFFCPU ? 1 : c->period_ns;
}

/* ---- /debug/pprof/history ----------------------------------------------------------------- */

static void serve_history(const struct pages_ctx *c, const struct http_profile_req *req,
			  struct http_reply *reply)
{
	struct profile_query q = {.label_mask = c->label_mask};
	struct pprof_builder *b = NULL;
	struct selection sel;
	int64_t duration;
	int err = 0;

	if (!acquire(c, req, &sel, reply))
		return;
	if (!sel.v.nr) {
		if (!sel.v.held_from_ns)
			http_reply_errorf(
			    reply, 404, "%s",
			    "no history yet: the first window closes one --history.window "
			    "after start-up");
		else
			http_reply_errorf(
			    reply, 404,
			    "no history in that range; held: %.3f to %.3f (Unix seconds)",
			    (double)sel.v.held_from_ns / 1e9, (double)sel.v.held_to_ns / 1e9);
		history_release(&sel.v);
		return;
	}
	q.filter = &sel.f;
	q.kind = sel.kind;
	q.period_ns = kind_period(c, sel.kind);
	err = profile_merge(&q, sel.v.w, sel.v.nr, &b, &duration);
	history_release(&sel.v);
	err = err ?: pprof_encode(b, duration, true, &reply->body, &reply->body_len);
	pprof_builder_free(b);
	if (err) {
		http_reply_errorf(reply, 500, "building the profile failed: %s", strerror(-err));
		return;
	}
	reply->status = 200;
}

/* ---- stacks by name (folded, flame graph) -------------------------------------------------- */

static const char *const kind_suffix[] = {
    [PPROF_FRAME_USER] = "",
    [PPROF_FRAME_KERNEL] = "_[k]",
    [PPROF_FRAME_JIT] = "_[j]",
    [PPROF_FRAME_INLINED] = "_[i]",
};

struct stack_walk {
	/* For every stack: frames root first, the process's comm as the root. */
	int (*fn)(struct stack_walk *w, const char *const *frames, size_t nr, int64_t count);
	struct strbuf names; /* scratch: this stack's names, NUL-separated */
	const char **frames;
	size_t cap;
	bool in_us; /* weigh stacks by their time in µs (off-CPU, wall), not their count */
	void *ctx;
};

/* A frame name as the folded format can carry it: no ';' and no line breaks. */
static int put_name(struct strbuf *sb, const char *name, const char *suffix)
{
	int err = 0;

	for (const char *p = name; *p && !err;) {
		size_t n = strcspn(p, ";\n\r");

		err = strbuf_append(sb, p, n);
		p += n;
		if (*p && !err) {
			char c = *p == ';' ? ':' : ' ';

			err = strbuf_append(sb, &c, 1);
			p++;
		}
	}
	err = err ?: strbuf_appends(sb, suffix);
	return err ?: strbuf_append(sb, "", 1);
}

static int walk_cb(void *ctx, const struct pprof_frame_name *frames, size_t nr, int64_t count,
		   int64_t value, const struct pprof_label *labels, size_t nr_labels)
{
	struct stack_walk *w = ctx;
	const char *comm = label_str(labels, nr_labels, "comm");
	size_t off[1 + 1024], n = 0;
	int err;

	if (!*comm)
		comm = "?";
	if (nr > 1024)
		nr = 1024; /* the root-most frames of an absurd stack are cut */
	strbuf_reset(&w->names);
	off[n++] = 0;
	err = put_name(&w->names, comm, "");
	for (size_t i = nr; !err && i-- > 0;) {
		off[n++] = w->names.len;
		err = put_name(&w->names, frames[i].name, kind_suffix[frames[i].kind]);
	}
	if (err)
		return err;
	if (n > w->cap) {
		const char **f = realloc(w->frames, n * sizeof(*f));

		if (!f)
			return -ENOMEM;
		w->frames = f;
		w->cap = n;
	}
	for (size_t i = 0; i < n; i++)
		w->frames[i] = w->names.buf + off[i];
	return w->fn(w, w->frames, n, w->in_us ? (value + 500) / 1000 : count);
}

/* Merge the windows (stacks by comm only), then hand each stack to @w->fn. */
static int walk_windows(const struct pages_ctx *c, const struct selection *sel,
			struct stack_walk *w)
{
	const struct profile_query q = {.filter = &sel->f,
					.label_mask = 1u << LABEL_COMM,
					.period_ns = kind_period(c, sel->kind),
					.kind = sel->kind};
	struct pprof_builder *b = NULL;
	struct pprof_frozen *fz = NULL;
	int64_t duration;
	int err;

	w->in_us = sel->kind != PPROF_KIND_CPU;
	err = profile_merge(&q, sel->v.w, sel->v.nr, &b, &duration);
	err = err ?: pprof_freeze(b, 0, &fz);
	pprof_builder_free(b);
	strbuf_init(&w->names, 1u << 20);
	err = err ?: pprof_frozen_foreach(fz, NULL, walk_cb, w);
	pprof_frozen_free(fz);
	strbuf_free(&w->names);
	free(w->frames);
	return err;
}

/* ---- /debug/pprof/folded ------------------------------------------------------------------ */

struct folded_line {
	struct hnode node;
	int64_t count;
	size_t len;
	char s[];
};

struct folded_ctx {
	struct hmap lines;
	struct strbuf line;
};

static int folded_add(struct stack_walk *w, const char *const *frames, size_t nr, int64_t count)
{
	struct folded_ctx *fc = w->ctx;
	struct folded_line *l;
	struct hnode *n;
	uint64_t h;
	int err = 0;

	strbuf_reset(&fc->line);
	for (size_t i = 0; !err && i < nr; i++) {
		err = i ? strbuf_append(&fc->line, ";", 1) : 0;
		err = err ?: strbuf_appends(&fc->line, frames[i]);
	}
	if (err)
		return err;
	/* Different addresses of one function fold into one line. */
	h = hash_bytes(fc->line.buf, fc->line.len, 0x666f6c64);
	for (n = hmap_first(&fc->lines, h); n; n = hmap_next(n)) {
		l = container_of(n, struct folded_line, node);
		if (l->len == fc->line.len && memcmp(l->s, fc->line.buf, l->len) == 0) {
			l->count += count;
			return 0;
		}
	}
	l = malloc(sizeof(*l) + fc->line.len);
	if (!l)
		return -ENOMEM;
	l->count = count;
	l->len = fc->line.len;
	memcpy(l->s, fc->line.buf, l->len);
	err = hmap_insert(&fc->lines, &l->node, h);
	if (err)
		free(l);
	return err;
}

static void serve_folded(const struct pages_ctx *c, const struct http_profile_req *req,
			 struct http_reply *reply)
{
	struct folded_ctx fc;
	struct stack_walk w = {.fn = folded_add, .ctx = &fc};
	struct selection sel;
	struct strbuf out;
	struct hnode *n, *tmp;
	size_t i;
	int err;

	if (!acquire(c, req, &sel, reply))
		return;
	hmap_init(&fc.lines);
	strbuf_init(&fc.line, 1u << 20);
	strbuf_init(&out, PAGE_CAP(req));
	err = walk_windows(c, &sel, &w);
	history_release(&sel.v);
	hmap_for_each_safe (&fc.lines, n, tmp, i) {
		struct folded_line *l = container_of(n, struct folded_line, node);

		if (!err) {
			err = strbuf_append(&out, l->s, l->len);
			err = err ?: strbuf_appendf(&out, " %lld\n", (long long)l->count);
		}
		free(l);
	}
	hmap_fini(&fc.lines);
	strbuf_free(&fc.line);
	reply_body(reply, err, &out, "text/plain; charset=utf-8");
}

/* ---- /flamegraph -------------------------------------------------------------------------- */

/*
 * The flame graph's walk, by name index: each frame's name (what put_name
 * makes of it, with its kind's suffix) becomes the graph's name index once,
 * through a cache keyed by the frozen profile's own string (a pointer that
 * stays put within one frozen profile) and the frame kind; a stack then
 * costs one trie step per frame and no string work.
 */
#define KIND_COMM 4u /* the root: the process's comm */

struct flame_walk {
	struct flamegraph *fg;
	bool base;  /* the base of a differential graph */
	bool in_us; /* weigh stacks by their time in µs (off-CPU, wall), not their count */
	/* (the string's address | kind << 56) -> name index + 1 (UINT32_MAX: NAME_NONE) */
	struct u64map names;
	struct strbuf name; /* scratch */
	uint32_t ids[1 + 1024];
};

static int name_id(struct flame_walk *fw, const char *s, uint32_t kind, uint32_t *id)
{
	/* User-space addresses fit in 56 bits, so the key is exact. */
	const uint64_t key = (uint64_t)(uintptr_t)s | ((uint64_t)kind << 56);
	uint32_t v = u64map_get(&fw->names, key);
	int err;

	if (v) {
		*id = v == UINT32_MAX ? FLAMEGRAPH_NAME_NONE : v - 1;
		return 0;
	}
	strbuf_reset(&fw->name);
	err = put_name(&fw->name, s, kind == KIND_COMM ? "" : kind_suffix[kind]);
	err = err ?: flamegraph_intern(fw->fg, fw->name.buf, id);
	return err
		   ?: u64map_put(&fw->names, key,
				 *id == FLAMEGRAPH_NAME_NONE ? UINT32_MAX : *id + 1);
}

static int flame_cb(void *ctx, const struct pprof_frame_name *frames, size_t nr, int64_t count,
		    int64_t value, const struct pprof_label *labels, size_t nr_labels)
{
	struct flame_walk *fw = ctx;
	const char *comm = label_str(labels, nr_labels, "comm");
	uint64_t weight = (uint64_t)(fw->in_us ? (value + 500) / 1000 : count);
	size_t n = 0;
	int err;

	if (!*comm)
		comm = "?";
	if (nr > 1024)
		nr = 1024; /* the root-most frames of an absurd stack are cut */
	err = name_id(fw, comm, KIND_COMM, &fw->ids[n++]);
	for (size_t i = nr; !err && i-- > 0;)
		err = name_id(fw, frames[i].name, (uint32_t)frames[i].kind, &fw->ids[n++]);
	if (err)
		return err;
	return fw->base ? flamegraph_add_base_ids(fw->fg, fw->ids, n, weight)
			: flamegraph_add_ids(fw->fg, fw->ids, n, weight);
}

/*
 * Add @sel's stacks to @fg (as its base when @base): the windows merged
 * (stacks by comm only: ~7x fewer than the windows hold together on a busy
 * node), then walked by name index.
 */
static int flame_windows(const struct pages_ctx *c, const struct selection *sel,
			 struct flamegraph *fg, bool base)
{
	const struct profile_query q = {.filter = &sel->f,
					.label_mask = 1u << LABEL_COMM,
					.period_ns = kind_period(c, sel->kind),
					.kind = sel->kind};
	struct flame_walk *fw = calloc(1, sizeof(*fw));
	struct pprof_builder *b = NULL;
	struct pprof_frozen *fz = NULL;
	int64_t duration;
	int err;

	if (!fw)
		return -ENOMEM;
	fw->fg = fg;
	fw->base = base;
	fw->in_us = sel->kind != PPROF_KIND_CPU;
	u64map_init(&fw->names);
	strbuf_init(&fw->name, 1u << 16);
	err = profile_merge(&q, sel->v.w, sel->v.nr, &b, &duration);
	err = err ?: pprof_freeze(b, 0, &fz);
	pprof_builder_free(b);
	err = err ?: pprof_frozen_foreach(fz, NULL, flame_cb, fw);
	pprof_frozen_free(fz);
	strbuf_free(&fw->name);
	u64map_fini(&fw->names);
	free(fw);
	return err;
}

/* "pid=1,2 comm=x" for titles. */
static void describe_filter(const struct label_filter *f, char *buf, size_t sz)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < f->nr_pids && n < sz; i++)
		n += (size_t)snprintf(buf + n, sz - n, "%s%u", i ? "," : " pid=", f->pids[i]);
	if (f->comm[0] && n < sz)
		n += (size_t)snprintf(buf + n, sz - n, " comm=%s", f->comm);
	if (f->container[0] && n < sz)
		n += (size_t)snprintf(buf + n, sz - n, " container=%s", f->container);
	if (f->cgroup[0] && n < sz)
		n += (size_t)snprintf(buf + n, sz - n, " cgroup=%s", f->cgroup);
	if (f->unit[0] && n < sz)
		snprintf(buf + n, sz - n, " unit=%s", f->unit);
}

static void format_utc(int64_t ns, char *buf, size_t sz)
{
	time_t t = (time_t)(ns / NS);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * The request's selection (range and filters) as a percent-encoded query, for
 * the page's links to the same selection in other formats.
 */
static int selection_query(const struct http_profile_req *req, struct strbuf *sb)
{
	static const char *const range_args[] = {"type", "seconds", "start", "end"};
	const char *names[4 + 5];
	size_t nr = 0;
	int err = 0;

	for (size_t i = 0; i < 4; i++)
		names[nr++] = range_args[i];
	for (size_t i = 0; i < 5; i++)
		names[nr++] = label_filter_args[i];
	err = strbuf_append(sb, "", 0);
	for (size_t i = 0; !err && i < nr; i++) {
		const char *v = http_req_arg(req, names[i]);

		if (!v)
			continue;
		err = strbuf_appendf(sb, "%s%s=", sb->len ? "&" : "", names[i]);
		for (const unsigned char *p = (const unsigned char *)v; !err && *p; p++) {
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || strchr("-._~,:", *p))
				err = strbuf_append(sb, p, 1);
			else
				err = strbuf_appendf(sb, "%%%02X", *p);
		}
	}
	return err;
}

/* The UTC start and end of the windows @v holds into @t0/@t1; false when it holds none. */
static bool view_span(const struct history_view *v, char t0[32], char t1[32])
{
	if (!v->nr)
		return false;
	format_utc(pprof_frozen_time(v->w[0]), t0, 32);
	format_utc(pprof_frozen_time(v->w[v->nr - 1]) + pprof_frozen_duration(v->w[v->nr - 1]), t1,
		   32);
	return true;
}

/*
 * A differential graph's base (base=FROM,TO): the same type and filters over
 * that range, added to @fg as its base. False with a 400 in @reply when the
 * argument is bad; *@desc says what the base held, for the subtitle.
 */
static bool add_base(const struct pages_ctx *c, const struct selection *sel, const char *arg,
		     struct flamegraph *fg, int *err, char *desc, size_t desc_sz,
		     struct http_reply *reply)
{
	struct selection base = *sel;
	char t0[32], t1[32];

	if (query_parse_base(arg, &base.from, &base.to)) {
		http_reply_errorf(reply, 400, "%s",
				  "base must be FROM,TO: two times as start= and end= take them "
				  "(Unix seconds or RFC 3339), FROM first");
		return false;
	}
	if (history_acquire(c->hist[sel->kind], base.from, base.to, &base.v)) {
		*err = -ENOMEM;
		return true;
	}
	*err = flame_windows(c, &base, fg, true);
	if (view_span(&base.v, t0, t1))
		snprintf(desc, desc_sz, "; compared with %s to %s (%zu windows)", t0, t1,
			 base.v.nr);
	else
		snprintf(desc, desc_sz,
			 "; compared with a base range the history holds nothing of");
	history_release(&base.v);
	return true;
}

/*
 * The timeline of @sel's profile type over everything the history holds, for
 * the pages: {"type":T,"from":S,"to":S,"points":[[start,seconds,all,selected],...]}
 * with times in Unix seconds, one point per window (the open one last), "all"
 * the seconds (of CPU, off CPU or wall) of every process in it and
 * "selected" of the samples @sel's filter keeps; from/to: @sel's range.
 */
static int timeline_json(const struct pages_ctx *c, const struct selection *sel, struct strbuf *out)
{
	const int64_t now = unix_ns();
	const bool filtered = label_filter_active(&sel->f);
	struct history_view v;
	struct label_select ls;
	struct pprof_select ps;
	int err;

	label_select_init(&ps, &ls, &sel->f, ~0u);
	if (history_acquire(c->hist[sel->kind], now - (int64_t)(c->retention_ns + c->window_ns),
			    now, &v))
		return -ENOMEM;
	err = strbuf_appendf(out, "{\"type\":\"%s\",\"from\":%.3f,\"to\":%.3f,\"points\":[",
			     type_arg[sel->kind], (double)sel->from / 1e9, (double)sel->to / 1e9);
	for (size_t i = 0; !err && i < v.nr; i++) {
		int64_t count, all, mine;

		err = pprof_frozen_sum(v.w[i], NULL, &count, &all);
		mine = all;
		if (!err && filtered)
			err = pprof_frozen_sum(v.w[i], &ps, &count, &mine);
		err = err
			  ?: strbuf_appendf(out, "%s[%.3f,%.3f,%.6f,%.6f]", i ? "," : "",
					    (double)pprof_frozen_time(v.w[i]) / 1e9,
					    (double)pprof_frozen_duration(v.w[i]) / 1e9,
					    (double)all / 1e9, (double)mine / 1e9);
	}
	history_release(&v);
	return err ?: strbuf_appends(out, "]}");
}

/*
 * The flame graph page; with format=json, only the parts a range selection
 * on the page replaces (flamegraph_write_parts), for its script to fetch.
 */
static void serve_flamegraph(const struct pages_ctx *c, const struct http_profile_req *req,
			     struct http_reply *reply)
{
	const char *format = http_req_arg(req, "format");
	const char *base_arg = http_req_arg(req, "base");
	const bool parts = format && strcmp(format, "json") == 0;
	struct flamegraph *fg = NULL;
	struct selection sel;
	struct strbuf out, query, timeline;
	char title[512], sub[384], fdesc[384], t0[32], t1[32], bdesc[128] = "";
	struct flamegraph_page page;
	bool in_us;
	int err;

	if (format && !parts) {
		http_reply_errorf(reply, 400, "%s", "format must be json (or absent: the page)");
		return;
	}
	if (!acquire(c, req, &sel, reply))
		return;
	in_us = sel.kind != PPROF_KIND_CPU;
	err = flamegraph_new(&fg);
	err = err ?: flame_windows(c, &sel, fg, false);
	/* The base after the graph's own stacks: it only counts on the nodes they made. */
	if (base_arg && !err &&
	    !add_base(c, &sel, base_arg, fg, &err, bdesc, sizeof(bdesc), reply)) {
		history_release(&sel.v);
		flamegraph_free(fg);
		return;
	}
	describe_filter(&sel.f, fdesc, sizeof(fdesc));
	if (view_span(&sel.v, t0, t1)) {
		snprintf(sub, sizeof(sub), "%s to %s, %zu windows of history%s", t0, t1, sel.v.nr,
			 bdesc);
	} else {
		snprintf(sub, sizeof(sub), "%s",
			 sel.v.held_from_ns ? "no samples in that range"
					    : "no history yet: the first window closes one "
					      "--history.window after start-up");
	}
	history_release(&sel.v);
	snprintf(title, sizeof(title), "stackd %s %sflame graph%s", type_title[sel.kind],
		 base_arg ? "differential " : "", fdesc);
	strbuf_init(&out, PAGE_CAP(req));
	strbuf_init(&query, 64u << 10);
	strbuf_init(&timeline, 16u << 20);
	err = err ?: selection_query(req, &query);
	if (!parts)
		err = err ?: timeline_json(c, &sel, &timeline);
	page = (struct flamegraph_page){.title = title,
					.subtitle = sub,
					.period_ns = in_us ? 1000 : c->period_ns,
					.unit = in_us ? "\u00b5s" : NULL,
					.measure = type_title[sel.kind],
					.export_query = query.buf,
					.timeline_json = timeline.buf,
					.prune_den = FLAMEGRAPH_PRUNE_DEN,
					.max_nodes = FLAMEGRAPH_PAGE_NODES};
	if (parts)
		err = err ?: flamegraph_write_parts(fg, &page, &out);
	else
		err = err ?: flamegraph_write_html(fg, &page, &out);
	strbuf_free(&query);
	strbuf_free(&timeline);
	flamegraph_free(fg);
	if (err) {
		strbuf_free(&out);
		http_reply_errorf(reply, err == -ENOSPC ? 413 : 500, "%s",
				  err == -ENOSPC ? "the page is too large: narrow it with a filter"
						 : "building the flame graph failed");
		return;
	}
	reply->status = 200;
	reply->content_type = parts ? "application/json" : "text/html; charset=utf-8";
	reply->body = (uint8_t *)strbuf_detach(&out, &reply->body_len);
}

/* ---- /debug/pprof/speedscope -------------------------------------------------------------- */

static int speedscope_walk_add(struct stack_walk *w, const char *const *frames, size_t nr,
			       int64_t count)
{
	return speedscope_add(w->ctx, frames, nr, count > 0 ? (uint64_t)count : 0);
}

/* The same stacks as folded (comm as the root frame), one profile per comm. */
static void serve_speedscope(const struct pages_ctx *c, const struct http_profile_req *req,
			     struct http_reply *reply)
{
	struct speedscope *ss = NULL;
	struct stack_walk w = {.fn = speedscope_walk_add};
	struct selection sel;
	struct strbuf out;
	char name[512], fdesc[384], t0[32], t1[32];
	int err;

	if (!acquire(c, req, &sel, reply))
		return;
	err = speedscope_new(PAGE_CAP(req), &ss);
	w.ctx = ss;
	err = err ?: walk_windows(c, &sel, &w);
	describe_filter(&sel.f, fdesc, sizeof(fdesc));
	if (view_span(&sel.v, t0, t1)) {
		snprintf(name, sizeof(name), "stackd %s %s to %s%s", type_title[sel.kind], t0, t1,
			 fdesc);
	} else {
		snprintf(name, sizeof(name), "stackd %s, no samples in that range%s",
			 type_title[sel.kind], fdesc);
	}
	history_release(&sel.v);
	strbuf_init(&out, PAGE_CAP(req));
	err =
	    err
		?: speedscope_write(ss,
				    &(struct speedscope_meta){
					.name = name,
					.unit = sel.kind != PPROF_KIND_CPU ? "microseconds" : NULL},
				    &out);
	speedscope_free(ss);
	reply_body(reply, err, &out, "application/json");
}

/* ---- / ------------------------------------------------------------------------------------ */

struct proc_row {
	struct hnode node;
	int64_t pid;
	int64_t samples;
	char comm[64], container[72], unit[128];
};

struct index_ctx {
	struct hmap rows;
	size_t nr;
};

static int index_add(void *ctx, const struct pprof_label *labels, size_t nr, int64_t count)
{
	struct index_ctx *ic = ctx;
	struct proc_row *r;
	struct hnode *n;
	int64_t pid = -1;
	const char *cont;

	for (size_t i = 0; i < nr; i++)
		if (!labels[i].str && strcmp(labels[i].key, "pid") == 0)
			pid = labels[i].num;
	for (n = hmap_first(&ic->rows, hash_u64((uint64_t)pid)); n; n = hmap_next(n)) {
		r = container_of(n, struct proc_row, node);
		if (r->pid == pid) {
			r->samples += count;
			return 0;
		}
	}
	if (ic->nr >= 65536)
		return 0; /* the table is for people: the busiest are in by now */
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->pid = pid;
	r->samples = count;
	snprintf(r->comm, sizeof(r->comm), "%s", label_str(labels, nr, "comm"));
	cont = label_str(labels, nr, "container");
	if (!*cont)
		cont = label_str(labels, nr, "container_id");
	snprintf(r->container, sizeof(r->container), "%.12s", cont);
	if (*label_str(labels, nr, "pod"))
		snprintf(r->container, sizeof(r->container), "%.40s/%.30s",
			 label_str(labels, nr, "pod"), cont);
	snprintf(r->unit, sizeof(r->unit), "%s", label_str(labels, nr, "unit"));
	if (hmap_insert(&ic->rows, &r->node, hash_u64((uint64_t)pid))) {
		free(r);
		return -ENOMEM;
	}
	ic->nr++;
	return 0;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct proc_row *x = *(struct proc_row *const *)a, *y = *(struct proc_row *const *)b;

	return x->samples < y->samples ? 1 : x->samples > y->samples ? -1 : 0;
}

static const char index_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>stackd</title>\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<link rel=\"icon\" href=\"data:,\">\n"
    "<style>body{font:14px system-ui,sans-serif;margin:1.5em;color:#222;"
    "overflow-wrap:anywhere}.scroll{overflow-x:auto}"
    "svg.tl{display:block;width:100%;height:64px;background:#fff;border:1px solid #ddd}"
    "svg.tl rect{fill:#3d6fd6}svg.tl a:hover rect,svg.tl a:focus rect{fill:#e8603c}"
    "table{border-collapse:collapse}td,th{padding:.25em .8em;text-align:left;"
    "border-bottom:1px solid #ddd}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "code{background:#f4f4f4;padding:0 .3em}</style></head>\n<body><h1>stackd</h1>\n";

/*
 * The node's CPU over the whole history, for /: one bar per window (CPUs
 * used on average), each a link to that window's flame graph. An SVG with
 * no script: keyboard users tab through the windows, the title of each says
 * what it holds.
 */
static int index_timeline(const struct pages_ctx *c, struct strbuf *sb)
{
	const int64_t now = unix_ns();
	struct history_view v;
	double max = 0, t0, t1, *cpus;
	int err;

	if (history_acquire(c->hist[PPROF_KIND_CPU],
			    now - (int64_t)(c->retention_ns + c->window_ns), now, &v))
		return -ENOMEM;
	if (v.nr < 2) {
		history_release(&v);
		return 0;
	}
	t0 = (double)pprof_frozen_time(v.w[0]) / 1e9;
	t1 =
	    (double)(pprof_frozen_time(v.w[v.nr - 1]) + pprof_frozen_duration(v.w[v.nr - 1])) / 1e9;
	/* Each window's CPUs, summed once; < 0: not drawn. */
	cpus = calloc(v.nr, sizeof(*cpus));
	if (!cpus) {
		history_release(&v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < v.nr; i++) {
		int64_t count, ns;
		double d = (double)pprof_frozen_duration(v.w[i]) / 1e9;

		cpus[i] = pprof_frozen_sum(v.w[i], NULL, &count, &ns) || d <= 0
			      ? -1
			      : (double)ns / 1e9 / d;
		if (cpus[i] > max)
			max = cpus[i];
	}
	err = strbuf_appendf(
	    sb,
	    "<h2>CPU over the history</h2>\n<svg class=\"tl\" viewBox=\"0 0 1000 64\" "
	    "preserveAspectRatio=\"none\" role=\"list\" aria-label=\"CPU of the "
	    "node per history window, peak %.2f CPUs: each bar opens that window's "
	    "flame graph\">\n",
	    max);
	for (size_t i = 0; !err && i < v.nr; i++) {
		const double s0 = (double)pprof_frozen_time(v.w[i]) / 1e9,
			     d = (double)pprof_frozen_duration(v.w[i]) / 1e9;
		double x, w, h;
		char a[32], b[32];

		if (cpus[i] < 0)
			continue;
		x = (s0 - t0) / (t1 - t0) * 1000;
		w = d / (t1 - t0) * 1000;
		h = max > 0 ? cpus[i] / max * 60 : 0;
		format_utc(pprof_frozen_time(v.w[i]), a, sizeof(a));
		format_utc(pprof_frozen_time(v.w[i]) + pprof_frozen_duration(v.w[i]), b, sizeof(b));
		/* 2 ms inside the window: the neighbours, ending there to a few µs, stay out. */
		err = strbuf_appendf(
		    sb,
		    "<a href=\"/flamegraph?start=%.3f&amp;end=%.3f\" role=\"listitem\">"
		    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"><title>"
		    "%s to %s: %.2f CPUs</title></rect></a>\n",
		    s0 + 0.002, s0 + d - 0.002, x, 64 - h, w > 1.5 ? w - 0.5 : w, h, a, b, cpus[i]);
	}
	free(cpus);
	history_release(&v);
	return err ?: strbuf_appends(sb, "</svg>\n");
}

static void serve_index(const struct pages_ctx *c, const struct http_profile_req *req,
			struct http_reply *reply)
{
	struct index_ctx ic = {0};
	struct proc_row **rows = NULL;
	struct history_view v = {0};
	struct hnode *n, *tmp;
	struct strbuf sb;
	double span = 0;
	size_t i, k = 0;
	int err = 0;

	(void)req;
	strbuf_init(&sb, 8u << 20);
	err = strbuf_appends(&sb, index_head);
	hmap_init(&ic.rows);
	if (c->hist[PPROF_KIND_CPU]) {
		int64_t now = unix_ns();

		err = err ?: index_timeline(c, &sb);
		err = err
			  ?: history_acquire(c->hist[PPROF_KIND_CPU], now - DEFAULT_SECONDS * NS,
					     now, &v);
		for (i = 0; !err && i < v.nr; i++) {
			err = pprof_frozen_foreach_labels(v.w[i], NULL, index_add, &ic);
			span += (double)pprof_frozen_duration(v.w[i]) / 1e9;
		}
		history_release(&v);
		rows = calloc(ic.nr + 1, sizeof(*rows));
		if (!rows)
			err = err ?: -ENOMEM;
		hmap_for_each_safe (&ic.rows, n, tmp, i) {
			if (rows)
				rows[k++] = container_of(n, struct proc_row, node);
			else
				free(container_of(n, struct proc_row, node));
		}
		if (rows)
			qsort(rows, k, sizeof(*rows), cmp_rows);
		err =
		    err
			?: strbuf_appendf(
			       &sb,
			       "<h2>CPU over the last %d s of history</h2>\n"
			       "<p>Share of one CPU, from %.0f s of closed windows. "
			       "<a href=\"/flamegraph\">Flame graph of everything</a>%s.</p>\n",
			       DEFAULT_SECONDS, span,
			       c->hist[PPROF_KIND_OFFCPU]
				   ? "; where threads wait: <a href=\"/flamegraph?type=offcpu\">"
				     "off-CPU</a>, <a href=\"/flamegraph?type=wall\">wall-clock</a>"
				   : "");
		if (!k)
			err = err
				  ?: strbuf_appends(&sb,
						    "<p>No samples yet: the first history window "
						    "closes one --history.window after "
						    "start-up.</p>\n");
		else
			err = err
				  ?: strbuf_appends(
					 &sb,
					 "<div class=\"scroll\"><table><tr><th>CPU</th><th>pid</th>"
					 "<th>comm</th><th>container</th>"
					 "<th>unit</th><th>profiles</th></tr>\n");
		for (i = 0; !err && i < k && i < INDEX_TOP; i++) {
			const struct proc_row *r = rows[i];
			double pct = span > 0 ? (double)r->samples * (double)c->period_ns / 1e9 /
						    span * 100.0
					      : 0;

			err = strbuf_appendf(&sb,
					     "<tr><td class=\"n\">%.1f%%</td><td class=\"n\">"
					     "%lld</td><td>",
					     pct, (long long)r->pid);
			err = err ?: html_escape(&sb, r->comm, strlen(r->comm));
			err = err ?: strbuf_appends(&sb, "</td><td>");
			err = err ?: html_escape(&sb, r->container, strlen(r->container));
			err = err ?: strbuf_appends(&sb, "</td><td>");
			err = err ?: html_escape(&sb, r->unit, strlen(r->unit));
			err =
			    err
				?: strbuf_appendf(
				       &sb,
				       "</td><td><a href=\"/flamegraph?pid=%lld\">flame graph</a> "
				       "<a href=\"/debug/pprof/history?pid=%lld\">pprof</a> "
				       "<a "
				       "href=\"/debug/pprof/folded?pid=%lld\">folded</a></td></"
				       "tr>\n",
				       (long long)r->pid, (long long)r->pid, (long long)r->pid);
		}
		if (k)
			err = err ?: strbuf_appends(&sb, "</table></div>\n");
		for (i = 0; i < k; i++)
			free(rows[i]);
		free(rows);
	} else {
		err = err
			  ?: strbuf_appends(&sb, "<p>The profile history is off "
						 "(--history.retention=0).</p>\n");
	}
	hmap_fini(&ic.rows);
	err =
	    err
		?: strbuf_appends(
		       &sb,
		       "<h2>Endpoints</h2><ul>\n"
		       "<li><a "
		       "href=\"/debug/pprof/profile?seconds=10\">/debug/pprof/profile?seconds=10</"
		       "a>"
		       " CPU profile of the next 10 s (pprof)</li>\n"
		       "<li><a "
		       "href=\"/debug/pprof/history?seconds=300\">/debug/pprof/history?seconds=300"
		       "</a> the last 5 minutes from history (pprof)</li>\n"
		       "<li><a href=\"/debug/pprof/folded\">/debug/pprof/folded</a> collapsed "
		       "stacks</li>\n"
		       "<li><a href=\"/debug/pprof/speedscope\">/debug/pprof/speedscope</a> the "
		       "same stacks as a speedscope file</li>\n"
		       "<li><a href=\"/flamegraph\">/flamegraph</a> flame graph</li>\n"
		       "<li><a href=\"/metrics\">/metrics</a> Prometheus metrics</li>\n"
		       "<li><a href=\"/-/healthy\">/-/healthy</a>, <a "
		       "href=\"/-/ready\">/-/ready</a></li>\n"
		       "</ul>\n<p>Every profile endpoint takes the filters <code>pid</code>, "
		       "<code>comm</code>, <code>container</code>, <code>cgroup</code> and "
		       "<code>unit</code>; the history ones take <code>seconds</code> or "
		       "<code>start</code>/<code>end</code>, and <code>type</code> "
		       "(<code>cpu</code>, <code>offcpu</code> or <code>wall</code>).</p>\n"
		       "</body></html>\n");
	if (err) {
		strbuf_free(&sb);
		http_reply_errorf(reply, 500, "%s", "building the page failed");
		return;
	}
	reply->status = 200;
	reply->content_type = "text/html; charset=utf-8";
	reply->body = (uint8_t *)strbuf_detach(&sb, &reply->body_len);
}

void pages_serve(const struct pages_ctx *c, enum http_page page, const struct http_profile_req *req,
		 struct http_reply *reply)
{
	switch (page) {
	case HTTP_PAGE_HISTORY:
		serve_history(c, req, reply);
		break;
	case HTTP_PAGE_FOLDED:
		serve_folded(c, req, reply);
		break;
	case HTTP_PAGE_FLAMEGRAPH:
		serve_flamegraph(c, req, reply);
		break;
	case HTTP_PAGE_SPEEDSCOPE:
		serve_speedscope(c, req, reply);
		break;
	case HTTP_PAGE_INDEX:
	default:
		serve_index(c, req, reply);
		break;
	}
}
