/*
 * test_snp.c - SEV-SNP report parsing and verification (attest/snp.c).
 *
 * Three kinds of input: every case of shared/testdata/snp/ (real AMD reports and certificates,
 * each with the result and reason its README states), byte edits of those reports (every parse
 * rule and limit), and a synthetic AMD-style chain generated here (test ARK/ASK/ASVK with
 * RSASSA-PSS, VCEK/VLEK with EC P-384) that signs synthetic reports, passed as
 * snp_chain_opts.test_roots so the production roots stay untouched. Test data: $TESTDATA, else
 * $SRCDIR/../shared/testdata.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/amd_roots.h"
#include "attest/snp.h"
#include "util.h"

#define NOW_REF 1795305600LL      /* 2026-11-22T00:00:00Z, the README's reference "now" */
#define NOW_PRE_VLEK 1748736000LL /* 2025-06-01T00:00:00Z, inside the AWS VLEK's validity */
#define DAY 86400LL

/* ---------------------------------------------------------------------------------------- */
/* Files                                                                                    */

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

/* Reads testdata/<rel>; fails the test when missing. Caller frees. */
static uint8_t *td_read(const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", testdata, rel);
	FILE *f = fopen(path, "rbe");
	if (!f)
		fail_msg("cannot open %s (set TESTDATA or SRCDIR)", path);
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

/* ---------------------------------------------------------------------------------------- */
/* The test data cases                                                                      */

struct td_case {
	const char *dir;    /* under snp/ */
	const char *report; /* NULL: chain only */
	const char *leaf;   /* NULL: the leaf is in 'chain' */
	const char *chain;
	int64_t now;
	enum snp_reason want;
	const char *detail; /* substring of the verdict's detail */
	enum snp_product product;
	enum snp_signer signer;
};

static const struct td_case td_cases[] = {
	{ "valid/milan_virtee", "report.bin", "vcek.der", "ask_ark.pem", NOW_REF, SNP_OK,
	  "report verified", SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK },
	{ "valid/milan_trustee", "report.bin", "vcek.der", "ask_ark.pem", NOW_REF, SNP_OK,
	  "report verified", SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK },
	{ "valid/milan_azure_hcl_v2", "hcl_report.bin", NULL, "vcek_ask_ark.pem", NOW_REF, SNP_OK,
	  "report verified", SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK },
	{ "valid/milan_azure_hcl_v2", "report.bin", NULL, "vcek_ask_ark.pem", NOW_REF, SNP_OK,
	  "report verified", SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK },
	{ "valid/milan_azure_v3_chipA", "report.bin", "vcek.pem", "ask_ark.pem", NOW_REF, SNP_OK,
	  "report verified", SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK },
	{ "valid/milan_azure_v3_chipA", "hcl_report.bin", "vcek.pem", "ask_ark.pem", NOW_REF,
	  SNP_OK, "report verified", SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK },
	{ "valid/genoa_siena_trustee_e2e", "report.bin", "vcek.der", "ask_ark.pem", NOW_REF, SNP_OK,
	  "report verified", SNP_PRODUCT_GENOA, SNP_SIGNER_VCEK },
	{ "valid/milan_gcp_v5_vmpl1", "report.bin", "vcek.pem", "ask_ark.pem", NOW_REF, SNP_OK,
	  "report verified", SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK },
	{ "valid/milan_gcp_v5_x25519", "report.bin", "vcek.pem", "ask_ark.pem", NOW_REF, SNP_OK,
	  "report verified", SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK },
	{ "expired/milan_aws_vlek", "report.bin", "vlek.der", "ask_ark_vlek.pem", NOW_REF,
	  SNP_ERR_EXPIRED, "VLEK expired 2025-12-10T22:14:21Z", SNP_PRODUCT_MILAN,
	  SNP_SIGNER_VLEK },
	{ "expired/milan_aws_vlek", "report.bin", "vlek.der", "ask_ark_vlek.pem", NOW_PRE_VLEK,
	  SNP_OK, "report verified", SNP_PRODUCT_MILAN, SNP_SIGNER_VLEK },
	{ "invalid/milan_virtee_report_byte21_xor80", "report.bin", "vcek.der", "ask_ark.pem",
	  NOW_REF, SNP_ERR_BAD_SIGNATURE, "report signature does not verify", SNP_PRODUCT_MILAN,
	  SNP_SIGNER_VCEK },
	{ "invalid/milan_trustee_report_byte42_plus1", "report.bin", "vcek.der", "ask_ark.pem",
	  NOW_REF, SNP_ERR_BAD_SIGNATURE, "report signature does not verify", SNP_PRODUCT_MILAN,
	  SNP_SIGNER_VCEK },
	{ "invalid/milan_trustee_report_byte384_plus1_tcb", "report.bin", "vcek.der", "ask_ark.pem",
	  NOW_REF, SNP_ERR_TCB_MISMATCH, "REPORTED_TCB bootloader 4 != VCEK blSPL 3",
	  SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK },
	{ "invalid/milan_virtee_vcek_byte40_xorff", "report.bin", "vcek.der", "ask_ark.pem",
	  NOW_REF, SNP_ERR_CHAIN, "VCEK signature by ASK SEV-Milan does not verify",
	  SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK },
	{ "invalid/milan_trustee_report_with_genoa_chain", "report.bin", "vcek.der", "ask_ark.pem",
	  NOW_REF, SNP_ERR_CHAIN, "VCEK issuer is SEV-Milan, no matching ASK", SNP_PRODUCT_MILAN,
	  SNP_SIGNER_VCEK },
	{ "invalid/milan_trustee_vcek_fake_hwid_legacy", NULL, "vcek.der", "ask_ark.pem", NOW_REF,
	  SNP_ERR_CHAIN, "VCEK signature by ASK SEV-Milan does not verify", SNP_PRODUCT_MILAN,
	  SNP_SIGNER_VCEK },
	{ "invalid/milan_trustee_vcek_fake_hwid_new", NULL, "vcek.der", "ask_ark.pem", NOW_REF,
	  SNP_ERR_CHAIN, "VCEK signature by ASK SEV-Milan does not verify", SNP_PRODUCT_MILAN,
	  SNP_SIGNER_VCEK },
	{ "chain_only/turin_virtee", NULL, "vcek.der", "ask_ark.pem", NOW_REF, SNP_OK,
	  "certificate chain verified", SNP_PRODUCT_TURIN, SNP_SIGNER_VCEK },
};

/* Cases whose report does not parse: the stated reason is the parser's. */
static const struct {
	const char *dir;
	int rc;
	const char *err;
} td_parse_cases[] = {
	{ "invalid/milan_gcp_v5_version1", -ENOTSUP,
	  "unsupported at offset 0x0: report version 1 (supported: 2 to 5)" },
	{ "invalid/milan_gcp_v5_truncated500", -EINVAL,
	  "malformed at offset 500: report is 500 bytes, want 1184" },
};

static void run_td_case(const struct td_case *tc, int64_t now)
{
	char rel[512];
	size_t leaf_len = 0, chain_len = 0, rep_len = 0;
	uint8_t *leaf = NULL, *chain, *rep = NULL;
	if (tc->leaf) {
		snprintf(rel, sizeof(rel), "snp/%s/%s", tc->dir, tc->leaf);
		leaf = td_read(rel, &leaf_len);
	}
	snprintf(rel, sizeof(rel), "snp/%s/%s", tc->dir, tc->chain);
	chain = td_read(rel, &chain_len);
	struct snp_chain_opts o = { .leaf = leaf,
				    .leaf_len = leaf_len,
				    .chain = chain,
				    .chain_len = chain_len,
				    .now = now };
	struct snp_verdict v;
	struct snp_chain *c = snp_chain_new(&o, &v);
	if (!c)
		fail_msg("%s: chain_new: %s", tc->dir, v.detail);
	if (tc->report) {
		snprintf(rel, sizeof(rel), "snp/%s/%s", tc->dir, tc->report);
		rep = td_read(rel, &rep_len);
		struct snp_report r;
		char err[256];
		int rc = snp_report_parse(rep, rep_len, &r, err, sizeof(err));
		if (rc != 0)
			fail_msg("%s: parse: %s", tc->dir, err);
		int vr = snp_verify_report(c, &r, &v);
		assert_int_equal(vr, v.reason == SNP_OK ? 0 : -1);
		/* the convenience call agrees */
		struct snp_verdict v2;
		assert_int_equal(snp_verify(&r, &o, &v2), vr);
		assert_int_equal(v2.reason, v.reason);
		assert_string_equal(v2.detail, v.detail);
	}
	if (v.reason != tc->want || !strstr(v.detail, tc->detail))
		fail_msg("%s (%s) at %lld: got %s \"%s\", want %s \"%s\"", tc->dir,
			 tc->report ? tc->report : "chain", (long long)now,
			 snp_reason_name(v.reason), v.detail, snp_reason_name(tc->want),
			 tc->detail);
	assert_int_equal(v.product, tc->product);
	assert_int_equal(v.signer, tc->signer);
	snp_chain_free(c);
	free(leaf);
	free(chain);
	free(rep);
}

static void test_testdata_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(td_cases); i++)
		run_td_case(&td_cases[i], td_cases[i].now);
}

/* The valid cases also verify at the real current time (0 = now): certificates run to 2030+. */
static void test_valid_at_current_time(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(td_cases); i++)
		if (strncmp(td_cases[i].dir, "valid/", 6) == 0 ||
		    strncmp(td_cases[i].dir, "chain_only/", 11) == 0)
			run_td_case(&td_cases[i], 0);
}

static void test_testdata_parse_failures(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(td_parse_cases); i++) {
		char rel[512];
		size_t len;
		snprintf(rel, sizeof(rel), "snp/%s/report.bin", td_parse_cases[i].dir);
		uint8_t *buf = td_read(rel, &len);
		struct snp_report r;
		memset(&r, 0xAA, sizeof(r));
		char err[256];
		assert_int_equal(snp_report_parse(buf, len, &r, err, sizeof(err)),
				 td_parse_cases[i].rc);
		assert_string_equal(err, td_parse_cases[i].err);
		assert_int_equal(((uint8_t *)&r)[0], 0xAA); /* untouched */
		free(buf);
	}
}

static bool covered(const char *dir)
{
	for (size_t i = 0; i < ARRAY_SIZE(td_cases); i++)
		if (strcmp(td_cases[i].dir, dir) == 0)
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(td_parse_cases); i++)
		if (strcmp(td_parse_cases[i].dir, dir) == 0)
			return true;
	return false;
}

/* Every directory of the test data has a case here: a new case cannot be forgotten. */
static void test_every_testdata_dir_covered(void **state)
{
	(void)state;
	const char *kinds[] = { "valid", "expired", "invalid", "chain_only" };
	int n = 0;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/snp/%s", testdata, kinds[k]);
		DIR *d = opendir(path);
		if (!d)
			fail_msg("cannot open %s", path);
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char rel[512];
			snprintf(rel, sizeof(rel), "%s/%s", kinds[k], e->d_name);
			if (!covered(rel))
				fail_msg("test data case %s has no test", rel);
			n++;
		}
		closedir(d);
	}
	assert_int_equal(n, 18);
}

/* ---------------------------------------------------------------------------------------- */
/* Parsing                                                                                  */

static uint8_t *read_report(const char *dir, size_t *len)
{
	char rel[512];
	snprintf(rel, sizeof(rel), "snp/valid/%s/report.bin", dir);
	uint8_t *b = td_read(rel, len);
	assert_int_equal(*len, SNP_REPORT_BYTES);
	return b;
}

