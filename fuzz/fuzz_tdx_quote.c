/*
 * fuzz_tdx_quote.c - libFuzzer harness for the Intel TDX quote parser: the input is tried as
 * raw quote bytes and as text (hex or base64); a quote that parses has its embedded PCK
 * certificate chain loaded and checked against an empty collateral (PEM/DER parsing, names,
 * the pinned root), everything freed again.
 */
#include <stddef.h>
#include <stdint.h>

#include "attest/tdx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_quote q;
	char err[256];
	volatile unsigned sink = 0;
	if (tdx_quote_parse(data, size, &q, err, sizeof(err)) == 0) {
		static const struct tdx_collateral_opts none;
		struct tdx_verdict v;
		struct tdx_collateral *c = tdx_collateral_new(&none, &v);
		if (c) {
			struct tdx_chain *ch = tdx_chain_new(&q, c, &v);
			sink += (unsigned)v.reason;
			tdx_chain_free(ch);
			tdx_collateral_free(c);
		}
		sink += q.raw[q.quote_len - 1] + (unsigned)tdx_quote_sniff(q.raw, q.quote_len);
		tdx_quote_done(&q);
	}
	if (tdx_quote_parse_text((const char *)data, size, &q, err, sizeof(err)) == 0) {
		sink += q.version;
		tdx_quote_done(&q);
	}
	(void)sink;
	return 0;
}
