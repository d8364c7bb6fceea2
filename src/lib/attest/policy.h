/*
 * attest/policy.h - SEV-SNP attestation policies with go-sev-guest semantics, and their verdicts.
 *
 * A policy file is the Prism backend-information file / Cocos v0.3 backend_info.json
 * ({"snp_policy":{...},"root_of_trust":{...}}) or the Cocos v0.4+ attestation_policy.json
 * ({"policy":{...},"root_of_trust":{...},"pcr_values":{...}}). The objects are the JSON forms of
 * go-sev-guest's check.Policy and check.RootOfTrust; snp_policy_evaluate applies the field rules
 * of go-sev-guest validate.SnpAttestation to a parsed report and lists every check in a verdict.
 * Used by `cloister attest verify`, `cloister policy measurement|hostdata` and cloisterd.
 *
 * What the parser accepts (anything else is refused, naming the field: a typo must never
 * silently disable a check):
 * - Only the keys below. Duplicate keys are refused. null for any field means "absent".
 * - Byte fields: a standard base64 string, or an array of integers 0..255 (the v0.3 sample). The
 *   length is fixed (family_id/image_id 16, measurement 48, host_data 32, report_id and
 *   report_id_ma 32, chip_id 64, report_data 64); an EMPTY value ("" or []) means "unchecked",
 *   as in go-sev-guest. A value that is present but unusable - a string that is not base64, or
 *   a value of the wrong length such as Prism's 1-byte "AA==" placeholders - does NOT fail the
 *   parse: Prism hands its backend-information file out as a template that `cloister policy
 *   measurement|hostdata` (snp_policy_file_set) then fills, and it must load and be stored
 *   first. Such a field is recorded as SNP_PB_INVALID with its reason ("want 48 bytes, got 1",
 *   "not base64"); snp_policy_problems lists them, and snp_policy_evaluate FAILS its check
 *   (present means enforced: an unusable value can never pass, never turns into "unchecked").
 *   A wrong JSON type (42, {}) or an array element outside 0..255 is still a parse error, and so
 *   is any bad entry of trusted_*_key_hashes (a list, not a template placeholder).
 * - Integers: a JSON integer, or a string holding a decimal or 0x-hex number. u64 values above
 *   2^63-1 (e.g. minimum_tcb 15352208179752599555 in the Cocos samples) are accepted written in
 *   full as JSON numbers: the raw text is read before jansson sees it. Reals are refused.
 * - vmpl, platform_info, product.machine_stepping: n, {"value": n} or {} (Go's omitempty
 *   rendering of 0).
 * - policy: bit 17 must be 1 and bits 26..63 must be 0 (go-sev-guest's ParseSnpPolicy).
 * - minimum_version "maj.min" (each 0..255); "" means unchecked.
 * - trusted_author_key_hashes / trusted_id_key_hashes: arrays (at most
 *   SNP_POLICY_MAX_KEY_HASHES) of 48-byte values; an all-zero entry is refused, because a zero
 *   ID_KEY_DIGEST means "no ID block" and would otherwise count as trusted.
 *   trusted_author_keys / trusted_id_keys (certificates) and root_of_trust.cabundles /
 *   cabundle_paths are not supported: only empty values are accepted (the AMD roots are pinned).
 * - product: policy.product {"name": 1|2|3 or "SEV_PRODUCT_MILAN"...}, root_of_trust.product
 *   ("Milan", "Genoa", "Turin", optionally with a stepping suffix "-B0") and product_line; when
 *   several are given they must agree. The product selects the TCB_VERSION layout (Turin differs)
 *   and must match the report/chain product when that is known.
 * - pcr_values (vTPM, Cocos v0.8) is accepted and ignored; top-level "allow_unattested" (bool,
 *   DESIGN.md: the `none` evidence provider) is recorded for the caller and not used here.
 * - "tdx_policy" (an object, or null) is the Intel TDX section (attest/tdx.h, tdx_policy_parse):
 *   snp_policy_parse only checks that it is an object and otherwise ignores it, and still
 *   refuses a file without an SNP section. attest_policy_parse reads a file with either or
 *   both sections and says which it holds.
 *
 * Semantics (snp_policy_evaluate): a field present in the file is enforced, zeros included; an
 * absent one is reported as "skipped"; a present-but-invalid byte field fails, with a detail
 * that says how to fill it. Exceptions that are always enforced: DEBUG and MIGRATE_MA.
 * As in go-sev-guest, the permission for both IS the policy field's bit (19 DEBUG, 18 MIGRATE_MA):
 * a report with either bit set fails unless "policy" is present with that bit set; there is no
 * separate allow_debug key. The policy field is a maximum: ABI major.minor of the report >= the
 * policy's; SMT, CXL_ALLOW may be 1 in the report only if 1 in the policy; SINGLE_SOCKET,
 * MEM_AES_256_XTS, RAPL_DIS, CIPHERTEXT_HIDING, PAGE_SWAP_DISABLE must be 1 in the report if 1 in
 * the policy. platform_info: TSME_EN, SMT_EN and the bits this code does not know may be 1 in
 * the report only if 1 in the policy; ECC_EN, RAPL_DIS, CIPHERTEXT_HIDING_EN and
 * ALIAS_CHECK_COMPLETE must be 1 in the report if 1 in the policy (go-sev-guest). The checks that
 * compare the report with the VCEK (CHIP_ID vs hwID, REPORTED_TCB vs the certificate TCB) belong
 * to snp_verify_report and enter the verdict through chain_verdict.
 *
 * Ownership: snp_policy_parse returns a policy the caller frees with snp_policy_free; the
 * struct is public for reading (the CLI reads root_of_trust), but only this module writes it.
 * snp_policy_evaluate returns a new JSON reference (caller json_decref).
 * Thread safety: a parsed policy may be evaluated by several threads at once; set_report_data
 * writes to it.
 * Limits: SNP_POLICY_MAX_BYTES per file, SNP_POLICY_MAX_KEY_HASHES per hash list.
 */
