// SPDX-License-Identifier: Apache-2.0
#include "loader.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/clock.h"
#include "common/hmap.h"
#include "common/log.h"
#include "config.h"
#include "stackd.skel.h"

/* How long a flip may wait for in-flight programs before it gives up. */
#define SWAP_WAIT_NS 50000000ULL
/*
 * Off-CPU: threads off CPU at once whose start is remembered (70 bytes each),
 * and their distinct stacks (1 KiB each): LRUs, the oldest go beyond them
 * (a period then counted with a lost stack). About 10 MiB of kernel memory.
 */
#define OFFCPU_THREADS 32768
#define OFFCPU_STACKS  8192

/* A failure, logged once with its cause and fix; a quiet caller (--check) reports it instead. */
#define loader_err(l, ...)                                                                         \
	do {                                                                                       \
		if (!(l)->opts.quiet)                                                              \
			pr_err(__VA_ARGS__);                                                       \
	} while (0)

/* How far loading got: each step needs the one before; loader_free undoes any of them. */
enum loader_stage {
	LOADER_OPENED,	  /* skeleton open, rodata and map sizes set: nothing in the kernel */
	LOADER_LOADED,	  /* maps created, programs verified and loaded */
	LOADER_ATTACHING, /* loader_attach began: it stays here if it failed (no retry) */
	LOADER_ATTACHED,  /* filter filled, tracepoints and perf events attached, rings read */
};

struct loader {
	enum loader_stage stage;
	uint64_t poll_deadline_ns; /* loader_poll_events: stop handling records after it */
	struct stackd_bpf *skel;
	struct bpf_link **links; /* one per attached CPU; each owns its perf fd */
	unsigned nr_links;
	unsigned nr_cpus_possible;
	int *online; /* online CPU ids */
	unsigned nr_online;
	struct ring_buffer *rb;
	struct loader_opts opts;
	uint32_t stack_entries;
	uint32_t counts_entries;
	uint32_t overflow_entries;
	uint32_t unwind_rows;	 /* kernel mode: row pool capacity */
	uint32_t unwind_procs;	 /* kernel mode: unwind_procs max_entries */
	uint32_t offcpu_entries; /* each offcpu map (1 when off) */
	struct stackd_offcpu_key *okeys;
	struct stackd_offcpu_val *ovals;
	/* drain scratch, sized once at open */
	struct stackd_count_key *keys;
	uint64_t *vals;
	uint64_t *percpu;
	uint64_t *ips; /* stack cache for one drain: (id -> ips) */
	struct hmap ids;
	struct stack_slot *slots;
	uint32_t nr_slots, max_slots;
};

struct stack_slot {
	struct hnode node;
	int32_t id;
	bool offcpu;   /* from offcpu_stacks, which the drain does not clear */
	uint64_t hash; /* for STACKD_STACK_OVERFLOW */
	uint32_t nr;
	uint64_t ips[STACKD_MAX_STACK_DEPTH];
};

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	if (level == LIBBPF_DEBUG && !log_enabled(LOG_LEVEL_DEBUG))
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (!n)
		return 0;
	if (level == LIBBPF_WARN)
		pr_warn("%s", buf);
	else
		pr_debug("%s", buf);
	return 0;
}

static uint32_t roundup_pow2(uint64_t v)
{
	uint64_t p = 1;

	while (p < v && p < (1u << 31))
		p <<= 1;
	return (uint32_t)p;
}

/* Parse /sys/devices/system/cpu/online ("0-3,5,7-8"). */
static int read_online_cpus(int **out, unsigned *nr)
{
	char buf[4096];
	int *cpus = NULL;
	unsigned n = 0, cap = 0;
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	char *p, *tok, *save = NULL;

	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	for (p = buf; (tok = strtok_r(p, ",\n", &save)); p = NULL) {
		unsigned a, b;
		int k = sscanf(tok, "%u-%u", &a, &b);

		if (k == 1)
			b = a;
		else if (k != 2 || b < a || b >= STACKD_MAX_CPUS)
			continue;
		for (unsigned c = a; c <= b; c++) {
			if (n == cap) {
				int *t;

				cap = cap ? cap * 2 : 16;
				t = realloc(cpus, cap * sizeof(*cpus));
				if (!t) {
					free(cpus);
					return -ENOMEM;
				}
				cpus = t;
			}
			cpus[n++] = (int)c;
		}
	}
	if (!n) {
		free(cpus);
		return -ENOENT;
	}
	*out = cpus;
	*nr = n;
	return 0;
}

