/*
 * attest/snp.c - AMD SEV-SNP attestation reports: parser and verifier (see snp.h), on OpenSSL 3.
 *
 * Parsing (snp_report_parse) decodes the little-endian ATTESTATION_REPORT and refuses anything
 * the firmware ABI (AMD #56860) would never produce: a length other than 1184 bytes, a version
 * outside 2..5 (-ENOTSUP), a signature algorithm other than 1 (-ENOTSUP), policy bit 17 clear,
 * VMPL above 3, a signing-key field other than VCEK/VLEK/none, flag bits 5-31 set, and non-zero
 * bytes in the reserved ranges of that version only: 0x4C..0x4F, 0x188..0x19F (v2; v3+ from
 * 0x18B, after the CPUID bytes), 0x1EB, 0x1EF, 0x1F8..0x29F (v2-v4; v5 from 0x208, after the
 * mitigation vectors) and 0x330..0x49F after the signature. Messages name the offset in the
 * caller's buffer ("malformed at offset 0x48: ..."; a short or long buffer reads "malformed at
 * offset 500: report is 500 bytes, want 1184", the offset being the length). An Azure HCL report
 * ("HCLA" header, its size field, SNP runtime data type 2) is unwrapped: the SNP report sits at
 * 0x20; REPORT_DATA = SHA-256(runtime data) is left to the policy.
 *
 * Chain (snp_chain_new), checked in this order, the first failure giving the verdict:
 *   1. certificates parse (DER or PEM, size limits)            -> NULL, SNP_ERR_MALFORMED
 *   2. the leaf: first non-CA certificate; CN SEV-VCEK or SEV-VLEK (or a cspId extension),
 *      EC P-384 key, productName / TCB SPL / hwID extensions well formed, product known and
 *      equal to the caller's expected product                  -> SNP_ERR_CHAIN
 *   3. the ASK/ASVK: a supplied (not self-issued) certificate whose subject is the leaf's
 *      issuer; only when no intermediate at all was supplied, the pinned ASK/ASVK of that
 *      name. It must verify the leaf                            -> SNP_ERR_CHAIN
 *   4. the ARK: a supplied self-issued certificate named as the ASK's issuer must be a pinned
 *      root (same DER or same SubjectPublicKeyInfo); when none is supplied the pinned ARK (or a
 *      test root) of that name is used                         -> SNP_ERR_UNKNOWN_ROOT
 *   5. the ARK verifies the ASK and itself (RSASSA-PSS, SHA-384); CA flags; AMD names agree on
 *      one product: ARK-<P>, SEV-<P> (VCEK) or SEV-VLEK-<P> (VLEK) -> SNP_ERR_CHAIN
 *   6. CRLs issued by the ARK (or the ASK): signature (-> CHAIN), thisUpdate/nextUpdate at
 *      'now' (-> EXPIRED: a stale list could hide a revocation), ASK/ASVK or leaf serial
 *      listed (-> REVOKED). CRLs from other issuers (another product) are ignored.
 *   7. validity at 'now' of the leaf, the ASK, the ARK           -> SNP_ERR_EXPIRED
 * Report (snp_verify_report), every value read from the signed raw bytes:
 *   1. signing key in the flags: "none" or a kind other than the leaf's -> SIGNER_MISMATCH
 *   2. the product of the CPUID bytes (v3+) vs the chain's       -> SNP_ERR_CHAIN
 *   3. CHIP_ID vs hwID (VCEK, CHIP_ID non-zero, MASK_CHIP_ID clear) -> CHIP_MISMATCH
 *   4. REPORTED_TCB components vs the SPL extensions             -> TCB_MISMATCH
 *   5. the ECDSA P-384 signature over SHA-384(bytes 0..0x29F)    -> BAD_SIGNATURE
 * Binding checks (3, 4) come before the signature: they say which certificate the report
 * needs, which is the useful diagnosis when the signature then fails too (a report with an
 * edited REPORTED_TCB is reported as a TCB mismatch, as trustee's test expects).
 */
#include "attest/snp.h"
#include "attest/amd_roots.h"
#include "util.h"
#include "x509.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Input sizes beyond which a blob cannot be a chain of SNP_CHAIN_MAX_CERTS certificates. */
#define SNP_CERT_BLOB_MAX_BYTES (SNP_CHAIN_MAX_CERTS * SNP_CERT_MAX_BYTES * 2u)
#define SNP_TEXT_MAX_BYTES (4u * SNP_HCL_MAX_BYTES)
#define SNP_HCL_RUNTIME_OFFSET (SNP_HCL_REPORT_OFFSET + SNP_REPORT_BYTES) /* 0x4C0 */
#define SNP_HCL_RUNTIME_HDR_BYTES 20
#define SNP_HCL_TYPE_SNP 2
#define SNP_CERTTABLE_ENTRY_BYTES 24

#define AMD_OID_PREFIX "1.3.6.1.4.1.3704.1."

__attribute__((format(printf, 3, 4))) static void
verdict_set(struct snp_verdict *v, enum snp_reason r, const char *fmt, ...)
{
	if (!v)
		return;
	v->reason = r;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
}

const char *snp_reason_name(enum snp_reason r)
{
	switch (r) {
	case SNP_OK:
		return "ok";
	case SNP_ERR_MALFORMED:
		return "malformed";
	case SNP_ERR_UNSUPPORTED:
		return "unsupported";
	case SNP_ERR_BAD_SIGNATURE:
		return "bad_signature";
	case SNP_ERR_UNKNOWN_ROOT:
		return "unknown_root";
	case SNP_ERR_CHAIN:
		return "chain";
	case SNP_ERR_CHIP_MISMATCH:
		return "chip_mismatch";
	case SNP_ERR_TCB_MISMATCH:
		return "tcb_mismatch";
	case SNP_ERR_SIGNER_MISMATCH:
		return "signer_mismatch";
	case SNP_ERR_EXPIRED:
		return "expired";
	case SNP_ERR_REVOKED:
		return "revoked";
	case SNP_ERR_INTERNAL:
		return "internal";
	}
	return "unknown";
}

static const char *product_name(enum snp_product p)
{
	switch (p) {
	case SNP_PRODUCT_MILAN:
		return "Milan";
	case SNP_PRODUCT_GENOA:
		return "Genoa";
	case SNP_PRODUCT_TURIN:
		return "Turin";
	case SNP_PRODUCT_UNKNOWN:
		break;
	}
	return "unknown";
}

/* "Milan", "Milan-B0", "Genoa", "Turin": the KDS product name, optionally with a stepping. */
static enum snp_product product_from_str(const char *s)
{
	static const struct {
		const char *name;
		enum snp_product p;
	} names[] = { { "Milan", SNP_PRODUCT_MILAN },
		      { "Genoa", SNP_PRODUCT_GENOA },
		      { "Turin", SNP_PRODUCT_TURIN } };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		size_t n = strlen(names[i].name);
		if (strncmp(s, names[i].name, n) == 0 && (s[n] == '\0' || s[n] == '-'))
			return names[i].p;
	}
	return SNP_PRODUCT_UNKNOWN;
}

/* CPUID family/model (report v3+) to the KDS product: Siena and Bergamo (family 0x19, models
 * 0xA0-0xAF) use Genoa certificates. Anything else is not a known SNP part. */