#ifndef CLOISTER_ATTEST_POLICY_H
#define CLOISTER_ATTEST_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snp.h"
#include "tdx.h"

#define SNP_POLICY_MAX_BYTES (64u * 1024)
#define SNP_POLICY_MAX_KEY_HASHES 64
#define SNP_POLICY_ERR_BYTES 256 /* an err buffer of this size never truncates a message */
/* A snp_policy_problems buffer of this size never truncates the list (8 fields at most). */
#define SNP_POLICY_PROBLEMS_BYTES 512

/* Guest POLICY bits (report offset 0x008, and the policy file's "policy"). */
#define SNP_POLICY_ABI_MINOR_MASK 0xffull
#define SNP_POLICY_ABI_MAJOR_SHIFT 8
#define SNP_POLICY_SMT (1ull << 16)
#define SNP_POLICY_RESERVED_ONE (1ull << 17)
#define SNP_POLICY_MIGRATE_MA (1ull << 18)
#define SNP_POLICY_DEBUG (1ull << 19)
#define SNP_POLICY_SINGLE_SOCKET (1ull << 20)
#define SNP_POLICY_CXL_ALLOW (1ull << 21)
#define SNP_POLICY_MEM_AES_256_XTS (1ull << 22)
#define SNP_POLICY_RAPL_DIS (1ull << 23)
#define SNP_POLICY_CIPHERTEXT_HIDING (1ull << 24)
#define SNP_POLICY_PAGE_SWAP_DISABLE (1ull << 25)
#define SNP_POLICY_MBZ_MASK (~((1ull << 26) - 1))

/* PLATFORM_INFO bits (report offset 0x040). */
#define SNP_PLATFORM_SMT_EN (1ull << 0)
#define SNP_PLATFORM_TSME_EN (1ull << 1)
#define SNP_PLATFORM_ECC_EN (1ull << 2)
#define SNP_PLATFORM_RAPL_DIS (1ull << 3)
#define SNP_PLATFORM_CIPHERTEXT_HIDING_EN (1ull << 4)
#define SNP_PLATFORM_ALIAS_CHECK_COMPLETE (1ull << 5)
/* Bits a policy requires when set; every other bit is a maximum. */
#define SNP_PLATFORM_REQUIRED_BITS                                                                 \
	(SNP_PLATFORM_ECC_EN | SNP_PLATFORM_RAPL_DIS | SNP_PLATFORM_CIPHERTEXT_HIDING_EN |         \
	 SNP_PLATFORM_ALIAS_CHECK_COMPLETE)

