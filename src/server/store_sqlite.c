/*
 * store_sqlite.c - the SQLite implementation of store.h (the embedded default), behind the
 * function table store_sqlite_ops (store_impl.h). store.c has checked every argument already.
 *
 * How it works:
 *  - Files. The database file is created 0600 by us before SQLite opens it (and an existing
 *    one, or a leftover -wal/-shm, is tightened to 0600): SQLite's unix VFS creates the -wal and
 *    -shm files with the mode of the database file, so all three stay 0600 whatever the umask.
 *  - Connections. A pool of at most STORE_POOL_SIZE connections, opened lazily, each used by one
 *    thread at a time (SQLITE_OPEN_NOMUTEX; mutex + condvar hand them out). Each has WAL mode,
 *    synchronous=FULL (an acknowledged commit is on disk), foreign_keys=ON (the cascades),
 *    busy_timeout=STORE_BUSY_TIMEOUT_MS (or lower, see Options), secure_delete=FAST (since
 *    schema 2 the certs table holds private keys until their bundle is downloaded: a wiped key
 *    is overwritten in its page when that costs no extra I/O; the file stays 0600, and the WAL
 *    may hold an old page copy until the next checkpoint).
 *    Statements are prepared once per connection (SQLITE_PREPARE_PERSISTENT), reset after use.
 *  - Writes. Every mutating call is BEGIN IMMEDIATE ... COMMIT on one connection, with its
 *    optional audit row inserted before COMMIT; any failure rolls the whole thing back, so a
 *    failed call leaves nothing, not even its audit row. Writers of this process also queue on
 *    one mutex (timed like the busy timeout): SQLite lets one writer in at a time anyway, and
 *    its busy handler polls with sleeps of up to 100 ms, which a mutex hand-off avoids. Other
 *    processes still meet busy_timeout. Reads that must agree (a page and its total) run in
 *    one deferred BEGIN ... COMMIT (one WAL snapshot); single-statement reads run bare.
 *  - Errors. SQLITE_BUSY/LOCKED -> -EBUSY, UNIQUE/PRIMARY KEY -> -EEXIST, FOREIGN KEY ->
 *    -ENOENT (the row referred to does not exist), NOMEM -> -ENOMEM, the rest -EIO; the message
 *    goes to store_last_error.
 *  - Options. The target is a file path, optionally followed by "?busy_timeout_ms=N" with
 *    1 <= N <= STORE_BUSY_TIMEOUT_MS: a deployment (or a test) may wait less for locks, never
 *    more. A '?' always starts the options, so a path cannot contain one.
 *  - Schema. migrations[] below, in order; each applied in its own transaction together with
 *    its schema_migrations row. The SQL is portable (TEXT, INTEGER/BIGINT, no SQLite-only
 *    types): store_pg.c keeps its own copy with BIGSERIAL for the audit ids. A database with a
 *    version newer than this program's is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "server/store.h"
#include "server/store_impl.h"
#include "util.h"

/* --- schema --- */

static const char *const migrations[] = {
	/* 1: users, refresh tokens, backends with their information file and status history,
	 * audit. Times are Unix ns (BIGINT) except refresh_tokens.exp_s (Unix s). */
	"CREATE TABLE users ("
	" id TEXT NOT NULL PRIMARY KEY,"
	" username TEXT NOT NULL UNIQUE,"
	" role TEXT NOT NULL,"
	" pw_hash TEXT NOT NULL,"
	" disabled INTEGER NOT NULL DEFAULT 0,"
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL,"
	" tokens_valid_after BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX users_created ON users (created_at, id);"
	"CREATE TABLE refresh_tokens ("
	" jti TEXT NOT NULL PRIMARY KEY,"
	" user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" exp_s BIGINT NOT NULL);"
	"CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);"
	"CREATE INDEX refresh_tokens_exp ON refresh_tokens (exp_s);"
	"CREATE TABLE backends ("
	" id TEXT NOT NULL PRIMARY KEY,"
	" owner TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" description TEXT NOT NULL,"
	" address TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" last_error TEXT NOT NULL DEFAULT '',"
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL,"
	" last_seen BIGINT NOT NULL DEFAULT 0,"
	" UNIQUE (owner, name));"
	"CREATE INDEX backends_created ON backends (created_at, id);"
	"CREATE INDEX backends_owner_created ON backends (owner, created_at, id);"
	"CREATE INDEX backends_status_created ON backends (status, created_at, id);"
	"CREATE TABLE backend_info ("
	" backend_id TEXT NOT NULL PRIMARY KEY REFERENCES backends (id) ON DELETE CASCADE,"
	" json TEXT NOT NULL,"
	" updated_at BIGINT NOT NULL);"
	"CREATE TABLE backend_status_history ("
	" id INTEGER PRIMARY KEY,"
	" backend_id TEXT NOT NULL REFERENCES backends (id) ON DELETE CASCADE,"
	" at BIGINT NOT NULL,"
	" status TEXT NOT NULL,"
	" error TEXT NOT NULL);"
	"CREATE INDEX backend_status_history_at ON backend_status_history (backend_id, at);"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY,"
	" at BIGINT NOT NULL,"
	" client TEXT NOT NULL,"
	" principal TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" resource TEXT NOT NULL,"
	" result TEXT NOT NULL,"
	" status INTEGER NOT NULL);",
	/* 2 (issue 7): the pinned TLS key of attested backends, and the certificates of
	 * cloisterd's CA. certs.backend_id has no foreign key on purpose: a revoked certificate
	 * must stay on the CRL after its backend is deleted (the delete revokes them instead). */
	"ALTER TABLE backends ADD COLUMN pin TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE certs ("
	" serial TEXT NOT NULL PRIMARY KEY,"
	" backend_id TEXT NOT NULL,"
	" cert_pem TEXT NOT NULL,"
	" key_pem TEXT NOT NULL DEFAULT '',"
	" revoked INTEGER NOT NULL DEFAULT 0,"
	" created_at BIGINT NOT NULL,"
	" not_before BIGINT NOT NULL,"
	" not_after BIGINT NOT NULL,"
	" revoked_at BIGINT NOT NULL DEFAULT 0,"
	" renewed_from TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX certs_created ON certs (created_at, serial);"
	"CREATE INDEX certs_backend_created ON certs (backend_id, created_at, serial);"
	"CREATE INDEX certs_revoked ON certs (revoked, serial);",
};

_Static_assert(ARRAY_SIZE(migrations) == STORE_SCHEMA_VERSION,
	       "store_sqlite.c: one migration per schema version");

/* --- statements --- */

#define USER_COLS                                                                                  \
	"id, username, role, pw_hash, disabled, created_at, updated_at, tokens_valid_after"
#define BACKEND_COLS                                                                               \
	"b.id, b.owner, b.name, b.description, b.address, b.status, b.last_error, b.created_at, "  \
	"b.updated_at, b.last_seen, "                                                              \
	"EXISTS (SELECT 1 FROM backend_info i WHERE i.backend_id = b.id)"
#define AUDIT_COLS "id, at, client, principal, action, resource, result, status"
#define CERT_COLS                                                                                  \
	"c.serial, c.backend_id, c.revoked, c.created_at, c.not_before, c.not_after, "             \
	"c.revoked_at, c.renewed_from, c.key_pem <> ''"

/* Certificate list filters, as for backends. */
#define CFILTER_BACKEND 1u
#define CFILTER_OWNER 2u
#define CFILTER_COMBOS 4u

/* Backend list filters: one statement per combination, so each uses its index. */
#define FILTER_OWNER 1u
#define FILTER_NAME 2u
#define FILTER_STATUS 4u
#define FILTER_COMBOS 8u

