/*
 * metrics.h - cloister-agent's Prometheus metrics (GET /metrics).
 *
 * Counters are updated where things happen (HTTP completions, events by source, actions and
 * uploads by name and result, command runs by binary and result); gauges that describe the
 * present (stored events, GPU readings, process RSS/CPU/fds) are computed when /metrics is
 * scraped. Label values are route patterns and configured names, never raw request input, so
 * cardinality is bounded by the config. Thread-safe.
 */
#ifndef CLOISTER_AGENT_METRICS_H
#define CLOISTER_AGENT_METRICS_H

#include <stdint.h>

struct agent;
struct http_req;

int metrics_init(struct agent *a);
void metrics_free(struct agent *a);
void metrics_http(void *app, const char *route, const char *method, unsigned status,
		  int64_t duration_us);
void metrics_event(struct agent *a, const char *source);
void metrics_action(struct agent *a, const char *name, const char *result);
void metrics_upload(struct agent *a, const char *name, const char *result, uint64_t bytes);
void metrics_command(struct agent *a, const char *binary, const char *result, int64_t duration_ms);
void metrics_handle(struct http_req *req);

#endif
