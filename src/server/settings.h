/*
 * settings.h - cloisterd's configuration: cloisterd.toml ([server], [auth] and [fleet], see
 * packaging/cloisterd.toml for every key), then the command-line flags, which win.
 *
 * Every key is optional and listed once in the key table of settings.c with its type and range;
 * an unknown key, a wrong type or a value out of range refuses to start with "file:line: ...",
 * so a typo never silently turns a protection off. Derived values are resolved at load: an
 * empty database becomes "sqlite:<state_dir>/cloisterd.db" and an empty jwt_key_path becomes
 * "<state_dir>/jwt-ed25519.pem" (EdDSA) or "<state_dir>/jwt-hs256.key" (HS256), after the flags
 * are applied, so --state-dir moves them too.
 *
 * Used by main.c (start-up) and read by every handler through struct server. Ownership:
 * server_settings_load returns a struct the caller frees with server_settings_free. Read-only
 * after load, so any thread may read it. Nothing here touches the file system except reading
 * the config file (the state directory is created by main.c).
 */
#ifndef CLOISTER_SERVER_SETTINGS_H
#define CLOISTER_SERVER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "jwt.h"

#define SERVER_LISTEN_DEFAULT "127.0.0.1:8080"
#define SERVER_STATE_DIR_DEFAULT "/var/lib/cloisterd"
#define SERVER_AUDIENCE_DEFAULT "cloisterd"
#define SERVER_ADMIN_USERNAME_DEFAULT "admin"
/* Token lifetimes, seconds: the ranges the config accepts. */
#define SERVER_ACCESS_TTL_MIN_S 60
#define SERVER_ACCESS_TTL_MAX_S 86400
#define SERVER_REFRESH_TTL_MIN_S 300
#define SERVER_REFRESH_TTL_MAX_S 2592000
/* Connection handling (the HTTP library's defaults unless set); ceilings the config cannot pass. */
#define SERVER_CONN_LIMIT_CEILING 65536
#define SERVER_CONN_TIMEOUT_MAX_S 3600
#define SERVER_HTTP_THREADS_CEILING 64
/* [fleet]: the monitor (monitor.c). Seconds unless named otherwise. */
#define FLEET_POLL_INTERVAL_DEFAULT_S 10
#define FLEET_POLL_INTERVAL_MAX_S 3600
#define FLEET_JITTER_DEFAULT_PCT 10
#define FLEET_JITTER_MAX_PCT 50
#define FLEET_OFFLINE_AFTER_DEFAULT 1 /* consecutive failed polls */
#define FLEET_OFFLINE_AFTER_MAX 10
#define FLEET_BACKOFF_MAX_CEILING_S 300 /* default: 3 x poll_interval_s, never more than this */
#define FLEET_ATTEST_INTERVAL_DEFAULT_S 300
#define FLEET_ATTEST_INTERVAL_MAX_S 86400
#define FLEET_CONCURRENT_DEFAULT 256 /* agent requests in flight at once */
#define FLEET_CONCURRENT_CEILING 4096
#define FLEET_TDX_RELOAD_S 300 /* the TDX collateral directory is re-read at least this often */

struct server_settings {
	char *config_path; /* NULL when started without --config */

	/* [server] */
	char *listen_addr;
	char *state_dir;
	char *database;                     /* resolved: never "" */
	char *tls_cert_path, *tls_key_path; /* both "" (HTTP) or both set (HTTPS) */
	bool allow_get_side_effects;        /* GET /backends/terminate/{id}/{type} (Prism) */
	bool log_json, log_debug;
	long long max_connections, max_connections_per_ip; /* 0 = the HTTP library's default */
	long long connection_timeout_s;                    /* 0 = the HTTP library's default */
	long long http_threads;                            /* 0 = the HTTP library's default */

	/* [auth] */
	enum jwt_alg jwt_alg;
	char *jwt_key_path; /* resolved: never "" */
	char *audience, *issuer;
	long long access_ttl_s, refresh_ttl_s;
	char *admin_username;
	char *admin_password_file; /* "" = generate the first admin's password */

	/* [fleet] */
	bool fleet_enabled;                /* false: no monitor thread (tests of the API alone) */
	long long fleet_poll_interval_s;   /* 1..FLEET_POLL_INTERVAL_MAX_S */
	long long fleet_jitter_pct;        /* each next poll at interval +- this percentage */
	long long fleet_offline_after;     /* consecutive failures before "offline" */
	long long fleet_backoff_max_s;     /* resolved: never 0 */
	long long fleet_attest_interval_s; /* evidence re-fetched this often */
	long long fleet_max_concurrent;
	/* Intel collateral for TDX evidence (attest/tdx_dir.h layout); "" = TDX evidence refused.
	 * Re-read by the monitor when the directory changes (FLEET_TDX_RELOAD_S at the latest). */
	char *fleet_tdx_collateral_dir;
};

struct server_settings_overrides {
	const char *listen_addr;
	const char *state_dir;
	const char *database;
};

/* Loads path (NULL: defaults only), applies the overrides and resolves the derived paths. On
 * error returns NULL and writes "file:line: message" (or "settings: message") into err. */
struct server_settings *server_settings_load(const char *path,
					     const struct server_settings_overrides *ov, char *err,
					     size_t errlen);
void server_settings_free(struct server_settings *s);

#endif
