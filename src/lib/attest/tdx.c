/*
 * attest/tdx.c - Intel TDX quote parser and verifier with offline collateral (see tdx.h), on
 * OpenSSL 3 and jansson.
 *
 * Parsing (tdx_quote_parse) walks the quote with explicit bounds: header (version 4/5, key
 * type 2, TEE type 0x81), the body (v4: 584 bytes at 48; v5: u16 type 2/3 and u32 size at 48,
 * body at 54), u32 signature data length, then inside the signature data the quote signature,
 * the attestation key and certification data type 6 (QE report, its signature, the QE
 * authentication data, nested certification data type 5 with the PEM PCK chain). Every nested
 * length must fit inside its parent and the type-6 data must end exactly where the signature
 * data does; when an inner length runs past the signature data, the signature data length at
 * its offset (0x278 for v4) is the field reported. Bytes after the signature data are padding
 * (some tools append zeros or text) and are ignored.
 *
 * Collateral (tdx_collateral_new) is checked once: each JSON document is parsed strictly with
 * jansson (duplicate keys refused) and its "tcbInfo" / "enclaveIdentity" value is located in
 * the raw text by a small JSON scanner, because the signature is over those exact bytes as
 * served; the signer ("Intel SGX TCB Signing") must be signed by the pinned root; CRLs must be
 * signed by their issuer. Chains (tdx_chain_new) are checked once per PCK chain, top-down:
 * root (pinned, self-signature), intermediate by root, PCK by intermediate, then the SGX
 * extensions are read with a bounded DER walker (not OpenSSL's generic parser: the structure is
 * fixed and small) and revocation is looked up. tdx_verify_quote does the per-quote work - two
 * ECDSA verifications, a SHA-256 and comparisons - and every time-dependent check, so a cached
 * collateral and chain stay correct as the clock moves. The step order is documented in tdx.h.
 *
 * TCB matching follows Intel's QVL for TD quotes (attestation-notes section 5): the platform
 * level compares all 16 SGX components and PCESVN from the PCK certificate and all 16 TDX
 * components against TEE_TCB_SVN; the TDX module identity TDX_<nn> (nn = TEE_TCB_SVN[1] in
 * upper-case hex) gives a module level by TEE_TCB_SVN[0]; the QE identity a QE level by ISVSVN;
 * the statuses merge as Intel converges them and the advisory IDs are collected.
 */
#include "attest/tdx.h"
#include "attest/intel_roots.h"
#include "json.h"
#include "util.h"
#include "x509.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TDX_V5_BODY_OFFSET 54
#define TDX_BODY_TYPE_TD10 2
#define TDX_BODY_TYPE_TD15 3
#define TDX_SIGDATA_FIXED_BYTES (TDX_SIG_BYTES + TDX_ATT_KEY_BYTES) /* before cert data */
#define TDX_CERTDATA_HDR_BYTES 6                                    /* u16 type, u32 size */
#define TDX_DATE_BYTES 24
#define TDX_PCK_CN "Intel SGX PCK Certificate"
#define TDX_PLATFORM_CA_CN "Intel SGX PCK Platform CA"
#define TDX_PROCESSOR_CA_CN "Intel SGX PCK Processor CA"
#define TDX_TCB_SIGNING_CN "Intel SGX TCB Signing"

static const uint8_t intel_qe_vendor_id[16] = { 0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
						0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07 };
/* DER of OID 1.2.840.113741.1.13.1 (Intel SGX extensions). */
static const uint8_t sgx_ext_oid[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };

__attribute__((format(printf, 3, 4))) static void
verdict_set(struct tdx_verdict *v, enum tdx_reason r, const char *fmt, ...)
{
	if (!v)
		return;
	v->reason = r;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
}

const char *tdx_reason_name(enum tdx_reason r)
{
	switch (r) {
	case TDX_OK:
		return "ok";
	case TDX_ERR_MALFORMED:
		return "malformed";
	case TDX_ERR_UNSUPPORTED:
		return "unsupported";
	case TDX_ERR_CHAIN:
		return "chain";
	case TDX_ERR_UNKNOWN_ROOT:
		return "unknown_root";
	case TDX_ERR_QE_SIGNATURE:
		return "qe_signature";
	case TDX_ERR_QE_BINDING:
		return "qe_binding";
	case TDX_ERR_BAD_SIGNATURE:
		return "bad_signature";
	case TDX_ERR_EXPIRED:
		return "expired";
	case TDX_ERR_REVOKED:
		return "revoked";
	case TDX_ERR_COLLATERAL:
		return "collateral";
	case TDX_ERR_COLLATERAL_EXPIRED:
		return "collateral_expired";
	case TDX_ERR_QE_IDENTITY:
		return "qe_identity";
	case TDX_ERR_MODULE_IDENTITY:
		return "module_identity";
	case TDX_ERR_TCB_UNSUPPORTED:
		return "tcb_unsupported";
	case TDX_ERR_TCB_REVOKED:
		return "tcb_revoked";
	case TDX_ERR_INTERNAL:
		return "internal";
	}
	return "unknown";
}

static const char *const status_names[TDX_TCB_STATUS_COUNT] = {
	"Unknown",
	"UpToDate",
	"SWHardeningNeeded",
	"ConfigurationNeeded",
	"ConfigurationAndSWHardeningNeeded",
	"OutOfDate",
	"OutOfDateConfigurationNeeded",
	"Revoked",
};

const char *tdx_tcb_status_name(enum tdx_tcb_status s)
{
	if ((unsigned)s >= TDX_TCB_STATUS_COUNT)
		return "Unknown";
	return status_names[s];
}

enum tdx_tcb_status tdx_tcb_status_from_name(const char *s, size_t n)
{
	if (!s)
		return TDX_TCB_UNKNOWN;
	for (int i = 1; i < TDX_TCB_STATUS_COUNT; i++)
		if (strlen(status_names[i]) == n && memcmp(status_names[i], s, n) == 0)
			return (enum tdx_tcb_status)i;
	return TDX_TCB_UNKNOWN;
}

/* A status as the set of things it asks for; merging is the union. */
#define ST_SWH 1u
#define ST_CONF 2u
#define ST_OOD 4u
#define ST_REV 8u

static unsigned status_bits(enum tdx_tcb_status s)
{
	switch (s) {
	case TDX_TCB_SW_HARDENING_NEEDED:
		return ST_SWH;
	case TDX_TCB_CONFIGURATION_NEEDED:
		return ST_CONF;
	case TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
		return ST_CONF | ST_SWH;
	case TDX_TCB_OUT_OF_DATE:
		return ST_OOD;
	case TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED:
		return ST_OOD | ST_CONF;
	case TDX_TCB_REVOKED:
		return ST_REV;
	case TDX_TCB_UNKNOWN:
	case TDX_TCB_UP_TO_DATE:
		break;
	}
	return 0;
}

enum tdx_tcb_status tdx_tcb_status_merge(enum tdx_tcb_status a, enum tdx_tcb_status b)
{
	if (a == TDX_TCB_UNKNOWN)
		return b;
	if (b == TDX_TCB_UNKNOWN)
		return a;
	unsigned m = status_bits(a) | status_bits(b);
	if (m & ST_REV)
		return TDX_TCB_REVOKED;
	if (m & ST_OOD)
		return (m & ST_CONF) ? TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED
				     : TDX_TCB_OUT_OF_DATE;
	if ((m & ST_CONF) && (m & ST_SWH))
		return TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED;
	if (m & ST_CONF)
		return TDX_TCB_CONFIGURATION_NEEDED;
	if (m & ST_SWH)
		return TDX_TCB_SW_HARDENING_NEEDED;
	return TDX_TCB_UP_TO_DATE;
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

/* ------------------------------------------------------------------------------------------ */
/* Quote parsing                                                                              */

bool tdx_quote_sniff(const uint8_t *buf, size_t len)
{
	if (!buf || len < 8)
		return false;
	uint16_t ver = util_le16(buf);
	return (ver == 4 || ver == 5) && util_le32(buf + 4) == TDX_TEE_TYPE_TDX;
}

void tdx_quote_done(struct tdx_quote *q)
{
	if (!q)
		return;
	free(q->raw);
	memset(q, 0, sizeof(*q));
}

static void parse_body(struct tdx_quote *q, const uint8_t *b, bool td15)
{
	memcpy(q->tee_tcb_svn, b, 16);
	memcpy(q->mr_seam, b + 16, 48);
	memcpy(q->mr_signer_seam, b + 64, 48);
	q->seam_attributes = util_le64(b + 112);
	q->td_attributes = util_le64(b + 120);
	q->xfam = util_le64(b + 128);
	memcpy(q->mr_td, b + 136, 48);
	memcpy(q->mr_config_id, b + 184, 48);
	memcpy(q->mr_owner, b + 232, 48);
	memcpy(q->mr_owner_config, b + 280, 48);
	for (int i = 0; i < 4; i++)
		memcpy(q->rtmr[i], b + 328 + 48 * i, 48);
	memcpy(q->report_data, b + 520, 64);
	if (td15) {
		memcpy(q->tee_tcb_svn2, b + 584, 16);
		memcpy(q->mr_servicetd, b + 600, 48);
	}
}

int tdx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return util_errf(err, errlen, -EINVAL, "invalid arguments");
	memset(out, 0, sizeof(*out));
	if (!buf && len)
		return util_errf(err, errlen, -EINVAL, "invalid arguments");
	if (len > TDX_QUOTE_MAX_BYTES)
		return util_errf(err, errlen, -E2BIG, "quote is %zu bytes, limit %u", len,
				 TDX_QUOTE_MAX_BYTES);
	if (len < TDX_HEADER_BYTES)
		return util_errf(
			err, errlen, -EINVAL,
			"malformed at offset %zu: quote is %zu bytes, shorter than its %d-byte "
			"header",
			len, len, TDX_HEADER_BYTES);
	struct tdx_quote q = { 0 };
	q.version = util_le16(buf);
	q.att_key_type = util_le16(buf + 2);
	q.tee_type = util_le32(buf + 4);
	if (q.version != 4 && q.version != 5)
		return util_errf(err, errlen, -ENOTSUP,
				 "unsupported quote version %u at offset 0x0 (supported: 4, 5)",
				 q.version);
	if (q.tee_type != TDX_TEE_TYPE_TDX)
		return util_errf(err, errlen, -ENOTSUP,
				 "unsupported TEE type 0x%x at offset 0x4 (want 0x81, TDX)",
				 q.tee_type);
	if (q.att_key_type != TDX_ATT_KEY_ECDSA_P256)
		return util_errf(err, errlen, -ENOTSUP,
				 "unsupported attestation key type %u at offset 0x2 (want 2, ECDSA "
				 "P-256)",
				 q.att_key_type);
	memcpy(q.qe_vendor_id, buf + 12, 16);
	if (memcmp(q.qe_vendor_id, intel_qe_vendor_id, 16) != 0) {
		char hex[33];
		util_hex(hex, q.qe_vendor_id, 16);
		return util_errf(err, errlen, -ENOTSUP,
				 "unsupported QE vendor ID %s at offset 0xc (want Intel's "
				 "939a7233f79c4ca9940a0db3957f0607)",
				 hex);
	}
	memcpy(q.user_data, buf + 28, 20);

	size_t off = TDX_HEADER_BYTES;
	if (q.version == 4) {
		q.body_type = TDX_BODY_TYPE_TD10;
		q.body_size = TDX_BODY_10_BYTES;
	} else {
		if (len < TDX_V5_BODY_OFFSET)
			return util_errf(
				err, errlen, -EINVAL,
				"malformed at offset %zu: quote is %zu bytes, too short for the "
				"v5 body descriptor",
				len, len);
		q.body_type = util_le16(buf + 48);
		q.body_size = util_le32(buf + 50);
		if (q.body_type == 1)
			return util_errf(
				err, errlen, -ENOTSUP,
				"unsupported body type 1 (SGX enclave report) at offset 0x30: "
				"not a TD quote");
		if (q.body_type != TDX_BODY_TYPE_TD10 && q.body_type != TDX_BODY_TYPE_TD15)
			return util_errf(
				err, errlen, -ENOTSUP,
				"unsupported body type %u at offset 0x30 (supported: 2 TD 1.0, "
				"3 TD 1.5)",
				q.body_type);
		uint32_t want =
			q.body_type == TDX_BODY_TYPE_TD10 ? TDX_BODY_10_BYTES : TDX_BODY_15_BYTES;
		if (q.body_size != want)
			return util_errf(
				err, errlen, -EINVAL,
				"malformed at offset 0x32: body size %u, want %u for body type "
				"%u",
				q.body_size, want, q.body_type);
		off = TDX_V5_BODY_OFFSET;
	}
	if (len - off < (size_t)q.body_size + 4)
		return util_errf(err, errlen, -EINVAL,
				 "malformed at offset %zu: quote is %zu bytes, the body and the "
				 "signature data length need %zu",
				 len, len, off + q.body_size + 4);
	parse_body(&q, buf + off, q.body_type == TDX_BODY_TYPE_TD15);
	off += q.body_size;
	q.signed_len = off;

