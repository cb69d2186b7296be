// SPDX-License-Identifier: Apache-2.0
/*
 * /proc/PID/maps parsing. The text comes from processes we do not trust
 * (paths are chosen by whoever runs in the container), so every field is
 * parsed strictly and a line that does not parse is counted, not guessed at.
 *
 * Two passes over the text: the first validates and sizes, the second fills
 * one allocation holding the header, the maps array and the path pool.
 */
#include "symbolize/procmaps.h"

#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/safefile.h"
#include "common/strbuf.h"

/* A line longer than this is hostile: the kernel caps paths at PATH_MAX. */
#define PROCMAPS_MAX_LINE (PATH_MAX + 256)
/* Cap on the whole file: a real process has at most vm.max_map_count lines. */
#define PROCMAPS_MAX_FILE (16u << 20)
/* Cap on a mapped object's size: the largest real binaries (DWARF inside) are a few GiB. */
#define PROCMAPS_MAX_OBJECT (8ull << 30)

static const char deleted_sfx[] = " (deleted)";

struct map_line {
	struct procmap m;
	const char *path;
	size_t path_len;
};

static bool parse_dec(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	int n = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
		n++;
	}
	if (!n)
		return false;
	*pp = p;
	*out = v;
	return true;
}

static bool expect(const char **pp, const char *end, char c)
{
	if (*pp >= end || **pp != c)
		return false;
	(*pp)++;
	return true;
}

/*
 * "start-end perms offset major:minor inode [spaces path]". The path is the
 * rest of the line (it may contain spaces); the kernel escapes '\n' in it.
 */
static bool parse_line(const char *p, const char *end, struct map_line *out)
{
	uint64_t major, minor;
	const char *perms;

	memset(out, 0, sizeof(*out));
	if (end - p > PROCMAPS_MAX_LINE)
		return false;
	if (!hex_parse_u64(&p, end, &out->m.start) || !expect(&p, end, '-') ||
	    !hex_parse_u64(&p, end, &out->m.end) || !expect(&p, end, ' '))
		return false;
	if (out->m.start >= out->m.end)
		return false;
	if (end - p < 5)
		return false;
	perms = p;
	if ((perms[0] != 'r' && perms[0] != '-') || (perms[1] != 'w' && perms[1] != '-') ||
	    (perms[2] != 'x' && perms[2] != '-') || (perms[3] != 'p' && perms[3] != 's'))
		return false;
	out->m.perms =
	    (perms[0] == 'r' ? PROCMAP_READ : 0) | (perms[1] == 'w' ? PROCMAP_WRITE : 0) |
	    (perms[2] == 'x' ? PROCMAP_EXEC : 0) | (perms[3] == 'p' ? PROCMAP_PRIVATE : 0);
	p += 4;
	if (!expect(&p, end, ' ') || !hex_parse_u64(&p, end, &out->m.offset) ||
	    !expect(&p, end, ' '))
		return false;
	if (!hex_parse_u64(&p, end, &major) || !expect(&p, end, ':') ||
	    !hex_parse_u64(&p, end, &minor) || !expect(&p, end, ' '))
		return false;
	/* Linux dev_t: 12-bit major, 20-bit minor. */
	if (major > 0xfff || minor > 0xfffff)
		return false;
	out->m.dev_major = (uint32_t)major;
	out->m.dev_minor = (uint32_t)minor;
	if (!parse_dec(&p, end, &out->m.inode))
		return false;
	if (p < end && *p != ' ')
		return false;
	while (p < end && *p == ' ')
		p++;
	out->path = p;
	out->path_len = (size_t)(end - p);
	if (out->path_len >= sizeof(deleted_sfx) - 1 &&
	    !memcmp(end - (sizeof(deleted_sfx) - 1), deleted_sfx, sizeof(deleted_sfx) - 1)) {
		out->m.is_deleted = true;
		out->path_len -= sizeof(deleted_sfx) - 1;
	}
	if (memchr(out->path, '\0', out->path_len))
		return false;
	return true;
}

