// SPDX-License-Identifier: Apache-2.0
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/list.h"
#include "common/log.h"
#include "exporter/pprof.h"
#include "exporter/promtext.h"
#include "preflight.h"
#include "cpumetrics.h"
#include "dwarfagg.h"
#include "history.h"
#include "labels.h"
#include "loader.h"
#include "pages.h"
#include "privs.h"
#include "procmeta.h"
#include "proctable.h"
#include "stackcache.h"
#include "stats.h"
#include "symbolize/symbolizer.h"
#include "symbolize/unwinder.h"

#define MAX_DEBUG_DIRS 16

/* Open profile windows at most (the HTTP server's own limit is lower by default). */
#define MAX_WINDOWS 64

/*
 * The drain is stalled when no drain completed for this many drain intervals
 * (and at least DRAIN_STALL_MIN_NS): /-/ready then answers 503.
 */
#define DRAIN_STALL_INTERVALS 3
#define DRAIN_STALL_MIN_NS    (5 * 1000000000ULL)
/* Time the drain thread spends on ring-buffer records per loop, before it drains or stops. */
#define POLL_BUDGET_NS (200 * 1000000ULL)

enum window_state {
	WINDOW_PENDING,	  /* registered; starts at the next drain */
	WINDOW_ACTIVE,	  /* receiving drained samples */
	WINDOW_DONE,	  /* closed at a drain; the requester owns the builder */
	WINDOW_ABORTED,	  /* shutdown or error before it closed */
	WINDOW_CANCELLED, /* the client went away while ACTIVE: the next drain frees it */
};

/* One profile request's window. Fields below `lock` are guarded by agent.lock. */
struct window {
	struct list_head node;
	unsigned seconds;
	enum window_state state;
	uint64_t reg_mono_ns; /* when the request registered it */
	uint64_t start_mono_ns;
	uint64_t end_mono_ns;
	uint64_t duration_ns;
	int err;
	/* Written only by the drain thread while ACTIVE, then by the requester. */
	struct pprof_builder *b;
	struct http_waiter *waiter; /* told once DONE or ABORTED */
	bool is_notified;
	struct label_filter filter; /* the request's, for the encoding */
};

/* The history window being filled; drain thread only. */
struct hist_fill {
	struct pprof_builder *b; /* NULL when --history.retention=0 */
	uint64_t start_mono_ns;
	int64_t start_unix_ns;
};

struct agent {
	struct config cfg;
	struct loader *loader;
	struct symbolizer *sym;
	struct proctable *procs;
	struct stackcache *stacks;
	struct unwinder *unw;
	struct dwarfagg *dwarf;
	struct procmeta_reader *meta;
	struct history *hist; /* NULL: --history.retention=0 */
	struct hist_fill fill;
	struct cpumetrics *cpu;
	uint32_t label_mask; /* --profiling.labels */
	uint64_t drain_t0;   /* CLOCK_MONOTONIC of the running drain's swap */
	pthread_t thread;
	bool thread_started;
	bool thread_joined; /* main thread only */
	int wake_fd;	    /* eventfd: new window or stop */
	int epoll_fd;
	atomic_bool stopping;
	/* Drain liveness, read by HTTP threads and the shutdown watchdog without the lock. */
	_Atomic uint64_t progress_mono_ns; /* when the last drain completed (or the thread began) */
	_Atomic int64_t progress_unix_ns;
	_Atomic(const char *) stage; /* what the drain thread is doing now */
	atomic_bool stall_logged;
	uint64_t stall_after_ns;
	const char *test_stall_path; /* STACKD_TEST_STALL_DRAIN (test builds only) */
	uint64_t drain_seq;
	uint64_t next_drain_ns;

	/* The drain thread's own counters: it alone writes and reads them, without a lock. */
	struct agent_stats stats;

