/*
 * attest/tdx.h - Intel TDX quotes (DCAP, ECDSA P-256): parsing, verification with offline
 * collateral, TCB level matching, and TDX attestation policies.
 *
 * tdx_quote_parse decodes a TD quote v4 (TD 1.0 body inline) or v5 (body type 2 or 3, TD 1.5)
 * with the QE report certification data (type 6) wrapping the PEM PCK certificate chain
 * (type 5), naming the offset of anything malformed. tdx_collateral_new loads Intel's
 * collateral (TCB info per FMSPC, QE identity, issuer chains, PCK and Root CA CRLs) and checks
 * everything in it that does not depend on the clock, once: JSON formats, the signatures over
 * the exact bytes of "tcbInfo" / "enclaveIdentity" as served, the signers' chains and the CRL
 * signatures up to the Intel SGX Root CA pinned in the binary. tdx_chain_new verifies a
 * quote's PCK chain (leaf -> PCK Platform/Processor CA -> pinned root, ECDSA P-256) and reads
 * the PCK's SGX extensions (FMSPC, PCE-ID, TCB component SVNs, PCESVN), once per platform.
 * tdx_verify_quote then checks a quote against both at a caller-set clock: QE report
 * signature, the QE report's binding of the attestation key, the quote signature, validity
 * windows of every piece of collateral and certificate, revocation, the QE identity and the
 * TDX module identity, and Intel's TCB level matching, which gives a TCB status
 * (UpToDate ... Revoked) and advisory IDs. Every failure has a reason code and a message.
 *
 * Policies (tdx_policy.c): the "tdx_policy" object of a policy file (see tdx_policy_parse)
 * and its evaluation into a verdict JSON with one entry per check, like snp_policy_evaluate.
 *
 * Ownership: struct tdx_quote owns a copy of the quote bytes (tdx_quote_done frees it);
 * collateral, chains and policies are freed with their _free (NULL accepted).
 * Thread safety: a collateral or a chain is immutable once made and may be shared by threads;
 * tdx_verify_quote only reads them.
 * Limits: TDX_QUOTE_MAX_BYTES (a quote file, trailing padding included), TDX_JSON_MAX_BYTES per
 * TCB info / QE identity document, TDX_TCB_LEVELS_MAX levels, TDX_MODULE_IDENTITIES_MAX module
 * identities, TDX_COLLATERAL_MAX_TCB_INFOS TCB infos, TDX_CRL_MAX_BYTES of CRLs per input,
 * TDX_CHAIN_MAX_CERTS certificates per chain, TDX_ADVISORIES_MAX advisory IDs per verdict.
 * Library code: no logging; negative errno returns where a function returns int.
 */
#ifndef CLOISTER_ATTEST_TDX_H
#define CLOISTER_ATTEST_TDX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDX_QUOTE_MAX_BYTES (64u * 1024) /* raw quote input, trailing padding included */
#define TDX_QUOTE_TEXT_MAX_BYTES (4u * TDX_QUOTE_MAX_BYTES) /* hex / base64 text input */
#define TDX_HEADER_BYTES 48
#define TDX_BODY_10_BYTES 584 /* TD 1.0 report body (v4, v5 type 2) */
#define TDX_BODY_15_BYTES 648 /* TD 1.5 report body (v5 type 3) */
#define TDX_QE_REPORT_BYTES 384
#define TDX_SIG_BYTES 64     /* r || s, big-endian, P-256 */
#define TDX_ATT_KEY_BYTES 64 /* x || y, P-256 */
#define TDX_TEE_TYPE_TDX 0x81u
#define TDX_ATT_KEY_ECDSA_P256 2u
#define TDX_CERT_TYPE_PCK_CHAIN 5u
#define TDX_CERT_TYPE_QE_REPORT 6u
#define TDX_CHAIN_MAX_CERTS 4              /* leaf, intermediate, root (+1 slack) */
#define TDX_CERT_MAX_BYTES (8u * 1024)     /* one DER certificate */
#define TDX_JSON_MAX_BYTES (64u * 1024)    /* one TCB info / QE identity / bundle document */
#define TDX_BUNDLE_MAX_BYTES (256u * 1024) /* collateral_bundle.json */
#define TDX_TCB_LEVELS_MAX 64
#define TDX_MODULE_IDENTITIES_MAX 16
#define TDX_COLLATERAL_MAX_TCB_INFOS 8
#define TDX_CRL_MAX_BYTES (256u * 1024) /* per CRL input (DER or PEM, several CRLs) */
#define TDX_CRL_MAX_COUNT 4             /* CRLs per input */
#define TDX_ADVISORIES_MAX 64           /* advisory IDs kept in a verdict (more: truncated) */
#define TDX_ADVISORY_ID_MAX_BYTES 32    /* "INTEL-SA-00837" with its NUL */

