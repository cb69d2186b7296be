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
#include "symbolize/cfitab_abi.h"

#define EEXIST	   17
#define EFAULT	   14
#define E2BIG	   7
#define PF_KTHREAD 0x00200000
#define PF_EXITING 0x00000004
/* The lowest user address a pc or stack can have, and the end of the user half (57 bits). */
#define USER_MIN 0x1000ULL
#define USER_END (1ULL << 56)
#define AT_BASE	 7 /* auxv: the interpreter's load address */
/* auxv pairs read: AT_BASE comes early (the kernel writes it 8th on x86-64). */
#define AUXV_PAIRS 24

/* Set before load from flags; never written at run time. */
const volatile bool include_idle = false;
/* --python.enabled (kernel mode): Python frames in place of the interpreter's. */
const volatile bool python_enabled = false;
/* --java.enabled (kernel mode): JIT frames of HotSpot stepped by their code blobs. */
const volatile bool java_enabled = false;
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
/* --offcpu.enabled, --offcpu.min-duration: the off-CPU programs are loaded only when on. */
const volatile __u64 offcpu_min_ns = 0;
/* --offcpu.max-walks: stack walks per CPU and second before switches are sampled. */
const volatile __u32 offcpu_max_walks = 5000;

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

/*
 * Per-CPU scratch slots. Programs that run with interrupts off (the
 * perf_event program, in its hard interrupt, and sched_switch, under the run
 * queue lock) cannot interrupt each other and share slot 0; the sys_exit
 * program runs with interrupts on, so a sample can interrupt it mid-walk: it
 * has slot 1 (it cannot nest with itself on one CPU).
 */
#define SLOT_IRQOFF  0
#define SLOT_SYSEXIT 1
#define NR_SLOTS     2

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SLOTS);
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

/*
 * In-kernel unwinding (--unwind.mode=kernel, see stackd.h): the row pool
 * (max_entries from --unwind.table-budget) and each process's executable
 * mappings. Written only by user space, except stale_ns.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cfitab_row);
} unwind_rows SEC(".maps");

/* Not preallocated: an entry is 10 KiB and most pids never get one. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stackd_unwind_proc);
} unwind_procs SEC(".maps");

/* One walk in progress per CPU and slot: too big for the 512-byte BPF stack. */
struct walk_state {
	struct stackd_stack st; /* ips, leaf first */
	__u64 pc, sp, bp;	/* the frame being unwound */
	__u32 n;		/* ips written */
	__u32 end;		/* STACKD_CNT_WALK_* once the walk is over, else 0 */
	__u32 exact;		/* pc is not a return address: the leaf, or after a signal */
	__u32 fp_frames;
	__u32 stale;   /* a pc outside every known mapping */
	__u32 prev_n;  /* ips the last walk on this CPU left in st: zeroed lazily */
	__u32 fp_last; /* the last step followed a frame pointer */
	/*
	 * CPython: py_frame is the thread's next Python frame to record. At a
	 * _PyEval_EvalFrameDefault pc, py_mode records Python frames (one a
	 * step) up to the call's entry frame; then py_after says what to do
	 * with that pc: 1 unwind it unrecorded (its Python frames stand for
	 * it), 2 record it as it is (no Python frame was there to record).
	 */
	__u32 py_mode;
	__u64 py_frame;
	__u32 py_after;
	__u32 py_emitted;
	__u8 py_fbuf[STACKD_PY_WIN]; /* a frame's fields, read at once (frame_win) */
	__u8 py_cbuf[STACKD_PY_WIN]; /* a code object's (code_win) */
	__u8 hs_buf[STACKD_HS_WIN];  /* a HotSpot CodeBlob's fields (blob_win) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SLOTS);
	__type(key, __u32);
	__type(value, struct walk_state);
} walk_scratch SEC(".maps");

/* CPython processes (see stackd.h): written by user space only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct stackd_py_proc);
} py_procs SEC(".maps");

/* HotSpot JVMs (see stackd.h): written by user space only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct stackd_hs_proc);
} hs_procs SEC(".maps");

/*
 * Thread (host tid) -> its PyThreadState, checked against its native_thread_id at each
 * use; or none found (tstate 0) at searched_ns: a native thread of a CPython process is
 * searched for again only PY_SEARCH_NS later, not at each of its samples.
 */
struct py_tstate {
	__u64 tstate;
	__u64 searched_ns;
};

#define PY_SEARCH_NS (250ULL * 1000 * 1000)

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct py_tstate);
} py_tstates SEC(".maps");

struct py_code_key {
	__u64 start_boottime;
	__u64 code;
	__u32 tgid;
	__u32 pad;
};

/*
 * Code objects whose record was sent, with the co_qualname pointer they had then (an
 * evicted one is only described again).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct py_code_key);
	__type(value, __u64);
} py_codes SEC(".maps");

/*
 * Off-CPU: each thread off CPU (tid -> when and why it left, and its stacks:
 * an LRU, so a thread that never runs again only costs a slot), the stacks by
 * hash (an LRU too: a period may end after the sets were swapped), and the
 * per-key totals, double-buffered like the counts.
 */
struct offcpu_start {
	struct stackd_offcpu_key key;
	__u64 ts;
	__u64 weight; /* switch-outs this one stands for (1, or K when sampled 1 in K) */
	__u64 ns;     /* due: the period's weighted nanoseconds */
	__u64 uip;    /* OFFCPU_DEFERRED: the user registers at the switch-out */
	__u64 usp;
	__u32 state; /* enum offcpu_state */
	__u32 pad;
};

/*
 * A period's user stack, the expensive walk, is taken where it costs least.
 * A thread that leaves in a system call (most off-CPU time: sleeps, reads,
 * futexes) gets its kernel stack and a stamp (DEFERRED); when it comes back
 * after --offcpu.min-duration or more, the period moves to its CPU's due
 * slot and waits for the thread's own context, at its system call's exit,
 * where its user stack is walked. A short period so costs no user walk. Any
 * other switch-out (preempted, a page fault) is walked at once (WALKED), as
 * its user registers will not wait.
 */
enum offcpu_state {
	OFFCPU_WALKED,
	OFFCPU_DEFERRED,
};

/*
 * Per CPU: the period of the thread running there whose user stack is due
 * (tid 0: none). One slot is enough: the thread holds the CPU from its
 * switch-in until its system call returns (sys_exit takes it) or it leaves
 * again (its switch-out takes it, before another thread can come in). So a
 * system call's exit costs one per-CPU lookup and a compare.
 */
struct offcpu_due {
	struct offcpu_start st;
	__u32 tid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct offcpu_due);
} offcpu_due SEC(".maps");

/*
 * Per CPU: switch-outs of profiled threads in the current second (2^30 ns),
 * and the 1-in-K rate of this second, set at its start from the last one's
 * count so that about --offcpu.max-walks are walked. K is fixed before any
 * switch of the second is drawn, so weighting each walked one by K keeps
 * the totals unbiased.
 */
struct offcpu_rate {
	__u64 second;
	__u64 seen;
	__u64 k;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct offcpu_rate);
} offcpu_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct offcpu_start);
} offcpu_starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct stackd_stack);
} offcpu_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct stackd_offcpu_key);
	__type(value, struct stackd_offcpu_val);
} offcpu_0 SEC(".maps"), offcpu_1 SEC(".maps");

/* Stack copies for DWARF unwinding; size set by user space (--unwind.ring-buffer-size). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} dwarf_samples SEC(".maps");

static __always_inline void count_n(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += n; /* per-CPU slot: no atomics needed */
}

