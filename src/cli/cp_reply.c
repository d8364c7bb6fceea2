/*
 * cp_reply.c - parsers and renderers of cloisterd replies for the CLI (see cp_reply.h).
 *
 * Each parser loads the body with jansson (duplicate keys refused, nothing after the value; the
 * caller already bounded its size), takes what it needs by name, and copies every string it
 * keeps through clean_copy: C0 controls, DEL and the C1 controls (U+0080..U+009F, which some
 * terminals obey as escape sequences) become '?', tabs and newlines a space. jansson has
 * already refused invalid UTF-8, so a copy is valid UTF-8 and the renderers can count a
 * column's width in code points and cut a name without splitting a character. Renderers append
 * to a struct util_buf, which records an allocation failure once for the caller to check.
 */
#include "cli/cp_reply.h"

#include "cli/client.h"
#include "cli/session.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static json_t *load(const char *body, size_t len, size_t flags)
{
	json_error_t e;
	return json_loadb(body, len, JSON_REJECT_DUPLICATES | flags, &e);
}

bool cp_json_valid(const char *body, size_t len)
{
	json_t *doc = load(body, len, JSON_DECODE_ANY);
	json_decref(doc);
	return doc != NULL;
}

bool cp_uuid_valid(const char *s)
{
	for (size_t i = 0; i < CP_UUID_CHARS; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return s[CP_UUID_CHARS] == '\0';
}

int cp_location_id(const char *location, const char *prefix, char out[CP_UUID_CHARS + 1])
{
	out[0] = '\0';
	if (!location)
		return -EPROTO;
	size_t n = strlen(location), pl = strlen(prefix);
	if (n < pl + CP_UUID_CHARS)
		return -EPROTO;
	const char *id = location + n - CP_UUID_CHARS;
	if (memcmp(id - pl, prefix, pl) != 0 || !cp_uuid_valid(id))
		return -EPROTO;
	for (size_t i = 0; i <= CP_UUID_CHARS; i++)
		out[i] = (char)tolower((unsigned char)id[i]);
	return 0;
}

/* A copy of the string v fit for one line of a terminal; NULL in *out when v is not a
 * string. Returns 0 or -ENOMEM. */
static int clean_copy(json_t *v, char **out)
{
	*out = NULL;
	if (!json_is_string(v))
		return 0;
	size_t len = json_string_length(v);
	const unsigned char *s = (const unsigned char *)json_string_value(v);
	char *c = malloc(len + 1);
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = s[i];
		if (ch == '\t' || ch == '\n')
			c[i] = ' ';
		else if (ch < 0x20 || ch == 0x7f)
			c[i] = '?';
		else if (ch == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
			c[i] = '?';
			c[++i] = '?';
		} else
			c[i] = (char)ch;
	}
	c[len] = '\0';
	*out = c;
	return 0;
}

int cp_token_reply_parse(const char *body, size_t len, char **access, char **refresh)
{
	*access = *refresh = NULL;
	json_t *doc = load(body, len, 0);
	json_t *a = json_object_get(doc, "access_token"),
	       *r = json_object_get(doc, "refresh_token");
	int rc = -EPROTO;
	if (json_is_string(a) && json_is_string(r) &&
	    session_token_valid(json_string_value(a), json_string_length(a)) &&
	    session_token_valid(json_string_value(r), json_string_length(r))) {
		*access = strdup(json_string_value(a));
		*refresh = strdup(json_string_value(r));
		rc = *access && *refresh ? 0 : -ENOMEM;
	}
	json_decref(doc);
	if (rc < 0) {
		free(*access);
		free(*refresh);
		*access = *refresh = NULL;
	}
	return rc;
}

bool cp_token_expired(long status, const char *body, size_t len)
{
	if (status != 401)
		return false;
	struct client_resp r = { .status = status, .body = (char *)body, .len = len };
	char msg[256];
	client_error_message(&r, msg, sizeof(msg));
	return strcasestr(msg, "expired") != NULL;
}

/* ---------------------------------------------------------------- objects */

void cp_backend_done(struct cp_backend *b)
{
	if (!b)
		return;
	free(b->id);
	free(b->name);
	free(b->description);
	free(b->address);
	free(b->status);
	free(b->owner);
	free(b->created_at);
	free(b->updated_at);
	free(b->last_seen);
	free(b->last_error);
	*b = (struct cp_backend){ 0 };
}

