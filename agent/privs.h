/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Least privilege after start-up.
 *
 * Loading and attaching BPF needs CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN); once the
 * programs run, the agent only reads BPF maps through fds it already holds and reads
 * other processes' /proc entries and binaries. privs_drop() then keeps just the
 * capabilities those reads need (privs_needed_caps(), reasons in privs.c), clears the
 * rest from the effective, permitted, inheritable, ambient and bounding sets, optionally
 * switches to an unprivileged user, and sets no_new_privs.
 *
 * Capabilities and no_new_privs are per thread in Linux, and the HTTP and drain threads
 * already run when privileges are dropped: privs_drop() applies the change in every
 * thread of the process and checks each one in /proc/self/task, so a thread that kept
 * root's capabilities cannot go unnoticed.
 */
#ifndef STACKD_AGENT_PRIVS_H
#define STACKD_AGENT_PRIVS_H

#include <limits.h>
#include <linux/capability.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

#define PRIVS_CAP(c) (1ULL << (c))

#define PRIVS_UNKNOWN INT_MIN

/* What decides which capabilities stay; PRIVS_UNKNOWN where a value could not be read. */
struct privs_env {
	unsigned kernel_major, kernel_minor;
	int cap_last_cap;	       /* /proc/sys/kernel/cap_last_cap */
	int kptr_restrict;	       /* /proc/sys/kernel/kptr_restrict */
	int perf_event_paranoid;       /* /proc/sys/kernel/perf_event_paranoid */
	int unprivileged_bpf_disabled; /* /proc/sys/kernel/unprivileged_bpf_disabled */
};

/* Reads the running kernel's values into @env. Returns 0 or -errno (uname failed). */
int privs_env_read(struct privs_env *env);

/*
 * Pure: the capabilities stackd needs after start-up on a machine described by @env,
 * as a mask of PRIVS_CAP() bits. Never includes CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN
 * unless the kernel makes them necessary for what runs after start-up.
 */
uint64_t privs_needed_caps(const struct privs_env *env);

/* "cap_dac_read_search,cap_sys_ptrace" ("none" for 0) into @buf; returns @buf. */
const char *privs_caps_str(uint64_t mask, char *buf, size_t sz);
/* Name of capability @cap ("cap_sys_ptrace"), or NULL past the known ones. */
const char *privs_cap_name(int cap);
/* The calling thread's effective set, or 0 (capget failed). */
uint64_t privs_effective(void);

struct privs_opts {
	const char *run_as_user; /* NULL or "": keep the current user */
};

/*
 * Call once the BPF programs are attached. Applies the drop to every thread (see
 * above), logs at info what remains, and returns 0; -errno (logged) when the
 * privileges could not be dropped in some thread: the caller must not go on.
 */
int privs_drop(const struct privs_opts *opts);
/* True once privs_drop() succeeded in every thread (any thread may ask). */
bool privs_are_dropped(void);

/*
 * A configuration file stackd reads as root must not be writable by anyone else:
 * returns 0 when @path is a regular file owned by root (or the current user), not
 * writable by "other", not group-writable unless its group is root (gid 0), in a
 * directory others cannot write (or sticky); else -EPERM, -ENOENT, ... (logged, with
 * the fix).
 */
int privs_check_config_file(const char *path);
/* Pure part of the above: NULL if acceptable, else why not. */
const char *privs_config_mode_problem(mode_t mode, uid_t uid, gid_t gid, uid_t euid);

#endif
