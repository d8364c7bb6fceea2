/*
 * fuzz_policy.c - libFuzzer harness for the SEV-SNP policy parser: parse arbitrary bytes and,
 * when they form a policy, list its present-but-invalid fields and evaluate it against a fixed
 * report (every check's formatting runs on fuzzer-chosen values), then free everything.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "attest/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[SNP_POLICY_ERR_BYTES];
	struct snp_policy *p = snp_policy_parse((const char *)data, size, err, sizeof(err));
	if (!p) {
		if (!memchr(err, '\0', sizeof(err)))
			__builtin_trap();
		return 0;
	}
	char probs[SNP_POLICY_PROBLEMS_BYTES];
	size_t np = snp_policy_problems(p, probs, sizeof(probs));
	if ((np == 0) != (probs[0] == '\0') || !memchr(probs, '\0', sizeof(probs)))
		__builtin_trap();
	static struct snp_report r;
	memset(&r, 0, sizeof(r));
	r.version = 3;
	r.policy = 0x30000;
	r.cpuid_fam_id = 0x19;
	r.reported_tcb = r.current_tcb = r.committed_tcb = r.launch_tcb = 0x7308000000000003ull;
	memset(r.report_id_ma, 0xff, sizeof(r.report_id_ma));
	bool pass = false;
	json_t *v = snp_policy_evaluate(p, &r, NULL, &pass);
	if (v && json_is_true(json_object_get(v, "verified")) != pass)
		__builtin_trap();
	json_decref(v);
	snp_policy_free(p);
	return 0;
}
