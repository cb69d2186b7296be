// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "procmeta.h"

/* Real-looking ids: sha256 of "a", "b", "c". */
#define ID_A	   "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define ID_B	   "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define ID_C	   "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"
#define ID_D	   "18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4"
#define ID_E	   "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
#define UID	   "8a7d7e2e-3b4c-4f3a-9d2e-1c0b5a6f7e8d"
#define UID_SD	   "8a7d7e2e_3b4c_4f3a_9d2e_1c0b5a6f7e8d"
#define UID_STATIC "5d1b29a1c5f8f1d4b0b8d2f9c2e6a5b1"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static void expect_path(const char *path, const char *id, const char *rt, const char *uid,
			const char *unit, bool is_conmon)
{
	struct procmeta m;

	memset(&m, 0, sizeof(m));
	/* Stale values from a previous parse must not survive. */
	strcpy(m.container_id, "stale");
	strcpy(m.unit, "stale.service");
	strcpy(m.pod_uid, "stale");
	procmeta_parse_cgroup_path(path, &m);
	assert_string_equal(m.container_id, id);
	assert_string_equal(m.container_runtime, rt);
	assert_string_equal(m.pod_uid, uid);
	assert_string_equal(m.unit, unit);
	assert_int_equal(m.is_conmon, is_conmon);
}

static void test_docker(void **state)
{
	(void)state;
	expect_path("/docker/" ID_A, ID_A, "docker", "", "", false);
	expect_path("/system.slice/docker-" ID_A ".scope", ID_A, "docker", "", "", false);
	/* The daemon itself is a unit, not a container. */
	expect_path("/system.slice/docker.service", "", "", "", "docker.service", false);
	/* systemd inside a container: the container and the unit inside it. */
	expect_path("/system.slice/docker-" ID_A ".scope/system.slice/nginx.service", ID_A,
		    "docker", "", "nginx.service", false);
	/* dockershim under Kubernetes' systemd driver. */
	expect_path("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_SD
		    ".slice/docker-" ID_B ".scope",
		    ID_B, "docker", UID, "", false);
}

static void test_kubernetes(void **state)
{
	(void)state;
	/* cgroupfs driver: all three QoS classes. */
	expect_path("/kubepods/burstable/pod" UID "/" ID_A, ID_A, "containerd", UID, "", false);
	expect_path("/kubepods/besteffort/pod" UID "/" ID_A, ID_A, "containerd", UID, "", false);
	expect_path("/kubepods/pod" UID "/" ID_A, ID_A, "containerd", UID, "", false);
	/* The pod's own cgroup: a pod, no container. */
	expect_path("/kubepods/burstable/pod" UID, "", "", UID, "", false);
	/* systemd driver: '_' in the slice name, dashes in the uid. */
	expect_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_SD
		    ".slice/cri-containerd-" ID_A ".scope",
		    ID_A, "containerd", UID, "", false);
	expect_path("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_SD
		    ".slice/cri-containerd-" ID_B ".scope",
		    ID_B, "containerd", UID, "", false);
	expect_path("/kubepods.slice/kubepods-pod" UID_SD ".slice/cri-containerd-" ID_C ".scope",
		    ID_C, "containerd", UID, "", false);
	/* Static (mirror) pods: the uid is a 32-digit hash. */
	expect_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_STATIC
		    ".slice/cri-containerd-" ID_A ".scope",
		    ID_A, "containerd", UID_STATIC, "", false);
	expect_path("/kubepods/burstable/pod" UID_STATIC "/" ID_A, ID_A, "containerd", UID_STATIC,
		    "", false);
	/* Not uids: wrong length, upper case, misplaced separators. */
	expect_path("/kubepods/pod1234/" ID_A, ID_A, "", "", "", false);
	expect_path("/kubepods/pod8A7D7E2E-3B4C-4F3A-9D2E-1C0B5A6F7E8D/" ID_A, ID_A, "", "", "",
		    false);
	expect_path("/kubepods.slice/kubepods-pod8a7d7e2e3_b4c_4f3a_9d2e_1c0b5a6f7e8d.slice", "",
		    "", "", "", false);
	expect_path("/kubepods.slice/kubepodspod" UID_SD ".slice", "", "", "", "", false);
	/* nerdctl (containerd without Kubernetes, systemd driver). */
	expect_path("/system.slice/nerdctl-" ID_A ".scope", ID_A, "containerd", "", "", false);
}

static void test_crio(void **state)
{
	(void)state;
	expect_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_SD
		    ".slice/crio-" ID_A ".scope",
		    ID_A, "cri-o", UID, "", false);
	/* conmon: same id and runtime, marked. */
	expect_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_SD
		    ".slice/crio-conmon-" ID_A ".scope",
		    ID_A, "cri-o", UID, "", true);
	/* cgroupfs. */
	expect_path("/kubepods/burstable/pod" UID "/crio-" ID_B, ID_B, "cri-o", UID, "", false);
	expect_path("/kubepods/burstable/pod" UID "/crio-conmon-" ID_B, ID_B, "cri-o", UID, "",
		    true);
	/* crun's sub-cgroup for a container that manages its own (systemd in the container). */
	expect_path("/kubepods.slice/kubepods-pod" UID_SD ".slice/crio-" ID_C ".scope/container",
		    ID_C, "cri-o", UID, "", false);
}

static void test_podman(void **state)
{
	(void)state;
	expect_path("/machine.slice/libpod-" ID_A ".scope", ID_A, "podman", "", "", false);
	expect_path("/machine.slice/libpod-conmon-" ID_A ".scope", ID_A, "podman", "", "", true);
	/* Rootless: the user manager is the deepest unit; "container" is crun's leaf. */
	expect_path("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_B
		    ".scope/container",
		    ID_B, "podman", "", "user@1000.service", false);
	expect_path("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" ID_B
		    ".scope",
		    ID_B, "podman", "", "user@1000.service", true);
	/* cgroupfs manager. */
	expect_path("/libpod_parent/libpod-" ID_C, ID_C, "podman", "", "", false);
	/* A podman pod: the pod slice is not a Kubernetes pod. */
	expect_path("/machine.slice/machine-libpod_pod_" ID_B ".slice/libpod-" ID_A ".scope", ID_A,
		    "podman", "", "", false);
}

static void test_kind(void **state)
{
	(void)state;
	/* The node is a docker container; the pod's container inside it wins. */
	expect_path("/system.slice/docker-" ID_A ".scope/kubelet.slice/kubelet-kubepods.slice/"
		    "kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod" UID_SD
		    ".slice/cri-containerd-" ID_B ".scope",
		    ID_B, "containerd", UID, "", false);
	/* Seen from the node's cgroup namespace. */
	expect_path("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
		    "kubelet-kubepods-besteffort-pod" UID_SD ".slice/cri-containerd-" ID_B ".scope",
		    ID_B, "containerd", UID, "", false);
	/* The node's own services: the node container, and the unit inside it. */
	expect_path("/system.slice/docker-" ID_A ".scope/system.slice/containerd.service", ID_A,
		    "docker", "", "containerd.service", false);
	expect_path("/system.slice/docker-" ID_A ".scope/kubelet.slice/kubelet.service", ID_A,
		    "docker", "", "kubelet.service", false);
	/* cgroupfs everywhere. */
	expect_path("/docker/" ID_A "/kubelet/kubepods/burstable/pod" UID "/" ID_C, ID_C,
		    "containerd", UID, "", false);
}

