// SPDX-License-Identifier: Apache-2.0
#include "agent.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "exporter/history.h"
#include "exporter/labels.h"
#include "exporter/pages.h"
#include "exporter/pprof.h"
#include "exporter/profile.h"
#include "exporter/promtext.h"
#include "preflight.h"
#include "cpumetrics.h"
#include "drain.h"
#include "dwarfagg.h"
#include "histfill.h"
#include "jattach.h"
#include "javaprocs.h"
#include "loader.h"
#include "privs.h"
#include "procmeta.h"
#include "proctable.h"
#include "stackcache.h"
#include "stats.h"
#include "symbolize/cfitab.h"
#include "symbolize/symbolizer.h"
#include "symbolize/unwinder.h"
#include "unwtables.h"
#include "windows.h"

#define MAX_DEBUG_DIRS 16

/* Open profile windows at most (the HTTP server's own limit is lower by default). */
#define MAX_WINDOWS 64

struct agent {
	struct config cfg;
	/* The parts, made by agent_start and freed by agent_stop; the drain thread uses them. */
	struct loader *loader;
	struct symbolizer *sym;
	struct proctable *procs;
	struct stackcache *stacks;
	struct unwinder *unw;
	struct unwtables *tables; /* NULL outside --unwind.mode=kernel */
	struct pyprocs *py;	  /* NULL without --python.enabled in kernel mode */
	struct jattach *ja;	  /* the attach helper (main.c forks it); NULL: none */
	struct javaprocs *java;	  /* NULL without --java.enabled or a helper */
	struct dwarfagg *dwarf;
	struct procmeta_reader *meta;
	/*
	 * The history of each profile type (enum pprof_kind) and the window it
	 * fills; NULL: --history.retention=0, or no off-CPU profiling (off-CPU, wall).
	 */
	struct history *hist[PPROF_NR_KINDS];
	struct histfill *fill[PPROF_NR_KINDS];
	struct cpumetrics *cpu;
	/* Made by agent_new: HTTP threads use them from the start. */
	struct windows *windows;
	struct windows *offcpu_windows; /* /debug/pprof/offcpu */
	struct windows *wall_windows;	/* /debug/pprof/wall */
	struct drain *drain;
	uint32_t label_mask; /* --profiling.labels */
	atomic_bool stopping;

	pthread_mutex_t lock; /* guards thread_started and req */
	bool thread_started;
	struct agent_req_stats req; /* profile requests, counted by the HTTP threads */
	uint64_t period_ns;
	/* --symbolize.debug-dirs (pointing into cfg.debug_dirs), then /usr/lib/debug, NULL */
	const char *debug_dirs[MAX_DEBUG_DIRS + 2];
};

/* A profile request: its window (in ws), and the filter its answer applies. */
struct profile_req {
	struct windows *ws;
	struct window *w;
	struct label_filter filter;
};

/* ---- HTTP side ---------------------------------------------------------------------------- */

/*
 * A closed window as served: only the samples @f keeps, with only the
 * --profiling.labels keys, gzip-compressed pprof.
 */
static int encode_window(struct agent *a, struct window_result *w, const struct label_filter *f,
			 struct http_reply *reply)
{
	const enum pprof_kind kind = pprof_builder_kind(w->b);
	const struct profile_query q = {.filter = f,
					.label_mask = a->label_mask,
					.period_ns = pprof_builder_period(w->b),
					.kind = kind};
	struct pprof_builder *out = NULL;
	const struct pprof_frozen *fw;
	struct pprof_frozen *fz = NULL;
	int64_t duration;
	int err;

	err = pprof_freeze(w->b, (int64_t)w->duration_ns, &fz);
	/* The window's tables are copied: free them before building the answer. */
	pprof_builder_free(w->b);
	w->b = NULL;
	if (err)
		return err;
	fw = fz;
	err = profile_merge(&q, &fw, 1, &out, &duration);
	pprof_frozen_free(fz);
	err = err ?: pprof_encode(out, duration, true, &reply->body, &reply->body_len);
	pprof_builder_free(out);
	return err;
}