	const size_t sl_off = off;
	uint32_t sig_len = util_le32(buf + off);
	off += 4;
	const size_t sig_start = off;
	if (sig_len > len - off)
		return util_errf(
			err, errlen, -EINVAL,
			"malformed at offset 0x%zx: signature data length %u exceeds the %zu "
			"bytes after it",
			sl_off, sig_len, len - off);
	const size_t sig_end = off + sig_len;
	/* From here, an inner length that does not fit the signature data is reported at the
	 * signature data length: one of the two is wrong, and the outer one is what the
	 * structure hangs on. */
#define NEED(n, what)                                                                              \
	do {                                                                                       \
		if ((size_t)(n) > sig_end - off)                                                   \
			return util_errf(                                                          \
				err, errlen, -EINVAL,                                              \
				"malformed at offset 0x%zx: signature data length %u is too "      \
				"short for %s (%zu bytes at offset 0x%zx, %zu left)",              \
				sl_off, sig_len, what, (size_t)(n), off, sig_end - off);           \
	} while (0)
	NEED(TDX_SIGDATA_FIXED_BYTES + TDX_CERTDATA_HDR_BYTES, "the signature, key and "
							       "certification data header");
	memcpy(q.signature, buf + off, TDX_SIG_BYTES);
	memcpy(q.att_key, buf + off + TDX_SIG_BYTES, TDX_ATT_KEY_BYTES);
	off += TDX_SIGDATA_FIXED_BYTES;
	uint16_t ct = util_le16(buf + off);
	uint32_t cs = util_le32(buf + off + 2);
	if (ct != TDX_CERT_TYPE_QE_REPORT)
		return util_errf(
			err, errlen, -ENOTSUP,
			"unsupported certification data type %u at offset 0x%zx (want 6, QE "
			"report certification data)",
			ct, off);
	off += TDX_CERTDATA_HDR_BYTES;
	NEED(cs, "the QE report certification data");
	if (off + cs != sig_end)
		return util_errf(
			err, errlen, -EINVAL,
			"malformed at offset 0x%zx: signature data length %u, but its contents "
			"take %zu bytes",
			sl_off, sig_len, off + cs - sig_start);
	NEED(TDX_QE_REPORT_BYTES + TDX_SIG_BYTES + 2, "the QE report, its signature and the "
						      "auth data size");
	memcpy(q.qe_report, buf + off, TDX_QE_REPORT_BYTES);
	memcpy(q.qe_report_sig, buf + off + TDX_QE_REPORT_BYTES, TDX_SIG_BYTES);
	q.qe_isv_prod_id = util_le16(q.qe_report + 256);
	q.qe_isv_svn = util_le16(q.qe_report + 258);
	off += TDX_QE_REPORT_BYTES + TDX_SIG_BYTES;
	uint16_t al = util_le16(buf + off);
	off += 2;
	NEED(al, "the QE authentication data");
	q.qe_auth_off = off;
	q.qe_auth_len = al;
	off += al;
	NEED(TDX_CERTDATA_HDR_BYTES, "the PCK certification data header");
	uint16_t ct2 = util_le16(buf + off);
	uint32_t cs2 = util_le32(buf + off + 2);
	if (ct2 != TDX_CERT_TYPE_PCK_CHAIN)
		return util_errf(
			err, errlen, -ENOTSUP,
			"unsupported certification data type %u at offset 0x%zx inside the QE "
			"report certification data (want 5, PCK certificate chain)",
			ct2, off);
	off += TDX_CERTDATA_HDR_BYTES;
	NEED(cs2, "the PCK certificate chain");
	if (off + cs2 != sig_end)
		return util_errf(
			err, errlen, -EINVAL,
			"malformed at offset 0x%zx: certification data size %u, but its "
			"contents take %zu bytes",
			sig_start + TDX_SIGDATA_FIXED_BYTES + 2, cs,
			off + cs2 - (sig_start + TDX_SIGDATA_FIXED_BYTES + TDX_CERTDATA_HDR_BYTES));
	if (cs2 == 0)
		return util_errf(err, errlen, -EINVAL,
				 "malformed at offset 0x%zx: the PCK certificate chain is empty",
				 off - 4);
#undef NEED
	q.pck_off = off;
	q.pck_len = cs2;
	q.quote_len = sig_end;
	q.raw = malloc(sig_end);
	if (!q.raw)
		return util_errf(err, errlen, -ENOMEM, "out of memory");
	memcpy(q.raw, buf, sig_end);
	*out = q;
	return 0;
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

/* Strict padded base64 (no whitespace). Returns the length or -EINVAL; out holds n / 4 * 3. */
static long b64_decode(const char *s, size_t n, uint8_t *out)
{
	if (n == 0 || n % 4 || n > INT32_MAX)
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
	return (long)m - (long)pad;
}

int tdx_quote_parse_text(const char *text, size_t len, struct tdx_quote *out, char *err,
			 size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return util_errf(err, errlen, -EINVAL, "invalid arguments");
	memset(out, 0, sizeof(*out));
	if (!text && len)
		return util_errf(err, errlen, -EINVAL, "invalid arguments");
	if (len > TDX_QUOTE_TEXT_MAX_BYTES)
		return util_errf(err, errlen, -E2BIG, "quote text is %zu bytes, limit %u", len,
				 TDX_QUOTE_TEXT_MAX_BYTES);
	_cleanup_free_ char *s = malloc(len + 1);
	_cleanup_free_ uint8_t *bin = malloc(len + 4);
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
	bool hex = hn > 0 && hn % 2 == 0;
	for (size_t i = 0; hex && i < hn; i++)
		hex = is_hex(h[i]);
	size_t bn;
	if (hex) {
		if (util_unhex(bin, hn / 2, h, hn) < 0)
			return util_errf(err, errlen, -EINVAL, "malformed: invalid hex");
		bn = hn / 2;
	} else if (prefixed) {
		return util_errf(err, errlen, -EINVAL,
				 "malformed: text after 0x is not an even number of hex digits");
	} else {
		long m = b64_decode(s, n, bin);
		if (m < 0)
			return util_errf(err, errlen, -EINVAL,
					 "malformed: text is neither hex nor base64");
		bn = (size_t)m;
	}
	return tdx_quote_parse(bin, bn, out, err, errlen);
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers: certificates, signatures                                                    */

static bool self_issued(const X509 *x)
{
	return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

static bool verifies(X509 *child, X509 *parent)
{
	EVP_PKEY *k = X509_get0_pubkey(parent);
	int ok = k && X509_verify(child, k) == 1;
	ERR_clear_error();
	return ok;
}

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

static bool key_is_p256(EVP_PKEY *k)
{
	char grp[32];
	size_t gl = 0;
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
		return false;
	if (!EVP_PKEY_get_group_name(k, grp, sizeof(grp), &gl)) {
		ERR_clear_error();
		return false;
	}
	return strcmp(grp, SN_X9_62_prime256v1) == 0;
}

/* Loads PEM certificates (or concatenated DER) into sk, at most max of them. A PEM blob may
 * end with NUL bytes (quotes embed the chain NUL-terminated). Returns 0, or -EINVAL / -E2BIG /
 * -ENOMEM with msg filled ("PEM certificate 3 does not parse"). */
static int load_certs(const uint8_t *buf, size_t len, STACK_OF(X509) * sk, int max, char *msg,
		      size_t msglen)
{
	while (len > 0 && buf[len - 1] == 0)
		len--;
	if (len == 0)
		return util_errf(msg, msglen, -EINVAL, "no certificate");
	if (len > (size_t)max * TDX_CERT_MAX_BYTES * 2)
		return util_errf(msg, msglen, -E2BIG, "%zu bytes, limit %u", len,
				 max * TDX_CERT_MAX_BYTES * 2);
	int count = 0;
	if (memmem(buf, len, "-----BEGIN", 10)) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		if (!bio)
			return util_errf(msg, msglen, -ENOMEM, "out of memory");
		for (;;) {
			X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
			if (!x)
				break;
			if (count >= max) {
				X509_free(x);
				BIO_free(bio);
				ERR_clear_error();
				return util_errf(msg, msglen, -E2BIG, "more than %d certificates",
						 max);
			}
			if (!sk_X509_push(sk, x)) {
				X509_free(x);
				BIO_free(bio);
				ERR_clear_error();
				return util_errf(msg, msglen, -ENOMEM, "out of memory");
			}
			count++;
		}
		unsigned long e = ERR_peek_last_error();
		BIO_free(bio);
		ERR_clear_error();
		if (count == 0 || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
			return util_errf(msg, msglen, -EINVAL, "PEM certificate %d does not parse",
					 count + 1);
	} else {
		size_t off = 0;
		while (off < len) {
			const unsigned char *p = buf + off;
			X509 *x = d2i_X509(NULL, &p, (long)(len - off));
			if (!x) {
				ERR_clear_error();
				return util_errf(msg, msglen, -EINVAL,
						 "DER certificate %d at offset %zu does not parse",
						 count + 1, off);
			}
			if (count >= max || !sk_X509_push(sk, x)) {
				X509_free(x);
				return count >= max
					       ? util_errf(msg, msglen, -E2BIG,
							   "more than %d certificates", max)
					       : util_errf(msg, msglen, -ENOMEM, "out of memory");
			}
			count++;
			off = (size_t)(p - buf);
		}
	}
	for (int i = sk_X509_num(sk) - count; i < sk_X509_num(sk); i++) {
		int n = i2d_X509(sk_X509_value(sk, i), NULL);
		if (n <= 0 || (unsigned)n > TDX_CERT_MAX_BYTES) {
			ERR_clear_error();
			return util_errf(msg, msglen, -E2BIG,
					 "certificate %d is %d bytes, limit %u", i + 1, n,
					 TDX_CERT_MAX_BYTES);
		}
	}
	return 0;
}

/* Loads DER or PEM CRLs (at most TDX_CRL_MAX_COUNT) into out[]. Returns the count or -errno
 * with msg filled. */
static int load_crls(const uint8_t *buf, size_t len, X509_CRL **out, char *msg, size_t msglen)
{
	int n = 0;
	if (len > TDX_CRL_MAX_BYTES)
		return util_errf(msg, msglen, -E2BIG, "%zu bytes, limit %u", len,
				 TDX_CRL_MAX_BYTES);
	if (memmem(buf, len, "-----BEGIN", 10)) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		X509_CRL *crl;
		if (!bio)
			return util_errf(msg, msglen, -ENOMEM, "out of memory");
		while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
			if (n >= TDX_CRL_MAX_COUNT) {
				X509_CRL_free(crl);
				BIO_free(bio);
				ERR_clear_error();
				return util_errf(msg, msglen, -E2BIG, "more than %d CRLs",
						 TDX_CRL_MAX_COUNT);
			}
			out[n++] = crl;
		}
		unsigned long e = ERR_peek_last_error();
		BIO_free(bio);
		ERR_clear_error();
		if (n == 0 || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
			return util_errf(msg, msglen, -EINVAL, "PEM CRL %d does not parse", n + 1);
		return n;
	}
	size_t off = 0;
	while (off < len) {
		const unsigned char *p = buf + off;
		X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)(len - off));
		if (!crl) {
			ERR_clear_error();
			return util_errf(msg, msglen, -EINVAL,
					 "DER CRL %d at offset %zu does not parse", n + 1, off);
		}
		if (n >= TDX_CRL_MAX_COUNT) {
			X509_CRL_free(crl);
			return util_errf(msg, msglen, -E2BIG, "more than %d CRLs",
					 TDX_CRL_MAX_COUNT);
		}
		out[n++] = crl;
		off = (size_t)(p - buf);
	}
	if (n == 0)
		return util_errf(msg, msglen, -EINVAL, "empty");
	return n;
}

/* ECDSA P-256 / SHA-256 with r || s (32 + 32 bytes, big-endian). 1 valid, 0 not, -1 error. */
static int ecdsa_rs_verify(EVP_PKEY *key, const uint8_t *msg, size_t msglen, const uint8_t *rs)
{
	int ok = -1;
	unsigned char *der = NULL;
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
	if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		goto out;
	}
	int dn = i2d_ECDSA_SIG(sig, &der);
	ctx = EVP_MD_CTX_new();
	if (dn <= 0 || !ctx || EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1)
		goto out;
	ok = EVP_DigestVerify(ctx, der, (size_t)dn, msg, msglen) == 1;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	ERR_clear_error();
	return ok;
}

/* The attestation key (x || y) as a P-256 public key; NULL when not a point on the curve. */
static EVP_PKEY *att_key_pkey(const uint8_t xy[TDX_ATT_KEY_BYTES])
{
	uint8_t pub[1 + TDX_ATT_KEY_BYTES];
	pub[0] = 0x04;
	memcpy(pub + 1, xy, TDX_ATT_KEY_BYTES);
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1",
						 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)),
		OSSL_PARAM_construct_end(),
	};
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	/* The import decodes the point with EC_POINT_oct2point, which refuses a point that is not
	 * on the curve (P-256 has cofactor 1: no small-subgroup check is needed), so no separate
	 * EVP_PKEY_public_check - it costs as much as a scalar multiplication. */
	ERR_clear_error();
	return pkey;
}

/* ------------------------------------------------------------------------------------------ */
/* Collateral JSON                                                                            */

struct level {
	uint8_t sgx[16], tdx[16];
	uint32_t pcesvn, isvsvn;
	enum tdx_tcb_status status;
	char date[TDX_DATE_BYTES];
	char (*adv)[TDX_ADVISORY_ID_MAX_BYTES];
	size_t n_adv;
};

struct module_identity {
	char id[16];
	uint8_t mrsigner[48];
	uint8_t attributes[8], mask[8];
	struct level *levels;
	size_t n_levels;
};

