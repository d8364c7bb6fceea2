/*
 * fuzz_evidence.c - libFuzzer harness for cloisterd's verification of an agent's evidence
 * (src/server/evidence.c): arbitrary bytes as the agent's GET /attestation reply, checked
 * against a fixed policy, TLS key and nonce. The corpus carries the right nonce and binding
 * (SHA-512 of the key and the nonce below), so the fuzzer gets past them to the report, the
 * certificates and the policy; a fuzzer cannot forge a report signature, so EVIDENCE_OK must
 * never come back (EVIDENCE_UNATTESTED can: the policy allows provider "none").
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/evidence.h"

static const char policy[] = "{\"snp_policy\":{\"vmpl\":{\"value\":0},\"policy\":196608},"
			     "\"root_of_trust\":{\"product\":\"Milan\",\"check_crl\":false},"
			     "\"allow_unattested\":true}";
static const unsigned char spki[] = "cloister-fuzz-spki";
static const unsigned char nonce[32] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
					 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
					 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *verdict = NULL;
	struct evidence_opts o = { .now = 1764000000 }; /* 2025-11-24 */
	int rc = evidence_verify((const char *)data, size, policy, sizeof(policy) - 1, spki,
				 sizeof(spki) - 1, nonce, sizeof(nonce), &o, err, sizeof(err),
				 &verdict);
	if (rc == EVIDENCE_OK || (rc < 0 && !memchr(err, '\0', sizeof(err))))
		__builtin_trap();
	json_decref(verdict);
	return 0;
}
