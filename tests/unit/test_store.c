/*
 * test_store.c - the store.h contract on SQLite: files and modes, migrations and the refusal of
 * a newer schema, CRUD with -EEXIST/-ENOENT/-EINVAL for every table, cascades, single-use
 * refresh tokens, list filters/paging/totals, status history, the audit record's transaction,
 * concurrent writers and readers, and a kill -9 in the middle of writes; since schema 2 (issue 7)
 * key pins, the monitor's heartbeat batch, certificates (take-key once, revocation, the CRL
 * list, revocation on backend delete) and the migration of a version-1 database.
 * Every test opens a fresh store in its own mkdtemp directory under /tmp and removes it. The
 * database is inspected behind the store's back with plain sqlite3 calls where the contract says
 * "nothing was written".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "server/store.h"
#include "server/store_impl.h"
#include "util.h"

struct tctx {
	char dir[64];
	char path[128]; /* the database file */
	char url[160];  /* "sqlite:" + path */
	struct store *s;
};

static int teardown(void **state)
{
	struct tctx *t = *state;
	store_close(t->s);
	DIR *d = opendir(t->dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/%s", t->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(t->dir);
	free(t);
	return 0;
}

static int setup(void **state)
{
	struct tctx *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	memcpy(t->dir, "/tmp/store-test-XXXXXX", sizeof("/tmp/store-test-XXXXXX"));
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/cloisterd.db", t->dir);
	snprintf(t->url, sizeof(t->url), "sqlite:%s", t->path);
	char err[256] = "";
	t->s = store_open(t->url, err, sizeof(err));
	*state = t;
	if (!t->s) {
		fprintf(stderr, "store_open: %s\n", err);
		teardown(state);
		return -1;
	}
	return 0;
}

/* --- helpers --- */

static void mkid(char out[STORE_ID_BUF], unsigned kind, unsigned n)
{
	snprintf(out, STORE_ID_BUF, "%08x-0000-4000-8000-%012u", kind, n);
}

static struct store_user user_rec(unsigned n, const char *username)
{
	struct store_user u = { 0 };
	mkid(u.id, 0x11, n);
	snprintf(u.username, sizeof(u.username), "%s", username);
	snprintf(u.role, sizeof(u.role), "user");
	snprintf(u.pw_hash, sizeof(u.pw_hash), "$argon2id$v=19$m=65536,t=2,p=1$x$y");
	u.created_at = 1000 + n;
	u.updated_at = 1000 + n;
	return u;
}

static struct store_backend backend_rec(unsigned n, const char *owner, const char *name,
					int64_t created_at)
{
	struct store_backend b = { 0 };
	mkid(b.id, 0xbb, n);
	snprintf(b.owner, sizeof(b.owner), "%s", owner);
	snprintf(b.name, sizeof(b.name), "%s", name);
	snprintf(b.description, sizeof(b.description), "backend %u", n);
	snprintf(b.address, sizeof(b.address), "10.0.0.%u:7001", n % 250);
	snprintf(b.status, sizeof(b.status), "unverified");
	b.created_at = created_at;
	b.updated_at = created_at;
	return b;
}

static struct store_audit audit_rec(const char *action, const char *resource)
{
	struct store_audit a = { 0 };
	a.at = 42;
	snprintf(a.client, sizeof(a.client), "127.0.0.1");
	snprintf(a.principal, sizeof(a.principal), "alice");
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.resource, sizeof(a.resource), "%s", resource);
	snprintf(a.result, sizeof(a.result), "ok");
	a.status = 200;
	return a;
}

static void add_user(struct store *s, unsigned n, const char *username, struct store_user *out)
{
	struct store_user u = user_rec(n, username);
	assert_int_equal(store_user_create(s, &u, NULL), 0);
	if (out)
		*out = u;
}

