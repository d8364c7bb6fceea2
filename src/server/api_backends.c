/*
 * api_backends.c - the backends service of cloisterd: Ultraviolet Prism's routes, byte for byte
 * where Prism's documentation shows a reply, plus the POST twin of its GET termination.
 *
 *   POST   /backends                         201, Location, empty body
 *   PUT    /backends/{id}                    200, empty body
 *   GET    /backends?name&status&limit&offset {"total","limit","offset","backends":[...]}
 *   GET    /backends/{id}                    the backend object
 *   DELETE /backends/{id}                    204
 *   GET    /backends/terminate/{id}/{type}   204 (Prism; off with allow_get_side_effects=false)
 *   POST   /backends/{id}/terminate          204 ({"type":0|1,"reason"?})
 *   GET    /backends/{id}/info               the stored backend-information file (download)
 *   PUT    /backends/{id}/info               stores a valid attestation policy, 200 + object
 *
 * Every handler follows the same order, so the status a client sees does not depend on what it
 * is not allowed to know: media type (415), then the id (404; another owner's backend is also a
 * 404, audited as authz.denied, so existence is never revealed), then the body (400/422), then
 * the store call, which carries the audit record of a success in its own transaction. A refused
 * mutation is audited on its own (invalid, not_found, conflict, denied, failed) and changes
 * nothing. Bodies and query values are parsed by validate.c only.
 *
 * The monitor (fleet.h) hears of every change: a create, an update or a new policy makes the
 * backend due now (a new policy also clears the pinned key, so the next poll re-attests), a
 * delete drops its state, and termination goes through fleet_terminate_audited, which tells
 * the agent before the status changes.
 */
#include "server/server.h"

#include "attest/policy.h"
#include "json.h"
#include "server/fleet.h"
#include "server/settings.h"
#include "server/validate.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD_ID_EXCERPT_BYTES 64 /* how much of a malformed path id an audit entry keeps */
#define RESOURCE_BUF (sizeof("/backends/") + BAD_ID_EXCERPT_BYTES)
#define VALID_ERR_BYTES 256

static const char *const backend_statuses[] = {
	"unverified",         "online",     "degraded",   "offline", "attested",
	"attestation_failed", "terminated", "unattested",
};

static void store_failed(struct http_req *req, const char *action, const char *resource, int err)
{
	if (action)
		audit_record(req, action, resource, audit_result_for(server_store_status(err)),
			     server_store_status(err));
	server_store_error(req, err, "backend");
}

/* "/backends/<id>"; a malformed id is kept as a short lossy excerpt (it is client text). */
static void resource_of(char *out, size_t cap, const char *id)
{
	char ex[BAD_ID_EXCERPT_BYTES + 1];
	json_utf8_lossy(id ? id : "", id ? strlen(id) : 0, ex, sizeof(ex));
	snprintf(out, cap, "/backends/%s", ex);
}

static const struct principal *principal_or_401(struct http_req *req)
{
	const struct principal *p = auth_principal(req);
	if (!p) /* the gate lets no one through without one; never trust that blindly */
		server_error(req, 401, "missing bearer token");
	return p;
}

/*
 * Loads the backend named by the {id} parameter for principal p: false after replying 404 when
 * the id is malformed, unknown, or another user's (audited as authz.denied). action != NULL
 * marks a mutation, whose refusals are audited too. resource gets "/backends/<id>".
 */
static bool load_backend(struct http_req *req, const struct principal *p, const char *action,
			 struct store_backend *b, char resource[RESOURCE_BUF])
{
	struct server *srv = http_req_app(req);
	const char *raw = http_req_param(req, "id");
	char id[STORE_ID_BUF];
	resource_of(resource, RESOURCE_BUF, raw);
	if (!validate_uuid(raw, id)) {
		server_refuse(req, action, resource, 404, "backend not found");
		return false;
	}
	snprintf(resource, RESOURCE_BUF, "/backends/%s", id);
	int rc = store_backend_get(srv->store, id, b);
	if (rc == -ENOENT) {
		server_refuse(req, action, resource, 404, "backend not found");
		return false;
	}
	if (rc < 0) {
		store_failed(req, action, resource, rc);
		return false;
	}
	if (p->role != ROLE_ADMIN && strcmp(b->owner, p->user_id) != 0) {
		audit_record(req, "authz.denied", resource, "denied", 404);
		server_error(req, 404, "backend not found");
		return false;
	}
	return true;
}