/*
 * After a record is handled: stop consuming once the poll's time budget is
 * spent. libbpf has already consumed the record just handled, so nothing is
 * lost; the rest wait in the ring for the next poll.
 */
static bool poll_budget_spent(const struct loader *l)
{
	return l->poll_deadline_ns && mono_ns() >= l->poll_deadline_ns;
}

static int handle_rb_event(void *ctx, void *data, size_t len)
{
	struct loader *l = ctx;

	if (len < sizeof(struct stackd_event))
		return 0;
	/* Records of another shape say so in their type; each is passed only whole. */
	if (((const struct stackd_event *)data)->type == STACKD_EVENT_PY_CODE &&
	    len < sizeof(struct stackd_py_code))
		return 0;
	if (l->opts.on_event)
		l->opts.on_event(l->opts.ctx, data);
	return poll_budget_spent(l) ? -EAGAIN : 0;
}

static int handle_dwarf_sample(void *ctx, void *data, size_t len)
{
	struct loader *l = ctx;

	if (len < sizeof(struct stackd_dwarf_sample))
		return 0;
	if (l->opts.on_dwarf_sample)
		l->opts.on_dwarf_sample(l->opts.ctx, data, len);
	return poll_budget_spent(l) ? -EAGAIN : 0;
}

/* Load the filter lists into their maps: after load, before any sample can run. */
static int fill_filter(struct loader *l)
{
	int fd = bpf_map__fd(l->skel->maps.filter_pids);
	uint8_t one = 1;
	int err;

	for (size_t i = 0; i < l->opts.nr_filter_pids; i++) {
		if (bpf_map_update_elem(fd, &l->opts.filter_pids[i], &one, BPF_ANY)) {
			err = -errno;
			loader_err(l, "adding pid %u to the sampling filter failed: %s",
				   l->opts.filter_pids[i], strerror(-err));
			return err;
		}
	}
	fd = bpf_map__fd(l->skel->maps.filter_cgroups);
	for (size_t i = 0; i < l->opts.nr_filter_cgroups; i++) {
		if (bpf_map_update_elem(fd, &l->opts.filter_cgroup_ids[i], &one, BPF_ANY)) {
			err = -errno;
			loader_err(l, "adding cgroup id %llu to the sampling filter failed: %s",
				   (unsigned long long)l->opts.filter_cgroup_ids[i],
				   strerror(-err));
			return err;
		}
	}
	/* The lists were borrowed until loader_attach. */
	l->opts.filter_pids = NULL;
	l->opts.filter_cgroup_ids = NULL;
	return 0;
}

static int attach_perf_events(struct loader *l)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_SOFTWARE,
	    .size = sizeof(attr),
	    .config = PERF_COUNT_SW_CPU_CLOCK,
	    /* cpu-clock counts nanoseconds: a fixed period gives exactly F Hz per CPU. */
	    .sample_period = 1000000000ULL / l->opts.frequency_hz,
	};
	int first_err = 0;

	l->links = calloc(l->nr_online, sizeof(*l->links));
	if (!l->links)
		return -ENOMEM;
	for (unsigned i = 0; i < l->nr_online; i++) {
		int cpu = l->online[i], fd, err;
		struct bpf_link *link;

		fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			/* A CPU that went offline since we listed them is not an error. */
			if (err == -ENODEV)
				continue;
			if (!first_err)
				first_err = err;
			loader_err(l, "perf_event_open(cpu-clock, cpu %d) failed: %s", cpu,
				   strerror(-err));
			continue;
		}
		link = bpf_program__attach_perf_event(l->skel->progs.stackd_sample, fd);
		if (!link) {
			err = -errno;
			close(fd); /* no link took ownership */
			if (!first_err)
				first_err = err;
			loader_err(l, "attaching to the perf event of cpu %d failed: %s", cpu,
				   strerror(-err));
			continue;
		}
		l->links[l->nr_links++] = link; /* the link now owns fd: never close it here */
	}
	if (!l->nr_links)
		return first_err ? first_err : -ENODEV;
	return 0;
}