enum stmt_id {
	ST_BEGIN_READ,
	ST_BEGIN_WRITE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_USER_INSERT,
	ST_USER_GET,
	ST_USER_GET_BY_NAME,
	ST_USER_UPDATE,
	ST_USER_DELETE,
	ST_USER_LIST,
	ST_USER_COUNT,
	ST_REFRESH_INSERT,
	ST_REFRESH_CONSUME,
	ST_REFRESH_PURGE,
	ST_BACKEND_INSERT,
	ST_BACKEND_GET,
	ST_BACKEND_UPDATE,
	ST_BACKEND_DELETE,
	ST_BACKEND_STATUS_GET,
	ST_BACKEND_STATUS_SET,
	ST_BACKEND_EXISTS,
	ST_BACKEND_TOUCH,
	ST_HISTORY_INSERT,
	ST_HISTORY_LIST,
	ST_HISTORY_PRUNE,
	ST_COUNT_BY_STATUS,
	ST_INFO_GET,
	ST_INFO_PUT,
	ST_AUDIT_INSERT,
	ST_AUDIT_LIST,
	ST_SEEN_SET,
	ST_PIN_SET,
	ST_PIN_GET,
	ST_CERT_INSERT,
	ST_CERT_GET,
	ST_CERT_REVOKED_FLAG,
	ST_CERT_REVOKE,
	ST_CERT_REVOKE_BACKEND,
	ST_CERT_REVOKED_LIST,
	ST_CERT_KEY_GET,
	ST_CERT_KEY_WIPE,
	ST_BACKEND_LIST,                                    /* + filter mask */
	ST_BACKEND_TOTAL = ST_BACKEND_LIST + FILTER_COMBOS, /* + filter mask */
	ST_CERT_LIST = ST_BACKEND_TOTAL + FILTER_COMBOS,    /* + cert filter mask */
	ST_CERT_TOTAL = ST_CERT_LIST + CFILTER_COMBOS,      /* + cert filter mask */
	ST__COUNT = ST_CERT_TOTAL + CFILTER_COMBOS,
};

static const char *const stmt_sql[ST_BACKEND_LIST] = {
	[ST_BEGIN_READ] = "BEGIN",
	[ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_USER_INSERT] = "INSERT INTO users (" USER_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?",
	[ST_USER_GET_BY_NAME] = "SELECT " USER_COLS " FROM users WHERE username = ?",
	[ST_USER_UPDATE] = "UPDATE users SET role = ?, pw_hash = ?, disabled = ?, updated_at = ?, "
			   "tokens_valid_after = ? WHERE id = ?",
	[ST_USER_DELETE] = "DELETE FROM users WHERE id = ?",
	[ST_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY created_at, id LIMIT ? OFFSET ?",
	[ST_USER_COUNT] = "SELECT COUNT(*) FROM users",
	[ST_REFRESH_INSERT] = "INSERT INTO refresh_tokens (jti, user_id, exp_s) VALUES (?, ?, ?)",
	[ST_REFRESH_CONSUME] =
		"DELETE FROM refresh_tokens WHERE jti = ? AND user_id = ? AND exp_s > ?",
	[ST_REFRESH_PURGE] = "DELETE FROM refresh_tokens WHERE exp_s <= ?",
	[ST_BACKEND_INSERT] =
		"INSERT INTO backends (id, owner, name, description, address, status, "
		"last_error, created_at, updated_at, last_seen) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_BACKEND_GET] = "SELECT " BACKEND_COLS " FROM backends b WHERE b.id = ?",
	[ST_BACKEND_UPDATE] = "UPDATE backends SET name = ?, description = ?, address = ?, "
			      "updated_at = ? WHERE id = ?",
	[ST_BACKEND_DELETE] = "DELETE FROM backends WHERE id = ?",
	[ST_BACKEND_STATUS_GET] = "SELECT status FROM backends WHERE id = ?",
	[ST_BACKEND_STATUS_SET] = "UPDATE backends SET status = ?1, last_error = ?2, "
				  "last_seen = CASE WHEN ?3 = 0 THEN last_seen ELSE ?3 END "
				  "WHERE id = ?4",
	[ST_BACKEND_EXISTS] = "SELECT 1 FROM backends WHERE id = ?",
	[ST_BACKEND_TOUCH] = "UPDATE backends SET updated_at = ? WHERE id = ?",
	[ST_HISTORY_INSERT] = "INSERT INTO backend_status_history (backend_id, at, status, error) "
			      "VALUES (?, ?, ?, ?)",
	[ST_HISTORY_LIST] = "SELECT at, status, error FROM backend_status_history "
			    "WHERE backend_id = ? AND at >= ? ORDER BY at, id LIMIT ?",
	/* Keeps a backend's newest ?2 points (by time, then insertion); walks the
	 * (backend_id, at) index from the newest end. */
	[ST_HISTORY_PRUNE] = "DELETE FROM backend_status_history WHERE id IN ("
			     "SELECT id FROM backend_status_history WHERE backend_id = ?1 "
			     "ORDER BY at DESC, id DESC LIMIT -1 OFFSET ?2)",
	[ST_COUNT_BY_STATUS] = "SELECT status, COUNT(*) FROM backends GROUP BY status "
			       "ORDER BY status",
	[ST_INFO_GET] = "SELECT json FROM backend_info WHERE backend_id = ?",
	[ST_INFO_PUT] = "INSERT INTO backend_info (backend_id, json, updated_at) VALUES (?, ?, ?) "
			"ON CONFLICT (backend_id) DO UPDATE SET json = excluded.json, "
			"updated_at = excluded.updated_at",
	[ST_AUDIT_INSERT] = "INSERT INTO audit (at, client, principal, action, resource, result, "
			    "status) VALUES (?, ?, ?, ?, ?, ?, ?)",
	[ST_AUDIT_LIST] = "SELECT " AUDIT_COLS " FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
	[ST_SEEN_SET] = "UPDATE backends SET last_seen = ? WHERE id = ?",
	[ST_PIN_SET] = "UPDATE backends SET pin = ? WHERE id = ?",
	[ST_PIN_GET] = "SELECT pin FROM backends WHERE id = ?",
	[ST_CERT_INSERT] = "INSERT INTO certs (serial, backend_id, cert_pem, key_pem, revoked, "
			   "created_at, not_before, not_after, revoked_at, renewed_from) "
			   "VALUES (?, ?, ?, ?, 0, ?, ?, ?, 0, ?)",
	[ST_CERT_GET] = "SELECT " CERT_COLS ", c.cert_pem FROM certs c WHERE c.serial = ?",
	[ST_CERT_REVOKED_FLAG] = "SELECT revoked FROM certs WHERE serial = ?",
	/* A revoked certificate's key can never be used again: it goes with the revocation. */
	[ST_CERT_REVOKE] = "UPDATE certs SET revoked = 1, revoked_at = ?, key_pem = '' "
			   "WHERE serial = ? AND revoked = 0",
	[ST_CERT_REVOKE_BACKEND] = "UPDATE certs SET revoked = 1, revoked_at = ?, key_pem = '' "
				   "WHERE backend_id = ? AND revoked = 0",
	[ST_CERT_REVOKED_LIST] = "SELECT serial, backend_id, revoked_at FROM certs "
				 "WHERE revoked = 1 ORDER BY serial LIMIT ?",
	[ST_CERT_KEY_GET] = "SELECT key_pem FROM certs WHERE serial = ? AND revoked = 0 "
			    "AND key_pem <> ''",
	[ST_CERT_KEY_WIPE] = "UPDATE certs SET key_pem = '' WHERE serial = ?",
};

/* Parameters: ?1 backend id, ?2 owner, ?3 limit, ?4 offset (list only). The owner filter joins
 * the backends: certificates of a deleted backend are listed to admins only. */
static void cert_list_sql(char *buf, size_t size, unsigned mask, bool total)
{
	(void)snprintf(buf, size, "SELECT %s FROM certs c%s WHERE 1 = 1%s%s%s",
		       total ? "COUNT(*)" : CERT_COLS,
		       (mask & CFILTER_OWNER) ? " JOIN backends b ON b.id = c.backend_id" : "",
		       (mask & CFILTER_BACKEND) ? " AND c.backend_id = ?1" : "",
		       (mask & CFILTER_OWNER) ? " AND b.owner = ?2" : "",
		       total ? ""
			     : " ORDER BY c.created_at DESC, c.serial DESC LIMIT ?3 OFFSET ?4");
}

/* Parameters: ?1 owner, ?2 name substring, ?3 status, ?4 limit, ?5 offset (list only). instr
 * is exact (no LIKE wildcards to escape); an empty needle matches every name. Without a filter
 * there is no WHERE at all, so SQLite answers COUNT(*) from its b-tree count instead of a scan
 * (the unfiltered first page is what a UI polls; 13k backends: 0.19x -> see docs/benchmarks.md). */
static void backend_list_sql(char *buf, size_t size, unsigned mask, bool total)
{
	(void)snprintf(buf, size, "SELECT %s FROM backends b%s%s%s%s%s",
		       total ? "COUNT(*)" : BACKEND_COLS, mask ? " WHERE 1 = 1" : "",
		       (mask & FILTER_OWNER) ? " AND b.owner = ?1" : "",
		       (mask & FILTER_NAME) ? " AND instr(b.name, ?2) > 0" : "",
		       (mask & FILTER_STATUS) ? " AND b.status = ?3" : "",
		       total ? "" : " ORDER BY b.created_at, b.id LIMIT ?4 OFFSET ?5");
}

/* --- connections and the pool --- */

struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	struct conn *next;
};