struct tcb_info {
	uint8_t fmspc[6];
	uint8_t pce_id[2];
	uint32_t version, eval;
	int64_t issue, next;
	char issue_s[TDX_DATE_BYTES], next_s[TDX_DATE_BYTES];
	uint8_t mod_mrsigner[48];
	uint8_t mod_attributes[8], mod_mask[8];
	struct module_identity *mods;
	size_t n_mods;
	struct level *levels;
	size_t n_levels;
	X509 *signer; /* the certificate whose key verified the signature (up-ref'd) */
};

struct qe_identity {
	uint32_t version, eval;
	int64_t issue, next;
	char issue_s[TDX_DATE_BYTES], next_s[TDX_DATE_BYTES];
	uint8_t miscselect[4], misc_mask[4], attributes[16], attr_mask[16], mrsigner[32];
	uint32_t isvprodid;
	struct level *levels;
	size_t n_levels;
	X509 *signer;
};

static void levels_free(struct level *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++)
		free(l[i].adv);
	free(l);
}

static void tcb_info_done(struct tcb_info *t)
{
	for (size_t i = 0; t->mods && i < t->n_mods; i++)
		levels_free(t->mods[i].levels, t->mods[i].n_levels);
	free(t->mods);
	levels_free(t->levels, t->n_levels);
	X509_free(t->signer);
	memset(t, 0, sizeof(*t));
}

static void qe_identity_done(struct qe_identity *q)
{
	levels_free(q->levels, q->n_levels);
	X509_free(q->signer);
	memset(q, 0, sizeof(*q));
}

/* The raw JSON scanner: enough to find where a top-level member's value starts and ends. */
static size_t js_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i;
}

/* i at the opening quote; returns the index after the closing quote, or n. */
static size_t js_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return n;
}

/* i at a value; returns the index after it, or n when it does not end. Depth-bounded by the
 * input length only: jansson already accepted the document. */
static size_t js_value(const char *s, size_t n, size_t i)
{
	if (i >= n)
		return n;
	if (s[i] == '"')
		return js_string(s, n, i);
	if (s[i] == '{' || s[i] == '[') {
		size_t depth = 0;
		for (; i < n; i++) {
			if (s[i] == '"') {
				i = js_string(s, n, i) - 1;
			} else if (s[i] == '{' || s[i] == '[') {
				depth++;
			} else if (s[i] == '}' || s[i] == ']') {
				if (--depth == 0)
					return i + 1;
			}
		}
		return n;
	}
	while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
	       s[i] != '\r' && s[i] != '\n')
		i++;
	return i;
}

/* The raw text span of the top-level member 'key' (key written without escapes). Returns 0
 * with [*start, *end) or -ENOENT. */
static int js_member_span(const char *s, size_t n, const char *key, size_t *start, size_t *end)
{
	size_t i = js_ws(s, n, 0);
	if (i >= n || s[i] != '{')
		return -ENOENT;
	i = js_ws(s, n, i + 1);
	size_t kl = strlen(key);
	while (i < n && s[i] == '"') {
		size_t ke = js_string(s, n, i);
		bool match = ke - i == kl + 2 && memcmp(s + i + 1, key, kl) == 0;
		i = js_ws(s, n, ke);
		if (i >= n || s[i] != ':')
			return -ENOENT;
		i = js_ws(s, n, i + 1);
		size_t ve = js_value(s, n, i);
		if (ve >= n)
			return -ENOENT;
		if (match) {
			*start = i;
			*end = ve;
			return 0;
		}
		i = js_ws(s, n, ve);
		if (i < n && s[i] == ',')
			i = js_ws(s, n, i + 1);
		else
			break;
	}
	return -ENOENT;
}

struct jctx {
	char *err;
	size_t errlen;
	const char *doc; /* "tcbInfo", "enclaveIdentity" */
};

__attribute__((format(printf, 3, 4))) static int jfail(struct jctx *c, const char *field,
						       const char *fmt, ...)
{
	if (c->err && c->errlen) {
		int w = snprintf(c->err, c->errlen, "%s%s%s: ", c->doc, field[0] ? "." : "", field);
		if (w >= 0 && (size_t)w < c->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(c->err + w, c->errlen - (size_t)w, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

static int j_hex(struct jctx *c, json_t *o, const char *key, uint8_t *out, size_t n)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return jfail(c, key, "missing");
	if (!json_is_string(v) || json_string_length(v) != 2 * n ||
	    util_unhex(out, n, json_string_value(v), 2 * n) < 0)
		return jfail(c, key, "want %zu bytes as %zu hex digits", n, 2 * n);
	return 0;
}

static int j_uint(struct jctx *c, json_t *o, const char *key, uint32_t max, uint32_t *out)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return jfail(c, key, "missing");
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return jfail(c, key, "want an integer 0..%u", max);
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

/* "2023-06-18T08:42:58Z", optionally with a fraction of a second. */
static int parse_date(const char *s, int64_t *out)
{
	int f[6] = { 0 };
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t fi = 0;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		char ch = s[i];
		if (shape[i] == 'd') {
			if (ch < '0' || ch > '9')
				return -EINVAL;
			f[fi] = f[fi] * 10 + (ch - '0');
		} else {
			if (ch != shape[i])
				return -EINVAL;
			fi++;
		}
	}
	const char *p = s + sizeof(shape) - 1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (p[0] != 'Z' || p[1] != '\0')
		return -EINVAL;
	if (f[0] < 1970 || f[0] > 9999 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 ||
	    f[3] > 23 || f[4] > 59 || f[5] > 60)
		return -EINVAL;
	struct tm tm = { .tm_year = f[0] - 1900,
			 .tm_mon = f[1] - 1,
			 .tm_mday = f[2],
			 .tm_hour = f[3],
			 .tm_min = f[4],
			 .tm_sec = f[5] == 60 ? 59 : f[5] };
	time_t t = timegm(&tm);
	struct tm back;
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != f[2] ||
	    back.tm_mon != f[1] - 1)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

static int j_date(struct jctx *c, json_t *o, const char *key, int64_t *out, char *buf)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return jfail(c, key, "missing");
	if (!json_is_string(v) || json_string_length(v) >= TDX_DATE_BYTES + 8 ||
	    parse_date(json_string_value(v), out) < 0)
		return jfail(c, key, "want a UTC date like 2023-06-18T08:42:58Z");
	fmt_time(buf, TDX_DATE_BYTES, *out);
	return 0;
}

/* A level's status, date and advisory IDs. */
static int j_level_common(struct jctx *c, json_t *lv, size_t idx, struct level *l)
{
	char f[48];
	snprintf(f, sizeof(f), "tcbLevels[%zu]", idx);
	json_t *st = json_object_get(lv, "tcbStatus");
	if (!json_is_string(st))
		return jfail(c, f, "tcbStatus missing or not a string");
	l->status = tdx_tcb_status_from_name(json_string_value(st), json_string_length(st));
	if (l->status == TDX_TCB_UNKNOWN)
		return jfail(c, f, "tcbStatus is not one of Intel's statuses");
	json_t *d = json_object_get(lv, "tcbDate");
	int64_t t;
	if (d && (!json_is_string(d) || json_string_length(d) >= TDX_DATE_BYTES + 8 ||
		  parse_date(json_string_value(d), &t) < 0))
		return jfail(c, f, "tcbDate is not a UTC date");
	if (d)
		fmt_time(l->date, sizeof(l->date), t);
	json_t *adv = json_object_get(lv, "advisoryIDs");
	if (adv && !json_is_null(adv)) {
		if (!json_is_array(adv) || json_array_size(adv) > TDX_ADVISORIES_MAX)
			return jfail(c, f, "advisoryIDs: want an array of at most %d strings",
				     TDX_ADVISORIES_MAX);
		size_t na = json_array_size(adv);
		if (na) {
			l->adv = calloc(na, sizeof(*l->adv));
			if (!l->adv)
				return -ENOMEM;
		}
		for (size_t i = 0; i < na; i++) {
			json_t *a = json_array_get(adv, i);
			if (!json_is_string(a) || json_string_length(a) == 0 ||
			    json_string_length(a) >= TDX_ADVISORY_ID_MAX_BYTES)
				return jfail(c, f, "advisoryIDs[%zu]: want a string of 1..%d bytes",
					     i, TDX_ADVISORY_ID_MAX_BYTES - 1);
			const char *as = json_string_value(a);
			for (size_t k = 0; as[k]; k++)
				if (as[k] < 0x21 || as[k] > 0x7e)
					return jfail(c, f, "advisoryIDs[%zu]: not printable ASCII",
						     i);
			memcpy(l->adv[i], as, json_string_length(a) + 1);
		}
		l->n_adv = na;
	}
	return 0;
}

static int j_components(struct jctx *c, json_t *tcb, const char *key, size_t idx, uint8_t *out)
{
	json_t *a = json_object_get(tcb, key);
	if (!json_is_array(a) || json_array_size(a) != 16)
		return jfail(c, "tcbLevels", "[%zu].tcb.%s: want an array of 16 components", idx,
			     key);
	for (size_t i = 0; i < 16; i++) {
		json_t *e = json_array_get(a, i);
		json_t *svn = json_is_object(e) ? json_object_get(e, "svn") : NULL;
		if (!json_is_integer(svn) || json_integer_value(svn) < 0 ||
		    json_integer_value(svn) > 255)
			return jfail(c, "tcbLevels", "[%zu].tcb.%s[%zu].svn: want 0..255", idx, key,
				     i);
		out[i] = (uint8_t)json_integer_value(svn);
	}
	return 0;
}

/* tcbLevels of a TCB info (kind 0), a module identity (1) or a QE identity (2). */
static int j_levels(struct jctx *c, json_t *arr, int kind, struct level **out, size_t *n_out)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > TDX_TCB_LEVELS_MAX)
		return jfail(c, "tcbLevels", "want an array of 1..%d levels", TDX_TCB_LEVELS_MAX);
	size_t n = json_array_size(arr);
	struct level *l = calloc(n, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*out = l;
	*n_out = n;
	for (size_t i = 0; i < n; i++) {
		json_t *lv = json_array_get(arr, i);
		json_t *tcb = json_is_object(lv) ? json_object_get(lv, "tcb") : NULL;
		if (!json_is_object(tcb))
			return jfail(c, "tcbLevels", "[%zu]: want an object with \"tcb\"", i);
		int rc;
		if (kind == 0) {
			json_t *pce = json_object_get(tcb, "pcesvn");
			if (!json_is_integer(pce) || json_integer_value(pce) < 0 ||
			    json_integer_value(pce) > 65535)
				return jfail(c, "tcbLevels", "[%zu].tcb.pcesvn: want 0..65535", i);
			l[i].pcesvn = (uint32_t)json_integer_value(pce);
			if ((rc = j_components(c, tcb, "sgxtcbcomponents", i, l[i].sgx)) < 0 ||
			    (rc = j_components(c, tcb, "tdxtcbcomponents", i, l[i].tdx)) < 0)
				return rc;
		} else {
			json_t *isv = json_object_get(tcb, "isvsvn");
			if (!json_is_integer(isv) || json_integer_value(isv) < 0 ||
			    json_integer_value(isv) > 65535)
				return jfail(c, "tcbLevels", "[%zu].tcb.isvsvn: want 0..65535", i);
			l[i].isvsvn = (uint32_t)json_integer_value(isv);
		}
		if ((rc = j_level_common(c, lv, i, &l[i])) < 0)
			return rc;
	}
	return 0;
}

/* Parses a {"<key>": {...}, "signature": "<hex>"} document strictly; returns the root (caller
 * json_decref) with the body object, the raw span of its value and the 64-byte signature. */
