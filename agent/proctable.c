// SPDX-License-Identifier: Apache-2.0
#include "proctable.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "procmeta.h"

/*
 * A live process's maps are re-read when addresses miss, at most once per gap:
 * 10 ms after the first snapshot, doubling up to 1 s. A snapshot taken at exec
 * sees only the binary and ld.so; the libraries come milliseconds later, and
 * their samples must not wait a second for a snapshot that shows them.
 */
#define MAPS_REFRESH_FIRST_NS 10000000ULL
#define MAPS_REFRESH_MAX_NS   1000000000ULL
/* Drains between liveness checks of processes that stopped being sampled. */
#define LIVENESS_EVERY 30
/*
 * Maps snapshots are bounded in bytes, not only in processes: a process can
 * map thousands of executable regions with 4 KiB paths (1 MiB holds ~10,000
 * ordinary ones), and --process.max of them must not add up to gigabytes.
 * A snapshot over either bound is refused (counted), the old one kept; under
 * pressure, sweeps evict the least recently sampled down to 7/8 of the total.
 */
#define MAPS_PROC_BYTES	 (1u << 20)
#define MAPS_TOTAL_BYTES (64u << 20)

/* Templates kept for proctable_set_exe: one per recently started binary, about. */
#define PROC_TEMPLATES 64

struct proctable {
	struct hmap procs;
	struct list_head lru;
	unsigned max_entries;
	char proc_root[256];
	struct symbolizer *sym;
	struct procmeta_reader *meta;
	uint64_t ns_per_tick;
	bool maps_pressure; /* a snapshot was refused for the total budget since the last sweep */
	void (*on_evict)(void *ctx, const struct proc *p);
	void *on_evict_ctx;
	struct proctable_stats stats;
	/* Recent processes with maps and a known executable (proctable_set_exe). */
	struct proc *templates[PROC_TEMPLATES];
	unsigned next_template;
};

static uint64_t key_hash(uint32_t tgid, uint64_t start)
{
	return hash_combine(hash_u64(tgid), start);
}

int proctable_new(unsigned max_entries, const char *proc_root, struct symbolizer *sym,
		  struct procmeta_reader *meta, struct proctable **out)
{
	struct proctable *t = calloc(1, sizeof(*t));
	long hz = sysconf(_SC_CLK_TCK);

	if (!t)
		return -ENOMEM;
	hmap_init(&t->procs);
	list_init(&t->lru);
	t->max_entries = max_entries;
	snprintf(t->proc_root, sizeof(t->proc_root), "%s", proc_root ? proc_root : "/proc");
	t->sym = sym;
	t->meta = meta;
	t->ns_per_tick = 1000000000ULL / (uint64_t)(hz > 0 ? hz : 100);
	*out = t;
	return 0;
}

static void proc_free(struct proc *p)
{
	if (!p)
		return;
	procmaps_free(p->maps);
	free(p->labels);
	free(p);
}

static void proc_evict(struct proctable *t, struct proc *p)
{
	for (unsigned i = 0; i < PROC_TEMPLATES; i++)
		if (t->templates[i] == p)
			t->templates[i] = NULL;
	if (t->on_evict)
		t->on_evict(t->on_evict_ctx, p);
	hmap_remove(&t->procs, &p->node);
	list_del(&p->lru);
	if (p->maps)
		t->stats.maps_bytes -= p->maps->bytes;
	if (p->labels)
		t->stats.labels_bytes -= p->labels->bytes;
	proc_free(p);
}

void proctable_free(struct proctable *t)
{
	struct hnode *n, *tmp;
	size_t i;

	if (!t)
		return;
	hmap_for_each_safe (&t->procs, n, tmp, i)
		proc_free(container_of(n, struct proc, node));
	hmap_fini(&t->procs);
	free(t);
}

/*
 * Read /proc/<tgid>/stat: returns 0 with the start time in ticks and whether
 * it is a kernel thread, -ESRCH when the process is gone.
 */
static int read_stat(struct proctable *t, uint32_t tgid, uint64_t *start_ticks, bool *is_kthread)
{
	char path[PATH_MAX], buf[1024], *p;
	unsigned long long start = 0;
	unsigned long flags = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "%s/%u/stat", t->proc_root, tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields resume after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	p++;
	/* Field 3 (state) follows; flags is field 9, starttime field 22. */
	for (field = 3; field <= 22 && p; field++) {
		while (*p == ' ')
			p++;
		if (field == 9)
			flags = strtoul(p, NULL, 10);
		if (field == 22)
			start = strtoull(p, NULL, 10);
		p = strchr(p, ' ');
	}
	if (field <= 22)
		return -EINVAL;
	*start_ticks = start;
	*is_kthread = flags & 0x00200000; /* PF_KTHREAD */
	return 0;
}

