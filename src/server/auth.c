/*
 * auth.c - who is calling cloisterd, and the routes that hand out tokens.
 *
 * The gate runs before routing on every request. Public paths (routes.c) pass with an empty
 * principal; everything else needs "Authorization: Bearer <access JWT>" that verifies with the
 * one signing key (jwt.h: one algorithm per key, aud/iss/token_use checked), of a user whose row
 * still exists, is enabled, and whose tokens_valid_after is not after the token's iat. The user
 * row is read on every request on purpose: deleting, disabling, demoting or changing a password
 * takes effect at once, not when the access token expires. The principal (with the role from
 * the row, not from the token) is written into the request's auth space for the handlers.
 *
 * Tokens: an access token (access_ttl_s) and a refresh token (refresh_ttl_s) per login; the
 * refresh token's jti is stored and consumed on use, so each refresh token works once.
 *
 * Login: passwords are argon2id (secret.h). An unknown username is verified against a dummy
 * argon2id hash made at start-up with the same cost, so the time of a reply does not tell which
 * usernames exist. Failures are counted per username in a bounded in-memory table
 * (AUTH_LOGIN_TABLE_ENTRIES, open addressing with AUTH_LOGIN_PROBE slots under a keyed hash,
 * the least recently used reused): AUTH_LOGIN_FAILURES_MAX failures within AUTH_LOGIN_WINDOW_S
 * lock that username for AUTH_LOGIN_LOCK_S (429 + Retry-After), before any password is
 * hashed.
 *
 * Start-up: the signing key is read from jwt_key_path, refused when group or other may access
 * it, or created 0600 atomically on first start (so tokens survive restarts); the first admin
 * is created when the store has no user at all.
 *
 * Thread safety: the key is immutable after start-up; the login table has its own mutex.
 */
#include "server/server.h"

#include "fsx.h"
#include "jwt.h"
#include "log.h"
#include "prom.h"
#include "secret.h"
#include "server/settings.h"
#include "server/validate.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define AUTH_LOGIN_FAILURES_MAX 5
#define AUTH_LOGIN_WINDOW_S 60
#define AUTH_LOGIN_LOCK_S 60
#define AUTH_LOGIN_TABLE_ENTRIES 4096
#define AUTH_LOGIN_PROBE 8
#define AUTH_KEY_FILE_MAX_BYTES 16384          /* a PEM key or a raw HS256 secret */
#define AUTH_HS256_KEY_BYTES 64                /* generated HS256 secrets */
#define AUTH_ADMIN_PASSWORD_RANDOM_BYTES 24    /* generated first-admin password, base64url */
#define AUTH_REFRESH_PURGE_INTERVAL_MS 3600000 /* expired refresh tokens removed hourly */
#define AUTH_INITIAL_PASSWORD_FILE "initial-admin-password"
#define AUTH_TOKEN_CACHE_SLOTS 512 /* verified access tokens remembered (direct-mapped) */

_Static_assert(sizeof(struct principal) <= HTTP_REQ_AUTH_BYTES,
	       "struct principal must fit in the request's auth space");
_Static_assert(_Alignof(struct principal) <= _Alignof(max_align_t),
	       "struct principal must fit the auth space's alignment");

struct login_slot {
	char username[STORE_USERNAME_MAX + 1];
	unsigned failures;
	int64_t window_start_ms, locked_until_ms, last_ms;
};

static struct {
	pthread_mutex_t mu; /* guards slots and last_purge_ms */
	struct login_slot *slots;
	int64_t last_purge_ms;
	char dummy_hash[SECRET_HASH_MAX];
	unsigned char hash_key[crypto_shorthash_KEYBYTES]; /* slots of the login table */
} st = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int64_t now_s(void)
{
	return util_now_ns() / 1000000000;
}

static enum server_role role_of(const char *role)
{
	return strcmp(role, "admin") == 0 ? ROLE_ADMIN : ROLE_USER;
}

static struct principal *scratch(struct http_req *req)
{
	return http_req_auth(req);
}

static void set_principal(struct http_req *req, const struct store_user *u, const char *jti)
{
	struct principal *p = scratch(req);
	snprintf(p->user_id, sizeof(p->user_id), "%s", u->id);
	snprintf(p->username, sizeof(p->username), "%s", u->username);
	snprintf(p->jti, sizeof(p->jti), "%s", jti ? jti : "");
	p->role = role_of(u->role);
}