void loader_opts_from_config(struct loader_opts *o, const struct config *cfg)
{
	*o = (struct loader_opts){
	    .frequency_hz = cfg->frequency_hz,
	    .include_idle = cfg->include_idle,
	    .drain_interval_ns = cfg->drain_interval_ns,
	    .stack_map_entries = cfg->stack_map_entries,
	    .counts_map_entries = cfg->counts_map_entries,
	    .unwind_mode = cfg->unwind_mode,
	    .stack_copy_bytes = (uint32_t)cfg->unwind_stack_bytes,
	    .dwarf_ring_bytes = (uint32_t)cfg->unwind_ring_bytes,
	    .unwind_table_bytes = cfg->unwind_table_bytes,
	    .unwind_max_procs = cfg->max_processes,
	    .offcpu = cfg->offcpu_enabled,
	    .python = cfg->python_enabled && cfg->unwind_mode == STACKD_UNWIND_KERNEL,
	    .java = cfg->java_enabled && cfg->unwind_mode == STACKD_UNWIND_KERNEL,
	    .offcpu_min_ns = cfg->offcpu_min_ns,
	    .offcpu_max_walks = cfg->offcpu_max_walks,
	    .filter_pids = cfg->filter_pids,
	    .nr_filter_pids = cfg->nr_filter_pids,
	    .filter_cgroup_ids = cfg->filter_cgroup_ids,
	    .nr_filter_cgroups = cfg->nr_filter_cgroup_ids,
	};
}

/* Map sizes from the sampling rate and drain interval, unless the flags set them. */
static void size_maps(struct loader *l)
{
	const struct loader_opts *opts = &l->opts;
	uint64_t per_interval;

	/*
	 * Per drain interval there are at most S = frequency x CPUs x interval
	 * samples, so at most S new counts entries and 2S distinct stacks.
	 * Counts get 2x headroom for a late drain. A stack-trace map does not
	 * chain (two stacks in one hash bucket collide), so it gets 4S buckets
	 * (load <= 0.5), and the stacks that still collide go to an overflow
	 * hash map sized for S of them.
	 */
	per_interval = (uint64_t)opts->frequency_hz * l->nr_online *
		       ((opts->drain_interval_ns + 999999999ULL) / 1000000000ULL);
	l->counts_entries = opts->counts_map_entries
				? opts->counts_map_entries
				: roundup_pow2(per_interval * 2 < 4096 ? 4096 : per_interval * 2);
	l->stack_entries = opts->stack_map_entries
			       ? opts->stack_map_entries
			       : roundup_pow2(per_interval * 4 < 4096 ? 4096 : per_interval * 4);
	l->overflow_entries = per_interval < 1024 ? 1024 : (uint32_t)per_interval;
	if (opts->stack_map_entries && opts->stack_map_entries / 4 > l->overflow_entries)
		l->overflow_entries = opts->stack_map_entries / 4;
	l->unwind_rows = 1;
	l->unwind_procs = 1;
	if (opts->unwind_mode == STACKD_UNWIND_KERNEL) {
		/*
		 * Every walked user stack is kept by its hash (the stack-trace
		 * map only takes stacks the kernel walks): up to S per interval,
		 * beside the kernel stacks that collide.
		 */
		l->overflow_entries *= 2;
		l->unwind_rows = (uint32_t)(opts->unwind_table_bytes / sizeof(struct cfitab_row));
		if (l->unwind_rows < 1)
			l->unwind_rows = 1;
		l->unwind_procs = opts->unwind_max_procs ? opts->unwind_max_procs : 4096;
	}
	/* Distinct (thread, stacks, reason) off CPU per interval: as many as counts entries. */
	l->offcpu_entries = opts->offcpu ? l->counts_entries : 1;
}