/* ------------------------------------------------------------------------------------------ */
/* Quotes                                                                                     */

struct tdx_quote {
	/* Header */
	uint16_t version;      /* 4 or 5 */
	uint16_t att_key_type; /* 2: ECDSA P-256 */
	uint32_t tee_type;     /* 0x81: TDX */
	uint8_t qe_vendor_id[16];
	uint8_t user_data[20];
	/* Body (v5: body_type 2 = TD 1.0, 3 = TD 1.5; v4: 2) */
	uint16_t body_type;
	uint32_t body_size;
	uint8_t tee_tcb_svn[16]; /* [0] TDX module SVN, [1] module major version */
	uint8_t mr_seam[48];
	uint8_t mr_signer_seam[48];
	uint64_t seam_attributes;
	uint64_t td_attributes; /* bit 0 DEBUG */
	uint64_t xfam;
	uint8_t mr_td[48];
	uint8_t mr_config_id[48];
	uint8_t mr_owner[48];
	uint8_t mr_owner_config[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
	uint8_t tee_tcb_svn2[16]; /* TD 1.5 only, else zero */
	uint8_t mr_servicetd[48]; /* TD 1.5 only, else zero */
	/* Signature data */
	uint8_t signature[TDX_SIG_BYTES];
	uint8_t att_key[TDX_ATT_KEY_BYTES];
	uint8_t qe_report[TDX_QE_REPORT_BYTES];
	uint8_t qe_report_sig[TDX_SIG_BYTES];
	uint16_t qe_isv_prod_id, qe_isv_svn; /* from the QE report */
	/* Offsets into raw */
	size_t signed_len; /* header (+ v5 type/size) + body: what the quote signature covers */
	size_t qe_auth_off, qe_auth_len;
	size_t pck_off, pck_len; /* the PEM chain, as embedded (may end with NUL) */
	size_t quote_len;        /* bytes the quote uses; the input may carry padding after it */
	uint8_t *raw;            /* malloc'd copy of the quote_len bytes */
};

/* Parses raw quote bytes. Returns 0 (free with tdx_quote_done), or -EINVAL (malformed: err
 * says "malformed at offset 0x278: ..."), -ENOTSUP (a version, key type, TEE type, body type
 * or certification data type this code does not verify: "unsupported quote version 3 ..."),
 * -E2BIG (over TDX_QUOTE_MAX_BYTES) or -ENOMEM. On failure *out is empty. */
int tdx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *out, char *err,
		    size_t errlen);
/* Same for text: hex (any case, optional 0x, whitespace ignored) or base64 of the bytes. */
int tdx_quote_parse_text(const char *text, size_t len, struct tdx_quote *out, char *err,
			 size_t errlen);
void tdx_quote_done(struct tdx_quote *q);
/* True when buf starts like a TDX quote: version 4 or 5 (u16 LE) and TEE type 0x81 at 4. */
bool tdx_quote_sniff(const uint8_t *buf, size_t len);