/* windows_opts.notify: the requester's HTTP worker may now call profile_end. */
static void notify_waiter(void *waiter)
{
	http_profile_ready(waiter);
}

void *agent_http_profile_start(void *ctx, const struct http_profile_req *req,
			       struct http_waiter *waiter, struct http_reply *reply)
{
	struct agent *a = ctx;
	struct profile_req *pr;
	int err;

	pr = calloc(1, sizeof(*pr));
	if (!pr) {
		http_reply_errorf(reply, 500, "%s", "out of memory");
		return NULL;
	}
	if (req->kind != HTTP_PROFILE_CPU && !a->cfg.offcpu_enabled) {
		free(pr);
		http_reply_errorf(reply, 404, "%s",
				  "off-CPU profiling is off: start stackd with --offcpu.enabled");
		return NULL;
	}
	if (!pages_parse_filter(req, &pr->filter, reply)) {
		free(pr);
		return NULL;
	}
	pr->ws = req->kind == HTTP_PROFILE_OFFCPU ? a->offcpu_windows
		 : req->kind == HTTP_PROFILE_WALL ? a->wall_windows
						  : a->windows;
	/* Before the drain thread runs, the window simply waits for it to start. */
	err = atomic_load(&a->stopping)
		  ? -ESHUTDOWN
		  : windows_open(pr->ws, req->seconds, mono_ns(), waiter, &pr->w);
	if (err) {
		free(pr);
		if (err == -ENOMEM)
			http_reply_errorf(reply, 500, "%s", "out of memory");
		else
			http_reply_errorf(reply, 503, "%s",
					  err == -ESHUTDOWN
					      ? "stackd is shutting down"
					      : "too many concurrent profile requests");
		return NULL;
	}
	pthread_mutex_lock(&a->lock);
	a->req.profiles_started++;
	pthread_mutex_unlock(&a->lock);
	/* The drain thread opens the window at its next swap and closes it at the end. */
	drain_wake(a->drain);
	return pr;
}

void agent_http_profile_end(void *ctx, void *window, struct http_reply *reply)
{
	struct agent *a = ctx;
	struct profile_req *pr = window;
	struct window_result res;
	uint64_t t_closed;
	int err;

	if (!reply) {
		windows_cancel(pr->ws, pr->w);
		free(pr);
		return;
	}
	windows_take(pr->ws, pr->w, &res);
	t_closed = mono_ns();

	if (!res.is_done) {
		if (res.err)
			http_reply_errorf(reply, 500, "cannot build the profile: %s",
					  strerror(-res.err));
		else
			http_reply_errorf(reply, 503, "%s", "stackd is shutting down");
	} else {
		err = encode_window(a, &res, &pr->filter, reply);
		if (err) {
			http_reply_errorf(reply, 500, "encoding the profile failed: %s",
					  strerror(-err));
		} else {
			reply->status = 200;
			pthread_mutex_lock(&a->lock);
			a->req.profiles_served++;
			a->req.profile_encode_ns_last = mono_ns() - t_closed;
			pthread_mutex_unlock(&a->lock);
		}
	}
	pprof_builder_free(res.b);
	free(pr);
	/* A large profile's builder and buffers are gone: return the pages. */
	malloc_trim(0);
}

void agent_http_page(void *ctx, enum http_page page, const struct http_profile_req *req,
		     struct http_reply *reply)
{
	struct agent *a = ctx;
	struct pages_ctx pc = {
	    .label_mask = a->label_mask,
	    .period_ns = a->period_ns,
	    .window_ns = a->cfg.history_window_ns,
	    .retention_ns = a->cfg.history_retention_ns,
	};

