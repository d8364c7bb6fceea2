/*
 * settings.c - loads cloisterd's configuration (see settings.h).
 *
 * The key table below is the single source of truth: every accepted key with its type and
 * range. config_check refuses anything else with file:line; the values are then copied into
 * struct server_settings, the flags applied, and the values the table cannot express (the
 * algorithm name, the TLS pair, the admin name, strings that must not be empty) checked, each
 * error naming the key's line when it came from the file.
 */
#include "server/settings.h"

#include "config.h"
#include "server/validate.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S "server"
#define A "auth"
#define F "fleet"

static const struct config_key keys[] = {
	{ S, "listen_addr", CONFIG_STRING, 0, 0 },
	{ S, "state_dir", CONFIG_STRING, 0, 0 },
	{ S, "database", CONFIG_STRING, 0, 0 },
	{ S, "tls_cert_path", CONFIG_STRING, 0, 0 },
	{ S, "tls_key_path", CONFIG_STRING, 0, 0 },
	{ S, "allow_get_side_effects", CONFIG_BOOL, 0, 0 },
	{ S, "log_json", CONFIG_BOOL, 0, 0 },
	{ S, "log_debug", CONFIG_BOOL, 0, 0 },
	{ S, "max_connections", CONFIG_INT, 1, SERVER_CONN_LIMIT_CEILING },
	{ S, "max_connections_per_ip", CONFIG_INT, 1, SERVER_CONN_LIMIT_CEILING },
	{ S, "connection_timeout_s", CONFIG_INT, 1, SERVER_CONN_TIMEOUT_MAX_S },
	{ S, "http_threads", CONFIG_INT, 1, SERVER_HTTP_THREADS_CEILING },
	{ A, "jwt_alg", CONFIG_STRING, 0, 0 },
	{ A, "jwt_key_path", CONFIG_STRING, 0, 0 },
	{ A, "audience", CONFIG_STRING, 0, 0 },
	{ A, "issuer", CONFIG_STRING, 0, 0 },
	{ A, "access_ttl_s", CONFIG_INT, SERVER_ACCESS_TTL_MIN_S, SERVER_ACCESS_TTL_MAX_S },
	{ A, "refresh_ttl_s", CONFIG_INT, SERVER_REFRESH_TTL_MIN_S, SERVER_REFRESH_TTL_MAX_S },
	{ A, "admin_username", CONFIG_STRING, 0, 0 },
	{ A, "admin_password_file", CONFIG_STRING, 0, 0 },
	{ F, "enabled", CONFIG_BOOL, 0, 0 },
	{ F, "poll_interval_s", CONFIG_INT, 1, FLEET_POLL_INTERVAL_MAX_S },
	{ F, "poll_jitter_pct", CONFIG_INT, 0, FLEET_JITTER_MAX_PCT },
	{ F, "offline_after_failures", CONFIG_INT, 1, FLEET_OFFLINE_AFTER_MAX },
	{ F, "backoff_max_s", CONFIG_INT, 1, FLEET_BACKOFF_MAX_CEILING_S },
	{ F, "attest_interval_s", CONFIG_INT, 1, FLEET_ATTEST_INTERVAL_MAX_S },
	{ F, "max_concurrent", CONFIG_INT, 1, FLEET_CONCURRENT_CEILING },
	{ F, "tdx_collateral_dir", CONFIG_STRING, 0, 0 },
};

