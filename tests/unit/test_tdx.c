/*
 * test_tdx.c - Intel TDX quote parsing and verification with offline collateral (attest/tdx.c).
 *
 * Three kinds of input: every case of shared/testdata/tdx/ with the collateral set and the clock
 * its README names, and the result (reason, message, TCB status, advisory IDs) it states; byte
 * edits of those quotes and collateral documents (every parse rule and limit); and the
 * synthetic Intel-style PKI of tests/fixtures/tdx_testchain.c, compiled in (test root, PCK
 * Platform CA, PCK certificate with the SGX extension, TCB signing certificate), whose syn_*
 * layer signs edited quotes, TCB infos, QE identities and CRLs, trusted through
 * tdx_collateral_opts.test_roots, for what the real data cannot show (revocation, QE and module
 * identities, status merging); the test_testchain_* tests hold the fixture to its promise
 * (its quotes verify UpToDate against its collateral, in memory and through its files).
 * Test data: $TESTDATA, else $SRCDIR/../shared/testdata.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TDX_TESTCHAIN_NO_MAIN
#include "../fixtures/tdx_testchain.c" /* the synthetic PKI */

#include "attest/intel_roots.h"
#include "attest/tdx.h"
#include "attest/tsm.h"
#include "util.h"

/* ---------------------------------------------------------------------------------------- */
/* Files and clocks                                                                         */

static char testdata[512];

static void find_testdata(void)
{
	const char *t = getenv("TESTDATA");
	const char *s = getenv("SRCDIR");
	if (t && *t)
		snprintf(testdata, sizeof(testdata), "%s", t);
	else if (s && *s)
		snprintf(testdata, sizeof(testdata), "%s/../shared/testdata", s);
	else
		snprintf(testdata, sizeof(testdata), "../shared/testdata");
}

/* testdata/<rel>, NUL-terminated; NULL when missing and !must. Caller frees. */
static uint8_t *td_read_opt(const char *rel, size_t *len, bool must)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", testdata, rel);
	FILE *f = fopen(path, "rbe");
	if (!f) {
		if (must)
			fail_msg("cannot open %s (set TESTDATA or SRCDIR)", path);
		return NULL;
	}
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *nb = realloc(buf, cap + 1);
			assert_non_null(nb);
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

static uint8_t *td_read(const char *rel, size_t *len)
{
	return td_read_opt(rel, len, true);
}

/* "2025-07-19T10:00:34Z" to unix seconds. */
static int64_t ts(const char *s)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, se = 0;
	int n = sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &se);
	assert_true(n == 3 || n == 6);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (int64_t)timegm(&tm);
}

static void parse_quote_file(const char *rel, struct tdx_quote *q)
{
	size_t len;
	uint8_t *b = td_read(rel, &len);
	char err[256];
	int rc = strstr(rel, ".hex")
			 ? tdx_quote_parse_text((const char *)b, len, q, err, sizeof(err))
			 : tdx_quote_parse(b, len, q, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: %s", rel, err);
	free(b);
}

/* A collateral set of testdata/tdx/collateral/<set>/, its files as the CLI finds them. */
struct set {
	uint8_t *blobs[16];
	size_t n;
	struct tdx_collateral_opts o;
};

static uint8_t *set_file(struct set *s, const char *dir, const char *name, size_t *len)
{
	char rel[512];
	snprintf(rel, sizeof(rel), "tdx/collateral/%s/%s", dir, name);
	uint8_t *b = td_read_opt(rel, len, false);
	if (b) {
		assert_true(s->n < ARRAY_SIZE(s->blobs));
		s->blobs[s->n++] = b;
	}
	return b;
}

static const char *const tcbinfo_names[] = {
	"tcbinfo_tdx_50806f000000.json",
	"tcbinfo_tdx_90c06f000000.json",
	"tcbinfo_tdx_b0c06f000000.json",
	"tcbinfo_tdx_00806f050000.json",
	"tcbinfo_tdx_50806f000000_status_edited.json",
};

/* signing: another set whose tcb_info_issuer_chain.pem signs this one ("" = none). */
static void set_load(struct set *s, const char *dir, const char *signing)
{
	memset(s, 0, sizeof(*s));
	struct tdx_collateral_opts *o = &s->o;
	for (size_t i = 0; i < ARRAY_SIZE(tcbinfo_names); i++) {
		size_t len;
		uint8_t *b = set_file(s, dir, tcbinfo_names[i], &len);
		if (b) {
			o->tcb_info[o->n_tcb_info] = b;
			o->tcb_info_len[o->n_tcb_info++] = len;
		}
	}
	o->qe_identity = set_file(s, dir, "qe_identity_td_qe.json", &o->qe_identity_len);
	o->tcb_info_chain = set_file(s, signing ? signing : dir, "tcb_info_issuer_chain.pem",
				     &o->tcb_info_chain_len);
	o->qe_identity_chain =
		set_file(s, dir, "qe_identity_issuer_chain.pem", &o->qe_identity_chain_len);
	o->pck_crl = set_file(s, dir, "pck_crl.der", &o->pck_crl_len);
	if (!o->pck_crl)
		o->pck_crl = set_file(s, dir, "pck_crl_platform.der", &o->pck_crl_len);
	o->pck_crl_chain = set_file(s, dir, "pck_crl_issuer_chain.pem", &o->pck_crl_chain_len);
	o->root_crl = set_file(s, dir, "root_ca_crl.der", &o->root_crl_len);
}

static void set_done(struct set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->blobs[i]);
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------------------------------- */
/* The README's cases                                                                       */

#define SIGN_2025 "dcapqvl_2026-02_90c06f" /* TCB Signing cert valid 2025-05-06..2032 */

struct td_case {
	const char *quote;   /* under tdx/ */
	const char *set;     /* collateral set; NULL: none */
	const char *signing; /* set whose TCB issuer chain signs 'set'; NULL: its own */
	const char *now;
	enum tdx_reason want;
	const char *detail;
	enum tdx_tcb_status status;
	const char *advisories; /* space-separated, in order; NULL: none */
};

static const struct td_case td_cases[] = {
	/* README 2.2 expected TCB evaluation */
	{ "valid/v4_b0c06f_dcapqvl/quote.dat", "dcapqvl_2025-06_b0c06f", NULL,
	  "2025-07-19T10:00:34Z", TDX_OK, "TCB status UpToDate", TDX_TCB_UP_TO_DATE, NULL },
	{ "valid/v4_spr_50806f_gotdx/quote.dat", "gotdx_2023", NULL, "2023-07-01T01:00:00Z",
	  TDX_ERR_TCB_UNSUPPORTED, "no matching TCB level", TDX_TCB_UNKNOWN, NULL },
	{ "valid/v4_spr_50806f_gotdx/quote.dat", "gotdx_2023", NULL, "2053-07-01T00:00:00Z",
	  TDX_ERR_COLLATERAL_EXPIRED, "collateral expired: tcbInfo nextUpdate 2023-07-18T08:42:58Z",
	  TDX_TCB_UNKNOWN, NULL },
	{ "valid/v5_emr_90c06f_gotdx/quote.dat", "gotdx_2026", SIGN_2025, "2026-02-03T00:00:00Z",
	  TDX_OK, "TCB status UpToDate (FMSPC 90c06f000000, TCB evaluation 18)", TDX_TCB_UP_TO_DATE,
	  NULL },
	{ "tcb_unsupported/v5_90c06f_outdated_dcapqvl/quote.dat", "dcapqvl_2026-02_90c06f", NULL,
	  "2026-03-20T10:41:14Z", TDX_ERR_TCB_UNSUPPORTED,
	  "no matching TCB level: TCB not supported for FMSPC 90c06f000000", TDX_TCB_UNKNOWN,
	  NULL },
	{ "valid/v4_50806f_trustee/quote.dat", "gotdx_2023", NULL, "2023-07-01T01:00:00Z", TDX_OK,
	  "TCB status UpToDate", TDX_TCB_UP_TO_DATE, NULL },
	{ "valid/v4_50806f_trustee/quote.dat", "teekit_2025-09", SIGN_2025, "2025-10-01T00:00:00Z",
	  TDX_OK, "TCB status OutOfDate", TDX_TCB_OUT_OF_DATE,
	  "INTEL-SA-00837 INTEL-SA-00960 INTEL-SA-00982 INTEL-SA-00986" },
	{ "valid/v4_gcp_cos113_00806f05_gotdx/quote.dat", "teekit_2025-09", SIGN_2025,
	  "2025-10-01T00:00:00Z", TDX_OK, "TCB status OutOfDate", TDX_TCB_OUT_OF_DATE,
	  "INTEL-SA-00960 INTEL-SA-00982 INTEL-SA-00986" },
	{ "valid/v4_azure_00806f05_trustee/quote.dat", "teekit_2025-09", SIGN_2025,
	  "2025-10-01T00:00:00Z", TDX_ERR_TCB_UNSUPPORTED, "no matching TCB level", TDX_TCB_UNKNOWN,
	  NULL },
	{ "valid/v4_b0c06f_dcapqvl_hex/quote.hex", "dcapqvl_2025-06_b0c06f", NULL,
	  "2025-07-19T10:00:34Z", TDX_ERR_TCB_UNSUPPORTED, "no matching TCB level", TDX_TCB_UNKNOWN,
	  NULL },
	/* README 2.1: every valid quote's signatures and chain verify (no TCB info given) */
	{ "valid/v4_spr_50806f_gotdx/quote.dat", NULL, NULL, "2026-11-22T00:00:00Z", TDX_OK,
	  "TCB not evaluated", TDX_TCB_UNKNOWN, NULL },
	{ "valid/v5_emr_90c06f_gotdx/quote.dat", NULL, NULL, "2026-11-22T00:00:00Z", TDX_OK,
	  "TCB not evaluated", TDX_TCB_UNKNOWN, NULL },
	{ "valid/v4_gcp_cos113_00806f05_gotdx/quote.dat", NULL, NULL, "2026-11-22T00:00:00Z",
	  TDX_OK, "TCB not evaluated", TDX_TCB_UNKNOWN, NULL },
	{ "valid/v4_50806f_trustee/quote.dat", NULL, NULL, "2026-11-22T00:00:00Z", TDX_OK,
	  "TCB not evaluated", TDX_TCB_UNKNOWN, NULL },
	{ "valid/v4_azure_00806f05_trustee/quote.dat", NULL, NULL, "2026-11-22T00:00:00Z", TDX_OK,
	  "TCB not evaluated", TDX_TCB_UNKNOWN, NULL },
	{ "valid/v4_b0c06f_dcapqvl/quote.dat", NULL, NULL, "2026-11-22T00:00:00Z", TDX_OK,
	  "TCB not evaluated", TDX_TCB_UNKNOWN, NULL },
	{ "valid/v4_b0c06f_dcapqvl_hex/quote.hex", NULL, NULL, "2026-11-22T00:00:00Z", TDX_OK,
	  "TCB not evaluated", TDX_TCB_UNKNOWN, NULL },
	{ "tcb_unsupported/v5_90c06f_outdated_dcapqvl/quote.dat", NULL, NULL,
	  "2026-11-22T00:00:00Z", TDX_OK, "TCB not evaluated", TDX_TCB_UNKNOWN, NULL },
	/* README 2.3: byte edits that still parse */
	{ "invalid/v4_spr_gotdx_cert_chain_byte_0x1343/quote.dat", "gotdx_2023", NULL,
	  "2023-07-01T01:00:00Z", TDX_ERR_CHAIN, "PCK chain: PEM certificate 3 does not parse",
	  TDX_TCB_UNKNOWN, NULL },
	{ "invalid/v4_spr_gotdx_root_cert_byte_0x1329/quote.dat", "gotdx_2023", NULL,
	  "2023-07-01T01:00:00Z", TDX_ERR_CHAIN,
	  "PCK chain: root certificate Intel SGX Root CA: self-signature does not verify",
	  TDX_TCB_UNKNOWN, NULL },
	{ "invalid/v4_spr_gotdx_intermediate_cert_byte_0xF5F/quote.dat", "gotdx_2023", NULL,
	  "2023-07-01T01:00:00Z", TDX_ERR_CHAIN,
	  "PCK chain: intermediate CA Intel SGX PCK Platform CA: signature by Intel SGX Root CA "
	  "does not verify",
	  TDX_TCB_UNKNOWN, NULL },
	{ "invalid/v4_spr_gotdx_header_byte_0x1E/quote.dat", "gotdx_2023", NULL,
	  "2023-07-01T01:00:00Z", TDX_ERR_BAD_SIGNATURE, "bad quote signature", TDX_TCB_UNKNOWN,
	  NULL },
	/* README 2.2: the tampered TCB info */
	{ "valid/v4_spr_50806f_gotdx/quote.dat", "tampered", "gotdx_2023", "2023-07-01T01:00:00Z",
	  TDX_ERR_COLLATERAL, "TCB info signature does not verify", TDX_TCB_UNKNOWN, NULL },
	/* The gotdx_2026 TCB info with the 2023 issuer chain (same key): its certificate expired
	 * on 2025-05-21, before that TCB info was issued. */
	{ "valid/v5_emr_90c06f_gotdx/quote.dat", "gotdx_2026", "gotdx_2023", "2026-02-03T00:00:00Z",
	  TDX_ERR_COLLATERAL_EXPIRED,
	  "collateral expired: TCB info signer Intel SGX TCB Signing expired 2025-05-21T10:50:10Z",
	  TDX_TCB_UNKNOWN, NULL },
	/* Windows */
	{ "valid/v4_b0c06f_dcapqvl/quote.dat", "dcapqvl_2025-06_b0c06f", NULL,
	  "2025-06-01T00:00:00Z", TDX_ERR_COLLATERAL_EXPIRED,
	  "collateral not yet valid: tcbInfo issueDate 2025-06-19", TDX_TCB_UNKNOWN, NULL },
	{ "valid/v4_b0c06f_dcapqvl/quote.dat", "dcapqvl_2025-06_b0c06f", NULL,
	  "2025-07-19T10:00:36Z", TDX_ERR_COLLATERAL_EXPIRED,
	  "collateral expired: PCK CRL nextUpdate 2025-07-19T10:00:35Z", TDX_TCB_UNKNOWN, NULL },
	{ "valid/v4_spr_50806f_gotdx/quote.dat", "gotdx_2023", NULL, "2023-07-10T00:00:00Z",
	  TDX_ERR_COLLATERAL_EXPIRED, "collateral expired: enclaveIdentity nextUpdate",
	  TDX_TCB_UNKNOWN, NULL },
	/* A quote whose FMSPC the collateral does not cover */
	{ "valid/v4_spr_50806f_gotdx/quote.dat", "dcapqvl_2025-06_b0c06f", NULL,
	  "2025-07-19T10:00:34Z", TDX_ERR_COLLATERAL,
	  "no TCB info for the PCK's FMSPC 50806f000000 (the collateral has: b0c06f000000)",
	  TDX_TCB_UNKNOWN, NULL },
};

static void check_verdict(const char *what, const struct tdx_verdict *v, enum tdx_reason want,
			  const char *detail, enum tdx_tcb_status status, const char *adv)
{
	if (v->reason != want || !strstr(v->detail, detail))
		fail_msg("%s: got %s \"%s\", want %s \"%s\"", what, tdx_reason_name(v->reason),
			 v->detail, tdx_reason_name(want), detail);
	if (v->tcb_status != status)
		fail_msg("%s: TCB status %s, want %s", what, tdx_tcb_status_name(v->tcb_status),
			 tdx_tcb_status_name(status));
	char got[TDX_ADVISORIES_MAX * TDX_ADVISORY_ID_MAX_BYTES] = "";
	size_t o = 0;
	for (size_t i = 0; i < v->n_advisory_ids; i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", i ? " " : "",
				      v->advisory_ids[i]);
	if (strcmp(got, adv ? adv : "") != 0)
		fail_msg("%s: advisories \"%s\", want \"%s\"", what, got, adv ? adv : "");
}

static void test_readme_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(td_cases); i++) {
		const struct td_case *tc = &td_cases[i];
		char rel[512], what[600];
		snprintf(rel, sizeof(rel), "tdx/%s", tc->quote);
		snprintf(what, sizeof(what), "%s + %s at %s", tc->quote, tc->set ? tc->set : "-",
			 tc->now);
		struct tdx_quote q;
		parse_quote_file(rel, &q);
		struct set s;
		if (tc->set)
			set_load(&s, tc->set, tc->signing);
		else
			memset(&s, 0, sizeof(s));
		struct tdx_verdict v;
		struct tdx_collateral *c = tdx_collateral_new(&s.o, &v);
		assert_non_null(c);
		int rc = tdx_verify(&q, c, ts(tc->now), &v);
		assert_int_equal(rc, v.reason == TDX_OK ? 0 : -1);
		check_verdict(what, &v, tc->want, tc->detail, tc->status, tc->advisories);
		/* The same through a cached chain. */
		struct tdx_verdict cv, v2;
		struct tdx_chain *ch = tdx_chain_new(&q, c, &cv);
		assert_non_null(ch);
		assert_int_equal(tdx_verify_quote(c, ch, &q, ts(tc->now), &v2), rc);
		assert_int_equal(v2.reason, v.reason);
		assert_string_equal(v2.detail, v.detail);
		tdx_chain_free(ch);
		tdx_collateral_free(c);
		set_done(&s);
		tdx_quote_done(&q);
	}
}

