/*
 * evidence.h - verification of an agent's attestation evidence by cloisterd (issue 7): the JSON
 * the agent returns for GET /attestation?nonce=<hex> (src/agent/attestation.c documents it),
 * checked against the backend's policy file (the backend-information JSON) and bound to the
 * agent's TLS key: report_data must equal SHA-512(SPKI DER || nonce) for the nonce cloisterd
 * sent and the SPKI of the certificate the agent presented on that connection.
 *
 * SEV-SNP: the report verifies with the VCEK/VLEK from the evidence's "certs" (up to the AMD
 * roots pinned in the binary, plus test roots only when the caller passes them), then the policy
 * (snp_policy_*) with report_data forced to the expected binding. A policy with
 * "allow_unattested": true accepts provider "none" evidence (development; the backend is
 * reported "unattested" by the caller).
 *
 * Intel TDX: the base64 "report" is the quote (tdx_quote_parse); it is verified against the
 * Intel collateral the caller loaded (o->tdx_collateral, from [fleet] tdx_collateral_dir: TCB
 * info, QE identity, CRLs, up to the pinned Intel SGX Root CA or the collateral's test roots),
 * then the policy's "tdx_policy" (tdx_policy_evaluate) with REPORTDATA forced to the binding.
 * Without collateral, TDX evidence is refused by name: cloisterd never fetches from Intel.
 *
 * Pure function of its inputs (plus the clock in o->now): no I/O, thread-safe.
 */
#ifndef CLOISTER_SERVER_EVIDENCE_H
#define CLOISTER_SERVER_EVIDENCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVIDENCE_MAX_BYTES (256u * 1024) /* the agent's JSON reply */

enum evidence_result {
	EVIDENCE_OK = 0,         /* verified and the policy holds */
	EVIDENCE_UNATTESTED = 1, /* provider "none" accepted by "allow_unattested": true */
	EVIDENCE_REFUSED = -1,   /* a check failed: err names it */
	EVIDENCE_MALFORMED = -2, /* the reply or the policy cannot be used */
};

struct tdx_collateral;

struct evidence_opts {
	int64_t now;               /* Unix seconds, for certificate and collateral validity */
	const uint8_t *test_roots; /* SEV-SNP, tests only (see snp.h): NULL in production */
	size_t test_roots_len;
	/* Intel TDX: the collateral (tdx_collateral_new; shared, read only); NULL: TDX evidence
	 * is refused. Its test roots, if any, are the collateral's own (tests only). */
	const struct tdx_collateral *tdx_collateral;
};

/* err (may be NULL) receives "<check>: <why>" naming the first failing check ("nonce: ...",
 * "report_data: ...", "signature_and_chain: unknown_root: ...", "measurement: ... (report:
 * <hex>)"), "" on success; it quotes no bytes of the agent's reply. *verdict (may be NULL) is
 * set only for EVIDENCE_OK: snp_policy_evaluate's (or tdx_policy_evaluate's) JSON plus "binding":"ok" (caller json_decref);
 * it is NULL for every other result. When the evidence carries no ASK, the test roots (which
 * hold the test ASK as well as the ARK) stand in as the intermediate chain. */
int evidence_verify(const char *body, size_t body_len, const char *policy, size_t policy_len,
		    const unsigned char *spki_der, size_t spki_len, const unsigned char *nonce,
		    size_t nonce_len, const struct evidence_opts *o, char *err, size_t errlen,
		    json_t **verdict);

#endif
