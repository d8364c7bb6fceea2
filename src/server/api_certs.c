/*
 * api_certs.c - the certificates service of cloisterd, in the shape of Ultraviolet Prism's certs
 * service (prism-docs certs.md, absmach/certs' public routes):
 *
 *   POST  /certs/issue/backend/{id}     {"ip_addresses":[..],"dns_names"?,"ttl_days"?} -> 201
 *                                       {"serial_number"}
 *   GET   /certs?backend_id&limit&offset {"total","limit","offset","certificates":[..]}
 *   GET   /certs/{serial}               the certificate object with "certificate" (PEM)
 *   GET   /certs/{serial}/download/token {"token"}: single use, CA_DOWNLOAD_TOKEN_TTL_S
 *   GET   /certs/{serial}/download?token= (public: the token is the credential) the PEM bundle
 *                                       CA, certificate, private key; the key only once (410)
 *   PATCH /certs/{serial}/renew         {"serial_number"}: a new key and serial, the old one
 *                                       revoked (superseded); a revoked one cannot be (409)
 *   PATCH /certs/{serial}/revoke        the object; the backend is terminated (type 0), then
 *                                       the CRL is rewritten; already revoked: 409
 *   GET   /certs/crl                    the CRL, PEM (?format=der: DER) (public)
 *   GET   /certs/view-ca                the CA certificate, PEM (public)
 *
 * Authorization is the backend's: a certificate belongs to the user who owns its backend (admins
 * see all). Another user's certificate or backend is a 404, audited as authz.denied, as in
 * api_backends.c. Every state change and every refusal of one is audited (certs.issue,
 * certs.renew, certs.revoke, certs.download, certs.token).
 */
#include "server/ca.h"

#include "../lib/ca.h" /* the library's ca.h (CA_MAX_DAYS, ca_crl_der) */
#include "json.h"
#include "server/fleet.h"
#include "server/validate.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERT_RESOURCE_BUF 96
#define CERT_ERR_BYTES 256
#define CERT_TOKEN_QUERY_MAX 4096 /* >= JWT_TOKEN_MAX_BYTES */

static void store_failed(struct http_req *req, const char *action, const char *resource, int err,
			 const char *what)
{
	if (action)
		audit_record(req, action, resource, audit_result_for(server_store_status(err)),
			     server_store_status(err));
	server_store_error(req, err, what);
}

static const struct principal *principal_or_401(struct http_req *req)
{
	const struct principal *p = auth_principal(req);
	if (!p)
		server_error(req, 401, "missing bearer token");
	return p;
}

static bool may_see(const struct principal *p, const struct store_backend *b)
{
	return p->role == ROLE_ADMIN || strcmp(b->owner, p->user_id) == 0;
}

/* A serial from the path: 1..STORE_SERIAL_MAX hex digits, lower-cased into out. */
static bool parse_serial(const char *s, char out[STORE_SERIAL_MAX + 1])
{
	size_t n = s ? strnlen(s, STORE_SERIAL_MAX + 1) : 0;
	if (n == 0 || n > STORE_SERIAL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		out[i] = c;
	}
	out[n] = '\0';
	return true;
}

/* "/certs/<serial>", a malformed one kept as a short lossy excerpt (it is client text). */
static void cert_resource(char *out, const char *serial)
{
	char ex[STORE_SERIAL_MAX + 1];
	json_utf8_lossy(serial ? serial : "", serial ? strnlen(serial, STORE_SERIAL_MAX) : 0, ex,
			sizeof(ex));
	snprintf(out, CERT_RESOURCE_BUF, "/certs/%s", ex);
}

/*
 * Loads the certificate named by {serial} for p (heap: a struct store_cert is ~13 KiB): NULL
 * after replying 404 when malformed, unknown, or not p's (audited as authz.denied).
 */
