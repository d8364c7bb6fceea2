/*
 * fuzz_nvsmi_query.c - libFuzzer harness for the `nvidia-smi -q` text parser: parse arbitrary
 * bytes, check the report's invariants (a damaged input keeps what it recovered, any other
 * failure leaves it empty), render whatever was recovered as JSON, then free everything.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nvsmi.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvsmi_report r;
	char err[512];
	int rc = nvsmi_parse_query((const char *)data, size, &r, err, sizeof(err));
	if (!util_utf8_valid(err, strlen(err)) || r.ngpus > NVSMI_MAX_GPUS ||
	    (rc != 0 && rc != -EPROTO && r.ngpus != 0) || (rc == -EPROTO && err[0] == '\0'))
		__builtin_trap();
	for (size_t i = 0; i < r.ngpus; i++)
		if (r.gpus[i].nprocs > NVSMI_MAX_PROCESSES || r.gpus[i].index != (int)i)
			__builtin_trap();
	if (rc == 0 || rc == -EPROTO) {
		json_t *j = nvsmi_report_json(&r);
		json_decref(j);
	}
	nvsmi_report_done(&r);
	return 0;
}
