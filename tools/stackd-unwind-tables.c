// SPDX-License-Identifier: Apache-2.0
/*
 * stackd-unwind-tables: what the in-kernel unwinder's tables cost, per object
 * and in total, built exactly as the agent builds them (symbolize's unwtab
 * reads .eh_frame, and .debug_frame from the separate debug file of an object
 * that has no CFI of its own; cfitab_from_unwtab() compiles the rows).
 *
 *   stackd-unwind-tables [-q] [FILE...]
 *
 * Files come from the arguments or, when there are none, from stdin, one a
 * line: "OPEN_PATH" or "OPEN_PATH<TAB>NAME" (bench/unwind_tables.sh passes
 * /proc/PID/map_files/START-END with the mapped path as NAME, which also
 * reaches deleted files and other mount namespaces). An object is counted
 * once: a file already seen (same device and inode) or one whose GNU build id
 * was already seen is skipped, as the agent's cache shares one table per
 * build id (file identity when there is none).
 *
 * One tab-separated line per distinct object (unless -q), then a "total"
 * line:
 *   name build_id cfi_bytes fdes rows bpf_bytes table_bytes unwtab_bytes build_ms status
 * cfi_bytes: .eh_frame plus converted .debug_frame read; bpf_bytes: the rows
 * as a BPF map holds them (8 bytes a row); table_bytes: the compiled table in
 * user space (rows and header); unwtab_bytes: the section copies the agent's
 * object cache keeps beside it; build_ms: thread CPU time of reading and
 * compiling (the file in page cache or not: run twice for a warm figure).
 *
 * Exit codes: 0; 1 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "symbolize/cfitab.h"
/* Private to symbolize, as in tests/unit/test_cfitab.c: the agent's own reader. */
#include "debuginfo.h"
#include "unwtab.h"

#define MAX_OBJECTS (1u << 16) /* distinct objects remembered for dedup */
#define LINE_MAX_SZ 8192

struct seen {
	dev_t dev;
	ino_t ino;
	size_t id_len;
	unsigned char id[UNWTAB_MAX_BUILD_ID];
};

struct totals {
	uint64_t cfi, fdes, rows, bpf, table, unwtab;
	double ms;
	unsigned objects, dups, failed, no_cfi;
};

static struct seen *seen;
static size_t nr_seen;
static bool quiet;

static double thread_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool seen_file(const struct stat *st)
{
	for (size_t i = 0; i < nr_seen; i++)
		if (seen[i].dev == st->st_dev && seen[i].ino == st->st_ino)
			return true;
	return false;
}

static bool seen_id(const struct unwtab *t)
{
	if (!t->build_id_len)
		return false;
	for (size_t i = 0; i < nr_seen; i++)
		if (seen[i].id_len == t->build_id_len &&
		    !memcmp(seen[i].id, t->build_id, t->build_id_len))
			return true;
	return false;
}

static void remember(const struct stat *st, const struct unwtab *t)
{
	struct seen *s;

	if (nr_seen == MAX_OBJECTS)
		return; /* dedup stops growing; counts may then include repeats */
	s = &seen[nr_seen++];
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->id_len = t ? t->build_id_len : 0;
	if (s->id_len)
		memcpy(s->id, t->build_id, s->id_len);
}

/* Like the agent (unwind.c add_debug_file): only for an object without CFI of its own. */
static void add_debug_file(int fd, const char *name, struct unwtab *t)
{
	static const char hex[] = "0123456789abcdef";
	char build_id[2 * UNWTAB_MAX_BUILD_ID + 1];
	struct debuginfo_probe probe;
	struct debuginfo_query q = {.probe = &probe, .bin_path = name, .build_id = build_id};
	size_t i;
	int dfd;

	for (i = 0; i < t->build_id_len; i++) {
		build_id[2 * i] = hex[t->build_id[i] >> 4];
		build_id[2 * i + 1] = hex[t->build_id[i] & 0xf];
	}
	build_id[2 * i] = '\0';
	if (name[0] != '/')
		q.bin_path = NULL;
	if (debuginfo_probe_fd(fd, &probe))
		return;
	dfd = debuginfo_find(&q);
	if (dfd < 0)
		return;
	unwtab_add_debug_fd(t, dfd);
	close(dfd);
}

