// SPDX-License-Identifier: Apache-2.0
/* When each JVM is asked for its perf map: see javaprocs.h. */
#include "javaprocs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "objprobe.h"

enum jvm_state {
	JVM_FREE = 0,
	JVM_WAIT,    /* a request is due at due_ns */
	JVM_PENDING, /* asked; the helper has not answered */
	JVM_IDLE,    /* has a perf map; asked again on unnamed code after due_ns */
	JVM_DONE,    /* given up */
};

struct jvm {
	uint32_t tgid;
	uint64_t start;
	enum jvm_state state;
	uint64_t due_ns;
	uint64_t gap_ns;
	uint8_t not_jvm, fails;
	bool has_jvm;	 /* jvm and bias below: libjvm.so exports its description */
	bool has_layout; /* installed for the walk */
	struct hs_jvm jvm;
	uint64_t bias;
};

struct javaprocs {
	struct javaprocs_ops ops;
	uint64_t ns_per_tick;
	size_t cursor;		 /* where the next tick starts looking */
	bool helper_gone;	 /* no more requests */
	struct objprobe *probes; /* struct hs_jvm of each libjvm.so */
	struct jvm jvms[JAVAPROCS_MAX];
	struct javaprocs_stats stats;
};

static int probe_fd(int fd, void *out)
{
	return hs_probe_fd(fd, out);
}

int javaprocs_new(const char *proc_root, const struct javaprocs_ops *ops, long ticks_per_s,
		  struct javaprocs **out)
{
	struct javaprocs *j;
	int err;

	*out = NULL;
	if (!ops || !ops->request || ticks_per_s <= 0 || ticks_per_s > 1000000000L)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	err =
	    objprobe_new(proc_root, JAVAPROCS_PROBES, sizeof(struct hs_jvm), probe_fd, &j->probes);
	if (err) {
		free(j);
		return err;
	}
	j->ops = *ops;
	j->ns_per_tick = 1000000000ULL / (uint64_t)ticks_per_s;
	*out = j;
	return 0;
}

void javaprocs_free(struct javaprocs *j)
{
	if (!j)
		return;
	objprobe_free(j->probes);
	free(j);
}

/* @v's process is gone, or its slot goes to another: its walk entry goes too. */
static void release(struct javaprocs *j, struct jvm *v)
{
	if (v->state != JVM_FREE && v->has_layout && j->ops.del_layout)
		j->ops.del_layout(j->ops.ctx, v->tgid, v->start);
	v->state = JVM_FREE;
	v->has_layout = false;
}

static struct jvm *find(struct javaprocs *j, uint32_t tgid, uint64_t start)
{
	for (size_t i = 0; i < JAVAPROCS_MAX; i++)
		if (j->jvms[i].state != JVM_FREE && j->jvms[i].tgid == tgid &&
		    j->jvms[i].start == start)
			return &j->jvms[i];
	return NULL;
}

/* The (executable) mapping of a file named libjvm.so, or NULL. */
static const struct procmap *find_libjvm(const struct procmaps *maps)
{
	for (size_t i = 0; maps && i < maps->nr; i++) {
		const char *path = maps->maps[i].path, *base = strrchr(path, '/');

		if (path[0] == '/' && base && !strcmp(base + 1, "libjvm.so"))
			return &maps->maps[i];
	}
	return NULL;
}

/* @v's libjvm.so description and bias, when the file exports one. */
static void probe_jvm(struct javaprocs *j, struct jvm *v, const struct procmap *m)
{
	const struct hs_jvm *jvm;
	bool is_new;
	int err;

	jvm = objprobe_get(j->probes, v->tgid, m, &err, &is_new);
	if (jvm && is_new) {
		j->stats.probes++;
		if (err) {
			j->stats.no_vmstructs++;
			pr_info("pid %u maps %s without HotSpot's vmStructs (%s): its JIT frames "
				"end the walk",
				v->tgid, m->path, strerror(-err));
		}
	}
	if (!jvm || err || elfdyn_bias(&jvm->elf, m->start, m->offset, &v->bias))
		return;
	v->jvm = *jvm;
	v->has_jvm = true;
}