/* Runs a one-value query on the database file directly (read-only connection). */
static int64_t raw_int(const struct tctx *t, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open_v2(t->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static unsigned file_mode(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* --- open, files, migrations --- */

static void test_open_creates_0600(void **state)
{
	struct tctx *t = *state;
	assert_int_equal(file_mode(t->path), 0600);
	assert_int_equal(store_schema_version(t->s), STORE_SCHEMA_VERSION);
	assert_string_equal(store_kind(t->s), "sqlite");
	assert_int_equal(raw_int(t, "SELECT MAX(version) FROM schema_migrations"),
			 STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM schema_migrations"),
			 STORE_SCHEMA_VERSION);
	/* A write brings the WAL and the shared-memory file: same mode. */
	add_user(t->s, 1, "alice", NULL);
	char side[200];
	snprintf(side, sizeof(side), "%s-wal", t->path);
	assert_int_equal(file_mode(side), 0600);
	snprintf(side, sizeof(side), "%s-shm", t->path);
	assert_int_equal(file_mode(side), 0600);
}

/* A permissive umask does not widen the files; a looser existing file is tightened. */
static void test_open_modes_umask_and_existing(void **state)
{
	struct tctx *t = *state;
	char p[200], err[256];
	snprintf(p, sizeof(p), "%s/umask.db", t->dir);
	mode_t old = umask(0);
	struct store *s = store_open(p, err, sizeof(err)); /* plain path form */
	umask(old);
	assert_non_null(s);
	assert_int_equal(file_mode(p), 0600);
	store_close(s);
	assert_int_equal(chmod(p, 0644), 0);
	s = store_open(p, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(file_mode(p), 0600);
	store_close(s);
	char side[220];
	snprintf(side, sizeof(side), "%s-wal", p);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", p);
	unlink(side);
	unlink(p);
}

static void test_open_bad_urls(void **state)
{
	struct tctx *t = *state;
	char err[256], p[200];

	err[0] = '\0';
	assert_null(store_open("postgres://db/cloister", err, sizeof(err)));
	assert_non_null(strstr(err, "PostgreSQL"));
	assert_null(store_open("postgresql://db/cloister", err, sizeof(err)));
	assert_null(store_open("mysql://db/x", err, sizeof(err)));
	assert_non_null(strstr(err, "scheme"));
	assert_null(store_open("sqlite:", err, sizeof(err)));
	assert_null(store_open("", err, sizeof(err)));
	assert_null(store_open(NULL, err, sizeof(err)));
	assert_null(store_open(NULL, NULL, 0)); /* no err buffer: still safe */

	snprintf(p, sizeof(p), "sqlite:%s/no/such/dir/x.db", t->dir);
	err[0] = '\0';
	assert_null(store_open(p, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));

	/* Not a database. */
	snprintf(p, sizeof(p), "%s/junk.db", t->dir);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database file. ", f);
	fclose(f);
	err[0] = '\0';
	assert_null(store_open(p, err, sizeof(err)));
	assert_true(err[0] != '\0');
	unlink(p);

	/* A directory in the database's place. */
	snprintf(p, sizeof(p), "%s/dir.db", t->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_null(store_open(p, err, sizeof(err)));
	rmdir(p);

	/* sqlite:///abs/path is the same file as sqlite:/abs/path. */
	snprintf(p, sizeof(p), "sqlite://%s", t->path);
	struct store *s = store_open(p, err, sizeof(err));
	assert_non_null(s);
	add_user(s, 7, "viaurl", NULL);
	store_close(s);
	struct store_user u;
	assert_int_equal(store_user_get_by_name(t->s, "viaurl", &u), 0);
}

static void test_reopen_keeps_data(void **state)
{
	struct tctx *t = *state;
	struct store_user u;
	add_user(t->s, 1, "alice", &u);
	struct store_backend b = backend_rec(1, u.id, "b1", 5);
	assert_int_equal(store_backend_create(t->s, &b, NULL), 0);
	store_close(t->s);
	char err[256];
	t->s = store_open(t->url, err, sizeof(err));
	assert_non_null(t->s);
	assert_int_equal(store_schema_version(t->s), STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM schema_migrations"),
			 STORE_SCHEMA_VERSION);
	struct store_backend got;
	assert_int_equal(store_backend_get(t->s, b.id, &got), 0);
	assert_string_equal(got.name, "b1");
	assert_int_equal(store_user_get(t->s, u.id, &u), 0);
}

static void test_future_version_refused(void **state)
{
	struct tctx *t = *state;
	add_user(t->s, 1, "alice", NULL);
	store_close(t->s);
	t->s = NULL;
	char sql[128];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO schema_migrations (version, applied_at) VALUES (%d, 0)",
		 STORE_SCHEMA_VERSION + 1);
	raw_exec(t->path, sql);
	char err[256] = "";
	assert_null(store_open(t->url, err, sizeof(err)));
	assert_non_null(strstr(err, "newer"));
	/* Refusing changed nothing: the row is still there, the data too. */
	assert_int_equal(raw_int(t, "SELECT MAX(version) FROM schema_migrations"),
			 STORE_SCHEMA_VERSION + 1);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM users"), 1);
}

/* --- users --- */

static void test_user_crud(void **state)
{
	struct tctx *t = *state;
	struct store_user u, got;
	add_user(t->s, 1, "alice", &u);
	assert_int_equal(store_user_get(t->s, u.id, &got), 0);
	assert_string_equal(got.username, "alice");
	assert_string_equal(got.role, "user");
	assert_string_equal(got.pw_hash, u.pw_hash);
	assert_false(got.disabled);
	assert_int_equal(got.created_at, u.created_at);
	assert_int_equal(store_user_get_by_name(t->s, "alice", &got), 0);
	assert_string_equal(got.id, u.id);
	assert_int_equal(store_user_get_by_name(t->s, "Alice", &got), -ENOENT);

	u.disabled = true;
	snprintf(u.role, sizeof(u.role), "admin");
	snprintf(u.pw_hash, sizeof(u.pw_hash), "newhash");
	u.updated_at = 5000;
	u.tokens_valid_after = 77;
	snprintf(u.username, sizeof(u.username), "renamed"); /* not replaced by update */
	assert_int_equal(store_user_update(t->s, &u, NULL), 0);
	assert_int_equal(store_user_get(t->s, u.id, &got), 0);
	assert_true(got.disabled);
	assert_string_equal(got.role, "admin");
	assert_string_equal(got.pw_hash, "newhash");
	assert_int_equal(got.updated_at, 5000);
	assert_int_equal(got.tokens_valid_after, 77);
	assert_string_equal(got.username, "alice");

	/* Duplicates: username, then id. */
	struct store_user dup = user_rec(2, "alice");
	assert_int_equal(store_user_create(t->s, &dup, NULL), -EEXIST);
	assert_true(store_last_error()[0] != '\0');
	dup = user_rec(1, "bob");
	assert_int_equal(store_user_create(t->s, &dup, NULL), -EEXIST);

	/* Missing ids. */
	struct store_user ghost = user_rec(99, "ghost");
	assert_int_equal(store_user_get(t->s, ghost.id, &got), -ENOENT);
	assert_int_equal(store_user_update(t->s, &ghost, NULL), -ENOENT);
	assert_int_equal(store_user_delete(t->s, ghost.id, NULL), -ENOENT);

	uint64_t n;
	add_user(t->s, 3, "carol", NULL);
	assert_int_equal(store_user_count(t->s, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_user_delete(t->s, u.id, NULL), 0);
	assert_int_equal(store_user_get(t->s, u.id, &got), -ENOENT);
	assert_int_equal(store_user_delete(t->s, u.id, NULL), -ENOENT);
	assert_int_equal(store_user_count(t->s, &n), 0);
	assert_int_equal(n, 1);
}

static void test_user_list(void **state)
{
	struct tctx *t = *state;
	for (unsigned i = 0; i < 12; i++) {
		char name[16];
		snprintf(name, sizeof(name), "user%02u", i);
		add_user(t->s, 12 - i, name, NULL); /* created_at descending with the loop */
	}
	struct store_user *v = NULL;
	size_t n = 0;
	uint64_t total = 0;
	assert_int_equal(store_user_list(t->s, 5, 10, &v, &n, &total), 0);
	assert_int_equal(n, 2);
	assert_int_equal(total, 12);
	assert_true(v[0].created_at < v[1].created_at);
	assert_string_equal(v[1].username, "user00");
	free(v);
	assert_int_equal(store_user_list(t->s, 5, 12, &v, &n, &total), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(store_user_list(t->s, 0, 0, &v, &n, &total), -EINVAL);
	assert_int_equal(store_user_list(t->s, STORE_LIST_MAX + 1, 0, &v, &n, &total), -EINVAL);
	assert_int_equal(store_user_list(t->s, STORE_LIST_MAX, 0, &v, &n, NULL), 0);
	assert_int_equal(n, 12);
	free(v);
	assert_int_equal(store_user_list(t->s, 1, (uint64_t)INT64_MAX + 1, &v, &n, &total),
			 -EINVAL);
}

static void test_user_limits(void **state)
{
	struct tctx *t = *state;
	struct store_user u = user_rec(1, "x");
	/* At the limits: accepted. */
	memset(u.username, 'u', STORE_USERNAME_MAX);
	u.username[STORE_USERNAME_MAX] = '\0';
	memset(u.pw_hash, 'h', STORE_PWHASH_MAX);
	u.pw_hash[STORE_PWHASH_MAX] = '\0';
	memset(u.role, 'r', STORE_ROLE_MAX);
	u.role[STORE_ROLE_MAX] = '\0';
	assert_int_equal(store_user_create(t->s, &u, NULL), 0);
	struct store_user got;
	assert_int_equal(store_user_get_by_name(t->s, u.username, &got), 0);
	assert_int_equal(strlen(got.pw_hash), STORE_PWHASH_MAX);

	/* One past each (no NUL inside the field): -EINVAL, nothing written. */
	struct store_user b;
	b = user_rec(2, "y");
	memset(b.username, 'u', sizeof(b.username));
	assert_int_equal(store_user_create(t->s, &b, NULL), -EINVAL);
	assert_non_null(strstr(store_last_error(), "username"));
	b = user_rec(2, "y");
	memset(b.pw_hash, 'h', sizeof(b.pw_hash));
	assert_int_equal(store_user_create(t->s, &b, NULL), -EINVAL);
	b = user_rec(2, "y");
	memset(b.role, 'r', sizeof(b.role));
	assert_int_equal(store_user_create(t->s, &b, NULL), -EINVAL);
	b = user_rec(2, "y");
	memset(b.id, 'i', sizeof(b.id));
	assert_int_equal(store_user_create(t->s, &b, NULL), -EINVAL);
	b = user_rec(2, "");
	assert_int_equal(store_user_create(t->s, &b, NULL), -EINVAL);
	b = user_rec(2, "bad\xff");
	assert_int_equal(store_user_create(t->s, &b, NULL), -EINVAL);
	b = user_rec(2, "y");
	memset(b.role, 'r', sizeof(b.role));
	assert_int_equal(store_user_update(t->s, &b, NULL), -EINVAL);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM users"), 1);

	char long_name[STORE_USERNAME_MAX + 2];
	memset(long_name, 'u', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(store_user_get_by_name(t->s, long_name, &got), -EINVAL);
	char long_id[STORE_ID_CHARS + 2];
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(store_user_get(t->s, long_id, &got), -EINVAL);
	assert_int_equal(store_user_delete(t->s, long_id, NULL), -EINVAL);
	assert_int_equal(store_user_get(t->s, NULL, &got), -EINVAL);
	assert_int_equal(store_user_get(NULL, u.id, &got), -EINVAL);
}

/* --- refresh tokens --- */

static void test_refresh_single_use(void **state)
{
	struct tctx *t = *state;
	struct store_user a, b;
	add_user(t->s, 1, "alice", &a);
	add_user(t->s, 2, "bob", &b);
	assert_int_equal(store_refresh_add(t->s, "j1", a.id, 1000), 0);
	assert_int_equal(store_refresh_add(t->s, "j1", a.id, 1000), -EEXIST);
	assert_int_equal(store_refresh_add(t->s, "j2", "no-such-user", 1000), -ENOENT);

	/* Another user's token: refused, and left in place for its owner. */
	assert_int_equal(store_refresh_consume(t->s, "j1", b.id, 10), -ENOENT);
	assert_int_equal(store_refresh_consume(t->s, "j1", a.id, 10), 0);
	assert_int_equal(store_refresh_consume(t->s, "j1", a.id, 10), -ENOENT);
	assert_int_equal(store_refresh_consume(t->s, "never", a.id, 10), -ENOENT);

	/* Expiry: valid while now < exp. */
	assert_int_equal(store_refresh_add(t->s, "j3", a.id, 100), 0);
	assert_int_equal(store_refresh_consume(t->s, "j3", a.id, 100), -ENOENT);
	assert_int_equal(store_refresh_consume(t->s, "j3", a.id, 99), 0);

	/* Purge removes only the expired ones. */
	assert_int_equal(store_refresh_add(t->s, "old1", a.id, 50), 0);
	assert_int_equal(store_refresh_add(t->s, "old2", b.id, 60), 0);
	assert_int_equal(store_refresh_add(t->s, "live", b.id, 500), 0);
	assert_int_equal(store_refresh_purge(t->s, 60), 2);
	assert_int_equal(store_refresh_purge(t->s, 60), 0);
	assert_int_equal(store_refresh_consume(t->s, "live", b.id, 61), 0);

	/* jti bounds. */
	char jti[STORE_JTI_MAX + 2];
	memset(jti, 'j', STORE_JTI_MAX);
	jti[STORE_JTI_MAX] = '\0';
	assert_int_equal(store_refresh_add(t->s, jti, a.id, 1000), 0);
	assert_int_equal(store_refresh_consume(t->s, jti, a.id, 1), 0);
	jti[STORE_JTI_MAX] = 'j';
	jti[STORE_JTI_MAX + 1] = '\0';
	assert_int_equal(store_refresh_add(t->s, jti, a.id, 1000), -EINVAL);
	assert_int_equal(store_refresh_consume(t->s, jti, a.id, 1), -EINVAL);
	assert_int_equal(store_refresh_add(t->s, "", a.id, 1000), -EINVAL);
}

struct consume_arg {
	struct store *s;
	const char *uid;
	int won;
};

static void *consume_thread(void *p)
{
	struct consume_arg *c = p;
	for (int i = 0; i < 50; i++) {
		char jti[16];
		snprintf(jti, sizeof(jti), "race%d", i);
		if (store_refresh_consume(c->s, jti, c->uid, 1) == 0)
			c->won++;
	}
	return NULL;
}

/* Four threads race for the same 50 tokens: each is consumed exactly once. */
static void test_refresh_concurrent_consume(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	for (int i = 0; i < 50; i++) {
		char jti[16];
		snprintf(jti, sizeof(jti), "race%d", i);
		assert_int_equal(store_refresh_add(t->s, jti, a.id, 1000), 0);
	}
	pthread_t th[4];
	struct consume_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct consume_arg){ t->s, a.id, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, consume_thread, &args[i]), 0);
	}
	int won = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		won += args[i].won;
	}
	assert_int_equal(won, 50);
}

/* --- backends --- */

static void test_backend_crud(void **state)
{
	struct tctx *t = *state;
	struct store_user a, b;
	add_user(t->s, 1, "alice", &a);
	add_user(t->s, 2, "bob", &b);
	struct store_backend x = backend_rec(1, a.id, "gpu-1", 10), got;
	assert_int_equal(store_backend_create(t->s, &x, NULL), 0);
	assert_int_equal(store_backend_get(t->s, x.id, &got), 0);
	assert_string_equal(got.owner, a.id);
	assert_string_equal(got.name, "gpu-1");
	assert_string_equal(got.description, "backend 1");
	assert_string_equal(got.address, "10.0.0.1:7001");
	assert_string_equal(got.status, "unverified");
	assert_string_equal(got.last_error, "");
	assert_false(got.has_info);
	assert_int_equal(got.created_at, 10);
	assert_int_equal(got.last_seen, 0);

	/* Same name, same owner: conflict; other owner: fine; same id: conflict. */
	struct store_backend y = backend_rec(2, a.id, "gpu-1", 11);
	assert_int_equal(store_backend_create(t->s, &y, NULL), -EEXIST);
	y = backend_rec(2, b.id, "gpu-1", 11);
	assert_int_equal(store_backend_create(t->s, &y, NULL), 0);
	y = backend_rec(1, b.id, "other", 11);
	assert_int_equal(store_backend_create(t->s, &y, NULL), -EEXIST);
	/* Unknown owner. */
	y = backend_rec(3, "00000000-0000-4000-8000-00000000dead", "gpu-3", 12);
	assert_int_equal(store_backend_create(t->s, &y, NULL), -ENOENT);
	/* An empty status means the initial one. */
	y = backend_rec(4, a.id, "fresh", 13);
	y.status[0] = '\0';
	assert_int_equal(store_backend_create(t->s, &y, NULL), 0);
	assert_int_equal(store_backend_get(t->s, y.id, &got), 0);
	assert_string_equal(got.status, "unverified");

	/* Update replaces name, description, address, updated_at only. */
	x = backend_rec(1, b.id, "gpu-1b", 999);
	snprintf(x.address, sizeof(x.address), "[::1]:9000");
	snprintf(x.status, sizeof(x.status), "ignored");
	x.updated_at = 20;
	assert_int_equal(store_backend_update(t->s, &x, NULL), 0);
	assert_int_equal(store_backend_get(t->s, x.id, &got), 0);
	assert_string_equal(got.name, "gpu-1b");
	assert_string_equal(got.address, "[::1]:9000");
	assert_string_equal(got.owner, a.id);
	assert_string_equal(got.status, "unverified");
	assert_int_equal(got.created_at, 10);
	assert_int_equal(got.updated_at, 20);
	/* Renaming onto a sibling's name: conflict, nothing changed. */
	snprintf(x.name, sizeof(x.name), "fresh");
	assert_int_equal(store_backend_update(t->s, &x, NULL), -EEXIST);
	assert_int_equal(store_backend_get(t->s, x.id, &got), 0);
	assert_string_equal(got.name, "gpu-1b");

	struct store_backend ghost = backend_rec(77, a.id, "ghost", 1);
	assert_int_equal(store_backend_get(t->s, ghost.id, &got), -ENOENT);
	assert_int_equal(store_backend_update(t->s, &ghost, NULL), -ENOENT);
	assert_int_equal(store_backend_delete(t->s, ghost.id, NULL), -ENOENT);

	assert_int_equal(store_backend_delete(t->s, x.id, NULL), 0);
	assert_int_equal(store_backend_get(t->s, x.id, &got), -ENOENT);
	assert_int_equal(store_backend_delete(t->s, x.id, NULL), -ENOENT);
}

/* A field holding exactly its limit (n bytes and the NUL), and one with no NUL at all: over. */
#define FILL(field, n)                                                                             \
	do {                                                                                       \
		memset(field, 'a', n);                                                             \
		field[n] = '\0';                                                                   \
	} while (0)
#define FILL_OVER(field) memset(field, 'a', sizeof(field))

static void test_backend_limits(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	struct store_backend b = backend_rec(1, a.id, "x", 1);
	FILL(b.name, STORE_NAME_MAX);
	FILL(b.description, STORE_DESCRIPTION_MAX);
	FILL(b.address, STORE_ADDRESS_MAX);
	FILL(b.status, STORE_STATUS_MAX);
	FILL(b.last_error, STORE_ERROR_MAX);
	assert_int_equal(store_backend_create(t->s, &b, NULL), 0);
	struct store_backend got;
	assert_int_equal(store_backend_get(t->s, b.id, &got), 0);
	assert_int_equal(strlen(got.name), STORE_NAME_MAX);
	assert_int_equal(strlen(got.description), STORE_DESCRIPTION_MAX);
	assert_int_equal(strlen(got.address), STORE_ADDRESS_MAX);
	assert_int_equal(strlen(got.status), STORE_STATUS_MAX);
	assert_int_equal(strlen(got.last_error), STORE_ERROR_MAX);

	struct store_backend c;
#define OVER(field)                                                                                \
	do {                                                                                       \
		c = backend_rec(2, a.id, "y", 2);                                                  \
		FILL_OVER(c.field);                                                                \
		assert_int_equal(store_backend_create(t->s, &c, NULL), -EINVAL);                   \
	} while (0)
	OVER(id);
	OVER(owner);
	OVER(name);
	OVER(description);
	OVER(address);
	OVER(status);
	OVER(last_error);
#undef OVER
	c = backend_rec(2, a.id, "", 2);
	assert_int_equal(store_backend_create(t->s, &c, NULL), -EINVAL);
	c = backend_rec(2, a.id, "y", 2);
	c.address[0] = '\0';
	assert_int_equal(store_backend_create(t->s, &c, NULL), -EINVAL);
	c = backend_rec(1, a.id, "y", 2);
	FILL_OVER(c.name);
	assert_int_equal(store_backend_update(t->s, &c, NULL), -EINVAL);
	c = backend_rec(1, a.id, "y", 2);
	FILL_OVER(c.description);
	assert_int_equal(store_backend_update(t->s, &c, NULL), -EINVAL);
	c = backend_rec(1, a.id, "y", 2);
	FILL_OVER(c.address);
	assert_int_equal(store_backend_update(t->s, &c, NULL), -EINVAL);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backends"), 1);
	assert_int_equal(store_backend_get(t->s, b.id, &got), 0);
	assert_int_equal(strlen(got.name), STORE_NAME_MAX);

	char s[STORE_ERROR_MAX + 2];
	memset(s, 'e', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	assert_int_equal(store_backend_set_status(t->s, b.id, "ok", s, 0, 1, NULL), -EINVAL);
	s[STORE_STATUS_MAX + 1] = '\0';
	assert_int_equal(store_backend_set_status(t->s, b.id, s, NULL, 0, 1, NULL), -EINVAL);
	assert_int_equal(store_backend_set_status(t->s, b.id, "", NULL, 0, 1, NULL), -EINVAL);

	/* Audit fields: one past each. */
	struct store_audit au;
#define AOVER(field)                                                                               \
	do {                                                                                       \
		au = audit_rec("backends.create", "/backends/x");                                  \
		FILL_OVER(au.field);                                                               \
		assert_int_equal(store_audit_add(t->s, &au), -EINVAL);                             \
		assert_int_equal(store_backend_delete(t->s, b.id, &au), -EINVAL);                  \
	} while (0)
	AOVER(client);
	AOVER(principal);
	AOVER(action);
	AOVER(resource);
	AOVER(result);
#undef AOVER
	au = audit_rec("backends.create", "/backends/x");
	FILL(au.client, STORE_CLIENT_MAX);
	FILL(au.principal, STORE_PRINCIPAL_MAX);
	FILL(au.resource, STORE_RESOURCE_MAX);
	FILL(au.result, STORE_RESULT_MAX);
	FILL(au.action, STORE_ACTION_MAX);
	assert_int_equal(store_audit_add(t->s, &au), 0);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), 1);
	assert_int_equal(store_backend_get(t->s, b.id, &got), 0);
}

static void test_backend_info(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	struct store_backend b = backend_rec(1, a.id, "b", 1), got;
	assert_int_equal(store_backend_create(t->s, &b, NULL), 0);
	char *json = NULL;
	size_t len = 0;
	assert_int_equal(store_backend_info_get(t->s, b.id, &json, &len), -ENOENT);
	assert_null(json);

	const char *doc = "{\"snp_policy\":{\"policy\":196608},\"root_of_trust\":{}}";
	struct store_audit au = audit_rec("backends.info.put", "/backends/b/info");
	assert_int_equal(store_backend_info_put(t->s, b.id, doc, strlen(doc), 555, &au), 0);
	assert_int_equal(store_backend_info_get(t->s, b.id, &json, &len), 0);
	assert_int_equal(len, strlen(doc));
	assert_memory_equal(json, doc, len);
	assert_int_equal(json[len], '\0');
	free(json);
	assert_int_equal(store_backend_get(t->s, b.id, &got), 0);
	assert_true(got.has_info);
	assert_int_equal(got.updated_at, 555);

	/* Replace; the largest allowed; one past it. */
	char *big = malloc(STORE_INFO_MAX_BYTES + 1);
	assert_non_null(big);
	memset(big, ' ', STORE_INFO_MAX_BYTES + 1);
	big[0] = '{';
	big[STORE_INFO_MAX_BYTES - 1] = '}';
	assert_int_equal(store_backend_info_put(t->s, b.id, big, STORE_INFO_MAX_BYTES, 556, NULL),
			 0);
	assert_int_equal(store_backend_info_get(t->s, b.id, &json, &len), 0);
	assert_int_equal(len, STORE_INFO_MAX_BYTES);
	assert_memory_equal(json, big, len);
	free(json);
	assert_int_equal(
		store_backend_info_put(t->s, b.id, big, STORE_INFO_MAX_BYTES + 1, 557, NULL),
		-EINVAL);
	free(big);
	assert_int_equal(store_backend_info_put(t->s, b.id, "{}", 0, 557, NULL), -EINVAL);
	assert_int_equal(store_backend_info_put(t->s, b.id, "{\0}", 3, 557, NULL), -EINVAL);
	assert_int_equal(store_backend_info_put(t->s, b.id, "\xc3(", 2, 557, NULL), -EINVAL);
	assert_int_equal(store_backend_info_get(t->s, b.id, &json, &len), 0);
	assert_int_equal(len, STORE_INFO_MAX_BYTES);
	free(json);

	/* A missing backend: -ENOENT, and neither the info row nor the audit row is written. */
	struct store_backend ghost = backend_rec(9, a.id, "ghost", 1);
	int64_t audits = raw_int(t, "SELECT COUNT(*) FROM audit");
	assert_int_equal(store_backend_info_put(t->s, ghost.id, doc, strlen(doc), 1, &au), -ENOENT);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), audits);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backend_info"), 1);
	assert_int_equal(store_backend_info_get(t->s, ghost.id, &json, &len), -ENOENT);
}

