// SPDX-License-Identifier: Apache-2.0
/*
 * Flame graph tests: the trie (merging, totals and self), the folded-line
 * parser, escaping of hostile frame names and titles, and the bounds
 * (node cap, depth cap, total cap, output cap). The page's JSON is read
 * back with a small parser of its own so the checks are on what the
 * browser gets, not on the library's internals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "exporter/flamegraph.h"

#define DATA_OPEN "<script id=\"stackd-data\" type=\"application/json\">"

struct node {
	uint64_t name, depth, total, self;
};

/* What the page carries: nodes in preorder and the raw (still escaped) names. */
struct page_data {
	struct node *nodes;
	size_t nr_nodes;
	char **names; /* JSON string bodies, escapes kept */
	size_t nr_names;
	char *kinds;
	uint64_t total, truncated_samples;
};

static char *render(const struct flamegraph *fg, const struct flamegraph_page *page)
{
	struct strbuf sb;

	strbuf_init(&sb, 1u << 30);
	assert_int_equal(flamegraph_write_html(fg, page, &sb), 0);
	return strbuf_detach(&sb, NULL);
}

/* The data element's text: from its opening tag to the first "</script" after it. */
static char *data_of(const char *html)
{
	const char *p = strstr(html, DATA_OPEN), *e;
	char *s;

	assert_non_null(p);
	p += strlen(DATA_OPEN);
	e = strstr(p, "</script");
	assert_non_null(e);
	s = strndup(p, (size_t)(e - p));
	assert_non_null(s);
	return s;
}

static uint64_t json_u64(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	assert_non_null(p);
	return strtoull(p + strlen(pat), NULL, 10);
}

static void parse_page(const char *html, struct page_data *d)
{
	char *json = data_of(html);
	const char *p, *q;
	size_t cap = 0;

	memset(d, 0, sizeof(*d));
	d->total = json_u64(json, "total");
	d->truncated_samples = json_u64(json, "truncated_samples");

	p = strstr(json, "\"names\":[");
	assert_non_null(p);
	p += 9;
	while (*p == '"') {
		q = p + 1;
		while (*q != '"') {
			if (*q == '\\')
				q++;
			q++;
		}
		if (!(d->nr_names & (d->nr_names - 1))) /* at powers of two: amortized growth */
			d->names = realloc(d->names,
					   (d->nr_names ? d->nr_names * 2 : 1) * sizeof(*d->names));
		assert_non_null(d->names);
		d->names[d->nr_names++] = strndup(p + 1, (size_t)(q - p - 1));
		p = q + 1;
		if (*p == ',')
			p++;
	}
	assert_int_equal(*p, ']');

	p = strstr(json, "\"kinds\":\"");
	assert_non_null(p);
	p += 9;
	q = strchr(p, '"');
	d->kinds = strndup(p, (size_t)(q - p));
	assert_int_equal(strlen(d->kinds), d->nr_names);

	p = strstr(json, "\"nodes\":[");
	assert_non_null(p);
	p += 9;
	while (*p && *p != ']') {
		struct node n;
		char *e;

		n.name = strtoull(p, &e, 10);
		n.depth = strtoull(e + 1, &e, 10);
		n.total = strtoull(e + 1, &e, 10);
		n.self = strtoull(e + 1, &e, 10);
		if (d->nr_nodes == cap) {
			cap = cap ? cap * 2 : 64;
			d->nodes = realloc(d->nodes, cap * sizeof(*d->nodes));
			assert_non_null(d->nodes);
		}
		d->nodes[d->nr_nodes++] = n;
		p = *e == ',' ? e + 1 : e;
	}
	assert_int_equal(*p, ']');
	free(json);
}

static void page_data_free(struct page_data *d)
{
	for (size_t i = 0; i < d->nr_names; i++)
		free(d->names[i]);
	free(d->names);
	free(d->kinds);
	free(d->nodes);
}

/*
 * Tree invariants on the page's preorder: the root first, depths step down
 * by at most one, names in range, and every node's total is its self plus
 * its children's totals, exactly.
 */
static void check_tree(const struct page_data *d)
{
	uint64_t *child_sum = calloc(d->nr_nodes, sizeof(*child_sum));
	size_t *last = calloc(FLAMEGRAPH_MAX_DEPTH + 3, sizeof(*last));

	assert_true(d->nr_nodes >= 1);
	assert_int_equal(d->nodes[0].depth, 0);
	assert_int_equal(d->nodes[0].total, d->total);
	for (size_t i = 0; i < d->nr_nodes; i++) {
		const struct node *n = &d->nodes[i];

		assert_true(n->name < d->nr_names);
		assert_true(n->depth <= FLAMEGRAPH_MAX_DEPTH + 1);
		if (i) {
			assert_true(n->depth >= 1);
			assert_true(n->depth <= d->nodes[i - 1].depth + 1);
			child_sum[last[n->depth - 1]] += n->total;
		}
		assert_true(n->total > 0);
		last[n->depth] = i;
	}
	for (size_t i = 0; i < d->nr_nodes; i++)
		assert_int_equal(d->nodes[i].total, d->nodes[i].self + child_sum[i]);
	free(child_sum);
	free(last);
}

/* Index of the first node named @name (unescaped ASCII) at @depth, or -1. */
static long find_node(const struct page_data *d, const char *name, uint64_t depth)
{
	for (size_t i = 0; i < d->nr_nodes; i++)
		if (d->nodes[i].depth == depth && !strcmp(d->names[d->nodes[i].name], name))
			return (long)i;
	return -1;
}