	pthread_mutex_t lock; /* guards windows, window states and pub */
	pthread_cond_t cond;  /* signalled when windows change state */
	struct list_head windows;
	unsigned nr_windows;
	struct agent_stats pub; /* what /metrics reads: stats as of the last drain, and req */
	struct prom_histogram drain_hist;
	uint64_t period_ns;
	/* --symbolize.debug-dirs (pointing into cfg.debug_dirs), then /usr/lib/debug, NULL */
	const char *debug_dirs[MAX_DEBUG_DIRS + 2];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int64_t unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void abort_windows(struct agent *a);
static void windows_notify(struct agent *a);

static void set_stage(struct agent *a, const char *stage)
{
	atomic_store_explicit(&a->stage, stage, memory_order_relaxed);
}

/* A drain completed: the agent is live again if it was stalled. */
static void mark_progress(struct agent *a)
{
	uint64_t last = atomic_load(&a->progress_mono_ns), now = mono_ns();

	atomic_store(&a->progress_mono_ns, now);
	atomic_store(&a->progress_unix_ns, unix_ns());
	if (atomic_exchange(&a->stall_logged, false))
		pr_info("drain resumed after %.1f s without progress", (double)(now - last) / 1e9);
}

/*
 * True when the drain thread has not completed a drain for stall_after_ns.
 * Called from any thread; the first caller to see a stall logs it, once.
 */
static bool drain_is_stalled(struct agent *a, uint64_t *idle_ns)
{
	uint64_t last = atomic_load(&a->progress_mono_ns), now = mono_ns();
	uint64_t idle = now > last ? now - last : 0;

	if (idle_ns)
		*idle_ns = idle;
	if (!last || idle < a->stall_after_ns)
		return false;
	if (!atomic_exchange(&a->stall_logged, true))
		pr_warn("drain thread made no progress for %.1f s (stuck in %s): not ready",
			(double)idle / 1e9, atomic_load(&a->stage));
	return true;
}

#ifdef STACKD_TEST_HOOKS
/*
 * Test builds only: while the FIFO named by STACKD_TEST_STALL_DRAIN exists,
 * each drain blocks opening it (as an open of a hostile FIFO would) until a
 * writer comes. Lets e2e tests stall the drain thread alone.
 */
static void test_stall_hook(struct agent *a)
{
	int fd;

	if (!a->test_stall_path || access(a->test_stall_path, F_OK) != 0)
		return;
	set_stage(a, "test hook (STACKD_TEST_STALL_DRAIN)");
	fd = open(a->test_stall_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
}
#else
static void test_stall_hook(struct agent *a)
{
	(void)a;
}
#endif

/* ---- drain thread ------------------------------------------------------------------------ */

static void on_event(void *ctx, const struct stackd_event *ev)
{
	struct agent *a = ctx;
	char comm[STACKD_COMM_LEN + 1];

	memcpy(comm, ev->comm, STACKD_COMM_LEN);
	comm[STACKD_COMM_LEN] = '\0';
	switch (ev->type) {
	case STACKD_EVENT_NEW_PROCESS:
		/* First sample since start or exec: snapshot now, while it is alive. */
		proctable_get(a->procs, ev->tgid, ev->start_boottime, comm, true);
		/* An exec keeps (tgid, start time): the old image's names must go. */
		stackcache_forget(a->stacks, ev->tgid, ev->start_boottime);
		a->stats.events_new++;
		break;
	case STACKD_EVENT_EXIT:
		proctable_mark_exited(a->procs, ev->tgid, ev->start_boottime, a->drain_seq);
		a->stats.events_exit++;
		break;
	default:
		break;
	}
}

/* A sample whose user stack was copied: unwind it with CFI and count it until the next drain. */
static void on_dwarf_sample(void *ctx, const struct stackd_dwarf_sample *rec, size_t len)
{
	struct agent *a = ctx;
	uint64_t uips[STACKD_MAX_STACK_DEPTH];
	enum unwind_end end = UNWIND_END_NO_MAPPING;
	size_t unr = 0, knr;
	struct proc *p;

	if (rec->stack_len > STACKD_MAX_STACK_COPY || len < sizeof(*rec) + rec->stack_len) {
		a->stats.dwarf_bad_records++;
		return;
	}
	knr = rec->kstack_len / sizeof(uint64_t);
	if (knr > STACKD_MAX_STACK_DEPTH)
		knr = STACKD_MAX_STACK_DEPTH;
	p = proctable_get(a->procs, rec->tgid, rec->start_boottime, NULL, false);
	if (p && p->maps) {
		/* __u64 and uint64_t differ in type (long long vs long), not in layout. */
		unr =
		    unwinder_unwind(a->unw, (pid_t)rec->tgid, p->maps, (const uint64_t *)rec->regs,
				    rec->stack, rec->stack_len, uips, STACKD_MAX_STACK_DEPTH, &end);
	} else if (rec->regs[UNWIND_REG_RIP]) {
		uips[unr++] = rec->regs[UNWIND_REG_RIP]; /* no maps: the sampled ip at least */
	}
	a->stats.dwarf_samples++;
	a->stats.samples_drained++; /* one record, one sample: read back like a counts entry */
	if (end != UNWIND_END_COMPLETE)
		a->stats.dwarf_ended_early++;
	if (dwarfagg_add(a->dwarf, rec->tgid, rec->pid, rec->start_boottime, uips, (uint32_t)unr,
			 (const uint64_t *)rec->kstack, (uint32_t)knr))
		a->stats.dwarf_dropped++;
}

/* Where a complete user stack ends: process and thread entry points. */
static bool is_stack_root(const char *name)
{
	static const char *const roots[] = {
	    "_start",
	    "__libc_start_main",
	    "__libc_start_call_main",
	    "start_thread",
	    "clone",
	    "clone3",
	    "__clone",
	    "__clone3",
	    "__clone_internal",
	    "thread_start",
	    "_dl_start_user",
	    "runtime.goexit",
	    "runtime.rt0_go",
	    "runtime.mstart",
	};

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (strcmp(name, roots[i]) == 0)
			return true;
	return false;
}

/*
 * --unwind.mode=auto: does this frame-pointer stack reach a root, or main
 * (whose caller, in a libc without symbols, may have no name)? Only the two
 * outermost frames are symbolized.
 */
static bool fp_stack_complete(struct agent *a, struct proc *p, const uint64_t *ips, uint32_t nr)
{
	struct sym_result *res = NULL;
	bool complete = false;
	uint32_t first = nr > 2 ? nr - 2 : 0;

	/* Names only: deciding must not load DWARF (megabytes per object) on every node. */
	if (symbolizer_user_names(a->sym, (pid_t)p->tgid, p->maps, ips + first, nr - first, &res))
		return true; /* cannot tell: do not pay for DWARF on a guess */
	for (size_t i = 0; i < res->nr && !complete; i++) {
		const struct sym_frame *f = &res->frames[i];
		const char *fn = f->nr_lines ? f->lines[f->nr_lines - 1].function : NULL;

		if (!fn)
			continue;
		if (is_stack_root(fn) || strcmp(fn, "main") == 0)
			complete = true;
	}
	sym_result_free(res);
	return complete;
}

/* Decide, from a process's first frame-pointer stacks, whether it needs DWARF unwinding. */
static void auto_unwind_check(struct agent *a, struct proc *p, const struct loader_record *r)
{
	/* At least this many stacks, of which this share ended early, switch a process. */
	enum { MIN_CHECKED = 4, DECIDE_AFTER = 32, EARLY_PCT = 25 };

	if (p->unwind != PROC_UNWIND_UNDECIDED || !r->ustack || !p->maps || p->has_exited)
		return;
	p->fp_checked++;
	if (!fp_stack_complete(a, p, r->ustack, r->ustack_nr)) {
		p->fp_early++;
		a->stats.fp_ended_early += r->count;
	}
	if (p->fp_checked >= MIN_CHECKED && p->fp_early * 100 >= p->fp_checked * EARLY_PCT) {
		if (loader_set_dwarf_proc(a->loader, p->tgid, p->start_boottime, true) == 0) {
			p->unwind = PROC_UNWIND_DWARF;
			a->stats.procs_switched_dwarf++;
		} else {
			p->unwind = PROC_UNWIND_FP; /* dwarf_procs is full: stay cheap */
			a->stats.dwarf_procs_full++;
		}
	} else if (p->fp_checked >= DECIDE_AFTER) {
		p->unwind = PROC_UNWIND_FP;
	}
}

/*
 * The process table evicts a process: if it was switched to DWARF and is still
 * alive (evicted by --process.max or the maps budget; an exit already cleared
 * it in the kernel), drop its dwarf_procs entry, or such entries pile up until
 * the map is full and no process can be switched any more. If it is sampled
 * again it comes back undecided and earns the switch afresh.
 */
static void auto_unwind_evicted(void *ctx, const struct proc *p)
{
	struct agent *a = ctx;

	if (p->unwind == PROC_UNWIND_DWARF &&
	    loader_set_dwarf_proc(a->loader, p->tgid, p->start_boottime, false) == 1)
		a->stats.dwarf_procs_released++;
}

/* Fake addresses for pseudo frames, so each kind dedups to one Location. */
enum pseudo_frame {
	PSEUDO_USTACK_COLLISION = 1,
	PSEUDO_KSTACK_COLLISION,
	PSEUDO_USTACK_MISSING,
	PSEUDO_KSTACK_MISSING,
	PSEUDO_NO_STACK,
};

static const char *const pseudo_names[] = {
    [PSEUDO_USTACK_COLLISION] = "[user stack lost: stack map collision]",
    [PSEUDO_KSTACK_COLLISION] = "[kernel stack lost: stack map collision]",
    [PSEUDO_USTACK_MISSING] = "[user stack unavailable]",
    [PSEUDO_KSTACK_MISSING] = "[kernel stack unavailable]",
    [PSEUDO_NO_STACK] = "[no stack]",
};

static int add_pseudo(struct pprof_builder *b, enum pseudo_frame kind, uint64_t *id)
{
	struct pprof_line line = {.function = pseudo_names[kind]};

	return pprof_add_location(b, 0, kind, &line, 1, id);
}

/* Locations of one symbolized stack into @b, appended to ids[*nr]. */
static int add_frames(struct pprof_builder *b, const struct sym_result *r, uint64_t *ids,
		      size_t *nr, size_t cap)
{
	struct pprof_line lines[16];
	int err;

	for (size_t i = 0; i < r->nr && *nr < cap; i++) {
		const struct sym_frame *f = &r->frames[i];
		uint64_t map_id = 0;
		size_t nl = f->nr_lines < 16 ? f->nr_lines : 16;

		if (f->mapping) {
			struct pprof_mapping m = {
			    .start = f->mapping->start,
			    .limit = f->mapping->limit,
			    .offset = f->mapping->offset,
			    .filename = f->mapping->path,
			    .build_id = f->mapping->build_id,
			    .has_functions = f->mapping->has_functions,
			    .has_filenames = f->mapping->has_filenames,
			    .has_line_numbers = f->mapping->has_line_numbers,
			    .has_inline_frames = f->mapping->has_inline_frames,
			};

			err = pprof_add_mapping(b, &m, &map_id);
			if (err)
				return err;
		}
		for (size_t j = 0; j < nl; j++) {
			lines[j] = (struct pprof_line){
			    .function = f->lines[j].function,
			    .system_name = f->lines[j].system_name,
			    .filename = f->lines[j].file,
			    .start_line = f->lines[j].start_line,
			    .line = f->lines[j].line,
			};
		}
		err = pprof_add_location(b, map_id, f->addr, lines, nl, &ids[*nr]);
		if (err)
			return err;
		(*nr)++;
	}
	return 0;
}

/*
 * A user stack through the process's maps snapshot. A leaf outside every
 * mapping may be code mapped after the snapshot (dlopen): re-read the maps
 * (rate-limited) and try once more.
 */
static struct sym_result *symbolize_user(struct agent *a, struct proc *p,
					 const struct loader_record *r)
{
	struct sym_result *res = NULL;
	const struct procmaps *old;

	if (symbolizer_user(a->sym, (pid_t)p->tgid, p->maps, r->ustack, r->ustack_nr, &res))
		return NULL;
	if (res->nr && !res->frames[0].mapping && !p->has_exited) {
		old = p->maps;
		proctable_refresh_maps(a->procs, p);
		/* A new snapshot may show other code at addresses cached stacks went through. */
		if (p->maps != old)
			stackcache_forget(a->stacks, p->tgid, p->start_boottime);
		sym_result_free(res);
		res = NULL;
		if (p->maps &&
		    symbolizer_user(a->sym, (pid_t)p->tgid, p->maps, r->ustack, r->ustack_nr, &res))
			return NULL;
	}
	return res;
}

/* Results with an unmapped frame are not cached: a later maps refresh may resolve them. */
static bool fully_mapped(const struct sym_result *res)
{
	for (size_t i = 0; i < res->nr; i++)
		if (!res->frames[i].mapping)
			return false;
	return true;
}

/* Where a drain's samples go: the open profile windows and the history window. */
struct drain_ctx {
	struct agent *a;
	struct pprof_builder *sinks[MAX_WINDOWS + 1];
	size_t nr_sinks;
};

static void feed_record(void *ctx, const struct loader_record *r)
{
	struct drain_ctx *dc = ctx;
	struct agent *a = dc->a;
	const struct stackd_count_key *k = r->key;
	const struct sym_result *ures = NULL, *kres = NULL;
	struct sym_result *unew = NULL, *knew = NULL;
	uint64_t ids[2 * STACKD_MAX_STACK_DEPTH + 2];
	const struct pprof_label *labels;
	struct pprof_label fallback[2];
	size_t nr_labels;
	struct proc *p;
	int err;

	p = proctable_get(a->procs, k->tgid, k->start_boottime, NULL, false);
	if (!p) {
		a->stats.samples_unattributed += r->count;
		return;
	}
	proctable_touch(a->procs, p, a->drain_seq);
	if (a->cfg.unwind_mode == STACKD_UNWIND_AUTO && !r->is_dwarf)
		auto_unwind_check(a, p, r);
	if (p->labels) {
		labels = p->labels->l;
		nr_labels = p->labels->nr;
	} else {
		/* Out of memory when the process was read: the two labels that need none. */
		fallback[0] = (struct pprof_label){.key = "pid", .num = (int64_t)k->tgid};
		fallback[1] =
		    (struct pprof_label){.key = "comm", .str = p->comm[0] ? p->comm : "?"};
		labels = fallback;
		nr_labels = 2;
	}
	cpumetrics_add_process(a->cpu, labels, nr_labels, r->count, a->drain_t0);
	/* Symbolization is only paid for when something reads the stacks. */
	if (!dc->nr_sinks && !cpumetrics_wants_stacks(a->cpu))
		return;

	/* A stack seen before maps straight to its symbolized frames. */
	if (r->kstack) {
		kres = stackcache_get(a->stacks, 0, 0, r->kstack, r->kstack_nr);
		if (!kres && symbolizer_kernel(a->sym, r->kstack, r->kstack_nr, &knew) == 0)
			kres = knew;
	}
	if (r->ustack && p->maps) {
		ures =
		    stackcache_get(a->stacks, p->tgid, p->start_boottime, r->ustack, r->ustack_nr);
		if (!ures)
			ures = unew = symbolize_user(a, p, r);
	}

	if (cpumetrics_wants_stacks(a->cpu)) {
		const struct sym_result *parts[2] = {kres, ures};

		cpumetrics_add_stack(a->cpu, parts, 2, r->count, a->drain_t0);
	}
	for (size_t w = 0; w < dc->nr_sinks; w++) {
		struct pprof_builder *b = dc->sinks[w];
		size_t nr = 0;

		/* Leaf first: kernel frames sit on top of the user frames. */
		err = 0;
		if (kres)
			err = add_frames(b, kres, ids, &nr, sizeof(ids) / sizeof(ids[0]) - 2);
		else if (k->kstack_id == -EEXIST)
			err = add_pseudo(b, PSEUDO_KSTACK_COLLISION, &ids[nr++]);
		else if (k->kstack_id < 0 && k->kstack_id != STACKD_STACK_NONE)
			err = add_pseudo(b, PSEUDO_KSTACK_MISSING, &ids[nr++]);
		if (!err && ures)
			err = add_frames(b, ures, ids, &nr, sizeof(ids) / sizeof(ids[0]) - 1);
		else if (!err && k->ustack_id == -EEXIST)
			err = add_pseudo(b, PSEUDO_USTACK_COLLISION, &ids[nr++]);
		else if (!err && k->ustack_id != STACKD_STACK_NONE)
			err = add_pseudo(b, PSEUDO_USTACK_MISSING, &ids[nr++]);
		if (!err && nr == 0)
			err = add_pseudo(b, PSEUDO_NO_STACK, &ids[nr++]);
		if (!err)
			err = pprof_add_sample(b, ids, nr, (int64_t)r->count, labels, nr_labels);
		if (err)
			a->stats.samples_not_in_profile += r->count;
	}
	/* Cache only now: a put may evict the borrowed results used above. */
	if (knew)
		stackcache_put(a->stacks, 0, 0, r->kstack, r->kstack_nr, knew, false);
	/* JIT code can change under the same address: such stacks serve this drain only. */
	if (unew && fully_mapped(unew))
		stackcache_put(a->stacks, p->tgid, p->start_boottime, r->ustack, r->ustack_nr, unew,
			       stackcache_is_jit(unew));
	else
		sym_result_free(unew);
}

static void publish_stats(struct agent *a, const struct loader_drain_stats *ds, uint64_t drain_ns)
{
	struct symbolizer_stats ss;
	struct stackcache_stats sc;
	struct unwinder_stats us;
	struct proctable_stats ps;
	struct procmeta_stats ms;
	uint64_t bpf[STACKD_CNT__MAX];

	symbolizer_get_stats(a->sym, &ss);
	stackcache_get_stats(a->stacks, &sc);
	unwinder_get_stats(a->unw, &us);
	proctable_get_stats(a->procs, &ps);
	procmeta_get_stats(a->meta, &ms);
	if (loader_read_counters(a->loader, bpf) != 0)
		memset(bpf, 0, sizeof(bpf));
	prom_histogram_observe_ns(&a->drain_hist, drain_ns);

	memcpy(a->stats.bpf, bpf, sizeof(bpf));
	a->stats.sym = ss;
	a->stats.stacks = sc;
	a->stats.unw = us;
	a->stats.procs = ps;
	a->stats.meta = ms;
	a->stats.drains++;
	a->stats.samples_drained += ds->samples;
	a->stats.records_drained += ds->records;
	a->stats.stacks_not_found += ds->stacks_not_found;
	a->stats.swap_timeouts += ds->swap_timed_out;
	pthread_mutex_lock(&a->lock);
	stats_publish(&a->pub, &a->stats);
	pthread_mutex_unlock(&a->lock);
}

/*
 * Close the history window once this drain's swap (@t0) is at or past its
 * end: freeze it into the ring and open the next one at @t0.
 */
static void history_rotate(struct agent *a, uint64_t t0, int64_t t0_unix)
{
	struct pprof_opts popts = {.period_ns = a->period_ns, .time_nanos = t0_unix};
	struct pprof_frozen *f = NULL;
	int err;

	if (!a->hist)
		return;
	if (a->fill.b && t0 - a->fill.start_mono_ns < a->cfg.history_window_ns)
		return;
	if (a->fill.b) {
		err = pprof_freeze(a->fill.b, (int64_t)(t0 - a->fill.start_mono_ns), &f);
		if (err)
			a->stats.history_freeze_failed++;
		else
			history_push(a->hist, f);
		pprof_builder_free(a->fill.b);
		a->fill.b = NULL;
		/* The window's hash tables are gone: give the pages back. */
		malloc_trim(0);
	}
	if (pprof_builder_new(&popts, &a->fill.b) == 0) {
		a->fill.start_mono_ns = t0;
		a->fill.start_unix_ns = t0_unix;
	}
}

static void do_drain(struct agent *a)
{
	struct drain_ctx dc = {.a = a};
	struct loader_drain_stats ds;
	struct list_head *pos;
	uint64_t t0, now;
	int64_t now_unix;

	test_stall_hook(a);
	set_stage(a, "draining the maps");
	t0 = mono_ns();
	/* Windows change state only here, so the ACTIVE set is stable for this drain. */
	pthread_mutex_lock(&a->lock);
	for (pos = a->windows.next; pos != &a->windows; pos = pos->next) {
		struct window *w = list_entry(pos, struct window, node);

		if (w->state == WINDOW_ACTIVE && dc.nr_sinks < MAX_WINDOWS)
			dc.sinks[dc.nr_sinks++] = w->b;
	}
	pthread_mutex_unlock(&a->lock);
	if (a->fill.b)
		dc.sinks[dc.nr_sinks++] = a->fill.b;
	a->drain_t0 = t0;

	a->drain_seq++;
	if (loader_drain(a->loader, feed_record, &dc, &ds) != 0)
		memset(&ds, 0, sizeof(ds));
	/* Samples unwound from stack copies since the last drain join the same path. */
	dwarfagg_flush(a->dwarf, feed_record, &dc);
	stackcache_end_drain(a->stacks);
	proctable_sweep(a->procs, a->drain_seq);

	now = mono_ns();
	now_unix = unix_ns();
	history_rotate(a, t0, now_unix - (int64_t)(now - t0));
	pthread_mutex_lock(&a->lock);
	for (pos = a->windows.next; pos != &a->windows; pos = pos->next) {
		struct window *w = list_entry(pos, struct window, node);

		/*
		 * The swap at the start of this drain is the window's boundary:
		 * a window closes once that swap is at or past its end; a pending
		 * one opens at it.
		 */
		if (w->state == WINDOW_ACTIVE && t0 >= w->end_mono_ns) {
			w->state = WINDOW_DONE;
			w->duration_ns = t0 - w->start_mono_ns;
		} else if (w->state == WINDOW_PENDING && w->reg_mono_ns <= t0) {
			/*
			 * Registered before this drain's swap: it opens there. One
			 * registered during the drain waits for the next swap (at
			 * once), else it would hold samples from before its request.
			 */
			struct pprof_opts popts = {
			    .period_ns = a->period_ns,
			    .time_nanos = now_unix - (int64_t)(now - t0),
			};

			w->start_mono_ns = t0;
			w->end_mono_ns = t0 + (uint64_t)w->seconds * 1000000000ULL;
			w->err = pprof_builder_new(&popts, &w->b);
			w->state = w->err ? WINDOW_ABORTED : WINDOW_ACTIVE;
		}
	}
	windows_notify(a);
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);

	publish_stats(a, &ds, mono_ns() - t0);
	mark_progress(a);
}

/* When the drain thread must next drain: the regular tick or a window's end. */
static uint64_t next_deadline(struct agent *a, bool *now_pending)
{
	uint64_t d = a->next_drain_ns;
	struct list_head *pos;

	*now_pending = false;
	pthread_mutex_lock(&a->lock);
	for (pos = a->windows.next; pos != &a->windows; pos = pos->next) {
		struct window *w = list_entry(pos, struct window, node);

		if (w->state == WINDOW_PENDING)
			*now_pending = true;
		else if (w->state == WINDOW_ACTIVE && w->end_mono_ns < d)
			d = w->end_mono_ns;
	}
	pthread_mutex_unlock(&a->lock);
	return d;
}

static void *drain_main(void *arg)
{
	struct agent *a = arg;
	struct epoll_event evs[4];

	mark_progress(a);
	a->next_drain_ns = mono_ns() + a->cfg.drain_interval_ns;
	/* The first history window opens now: the first drain's samples belong to it. */
	history_rotate(a, mono_ns(), unix_ns());
	while (!atomic_load(&a->stopping)) {
		bool pending;
		uint64_t deadline = next_deadline(a, &pending), now = mono_ns();
		int timeout_ms = 0, n;

		if (!pending && deadline > now)
			timeout_ms = (int)((deadline - now + 999999) / 1000000);
		set_stage(a, "waiting for the next drain");
		n = epoll_wait(a->epoll_fd, evs, 4, timeout_ms);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == a->wake_fd) {
				uint64_t v;

				if (read(a->wake_fd, &v, sizeof(v)) < 0)
					continue;
			}
		}
		/* Process notifications first: a new process's maps before its samples. */
		set_stage(a, "reading process events");
		/*
		 * Bounded, so that a flood of new processes or copied stacks
		 * delays neither the next drain nor a shutdown by more than
		 * this (plus the one record in hand).
		 */
		loader_poll_events(a->loader, POLL_BUDGET_NS);
		if (atomic_load(&a->stopping))
			break;
		deadline = next_deadline(a, &pending);
		now = mono_ns();
		if (pending || now >= deadline) {
			do_drain(a);
			if (now >= a->next_drain_ns)
				a->next_drain_ns = now + a->cfg.drain_interval_ns;
		}
	}
	/* The builders of active windows are ours until here: now hand them back. */
	abort_windows(a);
	return NULL;
}

