/*
 * main.c - cloisterd, the control plane. This first version is its skeleton on the shared
 * library: flags, structured logging, the HTTP server with its limits, and GET /health; users,
 * tokens, the backends registry, storage and the fleet arrive with the control-plane issues
 * (DESIGN.md). It already runs under the same hardening as the agent and is tested as such.
 *
 *   cloisterd [--listen-addr HOST:PORT]
 */
#include "http/server.h"
#include "log.h"
#include "version.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define CLOISTERD_LISTEN_DEFAULT "127.0.0.1:8080"

static void handle_health(struct http_req *req)
{
	http_reply_json(req, 200,
			json_pack("{s:s,s:s}", "status", "ok", "version", CLOISTER_VERSION));
}

static void http_log(void *app, const char *msg)
{
	(void)app;
	log_kv(CLOG_WARN, "http", "detail", msg, NULL);
}

static const struct http_route routes[] = {
	{ HTTP_GET, "/health", handle_health },
};

int main(int argc, char **argv)
{
	const char *listen_addr = CLOISTERD_LISTEN_DEFAULT;
	static const struct option longopts[] = {
		{ "listen-addr", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "l:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen_addr = optarg;
			break;
		case 'V':
			printf("cloisterd %s\n", CLOISTER_VERSION);
			return 0;
		case 'h':
			printf("usage: cloisterd [--listen-addr HOST:PORT] (default %s)\n",
			       CLOISTERD_LISTEN_DEFAULT);
			return 0;
		default:
			fprintf(stderr, "usage: cloisterd [--listen-addr HOST:PORT]\n");
			return 2;
		}
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_setup("cloisterd", false, false);

	char err[256];
	struct http_server_opts o = {
		.listen_addr = listen_addr,
		.routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.log = http_log,
	};
	struct http_server *s = http_server_start(&o, err, sizeof(err));
	if (!s) {
		log_kv(CLOG_ERROR, "cannot start", "error", err, NULL);
		return 1;
	}
	char port[16];
	snprintf(port, sizeof(port), "%u", http_server_port(s));
	log_kv(CLOG_INFO, "listening", "addr", listen_addr, "port", port, "version",
	       CLOISTER_VERSION, NULL);
	int sig = 0;
	sigwait(&set, &sig);
	log_kv(CLOG_INFO, "stopping", "signal", strsignal(sig), NULL);
	http_server_stop(s);
	return 0;
}