static void test_parse_fields(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b = read_report("milan_virtee", &len);
	struct snp_report r;
	char err[256];
	assert_int_equal(snp_report_parse(b, len, &r, err, sizeof(err)), 0);
	assert_int_equal(r.version, 2);
	assert_int_equal(r.policy, 0x30000);
	assert_int_equal(r.vmpl, 0);
	assert_int_equal(r.signature_algo, 1);
	assert_int_equal(r.reported_tcb, 0x7308000000000003ULL);
	assert_int_equal(snp_report_signer(&r), SNP_SIGNER_VCEK);
	assert_false(r.from_hcl);
	assert_memory_equal(r.raw, b, SNP_REPORT_BYTES);
	assert_memory_equal(r.chip_id, b + 0x1A0, 64);
	assert_memory_equal(r.measurement, b + 0x90, 48);
	assert_memory_equal(r.sig_r, b + 0x2A0, 72);
	assert_memory_equal(r.sig_s, b + 0x2E8, 72);
	free(b);

	b = read_report("milan_gcp_v5_vmpl1", &len);
	assert_int_equal(snp_report_parse(b, len, &r, err, sizeof(err)), 0);
	assert_int_equal(r.version, 5);
	assert_int_equal(r.vmpl, 1);
	assert_int_equal(r.cpuid_fam_id, 0x19);
	assert_int_equal(r.cpuid_mod_id, 0x01);
	uint64_t mit;
	memcpy(&mit, b + 0x1F8, 8);
	assert_int_equal(r.launch_mit_vector, mit);
	assert_true(r.launch_mit_vector != 0 || r.current_mit_vector != 0);
	free(b);

	b = read_report("genoa_siena_trustee_e2e", &len);
	assert_int_equal(snp_report_parse(b, len, &r, err, sizeof(err)), 0);
	assert_int_equal(r.version, 3);
	assert_int_equal(r.cpuid_mod_id, 0xA0);
	free(b);
}