static void test_set_status_history(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	struct store_backend b = backend_rec(1, a.id, "b", 1), got;
	assert_int_equal(store_backend_create(t->s, &b, NULL), 0);

	assert_int_equal(store_backend_set_status(t->s, b.id, "healthy", NULL, 100, 1000, NULL), 0);
	assert_int_equal(store_backend_set_status(t->s, b.id, "healthy", NULL, 200, 2000, NULL), 0);
	assert_int_equal(store_backend_get(t->s, b.id, &got), 0);
	assert_string_equal(got.status, "healthy");
	assert_int_equal(got.last_seen, 200);
	/* last_seen 0 keeps the stored one. */
	assert_int_equal(store_backend_set_status(t->s, b.id, "unreachable", "connect: refused", 0,
						  3000, NULL),
			 0);
	assert_int_equal(store_backend_get(t->s, b.id, &got), 0);
	assert_int_equal(got.last_seen, 200);
	assert_string_equal(got.last_error, "connect: refused");
	assert_int_equal(
		store_backend_set_status(t->s, b.id, "unreachable", "timeout", 0, 4000, NULL), 0);
	assert_int_equal(store_backend_set_status(t->s, b.id, "healthy", NULL, 500, 5000, NULL), 0);
	assert_int_equal(store_backend_get(t->s, b.id, &got), 0);
	assert_string_equal(got.last_error, "");

	struct store_status_point *h = NULL;
	size_t n = 0;
	assert_int_equal(store_backend_history(t->s, b.id, 0, &h, &n), 0);
	assert_int_equal(n, 3); /* healthy, unreachable, healthy: repeats add nothing */
	assert_int_equal(h[0].at, 1000);
	assert_string_equal(h[0].status, "healthy");
	assert_int_equal(h[1].at, 3000);
	assert_string_equal(h[1].status, "unreachable");
	assert_string_equal(h[1].error, "connect: refused");
	assert_int_equal(h[2].at, 5000);
	free(h);
	assert_int_equal(store_backend_history(t->s, b.id, 3000, &h, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(h[0].at, 3000);
	free(h);
	assert_int_equal(store_backend_history(t->s, b.id, 5001, &h, &n), 0);
	assert_int_equal(n, 0);
	free(h);

	struct store_backend ghost = backend_rec(9, a.id, "ghost", 1);
	struct store_audit au = audit_rec("backends.terminate", "/backends/ghost");
	assert_int_equal(store_backend_set_status(t->s, ghost.id, "terminated", NULL, 0, 1, &au),
			 -ENOENT);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), 0);
	assert_int_equal(store_backend_history(t->s, ghost.id, 0, &h, &n), -ENOENT);
	/* With an audit record: both written. */
	assert_int_equal(store_backend_set_status(t->s, b.id, "terminated", NULL, 0, 6000, &au), 0);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), 1);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backend_status_history"), 4);
}