static enum snp_product product_from_cpuid(uint8_t fam, uint8_t mod)
{
	if (fam == 0x19 && mod <= 0x0F)
		return SNP_PRODUCT_MILAN;
	if (fam == 0x19 && ((mod >= 0x10 && mod <= 0x1F) || (mod >= 0xA0 && mod <= 0xAF)))
		return SNP_PRODUCT_GENOA;
	if (fam == 0x1A)
		return SNP_PRODUCT_TURIN;
	return SNP_PRODUCT_UNKNOWN;
}

struct snp_tcb snp_tcb_decode(uint64_t raw, enum snp_product p)
{
	struct snp_tcb t = { 0 };
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(raw >> (8 * i));
	if (p == SNP_PRODUCT_TURIN) {
		t.fmc = b[0];
		t.bootloader = b[1];
		t.tee = b[2];
		t.snp = b[3];
		t.microcode = b[7];
	} else {
		t.bootloader = b[0];
		t.tee = b[1];
		t.snp = b[6];
		t.microcode = b[7];
	}
	return t;
}

/* ------------------------------------------------------------------------------------------ */
/* Report parsing                                                                             */

struct mbz_range {
	uint32_t lo, hi; /* [lo, hi) */
};

static int check_mbz(const uint8_t *p, size_t base, uint32_t version, struct mbz_range r, char *err,
		     size_t errlen)
{
	for (uint32_t i = r.lo; i < r.hi; i++)
		if (p[i])
			return util_errf(
				err, errlen, -EINVAL,
				"malformed at offset 0x%zx: reserved byte is 0x%02x, must be zero "
				"(0x%x..0x%x in a version %u report)",
				base + i, p[i], r.lo, r.hi - 1, version);
	return 0;
}

/* p points at SNP_REPORT_BYTES bytes; base is their offset in the caller's buffer. */
static int parse_report(const uint8_t *p, size_t base, struct snp_report *out, char *err,
			size_t errlen)
{
	uint32_t version = util_le32(p);
	if (version < 2 || version > 5)
		return util_errf(
			err, errlen, -ENOTSUP,
			"unsupported at offset 0x%zx: report version %u (supported: 2 to 5)", base,
			version);
	uint32_t algo = util_le32(p + 0x34);
	if (algo != 1)
		return util_errf(
			err, errlen, -ENOTSUP,
			"unsupported at offset 0x%zx: signature algorithm %u (supported: 1, "
			"ECDSA P-384 with SHA-384)",
			base + 0x34, algo);
	uint64_t policy = util_le64(p + 0x08);
	if (!(policy & (1ull << 17)))
		return util_errf(
			err, errlen, -EINVAL,
			"malformed at offset 0x%zx: policy 0x%llx has bit 17 clear (reserved, "
			"must be 1)",
			base + 0x08, (unsigned long long)policy);
	uint32_t vmpl = util_le32(p + 0x30);
	if (vmpl > 3)
		return util_errf(err, errlen, -EINVAL,
				 "malformed at offset 0x%zx: VMPL %u (want 0..3)", base + 0x30,
				 vmpl);
	uint32_t flags = util_le32(p + 0x48);
	if (flags >> 5)
		return util_errf(err, errlen, -EINVAL,
				 "malformed at offset 0x%zx: flags 0x%x set reserved bits 5-31",
				 base + 0x48, flags);
	uint32_t key = (flags >> 2) & 7;
	if (key != SNP_SIGNER_VCEK && key != SNP_SIGNER_VLEK && key != SNP_SIGNER_NONE)
		return util_errf(
			err, errlen, -EINVAL,
			"malformed at offset 0x%zx: signing key %u (want 0 VCEK, 1 VLEK or 7 none)",
			base + 0x48, key);

	const struct mbz_range ranges[] = {
		{ 0x04C, 0x050 },
		{ version >= 3 ? 0x18B : 0x188, 0x1A0 },
		{ 0x1EB, 0x1EC },
		{ 0x1EF, 0x1F0 },
		{ version >= 5 ? 0x208 : 0x1F8, 0x2A0 },
		{ 0x330, SNP_REPORT_BYTES },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++) {
		int rc = check_mbz(p, base, version, ranges[i], err, errlen);
		if (rc < 0)
			return rc;
	}

	memset(out, 0, sizeof(*out));
	out->version = version;
	out->guest_svn = util_le32(p + 0x04);
	out->policy = policy;
	memcpy(out->family_id, p + 0x10, 16);
	memcpy(out->image_id, p + 0x20, 16);
	out->vmpl = vmpl;
	out->signature_algo = algo;
	out->current_tcb = util_le64(p + 0x38);
	out->platform_info = util_le64(p + 0x40);
	out->flags = flags;
	memcpy(out->report_data, p + 0x50, 64);
	memcpy(out->measurement, p + 0x90, 48);
	memcpy(out->host_data, p + 0xC0, 32);
	memcpy(out->id_key_digest, p + 0xE0, 48);
	memcpy(out->author_key_digest, p + 0x110, 48);
	memcpy(out->report_id, p + 0x140, 32);
	memcpy(out->report_id_ma, p + 0x160, 32);
	out->reported_tcb = util_le64(p + 0x180);
	if (version >= 3) {
		out->cpuid_fam_id = p[0x188];
		out->cpuid_mod_id = p[0x189];
		out->cpuid_step = p[0x18A];
	}
	memcpy(out->chip_id, p + 0x1A0, 64);
	out->committed_tcb = util_le64(p + 0x1E0);
	out->current_build = p[0x1E8];
	out->current_minor = p[0x1E9];
	out->current_major = p[0x1EA];
	out->committed_build = p[0x1EC];
	out->committed_minor = p[0x1ED];
	out->committed_major = p[0x1EE];
	out->launch_tcb = util_le64(p + 0x1F0);
	if (version >= 5) {
		out->launch_mit_vector = util_le64(p + 0x1F8);
		out->current_mit_vector = util_le64(p + 0x200);
	}
	memcpy(out->sig_r, p + 0x2A0, 72);
	memcpy(out->sig_s, p + 0x2E8, 72);
	memcpy(out->raw, p, SNP_REPORT_BYTES);
	return 0;
}

/* Azure HCL report: header { "HCLA", u32 version, u32 report_size, u32 request_type,
 * u32 status, 12 reserved }, the SNP report at 0x20, then runtime data { u32 data_size,
 * u32 version, u32 report_type (2 = SNP, 4 = TDX), u32 hash_type, u32 variable_data_size,
 * variable data (JSON) }; report_size covers header..runtime data, the rest is zero padding. */
static int parse_hcl(const uint8_t *buf, size_t len, struct snp_report *out, char *err,
		     size_t errlen)
{
	const size_t min = SNP_HCL_RUNTIME_OFFSET + SNP_HCL_RUNTIME_HDR_BYTES;
	if (len < min)
		return util_errf(
			err, errlen, -EINVAL,
			"malformed at offset %zu: HCL report is %zu bytes, want at least %zu", len,
			len, min);
	uint32_t size = util_le32(buf + 8);
	if (size < min || size > len)
		return util_errf(err, errlen, -EINVAL,
				 "malformed at offset 0x8: HCL report size %u outside %zu..%zu",
				 size, min, len);
	const uint8_t *rt = buf + SNP_HCL_RUNTIME_OFFSET;
	uint32_t rt_type = util_le32(rt + 8);
	if (rt_type != SNP_HCL_TYPE_SNP)
		return util_errf(
			err, errlen, -ENOTSUP,
			"unsupported at offset 0x%x: HCL runtime data report type %u (want 2, SNP)",
			SNP_HCL_RUNTIME_OFFSET + 8, rt_type);
	uint32_t rt_size = util_le32(rt);
	if (rt_size < SNP_HCL_RUNTIME_HDR_BYTES || rt_size > size - SNP_HCL_RUNTIME_OFFSET)
		return util_errf(
			err, errlen, -EINVAL,
			"malformed at offset 0x%x: HCL runtime data size %u outside %d..%u",
			SNP_HCL_RUNTIME_OFFSET, rt_size, SNP_HCL_RUNTIME_HDR_BYTES,
			size - SNP_HCL_RUNTIME_OFFSET);
	uint32_t var_size = util_le32(rt + 16);
	if (var_size > rt_size - SNP_HCL_RUNTIME_HDR_BYTES)
		return util_errf(
			err, errlen, -EINVAL,
			"malformed at offset 0x%x: HCL variable data size %u exceeds runtime data "
			"size %u",
			SNP_HCL_RUNTIME_OFFSET + 16, var_size, rt_size);
	int rc = parse_report(buf + SNP_HCL_REPORT_OFFSET, SNP_HCL_REPORT_OFFSET, out, err, errlen);
	if (rc < 0)
		return rc;
	out->from_hcl = true;
	return 0;
}

