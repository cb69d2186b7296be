// SPDX-License-Identifier: Apache-2.0
/*
 * How long /debug/pprof/history takes to answer for 15 minutes of a busy node.
 *
 * Synthesises the history the agent would hold: --history.window (10 s) windows built with
 * the real pprof builder the way sample.c's sample_add_to_profile() builds them (kernel frames in
 * one [kernel.kallsyms] mapping with names only; user frames in per-process file mappings with
 * build ids, functions, file:line and inline chains; the full label set of each process made
 * by label_set_build()), frozen with pprof_freeze() and pushed into a struct history with the
 * default budget (or --max-bytes). Then times the query exactly as serve_history() in
 * exporter/src/pages.c runs it: history_acquire() of the range, profile_merge() of every window
 * with the default --profiling.labels, release, pprof_encode() with gzip.
 *
 * The node model (deterministic, seed --seed): NR_PROCS processes on --cpus CPUs that are
 * always busy, sampled at --hz, so a window holds hz * cpus * window samples. Processes are
 * ranked by CPU share (weight 1 / rank^0.9); short-lived ones get a new pid every window.
 * Each process has a fixed population of call stacks (--stacks over the whole node, split
 * by the square root of the process's share): 10-30 user frames down the call graph of its
 * code (a small hot set of functions per depth, then maybe a library's hottest functions),
 * plus, for 30% of stacks, 4-12 kernel frames; a sample picks its process by share, then its
 * stack by a Zipf law of exponent --skew. bench/README.md states the model in full.
 *
 * --out DIR also writes each window as DIR/wNNN.pb.gz: the window as the agent serves it on
 * its own (merged through the same label selection, gzip pprof), the input of the go tool
 * pprof side of bench/history_query.sh; and the 15-minute answer as DIR/query.pb.gz.
 *
 * --serve ADDR then serves the history as the agent's pages do (exporter/pages.c behind the
 * exporter's HTTP server: /, /flamegraph with its timeline, range selection and base=,
 * /debug/pprof/history, folded) on ADDR until SIGINT or SIGTERM, its windows ending now: the
 * input of bench/history_pages.sh, which times the pages in headless Chromium.
 *
 * Figures are printed, never asserted. Usage: history_query --help
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "exporter/history.h"
#include "exporter/http.h"
#include "exporter/labels.h"
#include "exporter/pages.h"
#include "exporter/pprof.h"
#include "exporter/profile.h"
#include "exporter/query.h"
#include "labelset.h"
#include "procmeta.h"

#define NS 1000000000LL
/* What stackd's config.c sets by default. */
#define DEFAULT_LABELS	  "pid,comm,exe,container_id,pod_uid,container,unit"
#define DEFAULT_BUDGET	  (32ull << 20)
#define DEFAULT_RETENTION (15 * 60 * NS)
/* 2026-11-22T00:00:00Z: a fixed clock keeps every run identical. */
#define BASE_UNIX_S 1795305600LL
#define MAX_FRAMES  48
#define MAX_SLOTS   8 /* kernel, executable, up to 6 libraries */
#define MAX_SITES   8 /* call sites (return addresses) per function */
#define MAX_PROCS   64

/* ---- deterministic randomness ---------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c)
{
	return mix64(a * 0x9e3779b97f4a7c15ULL ^ mix64(b + 0x632be59bd9b4e019ULL) ^ mix64(~c));
}

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mix64(r->s);
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1p-53;
}

/* ---- objects: the kernel, executables and libraries with their functions --------------------- */

enum obj_id {
	O_KERNEL,
	O_LD,
	O_LIBC,
	O_LIBM,
	O_LIBZ,
	O_LIBSSL,
	O_LIBCRYPTO,
	O_LIBSTDCXX,
	O_LIBPYTHON,
	O_LIBJVM,
	O_LIBSYSTEMD,
	O_LIBPCRE,
	O_NGINX,
	O_ENVOY,
	O_JAVA,
	O_PYTHON,
	O_NODE,
	O_POSTGRES,
	O_REDIS,
	O_MYSQLD,
	O_MEMCACHED,
	O_BEAM,
	O_FLUENTBIT,
	O_ETCD,
	O_APISERVER,
	O_COREDNS,
	O_KUBE_PROXY,
	O_KUBELET,
	O_CONTAINERD,
	O_SHIM,
	O_PROMETHEUS,
	O_NODE_EXPORTER,
	O_SYSTEMD,
	O_JOURNALD,
	O_SSHD,
	O_STACKD,
	O_DASH,
	O_CURL,
	O_GIT,
	O_RUNC,
	O__MAX,
};

enum flavour { FL_KERNEL, FL_C, FL_CXX, FL_GO };

struct obj_spec {
	const char *path;
	const char *prefix; /* of generated names: C prefix, C++ namespace, Go package path */
	enum flavour fl;
	uint32_t nr_funcs;
	const char *const *fixed; /* names of the first functions, NULL-terminated */
};

/* clang-format off */
static const char *const kernel_funcs[] = {
	/* entry chains first: syscall, timer interrupt, page fault (see gen_kernel) */
	"entry_SYSCALL_64_after_hwframe", "do_syscall_64", "asm_sysvec_apic_timer_interrupt",
	"sysvec_apic_timer_interrupt", "asm_exc_page_fault", "exc_page_fault",
	"__x64_sys_read", "__x64_sys_write", "__x64_sys_epoll_wait", "__x64_sys_futex",
	"__x64_sys_sendmsg", "__x64_sys_recvfrom", "__x64_sys_openat", "__x64_sys_mmap",
	"__x64_sys_clock_nanosleep", "__x64_sys_newfstatat", "__x64_sys_writev", "__x64_sys_close",
	"ksys_read", "vfs_read", "new_sync_read", "sock_read_iter", "sock_recvmsg", "tcp_recvmsg",
	"tcp_recvmsg_locked", "skb_copy_datagram_iter", "__skb_datagram_iter",
	"simple_copy_to_iter", "_copy_to_iter", "copy_user_enhanced_fast_string", "ksys_write",
	"vfs_write", "new_sync_write", "sock_write_iter", "sock_sendmsg", "tcp_sendmsg",
	"tcp_sendmsg_locked", "tcp_push", "__tcp_push_pending_frames", "tcp_write_xmit",
	"__tcp_transmit_skb", "ip_queue_xmit", "__ip_queue_xmit", "ip_finish_output2",
	"__dev_queue_xmit", "dev_hard_start_xmit", "start_xmit", "do_epoll_wait", "ep_poll",
	"schedule_hrtimeout_range_clock", "schedule", "__schedule", "finish_task_switch.isra.0",
	"do_futex", "futex_wait", "futex_wait_queue", "futex_wake", "do_sys_openat2",
	"do_filp_open", "path_openat", "link_path_walk.part.0", "walk_component", "lookup_fast",
	"__d_lookup_rcu", "vfs_fstatat", "vfs_statx", "filename_lookup", "path_lookupat",
	"do_mmap", "mmap_region", "vma_merge", "do_nanosleep", "hrtimer_nanosleep",
	"__sysvec_apic_timer_interrupt", "hrtimer_interrupt", "__hrtimer_run_queues",
	"tick_sched_timer", "tick_sched_handle", "update_process_times", "scheduler_tick",
	"task_tick_fair", "update_curr", "irq_exit_rcu", "__irq_exit_rcu", "__do_softirq",
	"net_rx_action", "__napi_poll", "virtnet_poll", "napi_gro_receive",
	"netif_receive_skb_list_internal", "__netif_receive_skb_list_core", "ip_list_rcv",
	"ip_sublist_rcv", "ip_local_deliver_finish", "ip_protocol_deliver_rcu", "tcp_v4_rcv",
	"tcp_v4_do_rcv", "tcp_rcv_established", "tcp_data_queue", "sock_def_readable",
	"__wake_up_common_lock", "try_to_wake_up", "rcu_core", "rcu_do_batch",
	"do_user_addr_fault", "handle_mm_fault", "__handle_mm_fault", "do_anonymous_page",
	"__alloc_pages", "get_page_from_freelist", "clear_page_erms", "do_fault",
	"filemap_map_pages", "next_uptodate_page", "do_wp_page", "wp_page_copy", "copy_page",
	"__kmalloc", "kmem_cache_alloc", "kmem_cache_free", "kfree", "__slab_free",
	"memcg_slab_post_alloc_hook", "__check_object_size", "_raw_spin_lock",
	"_raw_spin_lock_irqsave", "_raw_spin_unlock_irqrestore",
	"native_queued_spin_lock_slowpath", "mutex_lock", "mutex_unlock", "__fget_light", "fput",
	"security_file_permission", "apparmor_file_permission", "rw_verify_area", "fsnotify",
	"__fsnotify_parent", "syscall_exit_to_user_mode", "exit_to_user_mode_prepare",
	"syscall_enter_from_user_mode", "native_write_msr", "native_read_msr",
	"__perf_event_task_sched_in", "perf_event_task_tick", "ktime_get", "read_tsc",
	"ext4_file_read_iter", "generic_file_read_iter", "filemap_read", "filemap_get_pages",
	"copy_page_to_iter", "ext4_file_write_iter", "ext4_buffered_write_iter",
	"generic_perform_write", "ext4_da_write_begin", "pagecache_get_page",
	"__filemap_get_folio", "folio_mark_accessed", "mark_page_accessed", "release_pages",
	"unmap_page_range", "zap_pte_range", "tlb_finish_mmu", "flush_tlb_mm_range",
	"native_flush_tlb_one_user", "pick_next_task_fair", "newidle_balance", "load_balance",
	"update_load_avg", "enqueue_task_fair", "dequeue_task_fair", "psi_task_change",
	"cgroup_rstat_updated", "__cgroup_account_cputime", "cpuacct_charge",
	"__mod_memcg_lruvec_state", "__count_memcg_events", "tcp_ack", "tcp_clean_rtx_queue",
	"__kfree_skb", "skb_release_data", "consume_skb", "__alloc_skb", "kmalloc_reserve",
	"__kmalloc_node_track_caller", "sk_stream_alloc_skb", "tcp_rate_skb_delivered",
	"nf_hook_slow", "nf_conntrack_in", "ipt_do_table", "nf_nat_inet_fn", "iptable_nat_do_chain",
	"xfrm_lookup_with_ifid", "ip_route_output_key_hash_rcu", "fib_table_lookup", NULL,
};

