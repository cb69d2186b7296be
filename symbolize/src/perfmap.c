// SPDX-License-Identifier: Apache-2.0
/*
 * JIT perf maps: parsing, lookup, and a per-process cache.
 *
 * Entries keep the order they were read in (seq) so that, after sorting by
 * address, a range the JIT described twice resolves to the newer line.
 * Appends are parsed incrementally: JITs append for as long as they run, and
 * re-parsing a multi-megabyte file every second would cost more than the
 * profiling. Only complete lines are consumed; a line the JIT is still
 * writing is read again on the next refresh.
 *
 * The file lives in the profiled container's /tmp, so it is opened with
 * safefile_open_in_root() below /proc/PID/root: a symlink planted there
 * resolves inside the container, never to a host file, and a FIFO is
 * refused without blocking.
 */
#include "perfmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/hex.h"
#include "common/safefile.h"
#include <time.h>
#include <unistd.h>

/* How many preceding entries a lookup inspects for overlapping ranges. */
#define PERFMAP_OVERLAP_SCAN 16
#define PROC_TEXT_MAX	     8192 /* /proc/PID/stat and status are far smaller */

struct perfmap_entry {
	uint64_t start;
	uint64_t end;	 /* exclusive */
	size_t name_off; /* into pool */
	size_t seq;	 /* line order: a later line wins over an earlier one */
};

struct perfmap {
	struct perfmap_entry *v;
	size_t nr;
	size_t cap;
	char *pool;
	size_t pool_len;
	size_t pool_cap;
	size_t nr_bad;
	size_t seq;
	size_t max_bytes;  /* what perfmap_bytes() may grow to; 0 = no limit but the caps */
	bool is_truncated; /* parsing stopped at max_bytes */
};

/* One process's map, and what the file looked like when it was read. */
struct perfmap_proc {
	bool is_used;
	bool has_file; /* dev/ino/size/mtime/consumed describe a file read */
	/*
	 * The file is rewritten from its start, never appended to (a JVM asked for
	 * its map): a change is always read in full, even one that looks like an
	 * append (the new text is longer), else its tail would be parsed from an
	 * offset in the middle of a line of the new text.
	 */
	bool is_rewritten;
	pid_t pid;
	pid_t nspid;
	uint64_t start_time; /* field 22 of /proc/PID/stat: with pid, the process key */
	uint64_t checked_ns;
	uint64_t last_use; /* LRU tick */
	struct perfmap *pm;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	size_t consumed; /* bytes of the file parsed: up to the last complete line */
};

struct perfmap_cache {
	char *proc_root;
	uint64_t refresh_ns;
	uint64_t tick;
	struct perfmap_cache_stats stats;
	struct perfmap_proc procs[PERFMAP_CACHE_PROCS];
};

/* A hex field at *p with an optional 0x, advancing *p. False on junk or overflow. */
static bool parse_hex(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;

	if (end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!hex_parse_u64(&s, end, out))
		return false;
	*p = s;
	return true;
}

/* Whether @pm may grow by @add bytes: checked before the allocation. */
static int may_grow(struct perfmap *pm, size_t add)
{
	if (pm->max_bytes && perfmap_bytes(pm) + add > pm->max_bytes) {
		pm->is_truncated = true;
		return -EFBIG;
	}
	return 0;
}

static int pool_add(struct perfmap *pm, const char *name, size_t len, size_t *off)
{
	size_t need = pm->pool_len + len + 1, cap;
	char *p;

	if (need > pm->pool_cap) {
		cap = pm->pool_cap ? pm->pool_cap : 4096;
		while (cap < need)
			cap *= 2;
		if (may_grow(pm, cap - pm->pool_cap))
			return -EFBIG;
		p = realloc(pm->pool, cap);
		if (!p)
			return -ENOMEM;
		pm->pool = p;
		pm->pool_cap = cap;
	}
	memcpy(pm->pool + pm->pool_len, name, len);
	pm->pool[pm->pool_len + len] = '\0';
	*off = pm->pool_len;
	pm->pool_len = need;
	return 0;
}