static void add3(struct flamegraph *fg, const char *a, const char *b, const char *c, uint64_t n)
{
	const char *f[3] = {a, b, c};

	assert_int_equal(flamegraph_add(fg, f, c ? 3 : b ? 2 : 1, n), 0);
}

static void test_trie_merge(void **state)
{
	struct flamegraph *fg = NULL;
	struct flamegraph_stats st;
	struct page_data d;
	char *html;
	long i;

	assert_int_equal(flamegraph_new(&fg), 0);
	assert_int_equal(flamegraph_nr_nodes(fg), 1);
	add3(fg, "main", "parse", "memcpy", 3);
	add3(fg, "main", "parse", "strlen", 2);
	add3(fg, "main", "parse", "memcpy", 4); /* same stack again: no new node */
	add3(fg, "main", "eval", NULL, 5);
	add3(fg, "main", "parse", NULL, 1);  /* self time of an inner frame */
	add3(fg, "other", "parse", NULL, 7); /* same name, other parent: its own node */
	/* root, main, parse, memcpy, strlen, eval, other, other/parse */
	assert_int_equal(flamegraph_nr_nodes(fg), 8);
	flamegraph_get_stats(fg, &st);
	assert_int_equal(st.total, 22);
	assert_int_equal(st.nr_names, 2 + 6); /* "all", "[truncated]" + 6 distinct */
	assert_int_equal(st.truncated_stacks, 0);

	html = render(fg, NULL);
	parse_page(html, &d);
	check_tree(&d);
	assert_int_equal(d.nr_nodes, 8);
	assert_int_equal(d.total, 22);
	i = find_node(&d, "main", 1);
	assert_true(i > 0);
	assert_int_equal(d.nodes[i].total, 15);
	assert_int_equal(d.nodes[i].self, 0);
	i = find_node(&d, "parse", 2);
	assert_int_equal(d.nodes[i].total, 10);
	assert_int_equal(d.nodes[i].self, 1);
	i = find_node(&d, "memcpy", 3);
	assert_int_equal(d.nodes[i].total, 7);
	assert_int_equal(d.nodes[i].self, 7);
	i = find_node(&d, "other", 1);
	assert_int_equal(d.nodes[i].total, 7);
	assert_int_equal(d.nodes[i + 1].total, 7);
	assert_string_equal(d.names[d.nodes[i + 1].name], "parse");
	/* Children in name order, whatever the order of the adds. */
	assert_true(find_node(&d, "main", 1) < find_node(&d, "other", 1));
	assert_true(find_node(&d, "eval", 2) < find_node(&d, "parse", 2));
	assert_true(find_node(&d, "memcpy", 3) < find_node(&d, "strlen", 3));
	page_data_free(&d);
	free(html);

	/* Empty stacks count in the root; zero counts add nothing; NULL frames are refused. */
	assert_int_equal(flamegraph_add(fg, NULL, 0, 2), 0);
	add3(fg, "main", "zero", NULL, 0);
	assert_int_equal(flamegraph_nr_nodes(fg), 8);
	{
		const char *f[2] = {"main", NULL};

		assert_int_equal(flamegraph_add(fg, f, 2, 1), -EINVAL);
	}
	flamegraph_get_stats(fg, &st);
	assert_int_equal(st.total, 24);
	html = render(fg, NULL);
	parse_page(html, &d);
	check_tree(&d);
	assert_int_equal(d.nodes[0].self, 2);
	page_data_free(&d);
	free(html);
	flamegraph_free(fg);
	flamegraph_free(NULL);
}

static void test_kinds(void **state)
{
	struct flamegraph *fg = NULL;
	struct page_data d;
	char *html;
	long i;

	assert_int_equal(flamegraph_new(&fg), 0);
	add3(fg, "main", "write", "vfs_write_[k]", 4);
	add3(fg, "main", "Interpreter_[j]", NULL, 2);
	add3(fg, "main", "helper_[i]", NULL, 1);
	add3(fg, "main", "odd_[x]", NULL, 1); /* not a known suffix: kept */
	add3(fg, "main", "_[k]", NULL, 1);    /* nothing before the suffix: a name */
	html = render(fg, NULL);
	parse_page(html, &d);
	check_tree(&d);
	i = find_node(&d, "vfs_write", 3);
	assert_true(i > 0);
	assert_int_equal(d.kinds[d.nodes[i].name], 'k');
	i = find_node(&d, "Interpreter", 2);
	assert_int_equal(d.kinds[d.nodes[i].name], 'j');
	i = find_node(&d, "helper", 2);
	assert_int_equal(d.kinds[d.nodes[i].name], 'i');
	i = find_node(&d, "odd_[x]", 2);
	assert_int_equal(d.kinds[d.nodes[i].name], 'u');
	i = find_node(&d, "_[k]", 2);
	assert_int_equal(d.kinds[d.nodes[i].name], 'u');
	assert_int_equal(d.kinds[d.nodes[0].name], 'r');
	/* The no-JS table shows the label and the kind apart. */
	assert_non_null(strstr(html, "<td class=\"fn\">vfs_write</td><td>kernel</td><td>4</td>"));
	page_data_free(&d);
	free(html);
	flamegraph_free(fg);
}