const struct principal *auth_principal(struct http_req *req)
{
	const struct principal *p = scratch(req);
	return p->role == ROLE_NONE ? NULL : p;
}

/* ---------------------------------------------------------------- bearer tokens */

/* The token of "Authorization: Bearer <token>" (scheme case-insensitive); false when absent. */
static bool bearer(struct http_req *req, const char **tok, size_t *len)
{
	const char *h = http_req_header(req, "Authorization");
	if (!h || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return false;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	size_t n = strlen(h);
	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	*tok = h;
	*len = n;
	return n > 0;
}

/* Stable, client-facing reasons (jwt_strerror's wording is the library's). */
static const char *jwt_reason(int rc)
{
	switch (rc) {
	case JWT_E_EXPIRED:
		return "token expired";
	case JWT_E_SIGNATURE:
		return "bad signature";
	case JWT_E_TOO_LARGE:
		return "token too large";
	case JWT_E_ALG:
		return "unsupported token algorithm";
	case JWT_E_KID:
		return "unknown signing key";
	case JWT_E_NOT_YET:
		return "token not yet valid";
	case JWT_E_AUDIENCE:
		return "token for another audience";
	case JWT_E_ISSUER:
		return "token from another issuer";
	case JWT_E_USE:
		return "wrong token type";
	default:
		return "malformed token";
	}
}

/* 401 with the Bearer challenge, audited under action. */
static void deny(struct http_req *req, const char *action, bool invalid, const char *reason)
{
	http_reply_header(req, "WWW-Authenticate",
			  invalid ? "Bearer error=\"invalid_token\"" : "Bearer");
	audit_record(req, action, http_req_path(req), "denied", 401);
	server_error(req, 401, "%s", reason);
}

/*
 * Verified access tokens, remembered by SHA-256 of their bytes: an Ed25519 verification costs
 * ~200 us, which would be most of the time of a GET. A hit stands for a full jwt_verify of the
 * same bytes with the same key and options, so only what changes with time is checked again:
 * exp (nbf and iat only become more valid). The user checks (deleted, disabled, revoked) run on
 * every request all the same. The slots hold claims, not secrets; a collision just overwrites.
 */
struct token_slot {
	bool used;
	unsigned char digest[crypto_hash_sha256_BYTES];
	struct jwt_claims c;
};
static struct {
	pthread_mutex_t mu;
	struct token_slot slot[AUTH_TOKEN_CACHE_SLOTS];
} tcache = { .mu = PTHREAD_MUTEX_INITIALIZER };

static struct token_slot *token_slot_of(const unsigned char *d)
{
	uint32_t i;
	memcpy(&i, d, sizeof(i));
	return &tcache.slot[i % AUTH_TOKEN_CACHE_SLOTS];
}

static bool token_cache_get(const unsigned char *d, int64_t now, struct jwt_claims *c)
{
	bool hit = false;
	pthread_mutex_lock(&tcache.mu);
	struct token_slot *sl = token_slot_of(d);
	if (sl->used && sodium_memcmp(sl->digest, d, sizeof(sl->digest)) == 0 &&
	    now <= sl->c.exp + JWT_CLOCK_SKEW_S) {
		*c = sl->c;
		hit = true;
	}
	pthread_mutex_unlock(&tcache.mu);
	return hit;
}

static void token_cache_put(const unsigned char *d, const struct jwt_claims *c)
{
	pthread_mutex_lock(&tcache.mu);
	struct token_slot *sl = token_slot_of(d);
	sl->used = true;
	memcpy(sl->digest, d, sizeof(sl->digest));
	sl->c = *c;
	pthread_mutex_unlock(&tcache.mu);
}

/*
 * Verifies a token of the given use and its user. Returns 0 with *u and *c filled; otherwise
 * has replied (401, or 5xx on a store failure) and returns < 0.
 */
static int check_token(struct http_req *req, const char *action, const char *use,
		       struct store_user *u, struct jwt_claims *c)
{
	struct server *srv = http_req_app(req);
	const char *tok;
	size_t len;
	if (!bearer(req, &tok, &len)) {
		deny(req, action, false, "missing bearer token");
		return -1;
	}
	struct jwt_verify_opts o = {
		.now = now_s(),
		.audience = srv->cfg->audience,
		.issuer = srv->cfg->issuer,
		.token_use = use,
	};
	/* Only access tokens are remembered: refresh tokens are single use anyway. */
	bool cacheable = strcmp(use, "access") == 0 && len <= JWT_TOKEN_MAX_BYTES;
	unsigned char d[crypto_hash_sha256_BYTES];
	if (cacheable)
		crypto_hash_sha256(d, (const unsigned char *)tok, len);
	int rc = JWT_OK;
	if (!cacheable || !token_cache_get(d, o.now, c)) {
		rc = jwt_verify(srv->jwt, tok, len, &o, c);
		if (rc == JWT_OK && cacheable)
			token_cache_put(d, c);
	}
	if (rc != JWT_OK) {
		deny(req, action, true,
		     rc == JWT_E_USE && strcmp(use, "access") == 0 ? "not an access token"
		     : rc == JWT_E_USE                             ? "not a refresh token"
								   : jwt_reason(rc));
		return -1;
	}
	rc = store_user_get(srv->store, c->sub, u);
	if (rc == -ENOENT || rc == -EINVAL) {
		deny(req, action, true, "user deleted");
		return -1;
	}
	if (rc < 0) {
		server_store_error(req, rc, "user");
		return -1;
	}
	/* From here the name is known: the audit record shows who was refused. */
	snprintf(scratch(req)->username, sizeof(scratch(req)->username), "%s", u->username);
	if (u->disabled) {
		deny(req, action, true, "user disabled");
		return -1;
	}
	if (c->iat < u->tokens_valid_after) {
		deny(req, action, true, "token revoked");
		return -1;
	}
	return 0;
}

int auth_gate(struct http_req *req)
{
	if (routes_is_public(http_req_path(req)))
		return 0;
	struct store_user u;
	struct jwt_claims c;
	if (check_token(req, "auth.denied", "access", &u, &c) < 0)
		return -1;
	set_principal(req, &u, c.jti);
	return 0;
}

bool auth_require_admin(struct http_req *req)
{
	const struct principal *p = auth_principal(req);
	if (p && p->role == ROLE_ADMIN)
		return true;
	audit_record(req, "authz.denied", http_req_path(req), "denied", 403);
	server_error(req, 403, "admin role required");
	return false;
}

static int sign(const struct server *srv, const struct store_user *u, const char *use, int64_t now,
		int64_t ttl, char jti[STORE_ID_BUF], char **out)
{
	struct jwt_claims c = { 0 };
	if (server_uuid4(jti) < 0)
		return -EIO;
	snprintf(c.sub, sizeof(c.sub), "%s", u->id);
	snprintf(c.role, sizeof(c.role), "%s", u->role);
	snprintf(c.jti, sizeof(c.jti), "%s", jti);
	snprintf(c.aud, sizeof(c.aud), "%s", srv->cfg->audience);
	snprintf(c.iss, sizeof(c.iss), "%s", srv->cfg->issuer);
	snprintf(c.token_use, sizeof(c.token_use), "%s", use);
	c.iat = now;
	c.exp = now + ttl;
	int rc = jwt_sign(srv->jwt, &c, out);
	if (rc == JWT_OK)
		return 0;
	return rc == JWT_E_NOMEM ? -ENOMEM : -EIO;
}

static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

int auth_issue_pair(struct server *srv, const struct store_user *u, char **access, char **refresh)
{
	*access = *refresh = NULL;
	int64_t now = now_s();
	char jti[STORE_ID_BUF], rjti[STORE_ID_BUF];
	int rc = sign(srv, u, "access", now, srv->cfg->access_ttl_s, jti, access);
	if (rc < 0)
		return rc;
	rc = sign(srv, u, "refresh", now, srv->cfg->refresh_ttl_s, rjti, refresh);
	if (rc == 0)
		rc = store_refresh_add(srv->store, rjti, u->id, now + srv->cfg->refresh_ttl_s);
	if (rc < 0) {
		wipe_free(*access);
		wipe_free(*refresh);
		*access = *refresh = NULL;
	}
	return rc;
}

/* Expired refresh tokens are removed now and then, on the back of a login or a refresh. */
static void maybe_purge(struct server *srv)
{
	int64_t now = util_mono_ms();
	pthread_mutex_lock(&st.mu);
	bool due =
		st.last_purge_ms == 0 || now - st.last_purge_ms >= AUTH_REFRESH_PURGE_INTERVAL_MS;
	if (due)
		st.last_purge_ms = now;
	pthread_mutex_unlock(&st.mu);
	if (due) {
		int rc = store_refresh_purge(srv->store, now_s());
		if (rc < 0)
			log_kv(CLOG_WARN, "refresh token purge failed", "detail",
			       store_last_error(), NULL);
	}
}

/* 201 with a fresh pair for u (the login and refresh reply), or a 5xx. */
static void reply_pair(struct http_req *req, const struct store_user *u, const char *action)
{
	struct server *srv = http_req_app(req);
	char *access = NULL, *refresh = NULL;
	int rc = auth_issue_pair(srv, u, &access, &refresh);
	if (rc < 0) {
		audit_record(req, action, http_req_path(req), "failed", 500);
		if (rc == -EBUSY || rc == -EIO)
			server_store_error(req, rc, "refresh token");
		else
			server_error(req, 500, "cannot issue tokens");
		return;
	}
	set_principal(req, u, NULL);
	audit_record(req, action, http_req_path(req), "ok", 201);
	http_reply_header(req, "Cache-Control", "no-store");
	http_reply_json(req, 201,
			json_pack("{s:s,s:s,s:s,s:I}", "access_token", access, "refresh_token",
				  refresh, "access_type", "Bearer", "expires_in",
				  (json_int_t)srv->cfg->access_ttl_s));
	wipe_free(access);
	wipe_free(refresh);
	maybe_purge(srv);
}

/* ---------------------------------------------------------------- login throttling */

static struct login_slot *login_slot(const char *name, bool create)
{
	/* Keyed (SipHash, a key drawn at start-up): nobody can pick names that collide with the
	 * admin's slot to push its lock out of the table. */
	unsigned char hb[crypto_shorthash_BYTES];
	crypto_shorthash(hb, (const unsigned char *)name, strlen(name), st.hash_key);
	uint32_t h = (uint32_t)hb[0] | (uint32_t)hb[1] << 8 | (uint32_t)hb[2] << 16 |
		     (uint32_t)hb[3] << 24;
	struct login_slot *oldest = NULL;
	for (unsigned i = 0; i < AUTH_LOGIN_PROBE; i++) {
		struct login_slot *s = &st.slots[(h + i) % AUTH_LOGIN_TABLE_ENTRIES];
		if (strcmp(s->username, name) == 0)
			return s;
		if (!oldest || s->last_ms < oldest->last_ms)
			oldest = s;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->username, sizeof(oldest->username), "%s", name);
	return oldest;
}

/* Seconds the username stays locked, 0 when it may try. */
static int64_t login_locked_s(const char *name)
{
	if (!st.slots)
		return 0;
	pthread_mutex_lock(&st.mu);
	const struct login_slot *s = login_slot(name, false);
	int64_t now = util_mono_ms();
	int64_t left = s && s->locked_until_ms > now ? (s->locked_until_ms - now + 999) / 1000 : 0;
	pthread_mutex_unlock(&st.mu);
	return left;
}

static void login_failed(const char *name)
{
	if (!st.slots)
		return;
	pthread_mutex_lock(&st.mu);
	struct login_slot *s = login_slot(name, true);
	int64_t now = util_mono_ms();
	if (now - s->window_start_ms >= AUTH_LOGIN_WINDOW_S * 1000 || s->failures == 0) {
		s->window_start_ms = now;
		s->failures = 0;
	}
	s->failures++;
	s->last_ms = now;
	if (s->failures >= AUTH_LOGIN_FAILURES_MAX) {
		s->locked_until_ms = now + AUTH_LOGIN_LOCK_S * 1000;
		s->failures = 0; /* a new window starts when the lock ends */
	}
	pthread_mutex_unlock(&st.mu);
}

static void login_succeeded(const char *name)
{
	if (!st.slots)
		return;
	pthread_mutex_lock(&st.mu);
	struct login_slot *s = login_slot(name, false);
	if (s)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&st.mu);
}