static json_t *load_signed_doc(const char *text, size_t len, const char *key, struct jctx *c,
			       json_t **body, size_t *span_start, size_t *span_end, uint8_t sig[64],
			       int *rc)
{
	*rc = -EINVAL;
	if (len > TDX_JSON_MAX_BYTES) {
		*rc = -E2BIG;
		util_errf(c->err, c->errlen, 0, "%s document is %zu bytes, limit %u", key, len,
			  TDX_JSON_MAX_BYTES);
		return NULL;
	}
	json_error_t je;
	json_t *root = json_parse_strict(text, len, &je);
	if (!root) {
		char safe[80];
		json_utf8_lossy(je.text, strnlen(je.text, sizeof(je.text)), safe, sizeof(safe));
		for (char *p = safe; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = '?';
		util_errf(c->err, c->errlen, 0, "%s document is not JSON (line %d column %d: %s)",
			  key, je.line, je.column, safe);
		return NULL;
	}
	const char *k;
	json_t *v;
	if (!json_is_object(root)) {
		util_errf(c->err, c->errlen, 0, "%s document is not a JSON object", key);
		goto bad;
	}
	json_object_foreach(root, k, v)
	{
		if (strcmp(k, key) != 0 && strcmp(k, "signature") != 0) {
			char safe[40];
			json_utf8_lossy(k, strlen(k), safe, sizeof(safe));
			for (char *p = safe; *p; p++)
				if ((unsigned char)*p < 0x20)
					*p = '?';
			util_errf(c->err, c->errlen, 0, "%s document: unknown key \"%s\"", key,
				  safe);
			goto bad;
		}
	}
	*body = json_object_get(root, key);
	if (!json_is_object(*body)) {
		util_errf(c->err, c->errlen, 0, "%s document: no \"%s\" object", key, key);
		goto bad;
	}
	json_t *s = json_object_get(root, "signature");
	if (!json_is_string(s) || json_string_length(s) != 128 ||
	    util_unhex(sig, 64, json_string_value(s), 128) < 0) {
		util_errf(c->err, c->errlen, 0, "%s document: \"signature\" is not 64 bytes of hex",
			  key);
		goto bad;
	}
	if (js_member_span(text, len, key, span_start, span_end) < 0) {
		util_errf(c->err, c->errlen, 0,
			  "%s document: the \"%s\" value cannot be located in the text (escaped "
			  "key?)",
			  key, key);
		goto bad;
	}
	*rc = 0;
	return root;
bad:
	json_decref(root);
	return NULL;
}

static int parse_tcb_info_body(struct jctx *c, json_t *b, struct tcb_info *t)
{
	int rc;
	json_t *id = json_object_get(b, "id");
	if (!json_is_string(id))
		return jfail(c, "id", "missing (a TDX TCB info says \"TDX\")");
	if (strcmp(json_string_value(id), "TDX") != 0)
		return jfail(c, "id", "is not \"TDX\" (an SGX TCB info cannot verify a TD quote)");
	if ((rc = j_uint(c, b, "version", 1000, &t->version)) < 0)
		return rc;
	if (t->version != 3)
		return jfail(c, "version", "%u is not supported (want 3)", t->version);
	if ((rc = j_date(c, b, "issueDate", &t->issue, t->issue_s)) < 0 ||
	    (rc = j_date(c, b, "nextUpdate", &t->next, t->next_s)) < 0 ||
	    (rc = j_hex(c, b, "fmspc", t->fmspc, 6)) < 0 ||
	    (rc = j_hex(c, b, "pceId", t->pce_id, 2)) < 0 ||
	    (rc = j_uint(c, b, "tcbEvaluationDataNumber", UINT32_MAX, &t->eval)) < 0)
		return rc;
	json_t *tt = json_object_get(b, "tcbType");
	if (tt && (!json_is_integer(tt) || json_integer_value(tt) != 0))
		return jfail(c, "tcbType", "want 0");
	json_t *m = json_object_get(b, "tdxModule");
	if (!json_is_object(m))
		return jfail(c, "tdxModule", "missing or not an object");
	struct jctx mc = { c->err, c->errlen, "tcbInfo.tdxModule" };
	if ((rc = j_hex(&mc, m, "mrsigner", t->mod_mrsigner, 48)) < 0 ||
	    (rc = j_hex(&mc, m, "attributes", t->mod_attributes, 8)) < 0 ||
	    (rc = j_hex(&mc, m, "attributesMask", t->mod_mask, 8)) < 0)
		return rc;
	json_t *ids = json_object_get(b, "tdxModuleIdentities");
	if (ids && !json_is_null(ids)) {
		if (!json_is_array(ids) || json_array_size(ids) > TDX_MODULE_IDENTITIES_MAX)
			return jfail(c, "tdxModuleIdentities", "want an array of at most %d",
				     TDX_MODULE_IDENTITIES_MAX);
		size_t n = json_array_size(ids);
		if (n) {
			t->mods = calloc(n, sizeof(*t->mods));
			if (!t->mods)
				return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			struct module_identity *mi = &t->mods[i];
			json_t *e = json_array_get(ids, i);
			char doc[64];
			snprintf(doc, sizeof(doc), "tcbInfo.tdxModuleIdentities[%zu]", i);
			struct jctx ic = { c->err, c->errlen, doc };
			if (!json_is_object(e))
				return jfail(&ic, "", "want an object");
			json_t *eid = json_object_get(e, "id");
			if (!json_is_string(eid) || json_string_length(eid) == 0 ||
			    json_string_length(eid) >= sizeof(mi->id))
				return jfail(&ic, "id", "want a string like \"TDX_03\"");
			memcpy(mi->id, json_string_value(eid), json_string_length(eid) + 1);
			for (size_t j = 0; j < i; j++)
				if (strcasecmp(t->mods[j].id, mi->id) == 0)
					return jfail(&ic, "id", "repeats %s", mi->id);
			if ((rc = j_hex(&ic, e, "mrsigner", mi->mrsigner, 48)) < 0 ||
			    (rc = j_hex(&ic, e, "attributes", mi->attributes, 8)) < 0 ||
			    (rc = j_hex(&ic, e, "attributesMask", mi->mask, 8)) < 0)
				return rc;
			t->n_mods = i + 1;
			if ((rc = j_levels(&ic, json_object_get(e, "tcbLevels"), 1, &mi->levels,
					   &mi->n_levels)) < 0)
				return rc;
		}
	}
	return j_levels(c, json_object_get(b, "tcbLevels"), 0, &t->levels, &t->n_levels);
}

static int parse_qe_identity_body(struct jctx *c, json_t *b, struct qe_identity *q)
{
	int rc;
	json_t *id = json_object_get(b, "id");
	if (!json_is_string(id) || strcmp(json_string_value(id), "TD_QE") != 0)
		return jfail(c, "id", "is not \"TD_QE\" (the identity of the TD quoting enclave)");
	if ((rc = j_uint(c, b, "version", 1000, &q->version)) < 0)
		return rc;
	if (q->version != 2)
		return jfail(c, "version", "%u is not supported (want 2)", q->version);
	if ((rc = j_date(c, b, "issueDate", &q->issue, q->issue_s)) < 0 ||
	    (rc = j_date(c, b, "nextUpdate", &q->next, q->next_s)) < 0 ||
	    (rc = j_uint(c, b, "tcbEvaluationDataNumber", UINT32_MAX, &q->eval)) < 0 ||
	    (rc = j_hex(c, b, "miscselect", q->miscselect, 4)) < 0 ||
	    (rc = j_hex(c, b, "miscselectMask", q->misc_mask, 4)) < 0 ||
	    (rc = j_hex(c, b, "attributes", q->attributes, 16)) < 0 ||
	    (rc = j_hex(c, b, "attributesMask", q->attr_mask, 16)) < 0 ||
	    (rc = j_hex(c, b, "mrsigner", q->mrsigner, 32)) < 0 ||
	    (rc = j_uint(c, b, "isvprodid", 65535, &q->isvprodid)) < 0)
		return rc;
	return j_levels(c, json_object_get(b, "tcbLevels"), 2, &q->levels, &q->n_levels);
}

int tdx_tcb_info_check(const char *json, size_t len, char *err, size_t errlen)
{
	struct jctx c = { err, errlen, "tcbInfo" };
	json_t *body;
	size_t a, b;
	uint8_t sig[64];
	int rc;
	if (err && errlen)
		err[0] = '\0';
	if (!json)
		return util_errf(err, errlen, -EINVAL, "no document");
	json_t *root = load_signed_doc(json, len, "tcbInfo", &c, &body, &a, &b, sig, &rc);
	if (!root)
		return rc;
	struct tcb_info t = { 0 };
	rc = parse_tcb_info_body(&c, body, &t);
	if (rc == -ENOMEM)
		util_errf(err, errlen, 0, "out of memory");
	tcb_info_done(&t);
	json_decref(root);
	return rc;
}

int tdx_qe_identity_check(const char *json, size_t len, char *err, size_t errlen)
{
	struct jctx c = { err, errlen, "enclaveIdentity" };
	json_t *body;
	size_t a, b;
	uint8_t sig[64];
	int rc;
	if (err && errlen)
		err[0] = '\0';
	if (!json)
		return util_errf(err, errlen, -EINVAL, "no document");
	json_t *root = load_signed_doc(json, len, "enclaveIdentity", &c, &body, &a, &b, sig, &rc);
	if (!root)
		return rc;
	struct qe_identity q = { 0 };
	rc = parse_qe_identity_body(&c, body, &q);
	if (rc == -ENOMEM)
		util_errf(err, errlen, 0, "out of memory");
	qe_identity_done(&q);
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Collateral                                                                                 */

struct crl_entry {
	X509_CRL *crl;
	X509 *issuer; /* the certificate whose key verified it (up-ref'd), NULL: not yet verified */
	int64_t this_update, next_update; /* next_update 0: none */
};

struct tdx_collateral {
	struct tdx_verdict verdict; /* reason != OK: unusable, every verification fails with it */
	X509 *pinned;               /* the Intel SGX Root CA */
	STACK_OF(X509) * trusted;   /* pinned + test roots (owned) */
	struct tcb_info tcb[TDX_COLLATERAL_MAX_TCB_INFOS];
	size_t n_tcb;
	struct qe_identity qe;
	bool have_qe;
	struct crl_entry pck_crl[TDX_CRL_MAX_COUNT];
	size_t n_pck_crl;
	bool have_pck_crl_input;
	struct crl_entry root_crl[TDX_CRL_MAX_COUNT];
	size_t n_root_crl;
};

size_t tdx_collateral_tcb_infos(const struct tdx_collateral *c)
{
	return c ? c->n_tcb : 0;
}

void tdx_collateral_free(struct tdx_collateral *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_tcb; i++)
		tcb_info_done(&c->tcb[i]);
	qe_identity_done(&c->qe);
	for (size_t i = 0; i < c->n_pck_crl; i++) {
		X509_CRL_free(c->pck_crl[i].crl);
		X509_free(c->pck_crl[i].issuer);
	}
	for (size_t i = 0; i < c->n_root_crl; i++) {
		X509_CRL_free(c->root_crl[i].crl);
		X509_free(c->root_crl[i].issuer);
	}
	sk_X509_pop_free(c->trusted, X509_free);
	free(c);
}

/* The trusted root for a certificate issued by 'issuer_name': a supplied self-issued root of
 * that name must be a trusted root (same DER or key); otherwise the trusted root of that name.
 * Returns it (borrowed) or NULL with v filled. */
static X509 *find_root(const struct tdx_collateral *c, STACK_OF(X509) * supplied,
		       const X509_NAME *issuer_name, const char *what, struct tdx_verdict *v)
{
	char rcn[64];
	x509_name_cn(issuer_name, rcn, sizeof(rcn));
	for (int i = 0; supplied && i < sk_X509_num(supplied); i++) {
		X509 *s = sk_X509_value(supplied, i);
		if (!self_issued(s) || X509_NAME_cmp(X509_get_subject_name(s), issuer_name) != 0)
			continue;
		if (!verifies(s, s)) {
			verdict_set(v, TDX_ERR_CHAIN,
				    "%s: root certificate %s: self-signature does not verify", what,
				    rcn);
			return NULL;
		}
		for (int j = 0; j < sk_X509_num(c->trusted); j++)
			if (same_cert_or_key(s, sk_X509_value(c->trusted, j)))
				return sk_X509_value(c->trusted, j);
		verdict_set(v, TDX_ERR_UNKNOWN_ROOT,
			    "%s: root certificate %s is not the pinned Intel SGX Root CA", what,
			    rcn);
		return NULL;
	}
	for (int j = 0; j < sk_X509_num(c->trusted); j++) {
		X509 *t = sk_X509_value(c->trusted, j);
		if (X509_NAME_cmp(X509_get_subject_name(t), issuer_name) == 0)
			return t;
	}
	verdict_set(v, TDX_ERR_UNKNOWN_ROOT, "%s: issuer %s is not the pinned Intel SGX Root CA",
		    what, rcn);
	return NULL;
}

/* An issuer chain of signed collateral: the signing certificates (not self-issued) that a
 * trusted root signed. Returns 0 with *out (owned stack, may be empty) or -1 with v filled. */
static int load_signers(const struct tdx_collateral *c, const uint8_t *pem, size_t len,
			const char *what, STACK_OF(X509) * *out, struct tdx_verdict *v)
{
	char msg[160];
	STACK_OF(X509) *sk = sk_X509_new_null();
	STACK_OF(X509) *signers = sk_X509_new_null();
	if (!sk || !signers) {
		verdict_set(v, TDX_ERR_INTERNAL, "out of memory");
		goto bad;
	}
	int rc = load_certs(pem, len, sk, TDX_CHAIN_MAX_CERTS, msg, sizeof(msg));
	if (rc < 0) {
		verdict_set(v, rc == -ENOMEM ? TDX_ERR_INTERNAL : TDX_ERR_COLLATERAL, "%s: %s",
			    what, msg);
		goto bad;
	}
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		if (self_issued(x))
			continue;
		char cn[64];
		x509_subject_cn(x, cn, sizeof(cn));
		X509 *root = find_root(c, sk, X509_get_issuer_name(x), what, v);
		if (!root)
			goto bad;
		if (!verifies(x, root)) {
			verdict_set(v, TDX_ERR_COLLATERAL,
				    "%s: %s: signature by the root does not verify", what, cn);
			goto bad;
		}
		if (!key_is_p256(X509_get0_pubkey(x))) {
			verdict_set(v, TDX_ERR_COLLATERAL, "%s: %s: key is not EC P-256", what, cn);
			goto bad;
		}
		if (!X509_up_ref(x) || !sk_X509_push(signers, x)) {
			X509_free(x);
			verdict_set(v, TDX_ERR_INTERNAL, "out of memory");
			goto bad;
		}
	}
	if (sk_X509_num(signers) == 0) {
		verdict_set(v, TDX_ERR_COLLATERAL, "%s: holds no signing certificate", what);
		goto bad;
	}
	sk_X509_pop_free(sk, X509_free);
	*out = signers;
	return 0;
bad:
	sk_X509_pop_free(sk, X509_free);
	sk_X509_pop_free(signers, X509_free);
	return -1;
}

