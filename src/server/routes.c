/*
 * routes.c - cloisterd's routing table (every URL, its methods, body handling and limit, in one
 * place), the paths that need no token, the not-found reply, the request metrics, GET /health
 * and GET /metrics.
 *
 * Routes that write to the store (an fsync per commit) or hash passwords are HTTP_ROUTE_BLOCKING:
 * they run on worker threads, so a busy disk or an argon2id computation never holds one of the
 * few polling threads. Plain reads (GET of backends, users, information files) run in place: in
 * WAL mode a read never waits for the writer, and the worker hop cost more than the read
 * (measured with bench/control_plane). The gate's own user lookup is such a read too. Bodies are bounded per route (SERVER_JSON_BODY_MAX_BYTES, the backend-information
 * file SERVER_INFO_BODY_MAX_BYTES): the HTTP layer answers 413 past them before a handler runs.
 *
 * Metrics are labelled by route pattern, never by raw path, and by one of the known methods, so
 * their series stay bounded whatever clients send. The backends-by-status gauge is recomputed
 * from the store at each scrape (under a mutex, so two scrapes never see a half-filled gauge).
 */
#include "server/server.h"

#include "server/ca.h"
#include "server/fleet.h"
#include "server/proxy.h"

#include "log.h"
#include "prom.h"
#include "server/settings.h"
#include "util.h"
#include "version.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every status a backend can have: each is exported (0 when none), so a dashboard sees a
 * status disappear rather than a series vanish. */
static const char *const backend_statuses[] = {
	"unverified",         "online",     "degraded",   "offline", "attested",
	"attestation_failed", "terminated", "unattested",
};

static const double latency_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1,    0.25,  0.5,    1,     2.5,  5,     10 };

static pthread_mutex_t scrape_mu = PTHREAD_MUTEX_INITIALIZER;

bool routes_is_public(const char *path)
{
	static const char *const public_paths[] = {
		"/health",    "/metrics",       "/users/tokens/issue", "/users/tokens/refresh",
		"/certs/crl", "/certs/view-ca",
	};
	/* By path, whatever the method: a wrong method then gets the router's 405, not a 401. */
	for (size_t i = 0; i < ARRAY_SIZE(public_paths); i++)
		if (strcmp(path, public_paths[i]) == 0)
			return true;
	/* GET /certs/{serial}/download: the single-use download token is the credential. */
	static const char dl_prefix[] = "/certs/", dl_suffix[] = "/download";
	size_t n = strlen(path), pre = sizeof(dl_prefix) - 1, suf = sizeof(dl_suffix) - 1;
	if (n > pre + suf && strncmp(path, dl_prefix, pre) == 0 &&
	    strcmp(path + n - suf, dl_suffix) == 0 && !memchr(path + pre, '/', n - pre - suf))
		return true;
	return false;
}

static void handle_health(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	http_reply_json(req, 200,
			json_pack("{s:s,s:s,s:s,s:i}", "status", "ok", "version", CLOISTER_VERSION,
				  "store", store_kind(srv->store), "schema",
				  store_schema_version(srv->store)));
}

static void set_backend_count(void *ud, const char *status, uint64_t n)
{
	struct server *srv = ud;
	const char *v[] = { status };
	prom_set(srv->m_backends, v, (double)n);
}

static void handle_metrics(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	pthread_mutex_lock(&scrape_mu);
	prom_clear(srv->m_backends);
	for (size_t i = 0; i < ARRAY_SIZE(backend_statuses); i++) {
		const char *v[] = { backend_statuses[i] };
		prom_set(srv->m_backends, v, 0);
	}
	int rc = store_backend_count_by_status(srv->store, set_backend_count, srv);
	if (rc < 0) {
		/* Better no gauge than a wrong one: a scrape without it shows the gap. */
		prom_clear(srv->m_backends);
		log_kv(CLOG_WARN, "metrics: cannot count backends", "detail", store_last_error(),
		       NULL);
	}
	size_t len = 0;
	char *txt = prom_render(srv->prom, &len);
	pthread_mutex_unlock(&scrape_mu);
	if (!txt) {
		server_error(req, 500, "out of memory");
		return;
	}
	http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", txt, len);
	free(txt);
}