/* The "done": the same quote, at the real current date, is refused as expired. */
static void test_expired_now(void **state)
{
	(void)state;
	struct tdx_quote q;
	parse_quote_file("tdx/valid/v4_b0c06f_dcapqvl/quote.dat", &q);
	struct set s;
	set_load(&s, "dcapqvl_2025-06_b0c06f", NULL);
	struct tdx_verdict v;
	struct tdx_collateral *c = tdx_collateral_new(&s.o, &v);
	assert_int_equal(v.reason, TDX_OK);
	assert_int_equal(tdx_verify(&q, c, 0, &v), -1); /* 0 = the current time */
	check_verdict("at the current date", &v, TDX_ERR_COLLATERAL_EXPIRED,
		      "collateral expired: tcbInfo nextUpdate 2025-07-19T10:16:03Z",
		      TDX_TCB_UNKNOWN, NULL);
	assert_int_equal(tdx_verify(&q, c, (int64_t)time(NULL), &v), -1);
	assert_int_equal(v.reason, TDX_ERR_COLLATERAL_EXPIRED);
	/* ...and verifies inside the window with the very same collateral object. */
	assert_int_equal(tdx_verify(&q, c, ts("2025-07-19T10:00:34Z"), &v), 0);
	tdx_collateral_free(c);
	set_done(&s);
	tdx_quote_done(&q);
}

static const struct {
	const char *quote;
	int rc;
	const char *err;
} td_parse_cases[] = {
	{ "invalid/v4_spr_gotdx_version_byte_0x00_to_03/quote.dat", -ENOTSUP,
	  "unsupported quote version 3 at offset 0x0 (supported: 4, 5)" },
	{ "invalid/v4_spr_gotdx_sig_data_size_0x278_to_10/quote.dat", -EINVAL,
	  "malformed at offset 0x278: signature data length 4112 is too short for the QE report "
	  "certification data" },
};

static void test_readme_parse_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(td_parse_cases); i++) {
		char rel[512], err[256];
		snprintf(rel, sizeof(rel), "tdx/%s", td_parse_cases[i].quote);
		size_t len;
		uint8_t *b = td_read(rel, &len);
		struct tdx_quote q;
		assert_int_equal(tdx_quote_parse(b, len, &q, err, sizeof(err)),
				 td_parse_cases[i].rc);
		if (!strstr(err, td_parse_cases[i].err))
			fail_msg("%s: \"%s\", want \"%s\"", rel, err, td_parse_cases[i].err);
		assert_null(q.raw);
		tdx_quote_done(&q); /* harmless on an empty quote */
		free(b);
	}
}