/* ------------------------------------------------------------------------------------------ */
/* Verdicts                                                                                   */

enum tdx_reason {
	TDX_OK = 0,
	TDX_ERR_MALFORMED,          /* "malformed at offset N: ..." */
	TDX_ERR_UNSUPPORTED,        /* version / key type / TEE type / certification data type */
	TDX_ERR_CHAIN,              /* "PCK chain: ...": parse, names, signatures, CA flags */
	TDX_ERR_UNKNOWN_ROOT,       /* a chain does not end in the pinned Intel SGX Root CA */
	TDX_ERR_QE_SIGNATURE,       /* QE report signature does not verify with the PCK key */
	TDX_ERR_QE_BINDING,         /* QE REPORTDATA != SHA-256(attestation key || auth data) */
	TDX_ERR_BAD_SIGNATURE,      /* quote signature does not verify with the attestation key */
	TDX_ERR_EXPIRED,            /* a certificate is outside its validity at 'now' */
	TDX_ERR_REVOKED,            /* PCK or intermediate listed in a CRL */
	TDX_ERR_COLLATERAL,         /* collateral malformed, badly signed, or not for this quote */
	TDX_ERR_COLLATERAL_EXPIRED, /* "collateral expired: tcbInfo nextUpdate ..." */
	TDX_ERR_QE_IDENTITY,        /* QE report does not match the QE identity */
	TDX_ERR_MODULE_IDENTITY,    /* MRSIGNERSEAM / SEAMATTRIBUTES / TDX_nn not in TCB info */
	TDX_ERR_TCB_UNSUPPORTED,    /* no TCB level matches (platform, module or QE) */
	TDX_ERR_TCB_REVOKED,        /* the matching TCB level's status is Revoked */
	TDX_ERR_INTERNAL,           /* out of memory, OpenSSL failure, misuse */
};
const char *tdx_reason_name(enum tdx_reason r); /* "bad_signature", "collateral_expired", ... */

/* Intel's TCB statuses, best first (the enum order is not "worse": see tdx_tcb_status_merge). */
enum tdx_tcb_status {
	TDX_TCB_UNKNOWN = 0, /* not evaluated (no TCB info supplied, or verification failed) */
	TDX_TCB_UP_TO_DATE,
	TDX_TCB_SW_HARDENING_NEEDED,
	TDX_TCB_CONFIGURATION_NEEDED,
	TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	TDX_TCB_OUT_OF_DATE,
	TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	TDX_TCB_REVOKED,
};
#define TDX_TCB_STATUS_COUNT 8
/* "UpToDate", "SWHardeningNeeded", ... ("Unknown" for TDX_TCB_UNKNOWN). */
const char *tdx_tcb_status_name(enum tdx_tcb_status s);
/* Intel's name (exact, case-sensitive) to the enum; TDX_TCB_UNKNOWN when not one. */
enum tdx_tcb_status tdx_tcb_status_from_name(const char *s, size_t n);
/* The worst of two statuses as Intel's verifier converges them: OutOfDate absorbs
 * SWHardeningNeeded, OutOfDate with a ConfigurationNeeded* gives OutOfDateConfigurationNeeded,
 * Revoked beats everything; UNKNOWN is neutral. */
enum tdx_tcb_status tdx_tcb_status_merge(enum tdx_tcb_status a, enum tdx_tcb_status b);

