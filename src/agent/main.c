/*
 * main.c - cloister-agent: the operator API inside a confidential VM.
 *
 * Start-up order: settings (refuse to start on any config error), basic-auth secret, TLS
 * material (and its public key for attestation), event log (persisted file), HTTP server,
 * named pipe. SIGTERM/SIGINT stop the server (finishing running actions) and the pipe reader,
 * then flush the event log.
 *
 *   cloister-agent [--config FILE] [--listen-addr ADDR] [--pipe-file PATH] [-n]
 *
 * -n checks the configuration (and TLS material, and the secret file) and exits: 0 when valid.
 */
#include "agent/agent.h"
#include "agent/attestation.h"
#include "agent/auth.h"
#include "agent/crl.h"
#include "agent/limits.h"
#include "agent/metrics.h"
#include "agent/pipe.h"
#include "agent/status.h"
#include "agent/tls.h"
#include "log.h"
#include "memo.h"
#include "secret.h"
#include "version.h"
#include "x509.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: cloister-agent [--config FILE] [--listen-addr HOST:PORT] [--pipe-file "
		   "PATH] [-n]\n"
		   "  --config FILE        systemapi-config.toml (flashbots system-api format + "
		   "[cloister])\n"
		   "  --listen-addr ADDR   overrides [general] listen_addr\n"
		   "  --pipe-file PATH     overrides [general] pipe_file\n"
		   "  -n, --check          check the configuration and exit\n"
		   "  --version            print the version\n");
}

static void on_pipe_line(void *ud, const char *msg, size_t len)
{
	struct agent *a = ud;
	if (events_append(a->events, msg, len, NULL) == 0)
		metrics_event(a, "pipe");
}

static void on_pipe_batch(void *ud)
{
	struct agent *a = ud;
	events_sync(a->events);
}

static void http_log(void *app, const char *msg)
{
	(void)app;
	log_kv(CLOG_WARN, "http", "detail", msg, NULL);
}