	/* The history exists once the agent started; before, the pages say it is empty. */
	if (agent_is_ready(a))
		memcpy(pc.hist, a->hist, sizeof(pc.hist));
	else if (page != HTTP_PAGE_INDEX) {
		http_reply_errorf(reply, 503, "%s", "stackd is starting");
		reply->retry_after = true;
		return;
	}
	pages_serve(&pc, page, req, reply);
	if (page != HTTP_PAGE_INDEX)
		malloc_trim(0);
}
bool agent_ready_why(void *ctx, char *why, size_t why_sz)
{
	struct agent *a = ctx;
	uint64_t idle = 0;
	bool started;

	pthread_mutex_lock(&a->lock);
	started = a->thread_started;
	pthread_mutex_unlock(&a->lock);
	if (!started) {
		snprintf(why, why_sz, "starting: the drain loop is not running yet");
		return false;
	}
	if (atomic_load(&a->stopping)) {
		snprintf(why, why_sz, "shutting down");
		return false;
	}
	if (drain_is_stalled(a->drain, &idle)) {
		snprintf(why, why_sz,
			 "the drain is stalled: no drain for %.1f s (drain thread in %s)",
			 (double)idle / 1e9, drain_stage(a->drain));
		return false;
	}
	return true;
}

bool agent_is_ready(void *ctx)
{
	char why[8];

	return agent_ready_why(ctx, why, sizeof(why));
}

bool agent_shutdown_report(struct agent *a, char *buf, size_t len)
{
	uint64_t idle = 0;
	bool stalled;

	if (!a || !a->thread_started) {
		snprintf(buf, len, "no drain thread");
		return false;
	}
	stalled = drain_is_stalled(a->drain, &idle);
	snprintf(buf, len, "drain thread in %s, last drain %.1f s ago", drain_stage(a->drain),
		 (double)idle / 1e9);
	return stalled;
}

/*
 * The history metrics: the histories of every profile type together (windows,
 * bytes, evictions, queries), but the samples held and the oldest window of
 * the CPU history alone (off-CPU counts are switches, not samples).
 */
static void history_stats_sum(struct agent *a, struct history_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t k = 0; k < PPROF_NR_KINDS; k++) {
		struct history_stats h;

		if (!a->hist[k])
			continue;
		history_get_stats(a->hist[k], &h);
		if (k == PPROF_KIND_CPU) {
			*out = h;
			continue;
		}
		out->windows += h.windows;
		out->bytes += h.bytes;
		out->pinned_bytes += h.pinned_bytes;
		out->pushed += h.pushed;
		out->evicted_retention += h.evicted_retention;
		out->evicted_budget += h.evicted_budget;
		out->rejected_too_big += h.rejected_too_big;
		out->rejected_pinned += h.rejected_pinned;
		out->queries += h.queries;
		out->partials += h.partials;
		out->partials_rejected += h.partials_rejected;
		out->partial_bytes += h.partial_bytes;
	}
}

