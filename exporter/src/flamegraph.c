// SPDX-License-Identifier: Apache-2.0
/*
 * Flame graph: a trie of stacks, and its HTML page.
 *
 * Nodes live in one array and refer to each other by index, so growing the
 * array moves nothing that matters. Children are found through one
 * open-addressing table keyed by (parent, name), names through another: a
 * lookup is a hash and a probe, with no per-node child lists to keep while
 * stacks are added. The child lists the page needs (sorted by name, as
 * FlameGraph sorts them, so that a page does not depend on the order the
 * stacks came in) are built once, in flamegraph_write_html().
 */
#include "exporter/flamegraph.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hmap.h"
#include "common/u64map.h"

/* The page template, compiled in from exporter/assets/flamegraph.html (embed.cmake). */
extern const char flamegraph_html_tmpl[];
extern const size_t flamegraph_html_tmpl_len;

#define NAME_ROOT      0u /* "all" */
#define NAME_TRUNCATED 1u /* "[truncated]" */
#define NAME_RESERVED  2u
#define NO_NODE	       UINT32_MAX
/*
 * Node slots only "[truncated]" children may take: once the graph is full,
 * a cut stack can still hang its samples right under its deepest known
 * frame instead of far up the tree. The very last slot is the root's.
 */
#define TRUNC_RESERVE (FLAMEGRAPH_MAX_NODES / 64)
#define REAL_MAX      (FLAMEGRAPH_MAX_NODES - TRUNC_RESERVE)
#define TOP_SELF_MAX  20

struct fg_node {
	uint32_t parent; /* NO_NODE for the root */
	uint32_t name;
	uint32_t trunc; /* this node's "[truncated]" child, or 0 (the root is never a child) */
	uint32_t depth;
	uint64_t total; /* samples in this node and below */
	uint64_t self;	/* samples whose stack ends here */
	uint64_t base;	/* the base profile's samples in this node and below (a diff) */
};

struct fg_name {
	char *str; /* NUL-terminated copy, as given (suffix included) */
	uint32_t len;
	uint32_t mark; /* the base stack that last counted this name */
	uint64_t hash;
	uint64_t base_incl; /* base samples with this name anywhere on the stack */
};

struct flamegraph {
	struct fg_node *nodes;
	uint32_t nr_nodes, nodes_cap;
	/* (parent << 32 | name) -> node index (the root, index 0, is never a child) */
	struct u64map children;
	struct fg_name *names;
	uint32_t nr_names, names_cap;
	/* a name's hash -> name index + 1. Reserved names are not in it. */
	struct u64map name_map;
	size_t name_bytes;
	/*
	 * Per graph, so that names crafted to collide (frame names come from
	 * the profiled programs) cannot be prepared in advance. The page does
	 * not depend on it: children are sorted by name, names kept in order.
	 */
	uint64_t name_seed;
	uint64_t total;
	uint64_t truncated_samples;
	uint64_t truncated_stacks;
	bool has_base; /* a differential graph: flamegraph_add_base was called */
	uint64_t base_total;
	uint32_t base_stacks; /* the marks of fg_name */
};

/* ------------------------------------------------------------ hashing */

static uint64_t child_key(uint32_t parent, uint32_t name)
{
	return ((uint64_t)parent << 32) | name;
}

static uint32_t name_cut_len(const char *s)
{
	return (uint32_t)strnlen(s, FLAMEGRAPH_MAX_NAME);
}

/* Name index of @s (already cut to @len), or NO_NODE. */
static uint32_t name_lookup(const struct flamegraph *fg, const char *s, uint32_t len, uint64_t h)
{
	uint32_t pos = UINT32_MAX, v;

	while ((v = u64map_next(&fg->name_map, h, &pos))) {
		const struct fg_name *n = &fg->names[v - 1];

		if (n->len == len && !memcmp(n->str, s, len))
			return v - 1;
	}
	return NO_NODE;
}