/* Adds key: string from the store; lossy because a NULL value would silently drop the key. */
static int set_str(json_t *o, const char *key, const char *s)
{
	json_t *v = json_string_lossy(s, strlen(s));
	return v ? json_object_set_new(o, key, v) : -1;
}

static int set_time(json_t *o, const char *key, int64_t ns)
{
	char t[UTIL_TIME_BUF];
	util_rfc3339(t, ns);
	return set_str(o, key, t);
}

/* The backend object: Prism's four keys first, in Prism's order, then ours. NULL on ENOMEM. */
static json_t *backend_json(const struct store_backend *b)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int rc = set_str(o, "id", b->id) | set_str(o, "name", b->name) |
		 set_str(o, "description", b->description) | set_str(o, "address", b->address) |
		 set_str(o, "status", b->status) | set_str(o, "owner", b->owner) |
		 json_object_set_new(o, "has_info", json_boolean(b->has_info)) |
		 set_time(o, "created_at", b->created_at) |
		 set_time(o, "updated_at", b->updated_at);
	if (b->last_seen)
		rc |= set_time(o, "last_seen", b->last_seen);
	if (b->last_error[0])
		rc |= set_str(o, "last_error", b->last_error);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void reply_backend(struct http_req *req, unsigned status, const struct store_backend *b,
			  const char *problems)
{
	json_t *o = backend_json(b);
	if (o && problems && problems[0] && set_str(o, "info_problems", problems) != 0) {
		json_decref(o);
		o = NULL;
	}
	if (!o) {
		server_error(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, status, o);
}

/* Prism replies to its mutations with this header and no body (Content-Length: 0). */
static void reply_empty(struct http_req *req, unsigned status)
{
	http_reply(req, status, "application/json", "", 0);
}

/* Validates the buffered body of a backend create/update; false after replying. */
static bool read_backend_body(struct http_req *req, const char *action, const char *resource,
			      struct backend_input *in)
{
	size_t len = 0;
	const char *body = http_req_body(req, &len);
	if (len > SERVER_JSON_BODY_MAX_BYTES) {
		server_refuse(req, action, resource, 413, "body larger than %u bytes",
			      SERVER_JSON_BODY_MAX_BYTES);
		return false;
	}
	char err[VALID_ERR_BYTES];
	int rc = validate_backend_body(body, len, in, err, sizeof(err));
	if (rc != VALID_OK) {
		server_refuse(req, action, resource, rc == VALID_MALFORMED ? 400 : 422, "%s", err);
		return false;
	}
	return true;
}

void api_backends_create(struct http_req *req)
{
	static const char action[] = "backends.create";
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	if (!p)
		return;
	if (!server_require_json(req)) {
		audit_record(req, action, "/backends", "invalid", 415);
		return;
	}
	struct backend_input in;
	if (!read_backend_body(req, action, "/backends", &in))
		return;
	struct store_backend b;
	memset(&b, 0, sizeof(b));
	if (server_uuid4(b.id) < 0) {
		server_refuse(req, action, "/backends", 500, "cannot generate an id");
		return;
	}
	memcpy(b.owner, p->user_id, sizeof(b.owner));
	memcpy(b.name, in.name, sizeof(b.name));
	memcpy(b.description, in.description, sizeof(b.description));
	memcpy(b.address, in.address, sizeof(b.address));
	snprintf(b.status, sizeof(b.status), "unverified");
	b.created_at = b.updated_at = util_now_ns();
	char resource[RESOURCE_BUF];
	snprintf(resource, sizeof(resource), "/backends/%s", b.id);
	struct store_audit a;
	audit_fill(&a, req, action, resource, "ok", 201);
	int rc = store_backend_create(srv->store, &b, &a);
	if (rc == -EEXIST) {
		server_refuse(req, action, "/backends", 409,
			      "name: you already have a backend named so");
		return;
	}
	if (rc < 0) {
		store_failed(req, action, "/backends", rc);
		return;
	}
	fleet_kick(srv, b.id);
	http_reply_header(req, "Location", resource);
	reply_empty(req, 201);
}

void api_backends_update(struct http_req *req)
{
	static const char action[] = "backends.update";
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	if (!p)
		return;
	char resource[RESOURCE_BUF];
	if (!server_require_json(req)) {
		resource_of(resource, sizeof(resource), http_req_param(req, "id"));
		audit_record(req, action, resource, "invalid", 415);
		return;
	}
	struct store_backend b;
	struct backend_input in;
	if (!load_backend(req, p, action, &b, resource) ||
	    !read_backend_body(req, action, resource, &in))
		return;
	memcpy(b.name, in.name, sizeof(b.name));
	memcpy(b.description, in.description, sizeof(b.description));
	memcpy(b.address, in.address, sizeof(b.address));
	b.updated_at = util_now_ns();
	struct store_audit a;
	audit_fill(&a, req, action, resource, "ok", 200);
	int rc = store_backend_update(srv->store, &b, &a);
	if (rc == -EEXIST) {
		server_refuse(req, action, resource, 409,
			      "name: you already have a backend named so");
		return;
	}
	if (rc < 0) {
		store_failed(req, action, resource, rc);
		return;
	}
	fleet_kick(srv, b.id);
	reply_empty(req, 200);
}

/* A bounded query value without NUL; false after replying 422. *v is NULL when absent. */
static bool query_value(struct http_req *req, const char *key, const char **v)
{
	size_t len = 0;
	*v = http_req_query_n(req, key, &len);
	if (!*v)
		return true;
	if (len > SERVER_QUERY_VALUE_MAX_BYTES) {
		server_error(req, 422, "%s: longer than %d bytes", key,
			     SERVER_QUERY_VALUE_MAX_BYTES);
		return false;
	}
	if (strlen(*v) != len) {
		server_error(req, 422, "%s: contains a NUL byte", key);
		return false;
	}
	if (!util_utf8_valid(*v, len)) {
		server_error(req, 422, "%s: not valid UTF-8", key);
		return false;
	}
	return true;
}

static bool known_status(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(backend_statuses); i++)
		if (strcmp(s, backend_statuses[i]) == 0)
			return true;
	return false;
}