static __always_inline void count(__u32 idx)
{
	count_n(idx, 1);
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
	e->exe_ino = 0;
	e->exe_dev = 0;
	e->start_code = 0;
	e->interp_base = 0;
	if (type == STACKD_EVENT_NEW_PROCESS) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct mm_struct *mm = BPF_CORE_READ(task, mm);
		struct file *exe = BPF_CORE_READ(mm, exe_file);
		__u64 pair[2];

		if (exe) {
			e->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
			e->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
			e->start_code = BPF_CORE_READ(mm, start_code);
			/*
			 * The auxiliary vector the kernel gave the image: AT_BASE is ld.so's.
			 * A pair at a time: the vector whole would take 384 bytes of stack.
			 */
			for (int i = 0; i < AUXV_PAIRS; i++) {
				if (bpf_probe_read_kernel(pair, sizeof(pair),
							  &mm->saved_auxv[2 * i]))
					break;
				if (pair[0] == AT_BASE) {
					e->interp_base = pair[1];
					break;
				}
			}
		}
	}
	bpf_ringbuf_submit(e, 0);
}

/*
 * Hashing and comparing stacks run as bpf_loop callbacks: verified once,
 * where a 127-step loop inline is verified step by step at every call site.
 */
struct stack_pass {
	struct stackd_stack *st;
	struct stackd_stack *other; /* compare: the stored stack */
	__u64 n;		    /* hash, compare: ips in use; zero: the first to clear */
	__u64 acc;		    /* the hash, or the difference */
};

static long hash_cb(__u32 i, struct stack_pass *p)
{
	if (i >= STACKD_MAX_STACK_DEPTH)
		return 1;
	p->acc = (p->acc ^ p->st->ips[i]) * 0x100000001b3ULL;
	return 0;
}

static long diff_cb(__u32 i, struct stack_pass *p)
{
	if (i >= STACKD_MAX_STACK_DEPTH)
		return 1;
	p->acc |= p->st->ips[i] ^ p->other->ips[i];
	return 0;
}

static long zero_cb(__u32 i, struct stack_pass *p)
{
	__u64 k = p->n + i;

	if (k >= STACKD_MAX_STACK_DEPTH)
		return 1;
	p->st->ips[k] = 0;
	return 0;
}

/* Clear ips [@from, @to) of @st. */
static __always_inline void zero_ips(struct stackd_stack *st, __u32 from, __u32 to)
{
	struct stack_pass p = {.st = st, .n = from};

	if (to > from)
		bpf_loop(to - from, zero_cb, &p, 0);
}

/*
 * Keep @st in hash map @stacks under its hash: stacks are stored once,
 * counted per key. @st holds @n ips and zeros after them (so equal stacks are
 * equal values). A hash that holds another stack (a collision, or a process
 * that crafted one) moves to a second probe; a stored stack is compared
 * before it is used (its first n + 1 ips: the stored tails are zero too), so
 * a stack is never counted as another. Returns STACKD_STACK_OVERFLOW with
 * *hash set, or -EEXIST when it is lost.
 */
static __always_inline __s32 store_stack(void *stacks, struct stackd_stack *st, __u32 n,
					 __u64 *hash)
{
	struct stack_pass p = {.st = st, .n = n, .acc = 0xcbf29ce484222325ULL};
	struct stackd_stack *cur;
	__u64 h;

	if (n > STACKD_MAX_STACK_DEPTH)
		return -EEXIST;
	bpf_loop(n, hash_cb, &p, 0);
	h = p.acc ^ n;
	for (int probe = 0; probe < 2; probe++) {
		h ^= h >> 29;
		cur = bpf_map_lookup_elem(stacks, &h);
		if (!cur) {
			if (bpf_map_update_elem(stacks, &h, st, BPF_NOEXIST) == 0) {
				*hash = h;
				return STACKD_STACK_OVERFLOW;
			}
			cur = bpf_map_lookup_elem(stacks, &h); /* another CPU stored it first */
			if (!cur)
				return -EEXIST; /* full */
		}
		p.other = cur;
		p.acc = 0;
		bpf_loop(n + 1, diff_cb, &p, 0);
		if (!p.acc) {
			*hash = h;
			return STACKD_STACK_OVERFLOW;
		}
		h = h * 0x9e3779b97f4a7c15ULL + 1;
	}
	return -EEXIST;
}

/*
 * Store a stack that collided in the stack-trace map in the overflow map.
 * Returns STACKD_STACK_OVERFLOW with *hash set, or -EEXIST when it is lost.
 */
static __always_inline __s32 overflow_stack(void *ctx, void *overflow, __u64 flags, __u64 *hash,
					    __u32 slot)
{
	struct stackd_stack *st = bpf_map_lookup_elem(&scratch, &slot);
	long len;
	__u32 n;

	if (!st)
		return -EEXIST;
	len = bpf_get_stack(ctx, st->ips, sizeof(st->ips), flags);
	if (len <= 0)
		return -EEXIST;
	n = (__u32)(len / 8);
	/* What an earlier, deeper stack left behind (rare path: clear it all). */
	zero_ips(st, n, STACKD_MAX_STACK_DEPTH);
	return store_stack(overflow, st, n, hash);
}

/*
 * The kernel stack, and the user stack unless the walk took it already, into
 * @key (ctx: the program's context, for bpf_get_stackid).
 */