static bool valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], n, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		if (i + n >= len)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_escaping(void **state)
{
	static const char *const hostile[] = {
	    "</script><script>alert(1)</script>",
	    "</SCRIPT >",
	    "<!--",
	    "\"quoted\" and back\\slash",
	    "ctl\x01\x1f\x7f bytes\ttab\nnewline\r",
	    "bad \xff\xfe utf8 \xc0\xaf overlong \xed\xa0\x80 surrogate \xf4\x90\x80\x80 big",
	    "trunc \xe2\x82",
	    "line\xe2\x80\xa8sep\xe2\x80\xa9para",
	    "&amp; & <b>",
	    "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5",
	    "@@DATA@@",
	};
	struct flamegraph_page page = {
	    .title = "<script>alert('title')</script>&\"",
	    .subtitle = "sub</p><img src=x onerror=alert(1)>\xff",
	    .period_ns = 10101010,
	};
	struct flamegraph *fg = NULL;
	struct page_data d;
	char *html, *json;
	size_t i;

	assert_int_equal(flamegraph_new(&fg), 0);
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const char *f[2] = {"main", hostile[i]};

		assert_int_equal(flamegraph_add(fg, f, 2, 100 - i), 0);
	}
	html = render(fg, &page);
	json = data_of(html);

	/* Nothing the data carries can end the element or open markup. */
	assert_null(strchr(json, '<'));
	assert_null(strchr(json, '>'));
	assert_null(strchr(json, '&'));
	for (i = 0; json[i]; i++)
		assert_true((unsigned char)json[i] >= 0x20 && json[i] != 0x7f);
	assert_non_null(strstr(json, "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"));
	assert_non_null(strstr(json, "\\\"quoted\\\" and back\\\\slash"));
	assert_non_null(
	    strstr(json, "ctl\\u0001\\u001f\\u007f bytes\\u0009tab\\u000anewline\\u000d"));
	assert_non_null(strstr(json,
			       "bad \\ufffd\\ufffd utf8 \\ufffd\\ufffd overlong "
			       "\\ufffd\\ufffd\\ufffd surrogate \\ufffd\\ufffd\\ufffd\\ufffd big"));
	assert_non_null(strstr(json, "trunc \\ufffd\\ufffd"));
	assert_non_null(strstr(json, "line\\u2028sep\\u2029para"));
	assert_non_null(
	    strstr(json, "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5")); /* valid UTF-8 kept */
	free(json);

	/* The whole page: valid UTF-8, only the template's own script elements, title escaped. */
	assert_true(valid_utf8((const unsigned char *)html, strlen(html)));
	assert_int_equal(count_of(html, "<script"), 3);
	assert_int_equal(count_of(html, "</script"), 3);
	assert_null(strstr(html, "</SCRIPT"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "<b>"));
	/* Placeholders are replaced in one pass: a name that looks like one is just text. */
	assert_int_equal(count_of(html, DATA_OPEN), 1);
	assert_non_null(strstr(html, "<td class=\"fn\">@@DATA@@</td>"));
	assert_non_null(strstr(html, "<title>&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;"
				     "&amp;&quot;</title>"));
	assert_non_null(
	    strstr(html, "sub&lt;/p&gt;&lt;img src=x onerror=alert(1)&gt;\xef\xbf\xbd"));
	assert_non_null(strstr(html, "<td class=\"fn\">&lt;/script&gt;&lt;script&gt;alert(1)"));
	assert_non_null(strstr(html, "<td class=\"fn\">&amp;amp; &amp; &lt;b&gt;</td>"));

	/* And it round-trips through the page parser with the tree intact. */
	parse_page(html, &d);
	check_tree(&d);
	assert_int_equal(d.nr_nodes, 2 + sizeof(hostile) / sizeof(hostile[0]));
	page_data_free(&d);
	free(html);
	flamegraph_free(fg);
}

static void test_self_contained(void **state)
{
	struct flamegraph_page page = {.title = "t", .period_ns = 1000000};
	struct flamegraph *fg = NULL;
	char *html;

	assert_int_equal(flamegraph_new(&fg), 0);
	add3(fg, "main", "hot_function", NULL, 90);
	add3(fg, "main", "cold_function", NULL, 10);
	html = render(fg, &page);
	assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
	assert_non_null(strstr(html, "</html>"));
	/* Nothing to fetch: no URL at all, and a CSP that would refuse one. */
	assert_null(strstr(html, "http://"));
	assert_null(strstr(html, "https://"));
	assert_null(strstr(html, "//cdn"));
	assert_non_null(strstr(html, "Content-Security-Policy"));
	assert_null(strstr(html, "@@"));
	/* The no-JS table: the hot function first, with seconds (period 1 ms). */
	assert_non_null(strstr(html, "<tr><td>1</td><td class=\"fn\">hot_function</td><td>user</td>"
				     "<td>90</td><td>0.090</td><td>90.00</td></tr>"));
	assert_non_null(strstr(html, "100 samples (0.100 s of CPU"));
	assert_non_null(strstr(html, "\"unit\":\"samples\",\"measure\":\"CPU\""));
	assert_non_null(strstr(html, "<h2 id=\"top-title\">Top functions by self samples</h2>"));
	/* No timeline given: its element holds null and the page hides the box. */
	assert_non_null(
	    strstr(html, "<script id=\"stackd-timeline\" type=\"application/json\">null</script>"));
	free(html);
	flamegraph_free(fg);

	/* A time profile: weights in µs, seconds of off-CPU time, the unit in the data. */
	assert_int_equal(flamegraph_new(&fg), 0);
	add3(fg, "main", "hot_function", NULL, 90);
	add3(fg, "main", "cold_function", NULL, 10);
	html = render(fg, &(struct flamegraph_page){
			      .period_ns = 1000, .unit = "\u00b5s", .measure = "off-CPU"});
	assert_non_null(strstr(html, "<tr><td>1</td><td class=\"fn\">hot_function</td><td>user</td>"
				     "<td>90</td><td>0.000</td><td>90.00</td></tr>"));
	assert_non_null(strstr(html, "<th>self \u00b5s</th><th>self off-CPU s</th>"));
	assert_non_null(strstr(html, "<h2 id=\"top-title\">Top functions by self \u00b5s</h2>"));
	assert_non_null(strstr(html, "100 \u00b5s (0.000 s of off-CPU time)"));
	assert_non_null(strstr(html, "\"unit\":\"\u00b5s\",\"measure\":\"off-CPU\""));
	free(html);
	flamegraph_free(fg);

	/* An empty graph is a valid page too. */
	assert_int_equal(flamegraph_new(&fg), 0);
	html = render(fg, NULL);
	assert_non_null(strstr(html, "<p>No samples.</p>"));
	assert_non_null(strstr(html, "\"nodes\":[0,0,0,0]"));
	assert_non_null(strstr(html, "<title>Flame graph</title>"));
	free(html);
	flamegraph_free(fg);
}

