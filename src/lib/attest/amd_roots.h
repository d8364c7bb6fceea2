/*
 * attest/amd_roots.h - the AMD SEV-SNP certificates pinned in the binary: the ARK (root) of
 * each product (Milan, Genoa, Turin) and the intermediates signed by it, the ASK (for VCEKs)
 * and the ASVK (for VLEKs).
 *
 * Users: attest/snp.c only. Only an ARK listed here (or a test root passed explicitly in
 * snp_chain_opts.test_roots) ends a trusted chain; the pinned ASK/ASVK are merely the
 * intermediates used when a caller supplies a leaf certificate without its CA chain, and are
 * verified against the pinned ARK like any supplied intermediate.
 *
 * The PEM texts are public data published by AMD's Key Distribution Service
 * (https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/cert_chain and
 * /vlek/v1/{product}/cert_chain), copied from the test data in shared/testdata/snp/amd_roots/
 * (go-sev-guest verify/trust/ask_ark_{milan,genoa,turin}*.pem and trustee
 * {milan,genoa,turin}_ask_ark_asvk.pem; byte-identical). The unit test checks the SHA-256
 * of each DER against those files.
 *
 * Ownership: static constant data. Thread safety: read-only.
 */
#ifndef CLOISTER_ATTEST_AMD_ROOTS_H
#define CLOISTER_ATTEST_AMD_ROOTS_H

#include "attest/snp.h"

enum amd_cert_kind { AMD_CERT_ARK, AMD_CERT_ASK, AMD_CERT_ASVK };

struct amd_cert {
	enum snp_product product;
	enum amd_cert_kind kind;
	const char *cn;  /* subject commonName: "ARK-Milan", "SEV-Milan", "SEV-VLEK-Milan" */
	const char *pem; /* one certificate, PEM */
};

#define AMD_CERTS_COUNT 9 /* 3 products x (ARK, ASK, ASVK) */
extern const struct amd_cert amd_certs[AMD_CERTS_COUNT];

#endif