static int backend_from(json_t *o, struct cp_backend *b)
{
	*b = (struct cp_backend){ 0 };
	if (!json_is_object(o))
		return -EPROTO;
	struct {
		const char *key;
		char **slot;
	} f[] = {
		{ "id", &b->id },
		{ "name", &b->name },
		{ "description", &b->description },
		{ "address", &b->address },
		{ "status", &b->status },
		{ "owner", &b->owner },
		{ "created_at", &b->created_at },
		{ "updated_at", &b->updated_at },
		{ "last_seen", &b->last_seen },
		{ "last_error", &b->last_error },
	};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		if (clean_copy(json_object_get(o, f[i].key), f[i].slot) < 0) {
			cp_backend_done(b);
			return -ENOMEM;
		}
	}
	b->has_info = json_is_true(json_object_get(o, "has_info"));
	if (!b->id || !b->name || !b->address || !b->status) {
		cp_backend_done(b);
		return -EPROTO;
	}
	return 0;
}

int cp_backend_parse(const char *body, size_t len, struct cp_backend *b)
{
	json_t *doc = load(body, len, 0);
	int rc = backend_from(doc, b);
	json_decref(doc);
	return rc;
}

void cp_user_done(struct cp_user *u)
{
	if (!u)
		return;
	free(u->id);
	free(u->username);
	free(u->role);
	free(u->created_at);
	free(u->updated_at);
	*u = (struct cp_user){ 0 };
}

static int user_from(json_t *o, struct cp_user *u)
{
	*u = (struct cp_user){ 0 };
	if (!json_is_object(o))
		return -EPROTO;
	if (clean_copy(json_object_get(o, "id"), &u->id) < 0 ||
	    clean_copy(json_object_get(o, "username"), &u->username) < 0 ||
	    clean_copy(json_object_get(o, "role"), &u->role) < 0 ||
	    clean_copy(json_object_get(o, "created_at"), &u->created_at) < 0 ||
	    clean_copy(json_object_get(o, "updated_at"), &u->updated_at) < 0) {
		cp_user_done(u);
		return -ENOMEM;
	}
	u->disabled = json_is_true(json_object_get(o, "disabled"));
	if (!u->id || !u->username || !u->role) {
		cp_user_done(u);
		return -EPROTO;
	}
	return 0;
}

int cp_user_parse(const char *body, size_t len, struct cp_user *u)
{
	json_t *doc = load(body, len, 0);
	int rc = user_from(doc, u);
	json_decref(doc);
	return rc;
}

/* ---------------------------------------------------------------- pages */