/* An exact-match byte field: absent (skipped), empty (skipped, as go-sev-guest), set, or
 * present but unusable (not base64 / wrong length: its check always fails). */
enum snp_policy_bytes_state { SNP_PB_ABSENT = 0, SNP_PB_EMPTY, SNP_PB_SET, SNP_PB_INVALID };
struct snp_policy_bytes {
	enum snp_policy_bytes_state state;
	uint8_t v[64]; /* SET: the value (the field fixes its length); all zero otherwise */
	long got;      /* INVALID: the decoded length in bytes, or -1 when not base64 */
	char why[40];  /* INVALID: "want 48 bytes, got 1" or "not base64"; "" otherwise */
};

struct snp_policy {
	bool v4_form; /* top-level key was "policy" (Cocos v0.4+), not "snp_policy" */

	bool has_policy, has_minimum_guest_svn, has_minimum_tcb, has_minimum_launch_tcb;
	bool has_minimum_build, has_minimum_version, has_vmpl, has_platform_info;
	bool has_permit_provisional_firmware, has_require_author_key, has_require_id_block;
	uint64_t policy;
	uint32_t minimum_guest_svn;
	uint64_t minimum_tcb, minimum_launch_tcb;
	uint8_t minimum_build;
	uint8_t minimum_major, minimum_minor; /* minimum_version */
	uint32_t vmpl;
	uint64_t platform_info;
	bool permit_provisional_firmware, require_author_key, require_id_block;

	struct snp_policy_bytes family_id, image_id, measurement, host_data, report_id,
		report_id_ma, chip_id, report_data;
	bool report_data_from_verifier; /* set by snp_policy_set_report_data */

	uint8_t (*trusted_author_key_hashes)[48];
	size_t n_trusted_author_key_hashes;
	uint8_t (*trusted_id_key_hashes)[48];
	size_t n_trusted_id_key_hashes;

	/* Expected product from policy.product / root_of_trust.product(_line); UNKNOWN if none. */
	enum snp_product product;
	bool has_machine_stepping;
	uint8_t machine_stepping;

	/* root_of_trust: for the caller (which CRL to require, whether to fetch). */
	bool has_root_of_trust;
	bool check_crl, disallow_network;
	char rot_product[32], rot_product_line[32]; /* as written ("" when absent) */

	bool allow_unattested; /* top-level "allow_unattested" (DESIGN.md), default false */
};

/*
 * Parses a policy file (len bytes, need not be NUL-terminated; at most SNP_POLICY_MAX_BYTES).
 * Returns a new policy (err set to ""), or NULL with err filled ("snp_policy.vmpl: 4 is out of
 * range 0..3") and errno set (EINVAL malformed, E2BIG over the limit, ENOMEM). A returned policy
 * may still hold present-but-invalid byte fields: see snp_policy_problems.
 */
struct snp_policy *snp_policy_parse(const char *json, size_t len, char *err, size_t errlen);
void snp_policy_free(struct snp_policy *p);

/*
 * Counts the byte fields of p that are present but invalid (SNP_PB_INVALID) - each one fails
 * its check in snp_policy_evaluate - and lists them in buf (may be NULL when cap is 0) as one
 * line, "snp_policy.family_id: want 16 bytes, got 1; snp_policy.chip_id: not base64", in check
 * order; "" when there are none. buf is always NUL-terminated when cap > 0; a buffer of
 * SNP_POLICY_PROBLEMS_BYTES never truncates. For cloisterd to warn when a policy is stored.
 * Returns 0 for a NULL p.
 */
size_t snp_policy_problems(const struct snp_policy *p, char *buf, size_t cap);