static void count_login(struct server *srv, const char *result)
{
	if (srv->m_logins) {
		const char *v[] = { result };
		prom_inc(srv->m_logins, v, 1);
	}
}

/* ---------------------------------------------------------------- routes */

void api_tokens_issue(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	if (!server_require_json(req)) {
		audit_record(req, "auth.login", "/users/tokens/issue", "invalid", 415);
		return;
	}
	size_t len = 0;
	const char *body = http_req_body(req, &len);
	struct login_input in;
	char err[160] = "";
	int v = validate_login_body(body, len, &in, err, sizeof(err));
	if (v != VALID_OK) {
		unsigned status = v == VALID_MALFORMED ? 400 : 422;
		audit_record(req, "auth.login", "/users/tokens/issue", "invalid", status);
		server_error(req, status, "%s", err);
		sodium_memzero(&in, sizeof(in));
		return;
	}
	/* The name tried goes into the audit record of whatever happens next. */
	snprintf(scratch(req)->username, sizeof(scratch(req)->username), "%s", in.username);
	int64_t wait = login_locked_s(in.username);
	if (wait > 0) {
		char ra[24];
		snprintf(ra, sizeof(ra), "%lld", (long long)wait);
		count_login(srv, "throttled");
		audit_record(req, "auth.login", "/users/tokens/issue", "denied", 429);
		http_reply_header(req, "Retry-After", ra);
		server_error(req, 429, "too many failed logins for this user; retry in %s s", ra);
		sodium_memzero(&in, sizeof(in));
		return;
	}
	struct store_user u;
	int rc = store_user_get_by_name(srv->store, in.username, &u);
	if (rc < 0 && rc != -ENOENT) {
		sodium_memzero(&in, sizeof(in));
		audit_record(req, "auth.login", "/users/tokens/issue", "failed", 503);
		server_store_error(req, rc, "user");
		return;
	}
	bool exists = rc == 0;
	/* The same argon2id work whether or not the user exists. */
	int ok = secret_verify(exists ? u.pw_hash : st.dummy_hash, in.password, strlen(in.password),
			       NULL);
	sodium_memzero(&in, sizeof(in));
	if (!exists || ok != 1) {
		login_failed(scratch(req)->username);
		count_login(srv, "failed");
		audit_record(req, "auth.login", "/users/tokens/issue", "failed", 401);
		server_error(req, 401, "invalid credentials");
		return;
	}
	if (u.disabled) {
		count_login(srv, "disabled");
		audit_record(req, "auth.login", "/users/tokens/issue", "denied", 401);
		server_error(req, 401, "user disabled");
		return;
	}
	login_succeeded(u.username);
	count_login(srv, "ok");
	reply_pair(req, &u, "auth.login");
}

