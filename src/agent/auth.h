/*
 * auth.h - HTTP Basic auth with flashbots system-api's semantics, made safer.
 *
 * One user, "admin". The secret lives in basic_auth_secret_path: missing -> created empty (auth
 * off), empty -> auth off, a 64-hex legacy system-api hash (SHA-256(password || salt)) -> kept
 * and honoured, an argon2id string -> honoured. POST /api/v1/set-basic-auth stores a new secret
 * as argon2id, atomically, mode 0600. Once a secret is set every route needs it.
 *
 * Beyond system-api: comparisons are constant time; a verified password is remembered (as a
 * keyed BLAKE2b digest, never in clear) for AGENT_AUTH_CACHE_TTL_S so argon2id does not run on
 * every request; an address that keeps failing is told to wait (429 + Retry-After, exponential
 * up to AGENT_AUTH_BACKOFF_MAX_S) without the password being checked; setting the first secret
 * over the network can be switched off; the new hash is never written to the event log.
 *
 * Thread safety: all functions may be called from any server thread.
 */
#ifndef CLOISTER_AGENT_AUTH_H
#define CLOISTER_AGENT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct auth;
struct http_req;

/* path "" = auth impossible (set-basic-auth answers 501). Returns NULL with err on failure (an
 * unreadable or malformed secret file refuses start-up, as system-api does). check_only: never
 * create the missing file (cloister-agent -n writes nothing). */
struct auth *auth_new(const char *path, const char *legacy_salt, bool allow_first_over_network,
		      bool check_only, char *err, size_t errlen);
void auth_free(struct auth *a);
bool auth_enabled(struct auth *a);
/* The server gate: 0 to continue, or a 401/429 reply was sent and <0 returned. */
int auth_gate(struct http_req *req);
/* POST /api/v1/set-basic-auth */
void auth_handle_set(struct http_req *req);

#endif
