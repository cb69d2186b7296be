/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ABI shared by the BPF program (stackd.bpf.c) and the agent.
 * Changing anything here changes both sides; keep it plain fixed-size C.
 */
#ifndef STACKD_BPF_ABI_H
#define STACKD_BPF_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* The kernel's limit (sysctl kernel.perf_event_max_stack defaults to 127). */
#define STACKD_MAX_STACK_DEPTH 127
/* Upper bound for per-CPU slots in .bss; more CPUs than this are refused. */
#define STACKD_MAX_CPUS 1024
#define STACKD_COMM_LEN 16

/*
 * A stack id below zero is not an id: it says why there is no stack.
 * STACKD_STACK_NONE: nothing to record (a kernel thread has no user stack;
 * a sample taken in user mode has no kernel stack). Otherwise -errno from
 * bpf_get_stackid(): -EEXIST is a stack-map collision (the stack is lost),
 * -EFAULT/-ENOMEM etc. mean the walk failed.
 */
#define STACKD_STACK_NONE (-1000)
/*
 * The stack collided in the stack-trace map and was stored instead in the
 * overflow hash map, keyed by its 64-bit hash (ustack_hash / kstack_hash).
 */
#define STACKD_STACK_OVERFLOW (-1001)

/* Value of the overflow maps and the per-CPU scratch: ips, zero-padded. */
struct stackd_stack {
	__u64 ips[STACKD_MAX_STACK_DEPTH];
};

/* A per-CPU in-flight marker in .bss, one cache line each (see stackd.bpf.c). */
struct inflight_slot {
	__u32 busy;
	__u32 pad[15];
};

/* One entry of the counts map: samples of one thread in one pair of stacks. */
struct stackd_count_key {
	__u64 start_boottime; /* thread group leader's start, ns since boot */
	__u32 tgid;
	__u32 pid;
	__s32 ustack_id;
	__s32 kstack_id;
	__u64 ustack_hash; /* only when ustack_id == STACKD_STACK_OVERFLOW */
	__u64 kstack_hash; /* only when kstack_id == STACKD_STACK_OVERFLOW */
};