static void test_units(void **state)
{
	char path[512];

	(void)state;
	expect_path("/system.slice/nginx.service", "", "", "", "nginx.service", false);
	expect_path("/user.slice/user-1000.slice/session-2.scope", "", "", "", "session-2.scope",
		    false);
	expect_path("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "", "",
		    "", "foo.service", false);
	expect_path("/user.slice/user-1000.slice/user@1000.service/app.slice/"
		    "app-gnome-firefox-1234.scope",
		    "", "", "", "app-gnome-firefox-1234.scope", false);
	expect_path("/init.scope", "", "", "", "init.scope", false);
	expect_path("/system.slice/systemd-journald.socket", "", "", "", "systemd-journald.socket",
		    false);
	expect_path("/system.slice/boot-efi.mount", "", "", "", "boot-efi.mount", false);
	expect_path("/system.slice/dev-zram0.swap", "", "", "", "dev-zram0.swap", false);
	expect_path("/system.slice/system-getty.slice/getty@tty1.service", "", "", "",
		    "getty@tty1.service", false);
	expect_path("/system.slice/system-systemd\\x2dfsck.slice/systemd-fsck@dev-sda1.service", "",
		    "", "", "systemd-fsck@dev-sda1.service", false);
	/* Slices, the root, bare suffixes and odd characters are no units. */
	expect_path("/user.slice", "", "", "", "", false);
	expect_path("/", "", "", "", "", false);
	expect_path("", "", "", "", "", false);
	expect_path("/system.slice/.service", "", "", "", "", false);
	expect_path("/system.slice/a b.service", "", "", "", "", false);
	expect_path("/system.slice/\xc3\xa9.service", "", "", "", "", false);
	/* Too long for the field: skipped, the shallower unit stays. */
	memset(path, 0, sizeof(path));
	strcpy(path, "/system.slice/outer.service/");
	memset(path + strlen(path), 'x', 130);
	strcat(path, ".service");
	expect_path(path, "", "", "", "outer.service", false);
	procmeta_parse_cgroup_path(NULL, &(struct procmeta){0});
}

static void test_not_containers(void **state)
{
	(void)state;
	/* 63 and 65 digits, upper case, suffix junk, unknown prefixes. */
	expect_path("/docker/"
		    "a" ID_A,
		    "", "", "", "", false);
	expect_path("/docker/"
		    "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48b",
		    "", "", "", "", false);
	expect_path("/docker/CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB", "",
		    "", "", "", false);
	expect_path("/system.slice/docker-" ID_A ".scopex", "", "", "", "", false);
	/* A service named like a container scope is a service. */
	expect_path("/system.slice/docker-" ID_A ".service", "", "", "", "docker-" ID_A ".service",
		    false);
	expect_path("/system.slice/rkt-" ID_A ".scope", "", "", "", "rkt-" ID_A ".scope", false);
	expect_path("/system.slice/docker-.scope", "", "", "", "docker-.scope", false);
	/* This machine's own layout: a 32-digit directory is no container. */
	expect_path("/process_api/98070bb76d9a9cebe5ec9be66b4db182", "", "", "", "", false);
	/* A bare id with no context: the id, runtime unknown. */
	expect_path("/actions_job/" ID_A, ID_A, "", "", "", false);
	/* Repeated and trailing slashes are just separators. */
	expect_path("//docker//" ID_A "//", ID_A, "docker", "", "", false);
}

static void parse_file(const char *text, size_t len, int ret, const char *cgroup, const char *id)
{
	struct procmeta m;

	memset(&m, 0, sizeof(m));
	strcpy(m.cgroup, "stale");
	assert_int_equal(procmeta_parse_cgroup_file(text, len, &m), ret);
	assert_string_equal(m.cgroup, cgroup);
	assert_string_equal(m.container_id, id);
}

#define PARSE(text, ret, cgroup, id) parse_file(text, sizeof(text) - 1, ret, cgroup, id)