static const char *const libc_fixed[] = {
	"__libc_start_call_main", "__memmove_avx_unaligned_erms", "__memset_avx2_unaligned_erms",
	"malloc", "_int_malloc", "free", "_int_free", "__GI___libc_read", "__GI___libc_write",
	"epoll_wait", "__futex_abstimed_wait_common", "___pthread_mutex_lock", "__strlen_avx2",
	"__memcmp_avx2_movbe", "__GI___clock_gettime", "__GI___poll", "__libc_sendmsg",
	"__libc_recvfrom", "__strchr_avx2", "__GI___sched_yield", NULL,
};

static const char *const exe_c_fixed[] = { "_start", "main", NULL };
static const char *const exe_go_fixed[] = { "runtime.goexit", "main.main", NULL };

#define LIBDIR "/usr/lib/x86_64-linux-gnu/"
static const struct obj_spec obj_specs[O__MAX] = {
	[O_KERNEL] = { "[kernel.kallsyms]", "", FL_KERNEL, 0, kernel_funcs },
	[O_LD] = { LIBDIR "ld-linux-x86-64.so.2", "_dl", FL_C, 120, NULL },
	[O_LIBC] = { LIBDIR "libc.so.6", "__libc", FL_C, 1400, libc_fixed },
	[O_LIBM] = { LIBDIR "libm.so.6", "__ieee754", FL_C, 300, NULL },
	[O_LIBZ] = { LIBDIR "libz.so.1.2.13", "zlib", FL_C, 120, NULL },
	[O_LIBSSL] = { LIBDIR "libssl.so.3", "ssl3", FL_C, 700, NULL },
	[O_LIBCRYPTO] = { LIBDIR "libcrypto.so.3", "EVP", FL_C, 2500, NULL },
	[O_LIBSTDCXX] = { LIBDIR "libstdc++.so.6.0.30", "std", FL_CXX, 1500, NULL },
	[O_LIBPYTHON] = { LIBDIR "libpython3.11.so.1.0", "_PyEval", FL_C, 3000, NULL },
	[O_LIBJVM] = { "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so", "hotspot",
		       FL_CXX, 4000, NULL },
	[O_LIBSYSTEMD] = { "/usr/lib/systemd/libsystemd-shared-252.so", "sd", FL_C, 1200, NULL },
	[O_LIBPCRE] = { LIBDIR "libpcre2-8.so.0.11.2", "pcre2", FL_C, 200, NULL },
	[O_NGINX] = { "/usr/sbin/nginx", "ngx_http", FL_C, 1200, exe_c_fixed },
	[O_ENVOY] = { "/usr/local/bin/envoy", "Envoy", FL_CXX, 6000, exe_c_fixed },
	[O_JAVA] = { "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "JLI", FL_C, 80, exe_c_fixed },
	[O_PYTHON] = { "/usr/bin/python3.11", "_Py", FL_C, 2500, exe_c_fixed },
	[O_NODE] = { "/usr/local/bin/node", "v8", FL_CXX, 5000, exe_c_fixed },
	[O_POSTGRES] = { "/usr/lib/postgresql/15/bin/postgres", "Exec", FL_C, 3000,
			 exe_c_fixed },
	[O_REDIS] = { "/usr/bin/redis-server", "redis", FL_C, 1200, exe_c_fixed },
	[O_MYSQLD] = { "/usr/sbin/mysqld", "innodb", FL_CXX, 5000, exe_c_fixed },
	[O_MEMCACHED] = { "/usr/bin/memcached", "mc", FL_C, 300, exe_c_fixed },
	[O_BEAM] = { "/usr/lib/erlang/erts-13.1.5/bin/beam.smp", "erts", FL_C, 2500,
		     exe_c_fixed },
	[O_FLUENTBIT] = { "/fluent-bit/bin/fluent-bit", "flb", FL_C, 1500, exe_c_fixed },
	[O_ETCD] = { "/usr/local/bin/etcd", "go.etcd.io/etcd/server/v3", FL_GO, 3000,
		     exe_go_fixed },
	[O_APISERVER] = { "/usr/local/bin/kube-apiserver", "k8s.io/apiserver/pkg", FL_GO, 6000,
			  exe_go_fixed },
	[O_COREDNS] = { "/coredns", "github.com/coredns/coredns/plugin", FL_GO, 2000,
			exe_go_fixed },
	[O_KUBE_PROXY] = { "/usr/local/bin/kube-proxy", "k8s.io/kubernetes/pkg/proxy", FL_GO,
			   2500, exe_go_fixed },
	[O_KUBELET] = { "/usr/bin/kubelet", "k8s.io/kubernetes/pkg/kubelet", FL_GO, 5000,
			exe_go_fixed },
	[O_CONTAINERD] = { "/usr/bin/containerd", "github.com/containerd/containerd", FL_GO, 3000,
			   exe_go_fixed },
	[O_SHIM] = { "/usr/bin/containerd-shim-runc-v2", "github.com/containerd/containerd/runtime",
		     FL_GO, 800, exe_go_fixed },
	[O_PROMETHEUS] = { "/bin/prometheus", "github.com/prometheus/prometheus/tsdb", FL_GO, 4000,
			   exe_go_fixed },
	[O_NODE_EXPORTER] = { "/usr/bin/prometheus-node-exporter",
			      "github.com/prometheus/node_exporter/collector", FL_GO, 1200,
			      exe_go_fixed },
	[O_SYSTEMD] = { "/usr/lib/systemd/systemd", "manager", FL_C, 600, exe_c_fixed },
	[O_JOURNALD] = { "/usr/lib/systemd/systemd-journald", "journal", FL_C, 400, exe_c_fixed },
	[O_SSHD] = { "/usr/sbin/sshd", "ssh", FL_C, 500, exe_c_fixed },
	[O_STACKD] = { "/usr/bin/stackd", "stackd", FL_C, 900, exe_c_fixed },
	[O_DASH] = { "/usr/bin/dash", "sh", FL_C, 250, exe_c_fixed },
	[O_CURL] = { "/usr/bin/curl", "Curl", FL_C, 400, exe_c_fixed },
	[O_GIT] = { "/usr/bin/git", "git", FL_C, 1500, exe_c_fixed },
	[O_RUNC] = { "/usr/sbin/runc", "github.com/opencontainers/runc/libcontainer", FL_GO, 1500,
		     exe_go_fixed },
};

static const char *const words[] = {
	"read", "write", "request", "header", "body", "buffer", "parse", "handle", "event", "loop",
	"timer", "conn", "stream", "frame", "queue", "flush", "alloc", "pool", "hash", "table",
	"index", "scan", "tuple", "page", "cache", "lookup", "insert", "update", "delete", "commit",
	"log", "sync", "lock", "wait", "signal", "worker", "task", "process", "filter", "route",
	"cluster", "upstream", "encode", "decode", "compress", "chunk", "send", "recv", "socket",
	"accept", "close", "open", "file", "path", "json", "proto", "message", "field", "value",
	"string", "array", "map", "iter", "node", "tree", "range", "key", "store", "watch", "lease",
	"state", "config", "metric", "sample", "series", "label", "query", "plan", "exec", "merge",
};
/* clang-format on */
#define NR_WORDS (sizeof(words) / sizeof(words[0]))

static const char *const cxx_params[][2] = {
    {"", "v"},
    {"int", "i"},
    {"std::string const&", "RKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE"},
    {"Buffer::Instance&, bool", "RN6Buffer8InstanceEb"},
    {"absl::string_view", "N4absl11string_viewE"},
    {"unsigned long", "m"},
};

struct func {
	char *name;
	char *system_name; /* NULL: the same as name */
	char *file;	   /* NULL for the kernel */
	int64_t start_line;
	uint64_t off, size; /* in the object's text */
	uint8_t nr_sites;
};

struct obj {
	const struct obj_spec *spec;
	char build_id[41];
	struct func *funcs;
	uint32_t nr_funcs;
	uint64_t text_size;
};

static void cap_first(char *s)
{
	if (*s >= 'a' && *s <= 'z')
		*s = (char)(*s - 'a' + 'A');
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fprintf(stderr, "history_query: out of memory\n");
		exit(1);
	}
	return d;
}

