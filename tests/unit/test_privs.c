// SPDX-License-Identifier: Apache-2.0
/*
 * Least privilege: which capabilities stay after start-up on which kernel, their names,
 * the config-file ownership rules, and the --check / --run-as-user flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "privs.h"
#include "stackd.h"

#define C(x) PRIVS_CAP(x)
/* What stays on every supported kernel: reading other processes' /proc and binaries. */
#define BASE (C(CAP_SYS_PTRACE) | C(CAP_DAC_READ_SEARCH))

static struct privs_env env_of(unsigned major, unsigned minor, int last, int kptr, int paranoid,
			       int unpriv_bpf)
{
	return (struct privs_env){
	    .kernel_major = major,
	    .kernel_minor = minor,
	    .cap_last_cap = last,
	    .kptr_restrict = kptr,
	    .perf_event_paranoid = paranoid,
	    .unprivileged_bpf_disabled = unpriv_bpf,
	};
}

static void test_needed_caps_recent_kernel(void **state)
{
	struct privs_env e;

	(void)state;
	/* This project's CI machine: 6.x, kptr_restrict 0, paranoid 2, unprivileged BPF off. */
	e = env_of(6, 18, 40, 0, 2, 2);
	assert_int_equal(privs_needed_caps(&e), BASE | C(CAP_CHECKPOINT_RESTORE) | C(CAP_SYSLOG));
	/* Debian's default paranoid 3 is the same case. */
	e = env_of(6, 5, 40, 0, 3, 2);
	assert_int_equal(privs_needed_caps(&e), BASE | C(CAP_CHECKPOINT_RESTORE) | C(CAP_SYSLOG));
	/* kallsyms open to all (kptr 0, paranoid <= 1): no CAP_SYSLOG. */
	e = env_of(6, 8, 40, 0, 1, 2);
	assert_int_equal(privs_needed_caps(&e), BASE | C(CAP_CHECKPOINT_RESTORE));
	e = env_of(6, 8, 40, 0, -1, 2);
	assert_int_equal(privs_needed_caps(&e), BASE | C(CAP_CHECKPOINT_RESTORE));
	/* kptr 1: CAP_SYSLOG whatever paranoid says. */
	e = env_of(6, 8, 40, 1, -1, 2);
	assert_int_equal(privs_needed_caps(&e), BASE | C(CAP_CHECKPOINT_RESTORE) | C(CAP_SYSLOG));
	/* kptr 2 hides addresses from everyone: the capability would buy nothing. */
	e = env_of(6, 8, 40, 2, 2, 2);
	assert_int_equal(privs_needed_caps(&e), BASE | C(CAP_CHECKPOINT_RESTORE));
}

static void test_needed_caps_old_kernels(void **state)
{
	struct privs_env e;

	(void)state;
	/* Before 6.5 every bpf() command needs CAP_BPF when unprivileged BPF is disabled. */
	e = env_of(6, 1, 40, 1, 2, 2);
	assert_int_equal(privs_needed_caps(&e),
			 BASE | C(CAP_CHECKPOINT_RESTORE) | C(CAP_SYSLOG) | C(CAP_BPF));
	e = env_of(5, 15, 40, 1, 2, 1);
	assert_int_equal(privs_needed_caps(&e),
			 BASE | C(CAP_CHECKPOINT_RESTORE) | C(CAP_SYSLOG) | C(CAP_BPF));
	/* ... but not when it is enabled. */
	e = env_of(6, 4, 40, 1, 2, 0);
	assert_int_equal(privs_needed_caps(&e), BASE | C(CAP_CHECKPOINT_RESTORE) | C(CAP_SYSLOG));
	/* 6.5 is the first kernel without the global check. */
	e = env_of(6, 5, 40, 1, 2, 2);
	assert_int_equal(privs_needed_caps(&e), BASE | C(CAP_CHECKPOINT_RESTORE) | C(CAP_SYSLOG));
	/* 5.8: CAP_BPF exists, CAP_CHECKPOINT_RESTORE not yet: map_files needs CAP_SYS_ADMIN. */
	e = env_of(5, 8, 39, 1, 2, 1);
	assert_int_equal(privs_needed_caps(&e),
			 BASE | C(CAP_SYS_ADMIN) | C(CAP_SYSLOG) | C(CAP_BPF));
	/* Before CAP_BPF: CAP_SYS_ADMIN covers bpf() too. */
	e = env_of(5, 4, 37, 1, 2, 1);
	assert_int_equal(privs_needed_caps(&e), BASE | C(CAP_SYS_ADMIN) | C(CAP_SYSLOG));
}