static int names_push(struct flamegraph *fg, const char *s, uint32_t len, uint64_t h)
{
	struct fg_name *n;

	if (fg->nr_names == fg->names_cap) {
		uint32_t cap = fg->names_cap ? fg->names_cap * 2 : 64;

		n = realloc(fg->names, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		fg->names = n;
		fg->names_cap = cap;
	}
	n = &fg->names[fg->nr_names];
	n->str = malloc(len + 1);
	if (!n->str)
		return -ENOMEM;
	memcpy(n->str, s, len);
	n->str[len] = '\0';
	n->len = len;
	n->hash = h;
	n->mark = 0;
	n->base_incl = 0;
	fg->nr_names++;
	fg->name_bytes += len;
	return 0;
}

static int name_intern(struct flamegraph *fg, const char *s, uint32_t len, uint64_t h,
		       uint32_t *out)
{
	int err;

	err = names_push(fg, s, len, h);
	if (err)
		return err;
	err = u64map_put(&fg->name_map, h, fg->nr_names); /* index + 1 */
	if (err) {
		fg->nr_names--;
		fg->name_bytes -= len;
		free(fg->names[fg->nr_names].str);
		return err;
	}
	*out = fg->nr_names - 1;
	return 0;
}

static uint32_t child_lookup(const struct flamegraph *fg, uint32_t parent, uint32_t name)
{
	uint32_t v = u64map_get(&fg->children, child_key(parent, name));

	return v ? v : NO_NODE;
}

/* A new node under @parent. "[truncated]" nodes hang off parent->trunc, not the child table. */
static int node_new(struct flamegraph *fg, uint32_t parent, uint32_t name, uint32_t *out)
{
	struct fg_node *n;
	uint32_t idx;
	int err;

	if (fg->nr_nodes >= FLAMEGRAPH_MAX_NODES)
		return -ENOSPC;
	if (fg->nr_nodes == fg->nodes_cap) {
		uint32_t cap = fg->nodes_cap * 2;

		if (cap > FLAMEGRAPH_MAX_NODES)
			cap = FLAMEGRAPH_MAX_NODES;
		n = realloc(fg->nodes, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		fg->nodes = n;
		fg->nodes_cap = cap;
	}
	if (name != NAME_TRUNCATED) {
		err = u64map_put(&fg->children, child_key(parent, name), fg->nr_nodes);
		if (err)
			return err;
	}
	idx = fg->nr_nodes++;
	n = &fg->nodes[idx];
	n->parent = parent;
	n->name = name;
	n->trunc = 0;
	n->depth = fg->nodes[parent].depth + 1;
	n->total = 0;
	n->self = 0;
	n->base = 0;
	if (name == NAME_TRUNCATED)
		fg->nodes[parent].trunc = idx;
	*out = idx;
	return 0;
}

/* --------------------------------------------------------------- graph */

int flamegraph_new(struct flamegraph **out)
{
	struct flamegraph *fg = NULL;
	struct timespec now;
	int err = -ENOMEM;

	*out = NULL;
	fg = calloc(1, sizeof(*fg));
	if (!fg)
		goto cleanup;
	fg->nodes_cap = 1024;
	fg->nodes = malloc(fg->nodes_cap * sizeof(*fg->nodes));
	if (!fg->nodes)
		goto cleanup;
	/* Reserved names take the first indices; they are not in the name table. */
	if (names_push(fg, "all", 3, 0) || names_push(fg, "[truncated]", 11, 0))
		goto cleanup;
	clock_gettime(CLOCK_MONOTONIC, &now);
	fg->name_seed = hash_combine((uint64_t)(uintptr_t)fg,
				     (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 30));
	fg->nodes[0] = (struct fg_node){.parent = NO_NODE, .name = NAME_ROOT};
	fg->nr_nodes = 1;
	*out = fg;
	fg = NULL;
	err = 0;
cleanup:
	flamegraph_free(fg);
	return err;
}

void flamegraph_free(struct flamegraph *fg)
{
	uint32_t i;

	if (!fg)
		return;
	for (i = 0; i < fg->nr_names; i++)
		free(fg->names[i].str);
	free(fg->names);
	u64map_fini(&fg->name_map);
	u64map_fini(&fg->children);
	free(fg->nodes);
	free(fg);
}

size_t flamegraph_nr_nodes(const struct flamegraph *fg)
{
	return fg ? fg->nr_nodes : 0;
}

void flamegraph_get_stats(const struct flamegraph *fg, struct flamegraph_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!fg)
		return;
	st->total = fg->total;
	st->truncated_samples = fg->truncated_samples;
	st->truncated_stacks = fg->truncated_stacks;
	st->nr_nodes = fg->nr_nodes;
	st->nr_names = fg->nr_names;
}

/*
 * Where the samples of a stack cut after node @at go: @at's "[truncated]"
 * child, made if there is room. The last node slot is kept for the root's
 * "[truncated]" child, so when even the reserve is used up there is always
 * somewhere to go: the nearest ancestor that already has such a child, at
 * worst the root's. Returns the node index or NO_NODE (-ENOMEM).
 */
static uint32_t trunc_target(struct flamegraph *fg, uint32_t at)
{
	uint32_t t;

	if (fg->nodes[at].trunc)
		return fg->nodes[at].trunc;
	if (fg->nr_nodes < FLAMEGRAPH_MAX_NODES - 1 && !node_new(fg, at, NAME_TRUNCATED, &t))
		return t;
	for (at = fg->nodes[at].parent; at != NO_NODE; at = fg->nodes[at].parent) {
		if (fg->nodes[at].trunc)
			return fg->nodes[at].trunc;
	}
	if (node_new(fg, 0, NAME_TRUNCATED, &t))
		return NO_NODE;
	return t;
}

/* A stack's arguments: -EINVAL (a NULL frame), -ERANGE (past the total @count adds to), 0. */
static int check_stack(const struct flamegraph *fg, const char *const *frames, size_t n,
		       uint64_t count, uint64_t total)
{
	if (!fg || (n && !frames))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!frames[i])
			return -EINVAL;
	}
	return count > FLAMEGRAPH_MAX_TOTAL - total ? -ERANGE : 0;
}

/* The end of an add: the cut (to a "[truncated]" frame), then @count up the path from @cur. */
static int add_end(struct flamegraph *fg, uint32_t cur, bool cut, uint64_t count)
{
	if (cut) {
		cur = trunc_target(fg, cur);
		if (cur == NO_NODE)
			return -ENOMEM;
		fg->truncated_samples += count;
		fg->truncated_stacks++;
	}
	fg->nodes[cur].self += count;
	for (; cur != NO_NODE; cur = fg->nodes[cur].parent)
		fg->nodes[cur].total += count;
	fg->total += count;
	return 0;
}

int flamegraph_add(struct flamegraph *fg, const char *const *frames, size_t n, uint64_t count)
{
	uint32_t cur = 0, name, child, i, m;
	bool cut;
	int err;

	err = check_stack(fg, frames, n, count, fg ? fg->total : 0);
	if (err)
		return err;
	if (!count)
		return 0;

	m = n > FLAMEGRAPH_MAX_DEPTH ? FLAMEGRAPH_MAX_DEPTH : (uint32_t)n;
	cut = n > m;
	for (i = 0; i < m; i++) {
		uint32_t len = name_cut_len(frames[i]);
		uint64_t h = hash_bytes(frames[i], len, fg->name_seed);

		name = name_lookup(fg, frames[i], len, h);
		child = name == NO_NODE ? NO_NODE : child_lookup(fg, cur, name);
		if (child != NO_NODE) {
			cur = child;
			continue;
		}
		if (fg->nr_nodes >= REAL_MAX ||
		    (name == NO_NODE && fg->name_bytes + len > FLAMEGRAPH_MAX_NAME_BYTES)) {
			cut = true;
			break;
		}
		if (name == NO_NODE) {
			err = name_intern(fg, frames[i], len, h, &name);
			if (err)
				return err;
		}
		/*
		 * A failure here leaves nodes with no samples behind: the
		 * page skips those, and a later stack may still fill them.
		 */
		err = node_new(fg, cur, name, &cur);
		if (err)
			return err;
	}
	return add_end(fg, cur, cut, count);
}

int flamegraph_intern(struct flamegraph *fg, const char *s, uint32_t *id)
{
	uint32_t len, name;
	uint64_t h;
	int err;

	if (!fg || !s || !id)
		return -EINVAL;
	len = name_cut_len(s);
	h = hash_bytes(s, len, fg->name_seed);
	name = name_lookup(fg, s, len, h);
	if (name == NO_NODE) {
		if (fg->name_bytes + len > FLAMEGRAPH_MAX_NAME_BYTES) {
			*id = FLAMEGRAPH_NAME_NONE;
			return 0;
		}
		err = name_intern(fg, s, len, h, &name);
		if (err)
			return err;
	}
	*id = name;
	return 0;
}

/* An index from flamegraph_intern: not a reserved one, not past the table. */
static bool id_ok(const struct flamegraph *fg, uint32_t id)
{
	return id == FLAMEGRAPH_NAME_NONE || (id > NAME_TRUNCATED && id < fg->nr_names);
}