/* A plausible name, system name and source file for function @i of @o. */
static void name_func(const struct obj *o, uint32_t i, struct rng *r, struct func *fn)
{
	const struct obj_spec *s = o->spec;
	const char *w1 = words[rng_below(r, NR_WORDS)], *w2 = words[rng_below(r, NR_WORDS)];
	const char *w3 = words[rng_below(r, NR_WORDS)], *w4 = words[rng_below(r, NR_WORDS)];
	char name[256], sys[512], file[256], cls[64], meth[64];
	size_t fixed = 0;

	while (s->fixed && s->fixed[fixed])
		fixed++;
	switch (s->fl) {
	case FL_KERNEL:
		snprintf(name, sizeof(name), "%s", s->fixed[i]);
		break;
	case FL_C:
		if (i < fixed)
			snprintf(name, sizeof(name), "%s", s->fixed[i]);
		else
			snprintf(name, sizeof(name), "%s_%s_%s%s", s->prefix, w1, w2,
				 i % 7 == 0 ? "_internal" : "");
		snprintf(file, sizeof(file), "src/%s/%s_%s.c", w3, s->prefix, w3);
		break;
	case FL_CXX: {
		unsigned p = rng_below(r, sizeof(cxx_params) / sizeof(cxx_params[0]));

		snprintf(cls, sizeof(cls), "%s%sImpl", w1, w2);
		cap_first(cls);
		cap_first(cls + strlen(w1));
		snprintf(meth, sizeof(meth), "%s%s", w3, w4);
		cap_first(meth + strlen(w3));
		if (i < fixed) {
			snprintf(name, sizeof(name), "%s", s->fixed[i]);
			sys[0] = '\0';
		} else {
			snprintf(name, sizeof(name), "%s::%s::%s(%s)", s->prefix, cls, meth,
				 cxx_params[p][0]);
			snprintf(sys, sizeof(sys), "_ZN%zu%s%zu%s%zu%sE%s", strlen(s->prefix),
				 s->prefix, strlen(cls), cls, strlen(meth), meth, cxx_params[p][1]);
		}
		snprintf(file, sizeof(file), "source/common/%s/%s_impl.cc", w1, w2);
		if (sys[0])
			fn->system_name = xstrdup(sys);
		break;
	}
	case FL_GO:
		if (i < fixed)
			snprintf(name, sizeof(name), "%s", s->fixed[i]);
		else if (i % 3)
			snprintf(name, sizeof(name), "%s/%s.(*%s%s).%s", s->prefix, w1, w2, w3, w4);
		else
			snprintf(name, sizeof(name), "%s/%s.%s%s", s->prefix, w1, w2, w3);
		if (i < fixed && i == 0)
			snprintf(file, sizeof(file), "/usr/local/go/src/runtime/asm_amd64.s");
		else
			snprintf(file, sizeof(file), "%s/%s/%s.go", s->prefix, w1, w2);
		break;
	}
	fn->name = xstrdup(name);
	fn->file = s->fl == FL_KERNEL ? NULL : xstrdup(file);
}

static void obj_init(struct obj *o, enum obj_id id)
{
	struct rng r = {.s = hash3(0x6f626a, id, 0)};
	uint64_t off = 0x1000;

	o->spec = &obj_specs[id];
	o->nr_funcs = o->spec->nr_funcs;
	if (o->spec->fl == FL_KERNEL) {
		o->nr_funcs = 0;
		while (kernel_funcs[o->nr_funcs])
			o->nr_funcs++;
	} else {
		snprintf(o->build_id, sizeof(o->build_id), "%016llx%016llx%08x",
			 (unsigned long long)rng_next(&r), (unsigned long long)rng_next(&r),
			 (unsigned)rng_next(&r));
	}
	o->funcs = calloc(o->nr_funcs, sizeof(*o->funcs));
	if (!o->funcs) {
		fprintf(stderr, "history_query: out of memory\n");
		exit(1);
	}
	for (uint32_t i = 0; i < o->nr_funcs; i++) {
		struct func *fn = &o->funcs[i];

		name_func(o, i, &r, fn);
		fn->start_line = 20 + rng_below(&r, 3000);
		fn->size = 64 + 16 * rng_below(&r, 120);
		fn->off = off;
		fn->nr_sites = (uint8_t)(1 + rng_below(&r, MAX_SITES));
		off += fn->size;
	}
	o->text_size = (off + 0xfff) & ~0xfffULL;
}

static void obj_release(struct obj *o)
{
	for (uint32_t i = 0; i < o->nr_funcs; i++) {
		free(o->funcs[i].name);
		free(o->funcs[i].system_name);
		free(o->funcs[i].file);
	}
	free(o->funcs);
}

/* ---- processes ------------------------------------------------------------------------------- */

struct proc_spec {
	const char *comm;
	enum obj_id exe;
	enum obj_id code;    /* where its hot code is: the executable, or a library (libjvm) */
	enum obj_id libs[6]; /* O_KERNEL (0) ends the list */
	const char *unit;    /* a host service: its systemd unit; NULL for a pod's container */
	const char *pod, *ns, *container;
	unsigned copies; /* processes of this spec (workers) */
	bool churns;	 /* short-lived: a new pid every window */
	const char *cmdline;
};

