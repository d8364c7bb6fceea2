/*
 * cp_reply.h - the CLI's parsers and renderers of cloisterd replies: the token pair, a backend
 * and a page of backends, a user and a page of users, the id named by a Location header, the
 * "token expired" test, the merged body `cloister backends update` PUTs back, certificates
 * (cmd_certs.c), and the agent's status replies passed through cloisterd's proxy (cmd_agent.c).
 *
 * Used by cmd_login.c, cmd_backends.c, cmd_users.c, cmd_certs.c and cmd_agent.c;
 * fuzz/fuzz_cp_reply.c runs them without a network. They are pure functions of the bytes cloisterd sent, which may be a compromised or
 * simply wrong server: every string they keep has had its control characters, tabs and
 * newlines replaced (one value is one table cell or one line), a value of the wrong type is a
 * protocol error (-EPROTO) when the CLI needs it and absent otherwise, and nothing they print
 * can drive a terminal or forge a line of output.
 *
 * Ownership: a parsed struct owns its strings until its _done function (which accepts a zeroed
 * struct; every parser zeroes its output first, so _done is always safe). Rendered text goes
 * into a caller's struct util_buf (the caller frees b->p; check b->oom).
 * Thread safety: none needed; no state. Limits: a body is bounded by the caller
 * (CLI_RESPONSE_MAX_BYTES); names are cut to CP_NAME_COLUMN_MAX_CHARS in tables; a page holds
 * at most CP_PAGE_MAX_ITEMS entries (more is -E2BIG: cloisterd's limit is 1000).
 */
#ifndef CLOISTER_CLI_CP_REPLY_H
#define CLOISTER_CLI_CP_REPLY_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_NAME_COLUMN_MAX_CHARS 40 /* a longer name is shown as its first 37 and "..." */
#define CP_PAGE_MAX_ITEMS 1000      /* GET /backends and GET /users: limit is 1..1000 */
#define CP_UUID_CHARS 36

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in hex of either case (any version). */
bool cp_uuid_valid(const char *s);

/*
 * The id at the end of a Location header ("/backends/<uuid>", possibly an absolute URL): it
 * must end with prefix ("/backends/" or "/users/") followed by a UUID, which is copied
 * lowercased into out. Returns 0 or -EPROTO.
 */
int cp_location_id(const char *location, const char *prefix, char out[CP_UUID_CHARS + 1]);

/*
 * The token reply of POST /users/tokens/issue or /refresh: both tokens must be strings that
 * session_token_valid() accepts. Returns 0 with *access and *refresh (caller wipes and frees),
 * -EPROTO, or -ENOMEM.
 */
int cp_token_reply_parse(const char *body, size_t len, char **access, char **refresh);

/* True for a 401 whose message (client_error_message) says the token expired: the one case
 * where the CLI refreshes the pair and retries. */
bool cp_token_expired(long status, const char *body, size_t len);

struct cp_backend {
	/* id, name, address and status are never NULL after a successful parse; the rest are
	 * NULL when absent or not strings. */
	char *id, *name, *description, *address, *status, *owner;
	char *created_at, *updated_at, *last_seen, *last_error;
	bool has_info;
};

struct cp_backend_list {
	uint64_t total, limit, offset;
	size_t n;
	struct cp_backend *items;
};

/* A backend object (GET /backends/{id}, PUT .../info). 0, -EPROTO, -ENOMEM. */
int cp_backend_parse(const char *body, size_t len, struct cp_backend *b);
void cp_backend_done(struct cp_backend *b);
/* One "key  value" line per field, as `cloister backends get` prints it. 0 or -ENOMEM. */
int cp_backend_render(const struct cp_backend *b, struct util_buf *out);

/* A page {"total","limit","offset","backends":[...]}. 0, -EPROTO, -E2BIG, -ENOMEM. */
int cp_backend_list_parse(const char *body, size_t len, struct cp_backend_list *l);
void cp_backend_list_done(struct cp_backend_list *l);
/* The table ID NAME ADDRESS STATUS LAST_SEEN (columns as wide as their content, two spaces
 * apart, names cut at CP_NAME_COLUMN_MAX_CHARS, "-" for no value) and a line "N of TOTAL".
 * 0 or -ENOMEM. */
int cp_backend_table(const struct cp_backend_list *l, struct util_buf *out);

struct cp_user {
	char *id, *username, *role; /* never NULL after a successful parse */
	char *created_at, *updated_at;
	bool disabled;
};

struct cp_user_list {
	uint64_t total, limit, offset;
	size_t n;
	struct cp_user *items;
};