bool javaprocs_update(struct javaprocs *j, uint32_t tgid, uint64_t start_boottime,
		      const struct procmaps *maps, uint64_t now_ns)
{
	const struct procmap *m;
	struct jvm *slot = NULL;

	if (!j)
		return false;
	if (find(j, tgid, start_boottime))
		return true;
	if (!(m = find_libjvm(maps)))
		return false;
	for (size_t i = 0; i < JAVAPROCS_MAX && !slot; i++) {
		struct jvm *v = &j->jvms[i];

		/* An entry of an older process of this pid: that process is gone. */
		if (v->state == JVM_FREE || v->tgid == tgid)
			slot = v;
	}
	/*
	 * Full: a JVM given up on without a layout holds a slot for nothing (a process
	 * that maps a libjvm.so and refuses every request must not crowd out real JVMs).
	 */
	for (size_t i = 0; i < JAVAPROCS_MAX && !slot; i++)
		if (j->jvms[i].state == JVM_DONE && !j->jvms[i].has_layout)
			slot = &j->jvms[i];
	j->stats.jvms++;
	if (!slot) {
		j->stats.untracked++;
		return false;
	}
	release(j, slot);
	*slot = (struct jvm){.tgid = tgid,
			     .start = start_boottime,
			     .state = JVM_WAIT,
			     .due_ns = now_ns + JAVAPROCS_FIRST_NS,
			     .gap_ns = JAVAPROCS_GAP_MIN_NS};
	probe_jvm(j, slot, m);
	return true;
}

void javaprocs_drop(struct javaprocs *j, uint32_t tgid, uint64_t start_boottime)
{
	struct jvm *v = j ? find(j, tgid, start_boottime) : NULL;

	if (v)
		release(j, v);
}

void javaprocs_note_unnamed(struct javaprocs *j, uint32_t tgid, uint64_t start_boottime,
			    uint64_t now_ns)
{
	struct jvm *v = j ? find(j, tgid, start_boottime) : NULL;

	if (!v || v->state != JVM_IDLE || now_ns < v->due_ns)
		return;
	v->state = JVM_WAIT;
	v->due_ns = now_ns;
}

static void fail(struct javaprocs *j, struct jvm *v, uint64_t now_ns, bool is_not_jvm)
{
	if (is_not_jvm ? ++v->not_jvm >= JAVAPROCS_NOT_JVM_TRIES
		       : ++v->fails >= JAVAPROCS_FAIL_TRIES) {
		v->state = JVM_DONE;
		j->stats.given_up++;
		return;
	}
	v->state = JVM_WAIT;
	v->due_ns = now_ns + (is_not_jvm ? JAVAPROCS_RETRY_NS : v->gap_ns);
}

void javaprocs_tick(struct javaprocs *j, uint64_t now_ns)
{
	size_t from;
	unsigned sent = 0;

	if (!j || j->helper_gone)
		return;
	/* Round robin from where the last tick stopped: no slot starves the ones after it. */
	from = j->cursor;
	for (size_t k = 0; k < JAVAPROCS_MAX && sent < JAVAPROCS_PER_TICK; k++) {
		size_t i = (from + k) % JAVAPROCS_MAX;
		struct jvm *v = &j->jvms[i];
		int err;

		/* An answer that never came (the helper died or was stopped): a failure. */
		if (v->state == JVM_PENDING && now_ns - v->due_ns >= JAVAPROCS_LOST_NS) {
			j->stats.lost++;
			fail(j, v, now_ns, false);
		}
		if (v->state != JVM_WAIT || now_ns < v->due_ns)
			continue;
		/* The heaps do not move: their layout is asked for until it came. */
		err = j->ops.request(
		    j->ops.ctx, v->tgid, v->start,
		    v->has_jvm && !v->has_layout && j->ops.set_layout ? &v->jvm : NULL, v->bias);
		if (err == -EAGAIN) {
			/* The helper's queue is full: this one and the rest wait for the next tick.
			 */
			j->cursor = i;
			return;
		}
		if (err) {
			j->stats.helper_errors++;
			v->state = JVM_DONE;
			continue;
		}
		j->stats.requests++;
		v->state = JVM_PENDING;
		v->due_ns = now_ns; /* when it was sent */
		sent++;
		j->cursor = (i + 1) % JAVAPROCS_MAX;
	}
}