#define LIBS_SSL O_LD, O_LIBC, O_LIBSSL, O_LIBCRYPTO, O_LIBZ
/* Busiest first (the weight follows the rank). */
/* clang-format off */
static const struct proc_spec proc_specs[] = {
	{ "java", O_JAVA, O_LIBJVM, { O_LD, O_LIBC, O_LIBJVM, O_LIBZ, O_LIBM, O_LIBSTDCXX },
	  NULL, "orders-7f9c5d8b6-x2x9z", "shop", "orders", 1, false,
	  "/usr/bin/java -XX:+UseG1GC -Xmx2g -jar /app/orders.jar" },
	{ "envoy", O_ENVOY, O_ENVOY, { O_LD, O_LIBC, O_LIBM },
	  NULL, "orders-7f9c5d8b6-x2x9z", "shop", "istio-proxy", 1, false,
	  "/usr/local/bin/envoy -c /etc/istio/proxy/envoy-rev.json" },
	{ "postgres", O_POSTGRES, O_POSTGRES, { LIBS_SSL, O_LIBM },
	  NULL, "pg-0", "db", "postgres", 3, false,
	  "postgres: app app 10.0.3.17(51822) SELECT" },
	{ "node", O_NODE, O_NODE, { LIBS_SSL, O_LIBSTDCXX },
	  NULL, "web-6c8d7f4b9-k7q2m", "shop", "web", 1, false,
	  "node /srv/app/server.js" },
	{ "python3", O_PYTHON, O_LIBPYTHON, { LIBS_SSL, O_LIBPYTHON },
	  NULL, "api-5b7f9d6c8-p4w8r", "shop", "api", 3, false,
	  "/usr/local/bin/python3 /usr/local/bin/gunicorn -w 3 api.wsgi" },
	{ "nginx", O_NGINX, O_NGINX, { LIBS_SSL, O_LIBPCRE },
	  NULL, "ingress-nginx-controller-7d4b9c-2xlzq", "ingress-nginx", "controller", 2, false,
	  "nginx: worker process" },
	{ "mysqld", O_MYSQLD, O_MYSQLD, { LIBS_SSL, O_LIBSTDCXX },
	  NULL, "mysql-0", "db", "mysql", 1, false,
	  "mysqld" },
	{ "kube-apiserver", O_APISERVER, O_APISERVER, { 0 },
	  NULL, "kube-apiserver-node-1", "kube-system", "kube-apiserver", 1, false,
	  "kube-apiserver --advertise-address=10.0.0.4 --etcd-servers=https://127.0.0.1:2379" },
	{ "redis-server", O_REDIS, O_REDIS, { LIBS_SSL, O_LIBM },
	  NULL, "redis-0", "cache", "redis", 1, false,
	  "redis-server *:6379" },
	{ "etcd", O_ETCD, O_ETCD, { 0 },
	  NULL, "etcd-node-1", "kube-system", "etcd", 1, false,
	  "etcd --data-dir=/var/lib/etcd --listen-client-urls=https://127.0.0.1:2379" },
	{ "kubelet", O_KUBELET, O_KUBELET, { 0 },
	  "kubelet.service", NULL, NULL, NULL, 1, false,
	  "/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml" },
	{ "beam.smp", O_BEAM, O_BEAM, { LIBS_SSL, O_LIBM },
	  NULL, "rabbitmq-0", "queue", "rabbitmq", 1, false,
	  "/usr/lib/erlang/erts-13.1.5/bin/beam.smp -W w" },
	{ "prometheus", O_PROMETHEUS, O_PROMETHEUS, { 0 },
	  NULL, "prometheus-k8s-0", "monitoring", "prometheus", 1, false,
	  "/bin/prometheus --config.file=/etc/prometheus/prometheus.yml" },
	{ "containerd", O_CONTAINERD, O_CONTAINERD, { 0 },
	  "containerd.service", NULL, NULL, NULL, 1, false,
	  "/usr/bin/containerd" },
	{ "fluent-bit", O_FLUENTBIT, O_FLUENTBIT, { LIBS_SSL },
	  NULL, "fluent-bit-8xk2n", "logging", "fluent-bit", 1, false,
	  "/fluent-bit/bin/fluent-bit -c /fluent-bit/etc/fluent-bit.conf" },
	{ "coredns", O_COREDNS, O_COREDNS, { 0 },
	  NULL, "coredns-5d78c9869d-4lqxz", "kube-system", "coredns", 2, false,
	  "/coredns -conf /etc/coredns/Corefile" },
	{ "memcached", O_MEMCACHED, O_MEMCACHED, { O_LD, O_LIBC },
	  NULL, "memcached-0", "cache", "memcached", 1, false,
	  "memcached -m 1024 -p 11211" },
	{ "kube-proxy", O_KUBE_PROXY, O_KUBE_PROXY, { 0 },
	  NULL, "kube-proxy-z8f6d", "kube-system", "kube-proxy", 1, false,
	  "/usr/local/bin/kube-proxy --config=/var/lib/kube-proxy/config.conf" },
	{ "systemd-journal", O_JOURNALD, O_JOURNALD, { O_LD, O_LIBC, O_LIBSYSTEMD, O_LIBZ },
	  "systemd-journald.service", NULL, NULL, NULL, 1, false,
	  "/lib/systemd/systemd-journald" },
	{ "containerd-shim", O_SHIM, O_SHIM, { 0 },
	  "containerd.service", NULL, NULL, NULL, 4, false,
	  "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id 3f1c" },
	{ "node_exporter", O_NODE_EXPORTER, O_NODE_EXPORTER, { 0 },
	  "prometheus-node-exporter.service", NULL, NULL, NULL, 1, false,
	  "/usr/bin/prometheus-node-exporter" },
	{ "stackd", O_STACKD, O_STACKD, { LIBS_SSL },
	  "stackd.service", NULL, NULL, NULL, 1, false,
	  "/usr/bin/stackd" },
	{ "sshd", O_SSHD, O_SSHD, { O_LD, O_LIBC, O_LIBCRYPTO, O_LIBZ },
	  "ssh.service", NULL, NULL, NULL, 1, false,
	  "sshd: admin@pts/0" },
	{ "systemd", O_SYSTEMD, O_SYSTEMD, { O_LD, O_LIBC, O_LIBSYSTEMD },
	  "init.scope", NULL, NULL, NULL, 1, false,
	  "/sbin/init" },
	/* cron jobs, health checks, container starts: a new process every window */
	{ "sh", O_DASH, O_DASH, { O_LD, O_LIBC },
	  "cron.service", NULL, NULL, NULL, 1, true,
	  "/bin/sh -c /usr/local/bin/backup.sh" },
	{ "curl", O_CURL, O_CURL, { LIBS_SSL },
	  NULL, "web-6c8d7f4b9-k7q2m", "shop", "web", 1, true,
	  "curl -fsS http://localhost:8080/healthz" },
	{ "git", O_GIT, O_GIT, { O_LD, O_LIBC, O_LIBZ, O_LIBPCRE },
	  "cron.service", NULL, NULL, NULL, 1, true,
	  "git fetch --all" },
	{ "runc", O_RUNC, O_RUNC, { 0 },
	  "containerd.service", NULL, NULL, NULL, 1, true,
	  "runc --root /run/containerd/runc/k8s.io exec" },
	{ "python3", O_PYTHON, O_LIBPYTHON, { O_LD, O_LIBC, O_LIBPYTHON },
	  NULL, "api-5b7f9d6c8-p4w8r", "shop", "api", 1, true,
	  "python3 manage.py check" },
};
/* clang-format on */
#define NR_SPECS (sizeof(proc_specs) / sizeof(proc_specs[0]))

struct proc {
	const struct proc_spec *spec;
	uint32_t pid;
	struct procmeta meta;
	struct label_set *labels;
	enum obj_id obj[MAX_SLOTS]; /* slot 0: kernel, 1: executable, 2..: libraries */
	uint64_t base[MAX_SLOTS];
	unsigned nr_slots;
	double weight;
	/* Stack population: frames (leaf first) of stack j are frames[off[j] .. off[j + 1]). */
	uint32_t *frames, *off;
	double *cdf;
	uint32_t nr_stacks;
	size_t first; /* index of stack 0 in the node-wide counts */
};

/* A frame: slot (4 bits), call site (3 bits), function (25 bits). */
#define FRAME(slot, site, fn) (((uint32_t)(slot) << 28) | ((uint32_t)(site) << 25) | (fn))
#define FRAME_SLOT(f)	      ((f) >> 28)
#define FRAME_SITE(f)	      (((f) >> 25) & 7)
#define FRAME_FUNC(f)	      ((f)&0x1ffffff)

static void pod_paths(const struct proc_spec *s, char *cgroup, size_t sz)
{
	uint64_t p = 0x706f64, c[4];
	char uid[37], uid_[37], id[65];

	for (const char *q = s->pod; *q; q++)
		p = hash3(p, (unsigned char)*q, 1);
	snprintf(uid, sizeof(uid), "%08x-%04x-%04x-%04x-%012llx", (unsigned)(p >> 32),
		 (unsigned)(p >> 16) & 0xffff, 0x4000 | ((unsigned)p & 0x0fff),
		 0x8000 | ((unsigned)(p >> 48) & 0x3fff),
		 (unsigned long long)(mix64(p) & 0xffffffffffffULL));
	memcpy(uid_, uid, sizeof(uid));
	for (char *q = uid_; *q; q++)
		if (*q == '-')
			*q = '_';
	c[0] = p;
	for (const char *q = s->container; *q; q++)
		c[0] = hash3(c[0], (unsigned char)*q, 2);
	for (int i = 1; i < 4; i++)
		c[i] = mix64(c[i - 1]);
	snprintf(id, sizeof(id), "%016llx%016llx%016llx%016llx", (unsigned long long)c[0],
		 (unsigned long long)c[1], (unsigned long long)c[2], (unsigned long long)c[3]);
	snprintf(cgroup, sz,
		 "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
		 "cri-containerd-%s.scope",
		 uid_, id);
}

