// SPDX-License-Identifier: Apache-2.0
#include "cpumetrics.h"

#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/list.h"
#include "exporter/promtext.h"
#include "exporter/labels.h"

#define IDLE_NS ((uint64_t)CPUMETRICS_IDLE_SECONDS * 1000000000ULL)
#define KEY_MAX (CPUMETRICS_MAX_LABELS * (CPUMETRICS_VALUE_MAX + 1))

/* One series: its label values, NUL-separated, follow the struct. */
struct series {
	struct hnode node;
	struct list_head lru; /* most recently grown first */
	uint64_t samples;
	uint64_t last_ns;
	uint32_t key_len;
	char key[];
};

/* The series of one family, bounded. */
struct family {
	struct hmap map;
	struct list_head lru;
	unsigned max, nr;
	uint64_t cut_samples; /* samples of groups that found no free place */
	uint64_t evicted;     /* idle series removed to make room */
};

/* --metrics.cpu.labels: the metric's label name and where its value comes from. */
struct cpu_label {
	const char *name;
	enum label_key key;
	bool short_id_fallback; /* "container": the name, else the id's first 12 characters */
};

struct cpumetrics {
	pthread_mutex_t lock;
	uint64_t period_ns;
	struct family cpu, fn, off; /* off: counts ns, not samples */
	struct cpu_label labels[CPUMETRICS_MAX_LABELS];
	size_t nr_labels;
	char *patterns_buf;
	const char *patterns[CPUMETRICS_MAX_PATTERNS];
	size_t nr_patterns;
};

static void family_init(struct family *f, unsigned max)
{
	hmap_init(&f->map);
	list_init(&f->lru);
	f->max = max;
}

static void family_fini(struct family *f)
{
	struct hnode *n, *tmp;
	size_t i;

	hmap_for_each_safe (&f->map, n, tmp, i)
		free(container_of(n, struct series, node));
	hmap_fini(&f->map);
}

/* Count @samples for the series @key (@len bytes); caller holds the lock. */
static void family_add(struct family *f, const char *key, size_t len, uint64_t samples,
		       uint64_t now)
{
	uint64_t h = hash_bytes(key, len, 0x637075);
	struct series *s;
	struct hnode *n;

	for (n = hmap_first(&f->map, h); n; n = hmap_next(n)) {
		s = container_of(n, struct series, node);
		if (s->key_len == len && memcmp(s->key, key, len) == 0) {
			s->samples += samples;
			s->last_ns = now;
			list_move(&s->lru, &f->lru);
			return;
		}
	}
	if (f->nr >= f->max) {
		struct series *old =
		    f->lru.prev != &f->lru ? list_entry(f->lru.prev, struct series, lru) : NULL;

		if (!old || now - old->last_ns < IDLE_NS) {
			f->cut_samples += samples;
			return;
		}
		hmap_remove(&f->map, &old->node);
		list_del(&old->lru);
		free(old);
		f->nr--;
		f->evicted++;
	}
	s = malloc(sizeof(*s) + len);
	if (!s) {
		f->cut_samples += samples;
		return;
	}
	s->samples = samples;
	s->last_ns = now;
	s->key_len = (uint32_t)len;
	memcpy(s->key, key, len);
	if (hmap_insert(&f->map, &s->node, h)) {
		free(s);
		f->cut_samples += samples;
		return;
	}
	list_add(&s->lru, &f->lru);
	f->nr++;
}

/* Append @v (cut to CPUMETRICS_VALUE_MAX bytes, on a UTF-8 boundary) and a NUL to key. */
static size_t key_put(char *key, size_t off, const char *v)
{
	size_t len = strlen(v);

	if (len > CPUMETRICS_VALUE_MAX) {
		len = CPUMETRICS_VALUE_MAX - 3;
		while (len && ((unsigned char)v[len] & 0xc0) == 0x80)
			len--;
		memcpy(key + off, v, len);
		memcpy(key + off + len, "...", 3);
		len += 3;
	} else {
		memcpy(key + off, v, len);
	}
	key[off + len] = '\0';
	return off + len + 1;
}

