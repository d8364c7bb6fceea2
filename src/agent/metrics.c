/*
 * metrics.c - the agent's metric families and the GET /metrics handler (see metrics.h).
 */
#include "agent/metrics.h"

#include "agent/agent.h"
#include "agent/status.h"
#include "nvsmi.h"
#include "prom.h"
#include "version.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

struct metrics {
	struct prom *reg;
	struct prom_family *http_requests, *http_duration;
	struct prom_family *events, *events_stored, *events_last_seq;
	struct prom_family *actions, *uploads, *upload_bytes;
	struct prom_family *commands, *command_duration;
	struct prom_family *gpu_up, *gpu_temp, *gpu_util, *gpu_mem_used, *gpu_mem_total, *gpu_power,
		*gpu_power_limit, *gpu_ecc;
	struct prom_family *rss, *cpu, *fds, *start, *build;
	double start_time;
};

static const double latency_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1,    0.25,  0.5,    1,     2.5,  5,     10 };

int metrics_init(struct agent *a)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m || !(m->reg = prom_new())) {
		free(m);
		return -ENOMEM;
	}
	struct prom *r = m->reg;
	const char *route_l[] = { "route", "method", "code", NULL };
	const char *route_only[] = { "route", NULL };
	const char *source_l[] = { "source", NULL };
	const char *name_result[] = { "name", "result", NULL };
	const char *name_l[] = { "name", NULL };
	const char *bin_result[] = { "binary", "result", NULL };
	const char *bin_l[] = { "binary", NULL };
	const char *gpu_l[] = { "gpu", "uuid", "name", NULL };
	const char *ecc_l[] = { "gpu", "uuid", "kind", NULL };
	const char *ver_l[] = { "version", NULL };
	m->http_requests = prom_family(r, PROM_COUNTER, "cloister_http_requests_total",
				       "HTTP requests by route pattern, method and status code.",
				       route_l, NULL, 0);
	m->http_duration = prom_family(r, PROM_HISTOGRAM, "cloister_http_request_duration_seconds",
				       "HTTP request latency by route pattern.", route_only,
				       latency_buckets, sizeof(latency_buckets) / sizeof(double));
	m->events = prom_family(r, PROM_COUNTER, "cloister_events_total",
				"Events recorded, by source (pipe, http, internal).", source_l,
				NULL, 0);
	m->events_stored = prom_family(r, PROM_GAUGE, "cloister_events_stored",
				       "Events currently kept in the event log.", NULL, NULL, 0);
	m->events_last_seq = prom_family(r, PROM_GAUGE, "cloister_events_last_seq",
					 "Sequence number of the newest event.", NULL, NULL, 0);
	m->actions = prom_family(r, PROM_COUNTER, "cloister_actions_total",
				 "Action runs by action name and result.", name_result, NULL, 0);
	m->uploads =
		prom_family(r, PROM_COUNTER, "cloister_uploads_total",
			    "File uploads by destination name and result.", name_result, NULL, 0);
	m->upload_bytes = prom_family(r, PROM_COUNTER, "cloister_upload_bytes_total",
				      "Bytes written by successful uploads.", name_l, NULL, 0);
	m->commands =
		prom_family(r, PROM_COUNTER, "cloister_commands_total",
			    "Status command runs (systemctl, journalctl, nvidia-smi) by result.",
			    bin_result, NULL, 0);
	m->command_duration = prom_family(r, PROM_HISTOGRAM, "cloister_command_duration_seconds",
					  "Status command run time.", bin_l, latency_buckets,
					  sizeof(latency_buckets) / sizeof(double));
	m->gpu_up = prom_family(r, PROM_GAUGE, "cloister_gpu_up",
				"1 when nvidia-smi answered and parsed at the last scrape.", NULL,
				NULL, 0);
	m->gpu_temp = prom_family(r, PROM_GAUGE, "cloister_gpu_temperature_celsius",
				  "GPU core temperature.", gpu_l, NULL, 0);
	m->gpu_util = prom_family(r, PROM_GAUGE, "cloister_gpu_utilization_ratio",
				  "GPU utilization (0-1).", gpu_l, NULL, 0);
	m->gpu_mem_used = prom_family(r, PROM_GAUGE, "cloister_gpu_memory_used_bytes",
				      "GPU framebuffer memory in use.", gpu_l, NULL, 0);
	m->gpu_mem_total = prom_family(r, PROM_GAUGE, "cloister_gpu_memory_total_bytes",
				       "GPU framebuffer memory size.", gpu_l, NULL, 0);
	m->gpu_power = prom_family(r, PROM_GAUGE, "cloister_gpu_power_draw_watts",
				   "GPU power draw.", gpu_l, NULL, 0);
	m->gpu_power_limit = prom_family(r, PROM_GAUGE, "cloister_gpu_power_limit_watts",
					 "GPU power limit.", gpu_l, NULL, 0);
	m->gpu_ecc =
		prom_family(r, PROM_GAUGE, "cloister_gpu_ecc_errors",
			    "GPU ECC error counts (volatile and aggregate, corrected and not).",
			    ecc_l, NULL, 0);
	m->rss = prom_family(r, PROM_GAUGE, "process_resident_memory_bytes",
			     "Resident memory size in bytes.", NULL, NULL, 0);
	m->cpu = prom_family(r, PROM_COUNTER, "process_cpu_seconds_total",
			     "Total user and system CPU time spent in seconds.", NULL, NULL, 0);
	m->fds = prom_family(r, PROM_GAUGE, "process_open_fds", "Number of open file descriptors.",
			     NULL, NULL, 0);
	m->start = prom_family(r, PROM_GAUGE, "process_start_time_seconds",
			       "Start time of the process since unix epoch in seconds.", NULL, NULL,
			       0);
	m->build = prom_family(r, PROM_GAUGE, "cloister_build_info",
			       "Build information; the value is always 1.", ver_l, NULL, 0);
	m->start_time = (double)time(NULL);
	const char *ver[] = { CLOISTER_VERSION };
	prom_set(m->build, ver, 1);
	prom_set(m->start, NULL, m->start_time);
	a->metrics = m;
	return 0;
}