/* The process's labels, as the agent's process table builds them. */
static void proc_label(struct proc *p)
{
	free(p->labels);
	p->labels = label_set_build(p->pid, p->spec->comm, obj_specs[p->spec->exe].path, &p->meta);
	if (!p->labels) {
		fprintf(stderr, "history_query: out of memory\n");
		exit(1);
	}
}

static void proc_init(struct proc *p, const struct proc_spec *s, uint32_t pid, unsigned rank)
{
	char cgroup[512];

	memset(p, 0, sizeof(*p));
	p->spec = s;
	p->pid = pid;
	if (s->unit)
		snprintf(cgroup, sizeof(cgroup), "%s%s",
			 strcmp(s->unit, "init.scope") ? "/system.slice/" : "/", s->unit);
	else
		pod_paths(s, cgroup, sizeof(cgroup));
	snprintf(p->meta.cgroup, sizeof(p->meta.cgroup), "%s", cgroup);
	procmeta_parse_cgroup_path(cgroup, &p->meta);
	snprintf(p->meta.cmdline, sizeof(p->meta.cmdline), "%s", s->cmdline);
	if (s->pod) {
		snprintf(p->meta.pod_name, sizeof(p->meta.pod_name), "%s", s->pod);
		snprintf(p->meta.pod_namespace, sizeof(p->meta.pod_namespace), "%s", s->ns);
		snprintf(p->meta.container_name, sizeof(p->meta.container_name), "%s",
			 s->container);
	}
	proc_label(p);

	p->obj[0] = O_KERNEL;
	p->obj[1] = s->exe;
	p->nr_slots = 2;
	for (unsigned i = 0; i < 6 && s->libs[i] != O_KERNEL; i++)
		p->obj[p->nr_slots++] = s->libs[i];
	/* Where ASLR put each object in this process (Go executables are not PIE). */
	p->base[0] = 0xffffffff81000000ULL;
	p->base[1] = obj_specs[s->exe].fl == FL_GO
			 ? 0x400000
			 : 0x555555554000ULL + ((hash3(pid, 1, 0) & 0xfffffff) << 12);
	for (unsigned i = 2; i < p->nr_slots; i++)
		p->base[i] = 0x7f0000000000ULL + ((hash3(pid, i, 1) & 0xfffff) << 20);
	p->weight = s->churns ? 0.004 : 1.0 / pow(rank + 1, 0.9);
}

static void proc_release(struct proc *p)
{
	free(p->labels);
	free(p->frames);
	free(p->off);
	free(p->cdf);
}

/* ---- stacks ---------------------------------------------------------------------------------- */

/* The callee number @k of function @f of @o, any function past the first @skip. */
static uint32_t callee(const struct obj *o, enum obj_id id, uint32_t f, uint32_t k, uint32_t skip)
{
	return skip + (uint32_t)(hash3(id, f, k) % (o->nr_funcs - skip));
}

/*
 * The callee number @k of @f at call depth @level of an executable. A program's hot code
 * is a small part of it: each depth has its own set of 2 + nr_funcs / 60 functions
 * (2 near the root: an event loop, a thread pool), so stacks share their trunks and
 * meet again in the same functions further down, as real call graphs do.
 */
static uint32_t callee_hot(const struct obj *o, enum obj_id id, uint32_t f, uint32_t k,
			   size_t level, uint32_t skip)
{
	uint32_t width = level < 6 ? 2 : 2 + (o->nr_funcs - skip) / 60;
	uint32_t j = (uint32_t)(hash3(id, f, k) % width);

	return skip + (uint32_t)(hash3(id, level, j) % (o->nr_funcs - skip));
}

/* A library's hot code: its first 40 functions (libc's are memcpy, malloc, read, ...). */
#define LIB_HOT 40

/* Number of fixed (named) functions at the start of @o. */
static uint32_t nr_fixed(const struct obj *o)
{
	uint32_t n = 0;

	while (o->spec->fixed && o->spec->fixed[n])
		n++;
	return n;
}

struct gen_frame {
	unsigned slot;
	uint32_t fn;
};

static uint32_t kernel_index(const char *name)
{
	uint32_t i = 0;

	while (kernel_funcs[i] && strcmp(kernel_funcs[i], name))
		i++;
	return i;
}

/* Kernel part, root first: an entry chain, then a walk in the kernel's call graph. */
static size_t gen_kernel(const struct obj *k, struct rng *r, struct gen_frame *out)
{
	double u = rng_unit(r);
	size_t n = 0, depth = 4 + rng_below(r, 9);
	uint32_t sys = kernel_index("__x64_sys_read"), cur;

	if (u < 0.6) { /* a system call */
		out[n++] = (struct gen_frame){0, 0};
		out[n++] = (struct gen_frame){0, 1};
		cur = sys + rng_below(r, 12); /* the __x64_sys_* */
	} else if (u < 0.85) {		      /* the timer interrupt */
		out[n++] = (struct gen_frame){0, 2};
		out[n++] = (struct gen_frame){0, 3};
		cur = kernel_index("__sysvec_apic_timer_interrupt");
	} else { /* a page fault */
		out[n++] = (struct gen_frame){0, 4};
		out[n++] = (struct gen_frame){0, 5};
		cur = kernel_index("do_user_addr_fault");
	}
	out[n++] = (struct gen_frame){0, cur};
	while (n < depth) {
		/* Never back into an entry chain. */
		cur = callee(k, O_KERNEL, cur, rng_below(r, 3), sys);
		out[n++] = (struct gen_frame){0, cur};
	}
	return n;
}

/* User part, root first: entry, a walk down the executable's call tree, maybe a library tail. */
static size_t gen_user(const struct proc *p, const struct obj *objs, struct rng *r,
		       struct gen_frame *out)
{
	const struct obj *exe = &objs[p->obj[1]], *code;
	bool is_go = exe->spec->fl == FL_GO;
	size_t n = 0, depth = 10 + rng_below(r, 21), tail = 0;
	unsigned libs[MAX_SLOTS], nr_libs = 0, code_slot = 1; /* the executable's */
	uint32_t cur = 1;

	/* Libraries a stack may end in: any but the dynamic loader and the code's own. */
	for (unsigned s = 2; s < p->nr_slots; s++) {
		if (p->obj[s] == p->spec->code)
			code_slot = s;
		else if (p->obj[s] != O_LD)
			libs[nr_libs++] = s;
	}
	code = &objs[p->obj[code_slot]];
	out[n++] = (struct gen_frame){1, 0}; /* _start, runtime.goexit */
	for (unsigned s = 2; !is_go && s < p->nr_slots; s++)
		if (p->obj[s] == O_LIBC)
			out[n++] = (struct gen_frame){s, 0}; /* __libc_start_call_main */
	out[n++] = (struct gen_frame){1, 1};		     /* main, main.main */
	if (nr_libs && rng_unit(r) < 0.6)
		tail = 1 + rng_below(r, 4);
	while (n < depth - tail) {
		/* Narrow near the root (an event loop), wider further down. */
		cur = callee_hot(code, p->obj[code_slot], cur, rng_below(r, n < 6 ? 2 : 4), n,
				 nr_fixed(code));
		out[n++] = (struct gen_frame){code_slot, cur};
	}
	if (tail) {
		unsigned slot = libs[rng_below(r, nr_libs)];
		const struct obj *lib = &objs[p->obj[slot]];

		uint32_t hot = lib->nr_funcs < LIB_HOT ? lib->nr_funcs : LIB_HOT;

		cur = (uint32_t)(hash3(p->obj[slot], cur, 0) % hot);
		out[n++] = (struct gen_frame){slot, cur};
		while (--tail) {
			cur = (uint32_t)(hash3(p->obj[slot], cur, rng_below(r, 3)) % hot);
			out[n++] = (struct gen_frame){slot, cur};
		}
	}
	return n;
}

/* Fills @p's population of @nr stacks and its Zipf(@skew) popularity. */
static int gen_stacks(struct proc *p, const struct obj *objs, uint32_t nr, double skew,
		      struct rng *r)
{
	struct gen_frame k[MAX_FRAMES], u[MAX_FRAMES];
	double sum = 0;