int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *out, char *err,
		     size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!out || (!buf && len))
		return util_errf(err, errlen, -EINVAL, "invalid arguments");
	if (len > SNP_HCL_MAX_BYTES)
		return util_errf(err, errlen, -E2BIG, "report is %zu bytes, limit %u", len,
				 SNP_HCL_MAX_BYTES);
	if (len >= 4 && memcmp(buf, "HCLA", 4) == 0)
		return parse_hcl(buf, len, out, err, errlen);
	if (len != SNP_REPORT_BYTES)
		return util_errf(err, errlen, -EINVAL,
				 "malformed at offset %zu: report is %zu bytes, want %d",
				 len < SNP_REPORT_BYTES ? len : (size_t)SNP_REPORT_BYTES, len,
				 SNP_REPORT_BYTES);
	return parse_report(buf, 0, out, err, errlen);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Decodes strict base64 (padded, no whitespace: the caller stripped it). Returns the length or
 * -EINVAL. out must hold n / 4 * 3 bytes. */
static int b64_decode(const char *s, size_t n, uint8_t *out)
{
	if (n == 0 || n % 4)
		return -EINVAL;
	size_t pad = 0;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (!is_b64(s[i]))
			return -EINVAL;
	int m = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (m < 0 || (size_t)m < pad)
		return -EINVAL;
	return m - (int)pad;
}

int snp_report_parse_text(const char *text, size_t len, struct snp_report *out, char *err,
			  size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!out || (!text && len))
		return util_errf(err, errlen, -EINVAL, "invalid arguments");
	if (len > SNP_TEXT_MAX_BYTES)
		return util_errf(err, errlen, -E2BIG, "report text is %zu bytes, limit %u", len,
				 SNP_TEXT_MAX_BYTES);
	_cleanup_free_ char *s = malloc(len + 1);
	_cleanup_free_ uint8_t *bin = malloc(len + 4); /* hex: len / 2, base64: len / 4 * 3 */
	if (!s || !bin)
		return util_errf(err, errlen, -ENOMEM, "out of memory");
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (!is_space(text[i]))
			s[n++] = text[i];
	s[n] = '\0';
	const char *h = s;
	size_t hn = n;
	bool prefixed = hn >= 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X');
	if (prefixed) {
		h += 2;
		hn -= 2;
	}
	bool hex = hn % 2 == 0;
	for (size_t i = 0; hex && i < hn; i++)
		hex = is_hex(h[i]);
	size_t bn;
	if (hex) {
		if (util_unhex(bin, hn / 2, h, hn) < 0)
			return util_errf(err, errlen, -EINVAL, "malformed: invalid hex");
		bn = hn / 2;
	} else if (prefixed) {
		return util_errf(err, errlen, -EINVAL,
				 "malformed: text after 0x is not an even number of "
				 "hex digits");
	} else {
		int m = b64_decode(s, n, bin);
		if (m < 0)
			return util_errf(err, errlen, -EINVAL,
					 "malformed: text is neither hex nor base64");
		bn = (size_t)m;
	}
	return snp_report_parse(bin, bn, out, err, errlen);
}

/* ------------------------------------------------------------------------------------------ */
/* Certificates                                                                               */

struct snp_chain {
	X509 *leaf, *ica, *ark;
	EVP_PKEY *leaf_key; /* borrowed from leaf */
	struct snp_verdict verdict;
	enum snp_signer kind;
	enum snp_product product;
	uint8_t hwid[64];
	size_t hwid_len; /* 0 when the leaf carries none (VLEK) */
	int spl[10];     /* .1.3.N SPL extensions, N = 1..9; -1 when absent */
};

static bool self_issued(const X509 *x)
{
	return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

static void fmt_time(char *buf, size_t len, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
}

static int asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm)) {
		ERR_clear_error();
		return -EINVAL;
	}
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* Appends the certificates in buf (PEM with one or more certificates, or concatenated DER) to
 * sk. Returns 0 or -EINVAL / -E2BIG / -ENOMEM with v filled. */
static int load_certs(const uint8_t *buf, size_t len, const char *what, STACK_OF(X509) * sk,
		      struct snp_verdict *v)
{
	if (!buf || !len)
		return 0;
	if (len > SNP_CERT_BLOB_MAX_BYTES) {
		verdict_set(v, SNP_ERR_MALFORMED, "%s is %zu bytes, limit %u", what, len,
			    SNP_CERT_BLOB_MAX_BYTES);
		return -E2BIG;
	}
	int count = 0;
	if (memmem(buf, len, "-----BEGIN", 10)) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		if (!bio)
			goto nomem;
		for (;;) {
			X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
			if (!x)
				break;
			if (!sk_X509_push(sk, x)) {
				X509_free(x);
				BIO_free(bio);
				goto nomem;
			}
			count++;
		}
		unsigned long e = ERR_peek_last_error();
		BIO_free(bio);
		ERR_clear_error();
		if (count == 0 || ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
			verdict_set(v, SNP_ERR_MALFORMED,
				    "malformed: %s: PEM certificate %d does not parse", what,
				    count + 1);
			return -EINVAL;
		}
	} else {
		size_t off = 0;
		while (off < len) {
			const unsigned char *p = buf + off;
			X509 *x = d2i_X509(NULL, &p, (long)(len - off));
			if (!x) {
				ERR_clear_error();
				verdict_set(v, SNP_ERR_MALFORMED,
					    "malformed at offset %zu: %s: DER certificate %d does "
					    "not parse",
					    off, what, count + 1);
				return -EINVAL;
			}
			if (!sk_X509_push(sk, x)) {
				X509_free(x);
				goto nomem;
			}
			count++;
			off = (size_t)(p - buf);
		}
	}
	for (int i = sk_X509_num(sk) - count; i < sk_X509_num(sk); i++) {
		int n = i2d_X509(sk_X509_value(sk, i), NULL);
		if (n <= 0 || (unsigned)n > SNP_CERT_MAX_BYTES) {
			ERR_clear_error();
			verdict_set(v, SNP_ERR_MALFORMED, "%s: a certificate is %d bytes, limit %u",
				    what, n, SNP_CERT_MAX_BYTES);
			return -E2BIG;
		}
	}
	return 0;
nomem:
	ERR_clear_error();
	verdict_set(v, SNP_ERR_INTERNAL, "out of memory");
	return -ENOMEM;
}

