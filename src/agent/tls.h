/*
 * tls.h - the agent's TLS material, as flashbots system-api handles it, plus renewal.
 *
 * tls_enabled with both files present: use them (the key must match the certificate). Only one
 * present: refuse to start. Neither: generate (tls_create_if_missing) or refuse. A certificate
 * this agent generated (self-signed, key matching) that has expired or expires within
 * AGENT_TLS_RENEW_BEFORE_S is regenerated at start-up; an operator-provided certificate is never
 * replaced, only reported. Keys are written 0600, atomically.
 * Ownership: the PEM strings are the caller's (the key wiped with x509_free_secret_pem).
 */
#ifndef CLOISTER_AGENT_TLS_H
#define CLOISTER_AGENT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/settings.h"

/* Returns 0 with *cert_pem / *key_pem set, or a negative errno with err filled. renewed tells
 * whether a new certificate was generated now. check_only: validate what exists, generate and
 * read nothing (*renewed then says a certificate would be generated). */
int agent_tls_load(const struct settings *s, bool check_only, char **cert_pem, char **key_pem,
		   bool *renewed, char *err, size_t errlen);

#endif