	p->nr_stacks = nr;
	p->frames = malloc((size_t)nr * MAX_FRAMES * sizeof(*p->frames));
	p->off = malloc(((size_t)nr + 1) * sizeof(*p->off));
	p->cdf = malloc((size_t)nr * sizeof(*p->cdf));
	if (!p->frames || !p->off || !p->cdf)
		return -ENOMEM;
	p->off[0] = 0;
	for (uint32_t j = 0; j < nr; j++) {
		size_t nk = rng_unit(r) < 0.3 ? gen_kernel(&objs[O_KERNEL], r, k) : 0;
		size_t nu = gen_user(p, objs, r, u), n = p->off[j];

		if (nk + nu > 40)
			nk = 40 - nu;
		/* Leaf first: the kernel frames, then the user frames. Each frame's address is
		 * the call site of its callee; the leaf's is wherever the sample hit it. */
		for (size_t i = nk; i-- > 0;) {
			const struct func *fn = &objs[O_KERNEL].funcs[k[i].fn];
			uint32_t site =
			    i + 1 < nk ? (uint32_t)(hash3(k[i].fn, k[i + 1].fn, 0) % fn->nr_sites)
				       : rng_below(r, fn->nr_sites);

			p->frames[n++] = FRAME(0, site, k[i].fn);
		}
		for (size_t i = nu; i-- > 0;) {
			const struct func *fn = &objs[p->obj[u[i].slot]].funcs[u[i].fn];
			uint32_t site =
			    i + 1 < nu ? (uint32_t)(hash3(u[i].fn, u[i + 1].fn, 1) % fn->nr_sites)
				       : rng_below(r, fn->nr_sites);

			p->frames[n++] = FRAME(u[i].slot, site, u[i].fn);
		}
		p->off[j + 1] = (uint32_t)n;
		sum += 1.0 / pow(j + 1, skew);
		p->cdf[j] = sum;
	}
	for (uint32_t j = 0; j < nr; j++)
		p->cdf[j] /= sum;
	return 0;
}

