/*
 * proxy.h - cloisterd's proxy to its agents (issue 7): a user's call on /backends/{id}/... is
 * forwarded over the mutual-TLS connection fleet_curl_prepare sets up to that backend's agent,
 * and the agent's reply (status, Content-Type, body) comes back unchanged.
 *
 *   GET      /backends/{id}/events?after&limit&format&follow  -> GET  /api/v1/events
 *   GET|POST /backends/{id}/actions/{name}                    -> POST /api/v1/actions/{name}
 *   POST     /backends/{id}/uploads/{name} (raw body)         -> POST /api/v1/file-upload/{name}
 *   GET      /backends/{id}/services                          -> GET  /services
 *   GET      /backends/{id}/services/{sid}/status             -> GET  /services/{sid}/status
 *   GET      /backends/{id}/services/{sid}/logs?lines&since_minutes -> .../logs
 *   GET      /backends/{id}/gpu                               -> GET  /gpu
 *   GET      /backends/{id}/overview                          -> GET  /overview
 *   GET      /backends/{id}/attestation?nonce                 -> GET  /attestation
 *
 * Who: the backend's owner or an admin; anyone else gets 404 "backend not found" (audited as
 * authz.denied), as the backends routes answer. Every call is audited as "proxy.<kind>"
 * (events, actions, uploads, services, gpu, overview, attestation) with the request path, the
 * result ("ok" for a 2xx/3xx from the agent, else "failed", "invalid", "not_found", ...) and
 * the status sent.
 * Errors of our own: agent unreachable 502 {"code":502,"message":"agent unreachable: <curl>"},
 * agent too slow 504, commands refused by the fleet (terminated, attestation failed, not
 * attested yet) 409 with fleet_curl_prepare's reason, a reply over PROXY_REPLY_MAX_BYTES 502.
 * Path names must be [A-Za-z0-9._-]{1,PROXY_NAME_MAX_BYTES} and query values are parsed and
 * re-encoded, never copied: nothing a client sends can add a path segment or a query key.
 *
 * Follow mode (events?follow=1) streams: a thread per stream runs the libcurl transfer into a
 * bounded ring (PROXY_FOLLOW_RING_BYTES) that the HTTP stream drains; a full ring holds the
 * transfer back, a client that goes away aborts it. At most PROXY_FOLLOW_MAX at once (503).
 * Between events (at a line boundary) an idle stream sends an empty line every
 * PROXY_FOLLOW_KEEPALIVE_MS: NDJSON readers skip it, and it is how a closed client is noticed.
 * Uploads are spooled to an unlinked 0600 file under <state_dir>/spool as the body arrives
 * (nothing is sent to the agent before the whole body is here and within PROXY_UPLOAD_MAX_BYTES:
 * 413 otherwise), then streamed from that file.
 *
 * Thread safety: every handler runs on any HTTP thread; the follow-stream count and the shared
 * libcurl connection cache are locked. proxy_stop must run after http_server_stop (the streams
 * are over) and before the store closes.
 */
#ifndef CLOISTER_SERVER_PROXY_H
#define CLOISTER_SERVER_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

#define PROXY_REPLY_MAX_BYTES (16u << 20)   /* an agent reply passed through */
#define PROXY_UPLOAD_MAX_BYTES (64u << 20)  /* an upload body */
#define PROXY_FOLLOW_RING_BYTES (64u << 10) /* bytes buffered per follow stream */
#define PROXY_FOLLOW_MAX 64                 /* proxied follow streams at once */
#define PROXY_NAME_MAX_BYTES 128            /* action, upload and service names */
#define PROXY_NONCE_MAX_BYTES 64            /* attestation nonce (hex: twice as many chars) */
#define PROXY_CONNECT_TIMEOUT_S 10          /* TCP + TLS to the agent */
#define PROXY_TRANSFER_TIMEOUT_S 300        /* whole call (actions may run long); not follow */
#define PROXY_FOLLOW_START_TIMEOUT_S 20     /* until the agent's reply headers arrive */
#define PROXY_FOLLOW_KEEPALIVE_MS 2000      /* an idle stream sends an empty line this often */
#define PROXY_STOP_WAIT_MS 5000             /* proxy_stop waits this long for streams */

/* Route handlers (their table lines are in routes.c). */
void api_proxy_events(struct http_req *req);
void api_proxy_action(struct http_req *req);
void api_proxy_services(struct http_req *req);
void api_proxy_service_status(struct http_req *req);
void api_proxy_service_logs(struct http_req *req);
void api_proxy_gpu(struct http_req *req);
void api_proxy_overview(struct http_req *req);
void api_proxy_attestation(struct http_req *req);
/* POST /backends/{id}/uploads/{name}: HTTP_BODY_STREAM with these three and the handler. */
int api_proxy_upload_begin(struct http_req *req);
int api_proxy_upload_chunk(struct http_req *req, const char *data, size_t len);
void api_proxy_upload(struct http_req *req);
void api_proxy_upload_cleanup(struct http_req *req);

/* Waits (at most PROXY_STOP_WAIT_MS) for the follow-stream threads to end and frees the shared
 * connection cache. Call after http_server_stop, before the store closes. */
void proxy_stop(void);

/* An action, upload or service name: 1..PROXY_NAME_MAX_BYTES of [A-Za-z0-9._-], not "." or
 * "..". Pure. */
bool proxy_name_valid(const char *s);

#endif
