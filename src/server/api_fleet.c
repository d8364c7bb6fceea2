/*
 * api_fleet.c - the monitor's view for clients:
 *
 *   GET /backends/{id}/statistics?days=N   {"id","days","statistics":[{"timestamp","status",
 *                                           "error"}]}, oldest first (store_backend_history)
 *
 * Authorization is the backends service's: the owner or an admin; anyone else gets the same
 * 404 as for an unknown id (existence is not revealed) and the refusal is audited as
 * authz.denied. days is 1..FLEET_STATS_DAYS_MAX (default 1); anything else is a 422.
 */
#include "server/fleet.h"

#include "json.h"
#include "server/validate.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLEET_STATS_DAYS_DEFAULT 1
#define FLEET_STATS_DAYS_MAX 90
#define NS_PER_DAY (86400LL * 1000000000LL)

void api_backends_statistics(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	const struct principal *p = auth_principal(req);
	if (!p) {
		server_error(req, 401, "missing bearer token");
		return;
	}
	char id[STORE_ID_BUF];
	if (!validate_uuid(http_req_param(req, "id"), id)) {
		server_error(req, 404, "backend not found");
		return;
	}
	char resource[sizeof("/backends/") + STORE_ID_BUF];
	snprintf(resource, sizeof(resource), "/backends/%s", id);
	struct store_backend b;
	int rc = store_backend_get(srv->store, id, &b);
	if (rc < 0) {
		server_store_error(req, rc, "backend");
		return;
	}
	if (p->role != ROLE_ADMIN && strcmp(b.owner, p->user_id) != 0) {
		audit_record(req, "authz.denied", resource, "denied", 404);
		server_error(req, 404, "backend not found");
		return;
	}
	uint64_t days = FLEET_STATS_DAYS_DEFAULT;
	size_t qlen = 0;
	const char *q = http_req_query_n(req, "days", &qlen);
	if (q && (qlen > SERVER_QUERY_VALUE_MAX_BYTES || strlen(q) != qlen ||
		  util_parse_u64(q, FLEET_STATS_DAYS_MAX, &days) < 0 || days < 1)) {
		server_error(req, 422, "days: must be an integer from 1 to %d",
			     FLEET_STATS_DAYS_MAX);
		return;
	}
	struct store_status_point *pts = NULL;
	size_t n = 0;
	rc = store_backend_history(srv->store, id, util_now_ns() - (int64_t)days * NS_PER_DAY, &pts,
				   &n);
	if (rc < 0) {
		server_store_error(req, rc, "status history");
		return;
	}
	json_t *arr = json_array();
	bool ok = arr != NULL;
	for (size_t i = 0; ok && i < n; i++) {
		char t[UTIL_TIME_BUF];
		util_rfc3339(t, pts[i].at);
		json_t *e = json_object();
		ok = e && json_object_set_new(e, "timestamp", json_string(t)) == 0 &&
		     json_object_set_new(e, "status",
					 json_string_lossy(pts[i].status, strlen(pts[i].status))) ==
			     0 &&
		     json_object_set_new(e, "error",
					 json_string_lossy(pts[i].error, strlen(pts[i].error))) ==
			     0;
		if (!ok) {
			json_decref(e);
			break;
		}
		ok = json_array_append_new(arr, e) == 0; /* steals e, also on failure */
	}
	free(pts);
	json_t *o = ok ? json_pack("{s:s,s:I,s:O}", "id", id, "days", (json_int_t)days,
				   "statistics", arr)
		       : NULL;
	json_decref(arr);
	if (!o) {
		server_error(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, 200, o);
}