/* The history keeps each backend's newest STORE_HISTORY_MAX points: a status change prunes the
 * older ones of that backend only, so a flapping backend cannot grow the database without bound
 * and the statistics window always ends at the latest change. */
static void test_history_is_pruned(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	struct store_backend b = backend_rec(1, a.id, "flappy", 1),
			     o = backend_rec(2, a.id, "calm", 1);
	assert_int_equal(store_backend_create(t->s, &b, NULL), 0);
	assert_int_equal(store_backend_create(t->s, &o, NULL), 0);
	/* STORE_HISTORY_MAX + 10 old points for b (at 1..MAX+10), 3 for o, written directly. */
	char sql[1024];
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
		 "INSERT INTO backend_status_history (backend_id, at, status, error) "
		 "SELECT '%s', i, CASE i %% 2 WHEN 0 THEN 'online' ELSE 'offline' END, '' FROM n;"
		 "INSERT INTO backend_status_history (backend_id, at, status, error) VALUES "
		 "('%s', 1, 'online', ''), ('%s', 2, 'offline', ''), ('%s', 3, 'online', '');",
		 STORE_HISTORY_MAX + 10, b.id, o.id, o.id, o.id);
	raw_exec(t->path, sql);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backend_status_history"),
			 STORE_HISTORY_MAX + 13);

	/* A repeat of the stored status adds no point and prunes nothing. */
	assert_int_equal(store_backend_set_status(t->s, b.id, "unverified", NULL, 0, 50000, NULL),
			 0);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backend_status_history"),
			 STORE_HISTORY_MAX + 13);
	/* A change: the new point plus the newest MAX - 1 old ones stay. */
	assert_int_equal(store_backend_set_status(t->s, b.id, "online", NULL, 1, 60000, NULL), 0);
	snprintf(sql, sizeof(sql),
		 "SELECT COUNT(*) FROM backend_status_history WHERE backend_id = '%s'", b.id);
	assert_int_equal(raw_int(t, sql), STORE_HISTORY_MAX);
	snprintf(sql, sizeof(sql),
		 "SELECT MIN(at) FROM backend_status_history WHERE backend_id = '%s'", b.id);
	assert_int_equal(raw_int(t, sql), 12); /* 1..11 pruned: MAX + 10 - (MAX - 1) = 11 */
	snprintf(sql, sizeof(sql),
		 "SELECT COUNT(*) FROM backend_status_history WHERE backend_id = '%s'", o.id);
	assert_int_equal(raw_int(t, sql), 3);

	struct store_status_point *h = NULL;
	size_t n = 0;
	assert_int_equal(store_backend_history(t->s, b.id, 0, &h, &n), 0);
	assert_int_equal(n, STORE_HISTORY_MAX);
	assert_int_equal(h[0].at, 12);
	assert_int_equal(h[n - 1].at, 60000);
	assert_string_equal(h[n - 1].status, "online");
	free(h);

	/* Equal times: the later insertion is the newer point. */
	assert_int_equal(store_backend_set_status(t->s, b.id, "offline", "x", 0, 60000, NULL), 0);
	assert_int_equal(store_backend_history(t->s, b.id, 60000, &h, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].status, "online");
	assert_string_equal(h[1].status, "offline");
	free(h);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backend_status_history"),
			 STORE_HISTORY_MAX + 3);
}