struct sq {
	char *path;
	int version;
	int busy_ms;        /* lock waits: SQLite's busy handler, the pool, the write mutex */
	pthread_mutex_t mu; /* guards idle, n_open */
	pthread_cond_t cv;  /* a connection was returned or a slot freed */
	struct conn *idle;
	unsigned n_open;
	pthread_mutex_t write_mu; /* this process's writers, one at a time */
};

enum tx_mode { TX_NONE, TX_READ, TX_WRITE };

/* Maps a SQLite result code to a negative errno and records the message. */
static int fail(sqlite3 *db, int rc, const char *what)
{
	int e;
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		e = -EBUSY;
		break;
	case SQLITE_NOMEM:
		e = -ENOMEM;
		break;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			e = -EEXIST;
		else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			e = -ENOENT;
		else
			e = -EIO;
		break;
	default:
		e = -EIO;
		break;
	}
	store_set_error("sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return e;
}

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < ST__COUNT; i++)
		(void)sqlite3_finalize(c->st[i]); /* returns the last step's error, already seen */
	/* _v2: never fails with SQLITE_BUSY; the handle goes once everything is finalized. */
	(void)sqlite3_close_v2(c->db);
	free(c);
}

/* Runs a PRAGMA (or any one statement) and copies the text of its first row, if any. */
static int exec_row(sqlite3 *db, const char *sql, char *val, size_t size)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(db, rc, sql);
	val[0] = '\0';
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		if (t)
			(void)snprintf(val, size, "%s", (const char *)t);
		rc = sqlite3_step(st);
	}
	int r = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : fail(db, rc, sql);
	(void)sqlite3_finalize(st);
	return r;
}

static int conn_open(const char *path, int busy_ms, struct conn **out)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		store_set_error("sqlite: out of memory");
		return -ENOMEM;
	}
	int rc = sqlite3_open_v2(path, &c->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
					 SQLITE_OPEN_EXRESCODE,
				 NULL);
	int r;
	char val[32];
	if (rc != SQLITE_OK) {
		r = fail(c->db, rc, "open");
		goto err;
	}
	if ((rc = sqlite3_extended_result_codes(c->db, 1)) != SQLITE_OK ||
	    (rc = sqlite3_busy_timeout(c->db, busy_ms)) != SQLITE_OK) {
		r = fail(c->db, rc, "configure");
		goto err;
	}
	rc = sqlite3_exec(c->db,
			  "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; "
			  "PRAGMA secure_delete = FAST;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = fail(c->db, rc, "pragmas");
		goto err;
	}
	/* A build without foreign keys ignores the pragma: the cascades would silently not
	 * happen, so check it took. */
	if ((r = exec_row(c->db, "PRAGMA foreign_keys", val, sizeof(val))) < 0)
		goto err;
	if (strcmp(val, "1")) {
		store_set_error("sqlite: foreign keys are not supported by this SQLite");
		r = -EIO;
		goto err;
	}
	/* Asking for WAL answers the mode in force: e.g. "delete" where shared memory cannot be
	 * mapped. Readers beside the writer need WAL, so refuse anything else. */
	if ((r = exec_row(c->db, "PRAGMA journal_mode = WAL", val, sizeof(val))) < 0)
		goto err;
	if (strcmp(val, "wal")) {
		store_set_error("sqlite: cannot use WAL mode (journal mode is \"%s\")", val);
		r = -EIO;
		goto err;
	}
	*out = c;
	return 0;
err:
	conn_free(c);
	return r;
}

static void deadline_in(struct timespec *ts, clockid_t clock, int64_t ms)
{
	clock_gettime(clock, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Takes an idle connection, opens a new one while under STORE_POOL_SIZE, else waits (at most
 * busy_ms: -EBUSY). */
static int conn_get(struct sq *q, struct conn **out)
{
	struct timespec until;
	deadline_in(&until, CLOCK_MONOTONIC, q->busy_ms);
	pthread_mutex_lock(&q->mu);
	while (!q->idle && q->n_open >= STORE_POOL_SIZE) {
		if (pthread_cond_timedwait(&q->cv, &q->mu, &until) == ETIMEDOUT && !q->idle &&
		    q->n_open >= STORE_POOL_SIZE) {
			pthread_mutex_unlock(&q->mu);
			store_set_error("sqlite: every connection stayed busy for %d ms",
					q->busy_ms);
			return -EBUSY;
		}
	}
	if (q->idle) {
		*out = q->idle;
		q->idle = q->idle->next;
		pthread_mutex_unlock(&q->mu);
		return 0;
	}
	q->n_open++;
	pthread_mutex_unlock(&q->mu);

	int r = conn_open(q->path, q->busy_ms, out);
	if (r < 0) {
		pthread_mutex_lock(&q->mu);
		q->n_open--;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
	}
	return r;
}

/* Returns c to the pool; one still inside a transaction (a ROLLBACK that failed) is closed
 * instead, so the next caller never inherits a half-done transaction. */
static void conn_put(struct sq *q, struct conn *c)
{
	bool broken = !sqlite3_get_autocommit(c->db);
	if (broken)
		conn_free(c);
	pthread_mutex_lock(&q->mu);
	if (broken) {
		q->n_open--;
	} else {
		c->next = q->idle;
		q->idle = c;
	}
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* --- statements: prepare once, bind, step, reset --- */

static int prep(struct conn *c, enum stmt_id id, sqlite3_stmt **out)
{
	if (!c->st[id]) {
		char buf[1024];
		const char *sql;
		if (id >= ST_CERT_TOTAL) {
			cert_list_sql(buf, sizeof(buf), (unsigned)(id - ST_CERT_TOTAL), true);
			sql = buf;
		} else if (id >= ST_CERT_LIST) {
			cert_list_sql(buf, sizeof(buf), (unsigned)(id - ST_CERT_LIST), false);
			sql = buf;
		} else if (id >= ST_BACKEND_TOTAL) {
			backend_list_sql(buf, sizeof(buf), (unsigned)(id - ST_BACKEND_TOTAL), true);
			sql = buf;
		} else if (id >= ST_BACKEND_LIST) {
			backend_list_sql(buf, sizeof(buf), (unsigned)(id - ST_BACKEND_LIST), false);
			sql = buf;
		} else {
			sql = stmt_sql[id];
		}
		int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
					    NULL);
		if (rc != SQLITE_OK) {
			c->st[id] = NULL;
			return fail(c->db, rc, "prepare");
		}
	}
	*out = c->st[id];
	return 0;
}

/* Resets a cached statement when it goes out of scope. reset's return repeats the error of
 * the last step, which the caller has already handled; clear_bindings drops the pointers to
 * the caller's strings (bound SQLITE_STATIC, valid only during the call). */
static void stmt_donep(sqlite3_stmt **st)
{
	if (*st) {
		(void)sqlite3_reset(*st);
		(void)sqlite3_clear_bindings(*st);
	}
}
#define _cleanup_stmt_ _cleanup_(stmt_donep)

/* Binds parameters 1.. from fmt: 't' text (const char *), 'l' text with length (const char *,
 * size_t), 'i' int64_t. */
static int bind_va(struct conn *c, sqlite3_stmt *st, const char *fmt, va_list ap)
{
	for (int i = 1; *fmt; fmt++, i++) {
		int rc;
		const char *s;
		switch (*fmt) {
		case 't':
			rc = sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
			break;
		case 'l':
			s = va_arg(ap, const char *);
			rc = sqlite3_bind_text(st, i, s, (int)va_arg(ap, size_t), SQLITE_STATIC);
			break;
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		default:
			rc = SQLITE_MISUSE;
			break;
		}
		if (rc != SQLITE_OK)
			return fail(c->db, rc, "bind");
	}
	return 0;
}

static int prep_bind(struct conn *c, enum stmt_id id, sqlite3_stmt **st, const char *fmt, ...)
{
	int r = prep(c, id, st);
	if (r < 0)
		return r;
	va_list ap;
	va_start(ap, fmt);
	r = bind_va(c, *st, fmt, ap);
	va_end(ap);
	return r;
}

/* One step: SQLITE_ROW, SQLITE_DONE, or a negative errno. */
static int step(struct conn *c, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	return fail(c->db, rc, "step");
}

/* Runs a statement that returns no rows; the number of rows it changed or a negative errno. */
static int exec_changes(struct conn *c, enum stmt_id id, const char *fmt, ...)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prep(c, id, &st);
	if (r < 0)
		return r;
	va_list ap;
	va_start(ap, fmt);
	r = bind_va(c, st, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	r = step(c, st);
	if (r < 0)
		return r;
	if (r != SQLITE_DONE) {
		store_set_error("sqlite: statement returned rows");
		return -EIO;
	}
	return sqlite3_changes(c->db);
}

/* The next slot of a result array grown by doubling, zeroed and counted in *k; NULL with *r
 * set when out of memory (*v stays valid for the caller to free). */
static void *next_row(struct conn *c, void **v, size_t *k, size_t *cap, size_t size,
		      const char *what, int *r)
{
	if (*k == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *nv = realloc(*v, ncap * size);
		if (!nv) {
			*r = fail(c->db, SQLITE_NOMEM, what);
			return NULL;
		}
		*v = nv;
		*cap = ncap;
	}
	void *row = (char *)*v + (*k)++ * size;
	memset(row, 0, size);
	return row;
}

/* Copies a text column into a fixed field; a value longer than the field (written by someone
 * else than this program) is -EIO, never a truncation. */
static int col_text(struct conn *c, sqlite3_stmt *st, int i, char *buf, size_t size)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		buf[0] = '\0';
		return 0;
	}
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t)
		return fail(c->db, SQLITE_NOMEM, "column");
	int n = sqlite3_column_bytes(st, i);
	if (n < 0 || (size_t)n >= size) {
		store_set_error("sqlite: stored %s longer than %zu bytes",
				sqlite3_column_name(st, i), size - 1);
		return -EIO;
	}
	memcpy(buf, t, (size_t)n);
	buf[n] = '\0';
	return 0;
}

