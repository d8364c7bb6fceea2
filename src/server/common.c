/*
 * common.c - the replies every cloisterd handler shares: the JSON error shape, the mapping of
 * store errors to statuses, the Content-Type check of JSON bodies, and UUIDv4 generation.
 *
 * Errors use the flashbots/agent shape {"code":N,"message":"..."} so one client parser serves
 * both daemons. A store failure that is our fault (-EIO, anything unexpected) is logged here
 * once with the store's detail and answered with a generic message: SQL text never reaches a
 * client.
 */
#include "server/server.h"

#include "log.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void server_error(struct http_req *req, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_reply_error(req, status, msg);
}

void server_store_error(struct http_req *req, int err, const char *what)
{
	switch (err) {
	case -ENOENT:
		server_error(req, 404, "%s not found", what);
		return;
	case -EEXIST:
		server_error(req, 409, "%s already exists", what);
		return;
	case -EINVAL:
		server_error(req, 422, "%s: a value is out of range", what);
		return;
	case -EBUSY:
		log_kv(CLOG_WARN, "store busy", "what", what, "detail", store_last_error(), NULL);
		http_reply_header(req, "Retry-After", "1");
		server_error(req, 503, "database busy; retry later");
		return;
	default: {
		char code[16];
		snprintf(code, sizeof(code), "%d", err);
		log_kv(CLOG_ERROR, "store error", "what", what, "errno", code, "detail",
		       store_last_error(), NULL);
		server_error(req, 500, "internal error");
		return;
	}
	}
}

bool server_require_json(struct http_req *req)
{
	const char *ct = http_req_header(req, "Content-Type");
	static const char want[] = "application/json";
	if (ct) {
		while (*ct == ' ' || *ct == '\t')
			ct++;
		/* The media type is case-insensitive (RFC 9110 8.3.1); parameters may follow. */
		if (strncasecmp(ct, want, sizeof(want) - 1) == 0) {
			char next = ct[sizeof(want) - 1];
			if (next == '\0' || next == ';' || next == ' ' || next == '\t')
				return true;
		}
	}
	server_error(req, 415, "Content-Type must be application/json");
	return false;
}

int server_uuid4(char out[STORE_ID_BUF])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0f];
	}
	out[o] = '\0';
	return 0;
}

void server_refuse(struct http_req *req, const char *action, const char *resource, unsigned status,
		   const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (action)
		audit_record(req, action, resource, audit_result_for(status), status);
	server_error(req, status, "%s", msg);
}

unsigned server_store_status(int err)
{
	switch (err) {
	case -ENOENT:
		return 404;
	case -EEXIST:
	case -EALREADY:
		return 409;
	case -EINVAL:
		return 422;
	case -EBUSY:
		return 503;
	default:
		return 500;
	}
}