void javaprocs_helper_gone(struct javaprocs *j)
{
	if (!j || j->helper_gone)
		return;
	j->helper_gone = true;
	for (size_t i = 0; i < JAVAPROCS_MAX; i++) {
		struct jvm *v = &j->jvms[i];

		if (v->state == JVM_PENDING)
			j->stats.lost++;
		if (v->state == JVM_WAIT || v->state == JVM_PENDING || v->state == JVM_IDLE)
			v->state = JVM_DONE;
	}
	pr_warn("the JVM attach helper is gone: JVMs are no longer asked for their perf maps "
		"(names read so far stay; stacks through JIT code keep working)");
}

uint64_t javaprocs_ticks(const struct javaprocs *j, uint64_t start_boottime)
{
	return start_boottime / j->ns_per_tick;
}

/* The layout a request came back with, if it asked for one. */
static void take_layout(struct javaprocs *j, struct jvm *v, const struct jattach_result *r)
{
	if (!r->has_layout || v->has_layout || !j->ops.set_layout)
		return;
	struct stackd_hs_proc e;

	if (r->layout_err || javaprocs_hs_entry(&r->layout, v->start, &e) ||
	    j->ops.set_layout(j->ops.ctx, v->tgid, &e)) {
		j->stats.layout_errors++;
		v->has_jvm = false; /* not asked again */
		return;
	}
	v->has_layout = true;
	j->stats.layouts++;
}

void javaprocs_on_result(struct javaprocs *j, const struct jattach_result *r, uint64_t now_ns)
{
	struct jvm *v = NULL;
	int status = r->status;

	if (!j)
		return;
	if (status >= 0 && status < JATTACH__NR)
		j->stats.results[status]++;
	for (size_t i = 0; i < JAVAPROCS_MAX && !v; i++)
		if (j->jvms[i].state == JVM_PENDING && j->jvms[i].tgid == (uint32_t)r->pid &&
		    javaprocs_ticks(j, j->jvms[i].start) == r->start_ticks)
			v = &j->jvms[i];
	if (!v)
		return;
	if (status != JATTACH_GONE)
		take_layout(j, v, r);
	switch (status) {
	case JATTACH_OK:
		v->fails = 0;
		v->state = JVM_IDLE;
		v->due_ns = now_ns + v->gap_ns;
		v->gap_ns =
		    v->gap_ns * 2 > JAVAPROCS_GAP_MAX_NS ? JAVAPROCS_GAP_MAX_NS : v->gap_ns * 2;
		if (j->ops.reloaded)
			j->ops.reloaded(j->ops.ctx, v->tgid, v->start);
		break;
	case JATTACH_GONE:
		release(j, v);
		break;
	case JATTACH_NOT_JVM:
		fail(j, v, now_ns, true);
		break;
	default:
		fail(j, v, now_ns, false);
		break;
	}
}

int javaprocs_hs_entry(const struct hs_layout *l, uint64_t start_boottime,
		       struct stackd_hs_proc *out)
{
	const uint16_t f[4][2] = {{l->blob_code_begin, 8},
				  {l->blob_code_end, 8},
				  {l->blob_frame_size, 4},
				  {l->blob_frame_complete, 4}};
	uint32_t lo = UINT16_MAX, hi = 0;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 4; i++) {
		if (f[i][0] < lo)
			lo = f[i][0];
		if ((uint32_t)f[i][0] + f[i][1] > hi)
			hi = (uint32_t)f[i][0] + f[i][1];
	}
	if (hi - lo > STACKD_HS_WIN || !l->nr_heaps || l->nr_heaps > STACKD_HS_MAX_HEAPS)
		return -EINVAL;
	out->start_boottime = start_boottime;
	out->nr_heaps = l->nr_heaps;
	for (int i = 0; i < l->nr_heaps; i++) {
		out->heaps[i].low = l->heaps[i].low;
		out->heaps[i].high = l->heaps[i].high;
		out->heaps[i].segmap = l->heaps[i].segmap;
	}
	out->blob_win = (uint16_t)lo;
	out->code_begin = (uint16_t)(l->blob_code_begin - lo);
	out->code_end = (uint16_t)(l->blob_code_end - lo);
	out->frame_size = (uint16_t)(l->blob_frame_size - lo);
	out->frame_complete = (uint16_t)(l->blob_frame_complete - lo);
	out->heapblock_size = l->heapblock_size;
	out->log2_segment = l->log2_segment;
	return 0;
}

void javaprocs_get_stats(const struct javaprocs *j, struct javaprocs_stats *out)
{
	if (j)
		*out = j->stats;
	else
		memset(out, 0, sizeof(*out));
}
