/*
 * auth.c - Basic auth gate, secret file and set-basic-auth (see auth.h).
 *
 * The secret is held as the stored string (legacy hex or argon2id) under a rwlock together with a
 * generation number; a change bumps the generation, which empties the cache of verified
 * passwords. Failure tracking is a small open-addressed table keyed by client address; when it is
 * full the oldest entry is reused, so an attacker rotating addresses costs us nothing but slots.
 */
#include "agent/auth.h"

#include "agent/agent.h"
#include "agent/limits.h"
#include "fsx.h"
#include "http/basic_auth.h"
#include "http/server.h"
#include "secret.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define AUTH_CACHE_SLOTS 8

struct fail_slot {
	char addr[48];
	unsigned failures;
	int64_t until_ms; /* refuse attempts before this (monotonic ms) */
	int64_t last_ms;
};

struct cache_slot {
	unsigned char digest[32];
	uint64_t generation;
	int64_t expires_ms;
	bool used;
};

struct auth {
	char *path;
	char *salt;
	bool allow_first;

	pthread_rwlock_t lock;
	char *stored; /* NULL or "" = auth off */
	uint64_t generation;

	pthread_mutex_t mu; /* guards cache and fails */
	unsigned char cache_key[crypto_generichash_KEYBYTES];
	struct cache_slot cache[AUTH_CACHE_SLOTS];
	struct fail_slot *fails;
};

static void wipe_free(char *s)
{
	if (s) {
		secret_wipe(s, strlen(s));
		free(s);
	}
}

struct auth *auth_new(const char *path, const char *legacy_salt, bool allow_first, bool check_only,
		      char *err, size_t errlen)
{
	struct auth *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_rwlock_init(&a->lock, NULL);
	pthread_mutex_init(&a->mu, NULL);
	a->path = strdup(path ? path : "");
	a->salt = strdup(legacy_salt ? legacy_salt : "");
	a->allow_first = allow_first;
	a->fails = calloc(AGENT_AUTH_TRACKED_ADDRS, sizeof(*a->fails));
	if (!a->path || !a->salt || !a->fails) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	randombytes_buf(a->cache_key, sizeof(a->cache_key));
	if (!a->path[0])
		return a;
	char *content = NULL;
	size_t len = 0;
	int rc = fsx_read_file(a->path, 4096, &content, &len);
	if (rc == -ENOENT && check_only)
		return a;
	if (rc == -ENOENT) {
		/* system-api creates a missing secret file empty; auth stays off until it is set. */
		rc = fsx_write_atomic(a->path, "", 0, 0600);
		if (rc < 0) {
			snprintf(err, errlen, "cannot create %s: %s", a->path, strerror(-rc));
			goto fail;
		}
		return a;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot read %s: %s", a->path, strerror(-rc));
		goto fail;
	}
	int kind = secret_classify(content, len);
	if (kind < 0) {
		secret_wipe(content, len);
		free(content);
		snprintf(err, errlen,
			 "%s: not a basic-auth secret (want empty, 64 hex characters or an "
			 "argon2id hash)",
			 a->path);
		goto fail;
	}
	if (kind != SECRET_KIND_EMPTY) {
		/* Keep the value without the trailing newline secret_classify tolerates. */
		while (len > 0 && (content[len - 1] == '\n' || content[len - 1] == '\r'))
			content[--len] = '\0';
		a->stored = content;
	} else {
		free(content);
	}
	return a;
fail:
	auth_free(a);
	return NULL;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	wipe_free(a->stored);
	wipe_free(a->salt);
	free(a->path);
	free(a->fails);
	sodium_memzero(a->cache_key, sizeof(a->cache_key));
	pthread_rwlock_destroy(&a->lock);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

bool auth_enabled(struct auth *a)
{
	pthread_rwlock_rdlock(&a->lock);
	bool on = a->stored && a->stored[0];
	pthread_rwlock_unlock(&a->lock);
	return on;
}

/* ---------------------------------------------------------------- failure backoff */

static struct fail_slot *fail_slot(struct auth *a, const char *addr, bool create)
{
	uint32_t h = 2166136261u;
	for (const char *p = addr; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	struct fail_slot *oldest = NULL;
	for (unsigned i = 0; i < 8; i++) {
		struct fail_slot *s = &a->fails[(h + i) % AGENT_AUTH_TRACKED_ADDRS];
		if (strcmp(s->addr, addr) == 0)
			return s;
		if (!oldest || s->last_ms < oldest->last_ms)
			oldest = s;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	return oldest;
}

/* Seconds the address must still wait, 0 if it may try now. */
static int64_t backoff_left_s(struct auth *a, const char *addr)
{
	pthread_mutex_lock(&a->mu);
	struct fail_slot *s = fail_slot(a, addr, false);
	int64_t now = util_mono_ms();
	int64_t left = s && s->until_ms > now ? (s->until_ms - now + 999) / 1000 : 0;
	pthread_mutex_unlock(&a->mu);
	return left;
}

static void record_failure(struct auth *a, const char *addr)
{
	pthread_mutex_lock(&a->mu);
	struct fail_slot *s = fail_slot(a, addr, true);
	int64_t now = util_mono_ms();
	s->failures++;
	s->last_ms = now;
	if (s->failures >= AGENT_AUTH_FREE_FAILURES) {
		unsigned shift = s->failures - AGENT_AUTH_FREE_FAILURES;
		int64_t wait_s = shift >= 6 ? AGENT_AUTH_BACKOFF_MAX_S : (int64_t)1 << shift;
		if (wait_s > AGENT_AUTH_BACKOFF_MAX_S)
			wait_s = AGENT_AUTH_BACKOFF_MAX_S;
		s->until_ms = now + wait_s * 1000;
	}
	pthread_mutex_unlock(&a->mu);
}

static void record_success(struct auth *a, const char *addr)
{
	pthread_mutex_lock(&a->mu);
	struct fail_slot *s = fail_slot(a, addr, false);
	if (s)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&a->mu);
}

/* ---------------------------------------------------------------- verification */

static void digest_pw(struct auth *a, const char *pw, size_t len, unsigned char out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)pw, len, a->cache_key,
			   sizeof(a->cache_key));
}