#define COL_TEXT(c, st, i, field) col_text(c, st, i, field, sizeof(field))

/* --- transactions --- */

/* Writers take the process's write lock before a connection, so queued writers never hold
 * connections that readers could use. */
static int tx_begin(struct sq *q, enum tx_mode mode, struct conn **out)
{
	struct conn *c;
	int r;
	if (mode == TX_WRITE) {
		struct timespec until;
		deadline_in(&until, CLOCK_REALTIME, q->busy_ms);
		if (pthread_mutex_timedlock(&q->write_mu, &until) != 0) {
			store_set_error("sqlite: another writer held the database for %d ms",
					q->busy_ms);
			return -EBUSY;
		}
	}
	if ((r = conn_get(q, &c)) < 0)
		goto err;
	if (mode != TX_NONE &&
	    (r = exec_changes(c, mode == TX_WRITE ? ST_BEGIN_WRITE : ST_BEGIN_READ, "")) < 0) {
		conn_put(q, c);
		goto err;
	}
	*out = c;
	return 0;
err:
	if (mode == TX_WRITE)
		pthread_mutex_unlock(&q->write_mu);
	return r;
}

static int audit_insert(struct conn *c, const struct store_audit *a)
{
	int r = exec_changes(c, ST_AUDIT_INSERT, "ittttti", a->at, a->client, a->principal,
			     a->action, a->resource, a->result, (int64_t)a->status);
	return r < 0 ? r : 0;
}

/* Ends what tx_begin started: on success (r >= 0) inserts the audit record and commits; on
 * any failure rolls everything back. Returns the connection and r (or the commit's error). */
static int tx_end(struct sq *q, enum tx_mode mode, struct conn *c, int r,
		  const struct store_audit *a)
{
	if (r >= 0 && a) {
		int ra = audit_insert(c, a);
		if (ra < 0)
			r = ra;
	}
	if (mode != TX_NONE) {
		if (r >= 0) {
			int rc = exec_changes(c, ST_COMMIT, "");
			if (rc < 0)
				r = rc;
		}
		if (r < 0 && !sqlite3_get_autocommit(c->db)) {
			/* Keep the first error's message: it is the one that matters. */
			char msg[STORE_LAST_ERROR_BYTES];
			(void)snprintf(msg, sizeof(msg), "%s", store_last_error());
			(void)exec_changes(c, ST_ROLLBACK, "");
			store_set_error("%s", msg);
		}
	}
	conn_put(q, c);
	if (mode == TX_WRITE)
		pthread_mutex_unlock(&q->write_mu);
	return r;
}

/* --- open / close --- */

/* Creates path 0600 (or tightens an existing one) before SQLite sees it; the -wal and -shm
 * files SQLite creates copy this mode. Leftover ones are tightened too. */
static int secure_file(const char *path, bool create, char *err, size_t errlen)
{
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (create ? O_CREAT : 0);
	_cleanup_close_ int fd = open(path, flags, 0600);
	int e;
	if (fd < 0) {
		e = errno;
		if (!create && e == ENOENT)
			return 0;
		(void)snprintf(err, errlen, "store: cannot open %s: %s", path, strerror(e));
		return -e;
	}
	struct stat stbuf;
	if (fstat(fd, &stbuf) < 0) {
		e = errno;
		(void)snprintf(err, errlen, "store: cannot stat %s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(stbuf.st_mode)) {
		(void)snprintf(err, errlen, "store: %s is not a regular file", path);
		return -EINVAL;
	}
	if ((stbuf.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0) {
		e = errno;
		(void)snprintf(err, errlen, "store: cannot make %s mode 0600: %s", path,
			       strerror(e));
		return -e;
	}
	return 0;
}

static int secure_files(const char *path, char *err, size_t errlen)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	int r = secure_file(path, true, err, errlen);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(suffix); i++) {
		char side[4096];
		int n = snprintf(side, sizeof(side), "%s%s", path, suffix[i]);
		if (n < 0 || (size_t)n >= sizeof(side)) {
			(void)snprintf(err, errlen, "store: database path too long");
			return -ENAMETOOLONG;
		}
		r = secure_file(side, false, err, errlen);
	}
	return r;
}

static int db_version(sqlite3 *db, int *version)
{
	char val[32];
	int r = exec_row(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", val,
			 sizeof(val));
	if (r < 0)
		return r;
	uint64_t v;
	if (util_parse_u64(val, INT32_MAX, &v) < 0) {
		store_set_error("sqlite: bad schema version \"%s\"", val);
		return -EIO;
	}
	*version = (int)v;
	return 0;
}

/* Brings the schema up to date, one migration per transaction. BEGIN IMMEDIATE before reading
 * the version, so two processes opening a new database at once cannot both apply one. */
