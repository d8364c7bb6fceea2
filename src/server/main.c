/*
 * main.c - cloisterd, the control plane: users and tokens, the backends registry (Ultraviolet
 * Prism's API), the audit log, health and metrics, over one store (SQLite by default).
 *
 * Start-up order: settings (refuse to start on any config error), the state directory (0700),
 * the store (migrations applied), the token signing key (created 0600 on first start), the
 * first admin (when the store has no user), metrics, TLS material, the CA (created on first
 * start), the fleet monitor, the HTTP server. SIGTERM or SIGINT stops the server (replies in
 * flight finish), then the monitor, then the store is closed.
 *
 *   cloisterd [--config FILE] [--listen-addr ADDR] [--state-dir DIR] [--database URL] [-n]
 *
 * -n checks the configuration, the TLS files and an existing signing key, then exits (0 when
 * valid) without creating anything.
 */
#include "fsx.h"
#include "log.h"
#include "prom.h"
#include "secret.h"
#include "server/ca.h"
#include "server/fleet.h"
#include "server/proxy.h"
#include "server/server.h"
#include "server/settings.h"
#include "util.h"
#include "version.h"
#include "x509.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SERVER_TLS_FILE_MAX_BYTES (1024 * 1024)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cloisterd [--config FILE] [--listen-addr HOST:PORT] [--state-dir DIR] "
		"[--database URL] [-n]\n"
		"  -c, --config FILE       cloisterd.toml\n"
		"  -l, --listen-addr ADDR  overrides [server] listen_addr (default %s)\n"
		"  -s, --state-dir DIR     overrides [server] state_dir (default %s)\n"
		"  -d, --database URL      overrides [server] database (sqlite:PATH)\n"
		"  -n, --check             check the configuration and exit\n"
		"  --version               print the version\n",
		SERVER_LISTEN_DEFAULT, SERVER_STATE_DIR_DEFAULT);
}

static void http_log(void *app, const char *msg)
{
	(void)app;
	log_kv(CLOG_WARN, "http", "detail", msg, NULL);
}

static int wait_for_signal(const sigset_t *set)
{
	int sig = 0;
	for (;;) {
		if (sigwait(set, &sig) != 0)
			return -1;
		if (sig == SIGHUP)
			continue; /* reserved for reloads; never fatal */
		return sig;
	}
}

/* Creates the state directory 0700 when missing; an existing one must be a directory. */
static int state_dir_ready(const char *dir, bool check_only, char *err, size_t errlen)
{
	struct stat sb;
	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "state_dir %s is not a directory", dir);
			return -ENOTDIR;
		}
		if (sb.st_mode & 077)
			log_kv(CLOG_WARN, "state_dir is accessible to group or other", "dir", dir,
			       NULL);
		return 0;
	}
	if (errno != ENOENT || check_only) {
		int e = errno;
		if (check_only && e == ENOENT)
			return 0; /* created on the first real start */
		snprintf(err, errlen, "state_dir %s: %s", dir, strerror(e));
		return -e;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "cannot create state_dir %s: %s", dir, strerror(e));
		return -e;
	}
	return 0;
}