static void test_parse_hex_and_base64(void **state)
{
	(void)state;
	size_t len, hlen;
	uint8_t *b = read_report("milan_virtee", &len);
	char *hex = (char *)td_read("snp/valid/milan_virtee/report.hex", &hlen);
	assert_int_equal(hlen, 2 * SNP_REPORT_BYTES);
	struct snp_report r1, r2;
	char err[256];
	assert_int_equal(snp_report_parse(b, len, &r1, err, sizeof(err)), 0);
	assert_int_equal(snp_report_parse_text(hex, hlen, &r2, err, sizeof(err)), 0);
	assert_memory_equal(&r1, &r2, sizeof(r1));

	/* 0x prefix, upper case, line breaks and spaces */
	size_t cap = hlen * 2 + 16, n = 0;
	char *t = malloc(cap);
	assert_non_null(t);
	n += (size_t)snprintf(t, cap, "  0X");
	for (size_t i = 0; i < hlen; i++) {
		char ch = hex[i];
		t[n++] = (ch >= 'a' && ch <= 'f') ? (char)(ch - 32) : ch;
		if (i % 64 == 63)
			t[n++] = '\n';
		else if (i % 8 == 7)
			t[n++] = ' ';
	}
	t[n++] = '\r';
	t[n++] = '\n';
	memset(&r2, 0, sizeof(r2));
	assert_int_equal(snp_report_parse_text(t, n, &r2, err, sizeof(err)), 0);
	assert_memory_equal(&r1, &r2, sizeof(r1));

	/* base64, wrapped at 76 */
	unsigned char b64[2048];
	int bl = EVP_EncodeBlock(b64, b, (int)len);
	n = 0;
	for (int i = 0; i < bl; i++) {
		t[n++] = (char)b64[i];
		if (i % 76 == 75)
			t[n++] = '\n';
	}
	memset(&r2, 0, sizeof(r2));
	assert_int_equal(snp_report_parse_text(t, n, &r2, err, sizeof(err)), 0);
	assert_memory_equal(&r1, &r2, sizeof(r1));

	/* garbage, odd hex after 0x, a bad base64 character, truncated hex */
	assert_int_equal(snp_report_parse_text("zz!!", 4, &r2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "neither hex nor base64"));
	assert_int_equal(snp_report_parse_text("0xabc", 5, &r2, err, sizeof(err)), -EINVAL);
	assert_int_equal(snp_report_parse_text("ab*d", 4, &r2, err, sizeof(err)), -EINVAL);
	assert_int_equal(snp_report_parse_text(hex, hlen - 2, &r2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "malformed at offset 1183: report is 1183 bytes, want 1184");
	assert_int_equal(snp_report_parse_text("", 0, &r2, err, sizeof(err)), -EINVAL);
	free(t);
	free(hex);
	free(b);
}

static void test_parse_text_limit(void **state)
{
	(void)state;
	size_t lim = 4u * SNP_HCL_MAX_BYTES;
	char *t = malloc(lim + 1);
	assert_non_null(t);
	memset(t, ' ', lim + 1);
	struct snp_report r;
	char err[256];
	/* at the limit: only whitespace, so an empty report */
	assert_int_equal(snp_report_parse_text(t, lim, &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(snp_report_parse_text(t, lim + 1, &r, err, sizeof(err)), -E2BIG);
	free(t);
}

static void test_parse_hcl(void **state)
{
	(void)state;
	size_t len, rlen;
	uint8_t *h = td_read("snp/valid/milan_azure_hcl_v2/hcl_report.bin", &len);
	uint8_t *b = read_report("milan_azure_hcl_v2", &rlen);
	assert_int_equal(len, 2600);
	struct snp_report r;
	char err[256];
	assert_int_equal(snp_report_parse(h, len, &r, err, sizeof(err)), 0);
	assert_true(r.from_hcl);
	assert_memory_equal(r.raw, b, SNP_REPORT_BYTES);

	/* the HCL size field covers header, report and runtime data: 0x92a here */
	uint32_t size;
	memcpy(&size, h + 8, 4);
	assert_int_equal(size, 0x92a);
	/* shortest HCL accepted: the file cut at its size field */
	assert_int_equal(snp_report_parse(h, size, &r, err, sizeof(err)), 0);
	assert_int_equal(snp_report_parse(h, size - 1, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "malformed at offset 0x8: HCL report size 2346 outside 1236..2345");
	/* shorter than header + report + runtime header */
	assert_int_equal(snp_report_parse(h, 0x4C0 + 19, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "malformed at offset 1235: HCL report is 1235 bytes"));

	uint8_t *m = malloc(len);
	assert_non_null(m);
	/* runtime data of a TDX report (type 4) */
	memcpy(m, h, len);
	m[0x4C8] = 4;
	assert_int_equal(snp_report_parse(m, len, &r, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "offset 0x4c8"));
	/* runtime data size beyond the HCL size */
	memcpy(m, h, len);
	m[0x4C1] = 0x10;
	assert_int_equal(snp_report_parse(m, len, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "offset 0x4c0"));
	/* variable data beyond the runtime data */
	memcpy(m, h, len);
	m[0x4D1] = 0x10;
	assert_int_equal(snp_report_parse(m, len, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "offset 0x4d0"));
	/* an error inside the embedded report names the offset in the HCL buffer */
	memcpy(m, h, len);
	m[0x20 + 0x4C] = 1;
	assert_int_equal(snp_report_parse(m, len, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "malformed at offset 0x6c:"));
	memcpy(m, h, len);
	m[0x20] = 6;
	assert_int_equal(snp_report_parse(m, len, &r, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "offset 0x20"));
	free(m);

	/* the HCL limit: 64 KiB accepted (zero padding), one byte more is too big */
	m = calloc(1, SNP_HCL_MAX_BYTES + 1);
	assert_non_null(m);
	memcpy(m, h, len);
	assert_int_equal(snp_report_parse(m, SNP_HCL_MAX_BYTES, &r, err, sizeof(err)), 0);
	assert_int_equal(snp_report_parse(m, SNP_HCL_MAX_BYTES + 1, &r, err, sizeof(err)), -E2BIG);
	free(m);
	free(h);
	free(b);
}

static void test_parse_lengths(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b = read_report("milan_trustee", &len);
	uint8_t *big = calloc(1, SNP_REPORT_BYTES + 1);
	assert_non_null(big);
	memcpy(big, b, SNP_REPORT_BYTES);
	struct snp_report r;
	char err[256];
	assert_int_equal(snp_report_parse(b, SNP_REPORT_BYTES, &r, err, sizeof(err)), 0);
	assert_int_equal(snp_report_parse(b, SNP_REPORT_BYTES - 1, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "malformed at offset 1183: report is 1183 bytes, want 1184");
	assert_int_equal(snp_report_parse(big, SNP_REPORT_BYTES + 1, &r, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "malformed at offset 1184: report is 1185 bytes, want 1184");
	assert_int_equal(snp_report_parse(b, 0, &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(snp_report_parse(NULL, 0, &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(snp_report_parse(b, len, NULL, err, sizeof(err)), -EINVAL);
	/* err may be NULL */
	assert_int_equal(snp_report_parse(b, 500, &r, NULL, 0), -EINVAL);
	free(big);
	free(b);
}

/* Applies one edit to a copy of a valid report and checks the parser's answer. */
static void expect_edit(const uint8_t *orig, size_t off, const uint8_t *bytes, size_t n, int rc,
			const char *msg)
{
	uint8_t m[SNP_REPORT_BYTES];
	memcpy(m, orig, sizeof(m));
	memcpy(m + off, bytes, n);
	struct snp_report r;
	memset(&r, 0x5A, sizeof(r));
	char err[256] = "";
	int got = snp_report_parse(m, sizeof(m), &r, err, sizeof(err));
	if (got != rc || (msg && !strstr(err, msg)))
		fail_msg("edit at 0x%zx: rc %d \"%s\", want %d \"%s\"", off, got, err, rc,
			 msg ? msg : "");
	if (rc != 0)
		assert_int_equal(((uint8_t *)&r)[7], 0x5A);
}

static void test_parse_versions(void **state)
{
	(void)state;
	size_t len;
	uint8_t *v2 = read_report("milan_trustee", &len);
	uint8_t *v3 = read_report("milan_azure_v3_chipA", &len);
	uint8_t *v5 = read_report("milan_gcp_v5_vmpl1", &len);
	uint8_t w[4];
	util_put_le32(w, 1);
	expect_edit(v3, 0, w, 4, -ENOTSUP, "report version 1");
	util_put_le32(w, 0);
	expect_edit(v3, 0, w, 4, -ENOTSUP, "report version 0");
	util_put_le32(w, 6);
	expect_edit(v5, 0, w, 4, -ENOTSUP, "report version 6");
	util_put_le32(w, 4);
	expect_edit(v3, 0, w, 4, 0, NULL); /* v4: the v3 layout */
	util_put_le32(w, 5);
	expect_edit(v3, 0, w, 4, 0, NULL);
	util_put_le32(w, 3);
	expect_edit(v2, 0, w, 4, 0, NULL);
	/* a v3 report relabelled v2: its CPUID bytes fall in v2's reserved range */
	util_put_le32(w, 2);
	expect_edit(v3, 0, w, 4, -EINVAL, "malformed at offset 0x188: reserved byte is 0x19");
	/* a v5 report relabelled v3/v4: the mitigation vectors fall in the reserved range */
	util_put_le32(w, 3);
	expect_edit(v5, 0, w, 4, -EINVAL, "malformed at offset 0x1f8:");
	util_put_le32(w, 4);
	expect_edit(v5, 0, w, 4, -EINVAL, "malformed at offset 0x1f8:");
	free(v2);
	free(v3);
	free(v5);
}

static void test_parse_fields_rules(void **state)
{
	(void)state;
	size_t len;
	uint8_t *v2 = read_report("milan_virtee", &len);
	uint8_t *v3 = read_report("milan_azure_v3_chipA", &len);
	uint8_t *v5 = read_report("milan_gcp_v5_vmpl1", &len);
	uint8_t w[8];
	/* signature algorithm */
	util_put_le32(w, 2);
	expect_edit(v2, 0x34, w, 4, -ENOTSUP, "unsupported at offset 0x34: signature algorithm 2");
	util_put_le32(w, 0);
	expect_edit(v2, 0x34, w, 4, -ENOTSUP, "signature algorithm 0");
	/* policy bit 17 */
	util_put_le64(w, 0x10000);
	expect_edit(v2, 0x08, w, 8, -EINVAL, "malformed at offset 0x8: policy 0x10000 has bit 17");
	util_put_le64(w, 0x20000);
	expect_edit(v2, 0x08, w, 8, 0, NULL);
	/* VMPL 0..3 */
	util_put_le32(w, 3);
	expect_edit(v2, 0x30, w, 4, 0, NULL);
	util_put_le32(w, 4);
	expect_edit(v2, 0x30, w, 4, -EINVAL, "malformed at offset 0x30: VMPL 4");
	util_put_le32(w, 0xFFFFFFFF);
	expect_edit(v2, 0x30, w, 4, -EINVAL, "VMPL 4294967295");
	/* flags: signing key 0, 1, 7 accepted; 2..6 and bits 5-31 refused */
	static const uint32_t good_flags[] = { 0x0, 0x1, 0x2, 0x3, 0x4, 0x1C, 0x1F };
	for (size_t i = 0; i < ARRAY_SIZE(good_flags); i++) {
		util_put_le32(w, good_flags[i]);
		expect_edit(v2, 0x48, w, 4, 0, NULL);
	}
	for (uint32_t k = 2; k <= 6; k++) {
		util_put_le32(w, k << 2);
		expect_edit(v2, 0x48, w, 4, -EINVAL, "malformed at offset 0x48: signing key");
	}
	util_put_le32(w, 0x20);
	expect_edit(v2, 0x48, w, 4, -EINVAL, "reserved bits 5-31");
	util_put_le32(w, 0x80000000u);
	expect_edit(v2, 0x48, w, 4, -EINVAL, "reserved bits 5-31");

	/* every reserved range: first and last byte */
	const uint8_t one = 1;
	static const struct {
		uint32_t lo, hi;
	} v2r[] = { { 0x4C, 0x4F },   { 0x188, 0x19F }, { 0x1EB, 0x1EB },
		    { 0x1EF, 0x1EF }, { 0x1F8, 0x29F }, { 0x330, 0x49F } };
	for (size_t i = 0; i < ARRAY_SIZE(v2r); i++) {
		char msg[64];
		snprintf(msg, sizeof(msg), "malformed at offset 0x%x: reserved byte is 0x01",
			 v2r[i].lo);
		expect_edit(v2, v2r[i].lo, &one, 1, -EINVAL, msg);
		snprintf(msg, sizeof(msg), "malformed at offset 0x%x: reserved byte is 0x01",
			 v2r[i].hi);
		expect_edit(v2, v2r[i].hi, &one, 1, -EINVAL, msg);
	}
	/* v3: CPUID bytes are fields, 0x18B is the first reserved byte */
	expect_edit(v3, 0x18A, &one, 1, 0, NULL);
	expect_edit(v3, 0x18B, &one, 1, -EINVAL, "malformed at offset 0x18b:");
	expect_edit(v3, 0x1F8, &one, 1, -EINVAL, "malformed at offset 0x1f8:");
	/* v5: the mitigation vectors are fields, 0x208 is the first reserved byte */
	expect_edit(v5, 0x1F8, &one, 1, 0, NULL);
	expect_edit(v5, 0x207, &one, 1, 0, NULL);
	expect_edit(v5, 0x208, &one, 1, -EINVAL, "malformed at offset 0x208:");
	/* bytes that are fields in every version */
	expect_edit(v2, 0x1EA, &one, 1, 0, NULL);
	expect_edit(v2, 0x1EC, &one, 1, 0, NULL);
	expect_edit(v2, 0x32F, &one, 1, 0, NULL); /* last byte of S (verification fails later) */
	free(v2);
	free(v3);
	free(v5);
}

static void test_tcb_decode(void **state)
{
	(void)state;
	struct snp_tcb t = snp_tcb_decode(0x7308000000000003ULL, SNP_PRODUCT_MILAN);
	assert_int_equal(t.bootloader, 3);
	assert_int_equal(t.tee, 0);
	assert_int_equal(t.snp, 8);
	assert_int_equal(t.microcode, 0x73);
	assert_int_equal(t.fmc, 0);
	t = snp_tcb_decode(0x191700000000000aULL, SNP_PRODUCT_GENOA);
	assert_int_equal(t.bootloader, 10);
	assert_int_equal(t.snp, 0x17);
	assert_int_equal(t.microcode, 0x19);
	/* Turin: FMC, bootloader, TEE, SNP in bytes 0-3, microcode in byte 7 */
	t = snp_tcb_decode(0x4400000004030201ULL, SNP_PRODUCT_TURIN);
	assert_int_equal(t.fmc, 1);
	assert_int_equal(t.bootloader, 2);
	assert_int_equal(t.tee, 3);
	assert_int_equal(t.snp, 4);
	assert_int_equal(t.microcode, 0x44);
}

static void test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(snp_reason_name(SNP_OK), "ok");
	assert_string_equal(snp_reason_name(SNP_ERR_BAD_SIGNATURE), "bad_signature");
	assert_string_equal(snp_reason_name(SNP_ERR_EXPIRED), "expired");
	for (int a = SNP_OK; a <= SNP_ERR_INTERNAL; a++) {
		assert_string_not_equal(snp_reason_name((enum snp_reason)a), "unknown");
		for (int b = a + 1; b <= SNP_ERR_INTERNAL; b++)
			assert_string_not_equal(snp_reason_name((enum snp_reason)a),
						snp_reason_name((enum snp_reason)b));
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Pinned roots                                                                             */

static void sha256_der_of_pem(const char *pem, size_t len, int index, uint8_t out[32])
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	assert_non_null(bio);
	X509 *x = NULL;
	for (int i = 0; i <= index; i++) {
		X509_free(x);
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		assert_non_null(x);
	}
	BIO_free(bio);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	assert_true(n > 0);
	unsigned int ol = 0;
	assert_true(EVP_Digest(der, (size_t)n, out, &ol, EVP_sha256(), NULL));
	OPENSSL_free(der);
	X509_free(x);
}

static void test_pinned_roots_match_testdata(void **state)
{
	(void)state;
	static const char *const prod[] = { NULL, "milan", "genoa", "turin" };
	for (size_t i = 0; i < AMD_CERTS_COUNT; i++) {
		const struct amd_cert *a = &amd_certs[i];
		char rel[256];
		switch (a->kind) {
		case AMD_CERT_ARK:
			snprintf(rel, sizeof(rel), "snp/amd_roots/virtee_%s_ark.pem",
				 prod[a->product]);
			break;
		case AMD_CERT_ASK:
			snprintf(rel, sizeof(rel), "snp/amd_roots/virtee_%s_ask.pem",
				 prod[a->product]);
			break;
		case AMD_CERT_ASVK:
			snprintf(rel, sizeof(rel), "snp/amd_roots/ask_ark_%s_vlek.pem",
				 prod[a->product]);
			break;
		}
		size_t len;
		char *pem = (char *)td_read(rel, &len);
		uint8_t want[32], got[32];
		sha256_der_of_pem(pem, len, 0, want);
		sha256_der_of_pem(a->pem, strlen(a->pem), 0, got);
		if (memcmp(want, got, 32) != 0)
			fail_msg("pinned %s differs from %s", a->cn, rel);
		free(pem);
		/* the CN table agrees with the certificate */
		BIO *bio = BIO_new_mem_buf(a->pem, -1);
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		assert_non_null(x);
		char cn[64];
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
		assert_string_equal(cn, a->cn);
		X509_free(x);
	}
}

/* A VCEK alone (no chain) verifies through the pinned ASK and ARK; so does VCEK + ARK. */
static void test_pinned_intermediates(void **state)
{
	(void)state;
	size_t vl, rl, al;
	uint8_t *vcek = td_read("snp/valid/milan_virtee/vcek.der", &vl);
	uint8_t *rep = td_read("snp/valid/milan_virtee/report.bin", &rl);
	uint8_t *ark = td_read("snp/amd_roots/virtee_milan_ark.pem", &al);
	struct snp_report r;
	assert_int_equal(snp_report_parse(rep, rl, &r, NULL, 0), 0);
	struct snp_chain_opts o = { .leaf = vcek, .leaf_len = vl, .now = NOW_REF };
	struct snp_verdict v;
	assert_int_equal(snp_verify(&r, &o, &v), 0);
	o.chain = ark;
	o.chain_len = al;
	assert_int_equal(snp_verify(&r, &o, &v), 0);
	/* the VLEK needs the ASVK: pinned too */
	size_t ll, el;
	uint8_t *vlek = td_read("snp/expired/milan_aws_vlek/vlek.der", &ll);
	uint8_t *vrep = td_read("snp/expired/milan_aws_vlek/report.bin", &el);
	assert_int_equal(snp_report_parse(vrep, el, &r, NULL, 0), 0);
	struct snp_chain_opts o2 = { .leaf = vlek, .leaf_len = ll, .now = NOW_PRE_VLEK };
	assert_int_equal(snp_verify(&r, &o2, &v), 0);
	assert_int_equal(v.signer, SNP_SIGNER_VLEK);
	free(vlek);
	free(vrep);
	free(vcek);
	free(rep);
	free(ark);
}

/* ---------------------------------------------------------------------------------------- */
/* Real reports, edited: binding checks and their order                                      */

struct real {
	uint8_t *vcek, *chain, *rep;
	size_t vl, cl, rl;
};

static void real_load(struct real *x, const char *dir)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "snp/valid/%s/vcek.%s", dir,
		 strcmp(dir, "milan_azure_v3_chipA") == 0 ? "pem" : "der");
	x->vcek = td_read(rel, &x->vl);
	snprintf(rel, sizeof(rel), "snp/valid/%s/ask_ark.pem", dir);
	x->chain = td_read(rel, &x->cl);
	snprintf(rel, sizeof(rel), "snp/valid/%s/report.bin", dir);
	x->rep = td_read(rel, &x->rl);
}

static void real_free(struct real *x)
{
	free(x->vcek);
	free(x->chain);
	free(x->rep);
}

/* Verifies raw bytes (already edited) against the real chain; returns the reason. */
static enum snp_reason real_verify(struct real *x, const uint8_t *raw, enum snp_product expect,
				   char *detail)
{
	struct snp_report r;
	char err[256];
	if (snp_report_parse(raw, SNP_REPORT_BYTES, &r, err, sizeof(err)) != 0)
		fail_msg("parse: %s", err);
	struct snp_chain_opts o = { .leaf = x->vcek,
				    .leaf_len = x->vl,
				    .chain = x->chain,
				    .chain_len = x->cl,
				    .now = NOW_REF,
				    .product = expect };
	struct snp_verdict v;
	snp_verify(&r, &o, &v);
	if (detail)
		snprintf(detail, 256, "%s", v.detail);
	return v.reason;
}

static void test_real_binding_edits(void **state)
{
	(void)state;
	struct real x;
	real_load(&x, "milan_virtee");
	uint8_t m[SNP_REPORT_BYTES];
	char d[256];

	memcpy(m, x.rep, sizeof(m));
	assert_int_equal(real_verify(&x, m, SNP_PRODUCT_UNKNOWN, d), SNP_OK);
	assert_int_equal(real_verify(&x, m, SNP_PRODUCT_MILAN, d), SNP_OK);
	/* expected product */
	assert_int_equal(real_verify(&x, m, SNP_PRODUCT_GENOA, d), SNP_ERR_CHAIN);
	assert_non_null(strstr(d, "expected a Genoa chain, but the VCEK is for Milan (Milan-B0)"));

	/* signer kind: VLEK claimed, none */
	m[0x48] = 1 << 2;
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_SIGNER_MISMATCH);
	assert_non_null(strstr(d, "signed by a VLEK (signing key 1) but a VCEK was supplied"));
	m[0x48] = 7 << 2;
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_SIGNER_MISMATCH);
	assert_non_null(strstr(d, "not signed"));

	/* CHIP_ID: compared unless zero or masked */
	memcpy(m, x.rep, sizeof(m));
	m[0x1A0 + 63] ^= 1;
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_CHIP_MISMATCH);
	assert_non_null(strstr(d, "CHIP_ID d49554ec717f4e5b... != VCEK hwID d49554ec717f4e5b..."));
	m[0x48] = 2; /* MASK_CHIP_KEY: not compared; the signature then fails */
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_BAD_SIGNATURE);
	memcpy(m, x.rep, sizeof(m));
	memset(m + 0x1A0, 0, 64);
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_BAD_SIGNATURE);

	/* REPORTED_TCB, component by component (Milan layout) */
	static const struct {
		size_t byte;
		const char *msg;
	} tcb[] = {
		{ 0, "REPORTED_TCB bootloader 4 != VCEK blSPL 3" },
		{ 1, "REPORTED_TCB tee 1 != VCEK teeSPL 0" },
		{ 6, "REPORTED_TCB snp 9 != VCEK snpSPL 8" },
		{ 7, "REPORTED_TCB microcode 116 != VCEK ucodeSPL 115" },
		{ 2, "REPORTED_TCB byte 2 1 != VCEK spl4 0" },
		{ 5, "REPORTED_TCB byte 5 1 != VCEK spl7 0" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(tcb); i++) {
		memcpy(m, x.rep, sizeof(m));
		m[0x180 + tcb[i].byte] += 1;
		assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_TCB_MISMATCH);
		if (!strstr(d, tcb[i].msg))
			fail_msg("byte %zu: %s", tcb[i].byte, d);
	}
	/* CURRENT_TCB is not REPORTED_TCB: only the signature notices */
	memcpy(m, x.rep, sizeof(m));
	m[0x38] += 1;
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_BAD_SIGNATURE);
	/* the signature itself: R, S, and R's zero extension */
	memcpy(m, x.rep, sizeof(m));
	m[0x2A0] ^= 1;
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_BAD_SIGNATURE);
	memcpy(m, x.rep, sizeof(m));
	m[0x2E8 + 47] ^= 0x80;
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_BAD_SIGNATURE);
	memcpy(m, x.rep, sizeof(m));
	m[0x2A0 + 71] = 1;
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_BAD_SIGNATURE);
	real_free(&x);

	/* v3+: the CPUID bytes must name the chain's product */
	real_load(&x, "milan_azure_v3_chipA");
	memcpy(m, x.rep, sizeof(m));
	assert_int_equal(real_verify(&x, m, 0, d), SNP_OK);
	m[0x189] = 0x11; /* Genoa */
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_CHAIN);
	assert_non_null(strstr(d, "report CPUID family 0x19 model 0x11 is Genoa, the VCEK is for "
				  "Milan"));
	m[0x188] = 0x1A; /* Turin */
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_CHAIN);
	m[0x188] = 0x17; /* not an SNP part: no product claim, the signature decides */
	assert_int_equal(real_verify(&x, m, 0, d), SNP_ERR_BAD_SIGNATURE);
	real_free(&x);

	/* the VLEK chain with a VCEK-signed report */
	size_t ll, cl, rl;
	uint8_t *vlek = td_read("snp/expired/milan_aws_vlek/vlek.der", &ll);
	uint8_t *ch = td_read("snp/expired/milan_aws_vlek/ask_ark_vlek.pem", &cl);
	uint8_t *rep = td_read("snp/valid/milan_virtee/report.bin", &rl);
	struct snp_report r;
	assert_int_equal(snp_report_parse(rep, rl, &r, NULL, 0), 0);
	struct snp_chain_opts o = {
		.leaf = vlek, .leaf_len = ll, .chain = ch, .chain_len = cl, .now = NOW_PRE_VLEK
	};
	struct snp_verdict v;
	assert_int_equal(snp_verify(&r, &o, &v), -1);
	assert_int_equal(v.reason, SNP_ERR_SIGNER_MISMATCH);
	assert_non_null(
		strstr(v.detail, "signed by a VCEK (signing key 0) but a VLEK was supplied"));
	free(vlek);
	free(ch);
	free(rep);
}

