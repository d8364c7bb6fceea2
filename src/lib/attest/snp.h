/*
 * attest/snp.h - AMD SEV-SNP attestation reports: parsing and verification.
 *
 * snp_report_parse decodes the 1184-byte ATTESTATION_REPORT (versions 2..5; an Azure HCL report
 * with the SNP report at offset 0x20 is unwrapped) into struct snp_report, checking the ABI's
 * sanity rules (length, version, signature algorithm, reserved bits) and naming the offset of
 * anything malformed. snp_chain_* verifies a VCEK/VLEK certificate chain up to an AMD root
 * pinned in the binary (Milan, Genoa, Turin ARKs), with RSA-PSS, validity at a caller-set clock
 * and optional CRLs, once; snp_verify_report then checks a report against a verified chain: the
 * ECDSA P-384 signature, the signer kind, hwID (CHIP_ID) and the TCB extensions against
 * REPORTED_TCB. Every failure has a reason code and a message.
 *
 * Ownership: structs are caller-owned; snp_chain_new returns a chain freed with snp_chain_free.
 * Thread safety: a verified chain is immutable and may be shared by threads.
 * Library code: no logging; negative errno returns where a function returns int.
 */
#ifndef CLOISTER_ATTEST_SNP_H
#define CLOISTER_ATTEST_SNP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNP_REPORT_BYTES 0x4A0 /* 1184 */
#define SNP_SIGNED_BYTES 0x2A0 /* bytes 0x000..0x29F are signed */
#define SNP_HCL_REPORT_OFFSET 0x20
#define SNP_HCL_MAX_BYTES (64u * 1024)
#define SNP_CERT_MAX_BYTES (16u * 1024)
#define SNP_CHAIN_MAX_CERTS 8
#define SNP_CRL_MAX_BYTES (256u * 1024) /* all CRLs together, DER or PEM */
#define SNP_CRL_MAX_COUNT 8
#define SNP_CERTTABLE_MAX_ENTRIES 32 /* certificate-table entries, terminator excluded */

enum snp_product {
	SNP_PRODUCT_UNKNOWN = 0,
	SNP_PRODUCT_MILAN,
	SNP_PRODUCT_GENOA,
	SNP_PRODUCT_TURIN
};
enum snp_signer { SNP_SIGNER_VCEK = 0, SNP_SIGNER_VLEK = 1, SNP_SIGNER_NONE = 7 };

/* Why a verification failed. */
enum snp_reason {
	SNP_OK = 0,
	SNP_ERR_MALFORMED,       /* "malformed at offset N: ..." */
	SNP_ERR_UNSUPPORTED,     /* version or signature algorithm we do not know */
	SNP_ERR_BAD_SIGNATURE,   /* report signature does not verify with the leaf key */
	SNP_ERR_UNKNOWN_ROOT,    /* the chain does not end in a pinned AMD root */
	SNP_ERR_CHAIN,           /* a certificate is not signed by its issuer / names mismatch */
	SNP_ERR_CHIP_MISMATCH,   /* CHIP_ID != VCEK hwID */
	SNP_ERR_TCB_MISMATCH,    /* REPORTED_TCB != VCEK TCB extensions */
	SNP_ERR_SIGNER_MISMATCH, /* report says VLEK but a VCEK was given, or the reverse */
	SNP_ERR_EXPIRED,         /* a certificate is outside its validity period at 'now' */
	SNP_ERR_REVOKED,         /* listed in a supplied CRL */
	SNP_ERR_INTERNAL,        /* out of memory, OpenSSL failure */
};
const char *snp_reason_name(enum snp_reason r); /* "bad_signature", "expired", ... */

/* TCB_VERSION components; the byte layout depends on the product (Turin differs). */
struct snp_tcb {
	uint8_t bootloader, tee, snp, microcode, fmc; /* fmc: Turin only, else 0 */
};
struct snp_tcb snp_tcb_decode(uint64_t raw, enum snp_product p);

struct snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl;
	uint32_t signature_algo;
	uint64_t current_tcb;
	uint64_t platform_info;
	uint32_t flags; /* bit0 AUTHOR_KEY_EN, bit1 MASK_CHIP_KEY, bits 2-4 signing key */
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	uint64_t reported_tcb;
	uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step; /* v3+ */
	uint8_t chip_id[64];
	uint64_t committed_tcb;
	uint8_t current_build, current_minor, current_major;
	uint8_t committed_build, committed_minor, committed_major;
	uint64_t launch_tcb;
	uint64_t launch_mit_vector, current_mit_vector; /* v5+ */
	uint8_t sig_r[72], sig_s[72];                   /* little-endian, as in the report */
	uint8_t raw[SNP_REPORT_BYTES];                  /* the report bytes (unwrapped) */
	bool from_hcl;                                  /* it came inside an Azure HCL report */
};