static __always_inline void take_stacks(void *ctx, void *stacks, void *overflow,
					struct stackd_count_key *key, bool is_kthread,
					bool ustack_done)
{
	key->kstack_id = bpf_get_stackid(ctx, stacks, 0);
	if (key->kstack_id < 0) {
		if (key->kstack_id == -EEXIST) {
			count(STACKD_CNT_KSTACK_COLLISION);
			key->kstack_id =
			    overflow_stack(ctx, overflow, 0, &key->kstack_hash, SLOT_IRQOFF);
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
	} else if (!ustack_done) {
		key->ustack_id = bpf_get_stackid(ctx, stacks, BPF_F_USER_STACK);
		if (key->ustack_id == -EEXIST) {
			count(STACKD_CNT_USTACK_COLLISION);
			key->ustack_id = overflow_stack(ctx, overflow, BPF_F_USER_STACK,
							&key->ustack_hash, SLOT_IRQOFF);
			if (key->ustack_id == -EEXIST)
				count(STACKD_CNT_USTACK_LOST);
		} else if (key->ustack_id < 0) {
			count(STACKD_CNT_USTACK_MISSING);
		}
	}
}

static __always_inline void record(struct bpf_perf_event_data *ctx, void *counts, void *stacks,
				   void *overflow, struct stackd_count_key *key, bool is_kthread,
				   bool ustack_done)
{
	__u64 one = 1, *val;
	long err;

	take_stacks(ctx, stacks, overflow, key, is_kthread, ustack_done);
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

/* ---- in-kernel unwinding ------------------------------------------------------------------ */

struct walk_ctx {
	struct stackd_unwind_proc *proc;
	struct walk_state *w;
	struct stackd_py_proc *py; /* NULL: no Python frames in this walk */
	struct stackd_hs_proc *hs; /* NULL: no HotSpot code heaps in this process */
	__u64 start_boottime;
	__u32 tgid;
};

static __always_inline bool read_user_u64(__u64 addr, __u64 *val)
{
	return bpf_probe_read_user(val, sizeof(*val), (const void *)addr) == 0;
}

/*
 * Binary searches run as bpf_loop callbacks too: inline, every halving
 * doubles the paths the verifier walks.
 */
struct bsearch {
	__u64 key;
	__u32 lo, hi; /* the answer is the last element <= key: index lo - 1 once lo == hi */
	__u32 bad;
	struct stackd_unwind_proc *proc;
};

static long mapping_cb(__u32 i, struct bsearch *b)
{
	__u32 mid;

	if (b->lo >= b->hi)
		return 1;
	mid = b->lo + (b->hi - b->lo) / 2;
	if (b->proc->maps[mid & (STACKD_UNWIND_MAX_MAPPINGS - 1)].start <= b->key)
		b->lo = mid + 1;
	else
		b->hi = mid;
	return 0;
}

static long row_cb(__u32 i, struct bsearch *b)
{
	struct cfitab_row *row;
	__u32 mid;

	if (b->lo >= b->hi)
		return 1;
	mid = b->lo + (b->hi - b->lo) / 2;
	row = bpf_map_lookup_elem(&unwind_rows, &mid);
	if (!row) {
		b->bad = 1; /* rows outside the pool: a bad entry, read as a gap */
		return 1;
	}
	if (row->pc <= (__u32)b->key)
		b->lo = mid + 1;
	else
		b->hi = mid;
	return 0;
}

/* The mapping holding @addr, or NULL: the last one starting at or below it, if it reaches it. */
static __always_inline struct stackd_unwind_mapping *find_mapping(struct stackd_unwind_proc *proc,
								  __u64 addr)
{
	struct bsearch b = {.key = addr, .hi = proc->nr, .proc = proc};
	struct stackd_unwind_mapping *m;

	if (b.hi > STACKD_UNWIND_MAX_MAPPINGS)
		b.hi = STACKD_UNWIND_MAX_MAPPINGS;
	bpf_loop(9, mapping_cb, &b, 0); /* log2(STACKD_UNWIND_MAX_MAPPINGS) + 1 */
	if (b.lo == 0 || b.lo != b.hi)
		return NULL;
	m = &proc->maps[(b.lo - 1) & (STACKD_UNWIND_MAX_MAPPINGS - 1)];
	return addr < m->end ? m : NULL;
}

/* The rule of the row covering row pc @rpc in @m's rows; 0 (a gap) when none does. */
static __always_inline __u32 find_rule(const struct stackd_unwind_mapping *m, __u64 rpc)
{
	struct bsearch b = {.key = rpc, .lo = m->first_row, .hi = m->first_row + m->nr_rows};
	struct cfitab_row *row;
	__u32 idx;

	if (rpc >> 32 || b.hi < b.lo)
		return CFITAB_CFA_GAP;
	/* 23 halvings cover CFITAB_MAX_ROWS (2^22) rows. */
	bpf_loop(23, row_cb, &b, 0);
	if (b.bad || b.lo != b.hi || b.lo == m->first_row)
		return CFITAB_CFA_GAP; /* unfinished, or below the first row */
	idx = b.lo - 1;
	row = bpf_map_lookup_elem(&unwind_rows, &idx);
	return row ? row->rule : CFITAB_CFA_GAP;
}

/* ---- CPython frames ---- */

/* A str's code points, raw (user space decodes them by kind): sets *kind (0: unreadable), *len. */
#define PY_READ_STR(py, obj, dst, max, kind_out, len_out)                                          \
	do {                                                                                       \
		__u64 type_ = 0, length_ = 0, data_;                                               \
		__u32 state_ = 0, k_, n_;                                                          \
		(kind_out) = 0;                                                                    \
		(len_out) = 0;                                                                     \
		if (!(obj) || !read_user_u64((obj) + 8, &type_) || type_ != (py)->str_type ||      \
		    !read_user_u64((obj) + (py)->off[STACKD_PY_STR_LENGTH], &length_) ||           \
		    bpf_probe_read_user(&state_, 4,                                                \
					(const void *)((obj) + (py)->off[STACKD_PY_STR_STATE])))   \
			break;                                                                     \
		k_ = state_ >> 2 & 7;                                                              \
		/* compact (bit 5) and ready (bit 7) strs only; ascii (bit 6) sets the layout */   \
		if (!(state_ & (1 << 5)) || !(state_ & (1 << 7)) ||                                \
		    (k_ != 1 && k_ != 2 && k_ != 4))                                               \
			break;                                                                     \
		data_ = (obj) + (state_ & (1 << 6) ? (py)->off[STACKD_PY_STR_ASCII_DATA]           \
						   : (py)->off[STACKD_PY_STR_COMPACT_DATA]);       \
		n_ = length_ > (max) ? (max) : (__u32)length_ * k_;                                \
		if (n_ > (max))                                                                    \
			n_ = (max);                                                                \
		n_ -= n_ % k_;                                                                     \
		if (n_ > (max))                                                                    \
			break;                                                                     \
		if (bpf_probe_read_user((dst), n_, (const void *)data_))                           \
			break;                                                                     \
		(kind_out) = k_;                                                                   \
		(len_out) = n_;                                                                    \
	} while (0)

/*
 * The first time this process's code object @code is met (or its qualname
 * pointer @qualname changed: another object at the address), send its names and line
 * table. Records the ring buffer could not take are sent at a later meeting.
 */
static __always_inline void py_note_code(struct walk_ctx *c, __u64 code, __u64 qualname)
{
	struct stackd_py_proc *py = c->py;
	struct py_code_key k = {.start_boottime = c->start_boottime, .code = code, .tgid = c->tgid};
	struct stackd_py_code *r;
	__u64 filename, tab, type, size, *sent;
	__u32 len;

	if (!py)
		return;
	sent = bpf_map_lookup_elem(&py_codes, &k);
	if (sent && *sent == qualname)
		return;
	if (!read_user_u64(code + 8, &type) || type != py->code_type) {
		count(STACKD_CNT_PY_CODES_BAD);
		return;
	}
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(STACKD_CNT_PY_CODES_LOST);
		return;
	}
	r->type = STACKD_EVENT_PY_CODE;
	r->tgid = c->tgid;
	r->start_boottime = c->start_boottime;
	r->code = code;
	r->firstlineno = 0;
	r->pad = 0;
	bpf_probe_read_user(&r->firstlineno, 4,
			    (const void *)(code + py->off[STACKD_PY_CODE_FIRSTLINENO]));
	PY_READ_STR(py, qualname, r->qualname, STACKD_PY_NAME_MAX, r->qualname_kind,
		    r->qualname_len);
	filename = 0;
	read_user_u64(code + py->off[STACKD_PY_CODE_FILENAME], &filename);
	PY_READ_STR(py, filename, r->filename, STACKD_PY_FILE_MAX, r->filename_kind,
		    r->filename_len);
	r->linetable_len = 0;
	r->linetable_size = 0;
	tab = 0;
	type = 0;
	size = 0;
	if (read_user_u64(code + py->off[STACKD_PY_CODE_LINETABLE], &tab) && tab &&
	    read_user_u64(tab + 8, &type) && type == py->bytes_type &&
	    read_user_u64(tab + py->off[STACKD_PY_BYTES_SIZE], &size)) {
		len = size > STACKD_PY_LINETABLE_MAX ? STACKD_PY_LINETABLE_MAX : (__u32)size;
		if (len <= STACKD_PY_LINETABLE_MAX &&
		    !bpf_probe_read_user(r->linetable, len,
					 (const void *)(tab + py->off[STACKD_PY_BYTES_DATA]))) {
			r->linetable_len = len;
			r->linetable_size = size > 0xffffffffULL ? 0xffffffffU : (__u32)size;
		}
	}
	bpf_ringbuf_submit(r, 0);
	count(STACKD_CNT_PY_CODES_SENT);
	bpf_map_update_elem(&py_codes, &k, &qualname, BPF_ANY);
}

/* Field @off of a structure whose @len bytes from @win are in @buf. */
static __always_inline bool py_field(const __u8 *buf, __u16 win, __u8 len, __u16 off, void *out,
				     __u32 size)
{
	__u32 r = (__u32)off - win;

	if (off < win || r + size > len || r > STACKD_PY_WIN - 8)
		return false;
	if (size == 8)
		*(__u64 *)out = *(const __u64 *)(buf + r);
	else if (size == 4)
		*(__u32 *)out = *(const __u32 *)(buf + r);
	else
		*(__u8 *)out = buf[r];
	return true;
}

/* One step of py_mode: record the next Python frame of this eval call, if any. */
static __always_inline long py_step(struct walk_ctx *c, struct walk_state *w)
{
	struct stackd_py_proc *py = c->py;
	__u64 f = w->py_frame, code = 0, prev_instr = 0, prev = 0, base, qualname = 0;
	__u64 lasti = STACKD_PY_LASTI_NONE;
	__u8 is_entry = 0, owner = 0;
	__s32 first = 0;
	__u32 n = w->n;
	__u16 fw, cw;
	__u8 fl, cl;

	if (n >= STACKD_MAX_STACK_DEPTH) {
		w->end = STACKD_CNT_WALK_DEPTH;
		return 1;
	}
	/* One read of the frame, one of its code object (their fields are close together). */
	if (!py || !f)
		goto no_frame;
	fw = py->frame_win;
	cw = py->code_win;
	fl = py->frame_len;
	cl = py->code_len;
	if (fl > STACKD_PY_WIN || cl > STACKD_PY_WIN ||
	    bpf_probe_read_user(w->py_fbuf, fl, (const void *)(f + fw)) ||
	    !py_field(w->py_fbuf, fw, fl, py->off[STACKD_PY_FRAME_CODE], &code, 8) || !code ||
	    !py_field(w->py_fbuf, fw, fl, py->off[STACKD_PY_FRAME_PREV_INSTR], &prev_instr, 8) ||
	    !py_field(w->py_fbuf, fw, fl, py->off[STACKD_PY_FRAME_PREVIOUS], &prev, 8) ||
	    !py_field(w->py_fbuf, fw, fl, py->off[STACKD_PY_FRAME_IS_ENTRY], &is_entry, 1) ||
	    !py_field(w->py_fbuf, fw, fl, py->off[STACKD_PY_FRAME_OWNER], &owner, 1) ||
	    bpf_probe_read_user(w->py_cbuf, cl, (const void *)(code + cw)) ||
	    !py_field(w->py_cbuf, cw, cl, py->off[STACKD_PY_CODE_FIRSTTRACEABLE], &first, 4) ||
	    !py_field(w->py_cbuf, cw, cl, py->off[STACKD_PY_CODE_QUALNAME], &qualname, 8))
		goto no_frame;
	w->py_frame = prev;
	base = code + py->off[STACKD_PY_CODE_CODE];
	if (prev_instr >= base && (prev_instr - base) / 2 < STACKD_PY_LASTI_NONE)
		lasti = (prev_instr - base) / 2;
	/* A frame that has not started (_PyFrame_IsIncomplete) is not shown, as CPython does. */
	if (owner == py->owned_by_generator ||
	    (prev_instr >= base && lasti >= (__u64)(__s64)first)) {
		if (code > STACKD_PY_CODE_MASK) {
			count(STACKD_CNT_PY_CODES_BAD);
			code = 0;
			lasti = STACKD_PY_LASTI_NONE;
		} else {
			py_note_code(c, code, qualname);
		}
		w->st.ips[n] = STACKD_PY_FRAME | lasti << STACKD_PY_LASTI_SHIFT | code;
		w->n = n + 1;
		w->py_emitted++;
		count(STACKD_CNT_PY_FRAMES);
	}
	if (is_entry || !prev) {
		w->py_mode = 0;
		w->py_after = w->py_emitted ? 1 : 2;
	}
	return 0;
no_frame:
	/* No (readable) frame: none is recorded for later eval calls either. */
	w->py_frame = 0;
	w->py_mode = 0;
	w->py_after = w->py_emitted ? 1 : 2;
	return 0;
}

struct py_search {
	struct stackd_py_proc *py;
	__u64 cur, found;
	__u32 tid;
};

static long py_search_cb(__u32 i, struct py_search *s)
{
	__u64 ntid;

	if (!s->cur || !read_user_u64(s->cur + s->py->off[STACKD_PY_TSTATE_NATIVE_TID], &ntid))
		return 1;
	if (ntid == s->tid) {
		s->found = s->cur;
		return 1;
	}
	if (!read_user_u64(s->cur + s->py->off[STACKD_PY_TSTATE_NEXT], &s->cur))
		return 1;
	return 0;
}

/* The thread id of @task in its own pid namespace: what CPython saw from gettid(). */
static __always_inline __u32 ns_tid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};

	if (level > 32)
		return 0;
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level]);
	return (__u32)up.nr;
}