static int migrate(sqlite3 *db, int *version)
{
	int rc = sqlite3_exec(db,
			      "CREATE TABLE IF NOT EXISTS schema_migrations ("
			      " version INTEGER PRIMARY KEY, applied_at INTEGER)",
			      NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail(db, rc, "create schema_migrations");
	for (;;) {
		int v, r;
		if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
			return fail(db, rc, "begin migration");
		if ((r = db_version(db, &v)) < 0)
			goto rollback;
		if (v > (int)ARRAY_SIZE(migrations)) {
			store_set_error("database schema version %d is newer than this program's "
					"(%d): upgrade cloisterd",
					v, (int)ARRAY_SIZE(migrations));
			r = -EPROTO;
			goto rollback;
		}
		if (v == (int)ARRAY_SIZE(migrations)) {
			if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
				r = fail(db, rc, "commit");
				goto rollback;
			}
			*version = v;
			return 0;
		}
		if ((rc = sqlite3_exec(db, migrations[v], NULL, NULL, NULL)) != SQLITE_OK) {
			r = fail(db, rc, "migration");
			goto rollback;
		}
		char sql[128];
		(void)snprintf(sql, sizeof(sql),
			       "INSERT INTO schema_migrations (version, applied_at) "
			       "VALUES (%d, %lld)",
			       v + 1, (long long)(util_now_ns() / 1000000000));
		if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK ||
		    (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
			r = fail(db, rc, "record migration");
			goto rollback;
		}
		continue;
	rollback:
		if (!sqlite3_get_autocommit(db))
			(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
}

/* "path?busy_timeout_ms=N": the only option, and only lower than the compiled default. */
static int parse_options(struct sq *q, const char *target, char *err, size_t errlen)
{
	static const char key[] = "busy_timeout_ms=";
	const char *opt = strchr(target, '?');
	uint64_t v;
	if (!*q->path) {
		(void)snprintf(err, errlen, "store: empty database path");
		return -EINVAL;
	}
	if (!opt)
		return 0;
	opt++;
	if (strncmp(opt, key, sizeof(key) - 1) ||
	    util_parse_u64(opt + sizeof(key) - 1, STORE_BUSY_TIMEOUT_MS, &v) < 0 || v == 0) {
		(void)snprintf(err, errlen,
			       "store: bad option \"%s\" (known: busy_timeout_ms=1..%d)", opt,
			       STORE_BUSY_TIMEOUT_MS);
		return -EINVAL;
	}
	q->busy_ms = (int)v;
	return 0;
}

static void sq_close(void *impl)
{
	struct sq *q = impl;
	if (!q)
		return;
	while (q->idle) {
		struct conn *c = q->idle;
		q->idle = c->next;
		conn_free(c);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_mutex_destroy(&q->write_mu);
	pthread_cond_destroy(&q->cv);
	free(q->path);
	free(q);
}

static void *sq_open(const char *path, char *err, size_t errlen)
{
	char dummy[8];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (!sqlite3_threadsafe()) {
		(void)snprintf(err, errlen, "store: this SQLite was built without thread support");
		return NULL;
	}
	struct sq *q = calloc(1, sizeof(*q));
	if (!q) {
		(void)snprintf(err, errlen, "store: out of memory");
		return NULL;
	}
	/* The pool waits on CLOCK_MONOTONIC deadlines: a wall-clock step must not cut them. On
	 * Linux these inits cannot fail but for memory, and need no destroy when they do. */
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0) {
		free(q);
		(void)snprintf(err, errlen, "store: out of memory");
		return NULL;
	}
	bool ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
		  pthread_cond_init(&q->cv, &ca) == 0;
	pthread_condattr_destroy(&ca);
	if (!ok || pthread_mutex_init(&q->mu, NULL) || pthread_mutex_init(&q->write_mu, NULL) ||
	    !(q->path = strndup(path, strcspn(path, "?")))) {
		free(q);
		(void)snprintf(err, errlen, "store: out of memory");
		return NULL;
	}
	q->busy_ms = STORE_BUSY_TIMEOUT_MS;
	if (parse_options(q, path, err, errlen) < 0 || secure_files(q->path, err, errlen) < 0)
		goto fail;

	struct conn *c;
	if (conn_open(q->path, q->busy_ms, &c) < 0) {
		(void)snprintf(err, errlen, "store: %s: %s", q->path, store_last_error());
		goto fail;
	}
	if (migrate(c->db, &q->version) < 0) {
		(void)snprintf(err, errlen, "store: %s: %s", q->path, store_last_error());
		conn_free(c);
		goto fail;
	}
	q->n_open = 1;
	q->idle = c;
	return q;
fail:
	sq_close(q);
	return NULL;
}

static int sq_schema_version(void *impl)
{
	return ((struct sq *)impl)->version;
}

/* --- users --- */

static int read_user(struct conn *c, sqlite3_stmt *st, struct store_user *u)
{
	int r;
	memset(u, 0, sizeof(*u));
	if ((r = COL_TEXT(c, st, 0, u->id)) < 0 || (r = COL_TEXT(c, st, 1, u->username)) < 0 ||
	    (r = COL_TEXT(c, st, 2, u->role)) < 0 || (r = COL_TEXT(c, st, 3, u->pw_hash)) < 0)
		return r;
	u->disabled = sqlite3_column_int64(st, 4) != 0;
	u->created_at = sqlite3_column_int64(st, 5);
	u->updated_at = sqlite3_column_int64(st, 6);
	u->tokens_valid_after = sqlite3_column_int64(st, 7);
	return 0;
}

static int sq_user_create(void *impl, const struct store_user *u, const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = exec_changes(c, ST_USER_INSERT, "ttttiiii", u->id, u->username, u->role, u->pw_hash,
			 (int64_t)u->disabled, u->created_at, u->updated_at, u->tokens_valid_after);
	return tx_end(impl, TX_WRITE, c, r < 0 ? r : 0, a);
}

static int user_get_by(void *impl, enum stmt_id id, const char *key, struct store_user *out)
{
	struct conn *c;
	int r = tx_begin(impl, TX_NONE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, id, &st, "t", key)) == 0 && (r = step(c, st)) >= 0)
			r = r == SQLITE_ROW ? read_user(c, st, out) : -ENOENT;
	}
	return tx_end(impl, TX_NONE, c, r, NULL);
}

static int sq_user_get(void *impl, const char *id, struct store_user *out)
{
	return user_get_by(impl, ST_USER_GET, id, out);
}

static int sq_user_get_by_name(void *impl, const char *username, struct store_user *out)
{
	return user_get_by(impl, ST_USER_GET_BY_NAME, username, out);
}

/* A write that must hit exactly one row: 0 changed rows is -ENOENT. */
static int one_row(int changes)
{
	return changes < 0 ? changes : changes == 0 ? -ENOENT : 0;
}

static int sq_user_update(void *impl, const struct store_user *u, const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = one_row(exec_changes(c, ST_USER_UPDATE, "ttiiit", u->role, u->pw_hash,
				 (int64_t)u->disabled, u->updated_at, u->tokens_valid_after,
				 u->id));
	return tx_end(impl, TX_WRITE, c, r, a);
}

static int sq_user_delete(void *impl, const char *id, const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = one_row(exec_changes(c, ST_USER_DELETE, "t", id));
	return tx_end(impl, TX_WRITE, c, r, a);
}

/* SELECT COUNT(*) style statements: one integer. */
static int count_rows(struct conn *c, sqlite3_stmt *st, uint64_t *n)
{
	int r = step(c, st);
	if (r < 0)
		return r;
	if (r != SQLITE_ROW) {
		store_set_error("sqlite: count returned no row");
		return -EIO;
	}
	*n = (uint64_t)sqlite3_column_int64(st, 0);
	return 0;
}

/* The number of rows a page holds: min(limit, total - offset). */
static size_t page_rows(uint64_t total, uint64_t offset, unsigned limit)
{
	if (offset >= total)
		return 0;
	return total - offset < limit ? (size_t)(total - offset) : limit;
}

