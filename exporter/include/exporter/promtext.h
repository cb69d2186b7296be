/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus text exposition format 0.0.4 writer.
 *
 * prom_family() writes # HELP and # TYPE once per family; prom_sample*()
 * write samples with escaped label values (\\, \", \n) and values formatted
 * as Prometheus reads them (integers exactly, NaN, +Inf, -Inf). prom_metric*()
 * write a whole family (header and samples) in one call: every metric writer
 * of the agent and the HTTP server goes through these, so escaping and value
 * formatting live here only.
 * Errors are sticky in the strbuf sense: each call returns 0 or -errno
 * (-ENOSPC when the buffer cap is hit) and leaves nothing of itself behind.
 */
#ifndef STACKD_EXPORTER_PROMTEXT_H
#define STACKD_EXPORTER_PROMTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct prom_label {
	const char *name;
	const char *value;
};

/* @type: "counter", "gauge", "histogram", "summary" or "untyped". */
int prom_family(struct strbuf *sb, const char *name, const char *type, const char *help);
int prom_sample(struct strbuf *sb, const char *name, const struct prom_label *labels,
		size_t nr_labels, double value);
int prom_sample_u64(struct strbuf *sb, const char *name, const struct prom_label *labels,
		    size_t nr_labels, uint64_t value);
/* A sample whose value the caller formatted (e.g. an exact decimal); @value is not checked. */
int prom_sample_text(struct strbuf *sb, const char *name, const struct prom_label *labels,
		     size_t nr_labels, const char *value);
/* A family with one unlabelled sample. */
int prom_metric(struct strbuf *sb, const char *name, const char *type, const char *help,
		double value);
int prom_metric_u64(struct strbuf *sb, const char *name, const char *type, const char *help,
		    uint64_t value);
/* A family with one label: one sample per (@values[i], @v[i]), i < @nr. */
int prom_metric_labelled_u64(struct strbuf *sb, const char *name, const char *type,
			     const char *help, const char *label, const char *const *values,
			     const uint64_t *v, size_t nr);
/* Append @value escaped for a label value (without quotes). */
int prom_escape_label_value(struct strbuf *sb, const char *value);
/* Format a sample value into buf: "NaN", "+Inf", "-Inf", exact integers, else %.17g. */
void prom_format_value(double v, char *buf, size_t len);

/* A histogram with fixed upper bounds (seconds); observe is lock-free. */
#define PROM_HIST_MAX_BUCKETS 16
struct prom_histogram {
	size_t nr_bounds;
	double bounds[PROM_HIST_MAX_BUCKETS];
	uint64_t _Atomic counts[PROM_HIST_MAX_BUCKETS + 1]; /* last = +Inf */
	uint64_t _Atomic sum_ns;
	uint64_t _Atomic count;
};
void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nr_bounds);
void prom_histogram_observe_ns(struct prom_histogram *h, uint64_t ns);
/* Writes family header and _bucket/_sum/_count samples. */
int prom_histogram_write(struct strbuf *sb, const char *name, const char *help,
			 const struct prom_histogram *h);

/* Append the standard process_* metrics of the calling process. */
int prom_write_process_metrics(struct strbuf *sb);

#endif
