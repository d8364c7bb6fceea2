/*
 * attest/intel_roots.h - the Intel SGX Root CA, pinned in the binary: the only certificate that
 * ends a trusted Intel TDX chain (the PCK certificate chain embedded in a quote, and the issuer
 * chains of the TCB info, QE identity and CRL collateral).
 *
 * Users: attest/tdx.c only. A chain ends in this root when its self-signed top certificate has
 * the same DER or the same SubjectPublicKeyInfo (or when the caller passed a test root
 * explicitly in tdx_collateral_opts.test_roots, which only the unit tests do).
 *
 * The DER is Intel's public root certificate; the unit test checks its SHA-256 against
 * shared/testdata/tdx/intel_roots/ and against intel_sgx_root_ca_sha256_hex.
 *
 * Ownership: static constant data. Thread safety: read-only.
 */
#ifndef CLOISTER_ATTEST_INTEL_ROOTS_H
#define CLOISTER_ATTEST_INTEL_ROOTS_H

#include <stdint.h>

#define INTEL_SGX_ROOT_CA_DER_BYTES 659
#define INTEL_SGX_ROOT_CA_CN "Intel SGX Root CA"

extern const uint8_t intel_sgx_root_ca_der[INTEL_SGX_ROOT_CA_DER_BYTES];
/* SHA-256 of the DER, lowercase hex ("44a0196b...b674d3"), as Intel publishes it. */
extern const char intel_sgx_root_ca_sha256_hex[];

#endif
