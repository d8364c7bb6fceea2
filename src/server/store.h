/*
 * store.h - cloisterd's storage interface: users, refresh tokens, backends with their
 * backend-information (attestation policy) file and status history, and the audit log.
 *
 * The API code (api_*.c, users.c, audit.c) talks only to this interface; nothing SQL-specific
 * leaks through it. Implementations: SQLite in WAL mode (store_sqlite.c, the embedded default)
 * and PostgreSQL (store_pg.c, a later issue) behind the same function table (store_impl.h), with
 * the same schema, versioned migrations applied at open, and the same tests.
 *
 * Semantics every implementation keeps:
 *  - every mutating call is one transaction, committed durably before it returns 0 (SQLite:
 *    synchronous=FULL), so an acknowledged write survives kill -9 and power loss;
 *  - a mutating call may carry an audit record, written in the same transaction (the change and
 *    its audit entry exist together or not at all);
 *  - a failed call changes nothing.
 * Errors: 0 success; -ENOENT no such row; -EEXIST unique conflict (username, backend name per
 * owner, id); -EINVAL a field over its limit or malformed; -EBUSY the database stayed locked past
 * STORE_BUSY_TIMEOUT_MS; -EIO anything else (the detail is in store_last_error for the thread).
 *
 * Ownership: records are plain structs copied in and out (fixed-size fields); list calls return
 * malloc'd arrays the caller frees with free(); backend info JSON is returned malloc'd.
 * Thread safety: a struct store is shared by all HTTP threads; every call is thread-safe
 * (SQLite: a small pool of connections, WAL lets reads run beside the one writer).
 */
#ifndef CLOISTER_STORE_H
#define CLOISTER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_ID_CHARS 36 /* UUIDv4 text, lower case */
#define STORE_ID_BUF (STORE_ID_CHARS + 1)
#define STORE_USERNAME_MAX 64 /* bytes, without NUL */
#define STORE_PWHASH_MAX 128  /* >= SECRET_HASH_MAX */
#define STORE_JTI_MAX 64      /* refresh-token id (JWT jti), >= JWT_JTI_MAX - 1 */
#define STORE_ROLE_MAX 15
#define STORE_NAME_MAX 128 /* backend name */
#define STORE_DESCRIPTION_MAX 1024
#define STORE_ADDRESS_MAX 262 /* 253-byte host name + ":65535", or [IPv6]:port */
#define STORE_STATUS_MAX 23
#define STORE_ERROR_MAX 255
#define STORE_INFO_MAX_BYTES (64u * 1024) /* backend-information JSON */
#define STORE_CLIENT_MAX 63               /* client address text */
#define STORE_PRINCIPAL_MAX 80
#define STORE_ACTION_MAX 63
#define STORE_RESOURCE_MAX 255
#define STORE_RESULT_MAX 31
#define STORE_LIST_MAX 1000     /* rows per list call */
#define STORE_HISTORY_MAX 10000 /* status history rows kept per backend (the newest) */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_POOL_SIZE 8 /* SQLite connections kept open */

struct store;

struct store_user {
	char id[STORE_ID_BUF];
	char username[STORE_USERNAME_MAX + 1];
	char role[STORE_ROLE_MAX + 1]; /* "admin" | "user" */
	char pw_hash[STORE_PWHASH_MAX + 1];
	bool disabled;
	int64_t created_at, updated_at; /* Unix ns */
	int64_t tokens_valid_after;     /* Unix s: tokens with an iat before this are refused */
};

struct store_backend {
	char id[STORE_ID_BUF];
	char owner[STORE_ID_BUF]; /* user id */
	char name[STORE_NAME_MAX + 1];
	char description[STORE_DESCRIPTION_MAX + 1];
	char address[STORE_ADDRESS_MAX + 1];
	char status[STORE_STATUS_MAX + 1]; /* "unverified" on creation */
	char last_error[STORE_ERROR_MAX + 1];
	bool has_info;                  /* a backend-information file is stored */
	int64_t created_at, updated_at; /* Unix ns */
	int64_t last_seen;              /* Unix ns, 0 = never */
};

struct store_backend_filter {
	const char *owner;  /* NULL = every owner (admin) */
	const char *name;   /* NULL = any; else a case-sensitive substring of the name */
	const char *status; /* NULL = any; else exact */
	unsigned limit;     /* 1..STORE_LIST_MAX */
	uint64_t offset;
};