/* Per-CPU counters (index of the `counters` per-CPU array). */
enum stackd_counter {
	STACKD_CNT_SAMPLES = 0, /* every invocation of the sampling program */
	STACKD_CNT_IDLE,	/* idle (pid 0) samples skipped (--profiling.include-idle off) */
	STACKD_CNT_RECORDED,	/* samples counted into a counts map */
	STACKD_CNT_COUNTS_FULL, /* dropped: the counts map had no room */
	STACKD_CNT_USTACK_COLLISION, /* user stack collided in the stack map (-EEXIST) */
	STACKD_CNT_KSTACK_COLLISION, /* kernel stack collided in the stack map */
	STACKD_CNT_USTACK_LOST,	     /* a collided user stack the overflow map could not take */
	STACKD_CNT_KSTACK_LOST,	     /* a collided kernel stack the overflow map could not take */
	STACKD_CNT_USTACK_MISSING,   /* user task, user stack unavailable (other errors) */
	STACKD_CNT_KSTACK_MISSING,   /* kernel-mode sample, kernel stack unavailable */
	STACKD_CNT_EVENTS_LOST,	     /* process notifications lost: ring buffer full */
	STACKD_CNT_DWARF_SAMPLES,    /* samples sent to user space for DWARF unwinding */
	STACKD_CNT_DWARF_RB_FULL, /* ...that found the ring buffer full (counted by FP instead) */
	STACKD_CNT_FILTERED, /* outside --profiling.pids/--profiling.cgroups: dropped unwalked */
	/* In-kernel unwinding (--unwind.mode=kernel): one per walk, by how it ended. */
	STACKD_CNT_WALK_COMPLETE,   /* reached an outermost frame (CFI: return address undefined) */
	STACKD_CNT_WALK_NO_TABLE,   /* a frame without a table whose frame pointer led nowhere */
	STACKD_CNT_WALK_TABLE_FULL, /* ...the same, where the table was not loaded (budget) */
	STACKD_CNT_WALK_READ_FAULT, /* bpf_probe_read_user failed (paged out, bad CFA) */
	STACKD_CNT_WALK_DEPTH,	    /* STACKD_MAX_STACK_DEPTH frames and still going */
	STACKD_CNT_WALK_UNSUP,	    /* CFI the table cannot express (CFITAB_CFA_UNSUP) */
	STACKD_CNT_WALK_BAD,	    /* a frame that does not move up the stack: a loop, bad regs */
	STACKD_CNT_WALK_FRAMES,	    /* frames walked, all walks */
	STACKD_CNT_WALK_FP_FRAMES,  /* ...of which by the frame-pointer fallback (no table) */
	STACKD_CNT_WALK_NO_PROC,    /* no tables for the process yet: sent to the bridge */
	STACKD_CNT_WALK_STALE_BRIDGED, /* walks that met an unknown pc, sent to the bridge */
	STACKD_CNT_MAPS_STALE, /* MAPS_STALE events sent (a pc outside every known mapping) */
	/* Off-CPU (--offcpu.enabled): one per period a thread spent off CPU. */
	STACKD_CNT_OFFCPU_RECORDED,  /* walked and counted into an offcpu map */
	STACKD_CNT_OFFCPU_SHORT,     /* shorter than --offcpu.min-duration: counted here only */
	STACKD_CNT_OFFCPU_SHORT_NS,  /* ...their nanoseconds */
	STACKD_CNT_OFFCPU_FULL,	     /* dropped: the offcpu map had no room */
	STACKD_CNT_OFFCPU_UNSAMPLED, /* switch-outs left unwalked by sampling (--offcpu.max-walks)
				      */
	STACKD_CNT_OFFCPU_DEFERRED,  /* recorded periods in a system call: walked on the way back */
	STACKD_CNT_OFFCPU_MOVED,     /* ...whose thread had left that call first: no user stack */
	STACKD_CNT_OFFCPU_USER_WALKS, /* user stacks taken for off-CPU periods (either way) */
	/* CPython (see STACKD_PY_*): in-kernel walks of CPython processes. */
	STACKD_CNT_PY_WALKS,	  /* walks of a thread with a Python thread state */
	STACKD_CNT_PY_NO_TSTATE,  /* ...of a CPython process's thread without one (or unread) */
	STACKD_CNT_PY_FRAMES,	  /* Python frames recorded */
	STACKD_CNT_PY_CODES_SENT, /* code object records sent to user space */
	STACKD_CNT_PY_CODES_LOST, /* ...that found the ring buffer full (sent again later) */
	STACKD_CNT_PY_CODES_BAD,  /* frames naming memory that is no code object (placeholder) */
	/* HotSpot (see struct stackd_hs_proc): frames of JIT code in a JVM's code heaps. */
	STACKD_CNT_HS_FRAMES,	 /* stepped by their CodeBlob's frame size */
	STACKD_CNT_HS_FP_FRAMES, /* ...by rbp: the interpreter, stubs that keep a frame pointer */
	STACKD_CNT_HS_NO_BLOB,	 /* a pc in a code heap with no code blob there: the walk ends */
	STACKD_CNT__MAX,
};

/* Why a thread left the CPU (its state at the switch), a label of off-CPU samples. */
enum stackd_offcpu_reason {
	STACKD_OFFCPU_PREEMPTED = 0, /* still runnable: preempted, or yielded */
	STACKD_OFFCPU_SLEEP = 1, /* TASK_INTERRUPTIBLE: sleeps, waits for I/O readiness, futexes */
	STACKD_OFFCPU_DISK = 2,	 /* TASK_UNINTERRUPTIBLE ("D"): block I/O, some locks, faults */
	STACKD_OFFCPU_OTHER = 3, /* stopped, traced, dead... */
	STACKD_OFFCPU__MAX,
};

/* Key of the offcpu maps: the thread's stacks as in a counts key, and the reason. */
struct stackd_offcpu_key {
	struct stackd_count_key k;
	__u32 reason;
	__u32 pad;
};

