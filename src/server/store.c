/*
 * store.c - the front of store.h: parses the store URL, dispatches every call through the
 * implementation's function table (store_impl.h), and keeps what every implementation shares.
 *
 * All argument checking happens here, before any SQL: each text is bounded by its store.h
 * limit, must be valid UTF-8 (PostgreSQL refuses anything else, and SQLite must store the same
 * things), and list limits and offsets are range-checked. A struct field counts as over its
 * limit when its array holds no NUL. Failures return -EINVAL and leave a message naming the
 * field in store_last_error. So an implementation only deals with its database.
 *
 * store_last_error is a thread-local buffer: HTTP threads share one store, and each wants the
 * detail of its own failure.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store.h"
#include "server/store_impl.h"
#include "util.h"

struct store {
	const struct store_ops *ops;
	void *impl;
};

static _Thread_local char last_error[STORE_LAST_ERROR_BYTES];

void store_set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *store_last_error(void)
{
	return last_error;
}

/* A text argument: present, at most max bytes, non-empty when required, valid UTF-8. strnlen
 * never reads past max + 1 bytes, which is the size of every fixed field. */
static int check_text(const char *what, const char *s, size_t max, bool need)
{
	if (!s) {
		store_set_error("%s: missing", what);
		return -EINVAL;
	}
	size_t n = strnlen(s, max + 1);
	if (n > max) {
		store_set_error("%s: longer than %zu bytes", what, max);
		return -EINVAL;
	}
	if (need && n == 0) {
		store_set_error("%s: empty", what);
		return -EINVAL;
	}
	if (!util_utf8_valid(s, n)) {
		store_set_error("%s: not valid UTF-8", what);
		return -EINVAL;
	}
	return 0;
}

#define CHECK_FIELD(what, field, need) check_text(what, field, sizeof(field) - 1, need)

static int check_id(const char *what, const char *id)
{
	return check_text(what, id, STORE_ID_CHARS, true);
}

static int check_audit(const struct store_audit *a)
{
	int r;
	if (!a)
		return 0;
	if ((r = CHECK_FIELD("audit client", a->client, false)) < 0 ||
	    (r = CHECK_FIELD("audit principal", a->principal, false)) < 0 ||
	    (r = CHECK_FIELD("audit action", a->action, true)) < 0 ||
	    (r = CHECK_FIELD("audit resource", a->resource, false)) < 0 ||
	    (r = CHECK_FIELD("audit result", a->result, false)) < 0)
		return r;
	return 0;
}

static int check_user(const struct store_user *u)
{
	int r;
	if (!u) {
		store_set_error("user: missing");
		return -EINVAL;
	}
	if ((r = CHECK_FIELD("user id", u->id, true)) < 0 ||
	    (r = CHECK_FIELD("username", u->username, true)) < 0 ||
	    (r = CHECK_FIELD("role", u->role, true)) < 0 ||
	    (r = CHECK_FIELD("password hash", u->pw_hash, false)) < 0)
		return r;
	return 0;
}

static int check_backend(const struct store_backend *b)
{
	int r;
	if (!b) {
		store_set_error("backend: missing");
		return -EINVAL;
	}
	if ((r = CHECK_FIELD("backend id", b->id, true)) < 0 ||
	    (r = CHECK_FIELD("owner", b->owner, true)) < 0 ||
	    (r = CHECK_FIELD("name", b->name, true)) < 0 ||
	    (r = CHECK_FIELD("description", b->description, false)) < 0 ||
	    (r = CHECK_FIELD("address", b->address, true)) < 0 ||
	    (r = CHECK_FIELD("status", b->status, false)) < 0 ||
	    (r = CHECK_FIELD("last error", b->last_error, false)) < 0)
		return r;
	return 0;
}

static int check_list(unsigned limit, uint64_t offset)
{
	if (limit < 1 || limit > STORE_LIST_MAX) {
		store_set_error("limit: must be 1..%u", (unsigned)STORE_LIST_MAX);
		return -EINVAL;
	}
	if (offset > (uint64_t)INT64_MAX) {
		store_set_error("offset: out of range");
		return -EINVAL;
	}
	return 0;
}

