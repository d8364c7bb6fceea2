/*
 * audit.c - cloisterd's audit trail: filling records from a request, recording denied and failed
 * requests on their own, and GET /audit for admins.
 *
 * A successful mutation passes its record (audit_fill) to the store call that makes the change,
 * so the two commit together. Requests that change nothing (denied, invalid, failed) are
 * recorded with audit_record, in their own small transaction; if that write fails the request
 * still gets its answer and the failure is counted (cloisterd_audit_write_failures_total) and
 * logged: auditing must not turn a refusal into a 500.
 *
 * Flood guard: auth.denied records (any client can cause them, one fsync each) are written at
 * most AUDIT_DENIED_PER_SECOND_MAX per second; the rest are counted and logged once per
 * second, so an unauthenticated flood
 * cannot turn the server's polling threads into an fsync queue.
 */
#include "server/server.h"

#include "json.h"
#include "log.h"
#include "prom.h"
#include "server/validate.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_DENIED_PER_SECOND_MAX 100
#define AUDIT_LIST_DEFAULT_LIMIT 50

static pthread_mutex_t flood_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t flood_second;
static unsigned flood_count;
static uint64_t flood_suppressed; /* since the last log line */

static void copy_field(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void audit_fill(struct store_audit *a, struct http_req *req, const char *action,
		const char *resource, const char *result, unsigned status)
{
	memset(a, 0, sizeof(*a));
	a->at = util_now_ns();
	copy_field(a->client, sizeof(a->client), req ? http_req_client_addr(req) : "local");
	/* The raw record, not auth_principal(): a failed login leaves the name it tried there
	 * (role ROLE_NONE), which is what an investigator wants to see. */
	const struct principal *p = req ? http_req_auth(req) : NULL;
	copy_field(a->principal, sizeof(a->principal), p ? p->username : "");
	copy_field(a->action, sizeof(a->action), action);
	copy_field(a->resource, sizeof(a->resource), resource);
	copy_field(a->result, sizeof(a->result), result);
	a->status = status;
}

/* True when this auth.denied record may be written now. */
static bool flood_admit(void)
{
	int64_t sec = util_mono_ms() / 1000;
	uint64_t report = 0;
	pthread_mutex_lock(&flood_mu);
	if (sec != flood_second) {
		report = flood_suppressed;
		flood_suppressed = 0;
		flood_second = sec;
		flood_count = 0;
	}
	bool ok = flood_count < AUDIT_DENIED_PER_SECOND_MAX;
	if (ok)
		flood_count++;
	else
		flood_suppressed++;
	pthread_mutex_unlock(&flood_mu);
	if (report) {
		char n[24];
		snprintf(n, sizeof(n), "%llu", (unsigned long long)report);
		log_kv(CLOG_WARN, "audit: auth.denied records suppressed (flood)", "count", n,
		       NULL);
	}
	return ok;
}

void audit_record(struct http_req *req, const char *action, const char *resource,
		  const char *result, unsigned status)
{
	struct server *srv = http_req_app(req);
	if (strcmp(action, "auth.denied") == 0 && !flood_admit())
		return;
	struct store_audit a;
	audit_fill(&a, req, action, resource, result, status);
	int rc = srv && srv->store ? store_audit_add(srv->store, &a) : -EIO;
	if (rc < 0) {
		if (srv && srv->m_audit_fail)
			prom_inc(srv->m_audit_fail, NULL, 1);
		log_kv(CLOG_ERROR, "audit write failed", "action", action, "result", result,
		       "detail", store_last_error(), NULL);
	}
}

static json_t *entry_json(const struct store_audit *e)
{
	char t[UTIL_TIME_BUF];
	util_rfc3339_nano(t, e->at);
	/* Resources and client strings come from requests: never let a stray byte break the
	 * reply. */
	return json_pack("{s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:I}", "id", (json_int_t)e->id, "time", t,
			 "client", json_string_lossy(e->client, strlen(e->client)), "principal",
			 json_string_lossy(e->principal, strlen(e->principal)), "action",
			 json_string_lossy(e->action, strlen(e->action)), "resource",
			 json_string_lossy(e->resource, strlen(e->resource)), "result",
			 json_string_lossy(e->result, strlen(e->result)), "status",
			 (json_int_t)e->status);
}

/* A query value within SERVER_QUERY_VALUE_MAX_BYTES and without NUL, or a 422 (returns
 * false). *out is NULL when the key is absent. */
static bool query_value(struct http_req *req, const char *key, const char **out)
{
	size_t len = 0;
	const char *v = http_req_query_n(req, key, &len);
	*out = v;
	if (!v)
		return true;
	if (len > SERVER_QUERY_VALUE_MAX_BYTES || strlen(v) != len) {
		server_error(req, 422, "%s: at most %d bytes, no NUL", key,
			     SERVER_QUERY_VALUE_MAX_BYTES);
		return false;
	}
	return true;
}

void api_audit_list(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	if (!auth_require_admin(req))
		return;
	const char *limit_s, *before_s;
	if (!query_value(req, "limit", &limit_s) || !query_value(req, "before", &before_s))
		return;
	struct list_query q;
	char err[160] = "";
	if (validate_list_query(limit_s, NULL, AUDIT_LIST_DEFAULT_LIMIT, &q, err, sizeof(err)) !=
	    VALID_OK) {
		server_error(req, 422, "%s", err);
		return;
	}
	uint64_t before = 0;
	if (before_s && util_parse_u64(before_s, INT64_MAX, &before) < 0) {
		server_error(req, 422, "before: must be an audit entry id (0..%lld)",
			     (long long)INT64_MAX);
		return;
	}
	struct store_audit *rows = NULL;
	size_t n = 0;
	int rc = store_audit_list(srv->store, q.limit, (int64_t)before, &rows, &n);
	if (rc < 0) {
		server_store_error(req, rc, "audit log");
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, entry_json(&rows[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	/* A full page may have a next one; its cursor is the oldest id shown. */
	json_t *next =
		n == q.limit && n > 0 ? json_integer((json_int_t)rows[n - 1].id) : json_null();
	free(rows);
	if (!arr) {
		json_decref(next);
		server_error(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, 200,
			json_pack("{s:I,s:o,s:o}", "limit", (json_int_t)q.limit, "entries", arr,
				  "next_before", next));
}

const char *audit_result_for(unsigned status)
{
	switch (status) {
	case 400:
	case 413:
	case 415:
	case 422:
		return "invalid";
	case 401:
	case 403:
	case 405:
		return "denied";
	case 404:
		return "not_found";
	case 409:
	case 410:
		return "conflict";
	default:
		return "failed";
	}
}