static struct store_cert *load_cert(struct http_req *req, const struct principal *p,
				    const char *action, char resource[CERT_RESOURCE_BUF])
{
	struct server *srv = http_req_app(req);
	const char *raw = http_req_param(req, "serial");
	char serial[STORE_SERIAL_MAX + 1];
	cert_resource(resource, raw);
	if (!parse_serial(raw, serial)) {
		server_refuse(req, action, resource, 404, "certificate not found");
		return NULL;
	}
	cert_resource(resource, serial);
	struct store_cert *c = malloc(sizeof(*c));
	if (!c) {
		server_refuse(req, action, resource, 500, "out of memory");
		return NULL;
	}
	int rc = store_cert_get(srv->store, serial, c);
	if (rc == -ENOENT) {
		server_refuse(req, action, resource, 404, "certificate not found");
		goto fail;
	}
	if (rc < 0) {
		store_failed(req, action, resource, rc, "certificate");
		goto fail;
	}
	if (p->role != ROLE_ADMIN) {
		struct store_backend b;
		rc = store_backend_get(srv->store, c->backend_id, &b);
		if (rc < 0 && rc != -ENOENT) {
			store_failed(req, action, resource, rc, "backend");
			goto fail;
		}
		if (rc == -ENOENT || !may_see(p, &b)) {
			audit_record(req, "authz.denied", resource, "denied", 404);
			server_error(req, 404, "certificate not found");
			goto fail;
		}
	}
	return c;
fail:
	free(c);
	return NULL;
}

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

static json_t *cert_json(const struct store_cert *c, bool with_pem)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int rc = set_str(o, "serial_number", c->serial) | set_str(o, "backend_id", c->backend_id) |
		 set_time(o, "not_before", c->not_before) | set_time(o, "not_after", c->not_after) |
		 set_time(o, "created_at", c->created_at) |
		 json_object_set_new(o, "revoked", json_boolean(c->revoked)) |
		 json_object_set_new(o, "key_available", json_boolean(c->key_held && !c->revoked));
	if (c->revoked)
		rc |= set_time(o, "revoked_at", c->revoked_at);
	if (c->renewed_from[0])
		rc |= set_str(o, "renewed_from", c->renewed_from);
	if (with_pem)
		rc |= set_str(o, "certificate", c->cert_pem);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void reply_serial(struct http_req *req, unsigned status, const char *serial)
{
	json_t *o = json_object();
	if (!o || set_str(o, "serial_number", serial) != 0) {
		json_decref(o);
		server_error(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, status, o);
}

/* --- POST /certs/issue/backend/{id} --- */

#define ISSUE_NAME_MAX_BYTES 253

struct issue_body {
	const char *ips[CA_MAX_SANS];
	size_t n_ips;
	const char *dns[CA_MAX_SANS];
	size_t n_dns;
	int days;
};

/* Reads a string array member into v; false after writing the problem into err (400/422 in
 * *status). */
static bool string_array(json_t *a, const char *key, const char **v, size_t *n, size_t room,
			 unsigned *status, char *err, size_t errlen)
{
	if (!json_is_array(a)) {
		*status = 400;
		snprintf(err, errlen, "%s: must be an array of strings", key);
		return false;
	}
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e)
	{
		if (!json_is_string(e)) {
			*status = 400;
			snprintf(err, errlen, "%s[%zu]: must be a string", key, i);
			return false;
		}
		if (*n >= room) {
			*status = 422;
			snprintf(err, errlen, "at most %d IP addresses and DNS names together",
				 CA_MAX_SANS);
			return false;
		}
		const char *s = json_string_value(e);
		if (json_string_length(e) == 0 || json_string_length(e) > ISSUE_NAME_MAX_BYTES ||
		    strlen(s) != json_string_length(e)) {
			*status = 422;
			snprintf(err, errlen, "%s[%zu]: must be 1..%d bytes", key, i,
				 ISSUE_NAME_MAX_BYTES);
			return false;
		}
		v[(*n)++] = s;
	}
	return true;
}