/* The current thread's innermost Python frame (0: none, or no thread state found). */
static __always_inline __u64 py_current_frame(struct stackd_py_proc *py, struct task_struct *task,
					      __u32 host_tid)
{
	struct py_search s = {.py = py, .tid = ns_tid(task)};
	struct py_tstate *cached = bpf_map_lookup_elem(&py_tstates, &host_tid), ent = {};
	__u64 ntid, cframe, frame, interp, now;

	if (cached && cached->tstate &&
	    read_user_u64(cached->tstate + py->off[STACKD_PY_TSTATE_NATIVE_TID], &ntid) &&
	    ntid == s.tid) {
		s.found = cached->tstate;
	} else {
		now = bpf_ktime_get_ns();
		/* No thread state a moment ago: a native thread, most likely. */
		if (cached && !cached->tstate && now - cached->searched_ns < PY_SEARCH_NS)
			return 0;
		if (read_user_u64(py->runtime + py->off[STACKD_PY_RUNTIME_INTERP_HEAD], &interp) &&
		    interp &&
		    read_user_u64(interp + py->off[STACKD_PY_INTERP_THREADS_HEAD], &s.cur))
			bpf_loop(STACKD_PY_MAX_THREADS, py_search_cb, &s, 0);
		ent.tstate = s.found;
		ent.searched_ns = now;
		bpf_map_update_elem(&py_tstates, &host_tid, &ent, BPF_ANY);
		if (!s.found)
			return 0;
	}
	if (!read_user_u64(s.found + py->off[STACKD_PY_TSTATE_CFRAME], &cframe) || !cframe ||
	    !read_user_u64(cframe + py->off[STACKD_PY_CFRAME_CURRENT_FRAME], &frame))
		return 0;
	return frame;
}

/*
 * One frame: record the pc, then find the caller's pc, sp and bp from the
 * row of the pc's object, or from the frame pointer where there is none.
 * Returns 1 when the walk is over (w->end says why).
 */
/* ---- HotSpot JIT frames ---- */

enum hs_kind {
	HS_NONE = 0, /* not in a code heap */
	HS_FP,	     /* a blob that keeps an rbp chain (interpreter, stubs) */
	HS_FRAME,    /* a complete compiled frame: CFA = rsp + frame size */
	HS_ENTRY,    /* before the frame is complete: CFA = rsp + 8 */
	HS_BAD,	     /* in a heap, but no blob holds it */
};