/* A stack by index: as check_stack, and every index one flamegraph_intern gave. */
static int check_ids(const struct flamegraph *fg, const uint32_t *ids, size_t n, uint64_t count,
		     uint64_t total)
{
	if (!fg || (n && !ids))
		return -EINVAL;
	for (size_t k = 0; k < n; k++) {
		if (!id_ok(fg, ids[k]))
			return -EINVAL;
	}
	return count > FLAMEGRAPH_MAX_TOTAL - total ? -ERANGE : 0;
}

int flamegraph_add_ids(struct flamegraph *fg, const uint32_t *ids, size_t n, uint64_t count)
{
	uint32_t cur = 0, child, i, m;
	bool cut;
	int err;

	err = check_ids(fg, ids, n, count, fg ? fg->total : 0);
	if (err)
		return err;
	if (!count)
		return 0;
	m = n > FLAMEGRAPH_MAX_DEPTH ? FLAMEGRAPH_MAX_DEPTH : (uint32_t)n;
	cut = n > m;
	for (i = 0; i < m; i++) {
		if (ids[i] == FLAMEGRAPH_NAME_NONE) {
			cut = true;
			break;
		}
		child = child_lookup(fg, cur, ids[i]);
		if (child != NO_NODE) {
			cur = child;
			continue;
		}
		if (fg->nr_nodes >= REAL_MAX) {
			cut = true;
			break;
		}
		err = node_new(fg, cur, ids[i], &cur);
		if (err)
			return err;
	}
	return add_end(fg, cur, cut, count);
}

/*
 * One frame @name of a base stack: its name's base share (once per stack),
 * and its node's base samples while the graph has the path (*@on_path).
 */
static void base_step(struct flamegraph *fg, uint32_t name, uint64_t count, uint32_t *cur,
		      bool *on_path)
{
	if (fg->names[name].mark != fg->base_stacks) {
		fg->names[name].mark = fg->base_stacks;
		fg->names[name].base_incl += count;
	}
	/* Its nodes: as deep as the graph has this stack (no node is made). */
	if (*on_path) {
		uint32_t child = child_lookup(fg, *cur, name);

		if (child == NO_NODE)
			*on_path = false;
		else
			fg->nodes[(*cur = child)].base += count;
	}
}

int flamegraph_add_base(struct flamegraph *fg, const char *const *frames, size_t n, uint64_t count)
{
	uint32_t ids[FLAMEGRAPH_MAX_DEPTH], m, i;
	int err;

	err = check_stack(fg, frames, n, count, fg ? fg->base_total : 0);
	if (err || !count)
		return err ?: flamegraph_add_base_ids(fg, NULL, 0, 0);
	m = n > FLAMEGRAPH_MAX_DEPTH ? FLAMEGRAPH_MAX_DEPTH : (uint32_t)n;
	/* A function only the base has is interned too: its share fell to 0, the table says so. */
	for (i = 0; i < m;) {
		err = flamegraph_intern(fg, frames[i], &ids[i]);
		if (err)
			return err;
		if (ids[i++] == FLAMEGRAPH_NAME_NONE)
			break;
	}
	return flamegraph_add_base_ids(fg, ids, i, count);
}

int flamegraph_add_base_ids(struct flamegraph *fg, const uint32_t *ids, size_t n, uint64_t count)
{
	uint32_t cur = 0, m, i;
	bool on_path = true;
	int err;

	err = check_ids(fg, ids, n, count, fg ? fg->base_total : 0);
	if (err)
		return err;
	fg->has_base = true;
	if (!count)
		return 0;
	m = n > FLAMEGRAPH_MAX_DEPTH ? FLAMEGRAPH_MAX_DEPTH : (uint32_t)n;
	fg->base_stacks++;
	fg->nodes[0].base += count;
	for (i = 0; i < m && ids[i] != FLAMEGRAPH_NAME_NONE; i++)
		base_step(fg, ids[i], count, &cur, &on_path);
	fg->base_total += count;
	return 0;
}

#define FOLDED_MAX_FRAMES (FLAMEGRAPH_MAX_DEPTH + 1)

int flamegraph_add_folded(struct flamegraph *fg, const char *line, size_t len, const char **why)
{
	const char *frames[FOLDED_MAX_FRAMES];
	const char *p, *end, *num;
	char *stack = NULL, *q;
	uint64_t count = 0;
	size_t n = 0, slen, i;
	const char *msg = NULL;
	int err = -EINVAL;

	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	end = line + len;
	while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == line) {
		msg = "empty line";
		goto cleanup;
	}
	for (num = end; num > line && num[-1] != ' ' && num[-1] != '\t'; num--)
		;
	if (num == line) {
		msg = "no sample count: want 'frame;frame;... COUNT'";
		goto cleanup;
	}
	if (*num == '-') {
		msg = "negative sample count";
		goto cleanup;
	}
	for (p = num; p < end; p++) {
		unsigned d = (unsigned char)*p - '0';

		if (d > 9) {
			msg = "the last field is not a decimal sample count";
			goto cleanup;
		}
		if (count > (UINT64_MAX - d) / 10) {
			msg = "sample count overflows 64 bits";
			err = -ERANGE;
			goto cleanup;
		}
		count = count * 10 + d;
	}
	for (p = num; p > line && (p[-1] == ' ' || p[-1] == '\t'); p--)
		;
	slen = (size_t)(p - line);
	if (!slen) {
		msg = "no frames before the sample count";
		goto cleanup;
	}
	if (memchr(line, '\0', slen)) {
		msg = "NUL byte in the stack";
		goto cleanup;
	}
	stack = malloc(slen + 1);
	if (!stack) {
		err = -ENOMEM;
		goto cleanup;
	}
	memcpy(stack, line, slen);
	stack[slen] = '\0';
	/*
	 * Split in place. Frames past FLAMEGRAPH_MAX_DEPTH are not kept: one
	 * more than the graph takes is enough for flamegraph_add to cut there.
	 */
	for (q = stack; n < FOLDED_MAX_FRAMES;) {
		char *semi = strchr(q, ';');

		frames[n++] = q;
		if (!semi)
			break;
		*semi = '\0';
		q = semi + 1;
	}
	for (i = 0; i < n; i++) {
		if (!frames[i][0]) {
			msg = "empty frame name (';;' or a ';' at an end)";
			goto cleanup;
		}
	}
	err = flamegraph_add(fg, frames, n, count);
	if (err == -ERANGE)
		msg = "sample count takes the total past 2^53 - 1 samples";
	else if (err == -ENOMEM)
		msg = "out of memory";
