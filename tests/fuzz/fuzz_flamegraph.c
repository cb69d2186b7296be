// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer: folded-stack lines through flamegraph_add_folded, then the
 * page. The first line is also used as the page title. Checks what must hold
 * whatever the input: the graph stays within its node cap, and in the page
 * nothing from the input opened an element or ended the data element early
 * (exactly the template's two <script> elements, and no '<' in the data).
 */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			nl = end;
		(void)flamegraph_add_folded(fg, s, (size_t)(nl - s), &why);
		s = nl + 1;
	}
	if (flamegraph_nr_nodes(fg) > FLAMEGRAPH_MAX_NODES)
		__builtin_trap();
	if (flamegraph_write_html(fg, &page, &sb))
		goto out;
	if (count_of(sb.buf, "<script") != 2 || count_of(sb.buf, "</script") != 2)
		__builtin_trap();
	p = strstr(sb.buf, DATA_OPEN);
	if (!p)
		__builtin_trap();
	p += strlen(DATA_OPEN);
	e = strstr(p, "</script");
	if (!e || e - p < 2 || memcmp(e - 2, "]}", 2) || memchr(p, '<', (size_t)(e - p)))
		__builtin_trap();
out:
	strbuf_free(&sb);
	flamegraph_free(fg);
	free(title);
	return 0;
}
