/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pprof profile builder (google/pprof proto/profile.proto).
 *
 * A CPU profile follows Go's layout: sample types [samples/count,
 * cpu/nanoseconds], period type cpu/nanoseconds, period = 1e9 / Hz, and for
 * each sample the values {count, count * period}. An off-CPU profile has
 * sample types [switches/count, offcpu/nanoseconds] and for each sample the
 * values {switches, nanoseconds off CPU}, both given. A wall profile (on- and
 * off-CPU time of the same threads) has sample types [events/count,
 * wall/nanoseconds]: CPU samples and periods off CPU, with their time given.
 * string_table[0] is "";
 * strings, functions, mappings and locations are deduplicated; ids start at 1.
 *
 * The builder copies every string it is given: callers' borrows may end
 * right after each call. Not thread-safe; one builder per profile.
 */
#ifndef STACKD_EXPORTER_PPROF_H
#define STACKD_EXPORTER_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pprof_builder;

enum pprof_kind {
	PPROF_KIND_CPU = 0, /* values {count, count * period} */
	PPROF_KIND_OFFCPU,  /* values {switches, off-CPU ns}: pprof_add_sample_value */
	PPROF_KIND_WALL,    /* values {events, ns}: pprof_add_sample_value */
};
#define PPROF_NR_KINDS 3

struct pprof_opts {
	uint64_t period_ns; /* 1e9 / sampling frequency */
	enum pprof_kind kind;
	int64_t time_nanos; /* window start, Unix ns */
};

struct pprof_mapping {
	uint64_t start;
	uint64_t limit;
	uint64_t offset;
	const char *filename;
	const char *build_id; /* lowercase hex or NULL/"" */
	bool has_functions;
	bool has_filenames;
	bool has_line_numbers;
	bool has_inline_frames;
};

/* One Line of a Location; for inlined calls, innermost first. */
struct pprof_line {
	const char *function;	 /* Function.name (demangled); NULL = unknown */
	const char *system_name; /* Function.system_name; NULL = same as function */
	const char *filename;	 /* NULL = unknown */
	int64_t start_line;
	int64_t line;
};

/* A label: a string value when str != NULL, else a number (with optional unit). */
struct pprof_label {
	const char *key;
	const char *str;
	int64_t num;
	const char *num_unit;
};

int pprof_builder_new(const struct pprof_opts *opts, struct pprof_builder **out);
void pprof_builder_free(struct pprof_builder *b);

/* Returns 0 and the (deduplicated) mapping id in *id, or -errno. */
int pprof_add_mapping(struct pprof_builder *b, const struct pprof_mapping *m, uint64_t *id);

/*
 * Location for runtime @address in mapping @mapping_id (0 = none). Locations
 * are deduplicated by (mapping_id, address, what the lines say): an address
 * named otherwise (JIT code replaced, or named once its perf map came) is
 * another location.
 */
int pprof_add_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
		       const struct pprof_line *lines, size_t nr_lines, uint64_t *id);

/*
 * Add @count samples of the stack @location_ids (leaf first) with @labels
 * (at most one per key). Samples with equal stacks and labels are merged.
 */
int pprof_add_sample(struct pprof_builder *b, const uint64_t *location_ids, size_t nr_locations,
		     int64_t count, const struct pprof_label *labels, size_t nr_labels);
/* The same with the second value given (off-CPU ns; ignored by a CPU profile). */
int pprof_add_sample_value(struct pprof_builder *b, const uint64_t *location_ids,
			   size_t nr_locations, int64_t count, int64_t value,
			   const struct pprof_label *labels, size_t nr_labels);
enum pprof_kind pprof_builder_kind(const struct pprof_builder *b);
uint64_t pprof_builder_period(const struct pprof_builder *b);

size_t pprof_builder_nr_samples(const struct pprof_builder *b);
/* Approximate heap bytes held by the builder. */
size_t pprof_builder_bytes(const struct pprof_builder *b);

/*
 * Serialize to a Profile message, gzip-compressed (RFC 1952) when @gzip.
 * *out is malloc'd; the caller frees it. The builder stays usable.
 */
