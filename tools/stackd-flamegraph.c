// SPDX-License-Identifier: Apache-2.0
/*
 * stackd-flamegraph: Brendan Gregg's folded stacks in, stackd's interactive
 * flame graph page out.
 *
 * Input lines are "root;caller;...;leaf COUNT" (the output of the
 * stackcollapse-* scripts, `perf script | stackcollapse-perf.pl`, bpftrace
 * folded maps, ...): COUNT is the last blank-separated field. A bad line is
 * reported with its number and what is wrong with it, and skipped: one
 * mangled line in a million should not cost the whole graph. Only the
 * first BAD_SHOWN_MAX are printed, so that a wrong file does not flood the
 * terminal; the count of all of them closes the run.
 *
 * Lines are read through a buffer of LINE_MAX_SZ: a longer line (a binary
 * file, a runaway stack) is skipped without ever being held in memory.
 *
 * Exit status: 0 when the page was written (bad lines or not), 1 when the
 * input cannot be read or the page cannot be built or written, 2 on a usage
 * error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "exporter/flamegraph.h"

#ifndef STACKD_VERSION
#define STACKD_VERSION "unknown"
#endif

#define LINE_MAX_SZ   (1u << 20)
#define READ_CHUNK    (64u << 10)
#define BAD_SHOWN_MAX 20
/* The page of a full graph with the longest names is ~100 MiB; past 1 GiB something is wrong. */
#define PAGE_MAX_SZ (1ull << 30)

static const char *prog = "stackd-flamegraph";

static const char usage_text[] =
    "Render folded stacks (\"root;...;leaf COUNT\" per line) as a self-contained\n"
    "interactive flame graph: one HTML page on stdout, with no external resources.\n"
    "FILE is read, or stdin when FILE is absent or \"-\".\n"
    "\n"
    "  -t --title TEXT        Page title (default: \"Flame graph: FILE\")\n"
    "  -s --subtitle TEXT     A line of text under the title\n"
    "  -p --period-ns NS      CPU nanoseconds per sample, to show seconds as well\n"
    "                         (1e9 / sampling frequency: 10101010 at 99 Hz)\n"
    "  -h --help              Display this information\n"
    "  -V --version           Display the program's version\n"
    "\n"
    "Bad lines (no count, a negative or overflowing count, a line over 1 MiB, ...)\n"
    "are reported on stderr with their line number and skipped.\n"
    "Exit status: 0 when the page was written, 1 on an input or output error,\n"
    "2 on a usage error.\n";

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [options] [FILE]\n", prog);
	fputs(usage_text, f);
}

struct input {
	const char *name; /* for messages */
	struct flamegraph *fg;
	uint64_t lines;
	uint64_t bad;
};

static void bad_line(struct input *in, uint64_t lineno, const char *why)
{
	in->bad++;
	if (in->bad <= BAD_SHOWN_MAX)
		fprintf(stderr, "%s: %s:%" PRIu64 ": %s; line skipped\n", prog, in->name, lineno,
			why);
}