static void test_needed_caps_unknowns_and_never(void **state)
{
	struct privs_env e;
	uint64_t caps;

	(void)state;
	/* Unreadable sysctls: keep what might be needed. */
	e = env_of(6, 1, 40, PRIVS_UNKNOWN, PRIVS_UNKNOWN, PRIVS_UNKNOWN);
	assert_int_equal(privs_needed_caps(&e),
			 BASE | C(CAP_CHECKPOINT_RESTORE) | C(CAP_SYSLOG) | C(CAP_BPF));
	e = env_of(6, 8, 40, 0, PRIVS_UNKNOWN, 0);
	assert_int_equal(privs_needed_caps(&e), BASE | C(CAP_CHECKPOINT_RESTORE) | C(CAP_SYSLOG));
	/* Whatever the kernel: nothing that loads, attaches, writes or changes identity. */
	for (unsigned minor = 0; minor < 20; minor++) {
		for (int kptr = 0; kptr <= 2; kptr++) {
			e = env_of(minor < 10 ? 6 : 5, minor, 40, kptr, 2, 2);
			caps = privs_needed_caps(&e);
			assert_false(caps & C(CAP_PERFMON));
			assert_false(caps & C(CAP_SYS_ADMIN));
			assert_false(caps & (C(CAP_SETUID) | C(CAP_SETGID) | C(CAP_SETPCAP)));
			assert_false(caps & (C(CAP_DAC_OVERRIDE) | C(CAP_NET_BIND_SERVICE)));
			assert_false(caps & C(CAP_SYS_RESOURCE));
			assert_true((caps & BASE) == BASE);
		}
	}
}