/* Parses the body (an empty body is {}). Strings point into *doc (caller decrefs). */
static bool parse_issue(const char *body, size_t len, json_t **doc, struct issue_body *out,
			unsigned *status, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->days = CA_BACKEND_CERT_DAYS_DEFAULT;
	*doc = NULL;
	if (len == 0)
		return true;
	json_error_t je;
	*doc = json_parse_strict(body, len, &je);
	*status = 400;
	if (!*doc || !json_is_object(*doc)) {
		snprintf(err, errlen, "body: must be a JSON object");
		return false;
	}
	const char *key;
	json_t *v;
	size_t total = 0;
	json_object_foreach(*doc, key, v)
	{
		if (strcmp(key, "ip_addresses") == 0) {
			if (!string_array(v, key, out->ips, &out->n_ips, CA_MAX_SANS - total,
					  status, err, errlen))
				return false;
			total += out->n_ips;
		} else if (strcmp(key, "dns_names") == 0) {
			if (!string_array(v, key, out->dns, &out->n_dns, CA_MAX_SANS - total,
					  status, err, errlen))
				return false;
			total += out->n_dns;
		} else if (strcmp(key, "ttl_days") == 0) {
			if (!json_is_integer(v)) {
				snprintf(err, errlen, "ttl_days: must be an integer");
				return false;
			}
			json_int_t d = json_integer_value(v);
			if (d < 1 || d > CA_MAX_DAYS) {
				*status = 422;
				snprintf(err, errlen, "ttl_days: must be 1..%d", CA_MAX_DAYS);
				return false;
			}
			out->days = (int)d;
		} else {
			char ex[64];
			json_utf8_lossy(key, strlen(key), ex, sizeof(ex));
			snprintf(err, errlen, "unknown key \"%s\"", ex);
			return false;
		}
	}
	*status = 422;
	unsigned char ip[16];
	for (size_t i = 0; i < out->n_ips; i++) {
		if (inet_pton(AF_INET, out->ips[i], ip) != 1 &&
		    inet_pton(AF_INET6, out->ips[i], ip) != 1) {
			snprintf(err, errlen, "ip_addresses[%zu]: not an IPv4 or IPv6 address", i);
			return false;
		}
	}
	for (size_t i = 0; i < out->n_dns; i++) {
		char e2[128];
		if (inet_pton(AF_INET, out->dns[i], ip) == 1 || strchr(out->dns[i], ':') ||
		    validate_address(out->dns[i], strlen(out->dns[i]), e2, sizeof(e2)) !=
			    VALID_OK) {
			snprintf(err, errlen, "dns_names[%zu]: not a DNS name", i);
			return false;
		}
	}
	return true;
}

/* The host of a backend address ("h", "h:p", "[v6]:p", "v6") into buf. */
static void address_host(const char *addr, char *buf, size_t cap)
{
	unsigned char ip[16];
	if (addr[0] == '[') {
		size_t n = strcspn(addr + 1, "]");
		snprintf(buf, cap, "%.*s", (int)n, addr + 1);
	} else if (inet_pton(AF_INET6, addr, ip) == 1) {
		snprintf(buf, cap, "%s", addr);
	} else {
		snprintf(buf, cap, "%.*s", (int)strcspn(addr, ":"), addr);
	}
}

void api_certs_issue(struct http_req *req)
{
	static const char action[] = "certs.issue";
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	if (!p)
		return;
	char resource[CERT_RESOURCE_BUF];
	const char *raw = http_req_param(req, "id");
	char id[STORE_ID_BUF];
	char ex[64];
	json_utf8_lossy(raw ? raw : "", raw ? strnlen(raw, 60) : 0, ex, sizeof(ex));
	snprintf(resource, sizeof(resource), "/backends/%s", ex);
	size_t len = 0;
	const char *body = http_req_body(req, &len);
	if (len > 0 && !server_require_json(req)) {
		audit_record(req, action, resource, "invalid", 415);
		return;
	}
	struct store_backend b;
	int rc = validate_uuid(raw, id) ? store_backend_get(srv->store, id, &b) : -ENOENT;
	if (rc == -ENOENT) {
		server_refuse(req, action, resource, 404, "backend not found");
		return;
	}
	snprintf(resource, sizeof(resource), "/backends/%s", id);
	if (rc < 0) {
		store_failed(req, action, resource, rc, "backend");
		return;
	}
	if (!may_see(p, &b)) {
		audit_record(req, "authz.denied", resource, "denied", 404);
		server_error(req, 404, "backend not found");
		return;
	}
	if (len > SERVER_JSON_BODY_MAX_BYTES) {
		server_refuse(req, action, resource, 413, "body larger than %u bytes",
			      SERVER_JSON_BODY_MAX_BYTES);
		return;
	}
	json_t *doc = NULL;
	struct issue_body in;
	unsigned status = 400;
	char err[CERT_ERR_BYTES];
	if (!parse_issue(body, len, &doc, &in, &status, err, sizeof(err))) {
		json_decref(doc);
		server_refuse(req, action, resource, status, "%s", err);
		return;
	}
	/* No names asked for: the backend's own address, which is where cloisterd dials it. */
	char host[STORE_ADDRESS_MAX + 1];
	if (in.n_ips + in.n_dns == 0) {
		unsigned char ip[16];
		address_host(b.address, host, sizeof(host));
		if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
			in.ips[in.n_ips++] = host;
		else
			in.dns[in.n_dns++] = host;
	}
	struct ca_issue_req r = {
		.backend_id = b.id,
		.ips = in.ips,
		.n_ips = in.n_ips,
		.dns_names = in.dns,
		.n_dns = in.n_dns,
		.days = in.days,
	};
	char serial[STORE_SERIAL_MAX + 1] = "";
	struct store_audit a;
	audit_fill(&a, req, action, resource, "ok", 201);
	rc = ca_issue_backend(srv, &r, &a, serial);
	json_decref(doc);
	if (rc == -EINVAL) {
		server_refuse(req, action, resource, 422, "the CA refused these names");
		return;
	}
	if (rc < 0) {
		store_failed(req, action, resource, rc, "certificate");
		return;
	}
	reply_serial(req, 201, serial);
}