/* The DER value of the extension with this OID, NULL when absent. -EINVAL when repeated. */
static int find_ext(const X509 *x, const char *oid, const ASN1_OCTET_STRING **out)
{
	*out = NULL;
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	if (!obj)
		return -ENOMEM;
	int i = X509_get_ext_by_OBJ(x, obj, -1);
	int j = i >= 0 ? X509_get_ext_by_OBJ(x, obj, i) : -1;
	ASN1_OBJECT_free(obj);
	if (j >= 0)
		return -EINVAL;
	if (i >= 0)
		*out = X509_EXTENSION_get_data(X509_get_ext(x, i));
	return 0;
}

/* An SPL extension: a DER INTEGER 0..255 ("02 01 08", "02 02 00 d9"). */
static int ext_spl(const ASN1_OCTET_STRING *os, int *out)
{
	const unsigned char *p = ASN1_STRING_get0_data(os);
	long n = ASN1_STRING_length(os);
	const unsigned char *q = p;
	ASN1_INTEGER *ai = d2i_ASN1_INTEGER(NULL, &q, n);
	int64_t val;
	int rc = -EINVAL;
	if (ai && q == p + n && ASN1_INTEGER_get_int64(&val, ai) == 1 && val >= 0 && val <= 255) {
		*out = (int)val;
		rc = 0;
	}
	ASN1_INTEGER_free(ai);
	ERR_clear_error();
	return rc;
}

/* An IA5String extension (productName, cspId) into buf. */
static int ext_ia5(const ASN1_OCTET_STRING *os, char *buf, size_t len)
{
	const unsigned char *p = ASN1_STRING_get0_data(os);
	long n = ASN1_STRING_length(os);
	const unsigned char *q = p;
	ASN1_IA5STRING *s = d2i_ASN1_IA5STRING(NULL, &q, n);
	int rc = -EINVAL;
	if (s && q == p + n) {
		int sl = ASN1_STRING_length(s);
		const unsigned char *d = ASN1_STRING_get0_data(s);
		if (sl >= 0 && (size_t)sl < len && !memchr(d, 0, (size_t)sl)) {
			memcpy(buf, d, (size_t)sl);
			buf[sl] = '\0';
			rc = 0;
		}
	}
	ASN1_IA5STRING_free(s);
	ERR_clear_error();
	return rc;
}

/* hwID: a DER OCTET STRING of 64 bytes (8 on Turin), or the same bytes raw (older
 * certificates). The raw form wins when the bytes do not parse as exactly one OCTET STRING of
 * an allowed length. */
static int ext_hwid(const ASN1_OCTET_STRING *os, bool turin, uint8_t *out, size_t *out_len)
{
	const unsigned char *p = ASN1_STRING_get0_data(os);
	long n = ASN1_STRING_length(os);
	const unsigned char *q = p;
	ASN1_OCTET_STRING *in = d2i_ASN1_OCTET_STRING(NULL, &q, n);
	ERR_clear_error();
	if (in && q == p + n) {
		int il = ASN1_STRING_length(in);
		if (il == 64 || (turin && il == 8)) {
			memcpy(out, ASN1_STRING_get0_data(in), (size_t)il);
			*out_len = (size_t)il;
			ASN1_OCTET_STRING_free(in);
			return 0;
		}
	}
	ASN1_OCTET_STRING_free(in);
	if (n == 64 || (turin && n == 8)) {
		memcpy(out, p, (size_t)n);
		*out_len = (size_t)n;
		return 0;
	}
	return -EINVAL;
}

static bool key_is_p384(EVP_PKEY *k)
{
	char grp[32];
	size_t gl = 0;
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
		return false;
	if (!EVP_PKEY_get_group_name(k, grp, sizeof(grp), &gl)) {
		ERR_clear_error();
		return false;
	}
	return strcmp(grp, SN_secp384r1) == 0;
}

/* RSASSA-PSS with SHA-384, as AMD signs every certificate of the chain. */
static bool sig_is_pss384(const X509 *x)
{
	int md = 0, pk = 0, bits = 0;
	uint32_t flags = 0;
	if (X509_get_signature_nid(x) != NID_rsassaPss)
		return false;
	if (!X509_get_signature_info((X509 *)x, &md, &pk, &bits, &flags)) {
		ERR_clear_error();
		return false;
	}
	return md == NID_sha384;
}

static bool verifies(X509 *child, X509 *parent)
{
	EVP_PKEY *k = X509_get0_pubkey(parent);
	int ok = k && X509_verify(child, k) == 1;
	ERR_clear_error();
	return ok;
}

/* Same DER, or same SubjectPublicKeyInfo. */
static bool same_cert_or_key(X509 *a, X509 *b)
{
	if (X509_cmp(a, b) == 0)
		return true;
	unsigned char *da = NULL, *db = NULL;
	int la = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(a), &da);
	int lb = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(b), &db);
	bool eq = la > 0 && la == lb && memcmp(da, db, (size_t)la) == 0;
	OPENSSL_free(da);
	OPENSSL_free(db);
	ERR_clear_error();
	return eq;
}

/* What a chain building step found; owns nothing (pointers into the stacks). */
struct chain_ctx {
	STACK_OF(X509) * supplied; /* leaf blob + chain blob */
	STACK_OF(X509) * pinned;   /* amd_certs, same order */
	STACK_OF(X509) * trusted;  /* pinned ARKs + test roots */
	int64_t now;
};

static const char *leaf_word(enum snp_signer k)
{
	return k == SNP_SIGNER_VLEK ? "VLEK" : "VCEK";
}

static const char *ica_word(enum snp_signer k)
{
	return k == SNP_SIGNER_VLEK ? "ASVK" : "ASK";
}

