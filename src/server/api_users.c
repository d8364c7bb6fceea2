/*
 * api_users.c - the users routes: POST /users, GET /users, GET|PATCH|DELETE /users/{id}.
 *
 * Admins manage every user; a user may read their own row and change their own password, and
 * nothing else (403, audited as authz.denied). A successful change commits with its audit record
 * in one store transaction; a refused or failed one is audited on its own (audit_record).
 *
 * The last enabled admin can be neither deleted, demoted nor disabled (409): a control plane
 * nobody can administer is only recoverable by editing the database. That check and the write
 * that follows run under one process-wide mutex so two concurrent requests cannot each remove
 * "the other" admin. (Several replicas on one PostgreSQL database will need the same check
 * inside the store transaction.)
 *
 * Disabling a user, changing their role or their password sets tokens_valid_after to now, so
 * every token issued before stops working at the gate (auth.c) on the next request.
 */
#include "server/server.h"

#include "secret.h"
#include "server/validate.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t admins_mu = PTHREAD_MUTEX_INITIALIZER;

static json_t *user_json(const struct store_user *u)
{
	char created[UTIL_TIME_BUF], updated[UTIL_TIME_BUF];
	util_rfc3339(created, u->created_at);
	util_rfc3339(updated, u->updated_at);
	return json_pack("{s:s,s:s,s:s,s:b,s:s,s:s}", "id", u->id, "username", u->username, "role",
			 u->role, "disabled", u->disabled, "created_at", created, "updated_at",
			 updated);
}