static int check_out(const void *a, const void *b)
{
	if (!a || !b) {
		store_set_error("missing output argument");
		return -EINVAL;
	}
	return 0;
}

#define STORE_OK(s)                                                                                \
	do {                                                                                       \
		if (!(s)) {                                                                        \
			store_set_error("no store");                                               \
			return -EINVAL;                                                            \
		}                                                                                  \
	} while (0)

/* --- open / close --- */

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		(void)snprintf(err, errlen, "%s", msg);
}

struct store *store_open(const char *url, char *err, size_t errlen)
{
	static const char sqlite_prefix[] = "sqlite:";
	const struct store_ops *ops = &store_sqlite_ops;
	const char *target = url;

	if (!url || !*url) {
		set_err(err, errlen, "store: empty database URL");
		return NULL;
	}
	if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)) {
#ifdef CLOISTER_HAVE_PG
		ops = &store_pg_ops;
#else
		set_err(err, errlen, "store: PostgreSQL support is not built into this program");
		return NULL;
#endif
	} else if (!strncmp(url, sqlite_prefix, sizeof(sqlite_prefix) - 1)) {
		target = url + sizeof(sqlite_prefix) - 1;
		/* "sqlite:///abs/path" is the URL spelling of "sqlite:/abs/path". */
		if (!strncmp(target, "///", 3))
			target += 2;
		if (!*target) {
			set_err(err, errlen, "store: sqlite URL without a path");
			return NULL;
		}
	} else {
		/* A plain path; but "scheme://" of a store we do not know is a mistake, not a file
		 * name. */
		const char *sep = strstr(url, "://");
		if (sep && !memchr(url, '/', (size_t)(sep - url))) {
			set_err(err, errlen,
				"store: unknown database URL scheme (sqlite:, postgres://)");
			return NULL;
		}
	}

	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		set_err(err, errlen, "store: out of memory");
		return NULL;
	}
	s->ops = ops;
	s->impl = ops->open(target, err, errlen);
	if (!s->impl) {
		free(s);
		return NULL;
	}
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->ops->close(s->impl);
	free(s);
}

int store_schema_version(struct store *s)
{
	STORE_OK(s);
	return s->ops->schema_version(s->impl);
}

const char *store_kind(const struct store *s)
{
	return s ? s->ops->kind : "";
}

/* --- users --- */

int store_user_create(struct store *s, const struct store_user *u, const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if ((r = check_user(u)) < 0 || (r = check_audit(a)) < 0)
		return r;
	return s->ops->user_create(s->impl, u, a);
}

int store_user_get(struct store *s, const char *id, struct store_user *out)
{
	int r;
	STORE_OK(s);
	if ((r = check_id("user id", id)) < 0 || (r = check_out(out, out)) < 0)
		return r;
	return s->ops->user_get(s->impl, id, out);
}

int store_user_get_by_name(struct store *s, const char *username, struct store_user *out)
{
	int r;
	STORE_OK(s);
	if ((r = check_text("username", username, STORE_USERNAME_MAX, true)) < 0 ||
	    (r = check_out(out, out)) < 0)
		return r;
	return s->ops->user_get_by_name(s->impl, username, out);
}

int store_user_update(struct store *s, const struct store_user *u, const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if ((r = check_user(u)) < 0 || (r = check_audit(a)) < 0)
		return r;
	return s->ops->user_update(s->impl, u, a);
}

int store_user_delete(struct store *s, const char *id, const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if ((r = check_id("user id", id)) < 0 || (r = check_audit(a)) < 0)
		return r;
	return s->ops->user_delete(s->impl, id, a);
}

int store_user_list(struct store *s, unsigned limit, uint64_t offset, struct store_user **out,
		    size_t *n, uint64_t *total)
{
	int r;
	uint64_t ignored;
	STORE_OK(s);
	if ((r = check_list(limit, offset)) < 0 || (r = check_out(out, n)) < 0)
		return r;
	*out = NULL;
	*n = 0;
	return s->ops->user_list(s->impl, limit, offset, out, n, total ? total : &ignored);
}

