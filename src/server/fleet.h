/*
 * fleet.h - cloisterd's connection to its agents (issue 7): the monitor (one libcurl multi loop
 * on its own thread polling every backend's agent), attested connections (evidence verified
 * against the backend's policy and bound to the agent's TLS key, then the key pinned),
 * termination, and the easy-handle set-up the proxy uses to reach an agent over mutual TLS.
 *
 * Trust (DESIGN.md "Trust"): cloisterd authenticates to agents with its client certificate from
 * its own CA (ca.h). It authenticates an agent either by the agent's server certificate chaining
 * to that CA (checked against the CA's CRL: a revoked backend certificate is refused), or, for a
 * backend with a backend-information file (a policy), by its attestation: the evidence's
 * report_data must be SHA-512(agent TLS SPKI DER || fresh nonce), the report must verify and
 * satisfy the policy; that SPKI is then pinned (store_backend_pin_set) and every later
 * connection must present it (CURLOPT_PINNEDPUBLICKEY).
 *
 * Statuses: unverified (never reached), online, degraded (its /overview says so), offline
 * (unreachable, TLS refused, or failing), attested (policy satisfied, key pinned),
 * attestation_failed (evidence refused or the pinned key changed: commands refused until the
 * policy is stored again), terminated (final: not polled any more).
 *
 * Thread safety: every function may be called from any HTTP thread.
 */
#ifndef CLOISTER_SERVER_FLEET_H
#define CLOISTER_SERVER_FLEET_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/server.h"

#define FLEET_AGENT_TIMEOUT_S 10 /* a poll or an evidence fetch */
#define FLEET_TERMINATE_TIMEOUT_S 10
#define FLEET_NONCE_BYTES 32

/* Starts the monitor thread (after the store and the CA are up). */
int fleet_start(struct server *srv, char *err, size_t errlen);
/* Stops it and waits for it; NULL-safe on a server that never started it. */
void fleet_stop(struct server *srv);
/* Asks the monitor to poll this backend soon (after a create, an update, a new policy). */
void fleet_kick(struct server *srv, const char *backend_id);
/* Forgets in-memory state for a deleted backend. */
void fleet_forget(struct server *srv, const char *backend_id);

/*
 * Terminates a backend: POST /api/v1/terminate {"type","reason"} to its agent over mTLS (best
 * effort: an unreachable agent does not stop the termination), then the backend's status becomes
 * "terminated" (audited as backends.terminate with the agent's answer). type 0 = certificate
 * revocation, 1 = user initiated. 0, or -ENOENT (no such backend), -EIO (store) with err.
 * *agent_reached says whether the agent acknowledged.
 */
int fleet_terminate(struct server *srv, const char *backend_id, int type, const char *reason,
		    bool *agent_reached, char *err, size_t errlen);
/* The same on behalf of a request: a (from audit_fill: client, principal, action, resource,
 * status) is the audit record written with the status change; its result is set here ("ok", or
 * "ok: agent unreachable"). fleet_terminate audits as principal "cloisterd". */
int fleet_terminate_audited(struct server *srv, const char *backend_id, int type,
			    const char *reason, const struct store_audit *a, bool *agent_reached,
			    char *err, size_t errlen);

/*
 * Prepares easy handle h to call path_and_query ("/overview", "/api/v1/events?follow=1") on
 * backend b's agent: URL https://<address><path>, cloisterd's client certificate, the agent's
 * identity checked (CA + CRL, or the pinned key), connect and transfer timeouts left to the
 * caller. Returns 0, or -EPERM with the reason in err when commands to b are refused
 * (terminated, attestation_failed, a policy without a pinned key yet), -ENOMEM.
 */
int fleet_curl_prepare(struct server *srv, CURL *h, const struct store_backend *b,
		       const char *path_and_query, char *err, size_t errlen);

/* GET /backends/{id}/statistics?days=N (1..90, default 1): the status history. */
void api_backends_statistics(struct http_req *req);

#endif
