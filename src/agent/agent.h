/*
 * agent.h - the state of one cloister-agent process, shared by its feature modules.
 *
 * main.c builds a struct agent from the settings (settings.c), opens the event log, loads the
 * basic-auth secret and the TLS material, and starts the HTTP server with the routing table
 * from routes.c. Each feature (events, actions, uploads, auth) keeps its own state here and its
 * own lock; handlers run on the server's threads concurrently.
 */
#ifndef CLOISTER_AGENT_H
#define CLOISTER_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/events.h"
#include "agent/settings.h"
#include "http/server.h"

struct auth;
struct memo;
struct metrics;
struct nvsmi_report;

struct agent {
	struct settings *cfg;
	struct events *events;
	struct pipe_reader *pipe;
	struct auth *auth;
	struct http_server *http;
	struct memo *memo; /* status command results (TTL + single flight) */
	struct metrics *metrics;
	bool ready;

	/* Rendered full event lists (JSON, text), reused until the log changes: GET /logs and
	 * GET /api/v1/events are polled by monitors, and the log changes far less often. */
	pthread_mutex_t render_lock;
	struct {
		uint64_t first, last;
		bool valid;
		char *buf;
		size_t len;
	} render[2];

	/* attestation.c: DER SubjectPublicKeyInfo of the TLS certificate, read once at start-up
	 * (NULL without TLS); the evidence binds it. Read-only afterwards. */
	unsigned char *tls_spki;
	size_t tls_spki_len;

	/* The last parsed nvidia-smi -q -x report, reused for cache_ttl_ms: GET /gpu and every
	 * /metrics scrape would otherwise parse hundreds of KiB of XML each time. */
	struct {
		pthread_mutex_t mu;
		bool valid;
		int64_t at_ms;
		struct nvsmi_report *rep;
	} gpu;

	pthread_mutex_t lock; /* guards the counters below */
	unsigned actions_running;
	unsigned followers;
};

/* Records an event; internal ones get system-api's "[system-api] " prefix. The text is
 * sanitised (control characters replaced) and cut at the configured event size. Durable
 * (fdatasync) before it returns. Returns 0 or a negative errno. */
int agent_event(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Route handlers, one module each. */
void actions_handle(struct http_req *req);
int uploads_begin(struct http_req *req);
int uploads_chunk(struct http_req *req, const char *data, size_t len);
void uploads_finish(struct http_req *req);
void uploads_cleanup(struct http_req *req);
void events_http_new(struct http_req *req);
void events_http_list(struct http_req *req);
void events_http_logs(struct http_req *req);
/* terminate.c: POST /api/v1/terminate (mTLS only), and the exit status main returns: normal_rc,
 * or AGENT_EXIT_TERMINATED once the control plane has terminated this agent. */
void terminate_handle(struct http_req *req);
int terminate_exit_status(int normal_rc);

/* routes.c: the table and the gate. */
const struct http_route *routes_table(struct agent *a, size_t *n);
void routes_not_found(struct http_req *req);

#endif
