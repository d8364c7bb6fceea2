/*
 * prom.c - Prometheus registry and text exposition (see prom.h).
 *
 * Each family holds an array of series; a series is its label values plus either one value
 * (counter, gauge) or bucket counts, a sum and a count (histogram). Rendering escapes label
 * values as the format requires (backslash, double quote, newline) and prints numbers with %.17g
 * so counters round-trip.
 */
#include "prom.h"

#include "util.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
	char *values[PROM_LABELS_MAX];
	double value;
	uint64_t buckets[PROM_BUCKETS_MAX + 1];
	double sum;
	uint64_t count;
};

struct prom_family {
	struct prom *p;
	enum prom_kind kind;
	char *name, *help;
	char *labels[PROM_LABELS_MAX];
	size_t nlabels;
	double bounds[PROM_BUCKETS_MAX];
	size_t nbounds;
	struct series *series;
	size_t nseries, cap;
	struct prom_family *next;
};

struct prom {
	pthread_mutex_t mu;
	struct prom_family *first, *last;
	uint64_t dropped;
};

static bool name_ok(const char *n)
{
	if (!n || !*n || strlen(n) > 128)
		return false;
	for (const char *c = n; *c; c++) {
		bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_';
		if (!alpha && !(c > n && *c >= '0' && *c <= '9') && *c != ':')
			return false;
	}
	return true;
}

struct prom *prom_new(void)
{
	struct prom *p = calloc(1, sizeof(*p));
	if (p)
		pthread_mutex_init(&p->mu, NULL);
	return p;
}

static void series_clear(struct prom_family *f)
{
	for (size_t i = 0; i < f->nseries; i++)
		for (size_t k = 0; k < f->nlabels; k++)
			free(f->series[i].values[k]);
	f->nseries = 0;
}