static int sq_user_list(void *impl, unsigned limit, uint64_t offset, struct store_user **out,
			size_t *n, uint64_t *total)
{
	struct conn *c;
	struct store_user *v = NULL;
	size_t k = 0, cap = 0;
	int r = tx_begin(impl, TX_READ, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_USER_COUNT, &st, "")) < 0 ||
		    (r = count_rows(c, st, total)) < 0)
			goto out;
	}
	cap = page_rows(*total, offset, limit);
	if (cap && !(v = calloc(cap, sizeof(*v)))) {
		r = fail(c->db, SQLITE_NOMEM, "list");
		goto out;
	}
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_USER_LIST, &st, "ii", (int64_t)limit, (int64_t)offset)) <
		    0)
			goto out;
		while (k < cap && (r = step(c, st)) == SQLITE_ROW)
			if ((r = read_user(c, st, &v[k++])) < 0)
				goto out;
		r = r < 0 ? r : 0;
	}
out:
	r = tx_end(impl, TX_READ, c, r, NULL);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}

static int sq_user_count(void *impl, uint64_t *n)
{
	struct conn *c;
	int r = tx_begin(impl, TX_NONE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_USER_COUNT, &st, "")) == 0)
			r = count_rows(c, st, n);
	}
	return tx_end(impl, TX_NONE, c, r, NULL);
}

/* --- refresh tokens --- */

static int sq_refresh_add(void *impl, const char *jti, const char *user_id, int64_t exp_s)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = exec_changes(c, ST_REFRESH_INSERT, "tti", jti, user_id, exp_s);
	return tx_end(impl, TX_WRITE, c, r < 0 ? r : 0, NULL);
}

/* One DELETE that matches only a live token of this user: single use is the database's row
 * lock, not a read-then-delete race. */
static int sq_refresh_consume(void *impl, const char *jti, const char *user_id, int64_t now_s)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = one_row(exec_changes(c, ST_REFRESH_CONSUME, "tti", jti, user_id, now_s));
	return tx_end(impl, TX_WRITE, c, r, NULL);
}

static int sq_refresh_purge(void *impl, int64_t now_s)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = exec_changes(c, ST_REFRESH_PURGE, "i", now_s);
	return tx_end(impl, TX_WRITE, c, r, NULL);
}

/* --- backends --- */

static int read_backend(struct conn *c, sqlite3_stmt *st, struct store_backend *b)
{
	int r;
	memset(b, 0, sizeof(*b));
	if ((r = COL_TEXT(c, st, 0, b->id)) < 0 || (r = COL_TEXT(c, st, 1, b->owner)) < 0 ||
	    (r = COL_TEXT(c, st, 2, b->name)) < 0 || (r = COL_TEXT(c, st, 3, b->description)) < 0 ||
	    (r = COL_TEXT(c, st, 4, b->address)) < 0 || (r = COL_TEXT(c, st, 5, b->status)) < 0 ||
	    (r = COL_TEXT(c, st, 6, b->last_error)) < 0)
		return r;
	b->created_at = sqlite3_column_int64(st, 7);
	b->updated_at = sqlite3_column_int64(st, 8);
	b->last_seen = sqlite3_column_int64(st, 9);
	b->has_info = sqlite3_column_int64(st, 10) != 0;
	return 0;
}

static int sq_backend_create(void *impl, const struct store_backend *b, const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = exec_changes(c, ST_BACKEND_INSERT, "tttttttiii", b->id, b->owner, b->name,
			 b->description, b->address, b->status, b->last_error, b->created_at,
			 b->updated_at, b->last_seen);
	if (r == -ENOENT)
		store_set_error("sqlite: owner %s does not exist", b->owner);
	return tx_end(impl, TX_WRITE, c, r < 0 ? r : 0, a);
}

static int sq_backend_get(void *impl, const char *id, struct store_backend *out)
{
	struct conn *c;
	int r = tx_begin(impl, TX_NONE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_BACKEND_GET, &st, "t", id)) == 0 && (r = step(c, st)) >= 0)
			r = r == SQLITE_ROW ? read_backend(c, st, out) : -ENOENT;
	}
	return tx_end(impl, TX_NONE, c, r, NULL);
}

static int sq_backend_update(void *impl, const struct store_backend *b, const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = one_row(exec_changes(c, ST_BACKEND_UPDATE, "tttit", b->name, b->description, b->address,
				 b->updated_at, b->id));
	return tx_end(impl, TX_WRITE, c, r, a);
}

/* Its certificates outlive it, revoked (and their keys wiped) in the same transaction. */
static int sq_backend_delete(void *impl, const char *id, const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = one_row(exec_changes(c, ST_BACKEND_DELETE, "t", id));
	if (r == 0) {
		r = exec_changes(c, ST_CERT_REVOKE_BACKEND, "it", util_now_ns(), id);
		r = r < 0 ? r : 0;
	}
	return tx_end(impl, TX_WRITE, c, r, a);
}

/* Binds the filters that the mask says the statement has. */
static int bind_filter(struct conn *c, sqlite3_stmt *st, const struct store_backend_filter *f)
{
	int rc = SQLITE_OK;
	if (f->owner)
		rc = sqlite3_bind_text(st, 1, f->owner, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && f->name)
		rc = sqlite3_bind_text(st, 2, f->name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && f->status)
		rc = sqlite3_bind_text(st, 3, f->status, -1, SQLITE_STATIC);
	return rc == SQLITE_OK ? 0 : fail(c->db, rc, "bind");
}

static int sq_backend_list(void *impl, const struct store_backend_filter *f,
			   struct store_backend **out, size_t *n, uint64_t *total)
{
	unsigned mask = (f->owner ? FILTER_OWNER : 0) | (f->name ? FILTER_NAME : 0) |
			(f->status ? FILTER_STATUS : 0);
	struct conn *c;
	struct store_backend *v = NULL;
	size_t k = 0, cap = 0;
	int r = tx_begin(impl, TX_READ, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep(c, (enum stmt_id)(ST_BACKEND_TOTAL + mask), &st)) < 0 ||
		    (r = bind_filter(c, st, f)) < 0 || (r = count_rows(c, st, total)) < 0)
			goto out;
	}
	cap = page_rows(*total, f->offset, f->limit);
	if (cap && !(v = calloc(cap, sizeof(*v)))) {
		r = fail(c->db, SQLITE_NOMEM, "list");
		goto out;
	}
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		int rc;
		if ((r = prep(c, (enum stmt_id)(ST_BACKEND_LIST + mask), &st)) < 0 ||
		    (r = bind_filter(c, st, f)) < 0)
			goto out;
		if ((rc = sqlite3_bind_int64(st, 4, f->limit)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 5, (int64_t)f->offset)) != SQLITE_OK) {
			r = fail(c->db, rc, "bind");
			goto out;
		}
		while (k < cap && (r = step(c, st)) == SQLITE_ROW)
			if ((r = read_backend(c, st, &v[k++])) < 0)
				goto out;
		r = r < 0 ? r : 0;
	}
out:
	r = tx_end(impl, TX_READ, c, r, NULL);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}

static int sq_backend_set_status(void *impl, const char *id, const char *status, const char *error,
				 int64_t last_seen, int64_t now_ns, const struct store_audit *a)
{
	struct conn *c;
	char old[STORE_STATUS_MAX + 1];
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_BACKEND_STATUS_GET, &st, "t", id)) < 0 ||
		    (r = step(c, st)) < 0)
			goto out;
		if (r != SQLITE_ROW) {
			r = -ENOENT;
			goto out;
		}
		if ((r = COL_TEXT(c, st, 0, old)) < 0)
			goto out;
	}
	r = one_row(exec_changes(c, ST_BACKEND_STATUS_SET, "ttit", status, error, last_seen, id));
	if (r == 0 && strcmp(old, status)) {
		r = exec_changes(c, ST_HISTORY_INSERT, "titt", id, now_ns, status, error);
		if (r >= 0)
			r = exec_changes(c, ST_HISTORY_PRUNE, "ti", id, (int64_t)STORE_HISTORY_MAX);
		r = r < 0 ? r : 0;
	}