/* Everything the programs are configured with before the verifier sees them. */
static void configure_skel(struct loader *l)
{
	const struct loader_opts *opts = &l->opts;
	struct stackd_bpf *skel = l->skel;

	skel->rodata->include_idle = opts->include_idle;
	skel->rodata->python_enabled = opts->python && opts->unwind_mode == STACKD_UNWIND_KERNEL;
	skel->rodata->java_enabled = opts->java && opts->unwind_mode == STACKD_UNWIND_KERNEL;
	skel->rodata->unwind_mode = opts->unwind_mode;
	skel->rodata->stack_copy_bytes = opts->stack_copy_bytes;
	/* Wake the drain thread once a quarter of the ring waits; it drains each tick anyway. */
	skel->rodata->dwarf_wakeup_bytes = opts->dwarf_ring_bytes / 4;
	bpf_map__set_max_entries(skel->maps.dwarf_samples, opts->dwarf_ring_bytes);
	bpf_map__set_max_entries(skel->maps.counts_0, l->counts_entries);
	bpf_map__set_max_entries(skel->maps.counts_1, l->counts_entries);
	bpf_map__set_max_entries(skel->maps.stacks_0, l->stack_entries);
	bpf_map__set_max_entries(skel->maps.stacks_1, l->stack_entries);
	bpf_map__set_max_entries(skel->maps.overflow_0, l->overflow_entries);
	bpf_map__set_max_entries(skel->maps.overflow_1, l->overflow_entries);
	bpf_map__set_max_entries(skel->maps.unwind_rows, l->unwind_rows);
	bpf_map__set_max_entries(skel->maps.unwind_procs, l->unwind_procs);
	skel->rodata->filter_by_pid = opts->nr_filter_pids > 0;
	skel->rodata->filter_by_cgroup = opts->nr_filter_cgroups > 0;
	skel->rodata->filter_enabled = opts->nr_filter_pids || opts->nr_filter_cgroups;
	/* A hash map needs at least one entry even when its list is empty. */
	bpf_map__set_max_entries(skel->maps.filter_pids,
				 opts->nr_filter_pids ? (uint32_t)opts->nr_filter_pids : 1);
	bpf_map__set_max_entries(skel->maps.filter_cgroups,
				 opts->nr_filter_cgroups ? (uint32_t)opts->nr_filter_cgroups : 1);
	bpf_program__set_autoattach(skel->progs.stackd_sample, false);
	/* Off-CPU: loaded only when on. */
	skel->rodata->offcpu_min_ns = opts->offcpu_min_ns;
	skel->rodata->offcpu_max_walks = opts->offcpu_max_walks;
	bpf_map__set_max_entries(skel->maps.offcpu_0, l->offcpu_entries);
	bpf_map__set_max_entries(skel->maps.offcpu_1, l->offcpu_entries);
	bpf_map__set_max_entries(skel->maps.offcpu_starts, opts->offcpu ? OFFCPU_THREADS : 1);
	bpf_map__set_max_entries(skel->maps.offcpu_stacks, opts->offcpu ? OFFCPU_STACKS : 1);
	bpf_program__set_autoload(skel->progs.stackd_switch, opts->offcpu);
	bpf_program__set_autoload(skel->progs.stackd_sys_exit, opts->offcpu);
}

int loader_open(const struct loader_opts *opts, struct loader **out)
{
	struct loader *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return -ENOMEM;
	l->opts = *opts;
	hmap_init(&l->ids);
	/* A quiet caller (--check) reports libbpf's messages its own way. */
	if (!opts->quiet)
		libbpf_set_print(libbpf_log);

	err = read_online_cpus(&l->online, &l->nr_online);
	if (err) {
		loader_err(l, "cannot read the online CPUs from /sys/devices/system/cpu/online: %s",
			   strerror(-err));
		goto cleanup;
	}
	err = libbpf_num_possible_cpus();
	if (err < 0) {
		loader_err(l, "cannot count possible CPUs: %s", strerror(-err));
		goto cleanup;
	}
	l->nr_cpus_possible = (unsigned)err;
	if (l->nr_cpus_possible > STACKD_MAX_CPUS) {
		err = -E2BIG;
		loader_err(l, "%u possible CPUs; stackd supports at most %d", l->nr_cpus_possible,
			   STACKD_MAX_CPUS);
		goto cleanup;
	}
	l->percpu = calloc(l->nr_cpus_possible, sizeof(uint64_t));
	if (!l->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}
	size_maps(l);

	l->skel = stackd_bpf__open();
	if (!l->skel) {
		err = -errno;
		loader_err(l, "opening the BPF object failed: %s", strerror(-err));
		goto cleanup;
	}
	configure_skel(l);
	l->stage = LOADER_OPENED;
	*out = l;
	return 0;
cleanup:
	loader_free(l);
	return err;
}

int loader_load(struct loader *l)
{
	int err;

	if (l->stage != LOADER_OPENED)
		return -EINVAL;
	err = stackd_bpf__load(l->skel);
	if (err) {
		loader_err(l,
			   "loading the BPF programs failed: %s (see the libbpf messages above; "
			   "stackd needs a kernel with BTF (CONFIG_DEBUG_INFO_BTF) and CAP_BPF + "
			   "CAP_PERFMON or root)",
			   strerror(-err));
		return err;
	}
	if (!l->skel->bss) {
		loader_err(l, "the kernel cannot mmap BPF global data (needs Linux 5.5+)");
		return -ENOTSUP;
	}
	l->stage = LOADER_LOADED;
	return 0;
}