static void test_intel_root(void **state)
{
	(void)state;
	size_t dl, pl;
	uint8_t *der = td_read("tdx/intel_roots/intel_sgx_root_ca.der", &dl);
	uint8_t *pem = td_read("tdx/intel_roots/intel_sgx_root_ca.pem", &pl);
	assert_int_equal(dl, INTEL_SGX_ROOT_CA_DER_BYTES);
	assert_memory_equal(der, intel_sgx_root_ca_der, dl);
	uint8_t h[32];
	char hex[65];
	SHA256(intel_sgx_root_ca_der, INTEL_SGX_ROOT_CA_DER_BYTES, h);
	util_hex(hex, h, 32);
	/* The fingerprint the README and Intel publish. */
	assert_string_equal(hex,
			    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
	assert_string_equal(hex, intel_sgx_root_ca_sha256_hex);
	BIO *bio = BIO_new_mem_buf(pem, (int)pl);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_non_null(x);
	unsigned char *d2 = NULL;
	int n = i2d_X509(x, &d2);
	assert_int_equal(n, INTEL_SGX_ROOT_CA_DER_BYTES);
	assert_memory_equal(d2, intel_sgx_root_ca_der, (size_t)n);
	OPENSSL_free(d2);
	X509_free(x);
	BIO_free(bio);
	free(der);
	free(pem);
}

/* Every valid quote parses to the fields the README lists. */
static void test_parse_fields(void **state)
{
	(void)state;
	static const struct {
		const char *q;
		uint16_t ver, body_type;
		const char *svn; /* first 4 bytes of TEE_TCB_SVN */
		size_t quote_len;
	} f[] = {
		{ "valid/v4_spr_50806f_gotdx/quote.dat", 4, 2, "03000400", 4935 },
		{ "valid/v5_emr_90c06f_gotdx/quote.dat", 5, 3, "0b010400", 5006 },
		{ "valid/v4_gcp_cos113_00806f05_gotdx/quote.dat", 4, 2, "04010700", 4935 },
		{ "valid/v4_50806f_trustee/quote.dat", 4, 2, "03000500", 4936 },
		{ "valid/v4_azure_00806f05_trustee/quote.dat", 4, 2, "02010600", 4936 },
		{ "valid/v4_b0c06f_dcapqvl/quote.dat", 4, 2, "06010300", 4936 },
		{ "valid/v4_b0c06f_dcapqvl_hex/quote.hex", 4, 2, "05010200", 4936 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		char rel[256], svn[9];
		snprintf(rel, sizeof(rel), "tdx/%s", f[i].q);
		struct tdx_quote q;
		parse_quote_file(rel, &q);
		assert_int_equal(q.version, f[i].ver);
		assert_int_equal(q.body_type, f[i].body_type);
		assert_int_equal(q.tee_type, TDX_TEE_TYPE_TDX);
		assert_int_equal(q.att_key_type, 2);
		util_hex(svn, q.tee_tcb_svn, 4);
		assert_string_equal(svn, f[i].svn);
		assert_int_equal(q.quote_len, f[i].quote_len);
		assert_int_equal(q.signed_len, f[i].ver == 4 ? 48 + 584 : 54 + 648);
		assert_int_equal(q.qe_auth_len, 32);
		assert_true(q.pck_len > 3000);
		assert_true(tdx_quote_sniff(q.raw, q.quote_len));
		tdx_quote_done(&q);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Parser rules and limits (edits of a real quote)                                          */

static uint8_t *real_quote(size_t *len)
{
	uint8_t *b = td_read("tdx/valid/v4_spr_50806f_gotdx/quote.dat", len);
	*len = 4935; /* without go-tdx-guest's trailing text */
	return b;
}

static int parse_err(const uint8_t *b, size_t len, char *err, size_t errlen)
{
	struct tdx_quote q;
	int rc = tdx_quote_parse(b, len, &q, err, errlen);
	tdx_quote_done(&q);
	return rc;
}

static void expect_parse(const uint8_t *b, size_t len, int rc, const char *msg)
{
	char err[256] = "";
	int got = parse_err(b, len, err, sizeof(err));
	if (got != rc || !strstr(err, msg))
		fail_msg("parse: %d \"%s\", want %d \"%s\"", got, err, rc, msg);
}

static void test_parse_rules(void **state)
{
	(void)state;
	size_t len;
	uint8_t *orig = real_quote(&len);
	uint8_t *b = malloc(TDX_QUOTE_MAX_BYTES + 1);
	assert_non_null(b);
#define RESET() memcpy(b, orig, len)
	RESET();
	expect_parse(b, len, 0, "");
	RESET();
	util_put_le16(b + 2, 3);
	expect_parse(b, len, -ENOTSUP, "unsupported attestation key type 3 at offset 0x2");
	RESET();
	util_put_le32(b + 4, 0);
	expect_parse(b, len, -ENOTSUP, "unsupported TEE type 0x0 at offset 0x4");
	RESET();
	b[12] ^= 1;
	expect_parse(b, len, -ENOTSUP, "unsupported QE vendor ID");
	RESET();
	util_put_le16(b, 5); /* a v4 file read as v5, with body type 4 */
	util_put_le16(b + 48, 4);
	expect_parse(b, len, -ENOTSUP, "unsupported body type 4 at offset 0x30");
	RESET();
	util_put_le32(b + 0x278, 0xffffffff);
	expect_parse(b, len, -EINVAL,
		     "malformed at offset 0x278: signature data length 4294967295 "
		     "exceeds");
	RESET();
	util_put_le32(b + 0x278,
		      4299 + 1); /* one byte longer than its contents (file has one more) */
	expect_parse(b, len + 1, -EINVAL,
		     "malformed at offset 0x278: signature data length 4300, but its contents "
		     "take 4299 bytes");
	RESET();
	util_put_le16(b + 0x27c + 128, 5); /* certification data type 5 at top level */
	expect_parse(b, len, -ENOTSUP, "unsupported certification data type 5 at offset 0x2fc");
	RESET();
	util_put_le16(b + 0x27c + 134 + 384 + 64, 0x7fff); /* QE auth data size */
	expect_parse(b, len, -EINVAL, "too short for the QE authentication data");
	RESET();
	util_put_le16(b + 0x27c + 134 + 384 + 64 + 2 + 32, 3); /* nested type */
	expect_parse(b, len, -ENOTSUP, "unsupported certification data type 3");
	RESET();
	util_put_le32(b + 0x27c + 134 + 384 + 64 + 2 + 32 + 2, 100); /* nested size */
	expect_parse(b, len, -EINVAL, "malformed at offset 0x2fe: certification data size 4165");
	/* Every truncation fails cleanly, naming an offset or the version. */
	for (size_t n = 0; n < len; n++) {
		char err[256];
		int rc = parse_err(orig, n, err, sizeof(err));
		assert_true(rc == -EINVAL);
		assert_non_null(strstr(err, "malformed at offset"));
	}
	/* Padding after the quote (zeros or text) is ignored; the limit counts it. */
	RESET();
	memset(b + len, 0, TDX_QUOTE_MAX_BYTES + 1 - len);
	expect_parse(b, TDX_QUOTE_MAX_BYTES, 0, "");
	expect_parse(b, TDX_QUOTE_MAX_BYTES + 1, -E2BIG, "limit");
	/* v5 rules on the v5 sample */
	size_t l5;
	uint8_t *v5 = td_read("tdx/valid/v5_emr_90c06f_gotdx/quote.dat", &l5);
	util_put_le16(v5 + 48, 1);
	expect_parse(v5, l5, -ENOTSUP,
		     "unsupported body type 1 (SGX enclave report) at offset 0x30");
	util_put_le16(v5 + 48, 3);
	util_put_le32(v5 + 50, 584);
	expect_parse(v5, l5, -EINVAL, "malformed at offset 0x32: body size 584, want 648");
	util_put_le32(v5 + 50, 648);
	expect_parse(v5, l5, 0, "");
	expect_parse(v5, 50, -EINVAL, "too short for the v5 body descriptor");
	free(v5);
	/* NULL arguments */
	struct tdx_quote q;
	char err[64];
	assert_int_equal(tdx_quote_parse(NULL, 10, &q, err, sizeof(err)), -EINVAL);
	assert_int_equal(tdx_quote_parse(orig, len, NULL, err, sizeof(err)), -EINVAL);
	assert_false(tdx_quote_sniff(NULL, 0));
	assert_false(tdx_quote_sniff(orig, 7));
#undef RESET
	free(b);
	free(orig);
}

static void test_parse_text(void **state)
{
	(void)state;
	size_t len;
	uint8_t *orig = real_quote(&len);
	/* base64 with line breaks, hex with 0x and whitespace, upper case */
	size_t b64cap = 4 * ((len + 2) / 3) + 1;
	char *b64 = malloc(b64cap + len / 48 + 2);
	assert_non_null(b64);
	int n = EVP_EncodeBlock((unsigned char *)b64, orig, (int)len);
	assert_true(n > 0);
	struct tdx_quote q;
	char err[256];
	assert_int_equal(tdx_quote_parse_text(b64, (size_t)n, &q, err, sizeof(err)), 0);
	assert_int_equal(q.quote_len, len);
	tdx_quote_done(&q);
	char *hex = malloc(2 * len + 16);
	assert_non_null(hex);
	memcpy(hex, "0X", 2);
	util_hex(hex + 2, orig, len);
	for (char *p = hex + 2; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	size_t hl = strlen(hex);
	memcpy(hex + hl, "\r\n", 3);
	assert_int_equal(tdx_quote_parse_text(hex, hl + 2, &q, err, sizeof(err)), 0);
	tdx_quote_done(&q);
	assert_int_equal(tdx_quote_parse_text("0x123", 5, &q, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not an even number of hex digits"));
	assert_int_equal(tdx_quote_parse_text("!!!!", 4, &q, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "neither hex nor base64"));
	assert_int_equal(tdx_quote_parse_text("", 0, &q, err, sizeof(err)), -EINVAL);
	/* text limit: at the limit it is read (and is then too long a quote), past it refused */
	char *big = malloc(TDX_QUOTE_TEXT_MAX_BYTES + 1);
	assert_non_null(big);
	memset(big, 'a', TDX_QUOTE_TEXT_MAX_BYTES + 1);
	assert_int_equal(tdx_quote_parse_text(big, TDX_QUOTE_TEXT_MAX_BYTES, &q, err, sizeof(err)),
			 -E2BIG);
	assert_non_null(strstr(err, "quote is"));
	assert_int_equal(
		tdx_quote_parse_text(big, TDX_QUOTE_TEXT_MAX_BYTES + 1, &q, err, sizeof(err)),
		-E2BIG);
	assert_non_null(strstr(err, "quote text is"));
	free(big);
	free(hex);
	free(b64);
	free(orig);
}

/* ---------------------------------------------------------------------------------------- */
/* Collateral documents                                                                     */

static void test_status_names_and_merge(void **state)
{
	(void)state;
	for (int i = 1; i < TDX_TCB_STATUS_COUNT; i++) {
		const char *n = tdx_tcb_status_name((enum tdx_tcb_status)i);
		assert_int_equal(tdx_tcb_status_from_name(n, strlen(n)), i);
	}
	assert_int_equal(tdx_tcb_status_from_name("uptodate", 8), TDX_TCB_UNKNOWN);
	assert_int_equal(tdx_tcb_status_from_name(NULL, 0), TDX_TCB_UNKNOWN);
	assert_string_equal(tdx_tcb_status_name((enum tdx_tcb_status)99), "Unknown");
	static const struct {
		enum tdx_tcb_status a, b, want;
	} m[] = {
		{ TDX_TCB_UP_TO_DATE, TDX_TCB_UP_TO_DATE, TDX_TCB_UP_TO_DATE },
		{ TDX_TCB_UNKNOWN, TDX_TCB_SW_HARDENING_NEEDED, TDX_TCB_SW_HARDENING_NEEDED },
		{ TDX_TCB_UP_TO_DATE, TDX_TCB_SW_HARDENING_NEEDED, TDX_TCB_SW_HARDENING_NEEDED },
		{ TDX_TCB_SW_HARDENING_NEEDED, TDX_TCB_CONFIGURATION_NEEDED,
		  TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED },
		{ TDX_TCB_SW_HARDENING_NEEDED, TDX_TCB_OUT_OF_DATE, TDX_TCB_OUT_OF_DATE },
		{ TDX_TCB_CONFIGURATION_NEEDED, TDX_TCB_OUT_OF_DATE,
		  TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED },
		{ TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED, TDX_TCB_OUT_OF_DATE,
		  TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED },
		{ TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, TDX_TCB_UP_TO_DATE,
		  TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED },
		{ TDX_TCB_REVOKED, TDX_TCB_UP_TO_DATE, TDX_TCB_REVOKED },
		{ TDX_TCB_OUT_OF_DATE, TDX_TCB_REVOKED, TDX_TCB_REVOKED },
	};
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		assert_int_equal(tdx_tcb_status_merge(m[i].a, m[i].b), m[i].want);
		assert_int_equal(tdx_tcb_status_merge(m[i].b, m[i].a), m[i].want);
	}
	for (int r = TDX_OK; r <= TDX_ERR_INTERNAL; r++)
		assert_string_not_equal(tdx_reason_name((enum tdx_reason)r), "unknown");
	assert_string_equal(tdx_reason_name((enum tdx_reason)99), "unknown");
}

/* The configfs-tsm provider attribute names the TEE (attest/tsm.c). */
static void test_tsm_tee(void **state)
{
	(void)state;
	assert_int_equal(tsm_tee_from_provider("sev_guest"), TSM_TEE_SNP);
	assert_int_equal(tsm_tee_from_provider("tdx_guest"), TSM_TEE_TDX);
	assert_int_equal(tsm_tee_from_provider("arm_cca_guest"), TSM_TEE_UNKNOWN);
	assert_int_equal(tsm_tee_from_provider("tdx_guest\n"), TSM_TEE_UNKNOWN);
	assert_int_equal(tsm_tee_from_provider(NULL), TSM_TEE_UNKNOWN);
	assert_string_equal(tsm_tee_name(TSM_TEE_SNP), "snp");
	assert_string_equal(tsm_tee_name(TSM_TEE_TDX), "tdx");
	assert_string_equal(tsm_tee_name(TSM_TEE_UNKNOWN), "unknown");
}

/* A copy of a real TCB info document with one textual replacement. */
static char *edited(const char *rel, const char *from, const char *to, size_t *len)
{
	size_t n;
	char *t = (char *)td_read(rel, &n);
	char *p = strstr(t, from);
	assert_non_null(p);
	size_t fl = strlen(from), tl = strlen(to);
	char *o = malloc(n - fl + tl + 1);
	assert_non_null(o);
	memcpy(o, t, (size_t)(p - t));
	memcpy(o + (p - t), to, tl);
	memcpy(o + (p - t) + tl, p + fl, n - (size_t)(p - t) - fl + 1);
	*len = n - fl + tl;
	free(t);
	return o;
}

#define TI_2023 "tdx/collateral/gotdx_2023/tcbinfo_tdx_50806f000000.json"
#define QE_2023 "tdx/collateral/gotdx_2023/qe_identity_td_qe.json"

static void expect_tcb_check(const char *from, const char *to, int rc, const char *msg)
{
	size_t n;
	char *t = edited(TI_2023, from, to, &n);
	char err[256] = "";
	int got = tdx_tcb_info_check(t, n, err, sizeof(err));
	if (got != rc || !strstr(err, msg))
		fail_msg("\"%s\" -> \"%s\": %d \"%s\", want %d \"%s\"", from, to, got, err, rc,
			 msg);
	free(t);
}

static void expect_qe_check(const char *from, const char *to, int rc, const char *msg)
{
	size_t n;
	char *t = edited(QE_2023, from, to, &n);
	char err[256] = "";
	int got = tdx_qe_identity_check(t, n, err, sizeof(err));
	if (got != rc || !strstr(err, msg))
		fail_msg("\"%s\" -> \"%s\": %d \"%s\", want %d \"%s\"", from, to, got, err, rc,
			 msg);
	free(t);
}

static void test_collateral_formats(void **state)
{
	(void)state;
	expect_tcb_check("\"id\":\"TDX\"", "\"id\":\"TDX\"", 0, "");
	expect_tcb_check("\"id\":\"TDX\"", "\"id\":\"SGX\"", -EINVAL, "tcbInfo.id: is not \"TDX\"");
	expect_tcb_check("\"version\":3", "\"version\":2", -EINVAL, "version: 2 is not supported");
	expect_tcb_check("\"fmspc\":\"50806f000000\"", "\"fmspc\":\"50806f0000\"", -EINVAL,
			 "tcbInfo.fmspc: want 6 bytes");
	expect_tcb_check("\"issueDate\":\"2023-06-18T08:42:58Z\"",
			 "\"issueDate\":\"2023-02-30T08:42:58Z\"", -EINVAL,
			 "issueDate: want a UTC");
	expect_tcb_check("\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":\"Fine\"", -EINVAL,
			 "tcbLevels[0]: tcbStatus is not one of Intel's statuses");
	expect_tcb_check("{\"svn\":5,", "{\"svn\":256,", -EINVAL,
			 "tcbLevels: [0].tcb.sgxtcbcomponents[0].svn: want 0..255");
	expect_tcb_check("\"pcesvn\":11", "\"pcesvn\":-1", -EINVAL, "pcesvn: want 0..65535");
	expect_tcb_check("\"tdxModule\":{", "\"tdxModulX\":{", -EINVAL, "tdxModule: missing");
	expect_tcb_check("{\"tcbInfo\":", "{\"extra\":1,\"tcbInfo\":", -EINVAL,
			 "unknown key \"extra\"");
	expect_tcb_check("{\"tcbInfo\":", "{\"tcbInfo\":1,\"tcbInfo\":", -EINVAL, "not JSON");
	expect_tcb_check("\"signature\":\"f6", "\"signature\":\"z6", -EINVAL,
			 "\"signature\" is not 64 bytes of hex");
	expect_tcb_check("{\"tcbInfo\":", "{\"tcb\\u0049nfo\":", -EINVAL,
			 "cannot be located in the text");
	expect_tcb_check("\"advisoryIDs\":[\"INTEL-SA-00106\"", "\"advisoryIDs\":[\"INTEL SA\"",
			 -EINVAL, "not printable ASCII");
	expect_qe_check("\"id\":\"TD_QE\"", "\"id\":\"TD_QE\"", 0, "");
	expect_qe_check("\"id\":\"TD_QE\"", "\"id\":\"QE\"", -EINVAL, "is not \"TD_QE\"");
	expect_qe_check("\"version\":2", "\"version\":1", -EINVAL, "1 is not supported");
	expect_qe_check("\"isvsvn\":4", "\"isvsvn\":\"4\"", -EINVAL, "isvsvn: want 0..65535");
	expect_qe_check("\"mrsigner\":\"DC9E", "\"mrsigner\":\"ZC9E", -EINVAL,
			"mrsigner: want 32 bytes");

	/* Limits: TDX_TCB_LEVELS_MAX levels, TDX_ADVISORIES_MAX per level, TDX_JSON_MAX_BYTES. */
	size_t n;
	char *t = (char *)td_read(TI_2023, &n);
	char *lv = strstr(t, "{\"tcb\":{\"sgxtcbcomponents\"");
	char *end = strstr(lv, "},{\"tcb\"");
	assert_non_null(end);
	size_t ll = (size_t)(end - lv) + 1; /* one level object */
	for (int levels = TDX_TCB_LEVELS_MAX; levels <= TDX_TCB_LEVELS_MAX + 1; levels++) {
		struct util_buf ub = { 0 };
		util_buf_put(&ub, t, (size_t)(lv - t));
		for (int i = 0; i < levels; i++) {
			util_buf_put(&ub, lv, ll);
			util_buf_put(&ub, i + 1 < levels ? "," : "", i + 1 < levels ? 1 : 0);
		}
		char *tail = strstr(lv, "]},\"signature\"");
		assert_non_null(tail);
		util_buf_put(&ub, tail, strlen(tail));
		assert_false(ub.oom);
		char err[256] = "";
		int rc = tdx_tcb_info_check(ub.p, ub.len, err, sizeof(err));
		if (levels == TDX_TCB_LEVELS_MAX)
			assert_int_equal(rc, 0);
		else
			assert_non_null(strstr(err, "want an array of 1..64 levels"));
		free(ub.p);
	}
	for (int na = TDX_ADVISORIES_MAX; na <= TDX_ADVISORIES_MAX + 1; na++) {
		struct util_buf ub = { 0 };
		util_buf_put(&ub, "\"advisoryIDs\":[", 15);
		for (int i = 0; i < na; i++) {
			char id[32];
			int w = snprintf(id, sizeof(id), "%s\"INTEL-SA-%05d\"", i ? "," : "", i);
			util_buf_put(&ub, id, (size_t)w);
		}
		util_buf_put(&ub, "],\"tcbStatus\":\"UpToDate\"", 24);
		size_t en;
		char *e2 = edited(TI_2023, "\"tcbStatus\":\"UpToDate\"", ub.p, &en);
		char err[256] = "";
		int rc = tdx_tcb_info_check(e2, en, err, sizeof(err));
		if (na == TDX_ADVISORIES_MAX)
			assert_int_equal(rc, 0);
		else
			assert_non_null(strstr(err, "advisoryIDs: want an array of at most 64"));
		free(e2);
		free(ub.p);
	}
	char *big = malloc(TDX_JSON_MAX_BYTES + 1);
	assert_non_null(big);
	memcpy(big, t, n);
	memset(big + n, ' ', TDX_JSON_MAX_BYTES + 1 - n); /* trailing whitespace is JSON */
	char err[256];
	assert_int_equal(tdx_tcb_info_check(big, TDX_JSON_MAX_BYTES, err, sizeof(err)), 0);
	assert_int_equal(tdx_tcb_info_check(big, TDX_JSON_MAX_BYTES + 1, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "limit"));
	free(big);
	free(t);
}

/* The collateral object's own checks (no quote involved). */
static void test_collateral_checks(void **state)
{
	(void)state;
	struct set s;
	struct tdx_verdict v;
	struct tdx_collateral *c;
	set_load(&s, "gotdx_2023", NULL);
	c = tdx_collateral_new(&s.o, &v);
	assert_int_equal(v.reason, TDX_OK);
	assert_int_equal(tdx_collateral_tcb_infos(c), 1);
	tdx_collateral_free(c);
	/* no issuer chain for the TCB info: the QE identity chain serves (same signer) */
	s.o.tcb_info_chain = NULL;
	c = tdx_collateral_new(&s.o, &v);
	assert_int_equal(v.reason, TDX_OK);
	tdx_collateral_free(c);
	s.o.qe_identity_chain = NULL;
	c = tdx_collateral_new(&s.o, &v);
	assert_int_equal(v.reason, TDX_ERR_COLLATERAL);
	assert_non_null(strstr(v.detail, "no TCB info issuer chain"));
	tdx_collateral_free(c);
	set_done(&s);
	/* a chain that does not end in the Intel root: the PCK CRL chain's root is Intel's, but
	 * the TCB info is not signed by the Platform CA */
	set_load(&s, "gotdx_2023", NULL);
	s.o.tcb_info_chain = s.o.pck_crl_chain;
	s.o.tcb_info_chain_len = s.o.pck_crl_chain_len;
	c = tdx_collateral_new(&s.o, &v);
	assert_int_equal(v.reason, TDX_ERR_COLLATERAL);
	assert_non_null(strstr(v.detail, "TCB info signature does not verify"));
	tdx_collateral_free(c);
	/* the same TCB info twice */
	set_done(&s);
	set_load(&s, "gotdx_2023", NULL);
	s.o.tcb_info[1] = s.o.tcb_info[0];
	s.o.tcb_info_len[1] = s.o.tcb_info_len[0];
	s.o.n_tcb_info = 2;
	c = tdx_collateral_new(&s.o, &v);
	assert_int_equal(v.reason, TDX_ERR_COLLATERAL);
	assert_non_null(strstr(v.detail, "two TCB infos for FMSPC 50806f000000"));
	tdx_collateral_free(c);
	/* over the TCB info limit */
	s.o.n_tcb_info = TDX_COLLATERAL_MAX_TCB_INFOS + 1;
	c = tdx_collateral_new(&s.o, &v);
	assert_int_equal(v.reason, TDX_ERR_COLLATERAL);
	assert_non_null(strstr(v.detail, "9 TCB infos, limit 8"));
	tdx_collateral_free(c);
	s.o.n_tcb_info = 1;
	/* CRLs swapped: the PCK CRL given as the Root CA CRL and the reverse */
	const uint8_t *pc = s.o.pck_crl;
	size_t pcl = s.o.pck_crl_len;
	s.o.pck_crl = s.o.root_crl;
	s.o.pck_crl_len = s.o.root_crl_len;
	c = tdx_collateral_new(&s.o, &v);
	assert_int_equal(v.reason, TDX_ERR_COLLATERAL);
	assert_non_null(strstr(v.detail, "PCK CRL: issued by Intel SGX Root CA"));
	tdx_collateral_free(c);
	s.o.pck_crl = NULL;
	s.o.root_crl = pc;
	s.o.root_crl_len = pcl;
	c = tdx_collateral_new(&s.o, &v);
	assert_int_equal(v.reason, TDX_ERR_COLLATERAL);
	assert_non_null(strstr(v.detail, "Root CA CRL: its issuer (CN Intel SGX PCK Platform CA)"));
	tdx_collateral_free(c);
	/* a CRL that does not parse */
	uint8_t junk[16] = { 0x30, 0x03, 1, 2, 3 };
	s.o.root_crl = junk;
	s.o.root_crl_len = sizeof(junk);
	c = tdx_collateral_new(&s.o, &v);
	assert_int_equal(v.reason, TDX_ERR_COLLATERAL);
	assert_non_null(strstr(v.detail, "Root CA CRL: DER CRL 1 at offset 0 does not parse"));
	tdx_collateral_free(c);
	set_done(&s);
	assert_null(tdx_collateral_new(NULL, &v));
	assert_int_equal(v.reason, TDX_ERR_INTERNAL);
	tdx_collateral_free(NULL);
	tdx_chain_free(NULL);
	assert_int_equal(tdx_collateral_tcb_infos(NULL), 0);
}

/* CRL windows and revocation lookups with the real lists. */
static void test_crls_real(void **state)
{
	(void)state;
	struct tdx_quote q;
	parse_quote_file("tdx/valid/v4_spr_50806f_gotdx/quote.dat", &q);
	struct set s;
	set_load(&s, "gotdx_2023", NULL);
	struct tdx_collateral_opts o = { 0 };
	struct tdx_verdict v;
	/* CRLs only: checked, not revoked */
	o.pck_crl = s.o.pck_crl;
	o.pck_crl_len = s.o.pck_crl_len;
	o.root_crl = s.o.root_crl;
	o.root_crl_len = s.o.root_crl_len;
	struct tdx_collateral *c = tdx_collateral_new(&o, &v);
	assert_int_equal(v.reason, TDX_OK);
	assert_int_equal(tdx_verify(&q, c, ts("2023-07-01T00:00:00Z"), &v), 0);
	assert_true(v.pck_crl_checked);
	assert_true(v.root_crl_checked);
	assert_false(v.tcb_evaluated);
	/* the PCK CRL verified against the quote's intermediate (no issuer chain given) */
	assert_int_equal(tdx_verify(&q, c, ts("2023-07-09T00:00:00Z"), &v), -1);
	check_verdict("stale PCK CRL", &v, TDX_ERR_COLLATERAL_EXPIRED,
		      "collateral expired: PCK CRL nextUpdate 2023-07-08", TDX_TCB_UNKNOWN, NULL);
	assert_int_equal(tdx_verify(&q, c, ts("2023-06-01T00:00:00Z"), &v), -1);
	check_verdict("early PCK CRL", &v, TDX_ERR_COLLATERAL_EXPIRED,
		      "collateral not yet valid: PCK CRL thisUpdate 2023-06-08", TDX_TCB_UNKNOWN,
		      NULL);
	tdx_collateral_free(c);
	o.pck_crl = NULL;
	c = tdx_collateral_new(&o, &v);
	assert_int_equal(tdx_verify(&q, c, ts("2024-05-01T00:00:00Z"), &v), -1);
	check_verdict("stale Root CA CRL", &v, TDX_ERR_COLLATERAL_EXPIRED,
		      "collateral expired: Root CA CRL nextUpdate 2024-04-02", TDX_TCB_UNKNOWN,
		      NULL);
	tdx_collateral_free(c);
	/* a PCK CRL of another CA (the dcap-qvl list is also the Platform CA's, a later one) */
	o.root_crl = NULL;
	o.pck_crl_chain = s.o.pck_crl_chain;
	o.pck_crl_chain_len = s.o.pck_crl_chain_len;
	size_t l2;
	uint8_t *crl2 = td_read("tdx/collateral/dcapqvl_2025-06_b0c06f/pck_crl.der", &l2);
	o.pck_crl = crl2;
	o.pck_crl_len = l2;
	c = tdx_collateral_new(&o, &v);
	assert_int_equal(v.reason, TDX_OK);
	assert_int_equal(tdx_verify(&q, c, ts("2025-07-01T00:00:00Z"), &v), 0);
	assert_true(v.pck_crl_checked);
	tdx_collateral_free(c);
	free(crl2);
	/* the PCK (not a CA) certificate expired: 2029-09-20 */
	c = tdx_collateral_new(&(struct tdx_collateral_opts){ 0 }, &v);
	assert_int_equal(tdx_verify(&q, c, ts("2030-01-01T00:00:00Z"), &v), -1);
	check_verdict("expired PCK", &v, TDX_ERR_EXPIRED,
		      "PCK certificate Intel SGX PCK Certificate expired 2029-09-20",
		      TDX_TCB_UNKNOWN, NULL);
	assert_int_equal(tdx_verify(&q, c, ts("2022-01-01T00:00:00Z"), &v), -1);
	assert_int_equal(v.reason, TDX_ERR_EXPIRED);
	assert_non_null(strstr(v.detail, "not valid before"));
	/* a cached chain used with another quote is refused */
	struct tdx_quote q2;
	parse_quote_file("tdx/valid/v4_b0c06f_dcapqvl/quote.dat", &q2);
	struct tdx_chain *ch = tdx_chain_new(&q, c, &v);
	assert_int_equal(tdx_verify_quote(c, ch, &q2, ts("2026-01-01T00:00:00Z"), &v), -1);
	assert_int_equal(v.reason, TDX_ERR_INTERNAL);
	assert_null(tdx_chain_new(NULL, c, &v));
	assert_int_equal(tdx_verify_quote(NULL, NULL, &q, 0, &v), -1);
	tdx_chain_free(ch);
	tdx_quote_done(&q2);
	tdx_collateral_free(c);
	set_done(&s);
	tdx_quote_done(&q);
}

/* dcap-qvl's collateral_bundle.json gives the same verdict as the split files. */
static void test_bundle(void **state)
{
	(void)state;
	static const struct {
		const char *set, *quote, *now;
		enum tdx_reason want;
	} b[] = {
		{ "dcapqvl_2025-06_b0c06f", "valid/v4_b0c06f_dcapqvl/quote.dat",
		  "2025-07-19T10:00:34Z", TDX_OK },
		{ "dcapqvl_2026-02_90c06f", "tcb_unsupported/v5_90c06f_outdated_dcapqvl/quote.dat",
		  "2026-03-20T10:41:14Z", TDX_ERR_TCB_UNSUPPORTED },
	};
	for (size_t i = 0; i < ARRAY_SIZE(b); i++) {
		char rel[256], err[256];
		snprintf(rel, sizeof(rel), "tdx/collateral/%s/collateral_bundle.json", b[i].set);
		size_t n;
		char *text = (char *)td_read(rel, &n);
		struct tdx_bundle bu;
		assert_int_equal(tdx_bundle_parse(text, n, &bu, err, sizeof(err)), 0);
		struct tdx_collateral_opts o = {
			.tcb_info = { bu.tcb_info },
			.tcb_info_len = { bu.tcb_info_len },
			.n_tcb_info = 1,
			.qe_identity = bu.qe_identity,
			.qe_identity_len = bu.qe_identity_len,
			.tcb_info_chain = bu.tcb_info_chain,
			.tcb_info_chain_len = bu.tcb_info_chain_len,
			.qe_identity_chain = bu.qe_identity_chain,
			.qe_identity_chain_len = bu.qe_identity_chain_len,
			.pck_crl = bu.pck_crl,
			.pck_crl_len = bu.pck_crl_len,
			.pck_crl_chain = bu.pck_crl_chain,
			.pck_crl_chain_len = bu.pck_crl_chain_len,
			.root_crl = bu.root_crl,
			.root_crl_len = bu.root_crl_len,
		};
		struct tdx_verdict v, v2;
		struct tdx_collateral *c = tdx_collateral_new(&o, &v);
		assert_int_equal(v.reason, TDX_OK);
		struct tdx_quote q;
		snprintf(rel, sizeof(rel), "tdx/%s", b[i].quote);
		parse_quote_file(rel, &q);
		tdx_verify(&q, c, ts(b[i].now), &v);
		assert_int_equal(v.reason, b[i].want);
		struct set s;
		set_load(&s, b[i].set, NULL);
		struct tdx_collateral *c2 = tdx_collateral_new(&s.o, &v2);
		tdx_verify(&q, c2, ts(b[i].now), &v2);
		assert_int_equal(v2.reason, v.reason);
		assert_string_equal(v2.detail, v.detail);
		assert_true(v.pck_crl_checked == v2.pck_crl_checked);
		tdx_collateral_free(c2);
		set_done(&s);
		tdx_quote_done(&q);
		tdx_collateral_free(c);
		tdx_bundle_done(&bu);
		free(text);
	}
	struct tdx_bundle bu;
	char err[256];
	assert_int_equal(tdx_bundle_parse("[]", 2, &bu, err, sizeof(err)), -EINVAL);
	assert_int_equal(tdx_bundle_parse("{\"x\":1}", 7, &bu, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key \"x\""));
	assert_int_equal(tdx_bundle_parse("{\"pck_crl\":\"abc\"}", 17, &bu, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "pck_crl is not hex"));
	assert_int_equal(tdx_bundle_parse("{\"tcb_info\":\"{}\"}", 17, &bu, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "must both be strings"));
	assert_int_equal(tdx_bundle_parse("{}", 2, &bu, err, sizeof(err)), 0);
	tdx_bundle_done(&bu);
	char *big = malloc(TDX_BUNDLE_MAX_BYTES + 1);
	assert_non_null(big);
	memset(big, ' ', TDX_BUNDLE_MAX_BYTES + 1);
	big[0] = '{';
	big[TDX_BUNDLE_MAX_BYTES - 1] = '}';
	assert_int_equal(tdx_bundle_parse(big, TDX_BUNDLE_MAX_BYTES, &bu, err, sizeof(err)), 0);
	tdx_bundle_done(&bu);
	assert_int_equal(tdx_bundle_parse(big, TDX_BUNDLE_MAX_BYTES + 1, &bu, err, sizeof(err)),
			 -E2BIG);
	free(big);
}

/* ---------------------------------------------------------------------------------------- */
/* Synthetic Intel-style PKI                                                                */

/* The PKI, quotes and collateral come from tests/fixtures/tdx_testchain.c (its syn_* layer
 * edits any field); SYN_NOW is the clock of the PKI and of every verification. */
#define SYN_NOW 1795305600LL /* 2026-11-22 */
#define SYN_DAY 86400LL

static struct tdx_tc *TC;
static EVP_PKEY *other_key; /* a second self-signed "Intel SGX Root CA" that nothing trusts */
static X509 *other_root_x;

static int setup_pki(void **state)
{
	(void)state;
	TC = tdx_tc_make(SYN_NOW);
	other_key = EVP_EC_gen("P-256");
	if (!TC || !other_key)
		return -1;
	other_root_x =
		tc_mk_cert("Intel SGX Root CA", other_key, "Intel SGX Root CA", other_key, true, 9,
			   SYN_NOW - 365 * SYN_DAY, SYN_NOW + 365 * SYN_DAY, NULL, 0);
	return 0;
}

static int teardown_pki(void **state)
{
	(void)state;
	tdx_tc_free(TC);
	EVP_PKEY_free(other_key);
	X509_free(other_root_x);
	TC = NULL;
	other_key = NULL;
	other_root_x = NULL;
	return 0;
}

static const struct syn_level *const L_UP = tdx_tc_levels; /* UpToDate, then OutOfDate */

static void test_synthetic(void **state)
{
	(void)state;
	struct syn_quote sq;
	struct tdx_verdict v;
	struct syn_tcb t = { L_UP, 2, NULL, NULL, NULL, NULL };
	const char *qe_ok = TDX_TC_QE_LEVELS;

	syn_defaults(&sq);
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &t, .qe_levels = qe_ok }, &v);
	check_verdict("synthetic", &v, TDX_OK, "TCB status UpToDate (FMSPC 112233445566",
		      TDX_TCB_UP_TO_DATE, NULL);
	assert_true(v.qe_identity_checked && v.pck_crl_checked && v.root_crl_checked);
	assert_string_equal(v.pck_ca, "Intel SGX PCK Platform CA");
	assert_string_equal(v.tcb_date, "2026-01-01T00:00:00Z");
	assert_int_equal(v.tcb_eval_number, 19);

	/* the platform one level down; the QE one level down: advisories merged, no repeats */
	sq.tee_tcb_svn[0] = 4;
	sq.qe_isvsvn = 5;
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &t, .qe_levels = qe_ok }, &v);
	check_verdict("out of date", &v, TDX_OK, "TCB status OutOfDate", TDX_TCB_OUT_OF_DATE,
		      "INTEL-SA-00002 INTEL-SA-00003 INTEL-SA-00001");
	assert_int_equal(v.platform_status, TDX_TCB_OUT_OF_DATE);
	assert_int_equal(v.qe_status, TDX_TCB_OUT_OF_DATE);
	/* below every level: platform, QE */
	sq.tee_tcb_svn[0] = 3;
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &t }, &v);
	check_verdict("platform too old", &v, TDX_ERR_TCB_UNSUPPORTED, "no matching TCB level",
		      TDX_TCB_UNKNOWN, NULL);
	syn_defaults(&sq);
	sq.pck.pcesvn = 12;
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &t }, &v);
	check_verdict("PCESVN too old", &v, TDX_ERR_TCB_UNSUPPORTED, "PCESVN 12", TDX_TCB_UNKNOWN,
		      NULL);
	syn_defaults(&sq);
	sq.qe_isvsvn = 3;
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &t, .qe_levels = qe_ok }, &v);
	check_verdict("QE too old", &v, TDX_ERR_TCB_UNSUPPORTED,
		      "QE identity: no TCB level for QE ISVSVN 3", TDX_TCB_UNKNOWN, NULL);

	/* statuses: SWHardeningNeeded platform + ConfigurationNeeded QE */
	syn_defaults(&sq);
	static const struct syn_level L_SW[] = { { 5, 5, 3, 13, "SWHardeningNeeded", NULL } };
	struct syn_tcb tsw = { L_SW, 1, NULL, NULL, NULL, NULL };
	syn_verify(TC,
		   &(struct syn_run){ .q = &sq,
				      .tcb = &tsw,
				      .qe_levels = "{\"tcb\":{\"isvsvn\":1},\"tcbStatus\":"
						   "\"ConfigurationNeeded\"}" },
		   &v);
	check_verdict("merge", &v, TDX_OK, "ConfigurationAndSWHardeningNeeded",
		      TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED, NULL);
	static const struct syn_level L_REV[] = { { 5, 5, 3, 13, "Revoked",
						    "\"INTEL-SA-09999\"" } };
	struct syn_tcb trev = { L_REV, 1, NULL, NULL, NULL, NULL };
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &trev }, &v);
	check_verdict("revoked TCB", &v, TDX_ERR_TCB_REVOKED, "TCB status Revoked", TDX_TCB_REVOKED,
		      "INTEL-SA-09999");

	/* TDX module identities: TEE_TCB_SVN[1] = 1 selects TDX_01 */
	const char *mods = "{\"id\":\"TDX_01\",\"mrsigner\":\"" /* 48 zero bytes */
			   "000000000000000000000000000000000000000000000000"
			   "000000000000000000000000000000000000000000000000\","
			   "\"attributes\":\"0000000000000000\",\"attributesMask\":"
			   "\"FFFFFFFFFFFFFFFF\",\"tcbLevels\":[{\"tcb\":{\"isvsvn\":6},"
			   "\"tcbStatus\":\"UpToDate\"},{\"tcb\":{\"isvsvn\":2},\"tcbStatus\":"
			   "\"OutOfDate\",\"advisoryIDs\":[\"INTEL-SA-01036\"]}]}";
	struct syn_tcb tm = { L_UP, 2, mods, NULL, NULL, NULL };
	sq.tee_tcb_svn[1] = 1; /* module SVN 5 (< 6): OutOfDate via its second level */
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &tm }, &v);
	check_verdict("module", &v, TDX_OK, "TCB status OutOfDate", TDX_TCB_OUT_OF_DATE,
		      "INTEL-SA-01036");
	assert_int_equal(v.module_status, TDX_TCB_OUT_OF_DATE);
	assert_int_equal(v.platform_status, TDX_TCB_UP_TO_DATE);
	sq.tee_tcb_svn[0] = 1; /* below both module levels (and the platform's) */
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &tm }, &v);
	check_verdict("module too old", &v, TDX_ERR_TCB_UNSUPPORTED,
		      "no matching TCB level for TDX module TDX_01 SVN 1", TDX_TCB_UNKNOWN, NULL);
	syn_defaults(&sq);
	sq.tee_tcb_svn[1] = 2;
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &tm }, &v);
	check_verdict("unknown module", &v, TDX_ERR_MODULE_IDENTITY,
		      "TDX module identity TDX_02 (TEE_TCB_SVN[1] = 2) is not in the TCB info",
		      TDX_TCB_UNKNOWN, NULL);
	syn_defaults(&sq);
	sq.mr_signer_seam[0] = 1;
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &t }, &v);
	check_verdict("mrsignerseam", &v, TDX_ERR_MODULE_IDENTITY, "MRSIGNERSEAM 0100",
		      TDX_TCB_UNKNOWN, NULL);
	syn_defaults(&sq);
	sq.seam_attributes = 1;
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &t }, &v);
	check_verdict("seamattributes", &v, TDX_ERR_MODULE_IDENTITY, "SEAMATTRIBUTES",
		      TDX_TCB_UNKNOWN, NULL);

	/* QE identity mismatches */
	syn_defaults(&sq);
	sq.qe_mrsigner[5] = 0;
	syn_verify(TC, &(struct syn_run){ .q = &sq, .qe_levels = qe_ok }, &v);
	check_verdict("qe mrsigner", &v, TDX_ERR_QE_IDENTITY, "QE identity: MRSIGNER",
		      TDX_TCB_UNKNOWN, NULL);
	syn_defaults(&sq);
	sq.qe_prodid = 1;
	syn_verify(TC, &(struct syn_run){ .q = &sq, .qe_levels = qe_ok }, &v);
	check_verdict("qe prodid", &v, TDX_ERR_QE_IDENTITY, "ISVPRODID 1 is not the TD_QE's 2",
		      TDX_TCB_UNKNOWN, NULL);
	syn_defaults(&sq);
	sq.qe_attributes[0] = 0x15; /* bit 2 is masked out: still matches */
	syn_verify(TC, &(struct syn_run){ .q = &sq, .qe_levels = qe_ok }, &v);
	assert_int_equal(v.reason, TDX_OK);
	assert_true(v.qe_identity_checked);
	sq.qe_attributes[0] = 0x13;
	syn_verify(TC, &(struct syn_run){ .q = &sq, .qe_levels = qe_ok }, &v);
	check_verdict("qe attributes", &v, TDX_ERR_QE_IDENTITY, "ATTRIBUTES", TDX_TCB_UNKNOWN,
		      NULL);

	/* signatures and binding */
	syn_defaults(&sq);
	sq.bad_qe_sig = true;
	syn_verify(TC, &(struct syn_run){ .q = &sq }, &v);
	check_verdict("qe sig", &v, TDX_ERR_QE_SIGNATURE,
		      "QE report signature does not verify with the PCK key", TDX_TCB_UNKNOWN,
		      NULL);
	syn_defaults(&sq);
	sq.bad_binding = true;
	syn_verify(TC, &(struct syn_run){ .q = &sq }, &v);
	check_verdict("binding", &v, TDX_ERR_QE_BINDING, "SHA-256(attestation key", TDX_TCB_UNKNOWN,
		      NULL);

	syn_defaults(&sq);
	sq.off_curve_key = true; /* the QE vouches for it, but it is no P-256 key */
	syn_verify(TC, &(struct syn_run){ .q = &sq }, &v);
	check_verdict("off-curve key", &v, TDX_ERR_BAD_SIGNATURE,
		      "bad quote signature: the attestation key is not a P-256 point",
		      TDX_TCB_UNKNOWN, NULL);

	/* revocation: the PCK by the PCK CRL (with and without its issuer chain), the
	 * intermediate by the Root CA CRL */
	syn_defaults(&sq);
	syn_verify(TC, &(struct syn_run){ .q = &sq, .pck_revoked = 100 }, &v);
	check_verdict("pck revoked", &v, TDX_ERR_REVOKED,
		      "PCK certificate (serial 64) is revoked by the PCK CRL of Intel SGX PCK "
		      "Platform CA",
		      TDX_TCB_UNKNOWN, NULL);
	syn_verify(TC, &(struct syn_run){ .q = &sq, .pck_revoked = 100, .crl_chain = true }, &v);
	assert_int_equal(v.reason, TDX_ERR_REVOKED);
	syn_verify(TC, &(struct syn_run){ .q = &sq, .pck_revoked = 101, .crl_chain = true }, &v);
	assert_int_equal(v.reason, TDX_OK);
	assert_true(v.pck_crl_checked);
	syn_verify(TC, &(struct syn_run){ .q = &sq, .ica_revoked = 2 }, &v);
	check_verdict("ica revoked", &v, TDX_ERR_REVOKED,
		      "intermediate CA Intel SGX PCK Platform CA is revoked by the Root CA CRL",
		      TDX_TCB_UNKNOWN, NULL);

	/* roots: a root that is not trusted, or no test root at all */
	syn_defaults(&sq);
	sq.chain_root = other_root_x;
	syn_verify(TC, &(struct syn_run){ .q = &sq }, &v);
	assert_int_equal(v.reason, TDX_ERR_UNKNOWN_ROOT);
	assert_non_null(strstr(v.detail, "is not the pinned Intel SGX Root CA"));
	syn_defaults(&sq);
	syn_verify(TC, &(struct syn_run){ .q = &sq, .no_test_root = true }, &v);
	check_verdict("no test root", &v, TDX_ERR_COLLATERAL,
		      "Root CA CRL: its issuer (CN Intel SGX Root CA) is not the pinned",
		      TDX_TCB_UNKNOWN, NULL);

	/* the TCB info's PCE-ID; its window */
	struct syn_tcb tp = { L_UP, 2, NULL, "0001", NULL, NULL };
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &tp }, &v);
	check_verdict("pceid", &v, TDX_ERR_COLLATERAL, "TCB info PCE-ID 0001 is not the PCK's 0000",
		      TDX_TCB_UNKNOWN, NULL);
	struct syn_tcb tw = { L_UP, 2, NULL, NULL, "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z" };
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &tw }, &v);
	check_verdict("window", &v, TDX_ERR_COLLATERAL_EXPIRED,
		      "collateral expired: tcbInfo nextUpdate 2026-11-01T00:00:00Z",
		      TDX_TCB_UNKNOWN, NULL);
	/* a PCK certificate past its validity */
	sq.pck_na = SYN_NOW - SYN_DAY;
	syn_verify(TC, &(struct syn_run){ .q = &sq }, &v);
	assert_int_equal(v.reason, TDX_ERR_EXPIRED);
	/* SGX component SVNs >= 0x80 encode with a leading zero byte */
	syn_defaults(&sq);
	memset(sq.pck.sgx, 0x90, 16);
	syn_verify(TC, &(struct syn_run){ .q = &sq, .tcb = &t }, &v);
	assert_int_equal(v.reason, TDX_OK);
}