static int read_tls(const struct server_settings *cfg, char **cert, char **key, char *err,
		    size_t errlen)
{
	int rc = fsx_read_file(cfg->tls_cert_path, SERVER_TLS_FILE_MAX_BYTES, cert, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "tls_cert_path %s: %s", cfg->tls_cert_path, strerror(-rc));
		return rc;
	}
	rc = fsx_read_file(cfg->tls_key_path, SERVER_TLS_FILE_MAX_BYTES, key, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "tls_key_path %s: %s", cfg->tls_key_path, strerror(-rc));
		return rc;
	}
	rc = x509_key_matches_cert(cfg->tls_cert_path, cfg->tls_key_path);
	if (rc != 1) {
		snprintf(err, errlen, "tls_key_path %s does not match tls_cert_path %s",
			 cfg->tls_key_path, cfg->tls_cert_path);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	struct server_settings_overrides ov = { 0 };
	bool check_only = false;
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen-addr", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "database", required_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'n' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:l:s:d:nh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'l':
			ov.listen_addr = optarg;
			break;
		case 's':
			ov.state_dir = optarg;
			break;
		case 'd':
			ov.database = optarg;
			break;
		case 'n':
			check_only = true;
			break;
		case 'V':
			printf("cloisterd %s\n", CLOISTER_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* Per-thread malloc arenas would keep freed memory resident on every server thread; the
	 * allocations here are small and short-lived. */
	mallopt(M_ARENA_MAX, 2);

	/* Block the signals we wait for before any thread starts, so they all inherit the mask;
	 * a client closing mid-reply must not kill us. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	char err[1024] = "";
	struct server_settings *cfg = server_settings_load(config_path, &ov, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "cloisterd: %s\n", err);
		return 1;
	}
	log_setup("cloisterd", cfg->log_json, cfg->log_debug);
	if (secret_init() < 0) {
		log_kv(CLOG_ERROR, "libsodium initialisation failed", NULL);
		server_settings_free(cfg);
		return 1;
	}

	/* libcurl's global state, before any thread can use it (monitor, proxy). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_kv(CLOG_ERROR, "libcurl initialisation failed", NULL);
		server_settings_free(cfg);
		return 1;
	}
	int status = 1;
	struct server srv = { .cfg = cfg, .started_ns = util_now_ns() };
	char *cert = NULL, *key = NULL;

	if (state_dir_ready(cfg->state_dir, check_only, err, sizeof(err)) < 0) {
		log_kv(CLOG_ERROR, "state directory", "error", err, NULL);
		goto out;
	}
	if (cfg->tls_cert_path[0] && read_tls(cfg, &cert, &key, err, sizeof(err)) < 0) {
		log_kv(CLOG_ERROR, "tls", "error", err, NULL);
		goto out;
	}
	if (auth_init(&srv, check_only, err, sizeof(err)) < 0) {
		log_kv(CLOG_ERROR, "token signing key", "error", err, NULL);
		goto out;
	}
	if (check_only) {
		printf("%s: configuration OK (database %s, jwt %s key %s)\n",
		       config_path ? config_path : "(defaults)", cfg->database,
		       cfg->jwt_alg == JWT_ALG_HS256 ? "HS256" : "EdDSA", cfg->jwt_key_path);
		status = 0;
		goto out;
	}

	srv.store = store_open(cfg->database, err, sizeof(err));
	if (!srv.store) {
		log_kv(CLOG_ERROR, "cannot open the store", "database", cfg->database, "error", err,
		       NULL);
		goto out;
	}
	if (auth_bootstrap_admin(&srv, err, sizeof(err)) < 0) {
		log_kv(CLOG_ERROR, "first admin", "error", err, NULL);
		goto out;
	}
	if (routes_metrics_init(&srv) < 0 || audit_start(&srv) < 0) {
		log_kv(CLOG_ERROR, "out of memory", NULL);
		goto out;
	}
	/* The CA before the monitor: every agent connection presents its client certificate. */
	if (ca_init(&srv, err, sizeof(err)) < 0) {
		log_kv(CLOG_ERROR, "certificate authority", "error", err, NULL);
		goto out;
	}
	if (fleet_start(&srv, err, sizeof(err)) < 0) {
		log_kv(CLOG_ERROR, "cannot start the monitor", "error", err, NULL);
		goto out;
	}

	size_t nroutes;
	const struct http_route *routes = routes_table(&srv, &nroutes);
	struct http_tls_opts tls = { .cert_pem = cert, .key_pem = key };
	struct http_server_opts ho = {
		.listen_addr = cfg->listen_addr,
		.routes = routes,
		.nroutes = nroutes,
		.app = &srv,
		.tls = cert ? &tls : NULL,
		.conn_limit = (unsigned)cfg->max_connections,
		.per_ip_limit = (unsigned)cfg->max_connections_per_ip,
		.timeout_s = (unsigned)cfg->connection_timeout_s,
		.threads = (unsigned)cfg->http_threads,
		.gate = auth_gate,
		.not_found = routes_not_found,
		.on_complete = routes_on_complete,
		.log = http_log,
	};
	srv.http = http_server_start(&ho, err, sizeof(err));
	if (!srv.http) {
		log_kv(CLOG_ERROR, "cannot start the HTTP server", "error", err, NULL);
		goto out;
	}
	char port[16], schema[16];
	snprintf(port, sizeof(port), "%u", http_server_port(srv.http));
	snprintf(schema, sizeof(schema), "%d", store_schema_version(srv.store));
	log_kv(CLOG_INFO, "listening", "addr", cfg->listen_addr, "port", port, "tls",
	       cert ? "on" : "off", "store", store_kind(srv.store), "schema", schema, "jwt",
	       cfg->jwt_alg == JWT_ALG_HS256 ? "HS256" : "EdDSA", "version", CLOISTER_VERSION,
	       NULL);
	int sig = wait_for_signal(&set);
	log_kv(CLOG_INFO, "stopping", "signal", sig > 0 ? strsignal(sig) : "?", NULL);
	status = 0;
out:
	http_server_stop(srv.http);
	proxy_stop(); /* waits for follow streams, frees the shared connection cache */
	fleet_stop(&srv);
	audit_stop(&srv); /* writes the denials still queued */
	if (srv.ca)
		ca_done(&srv);
	if (srv.store)
		store_close(srv.store);
	auth_done(&srv);
	prom_free(srv.prom);
	x509_free_secret_pem(key);
	free(cert);
	server_settings_free(cfg);
	curl_global_cleanup();
	return status;
}