static void test_truncation_width(void **state)
{
	const uint32_t tried = FLAMEGRAPH_MAX_NODES + 50000;
	struct flamegraph *fg = NULL;
	struct flamegraph_stats st;
	struct page_data d;
	uint64_t kept, cut, spill = 0;
	char name[32], *html, msg[128];
	const char *f[3] = {"main", name, "deeper"};
	long t;
	uint32_t i;

	assert_int_equal(flamegraph_new(&fg), 0);
	/* main + more distinct leaves than the graph takes, 1 sample each. */
	for (i = 0; i < tried; i++) {
		snprintf(name, sizeof(name), "leaf_%07u", i);
		assert_int_equal(flamegraph_add(fg, f, 2, 1), 0);
		assert_true(flamegraph_nr_nodes(fg) <= FLAMEGRAPH_MAX_NODES);
	}
	/* A stack already in the graph still lands on its own node. */
	snprintf(name, sizeof(name), "leaf_%07u", 5);
	assert_int_equal(flamegraph_add(fg, f, 2, 10), 0);
	flamegraph_get_stats(fg, &st);
	kept = st.nr_nodes - 3; /* root, main, main/[truncated] */
	cut = tried - kept;
	assert_true(st.nr_nodes < FLAMEGRAPH_MAX_NODES); /* some room kept for [truncated] */
	assert_true(st.nr_nodes > FLAMEGRAPH_MAX_NODES * 9 / 10);
	assert_int_equal(st.total, tried + 10);
	assert_int_equal(st.truncated_samples, cut);
	assert_int_equal(st.truncated_stacks, cut);

	html = render(fg, NULL);
	parse_page(html, &d);
	check_tree(&d);
	assert_int_equal(d.nr_nodes, st.nr_nodes);
	assert_int_equal(d.truncated_samples, cut);
	t = find_node(&d, "[truncated]", 2);
	assert_true(t > 0);
	assert_int_equal(d.kinds[d.nodes[t].name], 't');
	assert_int_equal(d.nodes[t].total, cut);
	assert_int_equal(d.nodes[t].self, cut);
	assert_int_equal(d.nodes[1].total, st.total); /* main's total stays exact */
	assert_true((size_t)t == d.nr_nodes - 1);     /* "[truncated]" sorts last */
	snprintf(msg, sizeof(msg), "Truncated: %" PRIu64 " samples of %" PRIu64 " stacks", cut,
		 cut);
	assert_non_null(strstr(html, msg));
	page_data_free(&d);
	free(html);

	/*
	 * Cut stacks under kept leaves take the reserve, one "[truncated]"
	 * child each, up to the last slot but one; then they go to the nearest
	 * ancestor with such a child (main's), and the very last slot is the
	 * root's, for stacks with no such ancestor.
	 */
	for (i = 0; flamegraph_nr_nodes(fg) < FLAMEGRAPH_MAX_NODES - 1; i++) {
		snprintf(name, sizeof(name), "leaf_%07u", i);
		assert_int_equal(flamegraph_add(fg, f, 3, 2), 0);
		spill += 2;
		assert_true(i < FLAMEGRAPH_MAX_NODES);
	}
	snprintf(name, sizeof(name), "leaf_%07u", i + 1);
	assert_int_equal(flamegraph_add(fg, f, 3, 5), 0); /* no room under leaf: main's */
	flamegraph_get_stats(fg, &st);
	assert_int_equal(st.nr_nodes, FLAMEGRAPH_MAX_NODES - 1);
	{
		const char *h[2] = {"elsewhere", "x"};

		assert_int_equal(flamegraph_add(fg, h, 2, 3), 0);
		flamegraph_get_stats(fg, &st);
		assert_int_equal(st.nr_nodes, FLAMEGRAPH_MAX_NODES);
		assert_int_equal(flamegraph_add(fg, h, 2, 4), 0);
		flamegraph_get_stats(fg, &st);
		assert_int_equal(st.nr_nodes, FLAMEGRAPH_MAX_NODES);
		assert_int_equal(st.truncated_samples, cut + spill + 5 + 3 + 4);
	}
	html = render(fg, NULL);
	parse_page(html, &d);
	check_tree(&d);
	assert_int_equal(d.nr_nodes, FLAMEGRAPH_MAX_NODES);
	t = find_node(&d, "[truncated]", 1);
	assert_true(t > 0);
	assert_int_equal(d.nodes[t].total, 7);
	assert_int_equal(d.nodes[find_node(&d, "[truncated]", 2)].total, cut + 5);
	assert_int_equal(d.nodes[find_node(&d, "[truncated]", 3)].total, 2);
	page_data_free(&d);
	free(html);
	flamegraph_free(fg);
}