void metrics_free(struct agent *a)
{
	if (!a->metrics)
		return;
	prom_free(a->metrics->reg);
	free(a->metrics);
	a->metrics = NULL;
}

void metrics_http(void *app, const char *route, const char *method, unsigned status,
		  int64_t duration_us)
{
	struct agent *a = app;
	if (!a || !a->metrics)
		return;
	char code[8];
	snprintf(code, sizeof(code), "%u", status);
	/* An unmatched path is labelled "unmatched", never with the raw path. */
	const char *r = route && *route ? route : "unmatched";
	const char *v[] = { r, method, code };
	prom_inc(a->metrics->http_requests, v, 1);
	const char *rv[] = { r };
	prom_observe(a->metrics->http_duration, rv, (double)duration_us / 1e6);
}

void metrics_event(struct agent *a, const char *source)
{
	if (a->metrics) {
		const char *v[] = { source };
		prom_inc(a->metrics->events, v, 1);
	}
}

void metrics_action(struct agent *a, const char *name, const char *result)
{
	if (a->metrics) {
		const char *v[] = { name, result };
		prom_inc(a->metrics->actions, v, 1);
	}
}

void metrics_upload(struct agent *a, const char *name, const char *result, uint64_t bytes)
{
	if (!a->metrics)
		return;
	const char *v[] = { name, result };
	prom_inc(a->metrics->uploads, v, 1);
	if (bytes) {
		const char *n[] = { name };
		prom_inc(a->metrics->upload_bytes, n, (double)bytes);
	}
}

void metrics_command(struct agent *a, const char *binary, const char *result, int64_t duration_ms)
{
	if (!a->metrics)
		return;
	const char *v[] = { binary, result };
	prom_inc(a->metrics->commands, v, 1);
	const char *b[] = { binary };
	prom_observe(a->metrics->command_duration, b, (double)duration_ms / 1000.0);
}