static inline enum snp_signer snp_report_signer(const struct snp_report *r)
{
	return (enum snp_signer)((r->flags >> 2) & 7);
}

/* Parses raw report bytes (exactly SNP_REPORT_BYTES, or an Azure HCL report starting "HCLA").
 * Returns 0, or -EINVAL (malformed: err says "malformed at offset N: ..."), -ENOTSUP
 * (unsupported version / algorithm) or -E2BIG. */
int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *out, char *err,
		     size_t errlen);
/* Same for text input: hex (any case, optional 0x, whitespace ignored) or base64 of the bytes. */
int snp_report_parse_text(const char *text, size_t len, struct snp_report *out, char *err,
			  size_t errlen);

/* Certificates: each blob is DER or PEM (a PEM blob may hold several certificates, e.g. a KDS
 * cert_chain "ASK then ARK", or a VCEK+ASK+ARK bundle). */
struct snp_chain_opts {
	const uint8_t *leaf; /* VCEK or VLEK (DER or PEM); NULL: the first non-CA cert found in
	                             'chain' */
	size_t leaf_len;
	const uint8_t *chain; /* ASK/ASVK (+ ARK) PEM or DER; NULL: none supplied */
	size_t chain_len;
	const uint8_t *crl; /* optional CRL(s), DER or PEM, signed by the ARK */
	size_t crl_len;
	int64_t now;              /* unix seconds for validity checks; 0 = the current time */
	enum snp_product product; /* expected product; UNKNOWN = from the certificates */
	/* !!! TESTS ONLY !!! Extra trusted roots (ARK-like self-signed certificates, PEM or DER)
	 * that the unit tests generate to sign synthetic chains and reports. Every root given here
	 * is trusted exactly like a pinned AMD ARK, so production code (agent, server, CLI) must
	 * leave this NULL: never fill it from configuration, a request or a file. The pinned AMD
	 * roots are always trusted; these are only added to them. */
	const uint8_t *test_roots;
	size_t test_roots_len;
};

struct snp_chain;
struct snp_verdict {
	enum snp_reason reason;
	char detail[256]; /* human message naming the failing check */
	enum snp_product product;
	enum snp_signer signer; /* kind of leaf: VCEK or VLEK */
};

/* Builds and verifies the chain once: leaf -> ASK/ASVK -> pinned ARK (RSA-PSS SHA-384),
 * validity at 'now', CRL revocation. Returns the chain (also on verification failure, so the
 * caller can still inspect the leaf; check v->reason), or NULL with v filled on parse/ENOMEM. */
struct snp_chain *snp_chain_new(const struct snp_chain_opts *o, struct snp_verdict *v);
void snp_chain_free(struct snp_chain *c);
/* Verifies a report against an already verified chain: signature (ECDSA P-384 / SHA-384 over
 * bytes 0..0x29F), signer kind, hwID vs CHIP_ID (VCEK, unless MASK_CHIP_ID / zero chip id),
 * TCB extensions vs REPORTED_TCB. Cheap: no chain work. Returns 0 when verified, else -1 with v
 * filled. */
int snp_verify_report(const struct snp_chain *c, const struct snp_report *r, struct snp_verdict *v);
/* Convenience: chain + report in one call. */
int snp_verify(const struct snp_report *r, const struct snp_chain_opts *o, struct snp_verdict *v);

/* The certificate table of an SNP extended report / configfs-tsm auxblob:
 * { u8 guid[16]; u32 offset; u32 length; }... terminated by an all-zero entry; offsets from the
 * table start. Extracts the VCEK, VLEK, ASK, ARK and CRL entries (DER, pointers into buf).
 * Entries with unknown GUIDs are bounds-checked and otherwise ignored.
 * Returns 0 or -EINVAL (malformed: overlapping / out of range / unterminated / empty entry /
 * duplicate GUID), -E2BIG (more than SNP_CERTTABLE_MAX_ENTRIES entries). */
struct snp_certtable {
	const uint8_t *vcek, *vlek, *ask, *ark, *crl;
	size_t vcek_len, vlek_len, ask_len, ark_len, crl_len;
};
int snp_certtable_parse(const uint8_t *buf, size_t len, struct snp_certtable *out);

#endif