static void test_truncation_depth(void **state)
{
	const size_t n = FLAMEGRAPH_MAX_DEPTH + 500;
	const char **f = calloc(n, sizeof(*f));
	struct flamegraph *fg = NULL;
	struct flamegraph_stats st;
	struct page_data d;
	char *html;

	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		f[i] = (i & 1) ? "recurse_a" : "recurse_b";
	assert_int_equal(flamegraph_new(&fg), 0);
	assert_int_equal(flamegraph_add(fg, f, n, 5), 0);
	assert_int_equal(flamegraph_add(fg, f, FLAMEGRAPH_MAX_DEPTH, 1),
			 0); /* exactly at the cap */
	flamegraph_get_stats(fg, &st);
	assert_int_equal(st.nr_nodes, 1 + FLAMEGRAPH_MAX_DEPTH + 1);
	assert_int_equal(st.truncated_samples, 5);
	assert_int_equal(st.truncated_stacks, 1);
	html = render(fg, NULL);
	parse_page(html, &d);
	check_tree(&d);
	assert_int_equal(d.nodes[d.nr_nodes - 1].depth, FLAMEGRAPH_MAX_DEPTH + 1);
	assert_string_equal(d.names[d.nodes[d.nr_nodes - 1].name], "[truncated]");
	assert_int_equal(d.nodes[d.nr_nodes - 2].self, 1);
	page_data_free(&d);
	free(html);
	flamegraph_free(fg);
	free(f);
}

static void test_long_names(void **state)
{
	size_t len = FLAMEGRAPH_MAX_NAME + 100;
	char *a = malloc(len + 1), *b = malloc(len + 1);
	struct flamegraph *fg = NULL;
	struct flamegraph_stats st;
	const char *f[1];

	memset(a, 'x', len);
	a[len] = '\0';
	memcpy(b, a, len + 1);
	b[len - 1] = 'y'; /* differs only past the cut: the same frame */
	assert_int_equal(flamegraph_new(&fg), 0);
	f[0] = a;
	assert_int_equal(flamegraph_add(fg, f, 1, 1), 0);
	f[0] = b;
	assert_int_equal(flamegraph_add(fg, f, 1, 1), 0);
	flamegraph_get_stats(fg, &st);
	assert_int_equal(st.nr_nodes, 2);
	flamegraph_free(fg);

	/* The names' byte budget: past it, new names become [truncated]. */
	assert_int_equal(flamegraph_new(&fg), 0);
	a[FLAMEGRAPH_MAX_NAME] = '\0';
	for (size_t i = 0; i < FLAMEGRAPH_MAX_NAME_BYTES / FLAMEGRAPH_MAX_NAME + 10; i++) {
		snprintf(a, 16, "%015zu", i);
		a[15] = 'x';
		f[0] = a;
		assert_int_equal(flamegraph_add(fg, f, 1, 1), 0);
	}
	flamegraph_get_stats(fg, &st);
	assert_true(st.truncated_stacks >= 10);
	assert_true(st.nr_names <= 2 + FLAMEGRAPH_MAX_NAME_BYTES / FLAMEGRAPH_MAX_NAME);
	flamegraph_free(fg);
	free(a);
	free(b);
}

static void test_total_cap(void **state)
{
	struct flamegraph *fg = NULL;
	struct flamegraph_stats st;
	const char *f[1] = {"x"};

	assert_int_equal(flamegraph_new(&fg), 0);
	assert_int_equal(flamegraph_add(fg, f, 1, FLAMEGRAPH_MAX_TOTAL - 1), 0);
	assert_int_equal(flamegraph_add(fg, f, 1, 2), -ERANGE);
	assert_int_equal(flamegraph_add(fg, f, 1, UINT64_MAX), -ERANGE);
	assert_int_equal(flamegraph_add(fg, f, 1, 1), 0);
	flamegraph_get_stats(fg, &st);
	assert_int_equal(st.total, FLAMEGRAPH_MAX_TOTAL);
	flamegraph_free(fg);
}

static int folded(struct flamegraph *fg, const char *line, const char **why)
{
	return flamegraph_add_folded(fg, line, strlen(line), why);
}