struct tdx_verdict {
	enum tdx_reason reason;
	char detail[320]; /* human message naming the failing check */
	/* What the verification established (valid as far as it got). */
	bool tcb_evaluated;             /* a TCB info for the FMSPC was matched */
	enum tdx_tcb_status tcb_status; /* merged platform, module and QE statuses */
	enum tdx_tcb_status platform_status, module_status, qe_status;
	char tcb_date[24];        /* the matching platform level's tcbDate, "" if none */
	uint32_t tcb_eval_number; /* tcbEvaluationDataNumber of the TCB info used */
	bool qe_identity_checked; /* a QE identity was supplied and matched */
	bool pck_crl_checked, root_crl_checked;
	uint8_t fmspc[6];
	uint16_t pce_id;
	bool have_pck;   /* fmspc, pce_id, pck_ca are known */
	char pck_ca[64]; /* "Intel SGX PCK Platform CA" or "... Processor CA" */
	size_t n_advisory_ids;
	char advisory_ids[TDX_ADVISORIES_MAX][TDX_ADVISORY_ID_MAX_BYTES];
};

/* ------------------------------------------------------------------------------------------ */
/* Collateral                                                                                 */

/* Every blob is borrowed for the call only. JSON documents are as Intel's PCS serves them:
 * {"tcbInfo":{...},"signature":"<r||s hex>"} and {"enclaveIdentity":{...},"signature":...}. */
struct tdx_collateral_opts {
	const uint8_t *tcb_info[TDX_COLLATERAL_MAX_TCB_INFOS]; /* one per FMSPC */
	size_t tcb_info_len[TDX_COLLATERAL_MAX_TCB_INFOS];
	size_t n_tcb_info;
	const uint8_t *qe_identity; /* TD_QE identity; NULL: the QE is not checked */
	size_t qe_identity_len;
	/* "Intel SGX TCB Signing" (+ Root CA), PEM: the TCB-Info-Issuer-Chain; also used for the
	 * QE identity when qe_identity_chain is NULL (Intel signs both with the same key). */
	const uint8_t *tcb_info_chain;
	size_t tcb_info_chain_len;
	const uint8_t *qe_identity_chain; /* SGX-Enclave-Identity-Issuer-Chain, PEM */
	size_t qe_identity_chain_len;
	const uint8_t *pck_crl; /* PCK CRL(s), DER or PEM; NULL: PCK revocation not checked */
	size_t pck_crl_len;
	const uint8_t *pck_crl_chain; /* its issuer chain (PCK Platform/Processor CA + root) */
	size_t pck_crl_chain_len;
	const uint8_t *root_crl; /* Root CA CRL, DER or PEM; NULL: not checked */
	size_t root_crl_len;
	/* !!! TESTS ONLY !!! Extra trusted roots (self-signed P-256 certificates, PEM or DER) the
	 * unit tests generate to sign synthetic quotes and collateral. Each is trusted exactly like
	 * the pinned Intel SGX Root CA: production code must leave this NULL. */
	const uint8_t *test_roots;
	size_t test_roots_len;
};

struct tdx_collateral;
/* Loads and checks the collateral (everything but time). Returns the collateral, also when a
 * check failed (v->reason says which; tdx_verify_quote then fails with that verdict), or NULL
 * with v filled on ENOMEM / NULL options. An empty opts is valid: signatures and the chain are
 * then verified but no TCB level is evaluated. */
struct tdx_collateral *tdx_collateral_new(const struct tdx_collateral_opts *o,
					  struct tdx_verdict *v);
void tdx_collateral_free(struct tdx_collateral *c);
/* Number of TCB infos held; 0 for NULL. */
size_t tdx_collateral_tcb_infos(const struct tdx_collateral *c);

/* dcap-qvl's collateral_bundle.json (QuoteCollateralV3 as JSON: tcb_info and qe_identity as
 * the raw JSON text, their signatures as hex, issuer chains as PEM, CRLs as hex DER) split
 * into malloc'd blobs laid out as the PCS serves them (tcb_info becomes
 * {"tcbInfo":<raw text>,"signature":"<hex>"}). Returns 0 (free with tdx_bundle_done), or
 * -EINVAL (err names the field), -E2BIG, -ENOMEM. */