/* The signer (of the given CN) whose key verifies sig over [text+a, text+b); up-ref'd. */
static X509 *doc_signer(STACK_OF(X509) * signers, const char *text, size_t a, size_t b,
			const uint8_t sig[64], int *err)
{
	*err = 0;
	for (int i = 0; i < sk_X509_num(signers); i++) {
		X509 *x = sk_X509_value(signers, i);
		char cn[64];
		x509_subject_cn(x, cn, sizeof(cn));
		if (strcmp(cn, TDX_TCB_SIGNING_CN) != 0)
			continue;
		int ok =
			ecdsa_rs_verify(X509_get0_pubkey(x), (const uint8_t *)text + a, b - a, sig);
		if (ok < 0)
			*err = -1;
		if (ok == 1) {
			X509_up_ref(x);
			return x;
		}
	}
	return NULL;
}

static int load_tcb_infos(struct tdx_collateral *c, const struct tdx_collateral_opts *o,
			  STACK_OF(X509) * signers, struct tdx_verdict *v)
{
	for (size_t i = 0; i < o->n_tcb_info; i++) {
		char err[256] = "";
		struct jctx jc = { err, sizeof(err), "tcbInfo" };
		json_t *body;
		size_t a, b;
		uint8_t sig[64];
		int rc;
		const char *text = (const char *)o->tcb_info[i];
		if (!text) {
			verdict_set(v, TDX_ERR_INTERNAL, "TCB info %zu is NULL", i + 1);
			return -1;
		}
		json_t *root = load_signed_doc(text, o->tcb_info_len[i], "tcbInfo", &jc, &body, &a,
					       &b, sig, &rc);
		struct tcb_info *t = &c->tcb[c->n_tcb];
		if (root)
			rc = parse_tcb_info_body(&jc, body, t);
		json_decref(root);
		c->n_tcb++; /* t is owned from here, also on failure */
		if (rc < 0) {
			verdict_set(v, rc == -ENOMEM ? TDX_ERR_INTERNAL : TDX_ERR_COLLATERAL,
				    "TCB info %zu: %s", i + 1,
				    rc == -ENOMEM ? "out of memory" : err);
			return -1;
		}
		char fm[13];
		util_hex(fm, t->fmspc, 6);
		for (size_t j = 0; j + 1 < c->n_tcb; j++)
			if (memcmp(c->tcb[j].fmspc, t->fmspc, 6) == 0) {
				verdict_set(v, TDX_ERR_COLLATERAL,
					    "two TCB infos for FMSPC %s: give one", fm);
				return -1;
			}
		int serr;
		t->signer = doc_signer(signers, text, a, b, sig, &serr);
		if (!t->signer) {
			verdict_set(v, serr ? TDX_ERR_INTERNAL : TDX_ERR_COLLATERAL,
				    "TCB info signature does not verify (tcbInfo for FMSPC %s, "
				    "signed by %s)",
				    fm, TDX_TCB_SIGNING_CN);
			return -1;
		}
	}
	return 0;
}

static int load_qe_identity(struct tdx_collateral *c, const struct tdx_collateral_opts *o,
			    STACK_OF(X509) * signers, struct tdx_verdict *v)
{
	char err[256] = "";
	struct jctx jc = { err, sizeof(err), "enclaveIdentity" };
	json_t *body;
	size_t a, b;
	uint8_t sig[64];
	int rc;
	const char *text = (const char *)o->qe_identity;
	json_t *root = load_signed_doc(text, o->qe_identity_len, "enclaveIdentity", &jc, &body, &a,
				       &b, sig, &rc);
	if (root)
		rc = parse_qe_identity_body(&jc, body, &c->qe);
	json_decref(root);
	c->have_qe = true;
	if (rc < 0) {
		verdict_set(v, rc == -ENOMEM ? TDX_ERR_INTERNAL : TDX_ERR_COLLATERAL,
			    "QE identity: %s", rc == -ENOMEM ? "out of memory" : err);
		return -1;
	}
	int serr;
	c->qe.signer = doc_signer(signers, text, a, b, sig, &serr);
	if (!c->qe.signer) {
		verdict_set(v, serr ? TDX_ERR_INTERNAL : TDX_ERR_COLLATERAL,
			    "QE identity signature does not verify (enclaveIdentity TD_QE, signed "
			    "by %s)",
			    TDX_TCB_SIGNING_CN);
		return -1;
	}
	return 0;
}

static int crl_times(struct crl_entry *e, const char *what, struct tdx_verdict *v)
{
	if (asn1_time_unix(X509_CRL_get0_lastUpdate(e->crl), &e->this_update) < 0) {
		verdict_set(v, TDX_ERR_COLLATERAL, "%s: unreadable thisUpdate", what);
		return -1;
	}
	e->next_update = 0;
	if (X509_CRL_get0_nextUpdate(e->crl) &&
	    asn1_time_unix(X509_CRL_get0_nextUpdate(e->crl), &e->next_update) < 0) {
		verdict_set(v, TDX_ERR_COLLATERAL, "%s: unreadable nextUpdate", what);
		return -1;
	}
	return 0;
}

static int load_root_crls(struct tdx_collateral *c, const struct tdx_collateral_opts *o,
			  struct tdx_verdict *v)
{
	char msg[160];
	X509_CRL *crls[TDX_CRL_MAX_COUNT] = { 0 };
	int n = load_crls(o->root_crl, o->root_crl_len, crls, msg, sizeof(msg));
	if (n < 0) {
		verdict_set(v, n == -ENOMEM ? TDX_ERR_INTERNAL : TDX_ERR_COLLATERAL,
			    "Root CA CRL: %s", msg);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct crl_entry *e = &c->root_crl[c->n_root_crl++];
		e->crl = crls[i];
		X509 *root = NULL;
		for (int j = 0; j < sk_X509_num(c->trusted) && !root; j++)
			if (X509_NAME_cmp(X509_CRL_get_issuer(e->crl),
					  X509_get_subject_name(sk_X509_value(c->trusted, j))) == 0)
				root = sk_X509_value(c->trusted, j);
		char icn[64];
		x509_name_cn(X509_CRL_get_issuer(e->crl), icn, sizeof(icn));
		if (!root) {
			verdict_set(
				v, TDX_ERR_COLLATERAL,
				"Root CA CRL: its issuer (CN %s) is not the pinned Intel SGX Root "
				"CA",
				icn);
			return -1;
		}
		if (X509_CRL_verify(e->crl, X509_get0_pubkey(root)) != 1) {
			ERR_clear_error();
			verdict_set(v, TDX_ERR_COLLATERAL,
				    "Root CA CRL signature does not verify with %s", icn);
			return -1;
		}
		X509_up_ref(root);
		e->issuer = root;
		if (crl_times(e, "Root CA CRL", v) < 0)
			return -1;
	}
	return 0;
}

static int load_pck_crls(struct tdx_collateral *c, const struct tdx_collateral_opts *o,
			 struct tdx_verdict *v)
{
	char msg[160];
	X509_CRL *crls[TDX_CRL_MAX_COUNT] = { 0 };
	int n = load_crls(o->pck_crl, o->pck_crl_len, crls, msg, sizeof(msg));
	if (n < 0) {
		verdict_set(v, n == -ENOMEM ? TDX_ERR_INTERNAL : TDX_ERR_COLLATERAL, "PCK CRL: %s",
			    msg);
		return -1;
	}
	c->have_pck_crl_input = true;
	STACK_OF(X509) *chain = NULL;
	if (o->pck_crl_chain && o->pck_crl_chain_len) {
		chain = sk_X509_new_null();
		if (!chain) {
			for (int i = 0; i < n; i++)
				X509_CRL_free(crls[i]);
			verdict_set(v, TDX_ERR_INTERNAL, "out of memory");
			return -1;
		}
		int rc = load_certs(o->pck_crl_chain, o->pck_crl_chain_len, chain,
				    TDX_CHAIN_MAX_CERTS, msg, sizeof(msg));
		if (rc < 0) {
			for (int i = 0; i < n; i++)
				X509_CRL_free(crls[i]);
			sk_X509_pop_free(chain, X509_free);
			verdict_set(v, rc == -ENOMEM ? TDX_ERR_INTERNAL : TDX_ERR_COLLATERAL,
				    "PCK CRL issuer chain: %s", msg);
			return -1;
		}
	}
	int ret = 0;
	for (int i = 0; i < n; i++) {
		struct crl_entry *e = &c->pck_crl[c->n_pck_crl++];
		e->crl = crls[i];
		if (ret < 0)
			continue;
		char icn[64];
		x509_name_cn(X509_CRL_get_issuer(e->crl), icn, sizeof(icn));
		if (strcmp(icn, TDX_PLATFORM_CA_CN) != 0 && strcmp(icn, TDX_PROCESSOR_CA_CN) != 0) {
			verdict_set(v, TDX_ERR_COLLATERAL,
				    "PCK CRL: issued by %s, not an Intel SGX PCK Platform or "
				    "Processor CA",
				    icn);
			ret = -1;
			continue;
		}
		if (crl_times(e, "PCK CRL", v) < 0) {
			ret = -1;
			continue;
		}
		/* With its issuer chain the CRL is checked now; without, against the quote's
		 * intermediate in tdx_chain_new. */
		for (int j = 0; chain && j < sk_X509_num(chain); j++) {
			X509 *ca = sk_X509_value(chain, j);
			if (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(e->crl)) !=
			    0)
				continue;
			X509 *root = find_root(c, chain, X509_get_issuer_name(ca),
					       "PCK CRL issuer chain", v);
			if (!root) {
				ret = -1;
				break;
			}
			if (!verifies(ca, root)) {
				verdict_set(v, TDX_ERR_COLLATERAL,
					    "PCK CRL issuer chain: %s: signature by the root does "
					    "not verify",
					    icn);
				ret = -1;
				break;
			}
			if (X509_CRL_verify(e->crl, X509_get0_pubkey(ca)) != 1) {
				ERR_clear_error();
				verdict_set(v, TDX_ERR_COLLATERAL,
					    "PCK CRL signature does not verify with %s", icn);
				ret = -1;
				break;
			}
			X509_up_ref(ca);
			e->issuer = ca;
			break;
		}
	}
	sk_X509_pop_free(chain, X509_free);
	return ret;
}