static int wait_for_signal(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	int sig = 0;
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			return -1;
		if (sig == SIGHUP)
			continue; /* reserved for reloads; never fatal */
		return sig;
	}
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	struct settings_overrides ov = { 0 };
	bool check_only = false;
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen-addr", required_argument, NULL, 'l' },
		{ "pipe-file", required_argument, NULL, 'p' },
		{ "check", no_argument, NULL, 'n' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:l:p:nh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'l':
			ov.listen_addr = optarg;
			break;
		case 'p':
			ov.pipe_file = optarg;
			break;
		case 'n':
			check_only = true;
			break;
		case 'V':
			printf("cloister-agent %s\n", CLOISTER_VERSION);
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

	/* One malloc arena per thread would keep a few hundred KiB of freed memory per server
	 * thread resident; the agent's allocations are small and short, so two arenas suffice. */
	mallopt(M_ARENA_MAX, 2);

	/* Block the signals we wait for before any thread starts, so they all inherit the mask;
	 * ignore SIGPIPE (a client closing mid-reply must not kill us). */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	char err[512] = "";
	struct settings *cfg = settings_load(config_path, &ov, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "cloister-agent: %s\n", err);
		return 1;
	}
	log_setup("cloister-agent", cfg->log_json, cfg->log_debug);
	if (secret_init() < 0) {
		log_kv(CLOG_ERROR, "libsodium initialisation failed", NULL);
		settings_free(cfg);
		return 1;
	}

	int status = 1;
	struct agent a = { .cfg = cfg };
	pthread_mutex_init(&a.lock, NULL);
	pthread_mutex_init(&a.render_lock, NULL);
	pthread_mutex_init(&a.gpu.mu, NULL);
	char *cert = NULL, *key = NULL;
	struct agent_crl *crl = NULL;

	a.auth = auth_new(cfg->basic_auth_secret_path, cfg->basic_auth_secret_salt,
			  cfg->auth_allow_first_secret_over_network, check_only, err, sizeof(err));
	if (!a.auth) {
		log_kv(CLOG_ERROR, "basic auth", "error", err, NULL);
		goto out;
	}
	if (cfg->tls_enabled) {
		bool renewed = false;
		if (agent_tls_load(cfg, check_only, &cert, &key, &renewed, err, sizeof(err)) < 0) {
			log_kv(CLOG_ERROR, "tls", "error", err, NULL);
			goto out;
		}
		if (renewed && !check_only)
			log_kv(CLOG_INFO, "generated a self-signed TLS certificate", "cert",
			       cfg->tls_cert_path, "key", cfg->tls_key_path, NULL);
		/* A CRL fetched from cloisterd: the first copy before the server can start. */
		if (!check_only && agent_crl_prefetch(cfg, err, sizeof(err)) < 0) {
			log_kv(CLOG_ERROR, "mTLS client CRL", "error", err, NULL);
			goto out;
		}
		bool crl_pending = check_only && cfg->tls_client_crl_url[0] &&
				   access(cfg->tls_client_crl_path, F_OK) != 0;
		if (cfg->tls_client_ca_path[0]) {
			struct x509_verifier *v =
				x509_verifier_new(cfg->tls_client_ca_path,
						  cfg->tls_client_crl_path[0] && !crl_pending
							  ? cfg->tls_client_crl_path
							  : NULL,
						  err, sizeof(err));
			if (!v) {
				log_kv(CLOG_ERROR, "mTLS client CA", "error", err, NULL);
				goto out;
			}
			x509_verifier_free(v);
		}
	}
	if (check_only) {
		printf("%s: configuration OK (%zu actions, %zu file uploads)\n",
		       config_path ? config_path : "(defaults)", cfg->n_actions, cfg->n_uploads);
		status = 0;
		goto out;
	}

	if (attestation_init(&a, err, sizeof(err)) < 0) {
		log_kv(CLOG_ERROR, "attestation", "error", err, NULL);
		goto out;
	}

	struct events_opts eo = {
		.path = cfg->events_file[0] ? cfg->events_file : NULL,
		.max_entries = (size_t)cfg->log_max_entries,
		.max_bytes = (size_t)cfg->events_max_bytes,
		.max_message_bytes = (size_t)cfg->event_max_bytes,
	};
	int rc = events_open(&eo, &a.events);
	if (rc < 0) {
		log_kv(CLOG_ERROR, "cannot open the event log", "file", cfg->events_file, "error",
		       strerror(-rc), NULL);
		goto out;
	}

	a.memo = memo_new(AGENT_CACHE_ENTRIES);
	if (!a.memo || metrics_init(&a) < 0) {
		log_kv(CLOG_ERROR, "out of memory", NULL);
		goto out;
	}

	size_t nroutes;
	const struct http_route *routes = routes_table(&a, &nroutes);
	struct http_tls_opts tls = {
		.cert_pem = cert,
		.key_pem = key,
		.client_ca_path = cfg->tls_client_ca_path[0] ? cfg->tls_client_ca_path : NULL,
		.client_crl_path = cfg->tls_client_crl_path[0] ? cfg->tls_client_crl_path : NULL,
		.client_require_eku = cfg->tls_client_require_eku,
		.client_cn = cfg->tls_client_cn,
	};
	long long tmo_ms = cfg->http_read_timeout_ms > cfg->http_write_timeout_ms
				   ? cfg->http_read_timeout_ms
				   : cfg->http_write_timeout_ms;
	struct http_server_opts ho = {
		.listen_addr = cfg->listen_addr,
		.routes = routes,
		.nroutes = nroutes,
		.app = &a,
		.tls = cfg->tls_enabled ? &tls : NULL,
		.conn_limit = (unsigned)cfg->max_connections,
		.per_ip_limit = (unsigned)cfg->max_connections_per_ip,
		.timeout_s = tmo_ms > 0 ? (unsigned)((tmo_ms + 999) / 1000)
					: (unsigned)cfg->connection_timeout_s,
		.threads = (unsigned)cfg->http_threads,
		.gate = auth_gate,
		.not_found = routes_not_found,
		.on_complete = metrics_http,
		.log = http_log,
	};
	a.http = http_server_start(&ho, err, sizeof(err));
	if (!a.http) {
		log_kv(CLOG_ERROR, "cannot start the HTTP server", "error", err, NULL);
		goto out;
	}
	if (agent_crl_start(cfg, a.http, &crl, err, sizeof(err)) < 0) {
		log_kv(CLOG_ERROR, "mTLS client CRL", "error", err, NULL);
		goto out;
	}
	if (cfg->pipe_file[0]) {
		rc = pipe_reader_start(cfg->pipe_file, (size_t)cfg->event_max_bytes, on_pipe_line,
				       on_pipe_batch, &a, &a.pipe);
		if (rc < 0) {
			log_kv(CLOG_ERROR, "cannot open the named pipe", "file", cfg->pipe_file,
			       "error", rc == -EEXIST ? "exists and is not a FIFO" : strerror(-rc),
			       NULL);
			goto out;
		}
	}
	a.ready = true;
	char port[16];
	snprintf(port, sizeof(port), "%u", http_server_port(a.http));
	log_kv(CLOG_INFO, "listening", "addr", cfg->listen_addr, "port", port, "tls",
	       cfg->tls_enabled ? (cfg->tls_client_ca_path[0] ? "mtls" : "on") : "off", "auth",
	       auth_enabled(a.auth) ? "on" : "off", "pipe", cfg->pipe_file, "version",
	       CLOISTER_VERSION, NULL);
	int sig = wait_for_signal();
	log_kv(CLOG_INFO, "stopping", "signal", sig > 0 ? strsignal(sig) : "?", NULL);
	status = 0;
out:
	a.ready = false;
	agent_crl_stop(crl);
	http_server_stop(a.http);
	pipe_reader_stop(a.pipe);
	if (a.events)
		events_sync(a.events);
	events_free(a.events);
	auth_free(a.auth);
	memo_free(a.memo);
	metrics_free(&a);
	attestation_done(&a);
	x509_free_secret_pem(key);
	free(cert);
	pthread_mutex_destroy(&a.lock);
	pthread_mutex_destroy(&a.render_lock);
	status_gpu_done(&a);
	pthread_mutex_destroy(&a.gpu.mu);
	free(a.render[0].buf);
	free(a.render[1].buf);
	settings_free(cfg);
	/* AGENT_EXIT_TERMINATED after POST /api/v1/terminate, so the service manager can tell a
	 * termination from a stop (the unit's RestartPreventExitStatus). */
	return terminate_exit_status(status);
}