/* --- GET /certs --- */

static bool query_value(struct http_req *req, const char *key, const char **v)
{
	size_t len = 0;
	*v = http_req_query_n(req, key, &len);
	if (!*v)
		return true;
	if (len > SERVER_QUERY_VALUE_MAX_BYTES || strlen(*v) != len || !util_utf8_valid(*v, len)) {
		server_error(req, 422, "%s: at most %d bytes of UTF-8 text", key,
			     SERVER_QUERY_VALUE_MAX_BYTES);
		return false;
	}
	return true;
}

void api_certs_list(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	if (!p)
		return;
	const char *bid, *limit, *offset;
	if (!query_value(req, "backend_id", &bid) || !query_value(req, "limit", &limit) ||
	    !query_value(req, "offset", &offset))
		return;
	struct list_query q;
	char err[CERT_ERR_BYTES];
	if (validate_list_query(limit, offset, SERVER_LIST_DEFAULT_LIMIT, &q, err, sizeof(err)) !=
	    VALID_OK) {
		server_error(req, 422, "%s", err);
		return;
	}
	char id[STORE_ID_BUF];
	if (bid && bid[0]) {
		if (!validate_uuid(bid, id)) {
			server_error(req, 422, "backend_id: must be a UUID");
			return;
		}
		if (p->role != ROLE_ADMIN) {
			struct store_backend b;
			int rc = store_backend_get(srv->store, id, &b);
			if (rc < 0 && rc != -ENOENT) {
				server_store_error(req, rc, "backend");
				return;
			}
			if (rc == -ENOENT || !may_see(p, &b)) {
				char res[CERT_RESOURCE_BUF];
				snprintf(res, sizeof(res), "/backends/%s", id);
				if (rc == 0)
					audit_record(req, "authz.denied", res, "denied", 404);
				server_error(req, 404, "backend not found");
				return;
			}
		}
	}
	struct store_cert *rows = NULL;
	size_t n = 0;
	uint64_t total = 0;
	int rc = store_cert_list(srv->store, bid && bid[0] ? id : NULL,
				 p->role == ROLE_ADMIN ? NULL : p->user_id, q.limit, q.offset,
				 &rows, &n, &total);
	if (rc < 0) {
		server_store_error(req, rc, "certificate");
		return;
	}
	json_t *arr = json_array();
	bool ok = arr != NULL;
	for (size_t i = 0; ok && i < n; i++)
		ok = json_array_append_new(arr, cert_json(&rows[i], false)) == 0;
	free(rows);
	json_t *o = ok ? json_object() : NULL;
	if (!o || json_object_set_new(o, "total", json_integer((json_int_t)total)) ||
	    json_object_set_new(o, "limit", json_integer(q.limit)) ||
	    json_object_set_new(o, "offset", json_integer((json_int_t)q.offset)) ||
	    json_object_set(o, "certificates", arr)) {
		json_decref(o);
		json_decref(arr);
		server_error(req, 500, "out of memory");
		return;
	}
	json_decref(arr);
	http_reply_json(req, 200, o);
}

/* --- GET /certs/{serial} --- */

