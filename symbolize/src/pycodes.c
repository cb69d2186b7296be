// SPDX-License-Identifier: Apache-2.0
#include "pycodes.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/list.h"

struct pc_proc;

struct pc_entry {
	struct hnode node;	    /* by (pid, code) */
	struct list_head lru;	    /* most recently used first */
	struct list_head proc_link; /* the process's entries */
	struct pc_proc *proc;
	pid_t pid;
	size_t bytes;
	struct pycode pc; /* strings and table in the same allocation */
};

struct pc_proc {
	struct hnode node; /* by pid */
	pid_t pid;
	struct list_head entries;
};

struct pycodes {
	struct hmap by_code;
	struct hmap by_pid;
	struct list_head lru;
	size_t max_bytes;
	struct pycodes_stats st;
};

static uint64_t code_hash(pid_t pid, uint64_t code)
{
	return hash_combine(hash_u64((uint64_t)pid), code);
}

int pycodes_new(size_t max_bytes, struct pycodes **out)
{
	struct pycodes *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	hmap_init(&c->by_code);
	hmap_init(&c->by_pid);
	list_init(&c->lru);
	c->max_bytes = max_bytes;
	*out = c;
	return 0;
}

static struct pc_proc *proc_find(const struct pycodes *c, pid_t pid)
{
	struct hnode *n;

	for (n = hmap_first(&c->by_pid, hash_u64((uint64_t)pid)); n; n = hmap_next(n)) {
		struct pc_proc *p = container_of(n, struct pc_proc, node);

		if (p->pid == pid)
			return p;
	}
	return NULL;
}

static struct pc_entry *entry_find(const struct pycodes *c, pid_t pid, uint64_t code)
{
	struct hnode *n;

	for (n = hmap_first(&c->by_code, code_hash(pid, code)); n; n = hmap_next(n)) {
		struct pc_entry *e = container_of(n, struct pc_entry, node);

		if (e->pid == pid && e->pc.code == code)
			return e;
	}
	return NULL;
}

static void entry_drop(struct pycodes *c, struct pc_entry *e)
{
	struct pc_proc *p = e->proc;

	hmap_remove(&c->by_code, &e->node);
	list_del(&e->lru);
	list_del(&e->proc_link);
	/* The process record goes with its last entry. */
	if (list_empty(&p->entries)) {
		hmap_remove(&c->by_pid, &p->node);
		free(p);
	}
	c->st.entries--;
	c->st.bytes -= e->bytes;
	free(e);
}

void pycodes_free(struct pycodes *c)
{
	if (!c)
		return;
	while (!list_empty(&c->lru))
		entry_drop(c, list_entry(c->lru.next, struct pc_entry, lru));
	hmap_fini(&c->by_code);
	hmap_fini(&c->by_pid);
	free(c);
}

static char *put(char **pool, const char *s)
{
	size_t n = strlen(s) + 1;
	char *at = *pool;

	memcpy(at, s, n);
	*pool += n;
	return at;
}

int pycodes_add(struct pycodes *c, pid_t pid, const struct symbolizer_py_code *code)
{
	const char *qn = code->qualname ? code->qualname : "",
		   *fn = code->filename ? code->filename : "";
	size_t bytes = sizeof(struct pc_entry) + strlen(qn) + strlen(fn) + 2 + code->linetable_len;
	struct pc_entry *e, *old;
	struct pc_proc *p;
	int replaced = 0;
	char *pool;

	if (bytes > c->max_bytes)
		goto refuse;
	old = entry_find(c, pid, code->code);
	if (old) {
		entry_drop(c, old);
		replaced = 1;
	}
	while (c->st.bytes + bytes > c->max_bytes && !list_empty(&c->lru)) {
		entry_drop(c, list_entry(c->lru.prev, struct pc_entry, lru));
		c->st.evicted++;
	}
	p = proc_find(c, pid);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			goto refuse;
		p->pid = pid;
		list_init(&p->entries);
		if (hmap_insert(&c->by_pid, &p->node, hash_u64((uint64_t)pid))) {
			free(p);
			goto refuse;
		}
	}
	e = calloc(1, bytes);
	if (!e || hmap_insert(&c->by_code, &e->node, code_hash(pid, code->code))) {
		free(e);
		if (list_empty(&p->entries)) {
			hmap_remove(&c->by_pid, &p->node);
			free(p);
		}
		goto refuse;
	}
	e->pid = pid;
	e->proc = p;
	e->bytes = bytes;
	e->pc.code = code->code;
	e->pc.firstlineno = code->firstlineno;
	pool = (char *)(e + 1);
	if (code->linetable_len) {
		memcpy(pool, code->linetable, code->linetable_len);
		e->pc.linetable = (const unsigned char *)pool;
		e->pc.linetable_len = code->linetable_len;
		pool += code->linetable_len;
	}
	e->pc.qualname = put(&pool, qn);
	e->pc.filename = put(&pool, fn);
	list_add(&e->lru, &c->lru);
	list_add(&e->proc_link, &p->entries);
	c->st.entries++;
	c->st.bytes += bytes;
	c->st.added++;
	return replaced;
refuse:
	c->st.refused++;
	return -ENOMEM;
}

const struct pycode *pycodes_get(struct pycodes *c, pid_t pid, uint64_t code)
{
	struct pc_entry *e = entry_find(c, pid, code);

	if (!e) {
		c->st.missing++;
		return NULL;
	}
	c->st.found++;
	list_move(&e->lru, &c->lru);
	return &e->pc;
}

void pycodes_forget(struct pycodes *c, pid_t pid)
{
	struct pc_proc *p = proc_find(c, pid);
	struct pc_entry *e;
	bool last;

	if (!p)
		return;
	do {
		e = list_entry(p->entries.next, struct pc_entry, proc_link);
		last = e->proc_link.next == &p->entries;
		entry_drop(c, e); /* frees p with its last entry */
	} while (!last);
}

void pycodes_get_stats(const struct pycodes *c, struct pycodes_stats *out)
{
	*out = c->st;
}