int agent_http_metrics(void *ctx, struct strbuf *out)
{
	struct agent *a = ctx;
	struct agent_stats s;
	struct agent_info info;
	bool started;
	int err;

	pthread_mutex_lock(&a->lock);
	started = a->thread_started;
	pthread_mutex_unlock(&a->lock);
	/* Before the drain thread runs there is nothing to count yet: zeros. */
	memset(&s, 0, sizeof(s));
	if (started)
		drain_read_stats(a->drain, &s);
	pthread_mutex_lock(&a->lock);
	s.req = a->req;
	pthread_mutex_unlock(&a->lock);
	/* The loader is fixed once the drain thread runs; before that, report zeros. */
	memset(&info, 0, sizeof(info));
	if (started) {
		info.nr_cpus = loader_nr_attached_cpus(a->loader);
		info.stack_map_entries = loader_stack_map_entries(a->loader);
		info.counts_map_entries = loader_counts_map_entries(a->loader);
		info.overflow_map_entries = loader_overflow_map_entries(a->loader);
	}
	info.frequency_hz = a->cfg.frequency_hz;
	info.symbol_cache_budget = a->cfg.symbol_cache_bytes;
	info.stack_cache_budget = a->cfg.stack_cache_bytes;
	info.history_budget = a->hist[PPROF_KIND_CPU] ? a->cfg.history_max_bytes : 0;
	history_stats_sum(a, &s.hist);
	err = stats_write_metrics(out, &s, &info, drain_histogram(a->drain));
	/* The cpu metrics are only written once the drain thread made them. */
	if (!err && started)
		err = cpumetrics_write(a->cpu, out);
	return err;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* The windows of one profile endpoint. */
static int profile_windows(enum pprof_kind kind, uint64_t period_ns, struct windows **out)
{
	return windows_new(
	    &(struct windows_opts){
		.period_ns = period_ns,
		.kind = kind,
		.max_windows = MAX_WINDOWS,
		.notify = notify_waiter,
	    },
	    out);
}

int agent_new(const struct config *cfg, struct agent **out)
{
	struct drain_opts dopts = {.interval_ns = cfg->drain_interval_ns};
	struct agent *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	a->period_ns = 1000000000ULL / cfg->frequency_hz;
	pthread_mutex_init(&a->lock, NULL);
	/* Off-CPU values are ns (period 1); a wall profile's CPU samples weigh one period. */
	err = profile_windows(PPROF_KIND_CPU, a->period_ns, &a->windows);
	err = err ?: profile_windows(PPROF_KIND_OFFCPU, 1, &a->offcpu_windows);
	err = err ?: profile_windows(PPROF_KIND_WALL, a->period_ns, &a->wall_windows);
	if (err)
		goto fail;
	dopts.windows = a->windows;
	dopts.offcpu_windows = a->offcpu_windows;
	dopts.wall_windows = a->wall_windows;
#ifdef STACKD_TEST_HOOKS
	dopts.test_stall_path = getenv("STACKD_TEST_STALL_DRAIN");
#endif
	err = drain_new(&dopts, &a->drain);
	if (err)
		goto fail;
	*out = a;
	return 0;
fail:
	windows_free(a->windows);
	windows_free(a->offcpu_windows);
	windows_free(a->wall_windows);
	pthread_mutex_destroy(&a->lock);
	free(a);
	return err;
}

/* ---- the unwind table manager's kernel side: the loader's maps, the unwinder's tables -------- */

static int tables_get_table(void *ctx, uint32_t tgid, const struct procmaps *maps,
			    const struct procmap *m, struct unwtables_table *out)
{
	struct agent *a = ctx;
	struct unwinder_table ut;
	int err = unwinder_table(a->unw, (pid_t)tgid, maps, m, &ut);

	if (err)
		return err;
	out->rows = ut.tab->rows;
	out->nr_rows = ut.tab->nr_rows;
	out->obj_id = ut.obj_id;
	out->adj = ut.adj;
	return 0;
}

static int tables_write_rows(void *ctx, uint32_t first, const struct cfitab_row *rows, uint32_t nr)
{
	return loader_unwind_write_rows(((struct agent *)ctx)->loader, first, rows, nr);
}

static int tables_set_proc(void *ctx, uint32_t tgid, const struct stackd_unwind_proc *p,
			   bool only_existing)
{
	struct loader *l = ((struct agent *)ctx)->loader;

	return only_existing ? loader_unwind_replace_proc(l, tgid, p)
			     : loader_unwind_set_proc(l, tgid, p);
}

static int tables_del_proc(void *ctx, uint32_t tgid, uint64_t start_boottime)
{
	return loader_unwind_del_proc(((struct agent *)ctx)->loader, tgid, start_boottime);
}

static int tables_quiesce(void *ctx)
{
	return loader_quiesce(((struct agent *)ctx)->loader);
}

/* Kernel mode only: the manager of the loaded program's row pool and process entries. */
static int start_tables(struct agent *a)
{
	const struct unwtables_ops ops = {
	    .ctx = a,
	    .get_table = tables_get_table,
	    .write_rows = tables_write_rows,
	    .set_proc = tables_set_proc,
	    .del_proc = tables_del_proc,
	    .quiesce = tables_quiesce,
	};

	if (a->cfg.unwind_mode != STACKD_UNWIND_KERNEL)
		return 0;
	return unwtables_new(loader_unwind_rows(a->loader), &ops, &a->tables);
}

static int py_set_proc(void *ctx, uint32_t tgid, const struct stackd_py_proc *p)
{
	return loader_py_set_proc(((struct agent *)ctx)->loader, tgid, p);
}

static int py_del_proc(void *ctx, uint32_t tgid, uint64_t start_boottime)
{
	return loader_py_del_proc(((struct agent *)ctx)->loader, tgid, start_boottime);
}

/* Kernel mode with --python.enabled: the CPython processes' entries. */
static int start_python(struct agent *a)
{
	const struct pyprocs_ops ops = {.ctx = a, .set_proc = py_set_proc, .del_proc = py_del_proc};

	if (!loader_python(a->loader))
		return 0;
	return pyprocs_new("/proc", &ops, &a->py);
}

static int java_request(void *ctx, uint32_t pid, uint64_t start_boottime, const struct hs_jvm *jvm,
			uint64_t bias)
{
	struct agent *a = ctx;
	struct jattach_request req = {
	    .pid = (pid_t)pid,
	    .start_ticks = javaprocs_ticks(a->java, start_boottime),
	    .want_layout = jvm != NULL,
	    .bias = bias,
	};

	if (jvm)
		req.jvm = *jvm;
	/* Answers come in turn, each within the helper's deadline: keep the queue short. */
	if (jattach_pending(a->ja) >= JAVAPROCS_PER_TICK)
		return -EAGAIN;
	return jattach_ask(a->ja, &req);
}

/* The JVM rewrote its perf map: names read anew, and its cached JIT stacks named anew. */
static void java_reloaded(void *ctx, uint32_t pid, uint64_t start_boottime)
{
	struct agent *a = ctx;

	symbolizer_perfmap_reload(a->sym, (pid_t)pid);
	stackcache_forget(a->stacks, pid, start_boottime);
}

static int java_set_layout(void *ctx, uint32_t pid, const struct stackd_hs_proc *e)
{
	return loader_hs_set_proc(((struct agent *)ctx)->loader, pid, e);
}

static void java_del_layout(void *ctx, uint32_t pid, uint64_t start_boottime)
{
	loader_hs_del_proc(((struct agent *)ctx)->loader, pid, start_boottime);
}

/* --java.enabled with a helper: JVMs get asked for their perf maps (and heaps, kernel mode). */
static int start_java(struct agent *a)
{
	struct javaprocs_ops ops = {
	    .ctx = a,
	    .request = java_request,
	    .reloaded = java_reloaded,
	};

	if (!a->cfg.java_enabled || !a->ja)
		return 0;
	if (loader_java(a->loader)) {
		ops.set_layout = java_set_layout;
		ops.del_layout = java_del_layout;
	}
	return javaprocs_new("/proc", &ops, sysconf(_SC_CLK_TCK), &a->java);
}

void agent_take_jattach(struct agent *a, struct jattach *ja)
{
	a->ja = ja;
}

/*
 * The profile histories: CPU alone under the whole --history.max-bytes; with
 * off-CPU profiling, CPU with half of it and the off-CPU and wall ones a
 * quarter each (a wall window holds about what the other two do together,
 * an off-CPU one about as many stacks as a CPU one).
 */
static int make_histories(struct agent *a)
{
	static const unsigned share_of_4[PPROF_NR_KINDS] = {2, 1, 1};
	const size_t nr = a->cfg.offcpu_enabled ? PPROF_NR_KINDS : 1;
	int err = 0;

	for (size_t k = 0; !err && k < nr; k++) {
		struct history_opts ho = {
		    .window_ns = a->cfg.history_window_ns,
		    .retention_ns = a->cfg.history_retention_ns,
		    .max_bytes = nr == 1 ? a->cfg.history_max_bytes
					 : a->cfg.history_max_bytes / 4 * share_of_4[k],
		    /* Two drains for the first fresh snapshot, 5 s at most on an HTTP thread. */
		    .partial_wait_ns = a->cfg.drain_interval_ns < 2500000000ULL
					   ? 2 * a->cfg.drain_interval_ns
					   : 5000000000ULL,
		};

		err = history_new(&ho, &a->hist[k]);
		if (err) {
			pr_err("creating the profile history failed: %s", strerror(-err));
			return err;
		}
		/* Off-CPU counts are switches whose values are ns: a period of 1. */
		err = histfill_new(a->hist[k], a->cfg.history_window_ns,
				   k == PPROF_KIND_OFFCPU ? 1 : a->period_ns, (enum pprof_kind)k,
				   &a->fill[k]);
	}
	return err;
}

int agent_start(struct agent *a)
{
	struct symbolizer_opts sopts = {.cache_max_bytes = a->cfg.symbol_cache_bytes,
					.max_object_bytes = a->cfg.symbol_max_object_bytes};
	struct loader_opts lopts;
	char *save = NULL, *dir;
	size_t nr_dirs = 0;
	int err;

	/* --symbolize.debug-dirs: split in place; the symbolizer keeps copies or borrows. */
	for (dir = strtok_r(a->cfg.debug_dirs, ",", &save); dir && nr_dirs < MAX_DEBUG_DIRS;
	     dir = strtok_r(NULL, ",", &save))
		if (*dir)
			a->debug_dirs[nr_dirs++] = dir;
	a->debug_dirs[nr_dirs++] = "/usr/lib/debug";
	a->debug_dirs[nr_dirs] = NULL;
	sopts.debug_dirs = (const char *const *)a->debug_dirs;

	err = symbolizer_new(&sopts, &a->sym);
	if (err) {
		pr_err("creating the symbolizer failed: %s", strerror(-err));
		return err;
	}
	err = procmeta_reader_new(&(struct procmeta_opts){.proc_root = "/proc"}, &a->meta);
	if (err) {
		pr_err("creating the process metadata reader failed: %s", strerror(-err));
		return err;
	}
	err = proctable_new(a->cfg.max_processes, "/proc", a->sym, a->meta, &a->procs);
	if (err)
		return err;
	if (labels_parse_set(a->cfg.labels, &a->label_mask)) {
		pr_err("--profiling.labels=%s: unknown label key", a->cfg.labels);
		return -EINVAL;
	}
	if (a->cfg.history_retention_ns) {
		err = make_histories(a);
		if (err)
			return err;
	}
	err = cpumetrics_new(
	    &(struct cpumetrics_opts){
		.period_ns = a->period_ns,
		.cpu_max_series = a->cfg.metrics_cpu_max_series,
		.cpu_labels = a->cfg.metrics_cpu_labels,
		.functions = a->cfg.metrics_functions,
		.functions_max_series = a->cfg.metrics_functions_max_series,
		.offcpu = a->cfg.offcpu_enabled,
	    },
	    &a->cpu);
	if (err) {
		pr_err("--metrics.cpu.labels or --metrics.functions: %s", strerror(-err));
		return err;
	}
	err = stackcache_new(a->cfg.stack_cache_bytes, &a->stacks);
	if (err)
		return err;
	err = unwinder_new(&(struct unwinder_opts){.cache_max_bytes = a->cfg.unwind_cache_bytes},
			   &a->unw);
	if (err) {
		pr_err("creating the unwinder failed: %s", strerror(-err));
		return err;
	}
	/* Distinct stacks per drain cannot exceed the samples per drain; 64k is far above. */
	err = dwarfagg_new(65536, &a->dwarf);
	if (err)
		return err;
	/* Below the kernel DWARF unwinding needs, auto mode samples with frame pointers only. */
	err = preflight_unwind_mode(&a->cfg.unwind_mode);
	if (err)
		return err;
	loader_opts_from_config(&lopts, &a->cfg);
	lopts.on_event = drain_on_event;
	lopts.on_dwarf_sample = drain_on_dwarf_sample;
	lopts.ctx = a->drain;
	/* On failure agent_stop frees whatever step was reached. */
	err = loader_open(&lopts, &a->loader);
	if (!err)
		err = loader_load(a->loader);
	/*
	 * The Python walk is verified on the kernels the README states; a verifier that
	 * refuses it must not cost the whole profiler: the rest loads without it.
	 */
	if (err && err != -ENOMEM && lopts.python && lopts.unwind_mode == STACKD_UNWIND_KERNEL) {
		pr_warn("loading the BPF programs with Python frames failed (%s): loading them "
			"without (--python.enabled=false); Python frames stay the interpreter's",
			strerror(-err));
		loader_free(a->loader);
		a->loader = NULL;
		lopts.python = false;
		err = loader_open(&lopts, &a->loader);
		if (!err)
			err = loader_load(a->loader);
	}
	if (!err)
		err = start_tables(a);
	if (!err)
		err = start_python(a);
	if (!err)
		err = start_java(a);
	if (!err)
		err = loader_attach(a->loader);
	if (err)
		return err;
	return drain_attach(a->drain, &(struct drain_parts){
					  .loader = a->loader,
					  .sym = a->sym,
					  .procs = a->procs,
					  .stacks = a->stacks,
					  .unw = a->unw,
					  .tables = a->tables,
					  .py = a->py,
					  .java = a->java,
					  .ja = a->ja,
					  .dwarf = a->dwarf,
					  .cpu = a->cpu,
					  .fill = {a->fill[0], a->fill[1], a->fill[2]},
					  .meta = a->meta,
					  .unwind_mode = a->cfg.unwind_mode,
				      });
}

int agent_run(struct agent *a)
{
	int err;

	/*
	 * The drain thread parses what processes control (maps, ELF and debug
	 * files, cgroup paths, runtime state): never with the privileges needed
	 * to load and attach.
	 */
	if (!privs_are_dropped()) {
		pr_err("refusing to read process files before privileges are dropped");
		return -EPERM;
	}
	err = drain_run(a->drain);
	if (err)
		return err;
	pthread_mutex_lock(&a->lock);
	a->thread_started = true;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

void agent_begin_shutdown(struct agent *a)
{
	bool started;

	if (!a)
		return;
	atomic_store(&a->stopping, true);
	pthread_mutex_lock(&a->lock);
	started = a->thread_started;
	pthread_mutex_unlock(&a->lock);
	/* With no drain thread (start-up failed), nobody else would end the windows. */
	if (!started) {
		windows_abort(a->windows);
		windows_abort(a->offcpu_windows);
		windows_abort(a->wall_windows);
	} else {
		drain_stop(a->drain);
	}
}

void agent_join(struct agent *a)
{
	if (!a)
		return;
	agent_begin_shutdown(a);
	drain_join(a->drain);
}

void agent_stop(struct agent *a)
{
	if (!a)
		return;
	agent_join(a);
	/* Requesters free their own windows; the HTTP server has waited for them. */
	windows_abort(a->windows);
	windows_abort(a->offcpu_windows);
	windows_abort(a->wall_windows);
	drain_free(a->drain);
	unwtables_free(a->tables);
	pyprocs_free(a->py);
	javaprocs_free(a->java);
	jattach_stop(a->ja);
	loader_free(a->loader);
	dwarfagg_free(a->dwarf);
	unwinder_free(a->unw);
	stackcache_free(a->stacks);
	proctable_free(a->procs);
	procmeta_reader_free(a->meta);
	for (size_t k = 0; k < PPROF_NR_KINDS; k++) {
		histfill_free(a->fill[k]);
		history_free(a->hist[k]);
	}
	cpumetrics_free(a->cpu);
	symbolizer_free(a->sym);
	windows_free(a->windows);
	windows_free(a->offcpu_windows);
	windows_free(a->wall_windows);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