struct store_status_point {
	int64_t at; /* Unix ns */
	char status[STORE_STATUS_MAX + 1];
	char error[STORE_ERROR_MAX + 1];
};

struct store_audit {
	int64_t id; /* assigned by the store, increasing */
	int64_t at; /* Unix ns */
	char client[STORE_CLIENT_MAX + 1];
	char principal[STORE_PRINCIPAL_MAX + 1]; /* username, or "" when unauthenticated */
	char action[STORE_ACTION_MAX + 1];       /* "backends.create", "auth.denied", ... */
	char resource[STORE_RESOURCE_MAX + 1];   /* "/backends/<id>" */
	char result[STORE_RESULT_MAX + 1];       /* "ok", "denied", "not_found", ... */
	unsigned status;                         /* HTTP status sent */
};

/* Opens (creating if needed) the store named by url: "sqlite:/path/to/file.db" or a plain path
 * (SQLite), "postgres://..." / "postgresql://..." (not built yet: NULL with a clear err).
 * Applies the schema migrations in order, each in its own transaction, and refuses a database
 * whose schema is newer than this program knows. NULL on failure with the reason in err. */
struct store *store_open(const char *url, char *err, size_t errlen);
void store_close(struct store *s);
/* The schema version in the database (after migrations). */
int store_schema_version(struct store *s);
/* "sqlite" | "postgres" */
const char *store_kind(const struct store *s);
/* Human-readable detail of this thread's last -EIO/-EBUSY from this store ("" if none). */
const char *store_last_error(void);

/* --- users --- */
int store_user_create(struct store *s, const struct store_user *u, const struct store_audit *a);
int store_user_get(struct store *s, const char *id, struct store_user *out);
int store_user_get_by_name(struct store *s, const char *username, struct store_user *out);
/* Replaces role, pw_hash, disabled, updated_at, tokens_valid_after of the user u->id. */
int store_user_update(struct store *s, const struct store_user *u, const struct store_audit *a);
/* Deletes the user, their refresh tokens and their backends (ON DELETE CASCADE semantics). */
int store_user_delete(struct store *s, const char *id, const struct store_audit *a);
int store_user_list(struct store *s, unsigned limit, uint64_t offset, struct store_user **out,
		    size_t *n, uint64_t *total);
int store_user_count(struct store *s, uint64_t *n);

/* --- refresh tokens: single use --- */
int store_refresh_add(struct store *s, const char *jti, const char *user_id, int64_t exp_s);
/* Deletes jti if it belongs to user_id and has not expired at now_s: 0; otherwise -ENOENT
 * (unknown, already used, expired or another user's). Atomic: two concurrent calls with the
 * same jti cannot both return 0. */
int store_refresh_consume(struct store *s, const char *jti, const char *user_id, int64_t now_s);
/* Removes expired refresh tokens; returns the count removed or a negative errno. */
int store_refresh_purge(struct store *s, int64_t now_s);

/* --- backends --- */
/* Inserts b (id, owner, name, description, address, status, created_at, updated_at set by the
 * caller). -EEXIST when the id or the (owner, name) pair exists; -ENOENT when owner is unknown. */
int store_backend_create(struct store *s, const struct store_backend *b,
			 const struct store_audit *a);
int store_backend_get(struct store *s, const char *id, struct store_backend *out);
/* Replaces name, description, address, updated_at of b->id. */
int store_backend_update(struct store *s, const struct store_backend *b,
			 const struct store_audit *a);
int store_backend_delete(struct store *s, const char *id, const struct store_audit *a);
/* Ordered by created_at, then id. */
int store_backend_list(struct store *s, const struct store_backend_filter *f,
		       struct store_backend **out, size_t *n, uint64_t *total);
/* Sets status, last_error (NULL = "") and last_seen (0 = unchanged); when the status differs
 * from the stored one, appends a history point (at = now_ns) in the same transaction. */
int store_backend_set_status(struct store *s, const char *id, const char *status, const char *error,
			     int64_t last_seen, int64_t now_ns, const struct store_audit *a);
/* History points with at >= since_ns, oldest first, at most STORE_HISTORY_MAX. */
int store_backend_history(struct store *s, const char *id, int64_t since_ns,
			  struct store_status_point **out, size_t *n);
/* Calls fn once per distinct status with its count (every owner). */
int store_backend_count_by_status(struct store *s,
				  void (*fn)(void *ud, const char *status, uint64_t n), void *ud);