int loader_attach(struct loader *l)
{
	const struct loader_opts *opts = &l->opts;
	int err;

	if (l->stage != LOADER_LOADED)
		return -EINVAL;
	/* fill_filter forgets the borrowed lists: a failed attach cannot be retried. */
	l->stage = LOADER_ATTACHING;
	err = fill_filter(l);
	if (err)
		return err;
	err = stackd_bpf__attach(l->skel);
	if (err) {
		loader_err(l, "attaching the exec/exit tracepoints failed: %s", strerror(-err));
		return err;
	}
	err = attach_perf_events(l);
	if (err) {
		loader_err(l,
			   "no CPU could be sampled: %s (perf events unavailable? check "
			   "/proc/sys/kernel/perf_event_paranoid and CAP_PERFMON)",
			   strerror(-err));
		return err;
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.events), handle_rb_event, l, NULL);
	if (!l->rb) {
		err = -errno;
		loader_err(l, "creating the ring buffer reader failed: %s", strerror(-err));
		return err;
	}
	err = ring_buffer__add(l->rb, bpf_map__fd(l->skel->maps.dwarf_samples), handle_dwarf_sample,
			       l);
	if (err) {
		loader_err(l, "adding the stack-copy ring buffer failed: %s", strerror(-err));
		return err;
	}

	l->keys = calloc(l->counts_entries, sizeof(*l->keys));
	l->vals = calloc(l->counts_entries, sizeof(*l->vals));
	l->okeys = calloc(l->offcpu_entries, sizeof(*l->okeys));
	l->ovals = calloc(l->offcpu_entries, sizeof(*l->ovals));
	/* Distinct stacks per drain are bounded by two per counts (or offcpu) entry. */
	l->max_slots = (l->counts_entries + (opts->offcpu ? l->offcpu_entries : 0)) * 2;
	l->slots = calloc(l->max_slots, sizeof(*l->slots));
	if (!l->keys || !l->vals || !l->okeys || !l->ovals || !l->slots)
		return -ENOMEM;
	l->stage = LOADER_ATTACHED;
	if (!opts->quiet) {
		pr_info("sampling %u CPUs at %u Hz; maps (x2 sets): counts %u, stacks %u, "
			"overflow %u entries",
			l->nr_links, opts->frequency_hz, l->counts_entries, l->stack_entries,
			l->overflow_entries);
		if (opts->nr_filter_pids || opts->nr_filter_cgroups)
			pr_info("sampling filter: %zu pids, %zu cgroups (and their descendants); "
				"other processes are dropped in the kernel",
				opts->nr_filter_pids, opts->nr_filter_cgroups);
	}
	return 0;
}

void loader_free(struct loader *l)
{
	if (!l)
		return;
	ring_buffer__free(l->rb);
	for (unsigned i = 0; i < l->nr_links; i++)
		bpf_link__destroy(l->links[i]); /* closes the perf fd too */
	free(l->links);
	stackd_bpf__destroy(l->skel);
	hmap_fini(&l->ids);
	free(l->slots);
	free(l->keys);
	free(l->vals);
	free(l->okeys);
	free(l->ovals);
	free(l->percpu);
	free(l->online);
	free(l);
}

unsigned loader_nr_attached_cpus(const struct loader *l)
{
	return l->nr_links;
}

uint32_t loader_stack_map_entries(const struct loader *l)
{
	return l->stack_entries;
}

uint32_t loader_counts_map_entries(const struct loader *l)
{
	return l->counts_entries;
}

uint32_t loader_overflow_map_entries(const struct loader *l)
{
	return l->overflow_entries;
}

int loader_events_fd(const struct loader *l)
{
	return ring_buffer__epoll_fd(l->rb);
}

int loader_poll_events(struct loader *l, uint64_t budget_ns)
{
	int n;

	l->poll_deadline_ns = budget_ns ? mono_ns() + budget_ns : 0;
	n = ring_buffer__consume(l->rb);
	l->poll_deadline_ns = 0;
	return n;
}

static int wait_inflight(struct loader *l);

/* Flip active_set and wait until no program can still be writing the old set. */
static int swap_sets(struct loader *l, unsigned *old_set)
{
	struct stackd_bpf__bss *bss = l->skel->bss;
	unsigned old = __atomic_load_n(&bss->active_set, __ATOMIC_RELAXED);

	/* seq_cst store: ordered before the loads of the in-flight slots below. */
	__atomic_store_n(&bss->active_set, old ? 0 : 1, __ATOMIC_SEQ_CST);
	*old_set = old;
	return wait_inflight(l);
}

/*
 * Wait until every program that may have started before the call has
 * returned: each raises its CPU's slot before its first map access and
 * lowers it after its last, so a slot seen at zero once means any program
 * still running there started after the call.
 */
static int wait_inflight(struct loader *l)
{
	struct stackd_bpf__bss *bss = l->skel->bss;
	uint64_t deadline;

	deadline = mono_ns() + SWAP_WAIT_NS;
	for (unsigned i = 0; i < l->nr_online; i++) {
		unsigned cpu = (unsigned)l->online[i];

		while (__atomic_load_n(&bss->inflight[cpu].busy, __ATOMIC_SEQ_CST) != 0) {
			if (mono_ns() > deadline)
				return -ETIMEDOUT;
			sched_yield();
		}
	}
	return 0;
}