void prom_free(struct prom *p)
{
	if (!p)
		return;
	struct prom_family *f = p->first;
	while (f) {
		struct prom_family *next = f->next;
		series_clear(f);
		free(f->series);
		for (size_t k = 0; k < f->nlabels; k++)
			free(f->labels[k]);
		free(f->name);
		free(f->help);
		free(f);
		f = next;
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

struct prom_family *prom_family(struct prom *p, enum prom_kind kind, const char *name,
				const char *help, const char *const *labels, const double *buckets,
				size_t nbuckets)
{
	if (!name_ok(name) || nbuckets > PROM_BUCKETS_MAX)
		return NULL;
	struct prom_family *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->p = p;
	f->kind = kind;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	for (size_t i = 0; labels && labels[i]; i++) {
		if (i >= PROM_LABELS_MAX || !name_ok(labels[i]) || strncmp(labels[i], "__", 2) == 0)
			goto fail;
		f->labels[i] = strdup(labels[i]);
		f->nlabels++;
		if (!f->labels[i])
			goto fail;
	}
	for (size_t i = 0; i < nbuckets; i++) {
		if (i > 0 && buckets[i] <= buckets[i - 1])
			goto fail;
		f->bounds[i] = buckets[i];
	}
	f->nbounds = kind == PROM_HISTOGRAM ? nbuckets : 0;
	if (!f->name || !f->help)
		goto fail;
	pthread_mutex_lock(&p->mu);
	if (p->last)
		p->last->next = f;
	else
		p->first = f;
	p->last = f;
	pthread_mutex_unlock(&p->mu);
	return f;
fail:
	for (size_t k = 0; k < f->nlabels; k++)
		free(f->labels[k]);
	free(f->name);
	free(f->help);
	free(f);
	return NULL;
}

/* Finds or creates the series; caller holds the lock. NULL past the cap or on ENOMEM. */
static struct series *series_get(struct prom_family *f, const char *const *values)
{
	for (size_t i = 0; i < f->nseries; i++) {
		bool eq = true;
		for (size_t k = 0; k < f->nlabels && eq; k++)
			eq = strcmp(f->series[i].values[k], values[k] ? values[k] : "") == 0;
		if (eq)
			return &f->series[i];
	}
	if (f->nseries >= PROM_SERIES_MAX)
		return NULL;
	if (f->nseries == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct series *ns = realloc(f->series, cap * sizeof(*ns));
		if (!ns)
			return NULL;
		f->series = ns;
		f->cap = cap;
	}
	struct series *s = &f->series[f->nseries];
	memset(s, 0, sizeof(*s));
	for (size_t k = 0; k < f->nlabels; k++) {
		const char *v = values[k] ? values[k] : "";
		s->values[k] = strndup(v, PROM_LABEL_VALUE_MAX_BYTES);
		if (!s->values[k]) {
			for (size_t j = 0; j < k; j++)
				free(s->values[j]);
			return NULL;
		}
	}
	f->nseries++;
	return s;
}

static void update(struct prom_family *f, const char *const *values, double v, int op)
{
	pthread_mutex_lock(&f->p->mu);
	struct series *s = series_get(f, values);
	if (!s) {
		f->p->dropped++;
	} else if (op == 0) {
		s->value += v;
	} else if (op == 1) {
		s->value = v;
	} else {
		size_t b = 0;
		while (b < f->nbounds && v > f->bounds[b])
			b++;
		s->buckets[b]++;
		s->sum += v;
		s->count++;
	}
	pthread_mutex_unlock(&f->p->mu);
}

void prom_inc(struct prom_family *f, const char *const *values, double by)
{
	if (f)
		update(f, values, by, 0);
}
void prom_set(struct prom_family *f, const char *const *values, double v)
{
	if (f)
		update(f, values, v, 1);
}
void prom_observe(struct prom_family *f, const char *const *values, double v)
{
	if (f)
		update(f, values, v, 2);
}

void prom_clear(struct prom_family *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->p->mu);
	series_clear(f);
	pthread_mutex_unlock(&f->p->mu);
}

uint64_t prom_dropped(struct prom *p)
{
	pthread_mutex_lock(&p->mu);
	uint64_t d = p->dropped;
	pthread_mutex_unlock(&p->mu);
	return d;
}

/* ---------------------------------------------------------------- rendering */

static void bput(struct util_buf *b, const char *s, size_t n)
{
	util_buf_put(b, s, n);
}

static void bputs(struct util_buf *b, const char *s)
{
	bput(b, s, strlen(s));
}

static void bprintf(struct util_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct util_buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		bput(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void put_escaped(struct util_buf *b, const char *s, bool help)
{
	for (; *s; s++) {
		if (*s == '\\')
			bputs(b, "\\\\");
		else if (*s == '\n')
			bputs(b, "\\n");
		else if (*s == '"' && !help)
			bputs(b, "\\\"");
		else
			bput(b, s, 1);
	}
}

static void put_number(struct util_buf *b, double v)
{
	if (isnan(v))
		bputs(b, "NaN");
	else if (isinf(v))
		bputs(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == (double)(int64_t)v && fabs(v) < 1e15)
		bprintf(b, "%lld", (long long)v);
	else
		bprintf(b, "%.17g", v);
}

/* name{l1="v1",...[,le="x"]} */
static void put_labels(struct util_buf *b, const struct prom_family *f, const struct series *s,
		       const char *le)
{
	if (f->nlabels == 0 && !le)
		return;
	bputs(b, "{");
	for (size_t k = 0; k < f->nlabels; k++) {
		if (k)
			bputs(b, ",");
		bputs(b, f->labels[k]);
		bputs(b, "=\"");
		put_escaped(b, s->values[k], false);
		bputs(b, "\"");
	}
	if (le) {
		if (f->nlabels)
			bputs(b, ",");
		bputs(b, "le=\"");
		bputs(b, le);
		bputs(b, "\"");
	}
	bputs(b, "}");
}

char *prom_render(struct prom *p, size_t *len)
{
	static const char *kinds[] = { "counter", "gauge", "histogram" };
	struct util_buf b = { 0 };
	pthread_mutex_lock(&p->mu);
	for (const struct prom_family *f = p->first; f; f = f->next) {
		bprintf(&b, "# HELP %s ", f->name);
		put_escaped(&b, f->help, true);
		bprintf(&b, "\n# TYPE %s %s\n", f->name, kinds[f->kind]);
		for (size_t i = 0; i < f->nseries; i++) {
			const struct series *s = &f->series[i];
			if (f->kind != PROM_HISTOGRAM) {
				bputs(&b, f->name);
				put_labels(&b, f, s, NULL);
				bputs(&b, " ");
				put_number(&b, s->value);
				bputs(&b, "\n");
				continue;
			}
			uint64_t cum = 0;
			for (size_t k = 0; k <= f->nbounds; k++) {
				char le[32];
				cum += s->buckets[k];
				if (k < f->nbounds)
					snprintf(le, sizeof(le), "%g", f->bounds[k]);
				else
					snprintf(le, sizeof(le), "+Inf");
				bprintf(&b, "%s_bucket", f->name);
				put_labels(&b, f, s, le);
				bprintf(&b, " %llu\n", (unsigned long long)cum);
			}
			bprintf(&b, "%s_sum", f->name);
			put_labels(&b, f, s, NULL);
			bputs(&b, " ");
			put_number(&b, s->sum);
			bprintf(&b, "\n%s_count", f->name);
			put_labels(&b, f, s, NULL);
			bprintf(&b, " %llu\n", (unsigned long long)s->count);
		}
	}
	pthread_mutex_unlock(&p->mu);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (!b.p)
		bputs(&b, "");
	if (len)
		*len = b.len;
	return b.p;
}