static void fail(char *err, size_t errlen, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void fail(char *err, size_t errlen, const char *file, unsigned line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(err, errlen, "%s:%u: %s", file, line, msg);
	else
		snprintf(err, errlen, "%s: %s", file, msg);
}

static int set_str(char **dst, const char *v)
{
	char *n = strdup(v);
	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

/* Copies one checked entry into s. 0, or -ENOMEM. jwt_alg is kept as text in *alg_text. */
static int apply(struct server_settings *s, const struct config_entry *e, char **alg_text)
{
	struct {
		const char *table, *key;
		char **str;
		bool *b;
		long long *i;
	} map[] = {
		{ S, "listen_addr", &s->listen_addr, NULL, NULL },
		{ S, "state_dir", &s->state_dir, NULL, NULL },
		{ S, "database", &s->database, NULL, NULL },
		{ S, "tls_cert_path", &s->tls_cert_path, NULL, NULL },
		{ S, "tls_key_path", &s->tls_key_path, NULL, NULL },
		{ S, "allow_get_side_effects", NULL, &s->allow_get_side_effects, NULL },
		{ S, "log_json", NULL, &s->log_json, NULL },
		{ S, "log_debug", NULL, &s->log_debug, NULL },
		{ S, "max_connections", NULL, NULL, &s->max_connections },
		{ S, "max_connections_per_ip", NULL, NULL, &s->max_connections_per_ip },
		{ S, "connection_timeout_s", NULL, NULL, &s->connection_timeout_s },
		{ S, "http_threads", NULL, NULL, &s->http_threads },
		{ A, "jwt_alg", alg_text, NULL, NULL },
		{ A, "jwt_key_path", &s->jwt_key_path, NULL, NULL },
		{ A, "audience", &s->audience, NULL, NULL },
		{ A, "issuer", &s->issuer, NULL, NULL },
		{ A, "access_ttl_s", NULL, NULL, &s->access_ttl_s },
		{ A, "refresh_ttl_s", NULL, NULL, &s->refresh_ttl_s },
		{ A, "admin_username", &s->admin_username, NULL, NULL },
		{ A, "admin_password_file", &s->admin_password_file, NULL, NULL },
		{ F, "enabled", NULL, &s->fleet_enabled, NULL },
		{ F, "poll_interval_s", NULL, NULL, &s->fleet_poll_interval_s },
		{ F, "poll_jitter_pct", NULL, NULL, &s->fleet_jitter_pct },
		{ F, "offline_after_failures", NULL, NULL, &s->fleet_offline_after },
		{ F, "backoff_max_s", NULL, NULL, &s->fleet_backoff_max_s },
		{ F, "attest_interval_s", NULL, NULL, &s->fleet_attest_interval_s },
		{ F, "max_concurrent", NULL, NULL, &s->fleet_max_concurrent },
		{ F, "tdx_collateral_dir", &s->fleet_tdx_collateral_dir, NULL, NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (strcmp(map[i].table, e->table) != 0 || strcmp(map[i].key, e->key) != 0)
			continue;
		if (map[i].str)
			return set_str(map[i].str, e->str);
		if (map[i].b)
			*map[i].b = e->boolean;
		if (map[i].i)
			*map[i].i = e->num;
		return 0;
	}
	return 0; /* config_check accepted only keys of the table above */
}

static int fill_defaults(struct server_settings *s, char **alg_text)
{
	struct {
		char **p;
		const char *v;
	} d[] = {
		{ &s->listen_addr, SERVER_LISTEN_DEFAULT },
		{ &s->state_dir, SERVER_STATE_DIR_DEFAULT },
		{ &s->database, "" },
		{ &s->tls_cert_path, "" },
		{ &s->tls_key_path, "" },
		{ &s->jwt_key_path, "" },
		{ &s->audience, SERVER_AUDIENCE_DEFAULT },
		{ &s->issuer, SERVER_AUDIENCE_DEFAULT },
		{ &s->admin_username, SERVER_ADMIN_USERNAME_DEFAULT },
		{ &s->admin_password_file, "" },
		{ &s->fleet_tdx_collateral_dir, "" },
		{ alg_text, "EdDSA" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(d); i++)
		if (!*d[i].p && set_str(d[i].p, d[i].v) < 0)
			return -ENOMEM;
	return 0;
}

/* "<dir>/<name>" into a new string (dir without a trailing '/' duplicated). */
static char *join_path(const char *dir, const char *prefix, const char *name)
{
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	size_t n = strlen(prefix) + dl + 1 + strlen(name) + 1;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, "%s%.*s/%s", prefix, (int)dl, dir, name);
	return out;
}

static unsigned line_of(const struct config_doc *doc, const char *table, const char *key)
{
	const struct config_entry *e = doc ? config_find(doc, table, key) : NULL;
	return e ? e->line : 0;
}

/* Checks what the key table cannot express; flags have already been applied. */
static int check_values(struct server_settings *s, const char *alg_text,
			const struct config_doc *doc, const char *file, char *err, size_t errlen)
{
	if (strcmp(alg_text, "EdDSA") == 0) {
		s->jwt_alg = JWT_ALG_EDDSA;
	} else if (strcmp(alg_text, "HS256") == 0) {
		s->jwt_alg = JWT_ALG_HS256;
	} else {
		fail(err, errlen, file, line_of(doc, A, "jwt_alg"),
		     "[auth] jwt_alg must be \"EdDSA\" or \"HS256\"");
		return -EINVAL;
	}
	const struct {
		const char *table, *key, *value;
	} nonempty[] = {
		{ S, "listen_addr", s->listen_addr },
		{ S, "state_dir", s->state_dir },
		{ A, "audience", s->audience },
		{ A, "issuer", s->issuer },
	};
	for (size_t i = 0; i < ARRAY_SIZE(nonempty); i++) {
		if (!nonempty[i].value[0]) {
			fail(err, errlen, file, line_of(doc, nonempty[i].table, nonempty[i].key),
			     "[%s] %s must not be empty", nonempty[i].table, nonempty[i].key);
			return -EINVAL;
		}
	}
	/* The claims are copied into fixed JWT buffers (NUL included). */
	if (strlen(s->audience) >= JWT_AUD_MAX || strlen(s->issuer) >= JWT_ISS_MAX) {
		fail(err, errlen, file,
		     line_of(doc, A, strlen(s->audience) >= JWT_AUD_MAX ? "audience" : "issuer"),
		     "[auth] audience and issuer must be at most %d bytes", JWT_AUD_MAX - 1);
		return -EINVAL;
	}
	char msg[160] = "";
	if (validate_username(s->admin_username, strlen(s->admin_username), msg, sizeof(msg)) !=
	    VALID_OK) {
		fail(err, errlen, file, line_of(doc, A, "admin_username"),
		     "[auth] admin_username: %s", msg);
		return -EINVAL;
	}
	if (!s->tls_cert_path[0] != !s->tls_key_path[0]) {
		fail(err, errlen, file,
		     line_of(doc, S, s->tls_cert_path[0] ? "tls_cert_path" : "tls_key_path"),
		     "[server] tls_cert_path and tls_key_path must be set together (HTTPS) or both "
		     "be empty (HTTP)");
		return -EINVAL;
	}
	if (s->fleet_backoff_max_s && s->fleet_backoff_max_s < s->fleet_poll_interval_s) {
		fail(err, errlen, file, line_of(doc, F, "backoff_max_s"),
		     "[fleet] backoff_max_s must be at least poll_interval_s");
		return -EINVAL;
	}
	if (s->access_ttl_s >= s->refresh_ttl_s) {
		fail(err, errlen, file, line_of(doc, A, "refresh_ttl_s"),
		     "[auth] refresh_ttl_s must be longer than access_ttl_s");
		return -EINVAL;
	}
	return 0;
}

static int resolve_paths(struct server_settings *s)
{
	/* A failing agent is retried at most this far apart unless the config says otherwise. */
	if (!s->fleet_backoff_max_s) {
		long long b = 3 * s->fleet_poll_interval_s;
		s->fleet_backoff_max_s =
			b > FLEET_BACKOFF_MAX_CEILING_S ? FLEET_BACKOFF_MAX_CEILING_S : b;
		if (s->fleet_backoff_max_s < s->fleet_poll_interval_s)
			s->fleet_backoff_max_s = s->fleet_poll_interval_s;
	}
	if (!s->database[0]) {
		char *db = join_path(s->state_dir, "sqlite:", "cloisterd.db");
		if (!db)
			return -ENOMEM;
		free(s->database);
		s->database = db;
	}
	if (!s->jwt_key_path[0]) {
		char *k = join_path(s->state_dir, "",
				    s->jwt_alg == JWT_ALG_HS256 ? "jwt-hs256.key"
								: "jwt-ed25519.pem");
		if (!k)
			return -ENOMEM;
		free(s->jwt_key_path);
		s->jwt_key_path = k;
	}
	return 0;
}

struct server_settings *server_settings_load(const char *path,
					     const struct server_settings_overrides *ov, char *err,
					     size_t errlen)
{
	struct server_settings *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->allow_get_side_effects = true;
	s->access_ttl_s = 900;
	s->refresh_ttl_s = 604800;
	s->fleet_enabled = true;
	s->fleet_poll_interval_s = FLEET_POLL_INTERVAL_DEFAULT_S;
	s->fleet_jitter_pct = FLEET_JITTER_DEFAULT_PCT;
	s->fleet_offline_after = FLEET_OFFLINE_AFTER_DEFAULT;
	s->fleet_attest_interval_s = FLEET_ATTEST_INTERVAL_DEFAULT_S;
	s->fleet_max_concurrent = FLEET_CONCURRENT_DEFAULT;
	char *alg_text = NULL;
	struct config_doc doc = { 0 };
	const char *file = path ? path : "settings";
	if (path) {
		s->config_path = strdup(path);
		if (!s->config_path)
			goto nomem;
		struct config_error ce = { 0 };
		int rc = config_parse_file(path, &doc, &ce);
		if (rc < 0) {
			if (ce.line == 0 && ce.msg[0] == '\0')
				fail(err, errlen, path, 0, "%s", strerror(-rc));
			else
				fail(err, errlen, path, ce.line, "%s", ce.msg);
			goto fail;
		}
		rc = config_check(&doc, keys, ARRAY_SIZE(keys), &ce);
		if (rc < 0) {
			fail(err, errlen, path, ce.line, "%s", ce.msg);
			goto fail;
		}
		for (size_t i = 0; i < doc.n; i++) {
			if (apply(s, &doc.entries[i], &alg_text) < 0)
				goto nomem;
		}
	}
	if (ov && ov->listen_addr && set_str(&s->listen_addr, ov->listen_addr) < 0)
		goto nomem;
	if (ov && ov->state_dir && set_str(&s->state_dir, ov->state_dir) < 0)
		goto nomem;
	if (ov && ov->database && set_str(&s->database, ov->database) < 0)
		goto nomem;
	if (fill_defaults(s, &alg_text) < 0)
		goto nomem;
	if (check_values(s, alg_text, path ? &doc : NULL, file, err, errlen) < 0)
		goto fail;
	if (resolve_paths(s) < 0)
		goto nomem;
	free(alg_text);
	config_doc_done(&doc);
	return s;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	free(alg_text);
	config_doc_done(&doc);
	server_settings_free(s);
	return NULL;
}

void server_settings_free(struct server_settings *s)
{
	if (!s)
		return;
	char **strs[] = { &s->config_path,
			  &s->listen_addr,
			  &s->state_dir,
			  &s->database,
			  &s->tls_cert_path,
			  &s->tls_key_path,
			  &s->jwt_key_path,
			  &s->audience,
			  &s->issuer,
			  &s->admin_username,
			  &s->admin_password_file,
			  &s->fleet_tdx_collateral_dir };
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		free(*strs[i]);
	free(s);
}