/* Certificate input errors: NULL chain, verdict MALFORMED. */
static void test_chain_input_errors(void **state)
{
	(void)state;
	struct snp_verdict v;
	struct snp_chain_opts o = { .now = NOW_REF };
	assert_null(snp_chain_new(&o, &v));
	assert_int_equal(v.reason, SNP_ERR_MALFORMED);
	assert_string_equal(v.detail, "no certificates supplied");
	assert_null(snp_chain_new(NULL, &v));
	assert_int_equal(v.reason, SNP_ERR_MALFORMED);

	const char *junk = "not a certificate";
	o.leaf = (const uint8_t *)junk;
	o.leaf_len = strlen(junk);
	assert_null(snp_chain_new(&o, &v));
	assert_int_equal(v.reason, SNP_ERR_MALFORMED);
	assert_non_null(strstr(v.detail, "malformed at offset 0: leaf certificate: DER"));

	const char *badpem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	o.leaf = (const uint8_t *)badpem;
	o.leaf_len = strlen(badpem);
	assert_null(snp_chain_new(&o, &v));
	assert_int_equal(v.reason, SNP_ERR_MALFORMED);
	assert_non_null(strstr(v.detail, "PEM certificate 1 does not parse"));

	/* DER followed by garbage */
	size_t vl;
	uint8_t *vcek = td_read("snp/valid/milan_virtee/vcek.der", &vl);
	uint8_t *cat = malloc(vl + 3);
	assert_non_null(cat);
	memcpy(cat, vcek, vl);
	memcpy(cat + vl, "\x30\x01\x00", 3);
	o.leaf = cat;
	o.leaf_len = vl + 3;
	assert_null(snp_chain_new(&o, &v));
	assert_int_equal(v.reason, SNP_ERR_MALFORMED);
	assert_non_null(strstr(v.detail, "DER certificate 2 does not parse"));
	free(cat);

	/* only CA certificates: no leaf */
	size_t cl;
	uint8_t *chain = td_read("snp/valid/milan_virtee/ask_ark.pem", &cl);
	struct snp_chain_opts o2 = { .chain = chain, .chain_len = cl, .now = NOW_REF };
	struct snp_chain *c = snp_chain_new(&o2, &v);
	assert_non_null(c);
	assert_int_equal(v.reason, SNP_ERR_CHAIN);
	assert_non_null(strstr(v.detail, "no VCEK or VLEK"));
	struct snp_report r;
	size_t rl;
	uint8_t *rep = td_read("snp/valid/milan_virtee/report.bin", &rl);
	assert_int_equal(snp_report_parse(rep, rl, &r, NULL, 0), 0);
	/* a failed chain fails every report with its own verdict */
	assert_int_equal(snp_verify_report(c, &r, &v), -1);
	assert_int_equal(v.reason, SNP_ERR_CHAIN);
	snp_chain_free(c);
	snp_chain_free(NULL);
	assert_int_equal(snp_verify_report(NULL, &r, &v), -1);
	assert_int_equal(v.reason, SNP_ERR_INTERNAL);

	/* the leaf in the chain blob (leaf NULL) */
	size_t bl;
	uint8_t *bundle = td_read("snp/valid/milan_azure_hcl_v2/vcek_ask_ark.pem", &bl);
	struct snp_chain_opts o3 = { .chain = bundle, .chain_len = bl, .now = NOW_REF };
	c = snp_chain_new(&o3, &v);
	assert_non_null(c);
	assert_int_equal(v.reason, SNP_OK);
	snp_chain_free(c);
	/* ... and as the leaf blob */
	struct snp_chain_opts o4 = { .leaf = bundle, .leaf_len = bl, .now = NOW_REF };
	c = snp_chain_new(&o4, &v);
	assert_non_null(c);
	assert_int_equal(v.reason, SNP_OK);
	snp_chain_free(c);
	free(bundle);
	free(rep);
	free(chain);
	free(vcek);
}

/* ---------------------------------------------------------------------------------------- */
/* A synthetic AMD-style chain                                                              */

struct keys {
	EVP_PKEY *ark, *ask, *asvk, *vcek, *vlek, *other_rsa, *p256;
};
static struct keys K;

static int group_setup(void **state)
{
	(void)state;
	find_testdata();
	K.ark = EVP_RSA_gen(2048);
	K.ask = EVP_RSA_gen(2048);
	K.asvk = EVP_RSA_gen(2048);
	K.other_rsa = EVP_RSA_gen(2048);
	K.vcek = EVP_EC_gen("P-384");
	K.vlek = EVP_EC_gen("P-384");
	K.p256 = EVP_EC_gen("P-256");
	return K.ark && K.ask && K.asvk && K.other_rsa && K.vcek && K.vlek && K.p256 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	EVP_PKEY *all[] = { K.ark, K.ask, K.asvk, K.vcek, K.vlek, K.other_rsa, K.p256 };
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		EVP_PKEY_free(all[i]);
	return 0;
}

static X509_NAME *amd_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();
	assert_non_null(n);
	/* AMD's exact RDN sequence, so look-alikes collide with the real names */
	static const char *const rdn[][2] = { { "OU", "Engineering" },
					      { "C", "US" },
					      { "L", "Santa Clara" },
					      { "ST", "CA" },
					      { "O", "Advanced Micro Devices" } };
	for (size_t i = 0; i < ARRAY_SIZE(rdn); i++)
		X509_NAME_add_entry_by_txt(n, rdn[i][0], MBSTRING_ASC,
					   (const unsigned char *)rdn[i][1], -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	return n;
}

static void add_raw_ext(X509 *x, const char *oid, const uint8_t *der, size_t n)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	assert_non_null(o);
	assert_non_null(os);
	assert_true(ASN1_OCTET_STRING_set(os, der, (int)n));
	X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
	assert_non_null(e);
	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(o);
}

static void add_int_ext(X509 *x, const char *oid, int v)
{
	uint8_t der[4] = { 0x02, 0x01, (uint8_t)v };
	size_t n = 3;
	if (v >= 0x80) {
		der[1] = 2;
		der[2] = 0;
		der[3] = (uint8_t)v;
		n = 4;
	}
	add_raw_ext(x, oid, der, n);
}

static void add_ia5_ext(X509 *x, const char *oid, const char *s)
{
	uint8_t der[80];
	size_t n = strlen(s);
	assert_true(n < 78);
	der[0] = 0x16;
	der[1] = (uint8_t)n;
	memcpy(der + 2, s, n);
	add_raw_ext(x, oid, der, n + 2);
}

enum sig_style { SIG_PSS, SIG_PKCS1 };

static void sign_cert(X509 *x, EVP_PKEY *issuer_key, enum sig_style st)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	assert_non_null(m);
	assert_int_equal(EVP_DigestSignInit(m, &pctx, EVP_sha384(), NULL, issuer_key), 1);
	if (st == SIG_PSS) {
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) > 0);
	}
	assert_true(X509_sign_ctx(x, m) > 0);
	EVP_MD_CTX_free(m);
}

struct cert_spec {
	const char *cn, *issuer_cn;
	EVP_PKEY *key, *issuer_key;
	long serial;
	int64_t not_before, not_after;
	bool ca;
	enum sig_style sig;
};

static X509 *mk_cert(const struct cert_spec *s)
{
	X509 *x = X509_new();
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial);
	X509_NAME *sn = amd_name(s->cn), *in = amd_name(s->issuer_cn);
	X509_set_subject_name(x, sn);
	X509_set_issuer_name(x, in);
	X509_NAME_free(sn);
	X509_NAME_free(in);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)s->not_before));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)s->not_after));
	assert_true(X509_set_pubkey(x, s->key));
	if (s->ca) {
		X509_EXTENSION *e =
			X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		e = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	return x;
}