/* RSS and CPU from /proc/self/stat; open fds by counting /proc/self/fd. */
static void process_metrics(struct metrics *m)
{
	FILE *f = fopen("/proc/self/stat", "re");
	if (f) {
		char buf[1024];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		/* Fields after the command name, which is in parentheses and may hold spaces. */
		const char *p = strrchr(buf, ')');
		unsigned long utime = 0, stime = 0;
		long rss = 0;
		if (p &&
		    sscanf(p + 2,
			   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
			   "%*d %*d %*u %*u %ld",
			   &utime, &stime, &rss) == 3) {
			long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
			prom_set(m->cpu, NULL, (double)(utime + stime) / (double)tick);
			prom_set(m->rss, NULL, (double)rss * (double)page);
		}
	}
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		long count = 0;
		while (readdir(d))
			count++;
		closedir(d);
		prom_set(m->fds, NULL, (double)(count - 3)); /* ".", ".." and the DIR's own fd */
	}
}

static void set_gpu_gauges(const struct nvsmi_report *rep, void *ud)
{
	struct metrics *m = ud;
	for (size_t i = 0; i < rep->ngpus; i++) {
		const struct nvsmi_gpu *g = &rep->gpus[i];
		char idx[16];
		snprintf(idx, sizeof(idx), "%d", g->index);
		const char *l[] = { idx, g->uuid ? g->uuid : "", g->name ? g->name : "" };
		if (g->temperature_c >= 0)
			prom_set(m->gpu_temp, l, (double)g->temperature_c);
		if (g->utilization_gpu_pct >= 0)
			prom_set(m->gpu_util, l, (double)g->utilization_gpu_pct / 100.0);
		if (g->memory_used_mib >= 0)
			prom_set(m->gpu_mem_used, l, (double)g->memory_used_mib * 1048576.0);
		if (g->memory_total_mib >= 0)
			prom_set(m->gpu_mem_total, l, (double)g->memory_total_mib * 1048576.0);
		if (g->power_draw_w == g->power_draw_w) /* not NaN */
			prom_set(m->gpu_power, l, g->power_draw_w);
		if (g->power_limit_w == g->power_limit_w)
			prom_set(m->gpu_power_limit, l, g->power_limit_w);
		struct {
			const char *kind;
			int64_t v;
		} ecc[] = { { "volatile_corrected", g->ecc_volatile_corrected },
			    { "volatile_uncorrected", g->ecc_volatile_uncorrected },
			    { "aggregate_corrected", g->ecc_aggregate_corrected },
			    { "aggregate_uncorrected", g->ecc_aggregate_uncorrected } };
		for (size_t k = 0; k < 4; k++) {
			if (ecc[k].v < 0)
				continue;
			const char *el[] = { idx, g->uuid ? g->uuid : "", ecc[k].kind };
			prom_set(m->gpu_ecc, el, (double)ecc[k].v);
		}
	}
}

static void gpu_metrics(struct agent *a, struct metrics *m)
{
	struct prom_family *fams[] = { m->gpu_temp,      m->gpu_util,  m->gpu_mem_used,
				       m->gpu_mem_total, m->gpu_power, m->gpu_power_limit,
				       m->gpu_ecc };
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
		prom_clear(fams[i]);
	json_t *detail = NULL;
	unsigned status;
	if (status_gpu_use(a, set_gpu_gauges, m, &detail, &status) < 0) {
		json_decref(detail);
		prom_set(m->gpu_up, NULL, 0);
		return;
	}
	prom_set(m->gpu_up, NULL, 1);
}

void metrics_handle(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	struct metrics *m = a->metrics;
	prom_set(m->events_stored, NULL, (double)events_count(a->events));
	prom_set(m->events_last_seq, NULL, (double)events_last_seq(a->events));
	process_metrics(m);
	if (a->cfg->gpu)
		gpu_metrics(a, m);
	size_t len = 0;
	char *txt = prom_render(m->reg, &len);
	if (!txt) {
		http_reply_error(req, 500, "out of memory");
		return;
	}
	http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", txt, len);
	free(txt);
}