static int entry_push(struct perfmap *pm, const struct perfmap_entry *e)
{
	struct perfmap_entry *v;
	size_t cap;

	if (pm->nr == pm->cap) {
		cap = pm->cap ? pm->cap * 2 : 256;
		if (cap > PERFMAP_MAX_ENTRIES)
			cap = PERFMAP_MAX_ENTRIES;
		if (may_grow(pm, (cap - pm->cap) * sizeof(*v)))
			return -EFBIG;
		v = realloc(pm->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		pm->v = v;
		pm->cap = cap;
	}
	pm->v[pm->nr++] = *e;
	return 0;
}

/* One line, without its newline. Malformed lines are counted, not fatal. */
static int parse_line(struct perfmap *pm, const char *s, const char *end)
{
	struct perfmap_entry e = {0};
	uint64_t size;
	size_t len;
	int err;

	while (end > s && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (s == end)
		return 0; /* blank lines are harmless */
	if (!parse_hex(&s, end, &e.start) || s == end || *s != ' ')
		goto bad;
	while (s < end && *s == ' ')
		s++;
	if (!parse_hex(&s, end, &size) || s == end || *s != ' ')
		goto bad;
	while (s < end && *s == ' ')
		s++;
	if (s == end || !size || size > UINT64_MAX - e.start)
		goto bad;
	e.end = e.start + size;
	len = (size_t)(end - s);
	if (len > PERFMAP_MAX_NAME - 1)
		len = PERFMAP_MAX_NAME - 1;
	if (memchr(s, '\0', len))
		goto bad;
	err = pool_add(pm, s, len, &e.name_off);
	if (err)
		return err;
	e.seq = pm->seq++;
	return entry_push(pm, &e);
bad:
	pm->nr_bad++;
	return 0;
}

/*
 * Parse the lines of @text. With @is_final the last line needs no newline;
 * otherwise it is left for later. *consumed is how far parsing got.
 */
static int parse_lines(struct perfmap *pm, const char *text, size_t len, bool is_final,
		       size_t *consumed)
{
	const char *p = text, *end = text + len, *nl;
	int err;

	while (p < end && pm->nr < PERFMAP_MAX_ENTRIES) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl && !is_final)
			break;
		err = parse_line(pm, p, nl ? nl : end);
		if (err)
			return err;
		p = nl ? nl + 1 : end;
	}
	*consumed = (size_t)(p - text);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct perfmap_entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	/* Newest first, so deduplication keeps it. */
	return x->seq > y->seq ? -1 : (x->seq < y->seq);
}

/* Sort by address and keep only the newest entry of each start address. */
static void finish(struct perfmap *pm)
{
	size_t i, nr = 0;

	if (pm->nr > 1)
		qsort(pm->v, pm->nr, sizeof(*pm->v), cmp_entry);
	for (i = 0; i < pm->nr; i++) {
		if (nr && pm->v[nr - 1].start == pm->v[i].start)
			continue;
		pm->v[nr++] = pm->v[i];
	}
	pm->nr = nr;
}

void perfmap_free(struct perfmap *pm)
{
	if (!pm)
		return;
	free(pm->v);
	free(pm->pool);
	free(pm);
}

int perfmap_parse(const char *text, size_t len, struct perfmap **out)
{
	struct perfmap *pm;
	size_t consumed;
	int err;

	*out = NULL;
	if (len > PERFMAP_MAX_FILE)
		len = PERFMAP_MAX_FILE;
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	err = parse_lines(pm, text ? text : "", text ? len : 0, true, &consumed);
	if (err) {
		perfmap_free(pm);
		return err;
	}
	finish(pm);
	*out = pm;
	return 0;
}