static void test_folded(void **state)
{
	struct flamegraph *fg = NULL;
	struct flamegraph_stats st;
	struct page_data d;
	const char *why;
	char *html;
	long i;

	assert_int_equal(flamegraph_new(&fg), 0);
	assert_int_equal(folded(fg, "main;parse;memcpy 3", &why), 0);
	assert_null(why);
	assert_int_equal(folded(fg, "main;parse;memcpy\t4\r\n", &why), 0); /* tab, CRLF */
	assert_int_equal(folded(fg, "main;operator new(unsigned long) 2  ", &why), 0);
	assert_int_equal(folded(fg, "main;idle 0", &why), 0); /* zero: valid, adds nothing */
	assert_int_equal(flamegraph_add_folded(fg, "main;x 5garbage", 8, &why),
			 0); /* len-bounded */

	assert_int_equal(folded(fg, "main;parse", &why), -EINVAL);
	assert_non_null(strstr(why, "no sample count"));
	assert_int_equal(folded(fg, "main;parse -3", &why), -EINVAL);
	assert_non_null(strstr(why, "negative"));
	assert_int_equal(folded(fg, "main;parse 18446744073709551616", &why), -ERANGE);
	assert_non_null(strstr(why, "overflows"));
	assert_int_equal(folded(fg, "main;parse 12x", &why), -EINVAL);
	assert_non_null(strstr(why, "not a decimal sample count"));
	assert_int_equal(folded(fg, "main;parse 1.5", &why), -EINVAL);
	assert_int_equal(folded(fg, "   7", &why), -EINVAL);
	assert_non_null(strstr(why, "no frames"));
	assert_int_equal(folded(fg, "7", &why), -EINVAL);
	assert_non_null(strstr(why, "no sample count"));
	assert_int_equal(folded(fg, ";main 7", &why), -EINVAL);
	assert_non_null(strstr(why, "empty frame"));
	assert_int_equal(folded(fg, "main;;x 7", &why), -EINVAL);
	assert_int_equal(folded(fg, "main; 7", &why), -EINVAL);
	assert_int_equal(folded(fg, "", &why), -EINVAL);
	assert_int_equal(folded(fg, " \r\n", &why), -EINVAL);
	assert_int_equal(flamegraph_add_folded(fg, "a\0b 1", 5, &why), -EINVAL);
	assert_non_null(strstr(why, "NUL"));
	assert_int_equal(folded(fg, "main 9007199254740991", &why), -ERANGE);
	assert_non_null(strstr(why, "2^53"));
	assert_int_equal(flamegraph_add_folded(fg, "main 1", 6, NULL), 0);

	flamegraph_get_stats(fg, &st);
	assert_int_equal(st.total, 3 + 4 + 2 + 5 + 1);
	html = render(fg, NULL);
	parse_page(html, &d);
	check_tree(&d);
	i = find_node(&d, "memcpy", 3);
	assert_int_equal(d.nodes[i].total, 7);
	assert_true(find_node(&d, "operator new(unsigned long)", 2) > 0);
	assert_true(find_node(&d, "x", 2) > 0);
	assert_true(find_node(&d, "idle", 2) < 0);
	page_data_free(&d);
	free(html);

	/* Deeper than the cap: cut like flamegraph_add, not refused. */
	{
		struct strbuf sb;

		strbuf_init(&sb, 1u << 20);
		for (int k = 0; k < 3000; k++)
			assert_int_equal(strbuf_appends(&sb, k ? ";f" : "f"), 0);
		assert_int_equal(strbuf_appends(&sb, " 11"), 0);
		assert_int_equal(flamegraph_add_folded(fg, sb.buf, sb.len, &why), 0);
		strbuf_free(&sb);
		flamegraph_get_stats(fg, &st);
		assert_int_equal(st.truncated_samples, 11);
	}
	flamegraph_free(fg);
}

static void test_output_cap(void **state)
{
	struct flamegraph *fg = NULL;
	struct strbuf sb;

	assert_int_equal(flamegraph_new(&fg), 0);
	add3(fg, "main", "f", NULL, 1);
	strbuf_init(&sb, 4096); /* smaller than the template */
	assert_int_equal(strbuf_appends(&sb, "keep"), 0);
	assert_int_equal(flamegraph_write_html(fg, NULL, &sb), -ENOSPC);
	assert_int_equal(sb.len, 4);
	assert_string_equal(sb.buf, "keep");
	strbuf_free(&sb);
	assert_int_equal(flamegraph_write_html(NULL, NULL, &sb), -EINVAL);
	flamegraph_free(fg);
}

/* The export links carry the page's query, escaped as an attribute; none without a query. */
static void test_export_links(void **state)
{
	struct flamegraph_page page = {.export_query = "seconds=60&pid=1\"><x y='"};
	const char *f[] = {"main"};
	struct flamegraph *fg = NULL;
	char *html;

	(void)state;
	assert_int_equal(flamegraph_new(&fg), 0);
	assert_int_equal(flamegraph_add(fg, f, 1, 1), 0);
	html = render(fg, &page);
	assert_non_null(strstr(html, "href=\"/debug/pprof/history?seconds=60&amp;pid=1&quot;&gt;"
				     "&lt;x y=&#39;\""));
	assert_non_null(strstr(html, "href=\"/debug/pprof/folded?seconds=60&amp;pid=1&quot;"));
	assert_non_null(strstr(html, "href=\"/debug/pprof/speedscope?seconds=60&amp;pid=1&quot;"));
	assert_null(strstr(html, "<x"));
	free(html);
	page.export_query = "";
	html = render(fg, &page);
	assert_non_null(strstr(html, "href=\"/debug/pprof/speedscope\" download="));
	free(html);
	html = render(fg, NULL);
	assert_null(strstr(html, "/debug/pprof/speedscope"));
	free(html);
	flamegraph_free(fg);
}