/*
 * The ips of stack @id (or overflow @hash), read once per drain. NULL when
 * unavailable. Off-CPU stacks (@offcpu: @overflow_fd is offcpu_stacks) are
 * cached apart: a hash missing from the set's overflow map may be in
 * offcpu_stacks, and only the set's stacks are deleted after the drain.
 */
static struct stack_slot *stack_get(struct loader *l, int stack_fd, int overflow_fd, bool offcpu,
				    int32_t id, uint64_t hash, bool *not_found)
{
	struct stack_slot *s;
	struct hnode *n;
	uint64_t h =
	    hash_combine(hash_u64((uint64_t)(uint32_t)id ^ ((uint64_t)offcpu << 32)), hash);
	int err;

	for (n = hmap_first(&l->ids, h); n; n = hmap_next(n)) {
		s = container_of(n, struct stack_slot, node);
		if (s->id == id && s->hash == hash && s->offcpu == offcpu)
			return s->nr ? s : NULL;
	}
	if (l->nr_slots == l->max_slots)
		return NULL;
	s = &l->slots[l->nr_slots++];
	s->id = id;
	s->offcpu = offcpu;
	s->hash = hash;
	s->nr = 0;
	memset(s->ips, 0, sizeof(s->ips));
	if (id == STACKD_STACK_OVERFLOW)
		err = bpf_map_lookup_elem(overflow_fd, &hash, s->ips);
	else if (stack_fd >= 0)
		err = bpf_map_lookup_elem(stack_fd, &id, s->ips);
	else
		err = -ENOENT; /* off-CPU stacks are all hashed */
	if (err == 0) {
		while (s->nr < STACKD_MAX_STACK_DEPTH && s->ips[s->nr])
			s->nr++;
	} else {
		*not_found = true;
	}
	/* Unindexed (no memory for a bucket) only costs a second lookup of this id. */
	(void)hmap_insert(&l->ids, &s->node, h);
	return s->nr ? s : NULL;
}

/* Delete every key of @fd (a map whose keys are at most 8 bytes). */
static void map_clear(int fd)
{
	uint64_t key = 0, next = 0;
	int rc;

	rc = bpf_map_get_next_key(fd, NULL, &next);
	while (rc == 0) {
		key = next;
		/* Find the successor before deleting: a deleted key restarts the walk. */
		rc = bpf_map_get_next_key(fd, &key, &next);
		bpf_map_delete_elem(fd, &key);
	}
}

/*
 * Read and delete every entry of hash map @fd (at most @max, into @keys and
 * @vals) in as few syscalls as it takes. Returns the entries read, or -errno.
 */
static int64_t take_all(int fd, void *keys, size_t key_size, void *vals, size_t val_size,
			uint32_t max)
{
	uint32_t total = 0, batch, out_key;
	void *in = NULL;
	int err = 0;
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, bopts);

	for (;;) {
		batch = max - total;
		if (!batch)
			break;
		err = bpf_map_lookup_and_delete_batch(
		    fd, in, &out_key, (char *)keys + (size_t)total * key_size,
		    (char *)vals + (size_t)total * val_size, &batch, &bopts);
		total += batch;
		if (err) {
			err = -errno;
			if (err == -ENOENT)
				err = 0; /* done */
			break;
		}
		in = &out_key;
	}
	return err ? err : (int64_t)total;
}

/* Resolve the stacks of @r->key from the set being drained, or from offcpu_stacks (@offcpu). */
static void resolve_stacks(struct loader *l, int stack_fd, int overflow_fd, bool offcpu,
			   struct loader_record *r, struct loader_drain_stats *stats)
{
	const struct stackd_count_key *k = r->key;
	bool not_found = false;
	struct stack_slot *s;

	if ((k->ustack_id >= 0 || k->ustack_id == STACKD_STACK_OVERFLOW) &&
	    (s = stack_get(l, stack_fd, overflow_fd, offcpu, k->ustack_id, k->ustack_hash,
			   &not_found))) {
		r->ustack = s->ips;
		r->ustack_nr = s->nr;
	}
	if ((k->kstack_id >= 0 || k->kstack_id == STACKD_STACK_OVERFLOW) &&
	    (s = stack_get(l, stack_fd, overflow_fd, offcpu, k->kstack_id, k->kstack_hash,
			   &not_found))) {
		r->kstack = s->ips;
		r->kstack_nr = s->nr;
	}
	if (not_found)
		stats->stacks_not_found++;
}