static void test_caps_str(void **state)
{
	char buf[256], tiny[12];

	(void)state;
	assert_string_equal(privs_caps_str(0, buf, sizeof(buf)), "none");
	assert_string_equal(
	    privs_caps_str(BASE | C(CAP_SYSLOG) | C(CAP_CHECKPOINT_RESTORE), buf, sizeof(buf)),
	    "cap_dac_read_search,cap_sys_ptrace,cap_syslog,cap_checkpoint_restore");
	assert_string_equal(privs_caps_str(C(CAP_BPF) | C(CAP_PERFMON), buf, sizeof(buf)),
			    "cap_perfmon,cap_bpf");
	assert_string_equal(privs_caps_str(C(50), buf, sizeof(buf)), "cap_50");
	/* Truncated, still terminated. */
	privs_caps_str(BASE, tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
	assert_string_equal(privs_cap_name(CAP_SYS_PTRACE), "cap_sys_ptrace");
	assert_null(privs_cap_name(41));
	assert_null(privs_cap_name(-1));
}

static void test_config_mode_rules(void **state)
{
	(void)state;
	/* Owned by root or by us, writable only by the owner (and group root): fine. */
	assert_null(privs_config_mode_problem(S_IFREG | 0600, 0, 0, 0));
	assert_null(privs_config_mode_problem(S_IFREG | 0644, 0, 0, 0));
	assert_null(privs_config_mode_problem(S_IFREG | 0664, 0, 0, 0));
	assert_null(privs_config_mode_problem(S_IFREG | 0640, 0, 123, 0));
	assert_null(privs_config_mode_problem(S_IFREG | 0644, 1000, 1000, 1000));
	/* Writable by others, or by a group other than root. */
	assert_non_null(privs_config_mode_problem(S_IFREG | 0666, 0, 0, 0));
	assert_non_null(privs_config_mode_problem(S_IFREG | 0602, 0, 0, 0));
	assert_non_null(privs_config_mode_problem(S_IFREG | 0664, 0, 123, 0));
	assert_non_null(privs_config_mode_problem(S_IFREG | 0620, 0, 123, 0));
	/* Owned by another user, who could rewrite it. */
	assert_non_null(privs_config_mode_problem(S_IFREG | 0600, 1000, 0, 0));
	/* Not a file. */
	assert_non_null(privs_config_mode_problem(S_IFIFO | 0600, 0, 0, 0));
	/* Directories: world-writable only with the sticky bit (/tmp). */
	assert_null(privs_config_mode_problem(S_IFDIR | 0755, 0, 0, 0));
	assert_null(privs_config_mode_problem(S_IFDIR | 01777, 0, 0, 0));
	assert_non_null(privs_config_mode_problem(S_IFDIR | 0777, 0, 0, 0));
	assert_non_null(privs_config_mode_problem(S_IFDIR | 0775, 0, 123, 0));
}

static char g_dir[4096];

static void make_file(const char *name, mode_t mode, char *path, size_t sz)
{
	int fd;

	assert_true(snprintf(path, sz, "%s/%s", g_dir, name) < (int)sz);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x: 1\n", 5), 5);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_check_config_file(void **state)
{
	const char *base = getenv("STACKD_TEST_TMP");
	char path[4096], link[4096], sub[4096], in_sub[4096];
	struct stat st;

	(void)state;
	assert_true(snprintf(g_dir, sizeof(g_dir), "%s/test_privs.XXXXXX", base ? base : "/tmp") <
		    (int)sizeof(g_dir));
	assert_non_null(mkdtemp(g_dir));
	assert_int_equal(chmod(g_dir, 0755), 0);

	make_file("ok600", 0600, path, sizeof(path));
	assert_int_equal(privs_check_config_file(path), 0);
	make_file("ok644", 0644, path, sizeof(path));
	assert_int_equal(privs_check_config_file(path), 0);
	/* A symlink (as in a Kubernetes ConfigMap) is judged by what it points to. */
	assert_true(snprintf(link, sizeof(link), "%s/link", g_dir) < (int)sizeof(link));
	unlink(link);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(privs_check_config_file(link), 0);

	make_file("bad666", 0666, path, sizeof(path));
	assert_int_equal(privs_check_config_file(path), -EPERM);
	assert_int_equal(privs_check_config_file(link), 0); /* still points at ok644 */
	make_file("bad602", 0602, path, sizeof(path));
	assert_int_equal(privs_check_config_file(path), -EPERM);
	/* Group-writable: allowed only when the group is root. */
	make_file("grp664", 0664, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(privs_check_config_file(path), st.st_gid == 0 ? 0 : -EPERM);

	assert_true(snprintf(path, sizeof(path), "%s/missing", g_dir) < (int)sizeof(path));
	assert_int_equal(privs_check_config_file(path), -ENOENT);
	assert_int_equal(privs_check_config_file(g_dir), -EINVAL); /* a directory */

	/* A good file in a directory anyone may write can be swapped for another. */
	assert_true(snprintf(sub, sizeof(sub), "%s/open", g_dir) < (int)sizeof(sub));
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_true(snprintf(in_sub, sizeof(in_sub), "%s/web.yml", sub) < (int)sizeof(in_sub));
	assert_int_equal(close(open(in_sub, O_WRONLY | O_CREAT, 0600)), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(privs_check_config_file(in_sub), -EPERM);
	assert_int_equal(chmod(sub, 01777), 0); /* sticky, like /tmp: others cannot replace it */
	assert_int_equal(privs_check_config_file(in_sub), 0);
	unlink(in_sub);
	rmdir(sub);
	unlink(link);
	for (const char *const *n =
		 (const char *const[]){"ok600", "ok644", "bad666", "bad602", "grp664", NULL};
	     *n; n++) {
		assert_true(snprintf(path, sizeof(path), "%s/%s", g_dir, *n) < (int)sizeof(path));
		unlink(path);
	}
	rmdir(g_dir);
}

static int parse(struct config *cfg, int argc, const char **argv)
{
	char out[8192] = "", err[1024] = "";
	FILE *o = fmemopen(out, sizeof(out), "w"), *e = fmemopen(err, sizeof(err), "w");
	int ret;

	config_defaults(cfg);
	ret = config_parse(cfg, argc, (char **)argv, o, e);
	fclose(o);
	fclose(e);
	return ret;
}

static void test_flags(void **state)
{
	const char *check[] = {"stackd", "--check", "--unwind.mode=fp"};
	const char *user[] = {"stackd", "--run-as-user=nobody"};
	const char *empty[] = {"stackd", "--run-as-user="};
	const char *none[] = {"stackd"};
	struct config cfg;

	(void)state;
	assert_int_equal(parse(&cfg, 3, check), CONFIG_CHECK);
	/* Flags after --check still apply: they shape what is checked. */
	assert_int_equal(cfg.unwind_mode, STACKD_UNWIND_FP);
	assert_int_equal(parse(&cfg, 2, user), CONFIG_RUN);
	assert_string_equal(cfg.run_as_user, "nobody");
	assert_int_equal(parse(&cfg, 2, empty), -EINVAL);
	assert_int_equal(parse(&cfg, 1, none), CONFIG_RUN);
	assert_string_equal(cfg.run_as_user, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_needed_caps_recent_kernel),
	    cmocka_unit_test(test_needed_caps_old_kernels),
	    cmocka_unit_test(test_needed_caps_unknowns_and_never),
	    cmocka_unit_test(test_caps_str),
	    cmocka_unit_test(test_config_mode_rules),
	    cmocka_unit_test(test_check_config_file),
	    cmocka_unit_test(test_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