int store_user_count(struct store *s, uint64_t *n)
{
	int r;
	STORE_OK(s);
	if ((r = check_out(n, n)) < 0)
		return r;
	return s->ops->user_count(s->impl, n);
}

/* --- refresh tokens --- */

int store_refresh_add(struct store *s, const char *jti, const char *user_id, int64_t exp_s)
{
	int r;
	STORE_OK(s);
	if ((r = check_text("jti", jti, STORE_JTI_MAX, true)) < 0 ||
	    (r = check_id("user id", user_id)) < 0)
		return r;
	return s->ops->refresh_add(s->impl, jti, user_id, exp_s);
}

int store_refresh_consume(struct store *s, const char *jti, const char *user_id, int64_t now_s)
{
	int r;
	STORE_OK(s);
	if ((r = check_text("jti", jti, STORE_JTI_MAX, true)) < 0 ||
	    (r = check_id("user id", user_id)) < 0)
		return r;
	return s->ops->refresh_consume(s->impl, jti, user_id, now_s);
}

int store_refresh_purge(struct store *s, int64_t now_s)
{
	STORE_OK(s);
	return s->ops->refresh_purge(s->impl, now_s);
}

/* --- backends --- */

int store_backend_create(struct store *s, const struct store_backend *b,
			 const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if ((r = check_backend(b)) < 0 || (r = check_audit(a)) < 0)
		return r;
	if (b->status[0])
		return s->ops->backend_create(s->impl, b, a);
	/* An unset status is the documented initial one. */
	struct store_backend copy = *b;
	memcpy(copy.status, "unverified", sizeof("unverified"));
	return s->ops->backend_create(s->impl, &copy, a);
}

int store_backend_get(struct store *s, const char *id, struct store_backend *out)
{
	int r;
	STORE_OK(s);
	if ((r = check_id("backend id", id)) < 0 || (r = check_out(out, out)) < 0)
		return r;
	return s->ops->backend_get(s->impl, id, out);
}

int store_backend_update(struct store *s, const struct store_backend *b,
			 const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if (!b) {
		store_set_error("backend: missing");
		return -EINVAL;
	}
	/* Only the replaced fields matter here: owner and status are not touched. */
	if ((r = CHECK_FIELD("backend id", b->id, true)) < 0 ||
	    (r = CHECK_FIELD("name", b->name, true)) < 0 ||
	    (r = CHECK_FIELD("description", b->description, false)) < 0 ||
	    (r = CHECK_FIELD("address", b->address, true)) < 0 || (r = check_audit(a)) < 0)
		return r;
	return s->ops->backend_update(s->impl, b, a);
}

int store_backend_delete(struct store *s, const char *id, const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if ((r = check_id("backend id", id)) < 0 || (r = check_audit(a)) < 0)
		return r;
	return s->ops->backend_delete(s->impl, id, a);
}

int store_backend_list(struct store *s, const struct store_backend_filter *f,
		       struct store_backend **out, size_t *n, uint64_t *total)
{
	int r;
	uint64_t ignored;
	STORE_OK(s);
	if ((r = check_out(f, f)) < 0 || (r = check_out(out, n)) < 0 ||
	    (r = check_list(f->limit, f->offset)) < 0)
		return r;
	if ((f->owner && (r = check_id("owner", f->owner)) < 0) ||
	    (f->name && (r = check_text("name filter", f->name, STORE_NAME_MAX, false)) < 0) ||
	    (f->status &&
	     (r = check_text("status filter", f->status, STORE_STATUS_MAX, false)) < 0))
		return r;
	*out = NULL;
	*n = 0;
	return s->ops->backend_list(s->impl, f, out, n, total ? total : &ignored);
}