static void test_cgroup_file(void **state)
{
	(void)state;
	/* Pure v2. */
	PARSE("0::/system.slice/docker-" ID_A ".scope\n", 0, "/system.slice/docker-" ID_A ".scope",
	      ID_A);
	/* Hybrid, systemd mirroring units into the unified tree: v2 wins. */
	PARSE("12:pids:/system.slice/nginx.service\n"
	      "3:cpu,cpuacct:/system.slice/nginx.service\n"
	      "1:name=systemd:/system.slice/nginx.service\n"
	      "0::/system.slice/nginx.service\n",
	      0, "/system.slice/nginx.service", "");
	/* Hybrid with "0::/" (as on this machine): the best v1 path. */
	PARSE("9:name=systemd:/docker/" ID_A "\n"
	      "4:memory:/docker/" ID_B "\n"
	      "1:cpu:/docker/" ID_C "\n"
	      "0::/\n",
	      0, "/docker/" ID_A, ID_A);
	PARSE("9:name=systemd:/\n"
	      "8:pids:/docker/" ID_A "\n"
	      "4:memory:/docker/" ID_B "\n"
	      "2:cpu,cpuacct:/docker/" ID_C "\n"
	      "0::/\n",
	      0, "/docker/" ID_C, ID_C);
	PARSE("9:name=systemd:/\n8:pids:/x/" ID_A "\n4:memory:/docker/" ID_B "\n0::/\n", 0,
	      "/docker/" ID_B, ID_B);
	PARSE("9:name=systemd:/\n8:pids:/docker/" ID_A "\n7:blkio:/other\n0::/\n", 0,
	      "/docker/" ID_A, ID_A);
	PARSE("9:name=systemd:/\n7:blkio:/other\n0::/\n", 0, "/other", "");
	PARSE("9:name=systemd:/\n"
	      "4:memory:/process_api/98070bb76d9a9cebe5ec9be66b4db182\n"
	      "1:cpu:/\n"
	      "0::/\n",
	      0, "/process_api/98070bb76d9a9cebe5ec9be66b4db182", "");
	/* Pure v1 (no 0:: line). */
	PARSE("2:cpu,cpuacct:/kubepods/burstable/pod" UID "/" ID_A "\n1:name=systemd:/kubepods/"
	      "burstable/pod" UID "/" ID_A "\n",
	      0, "/kubepods/burstable/pod" UID "/" ID_A, ID_A);
	/* Everything at the root. */
	PARSE("0::/\n", 0, "/", "");
	PARSE("9:name=systemd:/\n1:cpu:/\n0::/\n", 0, "/", "");
	/* No trailing newline. */
	PARSE("0::/system.slice/docker-" ID_A ".scope", 0, "/system.slice/docker-" ID_A ".scope",
	      ID_A);
	/* A cgroup removed under a zombie. */
	PARSE("0::/system.slice/docker-" ID_A ".scope (deleted)\n", 0,
	      "/system.slice/docker-" ID_A ".scope", ID_A);
	/*
	 * A newline inside a (delegated, unprivileged) cgroup name makes a line
	 * of its own after the kernel's last one: it must not name a container.
	 */
	PARSE("0::/user.slice/user-1000.slice/user@1000.service/evil\n0::/system.slice/docker-" ID_A
	      ".scope\n",
	      0, "/user.slice/user-1000.slice/user@1000.service/evil", "");
	PARSE("1:name=systemd:/user.slice/x\n0::/\n4:memory:/docker/" ID_A "\n", 0, "/user.slice/x",
	      "");
	/* Duplicate v1 ranks: the first line counts. */
	PARSE("4:memory:/a\n5:memory:/docker/" ID_A "\n0::/\n", 0, "/a", "");
	/* Garbage, with one good line among it. */
	PARSE("garbage\n:cpu:/x\nx:cpu:/y\n1:cpu\n1:cpu:relative\n0:cpu:/v2-with-controllers\n"
	      "1234567890:cpu:/too-many-digits\n2:cpu:/good\n",
	      0, "/good", "");
	/* Nothing valid. */
	PARSE("", -EINVAL, "", "");
	PARSE("\n\n\n", -EINVAL, "", "");
	PARSE("hello world", -EINVAL, "", "");
	PARSE("0:/docker\n", -EINVAL, "", "");
	/* Truncated lines. */
	PARSE("0::", -EINVAL, "", "");
	PARSE("0", -EINVAL, "", "");
	PARSE("0::/dock", 0, "/dock", "");
	PARSE("0::/system.slice/docker-"
	      "ca978112ca1bbdca",
	      0, "/system.slice/docker-ca978112ca1bbdca", "");
	assert_int_equal(procmeta_parse_cgroup_file(NULL, 0, &(struct procmeta){0}), -EINVAL);
	assert_int_equal(procmeta_parse_cgroup_file(NULL, 5, &(struct procmeta){0}), -EINVAL);
}

static void test_cgroup_file_nul(void **state)
{
	static const char text[] = "0::/system.slice/docker-" ID_A ".scope\0junk\n";
	static const char text2[] = "1:name=systemd:/a\0b\n2:cpu:/docker/" ID_B "\n0::/\n";
	struct procmeta m;

	(void)state;
	/* A NUL inside a line voids the line, not the file. */
	assert_int_equal(procmeta_parse_cgroup_file(text, sizeof(text) - 1, &m), -EINVAL);
	assert_string_equal(m.container_id, "");
	assert_int_equal(procmeta_parse_cgroup_file(text2, sizeof(text2) - 1, &m), 0);
	assert_string_equal(m.cgroup, "/docker/" ID_B);
	assert_string_equal(m.container_id, ID_B);
	/* Only @len bytes are looked at. */
	assert_int_equal(procmeta_parse_cgroup_file("0::/abc", 5, &m), 0);
	assert_string_equal(m.cgroup, "/a");
}

static void test_hostile_paths(void **state)
{
	const size_t big = 1 << 20;
	struct procmeta m;
	char *p;
	size_t i, n;
	uint32_t rnd = 12345;

	(void)state;
	/* 1 MiB of path: the container at the very end is still found, cgroup is cut. */
	p = malloc(big + 200);
	assert_non_null(p);
	for (i = 0; i + 2 <= big; i += 2)
		memcpy(p + i, "/a", 2);
	strcpy(p + i, "/docker-" ID_A ".scope");
	n = strlen(p);
	procmeta_parse_cgroup_path(p, &m);
	assert_string_equal(m.container_id, ID_A);
	memmove(p + 3, p, n + 1);
	memcpy(p, "0::", 3);
	assert_int_equal(procmeta_parse_cgroup_file(p, n + 3, &m), 0);
	assert_string_equal(m.container_id, ID_A);
	assert_int_equal(strlen(m.cgroup), sizeof(m.cgroup) - 1);
	assert_memory_equal(m.cgroup, "/a/a/a", 6);

	/* One component of 1 MiB; only slashes; long runs of hex. */
	memset(p, 'a', big);
	p[0] = '/';
	p[big] = '\0';
	expect_path(p, "", "", "", "", false);
	memset(p, '/', big);
	expect_path(p, "", "", "", "", false);
	memset(p, 'f', big);
	expect_path(p, "", "", "", "", false);
	memcpy(p + big - 6, ".scope", 6);
	expect_path(p, "", "", "", "", false);

	/* A cut in the middle of a UTF-8 character is backed off. */
	memcpy(p, "0::/x", 5);
	for (i = 5; i + 2 <= 599; i += 2)
		memcpy(p + i, "\xc3\xa9", 2);
	assert_int_equal(procmeta_parse_cgroup_file(p, 599, &m), 0);
	/* "/x" + 254 characters of 2 bytes: the 255th would end past byte 511. */
	assert_int_equal(strlen(m.cgroup), 510);

	/* Random bytes from an alphabet that makes lines, ids and prefixes likely. */
	for (i = 0; i < 20000; i++) {
		static const char alpha[] = "0123456789abcdef:/-_.\n\0 docker-scopepodcrio";
		size_t len = (i * 7) % 300, k;

		for (k = 0; k < len; k++) {
			rnd = rnd * 1103515245u + 12345u;
			p[k] = alpha[(rnd >> 16) % (sizeof(alpha) - 1)];
		}
		(void)procmeta_parse_cgroup_file(p, len, &m);
		assert_true(strlen(m.cgroup) < sizeof(m.cgroup));
		assert_true(strlen(m.container_id) == 0 || strlen(m.container_id) == 64);
	}
	free(p);
}

static int find(const char *json, const char *k1, const char *k2, char *out, size_t out_sz)
{
	const char *path[2] = {k1, k2};

	return procmeta_json_find_string(json, strlen(json), path, k2 ? 2 : 1, out, out_sz);
}