void api_certs_get(struct http_req *req)
{
	const struct principal *p = principal_or_401(req);
	char resource[CERT_RESOURCE_BUF];
	struct store_cert *c = p ? load_cert(req, p, NULL, resource) : NULL;
	if (!c)
		return;
	json_t *o = cert_json(c, true);
	free(c);
	if (!o) {
		server_error(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, 200, o);
}

/* --- download --- */

void api_certs_download_token(struct http_req *req)
{
	static const char action[] = "certs.token";
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	char resource[CERT_RESOURCE_BUF];
	struct store_cert *c = p ? load_cert(req, p, action, resource) : NULL;
	if (!c)
		return;
	bool revoked = c->revoked, held = c->key_held;
	char serial[STORE_SERIAL_MAX + 1];
	memcpy(serial, c->serial, sizeof(serial));
	free(c);
	if (revoked) {
		server_refuse(req, action, resource, 410, "the certificate is revoked");
		return;
	}
	if (!held) {
		server_refuse(req, action, resource, 410, "the private key was already downloaded");
		return;
	}
	char *token = NULL;
	if (ca_download_token(srv, serial, &token) < 0) {
		server_refuse(req, action, resource, 500, "cannot make a download token");
		return;
	}
	audit_record(req, action, resource, "ok", 200);
	json_t *o = json_object();
	if (!o || set_str(o, "token", token) != 0) {
		json_decref(o);
		free(token);
		server_error(req, 500, "out of memory");
		return;
	}
	free(token);
	http_reply_json(req, 200, o);
}

void api_certs_download(struct http_req *req)
{
	static const char action[] = "certs.download";
	struct server *srv = http_req_app(req);
	char resource[CERT_RESOURCE_BUF];
	const char *raw = http_req_param(req, "serial");
	char serial[STORE_SERIAL_MAX + 1], tok_serial[STORE_SERIAL_MAX + 1];
	cert_resource(resource, raw);
	if (!parse_serial(raw, serial)) {
		server_refuse(req, action, resource, 404, "certificate not found");
		return;
	}
	cert_resource(resource, serial);
	size_t tlen = 0;
	const char *token = http_req_query_n(req, "token", &tlen);
	if (!token || tlen == 0 || tlen > CERT_TOKEN_QUERY_MAX) {
		server_refuse(req, action, resource, 401, "a download token is required (?token=)");
		return;
	}
	int rc = ca_download_redeem(srv, token, tlen, tok_serial);
	if (rc == -EBUSY) {
		server_refuse(req, action, resource, 503,
			      "too many downloads in flight; retry later");
		return;
	}
	if (rc < 0 || strcmp(tok_serial, serial) != 0) {
		server_refuse(req, action, resource, 401,
			      "invalid, expired or already used download token");
		return;
	}
	struct store_cert *c = malloc(sizeof(*c));
	if (!c) {
		server_refuse(req, action, resource, 500, "out of memory");
		return;
	}
	rc = store_cert_get(srv->store, serial, c);
	if (rc < 0) {
		free(c);
		store_failed(req, action, resource, rc, "certificate");
		return;
	}
	if (c->revoked) {
		free(c);
		server_refuse(req, action, resource, 410, "the certificate is revoked");
		return;
	}
	char *key = malloc(STORE_KEY_PEM_MAX + 1);
	struct store_audit a;
	audit_fill(&a, req, action, resource, "ok", 200);
	rc = key ? store_cert_take_key(srv->store, serial, key, &a) : -ENOMEM;
	if (rc < 0) {
		free(key);
		free(c);
		if (rc == -ENOENT)
			server_refuse(req, action, resource, 410,
				      "the private key was already downloaded");
		else
			store_failed(req, action, resource, rc, "certificate");
		return;
	}
	size_t ca_len = 0;
	const char *ca_pem = ca_cert_pem(srv, &ca_len);
	size_t cl = strlen(c->cert_pem), kl = strlen(key);
	size_t total = ca_len + cl + kl;
	char *bundle = malloc(total + 1);
	if (bundle) {
		memcpy(bundle, ca_pem, ca_len);
		memcpy(bundle + ca_len, c->cert_pem, cl);
		memcpy(bundle + ca_len + cl, key, kl);
		bundle[total] = '\0';
	}
	OPENSSL_cleanse(key, STORE_KEY_PEM_MAX + 1);
	free(key);
	free(c);
	if (!bundle) {
		/* The key is gone from the store already: say so rather than pretend. */
		server_error(req, 500, "out of memory; the key is lost, renew the certificate");
		return;
	}
	char disp[96];
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s.pem\"", serial);
	http_reply_header(req, "Content-Disposition", disp);
	http_reply_header(req, "Cache-Control", "no-store");
	http_reply(req, 200, "application/x-pem-file", bundle, total);
	OPENSSL_cleanse(bundle, total);
	free(bundle);
}