struct counts {
	char seen[512];
};

static void count_cb(void *ud, const char *status, uint64_t n)
{
	struct counts *c = ud;
	size_t l = strlen(c->seen);
	snprintf(c->seen + l, sizeof(c->seen) - l, "%s=%llu;", status, (unsigned long long)n);
}

static void test_count_by_status(void **state)
{
	struct tctx *t = *state;
	struct counts c = { "" };
	assert_int_equal(store_backend_count_by_status(t->s, count_cb, &c), 0);
	assert_string_equal(c.seen, "");
	struct store_user a, b;
	add_user(t->s, 1, "alice", &a);
	add_user(t->s, 2, "bob", &b);
	for (unsigned i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "b%u", i);
		struct store_backend x = backend_rec(i, i % 2 ? a.id : b.id, name, i);
		assert_int_equal(store_backend_create(t->s, &x, NULL), 0);
		if (i < 2)
			assert_int_equal(
				store_backend_set_status(t->s, x.id, "healthy", NULL, 1, 1, NULL),
				0);
		else if (i == 2)
			assert_int_equal(store_backend_set_status(t->s, x.id, "terminated", NULL, 1,
								  1, NULL),
					 0);
	}
	assert_int_equal(store_backend_count_by_status(t->s, count_cb, &c), 0);
	assert_string_equal(c.seen, "healthy=2;terminated=1;unverified=3;");
	assert_int_equal(store_backend_count_by_status(t->s, NULL, &c), -EINVAL);
}

/* --- list --- */

static void test_backend_list(void **state)
{
	struct tctx *t = *state;
	struct store_user a, b;
	add_user(t->s, 1, "alice", &a);
	add_user(t->s, 2, "bob", &b);
	/* 25 for alice, created out of order; created_at ties broken by id. */
	for (unsigned i = 0; i < 25; i++) {
		char name[32];
		snprintf(name, sizeof(name), "node-%02u", i);
		unsigned k = (i * 7) % 25;
		struct store_backend x = backend_rec(k, a.id, name, (int64_t)(k / 2));
		snprintf(x.name, sizeof(x.name), "node-%02u", k);
		assert_int_equal(store_backend_create(t->s, &x, NULL), 0);
	}
	static const char *const odd[] = { "a%b", "a_b", "axb", "A%B" };
	for (unsigned i = 0; i < ARRAY_SIZE(odd); i++) {
		struct store_backend x = backend_rec(100 + i, b.id, odd[i], 1000 + i);
		assert_int_equal(store_backend_create(t->s, &x, NULL), 0);
	}
	struct store_backend *v = NULL;
	size_t n = 0;
	uint64_t total = 0;
	struct store_backend_filter f = { .owner = a.id, .limit = 10, .offset = 20 };
	assert_int_equal(store_backend_list(t->s, &f, &v, &n, &total), 0);
	assert_int_equal(n, 5);
	assert_int_equal(total, 25);
	for (size_t i = 0; i < n; i++) {
		char want[32];
		snprintf(want, sizeof(want), "node-%02zu", 20 + i);
		assert_string_equal(v[i].name, want);
	}
	free(v);

	/* Pages in order, no gaps, no repeats. */
	unsigned seen = 0;
	for (uint64_t off = 0; off < 25; off += 10) {
		f.offset = off;
		assert_int_equal(store_backend_list(t->s, &f, &v, &n, &total), 0);
		for (size_t i = 0; i < n; i++) {
			char want[32];
			snprintf(want, sizeof(want), "node-%02u", seen++);
			assert_string_equal(v[i].name, want);
		}
		free(v);
	}
	assert_int_equal(seen, 25);
	f.offset = 25;
	assert_int_equal(store_backend_list(t->s, &f, &v, &n, &total), 0);
	assert_int_equal(n, 0);
	assert_int_equal(total, 25);
	f.offset = 1000000;
	assert_int_equal(store_backend_list(t->s, &f, &v, &n, &total), 0);
	assert_int_equal(n, 0);

	/* Every owner. */
	struct store_backend_filter all = { .limit = STORE_LIST_MAX };
	assert_int_equal(store_backend_list(t->s, &all, &v, &n, &total), 0);
	assert_int_equal(n, 29);
	assert_int_equal(total, 29);
	free(v);

	/* Name substrings are literal and case-sensitive. */
	struct store_backend_filter nf = { .name = "%", .limit = 100 };
	assert_int_equal(store_backend_list(t->s, &nf, &v, &n, &total), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "a%b");
	assert_string_equal(v[1].name, "A%B");
	free(v);
	nf.name = "_";
	assert_int_equal(store_backend_list(t->s, &nf, &v, &n, &total), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "a_b");
	free(v);
	nf.name = "a";
	nf.owner = b.id;
	assert_int_equal(store_backend_list(t->s, &nf, &v, &n, &total), 0);
	assert_int_equal(total, 3);
	free(v);
	nf.name = "node-1";
	nf.owner = NULL;
	assert_int_equal(store_backend_list(t->s, &nf, &v, &n, &total), 0);
	assert_int_equal(total, 10);
	free(v);
	nf.name = "";
	assert_int_equal(store_backend_list(t->s, &nf, &v, &n, &total), 0);
	assert_int_equal(total, 29);
	free(v);

	/* Status, combined with owner and name. */
	struct store_backend x = backend_rec(3, a.id, "", 0);
	assert_int_equal(store_backend_set_status(t->s, x.id, "healthy", NULL, 1, 1, NULL), 0);
	x = backend_rec(13, a.id, "", 0);
	assert_int_equal(store_backend_set_status(t->s, x.id, "healthy", NULL, 1, 1, NULL), 0);
	x = backend_rec(100, b.id, "", 0);
	assert_int_equal(store_backend_set_status(t->s, x.id, "healthy", NULL, 1, 1, NULL), 0);
	struct store_backend_filter sf = { .status = "healthy", .limit = 10 };
	assert_int_equal(store_backend_list(t->s, &sf, &v, &n, &total), 0);
	assert_int_equal(total, 3);
	free(v);
	sf.owner = a.id;
	assert_int_equal(store_backend_list(t->s, &sf, &v, &n, &total), 0);
	assert_int_equal(total, 2);
	free(v);
	sf.name = "13";
	assert_int_equal(store_backend_list(t->s, &sf, &v, &n, &total), 0);
	assert_int_equal(n, 1);
	assert_int_equal(total, 1);
	assert_string_equal(v[0].name, "node-13");
	free(v);
	sf.status = "nope";
	assert_int_equal(store_backend_list(t->s, &sf, &v, &n, &total), 0);
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);

	/* Bad arguments. */
	struct store_backend_filter bad = { .limit = 0 };
	assert_int_equal(store_backend_list(t->s, &bad, &v, &n, &total), -EINVAL);
	bad.limit = STORE_LIST_MAX + 1;
	assert_int_equal(store_backend_list(t->s, &bad, &v, &n, &total), -EINVAL);
	bad.limit = 1;
	bad.offset = (uint64_t)INT64_MAX + 1;
	assert_int_equal(store_backend_list(t->s, &bad, &v, &n, &total), -EINVAL);
	char longname[STORE_NAME_MAX + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	struct store_backend_filter lf = { .name = longname, .limit = 1 };
	assert_int_equal(store_backend_list(t->s, &lf, &v, &n, &total), -EINVAL);
	longname[STORE_NAME_MAX] = '\0';
	assert_int_equal(store_backend_list(t->s, &lf, &v, &n, &total), 0);
	assert_int_equal(total, 0);
	assert_int_equal(store_backend_list(t->s, NULL, &v, &n, &total), -EINVAL);
}

/* --- cascades --- */