/* What the synthetic leaf carries. */
struct leaf_spec {
	bool vlek, turin;
	const char *product_name; /* NULL: omit */
	int bl, tee, snp, ucode, fmc;
	bool omit_bl, omit_fmc, dup_snp;
	int hwid_form;    /* 0 OCTET STRING, 1 raw, 2 omit */
	uint8_t chip[64]; /* hwID */
	EVP_PKEY *key;
	int64_t not_before, not_after;
	enum sig_style sig;
};

#define OIDP "1.3.6.1.4.1.3704.1."

static X509 *mk_leaf(const struct leaf_spec *l, const char *issuer_cn, EVP_PKEY *issuer_key)
{
	struct cert_spec s = { l->vlek ? "SEV-VLEK" : "SEV-VCEK",
			       issuer_cn,
			       l->key,
			       issuer_key,
			       0,
			       l->not_before,
			       l->not_after,
			       false,
			       l->sig };
	X509 *x = mk_cert(&s);
	add_int_ext(x, OIDP "1", 0);
	if (l->product_name)
		add_ia5_ext(x, OIDP "2", l->product_name);
	if (l->turin && !l->omit_fmc)
		add_int_ext(x, OIDP "3.9", l->fmc);
	if (!l->omit_bl)
		add_int_ext(x, OIDP "3.1", l->bl);
	add_int_ext(x, OIDP "3.2", l->tee);
	add_int_ext(x, OIDP "3.3", l->snp);
	if (l->dup_snp)
		add_int_ext(x, OIDP "3.3", l->snp + 1);
	for (int i = 4; i <= 7; i++) {
		char oid[40];
		snprintf(oid, sizeof(oid), OIDP "3.%d", i);
		add_int_ext(x, oid, 0);
	}
	add_int_ext(x, OIDP "3.8", l->ucode);
	size_t hl = l->turin ? 8 : 64;
	if (l->hwid_form == 0) {
		uint8_t der[66] = { 0x04, (uint8_t)hl };
		memcpy(der + 2, l->chip, hl);
		add_raw_ext(x, OIDP "4", der, hl + 2);
	} else if (l->hwid_form == 1) {
		add_raw_ext(x, OIDP "4", l->chip, hl);
	}
	if (l->vlek)
		add_ia5_ext(x, OIDP "5", "CN=test.example");
	sign_cert(x, issuer_key, l->sig);
	return x;
}

static char *pem_of(X509 *const *certs, size_t n, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	for (size_t i = 0; i < n; i++)
		assert_true(PEM_write_bio_X509(bio, certs[i]));
	char *p;
	long l = BIO_get_mem_data(bio, &p);
	char *out = malloc((size_t)l + 1);
	assert_non_null(out);
	memcpy(out, p, (size_t)l);
	out[l] = 0;
	*len = (size_t)l;
	BIO_free(bio);
	return out;
}

/* A synthetic world: test ARK/ASK/leaf and matching report. */
struct world {
	const char *product; /* "Milan" or "Turin" */
	X509 *ark, *ica, *leaf;
	char *roots_pem, *chain_pem, *leaf_pem;
	size_t roots_len, chain_len, leaf_len;
	uint8_t raw[SNP_REPORT_BYTES];
	struct snp_report r;
	int64_t now;
};

static void sign_report(uint8_t *raw, EVP_PKEY *key)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_non_null(m);
	assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha384(), NULL, key), 1);
	size_t sl = 0;
	assert_int_equal(EVP_DigestSign(m, NULL, &sl, raw, SNP_SIGNED_BYTES), 1);
	unsigned char *sig = malloc(sl);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(m, sig, &sl, raw, SNP_SIGNED_BYTES), 1);
	const unsigned char *p = sig;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
	assert_non_null(es);
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(es, &r, &s);
	memset(raw + 0x2A0, 0, 144);
	assert_int_equal(BN_bn2lebinpad(r, raw + 0x2A0, 72), 72);
	assert_int_equal(BN_bn2lebinpad(s, raw + 0x2E8, 72), 72);
	ECDSA_SIG_free(es);
	free(sig);
	EVP_MD_CTX_free(m);
}

/* Report fields a test may change before signing. */
struct report_spec {
	uint32_t version;
	uint64_t tcb;
	uint32_t flags;
	uint8_t fam, mod;
	uint8_t chip[64];
};

static void mk_report(uint8_t *raw, const struct report_spec *s, EVP_PKEY *key)
{
	memset(raw, 0, SNP_REPORT_BYTES);
	util_put_le32(raw, s->version);
	util_put_le32(raw + 0x04, 1);
	util_put_le64(raw + 0x08, 0x30000);
	util_put_le32(raw + 0x34, 1);
	util_put_le64(raw + 0x38, s->tcb);
	util_put_le32(raw + 0x48, s->flags);
	for (int i = 0; i < 64; i++)
		raw[0x50 + i] = (uint8_t)i;
	memset(raw + 0x90, 0x11, 48);
	util_put_le64(raw + 0x180, s->tcb);
	if (s->version >= 3) {
		raw[0x188] = s->fam;
		raw[0x189] = s->mod;
		raw[0x18A] = 1;
	}
	memcpy(raw + 0x1A0, s->chip, 64);
	util_put_le64(raw + 0x1E0, s->tcb);
	raw[0x1E8] = 40;
	raw[0x1E9] = 55;
	raw[0x1EA] = 1;
	util_put_le64(raw + 0x1F0, s->tcb);
	sign_report(raw, key);
}

static const int64_t T0 = NOW_REF - 365 * DAY; /* issue date of the synthetic certificates */

static void chip_pattern(uint8_t *chip)
{
	for (int i = 0; i < 64; i++)
		chip[i] = (uint8_t)(0xC0 + i);
}

/* Milan VCEK world by default; 'l' and 'rs' tweak it (may be NULL). */
static void world_make(struct world *w, const struct leaf_spec *l, const struct report_spec *rs)
{
	memset(w, 0, sizeof(*w));
	struct leaf_spec dl = { .product_name = "Milan-B0",
				.bl = 3,
				.tee = 0,
				.snp = 8,
				.ucode = 0xd9,
				.key = K.vcek,
				.not_before = T0,
				.not_after = T0 + 7 * 365 * DAY };
	chip_pattern(dl.chip);
	if (!l)
		l = &dl;
	const char *prod = l->turin ? "Turin" : "Milan";
	w->product = prod;
	char ark_cn[32], ica_cn[32];
	snprintf(ark_cn, sizeof(ark_cn), "ARK-%s", prod);
	snprintf(ica_cn, sizeof(ica_cn), l->vlek ? "SEV-VLEK-%s" : "SEV-%s", prod);
	struct cert_spec ark = {
		ark_cn, ark_cn, K.ark, K.ark, 0x10000, T0 - DAY, T0 + 25 * 365 * DAY, true, SIG_PSS
	};
	struct cert_spec ica = { ica_cn,  ark_cn,   l->vlek ? K.asvk : K.ask, K.ark,
				 0x10001, T0 - DAY, T0 + 25 * 365 * DAY,      true,
				 SIG_PSS };
	w->ark = mk_cert(&ark);
	sign_cert(w->ark, K.ark, SIG_PSS);
	w->ica = mk_cert(&ica);
	sign_cert(w->ica, K.ark, SIG_PSS);
	w->leaf = mk_leaf(l, ica_cn, ica.key);
	w->roots_pem = pem_of(&w->ark, 1, &w->roots_len);
	w->chain_pem = pem_of(&w->ica, 1, &w->chain_len);
	w->leaf_pem = pem_of(&w->leaf, 1, &w->leaf_len);

	struct report_spec ds = { .version = 3,
				  .fam = l->turin ? 0x1A : 0x19,
				  .mod = l->turin ? 0x02 : 0x01,
				  .flags = l->vlek ? 0x4 : 0 };
	if (l->turin)
		ds.tcb = (uint64_t)l->fmc | (uint64_t)l->bl << 8 | (uint64_t)l->tee << 16 |
			 (uint64_t)l->snp << 24 | (uint64_t)l->ucode << 56;
	else
		ds.tcb = (uint64_t)l->bl | (uint64_t)l->tee << 8 | (uint64_t)l->snp << 48 |
			 (uint64_t)l->ucode << 56;
	if (!l->vlek)
		memcpy(ds.chip, l->chip, 64);
	if (!rs)
		rs = &ds;
	mk_report(w->raw, rs, l->key);
	char err[256];
	if (snp_report_parse(w->raw, SNP_REPORT_BYTES, &w->r, err, sizeof(err)) != 0)
		fail_msg("synthetic report: %s", err);
	w->now = NOW_REF;
}

static void world_free(struct world *w)
{
	X509_free(w->ark);
	X509_free(w->ica);
	X509_free(w->leaf);
	free(w->roots_pem);
	free(w->chain_pem);
	free(w->leaf_pem);
}

static struct snp_chain_opts world_opts(const struct world *w)
{
	struct snp_chain_opts o = { .leaf = (const uint8_t *)w->leaf_pem,
				    .leaf_len = w->leaf_len,
				    .chain = (const uint8_t *)w->chain_pem,
				    .chain_len = w->chain_len,
				    .now = w->now,
				    .test_roots = (const uint8_t *)w->roots_pem,
				    .test_roots_len = w->roots_len };
	return o;
}

/* Runs the world with options o; checks reason and detail substring. */
static void expect_world(const struct world *w, const struct snp_chain_opts *o,
			 enum snp_reason want, const char *detail)
{
	struct snp_verdict v;
	int rc = snp_verify(&w->r, o, &v);
	if (v.reason != want || (detail && !strstr(v.detail, detail)))
		fail_msg("got %s \"%s\", want %s \"%s\"", snp_reason_name(v.reason), v.detail,
			 snp_reason_name(want), detail ? detail : "");
	assert_int_equal(rc, want == SNP_OK ? 0 : -1);
}

static void test_synthetic_verified(void **state)
{
	(void)state;
	struct world w;
	world_make(&w, NULL, NULL);
	struct snp_chain_opts o = world_opts(&w);
	expect_world(&w, &o, SNP_OK, "report verified: VCEK signature, chip id and TCB match");
	/* the ARK may come with the chain too (it is the test root) */
	X509 *both[2] = { w.ica, w.ark };
	size_t bl;
	char *b = pem_of(both, 2, &bl);
	o.chain = (const uint8_t *)b;
	o.chain_len = bl;
	expect_world(&w, &o, SNP_OK, NULL);
	/* without the test root, the production roots do not trust the test chain */
	o.test_roots = NULL;
	o.test_roots_len = 0;
	expect_world(&w, &o, SNP_ERR_UNKNOWN_ROOT,
		     "ARK-Milan in the supplied chain is not a pinned AMD root");
	o = world_opts(&w);
	o.test_roots = NULL;
	o.test_roots_len = 0;
	expect_world(&w, &o, SNP_ERR_CHAIN, "ASK SEV-Milan signature by ARK-Milan does not verify");
	/* test roots given as DER */
	unsigned char *der = NULL;
	int dl = i2d_X509(w.ark, &der);
	o = world_opts(&w);
	o.test_roots = der;
	o.test_roots_len = (size_t)dl;
	expect_world(&w, &o, SNP_OK, NULL);
	OPENSSL_free(der);
	free(b);
	world_free(&w);
}