void api_tokens_refresh(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	struct store_user u;
	struct jwt_claims c;
	if (check_token(req, "auth.refresh", "refresh", &u, &c) < 0)
		return;
	int rc = store_refresh_consume(srv->store, c.jti, u.id, now_s());
	if (rc == -ENOENT) {
		deny(req, "auth.refresh", true, "refresh token already used or revoked");
		return;
	}
	if (rc < 0) {
		audit_record(req, "auth.refresh", "/users/tokens/refresh", "failed", 503);
		server_store_error(req, rc, "refresh token");
		return;
	}
	reply_pair(req, &u, "auth.refresh");
}

/* ---------------------------------------------------------------- start-up */

static int create_key(const struct server_settings *cfg, char *err, size_t errlen)
{
	int rc;
	if (cfg->jwt_alg == JWT_ALG_HS256) {
		unsigned char secret[AUTH_HS256_KEY_BYTES];
		randombytes_buf(secret, sizeof(secret));
		rc = fsx_write_atomic(cfg->jwt_key_path, secret, sizeof(secret), 0600);
		sodium_memzero(secret, sizeof(secret));
	} else {
		char *pem = NULL;
		size_t pem_len = 0;
		int jerr = 0;
		struct jwt_key *k = jwt_key_eddsa_generate(&pem, &pem_len, &jerr);
		if (!k) {
			snprintf(err, errlen, "cannot generate an Ed25519 key: %s",
				 jwt_strerror(jerr));
			return -EIO;
		}
		jwt_key_free(k);
		rc = fsx_write_atomic(cfg->jwt_key_path, pem, pem_len, 0600);
		sodium_memzero(pem, pem_len);
		free(pem);
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot create the token signing key %s: %s",
			 cfg->jwt_key_path, strerror(-rc));
		return rc;
	}
	log_kv(CLOG_INFO, "created the token signing key", "file", cfg->jwt_key_path, "alg",
	       cfg->jwt_alg == JWT_ALG_HS256 ? "HS256" : "EdDSA", NULL);
	return 0;
}