static int cmp_map(const void *a, const void *b)
{
	const struct procmap *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/* Split off the next line (without its '\n'); the final line may be unterminated. */
static bool next_line(const char **pos, const char *end, const char **ls, const char **le)
{
	const char *eol;

	if (*pos >= end)
		return false;
	eol = memchr(*pos, '\n', (size_t)(end - *pos));
	if (!eol)
		eol = end;
	*ls = *pos;
	*le = eol;
	*pos = eol < end ? eol + 1 : end;
	return true;
}

static _Atomic uint64_t next_serial = 1;

int procmaps_parse(const char *text, size_t len, unsigned flags, struct procmaps **out)
{
	const char *pos, *p, *eol, *end;
	size_t nr = 0, nr_bad = 0, pool_sz = 0, bytes, i, j;
	struct procmaps *m = NULL;
	struct map_line ml;
	char *pool;
	bool sorted = true;
	uint64_t prev_start = 0;

	*out = NULL;
	if (!text && len)
		return -EINVAL;
	if (!text)
		text = ""; /* NULL + 0 is still undefined behaviour */
	end = text + len;
	for (pos = text; next_line(&pos, end, &p, &eol);) {
		if (eol == p)
			continue; /* blank lines carry nothing; not worth counting */
		if (!parse_line(p, eol, &ml)) {
			nr_bad++;
			continue;
		}
		if ((flags & PROCMAPS_EXEC_ONLY) && !(ml.m.perms & PROCMAP_EXEC))
			continue;
		nr++;
		pool_sz += ml.path_len + 1;
	}
	if (nr > (SIZE_MAX - sizeof(*m) - pool_sz) / sizeof(struct procmap))
		return -E2BIG;
	bytes = sizeof(*m) + nr * sizeof(struct procmap) + pool_sz;
	m = calloc(1, bytes);
	if (!m)
		return -ENOMEM;
	m->maps = (struct procmap *)(m + 1);
	m->bytes = bytes;
	m->serial = atomic_fetch_add(&next_serial, 1);
	m->nr_bad_lines = nr_bad;
	pool = (char *)(m->maps + nr);
	for (pos = text; next_line(&pos, end, &p, &eol);) {
		if (eol == p || !parse_line(p, eol, &ml))
			continue;
		if ((flags & PROCMAPS_EXEC_ONLY) && !(ml.m.perms & PROCMAP_EXEC))
			continue;
		memcpy(pool, ml.path, ml.path_len);
		pool[ml.path_len] = '\0';
		ml.m.path = pool;
		pool += ml.path_len + 1;
		if (m->nr && ml.m.start < prev_start)
			sorted = false;
		prev_start = ml.m.start;
		m->maps[m->nr++] = ml.m;
	}
	/* The kernel lists mappings sorted; anything else was edited, but is cheap to fix. */
	if (!sorted)
		qsort(m->maps, m->nr, sizeof(*m->maps), cmp_map);
	/* Overlaps would make the binary search ambiguous: keep the first, count the rest. */
	for (i = 0, j = 0; i < m->nr; i++) {
		if (j && m->maps[i].start < m->maps[j - 1].end) {
			m->nr_bad_lines++;
			continue;
		}
		m->maps[j++] = m->maps[i];
	}
	m->nr = j;
	*out = m;
	return 0;
}

int procmaps_read(const char *proc_root, pid_t pid, unsigned flags, struct procmaps **out)
{
	char path[PATH_MAX], chunk[16384];
	struct strbuf sb;
	int fd = -1, err = 0, n;
	ssize_t got;

	*out = NULL;
	strbuf_init(&sb, PROCMAPS_MAX_FILE);
	if (!proc_root)
		proc_root = "/proc";
	if (pid <= 0)
		return -EINVAL;
	n = snprintf(path, sizeof(path), "%s/%d/maps", proc_root, (int)pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	for (;;) {
		got = read(fd, chunk, sizeof(chunk));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (!got)
			break;
		err = strbuf_append(&sb, chunk, (size_t)got);
		if (err) {
			err = err == -ENOSPC ? -E2BIG : err;
			goto cleanup;
		}
	}
	err = procmaps_parse(sb.buf ? sb.buf : "", sb.len, flags, out);
cleanup:
	/* ENOENT on open and ESRCH on read both mean the process exited under us. */
	if (err == -ENOENT || err == -ESRCH)
		err = -ESRCH;
	if (fd >= 0)
		close(fd);
	strbuf_free(&sb);
	return err;
}

const struct procmap *procmaps_find(const struct procmaps *m, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!m)
		return NULL;
	hi = m->nr;
	/* First map with start > addr, then step back one. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr >= m->maps[lo - 1].end)
		return NULL;
	return &m->maps[lo - 1];
}

void procmaps_free(struct procmaps *m)
{
	free(m);
}

/*
 * The mapped file: through map_files (the kernel's own link to the mapped
 * inode), else the maps path resolved inside the process's root. Both go
 * through safefile: a mapping of a device or of a sparse file larger than
 * PROCMAPS_MAX_OBJECT is refused, and an absolute symlink swapped in at
 * the path never resolves against the agent's root.
 */
int procmaps_open_object(const char *proc_root, pid_t pid, const struct procmap *m)
{
	char path[PATH_MAX];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/%d/map_files/%" PRIx64 "-%" PRIx64, proc_root,
		     (int)pid, m->start, m->end);
	if (n > 0 && (size_t)n < sizeof(path)) {
		fd = safefile_openat(AT_FDCWD, path, SAFEFILE_MAGICLINKS_OK, PROCMAPS_MAX_OBJECT);
		/* Refused: the same inode is behind the root path too. */
		if (fd >= 0 || fd == -ENODEV || fd == -EFBIG)
			return fd;
	}
	/* A deleted file is only reachable through map_files. */
	if (m->is_deleted)
		return -ENOENT;
	n = snprintf(path, sizeof(path), "%s/%d/root", proc_root, (int)pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return safefile_open_in_root(path, m->path, PROCMAPS_MAX_OBJECT);
}

void procmap_file_of_stat(const struct stat *st, struct procmap_file *id)
{
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
	id->ctime_ns = (uint64_t)st->st_ctim.tv_sec * 1000000000ull + (uint64_t)st->st_ctim.tv_nsec;
}