/* ---------------------------------------------------------------------------------------- */
/* The fixture's own promise: tdx_tc_quote verifies against tdx_tc_collateral_opts          */

static void rd_pattern(uint8_t rd[64])
{
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(0x80 + i);
}

/* A fresh test PKI at SYN_NOW, its collateral in o, and rd set to the test pattern. */
static struct tdx_tc *tc_fresh(uint8_t rd[64], struct tdx_collateral_opts *o)
{
	struct tdx_tc *tc = tdx_tc_make(SYN_NOW);
	assert_non_null(tc);
	rd_pattern(rd);
	tdx_tc_collateral_opts(tc, o);
	return tc;
}

/* Parses quote bytes and verifies them against o at now. */
static void tc_check(const uint8_t *qb, size_t ql, const struct tdx_collateral_opts *o, int64_t now,
		     struct tdx_verdict *v)
{
	struct tdx_collateral *c = tdx_collateral_new(o, v);
	assert_non_null(c);
	struct tdx_quote q;
	char err[256];
	if (tdx_quote_parse(qb, ql, &q, err, sizeof(err)) != 0)
		fail_msg("testchain quote: %s", err);
	tdx_verify(&q, c, now, v);
	tdx_quote_done(&q);
	tdx_collateral_free(c);
}

static void expect_up_to_date(const char *what, const struct tdx_verdict *v)
{
	check_verdict(what, v, TDX_OK, "TCB status UpToDate (FMSPC " TDX_TC_FMSPC_HEX,
		      TDX_TCB_UP_TO_DATE, NULL);
	assert_true(v->tcb_evaluated);
	assert_true(v->qe_identity_checked);
	assert_int_equal(v->qe_status, TDX_TCB_UP_TO_DATE);
	assert_true(v->pck_crl_checked && v->root_crl_checked);
	assert_string_equal(v->pck_ca, "Intel SGX PCK Platform CA");
	assert_memory_equal(v->fmspc, "\x11\x22\x33\x44\x55\x66", 6);
}