/* Loads (or, unless check_only, first creates) the signing key into srv->jwt. */
static int load_key(struct server *srv, bool check_only, char *err, size_t errlen)
{
	const struct server_settings *cfg = srv->cfg;
	const char *path = cfg->jwt_key_path;
	struct stat sb;
	if (stat(path, &sb) < 0) {
		int e = errno;
		if (e != ENOENT) {
			snprintf(err, errlen, "token signing key %s: %s", path, strerror(e));
			return -e;
		}
		if (check_only)
			return 0; /* created on the first real start */
		int rc = create_key(cfg, err, errlen);
		if (rc < 0)
			return rc;
		if (stat(path, &sb) < 0) {
			e = errno;
			snprintf(err, errlen, "token signing key %s: %s", path, strerror(e));
			return -e;
		}
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "token signing key %s is not a regular file", path);
		return -EINVAL;
	}
	if (sb.st_mode & 077) {
		snprintf(err, errlen,
			 "token signing key %s has mode %04o: group and other must have no "
			 "access (chmod 600 %s)",
			 path, (unsigned)(sb.st_mode & 07777), path);
		return -EPERM;
	}
	char *buf = NULL;
	size_t len = 0;
	int rc = fsx_read_file(path, AUTH_KEY_FILE_MAX_BYTES, &buf, &len);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the token signing key %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	int jerr = 0;
	struct jwt_key *k = cfg->jwt_alg == JWT_ALG_HS256
				    ? jwt_key_hs256((const unsigned char *)buf, len, &jerr)
				    : jwt_key_eddsa_from_pem(buf, len, &jerr);
	sodium_memzero(buf, len);
	free(buf);
	if (!k) {
		snprintf(err, errlen, "token signing key %s is not a usable %s key (%s%s)", path,
			 cfg->jwt_alg == JWT_ALG_HS256 ? "HS256" : "EdDSA", jwt_strerror(jerr),
			 cfg->jwt_alg == JWT_ALG_HS256 ? ": want 32..128 raw bytes"
						       : ": want a PKCS#8 Ed25519 PEM");
		return -EINVAL;
	}
	jwt_key_free(srv->jwt);
	srv->jwt = k;
	return 0;
}

