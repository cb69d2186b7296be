/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flame graph renderer: stacks in, one self-contained interactive HTML page out.
 *
 * Stacks are merged into a trie (equal prefixes share one node, frame names
 * are interned). flamegraph_write_html() emits the page of
 * exporter/assets/flamegraph.html (compiled into the library): the trie as
 * JSON in a <script type="application/json"> element, drawn on a canvas by
 * inline JS, and a plain HTML table of the top functions by self samples
 * that needs no JS. The page loads nothing from anywhere: it works offline
 * and saved to disk.
 *
 * Frame names are untrusted (they come from symbol tables and JIT maps of
 * the profiled processes): they are escaped so that no byte sequence can
 * leave the JSON string or the HTML text it is in; invalid UTF-8 and control
 * bytes are shown as U+FFFD. Brendan Gregg's suffixes "_[k]" (kernel),
 * "_[j]" (JIT) and "_[i]" (inlined) select the frame's colour and are
 * stripped from the label.
 *
 * Bounds, so that a hostile or huge input gives a page a browser can load:
 *   - at most FLAMEGRAPH_MAX_NODES nodes, the root and "[truncated]" nodes
 *     included. A stack that would need more keeps its known prefix and
 *     puts its samples in a "[truncated]" child of the deepest node that can
 *     take one; the page says how many samples went there. Ancestors' totals
 *     stay exact.
 *   - stacks deeper than FLAMEGRAPH_MAX_DEPTH frames are cut the same way;
 *   - a frame name is cut to FLAMEGRAPH_MAX_NAME bytes (names equal up to
 *     there merge), and all names together take FLAMEGRAPH_MAX_NAME_BYTES;
 *   - the total sample count stays at most FLAMEGRAPH_MAX_TOTAL (2^53 - 1)
 *     so that the page's JS numbers are exact.
 *
 * The graph copies every string it is given. Not thread-safe.
 */
#ifndef STACKD_EXPORTER_FLAMEGRAPH_H
#define STACKD_EXPORTER_FLAMEGRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

#define FLAMEGRAPH_MAX_NODES	  200000u
#define FLAMEGRAPH_MAX_DEPTH	  1024u
#define FLAMEGRAPH_MAX_NAME	  4096u
#define FLAMEGRAPH_MAX_NAME_BYTES (16u << 20)
#define FLAMEGRAPH_MAX_TOTAL	  ((UINT64_C(1) << 53) - 1)

struct flamegraph;

struct flamegraph_page {
	const char *title;    /* e.g. "stackd: pid=1234 last 60s"; NULL = "Flame graph" */
	const char *subtitle; /* one free-text line, or NULL */
	uint64_t period_ns;   /* ns per unit of weight, to show seconds; 0 = counts only */
	const char *unit;     /* a unit of weight in words, plural: NULL = "samples" */
	const char *measure;  /* what the seconds are of: NULL = "CPU" ("off-CPU", "wall") */
	/*
	 * The page's selection as a URL query ("seconds=60&pid=1", percent-encoded):
	 * the page then links the same selection as pprof, folded and speedscope
	 * files. NULL: no such links (a page made from a file).
	 */
	const char *export_query;
	/*
	 * The timeline drawn above the graph, a JSON object (pages.c writes it:
	 * numbers and fixed words only, nothing to escape); NULL: none.
	 */
	const char *timeline_json;
	/*
	 * Leave out of the page the frames under 1/prune_den of the samples (of
	 * the range and, in a differential graph, of the base), and past
	 * max_nodes frames the smallest; 0: no such bound. Their samples stay in
	 * their callers' totals, so a caller's children may then add up to less
	 * than its total less its self; the summary says how many frames and
	 * samples; the tables count every frame.
	 */
	uint32_t prune_den;
	uint32_t max_nodes;
};

/*
 * What the pages use. At 1280 px a frame of 1/50,000 is 1/40 px wide and
 * only shows when zoomed into a frame under ~0.5%. A 15-minute history of a
 * busy node has up to FLAMEGRAPH_MAX_NODES frames, most of a few samples:
 * every 10,000 frames cost the page ~250 KB and the browser tens of ms, to
 * draw what is narrower than a pixel until one zooms deep.
 */