/* Value of the offcpu maps: periods off CPU with that key, and their nanoseconds. */
struct stackd_offcpu_val {
	__u64 switches;
	__u64 ns;
};

/*
 * Cgroup filter depth: a task matches --profiling.cgroups when its own cgroup
 * or its ancestor at one of the levels 0..STACKD_FILTER_CGROUP_LEVELS-1 (0 is
 * the root) is listed. A listed cgroup deeper than that matches only itself.
 */
#define STACKD_FILTER_CGROUP_LEVELS 16

/* --unwind.mode, as the BPF program sees it. */
enum stackd_unwind_mode {
	STACKD_UNWIND_FP = 0,	  /* frame pointers only (bpf_get_stackid) */
	STACKD_UNWIND_DWARF = 1,  /* copy stacks of every user process for DWARF unwinding */
	STACKD_UNWIND_KERNEL = 2, /* walk in the BPF program with unwind tables (the default);
				   * processes without tables yet are copied (the bridge) */
};

/*
 * In-kernel unwinding. User space compiles each object's CFI into rows
 * (symbolize/cfitab_abi.h) and writes them into one row pool (the
 * `unwind_rows` array, sized from --unwind.table-budget before load); each
 * process gets one `unwind_procs` entry: its executable mappings, sorted by
 * start, each naming its object's extent of rows. A row pool extent is
 * reused only after every process entry naming it was rewritten and no
 * program that could have read it is still running (loader_quiesce).
 */
#define STACKD_UNWIND_MAX_MAPPINGS 256 /* executable mappings of one process (power of 2) */

enum stackd_mapping_flags {
	STACKD_MAPF_NO_TABLE = 1 << 0, /* the object has no usable CFI: frame pointers */
	STACKD_MAPF_NO_ROOM = 1 << 1,  /* its table did not fit the budget: frame pointers */
	STACKD_MAPF_ANON = 1 << 2,     /* anonymous executable memory (JIT): frame pointers */
	STACKD_MAPF_EXACT = 1 << 3,    /* reserved */
};

struct stackd_unwind_mapping {
	__u64 start, end; /* [start, end): runtime addresses */
	__u64 adj;	  /* row pc = address - adj (load bias + the table's base) */
	__u32 first_row;  /* the object's rows: unwind_rows[first_row, first_row + nr_rows) */
	__u32 nr_rows;	  /* 0: no table (see flags) */
	__u32 flags;	  /* STACKD_MAPF_* */
	__u32 pad;
};

/* Value of unwind_procs (key: tgid). */
struct stackd_unwind_proc {
	__u64 start_boottime; /* the process it describes: a reused pid does not match */
	__u64 stale_ns;	      /* written by BPF: when it last sent MAPS_STALE (rate limit) */
	__u32 nr;	      /* mappings used, sorted by start, not overlapping */
	/*
	 * Walks that met a pc outside every mapping (a library mapped after
	 * the snapshot: ld.so maps libc after the exec that announced the
	 * process) this entry may still send to the bridge, whose user-space
	 * unwind re-reads the maps: set by user space at each write of the
	 * entry, counted down by BPF.
	 */
	__s32 bridge_left;
	struct stackd_unwind_mapping maps[STACKD_UNWIND_MAX_MAPPINGS];
};

/* bridge_left at each write of an entry (the loaded tables or new mappings). */
#define STACKD_STALE_BRIDGE 64

/* At most one MAPS_STALE event per process per this many ns. */
#define STACKD_STALE_INTERVAL_NS (200ULL * 1000 * 1000)

/* Largest user stack copy per sample (--unwind.stack-size). */
#define STACKD_MAX_STACK_COPY (32 * 1024)
/* Stack copies are read in chunks so a copy that runs off the stack keeps what it had. */
#define STACKD_STACK_CHUNK 1024

/* x86_64 user registers, DWARF order (see symbolize/unwinder.h). */
#define STACKD_NR_REGS 17

/*
 * Ring-buffer record of one sample that user space unwinds with DWARF CFI:
 * registers, the kernel stack, and the top of the user stack. The record is
 * reserved at sizeof(header) + the configured copy size.
 */