static void test_synthetic_failures(void **state)
{
	(void)state;
	struct world w;
	world_make(&w, NULL, NULL);
	struct snp_chain_opts o = world_opts(&w);
	const struct snp_report orig = w.r;

	/* tampered signature */
	w.r.raw[0x2A0 + 5] ^= 0x40;
	expect_world(&w, &o, SNP_ERR_BAD_SIGNATURE,
		     "report signature does not verify with the VCEK");
	w.r = orig;
	w.r.raw[0x90] ^= 1; /* MEASUREMENT */
	expect_world(&w, &o, SNP_ERR_BAD_SIGNATURE, NULL);
	w.r = orig;
	expect_world(&w, &o, SNP_OK, NULL);

	/* validity at 'now': leaf, ASK, not yet valid */
	o.now = T0 + 7 * 365 * DAY + 1;
	expect_world(&w, &o, SNP_ERR_EXPIRED, "VCEK expired ");
	o.now = T0 + 7 * 365 * DAY;
	expect_world(&w, &o, SNP_OK, NULL); /* the last second of validity */
	o.now = T0 - 1;
	expect_world(&w, &o, SNP_ERR_EXPIRED, "VCEK not valid before ");
	o.now = T0;
	expect_world(&w, &o, SNP_OK, NULL);
	world_free(&w);

	/* a report signed correctly, but for another chip / another TCB */
	struct leaf_spec l = { .product_name = "Milan-B0",
			       .bl = 3,
			       .tee = 1,
			       .snp = 8,
			       .ucode = 0xd9,
			       .key = K.vcek,
			       .not_before = T0,
			       .not_after = T0 + 7 * 365 * DAY };
	chip_pattern(l.chip);
	struct report_spec rs = { .version = 3,
				  .fam = 0x19,
				  .mod = 0x01,
				  .tcb = 3 | 1 << 8 | 8ULL << 48 | 0xd9ULL << 56 };
	chip_pattern(rs.chip);
	rs.chip[10] ^= 0xff;
	world_make(&w, &l, &rs);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_ERR_CHIP_MISMATCH, "CHIP_ID c0c1c2c3c4c5c6c7... != VCEK hwID");
	world_free(&w);
	rs.flags = 2; /* MASK_CHIP_KEY: the chip id is not compared */
	world_make(&w, &l, &rs);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_OK, NULL);
	world_free(&w);

	static const struct {
		int shift;
		const char *msg;
	} comp[] = { { 0, "bootloader 4 != VCEK blSPL 3" },
		     { 8, "tee 2 != VCEK teeSPL 1" },
		     { 48, "snp 9 != VCEK snpSPL 8" },
		     { 56, "microcode 218 != VCEK ucodeSPL 217" } };
	for (size_t i = 0; i < ARRAY_SIZE(comp); i++) {
		struct report_spec t = { .version = 2,
					 .tcb = 3 | 1 << 8 | 8ULL << 48 | 0xd9ULL << 56 };
		chip_pattern(t.chip);
		t.tcb += 1ULL << comp[i].shift;
		world_make(&w, &l, &t);
		o = world_opts(&w);
		expect_world(&w, &o, SNP_ERR_TCB_MISMATCH, comp[i].msg);
		world_free(&w);
	}
}

static X509_CRL *mk_crl(const char *issuer_cn, EVP_PKEY *key, const long *serials, size_t n,
			int64_t this_update, int64_t next_update)
{
	X509_CRL *crl = X509_CRL_new();
	assert_non_null(crl);
	X509_CRL_set_version(crl, 1);
	X509_NAME *in = amd_name(issuer_cn);
	X509_CRL_set_issuer_name(crl, in);
	X509_NAME_free(in);
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)this_update);
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_free(t);
	if (next_update) {
		t = ASN1_TIME_set(NULL, (time_t)next_update);
		X509_CRL_set1_nextUpdate(crl, t);
		ASN1_TIME_free(t);
	}
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		ASN1_INTEGER_set(sn, serials[i]);
		X509_REVOKED_set_serialNumber(r, sn);
		ASN1_TIME *rt = ASN1_TIME_set(NULL, (time_t)(this_update - DAY));
		X509_REVOKED_set_revocationDate(r, rt);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(sn);
		ASN1_TIME_free(rt);
	}
	X509_CRL_sort(crl);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	assert_int_equal(EVP_DigestSignInit(m, &pctx, EVP_sha384(), NULL, key), 1);
	EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
	EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48);
	assert_true(X509_CRL_sign_ctx(crl, m) > 0);
	EVP_MD_CTX_free(m);
	return crl;
}

static char *crl_pem(X509_CRL *const *crls, size_t n, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	for (size_t i = 0; i < n; i++)
		assert_true(PEM_write_bio_X509_CRL(bio, crls[i]));
	char *p;
	long l = BIO_get_mem_data(bio, &p);
	char *out = malloc((size_t)l + 1);
	assert_non_null(out);
	memcpy(out, p, (size_t)l);
	*len = (size_t)l;
	BIO_free(bio);
	return out;
}

static void expect_crl(const struct world *w, X509_CRL *crl, bool der, enum snp_reason want,
		       const char *detail)
{
	struct snp_chain_opts o = world_opts(w);
	size_t len;
	unsigned char *buf = NULL;
	if (der) {
		int n = i2d_X509_CRL(crl, &buf);
		assert_true(n > 0);
		len = (size_t)n;
	} else {
		buf = (unsigned char *)crl_pem(&crl, 1, &len);
	}
	o.crl = buf;
	o.crl_len = len;
	expect_world(w, &o, want, detail);
	if (der)
		OPENSSL_free(buf);
	else
		free(buf);
}

static void test_synthetic_crl(void **state)
{
	(void)state;
	struct world w;
	world_make(&w, NULL, NULL);
	int64_t tu = NOW_REF - DAY, nu = NOW_REF + 7 * DAY;
	long ask_serial = 0x10001, other = 0x4242, vcek_serial = 0;

	X509_CRL *c = mk_crl("ARK-Milan", K.ark, &ask_serial, 1, tu, nu);
	expect_crl(&w, c, false, SNP_ERR_REVOKED,
		   "ASK SEV-Milan (serial 0x10001) revoked by the CRL of ARK-Milan");
	expect_crl(&w, c, true, SNP_ERR_REVOKED, "revoked");
	X509_CRL_free(c);
	/* the ASK's CRL revokes the VCEK */
	c = mk_crl("SEV-Milan", K.ask, &vcek_serial, 1, tu, nu);
	expect_crl(&w, c, false, SNP_ERR_REVOKED,
		   "VCEK SEV-VCEK (serial 0x0) revoked by the CRL of "
		   "SEV-Milan");
	X509_CRL_free(c);
	/* other serials, empty lists: fine */
	c = mk_crl("ARK-Milan", K.ark, &other, 1, tu, nu);
	expect_crl(&w, c, false, SNP_OK, NULL);
	X509_CRL_free(c);
	c = mk_crl("ARK-Milan", K.ark, NULL, 0, tu, 0); /* no nextUpdate */
	expect_crl(&w, c, true, SNP_OK, NULL);
	X509_CRL_free(c);
	/* a forged list: signed by another key */
	c = mk_crl("ARK-Milan", K.other_rsa, &other, 1, tu, nu);
	expect_crl(&w, c, false, SNP_ERR_CHAIN, "CRL of ARK-Milan: signature does not verify");
	X509_CRL_free(c);
	/* stale or future lists */
	c = mk_crl("ARK-Milan", K.ark, &other, 1, tu - 30 * DAY, NOW_REF - 1);
	expect_crl(&w, c, false, SNP_ERR_EXPIRED, "CRL of ARK-Milan is stale: nextUpdate");
	X509_CRL_free(c);
	c = mk_crl("ARK-Milan", K.ark, &other, 1, NOW_REF + 1, nu);
	expect_crl(&w, c, false, SNP_ERR_EXPIRED, "CRL of ARK-Milan not valid before");
	X509_CRL_free(c);
	/* another product's list is not about this chain */
	c = mk_crl("ARK-Genoa", K.other_rsa, &ask_serial, 1, tu, nu);
	expect_crl(&w, c, false, SNP_OK, NULL);
	X509_CRL_free(c);

	/* limits: SNP_CRL_MAX_COUNT lists, one more; SNP_CRL_MAX_BYTES, one more */
	X509_CRL *many[SNP_CRL_MAX_COUNT + 1];
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = mk_crl("ARK-Milan", K.ark, &other, 1, tu, nu);
	struct snp_chain_opts o = world_opts(&w);
	size_t len;
	char *p = crl_pem(many, SNP_CRL_MAX_COUNT, &len);
	o.crl = (const uint8_t *)p;
	o.crl_len = len;
	expect_world(&w, &o, SNP_OK, NULL);
	free(p);
	p = crl_pem(many, SNP_CRL_MAX_COUNT + 1, &len);
	o.crl = (const uint8_t *)p;
	o.crl_len = len;
	expect_world(&w, &o, SNP_ERR_MALFORMED, "more than 8 CRLs");
	free(p);
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		X509_CRL_free(many[i]);
	char *big = malloc(SNP_CRL_MAX_BYTES + 1);
	assert_non_null(big);
	c = mk_crl("ARK-Milan", K.ark, &other, 1, tu, nu);
	p = crl_pem(&c, 1, &len);
	/* PEM readers skip text before BEGIN: pad with comment lines up to the limit */
	size_t pad = SNP_CRL_MAX_BYTES - len;
	for (size_t i = 0; i < pad; i++)
		big[i] = (i % 64 == 63) ? '\n' : '#';
	big[pad - 1] = '\n';
	memcpy(big + pad, p, len);
	o.crl = (const uint8_t *)big;
	o.crl_len = SNP_CRL_MAX_BYTES;
	expect_world(&w, &o, SNP_OK, NULL);
	o.crl_len = SNP_CRL_MAX_BYTES + 1;
	expect_world(&w, &o, SNP_ERR_MALFORMED, "CRL input is 262145 bytes, limit 262144");
	/* garbage CRLs */
	o.crl = (const uint8_t *)"garbage";
	o.crl_len = 7;
	expect_world(&w, &o, SNP_ERR_MALFORMED, "DER CRL 1 does not parse");
	free(p);
	free(big);
	X509_CRL_free(c);
	world_free(&w);
}

static void test_synthetic_vlek_and_turin(void **state)
{
	(void)state;
	struct world w;
	struct leaf_spec l = { .vlek = true,
			       .product_name = "Milan",
			       .bl = 4,
			       .tee = 0,
			       .snp = 0x18,
			       .ucode = 0xd9,
			       .hwid_form = 2,
			       .key = K.vlek,
			       .not_before = T0,
			       .not_after = T0 + 365 * DAY };
	world_make(&w, &l, NULL);
	struct snp_chain_opts o = world_opts(&w);
	expect_world(&w, &o, SNP_OK, "report verified: VLEK signature, TCB matches");
	struct snp_verdict v;
	struct snp_chain *c = snp_chain_new(&o, &v);
	assert_non_null(c);
	assert_int_equal(v.signer, SNP_SIGNER_VLEK);
	/* a VCEK-signed report with the VLEK chain */
	struct snp_report r = w.r;
	r.raw[0x48] = 0;
	assert_int_equal(snp_verify_report(c, &r, &v), -1);
	assert_int_equal(v.reason, SNP_ERR_SIGNER_MISMATCH);
	snp_chain_free(c);
	/* a VLEK expires after a year */
	o.now = T0 + 366 * DAY;
	expect_world(&w, &o, SNP_ERR_EXPIRED, "VLEK expired");
	world_free(&w);

	/* Turin: FMC byte, 8-byte hwID, its own TCB layout */
	struct leaf_spec t = { .turin = true,
			       .product_name = "Turin",
			       .bl = 2,
			       .tee = 3,
			       .snp = 4,
			       .ucode = 0x44,
			       .fmc = 1,
			       .key = K.vcek,
			       .not_before = T0,
			       .not_after = T0 + 7 * 365 * DAY };
	chip_pattern(t.chip);
	for (int form = 0; form <= 1; form++) {
		t.hwid_form = form;
		world_make(&w, &t, NULL);
		o = world_opts(&w);
		expect_world(&w, &o, SNP_OK, "Turin chain");
		world_free(&w);
	}
	struct report_spec rs = { .version = 3,
				  .fam = 0x1A,
				  .mod = 0x02,
				  .tcb = 2 | 2 << 8 | 3 << 16 | 4 << 24 | 0x44ULL << 56 };
	chip_pattern(rs.chip);
	world_make(&w, &t, &rs);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_ERR_TCB_MISMATCH, "REPORTED_TCB fmc 2 != VCEK fmcSPL 1");
	world_free(&w);
	/* a Turin VCEK without fmcSPL */
	t.omit_fmc = true;
	struct world w2;
	world_make(&w2, &t, NULL);
	o = world_opts(&w2);
	expect_world(&w2, &o, SNP_ERR_CHAIN, "VCEK lacks the fmcSPL extension");
	world_free(&w2);
	/* a leaf whose productName and issuer disagree */
	t.omit_fmc = false;
	t.turin = false;          /* issued by SEV-Milan ... */
	t.product_name = "Turin"; /* ... but claiming Turin */
	world_make(&w2, &t, NULL);
	o = world_opts(&w2);
	expect_world(&w2, &o, SNP_ERR_CHAIN, "VCEK productName Turin but issuer SEV-Milan");
	world_free(&w2);
}

