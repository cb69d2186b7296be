// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stackd's sampling program: attached to a software cpu-clock perf event on
 * every CPU. Per sample it records the kernel and user stack ids and counts
 * them per (process, thread, stacks) in a hash map, in the kernel, so only
 * unique stacks ever cross into user space.
 *
 * Two map sets (counts + stack traces) are double-buffered: user space flips
 * `active_set`, waits until no program still writes the old set, then drains
 * and clears it while samples land in the other one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "stackd.h"

#define EEXIST	   17
#define EFAULT	   14
#define E2BIG	   7
#define PF_KTHREAD 0x00200000

/* Set before load from flags; never written at run time. */
const volatile bool include_idle = false;
const volatile __u32 unwind_mode = STACKD_UNWIND_FP;
const volatile __u32 stack_copy_bytes = 16 * 1024;     /* multiple of STACKD_STACK_CHUNK */
const volatile __u64 dwarf_wakeup_bytes = 1024 * 1024; /* wake user space past this backlog */
/*
 * --profiling.pids/--profiling.cgroups: sample only the listed processes and
 * cgroups. filter_by_pid/filter_by_cgroup say which of the two maps has
 * entries, so an unused one costs no lookup (the verifier prunes the branch).
 */
const volatile bool filter_enabled = false;
const volatile bool filter_by_pid = false;
const volatile bool filter_by_cgroup = false;

/* Which set the program writes: flipped by user space (mmap'ed .bss). */
__u32 active_set = 0;

/*
 * In-flight marker per CPU, one cache line each. A program raises its CPU's
 * slot before it reads active_set and lowers it after its last map write,
 * with atomic (full-barrier on x86) operations. After flipping active_set,
 * user space waits until it has seen every slot at zero: any program that
 * could still have read the old value has then finished, and every later
 * one reads the new value. (A program cannot nest with itself on one CPU.)
 */
struct inflight_slot inflight[STACKD_MAX_CPUS];

/* max_entries are set by user space before load (from frequency x CPUs x drain interval). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct stackd_count_key);
	__type(value, __u64);
} counts_0 SEC(".maps"), counts_1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, STACKD_MAX_STACK_DEPTH * sizeof(__u64));
} stacks_0 SEC(".maps"), stacks_1 SEC(".maps");

/*
 * A stack-trace map does not chain: a stack whose hash bucket holds another
 * stack gets -EEXIST. Such stacks are walked again with bpf_get_stack() and
 * kept here under their own 64-bit hash, so a collision costs a second walk,
 * not the stack.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct stackd_stack);
} overflow_0 SEC(".maps"), overflow_1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stackd_stack);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STACKD_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/*
 * Processes user space has been told about: tgid -> leader start time. LRU so
 * it can never fill up; an evicted entry only costs a repeated notification.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} known_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/*
 * In auto mode: the processes whose stacks are copied for DWARF unwinding
 * (set by user space): tgid -> leader start time, so an entry that outlived
 * its process (a missed exit) never switches a new process with that pid.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} dwarf_procs SEC(".maps");

/*
 * The sampling filter: tgids and cgroup v2 ids (the inode numbers of the
 * cgroup directories). Filled by user space after load, before attach, and
 * never changed; max_entries is set to the list sizes before load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8);
} filter_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u8);
} filter_cgroups SEC(".maps");

/* Stack copies for DWARF unwinding; size set by user space (--unwind.ring-buffer-size). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} dwarf_samples SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomics needed */
}

static __always_inline void notify(__u32 type, __u32 tgid, __u64 start)
{
	struct stackd_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(STACKD_CNT_EVENTS_LOST);
		return;
	}
	e->type = type;
	e->tgid = tgid;
	e->start_boottime = start;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

/*
 * Store a stack that collided in the stack-trace map in the overflow map.
 * Returns STACKD_STACK_OVERFLOW with *hash set, or -EEXIST when it is lost.
 */
static __always_inline __s32 overflow_stack(struct bpf_perf_event_data *ctx, void *overflow,
					    __u64 flags, __u64 *hash)
{
	__u32 zero = 0;
	struct stackd_stack *st = bpf_map_lookup_elem(&scratch, &zero);
	__u64 h = 0xcbf29ce484222325ULL;
	long len;

	if (!st)
		return -EEXIST;
	len = bpf_get_stack(ctx, st->ips, sizeof(st->ips), flags);
	if (len <= 0)
		return -EEXIST;
	/* Zero the tail so equal stacks have equal values and hashes. */
	for (int i = 0; i < STACKD_MAX_STACK_DEPTH; i++) {
		if (i * 8 >= len)
			st->ips[i] = 0;
		h = (h ^ st->ips[i]) * 0x100000001b3ULL;
	}
	h ^= h >> 29;
	if (bpf_map_update_elem(overflow, &h, st, BPF_ANY))
		return -EEXIST;
	*hash = h;
	return STACKD_STACK_OVERFLOW;
}