struct stackd_dwarf_sample {
	__u64 start_boottime;
	__u32 tgid;
	__u32 pid;
	__u32 kstack_len; /* bytes of kstack, 0 when the sample was in user mode */
	__u32 stack_len;  /* bytes of stack actually copied */
	__u64 regs[STACKD_NR_REGS];
	__u64 kstack[STACKD_MAX_STACK_DEPTH];
	__u8 stack[]; /* stack_len bytes from regs[7] (rsp) upward */
};

/*
 * CPython (issue 13). User space writes one py_procs entry per CPython process
 * (its runtime's addresses and its version's structure offsets); the walk then
 * records, in place of each native _PyEval_EvalFrameDefault frame, the Python
 * frames that call of it runs (the thread's current frame, then `previous`, up
 * to and including the frame marked is_entry). A Python frame in a stack is
 *   STACKD_PY_FRAME | lasti << STACKD_PY_LASTI_SHIFT | code object address
 * (lasti: the instruction being executed, in code units; STACKD_PY_LASTI_NONE
 * when unknown or too big). The first time a walk meets a code object of a
 * process (or the object at that address changed), it sends the object's
 * names and line table (struct stackd_py_code) on the events ring.
 */
#define STACKD_PY_FRAME		(1ULL << 63)
#define STACKD_PY_LASTI_SHIFT	48
#define STACKD_PY_LASTI_NONE	0x7fffULL
#define STACKD_PY_CODE_MASK	((1ULL << 48) - 1)
#define STACKD_PY_MAX_THREADS	1024 /* thread states searched for the current thread */
#define STACKD_PY_NAME_MAX	128  /* bytes of a name's code points sent (power of 2) */
#define STACKD_PY_FILE_MAX	256  /* ...of a file name's */
#define STACKD_PY_LINETABLE_MAX 2048 /* ...of co_linetable (lines past it are unknown) */

enum stackd_py_off {
	STACKD_PY_RUNTIME_INTERP_HEAD = 0,
	STACKD_PY_INTERP_THREADS_HEAD,
	STACKD_PY_TSTATE_NEXT,
	STACKD_PY_TSTATE_NATIVE_TID,
	STACKD_PY_TSTATE_CFRAME,
	STACKD_PY_CFRAME_CURRENT_FRAME,
	STACKD_PY_FRAME_CODE,
	STACKD_PY_FRAME_PREVIOUS,
	STACKD_PY_FRAME_PREV_INSTR,
	STACKD_PY_FRAME_IS_ENTRY,
	STACKD_PY_FRAME_OWNER,
	STACKD_PY_CODE_FILENAME,
	STACKD_PY_CODE_QUALNAME,
	STACKD_PY_CODE_LINETABLE,
	STACKD_PY_CODE_FIRSTLINENO,
	STACKD_PY_CODE_FIRSTTRACEABLE,
	STACKD_PY_CODE_CODE,
	STACKD_PY_BYTES_SIZE,
	STACKD_PY_BYTES_DATA,
	STACKD_PY_STR_LENGTH,
	STACKD_PY_STR_STATE,
	STACKD_PY_STR_ASCII_DATA,
	STACKD_PY_STR_COMPACT_DATA,
	STACKD_PY_OFF__MAX,
};

/* Value of py_procs (key: tgid). */
struct stackd_py_proc {
	__u64 start_boottime;	/* the process it describes: a reused pid does not match */
	__u64 runtime;		/* &_PyRuntime */
	__u64 eval_lo, eval_hi; /* _PyEval_EvalFrameDefault, [lo, hi) */
	__u64 code_type, str_type, bytes_type; /* &PyCode_Type, &PyUnicode_Type, &PyBytes_Type */
	__u16 off[24];			       /* enum stackd_py_off */
	/*
	 * Where the walk reads a frame's fields (code, previous, prev_instr,
	 * is_entry, owner) with one read of frame_len (<= STACKD_PY_WIN) bytes,
	 * and a code object's (qualname, firsttraceable): the smallest of those
	 * offsets, and up to the end of the last field.
	 */
	__u16 frame_win;
	__u16 code_win;
	__u8 frame_len;
	__u8 code_len;
	__u8 owned_by_generator; /* _PyInterpreterFrame.owner of a generator's frame */
	__u8 pad[1];
};