int cpumetrics_new(const struct cpumetrics_opts *o, struct cpumetrics **out)
{
	struct cpumetrics *m = calloc(1, sizeof(*m));
	const char *p;
	int err = -EINVAL;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->period_ns = o->period_ns;
	family_init(&m->cpu, o->cpu_max_series);
	family_init(&m->fn, o->functions_max_series);
	family_init(&m->off, o->offcpu ? o->cpu_max_series : 0);

	for (p = o->cpu_labels; p && *p;) {
		size_t len = strcspn(p, ",");
		char name[32];
		enum label_key k;

		if (!len || len >= sizeof(name) || m->nr_labels == CPUMETRICS_MAX_LABELS)
			goto fail;
		memcpy(name, p, len);
		name[len] = '\0';
		k = label_key_of(name);
		if (k == LABEL__MAX || k == LABEL_PID || k == LABEL_CMDLINE)
			goto fail; /* unbounded: one series per process */
		m->labels[m->nr_labels++] = (struct cpu_label){
		    .name = label_key_name(k), .key = k, .short_id_fallback = k == LABEL_CONTAINER};
		p += len + (p[len] == ',');
	}

	if (o->functions && *o->functions) {
		char *save = NULL, *tok;

		m->patterns_buf = strdup(o->functions);
		if (!m->patterns_buf) {
			err = -ENOMEM;
			goto fail;
		}
		for (tok = strtok_r(m->patterns_buf, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			if (m->nr_patterns == CPUMETRICS_MAX_PATTERNS)
				goto fail;
			m->patterns[m->nr_patterns++] = tok;
		}
	}
	*out = m;
	return 0;
fail:
	cpumetrics_free(m);
	return err;
}

void cpumetrics_free(struct cpumetrics *m)
{
	if (!m)
		return;
	family_fini(&m->cpu);
	family_fini(&m->fn);
	family_fini(&m->off);
	free(m->patterns_buf);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* The series key of a process: its --metrics.cpu.labels values, each NUL-terminated. */
static size_t process_key(const struct cpumetrics *m, const struct pprof_label *labels, size_t nr,
			  char *key)
{
	size_t off = 0;

	for (size_t i = 0; i < m->nr_labels; i++) {
		const char *v = label_str(labels, nr, label_key_name(m->labels[i].key));
		char short_id[13];

		if (!*v && m->labels[i].short_id_fallback) {
			snprintf(short_id, sizeof(short_id), "%s",
				 label_str(labels, nr, label_key_name(LABEL_CONTAINER_ID)));
			v = short_id;
		}
		off = key_put(key, off, v);
	}
	return off;
}

void cpumetrics_add_process(struct cpumetrics *m, const struct pprof_label *labels, size_t nr,
			    uint64_t count, uint64_t now_ns)
{
	char key[KEY_MAX];
	size_t off;

	if (!m || !m->cpu.max || !count)
		return;
	off = process_key(m, labels, nr, key);
	pthread_mutex_lock(&m->lock);
	family_add(&m->cpu, key, off, count, now_ns);
	pthread_mutex_unlock(&m->lock);
}

void cpumetrics_add_offcpu(struct cpumetrics *m, const struct pprof_label *labels, size_t nr,
			   const char *reason, uint64_t ns, uint64_t now_ns)
{
	char key[KEY_MAX + 32];
	size_t off;

	if (!m || !m->off.max || !ns)
		return;
	off = process_key(m, labels, nr, key);
	off = key_put(key, off, reason);
	pthread_mutex_lock(&m->lock);
	family_add(&m->off, key, off, ns, now_ns);
	pthread_mutex_unlock(&m->lock);
}

bool cpumetrics_wants_stacks(const struct cpumetrics *m)
{
	return m && m->nr_patterns && m->fn.max;
}

/* Does @fn match a pattern? */
static bool matches(const struct cpumetrics *m, const char *fn)
{
	for (size_t i = 0; i < m->nr_patterns; i++)
		if (fnmatch(m->patterns[i], fn, 0) == 0)
			return true;
	return false;
}

void cpumetrics_add_stack(struct cpumetrics *m, const struct sym_result *const *parts, size_t nr,
			  uint64_t count, uint64_t now_ns)
{
	/* Distinct matching functions of this stack: each counts the sample once. */
	const char *hit[64];
	size_t nr_hit = 0;

	if (!cpumetrics_wants_stacks(m) || !count)
		return;
	for (size_t p = 0; p < nr; p++) {
		const struct sym_result *r = parts[p];

		for (size_t i = 0; r && i < r->nr; i++) {
			for (uint32_t j = 0; j < r->frames[i].nr_lines; j++) {
				const char *fn = r->frames[i].lines[j].function;
				bool seen = false;

				if (!fn || !matches(m, fn))
					continue;
				for (size_t k = 0; k < nr_hit && !seen; k++)
					seen = strcmp(hit[k], fn) == 0;
				if (!seen && nr_hit < sizeof(hit) / sizeof(hit[0]))
					hit[nr_hit++] = fn;
			}
		}
	}
	if (!nr_hit)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t k = 0; k < nr_hit; k++) {
		char key[CPUMETRICS_VALUE_MAX + 1];
		size_t len = key_put(key, 0, hit[k]);

		family_add(&m->fn, key, len, count, now_ns);
	}
	pthread_mutex_unlock(&m->lock);
}

/*
 * One sample of @samples periods, in seconds, written exactly as a decimal
 * (the CPU time is a whole number of ns: no binary-float noise in the text).
 */
static int put_seconds_of(struct strbuf *sb, const char *name, const struct prom_label *l, size_t n,
			  uint64_t period_ns, uint64_t samples)
{
	unsigned __int128 ns = (unsigned __int128)samples * period_ns;
	char frac[16], value[48];
	int len;

	len = snprintf(frac, sizeof(frac), "%09llu", (unsigned long long)(ns % 1000000000u));
	while (len > 1 && frac[len - 1] == '0')
		frac[--len] = '\0';
	snprintf(value, sizeof(value), "%llu.%s", (unsigned long long)(ns / 1000000000u), frac);
	return prom_sample_text(sb, name, l, n, value);
}

/* What /metrics says about one family: its names and help texts. */
struct family_text {
	const char *name, *help;
	const char *cut_name, *cut_help;
};

static const struct family_text cpu_text = {
    "stackd_cpu_seconds_total",
    "CPU time counted from samples, per process group (--metrics.cpu.labels; at most "
    "--metrics.cpu.max-series series).",
    "stackd_cpu_seconds_cut_total",
    "CPU time of process groups that found all --metrics.cpu.max-series series busy.",
};
static const struct family_text off_text = {
    "stackd_offcpu_seconds_total",
    "Time off CPU counted from --offcpu.enabled, per process group (--metrics.cpu.labels) and "
    "reason (sleep, disk, preempted, other); at most --metrics.cpu.max-series series.",
    "stackd_offcpu_seconds_cut_total",
    "Time off CPU of process groups that found all --metrics.cpu.max-series series busy.",
};
static const struct family_text fn_text = {
    "stackd_function_cpu_seconds_total",
    "CPU time of samples with a function matching --metrics.functions anywhere on the stack.",
    "stackd_function_cpu_seconds_cut_total",
    "CPU time of matching functions that found all --metrics.functions.max-series series busy.",
};

/*
 * A family and its cut counter: each series' key holds the values of
 * @names[0..@nr), NUL-separated; a count weighs @period_ns. Caller holds the lock.
 */
static int write_family(struct strbuf *out, const struct family *f, const struct family_text *t,
			const char *const *names, size_t nr, uint64_t period_ns)
{
	struct prom_label pl[CPUMETRICS_MAX_LABELS + 1];
	struct list_head *pos;
	int err;

	err = prom_family(out, t->name, "counter", t->help);
	for (pos = f->lru.next; !err && pos != &f->lru; pos = pos->next) {
		const struct series *s = list_entry(pos, struct series, lru);
		const char *v = s->key;

		for (size_t i = 0; i < nr; i++) {
			pl[i] = (struct prom_label){.name = names[i], .value = v};
			v += strlen(v) + 1;
		}
		err = put_seconds_of(out, t->name, pl, nr, period_ns, s->samples);
	}
	err = err ?: prom_family(out, t->cut_name, "counter", t->cut_help);
	return err ?: put_seconds_of(out, t->cut_name, NULL, 0, period_ns, f->cut_samples);
}

/* A gauge or counter with one sample per family written. */
static int write_per_family(struct strbuf *out, const char *name, const char *type,
			    const char *help, const struct family *const *fams,
			    const struct family_text *const *texts, size_t nr, bool evicted)
{
	struct prom_label pl = {.name = "family"};
	int err = prom_family(out, name, type, help);

	for (size_t i = 0; !err && i < nr; i++) {
		pl.value = texts[i]->name;
		err = prom_sample_u64(out, name, &pl, 1, evicted ? fams[i]->evicted : fams[i]->nr);
	}
	return err;
}

int cpumetrics_write(struct cpumetrics *m, struct strbuf *out)
{
	const char *names[CPUMETRICS_MAX_LABELS + 1];
	const char *const fn_names[] = {"function"};
	/* Every family's series counts, the off-CPU one when it exists. */
	const struct family *fams[3];
	const struct family_text *texts[3];
	size_t nr = 0;
	int err = 0;

	if (!m)
		return 0;
	for (size_t i = 0; i < m->nr_labels; i++)
		names[i] = m->labels[i].name;
	names[m->nr_labels] = "reason"; /* the off-CPU key's last value */
	fams[nr] = &m->cpu, texts[nr++] = &cpu_text;
	fams[nr] = &m->fn, texts[nr++] = &fn_text;
	if (m->off.max)
		fams[nr] = &m->off, texts[nr++] = &off_text;
	pthread_mutex_lock(&m->lock);
	if (m->cpu.max)
		err = write_family(out, &m->cpu, &cpu_text, names, m->nr_labels, m->period_ns);
	/* Off-CPU counts are ns. */
	if (m->off.max)
		err = err ?: write_family(out, &m->off, &off_text, names, m->nr_labels + 1, 1);
	if (m->nr_patterns)
		err = err ?: write_family(out, &m->fn, &fn_text, fn_names, 1, m->period_ns);
	err = err
		  ?: write_per_family(out, "stackd_metrics_series", "gauge",
				      "Series held by each profile-derived metric family.", fams,
				      texts, nr, false);
	err = err
		  ?: write_per_family(out, "stackd_metrics_series_evicted_total", "counter",
				      "Series removed after 5 minutes without samples to make room "
				      "for a new one.",
				      fams, texts, nr, true);
	pthread_mutex_unlock(&m->lock);
	return err;
}