void api_backends_list(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	if (!p)
		return;
	const char *name, *status, *limit, *offset;
	if (!query_value(req, "name", &name) || !query_value(req, "status", &status) ||
	    !query_value(req, "limit", &limit) || !query_value(req, "offset", &offset))
		return;
	/* An empty filter is no filter, as in Prism (Go's Query().Get returns "" for both). */
	if (name && !name[0])
		name = NULL;
	if (status && !status[0])
		status = NULL;
	if (status && !known_status(status)) {
		server_error(req, 422,
			     "status: must be one of unverified, online, degraded, offline, "
			     "attested, attestation_failed, terminated, unattested");
		return;
	}
	struct list_query q;
	char err[VALID_ERR_BYTES];
	if (validate_list_query(limit, offset, SERVER_LIST_DEFAULT_LIMIT, &q, err, sizeof(err)) !=
	    VALID_OK) {
		server_error(req, 422, "%s", err);
		return;
	}
	struct store_backend_filter f = {
		.owner = p->role == ROLE_ADMIN ? NULL : p->user_id,
		.name = name,
		.status = status,
		.limit = q.limit,
		.offset = q.offset,
	};
	struct store_backend *rows = NULL;
	size_t n = 0;
	uint64_t total = 0;
	int rc = store_backend_list(srv->store, &f, &rows, &n, &total);
	if (rc < 0) {
		server_store_error(req, rc, "backend");
		return;
	}
	json_t *arr = json_array();
	bool ok = arr != NULL;
	for (size_t i = 0; ok && i < n; i++)
		ok = json_array_append_new(arr, backend_json(&rows[i])) == 0;
	free(rows);
	json_t *o = ok ? json_object() : NULL;
	if (!o || json_object_set_new(o, "total", json_integer((json_int_t)total)) ||
	    json_object_set_new(o, "limit", json_integer(q.limit)) ||
	    json_object_set_new(o, "offset", json_integer((json_int_t)q.offset)) ||
	    json_object_set(o, "backends", arr)) {
		json_decref(o);
		json_decref(arr);
		server_error(req, 500, "out of memory");
		return;
	}
	json_decref(arr);
	http_reply_json(req, 200, o);
}

