/*
 * fuzz_cp_reply.c - libFuzzer harness for the CLI's parsers of cloisterd replies
 * (src/cli/cp_reply.c) and the error message they share with the agent's (client.c).
 *
 * Input: a mode byte, then the reply bytes. The mode picks the parser:
 *   'b' cp_backend_parse + cp_backend_render          (GET /backends/{id})
 *   'l' cp_backend_list_parse + cp_backend_table      (GET /backends)
 *   'u' cp_user_parse                                 (POST /users)
 *   'U' cp_user_list_parse + cp_user_table            (GET /users)
 *   't' cp_token_reply_parse                          (POST /users/tokens/issue|refresh)
 *   'e' client_error_message and cp_token_expired     (any error reply, as a 401)
 *   'L' cp_location_id with "/backends/" and "/users/" (a Location header)
 *   'm' cp_backend_update_body with and without overrides (backends update)
 *   'j' cp_json_valid
 *   'c' cp_cert_parse + cp_cert_render                (GET /certs/{serial})
 *   'C' cp_cert_list_parse + cp_cert_table            (GET /certs)
 *   's' cp_serial_reply_parse, cp_download_token_parse, cp_pem_valid (issue, renew, token, PEM)
 *   'S' cp_services_render                            (the agent's GET /services, proxied)
 *   'T' cp_service_status_render                      (GET /services/{id}/status)
 *   'g' cp_service_logs_render                        (GET /services/{id}/logs)
 *   'G' cp_gpu_render                                 (GET /gpu)
 *   'o' cp_overview_render                            (GET /overview)
 * Any other mode byte picks one of these by its value, so every input exercises a parser.
 * Beyond memory safety it checks what the CLI promises: rendered text has no control
 * character but '\n' ending each line and is valid UTF-8, parsed strings hold no control
 * character at all, tokens are visible ASCII, an id from Location is a lowercase UUID, and a
 * merged update body is a JSON object with string name and address, a serial is lowercase hex,
 * and a certificate's PEM is printable text.
 */
#include "cli/client.h"
#include "cli/cp_reply.h"
#include "cli/limits.h"
#include "cli/session.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_line_text(const char *s)
{
	if (!s)
		return;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			abort();
		if (ch == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)
			abort(); /* a C1 control */
	}
	if (!util_utf8_valid(s, n))
		abort();
}

/* Rendered output: lines of clean text, each ended by '\n'. */
static void check_rendered(struct util_buf *b)
{
	if (b->oom) {
		free(b->p);
		return;
	}
	if (b->len == 0 || b->p[b->len - 1] != '\n' || strlen(b->p) != b->len)
		abort();
	if (!util_utf8_valid(b->p, b->len))
		abort();
	for (size_t i = 0; i < b->len; i++) {
		unsigned char ch = (unsigned char)b->p[i];
		if ((ch < 0x20 && ch != '\n') || ch == 0x7f)
			abort();
	}
	free(b->p);
}

static void check_backend(const struct cp_backend *x)
{
	if (!x->id || !x->name || !x->address || !x->status)
		abort();
	const char *f[] = { x->id,    x->name,       x->description, x->address,   x->status,
			    x->owner, x->created_at, x->updated_at,  x->last_seen, x->last_error };
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		check_line_text(f[i]);
}

static void check_user(const struct cp_user *u)
{
	if (!u->id || !u->username || !u->role)
		abort();
	check_line_text(u->id);
	check_line_text(u->username);
	check_line_text(u->role);
	check_line_text(u->created_at);
	check_line_text(u->updated_at);
}

static void fuzz_backend(const char *body, size_t len)
{
	struct cp_backend b;
	if (cp_backend_parse(body, len, &b) == 0) {
		check_backend(&b);
		struct util_buf out = { 0 };
		cp_backend_render(&b, &out);
		check_rendered(&out);
	}
	cp_backend_done(&b);
}

static void fuzz_backend_list(const char *body, size_t len)
{
	struct cp_backend_list l;
	if (cp_backend_list_parse(body, len, &l) == 0) {
		if (l.n > CP_PAGE_MAX_ITEMS)
			abort();
		for (size_t i = 0; i < l.n; i++)
			check_backend(&l.items[i]);
		struct util_buf out = { 0 };
		cp_backend_table(&l, &out);
		check_rendered(&out);
	}
	cp_backend_list_done(&l);
}

static void fuzz_user(const char *body, size_t len)
{
	struct cp_user u;
	if (cp_user_parse(body, len, &u) == 0)
		check_user(&u);
	cp_user_done(&u);
}

static void fuzz_user_list(const char *body, size_t len)
{
	struct cp_user_list l;
	if (cp_user_list_parse(body, len, &l) == 0) {
		for (size_t i = 0; i < l.n; i++)
			check_user(&l.items[i]);
		struct util_buf out = { 0 };
		cp_user_table(&l, &out);
		check_rendered(&out);
	}
	cp_user_list_done(&l);
}

static void fuzz_tokens(const char *body, size_t len)
{
	char *a, *r;
	if (cp_token_reply_parse(body, len, &a, &r) == 0) {
		if (!session_token_valid(a, strlen(a)) || !session_token_valid(r, strlen(r)))
			abort();
		free(a);
		free(r);
	} else if (a || r) {
		abort();
	}
}