int perfmap_lookup(const struct perfmap *pm, uint64_t addr, const char **name, uint64_t *start)
{
	const struct perfmap_entry *best = NULL;
	size_t lo = 0, hi, i;

	if (!pm)
		return -ENOENT;
	hi = pm->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Overlapping ranges (rewritten code): the newest covering entry wins. */
	for (i = lo; i > 0 && lo - i < PERFMAP_OVERLAP_SCAN; i--) {
		const struct perfmap_entry *e = &pm->v[i - 1];

		if (addr < e->end && (!best || e->seq > best->seq))
			best = e;
	}
	if (!best)
		return -ENOENT;
	*name = pm->pool + best->name_off;
	if (start)
		*start = best->start;
	return 0;
}

size_t perfmap_nr(const struct perfmap *pm)
{
	return pm ? pm->nr : 0;
}

size_t perfmap_nr_bad_lines(const struct perfmap *pm)
{
	return pm ? pm->nr_bad : 0;
}

size_t perfmap_bytes(const struct perfmap *pm)
{
	return pm ? sizeof(*pm) + pm->cap * sizeof(*pm->v) + pm->pool_cap : 0;
}

/* --- per-process cache ------------------------------------------------- */

/* Read a small /proc text file into @buf (NUL-terminated). Returns length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t sz)
{
	size_t len = 0;
	ssize_t got;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sz - 1) {
		got = read(fd, buf + len, sz - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Start time (clock ticks after boot) from /proc/PID/stat: 0, or -errno. */