/* --- renew, revoke --- */

void api_certs_renew(struct http_req *req)
{
	static const char action[] = "certs.renew";
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	char resource[CERT_RESOURCE_BUF];
	struct store_cert *c = p ? load_cert(req, p, action, resource) : NULL;
	if (!c)
		return;
	if (c->revoked) {
		free(c);
		server_refuse(req, action, resource, 409,
			      "a revoked certificate cannot be renewed");
		return;
	}
	char serial[STORE_SERIAL_MAX + 1] = "";
	struct store_audit a;
	audit_fill(&a, req, action, resource, "ok", 200);
	int rc = ca_renew_backend(srv, c, &a, serial);
	free(c);
	if (rc == -EINVAL) {
		server_refuse(req, action, resource, 409,
			      "this certificate was not issued by this CA");
		return;
	}
	if (rc < 0) {
		store_failed(req, action, resource, rc, "certificate");
		return;
	}
	reply_serial(req, 200, serial);
}

void api_certs_revoke(struct http_req *req)
{
	static const char action[] = "certs.revoke";
	struct server *srv = http_req_app(req);
	const struct principal *p = principal_or_401(req);
	char resource[CERT_RESOURCE_BUF];
	struct store_cert *c = p ? load_cert(req, p, action, resource) : NULL;
	if (!c)
		return;
	struct store_audit a;
	audit_fill(&a, req, action, resource, "ok", 200);
	int64_t now = util_now_ns();
	int rc = store_cert_revoke(srv->store, c->serial, now, &a);
	if (rc == -EALREADY) {
		free(c);
		server_refuse(req, action, resource, 409, "the certificate is already revoked");
		return;
	}
	if (rc < 0) {
		free(c);
		store_failed(req, action, resource, rc, "certificate");
		return;
	}
	c->revoked = true;
	c->revoked_at = now;
	c->key_held = false;
	/* Terminate first: once the CRL lists the certificate, cloisterd itself refuses the
	 * agent's TLS and could not reach it any more. A deleted backend has nothing to stop. */
	char reason[96], err[CERT_ERR_BYTES] = "";
	snprintf(reason, sizeof(reason), "certificate %s revoked", c->serial);
	bool reached = false;
	rc = fleet_terminate(srv, c->backend_id, 0, reason, &reached, err, sizeof(err));
	(void)ca_crl_regenerate(srv);
	json_t *o = cert_json(c, false);
	free(c);
	if (!o || json_object_set_new(o, "agent_reached", json_boolean(reached)) ||
	    (rc < 0 && rc != -ENOENT && set_str(o, "termination_error", err))) {
		json_decref(o);
		server_error(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, 200, o);
}

/* --- public: CRL, CA certificate --- */

void api_certs_crl(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	const char *fmt = http_req_query(req, "format");
	bool der = false;
	if (fmt && strcmp(fmt, "der") == 0)
		der = true;
	else if (fmt && strcmp(fmt, "pem") != 0) {
		server_error(req, 422, "format: must be pem or der");
		return;
	}
	char *pem = NULL;
	size_t len = 0;
	if (ca_crl_current(srv, &pem, &len) < 0) {
		server_error(req, 503, "no CRL available");
		return;
	}
	http_reply_header(req, "Cache-Control", "no-cache");
	if (!der) {
		http_reply(req, 200, "application/pkix-crl", pem, len);
		free(pem);
		return;
	}
	unsigned char *d = NULL;
	size_t dlen = 0;
	int rc = ca_crl_der(pem, len, &d, &dlen);
	free(pem);
	if (rc < 0) {
		server_error(req, 500, "cannot encode the CRL");
		return;
	}
	http_reply(req, 200, "application/pkix-crl", d, dlen);
	free(d);
}

void api_certs_view_ca(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	size_t len = 0;
	const char *pem = ca_cert_pem(srv, &len);
	if (!len) {
		server_error(req, 503, "the CA is not ready");
		return;
	}
	http_reply(req, 200, "application/x-pem-file", pem, len);
}