static void test_json(void **state)
{
	static const char spec[] =
	    "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"args\":[\"/pause\",\"{\\\"a\\\":1}\"],"
	    "\"env\":[\"annotations\",\"io.kubernetes.pod.name\"]},"
	    "\"hostname\": \"io.kubernetes.pod.name\" ,"
	    "\"linux\":{\"annotations\":{\"io.kubernetes.pod.name\":\"wrong-depth\"}},"
	    "\"nested\":[{\"annotations\":{\"io.kubernetes.pod.name\":\"in-array\"}}],"
	    "\"annotations\" : {\n"
	    "  \"io.kubernetes.cri.container-type\": \"container\",\n"
	    "  \"io.kubernetes.cri.sandbox-name\": \"web-7d4b9c8f6-x2x9q\",\n"
	    "  \"io.kubernetes.cri.sandbox-namespace\": \"prod\",\n"
	    "  \"io.kubernetes.cri.container-name\": \"nginx\",\n"
	    "  \"n\": 42, \"b\": true, \"o\": {\"io.kubernetes.cri.container-name\": \"deeper\"},\n"
	    "  \"esc\": \"a\\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\",\n"
	    "  \"esc\\u002ekey\": \"escaped key\",\n"
	    "  \"ctl\": \"a\\nb\", \"raw\\u0001\": \"x\", \"uni\": \"\\u0000\",\n"
	    "  \"lone\": \"\\ud83d\", \"badesc\": \"\\q\", \"bad8\": \"\xff\",\n"
	    "  \"nested\": \"{\\\"io.kubernetes.cri.container-name\\\": \\\"in-string\\\"}\"\n"
	    "}}";
	char out[128], tiny[4];

	(void)state;
	assert_int_equal(
	    find(spec, "annotations", "io.kubernetes.cri.container-name", out, sizeof(out)), 5);
	assert_string_equal(out, "nginx");
	assert_int_equal(
	    find(spec, "annotations", "io.kubernetes.cri.sandbox-name", out, sizeof(out)), 19);
	assert_string_equal(out, "web-7d4b9c8f6-x2x9q");
	assert_int_equal(
	    find(spec, "annotations", "io.kubernetes.cri.sandbox-namespace", out, sizeof(out)), 4);
	/* Not at that depth, in an array, inside a string, a value that is no string. */
	assert_int_equal(find(spec, "annotations", "io.kubernetes.pod.name", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(find(spec, "io.kubernetes.pod.name", NULL, out, sizeof(out)), -ENOENT);
	assert_int_equal(find(spec, "annotations", "n", out, sizeof(out)), -ENOENT);
	assert_int_equal(find(spec, "annotations", "o", out, sizeof(out)), -ENOENT);
	assert_int_equal(find(spec, "annotations", "missing", out, sizeof(out)), -ENOENT);
	assert_int_equal(find(spec, "hostname", NULL, out, sizeof(out)), 22);
	assert_string_equal(out, "io.kubernetes.pod.name");
	assert_int_equal(find(spec, "ociVersion", NULL, out, sizeof(out)), 9);
	/* Escapes, in values and in keys. */
	assert_int_equal(find(spec, "annotations", "esc", out, sizeof(out)), 13);
	assert_string_equal(out, "a\"b\\c/d\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(find(spec, "annotations", "esc.key", out, sizeof(out)), 11);
	assert_string_equal(out, "escaped key");
	/* Control characters, lone surrogates, bad escapes, invalid UTF-8. */
	assert_int_equal(find(spec, "annotations", "ctl", out, sizeof(out)), -EINVAL);
	assert_int_equal(find(spec, "annotations", "raw\x01", out, sizeof(out)), -ENOENT);
	assert_int_equal(find(spec, "annotations", "uni", out, sizeof(out)), -EINVAL);
	assert_int_equal(find(spec, "annotations", "lone", out, sizeof(out)), -EINVAL);
	assert_int_equal(find(spec, "annotations", "badesc", out, sizeof(out)), -EINVAL);
	assert_int_equal(find(spec, "annotations", "bad8", out, sizeof(out)), -EINVAL);
	/* Does not fit: cut on a character boundary. */
	assert_int_equal(
	    find(spec, "annotations", "io.kubernetes.cri.container-name", tiny, sizeof(tiny)), 3);
	assert_string_equal(tiny, "ngi");
	assert_int_equal(find("{\"k\":\"a\xc3\xa9\"}", "k", NULL, tiny, sizeof(tiny)), 3);
	assert_int_equal(find("{\"k\":\"ab\xc3\xa9\"}", "k", NULL, tiny, sizeof(tiny)), 2);
	assert_string_equal(tiny, "ab");
	/* Truncated documents and odd inputs. */
	assert_int_equal(find("{\"annotations\":{\"k\":\"v", "annotations", "k", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(find("{\"annotations\":{\"k\"", "annotations", "k", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(find("{\"k\":\"v\\", "k", NULL, out, sizeof(out)), -ENOENT);
	assert_int_equal(find("}}}]]{\"k\":\"v\"}", "k", NULL, out, sizeof(out)), 1);
	assert_int_equal(find("[{\"k\":\"v\"}]", "k", NULL, out, sizeof(out)), -ENOENT);
	assert_int_equal(find("{\"k\":\"\"}", "k", NULL, out, sizeof(out)), 0);
	assert_int_equal(find("", "k", NULL, out, sizeof(out)), -ENOENT);
	{
		const char *path[5] = {"a", "b", "c", "d", "e"};

		assert_int_equal(procmeta_json_find_string("{}", 2, path, 5, out, sizeof(out)),
				 -EINVAL);
		assert_int_equal(procmeta_json_find_string("{}", 2, path, 0, out, sizeof(out)),
				 -EINVAL);
		assert_int_equal(procmeta_json_find_string("{}", 2, path, 1, out, 0), -EINVAL);
		assert_int_equal(procmeta_json_find_string(NULL, 2, path, 1, out, sizeof(out)),
				 -EINVAL);
		static const char deep[] = "{\"a\":{\"b\":{\"c\":{\"d\":\"deep\"}}}}";

		assert_int_equal(
		    procmeta_json_find_string(deep, strlen(deep), path, 4, out, sizeof(out)), 4);
		assert_string_equal(out, "deep");
	}
}

static void test_json_deep(void **state)
{
	const size_t depth = 200000;
	const char *path[2] = {"annotations", "k"};
	char out[16], *doc = malloc(2 * depth + 64);
	size_t n = 0, i;

	(void)state;
	assert_non_null(doc);
	/* Deep nesting costs nothing (no recursion) and the match after it still counts. */
	n += (size_t)sprintf(doc, "{\"x\":");
	for (i = 0; i < depth; i++)
		doc[n++] = '[';
	for (i = 0; i < depth; i++)
		doc[n++] = ']';
	n += (size_t)sprintf(doc + n, ",\"annotations\":{\"k\":\"v\"}}");
	assert_int_equal(procmeta_json_find_string(doc, n, path, 2, out, sizeof(out)), 1);
	assert_string_equal(out, "v");
	free(doc);
}

static void fmt(const char *raw, size_t len, bool is_cut, const char *want)
{
	char out[PROCMETA_CMDLINE_MAX];

	assert_int_equal(procmeta_format_cmdline(raw, len, is_cut, out, sizeof(out)), strlen(want));
	assert_string_equal(out, want);
}

#define FMT(raw, is_cut, want) fmt(raw, sizeof(raw) - 1, is_cut, want)

static void test_cmdline_format(void **state)
{
	char raw[600], want[300], out[8];
	size_t i;

	(void)state;
	FMT("nginx: master process /usr/sbin/nginx\0", false,
	    "nginx: master process /usr/sbin/nginx");
	FMT("/usr/bin/python3\0-m\0http.server\0\0\0\0", false, "/usr/bin/python3 -m http.server");
	FMT("a\0\0b\0", false, "a  b");
	FMT("", false, "");
	FMT("\0\0\0", false, "");
	/* Control bytes, DEL, C1 controls and invalid UTF-8 are escaped; valid UTF-8 kept. */
	FMT("echo\0\x1b[31mred\0", false, "echo \\x1b[31mred");
	FMT("a\tb\nc\x7f\0", false, "a\\x09b\\x0ac\\x7f");
	FMT("caf\xc3\xa9 \xf0\x9f\x98\x80\0", false, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	FMT("nel\xc2\x85!\0", false, "nel\\xc2\\x85!");
	FMT("bad\xff\xc3(\xe2\x82\0", false, "bad\\xff\\xc3(\\xe2\\x82");
	FMT("overlong\xc0\xaf surrogate\xed\xa0\x80\0", false,
	    "overlong\\xc0\\xaf surrogate\\xed\\xa0\\x80");
	/* The caller read only part of it. */
	FMT("short\0", true, "short...");

	/* Exactly 255 bytes fit; 256 do not. */
	memset(raw, 'a', 255);
	memcpy(want, raw, 255);
	want[255] = '\0';
	fmt(raw, 255, false, want);
	memset(raw, 'a', 256);
	memcpy(want + 252, "...", 4);
	fmt(raw, 256, false, want);
	/* The cut never splits a character or an escape. */
	for (i = 0; i < 300; i += 2)
		memcpy(raw + i, "\xc3\xa9", 2);
	for (i = 0; i < 252; i += 2)
		memcpy(want + i, "\xc3\xa9", 2);
	strcpy(want + 252, "...");
	fmt(raw, 300, false, want);
	memset(raw, 'a', 300);
	raw[251] = '\x01';
	memcpy(want, raw, 251);
	strcpy(want + 251, "...");
	fmt(raw, 300, false, want);
	memset(raw, 'a', 300);
	raw[249] = '\x01';
	/* The escape would end at 253, past the last place "..." can start. */
	memcpy(want, raw, 249);
	strcpy(want + 249, "...");
	fmt(raw, 300, false, want);
	memset(raw, 'a', 300);
	raw[248] = '\x01';
	memcpy(want, raw, 248);
	strcpy(want + 248, "\\x01...");
	fmt(raw, 300, false, want);
	/* Tiny buffers. */
	assert_int_equal(procmeta_format_cmdline("abcdefgh", 8, false, out, 8), 7);
	assert_string_equal(out, "abcd...");
	assert_int_equal(procmeta_format_cmdline("abcdefgh", 8, false, out, 3), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(procmeta_format_cmdline("abcdefgh", 8, false, out, 1), 0);
	assert_int_equal(procmeta_format_cmdline(NULL, 8, false, out, sizeof(out)), 0);
	assert_int_equal(procmeta_format_cmdline("x", 1, false, NULL, 0), 0);
}

/* ---- fake trees ---- */

static void make_tmp(char *buf, size_t sz, const char *name)
{
	const char *tmp = getenv("STACKD_TEST_TMP");

	snprintf(buf, sz, "%s/%s.XXXXXX", tmp ? tmp : "/tmp", name);
	assert_non_null(mkdtemp(buf));
}

static void mkdir_p(const char *path)
{
	char tmp[1024];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(tmp, 0755);
		*p = '/';
	}
	mkdir(tmp, 0755);
}

static void write_file(const char *path, const void *data, size_t len)
{
	char dir[1024], *slash;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	mkdir_p(dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void write_str(const char *path, const char *s)
{
	write_file(path, s, strlen(s));
}

static void put_proc(const char *root, int pid, const char *cgroup, const void *cmdline,
		     size_t cmdline_len)
{
	char path[1024];

	if (cgroup) {
		snprintf(path, sizeof(path), "%s/%d/cgroup", root, pid);
		write_str(path, cgroup);
	}
	if (cmdline) {
		snprintf(path, sizeof(path), "%s/%d/cmdline", root, pid);
		write_file(path, cmdline, cmdline_len);
	}
}

static void rm_rf(const char *path)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static void test_read_fake_proc(void **state)
{
	static const char cmd[] = "/usr/sbin/nginx\0-g\0daemon off;\0";
	char root[512], proc[600], cg[600], path[1024], *big;
	struct procmeta_reader *r = NULL;
	struct procmeta_stats st;
	struct procmeta m;
	struct stat sb;

	(void)state;
	make_tmp(root, sizeof(root), "procmeta");
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(cg, sizeof(cg), "%s/cgroup2", root);
	snprintf(path, sizeof(path), "%s/system.slice/nginx.service", cg);
	mkdir_p(path);
	assert_int_equal(stat(path, &sb), 0);
	put_proc(proc, 100, "0::/system.slice/nginx.service\n", cmd, sizeof(cmd) - 1);
	/* A process gone between its cgroup and its cmdline. */
	put_proc(proc, 101, "0::/system.slice/docker-" ID_A ".scope\n", NULL, 0);
	/* A cmdline longer than the read cap. */
	big = malloc(10000);
	assert_non_null(big);
	memset(big, 'x', 10000);
	put_proc(proc, 102,
		 "12:pids:/\n1:name=systemd:/user.slice/user-1000.slice/session-2.scope\n"
		 "0::/user.slice/user-1000.slice/session-2.scope (deleted)\n",
		 big, 10000);
	free(big);
	/* A cgroup file of junk: not an error. */
	put_proc(proc, 103, "junk", "sh\0", 3);

	assert_int_equal(procmeta_reader_new(&(struct procmeta_opts){.proc_root = proc,
								     .cgroup2_mount = cg,
								     .runtime_root = root},
					     &r),
			 0);
	assert_int_equal(procmeta_read(r, 100, &m), 0);
	assert_string_equal(m.cgroup, "/system.slice/nginx.service");
	assert_int_equal(m.cgroup_id, (uint64_t)sb.st_ino);
	assert_string_equal(m.unit, "nginx.service");
	assert_string_equal(m.cmdline, "/usr/sbin/nginx -g daemon off;");
	assert_string_equal(m.container_id, "");

	assert_int_equal(procmeta_read(r, 101, &m), -ESRCH);
	assert_string_equal(m.container_id, ID_A);
	assert_string_equal(m.container_runtime, "docker");
	assert_int_equal(m.cgroup_id, 0); /* no such directory under the mount */
	assert_string_equal(m.cmdline, "");

	assert_int_equal(procmeta_read(r, 102, &m), 0);
	assert_string_equal(m.cgroup, "/user.slice/user-1000.slice/session-2.scope");
	assert_string_equal(m.unit, "session-2.scope");
	assert_int_equal(strlen(m.cmdline), PROCMETA_CMDLINE_MAX - 1);
	assert_string_equal(m.cmdline + PROCMETA_CMDLINE_MAX - 4, "...");

	assert_int_equal(procmeta_read(r, 103, &m), 0);
	assert_string_equal(m.cgroup, "");
	assert_string_equal(m.cmdline, "sh");

	/* Never there at all. */
	assert_int_equal(procmeta_read(r, 4242, &m), -ESRCH);
	assert_string_equal(m.cgroup, "");
	assert_int_equal(procmeta_read(r, 0, &m), -EINVAL);
	assert_int_equal(procmeta_read(r, -1, &m), -EINVAL);

	procmeta_get_stats(r, &st);
	assert_int_equal(st.reads, 5);
	assert_int_equal(st.vanished, 2);
	procmeta_reader_free(r);

	/* Hostile /proc: a FIFO does not block, a directory is no file. */
	snprintf(path, sizeof(path), "%s/104", proc);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/104/cgroup", proc);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/104/cmdline", proc);
	mkdir_p(path);
	assert_int_equal(procmeta_reader_new(
			     &(struct procmeta_opts){.proc_root = proc, .cgroup2_mount = ""}, &r),
			 0);
	assert_int_equal(procmeta_read(r, 104, &m), -EINVAL);
	assert_string_equal(m.cgroup, "");
	/* cgroup2_mount "": ids are never resolved. */
	assert_int_equal(procmeta_read(r, 100, &m), 0);
	assert_int_equal(m.cgroup_id, 0);
	procmeta_reader_free(r);
	procmeta_reader_free(NULL);
	rm_rf(root);
}

static void test_mountinfo(void **state)
{
	char root[512], proc[600], mnt[700], path[1024], info[4096];
	struct procmeta_reader *r = NULL;
	struct procmeta m;
	struct stat sb;

	(void)state;
	make_tmp(root, sizeof(root), "procmeta_mnt");
	snprintf(proc, sizeof(proc), "%s/proc", root);
	/* A mount point with a space: mountinfo writes it as \040. */
	snprintf(mnt, sizeof(mnt), "%s/sys fs/unified", root);
	snprintf(path, sizeof(path), "%s/kubepods.slice/cri-containerd-" ID_A ".scope", mnt);
	mkdir_p(path);
	assert_int_equal(stat(path, &sb), 0);
	snprintf(info, sizeof(info),
		 "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
		 "31 23 0:28 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755\n"
		 "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
		 /* A container's view of a subtree: shifts paths, must be skipped. */
		 "40 31 0:38 /kubepods.slice /elsewhere rw,relatime - cgroup2 cgroup2 rw\n"
		 "41 31 0:38 / %.*s\\040fs/unified rw,nosuid,nodev,noexec,relatime shared:10 - "
		 "cgroup2 cgroup2 rw,nsdelegate\n",
		 (int)(strchr(mnt + strlen(root), ' ') - mnt), mnt);
	snprintf(path, sizeof(path), "%s/self/mountinfo", proc);
	write_str(path, info);
	put_proc(proc, 7,
		 "9:name=systemd:/kubepods.slice/cri-containerd-" ID_A ".scope\n"
		 "0::/kubepods.slice/cri-containerd-" ID_A ".scope\n",
		 "pause\0", 6);
	assert_int_equal(procmeta_reader_new(&(struct procmeta_opts){.proc_root = proc}, &r), 0);
	assert_int_equal(procmeta_read(r, 7, &m), 0);
	assert_int_equal(m.cgroup_id, (uint64_t)sb.st_ino);
	assert_string_equal(m.container_runtime, "containerd");
	procmeta_reader_free(r);

	/* No cgroup2 at all (pure v1): fine, no ids. */
	write_str(path, "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n");
	assert_int_equal(procmeta_reader_new(&(struct procmeta_opts){.proc_root = proc}, &r), 0);
	assert_int_equal(procmeta_read(r, 7, &m), 0);
	assert_int_equal(m.cgroup_id, 0);
	procmeta_reader_free(r);

	/* A "/.." path (outside our cgroup namespace) is never looked up, even if it resolves. */
	snprintf(path, sizeof(path), "%s/kubepods.slice", root);
	mkdir_p(path);
	put_proc(proc, 8, "0::/../../kubepods.slice\n", "x\0", 2);
	assert_int_equal(procmeta_reader_new(
			     &(struct procmeta_opts){.proc_root = proc, .cgroup2_mount = mnt}, &r),
			 0);
	assert_int_equal(procmeta_read(r, 8, &m), 0);
	assert_int_equal(m.cgroup_id, 0);
	procmeta_reader_free(r);

	/* Options too long for the reader. */
	memset(path, 'a', 300);
	path[300] = '\0';
	assert_int_equal(procmeta_reader_new(&(struct procmeta_opts){.proc_root = path}, &r),
			 -ENAMETOOLONG);
	assert_null(r);
	rm_rf(root);
}

/* What cgroup_id should be for this process, worked out independently. */
static uint64_t expected_self_cgroup_id(void)
{
	static const char *const mounts[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
	char line[4096], path[8192];
	struct statfs sfs;
	struct stat sb;
	uint64_t id = 0;
	FILE *f = fopen("/proc/self/cgroup", "r");
	size_t i;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (i = 0; i < 2 && !id; i++) {
			if (statfs(mounts[i], &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
				continue;
			snprintf(path, sizeof(path), "%s%s", mounts[i], line + 3);
			if (stat(path, &sb) == 0)
				id = sb.st_ino;
		}
	}
	fclose(f);
	return id;
}

static void test_read_self(void **state)
{
	struct procmeta_reader *r = NULL;
	struct procmeta m;

	(void)state;
	assert_int_equal(procmeta_reader_new(NULL, &r), 0);
	assert_int_equal(procmeta_read(r, getpid(), &m), 0);
	assert_non_null(strstr(m.cmdline, "test_procmeta"));
	assert_true(m.cgroup[0] == '/');
	/* Hybrid (unified at /sys/fs/cgroup/unified) and pure v2 alike. */
	assert_int_equal(m.cgroup_id, expected_self_cgroup_id());
	procmeta_reader_free(r);
}

static void runtime_file(const char *root, const char *rel, const char *content)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	write_str(path, content);
}

static void test_names(void **state)
{
	char root[512], proc[600];
	struct procmeta_reader *r = NULL;
	struct procmeta_stats st;
	struct procmeta m;

	(void)state;
	make_tmp(root, sizeof(root), "procmeta_rt");
	snprintf(proc, sizeof(proc), "%s/proc", root);

	/* containerd CRI: the OCI bundle's annotations. */
	runtime_file(
	    root, "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" ID_A "/config.json",
	    "{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"nginx\"]},\"annotations\":{"
	    "\"io.kubernetes.cri.container-name\":\"nginx\","
	    "\"io.kubernetes.cri.container-type\":\"container\","
	    "\"io.kubernetes.cri.sandbox-name\":\"web-7d4b9c8f6-x2x9q\","
	    "\"io.kubernetes.cri.sandbox-namespace\":\"prod\"}}");
	put_proc(proc, 10,
		 "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_SD
		 ".slice/cri-containerd-" ID_A ".scope\n",
		 "nginx\0", 6);
	/* CRI-O: the container's userdata config.json (run dir). */
	runtime_file(root,
		     "/run/containers/storage/overlay-containers/" ID_B "/userdata/config.json",
		     "{\"annotations\":{\"io.kubernetes.container.name\":\"redis\","
		     "\"io.kubernetes.cri-o.ContainerName\":\"k8s_redis_cache-0_data_" UID "_0\","
		     "\"io.kubernetes.pod.name\":\"cache-0\","
		     "\"io.kubernetes.pod.namespace\":\"data\"}}");
	put_proc(proc, 11, "0::/kubepods/burstable/pod" UID "/crio-" ID_B "\n", "redis\0", 6);
	put_proc(proc, 12, "0::/kubepods/burstable/pod" UID "/crio-conmon-" ID_B "\n", "conmon\0",
		 7);
	/* docker: config.v2.json "Name", nested "Name"s ignored. */
	runtime_file(root, "/var/lib/docker/containers/" ID_C "/config.v2.json",
		     "{\"State\":{\"Running\":true},\"ID\":\"" ID_C "\","
		     "\"Config\":{\"Hostname\":\"x\",\"Labels\":{\"Name\":\"label\"}},"
		     "\"Name\":\"/happy_turing\",\"MountPoints\":{\"/data\":{\"Name\":\"vol\"}}}");
	put_proc(proc, 13, "0::/system.slice/docker-" ID_C ".scope\n", "sleep\0", 6);
	/* podman: no names, and nothing is read for it. */
	put_proc(proc, 14, "0::/machine.slice/libpod-" ID_A ".scope\n", "x\0", 2);

	assert_int_equal(procmeta_reader_new(&(struct procmeta_opts){.proc_root = proc,
								     .cgroup2_mount = "",
								     .runtime_root = root},
					     &r),
			 0);
	assert_int_equal(procmeta_read(r, 10, &m), 0);
	assert_string_equal(m.container_runtime, "containerd");
	assert_string_equal(m.container_name, "nginx");
	assert_string_equal(m.pod_name, "web-7d4b9c8f6-x2x9q");
	assert_string_equal(m.pod_namespace, "prod");
	assert_string_equal(m.pod_uid, UID);

	assert_int_equal(procmeta_read(r, 11, &m), 0);
	assert_string_equal(m.container_runtime, "cri-o");
	assert_string_equal(m.container_name, "redis");
	assert_string_equal(m.pod_name, "cache-0");
	assert_string_equal(m.pod_namespace, "data");
	assert_false(m.is_conmon);
	/* conmon of the same container: same names, from the cache. */
	assert_int_equal(procmeta_read(r, 12, &m), 0);
	assert_true(m.is_conmon);
	assert_string_equal(m.container_id, ID_B);
	assert_string_equal(m.container_name, "redis");

	assert_int_equal(procmeta_read(r, 13, &m), 0);
	assert_string_equal(m.container_runtime, "docker");
	assert_string_equal(m.container_name, "happy_turing");
	assert_string_equal(m.pod_name, "");

	assert_int_equal(procmeta_read(r, 14, &m), 0);
	assert_string_equal(m.container_runtime, "podman");
	assert_string_equal(m.container_name, "");

	procmeta_get_stats(r, &st);
	assert_int_equal(st.name_lookups, 4);
	assert_int_equal(st.name_cache_hits, 1);

	/* Cached: deleting the files changes nothing, and nothing is read again. */
	rm_rf(root);
	put_proc(proc, 10,
		 "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_SD
		 ".slice/cri-containerd-" ID_A ".scope\n",
		 "nginx\0", 6);
	assert_int_equal(procmeta_read(r, 10, &m), 0);
	assert_string_equal(m.container_name, "nginx");
	procmeta_get_stats(r, &st);
	assert_int_equal(st.name_lookups, 4);
	assert_int_equal(st.name_cache_hits, 2);
	procmeta_reader_free(r);
	rm_rf(root);
}

static void test_names_fallbacks(void **state)
{
	char root[512], proc[600], rel[1024];
	struct procmeta_reader *r = NULL;
	struct procmeta_stats st;
	struct procmeta m;

	(void)state;
	make_tmp(root, sizeof(root), "procmeta_fb");
	snprintf(proc, sizeof(proc), "%s/proc", root);
	/* cri-dockerd: a bare id under a pod, known to docker only; dockershim's name format. */
	runtime_file(root, "/var/lib/docker/containers/" ID_A "/config.v2.json",
		     "{\"Name\":\"/k8s_app_api-5f6d_team-a_" UID "_3\"}");
	put_proc(proc, 20, "0::/kubepods/burstable/pod" UID "/" ID_A "\n", "app\0", 4);
	/* A bare id of unknown runtime (docker --cgroup-parent). */
	runtime_file(root, "/var/lib/docker/containers/" ID_B "/config.v2.json",
		     "{\"Name\":\"/ci-runner\"}");
	put_proc(proc, 21, "0::/actions_job/" ID_B "\n", "run\0", 4);
	/* CRI-O state only in the persistent dir. */
	runtime_file(root,
		     "/var/lib/containers/storage/overlay-containers/" ID_C "/userdata/config.json",
		     "{\"annotations\":{\"io.kubernetes.container.name\":\"db\"}}");
	put_proc(proc, 22, "0::/kubepods.slice/crio-" ID_C ".scope\n", "db\0", 3);
	/* nerdctl: containerd's default namespace. */
	runtime_file(root,
		     "/run/containerd/io.containerd.runtime.v2.task/default/" ID_C "/config.json",
		     "{\"annotations\":{\"nerdctl/name\":\"web1\"}}");
	put_proc(proc, 23, "0::/system.slice/nerdctl-" ID_C ".scope\n", "web\0", 4);
	/* Hostile state: a FIFO, a huge file, garbage, a non-k8s_ docker name with underscores. */
	snprintf(rel, sizeof(rel), "%s/var/lib/docker/containers/" ID_C, root);
	mkdir_p(rel);
	strcat(rel, "/config.v2.json");
	assert_int_equal(mkfifo(rel, 0600), 0);
	put_proc(proc, 24, "0::/docker/" ID_C "\n", "x\0", 2);
	/* The name past the 1 MiB read cap is not seen. */
	{
		size_t pad = PROCMETA_STATE_MAX + 100;
		char *big = malloc(pad + 64);

		assert_non_null(big);
		big[0] = '{';
		memset(big + 1, ' ', pad);
		strcpy(big + 1 + pad, "\"Name\":\"/late\"}");
		snprintf(rel, sizeof(rel), "%s/var/lib/docker/containers/" ID_D "/config.v2.json",
			 root);
		write_file(rel, big, strlen(big));
		free(big);
	}
	put_proc(proc, 25, "0::/docker/" ID_D "\n", "x\0", 2);
	/* Garbage, and a name with control characters. */
	runtime_file(root, "/var/lib/docker/containers/" ID_E "/config.v2.json",
		     "\x7f\x45LF\x01\x02\"Name\"\x03\"x\"}}}}{\"Name\":\"/a\\u001b[31m\"}");
	put_proc(proc, 26, "0::/docker/" ID_E "\n", "x\0", 2);

	assert_int_equal(procmeta_reader_new(&(struct procmeta_opts){.proc_root = proc,
								     .cgroup2_mount = "",
								     .runtime_root = root},
					     &r),
			 0);
	assert_int_equal(procmeta_read(r, 20, &m), 0);
	assert_string_equal(m.container_runtime, "docker");
	assert_string_equal(m.container_name, "app");
	assert_string_equal(m.pod_name, "api-5f6d");
	assert_string_equal(m.pod_namespace, "team-a");

	assert_int_equal(procmeta_read(r, 21, &m), 0);
	assert_string_equal(m.container_runtime, "docker");
	assert_string_equal(m.container_name, "ci-runner");

	assert_int_equal(procmeta_read(r, 22, &m), 0);
	assert_string_equal(m.container_runtime, "cri-o");
	assert_string_equal(m.container_name, "db");
	assert_string_equal(m.pod_name, "");

	assert_int_equal(procmeta_read(r, 23, &m), 0);
	assert_string_equal(m.container_runtime, "containerd");
	assert_string_equal(m.container_name, "web1");

	assert_int_equal(procmeta_read(r, 24, &m), 0);
	assert_string_equal(m.container_runtime, "docker");
	assert_string_equal(m.container_name, "");

	assert_int_equal(procmeta_read(r, 25, &m), 0);
	assert_string_equal(m.container_name, "");
	assert_int_equal(procmeta_read(r, 26, &m), 0);
	assert_string_equal(m.container_name, "");

	/* Negative results are cached too. */
	procmeta_get_stats(r, &st);
	assert_int_equal(st.name_lookups, 7);
	assert_int_equal(procmeta_read(r, 24, &m), 0);
	procmeta_get_stats(r, &st);
	assert_int_equal(st.name_lookups, 7);
	assert_int_equal(st.name_cache_hits, 1);
	procmeta_reader_free(r);
	rm_rf(root);
}

static void docker_pid(const char *proc, unsigned i)
{
	char cg[128];

	snprintf(cg, sizeof(cg), "0::/docker/%064x\n", i);
	put_proc(proc, 30, cg, NULL, 0);
}

static void test_name_cache_bound(void **state)
{
	char root[512], proc[600];
	struct procmeta_reader *r = NULL;
	struct procmeta_stats st;
	struct procmeta m;
	unsigned i;

	(void)state;
	make_tmp(root, sizeof(root), "procmeta_lru");
	snprintf(proc, sizeof(proc), "%s/proc", root);
	put_proc(proc, 30, "0::/\n", "x\0", 2);
	assert_int_equal(procmeta_reader_new(&(struct procmeta_opts){.proc_root = proc,
								     .cgroup2_mount = "",
								     .runtime_root = root},
					     &r),
			 0);
	/* Fill the cache, then use entry 0 once more: its second chance. */
	for (i = 0; i < PROCMETA_NAME_CACHE_MAX; i++) {
		docker_pid(proc, i);
		assert_int_equal(procmeta_read(r, 30, &m), 0);
	}
	docker_pid(proc, 0);
	assert_int_equal(procmeta_read(r, 30, &m), 0);
	procmeta_get_stats(r, &st);
	assert_int_equal(st.name_lookups, PROCMETA_NAME_CACHE_MAX);
	assert_int_equal(st.name_cache_hits, 1);
	assert_int_equal(st.name_cache_evictions, 0);

	/* One more: entry 1 goes, entry 0 stays. */
	docker_pid(proc, 1000);
	assert_int_equal(procmeta_read(r, 30, &m), 0);
	docker_pid(proc, 0);
	assert_int_equal(procmeta_read(r, 30, &m), 0);
	procmeta_get_stats(r, &st);
	assert_int_equal(st.name_cache_evictions, 1);
	assert_int_equal(st.name_cache_hits, 2);
	docker_pid(proc, 1);
	assert_int_equal(procmeta_read(r, 30, &m), 0);
	procmeta_get_stats(r, &st);
	assert_int_equal(st.name_lookups, PROCMETA_NAME_CACHE_MAX + 2);
	assert_int_equal(st.name_cache_evictions, 2);

	/* Many more: the cache never holds more than its cap. */
	for (i = 2000; i < 3000; i++) {
		docker_pid(proc, i);
		assert_int_equal(procmeta_read(r, 30, &m), 0);
	}
	procmeta_get_stats(r, &st);
	assert_int_equal(st.name_lookups - st.name_cache_evictions, PROCMETA_NAME_CACHE_MAX);
	/* Same id, other runtime: another key. */
	put_proc(proc, 30, "0::/system.slice/crio-" ID_A ".scope\n", NULL, 0);
	assert_int_equal(procmeta_read(r, 30, &m), 0);
	put_proc(proc, 30, "0::/system.slice/docker-" ID_A ".scope\n", NULL, 0);
	assert_int_equal(procmeta_read(r, 30, &m), 0);
	procmeta_get_stats(r, &st);
	assert_int_equal(st.name_lookups, PROCMETA_NAME_CACHE_MAX + 2 + 1000 + 2);
	procmeta_reader_free(r);
	rm_rf(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_docker),
	    cmocka_unit_test(test_kubernetes),
	    cmocka_unit_test(test_crio),
	    cmocka_unit_test(test_podman),
	    cmocka_unit_test(test_kind),
	    cmocka_unit_test(test_units),
	    cmocka_unit_test(test_not_containers),
	    cmocka_unit_test(test_cgroup_file),
	    cmocka_unit_test(test_cgroup_file_nul),
	    cmocka_unit_test(test_hostile_paths),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_json_deep),
	    cmocka_unit_test(test_cmdline_format),
	    cmocka_unit_test(test_read_fake_proc),
	    cmocka_unit_test(test_mountinfo),
	    cmocka_unit_test(test_read_self),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_names_fallbacks),
	    cmocka_unit_test(test_name_cache_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