int loader_drain(struct loader *l, void (*cb)(void *ctx, const struct loader_record *r), void *ctx,
		 struct loader_drain_stats *stats)
{
	int counts_fd, stack_fd, overflow_fd, err;
	uint32_t total = 0, ototal = 0;
	unsigned set;
	int64_t n;

	memset(stats, 0, sizeof(*stats));
	err = swap_sets(l, &set);
	if (err)
		/*
		 * A program stayed in flight for 50 ms (a vCPU preempted by the
		 * host?). Drain anyway: at worst one sample lands in the set
		 * being cleared and is lost; the timeout is counted.
		 */
		stats->swap_timed_out = true;
	counts_fd = bpf_map__fd(set ? l->skel->maps.counts_1 : l->skel->maps.counts_0);
	stack_fd = bpf_map__fd(set ? l->skel->maps.stacks_1 : l->skel->maps.stacks_0);
	overflow_fd = bpf_map__fd(set ? l->skel->maps.overflow_1 : l->skel->maps.overflow_0);

	n = take_all(counts_fd, l->keys, sizeof(*l->keys), l->vals, sizeof(*l->vals),
		     l->counts_entries);
	if (n < 0) {
		pr_warn("draining the counts map failed: %s", strerror((int)-n));
		return (int)n;
	}
	total = (uint32_t)n;
	if (l->opts.offcpu) {
		n = take_all(bpf_map__fd(set ? l->skel->maps.offcpu_1 : l->skel->maps.offcpu_0),
			     l->okeys, sizeof(*l->okeys), l->ovals, sizeof(*l->ovals),
			     l->offcpu_entries);
		if (n < 0)
			pr_warn("draining the offcpu map failed: %s", strerror((int)-n));
		else
			ototal = (uint32_t)n;
	}

	hmap_fini(&l->ids);
	hmap_init(&l->ids);
	l->nr_slots = 0;
	for (uint32_t i = 0; i < total; i++) {
		struct loader_record r = {.key = &l->keys[i], .count = l->vals[i]};

		resolve_stacks(l, stack_fd, overflow_fd, false, &r, stats);
		stats->records++;
		stats->samples += r.count;
		cb(ctx, &r);
	}
	/* Off-CPU stacks live in their own LRU (a period may span a swap): not cleared. */
	for (uint32_t i = 0; i < ototal; i++) {
		struct loader_record r = {.key = &l->okeys[i].k,
					  .count = l->ovals[i].switches,
					  .offcpu = true,
					  .offcpu_ns = l->ovals[i].ns,
					  .offcpu_reason = l->okeys[i].reason};

		resolve_stacks(l, -1, bpf_map__fd(l->skel->maps.offcpu_stacks), true, &r, stats);
		stats->offcpu_records++;
		cb(ctx, &r);
	}

	/*
	 * Clear the stack maps. Ids we read are deleted directly; a sweep over
	 * the rest catches stacks whose counts entry was never stored (counts
	 * map full), which would otherwise pin buckets forever.
	 */
	for (uint32_t i = 0; i < l->nr_slots; i++) {
		if (l->slots[i].offcpu)
			continue;
		if (l->slots[i].id == STACKD_STACK_OVERFLOW)
			bpf_map_delete_elem(overflow_fd, &l->slots[i].hash);
		else
			bpf_map_delete_elem(stack_fd, &l->slots[i].id);
	}
	map_clear(stack_fd);
	map_clear(overflow_fd);
	return 0;
}

uint32_t loader_unwind_rows(const struct loader *l)
{
	return l->unwind_rows;
}

int loader_unwind_write_rows(struct loader *l, uint32_t first, const struct cfitab_row *rows,
			     uint32_t nr)
{
	enum { BATCH = 4096 };
	uint32_t keys[BATCH];
	int fd;

	if (l->opts.unwind_mode != STACKD_UNWIND_KERNEL || l->stage < LOADER_LOADED)
		return -ENOTSUP;
	if (first > l->unwind_rows || nr > l->unwind_rows - first)
		return -ERANGE;
	fd = bpf_map__fd(l->skel->maps.unwind_rows);
	for (uint32_t done = 0; done < nr;) {
		uint32_t n = nr - done < BATCH ? nr - done : BATCH;
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		for (uint32_t i = 0; i < n; i++)
			keys[i] = first + done + i;
		/* An array's batch update copies every element or stops at the first failure. */
		if (bpf_map_update_batch(fd, keys, rows + done, &n, &o))
			return -errno;
		done += n;
	}
	return 0;
}