static void wake_drain(struct agent *a)
{
	uint64_t one = 1;

	if (write(a->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is saturated: the drain thread is awake anyway. */
	}
}

/* ---- HTTP side ---------------------------------------------------------------------------- */

/*
 * A closed window as served: only the samples @f keeps, with only the
 * --profiling.labels keys, gzip-compressed pprof.
 */
static int encode_window(struct agent *a, struct window *w, const struct label_filter *f,
			 struct http_reply *reply)
{
	struct pprof_opts popts = {.period_ns = a->period_ns, .time_nanos = 0};
	struct pprof_builder *out = NULL;
	struct pprof_frozen *fz = NULL;
	struct label_select ls;
	struct pprof_select sel;
	int err;

	err = pprof_freeze(w->b, (int64_t)w->duration_ns, &fz);
	/* The window's tables are copied: free them before building the answer. */
	pprof_builder_free(w->b);
	w->b = NULL;
	if (err)
		return err;
	popts.time_nanos = pprof_frozen_time(fz);
	label_select_init(&sel, &ls, f, a->label_mask);
	err = pprof_builder_new(&popts, &out);
	err = err ?: pprof_merge(out, fz, &sel);
	pprof_frozen_free(fz);
	err =
	    err ?: pprof_encode(out, (int64_t)w->duration_ns, true, &reply->body, &reply->body_len);
	pprof_builder_free(out);
	return err;
}

static void window_free(struct window *w)
{
	pprof_builder_free(w->b);
	free(w);
}

/*
 * Under a->lock, where the drain no longer writes any builder: tell the
 * HTTP server about windows that closed, and free the ones whose client
 * went away while they were ACTIVE.
 */
static void windows_notify(struct agent *a)
{
	struct list_head *pos = a->windows.next;

	while (pos != &a->windows) {
		struct window *w = list_entry(pos, struct window, node);

		pos = pos->next;
		if (w->state == WINDOW_CANCELLED) {
			list_del(&w->node);
			a->nr_windows--;
			window_free(w);
		} else if ((w->state == WINDOW_DONE || w->state == WINDOW_ABORTED) &&
			   !w->is_notified) {
			w->is_notified = true;
			http_profile_ready(w->waiter);
		}
	}
}

void *agent_http_profile_start(void *ctx, const struct http_profile_req *req,
			       struct http_waiter *waiter, struct http_reply *reply)
{
	struct agent *a = ctx;
	struct window *w;

	w = calloc(1, sizeof(*w));
	if (!w) {
		http_reply_errorf(reply, 500, "%s", "out of memory");
		return NULL;
	}
	if (!pages_parse_filter(req, &w->filter, reply)) {
		free(w);
		return NULL;
	}
	w->seconds = req->seconds;
	w->state = WINDOW_PENDING;
	w->reg_mono_ns = mono_ns();
	w->waiter = waiter;

	pthread_mutex_lock(&a->lock);
	/* Before the drain thread runs, the window simply waits for it to start. */
	if (atomic_load(&a->stopping) || a->nr_windows >= MAX_WINDOWS) {
		pthread_mutex_unlock(&a->lock);
		free(w);
		http_reply_errorf(reply, 503, "%s",
				  atomic_load(&a->stopping)
				      ? "stackd is shutting down"
				      : "too many concurrent profile requests");
		return NULL;
	}
	list_add_tail(&w->node, &a->windows);
	a->nr_windows++;
	a->pub.req.profiles_started++;
	pthread_mutex_unlock(&a->lock);
	/* The drain thread opens the window at its next swap and closes it at the end. */
	wake_drain(a);
	return w;
}

void agent_http_profile_end(void *ctx, void *window, struct http_reply *reply)
{
	struct agent *a = ctx;
	struct window *w = window;
	enum window_state state;
	uint64_t t_closed;
	int err;

	pthread_mutex_lock(&a->lock);
	state = w->state;
	if (!reply && state == WINDOW_ACTIVE) {
		/* The drain may be writing its builder right now: it frees it after. */
		w->state = WINDOW_CANCELLED;
		pthread_mutex_unlock(&a->lock);
		return;
	}
	list_del(&w->node);
	a->nr_windows--;
	pthread_mutex_unlock(&a->lock);
	if (!reply) {
		window_free(w);
		return;
	}
	t_closed = mono_ns();

	if (state != WINDOW_DONE) {
		if (w->err)
			http_reply_errorf(reply, 500, "cannot build the profile: %s",
					  strerror(-w->err));
		else
			http_reply_errorf(reply, 503, "%s", "stackd is shutting down");
	} else {
		err = encode_window(a, w, &w->filter, reply);
		if (err) {
			http_reply_errorf(reply, 500, "encoding the profile failed: %s",
					  strerror(-err));
		} else {
			reply->status = 200;
			pthread_mutex_lock(&a->lock);
			a->pub.req.profiles_served++;
			a->pub.req.profile_encode_ns_last = mono_ns() - t_closed;
			pthread_mutex_unlock(&a->lock);
		}
	}
	window_free(w);
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
		pc.hist = a->hist;
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
	if (drain_is_stalled(a, &idle)) {
		snprintf(why, why_sz,
			 "the drain is stalled: no drain for %.1f s (drain thread in %s)",
			 (double)idle / 1e9, atomic_load(&a->stage));
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
	stalled = drain_is_stalled(a, &idle);
	snprintf(buf, len, "drain thread in %s, last drain %.1f s ago", atomic_load(&a->stage),
		 (double)idle / 1e9);
	return stalled;
}

int agent_http_metrics(void *ctx, struct strbuf *out)
{
	struct agent *a = ctx;
	struct agent_stats s;
	struct agent_info info;
	bool started;
	int err;

	pthread_mutex_lock(&a->lock);
	s = a->pub;
	started = a->thread_started;
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
	info.history_budget = a->hist ? a->cfg.history_max_bytes : 0;
	if (a->hist)
		history_get_stats(a->hist, &s.hist);
	if (started) {
		s.drain_stalled = drain_is_stalled(a, NULL);
		s.drain_last_unix_ns = atomic_load(&a->progress_unix_ns);
	}
	err = stats_write_metrics(out, &s, &info, &a->drain_hist);
	/* The cpu metrics are only written once the drain thread made them. */
	if (!err && started)
		err = cpumetrics_write(a->cpu, out);
	return err;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

int agent_new(const struct config *cfg, struct agent **out)
{
	static const double drain_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					      0.01,   0.025,   0.05,   0.1,   0.25,   1};
	struct agent *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	a->wake_fd = a->epoll_fd = -1;
	a->period_ns = 1000000000ULL / cfg->frequency_hz;
	a->stall_after_ns = DRAIN_STALL_INTERVALS * cfg->drain_interval_ns;
	if (a->stall_after_ns < DRAIN_STALL_MIN_NS)
		a->stall_after_ns = DRAIN_STALL_MIN_NS;
	a->stage = "starting";
#ifdef STACKD_TEST_HOOKS
	a->test_stall_path = getenv("STACKD_TEST_STALL_DRAIN");
#endif
	list_init(&a->windows);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	prom_histogram_init(&a->drain_hist, drain_bounds,
			    sizeof(drain_bounds) / sizeof(drain_bounds[0]));
	*out = a;
	return 0;
}

int agent_start(struct agent *a)
{
	struct symbolizer_opts sopts = {.cache_max_bytes = a->cfg.symbol_cache_bytes,
					.max_object_bytes = a->cfg.symbol_max_object_bytes};
	struct loader_opts lopts;
	struct epoll_event ev = {.events = EPOLLIN};
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
	proctable_on_evict(a->procs, auto_unwind_evicted, a);
	if (labels_parse_set(a->cfg.labels, &a->label_mask)) {
		pr_err("--profiling.labels=%s: unknown label key", a->cfg.labels);
		return -EINVAL;
	}
	if (a->cfg.history_retention_ns) {
		struct history_opts ho = {
		    .window_ns = a->cfg.history_window_ns,
		    .retention_ns = a->cfg.history_retention_ns,
		    .max_bytes = a->cfg.history_max_bytes,
		};

		err = history_new(&ho, &a->hist);
		if (err) {
			pr_err("creating the profile history failed: %s", strerror(-err));
			return err;
		}
	}
	err = cpumetrics_new(
	    &(struct cpumetrics_opts){
		.period_ns = a->period_ns,
		.cpu_max_series = a->cfg.metrics_cpu_max_series,
		.cpu_labels = a->cfg.metrics_cpu_labels,
		.functions = a->cfg.metrics_functions,
		.functions_max_series = a->cfg.metrics_functions_max_series,
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
	lopts.on_event = on_event;
	lopts.on_dwarf_sample = on_dwarf_sample;
	lopts.ctx = a;
	/* On failure agent_stop frees whatever step was reached. */
	err = loader_open(&lopts, &a->loader);
	if (!err)
		err = loader_load(a->loader);
	if (!err)
		err = loader_attach(a->loader);
	if (err)
		return err;

	a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	a->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (a->wake_fd < 0 || a->epoll_fd < 0)
		return -errno;
	ev.data.fd = a->wake_fd;
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, a->wake_fd, &ev))
		return -errno;
	ev.data.fd = loader_events_fd(a->loader);
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		return -errno;
	return 0;
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
	err = -pthread_create(&a->thread, NULL, drain_main, a);
	if (err)
		return err;
	pthread_mutex_lock(&a->lock);
	a->thread_started = true;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

/* Ends every open window: only the drain thread (or agent_stop after joining it) calls this. */
static void abort_windows(struct agent *a)
{
	struct list_head *pos;

	pthread_mutex_lock(&a->lock);
	for (pos = a->windows.next; pos != &a->windows; pos = pos->next) {
		struct window *w = list_entry(pos, struct window, node);

		if (w->state == WINDOW_PENDING || w->state == WINDOW_ACTIVE)
			w->state = WINDOW_ABORTED;
	}
	windows_notify(a);
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
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
	if (!started)
		abort_windows(a);
	else
		wake_drain(a);
}

void agent_join(struct agent *a)
{
	if (!a)
		return;
	agent_begin_shutdown(a);
	if (a->thread_started && !a->thread_joined) {
		pthread_join(a->thread, NULL);
		a->thread_joined = true;
	}
}

void agent_stop(struct agent *a)
{
	if (!a)
		return;
	agent_join(a);
	/* Requesters free their own windows; the HTTP server has waited for them. */
	abort_windows(a);
	loader_free(a->loader);
	dwarfagg_free(a->dwarf);
	unwinder_free(a->unw);
	stackcache_free(a->stacks);
	proctable_free(a->procs);
	procmeta_reader_free(a->meta);
	pprof_builder_free(a->fill.b);
	history_free(a->hist);
	cpumetrics_free(a->cpu);
	symbolizer_free(a->sym);
	if (a->epoll_fd >= 0)
		close(a->epoll_fd);
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