int store_backend_set_status(struct store *s, const char *id, const char *status, const char *error,
			     int64_t last_seen, int64_t now_ns, const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if (!error)
		error = "";
	if ((r = check_id("backend id", id)) < 0 ||
	    (r = check_text("status", status, STORE_STATUS_MAX, true)) < 0 ||
	    (r = check_text("error", error, STORE_ERROR_MAX, false)) < 0 ||
	    (r = check_audit(a)) < 0)
		return r;
	return s->ops->backend_set_status(s->impl, id, status, error, last_seen, now_ns, a);
}

int store_backend_history(struct store *s, const char *id, int64_t since_ns,
			  struct store_status_point **out, size_t *n)
{
	int r;
	STORE_OK(s);
	if ((r = check_id("backend id", id)) < 0 || (r = check_out(out, n)) < 0)
		return r;
	*out = NULL;
	*n = 0;
	return s->ops->backend_history(s->impl, id, since_ns, out, n);
}

int store_backend_count_by_status(struct store *s,
				  void (*fn)(void *ud, const char *status, uint64_t n), void *ud)
{
	STORE_OK(s);
	if (!fn) {
		store_set_error("missing callback");
		return -EINVAL;
	}
	return s->ops->backend_count_by_status(s->impl, fn, ud);
}

int store_backend_info_get(struct store *s, const char *id, char **json, size_t *len)
{
	int r;
	STORE_OK(s);
	if ((r = check_id("backend id", id)) < 0 || (r = check_out(json, len)) < 0)
		return r;
	*json = NULL;
	*len = 0;
	return s->ops->backend_info_get(s->impl, id, json, len);
}

int store_backend_info_put(struct store *s, const char *id, const char *json, size_t len,
			   int64_t now_ns, const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if ((r = check_id("backend id", id)) < 0 || (r = check_audit(a)) < 0)
		return r;
	if (!json || len == 0 || len > STORE_INFO_MAX_BYTES) {
		store_set_error("backend information: must be 1..%u bytes", STORE_INFO_MAX_BYTES);
		return -EINVAL;
	}
	/* Stored as text in both databases: no NUL, valid UTF-8 (JSON always is). */
	if (memchr(json, '\0', len) || !util_utf8_valid(json, len)) {
		store_set_error("backend information: not UTF-8 text");
		return -EINVAL;
	}
	return s->ops->backend_info_put(s->impl, id, json, len, now_ns, a);
}

/* --- monitor heartbeat and key pins --- */

int store_backend_seen_batch(struct store *s, const char *const *ids, const int64_t *seen_ns,
			     size_t n)
{
	int r;
	STORE_OK(s);
	if (n == 0)
		return 0;
	if ((r = check_out(ids, seen_ns)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = check_id("backend id", ids[i])) < 0)
			return r;
	return s->ops->backend_seen_batch(s->impl, ids, seen_ns, n);
}

int store_backend_pin_set(struct store *s, const char *id, const char *pin,
			  const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if ((r = check_id("backend id", id)) < 0 ||
	    (r = check_text("pin", pin, STORE_PIN_MAX, false)) < 0 || (r = check_audit(a)) < 0)
		return r;
	return s->ops->backend_pin_set(s->impl, id, pin, a);
}

int store_backend_pin_get(struct store *s, const char *id, char out[STORE_PIN_MAX + 1])
{
	int r;
	STORE_OK(s);
	if ((r = check_id("backend id", id)) < 0 || (r = check_out(out, out)) < 0)
		return r;
	out[0] = '\0';
	return s->ops->backend_pin_get(s->impl, id, out);
}

/* --- certificates --- */

/* A serial as the CA writes it: 1..STORE_SERIAL_MAX lower-case hex digits. */
static int check_serial(const char *what, const char *serial, bool need)
{
	int r = check_text(what, serial, STORE_SERIAL_MAX, need);
	if (r < 0)
		return r;
	for (const char *p = serial; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
			store_set_error("%s: not lower-case hex", what);
			return -EINVAL;
		}
	}
	return 0;
}