static void fuzz_location(const char *body)
{
	static const char *const prefixes[] = { "/backends/", "/users/" };
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		char id[CP_UUID_CHARS + 1];
		if (cp_location_id(body, prefixes[i], id) == 0) {
			if (!cp_uuid_valid(id))
				abort();
			for (size_t k = 0; k < CP_UUID_CHARS; k++)
				if (id[k] >= 'A' && id[k] <= 'F')
					abort();
		}
	}
}

static void check_update(const char *body, size_t len, const char *name, const char *addr,
			 const char *desc)
{
	char *out;
	if (cp_backend_update_body(body, len, name, addr, desc, &out) != 0)
		return;
	json_error_t e;
	json_t *doc = json_loads(out, JSON_REJECT_DUPLICATES, &e);
	json_t *n = json_object_get(doc, "name"), *a = json_object_get(doc, "address");
	if (!json_is_string(n) || !json_is_string(a))
		abort();
	if (name && strcmp(json_string_value(n), name) != 0)
		abort();
	if (json_object_size(doc) > 3)
		abort();
	json_decref(doc);
	free(out);
}

static void check_cert(const struct cp_cert *c)
{
	if (!c->serial || !c->backend_id)
		abort();
	const char *f[] = { c->serial, c->backend_id, c->not_before, c->not_after, c->revoked_at };
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		check_line_text(f[i]);
	for (const char *p = c->certificate; p && *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p > 0x7e)
			abort();
}

static void fuzz_cert(const char *body, size_t len)
{
	struct cp_cert c;
	if (cp_cert_parse(body, len, &c) == 0) {
		check_cert(&c);
		struct util_buf out = { 0 };
		cp_cert_render(&c, &out);
		check_rendered(&out);
	}
	cp_cert_done(&c);
}

static void fuzz_cert_list(const char *body, size_t len)
{
	struct cp_cert_list l;
	if (cp_cert_list_parse(body, len, &l) == 0) {
		if (l.n > CP_PAGE_MAX_ITEMS)
			abort();
		for (size_t i = 0; i < l.n; i++)
			check_cert(&l.items[i]);
		struct util_buf out = { 0 };
		cp_cert_table(&l, &out);
		check_rendered(&out);
	}
	cp_cert_list_done(&l);
}

static void fuzz_small_replies(const char *body, size_t len)
{
	char serial[CP_SERIAL_MAX_CHARS + 1];
	if (cp_serial_reply_parse(body, len, serial) == 0) {
		if (!cp_serial_valid(serial))
			abort();
		for (const char *p = serial; *p; p++)
			if (*p >= 'A' && *p <= 'F')
				abort();
	}
	char *tok = NULL;
	if (cp_download_token_parse(body, len, &tok) == 0) {
		if (!session_token_valid(tok, strlen(tok)))
			abort();
		free(tok);
	} else if (tok) {
		abort();
	}
	if (cp_pem_valid(body, len))
		for (size_t i = 0; i < len; i++)
			if ((body[i] < 0x20 && body[i] != '\n') || body[i] > 0x7e)
				abort();
}

/* A status renderer: what it printed (possibly nothing: an empty log) is clean lines. */
static void fuzz_status(int (*render)(const char *, size_t, struct util_buf *), const char *body,
			size_t len)
{
	struct util_buf out = { 0 };
	if (render(body, len, &out) == 0 && out.len > 0) {
		check_rendered(&out);
		return;
	}
	free(out.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char modes[] = "blUutLemjcCsSTgGo";
	if (size < 1)
		return 0;
	char mode = (char)data[0];
	if (!memchr(modes, mode, sizeof(modes) - 1))
		mode = modes[data[0] % (sizeof(modes) - 1)];
	size_t len = size - 1;
	/* A collected body is NUL-terminated (client_do); an exact-size copy keeps ASan precise. */
	char *body = malloc(len + 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, len);
	body[len] = '\0';

	switch (mode) {
	case 'b':
		fuzz_backend(body, len);
		break;
	case 'l':
		fuzz_backend_list(body, len);
		break;
	case 'u':
		fuzz_user(body, len);
		break;
	case 'U':
		fuzz_user_list(body, len);
		break;
	case 't':
		fuzz_tokens(body, len);
		break;
	case 'L':
		fuzz_location(body);
		break;
	case 'm':
		check_update(body, len, NULL, NULL, NULL);
		check_update(body, len, "new-name", "10.0.0.1:8443", "");
		break;
	case 'j':
		(void)cp_json_valid(body, len);
		break;
	case 'c':
		fuzz_cert(body, len);
		break;
	case 'C':
		fuzz_cert_list(body, len);
		break;
	case 's':
		fuzz_small_replies(body, len);
		break;
	case 'S':
		fuzz_status(cp_services_render, body, len);
		break;
	case 'T':
		fuzz_status(cp_service_status_render, body, len);
		break;
	case 'g':
		fuzz_status(cp_service_logs_render, body, len);
		break;
	case 'G':
		fuzz_status(cp_gpu_render, body, len);
		break;
	case 'o':
		fuzz_status(cp_overview_render, body, len);
		break;
	default: { /* 'e' */
		struct client_resp r = { .status = 401, .body = body, .len = len };
		char out[CLI_ERROR_MESSAGE_MAX_BYTES];
		client_error_message(&r, out, sizeof(out));
		if (!memchr(out, '\0', sizeof(out)))
			abort();
		(void)cp_token_expired(401, body, len);
		(void)cp_token_expired(403, body, len);
		break;
	}
	}
	free(body);
	return 0;
}