#define STACKD_PY_WIN 64

/*
 * HotSpot JVMs (--java.enabled, kernel mode): value of `hs_procs` (key:
 * tgid), written by user space from the JVM's own description of its
 * structures (symbolize/hotspot.h). A pc in one of the code heaps is stepped
 * by the CodeBlob that holds it, found through the heap's segment map:
 * CFA = rsp + frame size once the frame is complete (return address at
 * CFA - 8, the caller's rbp at CFA - 16), rsp + 8 before; a blob with no
 * frame size (the interpreter, stubs) keeps an rbp chain.
 */
#define STACKD_HS_MAX_HEAPS 4
#define STACKD_HS_WIN	    64 /* bytes of a CodeBlob read at once */
#define STACKD_HS_MAX_HOPS  64 /* segment-map steps back to a block's start */

struct stackd_hs_heap {
	__u64 low, high; /* reserved memory, [low, high) */
	__u64 segmap;	 /* byte of segment i at segmap + i */
};

struct stackd_hs_proc {
	__u64 start_boottime; /* the process it describes: a reused pid does not match */
	struct stackd_hs_heap heaps[STACKD_HS_MAX_HEAPS];
	__u32 nr_heaps;
	/* A CodeBlob's fields, read as one window of STACKD_HS_WIN bytes at blob + blob_win. */
	__u16 blob_win;
	__u16 code_begin, code_end, frame_size, frame_complete; /* offsets in the window */
	__u16 heapblock_size; /* the blob starts this far into its block */
	__u8 log2_segment;
	__u8 pad[5];
};

/* A code object's names and lines, as the walk read them (STACKD_EVENT_PY_CODE). */
struct stackd_py_code {
	__u32 type; /* STACKD_EVENT_PY_CODE */
	__u32 tgid;
	__u64 start_boottime;
	__u64 code;
	__s32 firstlineno;
	__u32 linetable_len;  /* bytes in linetable */
	__u32 linetable_size; /* co_linetable's own size (more than linetable_len: cut) */
	__u8 qualname_kind;   /* bytes per code point (1, 2, 4); 0: unreadable */
	__u8 filename_kind;
	__u16 qualname_len; /* bytes in qualname */
	__u16 filename_len;
	__u16 pad;
	__u8 qualname[STACKD_PY_NAME_MAX];
	__u8 filename[STACKD_PY_FILE_MAX];
	__u8 linetable[STACKD_PY_LINETABLE_MAX];
};

enum stackd_event_type {
	STACKD_EVENT_NEW_PROCESS = 1, /* first sample of a (tgid, start) since exec */
	STACKD_EVENT_EXIT = 2,	      /* a sampled process's leader exited */
	STACKD_EVENT_MAPS_STALE = 3,  /* a walk met a pc outside the process's unwind mappings
				       * (dlopen, a new JIT region): read its maps again */
	STACKD_EVENT_PY_CODE = 4,     /* struct stackd_py_code, not struct stackd_event */
};

/* Ring-buffer record: at most one per process lifetime and exec, not per sample. */
struct stackd_event {
	__u32 type;
	__u32 tgid;
	__u64 start_boottime;
	char comm[STACKD_COMM_LEN];
	/*
	 * NEW_PROCESS: the executable as the kernel knows it (0 when unknown), so a
	 * process that exits before user space reads its maps can still be
	 * symbolized from another process of the same binary: its inode and
	 * device (the kernel's dev_t: major << 20 | minor), and where its text
	 * starts (mm->start_code, the load address of its first PF_X segment),
	 * and where its ELF interpreter (ld.so) was loaded (auxv AT_BASE).
	 */
	__u64 exe_ino;
	__u64 exe_dev;
	__u64 start_code;
	__u64 interp_base;
};

#endif