static void test_user_delete_cascades(void **state)
{
	struct tctx *t = *state;
	struct store_user a, b;
	add_user(t->s, 1, "alice", &a);
	add_user(t->s, 2, "bob", &b);
	struct store_backend x = backend_rec(1, a.id, "ax", 1);
	struct store_backend y = backend_rec(2, b.id, "by", 1);
	assert_int_equal(store_backend_create(t->s, &x, NULL), 0);
	assert_int_equal(store_backend_create(t->s, &y, NULL), 0);
	assert_int_equal(store_backend_info_put(t->s, x.id, "{}", 2, 5, NULL), 0);
	assert_int_equal(store_backend_info_put(t->s, y.id, "{}", 2, 5, NULL), 0);
	assert_int_equal(store_backend_set_status(t->s, x.id, "healthy", NULL, 1, 2, NULL), 0);
	assert_int_equal(store_backend_set_status(t->s, y.id, "healthy", NULL, 1, 2, NULL), 0);
	assert_int_equal(store_refresh_add(t->s, "ja", a.id, 100), 0);
	assert_int_equal(store_refresh_add(t->s, "jb", b.id, 100), 0);

	struct store_audit au = audit_rec("users.delete", "/users/a");
	assert_int_equal(store_user_delete(t->s, a.id, &au), 0);
	struct store_backend got;
	char *json;
	size_t len;
	struct store_status_point *h;
	size_t n;
	assert_int_equal(store_backend_get(t->s, x.id, &got), -ENOENT);
	assert_int_equal(store_backend_info_get(t->s, x.id, &json, &len), -ENOENT);
	assert_int_equal(store_backend_history(t->s, x.id, 0, &h, &n), -ENOENT);
	assert_int_equal(store_refresh_consume(t->s, "ja", a.id, 1), -ENOENT);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backends"), 1);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backend_info"), 1);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backend_status_history"), 1);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM refresh_tokens"), 1);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), 1);
	/* Bob's things are untouched. */
	assert_int_equal(store_backend_get(t->s, y.id, &got), 0);
	assert_true(got.has_info);
	assert_int_equal(store_refresh_consume(t->s, "jb", b.id, 1), 0);

	/* Deleting a backend takes its info and history too. */
	assert_int_equal(store_backend_delete(t->s, y.id, NULL), 0);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backend_info"), 0);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backend_status_history"), 0);
}

/* --- audit --- */

static void test_audit_same_transaction(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	struct store_backend x = backend_rec(1, a.id, "x", 1);
	struct store_audit au = audit_rec("backends.create", "/backends/1");
	assert_int_equal(store_backend_create(t->s, &x, &au), 0);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), 1);

	/* Failing mutations write nothing at all. */
	assert_int_equal(store_backend_create(t->s, &x, &au), -EEXIST);
	struct store_backend ghost = backend_rec(2, a.id, "g", 1);
	au = audit_rec("backends.update", "/backends/2");
	assert_int_equal(store_backend_update(t->s, &ghost, &au), -ENOENT);
	assert_int_equal(store_backend_delete(t->s, ghost.id, &au), -ENOENT);
	struct store_user gu = user_rec(9, "ghost");
	assert_int_equal(store_user_update(t->s, &gu, &au), -ENOENT);
	assert_int_equal(store_user_delete(t->s, gu.id, &au), -ENOENT);
	struct store_user dup = user_rec(10, "alice");
	assert_int_equal(store_user_create(t->s, &dup, &au), -EEXIST);
	ghost = backend_rec(3, "00000000-0000-4000-8000-00000000dead", "g", 1);
	assert_int_equal(store_backend_create(t->s, &ghost, &au), -ENOENT);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), 1);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backends"), 1);

	/* A successful update and its record. */
	snprintf(x.name, sizeof(x.name), "renamed");
	au = audit_rec("backends.update", "/backends/1");
	assert_int_equal(store_backend_update(t->s, &x, &au), 0);
	struct store_audit *v = NULL;
	size_t n = 0;
	assert_int_equal(store_audit_list(t->s, 10, 0, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].action, "backends.update");
	assert_string_equal(v[0].resource, "/backends/1");
	assert_string_equal(v[0].client, "127.0.0.1");
	assert_string_equal(v[0].principal, "alice");
	assert_string_equal(v[0].result, "ok");
	assert_int_equal(v[0].status, 200);
	assert_int_equal(v[0].at, 42);
	assert_true(v[0].id > v[1].id);
	assert_string_equal(v[1].action, "backends.create");
	free(v);
}

static void test_audit_batch(void **state)
{
	struct tctx *t = *state;
	struct store_audit batch[3];
	for (unsigned i = 0; i < 3; i++) {
		char res[32];
		snprintf(res, sizeof(res), "/b/%u", i);
		batch[i] = audit_rec("auth.denied", res);
		batch[i].status = 401;
	}
	assert_int_equal(store_audit_add_many(t->s, batch, 3), 0);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), 3);
	/* all or none: one bad record (an empty action) refuses the batch, nothing written */
	batch[1].action[0] = '\0';
	assert_int_equal(store_audit_add_many(t->s, batch, 3), -EINVAL);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), 3);
	/* bounds: 0 and past STORE_AUDIT_BATCH_MAX */
	assert_int_equal(store_audit_add_many(t->s, batch, 0), -EINVAL);
	assert_int_equal(store_audit_add_many(t->s, batch, STORE_AUDIT_BATCH_MAX + 1), -EINVAL);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), 3);
}

static void test_audit_list_paging(void **state)
{
	struct tctx *t = *state;
	for (unsigned i = 0; i < 30; i++) {
		char res[32];
		snprintf(res, sizeof(res), "/r/%u", i);
		struct store_audit au = audit_rec("auth.denied", res);
		au.at = i;
		au.status = 401;
		assert_int_equal(store_audit_add(t->s, &au), 0);
	}
	struct store_audit *v = NULL;
	size_t n = 0;
	int64_t before = 0;
	unsigned next = 29, pages = 0;
	for (;;) {
		assert_int_equal(store_audit_list(t->s, 12, before, &v, &n), 0);
		if (n == 0)
			break;
		pages++;
		for (size_t i = 0; i < n; i++) {
			char res[32];
			snprintf(res, sizeof(res), "/r/%u", next);
			assert_string_equal(v[i].resource, res);
			assert_int_equal(v[i].at, next);
			assert_int_equal(v[i].status, 401);
			if (i)
				assert_true(v[i].id < v[i - 1].id);
			next--;
		}
		before = v[n - 1].id;
		free(v);
		v = NULL;
	}
	assert_null(v);
	assert_int_equal(pages, 3);
	assert_int_equal(next, (unsigned)-1);
	assert_int_equal(store_audit_list(t->s, 0, 0, &v, &n), -EINVAL);
	assert_int_equal(store_audit_list(t->s, STORE_LIST_MAX + 1, 0, &v, &n), -EINVAL);
	assert_int_equal(store_audit_list(t->s, 10, -1, &v, &n), -EINVAL);
	assert_int_equal(store_audit_list(t->s, STORE_LIST_MAX, 0, &v, &n), 0);
	assert_int_equal(n, 30);
	free(v);
	assert_int_equal(store_audit_add(t->s, NULL), -EINVAL);
	struct store_audit au = audit_rec("", "/x");
	assert_int_equal(store_audit_add(t->s, &au), -EINVAL);
}

/* --- concurrency --- */

#define CONC_THREADS 4
#define CONC_PER_THREAD 200

struct conc_arg {
	struct store *s;
	unsigned idx;
	char owner[STORE_ID_BUF];
	int errors;
};

static void *conc_thread(void *p)
{
	struct conc_arg *c = p;
	for (unsigned i = 0; i < CONC_PER_THREAD; i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%u-%u", c->idx, i);
		unsigned n = c->idx * 1000 + i;
		struct store_backend b = backend_rec(n, c->owner, name, (int64_t)n);
		struct store_audit au = audit_rec("backends.create", name);
		if (store_backend_create(c->s, &b, &au) != 0) {
			c->errors++;
			continue;
		}
		struct store_backend got;
		if (store_backend_get(c->s, b.id, &got) != 0 || strcmp(got.name, name))
			c->errors++;
		/* A list beside the writers: page and total always agree with each other. */
		if (i % 20 == 0) {
			struct store_backend_filter f = { .limit = 5 };
			struct store_backend *v = NULL;
			size_t k;
			uint64_t total;
			if (store_backend_list(c->s, &f, &v, &k, &total) != 0 ||
			    k != (total < 5 ? total : 5))
				c->errors++;
			free(v);
		}
	}
	return NULL;
}