static bool cache_hit(struct auth *a, const unsigned char d[32], uint64_t gen)
{
	bool hit = false;
	int64_t now = util_mono_ms();
	pthread_mutex_lock(&a->mu);
	for (unsigned i = 0; i < AUTH_CACHE_SLOTS; i++) {
		struct cache_slot *c = &a->cache[i];
		if (c->used && c->generation == gen && c->expires_ms > now &&
		    secret_equal(c->digest, d, 32))
			hit = true;
	}
	pthread_mutex_unlock(&a->mu);
	return hit;
}

static void cache_put(struct auth *a, const unsigned char d[32], uint64_t gen)
{
	pthread_mutex_lock(&a->mu);
	struct cache_slot *victim = &a->cache[0];
	for (unsigned i = 0; i < AUTH_CACHE_SLOTS; i++) {
		if (!a->cache[i].used || a->cache[i].expires_ms < victim->expires_ms) {
			victim = &a->cache[i];
			if (!victim->used)
				break;
		}
	}
	memcpy(victim->digest, d, 32);
	victim->generation = gen;
	victim->expires_ms = util_mono_ms() + AGENT_AUTH_CACHE_TTL_S * 1000;
	victim->used = true;
	pthread_mutex_unlock(&a->mu);
}

/* 1 valid, 0 invalid or absent. */
static int check_header(struct auth *a, const char *hdr)
{
	char user[64], pw[AGENT_PASSWORD_MAX_BYTES + 1];
	size_t pwlen = 0;
	if (!hdr || http_basic_auth_parse(hdr, user, sizeof(user), pw, sizeof(pw), &pwlen) < 0)
		return 0;
	/* The user name is fixed and public; compare it anyway without an early exit. */
	bool user_ok = strlen(user) == 5 && secret_equal(user, "admin", 5);
	int ok = 0;
	unsigned char d[32];
	digest_pw(a, pw, pwlen, d);
	pthread_rwlock_rdlock(&a->lock);
	uint64_t gen = a->generation;
	char *stored = a->stored ? strdup(a->stored) : NULL;
	pthread_rwlock_unlock(&a->lock);
	if (stored) {
		if (cache_hit(a, d, gen)) {
			ok = user_ok;
		} else if (secret_verify(stored, pw, pwlen, a->salt) == 1) {
			cache_put(a, d, gen);
			ok = user_ok;
		}
	}
	wipe_free(stored);
	sodium_memzero(d, sizeof(d));
	sodium_memzero(pw, sizeof(pw));
	return ok;
}