void api_backends_get(struct http_req *req)
{
	const struct principal *p = principal_or_401(req);
	struct store_backend b;
	char resource[RESOURCE_BUF];
	if (!p || !load_backend(req, p, NULL, &b, resource))
		return;
	reply_backend(req, 200, &b, NULL);
}

void api_backends_delete(struct http_req *req)
{
	static const char action[] = "backends.delete";
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	struct store_backend b;
	char resource[RESOURCE_BUF];
	if (!p || !load_backend(req, p, action, &b, resource))
		return;
	struct store_audit a;
	audit_fill(&a, req, action, resource, "ok", 204);
	int rc = store_backend_delete(srv->store, b.id, &a);
	if (rc < 0) {
		store_failed(req, action, resource, rc);
		return;
	}
	fleet_forget(srv, b.id);
	reply_empty(req, 204);
}

/* Both termination routes end here: the agent is told (best effort: an unreachable agent does
 * not stop it), then status "terminated" with the reason, audited with the agent's answer, 204. */
static void terminate(struct http_req *req, const struct store_backend *b, const char *resource,
		      int type, const char *reason)
{
	static const char action[] = "backends.terminate";
	struct server *srv = http_req_app(req);
	struct store_audit a;
	audit_fill(&a, req, action, resource, "ok", 204);
	bool reached = false;
	char err[VALID_ERR_BYTES];
	int rc = fleet_terminate_audited(srv, b->id, type, reason, &a, &reached, err, sizeof(err));
	if (rc < 0) {
		store_failed(req, action, resource, rc);
		return;
	}
	reply_empty(req, 204);
}

void api_backends_terminate_get(struct http_req *req)
{
	static const char action[] = "backends.terminate";
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	if (!p)
		return;
	if (!srv->cfg->allow_get_side_effects) {
		char resource[RESOURCE_BUF];
		resource_of(resource, sizeof(resource), http_req_param(req, "id"));
		server_refuse(
			req, action, resource, 405,
			"GET /backends/terminate/{id}/{type} is disabled on this server "
			"(allow_get_side_effects = false): use POST /backends/{id}/terminate");
		return;
	}
	struct store_backend b;
	char resource[RESOURCE_BUF];
	if (!load_backend(req, p, action, &b, resource))
		return;
	int type = -1;
	char err[VALID_ERR_BYTES];
	if (validate_terminate_type(http_req_param(req, "type"), &type, err, sizeof(err)) !=
	    VALID_OK) {
		server_refuse(req, action, resource, 422, "%s", err);
		return;
	}
	terminate(req, &b, resource, type, NULL);
}