/* A non-negative integer member; absent is 0 unless required. */
static int page_number(json_t *doc, const char *key, bool required, uint64_t *out)
{
	json_t *v = json_object_get(doc, key);
	*out = 0;
	if (!v && !required)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EPROTO;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* The page header and its array (borrowed from doc) of at most CP_PAGE_MAX_ITEMS. */
static int page_from(json_t *doc, const char *key, uint64_t *total, uint64_t *limit,
		     uint64_t *offset, json_t **arr)
{
	*arr = NULL;
	if (!json_is_object(doc))
		return -EPROTO;
	int rc = page_number(doc, "total", true, total);
	if (rc == 0)
		rc = page_number(doc, "limit", false, limit);
	if (rc == 0)
		rc = page_number(doc, "offset", false, offset);
	json_t *a = json_object_get(doc, key);
	if (rc == 0 && !json_is_array(a))
		rc = -EPROTO;
	if (rc == 0 && json_array_size(a) > CP_PAGE_MAX_ITEMS)
		rc = -E2BIG;
	if (rc == 0)
		*arr = a;
	return rc;
}

void cp_backend_list_done(struct cp_backend_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		cp_backend_done(&l->items[i]);
	free(l->items);
	*l = (struct cp_backend_list){ 0 };
}

int cp_backend_list_parse(const char *body, size_t len, struct cp_backend_list *l)
{
	*l = (struct cp_backend_list){ 0 };
	json_t *doc = load(body, len, 0), *arr;
	int rc = page_from(doc, "backends", &l->total, &l->limit, &l->offset, &arr);
	size_t n = rc == 0 ? json_array_size(arr) : 0;
	if (n > 0 && !(l->items = calloc(n, sizeof(*l->items))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = backend_from(json_array_get(arr, i), &l->items[i]);
		if (rc == 0)
			l->n++;
	}
	json_decref(doc);
	if (rc < 0)
		cp_backend_list_done(l);
	return rc;
}

void cp_user_list_done(struct cp_user_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		cp_user_done(&l->items[i]);
	free(l->items);
	*l = (struct cp_user_list){ 0 };
}

int cp_user_list_parse(const char *body, size_t len, struct cp_user_list *l)
{
	*l = (struct cp_user_list){ 0 };
	json_t *doc = load(body, len, 0), *arr;
	int rc = page_from(doc, "users", &l->total, &l->limit, &l->offset, &arr);
	size_t n = rc == 0 ? json_array_size(arr) : 0;
	if (n > 0 && !(l->items = calloc(n, sizeof(*l->items))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = user_from(json_array_get(arr, i), &l->items[i]);
		if (rc == 0)
			l->n++;
	}
	json_decref(doc);
	if (rc < 0)
		cp_user_list_done(l);
	return rc;
}

/* ---------------------------------------------------------------- rendering */

static void put_str(struct util_buf *b, const char *s)
{
	util_buf_put(b, s, strlen(s));
}

static void put_fmt(struct util_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(struct util_buf *b, const char *fmt, ...)
{
	char small[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		util_buf_put(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	util_buf_put(b, big, (size_t)n);
	free(big);
}

static void put_spaces(struct util_buf *b, size_t n)
{
	static const char sp[] = "                                ";
	while (n > 0) {
		size_t k = n < sizeof(sp) - 1 ? n : sizeof(sp) - 1;
		util_buf_put(b, sp, k);
		n -= k;
	}
}

/* Width of valid UTF-8 in code points (a terminal cell each, near enough). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* Byte length of the first n code points of s. */
static size_t prefix_bytes(const char *s, size_t n)
{
	size_t i = 0;
	while (s[i] && n > 0) {
		i++;
		while (((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		n--;
	}
	return i;
}

/* A cell is its text, or the first max - 3 code points and "..." when it is wider. */
struct cell {
	const char *s;
	size_t bytes, w;
	bool cut;
};

static struct cell mkcell(const char *s, size_t max)
{
	struct cell c = { .s = s ? s : "-" };
	c.w = width(c.s);
	c.bytes = strlen(c.s);
	if (max && c.w > max) {
		c.bytes = prefix_bytes(c.s, max - 3);
		c.w = max;
		c.cut = true;
	}
	return c;
}

/* Renders rows of ncol cells: each column as wide as its widest cell, two spaces between,
 * nothing after the last. cells holds (rows + 1) * ncol entries, the header first. */
static void render_table(struct util_buf *b, const struct cell *cells, size_t rows, size_t ncol)
{
	size_t w[8] = { 0 };
	for (size_t r = 0; r <= rows; r++)
		for (size_t c = 0; c < ncol; c++)
			if (cells[r * ncol + c].w > w[c])
				w[c] = cells[r * ncol + c].w;
	for (size_t r = 0; r <= rows; r++) {
		for (size_t c = 0; c < ncol; c++) {
			const struct cell *x = &cells[r * ncol + c];
			util_buf_put(b, x->s, x->bytes);
			if (x->cut)
				put_str(b, "...");
			if (c + 1 < ncol)
				put_spaces(b, w[c] - x->w + 2);
		}
		put_str(b, "\n");
	}
}

int cp_backend_table(const struct cp_backend_list *l, struct util_buf *out)
{
	enum { NCOL = 5 };
	struct cell *cells = calloc((l->n + 1) * NCOL, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	static const char *const head[NCOL] = { "ID", "NAME", "ADDRESS", "STATUS", "LAST_SEEN" };
	for (size_t c = 0; c < NCOL; c++)
		cells[c] = mkcell(head[c], 0);
	for (size_t i = 0; i < l->n; i++) {
		const struct cp_backend *x = &l->items[i];
		struct cell *row = &cells[(i + 1) * NCOL];
		row[0] = mkcell(x->id, 0);
		row[1] = mkcell(x->name, CP_NAME_COLUMN_MAX_CHARS);
		row[2] = mkcell(x->address, 0);
		row[3] = mkcell(x->status, 0);
		row[4] = mkcell(x->last_seen, 0);
	}
	render_table(out, cells, l->n, NCOL);
	free(cells);
	put_fmt(out, "%zu of %llu\n", l->n, (unsigned long long)l->total);
	return out->oom ? -ENOMEM : 0;
}

int cp_user_table(const struct cp_user_list *l, struct util_buf *out)
{
	enum { NCOL = 5 };
	struct cell *cells = calloc((l->n + 1) * NCOL, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	static const char *const head[NCOL] = { "ID", "USERNAME", "ROLE", "DISABLED",
						"CREATED_AT" };
	for (size_t c = 0; c < NCOL; c++)
		cells[c] = mkcell(head[c], 0);
	for (size_t i = 0; i < l->n; i++) {
		const struct cp_user *x = &l->items[i];
		struct cell *row = &cells[(i + 1) * NCOL];
		row[0] = mkcell(x->id, 0);
		row[1] = mkcell(x->username, 0);
		row[2] = mkcell(x->role, 0);
		row[3] = mkcell(x->disabled ? "yes" : "no", 0);
		row[4] = mkcell(x->created_at, 0);
	}
	render_table(out, cells, l->n, NCOL);
	free(cells);
	put_fmt(out, "%zu of %llu\n", l->n, (unsigned long long)l->total);
	return out->oom ? -ENOMEM : 0;
}

int cp_backend_render(const struct cp_backend *b, struct util_buf *out)
{
	const struct {
		const char *key, *val;
		bool always;
	} f[] = {
		{ "id", b->id, true },
		{ "name", b->name, true },
		{ "description", b->description, true },
		{ "address", b->address, true },
		{ "status", b->status, true },
		{ "owner", b->owner, true },
		{ "created_at", b->created_at, true },
		{ "updated_at", b->updated_at, true },
		{ "last_seen", b->last_seen, false },
		{ "last_error", b->last_error, false },
		{ "has_info", b->has_info ? "yes" : "no", true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		if (!f[i].val && !f[i].always)
			continue;
		const char *v = f[i].val ? f[i].val : "-";
		if (v[0])
			put_fmt(out, "%-12s %s\n", f[i].key, v);
		else
			put_fmt(out, "%s\n", f[i].key);
	}
	return out->oom ? -ENOMEM : 0;
}

/* ---------------------------------------------------------------- update */

/* Sets key to the argument when given, else to the object's value when it is a string. */
static int merge_one(json_t *dst, json_t *src, const char *key, const char *arg, bool required)
{
	json_t *v = arg ? json_string(arg) : json_incref(json_object_get(src, key));
	if (arg && !v)
		return -EINVAL; /* not UTF-8 (or ENOMEM: jansson does not say which) */
	if (!json_is_string(v)) {
		json_decref(v);
		return required ? -EPROTO : 0;
	}
	return json_object_set_new(dst, key, v) == 0 ? 0 : -ENOMEM;
}

int cp_backend_update_body(const char *body, size_t len, const char *name, const char *address,
			   const char *description, char **out)
{
	*out = NULL;
	json_t *src = load(body, len, 0), *dst = json_object();
	int rc = !dst ? -ENOMEM : json_is_object(src) ? 0 : -EPROTO;
	/* Prism's key order: name, description, address. */
	if (rc == 0)
		rc = merge_one(dst, src, "name", name, true);
	if (rc == 0)
		rc = merge_one(dst, src, "description", description, false);
	if (rc == 0)
		rc = merge_one(dst, src, "address", address, true);
	if (rc == 0 && !(*out = json_dumps(dst, JSON_COMPACT)))
		rc = -ENOMEM;
	json_decref(src);
	json_decref(dst);
	return rc;
}

/* ---------------------------------------------------------------- certificates */

bool cp_serial_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= CP_SERIAL_MAX_CHARS || !isxdigit((unsigned char)s[n]))
			return false;
	return n > 0;
}

int cp_serial_reply_parse(const char *body, size_t len, char out[CP_SERIAL_MAX_CHARS + 1])
{
	out[0] = '\0';
	json_t *doc = load(body, len, 0);
	json_t *v = json_object_get(doc, "serial_number");
	int rc = -EPROTO;
	if (json_is_string(v) && cp_serial_valid(json_string_value(v))) {
		const char *s = json_string_value(v);
		size_t i = 0;
		for (; s[i]; i++)
			out[i] = (char)tolower((unsigned char)s[i]);
		out[i] = '\0';
		rc = 0;
	}
	json_decref(doc);
	return rc;
}

int cp_download_token_parse(const char *body, size_t len, char **token)
{
	*token = NULL;
	json_t *doc = load(body, len, 0);
	json_t *v = json_object_get(doc, "token");
	int rc = -EPROTO;
	if (json_is_string(v) && session_token_valid(json_string_value(v), json_string_length(v))) {
		*token = strdup(json_string_value(v));
		rc = *token ? 0 : -ENOMEM;
	}
	json_decref(doc);
	return rc;
}

/* Printable ASCII lines only (what PEM is): nothing in it can drive a terminal. */
static bool pem_text(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch != '\n' && (ch < 0x20 || ch > 0x7e))
			return false;
	}
	return true;
}

bool cp_pem_valid(const char *body, size_t len)
{
	static const char begin[] = "-----BEGIN ";
	if (!body || !pem_text(body, len) || len < sizeof(begin) - 1)
		return false;
	if (memcmp(body, begin, sizeof(begin) - 1) == 0)
		return true;
	for (size_t i = 0; i + sizeof(begin) <= len; i++)
		if (body[i] == '\n' && memcmp(body + i + 1, begin, sizeof(begin) - 1) == 0)
			return true;
	return false;
}

void cp_cert_done(struct cp_cert *c)
{
	if (!c)
		return;
	free(c->serial);
	free(c->backend_id);
	free(c->not_before);
	free(c->not_after);
	free(c->revoked_at);
	free(c->certificate);
	*c = (struct cp_cert){ 0 };
}

static int cert_from(json_t *o, struct cp_cert *c)
{
	*c = (struct cp_cert){ 0 };
	if (!json_is_object(o))
		return -EPROTO;
	struct {
		const char *key;
		char **slot;
	} f[] = {
		{ "serial_number", &c->serial },  { "backend_id", &c->backend_id },
		{ "not_before", &c->not_before }, { "not_after", &c->not_after },
		{ "revoked_at", &c->revoked_at },
	};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		if (clean_copy(json_object_get(o, f[i].key), f[i].slot) < 0) {
			cp_cert_done(c);
			return -ENOMEM;
		}
	}
	json_t *pem = json_object_get(o, "certificate");
	if (json_is_string(pem) && pem_text(json_string_value(pem), json_string_length(pem)) &&
	    strlen(json_string_value(pem)) == json_string_length(pem) &&
	    !(c->certificate = strdup(json_string_value(pem)))) {
		cp_cert_done(c);
		return -ENOMEM;
	}
	c->revoked = json_is_true(json_object_get(o, "revoked"));
	c->key_available = json_is_true(json_object_get(o, "key_available"));
	if (!c->serial || !c->backend_id) {
		cp_cert_done(c);
		return -EPROTO;
	}
	return 0;
}

int cp_cert_parse(const char *body, size_t len, struct cp_cert *c)
{
	json_t *doc = load(body, len, 0);
	int rc = cert_from(doc, c);
	json_decref(doc);
	return rc;
}

int cp_cert_render(const struct cp_cert *c, struct util_buf *out)
{
	const struct {
		const char *key, *val;
	} f[] = {
		{ "serial", c->serial },
		{ "backend", c->backend_id },
		{ "not_before", c->not_before },
		{ "not_after", c->not_after },
		{ "revoked", c->revoked ? "yes" : "no" },
		{ "revoked_at", c->revoked_at },
		{ "key", c->key_available ? "available (not downloaded yet)" : "not held" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (f[i].val)
			put_fmt(out, "%-12s %s\n", f[i].key, f[i].val);
	if (c->certificate && c->certificate[0]) {
		put_str(out, c->certificate);
		if (c->certificate[strlen(c->certificate) - 1] != '\n')
			put_str(out, "\n");
	}
	return out->oom ? -ENOMEM : 0;
}

void cp_cert_list_done(struct cp_cert_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		cp_cert_done(&l->items[i]);
	free(l->items);
	*l = (struct cp_cert_list){ 0 };
}

int cp_cert_list_parse(const char *body, size_t len, struct cp_cert_list *l)
{
	*l = (struct cp_cert_list){ 0 };
	json_t *doc = load(body, len, 0), *arr;
	int rc = page_from(doc, "certificates", &l->total, &l->limit, &l->offset, &arr);
	size_t n = rc == 0 ? json_array_size(arr) : 0;
	if (n > 0 && !(l->items = calloc(n, sizeof(*l->items))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = cert_from(json_array_get(arr, i), &l->items[i]);
		if (rc == 0)
			l->n++;
	}
	json_decref(doc);
	if (rc < 0)
		cp_cert_list_done(l);
	return rc;
}

int cp_cert_table(const struct cp_cert_list *l, struct util_buf *out)
{
	enum { NCOL = 5 };
	struct cell *cells = calloc((l->n + 1) * NCOL, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	static const char *const head[NCOL] = { "SERIAL", "BACKEND", "NOT_AFTER", "REVOKED",
						"KEY" };
	for (size_t c = 0; c < NCOL; c++)
		cells[c] = mkcell(head[c], 0);
	for (size_t i = 0; i < l->n; i++) {
		const struct cp_cert *x = &l->items[i];
		struct cell *row = &cells[(i + 1) * NCOL];
		row[0] = mkcell(x->serial, 0);
		row[1] = mkcell(x->backend_id, 0);
		row[2] = mkcell(x->not_after, 0);
		row[3] = mkcell(x->revoked ? "yes" : "no", 0);
		row[4] = mkcell(x->key_available ? "available" : "-", 0);
	}
	render_table(out, cells, l->n, NCOL);
	free(cells);
	put_fmt(out, "%zu of %llu\n", l->n, (unsigned long long)l->total);
	return out->oom ? -ENOMEM : 0;
}

/* ---------------------------------------------------------------- agent status replies */

/* The strings one renderer made, freed together. */
struct strs {
	char **v;
	size_t n, cap;
	bool oom;
};

static const char *strs_keep(struct strs *s, char *p)
{
	if (!p) {
		s->oom = true;
		return NULL;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		char **nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv) {
			free(p);
			s->oom = true;
			return NULL;
		}
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = p;
	return p;
}

static void strs_free(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strs){ 0 };
}

/* A value as one clean cell: strings cleaned, integers and reals printed, booleans yes/no;
 * NULL for null, absent and containers. */
static const char *text_of(struct strs *s, json_t *v)
{
	char buf[64];
	if (json_is_string(v)) {
		char *c = NULL;
		if (clean_copy(v, &c) < 0) {
			s->oom = true;
			return NULL;
		}
		return strs_keep(s, c);
	}
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, sizeof(buf), "%.1f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "yes" : "no");
	else
		return NULL;
	return strs_keep(s, strdup(buf));
}

/* o[a][b] (b may be NULL). */
static json_t *path2(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);
	return b ? json_object_get(v, b) : v;
}

/* A table from an array of objects: column c is text_of(path2(item, keys[c][0], keys[c][1])).
 * At most 8 columns (render_table's). */
static int object_table(struct util_buf *out, json_t *arr, const char *const *head,
			const char *const (*keys)[2], size_t ncol)
{
	size_t n = json_array_size(arr);
	if (n > CP_PAGE_MAX_ITEMS)
		return -E2BIG;
	struct cell *cells = calloc((n + 1) * ncol, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	struct strs s = { 0 };
	for (size_t c = 0; c < ncol; c++)
		cells[c] = mkcell(head[c], 0);
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(arr, i);
		for (size_t c = 0; c < ncol; c++)
			cells[(i + 1) * ncol + c] =
				mkcell(text_of(&s, path2(it, keys[c][0], keys[c][1])),
				       CP_NAME_COLUMN_MAX_CHARS);
	}
	if (!s.oom)
		render_table(out, cells, n, ncol);
	free(cells);
	bool oom = s.oom;
	strs_free(&s);
	return oom || out->oom ? -ENOMEM : 0;
}

int cp_services_render(const char *body, size_t len, struct util_buf *out)
{
	json_t *doc = load(body, len, 0);
	json_t *arr = json_object_get(doc, "services");
	int rc = -EPROTO;
	if (json_is_array(arr)) {
		static const char *const head[] = { "ID", "UNIT", "DESCRIPTION" };
		static const char *const keys[][2] = { { "id", NULL },
						       { "unit", NULL },
						       { "description", NULL } };
		rc = object_table(out, arr, head, keys, ARRAY_SIZE(head));
	}
	json_decref(doc);
	return rc;
}

/* "key  value" lines of the named members of o (absent ones skipped). */
static void kv_lines(struct util_buf *out, struct strs *s, json_t *o, const char *const *keys,
		     size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = text_of(s, json_object_get(o, keys[i]));
		if (v)
			put_fmt(out, "%-16s %s\n", keys[i], v);
	}
}

int cp_service_status_render(const char *body, size_t len, struct util_buf *out)
{
	json_t *doc = load(body, len, 0);
	json_t *svc = json_object_get(doc, "service"), *st = json_object_get(doc, "status");
	int rc = -EPROTO;
	if (json_is_object(svc) && json_is_object(st)) {
		struct strs s = { 0 };
		static const char *const sk[] = { "id", "unit", "description" };
		static const char *const stk[] = { "load_state",      "active_state", "sub_state",
						   "unit_file_state", "main_pid",     "exit_code",
						   "exit_status" };
		kv_lines(out, &s, svc, sk, ARRAY_SIZE(sk));
		kv_lines(out, &s, st, stk, ARRAY_SIZE(stk));
		const char *h = text_of(&s, json_object_get(doc, "healthy"));
		if (h)
			put_fmt(out, "%-16s %s\n", "healthy", h);
		rc = s.oom || out->oom ? -ENOMEM : 0;
		strs_free(&s);
	}
	json_decref(doc);
	return rc;
}

int cp_service_logs_render(const char *body, size_t len, struct util_buf *out)
{
	json_t *doc = load(body, len, 0);
	json_t *arr = json_object_get(doc, "logs");
	int rc = -EPROTO;
	if (json_is_array(arr)) {
		rc = 0;
		for (size_t i = 0; rc == 0 && i < json_array_size(arr); i++) {
			char *line = NULL;
			if (clean_copy(json_array_get(arr, i), &line) < 0)
				rc = -ENOMEM;
			else if (line)
				put_fmt(out, "%s\n", line);
			free(line);
		}
		if (rc == 0 && out->oom)
			rc = -ENOMEM;
	}
	json_decref(doc);
	return rc;
}

int cp_gpu_render(const char *body, size_t len, struct util_buf *out)
{
	json_t *doc = load(body, len, 0);
	json_t *arr = json_object_get(doc, "gpus");
	int rc = -EPROTO;
	if (json_is_array(arr)) {
		struct strs s = { 0 };
		const char *drv = text_of(&s, json_object_get(doc, "driver_version"));
		const char *cuda = text_of(&s, json_object_get(doc, "cuda_version"));
		put_fmt(out, "driver %s  cuda %s  gpus %zu\n", drv ? drv : "-", cuda ? cuda : "-",
			json_array_size(arr));
		static const char *const head[] = { "INDEX",         "NAME",      "UUID",
						    "TEMP_C",        "GPU_UTIL%", "MEM_USED_MIB",
						    "MEM_TOTAL_MIB", "POWER_W" };
		static const char *const keys[][2] = {
			{ "index", NULL },
			{ "name", NULL },
			{ "uuid", NULL },
			{ "temperature_c", NULL },
			{ "utilization", "gpu_pct" },
			{ "memory", "used_mib" },
			{ "memory", "total_mib" },
			{ "power", "draw_w" },
		};
		rc = s.oom ? -ENOMEM : object_table(out, arr, head, keys, ARRAY_SIZE(head));
		strs_free(&s);
	}
	json_decref(doc);
	return rc;
}

int cp_overview_render(const char *body, size_t len, struct util_buf *out)
{
	json_t *doc = load(body, len, 0);
	json_t *st = json_object_get(doc, "status"), *arr = json_object_get(doc, "services");
	int rc = -EPROTO;
	if (json_is_string(st)) {
		struct strs s = { 0 };
		const char *status = text_of(&s, st);
		const char *ts = text_of(&s, json_object_get(doc, "timestamp"));
		put_fmt(out, "status %s\n", status ? status : "-");
		if (ts)
			put_fmt(out, "timestamp %s\n", ts);
		json_t *gpu = json_object_get(doc, "gpu");
		const char *gs = text_of(&s, json_object_get(gpu, "status"));
		put_fmt(out, "gpu %s\n", json_is_object(gpu) ? (gs ? gs : "-") : "none");
		rc = s.oom ? -ENOMEM : 0;
		strs_free(&s);
		if (rc == 0 && json_is_array(arr)) {
			static const char *const head[] = { "SERVICE", "UNIT", "ACTIVE", "SUB",
							    "HEALTHY" };
			static const char *const keys[][2] = { { "service", "id" },
							       { "service", "unit" },
							       { "status", "active_state" },
							       { "status", "sub_state" },
							       { "healthy", NULL } };
			rc = object_table(out, arr, head, keys, ARRAY_SIZE(head));
		}
	}
	json_decref(doc);
	return rc;
}