struct tdx_bundle {
	uint8_t *tcb_info, *qe_identity, *tcb_info_chain, *qe_identity_chain, *pck_crl,
		*pck_crl_chain, *root_crl;
	size_t tcb_info_len, qe_identity_len, tcb_info_chain_len, qe_identity_chain_len,
		pck_crl_len, pck_crl_chain_len, root_crl_len;
};
int tdx_bundle_parse(const char *json, size_t len, struct tdx_bundle *out, char *err,
		     size_t errlen);
void tdx_bundle_done(struct tdx_bundle *b);
/* Points o's collateral at b's blobs (o is zeroed first; b must outlive o's use). */
void tdx_bundle_opts(const struct tdx_bundle *b, struct tdx_collateral_opts *o);

/* Checks one TCB info or QE identity document's format (not its signature): for the collateral
 * fuzz harness and for tools. Returns 0 or -EINVAL / -E2BIG / -ENOMEM with err filled. */
int tdx_tcb_info_check(const char *json, size_t len, char *err, size_t errlen);
int tdx_qe_identity_check(const char *json, size_t len, char *err, size_t errlen);

/* ------------------------------------------------------------------------------------------ */
/* Verification                                                                               */

struct tdx_chain;
/* Verifies the quote's PCK chain once: PEM parse (at most TDX_CHAIN_MAX_CERTS), leaf ->
 * intermediate -> root signatures (ECDSA P-256 / SHA-256), CA flags, the root pinned (or a
 * test root of col), and the PCK's SGX extensions. Validity times and CRLs are checked by
 * tdx_verify_quote (they depend on 'now'). Returns the chain, also on failure (check
 * v->reason), or NULL on ENOMEM / NULL arguments. */
struct tdx_chain *tdx_chain_new(const struct tdx_quote *q, const struct tdx_collateral *col,
				struct tdx_verdict *v);
void tdx_chain_free(struct tdx_chain *c);

/*
 * Verifies q against the collateral and its chain (from tdx_chain_new for a quote with the
 * same PCK chain bytes; NULL: built here) at 'now' (unix seconds; 0 = the current time).
 * Order, the first failure giving the verdict:
 *   1. the collateral's own checks (tdx_collateral_new)            -> its reason
 *   2. the PCK chain (tdx_chain_new)                                -> CHAIN / UNKNOWN_ROOT
 *   3. QE report signature with the PCK key                         -> QE_SIGNATURE
 *   4. QE REPORTDATA = SHA-256(attestation key || QE auth data) || 32 zero bytes -> QE_BINDING
 *   5. quote signature with the attestation key over header || body -> BAD_SIGNATURE
 *   6. the TCB info for the PCK's FMSPC (and PCE-ID)                -> COLLATERAL
 *   7. validity windows at now: tcbInfo, QE identity, their signer certificates, the CRLs
 *                                                                    -> COLLATERAL_EXPIRED
 *   8. validity of the PCK, the intermediate, the root               -> EXPIRED
 *   9. revocation: intermediate in the Root CA CRL, PCK in the PCK CRL -> REVOKED
 *  10. QE identity: MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under their masks, then
 *      its TCB level by ISVSVN                                       -> QE_IDENTITY / TCB_UNSUPPORTED
 *  11. TDX module: MRSIGNERSEAM and SEAMATTRIBUTES (masked) against tdxModule, or the
 *      TDX_<nn> identity (nn = TEE_TCB_SVN[1]) and its level by TEE_TCB_SVN[0]
 *                                                                    -> MODULE_IDENTITY / TCB_UNSUPPORTED
 *  12. platform TCB level: the first level whose 16 SGX component SVNs and PCESVN are <= the
 *      PCK's and whose 16 TDX component SVNs are <= TEE_TCB_SVN      -> TCB_UNSUPPORTED
 *  13. merged status Revoked                                         -> TCB_REVOKED
 * Any other status passes here (the policy decides which are acceptable) and is reported in
 * v->tcb_status with the advisory IDs of every matching level. Returns 0 or -1.
 */
