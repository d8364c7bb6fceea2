/*
 * fuzz_snp_report.c - libFuzzer harness for the SEV-SNP report parser: the input is tried as
 * raw bytes (a 1184-byte report or an Azure HCL report) and as text (hex or base64).
 */
#include <stddef.h>
#include <stdint.h>

#include "attest/snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_report r;
	char err[256];
	volatile unsigned sink = 0;
	if (snp_report_parse(data, size, &r, err, sizeof(err)) == 0) {
		struct snp_tcb t = snp_tcb_decode(r.reported_tcb, SNP_PRODUCT_TURIN);
		sink += t.fmc + (unsigned)snp_report_signer(&r) + r.raw[SNP_REPORT_BYTES - 1];
	}
	if (snp_report_parse_text((const char *)data, size, &r, err, sizeof(err)) == 0)
		sink += r.version;
	(void)sink;
	return 0;
}