out:
	return tx_end(impl, TX_WRITE, c, r, a);
}

/* -ENOENT unless the backend exists (inside the caller's transaction). */
static int backend_exists(struct conn *c, const char *id)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prep_bind(c, ST_BACKEND_EXISTS, &st, "t", id);
	if (r == 0 && (r = step(c, st)) >= 0)
		r = r == SQLITE_ROW ? 0 : -ENOENT;
	return r;
}

static int sq_backend_history(void *impl, const char *id, int64_t since_ns,
			      struct store_status_point **out, size_t *n)
{
	struct conn *c;
	struct store_status_point *v = NULL;
	size_t k = 0, cap = 0;
	int r = tx_begin(impl, TX_READ, &c);
	if (r < 0)
		return r;
	if ((r = backend_exists(c, id)) < 0)
		goto out;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_HISTORY_LIST, &st, "tii", id, since_ns,
				   (int64_t)STORE_HISTORY_MAX)) < 0)
			goto out;
		while ((r = step(c, st)) == SQLITE_ROW) {
			struct store_status_point *row =
				next_row(c, (void **)&v, &k, &cap, sizeof(*v), "history", &r);
			if (!row)
				goto out;
			row->at = sqlite3_column_int64(st, 0);
			if ((r = COL_TEXT(c, st, 1, row->status)) < 0 ||
			    (r = COL_TEXT(c, st, 2, row->error)) < 0)
				goto out;
		}
		r = r < 0 ? r : 0;
	}
out:
	r = tx_end(impl, TX_READ, c, r, NULL);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}

struct status_count {
	char status[STORE_STATUS_MAX + 1];
	uint64_t n;
};

/* Collects the counts first and calls fn after the connection is back in the pool, so the
 * callback may do anything, even call the store. */
static int sq_backend_count_by_status(void *impl,
				      void (*fn)(void *ud, const char *status, uint64_t n),
				      void *ud)
{
	struct conn *c;
	_cleanup_free_ struct status_count *v = NULL;
	size_t k = 0, cap = 0;
	int r = tx_begin(impl, TX_NONE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_COUNT_BY_STATUS, &st, "")) < 0)
			goto out;
		while ((r = step(c, st)) == SQLITE_ROW) {
			struct status_count *row =
				next_row(c, (void **)&v, &k, &cap, sizeof(*v), "count", &r);
			if (!row)
				goto out;
			if ((r = COL_TEXT(c, st, 0, row->status)) < 0)
				goto out;
			row->n = (uint64_t)sqlite3_column_int64(st, 1);
		}
		r = r < 0 ? r : 0;
	}
out:
	r = tx_end(impl, TX_NONE, c, r, NULL);
	if (r < 0)
		return r;
	for (size_t i = 0; i < k; i++)
		fn(ud, v[i].status, v[i].n);
	return 0;
}

static int sq_backend_info_get(void *impl, const char *id, char **json, size_t *len)
{
	struct conn *c;
	int r = tx_begin(impl, TX_NONE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_INFO_GET, &st, "t", id)) < 0 || (r = step(c, st)) < 0)
			goto out;
		if (r != SQLITE_ROW) {
			r = -ENOENT;
			goto out;
		}
		const unsigned char *t = sqlite3_column_text(st, 0);
		int nb = sqlite3_column_bytes(st, 0);
		if (!t) {
			r = fail(c->db, SQLITE_NOMEM, "info");
			goto out;
		}
		if (nb < 0 || (size_t)nb > STORE_INFO_MAX_BYTES) {
			store_set_error("sqlite: stored backend information over %u bytes",
					STORE_INFO_MAX_BYTES);
			r = -EIO;
			goto out;
		}
		char *p = malloc((size_t)nb + 1);
		if (!p) {
			r = fail(c->db, SQLITE_NOMEM, "info");
			goto out;
		}
		memcpy(p, t, (size_t)nb);
		p[nb] = '\0';
		*json = p;
		*len = (size_t)nb;
		r = 0;
	}
out:
	return tx_end(impl, TX_NONE, c, r, NULL);
}

/* Storing the information file is a change of the backend: its updated_at moves too. */
static int sq_backend_info_put(void *impl, const char *id, const char *json, size_t len,
			       int64_t now_ns, const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = one_row(exec_changes(c, ST_BACKEND_TOUCH, "it", now_ns, id));
	if (r == 0) {
		r = exec_changes(c, ST_INFO_PUT, "tli", id, json, len, now_ns);
		r = r < 0 ? r : 0;
	}
	return tx_end(impl, TX_WRITE, c, r, a);
}

/* --- monitor heartbeat and key pins --- */

static int sq_backend_seen_batch(void *impl, const char *const *ids, const int64_t *seen_ns,
				 size_t n)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = exec_changes(c, ST_SEEN_SET, "it", seen_ns[i], ids[i]); /* 0 rows: deleted */
	return tx_end(impl, TX_WRITE, c, r < 0 ? r : 0, NULL);
}

static int sq_backend_pin_set(void *impl, const char *id, const char *pin,
			      const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	r = one_row(exec_changes(c, ST_PIN_SET, "tt", pin, id));
	return tx_end(impl, TX_WRITE, c, r, a);
}

static int sq_backend_pin_get(void *impl, const char *id, char out[STORE_PIN_MAX + 1])
{
	struct conn *c;
	int r = tx_begin(impl, TX_NONE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_PIN_GET, &st, "t", id)) == 0 && (r = step(c, st)) >= 0)
			r = r == SQLITE_ROW ? col_text(c, st, 0, out, STORE_PIN_MAX + 1) : -ENOENT;
	}
	return tx_end(impl, TX_NONE, c, r, NULL);
}

/* --- certificates --- */

/* The CERT_COLS columns (0..8); cert_pem (column 9) only when with_pem. */
static int read_cert(struct conn *c, sqlite3_stmt *st, struct store_cert *k, bool with_pem)
{
	int r;
	memset(k, 0, sizeof(*k));
	if ((r = COL_TEXT(c, st, 0, k->serial)) < 0 ||
	    (r = COL_TEXT(c, st, 1, k->backend_id)) < 0 ||
	    (r = COL_TEXT(c, st, 7, k->renewed_from)) < 0 ||
	    (with_pem && (r = COL_TEXT(c, st, 9, k->cert_pem)) < 0))
		return r;
	k->revoked = sqlite3_column_int64(st, 2) != 0;
	k->created_at = sqlite3_column_int64(st, 3);
	k->not_before = sqlite3_column_int64(st, 4);
	k->not_after = sqlite3_column_int64(st, 5);
	k->revoked_at = sqlite3_column_int64(st, 6);
	k->key_held = sqlite3_column_int64(st, 8) != 0;
	return 0;
}

static int sq_cert_create(void *impl, const struct store_cert *k, const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	if ((r = backend_exists(c, k->backend_id)) == -ENOENT)
		store_set_error("sqlite: backend %s does not exist", k->backend_id);
	if (r == 0) {
		r = exec_changes(c, ST_CERT_INSERT, "ttttiiit", k->serial, k->backend_id,
				 k->cert_pem, k->key_pem, k->created_at, k->not_before,
				 k->not_after, k->renewed_from);
		r = r < 0 ? r : 0;
	}
	return tx_end(impl, TX_WRITE, c, r, a);
}

static int sq_cert_get(void *impl, const char *serial, struct store_cert *out)
{
	struct conn *c;
	int r = tx_begin(impl, TX_NONE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_CERT_GET, &st, "t", serial)) == 0 &&
		    (r = step(c, st)) >= 0)
			r = r == SQLITE_ROW ? read_cert(c, st, out, true) : -ENOENT;
	}
	return tx_end(impl, TX_NONE, c, r, NULL);
}

static int bind_cert_filter(struct conn *c, sqlite3_stmt *st, const char *backend_id,
			    const char *owner)
{
	int rc = SQLITE_OK;
	if (backend_id)
		rc = sqlite3_bind_text(st, 1, backend_id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && owner)
		rc = sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	return rc == SQLITE_OK ? 0 : fail(c->db, rc, "bind");
}