/* Step 2: the leaf's kind, key and extensions. */
static int leaf_facts(struct snp_chain *c, enum snp_product expected, struct snp_verdict *v)
{
	X509 *x = c->leaf;
	char cn[64];
	x509_subject_cn(x, cn, sizeof(cn));
	const ASN1_OCTET_STRING *csp = NULL, *pn = NULL, *hw = NULL;
	int rc = find_ext(x, AMD_OID_PREFIX "5", &csp);
	if (rc == 0)
		rc = find_ext(x, AMD_OID_PREFIX "2", &pn);
	if (rc == 0)
		rc = find_ext(x, AMD_OID_PREFIX "4", &hw);
	if (rc < 0) {
		if (rc == -ENOMEM)
			verdict_set(v, SNP_ERR_INTERNAL, "out of memory");
		else
			verdict_set(v, SNP_ERR_CHAIN,
				    "leaf certificate %s repeats an AMD extension", cn);
		return -1;
	}
	if (strcmp(cn, "SEV-VCEK") == 0)
		c->kind = SNP_SIGNER_VCEK;
	else if (strcmp(cn, "SEV-VLEK") == 0 || csp)
		c->kind = SNP_SIGNER_VLEK;
	else {
		verdict_set(v, SNP_ERR_CHAIN,
			    "leaf certificate CN %s is neither SEV-VCEK nor SEV-VLEK", cn);
		return -1;
	}
	const char *lw = leaf_word(c->kind);
	c->leaf_key = X509_get0_pubkey(x);
	ERR_clear_error();
	if (!key_is_p384(c->leaf_key)) {
		verdict_set(v, SNP_ERR_CHAIN, "%s key is not EC P-384", lw);
		return -1;
	}

	/* Product: productName, else the issuer's name (SEV-Milan, SEV-VLEK-Milan). */
	char icn[64];
	x509_issuer_cn(x, icn, sizeof(icn));
	const char *ip = icn;
	if (strncmp(ip, "SEV-VLEK-", 9) == 0)
		ip += 9;
	else if (strncmp(ip, "SEV-", 4) == 0)
		ip += 4;
	enum snp_product from_issuer = product_from_str(ip);
	enum snp_product p = from_issuer;
	char pname[64] = "";
	if (pn) {
		if (ext_ia5(pn, pname, sizeof(pname)) < 0) {
			verdict_set(v, SNP_ERR_CHAIN, "%s productName extension is malformed", lw);
			return -1;
		}
		p = product_from_str(pname);
		if (p == SNP_PRODUCT_UNKNOWN) {
			verdict_set(v, SNP_ERR_CHAIN,
				    "%s productName %s is not Milan, Genoa or Turin", lw, pname);
			return -1;
		}
		if (from_issuer != SNP_PRODUCT_UNKNOWN && from_issuer != p) {
			verdict_set(v, SNP_ERR_CHAIN, "%s productName %s but issuer %s", lw, pname,
				    icn);
			return -1;
		}
	}
	if (p == SNP_PRODUCT_UNKNOWN) {
		verdict_set(v, SNP_ERR_CHAIN, "%s product unknown: no productName, issuer %s", lw,
			    icn);
		return -1;
	}
	c->product = p;
	if (expected != SNP_PRODUCT_UNKNOWN && expected != p) {
		verdict_set(v, SNP_ERR_CHAIN, "expected a %s chain, but the %s is for %s (%s)",
			    product_name(expected), lw, product_name(p), pn ? pname : icn);
		return -1;
	}

	/* TCB SPLs: bl, tee, snp, ucode always; fmc on Turin; 4-7 reserved (absent = 0). */
	static const char *const spl_names[10] = {
		NULL,   "blSPL", "teeSPL", "snpSPL",   "spl4",
		"spl5", "spl6",  "spl7",   "ucodeSPL", "fmcSPL"
	};
	for (int i = 1; i <= 9; i++) {
		char oid[48];
		snprintf(oid, sizeof(oid), AMD_OID_PREFIX "3.%d", i);
		const ASN1_OCTET_STRING *os = NULL;
		c->spl[i] = -1;
		int erc = find_ext(x, oid, &os);
		if (erc < 0) {
			if (erc == -ENOMEM)
				verdict_set(v, SNP_ERR_INTERNAL, "out of memory");
			else
				verdict_set(v, SNP_ERR_CHAIN, "%s repeats the %s extension", lw,
					    spl_names[i]);
			return -1;
		}
		if (!os) {
			bool needed = i <= 3 || i == 8 || (i == 9 && p == SNP_PRODUCT_TURIN);
			if (needed) {
				verdict_set(v, SNP_ERR_CHAIN, "%s lacks the %s extension (%s)", lw,
					    spl_names[i], oid);
				return -1;
			}
			continue;
		}
		if (ext_spl(os, &c->spl[i]) < 0) {
			verdict_set(v, SNP_ERR_CHAIN, "%s %s extension is not an INTEGER 0..255",
				    lw, spl_names[i]);
			return -1;
		}
	}

	if (hw) {
		if (ext_hwid(hw, p == SNP_PRODUCT_TURIN, c->hwid, &c->hwid_len) < 0) {
			verdict_set(v, SNP_ERR_CHAIN, "%s hwID extension is malformed (%d bytes)",
				    lw, ASN1_STRING_length(hw));
			return -1;
		}
	} else if (c->kind == SNP_SIGNER_VCEK) {
		verdict_set(v, SNP_ERR_CHAIN,
			    "VCEK lacks the hwID extension (" AMD_OID_PREFIX "4)");
		return -1;
	}
	return 0;
}

