// SPDX-License-Identifier: Apache-2.0
/*
 * stackd-symbolize: stackd's symbolizer behind GNU addr2line's command line.
 *
 * File mode (-e FILE, default a.out) takes ELF virtual addresses, exactly
 * as addr2line does, and prints the same layout as GNU addr2line 2.40:
 * "??" for an unknown function, "??:0" when nothing at all is known of the
 * address, "FILE:?" / "??:?" when the function is known but not the line.
 * --pid PID instead takes runtime addresses of a live process, normalized
 * through a /proc/PID/maps snapshot like the agent's samples.
 *
 * What is printed is the symbolizer's, so it differs from addr2line's in
 * three ways: no " (discriminator N)" suffix (frames do not carry
 * discriminators), the outermost function named from the symbol table as
 * llvm-symbolizer names it (addr2line prefers the DWARF name: __sprofil vs
 * sprofil), and the right file where binutils resolves a DWARF 5 row at a
 * sequence start to file entry 0.
 *
 * Addresses come from the arguments or, when there are none, from stdin,
 * parsed the way addr2line parses them (fgets() into 100 bytes, then hex).
 * Every answer is flushed before the next blocking read, so the tool works
 * as a coprocess; lines already waiting are symbolized as one batch so a
 * pipe of many addresses does not pay one library call per address.
 *
 * Exit codes: 0; 1 when the file or process cannot be used or on a usage
 * error (as addr2line).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "symbolize/procmaps.h"
#include "symbolize/symbolizer.h"

#ifndef STACKD_VERSION
#define STACKD_VERSION "unknown"
#endif

/* addr2line reads stdin with fgets() into a 100-byte buffer: longer lines are cut in pieces. */
#define A2L_PIECE_MAX 99
/* Addresses per library call: bounds the size of one result allocation. */
#define BATCH_MAX    4096
#define STDIN_BUF_SZ (64u << 10)
/*
 * One file is symbolized for the whole run: a budget smaller than its
 * parsed DWARF would evict and re-parse it between batches.
 */
#define CACHE_MAX_BYTES (1ull << 30)
#define DEBUG_DIRS_MAX	64

enum {
	OPT_PID = 0x100,
	OPT_DEBUG_DIR,
	OPT_RETURN_ADDRESSES,
};

struct cli {
	const char *exe;
	pid_t pid; /* 0: file mode */
	bool show_addrs;
	bool show_functions;
	bool inlines;
	bool demangle;
	bool pretty;
	bool basenames;
	bool return_addrs;
	int addr_width; /* hex digits printed: 16, or 8 for ELFCLASS32 */
	uint64_t addr_mask;
	const char *debug_dirs[DEBUG_DIRS_MAX + 1];
	size_t nr_debug_dirs;
	struct symbolizer *sym;
	struct procmaps *maps; /* --pid only */
};

static const char *prog = "stackd-symbolize";

static const struct option long_opts[] = {
    {"addresses", no_argument, NULL, 'a'},
    {"basenames", no_argument, NULL, 's'},
    {"demangle", optional_argument, NULL, 'C'},
    {"exe", required_argument, NULL, 'e'},
    {"functions", no_argument, NULL, 'f'},
    {"inlines", no_argument, NULL, 'i'},
    {"pretty-print", no_argument, NULL, 'p'},
    {"recurse-limit", no_argument, NULL, 'R'},
    {"no-recurse-limit", no_argument, NULL, 'r'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"pid", required_argument, NULL, OPT_PID},
    {"debug-dir", required_argument, NULL, OPT_DEBUG_DIR},
    {"return-addresses", no_argument, NULL, OPT_RETURN_ADDRESSES},
    {NULL, 0, NULL, 0},
};

