/*
 * fuzz_snp_certtable.c - libFuzzer harness for the SEV-SNP certificate table parser (extended
 * report / configfs-tsm auxblob): every extracted entry is read end to end so that ASan checks
 * it lies inside the input.
 */
#include <stddef.h>
#include <stdint.h>

#include "attest/snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned touch(const uint8_t *p, size_t n)
{
	unsigned s = 0;
	for (size_t i = 0; p && i < n; i++)
		s += p[i];
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_certtable t;
	volatile unsigned sink = 0;
	if (snp_certtable_parse(data, size, &t) == 0)
		sink += touch(t.vcek, t.vcek_len) + touch(t.vlek, t.vlek_len) +
			touch(t.ask, t.ask_len) + touch(t.ark, t.ark_len) + touch(t.crl, t.crl_len);
	(void)sink;
	return 0;
}
