/*
 * prom.h - a small Prometheus metrics registry and text exposition (format 0.0.4).
 *
 * A program registers families (counter, gauge, histogram) with fixed label names at start-up
 * and updates series by label values from any thread; prom_render writes the whole registry in
 * the text format `promtool check metrics` accepts. Series per family are capped at
 * PROM_SERIES_MAX so label values that come from requests can never grow memory without bound
 * (updates past the cap are counted in prom_dropped and otherwise ignored).
 *
 * Ownership: families belong to the registry (freed by prom_free). Thread safety: one mutex per
 * registry; updates are O(series) string compares, fine for the few dozen series we keep.
 */
#ifndef CLOISTER_PROM_H
#define CLOISTER_PROM_H

#include <stddef.h>
#include <stdint.h>

#define PROM_SERIES_MAX 512
#define PROM_LABELS_MAX 4
#define PROM_BUCKETS_MAX 16
#define PROM_LABEL_VALUE_MAX_BYTES 128

enum prom_kind { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM };

struct prom;
struct prom_family;

struct prom *prom_new(void);
void prom_free(struct prom *p);
/* labels: NULL-terminated names (at most PROM_LABELS_MAX); buckets: upper bounds, ascending
 * (histograms only; +Inf is implicit). Returns NULL on a bad name or ENOMEM. */
struct prom_family *prom_family(struct prom *p, enum prom_kind kind, const char *name,
				const char *help, const char *const *labels, const double *buckets,
				size_t nbuckets);
/* values: one per label name (NULL-terminated not required; exactly as many as names). */
void prom_inc(struct prom_family *f, const char *const *values, double by);
void prom_set(struct prom_family *f, const char *const *values, double v);
void prom_observe(struct prom_family *f, const char *const *values, double v);
/* Removes every series of a family (gauges recomputed from scratch, e.g. per-GPU). */
void prom_clear(struct prom_family *f);
/* The exposition text, NUL-terminated; caller frees. NULL on ENOMEM. */
char *prom_render(struct prom *p, size_t *len);
uint64_t prom_dropped(struct prom *p);

#endif
