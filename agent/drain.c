// SPDX-License-Identifier: Apache-2.0
#include "drain.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "symbolize/python.h"

/*
 * The drain is stalled when no drain completed for this many drain intervals
 * (and at least DRAIN_STALL_MIN_NS): /-/ready then answers 503.
 */
#define DRAIN_STALL_INTERVALS 3
#define DRAIN_STALL_MIN_NS    (5 * 1000000000ULL)
/* Time the drain thread spends on ring-buffer records per loop, before it drains or stops. */
#define POLL_BUDGET_NS (200 * 1000000ULL)
/*
 * While a drain works through its records (symbolizing a new object's DWARF
 * can take a while), it reads process events every this often, for at most
 * DRAIN_POLL_BUDGET_NS: a short-lived process must be snapshotted, and its
 * tables loaded, while it still lives.
 */
#define DRAIN_POLL_EVERY_NS  (10 * 1000000ULL)
#define DRAIN_POLL_BUDGET_NS (5 * 1000000ULL)

struct drain {
	struct drain_opts o;
	struct drain_parts p;
	pthread_t thread;
	bool thread_started, thread_joined; /* main thread only */
	int wake_fd;			    /* eventfd: new window or stop */
	int epoll_fd;
	atomic_bool stopping;
	/* Liveness, read by HTTP threads and the shutdown watchdog without the lock. */
	_Atomic uint64_t progress_mono_ns; /* when the last drain completed (or the thread began) */
	_Atomic int64_t progress_unix_ns;
	_Atomic(const char *) stage; /* what the drain thread is doing now */
	atomic_bool stall_logged;
	uint64_t stall_after_ns;
	uint64_t t0; /* CLOCK_MONOTONIC of the running drain's swap */
	uint64_t seq;
	uint64_t next_drain_ns;
	uint64_t last_poll_ns; /* when process events were last read */
	bool poll_first;       /* read them at this drain's first record */

	/* The drain thread's own counters: it alone writes and reads them, without a lock. */
	struct agent_stats stats;

	pthread_mutex_t lock;	/* guards pub */
	struct agent_stats pub; /* stats as of the last drain */
	struct prom_histogram hist;
};

/* ---- liveness ----------------------------------------------------------------------------- */

static void set_stage(struct drain *d, const char *stage)
{
	atomic_store_explicit(&d->stage, stage, memory_order_relaxed);
}

const char *drain_stage(struct drain *d)
{
	return atomic_load(&d->stage);
}

/* A drain completed: the agent is live again if it was stalled. */
static void mark_progress(struct drain *d)
{
	uint64_t last = atomic_load(&d->progress_mono_ns), now = mono_ns();

	atomic_store(&d->progress_mono_ns, now);
	atomic_store(&d->progress_unix_ns, unix_ns());
	if (atomic_exchange(&d->stall_logged, false))
		pr_info("drain resumed after %.1f s without progress", (double)(now - last) / 1e9);
}

/* Called from any thread; the first caller to see a stall logs it, once. */
bool drain_is_stalled(struct drain *d, uint64_t *idle_ns)
{
	uint64_t last = atomic_load(&d->progress_mono_ns), now = mono_ns();
	uint64_t idle = now > last ? now - last : 0;

	if (idle_ns)
		*idle_ns = idle;
	if (!last || idle < d->stall_after_ns)
		return false;
	if (!atomic_exchange(&d->stall_logged, true))
		pr_warn("drain thread made no progress for %.1f s (stuck in %s): not ready",
			(double)idle / 1e9, atomic_load(&d->stage));
	return true;
}

/*
 * Test builds only (the path is NULL otherwise): while the FIFO exists, each
 * drain blocks opening it (as an open of a hostile FIFO would) until a
 * writer comes. Lets e2e tests stall the drain thread alone.
 */
