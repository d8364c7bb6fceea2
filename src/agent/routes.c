/*
 * routes.c - cloister-agent's routing table: every URL the agent answers, its methods, body
 * handling and limit, in one place (Kore style). The gate (auth.c) runs before routing, so with
 * a secret set even unknown paths answer 401, as in system-api.
 */
#include "agent/agent.h"
#include "agent/attestation.h"
#include "agent/auth.h"
#include "agent/limits.h"
#include "agent/metrics.h"
#include "agent/status.h"
#include "version.h"

#include <string.h>

static void handle_livez(struct http_req *req)
{
	http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void handle_readyz(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	if (!a->ready) {
		http_reply_json(req, 503, json_pack("{s:s}", "status", "starting"));
		return;
	}
	http_reply_json(req, 200,
			json_pack("{s:s,s:s,s:b,s:b,s:I}", "status", "ready", "version",
				  CLOISTER_VERSION, "auth", auth_enabled(a->auth), "tls",
				  a->cfg->tls_enabled, "last_event_seq",
				  (json_int_t)events_last_seq(a->events)));
}

static void handle_not_found(struct http_req *req)
{
	/* system-api (chi) answers unknown paths with a text 404. */
	static const char body[] = "404 page not found\n";
	http_reply(req, 404, "text/plain; charset=utf-8", body, sizeof(body) - 1);
}

#define GP (HTTP_GET | HTTP_POST)

const struct http_route *routes_table(struct agent *a, size_t *n)
{
	static struct http_route t[] = {
		{ HTTP_GET, "/", handle_livez, .name = "/" },
		{ HTTP_GET, "/livez", handle_livez },
		{ HTTP_GET, "/readyz", handle_readyz },
		{ GP, "/api/v1/new_event", events_http_new, HTTP_BODY_BUFFER,
		  AGENT_EVENT_MAX_BYTES_CEILING + 2 },
		{ HTTP_GET, "/api/v1/events", events_http_list },
		{ HTTP_GET, "/logs", events_http_logs },
		{ GP, "/api/v1/actions/{name}", actions_handle, .flags = HTTP_ROUTE_BLOCKING },
		{ HTTP_POST, "/api/v1/file-upload/{name}", uploads_finish, HTTP_BODY_STREAM, 0,
		  .body_begin = uploads_begin, .body_chunk = uploads_chunk,
		  .cleanup = uploads_cleanup },
		{ HTTP_GET, "/health", status_health },
		{ HTTP_GET, "/services", status_services },
		{ HTTP_GET, "/services/{id}/status", status_service_status,
		  .flags = HTTP_ROUTE_BLOCKING },
		{ HTTP_GET, "/services/{id}/logs", status_service_logs,
		  .flags = HTTP_ROUTE_BLOCKING },
		{ HTTP_GET, "/gpu/nvidia-smi", status_nvidia_smi, .flags = HTTP_ROUTE_BLOCKING },
		{ HTTP_GET, "/gpu", status_gpu, .flags = HTTP_ROUTE_BLOCKING },
		{ HTTP_GET, "/overview", status_overview, .flags = HTTP_ROUTE_BLOCKING },
		{ HTTP_GET, "/metrics", metrics_handle, .flags = HTTP_ROUTE_BLOCKING },
		{ HTTP_GET, "/attestation", attestation_handle, .flags = HTTP_ROUTE_BLOCKING },
		{ HTTP_POST, "/api/v1/terminate", terminate_handle, HTTP_BODY_BUFFER,
		  AGENT_TERMINATE_BODY_MAX_BYTES, .flags = HTTP_ROUTE_BLOCKING },
		{ HTTP_POST, "/api/v1/set-basic-auth", auth_handle_set, HTTP_BODY_BUFFER,
		  AGENT_PASSWORD_MAX_BYTES, .flags = HTTP_ROUTE_BLOCKING },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].handler == uploads_finish)
			t[i].body_max = (size_t)a->cfg->upload_max_bytes;
	*n = sizeof(t) / sizeof(t[0]);
	return t;
}

void routes_not_found(struct http_req *req)
{
	handle_not_found(req);
}