int loader_unwind_set_proc(struct loader *l, uint32_t tgid, const struct stackd_unwind_proc *p)
{
	if (l->opts.unwind_mode != STACKD_UNWIND_KERNEL || l->stage < LOADER_LOADED)
		return -ENOTSUP;
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.unwind_procs), &tgid, p, BPF_ANY))
		return errno == ENOMEM || errno == E2BIG ? -E2BIG : -errno;
	return 0;
}

int loader_unwind_replace_proc(struct loader *l, uint32_t tgid, const struct stackd_unwind_proc *p)
{
	if (l->opts.unwind_mode != STACKD_UNWIND_KERNEL || l->stage < LOADER_LOADED)
		return -ENOTSUP;
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.unwind_procs), &tgid, p, BPF_EXIST))
		return -errno;
	return 0;
}

int loader_unwind_del_proc(struct loader *l, uint32_t tgid, uint64_t start_boottime)
{
	int fd;
	struct stackd_unwind_proc *cur;
	int ret = 0;

	if (l->opts.unwind_mode != STACKD_UNWIND_KERNEL || l->stage < LOADER_LOADED)
		return -ENOTSUP;
	fd = bpf_map__fd(l->skel->maps.unwind_procs);
	cur = malloc(sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	/*
	 * Only user space adds entries, from the thread calling this; the kernel
	 * only deletes them (exec, exit). So the entry cannot change owner
	 * between the lookup and the delete.
	 */
	if (bpf_map_lookup_elem(fd, &tgid, cur))
		ret = errno == ENOENT ? 0 : -errno;
	else if (cur->start_boottime != start_boottime)
		ret = 0;
	else if (bpf_map_delete_elem(fd, &tgid))
		ret = errno == ENOENT ? 0 : -errno;
	else
		ret = 1;
	free(cur);
	return ret;
}

int loader_quiesce(struct loader *l)
{
	if (l->stage < LOADER_LOADED)
		return -EINVAL;
	return wait_inflight(l);
}

int loader_read_counters(struct loader *l, uint64_t out[STACKD_CNT__MAX])
{
	int fd = bpf_map__fd(l->skel->maps.counters);

	for (uint32_t i = 0; i < STACKD_CNT__MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, l->percpu))
			return -errno;
		for (unsigned c = 0; c < l->nr_cpus_possible; c++)
			out[i] += l->percpu[c];
	}
	return 0;
}

bool loader_python(const struct loader *l)
{
	return l->opts.python && l->opts.unwind_mode == STACKD_UNWIND_KERNEL;
}

int loader_py_set_proc(struct loader *l, uint32_t tgid, const struct stackd_py_proc *p)
{
	if (!loader_python(l) || l->stage < LOADER_LOADED)
		return -ENOTSUP;
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.py_procs), &tgid, p, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * Remove @tgid's entry of @fd (a map whose values start with the process's
 * start_boottime) only while it describes (tgid, start_boottime): 1 removed,
 * 0 not there. Only user space writes these maps, from the thread calling this.
 */
static int del_proc_entry(int fd, uint32_t tgid, uint64_t start_boottime, void *cur)
{
	uint64_t start;

	if (bpf_map_lookup_elem(fd, &tgid, cur))
		return errno == ENOENT ? 0 : -errno;
	memcpy(&start, cur, sizeof(start));
	if (start != start_boottime)
		return 0;
	if (bpf_map_delete_elem(fd, &tgid))
		return errno == ENOENT ? 0 : -errno;
	return 1;
}

int loader_py_del_proc(struct loader *l, uint32_t tgid, uint64_t start_boottime)
{
	struct stackd_py_proc cur;

	if (!loader_python(l) || l->stage < LOADER_LOADED)
		return -ENOTSUP;
	return del_proc_entry(bpf_map__fd(l->skel->maps.py_procs), tgid, start_boottime, &cur);
}

bool loader_java(const struct loader *l)
{
	return l->opts.java && l->opts.unwind_mode == STACKD_UNWIND_KERNEL;
}

int loader_hs_set_proc(struct loader *l, uint32_t tgid, const struct stackd_hs_proc *p)
{
	if (!loader_java(l) || l->stage < LOADER_LOADED)
		return -ENOTSUP;
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.hs_procs), &tgid, p, BPF_ANY))
		return -errno;
	return 0;
}

int loader_hs_del_proc(struct loader *l, uint32_t tgid, uint64_t start_boottime)
{
	struct stackd_hs_proc cur;

	if (!loader_java(l) || l->stage < LOADER_LOADED)
		return -ENOTSUP;
	return del_proc_entry(bpf_map__fd(l->skel->maps.hs_procs), tgid, start_boottime, &cur);
}