static void test_concurrent_writers_and_readers(void **state)
{
	struct tctx *t = *state;
	pthread_t th[CONC_THREADS];
	struct conc_arg args[CONC_THREADS];
	for (unsigned i = 0; i < CONC_THREADS; i++) {
		struct store_user u;
		char uname[16];
		snprintf(uname, sizeof(uname), "user%u", i);
		add_user(t->s, i, uname, &u);
		args[i] = (struct conc_arg){ .s = t->s, .idx = i };
		memcpy(args[i].owner, u.id, sizeof(u.id));
	}
	for (unsigned i = 0; i < CONC_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, conc_thread, &args[i]), 0);
	for (unsigned i = 0; i < CONC_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].errors, 0);
	}
	struct store_backend_filter f = { .limit = STORE_LIST_MAX };
	struct store_backend *v = NULL;
	size_t n;
	uint64_t total;
	assert_int_equal(store_backend_list(t->s, &f, &v, &n, &total), 0);
	assert_int_equal(total, CONC_THREADS * CONC_PER_THREAD);
	assert_int_equal(n, CONC_THREADS * CONC_PER_THREAD);
	free(v);
	for (unsigned i = 0; i < CONC_THREADS; i++)
		for (unsigned j = 0; j < CONC_PER_THREAD; j++) {
			struct store_backend b = backend_rec(i * 1000 + j, "", "", 0), got;
			assert_int_equal(store_backend_get(t->s, b.id, &got), 0);
		}
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), CONC_THREADS * CONC_PER_THREAD);
}

/* --- another process holds the write lock --- */

static void test_busy(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	/* A second store on the file with a short lock wait (the option only lowers it), so the
	 * test does not sit out the 5 s default. */
	char url[220], err[256];
	snprintf(url, sizeof(url), "%s?busy_timeout_ms=300", t->url);
	struct store *s2 = store_open(url, err, sizeof(err));
	assert_non_null(s2);

	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(t->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	int64_t t0 = util_mono_ms();
	struct store_backend b = backend_rec(1, a.id, "b", 1);
	struct store_audit au = audit_rec("backends.create", "/b");
	assert_int_equal(store_backend_create(s2, &b, &au), -EBUSY);
	int64_t waited = util_mono_ms() - t0;
	assert_true(waited >= 250);
	assert_true(waited < STORE_BUSY_TIMEOUT_MS);
	assert_non_null(strstr(store_last_error(), "locked"));
	assert_int_equal(store_refresh_purge(s2, 1), -EBUSY);
	/* Reads go on beside the writer (WAL). */
	struct store_user got;
	assert_int_equal(store_user_get(s2, a.id, &got), 0);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit"), 0);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backends"), 0);
	assert_int_equal(store_backend_create(s2, &b, &au), 0);
	store_close(s2);

	/* The option's bounds. */
	static const char *const bad[] = { "?busy_timeout_ms=0",
					   "?busy_timeout_ms=5001",
					   "?busy_timeout_ms=",
					   "?busy_timeout_ms=-1",
					   "?busy_timeout_ms=10x",
					   "?timeout=10",
					   "?" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(url, sizeof(url), "%s%s", t->url, bad[i]);
		err[0] = '\0';
		assert_null(store_open(url, err, sizeof(err)));
		assert_non_null(strstr(err, "option"));
	}
	snprintf(url, sizeof(url), "%s?busy_timeout_ms=%d", t->url, STORE_BUSY_TIMEOUT_MS);
	s2 = store_open(url, err, sizeof(err));
	assert_non_null(s2);
	store_close(s2);
	assert_null(store_open("sqlite:?busy_timeout_ms=10", err, sizeof(err)));
}

/* --- crash consistency --- */

#define CRASH_RECORD 37 /* 36-char id + '\n' */