#define FLAMEGRAPH_PRUNE_DEN  50000u
#define FLAMEGRAPH_PAGE_NODES 32768u

struct flamegraph_stats {
	uint64_t total;		    /* samples added */
	uint64_t truncated_samples; /* of which in "[truncated]" frames */
	uint64_t truncated_stacks;  /* flamegraph_add calls that were cut */
	size_t nr_nodes;	    /* root included */
	size_t nr_names;
};

int flamegraph_new(struct flamegraph **out);
void flamegraph_free(struct flamegraph *fg);

/*
 * Add @count samples of one stack: frames[0] is the root (outermost caller),
 * frames[n - 1] the leaf. n == 0 counts the samples in the root itself.
 * Returns 0, -EINVAL (a NULL frame), -ERANGE (the total would pass
 * FLAMEGRAPH_MAX_TOTAL; nothing is added) or -ENOMEM. Truncation is not an
 * error: see the bounds above and flamegraph_get_stats().
 */
int flamegraph_add(struct flamegraph *fg, const char *const *frames, size_t n, uint64_t count);

/*
 * Parse one line of Brendan Gregg's folded format, "root;...;leaf COUNT"
 * (COUNT is the last blank-separated field, decimal, >= 0; a trailing CR is
 * ignored), and add it. @line need not be NUL-terminated. Returns 0, or
 * -EINVAL / -ERANGE with *why (may be NULL) set to a static message saying
 * what is wrong with the line, or -ENOMEM. An empty line is -EINVAL too:
 * callers skip those themselves.
 */
int flamegraph_add_folded(struct flamegraph *fg, const char *line, size_t len, const char **why);

/*
 * A differential graph: add one stack of the BASE profile (same form as
 * flamegraph_add). It makes no node: it counts toward the base samples of
 * the nodes the graph already has on its path (the page colours each frame by
 * how its share grew or shrank) and toward its names' base share (the table
 * of the functions whose share changed most, those gone from this range
 * included). Add the base after the graph's own stacks. 0 or -errno.
 */
int flamegraph_add_base(struct flamegraph *fg, const char *const *frames, size_t n, uint64_t count);

/*
 * The same by name index, for callers that meet each name many times (the
 * pages walk the history window by window): flamegraph_intern gives a
 * name's index (cut to FLAMEGRAPH_MAX_NAME, made if new), or
 * FLAMEGRAPH_NAME_NONE once the name budget is spent (a stack is cut where
 * it meets one). flamegraph_add_ids and flamegraph_add_base_ids then take
 * @ids root first, as their by-name twins take frames. An index this graph
 * did not give is -EINVAL.
 */
#define FLAMEGRAPH_NAME_NONE UINT32_MAX
int flamegraph_intern(struct flamegraph *fg, const char *s, uint32_t *id);
int flamegraph_add_ids(struct flamegraph *fg, const uint32_t *ids, size_t n, uint64_t count);
int flamegraph_add_base_ids(struct flamegraph *fg, const uint32_t *ids, size_t n, uint64_t count);

/*
 * Append a complete HTML document to @out (all or nothing: on error @out is
 * left as it was). @page may be NULL. Returns 0, -ENOSPC (@out's cap),
 * -ENOMEM, or -EINVAL (@fg or @out NULL). The graph stays usable: stacks
 * may be added and the page written again.
 */
int flamegraph_write_html(const struct flamegraph *fg, const struct flamegraph_page *page,
			  struct strbuf *out);

/*
 * The parts of the page a range selection replaces without a reload, as one
 * JSON object: {"title","subtitle","summary","exports","unit","table" (HTML
 * strings), "data" (the graph, as in the page)}. Same return values.
 */
int flamegraph_write_parts(const struct flamegraph *fg, const struct flamegraph_page *page,
			   struct strbuf *out);

size_t flamegraph_nr_nodes(const struct flamegraph *fg);
void flamegraph_get_stats(const struct flamegraph *fg, struct flamegraph_stats *st);

/*
 * Append @len bytes of @str as HTML text or attribute value: the five
 * specials as entities, control characters and invalid UTF-8 as U+FFFD.
 * Shared with the agent's other pages.
 */
int html_escape(struct strbuf *sb, const char *str, size_t len);

#endif
