/*
 * fuzz_nvsmi_xml.c - libFuzzer harness for the `nvidia-smi -q -x` parser: parse arbitrary bytes,
 * check the report's invariants, render it as JSON on success, then free everything.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nvsmi.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvsmi_report r;
	char err[256];
	int rc = nvsmi_parse_xml((const char *)data, size, &r, err, sizeof(err));
	if (!util_utf8_valid(err, strlen(err)) || r.ngpus > NVSMI_MAX_GPUS ||
	    (rc != 0 && r.ngpus != 0))
		__builtin_trap();
	for (size_t i = 0; i < r.ngpus; i++)
		if (r.gpus[i].nprocs > NVSMI_MAX_PROCESSES || r.gpus[i].index != (int)i)
			__builtin_trap();
	if (rc == 0) {
		json_t *j = nvsmi_report_json(&r);
		json_decref(j);
	}
	nvsmi_report_done(&r);
	return 0;
}
