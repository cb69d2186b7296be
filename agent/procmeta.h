/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-process metadata for profile labels and filters: cgroup, container,
 * Kubernetes pod, systemd unit and command line, read from /proc and from the
 * container runtimes' on-disk state. No API server, no runtime socket.
 *
 * What is recognised in a cgroup path (each field is the deepest match, so a
 * container nested in another one, kind's nodes for instance, reports the
 * inner one):
 *   docker      /docker/<id> (cgroupfs), docker-<id>.scope (systemd)
 *   containerd  cri-containerd-<id>.scope, nerdctl-<id>.scope, and a bare
 *               <id> below a pod<uid> directory (Kubernetes, cgroupfs driver;
 *               cri-dockerd writes the same, see procmeta_read)
 *   cri-o       crio-<id>[.scope], crio-conmon-<id>[.scope]
 *   podman      libpod-<id>[.scope], libpod-conmon-<id>[.scope]
 * <id> is 64 lowercase hex digits. A bare <id> anywhere else is reported with
 * an empty runtime. The *-conmon-* scopes hold the runtime's monitor of
 * container <id>, not the container: is_conmon says so.
 * Pods: pod<uid> (cgroupfs) and *-pod<uid>.slice (systemd driver, with '_'
 * for '-'); the uid is a UUID, or 32 hex digits for static (mirror) pods.
 * unit: the deepest component named *.service, *.scope, *.socket, *.mount or
 * *.swap that is not a container or conmon scope, so "docker-<id>.scope"
 * never becomes a unit but a service run by systemd inside a container does.
 * Names longer than unit[] or with characters systemd never uses are skipped.
 *
 * /proc/PID/cgroup is read up to its first "0::" line: the kernel prints the
 * v2 hierarchy last and does not escape newlines in cgroup names, so any line
 * after it was made by whoever named a cgroup (delegated subtrees can be
 * created unprivileged) and must not override what the kernel said.
 *
 * Container names come from the runtime's state files (at most
 * PROCMETA_STATE_MAX bytes each) and are cached per (container id, runtime),
 * negative answers too, in at most PROCMETA_NAME_CACHE_MAX entries evicted by
 * CLOCK (second chance). Podman keeps names in its database, not in any file
 * read here: podman containers get no names.
 *
 * A reader is owned by one thread; it is not thread-safe.
 */
#ifndef STACKD_AGENT_PROCMETA_H
#define STACKD_AGENT_PROCMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCMETA_CMDLINE_MAX	256
#define PROCMETA_NAME_CACHE_MAX 256
#define PROCMETA_STATE_MAX	(1u << 20)

/* Every string is NUL-terminated and "" when unknown. */
struct procmeta {
	/*
	 * The cgroup v2 path ("0::" line) if neither "/" nor empty, else the most
	 * informative v1 path (name=systemd, then cpu/cpuacct, memory, pids, any
	 * other), else "/". Cut on a UTF-8 boundary if longer.
	 */
	char cgroup[512];
	/* Inode of the process's v2 cgroup directory (= bpf_get_current_cgroup_id()), else 0. */
	uint64_t cgroup_id;
	char container_id[65];	    /* 64 lowercase hex digits */
	char container_runtime[16]; /* "docker", "containerd", "cri-o", "podman" */
	bool is_conmon;		  /* a *-conmon-<id> scope: the runtime's monitor of container_id */
	char pod_uid[37];	  /* with dashes, as the API server shows it */
	char container_name[128]; /* Kubernetes container name, or docker's name */
	char pod_name[128], pod_namespace[128];
	char unit[128]; /* "nginx.service", "session-3.scope" */
	/*
	 * NULs become spaces (trailing ones dropped); control bytes, C1 controls
	 * and bytes that are not valid UTF-8 become "\xNN"; cut on a character
	 * boundary with "..." when it does not fit. Always valid UTF-8.
	 */
	char cmdline[PROCMETA_CMDLINE_MAX];
};

/*
 * Pure parsing, no I/O (fuzzed): set container_id, container_runtime,
 * is_conmon, pod_uid and unit from one cgroup path ("" when not found).
 * Other fields are left alone. @path may be NULL.
 */
void procmeta_parse_cgroup_path(const char *path, struct procmeta *m);