static void test_synthetic_bad_leaves(void **state)
{
	(void)state;
	struct world w;
	struct leaf_spec base = { .product_name = "Milan-B0",
				  .bl = 3,
				  .tee = 0,
				  .snp = 8,
				  .ucode = 0xd9,
				  .key = K.vcek,
				  .not_before = T0,
				  .not_after = T0 + 7 * 365 * DAY };
	chip_pattern(base.chip);
	struct snp_chain_opts o;
	/* raw (legacy) hwID encoding verifies like the OCTET STRING one */
	struct leaf_spec l = base;
	l.hwid_form = 1;
	world_make(&w, &l, NULL);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_OK, NULL);
	world_free(&w);
	/* no hwID on a VCEK */
	l = base;
	l.hwid_form = 2;
	world_make(&w, &l, NULL);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_ERR_CHAIN, "VCEK lacks the hwID extension");
	world_free(&w);
	/* no blSPL */
	l = base;
	l.omit_bl = true;
	world_make(&w, &l, NULL);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_ERR_CHAIN, "VCEK lacks the blSPL extension");
	world_free(&w);
	/* an SPL extension twice */
	l = base;
	l.dup_snp = true;
	world_make(&w, &l, NULL);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_ERR_CHAIN, "VCEK repeats the snpSPL extension");
	world_free(&w);
	/* no productName: the product comes from the issuer's name */
	l = base;
	l.product_name = NULL;
	world_make(&w, &l, NULL);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_OK, "Milan chain");
	world_free(&w);
	/* an unknown product */
	l = base;
	l.product_name = "Venice";
	world_make(&w, &l, NULL);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_ERR_CHAIN, "productName Venice is not Milan, Genoa or Turin");
	world_free(&w);
	/* a P-256 leaf key */
	l = base;
	l.key = K.p256;
	world_make(&w, &l, NULL);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_ERR_CHAIN, "VCEK key is not EC P-384");
	world_free(&w);
	/* PKCS#1 v1.5 instead of RSASSA-PSS */
	l = base;
	l.sig = SIG_PKCS1;
	world_make(&w, &l, NULL);
	o = world_opts(&w);
	expect_world(&w, &o, SNP_ERR_CHAIN, "not signed with RSASSA-PSS SHA-384");
	world_free(&w);
	/* a leaf whose CN is not an AMD leaf */
	world_make(&w, &base, NULL);
	struct cert_spec odd = { "SEV-Something", "SEV-Milan", K.vcek, K.ask, 5, T0,
				 T0 + 365 * DAY,  false,       SIG_PSS };
	X509 *x = mk_cert(&odd);
	sign_cert(x, K.ask, SIG_PSS);
	size_t xl;
	char *xp = pem_of(&x, 1, &xl);
	o = world_opts(&w);
	o.leaf = (const uint8_t *)xp;
	o.leaf_len = xl;
	expect_world(&w, &o, SNP_ERR_CHAIN, "leaf certificate CN SEV-Something is neither");
	free(xp);
	X509_free(x);
	/* a VCEK issued directly by the ARK */
	X509 *direct = mk_leaf(&base, "ARK-Milan", K.ark);
	xp = pem_of(&direct, 1, &xl);
	o = world_opts(&w);
	o.leaf = (const uint8_t *)xp;
	o.leaf_len = xl;
	o.chain = (const uint8_t *)w.roots_pem;
	o.chain_len = w.roots_len;
	expect_world(&w, &o, SNP_ERR_CHAIN, "VCEK issuer is ARK-Milan, want an ASK");
	free(xp);
	X509_free(direct);
	/* an ASK that is not a CA */
	struct cert_spec nca = { "SEV-Milan", "ARK-Milan",         K.ask, K.ark,  0x10001,
				 T0 - DAY,    T0 + 25 * 365 * DAY, false, SIG_PSS };
	x = mk_cert(&nca);
	sign_cert(x, K.ark, SIG_PSS);
	xp = pem_of(&x, 1, &xl);
	o = world_opts(&w);
	o.chain = (const uint8_t *)xp;
	o.chain_len = xl;
	expect_world(&w, &o, SNP_ERR_CHAIN, "ASK SEV-Milan is not a CA certificate");
	free(xp);
	X509_free(x);
	/* an expired ASK */
	struct cert_spec old = { "SEV-Milan", "ARK-Milan",   K.ask, K.ark,  0x10001,
				 T0 - DAY,    NOW_REF - DAY, true,  SIG_PSS };
	x = mk_cert(&old);
	sign_cert(x, K.ark, SIG_PSS);
	xp = pem_of(&x, 1, &xl);
	o = world_opts(&w);
	o.chain = (const uint8_t *)xp;
	o.chain_len = xl;
	expect_world(&w, &o, SNP_ERR_EXPIRED, "ASK SEV-Milan expired");
	free(xp);
	X509_free(x);
	/* the ASVK name above a VCEK */
	struct cert_spec asvk = { "SEV-VLEK-Milan", "ARK-Milan",         K.ask, K.ark,  0x10002,
				  T0 - DAY,         T0 + 25 * 365 * DAY, true,  SIG_PSS };
	x = mk_cert(&asvk);
	sign_cert(x, K.ark, SIG_PSS);
	X509 *vk = mk_leaf(&base, "SEV-VLEK-Milan", K.ask);
	size_t vkl;
	char *vkp = pem_of(&vk, 1, &vkl);
	xp = pem_of(&x, 1, &xl);
	o = world_opts(&w);
	o.leaf = (const uint8_t *)vkp;
	o.leaf_len = vkl;
	o.chain = (const uint8_t *)xp;
	o.chain_len = xl;
	expect_world(&w, &o, SNP_ERR_CHAIN, "VCEK is issued by SEV-VLEK-Milan, want SEV-Milan");
	free(xp);
	free(vkp);
	X509_free(x);
	X509_free(vk);
	world_free(&w);
}

/* SNP_CHAIN_MAX_CERTS certificates in all, one more; SNP_CERT_MAX_BYTES per certificate. */
static void test_chain_limits(void **state)
{
	(void)state;
	struct world w;
	world_make(&w, NULL, NULL);
	/* leaf + ASK + 5 copies of the ASK + test root = 8 */
	X509 *certs[6] = { w.ica, w.ica, w.ica, w.ica, w.ica, w.ica };
	size_t l6, l7;
	char *six = pem_of(certs, 6, &l6);
	X509 *certs7[7] = { w.ica, w.ica, w.ica, w.ica, w.ica, w.ica, w.ica };
	char *seven = pem_of(certs7, 7, &l7);
	struct snp_chain_opts o = world_opts(&w);
	o.chain = (const uint8_t *)six;
	o.chain_len = l6;
	expect_world(&w, &o, SNP_OK, NULL);
	o.chain = (const uint8_t *)seven;
	o.chain_len = l7;
	expect_world(&w, &o, SNP_ERR_MALFORMED, "9 certificates, limit 8");
	free(six);
	free(seven);

	/* a certificate of exactly SNP_CERT_MAX_BYTES DER bytes, and one byte more */
	for (int extra = 0; extra <= 1; extra++) {
		size_t pad = 16000;
		X509 *big = NULL;
		for (int iter = 0; iter < 8; iter++) {
			struct cert_spec s = {
				"SEV-Milan", "ARK-Milan",         K.ask, K.ark,  0x10001,
				T0 - DAY,    T0 + 25 * 365 * DAY, true,  SIG_PSS
			};
			X509_free(big);
			big = mk_cert(&s);
			uint8_t *junk = calloc(1, pad);
			assert_non_null(junk);
			add_raw_ext(big, "1.3.6.1.4.1.99999.1", junk, pad);
			free(junk);
			sign_cert(big, K.ark, SIG_PSS);
			int n = i2d_X509(big, NULL);
			long want = (long)SNP_CERT_MAX_BYTES + extra;
			if (n == want)
				break;
			pad = (size_t)((long)pad + (want - n));
		}
		assert_int_equal(i2d_X509(big, NULL), (int)SNP_CERT_MAX_BYTES + extra);
		size_t bl;
		char *bp = pem_of(&big, 1, &bl);
		o = world_opts(&w);
		o.chain = (const uint8_t *)bp;
		o.chain_len = bl;
		if (extra)
			expect_world(&w, &o, SNP_ERR_MALFORMED,
				     "a certificate is 16385 bytes, limit 16384");
		else
			expect_world(&w, &o, SNP_OK, NULL);
		free(bp);
		X509_free(big);
	}

	/* the blob size limit: PEM padded with comment lines up to it, and one byte more */
	size_t lim = SNP_CHAIN_MAX_CERTS * SNP_CERT_MAX_BYTES * 2u;
	char *blob = malloc(lim + 1);
	assert_non_null(blob);
	size_t pad = lim - w.chain_len;
	for (size_t i = 0; i < pad; i++)
		blob[i] = (i % 64 == 63) ? '\n' : '#';
	blob[pad - 1] = '\n';
	memcpy(blob + pad, w.chain_pem, w.chain_len);
	o = world_opts(&w);
	o.chain = (const uint8_t *)blob;
	o.chain_len = lim;
	expect_world(&w, &o, SNP_OK, NULL);
	o.chain_len = lim + 1;
	expect_world(&w, &o, SNP_ERR_MALFORMED, "certificate chain is 262145 bytes, limit 262144");
	free(blob);
	world_free(&w);
}