static void test_testchain_roundtrip(void **state)
{
	(void)state;
	uint8_t rd[64];
	size_t ql;
	struct tdx_collateral_opts o;
	struct tdx_tc *tc = tc_fresh(rd, &o);
	uint8_t *qb = tdx_tc_quote(tc, rd, &ql);
	assert_non_null(qb);
	assert_int_equal(o.n_tcb_info, 1);
	assert_non_null(o.test_roots);

	/* any clock inside the windows: the day before (issueDate, notBefore) to nextUpdate */
	const int64_t inside[] = { SYN_NOW, SYN_NOW - SYN_DAY, SYN_NOW + 30 * SYN_DAY - 1 };
	struct tdx_verdict v;
	for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
		tc_check(qb, ql, &o, inside[i], &v);
		expect_up_to_date("testchain", &v);
	}
	/* and outside them */
	tc_check(qb, ql, &o, SYN_NOW + 30 * SYN_DAY + 1, &v);
	check_verdict("after nextUpdate", &v, TDX_ERR_COLLATERAL_EXPIRED, "collateral expired",
		      TDX_TCB_UNKNOWN, NULL);
	tc_check(qb, ql, &o, SYN_NOW - SYN_DAY - 1, &v);
	assert_int_not_equal(v.reason, TDX_OK);

	/* the fixed measurements, as a policy names them, and REPORTDATA */
	struct tdx_quote q;
	char err[256];
	assert_int_equal(tdx_quote_parse(qb, ql, &q, err, sizeof(err)), 0);
	assert_int_equal(q.version, 4);
	assert_memory_equal(q.report_data, rd, 64);
	assert_int_equal(q.td_attributes & 1, 0); /* no DEBUG */
	tc_check(qb, ql, &o, SYN_NOW, &v);
	char pol[2048];
	char rdhex[129];
	util_hex(rdhex, rd, 64);
	int n = snprintf(
		pol, sizeof(pol),
		"{\"tdx_policy\":{\"mr_td\":\"" TDX_TC_MRTD_HEX "\",\"rtmrs\":[\"" TDX_TC_RTMR0_HEX
		"\",\"" TDX_TC_RTMR1_HEX "\",\"" TDX_TC_RTMR2_HEX "\",\"" TDX_TC_RTMR3_HEX
		"\"],\"xfam\":\"" TDX_TC_XFAM "\",\"td_attributes\":\"" TDX_TC_TD_ATTRIBUTES
		"\",\"report_data\":\"%s\"}}",
		rdhex);
	assert_true(n > 0 && (size_t)n < sizeof(pol));
	struct tdx_policy *p = tdx_policy_parse(pol, (size_t)n, err, sizeof(err));
	if (!p)
		fail_msg("policy: %s", err);
	bool pass = false;
	json_t *verdict = tdx_policy_evaluate(p, &q, &v, &pass);
	assert_non_null(verdict);
	if (!pass) {
		char *dump = json_dumps(verdict, JSON_COMPACT);
		fail_msg("policy over the fixed measurements fails: %s", dump ? dump : "?");
	}
	json_decref(verdict);
	tdx_policy_free(p);
	tdx_quote_done(&q);

	/* each quote is its own: another REPORTDATA, still verified */
	rd[0] ^= 0xff;
	size_t ql2;
	uint8_t *qb2 = tdx_tc_quote(tc, rd, &ql2);
	assert_non_null(qb2);
	tc_check(qb2, ql2, &o, SYN_NOW, &v);
	expect_up_to_date("second quote", &v);
	free(qb2);
	free(qb);
	tdx_tc_free(tc);
}