/* The verifier's expected REPORT_DATA (the aTLS binding): overrides the file's report_data
 * (an invalid one included: it is then no longer a problem) and is enforced. Returns 0, or
 * -EINVAL for NULL arguments. */
int snp_policy_set_report_data(struct snp_policy *p, const uint8_t rd[64]);

/*
 * Evaluates every check of p against r and returns the verdict (caller json_decref):
 *   {"verified": bool, "checks": [{"name": "measurement", "result": "pass|fail|skipped",
 *    "expected": "...", "actual": "...", "detail": "..."}, ...]}
 * expected/actual appear where a value is compared (hex for bytes, 0x-hex or decimal numbers).
 * chain_verdict (may be NULL: "skipped") is the result of snp_verify*; it is the first check,
 * "signature_and_chain", and its product is the actual product when known. Check names, in
 * order: signature_and_chain, product, debug, migration_agent, policy, guest_svn, family_id,
 * image_id, measurement, host_data, report_id, report_id_ma, chip_id, report_data, minimum_tcb,
 * minimum_launch_tcb, minimum_build, minimum_version, provisional_firmware, vmpl, platform_info,
 * author_key, id_block. A present-but-invalid byte field's check is "fail" with no "expected"
 * and a detail such as "measurement in the policy is not a 48-byte value (got 1 byte): fill it
 * with `cloister policy measurement`". *pass (may be NULL) is true only when no check failed.
 * Returns NULL on ENOMEM (and *pass = false).
 */
json_t *snp_policy_evaluate(const struct snp_policy *p, const struct snp_report *r,
			    const struct snp_verdict *chain_verdict, bool *pass);

/*
 * A policy file with its SEV-SNP section ("snp_policy" or "policy"), its Intel TDX section
 * ("tdx_policy"), or both: attest_policy_parse reads each section that exists with
 * snp_policy_parse / tdx_policy_parse (so a problem in either fails the parse, named as those
 * parsers name it) and refuses a file with neither. sections says which exist
 * (ATTEST_POLICY_SNP | ATTEST_POLICY_TDX); the member of a missing one is NULL. Returns NULL with
 * err and errno set (EINVAL, E2BIG past SNP_POLICY_MAX_BYTES, ENOMEM). Free with
 * attest_policy_free (NULL accepted).
 */
#define ATTEST_POLICY_SNP 1u
#define ATTEST_POLICY_TDX 2u
struct attest_policy {
	unsigned sections;
	struct snp_policy *snp;
	struct tdx_policy *tdx;
	bool allow_unattested; /* the file's top-level "allow_unattested" */
};
struct attest_policy *attest_policy_parse(const char *json, size_t len, char *err, size_t errlen);
void attest_policy_free(struct attest_policy *p);

/* The policy file as JSON, as both parsers read it: at most SNP_POLICY_MAX_BYTES, integers above
 * INT64_MAX turned into strings of the same digits, duplicate keys refused, an object at the top.
 * Returns a new reference (caller json_decref), or NULL with err and errno set. */
json_t *attest_policy_load_json(const char *json, size_t len, char *err, size_t errlen);

/*
 * cocos-cli `policy measurement|hostdata <base64> <file>`: field is "measurement" (48 bytes) or
 * "hostdata"/"host_data" (32 bytes). Decodes b64 (standard base64), checks the length, and sets
 * the field inside the file's "policy" or "snp_policy" object by rewriting only that value's text
 * (inserting the member if missing): everything else, formatting and large integers included,
 * stays as written. The file must be well-formed JSON (duplicate keys refused) of at most
 * SNP_POLICY_MAX_BYTES; the other fields are not validated here, so a Prism sample with
 * placeholders can be filled one field at a time. Written atomically (fsx_write_atomic) with
 * the file's mode kept. Returns 0, or -errno with err filled: -EINVAL (bad field, base64,
 * length, JSON, no policy object: the file is untouched), -E2BIG, -ENOENT, -ENOMEM, I/O errors.
 */
int snp_policy_file_set(const char *path, const char *field, const char *b64, char *err,
			size_t errlen);

#endif