static void test_stall_hook(struct drain *d)
{
	int fd;

	if (!d->o.test_stall_path || access(d->o.test_stall_path, F_OK) != 0)
		return;
	set_stage(d, "test hook (STACKD_TEST_STALL_DRAIN)");
	fd = open(d->o.test_stall_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
}

/* ---- ring-buffer records (loader_poll_events) ---------------------------------------------- */

/* A process on the bridge with no entry is loaded again after 1 s, doubling to 64 s. */
#define TABLES_RETRY_FIRST_NS 1000000000ULL
#define TABLES_RETRY_MAX_NS   64000000000ULL

/*
 * Kernel mode: install the process's unwind tables (a no-op for what has no
 * user code, or no maps of its own). Returns whether it tried.
 */
static bool load_tables(struct drain *d, struct proc *p)
{
	if (!d->p.tables || !p || !p->maps || p->is_kthread || p->has_exited ||
	    p->maps_from_template)
		return false;
	uint64_t t0 = mono_ns();
	int err;

	/* Failures are counted by the manager; the process stays on the bridge. */
	err = unwtables_load(d->p.tables, p->tgid, p->start_boottime, p->maps);
	if (d->p.py)
		pyprocs_update(d->p.py, p->tgid, p->start_boottime, p->maps);
	p->tables_tried_ns = mono_ns();
	if (err)
		p->tables_retry_ns =
		    p->tables_retry_ns ? p->tables_retry_ns * 2 : TABLES_RETRY_FIRST_NS;
	else
		p->tables_retry_ns = 0;
	if (p->tables_retry_ns > TABLES_RETRY_MAX_NS)
		p->tables_retry_ns = TABLES_RETRY_MAX_NS;
	pr_debug("unwind tables of pid %u (%s): %s in %.3f ms", p->tgid, p->comm,
		 err ? strerror(-err) : "loaded", (double)(p->tables_tried_ns - t0) / 1e6);
	return true;
}

/*
 * Kernel mode, a bridge sample of @p: a live process the manager holds no
 * entry for (evicted from the process table while alive and sampled again,
 * refused by a full map, a failed load) is loaded again, at most once per
 * retry gap; its announcement came once and will not come again.
 */
static void heal_tables(struct drain *d, struct proc *p)
{
	uint64_t gap = p->tables_retry_ns ? p->tables_retry_ns : TABLES_RETRY_FIRST_NS;

	if (!d->p.tables || unwtables_has(d->p.tables, p->tgid, p->start_boottime) ||
	    (p->tables_tried_ns && mono_ns() - p->tables_tried_ns < gap))
		return;
	if (load_tables(d, p))
		d->stats.tables_healed++;
}

/*
 * Re-reads @p's maps (the process table rate-limits it). True when a new
 * snapshot came: it may show other code at addresses cached stacks went
 * through, so those go.
 */
static bool refresh_maps(struct drain *d, struct proc *p)
{
	const uint64_t serial = p->maps ? p->maps->serial : 0;

	proctable_refresh_maps(d->p.procs, p);
	if (!p->maps || p->maps->serial == serial)
		return false;
	stackcache_forget(d->p.stacks, p->tgid, p->start_boottime);
	return true;
}

/*
 * Kernel mode, once a drain: processes left with mappings that had no room in
 * the row pool are loaded again when room may have come (a few per drain).
 */
static void heal_starved(struct drain *d)
{
	enum { PER_DRAIN = 4 };
	uint32_t tgid[PER_DRAIN];
	uint64_t start[PER_DRAIN];
	size_t nr;

	if (!d->p.tables)
		return;
	nr = unwtables_starved(d->p.tables, mono_ns(), tgid, start, PER_DRAIN);
	for (size_t i = 0; i < nr; i++) {
		struct proc *p = proctable_get(d->p.procs, tgid[i], start[i], NULL, false);

		if (p && p->maps && !p->has_exited && !p->maps_from_template)
			unwtables_heal(d->p.tables, tgid[i], start[i], p->maps);
	}
}

/* The proctable forgets a process (exited, or evicted alive): its entry goes with it. */
static void on_proc_evict(void *ctx, const struct proc *p)
{
	struct drain *d = ctx;

	unwtables_drop(d->p.tables, p->tgid, p->start_boottime);
	if (d->p.py) {
		pyprocs_drop(d->p.py, p->tgid, p->start_boottime);
		symbolizer_py_forget(d->p.sym, (pid_t)p->tgid);
	}
	javaprocs_drop(d->p.java, p->tgid, p->start_boottime);
}

/* ---- HotSpot JVMs --------------------------------------------------------------------------- */

/* A JIT frame no perf map names (yet): code compiled since the JVM's map was written. */
static bool has_unnamed_jit(const struct sym_result *res)
{
	for (size_t i = 0; i < res->nr; i++)
		if (!res->frames[i].nr_lines && stackcache_frame_is_jit(&res->frames[i]))
			return true;
	return false;
}

/* A user stack of @p was symbolized: a new maps snapshot may show a JVM, unnamed JIT code a
 * reason to ask it for its map again. */
static void java_note(struct drain *d, struct proc *p, const struct sym_result *res)
{
	if (!d->p.java || !p->maps)
		return;
	if (p->java_serial != p->maps->serial) {
		p->java_serial = p->maps->serial;
		p->is_jvm =
		    javaprocs_update(d->p.java, p->tgid, p->start_boottime, p->maps, mono_ns());
	}
	if (has_unnamed_jit(res))
		javaprocs_note_unnamed(d->p.java, p->tgid, p->start_boottime, mono_ns());
}

/* Once a drain: the helper's answers, then the requests now due. */
static void java_tick(struct drain *d)
{
	struct jattach_result r;
	int err;

	if (!d->p.java)
		return;
	set_stage(d, "Java: attach results");
	while ((err = jattach_result(d->p.ja, &r)) == 1)
		javaprocs_on_result(d->p.java, &r, mono_ns());
	if (err == -EPIPE)
		javaprocs_helper_gone(d->p.java);
	javaprocs_tick(d->p.java, mono_ns());
}

/* A code object's record from the walk: its names and line table, for the symbolizer. */
static void on_py_code(struct drain *d, const struct stackd_py_code *r)
{
	char qualname[STACKD_PY_NAME_MAX * 3 + 1], filename[STACKD_PY_FILE_MAX * 3 + 1];
	struct symbolizer_py_code c = {
	    .code = r->code,
	    .firstlineno = r->firstlineno,
	    .qualname = qualname,
	    .filename = filename,
	    .linetable = r->linetable,
	    .linetable_len = r->linetable_len < STACKD_PY_LINETABLE_MAX ? r->linetable_len
									: STACKD_PY_LINETABLE_MAX,
	};

	/* Raw code points, as many as fit; UTF-8 of a 4-byte one is at most 4 bytes. */
	py_str_utf8(r->qualname,
		    r->qualname_len < STACKD_PY_NAME_MAX ? r->qualname_len : STACKD_PY_NAME_MAX,
		    r->qualname_kind, qualname, sizeof(qualname));
	py_str_utf8(r->filename,
		    r->filename_len < STACKD_PY_FILE_MAX ? r->filename_len : STACKD_PY_FILE_MAX,
		    r->filename_kind, filename, sizeof(filename));
	if (!qualname[0])
		snprintf(qualname, sizeof(qualname), "%s", PY_UNKNOWN_FRAME);
	/* Another object at an address described before: stacks named through it go. */
	if (symbolizer_py_code_add(d->p.sym, (pid_t)r->tgid, &c) > 0)
		stackcache_forget(d->p.stacks, r->tgid, r->start_boottime);
	d->stats.py_codes++;
}

void drain_on_event(void *ctx, const struct stackd_event *ev)
{
	struct drain *d = ctx;
	char comm[STACKD_COMM_LEN + 1];
	struct proc *p;

	memcpy(comm, ev->comm, STACKD_COMM_LEN);
	comm[STACKD_COMM_LEN] = '\0';
	switch (ev->type) {
	case STACKD_EVENT_NEW_PROCESS:
		/* First sample since start or exec: snapshot now, while it is alive. */
		p = proctable_get(d->p.procs, ev->tgid, ev->start_boottime, comm, true);
		/* Gone already: its binary's mappings from another process of it, if any. */
		proctable_set_exe(d->p.procs, p, ev->exe_ino, ev->exe_dev, ev->start_code,
				  ev->interp_base);
		/* An exec keeps (tgid, start time): the old image's names must go. */
		stackcache_forget(d->p.stacks, ev->tgid, ev->start_boottime);
		/* Its samples go to the bridge until its tables are in: load them now. */
		load_tables(d, p);
		d->stats.events_new++;
		break;
	case STACKD_EVENT_MAPS_STALE:
		p = proctable_get(d->p.procs, ev->tgid, ev->start_boottime, comm, false);
		/* A new snapshot only (rate-limited); one with the same mappings writes nothing. */
		if (p && d->p.tables && refresh_maps(d, p) && !p->has_exited) {
			unwtables_refresh(d->p.tables, p->tgid, p->start_boottime, p->maps);
			if (d->p.py)
				pyprocs_update(d->p.py, p->tgid, p->start_boottime, p->maps);
		}
		d->stats.events_stale++;
		break;
	case STACKD_EVENT_EXIT:
		proctable_mark_exited(d->p.procs, ev->tgid, ev->start_boottime, d->seq);
		/* The kernel dropped the entry already: only the references go. */
		if (d->p.tables)
			unwtables_drop(d->p.tables, ev->tgid, ev->start_boottime);
		if (d->p.py)
			pyprocs_drop(d->p.py, ev->tgid, ev->start_boottime);
		javaprocs_drop(d->p.java, ev->tgid, ev->start_boottime);
		d->stats.events_exit++;
		break;
	case STACKD_EVENT_PY_CODE:
		/* The loader passes only whole records of this type. */
		on_py_code(d, (const struct stackd_py_code *)ev);
		break;
	default:
		break;
	}
}

/* A sample whose user stack was copied: unwind it with CFI and count it until the next drain. */
void drain_on_dwarf_sample(void *ctx, const struct stackd_dwarf_sample *rec, size_t len)
{
	struct drain *d = ctx;
	uint64_t uips[STACKD_MAX_STACK_DEPTH];
	enum unwind_end end = UNWIND_END_NO_MAPPING;
	size_t unr = 0, knr;
	struct proc *p;

	if (rec->stack_len > STACKD_MAX_STACK_COPY || len < sizeof(*rec) + rec->stack_len) {
		d->stats.dwarf_bad_records++;
		return;
	}
	knr = rec->kstack_len / sizeof(uint64_t);
	if (knr > STACKD_MAX_STACK_DEPTH)
		knr = STACKD_MAX_STACK_DEPTH;
	p = proctable_get(d->p.procs, rec->tgid, rec->start_boottime, NULL, false);
	if (p && p->maps) {
		/* __u64 and uint64_t differ in type (long long vs long), not in layout. */
		unr = unwinder_unwind(d->p.unw, (pid_t)rec->tgid, p->maps,
				      (const uint64_t *)rec->regs, rec->stack, rec->stack_len, uips,
				      STACKD_MAX_STACK_DEPTH, &end);
		/* A return address in no mapping: code mapped after the snapshot (libc of a
		 * process snapshotted at exec, a dlopen). Re-read (rate-limited), once more. */
		if (end == UNWIND_END_NO_MAPPING && !p->has_exited && refresh_maps(d, p))
			unr = unwinder_unwind(d->p.unw, (pid_t)rec->tgid, p->maps,
					      (const uint64_t *)rec->regs, rec->stack,
					      rec->stack_len, uips, STACKD_MAX_STACK_DEPTH, &end);
	} else if (rec->regs[UNWIND_REG_RIP]) {
		uips[unr++] = rec->regs[UNWIND_REG_RIP]; /* no maps: the sampled ip at least */
	}
	if (p && !p->has_exited)
		heal_tables(d, p);
	d->stats.dwarf_samples++;
	d->stats.samples_drained++; /* one record, one sample: read back like a counts entry */
	if (end != UNWIND_END_COMPLETE)
		d->stats.dwarf_ended_early++;
	if (dwarfagg_add(d->p.dwarf, rec->tgid, rec->pid, rec->start_boottime, uips, (uint32_t)unr,
			 (const uint64_t *)rec->kstack, (uint32_t)knr))
		d->stats.dwarf_dropped++;
}

/* ---- one sample: attribute, label, symbolize, hand to the sinks ---------------------------- */

/* Results with an unmapped frame are not cached: a later maps refresh may resolve them. */
/* A frame outside every mapping of the snapshot (a Python frame is named without one). */
static bool unmapped(const struct sym_frame *f)
{
	return !f->mapping && !py_is_frame(f->addr);
}

static bool fully_mapped(const struct sym_result *res)
{
	for (size_t i = 0; i < res->nr; i++)
		if (unmapped(&res->frames[i]))
			return false;
	return true;
}

/*
 * A user stack through the process's maps snapshot. A leaf outside every
 * mapping may be code mapped after the snapshot (dlopen): re-read the maps
 * (rate-limited) and try once more. So may any frame while the snapshot is
 * young (one taken at exec misses the libraries ld.so maps next); later, a
 * caller outside every mapping is more often a bad return address.
 */
static struct sym_result *symbolize_user(struct drain *d, struct proc *p, const struct sample *s)
{
	struct sym_result *res = NULL;

	if (symbolizer_user(d->p.sym, (pid_t)p->tgid, p->maps, s->uips, s->nr_uips, &res))
		return NULL;
	/* Only a new snapshot (the re-reads are rate-limited) can tell more. */
	if (res->nr && !p->has_exited &&
	    (unmapped(&res->frames[0]) ||
	     (p->maps_refreshes < PROC_MAPS_YOUNG && !fully_mapped(res))) &&
	    refresh_maps(d, p)) {
		sym_result_free(res);
		res = NULL;
		if (symbolizer_user(d->p.sym, (pid_t)p->tgid, p->maps, s->uips, s->nr_uips, &res))
			return NULL;
	}
	java_note(d, p, res);
	return res;
}

/* The process's labels, or when reading it ran out of memory the two that need none. */
static void label_sample(struct proc *p, struct sample *s, struct pprof_label fallback[2])
{
	if (p->labels) {
		s->labels = p->labels->l;
		s->nr_labels = p->labels->nr;
		return;
	}
	fallback[0] = (struct pprof_label){.key = "pid", .num = (int64_t)s->tgid};
	fallback[1] = (struct pprof_label){.key = "comm", .str = p->comm[0] ? p->comm : "?"};
	s->labels = fallback;
	s->nr_labels = 2;
}

/*
 * Symbolized frames of @s: a stack seen before maps straight to its frames
 * (borrowed from the stack cache); a new one is symbolized into *@knew /
 * *@unew, which the caller caches after the sinks had it.
 */
static void symbolize_sample(struct drain *d, struct proc *p, struct sample *s,
			     struct sym_result **knew, struct sym_result **unew)
{
	if (s->kips) {
		s->kframes = stackcache_get(d->p.stacks, 0, 0, s->kips, s->nr_kips);
		if (!s->kframes && symbolizer_kernel(d->p.sym, s->kips, s->nr_kips, knew) == 0)
			s->kframes = *knew;
	}
	if (s->uips && p->maps) {
		s->uframes =
		    stackcache_get(d->p.stacks, p->tgid, p->start_boottime, s->uips, s->nr_uips);
		if (!s->uframes)
			s->uframes = *unew = symbolize_user(d, p, s);
	}
}

/* Cache only after the sinks: a put may evict the borrowed results they used. */
static void cache_frames(struct drain *d, struct proc *p, const struct sample *s,
			 struct sym_result *knew, struct sym_result *unew)
{
	if (knew)
		stackcache_put(d->p.stacks, 0, 0, s->kips, s->nr_kips, knew, false);
	/*
	 * JIT code can change under the same address: such stacks serve this drain only. A
	 * JVM's change only when it rewrites its perf map at our request (java_reloaded
	 * forgets them then): its named stacks are kept, those with unnamed code are not (their
	 * next symbolization is what asks the JVM for a new map).
	 */
	if (unew && fully_mapped(unew))
		stackcache_put(d->p.stacks, p->tgid, p->start_boottime, s->uips, s->nr_uips, unew,
			       stackcache_is_jit(unew) && (!p->is_jvm || has_unnamed_jit(unew)));
	else
		sym_result_free(unew);
}

/* Does the history of @kind take samples now? */
static bool fill_wants(const struct drain *d, enum pprof_kind kind)
{
	return d->p.fill[kind] && histfill_wants_samples(d->p.fill[kind]);
}

/* Adds @s to the history of @kind: 1 when that history wanted it and could not take it. */
static unsigned fill_add(struct drain *d, enum pprof_kind kind, const struct sample *s)
{
	return fill_wants(d, kind) && histfill_add(d->p.fill[kind], s) ? 1 : 0;
}

static bool sinks_want_frames(struct drain *d, const struct sample *s)
{
	if (windows_want_samples(d->o.wall_windows) || fill_wants(d, PPROF_KIND_WALL))
		return true;
	if (s->offcpu)
		return windows_want_samples(d->o.offcpu_windows) ||
		       fill_wants(d, PPROF_KIND_OFFCPU);
	return windows_want_samples(d->o.windows) || fill_wants(d, PPROF_KIND_CPU) ||
	       cpumetrics_wants_stacks(d->p.cpu);
}

/* The sinks that need frames: the CPU metrics by function, the profile windows, the histories. */
static void deliver(struct drain *d, const struct sample *s)
{
	unsigned lost = 0;

	/*
	 * Off-CPU time goes to the off-CPU and wall profiles and histories only;
	 * what they could not take is not counted: the counter is of CPU samples.
	 */
	if (s->offcpu) {
		windows_add(d->o.offcpu_windows, s);
		windows_add(d->o.wall_windows, s);
		fill_add(d, PPROF_KIND_OFFCPU, s);
		fill_add(d, PPROF_KIND_WALL, s);
		return;
	}
	lost += windows_add(d->o.wall_windows, s);
	lost += fill_add(d, PPROF_KIND_WALL, s);
	if (cpumetrics_wants_stacks(d->p.cpu)) {
		const struct sym_result *parts[2] = {s->kframes, s->uframes};

		cpumetrics_add_stack(d->p.cpu, parts, 2, s->count, d->t0);
	}
	lost += windows_add(d->o.windows, s);
	lost += fill_add(d, PPROF_KIND_CPU, s);
	d->stats.samples_not_in_profile += lost * s->count;
}

static void feed_sample(void *ctx, const struct sample *raw)
{
	struct drain *d = ctx;
	struct sym_result *knew = NULL, *unew = NULL;
	struct pprof_label fallback[2];
	struct sample s = *raw;
	struct proc *p;

	p = proctable_get(d->p.procs, s.tgid, s.start_boottime, NULL, false);
	if (!p) {
		d->stats.samples_unattributed += s.count;
		return;
	}
	proctable_touch(d->p.procs, p, d->seq);
	label_sample(p, &s, fallback);
	if (s.offcpu)
		cpumetrics_add_offcpu(d->p.cpu, s.labels, s.nr_labels,
				      sample_offcpu_reason(s.offcpu_reason), s.offcpu_ns, d->t0);
	else
		cpumetrics_add_process(d->p.cpu, s.labels, s.nr_labels, s.count, d->t0);
	/* Symbolization is only paid for when something reads the stacks. */
	if (!sinks_want_frames(d, &s))
		return;
	symbolize_sample(d, p, &s, &knew, &unew);
	deliver(d, &s);
	cache_frames(d, p, &s, knew, unew);
}

/* What a stack id of a counts key says, in neutral terms. */
static enum sample_stack stack_state(int32_t id, const uint64_t *ips)
{
	if (id == STACKD_STACK_NONE)
		return SAMPLE_STACK_NONE;
	if (id == -EEXIST)
		return SAMPLE_STACK_LOST;
	if (id >= 0 || (id == STACKD_STACK_OVERFLOW && ips))
		return SAMPLE_STACK_OK;
	return SAMPLE_STACK_FAILED;
}

/* A counts entry from loader_drain: the only place a BPF key becomes a sample. */
static void feed_record(void *ctx, const struct loader_record *r)
{
	struct drain *d = ctx;
	const struct stackd_count_key *k = r->key;
	struct sample s = {
	    .tgid = k->tgid,
	    .pid = k->pid,
	    .start_boottime = k->start_boottime,
	    .count = r->count,
	    .kstate = stack_state(k->kstack_id, r->kstack),
	    .ustate = stack_state(k->ustack_id, r->ustack),
	    .kips = r->kstack,
	    .nr_kips = r->kstack ? r->kstack_nr : 0,
	    .uips = r->ustack,
	    .nr_uips = r->ustack ? r->ustack_nr : 0,
	    .is_dwarf = r->is_dwarf,
	    .offcpu = r->offcpu,
	    .offcpu_ns = r->offcpu_ns,
	    .offcpu_reason = r->offcpu_reason,
	};
	uint64_t now = mono_ns();

	/*
	 * Between records: no frames are borrowed from the caches across the poll. At the
	 * first record of a drain too: the sets were swapped and every program that counted
	 * into this one has finished, so the records it sent first (a Python code object's
	 * description, before the sample naming it) are all in the ring now.
	 */
	if (d->poll_first || now - d->last_poll_ns >= DRAIN_POLL_EVERY_NS) {
		d->poll_first = false;
		d->last_poll_ns = now;
		loader_poll_events(d->p.loader, DRAIN_POLL_BUDGET_NS);
	}
	feed_sample(ctx, &s);
}

/* ---- the drain ------------------------------------------------------------------------------ */

static void publish_stats(struct drain *d, const struct loader_drain_stats *ds, uint64_t drain_ns)
{
	struct symbolizer_stats ss;
	struct stackcache_stats sc;
	struct unwinder_stats us;
	struct proctable_stats ps;
	struct procmeta_stats ms;
	uint64_t bpf[STACKD_CNT__MAX];

	symbolizer_get_stats(d->p.sym, &ss);
	stackcache_get_stats(d->p.stacks, &sc);
	unwinder_get_stats(d->p.unw, &us);
	if (d->p.tables)
		unwtables_get_stats(d->p.tables, &d->stats.tables);
	if (d->p.py)
		pyprocs_get_stats(d->p.py, &d->stats.py);
	javaprocs_get_stats(d->p.java, &d->stats.java);
	proctable_get_stats(d->p.procs, &ps);
	procmeta_get_stats(d->p.meta, &ms);
	if (loader_read_counters(d->p.loader, bpf) != 0)
		memset(bpf, 0, sizeof(bpf));
	prom_histogram_observe_ns(&d->hist, drain_ns);

	memcpy(d->stats.bpf, bpf, sizeof(bpf));
	d->stats.sym = ss;
	d->stats.stacks = sc;
	d->stats.unw = us;
	d->stats.procs = ps;
	d->stats.meta = ms;
	d->stats.drains++;
	d->stats.samples_drained += ds->samples;
	d->stats.records_drained += ds->records;
	d->stats.stacks_not_found += ds->stacks_not_found;
	d->stats.swap_timeouts += ds->swap_timed_out;
	pthread_mutex_lock(&d->lock);
	stats_publish(&d->pub, &d->stats);
	pthread_mutex_unlock(&d->lock);
}

static void rotate_history(struct drain *d, uint64_t t0, int64_t t0_unix)
{
	for (size_t k = 0; k < PPROF_NR_KINDS; k++) {
		struct histfill *f = d->p.fill[k];

		if (f && histfill_rotate(f, t0, t0_unix))
			d->stats.history_freeze_failed++;
		/* The open window for queries; a failure is counted by the history. */
		if (f)
			histfill_publish(f, t0);
	}
}

static void do_drain(struct drain *d)
{
	struct loader_drain_stats ds;
	uint64_t t0, now;
	int64_t t0_unix;

	test_stall_hook(d);
	set_stage(d, "draining the maps");
	t0 = mono_ns();
	windows_drain_begin(d->o.windows);
	windows_drain_begin(d->o.offcpu_windows);
	windows_drain_begin(d->o.wall_windows);
	d->t0 = t0;

	d->seq++;
	d->poll_first = true;
	if (loader_drain(d->p.loader, feed_record, d, &ds) != 0)
		memset(&ds, 0, sizeof(ds));
	/* Samples unwound from stack copies since the last drain join the same path. */
	dwarfagg_flush(d->p.dwarf, feed_sample, d);
	stackcache_end_drain(d->p.stacks);
	proctable_sweep(d->p.procs, d->seq);
	heal_starved(d);
	java_tick(d);

	now = mono_ns();
	t0_unix = unix_ns() - (int64_t)(now - t0);
	rotate_history(d, t0, t0_unix);
	windows_drain_end(d->o.windows, t0, t0_unix);
	windows_drain_end(d->o.offcpu_windows, t0, t0_unix);
	windows_drain_end(d->o.wall_windows, t0, t0_unix);

	publish_stats(d, &ds, mono_ns() - t0);
	mark_progress(d);
}

/* The next drain: the regular one, or earlier when a profile window of either kind ends. */
static uint64_t next_deadline(struct drain *d, bool *pending)
{
	bool p2;
	uint64_t t = windows_next_deadline(d->o.windows, d->next_drain_ns, pending);

	t = windows_next_deadline(d->o.offcpu_windows, t, &p2);
	*pending = *pending || p2;
	t = windows_next_deadline(d->o.wall_windows, t, &p2);
	*pending = *pending || p2;
	return t;
}

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	struct epoll_event evs[4];

	mark_progress(d);
	d->next_drain_ns = mono_ns() + d->o.interval_ns;
	/* The first history window opens now: the first drain's samples belong to it. */
	rotate_history(d, mono_ns(), unix_ns());
	while (!atomic_load(&d->stopping)) {
		bool pending;
		uint64_t deadline = next_deadline(d, &pending);
		uint64_t now = mono_ns();
		int timeout_ms = 0, n;

		if (!pending && deadline > now)
			timeout_ms = (int)((deadline - now + 999999) / 1000000);
		set_stage(d, "waiting for the next drain");
		n = epoll_wait(d->epoll_fd, evs, 4, timeout_ms);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == d->wake_fd) {
				uint64_t v;

				if (read(d->wake_fd, &v, sizeof(v)) < 0)
					continue;
			}
		}
		/* Process notifications first: a new process's maps before its samples. */
		set_stage(d, "reading process events");
		/*
		 * Bounded, so that a flood of new processes or copied stacks
		 * delays neither the next drain nor a shutdown by more than
		 * this (plus the one record in hand).
		 */
		loader_poll_events(d->p.loader, POLL_BUDGET_NS);
		d->last_poll_ns = mono_ns();
		if (atomic_load(&d->stopping))
			break;
		deadline = next_deadline(d, &pending);
		now = mono_ns();
		if (pending || now >= deadline) {
			do_drain(d);
			if (now >= d->next_drain_ns)
				d->next_drain_ns = now + d->o.interval_ns;
		}
	}
	/* The builders of active windows are ours until here: now hand them back. */
	windows_abort(d->o.windows);
	windows_abort(d->o.offcpu_windows);
	windows_abort(d->o.wall_windows);
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int drain_new(const struct drain_opts *o, struct drain **out)
{
	static const double drain_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					      0.01,   0.025,   0.05,   0.1,   0.25,   1};
	struct epoll_event ev = {.events = EPOLLIN};
	struct drain *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->o = *o;
	d->stall_after_ns = DRAIN_STALL_INTERVALS * o->interval_ns;
	if (d->stall_after_ns < DRAIN_STALL_MIN_NS)
		d->stall_after_ns = DRAIN_STALL_MIN_NS;
	d->stage = "starting";
	pthread_mutex_init(&d->lock, NULL);
	prom_histogram_init(&d->hist, drain_bounds, sizeof(drain_bounds) / sizeof(drain_bounds[0]));
	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->wake_fd < 0 || d->epoll_fd < 0)
		goto fail;
	ev.data.fd = d->wake_fd;
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->wake_fd, &ev))
		goto fail;
	*out = d;
	return 0;