static int read_start_time(const struct perfmap_cache *c, pid_t pid, uint64_t *out)
{
	char path[4096], buf[PROC_TEXT_MAX], *p, *end;
	int field;

	snprintf(path, sizeof(path), "%s/%d/stat", c->proc_root, (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	/* After ')' come field 3 (state) ... field 22 (starttime). */
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	errno = 0;
	*out = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1)
		return -EINVAL;
	return 0;
}

/* The pid inside the process's own namespace: the last NSpid field, else @pid. */
static pid_t read_nspid(const struct perfmap_cache *c, pid_t pid)
{
	char path[4096], buf[PROC_TEXT_MAX], *p, *eol, *end;
	long v, last = -1;

	snprintf(path, sizeof(path), "%s/%d/status", c->proc_root, (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return pid;
	p = strstr(buf, "\nNSpid:");
	if (!p)
		return pid;
	p += 7;
	eol = strchr(p, '\n');
	if (eol)
		*eol = '\0';
	for (;;) {
		errno = 0;
		v = strtol(p, &end, 10);
		if (end == p || errno)
			break;
		last = v;
		p = end;
	}
	return last > 0 && last <= INT32_MAX ? (pid_t)last : pid;
}

/*
 * Open tmp/perf-N.map resolved inside the process's root; -errno. No size
 * cap at open: a JIT's map only grows, and the bytes parsed are capped at
 * PERFMAP_MAX_FILE by proc_refresh().
 */
static int open_map_file(const struct perfmap_cache *c, pid_t pid, pid_t nspid)
{
	char path[4096], rel[64];

	snprintf(path, sizeof(path), "%s/%d/root", c->proc_root, (int)pid);
	snprintf(rel, sizeof(rel), "tmp/perf-%d.map", (int)nspid);
	return safefile_open_in_root(path, rel, SAFEFILE_NO_CAP);
}

static int read_at(int fd, char *buf, size_t len, off_t off)
{
	size_t done = 0;
	ssize_t got;

	while (done < len) {
		got = pread(fd, buf + done, len - done, off + (off_t)done);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (!got)
			break;
		done += (size_t)got;
	}
	return (int)done; /* len is capped well below INT_MAX */
}

static void proc_reset(struct perfmap_proc *p)
{
	perfmap_free(p->pm);
	memset(p, 0, sizeof(*p));
}

/*
 * What @p's map may grow to: its share (PERFMAP_PROC_BYTES) of what the
 * other processes' maps leave of PERFMAP_CACHE_BYTES, less @held (its old
 * table, kept while a replacement is read).
 */
static size_t proc_allowance(const struct perfmap_cache *c, const struct perfmap_proc *p,
			     size_t held)
{
	size_t others = 0, i, left;

	for (i = 0; i < PERFMAP_CACHE_PROCS; i++)
		if (&c->procs[i] != p)
			others += perfmap_bytes(c->procs[i].pm);
	left = others + held < PERFMAP_CACHE_BYTES ? PERFMAP_CACHE_BYTES - others - held : 0;
	/* 1 byte, not 0: 0 would mean "no limit". */
	return left < PERFMAP_PROC_BYTES ? (left ? left : 1) : PERFMAP_PROC_BYTES;
}

/*
 * Parse the file from @from in chunks of PERFMAP_READ_CHUNK (never the
 * whole file in memory), up to the cap on bytes parsed and @pm's budget.
 * Returns where parsing stopped.
 */
static size_t parse_file(struct perfmap *pm, int fd, size_t from, size_t size, char *buf)
{
	size_t len, consumed;
	int got;

	while (from < size && from < PERFMAP_MAX_FILE) {
		len = size - from;
		if (len > PERFMAP_MAX_FILE - from)
			len = PERFMAP_MAX_FILE - from; /* the cap counts every byte ever parsed */
		if (len > PERFMAP_READ_CHUNK)
			len = PERFMAP_READ_CHUNK;
		got = read_at(fd, buf, len, (off_t)from);
		if (got <= 0)
			break;
		consumed = 0;
		/* A failed allocation or the budget mid-way keeps the entries parsed so far. */
		if (parse_lines(pm, buf, (size_t)got, false, &consumed) ||
		    pm->nr >= PERFMAP_MAX_ENTRIES) {
			from += consumed;
			break;
		}
		if (!consumed) {
			if ((size_t)got == PERFMAP_READ_CHUNK) {
				/*
				 * A chunk without a newline is no perf map (a line is at most
				 * a name and two numbers): a sparse file or junk. Reading on
				 * would cost up to PERFMAP_MAX_FILE for nothing: stop, and the
				 * rest counts as refused.
				 */
				pm->nr_bad++;
				pm->is_truncated = true;
			}
			break; /* else an incomplete last line: parsed when it is finished */
		}
		from += consumed;
	}
	return from;
}

/*
 * Bring p->pm up to date with the file: nothing when unchanged, parse the
 * tail when it only grew, re-read it when it was replaced or truncated. A
 * missing or unreadable file keeps what was read before. What the map may
 * grow to is bounded before every allocation (proc_allowance()).
 */
static void proc_refresh(struct perfmap_cache *c, struct perfmap_proc *p)
{
	struct perfmap *pm = NULL;
	struct stat st;
	size_t from = 0, to;
	bool is_append;
	char *buf = NULL;
	int fd;

	fd = open_map_file(c, p->pid, p->nspid);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		goto cleanup;
	if (p->has_file && st.st_dev == p->dev && st.st_ino == p->ino && st.st_size == p->size &&
	    st.st_mtim.tv_sec == p->mtime.tv_sec && st.st_mtim.tv_nsec == p->mtime.tv_nsec)
		goto cleanup;
	is_append = p->pm && p->has_file && !p->is_rewritten && st.st_dev == p->dev &&
		    st.st_ino == p->ino && st.st_size >= p->size;
	if (is_append) {
		pm = p->pm;
		from = p->consumed;
		pm->max_bytes = proc_allowance(c, p, 0);
	} else {
		pm = calloc(1, sizeof(*pm));
		if (!pm)
			goto cleanup;
		pm->max_bytes = proc_allowance(c, p, perfmap_bytes(p->pm));
	}
	buf = malloc(PERFMAP_READ_CHUNK);
	if (!buf)
		goto fail;
	to = parse_file(pm, fd, from, (size_t)st.st_size, buf);
	/* Stopped short of the end by the budget, junk, or the cap on bytes parsed. */
	if (pm->is_truncated || (to >= PERFMAP_MAX_FILE && to < (size_t)st.st_size)) {
		/* Of a file that only grew, the bytes refused before were counted then. */
		size_t before =
		    is_append && (size_t)p->size > p->consumed ? (size_t)p->size - p->consumed : 0;

		if ((size_t)st.st_size - to > before) {
			c->stats.truncated++;
			c->stats.refused_bytes += (size_t)st.st_size - to - before;
		}
		pm->is_truncated = false;
	}
	finish(pm);
	if (p->pm != pm)
		perfmap_free(p->pm);
	p->pm = pm;
	p->has_file = true;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->size = st.st_size;
	p->mtime = st.st_mtim;
	p->consumed = to;
	pm = NULL;
	goto cleanup;
fail:
	if (pm != p->pm)
		perfmap_free(pm);
cleanup:
	free(buf);
	close(fd);
}

int perfmap_cache_new(const char *proc_root, uint64_t refresh_ns, struct perfmap_cache **out)
{
	struct perfmap_cache *c;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->proc_root = strdup(proc_root ? proc_root : "/proc");
	if (!c->proc_root) {
		free(c);
		return -ENOMEM;
	}
	c->refresh_ns = refresh_ns;
	*out = c;
	return 0;
}

void perfmap_cache_free(struct perfmap_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < PERFMAP_CACHE_PROCS; i++)
		perfmap_free(c->procs[i].pm);
	free(c->proc_root);
	free(c);
}

static struct perfmap_proc *proc_slot(struct perfmap_cache *c, pid_t pid, bool is_new)
{
	struct perfmap_proc *victim = &c->procs[0];
	size_t i;

	for (i = 0; i < PERFMAP_CACHE_PROCS; i++) {
		struct perfmap_proc *p = &c->procs[i];

		if (p->is_used && p->pid == pid)
			return p;
		if (!p->is_used)
			victim = p;
		else if (victim->is_used && p->last_use < victim->last_use)
			victim = p;
	}
	if (!is_new)
		return NULL;
	proc_reset(victim);
	return victim;
}

const struct perfmap *perfmap_cache_get(struct perfmap_cache *c, pid_t pid)
{
	struct perfmap_proc *p;
	uint64_t now, start_time;

	p = proc_slot(c, pid, false);
	now = mono_ns();
	if (p && now - p->checked_ns < c->refresh_ns) {
		p->last_use = ++c->tick;
		return p->pm;
	}
	if (read_start_time(c, pid, &start_time)) {
		/* Gone: its last table is the best answer for its late samples. */
		if (p)
			p->last_use = ++c->tick;
		return p ? p->pm : NULL;
	}
	if (p && p->start_time != start_time)
		proc_reset(p); /* the pid was reused by another process */
	if (!p || !p->is_used) {
		p = proc_slot(c, pid, true);
		p->is_used = true;
		p->pid = pid;
		p->start_time = start_time;
		p->nspid = read_nspid(c, pid);
	}
	p->checked_ns = now;
	p->last_use = ++c->tick;
	proc_refresh(c, p);
	return p->pm;
}

void perfmap_cache_reload(struct perfmap_cache *c, pid_t pid)
{
	struct perfmap_proc *p = proc_slot(c, pid, false);

	if (!p) {
		/* Not looked up yet: read it now, and know it for a rewritten file from now on. */
		perfmap_cache_get(c, pid);
		p = proc_slot(c, pid, false);
		if (p)
			p->is_rewritten = true;
		return;
	}
	p->is_rewritten = true;
	p->has_file = false; /* not an append: proc_refresh() parses it whole */
	p->checked_ns = 0;
}

void perfmap_cache_get_stats(const struct perfmap_cache *c, struct perfmap_cache_stats *out)
{
	*out = c->stats;
}

size_t perfmap_cache_bytes(const struct perfmap_cache *c)
{
	size_t i, bytes;

	if (!c)
		return 0;
	bytes = sizeof(*c);
	for (i = 0; i < PERFMAP_CACHE_PROCS; i++)
		bytes += perfmap_bytes(c->procs[i].pm);
	return bytes;
}