/* The backend-information JSON (len <= STORE_INFO_MAX_BYTES); -ENOENT when none is stored. */
int store_backend_info_get(struct store *s, const char *id, char **json, size_t *len);
int store_backend_info_put(struct store *s, const char *id, const char *json, size_t len,
			   int64_t now_ns, const struct store_audit *a);

/* Sets last_seen of n backends in one transaction (the monitor's heartbeat, once per sweep);
 * ids that no longer exist are skipped. */
int store_backend_seen_batch(struct store *s, const char *const *ids, const int64_t *seen_ns,
			     size_t n);

/* --- backend key pinning (attested connections, issue 7) --- */
#define STORE_PIN_MAX 63 /* "sha256//" + base64 of a SHA-256 (libcurl's CURLOPT_PINNEDPUBLICKEY) */
/* Sets (pin non-empty) or clears (pin "") the pinned TLS key of a backend. */
int store_backend_pin_set(struct store *s, const char *id, const char *pin,
			  const struct store_audit *a);
/* The pin, "" when none; -ENOENT when the backend does not exist. */
int store_backend_pin_get(struct store *s, const char *id, char out[STORE_PIN_MAX + 1]);

/* --- certificates issued by cloisterd's CA (issue 7) --- */
#define STORE_SERIAL_MAX 40            /* hex serial, lower case */
#define STORE_CERT_PEM_MAX (8u * 1024) /* one certificate */
#define STORE_KEY_PEM_MAX (4u * 1024)  /* one private key */
struct store_cert {
	char serial[STORE_SERIAL_MAX + 1];
	char backend_id[STORE_ID_BUF]; /* the entity the certificate was issued for */
	char cert_pem[STORE_CERT_PEM_MAX + 1];
	/* The private key until its bundle is downloaded once, then "" (never kept after). */
	char key_pem[STORE_KEY_PEM_MAX + 1];
	bool revoked;
	bool key_held; /* the key is still stored (set by get and list, ignored by create) */
	int64_t created_at, not_before, not_after, revoked_at; /* Unix ns (revoked_at 0 = no) */
	char renewed_from[STORE_SERIAL_MAX + 1];               /* serial this one renewed, or "" */
};
/* -EEXIST when the serial exists; -ENOENT when the backend does not. Certificates are kept
 * after their backend is deleted (a revoked one must stay on the CRL): deleting a backend
 * revokes its certificates and wipes their keys in the same transaction. */
int store_cert_create(struct store *s, const struct store_cert *c, const struct store_audit *a);
int store_cert_get(struct store *s, const char *serial, struct store_cert *out);
/* Certificates of one backend (backend_id non-NULL) or of every backend owned by owner
 * (owner non-NULL) or all; newest first. key_pem is never filled by a list. */
int store_cert_list(struct store *s, const char *backend_id, const char *owner, unsigned limit,
		    uint64_t offset, struct store_cert **out, size_t *n, uint64_t *total);
/* Marks it revoked at at_ns; -EALREADY when it already is. */
int store_cert_revoke(struct store *s, const char *serial, int64_t at_ns,
		      const struct store_audit *a);
/* Every revoked certificate for the CRL, ordered by serial: at most STORE_REVOKED_MAX (-E2BIG
 * past it). The caller frees *out. */
#define STORE_REVOKED_MAX 100000
struct store_revoked {
	char serial[STORE_SERIAL_MAX + 1];
	char backend_id[STORE_ID_BUF];
	int64_t revoked_at; /* Unix ns */
};
int store_cert_revoked(struct store *s, struct store_revoked **out, size_t *n);
/* Wipes the stored key once its bundle has been downloaded; -ENOENT when there is none (already
 * downloaded, or unknown serial): atomic, so two downloads cannot both get the key. On success
 * the key is copied into key_out (the caller wipes it). */
int store_cert_take_key(struct store *s, const char *serial, char key_out[STORE_KEY_PEM_MAX + 1],
			const struct store_audit *a);

/* --- audit --- */
int store_audit_add(struct store *s, const struct store_audit *a);
/* n records (1..STORE_AUDIT_BATCH_MAX) in one transaction: all or none. */
#define STORE_AUDIT_BATCH_MAX 1024
int store_audit_add_many(struct store *s, const struct store_audit *a, size_t n);
/* Newest first: entries with id < before_id (0 = from the newest), at most limit. */
int store_audit_list(struct store *s, unsigned limit, int64_t before_id, struct store_audit **out,
		     size_t *n);

#endif