static void test_kill9_keeps_acknowledged(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	store_close(t->s);
	t->s = NULL;

	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		char err[256];
		struct store *s = store_open(t->url, err, sizeof(err));
		if (!s)
			_exit(2);
		for (unsigned i = 0;; i++) {
			char name[32];
			snprintf(name, sizeof(name), "crash-%u", i);
			struct store_backend b = backend_rec(i, a.id, name, i);
			struct store_audit au = audit_rec("backends.create", name);
			if (store_backend_create(s, &b, &au) != 0)
				_exit(3);
			char rec[CRASH_RECORD + 1];
			snprintf(rec, sizeof(rec), "%s\n", b.id);
			if (write(p[1], rec, CRASH_RECORD) != CRASH_RECORD)
				_exit(4);
		}
	}
	close(p[1]);
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));

	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			char *nb = realloc(buf, cap);
			assert_non_null(nb);
			buf = nb;
		}
		ssize_t r = read(p[0], buf + len, cap - len);
		assert_true(r >= 0);
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(p[0]);

	char err[256];
	t->s = store_open(t->url, err, sizeof(err));
	assert_non_null(t->s);
	size_t acked = len / CRASH_RECORD;
	assert_true(acked > 0);
	for (size_t i = 0; i < acked; i++) {
		char id[STORE_ID_BUF];
		memcpy(id, buf + i * CRASH_RECORD, STORE_ID_CHARS);
		id[STORE_ID_CHARS] = '\0';
		struct store_backend got;
		assert_int_equal(store_backend_get(t->s, id, &got), 0);
	}
	free(buf);
	/* Change and audit row together: as many audit rows as backends. */
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM backends"),
			 raw_int(t, "SELECT COUNT(*) FROM audit"));
	assert_true(raw_int(t, "SELECT COUNT(*) FROM backends") >= (int64_t)acked);

	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open_v2(t->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* --- issue 7: pins, heartbeat batch, certificates, migration 1 -> 2 --- */

static void test_pins_and_seen_batch(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	struct store_backend x = backend_rec(1, a.id, "p1", 10), y = backend_rec(2, a.id, "p2", 11);
	assert_int_equal(store_backend_create(t->s, &x, NULL), 0);
	assert_int_equal(store_backend_create(t->s, &y, NULL), 0);
	char pin[STORE_PIN_MAX + 1];
	assert_int_equal(store_backend_pin_get(t->s, x.id, pin), 0);
	assert_string_equal(pin, "");
	static const char p[] = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	struct store_audit au = audit_rec("backends.pin", "/backends/x");
	assert_int_equal(store_backend_pin_set(t->s, x.id, p, &au), 0);
	assert_int_equal(store_backend_pin_get(t->s, x.id, pin), 0);
	assert_string_equal(pin, p);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit WHERE action = 'backends.pin'"), 1);
	assert_int_equal(store_backend_pin_set(t->s, x.id, "", NULL), 0);
	assert_int_equal(store_backend_pin_get(t->s, x.id, pin), 0);
	assert_string_equal(pin, "");
	/* Limits: STORE_PIN_MAX bytes pass, one more is refused and changes nothing. */
	char big[STORE_PIN_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_backend_pin_set(t->s, x.id, big, NULL), -EINVAL);
	big[STORE_PIN_MAX] = '\0';
	assert_int_equal(store_backend_pin_set(t->s, x.id, big, NULL), 0);
	char missing[STORE_ID_BUF];
	mkid(missing, 0xbb, 99);
	assert_int_equal(store_backend_pin_set(t->s, missing, p, NULL), -ENOENT);
	assert_int_equal(store_backend_pin_get(t->s, missing, pin), -ENOENT);

	/* Heartbeat: both set in one call, an unknown id skipped, last_seen only. */
	const char *ids[] = { x.id, missing, y.id };
	const int64_t seen[] = { 111, 222, 333 };
	assert_int_equal(store_backend_seen_batch(t->s, ids, seen, 3), 0);
	struct store_backend got;
	assert_int_equal(store_backend_get(t->s, x.id, &got), 0);
	assert_int_equal(got.last_seen, 111);
	assert_string_equal(got.status, "unverified");
	assert_int_equal(store_backend_get(t->s, y.id, &got), 0);
	assert_int_equal(got.last_seen, 333);
	assert_int_equal(store_backend_seen_batch(t->s, NULL, NULL, 0), 0);
	const char *bad[] = { "not-an-id-that-fits-the-36-byte-limit-at-all" };
	assert_int_equal(store_backend_seen_batch(t->s, bad, seen, 1), -EINVAL);
}

static struct store_cert *cert_rec(const char *serial, const char *backend, int64_t at)
{
	struct store_cert *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	snprintf(c->serial, sizeof(c->serial), "%s", serial);
	snprintf(c->backend_id, sizeof(c->backend_id), "%s", backend);
	snprintf(c->cert_pem, sizeof(c->cert_pem), "-----BEGIN CERTIFICATE-----\n%s\n", serial);
	snprintf(c->key_pem, sizeof(c->key_pem), "-----BEGIN PRIVATE KEY-----\n%s\n", serial);
	c->created_at = at;
	c->not_before = at - 300;
	c->not_after = at + 86400;
	return c;
}

static void test_certs(void **state)
{
	struct tctx *t = *state;
	struct store_user a, b;
	add_user(t->s, 1, "alice", &a);
	add_user(t->s, 2, "bob", &b);
	struct store_backend x = backend_rec(1, a.id, "c1", 10), y = backend_rec(2, b.id, "c2", 11);
	assert_int_equal(store_backend_create(t->s, &x, NULL), 0);
	assert_int_equal(store_backend_create(t->s, &y, NULL), 0);
	struct store_cert *c1 = cert_rec("0a1b", x.id, 100), *c2 = cert_rec("ff", x.id, 200),
			  *c3 = cert_rec("12", y.id, 300), *got = calloc(1, sizeof(*got));
	struct store_audit au = audit_rec("certs.issue", "/backends/x");
	assert_int_equal(store_cert_create(t->s, c1, &au), 0);
	assert_int_equal(store_cert_create(t->s, c2, NULL), 0);
	assert_int_equal(store_cert_create(t->s, c3, NULL), 0);
	assert_int_equal(store_cert_create(t->s, c1, NULL), -EEXIST);
	struct store_cert *orphan = cert_rec("abc", "00000000-0000-4000-8000-000000000000", 1);
	assert_int_equal(store_cert_create(t->s, orphan, NULL), -ENOENT);
	snprintf(orphan->serial, sizeof(orphan->serial), "ABC"); /* upper case: not ours */
	snprintf(orphan->backend_id, sizeof(orphan->backend_id), "%s", x.id);
	assert_int_equal(store_cert_create(t->s, orphan, NULL), -EINVAL);
	memset(orphan->serial, 'a', sizeof(orphan->serial)); /* no NUL: over the limit */
	assert_int_equal(store_cert_create(t->s, orphan, NULL), -EINVAL);
	memset(orphan->serial, 0, sizeof(orphan->serial));
	memset(orphan->serial, 'a', STORE_SERIAL_MAX); /* 40: at the limit */
	assert_int_equal(store_cert_create(t->s, orphan, NULL), 0);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit WHERE action = 'certs.issue'"), 1);

	assert_int_equal(store_cert_get(t->s, "0a1b", got), 0);
	assert_string_equal(got->backend_id, x.id);
	assert_string_equal(got->cert_pem, c1->cert_pem);
	assert_true(got->key_held);
	assert_false(got->revoked);
	assert_string_equal(got->key_pem, ""); /* get never returns the key */
	assert_int_equal(got->not_after, 100 + 86400);
	assert_int_equal(store_cert_get(t->s, "beef", got), -ENOENT);
	assert_int_equal(store_cert_get(t->s, "xyz", got), -EINVAL);

	/* Lists: newest first; by backend; by owner; all; paging and totals. */
	struct store_cert *rows = NULL;
	size_t n = 0;
	uint64_t total = 0;
	assert_int_equal(store_cert_list(t->s, x.id, NULL, 10, 0, &rows, &n, &total), 0);
	assert_int_equal(total, 3);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].serial, "ff");
	assert_string_equal(rows[0].cert_pem, ""); /* lists carry no PEM */
	free(rows);
	assert_int_equal(store_cert_list(t->s, NULL, b.id, 10, 0, &rows, &n, &total), 0);
	assert_int_equal(total, 1);
	assert_string_equal(rows[0].serial, "12");
	free(rows);
	assert_int_equal(store_cert_list(t->s, x.id, b.id, 10, 0, &rows, &n, &total), 0);
	assert_int_equal(total, 0);
	free(rows);
	assert_int_equal(store_cert_list(t->s, NULL, NULL, 1, 1, &rows, &n, &total), 0);
	assert_int_equal(total, 4);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].serial, "ff");
	free(rows);
	assert_int_equal(store_cert_list(t->s, NULL, NULL, 0, 0, &rows, &n, &total), -EINVAL);

	/* take_key: once, atomically, and audited in the same transaction. */
	char *key = malloc(STORE_KEY_PEM_MAX + 1);
	struct store_audit dl = audit_rec("certs.download", "/certs/0a1b");
	assert_int_equal(store_cert_take_key(t->s, "0a1b", key, &dl), 0);
	assert_string_equal(key, c1->key_pem);
	assert_int_equal(store_cert_take_key(t->s, "0a1b", key, &dl), -ENOENT);
	assert_string_equal(key, "");
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM audit WHERE action = 'certs.download'"),
			 1);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM certs WHERE serial = '0a1b' AND "
				    "key_pem <> ''"),
			 0);
	assert_int_equal(store_cert_get(t->s, "0a1b", got), 0);
	assert_false(got->key_held);
	assert_int_equal(store_cert_take_key(t->s, "beef", key, NULL), -ENOENT);

	/* Revoke: once; wipes the key; listed for the CRL ordered by serial. */
	assert_int_equal(store_cert_revoke(t->s, "ff", 5000, NULL), 0);
	assert_int_equal(store_cert_revoke(t->s, "ff", 6000, NULL), -EALREADY);
	assert_int_equal(store_cert_revoke(t->s, "beef", 6000, NULL), -ENOENT);
	assert_int_equal(store_cert_revoke(t->s, "ff", 0, NULL), -EINVAL);
	assert_int_equal(store_cert_take_key(t->s, "ff", key, NULL), -ENOENT);
	assert_int_equal(store_cert_get(t->s, "ff", got), 0);
	assert_true(got->revoked);
	assert_int_equal(got->revoked_at, 5000);
	/* Deleting a backend revokes its certificates (they stay for the CRL). */
	assert_int_equal(store_backend_delete(t->s, y.id, NULL), 0);
	struct store_revoked *rv = NULL;
	assert_int_equal(store_cert_revoked(t->s, &rv, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rv[0].serial, "12");
	assert_string_equal(rv[0].backend_id, y.id);
	assert_true(rv[0].revoked_at > 0);
	assert_string_equal(rv[1].serial, "ff");
	assert_int_equal(rv[1].revoked_at, 5000);
	free(rv);
	assert_int_equal(store_cert_get(t->s, "12", got), 0);
	assert_true(got->revoked);
	assert_false(got->key_held);
	/* An admin still lists it; its former owner does not. */
	assert_int_equal(store_cert_list(t->s, NULL, b.id, 10, 0, &rows, &n, &total), 0);
	assert_int_equal(total, 0);
	free(rows);
	free(key);
	free(c1);
	free(c2);
	free(c3);
	free(orphan);
	free(got);
}

struct take_arg {
	struct store *s;
	int rc;
};

static void *take_thread(void *p)
{
	struct take_arg *a = p;
	char key[STORE_KEY_PEM_MAX + 1];
	a->rc = store_cert_take_key(a->s, "77", key, NULL);
	return NULL;
}

static void test_take_key_concurrent(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	struct store_backend x = backend_rec(1, a.id, "k", 10);
	assert_int_equal(store_backend_create(t->s, &x, NULL), 0);
	struct store_cert *c = cert_rec("77", x.id, 1);
	assert_int_equal(store_cert_create(t->s, c, NULL), 0);
	free(c);
	enum { N = 8 };
	pthread_t th[N];
	struct take_arg args[N];
	for (int i = 0; i < N; i++) {
		args[i] = (struct take_arg){ t->s, 1 };
		assert_int_equal(pthread_create(&th[i], NULL, take_thread, &args[i]), 0);
	}
	int winners = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (args[i].rc == 0)
			winners++;
		else
			assert_int_equal(args[i].rc, -ENOENT);
	}
	assert_int_equal(winners, 1);
}

static void test_migration_from_v1(void **state)
{
	struct tctx *t = *state;
	struct store_user a;
	add_user(t->s, 1, "alice", &a);
	struct store_backend x = backend_rec(1, a.id, "old", 10);
	assert_int_equal(store_backend_create(t->s, &x, NULL), 0);
	store_close(t->s);
	t->s = NULL;
	/* Back to the schema of version 1, as an issue-6 cloisterd left it. */
	raw_exec(t->path, "DROP TABLE certs; ALTER TABLE backends DROP COLUMN pin; "
			  "DELETE FROM schema_migrations WHERE version = 2;");
	assert_int_equal(raw_int(t, "SELECT MAX(version) FROM schema_migrations"), 1);
	char err[256] = "";
	t->s = store_open(t->url, err, sizeof(err));
	assert_non_null(t->s);
	assert_int_equal(store_schema_version(t->s), 2);
	assert_int_equal(raw_int(t, "SELECT COUNT(*) FROM schema_migrations"), 2);
	struct store_backend got;
	assert_int_equal(store_backend_get(t->s, x.id, &got), 0);
	assert_string_equal(got.name, "old");
	char pin[STORE_PIN_MAX + 1];
	assert_int_equal(store_backend_pin_get(t->s, x.id, pin), 0);
	assert_string_equal(pin, "");
	struct store_cert *c = cert_rec("01", x.id, 1);
	assert_int_equal(store_cert_create(t->s, c, NULL), 0);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_0600, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_modes_umask_and_existing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_bad_urls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_single_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_concurrent_consume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_status_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_is_pruned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_by_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_delete_cascades, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_same_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_list_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers_and_readers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_keeps_acknowledged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pins_and_seen_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_key_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