/* A supplied ARK that is not pinned; a real ASK replaced by a look-alike. */
static void test_real_chain_substitutions(void **state)
{
	(void)state;
	struct real x;
	real_load(&x, "milan_virtee");
	struct snp_report r;
	assert_int_equal(snp_report_parse(x.rep, x.rl, &r, NULL, 0), 0);
	struct cert_spec fake_ark = { "ARK-Milan", "ARK-Milan",         K.ark, K.ark,  0x10000,
				      T0,          T0 + 20 * 365 * DAY, true,  SIG_PSS };
	X509 *fa = mk_cert(&fake_ark);
	sign_cert(fa, K.ark, SIG_PSS);
	size_t al, ask_len;
	char *ap = pem_of(&fa, 1, &al);
	uint8_t *ask = td_read("snp/amd_roots/virtee_milan_ask.pem", &ask_len);
	char *chain = malloc(ask_len + al);
	assert_non_null(chain);
	memcpy(chain, ask, ask_len);
	memcpy(chain + ask_len, ap, al);
	struct snp_chain_opts o = { .leaf = x.vcek,
				    .leaf_len = x.vl,
				    .chain = (uint8_t *)chain,
				    .chain_len = ask_len + al,
				    .now = NOW_REF };
	struct snp_verdict v;
	assert_int_equal(snp_verify(&r, &o, &v), -1);
	assert_int_equal(v.reason, SNP_ERR_UNKNOWN_ROOT);
	assert_string_equal(v.detail, "ARK-Milan in the supplied chain is not a pinned AMD root");
	/* trusted as a test root, it still does not sign AMD's ASK */
	o.test_roots = (const uint8_t *)ap;
	o.test_roots_len = al;
	assert_int_equal(snp_verify(&r, &o, &v), -1);
	assert_int_equal(v.reason, SNP_ERR_CHAIN);
	assert_non_null(strstr(v.detail, "ASK SEV-Milan signature by ARK-Milan does not verify"));

	/* a look-alike ASK (same name, other key) under AMD's real ARK */
	struct cert_spec fake_ask = { "SEV-Milan", "ARK-Milan",         K.ask, K.ark,  0x10001,
				      T0,          T0 + 20 * 365 * DAY, true,  SIG_PSS };
	X509 *fk = mk_cert(&fake_ask);
	sign_cert(fk, K.ark, SIG_PSS);
	size_t kl;
	char *kp = pem_of(&fk, 1, &kl);
	struct snp_chain_opts o2 = { .leaf = x.vcek,
				     .leaf_len = x.vl,
				     .chain = (uint8_t *)kp,
				     .chain_len = kl,
				     .now = NOW_REF };
	assert_int_equal(snp_verify(&r, &o2, &v), -1);
	assert_int_equal(v.reason, SNP_ERR_CHAIN);
	assert_non_null(strstr(v.detail, "VCEK signature by ASK SEV-Milan does not verify"));
	free(kp);
	X509_free(fk);
	free(chain);
	free(ask);
	free(ap);
	X509_free(fa);
	real_free(&x);
}

/* A verified chain is shared by threads. */
struct thr_arg {
	const struct snp_chain *c;
	const struct snp_report *r;
	int fails;
};

static void *thr_main(void *p)
{
	struct thr_arg *a = p;
	for (int i = 0; i < 20; i++) {
		struct snp_verdict v;
		if (snp_verify_report(a->c, a->r, &v) != 0)
			a->fails++;
	}
	return NULL;
}

static void test_chain_shared_by_threads(void **state)
{
	(void)state;
	struct real x;
	real_load(&x, "milan_trustee");
	struct snp_report r;
	assert_int_equal(snp_report_parse(x.rep, x.rl, &r, NULL, 0), 0);
	struct snp_chain_opts o = { .leaf = x.vcek,
				    .leaf_len = x.vl,
				    .chain = x.chain,
				    .chain_len = x.cl,
				    .now = NOW_REF };
	struct snp_verdict v;
	struct snp_chain *c = snp_chain_new(&o, &v);
	assert_non_null(c);
	assert_int_equal(v.reason, SNP_OK);
	pthread_t t[4];
	struct thr_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thr_arg){ c, &r, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, thr_main, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].fails, 0);
	}
	snp_chain_free(c);
	real_free(&x);
}

/* ---------------------------------------------------------------------------------------- */
/* Certificate table                                                                        */

static const uint8_t G_VCEK[16] = { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
				    0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };
static const uint8_t G_ASK[16] = { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
				   0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 };
static const uint8_t G_ARK[16] = { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
				   0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae };
static const uint8_t G_VLEK[16] = { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
				    0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 };
static const uint8_t G_CRL[16] = { 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d,
				   0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea };

static void entry(uint8_t *tab, size_t i, const uint8_t *guid, uint32_t off, uint32_t len)
{
	memcpy(tab + 24 * i, guid, 16);
	util_put_le32(tab + 24 * i + 16, off);
	util_put_le32(tab + 24 * i + 20, len);
}

static uint8_t *pem_first_der(const char *rel, int index, size_t *len)
{
	size_t pl;
	char *pem = (char *)td_read(rel, &pl);
	BIO *bio = BIO_new_mem_buf(pem, (int)pl);
	X509 *x = NULL;
	for (int i = 0; i <= index; i++) {
		X509_free(x);
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		assert_non_null(x);
	}
	BIO_free(bio);
	free(pem);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	X509_free(x);
	uint8_t *out = malloc((size_t)n);
	assert_non_null(out);
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return out;
}

/* An auxblob as the kernel returns it: table, certificates (DER), page-size zero padding;
 * the chain built from its entries verifies the report. */
static void test_certtable_real(void **state)
{
	(void)state;
	size_t vl, kl, al, rl;
	uint8_t *vcek = td_read("snp/valid/milan_virtee/vcek.der", &vl);
	uint8_t *ask = pem_first_der("snp/valid/milan_virtee/ask_ark.pem", 0, &kl);
	uint8_t *ark = pem_first_der("snp/valid/milan_virtee/ask_ark.pem", 1, &al);
	uint8_t *rep = td_read("snp/valid/milan_virtee/report.bin", &rl);
	size_t total = 4096 * 2;
	uint8_t *blob = calloc(1, total);
	assert_non_null(blob);
	size_t off = 24 * 4;
	entry(blob, 0, G_ARK, (uint32_t)off, (uint32_t)al);
	memcpy(blob + off, ark, al);
	off += al;
	entry(blob, 1, G_ASK, (uint32_t)off, (uint32_t)kl);
	memcpy(blob + off, ask, kl);
	off += kl;
	entry(blob, 2, G_VCEK, (uint32_t)off, (uint32_t)vl);
	memcpy(blob + off, vcek, vl);
	off += vl;
	assert_true(off <= total);
	struct snp_certtable t;
	assert_int_equal(snp_certtable_parse(blob, total, &t), 0);
	assert_ptr_equal(t.vcek, blob + 24 * 4 + al + kl);
	assert_int_equal(t.vcek_len, vl);
	assert_int_equal(t.ask_len, kl);
	assert_int_equal(t.ark_len, al);
	assert_null(t.vlek);
	assert_null(t.crl);
	/* the chain from the table: ASK and ARK are adjacent DER, so one blob */
	struct snp_chain_opts o = { .leaf = t.vcek,
				    .leaf_len = t.vcek_len,
				    .chain = t.ark,
				    .chain_len = t.ark_len + t.ask_len,
				    .now = NOW_REF };
	struct snp_report r;
	assert_int_equal(snp_report_parse(rep, rl, &r, NULL, 0), 0);
	struct snp_verdict v;
	assert_int_equal(snp_verify(&r, &o, &v), 0);
	free(blob);
	free(vcek);
	free(ask);
	free(ark);
	free(rep);
}

static void test_certtable_rules(void **state)
{
	(void)state;
	uint8_t b[4096];
	struct snp_certtable t;
	memset(b, 0, sizeof(b));
	/* just the terminator */
	assert_int_equal(snp_certtable_parse(b, 24, &t), 0);
	assert_null(t.vcek);
	assert_int_equal(snp_certtable_parse(b, 23, &t), -EINVAL);
	assert_int_equal(snp_certtable_parse(b, 0, &t), -EINVAL);
	assert_int_equal(snp_certtable_parse(NULL, 0, &t), -EINVAL);
	assert_int_equal(snp_certtable_parse(b, 24, NULL), -EINVAL);

	/* one entry right after the table; the data ends at the buffer's end */
	entry(b, 0, G_VCEK, 48, 100);
	assert_int_equal(snp_certtable_parse(b, 148, &t), 0);
	assert_ptr_equal(t.vcek, b + 48);
	assert_int_equal(t.vcek_len, 100);
	assert_int_equal(snp_certtable_parse(b, 147, &t), -EINVAL); /* past the end */
	assert_null(t.vcek);                                        /* cleared on failure */
	/* data inside the table (the terminator) */
	entry(b, 0, G_VCEK, 47, 100);
	assert_int_equal(snp_certtable_parse(b, 200, &t), -EINVAL);
	/* empty entry */
	entry(b, 0, G_VCEK, 48, 0);
	assert_int_equal(snp_certtable_parse(b, 200, &t), -EINVAL);
	/* offset + length overflowing 32 bits */
	entry(b, 0, G_VCEK, 0xFFFFFFF0u, 0x20);
	assert_int_equal(snp_certtable_parse(b, sizeof(b), &t), -EINVAL);
	/* unterminated: the entries run to the end */
	entry(b, 0, G_VCEK, 48, 10);
	assert_int_equal(snp_certtable_parse(b, 24, &t), -EINVAL);
	assert_int_equal(snp_certtable_parse(b, 47, &t), -EINVAL);

	/* overlapping data, adjacent data, duplicate GUIDs, unknown GUIDs, every known GUID */
	memset(b, 0, sizeof(b));
	entry(b, 0, G_VCEK, 72, 10);
	entry(b, 1, G_ASK, 81, 10);
	assert_int_equal(snp_certtable_parse(b, 200, &t), -EINVAL);
	entry(b, 1, G_ASK, 82, 10);
	assert_int_equal(snp_certtable_parse(b, 200, &t), 0);
	entry(b, 1, G_VCEK, 82, 10);
	assert_int_equal(snp_certtable_parse(b, 200, &t), -EINVAL);
	static const uint8_t other[16] = { 1, 2, 3 };
	entry(b, 1, other, 82, 10);
	assert_int_equal(snp_certtable_parse(b, 200, &t), 0);
	assert_null(t.ask);
	memset(b, 0, sizeof(b));
	const uint8_t *g[5] = { G_VCEK, G_VLEK, G_ASK, G_ARK, G_CRL };
	for (size_t i = 0; i < 5; i++)
		entry(b, i, g[i], (uint32_t)(144 + 10 * i), (uint32_t)(i + 1));
	assert_int_equal(snp_certtable_parse(b, 300, &t), 0);
	assert_ptr_equal(t.vcek, b + 144);
	assert_ptr_equal(t.vlek, b + 154);
	assert_ptr_equal(t.ask, b + 164);
	assert_ptr_equal(t.ark, b + 174);
	assert_ptr_equal(t.crl, b + 184);
	assert_int_equal(t.crl_len, 5);

	/* SNP_CERTTABLE_MAX_ENTRIES entries, and one more */
	for (int extra = 0; extra <= 1; extra++) {
		memset(b, 0, sizeof(b));
		size_t n = SNP_CERTTABLE_MAX_ENTRIES + (size_t)extra;
		size_t data = 24 * (n + 1);
		for (size_t i = 0; i < n; i++) {
			uint8_t guid[16] = { 0xEE, (uint8_t)i };
			entry(b, i, guid, (uint32_t)(data + i), 1);
		}
		assert_int_equal(snp_certtable_parse(b, data + n, &t), extra ? -E2BIG : 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_testdata_dir_covered),
		cmocka_unit_test(test_testdata_cases),
		cmocka_unit_test(test_valid_at_current_time),
		cmocka_unit_test(test_testdata_parse_failures),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_hex_and_base64),
		cmocka_unit_test(test_parse_text_limit),
		cmocka_unit_test(test_parse_hcl),
		cmocka_unit_test(test_parse_lengths),
		cmocka_unit_test(test_parse_versions),
		cmocka_unit_test(test_parse_fields_rules),
		cmocka_unit_test(test_tcb_decode),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_pinned_roots_match_testdata),
		cmocka_unit_test(test_pinned_intermediates),
		cmocka_unit_test(test_real_binding_edits),
		cmocka_unit_test(test_chain_input_errors),
		cmocka_unit_test(test_real_chain_substitutions),
		cmocka_unit_test(test_chain_shared_by_threads),
		cmocka_unit_test(test_synthetic_verified),
		cmocka_unit_test(test_synthetic_failures),
		cmocka_unit_test(test_synthetic_crl),
		cmocka_unit_test(test_synthetic_vlek_and_turin),
		cmocka_unit_test(test_synthetic_bad_leaves),
		cmocka_unit_test(test_chain_limits),
		cmocka_unit_test(test_certtable_real),
		cmocka_unit_test(test_certtable_rules),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