/* One complete line, without its newline. Returns 0 or -ENOMEM (the only fatal error). */
static int take_line(struct input *in, uint64_t lineno, const char *s, size_t len)
{
	const char *why = NULL;
	size_t i;
	int err;

	for (i = 0; i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'); i++)
		;
	if (i == len)
		return 0; /* blank lines separate nothing but are harmless */
	err = flamegraph_add_folded(in->fg, s, len, &why);
	if (err == -ENOMEM) {
		fprintf(stderr, "%s: %s:%" PRIu64 ": out of memory\n", prog, in->name, lineno);
		return err;
	}
	if (err)
		bad_line(in, lineno, why ? why : strerror(-err));
	return 0;
}

/*
 * Split @f into lines without holding more than LINE_MAX_SZ + READ_CHUNK
 * bytes. Returns 0, or -errno on a read error or -ENOMEM.
 */
static int read_lines(struct input *in, FILE *f)
{
	char *buf = NULL;
	size_t have = 0, cap = LINE_MAX_SZ + READ_CHUNK;
	uint64_t lineno = 0;
	bool skipping = false; /* in a line already found too long */
	int err = 0;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t n = fread(buf + have, 1, cap - have, f), start = 0;
		bool eof = n < cap - have;
		char *nl;

		if (eof && ferror(f)) {
			err = -EIO;
			fprintf(stderr, "%s: %s: read error\n", prog, in->name);
			break;
		}
		have += n;
		while ((nl = memchr(buf + start, '\n', have - start))) {
			size_t len = (size_t)(nl - (buf + start));

			lineno++;
			if (skipping) {
				skipping = false;
				bad_line(in, lineno, "line longer than 1 MiB");
			} else if (len > LINE_MAX_SZ) {
				bad_line(in, lineno, "line longer than 1 MiB");
			} else {
				err = take_line(in, lineno, buf + start, len);
				if (err)
					goto cleanup;
			}
			start += len + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have > LINE_MAX_SZ) {
			/* No newline within the limit: drop it all, skip to the next one. */
			skipping = true;
			have = 0;
		}
		if (eof)
			break;
	}
	if (have || skipping) {
		/* The last line, without a final newline. */
		lineno++;
		if (skipping)
			bad_line(in, lineno, "line longer than 1 MiB");
		else
			err = take_line(in, lineno, buf, have);
	}
cleanup:
	in->lines = lineno;
	free(buf);
	return err;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"title", required_argument, NULL, 't'},	 {"subtitle", required_argument, NULL, 's'},
	    {"period-ns", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},	 {NULL, 0, NULL, 0},
	};
	struct flamegraph_page page = {0};
	struct flamegraph_stats st;
	struct input in = {0};
	struct strbuf out;
	char *title = NULL;
	FILE *f = NULL;
	int c, err, ret = 1;

	strbuf_init(&out, PAGE_MAX_SZ);
	while ((c = getopt_long(argc, argv, "t:s:p:hV", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			page.title = optarg;
			break;
		case 's':
			page.subtitle = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, &page.period_ns)) {
				fprintf(stderr,
					"%s: --period-ns: not a number of nanoseconds: %s\n", prog,
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", prog, STACKD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "%s: one input file at most\n", prog);
		usage(stderr);
		return 2;
	}
	in.name = optind < argc ? argv[optind] : "-";
	if (!strcmp(in.name, "-")) {
		f = stdin;
		in.name = "<stdin>";
	} else {
		f = fopen(in.name, "r");
		if (!f) {
			fprintf(stderr, "%s: %s: %s\n", prog, in.name, strerror(errno));
			return 1;
		}
	}
	if (!page.title) {
		if (asprintf(&title, "Flame graph: %s", in.name) < 0) {
			title = NULL;
			fprintf(stderr, "%s: out of memory\n", prog);
			goto cleanup;
		}
		page.title = title;
	}

	err = flamegraph_new(&in.fg);
	if (!err)
		err = read_lines(&in, f);
	if (err)
		goto cleanup;
	if (in.bad)
		fprintf(stderr, "%s: %s: %" PRIu64 " of %" PRIu64 " lines were bad and skipped%s\n",
			prog, in.name, in.bad, in.lines,
			in.bad > BAD_SHOWN_MAX ? " (the first 20 are shown above)" : "");
	flamegraph_get_stats(in.fg, &st);
	if (st.truncated_stacks)
		fprintf(stderr,
			"%s: %s: the graph is cut at %u frames or %u deep: %" PRIu64
			" samples of %" PRIu64 " stacks are shown as [truncated]\n",
			prog, in.name, FLAMEGRAPH_MAX_NODES, FLAMEGRAPH_MAX_DEPTH,
			st.truncated_samples, st.truncated_stacks);
	if (!st.total)
		fprintf(stderr, "%s: %s: no samples: the page will be empty\n", prog, in.name);

	err = flamegraph_write_html(in.fg, &page, &out);
	if (err) {
		fprintf(stderr, "%s: cannot build the page: %s\n", prog, strerror(-err));
		goto cleanup;
	}
	if (fwrite(out.buf, 1, out.len, stdout) != out.len || fflush(stdout)) {
		fprintf(stderr, "%s: writing the page: %s\n", prog, strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (f && f != stdin)
		fclose(f);
	flamegraph_free(in.fg);
	strbuf_free(&out);
	free(title);
	return ret;
}