/* dir/rel, NUL-terminated; caller frees. */
static uint8_t *tc_slurp(const char *dir, const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "rbe");
	if (!f)
		fail_msg("tdx_tc_write did not write %s", path);
	uint8_t *b = malloc(TDX_CRL_MAX_BYTES + 1);
	assert_non_null(b);
	*len = fread(b, 1, TDX_CRL_MAX_BYTES, f);
	b[*len] = 0;
	fclose(f);
	assert_true(*len > 0);
	return b;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[1024];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) < 0)
			rm_tree(p);
	}
	closedir(d);
	rmdir(dir);
}

/* tdx_tc_write, then the files read back the way `cloister attest verify --collateral` and
 * tsm_fixture --tdx --sign read them. */
static void test_testchain_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_tdx_tc.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct tdx_tc *tc = tdx_tc_make(SYN_NOW);
	assert_non_null(tc);
	assert_int_equal(tdx_tc_write(tc, dir), 0);
	tdx_tc_free(tc);

	static const char *const keys[] = { "pck-key.pem", "attestation-key.pem" };
	for (size_t i = 0; i < 2; i++) {
		char p[1024];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, keys[i]);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}

	struct tdx_tc *signer = tdx_tc_load(dir);
	assert_non_null(signer);
	uint8_t rd[64];
	rd_pattern(rd);
	size_t ql;
	uint8_t *qb = tdx_tc_quote(signer, rd, &ql);
	assert_non_null(qb);
	struct tdx_collateral_opts none;
	tdx_tc_collateral_opts(signer, &none); /* a loaded signer carries no collateral */
	assert_int_equal(none.n_tcb_info, 0);
	assert_null(none.test_roots);
	assert_int_equal(tdx_tc_write(signer, dir), -EINVAL);
	tdx_tc_free(signer);

	static const char *const files[] = {
		"collateral/tcbinfo_" TDX_TC_FMSPC_HEX ".json",
		"collateral/qe_identity.json",
		"collateral/tcb_info_issuer_chain.pem",
		"collateral/qe_identity_issuer_chain.pem",
		"collateral/pck_crl_issuer_chain.pem",
		"collateral/pck_crl_platform.der",
		"collateral/root_ca_crl.der",
		"roots.pem",
	};
	uint8_t *b[8];
	size_t l[8];
	for (size_t i = 0; i < 8; i++)
		b[i] = tc_slurp(dir, files[i], &l[i]);
	struct tdx_collateral_opts o = {
		.tcb_info = { b[0] },
		.tcb_info_len = { l[0] },
		.n_tcb_info = 1,
		.qe_identity = b[1],
		.qe_identity_len = l[1],
		.tcb_info_chain = b[2],
		.tcb_info_chain_len = l[2],
		.qe_identity_chain = b[3],
		.qe_identity_chain_len = l[3],
		.pck_crl_chain = b[4],
		.pck_crl_chain_len = l[4],
		.pck_crl = b[5],
		.pck_crl_len = l[5],
		.root_crl = b[6],
		.root_crl_len = l[6],
		.test_roots = b[7],
		.test_roots_len = l[7],
	};
	struct tdx_verdict v;
	tc_check(qb, ql, &o, SYN_NOW, &v);
	expect_up_to_date("files", &v);
	for (size_t i = 0; i < 8; i++)
		free(b[i]);
	free(qb);

	/* a signer directory without its attestation key, and a directory that is not there */
	char p[1024];
	snprintf(p, sizeof(p), "%s/attestation-key.pem", dir);
	assert_int_equal(unlink(p), 0);
	assert_null(tdx_tc_load(dir));
	rm_tree(dir);
	assert_null(tdx_tc_load(dir));
	tc = tdx_tc_make(SYN_NOW);
	assert_non_null(tc);
	assert_int_equal(tdx_tc_write(tc, dir), -ENOENT);
	tdx_tc_free(tc);
}

