/*
 * fuzz_tdx_collateral.c - libFuzzer harness for the Intel TDX collateral JSON: the input is
 * checked as a TCB info document ({"tcbInfo":...,"signature":...}), as a QE identity document
 * and as a dcap-qvl collateral bundle, and loaded as the TCB info of a collateral (format,
 * raw-value location, signer lookup); everything is freed again.
 */
#include <stddef.h>
#include <stdint.h>

#include "attest/tdx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	volatile int sink = 0;
	sink += tdx_tcb_info_check((const char *)data, size, err, sizeof(err));
	sink += tdx_qe_identity_check((const char *)data, size, err, sizeof(err));
	struct tdx_bundle b;
	if (tdx_bundle_parse((const char *)data, size, &b, err, sizeof(err)) == 0) {
		if (b.tcb_info)
			sink += tdx_tcb_info_check((const char *)b.tcb_info, b.tcb_info_len, err,
						   sizeof(err));
		tdx_bundle_done(&b);
	}
	struct tdx_collateral_opts o = {
		.tcb_info = { data },
		.tcb_info_len = { size },
		.n_tcb_info = 1,
		.qe_identity = data,
		.qe_identity_len = size,
		.tcb_info_chain = data,
		.tcb_info_chain_len = size,
	};
	struct tdx_verdict v;
	struct tdx_collateral *c = tdx_collateral_new(&o, &v);
	sink += (int)v.reason + (int)tdx_collateral_tcb_infos(c);
	tdx_collateral_free(c);
	(void)sink;
	return 0;
}