static __always_inline void record(struct bpf_perf_event_data *ctx, void *counts, void *stacks,
				   void *overflow, struct stackd_count_key *key, bool is_kthread)
{
	__u64 one = 1, *val;
	long err;

	key->kstack_id = bpf_get_stackid(ctx, stacks, 0);
	if (key->kstack_id < 0) {
		if (key->kstack_id == -EEXIST) {
			count(STACKD_CNT_KSTACK_COLLISION);
			key->kstack_id = overflow_stack(ctx, overflow, 0, &key->kstack_hash);
			if (key->kstack_id == -EEXIST)
				count(STACKD_CNT_KSTACK_LOST);
		} else if (key->kstack_id != -EFAULT) {
			count(STACKD_CNT_KSTACK_MISSING);
		} else {
			/* -EFAULT: the sample was taken in user mode. */
			key->kstack_id = STACKD_STACK_NONE;
		}
	}

	if (is_kthread) {
		key->ustack_id = STACKD_STACK_NONE;
	} else {
		key->ustack_id = bpf_get_stackid(ctx, stacks, BPF_F_USER_STACK);
		if (key->ustack_id == -EEXIST) {
			count(STACKD_CNT_USTACK_COLLISION);
			key->ustack_id =
			    overflow_stack(ctx, overflow, BPF_F_USER_STACK, &key->ustack_hash);
			if (key->ustack_id == -EEXIST)
				count(STACKD_CNT_USTACK_LOST);
		} else if (key->ustack_id < 0) {
			count(STACKD_CNT_USTACK_MISSING);
		}
	}

	val = bpf_map_lookup_elem(counts, key);
	if (val) {
		__sync_fetch_and_add(val, 1);
		count(STACKD_CNT_RECORDED);
		return;
	}
	err = bpf_map_update_elem(counts, key, &one, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* Another CPU inserted the same key between lookup and update. */
		val = bpf_map_lookup_elem(counts, key);
		if (val) {
			__sync_fetch_and_add(val, 1);
			err = 0;
		}
	}
	if (err)
		count(STACKD_CNT_COUNTS_FULL);
	else
		count(STACKD_CNT_RECORDED);
}

static __always_inline bool wants_dwarf(__u32 tgid, __u64 start)
{
	__u64 *marked;

	if (unwind_mode == STACKD_UNWIND_DWARF)
		return true;
	if (unwind_mode != STACKD_UNWIND_AUTO)
		return false;
	marked = bpf_map_lookup_elem(&dwarf_procs, &tgid);
	return marked && *marked == start;
}

/*
 * Send registers, kernel stack and a copy of the top of the user stack to user
 * space. Returns false when the ring buffer is full: the caller then counts
 * the sample through frame pointers, so the sample is never lost.
 */
static __always_inline bool send_dwarf_sample(struct bpf_perf_event_data *ctx,
					      const struct stackd_count_key *key)
{
	struct stackd_dwarf_sample *rec;
	struct pt_regs *regs;
	__u64 sp, flags = 0;
	long n;

	rec = bpf_ringbuf_reserve(&dwarf_samples, sizeof(*rec) + stack_copy_bytes, 0);
	if (!rec) {
		count(STACKD_CNT_DWARF_RB_FULL);
		return false;
	}
	rec->start_boottime = key->start_boottime;
	rec->tgid = key->tgid;
	rec->pid = key->pid;
	/* User registers: where the thread entered the kernel, or was interrupted in user mode. */
	/*
	 * bpf_task_pt_regs (5.15+) takes a BTF task pointer (5.11+): only this path needs
	 * them, and with --unwind.mode=fp the verifier never reaches it.
	 */
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	rec->regs[0] = BPF_CORE_READ(regs, ax);
	rec->regs[1] = BPF_CORE_READ(regs, dx);
	rec->regs[2] = BPF_CORE_READ(regs, cx);
	rec->regs[3] = BPF_CORE_READ(regs, bx);
	rec->regs[4] = BPF_CORE_READ(regs, si);
	rec->regs[5] = BPF_CORE_READ(regs, di);
	rec->regs[6] = BPF_CORE_READ(regs, bp);
	rec->regs[7] = BPF_CORE_READ(regs, sp);
	rec->regs[8] = BPF_CORE_READ(regs, r8);
	rec->regs[9] = BPF_CORE_READ(regs, r9);
	rec->regs[10] = BPF_CORE_READ(regs, r10);
	rec->regs[11] = BPF_CORE_READ(regs, r11);
	rec->regs[12] = BPF_CORE_READ(regs, r12);
	rec->regs[13] = BPF_CORE_READ(regs, r13);
	rec->regs[14] = BPF_CORE_READ(regs, r14);
	rec->regs[15] = BPF_CORE_READ(regs, r15);
	rec->regs[16] = BPF_CORE_READ(regs, ip);

	n = bpf_get_stack(ctx, rec->kstack, sizeof(rec->kstack), 0);
	rec->kstack_len = n > 0 ? (__u32)n : 0;

	/*
	 * Copy the stack in chunks: near the top of the stack mapping a single
	 * large read would fault and return nothing.
	 */
	sp = rec->regs[7];
	rec->stack_len = 0;
	for (__u32 off = 0; off < STACKD_MAX_STACK_COPY; off += STACKD_STACK_CHUNK) {
		if (off >= stack_copy_bytes)
			break;
		/* Past the top of the stack mapping: normal for a shallow stack. */
		if (bpf_probe_read_user(rec->stack + off, STACKD_STACK_CHUNK, (void *)(sp + off)))
			break;
		rec->stack_len = off + STACKD_STACK_CHUNK;
	}

	if (bpf_ringbuf_query(&dwarf_samples, BPF_RB_AVAIL_DATA) < dwarf_wakeup_bytes)
		flags = BPF_RB_NO_WAKEUP; /* user space drains the backlog at each tick anyway */
	bpf_ringbuf_submit(rec, flags);
	count(STACKD_CNT_DWARF_SAMPLES);
	return true;
}

