/*
 * server.h - the state of one cloisterd process, shared by its modules.
 *
 * main.c reads the settings (settings.c), opens the store (store.h), loads or creates the token
 * signing key and the first admin (users.c), and starts the HTTP server with the routing table
 * in routes.c. The gate (auth.c) authenticates every request except the public ones and leaves
 * the principal on the request; handlers in api_*.c authorize, validate (validate.c), call the
 * store with an audit record, and reply.
 *
 * Thread safety: handlers run on the server's threads concurrently. struct server is read-only
 * after start-up except through the store (thread-safe) and the metrics registry (thread-safe).
 */
#ifndef CLOISTER_SERVER_SERVER_H
#define CLOISTER_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/server.h"
#include "server/store.h"

struct ca;
struct fleet;
struct jwt_key;
struct prom;
struct prom_family;
struct server_settings;

/* Request bounds (named, with units): config may lower them, never raise them. */
#define SERVER_JSON_BODY_MAX_BYTES (16u * 1024) /* users, tokens, backends bodies */
#define SERVER_INFO_BODY_MAX_BYTES STORE_INFO_MAX_BYTES
#define SERVER_QUERY_VALUE_MAX_BYTES 256
#define SERVER_LIST_DEFAULT_LIMIT 10 /* Prism's default page */
#define SERVER_ACCESS_TTL_DEFAULT_S 900
#define SERVER_REFRESH_TTL_DEFAULT_S (7 * 24 * 3600)

enum server_role { ROLE_NONE = 0, ROLE_USER = 1, ROLE_ADMIN = 2 };

/* Who made the request: set by the gate (auth.c) on authenticated requests. */
struct principal {
	char user_id[STORE_ID_BUF];
	char username[STORE_USERNAME_MAX + 1];
	enum server_role role;
	char jti[48];
};

struct server {
	struct server_settings *cfg;
	struct store *store;
	struct jwt_key *jwt;
	struct http_server *http;
	struct prom *prom;
	struct prom_family *m_requests, *m_latency, *m_backends, *m_audit_fail, *m_logins;
	int64_t started_ns;
	struct ca *ca;       /* ca.c: cloisterd's CA (ca_init), NULL before */
	struct fleet *fleet; /* monitor.c: the monitor (fleet_start), NULL when not running */
};

/* --- start-up (main.c) --- */
/* auth.c: loads or creates the token signing key (check_only: load, never create). */
int auth_init(struct server *srv, bool check_only, char *err, size_t errlen);
/* auth.c: creates the first admin when the store has no user. */
int auth_bootstrap_admin(struct server *srv, char *err, size_t errlen);
void auth_done(struct server *srv);
/* routes.c: the routing table, the public paths, the not-found reply, the metrics hook. */
const struct http_route *routes_table(struct server *srv, size_t *n);
bool routes_is_public(const char *path);
void routes_not_found(struct http_req *req);
void routes_on_complete(void *app, const char *route, const char *method, unsigned status,
			int64_t duration_us);
int routes_metrics_init(struct server *srv);

/* --- auth.c --- */
/* The gate: public routes pass; others need a valid access token of an existing, enabled user
 * (401 with WWW-Authenticate otherwise, audited as auth.denied). */
int auth_gate(struct http_req *req);
/* The request's principal (NULL on public routes). */
const struct principal *auth_principal(struct http_req *req);
/* 403 + audit unless the principal is admin; returns true when the caller may go on. */
bool auth_require_admin(struct http_req *req);
/* Issues an access token and a refresh token (stored) for u; 0 or a negative errno. */
int auth_issue_pair(struct server *srv, const struct store_user *u, char **access, char **refresh);

/* --- audit.c --- */
/* The writer of the gate's denials (a bounded queue written in batches): started once the store
 * is open, stopped (everything queued written) before it closes. */
int audit_start(struct server *srv);
void audit_stop(struct server *srv);
/* The audit result word for an HTTP status sent: "invalid" (400, 413, 415, 422), "denied" (401,
 * 403, 405), "not_found", "conflict" (409, 410), else "failed". */
const char *audit_result_for(unsigned status);
/* Fills a from the request (time, client address, principal) and the given fields. */
void audit_fill(struct store_audit *a, struct http_req *req, const char *action,
		const char *resource, const char *result, unsigned status);
/* Records a denied or failed request on its own (the store errors are counted, never fatal). */
void audit_record(struct http_req *req, const char *action, const char *resource,
		  const char *result, unsigned status);

/* --- errors: {"code":N,"message":"..."} with the status, as the agent does --- */
void server_error(struct http_req *req, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Replies status with the formatted message and, for a mutation (action non-NULL), audits the
 * refusal under action and resource. */
void server_refuse(struct http_req *req, const char *action, const char *resource, unsigned status,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The status for a store errno: -ENOENT 404, -EEXIST/-EALREADY 409, -EINVAL 422, -EBUSY 503,
 * else 500. */
unsigned server_store_status(int err);
/* Maps a store errno to a status and message (-ENOENT 404, -EEXIST 409, -EINVAL 422,
 * -EBUSY 503, else 500) and replies. */
void server_store_error(struct http_req *req, int err, const char *what);
/* Checks Content-Type is application/json (parameters allowed): replies 415 and returns false
 * otherwise. */
bool server_require_json(struct http_req *req);

/* --- route handlers --- */
void api_users_create(struct http_req *req);
void api_users_list(struct http_req *req);
void api_users_get(struct http_req *req);
void api_users_update(struct http_req *req);
void api_users_delete(struct http_req *req);
void api_tokens_issue(struct http_req *req);
void api_tokens_refresh(struct http_req *req);
void api_backends_create(struct http_req *req);
void api_backends_list(struct http_req *req);
void api_backends_get(struct http_req *req);
void api_backends_update(struct http_req *req);
void api_backends_delete(struct http_req *req);
void api_backends_terminate_get(struct http_req *req);
void api_backends_terminate_post(struct http_req *req);
void api_backends_info_get(struct http_req *req);
void api_backends_info_put(struct http_req *req);
void api_audit_list(struct http_req *req);

/* Generates a UUIDv4 (lower-case text) from the OpenSSL CSPRNG; 0 or -EIO. */
int server_uuid4(char out[STORE_ID_BUF]);

#endif