static const char usage_text[] =
    " Convert addresses into line number/file name pairs.\n"
    " If no addresses are specified on the command line, they will be read from stdin\n"
    " The options are:\n"
    "  -a --addresses         Show addresses\n"
    "  -e --exe=<executable>  Set the input file name (default is a.out)\n"
    "  -i --inlines           Unwind inlined functions\n"
    "  -p --pretty-print      Make the output easier to read for humans\n"
    "  -s --basenames         Strip directory names\n"
    "  -f --functions         Show function names\n"
    "  -C --demangle[=style]  Demangle function names (the style is ignored)\n"
    "  -R --recurse-limit     Accepted for compatibility; no effect\n"
    "  -r --no-recurse-limit  Accepted for compatibility; no effect\n"
    "  -h --help              Display this information\n"
    "  -V -v --version        Display the program's version\n"
    " stackd options:\n"
    "  --pid=<pid>            Addresses are runtime addresses in live process <pid>\n"
    "                         (-e is not used)\n"
    "  --return-addresses     With --pid: addresses are return addresses; look up\n"
    "                         address - 1 (the call instruction)\n"
    "  --debug-dir=<dir>      Look for separate debug files under <dir> (as\n"
    "                         <dir>/.build-id/xx/yyyy.debug and by .gnu_debuglink);\n"
    "                         repeatable; replaces the default /usr/lib/debug\n"
    "Exit status: 0, or 1 when the file or process cannot be used or on a usage error.\n";

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [option(s)] [addr(s)]\n", prog);
	fputs(usage_text, f);
}

/*
 * Parse an address as addr2line 2.40 does (observed on Debian 12): hex,
 * leading white space and "0x" allowed, parsing stops at the first non-hex
 * character, overflow saturates. A leading '-' gives 0; a leading '+'
 * switches to C notation (0x hex, 0 octal, else decimal), spaces allowed
 * after it. Garbage is address 0, which then symbolizes to "??".
 */
static uint64_t parse_addr(const char *s)
{
	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	if (*s == '-')
		return 0;
	if (*s == '+') {
		s++;
		while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
			s++;
		if (*s == '-' || *s == '+')
			return 0;
		return strtoull(s, NULL, 0);
	}
	return strtoull(s, NULL, 16);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* One address, in addr2line's layout (binutils addr2line.c translate_addresses()). */
static void print_frame(const struct cli *c, uint64_t addr, const struct sym_frame *f)
{
	uint32_t i, n;

	if (c->show_addrs)
		printf("0x%0*" PRIx64 "%s", c->addr_width, addr, c->pretty ? ": " : "\n");
	if (!f || f->nr_lines == 0) {
		if (c->show_functions)
			fputs(c->pretty ? "?? " : "??\n", stdout);
		fputs("??:0\n", stdout);
		return;
	}
	n = c->inlines ? f->nr_lines : 1;
	for (i = 0; i < n; i++) {
		const struct sym_line *l = &f->lines[i];
		const char *file = l->file;

		if (c->show_functions) {
			const char *name = c->demangle ? l->function : l->system_name;

			if (!name)
				name = l->function;
			if (!name || !*name)
				name = "??";
			fputs(name, stdout);
			fputs(c->pretty ? " at " : "\n", stdout);
		}
		if (file && c->basenames)
			file = base_name(file);
		printf("%s:", file ? file : "??");
		if (l->line)
			printf("%" PRIu32 "\n", l->line);
		else
			fputs("?\n", stdout);
		if (i + 1 < n && c->pretty)
			fputs(" (inlined by) ", stdout);
	}
}

/* The process may have mapped new objects since the snapshot: refresh once per batch. */
static void refresh_maps(struct cli *c, const uint64_t *addrs, size_t nr)
{
	struct procmaps *m = NULL;
	size_t i;

	for (i = 0; i < nr; i++) {
		if (!procmaps_find(c->maps, addrs[i]))
			break;
	}
	if (i == nr)
		return;
	/* Gone or unreadable: keep the old snapshot; primed objects still resolve. */
	if (procmaps_read(NULL, c->pid, PROCMAPS_EXEC_ONLY, &m))
		return;
	symbolizer_prime(c->sym, c->pid, m);
	procmaps_free(c->maps);
	c->maps = m;
}

/*
 * symbolizer_user() looks ips[0] up as is and ips[i > 0] at ips[i] - 1 (it
 * expects a stack, leaf first). Feed it so that every address is looked up
 * at itself, or at itself - 1 with --return-addresses. An address that
 * cannot be expressed (it would wrap) is looked up at 0: "??" either way.
 */
static void to_stack_ips(const struct cli *c, const uint64_t *addrs, size_t nr, uint64_t *ips)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		uint64_t look = c->return_addrs ? addrs[i] - 1 : addrs[i];

		if (c->return_addrs && addrs[i] == 0)
			look = 0;
		if (i == 0)
			ips[i] = look;
		else
			ips[i] = look == UINT64_MAX ? 0 : look + 1;
	}
}