static void reply_unauthorized(struct http_req *req)
{
	http_reply_header(req, "WWW-Authenticate", "Basic realm=\"system-api\"");
	http_reply_error(req, 401, "Unauthorized");
}

int auth_gate(struct http_req *req)
{
	struct agent *ag = http_req_app(req);
	struct auth *a = ag->auth;
	if (!auth_enabled(a))
		return 0;
	const char *addr = http_req_client_addr(req);
	int64_t wait = backoff_left_s(a, addr);
	if (wait > 0) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%lld", (long long)wait);
		http_reply_header(req, "Retry-After", buf);
		http_reply_error(req, 429, "Too many failed logins; retry later");
		return -1;
	}
	if (check_header(a, http_req_header(req, "Authorization")) == 1) {
		record_success(a, addr);
		return 0;
	}
	record_failure(a, addr);
	reply_unauthorized(req);
	return -1;
}

void auth_handle_set(struct http_req *req)
{
	struct agent *ag = http_req_app(req);
	struct auth *a = ag->auth;
	if (!a->path[0]) {
		http_reply_error(req, 501, "basic_auth_secret_path is not configured");
		return;
	}
	/* The gate has already authenticated the caller when a secret is set. Without one, this is
	 * system-api's trust on first use, which the config can switch off. */
	if (!auth_enabled(a) && !a->allow_first) {
		http_reply_error(req, 403,
				 "setting the first secret over the network is disabled; write the "
				 "secret file instead");
		return;
	}
	size_t len = 0;
	const char *pw = http_req_body(req, &len);
	if (len == 0) {
		http_reply_error(req, 400, "password must not be empty");
		return;
	}
	if (memchr(pw, '\0', len)) {
		http_reply_error(req, 400, "password must not contain NUL bytes");
		return;
	}
	char hash[SECRET_HASH_MAX];
	if (secret_hash_password(pw, len, hash) < 0) {
		http_reply_error(req, 500, "cannot hash the password");
		return;
	}
	char *copy = strdup(hash);
	if (!copy) {
		secret_wipe(hash, sizeof(hash));
		http_reply_error(req, 500, "out of memory");
		return;
	}
	/* Write first: memory changes only when the file is durably in place. */
	pthread_rwlock_wrlock(&a->lock);
	int rc = fsx_write_atomic(a->path, hash, strlen(hash), 0600);
	if (rc == 0) {
		wipe_free(a->stored);
		a->stored = copy;
		a->generation++;
		copy = NULL;
	}
	pthread_rwlock_unlock(&a->lock);
	secret_wipe(hash, sizeof(hash));
	wipe_free(copy);
	if (rc < 0) {
		http_reply_error(req, 500, "Failed to write the basic auth secret");
		return;
	}
	agent_event(ag, "[system-api] basic auth secret updated");
	http_reply_json(req, 200, json_pack("{s:s}", "message", "Basic auth secret updated"));
}