/* Steps 3-5: ASK/ASVK and ARK. */
static int build_path(struct snp_chain *c, struct chain_ctx *x, struct snp_verdict *v)
{
	const char *lw = leaf_word(c->kind), *iw = ica_word(c->kind);
	char icn[64], rcn[64], cn[64];
	x509_issuer_cn(c->leaf, icn, sizeof(icn));
	const X509_NAME *want = X509_get_issuer_name(c->leaf);

	bool any_ica = false;
	X509 *first = NULL;
	for (int i = 0; i < sk_X509_num(x->supplied); i++) {
		X509 *s = sk_X509_value(x->supplied, i);
		if (s == c->leaf || self_issued(s))
			continue;
		any_ica = true;
		if (X509_NAME_cmp(X509_get_subject_name(s), want) != 0)
			continue;
		if (!first)
			first = s;
		if (verifies(c->leaf, s)) {
			c->ica = s;
			break;
		}
	}
	if (!any_ica) {
		for (int i = 0; i < sk_X509_num(x->pinned); i++) {
			X509 *s = sk_X509_value(x->pinned, i);
			if (amd_certs[i].kind == AMD_CERT_ARK ||
			    X509_NAME_cmp(X509_get_subject_name(s), want) != 0)
				continue;
			if (!first)
				first = s;
			if (verifies(c->leaf, s)) {
				c->ica = s;
				break;
			}
		}
	}
	if (!c->ica && !first) {
		char have[160] = "";
		size_t hl = 0;
		for (int i = 0; i < sk_X509_num(x->supplied) && hl + 1 < sizeof(have); i++) {
			X509 *s = sk_X509_value(x->supplied, i);
			if (s == c->leaf)
				continue;
			x509_subject_cn(s, cn, sizeof(cn));
			int w = snprintf(have + hl, sizeof(have) - hl, "%s%s", hl ? ", " : "", cn);
			if (w > 0)
				hl += (size_t)w < sizeof(have) - hl ? (size_t)w
								    : sizeof(have) - hl - 1;
		}
		if (self_issued(c->leaf) || strncmp(icn, "ARK-", 4) == 0)
			verdict_set(v, SNP_ERR_CHAIN, "%s issuer is %s, want an %s", lw, icn, iw);
		else
			verdict_set(v, SNP_ERR_CHAIN,
				    "%s issuer is %s, no matching %s in the supplied chain (it "
				    "holds: %s)",
				    lw, icn, iw, hl ? have : "nothing");
		return -1;
	}
	if (!c->ica) {
		verdict_set(v, SNP_ERR_CHAIN, "%s signature by %s %s does not verify", lw, iw, icn);
		return -1;
	}

	/* The root: supplied roots must be pinned; otherwise the pinned one of that name. */
	x509_issuer_cn(c->ica, rcn, sizeof(rcn));
	const X509_NAME *rwant = X509_get_issuer_name(c->ica);
	STACK_OF(X509) *cands = sk_X509_new_null();
	if (!cands) {
		verdict_set(v, SNP_ERR_INTERNAL, "out of memory");
		return -1;
	}
	int rc = -1;
	for (int i = 0; i < sk_X509_num(x->supplied); i++) {
		X509 *s = sk_X509_value(x->supplied, i);
		if (s == c->leaf || !self_issued(s) ||
		    X509_NAME_cmp(X509_get_subject_name(s), rwant) != 0)
			continue;
		bool pinned = false;
		for (int j = 0; j < sk_X509_num(x->trusted) && !pinned; j++)
			pinned = same_cert_or_key(s, sk_X509_value(x->trusted, j));
		if (!pinned) {
			verdict_set(v, SNP_ERR_UNKNOWN_ROOT,
				    "%s in the supplied chain is not a pinned AMD root", rcn);
			goto out;
		}
		if (!sk_X509_push(cands, s))
			goto nomem;
	}
	if (sk_X509_num(cands) == 0) {
		for (int j = 0; j < sk_X509_num(x->trusted); j++) {
			X509 *t = sk_X509_value(x->trusted, j);
			if (X509_NAME_cmp(X509_get_subject_name(t), rwant) == 0 &&
			    !sk_X509_push(cands, t))
				goto nomem;
		}
	}
	x509_subject_cn(c->ica, cn, sizeof(cn));
	if (sk_X509_num(cands) == 0) {
		verdict_set(v, SNP_ERR_UNKNOWN_ROOT, "%s %s is issued by %s, not a pinned AMD root",
			    iw, cn, rcn);
		goto out;
	}
	for (int j = 0; j < sk_X509_num(cands) && !c->ark; j++)
		if (verifies(c->ica, sk_X509_value(cands, j)))
			c->ark = sk_X509_value(cands, j);
	if (!c->ark) {
		verdict_set(v, SNP_ERR_CHAIN, "%s %s signature by %s does not verify", iw, cn, rcn);
		goto out;
	}
	if (!verifies(c->ark, c->ark)) {
		verdict_set(v, SNP_ERR_CHAIN, "%s self-signature does not verify", rcn);
		goto out;
	}
	if (X509_check_ca(c->ica) == 0) {
		verdict_set(v, SNP_ERR_CHAIN, "%s %s is not a CA certificate", iw, cn);
		goto out;
	}
	if (X509_check_ca(c->ark) == 0) {
		verdict_set(v, SNP_ERR_CHAIN, "%s is not a CA certificate", rcn);
		goto out;
	}
	if (!sig_is_pss384(c->leaf) || !sig_is_pss384(c->ica) || !sig_is_pss384(c->ark)) {
		verdict_set(v, SNP_ERR_CHAIN, "the chain is not signed with RSASSA-PSS SHA-384");
		goto out;
	}
	/* AMD names: ARK-<P>, SEV-<P> (VCEK) or SEV-VLEK-<P> (VLEK). */
	const char *pn = product_name(c->product);
	char want_ica[40], want_ark[40];
	snprintf(want_ica, sizeof(want_ica), c->kind == SNP_SIGNER_VLEK ? "SEV-VLEK-%s" : "SEV-%s",
		 pn);
	snprintf(want_ark, sizeof(want_ark), "ARK-%s", pn);
	if (strcmp(cn, want_ica) != 0) {
		verdict_set(v, SNP_ERR_CHAIN, "%s is issued by %s, want %s", lw, cn, want_ica);
		goto out;
	}
	if (strcmp(rcn, want_ark) != 0) {
		verdict_set(v, SNP_ERR_CHAIN, "%s is issued by %s, want %s", iw, rcn, want_ark);
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	verdict_set(v, SNP_ERR_INTERNAL, "out of memory");
out:
	sk_X509_free(cands);
	ERR_clear_error();
	return rc;
}

/* Step 6: CRLs. */
static int check_crls(struct snp_chain *c, const struct snp_chain_opts *o, int64_t now,
		      struct snp_verdict *v)
{
	if (!o->crl || !o->crl_len)
		return 0;
	if (o->crl_len > SNP_CRL_MAX_BYTES) {
		verdict_set(v, SNP_ERR_MALFORMED, "CRL input is %zu bytes, limit %u", o->crl_len,
			    SNP_CRL_MAX_BYTES);
		return -1;
	}
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	if (!crls) {
		verdict_set(v, SNP_ERR_INTERNAL, "out of memory");
		return -1;
	}
	int rc = -1;
	if (memmem(o->crl, o->crl_len, "-----BEGIN", 10)) {
		BIO *bio = BIO_new_mem_buf(o->crl, (int)o->crl_len);
		X509_CRL *crl;
		while (bio && (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
			if (sk_X509_CRL_num(crls) >= SNP_CRL_MAX_COUNT ||
			    !sk_X509_CRL_push(crls, crl)) {
				X509_CRL_free(crl);
				BIO_free(bio);
				verdict_set(v, SNP_ERR_MALFORMED, "more than %d CRLs",
					    SNP_CRL_MAX_COUNT);
				goto out;
			}
		}
		unsigned long e = ERR_peek_last_error();
		BIO_free(bio);
		if (sk_X509_CRL_num(crls) == 0 || ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
			verdict_set(v, SNP_ERR_MALFORMED, "malformed: PEM CRL %d does not parse",
				    sk_X509_CRL_num(crls) + 1);
			goto out;
		}
	} else {
		size_t off = 0;
		while (off < o->crl_len) {
			const unsigned char *p = o->crl + off;
			X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)(o->crl_len - off));
			if (!crl) {
				verdict_set(v, SNP_ERR_MALFORMED,
					    "malformed at offset %zu: DER CRL %d does not parse",
					    off, sk_X509_CRL_num(crls) + 1);
				goto out;
			}
			if (sk_X509_CRL_num(crls) >= SNP_CRL_MAX_COUNT ||
			    !sk_X509_CRL_push(crls, crl)) {
				X509_CRL_free(crl);
				verdict_set(v, SNP_ERR_MALFORMED, "more than %d CRLs",
					    SNP_CRL_MAX_COUNT);
				goto out;
			}
			off = (size_t)(p - o->crl);
		}
	}
	for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(crls, i);
		X509 *issuer = NULL, *subject = NULL;
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(c->ark)) == 0) {
			issuer = c->ark;
			subject = c->ica;
		} else if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(c->ica)) ==
			   0) {
			issuer = c->ica;
			subject = c->leaf;
		} else {
			continue; /* another product's or issuer's list */
		}
		char icn[64], scn[64], when[40];
		x509_subject_cn(issuer, icn, sizeof(icn));
		x509_subject_cn(subject, scn, sizeof(scn));
		if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
			verdict_set(v, SNP_ERR_CHAIN, "CRL of %s: signature does not verify", icn);
			goto out;
		}
		int64_t t;
		if (asn1_time_unix(X509_CRL_get0_lastUpdate(crl), &t) < 0) {
			verdict_set(v, SNP_ERR_MALFORMED, "CRL of %s: bad thisUpdate", icn);
			goto out;
		}
		if (t > now) {
			fmt_time(when, sizeof(when), t);
			verdict_set(v, SNP_ERR_EXPIRED, "CRL of %s not valid before %s", icn, when);
			goto out;
		}
		if (X509_CRL_get0_nextUpdate(crl)) {
			if (asn1_time_unix(X509_CRL_get0_nextUpdate(crl), &t) < 0) {
				verdict_set(v, SNP_ERR_MALFORMED, "CRL of %s: bad nextUpdate", icn);
				goto out;
			}
			if (t < now) {
				fmt_time(when, sizeof(when), t);
				verdict_set(v, SNP_ERR_EXPIRED, "CRL of %s is stale: nextUpdate %s",
					    icn, when);
				goto out;
			}
		}
		X509_REVOKED *rev = NULL;
		if (X509_CRL_get0_by_cert(crl, &rev, subject) == 1) {
			const ASN1_INTEGER *sn = X509_get0_serialNumber(subject);
			int64_t snv = -1;
			if (ASN1_INTEGER_get_int64(&snv, sn) != 1)
				snv = -1;
			int64_t rt = 0;
			if (asn1_time_unix(X509_REVOKED_get0_revocationDate(rev), &rt) < 0)
				rt = 0;
			fmt_time(when, sizeof(when), rt);
			const char *what =
				subject == c->ica ? ica_word(c->kind) : leaf_word(c->kind);
			verdict_set(v, SNP_ERR_REVOKED,
				    "%s %s (serial 0x%llx) revoked by the CRL of %s on %s", what,
				    scn, (unsigned long long)snv, icn, when);
			goto out;
		}
	}
	rc = 0;