int auth_init(struct server *srv, bool check_only, char *err, size_t errlen)
{
	int rc = load_key(srv, check_only, err, errlen);
	if (rc < 0 || check_only)
		return rc;
	st.slots = calloc(AUTH_LOGIN_TABLE_ENTRIES, sizeof(*st.slots));
	if (!st.slots) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	crypto_shorthash_keygen(st.hash_key);
	/* Unknown users are checked against this hash: same cost as a real one, no password
	 * anybody knows. */
	unsigned char rnd[32];
	randombytes_buf(rnd, sizeof(rnd));
	rc = secret_hash_password((const char *)rnd, sizeof(rnd), st.dummy_hash);
	sodium_memzero(rnd, sizeof(rnd));
	if (rc < 0) {
		snprintf(err, errlen, "cannot hash: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

void auth_done(struct server *srv)
{
	jwt_key_free(srv->jwt);
	srv->jwt = NULL;
	pthread_mutex_lock(&st.mu);
	free(st.slots);
	st.slots = NULL;
	pthread_mutex_unlock(&st.mu);
	sodium_memzero(st.dummy_hash, sizeof(st.dummy_hash));
	sodium_memzero(st.hash_key, sizeof(st.hash_key));
}

/* The first admin's password from admin_password_file (one trailing newline trimmed). */
static int read_admin_password(const char *path, char *pw, size_t cap, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = fsx_read_file(path, VALID_PASSWORD_MAX_BYTES + 2, &buf, &len);
	if (rc < 0) {
		snprintf(err, errlen, "admin_password_file %s: %s", path,
			 rc == -E2BIG ? "longer than the password limit" : strerror(-rc));
		return rc;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	char msg[160] = "";
	rc = 0;
	if (memchr(buf, '\0', len) || len >= cap) {
		snprintf(err, errlen, "admin_password_file %s: not a usable password", path);
		rc = -EINVAL;
	} else if (validate_password(buf, len, msg, sizeof(msg)) != VALID_OK) {
		snprintf(err, errlen, "admin_password_file %s: %s", path, msg);
		rc = -EINVAL;
	} else {
		memcpy(pw, buf, len);
		pw[len] = '\0';
	}
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}

int auth_bootstrap_admin(struct server *srv, char *err, size_t errlen)
{
	const struct server_settings *cfg = srv->cfg;
	uint64_t n = 0;
	int rc = store_user_count(srv->store, &n);
	if (rc < 0) {
		snprintf(err, errlen, "cannot count users: %s", store_last_error());
		return rc;
	}
	if (n > 0)
		return 0;
	char pw[VALID_PASSWORD_MAX_BYTES + 2];
	char where[4096];
	bool generated = !cfg->admin_password_file[0];
	if (!generated) {
		rc = read_admin_password(cfg->admin_password_file, pw, sizeof(pw), err, errlen);
		if (rc < 0)
			return rc;
		snprintf(where, sizeof(where), "%s", cfg->admin_password_file);
	} else {
		unsigned char rnd[AUTH_ADMIN_PASSWORD_RANDOM_BYTES];
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2base64(pw, sizeof(pw), rnd, sizeof(rnd),
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		sodium_memzero(rnd, sizeof(rnd));
		int w = snprintf(where, sizeof(where), "%s/%s", cfg->state_dir,
				 AUTH_INITIAL_PASSWORD_FILE);
		if (w < 0 || (size_t)w >= sizeof(where)) {
			snprintf(err, errlen, "state_dir is too long");
			sodium_memzero(pw, sizeof(pw));
			return -ENAMETOOLONG;
		}
		/* Written before the user exists: an admin whose password nobody has is worse
		 * than a file for a user that failed to appear (the next start rewrites it). */
		char line[sizeof(pw) + 1];
		size_t pl = strlen(pw);
		memcpy(line, pw, pl);
		line[pl] = '\n';
		rc = fsx_write_atomic(where, line, pl + 1, 0600);
		sodium_memzero(line, sizeof(line));
		if (rc < 0) {
			snprintf(err, errlen, "cannot write %s: %s", where, strerror(-rc));
			sodium_memzero(pw, sizeof(pw));
			return rc;
		}
	}
	struct store_user u = { 0 };
	rc = server_uuid4(u.id);
	if (rc == 0)
		rc = secret_hash_password(pw, strlen(pw), u.pw_hash);
	if (rc < 0) {
		snprintf(err, errlen, "cannot prepare the admin user: %s", strerror(-rc));
		sodium_memzero(pw, sizeof(pw));
		return rc;
	}
	snprintf(u.username, sizeof(u.username), "%s", cfg->admin_username);
	snprintf(u.role, sizeof(u.role), "admin");
	u.created_at = u.updated_at = util_now_ns();
	char resource[64];
	snprintf(resource, sizeof(resource), "/users/%s", u.id);
	struct store_audit a;
	audit_fill(&a, NULL, "users.create", resource, "ok", 201);
	snprintf(a.principal, sizeof(a.principal), "cloisterd");
	rc = store_user_create(srv->store, &u, &a);
	sodium_memzero(u.pw_hash, sizeof(u.pw_hash));
	if (rc < 0) {
		snprintf(err, errlen, "cannot create the admin user: %s", store_last_error());
		sodium_memzero(pw, sizeof(pw));
		return rc;
	}
	log_kv(CLOG_INFO, "admin created", "username", u.username, "id", u.id, "password_file",
	       where, NULL);
	if (generated)
		fprintf(stderr, "cloisterd: initial password for admin user \"%s\": %s\n",
			u.username, pw);
	sodium_memzero(pw, sizeof(pw));
	return 0;
}