static void read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* Snapshot comm, exe and maps; mark the process vanished when its identity no longer holds. */
static void proc_snapshot_maps(struct proctable *t, struct proc *p, const char *comm_hint,
			       bool *alive)
{
	char path[PATH_MAX];
	uint64_t ticks = 0;
	bool kthread = false;
	struct procmaps *maps = NULL;
	ssize_t n;
	int err;

	t->stats.snapshots++;
	err = read_stat(t, p->tgid, &ticks, &kthread);
	if (err == 0 && ticks != p->start_boottime / t->ns_per_tick)
		err = -ESRCH; /* the pid now belongs to another process */
	if (err) {
		if (err == -ESRCH)
			t->stats.snapshot_vanished++;
		else
			t->stats.snapshot_errors++;
		if (!p->comm[0] && comm_hint)
			snprintf(p->comm, sizeof(p->comm), "%s", comm_hint);
		return;
	}
	*alive = true;
	p->is_kthread = kthread;
	snprintf(path, sizeof(path), "%s/%u/comm", t->proc_root, p->tgid);
	read_small(path, p->comm, sizeof(p->comm));
	if (!p->comm[0] && comm_hint)
		snprintf(p->comm, sizeof(p->comm), "%s", comm_hint);
	if (kthread)
		return;
	snprintf(path, sizeof(path), "%s/%u/exe", t->proc_root, p->tgid);
	n = readlink(path, p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = '\0';

	err = procmaps_read(t->proc_root, (pid_t)p->tgid, PROCMAPS_EXEC_ONLY, &maps);
	if (err) {
		if (err == -ESRCH)
			t->stats.snapshot_vanished++;
		else
			t->stats.snapshot_errors++;
		return;
	}
	if (maps->bytes > MAPS_PROC_BYTES ||
	    t->stats.maps_bytes - (p->maps ? p->maps->bytes : 0) + maps->bytes > MAPS_TOTAL_BYTES) {
		t->stats.maps_refused++;
		t->stats.maps_refused_bytes += maps->bytes;
		t->maps_pressure = true;
		procmaps_free(maps);
		return;
	}
	if (p->maps)
		t->stats.maps_bytes -= p->maps->bytes;
	procmaps_free(p->maps);
	p->maps = maps;
	t->stats.maps_bytes += maps->bytes;
	p->maps_read_ns = mono_ns();
	/* Load the objects now, while /proc/<pid> still exists. */
	symbolizer_prime(t->sym, (pid_t)p->tgid, maps);
}

/* The snapshot, then the labels built from it (and the cgroup and cmdline when alive). */
static void proc_snapshot(struct proctable *t, struct proc *p, const char *comm_hint)
{
	struct procmeta meta;
	struct label_set *ls;
	bool alive = false, have_meta = false;

	proc_snapshot_maps(t, p, comm_hint, &alive);
	if (alive && !p->is_kthread && t->meta) {
		memset(&meta, 0, sizeof(meta));
		/* A process gone half-way keeps what was read: still better than nothing. */
		procmeta_read(t->meta, (pid_t)p->tgid, &meta);
		have_meta = true;
	}
	ls = label_set_build(p->tgid, p->comm[0] ? p->comm : "?", p->exe, have_meta ? &meta : NULL);
	if (!ls && p->labels)
		return; /* out of memory: keep the old labels */
	if (p->labels)
		t->stats.labels_bytes -= p->labels->bytes;
	free(p->labels);
	p->labels = ls;
	if (ls)
		t->stats.labels_bytes += ls->bytes;
}

struct proc *proctable_get(struct proctable *t, uint32_t tgid, uint64_t start_boottime,
			   const char *comm_hint, bool refresh)
{
	uint64_t h = key_hash(tgid, start_boottime);
	struct proc *p;
	struct hnode *n;

	for (n = hmap_first(&t->procs, h); n; n = hmap_next(n)) {
		p = container_of(n, struct proc, node);
		if (p->tgid == tgid && p->start_boottime == start_boottime) {
			if (refresh && !p->has_exited) {
				proc_snapshot(t, p, comm_hint);
			}
			return p;
		}
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
	p->start_boottime = start_boottime;
	if (tgid == 0) {
		/* The idle task: no /proc entry, only kernel stacks. */
		snprintf(p->comm, sizeof(p->comm), "swapper");
		p->is_kthread = true;
		p->labels = label_set_build(0, p->comm, "", NULL);
		if (p->labels)
			t->stats.labels_bytes += p->labels->bytes;
	} else {
		proc_snapshot(t, p, comm_hint);
	}
	if (hmap_insert(&t->procs, &p->node, h)) {
		if (p->maps)
			t->stats.maps_bytes -= p->maps->bytes;
		if (p->labels)
			t->stats.labels_bytes -= p->labels->bytes;
		proc_free(p);
		return NULL;
	}
	list_add(&p->lru, &t->lru);
	return p;
}

void proctable_refresh_maps(struct proctable *t, struct proc *p)
{
	uint64_t gap = MAPS_REFRESH_MAX_NS;
	bool alive;

	if (p->maps_refreshes < PROC_MAPS_YOUNG)
		gap = MAPS_REFRESH_FIRST_NS << p->maps_refreshes; /* 10 ms .. 640 ms */
	if (p->has_exited || p->is_kthread || mono_ns() - p->maps_read_ns < gap)
		return;
	p->maps_read_ns = mono_ns();
	p->maps_refreshes++;
	/* The labels stay: the cgroup and cmdline are read once, at the first sample or exec. */
	proc_snapshot_maps(t, p, NULL, &alive);
}

void proctable_mark_exited(struct proctable *t, uint32_t tgid, uint64_t start_boottime,
			   uint64_t drain_seq)
{
	uint64_t h = key_hash(tgid, start_boottime);
	struct hnode *n;

	for (n = hmap_first(&t->procs, h); n; n = hmap_next(n)) {
		struct proc *p = container_of(n, struct proc, node);

		if (p->tgid == tgid && p->start_boottime == start_boottime && !p->has_exited) {
			p->has_exited = true;
			p->exit_drain = drain_seq;
			return;
		}
	}
}

void proctable_touch(struct proctable *t, struct proc *p, uint64_t drain_seq)
{
	p->last_drain = drain_seq;
	list_move(&p->lru, &t->lru);
}

void proctable_sweep(struct proctable *t, uint64_t drain_seq)
{
	struct hnode *n, *tmp;
	size_t i;

	/*
	 * An exit noticed at drain k may leave samples in the set drained at
	 * k + 1 (they were written to the then-active set): keep it through that.
	 */
	hmap_for_each_safe (&t->procs, n, tmp, i) {
		struct proc *p = container_of(n, struct proc, node);

		if (p->has_exited && drain_seq > p->exit_drain + 1) {
			proc_evict(t, p);
			t->stats.evicted_exited++;
		}
	}
	/*
	 * Exits the BPF side did not report (kernel threads, notifications lost
	 * to a full ring buffer): every LIVENESS_EVERY drains, check the
	 * processes that have not been sampled for that long.
	 */
	if (drain_seq % LIVENESS_EVERY == 0) {
		hmap_for_each_safe (&t->procs, n, tmp, i) {
			struct proc *p = container_of(n, struct proc, node);
			uint64_t ticks;
			bool kthread;

			if (p->has_exited || p->tgid == 0 ||
			    p->last_drain + LIVENESS_EVERY > drain_seq)
				continue;
			if (read_stat(t, p->tgid, &ticks, &kthread) != 0 ||
			    ticks != p->start_boottime / t->ns_per_tick) {
				p->has_exited = true;
				p->exit_drain = drain_seq;
			}
		}
	}
	while (t->procs.count > t->max_entries && !list_empty(&t->lru)) {
		proc_evict(t, list_entry(t->lru.prev, struct proc, lru));
		t->stats.evicted_capacity++;
	}
	/* Evicting here, not at the refusal: callers hold borrowed procs until the sweep. */
	while (t->maps_pressure && t->stats.maps_bytes > MAPS_TOTAL_BYTES / 8 * 7 &&
	       !list_empty(&t->lru)) {
		proc_evict(t, list_entry(t->lru.prev, struct proc, lru));
		t->stats.evicted_maps_budget++;
	}
	t->maps_pressure = false;
}

void proctable_on_evict(struct proctable *t, void (*cb)(void *ctx, const struct proc *p), void *ctx)
{
	t->on_evict = cb;
	t->on_evict_ctx = ctx;
}

void proctable_get_stats(const struct proctable *t, struct proctable_stats *out)
{
	*out = t->stats;
	out->tracked = t->procs.count;
}

/* Does mapping @m belong to the file the kernel named (inode, dev_t major << 20 | minor)? */
static bool is_exe_mapping(const struct procmap *m, uint64_t ino, uint64_t dev)
{
	return m->inode == ino && m->dev_major == (uint32_t)(dev >> 20) &&
	       m->dev_minor == (uint32_t)(dev & 0xfffff) && (m->perms & PROCMAP_EXEC);
}

/* How far @m of template @tp moves for @p: its binary, its ld.so; else false. */
static bool template_shift(const struct proc *p, const struct proc *tp, const struct procmap *m,
			   uint64_t *delta)
{
	if (!m->has_file)
		return false;
	if (m->inode == p->exe_ino) {
		*delta = p->start_code - tp->start_code;
		return true;
	}
	if (tp->interp_base && p->interp_base && m->start - m->offset == tp->interp_base) {
		*delta = p->interp_base - tp->interp_base;
		return true;
	}
	return false;
}

/* @p's mappings of its binary and ld.so from template @tp; 0 or -errno. */
static int maps_from_template(struct proctable *t, struct proc *p, const struct proc *tp)
{
	uint64_t delta;
	const struct procmaps *src = tp->maps;
	struct procmaps *maps = NULL;
	char *text, *at;
	size_t cap = 0, n = 0, j = 0;
	int err;

	for (size_t i = 0; i < src->nr; i++)
		if (template_shift(p, tp, &src->maps[i], &delta))
			cap += 64 + strlen(src->maps[i].path);
	if (!cap)
		return -ENOENT;
	text = malloc(cap + 1);
	if (!text)
		return -ENOMEM;
	at = text;
	for (size_t i = 0; i < src->nr; i++) {
		const struct procmap *m = &src->maps[i];

		/* Address-space randomization moves a mapping by whole pages. */
		if (!template_shift(p, tp, m, &delta) || (delta & 4095))
			continue;
		at += snprintf(at, cap + 1 - (size_t)(at - text),
			       "%" PRIx64 "-%" PRIx64 " r-xp %" PRIx64 " %x:%x %" PRIu64 " %s\n",
			       m->start + delta, m->end + delta, m->offset, m->dev_major,
			       m->dev_minor, m->inode, m->path);
		n++;
	}
	err = procmaps_parse(text, (size_t)(at - text), PROCMAPS_EXEC_ONLY, &maps);
	free(text);
	if (err)
		return err;
	if (maps->nr != n) {
		procmaps_free(maps);
		return -EINVAL;
	}
	/* The template's identities: found in the caches by them, never opened by path. */
	for (size_t i = 0; i < src->nr; i++) {
		const struct procmap *m = &src->maps[i];

		if (!template_shift(p, tp, m, &delta) || (delta & 4095))
			continue;
		maps->maps[j].has_file = true;
		maps->maps[j].file = m->file;
		j++;
	}
	pr_debug(
	    "pid %u: %zu mappings of its binary and ld.so from pid %u (interpreter at %#" PRIx64
	    ", template's %#" PRIx64 ")",
	    p->tgid, maps->nr, tp->tgid, p->interp_base, tp->interp_base);
	p->maps = maps;
	p->maps_from_template = true;
	t->stats.maps_bytes += maps->bytes;
	t->stats.maps_from_template++;
	return 0;
}

bool proctable_set_exe(struct proctable *t, struct proc *p, uint64_t exe_ino, uint64_t exe_dev,
		       uint64_t start_code, uint64_t interp_base)
{
	if (!p || !exe_ino || !start_code || p->is_kthread)
		return false;
	p->exe_ino = exe_ino;
	p->exe_dev = exe_dev;
	p->start_code = start_code;
	p->interp_base = interp_base;
	if (p->maps) {
		/* A template, if its snapshot holds the binary with identities. */
		for (size_t i = 0; i < p->maps->nr; i++) {
			if (is_exe_mapping(&p->maps->maps[i], exe_ino, exe_dev) &&
			    p->maps->maps[i].has_file) {
				for (unsigned k = 0; k < PROC_TEMPLATES; k++)
					if (t->templates[k] &&
					    t->templates[k]->exe_ino == exe_ino &&
					    t->templates[k]->exe_dev == exe_dev)
						t->templates[k] = NULL; /* the newest is kept */
				t->templates[t->next_template] = p;
				t->next_template = (t->next_template + 1) % PROC_TEMPLATES;
				break;
			}
		}
		return false;
	}
	for (unsigned k = 0; k < PROC_TEMPLATES; k++) {
		const struct proc *tp = t->templates[k];

		if (!tp || tp == p || tp->exe_ino != exe_ino || tp->exe_dev != exe_dev || !tp->maps)
			continue;
		if ((start_code - tp->start_code) & 4095)
			return false;
		return maps_from_template(t, p, tp) == 0;
	}
	return false;
}