/* An rbp further above rsp than this is no frame pointer of a JVM's thread stack frame. */
#define HS_FRAMELESS_GAP (1ULL << 20)

struct hs_hop {
	__u64 segmap;
	__u64 seg;
	__u32 bad;
	__u32 found;
};

static long hs_hop_cb(__u32 i, struct hs_hop *h)
{
	__u8 b;

	if (bpf_probe_read_user(&b, sizeof(b), (const void *)(h->segmap + h->seg)) || b == 0xff ||
	    b > h->seg) {
		h->bad = 1; /* unreadable, a free block, or a map pointing below the heap */
		return 1;
	}
	if (!b) {
		h->found = 1;
		return 1;
	}
	h->seg -= b;
	return 0;
}

/* The field at @off of a window read into @buf (offsets checked by user space, again here). */
static __always_inline __u64 hs_u64(const __u8 *buf, __u16 off)
{
	__u32 r = off;

	return r <= STACKD_HS_WIN - 8 ? *(const __u64 *)(buf + r) : 0;
}

static __always_inline __s32 hs_s32(const __u8 *buf, __u16 off)
{
	__u32 r = off;

	return r <= STACKD_HS_WIN - 4 ? *(const __s32 *)(buf + r) : -1;
}

/* x86-64 code bytes at a sampled pc (the first three, little-endian) that tell a compiled
 * frame's state: set up or torn down. */
#define X86_RET		  0xc3	   /* ret: the frame is gone, the return address at [rsp] */
#define X86_POP_RBP	  0x5d	   /* pop rbp: [rsp] the caller's rbp, then the return address */
#define X86_CMP_RSP_R15	  0xa73b49 /* cmp rsp, [r15+disp32]: HotSpot's return poll, after pop rbp */
#define X86_SUB_RSP_IMM8  0xec8348 /* sub rsp, imm8: rbp pushed, the frame not yet made */
#define X86_SUB_RSP_IMM32 0xec8148 /* sub rsp, imm32 */

/*
 * How to step the frame at @look of a JVM: sets *cfa for HS_FRAME (the caller's rbp at
 * CFA - 16) and HS_ENTRY (rbp untouched). A return address (!@exact) is always in a
 * complete frame (a call is made from one). The sampled pc may be in the prologue or the
 * epilogue: the instruction there says how much of the frame exists.
 */
static __always_inline enum hs_kind hs_frame(const struct stackd_hs_proc *hs, struct walk_state *w,
					     __u64 look, __u64 sp, bool exact, __u64 *cfa)
{
	__u32 code = 0, op;
	const struct stackd_hs_heap *heap = NULL;
	struct hs_hop h = {};
	__u64 blob, begin, end;
	__s32 size, complete;
	__u32 i;

	for (i = 0; i < STACKD_HS_MAX_HEAPS; i++)
		if (i < hs->nr_heaps && look >= hs->heaps[i].low && look < hs->heaps[i].high)
			heap = &hs->heaps[i];
	if (!heap)
		return HS_NONE;
	h.segmap = heap->segmap;
	h.seg = (look - heap->low) >> (hs->log2_segment & 63);
	bpf_loop(STACKD_HS_MAX_HOPS, hs_hop_cb, &h, 0);
	if (!h.found)
		return HS_BAD;
	blob = heap->low + (h.seg << (hs->log2_segment & 63)) + hs->heapblock_size;
	if (bpf_probe_read_user(w->hs_buf, sizeof(w->hs_buf), (const void *)(blob + hs->blob_win)))
		return HS_BAD;
	begin = hs_u64(w->hs_buf, hs->code_begin);
	end = hs_u64(w->hs_buf, hs->code_end);
	size = hs_s32(w->hs_buf, hs->frame_size);
	complete = hs_s32(w->hs_buf, hs->frame_complete);
	if (look < begin || look >= end)
		return HS_BAD;
	if (size <= 0)
		return HS_FP;
	if (size > (1 << 16))
		return HS_BAD;
	*cfa = sp + (__u64)size * 8;
	if (!exact || bpf_probe_read_user(&code, 3, (const void *)look))
		return HS_FRAME;
	op = code & 0xffffff;
	if ((code & 0xff) == X86_RET || op == X86_CMP_RSP_R15) {
		*cfa = sp + 8;
		return HS_ENTRY;
	}
	if ((code & 0xff) == X86_POP_RBP || op == X86_SUB_RSP_IMM8 || op == X86_SUB_RSP_IMM32) {
		*cfa = sp + 16;
		return HS_FRAME;
	}
	/* Before the frame is complete (entry checks, stack bang, push rbp): nothing pushed. */
	if (complete >= 0 && look - begin < (__u64)complete) {
		*cfa = sp + 8;
		return HS_ENTRY;
	}
	return HS_FRAME;
}