cleanup:
	free(stack);
	if (why)
		*why = msg;
	return err;
}

/* ------------------------------------------------------------ escaping */

/*
 * Decode one UTF-8 sequence at s[0..len): the code point, or -1 for an
 * invalid, overlong, surrogate or out-of-range sequence (then *adv is 1, so
 * one bad byte costs one U+FFFD).
 */
static int32_t utf8_next(const unsigned char *s, size_t len, size_t *adv)
{
	uint32_t c = s[0], min;
	size_t n, i;

	*adv = 1;
	if (c < 0x80)
		return (int32_t)c;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if (len < n)
		return -1;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*adv = n;
	return (int32_t)c;
}

/*
 * A JSON string body safe inside a <script> element: '<', '>' and '&' as
 * \u escapes (so neither "</script" nor "<!--" can appear), every control
 * byte escaped, U+2028/U+2029 escaped (JS source would end a line there),
 * invalid UTF-8 as U+FFFD.
 */
static int json_escape(struct strbuf *sb, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0, adv;
	char esc[16];
	int err;

	while (i < len) {
		int32_t c = utf8_next(s + i, len - i, &adv);
		const char *rep = NULL;

		if (c < 0)
			rep = "\\ufffd";
		else if (c == '"')
			rep = "\\\"";
		else if (c == '\\')
			rep = "\\\\";
		else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&' || c == 0x2028 ||
			 c == 0x2029) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)c);
			rep = esc;
		}
		if (!rep) {
			i += adv;
			run += adv;
			continue;
		}
		err = strbuf_append(sb, s + i - run, run);
		if (!err)
			err = strbuf_appends(sb, rep);
		if (err)
			return err;
		run = 0;
		i += adv;
	}
	return strbuf_append(sb, s + i - run, run);
}

int html_escape(struct strbuf *sb, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0, adv;
	int err;

	while (i < len) {
		int32_t c = utf8_next(s + i, len - i, &adv);
		const char *rep = NULL;

		if (c < 0 || (c < 0x20 && c != '\t') || (c >= 0x7f && c <= 0x9f))
			rep = "\xef\xbf\xbd";
		else if (c == '&')
			rep = "&amp;";
		else if (c == '<')
			rep = "&lt;";
		else if (c == '>')
			rep = "&gt;";
		else if (c == '"')
			rep = "&quot;";
		else if (c == '\'')
			rep = "&#39;";
		if (!rep) {
			i += adv;
			run += adv;
			continue;
		}
		err = strbuf_append(sb, s + i - run, run);
		if (!err)
			err = strbuf_appends(sb, rep);
		if (err)
			return err;
		run = 0;
		i += adv;
	}
	return strbuf_append(sb, s + i - run, run);
}

/* ----------------------------------------------------------------- page */

enum fg_kind {
	KIND_USER = 'u',
	KIND_KERNEL = 'k',
	KIND_JIT = 'j',
	KIND_INLINED = 'i',
	KIND_ROOT = 'r',
	KIND_TRUNCATED = 't',
};

/* The kind of name @idx, and the length of its label (suffix stripped). */
static enum fg_kind name_kind(const struct flamegraph *fg, uint32_t idx, size_t *label_len)
{
	const struct fg_name *n = &fg->names[idx];
	const char *s = n->str;

	*label_len = n->len;
	if (idx == NAME_ROOT)
		return KIND_ROOT;
	if (idx == NAME_TRUNCATED)
		return KIND_TRUNCATED;
	if (n->len < 5 || memcmp(s + n->len - 4, "_[", 2) || s[n->len - 1] != ']')
		return KIND_USER;
	switch (s[n->len - 2]) {
	case 'k':
		*label_len -= 4;
		return KIND_KERNEL;
	case 'j':
		*label_len -= 4;
		return KIND_JIT;
	case 'i':
		*label_len -= 4;
		return KIND_INLINED;
	default:
		return KIND_USER;
	}
}

static const char *kind_label(enum fg_kind k)
{
	switch (k) {
	case KIND_KERNEL:
		return "kernel";
	case KIND_JIT:
		return "JIT";
	case KIND_INLINED:
		return "inlined";
	case KIND_ROOT:
		return "root";
	case KIND_TRUNCATED:
		return "truncated";
	default:
		return "user";
	}
}

/* What the page is built from: each node's children, sorted by label. */
struct fg_layout {
	uint32_t *child_off; /* node i's children: child_idx[child_off[i] .. child_off[i + 1]) */
	uint32_t *child_idx;
};

/*
 * What the page leaves out (page->prune_den, page->max_nodes): a frame's
 * score is its share of the samples, in a differential graph the larger of
 * its shares of this range and of the base. Scores never grow from a caller
 * to its callees, so any cut keeps a whole tree. Frames under 1/prune_den
 * go, then, past max_nodes frames, those at or under the (max_nodes + 1)-th
 * largest score. Their samples stay in their callers' totals; the tables
 * count every frame.
 */
struct prune {
	bool on;
	double min;  /* keep a frame whose score is >= min ... */
	double over; /* ... and > over */
};

static double score(const struct flamegraph *fg, const struct fg_node *n)
{
	double s = fg->total ? (double)n->total / (double)fg->total : 0;

	if (fg->has_base && fg->base_total && (double)n->base / (double)fg->base_total > s)
		s = (double)n->base / (double)fg->base_total;
	return s;
}

static bool kept(const struct flamegraph *fg, const struct prune *pr, const struct fg_node *n)
{
	double s;

	if (!pr->on)
		return true;
	s = score(fg, n);
	return s >= pr->min && s > pr->over;
}

/* The @k-th largest (0: the largest) of @v[0..n), n > k; @v is reordered. */
static double kth_largest(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2], t;
		size_t i = lo, j = hi;

		/* Hoare partition, largest first: [lo, j] >= pivot >= [i, hi]. */
		while (i <= j) {
			while (v[i] > pivot)
				i++;
			while (v[j] < pivot)
				j--;
			if (i <= j) {
				t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return v[k];
	}
	return v[k];
}

static int prune_init(const struct flamegraph *fg, const struct flamegraph_page *page,
		      struct prune *pr)
{
	double *v;
	size_t n = 0;