void routes_not_found(struct http_req *req)
{
	server_error(req, 404, "not found");
}

static const char *method_label(const char *m)
{
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH" };
	for (size_t i = 0; m && i < ARRAY_SIZE(known); i++)
		if (strcmp(m, known[i]) == 0)
			return known[i];
	return "other";
}

void routes_on_complete(void *app, const char *route, const char *method, unsigned status,
			int64_t duration_us)
{
	struct server *srv = app;
	if (!srv || !srv->m_requests)
		return;
	char code[8];
	snprintf(code, sizeof(code), "%u", status);
	const char *r = route && *route ? route : "unmatched";
	const char *v[] = { r, method_label(method), code };
	prom_inc(srv->m_requests, v, 1);
	const char *rv[] = { r };
	prom_observe(srv->m_latency, rv, (double)duration_us / 1e6);
}

int routes_metrics_init(struct server *srv)
{
	srv->prom = prom_new();
	if (!srv->prom)
		return -ENOMEM;
	struct prom *r = srv->prom;
	const char *route_l[] = { "route", "method", "code", NULL };
	const char *route_only[] = { "route", NULL };
	const char *status_l[] = { "status", NULL };
	const char *result_l[] = { "result", NULL };
	const char *ver_l[] = { "version", NULL };
	srv->m_requests = prom_family(r, PROM_COUNTER, "cloisterd_http_requests_total",
				      "HTTP requests by route pattern, method and status code.",
				      route_l, NULL, 0);
	srv->m_latency = prom_family(r, PROM_HISTOGRAM, "cloisterd_http_request_duration_seconds",
				     "HTTP request latency by route pattern.", route_only,
				     latency_buckets, ARRAY_SIZE(latency_buckets));
	srv->m_backends = prom_family(r, PROM_GAUGE, "cloisterd_backends",
				      "Registered backends by status.", status_l, NULL, 0);
	srv->m_logins = prom_family(r, PROM_COUNTER, "cloisterd_logins_total",
				    "Login attempts by result (ok, failed, throttled, disabled).",
				    result_l, NULL, 0);
	srv->m_audit_fail = prom_family(
		r, PROM_COUNTER, "cloisterd_audit_write_failures_total",
		"Audit records of refused or failed requests that could not be written.", NULL,
		NULL, 0);
	struct prom_family *build =
		prom_family(r, PROM_GAUGE, "cloisterd_build_info",
			    "Build information; the value is always 1.", ver_l, NULL, 0);
	struct prom_family *start = prom_family(
		r, PROM_GAUGE, "process_start_time_seconds",
		"Start time of the process since unix epoch in seconds.", NULL, NULL, 0);
	if (!srv->m_requests || !srv->m_latency || !srv->m_backends || !srv->m_logins ||
	    !srv->m_audit_fail || !build || !start)
		return -ENOMEM;
	const char *ver[] = { CLOISTER_VERSION };
	prom_set(build, ver, 1);
	prom_set(start, NULL, (double)srv->started_ns / 1e9);
	prom_inc(srv->m_audit_fail, NULL, 0);
	return 0;
}

#define J SERVER_JSON_BODY_MAX_BYTES
#define B HTTP_ROUTE_BLOCKING