static long walk_step(__u32 i, struct walk_ctx *c)
{
	struct walk_state *w = c->w;
	struct stackd_unwind_mapping *m;
	__u64 pc = w->pc, sp = w->sp, bp = w->bp, look, cfa, ra, off;
	__u32 n = w->n, rule = CFITAB_CFA_GAP, kind;
	enum hs_kind hs;
	int aux;

	if (w->py_mode)
		return py_step(c, w);
	if (n >= STACKD_MAX_STACK_DEPTH) {
		w->end = STACKD_CNT_WALK_DEPTH;
		return 1;
	}
	/* A return address points after its call, maybe past the end of the function. */
	look = w->exact ? pc : pc - 1;
	if (w->py_after == 1) {
		/* The Python frames this eval call ran are recorded in its place. */
		w->py_after = 0;
	} else if (!w->py_after && c->py && look >= c->py->eval_lo && look < c->py->eval_hi) {
		w->py_mode = 1;
		w->py_emitted = 0;
		return 0;
	} else {
		w->py_after = 0;
		w->st.ips[n] = pc;
		w->n = n + 1;
	}

	m = find_mapping(c->proc, look);
	if (!m) {
		if (look >= USER_MIN && look < USER_END)
			w->stale = 1;
	} else if (m->nr_rows) {
		rule = find_rule(m, look - m->adj);
	}

	kind = CFITAB_RULE_CFA(rule);
	off = CFITAB_RULE_CFA_OFF(rule);
	aux = CFITAB_RULE_AUX(rule);
	switch (kind) {
	case CFITAB_CFA_STOP:
		w->end = STACKD_CNT_WALK_COMPLETE;
		return 1;
	case CFITAB_CFA_UNSUP:
		w->end = STACKD_CNT_WALK_UNSUP;
		return 1;
	case CFITAB_CFA_SIGNAL:
		/* rsp points at the kernel's struct ucontext: the interrupted frame is in it. */
		if (!read_user_u64(sp + 168, &w->pc) || !read_user_u64(sp + 160, &w->sp) ||
		    !read_user_u64(sp + 120, &w->bp)) {
			w->end = STACKD_CNT_WALK_READ_FAULT;
			return 1;
		}
		w->exact = 1;
		return 0;
	case CFITAB_CFA_RSP:
		cfa = sp + off;
		break;
	case CFITAB_CFA_RBP:
		cfa = bp + off;
		break;
	case CFITAB_CFA_PLT:
		cfa = sp + off + ((pc & 15) >= (__u64)aux ? 8 : 0);
		break;
	default:
		hs = c->hs ? hs_frame(c->hs, w, look, sp, w->exact, &cfa) : HS_NONE;
		if (hs == HS_FRAME || hs == HS_ENTRY) {
			w->fp_last = 0;
			if (!read_user_u64(cfa - 8, &ra) ||
			    (hs == HS_FRAME && !read_user_u64(cfa - 16, &w->bp))) {
				w->end = STACKD_CNT_WALK_READ_FAULT;
				return 1;
			}
			count(STACKD_CNT_HS_FRAMES);
			goto caller;
		}
		if (hs == HS_BAD) {
			count(STACKD_CNT_HS_NO_BLOB);
			w->end = STACKD_CNT_WALK_NO_TABLE;
			return 1;
		}
		if (hs == HS_FP && (bp < sp || bp - sp > HS_FRAMELESS_GAP)) {
			/*
			 * No rbp chain here: a stub that makes no frame (vtable and itable
			 * stubs, adapters) called from compiled code, whose rbp is a register.
			 */
			cfa = sp + 8;
			if (!read_user_u64(sp, &ra)) {
				w->end = STACKD_CNT_WALK_READ_FAULT;
				return 1;
			}
			w->fp_last = 0;
			count(STACKD_CNT_HS_FP_FRAMES);
			goto caller;
		}
		if (hs == HS_FP)
			count(STACKD_CNT_HS_FP_FRAMES);
		/* No table here: this frame's frame pointer, if it has one. */
		if (bp < sp || bp >= USER_END) {
			/*
			 * A frame-pointer chain ends with a zero rbp (Go's runtime, code
			 * built with frame pointers and no CFI): after a frame-pointer
			 * step, that is the outermost frame, not a missing table.
			 */
			if (!bp && w->fp_last)
				w->end = STACKD_CNT_WALK_COMPLETE;
			else
				w->end = m && (m->flags & STACKD_MAPF_NO_ROOM)
					     ? STACKD_CNT_WALK_TABLE_FULL
					     : STACKD_CNT_WALK_NO_TABLE;
			return 1;
		}
		if (!read_user_u64(bp + 8, &ra) || !read_user_u64(bp, &w->bp)) {
			w->end = STACKD_CNT_WALK_READ_FAULT;
			return 1;
		}
		w->fp_frames++;
		w->fp_last = 1;
		cfa = bp + 16;
		goto caller;
	}
	w->fp_last = 0;
	if (!read_user_u64(cfa - 8, &ra)) {
		w->end = STACKD_CNT_WALK_READ_FAULT;
		return 1;
	}
	switch (CFITAB_RULE_RBP(rule)) {
	case CFITAB_RBP_SAME:
		break;
	case CFITAB_RBP_CFA:
		if (!read_user_u64(cfa + (__s64)aux * 8, &w->bp)) {
			w->end = STACKD_CNT_WALK_READ_FAULT;
			return 1;
		}
		break;
	default:
		w->bp = 0; /* unknown: a caller without a table cannot be walked */
		break;
	}
caller:
	/* Every frame lies above the one it called: this bounds loops a stack could hold. */
	if (cfa <= sp || cfa >= USER_END) {
		w->end = STACKD_CNT_WALK_BAD;
		return 1;
	}
	/* The outermost frame of a frame-pointer chain has no return address. */
	if (ra < USER_MIN) {
		w->end = STACKD_CNT_WALK_COMPLETE;
		return 1;
	}
	w->sp = cfa;
	w->pc = ra;
	w->exact = 0;
	return 0;
}

/*
 * Walk the current task's user stack with its process's tables into @stacks.
 * Sets key->ustack_id (and ustack_hash); counts how the walk ended.
 */
/* Returns whether the walk met a pc outside every mapping of @proc. */
static __always_inline bool walk_user(struct stackd_unwind_proc *proc, void *stacks,
				      struct stackd_count_key *key, __u32 slot)
{
	struct walk_ctx c = {
	    .proc = proc, .start_boottime = key->start_boottime, .tgid = key->tgid};
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs;
	struct walk_state *w;
	__u64 now;

	w = bpf_map_lookup_elem(&walk_scratch, &slot);
	if (!w) {
		key->ustack_id = STACKD_STACK_NONE;
		return false;
	}
	c.w = w;
	/* The user registers: where the thread entered the kernel, or was interrupted. */
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	w->pc = BPF_CORE_READ(regs, ip);
	w->sp = BPF_CORE_READ(regs, sp);
	w->bp = BPF_CORE_READ(regs, bp);
	w->n = 0;
	w->end = 0;
	w->exact = 1;
	w->fp_frames = 0;
	w->fp_last = 0;
	w->stale = 0;
	w->py_mode = 0;
	w->py_after = 0;
	w->py_emitted = 0;
	w->py_frame = 0;
	if (java_enabled) {
		c.hs = bpf_map_lookup_elem(&hs_procs, &key->tgid);
		if (c.hs && c.hs->start_boottime != key->start_boottime)
			c.hs = NULL;
	}
	if (python_enabled) {
		c.py = bpf_map_lookup_elem(&py_procs, &key->tgid);
		if (c.py && c.py->start_boottime != key->start_boottime)
			c.py = NULL;
		if (c.py) {
			w->py_frame = py_current_frame(c.py, task, key->pid);
			count(w->py_frame ? STACKD_CNT_PY_WALKS : STACKD_CNT_PY_NO_TSTATE);
		}
	}
	if (w->sp < USER_MIN || w->sp >= USER_END) {
		w->end = STACKD_CNT_WALK_BAD;
		w->st.ips[0] = w->pc;
		w->n = 1;
	} else {
		bpf_loop(STACKD_MAX_STACK_DEPTH + 1, walk_step, &c, 0);
	}
	if (!w->end)
		w->end = STACKD_CNT_WALK_DEPTH;
	count(w->end);
	count_n(STACKD_CNT_WALK_FRAMES, w->n);
	if (w->fp_frames)
		count_n(STACKD_CNT_WALK_FP_FRAMES, w->fp_frames);

	if (w->stale) {
		now = bpf_ktime_get_ns();
		if (now - proc->stale_ns >= STACKD_STALE_INTERVAL_NS) {
			proc->stale_ns = now;
			count(STACKD_CNT_MAPS_STALE);
			notify(STACKD_EVENT_MAPS_STALE, key->tgid, key->start_boottime);
		}
	}

	if (!w->n) {
		key->ustack_id = STACKD_STACK_NONE;
		count(STACKD_CNT_USTACK_MISSING);
		return w->stale;
	}
	/* The ips after ours are zero but for what a deeper earlier walk left. */
	zero_ips(&w->st, w->n, w->prev_n);
	w->prev_n = w->n;
	key->ustack_id = store_stack(stacks, &w->st, w->n, &key->ustack_hash);
	if (key->ustack_id == -EEXIST)
		count(STACKD_CNT_USTACK_LOST);
	return w->stale;
}

/* The tables of the current process, or NULL while user space has not loaded them. */
static __always_inline struct stackd_unwind_proc *unwind_proc(__u32 tgid, __u64 start)
{
	struct stackd_unwind_proc *proc = bpf_map_lookup_elem(&unwind_procs, &tgid);

	return proc && proc->start_boottime == start ? proc : NULL;
}

/* One of @proc's stale walks may go to the bridge (see bridge_left). */
static __always_inline bool stale_bridge(struct stackd_unwind_proc *proc)
{
	if (proc->bridge_left <= 0)
		return false;
	return __sync_fetch_and_sub(&proc->bridge_left, 1) > 0;
}

/* A process's first sample (or off-CPU period) since exec: user space snapshots it now. */
static __always_inline void announce(__u32 tgid, __u64 start)
{
	__u64 *known = bpf_map_lookup_elem(&known_procs, &tgid);

	if (!known || *known != start) {
		bpf_map_update_elem(&known_procs, &tgid, &start, BPF_ANY);
		notify(STACKD_EVENT_NEW_PROCESS, tgid, start);
	}
}