	*pr = (struct prune){.on = page->prune_den || page->max_nodes, .over = -1};
	if (!pr->on)
		return 0;
	pr->min = page->prune_den ? 1.0 / page->prune_den : 0;
	if (!page->max_nodes || fg->nr_nodes <= page->max_nodes + 1)
		return 0;
	v = malloc(fg->nr_nodes * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t i = 1; i < fg->nr_nodes; i++) {
		double s = score(fg, &fg->nodes[i]);

		if (fg->nodes[i].total && s >= pr->min)
			v[n++] = s;
	}
	if (n > page->max_nodes)
		pr->over = kth_largest(v, n, page->max_nodes);
	free(v);
	return 0;
}

/* The frames the page leaves out, and the samples of the outermost of them. */
static void prune_stats(const struct flamegraph *fg, const struct prune *pr, uint32_t *frames,
			uint64_t *samples)
{
	*frames = 0;
	*samples = 0;
	for (uint32_t i = 1; pr->on && i < fg->nr_nodes; i++) {
		const struct fg_node *n = &fg->nodes[i];

		if (!n->total || kept(fg, pr, n))
			continue;
		(*frames)++;
		if (!n->parent || kept(fg, pr, &fg->nodes[n->parent]))
			*samples += n->total;
	}
}

static int child_cmp(const void *a, const void *b, void *arg)
{
	const struct flamegraph *fg = arg;
	const struct fg_node *x = &fg->nodes[*(const uint32_t *)a];
	const struct fg_node *y = &fg->nodes[*(const uint32_t *)b];
	const struct fg_name *nx = &fg->names[x->name], *ny = &fg->names[y->name];
	int c;

	/* "[truncated]" last, whatever the names: it is not a function. */
	if ((x->name == NAME_TRUNCATED) != (y->name == NAME_TRUNCATED))
		return x->name == NAME_TRUNCATED ? 1 : -1;
	c = memcmp(nx->str, ny->str, nx->len < ny->len ? nx->len : ny->len);
	if (c)
		return c;
	return nx->len < ny->len ? -1 : nx->len > ny->len;
}

/* Children lists, sorted by label; without the frames @pr leaves out (NULL: none). */
static int layout_build(const struct flamegraph *fg, struct fg_layout *l, const struct prune *pr)
{
	uint32_t i, *fill = NULL;

	l->child_off = calloc((size_t)fg->nr_nodes + 1, sizeof(*l->child_off));
	l->child_idx = malloc(((size_t)fg->nr_nodes + 1) * sizeof(*l->child_idx));
	fill = calloc((size_t)fg->nr_nodes + 1, sizeof(*fill));
	if (!l->child_off || !l->child_idx || !fill) {
		free(fill);
		return -ENOMEM;
	}
	/* Nodes without samples (left by a failed add) are not shown. */
#define SHOWN(i) (fg->nodes[i].total && (!pr || kept(fg, pr, &fg->nodes[i])))
	for (i = 1; i < fg->nr_nodes; i++) {
		if (SHOWN(i))
			l->child_off[fg->nodes[i].parent + 1]++;
	}
	for (i = 0; i < fg->nr_nodes; i++)
		l->child_off[i + 1] += l->child_off[i];
	for (i = 1; i < fg->nr_nodes; i++) {
		uint32_t p = fg->nodes[i].parent;

		if (SHOWN(i))
			l->child_idx[l->child_off[p] + fill[p]++] = i;
	}
#undef SHOWN
	for (i = 0; i < fg->nr_nodes; i++) {
		uint32_t nr = l->child_off[i + 1] - l->child_off[i];

		if (nr > 1)
			qsort_r(l->child_idx + l->child_off[i], nr, sizeof(uint32_t), child_cmp,
				(void *)fg);
	}
	free(fill);
	return 0;
}

static void layout_free(struct fg_layout *l)
{
	free(l->child_off);
	free(l->child_idx);
}

