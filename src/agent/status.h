/*
 * status.h - route handlers of the system status API (status.c) and the GPU report that
 * metrics.c also uses.
 */
#ifndef CLOISTER_AGENT_STATUS_H
#define CLOISTER_AGENT_STATUS_H

#include <jansson.h>

struct agent;
struct http_req;
struct nvsmi_report;

void status_health(struct http_req *req);
void status_services(struct http_req *req);
void status_service_status(struct http_req *req);
void status_service_logs(struct http_req *req);
void status_nvidia_smi(struct http_req *req);
void status_gpu(struct http_req *req);
void status_overview(struct http_req *req);
/* Runs (or reuses, within the cache TTL) nvidia-smi -q -x and parses it. Returns 0 with rep
 * filled (caller calls nvsmi_report_done), or <0 with the sek8s error detail and HTTP status. */
int status_gpu_report(struct agent *a, struct nvsmi_report *rep, json_t **detail, unsigned *status);
/* Calls use(rep, ud) with the parsed report, refreshed when older than cache_ttl_ms (failures
 * are not kept). rep is borrowed for the call only. Returns 0, or <0 with the error detail and
 * HTTP status (use not called). */
int status_gpu_use(struct agent *a, void (*use)(const struct nvsmi_report *rep, void *ud), void *ud,
		   json_t **detail, unsigned *status);
/* Frees the kept report (agent shutdown). */
void status_gpu_done(struct agent *a);

#endif