/* Symbolize and print @nr addresses (nr <= BATCH_MAX), then flush. */
static int run_batch(struct cli *c, const uint64_t *addrs, size_t nr)
{
	static uint64_t ips[BATCH_MAX];
	struct sym_result *r = NULL;
	size_t i;
	int err;

	if (!nr)
		return 0;
	if (c->pid) {
		refresh_maps(c, addrs, nr);
		to_stack_ips(c, addrs, nr, ips);
		err = symbolizer_user(c->sym, c->pid, c->maps, ips, nr, &r);
		if (err) {
			fprintf(stderr, "%s: pid %d: %s\n", prog, (int)c->pid, strerror(-err));
			return err;
		}
	} else {
		err = symbolizer_file(c->sym, c->exe, addrs, nr, &r);
		if (err) {
			fprintf(stderr, "%s: %s: %s\n", prog, c->exe, strerror(-err));
			return err;
		}
	}
	for (i = 0; i < nr; i++)
		print_frame(c, addrs[i], i < r->nr ? &r->frames[i] : NULL);
	sym_result_free(r);
	/* addr2line flushes after every address: it must work as a coprocess. */
	if (fflush(stdout) == EOF)
		return -errno;
	return 0;
}

static int run_args(struct cli *c, char **args, int nr_args)
{
	uint64_t addrs[BATCH_MAX];
	size_t n = 0;
	int i, err;

	for (i = 0; i < nr_args; i++) {
		addrs[n++] = parse_addr(args[i]) & c->addr_mask;
		if (n == BATCH_MAX || i + 1 == nr_args) {
			err = run_batch(c, addrs, n);
			if (err)
				return err;
			n = 0;
		}
	}
	return 0;
}

/*
 * Read stdin in big chunks, cut it into addr2line's fgets() pieces, and
 * symbolize every complete piece at hand before blocking for more input.
 */
static int run_stdin(struct cli *c)
{
	static char buf[STDIN_BUF_SZ + 1];
	uint64_t addrs[BATCH_MAX];
	size_t len = 0, pos, n;
	bool eof = false;
	ssize_t got;
	int err;

	while (!eof) {
		got = read(STDIN_FILENO, buf + len, STDIN_BUF_SZ - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			fprintf(stderr, "%s: reading stdin: %s\n", prog, strerror(errno));
			return err;
		}
		eof = got == 0;
		len += (size_t)got;
		pos = 0;
		n = 0;
		for (;;) {
			size_t avail = len - pos, piece;
			char *nl =
			    memchr(buf + pos, '\n', avail < A2L_PIECE_MAX ? avail : A2L_PIECE_MAX);
			char save;

			if (nl)
				piece = (size_t)(nl - (buf + pos)) + 1;
			else if (avail >= A2L_PIECE_MAX || (eof && avail))
				piece = avail < A2L_PIECE_MAX ? avail : A2L_PIECE_MAX;
			else
				break; /* an incomplete line: wait for the rest */
			save = buf[pos + piece];
			buf[pos + piece] = '\0';
			addrs[n++] = parse_addr(buf + pos) & c->addr_mask;
			buf[pos + piece] = save;
			pos += piece;
			if (n == BATCH_MAX) {
				err = run_batch(c, addrs, n);
				if (err)
					return err;
				n = 0;
			}
		}
		err = run_batch(c, addrs, n);
		if (err)
			return err;
		memmove(buf, buf + pos, len - pos);
		len -= pos;
	}
	return 0;
}

/*
 * Fail early, with addr2line's wording where it has one, on what the library
 * would only report at the first address: missing, unreadable, not a
 * regular file, not ELF. Also learn the ELF class for the address width.
 */