/* Audits a refused or failed request, then replies with status and the message. */
static void refuse(struct http_req *req, const char *action, const char *resource,
		   const char *result, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void refuse(struct http_req *req, const char *action, const char *resource,
		   const char *result, unsigned status, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	audit_record(req, action, resource, result, status);
	server_error(req, status, "%s", msg);
}

static const char *result_of(int err)
{
	switch (err) {
	case -ENOENT:
		return "not_found";
	case -EEXIST:
		return "conflict";
	case -EINVAL:
		return "invalid";
	default:
		return "failed";
	}
}

static unsigned status_of(int err)
{
	switch (err) {
	case -ENOENT:
		return 404;
	case -EEXIST:
		return 409;
	case -EINVAL:
		return 422;
	case -EBUSY:
		return 503;
	default:
		return 500;
	}
}

/* A failed store mutation: audited, then the mapped error. */
static void store_refuse(struct http_req *req, int err, const char *action, const char *resource,
			 const char *what)
{
	audit_record(req, action, resource, result_of(err), status_of(err));
	server_store_error(req, err, what);
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

/* The {id} of the path, lower-cased; false (after a 404) when it is not a UUID. */
static bool path_id(struct http_req *req, char id[STORE_ID_BUF])
{
	const char *raw = http_req_param(req, "id");
	if (raw && validate_uuid(raw, id))
		return true;
	server_error(req, 404, "user not found");
	return false;
}

/* Enabled admins in the store; 0 or a negative errno. */
static int count_enabled_admins(struct server *srv, uint64_t *count)
{
	*count = 0;
	uint64_t offset = 0, total = 0;
	do {
		struct store_user *rows = NULL;
		size_t n = 0;
		int rc = store_user_list(srv->store, STORE_LIST_MAX, offset, &rows, &n, &total);
		if (rc < 0)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (strcmp(rows[i].role, "admin") == 0 && !rows[i].disabled)
				(*count)++;
		free(rows);
		if (n == 0)
			break;
		offset += n;
	} while (offset < total);
	return 0;
}

void api_users_create(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	static const char action[] = "users.create", resource[] = "/users";
	if (!auth_require_admin(req))
		return;
	if (!server_require_json(req)) {
		audit_record(req, action, resource, "invalid", 415);
		return;
	}
	size_t len = 0;
	const char *body = http_req_body(req, &len);
	struct user_input in;
	char err[160] = "";
	int v = validate_user_body(body, len, &in, err, sizeof(err));
	if (v != VALID_OK) {
		sodium_memzero(&in, sizeof(in));
		refuse(req, action, resource, "invalid", v == VALID_MALFORMED ? 400 : 422, "%s",
		       err);
		return;
	}
	struct store_user u = { 0 };
	int rc = server_uuid4(u.id);
	if (rc == 0)
		rc = secret_hash_password(in.password, strlen(in.password), u.pw_hash);
	sodium_memzero(in.password, sizeof(in.password));
	if (rc < 0) {
		refuse(req, action, resource, "failed", 500, "cannot create the user");
		return;
	}
	snprintf(u.username, sizeof(u.username), "%s", in.username);
	snprintf(u.role, sizeof(u.role), "%s", in.role[0] ? in.role : "user");
	u.created_at = u.updated_at = util_now_ns();
	char where[64];
	snprintf(where, sizeof(where), "/users/%s", u.id);
	struct store_audit a;
	audit_fill(&a, req, action, where, "ok", 201);
	rc = store_user_create(srv->store, &u, &a);
	sodium_memzero(u.pw_hash, sizeof(u.pw_hash));
	if (rc == -EEXIST) {
		refuse(req, action, resource, "conflict", 409, "username already exists");
		return;
	}
	if (rc < 0) {
		store_refuse(req, rc, action, resource, "user");
		return;
	}
	http_reply_header(req, "Location", where);
	http_reply_json(req, 201, user_json(&u));
}

void api_users_list(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	if (!auth_require_admin(req))
		return;
	const char *limit_s, *offset_s;
	if (!query_value(req, "limit", &limit_s) || !query_value(req, "offset", &offset_s))
		return;
	struct list_query q;
	char err[160] = "";
	if (validate_list_query(limit_s, offset_s, SERVER_LIST_DEFAULT_LIMIT, &q, err,
				sizeof(err)) != VALID_OK) {
		server_error(req, 422, "%s", err);
		return;
	}
	struct store_user *rows = NULL;
	size_t n = 0;
	uint64_t total = 0;
	int rc = store_user_list(srv->store, q.limit, q.offset, &rows, &n, &total);
	if (rc < 0) {
		server_store_error(req, rc, "users");
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, user_json(&rows[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(rows);
	if (!arr) {
		server_error(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, 200,
			json_pack("{s:I,s:I,s:I,s:o}", "total", (json_int_t)total, "limit",
				  (json_int_t)q.limit, "offset", (json_int_t)q.offset, "users",
				  arr));
}

void api_users_get(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	const struct principal *p = auth_principal(req);
	char id[STORE_ID_BUF];
	if (!path_id(req, id))
		return;
	if (!p || (p->role != ROLE_ADMIN && strcmp(p->user_id, id) != 0)) {
		auth_require_admin(req);
		return;
	}
	struct store_user u;
	int rc = store_user_get(srv->store, id, &u);
	if (rc < 0) {
		server_store_error(req, rc, "user");
		return;
	}
	http_reply_json(req, 200, user_json(&u));
}

void api_users_update(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	static const char action[] = "users.update";
	const struct principal *p = auth_principal(req);
	char id[STORE_ID_BUF];
	if (!path_id(req, id))
		return;
	char resource[64];
	snprintf(resource, sizeof(resource), "/users/%s", id);
	bool admin = p && p->role == ROLE_ADMIN;
	if (!admin && (!p || strcmp(p->user_id, id) != 0)) {
		auth_require_admin(req);
		return;
	}
	if (!server_require_json(req)) {
		audit_record(req, action, resource, "invalid", 415);
		return;
	}
	size_t len = 0;
	const char *body = http_req_body(req, &len);
	struct user_patch in;
	char err[160] = "";
	int v = validate_user_patch(body, len, &in, err, sizeof(err));
	if (v != VALID_OK) {
		sodium_memzero(&in, sizeof(in));
		refuse(req, action, resource, "invalid", v == VALID_MALFORMED ? 400 : 422, "%s",
		       err);
		return;
	}
	if (!admin && (in.has_role || in.has_disabled)) {
		sodium_memzero(&in, sizeof(in));
		refuse(req, "authz.denied", resource, "denied", 403,
		       "only an admin can change role or disabled");
		return;
	}
	/* Hash before taking the lock: argon2id takes tens of milliseconds. */
	char hash[SECRET_HASH_MAX] = "";
	if (in.has_password) {
		int rc = secret_hash_password(in.password, strlen(in.password), hash);
		if (rc < 0) {
			sodium_memzero(&in, sizeof(in));
			refuse(req, action, resource, "failed", 500, "cannot hash the password");
			return;
		}
	}
	sodium_memzero(in.password, sizeof(in.password));

	pthread_mutex_lock(&admins_mu);
	struct store_user u;
	int rc = store_user_get(srv->store, id, &u);
	if (rc < 0) {
		pthread_mutex_unlock(&admins_mu);
		sodium_memzero(hash, sizeof(hash));
		store_refuse(req, rc, action, resource, "user");
		return;
	}
	bool was_admin = strcmp(u.role, "admin") == 0 && !u.disabled;
	bool role_change = in.has_role && strcmp(in.role, u.role) != 0;
	bool disabling = in.has_disabled && in.disabled && !u.disabled;
	if (was_admin && ((role_change && strcmp(in.role, "admin") != 0) || disabling)) {
		uint64_t admins = 0;
		rc = count_enabled_admins(srv, &admins);
		if (rc < 0) {
			pthread_mutex_unlock(&admins_mu);
			sodium_memzero(hash, sizeof(hash));
			store_refuse(req, rc, action, resource, "users");
			return;
		}
		if (admins <= 1) {
			pthread_mutex_unlock(&admins_mu);
			sodium_memzero(hash, sizeof(hash));
			refuse(req, action, resource, "conflict", 409,
			       "cannot demote or disable the last enabled admin");
			return;
		}
	}
	if (in.has_role)
		snprintf(u.role, sizeof(u.role), "%s", in.role);
	if (in.has_disabled)
		u.disabled = in.disabled;
	if (in.has_password)
		snprintf(u.pw_hash, sizeof(u.pw_hash), "%s", hash);
	sodium_memzero(hash, sizeof(hash));
	u.updated_at = util_now_ns();
	if (role_change || disabling || in.has_password)
		u.tokens_valid_after = u.updated_at / 1000000000;
	struct store_audit a;
	audit_fill(&a, req, action, resource, "ok", 200);
	rc = store_user_update(srv->store, &u, &a);
	pthread_mutex_unlock(&admins_mu);
	sodium_memzero(u.pw_hash, sizeof(u.pw_hash));
	if (rc < 0) {
		store_refuse(req, rc, action, resource, "user");
		return;
	}
	http_reply_json(req, 200, user_json(&u));
}

void api_users_delete(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	static const char action[] = "users.delete";
	if (!auth_require_admin(req))
		return;
	char id[STORE_ID_BUF];
	if (!path_id(req, id))
		return;
	char resource[64];
	snprintf(resource, sizeof(resource), "/users/%s", id);
	pthread_mutex_lock(&admins_mu);
	struct store_user u;
	int rc = store_user_get(srv->store, id, &u);
	if (rc == 0 && strcmp(u.role, "admin") == 0 && !u.disabled) {
		uint64_t admins = 0;
		rc = count_enabled_admins(srv, &admins);
		if (rc == 0 && admins <= 1) {
			pthread_mutex_unlock(&admins_mu);
			refuse(req, action, resource, "conflict", 409,
			       "cannot delete the last enabled admin");
			return;
		}
	}
	if (rc == 0) {
		struct store_audit a;
		audit_fill(&a, req, action, resource, "ok", 204);
		rc = store_user_delete(srv->store, id, &a);
	}
	pthread_mutex_unlock(&admins_mu);
	if (rc < 0) {
		store_refuse(req, rc, action, resource, "user");
		return;
	}
	http_reply(req, 204, NULL, NULL, 0);
}