int store_cert_create(struct store *s, const struct store_cert *c, const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if (!c) {
		store_set_error("certificate: missing");
		return -EINVAL;
	}
	if ((r = check_serial("serial", c->serial, true)) < 0 ||
	    (r = CHECK_FIELD("backend id", c->backend_id, true)) < 0 ||
	    (r = CHECK_FIELD("certificate", c->cert_pem, true)) < 0 ||
	    (r = CHECK_FIELD("key", c->key_pem, false)) < 0 ||
	    (r = check_serial("renewed from", c->renewed_from, false)) < 0 ||
	    (r = check_audit(a)) < 0)
		return r;
	return s->ops->cert_create(s->impl, c, a);
}

int store_cert_get(struct store *s, const char *serial, struct store_cert *out)
{
	int r;
	STORE_OK(s);
	if ((r = check_serial("serial", serial, true)) < 0 || (r = check_out(out, out)) < 0)
		return r;
	return s->ops->cert_get(s->impl, serial, out);
}

int store_cert_list(struct store *s, const char *backend_id, const char *owner, unsigned limit,
		    uint64_t offset, struct store_cert **out, size_t *n, uint64_t *total)
{
	int r;
	uint64_t ignored;
	STORE_OK(s);
	if ((r = check_list(limit, offset)) < 0 || (r = check_out(out, n)) < 0 ||
	    (backend_id && (r = check_id("backend id", backend_id)) < 0) ||
	    (owner && (r = check_id("owner", owner)) < 0))
		return r;
	*out = NULL;
	*n = 0;
	return s->ops->cert_list(s->impl, backend_id, owner, limit, offset, out, n,
				 total ? total : &ignored);
}

int store_cert_revoke(struct store *s, const char *serial, int64_t at_ns,
		      const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if ((r = check_serial("serial", serial, true)) < 0 || (r = check_audit(a)) < 0)
		return r;
	if (at_ns <= 0) {
		store_set_error("revocation time: must be positive");
		return -EINVAL;
	}
	return s->ops->cert_revoke(s->impl, serial, at_ns, a);
}

int store_cert_revoked(struct store *s, struct store_revoked **out, size_t *n)
{
	int r;
	STORE_OK(s);
	if ((r = check_out(out, n)) < 0)
		return r;
	*out = NULL;
	*n = 0;
	return s->ops->cert_revoked(s->impl, out, n);
}

int store_cert_take_key(struct store *s, const char *serial, char key_out[STORE_KEY_PEM_MAX + 1],
			const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if ((r = check_serial("serial", serial, true)) < 0 ||
	    (r = check_out(key_out, key_out)) < 0 || (r = check_audit(a)) < 0)
		return r;
	key_out[0] = '\0';
	return s->ops->cert_take_key(s->impl, serial, key_out, a);
}

/* --- audit --- */

int store_audit_add(struct store *s, const struct store_audit *a)
{
	int r;
	STORE_OK(s);
	if (!a) {
		store_set_error("audit: missing");
		return -EINVAL;
	}
	if ((r = check_audit(a)) < 0)
		return r;
	return s->ops->audit_add(s->impl, a);
}

int store_audit_add_many(struct store *s, const struct store_audit *a, size_t n)
{
	int r;
	STORE_OK(s);
	if (!a || n == 0 || n > STORE_AUDIT_BATCH_MAX) {
		store_set_error("audit: 1..%d records per batch", STORE_AUDIT_BATCH_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((r = check_audit(&a[i])) < 0)
			return r;
	return s->ops->audit_add_many(s->impl, a, n);
}

int store_audit_list(struct store *s, unsigned limit, int64_t before_id, struct store_audit **out,
		     size_t *n)
{
	int r;
	STORE_OK(s);
	if ((r = check_list(limit, 0)) < 0 || (r = check_out(out, n)) < 0)
		return r;
	if (before_id < 0) {
		store_set_error("before id: negative");
		return -EINVAL;
	}
	*out = NULL;
	*n = 0;
	return s->ops->audit_list(s->impl, limit, before_id, out, n);
}