/*
 * Pure: choose the path out of a whole /proc/PID/cgroup text (v2 line
 * preferred, else v1, see struct procmeta), set cgroup and parse it as above.
 * Lines need not end in a newline; lines with a NUL or not of the form
 * "ID:CONTROLLERS:/PATH" are skipped. Returns 0, or -EINVAL (fields "") when
 * no line is valid. cgroup_id is left alone.
 */
int procmeta_parse_cgroup_file(const char *text, size_t len, struct procmeta *m);

/*
 * Pure (fuzzed): the string value at @path in JSON text @buf, e.g.
 * {"annotations", "io.kubernetes.pod.name"} or {"Name"}: object keys from the
 * top-level object down, at most 4, never inside arrays; the first match
 * wins. Escapes are decoded into @out (NUL-terminated; cut on a character
 * boundary when it does not fit). Returns the length in @out, -ENOENT when
 * there is no such string, -EINVAL for a value with control characters,
 * invalid escapes or invalid UTF-8, or for bad arguments. Any bytes are safe:
 * the scan is linear and never reads past @len.
 */
int procmeta_json_find_string(const char *buf, size_t len, const char *const *path, size_t path_len,
			      char *out, size_t out_sz);

/*
 * Pure (fuzzed): format raw /proc/PID/cmdline bytes into @out as described for
 * procmeta.cmdline; @is_cut says @raw is only the start of it. Returns
 * strlen(@out).
 */
size_t procmeta_format_cmdline(const char *raw, size_t len, bool is_cut, char *out, size_t out_sz);

/*
 * Pure: the mount point of the first cgroup2 file system mounted at its
 * hierarchy's root (not a container's subtree view) in a /proc/PID/mountinfo
 * text, octal escapes undone, into @out. False when there is none.
 */
bool procmeta_find_cgroup2_mount(const char *text, size_t len, char *out, size_t out_sz);

struct procmeta_opts {
	const char *proc_root; /* NULL: "/proc" */
	/*
	 * Where the cgroup2 file system is mounted. NULL: the first cgroup2 mount
	 * of its root in <proc_root>/self/mountinfo (/sys/fs/cgroup, or
	 * /sys/fs/cgroup/unified on hybrid systems); "": none, cgroup_id stays 0.
	 */
	const char *cgroup2_mount;
	/* Prefix of the runtimes' state dirs: NULL or "" in production, a fake tree in tests. */
	const char *runtime_root;
};

struct procmeta_reader;

/* Returns 0, -ENOMEM, or -ENAMETOOLONG for a path option of 256 bytes or more. */
int procmeta_reader_new(const struct procmeta_opts *o, struct procmeta_reader **out);
void procmeta_reader_free(struct procmeta_reader *r);

/*
 * Read the cgroup and cmdline of @pid into @out (zeroed first), and the names
 * of its container (runtime state, cached). Returns 0; -ESRCH when the
 * process vanished, with the fields read so far kept and the rest "";
 * another -errno when a file could not be read (what could be read is kept);
 * -EINVAL for pid <= 0. A /proc/PID/cgroup without a valid line is not an
 * error: its fields stay "".
 *
 * Names are looked up in the state of the runtime the path named:
 *   containerd  <runtime_root>/run/containerd/io.containerd.runtime.v2.task/
 *               k8s.io/<id>/config.json (CRI annotations), then default/<id>
 *               (nerdctl's name), then docker's file (cri-dockerd's bare ids
 *               look like containerd's)
 *   cri-o       <runtime_root>/run/containers/storage/overlay-containers/
 *               <id>/userdata/config.json, then the same under var/lib
 *   docker      <runtime_root>/var/lib/docker/containers/<id>/config.v2.json
 *               "Name"; a dockershim name k8s_<ctr>_<pod>_<ns>_<uid>_<n> is
 *               split into the Kubernetes names
 *   ""          docker's file (docker --cgroup-parent gives bare ids too)
 * container_runtime becomes the runtime whose state named the container.
 */
int procmeta_read(struct procmeta_reader *r, pid_t pid, struct procmeta *out);

struct procmeta_stats {
	uint64_t reads;	       /* procmeta_read calls */
	uint64_t vanished;     /* of them, processes gone before they could be read */
	uint64_t name_lookups; /* cache misses: the runtime's state files were read */
	uint64_t name_cache_hits;
	uint64_t name_cache_evictions;
};
void procmeta_get_stats(const struct procmeta_reader *r, struct procmeta_stats *out);

#endif