SEC("perf_event")
int stackd_sample(struct bpf_perf_event_data *ctx)
{
	struct stackd_count_key key = {};
	struct task_struct *task;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 cpu = bpf_get_smp_processor_id();
	struct stackd_unwind_proc *proc;
	bool is_kthread, ustack_done = false, stale;
	__u32 set;

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
	if (key.tgid != 0 && !is_kthread)
		announce(key.tgid, key.start_boottime);

	if (cpu >= STACKD_MAX_CPUS)
		return 0;
	if (!is_kthread && key.tgid != 0 && unwind_mode == STACKD_UNWIND_DWARF &&
	    send_dwarf_sample(ctx, &key))
		return 0;

	__sync_fetch_and_add(&inflight[cpu].busy, 1);
	/* Read once: the walk's stack and the count must land in one set. */
	set = active_set;
	if (!is_kthread && key.tgid != 0 && unwind_mode == STACKD_UNWIND_KERNEL) {
		proc = unwind_proc(key.tgid, key.start_boottime);
		if (proc) {
			stale = walk_user(proc, set ? (void *)&overflow_1 : (void *)&overflow_0,
					  &key, SLOT_IRQOFF);
			ustack_done = true;
			/* Code the tables do not know yet: the bridge re-reads the maps. */
			if (stale && stale_bridge(proc) && send_dwarf_sample(ctx, &key)) {
				count(STACKD_CNT_WALK_STALE_BRIDGED);
				goto out;
			}
		} else {
			/* The bridge: tables not loaded yet, unwind a copy in user space. */
			count(STACKD_CNT_WALK_NO_PROC);
			if (send_dwarf_sample(ctx, &key))
				goto out;
		}
	}
	if (set)
		record(ctx, &counts_1, &stacks_1, &overflow_1, &key, is_kthread, ustack_done);
	else
		record(ctx, &counts_0, &stacks_0, &overflow_0, &key, is_kthread, ustack_done);
out:
	__sync_fetch_and_sub(&inflight[cpu].busy, 1);
	return 0;
}

/* ---- off-CPU time ------------------------------------------------------------------------ */

/* TASK_INTERRUPTIBLE and TASK_UNINTERRUPTIBLE (include/linux/sched.h). */
#define TASK_INTERRUPTIBLE_   0x1
#define TASK_UNINTERRUPTIBLE_ 0x2

/* Kernels before 5.14 name the field `state`. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return (__u32)BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline __u32 offcpu_reason(bool preempt, struct task_struct *prev)
{
	__u32 state = task_state(prev);

	if (preempt || !state)
		return STACKD_OFFCPU_PREEMPTED;
	if (state & TASK_UNINTERRUPTIBLE_)
		return STACKD_OFFCPU_DISK;
	if (state & TASK_INTERRUPTIBLE_)
		return STACKD_OFFCPU_SLEEP;
	return STACKD_OFFCPU_OTHER;
}

/* 0: leave this switch-out unwalked; else the weight of the walked one. */
static __always_inline __u64 offcpu_draw(void)
{
	__u32 zero = 0;
	struct offcpu_rate *r = bpf_map_lookup_elem(&offcpu_rate, &zero);
	__u64 sec = bpf_ktime_get_ns() >> 30;

	if (!r)
		return 1;
	if (r->second != sec) {
		/* A second with no switch before it starts unsampled. */
		r->k = r->second + 1 == sec && r->seen > offcpu_max_walks
			   ? (r->seen + offcpu_max_walks - 1) / offcpu_max_walks
			   : 1;
		r->second = sec;
		r->seen = 0;
	}
	r->seen++;
	if (r->k <= 1)
		return 1;
	return bpf_get_prandom_u32() % r->k == 0 ? r->k : 0;
}

/* Add one period of @key, standing for @w periods of @ns in all, to the active set. */
static __always_inline void offcpu_add(struct stackd_offcpu_key *key, __u64 w, __u64 ns)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct stackd_offcpu_val one, *val;
	void *offcpu;
	long err;

	if (cpu >= STACKD_MAX_CPUS)
		return;
	__sync_fetch_and_add(&inflight[cpu].busy, 1);
	offcpu = active_set ? (void *)&offcpu_1 : (void *)&offcpu_0;
	val = bpf_map_lookup_elem(offcpu, key);
	if (!val) {
		one.switches = w;
		one.ns = ns;
		err = bpf_map_update_elem(offcpu, key, &one, BPF_NOEXIST);
		if (!err)
			goto counted;
		val = bpf_map_lookup_elem(offcpu, key); /* another CPU inserted it */
		if (!val) {
			count(STACKD_CNT_OFFCPU_FULL);
			goto out;
		}
	}
	__sync_fetch_and_add(&val->switches, w);
	__sync_fetch_and_add(&val->ns, ns);
counted:
	count(STACKD_CNT_OFFCPU_RECORDED);
out:
	__sync_fetch_and_sub(&inflight[cpu].busy, 1);
}

/* The current thread's user stack into @k: with its tables, or by frame pointers. */
static __always_inline void offcpu_user_stack(void *ctx, struct stackd_count_key *k, __u32 slot)
{
	struct stackd_unwind_proc *proc =
	    unwind_mode == STACKD_UNWIND_KERNEL ? unwind_proc(k->tgid, k->start_boottime) : NULL;

	count(STACKD_CNT_OFFCPU_USER_WALKS);
	if (proc) {
		walk_user(proc, &offcpu_stacks, k, slot);
		return;
	}
	/* No tables (yet), or another mode: frame pointers. */
	k->ustack_id = overflow_stack(ctx, &offcpu_stacks, BPF_F_USER_STACK, &k->ustack_hash, slot);
	if (k->ustack_id == -EEXIST)
		count(STACKD_CNT_USTACK_LOST);
}

/*
 * A due period of the current thread, in its context: its user stack now,
 * when its user registers are still those it left with (the same system
 * call), else none (counted), and the period into the active set.
 */
static __always_inline void offcpu_flush(void *ctx, struct offcpu_start *st, __u32 slot)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	if (BPF_CORE_READ(regs, ip) == st->uip && BPF_CORE_READ(regs, sp) == st->usp) {
		offcpu_user_stack(ctx, &st->key.k, slot);
	} else {
		st->key.k.ustack_id = STACKD_STACK_NONE;
		count(STACKD_CNT_OFFCPU_MOVED);
	}
	count(STACKD_CNT_OFFCPU_DEFERRED);
	offcpu_add(&st->key, st->weight, st->ns);
}

/*
 * In a system call, by the registers the syscall entry saved: it stores the
 * number in orig_ax (an interrupt stores a negative vector) and the return
 * address and flags the SYSCALL instruction left in rcx and r11 also as ip
 * and flags. An exception's error code in orig_ax leaves the other two
 * unequal but by chance; a thread that fakes them misplaces only its own
 * user stack (offcpu_flush checks the registers again).
 */
static __always_inline bool in_syscall(struct pt_regs *regs)
{
	return (long)BPF_CORE_READ(regs, orig_ax) >= 0 &&
	       BPF_CORE_READ(regs, cx) == BPF_CORE_READ(regs, ip) &&
	       BPF_CORE_READ(regs, r11) == BPF_CORE_READ(regs, flags);
}

/*
 * The thread going off CPU (this runs in its context, before the switch):
 * when and why it left; its stacks now, unless it is in a system call (see
 * enum offcpu_state). Stacks are kept by hash in offcpu_stacks (they must
 * outlive a swap of the map sets, as the period may end after it).
 */