struct tdx_collateral *tdx_collateral_new(const struct tdx_collateral_opts *o,
					  struct tdx_verdict *v)
{
	struct tdx_verdict local;
	if (!v)
		v = &local;
	memset(v, 0, sizeof(*v));
	if (!o) {
		verdict_set(v, TDX_ERR_INTERNAL, "no options");
		return NULL;
	}
	struct tdx_collateral *c = calloc(1, sizeof(*c));
	STACK_OF(X509) *tcb_signers = NULL, *qe_signers = NULL;
	if (!c || !(c->trusted = sk_X509_new_null())) {
		free(c);
		verdict_set(v, TDX_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	const unsigned char *p = intel_sgx_root_ca_der;
	c->pinned = d2i_X509(NULL, &p, INTEL_SGX_ROOT_CA_DER_BYTES);
	if (!c->pinned || !sk_X509_push(c->trusted, c->pinned)) {
		X509_free(c->pinned);
		c->pinned = NULL;
		tdx_collateral_free(c);
		verdict_set(v, TDX_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (o->test_roots && o->test_roots_len) {
		char msg[160];
		int rc = load_certs(o->test_roots, o->test_roots_len, c->trusted,
				    TDX_CHAIN_MAX_CERTS, msg, sizeof(msg));
		if (rc < 0) {
			verdict_set(v, TDX_ERR_INTERNAL, "test roots: %s", msg);
			goto done;
		}
	}
	if (o->n_tcb_info > TDX_COLLATERAL_MAX_TCB_INFOS) {
		verdict_set(v, TDX_ERR_COLLATERAL, "%zu TCB infos, limit %d", o->n_tcb_info,
			    TDX_COLLATERAL_MAX_TCB_INFOS);
		goto done;
	}
	const uint8_t *tchain = o->tcb_info_chain;
	size_t tchain_len = o->tcb_info_chain_len;
	const uint8_t *qchain = o->qe_identity_chain ? o->qe_identity_chain : tchain;
	size_t qchain_len = o->qe_identity_chain ? o->qe_identity_chain_len : tchain_len;
	if (!tchain) {
		tchain = o->qe_identity_chain;
		tchain_len = o->qe_identity_chain_len;
	}
	if (o->n_tcb_info) {
		if (!tchain || !tchain_len) {
			verdict_set(v, TDX_ERR_COLLATERAL,
				    "no TCB info issuer chain (TCB-Info-Issuer-Chain) supplied");
			goto done;
		}
		if (load_signers(c, tchain, tchain_len, "TCB info issuer chain", &tcb_signers, v) <
			    0 ||
		    load_tcb_infos(c, o, tcb_signers, v) < 0)
			goto done;
	}
	if (o->qe_identity && o->qe_identity_len) {
		if (!qchain || !qchain_len) {
			verdict_set(v, TDX_ERR_COLLATERAL,
				    "no QE identity issuer chain (SGX-Enclave-Identity-Issuer-"
				    "Chain) supplied");
			goto done;
		}
		if (load_signers(c, qchain, qchain_len, "QE identity issuer chain", &qe_signers,
				 v) < 0 ||
		    load_qe_identity(c, o, qe_signers, v) < 0)
			goto done;
	}
	if (o->root_crl && o->root_crl_len && load_root_crls(c, o, v) < 0)
		goto done;
	if (o->pck_crl && o->pck_crl_len && load_pck_crls(c, o, v) < 0)
		goto done;
	verdict_set(
		v, TDX_OK,
		"collateral verified: %zu TCB info%s, %s QE identity, %s PCK CRL, %s Root CA CRL",
		c->n_tcb, c->n_tcb == 1 ? "" : "s", c->have_qe ? "a" : "no",
		c->n_pck_crl ? "a" : "no", c->n_root_crl ? "a" : "no");
done:
	sk_X509_pop_free(tcb_signers, X509_free);
	sk_X509_pop_free(qe_signers, X509_free);
	c->verdict = *v;
	ERR_clear_error();
	return c;
}

/* ------------------------------------------------------------------------------------------ */
/* PCK chain                                                                                  */

struct tdx_chain {
	struct tdx_verdict verdict; /* reason != OK: the chain failed */
	uint8_t *pem;               /* the quote's chain bytes, to recognise the quote's chain */
	size_t pem_len;
	X509 *leaf, *ica, *root;
	EVP_PKEY *pck_key; /* borrowed from leaf */
	uint8_t sgx_svn[16];
	uint32_t pcesvn;
	uint8_t cpusvn[16];
	uint8_t pce_id[2];
	uint8_t fmspc[6];
	/* Revocation looked up against the collateral the chain was made with. */
	const struct tdx_collateral *col;
	int pck_crl_idx;  /* the PCK CRL of the intermediate, -1: none supplied for it */
	int root_crl_idx; /* -1: none */
	bool leaf_revoked, ica_revoked;
	char revoked_detail[200];
};

void tdx_chain_free(struct tdx_chain *c)
{
	if (!c)
		return;
	X509_free(c->leaf);
	X509_free(c->ica);
	X509_free(c->root);
	free(c->pem);
	free(c);
}

/* Bounded DER walker for the SGX extension. */
struct der {
	const uint8_t *p;
	size_t n;
};

/* Reads one TLV from *in into tag/val and advances. -1 when malformed. */
static int der_next(struct der *in, uint8_t *tag, struct der *val)
{
	if (in->n < 2)
		return -1;
	*tag = in->p[0];
	size_t len = in->p[1], hdr = 2;
	if (len & 0x80) {
		size_t nb = len & 0x7f;
		if (nb == 0 || nb > 3 || in->n < 2 + nb)
			return -1;
		len = 0;
		for (size_t i = 0; i < nb; i++)
			len = len << 8 | in->p[2 + i];
		hdr += nb;
	}
	if (len > in->n - hdr)
		return -1;
	val->p = in->p + hdr;
	val->n = len;
	in->p += hdr + len;
	in->n -= hdr + len;
	return 0;
}

/* A DER INTEGER 0..max. */
static int der_uint(struct der v, uint32_t max, uint32_t *out)
{
	if (v.n == 0 || v.n > 3 || (v.p[0] & 0x80))
		return -1;
	uint32_t x = 0;
	for (size_t i = 0; i < v.n; i++)
		x = x << 8 | v.p[i];
	if (x > max)
		return -1;
	*out = x;
	return 0;
}

/* Is oid = sgx_ext_oid followed by 'tail' (tail_n bytes)? */
static bool oid_is(struct der oid, const uint8_t *tail, size_t tail_n)
{
	return oid.n == sizeof(sgx_ext_oid) + tail_n &&
	       memcmp(oid.p, sgx_ext_oid, sizeof(sgx_ext_oid)) == 0 &&
	       memcmp(oid.p + sizeof(sgx_ext_oid), tail, tail_n) == 0;
}

static int sgx_extensions(struct tdx_chain *c, struct tdx_verdict *v)
{
	ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	if (!obj) {
		verdict_set(v, TDX_ERR_INTERNAL, "out of memory");
		return -1;
	}
	int i = X509_get_ext_by_OBJ(c->leaf, obj, -1);
	int j = i >= 0 ? X509_get_ext_by_OBJ(c->leaf, obj, i) : -1;
	ASN1_OBJECT_free(obj);
	if (i < 0 || j >= 0) {
		verdict_set(v, TDX_ERR_CHAIN,
			    "PCK chain: the PCK certificate has %s SGX extension "
			    "(1.2.840.113741.1.13.1)",
			    i < 0 ? "no" : "more than one");
		return -1;
	}
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(c->leaf, i));
	struct der in = { ASN1_STRING_get0_data(os), (size_t)ASN1_STRING_length(os) }, seq, item,
		   oid, val;
	uint8_t tag;
	bool got_tcb = false, got_pceid = false, got_fmspc = false;
	bool got_comp[18] = { false };
	if (der_next(&in, &tag, &seq) < 0 || tag != 0x30 || in.n != 0)
		goto bad;
	while (seq.n) {
		if (der_next(&seq, &tag, &item) < 0 || tag != 0x30 ||
		    der_next(&item, &tag, &oid) < 0 || tag != 0x06 ||
		    der_next(&item, &tag, &val) < 0 || item.n != 0)
			goto bad;
		static const uint8_t t_tcb[] = { 0x02 }, t_pceid[] = { 0x03 }, t_fmspc[] = { 0x04 };
		if (oid_is(oid, t_tcb, 1)) {
			if (tag != 0x30 || got_tcb)
				goto bad;
			got_tcb = true;
			struct der tcb = val;
			while (tcb.n) {
				struct der ci, coid, cval;
				uint8_t ctag;
				if (der_next(&tcb, &ctag, &ci) < 0 || ctag != 0x30 ||
				    der_next(&ci, &ctag, &coid) < 0 || ctag != 0x06 ||
				    der_next(&ci, &ctag, &cval) < 0 || ci.n != 0)
					goto bad;
				if (coid.n != sizeof(sgx_ext_oid) + 2 ||
				    memcmp(coid.p, sgx_ext_oid, sizeof(sgx_ext_oid)) != 0 ||
				    coid.p[sizeof(sgx_ext_oid)] != 0x02)
					continue;
				uint8_t k = coid.p[sizeof(sgx_ext_oid) + 1];
				if (k < 1 || k > 18 || got_comp[k - 1])
					goto bad;
				got_comp[k - 1] = true;
				uint32_t x;
				if (k <= 16) {
					if (ctag != 0x02 || der_uint(cval, 255, &x) < 0)
						goto bad;
					c->sgx_svn[k - 1] = (uint8_t)x;
				} else if (k == 17) {
					if (ctag != 0x02 || der_uint(cval, 65535, &x) < 0)
						goto bad;
					c->pcesvn = x;
				} else {
					if (ctag != 0x04 || cval.n != 16)
						goto bad;
					memcpy(c->cpusvn, cval.p, 16);
				}
			}
		} else if (oid_is(oid, t_pceid, 1)) {
			if (tag != 0x04 || val.n != 2 || got_pceid)
				goto bad;
			got_pceid = true;
			memcpy(c->pce_id, val.p, 2);
		} else if (oid_is(oid, t_fmspc, 1)) {
			if (tag != 0x04 || val.n != 6 || got_fmspc)
				goto bad;
			got_fmspc = true;
			memcpy(c->fmspc, val.p, 6);
		}
	}
	for (int k = 0; k < 17; k++)
		if (!got_comp[k]) {
			verdict_set(v, TDX_ERR_CHAIN,
				    "PCK chain: the PCK certificate's SGX TCB lacks %s%d",
				    k < 16 ? "component SVN " : "PCESVN", k < 16 ? k + 1 : 17);
			return -1;
		}
	if (!got_tcb || !got_pceid || !got_fmspc) {
		verdict_set(v, TDX_ERR_CHAIN,
			    "PCK chain: the PCK certificate's SGX extension lacks %s",
			    !got_tcb     ? "the TCB"
			    : !got_pceid ? "the PCE-ID"
					 : "the FMSPC");
		return -1;
	}
	return 0;
bad:
	verdict_set(v, TDX_ERR_CHAIN,
		    "PCK chain: the PCK certificate's SGX extension (1.2.840.113741.1.13.1) is "
		    "malformed");
	return -1;
}

static void revocation(struct tdx_chain *c)
{
	const struct tdx_collateral *col = c->col;
	c->pck_crl_idx = c->root_crl_idx = -1;
	for (size_t i = 0; i < col->n_root_crl; i++) {
		const struct crl_entry *e = &col->root_crl[i];
		if (X509_NAME_cmp(X509_CRL_get_issuer(e->crl), X509_get_issuer_name(c->ica)) != 0)
			continue;
		c->root_crl_idx = (int)i;
		X509_REVOKED *rev = NULL;
		if (X509_CRL_get0_by_cert(e->crl, &rev, c->ica) == 1 && !c->leaf_revoked) {
			char cn[64];
			x509_subject_cn(c->ica, cn, sizeof(cn));
			c->ica_revoked = true;
			snprintf(c->revoked_detail, sizeof(c->revoked_detail),
				 "intermediate CA %s is revoked by the Root CA CRL", cn);
		}
		break;
	}
	ERR_clear_error();
}

static int pck_revocation(struct tdx_chain *c, struct tdx_verdict *v)
{
	const struct tdx_collateral *col = c->col;
	char icn[64];
	x509_subject_cn(c->ica, icn, sizeof(icn));
	for (size_t i = 0; i < col->n_pck_crl; i++) {
		const struct crl_entry *e = &col->pck_crl[i];
		if (X509_NAME_cmp(X509_CRL_get_issuer(e->crl), X509_get_subject_name(c->ica)) != 0)
			continue;
		if (e->issuer ? !same_cert_or_key(e->issuer, c->ica)
			      : X509_CRL_verify(e->crl, X509_get0_pubkey(c->ica)) != 1) {
			ERR_clear_error();
			verdict_set(v, TDX_ERR_COLLATERAL,
				    "PCK CRL signature does not verify with the quote's %s", icn);
			return -1;
		}
		c->pck_crl_idx = (int)i;
		X509_REVOKED *rev = NULL;
		if (X509_CRL_get0_by_cert(e->crl, &rev, c->leaf) == 1) {
			const ASN1_INTEGER *sn = X509_get0_serialNumber(c->leaf);
			BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
			char *hex = bn ? BN_bn2hex(bn) : NULL;
			c->leaf_revoked = true;
			snprintf(c->revoked_detail, sizeof(c->revoked_detail),
				 "PCK certificate (serial %s) is revoked by the PCK CRL of %s",
				 hex ? hex : "?", icn);
			OPENSSL_free(hex);
			BN_free(bn);
		}
		break;
	}
	ERR_clear_error();
	return 0;
}

static int build_chain(struct tdx_chain *c, const struct tdx_quote *q, struct tdx_verdict *v)
{
	char msg[160], cn[64], icn[64];
	STACK_OF(X509) *sk = sk_X509_new_null();
	int ret = -1;
	if (!sk) {
		verdict_set(v, TDX_ERR_INTERNAL, "out of memory");
		return -1;
	}
	int rc = load_certs(q->raw + q->pck_off, q->pck_len, sk, TDX_CHAIN_MAX_CERTS, msg,
			    sizeof(msg));
	if (rc < 0) {
		verdict_set(v, rc == -ENOMEM ? TDX_ERR_INTERNAL : TDX_ERR_CHAIN, "PCK chain: %s",
			    msg);
		goto out;
	}
	X509 *leaf = sk_X509_value(sk, 0);
	x509_subject_cn(leaf, cn, sizeof(cn));
	if (self_issued(leaf) || strcmp(cn, TDX_PCK_CN) != 0) {
		verdict_set(v, TDX_ERR_CHAIN, "PCK chain: the first certificate is %s, want the %s",
			    cn, TDX_PCK_CN);
		goto out;
	}
	X509 *ica = NULL;
	for (int i = 1; i < sk_X509_num(sk) && !ica; i++) {
		X509 *x = sk_X509_value(sk, i);
		if (!self_issued(x) &&
		    X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(leaf)) == 0)
			ica = x;
	}
	x509_name_cn(X509_get_issuer_name(leaf), icn, sizeof(icn));
	if (!ica) {
		verdict_set(v, TDX_ERR_CHAIN,
			    "PCK chain: the PCK certificate's issuer %s is not in the chain", icn);
		goto out;
	}
	if (strcmp(icn, TDX_PLATFORM_CA_CN) != 0 && strcmp(icn, TDX_PROCESSOR_CA_CN) != 0) {
		verdict_set(v, TDX_ERR_CHAIN, "PCK chain: intermediate CA %s is neither %s nor %s",
			    icn, TDX_PLATFORM_CA_CN, TDX_PROCESSOR_CA_CN);
		goto out;
	}
	/* Top-down: the root first, so that an edited root is named as such. */
	X509 *root = find_root(c->col, sk, X509_get_issuer_name(ica), "PCK chain", v);
	if (!root)
		goto out;
	char rcn[64];
	x509_subject_cn(root, rcn, sizeof(rcn));
	if (!verifies(ica, root)) {
		verdict_set(v, TDX_ERR_CHAIN,
			    "PCK chain: intermediate CA %s: signature by %s does not verify", icn,
			    rcn);
		goto out;
	}
	if (!verifies(leaf, ica)) {
		verdict_set(v, TDX_ERR_CHAIN,
			    "PCK chain: PCK certificate signature by %s does not verify", icn);
		goto out;
	}
	if (X509_check_ca(ica) == 0 || X509_check_ca(root) == 0) {
		ERR_clear_error();
		verdict_set(v, TDX_ERR_CHAIN, "PCK chain: %s is not a CA certificate",
			    X509_check_ca(ica) == 0 ? icn : rcn);
		goto out;
	}
	if (X509_check_ca(leaf) != 0) {
		ERR_clear_error();
		verdict_set(v, TDX_ERR_CHAIN, "PCK chain: the PCK certificate is a CA certificate");
		goto out;
	}
	c->pck_key = X509_get0_pubkey(leaf);
	ERR_clear_error();
	if (!key_is_p256(c->pck_key)) {
		verdict_set(v, TDX_ERR_CHAIN, "PCK chain: the PCK key is not EC P-256");
		goto out;
	}
	c->leaf = leaf;
	c->ica = ica;
	c->root = root;
	X509_up_ref(leaf);
	X509_up_ref(ica);
	X509_up_ref(root);
	if (sgx_extensions(c, v) < 0)
		goto out;
	revocation(c);
	if (pck_revocation(c, v) < 0)
		goto out;
	v->have_pck = true;
	memcpy(v->fmspc, c->fmspc, 6);
	v->pce_id = (uint16_t)(c->pce_id[0] << 8 | c->pce_id[1]);
	snprintf(v->pck_ca, sizeof(v->pck_ca), "%s", icn);
	verdict_set(v, TDX_OK, "PCK chain verified: PCK -> %s -> %s", icn, rcn);
	ret = 0;
out:
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return ret;
}

struct tdx_chain *tdx_chain_new(const struct tdx_quote *q, const struct tdx_collateral *col,
				struct tdx_verdict *v)
{
	struct tdx_verdict local;
	if (!v)
		v = &local;
	memset(v, 0, sizeof(*v));
	if (!q || !q->raw || !col) {
		verdict_set(v, TDX_ERR_INTERNAL, "no quote or no collateral");
		return NULL;
	}
	struct tdx_chain *c = calloc(1, sizeof(*c));
	if (!c || !(c->pem = malloc(q->pck_len))) {
		free(c);
		verdict_set(v, TDX_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	memcpy(c->pem, q->raw + q->pck_off, q->pck_len);
	c->pem_len = q->pck_len;
	c->col = col;
	c->pck_crl_idx = c->root_crl_idx = -1;
	build_chain(c, q, v);
	c->verdict = *v;
	return c;
}

/* ------------------------------------------------------------------------------------------ */
/* Verification                                                                               */

static void add_advisories(struct tdx_verdict *v, const struct level *l)
{
	for (size_t i = 0; i < l->n_adv; i++) {
		bool dup = false;
		for (size_t j = 0; j < v->n_advisory_ids && !dup; j++)
			dup = strcmp(v->advisory_ids[j], l->adv[i]) == 0;
		if (dup || v->n_advisory_ids >= TDX_ADVISORIES_MAX)
			continue;
		memcpy(v->advisory_ids[v->n_advisory_ids++], l->adv[i], TDX_ADVISORY_ID_MAX_BYTES);
	}
}

static bool masked_eq(const uint8_t *a, const uint8_t *b, const uint8_t *mask, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((a[i] & mask[i]) != (b[i] & mask[i]))
			return false;
	return true;
}

/* Step 7: a validity window. */
static int window(int64_t now, int64_t from, int64_t until, bool has_until, const char *what,
		  const char *from_name, const char *until_name, struct tdx_verdict *v)
{
	char when[40];
	if (now < from) {
		fmt_time(when, sizeof(when), from);
		verdict_set(v, TDX_ERR_COLLATERAL_EXPIRED, "collateral not yet valid: %s %s %s",
			    what, from_name, when);
		return -1;
	}
	if (has_until && now > until) {
		fmt_time(when, sizeof(when), until);
		verdict_set(v, TDX_ERR_COLLATERAL_EXPIRED, "collateral expired: %s %s %s", what,
			    until_name, when);
		return -1;
	}
	return 0;
}

static int cert_window(const X509 *x, int64_t now, const char *what, enum tdx_reason r,
		       struct tdx_verdict *v)
{
	int64_t nb, na;
	char when[40], cn[64];
	x509_subject_cn(x, cn, sizeof(cn));
	if (asn1_time_unix(X509_get0_notBefore(x), &nb) < 0 ||
	    asn1_time_unix(X509_get0_notAfter(x), &na) < 0) {
		verdict_set(v, TDX_ERR_CHAIN, "%s %s has an unreadable validity period", what, cn);
		return -1;
	}
	if (now < nb) {
		fmt_time(when, sizeof(when), nb);
		verdict_set(v, r, "%s%s %s not valid before %s",
			    r == TDX_ERR_COLLATERAL_EXPIRED ? "collateral not yet valid: " : "",
			    what, cn, when);
		return -1;
	}
	if (now > na) {
		fmt_time(when, sizeof(when), na);
		verdict_set(v, r, "%s%s %s expired %s",
			    r == TDX_ERR_COLLATERAL_EXPIRED ? "collateral expired: " : "", what, cn,
			    when);
		return -1;
	}
	return 0;
}

static int crl_window(const struct crl_entry *e, int64_t now, const char *what,
		      struct tdx_verdict *v)
{
	return window(now, e->this_update, e->next_update, e->next_update != 0, what, "thisUpdate",
		      "nextUpdate", v);
}

static const struct tcb_info *tcb_for(const struct tdx_collateral *col, const uint8_t fmspc[6])
{
	for (size_t i = 0; i < col->n_tcb; i++)
		if (memcmp(col->tcb[i].fmspc, fmspc, 6) == 0)
			return &col->tcb[i];
	return NULL;
}

/* Steps 10-13. */
static int tcb_match(const struct tdx_collateral *col, const struct tdx_chain *ch,
		     const struct tdx_quote *q, const struct tcb_info *t, struct tdx_verdict *v)
{
	/* 10. QE identity */
	if (col->have_qe) {
		const struct qe_identity *qi = &col->qe;
		uint8_t misc[4];
		memcpy(misc, q->qe_report + 16, 4);
		/* miscselect is a little-endian u32 in the report, big-endian hex in JSON. */
		uint8_t misc_be[4] = { misc[3], misc[2], misc[1], misc[0] };
		char a[65], b[65];
		if (memcmp(q->qe_report + 128, qi->mrsigner, 32) != 0) {
			util_hex(a, q->qe_report + 128, 32);
			util_hex(b, qi->mrsigner, 32);
			verdict_set(v, TDX_ERR_QE_IDENTITY,
				    "QE identity: MRSIGNER %s is not the TD_QE's %s", a, b);
			return -1;
		}
		if (q->qe_isv_prod_id != qi->isvprodid) {
			verdict_set(v, TDX_ERR_QE_IDENTITY,
				    "QE identity: ISVPRODID %u is not the TD_QE's %u",
				    q->qe_isv_prod_id, qi->isvprodid);
			return -1;
		}
		if (!masked_eq(misc_be, qi->miscselect, qi->misc_mask, 4)) {
			util_hex(a, misc_be, 4);
			util_hex(b, qi->miscselect, 4);
			verdict_set(v, TDX_ERR_QE_IDENTITY,
				    "QE identity: MISCSELECT %s does not match %s under its mask",
				    a, b);
			return -1;
		}
		if (!masked_eq(q->qe_report + 48, qi->attributes, qi->attr_mask, 16)) {
			util_hex(a, q->qe_report + 48, 16);
			util_hex(b, qi->attributes, 16);
			verdict_set(v, TDX_ERR_QE_IDENTITY,
				    "QE identity: ATTRIBUTES %s do not match %s under their mask",
				    a, b);
			return -1;
		}
		const struct level *ql = NULL;
		for (size_t i = 0; i < qi->n_levels && !ql; i++)
			if (qi->levels[i].isvsvn <= q->qe_isv_svn)
				ql = &qi->levels[i];
		if (!ql) {
			verdict_set(v, TDX_ERR_TCB_UNSUPPORTED,
				    "QE identity: no TCB level for QE ISVSVN %u", q->qe_isv_svn);
			return -1;
		}
		v->qe_status = ql->status;
		v->qe_identity_checked = true;
		add_advisories(v, ql);
	}
	if (!t)
		return 0;

	/* 11. TDX module */
	const uint8_t *mrsigner = t->mod_mrsigner, *attr = t->mod_attributes, *mask = t->mod_mask;
	const struct module_identity *mi = NULL;
	uint8_t seam_attr[8];
	for (int i = 0; i < 8; i++)
		seam_attr[i] = (uint8_t)(q->seam_attributes >> (8 * i));
	if (q->tee_tcb_svn[1] > 0 && t->n_mods > 0) {
		char want[16];
		snprintf(want, sizeof(want), "TDX_%02X", q->tee_tcb_svn[1]);
		for (size_t i = 0; i < t->n_mods && !mi; i++)
			if (strcasecmp(t->mods[i].id, want) == 0)
				mi = &t->mods[i];
		if (!mi) {
			verdict_set(
				v, TDX_ERR_MODULE_IDENTITY,
				"TDX module identity %s (TEE_TCB_SVN[1] = %u) is not in the TCB "
				"info",
				want, q->tee_tcb_svn[1]);
			return -1;
		}
		mrsigner = mi->mrsigner;
		attr = mi->attributes;
		mask = mi->mask;
	}
	if (memcmp(q->mr_signer_seam, mrsigner, 48) != 0) {
		char a[97];
		util_hex(a, q->mr_signer_seam, 48);
		verdict_set(v, TDX_ERR_MODULE_IDENTITY,
			    "TDX module: MRSIGNERSEAM %.16s... is not the TCB info's %s mrsigner",
			    a, mi ? mi->id : "tdxModule");
		return -1;
	}
	if (!masked_eq(seam_attr, attr, mask, 8)) {
		verdict_set(v, TDX_ERR_MODULE_IDENTITY,
			    "TDX module: SEAMATTRIBUTES 0x%016llx do not match the TCB info's "
			    "under its mask",
			    (unsigned long long)q->seam_attributes);
		return -1;
	}
	if (mi) {
		const struct level *ml = NULL;
		for (size_t i = 0; i < mi->n_levels && !ml; i++)
			if (mi->levels[i].isvsvn <= q->tee_tcb_svn[0])
				ml = &mi->levels[i];
		if (!ml) {
			verdict_set(v, TDX_ERR_TCB_UNSUPPORTED,
				    "no matching TCB level for TDX module %s SVN %u", mi->id,
				    q->tee_tcb_svn[0]);
			return -1;
		}
		v->module_status = ml->status;
		add_advisories(v, ml);
	}

	/* 12. Platform */
	const struct level *pl = NULL;
	for (size_t i = 0; i < t->n_levels && !pl; i++) {
		const struct level *l = &t->levels[i];
		bool ok = ch->pcesvn >= l->pcesvn;
		for (int k = 0; k < 16 && ok; k++)
			ok = ch->sgx_svn[k] >= l->sgx[k] && q->tee_tcb_svn[k] >= l->tdx[k];
		if (ok)
			pl = l;
	}
	if (!pl) {
		char fm[13], svn[33], sgx[33];
		util_hex(fm, t->fmspc, 6);
		util_hex(svn, q->tee_tcb_svn, 16);
		util_hex(sgx, ch->sgx_svn, 16);
		verdict_set(
			v, TDX_ERR_TCB_UNSUPPORTED,
			"no matching TCB level: TCB not supported for FMSPC %s (PCK SGX SVNs %s, "
			"PCESVN %u, TEE_TCB_SVN %s)",
			fm, sgx, ch->pcesvn, svn);
		return -1;
	}
	v->platform_status = pl->status;
	snprintf(v->tcb_date, sizeof(v->tcb_date), "%s", pl->date);
	v->tcb_eval_number = t->eval;
	add_advisories(v, pl);
	v->tcb_evaluated = true;
	return 0;
}

static void finish_status(struct tdx_verdict *v)
{
	v->tcb_status = tdx_tcb_status_merge(
		tdx_tcb_status_merge(v->platform_status, v->module_status), v->qe_status);
}

int tdx_verify_quote(const struct tdx_collateral *col, const struct tdx_chain *chain,
		     const struct tdx_quote *q, int64_t now, struct tdx_verdict *v)
{
	struct tdx_verdict local;
	if (!v)
		v = &local;
	memset(v, 0, sizeof(*v));
	if (!col || !q || !q->raw) {
		verdict_set(v, TDX_ERR_INTERNAL, "no collateral or no quote");
		return -1;
	}
	if (now == 0)
		now = (int64_t)time(NULL);
	/* 1. */
	if (col->verdict.reason != TDX_OK) {
		*v = col->verdict;
		return -1;
	}
	/* 2. */
	struct tdx_chain *own = NULL;
	if (!chain) {
		own = tdx_chain_new(q, col, v);
		if (!own)
			return -1;
		chain = own;
	} else if (chain->col != col || chain->pem_len != q->pck_len ||
		   memcmp(chain->pem, q->raw + q->pck_off, q->pck_len) != 0) {
		verdict_set(v, TDX_ERR_INTERNAL,
			    "the cached PCK chain is not this quote's (or was made with other "
			    "collateral)");
		return -1;
	}
	int ret = -1;
	if (chain->verdict.reason != TDX_OK) {
		*v = chain->verdict;
		goto out;
	}
	*v = chain->verdict; /* keeps fmspc, pce_id, pck_ca */

	/* 3. QE report signature */
	int ok = ecdsa_rs_verify(chain->pck_key, q->qe_report, TDX_QE_REPORT_BYTES,
				 q->qe_report_sig);
	if (ok != 1) {
		verdict_set(v, ok < 0 ? TDX_ERR_INTERNAL : TDX_ERR_QE_SIGNATURE,
			    "QE report signature does not verify with the PCK key");
		goto out;
	}
	/* 4. Binding */
	uint8_t h[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int hl = 0;
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, q->att_key, TDX_ATT_KEY_BYTES) != 1 ||
	    EVP_DigestUpdate(md, q->raw + q->qe_auth_off, q->qe_auth_len) != 1 ||
	    EVP_DigestFinal_ex(md, h, &hl) != 1) {
		EVP_MD_CTX_free(md);
		verdict_set(v, TDX_ERR_INTERNAL, "OpenSSL failure while hashing");
		goto out;
	}
	EVP_MD_CTX_free(md);
	static const uint8_t zero[32];
	if (memcmp(q->qe_report + 320, h, 32) != 0 || memcmp(q->qe_report + 352, zero, 32) != 0) {
		verdict_set(v, TDX_ERR_QE_BINDING,
			    "QE report REPORTDATA is not SHA-256(attestation key || QE "
			    "authentication data) followed by 32 zero bytes");
		goto out;
	}
	/* 5. Quote signature */
	EVP_PKEY *ak = att_key_pkey(q->att_key);
	if (!ak) {
		verdict_set(v, TDX_ERR_BAD_SIGNATURE,
			    "bad quote signature: the attestation key is not a P-256 point");
		goto out;
	}
	ok = ecdsa_rs_verify(ak, q->raw, q->signed_len, q->signature);
	EVP_PKEY_free(ak);
	if (ok != 1) {
		verdict_set(v, ok < 0 ? TDX_ERR_INTERNAL : TDX_ERR_BAD_SIGNATURE,
			    "bad quote signature: it does not verify with the attestation key");
		goto out;
	}
	/* 6. TCB info for the FMSPC */
	const struct tcb_info *t = NULL;
	char fm[13];
	util_hex(fm, chain->fmspc, 6);
	if (col->n_tcb) {
		t = tcb_for(col, chain->fmspc);
		if (!t) {
			char have[8 * 14 + 1] = "";
			size_t hl = 0;
			for (size_t i = 0; i < col->n_tcb; i++) {
				if (hl)
					have[hl++] = ' ';
				util_hex(have + hl, col->tcb[i].fmspc, 6);
				hl += 12;
			}
			verdict_set(v, TDX_ERR_COLLATERAL,
				    "no TCB info for the PCK's FMSPC %s (the collateral has: %s)",
				    fm, have);
			goto out;
		}
		if (memcmp(t->pce_id, chain->pce_id, 2) != 0) {
			verdict_set(v, TDX_ERR_COLLATERAL,
				    "TCB info PCE-ID %02x%02x is not the PCK's %02x%02x",
				    t->pce_id[0], t->pce_id[1], chain->pce_id[0], chain->pce_id[1]);
			goto out;
		}
	}
	/* 7. Collateral windows */
	if (t &&
	    (window(now, t->issue, t->next, true, "tcbInfo", "issueDate", "nextUpdate", v) < 0 ||
	     cert_window(t->signer, now, "TCB info signer", TDX_ERR_COLLATERAL_EXPIRED, v) < 0))
		goto out;
	if (col->have_qe && (window(now, col->qe.issue, col->qe.next, true, "enclaveIdentity",
				    "issueDate", "nextUpdate", v) < 0 ||
			     cert_window(col->qe.signer, now, "QE identity signer",
					 TDX_ERR_COLLATERAL_EXPIRED, v) < 0))
		goto out;
	if (chain->root_crl_idx >= 0 &&
	    crl_window(&col->root_crl[chain->root_crl_idx], now, "Root CA CRL", v) < 0)
		goto out;
	if (chain->pck_crl_idx >= 0 &&
	    crl_window(&col->pck_crl[chain->pck_crl_idx], now, "PCK CRL", v) < 0)
		goto out;
	/* 8. Certificates */
	if (cert_window(chain->leaf, now, "PCK certificate", TDX_ERR_EXPIRED, v) < 0 ||
	    cert_window(chain->ica, now, "intermediate CA", TDX_ERR_EXPIRED, v) < 0 ||
	    cert_window(chain->root, now, "root CA", TDX_ERR_EXPIRED, v) < 0)
		goto out;
	/* 9. Revocation */
	if (chain->ica_revoked || chain->leaf_revoked) {
		verdict_set(v, TDX_ERR_REVOKED, "%s", chain->revoked_detail);
		goto out;
	}
	v->root_crl_checked = chain->root_crl_idx >= 0;
	v->pck_crl_checked = chain->pck_crl_idx >= 0;
	/* 10-12 */
	if (tcb_match(col, chain, q, t, v) < 0)
		goto out;
	finish_status(v);
	/* 13. */
	if (v->tcb_status == TDX_TCB_REVOKED) {
		verdict_set(v, TDX_ERR_TCB_REVOKED,
			    "TCB status Revoked (platform %s, TDX module %s, QE %s)",
			    tdx_tcb_status_name(v->platform_status),
			    tdx_tcb_status_name(v->module_status),
			    tdx_tcb_status_name(v->qe_status));
		goto out;
	}
	if (t)
		verdict_set(v, TDX_OK,
			    "quote verified: signatures, PCK chain to the Intel SGX Root CA; TCB "
			    "status %s (FMSPC %s, TCB evaluation %u)",
			    tdx_tcb_status_name(v->tcb_status), fm, t->eval);
	else
		verdict_set(v, TDX_OK,
			    "quote verified: signatures, PCK chain to the Intel SGX Root CA; TCB "
			    "not evaluated (no TCB info)");
	ret = 0;
out:
	if (ret < 0 && v->reason != TDX_ERR_TCB_REVOKED) {
		v->tcb_evaluated = false;
		v->tcb_status = TDX_TCB_UNKNOWN;
	}
	tdx_chain_free(own);
	ERR_clear_error();
	return ret;
}

int tdx_verify(const struct tdx_quote *q, const struct tdx_collateral *col, int64_t now,
	       struct tdx_verdict *v)
{
	return tdx_verify_quote(col, NULL, q, now, v);
}

/* ------------------------------------------------------------------------------------------ */
/* dcap-qvl collateral bundle                                                                 */

void tdx_bundle_done(struct tdx_bundle *b)
{
	if (!b)
		return;
	free(b->tcb_info);
	free(b->qe_identity);
	free(b->tcb_info_chain);
	free(b->qe_identity_chain);
	free(b->pck_crl);
	free(b->pck_crl_chain);
	free(b->root_crl);
	memset(b, 0, sizeof(*b));
}

void tdx_bundle_opts(const struct tdx_bundle *b, struct tdx_collateral_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (b->tcb_info) {
		o->tcb_info[0] = b->tcb_info;
		o->tcb_info_len[0] = b->tcb_info_len;
		o->n_tcb_info = 1;
	}
	o->qe_identity = b->qe_identity;
	o->qe_identity_len = b->qe_identity_len;
	o->tcb_info_chain = b->tcb_info_chain;
	o->tcb_info_chain_len = b->tcb_info_chain_len;
	o->qe_identity_chain = b->qe_identity_chain;
	o->qe_identity_chain_len = b->qe_identity_chain_len;
	o->pck_crl = b->pck_crl;
	o->pck_crl_len = b->pck_crl_len;
	o->pck_crl_chain = b->pck_crl_chain;
	o->pck_crl_chain_len = b->pck_crl_chain_len;
	o->root_crl = b->root_crl;
	o->root_crl_len = b->root_crl_len;
}

/* A string member copied as is (PEM). */
static int bundle_str(json_t *root, const char *key, uint8_t **out, size_t *len, char *err,
		      size_t errlen)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return util_errf(err, errlen, -EINVAL, "collateral bundle: %s is not a string",
				 key);
	size_t n = json_string_length(v);
	*out = malloc(n + 1);
	if (!*out)
		return util_errf(err, errlen, -ENOMEM, "out of memory");
	memcpy(*out, json_string_value(v), n + 1);
	*len = n;
	return 0;
}

/* A hex member decoded (CRLs). */
static int bundle_hex(json_t *root, const char *key, uint8_t **out, size_t *len, char *err,
		      size_t errlen)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v))
		return 0;
	size_t n = json_is_string(v) ? json_string_length(v) : 0;
	if (!json_is_string(v) || n == 0 || n % 2)
		return util_errf(err, errlen, -EINVAL, "collateral bundle: %s is not hex", key);
	*out = malloc(n / 2);
	if (!*out)
		return util_errf(err, errlen, -ENOMEM, "out of memory");
	if (util_unhex(*out, n / 2, json_string_value(v), n) < 0)
		return util_errf(err, errlen, -EINVAL, "collateral bundle: %s is not hex", key);
	*len = n / 2;
	return 0;
}