void api_backends_terminate_post(struct http_req *req)
{
	static const char action[] = "backends.terminate";
	const struct principal *p = principal_or_401(req);
	if (!p)
		return;
	char resource[RESOURCE_BUF];
	if (!server_require_json(req)) {
		resource_of(resource, sizeof(resource), http_req_param(req, "id"));
		audit_record(req, action, resource, "invalid", 415);
		return;
	}
	struct store_backend b;
	if (!load_backend(req, p, action, &b, resource))
		return;
	size_t len = 0;
	const char *body = http_req_body(req, &len);
	if (len > SERVER_JSON_BODY_MAX_BYTES) {
		server_refuse(req, action, resource, 413, "body larger than %u bytes",
			      SERVER_JSON_BODY_MAX_BYTES);
		return;
	}
	struct terminate_input in;
	char err[VALID_ERR_BYTES];
	int rc = validate_terminate_body(body, len, &in, err, sizeof(err));
	if (rc != VALID_OK) {
		server_refuse(req, action, resource, rc == VALID_MALFORMED ? 400 : 422, "%s", err);
		return;
	}
	terminate(req, &b, resource, in.type, in.reason);
}

void api_backends_info_get(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	struct store_backend b;
	char resource[RESOURCE_BUF];
	if (!p || !load_backend(req, p, NULL, &b, resource))
		return;
	char *json = NULL;
	size_t len = 0;
	int rc = store_backend_info_get(srv->store, b.id, &json, &len);
	if (rc == -ENOENT) {
		server_error(req, 404, "no backend information stored for this backend");
		return;
	}
	if (rc < 0) {
		server_store_error(req, rc, "backend information");
		return;
	}
	http_reply_header(req, "Content-Disposition", "attachment; filename=\"backend_info.json\"");
	http_reply(req, 200, "application/json", json, len);
	free(json);
}

void api_backends_info_put(struct http_req *req)
{
	static const char action[] = "backends.info.put";
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	if (!p)
		return;
	char resource[RESOURCE_BUF];
	if (!server_require_json(req)) {
		resource_of(resource, sizeof(resource), http_req_param(req, "id"));
		audit_record(req, action, resource, "invalid", 415);
		return;
	}
	struct store_backend b;
	if (!load_backend(req, p, action, &b, resource))
		return;
	size_t len = 0;
	const char *body = http_req_body(req, &len);
	if (len > SERVER_INFO_BODY_MAX_BYTES) {
		server_refuse(req, action, resource, 413, "body larger than %u bytes",
			      SERVER_INFO_BODY_MAX_BYTES);
		return;
	}
	/* The policy parser, not jansson, decides: the Cocos samples carry u64 values above
	 * 2^63 that a plain JSON parse refuses. */
	char err[SNP_POLICY_ERR_BYTES];
	struct attest_policy *pol = attest_policy_parse(body ? body : "", len, err, sizeof(err));
	if (!pol) {
		if (errno == ENOMEM)
			server_refuse(req, action, resource, 500, "out of memory");
		else
			server_refuse(req, action, resource, 422, "%s", err);
		return;
	}
	/* Prism's template (1-byte "AA==" placeholders) is stored as is; say what to fill. */
	char problems[SNP_POLICY_PROBLEMS_BYTES] = "";
	if (pol->snp)
		snp_policy_problems(pol->snp, problems, sizeof(problems));
	attest_policy_free(pol);
	struct store_audit a;
	audit_fill(&a, req, action, resource, "ok", 200);
	int rc = store_backend_info_put(srv->store, b.id, body, len, util_now_ns(), &a);
	if (rc < 0) {
		store_failed(req, action, resource, rc);
		return;
	}
	/* A new policy is judged afresh: the next poll fetches evidence and pins the key again
	 * (the old key's trust came from the old policy). */
	rc = store_backend_pin_set(srv->store, b.id, "", NULL);
	if (rc < 0 && rc != -ENOENT) {
		store_failed(req, action, resource, rc);
		return;
	}
	fleet_kick(srv, b.id);
	rc = store_backend_get(srv->store, b.id, &b);
	if (rc < 0) { /* deleted in between: the write happened, say so plainly */
		server_store_error(req, rc, "backend");
		return;
	}
	reply_backend(req, 200, &b, problems);
}