/* A user object (POST /users). 0, -EPROTO, -ENOMEM. */
int cp_user_parse(const char *body, size_t len, struct cp_user *u);
void cp_user_done(struct cp_user *u);
/* A page {"total","limit","offset","users":[...]}. 0, -EPROTO, -E2BIG, -ENOMEM. */
int cp_user_list_parse(const char *body, size_t len, struct cp_user_list *l);
void cp_user_list_done(struct cp_user_list *l);
/* The table ID USERNAME ROLE DISABLED CREATED_AT and "N of TOTAL". 0 or -ENOMEM. */
int cp_user_table(const struct cp_user_list *l, struct util_buf *out);

/*
 * The body of PUT /backends/{id} for `backends update`: name, description and address of the
 * backend object in body (as received, not sanitised: they go back to the server unchanged),
 * each replaced by the argument that is not NULL. Compact JSON {"name","description"?,
 * "address"} in the caller's *out (caller frees). Returns 0, -EPROTO when body is not an
 * object with string name and address, -EINVAL when an argument is not UTF-8, -ENOMEM.
 */
int cp_backend_update_body(const char *body, size_t len, const char *name, const char *address,
			   const char *description, char **out);

/* True when body is one JSON value (duplicate keys refused, nothing after it): what --json
 * checks before printing a reply as received. */
bool cp_json_valid(const char *body, size_t len);

/* ---------------------------------------------------------------- certificates (issue 7) */

#define CP_SERIAL_MAX_CHARS 40 /* cloisterd's serials: lowercase hex, at most 160 bits */

/* 1..CP_SERIAL_MAX_CHARS hex digits (either case). */
bool cp_serial_valid(const char *s);

/* {"serial_number":"<hex>"} (issue, renew): the serial lowercased into out. 0 or -EPROTO. */
int cp_serial_reply_parse(const char *body, size_t len, char out[CP_SERIAL_MAX_CHARS + 1]);

/* {"token":"..."} (download token): a token session_token_valid() accepts. Returns 0 with
 * *token (caller frees), -EPROTO, -ENOMEM. */
int cp_download_token_parse(const char *body, size_t len, char **token);

struct cp_cert {
	/* serial and backend_id are never NULL after a successful parse. */
	char *serial, *backend_id, *not_before, *not_after, *revoked_at;
	/* The PEM text as sent, only when it is printable ASCII lines; else NULL. */
	char *certificate;
	bool revoked, key_available;
};

struct cp_cert_list {
	uint64_t total, limit, offset;
	size_t n;
	struct cp_cert *items;
};

/* A certificate object (GET /certs/{serial}, revoke). 0, -EPROTO, -ENOMEM. */
int cp_cert_parse(const char *body, size_t len, struct cp_cert *c);
void cp_cert_done(struct cp_cert *c);
/* "key  value" lines, then the PEM when there is one. 0 or -ENOMEM. */
int cp_cert_render(const struct cp_cert *c, struct util_buf *out);
/* {"total","limit","offset","certificates":[...]}. 0, -EPROTO, -E2BIG, -ENOMEM. */
int cp_cert_list_parse(const char *body, size_t len, struct cp_cert_list *l);
void cp_cert_list_done(struct cp_cert_list *l);
/* The table SERIAL BACKEND NOT_AFTER REVOKED KEY and "N of TOTAL". 0 or -ENOMEM. */
int cp_cert_table(const struct cp_cert_list *l, struct util_buf *out);

/* True when body is PEM text: printable ASCII lines with a "-----BEGIN " line. */
bool cp_pem_valid(const char *body, size_t len);

/* ---------------------------------------------------------------- agent replies via the proxy */

/*
 * Renderers of the agent's status replies as `cloister agent <backend> ...` prints them (the
 * agent's JSON is passed through cloisterd unchanged, so these read the sek8s shapes). Each
 * returns 0, -EPROTO when the reply lacks the member it is about, -E2BIG past
 * CP_PAGE_MAX_ITEMS entries, or -ENOMEM; numbers and booleans are shown as text, strings
 * cleaned like every other value here.
 *   cp_services_render        GET /services: table ID UNIT DESCRIPTION
 *   cp_service_status_render  GET /services/{id}/status: "key  value" lines
 *   cp_service_logs_render    GET /services/{id}/logs: one line per log line
 *   cp_gpu_render             GET /gpu: a driver line and a table of GPUs
 *   cp_overview_render        GET /overview: status, a table of services, the GPU command
 */
int cp_services_render(const char *body, size_t len, struct util_buf *out);
int cp_service_status_render(const char *body, size_t len, struct util_buf *out);
int cp_service_logs_render(const char *body, size_t len, struct util_buf *out);
int cp_gpu_render(const char *body, size_t len, struct util_buf *out);
int cp_overview_render(const char *body, size_t len, struct util_buf *out);

#endif