fail:
	err = -errno;
	drain_free(d);
	return err;
}

void drain_free(struct drain *d)
{
	if (!d)
		return;
	if (d->epoll_fd >= 0)
		close(d->epoll_fd);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int drain_attach(struct drain *d, const struct drain_parts *p)
{
	struct epoll_event ev = {.events = EPOLLIN};

	d->p = *p;
	if (p->tables)
		proctable_on_evict(p->procs, on_proc_evict, d);
	ev.data.fd = loader_events_fd(p->loader);
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		return -errno;
	return 0;
}

int drain_run(struct drain *d)
{
	int err = -pthread_create(&d->thread, NULL, drain_main, d);

	if (!err)
		d->thread_started = true;
	return err;
}

void drain_wake(struct drain *d)
{
	uint64_t one = 1;

	if (write(d->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is saturated: the drain thread is awake anyway. */
	}
}

void drain_stop(struct drain *d)
{
	atomic_store(&d->stopping, true);
	drain_wake(d);
}

void drain_join(struct drain *d)
{
	if (d->thread_started && !d->thread_joined) {
		pthread_join(d->thread, NULL);
		d->thread_joined = true;
	}
}

void drain_read_stats(struct drain *d, struct agent_stats *out)
{
	pthread_mutex_lock(&d->lock);
	*out = d->pub;
	pthread_mutex_unlock(&d->lock);
	out->drain_stalled = drain_is_stalled(d, NULL);
	out->drain_last_unix_ns = atomic_load(&d->progress_unix_ns);
}

const struct prom_histogram *drain_histogram(const struct drain *d)
{
	return &d->hist;
}