/* What a range selection fetches: the page's parts as one JSON object; and a timeline embedded. */
static void test_parts(void **state)
{
	struct flamegraph_page page = {.title = "t <b>",
				       .subtitle = "s",
				       .period_ns = 1000000,
				       .export_query = "seconds=60",
				       .timeline_json = "{\"type\":\"cpu\",\"points\":[]}"};
	const char *f[] = {"main", "hot<fn>"};
	struct flamegraph *fg = NULL;
	const char *want = "{\"title\":\"t \\u003cb\\u003e\",\"subtitle\":\"s\","
			   "\"unit\":\"samples\",\"summary\":\"5 samples";
	struct strbuf out;
	char *html;

	(void)state;
	assert_int_equal(flamegraph_new(&fg), 0);
	assert_int_equal(flamegraph_add(fg, f, 2, 5), 0);
	strbuf_init(&out, 1u << 20);
	assert_int_equal(flamegraph_write_parts(fg, &page, &out), 0);
	assert_memory_equal(out.buf, want, strlen(want));
	/* HTML parts are HTML-escaped, then JSON-escaped: no raw '<' from a name anywhere. */
	assert_non_null(strstr(out.buf, "\"table\":\"\\u003ctable id=\\\"top-self\\\"\\u003e"));
	assert_non_null(strstr(out.buf, "hot\\u0026lt;fn\\u0026gt;"));
	assert_non_null(strstr(out.buf, "\"exports\":\"Download this selection as"));
	assert_non_null(strstr(out.buf, "\"data\":{\"version\":1,\"total\":5,"));
	assert_null(strchr(out.buf, '<'));
	assert_int_equal(out.buf[out.len - 2], '}');
	strbuf_free(&out);
	html = render(fg, &page);
	assert_non_null(strstr(html, "<script id=\"stackd-timeline\" type=\"application/json\">"
				     "{\"type\":\"cpu\",\"points\":[]}</script>"));
	free(html);
	flamegraph_free(fg);
}

/* A differential graph: per-node base samples in the data, the table of changed shares. */
static void test_diff(void **state)
{
	const char *ab[] = {"A", "B"}, *ac[] = {"A", "C"}, *ad[] = {"A", "D"};
	struct flamegraph *fg = NULL;
	char *html, *p;

	(void)state;
	assert_int_equal(flamegraph_new(&fg), 0);
	assert_int_equal(flamegraph_add(fg, ab, 2, 8), 0);
	assert_int_equal(flamegraph_add(fg, ac, 2, 2), 0);
	assert_int_equal(flamegraph_add_base(fg, ab, 2, 5), 0);
	assert_int_equal(flamegraph_add_base(fg, ad, 2, 5), 0); /* D: only in the base */
	assert_int_equal(flamegraph_add_base(fg, ad, 0, 1), 0); /* an empty stack: the root's */
	assert_int_equal(flamegraph_add_base(fg, (const char *[]){"x", NULL}, 2, 1), -EINVAL);
	/* No node is made for D: root, A, B, C; base in the same order. */
	assert_int_equal(flamegraph_nr_nodes(fg), 4);
	html = render(fg, NULL);
	assert_non_null(strstr(html, "\"nodes\":[0,0,10,0,"));
	assert_non_null(strstr(html, "\"base_total\":11,\"base\":[11,10,5,0]}"));
	assert_non_null(strstr(html, "<h2 id=\"top-title\">Functions whose share changed most"));
	/* B 50% -> 80%, C 0 -> 20%, D 45.45% -> 0; A 90.91% -> 100%. */
	p = strstr(html, "<table id=\"top-diff\">");
	assert_non_null(p);
	p = strstr(p, "<tr class=\"grew\"><td>1</td><td class=\"fn\">B</td><td>user</td>"
		      "<td>45.45</td><td>80.00</td><td>+34.55</td></tr>");
	assert_non_null(p);
	p = strstr(p, "<tr class=\"grew\"><td>2</td><td class=\"fn\">C</td><td>user</td>"
		      "<td>0.00</td><td>20.00</td><td>+20.00</td></tr>");
	assert_non_null(p);
	p = strstr(p, "<tr class=\"grew\"><td>3</td><td class=\"fn\">A</td>");
	assert_non_null(p);
	assert_non_null(strstr(p,
			       "<tr class=\"shrank\"><td>4</td><td class=\"fn\">D</td><td>user</td>"
			       "<td>45.45</td><td>0.00</td><td>-45.45</td></tr>"));
	free(html);
	flamegraph_free(fg);
}

/*
 * By name index (what the pages use): the same graph, byte for byte, as by
 * name, base included; a reserved or unknown index is refused, and
 * FLAMEGRAPH_NAME_NONE cuts the stack where it stands.
 */