/* {"<wrap>":<raw text>,"signature":"<hex>"} from the raw text and signature members. */
static int bundle_doc(json_t *root, const char *key, const char *sigkey, const char *wrap,
		      uint8_t **out, size_t *len, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);
	json_t *s = json_object_get(root, sigkey);
	if ((!v || json_is_null(v)) && (!s || json_is_null(s)))
		return 0;
	if (!json_is_string(v) || !json_is_string(s))
		return util_errf(err, errlen, -EINVAL,
				 "collateral bundle: %s and %s must both be strings", key, sigkey);
	size_t n = json_string_length(v), sn = json_string_length(s);
	if (n > TDX_JSON_MAX_BYTES || sn != 128)
		return util_errf(
			err, errlen, n > TDX_JSON_MAX_BYTES ? -E2BIG : -EINVAL,
			"collateral bundle: %s is over %u bytes or %s is not 128 hex digits", key,
			TDX_JSON_MAX_BYTES, sigkey);
	const char *sv = json_string_value(s);
	for (size_t i = 0; i < sn; i++)
		if (!is_hex(sv[i]))
			return util_errf(err, errlen, -EINVAL, "collateral bundle: %s is not hex",
					 sigkey);
	size_t cap = n + sn + strlen(wrap) + 32;
	char *buf = malloc(cap);
	if (!buf)
		return util_errf(err, errlen, -ENOMEM, "out of memory");
	int w = snprintf(buf, cap, "{\"%s\":", wrap);
	memcpy(buf + w, json_string_value(v), n);
	int w2 = snprintf(buf + w + n, cap - (size_t)w - n, ",\"signature\":\"%s\"}", sv);
	*out = (uint8_t *)buf;
	*len = (size_t)w + n + (size_t)w2;
	return 0;
}