/*
 * Is the current task one the filter keeps? Its process is listed, or its
 * cgroup, or one of the cgroup's ancestors (a listed slice keeps every service
 * in it). Kernel threads live in the root cgroup: only a filter listing "/"
 * keeps them.
 */
static __always_inline bool filter_keeps(__u32 tgid)
{
	__u64 cgid, self;

	if (filter_by_pid && bpf_map_lookup_elem(&filter_pids, &tgid))
		return true;
	if (!filter_by_cgroup)
		return false;
	/* The task's own cgroup first: the usual match (a service, a container). */
	self = bpf_get_current_cgroup_id();
	if (bpf_map_lookup_elem(&filter_cgroups, &self))
		return true;
	for (int level = 0; level < STACKD_FILTER_CGROUP_LEVELS; level++) {
		cgid = bpf_get_current_ancestor_cgroup_id(level);
		/* 0: deeper than the task's cgroup; reaching self: all ancestors seen. */
		if (!cgid || cgid == self)
			break;
		if (bpf_map_lookup_elem(&filter_cgroups, &cgid))
			return true;
	}
	return false;
}

SEC("perf_event")
int stackd_sample(struct bpf_perf_event_data *ctx)
{
	struct stackd_count_key key = {};
	struct task_struct *task;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 *known;
	bool is_kthread;

	count(STACKD_CNT_SAMPLES);
	key.tgid = id >> 32;
	key.pid = (__u32)id;
	if (key.pid == 0 && !include_idle) {
		count(STACKD_CNT_IDLE);
		return 0;
	}
	/*
	 * Before anything that costs: a process outside the filter gets no stack
	 * walk, no process event and no stack copy, only this counter.
	 */
	if (filter_enabled && !filter_keeps(key.tgid)) {
		count(STACKD_CNT_FILTERED);
		return 0;
	}

	/* Not bpf_get_current_task_btf (5.11+): frame-pointer sampling runs on 5.8. */
	task = (struct task_struct *)bpf_get_current_task();
	is_kthread = BPF_CORE_READ(task, flags) & PF_KTHREAD;
	key.start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);

	/* First sample of this process since exec: let user space snapshot it now. */
	if (key.tgid != 0 && !is_kthread) {
		known = bpf_map_lookup_elem(&known_procs, &key.tgid);
		if (!known || *known != key.start_boottime) {
			bpf_map_update_elem(&known_procs, &key.tgid, &key.start_boottime, BPF_ANY);
			notify(STACKD_EVENT_NEW_PROCESS, key.tgid, key.start_boottime);
		}
	}

	if (!is_kthread && key.tgid != 0 && wants_dwarf(key.tgid, key.start_boottime) &&
	    send_dwarf_sample(ctx, &key))
		return 0;

	if (cpu >= STACKD_MAX_CPUS)
		return 0;
	__sync_fetch_and_add(&inflight[cpu].busy, 1);
	if (active_set)
		record(ctx, &counts_1, &stacks_1, &overflow_1, &key, is_kthread);
	else
		record(ctx, &counts_0, &stacks_0, &overflow_0, &key, is_kthread);
	__sync_fetch_and_sub(&inflight[cpu].busy, 1);
	return 0;
}

/* An exec replaces the address space: forget the process so its next sample re-notifies. */
/* BTF-typed raw tracepoints: they need no tracefs mount. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(stackd_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	bpf_map_delete_elem(&known_procs, &tgid);
	/* The new image decides afresh whether it needs DWARF unwinding. */
	bpf_map_delete_elem(&dwarf_procs, &tgid);
	return 0;
}

/* A sampled process's leader exits: tell user space so it can evict it. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(stackd_exit, struct task_struct *p)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u64 *start;

	if ((__u32)id != tgid)
		return 0; /* a thread, not the process */
	/* Whether or not known_procs (an LRU) still holds it: the pid may be reused. */
	bpf_map_delete_elem(&dwarf_procs, &tgid);
	start = bpf_map_lookup_elem(&known_procs, &tgid);
	if (!start)
		return 0; /* never sampled: user space does not know it */
	notify(STACKD_EVENT_EXIT, tgid, *start);
	bpf_map_delete_elem(&known_procs, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