static __always_inline void offcpu_leave(void *ctx, bool preempt, struct task_struct *prev)
{
	struct offcpu_start st = {};
	struct offcpu_due *due;
	struct pt_regs *regs;
	__u32 tid = prev->pid, zero = 0;

	if (!tid || (prev->flags & PF_KTHREAD))
		return;
	/* Leaving again before its system call returned: its due period's stack is still here. */
	due = bpf_map_lookup_elem(&offcpu_due, &zero);
	if (due && due->tid == tid) {
		offcpu_flush(ctx, &due->st, SLOT_IRQOFF);
		due->tid = 0;
	}
	/* An exiting thread's last switch never returns: its entry would wait for a reused tid. */
	if (prev->flags & PF_EXITING)
		return;
	if (filter_enabled && !filter_keeps(prev->tgid))
		return;
	st.weight = offcpu_draw();
	if (!st.weight) {
		count(STACKD_CNT_OFFCPU_UNSAMPLED);
		return;
	}
	st.key.k.tgid = prev->tgid;
	st.key.k.pid = tid;
	st.key.k.start_boottime = BPF_CORE_READ(prev, group_leader, start_boottime);
	st.key.reason = offcpu_reason(preempt, prev);
	announce(st.key.k.tgid, st.key.k.start_boottime);

	/*
	 * The kernel stack now, in any case: a thread that is not running has it
	 * too (bpf_get_task_stack), but without its .sched.text frames
	 * (do_nanosleep, the mutex and rwsem slow paths, io_schedule), the ones
	 * that say what it waits for. Skip this program's frame and
	 * bpf_trace_run4's: the stack starts at __schedule.
	 */
	st.key.k.kstack_id =
	    overflow_stack(ctx, &offcpu_stacks, 2, &st.key.k.kstack_hash, SLOT_IRQOFF);
	if (st.key.k.kstack_id == -EEXIST)
		count(STACKD_CNT_KSTACK_LOST);
	regs = (struct pt_regs *)bpf_task_pt_regs(prev);
	if (st.key.reason != STACKD_OFFCPU_PREEMPTED && in_syscall(regs)) {
		st.state = OFFCPU_DEFERRED;
		st.uip = BPF_CORE_READ(regs, ip);
		st.usp = BPF_CORE_READ(regs, sp);
	} else {
		st.state = OFFCPU_WALKED;
		offcpu_user_stack(ctx, &st.key.k, SLOT_IRQOFF);
	}
	st.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&offcpu_starts, &tid, &st, BPF_ANY);
}

/*
 * The thread coming back on CPU (still in the previous thread's context):
 * a period of at least --offcpu.min-duration is added to its key, or, when
 * its user stack is still to be walked, waits for it in the CPU's due slot.
 */
static __always_inline void offcpu_return(struct task_struct *next)
{
	__u32 tid = next->pid, zero = 0;
	struct offcpu_start *st;
	struct offcpu_due *due;
	__u64 ns, w;

	st = bpf_map_lookup_elem(&offcpu_starts, &tid);
	if (!st)
		return;
	/* An entry of another thread that had this tid is never counted for this one. */
	if (st->key.k.tgid != (__u32)next->tgid ||
	    st->key.k.start_boottime != BPF_CORE_READ(next, group_leader, start_boottime)) {
		bpf_map_delete_elem(&offcpu_starts, &tid);
		return;
	}
	ns = bpf_ktime_get_ns() - st->ts;
	w = st->weight;
	if (ns < offcpu_min_ns) {
		count_n(STACKD_CNT_OFFCPU_SHORT, w);
		count_n(STACKD_CNT_OFFCPU_SHORT_NS, ns * w);
		bpf_map_delete_elem(&offcpu_starts, &tid);
		return;
	}
	if (st->state == OFFCPU_DEFERRED) {
		/* The slot is free: the thread that left this CPU just now gave up its own. */
		due = bpf_map_lookup_elem(&offcpu_due, &zero);
		if (due) {
			due->st = *st;
			due->st.ns = ns * w;
			due->tid = tid;
		}
		bpf_map_delete_elem(&offcpu_starts, &tid);
		return;
	}
	offcpu_add(&st->key, w, ns * w);
	bpf_map_delete_elem(&offcpu_starts, &tid);
}

/*
 * Off-CPU time, from tracepoints alone (no kprobe or fentry needed): a thread
 * is stamped as it leaves, its period counted as it returns. Loaded only with
 * --offcpu.enabled.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(stackd_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	/* prev first: its due period, if any, is flushed before next may take the slot. */
	offcpu_leave(ctx, preempt, prev);
	offcpu_return(next);
	return 0;
}

/*
 * A system call returns: if this CPU's due period is the current thread's,
 * this is its context and its user registers are those it blocked with:
 * walk its user stack. Every other system call costs one per-CPU lookup.
 * Loaded only with --offcpu.enabled.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(stackd_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct offcpu_due *due;
	__u32 zero = 0;

	due = bpf_map_lookup_elem(&offcpu_due, &zero);
	if (!due || due->tid != (__u32)id)
		return 0;
	if (due->st.key.k.tgid == (__u32)(id >> 32))
		offcpu_flush(ctx, &due->st, SLOT_SYSEXIT);
	due->tid = 0;
	return 0;
}

/* An exec replaces the address space: forget the process so its next sample re-notifies. */
/* BTF-typed raw tracepoints: they need no tracefs mount. */
/* Per CPU and second, the execs announced at once; beyond it, at their first sample. */
#define EXEC_NOTIFY_PER_SEC 256

struct exec_budget {
	__u64 second; /* bpf_ktime_get_ns() / 1e9 of the window */
	__u32 used;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_budget);
} exec_budget SEC(".maps");

static __always_inline bool exec_budget_take(void)
{
	__u32 zero = 0;
	struct exec_budget *b = bpf_map_lookup_elem(&exec_budget, &zero);
	__u64 sec = bpf_ktime_get_ns() / 1000000000ULL;

	if (!b)
		return false;
	if (b->second != sec) {
		b->second = sec;
		b->used = 0;
	}
	if (b->used >= EXEC_NOTIFY_PER_SEC)
		return false;
	b->used++;
	return true;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(stackd_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 start;

	/* The new image's tables are not the old one's: bridge until user space loads them. */
	bpf_map_delete_elem(&unwind_procs, &tgid);
	/*
	 * Announce the new image now rather than at its first sample: a process
	 * that lives 20 ms may be first sampled in its last milliseconds, too
	 * late for user space to read its maps. Its binary and ld.so are mapped
	 * already; the libraries ld.so maps next are found when a walk meets
	 * them (MAPS_STALE). Bounded per CPU and second, and only for processes
	 * the filter keeps: the rest are announced at their first sample.
	 */
	if ((filter_enabled && !filter_keeps(tgid)) || !exec_budget_take()) {
		bpf_map_delete_elem(&known_procs, &tgid);
		return 0;
	}
	start = BPF_CORE_READ(p, group_leader, start_boottime);
	bpf_map_update_elem(&known_procs, &tgid, &start, BPF_ANY);
	notify(STACKD_EVENT_NEW_PROCESS, tgid, start);
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
	bpf_map_delete_elem(&unwind_procs, &tgid);
	start = bpf_map_lookup_elem(&known_procs, &tgid);
	if (!start)
		return 0; /* never sampled: user space does not know it */
	notify(STACKD_EVENT_EXIT, tgid, *start);
	bpf_map_delete_elem(&known_procs, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