static int check_exe(struct cli *c)
{
	unsigned char ident[16];
	struct stat st;
	ssize_t got;
	int fd, err = 0;

	fd = open(c->exe, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (errno == ENOENT)
			fprintf(stderr, "%s: '%s': No such file\n", prog, c->exe);
		else
			fprintf(stderr, "%s: %s: %s\n", prog, c->exe, strerror(errno));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		fprintf(stderr, "%s: %s: %s\n", prog, c->exe, strerror(errno));
		goto cleanup;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: Warning: '%s' is a directory\n", prog, c->exe);
		err = -EISDIR;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: Warning: '%s' is not an ordinary file\n", prog, c->exe);
		err = -EINVAL;
		goto cleanup;
	}
	got = pread(fd, ident, sizeof(ident), 0);
	if (got < 0) {
		err = -errno;
		fprintf(stderr, "%s: %s: %s\n", prog, c->exe, strerror(errno));
		goto cleanup;
	}
	if (got < (ssize_t)sizeof(ident) || memcmp(ident, "\177ELF", 4) ||
	    (ident[4] != 1 && ident[4] != 2)) {
		fprintf(stderr, "%s: %s: file format not recognized\n", prog, c->exe);
		err = -ENOEXEC;
		goto cleanup;
	}
	if (ident[4] == 1) { /* ELFCLASS32 */
		c->addr_width = 8;
		c->addr_mask = UINT32_MAX;
	}
cleanup:
	close(fd);
	return err;
}

static int parse_pid(const char *s, pid_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > INT_MAX)
		return -EINVAL;
	*out = (pid_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct symbolizer_opts opts = {0};
	struct cli c = {
	    .exe = "a.out",
	    .addr_width = 16,
	    .addr_mask = UINT64_MAX,
	};
	bool has_exe = false;
	int opt, err, ret = 1;

	log_set_level(LOG_LEVEL_ERROR);
	while ((opt = getopt_long(argc, argv, "aCe:fhHijpRrsVv", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			c.show_addrs = true;
			break;
		case 'C':
			c.demangle = true;
			break;
		case 'e':
			c.exe = optarg;
			has_exe = true;
			break;
		case 'f':
			c.show_functions = true;
			break;
		case 'i':
			c.inlines = true;
			break;
		case 'p':
			c.pretty = true;
			break;
		case 's':
			c.basenames = true;
			break;
		case 'R':
		case 'r':
			break;
		case 'h':
		case 'H':
			usage(stdout);
			return 0;
		case 'V':
		case 'v':
			printf("%s (stackd) %s\n", prog, STACKD_VERSION);
			return 0;
		case OPT_PID:
			if (parse_pid(optarg, &c.pid)) {
				fprintf(stderr, "%s: --pid: not a process id: '%s'\n", prog,
					optarg);
				return 1;
			}
			break;
		case OPT_DEBUG_DIR:
			if (c.nr_debug_dirs == DEBUG_DIRS_MAX) {
				fprintf(stderr, "%s: more than %d --debug-dir\n", prog,
					DEBUG_DIRS_MAX);
				return 1;
			}
			c.debug_dirs[c.nr_debug_dirs++] = optarg;
			break;
		case OPT_RETURN_ADDRESSES:
			c.return_addrs = true;
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (c.pid && has_exe) {
		fprintf(stderr, "%s: --pid and -e/--exe exclude each other\n", prog);
		return 1;
	}
	if (c.return_addrs && !c.pid) {
		fprintf(stderr, "%s: --return-addresses needs --pid\n", prog);
		return 1;
	}

	if (c.pid) {
		err = procmaps_read(NULL, c.pid, PROCMAPS_EXEC_ONLY, &c.maps);
		if (err) {
			fprintf(stderr, "%s: pid %d: %s\n", prog, (int)c.pid,
				err == -ESRCH ? "no such process" : strerror(-err));
			goto cleanup;
		}
	} else if (check_exe(&c)) {
		goto cleanup;
	}

	opts.cache_max_bytes = CACHE_MAX_BYTES;
	opts.debug_dirs = c.nr_debug_dirs ? c.debug_dirs : NULL;
	/* addr2line prints raw (mangled) names unless -C. */
	opts.no_demangle = !c.demangle;
	err = symbolizer_new(&opts, &c.sym);
	if (err) {
		fprintf(stderr, "%s: %s\n", prog, strerror(-err));
		goto cleanup;
	}
	/* Load every object while the process is surely alive. */
	if (c.pid && symbolizer_prime(c.sym, c.pid, c.maps) == -ESRCH) {
		fprintf(stderr, "%s: pid %d: no such process\n", prog, (int)c.pid);
		goto cleanup;
	}

	if (optind < argc)
		err = run_args(&c, argv + optind, argc - optind);
	else
		err = run_stdin(&c);
	if (!err)
		ret = 0;
cleanup:
	symbolizer_free(c.sym);
	procmaps_free(c.maps);
	return ret;
}
