/*
 * attest/tdx_dir.h - reads Intel TDX collateral from a directory laid out as Intel's PCS serves
 * it, or holding dcap-qvl's collateral_bundle.json, into tdx_collateral_opts (attest/tdx.h).
 *
 * Used by `cloister attest verify --collateral DIR` and by cloisterd's monitor ([fleet]
 * tdx_collateral_dir), so both read the same files the same way:
 *   tcbinfo*.json                 TCB info per FMSPC ({"tcbInfo":...,"signature":...}), at most
 *                                 TDX_COLLATERAL_MAX_TCB_INFOS
 *   qe_identity*.json             the TD_QE identity (at most one)
 *   tcb_info_issuer_chain.pem     Intel SGX TCB Signing + Root CA
 *   qe_identity_issuer_chain.pem  (optional: the TCB info chain is used when absent)
 *   pck_crl_issuer_chain.pem      the PCK CRL's issuer chain
 *   pck_crl*.der                  PCK CRLs (platform and processor: concatenated)
 *   root_ca_crl.der               the Root CA CRL
 *   collateral_bundle.json        when present, it alone is read (tdx_bundle_parse)
 * Other names and dot files are ignored; names are taken in sorted order, so the result does
 * not depend on the directory's order. Nothing is verified here: tdx_collateral_new does that.
 *
 * Ownership: struct tdx_collateral_dir owns every blob its opts point into;
 * tdx_collateral_dir_done frees them. Not shared between threads while being filled.
 * Limits: TDX_DIR_MAX_ENTRIES directory entries looked at, TDX_DIR_MAX_BLOBS files kept,
 * TDX_JSON_MAX_BYTES per JSON document, TDX_DIR_PEM_MAX_BYTES per chain, TDX_CRL_MAX_BYTES per
 * CRL input (the PCK CRL files together), TDX_BUNDLE_MAX_BYTES for the bundle.
 */
#ifndef CLOISTER_ATTEST_TDX_DIR_H
#define CLOISTER_ATTEST_TDX_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/tdx.h"

#define TDX_DIR_MAX_ENTRIES 64
#define TDX_DIR_MAX_BLOBS 16
#define TDX_DIR_PEM_MAX_BYTES (256u * 1024) /* one issuer chain */

struct tdx_collateral_dir {
	struct tdx_collateral_opts o; /* points into blobs / bundle */
	uint8_t *blobs[TDX_DIR_MAX_BLOBS];
	size_t n_blobs;
	struct tdx_bundle bundle;
	bool have_bundle;
};

/* Reads dir into *d (zeroed first). Returns 0, or -errno with err naming the directory entry
 * and the problem ("tcbinfo_x.json: larger than 65536 bytes", "more than 8 tcbinfo*.json
 * files", "collateral_bundle.json: ..."); on failure *d holds nothing. */
int tdx_collateral_dir_read(const char *dir, struct tdx_collateral_dir *d, char *err,
			    size_t errlen);
/* Hands a malloc'd blob to d, freed by tdx_collateral_dir_done (for a caller's own extra file,
 * e.g. an issuer chain given separately). Returns 0, or -E2BIG (the blob is freed). */
int tdx_collateral_dir_adopt(struct tdx_collateral_dir *d, uint8_t *blob);
/* A one-line summary: "1 TCB info, a QE identity, a PCK CRL, a Root CA CRL". */
void tdx_collateral_dir_summary(const struct tdx_collateral_dir *d, char *buf, size_t size);
void tdx_collateral_dir_done(struct tdx_collateral_dir *d);

#endif