/* Decimal digits of @v at the end of @buf (which ends at @end); returns the first digit. */
static char *u64_digits(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

/* ",name,depth,total,self": by hand, as it runs once per node of up to 200,000. */
static int append_node(struct strbuf *sb, const struct fg_node *n)
{
	char buf[4 * 21], *end = buf + sizeof(buf), *p = end;

	p = u64_digits(p, n->self);
	*--p = ',';
	p = u64_digits(p, n->total);
	*--p = ',';
	p = u64_digits(p, n->depth);
	*--p = ',';
	p = u64_digits(p, n->name);
	*--p = ',';
	return strbuf_append(sb, p, (size_t)(end - p));
}

static const char *page_unit(const struct flamegraph_page *page)
{
	return page->unit ? page->unit : "samples";
}

static const char *page_measure(const struct flamegraph_page *page)
{
	return page->measure ? page->measure : "CPU";
}

/*
 * The data element's JSON:
 *   {"version":1,"total":T,"period_ns":P,"unit":U,"measure":W,"max_nodes":M,
 *    "truncated_samples":S,
 *    "truncated_stacks":K,"names":[...labels...],"kinds":"ukji...",
 *    "nodes":[name,depth,total,self, ...]}
 * nodes in preorder, the root first, children sorted by label; a node's
 * parent is the last node before it one level up. kinds has one letter per
 * name: u(ser) k(ernel) j(IT) i(nlined) r(oot) t(runcated).
 */
/*
 * The shown nodes in preorder (the root first, children sorted by label):
 * into @order (nr_nodes entries); returns how many, or 0 out of memory.
 */
static uint32_t preorder(const struct flamegraph *fg, const struct fg_layout *l, uint32_t *order)
{
	uint32_t *stack, *pos, sp = 1, nr = 0;

	/* Iterative: depth is bounded, but 1024 frames of recursion is not free either. */
	stack = malloc((FLAMEGRAPH_MAX_DEPTH + 2) * sizeof(*stack));
	pos = malloc((FLAMEGRAPH_MAX_DEPTH + 2) * sizeof(*pos));
	if (!stack || !pos) {
		free(stack);
		free(pos);
		return 0;
	}
	stack[0] = 0;
	pos[0] = l->child_off[0];
	order[nr++] = 0;
	while (sp) {
		uint32_t top = stack[sp - 1], c;

		if (pos[sp - 1] == l->child_off[top + 1]) {
			sp--;
			continue;
		}
		c = l->child_idx[pos[sp - 1]++];
		order[nr++] = c;
		stack[sp] = c;
		pos[sp] = l->child_off[c];
		sp++;
	}
	free(stack);
	free(pos);
	return nr;
}

static int write_json(const struct flamegraph *fg, const struct fg_layout *l,
		      const struct flamegraph_page *page, struct strbuf *sb)
{
	uint32_t *order = NULL, *remap = NULL, *used = NULL, nr, nr_used = 0, i;
	int err;

	/*
	 * The drawn frames, and the names they use: only those are sent, in
	 * the graph's own order (the reserved two first). remap: old index ->
	 * new; used: new -> old.
	 */
	order = malloc(((size_t)fg->nr_nodes + 1) * sizeof(*order));
	remap = malloc(((size_t)fg->nr_names + 1) * sizeof(*remap));
	used = malloc(((size_t)fg->nr_names + 1) * sizeof(*used));
	nr = order && remap && used ? preorder(fg, l, order) : 0;
	if (!nr) {
		free(order);
		free(remap);
		free(used);
		return -ENOMEM;
	}
	memset(remap, 0xff, fg->nr_names * sizeof(*remap));
	remap[NAME_ROOT] = 0;
	remap[NAME_TRUNCATED] = 0;
	for (i = 1; i < nr; i++)
		remap[fg->nodes[order[i]].name] = 0;
	for (i = 0; i < fg->nr_names; i++) {
		if (remap[i] == UINT32_MAX)
			continue;
		used[nr_used] = i;
		remap[i] = nr_used++;
	}
	err = strbuf_appendf(sb,
			     "{\"version\":1,\"total\":%" PRIu64 ",\"period_ns\":%" PRIu64
			     ",\"unit\":\"%s\",\"measure\":\"%s\""
			     ",\"max_nodes\":%u,\"truncated_samples\":%" PRIu64
			     ",\"truncated_stacks\":%" PRIu64 ",\"names\":[",
			     fg->total, page->period_ns, page_unit(page), page_measure(page),
			     FLAMEGRAPH_MAX_NODES, fg->truncated_samples, fg->truncated_stacks);
	for (i = 0; !err && i < nr_used; i++) {
		size_t len;

		name_kind(fg, used[i], &len);
		err = strbuf_appends(sb, i ? ",\"" : "\"");
		if (!err)
			err = json_escape(sb, fg->names[used[i]].str, len);
		if (!err)
			err = strbuf_append(sb, "\"", 1);
	}
	if (!err)
		err = strbuf_appends(sb, "],\"kinds\":\"");
	for (i = 0; !err && i < nr_used; i++) {
		size_t len;
		char k = (char)name_kind(fg, used[i], &len);

		err = strbuf_append(sb, &k, 1);
	}
	if (!err)
		err = strbuf_appends(sb, "\",\"nodes\":[");
	if (!err)
		err = strbuf_appendf(sb, "%u,0,%" PRIu64 ",%" PRIu64, remap[NAME_ROOT],
				     fg->nodes[0].total, fg->nodes[0].self);
	for (i = 1; !err && i < nr; i++) {
		struct fg_node n = fg->nodes[order[i]];

		n.name = remap[n.name];
		err = append_node(sb, &n);
	}
	/* A diff: each node's base samples, in the same order. */
	if (!err && fg->has_base) {
		err = strbuf_appendf(sb, "],\"base_total\":%" PRIu64 ",\"base\":[", fg->base_total);
		for (i = 0; !err && i < nr; i++)
			err = strbuf_appendf(sb, i ? ",%" PRIu64 : "%" PRIu64,
					     fg->nodes[order[i]].base);
	}
	if (!err)
		err = strbuf_appends(sb, "]}");
	free(order);
	free(remap);
	free(used);
	return err;
}

struct self_sum {
	uint32_t name;
	uint64_t self;
};

static int self_cmp(const void *a, const void *b)
{
	const struct self_sum *x = a, *y = b;

	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

/* The no-JS view: top functions by self samples, summed over every node of the same name. */
static int write_self_table(const struct flamegraph *fg, const struct flamegraph_page *page,
			    struct strbuf *sb)
{
	struct self_sum *sums = NULL;
	uint32_t i, nr = 0;
	int err;

	sums = calloc(fg->nr_names ? fg->nr_names : 1, sizeof(*sums));
	if (!sums)
		return -ENOMEM;
	for (i = 0; i < fg->nr_names; i++)
		sums[i].name = i;
	for (i = 0; i < fg->nr_nodes; i++)
		sums[fg->nodes[i].name].self += fg->nodes[i].self;
	qsort(sums, fg->nr_names, sizeof(*sums), self_cmp);
	while (nr < fg->nr_names && nr < TOP_SELF_MAX && sums[nr].self)
		nr++;
	if (!nr) {
		err = strbuf_appends(sb, "<p>No samples.</p>");
		goto cleanup;
	}
	err = strbuf_appendf(sb,
			     "<table id=\"top-self\"><thead><tr><th>#</th><th>function</th>"
			     "<th>kind</th><th>self %s</th>%s%s%s<th>self %%</th></tr></thead>"
			     "<tbody>\n",
			     page_unit(page), page->period_ns ? "<th>self " : "",
			     page->period_ns ? page_measure(page) : "",
			     page->period_ns ? " s</th>" : "");
	for (i = 0; !err && i < nr; i++) {
		size_t len;
		enum fg_kind k = name_kind(fg, sums[i].name, &len);

		err = strbuf_appendf(sb, "<tr><td>%u</td><td class=\"fn\">", i + 1);
		if (!err)
			err = html_escape(sb, fg->names[sums[i].name].str, len);
		if (!err)
			err = strbuf_appendf(sb, "</td><td>%s</td><td>%" PRIu64 "</td>",
					     kind_label(k), sums[i].self);
		if (!err && page->period_ns)
			err = strbuf_appendf(sb, "<td>%.3f</td>",
					     (double)sums[i].self * (double)page->period_ns / 1e9);
		if (!err)
			err = strbuf_appendf(sb, "<td>%.2f</td></tr>\n",
					     100.0 * (double)sums[i].self / (double)fg->total);
	}
	if (!err)
		err = strbuf_appends(sb, "</tbody></table>");
cleanup:
	free(sums);
	return err;
}

struct share_change {
	uint32_t name;
	double base, now; /* % of all samples with the name on the stack */
};

static int change_cmp(const void *a, const void *b)
{
	const struct share_change *x = a, *y = b;
	double dx = x->now - x->base, dy = y->now - y->base;

	if (dx != dy)
		return dx > dy ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

#define DIFF_ROWS 15 /* grown, then shrunk */

/*
 * A diff's table: the functions whose share of the samples (with the
 * function anywhere on the stack, each stack once) grew most, then those
 * that shrank most, against the base.
 */
static int write_diff_table(const struct flamegraph *fg, struct strbuf *sb)
{
	struct share_change *ch = NULL;
	uint64_t *incl = NULL;
	uint32_t *order = NULL, *active = NULL, *path = NULL, nr, plen = 0, nch = 0, i, k;
	int err = 0;

	incl = calloc(fg->nr_names + 1, sizeof(*incl));
	active = calloc(fg->nr_names + 1, sizeof(*active));
	path = malloc((FLAMEGRAPH_MAX_DEPTH + 2) * sizeof(*path));
	order = malloc(((size_t)fg->nr_nodes + 1) * sizeof(*order));
	ch = calloc(fg->nr_names + 1, sizeof(*ch));
	if (!incl || !active || !path || !order || !ch) {
		err = -ENOMEM;
		goto out;
	}
	{
		struct fg_layout l = {0};

		err = layout_build(fg, &l, NULL);
		nr = err ? 0 : preorder(fg, &l, order);
		layout_free(&l);
		if (!err && !nr)
			err = -ENOMEM;
	}
	/* This range's share by name: a node counts unless an ancestor has its name. */
	for (i = 0; !err && i < nr; i++) {
		const struct fg_node *n = &fg->nodes[order[i]];

		while (plen > n->depth)
			active[path[--plen]]--;
		if (!active[n->name])
			incl[n->name] += n->total;
		active[n->name]++;
		path[plen++] = n->name;
	}
	for (i = NAME_RESERVED; !err && i < fg->nr_names; i++) {
		double now = fg->total ? 100.0 * (double)incl[i] / (double)fg->total : 0;
		double base = fg->base_total
				  ? 100.0 * (double)fg->names[i].base_incl / (double)fg->base_total
				  : 0;

		if (now - base >= 0.01 || base - now >= 0.01)
			ch[nch++] = (struct share_change){.name = i, .base = base, .now = now};
	}
	if (err)
		goto out;
	qsort(ch, nch, sizeof(*ch), change_cmp);
	if (!nch) {
		err = strbuf_appends(sb,
				     "<p>No function's share changed by 0.01 points or more.</p>");
		goto out;
	}
	err = strbuf_appends(sb, "<table id=\"top-diff\"><thead><tr><th>#</th><th>function</th>"
				 "<th>kind</th><th>base %</th><th>this range %</th>"
				 "<th>change (points)</th></tr></thead><tbody>\n");
	for (i = 0, k = 0; !err && i < nch; i++) {
		const struct share_change *c = &ch[i];
		bool grew = c->now > c->base;
		size_t len;
		enum fg_kind kind;

		/* The DIFF_ROWS that grew most, then the DIFF_ROWS that shrank most. */
		if (grew ? i >= DIFF_ROWS : nch > DIFF_ROWS && i + DIFF_ROWS < nch)
			continue;
		kind = name_kind(fg, c->name, &len);
		err = strbuf_appendf(sb, "<tr class=\"%s\"><td>%u</td><td class=\"fn\">",
				     grew ? "grew" : "shrank", ++k);
		err = err ?: html_escape(sb, fg->names[c->name].str, len);
		err = err
			  ?: strbuf_appendf(sb,
					    "</td><td>%s</td><td>%.2f</td><td>%.2f</td>"
					    "<td>%+.2f</td></tr>\n",
					    kind_label(kind), c->base, c->now, c->now - c->base);
	}
	err = err ?: strbuf_appends(sb, "</tbody></table>");
out:
	free(incl);
	free(active);
	free(path);
	free(order);
	free(ch);
	return err;
}

/* The table under the graph: top functions by self samples, or for a diff what changed. */
static int write_table(const struct flamegraph *fg, const struct flamegraph_page *page,
		       struct strbuf *sb)
{
	return fg->has_base ? write_diff_table(fg, sb) : write_self_table(fg, page, sb);
}

static int write_table_title(const struct flamegraph *fg, const struct flamegraph_page *page,
			     struct strbuf *sb)
{
	if (fg->has_base)
		return strbuf_appends(sb, "Functions whose share changed most against the base");
	return strbuf_appendf(sb, "Top functions by self %s", page_unit(page));
}

static int write_summary(const struct flamegraph *fg, const struct flamegraph_page *page,
			 struct strbuf *sb)
{
	struct prune pr;
	uint32_t pf;
	uint64_t ps;
	int err;

	err = strbuf_appendf(sb, "%" PRIu64 " %s", fg->total, page_unit(page));
	if (!err && page->period_ns && !page->unit)
		err = strbuf_appendf(sb, " (%.3f s of %s at %.3f ms per sample)",
				     (double)fg->total * (double)page->period_ns / 1e9,
				     page_measure(page), (double)page->period_ns / 1e6);
	else if (!err && page->period_ns)
		err = strbuf_appendf(sb, " (%.3f s of %s time)",
				     (double)fg->total * (double)page->period_ns / 1e9,
				     page_measure(page));
	if (!err)
		err = strbuf_appendf(sb, ", %u frames, %u distinct names", fg->nr_nodes - 1,
				     fg->nr_names - NAME_RESERVED);
	err = err ?: prune_init(fg, page, &pr);
	if (!err)
		prune_stats(fg, &pr, &pf, &ps);
	if (!err && pf)
		err = strbuf_appendf(
		    sb,
		    "; the %u smallest frames (%.2f%% of the samples in all) are not "
		    "drawn: their callers' widths hold them",
		    pf, 100.0 * (double)ps / (double)fg->total);
	if (!err && fg->truncated_stacks)
		err = strbuf_appendf(sb,
				     ". <strong class=\"warn\">Truncated: %" PRIu64
				     " samples of %" PRIu64 " stacks are in [truncated] frames"
				     " (the graph holds at most %u frames, %u deep)</strong>",
				     fg->truncated_samples, fg->truncated_stacks,
				     FLAMEGRAPH_MAX_NODES, FLAMEGRAPH_MAX_DEPTH);
	return err;
}

/* Links to the page's selection as files, for other tools (pprof, speedscope, flamegraph.pl). */
static int write_exports(const struct flamegraph_page *page, struct strbuf *out)
{
	static const struct {
		const char *path, *label, *download;
	} links[] = {
	    {"/debug/pprof/history", "pprof", "stackd.pb.gz"},
	    {"/debug/pprof/folded", "folded stacks", "stackd.folded"},
	    {"/debug/pprof/speedscope", "speedscope", "stackd.speedscope.json"},
	};
	const char *q = page->export_query;
	int err;

	if (!q)
		return 0;
	err = strbuf_appends(out, "Download this selection as");
	for (size_t i = 0; !err && i < sizeof(links) / sizeof(links[0]); i++) {
		err = strbuf_appendf(out, "%s<a class=\"export\" href=\"%s%s", i ? ", " : " ",
				     links[i].path, *q ? "?" : "");
		err = err ?: html_escape(out, q, strlen(q));
		err = err
			  ?: strbuf_appendf(out, "\" download=\"%s\">%s</a>", links[i].download,
					    links[i].label);
	}
	return err ?: strbuf_append(out, ".", 1);
}

static const char *page_title(const struct flamegraph_page *page)
{
	return page->title ? page->title : "Flame graph";
}

typedef int (*page_body_fn)(const struct flamegraph *fg, const struct flamegraph_page *page,
			    const struct fg_layout *l, struct strbuf *out);

/*
 * What both page writers share: the arguments checked, the default page,
 * the layout built and freed, and @out left as it was on any error.
 */
static int write_page(const struct flamegraph *fg, const struct flamegraph_page *page,
		      struct strbuf *out, page_body_fn body)
{
	static const struct flamegraph_page no_page;
	struct fg_layout l = {0};
	struct prune pr;
	size_t start_len;
	int err;

	if (!fg || !out)
		return -EINVAL;
	if (!page)
		page = &no_page;
	start_len = out->len;
	err = prune_init(fg, page, &pr);
	err = err ?: layout_build(fg, &l, &pr);
	err = err ?: body(fg, page, &l, out);
	layout_free(&l);
	if (err) {
		out->len = start_len;
		if (out->buf)
			out->buf[start_len] = '\0';
	}
	return err;
}

static int html_body(const struct flamegraph *fg, const struct flamegraph_page *page,
		     const struct fg_layout *l, struct strbuf *out)
{
	const char *t = flamegraph_html_tmpl, *end = t + flamegraph_html_tmpl_len;
	const char *title = page_title(page);
	int err = 0;

	/*
	 * The template's placeholders are "@@KEY@@"; the JS and CSS never
	 * contain "@@" otherwise (test_flamegraph checks every key is known).
	 */
	while (!err && t < end) {
		const char *at = memmem(t, (size_t)(end - t), "@@", 2), *key, *kend;
		size_t klen;

		if (!at) {
			err = strbuf_append(out, t, (size_t)(end - t));
			break;
		}
		err = strbuf_append(out, t, (size_t)(at - t));
		if (err)
			break;
		key = at + 2;
		kend = memmem(key, (size_t)(end - key), "@@", 2);
		if (!kend) {
			err = -EINVAL;
			break;
		}
		klen = (size_t)(kend - key);
#define KEY_IS(k) (klen == sizeof(k) - 1 && !memcmp(key, k, klen))
		if (KEY_IS("TITLE"))
			err = html_escape(out, title, strlen(title));
		else if (KEY_IS("SUBTITLE"))
			err = page->subtitle
				  ? html_escape(out, page->subtitle, strlen(page->subtitle))
				  : 0;
		else if (KEY_IS("SUMMARY"))
			err = write_summary(fg, page, out);
		else if (KEY_IS("EXPORTS"))
			err = write_exports(page, out);
		else if (KEY_IS("TIMELINE"))
			err =
			    strbuf_appends(out, page->timeline_json ? page->timeline_json : "null");
		else if (KEY_IS("TABLE_TITLE"))
			err = write_table_title(fg, page, out);
		else if (KEY_IS("TABLE"))
			err = write_table(fg, page, out);
		else if (KEY_IS("DATA"))
			err = write_json(fg, l, page, out);
		else
			err = -EINVAL;
#undef KEY_IS
		t = kend + 2;
	}
	return err;
}

int flamegraph_write_html(const struct flamegraph *fg, const struct flamegraph_page *page,
			  struct strbuf *out)
{
	return write_page(fg, page, out, html_body);
}

/* "KEY":"<what @fn writes, JSON-escaped>" and a comma. */
static int put_part(struct strbuf *out, const char *key, struct strbuf *tmp,
		    int (*fn)(const struct flamegraph *, const struct flamegraph_page *,
			      struct strbuf *),
		    const struct flamegraph *fg, const struct flamegraph_page *page)
{
	int err;

	strbuf_reset(tmp);
	err = fn(fg, page, tmp);
	err = err ?: strbuf_appendf(out, "\"%s\":\"", key);
	err = err ?: json_escape(out, tmp->buf ? tmp->buf : "", tmp->len);
	return err ?: strbuf_append(out, "\",", 2);
}

static int part_summary(const struct flamegraph *fg, const struct flamegraph_page *page,
			struct strbuf *sb)
{
	return write_summary(fg, page, sb);
}

static int part_exports(const struct flamegraph *fg, const struct flamegraph_page *page,
			struct strbuf *sb)
{
	(void)fg;
	return write_exports(page, sb);
}

static int part_table(const struct flamegraph *fg, const struct flamegraph_page *page,
		      struct strbuf *sb)
{
	return write_table(fg, page, sb);
}

static int parts_body(const struct flamegraph *fg, const struct flamegraph_page *page,
		      const struct fg_layout *l, struct strbuf *out)
{
	const char *title = page_title(page), *sub = page->subtitle ? page->subtitle : "";
	const char *unit = page_unit(page);
	struct strbuf tmp;
	int err;

	strbuf_init(&tmp, out->max_sz);
	err = strbuf_appends(out, "{\"title\":\"");
	err = err ?: json_escape(out, title, strlen(title));
	err = err ?: strbuf_appends(out, "\",\"subtitle\":\"");
	err = err ?: json_escape(out, sub, strlen(sub));
	err = err ?: strbuf_appends(out, "\",\"unit\":\"");
	err = err ?: json_escape(out, unit, strlen(unit));
	err = err ?: strbuf_appends(out, "\",");
	err = err ?: put_part(out, "summary", &tmp, part_summary, fg, page);
	err = err ?: put_part(out, "exports", &tmp, part_exports, fg, page);
	err = err ?: put_part(out, "table", &tmp, part_table, fg, page);
	err = err ?: put_part(out, "table_title", &tmp, write_table_title, fg, page);
	err = err ?: strbuf_appends(out, "\"data\":");
	err = err ?: write_json(fg, l, page, out);
	err = err ?: strbuf_appends(out, "}\n");
	strbuf_free(&tmp);
	return err;
}

int flamegraph_write_parts(const struct flamegraph *fg, const struct flamegraph_page *page,
			   struct strbuf *out)
{
	return write_page(fg, page, out, parts_body);
}
