/*
 * store_impl.h - the function table behind store.h, filled by each storage implementation
 * (store_sqlite.c now, store_pg.c later) and called only by store.c.
 *
 * store.c owns everything the implementations share: it parses the URL, picks the table, and
 * checks every argument against the store.h limits (lengths, UTF-8, list limits) before any
 * call below, so an implementation may rely on: non-NULL pointers, NUL-terminated text within
 * its limit and valid UTF-8, 1 <= limit <= STORE_LIST_MAX, offsets and ids that fit an int64,
 * an empty backend status already replaced by "unverified", a NULL error text already "".
 * The void *impl is the implementation's own state, returned by open; every call must be
 * thread-safe (the same store is used by all HTTP threads). Return values are those of store.h.
 * An implementation reports failure detail with store_set_error (thread-local, see
 * store_last_error).
 */
#ifndef CLOISTER_STORE_IMPL_H
#define CLOISTER_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/store.h"

/* The schema version every implementation's migrations reach: both databases hold the same
 * tables, so a store moved between them keeps its meaning. Bump it with a new migration in each
 * implementation. */
#define STORE_SCHEMA_VERSION 2

/* The bytes of the thread-local detail behind store_last_error, with its NUL. */
#define STORE_LAST_ERROR_BYTES 256

struct store_ops {
	const char *kind; /* "sqlite" | "postgres" */
	/* target: the implementation's part of the URL (SQLite: the file path). NULL + err. */
	void *(*open)(const char *target, char *err, size_t errlen);
	void (*close)(void *impl);
	int (*schema_version)(void *impl);

	int (*user_create)(void *impl, const struct store_user *u, const struct store_audit *a);
	int (*user_get)(void *impl, const char *id, struct store_user *out);
	int (*user_get_by_name)(void *impl, const char *username, struct store_user *out);
	int (*user_update)(void *impl, const struct store_user *u, const struct store_audit *a);
	int (*user_delete)(void *impl, const char *id, const struct store_audit *a);
	int (*user_list)(void *impl, unsigned limit, uint64_t offset, struct store_user **out,
			 size_t *n, uint64_t *total);
	int (*user_count)(void *impl, uint64_t *n);

	int (*refresh_add)(void *impl, const char *jti, const char *user_id, int64_t exp_s);
	int (*refresh_consume)(void *impl, const char *jti, const char *user_id, int64_t now_s);
	int (*refresh_purge)(void *impl, int64_t now_s);

	int (*backend_create)(void *impl, const struct store_backend *b,
			      const struct store_audit *a);
	int (*backend_get)(void *impl, const char *id, struct store_backend *out);
	int (*backend_update)(void *impl, const struct store_backend *b,
			      const struct store_audit *a);
	int (*backend_delete)(void *impl, const char *id, const struct store_audit *a);
	int (*backend_list)(void *impl, const struct store_backend_filter *f,
			    struct store_backend **out, size_t *n, uint64_t *total);
	int (*backend_set_status)(void *impl, const char *id, const char *status, const char *error,
				  int64_t last_seen, int64_t now_ns, const struct store_audit *a);
	int (*backend_history)(void *impl, const char *id, int64_t since_ns,
			       struct store_status_point **out, size_t *n);
	int (*backend_count_by_status)(void *impl,
				       void (*fn)(void *ud, const char *status, uint64_t n),
				       void *ud);
	int (*backend_info_get)(void *impl, const char *id, char **json, size_t *len);
	int (*backend_info_put)(void *impl, const char *id, const char *json, size_t len,
				int64_t now_ns, const struct store_audit *a);

	int (*backend_seen_batch)(void *impl, const char *const *ids, const int64_t *seen_ns,
				  size_t n);
	int (*backend_pin_set)(void *impl, const char *id, const char *pin,
			       const struct store_audit *a);
	int (*backend_pin_get)(void *impl, const char *id, char out[STORE_PIN_MAX + 1]);

	int (*cert_create)(void *impl, const struct store_cert *c, const struct store_audit *a);
	int (*cert_get)(void *impl, const char *serial, struct store_cert *out);
	int (*cert_list)(void *impl, const char *backend_id, const char *owner, unsigned limit,
			 uint64_t offset, struct store_cert **out, size_t *n, uint64_t *total);
	int (*cert_revoke)(void *impl, const char *serial, int64_t at_ns,
			   const struct store_audit *a);
	int (*cert_revoked)(void *impl, struct store_revoked **out, size_t *n);
	int (*cert_take_key)(void *impl, const char *serial, char key_out[STORE_KEY_PEM_MAX + 1],
			     const struct store_audit *a);

	int (*audit_add)(void *impl, const struct store_audit *a);
	int (*audit_add_many)(void *impl, const struct store_audit *a, size_t n);
	int (*audit_list)(void *impl, unsigned limit, int64_t before_id, struct store_audit **out,
			  size_t *n);
};

extern const struct store_ops store_sqlite_ops;
#ifdef CLOISTER_HAVE_PG
extern const struct store_ops store_pg_ops;
#endif

/* Sets this thread's store_last_error text (truncated to STORE_LAST_ERROR_BYTES - 1). */
void store_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