int tdx_bundle_parse(const char *json, size_t len, struct tdx_bundle *out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return util_errf(err, errlen, -EINVAL, "invalid arguments");
	memset(out, 0, sizeof(*out));
	if (!json)
		return util_errf(err, errlen, -EINVAL, "invalid arguments");
	if (len > TDX_BUNDLE_MAX_BYTES)
		return util_errf(err, errlen, -E2BIG, "collateral bundle is %zu bytes, limit %u",
				 len, TDX_BUNDLE_MAX_BYTES);
	json_error_t je;
	json_t *root = json_parse_strict(json, len, &je);
	if (!root)
		return util_errf(err, errlen, -EINVAL,
				 "collateral bundle is not JSON (line %d column %d)", je.line,
				 je.column);
	int rc = -EINVAL;
	if (!json_is_object(root)) {
		util_errf(err, errlen, 0, "collateral bundle is not a JSON object");
		goto out;
	}
	static const char *const known[] = {
		"tcb_info",
		"tcb_info_signature",
		"tcb_info_issuer_chain",
		"qe_identity",
		"qe_identity_signature",
		"qe_identity_issuer_chain",
		"pck_crl",
		"pck_crl_issuer_chain",
		"root_ca_crl",
		"pck_certificate_chain",
	};
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v)
	{
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(known) && !ok; i++)
			ok = strcmp(k, known[i]) == 0;
		if (!ok) {
			char safe[40];
			json_utf8_lossy(k, strlen(k), safe, sizeof(safe));
			for (char *p = safe; *p; p++)
				if ((unsigned char)*p < 0x20)
					*p = '?';
			util_errf(err, errlen, 0, "collateral bundle: unknown key \"%s\"", safe);
			goto out;
		}
	}
	if ((rc = bundle_doc(root, "tcb_info", "tcb_info_signature", "tcbInfo", &out->tcb_info,
			     &out->tcb_info_len, err, errlen)) < 0 ||
	    (rc = bundle_doc(root, "qe_identity", "qe_identity_signature", "enclaveIdentity",
			     &out->qe_identity, &out->qe_identity_len, err, errlen)) < 0 ||
	    (rc = bundle_str(root, "tcb_info_issuer_chain", &out->tcb_info_chain,
			     &out->tcb_info_chain_len, err, errlen)) < 0 ||
	    (rc = bundle_str(root, "qe_identity_issuer_chain", &out->qe_identity_chain,
			     &out->qe_identity_chain_len, err, errlen)) < 0 ||
	    (rc = bundle_str(root, "pck_crl_issuer_chain", &out->pck_crl_chain,
			     &out->pck_crl_chain_len, err, errlen)) < 0 ||
	    (rc = bundle_hex(root, "pck_crl", &out->pck_crl, &out->pck_crl_len, err, errlen)) < 0 ||
	    (rc = bundle_hex(root, "root_ca_crl", &out->root_crl, &out->root_crl_len, err,
			     errlen)) < 0)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		tdx_bundle_done(out);
	return rc;
}