static void one(const char *path, const char *name, struct totals *tot)
{
	static const char hex[] = "0123456789abcdef";
	char id[2 * UNWTAB_MAX_BUILD_ID + 1] = "-";
	char status[32] = "ok";
	struct unwtab *t = NULL;
	struct cfitab *ct = NULL;
	struct stat st;
	double t0, ms;
	uint64_t cfi = 0, rows = 0, bpf = 0, table = 0, ubytes = 0, fdes = 0;
	int fd, err;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		tot->failed++;
		if (!quiet)
			printf("%s\t-\t0\t0\t0\t0\t0\t0\t0\tunopenable\n", name);
		return;
	}
	if (seen_file(&st)) {
		close(fd);
		tot->dups++;
		return;
	}
	t0 = thread_ms();
	err = unwtab_open_fd(fd, &t);
	if (err) {
		close(fd);
		remember(&st, NULL);
		tot->failed++;
		if (!quiet)
			printf("%s\t-\t0\t0\t0\t0\t0\t0\t0\tnot-elf(%d)\n", name, err);
		return;
	}
	if (seen_id(t)) {
		close(fd);
		unwtab_free(t);
		remember(&st, NULL);
		tot->dups++;
		return;
	}
	if (!t->has_table)
		add_debug_file(fd, name, t);
	close(fd);
	err = t->has_table ? cfitab_from_unwtab(t, 0, &ct) : t->table_err;
	ms = thread_ms() - t0;
	remember(&st, t);
	for (size_t i = 0; i < t->build_id_len; i++) {
		id[2 * i] = hex[t->build_id[i] >> 4];
		id[2 * i + 1] = hex[t->build_id[i] & 0xf];
		id[2 * i + 2] = '\0';
	}
	cfi = t->eh.size + (t->dbg.data ? t->dbg.size : 0);
	fdes = t->fde_count;
	ubytes = t->bytes;
	if (ct) {
		rows = ct->nr_rows;
		bpf = rows * sizeof(struct cfitab_row);
		table = ct->bytes;
	} else {
		snprintf(status, sizeof(status), "%s(%d)", err == -ENOENT ? "no-cfi" : "failed",
			 err);
		if (err == -ENOENT)
			tot->no_cfi++;
		else
			tot->failed++;
	}
	tot->objects++;
	tot->cfi += cfi;
	tot->fdes += fdes;
	tot->rows += rows;
	tot->bpf += bpf;
	tot->table += table;
	tot->unwtab += ubytes;
	tot->ms += ms;
	if (!quiet)
		printf("%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		       "\t%" PRIu64 "\t%.2f\t%s\n",
		       name, id, cfi, fdes, rows, bpf, table, ubytes, ms, status);
	cfitab_free(ct);
	unwtab_free(t);
}

/* "PATH" or "PATH\tNAME" */
static void one_line(char *line, struct totals *tot)
{
	char *tab;

	line[strcspn(line, "\n")] = '\0';
	if (!line[0])
		return;
	tab = strchr(line, '\t');
	if (tab) {
		*tab = '\0';
		one(line, tab + 1, tot);
	} else {
		one(line, line, tot);
	}
}

int main(int argc, char **argv)
{
	struct totals tot = {0};
	static char line[LINE_MAX_SZ];
	int i = 1;

	if (i < argc && !strcmp(argv[i], "-q")) {
		quiet = true;
		i++;
	}
	if (i < argc && argv[i][0] == '-') {
		fprintf(stderr,
			"usage: %s [-q] [FILE...]   (files from stdin when none:\n"
			"       PATH or PATH<TAB>NAME a line)\n",
			argv[0]);
		return 1;
	}
	seen = calloc(MAX_OBJECTS, sizeof(*seen));
	if (!seen)
		return 1;
	printf(
	    "# name\tbuild_id\tcfi_bytes\tfdes\trows\tbpf_bytes\ttable_bytes\tunwtab_bytes\tbuild_"
	    "ms\tstatus\n");
	if (i < argc) {
		for (; i < argc; i++) {
			snprintf(line, sizeof(line), "%s", argv[i]);
			one_line(line, &tot);
		}
	} else {
		while (fgets(line, sizeof(line), stdin))
			one_line(line, &tot);
	}
	printf("total\t%u objects (%u duplicates skipped, %u without CFI, %u unreadable)\t%" PRIu64
	       "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%.2f\t-\n",
	       tot.objects, tot.dups, tot.no_cfi, tot.failed, tot.cfi, tot.fdes, tot.rows, tot.bpf,
	       tot.table, tot.unwtab, tot.ms);
	free(seen);
	return 0;
}