out:
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	ERR_clear_error();
	return rc;
}

/* Step 7: validity periods. */
static int check_times(const X509 *x, const char *what, int64_t now, struct snp_verdict *v)
{
	int64_t nb, na;
	char when[40];
	if (asn1_time_unix(X509_get0_notBefore(x), &nb) < 0 ||
	    asn1_time_unix(X509_get0_notAfter(x), &na) < 0) {
		verdict_set(v, SNP_ERR_CHAIN, "%s has an unreadable validity period", what);
		return -1;
	}
	if (now < nb) {
		fmt_time(when, sizeof(when), nb);
		verdict_set(v, SNP_ERR_EXPIRED, "%s not valid before %s", what, when);
		return -1;
	}
	if (now > na) {
		fmt_time(when, sizeof(when), na);
		verdict_set(v, SNP_ERR_EXPIRED, "%s expired %s", what, when);
		return -1;
	}
	return 0;
}

static int verify_chain(struct snp_chain *c, const struct snp_chain_opts *o, struct chain_ctx *x,
			struct snp_verdict *v)
{
	if (leaf_facts(c, o->product, v) < 0 || build_path(c, x, v) < 0 ||
	    check_crls(c, o, x->now, v) < 0)
		return -1;
	char cn[64], what[80];
	x509_subject_cn(c->ica, cn, sizeof(cn));
	if (check_times(c->leaf, leaf_word(c->kind), x->now, v) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s %s", ica_word(c->kind), cn);
	if (check_times(c->ica, what, x->now, v) < 0)
		return -1;
	x509_subject_cn(c->ark, cn, sizeof(cn));
	snprintf(what, sizeof(what), "ARK %s", cn);
	return check_times(c->ark, what, x->now, v);
}

struct snp_chain *snp_chain_new(const struct snp_chain_opts *o, struct snp_verdict *v)
{
	struct snp_verdict local;
	if (!v)
		v = &local;
	memset(v, 0, sizeof(*v));
	if (!o) {
		verdict_set(v, SNP_ERR_MALFORMED, "no options");
		return NULL;
	}
	struct chain_ctx x = { 0 };
	struct snp_chain *c = NULL;
	x.supplied = sk_X509_new_null();
	x.pinned = sk_X509_new_null();
	x.trusted = sk_X509_new_null();
	STACK_OF(X509) *test = sk_X509_new_null();
	if (!x.supplied || !x.pinned || !x.trusted || !test)
		goto nomem;
	x.now = o->now ? o->now : (int64_t)time(NULL);

	if (load_certs(o->leaf, o->leaf_len, "leaf certificate", x.supplied, v) < 0)
		goto fail;
	int n_leafblob = sk_X509_num(x.supplied);
	if (load_certs(o->chain, o->chain_len, "certificate chain", x.supplied, v) < 0 ||
	    load_certs(o->test_roots, o->test_roots_len, "test roots", test, v) < 0)
		goto fail;
	if (sk_X509_num(x.supplied) == 0) {
		verdict_set(v, SNP_ERR_MALFORMED, "no certificates supplied");
		goto fail;
	}
	if (sk_X509_num(x.supplied) + sk_X509_num(test) > SNP_CHAIN_MAX_CERTS) {
		verdict_set(v, SNP_ERR_MALFORMED, "%d certificates, limit %d",
			    sk_X509_num(x.supplied) + sk_X509_num(test), SNP_CHAIN_MAX_CERTS);
		goto fail;
	}
	for (size_t i = 0; i < AMD_CERTS_COUNT; i++) {
		BIO *bio = BIO_new_mem_buf(amd_certs[i].pem, -1);
		X509 *p = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!p || !sk_X509_push(x.pinned, p)) {
			X509_free(p);
			goto nomem;
		}
		if (amd_certs[i].kind == AMD_CERT_ARK && !sk_X509_push(x.trusted, p))
			goto nomem;
	}
	for (int i = 0; i < sk_X509_num(test); i++)
		if (!sk_X509_push(x.trusted, sk_X509_value(test, i)))
			goto nomem;

	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	/* The leaf: the first non-CA certificate of the leaf blob, or of the chain blob when no
	 * leaf blob was given. */
	int leaf_end = n_leafblob > 0 ? n_leafblob : sk_X509_num(x.supplied);
	for (int i = 0; i < leaf_end && !c->leaf; i++)
		if (X509_check_ca(sk_X509_value(x.supplied, i)) == 0)
			c->leaf = sk_X509_value(x.supplied, i);
	ERR_clear_error();
	if (!c->leaf)
		verdict_set(v, SNP_ERR_CHAIN, "no VCEK or VLEK (non-CA certificate) supplied");
	else if (verify_chain(c, o, &x, v) == 0)
		verdict_set(v, SNP_OK, "certificate chain verified: %s -> %s -> ARK-%s",
			    leaf_word(c->kind), c->kind == SNP_SIGNER_VLEK ? "ASVK" : "ASK",
			    product_name(c->product));
	v->product = c->product;
	v->signer = c->kind;
	/* Keep what the chain needs beyond the stacks (up-ref; the stacks free theirs). */
	X509 *keep[3] = { c->leaf, c->ica, c->ark };
	for (int i = 0; i < 3; i++)
		if (keep[i])
			X509_up_ref(keep[i]);
	c->verdict = *v;
	goto done;
nomem:
	verdict_set(v, SNP_ERR_INTERNAL, "out of memory");
fail:
	free(c);
	c = NULL;
done:
	sk_X509_pop_free(x.supplied, X509_free);
	sk_X509_pop_free(x.pinned, X509_free);
	sk_X509_free(x.trusted);
	sk_X509_pop_free(test, X509_free);
	ERR_clear_error();
	return c;
}

void snp_chain_free(struct snp_chain *c)
{
	if (!c)
		return;
	X509_free(c->leaf);
	X509_free(c->ica);
	X509_free(c->ark);
	free(c);
}

/* ECDSA P-384 over SHA-384(raw[0..0x29F]); R and S little-endian, 72 bytes each. */
static int report_sig_ok(EVP_PKEY *key, const uint8_t *raw)
{
	unsigned char digest[48];
	unsigned int dl = 0;
	int ok = 0;
	unsigned char *der = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_lebin2bn(raw + 0x2A0, 72, NULL), *s = BN_lebin2bn(raw + 0x2E8, 72, NULL);
	if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		ok = -1;
		goto out;
	}
	int dn = i2d_ECDSA_SIG(sig, &der);
	if (dn <= 0 || !EVP_Digest(raw, SNP_SIGNED_BYTES, digest, &dl, EVP_sha384(), NULL)) {
		ok = -1;
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!ctx || EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha384()) <= 0) {
		ok = -1;
		goto out;
	}
	ok = EVP_PKEY_verify(ctx, der, (size_t)dn, digest, dl) == 1;
out:
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	ERR_clear_error();
	return ok;
}