int tdx_verify_quote(const struct tdx_collateral *col, const struct tdx_chain *chain,
		     const struct tdx_quote *q, int64_t now, struct tdx_verdict *v);
/* Convenience: tdx_chain_new + tdx_verify_quote. */
int tdx_verify(const struct tdx_quote *q, const struct tdx_collateral *col, int64_t now,
	       struct tdx_verdict *v);

/* ------------------------------------------------------------------------------------------ */
/* Policies (tdx_policy.c)                                                                    */

#define TDX_POLICY_ERR_BYTES 256

/* An exact-match byte field of the policy: absent or "" (unchecked), or a value. */
struct tdx_policy_bytes {
	bool set;
	uint8_t v[64];
};

struct tdx_policy {
	unsigned accepted_statuses; /* bit (1 << enum tdx_tcb_status); default UpToDate only */
	bool has_accepted_statuses;
	bool allow_debug;
	bool has_td_attributes, has_xfam, has_minimum_tee_tcb_svn;
	uint64_t td_attributes, xfam;
	uint8_t minimum_tee_tcb_svn[16];
	struct tdx_policy_bytes mr_seam, mr_signer_seam, mr_td, mr_config_id, mr_owner,
		mr_owner_config, rtmr[4], report_data;
	bool report_data_from_verifier;
	bool allow_unattested; /* top-level "allow_unattested", recorded for the caller */
};

/*
 * Parses the "tdx_policy" object of a policy file (the same file as the SNP policy: a file may
 * hold "snp_policy"/"policy", "tdx_policy" or both; the other top-level keys are checked by
 * snp_policy_parse / attest_policy_parse and only their names are checked here). Keys of
 * tdx_policy (anything else is refused, naming the key; null = absent):
 *   accepted_tcb_statuses  array of Intel status names (default ["UpToDate"])
 *   allow_debug            bool: accept TDATTRIBUTES.DEBUG (default false: refused)
 *   td_attributes, xfam    u64: JSON integer or "0x..." string; exact match
 *   minimum_tee_tcb_svn    16 bytes; each byte of TEE_TCB_SVN must be >= its byte
 *   mr_seam, mr_signer_seam, mr_td, mr_config_id, mr_owner, mr_owner_config  48 bytes
 *   rtmrs                  array of 4 values of 48 bytes ("" or null: that RTMR unchecked)
 *   report_data            64 bytes
 * Byte values: hex (2N digits) or standard base64 (the lengths never collide); "" = unchecked.
 * Returns a new policy or NULL with err set and errno (EINVAL, E2BIG over
 * SNP_POLICY_MAX_BYTES, ENOMEM); a file without "tdx_policy" is EINVAL ("no \"tdx_policy\"").
 */
struct tdx_policy *tdx_policy_parse(const char *json, size_t len, char *err, size_t errlen);
void tdx_policy_free(struct tdx_policy *p);
/* The verifier's expected REPORTDATA (overrides the file's). Returns 0 or -EINVAL. */
int tdx_policy_set_report_data(struct tdx_policy *p, const uint8_t rd[64]);
/*
 * Evaluates p against a parsed quote and its verification verdict (may be NULL: "skipped").
 * Returns {"verified": bool, "checks": [{"name","result":"pass|fail|skipped","expected",
 * "actual","detail"}...]} (caller json_decref), check names in order: signature_and_chain,
 * tcb_status, debug, td_attributes, xfam, minimum_tee_tcb_svn, mr_seam, mr_signer_seam, mr_td,
 * mr_config_id, mr_owner, mr_owner_config, rtmr0, rtmr1, rtmr2, rtmr3, report_data.
 * *pass (may be NULL) is true only when no check failed. NULL on ENOMEM.
 */
json_t *tdx_policy_evaluate(const struct tdx_policy *p, const struct tdx_quote *q,
			    const struct tdx_verdict *v, bool *pass);

#endif