static void test_testchain_negative(void **state)
{
	(void)state;
	uint8_t rd[64];
	size_t ql;
	struct tdx_collateral_opts o;
	struct tdx_tc *tc = tc_fresh(rd, &o);
	uint8_t *qb = tdx_tc_quote(tc, rd, &ql);
	assert_non_null(qb);
	struct tdx_verdict v;

	/* one flipped byte of the signed body (REPORTDATA) */
	qb[TDX_HEADER_BYTES + 520] ^= 1;
	tc_check(qb, ql, &o, SYN_NOW, &v);
	check_verdict("flipped byte", &v, TDX_ERR_BAD_SIGNATURE, "", TDX_TCB_UNKNOWN, NULL);
	qb[TDX_HEADER_BYTES + 520] ^= 1;
	tc_check(qb, ql, &o, SYN_NOW, &v);
	assert_int_equal(v.reason, TDX_OK);

	/* no test root: the chain ends in a root that is not Intel's */
	struct tdx_collateral_opts empty = { 0 };
	tc_check(qb, ql, &empty, SYN_NOW, &v);
	check_verdict("no test root", &v, TDX_ERR_UNKNOWN_ROOT,
		      "is not the pinned Intel SGX Root CA", TDX_TCB_UNKNOWN, NULL);
	/* nor is the collateral its chains end in */
	o.test_roots = NULL;
	o.test_roots_len = 0;
	tc_check(qb, ql, &o, SYN_NOW, &v);
	check_verdict("collateral without test root", &v, TDX_ERR_UNKNOWN_ROOT,
		      "is not the pinned Intel SGX Root CA", TDX_TCB_UNKNOWN, NULL);

	/* another PKI's collateral and root: its root is not this quote's */
	struct tdx_tc *other = tdx_tc_make(SYN_NOW);
	assert_non_null(other);
	tdx_tc_collateral_opts(other, &o);
	tc_check(qb, ql, &o, SYN_NOW, &v);
	assert_int_equal(v.reason, TDX_ERR_UNKNOWN_ROOT);
	tdx_tc_free(other);
	free(qb);
	tdx_tc_free(tc);
}

int main(void)
{
	find_testdata();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intel_root),
		cmocka_unit_test(test_readme_cases),
		cmocka_unit_test(test_expired_now),
		cmocka_unit_test(test_readme_parse_cases),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_rules),
		cmocka_unit_test(test_parse_text),
		cmocka_unit_test(test_status_names_and_merge),
		cmocka_unit_test(test_tsm_tee),
		cmocka_unit_test(test_collateral_formats),
		cmocka_unit_test(test_collateral_checks),
		cmocka_unit_test(test_crls_real),
		cmocka_unit_test(test_bundle),
		cmocka_unit_test_setup_teardown(test_synthetic, setup_pki, teardown_pki),
		cmocka_unit_test(test_testchain_roundtrip),
		cmocka_unit_test(test_testchain_files),
		cmocka_unit_test(test_testchain_negative),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