int snp_verify_report(const struct snp_chain *c, const struct snp_report *r, struct snp_verdict *v)
{
	struct snp_verdict local;
	if (!v)
		v = &local;
	memset(v, 0, sizeof(*v));
	if (!c || !r) {
		verdict_set(v, SNP_ERR_INTERNAL, "no chain or no report");
		return -1;
	}
	if (c->verdict.reason != SNP_OK) {
		*v = c->verdict;
		return -1;
	}
	v->product = c->product;
	v->signer = c->kind;
	const uint8_t *raw = r->raw;
	const char *lw = leaf_word(c->kind);

	uint32_t flags = util_le32(raw + 0x48);
	uint32_t key = (flags >> 2) & 7;
	if (key == SNP_SIGNER_NONE) {
		verdict_set(v, SNP_ERR_SIGNER_MISMATCH,
			    "report is not signed (signing key 7, none)");
		return -1;
	}
	if (key != (uint32_t)c->kind) {
		verdict_set(v, SNP_ERR_SIGNER_MISMATCH,
			    "report is signed by a %s (signing key %u) but a %s was supplied",
			    key == SNP_SIGNER_VLEK   ? "VLEK"
			    : key == SNP_SIGNER_VCEK ? "VCEK"
						     : "?",
			    key, lw);
		return -1;
	}

	uint32_t version = util_le32(raw);
	if (version >= 3) {
		enum snp_product rp = product_from_cpuid(raw[0x188], raw[0x189]);
		if (rp != SNP_PRODUCT_UNKNOWN && rp != c->product) {
			verdict_set(
				v, SNP_ERR_CHAIN,
				"report CPUID family 0x%02x model 0x%02x is %s, the %s is for %s",
				raw[0x188], raw[0x189], product_name(rp), lw,
				product_name(c->product));
			return -1;
		}
	}

	static const uint8_t zero[64];
	const uint8_t *chip = raw + 0x1A0;
	if (c->kind == SNP_SIGNER_VCEK && !(flags & 2) && memcmp(chip, zero, 64) != 0 &&
	    c->hwid_len && memcmp(chip, c->hwid, c->hwid_len) != 0) {
		char a[17], b[17];
		util_hex(a, chip, 8);
		util_hex(b, c->hwid, 8);
		verdict_set(v, SNP_ERR_CHIP_MISMATCH, "CHIP_ID %s... != VCEK hwID %s...", a, b);
		return -1;
	}

	uint64_t tcb_raw = util_le64(raw + 0x180);
	struct snp_tcb t = snp_tcb_decode(tcb_raw, c->product);
	/* Milan/Genoa bytes 2-5 are the reserved SPLs 4-7 (absent in the VCEK = 0); Turin has
	 * no such mapping. */
	bool turin = c->product == SNP_PRODUCT_TURIN;
	int rsv[4], rsv_want[4];
	for (int i = 0; i < 4; i++) {
		rsv[i] = turin ? 0 : (int)((tcb_raw >> (16 + 8 * i)) & 0xff);
		rsv_want[i] = turin || c->spl[4 + i] < 0 ? 0 : c->spl[4 + i];
	}
	const struct {
		const char *comp, *ext;
		int have, want;
	} cmp[] = {
		{ "bootloader", "blSPL", t.bootloader, c->spl[1] },
		{ "tee", "teeSPL", t.tee, c->spl[2] },
		{ "snp", "snpSPL", t.snp, c->spl[3] },
		{ "microcode", "ucodeSPL", t.microcode, c->spl[8] },
		{ "fmc", "fmcSPL", t.fmc, turin ? c->spl[9] : 0 },
		{ "byte 2", "spl4", rsv[0], rsv_want[0] },
		{ "byte 3", "spl5", rsv[1], rsv_want[1] },
		{ "byte 4", "spl6", rsv[2], rsv_want[2] },
		{ "byte 5", "spl7", rsv[3], rsv_want[3] },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cmp); i++) {
		if (cmp[i].have != cmp[i].want) {
			verdict_set(v, SNP_ERR_TCB_MISMATCH,
				    "REPORTED_TCB %s %d != %s %s %d (REPORTED_TCB 0x%016llx)",
				    cmp[i].comp, cmp[i].have, lw, cmp[i].ext, cmp[i].want,
				    (unsigned long long)tcb_raw);
			return -1;
		}
	}

	int ok = report_sig_ok(c->leaf_key, raw);
	if (ok < 0) {
		verdict_set(v, SNP_ERR_INTERNAL, "OpenSSL failure while verifying the signature");
		return -1;
	}
	if (!ok) {
		verdict_set(v, SNP_ERR_BAD_SIGNATURE,
			    "report signature does not verify with the %s key", lw);
		return -1;
	}
	verdict_set(v, SNP_OK, "report verified: %s signature, %s, %s chain", lw,
		    c->kind == SNP_SIGNER_VCEK && c->hwid_len ? "chip id and TCB match"
							      : "TCB matches",
		    product_name(c->product));
	return 0;
}

int snp_verify(const struct snp_report *r, const struct snp_chain_opts *o, struct snp_verdict *v)
{
	struct snp_verdict local;
	if (!v)
		v = &local;
	struct snp_chain *c = snp_chain_new(o, v);
	if (!c)
		return -1;
	int rc = snp_verify_report(c, r, v);
	snp_chain_free(c);
	return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Certificate table (GHCB extended guest request / configfs-tsm auxblob)                    */

static const uint8_t guid_ark[16] = { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
				      0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae };
static const uint8_t guid_ask[16] = { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
				      0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 };
static const uint8_t guid_vcek[16] = { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
				       0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };
static const uint8_t guid_vlek[16] = { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
				       0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 };
static const uint8_t guid_crl[16] = { 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d,
				      0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea };

int snp_certtable_parse(const uint8_t *buf, size_t len, struct snp_certtable *out)
{
	if (!out || (!buf && len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	static const uint8_t zero[SNP_CERTTABLE_ENTRY_BYTES];
	size_t n = 0; /* entries before the terminator */
	for (;;) {
		size_t off = n * SNP_CERTTABLE_ENTRY_BYTES;
		if (off > len || len - off < SNP_CERTTABLE_ENTRY_BYTES)
			return -EINVAL; /* no terminator */
		if (memcmp(buf + off, zero, SNP_CERTTABLE_ENTRY_BYTES) == 0)
			break;
		if (++n > SNP_CERTTABLE_MAX_ENTRIES)
			return -E2BIG;
	}
	const uint64_t table_end = (uint64_t)(n + 1) * SNP_CERTTABLE_ENTRY_BYTES;
	struct {
		const uint8_t *guid;
		const uint8_t **ptr;
		size_t *len;
	} known[] = {
		{ guid_vcek, &out->vcek, &out->vcek_len },
		{ guid_vlek, &out->vlek, &out->vlek_len },
		{ guid_ask, &out->ask, &out->ask_len },
		{ guid_ark, &out->ark, &out->ark_len },
		{ guid_crl, &out->crl, &out->crl_len },
	};
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = buf + i * SNP_CERTTABLE_ENTRY_BYTES;
		uint64_t eo = util_le32(e + 16), el = util_le32(e + 20);
		if (el == 0 || eo < table_end || eo + el > len)
			goto bad;
		for (size_t j = 0; j < i; j++) {
			const uint8_t *f = buf + j * SNP_CERTTABLE_ENTRY_BYTES;
			uint64_t fo = util_le32(f + 16), fl = util_le32(f + 20);
			if (eo < fo + fl && fo < eo + el)
				goto bad; /* overlapping data */
			if (memcmp(e, f, 16) == 0)
				goto bad; /* duplicate GUID */
		}
		for (size_t k = 0; k < ARRAY_SIZE(known); k++) {
			if (memcmp(e, known[k].guid, 16) == 0) {
				*known[k].ptr = buf + eo;
				*known[k].len = (size_t)el;
			}
		}
	}
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}