static int sq_cert_list(void *impl, const char *backend_id, const char *owner, unsigned limit,
			uint64_t offset, struct store_cert **out, size_t *n, uint64_t *total)
{
	unsigned mask = (backend_id ? CFILTER_BACKEND : 0) | (owner ? CFILTER_OWNER : 0);
	struct conn *c;
	struct store_cert *v = NULL;
	size_t k = 0, cap = 0;
	int r = tx_begin(impl, TX_READ, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep(c, (enum stmt_id)(ST_CERT_TOTAL + mask), &st)) < 0 ||
		    (r = bind_cert_filter(c, st, backend_id, owner)) < 0 ||
		    (r = count_rows(c, st, total)) < 0)
			goto out;
	}
	cap = page_rows(*total, offset, limit);
	if (cap && !(v = calloc(cap, sizeof(*v)))) {
		r = fail(c->db, SQLITE_NOMEM, "list");
		goto out;
	}
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		int rc;
		if ((r = prep(c, (enum stmt_id)(ST_CERT_LIST + mask), &st)) < 0 ||
		    (r = bind_cert_filter(c, st, backend_id, owner)) < 0)
			goto out;
		if ((rc = sqlite3_bind_int64(st, 3, limit)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 4, (int64_t)offset)) != SQLITE_OK) {
			r = fail(c->db, rc, "bind");
			goto out;
		}
		while (k < cap && (r = step(c, st)) == SQLITE_ROW)
			if ((r = read_cert(c, st, &v[k++], false)) < 0)
				goto out;
		r = r < 0 ? r : 0;
	}
out:
	r = tx_end(impl, TX_READ, c, r, NULL);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}

static int sq_cert_revoke(void *impl, const char *serial, int64_t at_ns,
			  const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_CERT_REVOKED_FLAG, &st, "t", serial)) < 0 ||
		    (r = step(c, st)) < 0)
			goto out;
		if (r != SQLITE_ROW)
			r = -ENOENT;
		else if (sqlite3_column_int64(st, 0) != 0)
			r = -EALREADY;
		else
			r = 0;
	}
	if (r == 0)
		r = one_row(exec_changes(c, ST_CERT_REVOKE, "it", at_ns, serial));
out:
	return tx_end(impl, TX_WRITE, c, r, a);
}

static int sq_cert_revoked(void *impl, struct store_revoked **out, size_t *n)
{
	struct conn *c;
	struct store_revoked *v = NULL;
	size_t k = 0, cap = 0;
	int r = tx_begin(impl, TX_NONE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_CERT_REVOKED_LIST, &st, "i",
				   (int64_t)STORE_REVOKED_MAX + 1)) < 0)
			goto out;
		while ((r = step(c, st)) == SQLITE_ROW) {
			if (k == STORE_REVOKED_MAX) {
				store_set_error("sqlite: more than %d revoked certificates",
						STORE_REVOKED_MAX);
				r = -E2BIG;
				goto out;
			}
			struct store_revoked *row =
				next_row(c, (void **)&v, &k, &cap, sizeof(*v), "revoked", &r);
			if (!row)
				goto out;
			struct store_revoked *e = row;
			if ((r = COL_TEXT(c, st, 0, e->serial)) < 0 ||
			    (r = COL_TEXT(c, st, 1, e->backend_id)) < 0)
				goto out;
			e->revoked_at = sqlite3_column_int64(st, 2);
		}
		r = r < 0 ? r : 0;
	}
out:
	r = tx_end(impl, TX_NONE, c, r, NULL);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Read and wipe in one write transaction: of two concurrent downloads only one sees the key. */
static int sq_cert_take_key(void *impl, const char *serial, char key_out[STORE_KEY_PEM_MAX + 1],
			    const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_CERT_KEY_GET, &st, "t", serial)) < 0 ||
		    (r = step(c, st)) < 0)
			goto out;
		r = r == SQLITE_ROW ? col_text(c, st, 0, key_out, STORE_KEY_PEM_MAX + 1) : -ENOENT;
	}
	if (r == 0)
		r = one_row(exec_changes(c, ST_CERT_KEY_WIPE, "t", serial));
out:
	r = tx_end(impl, TX_WRITE, c, r, a);
	if (r < 0)
		explicit_bzero(key_out, STORE_KEY_PEM_MAX + 1);
	return r;
}

/* --- audit --- */

static int sq_audit_add(void *impl, const struct store_audit *a)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	return tx_end(impl, TX_WRITE, c, 0, a);
}

static int sq_audit_add_many(void *impl, const struct store_audit *a, size_t n)
{
	struct conn *c;
	int r = tx_begin(impl, TX_WRITE, &c);
	if (r < 0)
		return r;
	for (size_t i = 0; i + 1 < n && r >= 0; i++)
		r = audit_insert(c, &a[i]);
	/* the last one goes with the commit, as for a single record */
	return tx_end(impl, TX_WRITE, c, r, &a[n - 1]);
}

static int sq_audit_list(void *impl, unsigned limit, int64_t before_id, struct store_audit **out,
			 size_t *n)
{
	struct conn *c;
	struct store_audit *v = NULL;
	size_t k = 0, cap = 0;
	int r = tx_begin(impl, TX_NONE, &c);
	if (r < 0)
		return r;
	{
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		if ((r = prep_bind(c, ST_AUDIT_LIST, &st, "ii", before_id ? before_id : INT64_MAX,
				   (int64_t)limit)) < 0)
			goto out;
		while ((r = step(c, st)) == SQLITE_ROW) {
			struct store_audit *row =
				next_row(c, (void **)&v, &k, &cap, sizeof(*v), "audit", &r);
			if (!row)
				goto out;
			struct store_audit *e = row;
			e->id = sqlite3_column_int64(st, 0);
			e->at = sqlite3_column_int64(st, 1);
			if ((r = COL_TEXT(c, st, 2, e->client)) < 0 ||
			    (r = COL_TEXT(c, st, 3, e->principal)) < 0 ||
			    (r = COL_TEXT(c, st, 4, e->action)) < 0 ||
			    (r = COL_TEXT(c, st, 5, e->resource)) < 0 ||
			    (r = COL_TEXT(c, st, 6, e->result)) < 0)
				goto out;
			e->status = (unsigned)sqlite3_column_int64(st, 7);
		}
		r = r < 0 ? r : 0;
	}
out:
	r = tx_end(impl, TX_NONE, c, r, NULL);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.kind = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.schema_version = sq_schema_version,
	.user_create = sq_user_create,
	.user_get = sq_user_get,
	.user_get_by_name = sq_user_get_by_name,
	.user_update = sq_user_update,
	.user_delete = sq_user_delete,
	.user_list = sq_user_list,
	.user_count = sq_user_count,
	.refresh_add = sq_refresh_add,
	.refresh_consume = sq_refresh_consume,
	.refresh_purge = sq_refresh_purge,
	.backend_create = sq_backend_create,
	.backend_get = sq_backend_get,
	.backend_update = sq_backend_update,
	.backend_delete = sq_backend_delete,
	.backend_list = sq_backend_list,
	.backend_set_status = sq_backend_set_status,
	.backend_history = sq_backend_history,
	.backend_count_by_status = sq_backend_count_by_status,
	.backend_info_get = sq_backend_info_get,
	.backend_info_put = sq_backend_info_put,
	.backend_seen_batch = sq_backend_seen_batch,
	.backend_pin_set = sq_backend_pin_set,
	.backend_pin_get = sq_backend_pin_get,
	.cert_create = sq_cert_create,
	.cert_get = sq_cert_get,
	.cert_list = sq_cert_list,
	.cert_revoke = sq_cert_revoke,
	.cert_revoked = sq_cert_revoked,
	.cert_take_key = sq_cert_take_key,
	.audit_add = sq_audit_add,
	.audit_add_many = sq_audit_add_many,
	.audit_list = sq_audit_list,
};
