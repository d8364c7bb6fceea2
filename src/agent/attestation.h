/*
 * attestation.h - cloister-agent's attestation evidence: GET /attestation?nonce=<hex>.
 *
 * The evidence binds the agent's TLS key: report_data = SHA-512(SubjectPublicKeyInfo DER of
 * the TLS certificate || nonce bytes), so a verifier that checks the evidence and then talks
 * TLS to the key it names knows it talks to this VM. Providers ([attestation] provider):
 * "configfs-tsm" (Linux configfs-tsm report interface: SEV-SNP or TDX) and "none" (development
 * only: the same binding values, no evidence, "attested": false).
 *
 * Ownership: attestation_init stores the SPKI in struct agent; attestation_done frees it.
 * Thread safety: after attestation_init everything is read-only; the handler runs on worker
 * threads concurrently (each request uses its own configfs-tsm entry). Nothing is recorded in
 * the event log (a read).
 * Limits: nonce 1..AGENT_ATTEST_NONCE_MAX_BYTES bytes; evidence sizes as in attest/tsm.h.
 */
#ifndef CLOISTER_AGENT_ATTESTATION_H
#define CLOISTER_AGENT_ATTESTATION_H

#include <stddef.h>

struct agent;
struct http_req;

/* Reads the SPKI of a->cfg->tls_cert_path when TLS is enabled (call after the TLS material is
 * loaded). Returns 0, or a negative errno with err filled. */
int attestation_init(struct agent *a, char *err, size_t errlen);
void attestation_done(struct agent *a);

/* GET /attestation (a blocking route: configfs-tsm waits for the firmware). */
void attestation_handle(struct http_req *req);

#endif