int pprof_encode(const struct pprof_builder *b, int64_t duration_ns, bool gzip, uint8_t **out,
		 size_t *out_len);

/* ---- frozen profiles ---------------------------------------------------------------------- */

/*
 * A frozen profile is an immutable copy of a builder packed into one
 * allocation of exactly the bytes it needs (no hash tables, no slack): the
 * form in which the history keeps its windows. Frozen profiles are merged
 * back into a builder to answer a query (a time range, filters on labels),
 * or walked stack by stack for collapsed stacks and flame graphs. Read-only
 * after pprof_freeze(), so any number of threads may read one at once.
 */
struct pprof_frozen;

/* Freeze @b, which covered @duration_ns from its opts.time_nanos. */
int pprof_freeze(const struct pprof_builder *b, int64_t duration_ns, struct pprof_frozen **out);
void pprof_frozen_free(struct pprof_frozen *f);
size_t pprof_frozen_bytes(const struct pprof_frozen *f);
int64_t pprof_frozen_time(const struct pprof_frozen *f); /* start, Unix ns */
int64_t pprof_frozen_duration(const struct pprof_frozen *f);
uint64_t pprof_frozen_period(const struct pprof_frozen *f);
enum pprof_kind pprof_frozen_kind(const struct pprof_frozen *f);
size_t pprof_frozen_nr_samples(const struct pprof_frozen *f);
int64_t pprof_frozen_total(const struct pprof_frozen *f); /* sum of sample counts */

/* Which samples, and which of their labels, a merge or a walk keeps. */
struct pprof_select {
	/* Keep the samples that carry exactly these labels? NULL keeps every sample. */
	bool (*keep_sample)(void *ctx, const struct pprof_label *labels, size_t nr);
	/* Keep labels with this key in the output? NULL keeps every label. */
	bool (*keep_label)(void *ctx, const char *key);
	void *ctx;
};

/*
 * Add the samples of @src that @sel keeps (NULL: all) to @dst, with only the
 * labels it keeps; samples that become equal are summed. @dst's period
 * should equal @src's (the counts are added as they are).
 */
int pprof_merge(struct pprof_builder *dst, const struct pprof_frozen *src,
		const struct pprof_select *sel);

/* How a frame is drawn; the folded format marks all but user frames with a suffix. */
enum pprof_frame_kind {
	PPROF_FRAME_USER,    /* native code of a file-backed mapping */
	PPROF_FRAME_KERNEL,  /* "_[k]" */
	PPROF_FRAME_JIT,     /* code of an anonymous mapping, named by a perf map: "_[j]" */
	PPROF_FRAME_INLINED, /* inlined into its caller (same address): "_[i]" */
};

struct pprof_frame_name {
	const char *name; /* function, or "[unknown]" / "[<file>]" when not symbolized */
	enum pprof_frame_kind kind;
};

/*
 * One stack: frames[0] is the LEAF; inlined functions are frames of their
 * own. @count is the sample's first value (CPU samples, switches, events),
 * @value its second (ns: count * period for CPU, off-CPU or wall time).
 * Borrows valid during the call only. Non-zero stops the walk.
 */
typedef int (*pprof_stack_fn)(void *ctx, const struct pprof_frame_name *frames, size_t nr,
			      int64_t count, int64_t value, const struct pprof_label *labels,
			      size_t nr_labels);
int pprof_frozen_foreach(const struct pprof_frozen *f, const struct pprof_select *sel,
			 pprof_stack_fn fn, void *ctx);

/*
 * The samples @sel keeps (NULL: all), summed: *count their first values,
 * *value their second (ns). 0 or -ENOMEM.
 */
int pprof_frozen_sum(const struct pprof_frozen *f, const struct pprof_select *sel, int64_t *count,
		     int64_t *value);

/* Sample counts per distinct label set kept by @sel (frames are not looked at). */
typedef int (*pprof_labels_fn)(void *ctx, const struct pprof_label *labels, size_t nr,
			       int64_t count);
int pprof_frozen_foreach_labels(const struct pprof_frozen *f, const struct pprof_select *sel,
				pprof_labels_fn fn, void *ctx);

#endif