static void test_ids(void **state)
{
	const char *abc[] = {"A", "B", "C"}, *ad[] = {"A", "D"}, *e[] = {"all"};
	struct flamegraph *byname = NULL, *byid = NULL;
	uint32_t abc_id[3], ad_id[2], e_id[1], bad[2];
	struct flamegraph_stats st;
	char *h1, *h2;

	(void)state;
	assert_int_equal(flamegraph_new(&byname), 0);
	assert_int_equal(flamegraph_new(&byid), 0);
	assert_int_equal(flamegraph_add(byname, abc, 3, 4), 0);
	assert_int_equal(flamegraph_add(byname, ad, 2, 3), 0);
	assert_int_equal(flamegraph_add(byname, e, 1, 1), 0);
	assert_int_equal(flamegraph_add_base(byname, ad, 2, 6), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(flamegraph_intern(byid, abc[i], &abc_id[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(flamegraph_intern(byid, ad[i], &ad_id[i]), 0);
	assert_int_equal(flamegraph_intern(byid, e[0], &e_id[0]), 0);
	assert_int_equal(ad_id[0], abc_id[0]); /* one name, one index */
	assert_true(e_id[0] > 1);	       /* a frame named "all" is not the root */
	assert_int_equal(flamegraph_add_ids(byid, abc_id, 3, 4), 0);
	assert_int_equal(flamegraph_add_ids(byid, ad_id, 2, 3), 0);
	assert_int_equal(flamegraph_add_ids(byid, e_id, 1, 1), 0);
	assert_int_equal(flamegraph_add_base_ids(byid, ad_id, 2, 6), 0);
	h1 = render(byname, NULL);
	h2 = render(byid, NULL);
	assert_string_equal(h1, h2);
	free(h1);
	free(h2);

	bad[0] = abc_id[0];
	bad[1] = 1; /* "[truncated]": reserved */
	assert_int_equal(flamegraph_add_ids(byid, bad, 2, 1), -EINVAL);
	bad[1] = 1000; /* never given */
	assert_int_equal(flamegraph_add_ids(byid, bad, 2, 1), -EINVAL);
	assert_int_equal(flamegraph_add_base_ids(byid, bad, 2, 1), -EINVAL);
	assert_int_equal(flamegraph_add_ids(byid, NULL, 1, 1), -EINVAL);
	bad[1] = FLAMEGRAPH_NAME_NONE; /* the name budget was spent: cut after A */
	assert_int_equal(flamegraph_add_ids(byid, bad, 2, 2), 0);
	flamegraph_get_stats(byid, &st);
	assert_int_equal(st.truncated_samples, 2);
	assert_int_equal(st.truncated_stacks, 1);
	assert_int_equal(st.total, 10);
	flamegraph_free(byname);
	flamegraph_free(byid);
}

/*
 * page.prune_den: frames under 1/den of the samples are left out of the page
 * (their callers keep their totals), the summary says so, the table still
 * counts them; in a diff a frame that was big in the base stays.
 */
static void test_prune(void **state)
{
	struct flamegraph_page page = {.prune_den = 1000};
	const char *big[] = {"main", "big"}, *gone[] = {"main", "gone"};
	const char *tiny[] = {"main", NULL};
	struct flamegraph *fg = NULL;
	struct page_data d;
	char name[16], *html;

	(void)state;
	assert_int_equal(flamegraph_new(&fg), 0);
	assert_int_equal(flamegraph_add(fg, big, 2, 9990), 0);
	tiny[1] = name;
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "tiny%d", i);
		assert_int_equal(flamegraph_add(fg, tiny, 2, 1), 0);
	}
	assert_int_equal(flamegraph_add(fg, gone, 2, 1), 0);
	/* 10001 samples: the threshold is 10; "gone" has 1 here but 500 of 1000 in the base. */
	html = render(fg, &page);
	parse_page(html, &d);
	assert_int_equal(d.nr_nodes, 3); /* root, main, big */
	assert_int_equal(d.nodes[1].total, 10001);
	assert_non_null(strstr(html, "; the 11 smallest frames (0.11% of the samples in all) are "
				     "not drawn"));
	page_data_free(&d);
	free(html);
	/* Every frame without prune_den. */
	html = render(fg, NULL);
	parse_page(html, &d);
	check_tree(&d);
	assert_int_equal(d.nr_nodes, 14);
	assert_null(strstr(html, "smallest frames"));
	page_data_free(&d);
	free(html);
	assert_int_equal(flamegraph_add_base(fg, gone, 2, 500), 0);
	assert_int_equal(flamegraph_add_base(fg, big, 2, 500), 0);
	html = render(fg, &page);
	parse_page(html, &d);
	assert_int_equal(d.nr_nodes, 4); /* and "gone" */
	assert_true(find_node(&d, "gone", 2) > 0);
	page_data_free(&d);
	free(html);
	flamegraph_free(fg);
}

/* page.max_nodes: the largest frames stay, ties at the cut go (never more than asked). */
static void test_max_nodes(void **state)
{
	struct flamegraph_page page = {.max_nodes = 11};
	const char *f[] = {"main", NULL};
	struct flamegraph *fg = NULL;
	struct page_data d;
	char name[16], *html;

	(void)state;
	assert_int_equal(flamegraph_new(&fg), 0);
	f[1] = name;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "leaf%02d", i);
		assert_int_equal(flamegraph_add(fg, f, 2, (uint64_t)i + 1), 0);
	}
	html = render(fg, &page);
	parse_page(html, &d);
	assert_int_equal(d.nr_nodes, 12); /* root, main, leaf99..leaf90 */
	assert_true(find_node(&d, "leaf99", 2) > 0);
	assert_true(find_node(&d, "leaf90", 2) > 0);
	assert_true(find_node(&d, "leaf89", 2) < 0);
	/* Only the names the drawn frames use are sent. */
	assert_int_equal(d.nr_names, 2 + 11);
	assert_non_null(strstr(html, "; the 90 smallest frames ("));
	page_data_free(&d);
	free(html);
	flamegraph_free(fg);

	assert_int_equal(flamegraph_new(&fg), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "leaf%02d", i);
		assert_int_equal(flamegraph_add(fg, f, 2, 1), 0);
	}
	html = render(fg, &page);
	parse_page(html, &d);
	assert_int_equal(d.nr_nodes, 2); /* 100 leaves tie at the cut: none is drawn */
	page_data_free(&d);
	free(html);
	flamegraph_free(fg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trie_merge),
	    cmocka_unit_test(test_kinds),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_self_contained),
	    cmocka_unit_test(test_truncation_width),
	    cmocka_unit_test(test_truncation_depth),
	    cmocka_unit_test(test_long_names),
	    cmocka_unit_test(test_total_cap),
	    cmocka_unit_test(test_folded),
	    cmocka_unit_test(test_output_cap),
	    cmocka_unit_test(test_export_links),
	    cmocka_unit_test(test_parts),
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_prune),
	    cmocka_unit_test(test_max_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
