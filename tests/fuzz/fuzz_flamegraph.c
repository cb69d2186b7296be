// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer: folded-stack lines through flamegraph_add_folded, then the
 * page. The first line is also used as the page title. When the first byte
 * is odd, every line's frames (split at ';') are also added as the base of a
 * differential graph (flamegraph_add_base); when its second bit is set, the
 * page leaves out frames under 1/7 of the samples (prune_den). Checks what must hold whatever
 * the input: the graph stays within its node cap, in the page nothing from
 * the input opened an element or ended the data element early (exactly the
 * template's three <script> elements, and no '<' in the data), and the parts
 * a range selection fetches (flamegraph_write_parts) hold no '<' at all.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "exporter/flamegraph.h"

#define DATA_OPEN "<script id=\"stackd-data\" type=\"application/json\">"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* The frames of folded line [s, end) (its count left out, or not) as the graph's base. */
static void add_base(struct flamegraph *fg, const char *s, const char *end)
{
	const char *frames[64];
	char *copy = strndup(s, (size_t)(end - s)), *p = copy, *semi;
	size_t n = 0;

	if (!copy)
		return;
	while (n < 64 && p) {
		semi = strchr(p, ';');
		if (semi)
			*semi = '\0';
		frames[n++] = p;
		p = semi ? semi + 1 : NULL;
	}
	(void)flamegraph_add_base(fg, frames, n, (unsigned char)*s % 7);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const bool diff = size && (data[0] & 1);
	const char *s = (const char *)data, *end = s + size, *nl, *why;
	struct flamegraph_page page = {.period_ns = 10101010};
	struct flamegraph *fg = NULL;
	char *title = NULL;
	const char *p, *e;
	struct strbuf sb;

	strbuf_init(&sb, 64u << 20);
	if (flamegraph_new(&fg))
		return 0;
	nl = memchr(s, '\n', size);
	title = strndup(s, nl ? (size_t)(nl - s) : size);
	page.title = title;
	page.subtitle = title;
	page.export_query = title; /* links: the query is escaped as an attribute */
	page.prune_den = size && (data[0] & 2) ? 7 : 0;
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			nl = end;
		(void)flamegraph_add_folded(fg, s, (size_t)(nl - s), &why);
		s = nl + 1;
	}
	for (s = (const char *)data; diff && s < end; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			nl = end;
		add_base(fg, s, nl);
	}
	if (flamegraph_nr_nodes(fg) > FLAMEGRAPH_MAX_NODES)
		__builtin_trap();
	if (flamegraph_write_html(fg, &page, &sb))
		goto out;
	if (count_of(sb.buf, "<script") != 3 || count_of(sb.buf, "</script") != 3)
		__builtin_trap();
	p = strstr(sb.buf, DATA_OPEN);
	if (!p)
		__builtin_trap();
	p += strlen(DATA_OPEN);
	e = strstr(p, "</script");
	if (!e || e - p < 2 || memcmp(e - 2, "]}", 2) || memchr(p, '<', (size_t)(e - p)))
		__builtin_trap();
	strbuf_reset(&sb);
	if (!flamegraph_write_parts(fg, &page, &sb) && (!sb.buf || strchr(sb.buf, '<')))
		__builtin_trap();
out:
	strbuf_free(&sb);
	flamegraph_free(fg);
	free(title);
	return 0;
}