const struct http_route *routes_table(struct server *srv, size_t *n)
{
	(void)srv;
	static const struct http_route t[] = {
		{ HTTP_GET, "/health", handle_health },
		{ HTTP_GET, "/metrics", handle_metrics, .flags = B },
		{ HTTP_POST, "/users/tokens/issue", api_tokens_issue, HTTP_BODY_BUFFER, J, B },
		/* The refresh token travels as the Bearer; a body is allowed and ignored. */
		{ HTTP_POST, "/users/tokens/refresh", api_tokens_refresh, HTTP_BODY_NONE, J, B },
		{ HTTP_POST, "/users", api_users_create, HTTP_BODY_BUFFER, J, B },
		{ HTTP_GET, "/users", api_users_list },
		{ HTTP_GET, "/users/{id}", api_users_get },
		{ HTTP_PATCH, "/users/{id}", api_users_update, HTTP_BODY_BUFFER, J, B },
		{ HTTP_DELETE, "/users/{id}", api_users_delete, .flags = B },
		{ HTTP_POST, "/backends", api_backends_create, HTTP_BODY_BUFFER, J, B },
		{ HTTP_GET, "/backends", api_backends_list },
		{ HTTP_GET, "/backends/terminate/{id}/{type}", api_backends_terminate_get,
		  .flags = B },
		{ HTTP_POST, "/backends/{id}/terminate", api_backends_terminate_post,
		  HTTP_BODY_BUFFER, J, B },
		{ HTTP_GET, "/backends/{id}/statistics", api_backends_statistics },
		/* The proxy to the backend's agent (proxy.c). Uploads keep body_max 0: the proxy
		 * enforces its own limit so that refusals are audited. */
		{ HTTP_GET, "/backends/{id}/events", api_proxy_events, .flags = B },
		{ HTTP_GET | HTTP_POST, "/backends/{id}/actions/{name}", api_proxy_action,
		  .flags = B },
		{ HTTP_POST, "/backends/{id}/uploads/{name}", api_proxy_upload, HTTP_BODY_STREAM, 0,
		  B, .body_begin = api_proxy_upload_begin, .body_chunk = api_proxy_upload_chunk,
		  .cleanup = api_proxy_upload_cleanup },
		{ HTTP_GET, "/backends/{id}/services", api_proxy_services, .flags = B },
		{ HTTP_GET, "/backends/{id}/services/{sid}/status", api_proxy_service_status,
		  .flags = B },
		{ HTTP_GET, "/backends/{id}/services/{sid}/logs", api_proxy_service_logs,
		  .flags = B },
		{ HTTP_GET, "/backends/{id}/gpu", api_proxy_gpu, .flags = B },
		{ HTTP_GET, "/backends/{id}/overview", api_proxy_overview, .flags = B },
		{ HTTP_GET, "/backends/{id}/attestation", api_proxy_attestation, .flags = B },
		{ HTTP_GET, "/backends/{id}/info", api_backends_info_get },
		{ HTTP_PUT, "/backends/{id}/info", api_backends_info_put, HTTP_BODY_BUFFER,
		  SERVER_INFO_BODY_MAX_BYTES, B },
		{ HTTP_GET, "/backends/{id}", api_backends_get },
		{ HTTP_PUT, "/backends/{id}", api_backends_update, HTTP_BODY_BUFFER, J, B },
		{ HTTP_DELETE, "/backends/{id}", api_backends_delete, .flags = B },
		{ HTTP_GET, "/audit", api_audit_list, .flags = B },
		/* The CA (ca.c, api_certs.c): /certs/crl and /certs/view-ca before /certs/{serial}. */
		{ HTTP_POST, "/certs/issue/backend/{id}", api_certs_issue, HTTP_BODY_BUFFER, J, B },
		{ HTTP_GET, "/certs/crl", api_certs_crl, .flags = B },
		{ HTTP_GET, "/certs/view-ca", api_certs_view_ca },
		{ HTTP_GET, "/certs", api_certs_list },
		{ HTTP_GET, "/certs/{serial}/download/token", api_certs_download_token,
		  .flags = B },
		{ HTTP_GET, "/certs/{serial}/download", api_certs_download, .flags = B },
		{ HTTP_PATCH, "/certs/{serial}/renew", api_certs_renew, HTTP_BODY_NONE, J, B },
		{ HTTP_PATCH, "/certs/{serial}/revoke", api_certs_revoke, HTTP_BODY_NONE, J, B },
		{ HTTP_GET, "/certs/{serial}", api_certs_get },
	};
	*n = ARRAY_SIZE(t);
	return t;
}