/* First index whose cumulative share reaches @u. */
static uint32_t pick(const double *cdf, uint32_t n, double u)
{
	uint32_t lo = 0, hi = n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- one window, as feed_record() adds it ---------------------------------------------------- */

/* The lines of frame @fr: inlined callees innermost first, then the function itself. */
static size_t frame_lines(const struct obj *o, enum obj_id id, uint32_t fr,
			  struct pprof_line *lines)
{
	uint32_t f = FRAME_FUNC(fr), site = FRAME_SITE(fr);
	const struct func *fn = &o->funcs[f];
	uint64_t h = hash3(id, f, site + 100);
	size_t n = 0;

	if (o->spec->fl == FL_KERNEL) {
		lines[0] = (struct pprof_line){.function = fn->name, .system_name = fn->name};
		return 1;
	}
	/* One call site in five is inside code inlined from one or two other functions. */
	if (h % 5 == 0) {
		size_t nr_inl = 1 + (h >> 8) % 2;

		for (size_t i = 0; i < nr_inl; i++) {
			const struct func *g = &o->funcs[(h >> (16 + 8 * i)) % o->nr_funcs];

			lines[n++] = (struct pprof_line){
			    .function = g->name,
			    .system_name = g->system_name,
			    .filename = g->file,
			    .start_line = g->start_line,
			    .line = g->start_line + 1 + (int64_t)((h >> (32 + 4 * i)) % 40),
			};
		}
	}
	lines[n++] = (struct pprof_line){
	    .function = fn->name,
	    .system_name = fn->system_name,
	    .filename = fn->file,
	    .start_line = fn->start_line,
	    .line = fn->start_line + 2 + site * 5 + (int64_t)(h % 5),
	};
	return n;
}

static int add_stack(struct pprof_builder *b, const struct proc *p, const struct obj *objs,
		     uint32_t j, int64_t count)
{
	uint64_t ids[MAX_FRAMES];
	struct pprof_line lines[4];
	size_t nr = 0;
	int err = 0;

	for (uint32_t i = p->off[j]; !err && i < p->off[j + 1]; i++) {
		uint32_t fr = p->frames[i], slot = FRAME_SLOT(fr);
		enum obj_id id = p->obj[slot];
		const struct obj *o = &objs[id];
		const struct func *fn = &o->funcs[FRAME_FUNC(fr)];
		bool is_kernel = id == O_KERNEL;
		struct pprof_mapping m = {
		    .start = p->base[slot],
		    .limit = is_kernel ? UINT64_MAX : p->base[slot] + o->text_size,
		    .offset = 0,
		    .filename = o->spec->path,
		    .build_id = is_kernel ? "" : o->build_id,
		    .has_functions = true,
		    .has_filenames = !is_kernel,
		    .has_line_numbers = !is_kernel,
		    .has_inline_frames = !is_kernel,
		};
		uint64_t map_id, addr;
		size_t nl = frame_lines(o, id, fr, lines);

		addr = p->base[slot] + fn->off + 4 + FRAME_SITE(fr) * (fn->size / (MAX_SITES + 1));
		err = pprof_add_mapping(b, &m, &map_id);
		err = err ?: pprof_add_location(b, map_id, addr, lines, nl, &ids[nr++]);
	}
	return err ?: pprof_add_sample(b, ids, nr, count, p->labels->l, p->labels->nr);
}

/* ---- the query, as serve_history() runs it --------------------------------------------------- */

struct query_result {
	double ms;
	size_t windows;	   /* merged */
	size_t nr_samples; /* distinct samples (stack + kept labels) in the answer */
	uint8_t *body;
	size_t body_len;
};

static int query(struct history *h, int64_t from, int64_t to, uint64_t period_ns,
		 const struct label_filter *f, uint32_t mask, struct query_result *res)
{
	const struct profile_query q = {.filter = f, .label_mask = mask, .period_ns = period_ns};
	struct pprof_builder *b = NULL;
	struct history_view v;
	int64_t start = mono_ns(), duration;
	int err;

	memset(res, 0, sizeof(*res));
	err = history_acquire(h, from, to, &v);
	if (err)
		return err;
	if (!v.nr) {
		history_release(&v);
		return -ENOENT;
	}
	err = profile_merge(&q, v.w, v.nr, &b, &duration);
	res->windows = v.nr;
	history_release(&v);
	err = err ?: pprof_encode(b, duration, true, &res->body, &res->body_len);
	res->nr_samples = b ? pprof_builder_nr_samples(b) : 0;
	pprof_builder_free(b);
	res->ms = (double)(mono_ns() - start) / 1e6;
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of @n figures (sorted in place). */
static void spread(double *v, size_t n, double *med, double *min, double *max)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*min = v[0];
	*max = v[n - 1];
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");
	int err = 0;

	if (!fp)
		return -errno;
	if (fwrite(buf, 1, len, fp) != len)
		err = -EIO;
	if (fclose(fp) && !err)
		err = -errno;
	return err;
}

/* Window @w as the agent serves it on its own (default labels), into DIR/wNNN.pb.gz. */
static int write_window(const char *dir, unsigned w, const struct pprof_frozen *f, uint32_t mask)
{
	const struct profile_query q = {.label_mask = mask, .period_ns = pprof_frozen_period(f)};
	struct pprof_builder *b = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int64_t duration;
	char path[4096];
	int err;

	err = profile_merge(&q, &f, 1, &b, &duration);
	err = err ?: pprof_encode(b, duration, true, &buf, &len);
	snprintf(path, sizeof(path), "%s/w%03u.pb.gz", dir, w);
	err = err ?: write_file(path, buf, len);
	free(buf);
	pprof_builder_free(b);
	return err;
}

/* ---- options --------------------------------------------------------------------------------- */

struct opts {
	unsigned hz, cpus, windows, window_s, runs;
	uint32_t stacks;
	uint64_t max_bytes;
	double skew;
	uint64_t seed;
	const char *out;
	const char *serve; /* listen address: serve the pages */
};

/* The start of the first window (Unix s): a fixed day, or with --serve so that the last ends now.
 */
static int64_t base_unix_s = BASE_UNIX_S;

static void usage(FILE *fp)
{
	fprintf(fp, "Usage: history_query [options]\n"
		    "  --hz N         sampling frequency of the node model (99)\n"
		    "  --cpus N       busy CPUs (2)\n"
		    "  --stacks N     distinct call stacks the node's processes run (4000)\n"
		    "  --skew S       Zipf exponent of stack popularity within a process (1.0)\n"
		    "  --windows N    windows pushed (90)\n"
		    "  --window S     seconds per window (10)\n"
		    "  --runs N       timed queries of each kind (7)\n"
		    "  --max-bytes N  history budget in MiB (32, the agent's default)\n"
		    "  --seed N       generator seed (1)\n"
		    "  --out DIR      write DIR/wNNN.pb.gz per window and DIR/query.pb.gz\n"
		    "  --serve ADDR   then serve the pages on ADDR (host:port) until SIGTERM\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"hz", required_argument, NULL, 'f'},
	    {"cpus", required_argument, NULL, 'c'},
	    {"stacks", required_argument, NULL, 's'},
	    {"skew", required_argument, NULL, 'z'},
	    {"windows", required_argument, NULL, 'n'},
	    {"window", required_argument, NULL, 'w'},
	    {"runs", required_argument, NULL, 'r'},
	    {"max-bytes", required_argument, NULL, 'b'},
	    {"seed", required_argument, NULL, 'S'},
	    {"out", required_argument, NULL, 'o'},
	    {"serve", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	*o = (struct opts){.hz = 99,
			   .cpus = 2,
			   .windows = 90,
			   .window_s = 10,
			   .runs = 7,
			   .stacks = 4000,
			   .skew = 1.0,
			   .seed = 1,
			   .max_bytes = DEFAULT_BUDGET};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->hz = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			o->cpus = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o->stacks = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'z':
			o->skew = strtod(optarg, NULL);
			break;
		case 'n':
			o->windows = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			o->window_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o->runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			o->max_bytes = strtoull(optarg, NULL, 10) << 20;
			break;
		case 'S':
			o->seed = strtoull(optarg, NULL, 10);
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'L':
			o->serve = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc || !o->hz || !o->cpus || !o->windows || !o->window_s || !o->runs ||
	    o->runs > 101 || !o->max_bytes || o->max_bytes > (64ull << 30) ||
	    o->stacks < NR_SPECS * 8 || o->stacks > 4000000 || o->skew < 0)
		return -EINVAL;
	return 0;
}

/* ---- the node -------------------------------------------------------------------------------- */

struct node {
	struct obj objs[O__MAX];
	struct proc procs[MAX_PROCS];
	size_t nr_procs, nr_churn, nr_stacks;
	size_t busiest;	   /* the process the pid filter asks for */
	double *pcdf;	   /* cumulative CPU shares of the processes */
	uint32_t *counts;  /* of one window, per stack (node-wide index) */
	uint32_t next_pid; /* of the next short-lived process */
	struct rng r;
};

static int node_init(struct node *n, const struct opts *o)
{
	double wsum = 0, sqsum = 0;
	int err = 0;

	memset(n, 0, sizeof(*n));
	n->r.s = o->seed;
	n->next_pid = 400000;
	for (int i = 0; i < O__MAX; i++)
		obj_init(&n->objs[i], (enum obj_id)i);
	for (size_t s = 0; s < NR_SPECS; s++) {
		const struct proc_spec *ps = &proc_specs[s];

		for (unsigned c = 0; c < ps->copies && n->nr_procs < MAX_PROCS; c++) {
			uint32_t pid;

			/* Distinct pids for the long-lived processes; systemd is 1. */
			if (ps->churns)
				pid = n->next_pid++;
			else if (ps->exe == O_SYSTEMD)
				pid = 1;
			else
				pid = 1000 + 1013 * (uint32_t)n->nr_procs +
				      (uint32_t)(hash3(s, c, 7) % 1000);
			proc_init(&n->procs[n->nr_procs], ps, pid, (unsigned)n->nr_procs);
			n->nr_churn += ps->churns;
			n->nr_procs++;
		}
	}
	for (size_t i = 0; i < n->nr_procs; i++) {
		wsum += n->procs[i].weight;
		sqsum += sqrt(n->procs[i].weight);
		if (n->procs[i].weight > n->procs[n->busiest].weight)
			n->busiest = i;
	}
	/* The node's stacks are split by the square root of each process's share. */
	for (size_t i = 0; !err && i < n->nr_procs; i++) {
		uint32_t nr = (uint32_t)((double)o->stacks * sqrt(n->procs[i].weight) / sqsum);

		n->procs[i].first = n->nr_stacks;
		err = gen_stacks(&n->procs[i], n->objs, nr < 8 ? 8 : nr, o->skew, &n->r);
		n->nr_stacks += n->procs[i].nr_stacks;
	}
	n->pcdf = calloc(n->nr_procs, sizeof(*n->pcdf));
	n->counts = calloc(n->nr_stacks, sizeof(*n->counts));
	if (err || !n->pcdf || !n->counts)
		return -ENOMEM;
	for (size_t i = 0; i < n->nr_procs; i++)
		n->pcdf[i] = (i ? n->pcdf[i - 1] : 0) + n->procs[i].weight / wsum;
	n->pcdf[n->nr_procs - 1] = 1.0;
	return 0;
}

static void node_free(struct node *n)
{
	for (size_t i = 0; i < n->nr_procs; i++)
		proc_release(&n->procs[i]);
	for (int i = 0; i < O__MAX; i++)
		obj_release(&n->objs[i]);
	free(n->pcdf);
	free(n->counts);
}

/*
 * One window: @nr_samples samples drawn from the model, added as the agent adds a drain's
 * records (one sample per distinct stack and process, with its count) into a new builder.
 */
static int node_window(struct node *n, uint64_t nr_samples, const struct pprof_opts *po,
		       struct pprof_builder **out)
{
	struct pprof_builder *b = NULL;
	int err;

	for (size_t i = 0; i < n->nr_procs; i++) {
		if (!n->procs[i].spec->churns)
			continue;
		n->procs[i].pid = n->next_pid++;
		proc_label(&n->procs[i]);
	}
	memset(n->counts, 0, n->nr_stacks * sizeof(*n->counts));
	for (uint64_t s = 0; s < nr_samples; s++) {
		const struct proc *p =
		    &n->procs[pick(n->pcdf, (uint32_t)n->nr_procs, rng_unit(&n->r))];

		n->counts[p->first + pick(p->cdf, p->nr_stacks, rng_unit(&n->r))]++;
	}
	err = pprof_builder_new(po, &b);
	for (size_t i = 0; !err && i < n->nr_procs; i++) {
		const struct proc *p = &n->procs[i];

		for (uint32_t j = 0; !err && j < p->nr_stacks; j++)
			if (n->counts[p->first + j])
				err = add_stack(b, p, n->objs, j, n->counts[p->first + j]);
	}
	if (err) {
		pprof_builder_free(b);
		return err;
	}
	*out = b;
	return 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

struct figures {
	struct history_stats hs;
	double gen_s;
	double distinct_window; /* mean distinct samples per window */
	size_t fit;		/* windows the default budget holds */
	size_t fit_bytes;
	double ms[3], pid_ms[3]; /* median, min, max */
	double freeze_ms[3];	 /* pprof_freeze() of one full window: what a partial costs */
	struct query_result all, pid;
};

/* Push @o->windows windows into @h; what the default budget would hold into @fg. */
static int build_history(struct node *n, const struct opts *o, uint32_t mask, struct history *h,
			 struct figures *fg)
{
	uint64_t per_window = (uint64_t)o->hz * o->cpus * o->window_s, distinct = 0;
	int64_t win_ns = (int64_t)o->window_s * NS;
	size_t *win_bytes = calloc(o->windows, sizeof(*win_bytes));
	double *freeze_ms = calloc(o->windows, sizeof(*freeze_ms));
	int err = win_bytes && freeze_ms ? 0 : -ENOMEM;

	for (unsigned w = 0; !err && w < o->windows; w++) {
		struct pprof_opts po = {.period_ns = NS / o->hz,
					.time_nanos = base_unix_s * NS + w * win_ns};
		struct pprof_builder *b = NULL;
		struct pprof_frozen *f = NULL;
		uint64_t t;

		err = node_window(n, per_window, &po, &b);
		if (!err)
			distinct += pprof_builder_nr_samples(b);
		t = mono_ns();
		err = err ?: pprof_freeze(b, win_ns, &f);
		freeze_ms[w] = (double)(mono_ns() - t) / 1e6;
		pprof_builder_free(b);
		if (!err && o->out)
			err = write_window(o->out, w, f, mask);
		if (err) {
			pprof_frozen_free(f);
			break;
		}
		win_bytes[w] = pprof_frozen_bytes(f);
		history_push(h, f);
	}
	/* What the agent's default budget holds of these windows, newest first. */
	while (!err && fg->fit < o->windows &&
	       fg->fit_bytes + win_bytes[o->windows - 1 - fg->fit] <= DEFAULT_BUDGET)
		fg->fit_bytes += win_bytes[o->windows - 1 - fg->fit++];
	fg->distinct_window = (double)distinct / o->windows;
	if (!err)
		spread(freeze_ms, o->windows, &fg->freeze_ms[0], &fg->freeze_ms[1],
		       &fg->freeze_ms[2]);
	free(freeze_ms);
	free(win_bytes);
	return err;
}

/* @o->runs queries of the last 15 minutes of @h: ?seconds=900 at the end of the last window. */
static int time_queries(struct history *h, const struct opts *o, const struct label_filter *f,
			uint32_t mask, struct query_result *last, double out[3])
{
	int64_t to = base_unix_s * NS + (int64_t)o->windows * o->window_s * NS;
	double *t = calloc(o->runs, sizeof(*t));
	int err = t ? 0 : -ENOMEM;

	for (unsigned i = 0; !err && i < o->runs; i++) {
		free(last->body);
		err = query(h, to - DEFAULT_RETENTION, to, NS / o->hz, f, mask, last);
		t[i] = last->ms;
	}
	if (!err)
		spread(t, o->runs, &out[0], &out[1], &out[2]);
	free(t);
	return err;
}

static void report(const struct node *n, const struct opts *o, const struct figures *fg)
{
	const struct history_stats *hs = &fg->hs;
	uint32_t pid = n->procs[n->busiest].pid;

	printf("model            %u Hz x %u CPUs, %u s windows: %u samples/window; %zu processes "
	       "(%zu new every window), %zu stacks in all (Zipf %.2f)\n",
	       o->hz, o->cpus, o->window_s, o->hz * o->cpus * o->window_s, n->nr_procs, n->nr_churn,
	       n->nr_stacks, o->skew);
	printf("built in         %.1f s (generating, building, freezing; not timed below)\n",
	       fg->gen_s);
	printf("windows held     %llu of %u (evicted: %llu by budget, %llu by retention)\n",
	       (unsigned long long)hs->windows, o->windows, (unsigned long long)hs->evicted_budget,
	       (unsigned long long)hs->evicted_retention);
	printf("history bytes    %llu (%.1f MiB of the %llu MiB budget)\n",
	       (unsigned long long)hs->bytes, (double)hs->bytes / (1 << 20),
	       (unsigned long long)(o->max_bytes >> 20));
	printf("default budget   32 MiB holds %zu of these windows (%.1f min), %.0f KiB each on "
	       "average\n",
	       fg->fit, (double)fg->fit * o->window_s / 60,
	       (double)fg->fit_bytes / 1024 / (double)(fg->fit ? fg->fit : 1));
	printf("samples          %llu held\n", (unsigned long long)hs->samples);
	printf("distinct stacks  %.0f per window (mean), %zu in the 15-minute answer, %zu for "
	       "pid %u\n",
	       fg->distinct_window, fg->all.nr_samples, fg->pid.nr_samples, pid);
	printf("query ms         median %.1f  min %.1f  max %.1f  (%u runs, %zu windows merged)\n",
	       fg->ms[0], fg->ms[1], fg->ms[2], o->runs, fg->all.windows);
	printf("query ms pid=%-4u median %.1f  min %.1f  max %.1f\n", pid, fg->pid_ms[0],
	       fg->pid_ms[1], fg->pid_ms[2]);
	printf("freeze ms        median %.2f  min %.2f  max %.2f  (pprof_freeze of one full "
	       "window: the drain's cost per partial snapshot)\n",
	       fg->freeze_ms[0], fg->freeze_ms[1], fg->freeze_ms[2]);
	printf("output pprof     %zu bytes gzip (%zu with pid=%u)\n", fg->all.body_len,
	       fg->pid.body_len, pid);
	/* One line for scripts. */
	printf("RESULT hz=%u budget_mib=%llu stacks=%zu windows=%llu bytes=%llu samples=%llu "
	       "distinct_window=%.0f distinct_answer=%zu ms_med=%.1f ms_min=%.1f ms_max=%.1f "
	       "pid_ms_med=%.1f pid_ms_min=%.1f pid_ms_max=%.1f out_bytes=%zu pid_out_bytes=%zu "
	       "default_fit=%zu\n",
	       o->hz, (unsigned long long)(o->max_bytes >> 20), n->nr_stacks,
	       (unsigned long long)hs->windows, (unsigned long long)hs->bytes,
	       (unsigned long long)hs->samples, fg->distinct_window, fg->all.nr_samples, fg->ms[0],
	       fg->ms[1], fg->ms[2], fg->pid_ms[0], fg->pid_ms[1], fg->pid_ms[2], fg->all.body_len,
	       fg->pid.body_len, fg->fit);
}

/* ---- --serve ------------------------------------------------------------------------------- */

static void *no_profile(void *ctx, const struct http_profile_req *req, struct http_waiter *w,
			struct http_reply *reply)
{
	(void)ctx;
	(void)req;
	(void)w;
	http_reply_errorf(reply, 404, "%s", "a synthetic history has no live profile");
	return NULL;
}

static void no_profile_end(void *ctx, void *window, struct http_reply *reply)
{
	(void)ctx;
	(void)window;
	(void)reply;
}

static void serve_page(void *ctx, enum http_page page, const struct http_profile_req *req,
		       struct http_reply *reply)
{
	pages_serve(ctx, page, req, reply);
}

/* The pages over @h on @o->serve until SIGINT or SIGTERM. */
static int serve(struct history *h, const struct opts *o, uint32_t mask)
{
	struct pages_ctx pc = {.label_mask = mask,
			       .period_ns = NS / o->hz,
			       .window_ns = (uint64_t)o->window_s * NS,
			       .retention_ns = DEFAULT_RETENTION};
	struct http_server *srv = NULL;
	sigset_t set;
	int err, sig;

	pc.hist[PPROF_KIND_CPU] = h;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* before the server's threads inherit the mask */
	err = http_server_start(&(struct http_opts){.listen_address = o->serve,
						    .max_profile_seconds = 60,
						    .max_page_bytes = 256u << 20,
						    .handlers = {.ctx = &pc,
								 .profile_start = no_profile,
								 .profile_end = no_profile_end,
								 .page = serve_page}},
				&srv);
	if (err) {
		fprintf(stderr, "history_query: serving on %s: %s\n", o->serve, strerror(-err));
		return err;
	}
	printf("serving http://%s\n", o->serve);
	fflush(stdout);
	sigwait(&set, &sig);
	http_server_stop(srv);
	return 0;
}

int main(int argc, char **argv)
{
	struct figures fg = {0};
	struct history *h = NULL;
	struct label_filter pidf = {0};
	struct node *n = NULL;
	struct opts o;
	uint32_t mask = 0;
	int64_t start;
	char buf[4096];
	int err;

	if (parse_opts(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	labels_parse_set(DEFAULT_LABELS, &mask);
	if (o.serve)
		base_unix_s = unix_ns() / NS - (int64_t)o.windows * o.window_s;
	start = mono_ns();
	n = malloc(sizeof(*n));
	err = n ? node_init(n, &o) : -ENOMEM;
	err = err
		  ?: history_new(&(struct history_opts){.window_ns = o.window_s * (uint64_t)NS,
							.retention_ns = DEFAULT_RETENTION,
							.max_bytes = o.max_bytes},
				 &h);
	err = err ?: build_history(n, &o, mask, h, &fg);
	if (err) {
		fprintf(stderr, "history_query: building the history failed: %s\n", strerror(-err));
		goto cleanup;
	}
	history_get_stats(h, &fg.hs);
	fg.gen_s = (double)(mono_ns() - start) / 1e9;

	snprintf(buf, sizeof(buf), "%u", n->procs[n->busiest].pid);
	label_filter_set(&pidf, "pid", buf);
	err = time_queries(h, &o, NULL, mask, &fg.all, fg.ms);
	err = err ?: time_queries(h, &o, &pidf, mask, &fg.pid, fg.pid_ms);
	if (err) {
		fprintf(stderr, "history_query: query failed: %s\n", strerror(-err));
		goto cleanup;
	}
	if (o.out) {
		snprintf(buf, sizeof(buf), "%s/query.pb.gz", o.out);
		err = write_file(buf, fg.all.body, fg.all.body_len);
		if (err) {
			fprintf(stderr, "history_query: %s: %s\n", buf, strerror(-err));
			goto cleanup;
		}
	}
	report(n, &o, &fg);
	if (o.serve)
		err = serve(h, &o, mask);

cleanup:
	free(fg.all.body);
	free(fg.pid.body);
	history_free(h);
	if (n)
		node_free(n);
	free(n);
	return err ? 1 : 0;
}
